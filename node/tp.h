/*
 * tp.h — the transport under `promo node` and `promo client`: what the scale-out needs
 * from a replicated message engine, and nothing more (docs/deploy.md). One adapter
 * today, NATS JetStream (tp_nats.c, libnats); a Kafka adapter would implement the same
 * table (KV on a compacted topic or an external store).
 *
 *   input     per-partition subjects of one replicated stream; a publish carries a
 *             message id (the dedup key "(id, op, refund_id)") and the subject results
 *             go to; an owner reads its partition in order from a stream sequence (the
 *             one its changelog says was applied last): no acks, no redelivery that
 *             could reorder a customer's operations.
 *   request   core request-reply per partition (`calculate`, look-ups by message id).
 *   kv        small records with a revision, written by compare-and-set: partition
 *             leases and budget escrow (lease.c, escrow.c).
 *   log       one changelog per partition; an append names the sequence it expects to
 *             be last, so a deposed owner's append is refused (TP_EFENCED); trimmed
 *             from the front after a checkpoint.
 *
 * Every call is synchronous and thread-safe on one tp (libnats connections are);
 * messages, input subscriptions and inboxes belong to the thread that opened them.
 * Errors: TP_OK, or a negative code below; tp_errmsg() gives the last message of the
 * calling thread.
 */
#ifndef PROMO_NODE_TP_H
#define PROMO_NODE_TP_H

#include <stddef.h>
#include <stdint.h>

enum {
    TP_OK = 0,
    TP_ETIMEOUT = -1,  /* nothing within the timeout */
    TP_ENOTFOUND = -2, /* no such key / no record */
    TP_ECONFLICT = -3, /* compare-and-set lost: the revision moved */
    TP_EFENCED = -4,   /* log append refused: the expected last sequence moved */
    TP_EIO = -5,       /* the engine failed or is unreachable; outcome unknown */
    TP_ENOMEM = -6,
    TP_EARG = -7
};

/* Key-value buckets (each its own replicated bucket in the engine). */
typedef enum tp_bucket { TP_KV_LEASES = 0, TP_KV_BUDGETS = 1, TP_KV__COUNT } tp_bucket;

typedef struct tp tp;

typedef struct tp_config {
    const char *url;      /* "nats://127.0.0.1:4222,nats://..." */
    uint32_t partitions;  /* fixed P; the same on every node and client */
    int replicas;         /* of every stream and bucket (3 in production, 1..5) */
    int64_t lease_ttl_ms; /* lease bucket max-age is a multiple of this */
    int64_t dedup_ms;     /* input dedup window */
    int64_t retention_ms; /* input kept this long (the longest a partition may stay
                             unowned without losing input; default 24 h) */
    int64_t timeout_ms;   /* of one call to the engine */
    const char *prefix;   /* names of streams/buckets/subjects ("promo" when NULL) */
} tp_config;

typedef struct tp_msg {
    const char *data; /* the operation (one JSON line, no newline) */
    int len;
    const char *msgid; /* dedup key it was published with ("" when none) */
    const char *reply; /* where the result goes ("" when none) */
    uint32_t partition;
    uint64_t seq;       /* stream sequence */
    uint64_t delivered; /* delivery count */
    void *impl;
} tp_msg;

typedef struct tp_kv {
    uint64_t rev;   /* to compare-and-set against (see kv_get) */
    int64_t age_ms; /* since the revision was written (engine clock) */
    char val[256];  /* NUL-terminated */
    int len;
} tp_kv;

/* A request being served: reply with tp_respond, then free with tp_request_done. */
typedef struct tp_req {
    const char *data;
    int len;
    void *impl;
} tp_req;

typedef struct tp_ops {
    int (*setup)(tp *t); /* creates streams/buckets/consumers when missing */
    int (*publish)(tp *t, uint32_t part, const char *msgid, const char *reply, const void *data,
                   int len, int *duplicate);
    /* a partition's input after stream sequence `after`, in order: up to max messages
     * (waiting up to timeout_ms for the first); returns the count or an error */
    int (*in_open)(tp *t, uint32_t part, uint64_t after, void **sub);
    int (*in_next)(tp *t, void *sub, tp_msg *out, int max, int timeout_ms);
    void (*in_close)(tp *t, void *sub);
    void (*msg_free)(tp *t, tp_msg *m);
    int (*send)(tp *t, const char *subject, const void *data, int len); /* core, no ack */
    /* inbox: a subject of one's own to receive results on */
    int (*inbox_open)(tp *t, char *name, size_t cap, void **inbox);
    int (*inbox_next)(tp *t, void *inbox, char **data, int *len, int timeout_ms); /* free() */
    void (*inbox_close)(tp *t, void *inbox);
    /* request-reply per partition */
    int (*request)(tp *t, uint32_t part, const void *data, int len, int timeout_ms, char **reply,
                   int *rlen); /* *reply: free() */
    int (*serve_open)(tp *t, uint32_t part, void **srv);
    int (*serve_next)(tp *t, void *srv, tp_req *rq, int timeout_ms);
    int (*respond)(tp *t, tp_req *rq, const void *data, int len);
    void (*request_done)(tp *t, tp_req *rq);
    void (*serve_close)(tp *t, void *srv);
    /* kv with compare-and-set. kv_get gives, found (TP_OK) or not (TP_ENOTFOUND), the
     * revision to write against: kv_cas writes iff nothing was written to the bucket
     * since (TP_ECONFLICT otherwise; revisions are bucket-wide, so a write to another
     * key also makes it retry). Values must be unique per write (put a tp_nonce() in
     * them): a CAS whose answer was lost is resolved by reading the value back. */
    int (*kv_get)(tp *t, tp_bucket b, const char *key, tp_kv *out);
    int (*kv_cas)(tp *t, tp_bucket b, const char *key, const char *val, uint64_t expect_rev,
                  uint64_t *new_rev);
    /* cheaper, for what needs no compare-and-set: kv_read gives the value and its age
     * (out->rev 0: nothing to write against); kv_put writes unconditionally (a key only
     * its writer writes, such as a node's heartbeat) */
    int (*kv_read)(tp *t, tp_bucket b, const char *key, tp_kv *out);
    int (*kv_put)(tp *t, tp_bucket b, const char *key, const char *val);
    /* changelog per partition: append iff the partition's last sequence is expect_seq
     * (0: empty); read every record after `after` in order */
    int (*log_append)(tp *t, uint32_t part, uint64_t expect_seq, const void *data, int len,
                      uint64_t *seq);
    int (*log_last)(tp *t, uint32_t part, uint64_t *seq);
    /* first sequence still in the changelog (1 when nothing was trimmed) */
    int (*log_first)(tp *t, uint32_t part, uint64_t *seq);
    /* drops every record below sequence `below` (trimming after a checkpoint) */
    int (*log_trim)(tp *t, uint32_t part, uint64_t below);
    int (*log_read)(tp *t, uint32_t part, uint64_t after,
                    int (*fn)(void *arg, uint64_t seq, const char *data, int len), void *arg);
    void (*close)(tp *t);
} tp_ops;

/* Round trips to the engine per bucket, counted by the adapter (the node's exit line,
 * docs/performance.md): record reads, stream-info reads, writes, writes refused by
 * compare-and-set. */
typedef struct tp_kv_stats {
    _Atomic uint64_t reads, infos, writes, conflicts;
} tp_kv_stats;

struct tp {
    const tp_ops *ops;
    tp_config cfg;
    tp_kv_stats kv_stats[TP_KV__COUNT];
};

/* The NATS JetStream adapter. On failure *out is NULL and a message is in tp_errmsg(). */
int tp_nats_open(const tp_config *cfg, tp **out);

const char *tp_errmsg(void);
const char *tp_strerror(int code);
/* For adapters: sets the calling thread's message (printf-style). Returns `code`. */
int tp_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A value unique per call (per thread and process), to make KV writes distinguishable:
 * kv_cas resolves a lost answer by reading the value back. */
uint64_t tp_nonce(void);

/* Partition of a routing key (customer id, or receipt id when anonymous): XXH3 mod P.
 * Stable across versions: changing it re-partitions every deployment. */
uint32_t tp_partition(const char *key, size_t len, uint32_t partitions);

#endif
