/*
 * test_ops.c — the purchase protocol through the library (SPEC 7.1, docs/semantics.md
 * "Returns and cancels"): confirm idempotency, calculate, returns and cancels checked to
 * the kopeck against the hand-computed example of docs/semantics.md, limits and visits
 * given back only on a full return, bad operations refused without changing anything,
 * concurrent confirms never past a budget, and the return window (journal pruned past
 * it, returns and confirms before it refused, verify still exact), on the memory and the
 * LMDB store.
 */
#include <criterion/criterion.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eval_helpers.h"
#include "hash.h"
#include "ops.h"
#include "promo.h"
#include "rbuf.h"

#define VISITS 0x7669736974732121ull

static const char *rules =
    "campaign d10 { then discount 10% on lines where category \"dairy\"\n budget 100000 }\n"
    "campaign p5 { then points 5% of paid\n budget 100000 }\n"
    "campaign fix { then points 10 }\n"
    "campaign once { then coupon \"ONCE\"\n limit 1 per customer per day }\n";

typedef struct ox {
    promo_bundle *b;
    promo_store st;
    promo_engine *e;
    promo_ctx *c;
    char dir[64];
} ox;

/* Opens x's store (LMDB: in x->dir, `lmdb` as for ox_open_w), engine and context. */
static void ox_attach(ox *x, int lmdb, int32_t window) {
    if (lmdb) {
        promo_store_opts o;
        promo_store_opts_init(&o);
        o.map_size = 64u << 20;
        o.return_window = window;
        o.group_commit = lmdb == 2;
        cr_assert_eq(promo_store_open(x->dir, &o, &x->st, NULL, 0), PROMO_OK);
    } else {
        promo_store_opts o;
        promo_store_opts_init(&o);
        o.return_window = window;
        cr_assert_eq(promo_store_new_memory_with(&o, &x->st), PROMO_OK);
    }
    promo_engine_opts eo;
    promo_engine_opts_init(&eo);
    eo.store = x->st;
    eo.own_store = 1;
    cr_assert_eq(promo_engine_new(x->b, &eo, &x->e), PROMO_OK);
    cr_assert_eq(promo_ctx_new(x->e, 0, &x->c), PROMO_OK);
}

/* window: the store's return window in days (promo_store_opts.return_window); lmdb 2:
 * LMDB with the group commit (durable, and swept, at promo_store_sync only). */
static void ox_open_w(ox *x, int lmdb, const char *src, int32_t window) {
    memset(x, 0, sizeof *x);
    x->b = eh_compile(src);
    cr_assert(x->b);
    if (lmdb) {
        snprintf(x->dir, sizeof x->dir, "/tmp/promo-test-ops-XXXXXX");
        cr_assert(mkdtemp(x->dir));
    }
    ox_attach(x, lmdb, window);
}

static void ox_open(ox *x, int lmdb, const char *src) {
    ox_open_w(x, lmdb, src, 180);
}

static void ox_close(ox *x) {
    promo_ctx_free(x->c);
    promo_engine_free(x->e);
    promo_bundle_release(x->b);
    if (x->dir[0]) {
        eh_store_remove(x->dir);
    }
}

/* The example receipt: 3 x 100.00 of dairy, 1 x 50.01 of bread, customer c1. */
static void example(eh_receipt *rc, const char *id, const char *cust) {
    eh_receipt_init(rc, id, "2026-06-05T10:00");
    if (cust) eh_customer(rc, cust);
    eh_line(rc, "1", "dairy/milk", 3000, 10000);
    eh_line(rc, "2", "bread", 1000, 5001);
}

static promo_status run(ox *x, int op, const eh_receipt *rc, promo_op_result *out) {
    promo_op o;
    promo_op_init(&o);
    o.op = op;
    o.receipt = rc ? &rc->r : NULL;
    return promo_op_run(x->c, &o, out);
}

static promo_status ret(ox *x, const char *id, const char *refund, const promo_return_line *l,
                        uint32_t n, promo_op_result *out) {
    promo_op o;
    promo_op_init(&o);
    o.op = refund ? PROMO_OP_RETURN : PROMO_OP_CANCEL;
    o.id = eh_str(id);
    if (refund) o.refund_id = eh_str(refund);
    o.lines = l;
    o.nlines = n;
    return promo_op_run(x->c, &o, out);
}

static int has(const promo_op_result *r, const char *text) {
    return strstr(r->json, text) != NULL;
}

static int64_t cell(ox *x, const char *cust, uint64_t key) {
    void *rd = NULL;
    promo_store_rec rec;
    cr_assert_eq(x->st.ops->read(x->st.self, &rd, eh_str(cust), &rec), PROMO_OK);
    int64_t v = 0;
    for (uint32_t i = 0; i < rec.ncells; i++)
        if (rec.cells[i].key == key) v += rec.cells[i].value;
    x->st.ops->reader_free(x->st.self, rd);
    return v;
}

static uint64_t version(ox *x, const char *cust) {
    void *rd = NULL;
    promo_store_rec rec;
    cr_assert_eq(x->st.ops->read(x->st.self, &rd, eh_str(cust), &rec), PROMO_OK);
    x->st.ops->reader_free(x->st.self, rd);
    return rec.version;
}

static void returns_to_the_kopeck(int lmdb) {
    ox x;
    ox_open(&x, lmdb, rules);
    eh_receipt rc;
    example(&rc, "r1", "c1");
    promo_op_result r;
    cr_assert_eq(run(&x, PROMO_OP_CONFIRM, &rc, &r), PROMO_OK, "%s", promo_ctx_errmsg(x.c));
    cr_assert_eq(r.duplicate, 0);
    cr_assert_eq(r.result->final, 32001);
    cr_assert_eq(eh_points(r.result, "p5"), 1600); /* 13.50 + 2.50 */
    cr_assert_eq(eh_points(r.result, "fix"), 1000);
    cr_assert_eq(promo_engine_budget_spent(x.e, "d10"), 3000);
    cr_assert_eq(promo_engine_budget_spent(x.e, "p5"), 1600);
    cr_assert_eq(cell(&x, "c1", VISITS), 1);

    /* unit by unit: 90.00 each; p5 1350 of line 0 -> 4.50 a unit; fix 844 -> 2.81,
     * 2.82, 2.81 (docs/semantics.md, worked example) */
    promo_return_line l0 = {0, 1000};
    cr_assert_eq(ret(&x, "r1", "f1", &l0, 1, &r), PROMO_OK, "%s", promo_ctx_errmsg(x.c));
    cr_assert_eq(r.refund, 9000);
    cr_assert_eq(r.points, -(450 + 281));
    cr_assert_eq(r.state, PROMO_RS_PARTIALLY_RETURNED);
    cr_assert(has(&r, "\"refunds\":[{\"n\":0,\"qty\":1,\"refund\":90.00}]"), "%s", r.json);
    cr_assert(has(&r, "{\"campaign\":\"p5\",\"points\":-4.50}"), "%s", r.json);
    cr_assert(has(&r, "{\"campaign\":\"fix\",\"points\":-2.81}"), "%s", r.json);
    cr_assert_eq(promo_engine_budget_spent(x.e, "d10"), 2000, "10.00 back to the budget");
    cr_assert_eq(promo_engine_budget_spent(x.e, "p5"), 1150);
    cr_assert_eq(cell(&x, "c1", VISITS), 1, "a partial return keeps the visit");

    cr_assert_eq(ret(&x, "r1", "f2", &l0, 1, &r), PROMO_OK);
    cr_assert_eq(r.refund, 9000);
    cr_assert_eq(r.points, -(450 + 282));
    /* the same refund_id again: the stored record, changing nothing */
    cr_assert_eq(ret(&x, "r1", "f2", &l0, 1, &r), PROMO_OK);
    cr_assert_eq(r.duplicate, 1);
    cr_assert(has(&r, "\"duplicate\":true"));
    cr_assert_eq(promo_engine_budget_spent(x.e, "p5"), 700);

    cr_assert_eq(ret(&x, "r1", "f3", &l0, 1, &r), PROMO_OK);
    cr_assert_eq(r.points, -(450 + 281));
    /* the cancel takes what is left: line 1 */
    cr_assert_eq(ret(&x, "r1", NULL, NULL, 0, &r), PROMO_OK);
    cr_assert_eq(r.refund, 5001);
    cr_assert_eq(r.points, -(250 + 156));
    cr_assert_eq(r.state, PROMO_RS_CANCELLED);
    /* every points entry netted to exactly 0, budgets back to 0, the visit gone */
    cr_assert_eq(promo_engine_budget_spent(x.e, "d10"), 0);
    cr_assert_eq(promo_engine_budget_spent(x.e, "p5"), 0);
    cr_assert_eq(cell(&x, "c1", VISITS), 0);
    cr_assert_eq(ret(&x, "r1", NULL, NULL, 0, &r), PROMO_OK);
    cr_assert_eq(r.duplicate, 1);
    ox_close(&x);
}

Test(ops, returns_to_the_kopeck_memory) {
    returns_to_the_kopeck(0);
}
Test(ops, returns_to_the_kopeck_lmdb) {
    returns_to_the_kopeck(1);
}

/* The history a confirmed receipt fed goes back with what is returned: the journal keeps
 * which lines fed each history slot (stk_finish fills it only when ops asks). */
static int64_t history_cells(ox *x, const char *cust) {
    void *rd = NULL;
    promo_store_rec rec;
    cr_assert_eq(x->st.ops->read(x->st.self, &rd, eh_str(cust), &rec), PROMO_OK);
    int64_t v = 0;
    for (uint32_t i = 0; i < rec.ncells; i++)
        if (rec.cells[i].key != VISITS) v += rec.cells[i].value;
    x->st.ops->reader_free(x->st.self, rd);
    return v;
}

static void history_goes_back_with_the_lines(int lmdb) {
    ox x;
    ox_open(&x, lmdb,
            "campaign h { when history.sum(lines where category \"dairy\", 30 days) >= 9000000\n"
            " then coupon \"H\" }\n");
    eh_receipt rc;
    example(&rc, "r1", "c1");
    promo_op_result r;
    cr_assert_eq(run(&x, PROMO_OP_CONFIRM, &rc, &r), PROMO_OK, "%s", promo_ctx_errmsg(x.c));
    cr_assert_eq(history_cells(&x, "c1"), 30000, "the dairy line's 300.00, not the bread");
    promo_return_line l0 = {0, 1000}, l1 = {1, 1000};
    cr_assert_eq(ret(&x, "r1", "f1", &l0, 1, &r), PROMO_OK, "%s", promo_ctx_errmsg(x.c));
    cr_assert_eq(history_cells(&x, "c1"), 20000, "one unit of 100.00 back");
    cr_assert_eq(ret(&x, "r1", "f2", &l1, 1, &r), PROMO_OK, "%s", promo_ctx_errmsg(x.c));
    cr_assert_eq(history_cells(&x, "c1"), 20000, "the bread fed no history");
    cr_assert_eq(ret(&x, "r1", NULL, NULL, 0, &r), PROMO_OK, "%s", promo_ctx_errmsg(x.c));
    cr_assert_eq(history_cells(&x, "c1"), 0);
    ox_close(&x);
}

Test(ops, history_goes_back_with_the_lines_memory) {
    history_goes_back_with_the_lines(0);
}
Test(ops, history_goes_back_with_the_lines_lmdb) {
    history_goes_back_with_the_lines(1);
}

static void limits_come_back_only_on_a_full_return(int lmdb) {
    ox x;
    ox_open(&x, lmdb, rules);
    eh_receipt a, b, c;
    example(&a, "a", "c1");
    example(&b, "b", "c1");
    example(&c, "c", "c1");
    promo_op_result r;
    cr_assert_eq(run(&x, PROMO_OP_CONFIRM, &a, &r), PROMO_OK);
    cr_assert_geq(eh_applied(r.result, "once"), 0);
    promo_return_line l = {1, 1000};
    cr_assert_eq(ret(&x, "a", "f", &l, 1, &r), PROMO_OK);
    cr_assert_eq(run(&x, PROMO_OP_CALCULATE, &b, &r), PROMO_OK);
    cr_assert_lt(eh_applied(r.result, "once"), 0, "a partial return keeps the limit used");
    uint64_t v = version(&x, "c1");
    cr_assert_eq(run(&x, PROMO_OP_CALCULATE, &b, &r), PROMO_OK);
    cr_assert_eq(version(&x, "c1"), v, "calculate changes nothing");
    promo_return_line rest = {0, 3000};
    cr_assert_eq(ret(&x, "a", "g", &rest, 1, &r), PROMO_OK);
    cr_assert_eq(r.state, PROMO_RS_RETURNED);
    cr_assert_eq(run(&x, PROMO_OP_CONFIRM, &c, &r), PROMO_OK);
    cr_assert_geq(eh_applied(r.result, "once"), 0, "a full return gives the limit back");
    ox_close(&x);
}

Test(ops, limits_come_back_only_on_a_full_return_memory) {
    limits_come_back_only_on_a_full_return(0);
}
Test(ops, limits_come_back_only_on_a_full_return_lmdb) {
    limits_come_back_only_on_a_full_return(1);
}

static void bad_operations_change_nothing(int lmdb) {
    ox x;
    ox_open(&x, lmdb, rules);
    eh_receipt a, other;
    example(&a, "a", "c1");
    promo_op_result r;
    cr_assert_eq(run(&x, PROMO_OP_CONFIRM, &a, &r), PROMO_OK);
    promo_return_line one = {0, 1000};
    cr_assert_eq(ret(&x, "a", "f1", &one, 1, &r), PROMO_OK);
    uint64_t v = version(&x, "c1");
    int64_t spent = promo_engine_budget_spent(x.e, "p5");
    struct {
        const char *id, *refund;
        promo_return_line l[2];
        uint32_t n;
        const char *msg;
    } bad[] = {
        {"nope", "f9", {{0, 1000}}, 1, "no confirmed receipt"},
        {"a", "f2", {{0, 2001}}, 1, "more than remains"},
        {"a", "f2", {{0, 1000}, {0, 1001}}, 2, "more than remains"},
        {"a", "f2", {{2, 1000}}, 1, "no line 2"},
        {"a", "f2", {{0, 0}}, 1, "must be positive"},
        {"a", "f1", {{1, 1000}}, 1, "already used with other lines"},
        {"a", "f2", {{0, 0}}, 0, "lines: missing"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(ret(&x, bad[i].id, bad[i].refund, bad[i].l, bad[i].n, &r), PROMO_EINPUT,
                     "case %zu", i);
        cr_assert(strstr(promo_ctx_errmsg(x.c), bad[i].msg), "case %zu: %s", i,
                  promo_ctx_errmsg(x.c));
    }
    promo_op o;
    promo_op_init(&o);
    o.op = PROMO_OP_RETURN;
    o.id = eh_str("a");
    o.lines = &one;
    o.nlines = 1;
    cr_assert_eq(promo_op_run(x.c, &o, &r), PROMO_EINPUT, "no refund_id");
    o.op = PROMO_OP_CANCEL;
    o.id = (promo_str){NULL, 0};
    cr_assert_eq(promo_op_run(x.c, &o, &r), PROMO_EINPUT, "no id");
    /* the id again with another receipt */
    example(&other, "a", "c1");
    other.lines[1].price = 5002;
    cr_assert_eq(run(&x, PROMO_OP_CONFIRM, &other, &r), PROMO_EINPUT);
    cr_assert(strstr(promo_ctx_errmsg(x.c), "another receipt"));
    /* ... and with the same receipt: the stored result */
    cr_assert_eq(run(&x, PROMO_OP_CONFIRM, &a, &r), PROMO_OK);
    cr_assert_eq(r.duplicate, 1);
    cr_assert_null(r.result);
    cr_assert(has(&r, "\"final\":320.01"), "%s", r.json);
    cr_assert_eq(version(&x, "c1"), v);
    cr_assert_eq(promo_engine_budget_spent(x.e, "p5"), spent);
    ox_close(&x);
}

Test(ops, bad_operations_change_nothing_memory) {
    bad_operations_change_nothing(0);
}
Test(ops, bad_operations_change_nothing_lmdb) {
    bad_operations_change_nothing(1);
}

/* Budgets are state of record: a second engine on the same store starts from them. */
Test(ops, budgets_survive_a_restart) {
    ox x;
    ox_open(&x, 1, rules);
    eh_receipt a;
    example(&a, "a", NULL);
    promo_op_result r;
    cr_assert_eq(run(&x, PROMO_OP_CONFIRM, &a, &r), PROMO_OK);
    char dir[64];
    memcpy(dir, x.dir, sizeof dir);
    x.dir[0] = 0;
    ox_close(&x);
    promo_bundle *b = eh_compile(rules);
    promo_store st;
    cr_assert_eq(promo_store_open(dir, NULL, &st, NULL, 0), PROMO_OK);
    promo_engine_opts eo;
    promo_engine_opts_init(&eo);
    eo.store = st;
    eo.own_store = 1;
    promo_engine *e;
    cr_assert_eq(promo_engine_new(b, &eo, &e), PROMO_OK);
    cr_assert_eq(promo_engine_budget_spent(e, "d10"), 3000);
    cr_assert_eq(promo_engine_budget_spent(e, "p5"), 1600);
    promo_engine_free(e);
    promo_bundle_release(b);
    eh_store_remove(dir);
}

/* ------------------------------------------------------------ concurrency ---- */

typedef struct thr {
    ox *x;
    int t;
    int64_t granted;
} thr;

static void *confirmer(void *arg) {
    thr *t = arg;
    promo_ctx *c;
    cr_assert_eq(promo_ctx_new(t->x->e, 0, &c), PROMO_OK);
    for (int i = 0; i < 300; i++) {
        eh_receipt rc;
        char id[32], cust[16];
        snprintf(id, sizeof id, "t%d-%d", t->t, i);
        snprintf(cust, sizeof cust, "c%d", i % 7);
        eh_receipt_init(&rc, id, "2026-06-05T10:00");
        eh_customer(&rc, cust);
        eh_line(&rc, "1", "dairy", 1000, 10000 + i);
        promo_op o;
        promo_op_init(&o);
        o.receipt = &rc.r;
        promo_op_result r;
        cr_assert_eq(promo_op_run(c, &o, &r), PROMO_OK, "%s", promo_ctx_errmsg(c));
        int64_t got = eh_by(r.result, 0, "d");
        t->granted += got;
        if (i % 10 == 9) { /* and give some back */
            promo_op k;
            promo_op_init(&k);
            k.op = PROMO_OP_CANCEL;
            k.id = rc.r.id;
            cr_assert_eq(promo_op_run(c, &k, &r), PROMO_OK, "%s", promo_ctx_errmsg(c));
            t->granted -= got;
        }
    }
    promo_ctx_free(c);
    return NULL;
}

static void concurrent(int lmdb) {
    ox x;
    ox_open(&x, lmdb, "campaign d { then discount 10 on lines\n budget 5000 }\n");
    pthread_t tid[4];
    thr t[4];
    for (int i = 0; i < 4; i++) {
        t[i] = (thr){&x, i, 0};
        pthread_create(&tid[i], NULL, confirmer, &t[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(tid[i], NULL);
    int64_t spent = promo_engine_budget_spent(x.e, "d"), granted = 0;
    for (int i = 0; i < 4; i++)
        granted += t[i].granted;
    cr_assert_leq(spent, 500000, "never past the cap");
    cr_assert_eq(spent, granted, "spent is what the kept receipts got");
    cr_assert_geq(spent, 500000 - 1000 * 4, "the cancels' budget was used again");
    int64_t in_store = -1;
    cr_assert_eq(x.st.ops->budget(x.st.self, promo_hash("d", 1), &in_store), PROMO_OK);
    cr_assert_eq(in_store, spent, "the store holds the same budget");
    ox_close(&x);
}

Test(ops, concurrent_confirms_and_cancels_memory) {
    concurrent(0);
}
Test(ops, concurrent_confirms_and_cancels_lmdb) {
    concurrent(1);
}

/* A duplicate confirm answers the stored record byte for byte: the journal keeps the
 * result JSON packed (runtime/ops.c ops_pack), here with an id full of the packed
 * pieces, quotes, a control character and UTF-8. */
static void duplicate_is_the_stored_record(int lmdb) {
    ox x;
    ox_open(&x, lmdb, rules);
    static const char id[] = "r\"1\x01null.00},{\"n\":\",\"\xd0\xaf]}";
    eh_receipt rc;
    example(&rc, id, "c1");
    promo_op_result r;
    cr_assert_eq(run(&x, PROMO_OP_CONFIRM, &rc, &r), PROMO_OK, "%s", promo_ctx_errmsg(x.c));
    cr_assert(has(&r, "\"coupons\":[\"ONCE\"]"), "%s", r.json);
    cr_assert(has(&r, "\\u0001null.00},{\\\"n\\\":"), "%s", r.json);
    char *first = strdup(r.json);
    size_t n = r.json_len;
    cr_assert_eq(promo_store_sync(&x.st), PROMO_OK);
    cr_assert_eq(run(&x, PROMO_OP_CONFIRM, &rc, &r), PROMO_OK, "%s", promo_ctx_errmsg(x.c));
    cr_assert_eq(r.duplicate, 1);
    static const char dup[] = ",\"duplicate\":true}";
    cr_assert_eq(r.json_len, n - 1 + sizeof dup - 1, "%s", r.json);
    cr_assert_eq(memcmp(r.json, first, n - 1), 0, "%s\n%s", first, r.json);
    cr_assert_str_eq(r.json + n - 1, dup);
    free(first);
    ox_close(&x);
}

Test(ops, duplicate_is_the_stored_record_memory) {
    duplicate_is_the_stored_record(0);
}
Test(ops, duplicate_is_the_stored_record_lmdb) {
    duplicate_is_the_stored_record(1);
}

/* ---------------------------------------------------------- return window ---- */

/* The example receipt of customer c1 at `when`. */
static void dated(eh_receipt *rc, const char *id, const char *when) {
    eh_receipt_init(rc, id, when);
    eh_customer(rc, "c1");
    eh_line(rc, "1", "dairy/milk", 3000, 10000);
    eh_line(rc, "2", "bread", 1000, 5001);
}

/* The length of what the journal holds under key (0: nothing; OPS_TOMB_SIZE: a
 * tombstone, what pruning leaves of an expired entry). */
static size_t journal_len(ox *x, promo_str key) {
    void *rd = NULL;
    const void *data;
    size_t len;
    cr_assert_eq(x->st.ops->journal(x->st.self, &rd, key, &data, &len), PROMO_OK);
    x->st.ops->reader_free(x->st.self, rd);
    return data ? len : 0;
}

static int journal_has(ox *x, const char *id) {
    return journal_len(x, eh_str(id)) != 0;
}

/* Confirms anonymous filler receipts at `when` until the journal entry `id` is a
 * tombstone and its refund record `rec` (a key with a NUL) gone (each write sweeps a few
 * slots of the memory store; each LMDB sync sweeps the journal): the number of receipts
 * it took, or -1 when it never happened. */
static int until_pruned(ox *x, const char *id, promo_str rec, const char *when) {
    for (int i = 0; i < 3000; i++) {
        if (journal_len(x, eh_str(id)) == OPS_TOMB_SIZE && !journal_len(x, rec)) return i;
        eh_receipt f;
        char fid[32];
        snprintf(fid, sizeof fid, "filler-%d", i);
        eh_receipt_init(&f, fid, when);
        eh_line(&f, "9", "bread", 1000, 100);
        promo_op_result r;
        cr_assert_eq(run(x, PROMO_OP_CONFIRM, &f, &r), PROMO_OK, "%s", promo_ctx_errmsg(x->c));
        cr_assert_eq(promo_store_sync(&x->st), PROMO_OK);
    }
    return -1;
}

typedef struct snap { /* what an operation refused must not change */
    uint64_t version;
    int64_t visits, d10, p5;
} snap;

static snap snap_of(ox *x) {
    return (snap){version(x, "c1"), cell(x, "c1", VISITS), promo_engine_budget_spent(x->e, "d10"),
                  promo_engine_budget_spent(x->e, "p5")};
}

static void snap_same(ox *x, snap a, const char *what) {
    snap b = snap_of(x);
    cr_assert_eq(b.version, a.version, "%s: the customer changed", what);
    cr_assert_eq(b.visits, a.visits, "%s: visits", what);
    cr_assert_eq(b.d10, a.d10, "%s: d10 budget %lld -> %lld", what, (long long)a.d10,
                 (long long)b.d10);
    cr_assert_eq(b.p5, a.p5, "%s: p5 budget", what);
}

/* A 30-day window: receipts of 2026-01-10 and 2026-01-25, then one of 2026-02-15 moves
 * the store's now, so the window starts at 2026-01-16 and the entry of 2026-01-10 (cnow
 * 2026-01-10) has expired (docs/semantics.md, "Return window"). */
static void the_return_window(int lmdb) {
    ox x;
    ox_open_w(&x, lmdb, rules, 30);
    eh_receipt old, mid, late;
    dated(&old, "old", "2026-01-10T10:00");
    dated(&mid, "mid", "2026-01-25T10:00");
    dated(&late, "late", "2026-02-15T10:00");
    promo_op_result r;
    cr_assert_eq(run(&x, PROMO_OP_CONFIRM, &old, &r), PROMO_OK, "%s", promo_ctx_errmsg(x.c));
    cr_assert_eq(run(&x, PROMO_OP_CONFIRM, &mid, &r), PROMO_OK, "%s", promo_ctx_errmsg(x.c));
    cr_assert_eq(x.st.ops->horizon(x.st.self), promo_date(2025, 12, 26));
    /* inside the window (now 2026-01-25): a return of the older receipt works */
    promo_return_line l0 = {0, 1000};
    cr_assert_eq(ret(&x, "old", "f1", &l0, 1, &r), PROMO_OK, "%s", promo_ctx_errmsg(x.c));
    cr_assert_eq(r.refund, 9000);
    cr_assert_eq(r.points, -(450 + 281));
    cr_assert_eq(run(&x, PROMO_OP_CONFIRM, &late, &r), PROMO_OK, "%s", promo_ctx_errmsg(x.c));
    cr_assert_eq(x.st.ops->horizon(x.st.self), promo_date(2026, 1, 16));
    /* 3 visits, budgets: d10 3 x 30.00 less the 10.00 given back, p5 3 x 16.00 less 4.50 */
    snap s0 = snap_of(&x);
    cr_assert_eq(s0.visits, 3);
    cr_assert_eq(s0.d10, 8000);
    cr_assert_eq(s0.p5, 4800 - 450);

    /* expired: a return or cancel is refused, with the exact error, changing nothing */
    cr_assert_eq(ret(&x, "old", "f2", &l0, 1, &r), PROMO_EINPUT);
    static const char past[] = "id: the receipt of 2026-01-10 is past the return window: "
                               "nothing reversed";
    cr_assert_str_eq(promo_ctx_errmsg(x.c), past);
    snap_same(&x, s0, "return past the window");
    cr_assert_eq(ret(&x, "old", NULL, NULL, 0, &r), PROMO_EINPUT, "a cancel too");
    cr_assert_str_eq(promo_ctx_errmsg(x.c), past);
    snap_same(&x, s0, "cancel past the window");
    /* a repeat of the expired receipt (its entry not pruned yet): refused, never twice */
    static const char again[] = "id: already confirmed (receipt of 2026-01-10); its stored "
                                "result is no longer kept (past the return window): not "
                                "confirmed again";
    if (lmdb != 1) /* (LMDB without the group commit sweeps at every write) */
        cr_assert_gt(journal_len(&x, eh_str("old")), OPS_TOMB_SIZE, "not pruned yet");
    cr_assert_eq(run(&x, PROMO_OP_CONFIRM, &old, &r), PROMO_EINPUT);
    cr_assert_str_eq(promo_ctx_errmsg(x.c), again);
    snap_same(&x, s0, "a repeat of an expired receipt");
    eh_receipt other; /* the same id, another receipt: the usual id-reuse error */
    dated(&other, "old", "2026-01-10T11:00");
    cr_assert_eq(run(&x, PROMO_OP_CONFIRM, &other, &r), PROMO_EINPUT);
    cr_assert_str_eq(promo_ctx_errmsg(x.c), "id: already confirmed with another receipt");
    snap_same(&x, s0, "id reuse");

    /* the sweep replaces the expired entry by its tombstone, its refund record goes;
     * counters, history and budgets keep the receipt's effect */
    int took = until_pruned(&x, "old", (promo_str){"old\0f1", 6}, "2026-02-15T12:00");
    cr_assert_geq(took, 0, "the journal entry of 2026-01-10 was never pruned");
    cr_assert(journal_has(&x, "mid"), "a receipt inside the window keeps its entry");
    cr_assert_eq(cell(&x, "c1", VISITS), 3);
    cr_assert_eq(promo_engine_budget_spent(x.e, "d10"), 8000);
    cr_assert_eq(promo_engine_budget_spent(x.e, "p5"), 4800 - 450 + 5 * took, "fillers: 0.05 each");
    s0 = snap_of(&x);
    /* the pruned receipt sent again: the same answers, byte for byte */
    cr_assert_eq(run(&x, PROMO_OP_CONFIRM, &old, &r), PROMO_EINPUT);
    cr_assert_str_eq(promo_ctx_errmsg(x.c), again, "a tombstone answers as the entry did");
    snap_same(&x, s0, "a pruned receipt again");
    cr_assert_eq(run(&x, PROMO_OP_CONFIRM, &other, &r), PROMO_EINPUT);
    cr_assert_str_eq(promo_ctx_errmsg(x.c), "id: already confirmed with another receipt");
    cr_assert_eq(ret(&x, "old", "f3", &l0, 1, &r), PROMO_EINPUT);
    cr_assert_str_eq(promo_ctx_errmsg(x.c), past, "the same error once the entry is gone");
    cr_assert_eq(ret(&x, "old", NULL, NULL, 0, &r), PROMO_EINPUT);
    cr_assert_str_eq(promo_ctx_errmsg(x.c), past);
    snap_same(&x, s0, "return and cancel of a pruned receipt");
    cr_assert_eq(ret(&x, "nope", "f3", &l0, 1, &r), PROMO_EINPUT);
    cr_assert_str_eq(promo_ctx_errmsg(x.c), "id: no confirmed receipt with this id");

    /* a late NEW receipt, dated before the window: confirmed normally (its cnow is the
     * store's now, 2026-02-15), and returnable for the window from there */
    eh_receipt older;
    dated(&older, "older", "2026-01-12T23:59");
    cr_assert_eq(run(&x, PROMO_OP_CONFIRM, &older, &r), PROMO_OK, "%s", promo_ctx_errmsg(x.c));
    cr_assert_eq(cell(&x, "c1", VISITS), 4);
    cr_assert_eq(promo_engine_budget_spent(x.e, "d10"), 8000 + 3000);
    cr_assert_eq(ret(&x, "older", "f5", &l0, 1, &r), PROMO_OK, "%s", promo_ctx_errmsg(x.c));
    cr_assert_eq(r.refund, 9000);
    cr_assert_eq(r.points, -(450 + 281));
    cr_assert_eq(promo_engine_budget_spent(x.e, "d10"), 8000 + 3000 - 1000);

    /* inside the window a return still works, to the kopeck */
    cr_assert_eq(ret(&x, "mid", "f4", &l0, 1, &r), PROMO_OK, "%s", promo_ctx_errmsg(x.c));
    cr_assert_eq(r.refund, 9000);
    cr_assert_eq(r.points, -(450 + 281));
    cr_assert_eq(promo_engine_budget_spent(x.e, "d10"), 9000);
    cr_assert_eq(ret(&x, "late", NULL, NULL, 0, &r), PROMO_OK, "%s", promo_ctx_errmsg(x.c));
    cr_assert_eq(r.refund, 32001);
    cr_assert_eq(cell(&x, "c1", VISITS), 3, "the cancel took its visit back");
    ox_close(&x);
}

Test(ops, the_return_window_memory) {
    the_return_window(0);
}
Test(ops, the_return_window_lmdb) {
    the_return_window(1);
}
Test(ops, the_return_window_lmdb_group) {
    the_return_window(2);
}

/* A repeat found in the journal by the parallel phase (ops_prepare) is checked again in
 * commit order: here a receipt committed between the two phases (another context) moves
 * the store's now past the repeated receipt's entry, so the commit refuses it. */
static void repeat_expires_between_the_phases(int lmdb) {
    ox x;
    ox_open_w(&x, lmdb, rules, 30);
    eh_receipt old, late;
    dated(&old, "old", "2026-01-10T10:00");
    dated(&late, "late", "2026-02-15T10:00");
    promo_op_result r;
    cr_assert_eq(run(&x, PROMO_OP_CONFIRM, &old, &r), PROMO_OK, "%s", promo_ctx_errmsg(x.c));
    promo_op o;
    promo_op_init(&o);
    o.op = PROMO_OP_CONFIRM;
    o.receipt = &old.r;
    int pending = 0;
    cr_assert_eq(ops_prepare(x.c, &o, &r, &pending), PROMO_OK, "%s", promo_ctx_errmsg(x.c));
    cr_assert(r.duplicate && pending, "still inside the window: a duplicate, to commit");
    promo_ctx *c2;
    cr_assert_eq(promo_ctx_new(x.e, 0, &c2), PROMO_OK);
    promo_op ol;
    promo_op_init(&ol);
    ol.op = PROMO_OP_CONFIRM;
    ol.receipt = &late.r;
    promo_op_result rl;
    cr_assert_eq(promo_op_run(c2, &ol, &rl), PROMO_OK, "%s", promo_ctx_errmsg(c2));
    promo_ctx_free(c2);
    snap s0 = snap_of(&x);
    cr_assert_eq(ops_commit(x.c, &o, &r), PROMO_EINPUT);
    cr_assert(strstr(promo_ctx_errmsg(x.c), "its stored result is no longer kept"), "%s",
              promo_ctx_errmsg(x.c));
    snap_same(&x, s0, "a repeat expired between the phases");
    ox_close(&x);
}

Test(ops, repeat_expires_between_the_phases_memory) {
    repeat_expires_between_the_phases(0);
}
Test(ops, repeat_expires_between_the_phases_lmdb) {
    repeat_expires_between_the_phases(1);
}

static int verify(ox *x, char *out, size_t cap) {
    rbuf rep;
    rb_init(&rep, NULL);
    int v = ops_verify(&x->st, &rep);
    snprintf(out, cap, "%s", rep.data ? rep.data : "");
    rb_free(&rep);
    return v;
}

/* promo state verify on a pruned journal: still clean, and still catching a counter or
 * a budget changed behind the journal's back. */
Test(ops, verify_after_pruning_still_catches_a_wrong_counter) {
    ox x;
    ox_open_w(&x, 1, rules, 30);
    eh_receipt a, b;
    dated(&a, "a", "2026-01-10T10:00");
    dated(&b, "b", "2026-03-01T10:00");
    promo_op_result r;
    cr_assert_eq(run(&x, PROMO_OP_CONFIRM, &a, &r), PROMO_OK);
    cr_assert_eq(run(&x, PROMO_OP_CONFIRM, &b, &r), PROMO_OK);
    cr_assert_geq(until_pruned(&x, "a", (promo_str){"a\0x", 3}, "2026-03-01T12:00"), 0);
    char rep[1024];
    cr_assert_eq(verify(&x, rep, sizeof rep), 0, "%s", rep);
    cr_assert(strstr(rep, "journal pruned before 2026-01-11"), "%s", rep); /* a: 01-10 */
    /* one visit too many on a day inside the window */
    promo_delta d = {VISITS, promo_date(2026, 3, 1), 1};
    promo_store_write w = {0};
    w.customer = eh_str("c1");
    w.expected = UINT64_MAX;
    w.deltas = &d;
    w.ndeltas = 1;
    cr_assert_eq(x.st.ops->write(x.st.self, &w), PROMO_OK);
    cr_assert_eq(verify(&x, rep, sizeof rep), 1, "%s", rep);
    cr_assert(strstr(rep, "customer c1: stored counters differ"), "%s", rep);
    d.add = -1; /* put it back: clean again */
    cr_assert_eq(x.st.ops->write(x.st.self, &w), PROMO_OK);
    cr_assert_eq(verify(&x, rep, sizeof rep), 0, "%s", rep);
    /* a budget below what the journal still holds (b's 30.00 of d10) */
    promo_budget_delta bd = {promo_hash("d10", 3), -3000 - 1};
    promo_store_write wb = {0};
    wb.budgets = &bd;
    wb.nbudgets = 1;
    cr_assert_eq(x.st.ops->write(x.st.self, &wb), PROMO_OK);
    cr_assert_eq(verify(&x, rep, sizeof rep), 1, "%s", rep);
    cr_assert(strstr(rep, "budget "), "%s", rep);
    ox_close(&x);
}

/* ---------------------------------------------- the LMDB store's layout ---- */

/* Store format 2 (runtime/store_lmdb.c): a receipt's journal entry lives under 'S' + a
 * sequence number (8 bytes big-endian) given in confirm order, appended; its 'J' key
 * holds a 24-byte reference ("PRQ1", date, cnow, pad, seq). Read through the raw LMDB
 * file: the key of every record and, for 'J' keys, the value's first 4 bytes and its
 * sequence number. */
typedef struct raw_rec {
    char key[32];
    size_t klen, vlen;
    uint32_t magic;
    uint64_t seq;
} raw_rec;

static size_t raw_records(const char *dir, raw_rec *out, size_t cap) {
    MDB_env *env;
    MDB_txn *t;
    MDB_dbi dbi;
    MDB_cursor *c;
    cr_assert_eq(mdb_env_create(&env), 0);
    cr_assert_eq(mdb_env_set_mapsize(env, 64u << 20), 0);
    cr_assert_eq(mdb_env_open(env, dir, MDB_RDONLY, 0644), 0);
    cr_assert_eq(mdb_txn_begin(env, NULL, MDB_RDONLY, &t), 0);
    cr_assert_eq(mdb_dbi_open(t, NULL, 0, &dbi), 0);
    cr_assert_eq(mdb_cursor_open(t, dbi, &c), 0);
    MDB_val k, v;
    size_t n = 0;
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); !rc && n < cap;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT), n++) {
        raw_rec *r = &out[n];
        memset(r, 0, sizeof *r);
        r->klen = k.mv_size < sizeof r->key ? k.mv_size : sizeof r->key;
        memcpy(r->key, k.mv_data, r->klen);
        r->vlen = v.mv_size;
        if (v.mv_size >= 4) memcpy(&r->magic, v.mv_data, 4);
        if (v.mv_size == 24) memcpy(&r->seq, (const char *)v.mv_data + 16, 8);
        if (k.mv_size == 9 && r->key[0] == 'S')
            for (int i = 1; i < 9; i++)
                r->seq = r->seq << 8 | (unsigned char)r->key[i];
    }
    mdb_cursor_close(c);
    mdb_txn_abort(t);
    mdb_env_close(env);
    return n;
}

static const raw_rec *raw_find(const raw_rec *r, size_t n, const char *key, size_t klen) {
    for (size_t i = 0; i < n; i++)
        if (r[i].klen == klen && !memcmp(r[i].key, key, klen)) return &r[i];
    return NULL;
}

/* Closes x's engine and store, keeping the store's directory (LMDB must not be open
 * twice in one process: the raw reads above come between; ox_attach opens them again). */
static void ox_shut(ox *x) {
    promo_ctx_free(x->c);
    promo_engine_free(x->e);
    x->c = NULL;
    x->e = NULL;
}

#define PRQ1 0x31515250u
#define PRJ3 0x334a5250u
#define PRF1 0x31465250u

/* Confirms c1's example receipt `id` dated `when` (it must pass). */
static void confirm_dated(ox *x, const char *id, const char *when) {
    eh_receipt rc;
    promo_op_result r;
    dated(&rc, id, when);
    cr_assert_eq(run(x, PROMO_OP_CONFIRM, &rc, &r), PROMO_OK, "%s", promo_ctx_errmsg(x->c));
}

Test(ops, lmdb_journal_entries_go_in_sequence) {
    for (int group = 1; group <= 2; group++) {
        ox x;
        ox_open_w(&x, group, rules, 30);
        /* the sequence follows the syncs (every write syncs without the group commit;
         * within one sync, key order): "zz" and "aa" in one sync with it, "mm" later */
        confirm_dated(&x, "zz", "2026-01-20T10:00");
        confirm_dated(&x, "aa", "2026-01-21T10:00");
        cr_assert_eq(promo_store_sync(&x.st), PROMO_OK);
        confirm_dated(&x, "mm", "2026-01-22T10:00");
        promo_op_result r;
        promo_return_line l0 = {0, 1000};
        /* a return rewrites "zz"'s entry under its own sequence number, and a refund
         * record is kept under its key as it is */
        cr_assert_eq(ret(&x, "zz", "f1", &l0, 1, &r), PROMO_OK, "%s", promo_ctx_errmsg(x.c));
        ox_shut(&x);
        raw_rec rr[64];
        size_t n = raw_records(x.dir, rr, 64);
        const char *ids[] = {"Jzz", "Jaa", "Jmm"};
        uint64_t seqs[2][3] = {{1, 2, 3}, {2, 1, 3}};
        for (int i = 0; i < 3; i++) {
            const raw_rec *j = raw_find(rr, n, ids[i], 3);
            uint64_t q = seqs[group - 1][i];
            cr_assert(j, "%s", ids[i]);
            cr_assert_eq(j->magic, PRQ1, "%s holds a reference", ids[i]);
            cr_assert_eq(j->vlen, 24);
            cr_assert_eq(j->seq, q, "%s: sequence %d", ids[i], (int)q);
            char sk[9] = {'S', 0, 0, 0, 0, 0, 0, 0, (char)q};
            const raw_rec *s = raw_find(rr, n, sk, 9);
            cr_assert(s, "the entry of %s under its sequence key", ids[i]);
            cr_assert_eq(s->magic, PRJ3);
        }
        const raw_rec *f = raw_find(rr, n, "Jzz\0f1", 6);
        cr_assert(f && f->magic == PRF1, "the refund record under its own key");
        cr_assert(raw_find(rr, n, "Mformat", 7), "the store format is kept");
        ox_attach(&x, group, 30);
        /* the logical journal: the entry under its receipt's key, with its return */
        cr_assert_gt(journal_len(&x, eh_str("zz")), 24);
        cr_assert_eq(ret(&x, "zz", "f2", &l0, 1, &r), PROMO_OK, "%s", promo_ctx_errmsg(x.c));
        cr_assert_eq(r.refund, 9000, "the second return read the first from the entry");
        char rep[1024];
        cr_assert_eq(verify(&x, rep, sizeof rep), 0, "%s", rep);
        cr_assert(strstr(rep, "3 journal entries"), "%s", rep);
        /* pruned: the reference becomes the tombstone and the sequence-keyed entry goes */
        confirm_dated(&x, "late", "2026-03-30T10:00");
        cr_assert_geq(until_pruned(&x, "zz", (promo_str){"zz\0f1", 5}, "2026-03-30T12:00"), 0);
        cr_assert_eq(verify(&x, rep, sizeof rep), 0, "%s", rep);
        ox_shut(&x);
        n = raw_records(x.dir, rr, 64);
        const raw_rec *j = raw_find(rr, n, "Jzz", 3);
        cr_assert(j && j->vlen == OPS_TOMB_SIZE && j->magic != PRQ1, "a tombstone in place");
        char s1[9] = {'S', 0, 0, 0, 0, 0, 0, 0, (char)seqs[group - 1][0]};
        cr_assert_null(raw_find(rr, n, s1, 9), "the pruned entry's sequence key is gone");
        const raw_rec *l = raw_find(rr, n, "Jlate", 5);
        cr_assert(l && l->magic == PRQ1 && l->seq >= 4, "an entry inside the window stays");
        char s4[9] = {'S', 0, 0, 0, 0, 0, 0, 0, (char)l->seq};
        cr_assert(raw_find(rr, n, s4, 9), "with its sequence-keyed entry");
        ox_close(&x);
    }
}
