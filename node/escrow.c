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

/* "<cap> <granted> <nonce> [<reserved>]": records written before tail reservations have
 * no fourth field (none reserved). */
static int esc_parse(const char *v, esc_rec *r) {
    uint64_t nonce;
    r->resv = 0;
    int n = sscanf(v, "%" SCNd64 " %" SCNd64 " %" SCNu64 " %" SCNd64, &r->cap, &r->granted, &nonce,
                   &r->resv);
    if (n < 3) return -1;
    return r->cap >= 0 && r->granted >= 0 && r->resv >= 0 ? 0 : -1;
}

static int esc_get(tp *t, const char *key, esc_rec *r, uint64_t *rev) {
    tp_kv kv;
    int rc = t->ops->kv_get(t, TP_KV_BUDGETS, key, &kv);
    *rev = kv.rev;
    if (rc != TP_OK) return rc;
    if (esc_parse(kv.val, r) != 0)
        return tp_fail(TP_EIO, "%s: unreadable budget record '%s'", key, kv.val);
    return TP_OK;
}

static int esc_put(tp *t, const char *key, const esc_rec *r, uint64_t rev) {
    char val[128];
    snprintf(val, sizeof val, "%" PRId64 " %" PRId64 " %" PRIu64 " %" PRId64, r->cap,
             r->granted < 0 ? 0 : r->granted, tp_nonce(), r->resv < 0 ? 0 : r->resv);
    return t->ops->kv_cas(t, TP_KV_BUDGETS, key, val, rev, NULL);
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
    esc_rec r;
    uint64_t rev;
    for (int i = 0; i < ESC_RETRIES; i++) {
        int rc = esc_get(t, b->key, &r, &rev);
        if (rc == TP_OK) {
            b->cap = r.cap;
            b->slice = esc_floor(b);
            return TP_OK;
        }
        if (rc != TP_ENOTFOUND) return rc;
        rc = esc_put(t, b->key, &(esc_rec){cap, 0, 0}, rev);
        if (rc == TP_OK) {
            b->cap = cap;
            b->slice = esc_floor(b);
            return TP_OK;
        }
        if (rc != TP_ECONFLICT) return rc;
    }
    return tp_fail(TP_EIO, "%s: could not create the budget record", b->key);
}

/* The smallest slice worth a grant: the floor, and ESC_MIN_TAKES of the largest take
 * seen (a slice of one or two receipts would cost a grant per receipt). */
static int64_t esc_min_slice(const esc_budget *b) {
    int64_t lo = esc_floor(b), w = b->max_want * ESC_MIN_TAKES, hi = b->cap / 16;
    if (w > lo) lo = w < hi ? w : hi > lo ? hi : lo;
    return lo;
}

/* Slice size from the spend rate of the last window: at least 250 ms of it, or less when
 * the rate already asks for a bigger slice (a burst after a quiet spell). */
static void esc_resize(esc_budget *b) {
    int64_t now = lease_now_ms(), dt = now - b->rate_t0_ms;
    if (dt < 20) return;
    int64_t s = b->rate_spent * ESC_HORIZON_MS / dt, lo = esc_min_slice(b);
    if (dt < 250 && s <= b->slice) return;
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

/* Gives back what the node holds and its reservations (granted -= held, reserved -=
 * my_resv): a tail reservation at the end of a batch, or everything when stopping. */
static int esc_unreserve(tp *t, esc_budget *b) {
    for (int i = 0; i < ESC_RETRIES; i++) {
        esc_rec r;
        uint64_t rev;
        int rc = esc_get(t, b->key, &r, &rev);
        if (rc != TP_OK) return rc;
        r.granted -= b->held;
        r.resv -= b->my_resv;
        rc = esc_put(t, b->key, &r, rev);
        if (rc == TP_OK) {
            b->held = 0;
            b->my_resv = 0;
            b->returns++;
            return TP_OK;
        }
        if (rc != TP_ECONFLICT) return rc;
        b->conflicts++;
    }
    return tp_fail(TP_EIO, "%s: too many compare-and-set conflicts", b->key);
}

static int esc_grant_loop(tp *t, esc_budget *b, int64_t need, int once) {
    esc_resize(b);
    int64_t wait_from = 0, pause_ms = 1;
    for (int i = 0; i < ESC_RETRIES; i++) {
        esc_rec r;
        uint64_t rev;
        int rc = esc_get(t, b->key, &r, &rev);
        if (rc != TP_OK) return rc;
        b->cap = r.cap;
        int64_t remaining = r.cap - r.granted, others = r.resv - b->my_resv;
        if (others < b->resv_stuck) b->resv_stuck = others > 0 ? others : 0; /* came back */
        /* the tail by the smallest slice (a rate-sized slice would make it up to a
         * quarter of the cap); outside it no grant takes more than a quarter of what
         * remains, so the tail is still there for everyone */
        int tail = remaining < ESC_TAIL_SLICES * esc_floor(b);
        if (tail && once) { /* no prefetch in the tail */
            b->tail_ms = lease_now_ms();
            return TP_OK;
        }
        /* Short in the tail while other nodes hold reservations, which they give back
         * at the end of their batch: wait for them (giving ours back first, so that two
         * short nodes do not wait for each other), then decide exactly. A reservation
         * that does not come back within ESC_RESV_WAIT_MS (its node died) is not waited
         * for again. */
        if (tail && b->reserve && remaining < need && others > b->resv_stuck) {
            int64_t now = lease_now_ms();
            if (!wait_from) wait_from = now;
            if (now - wait_from < ESC_RESV_WAIT_MS) {
                if (b->held > 0 || b->my_resv > 0) {
                    int64_t h = b->held;
                    if ((rc = esc_unreserve(t, b)) != TP_OK) return rc;
                    need += h; /* esc_take takes from held */
                } else {
                    /* a reservation comes back at the end of its node's batch: the
                     * record is read again after 2, 4, 8, 16, then every 20 ms (each
                     * read is a round trip to the engine) */
                    pause_ms = pause_ms * 2 > ESC_RESV_POLL_MS ? ESC_RESV_POLL_MS : pause_ms * 2;
                    struct timespec ts = {0, pause_ms * 1000000L};
                    nanosleep(&ts, NULL);
                }
                continue;
            }
            b->resv_stuck = others;
        }
        if (remaining <= 0) { /* exhausted */
            b->exhausted_ms = lease_now_ms();
            return TP_OK;
        }
        /* a node's partition that had to wait (its refill was late) also takes the
         * next slice, so the refill thread catches up */
        int64_t ask = tail || need > b->slice ? need : b->slice;
        if (!tail && !once && b->async) ask = need + b->slice;
        if (!tail && ask > remaining / ESC_TAIL_SLICES) ask = remaining / ESC_TAIL_SLICES;
        /* a receipt's need is granted whole (partial: what remains); a prefetch's is
         * only a slice, which must leave the tail to everyone */
        if (!tail && !once && ask < need) ask = need < remaining ? need : remaining;
        if (ask <= 0) return TP_OK;
        /* a reservation in the tail: what this receipt needs, and a share of the rest
         * for the rest of the batch, given back when the batch is done */
        if (tail && b->reserve && remaining > need)
            ask = need + (remaining - need) / ESC_TAIL_SHARE;
        if (ask > remaining) ask = remaining; /* partial */
        esc_rec w = {r.cap, r.granted + ask, r.resv + (tail && b->reserve ? ask : 0)};
        rc = esc_put(t, b->key, &w, rev);
        if (rc == TP_OK) {
            b->held += ask;
            if (tail && b->reserve) b->my_resv += ask;
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
    if (want > b->max_want) b->max_want = want;
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
        esc_rec r;
        uint64_t rev;
        int rc = esc_get(t, b->key, &r, &rev);
        if (rc != TP_OK) return rc;
        r.granted -= amount;
        rc = esc_put(t, b->key, &r, rev);
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
    if (b->held <= 0 && b->my_resv <= 0) return TP_OK;
    return esc_unreserve(t, b);
}

int esc_read(tp *t, const esc_budget *b, int64_t *cap, int64_t *granted) {
    esc_rec r;
    uint64_t rev;
    int rc = esc_get(t, b->key, &r, &rev);
    *cap = r.cap;
    *granted = r.granted;
    return rc;
}

int esc_read_rec(tp *t, const esc_budget *b, esc_rec *r) {
    uint64_t rev;
    return esc_get(t, b->key, r, &rev);
}

int64_t esc_others_reserved(const esc_budget *b, const esc_rec *r) {
    int64_t o = r->resv - b->my_resv - b->resv_stuck;
    return o > 0 ? o : 0;
}

int esc_settle_begin(esc_budget *b, esc_budget *copy) {
    if (b->my_resv <= 0) return 0;
    *copy = *b;
    copy->grants = copy->conflicts = copy->returns = copy->grant_us = 0;
    b->held = 0;
    b->my_resv = 0;
    return 1;
}

int esc_settle_run(tp *t, esc_budget *copy) {
    return esc_unreserve(t, copy);
}

void esc_settle_end(esc_budget *b, const esc_budget *copy) {
    b->held += copy->held; /* what could not be given back (engine trouble) */
    b->my_resv += copy->my_resv;
    b->conflicts += copy->conflicts;
    b->returns += copy->returns;
}

int esc_refill_begin(esc_budget *b, esc_budget *copy, int urgent) {
    esc_resize(b); /* first: a burst grows the slice before the old one runs out */
    /* a quarter spent: time to refill; urgent: three quarters */
    if (b->held >= (urgent ? b->slice / 4 : b->slice * 3 / 4)) return 0;
    int64_t now = lease_now_ms();
    if (b->exhausted_ms && now - b->exhausted_ms < ESC_EXHAUSTED_MS) return 0;
    if (b->tail_ms && now - b->tail_ms < ESC_TAIL_MS) return 0; /* esc_take's */
    *copy = *b;
    copy->held = copy->my_resv = 0;
    copy->grants = copy->conflicts = copy->returns = copy->grant_us = 0;
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
