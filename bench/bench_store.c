/*
 * bench_store.c — the state of record (SPEC 7): confirms per second through
 * promo_op_run on the LMDB store, per durability mode, with a store already holding N
 * customers (preloaded untimed by direct writes of a customer record), group-committed
 * every 256 confirms as `promo run` does; the store's bytes on disk per customer, and
 * the time to open the store again and read one customer after a writer on it was killed
 * with SIGKILL.
 *
 * Arguments: durability (0 process, 1 strict), customers (thousands). The store lives
 * in $PROMO_BENCH_DIR (default /tmp) and is removed afterwards.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "compile.h"

#define BS_RULES                                                                                   \
    "campaign p { then points 1% of paid }\n"                                                      \
    "campaign d { then discount 5% on lines where category \"dairy\"\n budget 100000000 }\n"       \
    "campaign once { then points 10\n limit 1 per customer per month }\n"

/* Compiles rule text into a loaded bundle; 0 on success. */
static int bs_compile(const char *src, promo_bundle **out) {
    compile_opts opts = {INT32_MIN, 0};
    compilation c;
    strbuf bundle = STRBUF_INIT;
    comp_init(&c, &opts);
    comp_add_source(&c, "store.rule", src, strlen(src));
    size_t errors = comp_build(&c, &bundle);
    comp_free(&c);
    int r = errors || promo_bundle_load_memory(bundle.data, bundle.len, out, NULL, 0) != PROMO_OK;
    sb_free(&bundle);
    return r ? -1 : 0;
}

static double bs_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void bs_rm(const char *dir) {
    char p[512];
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/lock.mdb", dir);
    unlink(p);
    rmdir(dir);
}

static int bs_open(const char *dir, int durability, int write_map, promo_store *s) {
    promo_store_opts o;
    promo_store_opts_init(&o);
    o.durability = durability;
    o.write_map = write_map;
    o.group_commit = 1;
    return promo_store_open(dir, &o, s, NULL, 0) == PROMO_OK ? 0 : -1;
}

/* Writes n customers "c0".."c<n-1>" with one visit each, 100,000 per transaction. */
static int bs_preload(promo_store *s, uint64_t n) {
    char id[32];
    promo_delta d = {0x7669736974732121ull, 20600, 1};
    for (uint64_t i = 0; i < n; i++) {
        promo_store_write w = {0};
        int len = snprintf(id, sizeof id, "c%llu", (unsigned long long)i);
        w.customer = (promo_str){id, (uint32_t)len};
        w.expected = UINT64_MAX;
        w.deltas = &d;
        w.ndeltas = 1;
        if (s->ops->write(s->self, &w) != PROMO_OK) return -1;
        if (i % 100000 == 99999 && promo_store_sync(s) != PROMO_OK) return -1;
    }
    return promo_store_sync(s) == PROMO_OK ? 0 : -1;
}

static void bm_store_confirm(gb_state *st) {
    int durability = (int)gb_range(st, 0);
    uint64_t ncust = (uint64_t)gb_range(st, 1) * 1000;
    int write_map = (int)gb_range(st, 2);
    const char *base = getenv("PROMO_BENCH_DIR");
    char dir[256];
    snprintf(dir, sizeof dir, "%s/promo-bench-store-%d", base ? base : "/tmp", (int)getpid());
    bs_rm(dir);
    promo_store s;
    promo_bundle *b = NULL;
    promo_engine *e = NULL;
    promo_ctx *c = NULL;
    if (bs_compile(BS_RULES, &b)) {
        gb_skip_with_error(st, "the store benchmark's rules do not compile");
        return;
    }
    if (bs_open(dir, durability, write_map, &s) || bs_preload(&s, ncust)) {
        gb_skip_with_error(st, "cannot open or preload the store");
        promo_bundle_release(b);
        return;
    }
    struct stat sb;
    char p[512];
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    /* the bytes allocated to the file: with write_map its size is the map's (sparse) */
    double bytes_per_customer =
        stat(p, &sb) == 0 ? (double)sb.st_blocks * 512.0 / (double)ncust : 0;
    promo_engine_opts eo;
    promo_engine_opts_init(&eo);
    eo.store = s;
    eo.own_store = 1;
    promo_engine_new(b, &eo, &e);
    promo_ctx_new(e, 0, &c);
    /* one-line receipts of random customers */
    promo_line line = {{"1", 1}, {"dairy/milk", 10}, {NULL, 0}, 2000, 8990, 0};
    promo_customer cu;
    memset(&cu, 0, sizeof cu);
    cu.registered = -1;
    promo_receipt r;
    promo_receipt_init(&r);
    r.date = 20600;
    r.time = 36000;
    r.payment = PROMO_PAY_CARD;
    r.customer = &cu;
    r.lines = &line;
    r.nlines = 1;
    char id[48], cid[32];
    uint64_t k = 0, rng = 88172645463325252ull;
    int bad = 0;
    double t0 = bs_now();
    while (gb_keep_running(st)) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        int n = snprintf(id, sizeof id, "b%llu", (unsigned long long)k++);
        r.id = (promo_str){id, (uint32_t)n};
        n = snprintf(cid, sizeof cid, "c%llu", (unsigned long long)(rng % (ncust ? ncust : 1)));
        cu.id = (promo_str){cid, (uint32_t)n};
        promo_op o;
        promo_op_init(&o);
        o.receipt = &r;
        promo_op_result res;
        if (promo_op_run(c, &o, &res) != PROMO_OK && !bad++)
            fprintf(stderr, "bm_store_confirm: %s\n", promo_ctx_errmsg(c));
        if (k % 256 == 0) bad |= promo_store_sync(&s) != PROMO_OK;
    }
    bad |= promo_store_sync(&s) != PROMO_OK;
    double secs = bs_now() - t0;
    promo_ctx_free(c);
    promo_engine_free(e); /* closes the store */
    /* a writer killed with SIGKILL in the middle of its work (a transaction committed,
     * more writes pending), then the time to open the store again + one customer read */
    pid_t pid = fork();
    if (pid == 0) {
        promo_store s1;
        if (!bs_open(dir, durability, write_map, &s1)) {
            bs_preload(&s1, 1000);
            promo_store_write w = {0};
            w.customer = (promo_str){"c7", 2};
            w.expected = UINT64_MAX;
            s1.ops->write(s1.self, &w);
        }
        kill(getpid(), SIGKILL);
        _exit(1);
    }
    if (pid > 0) waitpid(pid, NULL, 0);
    double r0 = bs_now();
    promo_store s2;
    void *rd = NULL;
    promo_store_rec rec;
    if (!bs_open(dir, durability, write_map, &s2)) {
        s2.ops->read(s2.self, &rd, (promo_str){"c1", 2}, &rec);
        s2.ops->reader_free(s2.self, rd);
    }
    double reopen = bs_now() - r0;
    promo_store_free(&s2);
    bs_rm(dir);
    promo_bundle_release(b);
    if (bad) gb_skip_with_error(st, "a confirm failed");
    gb_set_items_processed(st, gb_iterations(st));
    gb_counter(st, "bytes_per_customer", bytes_per_customer, 0);
    gb_counter(st, "reopen_ms", reopen * 1000, 0);
    gb_counter(st, "confirm_us", secs * 1e6 / (double)(k ? k : 1), 0);
}

GB_BENCHMARK(bm_store_confirm) { /* map: promo_store_opts.write_map (process only) */
    gb_arg_names3(b, "strict", "kcustomers", "map");
    gb_args3(b, 0, 1000, 0);
    gb_args3(b, 0, 1000, 1);
    gb_args3(b, 1, 1000, 0);
    gb_min_time(b, 2.0);
}

/* 10M customers (~1.2 GB of store, minutes to preload): run once, a fixed number of
 * confirms (--benchmark_filter=bm_store_confirm_10m). */
static void bm_store_confirm_10m(gb_state *st) {
    bm_store_confirm(st);
}

GB_BENCHMARK(bm_store_confirm_10m) {
    gb_arg_names3(b, "strict", "kcustomers", "map");
    gb_args3(b, 0, 10000, 0);
    gb_fixed_iterations(b, 500000);
}
