/*
 * tp_common.c — what every transport adapter shares: error texts and the partition hash.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "hash.h"
#include "tp.h"

static _Thread_local char tp_msgbuf[512];

const char *tp_errmsg(void) {
    return tp_msgbuf;
}

int tp_fail(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tp_msgbuf, sizeof tp_msgbuf, fmt, ap);
    va_end(ap);
    return code;
}

const char *tp_strerror(int code) {
    switch (code) {
    case TP_OK: return "ok";
    case TP_ETIMEOUT: return "timed out";
    case TP_ENOTFOUND: return "not found";
    case TP_ECONFLICT: return "compare-and-set conflict";
    case TP_EFENCED: return "fenced: the partition has a newer owner";
    case TP_EIO: return "engine failure";
    case TP_ENOMEM: return "out of memory";
    case TP_EARG: return "invalid argument";
    }
    return "unknown error";
}

uint32_t tp_partition(const char *key, size_t len, uint32_t partitions) {
    return partitions ? (uint32_t)(promo_hash(key, len) % partitions) : 0;
}

uint64_t tp_nonce(void) {
    static _Thread_local uint64_t x;
    if (!x) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        x = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)&x;
        x ^= (uint64_t)getpid() << 40;
        if (!x) x = 1;
    }
    x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
    return x;
}
