/*
 * bench_shapes.c — every shape of campaign set the generator draws (gen.h
 * GEN_SHAPE_LIST: wide SKU lists, flat SKU popularity, deep category trees, heavy
 * `when` aggregates, many groups, many time windows, many store lists, a mix), at 400
 * and 1,000 campaigns:
 *
 *   bm_shapes_eval/shape:S/campaigns:N   promo_eval + promo_commit on 1 thread, receipts
 *                                        of that shape held in memory (receipts/s)
 *   bm_shapes_run/shape:S/campaigns:N    `promo run --threads 2 set.pbc receipts.jsonl`
 *                                        on 100,000 JSON receipts of that shape, wall
 *                                        clock (receipts/s end to end)
 *
 * The argument `shape` is the index in GEN_SHAPE_LIST; bench/plot.py puts the names
 * back and reports the slowest shape as the headline (docs/performance.md).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"

#define SHAPES_RUN_RECEIPTS 100000u

static void bm_shapes_eval(gb_state *st) {
    gen_shape shape = (gen_shape)gb_range(st, 0);
    uint32_t n = (uint32_t)gb_range(st, 1);
    const char *err = NULL;
    promo_engine *e = bench_engine_acquire_shape(shape, n, &err);
    if (!e) {
        gb_skip_with_error(st, err);
        return;
    }
    const gen_receipts *g = bench_receipts_get_shape(shape, 0);
    promo_ctx *ctx = NULL;
    if (promo_ctx_new(e, 0, &ctx) != PROMO_OK) {
        gb_skip_with_error(st, "promo_ctx_new failed");
        bench_engine_release();
        return;
    }
    size_t i = 0;
    promo_status bad = PROMO_OK;
    while (gb_keep_running(st)) {
        uint64_t conflicts = 0;
        promo_status s = bench_process(ctx, &g->r[i], &conflicts);
        if (s != PROMO_OK) bad = s;
        if (++i == g->n) i = 0;
    }
    if (bad != PROMO_OK) gb_skip_with_error(st, promo_ctx_errmsg(ctx));
    gb_set_items_processed(st, gb_iterations(st));
    gb_set_label(st, gen_shape_names[shape]);
    promo_ctx_free(ctx);
    bench_engine_release();
}

static void shapes_args(gb_bench *b) {
    gb_arg_names2(b, "shape", "campaigns");
    for (int s = 0; s < GEN__SHAPE_COUNT; s++) {
        gb_args2(b, s, 400);
        gb_args2(b, s, 1000);
    }
    gb_use_real_time(b);
}

GB_BENCHMARK(bm_shapes_eval) {
    shapes_args(b);
}

/* The files of one (shape, campaigns): the receipts file is kept for the shape's two
 * sizes and replaced when the shape changes (100,000 receipts are ~130 MB). */
static struct {
    char dir[64];
    int shape; /* of receipts.jsonl, -1 none */
    char pbc[96], jsonl[96];
} shapes_files = {"", -1, "", ""};

static void shapes_cleanup(void) {
    if (!shapes_files.dir[0]) return;
    unlink(shapes_files.pbc);
    unlink(shapes_files.jsonl);
    rmdir(shapes_files.dir);
}

static const char *shapes_prepare(gen_shape shape, uint32_t n) {
    const char *err = NULL;
    const bench_set *s = bench_set_get_shape(shape, n, &err);
    if (!s) return err;
    if (!shapes_files.dir[0]) {
        snprintf(shapes_files.dir, sizeof shapes_files.dir, "/tmp/promo-shapes-XXXXXX");
        if (!mkdtemp(shapes_files.dir)) {
            shapes_files.dir[0] = 0;
            return "mkdtemp failed";
        }
        snprintf(shapes_files.pbc, sizeof shapes_files.pbc, "%s/set.pbc", shapes_files.dir);
        snprintf(shapes_files.jsonl, sizeof shapes_files.jsonl, "%s/receipts.jsonl",
                 shapes_files.dir);
        atexit(shapes_cleanup);
    }
    if (bench_write_file(shapes_files.pbc, s->bundle.data, s->bundle.len))
        return "cannot write the bundle";
    if (shapes_files.shape == (int)shape) return NULL;
    shapes_files.shape = -1;
    FILE *f = fopen(shapes_files.jsonl, "wb");
    if (!f) return "cannot write receipts.jsonl";
    gen_arena *a = gen_arena_new();
    strbuf line = STRBUF_INIT;
    for (uint32_t i = 0; i < SHAPES_RUN_RECEIPTS; i++) {
        promo_receipt r;
        gen_arena_reset(a);
        gen_receipt_shape(a, BENCH_SEED, i, 0, shape, &r);
        line.len = 0;
        gen_receipt_json(&r, &line);
        sb_putc(&line, '\n');
        fwrite(line.data, 1, line.len, f);
    }
    sb_free(&line);
    gen_arena_free(a);
    if (fclose(f) != 0) return "cannot write receipts.jsonl";
    shapes_files.shape = (int)shape;
    return NULL;
}

static void bm_shapes_run(gb_state *st) {
    gen_shape shape = (gen_shape)gb_range(st, 0);
    const char *err = shapes_prepare(shape, (uint32_t)gb_range(st, 1));
    if (err) {
        gb_skip_with_error(st, err);
        return;
    }
    bench_cli_run(st, shapes_files.pbc, shapes_files.jsonl, 2, SHAPES_RUN_RECEIPTS);
    gb_set_label(st, gen_shape_names[shape]);
}

GB_BENCHMARK(bm_shapes_run) {
    shapes_args(b);
    gb_fixed_iterations(b, 3);
    gb_unit(b, GB_MS);
}
