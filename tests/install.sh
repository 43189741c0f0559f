#!/usr/bin/env bash
# A fresh-prefix install of libpromo, as docs/embedding.md tells it: the library-only
# configure, `cmake --install`, then the embedding example built with pkg-config and with
# find_package(promo), each run on a real bundle. The doc's blocks are run verbatim
# (the ones marked <!-- test: NAME -->). Usage: tests/install.sh PROMO_BINARY
set -euo pipefail
PROMO=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
SRC=$(cd "$(dirname "$0")/.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
DOC=$SRC/docs/embedding.md

block() { # the fenced block after <!-- test: $1 -->
  awk -v tag="<!-- test: $1 -->" '$0 == tag {want=1; next}
    want && /^```/ {if (on) exit; on=1; next} on' "$DOC"
}
awk '/^```c$/{on=1;next} /^```$/{on=0} on' "$DOC" > "$T/embed.c"
for t in install pkg-config cmake-lists find_package; do
  [ -n "$(block $t)" ] || { echo "docs/embedding.md has no '$t' block"; exit 1; }
done

export PREFIX=$T/prefix
# The library-only build must not need the compiler's or the tests' tools.
(cd "$SRC" && rm -rf build-lib && bash -euo pipefail -c "$(block install)") > "$T/install.log" 2>&1 ||
  { cat "$T/install.log"; echo "library-only build/install failed"; exit 1; }
if grep -qE '^(CRITERION|benchmark_DIR|RE2C|BISON_EXECUTABLE|JEMALLOC)[A-Z_]*:' "$SRC/build-lib/CMakeCache.txt"; then
  grep -E '^(CRITERION|benchmark_DIR|RE2C|BISON_EXECUTABLE|JEMALLOC)' "$SRC/build-lib/CMakeCache.txt"
  echo "the library-only configure looked for a tool it does not need"; exit 1
fi
rm -rf "$SRC/build-lib"
for f in include/promo.h lib/libpromo.a lib/pkgconfig/promo.pc lib/cmake/promo/promoConfig.cmake; do
  [ -e "$PREFIX/$f" ] || { echo "not installed: $f"; ls -R "$PREFIX"; exit 1; }
done
[ "$(readlink "$PREFIX/lib/libpromo.so")" = libpromo.so.0 ] || { echo "libpromo.so does not link to the SONAME"; exit 1; }
syms=$(nm -D --defined-only "$PREFIX/lib/libpromo.so" | awk '{print $NF}')
if grep -v '^promo_' <<<"$syms"; then echo "installed libpromo.so exports more than promo_*"; exit 1; fi

"$PROMO" build "$SRC/tests/fixtures/embed_dairy.rule" -o "$T/set.pbc"

expect() { # output of ./embed
  grep -qx 'total 600.00, discount 60.00, 1 campaign(s) applied' <<<"$1" &&
    grep -q '"id":"r2","total":600.00,"discount":60.00,"final":540.00' <<<"$1"
}
mkdir "$T/pc" "$T/cm"
cp "$T/embed.c" "$T/set.pbc" "$T/pc/"
cp "$T/embed.c" "$T/set.pbc" "$T/cm/"
out=$(cd "$T/pc" && bash -euo pipefail -c "$(block pkg-config)")
expect "$out" || { echo "pkg-config build: unexpected output"; echo "$out"; exit 1; }
block cmake-lists > "$T/cm/CMakeLists.txt"
out=$(cd "$T/cm" && bash -euo pipefail -c "$(block find_package)" 2>&1)
expect "$out" || { echo "find_package build: unexpected output"; echo "$out"; exit 1; }
echo "install ok: library-only build, pkg-config and find_package(promo) examples run"
