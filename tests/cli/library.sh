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
# strbuf/xalloc abort on out-of-memory: no library code may use them (runtime/rbuf.h is
# the runtime's buffer, through the allocator hook).
if grep -rlE '#include "(strbuf|xalloc)\.h"' "$SRC/runtime/"; then
  echo "runtime/ uses strbuf/xalloc (abort on OOM)"; exit 1
fi
# Every allocation of the runtime goes through the allocator hook: no function of
# runtime/ but alloc.c's calls libc's allocator (or strbuf/xalloc) itself. (xxHash's
# XXH_malloc/XXH_free, emitted unused by -O0 builds, are not ours and never called.)
OBJ="$BUILD/CMakeFiles/promo_rt_obj.dir/runtime"
[ -e "$OBJ/alloc.c.o" ] || { echo "no runtime objects in $OBJ"; exit 1; }
for o in "$OBJ"/*.o; do
  [ "$(basename "$o")" = alloc.c.o ] && continue
  bad=$(objdump -dr "$o" | awk '
    /^[0-9a-f]+ <.*>:$/ { fn = $2 }
    /R_[A-Z0-9_]+[ \t]/ { sym = $NF; sub(/[-+]0x[0-9a-f]+$/, "", sym); print fn, sym }' |
    { grep -E ' (malloc|calloc|realloc|free|strdup|strndup|aligned_alloc|posix_memalign|x(malloc|calloc|realloc|strdup|free)|sb_[a-z_]+)$' || true; } |
    { grep -v '^<XXH_' || true; } | sort -u | tr '\n' ' ')
  [ -z "$bad" ] || { echo "$(basename "$o") allocates past the hook: $bad"; exit 1; }
done
# stacking.c's arenas are reset by lists (STK_RECEIPT_ARRAYS, STK_GEN_ARRAYS,
# STK_EVAL_ARRAYS) that the reserve macros enforce at compile time; a direct
# stk_reserve/arena_reserve call would bypass them.
if grep -nE 'stk_reserve\(&[a-z]|arena_reserve\(&' "$SRC/runtime/stacking.c"; then
  echo "stacking.c reserves arena memory past STK_RESERVE/STK_GRESERVE/STK_ERESERVE"; exit 1
fi
echo "library ok: $(wc -l <<<"$syms") promo_* symbols, SONAME $soname"
