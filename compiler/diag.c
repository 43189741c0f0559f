/*
 * diag.c — diagnostics of every compiler stage: collection, stable ordering, and the
 * three renderings (clang-style text with the source line and a caret, JSON for
 * scripts, SARIF 2.1.0 for code-scanning CI).
 *
 * Columns are 1-based and count characters (a UTF-8 sequence counts one, an invalid
 * byte one), so carets line up under Cyrillic text; spans are kept in bytes and
 * converted when rendered. A span that runs past its first line is underlined to the
 * end of that line. In JSON and SARIF the end column is exclusive (the column
 * just after the span), as SARIF defines it.
 */
#include "diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "promo.h"
#include "strbuf.h"
#include "utf8.h"
#include "xalloc.h"

const char *const diag_code_names[DIAG__COUNT] = {
#define X(code, msg) #code,
    DIAG_CODE_LIST(X)
#undef X
};

const char *const diag_code_summary[DIAG__COUNT] = {
#define X(code, msg) msg,
    DIAG_CODE_LIST(X)
#undef X
};

__attribute__((format(printf, 1, 0))) static char *diag_vformat(const char *fmt, va_list ap) {
    strbuf sb = STRBUF_INIT;
    sb_vprintf(&sb, fmt, ap);
    if (!sb.data) return xstrdup("");
    return sb.data;
}

diag *diag_report(diag_list *l, diag_code code, src_span span, const char *fmt, ...) {
    if (l->n >= DIAG_MAX_KEPT) {
        if (diag_code_names[code][0] == 'W')
            l->nwarnings++;
        else
            l->nerrors++;
        l->nmore++;
        return NULL;
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->items = xrealloc(l->items, l->cap * sizeof *l->items);
    }
    diag *d = &l->items[l->n++];
    memset(d, 0, sizeof *d);
    d->code = code;
    d->sev = diag_code_names[code][0] == 'W' ? DIAG_WARNING : DIAG_ERROR;
    d->span = span;
    va_list ap;
    va_start(ap, fmt);
    d->msg = diag_vformat(fmt, ap);
    va_end(ap);
    if (d->sev == DIAG_ERROR)
        l->nerrors++;
    else
        l->nwarnings++;
    return d;
}

void diag_add_note(diag *d, src_span span, const char *fmt, ...) {
    if (!d || d->nnotes >= DIAG_MAX_NOTES) return;
    diag_note *n = &d->notes[d->nnotes++];
    n->span = span;
    va_list ap;
    va_start(ap, fmt);
    n->msg = diag_vformat(fmt, ap);
    va_end(ap);
}

void diag_set_help(diag *d, const char *fmt, ...) {
    if (!d) return;
    xfree(d->help);
    va_list ap;
    va_start(ap, fmt);
    d->help = diag_vformat(fmt, ap);
    va_end(ap);
}

uint32_t diag_char_col(const diag_list *l, uint32_t file, uint32_t off, uint32_t byte_col,
                       int utf16) {
    if (!l->files || file >= l->nfiles || byte_col == 0) return byte_col;
    const src_file *f = &l->files[file];
    if (off > f->len || byte_col - 1 > off) return byte_col;
    return (uint32_t)utf8_count(f->text, off - (byte_col - 1), off, utf16) + 1;
}

/* ---- ordering ---- */

static const char *diag_path(const diag_list *l, uint32_t file) {
    return l->files && file < l->nfiles ? l->files[file].path : "<input>";
}

static int diag_cmp(const diag_list *l, const diag *a, const diag *b) {
    if (a->span.file != b->span.file) {
        int c = strcmp(diag_path(l, a->span.file), diag_path(l, b->span.file));
        if (c) return c;
        return a->span.file < b->span.file ? -1 : 1;
    }
    if (a->span.line != b->span.line) return a->span.line < b->span.line ? -1 : 1;
    if (a->span.col != b->span.col) return a->span.col < b->span.col ? -1 : 1;
    return 0;
}

/* Merge sort: stable, so diagnostics at one position keep their report order. */
static void diag_msort(const diag_list *l, diag *v, diag *tmp, size_t n) {
    if (n < 2) return;
    size_t h = n / 2;
    diag_msort(l, v, tmp, h);
    diag_msort(l, v + h, tmp, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = diag_cmp(l, &v[j], &v[i]) < 0 ? v[j++] : v[i++];
    while (i < h)
        tmp[k++] = v[i++];
    while (j < n)
        tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
}

void diag_sort(diag_list *l) {
    if (l->n < 2) return;
    diag *tmp = xmalloc(l->n * sizeof *tmp);
    diag_msort(l, l->items, tmp, l->n);
    xfree(tmp);
}

static void diag_free_one(diag *d) {
    xfree(d->msg);
    xfree(d->help);
    for (int k = 0; k < d->nnotes; k++)
        xfree(d->notes[k].msg);
}

void diag_truncate(diag_list *l, size_t n) {
    while (l->n > n) {
        diag *d = &l->items[--l->n];
        if (d->sev == DIAG_ERROR)
            l->nerrors--;
        else
            l->nwarnings--;
        diag_free_one(d);
    }
}

void diag_list_free(diag_list *l) {
    for (size_t i = 0; i < l->n; i++)
        diag_free_one(&l->items[i]);
    xfree(l->items);
    l->items = NULL;
    l->n = l->cap = l->nerrors = l->nwarnings = l->nmore = 0;
}

/* ---- positions ---- */

typedef struct diag_pos {
    uint32_t line, col, end_line, end_col; /* end_col exclusive */
} diag_pos;

static diag_pos diag_position(const diag_list *l, src_span s) {
    diag_pos p = {s.line, s.col, s.line, s.col + s.len};
    if (!l->files || s.file >= l->nfiles || s.line == 0) return p;
    const src_file *f = &l->files[s.file];
    size_t off = s.off, end = (size_t)s.off + s.len;
    if (off > f->len || end > f->len || s.col - 1 > off) return p;
    size_t line_start = off - (s.col - 1);
    for (size_t i = off; i < end; i++) {
        if (f->text[i] == '\n') {
            p.end_line++;
            line_start = i + 1;
        }
    }
    p.col = (uint32_t)utf8_count(f->text, off - (s.col - 1), off, 0) + 1;
    p.end_col = (uint32_t)utf8_count(f->text, line_start, end, 0) + 1;
    return p;
}

/* ---- text ---- */

#define DIAG_LINE_SHOWN 160 /* bytes of a long source line shown around the span */

#define C_BOLD    "\033[1m"
#define C_RED     "\033[1;31m"
#define C_MAGENTA "\033[1;35m"
#define C_CYAN    "\033[1;36m"
#define C_GREEN   "\033[1;32m"
#define C_RESET   "\033[0m"

static const char *const diag_sev_names[] = {"error", "warning", "note"};

static void diag_text_source(const diag_list *l, src_span s, strbuf *out, int color) {
    if (!l->files || s.file >= l->nfiles || s.line == 0) return;
    const src_file *f = &l->files[s.file];
    if (s.off > f->len) return;
    size_t start = s.off - (s.col - 1 <= s.off ? s.col - 1 : s.off);
    size_t end = start;
    while (end < f->len && f->text[end] != '\n')
        end++;
    size_t shown = end;
    if (shown > start && f->text[shown - 1] == '\r') shown--;
    /* A long line is shown as a window around the span, cut at character bounds. */
    int cut_left = 0, cut_right = 0;
    if (shown - start > DIAG_LINE_SHOWN) {
        size_t ws = s.off > start + DIAG_LINE_SHOWN / 3 ? s.off - DIAG_LINE_SHOWN / 3 : start;
        while (ws > start && ((unsigned char)f->text[ws] & 0xC0) == 0x80)
            ws--;
        size_t we = ws + DIAG_LINE_SHOWN < shown ? ws + DIAG_LINE_SHOWN : shown;
        while (we < shown && ((unsigned char)f->text[we] & 0xC0) == 0x80)
            we++;
        cut_left = ws > start;
        cut_right = we < shown;
        start = ws;
        shown = we;
    }
    if (cut_left) sb_puts(out, "...");
    sb_add(out, f->text + start, shown - start);
    if (cut_right) sb_puts(out, "...");
    sb_putc(out, '\n');
    if (cut_left) sb_puts(out, "   ");
    /* The caret line copies the tabs of the source so it lines up in any tab width,
     * and has one blank per character (not per byte) before the caret. */
    const unsigned char *t = (const unsigned char *)f->text;
    for (size_t i = start; i < s.off && i < shown;) {
        size_t k = utf8_seq_len(t + i, shown - i);
        sb_putc(out, t[i] == '\t' ? '\t' : ' ');
        i += k ? k : 1;
    }
    if (color) sb_puts(out, C_GREEN);
    sb_putc(out, '^');
    size_t from = s.off, to = (size_t)s.off + s.len;
    if (to > shown) to = shown;
    if (from < to) {
        size_t k = utf8_seq_len(t + from, to - from);
        from += k ? k : 1;
    }
    for (size_t n = from < to ? utf8_count(f->text, from, to, 0) : 0; n > 0; n--)
        sb_putc(out, '~');
    if (color) sb_puts(out, C_RESET);
    sb_putc(out, '\n');
}

static void diag_text_head(const diag_list *l, src_span s, diag_severity sev, const char *code,
                           const char *msg, strbuf *out, int color) {
    if (color) sb_puts(out, C_BOLD);
    sb_puts(out, diag_path(l, s.file));
    if (s.line) sb_printf(out, ":%u:%u", s.line, diag_char_col(l, s.file, s.off, s.col, 0));
    sb_puts(out, ": ");
    if (color) sb_puts(out, sev == DIAG_ERROR ? C_RED : sev == DIAG_WARNING ? C_MAGENTA : C_CYAN);
    sb_puts(out, diag_sev_names[sev]);
    if (code) sb_printf(out, "[%s]", code);
    sb_puts(out, ": ");
    if (color) sb_puts(out, C_RESET C_BOLD);
    sb_puts(out, msg);
    if (color) sb_puts(out, C_RESET);
    sb_putc(out, '\n');
}

void diag_render_text(const diag_list *l, strbuf *out, int color) {
    for (size_t i = 0; i < l->n; i++) {
        const diag *d = &l->items[i];
        diag_text_head(l, d->span, d->sev, diag_code_names[d->code], d->msg, out, color);
        diag_text_source(l, d->span, out, color);
        for (int k = 0; k < d->nnotes; k++) {
            const diag_note *n = &d->notes[k];
            diag_text_head(l, n->span, DIAG_NOTE, NULL, n->msg, out, color);
            diag_text_source(l, n->span, out, color);
        }
        if (d->help) {
            if (color) sb_puts(out, C_CYAN);
            sb_puts(out, "help:");
            if (color) sb_puts(out, C_RESET);
            sb_printf(out, " %s\n", d->help);
        }
    }
    if (l->nmore)
        sb_printf(out, "%zu more errors and warnings not shown (the first %d are)\n", l->nmore,
                  DIAG_MAX_KEPT);
}

/* ---- JSON ---- */

/* JSON must be UTF-8: messages quote source text, which may not be. Invalid bytes
 * become U+FFFD. */
static void diag_json_text(strbuf *out, const char *val) {
    const unsigned char *s = (const unsigned char *)val;
    size_t n = strlen(val), i = 0;
    strbuf clean = STRBUF_INIT;
    while (i < n) {
        size_t k = utf8_seq_len(s + i, n - i);
        if (k) {
            sb_add(&clean, s + i, k);
            i += k;
        } else {
            sb_puts(&clean, "\xEF\xBF\xBD");
            i++;
        }
    }
    sb_json_str(out, sb_cstr(&clean), clean.len);
    sb_free(&clean);
}

static void diag_json_key(strbuf *out, const char *key) {
    sb_json_str(out, key, strlen(key));
    sb_putc(out, ':');
}

static void diag_json_strf(strbuf *out, const char *key, const char *val) {
    diag_json_key(out, key);
    diag_json_text(out, val);
}

void diag_render_json(const diag_list *l, strbuf *out) {
    sb_putc(out, '[');
    for (size_t i = 0; i < l->n; i++) {
        const diag *d = &l->items[i];
        diag_pos p = diag_position(l, d->span);
        if (i) sb_putc(out, ',');
        sb_putc(out, '{');
        diag_json_strf(out, "file", diag_path(l, d->span.file));
        sb_printf(out, ",\"line\":%u,\"column\":%u,\"end_line\":%u,\"end_column\":%u,", p.line,
                  p.col, p.end_line, p.end_col);
        diag_json_strf(out, "severity", diag_sev_names[d->sev]);
        sb_putc(out, ',');
        diag_json_strf(out, "code", diag_code_names[d->code]);
        sb_putc(out, ',');
        diag_json_strf(out, "message", d->msg);
        if (d->help) {
            sb_putc(out, ',');
            diag_json_strf(out, "help", d->help);
        }
        sb_puts(out, ",\"notes\":[");
        for (int k = 0; k < d->nnotes; k++) {
            const diag_note *n = &d->notes[k];
            if (k) sb_putc(out, ',');
            sb_putc(out, '{');
            diag_json_strf(out, "file", diag_path(l, n->span.file));
            sb_printf(out, ",\"line\":%u,\"column\":%u,", n->span.line,
                      diag_char_col(l, n->span.file, n->span.off, n->span.col, 0));
            diag_json_strf(out, "message", n->msg);
            sb_putc(out, '}');
        }
        sb_puts(out, "]}");
    }
    sb_puts(out, "]\n");
}

/* ---- SARIF 2.1.0 ---- */

/* Paths become relative URI references: unreserved bytes and '/' stay, the rest is
 * percent-encoded. */
static void diag_uri(strbuf *out, const char *path) {
    strbuf u = STRBUF_INIT;
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~/", *p))
            sb_putc(&u, (char)*p);
        else
            sb_printf(&u, "%%%02X", *p);
    }
    sb_json_str(out, sb_cstr(&u), u.len);
    sb_free(&u);
}

static void diag_sarif_location(const diag_list *l, src_span s, strbuf *out) {
    sb_puts(out, "\"physicalLocation\":{\"artifactLocation\":{\"uri\":");
    diag_uri(out, diag_path(l, s.file));
    sb_putc(out, '}');
    if (s.line) {
        diag_pos p = diag_position(l, s);
        sb_printf(out,
                  ",\"region\":{\"startLine\":%u,\"startColumn\":%u,\"endLine\":%u,"
                  "\"endColumn\":%u}",
                  p.line, p.col, p.end_line, p.end_col);
    }
    sb_putc(out, '}');
}

void diag_render_sarif(const diag_list *l, strbuf *out) {
    sb_puts(out, "{\"$schema\":\"https://json.schemastore.org/sarif-2.1.0.json\","
                 "\"version\":\"2.1.0\",\"runs\":[{\"tool\":{\"driver\":{\"name\":\"promo\","
                 "\"version\":\"" PROMO_VERSION_STRING "\","
                 "\"rules\":[");
    for (int c = 0; c < DIAG__COUNT; c++) {
        if (c) sb_putc(out, ',');
        sb_puts(out, "{");
        diag_json_strf(out, "id", diag_code_names[c]);
        sb_puts(out, ",\"shortDescription\":{");
        diag_json_strf(out, "text", diag_code_summary[c]);
        sb_puts(out, "},\"defaultConfiguration\":{");
        diag_json_strf(out, "level", diag_code_names[c][0] == 'W' ? "warning" : "error");
        sb_puts(out, "}}");
    }
    sb_puts(out, "]}},\"columnKind\":\"unicodeCodePoints\",\"results\":[");
    for (size_t i = 0; i < l->n; i++) {
        const diag *d = &l->items[i];
        if (i) sb_putc(out, ',');
        sb_putc(out, '{');
        diag_json_strf(out, "ruleId", diag_code_names[d->code]);
        sb_printf(out, ",\"ruleIndex\":%d,", (int)d->code);
        diag_json_strf(out, "level", diag_sev_names[d->sev]);
        sb_puts(out, ",\"message\":{");
        diag_json_strf(out, "text", d->msg);
        sb_puts(out, "},\"locations\":[{");
        diag_sarif_location(l, d->span, out);
        sb_puts(out, "}]");
        if (d->nnotes) {
            sb_puts(out, ",\"relatedLocations\":[");
            for (int k = 0; k < d->nnotes; k++) {
                if (k) sb_putc(out, ',');
                sb_printf(out, "{\"id\":%d,", k);
                diag_sarif_location(l, d->notes[k].span, out);
                sb_puts(out, ",\"message\":{");
                diag_json_strf(out, "text", d->notes[k].msg);
                sb_puts(out, "}}");
            }
            sb_putc(out, ']');
        }
        sb_putc(out, '}');
    }
    sb_puts(out, "]}]}\n");
}
