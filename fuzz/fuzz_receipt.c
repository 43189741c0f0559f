/*
 * fuzz_receipt.c — libFuzzer target for the JSON edges of the runtime: one input =
 * one JSON line -> receipt reader (rx_parse) -> when it parses, promo_eval + commit on
 * a small bundle compiled once from the embedded rules -> result writer; otherwise the
 * error-record writer. Nothing may crash, leak or read outside the line + padding.
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

static rx_reader *fz_rx;
static promo_engine *fz_eng;
static promo_ctx *fz_ctx;
static char *fz_out;
static size_t fz_outcap = 1 << 16;

static void fz_init(void) {
    fz_rx = rx_new(NULL);
    fz_out = malloc(fz_outcap);
    if (!fz_rx || !fz_out) abort();
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
