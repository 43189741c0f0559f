/*
 * test_lexer.c — stage 1 (grammar/lexer.re): every literal kind with its exact value
 * and position, keywords and punctuation, comments, and every lexical error (E001,
 * E002, E003, E012) with its position and message.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "civil.h"
#include "compile.h"
#include "parse.h"
#include "parser.h"

typedef struct tok {
    int t;
    src_span sp;
    ast_node *v;
} tok;

static compilation comp;
static parse_comments comments;

static void setup(void) {
    comp_init(&comp, NULL);
    memset(&comments, 0, sizeof comments);
}

static void teardown(void) {
    parse_comments_free(&comments);
    comp_free(&comp);
}

TestSuite(lexer, .init = setup, .fini = teardown);

/* Lexes `src` (file "t.rule") into toks; returns the count, EOF token included. */
static int lex_all(const char *src, tok *toks, int max) {
    comp_add_source(&comp, "t.rule", src, strlen(src));
    lexer lx;
    lex_init(&lx, &comp, (uint32_t)(comp.nfiles - 1), &comments);
    int n = 0;
    for (;;) {
        cr_assert_lt(n, max);
        toks[n].t = lex_next(&lx, &toks[n].v, &toks[n].sp);
        if (toks[n++].t == 0) return n;
    }
}

static void check_span(src_span sp, uint32_t line, uint32_t col, uint32_t len) {
    cr_expect_eq(sp.line, line, "line %u != %u", sp.line, line);
    cr_expect_eq(sp.col, col, "col %u != %u", sp.col, col);
    cr_expect_eq(sp.len, len, "len %u != %u", sp.len, len);
}

static const diag *diag_at(size_t i) {
    cr_assert_lt(i, comp.diags.n, "only %zu diagnostics", comp.diags.n);
    return &comp.diags.items[i];
}

static void check_diag(size_t i, diag_code code, uint32_t line, uint32_t col, uint32_t len,
                       const char *msg) {
    const diag *d = diag_at(i);
    cr_expect_eq(d->code, code, "code %s != %s", diag_code_names[d->code], diag_code_names[code]);
    check_span(d->span, line, col, len);
    cr_expect_str_eq(d->msg, msg);
}

Test(lexer, integers_with_separators) {
    tok t[8];
    int n = lex_all("0 42 100_000 9223372036854775807", t, 8);
    cr_assert_eq(n, 5);
    int64_t want[] = {0, 42, 100000, INT64_MAX};
    uint32_t cols[] = {1, 3, 6, 14};
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(t[i].t, INT);
        cr_expect_eq(t[i].v->kind, AST_NUM);
        cr_expect_eq(t[i].v->ival, want[i]);
        cr_expect_eq(t[i].v->scale, 0);
        cr_expect_eq(t[i].sp.col, cols[i]);
    }
    check_span(t[2].sp, 1, 6, 7);
    cr_expect_eq(comp.diags.n, 0);
}

Test(lexer, decimals_keep_their_scale) {
    tok t[8];
    int n = lex_all("89.90 1.5 0.125 1_000.05", t, 8);
    cr_assert_eq(n, 5);
    int64_t mant[] = {8990, 15, 125, 100005};
    int scale[] = {2, 1, 3, 2};
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(t[i].t, DECIMAL);
        cr_expect_eq(t[i].v->kind, AST_NUM);
        cr_expect_eq(t[i].v->ival, mant[i], "%d: %lld", i, (long long)t[i].v->ival);
        cr_expect_eq(t[i].v->scale, scale[i]);
    }
    check_span(t[3].sp, 1, 17, 8);
}

Test(lexer, percents) {
    tok t[8];
    int n = lex_all("10% 2.5% 12.125% 100%", t, 8);
    cr_assert_eq(n, 5);
    int64_t mant[] = {10, 25, 12125, 100};
    int scale[] = {0, 1, 3, 0};
    for (int i = 0; i < 4; i++) {
        cr_expect_eq(t[i].t, PERCENT);
        cr_expect_eq(t[i].v->kind, AST_PERCENT);
        cr_expect_eq(t[i].v->ival, mant[i]);
        cr_expect_eq(t[i].v->scale, scale[i]);
    }
    check_span(t[1].sp, 1, 5, 4);
}

Test(lexer, strings_with_escapes) {
    tok t[4];
    int n = lex_all("  \"dairy\" \"a\\\"b\\\\c\\nd\\te\" \"\"", t, 4);
    cr_assert_eq(n, 4);
    cr_expect_eq(t[0].t, STRING);
    cr_expect_str_eq(t[0].v->str, "dairy");
    check_span(t[0].sp, 1, 3, 7);
    cr_expect_str_eq(t[1].v->str, "a\"b\\c\nd\te");
    check_span(t[1].sp, 1, 11, 15);
    cr_expect_str_eq(t[2].v->str, "");
    check_span(t[2].sp, 1, 27, 2);
    cr_expect_eq(comp.diags.n, 0);
}

Test(lexer, utf8_in_strings) {
    tok t[3];
    lex_all("\"Молоко\"", t, 3);
    cr_expect_eq(t[0].t, STRING);
    cr_expect_str_eq(t[0].v->str, "Молоко");
    check_span(t[0].sp, 1, 1, 14);
}

Test(lexer, dates_times_datetimes) {
    tok t[10];
    int n = lex_all("2026-06-01 09:00 24:00 9:30 2026-06-05T10:15 2028-02-29T23:59:58", t, 10);
    cr_assert_eq(n, 7);
    cr_expect_eq(t[0].t, DATE);
    cr_expect_eq(t[0].v->kind, AST_DATE);
    cr_expect_eq(t[0].v->ival, civil_days(2026, 6, 1));
    check_span(t[0].sp, 1, 1, 10);
    cr_expect_eq(t[1].t, TIME);
    cr_expect_eq(t[1].v->ival, 9 * 3600);
    check_span(t[1].sp, 1, 12, 5);
    cr_expect_eq(t[2].v->ival, 86400);
    cr_expect_eq(t[3].t, TIME);
    cr_expect_eq(t[3].v->ival, 9 * 3600 + 30 * 60);
    check_span(t[3].sp, 1, 24, 4);
    cr_expect_eq(t[4].t, DATETIME);
    cr_expect_eq(t[4].v->kind, AST_DATETIME);
    cr_expect_eq(t[4].v->ival, civil_days(2026, 6, 5));
    cr_expect_eq(t[4].v->ival2, 10 * 3600 + 15 * 60);
    check_span(t[4].sp, 1, 29, 16);
    cr_expect_eq(t[5].v->ival, civil_days(2028, 2, 29));
    cr_expect_eq(t[5].v->ival2, 23 * 3600 + 59 * 60 + 58);
    check_span(t[5].sp, 1, 46, 19);
    cr_expect_eq(comp.diags.n, 0);
}

Test(lexer, invalid_dates_and_times) {
    tok t[10];
    lex_all("2026-02-30 2027-02-29 2026-13-01 24:01 23:60 2026-06-05T24:00", t, 10);
    cr_assert_eq(comp.diags.n, 6);
    check_diag(0, DIAG_E003, 1, 1, 10, "invalid date '2026-02-30'");
    check_diag(1, DIAG_E003, 1, 12, 10, "invalid date '2027-02-29'");
    check_diag(2, DIAG_E003, 1, 23, 10, "invalid date '2026-13-01'");
    check_diag(3, DIAG_E003, 1, 34, 5, "invalid time '24:01'");
    check_diag(4, DIAG_E003, 1, 40, 5, "invalid time '23:60'");
    check_diag(5, DIAG_E003, 1, 46, 16, "invalid date-time '2026-06-05T24:00'");
    /* The tokens are still delivered, so parsing goes on. */
    cr_expect_eq(t[0].t, DATE);
    cr_expect_eq(t[3].t, TIME);
    cr_expect_eq(t[5].t, DATETIME);
}

Test(lexer, keywords_identifiers_punctuation) {
    tok t[32];
    int n = lex_all(
        "campaign dairy_10 { when card == x_1 } .. == != <= >= < > = , ; . ( ) [ ] + - *", t, 32);
    int want[] = {KW_CAMPAIGN, IDENT, '{', KW_WHEN, KW_CARD, EQEQ, IDENT, '}', DOTDOT,
                  EQEQ,        NE,    LE,  GE,      '<',     '>',  '=',   ',', ';',
                  '.',         '(',   ')', '[',     ']',     '+',  '-',   '*', 0};
    int nwant = (int)(sizeof want / sizeof want[0]);
    cr_assert_eq(n, nwant);
    for (int i = 0; i < n; i++)
        cr_expect_eq(t[i].t, want[i], "token %d: %d", i, t[i].t);
    cr_expect_str_eq(t[1].v->str, "dairy_10");
    cr_expect_eq(t[1].v->kind, AST_IDENT);
    cr_expect_null(t[0].v);
    check_span(t[1].sp, 1, 10, 8);
    check_span(t[8].sp, 1, 40, 2);
    cr_expect_eq(comp.diags.n, 0);
}

Test(lexer, keyword_table) {
    cr_expect_eq(lex_keyword("campaign", 8), KW_CAMPAIGN);
    cr_expect_eq(lex_keyword("activate", 8), KW_ACTIVATE);
    cr_expect_eq(lex_keyword("within", 6), KW_WITHIN);
    cr_expect_eq(lex_keyword("spend_limit", 11), KW_SPEND_LIMIT);
    cr_expect_eq(lex_keyword("days", 4), KW_DAYS);
    cr_expect_eq(lex_keyword("day", 3), KW_DAY);
    cr_expect_eq(lex_keyword("dayz", 4), 0);
    cr_expect_eq(lex_keyword("da", 2), 0);
    cr_expect_eq(lex_keyword("dairy", 5), 0);
    cr_expect_str_eq(parse_token_name(KW_CAMPAIGN), "'campaign'");
    cr_expect_str_eq(parse_token_name(IDENT), "identifier");
    cr_expect_str_eq(parse_token_name('{'), "'{'");
    cr_expect_str_eq(parse_token_name(DOTDOT), "'..'");
    cr_expect_str_eq(parse_token_name(0), "end of file");
}

Test(lexer, ranges_without_spaces) {
    tok t[12];
    int n = lex_all("mon..fri 2026-06-01..2026-06-02 1..2", t, 12);
    int want[] = {KW_MON, DOTDOT, KW_FRI, DATE, DOTDOT, DATE, INT, DOTDOT, INT, 0};
    cr_assert_eq(n, 10);
    for (int i = 0; i < n; i++)
        cr_expect_eq(t[i].t, want[i], "token %d", i);
    cr_expect_eq(t[6].v->ival, 1);
    cr_expect_eq(t[8].v->ival, 2);
    check_span(t[4].sp, 1, 20, 2);
}

Test(lexer, lines_columns_tabs_and_crlf) {
    tok t[8];
    int n = lex_all("set\r\n\tx = 1\n\n  # note\n  \"s\"", t, 8);
    cr_assert_eq(n, 6);
    check_span(t[0].sp, 1, 1, 3);
    check_span(t[1].sp, 2, 2, 1); /* a tab is one byte: column 2 */
    check_span(t[2].sp, 2, 4, 1);
    check_span(t[3].sp, 2, 6, 1);
    check_span(t[4].sp, 5, 3, 3);
    cr_expect_eq(t[4].sp.off, 24);
    /* end of file sits right after the last token */
    check_span(t[5].sp, 5, 6, 0);
}

Test(lexer, comments_are_kept_aside) {
    tok t[8];
    int n = lex_all("# head\nset a = 1 # tail\n#\n", t, 8);
    cr_assert_eq(n, 5);
    cr_assert_eq(comments.n, 3);
    check_span(comments.items[0].span, 1, 1, 6);
    check_span(comments.items[1].span, 2, 11, 6);
    cr_expect_eq(strncmp(comp.files[0].text + comments.items[1].span.off, "# tail", 6), 0);
    check_span(comments.items[2].span, 3, 1, 1);
    cr_expect_eq(comp.diags.n, 0);
}

Test(lexer, comments_in_crlf_files_stop_before_the_cr) {
    tok t[4];
    lex_all("# a\r\nstop # b\r\n", t, 4);
    cr_assert_eq(comments.n, 2);
    check_span(comments.items[0].span, 1, 1, 3);
    check_span(comments.items[1].span, 2, 6, 3);
}

Test(lexer, end_of_file_after_comment) {
    tok t[4];
    int n = lex_all("stop # no newline", t, 4);
    cr_assert_eq(n, 2);
    cr_expect_eq(t[0].t, KW_STOP);
    check_span(t[1].sp, 1, 5, 0);
}

Test(lexer, invalid_characters) {
    tok t[8];
    int n = lex_all("a @ b\n  $é\x01 c", t, 8);
    cr_assert_eq(n, 4); /* a b c EOF: the bad bytes are skipped */
    cr_expect_str_eq(t[2].v->str, "c");
    cr_assert_eq(comp.diags.n, 2);
    check_diag(0, DIAG_E001, 1, 3, 1, "invalid character '@'");
    /* $, é and \x01 touch: one run, one diagnostic */
    check_diag(1, DIAG_E001, 2, 3, 4, "invalid character '$' and 3 more invalid bytes");
}

/* issue 10.6: a run of bad bytes is one diagnostic, and a flood of them is capped. */
Test(lexer, run_of_bad_bytes_is_one_diagnostic) {
    tok t[8];
    int n = lex_all("a \xff\xfe\x80\x01\x7f b\n\xff", t, 8);
    cr_assert_eq(n, 3); /* a b EOF */
    cr_assert_eq(comp.diags.n, 2);
    check_diag(0, DIAG_E001, 1, 3, 5, "invalid character '\\xFF' and 4 more invalid bytes");
    check_diag(1, DIAG_E001, 2, 1, 1, "invalid character '\\xFF'");
}

Test(lexer, invalid_utf8_in_a_string_is_an_error) {
    tok t[4];
    lex_all("\"ok \xff\xfe x\" \"caf\xc3\xa9\" \"\xed\xa0\x80\"", t, 4);
    cr_assert_eq(comp.diags.n, 2, "%zu diagnostics", comp.diags.n);
    check_diag(0, DIAG_E001, 1, 5, 1,
               "invalid UTF-8 in string (byte '\\xFF'): strings are copied into JSON output, "
               "which must be UTF-8");
    cr_expect_eq(comp.diags.items[1].span.col, 20); /* a UTF-16 surrogate, encoded */
}

Test(lexer, embedded_nul_is_an_invalid_character) {
    comp_add_source(&comp, "t.rule", "a\0b", 3);
    lexer lx;
    lex_init(&lx, &comp, 0, NULL);
    ast_node *v;
    src_span sp;
    cr_expect_eq(lex_next(&lx, &v, &sp), IDENT);
    cr_expect_eq(lex_next(&lx, &v, &sp), IDENT);
    cr_expect_str_eq(v->str, "b");
    cr_expect_eq(lex_next(&lx, &v, &sp), 0);
    cr_assert_eq(comp.diags.n, 1);
    check_diag(0, DIAG_E001, 1, 2, 1, "invalid character '\\x00'");
}

Test(lexer, uppercase_identifiers) {
    tok t[4];
    int n = lex_all("Dairy", t, 4);
    cr_assert_eq(n, 2);
    cr_expect_eq(t[0].t, IDENT);
    cr_expect_str_eq(t[0].v->str, "Dairy");
    cr_assert_eq(comp.diags.n, 1);
    check_diag(0, DIAG_E001, 1, 1, 5, "identifiers and keywords are lowercase: 'Dairy'");
}

Test(lexer, unterminated_string) {
    tok t[8];
    int n = lex_all("message \"hello\nstop \"x\\", t, 8);
    cr_assert_eq(n, 5);
    cr_expect_eq(t[1].t, STRING);
    cr_expect_str_eq(t[1].v->str, "hello");
    check_span(t[1].sp, 1, 9, 6);
    cr_expect_eq(t[2].t, KW_STOP); /* the next line is lexed normally */
    check_span(t[2].sp, 2, 1, 4);
    cr_expect_eq(t[3].t, STRING);
    cr_assert_eq(comp.diags.n, 2);
    check_diag(0, DIAG_E002, 1, 9, 6, "unterminated string");
    check_diag(1, DIAG_E002, 2, 6, 3, "unterminated string");
}

Test(lexer, invalid_escape) {
    tok t[4];
    lex_all("\"a\\qb\"", t, 4);
    cr_expect_eq(t[0].t, STRING);
    cr_expect_str_eq(t[0].v->str, "ab");
    cr_assert_eq(comp.diags.n, 1);
    check_diag(0, DIAG_E001, 1, 3, 2,
               "invalid escape sequence '\\q' in string (use \\\" \\\\ \\n \\t)");
}

Test(lexer, number_too_large) {
    tok t[4];
    lex_all("9223372036854775808 1.00000000000000000001", t, 4);
    cr_expect_eq(t[0].t, INT);
    cr_expect_eq(t[1].t, DECIMAL);
    cr_assert_eq(comp.diags.n, 2);
    check_diag(0, DIAG_E012, 1, 1, 19, "number '9223372036854775808' is too large");
    check_diag(1, DIAG_E012, 1, 21, 22, "number '1.00000000000000000001' is too large");
}

Test(lexer, byte_order_mark_is_skipped) {
    tok t[3];
    int n = lex_all("\xEF\xBB\xBFstop", t, 3);
    cr_assert_eq(n, 2);
    cr_expect_eq(t[0].t, KW_STOP);
    check_span(t[0].sp, 1, 4, 4);
    cr_expect_eq(comp.diags.n, 0);
}

Test(lexer, habits_from_other_languages_get_hints) {
    tok t[8];
    int n = lex_all("a && b || !c 10 %", t, 8);
    cr_assert_eq(n, 5); /* a b c 10 EOF */
    cr_assert_eq(comp.diags.n, 4);
    check_diag(0, DIAG_E001, 1, 3, 2, "invalid character '&&' (write 'and')");
    check_diag(1, DIAG_E001, 1, 8, 2, "invalid character '||' (write 'or')");
    check_diag(2, DIAG_E001, 1, 11, 1, "invalid character '!' (write 'not', or '!=' to compare)");
    check_diag(3, DIAG_E001, 1, 17, 1,
               "invalid character '%' (write the percent sign right after the number: 10%)");
}

/* docs/language.md lists exactly the reserved words of the lexer. */
Test(lexer, reserved_words_are_documented) {
    FILE *f = fopen(PROMO_SOURCE_DIR "/docs/language.md", "rb");
    cr_assert_not_null(f);
    static char doc[1 << 17];
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    fclose(f);
    doc[n] = 0;
    const char *p = strstr(doc, "### Reserved words");
    cr_assert_not_null(p);
    p = strstr(p, "\n`");
    cr_assert_not_null(p);
    const char *end = strstr(p, "\n\n");
    int count = 0;
    while ((p = strchr(p, '`')) != NULL && p < end) {
        const char *q = strchr(p + 1, '`');
        cr_assert_not_null(q);
        int kw = lex_keyword(p + 1, (size_t)(q - p - 1));
        cr_expect_neq(kw, 0, "'%.*s' is documented as reserved", (int)(q - p - 1), p + 1);
        /* and its printable name is the word, quoted */
        char want[64];
        snprintf(want, sizeof want, "'%.*s'", (int)(q - p - 1), p + 1);
        if (kw) cr_expect_str_eq(parse_token_name(kw), want);
        count++;
        p = q + 1;
    }
    cr_expect_eq(count, KW_WITHIN - KW_ACTIVATE + 1);
}
