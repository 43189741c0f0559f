/*
 * test_threads.c — concurrency of the engine (SPEC 5): evaluations racing with 1,000
 * bundle swaps give exactly the single-threaded result of the bundle each one used;
 * budgets under contention never pass their cap and the counter equals what was
 * granted. Also meant to run under ThreadSanitizer (-DPROMO_TSAN=ON): Criterion's
 * sandbox cannot map its arena next to TSan's shadow memory, so under TSan this file
 * brings its own main() that runs the same checks without Criterion.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "eval_helpers.h"

#if defined(__SANITIZE_THREAD__)
#define TT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TT_TSAN 1
#endif
#endif

/* Checks usable with and without Criterion: the first failure is kept in `failure`. */
static char failure[512];
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            snprintf(failure, sizeof failure, __VA_ARGS__);                                        \
            return -1;                                                                             \
        }                                                                                          \
    } while (0)

#define NTHREADS  4
#define NRECEIPTS 16

static const char *SRC1 =
    "group g\n"
    "campaign a { priority 3\n group g\n combine none\n"
    "  then discount 10% on lines where category \"dairy\" }\n"
    "campaign b { priority 2\n when total >= 300\n then discount 50 on receipt }\n"
    "campaign c { then points 5% of paid; buy 2 get 1 free on lines }\n";
static const char *SRC2 = "campaign x { priority 5\n then bundle 3 for 100 on lines }\n"
                          "campaign y { when count(lines) >= 4\n then points 100\n stop }\n"
                          "campaign z { priority -1\n then discount 1% on lines }\n";

static eh_receipt receipts[NRECEIPTS];

static void make_receipts(void) {
    for (int i = 0; i < NRECEIPTS; i++) {
        eh_receipt *rc = &receipts[i];
        eh_receipt_init(rc, "r", "2026-06-05T10:00");
        for (int k = 0; k <= i % 5; k++)
            eh_line(rc, k % 2 ? "1" : "2", k % 3 ? "dairy/milk" : "bread", 1000 + 500 * (i % 3),
                    1999 + 3301 * k + 77 * i);
        rc->r.points_paid = (i % 4) * 1000;
    }
}

/* A result flattened to compare runs: line discounts, by entries, points, applied. */
typedef struct flat {
    int64_t v[256];
    int n;
} flat;

static void flatten(const promo_result *res, flat *f) {
    f->n = 0;
#define PUT(x) (f->n < 256 ? (void)(f->v[f->n++] = (int64_t)(x)) : (void)0)
    PUT(res->total);
    PUT(res->discount);
    for (uint32_t i = 0; i < res->nlines; i++)
        PUT(res->lines[i].discount);
    for (uint32_t i = 0; i < res->nby; i++) {
        PUT(res->by[i].campaign);
        PUT(res->by[i].amount);
    }
    for (uint32_t i = 0; i < res->npoints; i++)
        PUT(res->points[i].points);
    for (uint32_t i = 0; i < res->napplied; i++)
        PUT(res->applied[i]);
#undef PUT
}

static promo_bundle *b1, *b2;
static flat expect1[NRECEIPTS], expect2[NRECEIPTS];
static promo_engine *engine;
static atomic_int stop_flag, mismatches, evals, errors, on_b1, on_b2;

static int single_threaded(promo_bundle *b, flat *out) {
    promo_engine *e;
    promo_ctx *c;
    CHECK(promo_engine_new(b, NULL, &e) == PROMO_OK, "engine");
    CHECK(promo_ctx_new(e, 0, &c) == PROMO_OK, "ctx");
    for (int i = 0; i < NRECEIPTS; i++) {
        const promo_result *res;
        CHECK(promo_eval(c, &receipts[i].r, &res) == PROMO_OK, "eval %d", i);
        flatten(res, &out[i]);
    }
    promo_ctx_free(c);
    promo_engine_free(e);
    return 0;
}

static void *evaluator(void *arg) {
    (void)arg;
    promo_ctx *c;
    if (promo_ctx_new(engine, 0, &c) != PROMO_OK) {
        atomic_fetch_add(&errors, 1);
        return NULL;
    }
    for (int round = 0; !atomic_load(&stop_flag) || round < 50; round++) {
        for (int i = 0; i < NRECEIPTS; i++) {
            const promo_result *res;
            if (promo_eval(c, &receipts[i].r, &res) != PROMO_OK) {
                atomic_fetch_add(&errors, 1);
                continue;
            }
            flat f;
            flatten(res, &f);
            const flat *want = res->bundle == b1   ? &expect1[i]
                               : res->bundle == b2 ? &expect2[i]
                                                   : NULL;
            if (!want || want->n != f.n || memcmp(want->v, f.v, sizeof f.v[0] * (size_t)f.n))
                atomic_fetch_add(&mismatches, 1);
            atomic_fetch_add(&evals, 1);
            atomic_fetch_add(res->bundle == b1 ? &on_b1 : &on_b2, 1);
        }
    }
    promo_ctx_free(c);
    return NULL;
}

static int race_with_swaps(void) {
    make_receipts();
    CHECK((b1 = eh_compile(SRC1)) != NULL, "compile SRC1");
    CHECK((b2 = eh_compile(SRC2)) != NULL, "compile SRC2");
    if (single_threaded(b1, expect1) || single_threaded(b2, expect2)) return -1;
    /* the two bundles really differ on these receipts */
    CHECK(memcmp(&expect1[5], &expect2[5], sizeof expect1[5]) != 0, "bundles agree");

    CHECK(promo_engine_new(b1, NULL, &engine) == PROMO_OK, "engine");
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        CHECK(pthread_create(&th[i], NULL, evaluator, NULL) == 0, "pthread_create");
    for (int s = 0; s < 1000; s++) {
        /* let some evaluations run on each generation */
        for (int seen = atomic_load(&evals), spin = 0;
             atomic_load(&evals) < seen + NTHREADS && spin < 100000; spin++)
            sched_yield();
        CHECK(promo_engine_swap(engine, s % 2 ? b1 : b2) == PROMO_OK, "swap %d", s);
    }
    atomic_store(&stop_flag, 1);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(th[i], NULL);

    CHECK(atomic_load(&errors) == 0, "%d evaluation errors", atomic_load(&errors));
    CHECK(atomic_load(&mismatches) == 0, "%d of %d evaluations differ", atomic_load(&mismatches),
          atomic_load(&evals));
    CHECK(atomic_load(&evals) >= NTHREADS * 50 * NRECEIPTS, "only %d evaluations",
          atomic_load(&evals));
    CHECK(atomic_load(&on_b1) > 0 && atomic_load(&on_b2) > 0, "one bundle never seen");
    promo_engine_free(engine);
    promo_bundle_release(b1);
    promo_bundle_release(b2);
    return 0;
}

/* ------------------------------------------------------------ budgets ---- */

typedef struct budget_arg {
    int with_customers;
    int64_t granted;
    int failures;
} budget_arg;

static void *spender(void *p) {
    budget_arg *a = p;
    promo_ctx *c;
    if (promo_ctx_new(engine, 0, &c) != PROMO_OK) {
        a->failures++;
        return NULL;
    }
    for (int i = 0; i < 400; i++) {
        eh_receipt rc;
        eh_receipt_init(&rc, "r", "2026-06-05T10:00");
        if (a->with_customers) eh_customer(&rc, i % 3 ? "c1" : "c2");
        eh_line(&rc, "1", "x", 1000, 1000 + 37 * (i % 7)); /* 10% of 10.00 .. 12.22 */
        const promo_result *res;
        if (promo_process(c, &rc.r, &res) != PROMO_OK) {
            a->failures++;
            continue;
        }
        a->granted += res->discount + (res->npoints ? res->points[0].points : 0);
    }
    promo_ctx_free(c);
    return NULL;
}

/* NTHREADS x 400 receipts against a budget of 500.00; *granted_out = sum granted. */
static int contention(const char *src, int with_customers, int64_t *granted_out) {
    promo_bundle *b = eh_compile(src);
    CHECK(b != NULL, "compile");
    CHECK(promo_engine_new(b, NULL, &engine) == PROMO_OK, "engine");
    budget_arg args[NTHREADS];
    pthread_t th[NTHREADS];
    memset(args, 0, sizeof args);
    for (int i = 0; i < NTHREADS; i++) {
        args[i].with_customers = with_customers;
        CHECK(pthread_create(&th[i], NULL, spender, &args[i]) == 0, "pthread_create");
    }
    int64_t granted = 0;
    int failures = 0;
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        failures += args[i].failures;
        granted += args[i].granted;
    }
    int64_t spent = promo_engine_budget_spent(engine, "b");
    promo_engine_free(engine);
    promo_bundle_release(b);
    CHECK(failures == 0, "%d receipts failed", failures);
    CHECK(spent == granted, "counter %lld, granted %lld", (long long)spent, (long long)granted);
    CHECK(spent <= 50000, "counter %lld past the cap", (long long)spent);
    *granted_out = granted;
    return 0;
}

static int budget_cap(void) {
    int64_t g;
    /* 1600 receipts x ~1.00 of discount against 500.00 */
    return contention("campaign b { then discount 10% on lines\n budget 500 }\n", 0, &g);
}

static int budget_partial(void) {
    int64_t g;
    if (contention("campaign b { then discount 10% on lines; points 0.5\n budget 500 partial }\n",
                   1, &g))
        return -1;
    CHECK(g == 50000, "partial budget granted %lld, not the whole 500.00", (long long)g);
    if (contention("campaign b { then discount 10% on lines\n budget 500 partial }\n", 0, &g))
        return -1;
    CHECK(g == 50000, "partial budget granted %lld, not the whole 500.00", (long long)g);
    return 0;
}

#ifndef TT_TSAN
Test(threads, evaluations_race_with_swaps) {
    cr_assert_eq(race_with_swaps(), 0, "%s", failure);
}

Test(threads, budget_never_exceeds_its_cap) {
    cr_assert_eq(budget_cap(), 0, "%s", failure);
}

Test(threads, partial_budget_is_used_exactly) {
    cr_assert_eq(budget_partial(), 0, "%s", failure);
}
#else
int main(void) {
    static const struct {
        const char *name;
        int (*fn)(void);
    } tests[] = {{"evaluations_race_with_swaps", race_with_swaps},
                 {"budget_never_exceeds_its_cap", budget_cap},
                 {"partial_budget_is_used_exactly", budget_partial}};
    int failed = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        failure[0] = 0;
        int r = tests[i].fn();
        printf("[%s] threads::%s%s%s\n", r ? "FAIL" : "PASS", tests[i].name, r ? ": " : "",
               failure);
        failed += r != 0;
    }
    printf("threads (no Criterion under TSan): %d passed, %d failed\n",
           (int)(sizeof tests / sizeof tests[0]) - failed, failed);
    return failed != 0;
}
#endif
