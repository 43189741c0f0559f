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

/* The smallest slice: a share of the cap (few grants over a budget's life, whatever the
 * rate), at least ESC_MIN_SLICE. */
static int64_t esc_floor(const esc_budget *b) {
    int64_t f = b->cap / ESC_FLOOR_DIV;
    return f > ESC_MIN_SLICE ? f : ESC_MIN_SLICE;
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
    b->rate_t0_ms = lease_now_ms();
    int64_t granted;
    uint64_t rev;
    for (int i = 0; i < ESC_RETRIES; i++) {
        int rc = esc_get(t, b, &b->cap, &granted, &rev);
        if (rc == TP_OK) {
            b->slice = esc_floor(b);
            return TP_OK;
        }
        if (rc != TP_ENOTFOUND) return rc;
        rc = esc_put(t, b, cap, 0, rev);
        if (rc == TP_OK) {
            b->cap = cap;
            b->slice = esc_floor(b);
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
    int64_t s = b->rate_spent * ESC_HORIZON_MS / dt, lo = esc_floor(b);
    int64_t hi = b->cap / 16 > lo ? b->cap / 16 : lo;
    b->slice = s < lo ? lo : s > hi ? hi : s;
    b->rate_t0_ms = now;
    b->rate_spent = 0;
}

/* Adds to b->held: `need` exactly in the tail (or what remains), else at least a slice.
 * once: one attempt only (a refill at low water, which must not hold the caller up). */
static int esc_grant_loop(tp *t, esc_budget *b, int64_t need, int once);

static int64_t esc_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int esc_grant(tp *t, esc_budget *b, int64_t need, int once) {
    /* exhausted a moment ago: no round trip per receipt until a return may have freed
     * some (the record is read again after ESC_EXHAUSTED_MS) */
    if (b->exhausted_ms && lease_now_ms() - b->exhausted_ms < ESC_EXHAUSTED_MS) return TP_OK;
    b->exhausted_ms = 0;
    int64_t t0 = esc_now_us();
    int rc = esc_grant_loop(t, b, need, once);
    b->grant_us += (uint64_t)(esc_now_us() - t0);
    return rc;
}

static int esc_grant_loop(tp *t, esc_budget *b, int64_t need, int once) {
    esc_resize(b);
    for (int i = 0; i < ESC_RETRIES; i++) {
        int64_t cap, granted;
        uint64_t rev;
        int rc = esc_get(t, b, &cap, &granted, &rev);
        if (rc != TP_OK) return rc;
        b->cap = cap;
        int64_t remaining = cap - granted;
        if (remaining <= 0) { /* exhausted */
            b->exhausted_ms = lease_now_ms();
            return TP_OK;
        }
        /* the tail by the smallest slice (a rate-sized slice would make it up to a
         * quarter of the cap); outside it no grant takes more than a quarter of what
         * remains, so the tail is still there for everyone */
        int tail = remaining < ESC_TAIL_SLICES * esc_floor(b);
        if (tail && once) { /* no prefetch in the tail */
            b->tail_ms = lease_now_ms();
            return TP_OK;
        }
        int64_t ask = tail || need > b->slice ? need : b->slice;
        if (!tail && ask > remaining / ESC_TAIL_SLICES) ask = remaining / ESC_TAIL_SLICES;
        if (!tail && ask < need) ask = need < remaining ? need : remaining;
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
    if (b->held < want) {
        uint64_t before = b->grant_us;
        rc = esc_grant(t, b, want - b->held, 0);
        b->wait_us += b->grant_us - before;
        b->waits++;
    }
    int64_t take = b->held < want ? b->held : want;
    b->held -= take;
    b->spent += take;
    b->rate_spent += take;
    *got = take;
    if (rc == TP_OK && !b->async && b->held < b->slice / 4)
        esc_grant(t, b, b->slice, 1); /* low water */
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
    b->exhausted_ms = 0; /* there is some again */
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

int esc_refill_begin(esc_budget *b, esc_budget *copy) {
    if (b->held >= b->slice / 2) return 0;
    int64_t now = lease_now_ms();
    if (b->exhausted_ms && now - b->exhausted_ms < ESC_EXHAUSTED_MS) return 0;
    if (b->tail_ms && now - b->tail_ms < ESC_TAIL_MS) return 0; /* esc_take's */
    esc_resize(b);
    *copy = *b;
    copy->held = copy->grants = copy->conflicts = copy->grant_us = 0;
    copy->rate_t0_ms = lease_now_ms(); /* esc_grant resizes nothing on the copy */
    copy->rate_spent = 0;
    return 1;
}

int esc_refill_run(tp *t, esc_budget *copy) {
    return esc_grant(t, copy, copy->slice, 1);
}

void esc_refill_end(esc_budget *b, const esc_budget *copy) {
    b->held += copy->held;
    b->grants += copy->grants;
    b->conflicts += copy->conflicts;
    b->grant_us += copy->grant_us;
    b->cap = copy->cap;
    if (copy->exhausted_ms) b->exhausted_ms = copy->exhausted_ms;
    if (copy->tail_ms) b->tail_ms = copy->tail_ms;
}
