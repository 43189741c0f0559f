/*
 * test_alloc.c — the embedder's allocator (promo_allocator) and the growable ABI:
 * every allocation of a bundle load, an engine, its contexts, the JSON reader, an
 * evaluation with limits and history, a commit and a hot swap goes through the hook;
 * making each allocation fail in turn (SQLite's malloc test) gives a clean
 * PROMO_ENOMEM, no crash and no leak (counted here, and by ASan in the sanitizer run);
 * after warm-up an evaluation allocates nothing. The same for a store the caller
 * creates (memory and LMDB, promo_store_opts.alloc), a bundle loaded from a file, and
 * the purchase protocol on it (confirm, a repeated confirm, calculate, return and
 * cancel through promo_op_run, a return line read by promo_op_parse_json, the journal
 * check of `promo state verify`). Also: version number, date/time helpers, the bundle
 * label, and the size fields of promo_engine_opts / promo_receipt.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compile.h"
#include "engine_int.h"
#include "eval_helpers.h"
#include "ops.h"
#include "promo.h"
#include "rbuf.h"
#include "store_mem.h"
#include "strbuf.h"

typedef struct counting {
    long live;    /* blocks allocated and not freed */
    long calls;   /* malloc + realloc calls so far */
    long fail_at; /* the call number that fails (1-based); 0 = none */
    int failed;   /* an injected failure happened */
} counting;

static void *ct_malloc(void *ud, size_t n) {
    counting *c = ud;
    if (++c->calls == c->fail_at) {
        c->failed = 1;
        return NULL;
    }
    void *p = malloc(n);
    if (p) c->live++;
    return p;
}

static void *ct_realloc(void *ud, void *p, size_t n) {
    counting *c = ud;
    if (++c->calls == c->fail_at) {
        c->failed = 1;
        return NULL;
    }
    void *q = realloc(p, n);
    if (q && !p) c->live++;
    return q;
}

static void ct_free(void *ud, void *p) {
    counting *c = ud;
    c->live--;
    free(p);
}

static const char ct_rules[] =
    "set dairy = category \"dairy\"\n"
    "campaign dairy_10 \"Dairy\" {\n"
    "    priority 100\n"
    "    when sum(lines where dairy) >= 500 and history.visits(30 days) >= 1\n"
    "    then discount 10% on lines where dairy\n"
    "    limit 5 per customer per day\n"
    "    budget 100000\n"
    "}\n"
    "campaign pts { priority 50 then points 5% of paid }\n";

static strbuf ct_bundle_bytes(const char *src) {
    compilation c;
    compile_opts o = {INT32_MIN, 0};
    comp_init(&c, &o);
    comp_add_source(&c, "t.rule", src, strlen(src));
    strbuf out = STRBUF_INIT;
    cr_assert_eq(comp_build(&c, &out), 0);
    comp_free(&c);
    return out;
}

static char ct_line[512 + PROMO_JSON_PADDING];

/* The whole life of an embedding; returns the first status that is not OK. */
static promo_status ct_scenario(const strbuf *bytes, const promo_allocator *al, int64_t *discount) {
    promo_bundle *b = NULL, *b2 = NULL;
    promo_engine *e = NULL;
    promo_ctx *cx = NULL;
    promo_status st;
    const promo_result *res = NULL;
    if ((st = promo_bundle_load_memory_with(bytes->data, bytes->len, al, &b, NULL, 0))) goto out;
    if ((st = promo_bundle_load_memory_with(bytes->data, bytes->len, al, &b2, NULL, 0))) goto out;
    promo_engine_opts o;
    promo_engine_opts_init(&o);
    o.alloc = *al;
    if ((st = promo_engine_new(b, &o, &e))) goto out;
    if ((st = promo_ctx_new(e, PROMO_CTX_EXPLAIN, &cx))) goto out;
    strcpy(ct_line,
           "{\"id\":\"r1\",\"time\":\"2026-06-05T10:15:00\",\"customer\":{\"id\":\"c1\"},"
           "\"lines\":[{\"sku\":\"1\",\"category\":\"dairy/milk\",\"qty\":2,\"price\":300},"
           "{\"sku\":\"2\",\"category\":\"bread\",\"qty\":1,\"price\":50}]}");
    for (int i = 0; i < 3; i++) {
        const promo_receipt *r = NULL;
        promo_str id;
        if ((st = promo_receipt_parse_json(cx, ct_line, strlen(ct_line), &r, &id))) goto out;
        if ((st = promo_process(cx, r, &res))) goto out;
        if (i == 1 && (st = promo_engine_swap(e, b2))) goto out;
    }
    *discount = res->discount;
out:
    promo_ctx_free(cx);
    promo_engine_free(e);
    promo_bundle_release(b);
    promo_bundle_release(b2);
    return st;
}

Test(alloc, every_allocation_goes_through_the_hook_and_failing_each_is_clean) {
    strbuf bytes = ct_bundle_bytes(ct_rules);
    counting c = {0};
    promo_allocator al = {ct_malloc, ct_realloc, ct_free, &c};
    int64_t d = -1;
    cr_assert_eq(ct_scenario(&bytes, &al, &d), PROMO_OK);
    /* 600.00 of dairy, 10% off = 60.00 (history.visits counts the receipt itself) */
    cr_assert_eq(d, 6000);
    cr_assert_eq(c.live, 0, "leaked %ld blocks", c.live);
    long total = c.calls;
    cr_assert_gt(total, 20, "only %ld allocations went through the hook", total);
    for (long k = 1; k <= total; k++) {
        counting f = {0, 0, k, 0};
        promo_allocator fa = {ct_malloc, ct_realloc, ct_free, &f};
        int64_t fd = -1;
        promo_status st = ct_scenario(&bytes, &fa, &fd);
        cr_assert(f.failed, "allocation %ld was not reached", k);
        /* A failure either surfaces as PROMO_ENOMEM or is absorbed (a cache that
         * is only an optimisation); the result is then the right one. */
        cr_assert(st == PROMO_ENOMEM || (st == PROMO_OK && fd == 6000),
                  "allocation %ld failing gave %s (discount %lld)", k, promo_errname(st),
                  (long long)fd);
        cr_assert_eq(f.live, 0, "allocation %ld failing leaked %ld blocks", k, f.live);
    }
    sb_free(&bytes);
}

/* What the operations scenario saw (checked to the kopeck when it ran to the end). */
typedef struct ct_ops {
    int64_t discount, ret_refund, ret_points, cancel_refund, cancel_points;
    int dup, state;
} ct_ops;

static promo_status ct_op(promo_ctx *cx, int kind, const promo_receipt *r, promo_op_result *out) {
    promo_op op;
    promo_op_init(&op);
    op.op = kind;
    op.receipt = r;
    return promo_op_run(cx, &op, out);
}

/*
 * The purchase protocol on a store the caller creates with the allocator (memory, or
 * LMDB in a fresh directory): the bundle read from a file, confirm r1, confirm it
 * again (the journal's record), calculate r2, return one unit of line 0 (a JSON line),
 * cancel the rest, and for LMDB the journal check. The first status not OK is returned.
 */
static promo_status ct_ops_scenario(const char *pbc, int lmdb, const promo_allocator *al,
                                    ct_ops *got) {
    promo_bundle *b = NULL;
    promo_engine *e = NULL;
    promo_ctx *cx = NULL;
    promo_store st = {0};
    promo_status s;
    char dir[64] = "";
    if ((s = promo_bundle_load_file_with(pbc, al, &b, NULL, 0))) goto out;
    promo_store_opts so;
    promo_store_opts_init(&so);
    so.alloc = *al;
    if (lmdb) {
        snprintf(dir, sizeof dir, "/tmp/promo-test-alloc-XXXXXX");
        cr_assert(mkdtemp(dir));
        so.map_size = 8u << 20;
        if ((s = promo_store_open(dir, &so, &st, NULL, 0))) goto out;
    } else if ((s = promo_store_new_memory_with(&so, &st))) {
        goto out;
    }
    promo_engine_opts o;
    promo_engine_opts_init(&o);
    o.alloc = *al;
    o.store = st;
    o.own_store = 1;
    if ((s = promo_engine_new(b, &o, &e))) goto out; /* failed: the store is still ours */
    promo_store es = st;                             /* the engine's now */
    st.ops = NULL;
    if ((s = promo_ctx_new(e, 0, &cx))) goto out;
    eh_receipt r1, r2;
    eh_receipt_init(&r1, "r1", "2026-06-05T10:15");
    eh_customer(&r1, "c1");
    eh_line(&r1, "1", "dairy/milk", 2000, 30000);
    eh_line(&r1, "2", "bread", 1000, 5000);
    r2 = r1;
    r2.r.id = eh_str("r2");
    promo_op_result res;
    if ((s = ct_op(cx, PROMO_OP_CONFIRM, &r1.r, &res))) goto out;
    got->discount = res.result->discount;
    if ((s = ct_op(cx, PROMO_OP_CONFIRM, &r1.r, &res))) goto out;
    got->dup = res.duplicate;
    if ((s = ct_op(cx, PROMO_OP_CALCULATE, &r2.r, &res))) goto out;
    static const char ret[] = "{\"op\":\"return\",\"id\":\"r1\",\"refund_id\":\"f1\","
                              "\"lines\":[{\"n\":0,\"qty\":1}]}";
    char line[sizeof ret + PROMO_JSON_PADDING];
    memcpy(line, ret, sizeof ret);
    promo_op op;
    promo_op_init(&op);
    if ((s = promo_op_parse_json(cx, line, sizeof ret - 1, &op, NULL))) goto out;
    if ((s = promo_op_run(cx, &op, &res))) goto out;
    got->ret_refund = res.refund;
    got->ret_points = res.points;
    promo_op_init(&op);
    op.op = PROMO_OP_CANCEL;
    op.id = eh_str("r1");
    if ((s = promo_op_run(cx, &op, &res))) goto out;
    got->cancel_refund = res.refund;
    got->cancel_points = res.points;
    got->state = res.state;
    if (lmdb) {
        rbuf rep;
        rb_init(&rep, al);
        int v = ops_verify(&es, &rep);
        rb_free(&rep);
        if (v) s = v < 0 ? PROMO_ENOMEM : PROMO_ESTATE;
    }
out:
    promo_ctx_free(cx);
    promo_engine_free(e);
    promo_store_free(&st);
    promo_bundle_release(b);
    if (dir[0]) eh_store_remove(dir);
    return s;
}

static void ct_ops_every_failure(int lmdb) {
    strbuf bytes = ct_bundle_bytes(ct_rules);
    char pbc[] = "/tmp/promo-test-alloc-XXXXXX";
    int fd = mkstemp(pbc);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, bytes.data, bytes.len), (ssize_t)bytes.len);
    close(fd);
    counting c = {0};
    promo_allocator al = {ct_malloc, ct_realloc, ct_free, &c};
    ct_ops want = {0};
    cr_assert_eq(ct_ops_scenario(pbc, lmdb, &al, &want), PROMO_OK);
    /* 600.00 of dairy, 10% off: 60.00; line 0 pays 540.00, line 1 50.00; points 5% of
     * 590.00 = 29.50, 27.00 of them on line 0. Returning 1 of its 2 units pays back
     * 270.00 and takes 13.50 points; the cancel pays back 270.00 + 50.00, 16.00 points. */
    cr_assert_eq(want.discount, 6000);
    cr_assert_eq(want.dup, 1);
    cr_assert_eq(want.ret_refund, 27000);
    cr_assert_eq(want.ret_points, -1350);
    cr_assert_eq(want.cancel_refund, 32000);
    cr_assert_eq(want.cancel_points, -1600);
    cr_assert_eq(want.state, PROMO_RS_CANCELLED);
    cr_assert_eq(c.live, 0, "leaked %ld blocks", c.live);
    long total = c.calls;
    cr_assert_gt(total, 40, "only %ld allocations went through the hook", total);
    for (long k = 1; k <= total; k++) {
        counting f = {0, 0, k, 0};
        promo_allocator fa = {ct_malloc, ct_realloc, ct_free, &f};
        ct_ops g = {0};
        promo_status st = ct_ops_scenario(pbc, lmdb, &fa, &g);
        cr_assert(f.failed, "allocation %ld was not reached", k);
        cr_assert(st == PROMO_ENOMEM || (st == PROMO_OK && !memcmp(&g, &want, sizeof g)),
                  "allocation %ld failing gave %s", k, promo_errname(st));
        cr_assert_eq(f.live, 0, "allocation %ld failing leaked %ld blocks", k, f.live);
    }
    remove(pbc);
    sb_free(&bytes);
}

Test(alloc, memory_store_and_operations_fail_cleanly_at_every_allocation) {
    ct_ops_every_failure(0);
}

/* LMDB's own allocations (environment, transactions) are libc's: not counted here. */
Test(alloc, lmdb_store_and_operations_fail_cleanly_at_every_allocation) {
    ct_ops_every_failure(1);
}

/* A bundle of `bytes`, an engine with its default store and a ctx, all through al. */
static void ct_engine(const strbuf *bytes, const promo_allocator *al, promo_bundle **b,
                      promo_engine **e, promo_ctx **cx) {
    cr_assert_eq(promo_bundle_load_memory_with(bytes->data, bytes->len, al, b, NULL, 0), PROMO_OK);
    promo_engine_opts o = PROMO_ENGINE_OPTS_INIT;
    o.alloc = *al;
    cr_assert_eq(promo_engine_new(*b, &o, e), PROMO_OK);
    cr_assert_eq(promo_ctx_new(*e, 0, cx), PROMO_OK);
}

Test(alloc, warm_ctx_allocates_nothing_per_receipt) {
    strbuf bytes = ct_bundle_bytes(ct_rules);
    counting c = {0};
    promo_allocator al = {ct_malloc, ct_realloc, ct_free, &c};
    promo_bundle *b = NULL;
    promo_engine *e = NULL;
    promo_ctx *cx = NULL;
    ct_engine(&bytes, &al, &b, &e, &cx);
    promo_line ln = {{"1", 1}, {"dairy", 5}, {NULL, 0}, 2000, 30000, 0};
    promo_receipt r;
    promo_receipt_init(&r);
    promo_customer cu = {.id = {"c1", 2}, .registered = -1};
    r.id = (promo_str){"r", 1};
    r.customer = &cu;
    r.date = promo_date(2026, 6, 5);
    r.time = promo_time(10, 0, 0);
    r.lines = &ln;
    r.nlines = 1;
    const promo_result *res = NULL;
    cr_assert_eq(promo_eval(cx, &r, &res), PROMO_OK);
    long before = c.calls;
    for (int i = 0; i < 100; i++)
        cr_assert_eq(promo_eval(cx, &r, &res), PROMO_OK);
    cr_assert_eq(c.calls, before, "%ld allocations in 100 warm evaluations", c.calls - before);
    cr_assert_eq(res->discount, 6000);
    promo_ctx_free(cx);
    promo_engine_free(e);
    promo_bundle_release(b);
    cr_assert_eq(c.live, 0);
    sb_free(&bytes);
}

Test(abi, version_dates_label_and_sizes) {
    cr_assert_eq(promo_version_number(), PROMO_VERSION_NUMBER);
    cr_assert_eq(PROMO_VERSION_NUMBER,
                 PROMO_VERSION_MAJOR * 1000000 + PROMO_VERSION_MINOR * 1000 + PROMO_VERSION_PATCH);
    cr_assert_str_eq(promo_version(), PROMO_VERSION_STRING);
    cr_assert_eq(promo_date(2026, 6, 5), 20609);
    cr_assert_eq(promo_date(1970, 1, 1), 0);
    cr_assert_eq(promo_date(2024, 2, 29), 19782);
    cr_assert_eq(promo_date(2026, 2, 29), INT32_MIN);
    cr_assert_eq(promo_date(2026, 13, 1), INT32_MIN);
    cr_assert_eq(promo_date(10000, 1, 1), INT32_MIN);
    cr_assert_eq(promo_time(10, 15, 0), 36900);
    cr_assert_eq(promo_time(23, 59, 59), 86399);
    cr_assert_eq(promo_time(24, 0, 0), -1);
    cr_assert_eq(promo_time(10, 60, 0), -1);

    strbuf bytes = ct_bundle_bytes(ct_rules);
    promo_bundle *b = NULL;
    cr_assert_eq(promo_bundle_load_memory(bytes.data, bytes.len, &b, NULL, 0), PROMO_OK);
    uint64_t sum;
    memcpy(&sum, bytes.data + 16, 8); /* pb_header.checksum */
    cr_assert_eq(promo_bundle_checksum(b), sum);
    char want[64];
    snprintf(want, sizeof want, "pbc%u:%016llx:2c", (unsigned)(unsigned char)bytes.data[8],
             (unsigned long long)sum);
    cr_assert_str_eq(promo_bundle_label(b), want);

    /* Structs the caller fills carry their size: a zero size is refused. */
    promo_engine_opts o;
    memset(&o, 0, sizeof o);
    promo_engine *e = NULL;
    cr_assert_eq(promo_engine_new(b, &o, &e), PROMO_EARG);
    cr_assert_null(e);
    promo_engine_opts_init(&o);
    cr_assert_eq(o.size, sizeof o);
    cr_assert_eq(promo_engine_new(b, &o, &e), PROMO_OK);
    promo_ctx *cx = NULL;
    cr_assert_eq(promo_ctx_new(e, 0, &cx), PROMO_OK);
    promo_receipt r;
    memset(&r, 0, sizeof r);
    r.id = (promo_str){"r", 1};
    const promo_result *res = NULL;
    cr_assert_eq(promo_eval(cx, &r, &res), PROMO_EARG);
    cr_assert(strstr(promo_ctx_errmsg(cx), "promo_receipt_init"));
    promo_receipt_init(&r);
    cr_assert_eq(r.size, sizeof r);
    r.id = (promo_str){"r", 1};
    cr_assert_eq(promo_eval(cx, &r, &res), PROMO_OK);
    cr_assert_eq(res->bundle, b);
    promo_ctx_free(cx);
    promo_engine_free(e);
    promo_bundle_release(b);
    sb_free(&bytes);
}

/* ----------------------------------------------------- in-memory store size ---- */

/* Bytes live through an allocator: a 16-byte header before each block holds its size. */
typedef struct bytes_ct {
    long long live;
} bytes_ct;

static void *bc_malloc(void *ud, size_t n) {
    size_t *p = malloc(n + 16);
    if (!p) return NULL;
    p[0] = n;
    ((bytes_ct *)ud)->live += (long long)n;
    return (char *)p + 16;
}

static void bc_free(void *ud, void *q) {
    size_t *p = (size_t *)((char *)q - 16);
    ((bytes_ct *)ud)->live -= (long long)p[0];
    free(p);
}

static void *bc_realloc(void *ud, void *q, size_t n) {
    if (!q) return bc_malloc(ud, n);
    size_t *p = (size_t *)((char *)q - 16), old = p[0];
    size_t *r = realloc(p, n + 16);
    if (!r) return NULL;
    r[0] = n;
    ((bytes_ct *)ud)->live += (long long)n - (long long)old;
    return (char *)r + 16;
}

static const char mem_rules[] =
    "campaign once { then coupon \"ONCE\"\n limit 1 per customer per day }\n"
    "campaign loyal { when history.visits(30 days) >= 2 then discount 5% on lines }\n";

/* One receipt of customer "c<k>" on `date` (one line of 100.00). */
static promo_status mem_receipt(promo_ctx *cx, int k, int32_t date, const promo_result **res) {
    char id[24];
    snprintf(id, sizeof id, "c%07d", k);
    promo_line ln = {{"1", 1}, {"food", 4}, {NULL, 0}, 1000, 10000, 0};
    promo_customer cu = {.id = {id, (uint32_t)strlen(id)}, .registered = -1};
    promo_receipt r;
    promo_receipt_init(&r);
    r.id = (promo_str){"r", 1};
    r.customer = &cu;
    r.date = date;
    r.time = promo_time(10, 0, 0);
    r.lines = &ln;
    r.nlines = 1;
    return promo_process(cx, &r, res);
}

#define MEM_N            20000
#define MEM_MAX_PER_CUST 100 /* docs/io.md states this figure */

Test(memory, per_customer_bytes_are_bounded_and_unreadable_customers_are_dropped) {
    strbuf bytes = ct_bundle_bytes(mem_rules);
    bytes_ct bc = {0};
    promo_allocator al = {bc_malloc, bc_realloc, bc_free, &bc};
    promo_bundle *b = NULL;
    promo_engine *e = NULL;
    promo_ctx *cx = NULL;
    ct_engine(&bytes, &al, &b, &e, &cx);
    const promo_result *res = NULL;
    int32_t day0 = promo_date(2026, 6, 5);
    cr_assert_eq(mem_receipt(cx, 0, day0, &res), PROMO_OK); /* the ctx warmed up */
    long long before = bc.live;
    for (int k = 1; k <= MEM_N; k++)
        cr_assert_eq(mem_receipt(cx, k, day0, &res), PROMO_OK);
    long long per = (bc.live - before) / MEM_N;
    fprintf(stderr, "memory: %lld bytes per customer (2 counters)\n", per);
    cr_assert_leq(per, MEM_MAX_PER_CUST, "%lld bytes per customer", per);
    cr_assert_eq(store_mem_customers(&e->store), MEM_N + 1);
    /* The same customer again the next day: its record counts the visit (5% off on the
     * second visit in 30 days: 5.00 of 100.00) */
    cr_assert_eq(mem_receipt(cx, 7, day0 + 1, &res), PROMO_OK);
    cr_assert_eq(res->discount, 500);
    /* 400 days later (past 30 days + 366 late days), new customers: the old ones can no
     * longer be read by any window of the bundle and are dropped as the store goes. */
    for (int k = MEM_N + 1; k <= 2 * MEM_N; k++)
        cr_assert_eq(mem_receipt(cx, k, day0 + 400, &res), PROMO_OK);
    uint64_t held = store_mem_customers(&e->store);
    cr_assert_eq(held, MEM_N, "%llu customers held", (unsigned long long)held);
    /* one dropped customer back: a first visit again (no discount) */
    cr_assert_eq(mem_receipt(cx, 7, day0 + 400, &res), PROMO_OK);
    cr_assert_eq(res->discount, 0);
    /* A customer every day for 800 days keeps what a window can read: 30 days of
     * history + 366 late days (+ today), 2 counters a day, not 800 days of them. */
    for (int d = 0; d < 800; d++)
        cr_assert_eq(mem_receipt(cx, 9999999, day0 + 500 + d, &res), PROMO_OK);
    void *rd = NULL;
    promo_store_rec rec;
    cr_assert_eq(e->store.ops->read(e->store.self, &rd, (promo_str){"c9999999", 8}, &rec),
                 PROMO_OK);
    cr_assert_eq(rec.ncells, 2 * (30 + 366 + 1), "%u counters", rec.ncells);
    e->store.ops->reader_free(e->store.self, rd);
    promo_ctx_free(cx);
    promo_engine_free(e);
    promo_bundle_release(b);
    cr_assert_eq(bc.live, 0);
    sb_free(&bytes);
}

Test(memory, the_customer_cap_refuses_a_new_customer_and_keeps_the_others) {
    strbuf bytes = ct_bundle_bytes(mem_rules);
    promo_bundle *b = NULL;
    cr_assert_eq(promo_bundle_load_memory(bytes.data, bytes.len, &b, NULL, 0), PROMO_OK);
    promo_store_opts so;
    promo_store_opts_init(&so);
    so.max_customers = 100;
    promo_engine_opts o;
    promo_engine_opts_init(&o);
    cr_assert_eq(promo_store_new_memory_with(&so, &o.store), PROMO_OK);
    o.own_store = 1;
    promo_engine *e = NULL;
    promo_ctx *cx = NULL;
    cr_assert_eq(promo_engine_new(b, &o, &e), PROMO_OK);
    cr_assert_eq(promo_ctx_new(e, 0, &cx), PROMO_OK);
    const promo_result *res = NULL;
    int32_t day0 = promo_date(2026, 6, 5);
    for (int k = 0; k < 100; k++)
        cr_assert_eq(mem_receipt(cx, k, day0, &res), PROMO_OK);
    cr_assert_eq(mem_receipt(cx, 100, day0, &res), PROMO_ELIMIT);
    cr_assert(strstr(promo_ctx_errmsg(cx), "max_customers"), "%s", promo_ctx_errmsg(cx));
    /* a customer held goes on: its second visit counts (5.00 off) */
    cr_assert_eq(mem_receipt(cx, 42, day0 + 1, &res), PROMO_OK);
    cr_assert_eq(res->discount, 500);
    cr_assert_eq(store_mem_customers(&e->store), 100);
    promo_ctx_free(cx);
    promo_engine_free(e);
    promo_bundle_release(b);
    sb_free(&bytes);
}
