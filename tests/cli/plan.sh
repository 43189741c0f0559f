#!/usr/bin/env bash
# promo plan (issue 13): on two bundles of the catalog and a generated 20k-receipt
# stream, the per-campaign totals of `promo plan --format=json` equal the sums over
# the outputs of `promo run` with each bundle (receipts applied, discount, points, to
# the kopeck), as do the totals, the count of receipts that change and the top
# receipt; `promo run --report` gives the old side's table; --fail-over sets the exit
# status. With promo-gen next to promo (a build with the benchmarks), the same on a
# generated campaign set with two priorities swapped.
set -euo pipefail
PROMO=$1
SRC=$2
source "$SRC/tests/support/cli_prelude.bash"

cp -r "$SRC/rules/catalog" "$T/new"
# the changes under review: staff discount demoted, a campaign retired, one added
sed -i 's/^    priority [0-9]*/    priority 1/' "$T/new/14_employee.rule"
rm "$T/new/24_gift_message.rule"
cat > "$T/new/99_spring.rule" <<'RULE'
campaign spring_5 "Spring: 5% from 1000" {
    priority 2
    when     total >= 1000
    then     discount 5% on receipt
}
RULE
"$PROMO" build "$SRC/rules/catalog" -o "$T/old.pbc"
"$PROMO" build "$T/new" -o "$T/new.pbc"
python3 "$SRC/tests/tools/catalog_stream.py" 20000 13 "$SRC/rules/catalog" > "$T/r.jsonl"

check_plan() { # OLD NEW RECEIPTS: plan vs sums over promo run
  "$PROMO" plan --format=json --top 5 "$1" "$2" "$3" > "$T/plan.json"
  "$PROMO" run "$1" "$3" > "$T/old.out"
  "$PROMO" run "$2" "$3" > "$T/new.out"
  python3 - "$T/plan.json" "$T/old.out" "$T/new.out" <<'PY'
import json, sys
from collections import defaultdict
from decimal import Decimal as D
plan = json.load(open(sys.argv[1]), parse_float=D)
def sums(path):
    rec, disc, pts = defaultdict(int), defaultdict(D), defaultdict(D)
    per = {}
    for line in open(path):
        r = json.loads(line, parse_float=D)
        if "error" in r:
            continue
        for c in r["applied"]:
            rec[c] += 1
        for l in r["lines"]:
            for c, a in l["by"].items():
                disc[c] += a
        for p in r["points"]:
            pts[p["campaign"]] += p["points"]
        per[r["id"]] = (r["discount"], sum((p["points"] for p in r["points"]), D(0)))
    return rec, disc, pts, per
o, n = sums(sys.argv[2]), sums(sys.argv[3])
assert plan["receipts"] == len(o[3]) == len(n[3]), (plan["receipts"], len(o[3]))
for c in plan["campaigns"]:
    i = c["id"]
    for side, s in (("old", o), ("new", n)):
        assert c["receipts"][side] == s[0][i], (i, side, c["receipts"], s[0][i])
        assert c["discount"][side] == s[1][i], (i, side, c["discount"], s[1][i])
        assert c["points"][side] == s[2][i], (i, side, c["points"], s[2][i])
    assert c["discount"]["delta"] == c["discount"]["new"] - c["discount"]["old"]
ids = {c["id"] for c in plan["campaigns"]}
assert ids >= set(o[0]) | set(n[0]) | set(o[1]) | set(n[1]), "a campaign is missing"
for side, s in (("old", o), ("new", n)):
    assert plan["total"]["discount"][side] == sum(v[0] for v in s[3].values()), side
    assert plan["total"]["points"][side] == sum(v[1] for v in s[3].values()), side
changed = [k for k in o[3] if o[3][k] != n[3][k]]
assert plan["changed_receipts"] == len(changed), (plan["changed_receipts"], len(changed))
key = lambda k: abs(n[3][k][0] - o[3][k][0]) + abs(n[3][k][1] - o[3][k][1])
if changed:
    top = plan["top_receipts"][0]
    assert key(top["id"]) == max(key(k) for k in changed), top
    assert top["discount"]["old"] == o[3][top["id"]][0] and top["discount"]["new"] == n[3][top["id"]][0]
print("plan = run sums over %d receipts, %d campaigns, %d changed receipts"
      % (plan["receipts"], len(plan["campaigns"]), len(changed)))
PY
}
check_plan "$T/old.pbc" "$T/new.pbc" "$T/r.jsonl"
# the statuses of the changed set
python3 - "$T/plan.json" <<'PY'
import json, sys
p = {c["id"]: c for c in json.load(open(sys.argv[1]))["campaigns"]}
assert p["spring_5"]["status"] == "added" and p["spring_5"]["receipts"]["old"] == 0
assert p["gift_tote_bag"]["status"] == "removed" and p["gift_tote_bag"]["receipts"]["new"] == 0
assert p["spring_5"]["receipts"]["new"] > 1000, p["spring_5"]
PY

# text: the totals and the sections are there
"$PROMO" plan "$T/old.pbc" "$T/new.pbc" "$T/r.jsonl" > "$T/plan.txt"
grep -q '^promo plan: 20000 receipts' "$T/plan.txt" || fail "text head: $(head -3 "$T/plan.txt")"
grep -q '^  spring_5 (added)$' "$T/plan.txt" || fail "text: added campaign"
grep -q '^receipts that change most:' "$T/plan.txt" || fail "text: top receipts"
grep -q '^who blocked whom' "$T/plan.txt" || true

# --fail-over: 1 when the discount moves by more, 0 otherwise
set +e
"$PROMO" plan --fail-over 100 "$T/old.pbc" "$T/new.pbc" "$T/r.jsonl" > /dev/null 2>&1; rc1=$?
"$PROMO" plan --fail-over 999999999 "$T/old.pbc" "$T/new.pbc" "$T/r.jsonl" > /dev/null 2>&1; rc2=$?
"$PROMO" plan --fail-over 0 "$T/old.pbc" "$T/old.pbc" "$T/r.jsonl" > /dev/null 2>&1; rc3=$?
set -e
[ "$rc1/$rc2/$rc3" = "1/0/0" ] || fail "--fail-over exits: $rc1/$rc2/$rc3"

# promo run --report: the same per-campaign numbers as the old side of the plan
"$PROMO" run --report "$T/old.pbc" "$T/r.jsonl" 2> "$T/report.txt" > /dev/null
python3 - "$T/report.txt" "$T/plan.json" <<'PY'
import json, sys
from decimal import Decimal as D
plan = {c["id"]: c for c in json.load(open(sys.argv[2]), parse_float=D)["campaigns"]}
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
assert rows[0][:4] == ["campaign", "receipts", "discount", "points"], rows[0]
n = 0
for r in rows[1:]:
    if r[0] == "total" or r[0] not in plan:
        continue
    c = plan[r[0]]
    assert int(r[1]) == c["receipts"]["old"] and D(r[2]) == c["discount"]["old"] and D(r[3]) == c["points"]["old"], (r, c)
    n += 1
assert n >= 40, n
PY

# a generated campaign set (promo-gen, when built) with two priorities swapped
GEN="$(dirname "$PROMO")/bench/promo-gen"
if [ -x "$GEN" ]; then
  "$GEN" --seed 7 --campaigns 60 --receipts 20000 --out "$T/gen" --quiet
  "$PROMO" build "$T/gen/rules" -o "$T/g_old.pbc"
  mapfile -t pr < <(grep -ho 'priority [0-9]*' "$T/gen/rules/10_discounts.rule" | head -2 | awk '{print $2}')
  sed -i "s/priority ${pr[0]}\$/priority TMPX/; s/priority ${pr[1]}\$/priority ${pr[0]}/; s/priority TMPX\$/priority ${pr[1]}/" "$T/gen/rules/10_discounts.rule"
  "$PROMO" build "$T/gen/rules" -o "$T/g_new.pbc"
  check_plan "$T/g_old.pbc" "$T/g_new.pbc" "$T/gen/receipts.jsonl"
fi
echo "plan ok"
