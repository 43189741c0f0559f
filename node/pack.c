/*
 * pack.c — zstd frames (pack.h). One compression and one decompression context per
 * thread, kept for the thread's life (no allocation per message), freed at its exit.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "pack.h"

#define PK_LEVEL 1 /* fastest of the regular levels: the servers gain, the node hardly pays */

typedef struct pk_ctx {
    ZSTD_CCtx *c;
    ZSTD_DCtx *d;
} pk_ctx;

static pthread_key_t pk_key;
static pthread_once_t pk_once = PTHREAD_ONCE_INIT;

static void pk_free(void *p) {
    pk_ctx *x = p;
    ZSTD_freeCCtx(x->c);
    ZSTD_freeDCtx(x->d);
    free(x);
}

static void pk_init(void) {
    pthread_key_create(&pk_key, pk_free);
}

static pk_ctx *pk_get(void) {
    pthread_once(&pk_once, pk_init);
    pk_ctx *x = pthread_getspecific(pk_key);
    if (!x) {
        if (!(x = calloc(1, sizeof *x))) return NULL;
        x->c = ZSTD_createCCtx();
        x->d = ZSTD_createDCtx();
        if (!x->c || !x->d || pthread_setspecific(pk_key, x) != 0) {
            pk_free(x);
            return NULL;
        }
    }
    return x;
}

int pk_pack(strbuf *out, const void *data, size_t len) {
    pk_ctx *x = pk_get();
    if (!x) return -1;
    ZSTD_CCtx *pk_cctx = x->c;
    size_t bound = ZSTD_compressBound(len), at = out->len;
    sb_reserve(out, bound);
    size_t n = ZSTD_compressCCtx(pk_cctx, out->data + at, bound, data, len, PK_LEVEL);
    if (ZSTD_isError(n)) return -1;
    out->len = at + n;
    out->data[out->len] = 0;
    return 0;
}

int pk_unpack(strbuf *out, const void *data, size_t len, size_t max) {
    static const unsigned char magic[4] = {0x28, 0xb5, 0x2f, 0xfd};
    if (len < 4 || memcmp(data, magic, 4) != 0) return 0;
    unsigned long long n = ZSTD_getFrameContentSize(data, len);
    if (n == ZSTD_CONTENTSIZE_UNKNOWN || n == ZSTD_CONTENTSIZE_ERROR || n > max) return -1;
    pk_ctx *x = pk_get();
    if (!x) return -1;
    ZSTD_DCtx *pk_dctx = x->d;
    size_t at = out->len;
    sb_reserve(out, (size_t)n + 1);
    size_t got = ZSTD_decompressDCtx(pk_dctx, out->data + at, (size_t)n, data, len);
    if (ZSTD_isError(got) || got != n) return -1;
    out->len = at + got;
    out->data[out->len] = 0; /* strbuf's invariant (sb_reserve left room) */
    return 1;
}
