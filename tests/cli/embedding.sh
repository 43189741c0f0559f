#!/usr/bin/env bash
# docs/embedding.md's example must compile against libpromo and run on a real bundle.
set -euo pipefail
PROMO=$1
SRC=$2
BUILD=$(cd "$(dirname "$PROMO")" && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
awk '/^```c$/{on=1;next} /^```$/{on=0} on' "$SRC/docs/embedding.md" > "$T/embed.c"
[ -s "$T/embed.c" ] || { echo "no C example in docs/embedding.md"; exit 1; }
"$PROMO" build "$SRC/tests/fixtures/embed_dairy.rule" -o "$T/set.pbc"
# Sanitizer builds need the sanitizer runtime in the example too.
EXTRA=""
# (nm's output is captured first: `nm | grep -q` under pipefail fails at random when
# grep exits early and nm gets SIGPIPE.)
syms=$(nm -D "$BUILD/libpromo.so" 2>/dev/null || true)
if grep -q __asan_init <<<"$syms"; then
  EXTRA="-fsanitize=address,undefined"
fi
cc -std=c11 -Wall -Wextra -Werror $EXTRA -I "$SRC/runtime" "$T/embed.c" -L "$BUILD" -lpromo \
   -Wl,-rpath,"$BUILD" -o "$T/embed"
out=$("$T/embed" "$T/set.pbc")
echo "$out"
# 2 x 300.00 = 600.00 >= 500: 10% = 60.00 off.
grep -qx 'total 600.00, discount 60.00, 1 campaign(s) applied' <<<"$out"
grep -q '"id":"r2","total":600.00,"discount":60.00,"final":540.00' <<<"$out"
echo "embedding example ok"
