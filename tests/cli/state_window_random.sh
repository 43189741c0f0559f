#!/usr/bin/env bash
# The default return window (180 days) on a stream in random date order (SPEC 7.2,
# docs/semantics.md "Return window"), as outside checkers and our generator send them:
# receipts spread over a whole year, shuffled. An entry expires by its cnow (the store's
# now just after its confirm), and now jumps to the year's end at once, so:
#   - `promo run --state` with the default window gives no error record at all and the
#     same output as the in-memory run, line for line; verify is clean;
#   - the same input again gives every receipt's stored result marked duplicate, except
#     the few confirmed while now was still early (expired since), which get the
#     "no longer kept" error record; nothing is applied twice.
# The workload is promo-gen's 400-campaign one when promo-gen is built next to promo,
# else a shuffled year of a small campaign set (so that the ASan build runs it too).
#   tests/cli/state_window_random.sh PROMO_BINARY SOURCE_DIR
set -euo pipefail
PROMO=$1
# shellcheck source=../support/cli_prelude.bash
source "$(dirname "${BASH_SOURCE[0]}")/../support/cli_prelude.bash"

GEN="$(dirname "$PROMO")/bench/promo-gen"
if [ -x "$GEN" ]; then
    "$GEN" --seed 1 --campaigns 400 --receipts 20000 --out "$T/w" --quiet
    "$PROMO" build "$T/w/rules" -o "$T/set.pbc" 2> /dev/null || fail "promo build (generated)"
    IN=$T/w/receipts.jsonl
else
    cat > "$T/set.rule" <<'RULE'
campaign bread_off {
    priority 25
    then discount 7% on lines where category "bread"
    budget 50000
}
campaign weekly_pts {
    priority 15
    then points 3% of paid
    limit 1 per customer per week
}
RULE
    "$PROMO" build "$T/set.rule" -o "$T/set.pbc" || fail "promo build"
    python3 - "$T/in.jsonl" <<'PY'
import datetime, json, random, sys
rnd = random.Random(1)
d0 = datetime.date(2026, 1, 1)
rows = []
for i in range(5000):
    d = d0 + datetime.timedelta(days=rnd.randrange(365))
    rows.append({"id": "r%d" % i, "time": "%sT10:00:00" % d,
                 "customer": {"id": "c%d" % rnd.randrange(300)},
                 "lines": [{"sku": "1", "category": "dairy/milk", "qty": rnd.randrange(1, 4),
                            "price": 100},
                           {"sku": "2", "category": "bread", "qty": 1, "price": 50.01}]})
with open(sys.argv[1], "w") as f:
    for r in rows:
        f.write(json.dumps(r, separators=(",", ":")) + "\n")
PY
    IN=$T/in.jsonl
fi
N=$(grep -c . "$IN")

"$PROMO" run -q --threads 2 "$T/set.pbc" "$IN" > "$T/mem.out" || fail "in-memory run"
"$PROMO" run -q --threads 2 --state "$T/st" "$T/set.pbc" "$IN" > "$T/st.out" || fail "--state run"
errors=$(grep -c '"error"' "$T/st.out" || true)
[ "$errors" -eq 0 ] || fail "$errors error records, first: $(grep -m1 '"error"' "$T/st.out")"
cmp -s "$T/mem.out" "$T/st.out" ||
    fail "--state and in-memory differ: $(diff "$T/mem.out" "$T/st.out" | head -4)"
"$PROMO" state verify "$T/st" > "$T/verify.txt" || { cat "$T/verify.txt"; fail "verify"; }

# the same input again: duplicates, and the error record for the few expired ones
"$PROMO" state budgets "$T/st" --bundle "$T/set.pbc" > "$T/b1.txt"
"$PROMO" run -q --threads 2 --state "$T/st" "$T/set.pbc" "$IN" > "$T/again.out" || fail "again"
dups=$(grep -c '"duplicate":true' "$T/again.out" || true)
gone=$(grep -c 'its stored result is no longer kept (past the return window)' "$T/again.out" || true)
[ "$(grep -c . "$T/again.out")" -eq "$N" ] && [ $((dups + gone)) -eq "$N" ] ||
    fail "again: $N lines, $dups duplicates, $gone expired: $(grep -v '"duplicate":true' "$T/again.out" | grep -v 'no longer kept' | head -2)"
[ "$gone" -lt $((N / 100)) ] || fail "again: $gone of $N expired (a random-order year)"
"$PROMO" state budgets "$T/st" --bundle "$T/set.pbc" | cmp -s - "$T/b1.txt" ||
    fail "the second run changed a budget"
"$PROMO" state verify "$T/st" > "$T/verify.txt" || { cat "$T/verify.txt"; fail "verify again"; }
# the duplicates are the first run's results, marked (line for line)
python3 - "$T/st.out" "$T/again.out" <<'PY' || fail "a duplicate is not the stored result"
import sys
first, again = open(sys.argv[1]).readlines(), open(sys.argv[2]).readlines()
for a, b in zip(first, again):
    if "no longer kept" not in b and b.replace(',"duplicate":true', "", 1) != a:
        sys.exit("first: %s\nagain: %s" % (a[:200], b[:200]))
PY
echo "state_window_random: ok ($N receipts, $gone expired by the rerun)"
