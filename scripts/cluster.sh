#!/usr/bin/env bash
# A three-server NATS JetStream cluster on 127.0.0.1 only, for `promo node`, its tests,
# the README example and the benchmark (docs/deploy.md).
#
#   scripts/cluster.sh up       start n1..n3 (idempotent: a healthy cluster is left as is);
#                               prints the client URL list on stdout
#   scripts/cluster.sh down     stop the servers (SIGTERM, then SIGKILL) and remove the dir
#   scripts/cluster.sh status   exit 0 and print the URL list iff all three are healthy
#   scripts/cluster.sh url      print the URL list (nats://127.0.0.1:P1,...)
#   scripts/cluster.sh stop N   kill -9 server N (1..3), for failure tests
#   scripts/cluster.sh start N  restart server N with its old store
#
# Environment:
#   PROMO_CLUSTER_DIR  where configs, logs, pids and JetStream stores go
#                      (default /tmp/promo-cluster-$UID)
#   PROMO_NATS_PORT    first client port (default 14222); "auto" picks a free range.
#                      Server i listens on PORT+i-1 (clients), PORT+10+i-1 (routes) and
#                      PORT+20+i-1 (HTTP monitoring, for the health check).
# The chosen port is remembered in the dir, so later commands need only the dir.
set -euo pipefail

DIR=${PROMO_CLUSTER_DIR:-/tmp/promo-cluster-$(id -u)}
NATS=${NATS_SERVER:-nats-server}
UP_TIMEOUT=${PROMO_CLUSTER_TIMEOUT:-30}

die() { echo "cluster.sh: $*" >&2; exit 2; }

port_free() { ! ss -ltnH "sport = :$1" 2>/dev/null | grep -q .; }

range_free() {
    local b=$1 k
    for k in 0 1 2 10 11 12 20 21 22; do port_free $((b + k)) || return 1; done
}

base_port() {
    if [ -f "$DIR/port" ]; then cat "$DIR/port"; return; fi
    local p=${PROMO_NATS_PORT:-14222} tries=0
    if [ "$p" = auto ]; then
        while :; do
            p=$((20000 + (RANDOM % 400) * 30))
            range_free "$p" && break
            tries=$((tries + 1))
            [ $tries -lt 50 ] || die "no free port range found"
        done
    fi
    mkdir -p "$DIR"
    echo "$p" >"$DIR/port"
    echo "$p"
}

urls() {
    local b=$1
    echo "nats://127.0.0.1:$b,nats://127.0.0.1:$((b + 1)),nats://127.0.0.1:$((b + 2))"
}

write_conf() { # i base
    local i=$1 b=$2
    cat >"$DIR/n$i.conf" <<EOF
server_name: n$i
listen: 127.0.0.1:$((b + i - 1))
http: 127.0.0.1:$((b + 20 + i - 1))
max_payload: 8MB
jetstream {
  store_dir: "$DIR/n$i"
  max_memory_store: 256MB
  max_file_store: 2GB
}
cluster {
  name: promo
  listen: 127.0.0.1:$((b + 10 + i - 1))
  routes: [
    nats-route://127.0.0.1:$((b + 10))
    nats-route://127.0.0.1:$((b + 11))
    nats-route://127.0.0.1:$((b + 12))
  ]
}
EOF
}

alive() { # i
    local pid
    [ -f "$DIR/n$1.pid" ] || return 1
    pid=$(cat "$DIR/n$1.pid")
    kill -0 "$pid" 2>/dev/null
}

start_one() { # i base
    local i=$1 b=$2
    alive "$i" && return 0
    write_conf "$i" "$b"
    mkdir -p "$DIR/n$i"
    # setsid: the servers must not die with the caller's terminal or process group,
    # and must not hold the caller's stdout open.
    setsid "$NATS" -c "$DIR/n$i.conf" -l "$DIR/n$i.log" </dev/null >/dev/null 2>&1 &
    echo $! >"$DIR/n$i.pid"
}

healthy_one() { # i base: answers, JetStream enabled, and a meta leader is known
    local b=$2 j
    j=$(curl -fsS --max-time 2 "http://127.0.0.1:$((b + 20 + $1 - 1))/jsz" 2>/dev/null) || return 1
    [ -n "$(jq -r '.meta_cluster.leader // empty' <<<"$j" 2>/dev/null)" ]
}

healthy() {
    local b=$1 i
    for i in 1 2 3; do
        alive "$i" && healthy_one "$i" "$b" || return 1
    done
}

wait_healthy() { # base [servers...]
    local b=$1 deadline=$((SECONDS + UP_TIMEOUT))
    while [ $SECONDS -lt $deadline ]; do
        healthy "$b" && return 0
        sleep 0.2
    done
    return 1
}

stop_all() {
    local i pid t
    for i in 1 2 3; do
        [ -f "$DIR/n$i.pid" ] && kill -TERM "$(cat "$DIR/n$i.pid")" 2>/dev/null || true
    done
    for t in $(seq 50); do
        local any=0
        for i in 1 2 3; do alive "$i" && any=1; done
        [ $any = 0 ] && break
        sleep 0.1
    done
    for i in 1 2 3; do
        if alive "$i"; then
            pid=$(cat "$DIR/n$i.pid")
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
}

cmd=${1:-}
case "$cmd" in
up)
    command -v "$NATS" >/dev/null || die "nats-server not found (bash scripts/deps.sh installs it)"
    if [ -f "$DIR/port" ] && ! alive 1 && ! alive 2 && ! alive 3; then
        rm -rf "$DIR" # left over by a run that died: start afresh (its port may be taken)
    fi
    b=$(base_port)
    if healthy "$b"; then urls "$b"; exit 0; fi
    for i in 1 2 3; do start_one "$i" "$b"; done
    if ! wait_healthy "$b"; then
        echo "cluster.sh: cluster did not become healthy in ${UP_TIMEOUT}s; logs:" >&2
        tail -n 5 "$DIR"/n*.log >&2 || true
        stop_all
        exit 1
    fi
    urls "$b"
    ;;
down)
    [ -d "$DIR" ] || exit 0
    stop_all
    rm -rf "$DIR"
    ;;
status)
    [ -f "$DIR/port" ] || { echo "down"; exit 1; }
    b=$(cat "$DIR/port")
    if healthy "$b"; then urls "$b"; else echo "unhealthy"; exit 1; fi
    ;;
url)
    [ -f "$DIR/port" ] || die "no cluster in $DIR"
    urls "$(cat "$DIR/port")"
    ;;
stop)
    [[ ${2:-} =~ ^[123]$ ]] || die "usage: cluster.sh stop 1|2|3"
    alive "$2" && kill -KILL "$(cat "$DIR/n$2.pid")"
    ;;
start)
    [[ ${2:-} =~ ^[123]$ ]] || die "usage: cluster.sh start 1|2|3"
    b=$(cat "$DIR/port")
    start_one "$2" "$b"
    wait_healthy "$b" || die "server $2 did not rejoin in ${UP_TIMEOUT}s"
    ;;
*)
    echo "usage: scripts/cluster.sh up|down|status|url|stop N|start N" >&2
    exit 2
    ;;
esac
