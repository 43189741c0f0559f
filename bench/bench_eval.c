/*
 * bench_eval.c — evaluation throughput of libpromo (VM -> stacking -> results) on
 * receipts held in memory: promo_eval + promo_commit per receipt, at 1 and 2 threads
 * for 10..1,000 campaigns, against receipts of 1..40 lines, JSON parsing alone, and
 * evaluation while the engine's bundle is being swapped (hot reload under load).
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"

promo_status bench_process(promo_ctx *ctx, const promo_receipt *r, uint64_t *conflicts) {
    for (;;) {
        const promo_result *res;
        promo_status s = promo_eval(ctx, r, &res);
        if (s != PROMO_OK) return s;
        gb_do_not_optimize(res);
        s = promo_commit(ctx);
        if (s != PROMO_ECONFLICT) return s;
        ++*conflicts;
    }
}

/* The evaluation loop shared by the benchmarks below: receipts from the pool of
 * `lines`-line receipts, each thread starting in its own part of the pool. */
static void bench_eval_loop(gb_state *st, uint32_t ncampaigns, uint32_t lines, int commit) {
    const char *err = NULL;
    promo_engine *e = bench_engine_acquire(ncampaigns, &err);
    if (!e) {
        gb_skip_with_error(st, err);
        return;
    }
    const gen_receipts *g = bench_receipts_get(lines);
    promo_ctx *ctx = NULL;
    if (promo_ctx_new(e, 0, &ctx) != PROMO_OK) {
        gb_skip_with_error(st, "promo_ctx_new failed");
        bench_engine_release();
        return;
    }
    size_t i = (size_t)gb_thread_index(st) * (g->n / (size_t)gb_thread_count(st));
    uint64_t conflicts = 0, nlines = 0, applied = 0;
    promo_status bad = PROMO_OK;
    while (gb_keep_running(st)) {
        const promo_receipt *r = &g->r[i];
        promo_status s;
        if (commit) {
            s = bench_process(ctx, r, &conflicts);
        } else {
            const promo_result *res;
            s = promo_eval(ctx, r, &res);
            if (s == PROMO_OK) applied += res->napplied;
        }
        if (s != PROMO_OK) bad = s;
        nlines += r->nlines;
        if (++i == g->n) i = 0;
    }
    if (bad != PROMO_OK) gb_skip_with_error(st, promo_ctx_errmsg(ctx));
    gb_set_items_processed(st, gb_iterations(st)); /* receipts/s */
    gb_counter(st, "lines_per_second", (double)nlines, GB_COUNTER_RATE);
    gb_counter(st, "conflicts", (double)conflicts, 0);
    if (!commit) gb_counter(st, "applied_per_receipt", (double)applied, GB_COUNTER_AVG_ITERATIONS);
    promo_ctx_free(ctx);
    bench_engine_release();
}

static void bm_eval(gb_state *st) {
    bench_eval_loop(st, (uint32_t)gb_range(st, 0), 0, 1);
}
GB_BENCHMARK(bm_eval) {
    gb_arg_name(b, "campaigns");
    gb_arg(b, 10);
    gb_arg(b, 100);
    gb_arg(b, 400);
    gb_arg(b, 1000);
    gb_threads(b, 1);
    gb_threads(b, 2);
    gb_use_real_time(b);
}

/* promo_eval alone, nothing committed: state never grows. */
static void bm_eval_nocommit(gb_state *st) {
    bench_eval_loop(st, (uint32_t)gb_range(st, 0), 0, 0);
}
GB_BENCHMARK(bm_eval_nocommit) {
    gb_arg_name(b, "campaigns");
    gb_arg(b, 400);
    gb_threads(b, 1);
    gb_threads(b, 2);
    gb_use_real_time(b);
}

/* 400 campaigns, receipts of exactly N lines. */
static void bm_eval_lines(gb_state *st) {
    bench_eval_loop(st, 400, (uint32_t)gb_range(st, 0), 1);
}
GB_BENCHMARK(bm_eval_lines) {
    gb_arg_name(b, "lines");
    gb_arg(b, 1);
    gb_arg(b, 5);
    gb_arg(b, 10);
    gb_arg(b, 20);
    gb_arg(b, 40);
    gb_use_real_time(b);
}

/* ------------------------------------------------------------ JSON parse ---- */

typedef struct bench_jsonl {
    strbuf text; /* lines, each followed by PROMO_JSON_PADDING bytes of slack */
    size_t *off, *len, n;
} bench_jsonl;

static bench_jsonl bench_json_pool;
static pthread_once_t bench_json_once = PTHREAD_ONCE_INIT;

static void bench_jsonl_build(void) {
    const gen_receipts *g = bench_receipts_get(0);
    bench_jsonl *j = &bench_json_pool;
    j->n = g->n;
    j->off = calloc(g->n, sizeof *j->off);
    j->len = calloc(g->n, sizeof *j->len);
    for (size_t i = 0; i < g->n; i++) {
        j->off[i] = j->text.len;
        gen_receipt_json(&g->r[i], &j->text);
        j->len[i] = j->text.len - j->off[i];
        sb_putc(&j->text, '\n');
    }
    sb_zero(&j->text, PROMO_JSON_PADDING);
}

static void bm_parse_json(gb_state *st) {
    pthread_once(&bench_json_once, bench_jsonl_build);
    const bench_jsonl *j = &bench_json_pool;
    const char *err = NULL;
    promo_engine *e = bench_engine_acquire(400, &err);
    if (!e) {
        gb_skip_with_error(st, err);
        return;
    }
    promo_ctx *ctx = NULL;
    promo_ctx_new(e, 0, &ctx);
    size_t i = 0;
    int64_t bytes = 0;
    while (gb_keep_running(st)) {
        const promo_receipt *r;
        promo_str id;
        if (promo_receipt_parse_json(ctx, j->text.data + j->off[i], j->len[i], &r, &id) !=
            PROMO_OK) {
            gb_skip_with_error(st, promo_ctx_errmsg(ctx));
            break;
        }
        gb_do_not_optimize(r);
        bytes += (int64_t)j->len[i] + 1;
        if (++i == j->n) i = 0;
    }
    gb_set_items_processed(st, gb_iterations(st));
    gb_set_bytes_processed(st, bytes);
    promo_ctx_free(ctx);
    bench_engine_release();
}
GB_BENCHMARK(bm_parse_json) {
    gb_use_real_time(b);
}

/* ------------------------------------------------------------ hot reload ---- */

typedef struct bench_bg {
    promo_engine *e;
    atomic_int stop;
    atomic_ullong done; /* receipts evaluated by the background thread */
    uint32_t interval_us;
    const bench_set *sets[2];
    atomic_ullong swaps;
} bench_bg;

static void *bench_bg_eval(void *arg) {
    bench_bg *bg = arg;
    const gen_receipts *g = bench_receipts_get(0);
    promo_ctx *ctx = NULL;
    if (promo_ctx_new(bg->e, 0, &ctx) != PROMO_OK) return NULL;
    uint64_t conflicts = 0;
    size_t i = g->n / 2;
    while (!atomic_load_explicit(&bg->stop, memory_order_relaxed)) {
        bench_process(ctx, &g->r[i], &conflicts);
        if (++i == g->n) i = 0;
        atomic_fetch_add_explicit(&bg->done, 1, memory_order_relaxed);
    }
    promo_ctx_free(ctx);
    return NULL;
}

static void *bench_bg_swap(void *arg) {
    bench_bg *bg = arg;
    struct timespec ts = {0, (long)bg->interval_us * 1000};
    for (uint64_t k = 0; !atomic_load_explicit(&bg->stop, memory_order_relaxed); k++) {
        nanosleep(&ts, NULL);
        promo_engine_swap(bg->e, bg->sets[k & 1]->b);
        atomic_fetch_add_explicit(&bg->swaps, 1, memory_order_relaxed);
    }
    return NULL;
}

/* The cost of promo_engine_swap itself while one thread evaluates 400-campaign
 * receipts; the evaluator's rate during the run is reported next to it. */
static void bm_swap_under_load(gb_state *st) {
    const char *err = NULL;
    bench_bg bg;
    memset(&bg, 0, sizeof bg);
    bg.sets[0] = bench_set_get(400, &err);
    bg.sets[1] = bench_set_get(401, &err);
    if (!bg.sets[0] || !bg.sets[1] || promo_engine_new(bg.sets[0]->b, NULL, &bg.e) != PROMO_OK) {
        gb_skip_with_error(st, err ? err : "engine");
        return;
    }
    pthread_t t;
    pthread_create(&t, NULL, bench_bg_eval, &bg);
    while (atomic_load(&bg.done) < 1000)
        sched_yield();
    uint64_t done0 = atomic_load(&bg.done);
    double t0 = bench_now();
    uint64_t k = 0;
    while (gb_keep_running(st))
        promo_engine_swap(bg.e, bg.sets[++k & 1]->b);
    double dt = bench_now() - t0;
    uint64_t done = atomic_load(&bg.done) - done0;
    atomic_store(&bg.stop, 1);
    pthread_join(t, NULL);
    promo_engine_free(bg.e);
    gb_counter(st, "bg_receipts_per_second", dt > 0 ? (double)done / dt : 0, 0);
}
GB_BENCHMARK(bm_swap_under_load) {
    gb_unit(b, GB_US);
    gb_use_real_time(b);
}

/* Evaluation (1 thread, 400 campaigns) while another thread swaps the bundle every
 * N microseconds: compare with bm_eval/campaigns:400/threads:1. */
static void bm_eval_while_swapping(gb_state *st) {
    const char *err = NULL;
    bench_bg bg;
    memset(&bg, 0, sizeof bg);
    bg.interval_us = (uint32_t)gb_range(st, 0);
    bg.sets[0] = bench_set_get(400, &err);
    bg.sets[1] = bench_set_get(401, &err);
    if (!bg.sets[0] || !bg.sets[1] || promo_engine_new(bg.sets[0]->b, NULL, &bg.e) != PROMO_OK) {
        gb_skip_with_error(st, err ? err : "engine");
        return;
    }
    const gen_receipts *g = bench_receipts_get(0);
    promo_ctx *ctx = NULL;
    promo_ctx_new(bg.e, 0, &ctx);
    pthread_t t;
    pthread_create(&t, NULL, bench_bg_swap, &bg);
    uint64_t conflicts = 0;
    size_t i = 0;
    while (gb_keep_running(st)) {
        bench_process(ctx, &g->r[i], &conflicts);
        if (++i == g->n) i = 0;
    }
    atomic_store(&bg.stop, 1);
    pthread_join(t, NULL);
    gb_set_items_processed(st, gb_iterations(st));
    gb_counter(st, "swaps", (double)atomic_load(&bg.swaps), GB_COUNTER_RATE);
    promo_ctx_free(ctx);
    promo_engine_free(bg.e);
}
GB_BENCHMARK(bm_eval_while_swapping) {
    gb_arg_name(b, "interval_us");
    gb_arg(b, 1000);
    gb_arg(b, 100);
    gb_use_real_time(b);
}
