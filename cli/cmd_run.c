/*
 * cmd_run.c — `promo run set.pbc [receipts.jsonl]`: the stream evaluator (CLI face of
 * the runtime: JSON lines -> receipt reader -> engine -> result writer -> stdout).
 *
 * A pipeline without a barrier between batches:
 *   1. the main thread reads the input in large chunks and publishes each complete line
 *      to a ring of lines, numbered in input order (no copy per line);
 *   2. every thread (the main one too) takes the next unclaimed line and parses,
 *      evaluates (promo_eval) and formats it in one of its own few contexts. A thread
 *      reuses the context it used last whenever that one is free again, so the
 *      context's scratch memory stays in the cache (with one context per line of a
 *      256-line batch, evaluation ran about twice as slow, all of it cache misses);
 *   3. lines are committed IN INPUT ORDER (promo_commit) under a try-only lock, their
 *      output appended to the output buffer and their contexts freed. The thread that
 *      evaluated the oldest uncommitted line commits it and the following ones it
 *      evaluated (its own contexts are in its cache); a thread with nothing else to do
 *      commits any. A line whose commit reports PROMO_ECONFLICT (an earlier receipt
 *      changed a budget or its customer's state since it was evaluated) is evaluated
 *      again by the committer, and committed. The output is therefore the one of a
 *      sequential run, byte for byte, whatever the thread count or batch size;
 *   4. the output is written with write(2) after every --batch lines, when 1 MiB is
 *      buffered, and whenever the input has nothing more to read yet.
 *
 * Evaluations overlap commits of earlier lines. A confirm only makes a budget counter
 * grow (a commit checks everything before it moves any counter, so a refused commit
 * gives nothing back), which is what makes an evaluation's refusal ("budget
 * exhausted") safe to keep; but a cancel or return gives budget back, so an evaluation
 * running at the same time may have seen a counter higher than it is now. Every
 * committed cancel and return therefore bumps `fails`, and a line evaluated while one
 * happened is evaluated again before its commit; a calculate is always evaluated again
 * at its turn.
 *
 * With --state, lines go through the purchase protocol (runtime/ops.h: ops_prepare in
 * parallel, ops_commit in order), and a write of the output is handed over to the
 * syncer thread, which syncs the store (one LMDB transaction for all the commits since
 * the last sync) and only then writes those lines: a result line leaves only once its
 * commit is durable, and evaluation and commits go on during the transaction (the
 * group commit, run_hand_over).
 *
 * Between batches: progress on stderr (terminal only), bundle reload after SIGHUP (the
 * pipeline is drained first). After warm-up nothing is allocated per receipt and no
 * lock is taken per receipt: the chunks, the ring, the contexts and the output buffers
 * are reused; threads hand work over through atomics and sleep only when idle.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ops.h"
#include "explain_text.h"
#include "promo.h"
#include "report.h"
#include "result_json.h"
#include "run_signals.h"
#include "strbuf.h"
#include "xalloc.h"

static const char run_help[] =
    "usage: promo run [options] set.pbc [receipts.jsonl]\n"
    "\n"
    "Evaluates a JSON-lines receipt stream (the file, or standard input when it is\n"
    "absent or \"-\") with a compiled bundle and writes one JSON result per input line\n"
    "to standard output, in input order. A malformed line gives an error record\n"
    "{\"id\":...,\"error\":\"line N: ...\"} and processing goes on (docs/io.md).\n"
    "\n"
    "options:\n"
    "  --threads N         evaluation threads (default: the number of online CPUs);\n"
    "                      the output does not depend on it\n"
    "  --batch N           write the output after every N lines (default 256)\n"
    "  --explain           add \"explain\" (why each campaign did or did not apply)\n"
    "  --explain=text      instead of JSON, explain each receipt in words: titles,\n"
    "                      amounts per campaign and line, the values of a false\n"
    "                      condition, the real reason of a refusal\n"
    "  --summary           print totals and per-campaign counts on stderr at the end\n"
    "  --report            print per campaign receipts, discount, points and budget\n"
    "                      used on stderr at the end (as promo plan, for one bundle)\n"
    "  --strict            exit 1 when any line was malformed\n"
    "  --reload-on-signal  on SIGHUP, reload set.pbc once the lines in flight are\n"
    "                      committed (a bundle that fails to load is reported and\n"
    "                      the old one kept); without it SIGHUP is ignored\n"
    "  --watch             reload the same way when set.pbc is replaced\n"
    "  --stamp             add \"bundle\":\"<checksum>\" of the bundle that produced it\n"
    "                      to every result\n"
    "  --metrics FILE      rewrite FILE every second with JSON stats (receipts, errors,\n"
    "                      rate, conflicts, reloads, budgets remaining, bundle checksum)\n"
    "  --state DIR         keep the state of record (limits, history, budgets, the\n"
    "                      journal of confirmed receipts) in the LMDB store in DIR,\n"
    "                      across runs; without it state lives in memory for this run\n"
    "  --durability MODE   process (default: a result is written once its commit\n"
    "                      survives kill -9) or strict (also power loss: fsync)\n"
    "  --write-map         with --state and process durability: write the store\n"
    "                      through a writable memory map (faster once the store\n"
    "                      has stopped growing; slower while it grows)\n"
    "  --return-window N   days a confirmed receipt stays returnable (default 180),\n"
    "                      counted in the latest confirmed receipt's date from when\n"
    "                      it was confirmed; expired entries are pruned to\n"
    "                      tombstones: their return, cancel or repeat is refused\n"
    "  --max-customers N   without --state: hold at most N customers in memory; a\n"
    "                      receipt of one more gets an error record (nothing is\n"
    "                      committed for it) instead of its limits being forgotten\n"
    "  -q, --quiet         no progress display\n"
    "  -h, --help          this help\n"
    "\n"
    "Progress (receipts, receipts/s) is shown on stderr when it is a terminal.\n"
    "Each line may carry \"op\": confirm (the default), calculate, cancel, return\n"
    "(docs/io.md).\n"
    "SIGTERM or SIGINT: stop reading, write the results of the lines already read,\n"
    "print the summary and the input line reached, exit 128 + the signal number.\n"
    "exit status: 0 stream processed, 1 malformed lines with --strict,\n"
    "             2 usage, I/O or bundle error, 130/143 stopped by SIGINT/SIGTERM\n";

#define RUN_PAD          PROMO_JSON_PADDING /* readable bytes kept after the data */
#define RUN_READ_MIN     (1u << 20)         /* initial size of an input chunk */
#define RUN_MAX_LINE     (64u << 20)        /* longer lines are refused */
#define RUN_MAX_BATCH    65536u
#define RUN_MAX_THREADS  256
#define RUN_MAX_CONFLICT 1000        /* re-evaluations of one receipt before giving up */
#define RUN_CHUNKS       4           /* input chunks: lines in flight point into them */
#define RUN_RING         4096u       /* lines published and not yet committed, at most */
#define RUN_LOW          256u        /* the main thread reads on below this many unclaimed lines */
#define RUN_CTXS         8           /* contexts per thread */
#define RUN_OUT_MAX      (1u << 20)  /* output buffered before a write, at most */
#define RUN_SPIN         500         /* polls of the event counter before sleeping */
#define RUN_SYNC_MIN     (4u << 20)  /* output gathered before a hand-over, input flowing, */
#define RUN_SYNC_LINES   8192        /* or as many lines, */
#define RUN_SYNC_MS      10          /* or its first line waited this long */
#define RUN_SYNC_MAX     (16u << 20) /* output held while the syncer is busy, at most */

/* 128-bit totals of --summary. */
__extension__ typedef __int128 run_i128;
__extension__ typedef unsigned __int128 run_u128;

typedef struct run_opts {
    const char *bundle_path;
    const char *input_path;
    int threads;
    unsigned batch;
    int explain, summary, report, strict, quiet, reload, watch, stamp;
    const char *metrics;
    const char *state_dir;
    int durability;
    int write_map; /* --write-map */
    long return_window;
    long max_customers; /* 0: no cap */
} run_opts;

/* One evaluation context, owned by one thread; busy from the moment its thread claims
 * a line until that line is committed (then the committer owns it). */
typedef struct run_cx {
    promo_ctx *ctx;
    const promo_receipt *rcpt;
    const promo_result *res;
    promo_op op; /* the line's operation */
    promo_op_result ores;
    int proto; /* through the purchase protocol (ops_prepare / ops_commit) */
    uint64_t lineno;
    int pending;    /* evaluated, to commit */
    int bad;        /* the output is an error record */
    int stamp;      /* --stamp */
    unsigned fails; /* run_state.fails when the evaluation started */
    const struct run_thr *owner;
    char *out;
    size_t outlen, outcap;
    atomic_int busy;
} run_cx;

/* A published input line, alone on its cache line: neighbours are evaluated by other
 * threads at the same time. */
typedef struct run_line {
    _Alignas(64) const char *p;
    size_t len;
    uint64_t lineno;
    run_cx *cx;          /* the context that evaluated it, once ready */
    unsigned char flush; /* last line of a batch: write the output after it */
    unsigned char toolong;
    atomic_int ready; /* evaluated: cx holds its output */
} run_line;

typedef struct run_chunk {
    char *buf;
    size_t cap;    /* including RUN_PAD */
    uint64_t last; /* lines numbered below `last` may point into buf */
} run_chunk;

struct run_state;

typedef struct run_thr {
    struct run_state *R;
    run_cx *cx; /* RUN_CTXS */
    unsigned last;
    pthread_t tid;
} run_thr;

/* Per-campaign applied counts for --summary, keyed by campaign id across reloads. */
typedef struct run_count {
    char *id;
    uint64_t applied;
} run_count;

typedef struct run_state {
    run_opts o;
    promo_engine *eng;
    promo_store store; /* the engine's (it frees it); ops NULL without --state */
    char toolong_msg[64];

    /* input (main thread only): the current chunk holds [pos, end) unpublished, with
     * no newline in [pos, scan) */
    int fd, isreg;
    run_chunk chunks[RUN_CHUNKS];
    unsigned cur;
    size_t pos, scan, end;
    int eof, done_in; /* end of input seen / and every line published */
    uint64_t lineno, pub;
    unsigned since_flush;

    run_line *ring; /* RUN_RING, indexed by line number modulo RUN_RING */
    void *ring_mem;

    /* hand-over between threads; each group on its own cache line */
    _Alignas(64) atomic_uint_fast64_t published; /* lines [0, published) readable */
    _Alignas(64) atomic_uint_fast64_t claimed;   /* lines [0, claimed) taken */
    _Alignas(64) atomic_uint_fast64_t committed; /* lines [0, committed) done */
    atomic_int clock;                            /* the committer's lock (try-only) */
    _Alignas(64) atomic_uint fails;              /* failed promo_commit calls */
    _Alignas(64) atomic_uint_fast64_t ev;        /* moves when a waiting thread may go on */
    atomic_int nwait;                            /* threads about to wait or waiting */
    atomic_int nsleep;                           /* of them, asleep on cv */
    atomic_int quit, werr;
    pthread_mutex_t mu;
    pthread_cond_t cv;

    _Alignas(64) run_thr *thr;
    int nthr, nstarted;

    /* committer only (clock held): output, totals */
    char *obuf;
    size_t olen, ocap;
    unsigned olines;        /* lines in obuf */
    struct timespec ofirst; /* when the first of them was committed */

    /* --state: the syncer thread makes the store durable, then writes the output handed
     * over to it (sbuf), while the other threads evaluate and commit on */
    _Alignas(64) atomic_int sbusy; /* sbuf handed over and not written yet */
    int syncer, squit;
    pthread_t stid;
    pthread_mutex_t smu;
    pthread_cond_t scv;
    char *sbuf;
    size_t slen, scap;
    uint64_t receipts, errors;
    /* --summary totals: 128-bit, so no stream of accepted receipts can overflow them
     * (a receipt's own figures are bounded by PROMO_MAX_MONEY and the literal bounds). */
    run_i128 discount, points;
    run_count *counts;
    size_t ncounts;
    const promo_bundle *map_bundle;
    uint32_t *map; /* campaign index of map_bundle -> counts index */
    report rep;    /* --report */

    /* progress, operator (run_signals.h) */
    int progress;
    struct timespec t0, last, last_metrics;
    rs_watch watch;
    uint64_t reloads, reload_fails;
} run_state;

static inline void run_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

/* ------------------------------------------------------------------ waiting ---- */

/*
 * An event count. A thread that found nothing to do announces itself (nwait), reads
 * `ev`, looks again, and only then waits for `ev` to move: spinning briefly, since the
 * other threads are usually a fraction of a receipt away from giving it work, then
 * asleep. A thread that changes what others wait for (publishes lines, commits, quits)
 * moves `ev` only when somebody announced itself, so while every thread is busy the
 * hand-over costs one read of a shared counter.
 */
static void run_announce(run_state *R, uint_fast64_t *seen) {
    atomic_fetch_add(&R->nwait, 1);
    *seen = atomic_load(&R->ev);
}

static void run_wait(run_state *R, uint_fast64_t seen) {
    for (int i = 0; i < RUN_SPIN && atomic_load(&R->ev) == seen; i++)
        run_relax();
    if (atomic_load(&R->ev) == seen) {
        pthread_mutex_lock(&R->mu);
        atomic_fetch_add(&R->nsleep, 1);
        while (atomic_load(&R->ev) == seen)
            pthread_cond_wait(&R->cv, &R->mu);
        atomic_fetch_sub(&R->nsleep, 1);
        pthread_mutex_unlock(&R->mu);
    }
    atomic_fetch_sub(&R->nwait, 1);
}

static void run_wake(run_state *R) {
    if (!atomic_load(&R->nwait)) return;
    atomic_fetch_add(&R->ev, 1);
    if (atomic_load(&R->nsleep)) {
        pthread_mutex_lock(&R->mu);
        pthread_cond_broadcast(&R->cv);
        pthread_mutex_unlock(&R->mu);
    }
}

/* ----------------------------------------------------------------- outputs ---- */

static void run_grow(run_cx *s, size_t need) {
    size_t nc = s->outcap ? s->outcap : 4096;
    while (nc <= need)
        nc *= 2;
    s->out = xrealloc(s->out, nc);
    s->outcap = nc;
}

static void run_error(run_cx *s, promo_str id, const char *msg) {
    size_t n = out_error_to_json(id, s->lineno, msg, s->out, s->outcap);
    if (n >= s->outcap) {
        run_grow(s, n);
        n = out_error_to_json(id, s->lineno, msg, s->out, s->outcap);
    }
    s->outlen = n;
    s->pending = 0;
    s->bad = 1;
}

static void run_result(run_state *R, run_cx *s) {
    if (R->o.explain == 2) { /* --explain=text (cli/explain_text.c) */
        strbuf t = STRBUF_INIT;
        explain_text(&t, s->res, s->rcpt, R->eng);
        if (t.len >= s->outcap) run_grow(s, t.len);
        memcpy(s->out, t.data, t.len);
        s->outlen = t.len; /* the writer's newline leaves a blank line between receipts */
        sb_free(&t);
        return;
    }
    size_t n = promo_result_to_json(s->res, s->out, s->outcap);
    if (n + RS_STAMP_LEN >= s->outcap) {
        run_grow(s, n + RS_STAMP_LEN);
        n = promo_result_to_json(s->res, s->out, s->outcap);
    }
    s->outlen = n;
    if (s->stamp) rs_stamp(s->out, &s->outlen, s->res->bundle);
}

static int run_prepare(run_cx *s);

/* Parse + evaluate + format one line (any thread). */
static void run_eval_line(run_state *R, run_cx *s, const run_line *L) {
    promo_str id = {NULL, 0};
    s->bad = 0;
    s->pending = 0;
    s->res = NULL;
    s->lineno = L->lineno;
    if (L->toolong) {
        if (L->len) id = (promo_str){L->p, (uint32_t)L->len};
        run_error(s, id, R->toolong_msg);
        return;
    }
    promo_status st = promo_op_parse_json(s->ctx, L->p, L->len, &s->op, &id);
    if (st != PROMO_OK) {
        run_error(s, id, promo_ctx_errmsg(s->ctx));
        return;
    }
    s->rcpt = s->op.receipt;
    /* Without --state, a receipt without "op" is a stateless replay: no journal. */
    s->proto = R->store.ops || (s->op.flags & PROMO_OPF_ECHO_OP);
    if (s->proto) {
        run_prepare(s);
        return;
    }
    st = promo_eval(s->ctx, s->rcpt, &s->res);
    if (st != PROMO_OK) {
        run_error(s, s->rcpt->id, promo_ctx_errmsg(s->ctx));
        return;
    }
    run_result(R, s);
    s->pending = 1;
}

/* The purchase protocol's first phase: duplicate check, evaluation, the record;
 * 0 when it is ready (s->pending: to commit). */
static int run_prepare(run_cx *s) {
    int pending = 0;
    promo_status st = ops_prepare(s->ctx, &s->op, &s->ores, &pending);
    if (st != PROMO_OK) {
        run_error(s, s->rcpt ? s->rcpt->id : s->op.id, promo_ctx_errmsg(s->ctx));
        return -1;
    }
    s->res = s->ores.result;
    if (s->outcap <= s->ores.json_len) run_grow(s, s->ores.json_len);
    if (s->ores.json_len) memcpy(s->out, s->ores.json, s->ores.json_len);
    s->outlen = s->ores.json_len;
    /* a calculate is evaluated again when its turn comes (state as of its place) */
    s->pending = pending || s->op.op == PROMO_OP_CALCULATE;
    return 0;
}

/* Evaluates a line again (committer); 0 when it is ready to commit. */
static int run_reeval(run_state *R, run_cx *s) {
    if (s->proto) return run_prepare(s);
    promo_status st = promo_eval(s->ctx, s->rcpt, &s->res);
    if (st != PROMO_OK) {
        run_error(s, s->rcpt->id, promo_ctx_errmsg(s->ctx));
        return -1;
    }
    run_result(R, s);
    return 0;
}

/* Commits one evaluated line (committer, input order). */
static void run_commit_cx(run_state *R, run_cx *s) {
    /* A return or cancel was committed while this line was evaluated: what it read may
     * have included budget that was given back since (see the top of the file). */
    int op = s->proto ? s->op.op : PROMO_OP_CONFIRM;
    if ((s->fails != atomic_load(&R->fails) || op == PROMO_OP_CALCULATE) && run_reeval(R, s))
        return;
    if (op == PROMO_OP_CALCULATE) {
        s->pending = 0;
        return;
    }
    if (!s->pending) return; /* a duplicate found by the re-evaluation */
    for (int tries = 0;; tries++) {
        promo_status st = s->proto ? ops_commit(s->ctx, &s->op, &s->ores) : promo_commit(s->ctx);
        if (st == PROMO_OK && (op == PROMO_OP_CANCEL || op == PROMO_OP_RETURN)) {
            atomic_fetch_add(&R->fails, 1); /* budgets may have gone down */
            if (s->outcap <= s->ores.json_len) run_grow(s, s->ores.json_len);
            if (s->ores.json_len) memcpy(s->out, s->ores.json, s->ores.json_len);
            s->outlen = s->ores.json_len;
        }
        if (st == PROMO_OK) break;
        if (st != PROMO_ECONFLICT || tries == RUN_MAX_CONFLICT) {
            run_error(s, s->proto ? s->op.id.p ? s->op.id : s->rcpt->id : s->rcpt->id,
                      promo_ctx_errmsg(s->ctx));
            return;
        }
        if (run_reeval(R, s) || !s->pending) return;
    }
    s->pending = 0;
}

/* ------------------------------------------------------------------- totals ---- */

static void run_map(run_state *R, const promo_bundle *b) {
    uint32_t n = promo_bundle_campaign_count(b);
    R->map = xrealloc(R->map, (n ? n : 1) * sizeof *R->map);
    for (uint32_t i = 0; i < n; i++) {
        const char *id = promo_bundle_campaign_id(b, i);
        size_t k = 0;
        while (k < R->ncounts && strcmp(R->counts[k].id, id))
            k++;
        if (k == R->ncounts) {
            R->counts = xrealloc(R->counts, (R->ncounts + 1) * sizeof *R->counts);
            R->counts[k].id = xstrdup(id);
            R->counts[k].applied = 0;
            R->ncounts++;
        }
        R->map[i] = (uint32_t)k;
    }
    R->map_bundle = b;
}

static void run_tally(run_state *R, const run_cx *s) {
    R->receipts++;
    if (s->bad) {
        R->errors++;
        return;
    }
    const promo_result *res = s->res;
    if (R->o.report && res) report_add(&R->rep, res);
    if (!R->o.summary || !res) return; /* no evaluation: a duplicate, a cancel, a return */
    R->discount += res->discount;
    for (uint32_t i = 0; i < res->npoints; i++)
        R->points += res->points[i].points;
    if (res->bundle != R->map_bundle) run_map(R, res->bundle);
    for (uint32_t i = 0; i < res->napplied; i++)
        R->counts[R->map[res->applied[i]]].applied++;
}

static void run_money(FILE *f, run_i128 v) {
    char b[48];
    size_t n = sizeof b;
    run_u128 u = v < 0 ? -(run_u128)v : (run_u128)v;
    for (int i = 0; i < 3 || u; i++) { /* at least "0.00" */
        if (i == 2) b[--n] = '.';
        b[--n] = (char)('0' + (int)(u % 10));
        u /= 10;
    }
    if (v < 0) b[--n] = '-';
    fwrite(b + n, 1, sizeof b - n, f);
}

static void run_print_summary(run_state *R) {
    fprintf(stderr, "receipts: %" PRIu64 "\nerrors: %" PRIu64 "\ndiscount: ", R->receipts,
            R->errors);
    run_money(stderr, R->discount);
    fputs("\npoints: ", stderr);
    run_money(stderr, R->points);
    fputs("\napplied:\n", stderr);
    for (size_t i = 0; i < R->ncounts; i++)
        fprintf(stderr, "  %s: %" PRIu64 "\n", R->counts[i].id, R->counts[i].applied);
}

/* ----------------------------------------------------------------- progress ---- */

static int64_t run_ms(const struct timespec *a, const struct timespec *b) {
    return (int64_t)(b->tv_sec - a->tv_sec) * 1000 + (b->tv_nsec - a->tv_nsec) / 1000000;
}

/* --metrics: at most once a second, and at the end (committer or main thread). */
static void run_metrics(run_state *R, int final) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!final && run_ms(&R->last_metrics, &now) < 1000) return;
    R->last_metrics = now;
    rs_stats st = {R->receipts,     R->errors, atomic_load(&R->fails), R->reloads,
                   R->reload_fails, R->lineno, run_ms(&R->t0, &now),   rs_stop_signal(),
                   final,           R->eng};
    rs_metrics_write(R->o.metrics, &st);
}

static void run_progress(run_state *R, int final) {
    if (R->o.metrics) run_metrics(R, final);
    if (!R->progress) return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (!final && run_ms(&R->last, &now) < 250) return;
    R->last = now;
    int64_t ms = run_ms(&R->t0, &now);
    uint64_t rate = ms > 0 ? R->receipts * 1000 / (uint64_t)ms : 0;
    fprintf(stderr, "\r\033[K%" PRIu64 " receipts, %" PRIu64 " receipts/s", R->receipts, rate);
    if (R->errors) fprintf(stderr, ", %" PRIu64 " errors", R->errors);
    if (final) fputc('\n', stderr);
    fflush(stderr);
}

/* ------------------------------------------------------------------ commits ---- */

static void run_hand_over(run_state *R, int wait);

/* Writes buf[0, len) to stdout; 0, or -1 (reported, werr set). */
static int run_write_all(run_state *R, const char *buf, size_t len) {
    size_t off = 0;
    while (off < len && !atomic_load(&R->werr)) {
        ssize_t n = write(1, buf + off, len - off);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        fprintf(stderr, "promo run: write error: %s\n", strerror(n < 0 ? errno : EIO));
        atomic_store(&R->werr, 1);
        run_wake(R);
    }
    return off < len ? -1 : 0;
}

/* Makes every commit so far durable (SPEC 7.2: a result line leaves only once its
 * commit is durable); a failure is reported and sets werr. */
static void run_sync_store(run_state *R) {
    if (!R->store.ops || atomic_load(&R->werr)) return;
    promo_status st = promo_store_sync(&R->store);
    if (st != PROMO_OK) {
        fprintf(stderr, "promo run: state store: %s\n", promo_strerror(st));
        atomic_store(&R->werr, 1);
        run_wake(R);
    }
}

/* Writes the buffered output, or hands it to the syncer (clock held). */
static void run_write_out(run_state *R) {
    if (R->syncer) {
        run_hand_over(R, 0);
    } else {
        if (R->olen) run_sync_store(R);
        run_write_all(R, R->obuf, R->olen);
        R->olen = 0;
        R->olines = 0;
    }
    run_progress(R, 0);
}

/* The held output should go to the syncer now (input flowing: see run_hand_over). */
static int run_sync_due(run_state *R) {
    if (R->olen >= RUN_SYNC_MIN || R->olines >= RUN_SYNC_LINES) return 1;
    if (!R->olines) return 0;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return run_ms(&R->ofirst, &now) >= RUN_SYNC_MS;
}

/*
 * The group commit of --state (SPEC 7.2: a result line leaves only once its commit is
 * durable). The committer hands the buffered output over to the syncer thread, which
 * syncs the store (every commit made so far, so every line of that output, and maybe
 * a few more) and only then writes it. While input keeps coming, a hand-over waits
 * until the output held is RUN_SYNC_MIN bytes, RUN_SYNC_LINES lines or RUN_SYNC_MS
 * old (run_sync_due): a transaction rewrites every B-tree page it touches, and one
 * per few hundred receipts rewrote the same customers' pages again and again
 * (docs/performance.md "State of record"). When the input pauses, run_flush_now
 * hands over at once. While the syncer is busy the committer keeps collecting lines,
 * so the next sync covers all of them: the slower the store, the larger its
 * transactions. `wait`: hand over whatever is there even when the syncer is busy, and
 * return once everything is written (clock held).
 */
static void run_hand_over(run_state *R, int wait) {
    if (!wait && (atomic_load(&R->sbusy) ? R->olen < RUN_SYNC_MAX : !run_sync_due(R))) return;
    pthread_mutex_lock(&R->smu);
    while (atomic_load(&R->sbusy))
        pthread_cond_wait(&R->scv, &R->smu);
    if (R->olen) {
        char *b = R->sbuf;
        size_t cap = R->scap;
        R->sbuf = R->obuf, R->scap = R->ocap, R->slen = R->olen;
        R->obuf = b, R->ocap = cap, R->olen = 0, R->olines = 0;
        atomic_store(&R->sbusy, 1);
        pthread_cond_broadcast(&R->scv);
    }
    while (wait && atomic_load(&R->sbusy))
        pthread_cond_wait(&R->scv, &R->smu);
    pthread_mutex_unlock(&R->smu);
}

static void *run_syncer(void *arg) {
    run_state *R = arg;
    pthread_mutex_lock(&R->smu);
    for (;;) {
        while (!atomic_load(&R->sbusy) && !R->squit)
            pthread_cond_wait(&R->scv, &R->smu);
        if (!atomic_load(&R->sbusy)) break;
        pthread_mutex_unlock(&R->smu);
        run_sync_store(R);
        run_write_all(R, R->sbuf, R->slen);
        pthread_mutex_lock(&R->smu);
        R->slen = 0;
        atomic_store(&R->sbusy, 0);
        pthread_cond_broadcast(&R->scv);
    }
    pthread_mutex_unlock(&R->smu);
    return NULL;
}

static void run_commit_line(run_state *R, run_line *L) {
    run_cx *s = L->cx;
    if (s->pending) run_commit_cx(R, s);
    run_tally(R, s);
    size_t need = R->olen + s->outlen + 1;
    if (need > R->ocap) {
        while (R->ocap < need)
            R->ocap *= 2;
        R->obuf = xrealloc(R->obuf, R->ocap);
    }
    memcpy(R->obuf + R->olen, s->out, s->outlen);
    R->obuf[R->olen + s->outlen] = '\n';
    R->olen = need;
    if (!R->olines++ && R->syncer) clock_gettime(CLOCK_MONOTONIC, &R->ofirst);
    int flush = L->flush;
    atomic_store_explicit(&L->ready, 0, memory_order_relaxed);
    atomic_store_explicit(&s->busy, 0, memory_order_release);
    if (flush || R->olen >= RUN_OUT_MAX) run_write_out(R);
}

/*
 * Commits the evaluated lines at the head of the ring, if no other thread is at it.
 * `me`: only lines this thread evaluated (their context and output are in its cache;
 * committing another core's context costs more than the commit itself), or NULL for
 * any line (a thread about to wait, or out of contexts). A line made ready while
 * another thread held the lock is seen by that thread after unlocking: it commits it
 * or wakes the waiters, so a ready line at the head is never left unnoticed.
 */
static void run_try_commit(run_state *R, const run_thr *me) {
    for (;;) {
        if (atomic_exchange(&R->clock, 1)) return;
        uint_fast64_t s = atomic_load_explicit(&R->committed, memory_order_relaxed), s0 = s;
        run_line *L;
        while (atomic_load(&(L = &R->ring[s % RUN_RING])->ready) && (!me || L->cx->owner == me)) {
            run_commit_line(R, L);
            atomic_store_explicit(&R->committed, ++s, memory_order_release);
        }
        atomic_store(&R->clock, 0);
        if (!atomic_load(&L->ready)) {
            if (s != s0) run_wake(R);
            return;
        }
        if (me && L->cx->owner != me) {
            run_wake(R);
            return;
        }
    }
}

/* Writes what is buffered (main thread, nothing in flight). */
static void run_flush_now(run_state *R) {
    while (atomic_exchange(&R->clock, 1))
        run_relax();
    if (R->syncer)
        run_hand_over(R, 1);
    else if (R->olen)
        run_write_out(R);
    atomic_store(&R->clock, 0);
}

/* ------------------------------------------------------------------ workers ---- */

enum { RUN_DID, RUN_NOLINE, RUN_NOCTX };

/* A free context of this thread, the last one used first (it is warm). */
static run_cx *run_pick(run_thr *t) {
    if (!atomic_load_explicit(&t->cx[t->last].busy, memory_order_acquire)) return &t->cx[t->last];
    for (unsigned i = 0; i < RUN_CTXS; i++)
        if (!atomic_load_explicit(&t->cx[i].busy, memory_order_acquire)) {
            t->last = i;
            return &t->cx[i];
        }
    return NULL;
}

/* Takes the next line and evaluates it. A context is secured before the line is
 * claimed, so a claimed line is always evaluated without waiting. */
static int run_eval_one(run_thr *t) {
    run_state *R = t->R;
    run_cx *s = run_pick(t);
    if (!s) return RUN_NOCTX;
    uint_fast64_t n = atomic_load(&R->claimed);
    do {
        if (n >= atomic_load_explicit(&R->published, memory_order_acquire)) return RUN_NOLINE;
    } while (!atomic_compare_exchange_weak(&R->claimed, &n, n + 1));
    atomic_store_explicit(&s->busy, 1, memory_order_relaxed);
    run_line *L = &R->ring[n % RUN_RING];
    s->fails = atomic_load(&R->fails);
    run_eval_line(R, s, L);
    L->cx = s;
    atomic_store(&L->ready, 1);
    run_try_commit(R, t);
    return RUN_DID;
}

static void *run_worker(void *arg) {
    run_thr *t = arg;
    run_state *R = t->R;
    for (;;) {
        if (atomic_load(&R->quit)) return NULL;
        if (run_eval_one(t) == RUN_DID) continue;
        uint_fast64_t seen;
        run_announce(R, &seen);
        if (!atomic_load(&R->quit) && run_eval_one(t) != RUN_DID) {
            run_try_commit(R, NULL);
            run_wait(R, seen);
        } else {
            atomic_fetch_sub(&R->nwait, 1);
        }
    }
}

/* ------------------------------------------------------------------- reload ---- */

/* SIGHUP with --reload-on-signal, or set.pbc replaced with --watch. */
static int run_reload_due(run_state *R) {
    return (R->o.reload && rs_hup()) || rs_watch_due(&R->watch);
}

static void run_reload(run_state *R) {
    rs_hup_clear();
    rs_watch_done(&R->watch);
    R->reloads++;
    promo_bundle *b = NULL;
    char err[256] = "";
    promo_status st = promo_bundle_load_file(R->o.bundle_path, &b, err, sizeof err);
    if (st != PROMO_OK) {
        fprintf(stderr, "promo run: reload of %s failed, keeping the old bundle: %s\n",
                R->o.bundle_path, err[0] ? err : promo_strerror(st));
        R->reload_fails++;
        return;
    }
    st = promo_engine_swap(R->eng, b);
    if (st != PROMO_OK)
        fprintf(stderr, "promo run: reload of %s failed, keeping the old bundle: %s\n",
                R->o.bundle_path, promo_strerror(st));
    else if (!R->o.quiet)
        fprintf(stderr, "promo run: reloaded %s (%" PRIu32 " campaigns)\n", R->o.bundle_path,
                promo_bundle_campaign_count(b));
    promo_bundle_release(b);
}

/* -------------------------------------------------------------------- input ---- */

/* 1 when a read would not block (always for files). */
static int run_readable(run_state *R, int timeout_ms) {
    if (R->isreg) return 1;
    struct pollfd p = {R->fd, POLLIN, 0};
    int r = poll(&p, 1, timeout_ms);
    if (r < 0 && errno == EINTR) return 0; /* a signal: the caller looks at the flags */
    return r != 0;                         /* errors: let read() report them */
}

/* Reads more input after `end` of the current chunk; 1 data, 0 EOF, -1 error. */
static int run_fill(run_state *R) {
    run_chunk *c = &R->chunks[R->cur];
    for (;;) {
        ssize_t n = read(R->fd, c->buf + R->end, c->cap - RUN_PAD - R->end);
        if (n > 0) {
            R->end += (size_t)n;
            return 1;
        }
        if (n == 0) return 0;
        if (errno == EINTR) continue;
        fprintf(stderr, "promo run: read error: %s\n", strerror(errno));
        return -1;
    }
}

/* Publishes one line (main thread; the ring has room). A too-long line is published
 * as the copy of its id (run_leading_id) that its slot owns, or empty. */
static void run_publish(run_state *R, const char *line, size_t len, int toolong) {
    run_line *L = &R->ring[R->pub % RUN_RING];
    if (L->toolong && L->len) xfree((void *)L->p); /* the slot's line is committed */
    if (!toolong && len && line[len - 1] == '\r') len--;
    /* Files saved by some Windows tools start with a UTF-8 byte order mark. */
    if (!toolong && R->lineno == 0 && len >= 3 && !memcmp(line, "\xEF\xBB\xBF", 3))
        line += 3, len -= 3;
    L->p = line;
    L->len = len;
    L->lineno = ++R->lineno;
    L->toolong = (unsigned char)toolong;
    L->flush = ++R->since_flush >= R->o.batch;
    if (L->flush) R->since_flush = 0;
    R->pub++;
}

/* Makes the lines published so far visible to the other threads. */
static void run_expose(run_state *R) {
    atomic_store_explicit(&R->published, R->pub, memory_order_release);
}

/* Resizes a chunk that no line in flight points into (what it gains is zeroed: padding
 * must be readable). */
static void run_chunk_size(run_chunk *c, size_t cap) {
    size_t old = c->buf ? c->cap : 0;
    c->buf = xrealloc(c->buf, cap);
    if (cap > old) memset(c->buf + old, 0, cap - old);
    c->cap = cap;
}

/* The id of a line too long to read whole when the line starts with it
 * (`{"id":"..."`): a copy for its error record (NULL when it does not, or when the id
 * is not plain printable ASCII of at most 256 bytes: the record then has "id":null). */
static char *run_leading_id(const char *p, size_t n, size_t *len) {
    size_t i = 0, from;
    if (n > 4096) n = 4096;
    if (n >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) i = 3;
#define RUN_WS                                                                                     \
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))                                 \
    i++
    RUN_WS;
    if (i >= n || p[i++] != '{') return NULL;
    RUN_WS;
    if (n - i < 4 || memcmp(p + i, "\"id\"", 4)) return NULL;
    i += 4;
    RUN_WS;
    if (i >= n || p[i++] != ':') return NULL;
    RUN_WS;
#undef RUN_WS
    if (i >= n || p[i++] != '"') return NULL;
    for (from = i; i < n && p[i] != '"'; i++)
        if (p[i] == '\\' || p[i] < 0x20 || p[i] > 0x7e) return NULL;
    if (i >= n || i - from > 256) return NULL;
    *len = i - from;
    char *id = xmalloc(*len + 1);
    memcpy(id, p + from, *len);
    id[*len] = 0;
    return id;
}

/* A line longer than RUN_MAX_LINE: its error record is published and the rest of the
 * line skipped. */
static int run_skip_long_line(run_state *R) {
    run_chunk *c = &R->chunks[R->cur];
    size_t idlen = 0;
    char *id = run_leading_id(c->buf, R->end, &idlen);
    run_publish(R, id ? id : "", id ? idlen : 0, 1);
    R->pos = R->scan = R->end = 0;
    for (;;) {
        int r = run_fill(R);
        if (r < 0) return -1;
        if (r == 0) {
            R->eof = 1;
            break;
        }
        char *nl = memchr(c->buf, '\n', R->end);
        if (nl) {
            R->pos = R->scan = (size_t)(nl + 1 - c->buf);
            break;
        }
        R->end = 0;
    }
    c->last = R->pub;
    return 1;
}

/*
 * The current chunk is full and holds no newline after `pos`: grow it (the line starts
 * it) or move the partial line to the front of a free chunk. Returns 1 when there is
 * room to read, 0 when every other chunk still holds lines in flight, -1 on error.
 */
static int run_make_room(run_state *R) {
    run_chunk *c = &R->chunks[R->cur];
    if (R->pos == 0) {
        /* room for a line of RUN_MAX_LINE bytes and its newline, no more */
        size_t most = RUN_MAX_LINE + 1 + RUN_PAD;
        if (c->cap >= most) return run_skip_long_line(R);
        run_chunk_size(c, c->cap * 2 < most ? c->cap * 2 : most);
        return 1;
    }
    uint_fast64_t done = atomic_load_explicit(&R->committed, memory_order_acquire);
    unsigned i = 0;
    while (i < RUN_CHUNKS && (i == R->cur || R->chunks[i].last > done))
        i++;
    if (i == RUN_CHUNKS) return 0;
    run_chunk *d = &R->chunks[i];
    /* Sized for the partial line: a chunk grown for a long line shrinks back. */
    size_t part = R->end - R->pos, cap = RUN_READ_MIN;
    while (cap - RUN_PAD <= part)
        cap *= 2;
    if (cap != d->cap) run_chunk_size(d, cap);
    memcpy(d->buf, c->buf + R->pos, part);
    R->scan -= R->pos;
    R->end = part;
    R->pos = 0;
    R->cur = i;
    d->last = R->pub;
    return 1;
}

/*
 * Main thread: publishes the complete lines in hand, reading more when there are none.
 * `block`: nothing is in flight, so waiting for input is allowed (the output is written
 * first). Returns the number of lines published, 0 when nothing can be done now (the
 * ring or the chunks are full until commits free them, no input ready, the end), -1 on
 * a read error.
 */
static int run_feed(run_state *R, int block) {
    int n = 0;
    for (;;) {
        uint_fast64_t room =
            RUN_RING - (R->pub - atomic_load_explicit(&R->committed, memory_order_acquire));
        run_chunk *c = &R->chunks[R->cur];
        while (room > 0) {
            char *nl = memchr(c->buf + R->scan, '\n', R->end - R->scan);
            if (!nl) {
                R->scan = R->end;
                break;
            }
            run_publish(R, c->buf + R->pos, (size_t)(nl - (c->buf + R->pos)), 0);
            R->pos = R->scan = (size_t)(nl + 1 - c->buf);
            room--;
            if (++n % 32 == 0) run_expose(R);
        }
        c->last = R->pub;
        if (n > 0 || room == 0) break;
        if (R->eof) {
            if (R->pos < R->end) {
                run_publish(R, c->buf + R->pos, R->end - R->pos, 0);
                R->pos = R->end;
                c->last = R->pub;
                n++;
            }
            R->done_in = 1;
            break;
        }
        if (R->end + RUN_PAD == c->cap) {
            int r = run_make_room(R);
            if (r <= 0) {
                run_expose(R);
                return r < 0 ? -1 : n;
            }
            continue;
        }
        if (!run_readable(R, 0)) {
            if (!block) break;
            run_flush_now(R);
            /* Waiting for input: wake up now and then for a signal, a reload and the
             * progress. */
            while (!run_readable(R, 250)) {
                if (rs_stop_signal()) break;
                if (run_reload_due(R)) run_reload(R);
                run_progress(R, 0);
            }
            if (rs_stop_signal()) break;
            if (run_reload_due(R)) run_reload(R);
        }
        int r = run_fill(R);
        if (r < 0) {
            run_expose(R);
            return -1;
        }
        if (r == 0) R->eof = 1;
    }
    run_expose(R);
    if (n) run_wake(R);
    return n;
}

/* The main thread's loop: keeps the ring fed, evaluates, reloads between batches. */
static int run_stream(run_state *R) {
    run_thr *me = &R->thr[0];
    int rerr = 0;
    for (;;) {
        if (atomic_load(&R->werr)) return -1;
        uint_fast64_t done = atomic_load(&R->committed);
        int drained = done == R->pub;
        /* SIGTERM/SIGINT: no more input; the lines read are answered, then the end. */
        if (rs_stop_signal() && !R->done_in) R->done_in = 1;
        int hold = run_reload_due(R); /* no new line until the reload */
        if (hold && drained) {
            run_flush_now(R);
            run_reload(R);
            continue;
        }
        if (!hold && !R->done_in && R->pub - atomic_load(&R->claimed) < RUN_LOW &&
            run_feed(R, drained) < 0)
            rerr = R->done_in = 1; /* the lines read before the error are still answered */
        if (run_eval_one(me) == RUN_DID) continue;
        if (drained && atomic_load(&R->committed) == R->pub) {
            if (R->done_in) break;
            if (!hold) continue; /* nothing in flight: the next feed may wait for input */
        }
        /* Lines in flight on other threads: wait for a commit. */
        uint_fast64_t seen;
        run_announce(R, &seen);
        if (atomic_load(&R->committed) == done && !atomic_load(&R->werr) &&
            run_eval_one(me) != RUN_DID) {
            run_try_commit(R, NULL);
            run_wait(R, seen);
        } else {
            atomic_fetch_sub(&R->nwait, 1);
        }
    }
    run_flush_now(R); /* the last write fails like any other (exit 2) */
    return rerr || atomic_load(&R->werr) ? -1 : 0;
}

static int run_usage(const char *msg, const char *arg) {
    fprintf(stderr, "promo run: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    fprintf(stderr, "usage: promo run [options] set.pbc [receipts.jsonl] (--help for more)\n");
    return 2;
}

static int run_parse_num(const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int run_args(int argc, char **argv, run_opts *o) {
    int npos = 0;
    long v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(run_help, stdout);
            return 0;
        } else if (!strcmp(a, "--explain") || !strcmp(a, "--explain=json")) {
            o->explain = 1;
        } else if (!strcmp(a, "--explain=text")) {
            o->explain = 2;
        } else if (!strcmp(a, "--summary")) {
            o->summary = 1;
        } else if (!strcmp(a, "--report")) {
            o->report = 1;
        } else if (!strcmp(a, "--strict")) {
            o->strict = 1;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            o->quiet = 1;
        } else if (!strcmp(a, "--reload-on-signal")) {
            o->reload = 1;
        } else if (!strcmp(a, "--watch")) {
            o->watch = 1;
        } else if (!strcmp(a, "--stamp")) {
            o->stamp = 1;
        } else if (!strncmp(a, "--metrics", 9) && (a[9] == '=' || a[9] == 0)) {
            val = a[9] ? a + 10 : (i + 1 < argc ? argv[++i] : NULL);
            if (!val || !*val) return run_usage("--metrics needs a file name", NULL);
            o->metrics = val;
        } else if (!strncmp(a, "--threads", 9) && (a[9] == '=' || a[9] == 0)) {
            val = a[9] ? a + 10 : (i + 1 < argc ? argv[++i] : NULL);
            if (!val || run_parse_num(val, 1, RUN_MAX_THREADS, &v))
                return run_usage("--threads needs a number from 1 to 256", val);
            o->threads = (int)v;
        } else if (!strncmp(a, "--state", 7) && (a[7] == '=' || a[7] == 0)) {
            val = a[7] ? a + 8 : (i + 1 < argc ? argv[++i] : NULL);
            if (!val || !*val) return run_usage("--state needs a directory", val);
            o->state_dir = val;
        } else if (!strncmp(a, "--durability", 12) && (a[12] == '=' || a[12] == 0)) {
            val = a[12] ? a + 13 : (i + 1 < argc ? argv[++i] : NULL);
            if (val && !strcmp(val, "process"))
                o->durability = PROMO_DURABLE_PROCESS;
            else if (val && !strcmp(val, "strict"))
                o->durability = PROMO_DURABLE_STRICT;
            else
                return run_usage("--durability needs process or strict", val);
        } else if (!strcmp(a, "--write-map")) {
            o->write_map = 1;
        } else if (!strncmp(a, "--return-window", 15) && (a[15] == '=' || a[15] == 0)) {
            val = a[15] ? a + 16 : (i + 1 < argc ? argv[++i] : NULL);
            if (!val || run_parse_num(val, 0, 36500, &v))
                return run_usage("--return-window needs a number of days from 0 to 36500", val);
            o->return_window = v;
        } else if (!strncmp(a, "--max-customers", 15) && (a[15] == '=' || a[15] == 0)) {
            val = a[15] ? a + 16 : (i + 1 < argc ? argv[++i] : NULL);
            if (!val || run_parse_num(val, 1, 1000000000000L, &v))
                return run_usage("--max-customers needs a number from 1 to 10^12", val);
            o->max_customers = v;
        } else if (!strncmp(a, "--batch", 7) && (a[7] == '=' || a[7] == 0)) {
            val = a[7] ? a + 8 : (i + 1 < argc ? argv[++i] : NULL);
            if (!val || run_parse_num(val, 1, RUN_MAX_BATCH, &v))
                return run_usage("--batch needs a number from 1 to 65536", val);
            o->batch = (unsigned)v;
        } else if (a[0] == '-' && a[1] && strcmp(a, "--")) {
            return run_usage("unknown option", a);
        } else {
            if (!strcmp(a, "--")) {
                if (++i >= argc) break;
                a = argv[i];
            }
            if (npos == 0)
                o->bundle_path = a;
            else if (npos == 1)
                o->input_path = a;
            else
                return run_usage("too many arguments", a);
            npos++;
        }
    }
    if (!o->bundle_path) return run_usage("missing the bundle (set.pbc)", NULL);
    if (o->write_map && !o->state_dir)
        return run_usage("--write-map is for the LMDB store (with --state)", NULL);
    if (o->max_customers && o->state_dir)
        return run_usage("--max-customers is for the in-memory store (without --state)", NULL);
    return -1;
}

static void run_cleanup(run_state *R) {
    if (R->syncer) {
        pthread_mutex_lock(&R->smu);
        R->squit = 1;
        pthread_cond_broadcast(&R->scv);
        pthread_mutex_unlock(&R->smu);
        pthread_join(R->stid, NULL);
    }
    xfree(R->sbuf);
    pthread_mutex_destroy(&R->smu);
    pthread_cond_destroy(&R->scv);
    if (R->nstarted) {
        atomic_store(&R->quit, 1);
        run_wake(R);
        for (int i = 1; i <= R->nstarted; i++)
            pthread_join(R->thr[i].tid, NULL);
    }
    for (int t = 0; R->thr && t < R->nthr; t++) {
        for (unsigned i = 0; R->thr[t].cx && i < RUN_CTXS; i++) {
            promo_ctx_free(R->thr[t].cx[i].ctx);
            xfree(R->thr[t].cx[i].out);
        }
        xfree(R->thr[t].cx);
    }
    xfree(R->thr);
    for (unsigned i = 0; R->ring && i < RUN_RING; i++) /* ids of too-long lines */
        if (R->ring[i].toolong && R->ring[i].len) xfree((void *)R->ring[i].p);
    xfree(R->ring_mem);
    promo_engine_free(R->eng);
    for (unsigned i = 0; i < RUN_CHUNKS; i++)
        xfree(R->chunks[i].buf);
    xfree(R->obuf);
    for (size_t i = 0; i < R->ncounts; i++)
        xfree(R->counts[i].id);
    xfree(R->counts);
    xfree(R->map);
    if (R->fd > 0) close(R->fd);
    pthread_mutex_destroy(&R->mu);
    pthread_cond_destroy(&R->cv);
}

int cmd_run(int argc, char **argv) {
    run_state R;
    memset(&R, 0, sizeof R);
    R.o.batch = 256;
    R.o.return_window = 180;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    R.o.threads = ncpu < 1 ? 1 : ncpu > RUN_MAX_THREADS ? RUN_MAX_THREADS : (int)ncpu;
    int rc = run_args(argc, argv, &R.o);
    if (rc >= 0) return rc;

    pthread_mutex_init(&R.mu, NULL);
    pthread_cond_init(&R.cv, NULL);
    pthread_mutex_init(&R.smu, NULL);
    pthread_cond_init(&R.scv, NULL);
    R.fd = 0;
    snprintf(R.toolong_msg, sizeof R.toolong_msg, "line too long (more than %u bytes)",
             RUN_MAX_LINE);

    promo_bundle *b = NULL;
    char err[256] = "";
    promo_status st = promo_bundle_load_file(R.o.bundle_path, &b, err, sizeof err);
    if (st != PROMO_OK) {
        fprintf(stderr, "promo run: cannot load %s: %s\n", R.o.bundle_path,
                err[0] ? err : promo_strerror(st));
        rc = 2;
        goto out;
    }
    promo_engine_opts eo;
    promo_engine_opts_init(&eo);
    if (R.o.state_dir) {
        promo_store_opts so;
        promo_store_opts_init(&so);
        so.durability = R.o.durability;
        so.return_window = (int32_t)R.o.return_window;
        so.group_commit = 1; /* synced before each write of the output */
        so.write_map = R.o.write_map;
        st = promo_store_open(R.o.state_dir, &so, &R.store, err, sizeof err);
        if (st != PROMO_OK) {
            promo_bundle_release(b);
            fprintf(stderr, "promo run: %s\n", err[0] ? err : promo_strerror(st));
            rc = 2;
            goto out;
        }
        eo.store = R.store;
        eo.own_store = 1;
    } else { /* the in-memory store: its cap, the return window of "op" lines' journal */
        promo_store_opts so;
        promo_store_opts_init(&so);
        so.max_customers = (uint64_t)R.o.max_customers;
        so.return_window = (int32_t)R.o.return_window;
        if ((st = promo_store_new_memory_with(&so, &eo.store)) != PROMO_OK) {
            promo_bundle_release(b);
            fprintf(stderr, "promo run: %s\n", promo_strerror(st));
            rc = 2;
            goto out;
        }
        eo.own_store = 1;
    }
    st = promo_engine_new(b, &eo, &R.eng);
    promo_bundle_release(b);
    if (st != PROMO_OK && eo.store.ops) promo_store_free(&eo.store);
    if (st != PROMO_OK) {
        fprintf(stderr, "promo run: %s\n", promo_strerror(st));
        rc = 2;
        goto out;
    }

    if (R.o.input_path && strcmp(R.o.input_path, "-")) {
        R.fd = open(R.o.input_path, O_RDONLY | O_CLOEXEC);
        if (R.fd < 0) {
            fprintf(stderr, "promo run: cannot open %s: %s\n", R.o.input_path, strerror(errno));
            R.fd = 0;
            rc = 2;
            goto out;
        }
    }
    struct stat sb;
    R.isreg = fstat(R.fd, &sb) == 0 && S_ISREG(sb.st_mode);

    R.nthr = R.o.threads;
    R.thr = xcalloc((size_t)R.nthr, sizeof *R.thr);
    for (int t = 0; t < R.nthr; t++) {
        R.thr[t].R = &R;
        R.thr[t].cx = xcalloc(RUN_CTXS, sizeof *R.thr[t].cx);
        for (unsigned i = 0; i < RUN_CTXS; i++) {
            R.thr[t].cx[i].owner = &R.thr[t];
            R.thr[t].cx[i].stamp = R.o.stamp;
            st = promo_ctx_new(R.eng, R.o.explain ? PROMO_CTX_EXPLAIN : 0, &R.thr[t].cx[i].ctx);
            if (st != PROMO_OK) {
                fprintf(stderr, "promo run: %s\n", promo_strerror(st));
                rc = 2;
                goto out;
            }
            run_grow(&R.thr[t].cx[i], 0);
        }
    }
    R.ring_mem = xcalloc(1, RUN_RING * sizeof *R.ring + 64);
    R.ring = (run_line *)(((uintptr_t)R.ring_mem + 63) & ~(uintptr_t)63);
    run_chunk_size(&R.chunks[0], RUN_READ_MIN);
    /* With --state both output buffers start at the most a hand-over holds
     * (RUN_SYNC_MAX and the lines that passed it; only the pages used are touched):
     * grown by doubling, every copy touched fresh pages, and a page fault costs
     * microseconds on a VM (docs/performance.md "Speed round 3"). */
    R.ocap = R.store.ops ? RUN_SYNC_MAX + RUN_SYNC_MIN : RUN_OUT_MAX + (RUN_OUT_MAX >> 2);
    R.obuf = xmalloc(R.ocap);
    if (R.store.ops) {
        R.scap = R.ocap;
        R.sbuf = xmalloc(R.scap);
        R.syncer = !pthread_create(&R.stid, NULL, run_syncer, &R);
    }

    rs_install(R.o.reload);
    rs_watch_init(&R.watch, R.o.bundle_path, R.o.watch);

    for (int t = 1; t < R.nthr; t++) {
        if (pthread_create(&R.thr[t].tid, NULL, run_worker, &R.thr[t])) break;
        R.nstarted = t;
    }

    R.progress = !R.o.quiet && isatty(2);
    clock_gettime(CLOCK_MONOTONIC, &R.t0);
    R.last = R.t0;

    rc = run_stream(&R) < 0 ? 2 : 0;
    run_progress(&R, 1);
    int sig = rs_stop_signal();
    if (sig) /* what a stop leaves: every line read up to here has its result */
        fprintf(stderr,
                "promo run: stopped by %s after input line %" PRIu64 " (%" PRIu64
                " results written)\n",
                sig == SIGTERM ? "SIGTERM" : "SIGINT", R.lineno, R.receipts);
    if (R.o.summary || sig) run_print_summary(&R);
    if (R.o.report) { /* per-campaign money on stderr (cli/report.c) */
        R.rep.errors = R.errors;
        report_budgets(&R.rep, R.eng);
        report_print(&R.rep, stderr);
        report_free(&R.rep);
    }
    if (rc == 0 && R.o.strict && R.errors) rc = 1;
    if (rc == 0 && sig) rc = 128 + sig;
out:
    fflush(stdout);
    run_cleanup(&R);
    return rc;
}
