#!/usr/bin/env bash
# smoke.sh — builds the libFuzzer targets with clang (ASan + UBSan) in build-fuzz and
# runs each for a while on a scratch copy of its seed corpus.
#   fuzz/smoke.sh [SECONDS]      (default 30 per target)
# Exits non-zero when a target fails to build or finds a crash (the reproducer is left
# in build-fuzz/crashes/).
set -euo pipefail
secs=${1:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-fuzz
cmake -S "$root" -B "$build" -DPROMO_FUZZ=ON -DPROMO_BENCH=OFF -DPROMO_TESTS=OFF \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 --target fuzz_frontend fuzz_bundle fuzz_receipt
mkdir -p "$build/crashes"
# Stop at the first UBSan report too (the build lets UBSan recover by default).
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=abort_on_error=1
status=0
for target in frontend bundle receipt; do
    mkdir -p "$root/fuzz/corpus/$target"
    work=$(mktemp -d)
    # New inputs go to the scratch dir; the seed corpus is only read. libFuzzer's progress
    # lines go to a log: a CI log cut to its tail must still show the stages' summaries.
    # A failure prints the log's tail (the report and the reproducer's path).
    if ! "$build/fuzz/fuzz_$target" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$build/crashes/$target-" \
        "$work" "$root/fuzz/corpus/$target" >"$work.log" 2>&1; then
        tail -n 80 "$work.log" >&2
        echo "fuzz_$target: FAILED (see $build/crashes/)" >&2
        status=1
    else
        grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' "$work.log"
        echo "fuzz ok: fuzz_$target ($secs s)"
    fi
    rm -rf "$work" "$work.log"
done
exit $status
