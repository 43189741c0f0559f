#!/usr/bin/env bash
# bench/cluster.sh — the scale-out end to end (docs/performance.md, "Scale-out"): a
# 3-server R3 JetStream cluster on loopback (scripts/cluster.sh), 1 then 2 `promo node`s
# with their LMDB stores, `promo client` sending N generated receipts (the 400-campaign
# workload, customer ids spread over the partitions). Prints confirms/s (N / client wall
# time), then the failover: a node killed with SIGKILL while idle, and the wall time of a
# client run of one receipt per partition right after (lease expiry + replay + retries).
#   bench/cluster.sh [RECEIPTS]   (default 20000; BUILD=build-rel, LEASE_MS=2000,
#                                  PARTITIONS=8, BATCH=256)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-rel}
N=${1:-20000}
LEASE_MS=${LEASE_MS:-2000}
PARTS=${PARTITIONS:-8}
BATCH=${BATCH:-256}
P=$BUILD/promo
tmp=$(mktemp -d "${TMPDIR:-/tmp}/promo-cluster-bench.XXXXXX")
export PROMO_CLUSTER_DIR=$tmp/nats PROMO_NATS_PORT=auto
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    bash "$ROOT/scripts/cluster.sh" down >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
URL=$(bash "$ROOT/scripts/cluster.sh" up)
"$BUILD/bench/promo-gen" --seed 1 --campaigns 400 --receipts "$N" --out "$tmp/w" --quiet
"$P" build "$tmp/w/rules" -o "$tmp/set.pbc" >/dev/null
IN=$tmp/w/receipts.jsonl

node() { # id prefix
    "$P" node "$tmp/set.pbc" --nats "$URL" --id "$1" --prefix "$2" --partitions "$PARTS" \
        --state "$tmp/state$2.$1" --lease-ms "$LEASE_MS" --batch "$BATCH" 2>>"$tmp/node.log" &
    PIDS+=($!)
}
client() { # prefix input
    "$P" client --nats "$URL" --prefix "$1" --partitions "$PARTS" --timeout-ms 10000 "$2" \
        >"$tmp/out"
}
secs() { # wall seconds of "$@"
    local t0 t1
    t0=$(date +%s.%N)
    "$@"
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
}

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for nodes in 1 2; do
    pre=b$$n$nodes
    for i in $(seq 0 $((nodes - 1))); do node "$i" "$pre"; done
    head -n 64 "$IN" | sed 's/"id":"/"id":"warm/' >"$tmp/warm"
    client "$pre" "$tmp/warm" # every partition owned, streams created
    s=$(secs client "$pre" "$IN")
    errs=$(grep -c '"error"' "$tmp/out" || true)
    echo "$nodes node(s): $N confirms in $s s = $(awk -v n="$N" -v s="$s" 'BEGIN { printf "%.0f", n / s }') confirms/s ($errs error records)"
    if [ "$nodes" = 2 ]; then
        kill -KILL "${PIDS[1]}"
        head -n 64 "$IN" | sed 's/"id":"/"id":"fo/' >"$tmp/fo"
        echo "failover (node killed, client of 64 receipts right after): $(secs client "$pre" "$tmp/fo") s (lease $LEASE_MS ms)"
    fi
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    PIDS=()
done
