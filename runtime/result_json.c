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
    size_t i = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* Eight bytes at a time (the last word overlapping the one before): ids and texts
     * rarely need an escape, and then they are copied in one go. */
    if (n >= 8) {
        const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
        uint64_t m = 0;
        for (size_t k = 0;; k += 8) {
            uint64_t x;
            memcpy(&x, s + (k + 8 < n ? k : n - 8), 8);
            uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
            /* non-zero when some byte is < 0x20, '"' or '\\' */
            m |= ((x - ones * 0x20) | ((q - ones) & ~q) | ((b - ones) & ~b)) & ~x & highs;
            if (m || k + 8 >= n) break;
        }
        if (!m) {
            out_put(w, s, n);
            return;
        }
    }
#endif
    for (; i < n; i++) {
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

/* "00" "01" ... "99": two digits per division by 100 (money is most of a result). */
static const char out_d2[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233"
    "34353637383940414243444546474849505152535455565758596061626364656667"
    "6869707172737475767778798081828384858687888990919293949596979899";

/* Writes money at o (at most 22 bytes: "-", 18 digits, "." and 2 digits). */
static inline size_t out_money_at(char *o, int64_t v) {
    uint64_t m = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    uint64_t q = m / 100;
    unsigned r = (unsigned)(m % 100);
    /* digits of q (at most 18): compares for the usual amounts, then divisions */
    size_t nd = q < 10 ? 1 : q < 100 ? 2 : q < 1000 ? 3 : q < 10000 ? 4 : q < 100000 ? 5 : 6;
    for (uint64_t t = q / 1000000; t; t /= 10)
        nd++;
    size_t neg = v < 0;
    o[0] = '-';
    char *e = o + neg + nd; /* one past the last integer digit */
    char *d = e;
    while (q >= 100) {
        unsigned t = (unsigned)(q % 100);
        q /= 100;
        d -= 2;
        memcpy(d, out_d2 + 2 * t, 2);
    }
    if (q >= 10) {
        d -= 2;
        memcpy(d, out_d2 + 2 * q, 2);
    } else {
        *--d = (char)('0' + q);
    }
    e[0] = '.';
    memcpy(e + 1, out_d2 + 2 * r, 2);
    return neg + nd + 3;
}

size_t out_money(int64_t v, char out[24]) {
    return out_money_at(out, v);
}

static inline void out_mny(out_w *w, int64_t v) {
    if (w->n + 24 <= w->cap) {
        w->n += out_money_at(w->p + w->n, v);
    } else {
        char b[24];
        out_put(w, b, out_money_at(b, v));
    }
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

size_t out_json_str(const char *s, size_t n, char *buf, size_t cap) {
    out_w w = {buf, 0, buf ? cap : 0};
    out_str(&w, s, n);
    return out_finish(&w);
}

static const char *const outcome_text[] = {
#define X(name, text) text,
    PROMO_OUTCOME_LIST(X)
#undef X
};

size_t promo_result_to_json(const promo_result *res, char *buf, size_t cap) {
    if (!res) { /* misuse: nothing to write */
        if (buf && cap) buf[0] = 0;
        return 0;
    }
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
