/*
 * ast.c — stage 2 support (lexer -> parser -> *AST* -> checks -> code generation):
 * the per-compilation arena that owns every node and string, node constructors, and
 * the stable debug dump used by the tests.
 */
#include "ast.h"

#include <stdio.h>
#include <string.h>

#include "civil.h"
#include "strbuf.h"
#include "xalloc.h"

const char *const ast_kind_names[AST_KIND_COUNT] = {
#define X(name, doc) #name,
    AST_KIND_LIST(X)
#undef X
};

/* Chunks are chained; an allocation larger than a chunk gets a chunk of its own. */
#define AST_CHUNK (64 * 1024)

typedef struct ast_chunk {
    struct ast_chunk *prev;
    size_t used, size;
    _Alignas(16) unsigned char data[];
} ast_chunk;

struct ast_arena {
    ast_chunk *top;
};

ast_arena *ast_arena_new(void) {
    return xcalloc(1, sizeof(ast_arena));
}

void ast_arena_free(ast_arena *a) {
    if (!a) return;
    for (ast_chunk *c = a->top, *prev; c; c = prev) {
        prev = c->prev;
        xfree(c);
    }
    xfree(a);
}

void *ast_alloc(ast_arena *a, size_t size) {
    size = (size + 15) & ~(size_t)15;
    ast_chunk *c = a->top;
    if (!c || c->size - c->used < size) {
        size_t cap = size > AST_CHUNK ? size : AST_CHUNK;
        ast_chunk *n = xmalloc(sizeof *n + cap);
        n->used = 0;
        n->size = cap;
        if (c && size > AST_CHUNK) {
            /* Keep filling the current chunk: slip the big one underneath it. */
            n->prev = c->prev;
            c->prev = n;
        } else {
            n->prev = c;
            a->top = n;
        }
        c = n;
    }
    void *p = c->data + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
}

const char *ast_strndup(ast_arena *a, const char *s, size_t n) {
    char *p = ast_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

ast_node *ast_new(ast_arena *a, ast_kind kind, src_span span) {
    ast_node *n = ast_alloc(a, sizeof *n);
    n->kind = (uint16_t)kind;
    n->span = span;
    n->d1 = n->d2 = -1;
    return n;
}

ast_node *ast_append(ast_node *head, ast_node *item) {
    if (!head) return item;
    ast_node *t = head;
    while (t->next)
        t = t->next;
    t->next = item;
    return head;
}

/* ---- dump ---- */

static const char *const ast_fact_names[FACT_COUNT] = {
#define X(name, level) #name,
    FACT_LIST(X)
#undef X
};

static const char *const ast_reward_names[REWARD_COUNT] = {
#define X(name, doc) #name,
    REWARD_LIST(X)
#undef X
};

static const char *const ast_bin_names[] = {"or", "and", "==",     "!=", "<", "<=", ">",
                                            ">=", "in",  "not in", "+",  "-", "*"};
static const char *const ast_days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
static const char *const ast_periods[] = {"", " per day", " per week", " per month"};
static const char *const ast_expects[] = {"discount", "total",   "final",       "points",
                                          "coupon",   "message", "spend_limit", "applied"};

static void ast_lower(strbuf *out, const char *s) {
    for (; *s; s++)
        sb_putc(out, (char)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s));
}

static void ast_quoted(strbuf *out, const char *s) {
    sb_putc(out, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            sb_printf(out, "\\%c", *s);
        else if (*s == '\n')
            sb_puts(out, "\\n");
        else if (*s == '\t')
            sb_puts(out, "\\t");
        else
            sb_putc(out, *s);
    }
    sb_putc(out, '"');
}

static void ast_decimal(strbuf *out, int64_t v, int scale) {
    int64_t p = 1;
    for (int i = 0; i < scale; i++)
        p *= 10;
    if (v < 0) {
        sb_putc(out, '-');
        v = -v;
    }
    sb_printf(out, "%lld", (long long)(v / p));
    if (scale > 0) sb_printf(out, ".%0*lld", scale, (long long)(v % p));
}

static void ast_clock(strbuf *out, int64_t secs, int with_secs) {
    sb_printf(out, "%02d:%02d", (int)(secs / 3600), (int)(secs / 60 % 60));
    if (with_secs) sb_printf(out, ":%02d", (int)(secs % 60));
}

static void ast_date(strbuf *out, int64_t days) {
    char buf[11];
    civil_format((int32_t)days, buf);
    sb_puts(out, buf);
}

static void ast_dump_one(const ast_node *n, strbuf *out) {
    sb_puts(out, ast_kind_names[n->kind]);
    switch ((ast_kind)n->kind) {
    case AST_NUM:
        sb_putc(out, ' ');
        ast_decimal(out, n->ival, n->scale);
        break;
    case AST_PERCENT:
        sb_putc(out, ' ');
        ast_decimal(out, n->ival, n->scale);
        sb_putc(out, '%');
        break;
    case AST_DATE:
        sb_putc(out, ' ');
        ast_date(out, n->ival);
        break;
    case AST_TIME:
        sb_putc(out, ' ');
        ast_clock(out, n->ival, 0);
        break;
    case AST_DATETIME:
        sb_putc(out, ' ');
        ast_date(out, n->ival);
        sb_putc(out, 'T');
        ast_clock(out, n->ival2, 1);
        break;
    case AST_DURATION:
        sb_printf(out, " %lld %s", (long long)n->ival, n->ival == 1 ? "day" : "days");
        break;
    case AST_BINOP:
        if (n->op < sizeof ast_bin_names / sizeof *ast_bin_names)
            sb_printf(out, " %s", ast_bin_names[n->op]);
        break;
    case AST_UNOP: sb_puts(out, n->op == UN_NOT ? " not" : " -"); break;
    case AST_FACT:
        sb_putc(out, ' ');
        if (n->op < FACT_COUNT) ast_lower(out, ast_fact_names[n->op]);
        if (n->op == FACT_BIRTHDAY_WITHIN) sb_printf(out, " %lld", (long long)n->ival);
        break;
    case AST_AGG: {
        static const char *const names[] = {"sum", "count", "any", "distinct"};
        if (n->op < 4) sb_printf(out, " %s", names[n->op]);
        break;
    }
    case AST_HIST: {
        static const char *const names[] = {"sum", "count", "visits"};
        if (n->op < 3) sb_printf(out, " %s", names[n->op]);
        break;
    }
    case AST_REWARD:
        sb_putc(out, ' ');
        if (n->op < REWARD_COUNT) ast_lower(out, ast_reward_names[n->op]);
        if (n->op == REWARD_BUY_FREE || n->op == REWARD_BUY_PCT)
            sb_printf(out, " %lld+%lld", (long long)n->ival, (long long)n->ival2);
        if (n->op == REWARD_BUNDLE) sb_printf(out, " %lld", (long long)n->ival);
        if (n->d1 >= 0) sb_printf(out, " activate=%d", n->d1);
        if (n->d2 >= 0) sb_printf(out, " expire=%d", n->d2);
        break;
    case AST_TARGET: sb_puts(out, n->op == TARGET_RECEIPT ? " receipt" : " lines"); break;
    case AST_C_PRIORITY: sb_printf(out, " %lld", (long long)n->ival); break;
    case AST_C_COMBINE:
        sb_puts(out, n->op == COMBINE_ANY ? " any" : n->op == COMBINE_NONE ? " none" : " with");
        break;
    case AST_C_LIMIT:
        sb_printf(out, " %lld per %s%s", (long long)n->ival,
                  n->op == LIMIT_RECEIPT ? "receipt" : "customer",
                  n->ival2 >= 0 && n->ival2 <= 3 ? ast_periods[n->ival2] : "");
        break;
    case AST_C_BUDGET:
        if (n->op) sb_puts(out, " partial");
        break;
    case AST_DAYRANGE:
        if (n->ival >= 0 && n->ival < 7 && n->ival2 >= 0 && n->ival2 < 7) {
            sb_printf(out, " %s", ast_days[n->ival]);
            if (n->ival2 != n->ival) sb_printf(out, "..%s", ast_days[n->ival2]);
        }
        break;
    case AST_EX_EXPECT:
        if (n->ival) sb_puts(out, " not");
        if (n->op < sizeof ast_expects / sizeof *ast_expects)
            sb_printf(out, " %s", ast_expects[n->op]);
        break;
    default: break;
    }
    if (n->kind == AST_IDENT || n->kind == AST_SET || n->kind == AST_GROUP ||
        n->kind == AST_CAMPAIGN || n->kind == AST_C_GROUP || n->kind == AST_EX_FIELD) {
        if (n->str) sb_printf(out, " %s", n->str);
    } else if (n->str && n->kind != AST_FILE) {
        sb_putc(out, ' ');
        ast_quoted(out, n->str);
    }
    if (n->str2) {
        sb_putc(out, ' ');
        ast_quoted(out, n->str2);
    }
    sb_printf(out, " @%u:%u\n", n->span.line, n->span.col);
}

void ast_dump(const ast_node *n, int indent, strbuf *out) {
    for (; n; n = n->next) {
        for (int i = 0; i < indent; i++)
            sb_puts(out, "  ");
        ast_dump_one(n, out);
        ast_dump(n->a, indent + 1, out);
        ast_dump(n->b, indent + 1, out);
        ast_dump(n->c, indent + 1, out);
    }
}
