/*
 * compile_helpers.h — test helpers around the compiler driver (compile.h): compile
 * sources held in memory and get their diagnostics as compact, assertable text.
 */
#ifndef PROMO_TEST_COMPILE_HELPERS_H
#define PROMO_TEST_COMPILE_HELPERS_H

#include <stdint.h>

#include "compile.h"

/* Compact rendering of a compilation's diagnostics after diag_sort, one per line:
 *   "path:line:col: E008: message\n" and, for each note, "path:line:col: note: message\n".
 * Returns a malloc'd string (free with free()). */
char *diags_compact(const compilation *c);

/* Compiles one source named "t.rule" (comp_check, opts.today off) and returns
 * diags_compact of the result. */
char *check_src(const char *src);

/* Same with several files (added in the order given) and an explicit `today`
 * (days since 1970, INT32_MIN = off). */
char *check_srcs(int n, const char *const *paths, const char *const *texts, int32_t today);

/* Initialises `c` and runs comp_check on one source "t.rule"; the caller inspects
 * sema_get(c) and calls comp_free(c). Returns the error count. */
size_t comp_src(compilation *c, const char *src);

#endif
