/*
 * test_need.c — runtime/need.c (stage "stacking": the prefilter's static analysis of
 * verified bytecode). Exact needs of compiled `when` clauses and line predicates, the
 * shapes the compiler never emits (hand-made with tb_*), and soundness checked against
 * the VM: whenever a block is true, every need it was given really holds.
 *
 * Atoms are numbered so that an atom names what it tests: 100 + set for L_CAT_IN,
 * 200 + set / 300 + set for L_BRAND / L_SKU; IN_SET, 400 + k / 500 + k for
 * L_BRAND / L_SKU; PUSH_K k; SEQ.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "bundle_helpers.h"
#include "eval_helpers.h"
#include "hash.h"
#include "need.h"
#include "vm.h"

#define AT_CAT     100u
#define AT_BRAND   200u
#define AT_SKU     300u
#define AT_BRAND_K 400u
#define AT_SKU_K   500u
#define FX_MAX     64u

/* ------------------------------------------------------------ atom numbering ---- */

typedef struct fx {
    uint32_t cat[FX_MAX], brand[FX_MAX], sku[FX_MAX], brand_k[FX_MAX], sku_k[FX_MAX];
    need_atoms a;
} fx;

static void fx_init(fx *f, const promo_bundle *b) {
    cr_assert_leq(b->nsets, FX_MAX);
    cr_assert_leq(b->nconsts, FX_MAX);
    for (uint32_t i = 0; i < FX_MAX; i++)
        f->cat[i] = f->brand[i] = f->sku[i] = f->brand_k[i] = f->sku_k[i] = UINT32_MAX;
    for (uint32_t s = 0; s < b->nsets; s++) {
        if (b->sets[s].kind == PB_SET_CATEGORY) f->cat[s] = AT_CAT + s;
        if (b->sets[s].kind == PB_SET_STRING) {
            f->brand[s] = AT_BRAND + s;
            f->sku[s] = AT_SKU + s;
        }
    }
    for (uint32_t k = 0; k < b->nconsts; k++) {
        f->brand_k[k] = AT_BRAND_K + k;
        f->sku_k[k] = AT_SKU_K + k;
    }
    f->a = (need_atoms){f->cat, f->brand, f->sku, f->brand_k, f->sku_k, NULL};
}

/* The set of `kind` holding exactly `items` (any order). */
static uint32_t find_set(const promo_bundle *b, uint32_t kind, const char *const *items,
                         uint32_t n) {
    for (uint32_t s = 0; s < b->nsets; s++) {
        const pb_set *st = &b->sets[s];
        if (st->kind != kind || st->nitems != n) continue;
        uint32_t found = 0;
        for (uint32_t i = 0; i < n; i++)
            for (uint32_t j = 0; j < st->nitems; j++)
                if (strcmp(bundle_str(b, b->setitems[st->items_off + j]), items[i]) == 0) {
                    found++;
                    break;
                }
        if (found == n) return s;
    }
    cr_assert_fail("no set of kind %u with %u items starting \"%s\"", kind, n, items[0]);
    return UINT32_MAX;
}
#define SET_OF(b, kind, ...)                                                                       \
    find_set(b, kind, (const char *const[]){__VA_ARGS__},                                          \
             (uint32_t)(sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)))
#define CAT(b, ...) (AT_CAT + SET_OF(b, PB_SET_CATEGORY, __VA_ARGS__))
#define BRS(b, ...) (AT_BRAND + SET_OF(b, PB_SET_STRING, __VA_ARGS__))
#define SKS(b, ...) (AT_SKU + SET_OF(b, PB_SET_STRING, __VA_ARGS__))

/* The constant that is the hash of string `s`. */
static uint32_t find_const(const promo_bundle *b, const char *s) {
    for (uint32_t k = 0; k < b->nconsts; k++)
        if (b->consts[k].str != PB_NONE && strcmp(bundle_str(b, b->consts[k].str), s) == 0)
            return k;
    cr_assert_fail("no constant \"%s\"", s);
    return UINT32_MAX;
}
#define BRK(b, s) (AT_BRAND_K + find_const(b, s))
#define SKK(b, s) (AT_SKU_K + find_const(b, s))

static int ns_has(const need_set *s, uint32_t atom) {
    for (uint32_t i = 0; i < s->n; i++)
        if (s->at[i] == atom) return 1;
    return 0;
}

/* `s` is exactly the atoms `want` (any order). */
static void assert_need(need_set s, const uint32_t *want, uint32_t n) {
    cr_assert_eq(s.n, n, "need has %u atoms, expected %u (first %u)", s.n, n, s.n ? s.at[0] : 0);
    for (uint32_t i = 0; i < n; i++)
        cr_assert(ns_has(&s, want[i]), "atom %u missing from the need", want[i]);
}
#define ASSERT_NEED(s, ...)                                                                        \
    assert_need((s), (const uint32_t[]){__VA_ARGS__},                                              \
                (uint32_t)(sizeof((const uint32_t[]){__VA_ARGS__}) / sizeof(uint32_t)))

/* ------------------------------------------------------------ VM as oracle ---- */

/* One receipt for vm_run: up to 2 lines, each with up to 3 category hashes. */
typedef struct orc {
    vm_line lines[2];
    uint64_t anc[6];
    vm_receipt rx;
    uint64_t seen[8];
    vm_env env;
} orc;

typedef struct ltpl {
    uint64_t anc[3];
    uint32_t nanc;
    uint64_t brand, sku;
    int64_t qty, amount;
} ltpl;

static uint64_t h(const char *s) {
    return promo_hash(s, strlen(s));
}

static void orc_init(orc *o, const promo_bundle *b, const ltpl *const *ls, uint32_t n,
                     int64_t discount) {
    memset(o, 0, sizeof *o);
    int64_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        vm_line *l = &o->lines[i];
        l->sku = ls[i]->sku;
        l->brand = ls[i]->brand;
        l->anc_off = 3 * i;
        l->anc_cnt = ls[i]->nanc;
        for (uint32_t k = 0; k < ls[i]->nanc; k++)
            o->anc[3 * i + k] = ls[i]->anc[k];
        l->cat = ls[i]->nanc ? ls[i]->anc[ls[i]->nanc - 1] : 0;
        l->qty = ls[i]->qty;
        l->price = ls[i]->amount * 1000 / ls[i]->qty;
        l->amount0 = l->amount = ls[i]->amount;
        total += l->amount;
    }
    o->rx.lines = o->lines;
    o->rx.nlines = n;
    o->rx.anc = o->anc;
    o->rx.orig_total = total;
    /* a discount given by an earlier campaign lowers the current amounts only */
    if (n > 0 && discount > 0 && discount <= o->lines[0].amount) {
        o->lines[0].amount -= discount;
        total -= discount;
    }
    o->rx.total = total;
    o->env.b = b;
    o->env.rx = &o->rx;
    o->env.seen = o->seen;
    o->env.seen_mask = 7;
    o->env.fail_part = PB_NONE;
}

static int orc_true(orc *o, uint32_t blk, uint32_t line) {
    int64_t v = 0;
    cr_assert_eq(vm_run(&o->env, blk, line, &v), PROMO_OK);
    return v != 0 && v != PROMO_ABSENT;
}

/* 1 when the line has atom `atom` (numbered as fx_init does). */
static int line_has(const promo_bundle *b, const orc *o, uint32_t li, uint32_t atom) {
    const vm_line *l = &o->lines[li];
    if (atom >= AT_SKU_K) return l->sku && l->sku == (uint64_t)b->consts[atom - AT_SKU_K].value;
    if (atom >= AT_BRAND_K)
        return l->brand && l->brand == (uint64_t)b->consts[atom - AT_BRAND_K].value;
    if (atom >= AT_SKU) return l->sku && bundle_set_has(b, atom - AT_SKU, l->sku);
    if (atom >= AT_BRAND) return l->brand && bundle_set_has(b, atom - AT_BRAND, l->brand);
    for (uint32_t k = 0; k < l->anc_cnt; k++)
        if (bundle_set_has(b, atom - AT_CAT, o->anc[l->anc_off + k])) return 1;
    return 0;
}

static int receipt_meets(const promo_bundle *b, const orc *o, const need_set *s) {
    for (uint32_t li = 0; li < o->rx.nlines; li++)
        for (uint32_t k = 0; k < s->n; k++)
            if (line_has(b, o, li, s->at[k])) return 1;
    return 0;
}

/* Soundness of need_pred for PRED block `blk` over every line of `ls`; returns how
 * many lines make the predicate true. */
static uint32_t check_pred_sound(const promo_bundle *b, uint32_t blk, const need_set *need,
                                 const ltpl *ls, uint32_t n) {
    uint32_t ntrue = 0;
    for (uint32_t i = 0; i < n; i++) {
        orc o;
        const ltpl *one = &ls[i];
        orc_init(&o, b, &one, 1, 0);
        if (!orc_true(&o, blk, 0)) continue;
        ntrue++;
        if (need->n)
            cr_assert(receipt_meets(b, &o, need),
                      "PRED block %u true for line %u "
                      "without any atom of its need",
                      blk, i);
    }
    return ntrue;
}

/* Soundness of need_cond for COND block `blk` over receipts of 0, 1 and 2 lines of `ls`,
 * each also with 5.00 discounted on its first line. Returns how many receipts make
 * the block true. */
static uint32_t check_cond_sound(const promo_bundle *b, uint32_t blk, const need_set *req, int nreq,
                                 int64_t min_total, const ltpl *ls, uint32_t n) {
    uint32_t ntrue = 0;
    for (uint32_t cnt = 0; cnt <= 2; cnt++)
        for (uint32_t i = 0; i < (cnt ? n : 1); i++)
            for (uint32_t j = (cnt == 2 ? i : 0); j < (cnt == 2 ? n : 1); j++)
                for (int64_t disc = 0; disc <= (cnt ? 500 : 0); disc += 500) {
                    const ltpl *two[2] = {&ls[i], &ls[j]};
                    orc o;
                    orc_init(&o, b, two, cnt, disc);
                    if (!orc_true(&o, blk, UINT32_MAX)) continue;
                    ntrue++;
                    cr_assert_geq(o.rx.orig_total, min_total,
                                  "COND block %u true with original total %lld < %lld", blk,
                                  (long long)o.rx.orig_total, (long long)min_total);
                    for (int q = 0; q < nreq; q++)
                        cr_assert(receipt_meets(b, &o, &req[q]),
                                  "COND block %u true for receipt (%u lines: %u, %u, "
                                  "disc %lld) without requirement %d",
                                  blk, cnt, i, j, (long long)disc, q);
                }
    return ntrue;
}

/* Line universe for compiled rules: a category from `cats` (or none), a brand from
 * `names` (or none), a SKU from `names` (or "zz"), quantity 1 or 2, price 10.00. */
static uint32_t lines_of(ltpl *out, uint32_t cap, const char *const *cats, uint32_t ncats,
                         const char *const *names, uint32_t nnames) {
    uint32_t n = 0;
    for (uint32_t c = 0; c <= ncats; c++)
        for (uint32_t br = 0; br <= nnames; br++)
            for (uint32_t sk = 0; sk <= nnames; sk++)
                for (int64_t q = 1000; q <= 2000; q += 1000) {
                    cr_assert_lt(n, cap);
                    ltpl *l = &out[n++];
                    memset(l, 0, sizeof *l);
                    if (c < ncats) {
                        l->anc[0] = h(cats[c]);
                        l->nanc = 1;
                    }
                    l->brand = br < nnames ? h(names[br]) : 0;
                    l->sku = h(sk < nnames ? names[sk] : "zz");
                    l->qty = q;
                    l->amount = q * 10;
                }
    return n;
}

/* ------------------------------------------------------- compiled campaigns ---- */

/* need_cond of the `when` of the first campaign of `src`, checked against the VM on
 * lines of categories "a" "b" "dairy" and brands / SKUs "b" "x" "1". */
typedef struct cnd {
    promo_bundle *b;
    fx f;
    need_set out[16];
    int n;
    int64_t min;
    uint32_t blk;
} cnd;

static void cnd_run(cnd *c, const char *src) {
    memset(c, 0, sizeof *c);
    c->b = eh_compile(src);
    cr_assert_not_null(c->b, "compile failed:\n%s", src);
    fx_init(&c->f, c->b);
    cr_assert_geq(c->b->ncampaigns, 1);
    c->blk = c->b->campaigns[0].cond_block;
    cr_assert_neq(c->blk, PB_NONE);
    c->min = 12345; /* need_cond must overwrite it */
    c->n = need_cond(c->b, &c->f.a, c->blk, c->out, 16, &c->min);
    cr_assert_geq(c->n, 0);
    static const char *const cats[] = {"a", "b", "dairy"};
    static const char *const names[] = {"b", "x", "1"};
    static ltpl ls[256];
    uint32_t nl = lines_of(ls, 256, cats, 3, names, 3);
    check_cond_sound(c->b, c->blk, c->out, c->n, c->min, ls, nl);
}

static void cnd_free(cnd *c) {
    promo_bundle_release(c->b);
}

/* A campaign with one `when` and a receipt-wide reward. */
static void cnd_when(cnd *c, const char *when) {
    char src[1024];
    snprintf(src, sizeof src, "campaign c {\n when %s\n then discount 10%% on receipt\n}\n", when);
    cnd_run(c, src);
}

/* The single requirement of `when`, which must have no total bound. */
static need_set one_req(cnd *c, const char *when) {
    cnd_when(c, when);
    cr_assert_eq(c->n, 1, "%s: %d requirements", when, c->n);
    cr_assert_eq(c->min, INT64_MIN, "%s: min_total %lld", when, (long long)c->min);
    return c->out[0];
}

static void no_req(const char *when) {
    cnd c;
    cnd_when(&c, when);
    cr_assert_eq(c.n, 0, "%s: %d requirements (first has %u atoms)", when, c.n,
                 c.n ? c.out[0].n : 0);
    cr_assert_eq(c.min, INT64_MIN, "%s: min_total %lld", when, (long long)c.min);
    cnd_free(&c);
}

Test(need_compiled, sum_of_category_at_least_100_needs_its_cat_atom) {
    cnd c;
    need_set s = one_req(&c, "sum(lines where category \"dairy\") >= 100");
    ASSERT_NEED(s, CAT(c.b, "dairy"));
    cnd_free(&c);
}

Test(need_compiled, sum_at_least_zero_or_above_minus_one_needs_nothing) {
    no_req("sum(lines where category \"dairy\") >= 0");
    no_req("sum(lines where category \"dairy\") > -1");
}

Test(need_compiled, count_above_zero_needs_its_atom) {
    cnd c;
    need_set s = one_req(&c, "count(lines where category \"a\") > 0");
    ASSERT_NEED(s, CAT(c.b, "a"));
    cnd_free(&c);
}

Test(need_compiled, any_needs_its_atom) {
    cnd c;
    need_set s = one_req(&c, "any(lines where category \"a\")");
    ASSERT_NEED(s, CAT(c.b, "a"));
    cnd_free(&c);
}

Test(need_compiled, not_any_needs_nothing) {
    no_req("not any(lines where category \"a\")");
}

Test(need_compiled, distinct_at_least_two_needs_its_atom) {
    cnd c;
    need_set s = one_req(&c, "distinct(lines where category \"a\") >= 2");
    ASSERT_NEED(s, CAT(c.b, "a"));
    cnd_free(&c);
}

Test(need_compiled, category_or_brand_is_the_union_of_both_atoms) {
    cnd c;
    need_set s = one_req(&c, "any(lines where category \"a\" or brand \"b\")");
    ASSERT_NEED(s, CAT(c.b, "a"), BRK(c.b, "b"));
    cnd_free(&c);
}

Test(need_compiled, category_and_qty_needs_the_category) {
    cnd c;
    need_set s = one_req(&c, "any(lines where category \"a\" and qty >= 2)");
    ASSERT_NEED(s, CAT(c.b, "a"));
    cnd_free(&c);
}

Test(need_compiled, union_and_qty_keeps_the_union) {
    cnd c;
    need_set s = one_req(&c, "any(lines where (category \"a\" or brand \"b\") and qty >= 2)");
    ASSERT_NEED(s, CAT(c.b, "a"), BRK(c.b, "b"));
    cnd_free(&c);
}

Test(need_compiled, sku_and_category_needs_one_of_them) {
    cnd c;
    need_set s = one_req(&c, "any(lines where sku \"1\" and category \"a\")");
    cr_assert_eq(s.n, 1);
    cr_assert(s.at[0] == CAT(c.b, "a") || s.at[0] == SKK(c.b, "1"), "atom %u", s.at[0]);
    cnd_free(&c);
}

Test(need_compiled, category_or_qty_needs_nothing) {
    no_req("any(lines where category \"a\" or qty >= 2)");
}

Test(need_compiled, not_category_needs_nothing) {
    no_req("any(lines where not category \"a\")");
}

Test(need_compiled, brand_in_list_is_a_brand_set_atom) {
    cnd c;
    need_set s = one_req(&c, "any(lines where brand in [\"x\", \"y\"])");
    ASSERT_NEED(s, BRS(c.b, "x", "y"));
    cnd_free(&c);
}

Test(need_compiled, sku_in_list_is_a_sku_set_atom) {
    cnd c;
    need_set s = one_req(&c, "any(lines where sku in [\"1\", \"2\"])");
    ASSERT_NEED(s, SKS(c.b, "1", "2"));
    cnd_free(&c);
}

Test(need_compiled, brand_equals_is_a_brand_constant_atom) {
    cnd c;
    need_set s = one_req(&c, "any(lines where brand \"x\")");
    ASSERT_NEED(s, BRK(c.b, "x"));
    cnd_free(&c);
}

Test(need_compiled, sku_equals_is_a_sku_constant_atom) {
    cnd c;
    need_set s = one_req(&c, "sum(lines where sku \"1\") >= 5");
    ASSERT_NEED(s, SKK(c.b, "1"));
    cnd_free(&c);
}

Test(need_compiled, category_in_list_is_one_cat_atom) {
    cnd c;
    need_set s = one_req(&c, "any(lines where category in [\"a\", \"dairy\"])");
    ASSERT_NEED(s, CAT(c.b, "a", "dairy"));
    cnd_free(&c);
}

Test(need_compiled, two_whens_give_two_requirements) {
    cnd c;
    cnd_run(&c, "campaign c {\n when any(lines where category \"a\")\n"
                " when sum(lines where brand \"b\") >= 5\n then discount 10% on receipt\n}\n");
    cr_assert_eq(c.n, 2);
    cr_assert_eq(c.min, INT64_MIN);
    uint32_t ca = CAT(c.b, "a"), bb = BRK(c.b, "b");
    int first_is_cat = c.out[0].n == 1 && c.out[0].at[0] == ca;
    ASSERT_NEED(c.out[first_is_cat ? 0 : 1], ca);
    ASSERT_NEED(c.out[first_is_cat ? 1 : 0], bb);
    cnd_free(&c);
}

Test(need_compiled, max_caps_the_requirements_written) {
    cnd c;
    cnd_run(&c, "campaign c {\n when any(lines where category \"a\")\n"
                " when any(lines where category \"b\")\n then discount 10% on receipt\n}\n");
    cr_assert_eq(c.n, 2);
    need_set one[2] = {{7, {0}}, {7, {0}}};
    int64_t min = 0;
    cr_assert_eq(need_cond(c.b, &c.f.a, c.blk, one, 1, &min), 1);
    cr_assert_eq(one[0].n, 1);
    cr_assert(one[0].at[0] == CAT(c.b, "a") || one[0].at[0] == CAT(c.b, "b"));
    cr_assert_eq(one[1].n, 7, "wrote past max");
    cr_assert_eq(need_cond(c.b, &c.f.a, c.blk, one, 0, &min), 0);
    cr_assert_eq(min, INT64_MIN);
    cnd_free(&c);
}

Test(need_compiled, or_with_a_total_needs_nothing) {
    no_req("sum(lines where category \"a\") >= 10 or total >= 50");
    no_req("total >= 50 or any(lines where category \"a\")");
}

Test(need_compiled, total_at_least_3500_is_a_min_total) {
    cnd c;
    cnd_when(&c, "total >= 3500");
    cr_assert_eq(c.n, 0);
    cr_assert_eq(c.min, 350000);
    cnd_free(&c);
}

Test(need_compiled, total_above_100_is_one_kopeck_more) {
    cnd c;
    cnd_when(&c, "total > 100");
    cr_assert_eq(c.n, 0);
    cr_assert_eq(c.min, 10001);
    cnd_free(&c);
}

Test(need_compiled, total_equal_is_a_min_total) {
    cnd c;
    cnd_when(&c, "total == 50");
    cr_assert_eq(c.n, 0);
    cr_assert_eq(c.min, 5000);
    cnd_free(&c);
}

Test(need_compiled, total_at_most_is_no_bound) {
    no_req("total <= 100");
    no_req("total < 100");
    no_req("total != 100");
}

Test(need_compiled, sum_and_total_give_both) {
    cnd c;
    cnd_when(&c, "sum(lines where category \"a\") >= 10 and total >= 20");
    cr_assert_eq(c.n, 1);
    ASSERT_NEED(c.out[0], CAT(c.b, "a"));
    cr_assert_eq(c.min, 2000);
    cnd_free(&c);
}

Test(need_compiled, largest_total_bound_wins) {
    cnd c;
    cnd_run(&c, "campaign c {\n when total >= 20\n when original_total >= 50 and total >= 30\n"
                " then discount 10% on receipt\n}\n");
    cr_assert_eq(c.n, 0);
    cr_assert_eq(c.min, 5000);
    cnd_free(&c);
}

Test(need_compiled, and_inside_or_is_the_union) {
    cnd c;
    need_set s =
        one_req(&c, "(any(lines where brand \"b\") and total >= 50) or any(lines where sku \"x\")");
    ASSERT_NEED(s, BRK(c.b, "b"), SKK(c.b, "x"));
    cnd_free(&c);
}

Test(need_compiled, or_of_two_aggregates_is_the_union) {
    cnd c;
    need_set s = one_req(&c, "sum(lines where category \"a\") >= 10 or "
                             "count(lines where brand in [\"x\", \"y\"]) >= 2");
    ASSERT_NEED(s, CAT(c.b, "a"), BRS(c.b, "x", "y"));
    cnd_free(&c);
}

Test(need_compiled, union_of_eight_atoms_is_kept) {
    cnd c;
    need_set s = one_req(&c, "any(lines where brand \"b1\" or brand \"b2\" or brand \"b3\" or "
                             "brand \"b4\" or brand \"b5\" or brand \"b6\" or brand \"b7\" or "
                             "brand \"b8\")");
    ASSERT_NEED(s, BRK(c.b, "b1"), BRK(c.b, "b2"), BRK(c.b, "b3"), BRK(c.b, "b4"), BRK(c.b, "b5"),
                BRK(c.b, "b6"), BRK(c.b, "b7"), BRK(c.b, "b8"));
    cnd_free(&c);
}

Test(need_compiled, union_of_nine_atoms_is_no_need) {
    no_req("any(lines where brand \"b1\" or brand \"b2\" or brand \"b3\" or brand \"b4\" or "
           "brand \"b5\" or brand \"b6\" or brand \"b7\" or brand \"b8\" or brand \"b9\")");
}

Test(need_compiled, unindexed_atom_gives_no_need) {
    cnd c;
    cnd_when(&c, "sum(lines where category \"dairy\") >= 100");
    cr_assert_eq(c.n, 1);
    c.f.cat[SET_OF(c.b, PB_SET_CATEGORY, "dairy")] = UINT32_MAX;
    need_set out[4];
    int64_t min = 0;
    cr_assert_eq(need_cond(c.b, &c.f.a, c.blk, out, 4, &min), 0);
    cr_assert_eq(min, INT64_MIN);
    cnd_free(&c);
}

Test(need_compiled, unindexed_half_of_a_union_gives_no_need) {
    cnd c;
    cnd_when(&c, "any(lines where category \"a\" or brand \"b\")");
    cr_assert_eq(c.n, 1);
    c.f.brand_k[find_const(c.b, "b")] = UINT32_MAX;
    need_set out[4];
    int64_t min = 0;
    cr_assert_eq(need_cond(c.b, &c.f.a, c.blk, out, 4, &min), 0);
    cnd_free(&c);
}

Test(need_compiled, missing_atom_tables_give_no_need) {
    cnd c;
    cnd_when(&c, "any(lines where category \"a\") and any(lines where brand in [\"x\"]) and "
                 "any(lines where sku \"1\")");
    cr_assert_eq(c.n, 3);
    need_atoms none = {NULL, NULL, NULL, NULL, NULL, NULL};
    need_set out[4];
    int64_t min = 0;
    cr_assert_eq(need_cond(c.b, &none, c.blk, out, 4, &min), 0);
    cnd_free(&c);
}

Test(need_compiled, reward_predicate_need) {
    promo_bundle *b = eh_compile("campaign c {\n when total >= 1\n"
                                 " then discount 10% on lines where category \"x\";"
                                 " discount 5% on lines\n}\n");
    cr_assert_not_null(b);
    fx f;
    fx_init(&f, b);
    const pb_campaign *c = &b->campaigns[0];
    cr_assert_eq(c->reward_cnt, 2);
    const pb_reward *r0 = &b->rewards[c->reward_off], *r1 = &b->rewards[c->reward_off + 1];
    cr_assert_neq(r0->pred, PRED_ALL_LINES);
    need_set s = need_pred(b, &f.a, r0->pred);
    ASSERT_NEED(s, CAT(b, "x"));
    cr_assert_eq(r1->pred, PRED_ALL_LINES);
    cr_assert_eq(need_pred(b, &f.a, r1->pred).n, 0);
    promo_bundle_release(b);
}

Test(need_compiled, wrong_block_kind_or_index_gives_nothing) {
    promo_bundle *b = eh_compile("campaign c {\n when any(lines where category \"x\")\n"
                                 " then discount 10% on lines where category \"x\"\n}\n");
    cr_assert_not_null(b);
    fx f;
    fx_init(&f, b);
    uint32_t cond = b->campaigns[0].cond_block, pred = b->rewards[0].pred;
    cr_assert_eq(b->blocks[cond].kind, PB_BLOCK_COND);
    cr_assert_eq(b->blocks[pred].kind, PB_BLOCK_PRED);
    cr_assert_eq(need_pred(b, &f.a, pred).n, 1);
    cr_assert_eq(need_pred(b, &f.a, cond).n, 0);
    cr_assert_eq(need_pred(b, &f.a, b->nblocks).n, 0);
    need_set out[4];
    int64_t min = 7;
    cr_assert_eq(need_cond(b, &f.a, cond, out, 4, &min), 1);
    min = 7;
    cr_assert_eq(need_cond(b, &f.a, pred, out, 4, &min), 0);
    cr_assert_eq(min, INT64_MIN);
    min = 7;
    cr_assert_eq(need_cond(b, &f.a, b->nblocks, out, 4, &min), 0);
    cr_assert_eq(min, INT64_MIN);
    promo_bundle_release(b);
}

/* ------------------------------------------------------ hand-made bundles ---- */

/* Category sets {a} {b} {c}, string set {x, y}, constants "x" "y", and (COND
 * worlds) PRED blocks: pa = category a, pb = category b, px = brand "x". */
typedef struct world {
    tb t;
    uint32_t sa, sb, sc, sxy, kx, ky, part;
    uint32_t pa, pb, px;
} world;

static void world_init(world *w, int preds) {
    memset(w, 0, sizeof *w);
    tb_init(&w->t);
    tb *t = &w->t;
    uint32_t g = tb_str(t, "g");
    tb_add(t, PBS_GROUPS, &g, 4);
    w->sa = tb_set(t, PB_SET_CATEGORY, (const char *const[]){"a"}, 1);
    w->sb = tb_set(t, PB_SET_CATEGORY, (const char *const[]){"b"}, 1);
    w->sc = tb_set(t, PB_SET_CATEGORY, (const char *const[]){"c"}, 1);
    w->sxy = tb_set(t, PB_SET_STRING, (const char *const[]){"x", "y"}, 2);
    pb_const kx = {(int64_t)h("x"), tb_str(t, "x"), 5}, ky = {(int64_t)h("y"), tb_str(t, "y"), 5};
    w->kx = tb_add(t, PBS_CONSTS, &kx, sizeof kx);
    w->ky = tb_add(t, PBS_CONSTS, &ky, sizeof ky);
    w->part = tb_str(t, "part");
    w->pa = w->pb = w->px = UINT32_MAX;
    if (!preds) return;
    promo_insn pa[] = {INSN_MAKE(OP_L_CAT_IN, w->sa), INSN_MAKE(OP_RET, 0)};
    promo_insn pb[] = {INSN_MAKE(OP_L_CAT_IN, w->sb), INSN_MAKE(OP_RET, 0)};
    promo_insn px[] = {INSN_MAKE(OP_L_BRAND_EQ, w->kx), INSN_MAKE(OP_RET, 0)};
    w->pa = tb_block(t, PB_BLOCK_PRED, pa, 2, 1);
    w->pb = tb_block(t, PB_BLOCK_PRED, pb, 2, 1);
    w->px = tb_block(t, PB_BLOCK_PRED, px, 2, 1);
}

/* NULL (and *err filled) when the verifier rejects the bundle. */
static promo_bundle *world_try_load(world *w, char *err, size_t errlen) {
    size_t len = 0;
    unsigned char *mem = tb_finish(&w->t, &len);
    tb_free(&w->t);
    promo_bundle *b = NULL;
    if (bundle_load_owned(mem, len, &b, err, errlen) != PROMO_OK) return NULL;
    return b;
}

static promo_bundle *world_load(world *w) {
    char err[256] = "";
    promo_bundle *b = world_try_load(w, err, sizeof err);
    cr_assert_not_null(b, "hand-made bundle rejected: %s", err);
    return b;
}

/* Lines of the hand-made worlds: every subset of categories {a, b, c}, brand none, "x",
 * "y" or "z", SKU "x" or "s", quantity 1 or 2; amount 10.00 or 40.00. */
static uint32_t world_lines(ltpl *out) {
    static const char *const cats[] = {"a", "b", "c"};
    static const char *const brands[] = {NULL, "x", "y", "z"};
    uint32_t n = 0;
    for (uint32_t m = 0; m < 8; m++)
        for (uint32_t br = 0; br < 4; br++)
            for (uint32_t sk = 0; sk < 2; sk++)
                for (int64_t q = 1000; q <= 2000; q += 1000) {
                    ltpl *l = &out[n++];
                    memset(l, 0, sizeof *l);
                    for (uint32_t k = 0; k < 3; k++)
                        if (m >> k & 1) l->anc[l->nanc++] = h(cats[k]);
                    l->brand = brands[br] ? h(brands[br]) : 0;
                    l->sku = h(sk ? "s" : "x");
                    l->qty = q;
                    l->amount = q == 1000 ? 1000 : 4000;
                }
    return n; /* 128 */
}

/* A smaller universe for COND blocks: categories subset, brand none or "x",
 * amount 10.00 or 40.00; SKU per line. */
static uint32_t world_cond_lines(ltpl *out) {
    uint32_t n = 0;
    static const char *const cats[] = {"a", "b", "c"};
    static const char *const skus[] = {"s0", "s1", "s2", "s3"};
    for (uint32_t m = 0; m < 8; m++)
        for (uint32_t br = 0; br < 2; br++)
            for (int64_t amt = 1000; amt <= 4000; amt += 3000) {
                ltpl *l = &out[n++];
                memset(l, 0, sizeof *l);
                for (uint32_t k = 0; k < 3; k++)
                    if (m >> k & 1) l->anc[l->nanc++] = h(cats[k]);
                l->brand = br ? h("x") : 0;
                l->sku = h(skus[n % 4]);
                l->qty = 1000;
                l->amount = amt;
            }
    return n; /* 32 */
}

/* need_pred of a hand-made PRED block (added last), checked against the VM; *ntrue:
 * lines of world_lines it is true for. */
static need_set hand_pred(const promo_insn *code, uint32_t n, uint32_t max_stack, uint32_t *ntrue) {
    world w;
    world_init(&w, 0);
    uint32_t blk = tb_block(&w.t, PB_BLOCK_PRED, code, n, max_stack);
    promo_bundle *b = world_load(&w);
    fx f;
    fx_init(&f, b);
    need_set s = need_pred(b, &f.a, blk);
    ltpl ls[128];
    uint32_t nl = world_lines(ls);
    uint32_t t = check_pred_sound(b, blk, &s, ls, nl);
    if (ntrue) *ntrue = t;
    promo_bundle_release(b);
    return s;
}

/* need_cond of a hand-made COND block (code built by `mk` from the world), checked
 * against the VM. */
typedef struct hcond {
    need_set out[8];
    int n;
    int64_t min;
    uint32_t ntrue;
    world w; /* set indices and PRED blocks, for building expectations */
} hcond;

typedef uint32_t (*mk_fn)(world *w, promo_insn *code, uint32_t *max_stack);

static void hand_cond(hcond *hc, mk_fn mk) {
    memset(hc, 0, sizeof *hc);
    world_init(&hc->w, 1);
    promo_insn code[64];
    uint32_t ms = 0, n = mk(&hc->w, code, &ms);
    uint32_t blk = tb_block(&hc->w.t, PB_BLOCK_COND, code, n, ms);
    promo_bundle *b = world_load(&hc->w);
    fx f;
    fx_init(&f, b);
    hc->min = 12345;
    hc->n = need_cond(b, &f.a, blk, hc->out, 8, &hc->min);
    cr_assert_geq(hc->n, 0);
    ltpl ls[32];
    uint32_t nl = world_cond_lines(ls);
    hc->ntrue = check_cond_sound(b, blk, hc->out, hc->n, hc->min, ls, nl);
    promo_bundle_release(b);
}

#define I(op, a) INSN_MAKE(OP_##op, a)
#define HAND_PRED(ntrue, ...)                                                                      \
    hand_pred((const promo_insn[]){__VA_ARGS__},                                                   \
              (uint32_t)(sizeof((const promo_insn[]){__VA_ARGS__}) / sizeof(promo_insn)), 3,       \
              ntrue)

/* World set indices are fixed by world_init: a 0, b 1, c 2, {x, y} 3; "x" 0, "y" 1. */
enum { SA = 0, SB = 1, SC = 2, SXY = 3, KX = 0, KY = 1 };

Test(need_hand, world_indices_are_as_assumed) {
    world w;
    world_init(&w, 1);
    cr_assert_eq(w.sa, SA);
    cr_assert_eq(w.sb, SB);
    cr_assert_eq(w.sc, SC);
    cr_assert_eq(w.sxy, SXY);
    cr_assert_eq(w.kx, KX);
    cr_assert_eq(w.ky, KY);
    tb_free(&w.t);
}

Test(need_hand, jt_keep_or_is_the_union) {
    uint32_t nt = 0;
    need_set s =
        HAND_PRED(&nt, I(L_CAT_IN, SA), I(JT_KEEP, 1), I(L_CAT_IN, SB), I(RET, 0)); /* a or b */
    ASSERT_NEED(s, AT_CAT + SA, AT_CAT + SB);
    cr_assert_eq(nt, 96); /* 6 of the 8 category subsets, 16 lines each */
}

Test(need_hand, jf_keep_and_is_one_of_them) {
    uint32_t nt = 0;
    need_set s = HAND_PRED(&nt, I(L_CAT_IN, SA), I(JF_KEEP, 1), I(L_CAT_IN, SB), I(RET, 0));
    cr_assert_eq(s.n, 1);
    cr_assert(s.at[0] == AT_CAT + SA || s.at[0] == AT_CAT + SB, "atom %u", s.at[0]);
    cr_assert_eq(nt, 32);
}

Test(need_hand, or_then_and_is_the_union) {
    /* (a or b) and brand in {x, y} */
    need_set s = HAND_PRED(NULL, I(L_CAT_IN, SA), I(JT_KEEP, 1), I(L_CAT_IN, SB), I(JF_KEEP, 2),
                           I(L_BRAND, 0), I(IN_SET, SXY), I(RET, 0));
    cr_assert(s.n == 1 || s.n == 2);
    if (s.n == 1)
        cr_assert_eq(s.at[0], AT_BRAND + SXY);
    else
        ASSERT_NEED(s, AT_CAT + SA, AT_CAT + SB);
}

Test(need_hand, known_zero_path_cannot_reach_the_or) {
    /* (a and b) or c: the path where a is 0 jumps into the JT_KEEP with a known 0 and
     * never takes it, so the or's left side needs b. */
    need_set s = HAND_PRED(NULL, I(L_CAT_IN, SA), I(JF_KEEP, 1), I(L_CAT_IN, SB), I(JT_KEEP, 1),
                           I(L_CAT_IN, SC), I(RET, 0));
    ASSERT_NEED(s, AT_CAT + SB, AT_CAT + SC);
}

Test(need_hand, and_chain_needs_one_of_its_terms) {
    need_set s = HAND_PRED(NULL, I(L_CAT_IN, SA), I(JF_KEEP, 1), I(L_CAT_IN, SB), I(JF_KEEP, 1),
                           I(L_CAT_IN, SC), I(RET, 0));
    cr_assert_eq(s.n, 1);
    cr_assert(s.at[0] >= AT_CAT + SA && s.at[0] <= AT_CAT + SC, "atom %u", s.at[0]);
}

Test(need_hand, ret_in_the_middle_gives_no_need) {
    /* a ? a : 1 — true for every line, though the last RET returns a */
    uint32_t nt = 0;
    need_set s = HAND_PRED(&nt, I(L_CAT_IN, SA), I(JT_KEEP, 2), I(PUSH_I, 1), I(RET, 0), I(RET, 0));
    cr_assert_eq(s.n, 0);
    cr_assert_eq(nt, 128);
}

Test(need_hand, not_gives_no_need) {
    uint32_t nt = 0;
    cr_assert_eq(HAND_PRED(&nt, I(L_CAT_IN, SA), I(NOT, 0), I(RET, 0)).n, 0);
    cr_assert_eq(nt, 64);
    cr_assert_eq(HAND_PRED(&nt, I(L_CAT_IN, SA), I(NOT, 0), I(NOT, 0), I(RET, 0)).n, 0);
    cr_assert_eq(nt, 64);
}

Test(need_hand, eq_atom_opcodes_are_their_own_need) {
    ASSERT_NEED(HAND_PRED(NULL, I(L_BRAND_EQ, KX), I(RET, 0)), AT_BRAND_K + KX);
    ASSERT_NEED(HAND_PRED(NULL, I(L_SKU_EQ, KY), I(RET, 0)), AT_SKU_K + KY);
    /* the plain sequences are no atom (opcodes.h: facts are columns, not shapes) */
    cr_assert_eq(HAND_PRED(NULL, I(PUSH_K, KX), I(L_BRAND, 0), I(SEQ, 0), I(RET, 0)).n, 0);
    cr_assert_eq(HAND_PRED(NULL, I(L_SKU, 0), I(PUSH_K, KY), I(SEQ, 0), I(RET, 0)).n, 0);
}

Test(need_hand, seq_without_an_indexed_constant_gives_no_need) {
    /* an immediate has no constant index; a category hash has no atom */
    cr_assert_eq(HAND_PRED(NULL, I(L_BRAND, 0), I(PUSH_I, 5), I(SEQ, 0), I(RET, 0)).n, 0);
    cr_assert_eq(HAND_PRED(NULL, I(L_CATEGORY, 0), I(PUSH_K, KX), I(SEQ, 0), I(RET, 0)).n, 0);
    cr_assert_eq(HAND_PRED(NULL, I(L_SKU, 0), I(L_BRAND, 0), I(SEQ, 0), I(RET, 0)).n, 0);
    cr_assert_eq(HAND_PRED(NULL, I(L_BRAND, 0), I(PUSH_K, KX), I(SNE, 0), I(RET, 0)).n, 0);
}

Test(need_hand, in_atom_opcodes_are_their_own_need) {
    ASSERT_NEED(HAND_PRED(NULL, I(L_SKU_IN, SXY), I(RET, 0)), AT_SKU + SXY);
    ASSERT_NEED(HAND_PRED(NULL, I(L_BRAND_IN, SXY), I(RET, 0)), AT_BRAND + SXY);
    cr_assert_eq(HAND_PRED(NULL, I(L_SKU, 0), I(IN_SET, SXY), I(RET, 0)).n, 0);
    cr_assert_eq(HAND_PRED(NULL, I(L_CATEGORY, 0), I(IN_SET, SXY), I(RET, 0)).n, 0);
}

/* `v op c` (or `c op v` when const_first) with v = category a (0 or 1). */
typedef struct cmpcase {
    promo_opcode op;
    int32_t c;
    int const_first;
    int needs; /* the comparison is false at v = 0 */
} cmpcase;

Test(need_hand, comparisons_need_the_atom_only_when_false_at_zero) {
    static const cmpcase cases[] = {
        {OP_GE, 1, 0, 1}, {OP_GE, 0, 0, 0}, {OP_GT, 0, 0, 1}, {OP_GT, -1, 0, 0}, {OP_EQ, 1, 0, 1},
        {OP_EQ, 0, 0, 0}, {OP_NE, 0, 0, 1}, {OP_NE, 1, 0, 0}, {OP_LT, 1, 0, 0},  {OP_LE, 0, 0, 0},
        {OP_LE, 1, 1, 1}, {OP_LE, 0, 1, 0}, {OP_LT, 0, 1, 1}, {OP_LT, -1, 1, 0}, {OP_EQ, 1, 1, 1},
        {OP_NE, 0, 1, 1}, {OP_GE, 1, 1, 0}, {OP_GT, 1, 1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const cmpcase *k = &cases[i];
        promo_insn v = I(L_CAT_IN, SA), c = INSN_MAKE(OP_PUSH_I, (uint32_t)k->c & INSN_A_MAX);
        promo_insn code[] = {k->const_first ? c : v, k->const_first ? v : c, INSN_MAKE(k->op, 0),
                             I(RET, 0)};
        uint32_t nt = 0;
        need_set s = hand_pred(code, 4, 2, &nt);
        if (k->needs)
            ASSERT_NEED(s, AT_CAT + SA);
        else
            cr_assert_eq(s.n, 0, "case %zu: %u atoms", i, s.n);
    }
}

static uint32_t mk_any_a_ret(world *w, promo_insn *code, uint32_t *ms) {
    *ms = 1;
    code[0] = I(AGG_ANY, w->pa);
    code[1] = I(RET, 0);
    return 2;
}

Test(need_hand, cond_returning_an_aggregate_needs_it) {
    hcond hc;
    hand_cond(&hc, mk_any_a_ret);
    cr_assert_eq(hc.n, 1);
    ASSERT_NEED(hc.out[0], AT_CAT + SA);
    cr_assert_eq(hc.min, INT64_MIN);
}

/* any(a) or (ASSERT any(b); 1): the ASSERT is jumped over when a holds. */
static uint32_t mk_jump_over_assert(world *w, promo_insn *code, uint32_t *ms) {
    promo_insn c[] = {I(AGG_ANY, w->pa),  I(JT_KEEP, 3), I(AGG_ANY, w->pb),
                      I(ASSERT, w->part), I(PUSH_I, 1),  I(RET, 0)};
    memcpy(code, c, sizeof c);
    *ms = 1;
    return 6;
}

Test(need_hand, assert_jumped_over_is_not_required_alone) {
    hcond hc;
    hand_cond(&hc, mk_jump_over_assert);
    cr_assert_eq(hc.n, 1);
    ASSERT_NEED(hc.out[0], AT_CAT + SA, AT_CAT + SB);
    cr_assert_gt(hc.ntrue, 0);
}

/* any(a) or total >= 50.00 via an ASSERT that is jumped over. */
static uint32_t mk_jump_over_total(world *w, promo_insn *code, uint32_t *ms) {
    promo_insn c[] = {I(AGG_ANY, w->pa), I(JT_KEEP, 5),      I(R_TOTAL, 0), I(PUSH_I, 5000),
                      I(GE, 0),          I(ASSERT, w->part), I(PUSH_I, 1),  I(RET, 0)};
    memcpy(code, c, sizeof c);
    *ms = 2;
    return 8;
}

Test(need_hand, total_assert_jumped_over_is_no_bound) {
    hcond hc;
    hand_cond(&hc, mk_jump_over_total);
    cr_assert_eq(hc.n, 0);
    cr_assert_eq(hc.min, INT64_MIN);
}

/* ASSERT any(a); then any(b) ? any(b) : 1 with a RET in the middle. */
static uint32_t mk_assert_then_mid_ret(world *w, promo_insn *code, uint32_t *ms) {
    promo_insn c[] = {I(AGG_ANY, w->pa), I(ASSERT, w->part), I(AGG_ANY, w->pb), I(JT_KEEP, 2),
                      I(PUSH_I, 1),      I(RET, 0),          I(RET, 0)};
    memcpy(code, c, sizeof c);
    *ms = 1;
    return 7;
}

Test(need_hand, assert_before_a_middle_ret_is_required) {
    hcond hc;
    hand_cond(&hc, mk_assert_then_mid_ret);
    cr_assert_eq(hc.n, 1);
    ASSERT_NEED(hc.out[0], AT_CAT + SA);
}

/* any(b) ? (ASSERT any(a) && total >= 50.00; any(b)) : 1 — the checks after the middle
 * RET are on one path only. */
static uint32_t mk_mid_ret_then_assert(world *w, promo_insn *code, uint32_t *ms) {
    promo_insn c[] = {I(AGG_ANY, w->pb), I(JT_KEEP, 2),      I(PUSH_I, 1),  I(RET, 0),
                      I(AGG_ANY, w->pa), I(ASSERT, w->part), I(R_TOTAL, 0), I(PUSH_I, 5000),
                      I(GE, 0),          I(ASSERT, w->part), I(RET, 0)};
    memcpy(code, c, sizeof c);
    *ms = 3;
    return 11;
}

Test(need_hand, asserts_after_a_middle_ret_are_not_required) {
    hcond hc;
    hand_cond(&hc, mk_mid_ret_then_assert);
    cr_assert_eq(hc.n, 0);
    cr_assert_eq(hc.min, INT64_MIN);
}

/* any(b) jumps with any(a) below it; the other path replaces that slot with
 * not any(a): after the join the slot is neither, so ASSERTing it needs nothing. */
static uint32_t mk_slot_below_differs(world *w, promo_insn *code, uint32_t *ms) {
    promo_insn c[] = {I(AGG_ANY, w->pa),  I(AGG_ANY, w->pb), I(JT_KEEP, 2),
                      I(NOT, 0),          I(PUSH_I, 1),      I(ASSERT, w->part),
                      I(ASSERT, w->part), I(PUSH_I, 1),      I(RET, 0)};
    memcpy(code, c, sizeof c);
    *ms = 2;
    return 9;
}

Test(need_hand, value_below_the_top_differs_after_a_join) {
    hcond hc;
    hand_cond(&hc, mk_slot_below_differs);
    cr_assert_eq(hc.n, 0);
    cr_assert_gt(hc.ntrue, 0);
}

static uint32_t mk_not_any(world *w, promo_insn *code, uint32_t *ms) {
    promo_insn c[] = {I(AGG_ANY, w->pa), I(NOT, 0), I(ASSERT, w->part), I(PUSH_I, 1), I(RET, 0)};
    memcpy(code, c, sizeof c);
    *ms = 1;
    return 5;
}

Test(need_hand, cond_not_any_needs_nothing) {
    hcond hc;
    hand_cond(&hc, mk_not_any);
    cr_assert_eq(hc.n, 0);
}

static uint32_t mk_all_lines(world *w, promo_insn *code, uint32_t *ms) {
    (void)w;
    promo_insn c[] = {I(AGG_ANY, PRED_ALL_LINES), I(ASSERT, 0), I(PUSH_I, 1), I(RET, 0)};
    memcpy(code, c, sizeof c);
    *ms = 1;
    return 4;
}

Test(need_hand, aggregate_over_all_lines_needs_nothing) {
    hcond hc;
    hand_cond(&hc, mk_all_lines);
    cr_assert_eq(hc.n, 0);
}

/* 100.00 < total, as the last value. */
static uint32_t mk_const_lt_total(world *w, promo_insn *code, uint32_t *ms) {
    (void)w;
    promo_insn c[] = {I(PUSH_I, 10000), I(R_TOTAL, 0), I(LT, 0), I(RET, 0)};
    memcpy(code, c, sizeof c);
    *ms = 2;
    return 4;
}

Test(need_hand, constant_below_total_is_a_bound) {
    hcond hc;
    hand_cond(&hc, mk_const_lt_total);
    cr_assert_eq(hc.n, 0);
    cr_assert_eq(hc.min, 10001);
}

/* 10.00 <= original_total; total < 100.00 */
static uint32_t mk_le_and_lt(world *w, promo_insn *code, uint32_t *ms) {
    promo_insn c[] = {I(PUSH_I, 1000), I(R_ORIG_TOTAL, 0), I(LE, 0), I(ASSERT, w->part),
                      I(R_TOTAL, 0),   I(PUSH_I, 10000),   I(LT, 0), I(ASSERT, w->part),
                      I(PUSH_I, 1),    I(RET, 0)};
    memcpy(code, c, sizeof c);
    *ms = 2;
    return 10;
}

Test(need_hand, upper_bounds_on_total_are_ignored) {
    hcond hc;
    hand_cond(&hc, mk_le_and_lt);
    cr_assert_eq(hc.n, 0);
    cr_assert_eq(hc.min, 1000);
}

/* total > INT64_MAX (a constant): no bound, and no overflow computing one. */
static uint32_t mk_total_gt_max(world *w, promo_insn *code, uint32_t *ms) {
    (void)code;
    pb_const k = {INT64_MAX, PB_NONE, 1};
    uint32_t ki = tb_add(&w->t, PBS_CONSTS, &k, sizeof k);
    promo_insn c[] = {I(R_TOTAL, 0), I(PUSH_K, ki), I(GT, 0), I(RET, 0)};
    memcpy(code, c, sizeof c);
    *ms = 2;
    return 4;
}

Test(need_hand, total_above_int64_max_is_no_bound) {
    hcond hc;
    hand_cond(&hc, mk_total_gt_max);
    cr_assert_eq(hc.n, 0);
    cr_assert_eq(hc.min, INT64_MIN);
    cr_assert_eq(hc.ntrue, 0);
}

/* ---------------------------------------------------- random verified blocks ---- */

typedef struct rng {
    uint64_t s;
} rng;

static uint32_t rnd(rng *r, uint32_t n) {
    r->s = r->s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(r->s >> 33) % n;
}

#define GEN_MAX 48

typedef struct gen {
    promo_insn code[GEN_MAX];
    int din[GEN_MAX]; /* depth falling into each instruction */
    int jump[GEN_MAX];
    uint32_t n;
    int d, maxd;
} gen;

static void gen_emit(gen *g, promo_insn i, int pops, int pushes) {
    cr_assert_lt(g->n, GEN_MAX);
    g->din[g->n] = g->d;
    g->code[g->n++] = i;
    g->d += pushes - pops;
    if (g->d > g->maxd) g->maxd = g->d;
}

/* A leaf: pushes one value. */
static void gen_leaf(gen *g, rng *r, const world *w, int cond, const uint32_t *preds,
                     uint32_t npreds) {
    if (cond) {
        static const int32_t imm[] = {-1, 0, 1, 1000, 2000, 5000, 9000};
        static const promo_opcode agg[] = {OP_AGG_SUM, OP_AGG_COUNT, OP_AGG_ANY, OP_AGG_DISTINCT};
        static const promo_opcode cmp[] = {OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE};
        uint32_t p = rnd(r, npreds + 1);
        promo_insn ag = INSN_MAKE(agg[rnd(r, 4)], p < npreds ? preds[p] : PRED_ALL_LINES);
        promo_insn tot = INSN_MAKE(rnd(r, 2) ? OP_R_TOTAL : OP_R_ORIG_TOTAL, 0);
        promo_insn k = INSN_MAKE(OP_PUSH_I, (uint32_t)imm[rnd(r, 7)] & INSN_A_MAX);
        uint32_t pick = rnd(r, 6);
        switch (pick) {
        case 0:
        case 1: gen_emit(g, ag, 0, 1); return;
        case 2: gen_emit(g, tot, 0, 1); return;
        case 3: gen_emit(g, k, 0, 1); return;
        default: {
            /* `fact op constant` either way round, the compiler's shape of a comparison */
            promo_insn f = pick == 4 ? tot : ag;
            int swap = rnd(r, 3) == 0;
            gen_emit(g, swap ? k : f, 0, 1);
            gen_emit(g, swap ? f : k, 0, 1);
            gen_emit(g, INSN_MAKE(cmp[rnd(r, 6)], 0), 2, 1);
            return;
        }
        }
    }
    switch (rnd(r, 9)) {
    case 0:
    case 1:
    case 2: gen_emit(g, INSN_MAKE(OP_L_CAT_IN, w->sa + rnd(r, 3)), 0, 1); return;
    case 3:
        gen_emit(g, INSN_MAKE(OP_PUSH_I, (uint32_t)((int32_t)rnd(r, 4) - 1) & INSN_A_MAX), 0, 1);
        return;
    case 4:
        if (rnd(r, 3) == 0) { /* the plain sequence: not an atom, still sound */
            gen_emit(g, INSN_MAKE(rnd(r, 2) ? OP_L_BRAND : OP_L_SKU, 0), 0, 1);
            gen_emit(g, INSN_MAKE(OP_IN_SET, w->sxy), 1, 1);
            return;
        }
        gen_emit(g, INSN_MAKE(rnd(r, 2) ? OP_L_BRAND_IN : OP_L_SKU_IN, w->sxy), 0, 1);
        return;
    case 5:
        if (rnd(r, 3) == 0) {
            gen_emit(g, INSN_MAKE(rnd(r, 2) ? OP_L_BRAND : OP_L_SKU, 0), 0, 1);
            gen_emit(g, INSN_MAKE(OP_PUSH_K, rnd(r, 2) ? w->kx : w->ky), 0, 1);
            gen_emit(g, INSN_MAKE(OP_SEQ, 0), 2, 1);
            return;
        }
        gen_emit(g, INSN_MAKE(rnd(r, 2) ? OP_L_BRAND_EQ : OP_L_SKU_EQ, rnd(r, 2) ? w->kx : w->ky),
                 0, 1);
        return;
    case 6: gen_emit(g, INSN_MAKE(OP_L_QTY, 0), 0, 1); return;
    case 7: gen_emit(g, INSN_MAKE(rnd(r, 2) ? OP_L_BRAND : OP_L_SKU, 0), 0, 1); return;
    default: gen_emit(g, INSN_MAKE(OP_PUSH_K, rnd(r, 2) ? w->kx : w->ky), 0, 1); return;
    }
}

/* A random block whose jumps land where the depth agrees; 0 when no target fits. */
static int gen_block(gen *g, rng *r, const world *w, int cond, const uint32_t *preds,
                     uint32_t npreds) {
    static const promo_opcode bin[] = {OP_EQ, OP_NE,  OP_LT,  OP_LE, OP_GT,
                                       OP_GE, OP_ADD, OP_SEQ, OP_SNE};
    memset(g, 0, sizeof *g);
    uint32_t steps = 2 + rnd(r, 14);
    uint32_t rets[GEN_MAX], nrets = 0;
    for (uint32_t k = 0; k < steps && g->n < GEN_MAX - 16; k++) {
        uint32_t a = g->d == 0 ? 0 : rnd(r, 10);
        if (g->d >= 5 && a <= 2) a = 4;
        if (a <= 2) {
            gen_leaf(g, r, w, cond, preds, npreds);
        } else if (a == 4 && g->d >= 2) {
            gen_emit(g, INSN_MAKE(bin[rnd(r, 9)], 0), 2, 1);
        } else if (a == 4) {
            gen_leaf(g, r, w, cond, preds, npreds);
        } else if (a >= 5 && a <= 7) {
            g->jump[g->n] = 1;
            gen_emit(g, INSN_MAKE(rnd(r, 2) ? OP_JF_KEEP : OP_JT_KEEP, 0), 1, 0);
        } else if (a == 8 && cond) {
            gen_emit(g, INSN_MAKE(OP_ASSERT, w->part), 1, 0);
        } else if (a == 9 && g->d == 1) {
            rets[nrets++] = g->n;
            gen_emit(g, INSN_MAKE(OP_RET, 0), 1, 0);
            g->d = 1; /* the next instruction is reached by a jump */
        } else {
            gen_emit(g, INSN_MAKE(rnd(r, 3) ? OP_NOT : OP_NEG, 0), 1, 1);
        }
    }
    while (g->d > 1)
        gen_emit(g, INSN_MAKE(bin[rnd(r, 9)], 0), 2, 1);
    if (g->d == 0) gen_leaf(g, r, w, cond, preds, npreds);
    gen_emit(g, INSN_MAKE(OP_RET, 0), 1, 0);
    int target[GEN_MAX];
    for (uint32_t pc = 0; pc < g->n; pc++)
        target[pc] = -1;
    /* each middle RET: an earlier jump at depth 1 lands right after it */
    for (uint32_t q = 0; q < nrets; q++) {
        uint32_t cand[GEN_MAX], nc = 0;
        for (uint32_t pc = 0; pc < rets[q]; pc++)
            if (g->jump[pc] && target[pc] < 0 && g->din[pc] == 1) cand[nc++] = pc;
        if (nc == 0) return 0;
        target[cand[rnd(r, nc)]] = (int)rets[q] + 1;
    }
    for (uint32_t pc = 0; pc < g->n; pc++) {
        if (!g->jump[pc] || target[pc] >= 0) continue;
        uint32_t cand[GEN_MAX], nc = 0;
        for (uint32_t t = pc + 1; t < g->n; t++)
            if (g->din[t] == g->din[pc]) cand[nc++] = t;
        if (nc == 0) return 0;
        target[pc] = (int)cand[rnd(r, nc)];
    }
    for (uint32_t pc = 0; pc < g->n; pc++)
        if (g->jump[pc])
            g->code[pc] = INSN_MAKE(INSN_OP(g->code[pc]), (uint32_t)target[pc] - pc - 1);
    return 1;
}

/* Random PRED blocks: every need reported must hold for every line the block is true
 * for. Also counts how often a need was found, so the check is not vacuous. */
Test(need_random, pred_needs_are_sound) {
    rng r = {20260605};
    uint32_t tried = 0, loaded = 0, withneed = 0;
    ltpl ls[128];
    uint32_t nl = world_lines(ls);
    for (tried = 0; loaded < 3000 && tried < 12000; tried++) {
        world w;
        world_init(&w, 0);
        gen g;
        if (!gen_block(&g, &r, &w, 0, NULL, 0)) {
            tb_free(&w.t);
            continue;
        }
        uint32_t blk = tb_block(&w.t, PB_BLOCK_PRED, g.code, g.n, (uint32_t)g.maxd);
        char err[256];
        promo_bundle *b = world_try_load(&w, err, sizeof err);
        cr_assert_not_null(b, "random block %u rejected: %s", tried, err);
        loaded++;
        fx f;
        fx_init(&f, b);
        need_set s = need_pred(b, &f.a, blk);
        if (s.n) withneed++;
        check_pred_sound(b, blk, &s, ls, nl);
        promo_bundle_release(b);
    }
    cr_assert_eq(loaded, 3000, "only %u of %u random blocks generated", loaded, tried);
    cr_assert_gt(withneed, 200, "only %u of %u blocks had a need", withneed, loaded);
}

/* Random COND blocks over fixed and random PRED blocks: requirements and min_total
 * must hold whenever the block is true. */
Test(need_random, cond_needs_are_sound) {
    rng r = {7};
    uint32_t tried = 0, loaded = 0, withneed = 0, withmin = 0;
    ltpl ls[32];
    uint32_t nl = world_cond_lines(ls);
    for (tried = 0; loaded < 1500 && tried < 6000; tried++) {
        world w;
        world_init(&w, 1);
        uint32_t preds[6] = {w.pa, w.pb, w.px};
        uint32_t np = 3;
        for (int k = 0; k < 3; k++) {
            gen pg;
            if (!gen_block(&pg, &r, &w, 0, NULL, 0)) continue;
            preds[np++] = tb_block(&w.t, PB_BLOCK_PRED, pg.code, pg.n, (uint32_t)pg.maxd);
        }
        gen g;
        if (!gen_block(&g, &r, &w, 1, preds, np)) {
            tb_free(&w.t);
            continue;
        }
        uint32_t blk = tb_block(&w.t, PB_BLOCK_COND, g.code, g.n, (uint32_t)g.maxd);
        char err[256];
        promo_bundle *b = world_try_load(&w, err, sizeof err);
        cr_assert_not_null(b, "random block %u rejected: %s", tried, err);
        loaded++;
        fx f;
        fx_init(&f, b);
        need_set out[8];
        int64_t min = 0;
        int n = need_cond(b, &f.a, blk, out, 8, &min);
        cr_assert_geq(n, 0);
        if (n > 0) withneed++;
        if (min != INT64_MIN) withmin++;
        check_cond_sound(b, blk, out, n, min, ls, nl);
        promo_bundle_release(b);
    }
    cr_assert_eq(loaded, 1500, "only %u of %u random blocks generated", loaded, tried);
    cr_assert_gt(withneed, 120, "only %u of %u blocks had a requirement", withneed, loaded);
    cr_assert_gt(withmin, 25, "only %u of %u blocks had a total bound", withmin, loaded);
}
