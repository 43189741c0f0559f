/*
 * compile.h — the compiler driver: sources -> lexer/parser -> AST -> checks -> code
 * generation -> bundle bytes. Used by `promo check/build/test/fmt`, the tests, the
 * fuzzers and the benchmarks.
 */
#ifndef PROMO_COMPILE_H
#define PROMO_COMPILE_H

#include <stddef.h>
#include <stdint.h>

#include "ast.h"
#include "diag.h"

struct strbuf;

typedef struct compile_opts {
    int32_t today; /* days since 1970 for the W003 "expired" lint; INT32_MIN = off */
    int werror;    /* warnings count as errors */
} compile_opts;

typedef struct compilation {
    ast_arena *arena;
    src_file *files; /* in the order added; comp_check sorts them by path (bytewise) */
    size_t nfiles, capfiles;
    ast_node **trees; /* one AST_FILE node per file (NULL when unparsable) */
    diag_list diags;
    compile_opts opts;
    int checked;           /* sema ran */
    int lint_examples;     /* W007 for campaigns without an example (--lint-examples) */
    int require_campaigns; /* set after comp_init (the CLI, unless --allow-empty): E027
                              for a set without campaigns, which would switch every
                              promotion off */
    void *sema;            /* sema results (compiler/sema.c) */
} compilation;

void comp_init(compilation *c, const compile_opts *opts);
void comp_free(compilation *c);

/* Reads a file (reports E025 on failure and returns -1): a directory, a device, or a
 * file larger than COMP_MAX_FILE is refused. */
#define COMP_MAX_FILE ((size_t)64 << 20)
int comp_add_file(compilation *c, const char *path);
/* Adds a source from memory (copied). */
void comp_add_source(compilation *c, const char *path, const char *text, size_t len);
/* Expands directories recursively to their *.rule files (sorted bytewise); plain paths
 * are added as given. Returns -1 when a path cannot be read (E025 reported). */
int comp_add_paths(compilation *c, char *const *paths, int npaths);

/* Parses every file and runs the checks; returns the number of errors (warnings
 * included with opts.werror). */
size_t comp_check(compilation *c);
/* comp_check, then code generation and the bundle writer; on success (return 0)
 * `out` holds the bundle bytes. Sources are ordered by path first, so the bundle does
 * not depend on the order files were named in. */
size_t comp_build(compilation *c, struct strbuf *out);

#endif
