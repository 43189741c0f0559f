/*
 * client.c — `promo client`: a JSON-lines stream of operations through the scale-out,
 * results on stdout in input order (what a till gateway or a test driver needs).
 *
 * Each line is routed to its partition (customer id, receipt id when anonymous).
 * `calculate` is a request-reply to the partition's owner. Every other operation is
 * published to the partition's input subject with the message id "(op, refund_id, id)"
 * and this client's inbox as the reply subject, one after the other, each re-published
 * (same message id: the stream drops copies) until the stream has stored it, so the
 * owner sees a customer's operations in input order. The owner answers on the inbox
 * after its commit; an operation without an answer within --timeout-ms is looked up
 * at the owner, which answers from its journal, never applying anything twice.
 * cancel and return are routed like the receipt they reverse: by its customer.id when
 * the line carries it (it must, for a receipt that had a customer), else by the receipt
 * id (docs/deploy.md, "Partitions"). After --retries rounds, the line gets an error record.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "keys.h"
#include "lease.h"
#include "node.h"
#include "promo.h"
#include "result_json.h"
#include "smap.h"
#include "xalloc.h"

typedef struct cl_op {
    char *line; /* padded */
    int len;
    uint32_t part;
    char msgid[600];
    int calc;
    int first;  /* 1: the first line with this message id */
    int resent; /* the stream had it before we first sent it: a re-sent operation */
    int stored; /* the stream acknowledged it */
    char *result;
} cl_op;

typedef struct cl_state {
    tp *t;
    cl_op *ops;
    size_t n;
    smap first; /* message id -> 1 + index of its first line */
    void *inbox;
    char inbox_name[128];
    int64_t timeout;
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
    "  --timeout-ms MS    per operation and attempt (default 5000)\n"
    "  --retries N        re-sends by message id before an error record (default 5)\n"
    "  --prefix NAME      of streams and subjects (default promo)\n";

static int cl_read(FILE *f, cl_state *S) {
    size_t cap = 0;
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len == 0) continue;
        if (S->n == cap) {
            cap = cap ? cap * 2 : 1024;
            S->ops = xrealloc(S->ops, cap * sizeof *S->ops);
        }
        cl_op *o = &S->ops[S->n++];
        memset(o, 0, sizeof *o);
        o->line = xcalloc((size_t)len + PROMO_JSON_PADDING + 1, 1);
        memcpy(o->line, line, (size_t)len);
        o->len = (int)len;
        nk_keys k;
        if (nk_read(o->line, (size_t)len, &k) != 0) {
            /* not JSON: routed by its text; the owner answers with an error record */
            snprintf(k.id, sizeof k.id, "%016llx",
                     (unsigned long long)tp_partition(o->line, (size_t)len, 0xffffffffu));
            k.customer[0] = 0;
        }
        o->calc = !strcmp(k.op, "calculate");
        nk_msgid(&k, o->msgid, sizeof o->msgid);
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

/* Publishes until the stream has stored the operation (its answer may have been lost:
 * the same message id makes a retry harmless), for up to `retries` attempts. The next
 * operation is sent only after this one is stored, so that a customer's operations
 * reach the owner in input order. Sets o->stored and o->resent (the stream had the
 * message id before our first attempt: a re-sent operation). */
static void cl_publish(cl_state *S, cl_op *o, int retries) {
    for (int tries = 0; tries <= retries; tries++) {
        int dup = 0;
        int rc = S->t->ops->publish(S->t, o->part, o->msgid, S->inbox_name, o->line, o->len, &dup);
        if (rc == TP_OK) {
            o->stored = 1;
            o->resent = dup && tries == 0;
            return;
        }
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static void cl_calculate(cl_state *S, cl_op *o) {
    char *rep = NULL;
    int rlen;
    if (S->t->ops->request(S->t, o->part, o->line, o->len, (int)S->timeout, &rep, &rlen) == TP_OK)
        o->result = rep;
}

/* Reads answers "<msgid>\n<result>" until every first line has one or `ms` passes. */
static size_t cl_collect(cl_state *S, size_t missing, int64_t ms) {
    int64_t end = lease_now_ms() + ms;
    while (missing) {
        int64_t left = end - lease_now_ms();
        if (left <= 0) break;
        char *data;
        int len;
        if (S->t->ops->inbox_next(S->t, S->inbox, &data, &len, (int)left) != TP_OK) continue;
        char *nl = memchr(data, '\n', (size_t)len);
        if (nl) {
            *nl = 0;
            uintptr_t at = (uintptr_t)smap_get(&S->first, data);
            cl_op *o = at ? &S->ops[at - 1] : NULL;
            if (o && !o->result) {
                o->result = xstrdup(nl + 1);
                missing--;
            }
        }
        free(data);
    }
    return missing;
}

/* Asks the owner what it answered to the operation (NULL when its journal does not have
 * it yet): "?" + the operation line. */
static char *cl_lookup_raw(cl_state *S, const cl_op *o, int *gone) {
    char *q = xmalloc((size_t)o->len + 2);
    q[0] = '?';
    memcpy(q + 1, o->line, (size_t)o->len);
    int n = o->len + 1;
    char *rep = NULL;
    int rlen;
    *gone = 0;
    int wait = S->timeout < 1000 ? (int)S->timeout : 1000; /* an owner answers at once */
    int rc = S->t->ops->request(S->t, o->part, q, n, wait, &rep, &rlen);
    free(q);
    if (rc != TP_OK) {
        *gone = 1;
        return NULL;
    }
    if (rlen == 0) {
        free(rep);
        return NULL;
    }
    return rep;
}

/* The answer to an operation that got lost, marked duplicate when the operation was a
 * re-sent one. */
static char *cl_lookup(cl_state *S, const cl_op *o, int *gone) {
    char *res = cl_lookup_raw(S, o, gone);
    if (!res || !o->resent) return res;
    strbuf b = {0};
    nd_duplicate(&b, res);
    free(res);
    char *out = xstrdup(sb_cstr(&b));
    sb_free(&b);
    return out;
}

static void cl_write(const cl_op *o) {
    if (o->result) {
        fputs(o->result, stdout);
    } else {
        nk_keys k;
        nk_read(o->line, (size_t)o->len, &k);
        char buf[1024];
        promo_str id = {k.id, (uint32_t)strlen(k.id)};
        size_t n = out_error_to_json(id, 0, "no answer from the partition owner (timed out)", buf,
                                     sizeof buf);
        if (n < sizeof buf) fputs(buf, stdout);
    }
    fputc('\n', stdout);
}

int cmd_client(int argc, char **argv) {
    nd_opts o = {.partitions = 8, .replicas = 3, .lease_ms = 5000, .timeout_ms = 5000};
    const char *path = NULL;
    int retries = 5;
    for (int i = 1; i < argc; i++) {
        int c = nd_parse_common(argc, argv, &i, &o);
        if (c < 0) goto usage;
        if (c > 0) continue;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(cl_help, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--retries") && i + 1 < argc) {
            retries = atoi(argv[++i]);
        } else if ((argv[i][0] == '-' && argv[i][1]) || path) {
            goto usage;
        } else {
            path = argv[i];
        }
    }
    if (!o.url || retries < 0) goto usage;
    FILE *f = !path || !strcmp(path, "-") ? stdin : fopen(path, "r");
    if (!f) {
        fprintf(stderr, "promo: cannot open %s\n", path);
        return 2;
    }
    cl_state S = {.timeout = o.timeout_ms};
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
    /* Publish in input order (per-partition order = per-customer order), answering
     * calculations on the way. */
    size_t missing = 0;
    for (size_t i = 0; i < S.n; i++) {
        cl_op *op = &S.ops[i];
        if (op->calc) {
            cl_calculate(&S, op);
        } else if (op->first) {
            cl_publish(&S, op, retries);
            missing += op->stored; /* never stored: an error record, never sent later */
        }
    }
    missing = cl_collect(&S, missing, S.timeout);
    unsigned char *down = xcalloc(S.t->cfg.partitions, 1);
    for (int round = 0; round < retries && missing; round++) {
        memset(down, 0, S.t->cfg.partitions);
        for (size_t i = 0; i < S.n; i++) {
            cl_op *op = &S.ops[i];
            if (!op->first || !op->stored || op->result || down[op->part]) continue;
            int gone = 0;
            if ((op->result = cl_lookup(&S, op, &gone))) missing--;
            down[op->part] |= gone; /* no owner answers: no more look-ups there this round */
        }
        missing = cl_collect(&S, missing, S.timeout);
    }
    free(down);
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
    size_t failed = 0;
    for (size_t i = 0; i < S.n; i++) {
        failed += !S.ops[i].result;
        cl_write(&S.ops[i]);
        free(S.ops[i].line);
        free(S.ops[i].result);
    }
    fflush(stdout);
    S.t->ops->inbox_close(S.t, S.inbox);
    S.t->ops->close(S.t);
    smap_free(&S.first, NULL);
    free(S.ops);
    if (failed) fprintf(stderr, "promo: %zu operations without an answer\n", failed);
    return failed ? 1 : 0;
usage:
    fputs(cl_help, stderr);
    return 2;
}
