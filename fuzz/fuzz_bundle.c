/*
 * fuzz_bundle.c — libFuzzer target for the loader/verifier (runtime/bundle.c): any
 * bytes must be refused or accepted without reading out of bounds. Each input is tried
 * as given (mostly stopped by the checksum) and again with the header's file_size and
 * checksum fixed up, so the structural verifier sees the mutations. Whatever verifies
 * must also list with bundle_disasm, get its prefilter index built (runtime/prefilter.c
 * and need.c analyse every block) and evaluate a few fixed receipts, with and without
 * explain, without crashing.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "bundle_sum.h"
#include "disasm.h"
#include "hash.h"
#include "promo.h"
#include "strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_S(lit) ((promo_str){lit, sizeof lit - 1})

/* Two receipts touching most facts: categories with prefixes, brands, SKUs, a weight
 * line, an excluded line, codes, attributes, a customer with id and segments. */
static void fz_eval(promo_bundle *b) {
    static const promo_line lines[] = {
        {FZ_S("101"), FZ_S("dairy/milk"), FZ_S("Prost"), 2000, 9990, 0},
        {FZ_S("105"), FZ_S("bakery"), FZ_S("Hleb"), 1000, 5000, 0},
        {FZ_S("110"), FZ_S("fruit/apples/red"), {NULL, 0}, 1234, 12990, 0},
        {FZ_S("109"), FZ_S("tobacco"), FZ_S("Smoke"), 1000, 49950, 1},
    };
    static const promo_str codes[] = {FZ_S("SUMMER")}, segs[] = {FZ_S("student")};
    static const promo_kv attrs[] = {{FZ_S("weather"), FZ_S("rain")}};
    static const promo_customer cu = {
        FZ_S("c1"), FZ_S("gold_card"), FZ_S("gold"), segs, 1, 1, 10000, -1, attrs, 1};
    promo_receipt r[2] = {
        {sizeof(promo_receipt), FZ_S("r1"), FZ_S("101"), FZ_S("msk"), 0, 1, 1000, 20609, 36000,
         codes, 1, attrs, 1, &cu, lines, 4},
        {sizeof(promo_receipt),
         FZ_S("r2"),
         FZ_S("s5"),
         {NULL, 0},
         1,
         0,
         0,
         20891,
         82800,
         NULL,
         0,
         NULL,
         0,
         NULL,
         lines,
         2},
    };
    promo_engine *e = NULL;
    if (promo_engine_new(b, NULL, &e) != PROMO_OK) return;
    for (unsigned flags = 0; flags <= PROMO_CTX_EXPLAIN; flags += PROMO_CTX_EXPLAIN) {
        promo_ctx *c = NULL;
        if (promo_ctx_new(e, flags, &c) != PROMO_OK) continue;
        for (int k = 0; k < 4; k++) {
            const promo_result *res;
            (void)promo_process(c, &r[k % 2], &res);
        }
        promo_ctx_free(c);
    }
    promo_engine_free(e);
}

static void fz_try(const uint8_t *data, size_t size) {
    promo_bundle *b = NULL;
    char err[256];
    if (promo_bundle_load_memory(data, size, &b, err, sizeof err) != PROMO_OK) {
        if (b || !memchr(err, 0, sizeof err)) abort();
        return;
    }
    strbuf d = STRBUF_INIT;
    bundle_disasm(b, &d);
    sb_free(&d);
    fz_eval(b);
    promo_bundle_release(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_try(data, size);
    if (size < sizeof(pb_header)) return 0;
    uint8_t *m = malloc(size);
    memcpy(m, data, size);
    uint64_t fs = size;
    memcpy(m + offsetof(pb_header, file_size), &fs, 8);
    uint64_t sum = pb_checksum(m, size);
    memcpy(m + offsetof(pb_header, checksum), &sum, 8);
    fz_try(m, size);
    free(m);
    return 0;
}
