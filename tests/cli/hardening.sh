#!/usr/bin/env bash
# Hardening and fault injection (issue 10): every input bounded, every fault reported,
# graceful shutdown. Each block is a reproducer of a defect found by an outside probe.
#   tests/cli/hardening.sh PROMO_BINARY SOURCE_DIR
set -uo pipefail
PROMO=$1
SRC=$2
# shellcheck source=../support/cli_prelude.bash
source "$(dirname "${BASH_SOURCE[0]}")/../support/cli_prelude.bash"

cat > "$T/set.rule" <<'RULE'
campaign dairy_10 "Dairy: 10% off" {
    priority 100
    then discount 10% on lines where category "dairy"
    budget 1000
}
RULE
"$PROMO" build "$T/set.rule" -o "$T/set.pbc" || fail "build"
good='{"id":"g","time":"2026-06-05T10:00","lines":[{"sku":"1","category":"dairy/milk","qty":1,"price":100}]}'

# ---- 10.1 a nesting bomb is one error record, the stream goes on, exit 0 -------------
python3 - > "$T/bomb.jsonl" <<'PY'
print('{"id":"a","time":"2026-06-05T10:00","lines":[]}')
print('{"id":"d","time":"2026-06-05T10:00","lines":[],"x":' + '[' * 100000 + ']' * 100000 + '}')
print('{"time":"2026-06-05T10:00","lines":[],"x":' + '{"a":' * 50000 + '1' + '}' * 50000 + ',"id":"e"}')
print('{"id":"z","time":"2026-06-05T10:00","lines":[]}')
PY
"$PROMO" run -q "$T/set.pbc" "$T/bomb.jsonl" > "$T/out" 2> "$T/err"
rc=$?
[ $rc -eq 0 ] || fail "nesting bomb: exit $rc"
[ "$(wc -l < "$T/out")" -eq 4 ] || fail "nesting bomb: not one line per input line"
grep -q '^{"id":"d","error":"line 2: invalid JSON: nested deeper than 64 levels' "$T/out" || fail "bomb record"
grep -q '^{"id":"e","error":"line 3: invalid JSON: nested deeper than 64 levels' "$T/out" || fail "bomb record 2"
grep -q '^{"id":"z",' "$T/out" || fail "the stream did not go on"

# ---- 10.3 write errors: exit 2 in every command, the last flush included ---------------
[ -w /dev/full ] || fail "/dev/full is needed"
printf '%s\n' "$good" "$good" > "$T/two.jsonl"
expect2() { # expect2 NAME CMD... : stdout to /dev/full -> exit 2 and a message
    local name=$1 rc
    shift
    "$@" > /dev/full 2> "$T/werr"
    rc=$?
    [ $rc -eq 2 ] || fail "$name to /dev/full: exit $rc"
    grep -qi 'write error' "$T/werr" || fail "$name: no message: $(cat "$T/werr")"
}
expect2 run "$PROMO" run -q "$T/set.pbc" "$T/two.jsonl"
expect2 run-batch1 "$PROMO" run -q --batch 1 "$T/set.pbc" "$T/two.jsonl"
expect2 disasm "$PROMO" disasm "$T/set.pbc"
expect2 test "$PROMO" test "$SRC/rules"
expect2 test-junit "$PROMO" test --format=junit "$SRC/rules"
expect2 check-json "$PROMO" check --format=json "$SRC/rules"
expect2 check-sarif "$PROMO" check --format=sarif "$SRC/rules"
expect2 help "$PROMO" --help

# ---- 10.2 a flipped bit anywhere in the bundle header is refused -----------------------
size=$(stat -c %s "$T/set.pbc")
for off in 32 36 40 44 48 63; do
    cp "$T/set.pbc" "$T/bad.pbc"
    python3 -c "
import sys; b=bytearray(open('$T/bad.pbc','rb').read()); b[$off]^=1; open('$T/bad.pbc','wb').write(b)"
    "$PROMO" run -q "$T/bad.pbc" "$T/two.jsonl" > /dev/null 2> "$T/err" && fail "flip at $off accepted"
    grep -q 'checksum mismatch' "$T/err" || fail "flip at $off: $(cat "$T/err")"
done

# ---- 10.4 long operator chains: one E004, no crash, in check / build / test ------------
python3 - "$T" <<'PY'
import sys
t = sys.argv[1]
head = 'campaign c "x" {\n priority 1\n when '
tail = '\n then discount 1% on receipt\n}\n'
open(t + '/or.rule', 'w').write(head + ' or '.join('total > %d' % i for i in range(100000)) + tail)
open(t + '/and.rule', 'w').write(head + ' and '.join('total > %d' % i for i in range(100000)) + tail)
open(t + '/plus.rule', 'w').write(head + 'total > ' + ' + '.join(['1'] * 50000) + tail)
PY
for f in or and plus; do
    for cmd in check build test; do
        extra=()
        [ $cmd = build ] && extra=(-o "$T/chain.pbc")
        "$PROMO" $cmd "$T/$f.rule" "${extra[@]}" > /dev/null 2> "$T/err"
        rc=$?
        [ $rc -eq 1 ] || fail "$f chain, $cmd: exit $rc"
        [ "$(grep -c 'error\[E004\]: expression nested too deeply' "$T/err")" -eq 1 ] ||
            fail "$f chain, $cmd: $(head -c 300 "$T/err")"
        [ "$(wc -c < "$T/err")" -lt 4000 ] || fail "$f chain, $cmd: the whole line was printed"
    done
done

# ---- 10.6 random bytes: bounded diagnostics ---------------------------------------------
head -c 1000000 /dev/urandom > "$T/random.rule"
"$PROMO" check "$T/random.rule" > /dev/null 2> "$T/err"
[ $? -eq 1 ] || fail "random bytes: exit"
[ "$(wc -c < "$T/err")" -lt 200000 ] || fail "random bytes: $(wc -c < "$T/err") bytes of diagnostics"
grep -q 'more errors and warnings not shown (the first 100 are)$' "$T/err" || fail "no 'more not shown'"

# ---- 10.7 invalid UTF-8 in a rule string is a compile error -----------------------------
printf 'campaign m "x" {\n priority 1\n then message "\xff\xfe"\n}\n' > "$T/utf.rule"
"$PROMO" check "$T/utf.rule" 2> "$T/err"
[ $? -eq 1 ] || fail "invalid UTF-8 string compiled"
grep -q 'error\[E001\]: invalid UTF-8 in string' "$T/err" || fail "utf8: $(cat "$T/err")"

# ---- 10.9 devices, directories and FIFOs are refused, never read forever ----------------
"$PROMO" run -q /dev/zero < /dev/null 2> "$T/err"
[ $? -eq 2 ] || fail "/dev/zero bundle"
grep -q 'not a regular file' "$T/err" || fail "/dev/zero bundle: $(cat "$T/err")"
"$PROMO" run -q "$T" < /dev/null 2> "$T/err"
grep -q 'Is a directory' "$T/err" || fail "directory bundle: $(cat "$T/err")"
"$PROMO" check /dev/zero 2> "$T/err"
[ $? -eq 2 ] || fail "/dev/zero rule: exit"
mkdir "$T/rules"
cp "$T/set.rule" "$T/rules/"
mkfifo "$T/rules/x.rule"
timeout 20 "$PROMO" check "$T/rules" 2> "$T/err"
rc=$?
[ $rc -eq 2 ] || fail "FIFO in a directory: exit $rc"
grep -q 'x.rule: error\[E025\]: cannot read file: not a regular file' "$T/err" || fail "fifo: $(cat "$T/err")"
rm -rf "$T/rules"

# ---- 10.10 smaller -----------------------------------------------------------------------
printf '{"id":"a","time":"2026-06-05T10:00","lines":[]} x\n' | "$PROMO" run -q "$T/set.pbc" > "$T/out"
grep -q 'Unexpected trailing content in the JSON input at byte 48' "$T/out" || fail "trailing: $(cat "$T/out")"
printf 'campaign   x "y" {\n then   points 100\n}\n' > "$T/real.rule"
chmod 640 "$T/real.rule"
ln -s real.rule "$T/link.rule"
"$PROMO" fmt "$T/link.rule" || fail "fmt"
[ -L "$T/link.rule" ] || fail "fmt replaced the symlink"
[ "$(stat -c %a "$T/real.rule")" = 640 ] || fail "fmt changed the mode to $(stat -c %a "$T/real.rule")"
grep -q '^campaign x "y" {' "$T/real.rule" || fail "fmt did not format through the link"

# ---- 10.8 signals -------------------------------------------------------------------------
python3 -c "
import sys
g=sys.argv[1]
sys.stdout.write((g+'\n')*400000)" "$good" > "$T/big.jsonl"
# fed through a FIFO kept open, so the stream cannot end before the signal comes
mkfifo "$T/bigin"
"$PROMO" run -q --threads 2 "$T/set.pbc" "$T/bigin" > "$T/out" 2> "$T/err" &
pid=$!
exec 4> "$T/bigin"
cat "$T/big.jsonl" >&4 2> /dev/null &
cpid=$!
sleep 0.$((RANDOM % 5 + 1)) # a random point of the run
t0=$(date +%s%N)
kill -TERM $pid
wait $pid
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
exec 4>&-
wait $cpid 2> /dev/null # cat ends on the closed pipe
{
    [ $rc -eq 143 ] || fail "SIGTERM: exit $rc"
    [ $ms -lt 5000 ] || fail "SIGTERM: took $ms ms" # prompt, with room for a loaded ASan run
    n=$(wc -l < "$T/out")
    grep -q "^promo run: stopped by SIGTERM after input line $n ($n results written)$" "$T/err" ||
        fail "SIGTERM message: $(head -2 "$T/err") (out $n)"
    grep -q '^receipts: ' "$T/err" || fail "SIGTERM: no summary"
    python3 -c "
import json,sys
for l in open(sys.argv[1]): json.loads(l)" "$T/out" || fail "SIGTERM: a partial line was written"
}
# SIGINT / SIGHUP while waiting for input on a pipe
mkfifo "$T/in"
"$PROMO" run -q "$T/set.pbc" "$T/in" > "$T/out" 2> "$T/err" &
pid=$!
exec 3> "$T/in"
printf '%s\n' "$good" "$good" "$good" >&3
wait_lines "$T/out" 3
kill -HUP $pid # ignored without --reload-on-signal
sleep 0.3
kill -0 $pid 2> /dev/null || fail "SIGHUP killed promo run"
kill -INT $pid
wait $pid
rc=$?
exec 3>&-
[ $rc -eq 130 ] || fail "SIGINT while waiting: exit $rc"
[ "$(wc -l < "$T/out")" -eq 3 ] || fail "SIGINT: lines read were not answered"
grep -q '^promo run: stopped by SIGINT after input line 3 (3 results written)$' "$T/err" || fail "SIGINT msg"

# --watch, --stamp, --metrics
printf 'campaign other "x" {\n priority 1\n then discount 1%% on receipt\n}\n' > "$T/b.rule"
"$PROMO" build "$T/b.rule" -o "$T/new.pbc" || fail "build b"
cp "$T/set.pbc" "$T/live.pbc"
rm -f "$T/in"
mkfifo "$T/in"
"$PROMO" run --watch --stamp --metrics "$T/m.json" "$T/live.pbc" "$T/in" > "$T/out" 2> "$T/err" &
pid=$!
exec 3> "$T/in"
printf '%s\n' "$good" >&3
wait_lines "$T/out" 1
mv "$T/new.pbc" "$T/live.pbc"
wait_grep 'reloaded ' "$T/err"
printf '%s\n' "$good" >&3
wait_lines "$T/out" 2
exec 3>&-
wait $pid || fail "watch run: exit $?"
grep -q 'reloaded .*live.pbc (1 campaigns)' "$T/err" || fail "--watch: $(cat "$T/err")"
s1=$("$PROMO" disasm "$T/set.pbc" | head -1 | sed 's/.*checksum //')
s2=$("$PROMO" disasm "$T/live.pbc" | head -1 | sed 's/.*checksum //')
sed -n 1p "$T/out" | grep -q "\"applied\":\[\"dairy_10\"\],\"bundle\":\"$s1\"}$" || fail "--stamp 1: $(sed -n 1p "$T/out")"
sed -n 2p "$T/out" | grep -q "\"applied\":\[\"other\"\],\"bundle\":\"$s2\"}$" || fail "--stamp 2: $(sed -n 2p "$T/out")"
python3 -c "
import json,sys
m=json.load(open(sys.argv[1]))
assert m['receipts']==2 and m['reloads']==1 and m['final'] is True, m
assert m['bundle']==sys.argv[2], m
" "$T/m.json" "$s2" || fail "--metrics: $(cat "$T/m.json")"
echo "hardening: ok"
