#!/usr/bin/env bash
# End-to-end test of the scale-out (docs/deploy.md) on the fixture's loopback cluster:
#   1. results through 2 `promo node`s and `promo client` equal `promo run --state` on the
#      same input, byte for byte (per-customer limits and history make every receipt
#      depend on the customer's earlier ones, so a lost, doubled or reordered receipt
#      shows; cancels and returns, routed by the customer.id they carry, check the journal);
#   2. the same while one node is killed with SIGKILL at a random point mid-stream and a
#      third one joins, then the killed one restarts on its own state (local snapshot +
#      changelog): every receipt applied exactly once;
#   3. the same while one nats-server is killed with SIGKILL mid-stream and restarted;
#   4. a re-sent operation (same id later in the input, and a whole second run) is
#      answered from the journal, marked duplicate, and not applied again;
#   5. every node's partition stores: journal recount == stored counters (promo state
#      verify), and the union of the latest stores holds each confirmed receipt once;
#   6. a budget shared by 2 nodes through the escrow, one node killed with SIGKILL
#      mid-stream: Σ spent over every partition ≤ cap (and the results agree), the
#      budget nearly exhausted (at most the slices held or stranded short of it);
#   7. changelog trimming: a node checkpointing every 2 records trims its changelogs;
#      a node with no local state then takes the partitions over from the checkpoints
#      (restore + replay) and answers the rest of the input as one `promo run` would;
#   8. `promo node --return-window`: past the window a return or cancel is refused and a
#      repeat is not confirmed again, as `promo run --return-window` answers.
#   tests/node/e2e_nodes.sh PROMO_BINARY SOURCE_DIR   (PROMO_CLUSTER_DIR set by ctest)
set -euo pipefail
PROMO=$1
SRC=$2
# shellcheck source=../support/cli_prelude.bash
source "$SRC/tests/support/cli_prelude.bash"
CLUSTER="$SRC/scripts/cluster.sh"
URL=$(bash "$CLUSTER" url)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    bash "$CLUSTER" start 2 >/dev/null 2>&1 || true # in case step 3 failed half-way
    [ -n "${PROMO_KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
fail() { # with the nodes' view of what happened
    echo "FAIL: $*" >&2
    for f in "$T"/node*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }; done
    exit 1
}

cat > "$T/set.rule" <<'RULE'
set dairy = category "dairy"
group discounts
campaign dairy_10 "Dairy: 10% off from 150" {
    priority 100
    group discounts
    when sum(lines where dairy) >= 150
    then discount 10% on lines where dairy
    limit 1 per customer per day
}
campaign base_1 "1% points" {
    priority 10
    then points 1% of paid expire in 90 days
}
campaign loyal "third visit in a month" {
    priority 5
    when history.visits(30 days) >= 3
    then coupon "LOYAL"; message "thanks for coming back"
}
RULE
"$PROMO" build "$T/set.rule" -o "$T/set.pbc" || fail "promo build"

# N receipts of 40 customers over 4 days, every 10th anonymous; ids and customer ids
# start with TAG, so that the steps below share one deployment without sharing state.
# Every 25th receipt is cancelled and every 25th (another) partly returned a few lines
# later; the cancel / return line carries the receipt's customer.id (routing).
gen() { # n seed tag
    awk -v n="$1" -v seed="$2" -v tag="$3" 'BEGIN { srand(seed);
      for (i = 1; i <= n; i++) { c = int(rand() * 40); d = 1 + int((i - 1) * 4 / n);
        cust = (i % 10 == 0) ? "" : sprintf("\"customer\":{\"id\":\"%sc%d\"},", tag, c);
        printf("{\"id\":\"%sr%d\",%s\"time\":\"2026-06-0%dT10:00:00\",\"lines\":[{\"sku\":\"1\",\"category\":\"dairy/milk\",\"qty\":%d,\"price\":%d.50}]}\n",
               tag, i, cust, d, 1 + int(rand() * 3), 40 + int(rand() * 80));
        cs[i] = cust;
        j = i - 3;
        if (j > 0 && j % 25 == 7)
          printf("{\"op\":\"cancel\",\"id\":\"%sr%d\",%s\"x\":0}\n", tag, j, cs[j]);
        if (j > 0 && j % 25 == 19)
          printf("{\"op\":\"return\",\"id\":\"%sr%d\",\"refund_id\":\"f%d\",%s\"lines\":[{\"n\":0,\"qty\":1}]}\n", tag, j, j, cs[j]) } }'
}
# What one `promo run` with a state of record answers (a fresh store per input).
expect() { # input output
    rm -rf "$T/ref"
    "$PROMO" run "$T/set.pbc" --state "$T/ref" "$1" >"$2"
}

node() { # id prefix
    "$PROMO" node "$T/set.pbc" --nats "$URL" --id "$1" --prefix "$2" --state "$T/state$1" \
        --lease-ms 2000 --timeout-ms 3000 -v \
        2>>"$T/node$1.log" &
    PIDS+=($!)
}

client() { # prefix input output
    "$PROMO" client --nats "$URL" --prefix "$1" --timeout-ms 5000 --retries 10 "$2" >"$3"
}

same() { # expected got what
    if ! cmp -s "$1" "$2"; then
        diff <(cut -c1-200 "$1") <(cut -c1-200 "$2") | head -n 10 >&2
        fail "$3: output differs from promo run"
    fi
}

stop_nodes() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    PIDS=()
}

# One deployment (prefix) for every step: nodes 0 and 1, then node 1 killed and node 2
# joining, then a nats-server killed under nodes 0 and 2.
PRE=e$$

# ---- 1. two nodes == promo run -------------------------------------------------------
echo "[${SECONDS}s] step 1" >&2
gen 400 7 a >"$T/a.jsonl"
expect "$T/a.jsonl" "$T/a.expected"
grep -q LOYAL "$T/a.expected" || fail "the input does not exercise history"
grep -q '"op":"return"' "$T/a.expected" || fail "the input does not exercise returns"
grep -q '"op":"cancel"' "$T/a.expected" || fail "the input does not exercise cancels"
if grep -q '"error"' "$T/a.expected"; then fail "the reference has error records"; fi
node 0 "$PRE"
node 1 "$PRE"
wait_grep '^node 1: owns partition' "$T/node1.log" # really two nodes (and stores for step 2)
client "$PRE" "$T/a.jsonl" "$T/a.got" || fail "client (2 nodes)"
same "$T/a.expected" "$T/a.got" "2 nodes"

# ---- 2. kill -9 of a node mid-stream, a third node joins -------------------------------
echo "[${SECONDS}s] step 2" >&2
gen 1200 11 b >"$T/b.jsonl"
expect "$T/b.jsonl" "$T/b.expected"
client "$PRE" "$T/b.jsonl" "$T/b.got" &
CLIENT=$!
sleep "0.$((RANDOM % 10))"
kill -KILL "${PIDS[1]}"
sleep 0.5
node 2 "$PRE"
sleep "1.$((RANDOM % 10))"
# Back on its own state, but its partition stores do not open any more (another store
# format after an upgrade, a damaged file): each is wiped and rebuilt from the changelog
# (and its checkpoint) when node 1 takes its partitions back.
GARBAGE='not an LMDB file'
n=0
for f in "$T"/state1/p*/data.mdb; do
    [ -f "$f" ] || continue
    printf '%s' "$GARBAGE" >"$f"
    basename "$(dirname "$f")" >>"$T/garbled" # p<k>
    n=$((n + 1))
done
touch "$T/garbled"
[ "$n" -gt 0 ] || echo "note: node 1 had no partition store to garble (timing)" >&2
node 1 "$PRE"
wait "$CLIENT" || fail "client (node killed)"
same "$T/b.expected" "$T/b.got" "node killed"
# Each garbled store node 1 takes back must have been rebuilt. Which partitions it takes
# back depends on what it owned when killed (timing): wait until it owns one of them.
took=
for _ in $(seq 300); do
    # what it owns since its restart (its second "up" line)
    for p in $(awk '/^node 1: up/ { n++ } n >= 2' "$T/node1.log" |
        sed -n 's/^node 1: owns partition \([0-9]*\) .*/\1/p'); do
        grep -qx "p$p" "$T/garbled" || continue
        grep -q "^node 1: partition $p: local state does not open" "$T/node1.log" ||
            fail "node 1 took partition $p back without rebuilding its garbled store"
        took=$p
    done
    [ -n "$took" ] && break
    sleep 0.2
done
[ -n "$took" ] || echo "note: node 1 took none of its garbled stores back (timing)" >&2

# ---- 3. kill -9 of one nats-server mid-stream ------------------------------------------
echo "[${SECONDS}s] step 3" >&2
gen 800 13 c >"$T/c.jsonl"
expect "$T/c.jsonl" "$T/c.expected"
client "$PRE" "$T/c.jsonl" "$T/c.got" &
CLIENT=$!
sleep 1
bash "$CLUSTER" stop 2
sleep 2
bash "$CLUSTER" start 2 >/dev/null || fail "nats-server 2 did not come back"
wait "$CLIENT" || fail "client (server killed)"
same "$T/c.expected" "$T/c.got" "nats-server killed"

# ---- 4. a re-sent operation is answered from the journal, not applied again -------------
echo "[${SECONDS}s] step 4" >&2
gen 3 17 d >"$T/d.jsonl"
expect "$T/d.jsonl" "$T/d.run"
head -n 1 "$T/d.jsonl" >>"$T/d.jsonl"
client "$PRE" "$T/d.jsonl" "$T/d.got" || fail "client (re-send)"
{ cat "$T/d.run"; head -n 1 "$T/d.run" | sed 's/}$/,"duplicate":true}/'; } >"$T/d.expected"
same "$T/d.expected" "$T/d.got" "re-sent operation"
# the same input again (a resumed run): every line is a re-sent operation now
client "$PRE" "$T/d.jsonl" "$T/d2.got" || fail "client (second run)"
sed 's/}$/,"duplicate":true}/' "$T/d.run" >"$T/d2.expected"
tail -n 1 "$T/d.expected" >>"$T/d2.expected"
same "$T/d2.expected" "$T/d2.got" "second run of the same input"
stop_nodes

# ---- 5. the stores: journals == counters; each receipt in the latest store once --------
echo "[${SECONDS}s] step 5" >&2
# A store garbled in step 2 whose partition node 1 did not take back is left as it was (a
# node wipes one only when it takes its partition): not a store, removed here as that node
# would.
for f in "$T"/state1/p*/data.mdb; do
    [ "$(head -c ${#GARBAGE} "$f")" != "$GARBAGE" ] || rm -rf "$(dirname "$f")"
done
for d in "$T"/state*/p*; do
    "$PROMO" state verify "$d" >"$T/verify.out" 2>&1 ||
        { cat "$T/verify.out" >&2; fail "promo state verify $d"; }
done
# the newest copy of each partition (highest changelog sequence in node.seq), one a line
newest() {
    local p d s best bs
    for p in $(for d in "$T"/state*/p*; do basename "$d"; done | sort -u); do
        best= bs=-1
        for d in "$T"/state*/"$p"; do
            [ -f "$d/node.seq" ] || continue
            s=$(cut -d' ' -f1 "$d/node.seq")
            if [ "$s" -gt "$bs" ]; then bs=$s best=$d; fi
        done
        [ -z "$best" ] || echo "$best"
    done
}
# ... which together hold every confirmed receipt exactly once
: >"$T/receipts"
for best in $(newest); do
    # journal keys: 'J' (4a) + receipt id; refund records have a NUL (00) in them
    "$PROMO" state export "$best" | sed -n 's/^{"k":"4a\([0-9a-f]*\)".*/\1/p' |
        awk '{ for (i = 1; i < length($0); i += 2) if (substr($0, i, 2) == "00") next; print }' \
            >>"$T/receipts"
done
for f in a b c d; do
    grep -v '"op"\|"error"\|"duplicate"' "$T/$f.expected" | sed 's/^{"id":"\([^"]*\)".*/\1/'
done | awk 'BEGIN { for (i = 32; i < 127; i++) hex[sprintf("%c", i)] = sprintf("%02x", i) }
    { h = ""; for (i = 1; i <= length($0); i++) h = h hex[substr($0, i, 1)]; print h }' |
    sort >"$T/receipts.expected"
sort "$T/receipts" >"$T/receipts.got"
[ -s "$T/receipts.expected" ] || fail "no confirmed receipts expected"
cmp -s "$T/receipts.expected" "$T/receipts.got" ||
    fail "the partitions' stores do not hold each confirmed receipt exactly once" \
        "($(wc -l <"$T/receipts.expected") expected, $(wc -l <"$T/receipts.got") stored)"

# ---- 6. a budget shared by every partition: never overspent, even with a kill -----------
echo "[${SECONDS}s] step 6" >&2
cat >"$T/bud.rule" <<'RULE'
campaign bud "budgeted 10%" {
    then discount 10% on lines
    budget 300 partial
}
RULE
"$PROMO" build "$T/bud.rule" -o "$T/bud.pbc" || fail "promo build (budget)"
gen 600 19 g >"$T/g.jsonl" # demand: ~600 × 10% of ~160 = ~9600 roubles >> 300
rm -rf "$T"/state*
PRE=g$$
bnode() { # id
    "$PROMO" node "$T/bud.pbc" --nats "$URL" --id "$1" --prefix "$PRE" --state "$T/state$1" \
        --lease-ms 2000 --timeout-ms 3000 -v 2>>"$T/node$1.log" &
    PIDS+=($!)
}
bnode 0
bnode 1
client "$PRE" "$T/g.jsonl" "$T/g.got" &
CLIENT=$!
sleep "0.$((RANDOM % 10))"
kill -KILL "${PIDS[1]}"
wait "$CLIENT" || fail "client (budget)"
stop_nodes
# what the results granted: the "bud" amounts of confirms, minus cancels' and returns'
# refunds are not budget figures, so take the stores' budget counters (journal-checked)
given=$(grep -v '"op"\|"duplicate"' "$T/g.got" | { grep -o '"bud":[0-9.]*' || true; } | cut -d: -f2 |
    awk '{ s += $1 * 100 } END { printf "%d", s + 0.5 }')
spent=0
for d in "$T"/state*/p*; do
    "$PROMO" state verify "$d" >/dev/null || fail "promo state verify $d (budget)"
done
for best in $(newest); do
    k=$("$PROMO" state budgets "$best" --json | { grep -o '"spent":[0-9.-]*' || true; } | cut -d: -f2 |
        awk '{ s += $1 * 100 } END { printf "%d", s + 0.5 }')
    spent=$((spent + k))
done
echo "budget: cap 30000, spent $spent (stores), confirms granted $given" >&2
[ "$spent" -le 30000 ] || fail "budget overspent: $spent > 30000"
[ "$given" -ge "$spent" ] || fail "stores spent $spent, more than the results granted ($given)"
[ "$spent" -ge 20000 ] || fail "budget far from exhausted: $spent of 30000"

# ---- 7. trimmed changelogs: a taker with no local state restores from the checkpoint --
echo "[${SECONDS}s] step 7" >&2
rm -rf "$T"/state*
PRE=t$$
gen 400 23 h >"$T/h.jsonl"
head -n 260 "$T/h.jsonl" >"$T/h1.jsonl"
tail -n +261 "$T/h.jsonl" >"$T/h2.jsonl"
expect "$T/h.jsonl" "$T/h.expected"
tnode() { # id
    "$PROMO" node "$T/set.pbc" --nats "$URL" --id "$1" --prefix "$PRE" --state "$T/state$1" \
        --lease-ms 2000 --timeout-ms 3000 --checkpoint-every 2 -v 2>>"$T/tnode$1.log" &
    PIDS+=($!)
}
tclient() { # input output: small batches, many changelog records
    "$PROMO" client --nats "$URL" --prefix "$PRE" --timeout-ms 5000 --retries 10 --batch 4 \
        "$1" >"$2"
}
tnode 0
tclient "$T/h1.jsonl" "$T/h1.got" || fail "client (trimming, first half)"
stop_nodes
grep -q "trimmed below" "$T/tnode0.log" || fail "no changelog was trimmed"
tnode 1 # no local state: every partition from its checkpoint + the records after it
tclient "$T/h2.jsonl" "$T/h2.got" || fail "client (trimming, second half)"
stop_nodes
grep -q "restoring from the checkpoint" "$T/tnode1.log" || fail "no partition was restored"
cat "$T/h1.got" "$T/h2.got" >"$T/h.got"
same "$T/h.expected" "$T/h.got" "taken over from trimmed changelogs"
for d in "$T"/state1/p*; do
    "$PROMO" state verify "$d" >/dev/null || fail "promo state verify $d (restored)"
done
stop_nodes

# ---- 8. the return window on a node: past it, a return or cancel is refused and a ----
# repeat is not confirmed again, as one `promo run --return-window` answers (the repeat
# in a second client run: within one run the client answers a re-sent line from the
# first line's answer, docs/deploy.md); an empty and a broken line get promo run's error
# records, with their line numbers
echo "[${SECONDS}s] step 8" >&2
PRE=w$$
L='"lines":[{"sku":"1","category":"dairy/milk","qty":2,"price":80.00}]'
cat >"$T/w.jsonl" <<EOF
{"id":"wr1","customer":{"id":"wc1"},"time":"2026-01-10T10:00:00",$L}
{"id":"wr2","customer":{"id":"wc1"},"time":"2026-03-01T10:00:00",$L}
{"op":"return","id":"wr1","refund_id":"wf1","customer":{"id":"wc1"},"lines":[{"n":0,"qty":1}]}
{"op":"cancel","id":"wr1","customer":{"id":"wc1"}}

{"id":"wr3",broken
{"op":"return","id":"wr2","refund_id":"wf2","customer":{"id":"wc1"},"lines":[{"n":0,"qty":1}]}
{"id":"wr1","customer":{"id":"wc1"},"time":"2026-01-10T10:00:00",$L}
EOF
rm -rf "$T/ref"
"$PROMO" run "$T/set.pbc" --state "$T/ref" --return-window 30 "$T/w.jsonl" |
    sed '$ s/"error":"line 8: /"error":"line 1: /' >"$T/w.expected" # the repeat: w2's line 1
[ "$(grep -c 'past the return window: nothing reversed' "$T/w.expected")" = 2 ] ||
    fail "the reference does not refuse the return and the cancel past the window"
grep -q '"error":"line 1: id: already confirmed.*no longer kept' "$T/w.expected" ||
    fail "the reference does not refuse the repeat"
grep -q '"error":"line 5: empty line' "$T/w.expected" || fail "no empty line in the reference"
head -n 7 "$T/w.jsonl" >"$T/w1.jsonl"
tail -n 1 "$T/w.jsonl" >"$T/w2.jsonl"
rm -rf "$T"/state*
"$PROMO" node "$T/set.pbc" --nats "$URL" --id 0 --prefix "$PRE" --state "$T/state0" \
    --lease-ms 2000 --timeout-ms 3000 --return-window "${E2E_NODE_WINDOW:-30}" -v \
    2>>"$T/wnode0.log" &
PIDS+=($!)
client "$PRE" "$T/w1.jsonl" "$T/w.got" || fail "client (return window)"
client "$PRE" "$T/w2.jsonl" "$T/w2.got" || fail "client (return window, the repeat)"
cat "$T/w2.got" >>"$T/w.got"
stop_nodes
same "$T/w.expected" "$T/w.got" "return window on a node"
echo "e2e nodes: ok"
