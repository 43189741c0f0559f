/* rbuf.c — see rbuf.h. */
#include "rbuf.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "result_json.h"

void rb_init(rbuf *b, const promo_allocator *a) {
    memset(b, 0, sizeof *b);
    b->a = a;
}

void rb_clear(rbuf *b) {
    b->len = 0;
    b->oom = 0;
    if (b->cap) b->data[0] = 0;
}

int rb_reserve(rbuf *b, size_t extra) {
    if (b->oom) return -1;
    if (extra < b->cap && b->len + extra < b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap <= b->len + extra) {
        if (cap > SIZE_MAX / 2) {
            b->oom = 1;
            return -1;
        }
        cap *= 2;
    }
    char *p = pa_realloc(b->a, b->data, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

void rb_add(rbuf *b, const void *p, size_t n) {
    if (rb_reserve(b, n)) return;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

void rb_puts(rbuf *b, const char *s) {
    rb_add(b, s, strlen(s));
}

void rb_putc(rbuf *b, char c) {
    rb_add(b, &c, 1);
}

void rb_printf(rbuf *b, const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n > 0 && !rb_reserve(b, (size_t)n)) {
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        b->len += (size_t)n;
    }
    va_end(ap);
}

void rb_zero(rbuf *b, size_t n) {
    if (rb_reserve(b, n)) return;
    memset(b->data + b->len, 0, n);
    b->len += n;
    b->data[b->len] = 0;
}

void rb_json_str(rbuf *b, const char *s, size_t n) {
    if (rb_reserve(b, n + 2)) return; /* the usual case: nothing to escape */
    size_t room = b->cap - b->len;
    size_t need = out_json_str(s, n, b->data + b->len, room);
    if (need >= room) {
        if (rb_reserve(b, need)) return;
        out_json_str(s, n, b->data + b->len, b->cap - b->len);
    }
    b->len += need;
    b->data[b->len] = 0;
}

void rb_money(rbuf *b, int64_t k) {
    char t[24];
    rb_add(b, t, out_money(k, t));
}

const char *rb_cstr(const rbuf *b) {
    return b->cap ? b->data : "";
}

void rb_free(rbuf *b) {
    pa_free(b->a, b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}
