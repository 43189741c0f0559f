/*
 * strbuf.h — a growable byte buffer used by the compiler, the CLI and the tests
 * (never on the per-receipt hot path, which writes into caller buffers).
 */
#ifndef PROMO_STRBUF_H
#define PROMO_STRBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef struct strbuf {
    char *data; /* NUL-terminated whenever len > 0 or after sb_cstr */
    size_t len;
    size_t cap;
} strbuf;

#define STRBUF_INIT                                                                                \
    { 0, 0, 0 }

void sb_reserve(strbuf *b, size_t extra);
void sb_add(strbuf *b, const void *p, size_t n);
void sb_puts(strbuf *b, const char *s);
void sb_putc(strbuf *b, char c);
void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_vprintf(strbuf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Appends n zero bytes. */
void sb_zero(strbuf *b, size_t n);
/* Pads with zero bytes up to a multiple of `align`. */
void sb_align(strbuf *b, size_t align);
void sb_json_str(strbuf *b, const char *s, size_t n); /* quoted, escaped JSON string */
void sb_money(strbuf *b, int64_t kopecks);            /* 179.80, -0.05 */
const char *sb_cstr(strbuf *b);                       /* "" for an empty buffer */
void sb_free(strbuf *b);

#endif
