/*
 * test_shapes.c — every shape of campaign set the generator draws (bench/gen.h
 * GEN_SHAPE_LIST) compiles without a diagnostic, and the evaluator's fast paths (the
 * prefilter index: candidate bitsets, line atoms, needed atoms, line memo and mask
 * programs, history slot skips) give byte for byte the results of the plain VM
 * (PROMO_CTX_PLAIN: every clause and every instruction run as written; a `when total >= X`
 * through the VM's R_TOTAL_GE, not the engine's test of it) on receipts of
 * that shape, with state committed as it goes (history, limits, budgets); and the
 * packed form of each result (the journal's stored result, result_json.h), unpacked,
 * is its text byte for byte, with and without "explain".
 *
 * gen.c is compiled into this test directly (as in test_generator.c).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "../bench/gen.c"
#include "compile.h"
#include "prefilter.h"
#include "result_json.h"
#include "strbuf.h"

#define SHAPE_CAMPAIGNS 400
#define SHAPE_RECEIPTS  400

/* The bundle of a shape's set; its compile diagnostics counted in *ndiag. */
static promo_bundle *shape_bundle(gen_shape shape, uint32_t n, size_t *ndiag) {
    strbuf src[GEN_RULE_FILES];
    for (int f = 0; f < GEN_RULE_FILES; f++)
        src[f] = (strbuf)STRBUF_INIT;
    gen_rules_shape(7, n, shape, src, NULL);
    compile_opts opts = {INT32_MIN, 0};
    compilation c;
    comp_init(&c, &opts);
    for (int f = 0; f < GEN_RULE_FILES; f++)
        comp_add_source(&c, gen_rule_file_names[f], src[f].data, src[f].len);
    strbuf out = STRBUF_INIT;
    size_t errors = comp_build(&c, &out);
    *ndiag = c.diags.n;
    if (c.diags.n) {
        strbuf msg = STRBUF_INIT;
        diag_render_text(&c.diags, &msg, 0);
        cr_log_error("%s: %s", gen_shape_names[shape], sb_cstr(&msg));
        sb_free(&msg);
    }
    comp_free(&c);
    for (int f = 0; f < GEN_RULE_FILES; f++)
        sb_free(&src[f]);
    promo_bundle *b = NULL;
    char err[256] = "";
    if (!errors)
        cr_assert_eq(promo_bundle_load_memory(out.data, out.len, &b, err, sizeof err), PROMO_OK,
                     "%s: %s", gen_shape_names[shape], err);
    sb_free(&out);
    return b;
}

/* The packed form of r, unpacked, is its text; and it is shorter. */
static void packed_is_text(const promo_result *r, gen_shape shape, uint32_t i) {
    static char text[1 << 16], packed[1 << 16], back[OUT_PK_MAX << 16];
    size_t lt = promo_result_to_json(r, text, sizeof text);
    size_t lp = out_result_packed(r, packed, sizeof packed);
    cr_assert(lt < sizeof text && lp < sizeof packed);
    cr_assert_lt(lp, lt, "%s, receipt %u: packed %zu of %zu bytes", gen_shape_names[shape], i, lp,
                 lt);
    size_t lb = out_unpack(packed, lp, back);
    cr_assert(lb == lt && memcmp(back, text, lt) == 0,
              "%s, receipt %u: the packed result does not unpack to its text\ntext:     %.*s\n"
              "unpacked: %.*s",
              gen_shape_names[shape], i, (int)lt, text, (int)lb, back);
}

static void check_shape(gen_shape shape) {
    size_t ndiag = 0;
    promo_bundle *b = shape_bundle(shape, SHAPE_CAMPAIGNS, &ndiag);
    cr_assert_not_null(b, "%s does not compile", gen_shape_names[shape]);
    cr_expect_eq(ndiag, 0, "%s: %zu diagnostics", gen_shape_names[shape], ndiag);
    /* the fast `when total >= X` (R_TOTAL_GE alone) is there to be compared: every shape
     * has spend limits from a total on, but heavy_when gives every campaign aggregates */
    pf_index *ix = NULL;
    cr_assert_eq(pf_build(b, NULL, &ix), PROMO_OK);
    uint32_t when_total = 0;
    for (uint32_t ci = 0; ci < ix->ncampaigns; ci++)
        when_total += ix->creq[ci].when_total != PB_NONE;
    pf_free(ix);
    cr_log_info("%s: %u campaigns with `when total >= X` alone", gen_shape_names[shape],
                when_total);
    cr_expect_geq(when_total,
                  shape == GEN_SHAPE_default      ? 50u
                  : shape == GEN_SHAPE_heavy_when ? 0u
                                                  : 1u,
                  "%s: %u `when total >= X`", gen_shape_names[shape], when_total);
    promo_engine *e = NULL;
    cr_assert_eq(promo_engine_new(b, NULL, &e), PROMO_OK);
    promo_bundle_release(b);
    promo_ctx *fast = NULL, *plain = NULL, *ex = NULL;
    cr_assert_eq(promo_ctx_new(e, 0, &fast), PROMO_OK);
    cr_assert_eq(promo_ctx_new(e, PROMO_CTX_PLAIN, &plain), PROMO_OK);
    cr_assert_eq(promo_ctx_new(e, PROMO_CTX_EXPLAIN, &ex), PROMO_OK);
    gen_arena *a = gen_arena_new();
    static char ja[1 << 16], jb[1 << 16];
    int64_t discount = 0, points = 0;
    uint32_t applied = 0;
    for (uint32_t i = 0; i < SHAPE_RECEIPTS; i++) {
        promo_receipt r;
        gen_arena_reset(a);
        gen_receipt_shape(a, 7, i, 0, shape, &r);
        const promo_result *rf, *rp, *rx;
        cr_assert_eq(promo_eval(ex, &r, &rx), PROMO_OK, "%s", promo_ctx_errmsg(ex));
        cr_assert_not_null(rx->explain);
        packed_is_text(rx, shape, i);
        cr_assert_eq(promo_eval(plain, &r, &rp), PROMO_OK, "%s", promo_ctx_errmsg(plain));
        size_t lp = promo_result_to_json(rp, jb, sizeof jb);
        cr_assert_eq(promo_eval(fast, &r, &rf), PROMO_OK, "%s", promo_ctx_errmsg(fast));
        size_t lf = promo_result_to_json(rf, ja, sizeof ja);
        cr_assert(lf < sizeof ja && lp < sizeof jb);
        cr_assert(lf == lp && memcmp(ja, jb, lf) == 0,
                  "%s, receipt %u: fast paths and plain VM differ\nfast:  %.*s\nplain: %.*s",
                  gen_shape_names[shape], i, (int)lf, ja, (int)lp, jb);
        packed_is_text(rf, shape, i);
        discount += rf->discount;
        applied += rf->napplied;
        for (uint32_t k = 0; k < rf->npoints; k++)
            points += rf->points[k].points;
        /* State moves on (history, limits, budgets) for the next receipts. */
        cr_assert_eq(promo_commit(fast), PROMO_OK, "%s", promo_ctx_errmsg(fast));
    }
    /* The comparison is about real outcomes: every shape gives discounts and points. */
    cr_expect_gt(discount, 0, "%s: no discount at all", gen_shape_names[shape]);
    cr_expect_gt(points, 0, "%s: no points at all", gen_shape_names[shape]);
    cr_expect_gt(applied, SHAPE_RECEIPTS, "%s: %u applications", gen_shape_names[shape], applied);
    gen_arena_free(a);
    promo_ctx_free(fast);
    promo_ctx_free(plain);
    promo_ctx_free(ex);
    promo_engine_free(e);
}

#define X(name, flags, doc)                                                                        \
    Test(shapes, fast_paths_equal_plain_vm_##name, .timeout = 300) {                               \
        check_shape(GEN_SHAPE_##name);                                                             \
    }
GEN_SHAPE_LIST(X)
#undef X

/* The shapes are what they say: spot checks on the sources and receipts. */
static size_t shape_count(gen_shape shape, const char *needle) {
    strbuf src[GEN_RULE_FILES];
    for (int f = 0; f < GEN_RULE_FILES; f++)
        src[f] = (strbuf)STRBUF_INIT;
    gen_rules_shape(7, SHAPE_CAMPAIGNS, shape, src, NULL);
    size_t n = 0, k = strlen(needle);
    for (int f = 0; f < GEN_RULE_FILES; f++) {
        for (const char *p = sb_cstr(&src[f]); (p = strstr(p, needle)) != NULL; p += k)
            n++;
        sb_free(&src[f]);
    }
    return n;
}

Test(shapes, each_shape_has_its_feature) {
    /* wide: about a fifth of 400 campaigns name a list of SKUs */
    size_t wide = shape_count(GEN_SHAPE_wide_skus, "sku in [");
    cr_expect(wide >= 50 && wide <= 130, "wide_skus: %zu SKU lists", wide);
    cr_expect_eq(shape_count(GEN_SHAPE_default, "sku in [") <= 40, 1);
    cr_expect_gt(shape_count(GEN_SHAPE_deep_cats, "category in ["), 100);
    cr_expect_gt(shape_count(GEN_SHAPE_heavy_when, "when "),
                 shape_count(GEN_SHAPE_default, "when ") + 150);
    cr_expect_gt(shape_count(GEN_SHAPE_groups, "group    g_dept_"), 20);
    cr_expect_gt(shape_count(GEN_SHAPE_time_windows, "hours "), 200);
    cr_expect_gt(shape_count(GEN_SHAPE_store_lists, "stores "), 150);
    /* receipts: four-level categories, uniform hours, flat SKUs */
    gen_arena *a = gen_arena_new();
    promo_receipt r;
    gen_receipt_shape(a, 7, 3, 5, GEN_SHAPE_deep_cats, &r);
    uint32_t slashes = 0;
    for (uint32_t k = 0; k < r.lines[0].category.n; k++)
        slashes += r.lines[0].category.p[k] == '/';
    cr_expect_eq(slashes, 3, "deep_cats: %.*s", (int)r.lines[0].category.n, r.lines[0].category.p);
    uint32_t night = 0;
    for (uint32_t i = 0; i < 2000; i++) {
        gen_arena_reset(a);
        gen_receipt_shape(a, 7, i, 1, GEN_SHAPE_time_windows, &r);
        night += r.time < 6 * 3600;
    }
    cr_expect(night > 350 && night < 650, "time_windows: %u of 2000 before 06:00", night);
    gen_arena_free(a);
}
