# cli_prelude.bash — sourced by the end-to-end scripts in tests/cli/: a scratch
# directory $T removed on exit, and fail MESSAGE (prints it and exits 1).
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
