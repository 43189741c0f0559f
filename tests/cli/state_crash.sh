#!/usr/bin/env bash
# Crash harness of the state of record (SPEC 7.2): `promo run --state` killed with
# SIGKILL at random points (at least 30 kills), restarted on the same input each time.
#   - every line a killed run wrote was durable: the finished run reports each of them
#     as a duplicate (or the same error record);
#   - the finished run's output, "duplicate":true left out, equals an uninterrupted
#     run's, line for line (every receipt confirmed exactly once);
#   - counters and budgets recomputed from the journal equal the stored ones (promo
#     state verify), and no budget is past its cap;
#   - one stream split over two runs on one store equals one run.
# Every other process-durability run writes through the map (--write-map), the others
# with pwrite, on the same stores.
# The stream mixes confirms, repeated lines, returns and cancels (tests/tools/gen_ops.py).
#   tests/cli/state_crash.sh PROMO_BINARY SOURCE_DIR
set -euo pipefail
PROMO=$1
SRC=$2
# shellcheck source=../support/cli_prelude.bash
source "$(dirname "${BASH_SOURCE[0]}")/../support/cli_prelude.bash"

cat > "$T/set.rule" <<'RULE'
set dairy = category "dairy"
campaign dairy_10 {
    priority 100
    when sum(lines where dairy) >= 150
    then discount 10% on lines where dairy
    limit 1 per customer per day
}
campaign coffee_50 {
    priority 90
    then discount 50 on lines where category "coffee"
    budget 3000
}
campaign fruit_pts {
    priority 80
    then points 7% of paid on lines where category "fruit"
    budget 2000 partial
}
campaign base_1 {
    priority 10
    then points 1% of paid expire in 90 days
}
campaign loyal {
    priority 5
    when history.visits(7 days) >= 3 and history.sum(lines where dairy, 30 days) > 500
    then points 50
    limit 2 per customer per week
}
RULE
"$PROMO" build "$T/set.rule" -o "$T/set.pbc" || fail "promo build"
N=${STATE_CRASH_RECEIPTS:-8000}
python3 "$SRC/tests/tools/gen_ops.py" "$N" 7 > "$T/in.jsonl"

undup() { sed 's/,"duplicate":true}$/}/' "$1"; }

check_store() { # DIR: journal recount == stored counters; budgets within their caps
    "$PROMO" state verify "$1" > "$T/verify.txt" 2>&1 || { cat "$T/verify.txt"; fail "verify $1"; }
    "$PROMO" state budgets "$1" --bundle "$T/set.pbc" > "$T/budgets.txt"
    # "coffee_50   spent 2995.20 of 3000.00"
    awk '$2 == "spent" && $4 == "of" && $3 + 0 > $5 + 0 { bad = 1; print } END { exit bad }' \
        "$T/budgets.txt" || fail "a budget is past its cap"
    [ "$(wc -l < "$T/budgets.txt")" -eq 2 ] || fail "budgets: $(cat "$T/budgets.txt")"
}

# ---- the uninterrupted run ----------------------------------------------------------
"$PROMO" run --state "$T/ref" "$T/set.pbc" "$T/in.jsonl" > "$T/ref.out" || fail "reference run"
[ "$(wc -l < "$T/ref.out")" -eq "$(wc -l < "$T/in.jsonl")" ] || fail "reference: line count"
grep -q '"op":"return","refund_id"' "$T/ref.out" || fail "reference: no return was made"
grep -q '"op":"cancel","state":"cancelled"' "$T/ref.out" || fail "reference: no cancel was made"
check_store "$T/ref"
undup "$T/ref.out" > "$T/ref.undup"
# the same again on the same store: every line is the stored one, marked duplicate
"$PROMO" run --state "$T/ref" "$T/set.pbc" "$T/in.jsonl" > "$T/again.out"
undup "$T/again.out" | cmp -s - "$T/ref.undup" || fail "second run differs beyond duplicate marks"
[ "$(grep -c '"duplicate":true' "$T/again.out")" -ge $((N * 8 / 10)) ] ||
    fail "second run: too few duplicates"
check_store "$T/ref"

# ---- one stream split over two runs on one store -------------------------------------
half=$((N / 2))
head -n "$half" "$T/in.jsonl" > "$T/a.jsonl"
tail -n +"$((half + 1))" "$T/in.jsonl" > "$T/b.jsonl"
st=0
"$PROMO" run --write-map "$T/set.pbc" "$T/a.jsonl" > /dev/null 2> "$T/err" || st=$?
[ "$st" -eq 2 ] && grep -q -- "--write-map is for the LMDB store" "$T/err" ||
    fail "--write-map without --state: status $st, $(cat "$T/err")"
# the first half written through the map (--write-map: LMDB's MDB_WRITEMAP makes the
# file as large as the map, 64 GiB, sparse), the second half with pwrite
"$PROMO" run --state "$T/split" --write-map "$T/set.pbc" "$T/a.jsonl" > "$T/split.out"
[ "$(stat -c %s "$T/split/data.mdb")" -eq $((64 << 30)) ] ||
    fail "--write-map: data.mdb is $(stat -c %s "$T/split/data.mdb") bytes, not the map's"
"$PROMO" run --state "$T/split" --threads 1 "$T/set.pbc" "$T/b.jsonl" >> "$T/split.out"
# (error records name the line of their own input file)
nolines() { sed -E 's/"error":"line [0-9]+: /"error":"/' "$1"; }
nolines "$T/split.out" > "$T/split.nl"
nolines "$T/ref.out" | cmp -s - "$T/split.nl" || fail "split run differs from one run"

# ---- kill -9 at random points --------------------------------------------------------
kills=0
episode=0
RANDOM=42
while [ "$kills" -lt 30 ]; do
    episode=$((episode + 1))
    st="$T/crash$episode"
    for k in 1 2 3 4 5 6 7 8; do
        batch=$((1 + RANDOM % 64))
        threads=$((1 + RANDOM % 2))
        durability=process # strict (fsync per batch) once per episode: it is slow on
        [ "$k" -eq 4 ] && durability=strict && batch=64 # a busy disk, and the same code
        map=() # every other process run writes through the map (--write-map): runs with
        [ "$durability" = process ] && [ $((k % 2)) -eq 0 ] && map=(--write-map) # and
        # without it take turns on one store, as the resumed run (without) does too
        "$PROMO" run --state "$st" --durability "$durability" "${map[@]}" --threads "$threads" \
            --batch "$batch" "$T/set.pbc" "$T/in.jsonl" > "$T/killed.$episode.$k" 2>/dev/null &
        pid=$!
        sleep "0.0$((10 + RANDOM % 80))"
        if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
        wait "$pid" 2>/dev/null || true
    done
    "$PROMO" run --state "$st" "$T/set.pbc" "$T/in.jsonl" > "$T/final.$episode" ||
        fail "episode $episode: resumed run failed"
    undup "$T/final.$episode" | cmp -s - "$T/ref.undup" ||
        fail "episode $episode: resumed output differs from the uninterrupted run"
    # what a killed run wrote was committed: the resumed run has it as a duplicate
    # (a line that was an error record is the same error record again)
    for f in "$T"/killed."$episode".*; do
        complete=$(wc -l < "$f") # a last line without its newline was not written out
        awk -v n="$complete" '
            NR == FNR { if (FNR <= n) k[FNR] = $0; next }
            FNR <= n {
                if (k[FNR] ~ /"error":/) { if ($0 != k[FNR]) { print FNR": "$0; bad = 1 } }
                else if ($0 !~ /,"duplicate":true}$/) { print FNR": "$0; bad = 1 }
            }
            END { exit bad }' "$f" "$T/final.$episode" > "$T/notdurable" ||
            fail "episode $episode: $f: a written line was not durable: $(head -c 300 "$T/notdurable")"
    done
    check_store "$st"
done
echo "state_crash: $kills kills over $episode episodes, $N lines each: ok"
