/*
 * cmd_lsp.c — `promo lsp`: a Language Server Protocol server on stdin/stdout
 * (JSON-RPC with Content-Length framing), reusing the compiler:
 *   - textDocument/didOpen, didChange (full text), didClose: the document is compiled
 *     alone and its diagnostics published (codes, help lines as related text);
 *   - hover: a set's definition, a campaign's title and priority, a group's campaigns,
 *     a fact's type;
 *   - definition and references of sets, groups and campaign ids (in the document);
 *   - completion: keywords, facts and the names declared in the document;
 *   - formatting: the layout of `promo fmt`;
 *   - a code lens "run N examples" over each campaign that has examples;
 *   - shutdown / exit.
 * Positions are LSP's: 0-based lines, UTF-16 code units. Names are found by the real
 * lexer (grammar/lexer.re), so a document with syntax errors still navigates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "compile.h"
#include "diag.h"
#include "json_mini.h"
#include "parse.h"
#include "parser.h"
#include "promo.h"
#include "strbuf.h"
#include "utf8.h"
#include "xalloc.h"

/* ------------------------------------------------------------ documents ---- */

typedef struct lsp_doc {
    char *uri;
    char *text;
    size_t len;
} lsp_doc;

typedef struct lsp {
    lsp_doc *docs;
    size_t ndocs, cap;
    int shutdown;
} lsp;

static lsp_doc *lsp_find(lsp *L, const char *uri) {
    for (size_t i = 0; i < L->ndocs; i++)
        if (!strcmp(L->docs[i].uri, uri)) return &L->docs[i];
    return NULL;
}

static lsp_doc *lsp_set(lsp *L, const char *uri, const char *text, size_t len) {
    lsp_doc *d = lsp_find(L, uri);
    if (!d) {
        if (L->ndocs == L->cap) {
            L->cap = L->cap ? L->cap * 2 : 8;
            L->docs = xrealloc(L->docs, L->cap * sizeof *L->docs);
        }
        d = &L->docs[L->ndocs++];
        d->uri = xstrdup(uri);
        d->text = NULL;
    }
    xfree(d->text);
    d->text = xmalloc(len + 1);
    memcpy(d->text, text, len);
    d->text[len] = 0;
    d->len = len;
    return d;
}

/* The file path of a file:// URI (percent-decoded), for diagnostics and messages. */
static char *lsp_path(const char *uri) {
    const char *p = strncmp(uri, "file://", 7) ? uri : uri + 7;
    strbuf b = STRBUF_INIT;
    for (; *p; p++) {
        if (*p == '%' && p[1] && p[2]) {
            char hex[3] = {p[1], p[2], 0};
            sb_putc(&b, (char)strtol(hex, NULL, 16));
            p += 2;
        } else {
            sb_putc(&b, *p);
        }
    }
    return b.data ? b.data : xstrdup("");
}

/* ------------------------------------------------------------ positions ---- */

typedef struct lsp_pos {
    uint32_t line, ch; /* 0-based; UTF-16 units */
} lsp_pos;

static lsp_pos lsp_pos_of(const char *t, size_t len, size_t off) {
    lsp_pos p = {0, 0};
    size_t ls = 0;
    if (off > len) off = len;
    for (size_t i = 0; i < off; i++)
        if (t[i] == '\n') {
            p.line++;
            ls = i + 1;
        }
    p.ch = (uint32_t)utf8_count(t, ls, off, 1);
    return p;
}

static size_t lsp_off_of(const char *t, size_t len, uint32_t line, uint32_t ch) {
    size_t i = 0;
    for (uint32_t l = 0; l < line && i < len; i++)
        if (t[i] == '\n') l++;
    while (i < len && ch > 0 && t[i] != '\n') {
        size_t k = utf8_seq_len((const unsigned char *)t + i, len - i);
        ch -= k == 4 && ch >= 2 ? 2 : 1;
        i += k ? k : 1;
    }
    return i;
}

static void lsp_range(strbuf *o, const char *t, size_t len, size_t off, size_t end) {
    lsp_pos a = lsp_pos_of(t, len, off), b = lsp_pos_of(t, len, end);
    sb_printf(o,
              "{\"start\":{\"line\":%u,\"character\":%u},\"end\":{\"line\":%u,\"character\":%u}}",
              a.line, a.ch, b.line, b.ch);
}

/* ------------------------------------------------------------ names ---- */

enum { NAME_SET, NAME_GROUP, NAME_CAMPAIGN };

typedef struct lsp_name {
    int kind;
    size_t off, len;   /* the name at its declaration */
    size_t decl, dend; /* the whole declaration (hover shows it) */
    const char *title; /* campaign: its title token, or NULL */
    size_t title_len;
    long priority;
} lsp_name;

typedef struct lsp_tok {
    int tok;
    size_t off, len;
} lsp_tok;

typedef struct lsp_index {
    lsp_tok *toks;
    size_t ntoks;
    lsp_name *names;
    size_t nnames;
} lsp_index;

static int lsp_is_word(const char *s, size_t n) {
    if (!n) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_' || (s[i] >= '0' && s[i] <= '9')))
            return 0;
    return 1;
}

/* Tokens of the document and the names it declares (sets, groups, campaigns). */
static void lsp_index_doc(const lsp_doc *d, lsp_index *ix) {
    memset(ix, 0, sizeof *ix);
    compilation c;
    comp_init(&c, NULL);
    comp_add_source(&c, "doc.rule", d->text, d->len);
    lexer lx;
    lex_init(&lx, &c, 0, NULL);
    size_t cap = 0;
    for (;;) {
        ast_node *val;
        src_span sp;
        int tok = lex_next(&lx, &val, &sp);
        if (!tok) break;
        if (ix->ntoks == cap) {
            cap = cap ? cap * 2 : 256;
            ix->toks = xrealloc(ix->toks, cap * sizeof *ix->toks);
        }
        ix->toks[ix->ntoks++] = (lsp_tok){tok, sp.off, sp.len};
    }
    comp_free(&c);
    size_t ncap = 0;
    int depth = 0;
    for (size_t i = 0; i < ix->ntoks; i++) {
        int t = ix->toks[i].tok;
        if (t == '{') depth++;
        if (t == '}' && depth > 0) depth--;
        if (depth != 0 || i + 1 >= ix->ntoks) continue;
        int kind = t == KW_SET        ? NAME_SET
                   : t == KW_GROUP    ? NAME_GROUP
                   : t == KW_CAMPAIGN ? NAME_CAMPAIGN
                                      : -1;
        const lsp_tok *nt = &ix->toks[i + 1];
        if (kind < 0 || !lsp_is_word(d->text + nt->off, nt->len)) continue;
        if (ix->nnames == ncap) {
            ncap = ncap ? ncap * 2 : 32;
            ix->names = xrealloc(ix->names, ncap * sizeof *ix->names);
        }
        lsp_name *n = &ix->names[ix->nnames++];
        memset(n, 0, sizeof *n);
        n->kind = kind;
        n->off = nt->off;
        n->len = nt->len;
        n->decl = ix->toks[i].off;
        n->priority = 0;
        /* the declaration runs to the next one at depth 0 */
        size_t j = i + 1;
        int dep = 0;
        for (; j < ix->ntoks; j++) {
            int u = ix->toks[j].tok;
            if (u == '{') dep++;
            if (u == '}') {
                if (--dep == 0 && kind == NAME_CAMPAIGN) {
                    j++;
                    break;
                }
            }
            if (dep == 0 && j > i + 1 &&
                (u == KW_SET || u == KW_CAMPAIGN || u == KW_TIEBREAK || u == KW_GROUP))
                break;
            if (kind == NAME_CAMPAIGN && dep == 1 && u == KW_PRIORITY && j + 1 < ix->ntoks &&
                ix->toks[j + 1].tok == INT)
                n->priority = strtol(d->text + ix->toks[j + 1].off, NULL, 10);
        }
        const lsp_tok *last = &ix->toks[j - 1];
        n->dend = last->off + last->len;
        if (kind == NAME_CAMPAIGN && i + 2 < ix->ntoks && ix->toks[i + 2].tok == STRING) {
            n->title = d->text + ix->toks[i + 2].off;
            n->title_len = ix->toks[i + 2].len;
        }
    }
}

static void lsp_index_free(lsp_index *ix) {
    xfree(ix->toks);
    xfree(ix->names);
}

/* The token under byte offset off (a word), or NULL. */
static const lsp_tok *lsp_tok_at(const lsp_index *ix, const char *text, size_t off) {
    for (size_t i = 0; i < ix->ntoks; i++) {
        const lsp_tok *t = &ix->toks[i];
        if (off >= t->off && off <= t->off + t->len && lsp_is_word(text + t->off, t->len)) return t;
    }
    return NULL;
}

static const lsp_name *lsp_decl_of(const lsp_index *ix, const char *text, const lsp_tok *t) {
    for (size_t i = 0; i < ix->nnames; i++) {
        const lsp_name *n = &ix->names[i];
        if (n->len == t->len && !memcmp(text + n->off, text + t->off, t->len)) return n;
    }
    return NULL;
}

/* ------------------------------------------------------------ facts ---- */

static const struct {
    const char *word, *doc;
} lsp_facts[] = {
    {"total", "total: money — the sum of the receipt's current line amounts (after the discounts "
              "of the campaigns before this one)"},
    {"original_total", "original_total: money — the sum of the line amounts before any discount"},
    {"store", "store: the store id of the receipt"},
    {"region", "region: string — the receipt's region"},
    {"channel", "channel: pos | online"},
    {"payment", "payment: cash | card | credit | bonus | mixed"},
    {"weekday", "weekday: mon .. sun (the receipt's local date)"},
    {"date", "date: the receipt's local date"},
    {"time", "time: the receipt's local time of day"},
    {"sku", "sku: string — a line's article (in a line predicate)"},
    {"category", "category: string — a line's category path, `category \"dairy\"` matches "
                 "\"dairy/milk\" too"},
    {"brand", "brand: string — a line's brand"},
    {"qty", "qty: number — a line's quantity"},
    {"price", "price: money — a line's current unit price"},
    {"amount", "amount: money — a line's current amount (qty × price, less discounts)"},
    {"tier", "customer.tier: string — the customer's loyalty tier"},
    {"registered", "customer.registered: bool — the customer has an id"},
    {"points_paid", "points_paid: money — the part of the receipt paid with points"},
};

/* ------------------------------------------------------------ output ---- */

static void lsp_send(const strbuf *body) {
    printf("Content-Length: %zu\r\n\r\n", body->len);
    fwrite(body->data, 1, body->len, stdout);
    fflush(stdout);
}

/* `{"jsonrpc":"2.0","id":ID,` — the id copied as it came (number or string). */
static void lsp_head(strbuf *b, const jv *id) {
    sb_puts(b, "{\"jsonrpc\":\"2.0\",\"id\":");
    if (id && id->type == JV_STR)
        sb_json_str(b, id->str, id->len);
    else if (id && id->type == JV_NUM)
        sb_printf(b, "%.0f", id->num);
    else
        sb_puts(b, "null");
    sb_putc(b, ',');
}

static void lsp_reply(const jv *id, const char *result) {
    strbuf b = STRBUF_INIT;
    lsp_head(&b, id);
    sb_printf(&b, "\"result\":%s}", result);
    lsp_send(&b);
    sb_free(&b);
}

static void lsp_error(const jv *id, int code, const char *msg) {
    strbuf b = STRBUF_INIT;
    lsp_head(&b, id);
    sb_printf(&b, "\"error\":{\"code\":%d,\"message\":", code);
    sb_json_str(&b, msg, strlen(msg));
    sb_puts(&b, "}}");
    lsp_send(&b);
    sb_free(&b);
}

/* JSON text of a string that may hold invalid UTF-8 (replaced by U+FFFD). */
static void lsp_json_text(strbuf *o, const char *s, size_t n) {
    strbuf c = STRBUF_INIT;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq_len((const unsigned char *)s + i, n - i);
        if (k)
            sb_add(&c, s + i, k);
        else
            sb_puts(&c, "\xEF\xBF\xBD");
        i += k ? k : 1;
    }
    sb_json_str(o, c.data ? c.data : "", c.len);
    sb_free(&c);
}

static void lsp_publish(const lsp_doc *d) {
    char *path = lsp_path(d->uri);
    compilation c;
    comp_init(&c, NULL);
    comp_add_source(&c, path, d->text, d->len);
    comp_check(&c);
    strbuf b = STRBUF_INIT;
    sb_puts(&b, "{\"jsonrpc\":\"2.0\",\"method\":\"textDocument/publishDiagnostics\",\"params\":{"
                "\"uri\":");
    sb_json_str(&b, d->uri, strlen(d->uri));
    sb_puts(&b, ",\"diagnostics\":[");
    for (size_t i = 0; i < c.diags.n; i++) {
        const diag *g = &c.diags.items[i];
        size_t off = g->span.line ? g->span.off : 0, end = g->span.line ? off + g->span.len : 0;
        sb_puts(&b, i ? ",{\"range\":" : "{\"range\":");
        lsp_range(&b, d->text, d->len, off, end);
        sb_printf(&b, ",\"severity\":%d,\"code\":\"%s\",\"source\":\"promo\",\"message\":",
                  g->sev == DIAG_ERROR ? 1 : 2, diag_code_names[g->code]);
        strbuf m = STRBUF_INIT;
        sb_puts(&m, g->msg);
        if (g->help) sb_printf(&m, "\nhelp: %s", g->help);
        lsp_json_text(&b, m.data, m.len);
        sb_free(&m);
        sb_putc(&b, '}');
    }
    sb_puts(&b, "]}}");
    lsp_send(&b);
    sb_free(&b);
    comp_free(&c);
    xfree(path);
}

/* ------------------------------------------------------------ requests ---- */

static const lsp_doc *lsp_doc_of(lsp *L, const jv *params, size_t *off) {
    static const char *const uri_path[] = {"textDocument", "uri", NULL};
    const jv *uri = jv_path(params, uri_path);
    if (!uri || uri->type != JV_STR) return NULL;
    lsp_doc *d = lsp_find(L, uri->str);
    if (!d || !off) return d;
    const jv *pos = jv_get(params, "position");
    const jv *line = jv_get(pos, "line"), *ch = jv_get(pos, "character");
    *off = lsp_off_of(d->text, d->len, line && line->type == JV_NUM ? (uint32_t)line->num : 0,
                      ch && ch->type == JV_NUM ? (uint32_t)ch->num : 0);
    return d;
}

static void lsp_location(strbuf *o, const lsp_doc *d, size_t off, size_t len) {
    sb_puts(o, "{\"uri\":");
    sb_json_str(o, d->uri, strlen(d->uri));
    sb_puts(o, ",\"range\":");
    lsp_range(o, d->text, d->len, off, off + len);
    sb_putc(o, '}');
}

static void lsp_hover(lsp *L, const jv *id, const jv *params) {
    size_t off;
    const lsp_doc *d = lsp_doc_of(L, params, &off);
    lsp_index ix;
    strbuf md = STRBUF_INIT;
    if (d) {
        lsp_index_doc(d, &ix);
        const lsp_tok *t = lsp_tok_at(&ix, d->text, off);
        const lsp_name *n = t ? lsp_decl_of(&ix, d->text, t) : NULL;
        if (n && n->kind == NAME_CAMPAIGN) {
            sb_printf(&md, "campaign `%.*s`", (int)n->len, d->text + n->off);
            if (n->title) sb_printf(&md, " %.*s", (int)n->title_len, n->title);
            sb_printf(&md, "\n\npriority %ld", n->priority);
        } else if (n) {
            sb_printf(&md, "```promo\n%.*s\n```", (int)(n->dend - n->decl), d->text + n->decl);
            if (n->kind == NAME_GROUP) {
                sb_puts(&md, "\n\ncampaigns in it:");
                for (size_t i = 0; i + 2 < ix.ntoks; i++) {
                    const lsp_tok *g = &ix.toks[i + 1];
                    if (ix.toks[i].tok != KW_GROUP || g->len != n->len ||
                        memcmp(d->text + g->off, d->text + n->off, n->len) || g->off == n->off)
                        continue;
                    for (size_t k = 0; k < ix.nnames; k++) /* the campaign around it */
                        if (ix.names[k].kind == NAME_CAMPAIGN && ix.names[k].decl < g->off &&
                            g->off < ix.names[k].dend)
                            sb_printf(&md, " `%.*s`", (int)ix.names[k].len,
                                      d->text + ix.names[k].off);
                }
            }
        } else if (t) {
            for (size_t i = 0; i < sizeof lsp_facts / sizeof lsp_facts[0]; i++)
                if (strlen(lsp_facts[i].word) == t->len &&
                    !memcmp(lsp_facts[i].word, d->text + t->off, t->len))
                    sb_puts(&md, lsp_facts[i].doc);
        }
        lsp_index_free(&ix);
    }
    if (!md.len) {
        lsp_reply(id, "null");
    } else {
        strbuf r = STRBUF_INIT;
        sb_puts(&r, "{\"contents\":{\"kind\":\"markdown\",\"value\":");
        lsp_json_text(&r, md.data, md.len);
        sb_puts(&r, "}}");
        lsp_reply(id, sb_cstr(&r));
        sb_free(&r);
    }
    sb_free(&md);
}

/* definition (refs 0) or references (refs 1) of the name under the cursor. */
static void lsp_names(lsp *L, const jv *id, const jv *params, int refs) {
    size_t off;
    const lsp_doc *d = lsp_doc_of(L, params, &off);
    strbuf r = STRBUF_INIT;
    sb_puts(&r, refs ? "[" : "null");
    if (d) {
        lsp_index ix;
        lsp_index_doc(d, &ix);
        const lsp_tok *t = lsp_tok_at(&ix, d->text, off);
        const lsp_name *n = t ? lsp_decl_of(&ix, d->text, t) : NULL;
        if (n && !refs) {
            r.len = 0;
            lsp_location(&r, d, n->off, n->len);
        } else if (n) {
            int k = 0;
            for (size_t i = 0; i < ix.ntoks; i++) {
                const lsp_tok *u = &ix.toks[i];
                if (u->len != n->len || memcmp(d->text + u->off, d->text + n->off, n->len))
                    continue;
                if (i > 0 && ix.toks[i - 1].tok == '.') continue; /* customer.x, not a name */
                if (k++) sb_putc(&r, ',');
                lsp_location(&r, d, u->off, u->len);
            }
        }
        lsp_index_free(&ix);
    }
    if (refs) sb_putc(&r, ']');
    lsp_reply(id, sb_cstr(&r));
    sb_free(&r);
}

static void lsp_completion(lsp *L, const jv *id, const jv *params) {
    const lsp_doc *d = lsp_doc_of(L, params, NULL);
    strbuf r = STRBUF_INIT;
    sb_puts(&r, "{\"isIncomplete\":false,\"items\":[");
    int k = 0;
    for (int t = KW_ACTIVATE; t <= KW_WITHIN; t++) {
        const char *name = parse_token_name(t);
        size_t n = strlen(name);
        if (n < 3 || name[0] != '\'') continue;
        sb_printf(&r, "%s{\"label\":\"%.*s\",\"kind\":14}", k++ ? "," : "", (int)n - 2, name + 1);
    }
    if (d) {
        lsp_index ix;
        lsp_index_doc(d, &ix);
        static const int kinds[] = {6, 9, 7}; /* Variable (set), Module (group), Class */
        static const char *const what[] = {"set", "group", "campaign"};
        for (size_t i = 0; i < ix.nnames; i++) {
            const lsp_name *n = &ix.names[i];
            sb_printf(&r, ",{\"label\":\"%.*s\",\"kind\":%d,\"detail\":\"%s\"}", (int)n->len,
                      d->text + n->off, kinds[n->kind], what[n->kind]);
        }
        lsp_index_free(&ix);
    }
    sb_puts(&r, "]}");
    lsp_reply(id, sb_cstr(&r));
    sb_free(&r);
}

static void lsp_formatting(lsp *L, const jv *id, const jv *params) {
    const lsp_doc *d = lsp_doc_of(L, params, NULL);
    if (!d) {
        lsp_reply(id, "null");
        return;
    }
    compilation c;
    comp_init(&c, NULL);
    comp_add_source(&c, "doc.rule", d->text, d->len);
    strbuf out = STRBUF_INIT;
    if (fmt_file(&c, 0, &out) < 0 || (out.len == d->len && !memcmp(out.data, d->text, d->len))) {
        lsp_reply(id, "[]"); /* does not parse, or already formatted */
    } else {
        strbuf r = STRBUF_INIT;
        sb_puts(&r, "[{\"range\":");
        lsp_range(&r, d->text, d->len, 0, d->len);
        sb_puts(&r, ",\"newText\":");
        lsp_json_text(&r, out.data, out.len);
        sb_puts(&r, "}]");
        lsp_reply(id, sb_cstr(&r));
        sb_free(&r);
    }
    sb_free(&out);
    comp_free(&c);
}

/* A lens over every campaign with examples: "run N examples", which the editor runs
 * as `promo test --filter ID FILE` (command promo.runExamples, editors/vscode). */
static void lsp_codelens(lsp *L, const jv *id, const jv *params) {
    const lsp_doc *d = lsp_doc_of(L, params, NULL);
    strbuf r = STRBUF_INIT;
    sb_putc(&r, '[');
    if (d) {
        lsp_index ix;
        lsp_index_doc(d, &ix);
        int k = 0;
        for (size_t i = 0; i < ix.nnames; i++) {
            const lsp_name *n = &ix.names[i];
            if (n->kind != NAME_CAMPAIGN) continue;
            int nex = 0;
            for (size_t t = 0; t < ix.ntoks; t++)
                nex += ix.toks[t].tok == KW_EXAMPLE && ix.toks[t].off > n->decl &&
                       ix.toks[t].off < n->dend;
            if (!nex) continue;
            sb_puts(&r, k++ ? ",{\"range\":" : "{\"range\":");
            lsp_range(&r, d->text, d->len, n->off, n->off + n->len);
            sb_printf(&r,
                      ",\"command\":{\"title\":\"run %d example%s\",\"command\":"
                      "\"promo.runExamples\",\"arguments\":[",
                      nex, nex == 1 ? "" : "s");
            sb_json_str(&r, d->uri, strlen(d->uri));
            sb_printf(&r, ",\"%.*s\"]}}", (int)n->len, d->text + n->off);
        }
        lsp_index_free(&ix);
    }
    sb_putc(&r, ']');
    lsp_reply(id, sb_cstr(&r));
    sb_free(&r);
}

static const char lsp_capabilities[] =
    "{\"capabilities\":{\"textDocumentSync\":{\"openClose\":true,\"change\":1},"
    "\"hoverProvider\":true,\"definitionProvider\":true,\"referencesProvider\":true,"
    "\"completionProvider\":{\"triggerCharacters\":[\".\"]},"
    "\"documentFormattingProvider\":true,\"codeLensProvider\":{\"resolveProvider\":false}},"
    "\"serverInfo\":{\"name\":\"promo\",\"version\":\"" PROMO_VERSION_STRING "\"}}";

/* Handles one message; returns 1 after `exit`. */
static int lsp_handle(lsp *L, const jv *msg, int *status) {
    const jv *method = jv_get(msg, "method"), *id = jv_get(msg, "id");
    const jv *params = jv_get(msg, "params");
    if (!method || method->type != JV_STR) return 0; /* a response to us: none expected */
    const char *m = method->str;
    if (!strcmp(m, "initialize")) {
        lsp_reply(id, lsp_capabilities);
    } else if (!strcmp(m, "shutdown")) {
        L->shutdown = 1;
        lsp_reply(id, "null");
    } else if (!strcmp(m, "exit")) {
        *status = L->shutdown ? 0 : 1;
        return 1;
    } else if (!strcmp(m, "textDocument/didOpen") || !strcmp(m, "textDocument/didChange")) {
        static const char *const open_uri[] = {"textDocument", "uri", NULL};
        static const char *const open_text[] = {"textDocument", "text", NULL};
        const jv *uri = jv_path(params, open_uri), *text = jv_path(params, open_text);
        if (!text) { /* didChange: the last full-text change */
            const jv *ch = jv_get(params, "contentChanges");
            if (ch && ch->type == JV_ARR && ch->n) text = jv_get(&ch->items[ch->n - 1], "text");
        }
        if (uri && uri->type == JV_STR && text && text->type == JV_STR)
            lsp_publish(lsp_set(L, uri->str, text->str, text->len));
    } else if (!strcmp(m, "textDocument/didClose")) {
        const lsp_doc *d = lsp_doc_of(L, params, NULL);
        if (d) {
            lsp_doc *w = (lsp_doc *)d;
            xfree(w->uri);
            xfree(w->text);
            *w = L->docs[--L->ndocs];
        }
    } else if (!strcmp(m, "textDocument/hover")) {
        lsp_hover(L, id, params);
    } else if (!strcmp(m, "textDocument/definition")) {
        lsp_names(L, id, params, 0);
    } else if (!strcmp(m, "textDocument/references")) {
        lsp_names(L, id, params, 1);
    } else if (!strcmp(m, "textDocument/completion")) {
        lsp_completion(L, id, params);
    } else if (!strcmp(m, "textDocument/formatting")) {
        lsp_formatting(L, id, params);
    } else if (!strcmp(m, "textDocument/codeLens")) {
        lsp_codelens(L, id, params);
    } else if (id) {
        lsp_error(id, -32601, "method not found");
    }
    return 0;
}

/* Reads one message (headers, then Content-Length bytes); NULL at end of input. */
static char *lsp_read(size_t *len) {
    char line[256];
    long n = -1;
    for (;;) {
        if (!fgets(line, sizeof line, stdin)) return NULL;
        if (!strcmp(line, "\r\n") || !strcmp(line, "\n")) break;
        if (!strncasecmp(line, "Content-Length:", 15)) n = strtol(line + 15, NULL, 10);
    }
    if (n < 0 || n > (1L << 28)) return NULL;
    char *body = xmalloc((size_t)n + 1);
    if (fread(body, 1, (size_t)n, stdin) != (size_t)n) {
        xfree(body);
        return NULL;
    }
    body[n] = 0;
    *len = (size_t)n;
    return body;
}

int cmd_lsp(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs("usage: promo lsp [--stdio]\n"
                  "A Language Server Protocol server on stdin/stdout for .rule files:\n"
                  "diagnostics as you type, hover, go to definition, references, completion\n"
                  "and formatting. Editors start it (editors/vscode does).\n",
                  stdout);
            return 0;
        }
        if (strcmp(argv[i], "--stdio") != 0) {
            fprintf(stderr, "promo lsp: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    lsp L;
    memset(&L, 0, sizeof L);
    int status = 1; /* end of input without exit */
    size_t len;
    char *body;
    while ((body = lsp_read(&len)) != NULL) {
        jv *msg = jv_parse(body, len);
        int done = 0;
        if (!msg)
            lsp_error(NULL, -32700, "parse error");
        else
            done = lsp_handle(&L, msg, &status);
        jv_free(msg);
        xfree(body);
        if (done) break;
    }
    for (size_t i = 0; i < L.ndocs; i++) {
        xfree(L.docs[i].uri);
        xfree(L.docs[i].text);
    }
    xfree(L.docs);
    return status;
}
