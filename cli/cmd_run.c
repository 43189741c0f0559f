/*
 * cmd_run.c — `promo run set.pbc [receipts.jsonl]`: the stream evaluator (CLI face of
 * the runtime: JSON lines -> receipt reader -> engine -> result writer -> stdout).
 *
 * Pipeline, per batch of input lines:
 *   1. the main thread reads lines into one buffer (no copy per line) and assigns each
 *      line a slot; every slot owns a promo_ctx, so its receipt and evaluation stay
 *      alive until the batch is committed;
 *   2. the slots are parsed and evaluated (promo_eval) by --threads threads in
 *      parallel, each result formatted into its slot's buffer;
 *   3. the main thread commits the slots IN INPUT ORDER (promo_commit); a slot whose
 *      commit reports PROMO_ECONFLICT (an earlier receipt of the batch changed a budget
 *      or the customer's state it read) is evaluated again, now sequentially, and
 *      committed. The output is therefore the one of a sequential run, byte for byte,
 *      whatever the thread count or batch size;
 *   4. the outputs are written in input order, one line per input line, and flushed.
 * Between batches: progress on stderr (terminal only), bundle reload after SIGHUP.
 * After warm-up nothing is allocated per receipt: the line buffer, the slots, their
 * contexts and output buffers are reused.
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
#include "promo.h"
#include "result_json.h"
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
    "  --batch N           lines evaluated together between two commits (default 256)\n"
    "  --explain           add \"explain\" (why each campaign did or did not apply)\n"
    "  --summary           print totals and per-campaign counts on stderr at the end\n"
    "  --strict            exit 1 when any line was malformed\n"
    "  --reload-on-signal  on SIGHUP, reload set.pbc between batches (a bundle that\n"
    "                      fails to load is reported and the old one kept)\n"
    "  -q, --quiet         no progress display\n"
    "  -h, --help          this help\n"
    "\n"
    "Progress (receipts, receipts/s) is shown on stderr when it is a terminal.\n"
    "exit status: 0 stream processed, 1 malformed lines with --strict,\n"
    "             2 usage, I/O or bundle error\n";

#define RUN_PAD          PROMO_JSON_PADDING /* readable bytes kept after the data */
#define RUN_READ_MIN     (1u << 20)         /* initial input buffer */
#define RUN_MAX_LINE     (64u << 20)        /* longer lines are refused */
#define RUN_MAX_BATCH    65536u
#define RUN_MAX_THREADS  256
#define RUN_MAX_CONFLICT 1000 /* re-evaluations of one receipt before giving up */

typedef struct run_opts {
    const char *bundle_path;
    const char *input_path;
    int threads;
    unsigned batch;
    int explain, summary, strict, quiet, reload;
} run_opts;

enum { SLOT_OUT, SLOT_PENDING }; /* output ready / evaluated, to commit */

typedef struct run_slot {
    promo_ctx *ctx;
    const char *line;
    size_t len;
    uint64_t lineno;
    int state;
    int bad; /* the output is an error record */
    const promo_receipt *rcpt;
    const promo_result *res;
    char *out;
    size_t outlen, outcap;
} run_slot;

/* Per-campaign applied counts for --summary, keyed by campaign id across reloads. */
typedef struct run_count {
    char *id;
    uint64_t applied;
} run_count;

typedef struct run_state {
    run_opts o;
    promo_engine *eng;

    int fd;
    char *buf; /* input: [pos, end) not yet assigned to slots */
    size_t cap, pos, end;
    int eof;
    uint64_t lineno;

    run_slot *slots;
    unsigned nslots_alloc, nslots;

    /* worker pool */
    pthread_t *tids;
    int nworkers;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    uint64_t gen;
    int active, quit;
    atomic_uint next;

    /* totals */
    uint64_t receipts, errors;
    int64_t discount, points;
    run_count *counts;
    size_t ncounts;
    const promo_bundle *map_bundle;
    uint32_t *map; /* campaign index of map_bundle -> counts index */

    /* progress */
    int progress;
    struct timespec t0, last;
} run_state;

static volatile sig_atomic_t run_hup;

static void run_on_hup(int sig) {
    (void)sig;
    run_hup = 1;
}

/* ----------------------------------------------------------------- outputs ---- */

static void run_grow(run_slot *s, size_t need) {
    size_t nc = s->outcap ? s->outcap : 1024;
    while (nc <= need)
        nc *= 2;
    s->out = xrealloc(s->out, nc);
    s->outcap = nc;
}

static void run_error(run_slot *s, promo_str id, const char *msg) {
    size_t n = out_error_to_json(id, s->lineno, msg, s->out, s->outcap);
    if (n >= s->outcap) {
        run_grow(s, n);
        n = out_error_to_json(id, s->lineno, msg, s->out, s->outcap);
    }
    s->outlen = n;
    s->state = SLOT_OUT;
    s->bad = 1;
}

static void run_result(run_slot *s) {
    size_t n = promo_result_to_json(s->res, s->out, s->outcap);
    if (n >= s->outcap) {
        run_grow(s, n);
        n = promo_result_to_json(s->res, s->out, s->outcap);
    }
    s->outlen = n;
}

/* Parse + evaluate one slot (any thread). */
static void run_eval_slot(run_slot *s) {
    promo_str id = {NULL, 0};
    s->bad = 0;
    s->res = NULL;
    promo_status st = promo_receipt_parse_json(s->ctx, s->line, s->len, &s->rcpt, &id);
    if (st != PROMO_OK) {
        run_error(s, id, promo_ctx_errmsg(s->ctx));
        return;
    }
    st = promo_eval(s->ctx, s->rcpt, &s->res);
    if (st != PROMO_OK) {
        run_error(s, s->rcpt->id, promo_ctx_errmsg(s->ctx));
        return;
    }
    run_result(s);
    s->state = SLOT_PENDING;
}

/* Commit one evaluated slot (main thread, input order). */
static void run_commit_slot(run_slot *s) {
    for (int tries = 0;; tries++) {
        promo_status st = promo_commit(s->ctx);
        if (st == PROMO_OK) break;
        if (st != PROMO_ECONFLICT || tries == RUN_MAX_CONFLICT) {
            run_error(s, s->rcpt->id, promo_ctx_errmsg(s->ctx));
            return;
        }
        st = promo_eval(s->ctx, s->rcpt, &s->res);
        if (st != PROMO_OK) {
            run_error(s, s->rcpt->id, promo_ctx_errmsg(s->ctx));
            return;
        }
        run_result(s);
    }
    s->state = SLOT_OUT;
}

/* ------------------------------------------------------------------ workers ---- */

static void run_work(run_state *R) {
    for (;;) {
        unsigned i = atomic_fetch_add(&R->next, 4);
        if (i >= R->nslots) return;
        unsigned end = i + 4 < R->nslots ? i + 4 : R->nslots;
        for (; i < end; i++)
            run_eval_slot(&R->slots[i]);
    }
}

static void *run_worker(void *arg) {
    run_state *R = arg;
    uint64_t seen = 0;
    for (;;) {
        pthread_mutex_lock(&R->mu);
        while (R->gen == seen && !R->quit)
            pthread_cond_wait(&R->go, &R->mu);
        if (R->quit) {
            pthread_mutex_unlock(&R->mu);
            return NULL;
        }
        seen = R->gen;
        pthread_mutex_unlock(&R->mu);
        run_work(R);
        pthread_mutex_lock(&R->mu);
        if (--R->active == 0) pthread_cond_signal(&R->done);
        pthread_mutex_unlock(&R->mu);
    }
}

static void run_evaluate_batch(run_state *R) {
    atomic_store(&R->next, 0);
    if (R->nworkers == 0 || R->nslots <= 4) {
        run_work(R);
        return;
    }
    pthread_mutex_lock(&R->mu);
    R->gen++;
    R->active = R->nworkers;
    pthread_cond_broadcast(&R->go);
    pthread_mutex_unlock(&R->mu);
    run_work(R);
    pthread_mutex_lock(&R->mu);
    while (R->active > 0)
        pthread_cond_wait(&R->done, &R->mu);
    pthread_mutex_unlock(&R->mu);
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

static void run_tally(run_state *R, const run_slot *s) {
    R->receipts++;
    if (s->bad) {
        R->errors++;
        return;
    }
    if (!R->o.summary) return;
    const promo_result *res = s->res;
    R->discount += res->discount;
    for (uint32_t i = 0; i < res->npoints; i++)
        R->points += res->points[i].points;
    if (res->bundle != R->map_bundle) run_map(R, res->bundle);
    for (uint32_t i = 0; i < res->napplied; i++)
        R->counts[R->map[res->applied[i]]].applied++;
}

static void run_money(FILE *f, int64_t v) {
    char b[24];
    size_t n = out_money(v, b);
    fwrite(b, 1, n, f);
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

static void run_progress(run_state *R, int final) {
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

/* ------------------------------------------------------------------- reload ---- */

static void run_reload(run_state *R) {
    run_hup = 0;
    promo_bundle *b = NULL;
    char err[256] = "";
    promo_status st = promo_bundle_load_file(R->o.bundle_path, &b, err, sizeof err);
    if (st != PROMO_OK) {
        fprintf(stderr, "promo run: reload of %s failed, keeping the old bundle: %s\n",
                R->o.bundle_path, err[0] ? err : promo_strerror(st));
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
static int run_readable(int fd, int timeout_ms) {
    struct pollfd p = {fd, POLLIN, 0};
    int r = poll(&p, 1, timeout_ms);
    return r != 0; /* errors: let read() report them */
}

/* Reads more input after `end`; 1 data, 0 EOF, -1 error (message printed). */
static int run_fill(run_state *R) {
    for (;;) {
        ssize_t n = read(R->fd, R->buf + R->end, R->cap - RUN_PAD - R->end);
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

static void run_add_slot(run_state *R, const char *line, size_t len) {
    run_slot *s = &R->slots[R->nslots++];
    if (len && line[len - 1] == '\r') len--;
    /* Files saved by some Windows tools start with a UTF-8 byte order mark. */
    if (R->lineno == 0 && len >= 3 && !memcmp(line, "\xEF\xBB\xBF", 3)) line += 3, len -= 3;
    s->line = line;
    s->len = len;
    s->lineno = ++R->lineno;
}

/* Writes the slots' outputs in order; -1 on a write error. */
static int run_write(run_state *R) {
    for (unsigned i = 0; i < R->nslots; i++) {
        run_slot *s = &R->slots[i];
        s->out[s->outlen] = '\n';
        fwrite(s->out, 1, s->outlen + 1, stdout);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "promo run: write error: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

/* A line longer than RUN_MAX_LINE: its error record is written now, the rest of the
 * line skipped. Called with no slot in use. */
static int run_skip_long_line(run_state *R) {
    run_slot *s = &R->slots[0];
    s->lineno = ++R->lineno;
    char msg[80];
    snprintf(msg, sizeof msg, "line too long (more than %u bytes)", RUN_MAX_LINE);
    run_error(s, (promo_str){NULL, 0}, msg);
    R->receipts++;
    R->errors++;
    R->pos = R->end = 0;
    for (;;) {
        int r = run_fill(R);
        if (r < 0) return -1;
        if (r == 0) {
            R->eof = 1;
            break;
        }
        char *nl = memchr(R->buf, '\n', R->end);
        if (nl) {
            R->pos = (size_t)(nl + 1 - R->buf);
            break;
        }
        R->end = 0;
    }
    R->nslots = 1;
    int w = run_write(R);
    R->nslots = 0;
    return w;
}

/*
 * Fills the next batch of slots. Blocks only while it has no line at all: with some
 * lines in hand it takes only what can be read without waiting, so a slow producer
 * (a POS feed through a pipe) gets each result as soon as its line is complete.
 * Returns the number of slots, 0 at the end of the input, -1 on error.
 */
static int run_gather(run_state *R) {
    R->nslots = 0;
    /* No slot refers to the buffer now: move the unread tail to the front. */
    if (R->pos > 0) {
        memmove(R->buf, R->buf + R->pos, R->end - R->pos);
        R->end -= R->pos;
        R->pos = 0;
    }
    size_t scan = R->pos;
    while (R->nslots < R->o.batch) {
        char *nl = memchr(R->buf + scan, '\n', R->end - scan);
        if (nl) {
            run_add_slot(R, R->buf + R->pos, (size_t)(nl - (R->buf + R->pos)));
            R->pos = scan = (size_t)(nl + 1 - R->buf);
            continue;
        }
        scan = R->end;
        if (R->eof) {
            if (R->pos < R->end) {
                run_add_slot(R, R->buf + R->pos, R->end - R->pos);
                R->pos = R->end;
            }
            break;
        }
        if (R->nslots > 0 && !run_readable(R->fd, 0)) break;
        if (R->end + RUN_PAD == R->cap) {
            if (R->nslots > 0) break; /* full: evaluate what we have first */
            if (R->cap >= RUN_MAX_LINE) {
                if (run_skip_long_line(R) < 0) return -1;
                scan = R->pos;
                if (R->pos > 0) {
                    memmove(R->buf, R->buf + R->pos, R->end - R->pos);
                    R->end -= R->pos;
                    R->pos = scan = 0;
                }
                continue;
            }
            size_t nc = R->cap * 2;
            R->buf = xrealloc(R->buf, nc);
            memset(R->buf + R->cap, 0, nc - R->cap);
            R->cap = nc;
        }
        if (R->nslots == 0) {
            /* Waiting for input: wake up now and then for SIGHUP and the progress. */
            while (!run_readable(R->fd, 250)) {
                if (R->o.reload && run_hup) run_reload(R);
                run_progress(R, 0);
            }
            if (R->o.reload && run_hup) run_reload(R);
        }
        int r = run_fill(R);
        if (r < 0) return -1;
        if (r == 0) R->eof = 1;
    }
    return (int)R->nslots;
}

/* ------------------------------------------------------------------ command ---- */

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
        } else if (!strcmp(a, "--explain")) {
            o->explain = 1;
        } else if (!strcmp(a, "--summary")) {
            o->summary = 1;
        } else if (!strcmp(a, "--strict")) {
            o->strict = 1;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            o->quiet = 1;
        } else if (!strcmp(a, "--reload-on-signal")) {
            o->reload = 1;
        } else if (!strncmp(a, "--threads", 9) && (a[9] == '=' || a[9] == 0)) {
            val = a[9] ? a + 10 : (i + 1 < argc ? argv[++i] : NULL);
            if (!val || run_parse_num(val, 1, RUN_MAX_THREADS, &v))
                return run_usage("--threads needs a number from 1 to 256", val);
            o->threads = (int)v;
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
    return -1;
}

static void run_cleanup(run_state *R) {
    if (R->nworkers) {
        pthread_mutex_lock(&R->mu);
        R->quit = 1;
        pthread_cond_broadcast(&R->go);
        pthread_mutex_unlock(&R->mu);
        for (int i = 0; i < R->nworkers; i++)
            pthread_join(R->tids[i], NULL);
    }
    for (unsigned i = 0; i < R->nslots_alloc; i++) {
        promo_ctx_free(R->slots[i].ctx);
        xfree(R->slots[i].out);
    }
    xfree(R->slots);
    xfree(R->tids);
    promo_engine_free(R->eng);
    xfree(R->buf);
    for (size_t i = 0; i < R->ncounts; i++)
        xfree(R->counts[i].id);
    xfree(R->counts);
    xfree(R->map);
    if (R->fd > 0) close(R->fd);
    pthread_mutex_destroy(&R->mu);
    pthread_cond_destroy(&R->go);
    pthread_cond_destroy(&R->done);
}

int cmd_run(int argc, char **argv) {
    run_state R;
    memset(&R, 0, sizeof R);
    R.o.batch = 256;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    R.o.threads = ncpu < 1 ? 1 : ncpu > RUN_MAX_THREADS ? RUN_MAX_THREADS : (int)ncpu;
    int rc = run_args(argc, argv, &R.o);
    if (rc >= 0) return rc;

    pthread_mutex_init(&R.mu, NULL);
    pthread_cond_init(&R.go, NULL);
    pthread_cond_init(&R.done, NULL);
    atomic_init(&R.next, 0);
    R.fd = 0;

    promo_bundle *b = NULL;
    char err[256] = "";
    promo_status st = promo_bundle_load_file(R.o.bundle_path, &b, err, sizeof err);
    if (st != PROMO_OK) {
        fprintf(stderr, "promo run: cannot load %s: %s\n", R.o.bundle_path,
                err[0] ? err : promo_strerror(st));
        rc = 2;
        goto out;
    }
    st = promo_engine_new(b, NULL, &R.eng);
    promo_bundle_release(b);
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

    R.nslots_alloc = R.o.batch;
    R.slots = xcalloc(R.nslots_alloc, sizeof *R.slots);
    for (unsigned i = 0; i < R.nslots_alloc; i++) {
        st = promo_ctx_new(R.eng, R.o.explain ? PROMO_CTX_EXPLAIN : 0, &R.slots[i].ctx);
        if (st != PROMO_OK) {
            fprintf(stderr, "promo run: %s\n", promo_strerror(st));
            rc = 2;
            goto out;
        }
        run_grow(&R.slots[i], 0);
    }
    R.cap = RUN_READ_MIN;
    R.buf = xcalloc(1, R.cap);

    if (R.o.reload) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = run_on_hup;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGHUP, &sa, NULL);
    }

    R.nworkers = R.o.threads - 1;
    if (R.nworkers > 0) {
        R.tids = xcalloc((size_t)R.nworkers, sizeof *R.tids);
        for (int i = 0; i < R.nworkers; i++)
            if (pthread_create(&R.tids[i], NULL, run_worker, &R)) {
                R.nworkers = i;
                break;
            }
    }

    static char obuf[1 << 20];
    setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
    R.progress = !R.o.quiet && isatty(2);
    clock_gettime(CLOCK_MONOTONIC, &R.t0);
    R.last = R.t0;

    rc = 0;
    for (;;) {
        if (R.o.reload && run_hup) run_reload(&R);
        int n = run_gather(&R);
        if (n < 0) {
            rc = 2;
            break;
        }
        if (n == 0) break;
        run_evaluate_batch(&R);
        for (unsigned i = 0; i < R.nslots; i++) {
            if (R.slots[i].state == SLOT_PENDING) run_commit_slot(&R.slots[i]);
            run_tally(&R, &R.slots[i]);
        }
        if (run_write(&R) < 0) {
            rc = 2;
            break;
        }
        run_progress(&R, 0);
    }
    run_progress(&R, 1);
    if (R.o.summary) run_print_summary(&R);
    if (rc == 0 && R.o.strict && R.errors) rc = 1;
out:
    fflush(stdout);
    run_cleanup(&R);
    return rc;
}
