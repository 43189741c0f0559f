/*
 * xalloc.h — the one allocation path of the compiler and the CLI (jemalloc beneath,
 * linked as the process allocator). These abort on out-of-memory: they are for tools,
 * never for libpromo's evaluation path, which reports PROMO_ENOMEM instead.
 */
#ifndef PROMO_XALLOC_H
#define PROMO_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void xfree(void *p);

#endif
