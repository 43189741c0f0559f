#!/usr/bin/env bash
# Explain for people (issue 13): `promo explain set.pbc receipts` and `promo run
# --explain=text` give titles, the amount per campaign and line, the actual values of a
# false condition, and the real reason of a refusal (no customer id, which limit
# period, budget used and left) — compared word for word.
set -euo pipefail
PROMO=$1
SRC=$2
source "$SRC/tests/support/cli_prelude.bash"

cat > "$T/x.rule" <<'RULE'
campaign once "Once a day: 5% off" { priority 10 then discount 5% on receipt limit 1 per customer per day }
campaign big "500 off from 5000" { priority 20 when total >= 5000 and weekday != sun then discount 500 on receipt }
campaign sponsor "Спонсор: 100 off, budget 150" { priority 5 budget 150 then discount 100 on receipt }
campaign rain { priority 4 stores 7 when attr "weather" == "rain" then coupon "UMB" }
RULE
cat > "$T/x.jsonl" <<'JSON'
{"id":"r1","store":7,"time":"2027-03-01T10:00:00","customer":{"id":"c1"},"lines":[{"sku":"1","qty":1,"price":4991.82}]}
{"id":"r2","store":8,"time":"2027-03-01T11:00:00","lines":[{"sku":"1","qty":2,"price":3000},{"sku":"2","qty":1,"price":10}]}
{"id":"r3","store":7,"time":"2027-03-01T12:00:00","customer":{"id":"c1"},"attrs":{"weather":"sun"},"lines":[{"sku":"1","qty":1,"price":100}]}
JSON
"$PROMO" build "$T/x.rule" -o "$T/x.pbc"
cat > "$T/want" <<'TXT'
receipt r1: total 4991.82, discount 349.59, to pay 4642.23, points 0.00
  - big "500 off from 5000": condition false: total >= 5000 (total is 4991.82)
  + once "Once a day: 5% off": discount 249.59 (line 0 sku "1" 249.59)
  + sponsor "Спонсор: 100 off, budget 150": discount 100.00 (line 0 sku "1" 100.00)
  - rain: condition false: attr "weather" == "rain" (attr "weather" is absent)

receipt r2: total 6010.00, discount 500.00, to pay 5510.00, points 0.00
  + big "500 off from 5000": discount 500.00 (line 0 sku "1" 499.17, line 1 sku "2" 0.83)
  - once "Once a day: 5% off": no customer id: its limit of 1 per customer needs one
  - sponsor "Спонсор: 100 off, budget 150": budget exhausted: 100.00 of 150.00 used, 50.00 left
  - rain: not in its stores (the receipt's store is "8")

receipt r3: total 100.00, discount 0.00, to pay 100.00, points 0.00
  - big "500 off from 5000": condition false: total >= 5000 (total is 100.00)
  - once "Once a day: 5% off": limit reached: 1 per customer per day
  - sponsor "Спонсор: 100 off, budget 150": budget exhausted: 100.00 of 150.00 used, 50.00 left
  - rain: condition false: attr "weather" == "rain" (attr "weather" is "sun")
TXT
"$PROMO" explain "$T/x.pbc" "$T/x.jsonl" > "$T/got"
diff -u "$T/want" "$T/got" || fail "promo explain"
# run --explain=text: the same, with a blank line after every receipt, whatever the threads
echo >> "$T/want"
for th in 1 2; do
  "$PROMO" run -q --threads $th --explain=text "$T/x.pbc" "$T/x.jsonl" > "$T/run.txt"
  diff -u "$T/want" "$T/run.txt" || fail "run --explain=text, $th threads"
done
# the total a false `total >=` saw is the one at the campaign's turn: after earlier discounts
cat > "$T/y.rule" <<'RULE'
campaign first { priority 9 then discount 100 on receipt }
campaign later { priority 1 when total >= 5000 then coupon "X" }
RULE
"$PROMO" build "$T/y.rule" -o "$T/y.pbc"
echo '{"id":"q","time":"2027-03-01T10:00:00","lines":[{"sku":"1","qty":1,"price":5050}]}' | "$PROMO" explain "$T/y.pbc" - > "$T/y.txt"
grep -qx '  - later: condition false: total >= 5000 (total is 4950.00)' "$T/y.txt" || fail "total at its turn: $(cat "$T/y.txt")"
# a malformed receipt: reported, the others explained, exit 1
printf '%s\n' '{"id":"bad"' '{"id":"ok","time":"2027-03-01T10:00:00","lines":[{"sku":"1","qty":1,"price":10}]}' > "$T/m.jsonl"
set +e; "$PROMO" explain "$T/y.pbc" "$T/m.jsonl" > "$T/m.txt" 2> "$T/m.err"; rc=$?; set -e
[ $rc -eq 1 ] || fail "malformed: exit $rc"
grep -q '^promo explain: line 1: ' "$T/m.err" || fail "malformed: $(cat "$T/m.err")"
grep -q '^receipt ok: total 10.00' "$T/m.txt" || fail "the good receipt: $(cat "$T/m.txt")"
echo "explain text ok"
