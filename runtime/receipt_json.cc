/*
 * receipt_json.cc — the receipt reader (runtime stage "input"): SPEC 4 JSON line ->
 * promo_receipt over simdjson On-Demand. See receipt_json.h for the contract and
 * docs/io.md for the format, the defaults and every error text.
 *
 * Why it looks the way it does:
 * - simdjson is used through its error-code API only; nothing here throws, and a
 *   catch-all in rx_parse keeps any surprise from crossing into C.
 * - Every scalar is read from its raw token (value::raw_json_token), so numbers are
 *   converted exactly from their decimal text and strings without escapes are not
 *   copied. Only strings with escapes go through get_string (the parser's buffer).
 * - Fields of objects we do not know are still walked and checked (strict JSON), so
 *   a line is either valid JSON or reported as "invalid JSON".
 * - Arrays are collected in vectors owned by the reader and reused: no allocation per
 *   receipt once they have grown to the largest receipt seen.
 */
#include "receipt_json.h"

#include "alloc.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

#include <simdjson.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

extern "C" {
#include "civil.h"
}

#define RX_INLINE __attribute__((always_inline)) inline

namespace od = simdjson::ondemand;
using simdjson::error_code;

namespace {

/* In-place parsing needs simdjson's padding to fit in what the caller guarantees. */
constexpr bool rx_in_place = simdjson::SIMDJSON_PADDING <= PROMO_JSON_PADDING;

template <class T> struct rx_vec {
    T *p = nullptr;
    uint32_t n = 0, cap = 0;
    const promo_allocator *a = nullptr; /* the reader's */
    ~rx_vec() {
        pa_free(a, p);
    }
    /* Returns the new slot, or NULL on out-of-memory. */
    T *push() {
        if (n == cap) {
            uint32_t nc = cap ? cap * 2 : 16;
            T *q = static_cast<T *>(pa_realloc(a, p, sizeof(T) * nc));
            if (!q) return nullptr;
            p = q;
            cap = nc;
        }
        return &p[n++];
    }
};

/* Where a value sits, for error messages: a[idx].b, a.b, a[idx] or a. */
struct rx_path {
    const char *a;
    long idx;
    const char *b;
    size_t blen;
};

rx_path path(const char *a) {
    return rx_path{a, -1, nullptr, 0};
}
rx_path path(const char *a, const char *b) {
    return rx_path{a, -1, b, strlen(b)};
}
rx_path path(const char *a, long idx, const char *b = nullptr) {
    return rx_path{a, idx, b, b ? strlen(b) : 0};
}

enum rx_dec { DEC_OK, DEC_SYNTAX, DEC_DECIMALS, DEC_RANGE };

/* Parses the JSON number text s[0..n) into value * 10^scale exactly. */
rx_dec rx_decimal(const char *s, size_t n, int scale, int64_t *out) {
    /* The common case first, in one pass: [-]int[.frac] with at most 15 digits and no
     * exponent. It gives what the general path below gives (no range error is possible,
     * and "exact" is divisibility by the dropped power of ten); anything else, valid or
     * not, goes to the general path. */
    {
        size_t i = 0;
        bool neg = i < n && s[i] == '-';
        i += neg;
        size_t i0 = i;
        uint64_t d = 0;
        while (i < n && (unsigned)(s[i] - '0') <= 9)
            d = d * 10 + (uint64_t)(s[i++] - '0');
        size_t nint = i - i0, nfrac = 0;
        bool ok = nint > 0 && (nint == 1 || s[i0] != '0');
        if (ok && i < n && s[i] == '.') {
            size_t f0 = ++i;
            while (i < n && (unsigned)(s[i] - '0') <= 9)
                d = d * 10 + (uint64_t)(s[i++] - '0');
            nfrac = i - f0;
            ok = nfrac > 0;
        }
        if (ok && i == n && nint + nfrac <= 15 && scale >= 0 && scale <= 3) {
            uint64_t p = 1;
            if (nfrac > (size_t)scale) {
                for (size_t k = (size_t)scale; k < nfrac; k++)
                    p *= 10;
                if (d % p) return DEC_DECIMALS;
                d /= p;
            } else {
                for (size_t k = nfrac; k < (size_t)scale; k++)
                    p *= 10;
                d *= p;
            }
            *out = neg ? -(int64_t)d : (int64_t)d;
            return DEC_OK;
        }
    }
    size_t i = 0;
    bool neg = false;
    if (i < n && s[i] == '-') neg = true, i++;
    size_t int_start = i;
    if (i < n && s[i] == '0') {
        i++;
    } else if (i < n && s[i] >= '1' && s[i] <= '9') {
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    } else {
        return DEC_SYNTAX;
    }
    size_t int_end = i, frac_start = i, frac_end = i;
    if (i < n && s[i] == '.') {
        frac_start = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        frac_end = i;
        if (frac_end == frac_start) return DEC_SYNTAX;
    }
    long exp = 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool eneg = false;
        if (i < n && (s[i] == '+' || s[i] == '-')) eneg = s[i] == '-', i++;
        if (i == n || s[i] < '0' || s[i] > '9') return DEC_SYNTAX;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (exp < 100000) exp = exp * 10 + (s[i] - '0');
            i++;
        }
        if (eneg) exp = -exp;
    }
    if (i != n) return DEC_SYNTAX;

    /* Trailing zeros of the fraction do not change the value ("89.900" is 89.90). */
    while (frac_end > frac_start && s[frac_end - 1] == '0')
        frac_end--;
    /* Significant digits D, value = D * 10^(exp - nfrac). */
    uint64_t d = 0;
    int ndig = 0;
    for (size_t k = int_start; k < int_end; k++) {
        if (ndig == 0 && s[k] == '0') continue;
        if (++ndig > 19) return DEC_RANGE;
        d = d * 10 + (uint64_t)(s[k] - '0');
    }
    for (size_t k = frac_start; k < frac_end; k++) {
        if (ndig == 0 && s[k] == '0') continue;
        if (++ndig > 19) return exp < 0 ? DEC_DECIMALS : DEC_RANGE;
        d = d * 10 + (uint64_t)(s[k] - '0');
    }
    if (d == 0) {
        *out = 0;
        return DEC_OK;
    }
    long shift = exp - (long)(frac_end - frac_start) + scale;
    for (; shift < 0; shift++) {
        if (d % 10) return DEC_DECIMALS;
        d /= 10;
    }
    for (; shift > 0; shift--) {
        if (d > (uint64_t)INT64_MAX / 10) return DEC_RANGE;
        d *= 10;
    }
    if (d > (uint64_t)INT64_MAX) return DEC_RANGE;
    *out = neg ? -(int64_t)d : (int64_t)d;
    return DEC_OK;
}

/* Index of the first byte of s[0..n) that is '"' or '\\' -- with `plain`, also a control
 * character (< 0x20) or a non-ASCII byte (>= 0x80): what ends the plain run of a string
 * for the fast path --, or n. Strings lie inside the line, which is followed by at
 * least PROMO_JSON_PADDING readable bytes, so the last block may read past s + n. */
template <bool plain> RX_INLINE size_t rx_scan(const char *s, size_t n) {
#if defined(__SSE2__)
    /* 16 bytes at a time: a signed compare with 0x20 catches both control characters
     * and bytes >= 0x80 (negative). */
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    for (size_t i = 0; i < n; i += 16) {
        __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i *>(s + i));
        __m128i m = _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash));
        if (plain) m = _mm_or_si128(m, _mm_cmplt_epi8(v, space));
        unsigned bits = (unsigned)_mm_movemask_epi8(m);
        if (bits) {
            size_t j = i + (size_t)__builtin_ctz(bits);
            return j < n ? j : n;
        }
    }
    return n;
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        uint64_t a = w ^ (ones * '"'), b = w ^ (ones * '\\');
        /* The lowest flagged byte of each term is a real match (borrows only go up);
         * (w - 0x20..) | w flags bytes < 0x20 and >= 0x80. */
        uint64_t m = ((a - ones) & ~a) | ((b - ones) & ~b);
        if (plain) m |= (w - ones * 0x20) | w;
        m &= highs;
        if (m) {
            size_t j = i + ((size_t)__builtin_ctzll(m) >> 3);
            return j < n ? j : n;
        }
    }
    return n;
#else
    size_t i = 0;
    while (i < n && s[i] != '"' && s[i] != '\\' &&
           (!plain || ((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x80)))
        i++;
    return i;
#endif
}

inline size_t rx_quote_or_backslash(const char *s, size_t n) {
    return rx_scan<false>(s, n);
}

RX_INLINE size_t rx_str_stop(const char *s, size_t n) {
    return rx_scan<true>(s, n);
}

/* Length of the well-formed UTF-8 sequence at s (< e) as simdjson validates it (no
 * overlong forms, surrogates or code points past U+10FFFF), or 0. */
inline size_t rx_utf8_len(const unsigned char *s, const unsigned char *e) {
    unsigned char c = s[0];
    size_t k = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC2 ? 1 : 0;
    if (k == 0 || c > 0xF4 || (size_t)(e - s) <= k) return 0;
    for (size_t j = 1; j <= k; j++)
        if ((s[j] & 0xC0) != 0x80) return 0;
    unsigned char c1 = s[1];
    if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F) || (c == 0xF0 && c1 < 0x90) ||
        (c == 0xF4 && c1 > 0x8F))
        return 0;
    return k + 1;
}

inline bool rx_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

inline int rx_2dig(const char *s) {
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9') return -1;
    return (s[0] - '0') * 10 + (s[1] - '0');
}

} // namespace

struct rx_reader {
    od::parser parser;
    od::document *doc = nullptr; /* during rx_parse, for error locations */
    const char *base = nullptr;
    size_t len = 0;
    char *err = nullptr;
    size_t errlen = 0;
    bool failed = false;
    promo_status status = PROMO_OK;

    char *pad = nullptr; /* zero-padded copy of the line, when in place will not do */
    size_t padcap = 0;

    rx_vec<promo_line> lines;
    rx_vec<promo_str> codes, segments;
    rx_vec<promo_kv> attrs, cattrs;
    promo_customer cust;
    promo_receipt rec;
    promo_str id;
    bool has_id = false;

    promo_allocator alloc; /* every array of the reader (simdjson's buffers excepted) */

    explicit rx_reader(const promo_allocator *al) : alloc(*pa_or_default(al)) {
        lines.a = &alloc;
        codes.a = segments.a = &alloc;
        attrs.a = cattrs.a = &alloc;
    }
    ~rx_reader() {
        pa_free(&alloc, pad);
    }

    /* ---------------------------------------------------------------- errors ---- */

    bool fail(promo_status st, const rx_path &p, const char *fmt, ...)
        __attribute__((format(printf, 4, 5))) {
        if (failed) return false;
        failed = true;
        status = st;
        if (!err || !errlen) return false;
        int n;
        if (p.b && p.idx >= 0)
            n = snprintf(err, errlen, "%s[%ld].%.*s: ", p.a, p.idx, (int)p.blen, p.b);
        else if (p.b)
            n = snprintf(err, errlen, "%s.%.*s: ", p.a, (int)p.blen, p.b);
        else if (p.idx >= 0)
            n = snprintf(err, errlen, "%s[%ld]: ", p.a, p.idx);
        else
            n = snprintf(err, errlen, "%s: ", p.a);
        if (n < 0 || (size_t)n >= errlen) return false;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
        va_end(ap);
        return false;
    }

    bool fail_plain(promo_status st, const char *msg) {
        if (failed) return false;
        failed = true;
        status = st;
        if (err && errlen) snprintf(err, errlen, "%s", msg);
        return false;
    }

    /* A value nested deeper than RX_MAX_DEPTH, at token t. */
    bool fail_too_deep(std::string_view t) {
        if (failed) return false;
        failed = true;
        status = PROMO_EINPUT;
        if (err && errlen)
            snprintf(err, errlen, "invalid JSON: nested deeper than %u levels at byte %zu",
                     (unsigned)RX_MAX_DEPTH, (size_t)(t.data() - base));
        return false;
    }

    bool fail_json_at(error_code e, size_t at) {
        if (e == simdjson::MEMALLOC) return nomem();
        if (failed) return false;
        failed = true;
        status = PROMO_EINPUT;
        /* simdjson says "ended early" for a closed root followed by more text. */
        if (e == simdjson::INCOMPLETE_ARRAY_OR_OBJECT) {
            size_t t = trailing_at();
            if (t < len) e = simdjson::TRAILING_CONTENT;
            at = t;
        }
        /* A root object that is not closed is only noticed at its start. */
        if (at > len) at = len;
        if (err && errlen) {
            const char *m = simdjson::error_message(e);
            size_t mn = strlen(m);
            if (mn && m[mn - 1] == '.') mn--; /* simdjson's messages end with a period */
            snprintf(err, errlen, "invalid JSON: %.*s at byte %zu", (int)mn, m, at);
        }
        return false;
    }

    /* The first non-space byte after the root value's closing bracket, or len (not
     * closed, or nothing after it). Only on the error path. */
    size_t trailing_at() const {
        size_t i = 0, depth = 0;
        bool in_str = false;
        for (; i < len; i++) {
            char c = base[i];
            if (in_str) {
                if (c == '\\')
                    i++;
                else if (c == '"')
                    in_str = false;
            } else if (c == '"') {
                in_str = true;
            } else if (c == '{' || c == '[') {
                depth++;
            } else if ((c == '}' || c == ']') && depth && --depth == 0) {
                break;
            }
        }
        if (i >= len) return len;
        for (i++; i < len && rx_space(base[i]); i++) {
        }
        return i;
    }

    bool fail_json(error_code e) {
        size_t at = len;
        const char *loc = nullptr;
        if (doc && !doc->current_location().get(loc) && loc >= base) at = (size_t)(loc - base);
        return fail_json_at(e, at);
    }

    bool fail_token(error_code e, std::string_view tok) {
        return fail_json_at(e, (size_t)(tok.data() - base));
    }

    bool nomem() {
        return fail_plain(PROMO_ENOMEM, "out of memory");
    }

    /* Where stage 1 found an error: simdjson does not say, so find it again. */
    size_t stage1_location(error_code e) const {
        const unsigned char *s = reinterpret_cast<const unsigned char *>(base);
        bool in_str = false;
        size_t open = 0;
        for (size_t i = 0; i < len; i++) {
            unsigned char c = s[i];
            if (e == simdjson::UTF8_ERROR && c >= 0x80) {
                size_t u = rx_utf8_len(s + i, s + len);
                if (!u) return i;
                i += u - 1;
                continue;
            }
            if (in_str) {
                if (c == '\\')
                    i++;
                else if (c == '"')
                    in_str = false;
                else if (c < 0x20 && e == simdjson::UNESCAPED_CHARS)
                    return i;
            } else if (c == '"') {
                in_str = true;
                open = i;
            }
        }
        return e == simdjson::UNCLOSED_STRING ? open : 0;
    }

    /* --------------------------------------------------------------- scalars ---- */

    static std::string_view trim(std::string_view t) {
        size_t n = t.size();
        while (n && rx_space(t[n - 1]))
            n--;
        return t.substr(0, n);
    }

    /* Validates a scalar token; false (error set) when it is not proper JSON. */
    bool check_atom(std::string_view t) {
        char c = t.empty() ? 0 : t[0];
        if (c == 't' ? t == "true" : c == 'f' ? t == "false" : c == 'n' ? t == "null" : false)
            return true;
        return fail_token(c == 't'   ? simdjson::T_ATOM_ERROR
                          : c == 'f' ? simdjson::F_ATOM_ERROR
                          : c == 'n' ? simdjson::N_ATOM_ERROR
                                     : simdjson::TAPE_ERROR,
                          t);
    }

    /*
     * Reads a string value. Without escapes it points into the line; with escapes
     * simdjson unescapes it into its string buffer (valid until the next parse).
     * Returns 1 ok, 0 error set, -1 the value is not a string (nothing set).
     */
    int get_str(od::value &v, std::string_view t, promo_str *out) {
        if (t.empty() || t[0] != '"') return -1;
        const char *p = t.data() + 1;
        const char *end = t.data() + t.size();
        const char *q = p + rx_quote_or_backslash(p, (size_t)(end - p));
        if (q < end && *q == '"') {
            out->p = p;
            out->n = (uint32_t)(q - p);
            return 1;
        }
        std::string_view s;
        error_code e = v.get_string().get(s);
        if (e) return fail_token(e, t), 0;
        out->p = s.data();
        out->n = (uint32_t)s.size();
        return 1;
    }

    /* A string, with the SPEC wording when it is not one. */
    bool want_str(od::value &v, const rx_path &p, promo_str *out) {
        std::string_view t = trim(v.raw_json_token());
        int r = get_str(v, t, out);
        if (r == 1) return true;
        if (r == 0) return false;
        if (!check_scalar(t)) return false;
        return fail(PROMO_EINPUT, p, "expected a string");
    }

    /* true when v is null (and valid). */
    static bool is_null_tok(std::string_view t) {
        return t == "null";
    }

    /* Distinguishes "invalid JSON" from "wrong type" for a token that is not what we
     * wanted: numbers and atoms are checked; containers are left to the caller. */
    bool check_scalar(std::string_view t) {
        if (t.empty()) return fail_json(simdjson::TAPE_ERROR);
        char c = t[0];
        if (c == '-' || (c >= '0' && c <= '9')) {
            int64_t x; /* the syntax verdict does not depend on the scale */
            if (rx_decimal(t.data(), t.size(), 0, &x) == DEC_SYNTAX)
                return fail_token(simdjson::NUMBER_ERROR, t);
            return true;
        }
        if (c == '{' || c == '[' || c == '"') return true;
        return check_atom(t);
    }

    /* A number as exact decimal with `scale` places. */
    bool want_dec(od::value &v, const rx_path &p, int scale, int64_t *out) {
        std::string_view t = trim(v.raw_json_token());
        char c = t.empty() ? 0 : t[0];
        if (!(c == '-' || (c >= '0' && c <= '9'))) {
            if (!check_scalar(t)) return false;
            return fail(PROMO_EINPUT, p, "expected a number");
        }
        switch (rx_decimal(t.data(), t.size(), scale, out)) {
        case DEC_OK: return true;
        case DEC_SYNTAX: return fail_token(simdjson::NUMBER_ERROR, t);
        case DEC_DECIMALS: return fail(PROMO_EINPUT, p, "more than %d decimals", scale);
        case DEC_RANGE: return fail(PROMO_EINPUT, p, "too large");
        }
        return false;
    }

    /* An identifier: a string, or a number kept as its text. `integer`: only plain
     * non-negative integers are accepted as numbers (stores, SKUs). */
    bool want_ident(od::value &v, const rx_path &p, bool integer, promo_str *out) {
        std::string_view t = trim(v.raw_json_token());
        int r = get_str(v, t, out);
        if (r == 1) return true;
        if (r == 0) return false;
        char c = t.empty() ? 0 : t[0];
        if (c == '-' || (c >= '0' && c <= '9')) {
            int64_t x;
            if (rx_decimal(t.data(), t.size(), 0, &x) == DEC_SYNTAX)
                return fail_token(simdjson::NUMBER_ERROR, t);
            bool plain = true;
            for (char ch : t)
                plain = plain && ch >= '0' && ch <= '9';
            if (integer && !plain)
                return fail(PROMO_EINPUT, p, "expected a string or a non-negative integer");
            out->p = t.data();
            out->n = (uint32_t)t.size();
            return true;
        }
        if (!check_scalar(t)) return false;
        return fail(PROMO_EINPUT, p, "expected a string or a number");
    }

    bool want_bool(od::value &v, const rx_path &p, int *out) {
        std::string_view t = trim(v.raw_json_token());
        if (t == "true") return *out = 1, true;
        if (t == "false") return *out = 0, true;
        if (!check_scalar(t)) return false;
        return fail(PROMO_EINPUT, p, "expected true or false");
    }

    /* Quoted, printable, truncated copy of a value for "unknown value" messages. */
    static void show(const promo_str &s, char *buf, size_t cap) {
        size_t o = 0, lim = cap - 5;
        uint32_t i = 0;
        buf[o++] = '"';
        for (; i < s.n && o < lim; i++) {
            unsigned char c = (unsigned char)s.p[i];
            buf[o++] = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? (char)c : '?';
        }
        if (i < s.n) buf[o++] = '.', buf[o++] = '.', buf[o++] = '.';
        buf[o++] = '"';
        buf[o] = 0;
    }

    static bool eq(const promo_str &s, const char *lit) {
        size_t n = strlen(lit);
        return s.n == n && !memcmp(s.p, lit, n);
    }

    bool want_enum(od::value &v, const rx_path &p, const char *const *names, int count, int *out) {
        promo_str s{nullptr, 0};
        if (!want_str(v, p, &s)) return false;
        for (int i = 0; i < count; i++)
            if (eq(s, names[i])) return *out = i, true;
        char shown[48];
        show(s, shown, sizeof shown);
        return fail(PROMO_EINPUT, p, "unknown value %s", shown);
    }

    /* "YYYY-MM-DDTHH:MM[:SS[.fff]][Z|+HH[:MM]|-HH[:MM]]" -> date, seconds; NULL, or
     * what is wrong with the text (both readers). */
    static const char *time_text(const promo_str &s, int32_t *date, int32_t *secs) {
        static const char expected[] = "expected \"YYYY-MM-DDTHH:MM[:SS]\"";
        const char *c = s.p;
        uint32_t n = s.n;
        if (n < 16) return expected;
        for (int i = 0; i < 10; i++)
            if ((i == 4 || i == 7) ? c[i] != '-' : (c[i] < '0' || c[i] > '9')) return expected;
        if ((c[10] != 'T' && c[10] != ' ') || c[13] != ':') return expected;
        int hh = rx_2dig(c + 11), mm = rx_2dig(c + 14), ss = 0;
        if (hh < 0 || mm < 0) return expected;
        uint32_t i = 16;
        if (i < n && c[i] == ':') {
            if (n < i + 3 || (ss = rx_2dig(c + i + 1)) < 0) return expected;
            i += 3;
            if (i < n && c[i] == '.') {
                uint32_t j = ++i;
                while (i < n && c[i] >= '0' && c[i] <= '9')
                    i++;
                if (i == j) return expected;
            }
        }
        /* The zone is accepted and ignored: the time is local time as written. */
        if (i < n && (c[i] == 'Z' || c[i] == 'z')) {
            i++;
        } else if (i < n && (c[i] == '+' || c[i] == '-')) {
            if (n < i + 3 || rx_2dig(c + i + 1) < 0) return expected;
            i += 3;
            if (i < n && c[i] == ':') i++;
            if (i < n) {
                if (n < i + 2 || rx_2dig(c + i) < 0) return expected;
                i += 2;
            }
        }
        if (i != n) return expected;
        if (!civil_parse_date(c, 10, date)) return "invalid date";
        if (hh > 23 || mm > 59 || ss > 59) return "invalid time";
        *secs = hh * 3600 + mm * 60 + ss;
        return nullptr;
    }

    bool want_time(od::value &v, int32_t *date, int32_t *secs) {
        rx_path p = path("time");
        promo_str s{nullptr, 0};
        if (!want_str(v, p, &s)) return false;
        const char *why = time_text(s, date, secs);
        return why ? fail(PROMO_EINPUT, p, "%s", why) : true;
    }

    /* "YYYY-MM-DD" -> days; NULL, or what is wrong with the text. */
    static const char *date_text(const promo_str &s, int32_t *days) {
        bool shape = s.n == 10;
        for (uint32_t i = 0; shape && i < 10; i++)
            shape = (i == 4 || i == 7) ? s.p[i] == '-' : (s.p[i] >= '0' && s.p[i] <= '9');
        if (!shape) return "expected \"YYYY-MM-DD\"";
        if (!civil_parse_date(s.p, 10, days)) return "invalid date";
        return nullptr;
    }

    bool want_date(od::value &v, const rx_path &p, int32_t *days) {
        promo_str s{nullptr, 0};
        if (!want_str(v, p, &s)) return false;
        const char *why = date_text(s, days);
        return why ? fail(PROMO_EINPUT, p, "%s", why) : true;
    }

    /* ------------------------------------------------------------ containers ---- */

    /* Walks a value we do not use, checking it is valid JSON. `depth` is the nesting
     * of v in the document (the root object is 1); deeper than RX_MAX_DEPTH is refused,
     * so the recursion is bounded and simdjson's own depth limit is never reached. */
    bool skip(od::value &v, unsigned depth) {
        std::string_view t = trim(v.raw_json_token());
        char c = t.empty() ? 0 : t[0];
        if ((c == '{' || c == '[') && depth >= RX_MAX_DEPTH) return fail_too_deep(t);
        if (c == '{') {
            od::object o;
            error_code e = v.get_object().get(o);
            if (e) return fail_json(e);
            for (auto fr : o) {
                od::field f;
                if ((e = std::move(fr).get(f))) return fail_json(e);
                if (!skip(f.value(), depth + 1)) return false;
            }
            return true;
        }
        if (c == '[') {
            od::array a;
            error_code e = v.get_array().get(a);
            if (e) return fail_json(e);
            for (auto vr : a) {
                od::value x;
                if ((e = vr.get(x))) return fail_json(e);
                if (!skip(x, depth + 1)) return false;
            }
            return true;
        }
        if (c == '"') {
            std::string_view s;
            error_code e = v.get_string().get(s);
            return e ? fail_token(e, t) : true;
        }
        return check_scalar(t);
    }

    /* Opens an array; returns 1 ok, 0 error, -1 null. */
    int open_array(od::value &v, const rx_path &p, od::array *a) {
        std::string_view t = trim(v.raw_json_token());
        if (!t.empty() && t[0] == '[') {
            error_code e = v.get_array().get(*a);
            return e ? (fail_json(e), 0) : 1;
        }
        if (is_null_tok(t)) return -1;
        if (!check_scalar(t)) return 0;
        return fail(PROMO_EINPUT, p, "expected an array"), 0;
    }

    int open_object(od::value &v, const rx_path &p, od::object *o) {
        std::string_view t = trim(v.raw_json_token());
        if (!t.empty() && t[0] == '{') {
            error_code e = v.get_object().get(*o);
            return e ? (fail_json(e), 0) : 1;
        }
        if (is_null_tok(t)) return -1;
        if (!check_scalar(t)) return 0;
        return fail(PROMO_EINPUT, p, "expected an object"), 0;
    }

    /* ["a", "b"] -> vec (null = empty). */
    bool want_strings(od::value &v, const char *name, rx_vec<promo_str> &out) {
        out.n = 0;
        od::array a;
        int r = open_array(v, path(name), &a);
        if (r <= 0) return r < 0;
        long i = 0;
        for (auto vr : a) {
            if (error_code e = vr.error()) return fail_json(e);
            od::value &x = vr.value_unsafe(); /* in place, see each_field */
            if (out.n >= RX_MAX_ITEMS)
                return fail(PROMO_ELIMIT, path(name), "more than %u entries", RX_MAX_ITEMS);
            promo_str s{nullptr, 0};
            if (!want_str(x, path(name, i), &s)) return false;
            promo_str *slot = out.push();
            if (!slot) return nomem();
            *slot = s;
            i++;
        }
        return true;
    }

    /* Raw text of a field name (escapes resolved when present). */
    bool key_text(od::field &f, promo_str *out) {
        const char *k = f.key().raw();
        const char *q = k;
        while (*q != '"' && *q != '\\')
            q++;
        if (*q == '"') {
            out->p = k;
            out->n = (uint32_t)(q - k);
            return true;
        }
        std::string_view s;
        error_code e = f.unescaped_key().get(s);
        if (e) return fail_json(e);
        out->p = s.data();
        out->n = (uint32_t)s.size();
        return true;
    }

    /* {"k": "v" | number | bool | null} -> vec; null values are left out. */
    bool want_attrs(od::value &v, const char *name, rx_vec<promo_kv> &out) {
        out.n = 0;
        od::object o;
        int r = open_object(v, path(name), &o);
        if (r <= 0) return r < 0;
        for (auto fr : o) {
            if (error_code e = fr.error()) return fail_json(e);
            od::field &f = fr.value_unsafe(); /* in place, see each_field */
            promo_kv kv{};
            if (!key_text(f, &kv.key)) return false;
            od::value &x = f.value();
            rx_path p{name, -1, kv.key.p, kv.key.n};
            if (kv.key.n > 64) p.blen = 64;
            std::string_view t = trim(x.raw_json_token());
            int s = get_str(x, t, &kv.value);
            if (s == 0) return false;
            if (s < 0) {
                char c = t.empty() ? 0 : t[0];
                if (c == '-' || (c >= '0' && c <= '9')) {
                    if (!check_scalar(t)) return false;
                    kv.value.p = t.data();
                    kv.value.n = (uint32_t)t.size();
                } else if (t == "true" || t == "false") {
                    kv.value.p = t.data();
                    kv.value.n = (uint32_t)t.size();
                } else if (is_null_tok(t)) {
                    continue;
                } else {
                    if (!check_scalar(t)) return false;
                    return fail(PROMO_EINPUT, p, "expected a string, a number or a boolean");
                }
            }
            if (out.n >= RX_MAX_ITEMS)
                return fail(PROMO_ELIMIT, path(name), "more than %u entries", RX_MAX_ITEMS);
            promo_kv *slot = out.push();
            if (!slot) return nomem();
            *slot = kv;
        }
        return true;
    }

    /* Walks the fields of an object, giving each key, value and whether the value is
     * JSON null to `fn`; stops at the first field `fn` rejects. */
    template <class F> bool each_field(od::object &o, F &&fn) {
        for (auto fr : o) {
            /* The field is used where the iterator built it: copying it out (a pair)
             * compiles to 16-byte reloads of just-stored scalars, which stall on store
             * forwarding, twice per field. */
            if (error_code e = fr.error()) return fail_json(e);
            od::field &f = fr.value_unsafe();
            od::value &x = f.value();
            if (!fn(f.key(), x, is_null_tok(trim(x.raw_json_token())))) return false;
        }
        return true;
    }

    bool want_customer(od::value &v) {
        cust = promo_customer{};
        cust.registered = -1;
        segments.n = cattrs.n = 0;
        od::object o;
        int r = open_object(v, path("customer"), &o);
        if (r < 0) return true;
        if (r == 0) return false;
        rec.customer = &cust;
        return each_field(o, [&](od::raw_json_string k, od::value &x, bool null) {
            bool ok = true;
            if (k.unsafe_is_equal("id")) {
                ok = null || want_ident(x, path("customer", "id"), false, &cust.id);
            } else if (k.unsafe_is_equal("card")) {
                ok = null || want_str(x, path("customer", "card"), &cust.card);
            } else if (k.unsafe_is_equal("tier")) {
                ok = null || want_str(x, path("customer", "tier"), &cust.tier);
            } else if (k.unsafe_is_equal("segments")) {
                ok = want_strings(x, "customer.segments", segments);
            } else if (k.unsafe_is_equal("birthday")) {
                cust.has_birthday = 0;
                if (!null) {
                    ok = want_date(x, path("customer", "birthday"), &cust.birthday);
                    cust.has_birthday = ok;
                }
            } else if (k.unsafe_is_equal("registered")) {
                cust.registered = -1;
                ok = null || want_bool(x, path("customer", "registered"), &cust.registered);
            } else if (k.unsafe_is_equal("attrs")) {
                ok = want_attrs(x, "customer.attrs", cattrs);
            } else {
                ok = skip(x, 3);
            }
            return ok;
        });
    }

    bool want_line(od::value &v, long idx) {
        od::object o;
        int r = open_object(v, path("lines", idx), &o);
        if (r < 0) return fail(PROMO_EINPUT, path("lines", idx), "expected an object");
        if (r == 0) return false;
        promo_line ln{};
        bool has_sku = false, has_qty = false, has_price = false;
        bool fields_ok = each_field(o, [&](od::raw_json_string k, od::value &x, bool null) {
            bool ok = true;
            if (k.unsafe_is_equal("sku")) {
                ok = want_ident(x, path("lines", idx, "sku"), true, &ln.sku);
                has_sku = true;
            } else if (k.unsafe_is_equal("qty")) {
                ok = want_dec(x, path("lines", idx, "qty"), 3, &ln.qty);
                if (ok && ln.qty <= 0)
                    ok = fail(PROMO_EINPUT, path("lines", idx, "qty"), "must be positive");
                if (ok && ln.qty > PROMO_MAX_QTY)
                    ok = fail(PROMO_EINPUT, path("lines", idx, "qty"),
                              "too large (more than 1000000)");
                has_qty = true;
            } else if (k.unsafe_is_equal("price")) {
                ok = want_dec(x, path("lines", idx, "price"), 2, &ln.price);
                if (ok && ln.price < 0)
                    ok = fail(PROMO_EINPUT, path("lines", idx, "price"), "must not be negative");
                if (ok && ln.price > PROMO_MAX_PRICE)
                    ok = fail(PROMO_EINPUT, path("lines", idx, "price"),
                              "too large (more than 10000000000.00)");
                has_price = true;
            } else if (k.unsafe_is_equal("category")) {
                ln.category = promo_str{nullptr, 0};
                ok = null || want_str(x, path("lines", idx, "category"), &ln.category);
            } else if (k.unsafe_is_equal("brand")) {
                ln.brand = promo_str{nullptr, 0};
                ok = null || want_str(x, path("lines", idx, "brand"), &ln.brand);
            } else if (k.unsafe_is_equal("excluded")) {
                ln.excluded = 0;
                ok = null || want_bool(x, path("lines", idx, "excluded"), &ln.excluded);
            } else {
                ok = skip(x, 4);
            }
            return ok;
        });
        if (!fields_ok) return false;
        if (!has_sku) return fail(PROMO_EINPUT, path("lines", idx, "sku"), "missing");
        if (!has_qty) return fail(PROMO_EINPUT, path("lines", idx, "qty"), "missing");
        if (!has_price) return fail(PROMO_EINPUT, path("lines", idx, "price"), "missing");
        promo_line *slot = lines.push();
        if (!slot) return nomem();
        *slot = ln;
        return true;
    }

    bool want_lines(od::value &v) {
        lines.n = 0;
        od::array a;
        int r = open_array(v, path("lines"), &a);
        if (r < 0) return fail(PROMO_EINPUT, path("lines"), "expected an array");
        if (r == 0) return false;
        long i = 0;
        for (auto vr : a) {
            if (error_code e = vr.error()) return fail_json(e);
            od::value &x = vr.value_unsafe(); /* in place, see each_field */
            if (lines.n >= PROMO_MAX_LINES)
                return fail(PROMO_ELIMIT, path("lines"), "more than %u lines", PROMO_MAX_LINES);
            if (!want_line(x, i++)) return false;
        }
        return true;
    }

    /* ----------------------------------------------------------------- receipt ---- */

    bool want_receipt(od::document &d) {
        od::json_type jt;
        error_code e = d.type().get(jt);
        if (e) return fail_json(e);
        if (jt != od::json_type::object) {
            std::string_view t;
            if (jt != od::json_type::array && !d.raw_json_token().get(t) && !check_scalar(trim(t)))
                return false;
            return fail_plain(PROMO_EINPUT, "expected a JSON object");
        }
        od::object o;
        if ((e = d.get_object().get(o))) return fail_json(e);
        bool has_time = false, has_lines = false;
        static const char *const channels[] = {"pos", "online"};
        static const char *const payments[] = {"cash", "card", "credit", "bonus", "mixed"};
        for (auto fr : o) {
            if ((e = fr.error())) return fail_json(e);
            od::field &f = fr.value_unsafe(); /* in place, see each_field */
            od::raw_json_string k = f.key();
            od::value &x = f.value();
            std::string_view t = trim(x.raw_json_token());
            bool null = is_null_tok(t);
            bool ok = true;
            switch (*k.raw()) {
            case 'i':
                if (k.unsafe_is_equal("id")) {
                    ok = want_ident(x, path("id"), false, &id);
                    has_id = ok;
                    goto next;
                }
                break;
            case 's':
                if (k.unsafe_is_equal("store")) {
                    rec.store = promo_str{nullptr, 0};
                    ok = null || want_ident(x, path("store"), true, &rec.store);
                    goto next;
                }
                break;
            case 'r':
                if (k.unsafe_is_equal("region")) {
                    rec.region = promo_str{nullptr, 0};
                    ok = null || want_str(x, path("region"), &rec.region);
                    goto next;
                }
                break;
            case 'c':
                if (k.unsafe_is_equal("channel")) {
                    rec.channel = PROMO_CHANNEL_POS;
                    ok = null || want_enum(x, path("channel"), channels, 2, &rec.channel);
                    goto next;
                }
                if (k.unsafe_is_equal("codes")) {
                    ok = want_strings(x, "codes", codes);
                    goto next;
                }
                if (k.unsafe_is_equal("customer")) {
                    rec.customer = nullptr;
                    ok = want_customer(x);
                    goto next;
                }
                break;
            case 't':
                if (k.unsafe_is_equal("time")) {
                    ok = want_time(x, &rec.date, &rec.time);
                    has_time = true;
                    goto next;
                }
                break;
            case 'p':
                if (k.unsafe_is_equal("payment")) {
                    rec.payment = PROMO_PAY_CARD;
                    ok = null || want_enum(x, path("payment"), payments, 5, &rec.payment);
                    goto next;
                }
                if (k.unsafe_is_equal("points_paid")) {
                    rec.points_paid = 0;
                    if (null) goto next;
                    ok = want_dec(x, path("points_paid"), 2, &rec.points_paid);
                    if (ok && rec.points_paid < 0)
                        ok = fail(PROMO_EINPUT, path("points_paid"), "must not be negative");
                    if (ok && rec.points_paid > PROMO_MAX_MONEY)
                        ok = fail(PROMO_EINPUT, path("points_paid"),
                                  "too large (more than 10000000000000.00)");
                    goto next;
                }
                break;
            case 'a':
                if (k.unsafe_is_equal("attrs")) {
                    ok = want_attrs(x, "attrs", attrs);
                    goto next;
                }
                break;
            case 'l':
                if (k.unsafe_is_equal("lines")) {
                    ok = want_lines(x);
                    has_lines = true;
                    goto next;
                }
                break;
            }
            ok = skip(x, 2);
        next:
            if (!ok) return false;
        }
        /* Anything after the object is trailing garbage. */
        const char *loc = nullptr;
        if (!d.current_location().get(loc))
            return fail_json_at(simdjson::TRAILING_CONTENT, (size_t)(loc - base));
        if (!has_id) return fail(PROMO_EINPUT, path("id"), "missing");
        if (!has_time) return fail(PROMO_EINPUT, path("time"), "missing");
        if (!has_lines) return fail(PROMO_EINPUT, path("lines"), "missing");
        return true;
    }

    /* ------------------------------------------------------------- fast path ---- */

    /*
     * The common receipt in one pass over the line, without simdjson (its On-Demand
     * walk cost about 22k instructions per generated receipt, the fast path a third of
     * that). It reads the same fields into the same places with the same checks
     * (time_text, date_text, rx_decimal's rules, the same limits), but gives up --
     * returns false, having reported nothing -- on anything it is not sure of: an
     * escape, a duplicate key, a nested value in a field we do not use, a null where a
     * value is required, any error. parse() then reads the line again with simdjson
     * from scratch, so every error and every rare form has one reader and one wording.
     * What it accepts, simdjson accepts with the same receipt: tests/test_json.c
     * ("fast_path_*") compares the two on every shape of generated receipt and on
     * thousands of mutated lines, and fuzz_receipt does so on every input.
     *
     * Every step takes the cursor and returns the cursor after what it read, or NULL:
     * the cursor stays in a register (a member would be reloaded after every store
     * through a char pointer). Value readers start on the value's first byte: spaces
     * are skipped by fch and by the containers before each key and value.
     */
    const char *fe = nullptr; /* end of the line */
    bool no_fast = false;     /* rx_set_fast(r, 0): simdjson only */

    /* A field name the fast path knows, and its length. */
    struct fkey {
        char s[16]; /* zero-padded: compared eight bytes at a time */
        uint32_t n;
    };
#define RX_FKEY(lit)                                                                               \
    fkey {                                                                                         \
        lit, sizeof lit - 1                                                                        \
    }

    RX_INLINE const char *fws(const char *p) const {
        /* *fe is readable (padding): the usual non-space byte costs one compare */
        while ((unsigned char)*p <= ' ' && p < fe && rx_space(*p))
            p++;
        return p;
    }

    /* The byte c (after spaces), or NULL. */
    RX_INLINE const char *fch(const char *p, char c) const {
        p = fws(p);
        return *p == c && p < fe ? p + 1 : nullptr;
    }

    /* A string without escapes or control characters (UTF-8 checked). */
    RX_INLINE const char *fstr(const char *p, promo_str *out) const {
        if (p >= fe || *p != '"') return nullptr;
        const char *s = ++p;
        for (;;) {
            p += rx_str_stop(p, (size_t)(fe - p));
            if (p >= fe) return nullptr;
            unsigned char c = (unsigned char)*p;
            if (c == '"') break;
            if (c < 0x80) return nullptr; /* '\\' or a control character */
            size_t u = rx_utf8_len((const unsigned char *)p, (const unsigned char *)fe);
            if (!u) return nullptr;
            p += u;
        }
        out->p = s;
        out->n = (uint32_t)(p - s);
        return p + 1;
    }

    /* The text of a number token (its syntax is rx_decimal's business). */
    const char *fnum(const char *p, std::string_view *t) const {
        const char *s = p;
        while (p < fe && ((*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '+' ||
                          *p == 'e' || *p == 'E'))
            p++;
        *t = std::string_view(s, (size_t)(p - s));
        return p > s ? p : nullptr;
    }

    /* A literal (true, false, null). */
    const char *flit(const char *p, const char *w, size_t n) const {
        return (size_t)(fe - p) >= n && !memcmp(p, w, n) ? p + n : nullptr;
    }
    RX_INLINE const char *fnull(const char *p) const {
        return p < fe && *p == 'n' ? flit(p, "null", 4) : nullptr;
    }
    const char *fbool(const char *p, int *out) const {
        const char *q;
        if ((q = flit(p, "true", 4))) return *out = 1, q;
        if ((q = flit(p, "false", 5))) return *out = 0, q;
        return nullptr;
    }

    /* A number as exact decimal with `scale` (0..3) places: [-]int[.frac] of at most
     * 15 digits directly (rx_decimal's own first case), anything else via rx_decimal. */
    RX_INLINE const char *fdec(const char *p, int scale, int64_t *out) const {
        static const uint64_t pow10[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
        const char *s = p, *e = fe;
        bool neg = s < e && *s == '-';
        s += neg;
        const char *i0 = s;
        uint64_t d = 0;
        while (s < e && (unsigned)(*s - '0') <= 9)
            d = d * 10 + (uint64_t)(*s++ - '0');
        size_t nint = (size_t)(s - i0), nfrac = 0;
        if (nint == 0 || (nint > 1 && *i0 == '0')) return nullptr; /* not JSON */
        if (s < e && *s == '.') {
            const char *f0 = ++s;
            while (s < e && (unsigned)(*s - '0') <= 9)
                d = d * 10 + (uint64_t)(*s++ - '0');
            nfrac = (size_t)(s - f0);
            if (nfrac == 0) return nullptr;
        }
        if ((s < e && (*s == 'e' || *s == 'E')) || nint + nfrac > 15 || nfrac > (size_t)scale + 6) {
            std::string_view t;
            p = fnum(p, &t);
            return p && rx_decimal(t.data(), t.size(), scale, out) == DEC_OK ? p : nullptr;
        }
        if (nfrac > (size_t)scale) {
            uint64_t q = pow10[nfrac - (size_t)scale];
            if (d % q) return nullptr;
            d /= q;
        } else {
            d *= pow10[(size_t)scale - nfrac];
        }
        *out = neg ? -(int64_t)d : (int64_t)d;
        return s;
    }

    /* A number token rx_decimal finds well-formed (any scale), as its text. */
    const char *fnumtext(const char *p, promo_str *out) const {
        std::string_view t;
        int64_t x;
        p = fnum(p, &t);
        if (!p || rx_decimal(t.data(), t.size(), 0, &x) == DEC_SYNTAX) return nullptr;
        *out = promo_str{t.data(), (uint32_t)t.size()};
        return p;
    }

    /* want_ident's forms: a string, or a number kept as its text. */
    const char *fident(const char *p, bool integer, promo_str *out) const {
        if (p < fe && *p == '"') return fstr(p, out);
        if (!(p = fnumtext(p, out))) return nullptr;
        if (integer)
            for (uint32_t i = 0; i < out->n; i++)
                if (out->p[i] < '0' || out->p[i] > '9') return nullptr;
        return p;
    }

    const char *fenum(const char *p, const char *const *names, int count, int *out) const {
        promo_str s{nullptr, 0};
        if (!(p = fstr(p, &s))) return nullptr;
        for (int i = 0; i < count; i++)
            if (eq(s, names[i])) return *out = i, p;
        return nullptr;
    }

    /* A value of a field we do not use: scalars only. */
    const char *fskip(const char *p) const {
        char c = p < fe ? *p : 0;
        promo_str s;
        int b;
        if (c == '"') return fstr(p, &s);
        if (c == 't' || c == 'f') return fbool(p, &b);
        if (c == 'n') return fnull(p);
        return fnumtext(p, &s);
    }

    /* k == f. Names are at most 15 bytes; k lies in the line, which is followed by
     * padding, so reading 16 bytes from k.p stays in bounds. */
    RX_INLINE static bool fkey_is(const promo_str &k, const fkey &f) {
        if (k.n != f.n) return false;
        uint64_t a, b;
        memcpy(&a, k.p, 8);
        memcpy(&b, f.s, 8);
        if (k.n < 8) return !((a ^ b) & ((1ull << (8 * k.n)) - 1));
        if (a != b) return false;
        if (k.n == 8) return true;
        memcpy(&a, k.p + 8, 8);
        memcpy(&b, f.s + 8, 8);
        return !((a ^ b) & ((1ull << (8 * (k.n - 8))) - 1));
    }

    /* The name f, quoted, at p (< fe)? Reads up to 17 bytes from p: within the padding. */
    RX_INLINE bool fkey_at(const char *p, const fkey &f) const {
        uint64_t a, b;
        memcpy(&a, p + 1, 8);
        memcpy(&b, f.s, 8);
        if (f.n < 8) {
            if ((a ^ b) & ((1ull << (8 * f.n)) - 1)) return false;
        } else {
            if (a != b) return false;
            memcpy(&a, p + 9, 8);
            memcpy(&b, f.s + 8, 8);
            if (f.n > 8 && ((a ^ b) & ((1ull << (8 * (f.n - 8))) - 1))) return false;
        }
        return p[1 + f.n] == '"' && p + 1 + f.n < fe;
    }

    /* Field name -> bit, for the duplicate check (unknown names share bit 0). Names
     * usually come in the table's order: the one after the last match is tried first. */
    RX_INLINE static uint32_t fkey_bit(const promo_str &k, const fkey *names, int count,
                                       int *hint) {
        if (*hint < count && fkey_is(k, names[*hint])) return 2u << (*hint)++;
        for (int i = 0; i < count; i++)
            if (fkey_is(k, names[i])) return *hint = i + 1, 2u << i;
        return 1;
    }

    /* {"k": v, ...}: fn(p, bit, name) reads each value (bit: fkey_bit of its name);
     * NULL on a duplicate known name. */
    template <class F> const char *fobject(const char *p, const fkey *names, int count, F &&fn) {
        if (!(p = fch(p, '{'))) return nullptr;
        p = fws(p);
        if (p < fe && *p == '}') return p + 1;
        uint32_t seen = 0;
        int hint = 0;
        for (;;) {
            promo_str k;
            uint32_t bit;
            if (hint < count && *p == '"' && fkey_at(p, names[hint])) {
                /* the expected name: no scan, no search */
                k = promo_str{p + 1, names[hint].n};
                p += names[hint].n + 2;
                bit = 2u << hint++;
            } else {
                if (!(p = fstr(p, &k))) return nullptr;
                bit = fkey_bit(k, names, count, &hint);
            }
            if (!(p = fch(p, ':'))) return nullptr;
            if (bit > 1 && (seen & bit)) return nullptr;
            seen |= bit;
            if (!(p = fn(fws(p), bit, k))) return nullptr;
            p = fws(p);
            if (p < fe && *p == ',') {
                p = fws(p + 1);
                continue;
            }
            return p < fe && *p == '}' ? p + 1 : nullptr;
        }
    }

    template <class F> const char *farray(const char *p, F &&fn) {
        if (!(p = fch(p, '['))) return nullptr;
        p = fws(p);
        if (p < fe && *p == ']') return p + 1;
        for (;;) {
            if (!(p = fn(p))) return nullptr;
            p = fws(p);
            if (p < fe && *p == ',') {
                p = fws(p + 1);
                continue;
            }
            return p < fe && *p == ']' ? p + 1 : nullptr;
        }
    }

    const char *fstrings(const char *p, rx_vec<promo_str> &out) {
        out.n = 0;
        const char *q = fnull(p);
        if (q) return q;
        return farray(p, [&](const char *c) -> const char * {
            promo_str s;
            if (out.n >= RX_MAX_ITEMS || !(c = fstr(c, &s))) return nullptr;
            promo_str *slot = out.push();
            return slot ? (*slot = s, c) : nullptr;
        });
    }

    const char *fattrs(const char *p, rx_vec<promo_kv> &out) {
        out.n = 0;
        const char *q = fnull(p);
        if (q) return q;
        return fobject(p, nullptr, 0,
                       [&](const char *c, uint32_t, const promo_str &k) -> const char * {
                           promo_kv kv{k, promo_str{nullptr, 0}};
                           c = fws(c);
                           char ch = c < fe ? *c : 0;
                           if (ch == 'n') return fnull(c); /* null values are left out */
                           if (ch == '"') {
                               c = fstr(c, &kv.value);
                           } else if (ch == 't' || ch == 'f') {
                               int b;
                               const char *s = c;
                               if ((c = fbool(c, &b))) kv.value = promo_str{s, (uint32_t)(c - s)};
                           } else {
                               c = fnumtext(c, &kv.value);
                           }
                           if (!c || out.n >= RX_MAX_ITEMS) return nullptr;
                           promo_kv *slot = out.push();
                           return slot ? (*slot = kv, c) : nullptr;
                       });
    }

    const char *fcustomer(const char *p) {
        /* in the order of SPEC 4's example (the usual one), as below */
        static const fkey keys[] = {RX_FKEY("id"),   RX_FKEY("card"),     RX_FKEY("segments"),
                                    RX_FKEY("tier"), RX_FKEY("birthday"), RX_FKEY("registered"),
                                    RX_FKEY("attrs")};
        cust = promo_customer{};
        cust.registered = -1;
        segments.n = cattrs.n = 0;
        const char *q = fnull(p);
        if (q) return q;
        rec.customer = &cust;
        return fobject(p, keys, 7, [&](const char *c, uint32_t bit, const promo_str &) {
            const char *n = fnull(c);
            switch (bit) {
            case 2 << 0: return n ? n : fident(c, false, &cust.id);
            case 2 << 1: return n ? n : fstr(c, &cust.card);
            case 2 << 3: return n ? n : fstr(c, &cust.tier);
            case 2 << 2: return fstrings(c, segments);
            case 2 << 4: {
                promo_str s;
                if (n) return n;
                if (!(c = fstr(c, &s)) || date_text(s, &cust.birthday))
                    return (const char *)nullptr;
                cust.has_birthday = 1;
                return c;
            }
            case 2 << 5: return n ? n : fbool(c, &cust.registered);
            case 2 << 6: return fattrs(c, cattrs);
            default: return fskip(c);
            }
        });
    }

    const char *fline(const char *p) {
        /* in the order of SPEC 4's example (the usual one) */
        static const fkey keys[] = {RX_FKEY("sku"), RX_FKEY("category"), RX_FKEY("brand"),
                                    RX_FKEY("qty"), RX_FKEY("price"),    RX_FKEY("excluded")};
        promo_line ln{};
        uint32_t seen = 0;
        p = fobject(p, keys, 6, [&](const char *c, uint32_t bit, const promo_str &) {
            seen |= bit;
            const char *n;
            switch (bit) {
            case 2 << 0: return fident(c, true, &ln.sku);
            case 2 << 1: return (n = fnull(c)) ? n : fstr(c, &ln.category);
            case 2 << 2: return (n = fnull(c)) ? n : fstr(c, &ln.brand);
            case 2 << 3:
                c = fdec(c, 3, &ln.qty);
                return c && ln.qty > 0 && ln.qty <= PROMO_MAX_QTY ? c : nullptr;
            case 2 << 4:
                c = fdec(c, 2, &ln.price);
                return c && ln.price >= 0 && ln.price <= PROMO_MAX_PRICE ? c : nullptr;
            case 2 << 5: return (n = fnull(c)) ? n : fbool(c, &ln.excluded);
            default: return fskip(c);
            }
        });
        const uint32_t need = 2 << 0 | 2 << 3 | 2 << 4; /* sku, qty, price */
        if (!p || (seen & need) != need || lines.n >= PROMO_MAX_LINES) return nullptr;
        promo_line *slot = lines.push();
        return slot ? (*slot = ln, p) : nullptr;
    }

    bool fast(const char *line, size_t n) {
        static const fkey keys[] = {RX_FKEY("id"),          RX_FKEY("store"), RX_FKEY("region"),
                                    RX_FKEY("channel"),     RX_FKEY("time"),  RX_FKEY("payment"),
                                    RX_FKEY("points_paid"), RX_FKEY("codes"), RX_FKEY("attrs"),
                                    RX_FKEY("customer"),    RX_FKEY("lines")};
        static const char *const channels[] = {"pos", "online"};
        static const char *const payments[] = {"cash", "card", "credit", "bonus", "mixed"};
        if (no_fast || n > ((size_t)1 << 30)) return false;
        fe = line + n;
        uint32_t seen = 0;
        const char *p =
            fobject(line, keys, 11, [&](const char *c, uint32_t bit, const promo_str &) {
                seen |= bit;
                const char *nl = fnull(c);
                switch (bit) {
                case 2 << 0: return fident(c, false, &id);
                case 2 << 1: return nl ? nl : fident(c, true, &rec.store);
                case 2 << 2: return nl ? nl : fstr(c, &rec.region);
                case 2 << 3: return nl ? nl : fenum(c, channels, 2, &rec.channel);
                case 2 << 7: return fstrings(c, codes);
                case 2 << 9: return fcustomer(c);
                case 2 << 4: {
                    promo_str s;
                    c = fstr(c, &s);
                    return c && !time_text(s, &rec.date, &rec.time) ? c : nullptr;
                }
                case 2 << 5: return nl ? nl : fenum(c, payments, 5, &rec.payment);
                case 2 << 6:
                    if (nl) return nl;
                    c = fdec(c, 2, &rec.points_paid);
                    return c && rec.points_paid >= 0 && rec.points_paid <= PROMO_MAX_MONEY
                               ? c
                               : nullptr;
                case 2 << 8: return fattrs(c, attrs);
                case 2 << 10:
                    lines.n = 0;
                    return farray(c, [&](const char *l) { return fline(l); });
                default: return fskip(c);
                }
            });
        const uint32_t need = 2 << 0 | 2 << 4 | 2 << 10; /* id, time, lines */
        if (!p || fws(p) != fe || (seen & need) != need) return false;
        has_id = true;
        return true;
    }

    /* After an error that came before `id`: a second, forgiving pass for the id. */
    void rescue_id(const char *buf, size_t cap) {
        od::document d;
        if (parser.iterate(buf, len, cap).get(d)) return;
        od::object o;
        if (d.get_object().get(o)) return;
        for (auto fr : o) {
            od::field f;
            if (std::move(fr).get(f)) return;
            if (!f.key().unsafe_is_equal("id")) continue;
            od::value x = f.value();
            std::string_view t = trim(x.raw_json_token());
            promo_str s{nullptr, 0};
            if (!t.empty() && t[0] == '"') {
                std::string_view u;
                if (x.get_string().get(u)) return;
                s.p = u.data();
                s.n = (uint32_t)u.size();
            } else {
                int64_t v;
                if (t.empty() || rx_decimal(t.data(), t.size(), 0, &v) == DEC_SYNTAX) return;
                s.p = t.data();
                s.n = (uint32_t)t.size();
            }
            id = s;
            has_id = true;
            return;
        }
    }

    /* Last resort for lines simdjson refuses whole (truncated, bad UTF-8 later on):
     * an `id` written first, as a string without escapes or a number. */
    void rescue_id_scan(const char *s) {
        size_t i = 0;
        auto ws = [&] {
            while (i < len && rx_space(s[i]))
                i++;
        };
        ws();
        if (i >= len || s[i++] != '{') return;
        ws();
        if (len - i < 4 || memcmp(s + i, "\"id\"", 4)) return;
        i += 4;
        ws();
        if (i >= len || s[i++] != ':') return;
        ws();
        size_t j = i;
        if (i < len && s[i] == '"') {
            for (j = ++i; j < len && s[j] != '"'; j++)
                if (s[j] == '\\' || (unsigned char)s[j] < 0x20 || (unsigned char)s[j] >= 0x80)
                    return;
            if (j >= len) return;
        } else {
            while (j < len && ((s[j] >= '0' && s[j] <= '9') || s[j] == '-'))
                j++;
            int64_t v;
            if (j == i || rx_decimal(s + i, j - i, 0, &v) != DEC_OK) return;
        }
        id = promo_str{s + i, (uint32_t)(j - i)};
        has_id = true;
    }

    promo_status parse(const char *line, size_t n) {
        failed = false;
        status = PROMO_OK;
        has_id = false;
        id = promo_str{nullptr, 0};
        rec = promo_receipt{};
        rec.size = sizeof rec;
        rec.channel = PROMO_CHANNEL_POS;
        rec.payment = PROMO_PAY_CARD;
        lines.n = codes.n = segments.n = attrs.n = cattrs.n = 0;
        len = n;

        size_t sp = 0;
        while (sp < n && rx_space(line[sp]))
            sp++;
        if (sp == n) {
            fail_plain(PROMO_EINPUT, "empty line");
            return status;
        }

        if (fast(line, n)) return finish();
        /* The fast path may have filled some of the receipt: start again. */
        has_id = false;
        id = promo_str{nullptr, 0};

        const char *buf = line;
        size_t cap = n + PROMO_JSON_PADDING;
        /* simdjson peeks at the first padding byte and, when it is '}', checks that the
         * document is balanced, which changes which error an unbalanced line gets.
         * Errors must not depend on what follows the line (the next line of a batch),
         * so such lines are parsed from a zero-padded copy. */
        if (!rx_in_place || line[n] == '}') {
            if (!copy_padded(line, n)) return status;
            buf = pad;
            cap = padcap;
        }
        base = buf;
        run(buf, n, cap);
        /* Same reason: an error is always reported as a zero-padded parse sees it. */
        if (failed && buf == line && status != PROMO_ENOMEM) {
            failed = false;
            if (!copy_padded(line, n)) return status;
            buf = base = pad;
            cap = padcap;
            run(buf, n, cap);
        }
        if (failed && !has_id && status != PROMO_ENOMEM) rescue_id(buf, cap);
        if (failed && !has_id && status != PROMO_ENOMEM) rescue_id_scan(buf);
        if (failed) return status;
        return finish();
    }

    bool copy_padded(const char *line, size_t n) {
        size_t need =
            n + (simdjson::SIMDJSON_PADDING > PROMO_JSON_PADDING ? simdjson::SIMDJSON_PADDING
                                                                 : PROMO_JSON_PADDING);
        if (need > padcap) {
            char *q = static_cast<char *>(pa_realloc(&alloc, pad, need));
            if (!q) return nomem();
            pad = q;
            padcap = need;
        }
        memcpy(pad, line, n);
        memset(pad + n, 0, padcap - n);
        return true;
    }

    void run(const char *buf, size_t n, size_t cap) {
        has_id = false;
        id = promo_str{nullptr, 0};
        rec = promo_receipt{};
        rec.size = sizeof rec;
        rec.channel = PROMO_CHANNEL_POS;
        rec.payment = PROMO_PAY_CARD;
        lines.n = codes.n = segments.n = attrs.n = cattrs.n = 0;
        od::document d;
        error_code e = parser.iterate(buf, n, cap).get(d);
        if (e) {
            fail_json_at(e, stage1_location(e));
        } else {
            doc = &d;
            want_receipt(d);
            doc = nullptr;
        }
    }

    promo_status finish() {
        rec.id = id;
        rec.codes = codes.p;
        rec.ncodes = codes.n;
        rec.attrs = attrs.p;
        rec.nattrs = attrs.n;
        rec.lines = lines.p;
        rec.nlines = lines.n;
        if (rec.customer) {
            cust.segments = segments.p;
            cust.nsegments = segments.n;
            cust.attrs = cattrs.p;
            cust.nattrs = cattrs.n;
        }
        return PROMO_OK;
    }
};

extern "C" rx_reader *rx_new(const promo_allocator *a) {
    a = pa_or_default(a);
    void *mem = pa_malloc(a, sizeof(rx_reader));
    if (!mem) return nullptr;
    try {
        return new (mem) rx_reader(a);
    } catch (...) {
        pa_free(a, mem);
        return nullptr;
    }
}

extern "C" void rx_free(rx_reader *r) {
    if (!r) return;
    promo_allocator a = r->alloc;
    r->~rx_reader();
    pa_free(&a, r);
}

extern "C" void rx_set_fast(rx_reader *r, int on) {
    if (r) r->no_fast = !on;
}

extern "C" promo_status rx_parse(rx_reader *r, const char *line, size_t len,
                                 const promo_receipt **out, promo_str *id, char *err,
                                 size_t errlen) {
    if (id) *id = promo_str{nullptr, 0};
    if (out) *out = nullptr;
    if (err && errlen) err[0] = 0;
    if (!r || (!line && len)) return PROMO_EARG;
    if (!line) line = "";
    r->err = err;
    r->errlen = errlen;
    promo_status st;
    try {
        st = r->parse(line, len);
    } catch (...) {
        if (err && errlen) snprintf(err, errlen, "out of memory");
        return PROMO_ENOMEM;
    }
    if (id && r->has_id) *id = r->id;
    if (st == PROMO_OK && out) *out = &r->rec;
    return st;
}
