#!/usr/bin/env bash
# promo fmt: every file of rules/ and of the test corpus is a fixed point; a scrambled
# copy of each (white space only) formats back to it; the formatted set compiles to a
# byte-identical bundle; --check and --diff report without writing.
set -euo pipefail
PROMO=$1
SRC=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

corpus=$(cd "$SRC" && find rules tests/golden tests/fixtures -name '*.rule' | sort)
"$PROMO" fmt --check $(for f in $corpus; do echo "$SRC/$f"; done)

mkdir -p "$T/orig" "$T/scr"
(cd "$SRC" && cp --parents $corpus "$T/orig/")
(cd "$SRC" && cp --parents $corpus "$T/scr/")
seed=1
for f in $corpus; do
  python3 "$SRC/tests/tools/scramble.py" "$T/orig/$f" "$T/scr/$f" $seed
  seed=$((seed + 1))
done
# The scrambled copy really differs, --check says so, and fmt restores every file.
if "$PROMO" fmt --check "$T/scr/rules" > "$T/changed.txt"; then
  echo "scrambled files were not reported by --check"; exit 1
fi
[ "$(wc -l < "$T/changed.txt")" -ge 10 ]
"$PROMO" fmt --diff "$T/scr/rules/catalog/01_category_percent.rule" > "$T/diff.txt" || true
grep -q '^+++ ' "$T/diff.txt"
"$PROMO" fmt "$T/scr/rules" "$T/scr/tests"
for f in $corpus; do
  cmp "$T/orig/$f" "$T/scr/$f" || { diff -u "$T/orig/$f" "$T/scr/$f" | head -40; exit 1; }
done
"$PROMO" fmt --check "$T/scr/rules"   # idempotent

# Formatting never changes meaning: the same bundle, byte for byte.
(cd "$T/orig" && "$PROMO" build rules -o "$T/a.pbc")
python3 "$SRC/tests/tools/scramble.py" "$SRC/rules/catalog/06_two_plus_one.rule" "$T/scr/rules/catalog/06_two_plus_one.rule" 99
"$PROMO" fmt "$T/scr/rules/catalog/06_two_plus_one.rule"
(cd "$T/scr" && "$PROMO" build rules -o "$T/b.pbc")
cmp "$T/a.pbc" "$T/b.pbc"
# The clause after `limit N per customer` starts its own line (issue 13), and stays so.
cat > "$T/lim.rule" <<'RULE'
campaign w { then points 300 limit 1 per customer when total > 1 }
campaign v { then points 1 limit 2 per customer per day example "e" { line sku "1" qty 1 price 1 expect points 1 } }
RULE
"$PROMO" fmt "$T/lim.rule"
grep -qx '    limit    1 per customer' "$T/lim.rule" || { cat "$T/lim.rule"; exit 1; }
grep -qx '    when     total > 1' "$T/lim.rule" || { cat "$T/lim.rule"; exit 1; }
grep -qx '    limit    2 per customer per day' "$T/lim.rule" || { cat "$T/lim.rule"; exit 1; }
grep -qx '    example "e" {' "$T/lim.rule" || { cat "$T/lim.rule"; exit 1; }
"$PROMO" fmt --check "$T/lim.rule"
echo "fmt ok: $(echo "$corpus" | wc -l) files"
