// gbench.cc — the C++ half of bench/gbench.h: forwards each C call to Google
// Benchmark 1.7. Benchmark state and registration handles are the library's own
// objects behind opaque C pointers; nothing else lives here.
#include "gbench.h"

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

namespace {

benchmark::State &S(gb_state *st) {
    return *reinterpret_cast<benchmark::State *>(st);
}
const benchmark::State &S(const gb_state *st) {
    return *reinterpret_cast<const benchmark::State *>(st);
}
benchmark::internal::Benchmark *B(gb_bench *b) {
    return reinterpret_cast<benchmark::internal::Benchmark *>(b);
}
gb_bench *H(benchmark::internal::Benchmark *b) {
    return reinterpret_cast<gb_bench *>(b);
}

} // namespace

extern "C" {

gb_bench *gb_register(const char *name, gb_fn fn) {
    return H(benchmark::RegisterBenchmark(
        name, [fn](benchmark::State &st) { fn(reinterpret_cast<gb_state *>(&st)); }));
}

gb_bench *gb_arg(gb_bench *b, int64_t a) {
    return H(B(b)->Arg(a));
}
gb_bench *gb_args2(gb_bench *b, int64_t a0, int64_t a1) {
    return H(B(b)->Args({a0, a1}));
}
gb_bench *gb_args3(gb_bench *b, int64_t a0, int64_t a1, int64_t a2) {
    return H(B(b)->Args({a0, a1, a2}));
}
gb_bench *gb_args(gb_bench *b, const int64_t *a, size_t n) {
    return H(B(b)->Args(std::vector<int64_t>(a, a + n)));
}
gb_bench *gb_arg_name(gb_bench *b, const char *name) {
    return H(B(b)->ArgName(name));
}
gb_bench *gb_arg_names2(gb_bench *b, const char *n0, const char *n1) {
    return H(B(b)->ArgNames({n0, n1}));
}
gb_bench *gb_arg_names3(gb_bench *b, const char *n0, const char *n1, const char *n2) {
    return H(B(b)->ArgNames({n0, n1, n2}));
}
gb_bench *gb_bench_range(gb_bench *b, int64_t lo, int64_t hi) {
    return H(B(b)->Range(lo, hi));
}
gb_bench *gb_range_multiplier(gb_bench *b, int mult) {
    return H(B(b)->RangeMultiplier(mult));
}
gb_bench *gb_dense_range(gb_bench *b, int64_t lo, int64_t hi, int step) {
    return H(B(b)->DenseRange(lo, hi, step));
}
gb_bench *gb_ranges2(gb_bench *b, int64_t lo0, int64_t hi0, int64_t lo1, int64_t hi1) {
    return H(B(b)->Ranges({{lo0, hi0}, {lo1, hi1}}));
}
gb_bench *gb_threads(gb_bench *b, int n) {
    return H(B(b)->Threads(n));
}
gb_bench *gb_thread_range(gb_bench *b, int lo, int hi) {
    return H(B(b)->ThreadRange(lo, hi));
}
gb_bench *gb_fixed_iterations(gb_bench *b, int64_t n) {
    return H(B(b)->Iterations(n));
}
gb_bench *gb_repetitions(gb_bench *b, int n) {
    return H(B(b)->Repetitions(n));
}
gb_bench *gb_min_time(gb_bench *b, double seconds) {
    return H(B(b)->MinTime(seconds));
}
gb_bench *gb_use_real_time(gb_bench *b) {
    return H(B(b)->UseRealTime());
}
gb_bench *gb_measure_process_cpu_time(gb_bench *b) {
    return H(B(b)->MeasureProcessCPUTime());
}
gb_bench *gb_unit(gb_bench *b, enum gb_unit u) {
    static const benchmark::TimeUnit units[] = {benchmark::kNanosecond, benchmark::kMicrosecond,
                                                benchmark::kMillisecond, benchmark::kSecond};
    return H(B(b)->Unit(units[u]));
}

int gb_keep_running(gb_state *st) {
    return S(st).KeepRunning();
}
int gb_keep_running_batch(gb_state *st, int64_t n) {
    return S(st).KeepRunningBatch(n);
}
int64_t gb_range(const gb_state *st, int i) {
    return S(st).range(static_cast<std::size_t>(i));
}
int64_t gb_iterations(const gb_state *st) {
    return static_cast<int64_t>(S(st).iterations());
}
int gb_thread_index(const gb_state *st) {
    return S(st).thread_index();
}
int gb_thread_count(const gb_state *st) {
    return S(st).threads();
}
void gb_pause(gb_state *st) {
    S(st).PauseTiming();
}
void gb_resume(gb_state *st) {
    S(st).ResumeTiming();
}
void gb_set_items_processed(gb_state *st, int64_t n) {
    S(st).SetItemsProcessed(n);
}
void gb_set_bytes_processed(gb_state *st, int64_t n) {
    S(st).SetBytesProcessed(n);
}
void gb_set_label(gb_state *st, const char *label) {
    S(st).SetLabel(label);
}
void gb_skip_with_error(gb_state *st, const char *msg) {
    S(st).SkipWithError(msg);
}

void gb_counter(gb_state *st, const char *name, double value, unsigned flags) {
    int f = benchmark::Counter::kDefaults;
    if (flags & GB_COUNTER_RATE) f |= benchmark::Counter::kIsRate;
    if (flags & GB_COUNTER_AVG_THREADS) f |= benchmark::Counter::kAvgThreads;
    if (flags & GB_COUNTER_AVG_ITERATIONS) f |= benchmark::Counter::kAvgIterations;
    if (flags & GB_COUNTER_ITERATION_INVARIANT) f |= benchmark::Counter::kIsIterationInvariant;
    if (flags & GB_COUNTER_INVERT) f |= benchmark::Counter::kInvert;
    S(st).counters[name] = benchmark::Counter(
        value, static_cast<benchmark::Counter::Flags>(f),
        (flags & GB_COUNTER_BASE1024) ? benchmark::Counter::kIs1024 : benchmark::Counter::kIs1000);
}

void gb_add_context(const char *key, const char *value) {
    benchmark::AddCustomContext(key, value);
}

int gb_main(int argc, char **argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}

} // extern "C"
