/*
 * cmd_test.c — `promo test FILES/DIRS`: runs every `example` block (SPEC 6) against the
 * whole compiled set, so interactions between campaigns show. Each example gets a
 * fresh engine (empty budgets and per-customer state); its `history` receipts are
 * processed and committed first, in the order written, then the example's receipt.
 * Prints each failure with the example's file:line, expected vs actual and the
 * --explain trace; the last line is `N passed, N failed`. `--format=junit` writes a
 * JUnit XML report to stdout instead.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "civil.h"
#include "cli.h"
#include "compile.h"
#include "promo.h"
#include "sema.h"
#include "strbuf.h"
#include "utf8.h"
#include "xalloc.h"

/* ------------------------------------------------------------ receipt building ---- */

#define EX_MAX_LINES 256
#define EX_MAX_LIST  32

/* Storage for one receipt built from example items. */
typedef struct ex_receipt {
    promo_receipt r;
    promo_customer cust;
    promo_line lines[EX_MAX_LINES];
    promo_str codes[EX_MAX_LIST];
    promo_kv attrs[EX_MAX_LIST];
    promo_str segments[EX_MAX_LIST];
    promo_kv cattrs[EX_MAX_LIST];
    char numtext[EX_MAX_LIST * 2][32]; /* text of numeric attr/store values */
    int nnum;
} ex_receipt;

static promo_str pstr(const char *s) {
    promo_str p = {s, s ? (uint32_t)strlen(s) : 0};
    return p;
}

/* Scales a NUM literal (ival, scale) to `decimals` places; 0 when it does not fit. */
static int num_scaled(const ast_node *n, int decimals, int64_t *out) {
    if (!n || (n->kind != AST_NUM && n->kind != AST_PERCENT) || n->scale > decimals) return 0;
    int64_t v = n->ival;
    for (int i = n->scale; i < decimals; i++) {
        if (__builtin_mul_overflow(v, 10, &v)) return 0;
    }
    *out = v;
    return 1;
}

static const char *num_text(ex_receipt *x, const ast_node *n) {
    if (x->nnum >= EX_MAX_LIST * 2) return "";
    char *buf = x->numtext[x->nnum++];
    strbuf b = STRBUF_INIT;
    uint64_t u = n->ival < 0 ? (uint64_t)0 - (uint64_t)n->ival : (uint64_t)n->ival;
    char digits[24];
    int len = snprintf(digits, sizeof digits, "%" PRIu64, u);
    int scale = n->scale > 0 && n->scale < 20 ? n->scale : 0;
    if (n->ival < 0) sb_putc(&b, '-');
    if (scale >= len) {
        sb_puts(&b, "0.");
        for (int i = len; i < scale; i++)
            sb_putc(&b, '0');
        sb_puts(&b, digits);
    } else {
        sb_add(&b, digits, (size_t)(len - scale));
        if (scale) {
            sb_putc(&b, '.');
            sb_puts(&b, digits + len - scale);
        }
    }
    snprintf(buf, 32, "%s", sb_cstr(&b));
    sb_free(&b);
    return buf;
}

static const char *value_text(ex_receipt *x, const ast_node *v) {
    if (!v) return "";
    if (v->kind == AST_STRING || v->kind == AST_IDENT) return v->str;
    if (v->kind == AST_NUM) return num_text(x, v);
    return "";
}

static int enum_index(const char *s, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (s && !strcmp(s, names[i])) return i;
    return -1;
}

static const char *const channel_names[] = {"pos", "online"};
static const char *const payment_names[] = {"cash", "card", "credit", "bonus", "mixed"};

typedef struct ex_error {
    strbuf msg;
} ex_error;

static void ex_fail(ex_error *e, const ast_node *n, const char *what) {
    sb_printf(&e->msg, "    line %u: %s\n", n ? n->span.line : 0, what);
}

/* Applies one receipt-level example item (store, time, line, ...) to x. */
static void apply_item(ex_receipt *x, const ast_node *it, ex_error *err) {
    promo_receipt *r = &x->r;
    if (it->kind == AST_EX_LINE) {
        if (r->nlines >= EX_MAX_LINES) {
            ex_fail(err, it, "too many lines in one example");
            return;
        }
        promo_line *l = &x->lines[r->nlines++];
        memset(l, 0, sizeof *l);
        l->qty = 1000;
        for (const ast_node *f = it->a; f; f = f->next) {
            const char *k = f->str;
            if (!strcmp(k, "sku"))
                l->sku = pstr(value_text(x, f->a));
            else if (!strcmp(k, "category"))
                l->category = pstr(value_text(x, f->a));
            else if (!strcmp(k, "brand"))
                l->brand = pstr(value_text(x, f->a));
            else if (!strcmp(k, "excluded"))
                l->excluded = 1;
            else if (!strcmp(k, "qty")) {
                if (!num_scaled(f->a, 3, &l->qty) || l->qty <= 0)
                    ex_fail(err, f, "qty must be a positive number with at most 3 decimals");
            } else if (!strcmp(k, "price")) {
                if (!num_scaled(f->a, 2, &l->price) || l->price < 0)
                    ex_fail(err, f, "price must be money (at most 2 decimals)");
            }
        }
        return;
    }
    if (it->kind != AST_EX_FIELD) return;
    const char *k = it->str;
    const ast_node *v = it->a;
    if (!strcmp(k, "store"))
        r->store = pstr(value_text(x, v));
    else if (!strcmp(k, "region"))
        r->region = pstr(value_text(x, v));
    else if (!strcmp(k, "channel")) {
        int c = enum_index(value_text(x, v), channel_names, 2);
        if (c < 0)
            ex_fail(err, it, "unknown channel");
        else
            r->channel = c;
    } else if (!strcmp(k, "payment")) {
        int p = enum_index(value_text(x, v), payment_names, 5);
        if (p < 0)
            ex_fail(err, it, "unknown payment");
        else
            r->payment = p;
    } else if (!strcmp(k, "time")) {
        if (v && v->kind == AST_DATETIME) {
            r->date = (int32_t)v->ival;
            r->time = (int32_t)v->ival2;
        } else if (v && v->kind == AST_DATE) {
            r->date = (int32_t)v->ival;
            r->time = 12 * 3600;
        }
    } else if (!strcmp(k, "points_paid")) {
        if (!num_scaled(v, 2, &r->points_paid)) ex_fail(err, it, "points_paid must be money");
    } else if (!strcmp(k, "code")) {
        if (r->ncodes < EX_MAX_LIST) x->codes[r->ncodes++] = pstr(value_text(x, v));
    } else if (!strcmp(k, "attr")) {
        if (r->nattrs < EX_MAX_LIST) {
            x->attrs[r->nattrs].key = pstr(it->str2);
            x->attrs[r->nattrs++].value = pstr(value_text(x, v));
        }
    }
}

static void apply_customer(ex_receipt *x, const ast_node *cust, ex_error *err) {
    promo_customer *c = &x->cust;
    for (const ast_node *f = cust->a; f; f = f->next) {
        if (f->kind != AST_EX_FIELD) continue;
        const char *k = f->str;
        const ast_node *v = f->a;
        if (!strcmp(k, "id"))
            c->id = pstr(value_text(x, v));
        else if (!strcmp(k, "card"))
            c->card = pstr(value_text(x, v));
        else if (!strcmp(k, "tier"))
            c->tier = pstr(value_text(x, v));
        else if (!strcmp(k, "registered"))
            c->registered = 1;
        else if (!strcmp(k, "birthday")) {
            if (v && v->kind == AST_DATE) {
                c->has_birthday = 1;
                c->birthday = (int32_t)v->ival;
            } else {
                ex_fail(err, f, "birthday must be a date");
            }
        } else if (!strcmp(k, "segments")) {
            const ast_node *item = v && v->kind == AST_LIST ? v->a : v;
            for (; item; item = item->next)
                if (c->nsegments < EX_MAX_LIST)
                    x->segments[c->nsegments++] = pstr(value_text(x, item));
        } else if (!strcmp(k, "attr")) {
            if (c->nattrs < EX_MAX_LIST) {
                x->cattrs[c->nattrs].key = pstr(f->str2);
                x->cattrs[c->nattrs++].value = pstr(value_text(x, v));
            }
        }
    }
}

/* Builds a receipt from `items` (receipt-level items, lines), with the example's
 * customer block (or none). */
static void build_receipt(ex_receipt *x, const char *id, const ast_node *items,
                          const ast_node *customer, int32_t default_date, ex_error *err) {
    memset(x, 0, sizeof *x);
    promo_receipt_init(&x->r);
    x->r.id = pstr(id);
    x->r.channel = PROMO_CHANNEL_POS;
    x->r.payment = PROMO_PAY_CARD;
    x->r.date = default_date;
    x->r.time = 12 * 3600;
    x->r.codes = x->codes;
    x->r.attrs = x->attrs;
    x->r.lines = x->lines;
    x->cust.segments = x->segments;
    x->cust.attrs = x->cattrs;
    x->cust.registered = -1;
    if (customer) {
        apply_customer(x, customer, err);
        if (!x->cust.id.n) x->cust.id = pstr("example-customer");
        x->r.customer = &x->cust;
    }
    for (const ast_node *it = items; it; it = it->next)
        apply_item(x, it, err);
}

/* ------------------------------------------------------------ expectations ---- */

static void money_str(strbuf *b, int64_t k) {
    sb_money(b, k);
}

static int64_t discount_on(const promo_result *res, const promo_receipt *r, const char *sku) {
    int64_t d = 0;
    for (uint32_t i = 0; i < res->nlines && i < r->nlines; i++) {
        const promo_str *s = &r->lines[i].sku;
        if (!sku || (s->n == strlen(sku) && !memcmp(s->p, sku, s->n))) d += res->lines[i].discount;
    }
    return d;
}

static int campaign_index(const promo_result *res, const char *id) {
    uint32_t n = promo_bundle_campaign_count(res->bundle);
    for (uint32_t i = 0; i < n; i++)
        if (!strcmp(promo_bundle_campaign_id(res->bundle, i), id)) return (int)i;
    return -1;
}

static int has_applied(const promo_result *res, int idx) {
    for (uint32_t i = 0; i < res->napplied; i++)
        if ((int)res->applied[i] == idx) return 1;
    return 0;
}

static int has_text(const promo_result *res, const promo_text *t, uint32_t n, const char *s) {
    for (uint32_t i = 0; i < n; i++)
        if (!strcmp(promo_bundle_string(res->bundle, t[i].str), s)) return 1;
    return 0;
}

static void list_texts(strbuf *b, const promo_result *res, const promo_text *t, uint32_t n) {
    sb_putc(b, '[');
    for (uint32_t i = 0; i < n; i++) {
        if (i) sb_puts(b, ", ");
        const char *s = promo_bundle_string(res->bundle, t[i].str);
        sb_json_str(b, s, strlen(s));
    }
    sb_putc(b, ']');
}

static void list_applied(strbuf *b, const promo_result *res) {
    sb_putc(b, '[');
    for (uint32_t i = 0; i < res->napplied; i++)
        sb_printf(b, "%s%s", i ? ", " : "", promo_bundle_campaign_id(res->bundle, res->applied[i]));
    sb_putc(b, ']');
}

/* Checks one `expect`; on mismatch appends a readable diff to `out`. */
static int check_expect(const ast_node *e, const promo_result *res, const promo_receipt *r,
                        strbuf *out) {
    strbuf exp = STRBUF_INIT, act = STRBUF_INIT;
    int ok = 1;
    int64_t want = 0;
    const char *what = "";
    switch (e->op) {
    case EXP_DISCOUNT:
    case EXP_TOTAL:
    case EXP_FINAL: {
        int64_t got = e->op == EXP_DISCOUNT ? discount_on(res, r, e->str)
                      : e->op == EXP_TOTAL  ? res->total
                                            : res->final;
        what = e->op == EXP_DISCOUNT ? "discount" : e->op == EXP_TOTAL ? "total" : "final";
        if (!num_scaled(e->a, 2, &want)) want = INT64_MIN;
        ok = got == want;
        money_str(&exp, want);
        money_str(&act, got);
        if (e->op == EXP_DISCOUNT && e->str) {
            sb_printf(&exp, " on \"%s\"", e->str);
            sb_printf(&act, " on \"%s\"", e->str);
        }
        break;
    }
    case EXP_POINTS: {
        what = "points";
        int idx = e->str ? campaign_index(res, e->str) : -1;
        int64_t got = 0;
        for (uint32_t i = 0; i < res->npoints; i++) {
            const promo_points *p = &res->points[i];
            if (e->str && (int)p->campaign != idx) continue;
            if (e->b && p->activate != (int32_t)e->b->ival) continue;
            if (e->c && p->expire != (int32_t)e->c->ival) continue;
            got += p->points;
        }
        if (!num_scaled(e->a, 2, &want)) want = INT64_MIN;
        ok = got == want;
        money_str(&exp, want);
        money_str(&act, got);
        char d[11];
        if (e->str) sb_printf(&exp, " from %s", e->str);
        if (e->b) {
            civil_format((int32_t)e->b->ival, d);
            sb_printf(&exp, " activate %s", d);
        }
        if (e->c) {
            civil_format((int32_t)e->c->ival, d);
            sb_printf(&exp, " expire %s", d);
        }
        sb_puts(&act, " (entries:");
        for (uint32_t i = 0; i < res->npoints; i++) {
            const promo_points *p = &res->points[i];
            sb_printf(&act, " %s=", promo_bundle_campaign_id(res->bundle, p->campaign));
            money_str(&act, p->points);
            civil_format(p->activate, d);
            sb_printf(&act, "@%s", d);
            if (p->expire != INT32_MIN) {
                civil_format(p->expire, d);
                sb_printf(&act, "..%s", d);
            }
        }
        sb_putc(&act, ')');
        break;
    }
    case EXP_COUPON:
    case EXP_MESSAGE: {
        int coupon = e->op == EXP_COUPON;
        what = coupon ? "coupon" : "message";
        const promo_text *t = coupon ? res->coupons : res->messages;
        uint32_t n = coupon ? res->ncoupons : res->nmessages;
        int present = has_text(res, t, n, e->str ? e->str : "");
        ok = e->ival ? !present : present;
        sb_printf(&exp, "%s\"%s\"", e->ival ? "no " : "", e->str ? e->str : "");
        list_texts(&act, res, t, n);
        break;
    }
    case EXP_SPEND_LIMIT:
        what = "spend_limit";
        if (!e->a) {
            ok = !res->has_spend_limit;
            sb_puts(&exp, "none");
        } else {
            if (!num_scaled(e->a, 2, &want)) want = INT64_MIN;
            ok = res->has_spend_limit && res->spend_limit == want;
            money_str(&exp, want);
        }
        if (res->has_spend_limit)
            money_str(&act, res->spend_limit);
        else
            sb_puts(&act, "none");
        break;
    case EXP_APPLIED: {
        what = e->ival ? "not applied" : "applied";
        int idx = campaign_index(res, e->str ? e->str : "");
        int present = idx >= 0 && has_applied(res, idx);
        ok = e->ival ? !present : present;
        sb_printf(&exp, "%s%s", e->ival ? "not " : "", e->str ? e->str : "");
        if (idx < 0) sb_puts(&act, "(no such campaign) ");
        list_applied(&act, res);
        break;
    }
    default: ok = 0; what = "?";
    }
    if (!ok) {
        sb_printf(out, "    expect %s (line %u)\n      expected: %s\n      actual:   %s\n", what,
                  e->span.line, sb_cstr(&exp), sb_cstr(&act));
    }
    sb_free(&exp);
    sb_free(&act);
    return ok;
}

static void explain_trace(strbuf *out, const promo_result *res) {
    static const char *const outcome_text[] = {
#define X(name, text) text,
        PROMO_OUTCOME_LIST(X)
#undef X
    };
    sb_puts(out, "    trace:\n");
    for (uint32_t i = 0; i < res->nexplain; i++) {
        const promo_explain *x = &res->explain[i];
        sb_printf(out, "      %s: %s", promo_bundle_campaign_id(res->bundle, x->campaign),
                  x->outcome < PROMO__OUTCOME_COUNT ? outcome_text[x->outcome] : "?");
        if (x->other != UINT32_MAX)
            sb_printf(out, " by %s", promo_bundle_campaign_id(res->bundle, x->other));
        if (x->part) sb_printf(out, " (%s)", x->part);
        sb_putc(out, '\n');
    }
}

/* ------------------------------------------------------------ the runner ---- */

typedef struct case_result {
    const char *file;
    uint32_t line;
    const char *campaign;
    const char *name;
    int ok;
    char *report; /* failure text, or NULL */
} case_result;

/* XML 1.0 text: markup escaped, control characters and invalid UTF-8 (messages quote
 * source text) replaced by U+FFFD, so the report is always well-formed. */
static void xml_escape(strbuf *b, const char *s) {
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq_len(u + i, n - i);
        if (k == 0 || (u[i] < 0x20 && u[i] != '\t' && u[i] != '\n' && u[i] != '\r')) {
            sb_puts(b, "\xEF\xBF\xBD");
            i += k ? k : 1;
            continue;
        }
        switch (u[i]) {
        case '<': sb_puts(b, "&lt;"); break;
        case '>': sb_puts(b, "&gt;"); break;
        case '&': sb_puts(b, "&amp;"); break;
        case '"': sb_puts(b, "&quot;"); break;
        default: sb_add(b, s + i, k);
        }
        i += k;
    }
}

/* "coverage: 40/42 campaigns (95%) applied by some example" and the others. */
static void test_print_coverage(FILE *f, const promo_bundle *b, const unsigned char *hit,
                                uint32_t n) {
    uint32_t nhit = 0;
    for (uint32_t i = 0; i < n; i++)
        nhit += hit[i];
    fprintf(f, "coverage: %u/%u campaigns (%u%%) applied by some example\n", nhit, n,
            n ? (unsigned)((uint64_t)nhit * 100 / n) : 100);
    for (uint32_t i = 0; i < n; i++)
        if (!hit[i]) fprintf(f, "  never applied: %s\n", promo_bundle_campaign_id(b, i));
}

/* A set that does not compile still gives CI a well-formed report: one test case in
 * error, carrying the diagnostics. */
static void junit_compile_error(const char *diagnostics) {
    strbuf x = STRBUF_INIT;
    sb_puts(&x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<testsuites tests=\"1\" failures=\"0\" errors=\"1\">\n"
                "  <testsuite name=\"promo test\" tests=\"1\" failures=\"0\" errors=\"1\">\n"
                "    <testcase classname=\"promo\" name=\"compile\">\n"
                "      <error message=\"the campaign set does not compile\">");
    xml_escape(&x, diagnostics);
    sb_puts(&x, "</error>\n    </testcase>\n  </testsuite>\n</testsuites>\n");
    fputs(sb_cstr(&x), stdout);
    sb_free(&x);
}

/* Marks in hit[] (one flag per campaign of the bundle) the campaigns res applied. */
static void mark_applied(unsigned char *hit, const promo_result *res) {
    for (uint32_t i = 0; hit && res && i < res->napplied; i++)
        hit[res->applied[i]] = 1;
}

static int run_example(promo_bundle *bundle, const sema_campaign *sc, const ast_node *ex,
                       strbuf *report, unsigned char *hit) {
    promo_engine *eng = NULL;
    promo_ctx *ctx = NULL;
    int ok = 1;
    if (promo_engine_new(bundle, NULL, &eng) != PROMO_OK ||
        promo_ctx_new(eng, PROMO_CTX_EXPLAIN, &ctx) != PROMO_OK) {
        sb_puts(report, "    cannot create an engine\n");
        promo_engine_free(eng);
        return 0;
    }
    /* Default date: the first day of the campaign's `active` range, else 2026-01-01. */
    int32_t default_date = civil_days(2026, 1, 1);
    if (sc->active && sc->active->a) default_date = (int32_t)sc->active->a->ival;

    const ast_node *customer = NULL;
    for (const ast_node *it = ex->a; it; it = it->next)
        if (it->kind == AST_EX_CUSTOMER) customer = it;

    ex_error err = {STRBUF_INIT};
    static ex_receipt x; /* large; one example at a time */
    /* Prior receipts first. */
    int nhist = 0;
    for (const ast_node *it = ex->a; it; it = it->next) {
        if (it->kind != AST_EX_HISTORY) continue;
        char hid[32];
        snprintf(hid, sizeof hid, "history-%d", ++nhist);
        build_receipt(&x, hid, it->b, customer, default_date, &err);
        if (it->a && it->a->kind == AST_DATETIME) {
            x.r.date = (int32_t)it->a->ival;
            x.r.time = (int32_t)it->a->ival2;
        }
        const promo_result *res;
        if (promo_process(ctx, &x.r, &res) != PROMO_OK) {
            sb_printf(report, "    history receipt %d failed: %s\n", nhist, promo_ctx_errmsg(ctx));
            ok = 0;
        } else {
            mark_applied(hit, res);
        }
    }
    /* The example's own receipt: every item that is not customer/history/expect. */
    ast_node *items = NULL, *tail = NULL;
    ast_node copies[512];
    int ncopies = 0;
    for (const ast_node *it = ex->a; it; it = it->next) {
        if (it->kind == AST_EX_FIELD || it->kind == AST_EX_LINE) {
            if (ncopies >= 512) break;
            ast_node *c = &copies[ncopies++];
            *c = *it;
            c->next = NULL;
            if (tail)
                tail->next = c;
            else
                items = c;
            tail = c;
        }
    }
    build_receipt(&x, "example", items, customer, default_date, &err);
    if (err.msg.len) {
        sb_add(report, err.msg.data, err.msg.len);
        ok = 0;
    }
    const promo_result *res = NULL;
    promo_status st = promo_process(ctx, &x.r, &res);
    if (st != PROMO_OK) {
        sb_printf(report, "    evaluation failed: %s\n", promo_ctx_errmsg(ctx));
        ok = 0;
    } else {
        mark_applied(hit, res);
        int failed_here = 0;
        for (const ast_node *it = ex->a; it; it = it->next)
            if (it->kind == AST_EX_EXPECT && !check_expect(it, res, &x.r, report)) failed_here = 1;
        if (failed_here) {
            explain_trace(report, res);
            ok = 0;
        }
    }
    sb_free(&err.msg);
    promo_ctx_free(ctx);
    promo_engine_free(eng);
    return ok;
}

static void usage(FILE *f) {
    fprintf(f, "usage: promo test [options] FILES/DIRS...\n"
               "Runs every `example` block against the whole compiled set.\n"
               "\n"
               "options:\n"
               "  --format=text|junit  report as text (default) or JUnit XML, on stdout\n"
               "  --filter TEXT        run only the examples whose campaign id or name\n"
               "                       contains TEXT\n"
               "  -v, --verbose        list every example with ok/FAIL, not only failures\n"
               "  --coverage           list the campaigns that no example applies\n"
               "  --min-coverage PCT   exit 1 when fewer than PCT%% of the campaigns are\n"
               "                       applied by some example (implies --coverage)\n"
               "  --allow-empty        accept a set without campaigns (else error E027)\n"
               "\n"
               "Exit 0 when all pass, 1 on any failure, compile error or too little\n"
               "coverage, 2 on usage/IO.\n");
}

/* Takes the options with a value (--filter TEXT, --min-coverage PCT) out of argv;
 * returns the new argc, or -1 on a usage error (printed). */
static int test_value_opts(int argc, char **argv, const char **filter, int *min_cov) {
    int w = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;
        int which = !strncmp(a, "--filter", 8) ? 1 : !strncmp(a, "--min-coverage", 14) ? 2 : 0;
        size_t n = which == 1 ? 8 : 14;
        if (!which || (a[n] != 0 && a[n] != '=')) {
            argv[w++] = argv[i];
            continue;
        }
        if (a[n] == '=')
            v = a + n + 1;
        else if (i + 1 < argc)
            v = argv[++i];
        if (!v) {
            fprintf(stderr, "promo test: option '%s' needs a value\n", a);
            return -1;
        }
        if (which == 1) {
            *filter = v;
        } else {
            char *end;
            long pct = strtol(v, &end, 10);
            if (*end || pct < 0 || pct > 100) {
                fprintf(stderr, "promo test: --min-coverage takes a percent 0..100\n");
                return -1;
            }
            *min_cov = (int)pct;
        }
    }
    argv[w] = NULL;
    return w;
}

int cmd_test(int argc, char **argv) {
    int junit = 0, allow_empty = 0, verbose = 0, coverage = 0, min_cov = -1;
    const char *filter = NULL;
    const cli_flag flags[] = {{"--format=junit", &junit, 1},      {"--format=text", &junit, 0},
                              {"--allow-empty", &allow_empty, 1}, {"-v", &verbose, 1},
                              {"--verbose", &verbose, 1},         {"--coverage", &coverage, 1}};
    argc = test_value_opts(argc, argv, &filter, &min_cov);
    if (argc < 0) return 2;
    if (min_cov >= 0) coverage = 1;
    char **paths;
    int npaths;
    int st = cli_parse_paths("test", argc, argv, flags, sizeof flags / sizeof flags[0], usage,
                             &paths, &npaths);
    if (st >= 0) return st;
    compile_opts opts = {.today = INT32_MIN, .werror = 0};
    compilation c;
    comp_init(&c, &opts);
    c.require_campaigns = !allow_empty;
    int io = comp_add_paths(&c, paths, npaths);
    xfree(paths);
    strbuf bytes = STRBUF_INIT;
    size_t nerr = io < 0 ? 1 : comp_build(&c, &bytes);
    strbuf dtext = STRBUF_INIT;
    if (c.diags.n) {
        diag_render_text(&c.diags, &dtext, 0);
        fputs(sb_cstr(&dtext), stderr);
    }
    if (io < 0 || nerr) {
        fprintf(stderr, "promo test: the campaign set does not compile\n");
        if (junit) junit_compile_error(sb_cstr(&dtext));
        sb_free(&dtext);
        sb_free(&bytes);
        comp_free(&c);
        return io < 0 ? 2 : 1;
    }
    sb_free(&dtext);
    char errbuf[256];
    promo_bundle *bundle = NULL;
    if (promo_bundle_load_memory(bytes.data, bytes.len, &bundle, errbuf, sizeof errbuf) !=
        PROMO_OK) {
        fprintf(stderr, "promo test: internal error: %s\n", errbuf);
        sb_free(&bytes);
        comp_free(&c);
        return 2;
    }
    sb_free(&bytes);

    /* Examples in source order: by file, then line. */
    const sema_result *sr = sema_get(&c);
    size_t cap = 16, n = 0;
    uint32_t ncamp = promo_bundle_campaign_count(bundle);
    unsigned char *hit = xcalloc(ncamp ? ncamp : 1, 1);
    case_result *cases = xcalloc(cap, sizeof *cases);
    for (size_t f = 0; f < c.nfiles; f++) {
        for (size_t k = 0; k < sr->ncampaigns; k++) {
            const sema_campaign *sc = &sr->campaigns[k];
            if (sc->file != f) continue;
            for (const ast_node *cl = sc->node->a; cl; cl = cl->next) {
                if (cl->kind != AST_C_EXAMPLE) continue;
                if (filter && !strstr(sc->id, filter) && !(cl->str && strstr(cl->str, filter)))
                    continue;
                if (n == cap) cases = xrealloc(cases, (cap *= 2) * sizeof *cases);
                strbuf rep = STRBUF_INIT;
                case_result *cr = &cases[n++];
                cr->file = c.files[f].path;
                cr->line = cl->span.line;
                cr->campaign = sc->id;
                cr->name = cl->str ? cl->str : "";
                cr->ok = run_example(bundle, sc, cl, &rep, hit);
                cr->report = cr->ok ? NULL : xstrdup(sb_cstr(&rep));
                sb_free(&rep);
            }
        }
    }
    /* Stable order: file, then line (campaigns within a file are in evaluation order). */
    for (size_t i = 1; i < n; i++) {
        case_result t = cases[i];
        size_t j = i;
        while (j > 0 && strcmp(cases[j - 1].file, t.file) == 0 && cases[j - 1].line > t.line) {
            cases[j] = cases[j - 1];
            j--;
        }
        cases[j] = t;
    }
    size_t passed = 0, failed = 0;
    for (size_t i = 0; i < n; i++)
        cases[i].ok ? passed++ : failed++;
    if (junit) {
        strbuf x = STRBUF_INIT;
        sb_printf(&x,
                  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                  "<testsuites tests=\"%zu\" failures=\"%zu\">\n"
                  "  <testsuite name=\"promo test\" tests=\"%zu\" failures=\"%zu\">\n",
                  n, failed, n, failed);
        for (size_t i = 0; i < n; i++) {
            sb_puts(&x, "    <testcase classname=\"");
            xml_escape(&x, cases[i].file);
            sb_puts(&x, "\" name=\"");
            xml_escape(&x, cases[i].campaign);
            sb_puts(&x, ": ");
            xml_escape(&x, cases[i].name);
            sb_printf(&x, "\" file=\"");
            xml_escape(&x, cases[i].file);
            sb_printf(&x, "\" line=\"%u\"", cases[i].line);
            if (cases[i].ok) {
                sb_puts(&x, "/>\n");
            } else {
                sb_puts(&x, ">\n      <failure message=\"example failed\">");
                xml_escape(&x, cases[i].report);
                sb_puts(&x, "</failure>\n    </testcase>\n");
            }
        }
        sb_puts(&x, "  </testsuite>\n</testsuites>\n");
        fputs(sb_cstr(&x), stdout);
        sb_free(&x);
    } else {
        for (size_t i = 0; i < n; i++) {
            if (cases[i].ok) {
                if (verbose)
                    printf("ok   %s:%u: %s: %s\n", cases[i].file, cases[i].line, cases[i].campaign,
                           cases[i].name);
                continue;
            }
            if (verbose)
                printf("FAIL %s:%u: %s: %s\n", cases[i].file, cases[i].line, cases[i].campaign,
                       cases[i].name);
            printf("%s:%u: example \"%s\" of %s failed\n%s\n", cases[i].file, cases[i].line,
                   cases[i].name, cases[i].campaign, cases[i].report);
        }
        if (coverage) test_print_coverage(stdout, bundle, hit, ncamp);
        printf("%zu passed, %zu failed\n", passed, failed);
    }
    int low = 0;
    if (coverage) {
        uint32_t nhit = 0;
        for (uint32_t i = 0; i < ncamp; i++)
            nhit += hit[i];
        if (junit) test_print_coverage(stderr, bundle, hit, ncamp);
        low = min_cov >= 0 && (uint64_t)nhit * 100 < (uint64_t)min_cov * ncamp;
        if (low)
            fprintf(stderr, "promo test: coverage %u/%u is below --min-coverage %d%%\n", nhit,
                    ncamp, min_cov);
    }
    xfree(hit);
    for (size_t i = 0; i < n; i++)
        xfree(cases[i].report);
    xfree(cases);
    promo_bundle_release(bundle);
    comp_free(&c);
    return failed || low ? 1 : 0;
}
