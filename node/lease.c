/*
 * lease.c — partition leases and changelog fencing (lease.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lease.h"

/* The holder stops acting this long before its lease could be judged expired. */
#define LEASE_MARGIN(ttl) ((ttl) / 5)

int64_t lease_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void lease_key(uint32_t part, char key[32]) {
    snprintf(key, 32, "p%u", part);
}

/* Parses "<owner> <epoch> <nonce>"; owner "-" = released. */
static int lease_parse(const char *v, char owner[64], uint64_t *epoch) {
    uint64_t nonce;
    return sscanf(v, "%63s %" SCNu64 " %" SCNu64, owner, epoch, &nonce) == 3 ? 0 : -1;
}

static int lease_write(tp *t, lease *l, uint64_t expect_rev, const char *who) {
    char key[32], val[128];
    lease_key(l->part, key);
    snprintf(val, sizeof val, "%s %" PRIu64 " %" PRIu64, who, l->epoch, tp_nonce());
    int64_t start = lease_now_ms();
    uint64_t rev;
    int rc = t->ops->kv_cas(t, TP_KV_LEASES, key, val, expect_rev, &rev);
    if (rc == TP_OK) {
        l->rev = rev;
        l->valid_ms = start + l->ttl_ms - LEASE_MARGIN(l->ttl_ms);
        memcpy(l->val, val, sizeof val);
    }
    return rc;
}

/* Rewrites our record while it is still the one we wrote last. The bucket's revision
 * is read first: every partition's lease and every heartbeat moves it, so the one of our
 * last write is nearly always stale (a compare-and-set against it, a wasted round trip). */
static int lease_rewrite(tp *t, lease *l, const char *who) {
    char key[32];
    lease_key(l->part, key);
    for (int tries = 0; tries < 1000; tries++) {
        tp_kv cur;
        int rc = t->ops->kv_get(t, TP_KV_LEASES, key, &cur);
        if (rc == TP_ENOTFOUND) return tp_fail(TP_ECONFLICT, "partition %u: lease gone", l->part);
        if (rc != TP_OK) return rc;
        if (strcmp(cur.val, l->val) != 0)
            return tp_fail(TP_ECONFLICT, "partition %u: lease taken (%s)", l->part, cur.val);
        l->rev = cur.rev; /* another key moved the bucket: ours is intact */
        rc = lease_write(t, l, l->rev, who);
        if (rc != TP_ECONFLICT) return rc;
    }
    return tp_fail(TP_EIO, "partition %u: lease bucket too busy", l->part);
}

int lease_claim(tp *t, uint32_t part, const char *owner, int64_t ttl_ms, lease *out) {
    char key[32], holder[64] = "-";
    tp_kv cur;
    uint64_t epoch = 0;
    memset(out, 0, sizeof *out);
    lease_key(part, key);
    int rc = t->ops->kv_get(t, TP_KV_LEASES, key, &cur);
    if (rc != TP_OK && rc != TP_ENOTFOUND) return rc;
    int found = rc == TP_OK;
    if (found && lease_parse(cur.val, holder, &epoch) != 0)
        holder[0] = '-'; /* unreadable record: treat as released */
    if (found && strcmp(holder, "-") != 0 && strcmp(holder, owner) != 0 && cur.age_ms <= ttl_ms)
        return tp_fail(TP_ECONFLICT, "partition %u is held by %s", part, holder);
    out->part = part;
    out->epoch = epoch + 1;
    out->ttl_ms = ttl_ms;
    snprintf(out->owner, sizeof out->owner, "%s", owner);
    return lease_write(t, out, cur.rev, owner);
}

int lease_peek(tp *t, uint32_t part, int64_t ttl_ms, char holder[64]) {
    char key[32];
    uint64_t epoch;
    tp_kv cur;
    lease_key(part, key);
    snprintf(holder, 64, "-");
    int rc = t->ops->kv_read(t, TP_KV_LEASES, key, &cur); /* no revision needed */
    if (rc == TP_ENOTFOUND) return 1;
    if (rc != TP_OK) return rc;
    if (lease_parse(cur.val, holder, &epoch) != 0 || !strcmp(holder, "-")) return 1;
    return cur.age_ms > ttl_ms;
}

int lease_renew(tp *t, lease *l) {
    return lease_rewrite(t, l, l->owner);
}

int lease_release(tp *t, lease *l) {
    int rc = lease_rewrite(t, l, "-");
    l->valid_ms = 0;
    return rc;
}

int lease_live(const lease *l) {
    return lease_now_ms() < l->valid_ms;
}

typedef struct lease_replay {
    int (*fn)(void *, uint64_t, const char *, int);
    void *arg;
    uint64_t seq; /* last record replayed */
} lease_replay;

static int lease_replay_one(void *arg, uint64_t seq, const char *data, int len) {
    lease_replay *r = arg;
    r->seq = seq;
    return r->fn(r->arg, seq, data, len);
}

int lease_takeover(tp *t, lease *l, int (*replay)(void *, uint64_t, const char *, int), void *arg) {
    lease_replay r = {replay, arg, l->tail};
    char fence[128];
    int n = snprintf(fence, sizeof fence, "F %" PRIu64 " %s", l->epoch, l->owner);
    for (int tries = 0; tries < 100; tries++) {
        uint64_t last;
        int rc = t->ops->log_last(t, l->part, &last);
        if (rc != TP_OK) return rc;
        if (last > l->tail) {
            rc = t->ops->log_read(t, l->part, l->tail, lease_replay_one, &r);
            l->tail = r.seq;
            if (rc != TP_OK) return rc;
        }
        rc = lease_append(t, l, fence, n);
        if (rc != TP_EFENCED) return rc;
    }
    return tp_fail(TP_EFENCED, "partition %u: could not fence the changelog", l->part);
}

int lease_append(tp *t, lease *l, const void *data, int len) {
    uint64_t seq;
    int rc = t->ops->log_append(t, l->part, l->tail, data, len, &seq);
    if (rc == TP_OK) l->tail = seq;
    return rc;
}
