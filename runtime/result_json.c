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
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

const struct out_piece out_pieces[OUT_PK_COUNT] = {
#define X(name, text) {text, sizeof text - 1},
    OUT_PIECES(X)
#undef X
};

/* A fixed piece: its text, or its byte in the packed form (pk is a constant of each
 * copy of out_result). */
static inline void out_pc(out_w *w, int pk, int piece) {
    if (pk)
        out_ch(w, (char)(piece + 1));
    else
        out_put(w, out_pieces[piece].s, out_pieces[piece].n);
}

/* Money; in the packed form a zero fraction is the piece ".00". */
static inline void out_mny_pk(out_w *w, int pk, int64_t v) {
    out_mny(w, v);
    if (pk && w->n <= w->cap && w->p[w->n - 1] == '0' && w->p[w->n - 2] == '0') {
        w->n -= 3; /* "x.00": the '.' is at n - 3 */
        out_ch(w, (char)(OUT_PK_CENTS0 + 1));
    }
}

/* A fixed piece, then money. */
static inline void out_mny_field(out_w *w, int pk, int piece, int64_t v) {
    out_pc(w, pk, piece);
    out_mny_pk(w, pk, v);
}

/* A campaign id without its quotes. */
static void out_camp_body(out_w *w, const promo_bundle *b, uint32_t i) {
    if (b && i < b->ncampaigns) {
        uint32_t s = b->campaigns[i].id;
        out_esc(w, bundle_str(b, s), bundle_strlen(b, s));
    } else {
        out_ch(w, '?');
    }
}

static void out_campaign(out_w *w, const promo_bundle *b, uint32_t i) {
    out_ch(w, '"');
    out_camp_body(w, b, i);
    out_ch(w, '"');
}

static void out_text_body(out_w *w, const promo_bundle *b, uint32_t s) {
    if (b) out_esc(w, bundle_str(b, s), bundle_strlen(b, s));
}

static void out_date_digits(out_w *w, int32_t days) {
    char d[11];
    civil_format(days, d);
    out_put(w, d, 10);
}

/* A list of bundle texts: ["a","b"] up to (not including) the closing bracket, which
 * belongs to the piece after it. */
static void out_texts(out_w *w, int pk, const promo_bundle *b, const promo_text *t, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            out_pc(w, pk, OUT_PK_QCQ);
        else
            out_ch(w, '"');
        out_text_body(w, b, t[i].str);
    }
    if (n) out_ch(w, '"');
}

/*
 * The result record (docs/io.md), as text (pk 0) or packed (pk 1): one body, so the
 * unpacked form is the text byte for byte. The record is cut into the fixed pieces of
 * OUT_PIECES where they occur; the text is the same however it is cut.
 */
static inline __attribute__((always_inline)) size_t out_result(const promo_result *res, char *buf,
                                                               size_t cap, const int pk) {
    if (!res) { /* misuse: nothing to write */
        if (buf && cap) buf[0] = 0;
        return 0;
    }
    out_w w = {buf, 0, buf ? cap : 0};
    const promo_bundle *b = res->bundle;

    out_pc(&w, pk, OUT_PK_ID);
    if (res->id.p)
        out_str(&w, res->id.p, res->id.n);
    else
        out_pc(&w, pk, OUT_PK_NULL);
    out_mny_field(&w, pk, OUT_PK_TOTAL, res->total);
    out_mny_field(&w, pk, OUT_PK_DISCOUNT, res->discount);
    out_mny_field(&w, pk, OUT_PK_FINAL, res->final);

    if (!res->nlines) OUT_LIT(&w, ",\"lines\":[");
    for (uint32_t i = 0; i < res->nlines; i++) {
        const promo_line_result *l = &res->lines[i];
        out_pc(&w, pk, i ? OUT_PK_LINEN : OUT_PK_LINES); /* closes the line before */
        out_uint(&w, i);
        out_mny_field(&w, pk, OUT_PK_AMOUNT, l->amount);
        out_mny_field(&w, pk, OUT_PK_DISCOUNT, l->discount);
        out_mny_field(&w, pk, OUT_PK_FINAL, l->final);
        uint32_t k = 0;
        for (; k < l->by_cnt && l->by_off + k < res->nby; k++) {
            const promo_by *by = &res->by[l->by_off + k];
            if (k)
                OUT_LIT(&w, ",\"");
            else
                out_pc(&w, pk, OUT_PK_BY);
            out_camp_body(&w, b, by->campaign);
            out_mny_field(&w, pk, OUT_PK_QC, by->amount);
        }
        if (k)
            out_ch(&w, '}');
        else
            out_pc(&w, pk, OUT_PK_BY0);
        if (i + 1 == res->nlines) out_ch(&w, '}');
    }

    out_pc(&w, pk, OUT_PK_POINTSL);
    for (uint32_t i = 0; i < res->npoints; i++) {
        const promo_points *p = &res->points[i];
        if (i) out_ch(&w, ',');
        out_pc(&w, pk, OUT_PK_CAMP0);
        out_camp_body(&w, b, p->campaign);
        out_mny_field(&w, pk, OUT_PK_POINTS, p->points);
        out_pc(&w, pk, OUT_PK_ACTIVATE);
        out_date_digits(&w, p->activate);
        if (p->expire == INT32_MIN) {
            out_pc(&w, pk, OUT_PK_EXPNULL);
        } else {
            out_pc(&w, pk, OUT_PK_EXPIRE);
            out_date_digits(&w, p->expire);
            out_pc(&w, pk, OUT_PK_QBR);
        }
    }

    out_pc(&w, pk, OUT_PK_COUPONS);
    out_texts(&w, pk, b, res->coupons, res->ncoupons);
    out_pc(&w, pk, OUT_PK_MESSAGES);
    out_texts(&w, pk, b, res->messages, res->nmessages);

    out_pc(&w, pk, OUT_PK_SPEND);
    if (res->has_spend_limit)
        out_mny_pk(&w, pk, res->spend_limit);
    else
        out_pc(&w, pk, OUT_PK_NULL);

    if (!res->napplied) OUT_LIT(&w, ",\"applied\":[]");
    for (uint32_t i = 0; i < res->napplied; i++) {
        out_pc(&w, pk, i ? OUT_PK_QCQ : OUT_PK_APPLIED);
        out_camp_body(&w, b, res->applied[i]);
        if (i + 1 == res->napplied) out_pc(&w, pk, OUT_PK_QB);
    }

    if (res->explain) {
        out_pc(&w, pk, OUT_PK_EXPLAIN);
        for (uint32_t i = 0; i < res->nexplain; i++) {
            const promo_explain *e = &res->explain[i];
            if (i) out_ch(&w, ',');
            out_pc(&w, pk, OUT_PK_CAMP0);
            out_camp_body(&w, b, e->campaign);
            out_pc(&w, pk, OUT_PK_QCQ);
            OUT_LIT(&w, "outcome");
            out_pc(&w, pk, OUT_PK_QC);
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

size_t promo_result_to_json(const promo_result *res, char *buf, size_t cap) {
    return out_result(res, buf, cap, 0);
}

size_t out_result_packed(const promo_result *res, char *buf, size_t cap) {
    return out_result(res, buf, cap, 1);
}

/* The pieces padded to 16 bytes: one fixed-size copy each. */
static const char out_piece16[OUT_PK_COUNT][OUT_PK_MAX] = {
#define X(name, text) text,
    OUT_PIECES(X)
#undef X
};

/* Unpacks one byte below 0x20 at p[*i]; returns the new output position. */
static inline char *out_unpack_one(const char *p, size_t n, size_t *i, char *o) {
    unsigned char c = (unsigned char)p[*i];
    if (c >= 1 && c <= OUT_PK_COUNT) {
        memcpy(o, out_piece16[c - 1], OUT_PK_MAX);
        o += out_pieces[c - 1].n;
    } else {
        if (c == OUT_PK_ESC && *i + 1 < n) c = (unsigned char)p[++*i];
        *o++ = (char)c;
    }
    ++*i;
    return o;
}

size_t out_unpack(const char *p, size_t n, char *out) {
    char *o = out;
    size_t i = 0;
#if defined(__SSE2__)
    /* 16 bytes at a time: copied as they are, up to the first byte below 0x20 (the
     * output has room for OUT_PK_MAX bytes per input byte, so a whole block always fits) */
    const __m128i lim = _mm_set1_epi8(0x1f);
    while (i + 16 <= n) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
        _mm_storeu_si128((__m128i *)o, v);
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(v, lim), v));
        if (!m) {
            i += 16;
            o += 16;
            continue;
        }
        unsigned k = (unsigned)__builtin_ctz(m);
        i += k;
        o += k;
        o = out_unpack_one(p, n, &i, o);
    }
#endif
    while (i < n) {
        if ((unsigned char)p[i] >= 0x20)
            *o++ = p[i++];
        else
            o = out_unpack_one(p, n, &i, o);
    }
    return (size_t)(o - out);
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
