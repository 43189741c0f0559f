/*
 * receipt_json.h — the receipt reader (runtime stage "input"): one JSON line of SPEC 4
 * -> a promo_receipt, through simdjson's On-Demand parser. Internal to libpromo; the
 * public entry is promo_receipt_parse_json (the ctx owns one reader), and `promo run`,
 * the tests and the fuzzers also use it directly.
 *
 * The receipt's strings point into the input line (or, for strings with escapes, into
 * the parser's own string buffer); its arrays live in buffers of the reader that are
 * reused: after warm-up a parse allocates nothing. Everything stays valid until the
 * next rx_parse on the same reader or rx_free, and the line must not change meanwhile.
 *
 * Numbers are read from their text, never through a double: money (price, points_paid)
 * -> kopecks, quantities -> thousandths. docs/io.md lists every rule and error text.
 */
#ifndef PROMO_RECEIPT_JSON_H
#define PROMO_RECEIPT_JSON_H

#include <stddef.h>

#include "promo.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rx_reader rx_reader;

/* NULL on out-of-memory. */
rx_reader *rx_new(const promo_allocator *a); /* a NULL: libc */
void rx_free(rx_reader *r);                  /* NULL is ignored */

/*
 * Parses one receipt. `line` (len bytes, no newline needed) must be followed by at least
 * PROMO_JSON_PADDING readable bytes, whose content is ignored.
 *
 * PROMO_OK: *out is the receipt. PROMO_EINPUT (malformed) or PROMO_ELIMIT (too many
 * lines or entries): err receives the SPEC error text without a "line N: " prefix,
 * e.g. "lines[2].price: expected a number". PROMO_ENOMEM: out of memory.
 * In every case *id is the receipt's id when it could be read ({NULL, 0} otherwise).
 * id, err may be NULL.
 */
promo_status rx_parse(rx_reader *r, const char *line, size_t len, const promo_receipt **out,
                      promo_str *id, char *err, size_t errlen);

/* Tests: on = 0 reads every line with simdjson alone, without the fast path for the
 * common receipt (receipt_json.cc); both must give the same receipt or error. */
void rx_set_fast(rx_reader *r, int on);

/* Limits applied by the reader (docs/io.md): the engine's (PROMO_MAX_* in promo.h), and
 * as many codes, segments and attrs per receipt as lines. */
#define RX_MAX_ITEMS PROMO_MAX_LINES
#define RX_MAX_DEPTH 64 /* nesting of arrays and objects in a line */

#ifdef __cplusplus
}
#endif
#endif
