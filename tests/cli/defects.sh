#!/usr/bin/env bash
# Regression tests of defects found from outside (issue 14), one reproducer each:
#   fmt --diff never hands a file name to a shell; fmt and build replace files through
#   one atomic writer (a symlink stays a symlink, the mode stays); durations and
#   money/points literals are bounded so nothing accepted overflows (--summary included).
set -euo pipefail
PROMO=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"

# 1. `promo fmt --diff` on a file whose name is shell syntax: no command runs.
name="a';touch PWNED;'.rule"
printf 'campaign  c {\n  then points 10\n}\n' > "$name"
"$PROMO" fmt --diff "$name" > diff.txt || true
[ ! -e PWNED ] || { echo "fmt --diff ran a command from a file name"; exit 1; }
grep -qF -- "--- $name" diff.txt || { echo "no diff header for the file"; cat diff.txt; exit 1; }
grep -q '^+    then     points 10$' diff.txt || { echo "diff lacks the formatted line"; cat diff.txt; exit 1; }

# 2. fmt through a symlink: the link stays, its target is formatted, the mode is kept,
#    no temporary is left behind.
mkdir real
printf 'campaign  c {\n  then points 10\n}\n' > real/set.rule
chmod 640 real/set.rule
ln -s real/set.rule link.rule
"$PROMO" fmt link.rule
[ -L link.rule ] || { echo "fmt replaced the symlink by a file"; exit 1; }
grep -q '^    then     points 10$' real/set.rule || { echo "the link's target was not formatted"; exit 1; }
[ "$(stat -c %a real/set.rule)" = 640 ] || { echo "fmt changed the mode"; stat -c %a real/set.rule; exit 1; }
[ -z "$(ls real | grep -v '^set.rule$')" ] || { echo "temporary left behind"; ls real; exit 1; }
# promo build -o goes through the same writer.
ln -s real/out.pbc out.pbc
"$PROMO" build real/set.rule -o out.pbc
[ -L out.pbc ] && [ -s real/out.pbc ] || { echo "build -o did not write through the symlink"; exit 1; }

# 3. Durations: at most PB_MAX_DAYS (36600 days), an error beyond.
check_err() { # file text, expected message
  printf '%s\n' "$1" > bad.rule
  if "$PROMO" check bad.rule > out.txt 2>&1; then echo "accepted: $1"; exit 1; fi
  grep -qF "$2" out.txt || { echo "expected '$2' for: $1"; cat out.txt; exit 1; }
}
check_err 'campaign c { then points 10 expire in 306783378 weeks }' 'duration is too long (at most 36600 days)'
check_err 'campaign c { then points 10 expire in 3000000 days }' 'duration is too long (at most 36600 days)'
check_err 'campaign c { then points 10 activate in 5229 weeks }' 'duration is too long (at most 36600 days)'
check_err 'campaign c { when history.visits(36601 days) > 1 then points 1 }' 'duration is too long'
# 4. Money and points literals: at most 10000000000000.00.
check_err 'campaign c { then points 92233720368547758.07 }' "'92233720368547758.07' is too large for money (at most 10000000000000.00)"
check_err 'campaign c { then discount 10000000000000.01 on receipt }' 'is too large for money (at most 10000000000000.00)'
check_err 'campaign c { when count(lines) > 1000000000001 then points 1 }' 'is too large for number (at most 1000000000000)'

# The largest accepted values compile, and evaluate to valid dates and exact totals: a
# receipt on the calendar's last day gets its points dates clamped to 9999-12-31, and
# 10000 receipts of 10^13 points each sum to 10^17 in --summary (past int64 kopecks).
printf 'campaign big {\n    then points 10000000000000.00 activate in 36600 days expire in 5228 weeks\n}\n' > big.rule
"$PROMO" build big.rule -o big.pbc
echo '{"id":"last","time":"9999-12-31T10:00:00","lines":[{"sku":"1","qty":1,"price":1}]}' |
  "$PROMO" run big.pbc > last.jsonl
grep -q '"points":10000000000000.00,"activate":"9999-12-31","expire":"9999-12-31"' last.jsonl ||
  { echo "points dates not clamped to 9999-12-31"; cat last.jsonl; exit 1; }
for i in $(seq 1 10000); do
  echo "{\"id\":\"r$i\",\"time\":\"2026-06-05T10:00:00\",\"lines\":[{\"sku\":\"1\",\"qty\":1,\"price\":1}]}"
done > many.jsonl
"$PROMO" run big.pbc many.jsonl --summary > /dev/null 2> summary.txt
grep -qx 'points: 100000000000000000.00' summary.txt || { echo "summary overflowed"; cat summary.txt; exit 1; }
echo "defects ok"
