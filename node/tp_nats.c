/*
 * tp_nats.c — the NATS JetStream adapter of tp.h, on libnats (C client 3.4, Debian 12).
 *
 * Names (prefix "promo"):
 *   stream  promo_in        subjects promo.in.<p>       input operations, dedup window
 *   stream  promo_log_<p>   subject  promo.log.<p>      the changelog of partition p
 *   stream  promo_kv_leases subjects promo.kv.leases.>  KV: one subject per key, 1 kept
 *   stream  promo_kv_budgets subjects promo.kv.budgets.>  and promo_kv_budgets<k>,
 *           promo.kv.budgets<k>.> for k = 1..3: four shards, a key's by its hash
 *   ordered consumer on promo.in.<p>                    per owner, from the changelog's
 *                                                       last input sequence
 *   subject promo.rq.<p>                                request-reply (queue group "owner")
 *
 * Compare-and-set rests on the stream-wide Nats-Expected-Last-Sequence only. The per-
 * subject check (Nats-Expected-Last-Subject-Sequence, which libnats' kvStore_Update
 * uses) is not atomic on a replicated stream in nats-server 2.9: concurrent writers
 * with the same expected sequence both succeed (docs/deploy.md; tests/node show it).
 * Hence one changelog stream per partition, and KV buckets as plain streams where a
 * record's "revision" is the stream's last sequence when it was read: a write anywhere
 * in the bucket makes every concurrent CAS on it retry, which is cheap at the write
 * rates of leases and budget grants.
 */
#include <nats/nats.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tp.h"
#include "xalloc.h"

typedef struct tpn {
    tp base;
    natsConnection *nc;
    jsCtx *js;
    pthread_mutex_t mu;  /* guards logs[] */
    unsigned char *logs; /* 1: partition's changelog stream known to exist */
    char pre[64];
} tpn;

#define TPN(t) ((tpn *)(t))

static int tpn_status(natsStatus s, jsErrCode je, const char *what) {
    if (s == NATS_OK) return TP_OK;
    if (s == NATS_TIMEOUT) return tp_fail(TP_ETIMEOUT, "%s: timed out", what);
    if (s == NATS_NOT_FOUND || je == JSStreamNotFoundErr)
        return tp_fail(TP_ENOTFOUND, "%s: not found", what);
    if (s == NATS_NO_MEMORY) return tp_fail(TP_ENOMEM, "%s: out of memory", what);
    if (je == JSStreamWrongLastSequenceErr)
        return tp_fail(TP_EFENCED, "%s: wrong last sequence", what);
    const char *last = nats_GetLastError(NULL);
    return tp_fail(TP_EIO, "%s: %s (%d)", what, last ? last : natsStatus_GetText(s), (int)je);
}

static jsOptions tpn_jsopts(tpn *n) {
    jsOptions o;
    jsOptions_Init(&o);
    o.Wait = n->base.cfg.timeout_ms;
    return o;
}

/* Creates the stream when it does not exist (another node may race us: then it does). */
static int tpn_stream(tpn *n, const char *name, const char *subject, int64_t dedup_ns,
                      int64_t per_subject, int64_t max_age_ns) {
    jsStreamInfo *si = NULL;
    jsErrCode je = 0;
    jsOptions o = tpn_jsopts(n);
    if (o.Wait < 10000) o.Wait = 10000; /* creating a replicated stream takes a while */
    natsStatus s = js_GetStreamInfo(&si, n->js, name, &o, &je);
    if (s == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return TP_OK;
    }
    jsStreamConfig c;
    jsStreamConfig_Init(&c);
    c.Name = name;
    const char *subs[1] = {subject};
    c.Subjects = subs;
    c.SubjectsLen = 1;
    c.Storage = js_FileStorage;
    c.Replicas = n->base.cfg.replicas;
    if (dedup_ns) c.Duplicates = dedup_ns;
    if (per_subject) c.MaxMsgsPerSubject = per_subject;
    if (max_age_ns) {
        c.MaxAge = max_age_ns; /* the server wants the dedup window no longer */
        int64_t w = dedup_ns ? dedup_ns : 120000000000LL;
        c.Duplicates = w < max_age_ns ? w : max_age_ns;
    }
    je = 0;
    s = js_AddStream(&si, n->js, &c, &o, &je);
    if (s == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return TP_OK;
    }
    if (js_GetStreamInfo(&si, n->js, name, &o, NULL) == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return TP_OK;
    }
    return tpn_status(s, je, name);
}

static const char *const tpn_bucket_name[TP_KV__COUNT] = {"leases", "budgets"};

/* The budget bucket is TPN_BUDGET_SHARDS streams, a key's by its hash: a compare-and-set
 * conflicts only with writes to the same shard (revisions are per stream), so grants for
 * different campaigns retry less. Shard 0 keeps the unsharded names. */
#define TPN_BUDGET_SHARDS 4

static uint32_t tpn_shard(tp_bucket b, const char *key) {
    return b == TP_KV_BUDGETS ? tp_partition(key, strlen(key), TPN_BUDGET_SHARDS) : 0;
}

/* "<pre>_kv_<bucket>[<shard>]" and "<pre>.kv.<bucket>[<shard>]." */
static void tpn_shard_names(tpn *n, tp_bucket b, uint32_t k, char stream[96], char subj[96]) {
    char sh[16] = "";
    if (k) snprintf(sh, sizeof sh, "%u", k);
    snprintf(stream, 96, "%s_kv_%s%s", n->pre, tpn_bucket_name[b], sh);
    snprintf(subj, 96, "%s.kv.%s%s.", n->pre, tpn_bucket_name[b], sh);
}

static int tpn_last_seq(tpn *n, const char *stream, uint64_t *seq);

/* A budget bucket written by a node of the one-stream layout (before the shards): its
 * records of the keys that now belong to shards 1.. are in shard 0's stream, so a node
 * of this layout would not find them and would create them again with the whole cap:
 * an overspend. Such a bucket is refused before any shard is created (docs/deploy.md
 * "Upgrading"). Shard 0 with messages and no shard 1 is that layout: a node of this
 * layout creates every shard before its first budget write. */
static int tpn_budget_layout(tpn *n) {
    char s0[96], s1[96], subj[96];
    uint64_t last = 0;
    tpn_shard_names(n, TP_KV_BUDGETS, 0, s0, subj);
    tpn_shard_names(n, TP_KV_BUDGETS, 1, s1, subj);
    int rc = tpn_last_seq(n, s0, &last);
    if (rc == TP_ENOTFOUND || (rc == TP_OK && !last)) return TP_OK;
    if (rc != TP_OK) return rc;
    uint64_t l1;
    rc = tpn_last_seq(n, s1, &l1);
    if (rc != TP_ENOTFOUND) return rc;
    return tp_fail(TP_EIO,
                   "%s holds budget records of the one-stream layout (an older promo node): "
                   "stop every node and recreate the budget streams before starting this "
                   "version (docs/deploy.md \"Upgrading\")",
                   s0);
}

static int tpn_bucket(tpn *n, tp_bucket b, int64_t max_age_ms) {
    uint32_t shards = b == TP_KV_BUDGETS ? TPN_BUDGET_SHARDS : 1;
    if (b == TP_KV_BUDGETS) {
        int rc = tpn_budget_layout(n);
        if (rc != TP_OK) return rc;
    }
    for (uint32_t k = 0; k < shards; k++) {
        char name[96], subj[96];
        tpn_shard_names(n, b, k, name, subj);
        strcat(subj, ">");
        int rc = tpn_stream(n, name, subj, 0, 1, max_age_ms * 1000000);
        if (rc != TP_OK) return rc;
    }
    return TP_OK;
}

static int tpn_setup(tp *t) {
    tpn *n = TPN(t);
    char name[96], subj[96];
    int rc;
    snprintf(name, sizeof name, "%s_in", n->pre);
    snprintf(subj, sizeof subj, "%s.in.>", n->pre);
    /* Retention: the longest a partition may stay unowned without losing input. */
    if ((rc = tpn_stream(n, name, subj, t->cfg.dedup_ms * 1000000, 0,
                         t->cfg.retention_ms * 1000000)) != TP_OK)
        return rc;
    /* Lease max-age: a lease nobody renews disappears (2.9 has no per-key TTL); the
     * holder renews far more often, and claimants judge expiry by the record's age. */
    if ((rc = tpn_bucket(n, TP_KV_LEASES, t->cfg.lease_ttl_ms * 20)) != TP_OK) return rc;
    return tpn_bucket(n, TP_KV_BUDGETS, 0);
}

/* The changelog stream of a partition, created on first use. */
static int tpn_log(tpn *n, uint32_t part, char stream[96], char subj[96]) {
    snprintf(stream, 96, "%s_log_%u", n->pre, part);
    snprintf(subj, 96, "%s.log.%u", n->pre, part);
    pthread_mutex_lock(&n->mu);
    int known = n->logs[part];
    pthread_mutex_unlock(&n->mu);
    if (known) return TP_OK;
    int rc = tpn_stream(n, stream, subj, 0, 0, 0);
    if (rc == TP_OK) {
        pthread_mutex_lock(&n->mu);
        n->logs[part] = 1;
        pthread_mutex_unlock(&n->mu);
    }
    return rc;
}

static int tpn_publish(tp *t, uint32_t part, const char *msgid, const char *reply, const void *data,
                       int len, int *duplicate) {
    tpn *n = TPN(t);
    char subj[96];
    snprintf(subj, sizeof subj, "%s.in.%u", n->pre, part);
    natsMsg *m = NULL;
    natsStatus s = natsMsg_Create(&m, subj, NULL, data, len);
    if (s == NATS_OK && reply && *reply) s = natsMsgHeader_Set(m, "Promo-Reply", reply);
    if (s != NATS_OK) {
        natsMsg_Destroy(m);
        return tpn_status(s, 0, "publish");
    }
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = msgid;
    po.MaxWait = t->cfg.timeout_ms;
    jsPubAck *pa = NULL;
    jsErrCode je = 0;
    s = js_PublishMsg(&pa, n->js, m, &po, &je);
    natsMsg_Destroy(m);
    if (s == NATS_OK && duplicate) *duplicate = pa->Duplicate;
    jsPubAck_Destroy(pa);
    return tpn_status(s, je, "publish");
}

static void tpn_fill(tp_msg *out, natsMsg *m, uint32_t part) {
    out->data = natsMsg_GetData(m);
    out->len = natsMsg_GetDataLength(m);
    const char *v = NULL;
    out->msgid = natsMsgHeader_Get(m, "Nats-Msg-Id", &v) == NATS_OK && v ? v : "";
    v = NULL;
    out->reply = natsMsgHeader_Get(m, "Promo-Reply", &v) == NATS_OK && v ? v : "";
    out->partition = part;
    out->seq = out->delivered = 0;
    jsMsgMetaData *md = NULL;
    if (natsMsg_GetMetaData(&md, m) == NATS_OK) {
        out->seq = md->Sequence.Stream;
        out->delivered = md->NumDelivered;
        jsMsgMetaData_Destroy(md);
    }
    out->impl = m;
}

/* An ordered consumer (ephemeral push, no acks, restarted by libnats from the last
 * sequence seen when it detects a gap) on `subj` from sequence after + 1. */
static natsStatus tpn_ordered(tpn *n, const char *stream, const char *subj, uint64_t after,
                              natsSubscription **sub, jsErrCode *je) {
    jsOptions o = tpn_jsopts(n);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream;
    so.Ordered = true;
    so.Config.DeliverPolicy = js_DeliverByStartSequence;
    so.Config.OptStartSeq = after + 1;
    natsStatus s = js_SubscribeSync(sub, n->js, subj, &o, &so, je);
    if (s == NATS_OK) s = natsSubscription_SetPendingLimits(*sub, -1, -1);
    return s;
}

typedef struct tpn_in {
    natsSubscription *ns;
    uint32_t part;
} tpn_in;

/* Input of a partition from the stream sequence after `after`, in order: an ordered
 * consumer (ephemeral, no acks; libnats restarts it from the last sequence seen when it
 * detects a gap). Where a partition's input stands is the changelog's business. */
static int tpn_in_open(tp *t, uint32_t part, uint64_t after, void **sub) {
    tpn *n = TPN(t);
    char subj[96], stream[96];
    snprintf(subj, sizeof subj, "%s.in.%u", n->pre, part);
    snprintf(stream, sizeof stream, "%s_in", n->pre);
    tpn_in *in = xcalloc(1, sizeof *in);
    in->part = part;
    jsErrCode je = 0;
    natsStatus s = tpn_ordered(n, stream, subj, after, &in->ns, &je);
    if (s != NATS_OK) {
        natsSubscription_Destroy(in->ns);
        free(in);
        in = NULL;
    }
    *sub = in;
    return tpn_status(s, je, "input subscribe");
}

static int tpn_in_next(tp *t, void *sub, tp_msg *out, int max, int timeout_ms) {
    tpn_in *in = sub;
    natsSubscription *ns = in->ns;
    int k = 0;
    (void)t;
    while (k < max) {
        natsMsg *m = NULL;
        natsStatus s = natsSubscription_NextMsg(&m, ns, k ? 1 : timeout_ms);
        if (s != NATS_OK) {
            if (k) break;
            return tpn_status(s, 0, "input");
        }
        tpn_fill(&out[k++], m, in->part);
        int pending = 0;
        if (natsSubscription_GetPending(ns, &pending, NULL) != NATS_OK || pending == 0) break;
    }
    return k;
}

static void tpn_in_close(tp *t, void *sub) {
    tpn_in *in = sub;
    (void)t;
    if (!in) return;
    natsSubscription_Unsubscribe(in->ns);
    natsSubscription_Destroy(in->ns);
    free(in);
}

static void tpn_msg_free(tp *t, tp_msg *m) {
    (void)t;
    natsMsg_Destroy((natsMsg *)m->impl);
    m->impl = NULL;
}

static int tpn_send(tp *t, const char *subject, const void *data, int len) {
    return tpn_status(natsConnection_Publish(TPN(t)->nc, subject, data, len), 0, "send");
}

static int tpn_inbox_open(tp *t, char *name, size_t cap, void **inbox) {
    natsInbox *ib = NULL;
    natsSubscription *sub = NULL;
    natsStatus s = natsInbox_Create(&ib);
    if (s == NATS_OK) s = natsConnection_SubscribeSync(&sub, TPN(t)->nc, ib);
    if (s == NATS_OK) s = natsSubscription_SetPendingLimits(sub, -1, -1);
    if (s == NATS_OK) snprintf(name, cap, "%s", (const char *)ib);
    natsInbox_Destroy(ib);
    *inbox = sub;
    return tpn_status(s, 0, "inbox");
}

static int tpn_inbox_next(tp *t, void *inbox, char **data, int *len, int timeout_ms) {
    (void)t;
    natsMsg *m = NULL;
    natsStatus s = natsSubscription_NextMsg(&m, (natsSubscription *)inbox, timeout_ms);
    if (s != NATS_OK) return tpn_status(s, 0, "inbox");
    *len = natsMsg_GetDataLength(m);
    *data = xmalloc((size_t)*len + 1);
    memcpy(*data, natsMsg_GetData(m), (size_t)*len);
    (*data)[*len] = 0;
    natsMsg_Destroy(m);
    return TP_OK;
}

static void tpn_inbox_close(tp *t, void *inbox) {
    (void)t;
    natsSubscription_Destroy((natsSubscription *)inbox);
}

static int tpn_request(tp *t, uint32_t part, const void *data, int len, int timeout_ms,
                       char **reply, int *rlen) {
    tpn *n = TPN(t);
    char subj[96];
    snprintf(subj, sizeof subj, "%s.rq.%u", n->pre, part);
    natsMsg *m = NULL;
    natsStatus s = natsConnection_Request(&m, n->nc, subj, data, len, timeout_ms);
    if (s == NATS_NO_RESPONDERS)
        return tp_fail(TP_ETIMEOUT, "request: no owner of partition %u", part);
    if (s != NATS_OK) return tpn_status(s, 0, "request");
    *rlen = natsMsg_GetDataLength(m);
    *reply = xmalloc((size_t)*rlen + 1);
    memcpy(*reply, natsMsg_GetData(m), (size_t)*rlen);
    (*reply)[*rlen] = 0;
    natsMsg_Destroy(m);
    return TP_OK;
}

static int tpn_serve_open(tp *t, uint32_t part, void **srv) {
    tpn *n = TPN(t);
    char subj[96];
    snprintf(subj, sizeof subj, "%s.rq.%u", n->pre, part);
    natsSubscription *sub = NULL;
    natsStatus s = natsConnection_QueueSubscribeSync(&sub, n->nc, subj, "owner");
    *srv = sub;
    return tpn_status(s, 0, "serve");
}

static int tpn_serve_next(tp *t, void *srv, tp_req *rq, int timeout_ms) {
    (void)t;
    natsMsg *m = NULL;
    natsStatus s = natsSubscription_NextMsg(&m, (natsSubscription *)srv, timeout_ms);
    if (s != NATS_OK) return tpn_status(s, 0, "serve");
    rq->data = natsMsg_GetData(m);
    rq->len = natsMsg_GetDataLength(m);
    rq->impl = m;
    return TP_OK;
}

static int tpn_respond(tp *t, tp_req *rq, const void *data, int len) {
    const char *to = natsMsg_GetReply((natsMsg *)rq->impl);
    if (!to) return tp_fail(TP_EARG, "respond: the request has no reply subject");
    return tpn_send(t, to, data, len);
}

static void tpn_request_done(tp *t, tp_req *rq) {
    (void)t;
    natsMsg_Destroy((natsMsg *)rq->impl);
    rq->impl = NULL;
}

static void tpn_serve_close(tp *t, void *srv) {
    (void)t;
    natsSubscription_Unsubscribe((natsSubscription *)srv);
    natsSubscription_Destroy((natsSubscription *)srv);
}

static int64_t tpn_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* First and last sequence of a stream (first 1 when nothing was ever removed, last 0
 * when empty), read from its leader. Either pointer may be NULL. */
static int tpn_seqs(tpn *n, const char *stream, uint64_t *first, uint64_t *last) {
    jsStreamInfo *si = NULL;
    jsOptions o = tpn_jsopts(n);
    jsErrCode je = 0;
    natsStatus s = js_GetStreamInfo(&si, n->js, stream, &o, &je);
    if (s != NATS_OK) return tpn_status(s, je, stream);
    if (first) *first = si->State.FirstSeq ? si->State.FirstSeq : 1;
    if (last) *last = si->State.LastSeq;
    jsStreamInfo_Destroy(si);
    return TP_OK;
}

static int tpn_last_seq(tpn *n, const char *stream, uint64_t *seq) {
    return tpn_seqs(n, stream, NULL, seq);
}

/* The last message on `subj` (NULL, TP_OK when there is none). */
static int tpn_last_msg(tpn *n, const char *stream, const char *subj, natsMsg **m) {
    jsOptions o = tpn_jsopts(n);
    jsErrCode je = 0;
    *m = NULL;
    natsStatus s = js_GetLastMsg(m, n->js, stream, subj, &o, &je);
    if (s == NATS_NOT_FOUND || je == JSNoMessageFoundErr) {
        *m = NULL;
        return TP_OK;
    }
    return tpn_status(s, je, subj);
}

/* Publishes iff the stream's last sequence is `expect` (0: empty). */
static int tpn_append(tpn *n, const char *subj, uint64_t expect, const void *data, int len,
                      uint64_t *seq) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = n->base.cfg.timeout_ms;
    po.ExpectLastSeq = expect;
    natsMsg *m = NULL;
    natsStatus s = natsMsg_Create(&m, subj, NULL, data, len);
    /* libnats sends the header only for a non-zero value: "empty" must be explicit. */
    if (s == NATS_OK && !expect) s = natsMsgHeader_Set(m, "Nats-Expected-Last-Sequence", "0");
    jsPubAck *pa = NULL;
    jsErrCode je = 0;
    if (s == NATS_OK) s = js_PublishMsg(&pa, n->js, m, &po, &je);
    natsMsg_Destroy(m);
    if (s == NATS_OK && seq) *seq = pa->Sequence;
    jsPubAck_Destroy(pa);
    return tpn_status(s, je, subj);
}

static void tpn_kv_names(tpn *n, tp_bucket b, const char *key, char stream[96], char subj[192]) {
    char pre[96];
    tpn_shard_names(n, b, tpn_shard(b, key), stream, pre);
    snprintf(subj, 192, "%s%s", pre, key);
}

/* The record of `key` (m NULL when there is none), its age filled in `out`. */
static int tpn_kv_fill(natsMsg *m, const char *key, tp_kv *out) {
    if (!m) return tp_fail(TP_ENOTFOUND, "%s: not found", key);
    out->age_ms = (tpn_now_ns() - natsMsg_GetTime(m)) / 1000000;
    int len = natsMsg_GetDataLength(m);
    if (len >= (int)sizeof out->val) len = (int)sizeof out->val - 1;
    memcpy(out->val, natsMsg_GetData(m), (size_t)len);
    out->val[len] = 0;
    out->len = len;
    natsMsg_Destroy(m);
    return TP_OK;
}

/* rev = the bucket's last sequence, read BEFORE the value: a write that lands between
 * the two reads moves the stream past rev, so a CAS from this read fails. A bucket's
 * stream loses messages only to a newer one on the same subject (one kept per key) or,
 * the lease bucket, to its max-age (oldest first): so the newest message of the stream
 * (a message get on its wildcard subject) carries its last sequence, a lighter request
 * than the stream's info; when it is the key's own record, it is the only one. Only an
 * empty stream (every record aged out) needs the stream's info for its last sequence
 * (read before the record, as above). */
static int tpn_kv_get(tp *t, tp_bucket b, const char *key, tp_kv *out) {
    tpn *n = TPN(t);
    char stream[96], subj[192], sh[96], all[96];
    tpn_kv_names(n, b, key, stream, subj);
    tpn_shard_names(n, b, tpn_shard(b, key), sh, all);
    strcat(all, ">");
    memset(out, 0, sizeof *out);
    uint64_t last = 0;
    natsMsg *m = NULL, *lm = NULL;
    tp_kv_stats *st = &t->kv_stats[b];
    st->reads++;
    int rc = tpn_last_msg(n, stream, all, &lm);
    if (rc != TP_OK) return rc;
    if (!lm) { /* empty: the last sequence first, then the record (written since?) */
        st->infos++;
        st->reads++;
        rc = tpn_last_seq(n, stream, &last);
        if (rc == TP_OK) rc = tpn_last_msg(n, stream, subj, &m);
    } else {
        last = natsMsg_GetSequence(lm);
        if (!strcmp(natsMsg_GetSubject(lm), subj)) {
            m = lm;
        } else {
            natsMsg_Destroy(lm);
            st->reads++;
            rc = tpn_last_msg(n, stream, subj, &m);
        }
    }
    if (rc != TP_OK) return rc;
    out->rev = last;
    return tpn_kv_fill(m, key, out);
}

static int tpn_kv_read(tp *t, tp_bucket b, const char *key, tp_kv *out) {
    tpn *n = TPN(t);
    char stream[96], subj[192];
    tpn_kv_names(n, b, key, stream, subj);
    memset(out, 0, sizeof *out);
    natsMsg *m = NULL;
    t->kv_stats[b].reads++;
    int rc = tpn_last_msg(n, stream, subj, &m);
    return rc == TP_OK ? tpn_kv_fill(m, key, out) : rc;
}

static int tpn_kv_put(tp *t, tp_bucket b, const char *key, const char *val) {
    tpn *n = TPN(t);
    char stream[96], subj[192];
    tpn_kv_names(n, b, key, stream, subj);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = t->cfg.timeout_ms;
    jsErrCode je = 0;
    t->kv_stats[b].writes++;
    natsStatus s = js_Publish(NULL, n->js, subj, val, (int)strlen(val), &po, &je);
    return tpn_status(s, je, subj);
}

/* A CAS whose answer was lost may still have been applied: the value written is unique
 * (callers put a nonce in it), so reading it back tells. */
static int tpn_kv_cas(tp *t, tp_bucket b, const char *key, const char *val, uint64_t expect_rev,
                      uint64_t *new_rev) {
    tpn *n = TPN(t);
    char stream[96], subj[192];
    tpn_kv_names(n, b, key, stream, subj);
    uint64_t seq = 0;
    t->kv_stats[b].writes++;
    int rc = tpn_append(n, subj, expect_rev, val, (int)strlen(val), &seq);
    if (rc == TP_OK) {
        if (new_rev) *new_rev = seq;
        return TP_OK;
    }
    if (rc == TP_EFENCED) {
        t->kv_stats[b].conflicts++;
        return tp_fail(TP_ECONFLICT, "%s: the bucket moved", key);
    }
    tp_kv now;
    int rc2 = tpn_kv_get(t, b, key, &now);
    if (rc2 == TP_OK && !strcmp(now.val, val)) {
        natsMsg *m;
        if (tpn_last_msg(n, stream, subj, &m) == TP_OK && m) {
            if (new_rev) *new_rev = natsMsg_GetSequence(m);
            natsMsg_Destroy(m);
            return TP_OK;
        }
    }
    return rc;
}

static int tpn_log_append(tp *t, uint32_t part, uint64_t expect_seq, const void *data, int len,
                          uint64_t *seq) {
    tpn *n = TPN(t);
    char stream[96], subj[96];
    int rc = tpn_log(n, part, stream, subj);
    if (rc != TP_OK) return rc;
    rc = tpn_append(n, subj, expect_seq, data, len, seq);
    return rc == TP_EFENCED ? tp_fail(TP_EFENCED, "partition %u: changelog moved past %llu", part,
                                      (unsigned long long)expect_seq)
                            : rc;
}

static int tpn_log_last(tp *t, uint32_t part, uint64_t *seq) {
    tpn *n = TPN(t);
    char stream[96], subj[96];
    int rc = tpn_log(n, part, stream, subj);
    return rc == TP_OK ? tpn_last_seq(n, stream, seq) : rc;
}

static int tpn_log_first(tp *t, uint32_t part, uint64_t *seq) {
    tpn *n = TPN(t);
    char stream[96], subj[96];
    int rc = tpn_log(n, part, stream, subj);
    return rc == TP_OK ? tpn_seqs(n, stream, seq, NULL) : rc;
}

static int tpn_log_trim(tp *t, uint32_t part, uint64_t below) {
    tpn *n = TPN(t);
    char stream[96], subj[96];
    int rc = tpn_log(n, part, stream, subj);
    if (rc != TP_OK) return rc;
    jsOptions o = tpn_jsopts(n);
    o.Stream.Purge.Sequence = below; /* up to but not including */
    jsErrCode je = 0;
    return tpn_status(js_PurgeStream(n->js, stream, &o, &je), je, "log trim");
}

static int tpn_log_read(tp *t, uint32_t part, uint64_t after,
                        int (*fn)(void *, uint64_t, const char *, int), void *arg) {
    tpn *n = TPN(t);
    uint64_t last = 0;
    int rc = tpn_log_last(t, part, &last);
    if (rc != TP_OK || last <= after) return rc;
    char subj[96], stream[96];
    tpn_log(n, part, stream, subj);
    natsSubscription *sub = NULL;
    jsErrCode je = 0;
    natsStatus s = tpn_ordered(n, stream, subj, after, &sub, &je);
    if (s != NATS_OK) return tpn_status(s, je, "log read");
    uint64_t seq = after;
    while (rc == TP_OK && seq < last) {
        natsMsg *m = NULL;
        s = natsSubscription_NextMsg(&m, sub, (int)t->cfg.timeout_ms);
        if (s != NATS_OK) {
            rc = tpn_status(s, 0, "log read");
            break;
        }
        jsMsgMetaData *md = NULL;
        if (natsMsg_GetMetaData(&md, m) == NATS_OK) {
            seq = md->Sequence.Stream;
            jsMsgMetaData_Destroy(md);
            rc = fn(arg, seq, natsMsg_GetData(m), natsMsg_GetDataLength(m));
        }
        natsMsg_Destroy(m);
    }
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    return rc;
}

static void tpn_close(tp *t) {
    tpn *n = TPN(t);
    if (!n) return;
    jsCtx_Destroy(n->js);
    natsConnection_Destroy(n->nc);
    pthread_mutex_destroy(&n->mu);
    free(n->logs);
    free(n);
}

static const tp_ops tpn_ops = {
    .setup = tpn_setup,
    .publish = tpn_publish,
    .in_open = tpn_in_open,
    .in_next = tpn_in_next,
    .in_close = tpn_in_close,
    .msg_free = tpn_msg_free,
    .send = tpn_send,
    .inbox_open = tpn_inbox_open,
    .inbox_next = tpn_inbox_next,
    .inbox_close = tpn_inbox_close,
    .request = tpn_request,
    .serve_open = tpn_serve_open,
    .serve_next = tpn_serve_next,
    .respond = tpn_respond,
    .request_done = tpn_request_done,
    .serve_close = tpn_serve_close,
    .kv_get = tpn_kv_get,
    .kv_cas = tpn_kv_cas,
    .kv_read = tpn_kv_read,
    .kv_put = tpn_kv_put,
    .log_append = tpn_log_append,
    .log_last = tpn_log_last,
    .log_first = tpn_log_first,
    .log_trim = tpn_log_trim,
    .log_read = tpn_log_read,
    .close = tpn_close,
};

int tp_nats_open(const tp_config *cfg, tp **out) {
    *out = NULL;
    if (!cfg->url || !cfg->partitions || cfg->partitions > 4096)
        return tp_fail(TP_EARG, "tp: need a url and 1..4096 partitions");
    tpn *n = xcalloc(1, sizeof *n);
    n->base.ops = &tpn_ops;
    n->base.cfg = *cfg;
    if (!n->base.cfg.replicas) n->base.cfg.replicas = 3;
    if (!n->base.cfg.lease_ttl_ms) n->base.cfg.lease_ttl_ms = 5000;
    if (!n->base.cfg.dedup_ms) n->base.cfg.dedup_ms = 120000;
    if (!n->base.cfg.retention_ms) n->base.cfg.retention_ms = 24 * 3600 * 1000LL;
    if (!n->base.cfg.timeout_ms) n->base.cfg.timeout_ms = 5000;
    snprintf(n->pre, sizeof n->pre, "%s", cfg->prefix ? cfg->prefix : "promo");
    n->base.cfg.prefix = n->pre;
    pthread_mutex_init(&n->mu, NULL);
    n->logs = xcalloc(cfg->partitions, 1);
    natsOptions *o = NULL;
    natsStatus s = natsOptions_Create(&o);
    /* "a,b,c" -> a server list (libnats 3.4's SetURL takes one URL) */
    char urls[1024];
    const char *servers[16];
    int nservers = 0;
    snprintf(urls, sizeof urls, "%s", cfg->url);
    for (char *save = NULL, *u = strtok_r(urls, ", ", &save); u && nservers < 16;
         u = strtok_r(NULL, ", ", &save))
        servers[nservers++] = u;
    if (s == NATS_OK) s = natsOptions_SetServers(o, servers, nservers);
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(o, -1);
    if (s == NATS_OK) s = natsOptions_SetReconnectWait(o, 100);
    if (s == NATS_OK) s = natsOptions_SetTimeout(o, n->base.cfg.timeout_ms);
    if (s == NATS_OK) s = natsOptions_SetRetryOnFailedConnect(o, false, NULL, NULL);
    if (s == NATS_OK) s = natsConnection_Connect(&n->nc, o);
    natsOptions_Destroy(o);
    jsOptions jo = tpn_jsopts(n);
    if (s == NATS_OK) s = natsConnection_JetStream(&n->js, n->nc, &jo);
    if (s != NATS_OK) {
        int rc = tpn_status(s, 0, cfg->url);
        tpn_close(&n->base);
        return rc;
    }
    int rc = tpn_setup(&n->base);
    if (rc != TP_OK) {
        tpn_close(&n->base);
        return rc;
    }
    *out = &n->base;
    return TP_OK;
}
