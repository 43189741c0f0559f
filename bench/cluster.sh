#!/usr/bin/env bash
# bench/cluster.sh — the scale-out end to end (docs/performance.md, "Scale-out"): a
# 3-server R3 JetStream cluster on loopback (scripts/cluster.sh), 1, 2 and 3 `promo
# node`s with their LMDB stores, `promo client` sending N generated receipts (the
# 400-campaign workload, 34 budgeted campaigns, customer ids spread over the
# partitions), batched and pipelined. Prints, with the machine's load:
#   - confirms/s (N / client wall time) and per-operation latency p50/p99/max (from its
#     batch's publish to its answer, at saturation: --window batches of --batch ops in
#     flight per partition), with the CPU seconds of servers, nodes and client;
#   - latency at low load (one operation per message, one in flight per partition);
#   - the budget grant overhead: the same receipts through 2 nodes with the budget lines
#     removed from the rules, and the nodes' escrow counters;
#   - failover: a node killed with SIGKILL while idle, and the wall time of a client
#     run of 64 receipts right after (lease expiry + replay + retries).
#   - where the servers' work comes from: for each run the stream writes by kind (input
#     batches, changelog appends, lease/membership and budget KV writes) and the messages
#     and bytes the three servers received and sent (monitoring endpoints /jsz, /varz),
#     per confirm; and the CPU the servers and nodes use per second while idle.
#     PERF_OUT=/tmp/p also records the servers with `perf record -g` during each run;
#     LOGS_OUT=dir keeps the nodes' logs (-v) there; QUICK=1 leaves out the low-load run
#     and the failover (the A/B runs of docs/performance.md).
#   bench/cluster.sh [RECEIPTS]   (default 60000; BUILD=build-rel, LEASE_MS=2000,
#                                  PARTITIONS=8, BATCH=512, WINDOW=4, NODES="1 2 3")
# About 2 minutes on a quiet 2-core machine.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-rel}
N=${1:-60000}
LEASE_MS=${LEASE_MS:-2000}
PARTS=${PARTITIONS:-8}
BATCH=${BATCH:-512}
WINDOW=${WINDOW:-4}
NODES=${NODES:-1 2 3}
P=$BUILD/promo
tmp=$(mktemp -d "${TMPDIR:-/tmp}/promo-cluster-bench.XXXXXX")
export PROMO_CLUSTER_DIR=$tmp/nats PROMO_NATS_PORT=auto
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    bash "$ROOT/scripts/cluster.sh" down >/dev/null 2>&1 || true
    if [ -n "${LOGS_OUT:-}" ]; then mkdir -p "$LOGS_OUT" && cp "$tmp"/node*.log "$LOGS_OUT"/; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
URL=$(bash "$ROOT/scripts/cluster.sh" up)
"$BUILD/bench/promo-gen" --seed 1 --campaigns 400 --receipts "$N" --out "$tmp/w" --quiet
"$P" build "$tmp/w/rules" -o "$tmp/set.pbc" >/dev/null 2>&1
mkdir -p "$tmp/nb"
for f in "$tmp"/w/rules/*.rule; do sed '/^ *budget /d' "$f" >"$tmp/nb/$(basename "$f")"; done
"$P" build "$tmp/nb" -o "$tmp/nobudget.pbc" >/dev/null 2>&1
IN=$tmp/w/receipts.jsonl
head -n 64 "$IN" | sed 's/"id":"/"id":"warm/' >"$tmp/warm"

cpu() { # CPU seconds of the given pids so far
    local s=0 p
    for p in "$@"; do
        s=$(awk -v s="$s" '{ printf "%.2f", s + ($14 + $15) / 100 }' "/proc/$p/stat" 2>/dev/null || echo "$s")
    done
    echo "$s"
}
servers() { cat "$tmp"/nats/n*.pid; }
# Messages so far by kind: stream writes (last sequences summed over the streams of each
# kind, seen by server 1) and the messages the three servers received and sent
# (including their replication traffic), from the monitoring endpoints.
msgs() {
    local b
    b=$(cat "$tmp/nats/port")
    curl -fsS --max-time 5 "http://127.0.0.1:$((b + 20))/jsz?streams=true" 2>/dev/null | jq -r '
        [.account_details[]?.stream_detail[]? | {n: (.name // .config.name // ""), s: (.state.last_seq // 0), b: (.state.bytes // 0)}] |
        "in \(map(select(.n | endswith("_in")) | .s) | add // 0)" +
        " in_B \(map(select(.n | endswith("_in")) | .b) | add // 0)" +
        " log \(map(select(.n | test("_log_")) | .s) | add // 0)" +
        " log_B \(map(select(.n | test("_log_")) | .b) | add // 0)" +
        " leases \(map(select(.n | endswith("_kv_leases")) | .s) | add // 0)" +
        " budgets \(map(select(.n | test("_kv_budgets[0-9]*$")) | .s) | add // 0)"' || echo "?"
    for k in 0 1 2; do
        curl -fsS --max-time 5 "http://127.0.0.1:$((b + 20 + k))/varz" 2>/dev/null |
            jq -r '"\(.in_msgs) \(.out_msgs) \(.in_bytes) \(.out_bytes)"' || echo "0 0 0 0"
    done | awk '{ i += $1; o += $2; ib += $3; ob += $4 }
        END { printf " srv_in %d srv_out %d srv_in_B %d srv_out_B %d\n", i, o, ib, ob }'
}
msgdiff() { # before after: per kind, per confirm when N is given
    awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN {
        na = split(a, x, " "); split(b, y, " "); out = ""
        for (i = 1; i < na; i += 2) {
            d = y[i + 1] - x[i + 1]
            out = out sprintf("%s %d (%.3f/op) ", x[i], d, n ? d / n : 0)
        }
        print out }'
}
load() { cut -d' ' -f1-3 /proc/loadavg; }

start_nodes() { # count prefix bundle
    local i k
    for i in $(seq 0 $(($1 - 1))); do
        "$P" node "$3" --nats "$URL" --id "$i" --prefix "$2" --partitions "$PARTS" \
            --state "$tmp/state$2.$i" --lease-ms "$LEASE_MS" -v 2>>"$tmp/node$2.$i.log" &
        PIDS+=($!)
    done
    for i in $(seq 0 $(($1 - 1))); do
        for k in $(seq 1 300); do
            grep -q " up," "$tmp/node$2.$i.log" 2>/dev/null && break
            sleep 0.1
        done
    done
    client "$2" "$tmp/warm" >/dev/null # every partition owned, streams created
    sleep $((LEASE_MS * 2 / 1000 + 1))  # rebalanced
}
stop_nodes() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    PIDS=()
}
client() { # prefix input [client options]
    local pre=$1 in=$2
    shift 2
    "$P" client --nats "$URL" --prefix "$pre" --partitions "$PARTS" --timeout-ms 10000 \
        --batch "$BATCH" --window "$WINDOW" "$@" "$in" >"$tmp/out"
}
# One measured run: the client's --stats line, errors, CPU seconds of each side.
measure() { # label prefix input [client options]
    local label=$1 pre=$2 in=$3
    shift 3
    local s0 n0 c0 s1 n1
    local m0 m1 nops
    m0=$(msgs | tr '\n' ' ')
    s0=$(cpu $(servers))
    n0=$(cpu "${PIDS[@]}")
    local perfpid= perfnodes= perfcl=()
    if [ -n "${PERF_OUT:-}" ]; then # PERF_OUT=file: perf record servers, nodes, client
        perf record -q -F 499 -g -o "$PERF_OUT.$pre" -p "$(servers | paste -sd,)" 2>/dev/null &
        perfpid=$!
        perf record -q -F 499 -g -o "$PERF_OUT.$pre.nodes" -p "$(echo "${PIDS[@]}" | tr ' ' ,)" \
            2>/dev/null &
        perfnodes=$!
        perfcl=(perf record -q -F 499 -g -o "$PERF_OUT.$pre.client" --)
    fi
    /usr/bin/time -f "%U %S" -o "$tmp/time" "${perfcl[@]}" "$P" client --nats "$URL" --prefix "$pre" \
        --partitions "$PARTS" --timeout-ms 10000 --batch "$BATCH" --window "$WINDOW" --stats \
        "$@" "$in" >"$tmp/out" 2>"$tmp/stats"
    s1=$(cpu $(servers))
    n1=$(cpu "${PIDS[@]}")
    if [ -n "$perfpid" ]; then
        kill -INT "$perfpid" "$perfnodes"
        wait "$perfpid" "$perfnodes" || true
    fi
    m1=$(msgs | tr '\n' ' ')
    c0=$(awk '{ printf "%.2f", $1 + $2 }' "$tmp/time")
    local errs
    errs=$(grep -c '"error"' "$tmp/out" || true)
    echo "$label: $(sed 's/^client: //' "$tmp/stats" | head -n 1); $errs error records;" \
        "CPU s: servers $(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.2f", b - a }')," \
        "nodes $(awk -v a="$n0" -v b="$n1" 'BEGIN { printf "%.2f", b - a }'), client $c0; load $(load)"
    nops=$(wc -l <"$in")
    echo "  CPU µs per confirm: $(awk -v a="$s0" -v b="$s1" -v c="$n0" -v d="$n1" -v e="$c0" \
        -v n="$nops" 'BEGIN { s = (b - a) * 1e6 / n; d = (d - c) * 1e6 / n; e = e * 1e6 / n
            printf "servers %.1f, nodes %.1f, client %.1f, total %.1f", s, d, e, s + d + e }')"
    echo "  messages: $(msgdiff "$m0" "$m1" "$nops")"
}

echo "machine: $(nproc) cores, load $(load); $N receipts, $PARTS partitions, batch $BATCH, window $WINDOW"
for nodes in $NODES; do
    pre=b$$n$nodes
    start_nodes "$nodes" "$pre" "$tmp/set.pbc"
    c0=$(cpu $(servers)) n0=$(cpu "${PIDS[@]}") i0=$(msgs | sed -n 's/.*srv_in \([0-9]*\).*/\1/p')
    sleep 5
    i1=$(msgs | sed -n 's/.*srv_in \([0-9]*\).*/\1/p')
    echo "$nodes node(s) idle: CPU s per s: servers" \
        "$(awk -v a="$c0" -v b="$(cpu $(servers))" 'BEGIN { printf "%.2f", (b - a) / 5 }')," \
        "nodes $(awk -v a="$n0" -v b="$(cpu "${PIDS[@]}")" 'BEGIN { printf "%.2f", (b - a) / 5 }');" \
        "server messages in per s $(awk -v a="${i0:-0}" -v b="${i1:-0}" 'BEGIN { printf "%.0f", (b - a) / 5 }')"
    measure "$nodes node(s)" "$pre" "$IN"
    if [ "$nodes" = 2 ]; then
        if [ -z "${QUICK:-}" ]; then
            head -n 4000 "$IN" | sed 's/"id":"/"id":"lat/' >"$tmp/lat"
            measure "2 nodes, low load (batch 1, window 1, 4000 receipts)" "$pre" "$tmp/lat" \
                --batch 1 --window 1
        fi
        stop_nodes
        grep -hE "escrow|bucket:" "$tmp/node$pre".*.log | sed "s/^/  /"
        npre=nb$$
        start_nodes 2 "$npre" "$tmp/nobudget.pbc"
        measure "2 nodes, budgets removed (grant overhead = the difference)" "$npre" "$IN"
        [ -n "${QUICK:-}" ] && { stop_nodes; continue; }
        kill -KILL "${PIDS[1]}"
        wait "${PIDS[1]}" 2>/dev/null || true
        head -n 64 "$IN" | sed 's/"id":"/"id":"fo/' >"$tmp/fo"
        t0=$(date +%s.%N)
        client "$npre" "$tmp/fo"
        t1=$(date +%s.%N)
        echo "failover (node killed, client of 64 receipts right after):" \
            "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s (lease $LEASE_MS ms)"
    fi
    stop_nodes
done
