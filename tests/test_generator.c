/*
 * test_generator.c — the workload generator (bench/gen.c, the input stage of the
 * benchmarks): determinism, seed sensitivity, the campaign mix, receipt shape, and
 * that every generated set compiles without errors.
 *
 * gen.c is compiled into this test directly, so the test builds in every
 * configuration, the sanitizer builds without bench/ included.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "../bench/gen.c"
#include "civil.h"
#include "compile.h"
#include "hash.h"
#include "strbuf.h"

static void rules(uint64_t seed, uint32_t n, strbuf out[GEN_RULE_FILES], gen_rules_stats *st) {
    for (int f = 0; f < GEN_RULE_FILES; f++)
        out[f] = (strbuf)STRBUF_INIT;
    gen_rules(seed, n, out, st);
}

static void free_rules(strbuf out[GEN_RULE_FILES]) {
    for (int f = 0; f < GEN_RULE_FILES; f++)
        sb_free(&out[f]);
}

static void jsonl(uint64_t seed, size_t n, uint32_t lines, strbuf *out) {
    gen_arena *a = gen_arena_new();
    for (size_t i = 0; i < n; i++) {
        promo_receipt r;
        gen_arena_reset(a);
        gen_receipt(a, seed, i, lines, &r);
        gen_receipt_json(&r, out);
        sb_putc(out, '\n');
    }
    gen_arena_free(a);
}

static int same(const strbuf *a, const strbuf *b) {
    return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

/* Occurrences of `needle` in the text. */
static size_t count(const strbuf *b, const char *needle) {
    size_t n = 0, k = strlen(needle);
    for (const char *p = sb_cstr((strbuf *)b); (p = strstr(p, needle)) != NULL; p += k)
        n++;
    return n;
}

static size_t count_all(const strbuf files[GEN_RULE_FILES], const char *needle) {
    size_t n = 0;
    for (int f = 0; f < GEN_RULE_FILES; f++)
        n += count(&files[f], needle);
    return n;
}

Test(generator, pcg32_reference_stream) {
    /* The first outputs of the stream are pinned: a change to the generator's
     * arithmetic changes every workload and must be deliberate. */
    gen_rng r;
    gen_rng_seed(&r, 42, 54);
    uint32_t a = gen_rng_u32(&r), b = gen_rng_u32(&r), c = gen_rng_u32(&r);
    gen_rng r2;
    gen_rng_seed(&r2, 42, 54);
    cr_assert_eq(gen_rng_u32(&r2), a);
    cr_assert_eq(gen_rng_u32(&r2), b);
    cr_assert_eq(gen_rng_u32(&r2), c);
    cr_assert(a != b && b != c);
    gen_rng_seed(&r2, 43, 54);
    cr_assert_neq(gen_rng_u32(&r2), a);
    gen_rng_seed(&r2, 42, 55);
    cr_assert_neq(gen_rng_u32(&r2), a);
    /* gen_rng_below stays in range and reaches both ends. */
    int lo = 0, hi = 0;
    for (int i = 0; i < 10000; i++) {
        uint32_t x = gen_rng_below(&r, 7);
        cr_assert_lt(x, 7u);
        lo |= x == 0;
        hi |= x == 6;
    }
    cr_assert(lo && hi);
}

Test(generator, same_seed_same_bytes) {
    strbuf a[GEN_RULE_FILES], b[GEN_RULE_FILES];
    rules(7, 400, a, NULL);
    rules(7, 400, b, NULL);
    for (int f = 0; f < GEN_RULE_FILES; f++) {
        cr_assert_gt(a[f].len, 100u, "file %s is nearly empty", gen_rule_file_names[f]);
        cr_assert(same(&a[f], &b[f]), "file %s differs between two runs", gen_rule_file_names[f]);
    }
    free_rules(a);
    free_rules(b);

    strbuf ra = STRBUF_INIT, rb = STRBUF_INIT;
    jsonl(7, 3000, 0, &ra);
    jsonl(7, 3000, 0, &rb);
    cr_assert_gt(ra.len, 3000u * 200);
    cr_assert(same(&ra, &rb));
    /* Receipt i does not depend on what was drawn before it: the in-memory set, drawn
     * into one arena, gives the stream's lines. */
    gen_receipts g;
    gen_receipts_make(&g, 7, 3000, 0);
    const char *p = ra.data;
    for (size_t i = 0; i < g.n; i++) {
        strbuf one = STRBUF_INIT;
        gen_receipt_json(&g.r[i], &one);
        sb_putc(&one, '\n');
        cr_assert(memcmp(p, one.data, one.len) == 0, "receipt %zu differs", i);
        p += one.len;
        sb_free(&one);
    }
    cr_assert_eq((size_t)(p - ra.data), ra.len);
    gen_receipts_free(&g);
    sb_free(&ra);
    sb_free(&rb);
}

/* The bytes of seed 1 are pinned, so a compiler (gcc vs clang evaluate arguments in
 * different orders), an optimization level or an edit that changes the workload is
 * caught. A deliberate change to the generator updates these digests. */
Test(generator, pinned_digests_of_seed_1) {
    strbuf f[GEN_RULE_FILES];
    rules(1, 400, f, NULL);
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    for (int k = 0; k < GEN_RULE_FILES; k++)
        XXH3_64bits_update(&st, f[k].data, f[k].len);
    unsigned long long h = (unsigned long long)XXH3_64bits_digest(&st);
    cr_assert_eq(h, 0xb0bd45b767d588ccull, "rules digest %016llx", h);
    free_rules(f);
    strbuf j = STRBUF_INIT;
    jsonl(1, 1000, 0, &j);
    cr_assert_eq(j.len, 1295857u);
    h = (unsigned long long)XXH3_64bits(j.data, j.len);
    cr_assert_eq(h, 0x2cb923aa907b6404ull, "receipts digest %016llx", h);
    sb_free(&j);
}

Test(generator, different_seed_different_bytes) {
    strbuf a[GEN_RULE_FILES], b[GEN_RULE_FILES];
    rules(1, 400, a, NULL);
    rules(2, 400, b, NULL);
    for (int f = 1; f < GEN_RULE_FILES; f++)
        cr_assert(!same(&a[f], &b[f]), "file %s is the same for seeds 1 and 2",
                  gen_rule_file_names[f]);
    free_rules(a);
    free_rules(b);
    strbuf ra = STRBUF_INIT, rb = STRBUF_INIT;
    jsonl(1, 100, 0, &ra);
    jsonl(2, 100, 0, &rb);
    cr_assert(!same(&ra, &rb));
    /* Not merely shifted: the first receipts differ already. */
    cr_assert(memcmp(ra.data, rb.data, 200) != 0);
    sb_free(&ra);
    sb_free(&rb);
}

Test(generator, smaller_set_is_a_prefix) {
    strbuf a[GEN_RULE_FILES], b[GEN_RULE_FILES];
    rules(9, 100, a, NULL);
    rules(9, 1000, b, NULL);
    for (int f = 1; f < GEN_RULE_FILES; f++) {
        cr_assert_lt(a[f].len, b[f].len);
        cr_assert(memcmp(a[f].data, b[f].data, a[f].len) == 0,
                  "%s of 100 campaigns is not a "
                  "prefix of the one of 1000",
                  gen_rule_file_names[f]);
    }
    free_rules(a);
    free_rules(b);
}

Test(generator, campaign_mix_of_400) {
    strbuf f[GEN_RULE_FILES];
    gen_rules_stats st;
    rules(3, 400, f, &st);
    cr_assert_eq(count_all(f, "\ncampaign c"), 400u);
    uint32_t sum = 0;
    for (int m = 0; m < GEN__M_COUNT; m++) {
        cr_assert_geq(st.mechanic[m], 4u, "mechanic '%s' has only %u campaigns",
                      gen_mechanic_names[m], st.mechanic[m]);
        sum += st.mechanic[m];
    }
    cr_assert_eq(sum, 400u);
    /* Every mechanic of SPEC 3.2, found in the text itself. */
    static const char *const needles[] = {
        "% on lines where", " each on lines where", "% on receipt",
        " on receipt\n",    "then     price ",      " free on lines",
        "% off on lines",   "then     bundle ",     " of paid on lines",
        "of paid\n",        " activate in ",        " expire in ",
        "coupon \"",        "message \"",           "spend_limit ",
        " if total < ",     "; message \"",         "; points "};
    for (size_t i = 0; i < sizeof needles / sizeof *needles; i++)
        cr_assert_gt(count_all(f, needles[i]), 0u, "no '%s' in the set", needles[i]);
    cr_assert_gt(count_all(f, "\n    then     points 50 activate in") +
                     count_all(f, "\n    then     points 100 activate in") +
                     count_all(f, "\n    then     points 200 activate in") +
                     count_all(f, "\n    then     points 500 activate in"),
                 0u, "no fixed points with activation");
    /* Targeting, compatibility, limits, history, sets. */
    static const char *const clauses[] = {
        "    active   2027-",   "    days     ",     "    hours    ",
        "22:00 .. 06:00",       "    stores   ",     "region \"",
        "    channel  online",  "    channel  pos",  "    card     ",
        "    segment  ",        "    code     ",     "    group    g_",
        "    combine  with ",   "    combine  none", "    stop\n",
        " per receipt\n",       " per customer",     "    budget   ",
        " partial\n",           "history.visits(",   "history.sum(",
        "birthday within",      "sum(lines where",   "count(lines where",
        "distinct(lines where", "attr \"weather\"",  "payment "};
    for (size_t i = 0; i < sizeof clauses / sizeof *clauses; i++)
        cr_assert_gt(count_all(f, clauses[i]), 0u, "no '%s' in the set", clauses[i]);
    cr_assert_eq(count_all(f, "\n    stop\n"), st.stop);
    cr_assert_eq(count(&f[0], "\nset s_"), st.sets);
    cr_assert_geq(st.sets, 20u);
    cr_assert_eq(st.groups, 6u);
    /* Realistic proportions: most campaigns target narrowly, few stop. */
    cr_assert(st.active > 150 && st.active < 300, "active: %u", st.active);
    cr_assert(st.stop > 0 && st.stop < 20, "stop: %u", st.stop);
    cr_assert(st.when > 150, "when: %u", st.when);
    free_rules(f);
}

Test(generator, receipts_in_range) {
    gen_receipts g;
    gen_receipts_make(&g, 5, 20000, 0);
    cr_assert_eq(g.n, 20000u);
    size_t lines = 0, weight = 0, excluded = 0, customers = 0, codes = 0, online = 0;
    size_t pays[5] = {0}, hours[24] = {0}, minlines = 1000, maxlines = 0;
    int32_t mind = INT32_MAX, maxd = INT32_MIN;
    for (size_t i = 0; i < g.n; i++) {
        const promo_receipt *r = &g.r[i];
        cr_assert(r->nlines >= 1 && r->nlines <= GEN_MAX_LINES, "receipt %zu: %u lines", i,
                  r->nlines);
        if (r->nlines < minlines) minlines = r->nlines;
        if (r->nlines > maxlines) maxlines = r->nlines;
        lines += r->nlines;
        cr_assert(r->payment >= 0 && r->payment < 5);
        pays[r->payment]++;
        cr_assert(r->time >= 0 && r->time < 86400);
        hours[r->time / 3600]++;
        if (r->date < mind) mind = r->date;
        if (r->date > maxd) maxd = r->date;
        customers += r->customer != NULL;
        codes += r->ncodes > 0;
        online += r->channel == PROMO_CHANNEL_ONLINE;
        cr_assert(r->points_paid >= 0);
        for (uint32_t j = 0; j < r->nlines; j++) {
            const promo_line *l = &r->lines[j];
            cr_assert(l->qty > 0 && l->price > 0);
            cr_assert(l->sku.n == 6 && l->category.n > 0 && l->brand.n > 0);
            weight += l->qty % 1000 != 0;
            if (l->excluded) {
                excluded++;
                cr_assert(l->category.n > 7 && memcmp(l->category.p, "tobacco", 7) == 0);
            }
        }
    }
    cr_assert_eq(lines, g.nlines);
    cr_assert_eq(minlines, 1u);
    cr_assert_eq(maxlines, GEN_MAX_LINES);
    /* Mean about 12 lines (20,000 receipts: the sample mean is within 0.2 of 12.2). */
    cr_assert(lines >= 20000 * 115 / 10 && lines <= 20000 * 13, "mean %zu/20000", lines);
    cr_assert(weight > lines / 20 && weight < lines / 3, "weight lines: %zu of %zu", weight, lines);
    cr_assert(excluded > lines / 500 && excluded < lines / 25, "excluded: %zu", excluded);
    cr_assert(customers > 15000 && customers < 17000, "customers: %zu", customers);
    cr_assert(codes > 800 && codes < 1700, "codes: %zu", codes);
    cr_assert(online > 1000 && online < 2300, "online: %zu", online);
    for (int p = 0; p < 5; p++)
        cr_assert_gt(pays[p], 200u, "payment %d: %zu", p, pays[p]);
    for (int h = 0; h < 24; h++)
        cr_assert_gt(hours[h], 0u, "no receipt at hour %d", h);
    cr_assert_gt(hours[18], hours[3] * 5, "evening peak expected");
    cr_assert_eq(mind, civil_days(GEN_YEAR, 1, 1));
    cr_assert_eq(maxd, civil_days(GEN_YEAR, 12, 31));
    gen_receipts_free(&g);
}

Test(generator, fixed_lines_per_receipt) {
    gen_receipts g;
    gen_receipts_make(&g, 5, 200, 25);
    for (size_t i = 0; i < g.n; i++)
        cr_assert_eq(g.r[i].nlines, 25u);
    cr_assert_eq(g.nlines, 200u * 25);
    gen_receipts_free(&g);
}

Test(generator, customers_from_their_number) {
    gen_arena *a = gen_arena_new();
    promo_customer *c1 = gen_customer(a, 4242), *c2 = gen_customer(a, 4242);
    cr_assert_eq(c1->id.n, 5u);
    cr_assert(memcmp(c1->id.p, "c4242", 5) == 0);
    cr_assert_eq(c1->nsegments, c2->nsegments);
    cr_assert_eq(c1->has_birthday, c2->has_birthday);
    cr_assert_eq(c1->birthday, c2->birthday);
    cr_assert_eq(c1->card.n, c2->card.n);
    /* Segments, cards and birthdays vary over the population. */
    size_t seg = 0, card = 0, bday = 0;
    for (uint32_t n = 1; n <= 10000; n++) {
        gen_arena_reset(a);
        promo_customer *c = gen_customer(a, n);
        seg += c->nsegments > 0;
        card += c->card.p != NULL;
        bday += c->has_birthday;
    }
    cr_assert(seg > 3000 && seg < 7000, "with segments: %zu", seg);
    cr_assert(card > 6000 && card < 8000, "with a card: %zu", card);
    cr_assert(bday > 8500 && bday < 9500, "with a birthday: %zu", bday);
    gen_arena_free(a);
}

Test(generator, receipt_json_shape) {
    gen_arena *a = gen_arena_new();
    promo_receipt r;
    gen_receipt(a, 11, 17, 3, &r);
    /* A hand-made receipt through the same writer, to pin the format. */
    promo_line ln = {{"1001", 4}, {"dairy/milk", 10}, {"Prost", 5}, 2000, 8990, 0};
    promo_line w = {{"2002", 4}, {"meat/beef", 9}, {NULL, 0}, 1250, 59900, 1};
    promo_line lines[2] = {ln, w};
    promo_str seg = {"pensioner", 9}, code = {"SUMMER", 6};
    promo_kv kv = {{"weather", 7}, {"rain", 4}};
    promo_customer c = {{"c42", 3}, {"zabota", 6},          {"gold", 4}, &seg, 1,
                        1,          civil_days(1950, 6, 7), -1,          NULL, 0};
    promo_receipt h = {sizeof h,
                       {"r1", 2},
                       {"101", 3},
                       {"msk", 3},
                       PROMO_CHANNEL_POS,
                       PROMO_PAY_CARD,
                       0,
                       civil_days(2026, 6, 5),
                       10 * 3600 + 15 * 60,
                       &code,
                       1,
                       &kv,
                       1,
                       &c,
                       lines,
                       2};
    strbuf b = STRBUF_INIT;
    gen_receipt_json(&h, &b);
    cr_assert_str_eq(
        sb_cstr(&b),
        "{\"id\":\"r1\",\"store\":101,\"region\":\"msk\",\"channel\":\"pos\","
        "\"time\":\"2026-06-05T10:15:00\",\"payment\":\"card\",\"codes\":[\"SUMMER\"],"
        "\"attrs\":{\"weather\":\"rain\"},\"customer\":{\"id\":\"c42\",\"card\":\"zabota\","
        "\"segments\":[\"pensioner\"],\"tier\":\"gold\",\"birthday\":\"1950-06-07\"},"
        "\"lines\":[{\"sku\":\"1001\",\"category\":\"dairy/milk\",\"brand\":\"Prost\","
        "\"qty\":2,\"price\":89.90},{\"sku\":\"2002\",\"category\":\"meat/beef\","
        "\"qty\":1.250,\"price\":599.00,\"excluded\":true}]}");
    b.len = 0;
    gen_receipt_json(&r, &b);
    cr_assert(strncmp(sb_cstr(&b), "{\"id\":\"r17\",\"store\":", 20) == 0, "%s", sb_cstr(&b));
    cr_assert_eq(count(&b, "{\"sku\":"), 3u);
    sb_free(&b);
    gen_arena_free(a);
}

static void assert_compiles(uint64_t seed, uint32_t n) {
    strbuf f[GEN_RULE_FILES];
    rules(seed, n, f, NULL);
    /* Warnings count: a set must be lint-clean (`promo check --werror`, as bench/run.sh
     * checks). Spend limits apply from a receipt total on, so none shadows a later one
     * (W006). */
    compile_opts opts = {INT32_MIN, 0};
    compilation c;
    comp_init(&c, &opts);
    for (int k = 0; k < GEN_RULE_FILES; k++)
        comp_add_source(&c, gen_rule_file_names[k], f[k].data, f[k].len);
    strbuf bundle = STRBUF_INIT;
    size_t errors = comp_build(&c, &bundle);
    for (size_t k = 0; k < c.diags.n; k++)
        if (c.diags.items[k].sev == DIAG_WARNING) errors++;
    strbuf msg = STRBUF_INIT;
    if (errors) diag_render_text(&c.diags, &msg, 0);
    cr_assert_eq(errors, 0u, "seed %llu, %u campaigns: %zu errors\n%.4000s",
                 (unsigned long long)seed, n, errors, sb_cstr(&msg));
    cr_assert_gt(bundle.len, 64u);
    sb_free(&msg);
    sb_free(&bundle);
    comp_free(&c);
    free_rules(f);
}

Test(generator, sets_compile_without_errors, .timeout = 300) {
    assert_compiles(1, 10);
    assert_compiles(1, 400);
    assert_compiles(2, 400);
    assert_compiles(3, 1000);
}

static int str_eq(promo_str a, promo_str b) {
    return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

/* The JSON the generator writes reads back (libpromo's parser) as the receipt it was
 * written from, and both evaluate alike against a 400-campaign set. */
Test(generator, json_reads_back_as_the_same_receipt, .timeout = 300) {
    strbuf f[GEN_RULE_FILES];
    rules(1, 400, f, NULL);
    compile_opts opts = {INT32_MIN, 0};
    compilation c;
    comp_init(&c, &opts);
    for (int k = 0; k < GEN_RULE_FILES; k++)
        comp_add_source(&c, gen_rule_file_names[k], f[k].data, f[k].len);
    strbuf bundle = STRBUF_INIT;
    cr_assert_eq(comp_build(&c, &bundle), 0u);
    promo_bundle *b = NULL;
    char err[256];
    cr_assert_eq(promo_bundle_load_memory(bundle.data, bundle.len, &b, err, sizeof err), PROMO_OK,
                 "%s", err);
    promo_engine *e = NULL;
    cr_assert_eq(promo_engine_new(b, NULL, &e), PROMO_OK);
    promo_ctx *pc = NULL, *ec = NULL;
    cr_assert_eq(promo_ctx_new(e, 0, &pc), PROMO_OK);
    cr_assert_eq(promo_ctx_new(e, 0, &ec), PROMO_OK);

    gen_receipts g;
    gen_receipts_make(&g, 4, 2000, 0);
    strbuf line = STRBUF_INIT;
    for (size_t i = 0; i < g.n; i++) {
        const promo_receipt *w = &g.r[i], *r = NULL;
        line.len = 0;
        gen_receipt_json(w, &line);
        sb_zero(&line, PROMO_JSON_PADDING);
        promo_str id;
        cr_assert_eq(
            promo_receipt_parse_json(pc, line.data, line.len - PROMO_JSON_PADDING, &r, &id),
            PROMO_OK, "receipt %zu: %s", i, promo_ctx_errmsg(pc));
        cr_assert(str_eq(r->id, w->id) && str_eq(r->store, w->store) &&
                  str_eq(r->region, w->region));
        cr_assert_eq(r->channel, w->channel);
        cr_assert_eq(r->payment, w->payment);
        cr_assert_eq(r->points_paid, w->points_paid);
        cr_assert_eq(r->date, w->date);
        cr_assert_eq(r->time, w->time);
        cr_assert_eq(r->ncodes, w->ncodes);
        for (uint32_t k = 0; k < r->ncodes; k++)
            cr_assert(str_eq(r->codes[k], w->codes[k]));
        cr_assert_eq(r->nattrs, w->nattrs);
        cr_assert(str_eq(r->attrs[0].key, w->attrs[0].key) &&
                  str_eq(r->attrs[0].value, w->attrs[0].value));
        cr_assert_eq(r->customer != NULL, w->customer != NULL, "receipt %zu: customer", i);
        if (w->customer) {
            const promo_customer *a = r->customer, *x = w->customer;
            cr_assert(str_eq(a->id, x->id) && str_eq(a->card, x->card) && str_eq(a->tier, x->tier));
            cr_assert_eq(a->nsegments, x->nsegments);
            for (uint32_t k = 0; k < a->nsegments; k++)
                cr_assert(str_eq(a->segments[k], x->segments[k]));
            cr_assert_eq(a->has_birthday, x->has_birthday);
            if (x->has_birthday) cr_assert_eq(a->birthday, x->birthday);
        }
        cr_assert_eq(r->nlines, w->nlines);
        for (uint32_t k = 0; k < r->nlines; k++) {
            const promo_line *a = &r->lines[k], *x = &w->lines[k];
            cr_assert(str_eq(a->sku, x->sku) && str_eq(a->category, x->category) &&
                      str_eq(a->brand, x->brand));
            cr_assert_eq(a->qty, x->qty, "receipt %zu line %u", i, k);
            cr_assert_eq(a->price, x->price);
            cr_assert_eq(!!a->excluded, !!x->excluded);
        }
        const promo_result *ra, *rb;
        cr_assert_eq(promo_eval(pc, r, &ra), PROMO_OK);
        cr_assert_eq(promo_eval(ec, w, &rb), PROMO_OK);
        cr_assert_eq(ra->total, rb->total);
        cr_assert_eq(ra->discount, rb->discount, "receipt %zu", i);
        cr_assert_eq(ra->napplied, rb->napplied);
        cr_assert_eq(ra->npoints, rb->npoints);
    }
    sb_free(&line);
    gen_receipts_free(&g);
    promo_ctx_free(pc);
    promo_ctx_free(ec);
    promo_engine_free(e);
    promo_bundle_release(b);
    sb_free(&bundle);
    comp_free(&c);
    free_rules(f);
}
