#!/usr/bin/env bash
# libpromo as a product: the shared library exports promo_* and nothing else (a host
# program's own xmalloc or sb_* must never be replaced by ours), carries a versioned
# SONAME, and the runtime sources need nothing from the compiler or the tools.
set -euo pipefail
PROMO=$1
SRC=$2
BUILD=$(cd "$(dirname "$PROMO")" && pwd)
LIB=$BUILD/libpromo.so
[ -e "$LIB" ] || { echo "no $LIB"; exit 1; }

# Defined dynamic symbols (captured first: `nm | grep -q` under pipefail can SIGPIPE).
syms=$(nm -D --defined-only "$LIB" | awk '{print $NF}')
[ -n "$syms" ] || { echo "libpromo.so exports nothing"; exit 1; }
bad=$(grep -v '^promo_' <<<"$syms" || true)
if [ -n "$bad" ]; then
  echo "libpromo.so exports symbols outside promo_*:"; echo "$bad"; exit 1
fi
for s in promo_engine_new promo_eval promo_version_number promo_date promo_time \
         promo_engine_opts_init promo_bundle_checksum; do
  grep -qx "$s" <<<"$syms" || { echo "libpromo.so does not export $s"; exit 1; }
done

soname=$(readelf -d "$LIB" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = "libpromo.so.0" ] || { echo "SONAME is '$soname', expected libpromo.so.0"; exit 1; }
[ -e "$BUILD/libpromo.a" ] || { echo "no libpromo.a"; exit 1; }

# The runtime is independent of the compiler and of the tools library.
if grep -rn 'compiler/' "$SRC/runtime/"; then echo "runtime/ refers to compiler/"; exit 1; fi
if grep -rnE '#include "(disasm|atomic_write|ast|codegen|compile|sema|diag)\.h"' "$SRC/runtime/"; then
  echo "runtime/ includes a compiler or tools header"; exit 1
fi
# strbuf/xalloc abort on out-of-memory: no library code may use them. The one known
# exception is runtime/ops.c (journal records, issue 9), to move onto the engine's
# allocator; any other file is a failure.
if grep -rlE '#include "(strbuf|xalloc)\.h"' "$SRC/runtime/" | grep -v '/ops\.c$'; then
  echo "runtime/ uses strbuf/xalloc (abort on OOM)"; exit 1
fi
echo "library ok: $(wc -l <<<"$syms") promo_* symbols, SONAME $soname"
