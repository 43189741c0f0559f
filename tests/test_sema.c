/*
 * test_sema.c — the checks stage (compiler/sema.c): every diagnostic it reports, with
 * exact positions and messages, and the result codegen consumes (evaluation order,
 * group table, accept lists, typed literal values).
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "civil.h"
#include "compile.h"
#include "compile_helpers.h"
#include "sema.h"
#include "xalloc.h"

#define EXPECT_DIAGS(src, expected)                                                                \
    do {                                                                                           \
        char *got_ = check_src(src);                                                               \
        cr_assert_str_eq(got_, expected, "source:\n%s\ngot:\n%s", src, got_);                      \
        free(got_);                                                                                \
    } while (0)

/* E006: an identifier that is neither a set nor a member; did-you-mean by edit distance */
Test(sema_diag, e006_unknown_name) {
    EXPECT_DIAGS("set dairy = category \"dairy\"\n"
                 "campaign c {\n"
                 "    then discount 10% on lines where diary\n"
                 "}\n",
                 "t.rule:1:5: W004: set 'dairy' is never used\n"
                 "t.rule:3:38: E006: unknown name 'diary' (did you mean 'dairy'?)\n");
}

/* E007: a `group` clause must name a declared group */
Test(sema_diag, e007_unknown_group) {
    EXPECT_DIAGS("group discounts\n"
                 "campaign c {\n"
                 "    group discount\n"
                 "    then coupon \"X\"\n"
                 "}\n",
                 "t.rule:1:7: W004: group 'discounts' is never used\n"
                 "t.rule:3:11: E007: unknown group 'discount' (did you mean 'discounts'?)\n");
}

/* E007: `combine with` takes groups or campaign ids (a = campaign a's own group) */
Test(sema_diag, e007_unknown_group_in_combine) {
    EXPECT_DIAGS("campaign a { then coupon \"A\" }\n"
                 "campaign b {\n"
                 "    combine with a, nosuch\n"
                 "    then coupon \"B\"\n"
                 "}\n",
                 "t.rule:3:21: E007: unknown group 'nosuch' in combine with\n");
}

/* E008: type errors name both types */
Test(sema_diag, e008_types) {
    EXPECT_DIAGS(
        "set s = sku\n"
        "campaign c1 {\n"
        "    when total\n"
        "    then coupon \"A\"\n"
        "}\n"
        "campaign c2 {\n"
        "    when total > \"500\"\n"
        "    then coupon \"B\"\n"
        "}\n"
        "campaign c3 {\n"
        "    when total * total > 5\n"
        "    then coupon \"C\"\n"
        "}\n"
        "campaign c4 {\n"
        "    when payment == pos\n"
        "    then coupon \"D\"\n"
        "}\n"
        "campaign c5 {\n"
        "    when total + 5% > 10\n"
        "    then coupon \"E\"\n"
        "}\n"
        "campaign c6 {\n"
        "    when total > 100 and 3\n"
        "    then coupon \"F\"\n"
        "}\n"
        "campaign c7 {\n"
        "    when weekday in sat\n"
        "    then coupon \"G\"\n"
        "}\n"
        "campaign c8 {\n"
        "    then discount 5% on lines where s\n"
        "}\n"
        "campaign c9 {\n"
        "    when region < \"m\"\n"
        "    then coupon \"I\"\n"
        "}\n",
        "t.rule:1:9: E008: set 's' must be a line condition: expected bool, found string\n"
        "t.rule:3:10: E008: expected bool, found money\n"
        "t.rule:7:10: E008: cannot compare money with string\n"
        "t.rule:11:10: E008: cannot multiply money by money\n"
        "t.rule:15:21: E008: expected payment, found channel\n"
        "t.rule:19:10: E008: '+' needs two money or two number operands, found money and percent\n"
        "t.rule:23:26: E008: expected bool, found number literal\n"
        "t.rule:27:21: E008: 'in' needs a list [...]\n"
        "t.rule:34:10: E008: cannot order string values with '<'\n");
}

/* E009: line facts and sets only inside predicates */
Test(sema_diag, e009_line_fact_outside_predicate) {
    EXPECT_DIAGS("set milk = category \"milk\"\n"
                 "campaign c {\n"
                 "    when sku == \"1\"\n"
                 "    then coupon \"A\"\n"
                 "}\n"
                 "campaign d {\n"
                 "    when milk\n"
                 "    then coupon \"B\"\n"
                 "}\n",
                 "t.rule:3:10: E009: line fact 'sku' outside a line predicate (use it in 'lines "
                 "where' or a set)\n"
                 "t.rule:7:10: E009: set 'milk' used outside a line predicate (use it in 'lines "
                 "where' or an aggregate)\n");
}

/* E010: active range upside down */
Test(sema_diag, e010_inverted_active) {
    EXPECT_DIAGS("campaign c {\n"
                 "    active 2026-08-31 .. 2026-06-01\n"
                 "    then coupon \"A\"\n"
                 "}\n",
                 "t.rule:2:12: E010: inverted date range: 2026-08-31 is after 2026-06-01\n");
}

/* E011: reward and spend_limit percents must lie in (0, 100] */
Test(sema_diag, e011_percent_range) {
    EXPECT_DIAGS(
        "campaign c {\n"
        "    then discount 0% on receipt; discount 150% on receipt; points 100.5% of paid\n"
        "}\n"
        "campaign d {\n"
        "    then buy 1 get 1 at 0% off on lines; spend_limit 120%\n"
        "}\n",
        "t.rule:2:19: E011: percent 0% outside (0, 100]\n"
        "t.rule:2:43: E011: percent 150% outside (0, 100]\n"
        "t.rule:2:67: E011: percent 100.5% outside (0, 100]\n"
        "t.rule:5:25: E011: percent 0% outside (0, 100]\n"
        "t.rule:5:54: E011: percent 120% outside (0, 100]\n");
}

/* E012: literals that do not fit the type their context gives them */
Test(sema_diag, e012_literal_fit) {
    EXPECT_DIAGS("campaign c {\n"
                 "    priority 3000000000\n"
                 "    when sum(lines) >= 89.905 and count(lines) > 1.2345 and store == 1.5\n"
                 "    then discount 10.5555% on receipt\n"
                 "}\n",
                 "t.rule:2:14: E012: priority 3000000000 is out of range\n"
                 "t.rule:3:24: E012: '89.905' does not fit money (at most 2 decimals)\n"
                 "t.rule:3:50: E012: '1.2345' does not fit number (at most 3 decimals)\n"
                 "t.rule:3:70: E012: store id '1.5' must be a whole number\n"
                 "t.rule:4:19: E012: '10.5555%' does not fit percent (at most 3 decimals)\n");
}

/* E014: a campaign needs a reward */
Test(sema_diag, e014_no_then) {
    EXPECT_DIAGS("campaign empty {\n"
                 "    priority 5\n"
                 "}\n",
                 "t.rule:1:10: E014: campaign 'empty' has no 'then' clause\n");
}

/* E015: clauses other than `when` and `example` come once */
Test(sema_diag, e015_clause_twice) {
    EXPECT_DIAGS("campaign c {\n"
                 "    priority 1\n"
                 "    priority 2\n"
                 "    then coupon \"A\"\n"
                 "    then coupon \"B\"\n"
                 "}\n",
                 "t.rule:3:5: E015: clause 'priority' given twice\n"
                 "t.rule:2:5: note: first given here\n"
                 "t.rule:5:5: E015: clause 'then' given twice\n"
                 "t.rule:4:5: note: first given here\n");
}

/* E016: limit per receipt only counts groups/units */
Test(sema_diag, e016_limit_per_receipt) {
    EXPECT_DIAGS("campaign c {\n"
                 "    then discount 10% on lines\n"
                 "    limit 2 per receipt\n"
                 "}\n",
                 "t.rule:3:5: E016: 'limit per receipt' counts only buy, bundle and 'discount ... "
                 "each' rewards, not 'discount %'\n");
}

/* E017: hours A .. A is empty (and 24:00 cannot start a range, E003) */
Test(sema_diag, e017_empty_hours) {
    EXPECT_DIAGS("campaign c {\n"
                 "    hours 09:00 .. 09:00, 24:00 .. 10:00\n"
                 "    then coupon \"A\"\n"
                 "}\n",
                 "t.rule:2:11: E017: empty hour range 09:00 .. 09:00 (use 00:00 .. 24:00 for the "
                 "whole day)\n"
                 "t.rule:2:27: E003: 24:00 can only end an hour range\n");
}

/* E018: enumeration members, bare or quoted */
Test(sema_diag, e018_unknown_member) {
    EXPECT_DIAGS("campaign c {\n"
                 "    channel web\n"
                 "    when payment != \"credt\" and weekday in [sat, \"sunday\"]\n"
                 "    then coupon \"A\"\n"
                 "}\n",
                 "t.rule:2:13: E018: unknown channel 'web' (expected one of: pos, online)\n"
                 "t.rule:3:21: E018: unknown payment 'credt' (did you mean 'credit'?)\n"
                 "t.rule:3:50: E018: unknown weekday 'sunday' (did you mean 'sun'?)\n");
}

/* E019: one name, one set (one group) */
Test(sema_diag, e019_defined_twice) {
    EXPECT_DIAGS("set a = sku \"1\"\n"
                 "set a = sku \"2\"\n"
                 "group g, g\n"
                 "campaign c {\n"
                 "    group g\n"
                 "    then discount 5% on lines where a\n"
                 "}\n",
                 "t.rule:2:5: E019: set 'a' defined twice\n"
                 "t.rule:1:5: note: first defined here\n"
                 "t.rule:3:10: E019: group 'g' declared twice\n"
                 "t.rule:3:7: note: first declared here\n");
}

/* E020: sets must not refer to themselves, directly or not */
Test(sema_diag, e020_set_cycle) {
    EXPECT_DIAGS("set a = b or sku \"1\"\n"
                 "set b = category \"x\" and a\n"
                 "campaign c { then discount 5% on lines where a }\n",
                 "t.rule:2:26: E020: set 'a' is defined in terms of itself (a -> b -> a)\n");
}

/* E021: aggregates and history read the whole receipt, not one line */
Test(sema_diag, e021_aggregate_in_predicate) {
    EXPECT_DIAGS(
        "set big = sum(lines) > 100\n"
        "campaign c { then discount 5% on lines where big or history.visits(30 days) > 2 }\n",
        "t.rule:1:11: E021: aggregate 'sum(...)' inside a line predicate\n"
        "t.rule:2:53: E021: 'history.visits(...)' inside a line predicate\n");
}

/* E022: counts of buy/get/bundle/limit are at least 1; coupon text is not empty */
Test(sema_diag, e022_reward_parameters) {
    EXPECT_DIAGS("campaign c {\n"
                 "    then buy 0 get 1 free on lines; buy 2 get 0 at 50% off on lines; bundle 0 "
                 "for 100 on lines\n"
                 "    limit 0 per receipt\n"
                 "}\n"
                 "campaign d { then coupon \"\" }\n",
                 "t.rule:2:14: E022: the 'buy' count must be at least 1\n"
                 "t.rule:2:47: E022: the 'get' count must be at least 1\n"
                 "t.rule:2:77: E022: the bundle size must be at least 1\n"
                 "t.rule:3:11: E022: the limit must be at least 1\n"
                 "t.rule:5:19: E022: coupon text is empty\n");
}

/* E023: a catch-all step must come last */
Test(sema_diag, e023_spend_limit_scale) {
    EXPECT_DIAGS("campaign c {\n"
                 "    then spend_limit 30%, 40% if total < 2000\n"
                 "}\n",
                 "t.rule:2:27: E023: step after the catch-all step can never be used\n");
}

/* E024: example blocks are validated (the runner is `promo test`) */
Test(sema_diag, e024_examples) {
    EXPECT_DIAGS("campaign c {\n"
                 "    then discount 10% on lines\n"
                 "    example \"no price\" {\n"
                 "        line sku \"1\" qty 1\n"
                 "        expect discount 0\n"
                 "    }\n"
                 "    example \"nothing expected\" {\n"
                 "        store 101\n"
                 "    }\n"
                 "    example \"bad ref\" {\n"
                 "        line sku \"1\" qty 1 price 10\n"
                 "        expect applied cc\n"
                 "        expect points 5 activate 2026-06-10 expire 2026-06-01\n"
                 "    }\n"
                 "}\n",
                 "t.rule:4:9: E024: example line needs 'sku', 'qty' and 'price' (missing 'price')\n"
                 "t.rule:7:5: E024: example 'nothing expected' has no 'expect'\n"
                 "t.rule:12:24: E024: unknown campaign 'cc' (did you mean 'c'?)\n"
                 "t.rule:13:52: E024: points expire before they activate\n");
}

/* W001: equal priority, overlapping lines (category matches hierarchically) */
Test(sema_diag, w001_equal_priority) {
    EXPECT_DIAGS("campaign a {\n"
                 "    priority 10\n"
                 "    then discount 5% on lines where category \"dairy\"\n"
                 "}\n"
                 "campaign b {\n"
                 "    priority 10\n"
                 "    then discount 7% on lines where category \"dairy/milk\"\n"
                 "}\n"
                 "campaign c {\n"
                 "    priority 10\n"
                 "    then discount 7% on lines where brand \"x\" and category \"bakery\"\n"
                 "}\n"
                 "campaign d {\n"
                 "    priority 10\n"
                 "    channel online\n"
                 "    then discount 1% on lines\n"
                 "}\n",
                 "t.rule:6:14: W001: campaigns 'a' and 'b' have equal priority 10 and may touch "
                 "the same lines; 'a' goes first by id\n"
                 "t.rule:1:10: note: 'a' defined here\n"
                 "t.rule:14:14: W001: campaigns 'c' and 'd' have equal priority 10 and may touch "
                 "the same lines; 'c' goes first by id\n"
                 "t.rule:9:10: note: 'c' defined here\n");
}

/* W001 stays quiet when prefilters or sku/category/brand literals cannot overlap */
Test(sema_diag, w001_disjoint_prefilters) {
    EXPECT_DIAGS("campaign a {\n"
                 "    days mon .. fri\n"
                 "    channel pos\n"
                 "    then discount 5% on lines\n"
                 "}\n"
                 "campaign b {\n"
                 "    days sat, sun\n"
                 "    channel pos\n"
                 "    then discount 5% on lines\n"
                 "}\n"
                 "campaign c {\n"
                 "    active 2025-01-01 .. 2025-01-31\n"
                 "    channel online\n"
                 "    then discount 5% on lines where sku in [\"1\", \"2\"]\n"
                 "}\n"
                 "campaign d {\n"
                 "    active 2025-01-01 .. 2025-01-31\n"
                 "    channel online\n"
                 "    then discount 5% on lines where sku \"3\" or sku \"4\"\n"
                 "}\n"
                 "campaign e {\n"
                 "    active 2025-02-01 .. 2025-02-28\n"
                 "    channel online\n"
                 "    stores 1, 2\n"
                 "    then points 5% of paid\n"
                 "}\n"
                 "campaign f {\n"
                 "    then spend_limit 10%\n"
                 "}\n"
                 "campaign g {\n"
                 "    active 2025-02-01 .. 2025-02-28\n"
                 "    channel online\n"
                 "    stores \"3\"\n"
                 "    then coupon \"G\"\n"
                 "}\n",
                 "");
}

/* W001: an overnight window reaches into the next day (sun 22:00 .. mon 02:00 meets mon) */
Test(sema_diag, w001_overnight_hours) {
    EXPECT_DIAGS("campaign a {\n"
                 "    days mon .. fri\n"
                 "    then discount 5% on lines\n"
                 "}\n"
                 "campaign b {\n"
                 "    days sun\n"
                 "    hours 22:00 .. 02:00\n"
                 "    then discount 5% on lines\n"
                 "}\n",
                 "t.rule:5:10: W001: campaigns 'a' and 'b' have equal priority 0 and may touch the "
                 "same lines; 'a' goes first by id\n"
                 "t.rule:1:10: note: 'a' defined here\n");
}

/* W002: an unconditional stop campaign shadows everything after it */
Test(sema_diag, w002_never_applies) {
    EXPECT_DIAGS("campaign first {\n"
                 "    priority 100\n"
                 "    stop\n"
                 "    then coupon \"ALWAYS\"\n"
                 "}\n"
                 "campaign later {\n"
                 "    then discount 5% on lines\n"
                 "}\n",
                 "t.rule:6:10: W002: campaign 'later' can never apply: 'first' comes first, always "
                 "applies and stops\n"
                 "t.rule:3:5: note: 'first' stops here\n");
}

/* W004: declarations nobody uses */
Test(sema_diag, w004_unused) {
    EXPECT_DIAGS("set s = sku \"1\"\n"
                 "group g\n"
                 "campaign c { then coupon \"A\" }\n",
                 "t.rule:1:5: W004: set 's' is never used\n"
                 "t.rule:2:7: W004: group 'g' is never used\n");
}

/* E008: attributes, negation, date-times, lists, `in`, mixed lists, percent arithmetic */
Test(sema_diag, e008_more_types) {
    EXPECT_DIAGS("campaign c1 {\n"
                 "    when attr \"a\" == attr \"b\"\n"
                 "    then coupon \"A\"\n"
                 "}\n"
                 "campaign c2 {\n"
                 "    when attr \"a\" > total\n"
                 "    then coupon \"B\"\n"
                 "}\n"
                 "campaign c3 {\n"
                 "    when -region == \"x\"\n"
                 "    then coupon \"C\"\n"
                 "}\n"
                 "campaign c4 {\n"
                 "    when date == 2026-06-01T10:00\n"
                 "    then coupon \"D\"\n"
                 "}\n"
                 "campaign c5 {\n"
                 "    when [1, 2]\n"
                 "    then coupon \"E\"\n"
                 "}\n"
                 "campaign c6 {\n"
                 "    when any(lines) in [1]\n"
                 "    then coupon \"F\"\n"
                 "}\n"
                 "campaign c7 {\n"
                 "    when attr \"z\" in [1, \"a\"]\n"
                 "    then coupon \"G\"\n"
                 "}\n"
                 "campaign c8 {\n"
                 "    when total * 5% > 1\n"
                 "    then coupon \"H\"\n"
                 "}\n"
                 "campaign c9 {\n"
                 "    when foo > 1 or not total\n"
                 "    then coupon \"I\"\n"
                 "}\n",
                 "t.rule:2:10: E008: cannot compare an attribute with an attribute\n"
                 "t.rule:6:21: E008: an attribute compares with a string or a number, found money\n"
                 "t.rule:10:10: E008: cannot negate string\n"
                 "t.rule:14:18: E008: a date and time belongs in an example; conditions compare "
                 "'date' and 'time' separately\n"
                 "t.rule:18:10: E008: a list can only follow 'in'\n"
                 "t.rule:22:10: E008: 'in' needs a value on its left, found bool\n"
                 "t.rule:26:26: E008: expected number, found string\n"
                 "t.rule:30:10: E008: '*' needs money or number operands, found money and percent\n"
                 "t.rule:34:10: E006: unknown name 'foo'\n"
                 "t.rule:34:25: E008: expected bool, found money\n");
}

/* E009: spend_limit conditions read the receipt, not a line */
Test(sema_diag, e009_spend_limit_step) {
    EXPECT_DIAGS("campaign c {\n"
                 "    then spend_limit 10% if sku == \"1\", 20%\n"
                 "}\n",
                 "t.rule:2:29: E009: line fact 'sku' outside a line predicate (use it in 'lines "
                 "where' or a set)\n");
}

/* E024: a prior receipt (`history`) holds receipt items only */
Test(sema_diag, e024_history_items) {
    EXPECT_DIAGS(
        "campaign c {\n"
        "    then coupon \"A\"\n"
        "    example \"h\" {\n"
        "        history 2026-06-01T10:00 { expect total 5 history 2026-05-01T10:00 { } }\n"
        "        expect coupon \"A\"\n"
        "    }\n"
        "}\n",
        "t.rule:4:36: E024: 'expect' belongs to the example, not to a 'history' receipt\n"
        "t.rule:4:51: E024: 'history' cannot nest inside 'history'\n");
}

/* E012: fixed points have 2 decimals; a history window is at least a day */
Test(sema_diag, e012_points_and_window) {
    EXPECT_DIAGS("campaign c {\n"
                 "    when history.visits(0 days) > 1\n"
                 "    then points 1.234\n"
                 "}\n",
                 "t.rule:2:25: E012: a history window must be at least 1 day\n"
                 "t.rule:3:17: E012: '1.234' does not fit points (at most 2 decimals)\n");
}

/* E005: campaign ids are unique across files; files are taken in bytewise path order,
 * so the error lands in b.rule even though b.rule was added first. */
Test(sema_diag, e005_duplicate_campaign_across_files) {
    const char *paths[] = {"b.rule", "a.rule"};
    const char *texts[] = {"campaign dup { then coupon \"B\" }\n",
                           "\n  campaign dup { then coupon \"A\" }\n"};
    char *got = check_srcs(2, paths, texts, INT32_MIN);
    cr_assert_str_eq(got,
                     "b.rule:1:10: E005: duplicate campaign id 'dup'\n"
                     "a.rule:2:12: note: first defined here\n",
                     "got:\n%s", got);
    free(got);
}

/* W003: only with opts.today; the caret is on the last day. */
Test(sema_diag, w003_expired) {
    const char *path = "t.rule";
    const char *src = "campaign old {\n"
                      "    active 2025-01-01 .. 2025-01-31\n"
                      "    then coupon \"A\"\n"
                      "}\n"
                      "campaign current {\n"
                      "    priority 1\n"
                      "    active 2025-01-01 .. 2026-01-01\n"
                      "    then message \"B\"\n"
                      "}\n";
    char *got = check_srcs(1, &path, &src, civil_days(2026, 1, 1));
    cr_assert_str_eq(got,
                     "t.rule:2:26: W003: campaign 'old' already expired (its last day was "
                     "2025-01-31)\n",
                     "got:\n%s", got);
    free(got);
    got = check_srcs(1, &path, &src, INT32_MIN);
    cr_assert_str_eq(got, "", "W003 is off without today; got:\n%s", got);
    free(got);
}

/* ---- E013: the grammar has no minus before a money literal, so the checks stage is
 * fed a hand-built tree (UN_NEG over NUM), as a future grammar or a fuzzer could. */

static src_span at(const char *text, const char *needle, int nth) {
    const char *p = text - 1;
    for (int i = 0; i <= nth; i++)
        p = strstr(p + 1, needle);
    cr_assert(p != NULL, "needle %s", needle);
    src_span sp = {0, 1, 1, (uint32_t)(p - text), (uint32_t)strlen(needle)};
    for (const char *q = text; q < p; q++) {
        if (*q == '\n') {
            sp.line++;
            sp.col = 1;
        } else {
            sp.col++;
        }
    }
    return sp;
}

static ast_node *neg_money(compilation *c, const char *text, const char *lit, int nth) {
    ast_node *num = ast_new(c->arena, AST_NUM, at(text, lit + 1, nth));
    num->ival = strtoll(lit + 1, NULL, 10);
    ast_node *neg = ast_new(c->arena, AST_UNOP, at(text, lit, nth));
    neg->op = UN_NEG;
    neg->a = num;
    return neg;
}

Test(sema_diag, e013_negative_money) {
    const char *text = "campaign c {\n"
                       "    budget -5\n"
                       "    then discount -3 on receipt; points -1\n"
                       "}\n";
    compilation c;
    compile_opts opts = {INT32_MIN, 0};
    comp_init(&c, &opts);
    comp_add_source(&c, "t.rule", text, strlen(text));
    ast_node *file = ast_new(c.arena, AST_FILE, (src_span){0, 1, 1, 0, (uint32_t)strlen(text)});
    ast_node *camp = ast_new(c.arena, AST_CAMPAIGN, at(text, "c", 2));
    camp->str = "c";
    file->a = camp;
    ast_node *budget = ast_new(c.arena, AST_C_BUDGET, at(text, "budget -5", 0));
    budget->a = neg_money(&c, text, "-5", 0);
    ast_node *then = ast_new(c.arena, AST_C_THEN, at(text, "then", 0));
    ast_node *disc = ast_new(c.arena, AST_REWARD, at(text, "discount -3 on receipt", 0));
    disc->op = REWARD_DISCOUNT_AMOUNT;
    disc->a = neg_money(&c, text, "-3", 0);
    disc->c = ast_new(c.arena, AST_TARGET, at(text, "receipt", 0));
    disc->c->op = TARGET_RECEIPT;
    ast_node *pts = ast_new(c.arena, AST_REWARD, at(text, "points -1", 0));
    pts->op = REWARD_POINTS_FIXED;
    pts->a = neg_money(&c, text, "-1", 0);
    pts->d1 = pts->d2 = -1;
    disc->next = pts;
    then->a = disc;
    camp->a = budget;
    budget->next = then;
    c.trees = xcalloc(1, sizeof *c.trees);
    c.trees[0] = file;

    cr_assert_eq(sema_check(&c), 3);
    char *got = diags_compact(&c);
    cr_assert_str_eq(got,
                     "t.rule:2:12: E013: negative money -5 in budget\n"
                     "t.rule:3:19: E013: negative money -3 in discount\n"
                     "t.rule:3:41: E013: negative money -1 in points\n",
                     "got:\n%s", got);
    free(got);
    comp_free(&c);
}

/* ---- a complete, valid campaign set ---- */

static const char full_set[] =
    "# every clause, reward, fact and example item, and no diagnostic at all\n"
    "tiebreak benefit\n"
    "set dairy  = category \"dairy\"\n"
    "set coffee = brand in [\"Jacobs\", \"Nescafe\"] and not sku in [\"1001\"]\n"
    "set heavy  = qty * 2 >= 1.5 and price < original_price and amount > 10 and not excluded\n"
    "group discounts, points_g\n"
    "\n"
    "campaign dairy_10 \"Dairy: 10% off from 500\" {\n"
    "    priority 100\n"
    "    group    discounts\n"
    "    combine  with points_g, base_1\n"
    "    active   2026-06-01 .. 2026-08-31\n"
    "    days     mon .. fri, sun\n"
    "    hours    09:00 .. 18:00, 22:00 .. 02:00\n"
    "    stores   101, 102, region \"msk\"\n"
    "    channel  pos, \"online\"\n"
    "    card     \"zabota\"\n"
    "    segment  \"pensioner\"\n"
    "    code     \"SUMMER\"\n"
    "    when     customer.segment \"pensioner\" and sum(lines where dairy) >= 500\n"
    "    when     payment != credit and weekday in [mon, \"tue\"] and channel == online\n"
    "    then     discount 10% on lines where dairy\n"
    "    limit    1 per customer per day\n"
    "    budget   100000 partial\n"
    "    example \"pensioner buys 600 of dairy\" {\n"
    "        customer { segments [\"pensioner\"] id \"c1\" card \"zabota\" tier \"gold\"\n"
    "                   birthday 1950-06-07 registered attr \"age\" 76 }\n"
    "        store 101  channel pos  time 2026-06-05T10:00  payment card  points_paid 0\n"
    "        code \"SUMMER\"  attr \"weather\" \"rain\"  region \"msk\"\n"
    "        line sku \"1\" category \"dairy/milk\" brand \"Prost\" qty 2 price 300\n"
    "        line sku \"2\" qty 1.5 price 89.90 excluded\n"
    "        history 2026-06-01T10:00 { line sku \"1\" qty 1 price 10 }\n"
    "        expect discount 60 on \"1\"\n"
    "        expect discount 60\n"
    "        expect points 0 from base_1 activate 2026-06-19 expire 2026-09-17\n"
    "        expect applied dairy_10\n"
    "        expect not applied coffee_deal\n"
    "        expect total 734.85  expect final 674.85  expect spend_limit none\n"
    "        expect coupon \"NEXT10\"  expect message \"hi\"  expect spend_limit 220.50\n"
    "    }\n"
    "}\n"
    "\n"
    "campaign coffee_deal {\n"
    "    priority 50\n"
    "    group points_g\n"
    "    combine none\n"
    "    then buy 2 get 1 free on lines where coffee; buy 1 get 1 at 50% off on lines where "
    "sku \"9\";\n"
    "         bundle 3 for 999 on lines where coffee; discount 50 each on lines where heavy\n"
    "    limit 2 per receipt\n"
    "}\n"
    "\n"
    "campaign alpha {\n"
    "    priority 50\n"
    "    stop\n"
    "    then spend_limit 30% if total < 2000, 40% if total < 10000, 55%\n"
    "}\n"
    "\n"
    "campaign base_1 {\n"
    "    priority -5\n"
    "    combine any\n"
    "    when history.sum(lines where dairy, 30 days) > 1000 or history.count(lines, 2 weeks) "
    ">= 3\n"
    "    when history.visits(7 days) > 1 or customer.birthday within 3 days or "
    "customer.registered\n"
    "    when customer.tier == \"gold\" or customer.card == \"zabota\" or card \"zabota\"\n"
    "    when customer.attr \"age\" > 60 or attr \"weather\" == \"rain\" or customer.id != \"x\"\n"
    "    when code \"A\" or region == \"msk\" or store in [101, \"s2\"] or store == 101\n"
    "    when time >= 09:00 and date >= 2026-06-01 and original_total - total > 10.5\n"
    "    when total * 2 > 100 and -total < 0 and count(lines where heavy) >= 1.5\n"
    "    when any(lines where sku \"1\" or brand \"B\") and distinct(lines) > 2 and 2 * 3 < 7\n"
    "    when attr \"temp\" in [1, 2.5] and receipt.total > 0 and any(lines where line_total_ok)\n"
    "    then points 5% of paid activate in 14 days expire in 90 days; points 100;\n"
    "         price 99.90 on lines where sku \"5\"; discount 300 on receipt;\n"
    "         discount 5% on receipt; message \"hi\"; coupon \"NEXT10\";\n"
    "         points 2.5% of paid on lines where dairy\n"
    "}\n";

static const char full_set_sets[] = "set line_total_ok = line.amount > 0 and receipt.total > 0\n";

Test(sema_result, full_valid_set) {
    compilation c;
    compile_opts opts = {INT32_MIN, 0};
    comp_init(&c, &opts);
    comp_add_source(&c, "set.rule", full_set, strlen(full_set));
    comp_add_source(&c, "sets.rule", full_set_sets, strlen(full_set_sets));
    size_t errors = comp_check(&c);
    char *got = diags_compact(&c);
    cr_assert_eq(errors, 0, "diagnostics:\n%s", got);
    cr_assert_str_eq(got, "", "a valid set gives no diagnostic at all");
    free(got);

    const sema_result *r = sema_get(&c);
    cr_assert_not_null(r);
    cr_assert_eq(r->tiebreak_benefit, 1);

    /* groups: declared + one implicit per campaign without `group`, bytewise sorted */
    cr_assert_eq(r->ngroups, 4);
    cr_assert_str_eq(r->groups[0], "alpha");
    cr_assert_str_eq(r->groups[1], "base_1");
    cr_assert_str_eq(r->groups[2], "discounts");
    cr_assert_str_eq(r->groups[3], "points_g");

    /* evaluation order: priority desc, then id bytewise */
    cr_assert_eq(r->ncampaigns, 4);
    const char *order[] = {"dairy_10", "alpha", "coffee_deal", "base_1"};
    const int prio[] = {100, 50, 50, -5};
    for (int i = 0; i < 4; i++) {
        cr_assert_str_eq(r->campaigns[i].id, order[i]);
        cr_assert_eq(r->campaigns[i].priority, prio[i]);
    }
    const sema_campaign *d = &r->campaigns[0], *a = &r->campaigns[1], *cf = &r->campaigns[2],
                        *b = &r->campaigns[3];
    cr_assert_eq(d->group, 2);
    cr_assert_eq(a->group, 0);
    cr_assert_eq(cf->group, 3);
    cr_assert_eq(b->group, 1);
    /* combine with points_g, base_1 -> campaign base_1 stands for its own group */
    cr_assert_eq(d->accept_mode, PB_ACCEPT_LIST);
    cr_assert_eq(d->naccept, 2);
    cr_assert_eq(d->accept[0], 1);
    cr_assert_eq(d->accept[1], 3);
    cr_assert_eq(cf->accept_mode, PB_ACCEPT_NONE);
    cr_assert_eq(a->accept_mode, PB_ACCEPT_ANY);
    cr_assert_eq(b->accept_mode, PB_ACCEPT_ANY);
    cr_assert_not_null(a->stop);
    cr_assert_null(d->stop);

    /* clauses picked up */
    cr_assert_not_null(d->active);
    cr_assert_not_null(d->days);
    cr_assert_not_null(d->hours);
    cr_assert_not_null(d->stores);
    cr_assert_not_null(d->channel);
    cr_assert_not_null(d->card);
    cr_assert_not_null(d->segment);
    cr_assert_not_null(d->code);
    cr_assert_not_null(d->limit_customer);
    cr_assert_null(d->limit_receipt);
    cr_assert_not_null(cf->limit_receipt);
    cr_assert_not_null(d->budget);
    cr_assert_eq(d->budget->a->type, TY_MONEY);
    cr_assert_eq(d->budget->a->value, 10000000); /* kopecks */

    /* two `when`s are joined by `and` */
    cr_assert_not_null(d->when_expr);
    cr_assert_eq(d->when_expr->kind, AST_BINOP);
    cr_assert_eq(d->when_expr->op, BIN_AND);
    cr_assert_eq(d->when_expr->type, TY_BOOL);
    /* sum(lines where dairy) >= 500: the literal became money */
    const ast_node *w1 = d->when_expr->a; /* first when */
    cr_assert_eq(w1->b->kind, AST_BINOP);
    cr_assert_eq(w1->b->b->type, TY_MONEY);
    cr_assert_eq(w1->b->b->value, 50000);
    cr_assert_eq(w1->b->a->a->kind, AST_IDENT);
    cr_assert_eq(w1->b->a->a->ref->kind, AST_SET);
    cr_assert_str_eq(w1->b->a->a->ref->str, "dairy");
    /* payment != credit: an enum member with its index */
    const ast_node *w2 = d->when_expr->b;
    const ast_node *pay = w2->a->a;
    cr_assert_eq(pay->op, BIN_NE);
    cr_assert_eq(pay->b->type, TY_PAYMENT);
    cr_assert_eq(pay->b->value, 2);
    /* weekday in [mon, "tue"]: quoted member */
    const ast_node *wd = w2->a->b;
    cr_assert_eq(wd->b->a->next->type, TY_WEEKDAY);
    cr_assert_eq(wd->b->a->next->value, 1);
    /* channel pos, "online" */
    cr_assert_eq(d->channel->a->type, TY_CHANNEL);
    cr_assert_eq(d->channel->a->value, 0);
    cr_assert_eq(d->channel->a->next->value, 1);

    /* reward literals in their typed representation */
    const ast_node *rw = d->then->a;
    cr_assert_eq(rw->a->type, TY_PERCENT);
    cr_assert_eq(rw->a->value, 10000);
    rw = cf->then->a; /* buy 2 get 1 free */
    cr_assert_eq(rw->ival, 2);
    rw = rw->next; /* buy 1 get 1 at 50% off */
    cr_assert_eq(rw->a->value, 50000);
    rw = rw->next; /* bundle 3 for 999 */
    cr_assert_eq(rw->a->type, TY_MONEY);
    cr_assert_eq(rw->a->value, 99900);
    rw = rw->next; /* discount 50 each */
    cr_assert_eq(rw->a->value, 5000);
    const ast_node *steps = a->then->a->a;
    cr_assert_eq(steps->a->value, 30000);
    cr_assert_eq(steps->b->b->type, TY_MONEY);
    cr_assert_eq(steps->b->b->value, 200000);
    cr_assert_null(steps->next->next->b);
    cr_assert_eq(steps->next->next->a->value, 55000);
    rw = b->then->a; /* points 5% of paid */
    cr_assert_eq(rw->a->value, 5000);
    cr_assert_eq(rw->d1, 14);
    cr_assert_eq(rw->d2, 90);
    rw = rw->next; /* points 100 */
    cr_assert_eq(rw->a->type, TY_MONEY);
    cr_assert_eq(rw->a->value, 10000);
    rw = rw->next; /* price 99.90 */
    cr_assert_eq(rw->a->value, 9990);

    comp_free(&c);
}

/* Untyped arithmetic takes its type from the other side: money * number, number. */
Test(sema_result, untyped_literals_follow_context) {
    compilation c;
    size_t errors = comp_src(&c, "campaign c {\n"
                                 "    when total > 2 * 3 and count(lines) >= 1 + 0.5\n"
                                 "    when attr \"temp\" > 20 and attr \"zone\" == \"n\"\n"
                                 "    then coupon \"A\"\n"
                                 "}\n");
    char *got = diags_compact(&c);
    cr_assert_eq(errors, 0, "%s", got);
    free(got);
    const sema_result *r = sema_get(&c);
    const ast_node *w = r->campaigns[0].when_expr;
    const ast_node *money = w->a->a->b; /* 2 * 3 */
    cr_assert_eq(money->type, TY_MONEY);
    cr_assert_eq(money->a->type, TY_MONEY);
    cr_assert_eq(money->a->value, 200);
    cr_assert_eq(money->b->type, TY_NUMBER);
    cr_assert_eq(money->b->value, 3000);
    const ast_node *num = w->a->b->b; /* 1 + 0.5 */
    cr_assert_eq(num->type, TY_NUMBER);
    cr_assert_eq(num->b->value, 500);
    const ast_node *attr_n = w->b->a; /* attr "temp" > 20 */
    cr_assert_eq(attr_n->a->type, TY_ATTR);
    cr_assert_eq(attr_n->b->type, TY_NUMBER);
    cr_assert_eq(attr_n->b->value, 20000);
    const ast_node *attr_s = w->b->b;
    cr_assert_eq(attr_s->b->type, TY_STRING);
    comp_free(&c);
}
