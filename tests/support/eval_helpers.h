/*
 * eval_helpers.h — test support for the evaluator (runtime/vm.c, stacking.c,
 * engine.c): compile rule text into a loaded bundle, build receipts in C, and look
 * up result entries by sku / campaign id.
 */
#ifndef PROMO_TEST_EVAL_HELPERS_H
#define PROMO_TEST_EVAL_HELPERS_H

#include <stdint.h>

#include "promo.h"

/* Compiles rule source text and loads it; NULL (diagnostics on stderr) on failure. */
promo_bundle *eh_compile(const char *src);

/* One engine + one ctx over a compiled source. */
typedef struct eh_env {
    promo_bundle *b;
    promo_engine *e;
    promo_ctx *c;
} eh_env;

/* Returns 0 on success. flags: PROMO_CTX_*. */
int eh_env_init(eh_env *env, const char *src, unsigned flags);
void eh_env_free(eh_env *env);

#define EH_MAX 64

/* A receipt built in C with storage for everything it points to. */
typedef struct eh_receipt {
    promo_receipt r;
    promo_line lines[EH_MAX];
    promo_customer cust;
    promo_str segs[EH_MAX], codes[EH_MAX];
    promo_kv attrs[EH_MAX], cattrs[EH_MAX];
} eh_receipt;

/* `when` is "YYYY-MM-DDTHH:MM" (local). Store "101", channel pos, payment card. */
void eh_receipt_init(eh_receipt *rc, const char *id, const char *when);
/* qty in thousandths, price in kopecks; category/brand may be NULL. Returns the index. */
uint32_t eh_line(eh_receipt *rc, const char *sku, const char *category, int64_t qty, int64_t price);
uint32_t eh_line_full(eh_receipt *rc, const char *sku, const char *category, const char *brand,
                      int64_t qty, int64_t price, int excluded);
void eh_customer(eh_receipt *rc, const char *id); /* id may be NULL: anonymous */
void eh_segment(eh_receipt *rc, const char *seg);
void eh_code(eh_receipt *rc, const char *code);
void eh_attr(eh_receipt *rc, const char *key, const char *value);
promo_str eh_str(const char *s);
int32_t eh_date(const char *ymd);
/* Removes an LMDB state store directory (data.mdb, lock.mdb, the directory). */
void eh_store_remove(const char *dir);

/* Result lookups. */
int64_t eh_line_discount(const promo_result *res, uint32_t line);
/* Discount on a line by the campaign with id `cid` (0 when none). */
int64_t eh_by(const promo_result *res, uint32_t line, const char *cid);
/* Sum of points of campaign `cid`. */
int64_t eh_points(const promo_result *res, const char *cid);
/* Position of `cid` in applied[], or -1. */
int eh_applied(const promo_result *res, const char *cid);
/* The explain entry of `cid`, or NULL. */
const promo_explain *eh_explain(const promo_result *res, const char *cid);
/* Text of the idx-th coupon / message. */
const char *eh_coupon(const promo_result *res, uint32_t idx);
const char *eh_message(const promo_result *res, uint32_t idx);

#endif
