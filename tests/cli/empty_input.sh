#!/usr/bin/env bash
# An empty or misnamed input is an error (E027) for check, build and test, unless
# --allow-empty; `promo test --format=junit` writes well-formed JUnit even when the set
# does not compile (issue 13).
set -euo pipefail
PROMO=$1
SRC=$2
source "$SRC/tests/support/cli_prelude.bash"

mkdir -p "$T/empty" "$T/misnamed"
echo 'campaign a { then coupon "A" }' > "$T/misnamed/a.rules"   # not *.rule
echo '# only a comment' > "$T/comment.rule"
want_dir="$T/empty: error[E027]: no .rule files in this directory (--allow-empty to permit)"
for cmd in check test; do
  for d in empty misnamed; do
    set +e; "$PROMO" $cmd "$T/$d" 2> "$T/err"; rc=$?; set -e
    [ $rc -eq 1 ] || fail "$cmd $d: exit $rc, want 1"
    grep -qF "$T/$d: error[E027]: no .rule files in this directory" "$T/err" || fail "$cmd $d: $(cat "$T/err")"
  done
done
set +e; "$PROMO" check "$T/empty" 2> "$T/err"; rc=$?; set -e
[ "$(head -n1 "$T/err")" = "$want_dir" ] || fail "exact text: $(cat "$T/err")"
set +e; "$PROMO" build "$T/empty" -o "$T/x.pbc" 2> "$T/err"; rc=$?; set -e
[ $rc -eq 1 ] && [ ! -e "$T/x.pbc" ] || fail "build of an empty folder: exit $rc"
set +e; "$PROMO" check "$T/comment.rule" 2> "$T/err"; rc=$?; set -e
[ $rc -eq 1 ] || fail "comment-only file: exit $rc"
[ "$(cat "$T/err")" = "$T/comment.rule: error[E027]: no campaigns in 1 file: the bundle would switch every promotion off (--allow-empty to permit)" ] ||
  fail "comment-only: $(cat "$T/err")"
# --allow-empty permits it; the bundle has no campaign
"$PROMO" check --allow-empty "$T/empty"
"$PROMO" test --allow-empty "$T/empty" > "$T/out"
[ "$(cat "$T/out")" = "0 passed, 0 failed" ] || fail "test --allow-empty: $(cat "$T/out")"
"$PROMO" build --allow-empty "$T/comment.rule" -o "$T/e.pbc"
"$PROMO" disasm "$T/e.pbc" | grep -q "^0 campaigns" || fail "empty bundle: $("$PROMO" disasm "$T/e.pbc" | head -5)"
# A real set still passes
"$PROMO" check "$SRC/rules"

# JUnit on a compile error: well-formed, one test case in error carrying the diagnostic
printf 'campaign a "\x01 \xff" { then }\n' > "$T/bad.rule"
set +e; "$PROMO" test --format=junit "$T/bad.rule" > "$T/j.xml" 2>/dev/null; rc=$?; set -e
[ $rc -eq 1 ] || fail "junit compile error: exit $rc"
python3 - "$T/j.xml" <<'PY' || fail "JUnit not well-formed: $(cat "$T/j.xml")"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "testsuites" and root.get("errors") == "1", root.attrib
err = root.find("testsuite/testcase/error")
assert err is not None and "error[E004]: expected a reward, found '}'" in err.text, err.text
PY
set +e; "$PROMO" test --format=junit "$T/empty" > "$T/j2.xml" 2>/dev/null; set -e
python3 -c 'import sys, xml.etree.ElementTree as ET; ET.parse(sys.argv[1])' "$T/j2.xml" || fail "JUnit (empty)"
echo "empty input ok"
