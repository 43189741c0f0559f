/*
 * escrow.c — shared campaign budgets by escrow slices (escrow.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "escrow.h"
#include "lease.h"

#define ESC_RETRIES 10000 /* compare-and-sets lost in a row before giving up (EIO) */

static int esc_parse(const char *v, int64_t *cap, int64_t *granted) {
    uint64_t nonce;
    if (sscanf(v, "%" SCNd64 " %" SCNd64 " %" SCNu64, cap, granted, &nonce) != 3) return -1;
    return *cap >= 0 && *granted >= 0 ? 0 : -1;
}

static int esc_get(tp *t, const esc_budget *b, int64_t *cap, int64_t *granted, uint64_t *rev) {
    tp_kv kv;
    int rc = t->ops->kv_get(t, TP_KV_BUDGETS, b->key, &kv);
    *rev = kv.rev;
    if (rc != TP_OK) return rc;
    if (esc_parse(kv.val, cap, granted) != 0)
        return tp_fail(TP_EIO, "%s: unreadable budget record '%s'", b->key, kv.val);
    return TP_OK;
}

static int esc_put(tp *t, const esc_budget *b, int64_t cap, int64_t granted, uint64_t rev) {
    char val[96];
    snprintf(val, sizeof val, "%" PRId64 " %" PRId64 " %" PRIu64, cap, granted, tp_nonce());
    return t->ops->kv_cas(t, TP_KV_BUDGETS, b->key, val, rev, NULL);
}

int esc_open(tp *t, const char *campaign, int64_t cap, esc_budget *b) {
    static const char hex[] = "0123456789abcdef";
    memset(b, 0, sizeof *b);
    size_t k = (size_t)snprintf(b->key, sizeof b->key, "b.");
    for (const unsigned char *p = (const unsigned char *)campaign; *p; p++) {
        int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-';
        if (k + 4 >= sizeof b->key) return tp_fail(TP_EARG, "campaign id too long: %s", campaign);
        if (plain) {
            b->key[k++] = (char)*p;
        } else {
            b->key[k++] = '=';
            b->key[k++] = hex[*p >> 4];
            b->key[k++] = hex[*p & 15];
        }
    }
    b->key[k] = 0;
    b->slice = ESC_MIN_SLICE;
    b->rate_t0_ms = lease_now_ms();
    int64_t granted;
    uint64_t rev;
    for (int i = 0; i < ESC_RETRIES; i++) {
        int rc = esc_get(t, b, &b->cap, &granted, &rev);
        if (rc == TP_OK) return TP_OK;
        if (rc != TP_ENOTFOUND) return rc;
        rc = esc_put(t, b, cap, 0, rev);
        if (rc == TP_OK) {
            b->cap = cap;
            return TP_OK;
        }
        if (rc != TP_ECONFLICT) return rc;
    }
    return tp_fail(TP_EIO, "%s: could not create the budget record", b->key);
}

/* Slice size from the spend rate of the last window (at least 250 ms of it). */
static void esc_resize(esc_budget *b) {
    int64_t now = lease_now_ms(), dt = now - b->rate_t0_ms;
    if (dt < 250) return;
    int64_t s = b->rate_spent * ESC_HORIZON_MS / dt;
    int64_t hi = b->cap / 16 > ESC_MIN_SLICE ? b->cap / 16 : ESC_MIN_SLICE;
    b->slice = s < ESC_MIN_SLICE ? ESC_MIN_SLICE : s > hi ? hi : s;
    b->rate_t0_ms = now;
    b->rate_spent = 0;
}

/* Adds to b->held: `need` exactly in the tail (or what remains), else at least a slice.
 * once: one attempt only (a refill at low water, which must not hold the caller up). */
static int esc_grant(tp *t, esc_budget *b, int64_t need, int once) {
    esc_resize(b);
    for (int i = 0; i < ESC_RETRIES; i++) {
        int64_t cap, granted;
        uint64_t rev;
        int rc = esc_get(t, b, &cap, &granted, &rev);
        if (rc != TP_OK) return rc;
        b->cap = cap;
        int64_t remaining = cap - granted;
        if (remaining <= 0) return TP_OK; /* exhausted */
        int tail = remaining < ESC_TAIL_SLICES * b->slice;
        if (tail && once) return TP_OK; /* no prefetch in the tail */
        int64_t ask = tail || need > b->slice ? need : b->slice;
        if (ask > remaining) ask = remaining; /* partial */
        rc = esc_put(t, b, cap, granted + ask, rev);
        if (rc == TP_OK) {
            b->held += ask;
            b->grants++;
            return TP_OK;
        }
        if (rc != TP_ECONFLICT) return rc;
        b->conflicts++;
        if (once) return TP_OK;
    }
    return tp_fail(TP_EIO, "%s: too many compare-and-set conflicts", b->key);
}

int esc_take(tp *t, esc_budget *b, int64_t want, int64_t *got) {
    *got = 0;
    if (want <= 0) return tp_fail(TP_EARG, "esc_take: want must be > 0");
    int rc = TP_OK;
    if (b->held < want) rc = esc_grant(t, b, want - b->held, 0);
    int64_t take = b->held < want ? b->held : want;
    b->held -= take;
    b->spent += take;
    b->rate_spent += take;
    *got = take;
    if (rc == TP_OK && b->held < b->slice / 4) esc_grant(t, b, b->slice, 1); /* low water */
    return rc;
}

/* granted -= amount, by compare-and-set. */
static int esc_return(tp *t, esc_budget *b, int64_t amount) {
    for (int i = 0; i < ESC_RETRIES; i++) {
        int64_t cap, granted;
        uint64_t rev;
        int rc = esc_get(t, b, &cap, &granted, &rev);
        if (rc != TP_OK) return rc;
        int64_t g = granted - amount;
        rc = esc_put(t, b, cap, g < 0 ? 0 : g, rev);
        if (rc == TP_OK) return TP_OK;
        if (rc != TP_ECONFLICT) return rc;
        b->conflicts++;
    }
    return tp_fail(TP_EIO, "%s: too many compare-and-set conflicts", b->key);
}

int esc_give_back(tp *t, esc_budget *b, int64_t amount) {
    if (amount <= 0) return TP_OK;
    int rc = esc_return(t, b, amount);
    if (rc == TP_OK) b->spent -= amount;
    return rc;
}

int esc_release(tp *t, esc_budget *b) {
    if (b->held <= 0) return TP_OK;
    int rc = esc_return(t, b, b->held);
    if (rc == TP_OK) b->held = 0;
    return rc;
}

int esc_read(tp *t, const esc_budget *b, int64_t *cap, int64_t *granted) {
    uint64_t rev;
    return esc_get(t, b, cap, granted, &rev);
}
