/*
 * fuzz_receipt.c — libFuzzer target for the JSON edges of the runtime: one input =
 * one JSON line -> receipt reader (rx_parse) -> when it parses, promo_eval + commit on
 * a small bundle compiled once from the embedded rules -> result writer; otherwise the
 * error-record writer. Nothing may crash, leak or read outside the line + padding.
 * Every input is also read by a second reader without the fast path (simdjson alone,
 * rx_set_fast): both must give the same status, error text, id and receipt.
 *
 *   cmake -S . -B build-fuzz -DPROMO_FUZZ=ON -DCMAKE_C_COMPILER=clang \
 *         -DCMAKE_CXX_COMPILER=clang++ && cmake --build build-fuzz --target fuzz_receipt
 *   ./build-fuzz/fuzz/fuzz_receipt -max_len=4096 corpus/
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile.h"
#include "promo.h"
#include "receipt_json.h"
#include "result_json.h"
#include "strbuf.h"

static const char fz_rules[] = "set dairy = category \"dairy\"\n"
                               "group discounts\n"
                               "campaign dairy_10 \"Dairy\" {\n"
                               "    priority 100\n"
                               "    group discounts\n"
                               "    when sum(lines where dairy) >= 5\n"
                               "    then discount 10% on lines where dairy\n"
                               "    limit 1 per customer per day\n"
                               "    budget 1000\n"
                               "}\n"
                               "campaign base_1 \"Points\" {\n"
                               "    priority 10\n"
                               "    then points 1% of paid expire in 90 days\n"
                               "}\n"
                               "campaign promo_code {\n"
                               "    priority 5\n"
                               "    code \"SUMMER\"\n"
                               "    hours 09:00 .. 18:00\n"
                               "    then coupon \"NEXT\"; message \"hi \\\"there\\\"\"\n"
                               "}\n";

static rx_reader *fz_rx, *fz_slow;
static promo_engine *fz_eng;
static promo_ctx *fz_ctx;
static char *fz_out;
static size_t fz_outcap = 1 << 16;

static void fz_init(void) {
    fz_rx = rx_new(NULL);
    fz_slow = rx_new(NULL);
    fz_out = malloc(fz_outcap);
    if (!fz_rx || !fz_slow || !fz_out) abort();
    rx_set_fast(fz_slow, 0);
    compilation c;
    compile_opts o = {INT32_MIN, 0};
    comp_init(&c, &o);
    comp_add_source(&c, "fuzz.rule", fz_rules, sizeof fz_rules - 1);
    strbuf bytes = STRBUF_INIT;
    if (comp_build(&c, &bytes) == 0) {
        promo_bundle *b = NULL;
        if (promo_bundle_load_memory(bytes.data, bytes.len, &b, NULL, 0) == PROMO_OK) {
            if (promo_engine_new(b, NULL, &fz_eng) == PROMO_OK)
                promo_ctx_new(fz_eng, PROMO_CTX_EXPLAIN, &fz_ctx);
            promo_bundle_release(b);
        }
    }
    sb_free(&bytes);
    comp_free(&c);
    if (!fz_ctx) fprintf(stderr, "fuzz_receipt: the embedded rules did not compile\n");
}

static int fz_str_eq(promo_str a, promo_str b) {
    return (a.p == NULL) == (b.p == NULL) && a.n == b.n && (!a.n || !memcmp(a.p, b.p, a.n));
}

static int fz_kvs_eq(const promo_kv *a, uint32_t na, const promo_kv *b, uint32_t nb) {
    if (na != nb) return 0;
    for (uint32_t i = 0; i < na; i++)
        if (!fz_str_eq(a[i].key, b[i].key) || !fz_str_eq(a[i].value, b[i].value)) return 0;
    return 1;
}

/* The two readers' receipts, field by field. */
static int fz_receipt_eq(const promo_receipt *a, const promo_receipt *b) {
    if (!fz_str_eq(a->id, b->id) || !fz_str_eq(a->store, b->store) ||
        !fz_str_eq(a->region, b->region) || a->channel != b->channel || a->payment != b->payment ||
        a->points_paid != b->points_paid || a->date != b->date || a->time != b->time ||
        a->ncodes != b->ncodes || a->nlines != b->nlines ||
        !fz_kvs_eq(a->attrs, a->nattrs, b->attrs, b->nattrs) ||
        (a->customer == NULL) != (b->customer == NULL))
        return 0;
    for (uint32_t i = 0; i < a->ncodes; i++)
        if (!fz_str_eq(a->codes[i], b->codes[i])) return 0;
    for (uint32_t i = 0; i < a->nlines; i++) {
        const promo_line *x = &a->lines[i], *y = &b->lines[i];
        if (!fz_str_eq(x->sku, y->sku) || !fz_str_eq(x->category, y->category) ||
            !fz_str_eq(x->brand, y->brand) || x->qty != y->qty || x->price != y->price ||
            x->excluded != y->excluded)
            return 0;
    }
    const promo_customer *c = a->customer, *d = b->customer;
    if (!c) return 1;
    if (!fz_str_eq(c->id, d->id) || !fz_str_eq(c->card, d->card) || !fz_str_eq(c->tier, d->tier) ||
        c->nsegments != d->nsegments || c->has_birthday != d->has_birthday ||
        (c->has_birthday && c->birthday != d->birthday) || c->registered != d->registered ||
        !fz_kvs_eq(c->attrs, c->nattrs, d->attrs, d->nattrs))
        return 0;
    for (uint32_t i = 0; i < c->nsegments; i++)
        if (!fz_str_eq(c->segments[i], d->segments[i])) return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!fz_rx) fz_init();
    /* Exactly the padding the contract promises, so ASan sees any over-read. */
    char *line = malloc(size + PROMO_JSON_PADDING);
    if (!line) return 0;
    memcpy(line, data, size);
    memset(line + size, size & 1 ? '}' : ' ', PROMO_JSON_PADDING);

    const promo_receipt *r = NULL;
    promo_str id;
    char err[256];
    promo_status st = rx_parse(fz_rx, line, size, &r, &id, err, sizeof err);
    {
        const promo_receipt *r2 = NULL;
        promo_str id2;
        char err2[256];
        promo_status st2 = rx_parse(fz_slow, line, size, &r2, &id2, err2, sizeof err2);
        if (st2 != st || strcmp(err, err2) || !fz_str_eq(id, id2) ||
            (st == PROMO_OK && !fz_receipt_eq(r, r2)))
            abort(); /* the fast path and simdjson disagree */
    }
    if (st != PROMO_OK) {
        if (!err[0]) abort(); /* every failure has a message */
        out_error_to_json(id, 1, err, fz_out, fz_outcap);
    } else if (fz_ctx) {
        const promo_result *res;
        if (promo_eval(fz_ctx, r, &res) == PROMO_OK) {
            promo_result_to_json(res, fz_out, fz_outcap);
            promo_commit(fz_ctx);
        }
    }
    free(line);
    return 0;
}
