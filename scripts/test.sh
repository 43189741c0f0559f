#!/usr/bin/env bash
# README's second command: the whole test suite, as CI runs it (.ci/run calls this).
#   1. unit, golden and CLI tests (Criterion + ctest) in a normal build, benches built;
#   2. the same under AddressSanitizer + UndefinedBehaviorSanitizer;
#   3. the thread tests and the `promo run` pipeline tests under ThreadSanitizer;
#   4. a short libFuzzer smoke run of every fuzz target (FUZZ_SECONDS each, default 20).
# Ends with one line "N passed, N failed" over all ctest tests and fuzz targets.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh || exit 2
JOBS=$(nproc)
passed=0
failed=0
log=$(mktemp)

count() { # parse ctest's "NN% tests passed, F tests failed out of T"
  local line t f
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n1)
  if [ -z "$line" ]; then failed=$((failed + 1)); echo "!! no ctest summary"; return; fi
  t=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
  f=$(sed -E 's/.* ([0-9]+) tests? failed.*/\1/' <<<"$line")
  passed=$((passed + t - f)); failed=$((failed + f))
}

stage() { echo; echo "=================== $*"; }

stage "build + tests (RelWithDebInfo)"
cmake -S . -B build-ci -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
  cmake --build build-ci -j"$JOBS" 2>&1 | grep -E 'error|warning|Error' ; true
(cd build-ci && ctest -j"$JOBS" --output-on-failure 2>&1) | tee "$log"
count

stage "build + tests under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DPROMO_SANITIZE=ON -DPROMO_BENCH=OFF >/dev/null &&
  cmake --build build-asan -j"$JOBS" 2>&1 | grep -E 'error|warning|Error' ; true
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest -j"$JOBS" --output-on-failure 2>&1) | tee "$log"
count

stage "thread tests under ThreadSanitizer (the engine, and promo run's pipeline)"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROMO_TSAN=ON -DPROMO_BENCH=OFF >/dev/null &&
  cmake --build build-tsan -j"$JOBS" --target test_threads promo_cli 2>&1 | grep -E 'error|warning|Error' ; true
(cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest -R '^(test_threads|cli_run_stream|cli_run_pipeline)$' \
  --output-on-failure 2>&1) | tee "$log"
count

stage "fuzz smoke (libFuzzer, ${FUZZ_SECONDS:-20}s per target)"
if bash fuzz/smoke.sh "${FUZZ_SECONDS:-20}" 2>&1 | tee "$log"; then
  n=$(grep -c '^fuzz ok:' "$log"); passed=$((passed + n))
else
  n=$(grep -c '^fuzz ok:' "$log"); passed=$((passed + n)); failed=$((failed + 1))
fi
rm -f "$log"

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
