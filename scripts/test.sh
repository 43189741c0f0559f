#!/usr/bin/env bash
# README's second command: the whole test suite, as CI runs it (.ci/run calls this).
#   1. unit, golden and CLI tests (Criterion + ctest) in a normal build, benches built;
#   2. the same under AddressSanitizer + UndefinedBehaviorSanitizer;
#   3. the thread tests and the `promo run` pipeline tests under ThreadSanitizer;
#   4. a library-only build installed to a fresh prefix, the embedding example built
#      against it with pkg-config and with find_package (tests/install.sh);
#   5. a short libFuzzer smoke run of every fuzz target (FUZZ_SECONDS each, default 20).
# A configure or build that fails counts as a failure (its tests are not run).
# Ends with one line "N passed, N failed" over all ctest tests and fuzz targets.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh || exit 2
JOBS=$(nproc)
passed=0
failed=0
log=$(mktemp)
failures=$(mktemp) # the names of what failed, repeated after the summary line's stages

count() { # parse ctest's "NN% tests passed, F tests failed out of T"
  local line t f
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n1)
  if [ -z "$line" ]; then failed=$((failed + 1)); echo "!! no ctest summary"; return; fi
  t=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
  f=$(sed -E 's/.* ([0-9]+) tests? failed.*/\1/' <<<"$line")
  passed=$((passed + t - f)); failed=$((failed + f))
  # ctest lists what failed after "The following tests FAILED:"; keep it for the end, where a
  # CI log cut to its tail still shows it.
  sed -n '/The following tests FAILED:/,/^Errors while running/p' "$log" |
    grep -E '^[[:space:]]+[0-9]+ - ' | sed "s|^[[:space:]]*|$1: |" >>"$failures"
}

stage() { echo; echo "=================== $*"; }

# Configures and builds DIR (cmake args, then `--` and build args). A failed configure or
# build counts as a failure and its tests are not run: binaries left by an earlier build
# must never make a broken tree look green.
build() {
  local dir=$1; shift
  local conf=() blog
  while [ $# -gt 0 ] && [ "$1" != -- ]; do conf+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  blog=$(mktemp)
  if ! cmake -S . -B "$dir" "${conf[@]}" >"$blog" 2>&1 ||
     ! cmake --build "$dir" -j"$JOBS" "$@" >>"$blog" 2>&1; then
    grep -E -A3 'error|Error' "$blog" | head -n 60
    echo "!! build failed in $dir"
    echo "build of $dir" >>"$failures"
    failed=$((failed + 1))
    rm -f "$blog"
    return 1
  fi
  grep -E 'warning' "$blog"
  rm -f "$blog"
  return 0
}

# Release (-O3), the build type of scripts/demo.sh and bench/run.sh: -O3 finds
# maybe-uninitialized warnings -O2 does not, and -Werror makes them build failures.
stage "build + tests (Release)"
if build build-ci -DCMAKE_BUILD_TYPE=Release; then
  (cd build-ci && ctest -j"$JOBS" --output-on-failure 2>&1) | tee "$log"
  count Release
fi

stage "build + tests under AddressSanitizer + UndefinedBehaviorSanitizer"
if build build-asan -DCMAKE_BUILD_TYPE=Debug -DPROMO_SANITIZE=ON -DPROMO_BENCH=OFF; then
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest -j"$JOBS" --output-on-failure 2>&1) | tee "$log"
  count ASan+UBSan
fi

stage "thread tests under ThreadSanitizer (the engine, and promo run's pipeline)"
if build build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPROMO_TSAN=ON -DPROMO_BENCH=OFF \
     -- --target test_threads promo_cli; then
  (cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest -R '^(test_threads|cli_run_stream|cli_run_pipeline)$' \
    --output-on-failure 2>&1) | tee "$log"
  count TSan
fi

stage "install: library-only build, cmake --install, docs/embedding.md with pkg-config and find_package"
if [ -x build-ci/promo ] && bash tests/install.sh build-ci/promo 2>&1 | tail -n 20; then
  passed=$((passed + 1))
else
  echo "!! install test failed"; echo "install test" >>"$failures"; failed=$((failed + 1))
fi

stage "fuzz smoke (libFuzzer, ${FUZZ_SECONDS:-20}s per target)"
if bash fuzz/smoke.sh "${FUZZ_SECONDS:-20}" 2>&1 | tee "$log"; then
  n=$(grep -c '^fuzz ok:' "$log"); passed=$((passed + n))
else
  n=$(grep -c '^fuzz ok:' "$log"); passed=$((passed + n)); failed=$((failed + 1))
  grep -E 'FAILED' "$log" | sed 's/^/fuzz: /' >>"$failures"
  echo "fuzz smoke" >>"$failures"
fi
rm -f "$log"

echo
if [ -s "$failures" ]; then echo "failed:"; sed 's/^/  /' "$failures"; fi
rm -f "$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
