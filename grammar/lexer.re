/*
 * lexer.re — stage 1 of the pipeline (*lexer* -> parser -> AST -> checks -> code
 * generation -> bundle). re2c 3.0 turns this file into build/gen/lexer.c.
 *
 * The input is the NUL-terminated text of one source file. Literal tokens carry their
 * AST node (numbers as mantissa + scale, dates as days, times as seconds) so the
 * parser only links nodes. Lexical errors are reported here and the offending bytes
 * skipped, so the parser never sees them and one file can report many problems.
 * Comments are not tokens; they go to a side list for `promo fmt`.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "civil.h"
#include "diag.h"
#include "parse.h"
#include "parser.h"
#include "xalloc.h"

/* Reserved words, sorted bytewise for bsearch. The printable names live in the
 * grammar (token aliases), see parse_token_name. */
static const struct lex_kw {
    const char *word;
    int tok;
} lex_keywords[] = {
    {"activate", KW_ACTIVATE},
    {"active", KW_ACTIVE},
    {"amount", KW_AMOUNT},
    {"and", KW_AND},
    {"any", KW_ANY},
    {"applied", KW_APPLIED},
    {"at", KW_AT},
    {"attr", KW_ATTR},
    {"benefit", KW_BENEFIT},
    {"birthday", KW_BIRTHDAY},
    {"bonus", KW_BONUS},
    {"brand", KW_BRAND},
    {"budget", KW_BUDGET},
    {"bundle", KW_BUNDLE},
    {"buy", KW_BUY},
    {"campaign", KW_CAMPAIGN},
    {"card", KW_CARD},
    {"cash", KW_CASH},
    {"category", KW_CATEGORY},
    {"channel", KW_CHANNEL},
    {"code", KW_CODE},
    {"combine", KW_COMBINE},
    {"count", KW_COUNT},
    {"coupon", KW_COUPON},
    {"credit", KW_CREDIT},
    {"customer", KW_CUSTOMER},
    {"date", KW_DATE},
    {"day", KW_DAY},
    {"days", KW_DAYS},
    {"discount", KW_DISCOUNT},
    {"distinct", KW_DISTINCT},
    {"each", KW_EACH},
    {"example", KW_EXAMPLE},
    {"excluded", KW_EXCLUDED},
    {"expect", KW_EXPECT},
    {"expire", KW_EXPIRE},
    {"final", KW_FINAL},
    {"for", KW_FOR},
    {"free", KW_FREE},
    {"fri", KW_FRI},
    {"from", KW_FROM},
    {"get", KW_GET},
    {"group", KW_GROUP},
    {"history", KW_HISTORY},
    {"hours", KW_HOURS},
    {"id", KW_ID},
    {"if", KW_IF},
    {"in", KW_IN},
    {"limit", KW_LIMIT},
    {"line", KW_LINE},
    {"lines", KW_LINES},
    {"message", KW_MESSAGE},
    {"mixed", KW_MIXED},
    {"mon", KW_MON},
    {"month", KW_MONTH},
    {"none", KW_NONE},
    {"not", KW_NOT},
    {"of", KW_OF},
    {"off", KW_OFF},
    {"on", KW_ON},
    {"online", KW_ONLINE},
    {"or", KW_OR},
    {"original_price", KW_ORIGINAL_PRICE},
    {"original_total", KW_ORIGINAL_TOTAL},
    {"paid", KW_PAID},
    {"partial", KW_PARTIAL},
    {"payment", KW_PAYMENT},
    {"per", KW_PER},
    {"points", KW_POINTS},
    {"points_paid", KW_POINTS_PAID},
    {"pos", KW_POS},
    {"price", KW_PRICE},
    {"priority", KW_PRIORITY},
    {"qty", KW_QTY},
    {"receipt", KW_RECEIPT},
    {"region", KW_REGION},
    {"registered", KW_REGISTERED},
    {"sat", KW_SAT},
    {"segment", KW_SEGMENT},
    {"segments", KW_SEGMENTS},
    {"set", KW_SET},
    {"sku", KW_SKU},
    {"spend_limit", KW_SPEND_LIMIT},
    {"stop", KW_STOP},
    {"store", KW_STORE},
    {"stores", KW_STORES},
    {"sum", KW_SUM},
    {"sun", KW_SUN},
    {"then", KW_THEN},
    {"thu", KW_THU},
    {"tiebreak", KW_TIEBREAK},
    {"tier", KW_TIER},
    {"time", KW_TIME},
    {"total", KW_TOTAL},
    {"tue", KW_TUE},
    {"visits", KW_VISITS},
    {"wed", KW_WED},
    {"week", KW_WEEK},
    {"weekday", KW_WEEKDAY},
    {"weeks", KW_WEEKS},
    {"when", KW_WHEN},
    {"where", KW_WHERE},
    {"with", KW_WITH},
    {"within", KW_WITHIN},
};

int lex_keyword(const char *s, size_t n) {
    size_t lo = 0, hi = sizeof lex_keywords / sizeof lex_keywords[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *w = lex_keywords[mid].word;
        int cmp = strncmp(w, s, n);
        if (cmp == 0 && w[n] != 0) cmp = 1; /* w is longer: w > s */
        if (cmp == 0) return lex_keywords[mid].tok;
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

void lex_init(lexer *lx, compilation *c, uint32_t file, parse_comments *comments) {
    memset(lx, 0, sizeof *lx);
    lx->c = c;
    lx->file = file;
    lx->text = c->files[file].text;
    lx->lim = lx->text + c->files[file].len;
    lx->cur = lx->text;
    /* A UTF-8 byte order mark is not part of the program. */
    if (lx->lim - lx->cur >= 3 && memcmp(lx->cur, "\xEF\xBB\xBF", 3) == 0) lx->cur += 3;
    lx->line_start = lx->text;
    lx->line = 1;
    lx->comments = comments;
    lx->last_end = lx->cur;
    lx->last_line = 1;
    lx->last_line_start = lx->text;
}

static src_span lex_span(const lexer *lx, const char *from, const char *to) {
    src_span s;
    s.file = lx->file;
    s.line = lx->line;
    s.col = (uint32_t)(from - lx->line_start) + 1;
    s.off = (uint32_t)(from - lx->text);
    s.len = (uint32_t)(to - from);
    return s;
}

static ast_node *lex_node(lexer *lx, ast_kind kind, src_span sp) {
    return ast_new(lx->c->arena, kind, sp);
}

/* Digits with `_` separators -> value; 0 on overflow. */
static int lex_digits(const char *s, const char *e, int64_t acc, int64_t *out, int *ndigits) {
    int n = 0;
    for (; s < e; s++) {
        if (*s == '_') continue;
        int d = *s - '0';
        if (acc > (INT64_MAX - d) / 10) return 0;
        acc = acc * 10 + d;
        n++;
    }
    *out = acc;
    if (ndigits) *ndigits = n;
    return 1;
}

/* A number token [0-9_]+ ('.' [0-9]+)? ending at `e`: NUM/PERCENT with mantissa and
 * scale. */
static ast_node *lex_number(lexer *lx, ast_kind kind, const char *s, const char *e) {
    src_span sp = lex_span(lx, lx->tok, (const char *)lx->cur);
    ast_node *n = lex_node(lx, kind, sp);
    const char *dot = memchr(s, '.', (size_t)(e - s));
    int64_t v = 0;
    int scale = 0;
    int ok = lex_digits(s, dot ? dot : e, 0, &v, NULL);
    if (ok && dot) ok = lex_digits(dot + 1, e, v, &v, &scale);
    if (!ok) {
        diag_report(&lx->c->diags, DIAG_E012, sp, "number '%.*s' is too large", (int)sp.len,
                    lx->tok);
        v = 0;
    }
    n->ival = v;
    n->scale = scale;
    return n;
}

static int lex_2(const char *s) { return (s[0] - '0') * 10 + (s[1] - '0'); }

/* A byte that starts no token: a control character, DEL, or any non-ASCII byte. */
static int lex_is_bad(unsigned char c) {
    return c >= 0x7F || (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != 0);
}

/* Reports a byte sequence the language does not use. Multi-byte UTF-8 characters are
 * skipped whole so the message shows the character. A run of such bytes on one line is
 * one diagnostic (10 MB of binary is not ten million of them). */
static void lex_bad_char(lexer *lx, const unsigned char **pcur) {
    const unsigned char *s = (const unsigned char *)lx->tok, *e = s + 1;
    const unsigned char *lim = (const unsigned char *)lx->lim;
    if (*s >= 0xC0) {
        int more = *s >= 0xF0 ? 3 : *s >= 0xE0 ? 2 : 1;
        while (more-- > 0 && e < lim && (*e & 0xC0) == 0x80) e++;
    }
    const unsigned char *run = e;
    while (run < lim && lex_is_bad(*run))
        run++;
    *pcur = run;
    src_span sp = lex_span(lx, (const char *)s, (const char *)run);
    char more[48] = "";
    if (run > e) snprintf(more, sizeof more, " and %zu more invalid bytes", (size_t)(run - e));
    if (*s < 0x20 || *s == 0x7F || (*s >= 0x80 && e == s + 1))
        diag_report(&lx->c->diags, DIAG_E001, sp, "invalid character '\\x%02X'%s", *s, more);
    else
        diag_report(&lx->c->diags, DIAG_E001, sp, "invalid character '%.*s'%s", (int)(e - s),
                    (const char *)s, more);
}

/* The first byte of [s, e) that is not part of well-formed UTF-8 (no overlong forms,
 * surrogates or code points past U+10FFFF), or NULL. */
static const unsigned char *lex_utf8_invalid(const unsigned char *s, const unsigned char *e) {
    while (s < e) {
        unsigned char c = *s;
        if (c < 0x80) {
            s++;
            continue;
        }
        size_t k = c >= 0xC2 && c <= 0xDF ? 1 : c >= 0xE0 && c <= 0xEF ? 2 : c >= 0xF0 && c <= 0xF4 ? 3 : 0;
        if (k == 0 || (size_t)(e - s) <= k) return s;
        for (size_t j = 1; j <= k; j++)
            if ((s[j] & 0xC0) != 0x80) return s;
        if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) ||
            (c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F))
            return s;
        s += k + 1;
    }
    return NULL;
}

/* The body of a string literal, after its opening quote. Decodes into the arena.
 * An unterminated string is reported and ends at the end of the line. */
static ast_node *lex_string(lexer *lx, const unsigned char **pcur) {
    const unsigned char *cur = *pcur, *mar;
    /* The decoded text is never longer than the raw one: find where that ends (the
     * closing quote, or the line end of an unterminated string) to size the buffer. */
    const unsigned char *end = cur;
    while (*end != '"' && *end != '\n' && *end != 0)
        end += *end == '\\' && end[1] != '\n' && end[1] != 0 ? 2 : 1;
    char *buf = ast_alloc(lx->c->arena, (size_t)(end - cur) + 1);
    size_t n = 0;
    int utf8_bad = 0; /* reported once per string */
    for (;;) {
        const unsigned char *s = cur;
        /*!re2c
            re2c:yyfill:enable = 0;
            re2c:define:YYCTYPE = "unsigned char";
            re2c:define:YYCURSOR = cur;
            re2c:define:YYMARKER = mar;

            ["]          { goto done; }
            "\\\\"       { buf[n++] = '\\'; continue; }
            "\\\""       { buf[n++] = '"'; continue; }
            "\\n"        { buf[n++] = '\n'; continue; }
            "\\t"        { buf[n++] = '\t'; continue; }
            "\\" [^\n\x00] {
                src_span sp = lex_span(lx, (const char *)s, (const char *)cur);
                diag_report(&lx->c->diags, DIAG_E001, sp,
                            "invalid escape sequence '\\%c' in string (use \\\" \\\\ \\n \\t)",
                            s[1]);
                continue;
            }
            [^"\\\n\x00]+ {
                const unsigned char *bad = utf8_bad ? NULL : lex_utf8_invalid(s, cur);
                if (bad) {
                    utf8_bad = 1;
                    diag_report(&lx->c->diags, DIAG_E001,
                                lex_span(lx, (const char *)bad, (const char *)bad + 1),
                                "invalid UTF-8 in string (byte '\\x%02X'): strings are "
                                "copied into JSON output, which must be UTF-8", *bad);
                }
                memcpy(buf + n, s, (size_t)(cur - s));
                n += (size_t)(cur - s);
                continue;
            }
            * {
                if (*s == '\\') s++;
                cur = s;
                src_span sp = lex_span(lx, lx->tok, (const char *)cur);
                diag_report(&lx->c->diags, DIAG_E002, sp, "unterminated string");
                goto done;
            }
        */
    }
done:
    (void)mar;
    buf[n] = 0;
    *pcur = cur;
    ast_node *node = lex_node(lx, AST_STRING, lex_span(lx, lx->tok, (const char *)cur));
    node->str = buf;
    node->ival = (int64_t)n;
    return node;
}

static void lex_comment(lexer *lx, const char *e) {
    if (!lx->comments) return;
    while (e > lx->tok + 1 && e[-1] == '\r') e--; /* CRLF files */
    parse_comments *cm = lx->comments;
    if (cm->n == cm->cap) {
        cm->cap = cm->cap ? cm->cap * 2 : 16;
        cm->items = xrealloc(cm->items, cm->cap * sizeof *cm->items);
    }
    cm->items[cm->n++].span = lex_span(lx, lx->tok, e);
}

int lex_next(lexer *lx, ast_node **val, src_span *span) {
    const unsigned char *cur = (const unsigned char *)lx->cur, *mar;
    int tok;
    *val = NULL;
    for (;;) {
        lx->tok = (const char *)cur;
        /*!re2c
            re2c:yyfill:enable = 0;
            re2c:define:YYCTYPE = "unsigned char";
            re2c:define:YYCURSOR = cur;
            re2c:define:YYMARKER = mar;

            dig = [0-9];
            int = dig+ ("_" dig+)*;
            dec = int "." dig+;
            date = dig{4} "-" dig{2} "-" dig{2};

            "\x00" {
                if ((const char *)cur - 1 == lx->lim) {
                    cur--;
                    tok = 0;
                    goto eof;
                }
                lx->cur = (const char *)cur;
                lex_bad_char(lx, &cur);
                continue;
            }
            [ \t\r\v\f]+ { continue; }
            "\n" {
                lx->line++;
                lx->line_start = (const char *)cur;
                continue;
            }
            "#" [^\n\x00]* {
                lex_comment(lx, (const char *)cur);
                continue;
            }
            [a-z_][a-z0-9_]* {
                size_t n = (size_t)((const char *)cur - lx->tok);
                tok = lex_keyword(lx->tok, n);
                if (tok) goto out;
                tok = IDENT;
                goto ident;
            }
            [a-zA-Z_][a-zA-Z0-9_]* {
                lx->cur = (const char *)cur;
                src_span sp = lex_span(lx, lx->tok, (const char *)cur);
                diag_report(&lx->c->diags, DIAG_E001, sp,
                            "identifiers and keywords are lowercase: '%.*s'", (int)sp.len,
                            lx->tok);
                tok = IDENT;
                goto ident;
            }
            int {
                lx->cur = (const char *)cur;
                *val = lex_number(lx, AST_NUM, lx->tok, (const char *)cur);
                tok = INT;
                goto out;
            }
            dec {
                lx->cur = (const char *)cur;
                *val = lex_number(lx, AST_NUM, lx->tok, (const char *)cur);
                tok = DECIMAL;
                goto out;
            }
            (int | dec) "%" {
                lx->cur = (const char *)cur;
                *val = lex_number(lx, AST_PERCENT, lx->tok, (const char *)cur - 1);
                tok = PERCENT;
                goto out;
            }
            date {
                tok = DATE;
                goto datetime;
            }
            date "T" dig{2} ":" dig{2} (":" dig{2})? {
                tok = DATETIME;
                goto datetime;
            }
            dig{1,2} ":" dig{2} {
                tok = TIME;
                goto datetime;
            }
            ["] {
                lx->cur = (const char *)cur;
                *val = lex_string(lx, &cur);
                tok = STRING;
                goto out;
            }
            ".." { tok = DOTDOT; goto out; }
            "==" { tok = EQEQ; goto out; }
            "!=" { tok = NE; goto out; }
            "<=" { tok = LE; goto out; }
            ">=" { tok = GE; goto out; }
            "{" | "(" | "[" {
                if (lx->nopen < LEX_MAX_OPEN) {
                    lx->open[lx->nopen] = lex_span(lx, lx->tok, (const char *)cur);
                    lx->open_kind[lx->nopen] = *lx->tok;
                }
                lx->nopen++;
                tok = (unsigned char)*lx->tok;
                goto out;
            }
            "}" | ")" | "]" {
                /* Pop only a matching bracket: a stray closer must not hide the one
                 * really left open. */
                char want = *lx->tok == '}' ? '{' : *lx->tok == ')' ? '(' : '[';
                if (lx->nopen > LEX_MAX_OPEN ||
                    (lx->nopen > 0 && lx->open_kind[lx->nopen - 1] == want))
                    lx->nopen--;
                tok = (unsigned char)*lx->tok;
                goto out;
            }
            "," | ";" | "." | "=" | "+" | "-" | "*" | "<" | ">" {
                tok = (unsigned char)*lx->tok;
                goto out;
            }
            "&&" | "||" | "!" | "%" {
                /* Habits from other languages get a hint instead of a bare E001. */
                src_span sp = lex_span(lx, lx->tok, (const char *)cur);
                const char *hint = *lx->tok == '&'   ? "write 'and'"
                                   : *lx->tok == '|' ? "write 'or'"
                                   : *lx->tok == '!' ? "write 'not', or '!=' to compare"
                                                     : "write the percent sign right after the "
                                                       "number: 10%";
                diag_report(&lx->c->diags, DIAG_E001, sp, "invalid character '%.*s' (%s)",
                            (int)sp.len, lx->tok, hint);
                continue;
            }
            * {
                lx->cur = (const char *)cur;
                lex_bad_char(lx, &cur);
                continue;
            }
        */
    }

ident: {
    src_span sp = lex_span(lx, lx->tok, (const char *)cur);
    ast_node *n = lex_node(lx, AST_IDENT, sp);
    n->str = ast_strndup(lx->c->arena, lx->tok, sp.len);
    *val = n;
    goto out;
}

datetime: {
    const char *s = lx->tok;
    src_span sp = lex_span(lx, s, (const char *)cur);
    ast_node *n = lex_node(lx, tok == TIME ? AST_TIME : tok == DATE ? AST_DATE : AST_DATETIME, sp);
    int ok = 1;
    if (tok != TIME) {
        int32_t days = 0;
        ok = civil_parse_date(s, 10, &days);
        n->ival = ok ? days : 0;
    }
    if (tok != DATE) {
        const char *t = tok == TIME ? s : s + 11;
        int h = t[1] == ':' ? t[0] - '0' : lex_2(t);
        const char *m = t[1] == ':' ? t + 2 : t + 3;
        int mi = lex_2(m), sec = 0;
        if (tok == DATETIME && sp.len == 19) sec = lex_2(m + 3);
        /* 24:00 closes an hour range; inside a date-time it would be the next day. */
        int tok_ok = (h < 24 && mi < 60 && sec < 60) || (tok == TIME && h == 24 && mi == 0);
        int64_t secs = tok_ok ? (int64_t)h * 3600 + mi * 60 + sec : 0;
        if (tok == TIME)
            n->ival = secs;
        else
            n->ival2 = secs;
        ok = ok && tok_ok;
    }
    if (!ok)
        diag_report(&lx->c->diags, DIAG_E003, sp, "invalid %s '%.*s'",
                    tok == TIME ? "time" : tok == DATE ? "date" : "date-time", (int)sp.len, s);
    *val = n;
    goto out;
}

out:
    *span = lex_span(lx, lx->tok, (const char *)cur);
    lx->cur = (const char *)cur;
    lx->last_end = lx->cur;
    lx->last_line = lx->line;
    lx->last_line_start = lx->line_start;
    return tok;

eof:
    (void)mar;
    /* End of file is shown right after the last token: where a missing '}' belongs. */
    lx->cur = (const char *)cur;
    span->file = lx->file;
    span->line = lx->last_line;
    span->col = (uint32_t)(lx->last_end - lx->last_line_start) + 1;
    span->off = (uint32_t)(lx->last_end - lx->text);
    span->len = 0;
    return tok;
}
