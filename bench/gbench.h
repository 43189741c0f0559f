/*
 * gbench.h — a small C face of Google Benchmark (libbenchmark 1.7), so that the
 * benchmarks of promo are written in C like the rest of the tree. The C++ side is
 * bench/gbench.cc; nothing here allocates on the timed path except what Google
 * Benchmark itself does.
 *
 * A benchmark is a function `void fn(gb_state *st)`:
 *
 *     static void bm_eval(gb_state *st) {
 *         setup(gb_range(st, 0));                 // untimed: before the loop
 *         while (gb_keep_running(st)) work();
 *         gb_set_items_processed(st, gb_iterations(st));
 *     }
 *     GB_BENCHMARK(bm_eval) { gb_args(b, 10); gb_args(b, 400); gb_thread_range(b, 1, 2); }
 *     GB_MAIN()
 *
 * GB_BENCHMARK registers at program start (a constructor); gb_register does the same
 * explicitly. Registration calls return the same handle, so they chain as in C++.
 */
#ifndef PROMO_GBENCH_H
#define PROMO_GBENCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gb_state gb_state; /* benchmark::State */
typedef struct gb_bench gb_bench; /* benchmark::internal::Benchmark */
typedef void (*gb_fn)(gb_state *st);

/* ---- registration --------------------------------------------------------------- */

gb_bench *gb_register(const char *name, gb_fn fn);
gb_bench *gb_arg(gb_bench *b, int64_t a);                /* ->Arg(a) */
gb_bench *gb_args2(gb_bench *b, int64_t a0, int64_t a1); /* ->Args({a0, a1}) */
gb_bench *gb_args3(gb_bench *b, int64_t a0, int64_t a1, int64_t a2);
gb_bench *gb_args(gb_bench *b, const int64_t *a, size_t n); /* ->Args({...}) */
gb_bench *gb_arg_name(gb_bench *b, const char *name);       /* ->ArgName */
gb_bench *gb_arg_names2(gb_bench *b, const char *n0, const char *n1);
gb_bench *gb_arg_names3(gb_bench *b, const char *n0, const char *n1, const char *n2);
gb_bench *gb_bench_range(gb_bench *b, int64_t lo, int64_t hi); /* ->Range, x8 steps */
gb_bench *gb_range_multiplier(gb_bench *b, int mult);          /* before gb_bench_range */
gb_bench *gb_dense_range(gb_bench *b, int64_t lo, int64_t hi, int step);
gb_bench *gb_ranges2(gb_bench *b, int64_t lo0, int64_t hi0, int64_t lo1, int64_t hi1);
gb_bench *gb_threads(gb_bench *b, int n);               /* ->Threads(n) */
gb_bench *gb_thread_range(gb_bench *b, int lo, int hi); /* 1, 2, 4 .. hi */
gb_bench *gb_fixed_iterations(gb_bench *b, int64_t n);  /* ->Iterations(n) */
gb_bench *gb_repetitions(gb_bench *b, int n);
gb_bench *gb_min_time(gb_bench *b, double seconds);
gb_bench *gb_use_real_time(gb_bench *b);
gb_bench *gb_measure_process_cpu_time(gb_bench *b);

enum gb_unit { GB_NS, GB_US, GB_MS, GB_S };
gb_bench *gb_unit(gb_bench *b, enum gb_unit u);

#define GB_BENCHMARK(fn)                                                                           \
    static void fn(gb_state *st);                                                                  \
    static void gb__setup_##fn(gb_bench *b);                                                       \
    __attribute__((constructor)) static void gb__register_##fn(void) {                             \
        gb__setup_##fn(gb_register(#fn, fn));                                                      \
    }                                                                                              \
    static void gb__setup_##fn(gb_bench *b)

/* ---- inside a benchmark ---------------------------------------------------------- */

int gb_keep_running(gb_state *st);                  /* while (gb_keep_running(st)) ... */
int gb_keep_running_batch(gb_state *st, int64_t n); /* counts n iterations per call */
int64_t gb_range(const gb_state *st, int i);        /* the i-th argument */
int64_t gb_iterations(const gb_state *st);          /* iterations so far / in total */
int gb_thread_index(const gb_state *st);
int gb_thread_count(const gb_state *st);
void gb_pause(gb_state *st);                          /* PauseTiming */
void gb_resume(gb_state *st);                         /* ResumeTiming */
void gb_set_items_processed(gb_state *st, int64_t n); /* -> items_per_second */
void gb_set_bytes_processed(gb_state *st, int64_t n); /* -> bytes_per_second */
void gb_set_label(gb_state *st, const char *label);
void gb_skip_with_error(gb_state *st, const char *msg);

/* Custom counters: flags combine GB_COUNTER_* (0: the value as given). */
enum {
    GB_COUNTER_RATE = 1 << 0,           /* value / seconds */
    GB_COUNTER_AVG_THREADS = 1 << 1,    /* value / threads */
    GB_COUNTER_AVG_ITERATIONS = 1 << 2, /* value / iterations */
    GB_COUNTER_ITERATION_INVARIANT = 1 << 3,
    GB_COUNTER_INVERT = 1 << 4,
    GB_COUNTER_BASE1024 = 1 << 5 /* print with Ki/Mi instead of k/M */
};
void gb_counter(gb_state *st, const char *name, double value, unsigned flags);

/* Keeps the compiler from discarding a value or from caching memory across it. */
static inline void gb_do_not_optimize(const void *p) {
    __asm__ volatile("" : : "g"(p) : "memory");
}
static inline void gb_clobber_memory(void) {
    __asm__ volatile("" : : : "memory");
}

/* ---- running ---------------------------------------------------------------------- */

/* A key/value in the "context" of the JSON output (machine, build, inputs). */
void gb_add_context(const char *key, const char *value);
/* Initialize, report unknown flags (returns 1), run what --benchmark_filter selects,
 * shut down; returns the process exit status. */
int gb_main(int argc, char **argv);

#define GB_MAIN()                                                                                  \
    int main(int argc, char **argv) {                                                              \
        return gb_main(argc, argv);                                                                \
    }

#ifdef __cplusplus
}
#endif
#endif
