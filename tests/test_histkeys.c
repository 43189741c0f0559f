/*
 * test_histkeys.c — per-customer history is stored under keys the compiler derives from
 * what a history predicate means (compiler/codegen.c cg_pred_text): recompiling the same
 * rules after unrelated changes (campaigns added before them, sets renamed or reordered,
 * other constants, strings and blocks shifting every index, a set written inline instead
 * of by name) keeps every key, so stored history is never orphaned; different
 * predicates get different keys; and the key of one predicate is pinned, so a change of
 * derivation (opcode bytes, jump offsets) cannot slip in unnoticed.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "bundle.h"
#include "compile.h"
#include "strbuf.h"

static promo_bundle *hk_build(const char *src) {
    compilation c;
    compile_opts o = {INT32_MIN, 0};
    comp_init(&c, &o);
    comp_add_source(&c, "t.rule", src, strlen(src));
    strbuf out = STRBUF_INIT;
    cr_assert_eq(comp_build(&c, &out), 0, "does not compile:\n%s", src);
    comp_free(&c);
    promo_bundle *b = NULL;
    cr_assert_eq(promo_bundle_load_memory(out.data, out.len, &b, NULL, 0), PROMO_OK);
    sb_free(&out);
    return b;
}

static int hk_has(const promo_bundle *b, uint64_t key) {
    for (uint32_t i = 0; i < b->nhist; i++)
        if (b->hist[i].key == key) return 1;
    return 0;
}

static const char hk_a[] =
    "set coffee = category \"coffee\"\n"
    "campaign loyal {\n"
    "    when history.sum(lines where coffee, 30 days) >= 1000\n"
    "         and history.count(lines where sku \"1\" or (qty > 2 and brand \"X\"), 7 days) >= 3\n"
    "    then points 100\n"
    "}\n";

/* The same two predicates, after unrelated edits: a campaign and sets declared first
 * (every string, constant, set and block index moves), the set renamed, the second
 * predicate's set written by name, another history predicate added. */
static const char hk_b[] =
    "set tea = category \"tea\"\n"
    "set beans = category \"coffee\"\n"
    "set picky = sku \"1\" or (qty > 2 and brand \"X\")\n"
    "campaign first {\n"
    "    priority 500\n"
    "    when sum(lines where tea) >= 77.70 and history.visits(90 days) > 5\n"
    "         and history.sum(lines where tea, 14 days) > 10\n"
    "    then discount 5% on lines where tea\n"
    "}\n"
    "campaign loyal {\n"
    "    when history.count(lines where picky, 7 days) >= 3\n"
    "         and history.sum(lines where beans, 60 days) >= 1000\n"
    "    then points 100\n"
    "}\n";

Test(histkeys, unrelated_changes_keep_the_keys) {
    promo_bundle *a = hk_build(hk_a), *b = hk_build(hk_b);
    cr_assert_eq(a->nhist, 2);
    for (uint32_t i = 0; i < a->nhist; i++)
        cr_assert(hk_has(b, a->hist[i].key), "history slot %u (key %016llx) lost its key", i,
                  (unsigned long long)a->hist[i].key);
    /* sum over coffee, count over picky, sum over tea, and visits (its own fixed key) */
    cr_assert_eq(b->nhist, 3);
    promo_bundle_release(a);
    promo_bundle_release(b);
}

Test(histkeys, different_predicates_and_kinds_differ) {
    promo_bundle *b =
        hk_build("campaign c {\n"
                 "    when history.sum(lines where category \"coffee\", 30 days) > 1\n"
                 "     and history.sum(lines where category \"coffe\", 30 days) > 1\n"
                 "     and history.count(lines where category \"coffee\", 30 days) > 1\n"
                 "     and history.sum(lines where qty > 2, 30 days) > 1\n"
                 "     and history.sum(lines where qty > 3, 30 days) > 1\n"
                 "     and history.sum(lines where qty >= 2, 30 days) > 1\n"
                 "    then points 1\n"
                 "}\n");
    cr_assert_eq(b->nhist, 6);
    for (uint32_t i = 0; i < b->nhist; i++)
        for (uint32_t j = i + 1; j < b->nhist; j++)
            cr_assert_neq(b->hist[i].key, b->hist[j].key, "slots %u and %u share a key", i, j);
    promo_bundle_release(b);
}

Test(histkeys, the_derivation_is_pinned) {
    /* tests/golden/history_limits.disasm lists the same key. */
    promo_bundle *b = hk_build("set coffee = category \"coffee\"\n"
                               "campaign c {\n"
                               "    when history.sum(lines where coffee, 30 days) >= 1000\n"
                               "    then points 1\n"
                               "}\n");
    cr_assert_eq(b->nhist, 1);
    cr_assert_eq(b->hist[0].key, 0x83abe06f80538d5full, "key %016llx",
                 (unsigned long long)b->hist[0].key);
    promo_bundle_release(b);
}
