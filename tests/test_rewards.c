/*
 * test_rewards.c — every reward kind of SPEC 3.2 evaluated end to end (rule text ->
 * compiler -> bundle -> VM -> stacking), amounts computed by hand to the kopeck.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "eval_helpers.h"
#include "stacking.h"

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

TestSuite(rewards, .fini = fini);

/* ---------------------------------------------------------------- percent ---- */

Test(rewards, percent_rounds_half_kopecks_up) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line(&rc, "1", "dairy/milk", 1000, 125); /* 1.25: 10% = 0.125 -> 0.13 */
    eh_line(&rc, "2", "dairy", 3000, 5);        /* 0.15: 10% = 0.015 -> 0.02 */
    eh_line(&rc, "3", "dairy", 1235, 9990);     /* 1.235 kg x 99.90 = 123.3765 -> 123.38 */
    eh_line(&rc, "4", "dairy2/x", 1000, 10000); /* not in "dairy" */
    const promo_result *res =
        eval("campaign d10 { then discount 10% on lines where category \"dairy\" }\n", &rc);
    cr_assert_eq(res->lines[0].discount, 13);
    cr_assert_eq(res->lines[1].amount, 15);
    cr_assert_eq(res->lines[1].discount, 2);
    cr_assert_eq(res->lines[2].amount, 12338);
    cr_assert_eq(res->lines[2].discount, 1234); /* 1233.8 */
    cr_assert_eq(res->lines[3].discount, 0);
    cr_assert_eq(res->total, 125 + 15 + 12338 + 10000);
    cr_assert_eq(res->discount, 13 + 2 + 1234);
    cr_assert_eq(res->final, res->total - res->discount);
    cr_assert_eq(eh_by(res, 2, "d10"), 1234);
    cr_assert_eq(res->napplied, 1);
}

Test(rewards, percent_with_decimals_and_zero_rounding) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line(&rc, "1", "a", 1000, 1000); /* 10.00 x 2.5% = 0.25 */
    eh_line(&rc, "2", "a", 1000, 19);   /* 0.19 x 2.5% = 0.00475 -> 0.00: does not act */
    const promo_result *res = eval("campaign p { then discount 2.5% on lines }\n", &rc);
    cr_assert_eq(res->lines[0].discount, 25);
    cr_assert_eq(res->lines[1].discount, 0);
    cr_assert_eq(res->lines[1].by_cnt, 0);
}

/* ------------------------------------------------------------------- each ---- */

Test(rewards, each_per_unit_capped_and_weighted) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line(&rc, "1", "a", 3000, 400);   /* 3 x 5.00 = 15.00 > 12.00: capped at 12.00 */
    eh_line(&rc, "2", "a", 1500, 10000); /* 1.5 kg x 5.00 = 7.50 */
    eh_line(&rc, "3", "a", 333, 10000);  /* 0.333 x 5.00 = 1.665 -> 1.67 */
    const promo_result *res = eval("campaign e { then discount 5 each on lines }\n", &rc);
    cr_assert_eq(res->lines[0].discount, 1200);
    cr_assert_eq(res->lines[0].final, 0);
    cr_assert_eq(res->lines[1].discount, 750);
    cr_assert_eq(res->lines[2].amount, 3330);
    cr_assert_eq(res->lines[2].discount, 167);
}

Test(rewards, each_limit_per_receipt_counts_first_units) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line(&rc, "1", "a", 3000, 10000);
    eh_line(&rc, "2", "a", 3000, 10000);
    eh_line(&rc, "3", "a", 3000, 10000);
    const promo_result *res =
        eval("campaign e { then discount 5 each on lines\n limit 4 per receipt }\n", &rc);
    cr_assert_eq(res->lines[0].discount, 1500);
    cr_assert_eq(res->lines[1].discount, 500);
    cr_assert_eq(res->lines[2].discount, 0);
}

/* ----------------------------------------------------------------- spread ---- */

Test(rewards, spread_largest_remainder_ties_to_earlier_line) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line(&rc, "1", "x", 1000, 1000);
    eh_line(&rc, "2", "x", 1000, 1000);
    eh_line(&rc, "3", "x", 1000, 1000);
    /* 1.00 over three equal lines: 33 each, remainders tie, the kopeck to line 0 */
    const promo_result *res =
        eval("campaign s { then discount 1 on lines where category \"x\" }\n", &rc);
    cr_assert_eq(res->lines[0].discount, 34);
    cr_assert_eq(res->lines[1].discount, 33);
    cr_assert_eq(res->lines[2].discount, 33);
    cr_assert_eq(res->discount, 100);
}

Test(rewards, spread_remainder_goes_to_largest) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line(&rc, "1", "x", 1000, 100);
    eh_line(&rc, "2", "x", 1000, 200);
    /* 0.10 over 1.00 and 2.00: 3.33 -> 3 (rem 100), 6.67 -> 6 (rem 200) -> +1 line 1 */
    const promo_result *res = eval("campaign s { then discount 0.10 on lines }\n", &rc);
    cr_assert_eq(res->lines[0].discount, 3);
    cr_assert_eq(res->lines[1].discount, 7);
}

Test(rewards, spread_capped_at_sum_of_targets) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line(&rc, "1", "x", 1000, 10000);
    eh_line(&rc, "2", "x", 2000, 10000);
    eh_line(&rc, "3", "y", 1000, 10000);
    const promo_result *res =
        eval("campaign s { then discount 500 on lines where category \"x\" }\n", &rc);
    cr_assert_eq(res->lines[0].discount, 10000);
    cr_assert_eq(res->lines[1].discount, 20000);
    cr_assert_eq(res->lines[2].discount, 0);
    cr_assert_eq(res->final, 10000);
}

Test(rewards, receipt_discount_skips_excluded_lines) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line(&rc, "1", "x", 1000, 3000);
    eh_line_full(&rc, "tob", "tobacco", NULL, 1000, 10000, 1);
    eh_line(&rc, "2", "x", 1000, 7000);
    const promo_result *res = eval("campaign s { then discount 10 on receipt }\n", &rc);
    cr_assert_eq(res->lines[0].discount, 300);
    cr_assert_eq(res->lines[1].discount, 0);
    cr_assert_eq(res->lines[2].discount, 700);
}

/* ------------------------------------------------------------------ price ---- */

Test(rewards, promo_price) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line(&rc, "1", "x", 2000, 12000); /* 240.00 - 2 x 99.90 = 40.20 */
    eh_line(&rc, "1", "x", 1500, 10000); /* 150.00 - round(1.5 x 99.90 = 149.85) = 0.15 */
    eh_line(&rc, "1", "x", 1000, 9000);  /* cheaper than the promo price: nothing */
    const promo_result *res =
        eval("campaign p { then price 99.90 on lines where sku \"1\" }\n", &rc);
    cr_assert_eq(res->lines[0].discount, 4020);
    cr_assert_eq(res->lines[1].discount, 15);
    cr_assert_eq(res->lines[2].discount, 0);
    cr_assert_eq(res->lines[2].by_cnt, 0);
}

/* -------------------------------------------------------------------- buy ---- */

Test(rewards, buy_2_get_1_sorted_by_price) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line(&rc, "a", "x", 2000, 10000); /* units 100, 100 */
    eh_line(&rc, "b", "x", 2000, 5000);  /* units 50, 50 */
    eh_line(&rc, "c", "x", 1000, 8000);  /* unit 80 */
    /* sorted: a a c b b; group [a a c] -> c free; [b b] is not a full group */
    const promo_result *res = eval("campaign b { then buy 2 get 1 free on lines }\n", &rc);
    cr_assert_eq(res->lines[0].discount, 0);
    cr_assert_eq(res->lines[1].discount, 0);
    cr_assert_eq(res->lines[2].discount, 8000);
}

Test(rewards, buy_ties_by_line_order) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line(&rc, "a", "x", 2000, 5000); /* units L0 L0 */
    eh_line(&rc, "b", "x", 1000, 5000); /* unit L1 */
    /* equal prices: order L0 L0 L1, the last of the group (L1) is free */
    const promo_result *res = eval("campaign b { then buy 2 get 1 free on lines }\n", &rc);
    cr_assert_eq(res->lines[0].discount, 0);
    cr_assert_eq(res->lines[1].discount, 5000);
}

Test(rewards, buy_exact_price_comparison_and_repeats) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    /* units: a 3.33, b 3 x 3.33 (equal to a exactly), c 3 x 3.34 */
    eh_line(&rc, "a", "x", 1000, 333);
    eh_line(&rc, "b", "x", 3000, 333); /* amount 9.99 */
    eh_line(&rc, "c", "x", 3000, 334); /* amount 10.02, unit 3.34 */
    /* buy 1 get 1: order c c c a b b b? a (3.33) and b (3.33) tie -> a first.
     * Sequence: c c c a b b b: groups [c c] [c a] [b b], b is left alone.
     * Free: c x1, a x1, b x1. */
    const promo_result *res = eval("campaign b { then buy 1 get 1 free on lines }\n", &rc);
    cr_assert_eq(res->lines[2].discount, 334); /* round(10.02 x 1/3) */
    cr_assert_eq(res->lines[0].discount, 333);
    cr_assert_eq(res->lines[1].discount, 333);
}

Test(rewards, buy_limit_groups_and_weight_units) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line(&rc, "a", "x", 6000, 1000); /* six units of 10.00: 3 groups, limit 2 */
    eh_line(&rc, "w", "y", 2500, 1000); /* 2.5 kg: two whole units */
    const promo_result *res =
        eval("campaign b { then buy 1 get 1 free on lines where category \"x\"\n"
             " limit 2 per receipt }\n"
             "campaign w { then buy 1 get 1 free on lines where category \"y\" }\n",
             &rc);
    cr_assert_eq(res->lines[0].discount, 2000);
    /* 25.00 x 1 / 2.5 = 10.00 */
    cr_assert_eq(res->lines[1].discount, 1000);
}

Test(rewards, buy_at_percent_off_rounds_half_up) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line(&rc, "a", "x", 1000, 10000);
    eh_line(&rc, "b", "x", 1000, 6000);
    eh_line(&rc, "c", "x", 1000, 5);
    eh_line(&rc, "d", "x", 1000, 5);
    /* order a b c d: [a b] -> b 50% = 30.00; [c d] -> d 50% of 0.05 = 0.025 -> 0.03 */
    const promo_result *res = eval("campaign b { then buy 1 get 1 at 50% off on lines }\n", &rc);
    cr_assert_eq(res->lines[0].discount, 0);
    cr_assert_eq(res->lines[1].discount, 3000);
    cr_assert_eq(res->lines[2].discount, 0);
    cr_assert_eq(res->lines[3].discount, 3);
}

/* ----------------------------------------------------------------- bundle ---- */

Test(rewards, bundle_spread_over_units_by_price) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line(&rc, "a", "x", 1000, 5000);
    eh_line(&rc, "b", "x", 1000, 4000);
    eh_line(&rc, "c", "x", 1000, 3000);
    eh_line(&rc, "d", "x", 1000, 1000); /* a fourth unit: no full second group */
    /* 120.00 for 100.00: 20.00 spread 50:40:30 -> 833.3 (rem 4000), 666.7 (rem 8000),
     * 500 (rem 0) -> 833, 667, 500 */
    const promo_result *res = eval("campaign b { then bundle 3 for 100 on lines }\n", &rc);
    cr_assert_eq(res->lines[0].discount, 833);
    cr_assert_eq(res->lines[1].discount, 667);
    cr_assert_eq(res->lines[2].discount, 500);
    cr_assert_eq(res->lines[3].discount, 0);
    cr_assert_eq(res->discount, 2000);
}

Test(rewards, bundle_groups_inside_one_line_and_across_lines) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line(&rc, "a", "x", 4000, 4000); /* 4 units of 40.00 */
    eh_line(&rc, "b", "x", 2000, 3000); /* 2 units of 30.00 */
    /* sorted a a a a b b: [a a a] -> 120 - 100 = 20.00 to a;
     * [a b b] -> 100 - 100 = 0 */
    const promo_result *res = eval("campaign b { then bundle 3 for 100 on lines }\n", &rc);
    cr_assert_eq(res->lines[0].discount, 2000);
    cr_assert_eq(res->lines[1].discount, 0);
}

Test(rewards, bundle_straddling_group_ties_to_earlier_unit) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line(&rc, "a", "x", 1000, 1000);
    eh_line(&rc, "b", "x", 2000, 1000);
    /* 3 units of 10.00 for 29.99: 0.01 to the first unit (line a) */
    const promo_result *res = eval("campaign b { then bundle 3 for 29.99 on lines }\n", &rc);
    cr_assert_eq(res->lines[0].discount, 1);
    cr_assert_eq(res->lines[1].discount, 0);
}

/* ----------------------------------------------------------------- points ---- */

Test(rewards, points_of_paid_with_points_paid_spread) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line(&rc, "1", "x", 1000, 10000);
    eh_line(&rc, "2", "x", 1000, 5001);
    eh_line_full(&rc, "3", "x", NULL, 1000, 9999, 1); /* excluded: no points, no share */
    rc.r.points_paid = 3000;
    /* 30.00 over 100.00 / 50.01: 1999 (rem 13001), 1000 (rem 2000) -> 2000, 1000;
     * paid 80.00 -> 4.00, 40.01 -> 2.0005 -> 2.00 */
    const promo_result *res = eval("campaign p { then points 5% of paid }\n", &rc);
    cr_assert_eq(res->npoints, 1);
    cr_assert_eq(res->points[0].points, 600);
    cr_assert_eq(res->points[0].activate, rc.r.date);
    cr_assert_eq(res->points[0].expire, INT32_MIN);
    cr_assert_eq(res->discount, 0);
}

Test(rewards, points_rounded_per_line) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line(&rc, "1", "x", 1000, 10);
    eh_line(&rc, "2", "x", 1000, 10);
    eh_line(&rc, "3", "y", 1000, 10);
    /* 5% of 0.10 = 0.005 -> 0.01 per line: 0.02 for the two x lines (not 0.01 of 0.20) */
    const promo_result *res =
        eval("campaign p { then points 5% of paid on lines where category \"x\" }\n", &rc);
    cr_assert_eq(eh_points(res, "p"), 2);
}

Test(rewards, points_after_discount_with_dates) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line(&rc, "1", "x", 1000, 20000);
    const promo_result *res =
        eval("campaign d { priority 10\n then discount 10% on lines }\n"
             "campaign p { then points 1% of paid activate in 14 days expire in 90 days;\n"
             "  points 100 }\n",
             &rc);
    cr_assert_eq(res->lines[0].discount, 2000);
    cr_assert_eq(res->npoints, 2);
    /* 1% of 180.00 = 1.80, activating in 14 days, expiring 90 days later */
    cr_assert_eq(res->points[0].points, 180);
    cr_assert_eq(res->points[0].activate, eh_date("2026-06-19"));
    cr_assert_eq(res->points[0].expire, eh_date("2026-09-17"));
    cr_assert_eq(res->points[1].points, 10000);
    cr_assert_eq(res->points[1].activate, eh_date("2026-06-05"));
    cr_assert_eq(res->points[1].expire, INT32_MIN);
    cr_assert_eq(eh_applied(res, "d"), 0);
    cr_assert_eq(eh_applied(res, "p"), 1);
}

Test(rewards, one_points_entry_per_points_reward) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line(&rc, "1", "x", 1000, 10000);
    const promo_result *res =
        eval("campaign p { then points 10; points 5; points 1 expire in 7 days }\n", &rc);
    cr_assert_eq(res->npoints, 3);
    cr_assert_eq(res->points[0].points, 1000);
    cr_assert_eq(res->points[1].points, 500);
    cr_assert_eq(res->points[1].activate, eh_date("2026-06-05"));
    cr_assert_eq(res->points[2].points, 100);
    cr_assert_eq(res->points[2].expire, eh_date("2026-06-12"));
    cr_assert_eq(eh_points(res, "p"), 1600);
}

/* --------------------------------------------------------- coupon, message ---- */

Test(rewards, coupon_and_message) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line(&rc, "1", "x", 1000, 10000);
    const promo_result *res =
        eval("campaign c { then coupon \"NEXT10\"; message \"Hello\" }\n", &rc);
    cr_assert_eq(res->ncoupons, 1);
    cr_assert_str_eq(eh_coupon(res, 0), "NEXT10");
    cr_assert_eq(res->nmessages, 1);
    cr_assert_str_eq(eh_message(res, 0), "Hello");
    cr_assert_eq(eh_applied(res, "c"), 0);
    cr_assert_eq(res->discount, 0);
}

/* ------------------------------------------------------------ spend_limit ---- */

static const char *SCALE =
    "campaign sl { then spend_limit 30% if total < 2000, 40% if total < 10000, 55% }\n";

Test(rewards, spend_limit_steps) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line(&rc, "1", "x", 1000, 150001);              /* 1500.01: 30% = 450.003 -> 450.00 */
    eh_line_full(&rc, "t", "x", NULL, 1000, 10000, 1); /* excluded, but counts in total */
    const promo_result *res = eval(SCALE, &rc);
    /* total 1600.01 < 2000 -> 30% of the non-excluded 1500.01 */
    cr_assert_eq(res->has_spend_limit, 1);
    cr_assert_eq(res->spend_limit, 45000);
    cr_assert_eq(eh_applied(res, "sl"), 0);
}

Test(rewards, spend_limit_catch_all) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line(&rc, "1", "x", 1000, 1500001); /* 15000.01 x 55% = 8250.0055 -> 8250.01 */
    const promo_result *res = eval(SCALE, &rc);
    cr_assert_eq(res->spend_limit, 825001);
}

Test(rewards, spend_limit_zero_still_applies) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line_full(&rc, "t", "x", NULL, 1000, 10000, 1); /* only excluded lines: base 0 */
    const promo_result *res = eval(SCALE, &rc);
    cr_assert_eq(res->has_spend_limit, 1);
    cr_assert_eq(res->spend_limit, 0);
    cr_assert_eq(res->napplied, 1);
}

Test(rewards, spend_limit_without_catch_all_does_not_apply) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line(&rc, "1", "x", 1000, 300000);
    const promo_result *res = eval("campaign sl { then spend_limit 30% if total < 2000 }\n", &rc);
    cr_assert_eq(res->has_spend_limit, 0);
    cr_assert_eq(res->napplied, 0);
    cr_assert_eq(eh_explain(res, "sl")->outcome, PROMO_OUT_NOTHING);
}

Test(rewards, spend_limit_first_wins) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line(&rc, "1", "x", 1000, 100000);
    const promo_result *res = eval("campaign a { priority 2\n then spend_limit 10% }\n"
                                   "campaign b { priority 1\n then spend_limit 50% }\n",
                                   &rc);
    cr_assert_eq(res->spend_limit, 10000);
    cr_assert_eq(res->napplied, 1);
    cr_assert_eq(eh_applied(res, "b"), -1);
}

/* ---------------------------------------------- arithmetic, without the compiler ---- */

Test(spread, multiplicities_and_ties) {
    int64_t w[3] = {300, 300, 100}, cnt[3] = {2, 1, 1}, out[3];
    stk_spread_tmp tmp[3];
    /* 1000 kopecks over 4 units weighing 300,300,300,100 (W = 1000): 300 each, 100 */
    cr_assert_eq(stk_spread(1000, w, cnt, 3, out, tmp), 0);
    cr_assert_eq(out[0], 600);
    cr_assert_eq(out[1], 300);
    cr_assert_eq(out[2], 100);
    /* 5 over W 1000: 1.5, 1.5, 1.5, 0.5 -> floors 1,1,1,0 leftover 2 to units with rem
     * 500 (ties, earliest first): both units of item 0 */
    cr_assert_eq(stk_spread(5, w, cnt, 3, out, tmp), 0);
    cr_assert_eq(out[0], 4);
    cr_assert_eq(out[1], 1);
    cr_assert_eq(out[2], 0);
}

/* ------------------------------------------------------------ JSON glue ---- */

Test(rewards, json_receipt_through_the_ctx) {
    eh_receipt rc;
    eh_receipt_init(&rc, "unused", "2026-06-05T10:00");
    eval("campaign d10 { then discount 10% on lines where category \"dairy\" }\n", &rc);
    char buf[512 + PROMO_JSON_PADDING];
    memset(buf, ' ', sizeof buf);
    const char *line =
        "{\"id\":\"r1\",\"time\":\"2026-06-05T10:15:00\",\"lines\":[{\"sku\":\"1001\","
        "\"category\":\"dairy/milk\",\"qty\":2,\"price\":89.90}]}";
    memcpy(buf, line, strlen(line));
    const promo_receipt *r = NULL;
    promo_str id;
    cr_assert_eq(promo_receipt_parse_json(env.c, buf, strlen(line), &r, &id), PROMO_OK, "%s",
                 promo_ctx_errmsg(env.c));
    cr_assert_eq(id.n, 2);
    const promo_result *res;
    cr_assert_eq(promo_eval(env.c, r, &res), PROMO_OK);
    cr_assert_eq(res->total, 17980);
    cr_assert_eq(res->discount, 1798);

    const char *bad = "{\"id\":\"r2\",\"time\":\"2026-06-05T10:15:00\",\"lines\":[{\"sku\":\"1\","
                      "\"qty\":1,\"price\":\"x\"}]}";
    memset(buf, ' ', sizeof buf);
    memcpy(buf, bad, strlen(bad));
    cr_assert_eq(promo_receipt_parse_json(env.c, buf, strlen(bad), &r, &id), PROMO_EINPUT);
    cr_assert_eq(id.n, 2);
    cr_assert(strstr(promo_ctx_errmsg(env.c), "lines[0].price") != NULL, "%s",
              promo_ctx_errmsg(env.c));
}

/* ------------------------------------------- findings of the differential test ---- */

Test(rewards, price_fact_of_an_undiscounted_weight_line_is_its_price) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line(&rc, "111", "fruit", 567, 9999); /* 56.69: 56.69 / 0.567 would be 99.98 */
    const promo_result *res =
        eval("campaign c1 { then discount 10% on lines where price >= 99.99 }\n", &rc);
    cr_assert_eq(res->lines[0].amount, 5669);
    cr_assert_eq(res->lines[0].discount, 567);
}

Test(rewards, partial_budget_spread_ties_go_to_the_earlier_line) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line(&rc, "a", "x", 2982, 4550); /* 135.68, unit 45.4997 */
    eh_line(&rc, "b", "x", 1476, 4550); /* 67.16, unit 45.5014 */
    eh_line(&rc, "p", "x", 1000, 10000);
    /* one group [p b a]: b and a free, 45.50 each; 0.01 left: a tie, to line 0 */
    const promo_result *res =
        eval("campaign f9 { then buy 1 get 2 free on lines\n budget 0.01 partial }\n", &rc);
    cr_assert_eq(res->lines[0].discount, 1);
    cr_assert_eq(res->lines[1].discount, 0);
    cr_assert_eq(res->discount, 1);
}
