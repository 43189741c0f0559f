/*
 * alloc.h — the one allocation path of libpromo: every allocation of the runtime goes
 * through a promo_allocator (promo.h), the embedder's (promo_engine_opts.alloc,
 * promo_bundle_load_memory_with) or libc's by default. Each function returns NULL /
 * fails cleanly; the caller turns that into PROMO_ENOMEM. (The compiler and the CLI
 * use common/xalloc.h, which aborts instead.)
 */
#ifndef PROMO_ALLOC_H
#define PROMO_ALLOC_H

#include <stddef.h>

#include "promo.h"

#ifdef __cplusplus
extern "C" {
#endif

/* libc's malloc/realloc/free; what a NULL allocator means everywhere. */
const promo_allocator *pa_default(void);
/* a if it is complete (all three functions set), else the default. */
const promo_allocator *pa_or_default(const promo_allocator *a);

void *pa_malloc(const promo_allocator *a, size_t n);
/* Zeroed n * size bytes; NULL when the product overflows. */
void *pa_calloc(const promo_allocator *a, size_t n, size_t size);
void *pa_realloc(const promo_allocator *a, void *p, size_t n);
void pa_free(const promo_allocator *a, void *p);

#ifdef __cplusplus
}
#endif
#endif
