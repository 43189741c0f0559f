/* arena.c — see arena.h. */
#include "arena.h"

#include <stdint.h>
#include <string.h>

#include "alloc.h"

/* Under AddressSanitizer the unused part of every chunk is poisoned, and so is all of it
 * after a reset: reading past what a block asked for, or a block from before the
 * reset, is reported as it would be for malloc'd memory. */
#ifdef ARENA_ASAN
#include <sanitizer/asan_interface.h>
#define ARENA_POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define ARENA_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define ARENA_POISON(p, n)   ((void)(p), (void)(n))
#define ARENA_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define ARENA_ALIGN 16
#define ARENA_MIN   4096 /* smallest chunk */

#define ARENA_HDR sizeof(arena_hdr)
_Static_assert(sizeof(arena_hdr) % ARENA_ALIGN == 0, "blocks stay 16-aligned");

static size_t arena_round(size_t n) {
    return (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
}

static arena_hdr *arena_hdr_of(const void *p) {
    return (arena_hdr *)(void *)((unsigned char *)(uintptr_t)p - ARENA_HDR);
}

void arena_init(arena *ar, const promo_allocator *a) {
    memset(ar, 0, sizeof *ar);
    ar->a = a;
}

size_t arena_cap(const void *p) {
    return p ? arena_hdr_of(p)->cap : 0;
}

static arena_chunk *arena_chunk_new(arena *ar, size_t need) {
    size_t size = ar->chunks ? ar->chunks->size * 2 : ARENA_MIN;
    if (size < need) size = need;
    if (size > SIZE_MAX - sizeof(arena_chunk)) return NULL;
    arena_chunk *c = pa_malloc(ar->a, sizeof(arena_chunk) + size);
    if (!c) return NULL;
    c->size = size;
    c->off = 0;
    ARENA_POISON(c->data, size);
    c->next = ar->chunks;
    ar->chunks = c;
    return c;
}

void *arena_grow(arena *ar, void *p, size_t n) {
    size_t old = arena_cap(p);
    if (p && n <= old) {
        arena_hdr *h = arena_hdr_of(p);
        if (n > h->len) {
            ARENA_UNPOISON(p, n);
            h->len = n;
        }
        return p;
    }
    if (n > SIZE_MAX / 4) return NULL;
    arena_chunk *c = ar->chunks;
    /* The newest block of the newest chunk grows in place. */
    if (p && p == ar->last && arena_hdr_of(p)->chunk == c) {
        /* geometric when there is room, so pushes rarely come back here */
        size_t want = arena_round(n > 2 * old ? n : 2 * old);
        if (c->off - old + want > c->size) want = arena_round(n);
        if (c->off - old + want <= c->size) {
            c->off += want - old;
            ar->used += want - old;
            arena_hdr_of(p)->cap = want;
            arena_hdr_of(p)->len = n;
            ARENA_UNPOISON(p, n);
            if (ar->used > ar->peak) ar->peak = ar->used;
            return p;
        }
    }
    size_t cap = arena_round(n > 2 * old ? n : 2 * old);
    size_t need = ARENA_HDR + cap;
    if (!c || c->size - c->off < need) {
        if (!(c = arena_chunk_new(ar, need))) return NULL;
    }
    ARENA_UNPOISON(c->data + c->off, ARENA_HDR + n);
    void *q = (unsigned char *)arena_bump(ar, c, n, cap) + ARENA_HDR;
    if (p) {
#ifdef ARENA_ASAN
        /* every call comes here (no inline fast path): len is what the owner uses */
        size_t keep = arena_hdr_of(p)->len;
#else
        size_t keep = old; /* arena_reserve's fast path does not track len */
#endif
        memcpy(q, p, keep);
        ARENA_POISON(p, keep); /* the old block is dead */
    }
    ar->last = q;
    return q;
}

void arena_reset(arena *ar) {
    ar->used = 0;
    ar->last = NULL;
    if (!ar->chunks) return;
    if (ar->chunks->next || ar->chunks->size < ar->peak) {
        /* Several chunks: one that holds the most this arena ever held replaces them.
         * (If it cannot be had, the next evaluation allocates chunks as it goes.) */
        size_t want = ar->peak;
        arena_free(ar);
        ar->peak = want;
        if (!arena_chunk_new(ar, want < ARENA_MIN ? ARENA_MIN : want)) return;
    }
    ar->chunks->off = 0;
    ARENA_POISON(ar->chunks->data, ar->chunks->size);
}

void arena_free(arena *ar) {
    while (ar->chunks) {
        arena_chunk *c = ar->chunks;
        ar->chunks = c->next;
        ARENA_UNPOISON(c->data, c->size);
        pa_free(ar->a, c);
    }
    ar->used = 0;
    ar->last = NULL;
}
