/*
 * sema.c — the checks stage (stage 3 of the pipeline: lexer -> parser -> AST ->
 * *checks* -> code generation -> bundle). Over the ASTs of every file of one
 * compilation it resolves names (sets, groups, enumeration members, campaign ids),
 * types every expression and converts literals to their typed representation
 * (docs/semantics.md), checks the clauses of each campaign, runs the lints, and
 * builds the sema_result codegen consumes (campaigns in evaluation order, groups).
 *
 * Files are visited in bytewise path order so that "first defined here" and the
 * order of reports never depend on the order files were named in.
 */
#include "sema.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "civil.h"
#include "compile.h"
#include "diag.h"
#include "hash.h"
#include "promo.h"
#include "strbuf.h"
#include "suggest.h"
#include "xalloc.h"

/* Pseudo-type of an identifier that names neither a set nor an enumeration member:
 * it stays open until its context says which enumeration it must belong to. Never
 * left in a node once the checks are done. */
#define SEMA_TY_NAME ((int)TY_COUNT)

static const char *const sema_type_names[] = {
#define X(name, text) text,
    TYPE_LIST(X)
#undef X
};

static const char *sema_tyname(int t) {
    return t >= 0 && t < TY_COUNT ? sema_type_names[t] : "name";
}

/* ---- enumerations ------------------------------------------------------------------ */

static const char *const sema_weekdays[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
static const char *const sema_channels[] = {"pos", "online"};
static const char *const sema_payments[] = {"cash", "card", "credit", "bonus", "mixed"};

typedef struct sema_enum {
    int type;
    const char *const *names;
    int n;
} sema_enum;

static const sema_enum sema_enums[] = {
    {TY_WEEKDAY, sema_weekdays, 7},
    {TY_CHANNEL, sema_channels, 2},
    {TY_PAYMENT, sema_payments, 5},
};

static const sema_enum *sema_enum_of(int type) {
    for (size_t i = 0; i < sizeof sema_enums / sizeof sema_enums[0]; i++)
        if (sema_enums[i].type == type) return &sema_enums[i];
    return NULL;
}

static int sema_is_enum(int type) {
    return sema_enum_of(type) != NULL;
}

static int sema_member(const sema_enum *e, const char *name) {
    for (int i = 0; i < e->n; i++)
        if (strcmp(e->names[i], name) == 0) return i;
    return -1;
}

/* ---- fact table --------------------------------------------------------------------- */

typedef struct sema_fact {
    const char *name; /* as written, for messages */
    uint8_t type;     /* ast_type (TY_BOOL for the "is" short forms) */
    uint8_t line;     /* needs a line */
} sema_fact;

static const sema_fact sema_facts[FACT_COUNT] = {
    [FACT_TOTAL] = {"total", TY_MONEY, 0},
    [FACT_ORIGINAL_TOTAL] = {"original_total", TY_MONEY, 0},
    [FACT_STORE] = {"store", TY_STRING, 0}, /* ids compare as text: 101 == "101" */
    [FACT_REGION] = {"region", TY_STRING, 0},
    [FACT_CHANNEL] = {"channel", TY_CHANNEL, 0},
    [FACT_PAYMENT] = {"payment", TY_PAYMENT, 0},
    [FACT_CODE] = {"code", TY_BOOL, 0},
    [FACT_TIME] = {"time", TY_TIME, 0},
    [FACT_DATE] = {"date", TY_DATE, 0},
    [FACT_WEEKDAY] = {"weekday", TY_WEEKDAY, 0},
    [FACT_ATTR] = {"attr", TY_ATTR, 0},
    [FACT_SEGMENT] = {"segment", TY_BOOL, 0},
    [FACT_CARD] = {"customer.card", TY_STRING, 0},
    [FACT_CARD_IS] = {"card", TY_BOOL, 0},
    [FACT_TIER] = {"customer.tier", TY_STRING, 0},
    [FACT_BIRTHDAY_WITHIN] = {"customer.birthday", TY_BOOL, 0},
    [FACT_REGISTERED] = {"customer.registered", TY_BOOL, 0},
    [FACT_CUSTOMER_ATTR] = {"customer.attr", TY_ATTR, 0},
    [FACT_CUSTOMER_ID] = {"customer.id", TY_STRING, 0},
    [FACT_SKU] = {"sku", TY_STRING, 1},
    [FACT_CATEGORY] = {"category", TY_STRING, 1},
    [FACT_BRAND] = {"brand", TY_STRING, 1},
    [FACT_QTY] = {"qty", TY_NUMBER, 1},
    [FACT_PRICE] = {"price", TY_MONEY, 1},
    [FACT_ORIGINAL_PRICE] = {"original_price", TY_MONEY, 1},
    [FACT_AMOUNT] = {"amount", TY_MONEY, 1},
    [FACT_EXCLUDED] = {"excluded", TY_BOOL, 1},
    [FACT_SKU_IS] = {"sku", TY_BOOL, 1},
    [FACT_CATEGORY_IS] = {"category", TY_BOOL, 1},
    [FACT_BRAND_IS] = {"brand", TY_BOOL, 1},
};

static const char *const sema_agg_names[] = {"sum", "count", "any", "distinct"};
static const char *const sema_hist_names[] = {"history.sum", "history.count", "history.visits"};

/* ---- the checker's state ------------------------------------------------------------ */

typedef struct sema_map { /* string -> index, open addressing */
    const char **keys;
    uint32_t *vals;
    size_t cap, n;
} sema_map;

typedef struct sema_set {
    ast_node *node;
    int state; /* 0 unchecked, 1 being checked, 2 done */
    int used;
    int bad; /* part of a cycle or ill-typed: references are errors (already reported) */
} sema_set;

typedef struct sema_group {
    ast_node *node;
    int used;
} sema_group;

/* What the W001 lint knows about the lines a predicate can match: for sku, category
 * and brand, the literal values the line must have (an over-approximation). */
typedef struct sema_sel {
    const char **vals[3];
    uint32_t n[3];
    uint8_t on[3];
} sema_sel;

typedef struct sema_camp {
    sema_campaign pub;
    ast_node *priority_clause, *group_clause;
    int dup; /* a duplicate id: reported, left out of the result */
    /* lint facts */
    int32_t date_from, date_to;
    uint32_t day_mask, channel_mask;
    int touches;     /* can act on lines */
    int touches_all; /* some reward may act on every line */
    sema_sel *sels;
    size_t nsels;
} sema_camp;

typedef struct sema {
    compilation *c;
    diag_list *d;
    uint32_t *order; /* file indices in bytewise path order */
    sema_set *sets;
    size_t nsets, capsets;
    sema_map setmap;
    sema_group *groups;
    size_t ngroups, capgroups;
    sema_map groupmap;
    sema_camp *camps;
    size_t ncamps, capcamps;
    sema_map campmap;
    size_t *stack; /* sets being checked, for cycle paths */
    size_t nstack, capstack;
    int in_pred; /* inside a line predicate: line facts allowed, aggregates not */
    int tiebreak;
} sema;

/* What c->sema points to. */
typedef struct sema_store {
    sema_result res;
} sema_store;

/* ---- small helpers ------------------------------------------------------------------ */

static size_t sema_map_slot(const sema_map *m, const char *key) {
    size_t mask = m->cap - 1;
    size_t i = (size_t)promo_hash(key, strlen(key)) & mask;
    while (m->keys[i] && strcmp(m->keys[i], key) != 0)
        i = (i + 1) & mask;
    return i;
}

static int sema_map_get(const sema_map *m, const char *key, uint32_t *val) {
    if (!m->cap || !key) return 0;
    size_t i = sema_map_slot(m, key);
    if (!m->keys[i]) return 0;
    *val = m->vals[i];
    return 1;
}

/* Inserts key -> val unless present; returns 1 when inserted. */
static int sema_map_put(sema_map *m, const char *key, uint32_t val) {
    if ((m->n + 1) * 2 > m->cap) {
        sema_map old = *m;
        m->cap = old.cap ? old.cap * 2 : 16;
        m->keys = xcalloc(m->cap, sizeof *m->keys);
        m->vals = xcalloc(m->cap, sizeof *m->vals);
        m->n = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.keys[i]) {
                size_t j = sema_map_slot(m, old.keys[i]);
                m->keys[j] = old.keys[i];
                m->vals[j] = old.vals[i];
                m->n++;
            }
        xfree(old.keys);
        xfree(old.vals);
    }
    size_t i = sema_map_slot(m, key);
    if (m->keys[i]) return 0;
    m->keys[i] = key;
    m->vals[i] = val;
    m->n++;
    return 1;
}

static void sema_map_free(sema_map *m) {
    xfree(m->keys);
    xfree(m->vals);
    memset(m, 0, sizeof *m);
}

#define SEMA_PUSH(arr, n, cap, item)                                                               \
    do {                                                                                           \
        if ((n) == (cap)) {                                                                        \
            (cap) = (cap) ? (cap)*2 : 16;                                                          \
            (arr) = xrealloc((arr), (cap) * sizeof *(arr));                                        \
        }                                                                                          \
        (arr)[(n)++] = (item);                                                                     \
    } while (0)

/* Did-you-mean (common/suggest.c): the closest candidate within a small edit
 * distance, or none. The first of equally close candidates wins, so callers pass them
 * in a stable order. */
typedef suggest_state sema_near;
#define sema_near_init suggest_init
#define sema_near_try  suggest_offer

/* " (did you mean 'x'?)" or "". */
static const char *sema_near_hint(const sema_near *nr, char *buf, size_t n) {
    if (!nr->best) return "";
    snprintf(buf, n, " (did you mean '%s'?)", nr->best);
    return buf;
}

/* ---- spans -------------------------------------------------------------------------- */

static const char *sema_file_text(sema *s, src_span sp, uint32_t *end) {
    if (sp.file >= s->c->nfiles) return NULL;
    const src_file *f = &s->c->files[sp.file];
    if (!f->text || (size_t)sp.off + sp.len > f->len) return NULL;
    *end = sp.off + sp.len;
    return f->text;
}

static int sema_is_word(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_';
}

static int sema_is_digit(char ch) {
    return ch >= '0' && ch <= '9';
}

/* The next token of t[*pos, end) — a word, a number (with its '.', ':', '-' and '%'),
 * a string, or punctuation — skipping blanks and comments. Only used to narrow a
 * clause's span to one of its tokens for a precise caret. */
static int sema_next_tok(const char *t, uint32_t *pos, uint32_t end, uint32_t *toff,
                         uint32_t *tlen) {
    uint32_t p = *pos;
    for (;;) {
        while (p < end && (t[p] == ' ' || t[p] == '\t' || t[p] == '\r' || t[p] == '\n'))
            p++;
        if (p < end && t[p] == '#') {
            while (p < end && t[p] != '\n')
                p++;
            continue;
        }
        break;
    }
    if (p >= end) return 0;
    uint32_t q = p + 1;
    char ch = t[p];
    if (ch == '"') {
        while (q < end && t[q] != '"' && t[q] != '\n')
            q += (t[q] == '\\' && q + 1 < end) ? 2 : 1;
        if (q < end && t[q] == '"') q++;
    } else if (sema_is_word(ch)) {
        while (q < end) {
            char d = t[q];
            if (sema_is_word(d))
                q++;
            else if ((d == '.' || d == ':' || d == '-') && q + 1 < end && sema_is_digit(t[q + 1]) &&
                     sema_is_digit(t[q - 1]))
                q++;
            else
                break;
        }
        if (q < end && t[q] == '%') q++;
    } else if (q < end && ((ch == '.' && t[q] == '.') || (ch == '=' && t[q] == '=') ||
                           (ch == '!' && t[q] == '=') || (ch == '<' && t[q] == '=') ||
                           (ch == '>' && t[q] == '='))) {
        q++;
    }
    *toff = p;
    *tlen = q - p;
    *pos = q;
    return 1;
}

static src_span sema_subspan(sema *s, src_span base, uint32_t off, uint32_t len) {
    const char *t = s->c->files[base.file].text;
    src_span r = base;
    for (uint32_t p = base.off; p < off; p++) {
        if (t[p] == '\n') {
            r.line++;
            r.col = 1;
        } else {
            r.col++;
        }
    }
    r.off = off;
    r.len = len;
    return r;
}

/* The span of the n-th token (0-based) of `base`, or `base`. */
static src_span sema_tok(sema *s, src_span base, int nth) {
    uint32_t end, pos = base.off, off, len;
    const char *t = sema_file_text(s, base, &end);
    if (!t) return base;
    while (sema_next_tok(t, &pos, end, &off, &len))
        if (nth-- == 0) return sema_subspan(s, base, off, len);
    return base;
}

static int sema_tok_is(const char *t, uint32_t off, uint32_t len, const char *w) {
    return strlen(w) == len && memcmp(t + off, w, len) == 0;
}

/* The span of the token after the first token spelled `kw`, or `base`. */
static src_span sema_tok_after(sema *s, src_span base, const char *kw) {
    uint32_t end, pos = base.off, off, len;
    const char *t = sema_file_text(s, base, &end);
    if (!t) return base;
    while (sema_next_tok(t, &pos, end, &off, &len))
        if (sema_tok_is(t, off, len, kw)) {
            if (sema_next_tok(t, &pos, end, &off, &len)) return sema_subspan(s, base, off, len);
            break;
        }
    return base;
}

/* The span of the name `name` in a declaration spanning `base` that may begin with
 * the keyword `kw` (which is skipped, so `campaign campaign` finds the second). */
static src_span sema_name_span(sema *s, src_span base, const char *kw, const char *name) {
    uint32_t end, pos = base.off, off, len;
    const char *t = sema_file_text(s, base, &end);
    if (!t || !name) return base;
    int first = 1;
    while (sema_next_tok(t, &pos, end, &off, &len)) {
        if (first && kw && sema_tok_is(t, off, len, kw)) {
            first = 0;
            continue;
        }
        first = 0;
        if (sema_tok_is(t, off, len, name)) return sema_subspan(s, base, off, len);
    }
    return base;
}

/* From the start of a to the end of b (same file, b after a), else a. */
static src_span sema_join(src_span a, src_span b) {
    if (a.file != b.file || b.off + b.len < a.off) return a;
    a.len = b.off + b.len - a.off;
    return a;
}

/* The source text of a span, for quoting literals in messages. */
static int sema_quote(sema *s, src_span sp, const char **p) {
    uint32_t end;
    const char *t = sema_file_text(s, sp, &end);
    if (!t || sp.len == 0 || sp.len > 60) {
        *p = "";
        return 0;
    }
    *p = t + sp.off;
    return (int)sp.len;
}

/* ---- literals ----------------------------------------------------------------------- */

/* Converts a NUM/PERCENT literal (mantissa, decimals) to `decimals` fixed decimals.
 * Reports E012 when it has more decimals than the type allows or overflows. */
static int sema_fixed(sema *s, ast_node *n, int decimals, const char *what) {
    const char *txt;
    int tl = sema_quote(s, n->span, &txt);
    if (n->scale > decimals) {
        diag_report(s->d, DIAG_E012, n->span, "'%.*s' does not fit %s (at most %d decimal%s)", tl,
                    txt, what, decimals, decimals == 1 ? "" : "s");
        n->type = TY_ERROR;
        return 0;
    }
    int64_t v = n->ival;
    for (int i = n->scale < 0 ? 0 : n->scale; i < decimals; i++) {
        if (v > INT64_MAX / 10 || v < INT64_MIN / 10) {
            diag_report(s->d, DIAG_E012, n->span, "'%.*s' is too large for %s", tl, txt, what);
            n->type = TY_ERROR;
            return 0;
        }
        v *= 10;
    }
    /* One bound for every money, points and number literal (the engine's largest
     * amount, PROMO_MAX_MONEY units of its type), so that no accepted program can
     * overflow the evaluation or the totals of a stream. */
    if (v > PROMO_MAX_MONEY || v < -PROMO_MAX_MONEY) {
        diag_report(s->d, DIAG_E012, n->span, "'%.*s' is too large for %s (at most %s)", tl, txt,
                    what, decimals == 2 ? "10000000000000.00" : "1000000000000");
        n->type = TY_ERROR;
        return 0;
    }
    n->value = v;
    return 1;
}

/* Types an untyped numeric literal (or arithmetic over them) as money or number. */
static void sema_settle(sema *s, ast_node *n, int want);

static void sema_settle_num(sema *s, ast_node *n, int want) {
    if (n->kind == AST_NUM) {
        if (sema_fixed(s, n, want == TY_MONEY ? 2 : 3, sema_tyname(want))) n->type = (uint8_t)want;
        return;
    }
    if (n->kind == AST_UNOP) {
        sema_settle(s, n->a, want);
    } else if (n->kind == AST_BINOP && n->op == BIN_MUL) {
        /* money * money does not exist: a constant product becomes money * number */
        sema_settle(s, n->a, want);
        sema_settle(s, n->b, TY_NUMBER);
    } else if (n->kind == AST_BINOP) {
        sema_settle(s, n->a, want);
        sema_settle(s, n->b, want);
    }
    n->type = (uint8_t)want;
}

/* ---- expressions -------------------------------------------------------------------- */

static int sema_expr(sema *s, ast_node *n);
static void sema_check_set(sema *s, size_t idx, ast_node *ref);

/* `other`: the type of what the name is compared with (TY_ERROR if none); a name
 * compared with a string was meant as one: "quote it". */
static void sema_unknown_name_vs(sema *s, ast_node *n, int other) {
    sema_near nr;
    char hint[128];
    sema_near_init(&nr, n->str);
    for (size_t i = 0; i < s->nsets; i++)
        sema_near_try(&nr, s->sets[i].node->str);
    diag *d = diag_report(s->d, DIAG_E006, n->span, "unknown name '%s'%s", n->str,
                          sema_near_hint(&nr, hint, sizeof hint));
    if (!nr.best && (other == TY_STRING || other == TY_ATTR))
        diag_set_help(d, "a text value is written in quotes: \"%s\"", n->str);
    n->type = TY_ERROR;
}

static void sema_unknown_name(sema *s, ast_node *n) {
    sema_unknown_name_vs(s, n, TY_ERROR);
}

static void sema_unknown_member(sema *s, ast_node *n, const sema_enum *e, const char *name) {
    sema_near nr;
    char hint[128];
    sema_near_init(&nr, name);
    for (int i = 0; i < e->n; i++)
        sema_near_try(&nr, e->names[i]);
    if (nr.best) {
        diag_report(s->d, DIAG_E018, n->span, "unknown %s '%s'%s", sema_tyname(e->type), name,
                    sema_near_hint(&nr, hint, sizeof hint));
    } else {
        strbuf list = STRBUF_INIT;
        for (int i = 0; i < e->n; i++)
            sb_printf(&list, "%s%s", i ? ", " : "", e->names[i]);
        diag_report(s->d, DIAG_E018, n->span, "unknown %s '%s' (expected one of: %s)",
                    sema_tyname(e->type), name, sb_cstr(&list));
        sb_free(&list);
    }
    n->type = TY_ERROR;
}

/* Gives a node the type its context wants: untyped literals get it, identifiers and
 * quoted strings become members of the wanted enumeration; anything else must
 * already have it (E008). */
static void sema_settle(sema *s, ast_node *n, int want) {
    if (!n || n->type == TY_ERROR || want == TY_ERROR) return;
    const sema_enum *e = sema_enum_of(want);
    if (e && (n->kind == AST_IDENT || n->kind == AST_STRING) && n->type != want) {
        int m = sema_member(e, n->str);
        if (m >= 0) {
            n->type = (uint8_t)want;
            n->value = m;
            n->ref = NULL;
            n->level = 0;
            return;
        }
        if (n->kind == AST_STRING || n->type == SEMA_TY_NAME) {
            sema_unknown_member(s, n, e, n->str);
            return;
        }
    }
    if (n->type == want) return;
    if (n->type == SEMA_TY_NAME) {
        sema_unknown_name(s, n);
        return;
    }
    if (n->type == TY_UNTYPED && (want == TY_MONEY || want == TY_NUMBER)) {
        sema_settle_num(s, n, want);
        return;
    }
    diag_report(s->d, DIAG_E008, n->span, "expected %s, found %s", sema_tyname(want),
                sema_tyname(n->type));
    n->type = TY_ERROR;
}

static int sema_max(int a, int b) {
    return a > b ? a : b;
}

static int sema_ordered(int t) {
    return t == TY_MONEY || t == TY_NUMBER || t == TY_PERCENT || t == TY_DATE || t == TY_TIME ||
           t == TY_WEEKDAY;
}

static const char *sema_binop_text(int op) {
    static const char *const t[] = {"or", "and", "==",     "!=", "<", "<=", ">",
                                    ">=", "in",  "not in", "+",  "-", "*"};
    return op >= 0 && op <= BIN_MUL ? t[op] : "?";
}

/* An identifier or quoted string that may still turn out to be an enum member. */
static int sema_enumlike(const ast_node *n) {
    return n->kind == AST_STRING || n->kind == AST_IDENT;
}

static int sema_is_store(const ast_node *n) {
    return n && n->kind == AST_FACT && n->op == FACT_STORE;
}

/* A store id written as a number (`store == 101`) is a string to compare with. */
static void sema_store_id(sema *s, ast_node *n) {
    if (n->kind != AST_NUM || n->type != TY_UNTYPED) return;
    if (n->scale != 0) {
        const char *txt;
        int tl = sema_quote(s, n->span, &txt);
        diag_report(s->d, DIAG_E012, n->span, "store id '%.*s' must be a whole number", tl, txt);
        n->type = TY_ERROR;
        return;
    }
    n->type = TY_STRING;
    n->value = n->ival;
}

static void sema_compare(sema *s, ast_node *n) {
    ast_node *a = n->a, *b = n->b;
    int lt = sema_expr(s, a), rt = sema_expr(s, b);
    n->type = TY_BOOL;
    n->level = (uint8_t)sema_max(a->level, b->level);
    if (lt == TY_ERROR || rt == TY_ERROR) return;
    if (sema_is_store(a)) sema_store_id(s, b);
    if (sema_is_store(b)) sema_store_id(s, a);
    if (sema_is_enum(lt) && sema_enumlike(b))
        sema_settle(s, b, lt);
    else if (sema_is_enum(rt) && sema_enumlike(a))
        sema_settle(s, a, rt);
    lt = a->type;
    rt = b->type;
    if (lt == SEMA_TY_NAME) sema_unknown_name_vs(s, a, rt);
    if (rt == SEMA_TY_NAME) sema_unknown_name_vs(s, b, lt);
    lt = a->type;
    rt = b->type;
    if (lt == TY_ERROR || rt == TY_ERROR) return;
    if (lt == TY_ATTR || rt == TY_ATTR) {
        ast_node *o = lt == TY_ATTR ? b : a;
        int ot = o->type;
        if (ot == TY_ATTR) {
            diag_report(s->d, DIAG_E008, n->span, "cannot compare an attribute with an attribute");
            n->type = TY_ERROR;
            return;
        }
        if (ot == TY_UNTYPED)
            sema_settle(s, o, TY_NUMBER);
        else if (ot != TY_STRING && ot != TY_NUMBER) {
            diag_report(s->d, DIAG_E008, o->span,
                        "an attribute compares with a string or a number, found %s",
                        sema_tyname(ot));
            n->type = TY_ERROR;
            return;
        }
        if (n->op != BIN_EQ && n->op != BIN_NE && o->type == TY_STRING) {
            diag_report(s->d, DIAG_E008, n->span, "cannot order strings with '%s'",
                        sema_binop_text(n->op));
            n->type = TY_ERROR;
        }
        return;
    }
    if (lt == TY_UNTYPED && rt == TY_UNTYPED) {
        sema_settle(s, a, TY_NUMBER);
        sema_settle(s, b, TY_NUMBER);
    } else if (lt == TY_UNTYPED && (rt == TY_MONEY || rt == TY_NUMBER)) {
        sema_settle(s, a, rt);
    } else if (rt == TY_UNTYPED && (lt == TY_MONEY || lt == TY_NUMBER)) {
        sema_settle(s, b, lt);
    }
    lt = a->type;
    rt = b->type;
    if (lt == TY_ERROR || rt == TY_ERROR) return;
    if (lt != rt) {
        diag_report(s->d, DIAG_E008, n->span, "cannot compare %s with %s", sema_tyname(lt),
                    sema_tyname(rt));
        n->type = TY_ERROR;
        return;
    }
    if (n->op != BIN_EQ && n->op != BIN_NE && !sema_ordered(lt)) {
        diag_report(s->d, DIAG_E008, n->span, "cannot order %s values with '%s'", sema_tyname(lt),
                    sema_binop_text(n->op));
        n->type = TY_ERROR;
    }
}

static void sema_in(sema *s, ast_node *n) {
    ast_node *a = n->a, *b = n->b;
    int lt = sema_expr(s, a);
    n->type = TY_BOOL;
    n->level = a->level;
    if (!b || b->kind != AST_LIST) {
        if (b) sema_expr(s, b);
        diag_report(s->d, DIAG_E008, b ? b->span : n->span, "'%s' needs a list [...]",
                    sema_binop_text(n->op));
        n->type = TY_ERROR;
        return;
    }
    b->type = TY_LIST;
    int elem = lt;
    for (ast_node *it = b->a; it; it = it->next) {
        sema_expr(s, it);
        if (it->level) {
            diag_report(s->d, DIAG_E008, it->span, "a list holds literals or members");
            it->type = TY_ERROR;
        }
    }
    if (lt == TY_ERROR) return;
    if (sema_is_store(a))
        for (ast_node *it = b->a; it; it = it->next)
            sema_store_id(s, it);
    if (lt == SEMA_TY_NAME) {
        /* `mon in [...]` is odd but well-typed when the list says which enum */
        elem = TY_ERROR;
        for (ast_node *it = b->a; it && elem == TY_ERROR; it = it->next)
            if (sema_is_enum(it->type)) elem = it->type;
        if (elem == TY_ERROR) {
            sema_unknown_name(s, a);
            return;
        }
        sema_settle(s, a, elem);
    } else if (lt == TY_UNTYPED) {
        elem = TY_NUMBER;
        sema_settle(s, a, elem);
    } else if (lt == TY_ATTR) {
        /* the first item decides between the string and the number comparison */
        elem = TY_STRING;
        if (b->a && (b->a->type == TY_UNTYPED || b->a->type == TY_NUMBER)) elem = TY_NUMBER;
    } else if (lt == TY_BOOL || lt == TY_LIST) {
        diag_report(s->d, DIAG_E008, a->span, "'%s' needs a value on its left, found %s",
                    sema_binop_text(n->op), sema_tyname(lt));
        n->type = TY_ERROR;
        return;
    }
    for (ast_node *it = b->a; it; it = it->next) {
        if (it->type == TY_ERROR) continue;
        sema_settle(s, it, elem);
        if (it->type == TY_ERROR) n->type = TY_ERROR;
    }
}

static void sema_arith(sema *s, ast_node *n) {
    ast_node *a = n->a, *b = n->b;
    int lt = sema_expr(s, a), rt = sema_expr(s, b);
    n->level = (uint8_t)sema_max(a->level, b->level);
    n->type = TY_ERROR;
    if (lt == SEMA_TY_NAME) sema_unknown_name(s, a);
    if (rt == SEMA_TY_NAME) sema_unknown_name(s, b);
    lt = a->type;
    rt = b->type;
    if (lt == TY_ERROR || rt == TY_ERROR) return;
    if (n->op == BIN_MUL) {
        if (lt == TY_UNTYPED && rt == TY_UNTYPED) {
            n->type = TY_UNTYPED;
            return;
        }
        if (lt == TY_UNTYPED && (rt == TY_MONEY || rt == TY_NUMBER)) sema_settle(s, a, TY_NUMBER);
        if (rt == TY_UNTYPED && (lt == TY_MONEY || lt == TY_NUMBER)) sema_settle(s, b, TY_NUMBER);
        lt = a->type;
        rt = b->type;
        if (lt == TY_ERROR || rt == TY_ERROR) return;
        if (lt == TY_MONEY && rt == TY_MONEY) {
            diag_report(s->d, DIAG_E008, n->span, "cannot multiply money by money");
            return;
        }
        if ((lt == TY_MONEY || lt == TY_NUMBER) && (rt == TY_MONEY || rt == TY_NUMBER)) {
            n->type = (uint8_t)(lt == TY_MONEY || rt == TY_MONEY ? TY_MONEY : TY_NUMBER);
            return;
        }
        diag_report(s->d, DIAG_E008, n->span, "'*' needs money or number operands, found %s and %s",
                    sema_tyname(lt), sema_tyname(rt));
        return;
    }
    if (lt == TY_UNTYPED && rt == TY_UNTYPED) {
        n->type = TY_UNTYPED;
        return;
    }
    if (lt == TY_UNTYPED && (rt == TY_MONEY || rt == TY_NUMBER)) sema_settle(s, a, rt);
    if (rt == TY_UNTYPED && (lt == TY_MONEY || lt == TY_NUMBER)) sema_settle(s, b, lt);
    lt = a->type;
    rt = b->type;
    if (lt == TY_ERROR || rt == TY_ERROR) return;
    if (lt == rt && (lt == TY_MONEY || lt == TY_NUMBER)) {
        n->type = (uint8_t)lt;
        return;
    }
    diag_report(s->d, DIAG_E008, n->span,
                "'%s' needs two money or two number operands, found %s and %s",
                sema_binop_text(n->op), sema_tyname(lt), sema_tyname(rt));
}

/* Checks a predicate (set body, `lines where`, aggregate filter): line facts allowed,
 * aggregates not; must be bool. */
static void sema_pred(sema *s, ast_node *p) {
    if (!p) return;
    int saved = s->in_pred;
    s->in_pred = 1;
    sema_expr(s, p);
    sema_settle(s, p, TY_BOOL);
    s->in_pred = saved;
}

/* A receipt-level condition (`when`, spend_limit `if`): bool, no line facts. */
static void sema_cond(sema *s, ast_node *p) {
    if (!p) return;
    int saved = s->in_pred;
    s->in_pred = 0;
    sema_expr(s, p);
    sema_settle(s, p, TY_BOOL);
    s->in_pred = saved;
}

static int sema_expr(sema *s, ast_node *n) {
    if (!n) return TY_ERROR;
    n->level = 0;
    switch (n->kind) {
    case AST_NUM: n->type = TY_UNTYPED; break;
    case AST_PERCENT:
        n->type = TY_PERCENT;
        sema_fixed(s, n, 3, "percent");
        break;
    case AST_STRING: n->type = TY_STRING; break;
    case AST_DATE:
        n->type = TY_DATE;
        n->value = n->ival;
        break;
    case AST_TIME:
        n->type = TY_TIME;
        n->value = n->ival;
        break;
    case AST_DURATION:
        n->type = TY_NUMBER;
        n->value = n->ival; /* days, not thousandths: only read as a window length */
        break;
    case AST_DATETIME:
        diag_report(s->d, DIAG_E008, n->span,
                    "a date and time belongs in an example; conditions compare 'date' and "
                    "'time' separately");
        n->type = TY_ERROR;
        break;
    case AST_LIST:
        for (ast_node *it = n->a; it; it = it->next)
            sema_expr(s, it);
        diag_report(s->d, DIAG_E008, n->span, "a list can only follow 'in'");
        n->type = TY_ERROR;
        break;
    case AST_IDENT: {
        uint32_t idx;
        if (n->str && sema_map_get(&s->setmap, n->str, &idx)) {
            s->sets[idx].used = 1;
            n->ref = s->sets[idx].node;
            n->type = TY_BOOL;
            n->level = 1;
            sema_check_set(s, idx, n);
            if (!s->in_pred) {
                diag_report(s->d, DIAG_E009, n->span,
                            "set '%s' used outside a line predicate (use it in 'lines where' "
                            "or an aggregate)",
                            n->str);
                n->type = TY_ERROR;
            }
            break;
        }
        n->type = SEMA_TY_NAME;
        for (size_t i = 0; n->str && i < sizeof sema_enums / sizeof sema_enums[0]; i++) {
            int m = sema_member(&sema_enums[i], n->str);
            if (m >= 0) {
                n->type = (uint8_t)sema_enums[i].type;
                n->value = m;
                break;
            }
        }
        break;
    }
    case AST_FACT: {
        if (n->op >= FACT_COUNT) {
            n->type = TY_ERROR;
            break;
        }
        const sema_fact *f = &sema_facts[n->op];
        n->type = f->type;
        /* `customer.card "x"` may come as FACT_CARD with an argument */
        if (n->op == FACT_CARD && n->str) n->type = TY_BOOL;
        n->level = f->line;
        if (f->line && !s->in_pred) {
            diag_report(s->d, DIAG_E009, n->span,
                        "line fact '%s' outside a line predicate (use it in 'lines where' or "
                        "a set)",
                        f->name);
            n->type = TY_ERROR;
        }
        break;
    }
    case AST_AGG:
    case AST_HIST: {
        int agg = n->kind == AST_AGG;
        const char *name = agg ? (n->op < 4 ? sema_agg_names[n->op] : "?")
                               : (n->op < 3 ? sema_hist_names[n->op] : "?");
        if (s->in_pred) {
            diag_report(s->d, DIAG_E021, n->span, "%s'%s(...)' inside a line predicate",
                        agg ? "aggregate " : "", name);
            n->type = TY_ERROR;
            break;
        }
        sema_pred(s, n->a);
        if (agg) {
            n->type = n->op == AGG_OP_SUM ? TY_MONEY : n->op == AGG_OP_ANY ? TY_BOOL : TY_NUMBER;
        } else {
            n->type = n->op == HIST_OP_SUM ? TY_MONEY : TY_NUMBER;
            if (n->b) {
                sema_expr(s, n->b);
                if (n->b->kind == AST_DURATION && n->b->ival < 1) {
                    diag_report(s->d, DIAG_E012, n->b->span,
                                "a history window must be at least 1 day");
                    n->type = TY_ERROR;
                }
            }
        }
        if (n->a && n->a->type == TY_ERROR) n->type = TY_ERROR;
        break;
    }
    case AST_UNOP: {
        int t = sema_expr(s, n->a);
        n->level = n->a ? n->a->level : 0;
        if (n->op == UN_NOT) {
            sema_settle(s, n->a, TY_BOOL);
            n->type = n->a && n->a->type == TY_BOOL ? TY_BOOL : TY_ERROR;
            break;
        }
        if (t == SEMA_TY_NAME) sema_unknown_name(s, n->a);
        t = n->a ? n->a->type : TY_ERROR;
        if (t == TY_MONEY || t == TY_NUMBER || t == TY_UNTYPED || t == TY_ERROR) {
            n->type = (uint8_t)t;
        } else {
            diag_report(s->d, DIAG_E008, n->span, "cannot negate %s", sema_tyname(t));
            n->type = TY_ERROR;
        }
        break;
    }
    case AST_BINOP:
        if (!n->a || !n->b) {
            n->type = TY_ERROR;
            break;
        }
        switch (n->op) {
        case BIN_OR:
        case BIN_AND:
            sema_expr(s, n->a);
            sema_expr(s, n->b);
            sema_settle(s, n->a, TY_BOOL);
            sema_settle(s, n->b, TY_BOOL);
            n->level = (uint8_t)sema_max(n->a->level, n->b->level);
            n->type = n->a->type == TY_BOOL && n->b->type == TY_BOOL ? TY_BOOL : TY_ERROR;
            break;
        case BIN_IN:
        case BIN_NOT_IN: sema_in(s, n); break;
        case BIN_ADD:
        case BIN_SUB:
        case BIN_MUL: sema_arith(s, n); break;
        default: sema_compare(s, n); break;
        }
        break;
    default: n->type = TY_ERROR; break;
    }
    return n->type;
}

/* Checks a set's body once; a reference to a set whose body is being checked closes
 * a cycle (E020), reported at that reference with the path. */
static void sema_check_set(sema *s, size_t idx, ast_node *ref) {
    sema_set *st = &s->sets[idx];
    if (st->state == 2) {
        if (ref && st->bad) ref->type = TY_ERROR;
        return;
    }
    if (st->state == 1) {
        strbuf path = STRBUF_INIT;
        size_t i = 0;
        while (i < s->nstack && s->stack[i] != idx)
            i++;
        for (; i < s->nstack; i++)
            sb_printf(&path, "%s -> ", s->sets[s->stack[i]].node->str);
        sb_puts(&path, st->node->str);
        diag_report(s->d, DIAG_E020, ref ? ref->span : st->node->span,
                    "set '%s' is defined in terms of itself (%s)", st->node->str, sb_cstr(&path));
        sb_free(&path);
        st->bad = 1;
        if (ref) ref->type = TY_ERROR;
        return;
    }
    st->state = 1;
    SEMA_PUSH(s->stack, s->nstack, s->capstack, idx);
    ast_node *body = st->node->a;
    if (body) {
        int saved = s->in_pred;
        s->in_pred = 1;
        int t = sema_expr(s, body);
        s->in_pred = saved;
        if (t != TY_ERROR && t != TY_BOOL && t != SEMA_TY_NAME) {
            diag_report(s->d, DIAG_E008, body->span,
                        "set '%s' must be a line condition: expected bool, found %s", st->node->str,
                        sema_tyname(t));
            body->type = TY_ERROR;
        } else {
            sema_settle(s, body, TY_BOOL);
        }
    }
    s->nstack--;
    if (!body || body->type != TY_BOOL) st->bad = 1;
    st->node->type = st->bad ? TY_ERROR : TY_BOOL;
    st->node->level = 1;
    st->state = 2;
    if (ref && st->bad) ref->type = TY_ERROR;
}

/* ---- campaign clauses --------------------------------------------------------------- */

static const char *sema_clause_name(const ast_node *cl) {
    switch (cl->kind) {
    case AST_C_PRIORITY: return "priority";
    case AST_C_GROUP: return "group";
    case AST_C_COMBINE: return "combine";
    case AST_C_STOP: return "stop";
    case AST_C_ACTIVE: return "active";
    case AST_C_DAYS: return "days";
    case AST_C_HOURS: return "hours";
    case AST_C_STORES: return "stores";
    case AST_C_CHANNEL: return "channel";
    case AST_C_CARD: return "card";
    case AST_C_SEGMENT: return "segment";
    case AST_C_CODE: return "code";
    case AST_C_THEN: return "then";
    case AST_C_LIMIT: return cl->op == LIMIT_RECEIPT ? "limit per receipt" : "limit per customer";
    case AST_C_BUDGET: return "budget";
    default: return "?";
    }
}

static const char *sema_reward_name(const ast_node *r) {
    switch (r->op) {
    case REWARD_DISCOUNT_PCT: return "discount %";
    case REWARD_DISCOUNT_EACH: return "discount each";
    case REWARD_DISCOUNT_AMOUNT: return "discount";
    case REWARD_PRICE: return "price";
    case REWARD_BUY_FREE: return "buy get free";
    case REWARD_BUY_PCT: return "buy get at % off";
    case REWARD_BUNDLE: return "bundle";
    case REWARD_POINTS_PCT: return "points %";
    case REWARD_POINTS_FIXED: return "points";
    case REWARD_COUPON: return "coupon";
    case REWARD_MESSAGE: return "message";
    case REWARD_SPEND_LIMIT: return "spend_limit";
    default: return "?";
    }
}

/* A percent literal of a reward: (0, 100]. */
static void sema_reward_pct(sema *s, ast_node *p) {
    if (!p) return;
    sema_expr(s, p);
    if (p->kind != AST_PERCENT) {
        sema_settle(s, p, TY_PERCENT);
        return;
    }
    if (p->type == TY_ERROR) return;
    if (p->value <= 0 || p->value > 100000) {
        const char *txt;
        int tl = sema_quote(s, p->span, &txt);
        diag_report(s->d, DIAG_E011, p->span, "percent %.*s outside (0, 100]", tl, txt);
        p->type = TY_ERROR;
    }
}

/* A money literal of a clause or reward (`what` names it in messages): typed money,
 * never negative. A leading minus may come as UN_NEG over the literal. */
static void sema_money_lit(sema *s, ast_node *m, const char *what) {
    if (!m) return;
    sema_expr(s, m);
    if (m->type == SEMA_TY_NAME) {
        sema_unknown_name(s, m);
        return;
    }
    if (m->type == TY_ERROR) return;
    if (m->type != TY_UNTYPED && m->type != TY_MONEY) {
        diag_report(s->d, DIAG_E008, m->span, "expected money, found %s", sema_tyname(m->type));
        m->type = TY_ERROR;
        return;
    }
    sema_settle(s, m, TY_MONEY);
    if (m->type == TY_ERROR) return;
    int neg = 0;
    if (m->kind == AST_NUM)
        neg = m->value < 0;
    else if (m->kind == AST_UNOP && m->op == UN_NEG && m->a && m->a->kind == AST_NUM)
        neg = m->a->value > 0;
    if (neg) {
        const char *txt;
        int tl = sema_quote(s, m->span, &txt);
        diag_report(s->d, DIAG_E013, m->span, "negative money %.*s in %s", tl, txt, what);
        m->type = TY_ERROR;
    } else if (m->kind == AST_UNOP && m->a) {
        m->value = -m->a->value; /* -0 */
    }
}

static void sema_count_ge1(sema *s, ast_node *r, int64_t v, const char *kw, const char *what) {
    if (v >= 1 && v <= INT32_MAX) return;
    src_span sp = sema_tok_after(s, r->span, kw);
    if (v < 1)
        diag_report(s->d, DIAG_E022, sp, "%s must be at least 1", what);
    else
        diag_report(s->d, DIAG_E012, sp, "%s is too large", what);
}

static void sema_target(sema *s, ast_node *t) {
    if (!t || t->kind != AST_TARGET) return;
    if (t->a) sema_pred(s, t->a);
}

static void sema_reward(sema *s, ast_node *r) {
    ast_node *lit = r->a ? r->a : r->b;
    switch (r->op) {
    case REWARD_DISCOUNT_PCT:
    case REWARD_POINTS_PCT: sema_reward_pct(s, r->a); break;
    case REWARD_DISCOUNT_EACH:
    case REWARD_DISCOUNT_AMOUNT:
    case REWARD_PRICE: sema_money_lit(s, r->a, sema_reward_name(r)); break;
    case REWARD_BUY_FREE:
        sema_count_ge1(s, r, r->ival, "buy", "the 'buy' count");
        sema_count_ge1(s, r, r->ival2, "get", "the 'get' count");
        break;
    case REWARD_BUY_PCT:
        sema_count_ge1(s, r, r->ival, "buy", "the 'buy' count");
        sema_count_ge1(s, r, r->ival2, "get", "the 'get' count");
        sema_reward_pct(s, lit);
        break;
    case REWARD_BUNDLE:
        sema_count_ge1(s, r, r->ival, "bundle", "the bundle size");
        sema_money_lit(s, lit, "bundle");
        break;
    case REWARD_POINTS_FIXED:
        if (r->a && r->a->kind == AST_NUM && r->a->scale > 2) {
            sema_fixed(s, r->a, 2, "points");
            break;
        }
        sema_money_lit(s, r->a, "points");
        break;
    case REWARD_COUPON:
    case REWARD_MESSAGE:
        if (!r->str || !r->str[0])
            diag_report(s->d, DIAG_E022, r->span, "%s text is empty", sema_reward_name(r));
        break;
    case REWARD_SPEND_LIMIT: {
        int after_catchall = 0, reported = 0;
        if (!r->a) diag_report(s->d, DIAG_E023, r->span, "spend_limit needs at least one step");
        for (ast_node *st = r->a; st; st = st->next) {
            sema_reward_pct(s, st->a);
            if (st->b) sema_cond(s, st->b);
            if (after_catchall && !reported) {
                diag_report(s->d, DIAG_E023, st->span,
                            "step after the catch-all step can never be used");
                reported = 1;
            }
            if (!st->b) after_catchall = 1;
        }
        break;
    }
    default: break;
    }
    if (r->c) sema_target(s, r->c);
}

/* Rewards that act on lines (SPEC 3.3 rule 3: receipt-level ones act on every line;
 * spend_limit acts on none). */
static int sema_reward_on_lines(const ast_node *r) {
    return r->op != REWARD_SPEND_LIMIT;
}

static uint32_t sema_day_mask(const ast_node *days) {
    if (!days) return 0x7F;
    uint32_t m = 0;
    for (const ast_node *d = days->a; d; d = d->next) {
        if (d->ival < 0 || d->ival > 6 || d->ival2 < 0 || d->ival2 > 6) continue;
        for (int64_t i = d->ival;; i = (i + 1) % 7) {
            m |= 1u << i;
            if (i == d->ival2) break;
        }
    }
    return m;
}

static int sema_clause_slot(sema_camp *sc, ast_node *cl, ast_node ***slot) {
    sema_campaign *p = &sc->pub;
    switch (cl->kind) {
    case AST_C_PRIORITY: *slot = &sc->priority_clause; return 1;
    case AST_C_GROUP: *slot = &sc->group_clause; return 1;
    case AST_C_COMBINE: *slot = &p->combine; return 1;
    case AST_C_STOP: *slot = &p->stop; return 1;
    case AST_C_ACTIVE: *slot = &p->active; return 1;
    case AST_C_DAYS: *slot = &p->days; return 1;
    case AST_C_HOURS: *slot = &p->hours; return 1;
    case AST_C_STORES: *slot = &p->stores; return 1;
    case AST_C_CHANNEL: *slot = &p->channel; return 1;
    case AST_C_CARD: *slot = &p->card; return 1;
    case AST_C_SEGMENT: *slot = &p->segment; return 1;
    case AST_C_CODE: *slot = &p->code; return 1;
    case AST_C_THEN: *slot = &p->then; return 1;
    case AST_C_LIMIT:
        *slot = cl->op == LIMIT_RECEIPT ? &p->limit_receipt : &p->limit_customer;
        return 1;
    case AST_C_BUDGET: *slot = &p->budget; return 1;
    default: return 0;
    }
}

static void sema_campaign_clauses(sema *s, sema_camp *sc) {
    sema_campaign *p = &sc->pub;
    ast_node *node = p->node;
    ast_node *when = NULL;
    for (ast_node *cl = node->a; cl; cl = cl->next) {
        ast_node **slot;
        if (cl->kind == AST_C_WHEN) {
            sema_cond(s, cl->a);
            if (!cl->a) continue;
            if (!when) {
                when = cl->a;
            } else {
                ast_node *j = ast_new(s->c->arena, AST_BINOP, when->span);
                j->op = BIN_AND;
                j->a = when;
                j->b = cl->a;
                j->type = when->type == TY_BOOL && cl->a->type == TY_BOOL ? TY_BOOL : TY_ERROR;
                when = j;
            }
            continue;
        }
        if (cl->kind == AST_C_EXAMPLE) continue; /* checked once all ids are known */
        if (!sema_clause_slot(sc, cl, &slot)) continue;
        if (*slot) {
            diag *d = diag_report(s->d, DIAG_E015, sema_tok(s, cl->span, 0),
                                  "clause '%s' given twice", sema_clause_name(cl));
            diag_add_note(d, sema_tok(s, (*slot)->span, 0), "first given here");
            continue;
        }
        *slot = cl;
    }
    p->when_expr = when;

    /* priority */
    p->priority = 0;
    if (sc->priority_clause) {
        int64_t v = sc->priority_clause->ival;
        if (v < INT32_MIN || v > INT32_MAX)
            diag_report(s->d, DIAG_E012, sema_tok_after(s, sc->priority_clause->span, "priority"),
                        "priority %lld is out of range", (long long)v);
        else
            p->priority = (int32_t)v;
    }

    /* active */
    sc->date_from = INT32_MIN;
    sc->date_to = INT32_MAX;
    if (p->active && p->active->a && p->active->b) {
        ast_node *f = p->active->a, *t = p->active->b;
        sema_expr(s, f);
        sema_expr(s, t);
        if (f->ival > t->ival) {
            char a[11], b[11];
            civil_format((int32_t)f->ival, a);
            civil_format((int32_t)t->ival, b);
            diag_report(s->d, DIAG_E010, sema_join(f->span, t->span),
                        "inverted date range: %s is after %s", a, b);
        } else {
            sc->date_from = (int32_t)f->ival;
            sc->date_to = (int32_t)t->ival;
        }
    }

    /* days */
    if (p->days)
        for (ast_node *d = p->days->a; d; d = d->next)
            if (d->ival < 0 || d->ival > 6 || d->ival2 < 0 || d->ival2 > 6)
                diag_report(s->d, DIAG_E018, d->span, "unknown weekday (expected mon .. sun)");
    sc->day_mask = sema_day_mask(p->days);

    /* hours */
    if (p->hours)
        for (ast_node *h = p->hours->a; h; h = h->next) {
            if (!h->a || !h->b) continue;
            sema_expr(s, h->a);
            sema_expr(s, h->b);
            if (h->a->ival >= 86400) {
                diag_report(s->d, DIAG_E003, h->a->span, "24:00 can only end an hour range");
            } else if (h->a->ival == h->b->ival) {
                const char *txt;
                int tl = sema_quote(s, sema_join(h->a->span, h->b->span), &txt);
                diag_report(s->d, DIAG_E017, sema_join(h->a->span, h->b->span),
                            "empty hour range %.*s (use 00:00 .. 24:00 for the whole day)", tl,
                            txt);
            } else if (h->a->ival > h->b->ival) {
                /* overnight: the part after midnight belongs to the previous day */
                sc->day_mask |= ((sc->day_mask << 1) | (sc->day_mask >> 6)) & 0x7F;
            }
        }

    /* stores */
    if (p->stores)
        for (ast_node *it = p->stores->a; it; it = it->next) {
            if (it->kind == AST_NUM) {
                if (it->scale != 0 || it->ival < 0) {
                    const char *txt;
                    int tl = sema_quote(s, it->span, &txt);
                    diag_report(s->d, DIAG_E012, it->span,
                                "store id '%.*s' must be a whole number or a string", tl, txt);
                    it->type = TY_ERROR;
                } else {
                    it->type = TY_STRING; /* store ids compare as text */
                    it->value = it->ival;
                }
            } else if (it->kind == AST_STRING || it->kind == AST_REGION) {
                it->type = TY_STRING;
            }
        }

    /* channel */
    sc->channel_mask = 3;
    if (p->channel) {
        sc->channel_mask = 0;
        for (ast_node *it = p->channel->a; it; it = it->next) {
            if (it->kind != AST_IDENT && it->kind != AST_STRING) continue;
            it->type = SEMA_TY_NAME;
            sema_settle(s, it, TY_CHANNEL);
            if (it->type == TY_CHANNEL) sc->channel_mask |= 1u << it->value;
        }
    }
    ast_node *lists[] = {p->card, p->segment, p->code};
    for (int i = 0; i < 3; i++)
        if (lists[i])
            for (ast_node *it = lists[i]->a; it; it = it->next)
                it->type = TY_STRING;

    /* rewards */
    if (!p->then || !p->then->a) {
        diag_report(s->d, DIAG_E014, sema_name_span(s, node->span, "campaign", node->str),
                    "campaign '%s' has no 'then' clause", node->str);
    } else {
        for (ast_node *r = p->then->a; r; r = r->next) {
            sema_reward(s, r);
            if (sema_reward_on_lines(r)) sc->touches = 1;
        }
    }

    /* limits, budget */
    if (p->limit_receipt) {
        sema_count_ge1(s, p->limit_receipt, p->limit_receipt->ival, "limit", "the limit");
        for (ast_node *r = p->then ? p->then->a : NULL; r; r = r->next) {
            if (r->op == REWARD_BUY_FREE || r->op == REWARD_BUY_PCT || r->op == REWARD_BUNDLE ||
                r->op == REWARD_DISCOUNT_EACH)
                continue;
            diag_report(s->d, DIAG_E016, p->limit_receipt->span,
                        "'limit per receipt' counts only buy, bundle and 'discount ... each' "
                        "rewards, not '%s'",
                        sema_reward_name(r));
            break;
        }
    }
    if (p->limit_customer)
        sema_count_ge1(s, p->limit_customer, p->limit_customer->ival, "limit", "the limit");
    if (p->budget) sema_money_lit(s, p->budget->a, "budget");
}

/* ---- example blocks (validated minimally; `promo test` runs them) -------------------- */

enum { SEMA_EX_TOP = 1, SEMA_EX_CUSTOMER = 2, SEMA_EX_LINE = 4 };

typedef struct sema_exfield {
    const char *name;
    int where;
    int want; /* TY_* of the value; TY_ERROR = no value; TY_ATTR = string or number;
                 TY_LIST = list of strings; TY_UNTYPED = store (integer or string) */
} sema_exfield;

static const sema_exfield sema_exfields[] = {
    {"store", SEMA_EX_TOP, TY_UNTYPED},      {"region", SEMA_EX_TOP, TY_STRING},
    {"channel", SEMA_EX_TOP, TY_CHANNEL},    {"time", SEMA_EX_TOP, TY_DATE},
    {"payment", SEMA_EX_TOP, TY_PAYMENT},    {"points_paid", SEMA_EX_TOP, TY_MONEY},
    {"code", SEMA_EX_TOP, TY_STRING},        {"attr", SEMA_EX_TOP | SEMA_EX_CUSTOMER, TY_ATTR},
    {"id", SEMA_EX_CUSTOMER, TY_STRING},     {"card", SEMA_EX_CUSTOMER, TY_STRING},
    {"segments", SEMA_EX_CUSTOMER, TY_LIST}, {"tier", SEMA_EX_CUSTOMER, TY_STRING},
    {"birthday", SEMA_EX_CUSTOMER, TY_DATE}, {"registered", SEMA_EX_CUSTOMER, TY_ERROR},
    {"sku", SEMA_EX_LINE, TY_STRING},        {"category", SEMA_EX_LINE, TY_STRING},
    {"brand", SEMA_EX_LINE, TY_STRING},      {"qty", SEMA_EX_LINE, TY_NUMBER},
    {"price", SEMA_EX_LINE, TY_MONEY},       {"excluded", SEMA_EX_LINE, TY_ERROR},
};
/* ("time" takes a DATETIME and "birthday" a DATE: see sema_exvalue) */

static const char *sema_ex_scope(int where) {
    return where == SEMA_EX_LINE       ? "a 'line'"
           : where == SEMA_EX_CUSTOMER ? "'customer'"
                                       : "the example";
}

static int sema_ex_bad(sema *s, ast_node *v, const char *field, const char *want) {
    diag_report(s->d, DIAG_E024, v->span, "example field '%s' needs %s", field, want);
    return 0;
}

static int sema_exvalue(sema *s, ast_node *f, const sema_exfield *ef) {
    ast_node *v = f->a;
    const char *name = ef->name;
    if (ef->want == TY_ERROR) {
        if (v) return sema_ex_bad(s, v, name, "no value");
        return 1;
    }
    if (!v) {
        diag_report(s->d, DIAG_E024, f->span, "example field '%s' needs a value", name);
        return 0;
    }
    if (strcmp(name, "time") == 0) {
        if (v->kind != AST_DATETIME)
            return sema_ex_bad(s, v, name, "a date and time (2026-06-05T10:00)");
        v->type = TY_DATE;
        v->value = v->ival;
        return 1;
    }
    if (strcmp(name, "birthday") == 0) {
        if (v->kind != AST_DATE) return sema_ex_bad(s, v, name, "a date (1950-06-07)");
        v->type = TY_DATE;
        v->value = v->ival;
        return 1;
    }
    switch (ef->want) {
    case TY_STRING:
        if (v->kind != AST_STRING) return sema_ex_bad(s, v, name, "a string");
        v->type = TY_STRING;
        return 1;
    case TY_CHANNEL:
    case TY_PAYMENT:
        if (v->kind != AST_IDENT && v->kind != AST_STRING)
            return sema_ex_bad(s, v, name, ef->want == TY_CHANNEL ? "a channel" : "a payment");
        v->type = SEMA_TY_NAME;
        sema_settle(s, v, ef->want);
        return v->type == ef->want;
    case TY_MONEY:
    case TY_NUMBER:
        if (v->kind != AST_NUM)
            return sema_ex_bad(s, v, name, ef->want == TY_MONEY ? "money" : "a number");
        v->type = TY_UNTYPED;
        sema_settle(s, v, ef->want);
        return v->type == ef->want;
    case TY_UNTYPED: /* store */
        if (v->kind == AST_STRING) {
            v->type = TY_STRING;
            return 1;
        }
        if (v->kind != AST_NUM || v->scale != 0)
            return sema_ex_bad(s, v, name, "a whole number or a string");
        v->type = TY_STRING; /* store ids compare as text */
        v->value = v->ival;
        return 1;
    case TY_ATTR:
        if (v->kind == AST_STRING) {
            v->type = TY_STRING;
            return 1;
        }
        if (v->kind != AST_NUM) return sema_ex_bad(s, v, name, "a string or a number");
        v->type = TY_UNTYPED;
        sema_settle(s, v, TY_NUMBER);
        return v->type == TY_NUMBER;
    case TY_LIST:
        if (v->kind != AST_LIST) return sema_ex_bad(s, v, name, "a list of strings");
        v->type = TY_LIST;
        for (ast_node *it = v->a; it; it = it->next) {
            if (it->kind != AST_STRING) return sema_ex_bad(s, it, name, "a list of strings");
            it->type = TY_STRING;
        }
        return 1;
    default: return 1;
    }
}

static void sema_exfield_check(sema *s, ast_node *f, int where) {
    const sema_exfield *ef = NULL;
    for (size_t i = 0; i < sizeof sema_exfields / sizeof sema_exfields[0]; i++)
        if (f->str && strcmp(sema_exfields[i].name, f->str) == 0) ef = &sema_exfields[i];
    if (!ef) {
        sema_near nr;
        char hint[128];
        sema_near_init(&nr, f->str ? f->str : "");
        for (size_t i = 0; i < sizeof sema_exfields / sizeof sema_exfields[0]; i++)
            if (sema_exfields[i].where & where) sema_near_try(&nr, sema_exfields[i].name);
        diag_report(s->d, DIAG_E024, sema_tok(s, f->span, 0), "unknown example field '%s'%s",
                    f->str ? f->str : "", sema_near_hint(&nr, hint, sizeof hint));
        return;
    }
    if (!(ef->where & where)) {
        int home = ef->where & SEMA_EX_LINE       ? SEMA_EX_LINE
                   : ef->where & SEMA_EX_CUSTOMER ? SEMA_EX_CUSTOMER
                                                  : SEMA_EX_TOP;
        diag_report(s->d, DIAG_E024, sema_tok(s, f->span, 0), "'%s' belongs in %s, not in %s",
                    ef->name, sema_ex_scope(home), sema_ex_scope(where));
        return;
    }
    sema_exvalue(s, f, ef);
}

static void sema_ex_campaign_ref(sema *s, ast_node *e, const char *id) {
    uint32_t idx;
    if (!id || sema_map_get(&s->campmap, id, &idx)) return;
    sema_near nr;
    char hint[128];
    sema_near_init(&nr, id);
    for (size_t i = 0; i < s->ncamps; i++)
        sema_near_try(&nr, s->camps[i].pub.id);
    diag_report(s->d, DIAG_E024, sema_name_span(s, e->span, NULL, id), "unknown campaign '%s'%s",
                id, sema_near_hint(&nr, hint, sizeof hint));
}

static void sema_ex_money(sema *s, ast_node *v, const char *what, int decimals_type) {
    if (!v) return;
    if (v->kind != AST_NUM) {
        diag_report(s->d, DIAG_E024, v->span, "'expect %s' needs an amount", what);
        return;
    }
    v->type = TY_UNTYPED;
    sema_settle(s, v, decimals_type);
}

static int sema_ex_items(sema *s, ast_node *items, int in_history);

/* `expect discount X on "SKU"`: some line of the example must have that SKU (a typo
 * would otherwise expect 0 of nothing and pass). */
static void sema_ex_sku(sema *s, const ast_node *items, const ast_node *e) {
    sema_near nr;
    char hint[128];
    sema_near_init(&nr, e->str);
    for (const ast_node *it = items; it; it = it->next) {
        if (it->kind != AST_EX_LINE) continue;
        for (const ast_node *f = it->a; f; f = f->next) {
            if (f->kind != AST_EX_FIELD || !f->str || strcmp(f->str, "sku") != 0) continue;
            if (!f->a || (f->a->kind != AST_STRING && f->a->kind != AST_IDENT) || !f->a->str)
                return; /* a number: compared as text at run time, not here */
            if (strcmp(f->a->str, e->str) == 0) return;
            sema_near_try(&nr, f->a->str);
        }
    }
    diag_report(s->d, DIAG_E024, e->span,
                "'expect discount' on \"%s\": no line of this example has that sku%s", e->str,
                sema_near_hint(&nr, hint, sizeof hint));
}

static void sema_ex_expect(sema *s, const ast_node *items, ast_node *e) {
    switch (e->op) {
    case EXP_DISCOUNT:
        sema_ex_money(s, e->a, "discount", TY_MONEY);
        if (e->str) sema_ex_sku(s, items, e);
        break;
    case EXP_TOTAL: sema_ex_money(s, e->a, "total", TY_MONEY); break;
    case EXP_FINAL: sema_ex_money(s, e->a, "final", TY_MONEY); break;
    case EXP_SPEND_LIMIT: sema_ex_money(s, e->a, "spend_limit", TY_MONEY); break;
    case EXP_POINTS:
        if (e->a && e->a->kind == AST_NUM && e->a->scale > 2) {
            sema_fixed(s, e->a, 2, "points");
            break;
        }
        sema_ex_money(s, e->a, "points", TY_MONEY);
        if (e->b) {
            e->b->type = TY_DATE;
            e->b->value = e->b->ival;
        }
        if (e->c) {
            e->c->type = TY_DATE;
            e->c->value = e->c->ival;
        }
        if (e->b && e->c && e->c->ival < e->b->ival)
            diag_report(s->d, DIAG_E024, e->c->span, "points expire before they activate");
        sema_ex_campaign_ref(s, e, e->str);
        break;
    case EXP_APPLIED: sema_ex_campaign_ref(s, e, e->str); break;
    case EXP_COUPON:
    case EXP_MESSAGE: break;
    default: diag_report(s->d, DIAG_E024, e->span, "unknown expectation"); break;
    }
}

/* Returns the number of expectations seen. */
static int sema_ex_items(sema *s, ast_node *items, int in_history) {
    int nexpect = 0;
    for (ast_node *it = items; it; it = it->next) {
        switch (it->kind) {
        case AST_EX_FIELD: sema_exfield_check(s, it, SEMA_EX_TOP); break;
        case AST_EX_CUSTOMER:
            for (ast_node *f = it->a; f; f = f->next)
                if (f->kind == AST_EX_FIELD) sema_exfield_check(s, f, SEMA_EX_CUSTOMER);
            break;
        case AST_EX_LINE: {
            int have = 0;
            for (ast_node *f = it->a; f; f = f->next) {
                if (f->kind != AST_EX_FIELD) continue;
                sema_exfield_check(s, f, SEMA_EX_LINE);
                if (f->str && strcmp(f->str, "sku") == 0) have |= 1;
                if (f->str && strcmp(f->str, "qty") == 0) have |= 2;
                if (f->str && strcmp(f->str, "price") == 0) have |= 4;
            }
            if (have != 7)
                diag_report(s->d, DIAG_E024, sema_tok(s, it->span, 0),
                            "example line needs 'sku', 'qty' and 'price' (missing '%s')",
                            !(have & 1)   ? "sku"
                            : !(have & 2) ? "qty"
                                          : "price");
            break;
        }
        case AST_EX_HISTORY:
            if (in_history) {
                diag_report(s->d, DIAG_E024, sema_tok(s, it->span, 0),
                            "'history' cannot nest inside 'history'");
                break;
            }
            if (it->a && it->a->kind == AST_DATETIME) {
                it->a->type = TY_DATE;
                it->a->value = it->a->ival;
            }
            sema_ex_items(s, it->b, 1);
            break;
        case AST_EX_EXPECT:
            if (in_history) {
                diag_report(s->d, DIAG_E024, sema_tok(s, it->span, 0),
                            "'expect' belongs to the example, not to a 'history' receipt");
                break;
            }
            nexpect++;
            sema_ex_expect(s, items, it);
            break;
        default: break;
        }
    }
    return nexpect;
}

static void sema_example(sema *s, ast_node *ex) {
    if (sema_ex_items(s, ex->a, 0) == 0)
        diag_report(s->d, DIAG_E024, sema_tok(s, ex->span, 0), "example '%s' has no 'expect'",
                    ex->str ? ex->str : "");
}

/* ---- W001 line selectors ------------------------------------------------------------ */

static int sema_sel_field(const ast_node *f) {
    if (!f || f->kind != AST_FACT) return -1;
    switch (f->op) {
    case FACT_SKU:
    case FACT_SKU_IS: return 0;
    case FACT_CATEGORY:
    case FACT_CATEGORY_IS: return 1;
    case FACT_BRAND:
    case FACT_BRAND_IS: return 2;
    default: return -1;
    }
}

static void sema_sel_of(sema *s, const ast_node *p, sema_sel *out, int depth) {
    memset(out, 0, sizeof *out);
    if (!p || depth > 64) return;
    int f;
    switch (p->kind) {
    case AST_IDENT:
        if (p->ref && p->ref->kind == AST_SET) sema_sel_of(s, p->ref->a, out, depth + 1);
        return;
    case AST_FACT:
        f = sema_sel_field(p);
        if (f >= 0 && p->str && p->op != FACT_SKU && p->op != FACT_CATEGORY &&
            p->op != FACT_BRAND) {
            out->vals[f] = ast_alloc(s->c->arena, sizeof(char *));
            out->vals[f][0] = p->str;
            out->n[f] = 1;
            out->on[f] = 1;
        }
        return;
    case AST_BINOP: break;
    default: return;
    }
    if (p->op == BIN_EQ) {
        const ast_node *fa = p->a, *lit = p->b;
        if (sema_sel_field(fa) < 0) {
            fa = p->b;
            lit = p->a;
        }
        f = sema_sel_field(fa);
        if (f >= 0 && lit && lit->kind == AST_STRING) {
            out->vals[f] = ast_alloc(s->c->arena, sizeof(char *));
            out->vals[f][0] = lit->str;
            out->n[f] = 1;
            out->on[f] = 1;
        }
    } else if (p->op == BIN_IN) {
        f = sema_sel_field(p->a);
        if (f < 0 || !p->b || p->b->kind != AST_LIST) return;
        uint32_t n = 0;
        for (const ast_node *it = p->b->a; it; it = it->next) {
            if (it->kind != AST_STRING) return;
            n++;
        }
        out->vals[f] = ast_alloc(s->c->arena, (n ? n : 1) * sizeof(char *));
        n = 0;
        for (const ast_node *it = p->b->a; it; it = it->next)
            out->vals[f][n++] = it->str;
        out->n[f] = n;
        out->on[f] = 1;
    } else if (p->op == BIN_AND) {
        sema_sel l, r;
        sema_sel_of(s, p->a, &l, depth + 1);
        sema_sel_of(s, p->b, &r, depth + 1);
        /* either side alone over-approximates the conjunction */
        for (int i = 0; i < 3; i++) {
            const sema_sel *src = l.on[i] ? &l : &r;
            out->vals[i] = src->vals[i];
            out->n[i] = src->n[i];
            out->on[i] = src->on[i];
        }
    } else if (p->op == BIN_OR) {
        sema_sel l, r;
        sema_sel_of(s, p->a, &l, depth + 1);
        sema_sel_of(s, p->b, &r, depth + 1);
        for (int i = 0; i < 3; i++) {
            if (!l.on[i] || !r.on[i]) continue;
            uint32_t n = l.n[i] + r.n[i];
            out->vals[i] = ast_alloc(s->c->arena, (n ? n : 1) * sizeof(char *));
            if (l.n[i]) memcpy(out->vals[i], l.vals[i], l.n[i] * sizeof(char *));
            if (r.n[i]) memcpy(out->vals[i] + l.n[i], r.vals[i], r.n[i] * sizeof(char *));
            out->n[i] = n;
            out->on[i] = 1;
        }
    }
}

/* Categories match hierarchically: "dairy" overlaps "dairy" and "dairy/milk". */
static int sema_cat_overlap(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > lb) {
        const char *t = a;
        a = b;
        b = t;
        size_t tl = la;
        la = lb;
        lb = tl;
    }
    return memcmp(a, b, la) == 0 && (la == lb || b[la] == '/');
}

static int sema_sel_disjoint(const sema_sel *p, const sema_sel *q) {
    for (int f = 0; f < 3; f++) {
        if (!p->on[f] || !q->on[f]) continue;
        int overlap = 0;
        for (uint32_t i = 0; i < p->n[f] && !overlap; i++)
            for (uint32_t j = 0; j < q->n[f] && !overlap; j++)
                overlap = f == 1 ? sema_cat_overlap(p->vals[f][i], q->vals[f][j])
                                 : strcmp(p->vals[f][i], q->vals[f][j]) == 0;
        if (!overlap) return 1;
    }
    return 0;
}

static void sema_camp_sels(sema *s, sema_camp *sc) {
    size_t n = 0;
    for (ast_node *r = sc->pub.then ? sc->pub.then->a : NULL; r; r = r->next)
        n++;
    sc->sels = ast_alloc(s->c->arena, (n ? n : 1) * sizeof(sema_sel));
    for (ast_node *r = sc->pub.then ? sc->pub.then->a : NULL; r; r = r->next) {
        if (!sema_reward_on_lines(r)) continue;
        ast_node *t = r->c;
        if (!t || t->op == TARGET_RECEIPT || !t->a) {
            sc->touches_all = 1; /* receipt-level or every line */
            continue;
        }
        sema_sel_of(s, t->a, &sc->sels[sc->nsels++], 0);
    }
}

static void sema_store_key(const ast_node *it, char *buf, size_t n) {
    if (it->kind == AST_NUM)
        snprintf(buf, n, "%lld", (long long)it->ival);
    else
        snprintf(buf, n, "%s", it->str ? it->str : "");
}

/* Stores: disjoint when both list only store ids (no regions) and share none. */
static int sema_stores_disjoint(const ast_node *a, const ast_node *b) {
    if (!a || !b) return 0;
    for (const ast_node *x = a->a; x; x = x->next)
        if (x->kind == AST_REGION) return 0;
    for (const ast_node *y = b->a; y; y = y->next)
        if (y->kind == AST_REGION) return 0;
    char ka[64], kb[64];
    for (const ast_node *x = a->a; x; x = x->next) {
        sema_store_key(x, ka, sizeof ka);
        for (const ast_node *y = b->a; y; y = y->next) {
            sema_store_key(y, kb, sizeof kb);
            if (strcmp(ka, kb) == 0) return 0;
        }
    }
    return 1;
}

static int sema_may_overlap(const sema_camp *a, const sema_camp *b) {
    if (!a->touches || !b->touches) return 0;
    if (a->date_to < b->date_from || b->date_to < a->date_from) return 0;
    if (!(a->day_mask & b->day_mask)) return 0;
    if (!(a->channel_mask & b->channel_mask)) return 0;
    if (sema_stores_disjoint(a->pub.stores, b->pub.stores)) return 0;
    if (a->touches_all || b->touches_all) return 1;
    for (size_t i = 0; i < a->nsels; i++)
        for (size_t j = 0; j < b->nsels; j++)
            if (!sema_sel_disjoint(&a->sels[i], &b->sels[j])) return 1;
    return 0;
}

/* ---- the guarantee to codegen ------------------------------------------------------- */

/* Returns the first expression node under n left without a final type. A defect of
 * this file if it ever finds one on a set without errors: reported rather than handed
 * to codegen as garbage. */
static const ast_node *sema_untyped(const ast_node *n) {
    for (; n; n = NULL) {
        int t = n->type;
        if (t == TY_ERROR || t == TY_UNTYPED || t >= TY_COUNT) return n;
        switch (n->kind) {
        case AST_LIST:
            for (const ast_node *it = n->a; it; it = it->next) {
                const ast_node *bad = sema_untyped(it);
                if (bad) return bad;
            }
            return NULL;
        case AST_BINOP:
        case AST_UNOP:
        case AST_AGG:
        case AST_HIST: {
            const ast_node *bad = n->a ? sema_untyped(n->a) : NULL;
            if (!bad && n->b) bad = sema_untyped(n->b);
            return bad;
        }
        default: return NULL;
        }
    }
    return NULL;
}

static void sema_verify_expr(sema *s, const ast_node *n) {
    const ast_node *bad = n ? sema_untyped(n) : NULL;
    if (bad)
        diag_report(s->d, DIAG_E008, bad->span, "internal error: expression left without a type");
}

static void sema_verify(sema *s) {
    for (size_t i = 0; i < s->nsets; i++)
        sema_verify_expr(s, s->sets[i].node->a);
    for (size_t i = 0; i < s->ncamps; i++) {
        const sema_campaign *p = &s->camps[i].pub;
        if (s->camps[i].dup) continue;
        sema_verify_expr(s, p->when_expr);
        for (const ast_node *r = p->then ? p->then->a : NULL; r; r = r->next) {
            if (r->op == REWARD_SPEND_LIMIT) {
                for (const ast_node *st = r->a; st; st = st->next) {
                    sema_verify_expr(s, st->a);
                    sema_verify_expr(s, st->b);
                }
                continue;
            }
            sema_verify_expr(s, r->a);
            if (r->c && r->c->a) sema_verify_expr(s, r->c->a);
        }
        if (p->budget) sema_verify_expr(s, p->budget->a);
    }
}

/* ---- groups and result ------------------------------------------------------------- */

static int sema_cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int sema_cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int sema_cmp_camp(const void *a, const void *b) {
    const sema_camp *x = *(sema_camp *const *)a, *y = *(sema_camp *const *)b;
    if (x->pub.priority != y->pub.priority) return x->pub.priority > y->pub.priority ? -1 : 1;
    return strcmp(x->pub.id, y->pub.id);
}

static uint32_t sema_group_index(const char **groups, size_t n, const char *name) {
    const char **hit = bsearch(&name, groups, n, sizeof *groups, sema_cmp_str);
    return hit ? (uint32_t)(hit - groups) : PB_NONE;
}

static void sema_unknown_group(sema *s, src_span at, const char *name, int with_ids,
                               const char *suffix) {
    sema_near nr;
    char hint[128];
    sema_near_init(&nr, name);
    for (size_t i = 0; i < s->ngroups; i++)
        sema_near_try(&nr, s->groups[i].node->str);
    if (with_ids)
        for (size_t i = 0; i < s->ncamps; i++) /* ungrouped campaigns: their own group */
            if (!s->camps[i].group_clause) sema_near_try(&nr, s->camps[i].pub.id);
    diag *d = diag_report(s->d, DIAG_E007, at, "unknown group '%s'%s%s", name, suffix,
                          sema_near_hint(&nr, hint, sizeof hint));
    if (!strcmp(name, "none") || !strcmp(name, "any"))
        diag_set_help(d, "write 'combine %s' (without 'with'): it combines with %s other campaign",
                      name, !strcmp(name, "none") ? "no" : "any");
}

static int sema_accepts(const sema_campaign *a, uint32_t g) {
    if (a->accept_mode == PB_ACCEPT_ANY) return 1;
    if (a->accept_mode == PB_ACCEPT_NONE) return 0;
    return bsearch(&g, a->accept, a->naccept, sizeof *a->accept, sema_cmp_u32) != NULL;
}

static int sema_compatible(const sema_campaign *a, const sema_campaign *b) {
    return a == b || (sema_accepts(a, b->group) && sema_accepts(b, a->group));
}

/* A campaign that, once reached, always applies and stops everything after it. */
static int sema_always_stops(const sema_campaign *p) {
    if (!p->stop || p->when_expr || p->active || p->days || p->hours || p->stores || p->channel ||
        p->card || p->segment || p->code || p->limit_customer || p->budget)
        return 0;
    for (ast_node *r = p->then ? p->then->a : NULL; r; r = r->next) {
        if (r->op == REWARD_COUPON || r->op == REWARD_MESSAGE) return 1;
        if (r->op == REWARD_POINTS_FIXED && r->a && r->a->type == TY_MONEY && r->a->value > 0)
            return 1;
    }
    return 0;
}

#define SEMA_W001_WINDOW 256

static void sema_lints(sema *s, sema_camp **sorted, size_t n) {
    compilation *c = s->c;
    /* W003 */
    if (c->opts.today != INT32_MIN)
        for (size_t i = 0; i < n; i++) {
            sema_campaign *p = &sorted[i]->pub;
            if (p->active && p->active->b && sorted[i]->date_to < c->opts.today) {
                char d[11];
                civil_format(sorted[i]->date_to, d);
                diag_report(s->d, DIAG_W003, p->active->b->span,
                            "campaign '%s' already expired (its last day was %s)", p->id, d);
            }
        }
    /* W004 */
    for (size_t i = 0; i < s->nsets; i++)
        if (!s->sets[i].used)
            diag_report(s->d, DIAG_W004,
                        sema_name_span(s, s->sets[i].node->span, "set", s->sets[i].node->str),
                        "set '%s' is never used", s->sets[i].node->str);
    for (size_t i = 0; i < s->ngroups; i++)
        if (!s->groups[i].used)
            diag_report(s->d, DIAG_W004,
                        sema_name_span(s, s->groups[i].node->span, "group", s->groups[i].node->str),
                        "group '%s' is never used", s->groups[i].node->str);
    /* W001 and W002 reason over whole campaigns: only on a set without errors. */
    if (s->d->nerrors) return;
    for (size_t i = 0; i < n; i++)
        sema_camp_sels(s, sorted[i]);
    /* W001 looks back over at most SEMA_W001_WINDOW campaigns of equal priority, so a
     * set with 100,000 campaigns at one priority is checked in linear time (a pairwise
     * check took minutes); docs/diagnostics.md says so. */
    for (size_t i = 0; i < n; i++) {
        sema_camp *b = sorted[i];
        for (size_t j = i; j-- > 0 && i - j <= SEMA_W001_WINDOW;) {
            sema_camp *a = sorted[j];
            if (a->pub.priority != b->pub.priority) break;
            if (!sema_may_overlap(a, b)) continue;
            src_span at = b->priority_clause
                              ? sema_tok_after(s, b->priority_clause->span, "priority")
                              : sema_name_span(s, b->pub.node->span, "campaign", b->pub.id);
            diag *d;
            if (s->tiebreak && !sema_compatible(&a->pub, &b->pub)) /* SPEC 3.3 rule 6 */
                d = diag_report(s->d, DIAG_W001, at,
                                "campaigns '%s' and '%s' have equal priority %d and may touch "
                                "the same lines; under 'tiebreak benefit' the one giving the "
                                "greater benefit goes first ('%s' on a tie)",
                                a->pub.id, b->pub.id, (int)b->pub.priority, a->pub.id);
            else
                d = diag_report(s->d, DIAG_W001, at,
                                "campaigns '%s' and '%s' have equal priority %d and may touch "
                                "the same lines; '%s' goes first by id",
                                a->pub.id, b->pub.id, (int)b->pub.priority, a->pub.id);
            diag_add_note(d, sema_name_span(s, a->pub.node->span, "campaign", a->pub.id),
                          "'%s' defined here", a->pub.id);
            break;
        }
    }
    for (size_t i = 0; i < n; i++) {
        sema_campaign *a = &sorted[i]->pub;
        if (!sema_always_stops(a)) continue;
        int reach = 1; /* nothing before it can block its receipt-level reward */
        for (size_t j = 0; j < i && reach; j++)
            reach = sema_compatible(&sorted[j]->pub, a);
        if (!reach) continue;
        for (size_t k = i + 1; k < n; k++) {
            sema_campaign *b = &sorted[k]->pub;
            if (s->tiebreak && b->priority == a->priority) continue;
            diag *d = diag_report(
                s->d, DIAG_W002, sema_name_span(s, b->node->span, "campaign", b->id),
                "campaign '%s' can never apply: '%s' comes first, always applies and stops", b->id,
                a->id);
            diag_add_note(d, a->stop->span, "'%s' stops here", a->id);
        }
        break;
    }
}

static void sema_build(sema *s, sema_store *st) {
    /* groups: declared + one implicit per campaign without a `group` clause */
    size_t cap = s->ngroups + s->ncamps, ng = 0;
    const char **names = xcalloc(cap ? cap : 1, sizeof *names);
    for (size_t i = 0; i < s->ngroups; i++)
        names[ng++] = s->groups[i].node->str;
    for (size_t i = 0; i < s->ncamps; i++)
        if (!s->camps[i].dup && !s->camps[i].group_clause) names[ng++] = s->camps[i].pub.id;
    qsort(names, ng, sizeof *names, sema_cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < ng; i++)
        if (u == 0 || strcmp(names[u - 1], names[i]) != 0) names[u++] = names[i];
    st->res.groups = names;
    st->res.ngroups = u;

    /* each campaign's group */
    for (size_t i = 0; i < s->ncamps; i++) {
        sema_camp *sc = &s->camps[i];
        if (sc->dup) continue;
        const char *g = sc->pub.id;
        if (sc->group_clause) {
            uint32_t gi;
            g = sc->group_clause->str;
            if (g && sema_map_get(&s->groupmap, g, &gi)) {
                s->groups[gi].used = 1;
            } else {
                sema_unknown_group(s, sema_tok_after(s, sc->group_clause->span, "group"),
                                   g ? g : "", 0, "");
                g = sc->pub.id;
            }
        }
        sc->pub.group = sema_group_index(names, u, g);
    }

    /* what each campaign accepts */
    for (size_t i = 0; i < s->ncamps; i++) {
        sema_camp *sc = &s->camps[i];
        if (sc->dup) continue;
        ast_node *cb = sc->pub.combine;
        sc->pub.accept_mode = PB_ACCEPT_ANY;
        if (!cb) continue;
        if (cb->op == COMBINE_NONE) {
            sc->pub.accept_mode = PB_ACCEPT_NONE;
            continue;
        }
        if (cb->op != COMBINE_WITH) continue;
        sc->pub.accept_mode = PB_ACCEPT_LIST;
        size_t nn = 0;
        for (ast_node *it = cb->a; it; it = it->next)
            nn++;
        uint32_t *acc = xcalloc(nn ? nn : 1, sizeof *acc);
        size_t na = 0;
        for (ast_node *it = cb->a; it; it = it->next) {
            uint32_t gi, ci;
            if (!it->str) continue;
            if (sema_map_get(&s->groupmap, it->str, &gi)) {
                s->groups[gi].used = 1;
                acc[na++] = sema_group_index(names, u, it->str);
            } else if (sema_map_get(&s->campmap, it->str, &ci) && !s->camps[ci].group_clause) {
                acc[na++] = s->camps[ci].pub.group; /* an ungrouped campaign: its own group */
            } else if (sema_map_get(&s->campmap, it->str, &ci)) {
                /* SPEC 3.3 rule 2: the id of a grouped campaign names nothing */
                const char *g = s->camps[ci].group_clause->str;
                diag *d = diag_report(s->d, DIAG_E007, it->span,
                                      "'%s' in combine with is a campaign in group '%s', not a "
                                      "group (did you mean '%s'?)",
                                      it->str, g ? g : "", g ? g : "");
                diag_add_note(d,
                              sema_name_span(s, s->camps[ci].pub.node->span, "campaign", it->str),
                              "'%s' defined here", it->str);
                continue;
            } else {
                sema_unknown_group(s, it->span, it->str, 1, " in combine with");
                continue;
            }
            it->value = acc[na - 1];
            it->ref = NULL;
        }
        qsort(acc, na, sizeof *acc, sema_cmp_u32);
        size_t k = 0;
        for (size_t j = 0; j < na; j++)
            if (acc[j] != PB_NONE && (k == 0 || acc[k - 1] != acc[j])) acc[k++] = acc[j];
        sc->pub.accept = acc;
        sc->pub.naccept = (uint32_t)k;
    }

    /* evaluation order */
    size_t n = 0;
    sema_camp **sorted = xcalloc(s->ncamps ? s->ncamps : 1, sizeof *sorted);
    for (size_t i = 0; i < s->ncamps; i++)
        if (!s->camps[i].dup) sorted[n++] = &s->camps[i];
    qsort(sorted, n, sizeof *sorted, sema_cmp_camp);

    sema_lints(s, sorted, n);

    st->res.campaigns = xcalloc(n ? n : 1, sizeof *st->res.campaigns);
    for (size_t i = 0; i < n; i++) {
        st->res.campaigns[i] = sorted[i]->pub;
        sorted[i]->pub.accept = NULL; /* ownership moved */
    }
    st->res.ncampaigns = n;
    st->res.tiebreak_benefit = s->tiebreak;
    xfree(sorted);
}

/* ---- declarations ------------------------------------------------------------------- */

/* File indices in bytewise path order (stable; insertion sort, files are few). */
static void sema_file_order(const compilation *c, uint32_t *order) {
    for (size_t i = 0; i < c->nfiles; i++) {
        const char *pi = c->files[i].path ? c->files[i].path : "";
        size_t j = i;
        while (j > 0) {
            const char *pj = c->files[order[j - 1]].path ? c->files[order[j - 1]].path : "";
            if (strcmp(pj, pi) <= 0) break;
            order[j] = order[j - 1];
            j--;
        }
        order[j] = (uint32_t)i;
    }
}

static void sema_declare(sema *s, ast_node *decl, uint32_t file) {
    uint32_t idx;
    switch (decl->kind) {
    case AST_SET: {
        if (!decl->str) return;
        if (sema_map_get(&s->setmap, decl->str, &idx)) {
            diag *d = diag_report(s->d, DIAG_E019, sema_name_span(s, decl->span, "set", decl->str),
                                  "set '%s' defined twice", decl->str);
            ast_node *first = s->sets[idx].node;
            diag_add_note(d, sema_name_span(s, first->span, "set", first->str),
                          "first defined here");
            return;
        }
        for (size_t i = 0; i < sizeof sema_enums / sizeof sema_enums[0]; i++)
            if (sema_member(&sema_enums[i], decl->str) >= 0) {
                /* `weekday == mon` must not depend on whether a set is called mon */
                diag_report(s->d, DIAG_E019, sema_name_span(s, decl->span, "set", decl->str),
                            "'%s' is already a %s; choose another set name", decl->str,
                            sema_tyname(sema_enums[i].type));
                return;
            }
        sema_set st = {decl, 0, 0, 0};
        sema_map_put(&s->setmap, decl->str, (uint32_t)s->nsets);
        SEMA_PUSH(s->sets, s->nsets, s->capsets, st);
        return;
    }
    case AST_GROUP: {
        if (!decl->str) return;
        if (sema_map_get(&s->groupmap, decl->str, &idx)) {
            diag *d =
                diag_report(s->d, DIAG_E019, sema_name_span(s, decl->span, "group", decl->str),
                            "group '%s' declared twice", decl->str);
            ast_node *first = s->groups[idx].node;
            diag_add_note(d, sema_name_span(s, first->span, "group", first->str),
                          "first declared here");
            return;
        }
        sema_group g = {decl, 0};
        sema_map_put(&s->groupmap, decl->str, (uint32_t)s->ngroups);
        SEMA_PUSH(s->groups, s->ngroups, s->capgroups, g);
        return;
    }
    case AST_TIEBREAK: s->tiebreak = 1; return;
    case AST_CAMPAIGN: {
        if (!decl->str) return;
        sema_camp sc;
        memset(&sc, 0, sizeof sc);
        sc.pub.node = decl;
        sc.pub.id = decl->str;
        sc.pub.file = file;
        if (sema_map_get(&s->campmap, decl->str, &idx)) {
            diag *d =
                diag_report(s->d, DIAG_E005, sema_name_span(s, decl->span, "campaign", decl->str),
                            "duplicate campaign id '%s'", decl->str);
            ast_node *first = s->camps[idx].pub.node;
            diag_add_note(d, sema_name_span(s, first->span, "campaign", first->str),
                          "first defined here");
            sc.dup = 1;
        } else {
            sema_map_put(&s->campmap, decl->str, (uint32_t)s->ncamps);
        }
        SEMA_PUSH(s->camps, s->ncamps, s->capcamps, sc);
        return;
    }
    default: return;
    }
}

/* ---- entry points ------------------------------------------------------------------- */

void sema_free(compilation *c) {
    sema_store *st = c->sema;
    if (!st) return;
    for (size_t i = 0; i < st->res.ncampaigns; i++)
        xfree(st->res.campaigns[i].accept);
    xfree(st->res.campaigns);
    xfree((void *)st->res.groups);
    xfree(st);
    c->sema = NULL;
}

const sema_result *sema_get(const compilation *c) {
    const sema_store *st = c->sema;
    return st ? &st->res : NULL;
}

size_t sema_check(compilation *c) {
    sema_free(c);
    sema s;
    memset(&s, 0, sizeof s);
    s.c = c;
    s.d = &c->diags;
    size_t errors0 = c->diags.nerrors;

    s.order = xcalloc(c->nfiles ? c->nfiles : 1, sizeof *s.order);
    sema_file_order(c, s.order);

    for (size_t k = 0; k < c->nfiles; k++) {
        uint32_t f = s.order[k];
        ast_node *tree = c->trees ? c->trees[f] : NULL;
        for (ast_node *d = tree ? tree->a : NULL; d; d = d->next)
            sema_declare(&s, d, f);
    }
    for (size_t i = 0; i < s.nsets; i++)
        sema_check_set(&s, i, NULL);
    for (size_t i = 0; i < s.ncamps; i++)
        if (!s.camps[i].dup) sema_campaign_clauses(&s, &s.camps[i]);
    if (c->diags.nerrors == errors0) sema_verify(&s);
    /* examples last: `expect applied X` may name any campaign */
    for (size_t i = 0; i < s.ncamps; i++)
        if (!s.camps[i].dup)
            for (ast_node *cl = s.camps[i].pub.node->a; cl; cl = cl->next)
                if (cl->kind == AST_C_EXAMPLE) sema_example(&s, cl);

    sema_store *st = xcalloc(1, sizeof *st);
    sema_build(&s, st);
    c->sema = st;
    c->checked = 1;

    xfree(s.order);
    xfree(s.sets);
    xfree(s.groups);
    for (size_t i = 0; i < s.ncamps; i++)
        xfree(s.camps[i].pub.accept);
    xfree(s.camps);
    xfree(s.stack);
    sema_map_free(&s.setmap);
    sema_map_free(&s.groupmap);
    sema_map_free(&s.campmap);
    return c->diags.nerrors - errors0;
}
