#!/usr/bin/env bash
# bench/callgrind_shapes.sh — instructions per receipt, per shape of campaign set, end to
# end (`promo run --threads 1`) and by stage: the figures docs/performance.md compares
# before/after, independent of the load on a shared machine.
#
#   bench/callgrind_shapes.sh [SHAPE...]     (default: every shape of promo-gen --shape)
#
# Per shape: `promo-gen --seed 1 --campaigns 400 --receipts 20000 --shape S`, the first
# RECEIPTS (default 2000) receipts, then
#   valgrind --tool=callgrind promo run -q --threads 1 set.pbc receipts.jsonl
# and the inclusive instruction counts divided by RECEIPTS: `total` (the whole process:
# start-up, bundle load and index build included), `per line` (cmd_run's run_eval_one:
# parse + evaluate + commit + format, the end-to-end cost per receipt), `eval`
# (promo_eval), `parse` (promo_receipt_parse_json), `format` (promo_result_to_json).
# Environment: BUILD (default build-bench, a Release build with promo and promo-gen),
# RECEIPTS, KEEP (a directory to keep the inputs and callgrind files in).
# About 2 s of valgrind per shape on this machine (2,000 receipts).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
N=${RECEIPTS:-2000}
command -v valgrind >/dev/null || { echo "callgrind_shapes.sh: valgrind is needed" >&2; exit 2; }
[ -x "$BUILD/promo" ] && [ -x "$BUILD/bench/promo-gen" ] ||
    { echo "callgrind_shapes.sh: build promo_cli and promo-gen in $BUILD first" >&2; exit 2; }
if [ -n "${KEEP:-}" ]; then
    tmp=$KEEP
    mkdir -p "$tmp"
else
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
fi
shapes=("$@")
if [ ${#shapes[@]} -eq 0 ]; then
    # the shapes promo-gen --help lists (indented names under "--shape NAME")
    mapfile -t shapes < <("$BUILD/bench/promo-gen" --help 2>&1 |
        awk '/--shape NAME/ { on = 1; next } on && /^    [a-z_]+ / { print $1 }')
fi
printf "| shape | total | per line (end to end) | eval | parse | format |\n|---|---|---|---|---|---|\n"
for s in "${shapes[@]}"; do
    w=$tmp/$s
    "$BUILD/bench/promo-gen" --seed 1 --campaigns 400 --receipts 20000 --shape "$s" --out "$w" \
        --quiet
    "$BUILD/promo" build "$w/rules" -o "$w/set.pbc" >/dev/null 2>&1
    head -n "$N" "$w/receipts.jsonl" >"$w/r.jsonl"
    valgrind --tool=callgrind --callgrind-out-file="$w/cg.out" \
        "$BUILD/promo" run -q --threads 1 "$w/set.pbc" "$w/r.jsonl" >"$w/out.jsonl" 2>/dev/null
    callgrind_annotate --inclusive=yes "$w/cg.out" 2>/dev/null >"$w/cg.txt"
    per() { awk -v pat="$1" -v n="$N" '$0 ~ pat { gsub(",", "", $1); printf "%d", $1 / n; exit }' \
        "$w/cg.txt"; }
    printf "| %s | %s | %s | %s | %s | %s |\n" "$s" "$(per "PROGRAM TOTALS")" \
        "$(per "cmd_run.c:run_eval_one ")" "$(per "engine.c:promo_eval ")" \
        "$(per "engine.c:promo_receipt_parse_json ")" "$(per "result_json.c:promo_result_to_json ")"
done
