#!/usr/bin/env bash
# Builds and runs the JSON reader comparison of docs/json-reader.md (throwaway; not
# part of the CMake build). Needs: apt-get install libjansson-dev libjson-c-dev
# libcjson-dev, and a build of libpromo_rt (default: build/).
#   bench/json_compare/run.sh [BUILD_DIR] [RECEIPTS]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-$SRC/build}
N=${2:-200000}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -I "$SRC/runtime" -I "$SRC/common" \
   "$SRC"/bench/json_compare/{json_compare,jc_jansson,jc_jsonc}.c "$BUILD/libpromo_rt.a" "$BUILD/libpromo_common.a" \
   $(pkg-config --libs simdjson jansson json-c libcjson) -lxxhash -lstdc++ -lm -lpthread \
   -o "$T/json_compare"
awk -v n="$N" -f "$SRC/bench/json_compare/gen.awk" > "$T/receipts.jsonl"
"$T/json_compare" "$T/receipts.jsonl" 5
