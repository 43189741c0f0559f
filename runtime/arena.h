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

typedef struct arena_chunk arena_chunk;

typedef struct arena {
    const promo_allocator *a;
    arena_chunk *chunks; /* newest first; bumping happens in the newest */
    size_t used;         /* bytes handed out since the last reset, headers included */
    size_t peak;         /* the most `used` ever reached */
    void *last;          /* the newest block (may grow in place) */
} arena;

void arena_init(arena *ar, const promo_allocator *a);
/* A block of at least n bytes (16-aligned) holding the first bytes of p (NULL: a new
 * block); NULL when out of memory, p then stays valid. */
void *arena_grow(arena *ar, void *p, size_t n);
size_t arena_cap(const void *p); /* bytes usable in block p; 0 for NULL */
void arena_reset(arena *ar);
void arena_free(arena *ar);

#endif
