# cli_prelude.bash — sourced by the end-to-end scripts in tests/cli/: a scratch
# directory $T removed on exit, and fail MESSAGE (prints it and exits 1).
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
# wait_lines FILE N / wait_grep PATTERN FILE: wait (at most 60 s) until FILE has N lines /
# a line matching PATTERN, else fail. Steps that talk to a running `promo run` wait for
# what it has answered, never for a fixed time: a loaded CI machine under ASan can take
# longer than any fixed sleep.
wait_lines() {
    for _ in $(seq 600); do
        [ "$(wc -l < "$1" 2> /dev/null || echo 0)" -ge "$2" ] && return 0
        sleep 0.1
    done
    fail "timeout waiting for $2 lines in $1: $(cat "$1")"
}
wait_grep() {
    for _ in $(seq 600); do
        grep -q "$1" "$2" && return 0
        sleep 0.1
    done
    fail "timeout waiting for '$1' in $2: $(cat "$2")"
}
