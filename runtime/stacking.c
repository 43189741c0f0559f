/*
 * stacking.c — the stacking engine (runtime stage after the VM): evaluates the
 * campaigns of a bundle against one receipt in evaluation order and builds the
 * promo_result. SPEC 3.2-3.5 and docs/semantics.md are the rules; the comments here
 * only say how they are met.
 *
 * Per receipt: facts are precomputed once (stk_prepare), then each campaign goes
 * through stop -> prefilter -> `when` -> per-customer limit -> rewards (each reward sees
 * the amounts left by the previous ones) -> budget. A campaign's rewards are applied
 * to the working amounts directly and undone from the discount log when the budget
 * refuses them. Nothing shared is written: budgets and state deltas are recorded for
 * promo_commit.
 */
#include "stacking.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "arena.h"
#include "civil.h"
#include "hash.h"
#include "prefilter.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* The '/'-prefixes of a category with more than 16 components, longest first, in one
 * pass: a streaming hash digested at every '/' (a digest equals the one-shot hash of
 * the bytes so far), so a 500,000-component path costs linear time, not quadratic.
 * Returns the new fill of anc. */
static uint32_t stk_deep_ancestors(uint64_t *anc, uint32_t a, const char *p, uint32_t len,
                                   uint32_t ns) {
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    uint32_t from = 0, k = a + ns;
    for (uint32_t i = 0; i < len; i++) {
        if (p[i] != '/') continue;
        XXH3_64bits_update(&st, p + from, i - from);
        from = i;
        uint64_t h = XXH3_64bits_digest(&st);
        anc[--k] = h ? h : 1;
    }
    return a + ns;
}

/* Appends k + the bit positions of m (ascending) to slash[*ns]; 1 (and *deep = 1) when
 * there are more than 16 in all. */
static inline int stk_slash_bits(unsigned m, uint32_t k, uint32_t *slash, uint32_t *ns,
                                 uint32_t *deep) {
    for (; m; m &= m - 1) {
        if (*ns == 16) {
            *deep = 1;
            return 1;
        }
        slash[(*ns)++] = k + (uint32_t)__builtin_ctz(m);
    }
    return 0;
}

/* The positions of the first 16 '/' of p[0 .. len) into slash[*ns]; *deep = 1 when
 * there are more. Category paths are short: 16 bytes at a time, no call per '/'; the
 * tail is one more load that ends at p + len (overlapping bytes already seen, never
 * reading past the string), so only strings under 8 bytes go byte by byte. */
static inline void stk_slashes(const char *p, uint32_t len, uint32_t *slash, uint32_t *ns,
                               uint32_t *deep) {
    uint32_t k = 0;
#ifdef __SSE2__
    const __m128i sl = _mm_set1_epi8('/');
    for (; k + 16 <= len; k += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + k));
        if (stk_slash_bits((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, sl)), k, slash, ns, deep))
            return;
    }
    if (k < len && len >= 16) { /* the last 16 bytes; bit j is byte len - 16 + j */
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + len - 16));
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, sl));
        stk_slash_bits(m >> (k - (len - 16)), k, slash, ns, deep);
        return;
    }
    if (len >= 8 && len < 16) { /* k == 0: bytes 0 .. 8 and len - 8 .. len */
        __m128i lo = _mm_loadl_epi64((const __m128i *)(const void *)p);
        __m128i hi = _mm_loadl_epi64((const __m128i *)(const void *)(p + len - 8));
        unsigned m = ((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(lo, sl)) & 0xffu) |
                     ((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(hi, sl)) & 0xffu) << (len - 8);
        stk_slash_bits(m, 0, slash, ns, deep);
        return;
    }
#endif
    for (; k < len; k++) {
        if (p[k] != '/') continue;
        if (*ns == 16) {
            *deep = 1;
            return;
        }
        slash[(*ns)++] = k;
    }
}

/* Receipt bounds that keep every product of the arithmetic below 2^126: the one set of
 * limits of promo.h, shared with the JSON reader. */
#define STK_MAX_QTY   PROMO_MAX_QTY
#define STK_MAX_MONEY PROMO_MAX_MONEY
#define STK_PCT_MAX   100000    /* 100% in thousandths */
#define STK_LAST_DAY  2932896   /* 9999-12-31, days since 1970: civil_days(9999, 12, 31) */
#define STK_FIRST_DAY (-719162) /* 0001-01-01: civil_days(1, 1, 1) */

typedef struct stk_by {
    uint32_t line, campaign;
    int64_t amount;
    int receipt; /* given by a receipt-level reward */
} stk_by;

typedef struct stk_ptline { /* points entry `entry` of the current campaign acted on `line` */
    uint32_t entry, line;
} stk_ptline;

typedef struct stk_applied {
    uint32_t campaign;
    int sl_only; /* gave only a spend limit: neither blocks nor is counted as acting */
} stk_applied;

typedef struct stk_unitrun { /* the whole units of one line, for buy / bundle */
    uint32_t line;
    int64_t units, amount, qty;
} stk_unitrun;

typedef struct stk_hcache {
    uint32_t slot;
    int32_t from;
    int64_t value;
} stk_hcache;

typedef struct stk_tbmem { /* `tiebreak benefit`: a member of a component */
    int64_t benefit;
    uint32_t k; /* index in the run of equal priorities (id order) */
} stk_tbmem;

#define STK_NONE UINT32_MAX
enum { STK_ACTED_DISCOUNT = 1, STK_ACTED_POINTS = 2 };

/*
 * Every array of the scratch lives in one of two arenas (runtime/arena.h), which
 * remember each block's capacity: `ra` holds what one receipt needs and is reset when
 * the next evaluation starts; `ga` holds what is sized by the bundle generation and is
 * reset when the generation changes. A reset reuses the memory, so every pointer into
 * the arena must be forgotten with it. The lists below are at once the declaration of
 * those pointers (stk_scratch, and a named struct of the same members) and what a reset
 * forgets; STK_RESERVE / STK_GRESERVE / STK_ERESERVE accept only a member of their list
 * (anything else does not compile), so an array cannot be added to an arena and missed
 * by its reset.
 */
#define STK_RECEIPT_ARRAYS(X)                                                                      \
    X(vm_line, lines)                                                                              \
    X(uint64_t, anc)                                                                               \
    X(uint64_t, codes)                                                                             \
    X(uint64_t, segs)                                                                              \
    X(uint64_t, seen)                                                                              \
    X(vm_kv, attrs)                                                                                \
    X(vm_kv, cattrs)                                                                               \
    /* per line */                                                                                 \
    X(uint8_t, acted_now) /* STK_ACTED_* bits of the current campaign */                           \
    X(uint64_t, actw)     /* lw words: a superset of the lines whose acted_now is not 0 */         \
    X(uint32_t, head)     /* per-line counts of stk_finish */                                      \
    X(uint32_t, tg)                                                                                \
    X(int64_t, d)                                                                                  \
    X(int64_t, w)                                                                                  \
    X(int64_t, cnt)                                                                                \
    X(int64_t, share)                                                                              \
    X(int64_t, share2)                                                                             \
    X(int64_t, acc)                                                                                \
    X(int64_t, ppshare) /* points_paid spread over the lines as of amounts epoch pp_epoch */       \
    X(stk_spread_tmp, stmp)                                                                        \
    X(stk_unitrun, runs)                                                                           \
    X(uint64_t, app_lines) /* per applied campaign (app order): the lines it acted on, lw words */ \
    X(uint64_t, blk)       /* the lines blocked for the current campaign, lw words */              \
    X(stk_applied, app)                                                                            \
    X(uint8_t, bad)                                                                                \
    X(stk_by, bylog)                                                                               \
    X(promo_points, pts)                                                                           \
    X(uint8_t, pts_rl)   /* per pts entry: a receipt-level reward added to it */                   \
    X(stk_ptline, ptlog) /* the current campaign's points entries and their lines */               \
    X(promo_text, coupons)                                                                         \
    X(promo_text, messages)                                                                        \
    X(uint32_t, applied)                                                                           \
    X(promo_explain, explain)                                                                      \
    X(promo_line_result, lres)                                                                     \
    X(promo_by, by)                                                                                \
    X(stk_hcache, hc)                                                                              \
    X(int64_t, sw) /* budget scaling: weights and shares */                                        \
    X(stk_spread_tmp, stmp2)                                                                       \
    /* `tiebreak benefit`: evaluation order, and trial runs that measure a campaign's              \
     * benefit as if it went first and then undo it */                                             \
    X(uint32_t, order)                                                                             \
    X(int64_t, benefit)                                                                            \
    X(uint32_t, uf)        /* union-find over one run of equal priorities */                       \
    X(uint32_t, tbpos)     /* one component's positions */                                         \
    X(stk_tbmem, tbmem)    /* one component's members, sorted by benefit */                        \
    X(uint64_t, memo_bits) /* line predicate memo (vm_env.memo_*) */                               \
    X(uint64_t, alines)    /* per atom: its lines */                                               \
    X(uint64_t, exm)       /* the excluded lines */

/* The generation arena's: the fallback time cache (per campaign PF_T_*), the candidates,
 * the scratch of stk_rx_receipt (4 clause groups), the memo stamps, the atoms present
 * on any line, then on non-excluded lines, the history slots a receipt may feed. */
#define STK_GEN_ARRAYS(X)                                                                          \
    X(uint8_t, tc)                                                                                 \
    X(uint64_t, cand)                                                                              \
    X(uint64_t, rxm)                                                                               \
    X(uint32_t, memo_stamp)                                                                        \
    X(uint64_t, pres)                                                                              \
    X(uint64_t, hcand) /* stk_finish: history slots the receipt's atoms may feed */

/* The per-receipt arrays of stk_eval (stacking.h: the engine and ops.c read them), in the
 * receipt arena too. */
#define STK_EVAL_ARRAYS(X)                                                                         \
    X(stk_budget_use, budget_uses)                                                                 \
    X(promo_delta, deltas)                                                                         \
    X(struct stk_hline, hist_lines)                                                                \
    X(uint32_t, hist_off)

#define STK_DECL(type, name) type *name;
struct stk_receipt_arrays {
    STK_RECEIPT_ARRAYS(STK_DECL)
};
struct stk_gen_arrays {
    STK_GEN_ARRAYS(STK_DECL)
};
struct stk_eval_arrays {
    STK_EVAL_ARRAYS(STK_DECL)
};

struct stk_scratch {
    const promo_allocator *a; /* the engine's: both arenas draw from it */
    arena ra, ga;
    struct {
        STK_RECEIPT_ARRAYS(STK_DECL)
    }; /* in ra */
    struct {
        STK_GEN_ARRAYS(STK_DECL)
    }; /* in ga */
    vm_receipt rx;
    vm_env env;

    uint32_t lw; /* words of a line bitset */
    uint32_t napp;
    uint32_t nbylog;
    uint32_t nptlog;
    uint32_t npts;
    uint32_t ncoupons, nmessages;
    uint32_t napplied;
    uint32_t nexplain;
    uint32_t nby;
    uint32_t nhc;

    int trial;
    int trial_applies; /* the trial campaign would apply */
    int64_t trial_benefit;

    /* Prefilter (runtime/prefilter.h: the shared index of the generation), per ctx. */
    uint64_t ix_gen; /* stk_eval.gen the gen arrays are sized for; 0 = none */
    int tc_valid;    /* tc kept while date and time slot stay */
    int32_t tc_date;
    uint32_t tc_slot;
    const uint64_t *tw_row; /* the receipt's (weekday, time slot) row of the time table */
    int pre_done;           /* the candidates already passed every prefilter clause */
    int fast_when;          /* pf_creq.when_total is used (not --explain, not plain) */
    int when_held;          /* stk_campaign: the campaign's `when` was tested and holds */
    uint32_t memo_epoch;

    /* evaluation state */
    uint32_t amt_epoch; /* bumped whenever a line amount changes */
    uint32_t pp_epoch;  /* amt_epoch ppshare was computed at; 0 = not this receipt */
    int has_sl;
    int64_t sl;
    uint32_t stopped_by;
    promo_status err;
};

/* The campaign being evaluated. */
typedef struct stk_camp {
    uint32_t ci;
    const pb_campaign *c;
    int blk_done;        /* stk_blocking ran: the three fields below are set */
    int any_bad;         /* some applied campaign is incompatible with this one */
    int receipt_blocked; /* receipt-level rewards are blocked */
    uint32_t receipt_blocker;
    int saw_blocked; /* some target dropped out because of blocking */
    uint32_t blocker;
    int gave;       /* something other than a spend limit */
    int gave_sl;    /* a spend limit */
    int mark_all;   /* a receipt-level reward gave something: acts on every line */
    int in_receipt; /* a receipt-level reward is being applied */
    int rl_text;    /* a coupon or message was issued */
    uint32_t by0, pts0, coupons0, messages0;
} stk_camp;

/* ------------------------------------------------------------- scratch ---- */

/* Makes *p (an array of the arena, or NULL) hold `need` elements of `elem` bytes,
 * keeping its contents. */
static inline __attribute__((always_inline)) int stk_reserve(arena *ar, void **p, size_t need,
                                                             size_t elem) {
    if (need > SIZE_MAX / 2 / elem) return -1;
    void *q = arena_reserve(ar, *p, need ? need * elem : 1);
    if (!q) return -1;
    *p = q;
    return 0;
}
/* `arr` must be a member of `list` (of the same type): a compile error otherwise. */
#define STK_LISTED(list, p, arr) (void)sizeof(&((struct list *)0)->arr == &(p)->arr)
#define STK_RESERVE(x, arr, need)                                                                  \
    (STK_LISTED(stk_receipt_arrays, x, arr),                                                       \
     stk_reserve(&(x)->ra, (void **)&(x)->arr, (need), sizeof *(x)->arr))
#define STK_GRESERVE(x, arr, need)                                                                 \
    (STK_LISTED(stk_gen_arrays, x, arr),                                                           \
     stk_reserve(&(x)->ga, (void **)&(x)->arr, (need), sizeof *(x)->arr))
/* An array of stk_eval s, in x's receipt arena. */
#define STK_ERESERVE(s, x, arr, need)                                                              \
    (STK_LISTED(stk_eval_arrays, s, arr),                                                          \
     stk_reserve(&(x)->ra, (void **)&(s)->arr, (need), sizeof *(s)->arr))

/* The first push reserves STK_PUSH_MIN elements: most lists stay that short, so later
 * pushes take arena_reserve's inline fast path instead of growing 1, 2, 4, 8. */
#define STK_PUSH_MIN 8
#define STK_PUSH(x, arr, n, val)                                                                   \
    do {                                                                                           \
        if (STK_RESERVE(x, arr, (x)->n < STK_PUSH_MIN ? STK_PUSH_MIN : (size_t)(x)->n + 1))        \
            return stk_nomem(x);                                                                   \
        (x)->arr[(x)->n++] = (val);                                                                \
    } while (0)

static promo_status stk_nomem(stk_scratch *x) {
    x->err = PROMO_ENOMEM;
    return PROMO_ENOMEM;
}

promo_status stk_init(stk_eval *s, const promo_allocator *a) {
    memset(s, 0, sizeof *s);
    a = pa_or_default(a);
    s->sc = pa_calloc(a, 1, sizeof *s->sc);
    if (!s->sc) return PROMO_ENOMEM;
    s->sc->a = a;
    arena_init(&s->sc->ra, a);
    arena_init(&s->sc->ga, a);
    return PROMO_OK;
}

#define STK_FORGET_X(type, name) x->name = NULL;
#define STK_FORGET_S(type, name) s->name = NULL;

/* Starts a receipt: every per-receipt array is forgotten (the lists above) and its
 * arena reset. */
static void stk_reset_receipt(stk_eval *s) {
    stk_scratch *x = s->sc;
    STK_RECEIPT_ARRAYS(STK_FORGET_X)
    STK_EVAL_ARRAYS(STK_FORGET_S)
    arena_reset(&x->ra);
}

/* A new generation: its arrays are forgotten and its arena reset. */
static void stk_reset_gen(stk_scratch *x) {
    STK_GEN_ARRAYS(STK_FORGET_X)
    arena_reset(&x->ga);
}

void stk_free(stk_eval *s) {
    stk_scratch *x = s->sc;
    if (!x) return;
    arena_free(&x->ra);
    arena_free(&x->ga);
    STK_EVAL_ARRAYS(STK_FORGET_S)
    pa_free(x->a, x);
    s->sc = NULL;
}

/* ---------------------------------------------------------- arithmetic ---- */

/* Heapsort: qsort may allocate (glibc does for large arrays) and the hot path must not.
 * Every comparator here is a total order, so stability does not matter. */
static void stk_swap(unsigned char *a, unsigned char *b, size_t size) {
    for (size_t i = 0; i < size; i++) {
        unsigned char t = a[i];
        a[i] = b[i];
        b[i] = t;
    }
}

static void stk_sift(unsigned char *base, size_t root, size_t n, size_t size,
                     int (*cmp)(const void *, const void *)) {
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n) return;
        if (child + 1 < n && cmp(base + child * size, base + (child + 1) * size) < 0) child++;
        if (cmp(base + root * size, base + child * size) >= 0) return;
        stk_swap(base + root * size, base + child * size, size);
        root = child;
    }
}

static void stk_sort(void *p, size_t n, size_t size, int (*cmp)(const void *, const void *)) {
    unsigned char *base = p;
    if (n < 2) return;
    for (size_t i = n / 2; i-- > 0;)
        stk_sift(base, i, n, size, cmp);
    for (size_t end = n - 1; end > 0; end--) {
        stk_swap(base, base + end * size, size);
        stk_sift(base, 0, end, size, cmp);
    }
}

static int stk_spread_cmp(const void *pa, const void *pb) {
    const stk_spread_tmp *a = pa, *b = pb;
    if (a->rem != b->rem) return a->rem > b->rem ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

int stk_spread(int64_t d, const int64_t *w, const int64_t *cnt, uint32_t n, int64_t *out,
               stk_spread_tmp *tmp) {
    vm_u128 W = 0;
    for (uint32_t i = 0; i < n; i++) {
        vm_u128 c = cnt ? (vm_u128)cnt[i] : 1;
        W += c * (vm_u128)w[i];
        if (W > ((vm_u128)1 << 100)) return -1;
    }
    for (uint32_t i = 0; i < n; i++)
        out[i] = 0;
    if (d <= 0 || W == 0) return 0;
    if ((vm_u128)d > W) d = W > (vm_u128)INT64_MAX ? INT64_MAX : (int64_t)W;
    vm_u128 given = 0;
    uint32_t nt = 0;
    for (uint32_t i = 0; i < n; i++) {
        vm_u128 c = cnt ? (vm_u128)cnt[i] : 1;
        vm_u128 num = (vm_u128)d * (vm_u128)w[i];
        vm_u128 per = num / W;
        out[i] = (int64_t)(per * c);
        given += per * c;
        int64_t rem = (int64_t)(num % W > (vm_u128)INT64_MAX ? INT64_MAX : num % W);
        if (rem > 0 && c > 0) tmp[nt++] = (stk_spread_tmp){rem, i};
    }
    vm_u128 left = (vm_u128)d - given;
    if (left && nt) {
        if (nt <= 32) {
            for (uint32_t k = 1; k < nt; k++)
                for (uint32_t j = k; j > 0 && stk_spread_cmp(&tmp[j], &tmp[j - 1]) < 0; j--) {
                    stk_spread_tmp t = tmp[j];
                    tmp[j] = tmp[j - 1];
                    tmp[j - 1] = t;
                }
        } else {
            stk_sort(tmp, nt, sizeof *tmp, stk_spread_cmp);
        }
        for (uint32_t k = 0; k < nt && left; k++) {
            vm_u128 c = cnt ? (vm_u128)cnt[tmp[k].idx] : 1;
            vm_u128 g = c < left ? c : left;
            out[tmp[k].idx] += (int64_t)g;
            left -= g;
        }
    }
    return 0;
}

static int64_t stk_clamp_pct(int64_t p) {
    return p < 0 ? 0 : p > STK_PCT_MAX ? STK_PCT_MAX : p;
}

static int64_t stk_money(int64_t m) {
    return m < 0 ? 0 : m;
}

/* round_half_up(v * pct / 100%), v >= 0, pct in [0, 100%]. */
static int64_t stk_pct_of(int64_t v, int64_t pct) {
    return (int64_t)vm_rdiv((vm_u128)v * (vm_u128)stk_clamp_pct(pct), STK_PCT_MAX);
}

/* round_half_up(qty * money), qty in thousandths; saturated. */
static int64_t stk_qty_money(int64_t qty, int64_t money) {
    vm_u128 r = vm_rdiv((vm_u128)qty * (vm_u128)stk_money(money), 1000);
    return r > (vm_u128)INT64_MAX ? INT64_MAX : (int64_t)r;
}

static int64_t stk_sat_add(int64_t a, int64_t b) {
    int64_t r;
    return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

int32_t stk_period_bucket(uint32_t period, int32_t date) {
    switch (period) {
    case PERIOD_DAY: return date;
    case PERIOD_WEEK: return civil_week_start(date);
    case PERIOD_MONTH: return civil_month_start(date);
    default: return 0;
    }
}

/* --------------------------------------------------------- preparation ---- */

static uint64_t stk_hash(promo_str s) {
    return s.p ? promo_hash(s.p, s.n) : 0;
}

static int stk_fail(stk_eval *s, promo_status st, const char *msg, uint32_t i) {
    if (i == STK_NONE)
        snprintf(s->msg, sizeof s->msg, "%s", msg);
    else
        snprintf(s->msg, sizeof s->msg, "lines[%u].%s", i, msg);
    return (int)st;
}

static void stk_kvs(vm_kv *out, const promo_kv *in, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        out[i].key = stk_hash(in[i].key);
        out[i].val = stk_hash(in[i].value);
        out[i].num = in[i].value.p ? vm_parse_num(in[i].value.p, in[i].value.n) : PROMO_ABSENT;
    }
}

static promo_status stk_prepare(stk_eval *s, const promo_receipt *r) {
    stk_scratch *x = s->sc;
    vm_receipt *rx = &x->rx;
    stk_reset_receipt(s);
    if (r->nlines > PROMO_MAX_LINES)
        return (promo_status)stk_fail(s, PROMO_ELIMIT, "receipt has too many lines", STK_NONE);
    if ((r->ncodes && !r->codes) || (r->nattrs && !r->attrs) || (r->nlines && !r->lines))
        return (promo_status)stk_fail(s, PROMO_EARG, "receipt array is NULL", STK_NONE);
    if (r->channel < 0 || r->channel > 1)
        return (promo_status)stk_fail(s, PROMO_EINPUT, "channel: unknown value", STK_NONE);
    if (r->payment < 0 || r->payment > 4)
        return (promo_status)stk_fail(s, PROMO_EINPUT, "payment: unknown value", STK_NONE);
    if (r->points_paid < 0 || r->points_paid > STK_MAX_MONEY)
        return (promo_status)stk_fail(s, PROMO_EINPUT, "points_paid: out of range", STK_NONE);
    if (r->time < 0 || r->time >= 86400)
        return (promo_status)stk_fail(s, PROMO_EINPUT, "time: out of range", STK_NONE);
    /* Calendar arithmetic is defined for years 1..9999 (and stays far from overflow). */
    const int32_t dmin = STK_FIRST_DAY, dmax = STK_LAST_DAY;
    if (r->date < dmin || r->date > dmax)
        return (promo_status)stk_fail(s, PROMO_EINPUT, "time: date out of range", STK_NONE);
    const promo_customer *cu = r->customer;
    if (cu && ((cu->nsegments && !cu->segments) || (cu->nattrs && !cu->attrs)))
        return (promo_status)stk_fail(s, PROMO_EARG, "customer array is NULL", STK_NONE);

    uint32_t n = r->nlines;
    for (uint32_t i = 0; i < n; i++) {
        const promo_line *l = &r->lines[i];
        if (l->qty <= 0) return (promo_status)stk_fail(s, PROMO_EINPUT, "qty: must be positive", i);
        if (l->qty > STK_MAX_QTY)
            return (promo_status)stk_fail(s, PROMO_ELIMIT, "qty: too large", i);
        if (l->price < 0) return (promo_status)stk_fail(s, PROMO_EINPUT, "price: negative", i);
        if (l->price > PROMO_MAX_PRICE)
            return (promo_status)stk_fail(s, PROMO_ELIMIT, "price: too large", i);
    }
    uint32_t nseen = 2;
    while (nseen < 2 * n)
        nseen *= 2;
    uint32_t nsegs = cu ? cu->nsegments : 0, ncattrs = cu ? cu->nattrs : 0;
    if (STK_RESERVE(x, lines, n) || STK_RESERVE(x, codes, r->ncodes) ||
        STK_RESERVE(x, attrs, r->nattrs) || STK_RESERVE(x, segs, nsegs) ||
        STK_RESERVE(x, cattrs, ncattrs) || STK_RESERVE(x, seen, nseen) ||
        STK_RESERVE(x, anc, (size_t)4 * n)) /* most categories have <= 3 levels */
        return stk_nomem(x);
    {
#define PL(arr)                                                                                    \
    if (STK_RESERVE(x, arr, n)) return stk_nomem(x);
        PL(acted_now);
        PL(head);
        PL(tg);
        PL(d);
        PL(w);
        PL(cnt);
        PL(share);
        PL(ppshare);
        PL(share2);
        PL(acc);
        PL(stmp);
        PL(runs);
        PL(lres);
#undef PL
    }

    memset(rx, 0, sizeof *rx);
    rx->r = r;
    rx->store = stk_hash(r->store);
    rx->store_num = r->store.p ? vm_parse_num(r->store.p, r->store.n) : PROMO_ABSENT;
    rx->region = stk_hash(r->region);
    rx->channel = r->channel;
    rx->payment = r->payment;
    rx->date = r->date;
    rx->time = r->time;
    rx->weekday = civil_weekday(r->date);
    for (uint32_t i = 0; i < r->ncodes; i++)
        x->codes[i] = stk_hash(r->codes[i]);
    rx->codes = x->codes;
    rx->ncodes = r->ncodes;
    stk_kvs(x->attrs, r->attrs, r->nattrs);
    rx->attrs = x->attrs;
    rx->nattrs = r->nattrs;
    if (cu) {
        rx->has_customer = 1;
        rx->cust_id = stk_hash(cu->id);
        rx->card = stk_hash(cu->card);
        rx->tier = stk_hash(cu->tier);
        for (uint32_t i = 0; i < nsegs; i++)
            x->segs[i] = stk_hash(cu->segments[i]);
        stk_kvs(x->cattrs, cu->attrs, ncattrs);
        rx->registered = cu->registered < 0 ? cu->id.p != NULL : cu->registered != 0;
        /* A birthday outside the calendar's range is treated as absent. */
        rx->has_birthday = cu->has_birthday && cu->birthday >= dmin && cu->birthday <= dmax;
        rx->birthday = cu->birthday;
    }
    rx->segs = x->segs;
    rx->nsegs = nsegs;
    rx->cattrs = x->cattrs;
    rx->ncattrs = ncattrs;

    uint32_t a = 0;
    int64_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        const promo_line *l = &r->lines[i];
        vm_line *v = &x->lines[i];
        v->sku = stk_hash(l->sku);
        v->brand = stk_hash(l->brand);
        v->cat = stk_hash(l->category);
        v->anc_off = a;
        if (l->category.p) {
            /* "dairy/milk" matches "dairy/milk" and "dairy": hash every '/'-prefix,
             * longest first. */
            const char *p = l->category.p;
            uint32_t len = l->category.n, slash[16], ns = 0, deep = 0;
            stk_slashes(p, len, slash, &ns, &deep);
            if (deep)
                for (uint32_t k = ns = 0; k < len; k++)
                    ns += p[k] == '/';
            if (STK_RESERVE(x, anc, (size_t)a + 1 + ns)) return stk_nomem(x);
            x->anc[a++] = v->cat;
            if (!deep)
                while (ns > 0)
                    x->anc[a++] = promo_hash(p, slash[--ns]);
            else
                a = stk_deep_ancestors(x->anc, a, p, len, ns);
        }
        v->anc_cnt = a - v->anc_off;
        v->qty = l->qty;
        v->price = l->price;
        v->amount0 = stk_qty_money(l->qty, l->price);
        if (v->amount0 > STK_MAX_MONEY)
            return (promo_status)stk_fail(s, PROMO_ELIMIT, "amount: too large", i);
        v->amount = v->amount0;
        v->excluded = l->excluded != 0;
        total += v->amount0;
        if (total > STK_MAX_MONEY)
            return (promo_status)stk_fail(s, PROMO_ELIMIT, "receipt total too large", STK_NONE);
        x->acted_now[i] = 0;
    }
    rx->lines = x->lines;
    rx->nlines = n;
    rx->anc = x->anc;
    rx->total = rx->orig_total = total;

    x->env.b = s->b;
    x->env.rx = rx;
    x->env.seen = x->seen;
    x->env.seen_mask = nseen - 1;
    x->env.fail_part = PB_NONE;
    x->env.hist = NULL;
    x->env.hist_u = s;
    x->env.memo_idx = NULL;
    x->env.cat_idx = NULL;
    x->env.brand_idx = x->env.sku_idx = NULL;
    x->env.brandk_idx = x->env.skuk_idx = NULL;

    x->lw = (n + 63) / 64;
    /* A campaign applies at most once: these never grow during the receipt. */
    size_t nc = (size_t)s->b->ncampaigns + 1;
    if (STK_RESERVE(x, blk, x->lw) || STK_RESERVE(x, actw, x->lw) || STK_RESERVE(x, app, nc) ||
        STK_RESERVE(x, applied, nc) || STK_RESERVE(x, bad, nc))
        return stk_nomem(x);
    for (uint32_t w = 0; w < x->lw; w++)
        x->actw[w] = 0;
    x->napp = x->nbylog = x->npts = x->ncoupons = x->nmessages = 0;
    x->napplied = x->nexplain = x->nby = x->nhc = 0;
    x->has_sl = 0;
    x->sl = 0;
    x->amt_epoch = 1;
    x->pp_epoch = 0;
    x->stopped_by = STK_NONE;
    x->pre_done = x->when_held = 0;
    x->fast_when = !(s->flags & (PROMO_CTX_EXPLAIN | PROMO_CTX_PLAIN));
    x->err = PROMO_OK;
    s->nbudget_uses = s->ndeltas = s->nhist_deltas = 0;
    s->has_customer_state = 0;
    return PROMO_OK;
}

/* --------------------------------------------------------------- state ---- */

static promo_status stk_hist(void *u, uint32_t slot, int32_t from, int32_t to, int64_t *out) {
    stk_eval *s = u;
    stk_scratch *x = s->sc;
    for (uint32_t i = 0; i < x->nhc; i++)
        if (x->hc[i].slot == slot && x->hc[i].from == from) {
            *out = x->hc[i].value;
            return PROMO_OK;
        }
    uint64_t key = slot == UINT32_MAX ? STK_VISITS_KEY : s->b->hist[slot].key;
    *out = stk_rec_sum(&s->rec, key, from, to);
    if (!STK_RESERVE(x, hc, (size_t)x->nhc + 1)) x->hc[x->nhc++] = (stk_hcache){slot, from, *out};
    return PROMO_OK;
}

/* ----------------------------------------------------------- prefilter ---- */

static int stk_in_set(const promo_bundle *b, uint32_t set, uint64_t h) {
    return h != 0 && bundle_set_has(b, set, h);
}

#define STK_MEMO_MAX (64 * 1024) /* bytes of per-receipt line bits (memo, atoms) */
static const char *const stk_t_part[] = {NULL, "active", "days", "hours"};

/* Sizes the ctx's per-receipt arrays for the index of a new generation. */
static promo_status stk_bind(stk_eval *s) {
    stk_scratch *x = s->sc;
    const pf_index *ix = s->ix;
    x->ix_gen = 0;
    x->tc_valid = 0;
    uint32_t cw = (ix->ncat + 63) / 64;
    stk_reset_gen(x);
    if (STK_GRESERVE(x, tc, ix->ncampaigns) || STK_GRESERVE(x, cand, ix->words) ||
        STK_GRESERVE(x, rxm, (size_t)4 * ix->words) || STK_GRESERVE(x, memo_stamp, ix->nmemo) ||
        STK_GRESERVE(x, pres, (size_t)2 * cw) || STK_GRESERVE(x, hcand, ix->hist_words))
        return stk_nomem(x);
    for (uint32_t i = 0; i < ix->nmemo; i++)
        x->memo_stamp[i] = 0;
    x->memo_epoch = 0;
    x->ix_gen = s->gen;
    return PROMO_OK;
}

/* Turns the memo on for the receipt when its bits fit in STK_MEMO_MAX bytes (they are
 * reserved lazily once, then reused). */
static void stk_memo_receipt(stk_eval *s) {
    stk_scratch *x = s->sc;
    uint32_t words = (x->rx.nlines + 63) / 64, nmemo = s->ix->nmemo;
    size_t need = (size_t)nmemo * 2 * words;
    x->env.memo_idx = NULL;
    if (!nmemo || need * sizeof(uint64_t) > STK_MEMO_MAX || (s->flags & PROMO_CTX_PLAIN)) return;
    if (STK_RESERVE(x, memo_bits, need)) return; /* no memo: still correct */
    if (++x->memo_epoch == 0) {
        for (uint32_t i = 0; i < nmemo; i++)
            x->memo_stamp[i] = 0;
        x->memo_epoch = 1;
    }
    x->env.memo_idx = s->ix->memo_idx;
    x->env.memo_stamp = x->memo_stamp;
    x->env.memo_bits = x->memo_bits;
    x->env.memo_words = words;
    x->env.memo_epoch = x->memo_epoch;
}

/* Every line's atom bits (and per atom its lines, and the atoms present on the receipt);
 * off when they would exceed STK_MEMO_MAX bytes. */
static void stk_cat_receipt(stk_eval *s) {
    stk_scratch *x = s->sc;
    const pf_index *ix = s->ix;
    uint32_t words = (ix->ncat + 63) / 64, n = x->rx.nlines, lw = (n + 63) / 64;
    size_t aneed = (size_t)ix->ncat * lw;
    x->env.cat_idx = NULL;
    if (!ix->ncat || aneed * sizeof(uint64_t) > STK_MEMO_MAX || (s->flags & PROMO_CTX_PLAIN) ||
        STK_RESERVE(x, alines, aneed) || STK_RESERVE(x, exm, lw))
        return; /* no index: still correct */
    memset(x->alines, 0, aneed * sizeof *x->alines);
    memset(x->exm, 0, lw * sizeof *x->exm);
    /* pres: the atoms of any line, then of the lines that are not excluded. */
    uint64_t *all = x->pres, *ne = x->pres + words;
    memset(all, 0, 2 * words * sizeof *all);
    for (uint32_t i = 0; i < n; i++) {
        const vm_line *l = &x->lines[i];
        pf_mark m = {x->alines + i / 64, lw, 1ull << (i % 64), all, l->excluded ? NULL : ne};
        for (uint32_t a = 0; a < l->anc_cnt; a++)
            pf_atom_mark(ix, &m, PF_LX_CAT, x->anc[l->anc_off + a]);
        pf_atom_mark(ix, &m, PF_LX_BRAND, l->brand);
        pf_atom_mark(ix, &m, PF_LX_SKU, l->sku);
        if (l->excluded) x->exm[i / 64] |= m.lbit;
    }
    x->env.cat_idx = ix->cat_idx;
    x->env.brand_idx = ix->brand_idx;
    x->env.sku_idx = ix->sku_idx;
    x->env.brandk_idx = ix->brandk_idx;
    x->env.skuk_idx = ix->skuk_idx;
    x->env.pred_atom = ix->pred_atom;
    x->env.cat_words = words;
    x->env.atom_lines = x->alines;
    x->env.atom_lw = lw;
    x->env.excl_lines = x->exm;
    x->env.mprog_off = ix->mprog_off;
    x->env.mprog = ix->mprog;
    x->env.cprog_off = ix->cprog_off;
    x->env.pred_need_off = ix->pred_need_off;
    x->env.pred_need_atoms = ix->pred_need_atoms;
}

/* 0 when the receipt cannot meet some requirement of campaign ci (`atoms`: the line
 * index is on for the receipt, so the line requirements can be checked). */
static int stk_req_ok(const stk_scratch *x, const pf_index *ix, uint32_t ci, int atoms) {
    const pf_creq *cr = &ix->creq[ci];
    if (x->rx.orig_total < cr->min_total) return 0;
    uint32_t r1 = cr->req1;
    if (!atoms || r1 == PF_REQ_NONE) return 1;
    if (!(r1 & PF_REQ_MORE)) {
        uint32_t a = r1 >> 1;
        return (int)(x->pres[(r1 & 1) * x->env.cat_words + a / 64] >> (a % 64) & 1);
    }
    const uint64_t *p = x->pres; /* both bitsets: the entries say which */
    for (const uint32_t *at = ix->req_flat + (r1 & ~PF_REQ_MORE);;) {
        uint64_t any = 0;
        uint32_t e;
        do { /* a requirement: one of its atoms present */
            e = *at++;
            any |= p[(e & PF_RQ_BIT) / 64] >> (e % 64);
        } while (!(e & PF_RQ_END));
        if (!(any & 1)) return 0;
        if (e & PF_RQ_LAST) return 1;
    }
}

/* Narrows the candidates to the campaigns whose every receipt-constant clause holds. */
static void stk_rx_receipt(stk_eval *s) {
    stk_scratch *x = s->sc;
    const pf_index *ix = s->ix;
    uint32_t words = ix->words;
    const vm_receipt *rx = &x->rx;
    uint64_t *m = x->rxm;
    x->pre_done = 1;
    if (!words) return; /* no campaigns (and no arrays) */
    memcpy(m, ix->rxfree, (size_t)4 * words * sizeof *m);
    pf_rx_lookup(ix, m, PF_RX_STORE, rx->store);
    pf_rx_lookup(ix, m, PF_RX_REGION, rx->region);
    pf_rx_lookup(ix, m + words, PF_RX_CARD, rx->card);
    for (uint32_t k = 0; k < rx->nsegs; k++)
        pf_rx_lookup(ix, m + 2 * words, PF_RX_SEG, rx->segs[k]);
    for (uint32_t k = 0; k < rx->ncodes; k++)
        pf_rx_lookup(ix, m + 3 * words, PF_RX_CODE, rx->codes[k]);
    const uint64_t *ch = ix->rxfree + (size_t)(4 + rx->channel) * words;
    for (uint32_t w = 0; w < words; w++)
        x->cand[w] &= m[w] & m[words + w] & m[2 * words + w] & m[3 * words + w] & ch[w];
    x->pre_done = 1;
}

/* The number of entries of v[0 .. n) that are <= key (v sorted). */
static uint32_t stk_slot(const int32_t *v, uint32_t n, int32_t key) {
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (v[mid] <= key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Per-receipt prefilter state: line memo and atoms, and the time clauses of every
 * campaign (the candidates when the index has the time table, else x->tc, kept while
 * the date and time slot stay the same). Allocates only when the ctx first sees a
 * generation (or a larger receipt). */
static promo_status stk_time_cache(stk_eval *s) {
    stk_scratch *x = s->sc;
    const pf_index *ix = s->ix;
    const promo_bundle *b = s->b;
    if ((x->ix_gen != s->gen || s->gen == 0) && stk_bind(s) != PROMO_OK) return PROMO_ENOMEM;
    stk_memo_receipt(s);
    stk_cat_receipt(s);
    int32_t date = x->rx.date;
    uint32_t slot = stk_slot(ix->tb, ix->ntb, x->rx.time);
    if (ix->use_tw && !(s->flags & PROMO_CTX_PLAIN)) {
        x->tw_row = ix->tw + ((size_t)x->rx.weekday * (ix->ntb + 1) + slot) * 2 * ix->words;
        if (ix->use_dact) {
            const uint64_t *act = ix->dact + (size_t)stk_slot(ix->db, ix->ndb, date) * ix->words;
            for (uint32_t w = 0; w < ix->words; w++)
                x->cand[w] = act[w] & x->tw_row[w];
            return PROMO_OK;
        }
        for (uint32_t w = 0; w < ix->words; w++) {
            uint64_t act = 0;
            uint32_t end = w * 64 + 64 < b->ncampaigns ? w * 64 + 64 : b->ncampaigns;
            for (uint32_t i = w * 64; i < end; i++)
                act |= (uint64_t)(date >= ix->dr[2 * i] && date <= ix->dr[2 * i + 1]) << (i % 64);
            x->cand[w] = act & x->tw_row[w];
        }
        return PROMO_OK;
    }
    if (x->tc_valid && x->tc_date == date && x->tc_slot == slot) return PROMO_OK;
    for (uint32_t i = 0; i < b->ncampaigns; i++)
        x->tc[i] = pf_time_clauses(b, &b->campaigns[i], date, x->rx.weekday, x->rx.time);
    x->tc_date = date;
    x->tc_slot = slot;
    x->tc_valid = 1;
    return PROMO_OK;
}

static const char *stk_prefilter(stk_eval *s, uint32_t ci) {
    stk_scratch *x = s->sc;
    const promo_bundle *b = s->b;
    const vm_receipt *rx = &x->rx;
    const pb_campaign *c = &b->campaigns[ci];
    if (s->ix->use_tw && !(s->flags & PROMO_CTX_PLAIN)) {
        if (rx->date < c->date_from || rx->date > c->date_to) return "active";
        if (!(x->tw_row[ci / 64] >> (ci % 64) & 1))
            return x->tw_row[s->ix->words + ci / 64] >> (ci % 64) & 1 ? "days" : "hours";
    } else if (x->tc[ci] != PF_T_OK) {
        return stk_t_part[x->tc[ci]];
    }
    if (c->stores_set != PB_NONE || c->regions_set != PB_NONE) {
        int ok = (c->stores_set != PB_NONE && stk_in_set(b, c->stores_set, rx->store)) ||
                 (c->regions_set != PB_NONE && stk_in_set(b, c->regions_set, rx->region));
        if (!ok) return "stores";
    }
    if (c->channel_mask && !(c->channel_mask >> rx->channel & 1)) return "channel";
    if (c->card_set != PB_NONE && !stk_in_set(b, c->card_set, rx->card)) return "card";
    if (c->segment_set != PB_NONE) {
        int ok = 0;
        for (uint32_t k = 0; k < rx->nsegs && !ok; k++)
            ok = stk_in_set(b, c->segment_set, rx->segs[k]);
        if (!ok) return "segment";
    }
    if (c->code_set != PB_NONE) {
        int ok = 0;
        for (uint32_t k = 0; k < rx->ncodes && !ok; k++)
            ok = stk_in_set(b, c->code_set, rx->codes[k]);
        if (!ok) return "code";
    }
    return NULL;
}

/* ------------------------------------------------------- compatibility ---- */

/* The receipt's blocker so far, updated with applied campaign *ap (b: incompatible):
 * the first incompatible one that gave more than a spend limit. */
static inline uint32_t stk_first_blocker(uint32_t blocker, int b, const stk_applied *ap) {
    return b && !ap->sl_only && blocker == STK_NONE ? ap->campaign : blocker;
}

/* Which applied campaigns campaign k->ci is incompatible with (x->bad), and whether
 * the receipt is blocked for it. Computed on first need: most campaigns that reach
 * their rewards find no target and never ask. */
static promo_status stk_blocking(stk_eval *s, stk_camp *k) {
    stk_scratch *x = s->sc;
    if (k->blk_done) return PROMO_OK;
    k->blk_done = 1;
    k->any_bad = 0;
    k->receipt_blocked = 0;
    k->receipt_blocker = STK_NONE;
    if (STK_RESERVE(x, bad, (size_t)x->napp + 1)) return stk_nomem(x);
    /* In locals: x->bad is a char array, and every store to it would otherwise reload
     * what the loop reads. */
    const pf_index *ix = s->ix;
    const stk_applied *app = x->app;
    uint8_t *bad = x->bad;
    uint32_t napp = x->napp, ci = k->ci, blocker = STK_NONE;
    int any = 0;
    if (ix->incompat) { /* the loop twice, so that this one has no call */
        const uint64_t *row = ix->incompat + (size_t)ci * ix->words;
        for (uint32_t a = 0; a < napp; a++) {
            uint32_t c = app[a].campaign;
            int b = (int)(row[c / 64] >> (c % 64) & 1);
            bad[a] = (uint8_t)b;
            any |= b;
            blocker = stk_first_blocker(blocker, b, &app[a]);
        }
    } else {
        for (uint32_t a = 0; a < napp; a++) {
            int b = !pf_compatible_x(ix, ci, app[a].campaign);
            bad[a] = (uint8_t)b;
            any |= b;
            blocker = stk_first_blocker(blocker, b, &app[a]);
        }
    }
    k->any_bad = any;
    k->receipt_blocked = blocker != STK_NONE;
    k->receipt_blocker = blocker;
    return PROMO_OK;
}

/* The lines blocked for k: acted on by an applied campaign incompatible with it, into
 * x->blk. Needs stk_blocking. */
static void stk_blocked_lines(stk_scratch *x, const stk_camp *k) {
    for (uint32_t w = 0; w < x->lw; w++)
        x->blk[w] = 0;
    if (!k->any_bad) return;
    for (uint32_t a = 0; a < x->napp; a++)
        if (x->bad[a])
            for (uint32_t w = 0; w < x->lw; w++)
                x->blk[w] |= x->app_lines[(size_t)a * x->lw + w];
}

/* The campaign blocking line i for k: the latest applied incompatible campaign that
 * acted on it, or STK_NONE. Needs stk_blocking. */
static uint32_t stk_line_blocker(const stk_scratch *x, uint32_t i) {
    for (uint32_t a = x->napp; a-- > 0;)
        if (x->bad[a] && (x->app_lines[(size_t)a * x->lw + i / 64] >> (i % 64) & 1))
            return x->app[a].campaign;
    return STK_NONE;
}

/* ------------------------------------------------------------- rewards ---- */

/* Target lines of a line-level reward: not excluded, matching, not blocked. */
static promo_status stk_targets(stk_eval *s, stk_camp *k, const pb_reward *rw, uint32_t *nt) {
    stk_scratch *x = s->sc;
    uint32_t n = 0;
    uint64_t now;
    const uint64_t *al = vm_pred_lines_now(&x->env, rw->pred, &now);
    if (al) {
        for (uint32_t w = 0; w < x->env.atom_lw; w++)
            for (uint64_t m = al[w] & ~x->exm[w]; m; m &= m - 1)
                x->tg[n++] = w * 64 + (uint32_t)__builtin_ctzll(m);
    } else {
        uint32_t i;
        VM_FOR_CAND_LINES(&x->env, rw->pred, x->rx.nlines, i) {
            if (x->lines[i].excluded) continue;
            int m;
            promo_status st = vm_pred(&x->env, rw->pred, i, &m);
            if (st != PROMO_OK) return st;
            if (m) x->tg[n++] = i;
        }
    }
    *nt = 0;
    if (n == 0) return PROMO_OK;
    promo_status st = stk_blocking(s, k);
    if (st != PROMO_OK) return st;
    if (!k->any_bad) {
        *nt = n;
        return PROMO_OK;
    }
    stk_blocked_lines(x, k);
    uint32_t kept = 0;
    for (uint32_t j = 0; j < n; j++) {
        uint32_t i = x->tg[j];
        if (!(x->blk[i / 64] >> (i % 64) & 1)) {
            x->tg[kept++] = i;
            continue;
        }
        if (!k->saw_blocked) k->blocker = stk_line_blocker(x, i);
        k->saw_blocked = 1;
    }
    *nt = kept;
    return PROMO_OK;
}

static promo_status stk_give(stk_eval *s, stk_camp *k, uint32_t line, int64_t d) {
    stk_scratch *x = s->sc;
    vm_line *l = &x->lines[line];
    if (d > l->amount) d = l->amount;
    if (d <= 0) return PROMO_OK;
    l->amount -= d;
    x->amt_epoch++;
    x->rx.total -= d;
    x->acted_now[line] |= STK_ACTED_DISCOUNT;
    x->actw[line / 64] |= 1ull << (line % 64);
    k->gave = 1;
    STK_PUSH(x, bylog, nbylog, ((stk_by){line, k->ci, d, k->in_receipt}));
    return PROMO_OK;
}

static promo_status stk_add_points(stk_eval *s, stk_camp *k, const pb_reward *rw, int64_t p) {
    stk_scratch *x = s->sc;
    if (p <= 0) return PROMO_OK;
    int64_t a64 = (int64_t)x->rx.date + (rw->activate_days > 0 ? rw->activate_days : 0);
    int64_t e64 = a64 + (rw->expire_days > 0 ? rw->expire_days : 0);
    /* Receipt dates end at 9999-12-31 and durations at PB_MAX_DAYS: a points date past
     * the calendar's last day is written as that day (docs/semantics.md). */
    const int64_t last = STK_LAST_DAY;
    int32_t act = (int32_t)(a64 > last ? last : a64);
    int32_t exp = rw->expire_days < 0 ? INT32_MIN : (int32_t)(e64 > last ? last : e64);
    k->gave = 1;
    /* One entry per points reward given (docs/io.md `points[]`). */
    if (STK_RESERVE(x, pts_rl, (size_t)x->npts + 1)) return stk_nomem(x);
    x->pts_rl[x->npts] = (uint8_t)k->in_receipt;
    STK_PUSH(x, pts, npts, ((promo_points){k->ci, p, act, exp}));
    return PROMO_OK;
}

/* Spreads `d` over target lines tg[0..nt) by their current amounts into x->d. */
static void stk_spread_lines(stk_scratch *x, int64_t d, uint32_t nt, int64_t *out) {
    for (uint32_t j = 0; j < nt; j++)
        x->w[j] = x->lines[x->tg[j]].amount;
    if (stk_spread(d, x->w, NULL, nt, out, x->stmp))
        for (uint32_t j = 0; j < nt; j++)
            out[j] = 0;
}

/* Gives x->acc[line] to the targets in line order, so a campaign's discount log (and a
 * partial budget's spread over it) is in line order whatever the unit order was. */
static promo_status stk_give_acc(stk_eval *s, stk_camp *k, uint32_t nt) {
    stk_scratch *x = s->sc;
    for (uint32_t j = 0; j < nt; j++) {
        promo_status st = stk_give(s, k, x->tg[j], x->acc[x->tg[j]]);
        if (st != PROMO_OK) return st;
    }
    return PROMO_OK;
}

static int stk_run_cmp(const void *pa, const void *pb) {
    const stk_unitrun *a = pa, *b = pb;
    /* unit price amount/qty, descending, compared exactly */
    vm_u128 l = (vm_u128)a->amount * (vm_u128)b->qty, r = (vm_u128)b->amount * (vm_u128)a->qty;
    if (l != r) return l > r ? -1 : 1;
    return a->line < b->line ? -1 : a->line > b->line;
}

/* Whole units of the targets, sorted by current unit price descending, ties by line. */
static uint32_t stk_unit_runs(stk_scratch *x, uint32_t nt, int64_t *total_units) {
    uint32_t nr = 0;
    int64_t u = 0;
    for (uint32_t j = 0; j < nt; j++) {
        const vm_line *l = &x->lines[x->tg[j]];
        int64_t units = l->qty / 1000;
        if (units <= 0) continue;
        x->runs[nr++] = (stk_unitrun){x->tg[j], units, l->amount, l->qty};
        u += units;
    }
    stk_sort(x->runs, nr, sizeof *x->runs, stk_run_cmp);
    *total_units = u;
    return nr;
}

/* Rewarded positions in [0, x) of the sequence: the last m of every group of g. */
static int64_t stk_buy_f(int64_t xpos, int64_t g, int64_t n, int64_t m) {
    int64_t r = xpos % g - n;
    return (xpos / g) * m + (r > 0 ? r : 0);
}

static promo_status stk_buy(stk_eval *s, stk_camp *k, const pb_reward *rw, uint32_t nt) {
    stk_scratch *x = s->sc;
    int64_t n = rw->n, m = rw->m, g = n + m, units;
    int64_t pct = rw->kind == REWARD_BUY_PCT ? stk_clamp_pct(rw->b) : STK_PCT_MAX;
    uint32_t nr = stk_unit_runs(x, nt, &units);
    if (n < 1 || m < 1) return PROMO_OK;
    int64_t groups = units / g;
    if (k->c->limit_receipt && groups > (int64_t)k->c->limit_receipt) groups = k->c->limit_receipt;
    int64_t end = groups * g, pos = 0;
    for (uint32_t j = 0; j < nt; j++)
        x->acc[x->tg[j]] = 0;
    for (uint32_t j = 0; j < nr && pos < end; j++) {
        int64_t e = pos + x->runs[j].units;
        int64_t kk = stk_buy_f(e < end ? e : end, g, n, m) - stk_buy_f(pos, g, n, m);
        pos = e;
        if (kk <= 0) continue;
        const vm_line *l = &x->lines[x->runs[j].line];
        /* round_half_up(amount * k / qty * pct / 100%) with qty in thousandths */
        vm_u128 num = (vm_u128)l->amount * (vm_u128)kk * 1000u * (vm_u128)pct;
        vm_u128 den = (vm_u128)l->qty * STK_PCT_MAX;
        x->acc[x->runs[j].line] = (int64_t)vm_rdiv(num, den);
    }
    return stk_give_acc(s, k, nt);
}

static uint64_t stk_gcd(uint64_t a, uint64_t b) {
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Exact unit prices of the segments s[0 .. ns) of one bundle group as integer weights
 * over a common denominator: price_q = amount_q * 1000 / qty_q = w[q] / *den. Returns
 * 0 when the weights do not fit (absurd quantities): then w[q] approximates the
 * price in 1/2^20 kopecks and *den is 2^20. */
static int stk_unit_weights(const stk_scratch *x, const uint32_t *seg, uint32_t ns, int64_t *w,
                            int64_t *den) {
    uint64_t l = 1;
    int fits = 1;
    for (uint32_t q = 0; q < ns && fits; q++) {
        uint64_t qt = (uint64_t)x->runs[seg[q]].qty;
        uint64_t m = l / stk_gcd(l, qt);
        fits = !__builtin_mul_overflow(m, qt, &l) && l <= (1ull << 62);
    }
    for (uint32_t q = 0; q < ns && fits; q++) {
        const stk_unitrun *u = &x->runs[seg[q]];
        vm_u128 v = (vm_u128)u->amount * 1000u * (vm_u128)(l / (uint64_t)u->qty);
        fits = v <= ((vm_u128)1 << 62);
        w[q] = (int64_t)v;
    }
    if (fits) {
        *den = (int64_t)l;
        return 1;
    }
    for (uint32_t q = 0; q < ns; q++) {
        const stk_unitrun *u = &x->runs[seg[q]];
        w[q] = (int64_t)vm_rdiv((vm_u128)u->amount * 1000u << 20, (vm_u128)u->qty);
    }
    *den = 1 << 20;
    return 0;
}

/* round_half_up(S - X) for S = sum / den (exact), or 0 when S <= X. */
static int64_t stk_over(vm_u128 sum, int64_t den, int64_t price) {
    vm_u128 xp = (vm_u128)price * (vm_u128)den;
    if (sum <= xp) return 0;
    vm_u128 r = vm_rdiv(sum - xp, (vm_u128)den);
    return r > (vm_u128)INT64_MAX ? INT64_MAX : (int64_t)r;
}

static promo_status stk_bundle(stk_eval *s, stk_camp *k, const pb_reward *rw, uint32_t nt) {
    stk_scratch *x = s->sc;
    int64_t n = rw->n, price = stk_money(rw->b), units;
    uint32_t nr = stk_unit_runs(x, nt, &units);
    if (n < 1) return PROMO_OK;
    int64_t groups = units / n;
    if (k->c->limit_receipt && groups > (int64_t)k->c->limit_receipt) groups = k->c->limit_receipt;
    /* x->share accumulates each run's discount; x->w/x->cnt/x->d describe one group
     * (x->head: the runs of its segments). A unit's price is amount / qty, exact. */
    for (uint32_t j = 0; j < nr; j++)
        x->share[j] = 0;
    uint32_t j = 0;
    int64_t off = 0; /* units of run j already grouped */
    while (groups > 0 && j < nr) {
        const stk_unitrun *u = &x->runs[j];
        int64_t left = u->units - off;
        if (left >= n) {
            /* c identical groups inside one run: each costs n * amount / qty - X. */
            int64_t c = left / n;
            if (c > groups) c = groups;
            vm_u128 sum = (vm_u128)n * (vm_u128)u->amount * 1000u;
            x->share[j] += c * stk_over(sum, u->qty, price);
            groups -= c;
            off += c * n;
            if (off == u->units) j++, off = 0;
            continue;
        }
        /* A group straddling runs: its units are segments of equal-priced units. */
        uint32_t ns = 0;
        int64_t need = n;
        while (need > 0 && j < nr) {
            int64_t take = x->runs[j].units - off;
            if (take > need) take = need;
            x->head[ns] = j;
            x->cnt[ns] = take;
            ns++;
            need -= take;
            off += take;
            if (off == x->runs[j].units) j++, off = 0;
        }
        if (need > 0) break; /* cannot happen: groups <= units / n */
        int64_t den;
        stk_unit_weights(x, x->head, ns, x->w, &den);
        vm_u128 sum = 0;
        for (uint32_t q = 0; q < ns; q++)
            sum += (vm_u128)x->cnt[q] * (vm_u128)x->w[q];
        int64_t dsc = stk_over(sum, den, price);
        if (stk_spread(dsc, x->w, x->cnt, ns, x->d, x->stmp)) return PROMO_OK;
        for (uint32_t q = 0; q < ns; q++)
            x->share[x->head[q]] += x->d[q];
        groups--;
    }
    for (uint32_t q = 0; q < nt; q++)
        x->acc[x->tg[q]] = 0;
    for (uint32_t q = 0; q < nr; q++)
        x->acc[x->runs[q].line] = x->share[q];
    return stk_give_acc(s, k, nt);
}

static promo_status stk_points_pct(stk_eval *s, stk_camp *k, const pb_reward *rw, uint32_t nt) {
    stk_scratch *x = s->sc;
    /* points_paid is spread over every non-excluded line as it stands now. */
    uint32_t n = x->rx.nlines, ne = 0;
    const promo_receipt *r = x->rx.r;
    /* The spread depends only on the amounts: kept until one changes. */
    if (x->pp_epoch != x->amt_epoch) {
        for (uint32_t i = 0; i < n; i++)
            x->ppshare[i] = 0;
        if (r->points_paid > 0) {
            for (uint32_t i = 0; i < n; i++)
                if (!x->lines[i].excluded) {
                    x->w[ne] = x->lines[i].amount;
                    x->cnt[ne++] = i; /* line index of the ne-th weight */
                }
            if (!stk_spread(r->points_paid, x->w, NULL, ne, x->d, x->stmp))
                for (uint32_t q = 0; q < ne; q++)
                    x->ppshare[x->cnt[q]] = x->d[q];
        }
        x->pp_epoch = x->amt_epoch;
    }
    int64_t sum = 0, pct = rw->a;
    const uint32_t *tg = x->tg;
    const vm_line *ln = x->lines;
    for (uint32_t j = 0; j < nt; j++) {
        uint32_t i = tg[j];
        int64_t paid = ln[i].amount - x->ppshare[i];
        if (paid <= 0) continue;
        int64_t p = stk_pct_of(paid, pct);
        if (p > 0) {
            x->acted_now[i] |= STK_ACTED_POINTS;
            x->actw[i / 64] |= 1ull << (i % 64);
            /* the entry stk_add_points is about to push */
            STK_PUSH(x, ptlog, nptlog, ((stk_ptline){x->npts, i}));
            sum = stk_sat_add(sum, p);
        }
    }
    return stk_add_points(s, k, rw, sum);
}

static promo_status stk_spend_limit(stk_eval *s, stk_camp *k, const pb_reward *rw) {
    stk_scratch *x = s->sc;
    if (x->has_sl) return PROMO_OK; /* only the first spend limit to apply counts */
    for (uint32_t q = 0; q < rw->steps_cnt; q++) {
        const pb_step *stp = &s->b->steps[rw->steps_off + q];
        if (stp->cond != PB_NONE) {
            int64_t v;
            promo_status st = vm_run(&x->env, stp->cond, STK_NONE, &v);
            if (st != PROMO_OK) return st;
            if (v == 0 || v == PROMO_ABSENT) continue;
        }
        int64_t base = 0;
        for (uint32_t i = 0; i < x->rx.nlines; i++)
            if (!x->lines[i].excluded) base += x->lines[i].amount;
        x->has_sl = 1;
        x->sl = stk_pct_of(base, stp->pct);
        k->gave_sl = 1;
        return PROMO_OK;
    }
    return PROMO_OK;
}

static promo_status stk_reward(stk_eval *s, stk_camp *k, const pb_reward *rw) {
    stk_scratch *x = s->sc;
    promo_status st;
    uint32_t nt = 0;
    if (rw->kind == REWARD_SPEND_LIMIT) return stk_spend_limit(s, k, rw);
    if (rw->level == PB_LEVEL_RECEIPT) {
        if ((st = stk_blocking(s, k)) != PROMO_OK) return st;
        if (k->receipt_blocked) {
            if (!k->saw_blocked) k->blocker = k->receipt_blocker;
            k->saw_blocked = 1;
            return PROMO_OK;
        }
        int gave_before = k->gave;
        k->gave = 0;
        k->in_receipt = 1;
        switch (rw->kind) {
        case REWARD_COUPON:
            STK_PUSH(x, coupons, ncoupons, ((promo_text){k->ci, rw->str}));
            k->gave = k->rl_text = 1;
            break;
        case REWARD_MESSAGE:
            STK_PUSH(x, messages, nmessages, ((promo_text){k->ci, rw->str}));
            k->gave = k->rl_text = 1;
            break;
        case REWARD_POINTS_FIXED:
            if ((st = stk_add_points(s, k, rw, rw->a)) != PROMO_OK) return st;
            break;
        default:
            /* discount X on receipt, points P% of paid: every non-excluded line. */
            for (uint32_t i = 0; i < x->rx.nlines; i++)
                if (!x->lines[i].excluded) {
                    int m;
                    if ((st = vm_pred(&x->env, rw->pred, i, &m)) != PROMO_OK) return st;
                    if (m) x->tg[nt++] = i;
                }
            if (rw->kind == REWARD_POINTS_PCT) {
                if ((st = stk_points_pct(s, k, rw, nt)) != PROMO_OK) return st;
            } else {
                /* one amount: X, or P% of the targets' current amounts (SPEC 3.2) */
                int64_t amt = stk_money(rw->a);
                if (rw->kind == REWARD_DISCOUNT_PCT) {
                    int64_t sum = 0;
                    for (uint32_t j = 0; j < nt; j++)
                        sum = stk_sat_add(sum, x->lines[x->tg[j]].amount);
                    amt = stk_pct_of(sum, rw->a);
                }
                stk_spread_lines(x, amt, nt, x->d);
                for (uint32_t j = 0; j < nt; j++)
                    if ((st = stk_give(s, k, x->tg[j], x->d[j])) != PROMO_OK) return st;
            }
        }
        k->in_receipt = 0;
        if (k->gave) k->mark_all = 1;
        k->gave |= gave_before;
        return PROMO_OK;
    }

    if ((st = stk_targets(s, k, rw, &nt)) != PROMO_OK) return st;
    switch (rw->kind) {
    case REWARD_DISCOUNT_PCT:
        for (uint32_t j = 0; j < nt; j++) {
            uint32_t i = x->tg[j];
            if ((st = stk_give(s, k, i, stk_pct_of(x->lines[i].amount, rw->a))) != PROMO_OK)
                return st;
        }
        break;
    case REWARD_DISCOUNT_EACH: {
        /* limit K per receipt: the first K units in line order (weight counts its qty) */
        int64_t left = k->c->limit_receipt ? (int64_t)k->c->limit_receipt * 1000 : INT64_MAX;
        for (uint32_t j = 0; j < nt && left > 0; j++) {
            uint32_t i = x->tg[j];
            int64_t u = x->lines[i].qty < left ? x->lines[i].qty : left;
            left -= u;
            if ((st = stk_give(s, k, i, stk_qty_money(u, rw->a))) != PROMO_OK) return st;
        }
        break;
    }
    case REWARD_DISCOUNT_AMOUNT:
        stk_spread_lines(x, stk_money(rw->a), nt, x->d);
        for (uint32_t j = 0; j < nt; j++)
            if ((st = stk_give(s, k, x->tg[j], x->d[j])) != PROMO_OK) return st;
        break;
    case REWARD_PRICE:
        for (uint32_t j = 0; j < nt; j++) {
            uint32_t i = x->tg[j];
            int64_t promo = stk_qty_money(x->lines[i].qty, rw->a);
            if ((st = stk_give(s, k, i, x->lines[i].amount - promo)) != PROMO_OK) return st;
        }
        break;
    case REWARD_BUY_FREE:
    case REWARD_BUY_PCT: return stk_buy(s, k, rw, nt);
    case REWARD_BUNDLE: return stk_bundle(s, k, rw, nt);
    case REWARD_POINTS_PCT: return stk_points_pct(s, k, rw, nt);
    default: break; /* receipt-level kinds compiled as line-level: nothing to do */
    }
    return PROMO_OK;
}

/* ------------------------------------------------------------- budgets ---- */

/* Undoes everything campaign k gave (a refused budget). */
static void stk_rollback(stk_eval *s, stk_camp *k) {
    stk_scratch *x = s->sc;
    for (uint32_t i = k->by0; i < x->nbylog; i++) {
        x->lines[x->bylog[i].line].amount += x->bylog[i].amount;
        x->amt_epoch++;
        x->rx.total += x->bylog[i].amount;
    }
    x->nbylog = k->by0;
    x->npts = k->pts0;
    x->ncoupons = k->coupons0;
    x->nmessages = k->messages0;
    for (uint32_t i = 0; i < x->rx.nlines; i++)
        x->acted_now[i] = 0;
    for (uint32_t w = 0; w < x->lw; w++)
        x->actw[w] = 0;
}

/* `budget X partial`: grants `q` of the campaign's reward, spread over its discounts
 * and points in proportion (largest remainder). */
static void stk_scale(stk_eval *s, stk_camp *k, int64_t q) {
    stk_scratch *x = s->sc;
    uint32_t nd = x->nbylog - k->by0, np = x->npts - k->pts0, n = nd + np;
    if (STK_RESERVE(x, sw, 2 * (size_t)n + 2) || STK_RESERVE(x, stmp2, (size_t)n + 1)) {
        x->err = PROMO_ENOMEM;
        return;
    }
    int64_t *w = x->sw;
    stk_spread_tmp *tmp = x->stmp2;
    int64_t *out = w + n;
    for (uint32_t i = 0; i < nd; i++)
        w[i] = x->bylog[k->by0 + i].amount;
    for (uint32_t i = 0; i < np; i++)
        w[nd + i] = x->pts[k->pts0 + i].points;
    stk_spread(q, w, NULL, n, out, tmp);
    uint32_t o = k->by0;
    for (uint32_t i = 0; i < nd; i++) {
        stk_by e = x->bylog[k->by0 + i];
        int64_t back = e.amount - out[i];
        x->lines[e.line].amount += back;
        x->amt_epoch++;
        x->rx.total += back;
        if (out[i] > 0) {
            e.amount = out[i];
            x->bylog[o++] = e;
        }
    }
    x->nbylog = o;
    /* A line the cut left with nothing has not been acted on (SPEC 3.3 rule 5). */
    for (uint32_t i = 0; i < x->rx.nlines; i++)
        x->acted_now[i] &= (uint8_t)~STK_ACTED_DISCOUNT;
    for (uint32_t i = k->by0; i < x->nbylog; i++)
        x->acted_now[x->bylog[i].line] |= STK_ACTED_DISCOUNT;
    o = k->pts0;
    for (uint32_t i = 0; i < np; i++)
        if (out[nd + i] > 0) {
            x->pts[o] = x->pts[k->pts0 + i];
            x->pts_rl[o] = x->pts_rl[k->pts0 + i];
            x->pts[o++].points = out[nd + i];
        }
    x->npts = o;
    /* Receipt-level rewards act on every line only if the cut left them something. */
    if (k->mark_all && !k->rl_text) {
        int left = 0;
        for (uint32_t i = k->by0; i < x->nbylog && !left; i++)
            left = x->bylog[i].receipt;
        for (uint32_t i = k->pts0; i < x->npts && !left; i++)
            left = x->pts_rl[i];
        k->mark_all = left;
    }
    /* A points entry acts on its lines only if the cut left it something. */
    for (uint32_t i = 0; i < x->rx.nlines; i++)
        x->acted_now[i] &= (uint8_t)~STK_ACTED_POINTS;
    for (uint32_t i = 0; i < x->nptlog; i++)
        if (out[nd + x->ptlog[i].entry - k->pts0] > 0)
            x->acted_now[x->ptlog[i].line] |= STK_ACTED_POINTS;
}

/* ------------------------------------------------------------ campaign ---- */

static promo_status stk_explain_push(stk_eval *s, uint32_t ci, promo_outcome o, uint32_t other,
                                     const char *part) {
    stk_scratch *x = s->sc;
    STK_PUSH(x, explain, nexplain, ((promo_explain){ci, o, other, part}));
    return PROMO_OK;
}

/* The flag is tested inline: without --explain the call costs one branch per campaign. */
static inline promo_status stk_explain(stk_eval *s, uint32_t ci, promo_outcome o, uint32_t other,
                                       const char *part) {
    if (__builtin_expect(!(s->flags & PROMO_CTX_EXPLAIN), 1) || s->sc->trial) return PROMO_OK;
    return stk_explain_push(s, ci, o, other, part);
}

/* Campaign ci's `when` (holds when it has none): *holds, and env.fail_part names the part
 * that failed (PB_NONE: the whole `when`). */
static inline __attribute__((always_inline)) promo_status stk_when(stk_eval *s, uint32_t ci,
                                                                   int *holds) {
    stk_scratch *x = s->sc;
    const pb_campaign *c = &s->b->campaigns[ci];
    *holds = 1;
    x->env.fail_part = PB_NONE;
    if (s->ix->creq[ci].when_total != PB_NONE && x->fast_when) {
        /* `when total >= X` alone: its one opcode's test, without the VM (prefilter.h) */
        *holds = (int)vm_total_ge(&x->env, s->ix->creq[ci].when_total);
    } else if (c->cond_block != PB_NONE) {
        int64_t v;
        promo_status st = vm_run(&x->env, c->cond_block, STK_NONE, &v);
        if (st != PROMO_OK) return st;
        *holds = v != 0 && v != PROMO_ABSENT;
    }
    return PROMO_OK;
}

static promo_status stk_campaign(stk_eval *s, uint32_t ci) {
    stk_scratch *x = s->sc;
    const promo_bundle *b = s->b;
    const pb_campaign *c = &b->campaigns[ci];
    promo_status st;

    if (x->stopped_by != STK_NONE)
        return stk_explain(s, ci, PROMO_OUT_STOPPED, x->stopped_by, NULL);
    const char *part = x->pre_done ? NULL : stk_prefilter(s, ci);
    if (part) return stk_explain(s, ci, PROMO_OUT_NOT_APPLICABLE, STK_NONE, part);
    int holds = 1;
    if (x->when_held) /* the candidate loop tested it */
        x->when_held = 0;
    else if ((st = stk_when(s, ci, &holds)) != PROMO_OK)
        return st;
    if (!holds) {
        const char *p = x->env.fail_part != PB_NONE ? bundle_str(b, x->env.fail_part) : "when";
        return stk_explain(s, ci, PROMO_OUT_NOT_APPLICABLE, STK_NONE, p);
    }
    if (c->limit_customer) {
        /* A receipt without a customer id cannot be counted: the campaign does not apply. */
        if (!s->has_customer_state)
            return stk_explain(s, ci, PROMO_OUT_NO_CUSTOMER, STK_NONE, NULL);
        int32_t bucket = stk_period_bucket(c->limit_period, x->rx.date);
        int64_t used =
            stk_rec_sum(&s->rec, stk_limit_key(c->id_hash, c->limit_period), bucket, bucket);
        if (used >= (int64_t)c->limit_customer)
            return stk_explain(s, ci, PROMO_OUT_LIMIT, STK_NONE, NULL);
    }

    stk_camp k = {.ci = ci, .c = c, .blocker = STK_NONE};
    k.by0 = x->nbylog;
    k.pts0 = x->npts;
    x->nptlog = 0;
    k.coupons0 = x->ncoupons;
    k.messages0 = x->nmessages;
    int had_sl = x->has_sl;
    for (uint32_t r = 0; r < c->reward_cnt; r++) {
        if ((st = stk_reward(s, &k, &b->rewards[c->reward_off + r])) != PROMO_OK) return st;
        if (x->err != PROMO_OK) return x->err;
    }
    if (!k.gave && !k.gave_sl) {
        if (k.saw_blocked) return stk_explain(s, ci, PROMO_OUT_BLOCKED, k.blocker, NULL);
        return stk_explain(s, ci, PROMO_OUT_NOTHING, STK_NONE, NULL);
    }

    stk_budget *ctr = s->budgets ? s->budgets[ci] : NULL;
    if (ctr && c->budget >= 0 && k.gave) {
        int64_t want = 0;
        for (uint32_t i = k.by0; i < x->nbylog; i++)
            want = stk_sat_add(want, x->bylog[i].amount);
        for (uint32_t i = k.pts0; i < x->npts; i++)
            want = stk_sat_add(want, x->pts[i].points);
        if (want > 0) {
            int64_t seen = atomic_load_explicit(&ctr->spent, memory_order_acquire);
            int64_t remaining = c->budget - seen;
            if (remaining < 0) remaining = 0;
            int64_t granted = want;
            if (want > remaining) {
                if (!(c->flags & PBC_BUDGET_PARTIAL) || remaining == 0) {
                    stk_rollback(s, &k);
                    x->has_sl = had_sl;
                    return stk_explain(s, ci, PROMO_OUT_BUDGET, STK_NONE, NULL);
                }
                stk_scale(s, &k, remaining);
                if (x->err != PROMO_OK) return x->err;
                granted = remaining;
            }
            if (x->trial) goto trial_done;
            if (STK_ERESERVE(s, x, budget_uses, (size_t)s->nbudget_uses + 1)) return stk_nomem(x);
            s->budget_uses[s->nbudget_uses++] =
                (stk_budget_use){ctr, c->budget, want, granted, seen};
        }
    }

    if (x->trial) {
    trial_done:
        x->trial_applies = 1;
        x->trial_benefit = 0;
        for (uint32_t i = k.by0; i < x->nbylog; i++)
            x->trial_benefit = stk_sat_add(x->trial_benefit, x->bylog[i].amount);
        for (uint32_t i = k.pts0; i < x->npts; i++)
            x->trial_benefit = stk_sat_add(x->trial_benefit, x->pts[i].points);
        stk_rollback(s, &k);
        x->has_sl = had_sl;
        return PROMO_OK;
    }

    /* The campaign applies: record where it acted, for later blocking. */
    uint32_t ka = x->napp;
    STK_PUSH(x, app, napp, ((stk_applied){ci, !k.gave}));
    if (STK_RESERVE(x, app_lines, (size_t)(ka + 1) * x->lw)) return stk_nomem(x);
    uint64_t *al = x->app_lines + (size_t)ka * x->lw;
    for (uint32_t w = 0; w < x->lw; w++)
        al[w] = 0;
    if (k.gave && k.mark_all) {
        uint32_t n = x->rx.nlines;
        memset(x->acted_now, 0, n);
        for (uint32_t w = 0; w < x->lw; w++) {
            al[w] = w * 64 + 64 <= n ? ~0ull : (1ull << (n % 64)) - 1;
            x->actw[w] = 0;
        }
    } else if (k.gave) {
        /* the lines acted on: those of actw whose acted_now is still set */
        for (uint32_t w = 0; w < x->lw; w++) {
            for (uint64_t m = x->actw[w]; m; m &= m - 1) {
                uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(m);
                if (!x->acted_now[i]) continue;
                x->acted_now[i] = 0;
                al[w] |= 1ull << (i % 64);
            }
            x->actw[w] = 0;
        }
    }
    STK_PUSH(x, applied, napplied, ci);
    if (c->flags & PBC_STOP) x->stopped_by = ci;
    return stk_explain(s, ci, PROMO_OUT_APPLIED, STK_NONE, NULL);
}

/* -------------------------------------------------------------- result ---- */

static promo_status stk_finish(stk_eval *s, const promo_receipt *r) {
    stk_scratch *x = s->sc;
    uint32_t n = x->rx.nlines;
    promo_result *res = &s->res;
    /* by entries grouped per line (counting sort), a campaign's entries merged. */
    if (STK_RESERVE(x, by, x->nbylog)) return stk_nomem(x);
    uint32_t *cnt = x->head;
    for (uint32_t i = 0; i < n; i++)
        cnt[i] = 0;
    for (uint32_t e = 0; e < x->nbylog; e++)
        cnt[x->bylog[e].line]++;
    uint32_t off = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t c = cnt[i];
        cnt[i] = off;
        x->lres[i].by_off = off;
        off += c;
    }
    for (uint32_t e = 0; e < x->nbylog; e++) {
        const stk_by *b = &x->bylog[e];
        x->by[cnt[b->line]++] = (promo_by){b->campaign, b->amount};
    }
    uint32_t o = 0;
    int64_t disc = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t from = x->lres[i].by_off, to = cnt[i];
        x->lres[i].by_off = o;
        for (uint32_t e = from; e < to; e++) {
            if (o > x->lres[i].by_off && x->by[o - 1].campaign == x->by[e].campaign)
                x->by[o - 1].amount += x->by[e].amount;
            else
                x->by[o++] = x->by[e];
        }
        x->lres[i].by_cnt = o - x->lres[i].by_off;
        const vm_line *l = &x->lines[i];
        x->lres[i].amount = l->amount0;
        x->lres[i].final = l->amount;
        x->lres[i].discount = l->amount0 - l->amount;
        disc += x->lres[i].discount;
    }
    memset(res, 0, sizeof *res);
    res->bundle = s->b;
    res->id = r->id;
    res->total = x->rx.orig_total;
    res->discount = disc;
    res->final = x->rx.orig_total - disc;
    res->lines = x->lres;
    res->nlines = n;
    res->by = x->by;
    res->nby = o;
    res->points = x->pts;
    res->npoints = x->npts;
    res->coupons = x->coupons;
    res->ncoupons = x->ncoupons;
    res->messages = x->messages;
    res->nmessages = x->nmessages;
    res->has_spend_limit = x->has_sl;
    res->spend_limit = x->sl;
    res->applied = x->applied;
    res->napplied = x->napplied;
    res->explain = x->explain;
    res->nexplain = x->nexplain;

    /* State deltas for commit: history of the final amounts, one visit, limits. */
    if (!s->has_customer_state) return PROMO_OK;
    const promo_bundle *b = s->b;
    size_t need = (size_t)b->nhist + 1 + x->napplied;
    if (STK_ERESERVE(s, x, deltas, need)) return stk_nomem(x);
    uint32_t nd = 0, nhl = 0;
    const pf_index *ix = s->ix;
    /* the journal's attribution of history to lines (runtime/ops.c), only when asked:
     * writing it costs ~1 % of a receipt on a set of many history slots */
    const int attr = s->hist_attr;
    if (attr && (STK_ERESERVE(s, x, hist_off, (size_t)b->nhist + 1) ||
                 STK_ERESERVE(s, x, hist_lines, (size_t)b->nhist * n + 1)))
        return stk_nomem(x);
    /* A slot whose predicate needs atoms none of the lines has gets nothing: with the
     * line index on, only the open slots and those of the atoms present are visited
     * (hc: one bit per slot's rank in key order). */
    uint64_t *hc = x->hcand;
    if (!ix->hist_words || n == 0) {
        hc = NULL; /* no slots, or no lines to feed them (and no bound index: SPEC 4's
                    * empty receipt returns before stk_time_cache) */
    } else if (x->env.cat_idx) {
        memcpy(hc, ix->hist_open, ix->hist_words * sizeof *hc);
        for (uint32_t w = 0; w < x->env.cat_words; w++)
            for (uint64_t m = x->pres[w]; m; m &= m - 1) {
                uint32_t at = w * 64 + (uint32_t)__builtin_ctzll(m);
                for (uint32_t k = ix->atom_hist_off[at]; k < ix->atom_hist_off[at + 1]; k++)
                    hc[ix->atom_hist[k] / 64] |= 1ull << (ix->atom_hist[k] % 64);
            }
    } else {
        memset(hc, 0xff, ix->hist_words * sizeof *hc);
    }
    /* by rank in key order: the history deltas come out sorted (prefilter.h) */
    const int lw1 = x->env.atom_lw == 1;
    for (uint32_t hw = 0; hc && hw < ix->hist_words; hw++)
        for (uint64_t hm = hc[hw]; hm; hm &= hm - 1) {
            uint32_t rk = hw * 64 + (uint32_t)__builtin_ctzll(hm);
            if (rk >= b->nhist) break;
            uint32_t h = ix->hist_by_key[rk];
            int64_t v = 0;
            uint32_t hl0 = nhl;
            uint64_t now;
            const uint64_t *al = vm_pred_lines_now(&x->env, b->hist[h].pred, &now);
            int qty = b->hist[h].kind != 0;
            if (al && lw1 && !attr) {
                /* the usual case: a plain sum (a receipt's sums never overflow, vm_agg) */
                for (uint64_t m = al[0]; m; m &= m - 1) {
                    const vm_line *l = &x->lines[__builtin_ctzll(m)];
                    v += qty ? l->qty : l->amount;
                }
            } else if (al) {
                for (uint32_t w = 0; w < x->env.atom_lw; w++)
                    for (uint64_t m = al[w]; m; m &= m - 1) {
                        uint32_t li = w * 64 + (uint32_t)__builtin_ctzll(m);
                        const vm_line *l = &x->lines[li];
                        v = stk_sat_add(v, qty ? l->qty : l->amount);
                        if (attr) s->hist_lines[nhl++] = (stk_hline){li, qty ? l->qty : l->amount};
                    }
            }
            uint32_t i;
            if (!al) VM_FOR_CAND_LINES(&x->env, b->hist[h].pred, n, i) {
                    int m;
                    promo_status st = vm_pred(&x->env, b->hist[h].pred, i, &m);
                    if (st != PROMO_OK) return st;
                    if (!m) continue;
                    int64_t lv = qty ? x->lines[i].qty : x->lines[i].amount;
                    v = stk_sat_add(v, lv);
                    if (attr) s->hist_lines[nhl++] = (stk_hline){i, lv};
                }
            if (v) {
                if (attr) s->hist_off[nd] = hl0;
                s->deltas[nd++] = (promo_delta){b->hist[h].key, x->rx.date, v};
            } else {
                nhl = hl0;
            }
        }
    if (attr) s->hist_off[nd] = nhl;
    s->nhist_deltas = nd;
    s->deltas[nd++] = (promo_delta){STK_VISITS_KEY, x->rx.date, 1};
    for (uint32_t a = 0; a < x->napplied; a++) {
        const pb_campaign *c = &b->campaigns[x->applied[a]];
        if (c->limit_customer)
            s->deltas[nd++] = (promo_delta){stk_limit_key(c->id_hash, c->limit_period),
                                            stk_period_bucket(c->limit_period, x->rx.date), 1};
    }
    s->ndeltas = nd;
    return PROMO_OK;
}

static uint32_t stk_find(uint32_t *uf, uint32_t a) {
    while (uf[a] != a)
        a = uf[a] = uf[uf[a]];
    return a;
}

/* Greater benefit first, then id order (the index in the run). */
static int stk_tb_cmp(const void *pa, const void *pb) {
    const stk_tbmem *a = pa, *b = pb;
    if (a->benefit != b->benefit) return a->benefit > b->benefit ? -1 : 1;
    return a->k < b->k ? -1 : a->k > b->k;
}

/* `tiebreak benefit` over the run [i, j) of equal priorities: campaigns that could
 * apply (if they went first) and are linked by mutual incompatibility are reordered among
 * their own positions by the benefit each gives as if it went first (greater first,
 * then id); every other campaign keeps its place. Result in x->order[0 .. j - i). */
static promo_status stk_tiebreak(stk_eval *s, uint32_t i, uint32_t j) {
    stk_scratch *x = s->sc;
    uint32_t n = j - i;
    for (uint32_t k = 0; k < n; k++)
        x->order[k] = i + k;
    if (n < 2 || x->stopped_by != STK_NONE) return PROMO_OK;
    for (uint32_t k = 0; k < n; k++) {
        x->trial = 1;
        x->trial_applies = 0;
        x->trial_benefit = 0;
        promo_status st = stk_campaign(s, i + k);
        x->trial = 0;
        if (st != PROMO_OK) return st;
        /* -1: would not apply at all (a campaign giving only a spend limit applies with
         * a benefit of 0) */
        x->benefit[k] = x->trial_applies ? x->trial_benefit : -1;
        x->uf[k] = k;
    }
    for (uint32_t a = 0; a < n; a++)
        for (uint32_t c = a + 1; c < n; c++)
            if (x->benefit[a] >= 0 && x->benefit[c] >= 0 && !pf_compatible(s->b, i + a, i + c))
                x->uf[stk_find(x->uf, a)] = stk_find(x->uf, c);
    /* Each component's members, in bundle order, hand their positions to the members
     * sorted by benefit, however many there are (SPEC 3.3 rule 6). */
    for (uint32_t root = 0; root < n; root++) {
        if (stk_find(x->uf, root) != root) continue;
        uint32_t m = 0;
        for (uint32_t a = 0; a < n; a++)
            if (stk_find(x->uf, a) == root) {
                x->tbpos[m] = a;
                x->tbmem[m++] = (stk_tbmem){x->benefit[a], a};
            }
        if (m < 2) continue;
        stk_sort(x->tbmem, m, sizeof *x->tbmem, stk_tb_cmp);
        for (uint32_t p = 0; p < m; p++)
            x->order[x->tbpos[p]] = i + x->tbmem[p].k;
    }
    return PROMO_OK;
}

promo_status stk_evaluate(stk_eval *s, const promo_receipt *r) {
    s->msg[0] = 0;
    if (!r) {
        snprintf(s->msg, sizeof s->msg, "receipt is NULL");
        return PROMO_EARG;
    }
    promo_status st = stk_prepare(s, r);
    if (st != PROMO_OK) {
        if (st == PROMO_ENOMEM) snprintf(s->msg, sizeof s->msg, "out of memory");
        return st;
    }
    stk_scratch *x = s->sc;
    if (s->store && r->customer && r->customer->id.p) {
        /* One read of the customer's whole record (SPEC 7): limits and history below
         * are sums over it. */
        s->customer = r->customer->id;
        promo_status rs = s->store->ops->read(s->store->self, s->reader, s->customer, &s->rec);
        if (rs != PROMO_OK) {
            snprintf(s->msg, sizeof s->msg, "state store: customer read failed%s",
                     rs == PROMO_ENOMEM ? " (out of memory)" : "");
            return rs == PROMO_ENOMEM ? rs : PROMO_ESTATE;
        }
        s->version = s->rec.version;
        s->has_customer_state = 1;
        /* a customer with no stored cell (most are new): nothing to read, the VM's
         * history is the current receipt alone, as without a store */
        x->env.hist = s->rec.ncells ? stk_hist : NULL;
    }
    const promo_bundle *b = s->b;
    int tiebreak = (b->hdr->flags & PBF_TIEBREAK_BENEFIT) != 0;
    if (tiebreak &&
        (STK_RESERVE(x, order, b->ncampaigns) || STK_RESERVE(x, benefit, b->ncampaigns) ||
         STK_RESERVE(x, uf, b->ncampaigns) || STK_RESERVE(x, tbpos, b->ncampaigns) ||
         STK_RESERVE(x, tbmem, b->ncampaigns))) {
        snprintf(s->msg, sizeof s->msg, "out of memory");
        return PROMO_ENOMEM;
    }
    /* SPEC 4: an empty receipt is valid and earns nothing (not even unconditional
     * coupons or points); it still counts as a visit. */
    if (x->rx.nlines == 0) {
        for (uint32_t i = 0; i < b->ncampaigns; i++)
            if ((st = stk_explain(s, i, PROMO_OUT_NOTHING, STK_NONE, NULL)) != PROMO_OK) {
                snprintf(s->msg, sizeof s->msg, "out of memory");
                return st;
            }
        return stk_finish(s, r);
    }
    if ((st = stk_time_cache(s)) != PROMO_OK) {
        snprintf(s->msg, sizeof s->msg, "out of memory");
        return st;
    }
    /* Without --explain and tiebreak, a campaign its time clauses reject (or any campaign
     * after a `stop`) leaves no trace: visit only the candidates, in evaluation order. */
    const pf_index *ix = s->ix;
    if (ix->use_tw && !tiebreak && !(s->flags & (PROMO_CTX_EXPLAIN | PROMO_CTX_PLAIN))) {
        stk_rx_receipt(s);
        /* Requirements need the receipt's line index (off for huge receipts). */
        int atoms = x->env.cat_idx != NULL;
        for (uint32_t w = 0; w < ix->words; w++)
            for (uint64_t bits = x->cand[w]; bits; bits &= bits - 1) {
                uint32_t ci = w * 64 + (uint32_t)__builtin_ctzll(bits);
                if (!stk_req_ok(x, ix, ci, atoms)) continue;
                /* the `when` first: most fail it, and then leave no trace (no --explain) */
                int holds;
                if ((st = stk_when(s, ci, &holds)) == PROMO_OK && !holds) continue;
                x->when_held = st == PROMO_OK;
                if (st != PROMO_OK || (st = stk_campaign(s, ci)) != PROMO_OK) {
                    if (st == PROMO_ENOMEM) snprintf(s->msg, sizeof s->msg, "out of memory");
                    return st;
                }
                if (x->stopped_by != STK_NONE) goto stopped; /* only an applied campaign stops */
            }
    stopped:
        st = stk_finish(s, r);
        if (st == PROMO_ENOMEM) snprintf(s->msg, sizeof s->msg, "out of memory");
        return st;
    }
    for (uint32_t i = 0; i < b->ncampaigns;) {
        uint32_t j = i + 1;
        if (tiebreak)
            while (j < b->ncampaigns && b->campaigns[j].priority == b->campaigns[i].priority)
                j++;
        if (tiebreak && (st = stk_tiebreak(s, i, j)) != PROMO_OK) return st;
        for (uint32_t k = i; k < j; k++) {
            if ((st = stk_campaign(s, tiebreak ? x->order[k - i] : k)) != PROMO_OK) {
                if (st == PROMO_ENOMEM) snprintf(s->msg, sizeof s->msg, "out of memory");
                return st;
            }
        }
        i = j;
    }
    st = stk_finish(s, r);
    if (st == PROMO_ENOMEM) snprintf(s->msg, sizeof s->msg, "out of memory");
    return st;
}
