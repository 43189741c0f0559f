/*
 * cmd_fmt.c — `promo fmt FILES/DIRS`: one canonical layout for .rule files (like gofmt:
 * no options). Works on the token stream of the real lexer (grammar/lexer.re), so the
 * formatted text has exactly the tokens of the original (literals keep their spelling)
 * and therefore compiles to the same bundle; only white space changes, and comments are
 * kept where they were (on their own line, or at the end of a line).
 *
 * The layout depends only on the tokens, the comments and where blank lines were:
 *  - declarations start at column 0; clauses inside `campaign { }` start their own line
 *    at 4 spaces, the clause keyword padded to 9 columns (`when     ...`);
 *  - example items start their own line one level deeper; `customer { ... }` stays on
 *    one line; `history ... { }` nests like an example;
 *  - one space between tokens, none before `, ; ) ] .` nor after `( [ .` and unary `-`;
 *  - runs of blank lines become one; no blank line after `{` or before `}`.
 * A file with a lexical or syntax error is left alone (its diagnostics are printed).
 * `--check` lists the files that would change and exits 1; `--diff` shows a unified
 * diff (diff -u, run without a shell) instead of writing. Files are replaced through
 * the CLI's one atomic writer (tools/atomic_write.c).
 */
#include <sys/stat.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "atomic_write.h"
#include "cli.h"
#include "compile.h"
#include "parse.h"
#include "parser.h"
#include "strbuf.h"
#include "xalloc.h"

/* ------------------------------------------------------------ token classes ---- */

static int is_clause_kw(int t) {
    switch (t) {
    case KW_PRIORITY:
    case KW_GROUP:
    case KW_COMBINE:
    case KW_STOP:
    case KW_ACTIVE:
    case KW_DAYS:
    case KW_HOURS:
    case KW_STORES:
    case KW_CHANNEL:
    case KW_CARD:
    case KW_SEGMENT:
    case KW_CODE:
    case KW_WHEN:
    case KW_THEN:
    case KW_LIMIT:
    case KW_BUDGET:
    case KW_EXAMPLE: return 1;
    default: return 0;
    }
}

static int is_item_kw(int t) {
    switch (t) {
    case KW_CUSTOMER:
    case KW_STORE:
    case KW_REGION:
    case KW_CHANNEL:
    case KW_TIME:
    case KW_PAYMENT:
    case KW_POINTS_PAID:
    case KW_CODE:
    case KW_ATTR:
    case KW_LINE:
    case KW_HISTORY:
    case KW_EXPECT: return 1;
    default: return 0;
    }
}

static int is_decl_kw(int t) {
    return t == KW_SET || t == KW_GROUP || t == KW_CAMPAIGN || t == KW_TIEBREAK;
}

/* Tokens that can end an expression, a clause or an item: after one of them a clause
 * keyword starts a new clause (the grammar never juxtaposes two operands). */
static int ends_value(int t) {
    switch (t) {
    case IDENT:
    case INT:
    case DECIMAL:
    case PERCENT:
    case STRING:
    case DATE:
    case TIME:
    case DATETIME:
    case ')':
    case ']':
    case '}':
    case KW_TOTAL:
    case KW_ORIGINAL_TOTAL:
    case KW_STORE:
    case KW_REGION:
    case KW_CHANNEL:
    case KW_PAYMENT:
    case KW_DATE:
    case KW_WEEKDAY:
    case KW_TIER:
    case KW_REGISTERED:
    case KW_EXCLUDED:
    case KW_SKU:
    case KW_CATEGORY:
    case KW_BRAND:
    case KW_QTY:
    case KW_PRICE:
    case KW_ORIGINAL_PRICE:
    case KW_AMOUNT:
    case KW_RECEIPT:
    case KW_LINES:
    case KW_STOP:
    case KW_ANY:
    case KW_NONE:
    case KW_PARTIAL:
    case KW_DAY:
    case KW_DAYS:
    case KW_WEEK:
    case KW_WEEKS:
    case KW_MONTH:
    case KW_POS:
    case KW_ONLINE:
    case KW_CASH:
    case KW_CARD:
    case KW_CREDIT:
    case KW_BONUS:
    case KW_MIXED:
    case KW_MON:
    case KW_TUE:
    case KW_WED:
    case KW_THU:
    case KW_FRI:
    case KW_SAT:
    case KW_SUN:
    case KW_FREE:
    case KW_OFF:
    case KW_PAID:
    case KW_BENEFIT:
    case KW_ID:
    case KW_TIME:
    case KW_FINAL:
    case KW_POINTS: /* also a group name */ return 1;
    default: return 0;
    }
}

/* ------------------------------------------------------------ the printer ---- */

enum { BLK_CAMPAIGN, BLK_EXAMPLE, BLK_CUSTOMER, BLK_OTHER };

#define FMT_MAX_DEPTH 32

typedef struct fmt_state {
    strbuf out;
    const char *text;
    int depth;              /* open braces */
    int blk[FMT_MAX_DEPTH]; /* kind of each open brace */
    int paren;              /* open ( and [ */
    int prev;               /* previous token, -1 at the start */
    int prev2;              /* the one before */
    int line_empty;         /* nothing written on the current output line yet */
    int pending_blank;      /* a blank line was seen before the next token */
    int next_blk;           /* kind of the next '{' */
} fmt_state;

static void fmt_newline(fmt_state *f) {
    if (!f->line_empty) {
        sb_putc(&f->out, '\n');
        f->line_empty = 1;
    }
}

static int fmt_inline_block(const fmt_state *f) {
    for (int i = 0; i < f->depth && i < FMT_MAX_DEPTH; i++)
        if (f->blk[i] == BLK_CUSTOMER) return 1;
    return 0;
}

static void fmt_indent(fmt_state *f, int depth) {
    for (int i = 0; i < depth; i++)
        sb_puts(&f->out, "    ");
    f->line_empty = 0;
}

/* Starts a new output line at `depth`, with a blank line before it when the source
 * had one and it is allowed here. */
static void fmt_start_line(fmt_state *f, int depth, int allow_blank) {
    int had_output = f->out.len > 0;
    fmt_newline(f);
    if (f->pending_blank && allow_blank && had_output) sb_putc(&f->out, '\n');
    f->pending_blank = 0;
    fmt_indent(f, depth);
}

/* The previous token ends a clause or an item: a value, or the `customer` of
 * `limit N per customer` (elsewhere `customer` is followed by `.` or `{`). */
static int fmt_after_value(const fmt_state *f) {
    return ends_value(f->prev) || (f->prev == KW_CUSTOMER && f->prev2 == KW_PER);
}

static int is_unary_minus(const fmt_state *f) {
    return !ends_value(f->prev);
}

static void fmt_token(fmt_state *f, int tok, const char *s, size_t n) {
    int inside_campaign = f->depth >= 1 && f->blk[f->depth - 1] == BLK_CAMPAIGN;
    int inside_example = f->depth >= 1 && f->blk[f->depth - 1] == BLK_EXAMPLE;
    int at_depth = f->depth;
    int new_line = 0, allow_blank = 1, pad_kw = 0;
    int unary = tok == '-' && is_unary_minus(f);

    if (tok == '}') {
        if (f->depth > 0) f->depth--;
        at_depth = f->depth;
        if (fmt_inline_block(f) || (f->depth < FMT_MAX_DEPTH && f->blk[f->depth] == BLK_CUSTOMER)) {
            sb_puts(&f->out, " }");
            f->line_empty = 0;
            goto done;
        }
        new_line = 1;
        allow_blank = 0;
    } else if (f->paren == 0 && f->depth == 0 && is_decl_kw(tok)) {
        new_line = 1;
    } else if (f->paren == 0 && inside_campaign && is_clause_kw(tok) &&
               (f->prev == '{' || fmt_after_value(f)) &&
               !(tok == KW_DAYS && f->prev == INT &&
                 (f->prev2 == KW_IN || f->prev2 == KW_WITHIN))) { /* `in 14 days` */
        new_line = 1;
        pad_kw = 1;
    } else if (f->paren == 0 && inside_example && is_item_kw(tok) &&
               (f->prev == '{' || ends_value(f->prev))) {
        new_line = 1;
    }

    if (new_line) {
        if (f->prev == '{') allow_blank = 0;
        fmt_start_line(f, at_depth, allow_blank);
    } else if (!f->line_empty) {
        /* Spacing between two tokens on one line. */
        int space = 1;
        if (tok == ',' || tok == ';' || tok == ')' || tok == ']' || tok == '.') space = 0;
        if (f->prev == '(' || f->prev == '[' || f->prev == '.') space = 0;
        if (f->prev == '-' && !ends_value(f->prev2) && f->prev2 != -2) space = 0;
        if (tok == '(' && (f->prev == KW_SUM || f->prev == KW_COUNT || f->prev == KW_ANY ||
                           f->prev == KW_DISTINCT || f->prev == KW_VISITS))
            space = 0;
        if (space) sb_putc(&f->out, ' ');
    } else {
        fmt_start_line(f, at_depth, 1);
    }
    f->pending_blank = 0;
    sb_add(&f->out, s, n);
    f->line_empty = 0;
    if (pad_kw && n < 8 && tok != KW_STOP && tok != KW_EXAMPLE) {
        for (size_t i = n; i < 8; i++)
            sb_putc(&f->out, ' ');
    }

    switch (tok) {
    case KW_CAMPAIGN: f->next_blk = BLK_CAMPAIGN; break;
    case KW_EXAMPLE:
    case KW_HISTORY: f->next_blk = BLK_EXAMPLE; break;
    case KW_CUSTOMER:
        if (inside_example) f->next_blk = BLK_CUSTOMER;
        break;
    case '{':
        if (f->depth < FMT_MAX_DEPTH) f->blk[f->depth] = f->next_blk;
        f->depth++;
        f->next_blk = BLK_OTHER;
        break;
    case '(':
    case '[': f->paren++; break;
    case ')':
    case ']':
        if (f->paren > 0) f->paren--;
        break;
    default: break;
    }
done:
    f->prev2 = tok == '-' && unary ? -1 : f->prev;
    f->prev = tok;
}

/* A padded keyword followed by nothing else (e.g. `stop`) must not leave trailing
 * spaces: strip trailing blanks of every line at the end. */
static void fmt_strip_trailing(strbuf *b) {
    strbuf o = STRBUF_INIT;
    size_t start = 0;
    for (size_t i = 0; i <= b->len; i++) {
        if (i == b->len || b->data[i] == '\n') {
            size_t end = i;
            while (end > start && (b->data[end - 1] == ' ' || b->data[end - 1] == '\t'))
                end--;
            sb_add(&o, b->data + start, end - start);
            if (i < b->len) sb_putc(&o, '\n');
            start = i + 1;
        }
    }
    sb_free(b);
    *b = o;
}

/* Aligns the trailing comments (marked by \x01) of consecutive lines at the same
 * depth two columns after the longest code among them, as gofmt does. */
static void fmt_align_comments(strbuf *b) {
    /* Split into lines. */
    size_t nlines = 0, cap = 64;
    size_t *start = xmalloc(cap * sizeof *start);
    for (size_t i = 0, s0 = 0; i <= b->len; i++) {
        if (i == b->len || b->data[i] == '\n') {
            if (nlines == cap) start = xrealloc(start, (cap *= 2) * sizeof *start);
            start[nlines++] = s0;
            s0 = i + 1;
        }
    }
    strbuf o = STRBUF_INIT;
    size_t i = 0;
    while (i < nlines) {
        /* A run of lines carrying a marker. */
        size_t j = i, width = 0;
        for (; j < nlines; j++) {
            const char *ln = b->data + start[j];
            size_t len = (j + 1 < nlines ? start[j + 1] - 1 : b->len) - start[j];
            const char *m = memchr(ln, '\x01', len);
            if (!m) break;
            if ((size_t)(m - ln) > width) width = (size_t)(m - ln);
        }
        if (j == i) j = i + 1;
        for (size_t k = i; k < j; k++) {
            const char *ln = b->data + start[k];
            size_t len = (k + 1 < nlines ? start[k + 1] - 1 : b->len) - start[k];
            const char *m = memchr(ln, '\x01', len);
            if (m) {
                size_t code = (size_t)(m - ln);
                sb_add(&o, ln, code);
                for (size_t p = code; p < width + 2; p++)
                    sb_putc(&o, ' ');
                sb_add(&o, m + 1, len - code - 1);
            } else {
                sb_add(&o, ln, len);
            }
            if (k + 1 < nlines) sb_putc(&o, '\n');
        }
        i = j;
    }
    xfree(start);
    sb_free(b);
    *b = o;
}

/* Blank line between the end of the previous thing (byte `from`) and `to`? */
static int blank_between(const char *text, size_t from, size_t to) {
    int nl = 0;
    for (size_t i = from; i < to; i++) {
        if (text[i] == '\n') {
            if (++nl >= 2) return 1;
        } else if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r') {
            nl = 0;
        }
    }
    return 0;
}

static int newline_between(const char *text, size_t from, size_t to) {
    for (size_t i = from; i < to; i++)
        if (text[i] == '\n') return 1;
    return 0;
}

/* Formats file `fi` of `c`; returns 0 and the text in *out, or -1 on errors (also
 * used by the language server, cli/cmd_lsp.c). */
int fmt_file(compilation *c, uint32_t fi, strbuf *out) {
    size_t errs = c->diags.nerrors;
    parse_comments cm = {0};
    if (!parse_file(c, fi, NULL) || c->diags.nerrors > errs) return -1;
    lexer lx;
    lex_init(&lx, c, fi, &cm);
    fmt_state f = {STRBUF_INIT, c->files[fi].text, 0, {0}, 0, -2, -2, 1, 0, BLK_OTHER};
    const char *text = c->files[fi].text;
    size_t ci = 0, last_end = 0;
    for (;;) {
        ast_node *val;
        src_span sp;
        int tok = lex_next(&lx, &val, &sp);
        size_t tok_off = tok ? sp.off : c->files[fi].len;
        /* Comments before this token. */
        while (ci < cm.n && cm.items[ci].span.off < tok_off) {
            const src_span *cs = &cm.items[ci].span;
            int own_line = f.out.len == 0 || newline_between(text, last_end, cs->off);
            if (own_line) {
                if (blank_between(text, last_end, cs->off)) f.pending_blank = 1;
                fmt_start_line(&f, f.depth, 1);
            } else {
                sb_putc(&f.out, '\x01'); /* trailing comment: aligned afterwards */
            }
            sb_add(&f.out, text + cs->off, cs->len);
            f.line_empty = 0;
            fmt_newline(&f);
            last_end = cs->off + cs->len;
            ci++;
        }
        if (!tok) break;
        if (blank_between(text, last_end, sp.off)) f.pending_blank = 1;
        fmt_token(&f, tok, text + sp.off, sp.len);
        last_end = sp.off + sp.len;
    }
    fmt_newline(&f);
    parse_comments_free(&cm);
    if (c->diags.nerrors > errs) {
        sb_free(&f.out);
        return -1;
    }
    fmt_strip_trailing(&f.out);
    fmt_align_comments(&f.out);
    *out = f.out;
    return 0;
}

/* ------------------------------------------------------------ the command ---- */

/* Shows how `path` would change: `diff -u` run directly (fork + execvp, no shell, so
 * no file name is ever read as a command) on the file and a private temporary copy of
 * the formatted text. */
static void show_diff(const char *path, const char *formatted, size_t len) {
    char tmpl[] = "/tmp/promo-fmt-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0) {
        fprintf(stderr, "promo fmt: cannot create a temporary file: %s\n", strerror(errno));
        return;
    }
    ssize_t w = write(fd, formatted, len);
    close(fd);
    if (w == (ssize_t)len) {
        strbuf label = STRBUF_INIT;
        sb_printf(&label, "%s (formatted)", path);
        char *argv[] = {
            "diff", "-u",         "--label", (char *)path, "--label", (char *)sb_cstr(&label),
            "--",   (char *)path, tmpl,      NULL};
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            execvp(argv[0], argv);
            fprintf(stderr, "promo fmt: cannot run diff: %s\n", strerror(errno));
            _exit(127);
        }
        if (pid < 0) {
            fprintf(stderr, "promo fmt: cannot run diff: %s\n", strerror(errno));
        } else {
            int status;
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
        }
        sb_free(&label);
    }
    unlink(tmpl);
}

static void usage(FILE *f) {
    fprintf(f, "usage: promo fmt [--check | --diff] FILES/DIRS...\n"
               "Rewrites .rule files in the canonical layout (directories: every *.rule).\n"
               "  --check  write nothing; list files that would change; exit 1 if any\n"
               "  --diff   write nothing; show how each file would change\n");
}

int cmd_fmt(int argc, char **argv) {
    int check = 0, diff = 0;
    const cli_flag flags[] = {{"--check", &check, 1}, {"--diff", &diff, 1}};
    char **paths;
    int npaths;
    int st = cli_parse_paths("fmt", argc, argv, flags, 2, usage, &paths, &npaths);
    if (st >= 0) return st;
    compile_opts opts = {.today = INT32_MIN, .werror = 0};
    compilation c;
    comp_init(&c, &opts);
    int rc = comp_add_paths(&c, paths, npaths) < 0 ? 2 : 0;
    xfree(paths);
    int changed = 0, bad = 0;
    char err[512];
    for (uint32_t fi = 0; fi < c.nfiles; fi++) {
        strbuf out = STRBUF_INIT;
        if (fmt_file(&c, fi, &out) < 0) {
            bad = 1;
            continue;
        }
        const src_file *sf = &c.files[fi];
        if (out.len == sf->len && !memcmp(out.data, sf->text, sf->len)) {
            sb_free(&out);
            continue;
        }
        changed = 1;
        if (check) {
            printf("%s\n", sf->path);
        } else if (diff) {
            show_diff(sf->path, sb_cstr(&out), out.len);
        } else if (aw_write_file(sf->path, sb_cstr(&out), out.len, err, sizeof err) < 0) {
            fprintf(stderr, "promo fmt: %s\n", err);
            rc = 2;
        }
        sb_free(&out);
    }
    if (c.diags.n) {
        strbuf d = STRBUF_INIT;
        diag_sort(&c.diags);
        diag_render_text(&c.diags, &d, isatty(2));
        fputs(sb_cstr(&d), stderr);
        sb_free(&d);
    }
    comp_free(&c);
    if (rc) return rc;
    if (bad) return 1;
    return (check || diff) && changed ? 1 : 0;
}
