/*
 * test_state.c — state across receipts (SPEC 3.4): limits per receipt and per customer
 * (day, ISO week, month, life), history windows including the current receipt,
 * budgets (exhaustion, partial), and that an evaluation that is not committed changes
 * nothing.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "eval_helpers.h"

static eh_env env;

static void setup(const char *src) {
    cr_assert_eq(eh_env_init(&env, src, PROMO_CTX_EXPLAIN), 0, "compile/load failed:\n%s", src);
}

static void fini(void) {
    eh_env_free(&env);
}

TestSuite(state, .fini = fini);

/* A receipt of customer `cust` (NULL: anonymous) with one line of `price` kopecks. */
static void receipt(eh_receipt *rc, const char *cust, const char *when, const char *cat,
                    int64_t price) {
    eh_receipt_init(rc, "r", when);
    if (cust) eh_customer(rc, cust);
    eh_line(rc, "1", cat, 1000, price);
}

static const promo_result *process(const eh_receipt *rc) {
    const promo_result *res = NULL;
    promo_status st = promo_process(env.c, &rc->r, &res);
    cr_assert_eq(st, PROMO_OK, "process: %s", promo_ctx_errmsg(env.c));
    return res;
}

/* 1 when campaign `cid` applied to a receipt of `cust` at `when`. */
static int applies(const char *cid, const char *cust, const char *when) {
    eh_receipt rc;
    receipt(&rc, cust, when, "x", 10000);
    return eh_applied(process(&rc), cid) >= 0;
}

static promo_outcome outcome(const char *cid, const char *cust, const char *when) {
    eh_receipt rc;
    receipt(&rc, cust, when, "x", 10000);
    return (promo_outcome)eh_explain(process(&rc), cid)->outcome;
}

/* --------------------------------------------------------------- limits ---- */

Test(state, limit_per_receipt_on_bundle_groups) {
    setup("campaign b { then bundle 2 for 15 on lines\n limit 1 per receipt }\n");
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line(&rc, "1", "x", 4000, 1000); /* two groups possible, one allowed */
    const promo_result *res = process(&rc);
    cr_assert_eq(res->discount, 500);
}

Test(state, limit_per_customer_per_day) {
    setup("campaign a { then points 1\n limit 1 per customer per day }\n");
    cr_assert(applies("a", "c1", "2026-06-05T10:00"));
    cr_assert_eq(outcome("a", "c1", "2026-06-05T23:59"), PROMO_OUT_LIMIT);
    cr_assert(applies("a", "c2", "2026-06-05T12:00")); /* another customer */
    cr_assert(applies("a", "c1", "2026-06-06T00:00"));
    /* without a customer id the limit cannot be counted */
    cr_assert_eq(outcome("a", NULL, "2026-06-07T10:00"), PROMO_OUT_NO_CUSTOMER);
}

Test(state, limit_per_customer_per_iso_week) {
    setup("campaign a { then points 1\n limit 2 per customer per week }\n");
    cr_assert(applies("a", "c1", "2026-06-01T10:00")); /* Monday */
    cr_assert(applies("a", "c1", "2026-06-07T10:00")); /* Sunday, same week */
    cr_assert_not(applies("a", "c1", "2026-06-07T11:00"));
    cr_assert(applies("a", "c1", "2026-06-08T10:00")); /* next Monday */
    /* ISO week across the new year: Thu 2026-12-31 and Fri 2027-01-01 share a week */
    cr_assert(applies("a", "c2", "2026-12-31T10:00"));
    cr_assert(applies("a", "c2", "2027-01-01T10:00"));
    cr_assert_not(applies("a", "c2", "2027-01-03T10:00")); /* Sunday */
    cr_assert(applies("a", "c2", "2027-01-04T10:00"));     /* Monday */
}

Test(state, limit_per_customer_per_month_and_life) {
    setup("campaign m { then points 1\n limit 1 per customer per month }\n"
          "campaign l { then points 2\n limit 2 per customer }\n");
    eh_receipt rc;
    const char *days[] = {"2026-06-30T10:00", "2026-07-01T10:00", "2026-07-31T10:00",
                          "2027-08-01T10:00"};
    int month[] = {1, 1, 0, 1}, life[] = {1, 1, 0, 0};
    for (int i = 0; i < 4; i++) {
        receipt(&rc, "c1", days[i], "x", 10000);
        const promo_result *res = process(&rc);
        cr_assert_eq(eh_applied(res, "m") >= 0, month[i], "month, receipt %d", i);
        cr_assert_eq(eh_applied(res, "l") >= 0, life[i], "life, receipt %d", i);
    }
}

Test(state, limit_is_charged_only_when_the_campaign_applies) {
    setup("campaign a { when total >= 100\n then points 1\n limit 1 per customer per day }\n");
    eh_receipt rc;
    receipt(&rc, "c1", "2026-06-05T10:00", "x", 5000); /* condition false */
    cr_assert_eq(eh_applied(process(&rc), "a"), -1);
    cr_assert(applies("a", "c1", "2026-06-05T11:00"));
}

/* -------------------------------------------------------------- history ---- */

Test(state, history_sum_window_includes_the_current_receipt) {
    setup("campaign h { when history.sum(lines where category \"dairy\", 30 days) >= 1000\n"
          "  then points 10 }\n");
    struct {
        const char *when;
        const char *cat;
        int64_t price;
        int expect;
    } steps[] = {
        {"2026-06-01T10:00", "dairy", 60000, 0}, /* 600 */
        {"2026-06-05T10:00", "bread", 90000, 0}, /* not dairy */
        {"2026-06-10T10:00", "dairy", 50000, 1}, /* 600 + 500 */
        {"2026-07-01T10:00", "dairy", 40000, 0}, /* window 06-02..07-01: 500 + 400 */
        {"2026-07-01T18:00", "dairy", 10000, 1}, /* + this one: 1000 */
        {"2026-07-10T10:00", "dairy/x", 0, 0},   /* window 06-11..07-10: 400 + 100 */
    };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        eh_receipt rc;
        receipt(&rc, "c1", steps[i].when, steps[i].cat, steps[i].price);
        const promo_result *res = process(&rc);
        cr_assert_eq(eh_applied(res, "h") >= 0, steps[i].expect, "receipt %zu", i);
    }
    /* another customer has no history */
    eh_receipt rc;
    receipt(&rc, "c2", "2026-07-10T10:00", "dairy", 99999);
    cr_assert_eq(eh_applied(process(&rc), "h"), -1);
}

Test(state, history_records_final_amounts) {
    setup("campaign d { priority 2\n then discount 50% on lines }\n"
          "campaign h { when history.sum(lines, 7 days) >= 150\n then points 1 }\n");
    eh_receipt rc;
    receipt(&rc, "c1", "2026-06-01T10:00", "x", 20000); /* 200 -> 100 after d */
    cr_assert_eq(eh_applied(process(&rc), "h"), -1);    /* current: 100 */
    receipt(&rc, "c1", "2026-06-02T10:00", "x", 8000);  /* 100 + 40 */
    cr_assert_eq(eh_applied(process(&rc), "h"), -1);
    receipt(&rc, "c1", "2026-06-03T10:00", "x", 2000); /* 100 + 40 + 10 */
    cr_assert(eh_applied(process(&rc), "h") >= 0);
}

Test(state, history_visits_and_count) {
    setup("campaign v { when history.visits(7 days) >= 3\n then points 1 }\n"
          "campaign c { when history.count(lines where category \"x\", 2 days) >= 3\n"
          "  then points 2 }\n");
    eh_receipt rc;
    const char *days[] = {"2026-06-01T10:00", "2026-06-02T10:00", "2026-06-03T10:00",
                          "2026-06-10T10:00"};
    int visits[] = {0, 0, 1, 0}, count[] = {0, 1, 1, 0}; /* 2 days: yesterday + today */
    for (int i = 0; i < 4; i++) {
        eh_receipt_init(&rc, "r", days[i]);
        eh_customer(&rc, "c1");
        eh_line(&rc, "1", "x", 1500, 100);
        eh_line(&rc, "2", "y", 5000, 100);
        const promo_result *res = process(&rc);
        cr_assert_eq(eh_applied(res, "v") >= 0, visits[i], "visits, receipt %d", i);
        cr_assert_eq(eh_applied(res, "c") >= 0, count[i], "count, receipt %d", i);
    }
}

Test(state, history_without_customer_is_the_current_receipt) {
    setup("campaign h { when history.sum(lines, 30 days) >= 100 and history.visits(30 days) == 1\n"
          "  then points 1 }\n");
    eh_receipt rc;
    receipt(&rc, NULL, "2026-06-01T10:00", "x", 10000);
    cr_assert(eh_applied(process(&rc), "h") >= 0);
    cr_assert(eh_applied(process(&rc), "h") >= 0);
}

/* -------------------------------------------------------------- budgets ---- */

Test(state, budget_exhaustion) {
    setup("campaign b { then discount 10% on lines\n budget 25 }\n");
    eh_receipt rc;
    receipt(&rc, "c1", "2026-06-01T10:00", "x", 10000);
    cr_assert_eq(process(&rc)->discount, 1000);
    cr_assert_eq(process(&rc)->discount, 1000);
    const promo_result *res = process(&rc); /* 10.00 > 5.00 remaining */
    cr_assert_eq(res->discount, 0);
    cr_assert_eq(eh_explain(res, "b")->outcome, PROMO_OUT_BUDGET);
    cr_assert_eq(promo_engine_budget_spent(env.e, "b"), 2000);
    receipt(&rc, "c1", "2026-06-01T10:00", "x", 5000); /* 5.00 fits exactly */
    cr_assert_eq(process(&rc)->discount, 500);
    cr_assert_eq(promo_engine_budget_spent(env.e, "b"), 2500);
    cr_assert_eq(promo_engine_budget_spent(env.e, "nope"), -1);
}

Test(state, budget_partial_grants_the_rest) {
    setup("campaign b { then discount 10% on lines\n budget 25 partial }\n");
    eh_receipt rc;
    receipt(&rc, "c1", "2026-06-01T10:00", "x", 10000);
    process(&rc);
    process(&rc);
    const promo_result *res = process(&rc);
    cr_assert_eq(res->discount, 500);
    cr_assert_eq(eh_by(res, 0, "b"), 500);
    cr_assert_eq(promo_engine_budget_spent(env.e, "b"), 2500);
    res = process(&rc);
    cr_assert_eq(res->discount, 0);
    cr_assert_eq(eh_explain(res, "b")->outcome, PROMO_OUT_BUDGET);
}

Test(state, budget_partial_spreads_over_discounts_and_points) {
    setup("campaign b { then discount 10 on lines; points 5\n budget 20 partial }\n");
    eh_receipt rc;
    receipt(&rc, "c1", "2026-06-01T10:00", "x", 10000);
    const promo_result *res = process(&rc); /* 15.00 of 20.00 */
    cr_assert_eq(res->discount, 1000);
    cr_assert_eq(eh_points(res, "b"), 500);
    /* 5.00 left for 10.00 + 5.00: 333.3 (rem 500), 166.7 (rem 1000) -> 333, 167 */
    res = process(&rc);
    cr_assert_eq(res->discount, 333);
    cr_assert_eq(eh_points(res, "b"), 167);
    cr_assert_eq(promo_engine_budget_spent(env.e, "b"), 2000);
}

Test(state, budget_counts_points) {
    setup("campaign p { then points 10% of paid\n budget 1 }\n");
    eh_receipt rc;
    receipt(&rc, "c1", "2026-06-01T10:00", "x", 1000); /* 1.00 of points */
    cr_assert_eq(eh_points(process(&rc), "p"), 100);
    cr_assert_eq(eh_points(process(&rc), "p"), 0);
    cr_assert_eq(promo_engine_budget_spent(env.e, "p"), 100);
}

/* -------------------------------------------------------- uncommitted work ---- */

Test(state, uncommitted_evaluation_changes_nothing) {
    setup("campaign a { then discount 10 on lines\n limit 1 per customer per day\n budget 10 }\n"
          "campaign h { when history.visits(30 days) >= 2\n then points 1 }\n");
    eh_receipt rc;
    receipt(&rc, "c1", "2026-06-01T10:00", "x", 10000);
    const promo_result *res;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(promo_eval(env.c, &rc.r, &res), PROMO_OK);
        cr_assert_eq(res->discount, 1000);
        cr_assert_eq(eh_applied(res, "h"), -1);
    }
    cr_assert_eq(promo_engine_budget_spent(env.e, "a"), 0);
    cr_assert_eq(promo_commit(env.c), PROMO_OK);
    cr_assert_eq(promo_engine_budget_spent(env.e, "a"), 1000);
    cr_assert_eq(promo_commit(env.c), PROMO_EARG); /* nothing left to commit */
    cr_assert_eq(promo_eval(env.c, &rc.r, &res), PROMO_OK);
    cr_assert_eq(res->discount, 0);
    cr_assert(eh_applied(res, "h") >= 0);
}

Test(state, conflicting_commit_applies_nothing) {
    setup("campaign a { then discount 10 on lines\n budget 100 }\n"
          "campaign h { when history.visits(30 days) >= 2\n then points 1 }\n");
    promo_ctx *c2;
    cr_assert_eq(promo_ctx_new(env.e, 0, &c2), PROMO_OK);
    eh_receipt r1, r2;
    receipt(&r1, "c1", "2026-06-01T10:00", "x", 10000);
    receipt(&r2, "c1", "2026-06-01T11:00", "x", 10000);
    const promo_result *res1, *res2;
    cr_assert_eq(promo_eval(env.c, &r1.r, &res1), PROMO_OK);
    cr_assert_eq(promo_eval(c2, &r2.r, &res2), PROMO_OK);
    cr_assert_eq(promo_commit(env.c), PROMO_OK);
    cr_assert_eq(promo_commit(c2), PROMO_ECONFLICT); /* c1's state moved */
    cr_assert_eq(promo_engine_budget_spent(env.e, "a"), 1000);
    /* re-evaluated, r2 sees r1 */
    cr_assert_eq(promo_process(c2, &r2.r, &res2), PROMO_OK);
    cr_assert(eh_applied(res2, "h") >= 0);
    cr_assert_eq(promo_engine_budget_spent(env.e, "a"), 2000);
    promo_ctx_free(c2);
}

Test(state, budget_conflict_when_the_decision_would_differ) {
    setup("campaign a { then discount 10 on lines\n budget 15 }\n");
    promo_ctx *c2;
    cr_assert_eq(promo_ctx_new(env.e, 0, &c2), PROMO_OK);
    eh_receipt r1, r2;
    receipt(&r1, NULL, "2026-06-01T10:00", "x", 10000);
    receipt(&r2, NULL, "2026-06-01T11:00", "x", 10000);
    const promo_result *res1, *res2;
    cr_assert_eq(promo_eval(env.c, &r1.r, &res1), PROMO_OK);
    cr_assert_eq(promo_eval(c2, &r2.r, &res2), PROMO_OK);
    cr_assert_eq(res2->discount, 1000);
    cr_assert_eq(promo_commit(env.c), PROMO_OK);
    cr_assert_eq(promo_commit(c2), PROMO_ECONFLICT); /* 10.00 no longer fits in 5.00 */
    cr_assert_eq(promo_engine_budget_spent(env.e, "a"), 1000);
    cr_assert_eq(promo_process(c2, &r2.r, &res2), PROMO_OK);
    cr_assert_eq(res2->discount, 0);
    cr_assert_eq(promo_engine_budget_spent(env.e, "a"), 1000);
    promo_ctx_free(c2);
}

Test(state, budgets_and_state_survive_a_swap) {
    setup("campaign a { then discount 10 on lines\n budget 25\n limit 1 per customer per day }\n");
    eh_receipt rc;
    receipt(&rc, "c1", "2026-06-01T10:00", "x", 10000);
    cr_assert_eq(process(&rc)->discount, 1000);
    promo_bundle *b2 = eh_compile("campaign a { then discount 10 on lines\n budget 25\n"
                                  "  limit 1 per customer per day }\n"
                                  "campaign z { then points 1 }\n");
    cr_assert_not_null(b2);
    cr_assert_eq(promo_engine_swap(env.e, b2), PROMO_OK);
    promo_bundle_release(b2);
    const promo_result *res = process(&rc);
    cr_assert_eq(promo_bundle_campaign_count(res->bundle), 2);
    cr_assert_eq(eh_explain(res, "a")->outcome, PROMO_OUT_LIMIT);
    receipt(&rc, "c2", "2026-06-01T10:00", "x", 10000);
    cr_assert_eq(process(&rc)->discount, 1000);
    receipt(&rc, "c3", "2026-06-01T10:00", "x", 10000);
    cr_assert_eq(process(&rc)->discount, 0); /* 5.00 left: budget exhausted */
    cr_assert_eq(promo_engine_budget_spent(env.e, "a"), 2000);
}

Test(state, malformed_receipts_are_refused) {
    setup("campaign a { then points 1 }\n");
    eh_receipt rc;
    receipt(&rc, "c1", "2026-06-01T10:00", "x", 10000);
    const promo_result *res;
    rc.lines[0].qty = 0;
    cr_assert_eq(promo_eval(env.c, &rc.r, &res), PROMO_EINPUT);
    cr_assert_str_eq(promo_ctx_errmsg(env.c), "lines[0].qty: must be positive");
    rc.lines[0].qty = 1000;
    rc.lines[0].price = -1;
    cr_assert_eq(promo_eval(env.c, &rc.r, &res), PROMO_EINPUT);
    cr_assert_eq(promo_commit(env.c), PROMO_EARG);
    rc.lines[0].price = 1;
    rc.r.nlines = PROMO_MAX_LINES + 1;
    cr_assert_eq(promo_eval(env.c, &rc.r, &res), PROMO_ELIMIT);
    rc.r.nlines = 0; /* an empty receipt earns nothing but is valid */
    cr_assert_eq(promo_eval(env.c, &rc.r, &res), PROMO_OK);
    cr_assert_eq(res->total, 0);
    cr_assert_eq(res->npoints, 0); /* SPEC 4: earns nothing, even unconditional points */
    cr_assert_eq(res->napplied, 0);
    cr_assert_eq(eh_explain(res, "a")->outcome, PROMO_OUT_NOTHING);
}

Test(state, a_line_a_partial_budget_left_empty_was_not_acted_on) {
    setup("campaign a { priority 100\n then discount 10% on lines\n budget 0.01 partial }\n"
          "campaign b { priority 50\n combine none\n then discount 1 on lines }\n");
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line(&rc, "1", "x", 1000, 10000);
    eh_line(&rc, "2", "x", 1000, 10000);
    const promo_result *res = process(&rc);
    /* a: 10.00 + 10.00 cut to 0.01 (a tie: line 0); b may act on line 1 only */
    cr_assert_eq(eh_by(res, 0, "a"), 1);
    cr_assert_eq(eh_by(res, 1, "a"), 0);
    cr_assert_eq(eh_by(res, 0, "b"), 0);
    cr_assert_eq(eh_by(res, 1, "b"), 100);
    cr_assert_eq(res->napplied, 2);
}

Test(state, a_receipt_reward_the_budget_cut_to_nothing_does_not_act) {
    setup("campaign a { priority 100\n then discount 10% on lines where sku \"1\"; points 0.01\n"
          "  budget 0.10 partial }\n"
          "campaign b { priority 50\n combine none\n then discount 1 on lines }\n");
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line(&rc, "1", "x", 1000, 10000);
    eh_line(&rc, "2", "x", 1000, 10000);
    const promo_result *res = process(&rc);
    /* a: 10.00 + 0.01 points cut to 0.10: 10.00 -> 0.10, points -> 0; line 2 is free */
    cr_assert_eq(eh_by(res, 0, "a"), 10);
    cr_assert_eq(eh_points(res, "a"), 0);
    cr_assert_eq(eh_by(res, 1, "b"), 100);
}
