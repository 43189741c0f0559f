/*
 * arena.h — a bump allocator over a few chunks from the embedder's allocator, reset as
 * a whole (SQLite's lookaside, Lua's per-state buffers): a promo_ctx keeps one for the
 * arrays of one receipt, reset when the next evaluation starts, and one for the arrays
 * sized by the bundle generation, reset when the generation changes. A reset that saw
 * several chunks merges them into one as large as the most the arena ever held, so an
 * evaluation that needs no more than an earlier one allocates nothing.
 *
 * Each block remembers its capacity (arena_cap), so growable arrays need no hand-kept
 * capacity field: arena_grow(ar, p, n) returns p when it already holds n bytes, extends
 * it in place when it is the newest block, and otherwise copies it to a block twice as
 * large. After arena_reset every block of the arena is gone: the owner forgets them.
 */
#ifndef PROMO_ARENA_H
#define PROMO_ARENA_H

#include <stddef.h>

#include "promo.h"

#if defined(__SANITIZE_ADDRESS__)
#define ARENA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_ASAN 1
#endif
#endif

/* (The two structs below are exposed for arena_reserve's inline fast paths only.) */
typedef struct arena_chunk arena_chunk;
struct arena_chunk {
    arena_chunk *next;
    size_t size, off; /* bytes of data[], bytes bumped */
    _Alignas(16) unsigned char data[];
};

typedef struct arena {
    const promo_allocator *a;
    arena_chunk *chunks; /* newest first; bumping happens in the newest */
    size_t used;         /* bytes handed out since the last reset, headers included */
    size_t peak;         /* the most `used` ever reached */
    void *last;          /* the newest block (may grow in place) */
} arena;

/* Before every block. */
typedef struct arena_hdr {
    size_t cap; /* bytes the block may grow to in place */
    size_t len; /* bytes asked for (the rest is poisoned under ASan) */
    arena_chunk *chunk;
    size_t pad; /* keeps blocks 16-aligned */
} arena_hdr;

void arena_init(arena *ar, const promo_allocator *a);
/* A block of at least n bytes (16-aligned) holding the first bytes of p (NULL: a new
 * block); NULL when out of memory, p then stays valid. */
void *arena_grow(arena *ar, void *p, size_t n);
size_t arena_cap(const void *p); /* bytes usable in block p; 0 for NULL */
/* Carves a block of cap bytes (n asked for) from chunk c, which has room for it. */
static inline __attribute__((always_inline)) arena_hdr *arena_bump(arena *ar, arena_chunk *c,
                                                                   size_t n, size_t cap) {
    arena_hdr *h = (arena_hdr *)(void *)(c->data + c->off);
    h->cap = cap;
    h->len = n;
    h->chunk = c;
    c->off += sizeof(arena_hdr) + cap;
    ar->used += sizeof(arena_hdr) + cap;
    if (ar->used > ar->peak) ar->peak = ar->used;
    return h;
}

/* arena_grow with the two common cases inline: p already holds n bytes, or p is NULL
 * and the newest chunk has room. */
static inline __attribute__((always_inline)) void *arena_reserve(arena *ar, void *p, size_t n) {
#ifndef ARENA_ASAN /* under ASan every call goes through arena_grow's poisoning */
    if (p) {
        if (n <= ((const arena_hdr *)p - 1)->cap) return p;
    } else if (ar->chunks && n <= ((size_t)-1) / 4) {
        arena_chunk *c = ar->chunks;
        size_t cap = (n + 15) & ~(size_t)15, need = sizeof(arena_hdr) + cap;
        if (c->size - c->off >= need) return ar->last = arena_bump(ar, c, n, cap) + 1;
    }
#endif
    return arena_grow(ar, p, n);
}
void arena_reset(arena *ar);
void arena_free(arena *ar);

#endif
