/*
 * bench_memory.c — memory of the evaluation stage: bundle size, the footprint of one
 * promo_ctx (what each evaluating thread costs), heap allocations per receipt after
 * warm-up (SPEC 5: none on the hot path), and the process's peak RSS. Counted with
 * jemalloc's per-thread byte counters (every allocation, however small, moves
 * "thread.allocated") and its request statistics.
 */
#include <string.h>

#include "bench_util.h"

typedef struct bench_pass {
    uint64_t bytes;    /* allocated by this thread during the pass */
    uint64_t net;      /* allocated - freed */
    uint64_t requests; /* allocation requests, all threads */
} bench_pass;

static void bench_pass_begin(bench_pass *p) {
    p->requests = bench_alloc_requests();
    p->bytes = bench_thread_allocated();
    p->net = p->bytes - bench_thread_deallocated();
}

static void bench_pass_end(bench_pass *p) {
    uint64_t a = bench_thread_allocated(), d = bench_thread_deallocated();
    p->net = (a - d) - p->net;
    p->bytes = a - p->bytes;
    p->requests = bench_alloc_requests() - p->requests;
}

/* One pass over the receipts; 0 on success. */
static int bench_run_pass(promo_ctx *ctx, const gen_receipts *g, int commit) {
    for (size_t i = 0; i < g->n; i++) {
        const promo_result *res;
        promo_status s =
            commit ? promo_process(ctx, &g->r[i], &res) : promo_eval(ctx, &g->r[i], &res);
        if (s != PROMO_OK) return -1;
    }
    return 0;
}

/* Everything below for the set of `n` campaigns of `shape` and receipts of that shape. */
static void bench_memory(gb_state *st, gen_shape shape, uint32_t n) {
    const char *err = NULL;
    if (bench_thread_allocated() == UINT64_MAX) {
        gb_skip_with_error(st, "jemalloc is not the process allocator");
        return;
    }
    while (gb_keep_running(st)) {
        const bench_set *s = bench_set_get_shape(shape, n, &err);
        if (!s) {
            gb_skip_with_error(st, err);
            return;
        }
        const gen_receipts *g = bench_receipts_get_shape(shape, 0);
        gen_receipts fresh;
        gen_receipts_make_shape(&fresh, BENCH_SEED + 1, BENCH_RECEIPTS, 0, shape);
        promo_engine *e = NULL;
        promo_ctx *ctx = NULL;
        bench_pass eng, ctx_new, warm, eval2, commit_warm, commit2, commit_new;
        /* The engine holds the bundle's prefilter index, shared by its ctxs. */
        bench_pass_begin(&eng);
        promo_status es = promo_engine_new(s->b, NULL, &e);
        bench_pass_end(&eng);
        if (es != PROMO_OK) {
            gb_skip_with_error(st, "promo_engine_new failed");
            return;
        }
        bench_pass_begin(&ctx_new);
        promo_ctx_new(e, 0, &ctx);
        bench_pass_end(&ctx_new);
        /* The ctx grows its scratch to the largest receipt seen, then never again. */
        bench_pass_begin(&warm);
        int bad = bench_run_pass(ctx, g, 0);
        bench_pass_end(&warm);
        bench_pass_begin(&eval2);
        bad |= bench_run_pass(ctx, g, 0);
        bench_pass_end(&eval2);
        /* With commits: the state store learns every (customer, key, period) once. */
        bench_pass_begin(&commit_warm);
        bad |= bench_run_pass(ctx, g, 1);
        bench_pass_end(&commit_warm);
        bench_pass_begin(&commit2);
        bad |= bench_run_pass(ctx, g, 1);
        bench_pass_end(&commit2);
        bench_pass_begin(&commit_new);
        bad |= bench_run_pass(ctx, &fresh, 1);
        bench_pass_end(&commit_new);
        if (bad) gb_skip_with_error(st, promo_ctx_errmsg(ctx));

        double nr = (double)g->n;
        gb_counter(st, "bundle_bytes", (double)s->bundle.len, GB_COUNTER_BASE1024);
        gb_counter(st, "engine_bytes", (double)eng.net, GB_COUNTER_BASE1024);
        gb_counter(st, "ctx_bytes", (double)(ctx_new.net + warm.net), GB_COUNTER_BASE1024);
        gb_counter(st, "ctx_new_bytes", (double)ctx_new.net, GB_COUNTER_BASE1024);
        gb_counter(st, "eval_alloc_bytes_per_receipt", (double)eval2.bytes / nr, 0);
        gb_counter(st, "eval_allocs_per_receipt", (double)eval2.requests / nr, 0);
        gb_counter(st, "commit_alloc_bytes_per_receipt", (double)commit2.bytes / nr, 0);
        gb_counter(st, "commit_allocs_per_receipt", (double)commit2.requests / nr, 0);
        gb_counter(st, "new_customers_allocs_per_receipt",
                   (double)commit_new.requests / (double)fresh.n, 0);
        gb_counter(st, "store_bytes_per_receipt",
                   (double)(commit_warm.net + commit_new.net) / (nr + (double)fresh.n), 0);
        gb_counter(st, "peak_rss_kib", (double)bench_peak_rss_kib(), 0);
        promo_ctx_free(ctx);
        promo_engine_free(e);
        gen_receipts_free(&fresh);
    }
}

static void bm_memory(gb_state *st) {
    bench_memory(st, GEN_SHAPE_default, (uint32_t)gb_range(st, 0));
}
GB_BENCHMARK(bm_memory) {
    gb_arg_name(b, "campaigns");
    gb_arg(b, 400);
    gb_arg(b, 1000);
    gb_fixed_iterations(b, 1);
    gb_unit(b, GB_MS);
}

/* The same on every shape of campaign set (gen.h), 400 campaigns: allocations per
 * receipt after warm-up must be 0 whatever the set looks like. */
static void bm_memory_shapes(gb_state *st) {
    gen_shape shape = (gen_shape)gb_range(st, 0);
    bench_memory(st, shape, 400);
    gb_set_label(st, gen_shape_names[shape]);
}
GB_BENCHMARK(bm_memory_shapes) {
    gb_arg_name(b, "shape");
    for (int s = 0; s < GEN__SHAPE_COUNT; s++)
        gb_arg(b, s);
    gb_fixed_iterations(b, 1);
    gb_unit(b, GB_MS);
}
