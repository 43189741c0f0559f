/*
 * test_parser.c — stage 2 (grammar/parser.y): the AST built for every construct of
 * docs/language.md, checked through ast_dump (kinds, values, positions), and the
 * syntax errors: exact `file:line:col`, message, caret, notes, and recovery that
 * reports several errors per file.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "compile.h"
#include "parse.h"
#include "strbuf.h"

static compilation comp;
static strbuf out;

static void setup(void) {
    comp_init(&comp, NULL);
    out = (strbuf)STRBUF_INIT;
}

static void teardown(void) {
    sb_free(&out);
    comp_free(&comp);
}

TestSuite(parser, .init = setup, .fini = teardown);

/* Parses `src` as t.rule; returns the tree (or NULL). */
static ast_node *parse_str(const char *src) {
    comp_add_source(&comp, "t.rule", src, strlen(src));
    return parse_source(&comp, (uint32_t)(comp.nfiles - 1));
}

/* The dump of the tree ("(null)" when the parser gave up), then the diagnostics as
 * `promo check` prints them. */
static void check_parse(const char *src, const char *want) {
    ast_node *t = parse_str(src);
    if (t)
        ast_dump(t, 0, &out);
    else
        sb_puts(&out, "(null)\n");
    diag_render_text(&comp.diags, &out, 0);
    cr_expect_str_eq(sb_cstr(&out), want);
}

static ast_node *nth(ast_node *n, int i) {
    while (n && i-- > 0)
        n = n->next;
    cr_assert_not_null(n);
    return n;
}

Test(parser, recovery_reports_each_error) {
    ast_node *t = parse_str("campaign a {\n"
                            "    priority x\n"
                            "    days mon .. funday\n"
                            "    then discount 10% of lines\n"
                            "    stop\n"
                            "}\n");
    cr_assert_not_null(t);
    cr_assert_eq(comp.diags.n, 3);
    cr_expect_eq(comp.diags.nerrors, 3);
    const uint32_t lines[] = {2, 3, 4}, cols[] = {14, 17, 23};
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(comp.diags.items[i].code, DIAG_E004);
        cr_expect_eq(comp.diags.items[i].span.line, lines[i]);
        cr_expect_eq(comp.diags.items[i].span.col, cols[i]);
    }
    cr_expect_str_eq(comp.diags.items[1].msg, "expected a weekday, found identifier 'funday'");
    /* the clause after the errors survives */
    ast_node *camp = t->a;
    cr_expect_eq(camp->kind, AST_CAMPAIGN);
    cr_expect_eq(camp->a->kind, AST_C_STOP);
    cr_expect_null(camp->a->next);
}

Test(parser, spans_cover_whole_constructs) {
    ast_node *t = parse_str("campaign abc \"T\" {\n"
                            "  when total + 1 >= 500\n"
                            "  then discount 10% on lines where sku \"1\"; coupon \"C\"\n"
                            "}\n");
    cr_assert_not_null(t);
    ast_node *camp = t->a;
    /* a campaign points at its id, for "duplicate id" and friends */
    cr_expect_eq(camp->span.line, 1);
    cr_expect_eq(camp->span.col, 10);
    cr_expect_eq(camp->span.len, 3);
    ast_node *when = camp->a;
    cr_expect_eq(when->span.col, 3);
    cr_expect_eq(when->span.len, 21); /* when total + 1 >= 500 */
    ast_node *ge = when->a;
    cr_expect_eq(ge->op, BIN_GE);
    cr_expect_eq(ge->span.col, 8);
    cr_expect_eq(ge->span.len, 16);
    cr_expect_eq(ge->a->op, BIN_ADD);
    cr_expect_eq(ge->a->span.len, 9);
    ast_node *then = camp->a->next;
    ast_node *r0 = then->a;
    cr_expect_eq(r0->span.line, 3);
    cr_expect_eq(r0->span.col, 8);
    cr_expect_eq(r0->span.len, 35); /* discount ... sku "1" */
    cr_expect_eq(r0->c->span.col, 24);
    cr_expect_eq(r0->c->span.len, 19);
    cr_expect_eq(r0->c->a->span.len, 7);
    ast_node *r1 = nth(then->a, 1);
    cr_expect_eq(r1->op, REWARD_COUPON);
    cr_expect_str_eq(r1->str, "C");
    cr_expect_eq(r1->span.col, 45);
}

Test(parser, literal_values_and_fields) {
    ast_node *t =
        parse_str("campaign a {\n"
                  "  priority -7\n"
                  "  budget 1_000.50 partial\n"
                  "  limit 3 per customer per month\n"
                  "  then bundle 3 for 999.99 on receipt;"
                  "       points 2.5% of paid activate in 2 weeks expire in 30 days\n"
                  "  when customer.birthday within 1 week\n"
                  "  example \"e\" { expect points 1 from b activate 2026-01-02 expire 2026-03-04 "
                  "expect not applied b }\n"
                  "}\n");
    cr_assert_not_null(t);
    ast_node *c = t->a->a;
    cr_expect_eq(c->kind, AST_C_PRIORITY);
    cr_expect_eq(c->ival, -7);
    c = c->next;
    cr_expect_eq(c->kind, AST_C_BUDGET);
    cr_expect_eq(c->op, 1);
    cr_expect_eq(c->a->ival, 100050);
    cr_expect_eq(c->a->scale, 2);
    c = c->next;
    cr_expect_eq(c->kind, AST_C_LIMIT);
    cr_expect_eq(c->op, LIMIT_CUSTOMER);
    cr_expect_eq(c->ival, 3);
    cr_expect_eq(c->ival2, PERIOD_MONTH);
    c = c->next;
    ast_node *b = c->a;
    cr_expect_eq(b->op, REWARD_BUNDLE);
    cr_expect_eq(b->ival, 3);
    cr_expect_eq(b->a->ival, 99999);
    cr_expect_eq(b->c->op, TARGET_RECEIPT);
    cr_expect_eq(b->d1, -1);
    cr_expect_eq(b->d2, -1);
    ast_node *p = b->next;
    cr_expect_eq(p->op, REWARD_POINTS_PCT);
    cr_expect_eq(p->a->ival, 25);
    cr_expect_eq(p->a->scale, 1);
    cr_expect_null(p->c);
    cr_expect_eq(p->d1, 14);
    cr_expect_eq(p->d2, 30);
    c = c->next;
    cr_expect_eq(c->a->op, FACT_BIRTHDAY_WITHIN);
    cr_expect_eq(c->a->ival, 7);
    c = c->next;
    ast_node *e = c->a;
    cr_expect_eq(e->op, EXP_POINTS);
    cr_expect_str_eq(e->str, "b");
    cr_expect_eq(e->b->kind, AST_DATE);
    cr_expect_eq(e->c->kind, AST_DATE);
    cr_expect_eq(e->ival, 0);
    cr_expect_eq(e->next->op, EXP_APPLIED);
    cr_expect_eq(e->next->ival, 1);
}

Test(parser, durations_remember_their_unit) {
    ast_node *t = parse_str("set s = history.visits(2 weeks) > 1 and history.visits(3 days) > 1");
    cr_assert_not_null(t);
    ast_node *w = t->a->a->a->a->b, *d = t->a->a->b->a->b;
    cr_expect_eq(w->kind, AST_DURATION);
    cr_expect_eq(w->ival, 14);
    cr_expect_eq(w->ival2, 2);
    cr_expect_eq(w->op, 1);
    cr_expect_eq(d->ival, 3);
    cr_expect_eq(d->ival2, 3);
    cr_expect_eq(d->op, 0);
}

Test(parser, enum_members_and_card) {
    /* `card` is a payment member, a fact short form and a clause keyword. */
    ast_node *t = parse_str("campaign a {\n"
                            "  when payment == card\n"
                            "  card \"zabota\"\n"
                            "  when card \"gold\" and payment in [card, cash, \"credit\"]\n"
                            "  channel online, \"pos\"\n"
                            "}\n");
    cr_assert_not_null(t);
    cr_expect_eq(comp.diags.n, 0);
    ast_node *c = t->a->a;
    cr_expect_eq(c->a->b->kind, AST_IDENT);
    cr_expect_str_eq(c->a->b->str, "card");
    c = c->next;
    cr_expect_eq(c->kind, AST_C_CARD);
    cr_expect_str_eq(c->a->str, "zabota");
    c = c->next;
    cr_expect_eq(c->a->a->kind, AST_FACT);
    cr_expect_eq(c->a->a->op, FACT_CARD_IS);
    cr_expect_str_eq(c->a->a->str, "gold");
    ast_node *list = c->a->b->b;
    cr_expect_eq(list->kind, AST_LIST);
    cr_expect_str_eq(list->a->str, "card");
    cr_expect_eq(list->a->kind, AST_IDENT);
    cr_expect_eq(nth(list->a, 2)->kind, AST_STRING);
    c = c->next;
    cr_expect_eq(c->kind, AST_C_CHANNEL);
    cr_expect_eq(c->a->kind, AST_IDENT);
    cr_expect_eq(c->a->next->kind, AST_IDENT);
    cr_expect_str_eq(c->a->next->str, "pos");
}

Test(parser, amounts_may_carry_a_minus_for_the_checks) {
    /* E013 (negative money) is a check: the parser keeps the sign as UN_NEG. */
    ast_node *t = parse_str("campaign a { budget -5 then discount -1.50 on receipt; points -3 }");
    cr_assert_not_null(t);
    cr_expect_eq(comp.diags.n, 0);
    ast_node *budget = t->a->a;
    cr_expect_eq(budget->a->kind, AST_UNOP);
    cr_expect_eq(budget->a->op, UN_NEG);
    cr_expect_eq(budget->a->a->ival, 5);
    ast_node *r = budget->next->a;
    cr_expect_eq(r->op, REWARD_DISCOUNT_AMOUNT);
    cr_expect_eq(r->a->kind, AST_UNOP);
    cr_expect_eq(r->a->a->ival, 150);
    cr_expect_eq(r->a->span.col, 38);
    cr_expect_eq(r->a->span.len, 5);
    cr_expect_eq(r->next->a->kind, AST_UNOP);
}

Test(parser, long_line_of_strings) {
    /* Many strings on one line: each string's buffer is sized by the string itself. */
    strbuf src = STRBUF_INIT;
    sb_puts(&src, "campaign a { code ");
    for (int i = 0; i < 20000; i++)
        sb_printf(&src, "%s\"c%d\\n\"", i ? ", " : "", i);
    sb_puts(&src, " }");
    ast_node *t = parse_str(sb_cstr(&src));
    sb_free(&src);
    cr_assert_not_null(t);
    ast_node *last = t->a->a->a;
    int n = 1;
    while (last->next)
        last = last->next, n++;
    cr_expect_eq(n, 20000);
    cr_expect_str_eq(last->str, "c19999\n");
}

Test(parser, messages_put_single_tokens_first_and_closers_last) {
    ast_node *t = parse_str("campaign a { then discount 10% on lines where dairy, coupon \"x\" }\n"
                            "campaign b { when sku = \"1\" }\n");
    cr_assert_not_null(t);
    cr_assert_eq(comp.diags.n, 2);
    cr_expect_str_eq(comp.diags.items[0].msg,
                     "expected ';', a clause, an operator or '}', found ','");
    cr_expect_str_eq(comp.diags.items[1].msg,
                     "expected string, a clause, an operator or '}', found '=' "
                     "(to compare, write '==')");
    cr_expect_eq(comp.diags.items[1].span.line, 2);
    cr_expect_eq(comp.diags.items[1].span.col, 23);
}

Test(parser, end_of_file_is_listed_when_expected) {
    ast_node *t = parse_str("set a = 1 2");
    cr_assert_not_null(t);
    cr_assert_eq(comp.diags.n, 1);
    cr_expect_str_eq(comp.diags.items[0].msg,
                     "expected a declaration, an operator or end of file, found integer '2'");
}

Test(parser, comments_collected_by_parse_file) {
    const char *src = "# header\ncampaign a { # open\n stop # why\n}\n";
    comp_add_source(&comp, "t.rule", src, strlen(src));
    parse_comments cm = {0};
    ast_node *t = parse_file(&comp, 0, &cm);
    cr_assert_not_null(t);
    cr_assert_eq(cm.n, 3);
    cr_expect_eq(cm.items[0].span.line, 1);
    cr_expect_eq(cm.items[1].span.line, 2);
    cr_expect_eq(cm.items[1].span.col, 14);
    cr_expect_eq(cm.items[2].span.line, 3);
    cr_expect_eq(cm.items[2].span.len, 5);
    parse_comments_free(&cm);
}

Test(parser, file_node_names_its_file) {
    ast_node *t = parse_str("tiebreak benefit");
    cr_assert_not_null(t);
    cr_expect_eq(t->kind, AST_FILE);
    cr_expect_str_eq(t->str, "t.rule");
    cr_expect_eq(t->ival, 0);
    cr_expect_eq(t->a->kind, AST_TIEBREAK);
}

Test(parser, deep_nesting_does_not_crash) {
    strbuf src = STRBUF_INIT;
    sb_puts(&src, "set a = ");
    for (int i = 0; i < 20000; i++)
        sb_putc(&src, '(');
    sb_puts(&src, "1");
    ast_node *t = parse_str(sb_cstr(&src));
    sb_free(&src);
    cr_expect_null(t);
    cr_assert_eq(comp.diags.n, 1);
    cr_expect_str_eq(comp.diags.items[0].msg, "nested too deeply");
    cr_expect_eq(comp.diags.items[0].code, DIAG_E004);
}

/* ---- whole-construct goldens: the dump, then the rendered diagnostics ---- */

/* The campaign of SPEC section 3 with its example block (SPEC 6). */
Test(parser, spec_example) {
    const char *src =
        "set dairy   = category \"dairy\"                 # line selector\n"
        "set coffee  = brand in [\"Jacobs\", \"Nescafe\"] and not sku in [\"1001\"]\n"
        "\n"
        "group discounts                                 # compatibility groups\n"
        "group points\n"
        "\n"
        "campaign dairy_10 \"Dairy: 10% off from 500\" {\n"
        "    priority 100\n"
        "    group    discounts\n"
        "    combine  with points                        # any | none | with G1, G2 ...\n"
        "    active   2026-06-01 .. 2026-08-31           # inclusive local dates\n"
        "    days     mon .. fri\n"
        "    hours    09:00 .. 18:00                     # [start, end) local time\n"
        "    stores   101, 102, region \"msk\"\n"
        "    channel  pos\n"
        "    when     customer.segment \"pensioner\" and sum(lines where dairy) >= 500\n"
        "    then     discount 10% on lines where dairy\n"
        "    limit    1 per customer per day\n"
        "    budget   100000\n"
        "    example \"pensioner buys 600 of dairy\" {\n"
        "        customer { segments [\"pensioner\"] }\n"
        "        store 101  channel pos  time 2026-06-05T10:00     # a Friday, inside the hours\n"
        "        line sku \"1\" category \"dairy/milk\" qty 2 price 300\n"
        "        expect discount 60 on \"1\"\n"
        "        expect points 0\n"
        "    }\n"
        "}\n";
    const char *want = "FILE @1:1\n"
                       "  SET dairy @1:5\n"
                       "    FACT category_is \"dairy\" @1:15\n"
                       "  SET coffee @2:5\n"
                       "    BINOP and @2:15\n"
                       "      BINOP in @2:15\n"
                       "        FACT brand @2:15\n"
                       "        LIST @2:24\n"
                       "          STRING \"Jacobs\" @2:25\n"
                       "          STRING \"Nescafe\" @2:35\n"
                       "      UNOP not @2:50\n"
                       "        BINOP in @2:54\n"
                       "          FACT sku @2:54\n"
                       "          LIST @2:61\n"
                       "            STRING \"1001\" @2:62\n"
                       "  GROUP discounts @4:7\n"
                       "  GROUP points @5:7\n"
                       "  CAMPAIGN dairy_10 \"Dairy: 10% off from 500\" @7:10\n"
                       "    C_PRIORITY 100 @8:5\n"
                       "    C_GROUP discounts @9:5\n"
                       "    C_COMBINE with @10:5\n"
                       "      IDENT points @10:19\n"
                       "    C_ACTIVE @11:5\n"
                       "      DATE 2026-06-01 @11:14\n"
                       "      DATE 2026-08-31 @11:28\n"
                       "    C_DAYS @12:5\n"
                       "      DAYRANGE mon..fri @12:14\n"
                       "    C_HOURS @13:5\n"
                       "      TIMERANGE @13:14\n"
                       "        TIME 09:00 @13:14\n"
                       "        TIME 18:00 @13:23\n"
                       "    C_STORES @14:5\n"
                       "      NUM 101 @14:14\n"
                       "      NUM 102 @14:19\n"
                       "      REGION \"msk\" @14:24\n"
                       "    C_CHANNEL @15:5\n"
                       "      IDENT pos @15:14\n"
                       "    C_WHEN @16:5\n"
                       "      BINOP and @16:14\n"
                       "        FACT segment \"pensioner\" @16:14\n"
                       "        BINOP >= @16:47\n"
                       "          AGG sum @16:47\n"
                       "            IDENT dairy @16:63\n"
                       "          NUM 500 @16:73\n"
                       "    C_THEN @17:5\n"
                       "      REWARD discount_pct @17:14\n"
                       "        PERCENT 10% @17:23\n"
                       "        TARGET lines @17:30\n"
                       "          IDENT dairy @17:42\n"
                       "    C_LIMIT 1 per customer per day @18:5\n"
                       "    C_BUDGET @19:5\n"
                       "      NUM 100000 @19:14\n"
                       "    C_EXAMPLE \"pensioner buys 600 of dairy\" @20:5\n"
                       "      EX_CUSTOMER @21:9\n"
                       "        EX_FIELD segments @21:20\n"
                       "          LIST @21:29\n"
                       "            STRING \"pensioner\" @21:30\n"
                       "      EX_FIELD store @22:9\n"
                       "        NUM 101 @22:15\n"
                       "      EX_FIELD channel @22:20\n"
                       "        IDENT pos @22:28\n"
                       "      EX_FIELD time @22:33\n"
                       "        DATETIME 2026-06-05T10:00:00 @22:38\n"
                       "      EX_LINE @23:9\n"
                       "        EX_FIELD sku @23:14\n"
                       "          STRING \"1\" @23:18\n"
                       "        EX_FIELD category @23:22\n"
                       "          STRING \"dairy/milk\" @23:31\n"
                       "        EX_FIELD qty @23:44\n"
                       "          NUM 2 @23:48\n"
                       "        EX_FIELD price @23:50\n"
                       "          NUM 300 @23:56\n"
                       "      EX_EXPECT discount \"1\" @24:9\n"
                       "        NUM 60 @24:25\n"
                       "      EX_EXPECT points @25:9\n"
                       "        NUM 0 @25:23\n";
    check_parse(src, want);
}

/* Every campaign clause and every reward form, with lists, ranges and points timing. */
Test(parser, all_clauses_and_rewards) {
    const char *src =
        "group g1, points\n"
        "tiebreak benefit\n"
        "campaign points \"all clauses\" {\n"
        "    priority -5\n"
        "    group points\n"
        "    combine any\n"
        "    combine none\n"
        "    combine with g1, points, campaign\n"
        "    stop\n"
        "    active 2026-01-01 .. 2026-12-31\n"
        "    days mon, wed .. fri, sun .. tue\n"
        "    hours 09:00 .. 12:00, 22:00 .. 24:00\n"
        "    stores 101, \"s-7\", region \"msk\"\n"
        "    channel pos, online, \"pos\"\n"
        "    card \"zabota\", \"gold\"\n"
        "    segment \"pensioner\"\n"
        "    code \"SUMMER\", \"WINTER\"\n"
        "    when total >= 500\n"
        "    when payment != credit and weekday in [sat, sun] and payment == card\n"
        "    card \"x\"\n"
        "    limit 2 per receipt\n"
        "    limit 1 per customer\n"
        "    limit 1 per customer per week\n"
        "    limit 3 per customer per month\n"
        "    budget 1000.50 partial\n"
        "    budget 7\n"
        "    then discount 10% on receipt; discount 50 each on lines where sku \"1\"; discount 300 "
        "on receipt\n"
        "    then price 99.90 on lines; buy 2 get 1 free on lines where category \"tea\"\n"
        "    then buy 1 get 1 at 50% off on receipt; bundle 3 for 999 on lines where brand \"x\"\n"
        "    then points 5% of paid; points 5% of paid on lines where qty > 1.5 activate in 14 "
        "days expire in 2 weeks\n"
        "    then points 100 expire in 1 day; points 1.5 activate in 1 week; coupon \"NEXT10\"; "
        "message \"Hi \\\"you\\\"\"\n"
        "    then spend_limit 30% if total < 2000, 40% if total < 10000, 55%\n"
        "}\n";
    const char *want = "FILE @1:1\n"
                       "  GROUP g1 @1:7\n"
                       "  GROUP points @1:11\n"
                       "  TIEBREAK @2:1\n"
                       "  CAMPAIGN points \"all clauses\" @3:10\n"
                       "    C_PRIORITY -5 @4:5\n"
                       "    C_GROUP points @5:5\n"
                       "    C_COMBINE any @6:5\n"
                       "    C_COMBINE none @7:5\n"
                       "    C_COMBINE with @8:5\n"
                       "      IDENT g1 @8:18\n"
                       "      IDENT points @8:22\n"
                       "      IDENT campaign @8:30\n"
                       "    C_STOP @9:5\n"
                       "    C_ACTIVE @10:5\n"
                       "      DATE 2026-01-01 @10:12\n"
                       "      DATE 2026-12-31 @10:26\n"
                       "    C_DAYS @11:5\n"
                       "      DAYRANGE mon @11:10\n"
                       "      DAYRANGE wed..fri @11:15\n"
                       "      DAYRANGE sun..tue @11:27\n"
                       "    C_HOURS @12:5\n"
                       "      TIMERANGE @12:11\n"
                       "        TIME 09:00 @12:11\n"
                       "        TIME 12:00 @12:20\n"
                       "      TIMERANGE @12:27\n"
                       "        TIME 22:00 @12:27\n"
                       "        TIME 24:00 @12:36\n"
                       "    C_STORES @13:5\n"
                       "      NUM 101 @13:12\n"
                       "      STRING \"s-7\" @13:17\n"
                       "      REGION \"msk\" @13:24\n"
                       "    C_CHANNEL @14:5\n"
                       "      IDENT pos @14:13\n"
                       "      IDENT online @14:18\n"
                       "      IDENT pos @14:26\n"
                       "    C_CARD @15:5\n"
                       "      STRING \"zabota\" @15:10\n"
                       "      STRING \"gold\" @15:20\n"
                       "    C_SEGMENT @16:5\n"
                       "      STRING \"pensioner\" @16:13\n"
                       "    C_CODE @17:5\n"
                       "      STRING \"SUMMER\" @17:10\n"
                       "      STRING \"WINTER\" @17:20\n"
                       "    C_WHEN @18:5\n"
                       "      BINOP >= @18:10\n"
                       "        FACT total @18:10\n"
                       "        NUM 500 @18:19\n"
                       "    C_WHEN @19:5\n"
                       "      BINOP and @19:10\n"
                       "        BINOP and @19:10\n"
                       "          BINOP != @19:10\n"
                       "            FACT payment @19:10\n"
                       "            IDENT credit @19:21\n"
                       "          BINOP in @19:32\n"
                       "            FACT weekday @19:32\n"
                       "            LIST @19:43\n"
                       "              IDENT sat @19:44\n"
                       "              IDENT sun @19:49\n"
                       "        BINOP == @19:58\n"
                       "          FACT payment @19:58\n"
                       "          IDENT card @19:69\n"
                       "    C_CARD @20:5\n"
                       "      STRING \"x\" @20:10\n"
                       "    C_LIMIT 2 per receipt @21:5\n"
                       "    C_LIMIT 1 per customer @22:5\n"
                       "    C_LIMIT 1 per customer per week @23:5\n"
                       "    C_LIMIT 3 per customer per month @24:5\n"
                       "    C_BUDGET partial @25:5\n"
                       "      NUM 1000.50 @25:12\n"
                       "    C_BUDGET @26:5\n"
                       "      NUM 7 @26:12\n"
                       "    C_THEN @27:5\n"
                       "      REWARD discount_pct @27:10\n"
                       "        PERCENT 10% @27:19\n"
                       "        TARGET receipt @27:26\n"
                       "      REWARD discount_each @27:35\n"
                       "        NUM 50 @27:44\n"
                       "        TARGET lines @27:55\n"
                       "          FACT sku_is \"1\" @27:67\n"
                       "      REWARD discount_amount @27:76\n"
                       "        NUM 300 @27:85\n"
                       "        TARGET receipt @27:92\n"
                       "    C_THEN @28:5\n"
                       "      REWARD price @28:10\n"
                       "        NUM 99.90 @28:16\n"
                       "        TARGET lines @28:25\n"
                       "      REWARD buy_free 2+1 @28:32\n"
                       "        TARGET lines @28:52\n"
                       "          FACT category_is \"tea\" @28:64\n"
                       "    C_THEN @29:5\n"
                       "      REWARD buy_pct 1+1 @29:10\n"
                       "        PERCENT 50% @29:25\n"
                       "        TARGET receipt @29:36\n"
                       "      REWARD bundle 3 @29:45\n"
                       "        NUM 999 @29:58\n"
                       "        TARGET lines @29:65\n"
                       "          FACT brand_is \"x\" @29:77\n"
                       "    C_THEN @30:5\n"
                       "      REWARD points_pct @30:10\n"
                       "        PERCENT 5% @30:17\n"
                       "      REWARD points_pct activate=14 expire=14 @30:29\n"
                       "        PERCENT 5% @30:36\n"
                       "        TARGET lines @30:50\n"
                       "          BINOP > @30:62\n"
                       "            FACT qty @30:62\n"
                       "            NUM 1.5 @30:68\n"
                       "    C_THEN @31:5\n"
                       "      REWARD points_fixed expire=1 @31:10\n"
                       "        NUM 100 @31:17\n"
                       "      REWARD points_fixed activate=7 @31:38\n"
                       "        NUM 1.5 @31:45\n"
                       "      REWARD coupon \"NEXT10\" @31:69\n"
                       "      REWARD message \"Hi \\\"you\\\"\" @31:86\n"
                       "    C_THEN @32:5\n"
                       "      REWARD spend_limit @32:10\n"
                       "        STEP @32:22\n"
                       "          PERCENT 30% @32:22\n"
                       "          BINOP < @32:29\n"
                       "            FACT total @32:29\n"
                       "            NUM 2000 @32:37\n"
                       "        STEP @32:43\n"
                       "          PERCENT 40% @32:43\n"
                       "          BINOP < @32:50\n"
                       "            FACT total @32:50\n"
                       "            NUM 10000 @32:58\n"
                       "        STEP @32:65\n"
                       "          PERCENT 55% @32:65\n";
    check_parse(src, want);
}

/* Precedence, `not in`, every fact with and without its receipt./customer./line. prefix, the short
 * forms, aggregates, history, lists. */
Test(parser, expressions) {
    const char *src =
        "set p = a or b and not c == d + e * -f\n"
        "set q = x not in [1, 2.5, 10%, \"s\", 2026-01-01, 09:00, sat, card] and (a or b) * 2 > 1 "
        "- 1 - 1\n"
        "set r = receipt.total + original_total > receipt.code \"A\" and store == 1 and region == "
        "\"msk\" and channel == online and time >= 09:00 and date < 2026-01-01 and attr "
        "\"weather\" == \"rain\" and receipt.attr \"x\" == 1\n"
        "set s = customer.segment \"s\" and customer.card and customer.card \"z\" and "
        "customer.tier == \"gold\" and customer.birthday within 3 days and customer.registered and "
        "customer.attr \"k\" == \"v\" and customer.id == \"c1\" and segment \"t\" and card \"u\"\n"
        "set t = line.sku == \"1\" and category == \"d\" and brand == \"b\" and qty >= 1 and price "
        "< 5 and original_price > 1 and amount > 0 and not excluded and line.category \"x\" and "
        "sku \"1\" and brand \"b\"\n"
        "set u = sum(lines) + count(lines where dairy) > 0 and any(lines where dairy) and "
        "distinct(lines) >= 2 and history.sum(lines where dairy, 30 days) > 100 and "
        "history.count(lines, 1 week) > 1 and history.visits(4 weeks) >= 2 and [] == []\n";
    const char *want = "FILE @1:1\n"
                       "  SET p @1:5\n"
                       "    BINOP or @1:9\n"
                       "      IDENT a @1:9\n"
                       "      BINOP and @1:14\n"
                       "        IDENT b @1:14\n"
                       "        UNOP not @1:20\n"
                       "          BINOP == @1:24\n"
                       "            IDENT c @1:24\n"
                       "            BINOP + @1:29\n"
                       "              IDENT d @1:29\n"
                       "              BINOP * @1:33\n"
                       "                IDENT e @1:33\n"
                       "                UNOP - @1:37\n"
                       "                  IDENT f @1:38\n"
                       "  SET q @2:5\n"
                       "    BINOP and @2:9\n"
                       "      BINOP not in @2:9\n"
                       "        IDENT x @2:9\n"
                       "        LIST @2:18\n"
                       "          NUM 1 @2:19\n"
                       "          NUM 2.5 @2:22\n"
                       "          PERCENT 10% @2:27\n"
                       "          STRING \"s\" @2:32\n"
                       "          DATE 2026-01-01 @2:37\n"
                       "          TIME 09:00 @2:49\n"
                       "          IDENT sat @2:56\n"
                       "          IDENT card @2:61\n"
                       "      BINOP > @2:71\n"
                       "        BINOP * @2:71\n"
                       "          BINOP or @2:72\n"
                       "            IDENT a @2:72\n"
                       "            IDENT b @2:77\n"
                       "          NUM 2 @2:82\n"
                       "        BINOP - @2:86\n"
                       "          BINOP - @2:86\n"
                       "            NUM 1 @2:86\n"
                       "            NUM 1 @2:90\n"
                       "          NUM 1 @2:94\n"
                       "  SET r @3:5\n"
                       "    BINOP and @3:9\n"
                       "      BINOP and @3:9\n"
                       "        BINOP and @3:9\n"
                       "          BINOP and @3:9\n"
                       "            BINOP and @3:9\n"
                       "              BINOP and @3:9\n"
                       "                BINOP and @3:9\n"
                       "                  BINOP > @3:9\n"
                       "                    BINOP + @3:9\n"
                       "                      FACT total @3:9\n"
                       "                      FACT original_total @3:25\n"
                       "                    FACT code \"A\" @3:42\n"
                       "                  BINOP == @3:63\n"
                       "                    FACT store @3:63\n"
                       "                    NUM 1 @3:72\n"
                       "                BINOP == @3:78\n"
                       "                  FACT region @3:78\n"
                       "                  STRING \"msk\" @3:88\n"
                       "              BINOP == @3:98\n"
                       "                FACT channel @3:98\n"
                       "                IDENT online @3:109\n"
                       "            BINOP >= @3:120\n"
                       "              FACT time @3:120\n"
                       "              TIME 09:00 @3:128\n"
                       "          BINOP < @3:138\n"
                       "            FACT date @3:138\n"
                       "            DATE 2026-01-01 @3:145\n"
                       "        BINOP == @3:160\n"
                       "          FACT attr \"weather\" @3:160\n"
                       "          STRING \"rain\" @3:178\n"
                       "      BINOP == @3:189\n"
                       "        FACT attr \"x\" @3:189\n"
                       "        NUM 1 @3:209\n"
                       "  SET s @4:5\n"
                       "    BINOP and @4:9\n"
                       "      BINOP and @4:9\n"
                       "        BINOP and @4:9\n"
                       "          BINOP and @4:9\n"
                       "            BINOP and @4:9\n"
                       "              BINOP and @4:9\n"
                       "                BINOP and @4:9\n"
                       "                  BINOP and @4:9\n"
                       "                    BINOP and @4:9\n"
                       "                      FACT segment \"s\" @4:9\n"
                       "                      FACT card @4:34\n"
                       "                    FACT card_is \"z\" @4:52\n"
                       "                  BINOP == @4:74\n"
                       "                    FACT tier @4:74\n"
                       "                    STRING \"gold\" @4:91\n"
                       "                FACT birthday_within 3 @4:102\n"
                       "              FACT registered @4:138\n"
                       "            BINOP == @4:162\n"
                       "              FACT customer_attr \"k\" @4:162\n"
                       "              STRING \"v\" @4:183\n"
                       "          BINOP == @4:191\n"
                       "            FACT customer_id @4:191\n"
                       "            STRING \"c1\" @4:206\n"
                       "        FACT segment \"t\" @4:215\n"
                       "      FACT card_is \"u\" @4:231\n"
                       "  SET t @5:5\n"
                       "    BINOP and @5:9\n"
                       "      BINOP and @5:9\n"
                       "        BINOP and @5:9\n"
                       "          BINOP and @5:9\n"
                       "            BINOP and @5:9\n"
                       "              BINOP and @5:9\n"
                       "                BINOP and @5:9\n"
                       "                  BINOP and @5:9\n"
                       "                    BINOP and @5:9\n"
                       "                      BINOP and @5:9\n"
                       "                        BINOP == @5:9\n"
                       "                          FACT sku @5:9\n"
                       "                          STRING \"1\" @5:21\n"
                       "                        BINOP == @5:29\n"
                       "                          FACT category @5:29\n"
                       "                          STRING \"d\" @5:41\n"
                       "                      BINOP == @5:49\n"
                       "                        FACT brand @5:49\n"
                       "                        STRING \"b\" @5:58\n"
                       "                    BINOP >= @5:66\n"
                       "                      FACT qty @5:66\n"
                       "                      NUM 1 @5:73\n"
                       "                  BINOP < @5:79\n"
                       "                    FACT price @5:79\n"
                       "                    NUM 5 @5:87\n"
                       "                BINOP > @5:93\n"
                       "                  FACT original_price @5:93\n"
                       "                  NUM 1 @5:110\n"
                       "              BINOP > @5:116\n"
                       "                FACT amount @5:116\n"
                       "                NUM 0 @5:125\n"
                       "            UNOP not @5:131\n"
                       "              FACT excluded @5:135\n"
                       "          FACT category_is \"x\" @5:148\n"
                       "        FACT sku_is \"1\" @5:170\n"
                       "      FACT brand_is \"b\" @5:182\n"
                       "  SET u @6:5\n"
                       "    BINOP and @6:9\n"
                       "      BINOP and @6:9\n"
                       "        BINOP and @6:9\n"
                       "          BINOP and @6:9\n"
                       "            BINOP and @6:9\n"
                       "              BINOP and @6:9\n"
                       "                BINOP > @6:9\n"
                       "                  BINOP + @6:9\n"
                       "                    AGG sum @6:9\n"
                       "                    AGG count @6:22\n"
                       "                      IDENT dairy @6:40\n"
                       "                  NUM 0 @6:49\n"
                       "                AGG any @6:55\n"
                       "                  IDENT dairy @6:71\n"
                       "              BINOP >= @6:82\n"
                       "                AGG distinct @6:82\n"
                       "                NUM 2 @6:101\n"
                       "            BINOP > @6:107\n"
                       "              HIST sum @6:107\n"
                       "                IDENT dairy @6:131\n"
                       "                DURATION 30 days @6:138\n"
                       "              NUM 100 @6:149\n"
                       "          BINOP > @6:157\n"
                       "            HIST count @6:157\n"
                       "              DURATION 7 days @6:178\n"
                       "            NUM 1 @6:188\n"
                       "        BINOP >= @6:194\n"
                       "          HIST visits @6:194\n"
                       "            DURATION 28 days @6:209\n"
                       "          NUM 2 @6:221\n"
                       "      BINOP == @6:227\n"
                       "        LIST @6:227\n"
                       "        LIST @6:233\n";
    check_parse(src, want);
}

/* Every example item, customer field, line field and expectation. */
Test(parser, example_blocks) {
    const char *src =
        "campaign x {\n"
        "    then coupon \"A\"\n"
        "    example \"all items\" {\n"
        "        customer { id \"c1\" card \"zabota\" segments [\"a\", \"b\"] tier \"gold\" "
        "birthday 1950-06-07 registered attr \"k\" \"v\" attr \"n\" 5 }\n"
        "        store 101 store \"s1\" region \"msk\" channel online time 2026-06-05T10:00:30 "
        "payment cash\n"
        "        payment \"credit\" points_paid 10.50 code \"SUMMER\" attr \"weather\" \"rain\" "
        "attr \"temp\" 21.5\n"
        "        line sku \"1\" category \"dairy/milk\" brand \"Prost\" qty 1.5 price 89.90 "
        "excluded\n"
        "        line sku \"2\" qty 1 price 10\n"
        "        history 2026-06-01T09:00 { line sku \"1\" qty 1 price 5 }\n"
        "        expect discount 60 on \"1\"\n"
        "        expect discount 1.50\n"
        "        expect total 10 expect final 9.99\n"
        "        expect points 1.62 from base_1 activate 2026-06-05 expire 2026-09-03\n"
        "        expect points 0\n"
        "        expect coupon \"A\" expect message \"m\"\n"
        "        expect spend_limit 30 expect spend_limit none\n"
        "        expect applied x expect not applied points\n"
        "    }\n"
        "    example \"empty\" {}\n"
        "}\n";
    const char *want = "FILE @1:1\n"
                       "  CAMPAIGN x @1:10\n"
                       "    C_THEN @2:5\n"
                       "      REWARD coupon \"A\" @2:10\n"
                       "    C_EXAMPLE \"all items\" @3:5\n"
                       "      EX_CUSTOMER @4:9\n"
                       "        EX_FIELD id @4:20\n"
                       "          STRING \"c1\" @4:23\n"
                       "        EX_FIELD card @4:28\n"
                       "          STRING \"zabota\" @4:33\n"
                       "        EX_FIELD segments @4:42\n"
                       "          LIST @4:51\n"
                       "            STRING \"a\" @4:52\n"
                       "            STRING \"b\" @4:57\n"
                       "        EX_FIELD tier @4:62\n"
                       "          STRING \"gold\" @4:67\n"
                       "        EX_FIELD birthday @4:74\n"
                       "          DATE 1950-06-07 @4:83\n"
                       "        EX_FIELD registered @4:94\n"
                       "        EX_FIELD attr \"k\" @4:105\n"
                       "          STRING \"v\" @4:114\n"
                       "        EX_FIELD attr \"n\" @4:118\n"
                       "          NUM 5 @4:127\n"
                       "      EX_FIELD store @5:9\n"
                       "        NUM 101 @5:15\n"
                       "      EX_FIELD store @5:19\n"
                       "        STRING \"s1\" @5:25\n"
                       "      EX_FIELD region @5:30\n"
                       "        STRING \"msk\" @5:37\n"
                       "      EX_FIELD channel @5:43\n"
                       "        IDENT online @5:51\n"
                       "      EX_FIELD time @5:58\n"
                       "        DATETIME 2026-06-05T10:00:30 @5:63\n"
                       "      EX_FIELD payment @5:83\n"
                       "        IDENT cash @5:91\n"
                       "      EX_FIELD payment @6:9\n"
                       "        IDENT credit @6:17\n"
                       "      EX_FIELD points_paid @6:26\n"
                       "        NUM 10.50 @6:38\n"
                       "      EX_FIELD code @6:44\n"
                       "        STRING \"SUMMER\" @6:49\n"
                       "      EX_FIELD attr \"weather\" @6:58\n"
                       "        STRING \"rain\" @6:73\n"
                       "      EX_FIELD attr \"temp\" @6:80\n"
                       "        NUM 21.5 @6:92\n"
                       "      EX_LINE @7:9\n"
                       "        EX_FIELD sku @7:14\n"
                       "          STRING \"1\" @7:18\n"
                       "        EX_FIELD category @7:22\n"
                       "          STRING \"dairy/milk\" @7:31\n"
                       "        EX_FIELD brand @7:44\n"
                       "          STRING \"Prost\" @7:50\n"
                       "        EX_FIELD qty @7:58\n"
                       "          NUM 1.5 @7:62\n"
                       "        EX_FIELD price @7:66\n"
                       "          NUM 89.90 @7:72\n"
                       "        EX_FIELD excluded @7:78\n"
                       "      EX_LINE @8:9\n"
                       "        EX_FIELD sku @8:14\n"
                       "          STRING \"2\" @8:18\n"
                       "        EX_FIELD qty @8:22\n"
                       "          NUM 1 @8:26\n"
                       "        EX_FIELD price @8:28\n"
                       "          NUM 10 @8:34\n"
                       "      EX_HISTORY @9:9\n"
                       "        DATETIME 2026-06-01T09:00:00 @9:17\n"
                       "        EX_LINE @9:36\n"
                       "          EX_FIELD sku @9:41\n"
                       "            STRING \"1\" @9:45\n"
                       "          EX_FIELD qty @9:49\n"
                       "            NUM 1 @9:53\n"
                       "          EX_FIELD price @9:55\n"
                       "            NUM 5 @9:61\n"
                       "      EX_EXPECT discount \"1\" @10:9\n"
                       "        NUM 60 @10:25\n"
                       "      EX_EXPECT discount @11:9\n"
                       "        NUM 1.50 @11:25\n"
                       "      EX_EXPECT total @12:9\n"
                       "        NUM 10 @12:22\n"
                       "      EX_EXPECT final @12:25\n"
                       "        NUM 9.99 @12:38\n"
                       "      EX_EXPECT points \"base_1\" @13:9\n"
                       "        NUM 1.62 @13:23\n"
                       "        DATE 2026-06-05 @13:49\n"
                       "        DATE 2026-09-03 @13:67\n"
                       "      EX_EXPECT points @14:9\n"
                       "        NUM 0 @14:23\n"
                       "      EX_EXPECT coupon \"A\" @15:9\n"
                       "      EX_EXPECT message \"m\" @15:27\n"
                       "      EX_EXPECT spend_limit @16:9\n"
                       "        NUM 30 @16:28\n"
                       "      EX_EXPECT spend_limit @16:31\n"
                       "      EX_EXPECT applied \"x\" @17:9\n"
                       "      EX_EXPECT not applied \"points\" @17:26\n"
                       "    C_EXAMPLE \"empty\" @19:5\n";
    check_parse(src, want);
}

/* Group names and campaign ids may be reserved words (`group points`). */
Test(parser, keywords_as_names) {
    const char *src = "group points, discount\n"
                      "campaign points { group discount combine with points, when }\n"
                      "campaign when { stop }\n";
    const char *want = "FILE @1:1\n"
                       "  GROUP points @1:7\n"
                       "  GROUP discount @1:15\n"
                       "  CAMPAIGN points @2:10\n"
                       "    C_GROUP discount @2:19\n"
                       "    C_COMBINE with @2:34\n"
                       "      IDENT points @2:47\n"
                       "      IDENT when @2:55\n"
                       "  CAMPAIGN when @3:10\n"
                       "    C_STOP @3:17\n";
    check_parse(src, want);
}

/* A file with only a comment. */
Test(parser, empty_file) {
    const char *src = "# only a comment\n";
    const char *want = "FILE @1:1\n";
    check_parse(src, want);
}

/* Campaigns without clauses parse (sema reports the missing reward). */
Test(parser, empty_campaign) {
    const char *src = "campaign a {}\n"
                      "campaign b \"t\" { }\n";
    const char *want = "FILE @1:1\n"
                       "  CAMPAIGN a @1:10\n"
                       "  CAMPAIGN b \"t\" @2:10\n";
    check_parse(src, want);
}

/* Three separate syntax errors in one campaign: three reports, and parsing goes on to the next
 * clause and campaign. */
Test(parser, three_errors_recovered) {
    const char *src = "campaign a {\n"
                      "    priority x\n"
                      "    when total >\n"
                      "    then discount 10% of lines\n"
                      "    stop\n"
                      "}\n"
                      "campaign b { stop }\n";
    const char *want = "FILE @1:1\n"
                       "  CAMPAIGN a @1:10\n"
                       "    C_STOP @5:5\n"
                       "  CAMPAIGN b @7:10\n"
                       "    C_STOP @7:14\n"
                       "t.rule:2:14: error[E004]: expected integer or '-', found identifier 'x'\n"
                       "    priority x\n"
                       "             ^\n"
                       "t.rule:4:5: error[E004]: expected an expression, found 'then'\n"
                       "    then discount 10% of lines\n"
                       "    ^~~~\n"
                       "t.rule:4:23: error[E004]: expected 'on', found 'of'\n"
                       "    then discount 10% of lines\n"
                       "                      ^~\n";
    check_parse(src, want);
}

/* A reserved word as a set name says so; the next declaration still parses. */
Test(parser, reserved_word_as_name) {
    const char *src = "set date = total > 5\n"
                      "set ok = sku \"1\"\n";
    const char *want =
        "FILE @1:1\n"
        "  SET ok @2:5\n"
        "    FACT sku_is \"1\" @2:10\n"
        "t.rule:1:5: error[E004]: expected identifier, found 'date' (a reserved word)\n"
        "set date = total > 5\n"
        "    ^~~~\n";
    check_parse(src, want);
}

/* A missing name, at a brace and at end of file. */
Test(parser, missing_names) {
    const char *src = "campaign { stop }\n"
                      "group g,\n";
    const char *want = "FILE @1:1\n"
                       "t.rule:1:10: error[E004]: expected a name, found '{'\n"
                       "campaign { stop }\n"
                       "         ^\n"
                       "t.rule:2:9: error[E004]: expected a name, found end of file\n"
                       "group g,\n"
                       "        ^\n";
    check_parse(src, want);
}

/* An unclosed '(' gets a note pointing at it. */
Test(parser, unclosed_paren) {
    const char *src = "set b = (1 + 2\n"
                      "set c = 3\n";
    const char *want = "FILE @1:1\n"
                       "  SET c @2:5\n"
                       "    NUM 3 @2:9\n"
                       "t.rule:2:1: error[E004]: expected an operator or ')', found 'set'\n"
                       "set c = 3\n"
                       "^~~\n"
                       "t.rule:1:9: note: to match this '('\n"
                       "set b = (1 + 2\n"
                       "        ^\n";
    check_parse(src, want);
}

/* End of file inside a campaign: the parser gives up (NULL tree) after pointing at the open brace.
 */
Test(parser, unclosed_campaign) {
    const char *src = "campaign a {\n"
                      "    when x\n";
    const char *want =
        "(null)\n"
        "t.rule:2:11: error[E004]: expected a clause, an operator or '}', found end of file\n"
        "    when x\n"
        "          ^\n"
        "t.rule:1:12: note: to match this '{'\n"
        "campaign a {\n"
        "           ^\n";
    check_parse(src, want);
}

/* An unknown clause is skipped up to the next clause keyword; the following campaigns are intact.
 */
Test(parser, bad_clause_keeps_campaigns) {
    const char *src = "campaign a { foo stop }\n"
                      "campaign b { bar }\n"
                      "campaign c { stop }\n";
    const char *want =
        "FILE @1:1\n"
        "  CAMPAIGN a @1:10\n"
        "    C_STOP @1:18\n"
        "  CAMPAIGN b @2:10\n"
        "  CAMPAIGN c @3:10\n"
        "    C_STOP @3:14\n"
        "t.rule:1:14: error[E004]: expected a clause or '}', found identifier 'foo'\n"
        "campaign a { foo stop }\n"
        "             ^~~\n"
        "t.rule:2:14: error[E004]: expected a clause or '}', found identifier 'bar'\n"
        "campaign b { bar }\n"
        "             ^~~\n";
    check_parse(src, want);
}

/* Recovery inside example blocks and customer blocks. */
Test(parser, example_errors) {
    const char *src = "campaign a {\n"
                      "  example \"x\" {\n"
                      "    line qty x\n"
                      "    expect foo\n"
                      "    customer { segment \"a\" tier \"t\" }\n"
                      "    store 1\n"
                      "  }\n"
                      "  stop\n"
                      "}\n";
    const char *want =
        "FILE @1:1\n"
        "  CAMPAIGN a @1:10\n"
        "    C_EXAMPLE \"x\" @2:3\n"
        "      EX_CUSTOMER @5:5\n"
        "        EX_FIELD tier @5:28\n"
        "          STRING \"t\" @5:33\n"
        "      EX_FIELD store @6:5\n"
        "        NUM 1 @6:11\n"
        "    C_STOP @8:3\n"
        "t.rule:3:14: error[E004]: expected a number, found identifier 'x'\n"
        "    line qty x\n"
        "             ^\n"
        "t.rule:4:12: error[E004]: expected an expectation, found identifier 'foo'\n"
        "    expect foo\n"
        "           ^~~\n"
        "t.rule:5:16: error[E004]: expected a customer field or '}', found 'segment'\n"
        "    customer { segment \"a\" tier \"t\" }\n"
        "               ^~~~~~~\n";
    check_parse(src, want);
}

/* Comparisons do not chain. */
Test(parser, chained_comparison) {
    const char *src = "campaign a { when 1 < 2 < 3 }\n";
    const char *want =
        "FILE @1:1\n"
        "  CAMPAIGN a @1:10\n"
        "t.rule:1:25: error[E004]: expected a clause, an operator or '}', found '<'\n"
        "campaign a { when 1 < 2 < 3 }\n"
        "                        ^\n";
    check_parse(src, want);
}

/* A lexical error is skipped: the parser never sees the bad character. */
Test(parser, lexical_error_only) {
    const char *src = "campaign a { priority 1 @ stop }\n";
    const char *want = "FILE @1:1\n"
                       "  CAMPAIGN a @1:10\n"
                       "    C_PRIORITY 1 @1:14\n"
                       "    C_STOP @1:27\n"
                       "t.rule:1:25: error[E001]: invalid character '@'\n"
                       "campaign a { priority 1 @ stop }\n"
                       "                        ^\n";
    check_parse(src, want);
}

/* Errors inside rewards, points timing and hour ranges. */
Test(parser, reward_errors) {
    const char *src = "campaign a { then discount 10% on lines where; coupon \"x\" }\n"
                      "campaign b { then points 5% of paid activate in 3 }\n"
                      "campaign c { hours 09:00 .. , 10:00 .. 11:00 }\n";
    const char *want = "FILE @1:1\n"
                       "  CAMPAIGN a @1:10\n"
                       "  CAMPAIGN b @2:10\n"
                       "  CAMPAIGN c @3:10\n"
                       "t.rule:1:46: error[E004]: expected an expression, found ';'\n"
                       "campaign a { then discount 10% on lines where; coupon \"x\" }\n"
                       "                                             ^\n"
                       "t.rule:2:51: error[E004]: expected a duration unit, found '}'\n"
                       "campaign b { then points 5% of paid activate in 3 }\n"
                       "                                                  ^\n"
                       "t.rule:3:29: error[E004]: expected time, found ','\n"
                       "campaign c { hours 09:00 .. , 10:00 .. 11:00 }\n"
                       "                            ^\n";
    check_parse(src, want);
}

/* The caret line copies tabs so it lines up under the token. */
Test(parser, tab_caret) {
    const char *src = "campaign a {\n"
                      "\twhen total >\t}\n";
    const char *want = "FILE @1:1\n"
                       "  CAMPAIGN a @1:10\n"
                       "t.rule:2:15: error[E004]: expected an expression, found '}'\n"
                       "\twhen total >\t}\n"
                       "\t            \t^\n";
    check_parse(src, want);
}
