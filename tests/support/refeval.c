/*
 * refeval.c — the reference evaluator of the differential test (tests only; see
 * refeval.h). It reads the checked AST of a compilation and evaluates receipts by
 * walking it, implementing SPEC 3.2-3.5 and docs/semantics.md as literally as
 * possible. Nothing here is shared with runtime/vm.c or runtime/stacking.c on purpose:
 * the point is two independent readings of the same contract.
 *
 * Clarity over speed: every fact is recomputed when asked, strings are compared as
 * bytes, state is kept in linear lists.
 */
#include "refeval.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "civil.h"
#include "sema.h"

#define REF_MAXC 256 /* campaigns per set the reference models */

/* ------------------------------------------------------------ helpers ---- */

static void *ref_xalloc(size_t n) {
    void *p = calloc(1, n ? n : 1);
    if (!p) abort();
    return p;
}

static void *ref_xrealloc(void *p, size_t n) {
    p = realloc(p, n ? n : 1);
    if (!p) abort();
    return p;
}

#define REF_PUSH(arr, n, cap, item)                                                                \
    do {                                                                                           \
        if ((n) == (cap)) {                                                                        \
            (cap) = (cap) ? 2 * (cap) : 8;                                                         \
            (arr) = ref_xrealloc((arr), (cap) * sizeof *(arr));                                    \
        }                                                                                          \
        (arr)[(n)++] = (item);                                                                     \
    } while (0)

/* round_half_up(num / den) for num >= 0, den > 0 (halves away from zero). */
static int64_t rhu(__int128 num, __int128 den) {
    if (num < 0) return -(int64_t)((-num * 2 + den) / (2 * den));
    return (int64_t)((num * 2 + den) / (2 * den));
}

static int64_t pow10i(int k) {
    int64_t p = 1;
    while (k-- > 0)
        p *= 10;
    return p;
}

static int str_eq(promo_str a, const char *b) {
    size_t n = strlen(b);
    return a.p && a.n == n && memcmp(a.p, b, n) == 0;
}

static int pstr_eq(promo_str a, promo_str b) {
    return a.p && b.p && a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
}

/* `category "dairy"` matches "dairy" and "dairy/...", never "dairy2/...". */
static int cat_match(const char *v, size_t vn, const char *pat, size_t pn) {
    if (vn < pn || memcmp(v, pat, pn) != 0) return 0;
    return vn == pn || v[pn] == '/';
}

static char *dup_pstr(promo_str s) {
    if (!s.p) return NULL;
    char *d = ref_xalloc(s.n + 1);
    memcpy(d, s.p, s.n);
    return d;
}

static promo_str mk_pstr(const char *s) {
    promo_str r = {s, s ? (uint32_t)strlen(s) : 0};
    return r;
}

/* ----------------------------------------------------------- campaigns ---- */

typedef struct rcamp {
    const ast_node *node;
    const char *id;
    int64_t priority;
    const char *group;
    int combine; /* COMBINE_* */
    const char *accept[32];
    int naccept;
    int stop;
    const ast_node *active, *days, *hours, *stores, *channel, *card, *segment, *code;
    const ast_node *when[16];
    int nwhen;
    const ast_node *rewards; /* first REWARD */
    int64_t limit_receipt;   /* 0 none */
    int64_t limit_customer;  /* 0 none */
    int period;
    int64_t budget; /* -1 none */
    int partial;
} rcamp;

/* One line as predicates see it: a current receipt line or a committed history line. */
typedef struct lview {
    promo_str sku, cat, brand;
    int64_t qty, price, amount, orig_amount;
    int excluded;
    int price_from_amount; /* alternative reading F3 */
} lview;

typedef struct hrec { /* a committed receipt of a customer (history) */
    char *cust;
    int32_t date;
    lview *lines;
    char **strs; /* owned copies behind the lines' strings */
    uint32_t nlines;
} hrec;

typedef struct lim_entry {
    char *cust;
    char *camp; /* owned: state outlives a swapped-out compilation */
    int32_t bucket;
    int64_t count;
} lim_entry;

typedef struct bud_entry {
    char *camp; /* owned */
    int64_t spent;
} bud_entry;

struct ref_eval {
    const compilation *comp;
    int tiebreak; /* `tiebreak benefit` */
    unsigned alt; /* REF_ALT_* */
    rcamp *c;
    size_t nc;
    const ast_node **sets; /* SET nodes, by name lookup */
    size_t nsets;

    hrec *hist;
    size_t nhist, caphist;
    lim_entry *lim;
    size_t nlim, caplim;
    bud_entry *bud;
    size_t nbud, capbud;

    ref_result res;
    /* result storage */
    ref_line *lines;
    ref_by *bys;
    ref_points *pts;
    ref_text *coupons, *messages;
    const char **applied;
    ref_explain *explain;
};

/* --------------------------------------------------------- evaluation ---- */

typedef struct wline {
    const promo_line *src;
    int64_t orig;   /* round_half_up(qty * price) */
    int64_t amount; /* current */
    int price_from_amount;
} wline;

typedef struct rctx {
    ref_eval *e;
    const promo_receipt *r;
    wline *lines;
    uint32_t n;
    const lview *line; /* the line a predicate runs on */
} rctx;

enum { V_BOOL, V_INT, V_STR, V_ATTR };

typedef struct val {
    int kind;
    int present;
    int64_t i;
    const char *s;
    size_t n;
    int cat; /* a category path: compares hierarchically */
    /* `price`: the exact value xnum / xden when xden > 0 (i is it rounded, for
     * arithmetic); comparisons use the exact value (SPEC 3.1) */
    __int128 xnum, xden;
} val;

static val v_bool(int b) {
    val v = {V_BOOL, 1, b != 0, NULL, 0, 0};
    return v;
}
static val v_int(int64_t i) {
    val v = {V_INT, 1, i, NULL, 0, 0};
    return v;
}
static val v_absent(int kind) {
    val v = {kind, 0, 0, NULL, 0, 0};
    return v;
}
static val v_str(promo_str s) {
    val v = {V_STR, s.p != NULL, 0, s.p, s.n, 0};
    return v;
}

static lview view_of(const wline *w) {
    lview v;
    v.sku = w->src->sku;
    v.cat = w->src->category;
    v.brand = w->src->brand;
    v.qty = w->src->qty;
    v.price = w->src->price;
    v.amount = w->amount;
    v.orig_amount = w->orig;
    v.excluded = w->src->excluded;
    v.price_from_amount = w->price_from_amount;
    return v;
}

/* Current unit price: the given price until the line is discounted, then
 * round_half_up(amount / qty). */
static int64_t cur_price(const lview *l) {
    if (l->amount == l->orig_amount && !l->price_from_amount) return l->price;
    return rhu((__int128)l->amount * 1000, l->qty);
}

static const char *const enum_names[] = {"pos",   "online", "cash", "card", "credit",
                                         "bonus", "mixed",  "mon",  "tue",  "wed",
                                         "thu",   "fri",    "sat",  "sun"};
static const int enum_values[] = {0, 1, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 5, 6};

static int enum_lookup(const char *name, int64_t *out) {
    for (size_t k = 0; k < sizeof enum_names / sizeof *enum_names; k++)
        if (strcmp(name, enum_names[k]) == 0) {
            *out = enum_values[k];
            return 1;
        }
    return 0;
}

static int is_enum_type(int ty) {
    return ty == TY_CHANNEL || ty == TY_PAYMENT || ty == TY_WEEKDAY;
}

/* A numeric literal in the representation of type `ty`. */
static int64_t lit_num(const ast_node *n, int ty) {
    int64_t m = n->ival;
    int sc = n->scale;
    if (ty == TY_MONEY) return sc <= 2 ? m * pow10i(2 - sc) : m / pow10i(sc - 2);
    if (ty == TY_DATE || ty == TY_TIME || ty == TY_WEEKDAY) return m;
    return sc <= 3 ? m * pow10i(3 - sc) : m / pow10i(sc - 3);
}

static int num_type(int ty) {
    return ty == TY_MONEY || ty == TY_NUMBER || ty == TY_PERCENT;
}

static const ast_node *find_set(const ref_eval *e, const char *name) {
    for (size_t k = 0; k < e->nsets; k++)
        if (strcmp(e->sets[k]->str, name) == 0) return e->sets[k];
    return NULL;
}

static val ev(rctx *x, const ast_node *n, int want);

static int truthy(val v) {
    return v.present && v.i != 0;
}

static const promo_kv *kv_find(const promo_kv *kv, uint32_t n, const char *key) {
    for (uint32_t k = 0; k < n; k++)
        if (str_eq(kv[k].key, key)) return &kv[k];
    return NULL;
}

/* Parses a decimal text ("25", "-3.5") into thousandths; 0 when not a number. */
static int parse_dec(const char *s, size_t n, int64_t *out) {
    size_t k = 0;
    int neg = 0;
    if (k < n && (s[k] == '-' || s[k] == '+')) neg = s[k++] == '-';
    if (k >= n) return 0;
    int64_t ip = 0, fp = 0;
    int digits = 0, fd = 0;
    while (k < n && s[k] >= '0' && s[k] <= '9') {
        ip = ip * 10 + (s[k++] - '0');
        digits++;
        if (ip > (int64_t)1e12) return 0;
    }
    if (k < n && s[k] == '.') {
        k++;
        while (k < n && s[k] >= '0' && s[k] <= '9') {
            if (fd < 3)
                fp = fp * 10 + (s[k] - '0');
            else if (s[k] != '0')
                return 0; /* more precision than we model */
            fd++;
            k++;
        }
        if (fd == 0) return 0;
    }
    if (k != n || digits == 0) return 0;
    while (fd < 3) {
        fp *= 10;
        fd++;
    }
    int64_t v = ip * 1000 + fp;
    *out = neg ? -v : v;
    return 1;
}

/* Comparison of two values; an absent operand makes every comparison false. */
static int cmp_vals(int op, val l, val r) {
    if (!l.present || !r.present) return 0;
    int c;
    if (l.kind == V_ATTR || r.kind == V_ATTR) {
        val a = l.kind == V_ATTR ? l : r, o = l.kind == V_ATTR ? r : l;
        int swap = l.kind != V_ATTR;
        if (o.kind == V_INT) {
            int64_t av;
            if (!parse_dec(a.s, a.n, &av)) return 0;
            c = av < o.i ? -1 : av > o.i;
        } else {
            size_t m = a.n < o.n ? a.n : o.n;
            c = memcmp(a.s, o.s, m);
            if (c == 0) c = a.n < o.n ? -1 : a.n > o.n;
            c = c < 0 ? -1 : c > 0;
        }
        if (swap) c = -c;
    } else if (l.kind == V_STR || r.kind == V_STR) {
        if (l.cat || r.cat) {
            val v = l.cat ? l : r, p = l.cat ? r : l;
            int m = cat_match(v.s, v.n, p.s, p.n);
            if (op == BIN_EQ) return m;
            if (op == BIN_NE) return !m;
            return 0;
        }
        size_t m = l.n < r.n ? l.n : r.n;
        c = memcmp(l.s, r.s, m);
        if (c == 0) c = l.n < r.n ? -1 : l.n > r.n;
        c = c < 0 ? -1 : c > 0;
    } else if (l.xden || r.xden) {
        __int128 ln = l.xden ? l.xnum : l.i, ld = l.xden ? l.xden : 1;
        __int128 rn = r.xden ? r.xnum : r.i, rd = r.xden ? r.xden : 1;
        c = ln * rd < rn * ld ? -1 : ln * rd > rn * ld;
    } else {
        c = l.i < r.i ? -1 : l.i > r.i;
    }
    switch (op) {
    case BIN_EQ: return c == 0;
    case BIN_NE: return c != 0;
    case BIN_LT: return c < 0;
    case BIN_LE: return c <= 0;
    case BIN_GT: return c > 0;
    case BIN_GE: return c >= 0;
    }
    return 0;
}

/* The type a literal operand should take next to `other`. */
static int lit_want(const ast_node *lit, const ast_node *other) {
    if (other && num_type(other->type)) return other->type;
    if (other && other->type == TY_ATTR) return TY_NUMBER;
    if (num_type(lit->type)) return lit->type;
    return TY_NUMBER;
}

static int is_num_lit(const ast_node *n) {
    return n && (n->kind == AST_NUM || n->kind == AST_PERCENT);
}

static val ev_binop(rctx *x, const ast_node *n) {
    int op = n->op;
    if (op == BIN_OR) {
        if (truthy(ev(x, n->a, 0))) return v_bool(1);
        return v_bool(truthy(ev(x, n->b, 0)));
    }
    if (op == BIN_AND) {
        if (!truthy(ev(x, n->a, 0))) return v_bool(0);
        return v_bool(truthy(ev(x, n->b, 0)));
    }
    int wa = is_num_lit(n->a) ? lit_want(n->a, n->b) : 0;
    int wb = is_num_lit(n->b) ? lit_want(n->b, n->a) : 0;
    if (op == BIN_MUL) { /* a factor is a number (money * money does not exist) */
        if (is_num_lit(n->a)) wa = num_type(n->a->type) ? n->a->type : TY_NUMBER;
        if (is_num_lit(n->b)) wb = num_type(n->b->type) ? n->b->type : TY_NUMBER;
    }
    if (op == BIN_IN || op == BIN_NOT_IN) {
        val l = ev(x, n->a, wa);
        if (!l.present) return v_bool(0);
        const ast_node *items = n->b && n->b->kind == AST_LIST ? n->b->a : n->b;
        int any = 0;
        for (const ast_node *it = items; it && !any; it = it->next) {
            int w = is_num_lit(it) ? lit_want(it, n->a) : 0;
            any = cmp_vals(BIN_EQ, l, ev(x, it, w));
        }
        return v_bool(op == BIN_IN ? any : !any);
    }
    val l = ev(x, n->a, wa), r = ev(x, n->b, wb);
    if (op == BIN_ADD || op == BIN_SUB || op == BIN_MUL) {
        if (!l.present || !r.present) return v_absent(V_INT);
        if (op == BIN_ADD) return v_int(l.i + r.i);
        if (op == BIN_SUB) return v_int(l.i - r.i);
        /* Money/number times number: numbers are thousandths. */
        int ta = is_num_lit(n->a) ? wa : n->a->type;
        int tb = is_num_lit(n->b) ? wb : n->b->type;
        if (ta == TY_NUMBER || tb == TY_NUMBER || ta == TY_UNTYPED || tb == TY_UNTYPED)
            return v_int(rhu((__int128)l.i * r.i, 1000));
        return v_int(rhu((__int128)l.i * r.i, 100000));
    }
    return v_bool(cmp_vals(op, l, r));
}

static int leap(int32_t y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int birthday_within(int32_t bday, int32_t date, int64_t ndays) {
    int32_t by, ry;
    unsigned bm, bd, rm, rd;
    civil_from_days(bday, &by, &bm, &bd);
    civil_from_days(date, &ry, &rm, &rd);
    for (int32_t y = ry - 1; y <= ry + 1; y++) {
        unsigned d = bd;
        if (bm == 2 && bd == 29 && !leap(y)) d = 28;
        int64_t diff = (int64_t)civil_days(y, bm, d) - date;
        if (diff < 0) diff = -diff;
        if (diff <= ndays) return 1;
    }
    return 0;
}

static int pred_line(rctx *x, const ast_node *pred, const lview *l) {
    if (!pred) return 1;
    const lview *save = x->line;
    x->line = l;
    int t = truthy(ev(x, pred, 0));
    x->line = save;
    return t;
}

static val ev_fact(rctx *x, const ast_node *n) {
    const promo_receipt *r = x->r;
    const promo_customer *cu = r->customer;
    const lview *l = x->line;
    switch (n->op) {
    case FACT_TOTAL:
    case FACT_ORIGINAL_TOTAL: {
        int64_t s = 0;
        for (uint32_t k = 0; k < x->n; k++)
            s += n->op == FACT_TOTAL ? x->lines[k].amount : x->lines[k].orig;
        return v_int(s);
    }
    case FACT_STORE: return v_str(r->store);
    case FACT_REGION: return v_str(r->region);
    case FACT_CHANNEL: return v_int(r->channel);
    case FACT_PAYMENT: return v_int(r->payment);
    case FACT_CODE:
        for (uint32_t k = 0; k < r->ncodes; k++)
            if (str_eq(r->codes[k], n->str)) return v_bool(1);
        return v_bool(0);
    case FACT_TIME: return v_int(r->time);
    case FACT_DATE: return v_int(r->date);
    case FACT_WEEKDAY: return v_int(civil_weekday(r->date));
    case FACT_ATTR:
    case FACT_CUSTOMER_ATTR: {
        const promo_kv *kv = NULL;
        if (n->op == FACT_ATTR)
            kv = kv_find(r->attrs, r->nattrs, n->str);
        else if (cu)
            kv = kv_find(cu->attrs, cu->nattrs, n->str);
        if (!kv || !kv->value.p) return v_absent(V_ATTR);
        val v = {V_ATTR, 1, 0, kv->value.p, kv->value.n, 0};
        return v;
    }
    case FACT_SEGMENT:
        if (!cu) return v_bool(0);
        for (uint32_t k = 0; k < cu->nsegments; k++)
            if (str_eq(cu->segments[k], n->str)) return v_bool(1);
        return v_bool(0);
    case FACT_CARD: return cu ? v_str(cu->card) : v_absent(V_STR);
    case FACT_CARD_IS: return v_bool(cu && str_eq(cu->card, n->str));
    case FACT_TIER: return cu ? v_str(cu->tier) : v_absent(V_STR);
    case FACT_BIRTHDAY_WITHIN:
        return v_bool(cu && cu->has_birthday && birthday_within(cu->birthday, r->date, n->ival));
    case FACT_REGISTERED:
        if (!cu) return v_bool(0);
        if (cu->registered >= 0) return v_bool(cu->registered);
        return v_bool(cu->id.p != NULL && cu->id.n > 0);
    case FACT_CUSTOMER_ID: return cu ? v_str(cu->id) : v_absent(V_STR);
    case FACT_SKU: return v_str(l->sku);
    case FACT_BRAND: return v_str(l->brand);
    case FACT_CATEGORY: {
        val v = v_str(l->cat);
        v.cat = 1;
        return v;
    }
    case FACT_QTY: return v_int(l->qty);
    case FACT_PRICE: {
        val v = v_int(cur_price(l));
        v.xnum = l->price;
        v.xden = 1;
        if (l->amount != l->orig_amount || l->price_from_amount) {
            v.xnum = (__int128)l->amount * 1000; /* amount / qty, qty in thousandths */
            v.xden = l->qty;
        }
        return v;
    }
    case FACT_ORIGINAL_PRICE: return v_int(l->price);
    case FACT_AMOUNT: return v_int(l->amount);
    case FACT_EXCLUDED: return v_bool(l->excluded);
    case FACT_SKU_IS: return v_bool(str_eq(l->sku, n->str));
    case FACT_BRAND_IS: return v_bool(str_eq(l->brand, n->str));
    case FACT_CATEGORY_IS:
        return v_bool(l->cat.p && cat_match(l->cat.p, l->cat.n, n->str, strlen(n->str)));
    }
    fprintf(stderr, "refeval: unknown fact %d\n", n->op);
    abort();
}

static val ev_agg(rctx *x, const ast_node *n) {
    int64_t sum = 0, cnt = 0;
    int any = 0;
    size_t ndist = 0;
    promo_str seen[64];
    for (uint32_t k = 0; k < x->n; k++) {
        lview l = view_of(&x->lines[k]);
        if (!pred_line(x, n->a, &l)) continue;
        any = 1;
        sum += l.amount;
        cnt += l.qty;
        int dup = 0;
        for (size_t s = 0; s < ndist; s++)
            dup |= pstr_eq(seen[s], l.sku);
        if (!dup && ndist < 64) seen[ndist++] = l.sku;
    }
    switch (n->op) {
    case AGG_OP_SUM: return v_int(sum);
    case AGG_OP_COUNT: return v_int(cnt);
    case AGG_OP_ANY: return v_bool(any);
    default: return v_int((int64_t)ndist * 1000);
    }
}

static val ev_hist(rctx *x, const ast_node *n) {
    const promo_customer *cu = x->r->customer;
    int has_id = cu && cu->id.p && cu->id.n > 0;
    int64_t ndays = n->b ? n->b->ival : 0;
    if (n->op == HIST_OP_VISITS && n->a && n->a->kind == AST_DURATION) ndays = n->a->ival;
    int32_t from = x->r->date - (int32_t)ndays + 1, to = x->r->date;
    int64_t sum = 0, cnt = 0, visits = 1;
    const ast_node *pred = n->op == HIST_OP_VISITS ? NULL : n->a;
    /* The current receipt, as it stands. */
    for (uint32_t k = 0; k < x->n; k++) {
        lview l = view_of(&x->lines[k]);
        if (n->op != HIST_OP_VISITS && !pred_line(x, pred, &l)) continue;
        sum += l.amount;
        cnt += l.qty;
    }
    if (has_id) {
        for (size_t h = 0; h < x->e->nhist; h++) {
            const hrec *hr = &x->e->hist[h];
            if (strlen(hr->cust) != cu->id.n || memcmp(hr->cust, cu->id.p, cu->id.n) != 0) continue;
            if (hr->date < from || hr->date > to) continue;
            visits++;
            for (uint32_t k = 0; k < hr->nlines; k++) {
                if (n->op != HIST_OP_VISITS && !pred_line(x, pred, &hr->lines[k])) continue;
                sum += hr->lines[k].amount;
                cnt += hr->lines[k].qty;
            }
        }
    }
    if (n->op == HIST_OP_SUM) return v_int(sum);
    if (n->op == HIST_OP_COUNT) return v_int(cnt);
    return v_int(visits * 1000);
}

static val ev(rctx *x, const ast_node *n, int want) {
    switch (n->kind) {
    case AST_NUM:
        if (n->type == TY_STRING) { /* a store id written as a number: `store == 101` */
            static char ring[8][32];
            static unsigned next;
            char *buf = ring[next++ % 8];
            snprintf(buf, sizeof ring[0], "%lld", (long long)n->ival);
            return v_str(mk_pstr(buf));
        }
        return v_int(lit_num(n, want ? want : n->type));
    case AST_PERCENT: return v_int(lit_num(n, want ? want : n->type));
    case AST_STRING:
        if (is_enum_type(n->type)) {
            int64_t v;
            if (enum_lookup(n->str, &v)) return v_int(v);
        }
        return v_str(mk_pstr(n->str));
    case AST_DATE:
    case AST_TIME:
    case AST_DURATION: return v_int(n->ival);
    case AST_IDENT: {
        const ast_node *set = find_set(x->e, n->str);
        if (set) return v_bool(truthy(ev(x, set->a, 0)));
        int64_t v;
        if (enum_lookup(n->str, &v)) return v_int(v);
        fprintf(stderr, "refeval: unresolved name %s\n", n->str);
        abort();
    }
    case AST_BINOP: return ev_binop(x, n);
    case AST_UNOP: {
        val v = ev(x, n->a, want);
        if (n->op == UN_NOT) return v_bool(!truthy(v));
        if (v.present) v.i = -v.i;
        return v;
    }
    case AST_FACT: return ev_fact(x, n);
    case AST_AGG: return ev_agg(x, n);
    case AST_HIST: return ev_hist(x, n);
    }
    fprintf(stderr, "refeval: cannot evaluate node kind %d\n", n->kind);
    abort();
}

/* ------------------------------------------------------ compatibility ---- */

static int accepts(const rcamp *c, const char *group) {
    if (c->combine == COMBINE_ANY) return 1;
    if (c->combine == COMBINE_NONE) return 0;
    for (int k = 0; k < c->naccept; k++)
        if (strcmp(c->accept[k], group) == 0) return 1;
    return 0;
}

static int compatible(const ref_eval *e, size_t a, size_t b) {
    if (a == b) return 1;
    return accepts(&e->c[a], e->c[b].group) && accepts(&e->c[b], e->c[a].group);
}

/* ------------------------------------------------------------ spreads ---- */

/* Spreads d over weights w[0..n) in proportion (floor, then largest remainder, ties to
 * the earlier item). Requires d <= sum(w) or sum(w) == 0 (then nothing is given). */
static void spread128(int64_t d, const __int128 *w, size_t n, int64_t *out);

static void spread(int64_t d, const int64_t *w, size_t n, int64_t *out) {
    __int128 *w2 = ref_xalloc(n * sizeof *w2);
    for (size_t k = 0; k < n; k++)
        w2[k] = w[k];
    spread128(d, w2, n, out);
    free(w2);
}

/* Largest remainder over weights w (ties to the earlier item). */
static void spread128(int64_t d, const __int128 *w, size_t n, int64_t *out) {
    __int128 a = 0;
    for (size_t k = 0; k < n; k++)
        a += w[k];
    for (size_t k = 0; k < n; k++)
        out[k] = 0;
    if (a == 0 || d <= 0) return;
    int64_t given = 0;
    __int128 *rem = ref_xalloc(n * sizeof *rem);
    char *used = ref_xalloc(n);
    for (size_t k = 0; k < n; k++) {
        out[k] = (int64_t)((__int128)d * w[k] / a);
        rem[k] = (__int128)d * w[k] % a;
        given += out[k];
    }
    for (int64_t left = d - given; left > 0; left--) {
        size_t best = n;
        for (size_t k = 0; k < n; k++)
            if (!used[k] && (best == n || rem[k] > rem[best])) best = k;
        if (best == n) break;
        used[best] = 1;
        out[best]++;
    }
    free(rem);
    free(used);
}

/* ------------------------------------------------------------- limits ---- */

static int32_t period_bucket(int period, int32_t date) {
    switch (period) {
    case PERIOD_DAY: return date;
    case PERIOD_WEEK: return date - (int32_t)civil_weekday(date);
    case PERIOD_MONTH: {
        int32_t y;
        unsigned m, d;
        civil_from_days(date, &y, &m, &d);
        return civil_days(y, m, 1);
    }
    }
    return 0;
}

static int64_t lim_count(const ref_eval *e, promo_str cust, const char *camp, int32_t b) {
    for (size_t k = 0; k < e->nlim; k++) {
        const lim_entry *l = &e->lim[k];
        if (strcmp(l->camp, camp) == 0 && l->bucket == b && strlen(l->cust) == cust.n &&
            memcmp(l->cust, cust.p, cust.n) == 0)
            return l->count;
    }
    return 0;
}

static void lim_add(ref_eval *e, promo_str cust, const char *camp, int32_t b) {
    for (size_t k = 0; k < e->nlim; k++) {
        lim_entry *l = &e->lim[k];
        if (strcmp(l->camp, camp) == 0 && l->bucket == b && strlen(l->cust) == cust.n &&
            memcmp(l->cust, cust.p, cust.n) == 0) {
            l->count++;
            return;
        }
    }
    lim_entry ne = {dup_pstr(cust), dup_pstr(mk_pstr(camp)), b, 1};
    REF_PUSH(e->lim, e->nlim, e->caplim, ne);
}

static int64_t *bud_slot(ref_eval *e, const char *camp) {
    for (size_t k = 0; k < e->nbud; k++)
        if (strcmp(e->bud[k].camp, camp) == 0) return &e->bud[k].spent;
    bud_entry b = {dup_pstr(mk_pstr(camp)), 0};
    REF_PUSH(e->bud, e->nbud, e->capbud, b);
    return &e->bud[e->nbud - 1].spent;
}

/* ---------------------------------------------------------- prefilter ---- */

static int days_ok(const rcamp *c, unsigned wd) {
    if (!c->days) return 1;
    for (const ast_node *d = c->days->a; d; d = d->next) {
        int64_t a = d->ival, b = d->ival2;
        if (a <= b ? (wd >= a && wd <= b) : (wd >= a || wd <= b)) return 1;
    }
    return 0;
}

static int prefilter(const rcamp *c, const promo_receipt *r) {
    if (c->active && (r->date < c->active->a->ival || r->date > c->active->b->ival)) return 0;
    unsigned wd = civil_weekday(r->date), wdprev = civil_weekday(r->date - 1);
    if (c->hours) {
        int ok = 0;
        for (const ast_node *h = c->hours->a; h && !ok; h = h->next) {
            int64_t from = h->a->ival, to = h->b->ival;
            if (from < to)
                ok = r->time >= from && r->time < to && days_ok(c, wd);
            else
                ok = (r->time >= from && days_ok(c, wd)) || (r->time < to && days_ok(c, wdprev));
        }
        if (!ok) return 0;
    } else if (!days_ok(c, wd)) {
        return 0;
    }
    if (c->stores) {
        int ok = 0;
        for (const ast_node *s = c->stores->a; s && !ok; s = s->next) {
            if (s->kind == AST_REGION)
                ok = str_eq(r->region, s->str);
            else if (s->kind == AST_STRING)
                ok = str_eq(r->store, s->str);
            else {
                char buf[32];
                snprintf(buf, sizeof buf, "%lld", (long long)s->ival);
                ok = str_eq(r->store, buf);
            }
        }
        if (!ok) return 0;
    }
    if (c->channel) {
        int ok = 0;
        for (const ast_node *s = c->channel->a; s && !ok; s = s->next) {
            int64_t v;
            if (enum_lookup(s->str, &v)) ok = v == r->channel;
        }
        if (!ok) return 0;
    }
    const promo_customer *cu = r->customer;
    if (c->card) {
        int ok = 0;
        for (const ast_node *s = c->card->a; s && !ok; s = s->next)
            ok = cu && str_eq(cu->card, s->str);
        if (!ok) return 0;
    }
    if (c->segment) {
        int ok = 0;
        for (const ast_node *s = c->segment->a; s && !ok; s = s->next)
            for (uint32_t k = 0; cu && k < cu->nsegments && !ok; k++)
                ok = str_eq(cu->segments[k], s->str);
        if (!ok) return 0;
    }
    if (c->code) {
        int ok = 0;
        for (const ast_node *s = c->code->a; s && !ok; s = s->next)
            for (uint32_t k = 0; k < r->ncodes && !ok; k++)
                ok = str_eq(r->codes[k], s->str);
        if (!ok) return 0;
    }
    return 1;
}

/* ------------------------------------------------------------ rewards ---- */

/* Per-receipt state of the stacking. */
typedef struct rstate {
    rctx x;
    size_t nc;
    char *acted;   /* [line * nc + campaign] */
    int64_t *by;   /* [line * nc + campaign] */
    char *applied; /* [campaign] */
    char *policy;  /* [campaign]: applied with spend_limit only */
    size_t *order; /* evaluation order of campaigns that applied */
    size_t norder;
    ref_points *pts;
    size_t npts, cappts;
    ref_text *cps, *msgs;
    size_t ncps, capcps, nmsgs, capmsgs;
    int has_limit;
    int64_t limit;
    const char *blocked_by; /* of the last campaign evaluated, when BLOCKED */
    /* state to commit */
    int64_t *budget_add; /* [campaign] */
} rstate;

/* The literal child of a reward node of the given kind (percent or number). */
static const ast_node *rw_lit(const ast_node *rw, int kind) {
    if (rw->a && rw->a->kind == kind) return rw->a;
    if (rw->b && rw->b->kind == kind) return rw->b;
    return NULL;
}

static int rw_receipt_level(const ast_node *rw) {
    switch (rw->op) {
    case REWARD_DISCOUNT_PCT:
    case REWARD_DISCOUNT_AMOUNT: return rw->c && rw->c->op == TARGET_RECEIPT;
    case REWARD_POINTS_PCT: return !rw->c || rw->c->op == TARGET_RECEIPT;
    case REWARD_POINTS_FIXED:
    case REWARD_COUPON:
    case REWARD_MESSAGE: return 1;
    }
    return 0;
}

/* The first campaign (in evaluation order) that blocks a receipt-level reward of ci, or
 * -1. */
static long receipt_blocker(const rstate *s, size_t ci) {
    for (size_t o = 0; o < s->norder; o++) {
        size_t k = s->order[o];
        if (s->applied[k] && !s->policy[k] && !compatible(s->x.e, ci, k)) return (long)k;
    }
    return -1;
}

/* The first campaign (in evaluation order) that acted on line i and is incompatible
 * with ci, or -1. */
static long line_blocker(const rstate *s, size_t ci, uint32_t i) {
    for (size_t o = 0; o < s->norder; o++) {
        size_t k = s->order[o];
        if (s->acted[i * s->nc + k] && !compatible(s->x.e, ci, k)) return (long)k;
    }
    return -1;
}

/* Tentative effects of one campaign on one receipt. */
typedef struct ceff {
    int64_t *amount; /* current amounts while the campaign's rewards run */
    int64_t *d;      /* this campaign's discount per line */
    int64_t *rpl;    /* [reward * n + line]: points of paid of each reward by line */
    int64_t *rfx;    /* [reward]: fixed points of each reward */
    int *rq;         /* [reward]: its points entry, or -1 */
    char erl[16];    /* entry comes from a receipt-level points reward */
    char *rrl;       /* [reward]: receipt-level discount reward */
    size_t ri;       /* the reward running */
    int all_lines;   /* a coupon or message was given: acts on every line */
    ref_points pts[16];
    int npts;
    const char *cps[16], *msgs[16];
    int ncps, nmsgs;
    int has_limit;
    int64_t limit;
    uint32_t *lord; /* the running reward's line order for a partial budget (alt F5) */
    long blocker;   /* first campaign that blocked one of the rewards, or -1 */
} ceff;

/* Lines a line-level reward of campaign ci may act on. */
static void targets(rstate *s, ceff *f, size_t ci, const ast_node *target, char *out) {
    const ast_node *pred = target && target->op == TARGET_LINES ? target->a : NULL;
    for (uint32_t i = 0; i < s->x.n; i++) {
        out[i] = 0;
        if (s->x.lines[i].src->excluded) continue;
        lview l = view_of(&s->x.lines[i]);
        l.amount = f->amount[i];
        if (!pred_line(&s->x, pred, &l)) continue;
        long b = line_blocker(s, ci, i);
        if (b >= 0) {
            if (f->blocker < 0) f->blocker = b; /* for --explain */
            continue;
        }
        out[i] = 1;
    }
}

static void give(ceff *f, uint32_t i, int64_t x) {
    if (x > f->amount[i]) x = f->amount[i];
    if (x <= 0) return;
    f->amount[i] -= x;
    f->d[i] += x;
}

typedef struct unit {
    uint32_t line;
    int64_t amount, qty; /* of the line, for exact price comparison */
} unit;

static int unit_before(const unit *a, const unit *b) {
    __int128 l = (__int128)a->amount * b->qty, r = (__int128)b->amount * a->qty;
    if (l != r) return l > r;
    return a->line < b->line;
}

/* Whole units of the target lines, sorted by current unit price descending. */
static unit *units_of(rstate *s, ceff *f, const char *tg, size_t *nu) {
    size_t n = 0, cap = 0;
    unit *u = NULL;
    for (uint32_t i = 0; i < s->x.n; i++) {
        if (!tg[i]) continue;
        int64_t whole = s->x.lines[i].src->qty / 1000;
        for (int64_t k = 0; k < whole; k++) {
            unit one = {i, f->amount[i], s->x.lines[i].src->qty};
            REF_PUSH(u, n, cap, one);
        }
    }
    /* insertion sort: stable and obviously correct */
    for (size_t a = 1; a < n; a++) {
        unit t = u[a];
        size_t b = a;
        while (b > 0 && unit_before(&t, &u[b - 1])) {
            u[b] = u[b - 1];
            b--;
        }
        u[b] = t;
    }
    *nu = n;
    return u;
}

/* One points entry per points reward given (docs/io.md). Alternative reading F9: rewards
 * of one campaign with the same dates add up into one entry. */
static int add_points(const ref_eval *e0, ceff *f, ref_points e) {
    for (int k = 0; (e0->alt & REF_ALT_MERGE_POINTS) && k < f->npts; k++)
        if (f->pts[k].activate == e.activate && f->pts[k].expire == e.expire) {
            f->pts[k].points += e.points;
            return k;
        }
    if (f->npts >= 16) abort();
    f->pts[f->npts] = e;
    return f->npts++;
}

static void run_reward(rstate *s, ceff *f, size_t ci, const ast_node *rw) {
    const rcamp *c = &s->x.e->c[ci];
    uint32_t n = s->x.n;
    char *tg = ref_xalloc(n + 1);
    int rl = rw_receipt_level(rw);
    if (rl) {
        long b = receipt_blocker(s, ci);
        if (b >= 0) {
            if (f->blocker < 0) f->blocker = b;
            free(tg);
            return;
        }
        for (uint32_t i = 0; i < n; i++)
            tg[i] = !s->x.lines[i].src->excluded;
    } else if (rw->op != REWARD_SPEND_LIMIT) {
        targets(s, f, ci, rw->c, tg);
    }
    const promo_receipt *r = s->x.r;
    switch (rw->op) {
    case REWARD_DISCOUNT_PCT: {
        int64_t p = lit_num(rw_lit(rw, AST_PERCENT), TY_PERCENT);
        if (!rl) {
            for (uint32_t i = 0; i < n; i++)
                if (tg[i]) give(f, i, rhu((__int128)f->amount[i] * p, 100000));
            break;
        }
        /* `on receipt`: one amount, P% of the lines' sum, spread like `discount X` */
        int64_t a = 0;
        int64_t *w = ref_xalloc(n * sizeof *w), *sh = ref_xalloc(n * sizeof *sh);
        for (uint32_t i = 0; i < n; i++) {
            w[i] = tg[i] ? f->amount[i] : 0;
            a += w[i];
        }
        spread(rhu((__int128)a * p, 100000), w, n, sh);
        for (uint32_t i = 0; i < n; i++)
            give(f, i, sh[i]);
        f->rrl[f->ri] = 1;
        free(w);
        free(sh);
        break;
    }
    case REWARD_DISCOUNT_EACH: {
        int64_t x = lit_num(rw_lit(rw, AST_NUM), TY_MONEY);
        int64_t left = c->limit_receipt ? c->limit_receipt * 1000 : INT64_MAX;
        for (uint32_t i = 0; i < n; i++) {
            if (!tg[i]) continue;
            int64_t units = s->x.lines[i].src->qty;
            if (units > left) units = left;
            left -= units;
            give(f, i, rhu((__int128)units * x, 1000));
        }
        break;
    }
    case REWARD_DISCOUNT_AMOUNT: {
        int64_t x = lit_num(rw_lit(rw, AST_NUM), TY_MONEY), a = 0;
        int64_t *w = ref_xalloc(n * sizeof *w), *sh = ref_xalloc(n * sizeof *sh);
        for (uint32_t i = 0; i < n; i++) {
            w[i] = tg[i] ? f->amount[i] : 0;
            a += w[i];
        }
        spread(x < a ? x : a, w, n, sh);
        int64_t gave = 0;
        for (uint32_t i = 0; i < n; i++) {
            give(f, i, sh[i]);
            gave += sh[i];
        }
        if (rl) f->rrl[f->ri] = 1;
        free(w);
        free(sh);
        break;
    }
    case REWARD_PRICE: {
        int64_t x = lit_num(rw_lit(rw, AST_NUM), TY_MONEY);
        for (uint32_t i = 0; i < n; i++) {
            if (!tg[i]) continue;
            int64_t promo = rhu((__int128)s->x.lines[i].src->qty * x, 1000);
            if (f->amount[i] > promo) give(f, i, f->amount[i] - promo);
        }
        break;
    }
    case REWARD_BUY_FREE:
    case REWARD_BUY_PCT:
    case REWARD_BUNDLE: {
        size_t nu;
        unit *u = units_of(s, f, tg, &nu);
        if (s->x.e->alt & REF_ALT_UNIT_ORDER) { /* F5: lines by first unit, then the rest */
            uint32_t k2 = 0;
            char *seen = ref_xalloc(n + 1);
            for (size_t j = 0; j < nu; j++)
                if (!seen[u[j].line]) {
                    seen[u[j].line] = 1;
                    f->lord[k2++] = u[j].line;
                }
            for (uint32_t i = 0; i < n; i++)
                if (!seen[i]) f->lord[k2++] = i;
            free(seen);
        }
        int64_t gsize = rw->op == REWARD_BUNDLE ? rw->ival : rw->ival + rw->ival2;
        int64_t ngroups = gsize > 0 ? (int64_t)nu / gsize : 0;
        if (c->limit_receipt && ngroups > c->limit_receipt) ngroups = c->limit_receipt;
        int64_t *k = ref_xalloc(n * sizeof *k);
        int64_t *share = ref_xalloc(n * sizeof *share);
        if (rw->op == REWARD_BUNDLE) {
            int64_t x = lit_num(rw_lit(rw, AST_NUM), TY_MONEY);
            __int128 *pr = ref_xalloc((size_t)gsize * sizeof *pr);
            int64_t *sh = ref_xalloc((size_t)gsize * sizeof *sh);
            for (int64_t g = 0; g < ngroups; g++) {
                /* exact unit prices amount * 1000 / qty over one common denominator */
                __int128 den = 1, sum = 0;
                for (int64_t j = 0; j < gsize; j++) {
                    __int128 q = u[g * gsize + j].qty, a = den, b = q;
                    while (b) {
                        __int128 t = a % b;
                        a = b;
                        b = t;
                    }
                    den = den / a * q;
                }
                for (int64_t j = 0; j < gsize; j++) {
                    const unit *un = &u[g * gsize + j];
                    pr[j] = (__int128)un->amount * 1000 * (den / un->qty);
                    sum += pr[j];
                }
                int64_t dg = sum > (__int128)x * den ? rhu(sum - (__int128)x * den, den) : 0;
                spread128(dg, pr, (size_t)gsize, sh);
                for (int64_t j = 0; j < gsize; j++)
                    share[u[g * gsize + j].line] += sh[j];
            }
            free(pr);
            free(sh);
            for (uint32_t i = 0; i < n; i++)
                give(f, i, share[i]);
        } else {
            for (int64_t g = 0; g < ngroups; g++)
                for (int64_t j = rw->ival; j < gsize; j++)
                    k[u[g * gsize + j].line]++;
            int64_t p =
                rw->op == REWARD_BUY_PCT ? lit_num(rw_lit(rw, AST_PERCENT), TY_PERCENT) : 100000;
            for (uint32_t i = 0; i < n; i++) {
                if (!k[i]) continue;
                __int128 num = (__int128)f->amount[i] * k[i] * 1000 * p;
                give(f, i, rhu(num, (__int128)s->x.lines[i].src->qty * 100000));
            }
        }
        free(k);
        free(share);
        free(u);
        break;
    }
    case REWARD_POINTS_PCT: {
        int64_t p = lit_num(rw_lit(rw, AST_PERCENT), TY_PERCENT), a = 0;
        int64_t *w = ref_xalloc(n * sizeof *w), *sh = ref_xalloc(n * sizeof *sh);
        for (uint32_t i = 0; i < n; i++) {
            w[i] = s->x.lines[i].src->excluded ? 0 : f->amount[i];
            a += w[i];
        }
        spread(r->points_paid < a ? r->points_paid : a, w, n, sh);
        int64_t total = 0;
        for (uint32_t i = 0; i < n; i++) {
            w[i] = 0;
            if (!tg[i]) continue;
            w[i] = rhu((__int128)(f->amount[i] - sh[i]) * p, 100000);
            total += w[i];
        }
        if (total > 0) {
            ref_points e = {c->id, total, r->date + (rw->d1 >= 0 ? rw->d1 : 0), INT32_MIN};
            if (rw->d2 >= 0) e.expire = e.activate + rw->d2;
            int q = add_points(s->x.e, f, e);
            for (uint32_t i = 0; i < n; i++)
                f->rpl[f->ri * n + i] = w[i];
            f->rq[f->ri] = q;
            if (rl) f->erl[q] = 1;
        }
        free(w);
        free(sh);
        break;
    }
    case REWARD_POINTS_FIXED: {
        int64_t v = lit_num(rw_lit(rw, AST_NUM), TY_MONEY);
        if (v <= 0) break;
        ref_points e = {c->id, v, r->date + (rw->d1 >= 0 ? rw->d1 : 0), INT32_MIN};
        if (rw->d2 >= 0) e.expire = e.activate + rw->d2;
        int q = add_points(s->x.e, f, e);
        f->erl[q] = 1;
        f->rq[f->ri] = q;
        f->rfx[f->ri] = v;
        break;
    }
    case REWARD_COUPON:
        f->all_lines = 1;
        if (f->ncps < 16) f->cps[f->ncps++] = rw->str;
        break;
    case REWARD_MESSAGE:
        f->all_lines = 1;
        if (f->nmsgs < 16) f->msgs[f->nmsgs++] = rw->str;
        break;
    case REWARD_SPEND_LIMIT: {
        if (s->has_limit || f->has_limit) break;
        for (const ast_node *st = rw->a; st; st = st->next) {
            if (st->b) {
                /* step conditions see the receipt as the campaign left it so far */
                int64_t *save = ref_xalloc(n * sizeof *save);
                for (uint32_t i = 0; i < n; i++) {
                    save[i] = s->x.lines[i].amount;
                    s->x.lines[i].amount = f->amount[i];
                }
                int t = truthy(ev(&s->x, st->b, 0));
                for (uint32_t i = 0; i < n; i++)
                    s->x.lines[i].amount = save[i];
                free(save);
                if (!t) continue;
            }
            int64_t base = 0;
            for (uint32_t i = 0; i < n; i++)
                if (!s->x.lines[i].src->excluded) base += f->amount[i];
            f->has_limit = 1;
            f->limit = rhu((__int128)base * lit_num(st->a, TY_PERCENT), 100000);
            break;
        }
        break;
    }
    }
    free(tg);
}

/* Evaluates campaign ci on the receipt; returns its PROMO_OUT_* outcome: BLOCKED when
 * it gave nothing and a compatibility rule kept one of its rewards from a line or the
 * receipt (s->blocked_by names the first such campaign in evaluation order). */
static int eval_campaign(rstate *s, size_t ci) {
    ref_eval *e = s->x.e;
    const rcamp *c = &e->c[ci];
    const promo_receipt *r = s->x.r;
    uint32_t n = s->x.n;
    /* the condition first, then the limit: a false condition is the better explanation */
    if (!prefilter(c, r)) return PROMO_OUT_NOT_APPLICABLE;
    for (int k = 0; k < c->nwhen; k++)
        if (!truthy(ev(&s->x, c->when[k], 0))) return PROMO_OUT_NOT_APPLICABLE;
    if (c->limit_customer) {
        const promo_customer *cu = r->customer;
        if (!cu || !cu->id.p || cu->id.n == 0) return PROMO_OUT_NO_CUSTOMER;
        if (lim_count(e, cu->id, c->id, period_bucket(c->period, r->date)) >= c->limit_customer)
            return PROMO_OUT_LIMIT;
    }

    ceff f;
    memset(&f, 0, sizeof f);
    f.blocker = -1;
    f.amount = ref_xalloc((n + 1) * sizeof *f.amount);
    f.d = ref_xalloc((n + 1) * sizeof *f.d);

    for (uint32_t i = 0; i < n; i++)
        f.amount[i] = s->x.lines[i].amount;
    /* Rewards see the amounts left by the previous ones: predicates read f.amount
     * through a temporary view of the lines. */
    size_t nrw = 0;
    for (const ast_node *rw = c->rewards; rw; rw = rw->next)
        nrw++;
    f.rrl = ref_xalloc(nrw + 1);
    f.rpl = ref_xalloc((nrw * n + 1) * sizeof *f.rpl);
    f.rfx = ref_xalloc((nrw + 1) * sizeof *f.rfx);
    f.rq = ref_xalloc((nrw + 1) * sizeof *f.rq);
    for (size_t r2 = 0; r2 < nrw; r2++)
        f.rq[r2] = -1;
    /* per reward: its discount on each line and its points entry (partial budgets) */
    int64_t *rd = ref_xalloc((nrw * n + 1) * sizeof *rd);
    uint32_t *lord = ref_xalloc((nrw * n + 1) * sizeof *lord);
    size_t ri = 0;
    for (const ast_node *rw = c->rewards; rw; rw = rw->next, ri++) {
        for (uint32_t i = 0; i < n; i++)
            rd[ri * n + i] = f.d[i];
        for (uint32_t i = 0; i < n; i++)
            lord[ri * n + i] = i;
        f.lord = lord + ri * n;
        f.ri = ri;
        int64_t *save = ref_xalloc((n + 1) * sizeof *save);
        for (uint32_t i = 0; i < n; i++) {
            save[i] = s->x.lines[i].amount;
            s->x.lines[i].amount = f.amount[i];
        }
        run_reward(s, &f, ci, rw);
        for (uint32_t i = 0; i < n; i++)
            s->x.lines[i].amount = save[i];
        free(save);
        for (uint32_t i = 0; i < n; i++)
            rd[ri * n + i] = f.d[i] - rd[ri * n + i];
    }

    int64_t total = 0;
    for (uint32_t i = 0; i < n; i++)
        total += f.d[i];
    for (int k = 0; k < f.npts; k++)
        total += f.pts[k].points;
    int gives = total > 0 || f.ncps || f.nmsgs || f.has_limit;
    int outcome = PROMO_OUT_NOTHING;
    if (!gives) {
        if (f.blocker >= 0) {
            outcome = PROMO_OUT_BLOCKED;
            s->blocked_by = e->c[f.blocker].id;
        }
        goto done;
    }

    /* The grant: everything, or under a partial budget the remaining amount spread in
     * proportion over one item per (reward, line) discount, rewards in the order written
     * and lines in line order, then the points entries; largest remainder, ties to the
     * earlier item (G2 in docs/dev/diff-findings.md). */
    int64_t grant = total;
    int64_t *sd = ref_xalloc((nrw * n + 1) * sizeof *sd); /* granted (reward, line) */
    int64_t np[16];                                       /* granted points entries */
    memcpy(sd, rd, nrw * n * sizeof *sd);
    for (int q = 0; q < f.npts; q++)
        np[q] = f.pts[q].points;
    if (c->budget >= 0 && total > 0) {
        int64_t rem = c->budget - *bud_slot(e, c->id);
        if (total > rem) {
            if (!c->partial || rem <= 0) {
                outcome = PROMO_OUT_BUDGET;
                free(sd);
                goto done;
            }
            size_t k = 0;
            int64_t *w = ref_xalloc((nrw * n + 17) * sizeof *w);
            int64_t *o = ref_xalloc((nrw * n + 17) * sizeof *o);
            for (size_t r2 = 0; r2 < nrw; r2++)
                for (uint32_t j = 0; j < n; j++)
                    w[k++] = rd[r2 * n + lord[r2 * n + j]];
            for (int q = 0; q < f.npts; q++)
                w[k++] = f.pts[q].points;
            spread(rem, w, k, o);
            k = 0;
            for (size_t r2 = 0; r2 < nrw; r2++)
                for (uint32_t j = 0; j < n; j++)
                    sd[r2 * n + lord[r2 * n + j]] = o[k++];
            for (int q = 0; q < f.npts; q++)
                np[q] = o[k++];
            free(w);
            free(o);
            grant = rem;
        }
    }
    /* Lines acted on (SPEC 3.3 rule 5), judged on what is granted: a line whose
     * discount a partial grant cut to 0.00 was not acted on (F4); a points entry acts on
     * the lines it pointed when it is granted anything (G6 in diff-findings.md);
     * receipt-level rewards act on every line when they are granted something (F10). */
    char *acted = ref_xalloc(n + 1);
    int all = f.all_lines;
    for (size_t r2 = 0; r2 < nrw; r2++) {
        int64_t g0 = 0, g = 0;
        for (uint32_t i = 0; i < n; i++) {
            g0 += rd[r2 * n + i];
            g += sd[r2 * n + i];
            if (sd[r2 * n + i] > 0) acted[i] = 1;
            if ((e->alt & REF_ALT_ACTED_BEFORE_BUDGET) && rd[r2 * n + i] > 0) acted[i] = 1;
        }
        if (f.rrl[r2] && ((e->alt & REF_ALT_RECEIPT_ACTS_BEFORE_BUDGET) ? g0 : g) > 0) all = 1;
    }
    for (int q = 0; q < f.npts; q++) {
        if (f.erl[q]) {
            if (((e->alt & REF_ALT_RECEIPT_ACTS_BEFORE_BUDGET) ? f.pts[q].points : np[q]) > 0)
                all = 1;
            continue;
        }
        /* a points entry that is granted something acts on every line it pointed */
        for (size_t r2 = 0; r2 < nrw; r2++)
            if (f.rq[r2] == q)
                for (uint32_t i = 0; i < n; i++)
                    if (f.rpl[r2 * n + i] > 0 &&
                        (np[q] > 0 || (e->alt & REF_ALT_ACTED_BEFORE_BUDGET)))
                        acted[i] = 1;
    }
    if (all) memset(acted, 1, n);
    for (uint32_t i = 0; i < n; i++) {
        int64_t g = 0;
        for (size_t r2 = 0; r2 < nrw; r2++)
            g += sd[r2 * n + i];
        f.amount[i] += f.d[i] - g;
        f.d[i] = g;
    }
    {
        int kk = 0;
        for (int q = 0; q < f.npts; q++) {
            f.pts[q].points = np[q];
            if (np[q] > 0) f.pts[kk++] = f.pts[q];
        }
        f.npts = kk;
    }
    free(sd);

    /* Commit the campaign into the receipt. */
    outcome = PROMO_OUT_APPLIED;
    for (uint32_t i = 0; i < n; i++) {
        s->x.lines[i].amount = f.amount[i];
        s->by[i * s->nc + ci] += f.d[i];
        if (acted[i]) s->acted[i * s->nc + ci] = 1;
    }
    for (int k = 0; k < f.npts; k++)
        REF_PUSH(s->pts, s->npts, s->cappts, f.pts[k]);
    for (int k = 0; k < f.ncps; k++) {
        ref_text t = {c->id, f.cps[k]};
        REF_PUSH(s->cps, s->ncps, s->capcps, t);
    }
    for (int k = 0; k < f.nmsgs; k++) {
        ref_text t = {c->id, f.msgs[k]};
        REF_PUSH(s->msgs, s->nmsgs, s->capmsgs, t);
    }
    if (f.has_limit) {
        s->has_limit = 1;
        s->limit = f.limit;
    }
    s->applied[ci] = 1;
    /* "it blocks nothing" (SPEC 3.2): a campaign that gave nothing but its spend limit
     * does not block receipt-level rewards of later campaigns */
    int64_t gave = 0;
    for (uint32_t i = 0; i < n; i++)
        gave += f.d[i];
    for (int k = 0; k < f.npts; k++)
        gave += f.pts[k].points;
    s->policy[ci] = gave == 0 && f.ncps == 0 && f.nmsgs == 0;
    s->order[s->norder++] = ci;
    s->budget_add[ci] = c->budget >= 0 ? grant : 0;
    free(acted);
done:
    free(rd);
    free(lord);
    free(f.amount);
    free(f.d);
    free(f.rpl);
    free(f.rfx);
    free(f.rq);
    free(f.rrl);
    return outcome;
}

/* Discount plus points campaign ci would give if it were evaluated now (on a copy of
 * the receipt state). */
static int64_t benefit_first(const rstate *s, size_t ci, int *applies) {
    uint32_t n = s->x.n;
    size_t nc = s->nc;
    rstate t = *s;
    t.x.lines = ref_xalloc((n + 1) * sizeof *t.x.lines);
    memcpy(t.x.lines, s->x.lines, n * sizeof *t.x.lines);
    t.acted = ref_xalloc((n + 1) * (nc + 1));
    memcpy(t.acted, s->acted, (n + 1) * (nc + 1));
    t.by = ref_xalloc((n + 1) * (nc + 1) * sizeof *t.by);
    memcpy(t.by, s->by, (n + 1) * (nc + 1) * sizeof *t.by);
    t.applied = ref_xalloc(nc + 1);
    memcpy(t.applied, s->applied, nc + 1);
    t.policy = ref_xalloc(nc + 1);
    memcpy(t.policy, s->policy, nc + 1);
    t.order = ref_xalloc((nc + 1) * sizeof *t.order);
    memcpy(t.order, s->order, (nc + 1) * sizeof *t.order);
    t.budget_add = ref_xalloc((nc + 1) * sizeof *t.budget_add);
    memcpy(t.budget_add, s->budget_add, (nc + 1) * sizeof *t.budget_add);
    t.pts = NULL;
    t.npts = t.cappts = 0;
    t.cps = t.msgs = NULL;
    t.ncps = t.capcps = t.nmsgs = t.capmsgs = 0;
    int64_t b = 0;
    *applies = eval_campaign(&t, ci) == PROMO_OUT_APPLIED;
    if (*applies) {
        for (uint32_t i = 0; i < n; i++)
            b += t.by[i * nc + ci] - s->by[i * nc + ci];
        for (size_t k = 0; k < t.npts; k++)
            b += t.pts[k].points;
    }
    free(t.x.lines);
    free(t.acted);
    free(t.by);
    free(t.applied);
    free(t.policy);
    free(t.order);
    free(t.budget_add);
    free(t.pts);
    free(t.cps);
    free(t.msgs);
    return b;
}

/* SPEC 3.3 rule 6 on one equal-priority level (lvl: campaign indices in id order).
 * Rule 6 orders pairs that are mutually incompatible and could both apply, rule 1 all
 * other pairs; this order satisfies both: the candidates (campaigns that would apply if
 * they went first) are split into groups connected by incompatibility, and each group is
 * sorted by benefit (greater first, ties by id) into the positions its members hold in
 * id order; everything else keeps its position (G5 in docs/dev/diff-findings.md). */
static void tiebreak_level(const rstate *s, size_t *lvl, size_t m, int64_t *ben) {
    const ref_eval *e = s->x.e;
    size_t pos[REF_MAXC], np = 0, comp[REF_MAXC];
    for (size_t k = 0; k < m; k++) {
        int applies;
        ben[lvl[k]] = benefit_first(s, lvl[k], &applies);
        if (applies) pos[np++] = k;
    }
    for (size_t a = 0; a < np; a++) /* connected components: smallest member's index */
        comp[a] = a;
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t a = 0; a < np; a++)
            for (size_t b = 0; b < np; b++)
                if (comp[b] > comp[a] && !compatible(e, lvl[pos[a]], lvl[pos[b]])) {
                    comp[b] = comp[a];
                    changed = 1;
                }
    }
    for (size_t c = 0; c < np; c++) {
        size_t ps[REF_MAXC], n = 0;
        for (size_t k = 0; k < np; k++)
            if (comp[k] == c) ps[n++] = pos[k];
        for (size_t k = 1; k < n; k++) { /* insertion sort over the group's slots */
            size_t t = lvl[ps[k]], j = k;
            while (j > 0 && ben[t] > ben[lvl[ps[j - 1]]]) {
                lvl[ps[j]] = lvl[ps[j - 1]];
                j--;
            }
            lvl[ps[j]] = t;
        }
    }
}

/* ---------------------------------------------------------------- API ---- */

static int camp_before(const rcamp *a, const rcamp *b) {
    if (a->priority != b->priority) return a->priority > b->priority;
    return strcmp(a->id, b->id) < 0; /* strcmp compares as unsigned char: bytewise */
}

ref_eval *ref_new(const compilation *comp) {
    return ref_new_alt(comp, 0);
}

static void free_result(ref_eval *e);

/* Reads the campaigns, sets and groups of a compilation into e (state untouched). */
static int ref_load(ref_eval *e, const compilation *comp) {
    e->comp = comp;
    e->tiebreak = 0;
    const sema_result *sr = sema_get(comp);
    size_t cap = 0, capsets = 0; /* e->c and e->sets start empty */
    for (size_t fi = 0; fi < comp->nfiles; fi++) {
        const ast_node *file = comp->trees ? comp->trees[fi] : NULL;
        if (!file) continue;
        for (const ast_node *d = file->a; d; d = d->next) {
            if (d->kind == AST_SET) REF_PUSH(e->sets, e->nsets, capsets, d);
            if (d->kind == AST_TIEBREAK) e->tiebreak = 1;
            if (d->kind != AST_CAMPAIGN) continue;
            rcamp c;
            memset(&c, 0, sizeof c);
            c.node = d;
            c.id = d->str;
            c.group = d->str;
            c.combine = COMBINE_ANY;
            c.budget = -1;
            for (const ast_node *cl = d->a; cl; cl = cl->next) {
                switch (cl->kind) {
                case AST_C_PRIORITY: c.priority = cl->ival; break;
                case AST_C_GROUP: c.group = cl->str; break;
                case AST_C_COMBINE:
                    c.combine = cl->op;
                    for (const ast_node *g = cl->a; g && c.naccept < 32; g = g->next)
                        c.accept[c.naccept++] = g->str;
                    break;
                case AST_C_STOP: c.stop = 1; break;
                case AST_C_ACTIVE: c.active = cl; break;
                case AST_C_DAYS: c.days = cl; break;
                case AST_C_HOURS: c.hours = cl; break;
                case AST_C_STORES: c.stores = cl; break;
                case AST_C_CHANNEL: c.channel = cl; break;
                case AST_C_CARD: c.card = cl; break;
                case AST_C_SEGMENT: c.segment = cl; break;
                case AST_C_CODE: c.code = cl; break;
                case AST_C_WHEN:
                    if (c.nwhen < 16) c.when[c.nwhen++] = cl->a;
                    break;
                case AST_C_THEN: c.rewards = cl->a; break;
                case AST_C_LIMIT:
                    if (cl->op == LIMIT_RECEIPT)
                        c.limit_receipt = cl->ival;
                    else {
                        c.limit_customer = cl->ival;
                        c.period = (int)cl->ival2;
                    }
                    break;
                case AST_C_BUDGET:
                    c.budget = lit_num(cl->a, TY_MONEY);
                    c.partial = cl->op == 1;
                    break;
                default: break;
                }
            }
            REF_PUSH(e->c, e->nc, cap, c);
        }
    }
    /* `combine with X`: X is a declared group, or else a campaign id standing for
     * that campaign's group (the compiler's reading of "campaign ids used as groups"). */
    for (size_t k = 0; k < e->nc; k++) {
        rcamp *c = &e->c[k];
        for (int a = 0; a < c->naccept; a++) {
            int declared = 0;
            for (size_t fi = 0; fi < comp->nfiles && !declared; fi++) {
                const ast_node *file = comp->trees ? comp->trees[fi] : NULL;
                for (const ast_node *d = file ? file->a : NULL; d && !declared; d = d->next)
                    declared = d->kind == AST_GROUP && strcmp(d->str, c->accept[a]) == 0;
            }
            if (declared) continue;
            for (size_t j = 0; j < e->nc; j++)
                if (strcmp(e->c[j].id, c->accept[a]) == 0) c->accept[a] = e->c[j].group;
        }
    }
    if (e->nc > REF_MAXC || (sr && sr->ncampaigns != e->nc)) return 0;
    for (size_t a = 1; a < e->nc; a++) { /* insertion sort into evaluation order */
        rcamp t = e->c[a];
        size_t b = a;
        while (b > 0 && camp_before(&t, &e->c[b - 1])) {
            e->c[b] = e->c[b - 1];
            b--;
        }
        e->c[b] = t;
    }
    return 1;
}

ref_eval *ref_new_alt(const compilation *comp, unsigned alt) {
    ref_eval *e = ref_xalloc(sizeof *e);
    e->alt = alt;
    if (!ref_load(e, comp)) {
        ref_free(e);
        return NULL;
    }
    return e;
}

int ref_swap(ref_eval *e, const compilation *comp) {
    free_result(e); /* the last result points into the old compilation */
    free(e->c);
    free(e->sets);
    e->c = NULL;
    e->sets = NULL;
    e->nc = e->nsets = 0;
    return ref_load(e, comp);
}

static void free_result(ref_eval *e) {
    free(e->lines);
    free(e->bys);
    free(e->pts);
    free(e->coupons);
    free(e->messages);
    free(e->applied);
    free(e->explain);
    e->explain = NULL;
    e->lines = NULL;
    e->bys = NULL;
    e->pts = NULL;
    e->coupons = e->messages = NULL;
    e->applied = NULL;
}

void ref_free(ref_eval *e) {
    if (!e) return;
    free_result(e);
    for (size_t k = 0; k < e->nhist; k++) {
        for (uint32_t i = 0; i < e->hist[k].nlines * 3; i++)
            free(e->hist[k].strs[i]);
        free(e->hist[k].strs);
        free(e->hist[k].lines);
        free(e->hist[k].cust);
    }
    free(e->hist);
    for (size_t k = 0; k < e->nlim; k++) {
        free(e->lim[k].cust);
        free(e->lim[k].camp);
    }
    for (size_t k = 0; k < e->nbud; k++)
        free(e->bud[k].camp);
    free(e->lim);
    free(e->bud);
    free(e->sets);
    free(e->c);
    free(e);
}

const ref_result *ref_process(ref_eval *e, const promo_receipt *r) {
    free_result(e);
    uint32_t n = r->nlines;
    size_t nc = e->nc;
    rstate s;
    memset(&s, 0, sizeof s);
    s.x.e = e;
    s.x.r = r;
    s.x.n = n;
    s.x.lines = ref_xalloc((n + 1) * sizeof *s.x.lines);
    for (uint32_t i = 0; i < n; i++) {
        s.x.lines[i].src = &r->lines[i];
        s.x.lines[i].orig = rhu((__int128)r->lines[i].qty * r->lines[i].price, 1000);
        s.x.lines[i].amount = s.x.lines[i].orig;
        s.x.lines[i].price_from_amount = (e->alt & REF_ALT_PRICE_FROM_AMOUNT) != 0;
    }
    s.nc = nc;
    s.acted = ref_xalloc((n + 1) * (nc + 1));
    s.by = ref_xalloc((n + 1) * (nc + 1) * sizeof *s.by);
    s.applied = ref_xalloc(nc + 1);
    s.policy = ref_xalloc(nc + 1);
    s.order = ref_xalloc((nc + 1) * sizeof *s.order);
    s.budget_add = ref_xalloc((nc + 1) * sizeof *s.budget_add);

    /* Priority levels in order; within a level, id order, or with `tiebreak benefit`
     * the greater benefit first (each measured as if it went first in its level). */
    size_t *lvl = ref_xalloc((nc + 1) * sizeof *lvl);
    int64_t *ben = ref_xalloc((nc + 1) * sizeof *ben);
    int stopped = 0;
    const char *stopper = NULL;
    size_t nexp = 0, capexp = 0;
    /* SPEC 4: "An empty lines array is a valid receipt that earns nothing." */
    if (n == 0 && !(e->alt & REF_ALT_EMPTY_RECEIPT_EARNS)) stopped = 1;
    for (size_t a = 0, b; a < nc; a = b) {
        size_t m = 0;
        for (b = a; b < nc && e->c[b].priority == e->c[a].priority; b++)
            lvl[m++] = b;
        if (e->tiebreak && m > 1 && !stopped) tiebreak_level(&s, lvl, m, ben);
        for (size_t k = 0; k < m; k++) {
            ref_explain x = {e->c[lvl[k]].id, PROMO_OUT_STOPPED, stopper};
            if (!stopped) {
                x.outcome = eval_campaign(&s, lvl[k]);
                x.other = x.outcome == PROMO_OUT_BLOCKED ? s.blocked_by : NULL;
                if (x.outcome == PROMO_OUT_APPLIED && e->c[lvl[k]].stop) {
                    stopped = 1;
                    stopper = e->c[lvl[k]].id;
                }
            }
            REF_PUSH(e->explain, nexp, capexp, x);
        }
    }
    free(lvl);
    free(ben);

    /* The result. */
    ref_result *res = &e->res;
    memset(res, 0, sizeof *res);
    e->lines = ref_xalloc((n + 1) * sizeof *e->lines);
    e->bys = ref_xalloc((n * nc + 1) * sizeof *e->bys);
    size_t nb = 0;
    for (uint32_t i = 0; i < n; i++) {
        ref_line *l = &e->lines[i];
        l->amount = s.x.lines[i].orig;
        l->final = s.x.lines[i].amount;
        l->discount = l->amount - l->final;
        l->by = e->bys + nb;
        for (size_t k = 0; k < s.norder; k++) {
            size_t ci = s.order[k];
            if (s.by[i * nc + ci] == 0) continue;
            ref_by b = {e->c[ci].id, s.by[i * nc + ci]};
            e->bys[nb++] = b;
            l->nby++;
        }
        res->total += l->amount;
        res->discount += l->discount;
    }
    res->final = res->total - res->discount;
    res->lines = e->lines;
    res->nlines = n;
    e->pts = s.pts;
    res->points = s.pts;
    res->npoints = (uint32_t)s.npts;
    e->coupons = s.cps;
    res->coupons = s.cps;
    res->ncoupons = (uint32_t)s.ncps;
    e->messages = s.msgs;
    res->messages = s.msgs;
    res->nmessages = (uint32_t)s.nmsgs;
    res->has_spend_limit = s.has_limit;
    res->spend_limit = s.limit;
    e->applied = ref_xalloc((s.norder + 1) * sizeof *e->applied);
    for (size_t k = 0; k < s.norder; k++)
        e->applied[k] = e->c[s.order[k]].id;
    res->applied = e->applied;
    res->napplied = (uint32_t)s.norder;
    res->explain = e->explain;
    res->nexplain = (uint32_t)nexp;

    /* Commit: budgets, limits, history. */
    const promo_customer *cu = r->customer;
    int has_id = cu && cu->id.p && cu->id.n > 0;
    for (size_t k = 0; k < s.norder; k++) {
        size_t ci = s.order[k];
        const rcamp *c = &e->c[ci];
        if (c->budget >= 0) *bud_slot(e, c->id) += s.budget_add[ci];
        if (c->limit_customer && has_id)
            lim_add(e, cu->id, c->id, period_bucket(c->period, r->date));
    }
    if (has_id) {
        hrec h;
        memset(&h, 0, sizeof h);
        h.cust = dup_pstr(cu->id);
        h.date = r->date;
        h.nlines = n;
        h.lines = ref_xalloc((n + 1) * sizeof *h.lines);
        h.strs = ref_xalloc((3 * n + 1) * sizeof *h.strs);
        for (uint32_t i = 0; i < n; i++) {
            lview v = view_of(&s.x.lines[i]);
            h.strs[3 * i] = dup_pstr(v.sku);
            h.strs[3 * i + 1] = dup_pstr(v.cat);
            h.strs[3 * i + 2] = dup_pstr(v.brand);
            v.sku.p = h.strs[3 * i];
            v.cat.p = h.strs[3 * i + 1];
            v.brand.p = h.strs[3 * i + 2];
            h.lines[i] = v;
        }
        REF_PUSH(e->hist, e->nhist, e->caphist, h);
    }

    free(s.x.lines);
    free(s.acted);
    free(s.by);
    free(s.applied);
    free(s.policy);
    free(s.order);
    free(s.budget_add);
    return res;
}

/* ---------------------------------------------------------------- JSON ---- */

static void json_date(strbuf *out, int32_t d) {
    char buf[11];
    civil_format(d, buf);
    sb_printf(out, "\"%s\"", buf);
}

void ref_result_json(const ref_result *res, const promo_receipt *r, strbuf *out) {
    sb_puts(out, "{\"id\":");
    sb_json_str(out, r->id.p ? r->id.p : "", r->id.n);
    sb_puts(out, ",\"total\":");
    sb_money(out, res->total);
    sb_puts(out, ",\"discount\":");
    sb_money(out, res->discount);
    sb_puts(out, ",\"final\":");
    sb_money(out, res->final);
    sb_puts(out, ",\"lines\":[");
    for (uint32_t i = 0; i < res->nlines; i++) {
        const ref_line *l = &res->lines[i];
        sb_printf(out, "%s{\"n\":%u,\"amount\":", i ? "," : "", i);
        sb_money(out, l->amount);
        sb_puts(out, ",\"discount\":");
        sb_money(out, l->discount);
        sb_puts(out, ",\"final\":");
        sb_money(out, l->final);
        sb_puts(out, ",\"by\":{");
        for (uint32_t k = 0; k < l->nby; k++) {
            if (k) sb_putc(out, ',');
            sb_json_str(out, l->by[k].campaign, strlen(l->by[k].campaign));
            sb_putc(out, ':');
            sb_money(out, l->by[k].amount);
        }
        sb_puts(out, "}}");
    }
    sb_puts(out, "],\"points\":[");
    for (uint32_t k = 0; k < res->npoints; k++) {
        const ref_points *p = &res->points[k];
        sb_puts(out, k ? ",{\"campaign\":" : "{\"campaign\":");
        sb_json_str(out, p->campaign, strlen(p->campaign));
        sb_puts(out, ",\"points\":");
        sb_money(out, p->points);
        sb_puts(out, ",\"activate\":");
        json_date(out, p->activate);
        sb_puts(out, ",\"expire\":");
        if (p->expire == INT32_MIN)
            sb_puts(out, "null");
        else
            json_date(out, p->expire);
        sb_putc(out, '}');
    }
    sb_puts(out, "],\"coupons\":[");
    for (uint32_t k = 0; k < res->ncoupons; k++) {
        if (k) sb_putc(out, ',');
        sb_json_str(out, res->coupons[k].text, strlen(res->coupons[k].text));
    }
    sb_puts(out, "],\"messages\":[");
    for (uint32_t k = 0; k < res->nmessages; k++) {
        if (k) sb_putc(out, ',');
        sb_json_str(out, res->messages[k].text, strlen(res->messages[k].text));
    }
    sb_puts(out, "],\"spend_limit\":");
    if (res->has_spend_limit)
        sb_money(out, res->spend_limit);
    else
        sb_puts(out, "null");
    sb_puts(out, ",\"applied\":[");
    for (uint32_t k = 0; k < res->napplied; k++) {
        if (k) sb_putc(out, ',');
        sb_json_str(out, res->applied[k], strlen(res->applied[k]));
    }
    sb_puts(out, "]}");
}
