/*
 * keys.h — what routing and deduplication need from an operation line (SPEC 7, 8):
 * id, op, refund_id and customer.id, read with simdjson without parsing the receipt.
 */
#ifndef PROMO_NODE_KEYS_H
#define PROMO_NODE_KEYS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nk_keys {
    char id[256]; /* "" when absent or not a string */
    char op[16];  /* "confirm" when absent */
    char refund_id[256];
    char customer[256]; /* customer.id; "" when anonymous */
} nk_keys;

/* 0 on success; -1 when the line is not a JSON object (keys then hold what was read).
 * `line` must be followed by at least 64 readable bytes (PROMO_JSON_PADDING). */
int nk_read(const char *line, size_t len, nk_keys *k);

/* The dedup key "(id, op, refund_id)" as a NATS message id: "<op>|<refund_id>|<id>". */
void nk_msgid(const nk_keys *k, char *buf, size_t cap);

/* The routing key: customer id, or the receipt id when anonymous. */
const char *nk_route(const nk_keys *k);

#ifdef __cplusplus
}
#endif
#endif
