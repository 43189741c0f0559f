/*
 * store_mem.h — the in-memory state store (store_mem.c) with a given allocator: what an
 * engine without a store of its own creates (promo_store_new_memory uses libc's).
 */
#ifndef PROMO_STORE_MEM_H
#define PROMO_STORE_MEM_H

#include "promo.h"

promo_status store_mem_new(const promo_allocator *a, promo_store *out);

/* 1: s is an in-memory store (its state lives as long as the process: the engine prunes
 * it to what the current bundle can read). */
int store_mem_is(const promo_store *s);
/* Customers an in-memory store holds (0 for another store). */
uint64_t store_mem_customers(const promo_store *s);

/* The options a caller passed (any older, smaller size), completed with the defaults. */
void store_opts_read(const promo_store_opts *opts, promo_store_opts *o);

#endif
