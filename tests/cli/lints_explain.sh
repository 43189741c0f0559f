#!/usr/bin/env bash
# The lints of issue 13 (W005 bundle price, W006 dead spend_limit, W007 campaign without
# an example): each fires on a bad file, none on the whole catalog; did-you-mean and
# help lines end to end; `promo explain CODE` prints the page of docs/diagnostics.md.
set -euo pipefail
PROMO=$1
SRC=$2
source "$SRC/tests/support/cli_prelude.bash"

# Quiet on the catalog, even with every warning an error and examples required.
"$PROMO" check --werror --lint-examples "$SRC/rules" 2> "$T/err" || fail "catalog: $(cat "$T/err")"
[ ! -s "$T/err" ] || fail "catalog not quiet: $(cat "$T/err")"

cat > "$T/w.rule" <<'RULE'
campaign pet_food "Корм: 3 по цене 2" {
    priority 30
    then bundle 3 for 2 on lines where category "pet/food"
    example "three packs" {
        line sku "p1" category "pet/food" qty 3 price 100
        expect discount 298
    }
}
campaign points_30 { priority 20 then spend_limit 30% }
campaign vip_points_50 { priority 10 card "vip" then spend_limit 50% }
RULE
set +e; "$PROMO" check --format=json --lint-examples "$T/w.rule" > "$T/w.json"; rc=$?; set -e
[ $rc -eq 0 ] || fail "warnings only: exit $rc"
python3 - "$T/w.json" <<'PY' || fail "lints: $(cat "$T/w.json")"
import json, sys
d = json.load(open(sys.argv[1]))
got = [(x["code"], x["line"], x["column"]) for x in d]
want = [("W005", 3, 23), ("W007", 9, 10), ("W007", 10, 10), ("W006", 10, 54)]
assert got == want, got
w5 = d[0]
assert w5["message"] == "'bundle 3 for 2' sells 3 items for 2.00 in total, less than 1.00 each", w5
assert w5["help"] == "for 3 at the price of 2 write 'buy 2 get 1 free'", w5
assert d[3]["message"].startswith("the spend_limit of 'vip_points_50' can never apply: 'points_30'"), d[3]
PY
# without --lint-examples no W007; --werror makes the others fail the check
"$PROMO" check "$T/w.rule" 2> "$T/err"
! grep -q W007 "$T/err" || fail "W007 without the flag"
set +e; "$PROMO" check --werror "$T/w.rule" 2>/dev/null; rc=$?; set -e
[ $rc -eq 1 ] || fail "--werror: exit $rc"
# the bundle really sells three for 2.00: the example's discount proves what W005 says
"$PROMO" test "$T/w.rule" | tail -n1 | grep -qx '1 passed, 0 failed' || fail "W005 example"

# did-you-mean end to end: one error per mistake, caret under the word after Cyrillic
cat > "$T/typo.rule" <<'RULE'
campaign dairy "Молоко: 10%" { priorty 100 then discount 10% on lines where categroy "dairy" }
RULE
set +e; "$PROMO" check "$T/typo.rule" 2> "$T/err"; rc=$?; set -e
[ $rc -eq 1 ] || fail "typo: exit $rc"
cat > "$T/want" <<EOF2
$T/typo.rule:1:32: error[E004]: expected a clause or '}', found identifier 'priorty' (did you mean 'priority'?)
campaign dairy "Молоко: 10%" { priorty 100 then discount 10% on lines where categroy "dairy" }
                               ^~~~~~~
$T/typo.rule:1:77: error[E004]: unknown word 'categroy' (did you mean 'category'?)
campaign dairy "Молоко: 10%" { priorty 100 then discount 10% on lines where categroy "dairy" }
                                                                            ^~~~~~~~
EOF2
diff -u "$T/want" "$T/err" || fail "typo diagnostics"

# promo explain CODE
"$PROMO" explain W005 > "$T/x.md"
head -n1 "$T/x.md" | grep -qx "## W005 — bundle price below a unit's worth" || fail "explain W005: $(head -n2 "$T/x.md")"
grep -q '^\*\*Fix:\*\*' "$T/x.md" || fail "explain: no fix"
! grep -q '^## W006' "$T/x.md" || fail "explain: more than one section"
"$PROMO" explain e004 | head -n1 | grep -qx '## E004 — syntax error' || fail "explain e004"
set +e; "$PROMO" explain E999 2>/dev/null; rc=$?; set -e
[ $rc -eq 2 ] || fail "unknown code: exit $rc"
echo "lints and explain ok"
