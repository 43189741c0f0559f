/*
 * client.c — `promo client`: a JSON-lines stream of operations through the scale-out,
 * results on stdout in input order (what a till gateway or a test driver needs).
 *
 * Each line is routed to its partition (customer id, receipt id when anonymous).
 * cancel and return are routed like the receipt they reverse: by its customer.id when
 * the line carries it (it must, for a receipt that had a customer), else by the receipt
 * id (docs/deploy.md, "Partitions").
 *
 * Batching: a partition's operations, in input order, are cut into batches of up to
 * --batch lines; a batch is one message on the partition's input subject (its lines
 * joined by newlines), with a message id derived from its operations' dedup keys
 * "(op, refund_id, id)" (so the same input batches the same way and a re-published
 * batch is dropped by the stream) and this client's inbox as the reply subject. The
 * owner runs the batch's lines in order, in one store batch and one changelog append,
 * and answers once: "<batch id>\n" + one result line per operation.
 *
 * Pipelining: one publisher thread per partition publishes its batches in order, each
 * re-published (same id) until the stream has stored it before the next is sent, so
 * the owner sees a customer's operations in input order; it keeps at most --window
 * batches of the partition unanswered. The main thread collects answers. A batch with
 * no answer within --timeout-ms is looked up at the owner ("?" + its lines), which
 * answers from its journal, never applying anything twice; after --retries rounds its
 * lines get error records. A batch the stream already had before this run (a re-sent
 * batch) is looked up at once and its answers are marked duplicate. `calculate` is a
 * request-reply sent by the partition's publisher once everything before it in the
 * partition is answered (it sees the state an in-order run would).
 *
 * Every operation is timed from its batch's first publish to its answer (--stats).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "hash.h"
#include "keys.h"
#include "lease.h"
#include "node.h"
#include "pack.h"
#include "promo.h"
#include "result_json.h"
#include "smap.h"
#include "strbuf.h"
#include "xalloc.h"

#define CL_BATCH_BYTES (768 * 1024) /* a batch message stays under max_payload (1 MB) */
#define CL_PACK_MIN    512          /* smaller messages go as they are */
#define CL_UNPACK_MAX  (64u << 20)  /* largest answer */

typedef struct cl_batch cl_batch;

typedef struct cl_op {
    char *line; /* padded */
    int len;
    uint32_t part;
    char *msgid; /* the dedup key "(op, refund_id, id)" */
    int calc;
    int first;       /* 1: the first line with this message id */
    uint64_t lineno; /* in the input, from 1 (error records say it, as promo run's do) */
    char *result;
    int64_t t0, t1; /* µs: its batch's first publish, its answer */
    cl_batch *b;
} cl_op;

struct cl_batch {
    uint32_t part;
    size_t *ops; /* indices into S->ops, input order; one calc op alone when calc */
    int n, cap;
    int calc;
    char msgid[40];
    int stored;  /* the stream acknowledged it */
    int resent;  /* the stream had it before our first publish */
    int done;    /* every op has its result, or was given up */
    int rounds;  /* look-up rounds so far */
    int64_t due; /* ms: look it up after this */
    cl_batch *next_in_part;
};

typedef struct cl_part {
    cl_batch *first, *last;
    int unanswered;    /* batches published and not done */
    pthread_cond_t cv; /* signalled when one of them is done */
    pthread_t th;
    int started;
} cl_part;

typedef struct cl_state {
    tp *t;
    cl_op *ops;
    size_t n;
    cl_batch **batches;
    size_t nb, bcap;
    cl_part *parts;
    smap first; /* message id -> 1 + index of its first line */
    smap bymid; /* batch id -> batch */
    void *inbox;
    char inbox_name[128];
    int64_t timeout;
    int retries, window, batch;
    pthread_mutex_t mu;
    size_t publishers; /* publisher threads still running */
} cl_state;

static const char cl_help[] =
    "usage: promo client --nats URLS [options] [ops.jsonl]\n"
    "\n"
    "Sends a JSON-lines stream of operations (SPEC 4 and 7; stdin without a file) to the\n"
    "partition owners of a scale-out (docs/deploy.md) and writes one result line per input\n"
    "line on stdout, in input order.\n"
    "\n"
    "  --nats URLS        nats://host:port[,nats://...] (required)\n"
    "  --partitions P     the deployment's partition count (default 8)\n"
    "  --batch N          operations of one partition per message, at most (default 128)\n"
    "  --window W         batches of one partition in flight, unanswered (default 4)\n"
    "  --timeout-ms MS    per batch and attempt (default 5000)\n"
    "  --retries N        look-up rounds before an error record (default 5)\n"
    "  --prefix NAME      of streams and subjects (default promo)\n"
    "  --stats            on stderr: operations, wall time, ops/s, latency p50/p99/max\n"
    "                     (from its batch's publish to its answer)\n";

static int64_t cl_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static cl_batch *cl_new_batch(cl_state *S, uint32_t part, int calc) {
    cl_batch *b = xcalloc(1, sizeof *b);
    b->part = part;
    b->calc = calc;
    if (S->nb == S->bcap) {
        S->bcap = S->bcap ? S->bcap * 2 : 256;
        S->batches = xrealloc(S->batches, S->bcap * sizeof *S->batches);
    }
    S->batches[S->nb++] = b;
    cl_part *P = &S->parts[part];
    if (P->last)
        P->last->next_in_part = b;
    else
        P->first = b;
    P->last = b;
    return b;
}

static void cl_add(cl_batch *b, size_t i) {
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16;
        b->ops = xrealloc(b->ops, (size_t)b->cap * sizeof *b->ops);
    }
    b->ops[b->n++] = i;
}

/* The batch id: a hash of its operations' dedup keys (the same input batches the same
 * way, so a re-sent batch has the same id). */
static void cl_batch_id(cl_state *S, cl_batch *b) {
    XXH3_state_t h;
    XXH3_128bits_reset(&h);
    for (int k = 0; k < b->n; k++) {
        const char *m = S->ops[b->ops[k]].msgid;
        XXH3_128bits_update(&h, m, strlen(m) + 1);
    }
    XXH128_hash_t d = XXH3_128bits_digest(&h);
    snprintf(b->msgid, sizeof b->msgid, "B%016" PRIx64 "%016" PRIx64, (uint64_t)d.high64,
             (uint64_t)d.low64);
}

/* Cuts each partition's operations into batches (input order; a calculate is a batch
 * of its own). */
static void cl_plan(cl_state *S) {
    cl_batch **open = xcalloc(S->t->cfg.partitions, sizeof *open);
    size_t *bytes = xcalloc(S->t->cfg.partitions, sizeof *bytes);
    for (size_t i = 0; i < S->n; i++) {
        cl_op *o = &S->ops[i];
        if (o->calc) {
            cl_add(o->b = cl_new_batch(S, o->part, 1), i);
            open[o->part] = NULL;
            continue;
        }
        if (!o->first) continue;
        cl_batch *b = open[o->part];
        if (!b || b->n >= S->batch || bytes[o->part] + (size_t)o->len > CL_BATCH_BYTES) {
            b = open[o->part] = cl_new_batch(S, o->part, 0);
            bytes[o->part] = 0;
        }
        cl_add(b, i);
        bytes[o->part] += (size_t)o->len + 1;
        o->b = b;
    }
    for (size_t k = 0; k < S->nb; k++) {
        if (S->batches[k]->calc) continue;
        cl_batch_id(S, S->batches[k]);
        smap_put(&S->bymid, S->batches[k]->msgid, S->batches[k]);
    }
    free(open);
    free(bytes);
}

static int cl_read(FILE *f, cl_state *S) {
    size_t cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    uint64_t lineno = 0;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (S->n == cap) {
            cap = cap ? cap * 2 : 1024;
            S->ops = xrealloc(S->ops, cap * sizeof *S->ops);
        }
        cl_op *o = &S->ops[S->n++];
        memset(o, 0, sizeof *o);
        o->lineno = lineno;
        if (len == 0) { /* one output line per input line: answered here, not sent */
            char buf[128];
            out_error_to_json((promo_str){NULL, 0}, lineno, "empty line", buf, sizeof buf);
            o->line = xstrdup("");
            o->msgid = xstrdup("");
            o->result = xstrdup(buf);
            continue;
        }
        o->line = xcalloc((size_t)len + PROMO_JSON_PADDING + 1, 1);
        memcpy(o->line, line, (size_t)len);
        o->len = (int)len;
        /* a raw newline cannot be in a JSON line; one would split the batch message */
        for (char *c = o->line; (c = memchr(c, '\n', (size_t)(o->line + len - c))); c++)
            *c = ' ';
        nk_keys k;
        if (nk_read(o->line, (size_t)len, &k) != 0) {
            /* not JSON: routed by its text; the owner answers with an error record */
            snprintf(k.id, sizeof k.id, "%016llx",
                     (unsigned long long)tp_partition(o->line, (size_t)len, 0xffffffffu));
            k.customer[0] = 0;
        }
        o->calc = !strcmp(k.op, "calculate");
        char mid[800];
        nk_msgid(&k, mid, sizeof mid);
        o->msgid = xstrdup(mid);
        const char *route = nk_route(&k);
        o->part = tp_partition(route, strlen(route), S->t->cfg.partitions);
        if (!o->calc && !smap_get(&S->first, o->msgid)) {
            smap_put(&S->first, o->msgid, (void *)(uintptr_t)S->n); /* index + 1 */
            o->first = 1;
        }
    }
    free(line);
    return ferror(f) ? -1 : 0;
}

/* Fills the batch's results from "r1\nr2\n..." (an answer or a look-up; an empty line:
 * not known). dup: mark them duplicate. Returns how many were missing and are now set.
 * Called with S->mu held. */
static int cl_fill(cl_state *S, cl_batch *b, const char *data, int dup) {
    int64_t now = cl_now_us();
    int set = 0;
    const char *p = data;
    for (int k = 0; k < b->n && p; k++) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        cl_op *o = &S->ops[b->ops[k]];
        if (len && !o->result) {
            strbuf r = {0};
            sb_add(&r, p, len);
            if (dup) {
                strbuf d = {0};
                nd_duplicate(&d, sb_cstr(&r));
                sb_free(&r);
                r = d;
            }
            o->result = xstrdup(sb_cstr(&r));
            sb_free(&r);
            o->t1 = now;
            set++;
        }
        p = nl ? nl + 1 : NULL;
    }
    return set;
}

/* Called with S->mu held. */
static void cl_finish(cl_state *S, cl_batch *b) {
    if (b->done) return;
    b->done = 1;
    S->parts[b->part].unanswered--;
    pthread_cond_signal(&S->parts[b->part].cv);
}

static int cl_complete(const cl_state *S, const cl_batch *b) {
    for (int k = 0; k < b->n; k++)
        if (!S->ops[b->ops[k]].result) return 0;
    return 1;
}

static void cl_calculate(cl_state *S, cl_batch *b) {
    cl_op *o = &S->ops[b->ops[0]];
    char *rep = NULL;
    int rlen;
    int64_t t0 = cl_now_us();
    int rc = S->t->ops->request(S->t, o->part, o->line, o->len, (int)S->timeout, &rep, &rlen);
    pthread_mutex_lock(&S->mu);
    o->t0 = t0;
    if (rc == TP_OK) {
        o->result = rep;
        o->t1 = cl_now_us();
    }
    b->done = 1;
    pthread_mutex_unlock(&S->mu);
}

/* Publishes a batch until the stream has stored it (its ack may have been lost: the
 * same id makes a retry harmless), up to S->retries + 1 attempts. */
static void cl_publish(cl_state *S, cl_batch *b) {
    strbuf lines = {0}, msg = {0};
    for (int k = 0; k < b->n; k++) {
        const cl_op *o = &S->ops[b->ops[k]];
        if (k) sb_putc(&lines, '\n');
        sb_add(&lines, o->line, (size_t)o->len);
    }
    /* a zstd frame when it is worth it (pack.h): the servers write it three times */
    if (lines.len < CL_PACK_MIN || pk_pack(&msg, lines.data, lines.len) != 0) {
        sb_free(&msg);
        msg = lines;
        lines = (strbuf){0};
    }
    sb_free(&lines);
    pthread_mutex_lock(&S->mu);
    int64_t t0 = cl_now_us();
    for (int k = 0; k < b->n; k++)
        S->ops[b->ops[k]].t0 = t0;
    S->parts[b->part].unanswered++;
    pthread_mutex_unlock(&S->mu);
    int stored = 0, resent = 0;
    for (int tries = 0; tries <= S->retries && !stored; tries++) {
        int dup = 0;
        int rc = S->t->ops->publish(S->t, b->part, b->msgid, S->inbox_name, msg.data, (int)msg.len,
                                    &dup);
        if (rc == TP_OK) {
            stored = 1;
            resent = dup && tries == 0;
        } else {
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    sb_free(&msg);
    pthread_mutex_lock(&S->mu);
    b->stored = stored;
    b->resent = resent;
    b->due = resent ? 0 : lease_now_ms() + S->timeout; /* re-sent: look it up at once */
    if (!stored) cl_finish(S, b); /* never stored: error records, never sent later */
    pthread_mutex_unlock(&S->mu);
}

static void *cl_publisher(void *arg) {
    void **a = arg;
    cl_state *S = a[0];
    cl_part *P = a[1];
    free(arg);
    for (cl_batch *b = P->first; b; b = b->next_in_part) {
        pthread_mutex_lock(&S->mu);
        /* a calculate waits for everything before it; a batch for room in the window */
        while (b->calc ? P->unanswered > 0 : P->unanswered >= S->window)
            pthread_cond_wait(&P->cv, &S->mu);
        pthread_mutex_unlock(&S->mu);
        if (b->calc)
            cl_calculate(S, b);
        else
            cl_publish(S, b);
    }
    pthread_mutex_lock(&S->mu);
    S->publishers--;
    pthread_mutex_unlock(&S->mu);
    return NULL;
}

static void cl_answer_plain(cl_state *S, char *data) {
    char *nl = strchr(data, '\n');
    if (!nl) return;
    *nl = 0;
    pthread_mutex_lock(&S->mu);
    cl_batch *b = smap_get(&S->bymid, data);
    if (b && !b->done) {
        cl_fill(S, b, nl + 1, 0);
        if (cl_complete(S, b)) cl_finish(S, b);
    }
    pthread_mutex_unlock(&S->mu);
}

/* An answer "<batch id>\n<r1>\n<r2>...", maybe as a zstd frame (pack.h). */
static void cl_answer(cl_state *S, char *data, int len) {
    strbuf un = {0};
    int pk = pk_unpack(&un, data, (size_t)len, CL_UNPACK_MAX);
    if (pk < 0) {
        sb_free(&un);
        return; /* a corrupt answer: the batch is looked up in time */
    }
    if (pk > 0) data = (char *)sb_cstr(&un);
    cl_answer_plain(S, data);
    sb_free(&un);
}

/* Asks the owner what it answered to the batch's operations ("?" + its lines; the
 * answer has a line per operation, empty when its journal does not have it yet).
 * 0: asked (maybe nothing known yet); -1: no owner answered. */
static int cl_lookup(cl_state *S, cl_batch *b) {
    strbuf q = {0};
    sb_putc(&q, '?');
    for (int k = 0; k < b->n; k++) {
        const cl_op *o = &S->ops[b->ops[k]];
        if (k) sb_putc(&q, '\n');
        sb_add(&q, o->line, (size_t)o->len);
    }
    char *rep = NULL;
    int rlen;
    int wait = S->timeout < 1000 ? (int)S->timeout : 1000; /* an owner answers at once */
    int rc = S->t->ops->request(S->t, b->part, q.data, (int)q.len, wait, &rep, &rlen);
    sb_free(&q);
    if (rc != TP_OK) return -1;
    pthread_mutex_lock(&S->mu);
    if (!b->done) {
        cl_fill(S, b, rep, b->resent);
        if (cl_complete(S, b)) cl_finish(S, b);
    }
    pthread_mutex_unlock(&S->mu);
    free(rep);
    return 0;
}

/* Looks up the batches that are due (no answer in time, or re-sent); a batch that used
 * up its rounds is given up. Skips partitions whose owner did not answer this pass. */
static void cl_overdue(cl_state *S, unsigned char *down) {
    int64_t now = lease_now_ms();
    memset(down, 0, S->t->cfg.partitions);
    for (size_t k = 0; k < S->nb; k++) {
        cl_batch *b = S->batches[k];
        pthread_mutex_lock(&S->mu);
        int due = !b->calc && b->stored && !b->done && now >= b->due;
        pthread_mutex_unlock(&S->mu);
        if (!due || down[b->part]) continue;
        if (b->rounds >= S->retries) {
            pthread_mutex_lock(&S->mu);
            cl_finish(S, b);
            pthread_mutex_unlock(&S->mu);
            continue;
        }
        b->rounds++;
        if (cl_lookup(S, b) != 0) down[b->part] = 1;
        pthread_mutex_lock(&S->mu);
        b->due = lease_now_ms() + S->timeout;
        pthread_mutex_unlock(&S->mu);
    }
}

/* Collects answers until every publisher is through and every batch is done. */
static void cl_collect(cl_state *S) {
    unsigned char *down = xcalloc(S->t->cfg.partitions, 1);
    int64_t next_check = lease_now_ms() + 50;
    for (;;) {
        pthread_mutex_lock(&S->mu);
        int busy = S->publishers > 0;
        for (size_t k = 0; k < S->nb && !busy; k++)
            busy = !S->batches[k]->done;
        pthread_mutex_unlock(&S->mu);
        if (!busy) break;
        char *data;
        int len;
        if (S->t->ops->inbox_next(S->t, S->inbox, &data, &len, 20) == TP_OK) {
            cl_answer(S, data, len);
            free(data);
        }
        if (lease_now_ms() >= next_check) {
            cl_overdue(S, down);
            next_check = lease_now_ms() + 50;
        }
    }
    free(down);
}

static void cl_write(const cl_op *o) {
    /* the owner's error records do not know the line: "line N: " as promo run says it */
    const char *e = o->result ? strstr(o->result, ",\"error\":\"") : NULL;
    if (e && !strncmp(o->result, "{\"id\":", 6) && strncmp(e + 10, "line ", 5)) {
        fwrite(o->result, 1, (size_t)(e + 10 - o->result), stdout);
        printf("line %" PRIu64 ": %s", o->lineno, e + 10);
    } else if (o->result) {
        fputs(o->result, stdout);
    } else {
        nk_keys k;
        nk_read(o->line, (size_t)o->len, &k);
        char buf[1024];
        promo_str id = {k.id, (uint32_t)strlen(k.id)};
        size_t n = out_error_to_json(
            id, o->lineno, "no answer from the partition owner (timed out)", buf, sizeof buf);
        if (n < sizeof buf) fputs(buf, stdout);
    }
    fputc('\n', stdout);
}

static int cl_cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* --stats: one line on stderr. */
static void cl_stats(const cl_state *S, int64_t wall_us) {
    int64_t *lat = xmalloc((S->n + 1) * sizeof *lat);
    size_t k = 0;
    for (size_t i = 0; i < S->n; i++)
        if (S->ops[i].result && S->ops[i].t1 >= S->ops[i].t0 && S->ops[i].t0)
            lat[k++] = S->ops[i].t1 - S->ops[i].t0;
    qsort(lat, k, sizeof *lat, cl_cmp_i64);
    double s = (double)wall_us / 1e6;
#define CL_PCT(q) (k ? (double)lat[(size_t)((double)(k - 1) * (q))] / 1000.0 : 0.0)
    fprintf(stderr,
            "client: %zu ops (%zu batches) in %.3f s = %.0f ops/s; latency ms p50 %.1f p99 %.1f "
            "max %.1f\n",
            S->n, S->nb, s, s > 0 ? (double)S->n / s : 0.0, CL_PCT(0.5), CL_PCT(0.99), CL_PCT(1.0));
#undef CL_PCT
    free(lat);
}

int cmd_client(int argc, char **argv) {
    nd_opts o = {.partitions = 8, .replicas = 3, .lease_ms = 5000, .timeout_ms = 5000};
    const char *path = NULL;
    int retries = 5, batch = 128, window = 4, stats = 0;
    for (int i = 1; i < argc; i++) {
        int c = nd_parse_common(argc, argv, &i, &o);
        if (c < 0) goto usage;
        if (c > 0) continue;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(cl_help, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--retries") && i + 1 < argc) {
            retries = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
            batch = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--window") && i + 1 < argc) {
            window = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--stats")) {
            stats = 1;
        } else if ((argv[i][0] == '-' && argv[i][1]) || path) {
            goto usage;
        } else {
            path = argv[i];
        }
    }
    if (!o.url || retries < 0 || batch < 1 || batch > 4096 || window < 1 || window > 1024)
        goto usage;
    FILE *f = !path || !strcmp(path, "-") ? stdin : fopen(path, "r");
    if (!f) {
        fprintf(stderr, "promo: cannot open %s\n", path);
        return 2;
    }
    cl_state S = {.timeout = o.timeout_ms, .retries = retries, .window = window, .batch = batch};
    if (nd_open(&o, &S.t) != TP_OK) {
        if (f != stdin) fclose(f);
        return 2;
    }
    int rc = cl_read(f, &S);
    if (f != stdin) fclose(f);
    if (rc != 0) {
        fprintf(stderr, "promo: read error\n");
        S.t->ops->close(S.t);
        return 2;
    }
    if (S.t->ops->inbox_open(S.t, S.inbox_name, sizeof S.inbox_name, &S.inbox) != TP_OK) {
        fprintf(stderr, "promo: %s\n", tp_errmsg());
        S.t->ops->close(S.t);
        return 2;
    }
    S.parts = xcalloc(S.t->cfg.partitions, sizeof *S.parts);
    for (uint32_t p = 0; p < S.t->cfg.partitions; p++)
        pthread_cond_init(&S.parts[p].cv, NULL);
    cl_plan(&S);
    pthread_mutex_init(&S.mu, NULL);
    int64_t t0 = cl_now_us();
    for (uint32_t p = 0; p < S.t->cfg.partitions; p++) {
        cl_part *P = &S.parts[p];
        if (!P->first) continue;
        void **arg = xmalloc(2 * sizeof *arg);
        arg[0] = &S;
        arg[1] = P;
        pthread_mutex_lock(&S.mu);
        S.publishers++;
        pthread_mutex_unlock(&S.mu);
        pthread_create(&P->th, NULL, cl_publisher, arg);
        P->started = 1;
    }
    cl_collect(&S);
    for (uint32_t p = 0; p < S.t->cfg.partitions; p++)
        if (S.parts[p].started) pthread_join(S.parts[p].th, NULL);
    int64_t wall = cl_now_us() - t0;
    /* Later lines with the message id of an earlier one are re-sent operations: the
     * first one's answer, marked duplicate (SPEC 7). */
    for (size_t i = 0; i < S.n; i++) {
        cl_op *op = &S.ops[i];
        if (op->calc || op->first || op->result) continue;
        const cl_op *first = &S.ops[(uintptr_t)smap_get(&S.first, op->msgid) - 1];
        if (!first->result) continue;
        strbuf b = {0};
        nd_duplicate(&b, first->result);
        op->result = xstrdup(sb_cstr(&b));
        sb_free(&b);
    }
    if (stats) cl_stats(&S, wall);
    size_t failed = 0;
    for (size_t i = 0; i < S.n; i++) {
        failed += !S.ops[i].result;
        cl_write(&S.ops[i]);
        free(S.ops[i].line);
        free(S.ops[i].msgid);
        free(S.ops[i].result);
    }
    fflush(stdout);
    for (size_t k = 0; k < S.nb; k++) {
        free(S.batches[k]->ops);
        free(S.batches[k]);
    }
    free(S.batches);
    for (uint32_t p = 0; p < S.t->cfg.partitions; p++)
        pthread_cond_destroy(&S.parts[p].cv);
    free(S.parts);
    pthread_mutex_destroy(&S.mu);
    S.t->ops->inbox_close(S.t, S.inbox);
    S.t->ops->close(S.t);
    smap_free(&S.first, NULL);
    smap_free(&S.bymid, NULL);
    free(S.ops);
    if (failed) fprintf(stderr, "promo: %zu operations without an answer\n", failed);
    return failed ? 1 : 0;
usage:
    fputs(cl_help, stderr);
    return 2;
}
