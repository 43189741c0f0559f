/*
 * hash.h — the string hashing shared by the compiler (set slots, constants) and the
 * runtime (receipt facts): XXH3-64, with 0 reserved for "absent" (a string hashing
 * to 0 is mapped to 1). Two different strings collide with probability 2^-64.
 */
#ifndef PROMO_HASH_H
#define PROMO_HASH_H

#include <stddef.h>
#include <stdint.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

static inline uint64_t promo_hash(const void *p, size_t n) {
    uint64_t h = XXH3_64bits(p, n);
    return h ? h : 1;
}

/* Hash of a number, for number sets (stores by number, quantities). */
static inline uint64_t promo_hash_i64(int64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)v >> (8 * i));
    return promo_hash(b, 8);
}

#endif
