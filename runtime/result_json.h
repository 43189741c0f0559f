/*
 * result_json.h — the result writer (runtime stage "output"): SPEC 4 result records
 * and error records as JSON text, hand-formatted into caller buffers (no stdio, no
 * allocation). promo_result_to_json (promo.h) is the public entry; this internal header
 * adds the error record used by `promo run` and the helpers the tests pin down.
 */
#ifndef PROMO_RESULT_JSON_H
#define PROMO_RESULT_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "promo.h"

/*
 * Writes {"id":"r1","error":"line 17: lines[2].price: expected a number"} (no newline)
 * into buf. `id` absent (p NULL) gives "id":null; lineno 0 leaves out the "line N: "
 * prefix. Returns the length needed (excluding the NUL); when it is >= cap nothing
 * useful was written (as promo_result_to_json).
 */
size_t out_error_to_json(promo_str id, uint64_t lineno, const char *msg, char *buf, size_t cap);

/* s[0..n) as a quoted JSON string (the escapes of the result records) into buf, NUL-ended;
 * returns the length needed (excluding the NUL); >= cap: nothing useful was written. */
size_t out_json_str(const char *s, size_t n, char *buf, size_t cap);

/*
 * The packed form of a result record (the journal's stored result, runtime/ops.c): the
 * record's text with each of these fixed pieces (keys and punctuation of docs/io.md's
 * record) replaced by one byte, its number + 1 (1..28). The writer never emits a byte
 * below 0x20 otherwise (control characters are escaped in JSON strings), so unpacking
 * is a byte-to-text table. THE ORDER IS A STORED FORMAT: never reorder, only append
 * (below OUT_PK_ESC).
 */
#define OUT_PIECES(X)                                                                              \
    X(CAMP0, "{\"campaign\":\"")                                                                   \
    X(ID, "{\"id\":")                                                                              \
    X(LINES, ",\"lines\":[{\"n\":")                                                                \
    X(DISCOUNT, ",\"discount\":")                                                                  \
    X(APPLIED, ",\"applied\":[\"")                                                                 \
    X(ACTIVATE, ",\"activate\":\"")                                                                \
    X(EXPLAIN, ",\"explain\":[")                                                                   \
    X(AMOUNT, ",\"amount\":")                                                                      \
    X(TOTAL, ",\"total\":")                                                                        \
    X(FINAL, ",\"final\":")                                                                        \
    X(BY, ",\"by\":{\"")                                                                           \
    X(BY0, ",\"by\":{}")                                                                           \
    X(CAMPN, "},{\"campaign\":\"")                                                                 \
    X(LINEN, "},{\"n\":")                                                                          \
    X(CLOSE, "}]")                                                                                 \
    X(EXPNULL, "\",\"expire\":null}")                                                              \
    X(EXPIRE, "\",\"expire\":\"")                                                                  \
    X(POINTS, "\",\"points\":")                                                                    \
    X(QCQ, "\",\"")                                                                                \
    X(QB, "\"]")                                                                                   \
    X(QBR, "\"}")                                                                                  \
    X(QC, "\":")                                                                                   \
    X(SPEND, "],\"spend_limit\":")                                                                 \
    X(MESSAGES, "],\"messages\":[")                                                                \
    X(COUPONS, "],\"coupons\":[")                                                                  \
    X(POINTSL, "],\"points\":[")                                                                   \
    X(CENTS0, ".00")                                                                               \
    X(NULL, "null")

enum {
#define X(name, text) OUT_PK_##name,
    OUT_PIECES(X)
#undef X
        OUT_PK_COUNT
};
#define OUT_PK_ESC 0x1f /* a byte below 0x20 kept as it is follows this one */
#define OUT_PK_MAX 16   /* the longest piece */

/* The piece of packed byte c (1..OUT_PK_COUNT). */
extern const struct out_piece {
    const char *s;
    size_t n;
} out_pieces[OUT_PK_COUNT];

/* The result record of res in packed form into buf (as promo_result_to_json: returns
 * the length needed, excluding the NUL; >= cap: nothing useful was written). Unpacked
 * (out_unpack) it is promo_result_to_json's text byte for byte. */
size_t out_result_packed(const promo_result *res, char *buf, size_t cap);

/* Unpacks p[0, n) into out, which has room for OUT_PK_MAX * n bytes; returns the length
 * written (no NUL). */
size_t out_unpack(const char *p, size_t n, char *out);

/* Money/points as JSON text with exactly two decimals ("179.80", "-0.05") into
 * out[24]; returns the length. */
size_t out_money(int64_t kopecks, char out[24]);

#endif
