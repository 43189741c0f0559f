/*
 * utf8.h — UTF-8 helpers shared by the diagnostics (columns in characters), the JUnit
 * writer and the language server (UTF-16 positions).
 */
#ifndef PROMO_UTF8_H
#define PROMO_UTF8_H

#include <stddef.h>

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 when it is not one. */
static inline size_t utf8_seq_len(const unsigned char *s, size_t n) {
    if (n == 0) return 0;
    size_t len = s[0] < 0x80                    ? 1
                 : s[0] >= 0xC2 && s[0] <= 0xDF ? 2
                 : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
                 : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4
                                                : 0;
    if (len == 0 || len > n) return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if (len == 3 && ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] > 0x9F))) return 0;
    if (len == 4 && ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] > 0x8F))) return 0;
    return len;
}

/* Characters in text[from, to): a valid sequence counts one, an invalid byte one.
 * `utf16` counts UTF-16 code units instead (4-byte sequences count two), as LSP does. */
static inline size_t utf8_count(const char *text, size_t from, size_t to, int utf16) {
    size_t n = 0;
    while (from < to) {
        size_t k = utf8_seq_len((const unsigned char *)text + from, to - from);
        n += utf16 && k == 4 ? 2 : 1;
        from += k ? k : 1;
    }
    return n;
}

#endif
