#!/usr/bin/env bash
# bench/run.sh — builds promo in Release and runs the whole benchmark suite:
#
#   bench/run.sh                      # everything: ~10 minutes on 2 cores
#   bench/run.sh --quick              # shorter runs (min time 0.1 s), for a smoke test
#   bench/run.sh --benchmark_filter=bm_eval/   # any Google Benchmark flag passes through
#
# Writes bench/results/results.json (Google Benchmark JSON, with the machine in its
# "context"), regenerates the tables of docs/performance.md between its
# <!-- results:begin/end --> markers and the charts docs/img/*.svg (bench/plot.py).
# Environment: BUILD (build directory, default build-bench), MIN_TIME (seconds per
# benchmark, default 1), JOBS (default 2: the machine is shared).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
MIN_TIME=${MIN_TIME:-1}
JOBS=${JOBS:-2}
OUT=$ROOT/bench/results
args=()
for a in "$@"; do
  if [ "$a" = "--quick" ]; then MIN_TIME=0.1; else args+=("$a"); fi
done

cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DPROMO_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j"$JOBS" --target promo-bench promo_cli promo-gen

mkdir -p "$OUT"
# The generator's own check: a generated set must compile with no error and no warning.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$BUILD/bench/promo-gen" --seed 1 --campaigns 400 --receipts 1000 --out "$tmp/w" --quiet
"$BUILD/promo" check --werror "$tmp/w/rules" >/dev/null

"$BUILD/bench/promo-bench" \
  --benchmark_min_time="$MIN_TIME" \
  --benchmark_out="$OUT/results.json" --benchmark_out_format=json \
  --benchmark_counters_tabular=false "${args[@]+"${args[@]}"}"

python3 "$ROOT/bench/plot.py" "$OUT/results.json" --doc "$ROOT/docs/performance.md" \
  --img "$ROOT/docs/img"
echo "run.sh: results in $OUT/results.json; docs/performance.md and docs/img/*.svg updated"
