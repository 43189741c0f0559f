#!/usr/bin/env bash
# bench/callgrind_state.sh — instructions per receipt of `promo run --state` against the
# in-memory run (docs/performance.md "State of record"): the load-independent figure the
# state path's before/after is measured with on the shared 2-core machine.
#
#   bench/callgrind_state.sh [RECEIPTS]      (default 10000; BUILD=build-rel)
#
# Input: the first RECEIPTS receipts of `promo-gen --seed 1 --campaigns 400 --receipts
# 100000`. Runs `valgrind --tool=callgrind promo run -q --threads 1 [--state DIR]` and
# divides the whole process's instructions (start-up and bundle load included) by
# RECEIPTS. valgrind cannot reserve LMDB's 64 GB map: the --state run is given, through
# LD_PRELOAD, a shim built here that caps mdb_env_set_mapsize at 4 GB (promo itself is
# unchanged). The syncer's group size depends on time (10 ms), so --state counts vary by
# a few tenths of a percent from run to run.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-rel}
N=${1:-10000}
command -v valgrind >/dev/null || { echo "callgrind_state.sh: valgrind is needed" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/promo-cg-state.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/mapcap.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
typedef struct MDB_env MDB_env;
int mdb_env_set_mapsize(MDB_env *env, size_t size) {
    int (*real)(MDB_env *, size_t) = (int (*)(MDB_env *, size_t))dlsym(RTLD_NEXT, "mdb_env_set_mapsize");
    return real(env, size > ((size_t)4 << 30) ? (size_t)4 << 30 : size);
}
EOF
cc -O2 -shared -fPIC -o "$tmp/mapcap.so" "$tmp/mapcap.c" -ldl
"$BUILD/bench/promo-gen" --seed 1 --campaigns 400 --receipts 100000 --out "$tmp/w" --quiet
"$BUILD/promo" build "$tmp/w/rules" -o "$tmp/set.pbc" >/dev/null 2>&1
head -n "$N" "$tmp/w/receipts.jsonl" > "$tmp/r.jsonl"
count() { # instructions of the callgrind run of "$@"
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" "$@" > /dev/null 2> "$tmp/vg.err"
    grep -E '^==[0-9]+== Collected' "$tmp/vg.err" | awk '{print $4}'
}
mem=$(count "$BUILD/promo" run -q --threads 1 "$tmp/set.pbc" "$tmp/r.jsonl")
state=$(LD_PRELOAD=$tmp/mapcap.so count "$BUILD/promo" run -q --threads 1 --state "$tmp/st" \
    "$tmp/set.pbc" "$tmp/r.jsonl")
awk -v m="$mem" -v s="$state" -v n="$N" 'BEGIN {
    printf "receipts: %d (400 campaigns, 1 thread, whole process)\n", n
    printf "in-memory: %.1fk instructions per receipt\n", m / n / 1000
    printf "--state:   %.1fk instructions per receipt (+%.1fk)\n", s / n / 1000, (s - m) / n / 1000 }'
