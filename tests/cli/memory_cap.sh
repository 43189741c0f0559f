#!/usr/bin/env bash
# `promo run --max-customers N` (docs/io.md "Memory"): without --state the in-memory
# store holds at most N customers; a receipt of one more gets an error record in its
# place (nothing committed for it), customers already held go on being counted, and a
# customer whose counters no window of the bundle can read any more is dropped and no
# longer counts against N.
#   tests/cli/memory_cap.sh PROMO_BINARY SOURCE_DIR
set -euo pipefail
PROMO=$1
# shellcheck source=../support/cli_prelude.bash
source "$(dirname "${BASH_SOURCE[0]}")/../support/cli_prelude.bash"

cat > "$T/set.rule" <<'RULE'
campaign loyal { when history.visits(7 days) >= 2 then discount 10% on lines }
RULE
"$PROMO" build "$T/set.rule" -o "$T/set.pbc" >/dev/null

line() { # id customer date
  printf '{"id":"%s","time":"%sT10:00","customer":{"id":"%s"},"lines":[{"sku":"1","qty":1,"price":100}]}\n' "$1" "$3" "$2"
}
{
  line r1 a 2026-06-01
  line r2 b 2026-06-01
  line r3 c 2026-06-01   # a third customer: refused
  line r4 a 2026-06-02   # a second visit of a: 10.00 off
  line r5 c 2027-08-01   # 14 months later (> 7 + 366 days): a and b can no longer be
                         # read, c fits
} > "$T/in.jsonl"
"$PROMO" run -q --threads 1 --max-customers 2 "$T/set.pbc" "$T/in.jsonl" > "$T/out.jsonl" ||
  fail "promo run --max-customers exited $?"
[ "$(wc -l < "$T/out.jsonl")" -eq 5 ] || fail "not one output line per input line"
sed -n 3p "$T/out.jsonl" | grep -q '"id":"r3","error":"line 3: state store: full' ||
  fail "the third customer was not refused: $(sed -n 3p "$T/out.jsonl")"
sed -n 4p "$T/out.jsonl" | grep -q '"discount":10.00' ||
  fail "a held customer lost its history: $(sed -n 4p "$T/out.jsonl")"
sed -n 5p "$T/out.jsonl" | grep -q '"error"' &&
  fail "a customer was refused although the others can no longer be read: $(sed -n 5p "$T/out.jsonl")"
# Without the cap nobody is refused; with --state the option is refused.
"$PROMO" run -q --threads 1 "$T/set.pbc" "$T/in.jsonl" | grep -q '"error"' &&
  fail "an error record without --max-customers"
if "$PROMO" run -q --max-customers 2 --state "$T/st" "$T/set.pbc" "$T/in.jsonl" >/dev/null 2>&1; then
  fail "--max-customers with --state was accepted"
fi
echo "memory cap ok"
