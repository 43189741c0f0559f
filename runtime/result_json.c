/*
 * result_json.c — the result writer (runtime stage "output"): promo_result -> the
 * SPEC 4 JSON line, and the error record of a malformed line. Key order and number
 * formats are fixed (docs/io.md): output is byte-identical whatever produced it.
 *
 * Everything is formatted by hand into the caller's buffer: no stdio, no allocation,
 * no floating point. Writing past `cap` only counts, so one call both writes and
 * measures.
 */
#include "result_json.h"

#include <string.h>

#include "bundle.h"
#include "civil.h"

typedef struct out_w {
    char *p;
    size_t n, cap;
} out_w;

static inline void out_put(out_w *w, const char *s, size_t n) {
    if (w->n + n <= w->cap) memcpy(w->p + w->n, s, n);
    w->n += n;
}

#define OUT_LIT(w, lit) out_put((w), (lit), sizeof(lit) - 1)

static inline void out_ch(out_w *w, char c) {
    if (w->n < w->cap) w->p[w->n] = c;
    w->n++;
}

/* The body of a JSON string: \" \\ and control characters escaped; other bytes
 * (UTF-8 included) as they are. */
static void out_esc(out_w *w, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    size_t run = 0; /* bytes that need no escape, copied in one go */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        out_put(w, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': OUT_LIT(w, "\\\""); break;
        case '\\': OUT_LIT(w, "\\\\"); break;
        case '\n': OUT_LIT(w, "\\n"); break;
        case '\r': OUT_LIT(w, "\\r"); break;
        case '\t': OUT_LIT(w, "\\t"); break;
        case '\b': OUT_LIT(w, "\\b"); break;
        case '\f': OUT_LIT(w, "\\f"); break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            out_put(w, u, 6);
        }
        }
    }
    out_put(w, s + run, n - run);
}

static void out_str(out_w *w, const char *s, size_t n) {
    out_ch(w, '"');
    out_esc(w, s, n);
    out_ch(w, '"');
}

static void out_cstr(out_w *w, const char *s) {
    out_str(w, s, strlen(s));
}

size_t out_money(int64_t v, char out[24]) {
    char tmp[24];
    size_t i = sizeof tmp;
    uint64_t m = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    tmp[--i] = (char)('0' + m % 10);
    m /= 10;
    tmp[--i] = (char)('0' + m % 10);
    m /= 10;
    tmp[--i] = '.';
    do {
        tmp[--i] = (char)('0' + m % 10);
        m /= 10;
    } while (m);
    if (v < 0) tmp[--i] = '-';
    size_t n = sizeof tmp - i;
    memcpy(out, tmp + i, n);
    return n;
}

static void out_mny(out_w *w, int64_t v) {
    char b[24];
    out_put(w, b, out_money(v, b));
}

static void out_uint(out_w *w, uint64_t v) {
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    out_put(w, tmp + i, sizeof tmp - i);
}

static void out_date(out_w *w, int32_t days) {
    char d[11];
    civil_format(days, d);
    out_ch(w, '"');
    out_put(w, d, 10);
    out_ch(w, '"');
}

static void out_campaign(out_w *w, const promo_bundle *b, uint32_t i) {
    if (b && i < b->ncampaigns) {
        uint32_t s = b->campaigns[i].id;
        out_str(w, bundle_str(b, s), bundle_strlen(b, s));
    } else {
        OUT_LIT(w, "\"?\"");
    }
}

static void out_text(out_w *w, const promo_bundle *b, uint32_t s) {
    if (b)
        out_str(w, bundle_str(b, s), bundle_strlen(b, s));
    else
        OUT_LIT(w, "\"\"");
}

static void out_id(out_w *w, promo_str id) {
    if (id.p)
        out_str(w, id.p, id.n);
    else
        OUT_LIT(w, "null");
}

static size_t out_finish(out_w *w) {
    if (w->n < w->cap) w->p[w->n] = 0;
    return w->n;
}

static const char *const outcome_text[] = {
#define X(name, text) text,
    PROMO_OUTCOME_LIST(X)
#undef X
};

size_t promo_result_to_json(const promo_result *res, char *buf, size_t cap) {
    out_w w = {buf, 0, buf ? cap : 0};
    const promo_bundle *b = res->bundle;

    OUT_LIT(&w, "{\"id\":");
    out_id(&w, res->id);
    OUT_LIT(&w, ",\"total\":");
    out_mny(&w, res->total);
    OUT_LIT(&w, ",\"discount\":");
    out_mny(&w, res->discount);
    OUT_LIT(&w, ",\"final\":");
    out_mny(&w, res->final);

    OUT_LIT(&w, ",\"lines\":[");
    for (uint32_t i = 0; i < res->nlines; i++) {
        const promo_line_result *l = &res->lines[i];
        if (i) out_ch(&w, ',');
        OUT_LIT(&w, "{\"n\":");
        out_uint(&w, i);
        OUT_LIT(&w, ",\"amount\":");
        out_mny(&w, l->amount);
        OUT_LIT(&w, ",\"discount\":");
        out_mny(&w, l->discount);
        OUT_LIT(&w, ",\"final\":");
        out_mny(&w, l->final);
        OUT_LIT(&w, ",\"by\":{");
        for (uint32_t k = 0; k < l->by_cnt && l->by_off + k < res->nby; k++) {
            const promo_by *by = &res->by[l->by_off + k];
            if (k) out_ch(&w, ',');
            out_campaign(&w, b, by->campaign);
            out_ch(&w, ':');
            out_mny(&w, by->amount);
        }
        OUT_LIT(&w, "}}");
    }

    OUT_LIT(&w, "],\"points\":[");
    for (uint32_t i = 0; i < res->npoints; i++) {
        const promo_points *p = &res->points[i];
        if (i) out_ch(&w, ',');
        OUT_LIT(&w, "{\"campaign\":");
        out_campaign(&w, b, p->campaign);
        OUT_LIT(&w, ",\"points\":");
        out_mny(&w, p->points);
        OUT_LIT(&w, ",\"activate\":");
        out_date(&w, p->activate);
        OUT_LIT(&w, ",\"expire\":");
        if (p->expire == INT32_MIN)
            OUT_LIT(&w, "null");
        else
            out_date(&w, p->expire);
        out_ch(&w, '}');
    }

    OUT_LIT(&w, "],\"coupons\":[");
    for (uint32_t i = 0; i < res->ncoupons; i++) {
        if (i) out_ch(&w, ',');
        out_text(&w, b, res->coupons[i].str);
    }
    OUT_LIT(&w, "],\"messages\":[");
    for (uint32_t i = 0; i < res->nmessages; i++) {
        if (i) out_ch(&w, ',');
        out_text(&w, b, res->messages[i].str);
    }

    OUT_LIT(&w, "],\"spend_limit\":");
    if (res->has_spend_limit)
        out_mny(&w, res->spend_limit);
    else
        OUT_LIT(&w, "null");

    OUT_LIT(&w, ",\"applied\":[");
    for (uint32_t i = 0; i < res->napplied; i++) {
        if (i) out_ch(&w, ',');
        out_campaign(&w, b, res->applied[i]);
    }
    out_ch(&w, ']');

    if (res->explain) {
        OUT_LIT(&w, ",\"explain\":[");
        for (uint32_t i = 0; i < res->nexplain; i++) {
            const promo_explain *e = &res->explain[i];
            if (i) out_ch(&w, ',');
            OUT_LIT(&w, "{\"campaign\":");
            out_campaign(&w, b, e->campaign);
            OUT_LIT(&w, ",\"outcome\":");
            out_cstr(&w, e->outcome < PROMO__OUTCOME_COUNT ? outcome_text[e->outcome] : "?");
            if (e->outcome == PROMO_OUT_NOT_APPLICABLE && e->part) {
                OUT_LIT(&w, ",\"part\":");
                out_cstr(&w, e->part);
            }
            if ((e->outcome == PROMO_OUT_BLOCKED || e->outcome == PROMO_OUT_STOPPED) &&
                e->other != UINT32_MAX) {
                OUT_LIT(&w, ",\"by\":");
                out_campaign(&w, b, e->other);
            }
            out_ch(&w, '}');
        }
        out_ch(&w, ']');
    }
    out_ch(&w, '}');
    return out_finish(&w);
}

size_t out_error_to_json(promo_str id, uint64_t lineno, const char *msg, char *buf, size_t cap) {
    out_w w = {buf, 0, buf ? cap : 0};
    OUT_LIT(&w, "{\"id\":");
    out_id(&w, id);
    OUT_LIT(&w, ",\"error\":\"");
    if (lineno) {
        OUT_LIT(&w, "line ");
        out_uint(&w, lineno);
        OUT_LIT(&w, ": ");
    }
    if (msg) out_esc(&w, msg, strlen(msg));
    OUT_LIT(&w, "\"}");
    return out_finish(&w);
}
