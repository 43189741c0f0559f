#!/usr/bin/env bash
# End-to-end test of the input and ordering machinery of `promo run` (cli/cmd_run.c):
# lines longer than an input chunk, a line over the 64 MiB limit, more lines in flight
# than the line ring holds, BOM / CRLF / no final newline, and the same bytes whatever
# --threads and --batch, from a file, a pipe and a slow producer.
#   tests/cli/run_pipeline.sh PROMO_BINARY SOURCE_DIR
set -euo pipefail
PROMO=$1
# shellcheck source=../support/cli_prelude.bash
source "$(dirname "${BASH_SOURCE[0]}")/../support/cli_prelude.bash"

cat > "$T/set.rule" <<'RULE'
campaign dairy_10 "Dairy: 10% off" {
    priority 100
    then discount 10% on lines where category "dairy"
    limit 2 per customer per day
}
campaign base_1 "1% points" {
    priority 10
    then points 1% of paid
    budget 300
}
RULE
"$PROMO" build "$T/set.rule" -o "$T/set.pbc" || fail "promo build"

rcpt() { # ID CUSTOMER [ATTR_PAD]
    printf '{"id":"%s","time":"2026-06-05T10:00","customer":{"id":"%s"},"attrs":{"pad":"%s"},"lines":[{"sku":"1","category":"dairy","qty":2,"price":150.25}]}' \
        "$1" "$2" "${3:-}"
}

# ---- lines longer than an input chunk (1 MiB) ----------------------------------------
pad=$(head -c 3000000 /dev/zero | tr '\0' 'x')
{
    rcpt a c1; echo
    rcpt b c1 "$pad"; echo
    rcpt c c1; echo
    rcpt d c2 "$pad"; echo
} > "$T/long.jsonl"
{
    rcpt a c1; echo
    rcpt b c1; echo
    rcpt c c1; echo
    rcpt d c2; echo
} > "$T/short.jsonl"
"$PROMO" run --threads 1 --batch 1 "$T/set.pbc" "$T/short.jsonl" > "$T/short.out"
for opts in "--threads 1" "--threads 2" "--threads 4 --batch 3"; do
    # shellcheck disable=SC2086
    "$PROMO" run $opts "$T/set.pbc" "$T/long.jsonl" > "$T/long.out" || fail "long lines: exit $?"
    cmp -s "$T/short.out" "$T/long.out" || fail "long lines ($opts): output differs"
done
# the third receipt of c1 that day: limit 2 per day used up
sed -n 3p "$T/short.out" | grep -qF '"applied":["base_1"]' || fail "limit: $(sed -n 3p "$T/short.out")"

# ---- a line over 64 MiB: its error record, then the stream goes on ------------------
{
    rcpt a c1; echo
    head -c 70000000 /dev/zero | tr '\0' 'y'; echo
    rcpt c c1; echo
} > "$T/huge.jsonl"
"$PROMO" run --threads 2 "$T/set.pbc" "$T/huge.jsonl" > "$T/huge.out" || fail "huge line: exit $?"
[ "$(wc -l < "$T/huge.out")" -eq 3 ] || fail "huge line: $(wc -l < "$T/huge.out") output lines"
[ "$(sed -n 2p "$T/huge.out")" = '{"id":null,"error":"line 2: line too long (more than 67108864 bytes)"}' ] ||
    fail "huge line record: $(sed -n 2p "$T/huge.out" | head -c 200)"
sed -n 3p "$T/huge.out" | grep -q '^{"id":"c","total":300.50,' || fail "after the huge line"

# a too-long line that starts with its id keeps it in its error record (two in a row,
# each with its own id; a non-ASCII id is not guessed at: null)
{
    printf '{"id":"big-1","lines":['; head -c 70000000 /dev/zero | tr '\0' ' '; echo ']}'
    printf ' { "id" : "big/2", "x":"'; head -c 70000000 /dev/zero | tr '\0' 'y'; echo '"}'
    printf '{"id":"\xd1\x8f","x":"'; head -c 70000000 /dev/zero | tr '\0' 'y'; echo '"}'
    rcpt c c1; echo
} > "$T/huge2.jsonl"
"$PROMO" run --threads 2 "$T/set.pbc" "$T/huge2.jsonl" > "$T/huge2.out" || fail "huge ids: exit $?"
rm -f "$T/huge2.jsonl"
[ "$(sed -n 1p "$T/huge2.out")" = '{"id":"big-1","error":"line 1: line too long (more than 67108864 bytes)"}' ] ||
    fail "huge line id 1: $(sed -n 1p "$T/huge2.out" | head -c 200)"
[ "$(sed -n 2p "$T/huge2.out")" = '{"id":"big/2","error":"line 2: line too long (more than 67108864 bytes)"}' ] ||
    fail "huge line id 2: $(sed -n 2p "$T/huge2.out" | head -c 200)"
[ "$(sed -n 3p "$T/huge2.out")" = '{"id":null,"error":"line 3: line too long (more than 67108864 bytes)"}' ] ||
    fail "huge line id 3: $(sed -n 3p "$T/huge2.out" | head -c 200)"
sed -n 4p "$T/huge2.out" | grep -q '^{"id":"c","total":300.50,' || fail "after the huge ids"

# ---- many more lines than the ring holds (4096), most of them blank ------------------
awk 'BEGIN {
    for (i = 1; i <= 30000; i++) {
        if (i % 5) { print ""; continue }
        printf "{\"id\":\"r%d\",\"time\":\"2026-06-0%dT10:00\",\"customer\":{\"id\":\"c%d\"},\"lines\":[{\"sku\":\"1\",\"category\":\"dairy\",\"qty\":1,\"price\":%d.%02d}]}\n", i, 1 + i % 7, i % 13, 10 + i % 90, i % 100
    }
}' > "$T/many.jsonl"
"$PROMO" run --threads 1 --batch 1 "$T/set.pbc" "$T/many.jsonl" > "$T/many.ref"
[ "$(wc -l < "$T/many.ref")" -eq 30000 ] || fail "many: $(wc -l < "$T/many.ref") lines"
[ "$(sed -n 29999p "$T/many.ref")" = '{"id":null,"error":"line 29999: empty line"}' ] ||
    fail "many: line 29999: $(sed -n 29999p "$T/many.ref")"
for opts in "--threads 2" "--threads 3 --batch 65536" "--threads 2 --batch 1" "--threads 8"; do
    # shellcheck disable=SC2086
    "$PROMO" run $opts "$T/set.pbc" "$T/many.jsonl" > "$T/many.out"
    cmp -s "$T/many.ref" "$T/many.out" || fail "many ($opts): output differs"
    # shellcheck disable=SC2086
    cat "$T/many.jsonl" | "$PROMO" run $opts "$T/set.pbc" > "$T/many.out"
    cmp -s "$T/many.ref" "$T/many.out" || fail "many ($opts, pipe): output differs"
done
# the budget (300.00 of points) ran out in the middle of the stream
grep -q '"applied":\["dairy_10","base_1"\]' "$T/many.ref" || fail "many: no points"
tail -1 "$T/many.ref" | grep -qF '"points":[]' || fail "many: budget not exhausted"

# ---- byte order mark, CRLF, no final newline ---------------------------------------
{
    printf '\xEF\xBB\xBF'
    rcpt a c1; printf '\r\n'
    printf '\r\n'
    rcpt b c1
} > "$T/bom.jsonl"
"$PROMO" run --threads 2 "$T/set.pbc" "$T/bom.jsonl" > "$T/bom.out"
[ "$(wc -l < "$T/bom.out")" -eq 3 ] || fail "bom: $(wc -l < "$T/bom.out") lines"
sed -n 1p "$T/bom.out" | grep -q '^{"id":"a","total":300.50,' || fail "bom: $(sed -n 1p "$T/bom.out")"
[ "$(sed -n 2p "$T/bom.out")" = '{"id":null,"error":"line 2: empty line"}' ] || fail "crlf blank"
sed -n 3p "$T/bom.out" | grep -q '^{"id":"b",' || fail "no final newline"

# ---- a slow producer gets each answer before sending the next line ------------------
mkfifo "$T/fifo"
"$PROMO" run --threads 2 "$T/set.pbc" "$T/fifo" > "$T/slow.out" &
pid=$!
exec 3> "$T/fifo"
for i in 1 2 3; do
    rcpt "s$i" c9 >&3
    echo >&3
    wait_lines "$T/slow.out" "$i"
done
exec 3>&-
wait $pid || fail "slow producer: exit $?"
[ "$(wc -l < "$T/slow.out")" -eq 3 ] || fail "slow producer: $(wc -l < "$T/slow.out") lines"

echo "run_pipeline: all checks passed"
