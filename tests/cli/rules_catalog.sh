#!/usr/bin/env bash
# The catalog in rules/ compiles without a warning and all its examples pass;
# a wrong expectation fails with a readable diff.
set -euo pipefail
PROMO=$1
SRC=$2
"$PROMO" check --werror "$SRC/rules"
out=$("$PROMO" test "$SRC/rules")
echo "$out" | tail -n 3
last=$(tail -n 1 <<<"$out")
[[ "$last" =~ ^([0-9]+)\ passed,\ 0\ failed$ ]] || { echo "catalog examples failed"; echo "$out"; exit 1; }
[ "${BASH_REMATCH[1]}" -ge 80 ] || { echo "expected at least 80 examples, got ${BASH_REMATCH[1]}"; exit 1; }

set +e
bad=$("$PROMO" test "$SRC/tests/fixtures/wrong_expect.rule")
rc=$?
set -e
echo "$bad"
[ $rc -eq 1 ] || { echo "a wrong expectation must exit 1 (got $rc)"; exit 1; }
grep -q 'wrong_expect.rule:13: example "wrong on purpose" of milk_10 failed' <<<"$bad"
grep -q 'expected: 18.00 on "m1"' <<<"$bad"
grep -q 'actual:   17.98 on "m1"' <<<"$bad"
grep -q 'milk_10: applied' <<<"$bad"
[ "$(tail -n 1 <<<"$bad")" = "1 passed, 1 failed" ]

# JUnit output for CI systems.
set +e
"$PROMO" test --format=junit "$SRC/tests/fixtures/wrong_expect.rule" > /tmp/promo_junit.$$.xml
set -e
grep -q '<testsuites tests="2" failures="1">' /tmp/promo_junit.$$.xml
grep -q '<failure message="example failed">' /tmp/promo_junit.$$.xml
rm -f /tmp/promo_junit.$$.xml
echo "rules catalog ok"
