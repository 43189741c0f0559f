#!/usr/bin/env bash
# End-to-end test of `promo run` (docs/io.md): a bundle built from the rules below, a
# JSONL stream with good and bad lines -> exact output lines; one output line per input
# line; the same bytes whatever --threads / --batch on a few thousand generated
# receipts whose limits and budget make receipts of one batch depend on each other.
#   tests/cli/run_stream.sh PROMO_BINARY SOURCE_DIR
set -euo pipefail
PROMO=$1
# shellcheck source=../support/cli_prelude.bash
source "$(dirname "${BASH_SOURCE[0]}")/../support/cli_prelude.bash"

cat > "$T/set.rule" <<'RULE'
set dairy = category "dairy"
group discounts
campaign dairy_10 "Dairy: 10% off from 150" {
    priority 100
    group discounts
    when sum(lines where dairy) >= 150
    then discount 10% on lines where dairy
    limit 1 per customer per day
}
campaign coffee_50 "50 off coffee, limited budget" {
    priority 90
    then discount 50 on lines where category "coffee"
    budget 200
}
campaign base_1 "1% points" {
    priority 10
    then points 1% of paid expire in 90 days
}
campaign loyal "third visit in a month" {
    priority 5
    when history.visits(30 days) >= 3
    then coupon "LOYAL"; message "thanks for coming back"
}
RULE
"$PROMO" build "$T/set.rule" -o "$T/set.pbc" || fail "promo build"

# ---- exact output on a small stream --------------------------------------------------
{
    # 1: the SPEC 4 example
    echo '{"id":"r1","store":101,"region":"msk","channel":"pos","time":"2026-06-05T10:15:00","payment":"card","points_paid":0,"codes":["SUMMER"],"attrs":{"weather":"rain"},"customer":{"id":"c42","card":"zabota","segments":["pensioner"],"tier":"gold","birthday":"1950-06-07"},"lines":[{"sku":"1001","category":"dairy/milk","brand":"Prost","qty":2,"price":89.90,"excluded":false}]}'
    # 2: same customer, same day: dairy_10's limit is used up
    echo '{"id":"r2","time":"2026-06-05T12:00","customer":{"id":"c42"},"lines":[{"sku":"1001","category":"dairy/milk","qty":1,"price":200}]}'
    # 3: blank line
    echo ''
    # 4: wrong type
    echo '{"id":"r4","time":"2026-06-05T12:00","lines":[{"sku":"1","qty":1,"price":"89.90"}]}'
    # 5: next day; third visit of c42
    echo '{"id":"r5","time":"2026-06-06T09:00","customer":{"id":"c42"},"lines":[{"sku":"7","category":"coffee","qty":1,"price":300},{"sku":"8","category":"dairy","qty":3,"price":50}]}'
    # 6: truncated JSON (the id is still recovered)
    echo '{"id":"r6",'
    # 7: CRLF line ending, an excluded weight line, no customer
    printf '{"id":"r7","time":"2026-06-06T09:00","lines":[{"sku":"9","qty":1.5,"price":10,"excluded":true},{"sku":"10","category":"coffee","qty":1,"price":120}]}\r\n'
    # 8: numeric id, zone ignored, no final newline
    printf '{"id":8,"time":"2026-06-07T23:59:59Z","customer":{"id":"c42"},"lines":[{"sku":"7","category":"coffee","qty":2,"price":100}]}'
} > "$T/small.jsonl"

cat > "$T/small.expected" <<'EOF'
{"id":"r1","total":179.80,"discount":17.98,"final":161.82,"lines":[{"n":0,"amount":179.80,"discount":17.98,"final":161.82,"by":{"dairy_10":17.98}}],"points":[{"campaign":"base_1","points":1.62,"activate":"2026-06-05","expire":"2026-09-03"}],"coupons":[],"messages":[],"spend_limit":null,"applied":["dairy_10","base_1"]}
{"id":"r2","total":200.00,"discount":0.00,"final":200.00,"lines":[{"n":0,"amount":200.00,"discount":0.00,"final":200.00,"by":{}}],"points":[{"campaign":"base_1","points":2.00,"activate":"2026-06-05","expire":"2026-09-03"}],"coupons":[],"messages":[],"spend_limit":null,"applied":["base_1"]}
{"id":null,"error":"line 3: empty line"}
{"id":"r4","error":"line 4: lines[0].price: expected a number"}
{"id":"r5","total":450.00,"discount":65.00,"final":385.00,"lines":[{"n":0,"amount":300.00,"discount":50.00,"final":250.00,"by":{"coffee_50":50.00}},{"n":1,"amount":150.00,"discount":15.00,"final":135.00,"by":{"dairy_10":15.00}}],"points":[{"campaign":"base_1","points":3.85,"activate":"2026-06-06","expire":"2026-09-04"}],"coupons":["LOYAL"],"messages":["thanks for coming back"],"spend_limit":null,"applied":["dairy_10","coffee_50","base_1","loyal"]}
{"id":"r6","error":"line 6: invalid JSON: JSON document ended early in the middle of an object or array at byte 11"}
{"id":"r7","total":135.00,"discount":50.00,"final":85.00,"lines":[{"n":0,"amount":15.00,"discount":0.00,"final":15.00,"by":{}},{"n":1,"amount":120.00,"discount":50.00,"final":70.00,"by":{"coffee_50":50.00}}],"points":[{"campaign":"base_1","points":0.70,"activate":"2026-06-06","expire":"2026-09-04"}],"coupons":[],"messages":[],"spend_limit":null,"applied":["coffee_50","base_1"]}
{"id":"8","total":200.00,"discount":50.00,"final":150.00,"lines":[{"n":0,"amount":200.00,"discount":50.00,"final":150.00,"by":{"coffee_50":50.00}}],"points":[{"campaign":"base_1","points":1.50,"activate":"2026-06-07","expire":"2026-09-05"}],"coupons":["LOYAL"],"messages":["thanks for coming back"],"spend_limit":null,"applied":["coffee_50","base_1","loyal"]}
EOF

"$PROMO" run --threads 2 "$T/set.pbc" "$T/small.jsonl" > "$T/small.out" 2> "$T/small.err" ||
    fail "promo run exited $? on bad lines (they are data): $(cat "$T/small.err")"
diff -u "$T/small.expected" "$T/small.out" || fail "small stream output differs"
[ ! -s "$T/small.err" ] || fail "unexpected stderr: $(cat "$T/small.err")"

# stdin, with and without "-", and any thread count: the same bytes
"$PROMO" run "$T/set.pbc" < "$T/small.jsonl" > "$T/stdin1.out" || fail "stdin run"
cat "$T/small.jsonl" | "$PROMO" run --threads 1 --batch 1 "$T/set.pbc" - > "$T/stdin2.out" ||
    fail "stdin run with -"
cmp "$T/small.expected" "$T/stdin1.out" || fail "stdin output differs"
cmp "$T/small.expected" "$T/stdin2.out" || fail "stdin (-) output differs"

# a UTF-8 byte order mark at the start of the input is skipped
{ printf '\xef\xbb\xbf'; head -1 "$T/small.jsonl"; } | "$PROMO" run "$T/set.pbc" > "$T/bom.out"
head -1 "$T/small.expected" | cmp - "$T/bom.out" || fail "byte order mark"

# --summary on stderr
"$PROMO" run --quiet --summary "$T/set.pbc" "$T/small.jsonl" > /dev/null 2> "$T/summary.err"
cat > "$T/summary.expected" <<'EOF'
receipts: 8
errors: 3
discount: 182.98
points: 9.67
applied:
  dairy_10: 2
  coffee_50: 3
  base_1: 5
  loyal: 2
EOF
diff -u "$T/summary.expected" "$T/summary.err" || fail "--summary differs"

# --explain adds the explain list
head -2 "$T/small.jsonl" | "$PROMO" run --explain "$T/set.pbc" | tail -1 > "$T/explain.out"
grep -qF '"applied":["base_1"],"explain":[{"campaign":"dairy_10","outcome":"limit reached"},{"campaign":"coffee_50","outcome":"nothing to give"},{"campaign":"base_1","outcome":"applied"},{"campaign":"loyal","outcome":"condition false","part":"history.visits(30 days) >= 3"}]}' \
    "$T/explain.out" || fail "--explain: $(cat "$T/explain.out")"

# exit codes: --strict -> 1 on bad lines; 0 without bad lines; 2 for usage / IO / bundle
set +e
"$PROMO" run --strict "$T/set.pbc" "$T/small.jsonl" > /dev/null; rc=$?
[ $rc -eq 1 ] || fail "--strict with bad lines exited $rc, want 1"
head -2 "$T/small.jsonl" | "$PROMO" run --strict "$T/set.pbc" > /dev/null; rc=$?
[ $rc -eq 0 ] || fail "--strict without bad lines exited $rc, want 0"
"$PROMO" run "$T/missing.pbc" "$T/small.jsonl" > /dev/null 2> "$T/err"; rc=$?
[ $rc -eq 2 ] || fail "missing bundle exited $rc, want 2"
grep -q "cannot load" "$T/err" || fail "missing bundle message: $(cat "$T/err")"
"$PROMO" run "$T/set.pbc" "$T/missing.jsonl" > /dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "missing input exited $rc, want 2"
echo "not a bundle" > "$T/bad.pbc"
"$PROMO" run "$T/bad.pbc" "$T/small.jsonl" > /dev/null 2>&1; rc=$?
[ $rc -eq 2 ] || fail "corrupt bundle exited $rc, want 2"
"$PROMO" run --threads 0 "$T/set.pbc" > /dev/null 2>&1 < /dev/null; rc=$?
[ $rc -eq 2 ] || fail "--threads 0 exited $rc, want 2"
"$PROMO" run --bogus "$T/set.pbc" > /dev/null 2>&1 < /dev/null; rc=$?
[ $rc -eq 2 ] || fail "unknown option exited $rc, want 2"
"$PROMO" run > /dev/null 2>&1 < /dev/null; rc=$?
[ $rc -eq 2 ] || fail "no bundle exited $rc, want 2"
"$PROMO" run --help > "$T/help"; rc=$?
[ $rc -eq 0 ] && grep -q -- "--threads N" "$T/help" || fail "--help"
set -e

# an empty input gives an empty output
"$PROMO" run "$T/set.pbc" < /dev/null > "$T/empty.out"
[ ! -s "$T/empty.out" ] || fail "empty input gave output"

# ---- thread count and batch size do not change a byte -------------------------------
# 40 customers over 4 days: limits per customer/day and history cross batch borders;
# the coffee budget (200 = 4 receipts) runs out inside the first batch, a larger one
# (sed below) in the middle of the stream. Every 97th line is malformed.
awk -v n=3000 'BEGIN {
    srand(7);
    for (i = 1; i <= n; i++) {
        if (i % 97 == 0) { printf "{\"id\":\"g%d\",\"time\":\"2026-06-0%dT10:00\",\"lines\":[{\"sku\":\"1\",\"qty\":1,\"price\":1.001}]}\n", i, 1 + i % 4; continue }
        if (i % 251 == 0) { print ""; continue }
        printf "{\"id\":\"g%d\",\"time\":\"2026-06-0%dT%02d:%02d\",", i, 1 + int(i / 750), 8 + int(rand() * 12), int(rand() * 60);
        if (rand() < 0.9) printf "\"customer\":{\"id\":\"c%d\"},", 1 + int(rand() * 40);
        printf "\"lines\":[";
        nl = 1 + int(rand() * 4);
        for (k = 1; k <= nl; k++) {
            r = rand();
            c = r < 0.4 ? "dairy/milk" : r < 0.6 ? "coffee" : "bakery";
            printf "%s{\"sku\":\"%d\",\"category\":\"%s\",\"qty\":%d,\"price\":%d.%02d}", (k > 1 ? "," : ""), 100 + int(rand() * 50), c, 1 + int(rand() * 3), 20 + int(rand() * 200), int(rand() * 100);
        }
        print "]}";
    }
}' > "$T/big.jsonl"
sed 's/budget 200/budget 20000/' "$T/set.rule" > "$T/big.rule"
"$PROMO" build "$T/big.rule" -o "$T/big.pbc" || fail "promo build big"

for set in set big; do
    # the reference: one receipt at a time, evaluated and committed in order
    "$PROMO" run --threads 1 --batch 1 "$T/$set.pbc" "$T/big.jsonl" > "$T/ref.out"
    [ "$(wc -l < "$T/ref.out")" -eq 3000 ] || fail "$set: $(wc -l < "$T/ref.out") output lines for 3000"
    for opts in "--threads 1" "--threads 2" "--threads 4" "--threads 4 --batch 7" \
                "--threads 3 --batch 1000"; do
        # shellcheck disable=SC2086
        "$PROMO" run $opts "$T/$set.pbc" "$T/big.jsonl" > "$T/par.out"
        cmp -s "$T/ref.out" "$T/par.out" || {
            diff "$T/ref.out" "$T/par.out" | head -5 >&2
            fail "$set: output with $opts differs from --threads 1 --batch 1"
        }
    done
    # the stream really exercised limits, budgets and errors
    grep -q '"error":"line 97: lines\[0\].price: more than 2 decimals"' "$T/ref.out" || fail "$set: line 97"
    grep -q '^{"id":null,"error":"line 251: empty line"}$' "$T/ref.out" || fail "$set: line 251"
    grep -q '"loyal"' "$T/ref.out" || fail "$set: no loyal coupon"
done
# budget 20000.00 of at most 50.00 per receipt: all of it but less than 50.00 is used
spent=$(grep -o '"coffee_50":[0-9.]*' "$T/ref.out" | awk -F: '{ sub(/\./, "", $2); s += $2 } END { print s + 0 }')
[ "$spent" -le 2000000 ] && [ "$spent" -gt 1995000 ] ||
    fail "budget 20000 spent $spent kopecks"

# ---- --reload-on-signal: SIGHUP swaps the bundle between batches -------------------
# Input through a FIFO kept open, so each line is answered while promo waits for more.
cp "$T/set.pbc" "$T/live.pbc"
mkfifo "$T/fifo"
"$PROMO" run --reload-on-signal --threads 2 "$T/live.pbc" "$T/fifo" > "$T/live.out" 2> "$T/live.err" &
pid=$!
exec 3> "$T/fifo"
line() { echo "{\"id\":\"x\",\"time\":\"2026-06-10T10:00\",\"customer\":{\"id\":\"$1\"},\"lines\":[{\"sku\":\"1\",\"category\":\"dairy\",\"qty\":1,\"price\":200}]}"; }
line a >&3
wait_lines "$T/live.out" 1
sed 's/discount 10% on lines where dairy/discount 25% on lines where dairy/' "$T/set.rule" > "$T/live.rule"
"$PROMO" build "$T/live.rule" -o "$T/live.pbc" || fail "build live"
kill -HUP $pid
wait_grep "reloaded" "$T/live.err"
line b >&3
wait_lines "$T/live.out" 2
echo "not a bundle" > "$T/live.pbc"
kill -HUP $pid
wait_grep "keeping the old bundle" "$T/live.err"
line c >&3
exec 3>&-
wait $pid || fail "promo run --reload-on-signal exited $?"
[ "$(wc -l < "$T/live.out")" -eq 3 ] || fail "reload: $(wc -l < "$T/live.out") lines"
sed -n 1p "$T/live.out" | grep -qF '"discount":20.00,' || fail "before reload: $(sed -n 1p "$T/live.out")"
sed -n 2p "$T/live.out" | grep -qF '"discount":50.00,' || fail "after reload: $(sed -n 2p "$T/live.out")"
sed -n 3p "$T/live.out" | grep -qF '"discount":50.00,' || fail "after failed reload: $(sed -n 3p "$T/live.out")"

echo "run_stream: all checks passed"
