/*
 * test_diag.c — diagnostics (compiler/diag.c) and the driver (compiler/compile.c):
 * text rendering with source line, caret, tabs and notes; JSON and SARIF output,
 * exact and well-formed; stable ordering; reading files and directories; path order.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compile.h"
#include "jsoncheck.h"
#include "parse.h"
#include "strbuf.h"
#include "suggest.h"

static compilation comp;
static strbuf out;

static void setup(void) {
    comp_init(&comp, NULL);
    out = (strbuf)STRBUF_INIT;
}

static void teardown(void) {
    sb_free(&out);
    comp_free(&comp);
}

TestSuite(diag, .init = setup, .fini = teardown);

static src_span span(uint32_t file, uint32_t line, uint32_t col, uint32_t off, uint32_t len) {
    src_span s = {file, line, col, off, len};
    return s;
}

static const char *src1 = "campaign a {\n"
                          "\twhen total >= 5OO\n"
                          "    then coupon \"X\"\n"
                          "}\n";

Test(diag, text_with_caret_tabs_and_notes) {
    comp_add_source(&comp, "rules/a.rule", src1, strlen(src1));
    /* `total` at line 2, column 7 (after a tab), offset 19 */
    diag *d = diag_report(&comp.diags, DIAG_E008, span(0, 2, 7, 19, 5), "type mismatch: %s",
                          "money vs string");
    diag_add_note(d, span(0, 1, 10, 9, 1), "campaign '%s' is here", "a");
    diag_report(&comp.diags, DIAG_W002, span(0, 3, 10, 41, 6), "never applies");
    diag_render_text(&comp.diags, &out, 0);
    cr_expect_str_eq(sb_cstr(&out),
                     "rules/a.rule:2:7: error[E008]: type mismatch: money vs string\n"
                     "\twhen total >= 5OO\n"
                     "\t     ^~~~~\n"
                     "rules/a.rule:1:10: note: campaign 'a' is here\n"
                     "campaign a {\n"
                     "         ^\n"
                     "rules/a.rule:3:10: warning[W002]: never applies\n"
                     "    then coupon \"X\"\n"
                     "         ^~~~~~\n");
    cr_expect_eq(comp.diags.nerrors, 1);
    cr_expect_eq(comp.diags.nwarnings, 1);
}

Test(diag, multiline_span_underlines_to_end_of_line) {
    const char *src = "set a = x and\r\n  y\r\n";
    comp_add_source(&comp, "m.rule", src, strlen(src));
    diag_report(&comp.diags, DIAG_E008, span(0, 1, 9, 8, 10), "bad");
    diag_render_text(&comp.diags, &out, 0);
    cr_expect_str_eq(sb_cstr(&out), "m.rule:1:9: error[E008]: bad\n"
                                    "set a = x and\n"
                                    "        ^~~~~\n");
    sb_free(&out);
    diag_render_json(&comp.diags, &out);
    cr_expect_str_eq(
        sb_cstr(&out),
        "[{\"file\":\"m.rule\",\"line\":1,\"column\":9,\"end_line\":2,\"end_column\":4,"
        "\"severity\":\"error\",\"code\":\"E008\",\"message\":\"bad\",\"notes\":[]}]\n");
}

Test(diag, end_of_file_and_empty_span) {
    const char *src = "campaign a {\n  stop";
    comp_add_source(&comp, "e.rule", src, strlen(src));
    diag_report(&comp.diags, DIAG_E004, span(0, 2, 7, 19, 0), "expected '}'");
    diag_render_text(&comp.diags, &out, 0);
    cr_expect_str_eq(sb_cstr(&out), "e.rule:2:7: error[E004]: expected '}'\n"
                                    "  stop\n"
                                    "      ^\n");
}

Test(diag, colors) {
    comp_add_source(&comp, "c.rule", "stop\n", 5);
    diag_report(&comp.diags, DIAG_E004, span(0, 1, 1, 0, 4), "m");
    diag_render_text(&comp.diags, &out, 1);
    cr_expect_str_eq(sb_cstr(&out),
                     "\033[1mc.rule:1:1: \033[1;31merror[E004]: \033[0m\033[1mm\033[0m\n"
                     "stop\n"
                     "\033[1;32m^~~~\033[0m\n");
}

Test(diag, json_exact_and_well_formed) {
    comp_add_source(&comp, "dir/a \"q\".rule", src1, strlen(src1));
    diag *d =
        diag_report(&comp.diags, DIAG_E005, span(0, 1, 10, 9, 1), "duplicate campaign id 'a'");
    diag_add_note(d, span(0, 3, 5, 36, 4), "first \"defined\" here");
    diag_report(&comp.diags, DIAG_W004, span(0, 2, 2, 14, 4), "unused");
    diag_render_json(&comp.diags, &out);
    cr_expect_str_eq(sb_cstr(&out),
                     "[{\"file\":\"dir/a \\\"q\\\".rule\",\"line\":1,\"column\":10,\"end_line\":1,"
                     "\"end_column\":11,\"severity\":\"error\",\"code\":\"E005\","
                     "\"message\":\"duplicate campaign id 'a'\",\"notes\":[{\"file\":"
                     "\"dir/a \\\"q\\\".rule\",\"line\":3,\"column\":5,\"message\":"
                     "\"first \\\"defined\\\" here\"}]},"
                     "{\"file\":\"dir/a \\\"q\\\".rule\",\"line\":2,\"column\":2,\"end_line\":2,"
                     "\"end_column\":6,\"severity\":\"warning\",\"code\":\"W004\","
                     "\"message\":\"unused\",\"notes\":[]}]\n");
    cr_expect(json_valid(out.data, out.len));
}

Test(diag, json_is_utf8_even_when_the_source_is_not) {
    comp_add_source(&comp, "u.rule", "x", 1);
    diag_report(&comp.diags, DIAG_E004, span(0, 1, 1, 0, 1), "found \"Молоко\xff\xc3(\"");
    diag_render_json(&comp.diags, &out);
    cr_expect(json_valid(out.data, out.len));
    cr_expect_not_null(
        strstr(sb_cstr(&out), "\"message\":\"found \\\"Молоко\xEF\xBF\xBD\xEF\xBF\xBD(\\\"\""),
        "%s", sb_cstr(&out));
}

Test(diag, json_of_nothing) {
    diag_render_json(&comp.diags, &out);
    cr_expect_str_eq(sb_cstr(&out), "[]\n");
}

Test(diag, sarif_structure) {
    comp_add_source(&comp, "dir/a b.rule", src1, strlen(src1));
    diag *d = diag_report(&comp.diags, DIAG_E005, span(0, 1, 10, 9, 1), "dup");
    diag_add_note(d, span(0, 3, 5, 36, 4), "first");
    diag_report(&comp.diags, DIAG_W003, span(0, 2, 2, 14, 4), "old");
    diag_render_sarif(&comp.diags, &out);
    const char *s = sb_cstr(&out);
    cr_assert(json_valid(out.data, out.len), "%s", s);
    const char *head = "{\"$schema\":\"https://json.schemastore.org/sarif-2.1.0.json\","
                       "\"version\":\"2.1.0\",\"runs\":[{\"tool\":{\"driver\":{\"name\":\"promo\","
                       "\"version\":\"0.1.0\",\"rules\":[{\"id\":\"E001\",\"shortDescription\":"
                       "{\"text\":\"invalid character\"},\"defaultConfiguration\":{\"level\":"
                       "\"error\"}},";
    cr_expect(strncmp(s, head, strlen(head)) == 0, "%s", s);
    /* every code is a rule */
    for (int c = 0; c < DIAG__COUNT; c++) {
        char id[32];
        snprintf(id, sizeof id, "{\"id\":\"%s\"", diag_code_names[c]);
        cr_expect_not_null(strstr(s, id), "rule %s", diag_code_names[c]);
    }
    cr_expect_not_null(strstr(s,
                              "{\"id\":\"W004\",\"shortDescription\":{\"text\":\"unused "
                              "declaration\"},\"defaultConfiguration\":{\"level\":\"warning\"}}"));
    char results[1024];
    snprintf(
        results, sizeof results,
        "\"results\":[{\"ruleId\":\"E005\",\"ruleIndex\":%d,\"level\":\"error\",\"message\":{"
        "\"text\":\"dup\"},\"locations\":[{\"physicalLocation\":{\"artifactLocation\":{\"uri\":"
        "\"dir/a%%20b.rule\"},\"region\":{\"startLine\":1,\"startColumn\":10,\"endLine\":1,"
        "\"endColumn\":11}}}],\"relatedLocations\":[{\"id\":0,\"physicalLocation\":{"
        "\"artifactLocation\":{\"uri\":\"dir/a%%20b.rule\"},\"region\":{\"startLine\":3,"
        "\"startColumn\":5,\"endLine\":3,\"endColumn\":9}},\"message\":{\"text\":\"first\"}}]},"
        "{\"ruleId\":\"W003\",\"ruleIndex\":%d,\"level\":\"warning\"",
        (int)DIAG_E005, (int)DIAG_W003);
    cr_expect_not_null(strstr(s, results), "%s", s);
    cr_expect(strcmp(s + out.len - 6, "}]}]}\n") == 0);
}

Test(diag, sarif_of_nothing_is_valid) {
    diag_render_sarif(&comp.diags, &out);
    cr_expect(json_valid(out.data, out.len));
    cr_expect_not_null(strstr(sb_cstr(&out), "\"results\":[]}]}"));
}

Test(diag, sort_is_stable_by_path_line_column) {
    comp_add_source(&comp, "b.rule", "x\ny\n", 4);
    comp_add_source(&comp, "a.rule", "x\ny\n", 4);
    diag_report(&comp.diags, DIAG_E004, span(0, 2, 1, 2, 1), "b2");
    diag_report(&comp.diags, DIAG_E004, span(0, 1, 1, 0, 1), "b1-first");
    diag_report(&comp.diags, DIAG_E006, span(1, 2, 1, 2, 1), "a2");
    diag_report(&comp.diags, DIAG_E004, span(0, 1, 1, 0, 1), "b1-second");
    diag_report(&comp.diags, DIAG_E004, span(1, 1, 2, 1, 1), "a1c2");
    diag_sort(&comp.diags);
    const char *want[] = {"a1c2", "a2", "b1-first", "b1-second", "b2"};
    cr_assert_eq(comp.diags.n, 5);
    for (int i = 0; i < 5; i++)
        cr_expect_str_eq(comp.diags.items[i].msg, want[i]);
}

Test(diag, summaries_and_names) {
    cr_expect_str_eq(diag_code_names[DIAG_E004], "E004");
    cr_expect_str_eq(diag_code_summary[DIAG_E004], "syntax error");
    cr_expect_str_eq(diag_code_names[DIAG_W004], "W004");
    diag *d = diag_report(&comp.diags, DIAG_W001, span(0, 1, 1, 0, 0), "w");
    cr_expect_eq(d->sev, DIAG_WARNING);
    for (int i = 0; i < DIAG_MAX_NOTES + 2; i++)
        diag_add_note(d, span(0, 1, 1, 0, 0), "n%d", i);
    cr_expect_eq(d->nnotes, DIAG_MAX_NOTES);
}

/* ---- the driver ---- */

static char tmpdir[64];

static void write_file(const char *rel, const char *text) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, rel);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static void make_tree(void) {
    strcpy(tmpdir, "/tmp/promo_test_diag_XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    char p[256];
    snprintf(p, sizeof p, "%s/sub", tmpdir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/.git", tmpdir);
    mkdir(p, 0700);
    write_file("b.rule", "group b\n");
    write_file("a_z.rule", "group az\n");
    write_file("sub/c.rule", "group c\n");
    write_file("notes.txt", "not a rule\n");
    write_file(".hidden.rule", "oops\n");
    write_file(".git/x.rule", "oops\n");
    /* a link back up the tree must not loop */
    snprintf(p, sizeof p, "%s/sub/up", tmpdir);
    cr_assert_eq(symlink("..", p), 0);
}

static void remove_tree(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    cr_expect_eq(system(cmd), 0);
}

Test(diag, directories_are_walked_in_bytewise_order) {
    make_tree();
    char *paths[] = {tmpdir};
    cr_expect_eq(comp_add_paths(&comp, paths, 1), 0);
    cr_assert_eq(comp.nfiles, 3);
    const char *want[] = {"a_z.rule", "b.rule", "sub/c.rule"};
    for (int i = 0; i < 3; i++) {
        char p[256];
        snprintf(p, sizeof p, "%s/%s", tmpdir, want[i]);
        cr_expect_str_eq(comp.files[i].path, p);
    }
    cr_expect_str_eq(comp.files[1].text, "group b\n");
    cr_expect_eq(comp.files[1].len, 8);
    /* naming a file again (directly) does not read it twice */
    char again[256];
    snprintf(again, sizeof again, "%s/b.rule", tmpdir);
    char *p2[] = {again};
    cr_expect_eq(comp_add_paths(&comp, p2, 1), 0);
    cr_expect_eq(comp.nfiles, 3);
    remove_tree();
}

Test(diag, unreadable_path_is_E025) {
    char *paths[] = {"/nonexistent/promo/x.rule"};
    cr_expect_eq(comp_add_paths(&comp, paths, 1), -1);
    cr_assert_eq(comp.diags.n, 1);
    cr_expect_eq(comp.diags.items[0].code, DIAG_E025);
    cr_expect_str_eq(comp.diags.items[0].msg, "cannot read file: No such file or directory");
    diag_render_text(&comp.diags, &out, 0);
    cr_expect_str_eq(sb_cstr(&out), "/nonexistent/promo/x.rule: error[E025]: cannot read file: "
                                    "No such file or directory\n");
    sb_free(&out);
    diag_render_json(&comp.diags, &out);
    cr_expect(json_valid(out.data, out.len));
    cr_expect_eq(comp_check(&comp), 1);
}

Test(diag, check_orders_files_by_path) {
    const char *b = "campaign b { @ }\n", *a = "campaign a { then }\n";
    comp_add_source(&comp, "z/b.rule", b, strlen(b));
    comp_add_source(&comp, "a.rule", a, strlen(a));
    size_t n = comp_check(&comp);
    cr_expect_eq(n, 2);
    cr_assert_eq(comp.nfiles, 2);
    cr_expect_str_eq(comp.files[0].path, "a.rule");
    cr_expect_str_eq(comp.files[1].path, "z/b.rule");
    cr_assert_not_null(comp.trees[0]);
    cr_expect_str_eq(comp.trees[0]->a->str, "a");
    cr_expect_str_eq(comp.trees[1]->a->str, "b");
    cr_expect_eq(comp.trees[1]->ival, 1);
    diag_render_text(&comp.diags, &out, 0);
    cr_expect_str_eq(sb_cstr(&out), "a.rule:1:19: error[E004]: expected a reward, found '}'\n"
                                    "campaign a { then }\n"
                                    "                  ^\n"
                                    "z/b.rule:1:14: error[E001]: invalid character '@'\n"
                                    "campaign b { @ }\n"
                                    "             ^\n");
    /* checking twice changes nothing */
    cr_expect_eq(comp_check(&comp), 2);
    cr_expect_eq(comp.diags.n, 2);
}

Test(diag, werror_counts_warnings) {
    compilation c2;
    compile_opts o = {INT32_MIN, 1};
    comp_init(&c2, &o);
    comp_add_source(&c2, "w.rule", "", 0);
    diag_report(&c2.diags, DIAG_W004, span(0, 1, 1, 0, 0), "w");
    cr_expect_eq(comp_check(&c2), 1);
    comp_free(&c2);
    comp_add_source(&comp, "w.rule", "", 0);
    diag_report(&comp.diags, DIAG_W004, span(0, 1, 1, 0, 0), "w");
    cr_expect_eq(comp_check(&comp), 0);
}

Test(diag, build_refuses_on_errors) {
    comp_add_source(&comp, "x.rule", "campaign {", 10);
    strbuf bundle = STRBUF_INIT;
    cr_expect_gt(comp_build(&comp, &bundle), 0);
    cr_expect_eq(bundle.len, 0);
    sb_free(&bundle);
}

/* ---- docs/diagnostics.md is checked against the compiler ---- */

static char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    strbuf sb = STRBUF_INIT;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        sb_add(&sb, buf, n);
    fclose(f);
    *len = sb.len;
    return sb.data;
}

/* The body of the first ```tag block at or after p, before `limit`; NULL if none. */
static const char *fenced(const char *p, const char *limit, const char *tag, size_t *len) {
    char open[32];
    snprintf(open, sizeof open, "```%s\n", tag);
    const char *s = strstr(p, open);
    if (!s || (limit && s > limit)) return NULL;
    s += strlen(open);
    const char *e = strstr(s, "```\n");
    cr_assert_not_null(e);
    *len = (size_t)(e - s);
    return s;
}

/* Renders what the compiler says about `src` (named example.rule, today 2026-01-01). */
static char *doc_compile(const char *src, size_t slen, int code) {
    compilation c;
    compile_opts o = {20454 /* 2026-01-01 */, 0};
    comp_init(&c, &o);
    c.require_campaigns = 1;
    c.lint_examples = code == DIAG_W007; /* as with --lint-examples */
    comp_add_source(&c, "example.rule", src, slen);
    comp_check(&c);
    strbuf got = STRBUF_INIT;
    diag_render_text(&c.diags, &got, 0);
    comp_free(&c);
    return got.data ? got.data : strdup("");
}

/* E025 and E026 cannot come from one small file: the path that is missing, and a
 * generated expression that needs more VM stack than there is. */
static char *doc_special(int code) {
    compilation c;
    comp_init(&c, NULL);
    if (code == DIAG_E025) {
        char *paths[] = {"rules/missing.rule"};
        comp_add_paths(&c, paths, 1);
        comp_check(&c);
    } else {
        strbuf src = STRBUF_INIT, bundle = STRBUF_INIT;
        sb_puts(&src, "campaign c {\n  when ");
        for (int i = 0; i < 70; i++)
            sb_puts(&src, "total - (");
        sb_puts(&src, "total");
        for (int i = 0; i < 70; i++)
            sb_putc(&src, ')');
        sb_puts(&src, " >= 1\n  then points 1\n}\n");
        comp_add_source(&c, "rules/huge.rule", src.data, src.len);
        comp_build(&c, &bundle);
        sb_free(&src);
        sb_free(&bundle);
    }
    strbuf got = STRBUF_INIT;
    diag_render_text(&c.diags, &got, 0);
    comp_free(&c);
    char *nl = got.data ? strchr(got.data, '\n') : NULL;
    if (nl) nl[1] = 0; /* the first line: the source line of E026 is 700 bytes long */
    return got.data ? got.data : strdup("");
}

/* Every example of the page (a ```rule block and the ```text block after it; a
 * section may have several) is compiled and its output compared, byte for byte. */
Test(diag, documentation_matches_the_compiler) {
    size_t len;
    char *doc = read_all(PROMO_SOURCE_DIR "/docs/diagnostics.md", &len);
    int nexamples = 0;
    for (int code = 0; code < DIAG__COUNT; code++) {
        char head[128];
        snprintf(head, sizeof head, "\n## %s — %s\n", diag_code_names[code],
                 diag_code_summary[code]);
        const char *sec = strstr(doc, head);
        cr_assert_not_null(sec, "docs/diagnostics.md lacks the section '%s'", head + 1);
        sec += strlen(head);
        const char *next = strstr(sec, "\n## ");
        size_t slen, tlen;
        const char *src = fenced(sec, next, "rule", &slen);
        if (!src) {
            const char *want = fenced(sec, next, "text", &tlen);
            cr_assert_not_null(want, "%s: no output block", diag_code_names[code]);
            char *got = doc_special(code), *w = strndup(want, tlen);
            cr_expect_str_eq(got, w, "docs/diagnostics.md, %s", diag_code_names[code]);
            free(got);
            free(w);
            nexamples++;
            continue;
        }
        for (; src; src = fenced(src + slen, next, "rule", &slen)) {
            const char *want = fenced(src + slen, next, "text", &tlen);
            cr_assert_not_null(want, "%s: no output block after an example", diag_code_names[code]);
            char *got = doc_compile(src, slen, code), *w = strndup(want, tlen);
            cr_expect_str_eq(got, w, "docs/diagnostics.md, %s, example at byte %zu",
                             diag_code_names[code], (size_t)(src - doc));
            free(got);
            free(w);
            nexamples++;
        }
    }
    cr_expect_geq(nexamples, DIAG__COUNT);
    free(doc);
}

/* ---- issue 10: every input bounded ---- */

/* 10.9: a device, a FIFO in a directory: refused without reading (no hang, no OOM). */
Test(diag, devices_and_fifos_are_refused) {
    char *paths[] = {"/dev/zero"};
    cr_expect_eq(comp_add_paths(&comp, paths, 1), -1);
    cr_assert_eq(comp.diags.n, 1);
    cr_expect_str_eq(comp.diags.items[0].msg, "cannot read file: not a regular file");
    char dir[] = "/tmp/promo_fifo_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char fifo[300];
    snprintf(fifo, sizeof fifo, "%s/x.rule", dir);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    char *p2[] = {dir};
    cr_expect_eq(comp_add_paths(&comp, p2, 1), -1);
    cr_assert_eq(comp.diags.n, 2);
    cr_expect_str_eq(comp.diags.items[1].msg, "cannot read file: not a regular file");
    unlink(fifo);
    rmdir(dir);
}

/* 10.6: diagnostics are capped: the first DIAG_MAX_KEPT are kept, the rest counted. */
Test(diag, diagnostics_are_capped) {
    strbuf src = STRBUF_INIT;
    for (int i = 0; i < 5000; i++)
        sb_puts(&src, "@ $\n");
    comp_add_source(&comp, "flood.rule", src.data, src.len);
    sb_free(&src);
    parse_file(&comp, 0, NULL);
    cr_expect_eq(comp.diags.n, DIAG_MAX_KEPT);
    cr_expect_eq(comp.diags.nerrors, 10000);
    cr_expect_eq(comp.diags.nmore, 10000 - DIAG_MAX_KEPT);
    diag_render_text(&comp.diags, &out, 0);
    cr_expect(
        strstr(sb_cstr(&out), "\n9900 more errors and warnings not shown (the first 100 are)\n"));
    cr_expect_lt(out.len, 20000);
}

/* 10.4: a 100,000-term `or` chain (and `and`, and a 50,000-term `+`) is one E004, not a
 * stack overflow in the checks; 1000 operators in a chain are fine. */
Test(diag, long_operator_chains_are_refused) {
    static const char *const ops[] = {" or total > 1", " and total > 1", " + 1"};
    static const int terms[] = {100000, 100000, 50000};
    for (int k = 0; k < 3; k++) {
        comp_free(&comp);
        comp_init(&comp, NULL);
        strbuf src = STRBUF_INIT;
        sb_puts(&src, "campaign c \"x\" {\n when total > 1");
        for (int i = 1; i < terms[k]; i++)
            sb_puts(&src, ops[k]);
        sb_puts(&src, "\n then discount 1% on receipt\n}\n");
        comp_add_source(&comp, "chain.rule", src.data, src.len);
        sb_free(&src);
        strbuf bytes = STRBUF_INIT;
        cr_expect_gt(comp_build(&comp, &bytes), 0);
        sb_free(&bytes);
        cr_assert_eq(comp.diags.n, 1, "case %d: %zu diagnostics", k, comp.diags.n);
        cr_expect_eq(comp.diags.items[0].code, DIAG_E004);
        cr_expect(strstr(comp.diags.items[0].msg, "expression nested too deeply"));
    }
    comp_free(&comp);
    comp_init(&comp, NULL);
    strbuf src = STRBUF_INIT;
    sb_puts(&src, "campaign c \"x\" {\n when total > 1");
    for (int i = 1; i < AST_MAX_DEPTH; i++)
        sb_puts(&src, " or total > 1");
    sb_puts(&src, "\n then discount 1% on receipt\n}\n");
    comp_add_source(&comp, "ok.rule", src.data, src.len);
    sb_free(&src);
    strbuf bytes = STRBUF_INIT;
    cr_expect_eq(comp_build(&comp, &bytes), 0);
    cr_expect_gt(bytes.len, 0);
    sb_free(&bytes);
}

/* ---- columns in characters, did-you-mean ---- */

Test(diag, columns_count_characters_not_bytes) {
    /* "Молоко" is 6 characters, 12 bytes: `total` is at byte column 29, character 23 */
    const char *src = "campaign a \"Молоко\" { when total >= \"x\" then coupon \"A\" }\n";
    comp_add_source(&comp, "cyr.rule", src, strlen(src));
    comp_check(&comp);
    cr_assert_eq(comp.diags.n, 1);
    diag_render_text(&comp.diags, &out, 0);
    cr_expect_str_eq(sb_cstr(&out),
                     "cyr.rule:1:28: error[E008]: cannot compare money with string\n"
                     "campaign a \"Молоко\" { when total >= \"x\" then coupon \"A\" }\n"
                     "                           ^~~~~~~~~~~~\n");
    sb_free(&out);
    diag_render_json(&comp.diags, &out);
    cr_expect_not_null(strstr(sb_cstr(&out), "\"line\":1,\"column\":28,\"end_line\":1,"
                                             "\"end_column\":40,"),
                       "%s", sb_cstr(&out));
    sb_free(&out);
    diag_render_sarif(&comp.diags, &out);
    cr_expect(json_valid(out.data, out.len));
    cr_expect_not_null(strstr(sb_cstr(&out), "\"columnKind\":\"unicodeCodePoints\""));
    cr_expect_not_null(strstr(sb_cstr(&out), "\"startColumn\":28,\"endLine\":1,\"endColumn\":40"));
    /* a span over Cyrillic text is underlined per character */
    diag_list l = {0};
    l.files = comp.files;
    l.nfiles = comp.nfiles;
    diag_report(&l, DIAG_E004, span(0, 1, 12, 11, 14), "title");
    strbuf t = STRBUF_INIT;
    diag_render_text(&l, &t, 0);
    cr_expect_str_eq(sb_cstr(&t),
                     "cyr.rule:1:12: error[E004]: title\n"
                     "campaign a \"Молоко\" { when total >= \"x\" then coupon \"A\" }\n"
                     "           ^"
                     "~~~~~~~\n");
    cr_expect_eq(diag_char_col(&l, 0, 28, 29, 1), 23);
    sb_free(&t);
    diag_list_free(&l);
}

Test(diag, help_line_in_text_and_json) {
    const char *src = "campaign a { combine with none then coupon \"A\" }\n";
    comp_add_source(&comp, "h.rule", src, strlen(src));
    comp_check(&comp);
    diag_render_json(&comp.diags, &out);
    cr_expect(json_valid(out.data, out.len));
    cr_expect_not_null(strstr(sb_cstr(&out),
                              "\"message\":\"unknown group 'none' in combine with\",\"help\":"
                              "\"write 'combine none' (without 'with'): it combines with no other "
                              "campaign\",\"notes\":[]"),
                       "%s", sb_cstr(&out));
}

Test(diag, suggest_closest_by_edit_distance) {
    const char *kw[] = {"priority", "example", "category", "mon", "tue", "combine", NULL};
    size_t n = 6;
    cr_expect_str_eq(suggest_closest("priorty", kw, n), "priority");
    cr_expect_str_eq(suggest_closest("exmaple", kw, n), "example"); /* a swap is one edit */
    cr_expect_str_eq(suggest_closest("categroy", kw, n), "category");
    cr_expect_str_eq(suggest_closest("monday", kw, n), "mon");
    cr_expect_str_eq(suggest_closest("tu", kw, n), "tue");
    cr_expect_null(suggest_closest("zebra", kw, n));
    cr_expect_null(suggest_closest("priority", kw, 1)); /* itself is no suggestion */
    cr_expect_null(suggest_closest("x", kw, 0));
    cr_expect_eq(suggest_distance("exmaple", "example"), 1);
    cr_expect_eq(suggest_distance("", "abc"), 3);
    cr_expect_eq(suggest_distance("kitten", "sitting"), 3);
    char longw[80];
    memset(longw, 'a', 79);
    longw[79] = 0;
    cr_expect_eq(suggest_distance(longw, "a"), (size_t)-1);
}

Test(diag, a_misspelt_keyword_is_one_error) {
    const char *src = "campaign a { then coupon \"A\" exmaple \"x\" {\n"
                      "  line sku \"1\" qty 1 price 1 expect applied a } }\n"
                      "campaign b { priorty 5 then coupon \"B\" }\n";
    comp_add_source(&comp, "k.rule", src, strlen(src));
    cr_expect_eq(comp_check(&comp), 2);
    cr_assert_eq(comp.diags.n, 2);
    cr_expect_str_eq(comp.diags.items[0].msg, "expected ';', a clause or '}', found identifier "
                                              "'exmaple' (did you mean 'example'?)");
    cr_expect_str_eq(comp.diags.items[1].msg, "expected a clause or '}', found identifier "
                                              "'priorty' (did you mean 'priority'?)");
}
