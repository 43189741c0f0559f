/*
 * test_store.c — the state store conformance suite (SPEC 7, promo.h "state store"):
 * every test runs against the in-memory store and the LMDB store alike. Customer
 * records (sorted cells, versions, conflicts, pruning, whole-id keys), budgets, journal
 * entries, atomicity of a refused write, the journal's return window; for LMDB also
 * persistence across reopen and the group commit.
 */
#include <criterion/criterion.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "eval_helpers.h"
#include "promo.h"
#include "store_internal.h"
#include "store_mem.h"

enum { MEM, LMDB };

typedef struct sx {
    int kind;
    int map; /* promo_store_opts.write_map */
    char dir[64];
    promo_store s;
    void *reader;
} sx;

static void sx_open(sx *x, int kind, int group, int map) {
    memset(x, 0, sizeof *x);
    x->kind = kind;
    x->map = map;
    if (kind == MEM) {
        cr_assert_eq(promo_store_new_memory(&x->s), PROMO_OK);
        return;
    }
    snprintf(x->dir, sizeof x->dir, "/tmp/promo-test-store-XXXXXX");
    cr_assert(mkdtemp(x->dir));
    promo_store_opts o;
    promo_store_opts_init(&o);
    o.group_commit = group;
    o.write_map = map;
    o.map_size = 64u << 20;
    char err[200];
    cr_assert_eq(promo_store_open(x->dir, &o, &x->s, err, sizeof err), PROMO_OK, "%s", err);
}

static void sx_reopen(sx *x) {
    if (x->reader) x->s.ops->reader_free(x->s.self, x->reader);
    x->reader = NULL;
    promo_store_free(&x->s);
    promo_store_opts o;
    promo_store_opts_init(&o);
    o.write_map = x->map;
    o.map_size = 64u << 20;
    char err[200];
    cr_assert_eq(promo_store_open(x->dir, &o, &x->s, err, sizeof err), PROMO_OK, "%s", err);
}

static void sx_close(sx *x) {
    if (x->reader) x->s.ops->reader_free(x->s.self, x->reader);
    promo_store_free(&x->s);
    if (x->kind == LMDB) {
        eh_store_remove(x->dir);
    }
}

static promo_str S(const char *s) {
    return (promo_str){s, (uint32_t)strlen(s)};
}

static promo_store_rec rd(sx *x, const char *cust) {
    promo_store_rec r;
    cr_assert_eq(x->s.ops->read(x->s.self, &x->reader, S(cust), &r), PROMO_OK);
    return r;
}

static promo_status wr(sx *x, const char *cust, uint64_t expected, const promo_delta *d, size_t n) {
    promo_store_write w = {0};
    w.customer = S(cust);
    w.expected = expected;
    w.deltas = d;
    w.ndeltas = n;
    return x->s.ops->write(x->s.self, &w);
}

static int64_t budget(sx *x, uint64_t key) {
    int64_t v = -1;
    cr_assert_eq(x->s.ops->budget(x->s.self, key, &v), PROMO_OK);
    return v;
}

#define BOTH(name)                                                                                 \
    static void name##_body(sx *x);                                                                \
    Test(store, name##_memory) {                                                                   \
        sx x;                                                                                      \
        sx_open(&x, MEM, 0, 0);                                                                    \
        name##_body(&x);                                                                           \
        sx_close(&x);                                                                              \
    }                                                                                              \
    Test(store, name##_lmdb) {                                                                     \
        sx x;                                                                                      \
        sx_open(&x, LMDB, 0, 0);                                                                   \
        name##_body(&x);                                                                           \
        sx_close(&x);                                                                              \
    }                                                                                              \
    Test(store, name##_lmdb_group) {                                                               \
        sx x;                                                                                      \
        sx_open(&x, LMDB, 1, 0);                                                                   \
        name##_body(&x);                                                                           \
        sx_close(&x);                                                                              \
    }                                                                                              \
    Test(store, name##_lmdb_map) { /* written through the map (MDB_WRITEMAP) */                    \
        sx x;                                                                                      \
        sx_open(&x, LMDB, 1, 1);                                                                   \
        name##_body(&x);                                                                           \
        sx_close(&x);                                                                              \
    }                                                                                              \
    static void name##_body(sx *x)

BOTH(unknown_customer_is_empty) {
    promo_store_rec r = rd(x, "nobody");
    cr_assert_eq(r.version, 0);
    cr_assert_eq(r.ncells, 0);
}

BOTH(cells_sorted_summed_versioned) {
    promo_delta d[] = {{9, 20, 5}, {3, 21, 1}, {3, 20, 2}, {9, 20, 7}, {3, 21, 4}};
    cr_assert_eq(wr(x, "c1", 0, d, 5), PROMO_OK);
    promo_store_rec r = rd(x, "c1");
    cr_assert_eq(r.version, 1);
    cr_assert_eq(r.ncells, 3);
    cr_assert(r.cells[0].key == 3 && r.cells[0].day == 20 && r.cells[0].value == 2);
    cr_assert(r.cells[1].key == 3 && r.cells[1].day == 21 && r.cells[1].value == 5);
    cr_assert(r.cells[2].key == 9 && r.cells[2].day == 20 && r.cells[2].value == 12);
    promo_delta e[] = {{3, 21, -5}, {4, 1, 1}};
    cr_assert_eq(wr(x, "c1", 1, e, 2), PROMO_OK);
    r = rd(x, "c1");
    cr_assert_eq(r.version, 2);
    cr_assert_eq(r.ncells, 3); /* (3,21) came to 0 and is gone */
    cr_assert(r.cells[1].key == 4 && r.cells[1].value == 1);
    cr_assert_eq(rd(x, "c2").version, 0, "another customer is untouched");
}

/* The engine hands over a sorted run of history deltas and a few more (visit, limits);
 * any order must come out sorted and summed, equal cells added in the given order. */
BOTH(deltas_in_any_order_sorted_stably) {
    promo_delta d[40];
    size_t n = 0;
    for (uint64_t k = 1; k <= 30; k++) /* the run: keys 10..300, day 5 */
        d[n++] = (promo_delta){k * 10, 5, (int64_t)k};
    d[29].add = INT64_MAX;               /* (300, 5) */
    d[n++] = (promo_delta){300, 5, 5};   /* saturates: stays INT64_MAX */
    d[n++] = (promo_delta){15, 7, 2};    /* a new cell inside the run */
    d[n++] = (promo_delta){1, 9, 3};     /* before everything */
    d[n++] = (promo_delta){300, 5, -10}; /* then comes down: INT64_MAX - 10 */
    d[n++] = (promo_delta){10, 5, 100};  /* adds to the first cell */
    d[n++] = (promo_delta){15, 6, 4};    /* before (15, 7) */
    cr_assert_eq(wr(x, "c", 0, d, n), PROMO_OK);
    promo_store_rec r = rd(x, "c");
    cr_assert_eq(r.ncells, 33);
    for (uint32_t i = 1; i < r.ncells; i++)
        cr_assert(r.cells[i - 1].key < r.cells[i].key ||
                      (r.cells[i - 1].key == r.cells[i].key && r.cells[i - 1].day < r.cells[i].day),
                  "cell %u out of order", i);
    cr_assert(r.cells[0].key == 1 && r.cells[0].day == 9 && r.cells[0].value == 3);
    cr_assert(r.cells[1].key == 10 && r.cells[1].value == 101);
    cr_assert(r.cells[2].key == 15 && r.cells[2].day == 6 && r.cells[2].value == 4);
    cr_assert(r.cells[3].key == 15 && r.cells[3].day == 7 && r.cells[3].value == 2);
    cr_assert(r.cells[32].key == 300 && r.cells[32].value == INT64_MAX - 10,
              "equal cells add up in the given order");
    /* many out of order (reversed): the general sort, the same result */
    promo_delta e[40];
    for (size_t i = 0; i < 40; i++)
        e[i] = (promo_delta){1000 - i, 5, (int64_t)i + 1};
    cr_assert_eq(wr(x, "c2", 0, e, 40), PROMO_OK);
    r = rd(x, "c2");
    cr_assert_eq(r.ncells, 40);
    for (uint32_t i = 0; i < 40; i++)
        cr_assert(r.cells[i].key == 961 + i && r.cells[i].value == 40 - (int64_t)i);
}

BOTH(stale_version_conflicts_and_changes_nothing) {
    promo_delta d[] = {{1, 10, 1}};
    cr_assert_eq(wr(x, "c", 0, d, 1), PROMO_OK);
    promo_store_write w = {0};
    promo_budget_delta b[] = {{77, 500}};
    w.customer = S("c");
    w.expected = 0; /* stale */
    w.deltas = d;
    w.ndeltas = 1;
    w.budgets = b;
    w.nbudgets = 1;
    w.jkey = S("r1");
    w.jdata = "abc";
    w.jlen = 3;
    w.jcreate = 1;
    cr_assert_eq(x->s.ops->write(x->s.self, &w), PROMO_ECONFLICT);
    promo_store_rec r = rd(x, "c");
    cr_assert_eq(r.version, 1);
    cr_assert_eq(r.cells[0].value, 1);
    cr_assert_eq(budget(x, 77), 0);
    const void *data;
    size_t len;
    cr_assert_eq(x->s.ops->journal(x->s.self, &x->reader, S("r1"), &data, &len), PROMO_OK);
    cr_assert_null(data);
    cr_assert_eq(wr(x, "c", UINT64_MAX, d, 1), PROMO_OK, "UINT64_MAX: any version");
    cr_assert_eq(rd(x, "c").cells[0].value, 2);
}

BOTH(journal_create_refuses_an_existing_key) {
    promo_store_write w = {0};
    promo_budget_delta b[] = {{5, 100}, {6, 1}, {5, 50}};
    w.budgets = b;
    w.nbudgets = 3;
    w.jkey = S("r1");
    w.jdata = "first";
    w.jlen = 5;
    w.jcreate = 1;
    w.jkey2 = S("r1\0f1");
    w.jkey2.n = 5;
    w.jdata2 = "R";
    w.jlen2 = 1;
    cr_assert_eq(x->s.ops->write(x->s.self, &w), PROMO_OK);
    cr_assert_eq(budget(x, 5), 150, "the same budget twice in one write adds up");
    cr_assert_eq(budget(x, 6), 1);
    w.jdata = "second";
    w.jlen = 6;
    cr_assert_eq(x->s.ops->write(x->s.self, &w), PROMO_ECONFLICT);
    cr_assert_eq(budget(x, 5), 150);
    const void *data;
    size_t len;
    cr_assert_eq(x->s.ops->journal(x->s.self, &x->reader, S("r1"), &data, &len), PROMO_OK);
    cr_assert_eq(len, 5);
    cr_assert_eq(memcmp(data, "first", 5), 0);
    promo_str k2 = {"r1\0f1", 5};
    cr_assert_eq(x->s.ops->journal(x->s.self, &x->reader, k2, &data, &len), PROMO_OK);
    cr_assert(data && len == 1 && *(const char *)data == 'R');
    w.jcreate = 0; /* an update (a return rewrites the entry) */
    cr_assert_eq(x->s.ops->write(x->s.self, &w), PROMO_OK);
    cr_assert_eq(x->s.ops->journal(x->s.self, &x->reader, S("r1"), &data, &len), PROMO_OK);
    cr_assert(len == 6 && !memcmp(data, "second", 6));
    cr_assert_eq(budget(x, 5), 300);
}

/* A journal entry as the stores see it: runtime/ops.c's jr_hdr begins with the magic
 * "PRJ3", the state, the receipt hash and the receipt's date, and ends (byte 48) with
 * cnow, the store's now just after the confirm (the store sets it); the rest of the
 * 56-byte header does not matter here. */
enum { JHDR = 56, JCNOW = 48, TOMB = 24 };

static promo_status jput(sx *x, const char *id, int32_t date) {
    unsigned char e[JHDR] = {'P', 'R', 'J', '3'};
    uint64_t hash = 0x1234567800ull + (unsigned char)id[0];
    memcpy(e + 8, &hash, sizeof hash);
    memcpy(e + 16, &date, sizeof date);
    memcpy(e + JCNOW, &date, sizeof date);
    promo_store_write w = {0};
    w.jkey = S(id);
    w.jdata = e;
    w.jlen = sizeof e;
    w.jcreate = 1;
    promo_status st = x->s.ops->write(x->s.self, &w);
    promo_store_sync(&x->s);
    return st;
}

/* A refund record ("PRF1", 40 bytes) of receipt id with its entry's cnow (byte 36). */
static void fput(sx *x, promo_str key, int32_t cnow) {
    unsigned char f[40] = {'P', 'R', 'F', '1'};
    memcpy(f + 36, &cnow, sizeof cnow);
    promo_store_write w = {0};
    w.jkey = key;
    w.jdata = f;
    w.jlen = sizeof f;
    cr_assert_eq(x->s.ops->write(x->s.self, &w), PROMO_OK);
}

/* What the journal holds under key: its length (0: nothing), and bytes at `at` .. +4. */
static size_t jget(sx *x, promo_str key, size_t at, int32_t *v) {
    const void *data;
    size_t len;
    cr_assert_eq(x->s.ops->journal(x->s.self, &x->reader, key, &data, &len), PROMO_OK);
    if (!data) return 0;
    if (v && at + 4 <= len) memcpy(v, (const char *)data + at, 4);
    return len;
}

static int jhas(sx *x, const char *id) {
    return jget(x, S(id), 0, NULL) != 0;
}

/* The default return window (180 days, docs/semantics.md): the store's now is the
 * latest journal entry's date; a late entry is accepted and stamped with now as its
 * cnow; an entry whose cnow is before now - 180 days is replaced by a 24-byte tombstone
 * (date, cnow, state, hash) under the same key and its refund records go (a few slots a
 * write in memory, a bounded cursor sweep at each LMDB sync); the tombstone keeps the id
 * taken; for LMDB now persists across a reopen. */
BOTH(journal_pruned_past_the_return_window) {
    int32_t jan1 = promo_date(2026, 1, 1), jan2 = promo_date(2026, 1, 2);
    int32_t jul1 = promo_date(2026, 7, 1), v = 0;
    cr_assert_eq(x->s.ops->horizon(x->s.self), 0, "no receipt yet: no window");
    cr_assert_eq(jput(x, "a", jan1), PROMO_OK);
    promo_str f1 = {"a\0f1", 4}, f2 = {"a\0f2", 4};
    fput(x, f2, jan1);
    if (x->kind == LMDB) /* a refund record written before they kept cnow (0): it goes
                            with its receipt's entry */
        fput(x, f1, 0);
    cr_assert_eq(jput(x, "b", jul1), PROMO_OK);
    cr_assert_eq(x->s.ops->horizon(x->s.self), jan2);
    cr_assert_eq(jput(x, "c", jan1), PROMO_OK, "a late receipt is never refused");
    cr_assert_eq(jget(x, S("c"), JCNOW, &v), JHDR);
    cr_assert_eq(v, jul1, "a late entry's cnow is the store's now");
    cr_assert_eq(jput(x, "d", jan2), PROMO_OK, "the window's first day");
    cr_assert_eq(jput(x, "e", promo_date(2026, 5, 1)), PROMO_OK, "now does not go back");
    cr_assert_eq(x->s.ops->horizon(x->s.self), jan2);
    int i = 0;
    for (char id[16]; (jget(x, S("a"), 0, NULL) == JHDR || jget(x, f2, 0, NULL)) && i < 3000;
         i++) { /* (the memory store sweeps in slot order: the record may go later) */
        snprintf(id, sizeof id, "f%d", i);
        cr_assert_eq(jput(x, id, jul1), PROMO_OK);
    }
    cr_assert_eq(jget(x, S("a"), 4, &v), TOMB, "the expired entry was never swept");
    cr_assert_eq(v, jan1, "the tombstone's date");
    cr_assert_eq(jget(x, S("a"), 8, &v), TOMB);
    cr_assert_eq(v, jan1, "the tombstone's cnow");
    cr_assert_eq(jget(x, S("a"), 16, &v), TOMB);
    cr_assert_eq((uint32_t)v, (uint32_t)(0x1234567800ull + 'a'),
                 "the tombstone's receipt hash (low half)");
    cr_assert_eq(jget(x, f2, 0, NULL), 0, "the refund record went with it");
    cr_assert_eq(jget(x, f1, 0, NULL), 0, "the old refund record went with it");
    cr_assert_eq(jget(x, S("c"), 0, NULL), JHDR, "a late receipt's entry is kept by its cnow");
    cr_assert_eq(jget(x, S("d"), 0, NULL), JHDR, "cnow on the horizon: kept");
    cr_assert(jhas(x, "b") && jhas(x, "e"));
    cr_assert_eq(jput(x, "a", jul1), PROMO_ECONFLICT, "a tombstone keeps its id taken");
    if (x->kind == LMDB) {
        sx_reopen(x);
        cr_assert_eq(x->s.ops->horizon(x->s.self), jan2, "now persists");
        cr_assert_eq(jget(x, S("a"), 0, NULL), TOMB);
        cr_assert_eq(jget(x, S("c"), JCNOW, &v), JHDR);
        cr_assert_eq(v, jul1, "cnow persists");
    }
}

BOTH(prune_keeps_life_buckets_and_recent_days) {
    promo_delta d[] = {{1, 0, 1}, {1, 100, 1}, {1, 500, 1}, {2, 499, 3}};
    cr_assert_eq(wr(x, "c", 0, d, 4), PROMO_OK);
    promo_store_write w = {0};
    promo_delta e[] = {{1, 600, 1}};
    w.customer = S("c");
    w.expected = 1;
    w.deltas = e;
    w.ndeltas = 1;
    w.prune_before = 500;
    cr_assert_eq(x->s.ops->write(x->s.self, &w), PROMO_OK);
    promo_store_rec r = rd(x, "c");
    cr_assert_eq(r.ncells, 3);
    cr_assert_eq(r.cells[0].day, 0);
    cr_assert_eq(r.cells[1].day, 500);
    cr_assert_eq(r.cells[2].day, 600);
}

/* Writes new customers k0, k1, ... (one cell of `day`, prune_before) until `who` is
 * swept, at most 3000; how many were written. */
static int sweep_until_gone(sx *x, const char *who, int32_t day, int32_t prune_before) {
    promo_store_write w = {0};
    promo_delta d[] = {{1, day, 1}};
    w.deltas = d;
    w.ndeltas = 1;
    w.prune_before = prune_before;
    char id[32];
    int i = 0;
    for (; rd(x, who).version && i < 3000; i++) {
        snprintf(id, sizeof id, "k%d", i);
        w.customer = S(id);
        cr_assert_eq(x->s.ops->write(x->s.self, &w), PROMO_OK);
    }
    return i;
}

/* A new customer's first write (the memory store's fast path) sums equal cells, drops
 * those that come to 0 and the days before prune_before, like any later write. */
BOTH(first_write_sums_and_prunes) {
    promo_store_write w = {0};
    promo_delta d[] = {{1, 0, 1},   {1, 100, 1},  {1, 500, 1},         {1, 500, 2}, {2, 499, 3},
                       {2, 700, 4}, {2, 700, -4}, {3, 800, INT64_MAX}, {3, 800, 5}};
    w.customer = S("n");
    w.deltas = d;
    w.ndeltas = sizeof d / sizeof *d;
    w.prune_before = 500;
    cr_assert_eq(x->s.ops->write(x->s.self, &w), PROMO_OK);
    promo_store_rec r = rd(x, "n");
    cr_assert_eq(r.version, 1);
    cr_assert_eq(r.ncells, 3);
    cr_assert(r.cells[0].key == 1 && r.cells[0].day == 0 && r.cells[0].value == 1);
    cr_assert(r.cells[1].key == 1 && r.cells[1].day == 500 && r.cells[1].value == 3);
    cr_assert(r.cells[2].key == 3 && r.cells[2].day == 800 && r.cells[2].value == INT64_MAX,
              "saturates");
}

/* A customer written once (the fast path) and then never again is still swept once all
 * its days are before prune_before: the store's earliest day counts first writes. */
Test(store, memory_sweep_drops_a_customer_written_once) {
    sx x;
    sx_open(&x, MEM, 0, 0);
    promo_delta old[] = {{1, 100, 1}};
    cr_assert_eq(wr(&x, "o", 0, old, 1), PROMO_OK);
    sweep_until_gone(&x, "o", 1000, 500);
    cr_assert_eq(rd(&x, "o").version, 0, "the customer of day 100 was never swept");
    cr_assert_eq(rd(&x, "k0").ncells, 1);
    sx_close(&x);
}

BOTH(customer_key_is_the_whole_id) {
    char a[1200], b[1200];
    memset(a, 'x', sizeof a - 1);
    a[sizeof a - 1] = 0;
    memcpy(b, a, sizeof a);
    b[sizeof b - 2] = 'y'; /* differs only in its last byte, far past any key prefix */
    promo_delta d[] = {{1, 1, 1}};
    cr_assert_eq(wr(x, a, 0, d, 1), PROMO_OK);
    cr_assert_eq(rd(x, b).version, 0);
    cr_assert_eq(wr(x, "c42", 0, d, 1), PROMO_OK);
    cr_assert_eq(rd(x, "c4").version, 0);
    cr_assert_eq(rd(x, "c42 ").version, 0);
    cr_assert_eq(rd(x, a).version, 1);
}

Test(store, lmdb_survives_reopen_and_group_commit_syncs) {
    sx x;
    sx_open(&x, LMDB, 1, 0);
    promo_delta d[] = {{7, 3, 11}};
    cr_assert_eq(wr(&x, "c", 0, d, 1), PROMO_OK);
    cr_assert_eq(rd(&x, "c").version, 1, "a pending write is visible before sync");
    cr_assert_eq(promo_store_sync(&x.s), PROMO_OK);
    cr_assert_eq(wr(&x, "c", 1, d, 1), PROMO_OK);
    sx_reopen(&x); /* promo_store_free syncs */
    promo_store_rec r = rd(&x, "c");
    cr_assert_eq(r.version, 2);
    cr_assert_eq(r.cells[0].value, 22);
    sx_close(&x);
}

/* write_map applies with process durability only (LMDB's MDB_WRITEMAP makes the data
 * file as large as the map); strict keeps pwrite + fsync, and the other mode reopens
 * the same store. */
Test(store, lmdb_write_map_only_with_process_durability) {
    for (int strict = 0; strict < 2; strict++) {
        char dir[64] = "/tmp/promo-test-store-XXXXXX", p[96];
        cr_assert(mkdtemp(dir));
        promo_store_opts o;
        promo_store_opts_init(&o);
        o.write_map = 1;
        o.durability = strict ? PROMO_DURABLE_STRICT : PROMO_DURABLE_PROCESS;
        o.map_size = 64u << 20;
        promo_store s;
        char err[200];
        cr_assert_eq(promo_store_open(dir, &o, &s, err, sizeof err), PROMO_OK, "%s", err);
        promo_delta d[] = {{7, 3, 11}};
        promo_store_write w = {0};
        w.customer = S("c");
        w.deltas = d;
        w.ndeltas = 1;
        cr_assert_eq(s.ops->write(s.self, &w), PROMO_OK);
        promo_store_free(&s);
        struct stat sb;
        snprintf(p, sizeof p, "%s/data.mdb", dir);
        cr_assert_eq(stat(p, &sb), 0);
        if (strict)
            cr_assert_lt(sb.st_size, 1 << 20, "strict wrote with pwrite: %lld",
                         (long long)sb.st_size);
        else
            cr_assert_eq(sb.st_size, 64 << 20, "through the map: the file is the map's size");
        o.write_map = !strict; /* the other mode, on the same store */
        o.durability = PROMO_DURABLE_PROCESS;
        cr_assert_eq(promo_store_open(dir, &o, &s, err, sizeof err), PROMO_OK, "%s", err);
        void *rdr = NULL;
        promo_store_rec r;
        cr_assert_eq(s.ops->read(s.self, &rdr, S("c"), &r), PROMO_OK);
        cr_assert_eq(r.version, 1);
        cr_assert_eq(r.cells[0].value, 11);
        s.ops->reader_free(s.self, rdr);
        promo_store_free(&s);
        eh_store_remove(dir);
    }
}

/* Sets (value != 0) or deletes (0) the store format key of the closed store in dir,
 * through LMDB itself. */
static void raw_format(const char *dir, uint32_t value) {
    MDB_env *env;
    MDB_txn *t;
    MDB_dbi dbi;
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_mapsize(env, 64u << 20), 0);
    cr_assert_eq(mdb_env_open(env, dir, 0, 0644), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, 0, &t), 0);
    cr_assert_eq(mdb_dbi_open(t, NULL, 0, &dbi), 0);
    MDB_val k = {7, "Mformat"}, v = {sizeof value, &value};
    cr_assert_eq(value ? mdb_put(t, dbi, &k, &v, 0) : mdb_del(t, dbi, &k, NULL), 0);
    cr_assert_eq(mdb_txn_commit(t), 0);
    mdb_env_close(env);
}

/* A store of another format (1: written before the format was kept, without the key;
 * or a later one) is refused with a message, read-only too, never read as this one;
 * a new store gets the format, and a store of this format opens. */
Test(store, lmdb_other_store_formats_are_refused) {
    sx x;
    sx_open(&x, LMDB, 0, 0);
    promo_delta d[] = {{7, 3, 11}};
    cr_assert_eq(wr(&x, "c", 0, d, 1), PROMO_OK);
    promo_store_free(&x.s);
    static const uint32_t formats[] = {0, 1, 3};
    for (int i = 0; i < 3; i++) {
        raw_format(x.dir, formats[i]);
        for (int ro = 0; ro < 2; ro++) {
            promo_store_opts o;
            promo_store_opts_init(&o);
            o.map_size = 64u << 20;
            o.read_only = ro;
            char err[512] = "", want[64];
            cr_assert_eq(promo_store_open(x.dir, &o, &x.s, err, sizeof err), PROMO_ESTATE);
            cr_assert_null(x.s.ops);
            snprintf(want, sizeof want, "is in store format %u;", formats[i] ? formats[i] : 1);
            cr_assert(strstr(err, want), "%s", err);
            cr_assert(strstr(err, "promo state export"), "%s", err);
        }
    }
    raw_format(x.dir, 2);
    sx_reopen(&x);
    cr_assert_eq(rd(&x, "c").version, 1);
    sx_close(&x);
}

/* The value of key (k, kl) in the closed store in dir, copied into out (its length; 0
 * absent). */
static size_t raw_value(const char *dir, const char *k, size_t kl, void *out, size_t cap) {
    MDB_env *env;
    MDB_txn *t;
    MDB_dbi dbi;
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_mapsize(env, 64u << 20), 0);
    cr_assert_eq(mdb_env_open(env, dir, MDB_RDONLY, 0644), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &t), 0);
    cr_assert_eq(mdb_dbi_open(t, NULL, 0, &dbi), 0);
    MDB_val key = {kl, (void *)k}, v = {0, NULL};
    size_t n = mdb_get(t, dbi, &key, &v) ? 0 : v.mv_size;
    memcpy(out, v.mv_data, n < cap ? n : cap);
    mdb_txn_abort(t);
    mdb_env_close(env);
    return n;
}

/* Store format 2 keeps customer records compact in the file (varints, each key's 8
 * bytes once per run of cells: SKV_CMP_VAR, first byte 1), and a record of more than
 * 128 cells as it is behind an 8-byte header (first byte 0; read from an unaligned
 * place in LMDB's page, copied); both read back exactly, after a reopen too. */
Test(store, lmdb_customer_records_are_compact) {
    sx x;
    sx_open(&x, LMDB, 0, 0);
    promo_delta small[3] = {{0x1111111111111111ull, 20000, 5},
                            {0x1111111111111111ull, 20001, -300},
                            {0x2222222222222222ull, 0, 1}};
    cr_assert_eq(wr(&x, "few", 0, small, 3), PROMO_OK);
    promo_delta many[200];
    for (int i = 0; i < 200; i++)
        many[i] =
            (promo_delta){(uint64_t)i * 0x9E3779B97F4A7C15ull, 19000 + i, 1000000007LL * i + 1};
    cr_assert_eq(wr(&x, "many", 0, many, 200), PROMO_OK);
    promo_store_free(&x.s);
    unsigned char v[8192];
    size_t n = raw_value(x.dir, "Cfew", 4, v, sizeof v);
    cr_assert_eq(v[0], 1, "SKV_CMP_VAR");
    cr_assert_lt(n, 16 + 3 * 24, "compact: %zu bytes", n);
    n = raw_value(x.dir, "Cmany", 5, v, sizeof v);
    cr_assert_eq(v[0], 0, "SKV_CMP_RAW");
    cr_assert_eq(n, 8 + 16 + 200 * 24);
    sx_reopen(&x);
    for (int pass = 0; pass < 2; pass++) {
        promo_store_rec r = rd(&x, "few");
        cr_assert_eq(r.version, 1 + pass);
        cr_assert_eq(r.ncells, 3);
        cr_assert_eq(r.cells[1].value, -300);
        cr_assert_eq(r.cells[2].day, 0);
        r = rd(&x, "many");
        cr_assert_eq(r.ncells, 200);
        cr_assert_eq(((uintptr_t)r.cells & 7), 0, "aligned for the reader");
        for (int i = 0; i < 200; i++) {
            promo_delta d = many[i];
            int found = 0;
            for (uint32_t j = 0; j < r.ncells; j++)
                found |=
                    r.cells[j].key == d.key && r.cells[j].day == d.day && r.cells[j].value == d.add;
            cr_assert(found, "cell %d", i);
        }
        /* a write merges with the record as kept */
        promo_delta one = {0x1111111111111111ull, 20001, 0};
        cr_assert_eq(wr(&x, "few", 1 + pass, &one, 1), PROMO_OK);
        cr_assert_eq(promo_store_sync(&x.s), PROMO_OK);
    }
    sx_close(&x);
}

/* An import (store_lmdb_put_raw) takes the logical entries of an export: a customer
 * record in skv_rec_hdr form (kept compact), and refuses the store's own layout (a
 * sequence key, a reference under a receipt id); the store format is not an entry. */
Test(store, lmdb_import_takes_logical_entries_only) {
    sx x;
    sx_open(&x, LMDB, 1, 0);
    struct {
        uint64_t version;
        uint32_t ncells, pad;
        promo_cell c[2];
    } rec = {3, 2, 0, {{5, 20000, 0, 7}, {6, 0, 0, -2}}};
    cr_assert_eq(store_lmdb_put_raw(&x.s, "Cimp", 4, &rec, sizeof rec), 0);
    char seq[9] = {'S', 0, 0, 0, 0, 0, 0, 0, 1};
    cr_assert_eq(store_lmdb_put_raw(&x.s, seq, 9, "x", 1), -1, "a sequence key");
    unsigned char ref[24] = {'P', 'R', 'Q', '1'};
    cr_assert_eq(store_lmdb_put_raw(&x.s, "Jr1", 3, ref, sizeof ref), -1, "a reference");
    cr_assert_eq(store_lmdb_put_raw(&x.s, "Zzz", 3, "x", 1), -1, "an unknown namespace");
    uint32_t f = 7;
    cr_assert_eq(store_lmdb_put_raw(&x.s, "Mformat", 7, &f, sizeof f), 0, "ignored");
    sx_reopen(&x); /* syncs: the format is still 2, the record reads back */
    promo_store_rec r = rd(&x, "imp");
    cr_assert_eq(r.version, 3);
    cr_assert_eq(r.ncells, 2);
    cr_assert_eq(r.cells[0].value, 7);
    cr_assert_eq(r.cells[1].value, -2);
    sx_close(&x);
}

Test(store, lmdb_open_errors_are_reported) {
    promo_store s;
    char err[200] = "";
    cr_assert_neq(promo_store_open("/proc/promo-no-such/dir", NULL, &s, err, sizeof err), PROMO_OK);
    cr_assert(err[0]);
    cr_assert_null(s.ops);
}

/* The memory store's compact records (store_mem.c): a cell's key is written as its
 * number in the store's key dictionary. Customers of 1-160 cells (past SKV_CMP_MAX, the
 * in-place form), keys from a pool of 6,000 (more than one chunk of numbers), every kind
 * of day and value, written in 1-3 writes in any order, some cells twice: every cell
 * reads back exactly. Then more than 2^20 keys (the dictionary's size): records with new
 * keys are written whole, and still read back, as do the first ones. */
typedef struct cm_cell {
    uint64_t key;
    int32_t day;
    int64_t value;
} cm_cell;

static uint64_t cm_rng(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    uint64_t z = *s;
    z = (z ^ (z >> 31)) * 0xbf58476d1ce4e5b9ull;
    return z ^ (z >> 29);
}

static int cm_cmp(const void *pa, const void *pb) {
    const cm_cell *a = pa, *b = pb;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return a->day < b->day ? -1 : a->day > b->day;
}

static void cm_check(sx *x, const char *cust, uint64_t version, const cm_cell *m, uint32_t n) {
    promo_store_rec r = rd(x, cust);
    cr_assert_eq(r.version, version, "%s", cust);
    cr_assert_eq(r.ncells, n, "%s: %u cells", cust, r.ncells);
    for (uint32_t i = 0; i < n; i++)
        cr_assert(r.cells[i].key == m[i].key && r.cells[i].day == m[i].day &&
                      r.cells[i].value == m[i].value,
                  "%s cell %u: (%llx, %d, %lld) for (%llx, %d, %lld)", cust, i,
                  (unsigned long long)r.cells[i].key, r.cells[i].day, (long long)r.cells[i].value,
                  (unsigned long long)m[i].key, m[i].day, (long long)m[i].value);
}

Test(store, memory_compact_records_keep_every_cell_exactly) {
    sx x;
    sx_open(&x, MEM, 0, 0);
    enum { POOL = 6000, CUST = 400 };
    static uint64_t pool[POOL];
    static const int32_t days[] = {0, 1, -7, INT32_MIN, INT32_MAX, 740000, 740001, 739000};
    static const int64_t vals[] = {1, -1, 63, 64, -65, INT64_MAX / 4, INT64_MIN / 4, 123456789};
    uint64_t rs = 42;
    for (int i = 0; i < POOL; i++)
        pool[i] = i < 4 ? (uint64_t[]){0, 1, UINT64_MAX, 1ull << 63}[i] : cm_rng(&rs);
    static cm_cell model[CUST][170];
    static uint32_t nm[CUST];
    promo_delta d[340];
    char id[32];
    for (int c = 0; c < CUST; c++) {
        uint32_t want = 1 + (uint32_t)(cm_rng(&rs) % 160), n = 0;
        while (n < want) { /* distinct (key, day) pairs */
            cm_cell e = {pool[cm_rng(&rs) % POOL], days[cm_rng(&rs) % 8], 0};
            if (cm_rng(&rs) % 2) e.day = 700000 + (int32_t)(cm_rng(&rs) % 900);
            e.value = cm_rng(&rs) % 3 ? vals[cm_rng(&rs) % 8]
                                      : (int64_t)(cm_rng(&rs) >> 20) - (1ll << 43);
            int dup = e.value == 0;
            for (uint32_t j = 0; j < n && !dup; j++)
                dup = model[c][j].key == e.key && model[c][j].day == e.day;
            if (!dup) model[c][n++] = e;
        }
        nm[c] = n;
        /* the cells as deltas, shuffled, a few split in two parts (summing to the cell) */
        uint32_t nd = 0;
        for (uint32_t j = 0; j < n; j++) {
            if (j % 7 == 3 && model[c][j].value > INT64_MIN / 4 &&
                model[c][j].value < INT64_MAX / 4) {
                d[nd++] = (promo_delta){model[c][j].key, model[c][j].day, 1000};
                d[nd++] = (promo_delta){model[c][j].key, model[c][j].day, model[c][j].value - 1000};
            } else {
                d[nd++] = (promo_delta){model[c][j].key, model[c][j].day, model[c][j].value};
            }
        }
        for (uint32_t j = nd; j > 1; j--) {
            uint32_t k = (uint32_t)(cm_rng(&rs) % j);
            promo_delta t = d[j - 1];
            d[j - 1] = d[k];
            d[k] = t;
        }
        qsort(model[c], n, sizeof model[c][0], cm_cmp);
        snprintf(id, sizeof id, "cust%d", c);
        uint32_t parts = 1 + (uint32_t)(cm_rng(&rs) % 3), from = 0;
        for (uint32_t p = 0; p < parts; p++) {
            uint32_t to = p + 1 == parts ? nd : from + (nd - from) / 2;
            cr_assert_eq(wr(&x, id, p, d + from, to - from), PROMO_OK);
            from = to;
        }
        cm_check(&x, id, parts, model[c], n);
    }
    for (int c = 0; c < CUST; c++) {
        snprintf(id, sizeof id, "cust%d", c);
        cm_check(&x, id, rd(&x, id).version, model[c], nm[c]);
    }
    /* past the dictionary's 2^20 keys: 120 new keys a customer */
    cm_cell m2[120];
    uint64_t next = 1ull << 40;
    for (int c = 0; c < 9000; c++) {
        for (uint32_t j = 0; j < 120; j++) {
            m2[j] = (cm_cell){next++, 740000 + (int32_t)j % 3, (int64_t)j - 60 + (j >= 60)};
            d[j] = (promo_delta){m2[j].key, m2[j].day, m2[j].value};
        }
        snprintf(id, sizeof id, "many%d", c);
        cr_assert_eq(wr(&x, id, 0, d, 120), PROMO_OK);
        if (c % 1000 == 0 || c == 8999) cm_check(&x, id, 1, m2, 120);
    }
    for (int c = 0; c < CUST; c += 37) {
        snprintf(id, sizeof id, "cust%d", c);
        cm_check(&x, id, rd(&x, id).version, model[c], nm[c]);
    }
    sx_close(&x);
}

/* The memory store's sweep skips reading entries while no customer can go (every cell
 * is on or after the earliest day ever written); a record left with no cell (a visit
 * taken back) can always go, and still does. */
Test(store, memory_sweep_drops_an_empty_record) {
    sx x;
    sx_open(&x, MEM, 0, 0);
    promo_delta add[] = {{1, 100, 1}}, back[] = {{1, 100, -1}};
    cr_assert_eq(wr(&x, "e", 0, add, 1), PROMO_OK);
    cr_assert_eq(wr(&x, "e", 1, back, 1), PROMO_OK);
    cr_assert_eq(rd(&x, "e").version, 2);
    cr_assert_eq(rd(&x, "e").ncells, 0);
    int i = sweep_until_gone(&x, "e", 100, 50); /* before any cell's day */
    cr_assert_eq(rd(&x, "e").version, 0, "the empty record was never swept");
    cr_assert_eq(store_mem_customers(&x.s), (uint64_t)i, "only the empty one went");
    cr_assert_eq(rd(&x, "k0").ncells, 1);
    sx_close(&x);
}
