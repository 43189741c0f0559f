/*
 * randset.c — random campaign sets and receipts for the differential test (tests
 * only; see randset.h). Everything derives from one 64-bit seed (splitmix64), so a
 * failing seed reproduces exactly.
 */
#include "randset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "civil.h"
#include "compile.h"

/* ------------------------------------------------------------------ rng ---- */

void rs_seed(rs_rng *g, uint64_t seed) {
    g->s = seed * 0x9E3779B97F4A7C15ull + 0x1234567u;
}

uint64_t rs_next(rs_rng *g) {
    uint64_t z = (g->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint32_t rs_below(rs_rng *g, uint32_t n) {
    return n ? (uint32_t)(rs_next(g) % n) : 0;
}

static int rs_chance(rs_rng *g, unsigned percent) {
    return rs_below(g, 100) < percent;
}

#define PICK(g, arr) ((arr)[rs_below((g), (uint32_t)(sizeof(arr) / sizeof *(arr)))])

/* ------------------------------------------------------------- catalog ---- */

typedef struct rs_item {
    const char *sku, *category, *brand;
    int weight;   /* sold by weight: 3-decimal quantities */
    int excluded; /* always flagged by the shop */
} rs_item;

static const rs_item items[] = {
    {"101", "dairy/milk", "Prost", 0, 0},     {"102", "dairy/cheese", "Domik", 0, 0},
    {"103", "dairy", "Prost", 0, 0},          {"104", "bakery/bread", "Hleb", 0, 0},
    {"105", "drinks/coffee", "Jacobs", 0, 0}, {"106", "drinks/coffee", "Nescafe", 0, 0},
    {"107", "drinks/tea", "Lipton", 0, 0},    {"108", "dairy2/x", "Domik", 0, 0},
    {"109", "tobacco", "Smoke", 0, 1},        {"110", "fruit/apples", "Sad", 1, 0},
    {"111", "fruit/bananas", "Sad", 1, 0},    {"112", "dairy/milk", "Jacobs", 1, 0},
};

static const int64_t prices[] = {99,    500,   1001,  4550,  8990,   9999, 12000,
                                 15000, 30000, 33333, 49950, 100000, 8990, 4550};

/* ------------------------------------------------------------- sources ---- */

typedef struct gen {
    rs_rng g;
    strbuf *out;
    int nsets;
    int in_agg;     /* generating an aggregate's predicate */
    int tiebreak;   /* `tiebreak benefit` set: few levels, `combine none` more often */
    unsigned avoid; /* RS_AVOID bits, for triage only (see rs_source) */
    char ids[16][8];
    int group[16]; /* per campaign: its `group` clause (index in groups[]), or -1 */
    int nids;
} gen;

static void gen_pred(gen *x, int depth);

static void gen_pred_atom(gen *x) {
    rs_rng *g = &x->g;
    strbuf *o = x->out;
    static const char *const atoms[] = {
        "category \"dairy\"",
        "category \"drinks\"",
        "category \"fruit\"",
        "category \"dairy/milk\"",
        "category == \"drinks/coffee\"",
        "category in [\"dairy\", \"bakery\"]",
        "category != \"dairy\"",
        "brand \"Prost\"",
        "brand in [\"Jacobs\", \"Nescafe\"]",
        "brand == \"Sad\"",
        "brand != \"Domik\"",
        "sku \"101\"",
        "sku in [\"101\", \"105\", \"110\"]",
        "sku != \"103\"",
        "line.sku == \"106\"",
        "qty >= 2",
        "qty < 1.5",
        "qty > 0.5",
        "price > 50",
        "price <= 100",
        "price >= 99.99",
        "original_price < 100",
        "amount >= 150",
        "amount < 300",
        "not excluded",
        "category \"tobacco\"",
        "qty in [1, 2]",
        "sku not in [\"101\", \"102\"]",
        "line.brand == \"Sad\"",
        "line.category == \"dairy\"",
        "line.category != \"drinks/coffee\"",
        "excluded",
        "amount - original_price > 50",
        "price * 2 > 150",
    };
    if (x->nsets > 0 && rs_chance(g, 20) && !(x->in_agg && (x->avoid & 1))) {
        sb_printf(o, "s%u", rs_below(g, (uint32_t)x->nsets));
        return;
    }
    sb_puts(o, PICK(g, atoms));
}

static void gen_pred(gen *x, int depth) {
    rs_rng *g = &x->g;
    unsigned r = rs_below(g, 100);
    if (depth >= 2 || r < 60) {
        gen_pred_atom(x);
    } else if (r < 70) {
        sb_puts(x->out, "not (");
        gen_pred(x, depth + 1);
        sb_putc(x->out, ')');
    } else {
        sb_putc(x->out, '(');
        gen_pred(x, depth + 1);
        sb_puts(x->out, r < 85 ? " and " : " or ");
        gen_pred(x, depth + 1);
        sb_putc(x->out, ')');
    }
}

/* `lines where P` or `lines` */
static void gen_lines(gen *x) {
    if (rs_chance(&x->g, 12)) {
        sb_puts(x->out, "lines");
        return;
    }
    sb_puts(x->out, "lines where ");
    gen_pred(x, 0);
}

/* `lines where P` inside an aggregate (sum/count/any/distinct/history). */
static void gen_agg_lines(gen *x) {
    x->in_agg = 1;
    gen_lines(x);
    x->in_agg = 0;
}

static void gen_cond(gen *x, int depth);

static void gen_cond_atom(gen *x) {
    rs_rng *g = &x->g;
    strbuf *o = x->out;
    static const char *const money[] = {"50", "100", "200", "500", "1000", "99.90"};
    static const char *const simple[] = {
        "total >= 500",
        "total < 1000",
        "original_total >= 800",
        "payment == card",
        "payment != credit",
        "payment in [cash, card]",
        "payment == \"bonus\"",
        "channel == online",
        "channel != pos",
        "weekday in [sat, sun]",
        "weekday == fri",
        "weekday != mon",
        "customer.segment \"pensioner\"",
        "segment \"student\"",
        "card \"zabota\"",
        "customer.card == \"zabota\"",
        "customer.tier == \"gold\"",
        "customer.tier in [\"gold\", \"silver\"]",
        "customer.tier != \"gold\"",
        "customer.registered",
        "customer.birthday within 3 days",
        "customer.attr \"kids\" >= 2",
        "code \"SUMMER\"",
        "receipt.code \"VIP\"",
        "attr \"weather\" == \"rain\"",
        "attr \"temp\" > 20",
        "time >= 12:00",
        "time < 10:00",
        "date >= 2026-06-05",
        "date <= 2026-06-02",
        "region == \"msk\"",
        "history.visits(7 days) >= 2",
        "history.visits(30 days) >= 3",
        "customer.id == \"c1\"",
        "customer.id != \"c2\"",
        "store == 101",
        "store in [\"102\", \"s5\"]",
        "receipt.total >= 300",
        "-total < -700",
        "original_total - total > 100",
        "total * 2 > 1000",
        "sum(lines) * 1.5 >= 600",
        "attr \"weather\" != \"rain\"",
        "customer.attr \"kids\" == 2",
        "(time >= 22:00 or time < 02:00)",
        "customer.card == \"gold_card\"",
        "customer.birthday within 0 days",
        "payment not in [cash, bonus]",
        "channel in [pos]",
        "not segment \"pensioner\"",
        "date == 2026-06-07",
    };
    unsigned r = rs_below(g, 100);
    if (r < 40) {
        const char *a;
        do
            a = PICK(g, simple);
        while ((x->avoid & 2) && strstr(a, "visits"));
        sb_puts(o, a);
    } else if (r < 55) {
        sb_puts(o, "sum(");
        gen_agg_lines(x);
        sb_printf(o, ") %s %s", rs_chance(g, 80) ? ">=" : "<", PICK(g, money));
    } else if (r < 67) {
        static const char *const cnt[] = {"1", "2", "3", "1.5"};
        sb_puts(o, "count(");
        gen_agg_lines(x);
        sb_printf(o, ") >= %s", PICK(g, cnt));
    } else if (r < 77) {
        sb_puts(o, rs_chance(g, 70) ? "any(" : "not any(");
        gen_agg_lines(x);
        sb_putc(o, ')');
    } else if (r < 82) {
        sb_puts(o, "distinct(");
        gen_agg_lines(x);
        sb_puts(o, ") >= 2");
    } else if (r < 90) {
        static const char *const days[] = {"7 days", "30 days", "1 day", "2 weeks"};
        int sum = rs_chance(g, 60);
        sb_printf(o, "history.%s(", sum ? "sum" : "count");
        gen_agg_lines(x);
        sb_printf(o, ", %s) >= %s", PICK(g, days), sum ? PICK(g, money) : "3");
    } else if (r < 95) {
        sb_puts(o, "sum(");
        gen_agg_lines(x);
        sb_puts(o, ") - sum(");
        gen_agg_lines(x);
        sb_printf(o, ") > %s", PICK(g, money));
    } else {
        sb_puts(o, "count(");
        gen_agg_lines(x);
        sb_puts(o, ") * 2 >= 3");
    }
}

static void gen_cond(gen *x, int depth) {
    unsigned r = rs_below(&x->g, 100);
    if (depth >= 2 || r < 65) {
        gen_cond_atom(x);
    } else if (r < 72) {
        sb_puts(x->out, "not (");
        gen_cond(x, depth + 1);
        sb_putc(x->out, ')');
    } else {
        sb_putc(x->out, '(');
        gen_cond(x, depth + 1);
        sb_puts(x->out, r < 88 ? " and " : " or ");
        gen_cond(x, depth + 1);
        sb_putc(x->out, ')');
    }
}

enum { K_LINE_DISCOUNT, K_COUNTABLE, K_POINTS, K_TEXT };

/* A target: `on receipt`, `on lines` or `on lines where P`. */
static void gen_target(gen *x, int allow_receipt) {
    sb_puts(x->out, " on ");
    if (allow_receipt && rs_chance(&x->g, 15))
        sb_puts(x->out, "receipt");
    else
        gen_lines(x);
}

static void gen_points_when(gen *x) {
    rs_rng *g = &x->g;
    if (rs_chance(g, 25))
        sb_printf(x->out, " activate in %s", rs_chance(g, 50) ? "14 days" : "1 week");
    if (rs_chance(g, 30))
        sb_printf(x->out, " expire in %s", rs_chance(g, 50) ? "90 days" : "2 weeks");
}

/* One reward; *kind tells the caller what it was (for limit/budget choices). */
static void gen_reward(gen *x, int *kind, int no_points) {
    rs_rng *g = &x->g;
    strbuf *o = x->out;
    static const char *const pct[] = {"5%", "10%", "12.5%", "33%", "50%", "100%", "7.125%"};
    static const char *const each[] = {"5", "10.50", "30", "0.01"};
    static const char *const amount[] = {"50", "100", "300", "1000", "0.05"};
    static const char *const promo_price[] = {"9.90", "49.90", "80", "0"};
    static const char *const ppct[] = {"1%", "5%", "10%", "2.5%", "3.333%"};
    static const char *const fixed[] = {"100", "50.5", "1"};
    unsigned r = rs_below(g, no_points ? 76 : 100);
    if (r < 16) {
        sb_printf(o, "discount %s", PICK(g, pct));
        gen_target(x, 1);
        *kind = K_LINE_DISCOUNT;
    } else if (r < 26) {
        sb_printf(o, "discount %s each", PICK(g, each));
        gen_target(x, 0);
        *kind = K_COUNTABLE;
    } else if (r < 38) {
        sb_printf(o, "discount %s", PICK(g, amount));
        gen_target(x, 1);
        *kind = K_LINE_DISCOUNT;
    } else if (r < 46) {
        sb_printf(o, "price %s", PICK(g, promo_price));
        gen_target(x, 0);
        *kind = K_LINE_DISCOUNT;
    } else if (r < 56) {
        sb_printf(o, "buy %u get %u free", 1 + rs_below(g, 3), 1 + rs_below(g, 2));
        gen_target(x, 1);
        *kind = K_COUNTABLE;
    } else if (r < 63) {
        sb_printf(o, "buy %u get 1 at %s off", 1 + rs_below(g, 2),
                  rs_chance(g, 50) ? "50%" : "30%");
        gen_target(x, 0);
        *kind = K_COUNTABLE;
    } else if (r < 70) {
        static const char *const bprice[] = {"99.90", "150", "500", "20"};
        sb_printf(o, "bundle %u for %s", 2 + rs_below(g, 2), PICK(g, bprice));
        gen_target(x, 0);
        *kind = K_COUNTABLE;
    } else if (r < 76) {
        *kind = K_TEXT;
        static const char *const coupons[] = {"NEXT10", "COFFEE2", "NEXT10"};
        static const char *const msgs[] = {"Hello", "Thanks for coming", "Milk day",
                                           "Скидка \\\"10%\\\" для вас\\n\\tспасибо \\\\ пока"};
        if (rs_chance(g, 50))
            sb_printf(o, "coupon \"%s\"", PICK(g, coupons));
        else
            sb_printf(o, "message \"%s\"", PICK(g, msgs));
    } else if (r < 92) {
        sb_printf(o, "points %s of paid", PICK(g, ppct));
        if (rs_chance(g, 50)) gen_target(x, 1); /* `on receipt` is receipt-level too */
        gen_points_when(x);
        *kind = K_POINTS;
    } else {
        sb_printf(o, "points %s", PICK(g, fixed));
        gen_points_when(x);
        *kind = K_POINTS;
    }
}

static void gen_campaign(gen *x, int idx) {
    rs_rng *g = &x->g;
    strbuf *o = x->out;
    static const int prios[] = {0, 10, 10, 50, 100, 100, 100, -5};
    static const char *const groups[] = {"disc", "pts", "spec"};
    sb_printf(o, "campaign %s \"campaign %d\" {\n", x->ids[idx], idx);
    if (x->tiebreak)
        sb_printf(o, "    priority %d\n", rs_chance(g, 70) ? 10 : 50);
    else if (rs_chance(g, 85))
        sb_printf(o, "    priority %d\n", PICK(g, prios));
    if (x->group[idx] >= 0) sb_printf(o, "    group %s\n", groups[x->group[idx]]);
    unsigned r = x->tiebreak && rs_chance(g, 50) ? 0 : rs_below(g, 100);
    if (r < 15) {
        sb_puts(o, "    combine none\n");
    } else if (r < 50) {
        sb_puts(o, "    combine with ");
        int n = 1 + (int)rs_below(g, 2);
        for (int k = 0; k < n; k++) {
            if (k) sb_puts(o, ", ");
            /* SPEC 3.3 rule 2: a campaign id only of a campaign without `group` */
            int c = rs_chance(g, 75) ? -1 : (int)rs_below(g, (uint32_t)x->nids);
            if (c >= 0 && x->group[c] < 0)
                sb_puts(o, x->ids[c]);
            else
                sb_puts(o, PICK(g, groups));
        }
        sb_putc(o, '\n');
    } else if (r < 58) {
        sb_puts(o, "    combine any\n");
    }
    if (rs_chance(g, 10)) sb_puts(o, "    stop\n");
    if (rs_chance(g, 10)) sb_puts(o, "    active 2026-06-03 .. 2026-06-10\n");
    if (rs_chance(g, 12)) {
        static const char *const days[] = {"mon .. fri", "sat, sun", "fri .. mon", "wed",
                                           "tue, thu .. sat"};
        sb_printf(o, "    days %s\n", PICK(g, days));
    }
    if (rs_chance(g, 12)) {
        static const char *const hours[] = {"09:00 .. 18:00", "22:00 .. 02:00",
                                            "08:00 .. 12:00, 14:00 .. 20:00", "00:00 .. 24:00",
                                            "12:00 .. 09:00"};
        sb_printf(o, "    hours %s\n", PICK(g, hours));
    }
    if (rs_chance(g, 10)) {
        static const char *const stores[] = {"101, 102", "region \"msk\"", "103, region \"spb\"",
                                             "\"s5\""};
        sb_printf(o, "    stores %s\n", PICK(g, stores));
    }
    if (rs_chance(g, 8)) {
        static const char *const ch[] = {"pos", "online", "pos, online"};
        sb_printf(o, "    channel %s\n", PICK(g, ch));
    }
    if (rs_chance(g, 7)) {
        static const char *const cards[] = {"\"zabota\"", "\"zabota\", \"gold_card\""};
        sb_printf(o, "    card %s\n", PICK(g, cards));
    }
    if (rs_chance(g, 7)) {
        static const char *const segs[] = {"\"pensioner\"", "\"student\", \"pensioner\""};
        sb_printf(o, "    segment %s\n", PICK(g, segs));
    }
    if (rs_chance(g, 8)) {
        static const char *const codes[] = {"\"SUMMER\"", "\"VIP\", \"SUMMER\""};
        sb_printf(o, "    code %s\n", PICK(g, codes));
    }
    if (rs_chance(g, 60)) {
        sb_puts(o, "    when ");
        gen_cond(x, 0);
        sb_putc(o, '\n');
        if (rs_chance(g, 12)) {
            sb_puts(o, "    when ");
            gen_cond(x, 1);
            sb_putc(o, '\n');
        }
    }
    int all_countable = 1, any_text = 0, spend = 0;
    if (rs_chance(g, 7)) {
        static const char *const steps[] = {
            "30% if total < 2000, 40% if total < 10000, 55%",
            "20% if total < 300, 50%",
            "25% if total >= 1000",
            "10%",
            "100% if payment == card, 0.5%",
        };
        sb_printf(o, "    then spend_limit %s\n", PICK(g, steps));
        spend = 1;
        all_countable = 0;
    } else {
        sb_puts(o, "    then ");
        int n = 1 + (rs_chance(g, 30) ? 1 : 0) + (rs_chance(g, 10) ? 1 : 0);
        int had_points = 0, many_points = rs_chance(g, 20);
        for (int k = 0; k < n; k++) {
            int kind;
            if (k) sb_puts(o, "; ");
            gen_reward(x, &kind, had_points && !many_points);
            if (kind == K_POINTS) had_points = 1;
            if (kind != K_COUNTABLE) all_countable = 0;
            if (kind == K_TEXT) any_text = 1;
        }
        if (rs_chance(g, 4)) { /* a policy next to rewards */
            sb_puts(o, "; spend_limit 30% if total < 2000, 50%");
            spend = 1;
            all_countable = 0;
        }
        sb_putc(o, '\n');
    }
    if (all_countable && rs_chance(g, 35))
        sb_printf(o, "    limit %u per receipt\n", 1 + rs_below(g, 3));
    if (rs_chance(g, 15)) {
        static const char *const per[] = {"", " per day", " per week", " per month"};
        sb_printf(o, "    limit %u per customer%s\n", 1 + rs_below(g, 2), PICK(g, per));
    }
    if (!spend && (!any_text || rs_chance(g, 30)) && rs_chance(g, 18)) {
        static const char *const budgets[] = {"100", "500", "2000", "0.50", "50"};
        sb_printf(o, "    budget %s%s\n", PICK(g, budgets), rs_chance(g, 50) ? " partial" : "");
    }
    sb_puts(o, "}\n\n");
}

char *rs_source(uint64_t seed) {
    gen x;
    memset(&x, 0, sizeof x);
    rs_seed(&x.g, seed);
    strbuf out = STRBUF_INIT;
    x.out = &out;
    /* RS_AVOID (triage only): bit 0 no set names inside aggregates, bit 1 no
     * history.visits: keeps a known defect from hiding the others. */
    const char *avoid = getenv("RS_AVOID");
    x.avoid = avoid ? (unsigned)strtoul(avoid, NULL, 0) : 0;
    sb_printf(&out, "# random campaign set, seed %llu\n", (unsigned long long)seed);
    sb_puts(&out, "group disc, pts, spec\n\n");
    /* Some sets order equal priorities by benefit (SPEC 3.3 rule 6): few priority
     * levels, half the campaigns `combine none` so that incompatible pairs abound. */
    x.tiebreak = rs_chance(&x.g, 12);
    if (x.tiebreak) sb_puts(&out, "tiebreak benefit\n\n");
    x.nsets = (int)rs_below(&x.g, 3);
    for (int k = 0; k < x.nsets; k++) {
        sb_printf(&out, "set s%d = ", k);
        int save = x.nsets;
        x.nsets = k; /* sets refer only to earlier sets */
        gen_pred(&x, 0);
        x.nsets = save;
        sb_putc(&out, '\n');
    }
    sb_putc(&out, '\n');
    x.nids = 2 + (int)rs_below(&x.g, rs_chance(&x.g, 15) ? 11 : 7);
    for (int k = 0; k < x.nids; k++) {
        /* short random ids: evaluation order by id differs from file order */
        int dup;
        do {
            snprintf(x.ids[k], sizeof x.ids[k], "%c%u", (char)('a' + rs_below(&x.g, 6)),
                     rs_below(&x.g, 10));
            dup = 0;
            for (int j = 0; j < k; j++)
                dup |= strcmp(x.ids[j], x.ids[k]) == 0;
        } while (dup);
    }
    for (int k = 0; k < x.nids; k++)
        x.group[k] = rs_chance(&x.g, 55) ? (int)rs_below(&x.g, 3) : -1;
    for (int k = 0; k < x.nids; k++)
        gen_campaign(&x, k);
    char *s = strdup(sb_cstr(&out));
    sb_free(&out);
    return s;
}

char *rs_valid_source(uint64_t seed, unsigned *tries) {
    for (unsigned k = 0; k < 64; k++) {
        char *src = rs_source(seed * 64 + k);
        compilation c;
        compile_opts opts = {INT32_MIN, 0};
        comp_init(&c, &opts);
        comp_add_source(&c, "rand.rule", src, strlen(src));
        size_t errs = comp_check(&c);
        comp_free(&c);
        if (errs == 0) {
            if (tries) *tries = k + 1;
            return src;
        }
        free(src);
    }
    if (tries) *tries = 64;
    return NULL;
}

/* ------------------------------------------------------------ receipts ---- */

static promo_str S(const char *s) {
    promo_str r = {s, (uint32_t)strlen(s)};
    return r;
}

static void gen_customer(rs_rng *g, rs_receipt *rc) {
    promo_customer *c = &rc->cust;
    memset(c, 0, sizeof *c);
    c->registered = -1;
    switch (rs_below(g, 5)) {
    case 0:
        c->id = S("c1");
        rc->segs[0] = S("pensioner");
        c->segments = rc->segs;
        c->nsegments = 1;
        c->card = S("zabota");
        c->tier = S("gold");
        c->has_birthday = 1;
        c->birthday = civil_days(1950, 6, 7);
        rc->cattrs[0].key = S("kids");
        rc->cattrs[0].value = S("2");
        c->attrs = rc->cattrs;
        c->nattrs = 1;
        break;
    case 1:
        c->id = S("c2");
        rc->segs[0] = S("student");
        rc->segs[1] = S("night");
        c->segments = rc->segs;
        c->nsegments = 2;
        c->card = S("gold_card");
        c->tier = S("silver");
        c->has_birthday = 1;
        c->birthday = civil_days(2000, 2, 29);
        break;
    case 2:
        c->id = S("c3");
        c->has_birthday = 1;
        c->birthday = civil_days(1990, 5, 30);
        rc->cattrs[0].key = S("kids");
        rc->cattrs[0].value = S("0");
        c->attrs = rc->cattrs;
        c->nattrs = 1;
        break;
    case 3: /* a card holder without an id: no limits or history can be kept */
        rc->segs[0] = S("pensioner");
        c->segments = rc->segs;
        c->nsegments = 1;
        c->card = S("zabota");
        break;
    default:
        c->id = S("c4");
        c->tier = S("gold");
        c->registered = 0;
        break;
    }
    rc->r.customer = c;
}

rs_receipt *rs_receipts(uint64_t seed, size_t n) {
    rs_receipt *v = calloc(n ? n : 1, sizeof *v);
    if (!v) abort();
    rs_rng g;
    rs_seed(&g, seed ^ 0x5eed5eedull);
    static const char *const stores[] = {"101", "102", "103", "s5"};
    static const char *const regions[] = {"msk", "msk", "spb", "spb"};
    static const int32_t times[] = {1800,  5400,  32399, 32400, 43200, 64740,
                                    64800, 79140, 79200, 84600, 0,     86399};
    static const int64_t paid[] = {100, 5000, 12345, 1000000};
    for (size_t k = 0; k < n; k++) {
        rs_receipt *rc = &v[k];
        promo_receipt *r = &rc->r;
        r->size = sizeof *r;
        snprintf(rc->id, sizeof rc->id, "r%zu", k);
        r->id = S(rc->id);
        uint32_t st = rs_below(&g, 4);
        r->store = S(stores[st]);
        r->region = S(regions[st]);
        r->channel = rs_chance(&g, 70) ? PROMO_CHANNEL_POS : PROMO_CHANNEL_ONLINE;
        r->payment = (int)rs_below(&g, 5);
        r->points_paid = rs_chance(&g, 70) ? 0 : PICK(&g, paid);
        r->date = civil_days(2026, 5, 28) + (int32_t)rs_below(&g, 18);
        r->time = rs_chance(&g, 50) ? PICK(&g, times) : (int32_t)rs_below(&g, 86400);
        uint32_t nc = 0;
        if (rs_chance(&g, 25)) rc->codes[nc++] = S("SUMMER");
        if (rs_chance(&g, 15)) rc->codes[nc++] = S(rs_chance(&g, 50) ? "VIP" : "OTHER");
        r->codes = rc->codes;
        r->ncodes = nc;
        uint32_t na = 0;
        if (rs_chance(&g, 50)) {
            rc->attrs[na].key = S("weather");
            rc->attrs[na++].value = S(rs_chance(&g, 50) ? "rain" : "sun");
        }
        if (rs_chance(&g, 50)) {
            rc->attrs[na].key = S("temp");
            rc->attrs[na++].value = S(rs_chance(&g, 50) ? "15" : "25.5");
        }
        r->attrs = rc->attrs;
        r->nattrs = na;
        if (rs_chance(&g, 80)) gen_customer(&g, rc);
        uint32_t nl = rs_chance(&g, 2) ? 0 : 1 + rs_below(&g, RS_MAX_LINES);
        for (uint32_t i = 0; i < nl; i++) {
            const rs_item *it = &items[rs_below(&g, sizeof items / sizeof *items)];
            promo_line *l = &rc->lines[i];
            l->sku = S(it->sku);
            l->category = S(it->category);
            l->brand = S(it->brand);
            if (it->weight)
                l->qty = 50 + rs_below(&g, 3000);
            else
                l->qty = 1000 * (1 + rs_below(&g, rs_chance(&g, 70) ? 2 : 5));
            l->price = rs_chance(&g, 3) ? 0 : PICK(&g, prices);
            l->excluded = it->excluded || rs_chance(&g, 5);
            if (rs_chance(&g, 1)) { /* large values: 128-bit intermediates */
                l->qty = 999999;
                l->price = 9999999;
            }
        }
        r->lines = rc->lines;
        r->nlines = nl;
    }
    return v;
}

static void json_pstr(strbuf *o, promo_str s) {
    sb_json_str(o, s.p ? s.p : "", s.n);
}

static void json_kvs(strbuf *o, const promo_kv *kv, uint32_t n) {
    sb_putc(o, '{');
    for (uint32_t k = 0; k < n; k++) {
        if (k) sb_putc(o, ',');
        json_pstr(o, kv[k].key);
        sb_putc(o, ':');
        json_pstr(o, kv[k].value);
    }
    sb_putc(o, '}');
}

static void json_qty(strbuf *o, int64_t q) {
    if (q % 1000 == 0)
        sb_printf(o, "%lld", (long long)(q / 1000));
    else
        sb_printf(o, "%lld.%03lld", (long long)(q / 1000), (long long)(q % 1000));
}

void rs_receipt_json(const promo_receipt *r, strbuf *o) {
    static const char *const pay[] = {"cash", "card", "credit", "bonus", "mixed"};
    char date[11];
    civil_format(r->date, date);
    sb_puts(o, "{\"id\":");
    json_pstr(o, r->id);
    if (r->store.p) {
        sb_puts(o, ",\"store\":");
        json_pstr(o, r->store);
    }
    if (r->region.p) {
        sb_puts(o, ",\"region\":");
        json_pstr(o, r->region);
    }
    sb_printf(o, ",\"channel\":\"%s\",\"time\":\"%sT%02d:%02d:%02d\",\"payment\":\"%s\"",
              r->channel ? "online" : "pos", date, r->time / 3600, r->time / 60 % 60, r->time % 60,
              pay[r->payment % 5]);
    sb_puts(o, ",\"points_paid\":");
    sb_money(o, r->points_paid);
    sb_puts(o, ",\"codes\":[");
    for (uint32_t k = 0; k < r->ncodes; k++) {
        if (k) sb_putc(o, ',');
        json_pstr(o, r->codes[k]);
    }
    sb_puts(o, "],\"attrs\":");
    json_kvs(o, r->attrs, r->nattrs);
    const promo_customer *c = r->customer;
    if (c) {
        sb_puts(o, ",\"customer\":{");
        int first = 1;
#define SEP() (first ? (first = 0, "") : ",")
        if (c->id.p) {
            sb_printf(o, "%s\"id\":", SEP());
            json_pstr(o, c->id);
        }
        if (c->card.p) {
            sb_printf(o, "%s\"card\":", SEP());
            json_pstr(o, c->card);
        }
        sb_printf(o, "%s\"segments\":[", SEP());
        for (uint32_t k = 0; k < c->nsegments; k++) {
            if (k) sb_putc(o, ',');
            json_pstr(o, c->segments[k]);
        }
        sb_putc(o, ']');
        if (c->tier.p) {
            sb_puts(o, ",\"tier\":");
            json_pstr(o, c->tier);
        }
        if (c->has_birthday) {
            char bd[11];
            civil_format(c->birthday, bd);
            sb_printf(o, ",\"birthday\":\"%s\"", bd);
        }
        if (c->registered >= 0)
            sb_printf(o, ",\"registered\":%s", c->registered ? "true" : "false");
        if (c->nattrs) {
            sb_puts(o, ",\"attrs\":");
            json_kvs(o, c->attrs, c->nattrs);
        }
#undef SEP
        sb_putc(o, '}');
    }
    sb_puts(o, ",\"lines\":[");
    for (uint32_t i = 0; i < r->nlines; i++) {
        const promo_line *l = &r->lines[i];
        sb_puts(o, i ? ",{\"sku\":" : "{\"sku\":");
        json_pstr(o, l->sku);
        if (l->category.p) {
            sb_puts(o, ",\"category\":");
            json_pstr(o, l->category);
        }
        if (l->brand.p) {
            sb_puts(o, ",\"brand\":");
            json_pstr(o, l->brand);
        }
        sb_puts(o, ",\"qty\":");
        json_qty(o, l->qty);
        sb_puts(o, ",\"price\":");
        sb_money(o, l->price);
        if (l->excluded) sb_puts(o, ",\"excluded\":true");
        sb_putc(o, '}');
    }
    sb_puts(o, "]}");
}

/* ------------------------------------------------------- stateful sets ---- */

char *rs_stateful_source(uint64_t seed) {
    rs_rng g;
    rs_seed(&g, seed ^ 0x5747e5ull);
    strbuf out = STRBUF_INIT;
    sb_printf(&out, "# stateful campaign set, seed %llu\ngroup disc, pts\n\n",
              (unsigned long long)seed);
    static const char *const when[] = {
        "history.visits(1 days) >= 2",
        "history.visits(7 days) >= 3",
        "history.visits(30 days) >= 4",
        "history.sum(lines where category \"dairy\", 2 days) >= 300",
        "history.sum(lines, 7 days) >= 1000",
        "history.count(lines where sku \"101\", 14 days) >= 3",
        "history.count(lines where category \"drinks\", 1 days) >= 2",
        "sum(lines) >= 200",
    };
    static const char *const reward[] = {
        "discount 10% on lines where category \"dairy\"",
        "discount 5% on receipt",
        "discount 30 on receipt",
        "discount 15 each on lines where category \"drinks\"",
        "buy 2 get 1 free on lines where category \"dairy\"",
        "points 5% of paid",
        "points 10% of paid on lines where category \"fruit\"",
        "points 25",
        "coupon \"BACK\"",
        "discount 3% on lines; points 2% of paid",
    };
    static const char *const per[] = {"", " per day", " per week", " per month"};
    static const char *const budgets[] = {"1.00", "5.00", "20", "100", "500", "2000"};
    int n = 3 + (int)rs_below(&g, 6);
    for (int k = 0; k < n; k++) {
        sb_printf(&out, "campaign s%d {\n    priority %d\n", k, 10 * (int)rs_below(&g, 3));
        if (rs_chance(&g, 30))
            sb_printf(&out, "    group %s\n    combine with %s\n",
                      rs_chance(&g, 50) ? "disc" : "pts", rs_chance(&g, 50) ? "pts" : "disc");
        if (rs_chance(&g, 55)) sb_printf(&out, "    when %s\n", PICK(&g, when));
        sb_printf(&out, "    then %s\n", PICK(&g, reward));
        int limited = rs_chance(&g, 55);
        if (limited)
            sb_printf(&out, "    limit %u per customer%s\n", 1 + rs_below(&g, 3), PICK(&g, per));
        if (!limited || rs_chance(&g, 40))
            sb_printf(&out, "    budget %s%s\n", PICK(&g, budgets),
                      rs_chance(&g, 50) ? " partial" : "");
        sb_puts(&out, "}\n\n");
    }
    char *s = strdup(sb_cstr(&out));
    sb_free(&out);
    return s;
}

rs_receipt *rs_stateful_receipts(uint64_t seed, size_t n) {
    rs_receipt *v = rs_receipts(seed, n);
    rs_rng g;
    rs_seed(&g, seed ^ 0x57a7ef11ull);
    /* Calendar corners: a year end inside one ISO week, 29 February, month ends. */
    static const int anchors[][3] = {{2026, 12, 24}, {2028, 2, 22}, {2027, 5, 26}, {2027, 8, 28}};
    const int *a = anchors[rs_below(&g, 4)];
    int32_t d = civil_days(a[0], (unsigned)a[1], (unsigned)a[2]);
    for (size_t k = 0; k < n; k++) {
        unsigned r = rs_below(&g, 100);
        d += r < 30 ? 0 : r < 80 ? 1 : r < 92 ? 2 + (int32_t)rs_below(&g, 5) : -1;
        v[k].r.date = d;
        if (v[k].r.nlines == 0) { /* keep receipts non-empty: they carry history */
            v[k].lines[0] = (promo_line){S("101"), S("dairy/milk"), S("Prost"), 2000, 15000, 0};
            v[k].r.nlines = 1;
        }
    }
    return v;
}
