/*
 * node.c — `promo node`: owns partitions of the scale-out (SPEC 8, docs/deploy.md).
 *
 * One worker thread per partition p in [0, P). A worker that does not own p claims it
 * when it is claimable and this node is p's preferred owner (rendezvous hash over the
 * live nodes), or when nobody has taken it for a lease TTL (failover). Taking over =
 * a fresh engine state, then the changelog replayed, then a fence appended (lease.h).
 * An owner renews its lease, answers requests (calculate, look-ups), and processes its
 * input in batches, in stream order: evaluate + commit in the partition's engine,
 * append the batch to the changelog (fenced; the record names the last input sequence
 * it covers), then reply. A refused or failed append drops the partition: the next
 * owner replays the log and reads the input on from the last sequence logged. Input is
 * never acked or redelivered, so a customer's operations are never reordered.
 * An owner that is not the preferred one hands the partition over (release).
 *
 * State: issue 9's LMDB store per partition (<--state>/p<part>, pstore.h). A batch's
 * changelog record is the store's write set; taking over = the local store (a snapshot
 * at the changelog sequence it records) + the changelog after it, replayed
 * idempotently. Re-sent operations are answered from the store's journal (SPEC 7).
 * Budgets: the engine's budget spend is taken from the shared escrow (escrow.h) by the
 * store wrapper (pstore.h), so Σ spent ≤ cap across every node.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "hash.h"
#include "keys.h"
#include "lease.h"
#include "node.h"
#include "pack.h"
#include "promo.h"
#include "result_json.h"
#include "ops.h"
#include "pstore.h"
#include "rbuf.h"
#include "strbuf.h"
#include "tp.h"
#include "xalloc.h"

#define ND_IDLE_REOPEN_MS 2000
#define ND_MAX_NODES      8 /* node ids 0..7: membership reads every id each round */
/* A changelog record is appended after the message that takes the write set past
 * either bound: records stay well under the engine's max payload (1 MB by default;
 * scripts/cluster.sh sets 8 MB) and far below the store's self-sync. */
#define ND_FLUSH_BYTES  (512 * 1024)
#define ND_FLUSH_WRITES 20000
#define ND_UNPACK_MAX   (64u << 20)  /* largest unpacked message or record */
#define ND_PACK_MIN     512          /* smaller answers go as they are */
#define ND_CKPT_CHUNK   (512 * 1024) /* a checkpoint is appended in records of this size */
#define ND_CKPT_MAX     (1u << 30)   /* largest checkpoint (unpacked) */

typedef struct nd_node nd_node;

typedef struct nd_part {
    nd_node *N;
    uint32_t p;
    int owned;
    lease l;
    promo_engine *eng;
    promo_ctx *ctx;
    ps_store st; /* the partition's LMDB store (pstore.h) */
    size_t replayed;
    void *srv;
    void *in;        /* input subscription */
    uint64_t in_seq; /* last input sequence applied (from the changelog) */
    int64_t next_renew, free_since;
    int64_t input_ms; /* when input last came (or the subscription was opened) */
    char *buf;        /* padded copy of an input line */
    size_t bufcap;
    uint64_t nops_pending; /* operations run since the last changelog append */
    strbuf unpacked;       /* an input message or changelog record unpacked (pack.h) */
    /* checkpoints (trimming): records appended since the last one, the first sequence
     * of the last one this owner wrote; on takeover below the changelog's first
     * sequence, the store is restored from the first checkpoint read (restoring) */
    uint32_t since_ckpt;
    uint64_t ckpt_prev;
    int restoring;
    uint64_t replay_prev; /* last changelog sequence replayed (gap check) */
    strbuf ckpt;          /* chunks of the checkpoint being restored */
    uint32_t ckpt_next;   /* its next chunk */
    pthread_t th;
} nd_part;

struct nd_node {
    tp *t;
    promo_bundle *bundle;
    int id;
    char name[64];
    uint32_t P;
    int64_t ttl;
    int batch;
    int verbose;
    uint32_t ckpt_every;   /* changelog records between checkpoints (0: never) */
    const char *state;     /* directory of the partitions' stores */
    int32_t return_window; /* days (--return-window; -1: none) */
    _Atomic uint32_t live; /* bit i: node i heartbeats */
    atomic_int owned;
    nd_part *parts;
    ps_pool pool; /* campaign budgets: the node's escrow slices */
    /* for the exit line (-v) and the bench: operations answered, changelog appends */
    _Atomic uint64_t nops, nappends, nbytes, ncheckpoints, ntrims;
    _Atomic uint64_t run_us, append_us, commit_us; /* summed over the partitions' threads */
};

static volatile sig_atomic_t nd_stop;

static void nd_on_signal(int sig) {
    (void)sig;
    nd_stop = 1;
}

static int64_t nd_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void nd_sleep_ms(int64_t ms) {
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void nd_log(nd_node *N, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void nd_log(nd_node *N, const char *fmt, ...) {
    if (!N->verbose) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "node %d: ", N->id);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- membership: heartbeats "n<id>" in the lease bucket ---------------------------- */

/* Only node <id> writes "n<id>": a plain write, and plain reads of the others (their
 * age is all that counts), no compare-and-set round trips. */
static void nd_heartbeat(nd_node *N) {
    char key[16], val[64];
    snprintf(key, sizeof key, "n%d", N->id);
    snprintf(val, sizeof val, "alive %" PRIu64, tp_nonce());
    N->t->ops->kv_put(N->t, TP_KV_LEASES, key, val);
}

static void nd_membership(nd_node *N) {
    uint32_t live = 1u << N->id;
    for (int i = 0; i < ND_MAX_NODES; i++) {
        char key[16];
        tp_kv kv;
        snprintf(key, sizeof key, "n%d", i);
        if (i != N->id && N->t->ops->kv_read(N->t, TP_KV_LEASES, key, &kv) == TP_OK &&
            kv.age_ms <= N->ttl)
            live |= 1u << i;
    }
    atomic_store(&N->live, live);
}

static void *nd_members_main(void *arg) {
    nd_node *N = arg;
    while (!nd_stop) {
        nd_heartbeat(N);
        nd_membership(N);
        for (int64_t w = 0; w < N->ttl / 3 && !nd_stop; w += 50)
            nd_sleep_ms(50);
    }
    return NULL;
}

/* Rendezvous hashing: the live node with the highest hash of (partition, node). */
static int nd_preferred(nd_node *N, uint32_t p) {
    uint32_t live = atomic_load(&N->live);
    int best = N->id;
    uint64_t bh = 0;
    for (int i = 0; i < ND_MAX_NODES; i++) {
        if (!(live >> i & 1)) continue;
        uint64_t k[2] = {p, (uint64_t)i};
        uint64_t h = promo_hash(k, sizeof k);
        if (h > bh) bh = h, best = i;
    }
    return best;
}

/* ---- partition state -------------------------------------------------------------- */

/* The input line, NUL-terminated and padded for the JSON reader. */
static char *nd_padded(nd_part *P, const char *data, int len) {
    size_t need = (size_t)len + PROMO_JSON_PADDING + 1;
    if (P->bufcap < need) {
        P->buf = xrealloc(P->buf, need);
        P->bufcap = need;
    }
    memcpy(P->buf, data, (size_t)len);
    memset(P->buf + len, 0, PROMO_JSON_PADDING + 1);
    return P->buf;
}

static void nd_error(promo_str id, const char *msg, strbuf *out) {
    char eb[1024];
    size_t n = out_error_to_json(id, 0, msg, eb, sizeof eb);
    sb_add(out, eb, n < sizeof eb ? n : 0);
}

/* Runs one operation line (SPEC 7.1) into `out` (JSON record, no newline). calc_only:
 * a request, which must change nothing (anything but calculate is refused). */
static void nd_run(nd_part *P, const char *data, int len, int calc_only, strbuf *out) {
    char *line = nd_padded(P, data, len);
    promo_op op;
    promo_op_result res;
    promo_str id = {0};
    promo_status st = promo_op_parse_json(P->ctx, line, (size_t)len, &op, &id);
    if (st == PROMO_OK && calc_only && op.op != PROMO_OP_CALCULATE) {
        nd_error(id, "only calculate is answered by request", out);
        return;
    }
    if (st == PROMO_OK) st = promo_op_run(P->ctx, &op, &res);
    if (st != PROMO_OK) {
        nd_error(id, promo_ctx_errmsg(P->ctx), out);
        return;
    }
    sb_add(out, res.json, res.json_len);
}

/* Changelog record of a batch: "W <last input sequence>\n" then the store's write set
 * (pstore.c). Fence records start with 'F'. */
/* A checkpoint record "C <input sequence> <chunk> <chunks>\n" + a chunk of the store's
 * export (a zstd frame once joined): used only by a taker restoring (its store wiped,
 * the changelog trimmed past it); everyone else already has that state. */
static int nd_restore_chunk(nd_part *P, uint64_t seq, const char *data, int len) {
    if (!P->restoring) return TP_OK;
    const char *nl = memchr(data, '\n', (size_t)(len < 80 ? len : 80));
    uint64_t in_seq = 0;
    unsigned k = 0, n = 0;
    if (!nl || sscanf(data, "C %" SCNu64 " %u %u", &in_seq, &k, &n) != 3 || k >= n ||
        k != P->ckpt_next)
        return tp_fail(TP_EIO, "partition %u: checkpoint record %" PRIu64 " out of place", P->p,
                       seq);
    if (k == 0) P->ckpt.len = 0;
    sb_add(&P->ckpt, nl + 1, (size_t)(data + len - nl - 1));
    P->ckpt_next = k + 1;
    if (k + 1 < n) return TP_OK;
    P->unpacked.len = 0;
    int pk = pk_unpack(&P->unpacked, P->ckpt.data, P->ckpt.len, ND_CKPT_MAX);
    const strbuf *body = pk > 0 ? &P->unpacked : &P->ckpt;
    if (pk < 0 || ps_restore(&P->st, body->data, body->len) != 0)
        return tp_fail(TP_EIO, "partition %u: checkpoint ending at %" PRIu64 " is corrupt", P->p,
                       seq);
    P->in_seq = in_seq;
    P->restoring = 0;
    P->ckpt_next = 0;
    sb_free(&P->ckpt);
    nd_log(P->N, "partition %u: restored from the checkpoint ending at changelog %" PRIu64, P->p,
           seq);
    return TP_OK;
}

static int nd_replay(void *arg, uint64_t seq, const char *data, int len) {
    nd_part *P = arg;
    /* records are consecutive: a gap is a trim that overtook this read */
    if (P->replay_prev && seq != P->replay_prev + 1)
        return tp_fail(TP_EIO, "partition %u: changelog %" PRIu64 " trimmed while read", P->p,
                       P->replay_prev + 1);
    P->replay_prev = seq;
    if (len >= 2 && data[0] == 'C') return nd_restore_chunk(P, seq, data, len);
    if (P->restoring)
        return tp_fail(TP_EIO, "partition %u: changelog %" PRIu64 " precedes any checkpoint", P->p,
                       seq);
    if (len < 2 || (data[0] != 'W' && data[0] != 'Z')) return TP_OK; /* fence */
    /* "W <seq>\n": the header ends at its newline (binary data follows: scanf's "\n"
     * would also eat the data's leading bytes that look like white space) */
    const char *nl = memchr(data, '\n', (size_t)(len < 32 ? len : 32));
    if (!nl) return TP_OK;
    uint64_t in_seq = strtoull(data + 2, NULL, 10);
    int hdr = (int)(nl + 1 - data);
    const char *ws = data + hdr;
    size_t wlen = (size_t)(len - hdr);
    if (data[0] == 'Z') { /* the write set as a zstd frame */
        P->unpacked.len = 0;
        if (pk_unpack(&P->unpacked, ws, wlen, ND_UNPACK_MAX) != 1)
            return tp_fail(TP_EIO, "partition %u: changelog record %" PRIu64 " is corrupt", P->p,
                           seq);
        ws = P->unpacked.data;
        wlen = P->unpacked.len;
    }
    size_t applied = 0;
    if (ps_apply(&P->st, ws, wlen, &applied) != 0)
        return tp_fail(TP_EIO, "partition %u: changelog record %" PRIu64 " does not apply (%s)",
                       P->p, seq, P->st.err);
    P->in_seq = in_seq;
    P->replayed += applied;
    return TP_OK;
}

static void nd_drop(nd_part *P, int release) {
    nd_node *N = P->N;
    if (!P->owned) return;
    if (release) lease_release(N->t, &P->l);
    if (P->srv) N->t->ops->serve_close(N->t, P->srv);
    if (P->in) N->t->ops->in_close(N->t, P->in);
    P->srv = P->in = NULL;
    P->in_seq = 0;
    ps_budgets_close(&P->st); /* the node keeps its slices for its other partitions */
    promo_ctx_free(P->ctx);
    promo_engine_free(P->eng);
    P->ctx = NULL;
    P->eng = NULL;
    ps_close(&P->st); /* what the changelog does not have is dropped with the overlay */
    P->owned = 0;
    atomic_fetch_sub(&N->owned, 1);
    nd_log(N, "dropped partition %u%s", P->p, release ? " (handed over)" : "");
}

/* Opens the local store (the snapshot) and reads its marker; a store ahead of the
 * changelog (another deployment's, or a log recreated) is wiped. So is a store that does
 * not open (another store format, after an upgrade; a damaged file): the local store only
 * caches what the changelog and its checkpoints hold, so it is rebuilt from them. */
static int nd_open_state(nd_part *P) {
    nd_node *N = P->N;
    char err[512];
    for (int round = 0; round < 2; round++) {
        if (ps_open(&P->st, N->state, P->p, N->return_window, err, sizeof err) != 0) {
            if (round > 0) {
                tp_fail(TP_EIO, "partition %u: %s", P->p, err);
                return -1;
            }
            nd_log(N,
                   "partition %u: local state does not open (%s): wiped, rebuilt from"
                   " the changelog",
                   P->p, err);
            ps_wipe(N->state, P->p);
            continue;
        }
        uint64_t last = 0;
        if (N->t->ops->log_last(N->t, P->p, &last) != TP_OK) {
            ps_close(&P->st);
            return -1;
        }
        uint64_t first = 1;
        if (P->st.log_seq <= last && N->t->ops->log_first(N->t, P->p, &first) != TP_OK) {
            ps_close(&P->st);
            return -1;
        }
        if (P->st.log_seq <= last && (first <= 1 || P->st.log_seq + 1 >= first)) {
            P->restoring = 0;
            return 0;
        }
        if (P->st.log_seq <= last) { /* trimmed past this store: from the checkpoint */
            nd_log(N,
                   "partition %u: local state at %" PRIu64 " is below the changelog's first"
                   " record (%" PRIu64 "): wiped, restoring from the checkpoint",
                   P->p, P->st.log_seq, first);
            ps_close(&P->st);
            ps_wipe(N->state, P->p);
            if (ps_open(&P->st, N->state, P->p, N->return_window, err, sizeof err) != 0) {
                tp_fail(TP_EIO, "partition %u: %s", P->p, err);
                return -1;
            }
            P->restoring = 1;
            P->ckpt_next = 0;
            P->st.log_seq = first - 1; /* replay from the first record, a checkpoint */
            return 0;
        }
        nd_log(N,
               "partition %u: local state at %" PRIu64 " is past the changelog (%" PRIu64
               "): wiped",
               P->p, P->st.log_seq, last);
        ps_close(&P->st);
        ps_wipe(N->state, P->p);
    }
    return -1;
}

static int nd_take(nd_part *P) {
    nd_node *N = P->N;
    if (lease_claim(N->t, P->p, N->name, N->ttl, &P->l) != TP_OK) return -1;
    if (nd_open_state(P) != 0) {
        nd_log(N, "partition %u: %s", P->p, tp_errmsg());
        lease_release(N->t, &P->l);
        return -1;
    }
    promo_engine_opts eo;
    promo_engine_opts_init(&eo);
    eo.store = P->st.wrap;
    if (ps_budgets_open(&P->st, &N->pool) != 0 ||
        promo_engine_new(N->bundle, &eo, &P->eng) != PROMO_OK ||
        promo_ctx_new(P->eng, 0, &P->ctx) != PROMO_OK) {
        nd_log(N, "partition %u: engine or budgets: %s", P->p, tp_errmsg());
        promo_engine_free(P->eng);
        P->eng = NULL;
        ps_budgets_close(&P->st);
        ps_close(&P->st);
        lease_release(N->t, &P->l);
        return -1;
    }
    P->st.eng = P->eng;
    P->owned = 1;
    atomic_fetch_add(&N->owned, 1);
    /* snapshot + changelog: replay what the local store does not reflect yet */
    P->l.tail = P->st.log_seq;
    P->in_seq = P->st.in_seq;
    P->replayed = 0;
    P->replay_prev = P->l.tail;
    P->since_ckpt = 0;
    P->ckpt_prev = 0;
    int64_t t0 = lease_now_ms();
    int rc = lease_takeover(N->t, &P->l, nd_replay, P);
    if (rc == TP_OK && ps_commit(&P->st, P->l.tail, P->in_seq) != 0)
        rc = tp_fail(TP_EIO, "partition %u: local store commit failed", P->p);
    if (rc == TP_OK) rc = N->t->ops->serve_open(N->t, P->p, &P->srv);
    if (rc == TP_OK) rc = N->t->ops->in_open(N->t, P->p, P->in_seq, &P->in);
    if (rc == TP_OK) rc = lease_renew(N->t, &P->l); /* the replay may have been long */
    if (rc != TP_OK) {
        nd_log(N, "takeover of partition %u failed: %s", P->p, tp_errmsg());
        nd_drop(P, 1);
        return -1;
    }
    P->next_renew = lease_now_ms() + N->ttl / 3;
    P->input_ms = lease_now_ms();
    nd_log(N,
           "owns partition %u (epoch %" PRIu64 ", %zu writes replayed in %" PRId64
           " ms, input from %" PRIu64 ")",
           P->p, P->l.epoch, P->replayed, lease_now_ms() - t0, P->in_seq + 1);
    return 0;
}

/* A stored result with "duplicate":true added (SPEC 7: the answer to a re-sent
 * operation); error records stay as they are. */
void nd_duplicate(strbuf *out, const char *res) {
    size_t n = strlen(res);
    if (n && res[n - 1] == '}' && !strstr(res, "\"error\"") && !strstr(res, "\"duplicate\":true")) {
        sb_add(out, res, n - 1);
        sb_puts(out, ",\"duplicate\":true}");
    } else {
        sb_puts(out, res);
    }
}

/* A look-up ("?" + the operation line): what the operation was answered, from the
 * journal, without "duplicate" (it is the asker's own operation); "" when the journal
 * does not have it (not processed yet). Changes nothing. */
static void nd_lookup(nd_part *P, const char *data, int len, strbuf *out) {
    char *line = nd_padded(P, data, len);
    promo_op op;
    promo_op_result res;
    promo_str id = {0};
    if (promo_op_parse_json(P->ctx, line, (size_t)len, &op, &id) != PROMO_OK) return;
    promo_store *st = &P->st.wrap;
    if (op.op == PROMO_OP_CONFIRM) {
        int pending = 0;
        if (ops_prepare(P->ctx, &op, &res, &pending) != PROMO_OK || !res.duplicate) return;
        static const char dup[] = ",\"duplicate\":true}";
        size_t n = res.json_len, d = sizeof dup - 1;
        if (n >= d && !memcmp(res.json + n - d, dup, d)) {
            sb_add(out, res.json, n - d);
            sb_putc(out, '}');
        }
        return;
    }
    if (op.op != PROMO_OP_CANCEL && op.op != PROMO_OP_RETURN) return;
    strbuf key = {0};
    rbuf desc;
    rb_init(&desc, NULL);
    sb_add(&key, op.id.p, op.id.n);
    sb_putc(&key, 0);
    if (op.op == PROMO_OP_RETURN) sb_add(&key, op.refund_id.p, op.refund_id.n);
    const void *jd = NULL;
    size_t jl = 0;
    void *rd = NULL;
    promo_str k = {key.data, (uint32_t)key.len};
    if (st->ops->journal(st->self, &rd, k, &jd, &jl) == PROMO_OK && jd &&
        ops_journal_describe(key.data, key.len, jd, jl, &desc) == 0) {
        /* {"id":...,"refund_id"|"cancel":...,"record":<the record>} */
        const char *r = strstr(rb_cstr(&desc), ",\"record\":");
        if (r && desc.len) {
            r += 10;
            sb_add(out, r, (size_t)(desc.data + desc.len - 1 - r));
        }
    }
    if (rd) st->ops->reader_free(st->self, rd);
    sb_free(&key);
    rb_free(&desc);
}

/* Requests: a line to calculate, or "?" + operation lines (joined by newlines) to look
 * up (a client that lost the answer to its own operations): one line each, empty when
 * not processed yet. */
static void nd_serve(nd_part *P) {
    nd_node *N = P->N;
    tp_req rq;
    strbuf out = {0};
    while (N->t->ops->serve_next(N->t, P->srv, &rq, 0) == TP_OK) {
        out.len = 0;
        if (rq.len > 0 && rq.data[0] == '?') {
            const char *p = rq.data + 1, *end = rq.data + rq.len;
            for (int k = 0;; k++) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                const char *e = nl ? nl : end;
                if (k) sb_putc(&out, '\n');
                nd_lookup(P, p, (int)(e - p), &out);
                if (!nl) break;
                p = nl + 1;
            }
        } else {
            nd_run(P, rq.data, rq.len, 1, &out);
        }
        N->t->ops->respond(N->t, &rq, out.data ? out.data : "", (int)out.len);
        N->t->ops->request_done(N->t, &rq);
    }
    sb_free(&out);
}

/* A checkpoint: the whole store (committed: it reflects the changelog up to l.tail),
 * packed, appended in chunks (fenced), then the changelog trimmed below the previous
 * checkpoint (one interval kept: a reader behind the newest one still finds records
 * after the older one). A taker whose store is below the first record restores from
 * the first checkpoint and replays on (nd_open_state, nd_restore_chunk). */
static int nd_checkpoint(nd_part *P) {
    nd_node *N = P->N;
    strbuf raw = {0}, z = {0}, rec = {0};
    if (ps_export(&P->st, &raw) != 0) {
        sb_free(&raw);
        return TP_OK; /* the next interval tries again */
    }
    const char *d = raw.data;
    size_t dl = raw.len;
    if (pk_pack(&z, raw.data, raw.len) == 0) d = z.data, dl = z.len;
    uint32_t nch = dl ? (uint32_t)((dl + ND_CKPT_CHUNK - 1) / ND_CKPT_CHUNK) : 1;
    uint64_t first = 0;
    int rc = TP_OK;
    for (uint32_t k = 0; k < nch && rc == TP_OK; k++) {
        size_t off = (size_t)k * ND_CKPT_CHUNK;
        size_t n = dl - off < ND_CKPT_CHUNK ? dl - off : ND_CKPT_CHUNK;
        rec.len = 0;
        sb_printf(&rec, "C %" PRIu64 " %u %u\n", P->in_seq, k, nch);
        sb_add(&rec, d + off, n);
        rc = lease_append(N->t, &P->l, rec.data, (int)rec.len);
        if (k == 0) first = P->l.tail;
    }
    if (rc == TP_OK && ps_commit(&P->st, P->l.tail, P->in_seq) != 0)
        rc = tp_fail(TP_EIO, "partition %u: local store commit failed", P->p);
    if (rc == TP_OK) {
        N->ncheckpoints++;
        if (P->ckpt_prev && N->t->ops->log_trim(N->t, P->p, P->ckpt_prev) == TP_OK) {
            N->ntrims++;
            nd_log(N, "partition %u: checkpoint at %" PRIu64 " (%zu bytes), trimmed below %" PRIu64,
                   P->p, first, dl, P->ckpt_prev);
        }
        P->ckpt_prev = first;
        P->since_ckpt = 0;
    }
    sb_free(&raw);
    sb_free(&z);
    sb_free(&rec);
    return rc;
}

/* Appends the store batch's write set to the changelog (fenced; the record names the
 * last input sequence it covers), commits the store, then answers. TP_OK, or the
 * append's error (nothing answered: the partition must be dropped). */
static int nd_flush(nd_part *P, tp_msg *m, strbuf *reply, int n) {
    nd_node *N = P->N;
    int rc = TP_OK;
    if (P->st.nwrites) {
        strbuf rec = {0};
        sb_printf(&rec, "Z %" PRIu64 "\n", m[n - 1].seq);
        if (pk_pack(&rec, P->st.wset.data, P->st.wset.len) != 0) {
            rec.len = 0; /* as it is */
            sb_printf(&rec, "W %" PRIu64 "\n", m[n - 1].seq);
            sb_add(&rec, P->st.wset.data, P->st.wset.len);
        }
        int64_t t0 = nd_now_us();
        rc = lease_append(N->t, &P->l, rec.data, (int)rec.len);
        int64_t t1 = nd_now_us();
        if (rc == TP_OK && ps_commit(&P->st, P->l.tail, m[n - 1].seq) != 0)
            rc = tp_fail(TP_EIO, "partition %u: local store commit failed", P->p);
        N->append_us += (uint64_t)(t1 - t0);
        N->commit_us += (uint64_t)(nd_now_us() - t1);
        if (rc == TP_OK) {
            N->nappends++;
            N->nbytes += rec.len;
        }
        sb_free(&rec);
    }
    ps_budgets_settle(&P->st, rc == TP_OK);
    if (rc != TP_OK) return rc;
    P->in_seq = m[n - 1].seq;
    N->nops += P->nops_pending;
    P->nops_pending = 0;
    strbuf z = {0};
    for (int i = 0; i < n; i++) {
        if (!m[i].reply[0]) continue;
        /* answers of a batch as a zstd frame (pack.h): they are as large as the input */
        z.len = 0;
        if (reply[i].len >= ND_PACK_MIN && pk_pack(&z, reply[i].data, reply[i].len) == 0)
            N->t->ops->send(N->t, m[i].reply, z.data, (int)z.len);
        else
            N->t->ops->send(N->t, m[i].reply, reply[i].data, (int)reply[i].len);
    }
    sb_free(&z);
    if (N->ckpt_every && ++P->since_ckpt >= N->ckpt_every) return nd_checkpoint(P);
    return TP_OK;
}

/* A batch of input messages, each one operation line or a client's batch of lines
 * (joined by newlines). Every operation runs on the engine (its writes go to the
 * store's overlay and to the write set); after whole messages, when the write set is
 * large, and at the end, the write set is appended to the changelog (fenced), the store
 * committed, and each message answered once: "<message id>\n" + a result line per
 * operation. Re-sent operations are answered from the journal (SPEC 7) and write
 * nothing. */
static void nd_batch(nd_part *P, tp_msg *m, int n) {
    nd_node *N = P->N;
    strbuf *reply = xcalloc((size_t)n, sizeof *reply);
    int64_t t0 = nd_now_us();
    ps_budgets_refresh(&P->st);
    int from = 0, rc = TP_OK;
    for (int i = 0; i < n && rc == TP_OK; i++) {
        sb_printf(&reply[i], "%s\n", m[i].msgid);
        const char *p = m[i].data, *end = m[i].data + m[i].len;
        P->unpacked.len = 0;
        int pk = pk_unpack(&P->unpacked, p, (size_t)m[i].len, ND_UNPACK_MAX);
        if (pk > 0) {
            p = P->unpacked.data;
            end = p + P->unpacked.len;
        } else if (pk < 0) {
            end = p; /* answered with an error record */
        }
        for (int k = 0; p < end || (k == 0 && p == end); k++) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *e = nl ? nl : end;
            if (k) sb_putc(&reply[i], '\n');
            nd_run(P, p, (int)(e - p), 0, &reply[i]);
            P->nops_pending++;
            p = e + 1;
            if (!nl) break;
        }
        if (i + 1 == n || P->st.wset.len >= ND_FLUSH_BYTES || P->st.nwrites >= ND_FLUSH_WRITES) {
            N->run_us += (uint64_t)(nd_now_us() - t0);
            rc = nd_flush(P, m + from, reply + from, i + 1 - from);
            t0 = nd_now_us();
            from = i + 1;
        }
    }
    for (int i = 0; i < n; i++) {
        N->t->ops->msg_free(N->t, &m[i]);
        sb_free(&reply[i]);
    }
    free(reply);
    if (rc != TP_OK) {
        /* Fenced (a newer owner) or unknown outcome: the overlay goes with the store;
         * the changelog and the input stream are the truth. */
        P->nops_pending = 0;
        nd_log(N, "partition %u: append failed (%s): dropping it", P->p, tp_errmsg());
        nd_drop(P, rc != TP_EFENCED);
    }
}

static void *nd_worker(void *arg) {
    nd_part *P = arg;
    nd_node *N = P->N;
    tp_msg *m = xcalloc((size_t)N->batch, sizeof *m);
    char holder[64];
    while (!nd_stop) {
        int64_t now = lease_now_ms();
        if (!P->owned) {
            int claimable = lease_peek(N->t, P->p, N->ttl, holder);
            int mine = nd_preferred(N, P->p) == N->id;
            if (claimable != 1) {
                P->free_since = 0;
            } else if (!P->free_since) {
                P->free_since = now;
            }
            if (claimable == 1 && (mine || now - P->free_since > N->ttl)) nd_take(P);
            /* the preferred owner looks often; another node only as a fallback (once a
             * TTL), or as soon as membership makes it the preferred one (failover) */
            for (int64_t w = 0; !P->owned && !nd_stop && w < (mine ? N->ttl / 5 : N->ttl);
                 w += 50) {
                if (!mine && nd_preferred(N, P->p) == N->id) break;
                nd_sleep_ms(50);
            }
            continue;
        }
        if (now >= P->next_renew) {
            if (lease_renew(N->t, &P->l) != TP_OK) {
                nd_log(N, "partition %u: lease lost (%s)", P->p, tp_errmsg());
                nd_drop(P, 0);
                continue;
            }
            P->next_renew = now + N->ttl / 3;
        }
        if (!lease_live(&P->l)) {
            nd_log(N, "partition %u: lease not renewed in time", P->p);
            nd_drop(P, 0);
            continue;
        }
        int pref = nd_preferred(N, P->p);
        if (pref != N->id && (atomic_load(&N->live) >> pref & 1)) {
            nd_drop(P, 1); /* rebalance: the preferred node is up */
            nd_sleep_ms(N->ttl);
            continue;
        }
        nd_serve(P);
        int n = N->t->ops->in_next(N->t, P->in, m, N->batch, 50);
        if (n > 0) {
            P->input_ms = lease_now_ms();
            nd_batch(P, m, n);
        } else if (lease_now_ms() - P->input_ms > ND_IDLE_REOPEN_MS) {
            /* Idle for a while: read on afresh from the last sequence applied. Cheap,
             * exact, and it revives a subscription whose consumer was lost with a
             * server (libnats 3.4 does not always notice). */
            N->t->ops->in_close(N->t, P->in);
            P->in = NULL;
            if (N->t->ops->in_open(N->t, P->p, P->in_seq, &P->in) != TP_OK) {
                nd_log(N, "partition %u: input subscribe failed (%s)", P->p, tp_errmsg());
                nd_drop(P, 1);
                continue;
            }
            P->input_ms = lease_now_ms();
        }
    }
    nd_drop(P, 1);
    free(m);
    return NULL;
}

/* ---- the command ------------------------------------------------------------------- */

static const char nd_help[] =
    "usage: promo node set.pbc --nats URLS --id N [options]\n"
    "\n"
    "Owns partitions of the scale-out over NATS JetStream (docs/deploy.md): claims them\n"
    "by lease, processes their operations, appends every commit to their changelog.\n"
    "Stops cleanly (handing its partitions over) on SIGINT or SIGTERM.\n"
    "\n"
    "  --nats URLS        nats://host:port[,nats://...] (required)\n"
    "  --state DIR        the partitions' LMDB stores, DIR/p<part> (required)\n"
    "  --id N             this node's number, 0..7, unique (required)\n"
    "  --partitions P     fixed partition count, the same everywhere (default 8)\n"
    "  --replicas R       of streams and buckets created (default 3)\n"
    "  --lease-ms MS      lease TTL (default 5000)\n"
    "  --batch N          input messages per store batch, at most (default 256)\n"
    "  --checkpoint-every N  changelog records between checkpoints, after which the\n"
    "                     changelog is trimmed (default 1000; 0: never)\n"
    "  --return-window N  days a confirmed receipt stays returnable (default 180, as\n"
    "                     promo run; the same on every node)\n"
    "  --prefix NAME      of streams, buckets and subjects (default promo)\n"
    "  -v                 log ownership changes on stderr\n";

int nd_parse_common(int argc, char **argv, int *i, nd_opts *o) {
    const char *a = argv[*i];
#define ND_NEXT() (*i + 1 < argc ? argv[++*i] : NULL)
    const char *v;
    if (!strcmp(a, "--nats")) {
        if (!(v = ND_NEXT())) return -1;
        o->url = v;
    } else if (!strcmp(a, "--partitions")) {
        if (!(v = ND_NEXT()) || (o->partitions = (uint32_t)atoi(v)) < 1 || o->partitions > 4096)
            return -1;
    } else if (!strcmp(a, "--replicas")) {
        if (!(v = ND_NEXT()) || (o->replicas = atoi(v)) < 1 || o->replicas > 5) return -1;
    } else if (!strcmp(a, "--prefix")) {
        if (!(v = ND_NEXT())) return -1;
        o->prefix = v;
    } else if (!strcmp(a, "--timeout-ms")) {
        if (!(v = ND_NEXT()) || (o->timeout_ms = atoll(v)) < 1) return -1;
    } else {
        return 0;
    }
#undef ND_NEXT
    return 1;
}

int nd_open(const nd_opts *o, tp **t) {
    tp_config c = {.url = o->url,
                   .partitions = o->partitions,
                   .replicas = o->replicas,
                   .lease_ttl_ms = o->lease_ms,
                   .timeout_ms = o->timeout_ms,
                   .prefix = o->prefix};
    int rc = TP_EIO;
    for (int tries = 0; tries < 5 && rc != TP_OK; tries++) { /* racing creators time out */
        rc = tp_nats_open(&c, t);
        if (rc != TP_OK) nd_sleep_ms(500);
    }
    if (rc != TP_OK) fprintf(stderr, "promo: %s\n", tp_errmsg());
    return rc;
}

int cmd_node(int argc, char **argv) {
    nd_opts o = {.partitions = 8, .replicas = 3, .lease_ms = 5000, .timeout_ms = 5000};
    const char *bundle_path = NULL, *state = NULL;
    int id = -1, batch = 256, verbose = 0, ckpt_every = 1000;
    long window = 180;
    for (int i = 1; i < argc; i++) {
        int c = nd_parse_common(argc, argv, &i, &o);
        if (c < 0) goto usage;
        if (c > 0) continue;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(nd_help, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--id") && i + 1 < argc) {
            id = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--state") && i + 1 < argc) {
            state = argv[++i];
        } else if (!strcmp(argv[i], "--lease-ms") && i + 1 < argc) {
            o.lease_ms = atoll(argv[++i]);
        } else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
            batch = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--checkpoint-every") && i + 1 < argc) {
            ckpt_every = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--return-window") && i + 1 < argc) {
            char *end;
            window = strtol(argv[++i], &end, 10);
            if (*end || end == argv[i] || window < 0 || window > 36500) goto usage;
        } else if (!strcmp(argv[i], "-v")) {
            verbose = 1;
        } else if (argv[i][0] == '-' || bundle_path) {
            goto usage;
        } else {
            bundle_path = argv[i];
        }
    }
    if (!bundle_path || !o.url || !state || id < 0 || id >= ND_MAX_NODES || o.lease_ms < 100 ||
        batch < 1 || batch > 10000 || ckpt_every < 0)
        goto usage;

    nd_node N = {.id = id,
                 .P = o.partitions,
                 .ttl = o.lease_ms,
                 .batch = batch,
                 .verbose = verbose,
                 .ckpt_every = (uint32_t)ckpt_every,
                 .state = state,
                 .return_window = (int32_t)window};
    snprintf(N.name, sizeof N.name, "node%d", id);
    char err[256];
    if (promo_bundle_load_file(bundle_path, &N.bundle, err, sizeof err) != PROMO_OK) {
        fprintf(stderr, "promo: %s\n", err);
        return 2;
    }
    if (nd_open(&o, &N.t) != TP_OK) {
        promo_bundle_release(N.bundle);
        return 2;
    }
    int pool_rc = -1;
    for (int tries = 0; tries < 10 && pool_rc != 0 && !nd_stop; tries++) {
        if (tries) { /* a budget stream being created, a leader being elected */
            ps_pool_close(&N.pool);
            nd_sleep_ms(500);
        }
        pool_rc = ps_pool_open(&N.pool, N.t, N.bundle);
    }
    if (pool_rc != 0) {
        fprintf(stderr, "promo: budgets: %s\n", tp_errmsg());
        N.t->ops->close(N.t);
        promo_bundle_release(N.bundle);
        return 2;
    }
    struct sigaction sa = {.sa_handler = nd_on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    nd_heartbeat(&N);
    nd_membership(&N);
    pthread_t members;
    pthread_create(&members, NULL, nd_members_main, &N);
    N.parts = xcalloc(N.P, sizeof *N.parts);
    for (uint32_t p = 0; p < N.P; p++) {
        N.parts[p] = (nd_part){.N = &N, .p = p};
        pthread_create(&N.parts[p].th, NULL, nd_worker, &N.parts[p]);
    }
    nd_log(&N, "up, %u partitions", N.P);
    for (uint32_t p = 0; p < N.P; p++)
        pthread_join(N.parts[p].th, NULL);
    pthread_join(members, NULL);
    uint64_t grants = 0, conflicts = 0, grant_us = 0, wait_us = 0, waits = 0, returns = 0;
    for (uint32_t i = 0; i < N.pool.nb; i++) {
        grants += N.pool.b[i].esc.grants;
        conflicts += N.pool.b[i].esc.conflicts;
        grant_us += N.pool.b[i].esc.grant_us;
        wait_us += N.pool.b[i].esc.wait_us;
        waits += N.pool.b[i].esc.waits;
        returns += N.pool.b[i].esc.returns;
    }
    nd_log(&N,
           "stopped: %" PRIu64 " operations, %" PRIu64 " changelog appends (%" PRIu64
           " bytes); escrow %" PRIu64 " grants, %" PRIu64
           " conflicts, %.1f ms granting, %.1f ms of it waited for (%" PRIu64 " grants), %" PRIu64
           " tail reservations given back, %llu records read for views",
           (uint64_t)N.nops, (uint64_t)N.nappends, (uint64_t)N.nbytes, grants, conflicts,
           (double)grant_us / 1000.0, (double)wait_us / 1000.0, waits, returns,
           (unsigned long long)atomic_load(&N.pool.views));
    for (int b = 0; b < TP_KV__COUNT; b++) {
        tp_kv_stats *k = &N.t->kv_stats[b];
        nd_log(&N,
               "%s bucket: %" PRIu64 " record reads, %" PRIu64 " stream infos, %" PRIu64
               " writes (%" PRIu64 " refused by compare-and-set)",
               b == TP_KV_LEASES ? "lease" : "budget", (uint64_t)k->reads, (uint64_t)k->infos,
               (uint64_t)k->writes, (uint64_t)k->conflicts);
    }
    nd_log(&N, "checkpoints: %" PRIu64 ", changelog trims: %" PRIu64, (uint64_t)N.ncheckpoints,
           (uint64_t)N.ntrims);
    nd_log(&N, "thread time: %.1f ms running operations, %.1f ms appending, %.1f ms committing",
           (double)N.run_us / 1000.0, (double)N.append_us / 1000.0, (double)N.commit_us / 1000.0);
    ps_pool_close(&N.pool); /* the slices held go back to the escrow */
    for (uint32_t p = 0; p < N.P; p++) {
        free(N.parts[p].buf);
        sb_free(&N.parts[p].unpacked);
        sb_free(&N.parts[p].ckpt);
    }
    free(N.parts);
    N.t->ops->close(N.t);
    promo_bundle_release(N.bundle);
    return 0;
usage:
    fputs(nd_help, stderr);
    return 2;
}
