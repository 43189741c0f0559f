/*
 * store_internal.h — what `promo state` needs of the LMDB store beyond promo.h: walk
 * every entry (export, listings) and put raw entries (import). Internal to libpromo.
 */
#ifndef PROMO_STORE_INTERNAL_H
#define PROMO_STORE_INTERNAL_H

#include <stddef.h>

#include "promo.h"

int store_lmdb_is(const promo_store *s);
/* Syncs, then calls f for every entry in key order; stops at a non-zero return. */
int store_lmdb_each(promo_store *s,
                    int (*f)(void *u, const void *k, size_t kl, const void *v, size_t vl), void *u);
/* Puts one raw entry (import); 0 or -1. */
int store_lmdb_put_raw(promo_store *s, const void *k, size_t kl, const void *v, size_t vl);

#endif
