/*
 * fuzz_bundle.c — libFuzzer target for the loader/verifier (runtime/bundle.c): any
 * bytes must be refused or accepted without reading out of bounds. Each input is tried
 * as given (mostly stopped by the checksum) and again with the header's file_size and
 * checksum fixed up, so the structural verifier sees the mutations. Whatever verifies
 * must also list with bundle_disasm.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "hash.h"
#include "strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
    promo_bundle_release(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_try(data, size);
    if (size < sizeof(pb_header)) return 0;
    uint8_t *m = malloc(size);
    memcpy(m, data, size);
    uint64_t fs = size;
    memcpy(m + offsetof(pb_header, file_size), &fs, 8);
    uint64_t sum = XXH3_64bits(m + sizeof(pb_header), size - sizeof(pb_header));
    memcpy(m + offsetof(pb_header, checksum), &sum, 8);
    fz_try(m, size);
    free(m);
    return 0;
}
