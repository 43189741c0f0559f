/*
 * rbuf.h — the runtime's growable byte buffer (journal entries, operation records,
 * `promo state` descriptions): strbuf's interface, but every byte comes from a
 * promo_allocator and out-of-memory never aborts. A failed growth sets `oom` and
 * makes every later append a no-op (the text so far stays valid and NUL-ended); the
 * caller checks `oom` once, after the appends, and returns PROMO_ENOMEM.
 */
#ifndef PROMO_RBUF_H
#define PROMO_RBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "promo.h"

typedef struct rbuf {
    char *data; /* NUL-ended whenever cap > 0 */
    size_t len, cap;
    const promo_allocator *a; /* NULL: libc */
    int oom;                  /* an append failed since the last rb_clear */
} rbuf;

void rb_init(rbuf *b, const promo_allocator *a);
/* Empties the buffer (keeps its memory) and forgets an earlier failure. */
void rb_clear(rbuf *b);
/* Room for `extra` more bytes (and the NUL): 0, or -1 with oom set. */
int rb_reserve(rbuf *b, size_t extra);
void rb_add(rbuf *b, const void *p, size_t n);
void rb_puts(rbuf *b, const char *s);
void rb_putc(rbuf *b, char c);
void rb_printf(rbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rb_zero(rbuf *b, size_t n);                    /* n zero bytes */
void rb_json_str(rbuf *b, const char *s, size_t n); /* quoted, escaped JSON string */
void rb_money(rbuf *b, int64_t kopecks);            /* 179.80, -0.05 */
const char *rb_cstr(const rbuf *b);                 /* "" for an empty buffer */
void rb_free(rbuf *b);

#endif
