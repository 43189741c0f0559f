#!/usr/bin/env bash
# promo test --filter, -v, --coverage, --min-coverage (issue 13).
set -euo pipefail
PROMO=$1
SRC=$2
source "$SRC/tests/support/cli_prelude.bash"

cat > "$T/s.rule" <<'RULE'
campaign tea_5 "Tea -5%" {
    priority 3
    then discount 5% on lines where category "tea"
    example "one tea" {
        line sku "t" category "tea" qty 1 price 100
        expect discount 5
    }
    example "wrong on purpose" {
        line sku "t" category "tea" qty 1 price 100
        expect discount 6
    }
}
campaign coffee_10 "Coffee -10%" {
    priority 2
    then discount 10% on lines where category "coffee"
    example "no coffee" {
        line sku "t" category "tea" qty 1 price 100
        expect not applied coffee_10
    }
}
campaign never { priority 1 when total > 1000000 then coupon "BIG" }
RULE
# -v lists every example; failures keep their report
set +e; "$PROMO" test -v "$T/s.rule" > "$T/out"; rc=$?; set -e
[ $rc -eq 1 ] || fail "-v: exit $rc"
grep -qx "ok   $T/s.rule:4: tea_5: one tea" "$T/out" || fail "-v ok line: $(cat "$T/out")"
grep -qx "FAIL $T/s.rule:8: tea_5: wrong on purpose" "$T/out" || fail "-v FAIL line"
grep -qx "ok   $T/s.rule:16: coffee_10: no coffee" "$T/out" || fail "-v ok line 2"
[ "$(tail -n1 "$T/out")" = "2 passed, 1 failed" ] || fail "-v summary"
# --filter by campaign id or example name
"$PROMO" test --filter coffee "$T/s.rule" | tail -n1 | grep -qx '1 passed, 0 failed' || fail "filter by id"
"$PROMO" test --filter="one tea" "$T/s.rule" | tail -n1 | grep -qx '1 passed, 0 failed' || fail "filter by name"
"$PROMO" test --filter nothing-matches "$T/s.rule" | tail -n1 | grep -qx '0 passed, 0 failed' || fail "filter none"
# --coverage: coffee_10 and never are applied by no example
"$PROMO" test --coverage --filter one "$T/s.rule" > "$T/cov"
grep -qx 'coverage: 1/3 campaigns (33%) applied by some example' "$T/cov" || fail "coverage: $(cat "$T/cov")"
grep -qx '  never applied: coffee_10' "$T/cov" || fail "coverage list"
grep -qx '  never applied: never' "$T/cov" || fail "coverage list 2"
set +e
"$PROMO" test --filter one --min-coverage 34 "$T/s.rule" > /dev/null 2> "$T/err"; rc1=$?
"$PROMO" test --filter one --min-coverage 33 "$T/s.rule" > /dev/null 2>&1; rc2=$?
"$PROMO" test --min-coverage 101 "$T/s.rule" > /dev/null 2>&1; rc3=$?
set -e
[ "$rc1/$rc2/$rc3" = "1/0/2" ] || fail "--min-coverage exits: $rc1/$rc2/$rc3"
grep -q 'coverage 1/3 is below --min-coverage 34%' "$T/err" || fail "min-coverage message"
# the catalog: every campaign applied by some example
"$PROMO" test --min-coverage 100 "$SRC/rules" | tail -n2 | head -n1 | grep -q '(100%)' || fail "catalog coverage"
echo "test options ok"
