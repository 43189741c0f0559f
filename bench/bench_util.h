/*
 * bench_util.h — fixtures shared by the benchmarks of promo-bench: generated campaign
 * sets compiled once per size, receipt pools held in memory, engines shared by the
 * threads of one benchmark run, and jemalloc's counters for allocations and footprint.
 * Everything here is set up outside the timed loops.
 */
#ifndef PROMO_BENCH_UTIL_H
#define PROMO_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "gbench.h"
#include "gen.h"
#include "promo.h"
#include "strbuf.h"

#define BENCH_SEED     1u
#define BENCH_RECEIPTS 16384u /* receipts per in-memory pool (cycled) */

/* A generated campaign set of one size: its sources and its compiled bundle. */
typedef struct bench_set {
    uint32_t ncampaigns;
    gen_shape shape;
    strbuf src[GEN_RULE_FILES];
    size_t src_bytes;
    strbuf bundle;     /* bundle bytes */
    promo_bundle *b;   /* loaded from `bundle`; owned by the cache */
    double compile_ms; /* one compilation, for the record */
} bench_set;

/* The set of n campaigns (seed BENCH_SEED), generated, compiled and loaded on first
 * use; NULL (message in *err) when it does not compile or load. Thread-safe. */
const bench_set *bench_set_get(uint32_t ncampaigns, const char **err);
/* The same for a shape of campaign set (gen.h GEN_SHAPE_LIST). */
const bench_set *bench_set_get_shape(gen_shape shape, uint32_t ncampaigns, const char **err);

/* BENCH_RECEIPTS receipts (seed BENCH_SEED) with `lines` lines each (0: the default
 * mix), drawn on first use. Thread-safe. */
const gen_receipts *bench_receipts_get(uint32_t lines);
const gen_receipts *bench_receipts_get_shape(gen_shape shape, uint32_t lines);

/* An engine over the set of n campaigns shared by the threads of one benchmark run:
 * the first thread creates it, the last to release it frees it, so each run starts
 * with fresh budgets and customer state. Call before the timed loop and release
 * after it. NULL on failure (message in *err). */
promo_engine *bench_engine_acquire(uint32_t ncampaigns, const char **err);
promo_engine *bench_engine_acquire_shape(gen_shape shape, uint32_t ncampaigns, const char **err);
void bench_engine_release(void);

/* Evaluates and commits one receipt; on a conflict (another thread moved a budget or
 * this customer's state), evaluates again (counted in *conflicts), as promo_process
 * does (bench/bench_eval.c). */
promo_status bench_process(promo_ctx *ctx, const promo_receipt *r, uint64_t *conflicts);

/* Bytes this thread allocated / freed so far (jemalloc "thread.allocatedp" /
 * "thread.deallocatedp"); UINT64_MAX when jemalloc is not the allocator. */
uint64_t bench_thread_allocated(void);
uint64_t bench_thread_deallocated(void);
/* Allocation requests served so far by all arenas (jemalloc statistics, refreshed
 * through "epoch"); UINT64_MAX when unavailable. */
uint64_t bench_alloc_requests(void);
/* Peak resident set of the process, KiB (getrusage). */
long bench_peak_rss_kib(void);

/* Writes `len` bytes to `path`; 0 on success. */
int bench_write_file(const char *path, const void *data, size_t len);
/* Runs `promo run --threads T pbc jsonl > /dev/null` once per iteration of `st` (wall
 * clock) and reports receipts/s (`nreceipts` per run), bytes/s and the CLI's CPU time
 * and peak RSS (bench/bench_e2e.c). */
void bench_cli_run(gb_state *st, const char *pbc, const char *jsonl, int threads,
                   uint32_t nreceipts);

/* Monotonic clock, seconds. */
double bench_now(void);

#endif
