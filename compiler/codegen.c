/*
 * codegen.c — code generation (pipeline stage 5: lexer -> parser -> AST -> checks ->
 * *code generation* -> bundle). Walks the sema result (campaigns in evaluation order,
 * typed expressions) and fills the tables of a bundle: string and constant pools,
 * hashed sets, COND/PRED blocks, history slots, rewards, spend-limit steps and the
 * campaign table with its prefilter. bundle_writer.c lays the tables out as bytes.
 *
 * Determinism: every table is filled in the order of one fixed traversal (groups,
 * then campaigns in evaluation order, clauses in a fixed order, expressions left to
 * right), and deduplication maps only answer "seen before?", never drive an
 * iteration. Nothing depends on pointer values or on the order files were given.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen_int.h"
#include "compile.h"
#include "hash.h"
#include "sema.h"
#include "strbuf.h"
#include "xalloc.h"

/* ------------------------------------------------------------ utilities ---- */

void *cg_grow(void *p, uint32_t *cap, uint32_t need, size_t elem) {
    if (need <= *cap) return p;
    uint32_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    *cap = c;
    return xrealloc(p, (size_t)c * elem);
}

/* Open-addressing map from a byte key to a table index; answers "seen before?". */
static uint32_t cg_map_find(cg_map *m, const void *key, size_t len, uint64_t h) {
    if (!m->cap) return PB_NONE;
    for (uint32_t i = (uint32_t)h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        cg_map_entry *e = &m->e[i];
        if (!e->key) return PB_NONE;
        if (e->h == h && e->len == len && !memcmp(e->key, key, len)) return e->idx;
    }
}

static void cg_map_put(cg_map *m, const void *key, size_t len, uint64_t h, uint32_t idx) {
    if ((m->n + 1) * 2 > m->cap) {
        uint32_t ncap = m->cap ? m->cap * 2 : 64;
        cg_map_entry *ne = xcalloc(ncap, sizeof *ne);
        for (uint32_t i = 0; i < m->cap; i++) {
            if (!m->e[i].key) continue;
            uint32_t j = (uint32_t)m->e[i].h & (ncap - 1);
            while (ne[j].key)
                j = (j + 1) & (ncap - 1);
            ne[j] = m->e[i];
        }
        xfree(m->e);
        m->e = ne;
        m->cap = ncap;
    }
    uint32_t i = (uint32_t)h & (m->cap - 1);
    while (m->e[i].key)
        i = (i + 1) & (m->cap - 1);
    char *k = xmalloc(len ? len : 1);
    if (len) memcpy(k, key, len);
    m->e[i] = (cg_map_entry){h, idx, k, len};
    m->n++;
}

static void cg_map_free(cg_map *m) {
    for (uint32_t i = 0; i < m->cap; i++)
        xfree(m->e[i].key);
    xfree(m->e);
    memset(m, 0, sizeof *m);
}

/* Reports a format limit once; the bundle is not written. */
static void cg_limit(cg *g, src_span span, const char *what) {
    if (!g->failed)
        diag_report(&g->c->diags, DIAG_E026, span, "%s exceeds what the bundle format holds", what);
    g->failed = 1;
}

/* ----------------------------------------------------------------- pools ---- */

uint32_t cg_str(cg *g, const char *s, size_t len) {
    uint64_t h = XXH3_64bits(s, len);
    uint32_t idx = cg_map_find(&g->str_map, s, len, h);
    if (idx != PB_NONE) return idx;
    idx = g->str_off.n;
    VPUSH(g->str_off, (uint32_t)g->str_bytes.len);
    sb_add(&g->str_bytes, s, len);
    sb_putc(&g->str_bytes, 0);
    cg_map_put(&g->str_map, s, len, h, idx);
    return idx;
}

static uint32_t cg_cstr(cg *g, const char *s) {
    return cg_str(g, s, strlen(s));
}

/* The bundle's type tag (PB_CONST_*) of a constant of compile-time type t. */
static uint32_t cg_const_type(uint32_t t) {
    switch (t) {
    case TY_BOOL: return PB_CONST_BOOL;
    case TY_MONEY: return PB_CONST_MONEY;
    case TY_NUMBER: return PB_CONST_NUMBER;
    case TY_PERCENT: return PB_CONST_PERCENT;
    case TY_STRING: return PB_CONST_STRING;
    case TY_DATE: return PB_CONST_DATE;
    case TY_TIME: return PB_CONST_TIME;
    case TY_WEEKDAY: return PB_CONST_WEEKDAY;
    case TY_CHANNEL: return PB_CONST_CHANNEL;
    case TY_PAYMENT: return PB_CONST_PAYMENT;
    case TY_UNTYPED: return PB_CONST_UNTYPED;
    default: return PB_CONST_OTHER;
    }
}

static uint32_t cg_const(cg *g, int64_t value, uint32_t str, uint32_t type) {
    pb_const k = {value, str, cg_const_type(type)};
    uint64_t h = XXH3_64bits(&k, sizeof k);
    uint32_t idx = cg_map_find(&g->const_map, &k, sizeof k, h);
    if (idx != PB_NONE) return idx;
    idx = g->consts.n;
    VPUSH(g->consts, k);
    cg_map_put(&g->const_map, &k, sizeof k, h, idx);
    return idx;
}

/* A set under construction: the key of each item and its text for disasm. */
typedef struct cg_items {
    VEC(uint64_t) keys;
    VEC(uint32_t) strs;
    uint64_t *seen; /* past CG_ITEMS_LINEAR items: open addressing over keys (never 0) */
    uint32_t seen_cap;
} cg_items;

#define CG_ITEMS_LINEAR 16

/* 1 when key was already in the table (else it is added). */
static int cg_items_seen(cg_items *it, uint64_t key) {
    if ((it->keys.n + 1) * 2 > it->seen_cap) { /* grow and re-add every key */
        xfree(it->seen);
        it->seen_cap = it->seen_cap ? it->seen_cap * 2 : 64;
        it->seen = xcalloc(it->seen_cap, sizeof *it->seen);
        for (uint32_t i = 0; i < it->keys.n; i++) {
            uint32_t h = (uint32_t)it->keys.v[i] & (it->seen_cap - 1);
            while (it->seen[h])
                h = (h + 1) & (it->seen_cap - 1);
            it->seen[h] = it->keys.v[i];
        }
    }
    uint32_t h = (uint32_t)key & (it->seen_cap - 1);
    for (; it->seen[h]; h = (h + 1) & (it->seen_cap - 1))
        if (it->seen[h] == key) return 1;
    it->seen[h] = key;
    return 0;
}

static void cg_items_add(cg *g, cg_items *it, uint64_t key, const char *text, size_t len) {
    /* a repeated item adds nothing; long lists (200,000 skus) look it up in a table */
    if (it->keys.n < CG_ITEMS_LINEAR) {
        for (uint32_t i = 0; i < it->keys.n; i++)
            if (it->keys.v[i] == key) return;
    } else if (cg_items_seen(it, key)) {
        return;
    }
    VPUSH(it->keys, key);
    VPUSH(it->strs, cg_str(g, text, len));
}

static void cg_items_free(cg_items *it) {
    xfree(it->keys.v);
    xfree(it->strs.v);
    xfree(it->seen);
}

/* Interns a set; identical (kind, items in order) sets share one entry. Also returns
 * the content hash used in canonical predicate bytes. */
static uint32_t cg_set(cg *g, uint32_t kind, cg_items *it, uint64_t *content) {
    strbuf key = STRBUF_INIT;
    sb_add(&key, &kind, 4);
    sb_add(&key, it->keys.v, (size_t)it->keys.n * 8);
    uint64_t h = XXH3_64bits(key.data, key.len);
    if (content) *content = h;
    uint32_t idx = cg_map_find(&g->set_map, key.data, key.len, h);
    if (idx == PB_NONE) {
        uint32_t nslots = 2;
        while (nslots < 2 * it->keys.n)
            nslots *= 2;
        pb_set s = {kind, it->keys.n, g->slots.n, nslots, g->setitems.n, PB_NONE};
        for (uint32_t i = 0; i < nslots; i++)
            VPUSH(g->slots, 0);
        uint64_t *slot = g->slots.v + s.slot_off;
        for (uint32_t i = 0; i < it->keys.n; i++) {
            uint64_t k = it->keys.v[i];
            uint32_t j = (uint32_t)k & (nslots - 1);
            while (slot[j])
                j = (j + 1) & (nslots - 1);
            slot[j] = k;
            VPUSH(g->setitems, it->strs.v[i]);
        }
        idx = g->sets.n;
        VPUSH(g->sets, s);
        cg_map_put(&g->set_map, key.data, key.len, h, idx);
    }
    sb_free(&key);
    return idx;
}

/* A string set from a list of STRING nodes (card, segment, code clauses). */
static uint32_t cg_string_list_set(cg *g, const ast_node *list) {
    cg_items it = {0};
    for (const ast_node *n = list; n; n = n->next)
        if (n->str)
            cg_items_add(g, &it, promo_hash(n->str, strlen(n->str)), n->str, strlen(n->str));
    uint32_t s = cg_set(g, PB_SET_STRING, &it, NULL);
    cg_items_free(&it);
    return s;
}

/* ------------------------------------------------------------- emitting ---- */

/* The source text of a span on one line: comments dropped, whitespace runs collapsed
 * to one space (the text --explain shows for a false part of `when`). */
static void cg_span_text(cg *g, src_span sp, strbuf *out) {
    if (sp.file >= g->c->nfiles) return;
    const src_file *f = &g->c->files[sp.file];
    if ((uint64_t)sp.off + sp.len > f->len) return;
    const char *p = f->text + sp.off, *end = p + sp.len;
    int space = 0, in_str = 0;
    for (; p < end; p++) {
        char ch = *p;
        if (!in_str && ch == '#') {
            while (p + 1 < end && p[1] != '\n')
                p++;
            space = 1;
            continue;
        }
        if (!in_str && (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r')) {
            space = 1;
            continue;
        }
        if (space && out->len) sb_putc(out, ' ');
        space = 0;
        sb_putc(out, ch);
        if (in_str && ch == '\\' && p + 1 < end) {
            sb_putc(out, *++p);
        } else if (ch == '"') {
            in_str = !in_str;
        }
    }
}

/* Appends one instruction, checking the operand against its kind (the VM trusts the
 * verifier, which trusts nothing, but the emitter should never produce what the
 * verifier refuses) and tracking the stack depth for max_stack. */
static void cg_canon(cg *g, cg_code *k, promo_opcode op, int64_t a);

/* Appends instruction (op, a) to k without its canonical bytes (see cg_emit). */
static void cg_emit_word(cg *g, cg_code *k, promo_opcode op, int64_t a) {
    const promo_opinfo *oi = &promo_opinfo_table[op];
    if (oi->operand == OPK_IMM) {
        if (a < INSN_IMM_MIN || a > INSN_IMM_MAX) {
            fprintf(stderr, "promo: internal error: immediate %lld out of range for %s\n",
                    (long long)a, oi->name);
            abort();
        }
    } else if (oi->operand == OPK_NONE) {
        if (a != 0) {
            fprintf(stderr, "promo: internal error: operand given to %s\n", oi->name);
            abort();
        }
    } else if (a < 0 || a > INSN_A_MAX) {
        cg_limit(g, k->span, "the number of strings, constants, sets or blocks");
        a = 0;
    }
    VPUSH(k->w, INSN_MAKE(op, (uint32_t)a & INSN_A_MAX));
    if (op == OP_JF_KEEP || op == OP_JT_KEEP) {
        k->depth -= 1; /* fall-through pops; the jump target keeps it (see cg_patch) */
    } else {
        k->depth += oi->pushes - oi->pops;
    }
    if (k->depth > k->maxd) k->maxd = k->depth;
}

static void cg_emit(cg *g, cg_code *k, promo_opcode op, int64_t a) {
    cg_emit_word(g, k, op, a);
    cg_canon(g, k, op, a);
}

/* Canonical bytes: the instruction with its operand by content, not by index, so a
 * predicate has the same bytes in every rebuild (history keys). */
static void cg_canon(cg *g, cg_code *k, promo_opcode op, int64_t a) {
    const promo_opinfo *oi = &promo_opinfo_table[op];
    sb_putc(&k->canon, (char)op);
    switch (oi->operand) {
    case OPK_IMM:
    case OPK_JUMP: {
        int32_t v = (int32_t)a;
        sb_add(&k->canon, &v, 4);
        break;
    }
    case OPK_CONST: sb_add(&k->canon, &g->consts.v[a].value, 8); break;
    case OPK_STR:
    case OPK_PART: {
        uint64_t h = XXH3_64bits(g->str_bytes.data + g->str_off.v[a],
                                 strlen(g->str_bytes.data + g->str_off.v[a]));
        sb_add(&k->canon, &h, 8);
        break;
    }
    case OPK_SET: sb_add(&k->canon, &k->set_content, 8); break;
    default: break;
    }
}

static uint32_t cg_jump(cg *g, cg_code *k, promo_opcode op) {
    uint32_t at = k->w.n;
    cg_emit(g, k, op, 0);
    return at;
}

/* Back-patches the jump at `at` to land here. The kept value and the value computed
 * by the fall-through path leave the same depth. */
static void cg_patch(cg *g, cg_code *k, uint32_t at) {
    uint32_t off = k->w.n - at - 1;
    if (off > INSN_A_MAX) {
        cg_limit(g, k->span, "the length of one condition");
        off = 0;
    }
    promo_insn in = k->w.v[at];
    k->w.v[at] = INSN_MAKE(INSN_OP(in), off);
}

static void cg_push_int(cg *g, cg_code *k, int64_t v, uint32_t type) {
    if (v >= INSN_IMM_MIN && v <= INSN_IMM_MAX)
        cg_emit(g, k, OP_PUSH_I, v);
    else
        cg_emit(g, k, OP_PUSH_K, cg_const(g, v, PB_NONE, type));
}

/* Not inlined: GCC's -Warray-bounds otherwise follows XXH3's long-input paths into the
 * 32-byte buffers of number texts (a false positive at -O3). */
__attribute__((noinline)) static void cg_push_str(cg *g, cg_code *k, const char *s, size_t len) {
    uint32_t si = cg_str(g, s, len);
    cg_emit(g, k, OP_PUSH_K, cg_const(g, (int64_t)promo_hash(s, len), si, TY_STRING));
}

static void cg_emit_set(cg *g, cg_code *k, promo_opcode op, uint32_t kind, cg_items *it) {
    uint32_t s = cg_set(g, kind, it, &k->set_content);
    cg_emit(g, k, op, s);
}

/* The line fact `sku` (OP_L_SKU) or `brand` (OP_L_BRAND) that n reads, else 0. */
static promo_opcode cg_atom_fact(const ast_node *n) {
    if (n->kind != AST_FACT) return (promo_opcode)0;
    return n->op == FACT_SKU ? OP_L_SKU : n->op == FACT_BRAND ? OP_L_BRAND : (promo_opcode)0;
}

/* `sku in [...]` / `brand in [...]` as one line-atom opcode (L_SKU_IN, L_BRAND_IN). Its
 * canonical bytes are those of `L_SKU; IN_SET A`, what earlier compilers emitted, so
 * history keys do not change with the opcode. */
static void cg_emit_atom_set(cg *g, cg_code *k, promo_opcode fact, cg_items *it) {
    uint32_t s = cg_set(g, PB_SET_STRING, it, &k->set_content);
    cg_emit_word(g, k, fact == OP_L_SKU ? OP_L_SKU_IN : OP_L_BRAND_IN, s);
    cg_canon(g, k, fact, 0);
    cg_canon(g, k, OP_IN_SET, s);
}

/* Instructions an opcode stands for in canonical bytes. */
static uint32_t cg_canon_words(promo_opcode op) {
    return op == OP_L_SKU_IN || op == OP_L_BRAND_IN   ? 2
           : op == OP_L_SKU_EQ || op == OP_L_BRAND_EQ ? 3
                                                      : 1;
}

/* `sku == "x"` / `brand == "x"` (and `sku "x"`) as L_SKU_EQ / L_BRAND_EQ of the string
 * constant; canonical bytes of `L_SKU; PUSH_K k; SEQ` (or `PUSH_K k; L_SKU; SEQ` when
 * `const_first`), as above. */
__attribute__((noinline)) static void cg_emit_atom_eq(cg *g, cg_code *k, promo_opcode fact,
                                                      const char *s, size_t len, int const_first) {
    uint32_t kc = cg_const(g, (int64_t)promo_hash(s, len), cg_str(g, s, len), TY_STRING);
    cg_emit_word(g, k, fact == OP_L_SKU ? OP_L_SKU_EQ : OP_L_BRAND_EQ, kc);
    cg_canon(g, k, const_first ? OP_PUSH_K : fact, const_first ? kc : 0);
    cg_canon(g, k, const_first ? fact : OP_PUSH_K, const_first ? 0 : kc);
    cg_canon(g, k, OP_SEQ, 0);
}

/* ---------------------------------------------------------- expressions ---- */

static void cg_expr(cg *g, cg_code *k, const ast_node *n);
static uint32_t cg_pred(cg *g, const ast_node *pred, src_span span);

/* The typed value of a literal (sema fills `value`; calendar literals carry theirs). */
static int64_t cg_lit(const ast_node *n) {
    switch (n->kind) {
    case AST_DATE:
    case AST_TIME:
    case AST_DURATION: return n->ival;
    default: return n->value;
    }
}

static int cg_is_enum(uint32_t t) {
    return t == TY_CHANNEL || t == TY_PAYMENT || t == TY_WEEKDAY;
}

static int cg_is_attr(const ast_node *n) {
    return n->kind == AST_FACT && (n->op == FACT_ATTR || n->op == FACT_CUSTOMER_ATTR);
}

/* `store` is typed as an attribute by sema (a number or a string id); the receipt
 * gives it as text, so it always compares as the hash of its text. */
static int cg_is_store(const ast_node *n) {
    return n->kind == AST_FACT && n->op == FACT_STORE;
}

static int cg_is_price(const ast_node *n) {
    return n->kind == AST_FACT && n->op == FACT_PRICE;
}

static int cg_is_category(const ast_node *n) {
    return n->kind == AST_FACT && n->op == FACT_CATEGORY;
}

/* Decimal text of an integer literal (store ids are compared as their text). */
static int cg_int_text(const ast_node *n, char buf[32]) {
    long long v = n->ival;
    for (int i = 0; i < n->scale; i++)
        v /= 10;
    return snprintf(buf, 32, "%lld", v);
}

/* Pushes n as a string hash: attributes as strings, numbers as their decimal text. */
static void cg_strval(cg *g, cg_code *k, const ast_node *n) {
    if (cg_is_attr(n)) {
        uint32_t s = cg_cstr(g, n->str ? n->str : "");
        cg_emit(g, k, n->op == FACT_ATTR ? OP_R_ATTR_S : OP_C_ATTR_S, s);
    } else if (n->kind == AST_NUM) {
        char buf[32];
        int len = cg_int_text(n, buf);
        cg_push_str(g, k, buf, (size_t)len);
    } else if (n->kind == AST_STRING) {
        cg_push_str(g, k, n->str, strlen(n->str));
    } else {
        cg_expr(g, k, n);
    }
}

/* Pushes n as a number: attributes as numbers x1000. */
static void cg_numval(cg *g, cg_code *k, const ast_node *n) {
    if (cg_is_attr(n)) {
        uint32_t s = cg_cstr(g, n->str ? n->str : "");
        cg_emit(g, k, n->op == FACT_ATTR ? OP_R_ATTR_N : OP_C_ATTR_N, s);
    } else {
        cg_expr(g, k, n);
    }
}

/* A comparison is between strings when either side is a string (an attribute takes
 * the type of the other side, sema.h). */
static int cg_is_string_cmp(const ast_node *a, const ast_node *b) {
    if (cg_is_store(a) || cg_is_store(b)) return 1;
    if (cg_is_attr(a)) return b->type == TY_STRING || b->kind == AST_STRING;
    if (cg_is_attr(b)) return a->type == TY_STRING || a->kind == AST_STRING;
    return a->type == TY_STRING || b->type == TY_STRING;
}

static void cg_cat_items(cg *g, cg_items *it, const char *s) {
    cg_items_add(g, it, promo_hash(s, strlen(s)), s, strlen(s));
}

/* The text of a string literal, or of a number as a store id ("101"), in *len; NULL for
 * other nodes without text. */
static const char *cg_item_text(const ast_node *n, char buf[32], size_t *len) {
    if (n->kind == AST_NUM) {
        *len = (size_t)cg_int_text(n, buf);
        return buf;
    }
    *len = n->str ? strlen(n->str) : 0;
    return n->str;
}

/* `total >= X`, `total > X`, `X <= total`, `X < total` with X a number literal, in a
 * COND block: R_TOTAL_GE of X (X + 1 for a strict comparison: kopecks are integers), one
 * instruction (and a `when` of it alone is tested without the VM, runtime/prefilter.h).
 * 1 when emitted. PRED blocks keep the three instructions: their canonical bytes name
 * shared predicates. */
static int cg_total_ge(cg *g, cg_code *k, const ast_node *n) {
    const ast_node *a = n->a, *b = n->b;
    int ta = a->kind == AST_FACT && a->op == FACT_TOTAL;
    int tb = b->kind == AST_FACT && b->op == FACT_TOTAL;
    const ast_node *lit = ta ? b : a;
    if (ta == tb || lit->kind != AST_NUM) return 0;
    int strict;
    if (n->op == (ta ? BIN_GE : BIN_LE))
        strict = 0;
    else if (n->op == (ta ? BIN_GT : BIN_LT))
        strict = 1;
    else
        return 0;
    int64_t x = cg_lit(lit);
    if (x == PROMO_ABSENT || (strict && x == INT64_MAX)) return 0; /* (GE of ABSENT is false) */
    cg_emit(g, k, OP_R_TOTAL_GE, cg_const(g, x + strict, PB_NONE, lit->type));
    return 1;
}

/* A number literal that PUSH_I would push: *v its value. */
static int cg_imm_lit(const ast_node *n, int64_t *v) {
    switch (n->kind) {
    case AST_NUM:
    case AST_PERCENT:
    case AST_DATE:
    case AST_TIME:
    case AST_DURATION: *v = cg_lit(n); break;
    default: return 0;
    }
    return *v != PROMO_ABSENT && *v >= INSN_IMM_MIN && *v <= INSN_IMM_MAX;
}

/* `a op b` with one side a number literal that fits an immediate, in a COND block: the
 * other side, then EQ_I .. GE_I of the literal (mirrored when the literal is on the
 * left), one instruction for `PUSH_I X; GE`. 1 when emitted. PRED blocks keep the two:
 * their canonical bytes name shared predicates and history slots. */
static int cg_cmp_imm(cg *g, cg_code *k, const ast_node *n, promo_opcode op) {
    static const promo_opcode mirror[OP__COUNT] = {
        [OP_EQ] = OP_EQ, [OP_NE] = OP_NE, [OP_LT] = OP_GT,
        [OP_LE] = OP_GE, [OP_GT] = OP_LT, [OP_GE] = OP_LE};
    int64_t v;
    const ast_node *other;
    if (cg_imm_lit(n->b, &v)) {
        other = n->a;
    } else if (cg_imm_lit(n->a, &v)) {
        other = n->b;
        op = mirror[op];
    } else {
        return 0;
    }
    cg_numval(g, k, other);
    cg_emit(g, k, (promo_opcode)(OP_EQ_I + (op - OP_EQ)), v);
    return 1;
}

static void cg_compare(cg *g, cg_code *k, const ast_node *n) {
    const ast_node *a = n->a, *b = n->b;
    int neg = n->op == BIN_NE;
    /* `category == "x"` is hierarchical: the line's category or an ancestor is "x". */
    if ((n->op == BIN_EQ || neg) && (cg_is_category(a) || cg_is_category(b))) {
        const ast_node *lit = cg_is_category(a) ? b : a;
        if (lit->kind == AST_STRING) {
            cg_items it = {0};
            cg_cat_items(g, &it, lit->str);
            cg_emit_set(g, k, OP_L_CAT_IN, PB_SET_CATEGORY, &it);
            cg_items_free(&it);
            if (neg) cg_emit(g, k, OP_NOT, 0);
            return;
        }
    }
    if (cg_is_string_cmp(a, b)) {
        if (n->op != BIN_EQ && !neg && (cg_is_store(a) || cg_is_store(b))) {
            diag_report(&g->c->diags, DIAG_E008, n->span,
                        "store ids compare with '==', '!=' or 'in', not '%s'",
                        n->op == BIN_LT   ? "<"
                        : n->op == BIN_LE ? "<="
                        : n->op == BIN_GT ? ">"
                                          : ">=");
            g->failed = 1;
        }
        promo_opcode fa = cg_atom_fact(a), fb = cg_atom_fact(b);
        const ast_node *lit = fa ? b : a;
        if (n->op == BIN_EQ && (fa || fb) && (lit->kind == AST_STRING || lit->kind == AST_NUM)) {
            char buf[32];
            size_t len;
            const char *s = cg_item_text(lit, buf, &len);
            if (s) {
                cg_emit_atom_eq(g, k, fa ? fa : fb, s, len, !fa);
                return;
            }
        }
        cg_strval(g, k, a);
        cg_strval(g, k, b);
        cg_emit(g, k, neg ? OP_SNE : OP_SEQ, 0); /* sema rejects ordering strings */
        return;
    }
    /* `price` is exact (SPEC 3.1): compared by cross-multiplying, never rounded. */
    int pa = cg_is_price(a), pb = cg_is_price(b);
    if (pa != pb) {
        static const int cmp[] = {
            [BIN_EQ] = 0, [BIN_NE] = 1, [BIN_LT] = 2, [BIN_LE] = 3, [BIN_GT] = 4, [BIN_GE] = 5};
        static const int flip[] = {0, 1, 4, 5, 2, 3}; /* x < price: price > x */
        cg_numval(g, k, pa ? b : a);
        cg_emit(g, k, OP_L_PRICE_CMP, pa ? cmp[n->op] : flip[cmp[n->op]]);
        return;
    }
    if (k->cond && cg_total_ge(g, k, n)) return;
    static const promo_opcode ops[] = {[BIN_EQ] = OP_EQ, [BIN_NE] = OP_NE, [BIN_LT] = OP_LT,
                                       [BIN_LE] = OP_LE, [BIN_GT] = OP_GT, [BIN_GE] = OP_GE};
    if (k->cond && cg_cmp_imm(g, k, n, ops[n->op])) return;
    cg_numval(g, k, a);
    cg_numval(g, k, b);
    cg_emit(g, k, ops[n->op], 0);
}

static void cg_in(cg *g, cg_code *k, const ast_node *n) {
    const ast_node *a = n->a, *list = n->b;
    const ast_node *items = list && list->kind == AST_LIST ? list->a : NULL;
    cg_items it = {0};
    if (cg_is_category(a)) {
        for (const ast_node *i = items; i; i = i->next)
            if (i->str) cg_cat_items(g, &it, i->str);
        cg_emit_set(g, k, OP_L_CAT_IN, PB_SET_CATEGORY, &it);
    } else {
        int strings = a->type == TY_STRING || cg_is_store(a);
        if (cg_is_attr(a)) strings = !items || items->kind == AST_STRING;
        if (strings) {
            promo_opcode fa = cg_atom_fact(a);
            if (!fa) cg_strval(g, k, a);
            for (const ast_node *i = items; i; i = i->next) {
                char buf[32];
                size_t len;
                const char *s = cg_item_text(i, buf, &len);
                if (s) cg_items_add(g, &it, promo_hash(s, len), s, len);
            }
            if (fa)
                cg_emit_atom_set(g, k, fa, &it);
            else
                cg_emit_set(g, k, OP_IN_SET, PB_SET_STRING, &it);
        } else {
            cg_numval(g, k, a);
            for (const ast_node *i = items; i; i = i->next) {
                strbuf text = STRBUF_INIT;
                if (i->kind == AST_IDENT && i->str)
                    sb_puts(&text, i->str);
                else
                    cg_span_text(g, i->span, &text);
                cg_items_add(g, &it, promo_hash_i64(cg_lit(i)), sb_cstr(&text), text.len);
                sb_free(&text);
            }
            cg_emit_set(g, k, OP_IN_NSET, PB_SET_NUMBER, &it);
        }
    }
    cg_items_free(&it);
    if (n->op == BIN_NOT_IN) cg_emit(g, k, OP_NOT, 0);
}

static int cg_max(int a, int b) {
    return a > b ? a : b;
}

/* Stack slots an expression needs, as cg_expr emits it (Sethi-Ullman numbers). */
static int cg_need(const ast_node *n) {
    if (!n) return 1;
    switch (n->kind) {
    case AST_IDENT: return n->ref && n->ref->kind == AST_SET ? cg_need(n->ref->a) : 1;
    case AST_UNOP: return n->op == UN_NEG && n->a->kind == AST_NUM ? 1 : cg_need(n->a);
    case AST_FACT: return n->op == FACT_SKU_IS || n->op == FACT_BRAND_IS ? 2 : 1;
    case AST_BINOP: {
        int na = cg_need(n->a), nb = cg_need(n->b);
        switch (n->op) {
        case BIN_AND:
        case BIN_OR: return cg_max(na, nb);
        case BIN_IN:
        case BIN_NOT_IN: return na;
        case BIN_ADD:
        case BIN_MUL: return cg_max(cg_max(na, nb), (na < nb ? na : nb) + 1);
        default: return cg_max(na, nb + 1);
        }
    }
    default: return 1;
    }
}

static void cg_binop(cg *g, cg_code *k, const ast_node *n) {
    switch (n->op) {
    case BIN_OR:
    case BIN_AND: {
        cg_expr(g, k, n->a);
        uint32_t j = cg_jump(g, k, n->op == BIN_AND ? OP_JF_KEEP : OP_JT_KEEP);
        cg_expr(g, k, n->b);
        cg_patch(g, k, j);
        break;
    }
    case BIN_EQ:
    case BIN_NE:
    case BIN_LT:
    case BIN_LE:
    case BIN_GT:
    case BIN_GE: cg_compare(g, k, n); break;
    case BIN_IN:
    case BIN_NOT_IN: cg_in(g, k, n); break;
    case BIN_SUB:
        cg_numval(g, k, n->a);
        cg_numval(g, k, n->b);
        cg_emit(g, k, OP_SUB, 0);
        break;
    case BIN_ADD:
    case BIN_MUL:
        /* Commutative: the operand needing more stack goes first, so a right-nested
         * chain `a + (b + (c + ...))` runs in constant depth. */
        if (cg_need(n->b) > cg_need(n->a)) {
            cg_numval(g, k, n->b);
            cg_numval(g, k, n->a);
        } else {
            cg_numval(g, k, n->a);
            cg_numval(g, k, n->b);
        }
        if (n->op == BIN_ADD) {
            cg_emit(g, k, OP_ADD, 0);
            break;
        }
        cg_emit(g, k, n->a->type == TY_MONEY || n->b->type == TY_MONEY ? OP_MUL_MN : OP_MUL_NN, 0);
        break;
    }
}

static void cg_fact(cg *g, cg_code *k, const ast_node *n) {
    static const promo_opcode plain[FACT_COUNT] = {
        [FACT_TOTAL] = OP_R_TOTAL,
        [FACT_ORIGINAL_TOTAL] = OP_R_ORIG_TOTAL,
        [FACT_STORE] = OP_R_STORE,
        [FACT_REGION] = OP_R_REGION,
        [FACT_CHANNEL] = OP_R_CHANNEL,
        [FACT_PAYMENT] = OP_R_PAYMENT,
        [FACT_TIME] = OP_R_TIME,
        [FACT_DATE] = OP_R_DATE,
        [FACT_WEEKDAY] = OP_R_WEEKDAY,
        [FACT_TIER] = OP_C_TIER,
        [FACT_REGISTERED] = OP_C_REGISTERED,
        [FACT_CUSTOMER_ID] = OP_C_ID,
        [FACT_SKU] = OP_L_SKU,
        [FACT_CATEGORY] = OP_L_CATEGORY,
        [FACT_BRAND] = OP_L_BRAND,
        [FACT_QTY] = OP_L_QTY,
        [FACT_PRICE] = OP_L_PRICE,
        [FACT_ORIGINAL_PRICE] = OP_L_ORIG_PRICE,
        [FACT_AMOUNT] = OP_L_AMOUNT,
        [FACT_EXCLUDED] = OP_L_EXCLUDED,
    };
    const char *arg = n->str ? n->str : "";
    switch (n->op) {
    case FACT_CODE: cg_emit(g, k, OP_R_HAS_CODE, cg_cstr(g, arg)); return;
    case FACT_SEGMENT: cg_emit(g, k, OP_C_SEGMENT, cg_cstr(g, arg)); return;
    case FACT_CARD_IS: cg_emit(g, k, OP_C_CARD_IS, cg_cstr(g, arg)); return;
    case FACT_CARD:
        if (n->str)
            cg_emit(g, k, OP_C_CARD_IS, cg_cstr(g, arg));
        else
            cg_emit(g, k, OP_C_CARD, 0);
        return;
    case FACT_BIRTHDAY_WITHIN: {
        int64_t d = n->ival < 0 ? 0 : n->ival > INSN_IMM_MAX ? INSN_IMM_MAX : n->ival;
        cg_emit(g, k, OP_C_BIRTHDAY, d);
        return;
    }
    case FACT_ATTR:
    case FACT_CUSTOMER_ATTR:
        /* Outside a comparison an attribute is read as a string. */
        cg_strval(g, k, n);
        return;
    case FACT_SKU_IS:
    case FACT_BRAND_IS:
        cg_emit_atom_eq(g, k, n->op == FACT_SKU_IS ? OP_L_SKU : OP_L_BRAND, arg, strlen(arg), 0);
        return;
    case FACT_CATEGORY_IS: {
        cg_items it = {0};
        cg_cat_items(g, &it, arg);
        cg_emit_set(g, k, OP_L_CAT_IN, PB_SET_CATEGORY, &it);
        cg_items_free(&it);
        return;
    }
    default:
        /* PUSH_I is opcode 0: a 0 entry means "not a plain fact". */
        if (n->op < FACT_COUNT && plain[n->op]) {
            cg_emit(g, k, plain[n->op], 0);
            return;
        }
    }
    diag_report(&g->c->diags, DIAG_E008, n->span, "cannot compile this fact here");
    g->failed = 1;
    cg_emit(g, k, OP_PUSH_I, 0);
}

/* The meaning of a predicate as text, for history keys: node kinds, operators and facts
 * by name, literals by typed value, strings by content, named sets by their own
 * definition. Nothing here depends on opcode numbers, jump offsets, the order of
 * declarations, the pools of the bundle or the names given to sets, so a key survives
 * recompiling the same rule after any unrelated change (tests/test_codegen_keys.c). */
static void cg_pred_text(strbuf *o, const ast_node *n, int depth) {
    static const char *const bin[] = {"or", "and", "==",     "!=", "<", "<=", ">",
                                      ">=", "in",  "not in", "+",  "-", "*"};
    static const char *const fact[] = {
#define X(name, level) #name,
        FACT_LIST(X)
#undef X
    };
    if (!n || depth > 64) {
        sb_putc(o, '_');
        return;
    }
    switch (n->kind) {
    case AST_IDENT:
        if (n->ref && n->ref->kind == AST_SET) { /* a named set: what it means */
            cg_pred_text(o, n->ref->a, depth + 1);
        } else {
            sb_printf(o, "'%s'", n->str ? n->str : "");
        }
        return;
    case AST_STRING:
        sb_printf(o, "\"%zu:%s\"", n->str ? strlen(n->str) : 0, n->str ? n->str : "");
        return;
    case AST_NUM:
    case AST_PERCENT: sb_printf(o, "%lld/%u", (long long)n->value, (unsigned)n->type); return;
    case AST_DATE:
    case AST_TIME:
    case AST_DURATION: sb_printf(o, "%s:%lld", ast_kind_names[n->kind], (long long)n->ival); return;
    default: break;
    }
    sb_printf(o, "(%s", ast_kind_names[n->kind]);
    if (n->kind == AST_BINOP && n->op < sizeof bin / sizeof bin[0])
        sb_printf(o, " %s", bin[n->op]);
    else if (n->kind == AST_FACT && n->op < FACT_COUNT)
        sb_printf(o, " %s", fact[n->op]);
    else
        sb_printf(o, " %u", (unsigned)n->op);
    if (n->kind == AST_FACT) sb_printf(o, " %lld", (long long)n->ival);
    if (n->str) sb_printf(o, " \"%zu:%s\"", strlen(n->str), n->str);
    const ast_node *kids[3] = {n->a, n->b, n->c};
    for (int i = 0; i < 3; i++) {
        if (!kids[i]) continue;
        sb_putc(o, ' ');
        if (kids[i]->next) { /* a list */
            sb_putc(o, '[');
            for (const ast_node *e = kids[i]; e; e = e->next) {
                cg_pred_text(o, e, depth + 1);
                if (e->next) sb_putc(o, ',');
            }
            sb_putc(o, ']');
        } else {
            cg_pred_text(o, kids[i], depth + 1);
        }
    }
    sb_putc(o, ')');
}

/* History slot of (kind, predicate), keyed by the predicate's meaning (cg_pred_text) so
 * the per-customer state survives rebuilds of a changed campaign set. */
static uint32_t cg_hist(cg *g, uint32_t kind, const ast_node *pred, src_span span) {
    uint32_t pb = cg_pred(g, pred, span);
    strbuf key = STRBUF_INIT;
    sb_add(&key, kind ? "hist.count:" : "hist.sum:", kind ? 11 : 9);
    if (pb == PRED_ALL_LINES)
        sb_puts(&key, "*");
    else
        cg_pred_text(&key, pred, 0);
    uint64_t h = XXH3_64bits(key.data, key.len);
    uint32_t idx = cg_map_find(&g->hist_map, key.data, key.len, h);
    if (idx == PB_NONE) {
        idx = g->hist.n;
        VPUSH(g->hist, ((pb_hist){h, pb, kind}));
        cg_map_put(&g->hist_map, key.data, key.len, h, idx);
    }
    sb_free(&key);
    return idx;
}

static void cg_expr(cg *g, cg_code *k, const ast_node *n) {
    if (!n) { /* sema guarantees a tree; stay verifiable anyway */
        cg_emit(g, k, OP_PUSH_I, 0);
        return;
    }
    switch (n->kind) {
    case AST_NUM:
    case AST_PERCENT:
    case AST_DATE:
    case AST_TIME:
    case AST_DURATION: cg_push_int(g, k, cg_lit(n), n->type); break;
    case AST_STRING:
        if (cg_is_enum(n->type))
            cg_push_int(g, k, n->value, n->type);
        else
            cg_push_str(g, k, n->str, strlen(n->str));
        break;
    case AST_IDENT:
        if (n->ref && n->ref->kind == AST_SET)
            cg_expr(g, k, n->ref->a); /* sets are inlined: PRED blocks stay flat */
        else
            cg_push_int(g, k, n->value, n->type);
        break;
    case AST_BINOP: cg_binop(g, k, n); break;
    case AST_UNOP:
        if (n->op == UN_NEG && (n->a->kind == AST_NUM || n->a->kind == AST_PERCENT)) {
            cg_push_int(g, k, -cg_lit(n->a), n->type);
        } else {
            cg_numval(g, k, n->a);
            cg_emit(g, k, n->op == UN_NOT ? OP_NOT : OP_NEG, 0);
        }
        break;
    case AST_FACT: cg_fact(g, k, n); break;
    case AST_AGG: {
        static const promo_opcode ops[] = {OP_AGG_SUM, OP_AGG_COUNT, OP_AGG_ANY, OP_AGG_DISTINCT};
        uint32_t p = cg_pred(g, n->a, n->span);
        cg_emit(g, k, ops[n->op & 3], p);
        break;
    }
    case AST_HIST: {
        int64_t days = n->b ? cg_lit(n->b) : 0;
        cg_push_int(g, k, days, TY_NUMBER);
        if (n->op == HIST_OP_VISITS)
            cg_emit(g, k, OP_H_VISITS, 0);
        else
            cg_emit(g, k, n->op == HIST_OP_SUM ? OP_H_SUM : OP_H_COUNT,
                    cg_hist(g, n->op == HIST_OP_SUM ? 0 : 1, n->a, n->span));
        break;
    }
    default:
        diag_report(&g->c->diags, DIAG_E008, n->span, "cannot compile this %s here",
                    ast_kind_names[n->kind]);
        g->failed = 1;
        cg_emit(g, k, OP_PUSH_I, 0);
    }
}

/* ---------------------------------------------------------------- blocks ---- */

static void cg_code_init(cg_code *k, src_span span) {
    memset(k, 0, sizeof *k);
    k->span = span;
}

static void cg_code_free(cg_code *k) {
    xfree(k->w.v);
    sb_free(&k->canon);
}

static uint32_t cg_block_add(cg *g, cg_code *k, uint32_t kind) {
    if (k->maxd > PROMO_VM_STACK_MAX) {
        if (!g->failed)
            diag_report(&g->c->diags, DIAG_E026, k->span,
                        "expression nests too deeply: it needs %d stack slots, the VM has %d",
                        k->maxd, PROMO_VM_STACK_MAX);
        g->failed = 1;
    }
    pb_block blk = {g->code.n, k->w.n, kind, (uint32_t)(k->maxd > 0 ? k->maxd : 0)};
    for (uint32_t i = 0; i < k->w.n; i++)
        VPUSH(g->code, k->w.v[i]);
    uint32_t idx = g->blocks.n;
    VPUSH(g->blocks, blk);
    return idx;
}

/* The PRED block of a line predicate (NULL = all lines). Identical predicates share a
 * block: their canonical bytes are equal. */
static uint32_t cg_pred(cg *g, const ast_node *pred, src_span span) {
    if (!pred) return PRED_ALL_LINES;
    cg_code k;
    cg_code_init(&k, pred->span);
    (void)span;
    cg_expr(g, &k, pred);
    cg_emit(g, &k, OP_RET, 0);
    /* Jumps were recorded in the canonical bytes before being patched: add their
     * final offsets (indices of sets and constants stay out: they vary by build),
     * counted in the words of the canonical sequences (a line-atom opcode stands for the
     * 2 or 3 instructions of cg_emit_atom_set / cg_emit_atom_eq), so keys stay as they
     * were before those opcodes. */
    for (uint32_t i = 0; i < k.w.n; i++) {
        promo_opcode op = INSN_OP(k.w.v[i]);
        if (op == OP_JF_KEEP || op == OP_JT_KEEP) {
            uint32_t a = 0, end = i + 1 + INSN_A(k.w.v[i]);
            for (uint32_t j = i + 1; j < end && j < k.w.n; j++)
                a += cg_canon_words(INSN_OP(k.w.v[j]));
            sb_add(&k.canon, &a, 4);
        }
    }
    uint64_t h = XXH3_64bits(k.canon.data, k.canon.len);
    uint32_t idx = cg_map_find(&g->pred_map, k.canon.data, k.canon.len, h);
    if (idx == PB_NONE) {
        idx = cg_block_add(g, &k, PB_BLOCK_PRED);
        cg_map_put(&g->pred_map, k.canon.data, k.canon.len, h, idx);
    }
    cg_code_free(&k);
    return idx;
}

typedef VEC(const ast_node *) cg_nodes;

static void cg_conjuncts(const ast_node *n, cg_nodes *out) {
    if (n->kind == AST_BINOP && n->op == BIN_AND) {
        cg_conjuncts(n->a, out);
        cg_conjuncts(n->b, out);
    } else {
        VPUSH(*out, n);
    }
}

/* `when`: each top-level conjunct is asserted separately so --explain can name the
 * part that was false. */
static uint32_t cg_when(cg *g, const ast_node *when) {
    cg_code k;
    cg_code_init(&k, when->span);
    k.cond = 1;
    cg_nodes parts = {0};
    cg_conjuncts(when, &parts);
    for (uint32_t i = 0; i < parts.n; i++) {
        cg_expr(g, &k, parts.v[i]);
        strbuf text = STRBUF_INIT;
        cg_span_text(g, parts.v[i]->span, &text);
        cg_emit(g, &k, OP_ASSERT, cg_str(g, sb_cstr(&text), text.len));
        sb_free(&text);
    }
    cg_emit(g, &k, OP_PUSH_I, 1);
    cg_emit(g, &k, OP_RET, 0);
    xfree(parts.v);
    uint32_t idx = cg_block_add(g, &k, PB_BLOCK_COND);
    cg_code_free(&k);
    return idx;
}

static uint32_t cg_cond(cg *g, const ast_node *e) {
    cg_code k;
    cg_code_init(&k, e->span);
    k.cond = 1;
    cg_expr(g, &k, e);
    cg_emit(g, &k, OP_RET, 0);
    uint32_t idx = cg_block_add(g, &k, PB_BLOCK_COND);
    cg_code_free(&k);
    return idx;
}

/* --------------------------------------------------------------- rewards ---- */

static uint32_t cg_target(cg *g, const ast_node *t, int *receipt) {
    *receipt = !t || t->op == TARGET_RECEIPT;
    if (!t || t->op == TARGET_RECEIPT || !t->a) return PRED_ALL_LINES;
    return cg_pred(g, t->a, t->span);
}

static void cg_reward(cg *g, const ast_node *n) {
    pb_reward r;
    memset(&r, 0, sizeof r);
    r.kind = n->op;
    r.level = PB_LEVEL_LINE;
    r.pred = PRED_ALL_LINES;
    r.str = PB_NONE;
    r.activate_days = -1;
    r.expire_days = -1;
    int on_receipt = 0;
    switch (n->op) {
    case REWARD_DISCOUNT_EACH:
    case REWARD_PRICE:
        r.a = n->a ? cg_lit(n->a) : 0;
        r.pred = cg_target(g, n->c, &on_receipt);
        break;
    case REWARD_DISCOUNT_PCT: /* `on receipt`: one amount, like the money form */
    case REWARD_DISCOUNT_AMOUNT:
        r.a = n->a ? cg_lit(n->a) : 0;
        r.pred = cg_target(g, n->c, &on_receipt);
        if (on_receipt) r.level = PB_LEVEL_RECEIPT; /* spread over the whole receipt */
        break;
    case REWARD_BUY_FREE:
        r.n = (uint32_t)n->ival;
        r.m = (uint32_t)n->ival2;
        r.a = r.n;
        r.b = r.m;
        r.pred = cg_target(g, n->c, &on_receipt);
        break;
    case REWARD_BUY_PCT:
        r.n = (uint32_t)n->ival;
        r.m = (uint32_t)n->ival2;
        r.a = r.n;
        r.b = n->a ? cg_lit(n->a) : 0;
        r.pred = cg_target(g, n->c, &on_receipt);
        break;
    case REWARD_BUNDLE:
        r.n = (uint32_t)n->ival;
        r.a = r.n;
        r.b = n->a ? cg_lit(n->a) : 0;
        r.pred = cg_target(g, n->c, &on_receipt);
        break;
    case REWARD_POINTS_PCT:
        r.a = n->a ? cg_lit(n->a) : 0;
        if (n->c) r.pred = cg_target(g, n->c, &on_receipt);
        /* `points P% of paid` without a target or `on receipt` (SPEC 3.3 rule 3) */
        if (!n->c || on_receipt) r.level = PB_LEVEL_RECEIPT;
        r.activate_days = n->d1;
        r.expire_days = n->d2;
        break;
    case REWARD_POINTS_FIXED:
        r.a = n->a ? cg_lit(n->a) : 0;
        r.level = PB_LEVEL_RECEIPT;
        r.activate_days = n->d1;
        r.expire_days = n->d2;
        break;
    case REWARD_COUPON:
    case REWARD_MESSAGE:
        r.str = cg_cstr(g, n->str ? n->str : "");
        r.level = PB_LEVEL_RECEIPT;
        break;
    case REWARD_SPEND_LIMIT: {
        /* Steps first, so the COND blocks of their conditions precede their use. */
        VEC(pb_step) steps = {0};
        for (const ast_node *s = n->a; s; s = s->next) {
            pb_step st = {s->a ? cg_lit(s->a) : 0, s->b ? cg_cond(g, s->b) : PB_NONE, 0};
            VPUSH(steps, st);
        }
        r.steps_off = g->steps.n;
        r.steps_cnt = steps.n;
        for (uint32_t i = 0; i < steps.n; i++)
            VPUSH(g->steps, steps.v[i]);
        xfree(steps.v);
        break;
    }
    }
    if (r.activate_days < -1) r.activate_days = -1;
    if (r.expire_days < -1) r.expire_days = -1;
    VPUSH(g->rewards, r);
}

/* ------------------------------------------------------------- campaigns ---- */

static void cg_campaign(cg *g, const sema_campaign *sc) {
    pb_campaign p;
    memset(&p, 0, sizeof p);
    const ast_node *node = sc->node;
    p.id_hash = promo_hash(sc->id, strlen(sc->id));
    p.id = cg_cstr(g, sc->id);
    p.title = node && node->str2 ? cg_cstr(g, node->str2) : PB_NONE;
    p.priority = sc->priority;
    p.group = sc->group;
    p.accept_mode = sc->accept_mode;
    p.accept_off = g->accept.n;
    if (sc->accept_mode == PB_ACCEPT_LIST) {
        for (size_t i = 0; i < sc->naccept; i++)
            VPUSH(g->accept, sc->accept[i]);
        p.accept_cnt = (uint32_t)sc->naccept;
    }
    if (sc->stop) p.flags |= PBC_STOP;
    p.budget = -1;
    if (sc->budget) {
        p.budget = sc->budget->a ? cg_lit(sc->budget->a) : 0;
        if (sc->budget->op == 1) p.flags |= PBC_BUDGET_PARTIAL;
    }
    p.date_from = INT32_MIN;
    p.date_to = INT32_MAX;
    if (sc->active && sc->active->a && sc->active->b) {
        p.date_from = (int32_t)cg_lit(sc->active->a);
        p.date_to = (int32_t)cg_lit(sc->active->b);
    }
    p.weekday_mask = 0x7F;
    if (sc->days) {
        p.weekday_mask = 0;
        for (const ast_node *d = sc->days->a; d; d = d->next) {
            unsigned from = (unsigned)d->ival % 7, to = (unsigned)d->ival2 % 7;
            for (unsigned w = from;; w = (w + 1) % 7) { /* `fri .. mon` wraps */
                p.weekday_mask |= 1u << w;
                if (w == to) break;
            }
        }
    }
    p.hours_off = g->hours.n / 2;
    if (sc->hours) {
        for (const ast_node *t = sc->hours->a; t; t = t->next) {
            VPUSH(g->hours, (uint32_t)(t->a ? cg_lit(t->a) : 0));
            VPUSH(g->hours, (uint32_t)(t->b ? cg_lit(t->b) : 0));
            p.hours_cnt++;
        }
    }
    p.stores_set = p.regions_set = PB_NONE;
    if (sc->stores) {
        cg_items stores = {0}, regions = {0};
        for (const ast_node *s = sc->stores->a; s; s = s->next) {
            char buf[32];
            const char *txt = s->str;
            size_t len = txt ? strlen(txt) : 0;
            if (s->kind == AST_NUM) {
                len = (size_t)cg_int_text(s, buf);
                txt = buf;
            }
            if (!txt) continue;
            cg_items_add(g, s->kind == AST_REGION ? &regions : &stores, promo_hash(txt, len), txt,
                         len);
        }
        if (stores.keys.n) p.stores_set = cg_set(g, PB_SET_STRING, &stores, NULL);
        if (regions.keys.n) p.regions_set = cg_set(g, PB_SET_STRING, &regions, NULL);
        cg_items_free(&stores);
        cg_items_free(&regions);
    }
    p.channel_mask = 3;
    if (sc->channel) {
        p.channel_mask = 0;
        for (const ast_node *ch = sc->channel->a; ch; ch = ch->next)
            p.channel_mask |= ch->str && !strcmp(ch->str, "online") ? 2u : 1u;
    }
    p.card_set = sc->card ? cg_string_list_set(g, sc->card->a) : PB_NONE;
    p.segment_set = sc->segment ? cg_string_list_set(g, sc->segment->a) : PB_NONE;
    p.code_set = sc->code ? cg_string_list_set(g, sc->code->a) : PB_NONE;
    p.cond_block = sc->when_expr ? cg_when(g, sc->when_expr) : PB_NONE;
    p.reward_off = g->rewards.n;
    if (sc->then)
        for (const ast_node *r = sc->then->a; r; r = r->next)
            cg_reward(g, r);
    p.reward_cnt = g->rewards.n - p.reward_off;
    if (sc->limit_receipt) p.limit_receipt = (uint32_t)sc->limit_receipt->ival;
    if (sc->limit_customer) {
        p.limit_customer = (uint32_t)sc->limit_customer->ival;
        p.limit_period = (uint32_t)sc->limit_customer->ival2;
    }
    /* Only the file's base name: a bundle must not depend on where the sources live
     * nor on their layout (line numbers), so that checkouts and `promo fmt` agree. */
    if (sc->file < g->c->nfiles) {
        const char *path = g->c->files[sc->file].path, *slash = strrchr(path, '/');
        p.src_file = cg_cstr(g, slash ? slash + 1 : path);
    } else {
        p.src_file = PB_NONE;
    }
    p.src_line = 0;
    VPUSH(g->campaigns, p);
}

/* ------------------------------------------------------------ entry point ---- */

static void cg_free(cg *g) {
    xfree(g->str_off.v);
    sb_free(&g->str_bytes);
    xfree(g->consts.v);
    xfree(g->sets.v);
    xfree(g->slots.v);
    xfree(g->setitems.v);
    xfree(g->code.v);
    xfree(g->blocks.v);
    xfree(g->groups.v);
    xfree(g->accept.v);
    xfree(g->hours.v);
    xfree(g->steps.v);
    xfree(g->rewards.v);
    xfree(g->hist.v);
    xfree(g->campaigns.v);
    cg_map_free(&g->str_map);
    cg_map_free(&g->const_map);
    cg_map_free(&g->set_map);
    cg_map_free(&g->pred_map);
    cg_map_free(&g->hist_map);
}

int codegen_bundle(struct compilation *c, struct strbuf *out) {
    const sema_result *s = sema_get(c);
    if (!s) return -1;
    cg g;
    memset(&g, 0, sizeof g);
    g.c = c;
    g.s = s;
    for (size_t i = 0; i < s->ngroups; i++)
        VPUSH(g.groups, cg_cstr(&g, s->groups[i]));
    for (size_t i = 0; i < s->ncampaigns; i++)
        cg_campaign(&g, &s->campaigns[i]);
    int rc = -1;
    if (!g.failed) {
        cg_write(&g, out);
        rc = 0;
    }
    cg_free(&g);
    return rc;
}
