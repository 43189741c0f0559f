/*
 * store_mem.h — the in-memory state store (store_mem.c) with a given allocator: what an
 * engine without a store of its own creates (promo_store_new_memory uses libc's).
 */
#ifndef PROMO_STORE_MEM_H
#define PROMO_STORE_MEM_H

#include "promo.h"

promo_status store_mem_new(const promo_allocator *a, promo_store *out);

/* The options a caller passed (any older, smaller size), completed with the defaults. */
void store_opts_read(const promo_store_opts *opts, promo_store_opts *o);

#endif
