#!/usr/bin/env bash
# The return window end to end (SPEC 7.2, docs/semantics.md "Return window"): a
# `promo run --state --return-window 30` over four months of receipts in date order.
#   - an entry expires when its cnow (the store's now just after its confirm; here its
#     date) is more than 30 days before the latest confirmed receipt's date; pruning
#     replaces it by a tombstone; the counters, history and budgets keep their effect
#     (equal to a run that prunes nothing), and `promo state verify` still passes;
#   - a return or cancel of an expired receipt, and a repeat of one (its stored result
#     no longer kept), are error records that change nothing; a late NEW receipt dated
#     before the window is confirmed normally and can be returned; a return inside the
#     window still works, to the kopeck;
#   - the whole stream again on the same store applies nothing twice;
#   - the in-memory store ("op" lines without --state) answers the same, line for line.
#   tests/cli/state_window.sh PROMO_BINARY SOURCE_DIR
set -euo pipefail
PROMO=$1
# shellcheck source=../support/cli_prelude.bash
source "$(dirname "${BASH_SOURCE[0]}")/../support/cli_prelude.bash"

cat > "$T/set.rule" <<'RULE'
campaign dairy_10 {
    priority 30
    then discount 10% on lines where category "dairy"
    budget 1000000
}
campaign pts {
    priority 20
    then points 5% of paid
    budget 1000000
}
campaign monthly {
    priority 10
    then coupon "M"
    limit 1 per customer per month
}
RULE
"$PROMO" build "$T/set.rule" -o "$T/set.pbc" || fail "promo build"

# One receipt a day of customer c1, 2026-01-01 .. 2026-04-30: 3 x 100.00 of dairy and
# 1 x 50.01 of bread (320.01 paid, 16.00 points, 30.00 of dairy_10's budget).
python3 - "$T" <<'PY'
import datetime, json, sys
t = sys.argv[1]
d0 = datetime.date(2026, 1, 1)
with open(t + "/stream.jsonl", "w") as f:
    for i in range(120):
        d = d0 + datetime.timedelta(days=i)
        f.write(json.dumps({"op": "confirm", "id": "r%s" % d, "time": "%sT10:00:00" % d,
                            "customer": {"id": "c1"},
                            "lines": [{"sku": "1", "category": "dairy/milk", "qty": 3, "price": 100},
                                      {"sku": "2", "category": "bread", "qty": 1, "price": 50.01}]},
                           separators=(",", ":")) + "\n")
PY
# After the stream (latest receipt 2026-04-30, the window starts at 2026-03-31):
cat > "$T/late.jsonl" <<'EOF'
{"op":"return","id":"r2026-03-30","refund_id":"f1","lines":[{"n":0,"qty":1}]}
{"op":"cancel","id":"r2026-01-05"}
{"op":"confirm","id":"r2026-03-01","time":"2026-03-01T10:00:00","customer":{"id":"c1"},"lines":[{"sku":"1","category":"dairy/milk","qty":3,"price":100},{"sku":"2","category":"bread","qty":1,"price":50.01}]}
{"op":"confirm","id":"new-old","time":"2026-03-30T23:00:00","customer":{"id":"c1"},"lines":[{"sku":"2","category":"bread","qty":1,"price":1}]}
{"op":"return","id":"r2026-03-31","refund_id":"f2","lines":[{"n":0,"qty":1}]}
{"op":"return","id":"new-old","refund_id":"f3","lines":[{"n":0,"qty":1}]}
EOF

state() { "$PROMO" state "$@"; }

# ---- pruning changes no counter -------------------------------------------------------
"$PROMO" run -q --state "$T/w30" --return-window 30 "$T/set.pbc" "$T/stream.jsonl" > "$T/w30.out" ||
    fail "run (window 30)"
"$PROMO" run -q --state "$T/wall" --return-window 36500 "$T/set.pbc" "$T/stream.jsonl" \
    > "$T/wall.out" || fail "run (window 36500)"
cmp -s "$T/w30.out" "$T/wall.out" || fail "the window changed results of confirms inside it"
! grep -q '"error"' "$T/w30.out" || fail "a confirm was refused: $(grep -m1 error "$T/w30.out")"
state customer "$T/w30" c1 --json > "$T/c30.json"
state customer "$T/wall" c1 --json > "$T/call.json"
cmp -s "$T/c30.json" "$T/call.json" || fail "pruning changed the customer's counters"
state budgets "$T/w30" --bundle "$T/set.pbc" > "$T/b30.txt"
state budgets "$T/wall" --bundle "$T/set.pbc" > "$T/ball.txt"
cmp -s "$T/b30.txt" "$T/ball.txt" || fail "pruning changed the budgets"
grep -q "dairy_10 *spent 3600.00 of 1000000.00" "$T/b30.txt" || fail "budgets: $(cat "$T/b30.txt")"
# the journal: tombstones before 2026-03-31, entries from it on (and everything without
# pruning)
state receipt "$T/w30" r2026-03-30 | grep -q '"pruned":true' || fail "2026-03-30 was not pruned"
state receipt "$T/w30" r2026-01-01 | grep -q '"pruned":true' || fail "2026-01-01 was not pruned"
state receipt "$T/w30" r2026-03-31 | grep -q '"lines"' || fail "the entry of 2026-03-31 is gone"
state receipt "$T/wall" r2026-01-01 | grep -q '"lines"' || fail "a 100-year window pruned"
state verify "$T/w30" > "$T/verify.txt" || { cat "$T/verify.txt"; fail "verify after pruning"; }
grep -q "journal pruned before 2026-03-31 (return window, 89 tombstones)" "$T/verify.txt" &&
    grep -q "^31 journal entries, 1 customers, 2 budgets: 0 problems" "$T/verify.txt" ||
    fail "window 30, want 31 entries (2026-03-31 .. 04-30), 89 tombstones: $(cat "$T/verify.txt")"

# ---- past the window: error records, nothing changed; a late new receipt confirmed ------
"$PROMO" run -q --state "$T/w30" --return-window 30 "$T/set.pbc" "$T/late.jsonl" > "$T/late.out" ||
    fail "late run"
expect=$(cat <<'EOF'
{"id":"r2026-03-30","error":"line 1: id: the receipt of 2026-03-30 is past the return window: nothing reversed"}
{"id":"r2026-01-05","error":"line 2: id: the receipt of 2026-01-05 is past the return window: nothing reversed"}
{"id":"r2026-03-01","error":"line 3: id: already confirmed (receipt of 2026-03-01); its stored result is no longer kept (past the return window): not confirmed again"}
EOF
)
[ "$(head -n 3 "$T/late.out")" = "$expect" ] || fail "late run: $(head -n 3 "$T/late.out")"
# the late new receipt (2026-03-30, before the window): confirmed, 5% of 1.00 in points
sed -n 4p "$T/late.out" | grep -q '^{"id":"new-old",.*"points":\[{"campaign":"pts","points":0.05' ||
    fail "late new receipt: $(sed -n 4p "$T/late.out")"
! sed -n 4p "$T/late.out" | grep -q '"error"\|"duplicate"' || fail "late new receipt: not new"
# the return inside the window: 90.00 back, 4.50 points (5% of 90.00) back
sed -n 5p "$T/late.out" | grep -q '"state":"partially_returned","refund":90.00,"refunds":\[{"n":0,"qty":1,"refund":90.00}\],"points":\[{"campaign":"pts","points":-4.50}\]' ||
    fail "return inside the window: $(sed -n 5p "$T/late.out")"
# the late receipt is returnable (its cnow is 2026-04-30): 1.00 and its 0.05 points back
sed -n 6p "$T/late.out" | grep -q '"state":"returned","refund":1.00,.*"points":\[{"campaign":"pts","points":-0.05}\]' ||
    fail "return of the late receipt: $(sed -n 6p "$T/late.out")"
state budgets "$T/w30" --bundle "$T/set.pbc" > "$T/b30b.txt"
grep -q "dairy_10 *spent 3590.00 of 1000000.00" "$T/b30b.txt" || fail "after: $(cat "$T/b30b.txt")"
grep -q "pts *spent 1915.50 of 1000000.00" "$T/b30b.txt" || fail "after: $(cat "$T/b30b.txt")"
state verify "$T/w30" > "$T/verify.txt" || { cat "$T/verify.txt"; fail "verify after the late run"; }

# ---- the whole stream again: nothing applied twice --------------------------------------
state customer "$T/w30" c1 --json > "$T/before.json"
"$PROMO" run -q --state "$T/w30" --return-window 30 "$T/set.pbc" "$T/stream.jsonl" > "$T/again.out" ||
    fail "second run"
refused=$(grep -c 'its stored result is no longer kept' "$T/again.out" || true)
dups=$(grep -c '"duplicate":true' "$T/again.out" || true)
[ "$refused" -eq 89 ] && [ "$dups" -eq 31 ] || fail "second run: $refused refused, $dups duplicates"
[ "$(grep -c . "$T/again.out")" -eq 120 ] || fail "second run: $(grep -c . "$T/again.out") lines"
state customer "$T/w30" c1 --json | cmp -s - "$T/before.json" || fail "the second run changed c1"
state budgets "$T/w30" --bundle "$T/set.pbc" | cmp -s - "$T/b30b.txt" || fail "... or a budget"

# ---- the in-memory store answers the same -----------------------------------------------
cat "$T/stream.jsonl" "$T/late.jsonl" > "$T/all.jsonl"
"$PROMO" run -q --return-window 30 "$T/set.pbc" "$T/all.jsonl" > "$T/mem.out" || fail "memory run"
"$PROMO" run -q --state "$T/fresh" --return-window 30 "$T/set.pbc" "$T/all.jsonl" > "$T/lm.out" ||
    fail "fresh run"
cmp -s "$T/mem.out" "$T/lm.out" || fail "memory and LMDB stores differ: $(diff "$T/mem.out" "$T/lm.out" | head -5)"
echo "state_window: ok"
