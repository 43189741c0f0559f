/*
 * test_stacking.c — priority, compatibility and blocking (SPEC 3.3), prefilters and
 * --explain outcomes, evaluated end to end with hand-computed amounts.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "civil.h"
#include "eval_helpers.h"
#include "opcodes.h"

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

TestSuite(stacking, .fini = fini);

static const char *id_of(const promo_result *res, uint32_t campaign) {
    return promo_bundle_campaign_id(res->bundle, campaign);
}

/* Two lines: 0 = dairy 100.00, 1 = bread 50.00, on Friday 2026-06-05 10:00. */
static void basket(eh_receipt *rc) {
    eh_receipt_init(rc, "r", "2026-06-05T10:00");
    eh_line(rc, "1", "dairy/milk", 1000, 10000);
    eh_line(rc, "2", "bread", 1000, 5000);
}

Test(stacking, combine_none_blocks_the_next_campaign) {
    eh_receipt rc;
    basket(&rc);
    const promo_result *res =
        eval("group g1\ngroup g2\n"
             "campaign a { priority 2\n group g1\n combine none\n"
             "  then discount 10% on lines }\n"
             "campaign b { priority 1\n group g2\n then discount 5% on lines }\n",
             &rc);
    cr_assert_eq(res->lines[0].discount, 1000);
    cr_assert_eq(res->lines[1].discount, 500);
    cr_assert_eq(eh_by(res, 0, "b"), 0);
    cr_assert_eq(eh_applied(res, "b"), -1);
    const promo_explain *x = eh_explain(res, "b");
    cr_assert_eq(x->outcome, PROMO_OUT_BLOCKED);
    cr_assert_str_eq(id_of(res, x->other), "a");
}

Test(stacking, combine_with_both_ways_stacks) {
    eh_receipt rc;
    basket(&rc);
    const promo_result *res = eval("group g1\ngroup g2\n"
                                   "campaign a { priority 2\n group g1\n combine with g2\n"
                                   "  then discount 10% on lines }\n"
                                   "campaign b { priority 1\n group g2\n combine with g1\n"
                                   "  then discount 5% on lines }\n",
                                   &rc);
    /* b sees the amounts after a: 5% of 90.00 = 4.50, 5% of 45.00 = 2.25 */
    cr_assert_eq(eh_by(res, 0, "a"), 1000);
    cr_assert_eq(eh_by(res, 0, "b"), 450);
    cr_assert_eq(eh_by(res, 1, "b"), 225);
    cr_assert_eq(res->discount, 1000 + 500 + 450 + 225);
    cr_assert_eq(res->napplied, 2);
    /* by entries in evaluation order */
    cr_assert_str_eq(id_of(res, res->by[res->lines[0].by_off].campaign), "a");
    cr_assert_str_eq(id_of(res, res->by[res->lines[0].by_off + 1].campaign), "b");
}

Test(stacking, one_sided_acceptance_is_incompatible) {
    eh_receipt rc;
    basket(&rc);
    const promo_result *res = eval("group g1\ngroup g2\n"
                                   "campaign a { priority 2\n group g1\n combine with g2\n"
                                   "  then discount 10% on lines }\n"
                                   "campaign b { priority 1\n group g2\n combine none\n"
                                   "  then discount 5% on lines }\n",
                                   &rc);
    cr_assert_eq(res->discount, 1500);
    cr_assert_eq(eh_explain(res, "b")->outcome, PROMO_OUT_BLOCKED);

    eh_env_free(&env);
    res = eval("group g1\ngroup g2\ngroup g3\n"
               "campaign a { priority 2\n group g1\n then discount 10% on lines }\n"
               "campaign b { priority 1\n group g2\n combine with g3\n"
               "  then discount 5% on lines }\n",
               &rc);
    cr_assert_eq(res->discount, 1500);
    cr_assert_eq(eh_applied(res, "b"), -1);
}

Test(stacking, line_level_blocking_with_partial_targets) {
    eh_receipt rc;
    basket(&rc);
    const promo_result *res = eval("campaign a { priority 2\n combine none\n"
                                   "  then discount 10% on lines where category \"dairy\" }\n"
                                   "campaign b { priority 1\n then discount 20% on lines }\n",
                                   &rc);
    /* a acted on line 0 only: b drops line 0 and acts on line 1 */
    cr_assert_eq(eh_by(res, 0, "a"), 1000);
    cr_assert_eq(eh_by(res, 0, "b"), 0);
    cr_assert_eq(eh_by(res, 1, "b"), 1000);
    cr_assert_eq(eh_applied(res, "b"), 1);
    cr_assert_eq(res->lines[0].by_cnt, 1);
}

Test(stacking, blocked_line_still_counts_in_conditions) {
    eh_receipt rc;
    basket(&rc);
    /* b's condition reads the whole current receipt (90.00 + 50.00 = 140.00) even though
     * line 0 is blocked for it */
    const promo_result *res =
        eval("campaign a { priority 2\n combine none\n"
             "  then discount 10% on lines where category \"dairy\" }\n"
             "campaign b { priority 1\n when total >= 140\n then discount 10 on lines }\n",
             &rc);
    cr_assert_eq(eh_by(res, 1, "b"), 1000);
    cr_assert_eq(eh_by(res, 0, "b"), 0);
}

Test(stacking, receipt_level_reward_blocked_by_any_incompatible_applied) {
    eh_receipt rc;
    basket(&rc);
    const promo_result *res =
        eval("campaign a { priority 2\n combine none\n"
             "  then discount 10% on lines where category \"dairy\" }\n"
             "campaign b { priority 1\n then points 5% of paid; coupon \"X\" }\n"
             "campaign c { then points 10% of paid on lines }\n",
             &rc);
    /* b is receipt-level: blocked altogether although line 1 was untouched */
    cr_assert_eq(eh_points(res, "b"), 0);
    cr_assert_eq(res->ncoupons, 0);
    cr_assert_eq(eh_explain(res, "b")->outcome, PROMO_OUT_BLOCKED);
    /* c is line-level: points on line 1 only (10% of 50.00) */
    cr_assert_eq(eh_points(res, "c"), 500);
}

Test(stacking, receipt_level_reward_acts_on_every_line) {
    eh_receipt rc;
    basket(&rc);
    const promo_result *res =
        eval("campaign a { priority 2\n combine none\n then message \"hi\" }\n"
             "campaign b { priority 1\n then discount 10% on lines }\n",
             &rc);
    cr_assert_eq(res->nmessages, 1);
    cr_assert_eq(res->discount, 0);
    cr_assert_eq(eh_explain(res, "b")->outcome, PROMO_OUT_BLOCKED);
}

Test(stacking, spend_limit_neither_blocks_nor_is_blocked) {
    eh_receipt rc;
    basket(&rc);
    const promo_result *res =
        eval("campaign a { priority 3\n combine none\n then spend_limit 20% }\n"
             "campaign b { priority 2\n combine none\n"
             "  then discount 10% on lines }\n"
             "campaign c { priority 1\n then points 1% of paid }\n",
             &rc);
    cr_assert_eq(res->has_spend_limit, 1);
    cr_assert_eq(res->spend_limit, 3000); /* 20% of 150.00, before b */
    cr_assert_eq(res->discount, 1500);    /* a does not block b */
    cr_assert_eq(eh_points(res, "c"), 0); /* b blocks c */
    cr_assert_eq(res->napplied, 2);
    cr_assert_str_eq(id_of(res, res->applied[0]), "a");
    cr_assert_str_eq(id_of(res, res->applied[1]), "b");

    eh_env_free(&env);
    res = eval("campaign b { priority 2\n combine none\n then discount 10% on lines }\n"
               "campaign s { priority 1\n combine none\n then spend_limit 50% }\n",
               &rc);
    cr_assert_eq(res->spend_limit, 6750); /* 50% of 135.00 */
}

Test(stacking, a_campaign_never_blocks_itself) {
    eh_receipt rc;
    basket(&rc);
    const promo_result *res =
        eval("campaign a { combine none\n then discount 10% on lines; points 10% of paid }\n", &rc);
    cr_assert_eq(res->discount, 1500);
    cr_assert_eq(eh_points(res, "a"), 1350);
}

Test(stacking, stop_ends_evaluation_including_equal_priority) {
    eh_receipt rc;
    basket(&rc);
    const promo_result *res = eval("campaign a { priority 5\n stop\n then discount 10% on lines }\n"
                                   "campaign b { priority 5\n then discount 10% on lines }\n"
                                   "campaign c { priority 1\n then points 10 }\n",
                                   &rc);
    cr_assert_eq(res->discount, 1500);
    cr_assert_eq(res->napplied, 1);
    const promo_explain *x = eh_explain(res, "b");
    cr_assert_eq(x->outcome, PROMO_OUT_STOPPED);
    cr_assert_str_eq(id_of(res, x->other), "a");
    cr_assert_eq(eh_explain(res, "c")->outcome, PROMO_OUT_STOPPED);
}

Test(stacking, stop_that_does_not_apply_stops_nothing) {
    eh_receipt rc;
    basket(&rc);
    const promo_result *res = eval("campaign a { priority 5\n stop\n when total > 1000\n"
                                   "  then discount 10% on lines }\n"
                                   "campaign b { priority 1\n then discount 10% on lines }\n",
                                   &rc);
    cr_assert_eq(res->discount, 1500);
    cr_assert_eq(eh_applied(res, "b"), 0);
}

Test(stacking, equal_priorities_ordered_by_id) {
    eh_receipt rc;
    basket(&rc);
    const promo_result *res =
        eval("campaign ab { then discount 10% on lines }\n"
             "campaign aa { then discount 10 on lines where category \"dairy\" }\n",
             &rc);
    /* aa first: 100.00 - 10.00 = 90.00; then ab: 9.00 on line 0, 5.00 on line 1 */
    cr_assert_str_eq(id_of(res, res->applied[0]), "aa");
    cr_assert_str_eq(id_of(res, res->applied[1]), "ab");
    cr_assert_eq(eh_by(res, 0, "aa"), 1000);
    cr_assert_eq(eh_by(res, 0, "ab"), 900);
    cr_assert_eq(eh_by(res, 1, "ab"), 500);
}

Test(stacking, excluded_lines_count_in_conditions_but_get_nothing) {
    eh_receipt rc;
    basket(&rc);
    eh_line_full(&rc, "t", "tobacco", NULL, 1000, 40000, 1);
    const promo_result *res = eval("campaign a { when sum(lines) >= 550\n"
                                   "  then discount 10% on lines; points 1% of paid }\n",
                                   &rc);
    cr_assert_eq(res->lines[2].discount, 0);
    cr_assert_eq(res->lines[2].by_cnt, 0);
    cr_assert_eq(res->discount, 1500);
    cr_assert_eq(eh_points(res, "a"), 135); /* 1% of 135.00: the excluded line earns none */
}

Test(stacking, conditions_see_the_current_receipt) {
    eh_receipt rc;
    basket(&rc);
    const promo_result *res =
        eval("campaign a { priority 2\n then discount 50% on lines }\n"
             "campaign b { priority 1\n when total >= 100\n then points 10 }\n"
             "campaign c { when original_total >= 150 and"
             " sum(lines where category \"dairy\") == 50\n then points 1 }\n",
             &rc);
    const promo_explain *x = eh_explain(res, "b");
    cr_assert_eq(x->outcome, PROMO_OUT_NOT_APPLICABLE);
    cr_assert_str_eq(x->part, "total >= 100");
    cr_assert_eq(eh_points(res, "c"), 100);
}

Test(stacking, explain_names_the_false_part_of_when) {
    eh_receipt rc;
    basket(&rc);
    const promo_result *res =
        eval("campaign a { when count(lines) >= 2 and any(lines where category \"meat\")\n"
             "  then points 1 }\n",
             &rc);
    const promo_explain *x = eh_explain(res, "a");
    cr_assert_eq(x->outcome, PROMO_OUT_NOT_APPLICABLE);
    cr_assert_str_eq(x->part, "any(lines where category \"meat\")");
}

Test(stacking, nothing_to_give) {
    eh_receipt rc;
    basket(&rc);
    const promo_result *res =
        eval("campaign a { then discount 10% on lines where sku \"zzz\" }\n", &rc);
    cr_assert_eq(eh_explain(res, "a")->outcome, PROMO_OUT_NOTHING);
    cr_assert_eq(res->nexplain, 1);
}

/* ------------------------------------------------------------- prefilters ---- */

static const char *part_for(const char *clauses, const eh_receipt *rc) {
    char src[512];
    snprintf(src, sizeof src, "campaign a { %s\n then points 1 }\n", clauses);
    const promo_result *res = eval(src, rc);
    const promo_explain *x = eh_explain(res, "a");
    const char *p = x->outcome == PROMO_OUT_APPLIED ? "applied" : x->part;
    static char buf[64];
    snprintf(buf, sizeof buf, "%s", p ? p : "?");
    eh_env_free(&env);
    return buf;
}

Test(stacking, prefilter_parts) {
    eh_receipt rc;
    basket(&rc); /* Friday 10:00, store 101, pos, no customer */
    cr_assert_str_eq(part_for("active 2026-06-06 .. 2026-06-30", &rc), "active");
    cr_assert_str_eq(part_for("active 2026-06-01 .. 2026-06-05", &rc), "applied");
    cr_assert_str_eq(part_for("days sat .. sun", &rc), "days");
    cr_assert_str_eq(part_for("days thu .. fri", &rc), "applied");
    cr_assert_str_eq(part_for("hours 10:01 .. 18:00", &rc), "hours");
    cr_assert_str_eq(part_for("hours 09:00 .. 10:00", &rc), "hours"); /* [start, end) */
    cr_assert_str_eq(part_for("hours 10:00 .. 10:01", &rc), "applied");
    cr_assert_str_eq(part_for("stores 102, region \"spb\"", &rc), "stores");
    cr_assert_str_eq(part_for("stores 101", &rc), "applied");
    cr_assert_str_eq(part_for("channel online", &rc), "channel");
    cr_assert_str_eq(part_for("card \"zabota\"", &rc), "card");
    cr_assert_str_eq(part_for("segment \"pensioner\"", &rc), "segment");
    cr_assert_str_eq(part_for("code \"SUMMER\"", &rc), "code");
    rc.r.region = eh_str("msk");
    rc.r.store = eh_str("555");
    cr_assert_str_eq(part_for("stores 102, region \"msk\"", &rc), "applied");
    eh_code(&rc, "SUMMER");
    cr_assert_str_eq(part_for("code \"WINTER\", \"SUMMER\"", &rc), "applied");
    eh_segment(&rc, "student");
    eh_segment(&rc, "pensioner");
    cr_assert_str_eq(part_for("segment \"pensioner\"", &rc), "applied");
    rc.cust.card = eh_str("zabota");
    cr_assert_str_eq(part_for("card \"zabota\"", &rc), "applied");
    rc.r.channel = PROMO_CHANNEL_ONLINE;
    cr_assert_str_eq(part_for("channel online", &rc), "applied");
}

Test(stacking, overnight_hours_belong_to_the_starting_day) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-06T01:30"); /* Saturday 01:30 */
    eh_line(&rc, "1", "x", 1000, 1000);
    cr_assert_str_eq(part_for("days fri\n hours 22:00 .. 02:00", &rc), "applied");
    eh_receipt_init(&rc, "r", "2026-06-05T01:30"); /* Friday 01:30: Thursday's night */
    eh_line(&rc, "1", "x", 1000, 1000);
    cr_assert_str_eq(part_for("days fri\n hours 22:00 .. 02:00", &rc), "days");
    eh_receipt_init(&rc, "r", "2026-06-05T23:00"); /* Friday 23:00 */
    eh_line(&rc, "1", "x", 1000, 1000);
    cr_assert_str_eq(part_for("days fri\n hours 22:00 .. 02:00", &rc), "applied");
    eh_receipt_init(&rc, "r", "2026-06-05T03:00");
    eh_line(&rc, "1", "x", 1000, 1000);
    cr_assert_str_eq(part_for("days fri\n hours 22:00 .. 02:00", &rc), "hours");
}

Test(stacking, missing_customer_facts_are_false) {
    eh_receipt rc;
    basket(&rc);
    const promo_result *res =
        eval("campaign a { when customer.tier != \"gold\"\n then points 1 }\n"
             "campaign b { when not (customer.tier == \"gold\")\n then points 2 }\n",
             &rc);
    cr_assert_eq(eh_applied(res, "a"), -1);
    cr_assert_eq(eh_points(res, "b"), 200);
}

Test(stacking, attributes_strings_and_numbers) {
    eh_receipt rc;
    basket(&rc);
    eh_attr(&rc, "weather", "rain");
    eh_attr(&rc, "temp", "25.5");
    const promo_result *res =
        eval("campaign a { when attr \"weather\" == \"rain\"\n then points 1 }\n"
             "campaign b { when attr \"temp\" > 25\n then points 2 }\n"
             "campaign c { when attr \"temp\" > 26\n then points 3 }\n"
             "campaign d { when attr \"nope\" == \"x\"\n then points 4 }\n",
             &rc);
    cr_assert_eq(eh_points(res, "a"), 100);
    cr_assert_eq(eh_points(res, "b"), 200);
    cr_assert_eq(eh_points(res, "c"), 0);
    cr_assert_eq(eh_points(res, "d"), 0);
}

Test(stacking, birthday_within_wraps_years) {
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2027-01-02T10:00");
    eh_line(&rc, "1", "x", 1000, 1000);
    eh_customer(&rc, "c1");
    rc.cust.has_birthday = 1;
    rc.cust.birthday = eh_date("1960-12-30"); /* 3 days before, across the new year */
    const promo_result *res =
        eval("campaign a { when customer.birthday within 3 days\n then points 1 }\n"
             "campaign b { when customer.birthday within 2 days\n then points 2 }\n",
             &rc);
    cr_assert_eq(eh_points(res, "a"), 100);
    cr_assert_eq(eh_points(res, "b"), 0);
}

Test(stacking, distinct_and_count_aggregates) {
    eh_receipt rc;
    basket(&rc);
    eh_line(&rc, "1", "dairy/milk", 2500, 100); /* same sku again, 2.5 units */
    const promo_result *res = eval("campaign a { when distinct(lines) == 2\n then points 1 }\n"
                                   "campaign b { when count(lines) == 4.5\n then points 2 }\n",
                                   &rc);
    cr_assert_eq(eh_points(res, "a"), 100);
    cr_assert_eq(eh_points(res, "b"), 200);
}

/* --------------------------------------------------------- tiebreak benefit ---- */

Test(stacking, tiebreak_benefit_puts_the_greater_benefit_first) {
    eh_receipt rc;
    basket(&rc);
    static const char *rules = "campaign a { combine none\n then discount 5% on lines }\n"
                               "campaign b { combine none\n"
                               "  then discount 10 on lines where category \"dairy\" }\n";
    char src[512];
    /* without the declaration: a (id order) first; b is blocked on its only line */
    const promo_result *res = eval(rules, &rc);
    cr_assert_eq(eh_by(res, 0, "a"), 500);
    cr_assert_eq(eh_by(res, 1, "a"), 250);
    cr_assert_eq(eh_explain(res, "b")->outcome, PROMO_OUT_BLOCKED);
    eh_env_free(&env);
    /* with it: b gives 10.00 as if first, a 7.50: b goes first, a keeps line 1 */
    snprintf(src, sizeof src, "tiebreak benefit\n%s", rules);
    res = eval(src, &rc);
    cr_assert_eq(eh_by(res, 0, "b"), 1000);
    cr_assert_eq(eh_by(res, 0, "a"), 0);
    cr_assert_eq(eh_by(res, 1, "a"), 250);
    cr_assert_str_eq(id_of(res, res->applied[0]), "b");
    cr_assert_str_eq(id_of(res, res->applied[1]), "a");
    cr_assert_eq(res->nexplain, 2);
}

Test(stacking, tiebreak_benefit_keeps_compatible_campaigns_in_id_order) {
    eh_receipt rc;
    basket(&rc);
    const promo_result *res =
        eval("tiebreak benefit\n"
             "campaign a { then discount 5% on lines }\n"
             "campaign b { then discount 10 on lines where category \"dairy\" }\n",
             &rc);
    /* compatible: a first (5.00, 2.50), then b on 95.00 */
    cr_assert_str_eq(id_of(res, res->applied[0]), "a");
    cr_assert_eq(eh_by(res, 0, "a"), 500);
    cr_assert_eq(eh_by(res, 0, "b"), 1000);
}

/* A partial budget that cuts one of a campaign's points entries to 0: that entry's lines
 * were not acted on (SPEC 3.3 rule 5), so a later incompatible campaign may take them.
 * Both evaluation paths (with and without --explain) must agree. */
Test(stacking, points_entry_cut_to_zero_does_not_block_its_lines) {
    static const char src[] =
        "campaign a { priority 2\n"
        "  then points 10% of paid on lines where category \"dairy\"; "
        "points 1% of paid on lines where category \"bread\"\n"
        "  budget 5.00 partial }\n"
        "campaign b { priority 1\n combine none\n then discount 50% on lines }\n";
    for (unsigned flags = 0; flags <= PROMO_CTX_EXPLAIN; flags += PROMO_CTX_EXPLAIN) {
        eh_receipt rc;
        eh_receipt_init(&rc, "r", "2026-06-05T10:00");
        eh_line(&rc, "1", "dairy/milk", 1000, 10000); /* 10% -> 10.00 points */
        eh_line(&rc, "2", "bread", 1000, 100);        /* 1% -> 0.01 points */
        cr_assert_eq(eh_env_init(&env, src, flags), 0);
        const promo_result *res = NULL;
        cr_assert_eq(promo_eval(env.c, &rc.r, &res), PROMO_OK);
        /* 5.00 over 10.00 + 0.01 by largest remainder: 5.00 and 0.00 */
        cr_assert_eq(res->npoints, 1, "flags %u", flags);
        cr_assert_eq(eh_points(res, "a"), 500);
        /* b is blocked on the dairy line only: 50% of 1.00 on the bread line */
        cr_assert_eq(eh_applied(res, "b"), 1, "flags %u", flags);
        cr_assert_eq(eh_by(res, 0, "b"), 0);
        cr_assert_eq(eh_by(res, 1, "b"), 50);
        cr_assert_eq(res->discount, 50);
        eh_env_free(&env);
    }
}

/* The calendar's range, 0001-01-01 .. 9999-12-31, for the receipt's date (and a
 * birthday): the first and last day are valid, the days outside are refused. */
Test(stacking, receipt_date_range_is_the_calendar) {
    const char *src = "campaign c { priority 1\n then discount 1% on receipt }\n";
    cr_assert_eq(eh_env_init(&env, src, 0), 0);
    int32_t days[4] = {civil_days(1, 1, 1), civil_days(9999, 12, 31), civil_days(1, 1, 1) - 1,
                       civil_days(9999, 12, 31) + 1};
    for (int k = 0; k < 4; k++) {
        eh_receipt rc;
        eh_receipt_init(&rc, "r", "2026-06-05T10:00");
        eh_line(&rc, "1", "a", 1000, 10000);
        rc.r.date = days[k];
        const promo_result *res = NULL;
        promo_status st = promo_eval(env.c, &rc.r, &res);
        cr_assert_eq(st, k < 2 ? PROMO_OK : PROMO_EINPUT, "day %d", days[k]);
        if (k < 2) cr_assert_eq(res->discount, 100);
    }
}

/* The '/'s of a category are found 16 bytes at a time, the tail by loads that end at
 * the string's end (8 or 16 bytes): a '/' at any byte of paths of 6 to 38 bytes (byte by
 * byte, two 8-byte loads, 16-byte blocks and their tail), and paths of exactly 16 and 17
 * '/'s (the last short path, the first deep one), still give every prefix. */
Test(stacking, category_prefixes_at_every_slash_position) {
    for (int l = 2; l <= 34; l++) {
        char cat[200], top[64], two[80];
        memset(top, 'x', (size_t)l);
        top[l] = 0;
        snprintf(two, sizeof two, "%s/b", top);
        snprintf(cat, sizeof cat, "%s/b/c", top);
        char src[600];
        snprintf(
            src, sizeof src,
            "campaign one { priority 3\n then discount 1%% on lines where category \"%s\" }\n"
            "campaign two { priority 2\n then discount 2%% on lines where category \"%s\" }\n"
            "campaign no { priority 1\n then discount 4%% on lines where category \"%.*s\" }\n",
            top, two, l - 1, top);
        eh_receipt rc;
        eh_receipt_init(&rc, "r", "2026-06-05T10:00");
        eh_line(&rc, "1", cat, 1000, 10000);
        const promo_result *res = eval(src, &rc);
        cr_assert_eq(eh_by(res, 0, "one"), 100, "first '/' at byte %d", l);
        cr_assert_eq(eh_by(res, 0, "two"), 198, "first '/' at byte %d", l);
        cr_assert_eq(eh_by(res, 0, "no"), 0, "first '/' at byte %d", l);
        eh_env_free(&env);
    }
    for (int nslash = 15; nslash <= 18; nslash++) {
        char cat[200] = "a", pre[200] = "a";
        for (int i = 1; i <= nslash; i++) {
            snprintf(cat + strlen(cat), sizeof cat - strlen(cat), "/%c", 'a' + i);
            if (i < nslash) snprintf(pre + strlen(pre), sizeof pre - strlen(pre), "/%c", 'a' + i);
        }
        char src[800];
        snprintf(
            src, sizeof src,
            "campaign whole { priority 2\n then discount 1%% on lines where category \"%s\" }\n"
            "campaign pre { priority 1\n then discount 2%% on lines where category \"%s\" }\n",
            cat, pre);
        eh_receipt rc;
        eh_receipt_init(&rc, "r", "2026-06-05T10:00");
        eh_line(&rc, "1", cat, 1000, 10000);
        const promo_result *res = eval(src, &rc);
        cr_assert_eq(eh_by(res, 0, "whole"), 100, "%d slashes", nslash);
        cr_assert_eq(eh_by(res, 0, "pre"), 198, "%d slashes", nslash);
        eh_env_free(&env);
    }
}

/* issue 10.5: a category with more than 16 components takes the one-pass path: every
 * '/'-prefix still matches, exactly as for a short path (and 500,000 components are
 * linear work, no longer 15 s of prefix hashing). */
Test(stacking, deep_category_paths_match_every_prefix) {
    char deep[400] = "a";
    for (int i = 1; i < 30; i++)
        snprintf(deep + strlen(deep), sizeof deep - strlen(deep), "/c%d", i);
    /* the prefix with 18 components, inside the deep part */
    char mid[200] = "a";
    for (int i = 1; i < 18; i++)
        snprintf(mid + strlen(mid), sizeof mid - strlen(mid), "/c%d", i);
    char src[1200];
    snprintf(src, sizeof src,
             "campaign top { priority 3\n then discount 1%% on lines where category \"a\" }\n"
             "campaign mid { priority 2\n then discount 2%% on lines where category \"%s\" }\n"
             "campaign all { priority 1\n then discount 3%% on lines where category \"%s\" }\n"
             "campaign no { priority 0\n then discount 4%% on lines where category \"a/c2\" }\n",
             mid, deep);
    eh_receipt rc;
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line(&rc, "1", deep, 1000, 10000);
    const promo_result *res = eval(src, &rc);
    cr_assert_eq(eh_by(res, 0, "top"), 100);
    cr_assert_eq(eh_by(res, 0, "mid"), 198);
    cr_assert_eq(eh_by(res, 0, "all"), 291);
    cr_assert_eq(eh_by(res, 0, "no"), 0);
    eh_env_free(&env);

    size_t n = 500000;
    char *huge = malloc(n * 8 + 2);
    size_t len = (size_t)sprintf(huge, "a");
    for (size_t i = 1; i < n; i++)
        len += (size_t)sprintf(huge + len, "/c%zu", i % 10);
    eh_receipt_init(&rc, "r", "2026-06-05T10:00");
    eh_line(&rc, "1", huge, 1000, 10000);
    res = eval(src, &rc);
    cr_assert_eq(eh_by(res, 0, "top"), 100);
    cr_assert_eq(eh_by(res, 0, "all"), 0);
    free(huge);
}

/* `when total >= X` (and `>`, and the mirrored forms) compiles to R_TOTAL_GE, and a `when`
 * of that alone is tested by the engine without the VM (prefilter.h when_total): it reads
 * the current total (140.00 after a's discount, the original being 150.00), at the
 * boundary to the kopeck, the same with the fast path, under --explain (the VM, naming the
 * part) and with PROMO_CTX_PLAIN (the VM), and the same as the unfused `total + 0 >= X`. */
static const char when_total_src[] =
    "campaign a { priority 20\n then discount 10% on lines where category \"dairy\" }\n"
    "campaign ge { priority 19\n when total >= 140\n then points 1 }\n"
    "campaign ge_no { priority 18\n when total >= 140.01\n then points 2 }\n"
    "campaign gt { priority 17\n when total > 139.99\n then points 4 }\n"
    "campaign gt_no { priority 16\n when total > 140\n then points 8 }\n"
    "campaign le { priority 15\n when 140 <= total\n then points 16 }\n"
    "campaign lt_no { priority 14\n when 140 < total\n then points 32 }\n"
    "campaign orig_no { priority 13\n when total >= 150\n then points 64 }\n"
    "campaign ge0 { priority 12\n when total + 0 >= 140\n then points 128 }\n"
    "campaign orig0_no { priority 11\n when total + 0 >= 150\n then points 256 }\n"
    "campaign and2 { priority 10\n when total >= 140 and total < 141\n then points 512 }\n";

static int64_t when_total_points(unsigned flags) {
    eh_receipt rc;
    basket(&rc);
    eh_env e;
    cr_assert_eq(eh_env_init(&e, when_total_src, flags), 0);
    const promo_result *res = NULL;
    cr_assert_eq(promo_eval(e.c, &rc.r, &res), PROMO_OK, "%s", promo_ctx_errmsg(e.c));
    cr_assert_eq(res->discount, 1000);
    int64_t p = 0;
    for (uint32_t i = 0; i < res->npoints; i++)
        p += res->points[i].points;
    if (flags & PROMO_CTX_EXPLAIN) {
        const promo_explain *x = eh_explain(res, "orig_no");
        cr_assert_eq(x->outcome, PROMO_OUT_NOT_APPLICABLE);
        cr_assert_str_eq(x->part, "total >= 150");
    }
    eh_env_free(&e);
    return p;
}

Test(stacking, when_total_fast_path_is_the_comparison_of_the_current_total) {
    int64_t want = (1 + 4 + 16 + 128 + 512) * 100; /* points in kopecks */
    cr_assert_eq(when_total_points(0), want);
    cr_assert_eq(when_total_points(PROMO_CTX_EXPLAIN), want);
    cr_assert_eq(when_total_points(PROMO_CTX_PLAIN), want);
}

/* A comparison with a number literal in a `when` compiles to EQ_I .. GE_I (the literal on
 * either side; format 5): each fused campaign applies exactly when its unfused twin
 * (`... OP 2 + 0`, PUSH_I; ADD; OP) does and when the comparison holds in C, at the
 * boundary and on either side of it, and an ABSENT number (a missing numeric attribute)
 * makes every comparison false, `!=` included. */
static const char *const cmp_ops[] = {"==", "!=", "<", "<=", ">", ">="};

static int cmp_holds(int op, int64_t a, int64_t b) {
    switch (op) {
    case 0: return a == b;
    case 1: return a != b;
    case 2: return a < b;
    case 3: return a <= b;
    case 4: return a > b;
    default: return a >= b;
    }
}

Test(stacking, when_compare_with_a_literal_is_the_comparison) {
    char src[8192];
    size_t len = 0;
    /* r<op>: count on the left; l<op>: the literal on the left; u<op>: unfused; a<op>: an
     * attribute, ABSENT on some receipts */
    for (int op = 0; op < 6; op++) {
        len += (size_t)snprintf(src + len, sizeof src - len,
                                "campaign r%d { when count(lines where category \"dairy\") %s 2"
                                " then points 1 }\n"
                                "campaign l%d { when 2 %s count(lines where category \"dairy\")"
                                " then points 1 }\n"
                                "campaign u%d { when count(lines where category \"dairy\") %s 2 + 0"
                                " then points 1 }\n"
                                "campaign a%d { when attr \"n\" %s 5 then points 1 }\n",
                                op, cmp_ops[op], op, cmp_ops[op], op, cmp_ops[op], op, cmp_ops[op]);
        cr_assert_lt(len, sizeof src);
    }
    eh_env e;
    cr_assert_eq(eh_env_init(&e, src, 0), 0, "%s", src);
    /* the fused forms are there: one OPF_CMP_I instruction per r/l/a campaign */
    uint32_t fused = 0, unfused_cmp = 0;
    for (uint32_t i = 0; i < e.b->ncampaigns; i++) {
        const pb_block *bl = &e.b->blocks[e.b->campaigns[i].cond_block];
        const char *id = promo_bundle_campaign_id(e.b, i);
        for (uint32_t k = 0; k < bl->len; k++) {
            uint32_t op = INSN_OP(e.b->code[bl->start + k]);
            if (op_info(op)->facts & OPF_CMP_I) {
                fused++;
                cr_assert_neq(id[0], 'u', "%s is fused", id);
                /* the literal on the left: the mirrored comparison */
                static const int mirror[] = {0, 1, 4, 5, 2, 3};
                int want = id[0] == 'l' ? mirror[id[1] - '0'] : id[1] - '0';
                cr_assert_eq(op_cmp_of(op), OP_EQ + want, "%s", id);
            } else if (op >= OP_EQ && op <= OP_GE) {
                unfused_cmp++;
            }
        }
    }
    cr_assert_eq(fused, 18);
    cr_assert_eq(unfused_cmp, 6);
    for (int64_t units = 0; units <= 4; units++)
        for (int attr = 0; attr < 3; attr++) {
            eh_receipt rc;
            eh_receipt_init(&rc, "r", "2026-06-05T10:00");
            eh_line(&rc, "1", "bakery", 1000, 5000);
            for (int64_t u = 0; u < units; u++)
                eh_line(&rc, "2", "dairy/milk", 1000, 10000);
            if (attr == 1) eh_attr(&rc, "n", "5");
            if (attr == 2) eh_attr(&rc, "n", "4.999");
            const promo_result *res = NULL;
            cr_assert_eq(promo_eval(e.c, &rc.r, &res), PROMO_OK, "%s", promo_ctx_errmsg(e.c));
            for (int op = 0; op < 6; op++) {
                char id[8];
                int want = cmp_holds(op, units, 2), mirrored = cmp_holds(op, 2, units);
                snprintf(id, sizeof id, "r%d", op);
                cr_assert_eq(eh_applied(res, id) >= 0, want, "count %lld %s 2", (long long)units,
                             cmp_ops[op]);
                snprintf(id, sizeof id, "u%d", op);
                cr_assert_eq(eh_applied(res, id) >= 0, want, "count %lld %s 2 + 0",
                             (long long)units, cmp_ops[op]);
                snprintf(id, sizeof id, "l%d", op);
                cr_assert_eq(eh_applied(res, id) >= 0, mirrored, "2 %s count %lld", cmp_ops[op],
                             (long long)units);
                snprintf(id, sizeof id, "a%d", op);
                int wa = attr == 0 ? 0 : cmp_holds(op, attr == 1 ? 5000 : 4999, 5000);
                cr_assert_eq(eh_applied(res, id) >= 0, wa, "attr %s %s 5", attr ? "set" : "absent",
                             cmp_ops[op]);
            }
        }
    eh_env_free(&e);
}
