/*
 * test_node_escrow.c — shared campaign budgets (node/escrow.c) on the loopback cluster:
 * Σ granted ≤ cap always, with concurrent grabbers (threads, and processes of which one
 * is killed with SIGKILL mid-way), exact grants in the tail incl. partial, give-back.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "escrow.h"
#include "nats_helpers.h"

Test(escrow, slices_then_exact_partial_grant_in_the_tail) {
    char pre[64];
    tp *t = nh_open("esa", 1, pre);
    esc_budget b;
    int64_t got, cap, granted;
    cr_assert_eq(esc_open(t, "summer_10", 1000, &b), TP_OK, "%s", tp_errmsg());
    cr_assert_eq(b.cap, 1000);
    cr_assert_eq(esc_take(t, &b, 30, &got), TP_OK, "%s", tp_errmsg());
    cr_assert_eq(got, 30);
    cr_assert_eq(esc_read(t, &b, &cap, &granted), TP_OK);
    cr_assert_eq(cap, 1000);
    cr_assert_eq(granted, 30 + b.held, "granted = spent + held");
    cr_assert_eq(b.spent, 30);
    /* take until the tail: the last take gets only what remains */
    int64_t total = 30, partial = 0;
    for (;;) {
        cr_assert_eq(esc_take(t, &b, 70, &got), TP_OK, "%s", tp_errmsg());
        total += got;
        if (got < 70) {
            partial = got;
            break;
        }
    }
    cr_assert_eq(total, 1000, "the whole budget and not a kopeck more");
    cr_assert_eq(partial, 60, "30 + 13 x 70 = 940: the last take gets 60, not 70 (got %lld)",
                 (long long)partial);
    cr_assert_eq(esc_take(t, &b, 1, &got), TP_OK);
    cr_assert_eq(got, 0, "exhausted");
    cr_assert_eq(esc_read(t, &b, &cap, &granted), TP_OK);
    cr_assert_eq(granted, 1000);
    /* a return gives budget back, which can be spent again */
    cr_assert_eq(esc_give_back(t, &b, 45), TP_OK);
    cr_assert_eq(esc_read(t, &b, &cap, &granted), TP_OK);
    cr_assert_eq(granted, 955);
    cr_assert_eq(esc_take(t, &b, 50, &got), TP_OK);
    cr_assert_eq(got, 45, "partial: only the 45 given back");
    /* a second opener sees the same record and cap */
    esc_budget b2;
    cr_assert_eq(esc_open(t, "summer_10", 5000, &b2), TP_OK);
    cr_assert_eq(b2.cap, 1000, "an existing record keeps its cap");
    t->ops->close(t);
}

Test(escrow, odd_campaign_ids_are_encoded_into_valid_keys) {
    char pre[64];
    tp *t = nh_open("esb", 1, pre);
    esc_budget b;
    cr_assert_eq(esc_open(t, "скидка 10%", 500, &b), TP_OK, "%s", tp_errmsg());
    cr_assert_str_eq(b.key, "b.=d1=81=d0=ba=d0=b8=d0=b4=d0=ba=d0=b0=2010=25");
    int64_t got;
    cr_assert_eq(esc_take(t, &b, 600, &got), TP_OK);
    cr_assert_eq(got, 500);
    t->ops->close(t);
}

/* ---- concurrent grabbers ------------------------------------------------------ */

#define CAP 200000

typedef struct grabber {
    const char *prefix;
    int64_t spent, partials;
    int seed;
    int batch;        /* 0: take one by one; n: tail reservations, given back every n */
    uint64_t settles; /* batches that gave a reservation back */
} grabber;

static int settle(tp *t, esc_budget *b);

static void *grab(void *arg) {
    grabber *g = arg;
    tp *t = nh_open_as(g->prefix, 1);
    esc_budget b;
    cr_assert_eq(esc_open(t, "flash", CAP, &b), TP_OK, "%s", tp_errmsg());
    b.reserve = g->batch > 0;
    unsigned s = (unsigned)g->seed;
    for (int k = 1;; k++) {
        int64_t want = 1 + (int64_t)(rand_r(&s) % 900), got;
        cr_assert_eq(esc_take(t, &b, want, &got), TP_OK, "%s", tp_errmsg());
        g->spent += got;
        if (got && got < want) g->partials++;
        if (!got) break;
        if (g->batch) {
            esc_rec r;
            cr_assert_eq(esc_read_rec(t, &b, &r), TP_OK);
            cr_assert_leq(r.granted, r.cap, "Σ granted %lld > cap", (long long)r.granted);
            cr_assert_leq(r.resv, r.granted);
            if (k % g->batch == 0) g->settles += settle(t, &b);
        }
        usleep(1000); /* receipts arrive at a rate: every grabber gets its share */
    }
    esc_release(t, &b);
    t->ops->close(t);
    return NULL;
}

/* n grabbers on the budget "flash" of `name`'s prefix; their totals into *all. */
static tp *grab_all(const char *name, int n, int batch, grabber *all, int *spenders) {
    char pre[64];
    tp *t = nh_open(name, 1, pre);
    grabber g[4];
    pthread_t th[4];
    for (int i = 0; i < n; i++) {
        g[i] = (grabber){pre, 0, 0, i + 1 + 10 * batch, batch, 0};
        pthread_create(&th[i], NULL, grab, &g[i]);
    }
    *all = (grabber){0};
    *spenders = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        all->spent += g[i].spent;
        all->partials += g[i].partials;
        all->settles += g[i].settles;
        *spenders += g[i].spent > 0;
    }
    return t;
}

Test(escrow, concurrent_threads_spend_exactly_the_cap, .timeout = 100) {
    grabber all;
    int spenders;
    tp *t = grab_all("esc", 4, 0, &all, &spenders);
    cr_assert_geq(spenders, 2, "the grabbers did compete");
    esc_budget b;
    int64_t cap, granted;
    cr_assert_eq(esc_open(t, "flash", 1, &b), TP_OK);
    cr_assert_eq(esc_read(t, &b, &cap, &granted), TP_OK);
    cr_assert_eq(cap, CAP);
    cr_assert_eq(all.spent, CAP, "spent %lld of %d", (long long)all.spent, CAP);
    cr_assert_eq(granted, CAP);
    cr_assert_leq(all.partials, 4, "at most one partial grant per grabber");
    t->ops->close(t);
}

/* A prefix of this process's own, and counters shared with the forked grabbers. */
static volatile int64_t *shared_counters(const char *tag, char pre[64]) {
    snprintf(pre, 64, "%s%d", tag, (int)getpid());
    volatile int64_t *c =
        mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    cr_assert(c != MAP_FAILED);
    return c;
}

/* Processes: one is killed with SIGKILL while holding a slice. A child's spend is what
 * it records in shared memory; budget it was granted but had not spent when it died is
 * stranded (under-spent), never spent twice. */
Test(escrow, a_killed_grabber_strands_its_slice_but_never_overspends, .timeout = 100) {
    /* No libnats in this process before the forks: a child would inherit its state
     * (the NUID that names reply inboxes) and hear another child's replies. */
    char pre[64];
    volatile int64_t *spent = shared_counters("esd", pre);
    pid_t pid[3];
    pid[0] = fork(); /* creates the streams and the record, alone */
    if (pid[0] == 0) {
        tp *c = nh_open_as(pre, 1);
        esc_budget cb;
        _exit(esc_open(c, "flash", CAP, &cb) == TP_OK ? 0 : 3);
    }
    int st;
    waitpid(pid[0], &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    for (int i = 0; i < 3; i++) {
        pid[i] = fork();
        cr_assert(pid[i] >= 0);
        if (pid[i] == 0) {
            tp *c = nh_open_as(pre, 1);
            esc_budget cb;
            if (esc_open(c, "flash", CAP, &cb) != TP_OK) {
                fprintf(stderr, "grabber %d: %s\n", i, tp_errmsg());
                _exit(3);
            }
            unsigned s = (unsigned)i + 7;
            for (int errors = 0;;) {
                int64_t want = 1 + (int64_t)(rand_r(&s) % 900), got;
                int rc = esc_take(c, &cb, want, &got);
                spent[i] += got;   /* what it got, even when a grant failed */
                if (rc != TP_OK) { /* engine trouble on a busy machine: a node retries */
                    fprintf(stderr, "grabber %d: %s\n", i, tp_errmsg());
                    if (++errors > 20) _exit(4);
                    usleep(100000);
                    continue;
                }
                if (!got) break;
                usleep(1000); /* at a rate: the victim spends before the others are through */
            }
            esc_release(c, &cb);
            c->ops->close(c);
            _exit(0);
        }
    }
    /* kill the victim once it has spent something, while the others are still at it */
    for (int ms = 0; spent[0] < 2000 && ms < 20000; ms++)
        usleep(1000);
    if (spent[0] < 2000) fprintf(stderr, "note: the victim spent only %ld\n", (long)spent[0]);
    kill(pid[0], SIGKILL);
    waitpid(pid[0], &st, 0);
    cr_assert(WIFSIGNALED(st));
    for (int i = 1; i < 3; i++) {
        waitpid(pid[i], &st, 0);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "grabber %d: status %d", i, st);
    }
    tp *t = nh_open_as(pre, 1);
    esc_budget b;
    cr_assert_eq(esc_open(t, "flash", CAP, &b), TP_OK);
    int64_t cap, granted;
    cr_assert_eq(esc_read(t, &b, &cap, &granted), TP_OK);
    int64_t sum = spent[0] + spent[1] + spent[2];
    cr_assert_leq(sum, CAP, "overspend: %lld > %d", (long long)sum, CAP);
    cr_assert_eq(granted, CAP, "the survivors took everything that was not stranded");
    cr_assert_leq(CAP - sum, CAP / 16 + 900, "stranded %lld: at most the victim's slice",
                  (long long)(CAP - sum));
    t->ops->close(t);
}

/* ---- tail reservations (what a node's partitions do: esc_budget.reserve) -------- */

/* A batch of takes, then what is left of the tail reservation goes back. 1: some. */
static int settle(tp *t, esc_budget *b) {
    esc_budget copy;
    if (!esc_settle_begin(b, &copy)) return 0;
    cr_assert_eq(esc_settle_run(t, &copy), TP_OK, "%s", tp_errmsg());
    esc_settle_end(b, &copy);
    cr_assert_eq(b->my_resv, 0);
    return 1;
}

Test(escrow, tail_reservations_given_back_per_batch_spend_exactly_the_cap, .timeout = 100) {
    grabber all;
    int spenders;
    tp *t = grab_all("ese", 3, 5, &all, &spenders);
    esc_budget b;
    esc_rec r;
    cr_assert_eq(esc_open(t, "flash", 1, &b), TP_OK);
    cr_assert_eq(esc_read_rec(t, &b, &r), TP_OK);
    cr_assert_eq(all.spent, CAP, "spent %lld of %d", (long long)all.spent, CAP);
    cr_assert_eq(r.granted, CAP);
    cr_assert_eq(r.resv, 0, "every reservation came back");
    cr_assert_gt(all.settles, 0, "the tail was granted as reservations, given back per batch");
    cr_assert_leq(all.partials, 3, "at most one partial grant per grabber");
    t->ops->close(t);
}

/* A grabber killed while it holds a tail reservation (it runs alone until it holds one):
 * the others, started then, do not wait for it for ever, never overspend, and what is
 * stranded is at most that reservation. */
static void tail_grabber(const char *pre, int i, volatile int64_t *sh) {
    tp *c = nh_open_as(pre, 1);
    esc_budget cb;
    if (esc_open(c, "flash", 20000, &cb) != TP_OK) _exit(3);
    cb.reserve = 1;
    unsigned s = (unsigned)i + 3;
    for (int done = 0, errors = 0; !done;) {
        for (int k = 0; k < 4 && !done; k++) { /* a batch */
            int64_t want = 1 + (int64_t)(rand_r(&s) % 200), got;
            int rc = esc_take(c, &cb, want, &got);
            sh[i] += got;
            if (i == 0 && cb.my_resv > 0) { /* the victim: hold it until killed */
                sh[5] = cb.my_resv;
                sh[4] = cb.held;
                for (;;)
                    pause();
            }
            if (rc != TP_OK && ++errors > 20) _exit(4);
            done = rc == TP_OK && !got;
            usleep(300);
        }
        esc_budget copy;
        if (esc_settle_begin(&cb, &copy)) {
            esc_settle_run(c, &copy);
            esc_settle_end(&cb, &copy);
        }
    }
    esc_release(c, &cb);
    c->ops->close(c);
    _exit(0);
}

Test(escrow, a_grabber_killed_holding_a_tail_reservation, .timeout = 100) {
    /* No libnats in this process before the forks (see above). */
    char pre[64];
    volatile int64_t *sh = shared_counters("esf", pre);
    /* sh[i]: spent by grabber i; sh[4], sh[5]: what the victim held, its reservation */
    pid_t pid[3];
    int st;
    pid[0] = fork();
    if (pid[0] == 0) tail_grabber(pre, 0, sh);
    for (int ms = 0; !sh[5] && ms < 30000 && waitpid(pid[0], &st, WNOHANG) == 0; ms++)
        usleep(1000);
    cr_assert_gt(sh[5], 0, "the victim holds a tail reservation");
    kill(pid[0], SIGKILL);
    waitpid(pid[0], &st, 0);
    for (int i = 1; i < 3; i++) {
        pid[i] = fork();
        cr_assert(pid[i] >= 0);
        if (pid[i] == 0) tail_grabber(pre, i, sh);
    }
    for (int i = 1; i < 3; i++) {
        waitpid(pid[i], &st, 0);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "grabber %d: status %d", i, st);
    }
    tp *t = nh_open_as(pre, 1);
    esc_budget b;
    esc_rec r;
    cr_assert_eq(esc_open(t, "flash", 1, &b), TP_OK);
    cr_assert_eq(esc_read_rec(t, &b, &r), TP_OK);
    int64_t sum = sh[0] + sh[1] + sh[2];
    cr_assert_leq(sum, 20000, "overspend: %lld", (long long)sum);
    cr_assert_eq(r.granted, 20000, "the survivors took everything that was not stranded");
    cr_assert_eq(20000 - sum, sh[4], "stranded: exactly what the victim held (%lld, %lld)",
                 (long long)(20000 - sum), (long long)sh[4]);
    cr_assert_eq(r.resv, sh[5], "only the victim's reservation is left (%lld, %lld)",
                 (long long)r.resv, (long long)sh[5]);
    cr_assert_gt(sh[1] + sh[2], 0, "the survivors spent the rest");
    t->ops->close(t);
}
