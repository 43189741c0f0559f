/*
 * test_settled.c — SPEC's settled rules of round 2 (issue 11), end to end with the
 * numbers of the issue: exact bundle unit prices and `price` fact (3.1, 3.2),
 * `tiebreak benefit` over more than 64 tied campaigns (3.3 rule 6), `combine with`
 * names (3.3 rule 2), `discount P% on receipt` as a receipt-level reward (3.3 rule 3),
 * W001 under `tiebreak benefit` and `expect discount` on a SKU the example lacks.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compile_helpers.h"
#include "eval_helpers.h"
#include "strbuf.h"

static eh_env env;

static const promo_result *eval(const char *src, const eh_receipt *rc) {
    cr_assert_eq(eh_env_init(&env, src, PROMO_CTX_EXPLAIN), 0, "compile/load failed:\n%s", src);
    const promo_result *res = NULL;
    promo_status st = promo_eval(env.c, &rc->r, &res);
    cr_assert_eq(st, PROMO_OK, "eval: %s", promo_ctx_errmsg(env.c));
    return res;
}

static void fini(void) {
    eh_env_free(&env);
}

TestSuite(settled, .fini = fini);

/* ---------------------------------------------------- exact unit prices ---- */

/* 10% first: 3 x 33.33 = 99.99 -> 89.99; the bundle sees 3 units of 29.99666..., so
 * S = 89.99 exactly and its discount is 9.99 (not 10.00 from units rounded to 30.00). */
Test(settled, bundle_unit_prices_are_exact) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2027-03-03T12:00");
    eh_line(&rc, "a", NULL, 3000, 3333);
    const promo_result *res =
        eval("campaign pre { priority 2 then discount 10% on lines where sku \"a\" }\n"
             "campaign bun { priority 1 then bundle 3 for 80 on lines where sku \"a\" }\n",
             &rc);
    cr_assert_eq(eh_by(res, 0, "pre"), 1000);
    cr_assert_eq(eh_by(res, 0, "bun"), 999);
    cr_assert_eq(res->discount, 1999);
    cr_assert_eq(res->final, 8000);
}

/* A group straddling lines of unrounded prices: 2 x 10.00 -> 10% off -> 18.00 (9.00 a
 * unit) and 3 x 3.33 = 9.99 -> 1% off -> 9.89 (3.29666... a unit). Group of 3 for 20:
 * 9.00 + 9.00 + 3.29666 = 21.29666; round_half_up(1.29666) = 1.30 spread by price:
 * 1.30 x 9 / 21.29666 = 0.549378 (x2), 1.30 x 3.29666 / 21.29666 = 0.201236
 * -> 0.54, 0.54, 0.20 and two kopecks by largest remainder: 0.55, 0.55, 0.20. */
Test(settled, bundle_group_across_lines_uses_exact_prices) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2027-03-03T12:00");
    eh_line(&rc, "a", NULL, 2000, 1000);
    eh_line(&rc, "b", NULL, 3000, 333);
    const promo_result *res =
        eval("campaign p1 { priority 3 then discount 10% on lines where sku \"a\" }\n"
             "campaign p2 { priority 2 then discount 1% on lines where sku \"b\" }\n"
             "campaign bun { priority 1 then bundle 3 for 20 on lines }\n",
             &rc);
    cr_assert_eq(eh_by(res, 1, "p2"), 10); /* 9.99 x 1% = 0.0999 -> 0.10 */
    cr_assert_eq(eh_by(res, 0, "bun"), 110);
    cr_assert_eq(eh_by(res, 1, "bun"), 20);
}

/* The `price` fact is exact: 89.99 / 3 = 29.99666... is below 30 and above 29.99. */
Test(settled, price_fact_is_exact) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2027-03-03T12:00");
    eh_line(&rc, "a", NULL, 3000, 3333);
    const promo_result *res =
        eval("campaign pre { priority 2 then discount 10% on lines where sku \"a\" }\n"
             "campaign lt30 { priority 1 when any(lines where price < 30) then message \"lt\" }\n"
             "campaign ge30 { priority 1 when any(lines where price >= 30) then message \"ge\" }\n"
             "campaign gt2999 { priority 1 when any(lines where 29.99 < price) "
             "then message \"gt\" }\n"
             "campaign eq30 { priority 1 when any(lines where price == 30) then message \"eq\" }\n"
             "campaign le2999 { priority 1 when any(lines where price <= 29.99) "
             "then message \"le\" }\n",
             &rc);
    cr_assert_eq(res->lines[0].final, 8999);
    cr_assert_geq(eh_applied(res, "lt30"), 0, "price < 30 holds for 89.99 / 3");
    cr_assert_geq(eh_applied(res, "gt2999"), 0, "29.99 < price holds for 89.99 / 3");
    cr_assert_eq(eh_applied(res, "ge30"), -1);
    cr_assert_eq(eh_applied(res, "eq30"), -1);
    cr_assert_eq(eh_applied(res, "le2999"), -1);
}

/* Target predicates read the exact price too: after 10% the 3 x 33.33 line costs
 * 29.99666 a unit, so `price < 30` selects it for a further 1.00 each. */
Test(settled, price_in_a_target_predicate_is_exact) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2027-03-03T12:00");
    eh_line(&rc, "a", NULL, 3000, 3333);
    eh_line(&rc, "b", NULL, 1000, 3000); /* 30.00 exactly: not below 30 */
    const promo_result *res =
        eval("campaign pre { priority 2 then discount 10% on lines where sku \"a\" }\n"
             "campaign cheap { priority 1 then discount 1 each on lines where price < 30 }\n",
             &rc);
    cr_assert_eq(eh_by(res, 0, "cheap"), 300);
    cr_assert_eq(eh_by(res, 1, "cheap"), 0);
}

/* ------------------------------------------------------------ tiebreak ---- */

static char *tied_source(int tiebreak) {
    strbuf s = STRBUF_INIT;
    if (tiebreak) sb_puts(&s, "tiebreak benefit\n");
    for (int i = 0; i < 70; i++)
        sb_printf(&s,
                  "campaign t%d { priority 1 combine none "
                  "then discount %d on lines where category \"x\" }\n",
                  i, i + 1);
    char *out = strdup(sb_cstr(&s));
    sb_free(&s);
    return out;
}

/* 70 mutually incompatible campaigns at one priority: the greatest benefit (t69, 70.00)
 * goes first however many are tied; without the declaration, t0 (by id) does. */
Test(settled, tiebreak_over_seventy_tied_campaigns) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2027-03-03T12:00");
    eh_line(&rc, "l", "x", 1000, 100000);
    char *src = tied_source(1);
    const promo_result *res = eval(src, &rc);
    cr_assert_eq(res->napplied, 1);
    cr_assert_str_eq(promo_bundle_campaign_id(res->bundle, res->applied[0]), "t69");
    cr_assert_eq(res->discount, 7000);
    free(src);
    eh_env_free(&env);
    src = tied_source(0);
    res = eval(src, &rc);
    cr_assert_eq(res->napplied, 1);
    cr_assert_str_eq(promo_bundle_campaign_id(res->bundle, res->applied[0]), "t0");
    cr_assert_eq(res->discount, 100);
    free(src);
}

/* W001 says what decides the order under `tiebreak benefit`. */
Test(settled, w001_wording_under_tiebreak) {
    char *got = check_src("tiebreak benefit\n"
                          "campaign a { combine none then discount 1 on lines }\n"
                          "campaign b { combine none then discount 2 on lines }\n"
                          "campaign c { then discount 3 on lines }\n"
                          "campaign d { then discount 4 on lines }\n");
    cr_assert_str_eq(got,
                     "t.rule:3:10: W001: campaigns 'a' and 'b' have equal priority 0 and may touch "
                     "the same lines; under 'tiebreak benefit' the one giving the greater benefit "
                     "goes first ('a' on a tie)\n"
                     "t.rule:2:10: note: 'a' defined here\n"
                     "t.rule:4:10: W001: campaigns 'b' and 'c' have equal priority 0 and may touch "
                     "the same lines; under 'tiebreak benefit' the one giving the greater benefit "
                     "goes first ('b' on a tie)\n"
                     "t.rule:3:10: note: 'b' defined here\n"
                     "t.rule:5:10: W001: campaigns 'c' and 'd' have equal priority 0 and may touch "
                     "the same lines; 'c' goes first by id\n"
                     "t.rule:4:10: note: 'c' defined here\n",
                     "got:\n%s", got);
    free(got);
}

/* ------------------------------------------------------- combine with ---- */

/* A name after `combine with` is a group or the id of a campaign without `group`. */
Test(settled, combine_with_a_grouped_campaign_id_is_an_error) {
    char *got = check_src("group disc\n"
                          "campaign a { group disc then discount 1 on lines }\n"
                          "campaign b { combine with a then discount 2 on lines }\n"
                          "campaign c { combine with b then discount 3 on lines }\n");
    cr_assert_str_eq(got,
                     "t.rule:3:27: E007: 'a' in combine with is a campaign in group 'disc', not a "
                     "group (did you mean 'disc'?)\n"
                     "t.rule:2:10: note: 'a' defined here\n",
                     "got:\n%s", got);
    free(got);
}

/* An ungrouped campaign's id is its own group: c accepts b, b accepts everything. */
Test(settled, combine_with_an_ungrouped_campaign_id_is_its_group) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2027-03-03T12:00");
    eh_line(&rc, "l", NULL, 1000, 10000);
    const promo_result *res = eval("group g\n"
                                   "campaign a { priority 3 group g then discount 1 on lines }\n"
                                   "campaign b { priority 2 then discount 2 on lines }\n"
                                   "campaign c { priority 1 combine with b "
                                   "then discount 3 on lines }\n",
                                   &rc);
    cr_assert_eq(eh_by(res, 0, "a"), 100);
    cr_assert_eq(eh_by(res, 0, "b"), 200);
    cr_assert_eq(eh_by(res, 0, "c"), 0, "c does not accept a's group g");
}

/* ------------------------------------------------ discount P% on receipt ---- */

/* Receipt-level: blocked as a whole by an incompatible campaign that applied, even on
 * lines that campaign did not touch (a line-level 5% would still get line 2). */
Test(settled, percent_on_receipt_is_blocked_by_any_incompatible_campaign) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2027-03-03T12:00");
    eh_line(&rc, "1", NULL, 1000, 10000);
    eh_line(&rc, "2", NULL, 1000, 5000);
    const promo_result *res =
        eval("campaign a { priority 2 combine none then discount 10% on lines where sku \"1\" }\n"
             "campaign r { priority 1 then discount 5% on receipt }\n"
             "campaign l { priority 0 then discount 5% on lines }\n",
             &rc);
    cr_assert_eq(eh_by(res, 0, "a"), 1000);
    cr_assert_eq(eh_applied(res, "r"), -1);
    const promo_explain *x = eh_explain(res, "r");
    cr_assert_eq(x->outcome, PROMO_OUT_BLOCKED);
    cr_assert_str_eq(promo_bundle_campaign_id(res->bundle, x->other), "a");
    cr_assert_eq(eh_by(res, 1, "r"), 0);
    cr_assert_eq(eh_by(res, 1, "l"), 250, "a line-level reward still reaches line 2");
    cr_assert_eq(eh_by(res, 0, "l"), 0);
}

/* One amount: round_half_up(0.30 x 5%) = 0.02, spread by largest remainder with ties
 * to the earlier line (per line it would be 0.01 x 3 = 0.03). */
Test(settled, percent_on_receipt_is_one_amount_spread) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2027-03-03T12:00");
    eh_line(&rc, "1", NULL, 1000, 10);
    eh_line(&rc, "2", NULL, 1000, 10);
    eh_line(&rc, "3", NULL, 1000, 10);
    const promo_result *res = eval("campaign r { then discount 5% on receipt }\n", &rc);
    cr_assert_eq(res->discount, 2);
    cr_assert_eq(eh_by(res, 0, "r"), 1);
    cr_assert_eq(eh_by(res, 1, "r"), 1);
    cr_assert_eq(eh_by(res, 2, "r"), 0);
}

/* A receipt-level percent acts on every line: it blocks a later incompatible campaign
 * even on an excluded-free line it gave nothing to. */
Test(settled, percent_on_receipt_acts_on_every_line) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2027-03-03T12:00");
    eh_line(&rc, "1", NULL, 1000, 10000);
    eh_line(&rc, "2", NULL, 1000, 1); /* 0.01 x 5% rounds to nothing */
    const promo_result *res = eval("campaign r { priority 2 combine none "
                                   "then discount 5% on receipt }\n"
                                   "campaign l { priority 1 then discount 10% on lines }\n",
                                   &rc);
    cr_assert_eq(res->discount, 500);
    cr_assert_eq(eh_applied(res, "l"), -1);
}

/* ------------------------------------------------------------ examples ---- */

/* `expect discount 0 on "nosuch"` would pass silently: it is an error. */
Test(settled, expect_discount_on_a_missing_sku_is_an_error) {
    char *got = check_src("campaign c { then discount 10% on lines\n"
                          "  example \"e\" { time 2027-03-03T12:00\n"
                          "    line sku \"1001\" qty 1 price 10\n"
                          "    expect discount 0 on \"1002\"\n"
                          "    expect discount 1.00 on \"1001\" } }\n");
    cr_assert_str_eq(got,
                     "t.rule:4:5: E024: 'expect discount' on \"1002\": no line of this example "
                     "has that sku (did you mean '1001'?)\n",
                     "got:\n%s", got);
    free(got);
}

/* `points P% of paid on receipt` is receipt-level like the form without a target: an
 * incompatible campaign that applied blocks it on every line. */
Test(settled, points_of_paid_on_receipt_is_receipt_level) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2027-03-03T12:00");
    eh_line(&rc, "1", NULL, 1000, 10000);
    eh_line(&rc, "2", NULL, 1000, 5000);
    const promo_result *res =
        eval("campaign a { priority 2 combine none then discount 10% on lines where sku \"1\" }\n"
             "campaign p { priority 1 then points 10% of paid on receipt }\n"
             "campaign q { priority 0 then points 10% of paid on lines }\n",
             &rc);
    cr_assert_eq(eh_points(res, "p"), 0);
    cr_assert_eq(eh_explain(res, "p")->outcome, PROMO_OUT_BLOCKED);
    cr_assert_eq(eh_points(res, "q"), 500, "line 2 only: 50.00 x 10%");
}

/* SPEC 3.4: a per-customer limit on a receipt without a customer id: the campaign does
 * not apply, and --explain says why. */
Test(settled, per_customer_limit_without_customer_id_explains_it) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2027-03-03T12:00");
    eh_line(&rc, "1", NULL, 1000, 10000);
    const promo_result *res =
        eval("campaign once { then discount 10 on receipt limit 1 per customer per day }\n", &rc);
    cr_assert_eq(res->discount, 0);
    cr_assert_eq(eh_explain(res, "once")->outcome, PROMO_OUT_NO_CUSTOMER);
    char buf[1024];
    promo_result_to_json(res, buf, sizeof buf);
    cr_assert(strstr(buf, "{\"campaign\":\"once\",\"outcome\":\"no customer id\"}") != NULL, "%s",
              buf);
}
