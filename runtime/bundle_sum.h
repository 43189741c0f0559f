/*
 * bundle_sum.h — the checksum of a bundle file (docs/bytecode.md), shared by the writer,
 * the loader, the tests and the fuzzers: XXH3-64 of every byte after the header, seeded
 * with XXH3-64 of the header whose checksum field reads as zero. So every byte of the
 * file is covered, the header's own fields (section count, flags, source hash) included.
 */
#ifndef PROMO_BUNDLE_SUM_H
#define PROMO_BUNDLE_SUM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bundle_format.h"
#include "hash.h"

/* `file` holds `size` >= sizeof(pb_header) bytes. */
static inline uint64_t pb_checksum(const void *file, size_t size) {
    pb_header h;
    memcpy(&h, file, sizeof h);
    h.checksum = 0;
    return XXH3_64bits_withSeed((const unsigned char *)file + sizeof h, size - sizeof h,
                                XXH3_64bits(&h, sizeof h));
}

#endif
