/*
 * randset.h — seeded, deterministic random campaign sets (.rule source text) and
 * receipts (promo_receipt structs) for the differential test (tests only). Value
 * domains are small on purpose, so that conditions are often true and campaigns
 * interact: shared lines, equal priorities, groups, limits, budgets.
 */
#ifndef PROMO_RANDSET_H
#define PROMO_RANDSET_H

#include <stddef.h>
#include <stdint.h>

#include "promo.h"
#include "strbuf.h"

#define RS_MAX_LINES 12

typedef struct rs_rng {
    uint64_t s;
} rs_rng;

void rs_seed(rs_rng *g, uint64_t seed);
uint64_t rs_next(rs_rng *g);
/* Uniform in [0, n). */
uint32_t rs_below(rs_rng *g, uint32_t n);

/* A receipt and the storage behind its pointers (never copy one: it points into
 * itself). */
typedef struct rs_receipt {
    promo_receipt r;
    promo_customer cust;
    promo_line lines[RS_MAX_LINES];
    promo_str codes[2];
    promo_kv attrs[2];
    promo_str segs[2];
    promo_kv cattrs[1];
    char id[24];
} rs_receipt;

/* The source text of a random campaign set (malloc'd). It may not compile: a few
 * combinations are rejected by the checks on purpose (see rs_valid_source). */
char *rs_source(uint64_t seed);
/* The first of rs_source(seed * 64 + k), k = 0, 1, ... that passes comp_check
 * without errors; NULL after 64 tries. *tries (if not NULL) gets the count. */
char *rs_valid_source(uint64_t seed, unsigned *tries);

/* n receipts (malloc'd array; free with free()). Customers repeat across the
 * sequence so that per-customer limits and history matter. */
rs_receipt *rs_receipts(uint64_t seed, size_t n);

/* A set where every campaign keeps per-customer state: limits per day / week / month /
 * life, history conditions (visits, sums, counts over 1-30 days) and budgets, partial
 * or not (always compiles). */
char *rs_stateful_source(uint64_t seed);
/* n receipts of a few customers walking through calendar corners (an ISO week across
 * a year end, 29 February, month ends), a day or two apart, sometimes the same day or
 * one day back; never empty. */
rs_receipt *rs_stateful_receipts(uint64_t seed, size_t n);

/* SPEC-4 JSON of a receipt (for failure reports). */
void rs_receipt_json(const promo_receipt *r, strbuf *out);

#endif
