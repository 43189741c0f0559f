/*
 * bench_util.c — fixtures of promo-bench (see bench_util.h): generated sets compiled
 * and loaded once, receipt pools, shared engines, jemalloc counters.
 */
#include "bench_util.h"

#include <jemalloc/jemalloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "compile.h"

#define BENCH_MAX_SETS 40

static pthread_mutex_t bench_mu = PTHREAD_MUTEX_INITIALIZER;
static bench_set *bench_sets[BENCH_MAX_SETS];
static size_t bench_nsets;
static char bench_err[4096];

double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Compiles the sources of `s` into s->bundle; 0 on success. */
static int bench_compile(bench_set *s) {
    compile_opts opts = {INT32_MIN, 0};
    compilation c;
    comp_init(&c, &opts);
    for (int f = 0; f < GEN_RULE_FILES; f++)
        comp_add_source(&c, gen_rule_file_names[f], s->src[f].data, s->src[f].len);
    double t0 = bench_now();
    size_t errors = comp_build(&c, &s->bundle);
    s->compile_ms = (bench_now() - t0) * 1e3;
    if (errors) {
        strbuf msg = STRBUF_INIT;
        diag_render_text(&c.diags, &msg, 0);
        snprintf(bench_err, sizeof bench_err, "%u campaigns (%s): %zu compile errors\n%s",
                 s->ncampaigns, gen_shape_names[s->shape], errors, sb_cstr(&msg));
        sb_free(&msg);
    }
    comp_free(&c);
    return errors ? -1 : 0;
}

const bench_set *bench_set_get(uint32_t n, const char **err) {
    return bench_set_get_shape(GEN_SHAPE_default, n, err);
}

const bench_set *bench_set_get_shape(gen_shape shape, uint32_t n, const char **err) {
    pthread_mutex_lock(&bench_mu);
    for (size_t i = 0; i < bench_nsets; i++)
        if (bench_sets[i]->ncampaigns == n && bench_sets[i]->shape == shape) {
            pthread_mutex_unlock(&bench_mu);
            return bench_sets[i];
        }
    bench_set *s = calloc(1, sizeof *s);
    s->ncampaigns = n;
    s->shape = shape;
    gen_rules_shape(BENCH_SEED, n, shape, s->src, NULL);
    for (int f = 0; f < GEN_RULE_FILES; f++)
        s->src_bytes += s->src[f].len;
    char lerr[256] = "";
    if (bench_compile(s) != 0 || promo_bundle_load_memory(s->bundle.data, s->bundle.len, &s->b,
                                                          lerr, sizeof lerr) != PROMO_OK) {
        if (lerr[0]) snprintf(bench_err, sizeof bench_err, "%u campaigns: load: %s", n, lerr);
        for (int f = 0; f < GEN_RULE_FILES; f++)
            sb_free(&s->src[f]);
        sb_free(&s->bundle);
        free(s);
        pthread_mutex_unlock(&bench_mu);
        if (err) *err = bench_err;
        return NULL;
    }
    if (bench_nsets < BENCH_MAX_SETS) bench_sets[bench_nsets++] = s;
    pthread_mutex_unlock(&bench_mu);
    return s;
}

#define BENCH_MAX_POOLS 24
static gen_receipts bench_pools[BENCH_MAX_POOLS];
static uint32_t bench_pool_lines[BENCH_MAX_POOLS];
static gen_shape bench_pool_shape[BENCH_MAX_POOLS];
static size_t bench_npools;

const gen_receipts *bench_receipts_get(uint32_t lines) {
    return bench_receipts_get_shape(GEN_SHAPE_default, lines);
}

const gen_receipts *bench_receipts_get_shape(gen_shape shape, uint32_t lines) {
    pthread_mutex_lock(&bench_mu);
    for (size_t i = 0; i < bench_npools; i++)
        if (bench_pool_lines[i] == lines && bench_pool_shape[i] == shape) {
            pthread_mutex_unlock(&bench_mu);
            return &bench_pools[i];
        }
    if (bench_npools == BENCH_MAX_POOLS) abort();
    gen_receipts *g = &bench_pools[bench_npools];
    gen_receipts_make_shape(g, BENCH_SEED, BENCH_RECEIPTS, lines, shape);
    bench_pool_shape[bench_npools] = shape;
    bench_pool_lines[bench_npools++] = lines;
    pthread_mutex_unlock(&bench_mu);
    return g;
}

static struct {
    promo_engine *e;
    uint32_t n;
    gen_shape shape;
    int users;
} bench_shared;

promo_engine *bench_engine_acquire(uint32_t n, const char **err) {
    return bench_engine_acquire_shape(GEN_SHAPE_default, n, err);
}

promo_engine *bench_engine_acquire_shape(gen_shape shape, uint32_t n, const char **err) {
    const bench_set *s = bench_set_get_shape(shape, n, err);
    if (!s) return NULL;
    pthread_mutex_lock(&bench_mu);
    if (bench_shared.users && (bench_shared.n != n || bench_shared.shape != shape)) {
        pthread_mutex_unlock(&bench_mu);
        if (err) *err = "engine in use with another campaign count";
        return NULL;
    }
    if (!bench_shared.e) {
        promo_status st = promo_engine_new(s->b, NULL, &bench_shared.e);
        if (st != PROMO_OK) {
            pthread_mutex_unlock(&bench_mu);
            if (err) *err = promo_strerror(st);
            return NULL;
        }
        bench_shared.n = n;
        bench_shared.shape = shape;
    }
    bench_shared.users++;
    promo_engine *e = bench_shared.e;
    pthread_mutex_unlock(&bench_mu);
    return e;
}

void bench_engine_release(void) {
    pthread_mutex_lock(&bench_mu);
    if (bench_shared.users > 0 && --bench_shared.users == 0) {
        promo_engine_free(bench_shared.e);
        bench_shared.e = NULL;
    }
    pthread_mutex_unlock(&bench_mu);
}

/* ------------------------------------------------------------ jemalloc ---- */

static uint64_t bench_thread_counter(const char *name) {
    uint64_t *p;
    size_t sz = sizeof p;
    if (mallctl(name, &p, &sz, NULL, 0) != 0) return UINT64_MAX;
    return *p;
}

uint64_t bench_thread_allocated(void) {
    return bench_thread_counter("thread.allocatedp");
}

uint64_t bench_thread_deallocated(void) {
    return bench_thread_counter("thread.deallocatedp");
}

uint64_t bench_alloc_requests(void) {
    uint64_t epoch = 1, v, sum = 0;
    size_t sz = sizeof epoch;
    if (mallctl("thread.tcache.flush", NULL, NULL, NULL, 0) != 0) return UINT64_MAX;
    if (mallctl("epoch", &epoch, &sz, &epoch, sz) != 0) return UINT64_MAX;
    static const char *const names[] = {"stats.arenas.4096.small.nrequests",
                                        "stats.arenas.4096.large.nrequests"};
    for (size_t i = 0; i < 2; i++) {
        sz = sizeof v;
        if (mallctl(names[i], &v, &sz, NULL, 0) != 0) return UINT64_MAX;
        sum += v;
    }
    return sum;
}

long bench_peak_rss_kib(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
    return ru.ru_maxrss;
}

int bench_write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok ? 0 : -1;
}
