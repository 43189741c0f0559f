/*
 * test_node_tp.c — the NATS JetStream adapter (node/tp_nats.c) against a real
 * three-server R3 cluster on loopback: input dedup by message id, pull and ack,
 * request-reply, KV compare-and-set, changelog appends with the expected last sequence.
 */
#include <pthread.h>
#include <nats/nats.h>
#include <string.h>

#include "nats_helpers.h"

Test(tp, publish_dedups_by_message_id_and_input_is_read_in_order_from_a_sequence) {
    char pre[64];
    tp *t = nh_open("tpa", 4, pre);
    int dup = -1;
    cr_assert_eq(t->ops->publish(t, 2, "confirm||r1", "inbox.x", "{\"id\":\"r1\"}", 11, &dup),
                 TP_OK, "%s", tp_errmsg());
    cr_assert_eq(dup, 0);
    cr_assert_eq(t->ops->publish(t, 2, "confirm||r1", "inbox.x", "{\"id\":\"r1\"}", 11, &dup),
                 TP_OK);
    cr_assert_eq(dup, 1, "the same message id within the window is a duplicate");
    cr_assert_eq(t->ops->publish(t, 2, "cancel||r1", "", "{\"op\":\"cancel\"}", 15, &dup), TP_OK);
    cr_assert_eq(dup, 0, "another op on the same id is another message");
    cr_assert_eq(t->ops->publish(t, 1, "confirm||r9", "", "x", 1, &dup), TP_OK);
    cr_assert_eq(t->ops->publish(t, 2, "confirm||r2", "", "{}", 2, &dup), TP_OK);

    void *in;
    tp_msg m[8];
    cr_assert_eq(t->ops->in_open(t, 2, 0, &in), TP_OK, "%s", tp_errmsg());
    int n = 0;
    for (int tries = 0; tries < 20 && n < 3; tries++) {
        int k = t->ops->in_next(t, in, m + n, 8 - n, 500);
        if (k > 0) n += k;
    }
    cr_assert_eq(n, 3, "partition 2 has 3 messages: %d", n);
    cr_assert_str_eq(m[0].msgid, "confirm||r1");
    cr_assert_str_eq(m[0].reply, "inbox.x");
    cr_assert_eq(m[0].len, 11);
    cr_assert(!memcmp(m[0].data, "{\"id\":\"r1\"}", 11));
    cr_assert_eq(m[0].partition, 2);
    cr_assert_str_eq(m[1].msgid, "cancel||r1");
    cr_assert_str_eq(m[1].reply, "");
    cr_assert_str_eq(m[2].msgid, "confirm||r2");
    cr_assert(m[0].seq < m[1].seq && m[1].seq < m[2].seq);
    uint64_t second = m[1].seq;
    for (int i = 0; i < n; i++)
        t->ops->msg_free(t, &m[i]);
    cr_assert_eq(t->ops->in_next(t, in, m, 8, 300), TP_ETIMEOUT, "nothing more");
    t->ops->in_close(t, in);
    /* a new owner reads on from the sequence its changelog names */
    cr_assert_eq(t->ops->in_open(t, 2, second, &in), TP_OK);
    cr_assert_eq(t->ops->in_next(t, in, m, 8, 2000), 1);
    cr_assert_str_eq(m[0].msgid, "confirm||r2");
    t->ops->msg_free(t, &m[0]);
    t->ops->in_close(t, in);
    t->ops->close(t);
}

typedef struct srv_arg {
    tp *t;
    int served;
} srv_arg;

static void *serve_one(void *arg) {
    srv_arg *a = arg;
    void *srv;
    cr_assert_eq(a->t->ops->serve_open(a->t, 3, &srv), TP_OK);
    a->served = 1; /* subscribed */
    tp_req rq;
    if (a->t->ops->serve_next(a->t, srv, &rq, 5000) == TP_OK) {
        char buf[64];
        int n = snprintf(buf, sizeof buf, "got %.*s", rq.len, rq.data);
        a->t->ops->respond(a->t, &rq, buf, n);
        a->t->ops->request_done(a->t, &rq);
        a->served = 2;
    }
    a->t->ops->serve_close(a->t, srv);
    return NULL;
}

Test(tp, request_reply_per_partition) {
    char pre[64];
    tp *t = nh_open("tpc", 4, pre);
    char *rep = NULL;
    int rlen = 0;
    cr_assert_eq(t->ops->request(t, 3, "q", 1, 300, &rep, &rlen), TP_ETIMEOUT,
                 "nobody serves partition 3 yet");
    srv_arg a = {t, 0};
    pthread_t th;
    pthread_create(&th, NULL, serve_one, &a);
    int rc = TP_ETIMEOUT;
    for (int i = 0; i < 50 && rc != TP_OK; i++)
        rc = t->ops->request(t, 3, "q1", 2, 200, &rep, &rlen);
    pthread_join(th, NULL);
    cr_assert_eq(rc, TP_OK, "%s", tp_errmsg());
    cr_assert_str_eq(rep, "got q1");
    cr_assert_eq(a.served, 2);
    free(rep);
    t->ops->close(t);
}

Test(tp, kv_compare_and_set) {
    char pre[64];
    tp *t = nh_open("tpd", 1, pre);
    tp_kv kv, other;
    uint64_t r1, r2;
    cr_assert_eq(t->ops->kv_get(t, TP_KV_BUDGETS, "k", &kv), TP_ENOTFOUND);
    cr_assert_eq(t->ops->kv_cas(t, TP_KV_BUDGETS, "k", "v1 1", kv.rev, &r1), TP_OK, "%s",
                 tp_errmsg());
    cr_assert_eq(t->ops->kv_cas(t, TP_KV_BUDGETS, "k", "v1 2", kv.rev, NULL), TP_ECONFLICT,
                 "a second create from the same read");
    cr_assert_eq(t->ops->kv_get(t, TP_KV_BUDGETS, "k", &kv), TP_OK);
    cr_assert_str_eq(kv.val, "v1 1");
    cr_assert_eq(kv.rev, r1);
    cr_assert(kv.age_ms >= -1000 && kv.age_ms < 5000, "age %lld", (long long)kv.age_ms);
    /* a write to another key moves the bucket: a CAS from an older read must retry */
    cr_assert_eq(t->ops->kv_get(t, TP_KV_BUDGETS, "j", &other), TP_ENOTFOUND);
    cr_assert_eq(t->ops->kv_cas(t, TP_KV_BUDGETS, "j", "w 1", other.rev, NULL), TP_OK);
    cr_assert_eq(t->ops->kv_cas(t, TP_KV_BUDGETS, "k", "v2 3", kv.rev, NULL), TP_ECONFLICT);
    cr_assert_eq(t->ops->kv_get(t, TP_KV_BUDGETS, "k", &kv), TP_OK);
    cr_assert_str_eq(kv.val, "v1 1", "a refused CAS changed nothing");
    cr_assert_eq(t->ops->kv_cas(t, TP_KV_BUDGETS, "k", "v2 4", kv.rev, &r2), TP_OK);
    cr_assert_gt(r2, r1);
    cr_assert_eq(t->ops->kv_get(t, TP_KV_BUDGETS, "j", &other), TP_OK);
    cr_assert_str_eq(other.val, "w 1", "keys are separate");
    t->ops->close(t);
}

/* kv_put and kv_read (heartbeats, lease peeks): no revision, one round trip. */
Test(tp, kv_put_and_read_need_no_revision) {
    char pre[64];
    tp *t = nh_open("tpp", 1, pre);
    tp_kv kv;
    cr_assert_eq(t->ops->kv_read(t, TP_KV_LEASES, "n3", &kv), TP_ENOTFOUND);
    cr_assert_eq(t->ops->kv_put(t, TP_KV_LEASES, "n3", "alive 1"), TP_OK, "%s", tp_errmsg());
    cr_assert_eq(t->ops->kv_put(t, TP_KV_LEASES, "n3", "alive 2"), TP_OK, "%s", tp_errmsg());
    cr_assert_eq(t->ops->kv_read(t, TP_KV_LEASES, "n3", &kv), TP_OK, "%s", tp_errmsg());
    cr_assert_str_eq(kv.val, "alive 2");
    cr_assert(kv.age_ms >= -1000 && kv.age_ms < 5000, "age %lld", (long long)kv.age_ms);
    /* a put moves the bucket like any write: a CAS from a read before it must retry */
    tp_kv p0;
    cr_assert_eq(t->ops->kv_get(t, TP_KV_LEASES, "p0", &p0), TP_ENOTFOUND);
    cr_assert_eq(t->ops->kv_put(t, TP_KV_LEASES, "n3", "alive 3"), TP_OK);
    cr_assert_eq(t->ops->kv_cas(t, TP_KV_LEASES, "p0", "x", p0.rev, NULL), TP_ECONFLICT);
    cr_assert_eq(t->ops->kv_get(t, TP_KV_LEASES, "p0", &p0), TP_ENOTFOUND);
    cr_assert_eq(t->ops->kv_cas(t, TP_KV_LEASES, "p0", "x", p0.rev, NULL), TP_OK, "%s",
                 tp_errmsg());
    t->ops->close(t);
}

/* The lease bucket's records age out (max-age, 20 TTLs): an empty stream still has a last
 * sequence, which kv_get must give (the newest message, which carries it otherwise, is
 * gone), or no lease could ever be written again. */
Test(tp, kv_get_of_a_bucket_whose_records_aged_out, .timeout = 60) {
    char pre[64];
    snprintf(pre, sizeof pre, "tpq%d", (int)getpid());
    tp *t = nh_open_ttl(pre, 1, 100); /* max-age 2 s */
    tp_kv kv;
    cr_assert_eq(t->ops->kv_get(t, TP_KV_LEASES, "p0", &kv), TP_ENOTFOUND);
    cr_assert_eq(kv.rev, 0);
    cr_assert_eq(t->ops->kv_cas(t, TP_KV_LEASES, "p0", "a 1 1", kv.rev, NULL), TP_OK);
    cr_assert_eq(t->ops->kv_put(t, TP_KV_LEASES, "n0", "alive 1"), TP_OK);
    for (int i = 0; i < 100 && t->ops->kv_read(t, TP_KV_LEASES, "p0", &kv) == TP_OK; i++)
        usleep(100000);
    for (int i = 0; i < 100 && t->ops->kv_read(t, TP_KV_LEASES, "n0", &kv) == TP_OK; i++)
        usleep(100000);
    cr_assert_eq(t->ops->kv_read(t, TP_KV_LEASES, "n0", &kv), TP_ENOTFOUND, "aged out");
    cr_assert_eq(t->ops->kv_get(t, TP_KV_LEASES, "p0", &kv), TP_ENOTFOUND);
    cr_assert_eq(kv.rev, 2, "the empty stream's last sequence: %llu", (unsigned long long)kv.rev);
    cr_assert_eq(t->ops->kv_cas(t, TP_KV_LEASES, "p0", "b 2 2", 0, NULL), TP_ECONFLICT);
    cr_assert_eq(t->ops->kv_cas(t, TP_KV_LEASES, "p0", "b 2 3", kv.rev, NULL), TP_OK, "%s",
                 tp_errmsg());
    cr_assert_eq(t->ops->kv_get(t, TP_KV_LEASES, "p0", &kv), TP_OK);
    cr_assert_str_eq(kv.val, "b 2 3");
    cr_assert_eq(kv.rev, 3);
    t->ops->close(t);
}

/* Concurrent increments by compare-and-set from 4 threads: every win is counted once.
 * (libnats' kvStore_Update, on the per-subject expected sequence, fails this on a
 * 3-replica stream of nats-server 2.9: two writers from the same revision both win.) */
typedef struct incr {
    const char *prefix;
    int wins;
} incr;

static void *increment(void *arg) {
    incr *a = arg;
    tp *t = nh_open_as(a->prefix, 1);
    while (a->wins < 40) {
        tp_kv kv;
        int rc = t->ops->kv_get(t, TP_KV_BUDGETS, "n", &kv);
        cr_assert(rc == TP_OK, "%s", tp_errmsg());
        char v[64];
        snprintf(v, sizeof v, "%ld %llu", atol(kv.val) + 1, (unsigned long long)tp_nonce());
        rc = t->ops->kv_cas(t, TP_KV_BUDGETS, "n", v, kv.rev, NULL);
        cr_assert(rc == TP_OK || rc == TP_ECONFLICT, "%s", tp_errmsg());
        if (rc == TP_OK) a->wins++;
    }
    t->ops->close(t);
    return NULL;
}

Test(tp, concurrent_compare_and_set_counts_every_win_once, .timeout = 60) {
    char pre[64];
    tp *t = nh_open("tpf", 1, pre);
    tp_kv kv;
    t->ops->kv_get(t, TP_KV_BUDGETS, "n", &kv);
    cr_assert_eq(t->ops->kv_cas(t, TP_KV_BUDGETS, "n", "0 0", kv.rev, NULL), TP_OK);
    incr a[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (incr){pre, 0};
        pthread_create(&th[i], NULL, increment, &a[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(t->ops->kv_get(t, TP_KV_BUDGETS, "n", &kv), TP_OK);
    cr_assert_eq(atol(kv.val), 160, "counter %s after 160 wins", kv.val);
    t->ops->close(t);
}

static int collect(void *arg, uint64_t seq, const char *data, int len) {
    char *s = arg;
    (void)seq;
    strncat(s, data, (size_t)len);
    strcat(s, ";");
    return TP_OK;
}

Test(tp, log_append_needs_the_last_sequence) {
    char pre[64];
    tp *t = nh_open("tpe", 2, pre);
    uint64_t last = 99, s1, s2;
    cr_assert_eq(t->ops->log_last(t, 1, &last), TP_OK, "%s", tp_errmsg());
    cr_assert_eq(last, 0);
    cr_assert_eq(t->ops->log_append(t, 1, 0, "a", 1, &s1), TP_OK, "%s", tp_errmsg());
    cr_assert_eq(t->ops->log_append(t, 1, 0, "b", 1, NULL), TP_EFENCED, "not empty any more");
    cr_assert_eq(t->ops->log_append(t, 0, 0, "z", 1, NULL), TP_OK, "partition 0 is its own log");
    cr_assert_eq(t->ops->log_append(t, 1, s1, "b", 1, &s2), TP_OK, "%s", tp_errmsg());
    cr_assert_eq(t->ops->log_append(t, 1, s1, "c", 1, NULL), TP_EFENCED);
    cr_assert_eq(t->ops->log_last(t, 1, &last), TP_OK);
    cr_assert_eq(last, s2);
    char got[64] = "";
    cr_assert_eq(t->ops->log_read(t, 1, 0, collect, got), TP_OK, "%s", tp_errmsg());
    cr_assert_str_eq(got, "a;b;");
    got[0] = 0;
    cr_assert_eq(t->ops->log_read(t, 1, s1, collect, got), TP_OK);
    cr_assert_str_eq(got, "b;");
    t->ops->close(t);
}

Test(tp, partition_hash_is_stable_and_spread) {
    cr_assert_eq(tp_partition("c42", 3, 16), tp_partition("c42", 3, 16));
    int seen[16] = {0};
    char k[16];
    for (int i = 0; i < 1600; i++)
        seen[tp_partition(k, (size_t)snprintf(k, sizeof k, "c%d", i), 16)]++;
    for (int p = 0; p < 16; p++)
        cr_assert(seen[p] > 50 && seen[p] < 150, "partition %d: %d", p, seen[p]);
}

/* A budget bucket of the one-stream layout (an older node: every record in the first
 * stream, no shard streams) is refused before anything is created: a node of the
 * sharded layout would not find three quarters of the records there and would create
 * them again with the whole cap (docs/deploy.md "Upgrading"). */
Test(tp, a_budget_bucket_of_the_one_stream_layout_is_refused, .timeout = 60) {
    char pre[64], url[160], s0[96], subj[128], s1[96];
    snprintf(pre, sizeof pre, "tpu%d", (int)getpid());
    nh_url(url);
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    cr_assert_eq(natsConnection_ConnectTo(&nc, url), NATS_OK);
    cr_assert_eq(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    snprintf(s0, sizeof s0, "%s_kv_budgets", pre);
    snprintf(s1, sizeof s1, "%s_kv_budgets1", pre);
    snprintf(subj, sizeof subj, "%s.kv.budgets.>", pre);
    jsStreamConfig c;
    jsStreamConfig_Init(&c);
    c.Name = s0;
    const char *subs[1] = {subj};
    c.Subjects = subs;
    c.SubjectsLen = 1;
    c.Storage = js_FileStorage;
    c.Replicas = 3;
    c.MaxMsgsPerSubject = 1;
    jsStreamInfo *si = NULL;
    jsErrCode je = 0;
    cr_assert_eq(js_AddStream(&si, js, &c, NULL, &je), NATS_OK, "add stream: %d", (int)je);
    jsStreamInfo_Destroy(si);
    snprintf(subj, sizeof subj, "%s.kv.budgets.c00001", pre);
    cr_assert_eq(js_Publish(NULL, js, subj, "1000 0 0 0", 10, NULL, &je), NATS_OK);

    static char u2[160];
    memcpy(u2, url, sizeof u2);
    tp_config cfg = {.url = u2,
                     .partitions = 1,
                     .replicas = 3,
                     .lease_ttl_ms = 1000,
                     .timeout_ms = 5000,
                     .prefix = pre};
    tp *t = NULL;
    cr_assert_neq(tp_nats_open(&cfg, &t), TP_OK, "a one-stream budget bucket was opened");
    cr_assert_null(t);
    cr_assert(strstr(tp_errmsg(), "one-stream layout"), "message: %s", tp_errmsg());
    si = NULL;
    cr_assert_neq(js_GetStreamInfo(&si, js, s1, NULL, &je), NATS_OK,
                  "the refused open created a shard stream");
    /* the same bucket once its first stream is gone opens (the upgrade's last step) */
    cr_assert_eq(js_DeleteStream(js, s0, NULL, &je), NATS_OK);
    cr_assert_eq(tp_nats_open(&cfg, &t), TP_OK, "%s", tp_errmsg());
    t->ops->close(t);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
}
