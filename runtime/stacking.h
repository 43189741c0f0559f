/*
 * stacking.h — the stacking engine (runtime stage after the VM): campaigns in
 * evaluation order, prefilters, conditions, compatibility and blocking, every reward
 * kind with its exact rounding, limits, budgets, history, and the promo_result.
 * docs/semantics.md is the arithmetic this implements.
 *
 * One stk_eval per promo_ctx holds every scratch array of an evaluation; arrays grow
 * geometrically on first use and are reused, so a warmed-up ctx allocates nothing.
 * The engine (runtime/engine.c) fills the inputs, calls stk_evaluate, and at commit
 * applies budget_uses and deltas.
 */
#ifndef PROMO_STACKING_H
#define PROMO_STACKING_H

#include <stdatomic.h>
#include <stdint.h>

#include "prefilter.h"
#include "vm.h"

/* A budget counter: engine-owned, keyed by campaign id hash, survives bundle swaps. */
typedef struct stk_budget {
    uint64_t id_hash;
    _Atomic int64_t spent;
    struct stk_budget *next;
} stk_budget;

/* What commit must reserve for one budgeted campaign that applied. */
typedef struct stk_budget_use {
    stk_budget *ctr;
    int64_t cap;     /* the campaign's budget in the evaluated bundle */
    int64_t want;    /* the campaign's full reward */
    int64_t granted; /* what it got (== want unless scaled down by `partial`) */
    int64_t seen;    /* counter value read by the evaluation */
} stk_budget_use;

/* Reserved state-store key of history.visits. */
#define STK_VISITS_KEY 0x7669736974732121ull

/* State-store key of a campaign's per-customer limit. */
static inline uint64_t stk_limit_key(uint64_t id_hash, uint32_t period) {
    return id_hash ^ (0x9E3779B97F4A7C15ull * (uint64_t)(period + 1));
}
/* The period bucket of `date` (days since 1970) for PERIOD_*. */
int32_t stk_period_bucket(uint32_t period, int32_t date);

/* Sum of the record's counters of `key` with day in [from, to] (cells sorted by
 * (key, day)), saturating. */
static inline int64_t stk_rec_sum(const promo_store_rec *r, uint64_t key, int32_t from,
                                  int32_t to) {
    uint32_t lo = 0, hi = r->ncells;
    while (lo < hi) { /* first cell >= (key, from) */
        uint32_t mid = lo + (hi - lo) / 2;
        const promo_cell *c = &r->cells[mid];
        if (c->key < key || (c->key == key && c->day < from))
            lo = mid + 1;
        else
            hi = mid;
    }
    int64_t sum = 0;
    for (; lo < r->ncells && r->cells[lo].key == key && r->cells[lo].day <= to; lo++)
        if (__builtin_add_overflow(sum, r->cells[lo].value, &sum)) sum = INT64_MAX;
    return sum;
}

/* One line's part of a history delta. */
typedef struct stk_hline {
    uint32_t line;
    int64_t value;
} stk_hline;

/* Internal growable-array scratch; opaque outside stacking.c. */
typedef struct stk_scratch stk_scratch;

typedef struct stk_eval {
    /* Inputs, set by the engine before each stk_evaluate. */
    const promo_bundle *b;
    const pf_index *ix;         /* the prefilter index of b (shared, read-only) */
    stk_budget *const *budgets; /* per campaign (evaluation order), NULL = no budget */
    const promo_store *store;   /* NULL: no per-customer state */
    void **reader;              /* the ctx's read handle of store */
    unsigned flags;             /* PROMO_CTX_* */
    int hist_attr;              /* fill hist_off and hist_lines (the journal's attribution,
                                 * runtime/ops.c); off, neither is written */
    uint64_t gen; /* identifies (b, ix); 0 = unknown: the ctx's arrays are re-sized for
                   * every receipt */

    /* Outputs of the last evaluation. */
    promo_result res;
    stk_budget_use *budget_uses;
    uint32_t nbudget_uses;
    promo_delta *deltas; /* per-customer state changes of the receipt */
    uint32_t ndeltas;
    int has_customer_state; /* commit applies deltas for `customer` at `version` */
    promo_str customer;     /* the customer id (points into the receipt) */
    uint64_t version;
    promo_store_rec rec; /* the customer's record as read (valid until the next read) */
    /* Per history delta, the lines it sums (journal attribution of returns):
     * hist_lines[hist_off[d] .. hist_off[d + 1]) for delta d < nhist_deltas; written
     * only when hist_attr was set (not to be read otherwise). */
    struct stk_hline *hist_lines;
    uint32_t *hist_off;
    uint32_t nhist_deltas;

    char msg[200]; /* message of the last error */
    stk_scratch *sc;
} stk_eval;

/* a: the engine's allocator; it must outlive the stk_eval (NULL = libc). */
promo_status stk_init(stk_eval *s, const promo_allocator *a);
void stk_free(stk_eval *s);
/* Evaluates a receipt; s->res is the result. Changes no shared state. */
promo_status stk_evaluate(stk_eval *s, const promo_receipt *r);

/* ------------------------------------------------------ exposed arithmetic ---- */

/* Largest-remainder spread of `d` over items of weight w[i] (sum W > 0, d <= W):
 * out[i] = floor(d * w[i] / W) plus one kopeck for the items with the largest
 * remainders d * w[i] mod W, ties to the earlier item. `cnt` (or NULL = all 1) gives
 * each item a multiplicity of identical units: out[i] is then the sum over its units.
 * `tmp` needs n entries. Returns 0, or -1 when the arithmetic would overflow. */
typedef struct stk_spread_tmp {
    int64_t rem;
    uint32_t idx;
} stk_spread_tmp;
int stk_spread(int64_t d, const int64_t *w, const int64_t *cnt, uint32_t n, int64_t *out,
               stk_spread_tmp *tmp);

#endif
