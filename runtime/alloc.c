/* alloc.c — see alloc.h. */
#include "alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void *pa_libc_malloc(void *ud, size_t n) {
    (void)ud;
    return malloc(n ? n : 1);
}

static void *pa_libc_realloc(void *ud, void *p, size_t n) {
    (void)ud;
    return realloc(p, n ? n : 1);
}

static void pa_libc_free(void *ud, void *p) {
    (void)ud;
    free(p);
}

static const promo_allocator pa_libc = {pa_libc_malloc, pa_libc_realloc, pa_libc_free, NULL};

const promo_allocator *pa_default(void) {
    return &pa_libc;
}

const promo_allocator *pa_or_default(const promo_allocator *a) {
    return a && a->malloc && a->realloc && a->free ? a : &pa_libc;
}

void *pa_malloc(const promo_allocator *a, size_t n) {
    a = pa_or_default(a);
    return a->malloc(a->ud, n ? n : 1);
}

void *pa_calloc(const promo_allocator *a, size_t n, size_t size) {
    if (size && n > SIZE_MAX / size) return NULL;
    size_t bytes = n * size;
    void *p = pa_malloc(a, bytes);
    if (p) memset(p, 0, bytes ? bytes : 1);
    return p;
}

void *pa_realloc(const promo_allocator *a, void *p, size_t n) {
    a = pa_or_default(a);
    return a->realloc(a->ud, p, n ? n : 1);
}

void pa_free(const promo_allocator *a, void *p) {
    if (!p) return;
    a = pa_or_default(a);
    a->free(a->ud, p);
}
