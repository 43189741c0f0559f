#!/usr/bin/env bash
# promo check / build / disasm end to end: exit codes, where diagnostics go, a build
# with errors writes nothing (and leaves an older bundle alone), the written bundle is
# complete and lists, a corrupt bundle is refused with a one-line message.
set -euo pipefail
PROMO=$1
# shellcheck source=../support/cli_prelude.bash
source "$(dirname "${BASH_SOURCE[0]}")/../support/cli_prelude.bash"

mkdir -p "$T/set/sub"
cat > "$T/set/a.rule" <<'RULE'
group discounts
set dairy = category "dairy"
campaign dairy_10 "Dairy: 10% off from 500" {
    priority 100
    group discounts
    when sum(lines where dairy) >= 500
    then discount 10% on lines where dairy
}
RULE
cat > "$T/set/sub/b.rule" <<'RULE'
campaign welcome {
    active 2020-01-01 .. 2020-12-31
    then coupon "HELLO"
}
RULE
cat > "$T/bad.rule" <<'RULE'
campaign broken {
    when total >= "a lot"
    then points 1
}
RULE

# check: clean apart from the W003 lint; --werror turns it into a failure.
"$PROMO" check --today 2026-06-01 "$T/set" 2>"$T/err" || fail "check of a good set"
grep -q 'warning\[W003\]' "$T/err" || fail "W003 expected: $(cat "$T/err")"
set +e
"$PROMO" check --werror --today 2026-06-01 "$T/set" 2>/dev/null; rc=$?
set -e
[ $rc -eq 1 ] || fail "--werror exit $rc"

# errors: exit 1, text on stderr (nothing on stdout), json on stdout.
set +e
"$PROMO" check "$T/bad.rule" >"$T/out" 2>"$T/err"; rc=$?
set -e
[ $rc -eq 1 ] || fail "check of a bad file exit $rc"
[ ! -s "$T/out" ] || fail "text diagnostics on stdout"
grep -q 'bad.rule:2:10: error\[E008\]' "$T/err" || fail "diagnostic: $(cat "$T/err")"
set +e
"$PROMO" check --format=json "$T/bad.rule" >"$T/out" 2>/dev/null; rc=$?
set -e
[ $rc -eq 1 ] || fail "json exit $rc"
grep -q '"code":"E008"' "$T/out" || fail "json: $(cat "$T/out")"
"$PROMO" check --format=sarif "$T/set" >"$T/out" 2>/dev/null
grep -q '"version":"2.1.0"' "$T/out" || fail "sarif"

# usage and I/O errors: exit 2.
for args in "check" "check --bogus $T/set" "build $T/set" "check --today 2026-02-30 $T/set" \
    "check $T/missing.rule" "disasm" "disasm $T/missing.pbc"; do
    set +e
    # shellcheck disable=SC2086
    "$PROMO" $args >/dev/null 2>&1; rc=$?
    set -e
    [ $rc -eq 2 ] || fail "'promo $args' exit $rc, expected 2"
done
for cmd in check build disasm; do
    "$PROMO" $cmd --help | grep -q "usage: promo $cmd" || fail "$cmd --help"
done

# build: writes a verified bundle; disasm lists both campaigns in evaluation order.
"$PROMO" build "$T/set" -o "$T/set.pbc" 2>/dev/null || fail "build"
[ -s "$T/set.pbc" ] || fail "no bundle written"
ls "$T" | grep -q '\.tmp\.' && fail "temporary file left behind"
"$PROMO" disasm "$T/set.pbc" >"$T/list"
head -1 "$T/list" | grep -q "^promo bundle format 5, $(stat -c %s "$T/set.pbc") bytes" || fail "header line"
grep -q '^campaign 0: dairy_10 "Dairy: 10% off from 500"$' "$T/list" || fail "campaign 0"
grep -q '^campaign 1: welcome$' "$T/list" || fail "campaign 1"
grep -q 'L_CAT_IN .*; {"dairy"}' "$T/list" || fail "category set"

# The same sources named in another order give the same bytes.
"$PROMO" build "$T/set/sub/b.rule" "$T/set/a.rule" -o "$T/again.pbc" 2>/dev/null
cmp -s "$T/set.pbc" "$T/again.pbc" || fail "file order changed the bundle"

# A build with errors writes nothing and keeps the previous bundle.
cp "$T/set.pbc" "$T/keep.pbc"
set +e
"$PROMO" build "$T/set" "$T/bad.rule" -o "$T/keep.pbc" 2>/dev/null; rc=$?
set -e
[ $rc -eq 1 ] || fail "build with errors exit $rc"
cmp -s "$T/set.pbc" "$T/keep.pbc" || fail "a failed build touched the old bundle"
set +e
"$PROMO" build "$T/bad.rule" -o "$T/none.pbc" 2>/dev/null
set -e
[ ! -e "$T/none.pbc" ] || fail "a failed build wrote a bundle"

# A corrupt bundle: exit 1 and one precise line.
head -c 200 "$T/set.pbc" >"$T/cut.pbc"
set +e
"$PROMO" disasm "$T/cut.pbc" >/dev/null 2>"$T/err"; rc=$?
set -e
[ $rc -eq 1 ] || fail "disasm of a truncated bundle exit $rc"
[ "$(wc -l <"$T/err")" -eq 1 ] || fail "more than one line: $(cat "$T/err")"
grep -q "cut.pbc: bundle: truncated or padded: header says $(stat -c %s "$T/set.pbc") bytes, got 200" "$T/err" ||
    fail "message: $(cat "$T/err")"
echo "ok"
