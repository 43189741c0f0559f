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

/* Money/points as JSON text with exactly two decimals ("179.80", "-0.05") into
 * out[24]; returns the length. */
size_t out_money(int64_t kopecks, char out[24]);

#endif
