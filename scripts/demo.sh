#!/usr/bin/env bash
# README's first command: install what is missing, build (the promo command and libpromo:
# build/libpromo.so, build/libpromo.a), compile the campaign catalog in rules/, and
# evaluate the sample receipt stream.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DPROMO_BENCH=OFF >/dev/null
cmake --build build -j"$(nproc)" --target promo_cli promo promo_static >/dev/null
P=build/promo
echo "== promo check rules/"
$P check rules/
echo "== promo build rules/ -o build/rules.pbc"
$P build rules/ -o build/rules.pbc
echo "== promo disasm build/rules.pbc (first lines)"
$P disasm build/rules.pbc > build/rules.disasm
head -n 25 build/rules.disasm
echo "(the whole listing: build/rules.disasm)"
echo "== promo run build/rules.pbc rules/sample/receipts.jsonl"
$P run build/rules.pbc rules/sample/receipts.jsonl --summary > build/results.jsonl
head -n 5 build/results.jsonl
echo "(all $(wc -l < build/results.jsonl) results in build/results.jsonl)"
