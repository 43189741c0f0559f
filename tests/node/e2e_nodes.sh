#!/usr/bin/env bash
# End-to-end test of the scale-out (docs/deploy.md) on the fixture's loopback cluster:
#   1. results through 2 `promo node`s and `promo client` equal `promo run` on the same
#      input, byte for byte (per-customer limits and history make every receipt depend on
#      the customer's earlier ones, so a lost, doubled or reordered receipt shows);
#   2. the same while one node is killed with SIGKILL mid-stream and a third one joins:
#      every receipt applied exactly once (the output still equals `promo run`);
#   3. the same while one nats-server is killed with SIGKILL mid-stream and restarted;
#   4. a re-sent operation (same id later in the input) is answered, marked duplicate,
#      and not applied again.
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
    rm -rf "$T"
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
gen() { # n seed tag
    awk -v n="$1" -v seed="$2" -v tag="$3" 'BEGIN { srand(seed);
      for (i = 1; i <= n; i++) { c = int(rand() * 40); d = 1 + int((i - 1) * 4 / n);
        cust = (i % 10 == 0) ? "" : sprintf("\"customer\":{\"id\":\"%sc%d\"},", tag, c);
        printf("{\"id\":\"%sr%d\",%s\"time\":\"2026-06-0%dT10:00:00\",\"lines\":[{\"sku\":\"1\",\"category\":\"dairy/milk\",\"qty\":%d,\"price\":%d.50}]}\n",
               tag, i, cust, d, 1 + int(rand() * 3), 40 + int(rand() * 80)) } }'
}

node() { # id prefix
    "$PROMO" node "$T/set.pbc" --nats "$URL" --id "$1" --prefix "$2" --lease-ms 2000 --timeout-ms 3000 -v \
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
"$PROMO" run "$T/set.pbc" "$T/a.jsonl" >"$T/a.expected"
grep -q LOYAL "$T/a.expected" || fail "the input does not exercise history"
node 0 "$PRE"
node 1 "$PRE"
client "$PRE" "$T/a.jsonl" "$T/a.got" || fail "client (2 nodes)"
same "$T/a.expected" "$T/a.got" "2 nodes"

# ---- 2. kill -9 of a node mid-stream, a third node joins -------------------------------
echo "[${SECONDS}s] step 2" >&2
gen 1200 11 b >"$T/b.jsonl"
"$PROMO" run "$T/set.pbc" "$T/b.jsonl" >"$T/b.expected"
client "$PRE" "$T/b.jsonl" "$T/b.got" &
CLIENT=$!
sleep 1
kill -KILL "${PIDS[1]}"
sleep 0.5
node 2 "$PRE"
wait "$CLIENT" || fail "client (node killed)"
same "$T/b.expected" "$T/b.got" "node killed"

# ---- 3. kill -9 of one nats-server mid-stream ------------------------------------------
echo "[${SECONDS}s] step 3" >&2
gen 800 13 c >"$T/c.jsonl"
"$PROMO" run "$T/set.pbc" "$T/c.jsonl" >"$T/c.expected"
client "$PRE" "$T/c.jsonl" "$T/c.got" &
CLIENT=$!
sleep 1
bash "$CLUSTER" stop 2
sleep 2
bash "$CLUSTER" start 2 >/dev/null || fail "nats-server 2 did not come back"
wait "$CLIENT" || fail "client (server killed)"
same "$T/c.expected" "$T/c.got" "nats-server killed"

# ---- 4. a re-sent operation is answered from the results, not applied again -------------
echo "[${SECONDS}s] step 4" >&2
gen 3 17 d >"$T/d.jsonl"
"$PROMO" run "$T/set.pbc" "$T/d.jsonl" >"$T/d.run"
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
echo "e2e nodes: ok"
