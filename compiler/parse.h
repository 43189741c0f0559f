/*
 * parse.h — the front end (stages 1-2 of the pipeline: *lexer -> parser* -> AST ->
 * checks -> code generation -> bundle). grammar/lexer.re turns a NUL-terminated
 * source into tokens; grammar/parser.y (Bison) builds the AST of compiler/ast.h.
 * Lexical and syntax errors go to the compilation's diagnostics (E001-E004, E012).
 */
#ifndef PROMO_PARSE_H
#define PROMO_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "ast.h"
#include "compile.h"

/* A comment, kept aside for `promo fmt`: the span covers `#` up to the end of the line
 * (newline excluded); the text is files[span.file].text + span.off. */
typedef struct parse_comment {
    src_span span;
} parse_comment;

typedef struct parse_comments {
    parse_comment *items;
    size_t n, cap;
} parse_comments;

void parse_comments_free(parse_comments *cm);

/* Parses file `file` of the compilation. Returns its AST_FILE node (str = path,
 * ival = file index), or NULL when the parser had to give up (it still reported every
 * error it found). Syntax errors are recovered at declaration, clause and example item
 * level. When `comments` is not NULL, every comment is appended to it in source order. */
ast_node *parse_file(compilation *c, uint32_t file, parse_comments *comments);
static inline ast_node *parse_source(compilation *c, uint32_t file) {
    return parse_file(c, file, NULL);
}

/* The printable name of a token as used in "expected X, found Y": 'campaign', '{',
 * identifier, integer, end of file... `token` is a Bison token number (parser.h). */
const char *parse_token_name(int token);

/* ---- the lexer (grammar/lexer.re), exposed for the parser and the tests ---- */

#define LEX_MAX_OPEN 32

typedef struct lexer {
    compilation *c;
    uint32_t file;
    const char *text; /* start of the file (NUL-terminated) */
    const char *lim;  /* the terminating NUL */
    const char *cur, *tok, *mar, *line_start;
    uint32_t line;
    const char *last_end, *last_line_start; /* end of the last token, for EOF */
    uint32_t last_line;
    parse_comments *comments; /* NULL: comments are skipped */
    /* Open brackets ( [ {, so a syntax error can point at the one left unclosed. */
    src_span open[LEX_MAX_OPEN];
    char open_kind[LEX_MAX_OPEN];
    int nopen;
} lexer;

void lex_init(lexer *lx, compilation *c, uint32_t file, parse_comments *comments);
/* Returns the next token (0 at end of file) and its span; literal and identifier
 * tokens also give their AST node (NUM, PERCENT, STRING, DATE, TIME, DATETIME, IDENT)
 * in *val, other tokens NULL. Lexical errors are reported and skipped. */
int lex_next(lexer *lx, ast_node **val, src_span *span);
/* The token of a reserved word, or 0 when `s` (n bytes) is not one. */
int lex_keyword(const char *s, size_t n);

#endif
