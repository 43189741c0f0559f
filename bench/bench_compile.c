/*
 * bench_compile.c — the compiler end to end on in-memory sources (sources -> parse ->
 * checks -> code generation -> bundle bytes) for generated sets of 100 to 10,000
 * campaigns, and loading + verifying the resulting bundles (bundle -> libpromo).
 */
#include <stdlib.h>

#include "bench_util.h"
#include "compile.h"

static void bm_compile(gb_state *st) {
    uint32_t n = (uint32_t)gb_range(st, 0);
    strbuf src[GEN_RULE_FILES] = {STRBUF_INIT, STRBUF_INIT, STRBUF_INIT, STRBUF_INIT};
    gen_rules(BENCH_SEED, n, src, NULL);
    size_t bytes = 0, out_bytes = 0;
    for (int f = 0; f < GEN_RULE_FILES; f++)
        bytes += src[f].len;
    compile_opts opts = {INT32_MIN, 0};
    while (gb_keep_running(st)) {
        compilation c;
        strbuf out = STRBUF_INIT;
        comp_init(&c, &opts);
        for (int f = 0; f < GEN_RULE_FILES; f++)
            comp_add_source(&c, gen_rule_file_names[f], src[f].data, src[f].len);
        size_t errors = comp_build(&c, &out);
        out_bytes = out.len;
        comp_free(&c);
        sb_free(&out);
        if (errors) {
            gb_skip_with_error(st, "generated set does not compile");
            break;
        }
    }
    gb_set_items_processed(st, gb_iterations(st) * (int64_t)n); /* campaigns/s */
    gb_set_bytes_processed(st, gb_iterations(st) * (int64_t)bytes);
    gb_counter(st, "source_bytes", (double)bytes, GB_COUNTER_BASE1024);
    gb_counter(st, "bundle_bytes", (double)out_bytes, GB_COUNTER_BASE1024);
    for (int f = 0; f < GEN_RULE_FILES; f++)
        sb_free(&src[f]);
}
GB_BENCHMARK(bm_compile) {
    gb_arg_name(b, "campaigns");
    gb_arg(b, 100);
    gb_arg(b, 1000);
    gb_arg(b, 10000);
    gb_unit(b, GB_MS);
}

/* promo_bundle_load_memory: copy, header, checksum, verifier. */
static void bm_bundle_load(gb_state *st) {
    const char *err = NULL;
    const bench_set *s = bench_set_get((uint32_t)gb_range(st, 0), &err);
    if (!s) {
        gb_skip_with_error(st, err);
        return;
    }
    char msg[256];
    while (gb_keep_running(st)) {
        promo_bundle *b = NULL;
        if (promo_bundle_load_memory(s->bundle.data, s->bundle.len, &b, msg, sizeof msg) !=
            PROMO_OK) {
            gb_skip_with_error(st, msg);
            break;
        }
        promo_bundle_release(b);
    }
    gb_set_bytes_processed(st, gb_iterations(st) * (int64_t)s->bundle.len);
    gb_counter(st, "bundle_bytes", (double)s->bundle.len, GB_COUNTER_BASE1024);
}
GB_BENCHMARK(bm_bundle_load) {
    gb_arg_name(b, "campaigns");
    gb_arg(b, 400);
    gb_arg(b, 1000);
    gb_arg(b, 10000);
    gb_unit(b, GB_US);
}
