/*
 * test_mask.c — line-mask programs (runtime stage "stacking"): runtime/prefilter.c
 * compiles a PRED block made only of indexed tests, `excluded`, `qty` / `original_price`
 * against a constant, `not`, `and`, `or` into a postfix program over line bitmasks
 * (pf_index.mprog), and runtime/vm.c vm_pred_mask runs it for every line of a receipt
 * at once.
 *
 * The oracle is the VM itself: every mask bit must equal vm_run on the same block for
 * that line, run with no index and no memo (the plain bytecode). Receipts of 0 to 300
 * lines are built here exactly as runtime/stacking.c builds them (stk_cat_receipt,
 * stk_memo_receipt), with the memo buffers reused from receipt to receipt and filled
 * with garbage in between. Shapes outside the programs must get none and still evaluate
 * right through vm_pred; and the same predicates go end to end through promo_eval,
 * checked against their meaning written in C.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "eval_helpers.h"
#include "hash.h"
#include "prefilter.h"
#include "promo.h"
#include "vm.h"

/* Sets in `bits` the atom bits of the sets of `kind` holding h: the lookup of the line
 * index done by hand (line-major bits, transposed below), independently of the engine's
 * pf_atom_mark. */
static void mx_cat_lookup(const pf_index *ix, uint64_t *bits, uint32_t kind, uint64_t h) {
    if (!h) return;
    for (uint32_t p = (uint32_t)h & ix->catmap_mask; ix->catmap[p].h;
         p = (p + 1) & ix->catmap_mask) {
        if (ix->catmap[p].h != h) continue;
        for (uint32_t k = 0; k < ix->catmap[p].kindcnt; k++) {
            const pf_catpair *e = &ix->catpairs[ix->catmap[p].off + k];
            if (e->kind == kind) bits[e->set / 64] |= 1ull << (e->set % 64);
        }
        return;
    }
}

#define MX_MAX 300u /* lines of the largest receipt */
#define MX_W   ((MX_MAX + 63) / 64)
#define MX_ANC 4u /* category hashes per line: the pools have at most 3 '/' */

/* ------------------------------------------------------------------ lines ---- */

typedef struct mx_line {
    const char *sku, *cat, *brand; /* NULL: absent */
    int64_t qty, price;            /* thousandths, kopecks */
    int excluded;
} mx_line;

static uint64_t rnd(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#define PICK(s, arr) (arr[rnd(s) % (sizeof(arr) / sizeof(arr[0]))])

static const char *const cats[] = {"dairy/milk/x", "dairy/milk", "dairy",        "dairy/cheese",
                                   "dairyland",    "bakery",     "bakery/bread", "a",
                                   "a/b",          "b",          "zz",           NULL};
static const char *const brands[] = {"X", "x", "A", "B", "b", "Q", NULL};
static const char *const skus[] = {"1", "2", "7", "10", "x", NULL};
/* Thresholds of the predicates (1, 1.5, 2, 0.5, 3) and their neighbours, weights. */
static const int64_t qtys[] = {1,    250,  500,  501,  999,  1000, 1000, 1001, 1500,
                               1501, 1999, 2000, 2000, 2001, 2500, 3000, 3000, 10000};
/* Kopecks around 50.50 and 100.00. */
static const int64_t prices[] = {0, 1, 99, 5049, 5050, 5051, 9999, 10000, 10001, 25000, 123457};

static void gen_lines(mx_line *out, uint32_t n, uint64_t seed) {
    uint64_t s = seed;
    for (uint32_t i = 0; i < n; i++)
        out[i] = (mx_line){PICK(&s, skus), PICK(&s, cats),   PICK(&s, brands),
                           PICK(&s, qtys), PICK(&s, prices), rnd(&s) % 6 == 0};
}

static uint64_t hs(const char *s) {
    return s ? promo_hash(s, strlen(s)) : 0;
}

static int64_t amount_of(const mx_line *l) { /* round_half_up(qty * price) */
    return (l->qty * l->price + 500) / 1000;
}

/* ---------------------------------------------------------------- fixture ---- */

/* A bundle, its index and one receipt at a time, with an env like the stacking
 * engine's (index and memo on) and a plain one (neither) for the oracle. */
typedef struct mx {
    promo_bundle *b;
    pf_index *ix;
    uint32_t n, lw;
    mx_line spec[MX_MAX];
    vm_line lines[MX_MAX];
    uint64_t anc[MX_MAX * MX_ANC];
    vm_receipt rx;
    uint64_t seen[1024];
    uint64_t *cat_bits, *alines, *exm; /* stk_cat_receipt's arrays */
    uint64_t *memo_bits;               /* stk_memo_receipt's, kept across receipts */
    uint32_t *memo_stamp;
    uint32_t epoch;
    vm_env env, plain;
    int oracle[MX_MAX];
} mx;

static void mx_close(mx *m);

/* The fixtures open in the test: a failing assertion ends the test before mx_close, so
 * the test's .fini closes them (no leak reports from the sanitizer build). */
static mx *mx_live[4];

static void mx_fini(void) {
    for (uint32_t i = 0; i < 4; i++)
        if (mx_live[i]) mx_close(mx_live[i]);
}

static mx *mx_open(const char *src) {
    mx *m = calloc(1, sizeof *m);
    cr_assert_not_null(m);
    for (uint32_t i = 0; i < 4; i++)
        if (!mx_live[i]) {
            mx_live[i] = m;
            break;
        }
    m->b = eh_compile(src);
    cr_assert_not_null(m->b, "compile failed:\n%s", src);
    cr_assert_eq(pf_build(m->b, NULL, &m->ix), PROMO_OK);
    const pf_index *ix = m->ix;
    uint32_t cw = (ix->ncat + 63) / 64;
    m->memo_stamp = calloc((size_t)ix->nmemo + 1, sizeof *m->memo_stamp);
    m->memo_bits = calloc((size_t)ix->nmemo * 2 * MX_W + 1, sizeof *m->memo_bits);
    m->cat_bits = calloc((size_t)MX_MAX * cw + 1, sizeof *m->cat_bits);
    m->alines = calloc((size_t)ix->ncat * MX_W + 1, sizeof *m->alines);
    m->exm = calloc(MX_W + 1, sizeof *m->exm);
    cr_assert(m->memo_stamp && m->memo_bits && m->cat_bits && m->alines && m->exm);
    return m;
}

static void mx_close(mx *m) {
    for (uint32_t i = 0; i < 4; i++)
        if (mx_live[i] == m) mx_live[i] = NULL;
    pf_free(m->ix);
    promo_bundle_release(m->b);
    free(m->memo_stamp);
    free(m->memo_bits);
    free(m->cat_bits);
    free(m->alines);
    free(m->exm);
    free(m);
}

/* Makes `ls` the current receipt: the vm_receipt as stk_receipt fills it, the atom
 * bits as stk_cat_receipt does, the memo as stk_memo_receipt does (a new epoch; the
 * bits of the previous receipts are left behind, scrambled). */
static void mx_receipt(mx *m, const mx_line *ls, uint32_t n) {
    cr_assert_leq(n, MX_MAX);
    const pf_index *ix = m->ix;
    m->n = n;
    m->lw = (n + 63) / 64;
    memcpy(m->spec, ls, n * sizeof *ls);
    uint32_t a = 0;
    int64_t total = 0, orig = 0;
    for (uint32_t i = 0; i < n; i++) {
        vm_line *v = &m->lines[i];
        memset(v, 0, sizeof *v);
        v->sku = hs(ls[i].sku);
        v->brand = hs(ls[i].brand);
        v->cat = hs(ls[i].cat);
        v->anc_off = a;
        if (ls[i].cat) {
            /* The category, then every '/'-prefix, longest first. */
            const char *p = ls[i].cat;
            m->anc[a++] = v->cat;
            for (size_t k = strlen(p); k-- > 0;)
                if (p[k] == '/') m->anc[a++] = promo_hash(p, k);
        }
        v->anc_cnt = a - v->anc_off;
        v->qty = ls[i].qty;
        v->price = ls[i].price;
        v->amount0 = amount_of(&ls[i]);
        /* Every fifth line as if an earlier campaign had discounted it: the current
         * price and amount differ from the original ones. */
        v->amount = i % 5 == 4 ? v->amount0 - v->amount0 / 3 : v->amount0;
        v->excluded = ls[i].excluded;
        total += v->amount;
        orig += v->amount0;
    }
    memset(&m->rx, 0, sizeof m->rx);
    m->rx.lines = m->lines;
    m->rx.nlines = n;
    m->rx.anc = m->anc;
    m->rx.total = total;
    m->rx.orig_total = orig;

    uint32_t cw = (ix->ncat + 63) / 64, lw = m->lw;
    memset(m->cat_bits, 0, ((size_t)n * cw + 1) * sizeof *m->cat_bits);
    memset(m->alines, 0, ((size_t)ix->ncat * lw + 1) * sizeof *m->alines);
    memset(m->exm, 0, (MX_W + 1) * sizeof *m->exm);
    for (uint32_t i = 0; i < n && ix->ncat; i++) { /* no atoms: no index (stk_cat_receipt) */
        const vm_line *l = &m->lines[i];
        uint64_t *bits = m->cat_bits + (size_t)i * cw;
        for (uint32_t k = 0; k < l->anc_cnt; k++)
            mx_cat_lookup(ix, bits, PF_LX_CAT, m->anc[l->anc_off + k]);
        mx_cat_lookup(ix, bits, PF_LX_BRAND, l->brand);
        mx_cat_lookup(ix, bits, PF_LX_SKU, l->sku);
        uint64_t lbit = 1ull << (i % 64);
        for (uint32_t w = 0; w < cw; w++)
            for (uint64_t x = bits[w]; x; x &= x - 1)
                m->alines[(size_t)(w * 64 + (uint32_t)__builtin_ctzll(x)) * lw + i / 64] |= lbit;
        if (l->excluded) m->exm[i / 64] |= lbit;
    }

    /* What the previous receipts left in the memo: garbage under old stamps. */
    for (size_t k = 0; k < (size_t)ix->nmemo * 2 * MX_W; k++)
        m->memo_bits[k] = 0xA5A5A5A5A5A5A5A5ull * (k + m->epoch + 1);
    m->epoch++;

    vm_env *e = &m->env;
    memset(e, 0, sizeof *e);
    e->b = m->b;
    e->rx = &m->rx;
    e->seen = m->seen;
    e->seen_mask = 1023;
    e->fail_part = PB_NONE;
    m->plain = *e;
    if (ix->nmemo) {
        e->memo_idx = ix->memo_idx;
        e->memo_stamp = m->memo_stamp;
        e->memo_bits = m->memo_bits;
        e->memo_words = lw;
        e->memo_epoch = m->epoch;
    }
    if (ix->ncat) {
        e->cat_idx = ix->cat_idx;
        e->brand_idx = ix->brand_idx;
        e->sku_idx = ix->sku_idx;
        e->brandk_idx = ix->brandk_idx;
        e->skuk_idx = ix->skuk_idx;
        e->pred_atom = ix->pred_atom;
        e->cat_words = cw;
        e->atom_lines = m->alines;
        e->atom_lw = lw;
        e->excl_lines = m->exm;
        e->mprog_off = ix->mprog_off;
        e->mprog = ix->mprog;
        e->cprog_off = ix->cprog_off;
        e->pred_need_off = ix->pred_need_off;
        e->pred_need_atoms = ix->pred_need_atoms;
    }
}

/* The same receipt evaluated afresh (what the stacking engine does per receipt). */
static void mx_new_epoch(mx *m) {
    m->epoch++;
    m->env.memo_epoch = m->epoch;
}

/* The PRED block of the first reward of campaign `id`. */
static uint32_t mx_pred(const mx *m, const char *id) {
    for (uint32_t i = 0; i < m->b->ncampaigns; i++)
        if (!strcmp(promo_bundle_campaign_id(m->b, i), id)) {
            const pb_campaign *c = &m->b->campaigns[i];
            cr_assert_geq(c->reward_cnt, 1);
            uint32_t p = m->b->rewards[c->reward_off].pred;
            cr_assert_neq(p, PRED_ALL_LINES, "campaign %s", id);
            cr_assert_eq(m->b->blocks[p].kind, PB_BLOCK_PRED);
            return p;
        }
    cr_assert_fail("no campaign %s", id);
    return 0;
}

static int mx_has_prog(const mx *m, uint32_t p) {
    return m->ix->mprog_off[p] != PF_NONE;
}

static const char *nz(const char *s) {
    return s ? s : "(none)";
}

#define LINE_FMT "line %u of %u (sku %s, category %s, brand %s, qty %lld, price %lld%s)"
#define LINE_ARGS(m, i)                                                                            \
    (i), (m)->n, nz((m)->spec[i].sku), nz((m)->spec[i].cat), nz((m)->spec[i].brand),               \
        (long long)(m)->spec[i].qty, (long long)(m)->spec[i].price,                                \
        (m)->spec[i].excluded ? ", excluded" : ""

/* vm_run on block p for every line with the plain VM, and the indexed VM agreeing
 * (the atom bits of the fixture are right). */
static void mx_oracle(mx *m, uint32_t p, const char *label) {
    for (uint32_t i = 0; i < m->n; i++) {
        int64_t v = 0, w = 0;
        cr_assert_eq(vm_run(&m->plain, p, i, &v), PROMO_OK);
        cr_assert_eq(vm_run(&m->env, p, i, &w), PROMO_OK);
        m->oracle[i] = v != 0 && v != PROMO_ABSENT;
        cr_assert_eq(w != 0 && w != PROMO_ABSENT, m->oracle[i],
                     "`%s`: indexed vm_run %lld, plain vm_run %lld on " LINE_FMT, label,
                     (long long)w, (long long)v, LINE_ARGS(m, i));
    }
}

/* `mask` holds exactly the oracle's lines (and nothing past the last line). */
static void mx_expect_mask(const mx *m, const uint64_t *mask, const char *label, const char *how) {
    cr_assert_not_null(mask, "%s: `%s` on %u lines: no mask", how, label, m->n);
    for (uint32_t i = 0; i < m->n; i++) {
        int bit = (int)(mask[i / 64] >> (i % 64) & 1);
        cr_assert_eq(bit, m->oracle[i], "%s: `%s`: mask bit %d, vm_run %d on " LINE_FMT, how, label,
                     bit, m->oracle[i], LINE_ARGS(m, i));
    }
    for (uint32_t i = m->n; i < m->lw * 64; i++)
        cr_assert_eq(mask[i / 64] >> (i % 64) & 1, 0,
                     "%s: `%s`: bit %u set past the last of %u lines (word %u = %016llx)", how,
                     label, i, m->n, i / 64, (unsigned long long)mask[i / 64]);
}

/* vm_pred on every line (in the order given by `step`: 1 forward, -1 backward, 3 every
 * third line) agrees with the oracle. */
static void mx_expect_pred(mx *m, uint32_t p, const char *label, const char *how, int step) {
    uint32_t n = m->n;
    for (uint32_t j = 0; j < n; j++) {
        uint32_t i = step == 1 ? j : step == -1 ? n - 1 - j : j * 3;
        if (i >= n) break;
        int match = -1;
        cr_assert_eq(vm_pred(&m->env, p, i, &match), PROMO_OK);
        cr_assert_eq(match, m->oracle[i], "%s: `%s`: vm_pred %d, vm_run %d on " LINE_FMT, how,
                     label, match, m->oracle[i], LINE_ARGS(m, i));
    }
}

/* A block with a current program (reads the current price): vm_pred_lines_now runs it
 * afresh on receipts of up to 64 lines, and gives exactly the VM's lines; never with more
 * lines, none or the index off. Every other block: vm_pred_lines_now is vm_pred_lines. */
static void mx_check_now(mx *m, uint32_t p, const char *label) {
    uint64_t tmp[VM_MASK_WORDS] = {0};
    int cur = m->ix->cprog_off[p] != PF_NONE;
    if (cur) {
        cr_assert_eq(m->ix->memo_idx[p], PF_NONE, "`%s`: a current program, memoised", label);
        cr_assert(!mx_has_prog(m, p), "`%s`: both programs", label);
    }
    const uint64_t *now = vm_pred_lines_now(&m->env, p, tmp);
    if (!cur) {
        cr_assert_eq(now, vm_pred_lines(&m->env, p), "`%s`: vm_pred_lines_now", label);
        return;
    }
    if (m->lw != 1) { /* none on an empty receipt either (the engine never asks) */
        cr_assert_null(now, "`%s`: a current mask for %u lines", label, m->n);
        return;
    }
    cr_assert_eq(now, tmp, "`%s`: the current mask is not in tmp", label);
    mx_expect_mask(m, now, label, "vm_pred_lines_now");
    const uint32_t *cat_idx = m->env.cat_idx;
    m->env.cat_idx = NULL;
    cr_assert_null(vm_pred_lines_now(&m->env, p, tmp), "`%s`: index off", label);
    m->env.cat_idx = cat_idx;
}

/* What block p must give on the current receipt, by every path and in every memo
 * state: mask first, lines first, a partially known memo, memo off. */
static void mx_check(mx *m, uint32_t p, const char *label) {
    const pf_index *ix = m->ix;
    int prog = mx_has_prog(m, p), fits = m->lw <= VM_MASK_WORDS;
    int atom = ix->pred_atom[p] != PF_NONE;
    uint64_t first[VM_MASK_WORDS + 1];
    mx_oracle(m, p, label);
    if (prog) cr_assert_neq(ix->memo_idx[p], PF_NONE, "`%s` has a program, no memo", label);

    /* The whole mask first, twice in the same epoch. */
    mx_new_epoch(m);
    if (prog) {
        const uint64_t *mask = vm_pred_mask(&m->env, p);
        if (fits) {
            mx_expect_mask(m, mask, label, "vm_pred_mask");
            memcpy(first, mask, m->lw * sizeof *mask);
            const uint64_t *again = vm_pred_mask(&m->env, p);
            cr_assert_eq(again, mask, "`%s`: a second call moved the mask", label);
            cr_assert_arr_eq(again, first, m->lw * sizeof *mask,
                             "`%s`: a second call in the epoch changed the mask", label);
            cr_assert_eq(vm_pred_lines(&m->env, p), mask, "`%s`: vm_pred_lines", label);
        } else {
            cr_assert_null(mask, "`%s`: a mask for %u lines (> %u words)", label, m->n,
                           VM_MASK_WORDS);
            cr_assert_null(vm_pred_lines(&m->env, p), "`%s`: vm_pred_lines, %u lines", label, m->n);
        }
    } else if (atom) {
        const uint64_t *al = vm_pred_lines(&m->env, p);
        mx_expect_mask(m, al, label, "vm_pred_lines (one atom)");
    } else {
        cr_assert_null(vm_pred_lines(&m->env, p), "`%s`: lines without a program", label);
    }
    mx_check_now(m, p, label);
    mx_expect_pred(m, p, label, "vm_pred after the mask", 1);

    /* Line by line first (backwards), then the mask from the memo. */
    mx_new_epoch(m);
    mx_expect_pred(m, p, label, "vm_pred first", -1);
    if (prog && fits) mx_expect_mask(m, vm_pred_mask(&m->env, p), label, "vm_pred_mask after");

    /* A memo that knows every third line (computed without the index), then the mask. */
    mx_new_epoch(m);
    const uint32_t *cat_idx = m->env.cat_idx;
    m->env.cat_idx = NULL;
    cr_assert_null(vm_pred_lines(&m->env, p), "`%s`: lines with the index off", label);
    mx_expect_pred(m, p, label, "vm_pred, index off", 3);
    m->env.cat_idx = cat_idx;
    if (prog && fits) mx_expect_mask(m, vm_pred_mask(&m->env, p), label, "mask over partial memo");
    mx_expect_pred(m, p, label, "vm_pred over partial memo", 1);

    /* Memo off: no mask, every line still right. */
    mx_new_epoch(m);
    const uint32_t *memo_idx = m->env.memo_idx;
    m->env.memo_idx = NULL;
    if (prog) {
        cr_assert_null(vm_pred_mask(&m->env, p), "`%s`: a mask with the memo off", label);
        cr_assert_null(vm_pred_lines(&m->env, p), "`%s`: lines with the memo off", label);
    }
    mx_expect_pred(m, p, label, "vm_pred, memo off", 1);
    m->env.memo_idx = memo_idx;
}

/* ------------------------------------------------------------------ cases ---- */

/* what the block must get (K_CUR: a current program); K_ANY: not asserted */
enum { K_PROG, K_ATOM, K_NONE, K_CUR, K_ANY };

typedef struct mcase {
    const char *pred;
    int kind;
} mcase;

static const mcase cases[] = {
    {"category \"dairy\" and not brand \"X\"", K_PROG},
    {"category \"dairy\" and qty >= 2", K_PROG},
    {"qty >= 2 and category \"dairy\"", K_PROG},
    {"2 <= qty", K_PROG},
    {"qty > 1.5", K_PROG},
    {"qty == 1", K_PROG},
    {"qty != 1", K_PROG},
    {"1 < qty and 3 > qty", K_PROG},
    {"qty <= 0.5 or 3 <= qty", K_PROG},
    {"original_price >= 100", K_PROG},
    {"original_price < 50.5", K_PROG},
    {"100 == original_price or 50.5 != original_price and excluded", K_PROG},
    {"not excluded", K_PROG},
    {"excluded", K_PROG},
    {"excluded or brand in [\"A\", \"B\"]", K_PROG},
    {"(category \"a\" or brand \"b\") and not (sku \"1\" or qty < 2)", K_PROG},
    {"sku in [\"1\", \"2\", \"7\"] and not excluded", K_PROG},
    {"not sku in [\"1\", \"2\", \"7\"]", K_PROG},
    {"not brand \"x\"", K_PROG},
    {"brand \"x\" or sku \"10\"", K_PROG},
    {"category == \"dairy/milk\" and original_price >= 50.5", K_PROG}, /* hierarchical */
    {"category != \"bakery\" and qty >= 2", K_PROG},
    {"category in [\"a\", \"bakery/bread\"] or qty <= 0.5", K_PROG},
    {"category not in [\"dairy\"] and brand not in [\"A\", \"x\"]", K_PROG},
    {"dnb or qty >= 3", K_PROG}, /* a set */
    {"not (not excluded and not (category \"dairy\" or sku \"2\"))", K_PROG},
    {"brand \"x\"", K_ATOM},
    {"sku in [\"1\", \"2\", \"7\"]", K_ATOM},
    {"category \"dairy/milk\"", K_ATOM},
    {"price >= 100 and category \"dairy\"", K_CUR},
    {"amount > 50 and category \"dairy\"", K_NONE},
    {"qty in [1, 2]", K_NONE},
    {"qty in [1, 2] and category \"dairy\"", K_NONE},
    {"qty * 2 >= 3", K_NONE},
    {"qty * 2 >= 3 and category \"dairy\"", K_NONE},
    {"qty + 1 > 2.5 or excluded", K_NONE},
    {"line.sku != \"1\"", K_NONE},
    {"line.sku != \"1\" and category \"dairy\"", K_NONE},
    {"brand != \"X\" or excluded", K_NONE},
    {"category == brand or qty >= 2", K_NONE}, /* exact category string compare */
    {"sku == brand and not excluded", K_NONE},
    {"\"x\" == brand and qty >= 2", K_ANY},
    /* current programs: the current unit price against a constant, exact */
    {"category \"dairy\" and qty >= 2 and price >= 50.5", K_CUR},
    {"price < 100 or brand \"x\"", K_CUR},
    {"not (price == 50.5) and sku in [\"1\", \"2\", \"7\"]", K_CUR},
    {"price > 0.99 and not excluded and price <= 100", K_CUR},
    {"brand in [\"A\", \"B\"] and price != 100", K_CUR},
    {"price >= 100", K_CUR},
    {"price >= 100 and amount > 50", K_NONE},
};
#define NCASES (sizeof cases / sizeof cases[0])

/* One campaign per case (k00, k01, ...) and the set `dnb`. */
static char *cases_src(const mcase *cs, uint32_t n) {
    size_t cap = 256, len = 0;
    for (uint32_t i = 0; i < n; i++)
        cap += strlen(cs[i].pred) + 128;
    char *src = malloc(cap);
    cr_assert_not_null(src);
    len += (size_t)snprintf(src + len, cap - len,
                            "set dnb = category \"dairy\" and not brand \"X\"\n");
    for (uint32_t i = 0; i < n; i++) {
        len += (size_t)snprintf(src + len, cap - len,
                                "campaign k%03u {\n then discount 10%% on lines where %s\n}\n", i,
                                cs[i].pred);
    }
    return src;
}

static mx *cases_open(const mcase *cs, uint32_t n) {
    char *src = cases_src(cs, n);
    mx *m = mx_open(src);
    free(src);
    return m;
}

static uint32_t case_pred(const mx *m, uint32_t i) {
    char id[16];
    snprintf(id, sizeof id, "k%03u", i);
    return mx_pred(m, id);
}

/* Every case on receipts of each size in sizes[], `per` random receipts a size. */
static void check_cases(mx *m, const mcase *cs, uint32_t ncs, const uint32_t *sizes,
                        uint32_t nsizes, uint32_t per, uint64_t seed) {
    static mx_line ls[MX_MAX];
    for (uint32_t s = 0; s < nsizes; s++)
        for (uint32_t r = 0; r < per; r++) {
            gen_lines(ls, sizes[s], seed + 7919u * s + r);
            mx_receipt(m, ls, sizes[s]);
            for (uint32_t i = 0; i < ncs; i++)
                mx_check(m, case_pred(m, i), cs[i].pred);
        }
}

/* ------------------------------------------------------- which blocks get one ---- */

Test(mask_compile, listed_shapes_get_a_program_or_not, .fini = mx_fini) {
    mx *m = cases_open(cases, NCASES);
    cr_assert_gt(m->ix->ncat, 0);
    for (uint32_t i = 0; i < NCASES; i++) {
        uint32_t p = case_pred(m, i);
        const pf_index *ix = m->ix;
        switch (cases[i].kind) {
        case K_PROG:
            cr_assert_eq(ix->cprog_off[p], PF_NONE, "`%s`: a current program", cases[i].pred);
            cr_assert(mx_has_prog(m, p), "`%s`: no line-mask program", cases[i].pred);
            cr_assert_eq(ix->pred_atom[p], PF_NONE, "`%s`: one atom", cases[i].pred);
            break;
        case K_ATOM:
            cr_assert_neq(ix->pred_atom[p], PF_NONE, "`%s`: not one atom", cases[i].pred);
            cr_assert_eq(ix->memo_idx[p], PF_NONE, "`%s`: an atom is not memoised", cases[i].pred);
            cr_assert(!mx_has_prog(m, p), "`%s`: an atom with a program", cases[i].pred);
            break;
        case K_NONE:
            cr_assert(!mx_has_prog(m, p), "`%s`: a program for a shape it does not cover",
                      cases[i].pred);
            cr_assert_eq(ix->cprog_off[p], PF_NONE, "`%s`: a current program", cases[i].pred);
            break;
        case K_CUR:
            cr_assert_neq(ix->cprog_off[p], PF_NONE, "`%s`: no current program", cases[i].pred);
            cr_assert(!mx_has_prog(m, p), "`%s`: a memoised program", cases[i].pred);
            cr_assert_eq(ix->memo_idx[p], PF_NONE, "`%s`: memoised", cases[i].pred);
            break;
        default: break;
        }
    }
    /* The current price and the amount change during the receipt: not even memoised. */
    cr_assert_eq(m->ix->memo_idx[case_pred(m, 29)], PF_NONE);
    cr_assert_eq(m->ix->memo_idx[case_pred(m, 30)], PF_NONE);
    /* The fixed shapes without a program are still memoised. */
    cr_assert_neq(m->ix->memo_idx[case_pred(m, 32)], PF_NONE);
    cr_assert_neq(m->ix->memo_idx[case_pred(m, 37)], PF_NONE);
    mx_close(m);
}

static const vm_mop *prog_of(const mx *m, const char *id) {
    uint32_t p = mx_pred(m, id);
    cr_assert(mx_has_prog(m, p), "%s: no program", id);
    return m->ix->mprog + m->ix->mprog_off[p];
}

/* The constant on the left is moved to the right with the comparison mirrored. */
Test(mask_compile, exact_programs, .fini = mx_fini) {
    mx *m = mx_open("campaign a { then discount 10% on lines where 2 <= qty }\n"
                    "campaign b { then discount 10% on lines where 1.5 > qty }\n"
                    "campaign c { then discount 10% on lines where original_price < 50.5 }\n"
                    "campaign d { then discount 10% on lines where\n"
                    "  category \"dairy\" and not brand \"X\" }\n"
                    "campaign e { then discount 10% on lines where excluded or\n"
                    "  sku in [\"1\", \"2\"] and 100 != original_price }\n"
                    "campaign f { then discount 10% on lines where 3 == qty }\n");
    const vm_mop *a = prog_of(m, "a");
    cr_assert_eq(a[0].op, VM_M_QTY);
    cr_assert_eq(a[0].cmp, OP_GE);
    cr_assert_eq(a[0].c, 2000);
    cr_assert_eq(a[1].op, VM_M_END);

    const vm_mop *b = prog_of(m, "b");
    cr_assert_eq(b[0].op, VM_M_QTY);
    cr_assert_eq(b[0].cmp, OP_LT);
    cr_assert_eq(b[0].c, 1500);
    cr_assert_eq(b[1].op, VM_M_END);

    const vm_mop *c = prog_of(m, "c");
    cr_assert_eq(c[0].op, VM_M_OPRICE);
    cr_assert_eq(c[0].cmp, OP_LT);
    cr_assert_eq(c[0].c, 5050);
    cr_assert_eq(c[1].op, VM_M_END);

    const vm_mop *d = prog_of(m, "d");
    uint8_t dops[] = {VM_M_ATOM, VM_M_ATOM, VM_M_NOT, VM_M_AND, VM_M_END};
    for (uint32_t k = 0; k < sizeof dops; k++)
        cr_assert_eq(d[k].op, dops[k], "d op %u: %u, expected %u", k, d[k].op, dops[k]);
    cr_assert_neq(d[0].atom, d[1].atom);
    cr_assert_lt(d[0].atom, m->ix->ncat);
    cr_assert_lt(d[1].atom, m->ix->ncat);

    /* `excluded or (sku in [...] and 100 != original_price)` */
    const vm_mop *e = prog_of(m, "e");
    uint8_t eops[] = {VM_M_EXCL, VM_M_ATOM, VM_M_OPRICE, VM_M_AND, VM_M_OR, VM_M_END};
    for (uint32_t k = 0; k < sizeof eops; k++)
        cr_assert_eq(e[k].op, eops[k], "e op %u: %u, expected %u", k, e[k].op, eops[k]);
    cr_assert_eq(e[2].cmp, OP_NE);
    cr_assert_eq(e[2].c, 10000);

    const vm_mop *f = prog_of(m, "f");
    cr_assert_eq(f[0].op, VM_M_QTY);
    cr_assert_eq(f[0].cmp, OP_EQ);
    cr_assert_eq(f[0].c, 3000);
    mx_close(m);
}

/* A current program: `price OP X` keeps L_PRICE_CMP's comparator (5: >=) and X. */
Test(mask_compile, exact_current_program, .fini = mx_fini) {
    mx *m = mx_open("campaign a { then discount 10% on lines where\n"
                    "  category \"dairy\" and price >= 50.5 }\n"
                    "campaign b { then discount 10% on lines where price < 100 }\n");
    uint32_t p = mx_pred(m, "a");
    cr_assert_neq(m->ix->cprog_off[p], PF_NONE);
    const vm_mop *a = m->ix->mprog + m->ix->cprog_off[p];
    uint8_t ops[] = {VM_M_ATOM, VM_M_PRICE, VM_M_AND, VM_M_END};
    for (uint32_t k = 0; k < sizeof ops; k++)
        cr_assert_eq(a[k].op, ops[k], "a op %u: %u, expected %u", k, a[k].op, ops[k]);
    cr_assert_eq(a[1].cmp, 5);
    cr_assert_eq(a[1].c, 5050);
    p = mx_pred(m, "b");
    const vm_mop *b = m->ix->mprog + m->ix->cprog_off[p];
    cr_assert_eq(b[0].op, VM_M_PRICE);
    cr_assert_eq(b[0].cmp, 2);
    cr_assert_eq(b[0].c, 10000);
    cr_assert_eq(b[1].op, VM_M_END);
    mx_close(m);
}

/* Without any indexed test in the bundle there is no index, hence no program: the
 * blocks are memoised line by line and stay right. */
Test(mask_compile, no_atoms_in_bundle_no_program, .fini = mx_fini) {
    mx *m = mx_open("campaign a { then discount 10% on lines where 2 <= qty and not excluded }\n");
    uint32_t p = mx_pred(m, "a");
    cr_assert_eq(m->ix->ncat, 0);
    cr_assert(!mx_has_prog(m, p));
    cr_assert_neq(m->ix->memo_idx[p], PF_NONE);
    mx_line ls[70];
    gen_lines(ls, 70, 99);
    mx_receipt(m, ls, 70);
    cr_assert_null(m->env.cat_idx);
    mx_check(m, p, "2 <= qty and not excluded");
    mx_close(m);
}

/* ------------------------------------------------------- mask == vm_run ---- */

Test(mask_eval, listed_cases_on_receipts_of_0_to_70_lines, .fini = mx_fini) {
    mx *m = cases_open(cases, NCASES);
    uint32_t sizes[71];
    for (uint32_t i = 0; i <= 70; i++)
        sizes[i] = i;
    check_cases(m, cases, NCASES, sizes, 71, 2, 1000);
    mx_close(m);
}

Test(mask_eval, listed_cases_across_word_boundaries, .fini = mx_fini) {
    mx *m = cases_open(cases, NCASES);
    static const uint32_t sizes[] = {63, 64, 65, 127, 128, 129, 191, 192, 193, 255, 256};
    check_cases(m, cases, NCASES, sizes, sizeof sizes / sizeof sizes[0], 3, 2000);
    mx_close(m);
}

/* Past VM_MASK_WORDS words of lines: no mask, vm_pred still right line by line. */
Test(mask_eval, more_than_256_lines_fall_back, .fini = mx_fini) {
    mx *m = cases_open(cases, NCASES);
    static const uint32_t sizes[] = {257, 300};
    check_cases(m, cases, NCASES, sizes, 2, 2, 3000);
    uint32_t p = case_pred(m, 0);
    cr_assert_gt(m->lw, VM_MASK_WORDS);
    mx_new_epoch(m);
    cr_assert_null(vm_pred_mask(&m->env, p));
    mx_close(m);
}

/* The whole receipt evaluated with the memo off: every path still right. */
Test(mask_eval, memo_off_falls_back, .fini = mx_fini) {
    mx *m = cases_open(cases, NCASES);
    static mx_line ls[MX_MAX];
    static const uint32_t sizes[] = {1, 40, 64, 65, 200};
    for (uint32_t s = 0; s < 5; s++) {
        gen_lines(ls, sizes[s], 4000 + s);
        mx_receipt(m, ls, sizes[s]);
        m->env.memo_idx = NULL;
        for (uint32_t i = 0; i < NCASES; i++) {
            uint32_t p = case_pred(m, i);
            mx_oracle(m, p, cases[i].pred);
            if (mx_has_prog(m, p)) {
                cr_assert_null(vm_pred_mask(&m->env, p), "`%s`", cases[i].pred);
                cr_assert_null(vm_pred_lines(&m->env, p), "`%s`", cases[i].pred);
            }
            mx_expect_pred(m, p, cases[i].pred, "memo off", 1);
        }
    }
    mx_close(m);
}

/* Within one epoch the mask is computed once: the lines' current amounts may change
 * (discounts) without changing it, and it stays equal to the VM's values. */
Test(mask_eval, same_epoch_is_idempotent_across_discounts, .fini = mx_fini) {
    mx *m = cases_open(cases, NCASES);
    mx_line ls[100];
    gen_lines(ls, 100, 5000);
    mx_receipt(m, ls, 100);
    uint64_t keep[NCASES][VM_MASK_WORDS];
    for (uint32_t i = 0; i < NCASES; i++) {
        uint32_t p = case_pred(m, i);
        if (!mx_has_prog(m, p)) continue;
        mx_oracle(m, p, cases[i].pred);
        const uint64_t *mask = vm_pred_mask(&m->env, p);
        mx_expect_mask(m, mask, cases[i].pred, "first");
        memcpy(keep[i], mask, m->lw * sizeof *mask);
    }
    m->rx.total = 0;
    for (uint32_t l = 0; l < m->n; l++) {
        m->lines[l].amount = m->lines[l].amount / 2;
        m->rx.total += m->lines[l].amount;
    }
    for (uint32_t i = 0; i < NCASES; i++) {
        uint32_t p = case_pred(m, i);
        mx_oracle(m, p, cases[i].pred); /* reads the new amounts for `price`/`amount` */
        if (mx_has_prog(m, p)) {
            const uint64_t *mask = vm_pred_mask(&m->env, p);
            cr_assert_arr_eq(mask, keep[i], m->lw * sizeof *mask, "`%s`", cases[i].pred);
            mx_expect_mask(m, mask, cases[i].pred, "after the discounts");
        }
        mx_expect_pred(m, p, cases[i].pred, "after the discounts", 1);
    }
    mx_close(m);
}

/* A new receipt of the same size in a new epoch: the masks are those of the new lines,
 * not the previous receipt's (which must differ for this to mean anything). */
Test(mask_eval, new_epoch_recomputes_for_a_new_receipt, .fini = mx_fini) {
    mx *m = cases_open(cases, NCASES);
    mx_line r1[90], r2[90];
    gen_lines(r1, 90, 6000);
    gen_lines(r2, 90, 6001);
    mx_receipt(m, r1, 90);
    uint64_t old[NCASES][VM_MASK_WORDS];
    for (uint32_t i = 0; i < NCASES; i++) {
        uint32_t p = case_pred(m, i);
        if (!mx_has_prog(m, p)) continue;
        mx_oracle(m, p, cases[i].pred);
        const uint64_t *mask = vm_pred_mask(&m->env, p);
        mx_expect_mask(m, mask, cases[i].pred, "receipt 1");
        memcpy(old[i], mask, 2 * sizeof *mask);
    }
    /* Not mx_receipt: keep the memo bits of receipt 1 exactly as they are. */
    uint32_t epoch = m->epoch;
    uint64_t *memo = malloc((size_t)m->ix->nmemo * 2 * MX_W * sizeof *memo);
    cr_assert_not_null(memo);
    memcpy(memo, m->memo_bits, (size_t)m->ix->nmemo * 2 * MX_W * sizeof *memo);
    mx_receipt(m, r2, 90);
    memcpy(m->memo_bits, memo, (size_t)m->ix->nmemo * 2 * MX_W * sizeof *memo);
    free(memo);
    cr_assert_eq(m->epoch, epoch + 1);
    uint32_t differ = 0;
    for (uint32_t i = 0; i < NCASES; i++) {
        uint32_t p = case_pred(m, i);
        mx_oracle(m, p, cases[i].pred);
        if (mx_has_prog(m, p)) {
            const uint64_t *mask = vm_pred_mask(&m->env, p);
            mx_expect_mask(m, mask, cases[i].pred, "receipt 2");
            differ += memcmp(mask, old[i], 2 * sizeof *mask) != 0;
        }
        mx_expect_pred(m, p, cases[i].pred, "receipt 2", -1);
    }
    cr_assert_geq(differ, 10, "only %u masks differ between the two receipts", differ);
    mx_close(m);
}

/* vm_pred on every `every`-th line with the index off (the memo knows those lines and
 * holds the previous receipts' bits elsewhere), then the index on: vm_pred_mask must
 * give exactly the receipt's lines. */
static void known_then_mask(uint32_t every) {
    mx *m = cases_open(cases, NCASES);
    static mx_line ls[MX_MAX];
    static const uint32_t sizes[] = {130, 1, 63, 64, 65, 200};
    for (uint32_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        /* A larger receipt first, so the memo holds real mask bits past this one's end. */
        gen_lines(ls, 256, 7100 + s);
        mx_receipt(m, ls, 256);
        for (uint32_t i = 0; i < NCASES; i++)
            if (mx_has_prog(m, case_pred(m, i))) vm_pred_mask(&m->env, case_pred(m, i));
        gen_lines(ls, sizes[s], 7000 + s);
        uint32_t epoch = m->epoch;
        uint64_t *memo = malloc((size_t)m->ix->nmemo * 2 * MX_W * sizeof *memo);
        cr_assert_not_null(memo);
        memcpy(memo, m->memo_bits, (size_t)m->ix->nmemo * 2 * MX_W * sizeof *memo);
        mx_receipt(m, ls, sizes[s]);
        memcpy(m->memo_bits, memo, (size_t)m->ix->nmemo * 2 * MX_W * sizeof *memo);
        free(memo);
        cr_assert_eq(m->epoch, epoch + 1);
        for (uint32_t i = 0; i < NCASES; i++) {
            uint32_t p = case_pred(m, i);
            if (!mx_has_prog(m, p)) continue;
            mx_oracle(m, p, cases[i].pred);
            const uint32_t *cat_idx = m->env.cat_idx;
            m->env.cat_idx = NULL;
            /* every == 1: all the lines; else never the last one, so some stay unknown. */
            for (uint32_t l = 0; l < m->n && (every == 1 || l + 1 < m->n); l += every) {
                int match = -1;
                cr_assert_eq(vm_pred(&m->env, p, l, &match), PROMO_OK);
                cr_assert_eq(match, m->oracle[l], "`%s`: vm_pred, index off, " LINE_FMT,
                             cases[i].pred, LINE_ARGS(m, l));
            }
            m->env.cat_idx = cat_idx;
            mx_expect_mask(m, vm_pred_mask(&m->env, p), cases[i].pred,
                           every == 1 ? "mask over a memo knowing every line"
                                      : "mask over a partly known memo");
            mx_expect_pred(m, p, cases[i].pred, "vm_pred after", 1);
        }
    }
    mx_close(m);
}

Test(mask_eval, partially_known_memo_then_mask, .fini = mx_fini) {
    static const uint32_t every[] = {2, 3, 33, 64, 65, 129};
    for (uint32_t k = 0; k < sizeof every / sizeof every[0]; k++)
        known_then_mask(every[k]);
}

/* Every line known through vm_pred: vm_pred_mask takes the memo as the finished mask
 * (vm.c: "already computed"), so the memo's bits past the last line must not leak. */
Test(mask_eval, fully_known_memo_then_mask, .fini = mx_fini) {
    known_then_mask(1);
}

/* The checks above can fail: a program whose constant is off by one is caught. */
Test(mask_eval, a_wrong_program_is_caught, .fini = mx_fini) {
    mx *m = cases_open(cases, NCASES);
    uint32_t p = case_pred(m, 3); /* 2 <= qty */
    cr_assert(mx_has_prog(m, p));
    vm_mop *op = &m->ix->mprog[m->ix->mprog_off[p]];
    cr_assert_eq(op->op, VM_M_QTY);
    cr_assert_eq(op->c, 2000);
    op->c = 2001;
    mx_line ls[64];
    gen_lines(ls, 64, 1);
    uint32_t at2 = 0;
    for (uint32_t i = 0; i < 64; i++) {
        if (i % 8 == 0) ls[i].qty = 2000;
        at2 += ls[i].qty == 2000;
    }
    mx_receipt(m, ls, 64);
    mx_oracle(m, p, cases[3].pred);
    const uint64_t *mask = vm_pred_mask(&m->env, p);
    cr_assert_not_null(mask);
    uint32_t wrong = 0;
    for (uint32_t i = 0; i < 64; i++)
        wrong += (int)(mask[0] >> i & 1) != m->oracle[i];
    cr_assert_eq(wrong, at2, "%u lines differ, %u have qty 2", wrong, at2);
    cr_assert_geq(at2, 8);
    mx_close(m);
}

/* More than 64 atoms: two words of atom bits per line, programs reading atoms past 64. */
Test(mask_eval, more_than_64_atoms, .fini = mx_fini) {
    enum { NW = 80 };
    static char names[NW][4][16], preds[NW][160], src[NW * 220];
    static mx_line ls[MX_MAX];
    size_t len = 0;
    for (uint32_t k = 0; k < NW; k++) {
        snprintf(names[k][0], 16, "b%02u", k);
        snprintf(names[k][1], 16, "c%02u", k);
        snprintf(names[k][2], 16, "c%02u/x", k);
        snprintf(names[k][3], 16, "s%02u", k);
        snprintf(preds[k], sizeof preds[k],
                 "brand \"b%02u\" or category \"c%02u\" and qty >= 2 and not sku \"s%02u\"", k,
                 (k + 1) % NW, (k + 2) % NW);
        len += (size_t)snprintf(src + len, sizeof src - len,
                                "campaign w%02u { then discount 10%% on lines where %s }\n", k,
                                preds[k]);
    }
    mx *m = mx_open(src);
    uint32_t ntrue = 0, nfalse = 0;
    cr_assert_gt(m->ix->ncat, 64, "%u atoms", m->ix->ncat);
    static const uint32_t sizes[] = {0, 1, 64, 65, 150, 256};
    for (uint32_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
        uint64_t r = 11000 + z;
        for (uint32_t i = 0; i < sizes[z]; i++) {
            /* Few distinct names, so that lines meet the predicates. */
            uint32_t k = (uint32_t)(rnd(&r) % 6) * 13 % NW;
            ls[i] = (mx_line){names[(k + rnd(&r) % 3) % NW][3],
                              names[(k + rnd(&r) % 2) % NW][1 + rnd(&r) % 2],
                              names[k][0],
                              PICK(&r, qtys),
                              PICK(&r, prices),
                              rnd(&r) % 7 == 0};
        }
        mx_receipt(m, ls, sizes[z]);
        for (uint32_t k = 0; k < NW; k++) {
            char id[8];
            snprintf(id, sizeof id, "w%02u", k);
            uint32_t p = mx_pred(m, id);
            cr_assert(mx_has_prog(m, p), "`%s`: no program", preds[k]);
            mx_check(m, p, preds[k]);
            for (uint32_t i = 0; i < m->n; i++)
                ntrue += (uint32_t)m->oracle[i], nfalse += (uint32_t)!m->oracle[i];
        }
    }
    cr_assert_gt(ntrue, 300, "%u lines matched", ntrue);
    cr_assert_gt(nfalse, 1000, "%u lines did not match", nfalse);
    mx_close(m);
}

/* ------------------------------------------------------------ deep chains ---- */

static const char *const leaves[] = {
    "category \"dairy\"", "brand in [\"A\", \"B\"]",
    "qty >= 2",           "not excluded",
    "sku \"7\"",          "original_price < 50.5",
    "category \"b\"",     "2 > qty",
    "brand \"x\"",        "excluded",
    "qty != 1",           "sku in [\"1\", \"10\"]",
};
#define NLEAVES (sizeof leaves / sizeof leaves[0])

/* `l0 op (l1 op (l2 ...))` of k leaves, ops alternating when `alt`, each level under
 * `not` when `neg`: a program stack of k entries. */
static void right_nested(char *out, size_t cap, uint32_t k, int alt, int neg, uint32_t first) {
    size_t len = 0;
    for (uint32_t i = 0; i < k; i++) {
        const char *op = alt && i % 2 ? "or" : "and";
        if (i + 1 < k)
            len +=
                (size_t)snprintf(out + len, cap - len, "%s%s %s (", neg && i % 3 == 1 ? "not " : "",
                                 leaves[(first + i) % NLEAVES], op);
        else
            len += (size_t)snprintf(out + len, cap - len, "%s", leaves[(first + i) % NLEAVES]);
    }
    for (uint32_t i = 0; i + 1 < k; i++)
        len += (size_t)snprintf(out + len, cap - len, ")");
}

/* `((l0 op l1) op l2) ...`: a stack of 2 whatever the length. */
static void left_nested(char *out, size_t cap, uint32_t k, int alt, uint32_t first) {
    size_t len = 0;
    for (uint32_t i = 0; i + 1 < k; i++)
        len += (size_t)snprintf(out + len, cap - len, "(");
    len += (size_t)snprintf(out + len, cap - len, "%s", leaves[first % NLEAVES]);
    for (uint32_t i = 1; i < k; i++)
        len += (size_t)snprintf(out + len, cap - len, " %s %s)", alt && i % 2 ? "or" : "and",
                                leaves[(first + i) % NLEAVES]);
}

static void flat_chain(char *out, size_t cap, uint32_t k, const char *op, uint32_t first) {
    size_t len = 0;
    for (uint32_t i = 0; i < k; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? op : "",
                                leaves[(first + i) % NLEAVES]);
}

static char deep_text[64][800];
static mcase deep_cases[64];

/* Right-nested chains of 2 .. 12 leaves need a stack that deep: a program up to
 * VM_MASK_DEPTH, none past it; left-nested and flat chains of any length need 2. */
Test(mask_deep, nested_chains_program_iff_within_depth, .fini = mx_fini) {
    uint32_t n = 0;
    for (uint32_t k = 2; k <= 12; k++) {
        right_nested(deep_text[n], sizeof deep_text[n], k, 0, 0, k);
        deep_cases[n] = (mcase){deep_text[n], k <= VM_MASK_DEPTH ? K_PROG : K_NONE};
        n++;
        right_nested(deep_text[n], sizeof deep_text[n], k, 1, 1, k + 5);
        deep_cases[n] = (mcase){deep_text[n], k <= VM_MASK_DEPTH ? K_PROG : K_NONE};
        n++;
    }
    for (uint32_t k = 8; k <= 14; k += 3) {
        left_nested(deep_text[n], sizeof deep_text[n], k, k % 2, k);
        deep_cases[n] = (mcase){deep_text[n], K_PROG};
        n++;
        flat_chain(deep_text[n], sizeof deep_text[n], k, k % 2 ? " or " : " and ", k + 1);
        deep_cases[n] = (mcase){deep_text[n], K_PROG};
        n++;
    }
    cr_assert_leq(n, 64);
    mx *m = cases_open(deep_cases, n);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t p = case_pred(m, i);
        if (deep_cases[i].kind == K_PROG)
            cr_assert(mx_has_prog(m, p), "no program for `%s`", deep_cases[i].pred);
        else
            cr_assert(!mx_has_prog(m, p), "a program deeper than %u for `%s`", VM_MASK_DEPTH,
                      deep_cases[i].pred);
        cr_assert_neq(m->ix->memo_idx[p], PF_NONE, "`%s` not memoised", deep_cases[i].pred);
    }
    static const uint32_t sizes[] = {0, 1, 5, 33, 64, 65, 100, 128, 256, 257};
    check_cases(m, deep_cases, n, sizes, sizeof sizes / sizeof sizes[0], 2, 8000);
    mx_close(m);
}

/* ------------------------------------------------------ random predicates ---- */

typedef struct leaf {
    const char *text;
    int ok;   /* a shape the programs cover */
    int atom; /* exactly one indexed test */
} leaf;

static const leaf rleaves[] = {
    {"category \"dairy\"", 1, 1},
    {"category \"dairy/milk\"", 1, 1},
    {"category \"bakery\"", 1, 1},
    {"category == \"a\"", 1, 1},
    {"category != \"b\"", 1, 0},
    {"category in [\"a\", \"bakery/bread\"]", 1, 1},
    {"brand \"X\"", 1, 1},
    {"brand \"b\"", 1, 1},
    {"brand in [\"A\", \"B\"]", 1, 1},
    {"brand == \"Q\"", 1, 1},
    {"sku \"1\"", 1, 1},
    {"sku in [\"1\", \"2\", \"7\"]", 1, 1},
    {"excluded", 1, 0},
    {"qty >= 2", 1, 0},
    {"2 <= qty", 1, 0},
    {"qty > 1.5", 1, 0},
    {"qty == 1", 1, 0},
    {"qty != 1", 1, 0},
    {"qty < 2", 1, 0},
    {"1 < qty", 1, 0},
    {"3 > qty", 1, 0},
    {"qty <= 0.5", 1, 0},
    {"original_price >= 100", 1, 0},
    {"original_price < 50.5", 1, 0},
    {"100 == original_price", 1, 0},
    {"original_price != 50.5", 1, 0},
    {"50.49 >= original_price", 1, 0},
    {"price >= 100", 0, 0},
    {"amount > 50", 0, 0},
    {"qty in [1, 2]", 0, 0},
    {"qty * 2 >= 3", 0, 0},
    {"line.sku != \"1\"", 0, 0},
    {"brand != \"X\"", 0, 0},
    {"category == brand", 0, 0},
};
#define NRLEAVES    (sizeof rleaves / sizeof rleaves[0])
#define NRLEAVES_OK 27u /* the first ones */

typedef struct rgen {
    uint64_t s;
    char *buf;
    size_t len, cap;
    int ok, leaves, atom_leaf;
} rgen;

static void rg_put(rgen *g, const char *s) {
    size_t n = strlen(s);
    cr_assert_lt(g->len + n, g->cap);
    memcpy(g->buf + g->len, s, n + 1);
    g->len += n;
}

/* A random predicate; returns the program stack it needs. `bad`: may use shapes the
 * programs do not cover. */
static uint32_t rg_expr(rgen *g, uint32_t budget, int bad) {
    uint64_t r = rnd(&g->s) % 10;
    if (budget == 0 || r < 3) {
        const leaf *l = &rleaves[rnd(&g->s) % (bad ? NRLEAVES : NRLEAVES_OK)];
        rg_put(g, l->text);
        g->ok &= l->ok;
        g->leaves++;
        g->atom_leaf = l->atom;
        return 1;
    }
    if (r < 5) {
        rg_put(g, "not (");
        uint32_t d = rg_expr(g, budget - 1, bad);
        rg_put(g, ")");
        g->atom_leaf = 0;
        return d;
    }
    rg_put(g, "(");
    uint32_t a = rg_expr(g, budget - 1, bad);
    rg_put(g, r < 8 ? ") and (" : ") or (");
    uint32_t b = rg_expr(g, budget - 1, bad);
    rg_put(g, ")");
    g->atom_leaf = 0;
    return a > b + 1 ? a : b + 1;
}

static char rtext[48][4096];
static mcase rcases[48];

Test(mask_random, random_predicates_match_vm, .fini = mx_fini) {
    uint32_t progs = 0, deep_progs = 0, refused_deep = 0;
    for (uint32_t round = 0; round < 6; round++) {
        uint32_t depth[48];
        for (uint32_t i = 0; i < 48; i++) {
            rgen g = {0x5EED0000u + round * 100u + i, rtext[i], 0, sizeof rtext[i], 1, 0, 0};
            rtext[i][0] = 0;
            depth[i] = rg_expr(&g, 2 + (i % 9), (i % 4) == 3);
            rcases[i].pred = rtext[i];
            if (g.leaves == 1 && g.atom_leaf)
                rcases[i].kind = K_ATOM;
            else if (g.ok && depth[i] <= VM_MASK_DEPTH)
                rcases[i].kind = K_PROG;
            else
                rcases[i].kind = K_NONE;
        }
        mx *m = cases_open(rcases, 48);
        for (uint32_t i = 0; i < 48; i++) {
            uint32_t p = case_pred(m, i);
            int has = mx_has_prog(m, p);
            if (rcases[i].kind == K_ATOM)
                cr_assert_neq(m->ix->pred_atom[p], PF_NONE, "`%s` not an atom", rcases[i].pred);
            else
                cr_assert_eq(has, rcases[i].kind == K_PROG,
                             "`%s` (stack %u): program %d, expected %d", rcases[i].pred, depth[i],
                             has, rcases[i].kind == K_PROG);
            progs += has;
            deep_progs += has && depth[i] >= 4;
            refused_deep += !has && rcases[i].kind == K_NONE && depth[i] > VM_MASK_DEPTH;
        }
        static const uint32_t sizes[] = {0, 3, 17, 64, 65, 70, 128, 200, 256, 270};
        check_cases(m, rcases, 48, sizes, sizeof sizes / sizeof sizes[0], 1, 9000 + 100 * round);
        mx_close(m);
    }
    /* The generator must have exercised what it is for. */
    cr_assert_geq(progs, 100, "only %u programs", progs);
    cr_assert_geq(deep_progs, 20, "only %u programs of a stack >= 4", deep_progs);
    cr_assert_geq(refused_deep, 3, "only %u refused for depth", refused_deep);
}

/* ------------------------------------------------------------- contract ---- */

/* vm.h: vm_pred_mask returns NULL "when it cannot (no program, ...)". A memoised block
 * without a program (`qty in [1, 2] and ...`) must give NULL, not run a program at
 * mprog + PF_NONE. */
Test(mask_contract, vm_pred_mask_without_program_is_null, .fini = mx_fini) {
    mx *m = cases_open(cases, NCASES);
    mx_line ls[10];
    gen_lines(ls, 10, 10000);
    mx_receipt(m, ls, 10);
    uint32_t p = case_pred(m, 32); /* qty in [1, 2] and category "dairy" */
    cr_assert(!mx_has_prog(m, p));
    cr_assert_neq(m->ix->memo_idx[p], PF_NONE);
    cr_assert_null(vm_pred_mask(&m->env, p), "a mask for a block without a program");
    mx_close(m);
}

/* ------------------------------------------------------------ end to end ---- */

static int cat_is(const mx_line *l, const char *c) {
    size_t n = strlen(c);
    return l->cat && !strncmp(l->cat, c, n) && (l->cat[n] == 0 || l->cat[n] == '/');
}
static int str_is(const char *v, const char *c) {
    return v && !strcmp(v, c);
}
static int str_in(const char *v, const char *a, const char *b, const char *c) {
    return str_is(v, a) || str_is(v, b) || (c && str_is(v, c));
}

typedef struct ecase {
    const char *pred;
    int (*f)(const mx_line *l);
    int kind; /* K_*: what the reward's block gets */
} ecase;

/* The predicates' meaning (no earlier discount: the price is the original one). */
static int e0(const mx_line *l) {
    return cat_is(l, "dairy") && !str_is(l->brand, "X");
}
static int e1(const mx_line *l) {
    return cat_is(l, "dairy") && l->qty >= 2000;
}
static int e2(const mx_line *l) {
    return 2000 <= l->qty;
}
static int e3(const mx_line *l) {
    return l->qty > 1500;
}
static int e4(const mx_line *l) {
    return l->qty == 1000;
}
static int e5(const mx_line *l) {
    return l->qty != 1000;
}
static int e6(const mx_line *l) {
    return l->price >= 10000;
}
static int e7(const mx_line *l) {
    return l->price < 5050;
}
static int e8(const mx_line *l) {
    return !l->excluded;
}
static int e9(const mx_line *l) {
    return l->excluded || str_in(l->brand, "A", "B", NULL);
}
static int e10(const mx_line *l) {
    return (cat_is(l, "a") || str_is(l->brand, "b")) && !(str_is(l->sku, "1") || l->qty < 2000);
}
static int e11(const mx_line *l) {
    return str_in(l->sku, "1", "2", "7");
}
static int e12(const mx_line *l) {
    return str_is(l->brand, "x");
}
static int e13(const mx_line *l) {
    return !str_in(l->sku, "1", "2", "7") && !cat_is(l, "bakery") && 5050 > l->price;
}
static int e14(const mx_line *l) { /* sku "x" or not (brand "A" and (qty >= 1 or ...)) */
    return str_is(l->sku, "x") ||
           !(str_is(l->brand, "A") && (l->qty >= 1000 || cat_is(l, "dairy/milk")));
}
static int e15(const mx_line *l) {
    return l->price >= 10000 && cat_is(l, "dairy");
}
static int e16(const mx_line *l) {
    return (l->qty == 1000 || l->qty == 2000) && cat_is(l, "dairy");
}
static int e17(const mx_line *l) {
    return l->qty * 2 >= 3000;
}
static int e18(const mx_line *l) {
    return l->sku && strcmp(l->sku, "1") != 0;
}
static int e19(const mx_line *l) {
    return l->cat && l->brand && !strcmp(l->cat, l->brand);
}

static const ecase ecases[] = {
    {"category \"dairy\" and not brand \"X\"", e0, K_PROG},
    {"qty >= 2 and category \"dairy\"", e1, K_PROG},
    {"2 <= qty", e2, K_PROG},
    {"qty > 1.5", e3, K_PROG},
    {"qty == 1", e4, K_PROG},
    {"qty != 1", e5, K_PROG},
    {"original_price >= 100", e6, K_PROG},
    {"original_price < 50.5", e7, K_PROG},
    {"not excluded", e8, K_PROG},
    {"excluded or brand in [\"A\", \"B\"]", e9, K_PROG},
    {"(category \"a\" or brand \"b\") and not (sku \"1\" or qty < 2)", e10, K_PROG},
    {"sku in [\"1\", \"2\", \"7\"]", e11, K_ATOM},
    {"brand \"x\"", e12, K_ATOM},
    {"not sku in [\"1\", \"2\", \"7\"] and (not category \"bakery\" and 50.5 > original_price)",
     e13, K_PROG},
    {"sku \"x\" or not (brand \"A\" and (qty >= 1 or category \"dairy/milk\"))", e14, K_PROG},
    {"price >= 100 and category \"dairy\"", e15, K_CUR},
    {"qty in [1, 2] and category \"dairy\"", e16, K_NONE},
    {"qty * 2 >= 3", e17, K_NONE},
    {"line.sku != \"1\"", e18, K_NONE},
    {"category == brand", e19, K_NONE},
};
#define NECASES (sizeof ecases / sizeof ecases[0])

/* One receipt through promo_eval: 10% off exactly the matching non-excluded lines.
 * Returns how many lines got a discount. */
static uint32_t e2e_receipt(eh_env *env, const ecase *ec, const mx_line *ls, uint32_t n,
                            int when_sum) {
    static promo_line pl[MX_MAX];
    for (uint32_t i = 0; i < n; i++)
        pl[i] = (promo_line){eh_str(ls[i].sku), eh_str(ls[i].cat), eh_str(ls[i].brand),
                             ls[i].qty,         ls[i].price,       ls[i].excluded};
    promo_receipt r = PROMO_RECEIPT_INIT;
    r.id = eh_str("r");
    r.store = eh_str("101");
    r.channel = PROMO_CHANNEL_POS;
    r.payment = PROMO_PAY_CARD;
    r.date = eh_date("2026-06-05");
    r.time = 12 * 3600;
    r.lines = pl;
    r.nlines = n;
    const promo_result *res = NULL;
    cr_assert_eq(promo_eval(env->c, &r, &res), PROMO_OK, "`%s` on %u lines", ec->pred, n);
    cr_assert_eq(res->nlines, n);
    int64_t sum = 0;
    for (uint32_t i = 0; i < n; i++)
        if (ec->f(&ls[i])) sum += amount_of(&ls[i]);
    int applies = !when_sum || sum >= 30000;
    uint32_t hits = 0;
    for (uint32_t i = 0; i < n; i++) {
        int target = when_sum ? applies : ec->f(&ls[i]);
        int64_t want = target && !ls[i].excluded ? (amount_of(&ls[i]) + 5) / 10 : 0;
        cr_assert_eq(res->lines[i].discount, want,
                     "`%s`%s on %u lines: line %u (sku %s, category %s, brand %s, qty %lld, "
                     "price %lld%s): discount %lld, expected %lld",
                     ec->pred, when_sum ? " (sum >= 300)" : "", n, i, nz(ls[i].sku), nz(ls[i].cat),
                     nz(ls[i].brand), (long long)ls[i].qty, (long long)ls[i].price,
                     ls[i].excluded ? ", excluded" : "", (long long)res->lines[i].discount,
                     (long long)want);
        hits += want > 0;
    }
    return hits;
}

/* `discount 10% on lines where P` (and `when sum(lines where P) >= 300` with a receipt
 * discount) against P's meaning, with a never-applying campaign holding an indexed
 * test so the bundle has an index (and P its program). */
static void e2e_run(int when_sum) {
    static mx_line ls[MX_MAX];
    static const uint32_t big[] = {127, 128, 129, 256, 257, 300};
    for (uint32_t c = 0; c < NECASES; c++) {
        char src[2048];
        if (when_sum)
            snprintf(src, sizeof src,
                     "campaign c {\n when sum(lines where %s) >= 300\n"
                     " then discount 10%% on lines\n}\n"
                     "campaign zz {\n code \"NEVER\"\n"
                     " then discount 10%% on lines where category \"zz\" and qty > 0\n}\n",
                     ecases[c].pred);
        else
            snprintf(src, sizeof src,
                     "campaign c {\n then discount 10%% on lines where %s\n}\n"
                     "campaign zz {\n code \"NEVER\"\n"
                     " then discount 10%% on lines where category \"zz\" and qty > 0\n}\n",
                     ecases[c].pred);
        eh_env env;
        cr_assert_eq(eh_env_init(&env, src, 0), 0, "%s", src);
        if (!when_sum) { /* the engine's index gives the block what the case says */
            pf_index *ix = NULL;
            cr_assert_eq(pf_build(env.b, NULL, &ix), PROMO_OK);
            uint32_t ci = strcmp(promo_bundle_campaign_id(env.b, 0), "c") ? 1 : 0;
            uint32_t p = env.b->rewards[env.b->campaigns[ci].reward_off].pred;
            cr_assert_eq(ix->mprog_off[p] != PF_NONE, ecases[c].kind == K_PROG, "`%s`",
                         ecases[c].pred);
            cr_assert_eq(ix->pred_atom[p] != PF_NONE, ecases[c].kind == K_ATOM, "`%s`",
                         ecases[c].pred);
            cr_assert_eq(ix->cprog_off[p] != PF_NONE, ecases[c].kind == K_CUR, "`%s`",
                         ecases[c].pred);
            pf_free(ix);
        }
        uint32_t hit = 0, missed = 0;
        for (uint32_t n = 0; n <= 70 + sizeof big / sizeof big[0]; n++) {
            uint32_t nl = n <= 70 ? n : big[n - 71];
            gen_lines(ls, nl, 20000 + 131u * c + n);
            uint32_t h = e2e_receipt(&env, &ecases[c], ls, nl, when_sum);
            if (when_sum) {
                hit += h > 0;
                missed += nl > 0 && h == 0;
            } else {
                hit += h;
                for (uint32_t i = 0; i < nl; i++)
                    missed += !ecases[c].f(&ls[i]);
            }
        }
        /* Neither always nor never true on these receipts. */
        cr_assert_gt(hit, 0, "`%s` never applied", ecases[c].pred);
        cr_assert_gt(missed, 0, "`%s` always applied", ecases[c].pred);
        eh_env_free(&env);
    }
}

Test(mask_e2e, discount_on_lines_where_matches_meaning, .fini = mx_fini) {
    e2e_run(0);
}

Test(mask_e2e, sum_of_lines_where_in_when_matches_meaning, .fini = mx_fini) {
    e2e_run(1);
}
