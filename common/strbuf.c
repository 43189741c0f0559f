/* strbuf.c — see strbuf.h. */
#include "strbuf.h"

#include <stdio.h>
#include <string.h>

#include "xalloc.h"

void sb_reserve(strbuf *b, size_t extra) {
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

void sb_add(strbuf *b, const void *p, size_t n) {
    sb_reserve(b, n);
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

void sb_puts(strbuf *b, const char *s) {
    sb_add(b, s, strlen(s));
}

void sb_putc(strbuf *b, char c) {
    sb_add(b, &c, 1);
}

void sb_vprintf(strbuf *b, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n <= 0) return;
    sb_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void sb_printf(strbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(b, fmt, ap);
    va_end(ap);
}

void sb_zero(strbuf *b, size_t n) {
    sb_reserve(b, n);
    memset(b->data + b->len, 0, n);
    b->len += n;
    b->data[b->len] = 0;
}

void sb_align(strbuf *b, size_t align) {
    size_t rem = b->len % align;
    if (rem) sb_zero(b, align - rem);
}

void sb_json_str(strbuf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    sb_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': sb_add(b, "\\\"", 2); break;
        case '\\': sb_add(b, "\\\\", 2); break;
        case '\n': sb_add(b, "\\n", 2); break;
        case '\r': sb_add(b, "\\r", 2); break;
        case '\t': sb_add(b, "\\t", 2); break;
        default:
            if (c < 0x20) {
                char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                sb_add(b, e, 6);
            } else {
                sb_putc(b, (char)c);
            }
        }
    }
    sb_putc(b, '"');
}

void sb_money(strbuf *b, int64_t k) {
    char tmp[32];
    uint64_t u = k < 0 ? (uint64_t)0 - (uint64_t)k : (uint64_t)k;
    snprintf(tmp, sizeof tmp, "%s%llu.%02llu", k < 0 ? "-" : "", (unsigned long long)(u / 100),
             (unsigned long long)(u % 100));
    sb_puts(b, tmp);
}

const char *sb_cstr(strbuf *b) {
    return b->data ? b->data : "";
}

void sb_free(strbuf *b) {
    xfree(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
