/*
 * ops_json.c — the operation of one input line (runtime stage "input", SPEC 7.1):
 * its "op" field, and for cancel / return the whole line ({"op":"return","id":...,
 * "refund_id":...,"lines":[{"n":0,"qty":1}]}), read by a small scanner of its own (a
 * return line is not a receipt: its lines have no sku or price). Calculate and confirm
 * lines are receipts and go to the receipt reader.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "alloc.h"
#include "engine_int.h"
#include "ops.h"

typedef struct oj {
    const char *p, *end;
    char *err;
    size_t errlen;
    int depth;
} oj;

static void oj_ws(oj *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' || *j->p == '\n'))
        j->p++;
}

static int oj_fail(oj *j, const char *path, const char *msg) {
    snprintf(j->err, j->errlen, "%s: %s", path, msg);
    return -1;
}

/* A string without its quotes: the raw text (escapes kept as they are; *esc set). */
static int oj_string(oj *j, promo_str *out, int *esc) {
    if (j->p >= j->end || *j->p != '"') return -1;
    const char *s = ++j->p;
    *esc = 0;
    while (j->p < j->end && *j->p != '"') {
        if ((unsigned char)*j->p < 0x20) return -1;
        if (*j->p == '\\') {
            *esc = 1;
            j->p++;
        }
        j->p++;
    }
    if (j->p >= j->end) return -1;
    if ((size_t)(j->p - s) > UINT32_MAX) return -1;
    *out = (promo_str){s, (uint32_t)(j->p - s)};
    j->p++;
    return 0;
}

static int oj_number(oj *j, promo_str *out) {
    const char *s = j->p;
    if (j->p < j->end && *j->p == '-') j->p++;
    while (j->p < j->end && ((*j->p >= '0' && *j->p <= '9') || *j->p == '.' || *j->p == 'e' ||
                             *j->p == 'E' || *j->p == '+' || *j->p == '-'))
        j->p++;
    if (j->p == s) return -1;
    *out = (promo_str){s, (uint32_t)(j->p - s)};
    return 0;
}

static int oj_skip(oj *j) {
    oj_ws(j);
    if (j->p >= j->end) return -1;
    if (++j->depth > 64) return -1;
    char c = *j->p;
    int r = 0;
    promo_str t;
    int esc;
    if (c == '"') {
        r = oj_string(j, &t, &esc);
    } else if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        j->p++;
        oj_ws(j);
        if (j->p < j->end && *j->p == close) {
            j->p++;
        } else {
            for (;;) {
                if (c == '{') {
                    oj_ws(j);
                    if (oj_string(j, &t, &esc)) return -1;
                    oj_ws(j);
                    if (j->p >= j->end || *j->p++ != ':') return -1;
                }
                if (oj_skip(j)) return -1;
                oj_ws(j);
                if (j->p >= j->end) return -1;
                if (*j->p == ',') {
                    j->p++;
                    continue;
                }
                if (*j->p++ != close) return -1;
                break;
            }
        }
    } else if (c == 't' || c == 'f' || c == 'n') {
        size_t n = c == 'f' ? 5 : 4;
        if ((size_t)(j->end - j->p) < n || memcmp(j->p,
                                                  c == 't'   ? "true"
                                                  : c == 'f' ? "false"
                                                             : "null",
                                                  n))
            return -1;
        j->p += n;
    } else {
        r = oj_number(j, &t);
    }
    j->depth--;
    return r;
}

/* A quantity: digits with at most 3 decimals -> thousandths. */
static int oj_qty(promo_str t, int64_t *out) {
    int64_t v = 0;
    uint32_t i = 0, frac = 0, seen = 0;
    for (; i < t.n && t.p[i] >= '0' && t.p[i] <= '9'; i++, seen++) {
        if (v > 1000000000) return -1;
        v = v * 10 + (t.p[i] - '0');
    }
    v *= 1000;
    if (i < t.n && t.p[i] == '.') {
        int64_t scale = 100;
        for (i++; i < t.n && t.p[i] >= '0' && t.p[i] <= '9'; i++, frac++) {
            if (frac >= 3) {
                if (t.p[i] != '0') return -1;
                continue;
            }
            v += (t.p[i] - '0') * scale;
            scale /= 10;
        }
        if (!frac) return -1;
    }
    if (i != t.n || !seen) return -1;
    *out = v;
    return 0;
}

/* An id: a string (escapes are refused here) or a number's text. */
static int oj_ident(oj *j, const char *path, promo_str *out) {
    oj_ws(j);
    int esc = 0;
    if (j->p < j->end && *j->p == '"') {
        if (oj_string(j, out, &esc)) return oj_fail(j, path, "expected a string");
        if (esc) return oj_fail(j, path, "escapes are not supported in an operation's ids");
        return 0;
    }
    if (oj_number(j, out)) return oj_fail(j, path, "expected a string");
    return 0;
}

static int oj_lines(oj *j, struct ops_json_buf *b);

struct ops_json_buf {
    promo_return_line *l;
    uint32_t n, cap;
    const promo_allocator *a; /* the engine's */
    int nomem;                /* the last parse ran out of memory */
};

static int oj_lines(oj *j, struct ops_json_buf *b) {
    char path[48];
    oj_ws(j);
    if (j->p >= j->end || *j->p++ != '[') return oj_fail(j, "lines", "expected an array");
    oj_ws(j);
    if (j->p < j->end && *j->p == ']') {
        j->p++;
        return 0;
    }
    for (;;) {
        if (b->n >= PROMO_MAX_LINES) return oj_fail(j, "lines", "too many entries");
        if (b->n == b->cap) {
            uint32_t nc = b->cap ? b->cap * 2 : 16;
            promo_return_line *t = pa_realloc(b->a, b->l, nc * sizeof *t);
            if (!t) {
                b->nomem = 1;
                return oj_fail(j, "lines", "out of memory");
            }
            b->l = t;
            b->cap = nc;
        }
        promo_return_line *rl = &b->l[b->n];
        int has_n = 0, has_q = 0;
        oj_ws(j);
        snprintf(path, sizeof path, "lines[%u]", b->n);
        if (j->p >= j->end || *j->p++ != '{') return oj_fail(j, path, "expected an object");
        oj_ws(j);
        if (j->p < j->end && *j->p == '}') {
            j->p++;
        } else {
            for (;;) {
                promo_str k, t;
                int esc;
                oj_ws(j);
                if (oj_string(j, &k, &esc)) return oj_fail(j, path, "expected a field name");
                oj_ws(j);
                if (j->p >= j->end || *j->p++ != ':') return oj_fail(j, path, "expected ':'");
                oj_ws(j);
                if (k.n == 1 && k.p[0] == 'n') {
                    int64_t v;
                    snprintf(path, sizeof path, "lines[%u].n", b->n);
                    if (oj_number(j, &t) || oj_qty(t, &v) || v % 1000)
                        return oj_fail(j, path, "expected a line number");
                    rl->n = (uint32_t)(v / 1000);
                    has_n = 1;
                } else if (k.n == 3 && !memcmp(k.p, "qty", 3)) {
                    snprintf(path, sizeof path, "lines[%u].qty", b->n);
                    if (oj_number(j, &t) || oj_qty(t, &rl->qty) || rl->qty <= 0)
                        return oj_fail(j, path, "expected a positive quantity");
                    has_q = 1;
                } else if (oj_skip(j)) {
                    return oj_fail(j, path, "malformed value");
                }
                oj_ws(j);
                if (j->p < j->end && *j->p == ',') {
                    j->p++;
                    continue;
                }
                if (j->p >= j->end || *j->p++ != '}') return oj_fail(j, path, "expected '}'");
                break;
            }
        }
        snprintf(path, sizeof path, "lines[%u].%s", b->n, has_n ? "qty" : "n");
        if (!has_n || !has_q) return oj_fail(j, path, "missing");
        b->n++;
        oj_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p >= j->end || *j->p++ != ']') return oj_fail(j, "lines", "expected ']'");
        return 0;
    }
}

/* Reads the top level: op, id, refund_id, lines (the latter only for cancel/return). */
static int oj_top(oj *j, promo_op *op, struct ops_json_buf *b, int full, int *has_op) {
    oj_ws(j);
    if (j->p >= j->end || *j->p++ != '{') return oj_fail(j, "line", "expected an object");
    oj_ws(j);
    if (j->p < j->end && *j->p == '}') return 0;
    for (;;) {
        promo_str k, t;
        int esc;
        oj_ws(j);
        if (oj_string(j, &k, &esc)) return oj_fail(j, "line", "expected a field name");
        oj_ws(j);
        if (j->p >= j->end || *j->p++ != ':') return oj_fail(j, "line", "expected ':'");
        oj_ws(j);
        if (k.n == 2 && !memcmp(k.p, "op", 2)) {
            if (oj_string(j, &t, &esc)) return oj_fail(j, "op", "expected a string");
            static const char *const names[] = {"confirm", "calculate", "cancel", "return"};
            op->op = -1;
            for (int i = 0; i < 4; i++)
                if (t.n == strlen(names[i]) && !memcmp(t.p, names[i], t.n)) op->op = i;
            if (op->op < 0) return oj_fail(j, "op", "unknown operation");
            *has_op = 1;
        } else if (full && k.n == 2 && !memcmp(k.p, "id", 2)) {
            if (oj_ident(j, "id", &op->id)) return -1;
        } else if (full && k.n == 9 && !memcmp(k.p, "refund_id", 9)) {
            if (oj_ident(j, "refund_id", &op->refund_id)) return -1;
        } else if (full && k.n == 5 && !memcmp(k.p, "lines", 5)) {
            if (oj_lines(j, b)) return -1;
        } else if (oj_skip(j)) {
            return oj_fail(j, "line", "malformed JSON");
        }
        oj_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p >= j->end || *j->p++ != '}') return oj_fail(j, "line", "malformed JSON");
        return 0;
    }
}

/* 1 when the four bytes "op" (quotes included) occur in line[0 .. len). 16 positions
 * per step with SSE2: a memchr per 'p' (category paths are full of them) cost more. The
 * line is followed by PROMO_JSON_PADDING readable bytes, so loads may pass its end;
 * matches past it are not counted. */
static int oj_has_op(const char *line, size_t len) {
    size_t i = 0;
#if defined(__SSE2__)
    const __m128i q = _mm_set1_epi8('"'), o = _mm_set1_epi8('o'), p = _mm_set1_epi8('p');
    for (; i + 3 < len; i += 16) {
        const char *s = line + i;
        __m128i m = _mm_and_si128(
            _mm_and_si128(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)s), q),
                          _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(s + 1)), o)),
            _mm_and_si128(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(s + 2)), p),
                          _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(s + 3)), q)));
        unsigned bits = (unsigned)_mm_movemask_epi8(m);
        if (bits) return i + (size_t)__builtin_ctz(bits) + 3 < len;
    }
    return 0;
#else
    for (; i + 3 < len; i++)
        if (!memcmp(line + i, "\"op\"", 4)) return 1;
    return 0;
#endif
}

/* The ctx keeps the return lines of the last parse. */
struct ops_json_buf *ops_json_buf_of(promo_ctx *c);

promo_status promo_op_parse_json(promo_ctx *c, const char *line, size_t len, promo_op *op,
                                 promo_str *out_id) {
    if (!c) return PROMO_EARG;
    if (out_id) *out_id = (promo_str){NULL, 0};
    if (!line || !op) return eng_err(c, PROMO_EARG, "line and op must not be NULL");
    promo_op_init(op);
    /* Most lines are receipts without "op": no second scan of them. */
    int maybe = oj_has_op(line, len); /* the text "op" (quoted) somewhere */
    char err[160] = "";
    int has_op = 0;
    if (maybe) {
        oj j = {line, line + len, err, sizeof err, 0};
        struct ops_json_buf nb = {0}; /* full = 0: no lines are read into it */
        if (oj_top(&j, op, &nb, 0, &has_op)) {
            if (!err[0]) snprintf(err, sizeof err, "line: malformed JSON");
            /* a receipt error message is better when it is one */
            promo_status st = promo_receipt_parse_json(c, line, len, &op->receipt, out_id);
            if (st != PROMO_OK) return st;
            return eng_err(c, PROMO_EINPUT, err);
        }
    }
    if (has_op) op->flags |= PROMO_OPF_ECHO_OP;
    if (op->op == PROMO_OP_CANCEL || op->op == PROMO_OP_RETURN) {
        struct ops_json_buf *b = ops_json_buf_of(c);
        if (!b) return eng_err(c, PROMO_ENOMEM, NULL);
        b->n = 0;
        b->nomem = 0;
        int kind = op->op;
        unsigned flags = op->flags;
        promo_op_init(op);
        op->op = kind;
        op->flags = flags;
        oj j = {line, line + len, err, sizeof err, 0};
        int dummy;
        if (oj_top(&j, op, b, 1, &dummy)) {
            if (out_id) *out_id = op->id;
            if (b->nomem) return eng_err(c, PROMO_ENOMEM, NULL);
            return eng_err(c, PROMO_EINPUT, err[0] ? err : "line: malformed JSON");
        }
        if (out_id) *out_id = op->id;
        op->lines = b->l;
        op->nlines = b->n;
        return PROMO_OK;
    }
    promo_status st = promo_receipt_parse_json(c, line, len, &op->receipt, out_id);
    return st;
}

/* ---------------------------------------------------------------- buffers ---- */

struct ops_json_buf *ops_json_buf_of(promo_ctx *c) {
    if (!c->opsjson && (c->opsjson = pa_calloc(&c->e->alloc, 1, sizeof *c->opsjson)))
        c->opsjson->a = &c->e->alloc;
    return c->opsjson;
}

void ops_json_free(struct ops_json_buf *b) {
    if (!b) return;
    pa_free(b->a, b->l);
    pa_free(b->a, b);
}
