/*
 * diag.h — compiler diagnostics: collection and rendering as text (gcc/clang style:
 * `path:line:col: error[E004]: message`, the source line, a caret/underline under the
 * span, notes), JSON, and SARIF 2.1.0. Every code is declared once below and
 * documented in docs/diagnostics.md.
 */
#ifndef PROMO_DIAG_H
#define PROMO_DIAG_H

#include <stddef.h>

#include "ast.h"

struct strbuf;

/* X(code, default message summary) */
#define DIAG_CODE_LIST(X)                                                                          \
    X(E001, "invalid character")                                                                   \
    X(E002, "unterminated string")                                                                 \
    X(E003, "invalid date or time")                                                                \
    X(E004, "syntax error")                                                                        \
    X(E005, "duplicate campaign id")                                                               \
    X(E006, "unknown name")                                                                        \
    X(E007, "unknown group")                                                                       \
    X(E008, "type mismatch")                                                                       \
    X(E009, "line fact outside a line predicate")                                                  \
    X(E010, "inverted date range")                                                                 \
    X(E011, "percent outside (0, 100]")                                                            \
    X(E012, "literal does not fit its type")                                                       \
    X(E013, "negative money")                                                                      \
    X(E014, "campaign without a reward")                                                           \
    X(E015, "clause given twice")                                                                  \
    X(E016, "limit per receipt on a reward it cannot count")                                       \
    X(E017, "empty hour range")                                                                    \
    X(E018, "unknown enumeration member")                                                          \
    X(E019, "name defined twice")                                                                  \
    X(E020, "set defined in terms of itself")                                                      \
    X(E021, "aggregate inside a line predicate")                                                   \
    X(E022, "invalid reward parameters")                                                           \
    X(E023, "invalid spend_limit scale")                                                           \
    X(E024, "invalid example")                                                                     \
    X(E025, "cannot read file")                                                                    \
    X(E026, "exceeds a limit of the bundle format")                                                \
    X(E027, "no campaigns")                                                                        \
    X(W001, "equal priority on the same lines")                                                    \
    X(W002, "campaign can never apply")                                                            \
    X(W003, "campaign already expired")                                                            \
    X(W004, "unused declaration")                                                                  \
    X(W005, "bundle price below a unit's worth")                                                   \
    X(W006, "spend_limit that can never apply")                                                    \
    X(W007, "campaign without an example")

typedef enum diag_code {
#define X(code, msg) DIAG_##code,
    DIAG_CODE_LIST(X)
#undef X
        DIAG__COUNT
} diag_code;

extern const char *const diag_code_names[DIAG__COUNT];   /* "E004" */
extern const char *const diag_code_summary[DIAG__COUNT]; /* "syntax error" */

typedef enum diag_severity { DIAG_ERROR, DIAG_WARNING, DIAG_NOTE } diag_severity;

#define DIAG_MAX_NOTES 4

typedef struct diag_note {
    src_span span;
    char *msg;
} diag_note;

typedef struct diag {
    diag_severity sev; /* ERROR for E codes, WARNING for W codes (--werror promotes) */
    diag_code code;
    src_span span;
    char *msg;
    diag_note notes[DIAG_MAX_NOTES];
    int nnotes;
    char *help; /* how to fix it, or NULL: a `help:` line after the diagnostic */
} diag;

typedef struct diag_list {
    diag *items;
    size_t n, cap;
    size_t nerrors, nwarnings;
    size_t nmore;          /* reported past DIAG_MAX_KEPT: counted, not kept */
    const src_file *files; /* borrowed from the compilation */
    size_t nfiles;
} diag_list;

/* At most this many diagnostics are kept per compilation (the first reported); the
 * rest are only counted (nerrors, nwarnings, nmore), so no input makes the output or
 * the memory grow without bound. The text rendering ends with "N more ... not shown". */
#define DIAG_MAX_KEPT 100

/* Adds a diagnostic (severity from the code's letter); returns it so notes can be
 * attached, or NULL past DIAG_MAX_KEPT (diag_add_note ignores NULL). */
diag *diag_report(diag_list *l, diag_code code, src_span span, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void diag_add_note(diag *d, src_span span, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Sets the `help:` line of d (replacing an earlier one). */
void diag_set_help(diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Column (1-based, in characters: a UTF-8 sequence counts one) of byte offset `off`
 * of file `file`, whose byte column is `byte_col`; byte_col itself when the file is
 * unknown. With utf16, in UTF-16 code units (LSP positions). */
uint32_t diag_char_col(const diag_list *l, uint32_t file, uint32_t off, uint32_t byte_col,
                       int utf16);
/* Stable order for output: by file, line, column, then report order. */
void diag_sort(diag_list *l);
void diag_list_free(diag_list *l);
/* Drops the diagnostics reported after the first n (the parser's retry). */
void diag_truncate(diag_list *l, size_t n);

void diag_render_text(const diag_list *l, struct strbuf *out, int color);
void diag_render_json(const diag_list *l, struct strbuf *out);
void diag_render_sarif(const diag_list *l, struct strbuf *out);

#endif
