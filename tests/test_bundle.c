/*
 * test_bundle.c — the bundle writer and the loader/verifier: build determinism,
 * refusal of truncated and corrupted bundles (never a crash), precise messages for
 * hand-crafted bad code and tables, codegen shapes, and docs/bytecode.md coverage.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "disasm.h"
#include "bundle_helpers.h"
#include "compile.h"
#include "hash.h"
#include "strbuf.h"

/* ------------------------------------------------------------ fixtures ---- */

static const char src_a[] =
    "group discounts\n"
    "group points\n"
    "set dairy = category \"dairy\"\n"
    "campaign dairy_10 \"Dairy: 10% off from 500\" {\n"
    "    priority 100\n"
    "    group discounts\n"
    "    combine with points\n"
    "    active 2026-06-01 .. 2026-08-31\n"
    "    days mon .. fri\n"
    "    hours 09:00 .. 18:00\n"
    "    stores 101, 102, region \"msk\"\n"
    "    channel pos\n"
    "    when customer.segment \"pensioner\" and sum(lines where dairy) >= 500\n"
    "    then discount 10% on lines where dairy\n"
    "    limit 1 per customer per day\n"
    "    budget 100000\n"
    "}\n";

static const char src_b[] =
    "campaign base_points {\n"
    "    group points\n"
    "    then points 5% of paid\n"
    "}\n"
    "campaign coffee_2_1 {\n"
    "    priority 50\n"
    "    days fri .. mon\n"
    "    hours 22:00 .. 02:00\n"
    "    when history.sum(lines where brand in [\"Jacobs\", \"Nescafe\"], 30 days) >= 1000\n"
    "    then buy 2 get 1 free on lines where brand in [\"Jacobs\", \"Nescafe\"]\n"
    "    limit 2 per receipt\n"
    "}\n";

static const char src_c[] = "campaign scale {\n"
                            "    priority -5\n"
                            "    then spend_limit 30% if total < 2000, 40% if total < 10000, 55%\n"
                            "}\n"
                            "campaign hello {\n"
                            "    code \"SUMMER\", \"WINTER\"\n"
                            "    when payment != credit or channel == online\n"
                            "    then coupon \"NEXT10\"; message \"hi\"\n"
                            "    stop\n"
                            "}\n";

typedef struct named_src {
    const char *path, *text;
} named_src;

static const named_src srcs[3] = {{"a.rule", src_a}, {"b.rule", src_b}, {"c.rule", src_c}};

/* Compiles the given sources in the given order; the bundle bytes go to `out`. */
static size_t build(const named_src *const *order, int n, strbuf *out) {
    compile_opts opts = {INT32_MIN, 0};
    compilation c;
    comp_init(&c, &opts);
    for (int i = 0; i < n; i++)
        comp_add_source(&c, order[i]->path, order[i]->text, strlen(order[i]->text));
    size_t errs = comp_build(&c, out);
    if (errs) {
        strbuf d = STRBUF_INIT;
        diag_render_text(&c.diags, &d, 0);
        cr_log_error("%s", sb_cstr(&d));
        sb_free(&d);
    }
    comp_free(&c);
    return errs;
}

static unsigned char *build_all(size_t *len) {
    const named_src *order[3] = {&srcs[0], &srcs[1], &srcs[2]};
    strbuf out = STRBUF_INIT;
    cr_assert_eq(build(order, 3, &out), 0, "the fixture compiles");
    *len = out.len;
    return (unsigned char *)out.data;
}

static promo_status load(const unsigned char *mem, size_t len, char *err, size_t errlen) {
    promo_bundle *b = NULL;
    promo_status st = promo_bundle_load_memory(mem, len, &b, err, errlen);
    if (st == PROMO_OK) {
        cr_assert_not_null(b);
        /* Whatever verifies must also list without tripping anything. */
        strbuf s = STRBUF_INIT;
        bundle_disasm(b, &s);
        sb_free(&s);
        promo_bundle_release(b);
    } else {
        cr_assert_null(b);
    }
    return st;
}

/* Pointer to section `id` of a bundle in memory (the table is trusted: tests only). */
static unsigned char *section(unsigned char *mem, uint32_t id) {
    const pb_header *h = (const pb_header *)mem;
    const pb_section *t = (const pb_section *)(mem + sizeof *h);
    for (uint32_t i = 0; i < h->nsections; i++)
        if (t[i].id == id) return mem + t[i].offset;
    return NULL;
}

static pb_section *section_entry(unsigned char *mem, uint32_t id) {
    const pb_header *h = (const pb_header *)mem;
    pb_section *t = (pb_section *)(mem + sizeof *h);
    for (uint32_t i = 0; i < h->nsections; i++)
        if (t[i].id == id) return &t[i];
    return NULL;
}

/* Deterministic pseudo-random numbers (xorshift64*), so failures reproduce. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

/* ---------------------------------------------------------- load basics ---- */

Test(bundle, sample_loads_and_answers) {
    size_t len;
    unsigned char *mem = tb_sample(&len);
    promo_bundle *b = NULL;
    char err[256];
    cr_assert_eq(promo_bundle_load_memory(mem, len, &b, err, sizeof err), PROMO_OK, "%s", err);
    cr_assert_eq(promo_bundle_campaign_count(b), 1);
    cr_assert_str_eq(promo_bundle_campaign_id(b, 0), "c1");
    cr_assert_null(promo_bundle_campaign_id(b, 1));
    cr_assert_str_eq(promo_bundle_string(b, 0), "g");
    cr_assert_null(promo_bundle_string(b, 100));
    cr_assert_eq(b->max_stack, 2);
    promo_bundle_retain(b);
    promo_bundle_release(b);
    cr_assert_str_eq(promo_bundle_campaign_id(b, 0), "c1", "still alive after one release");
    promo_bundle_release(b);
    promo_bundle_release(NULL);
    free(mem);
}

Test(bundle, load_file_reports_io) {
    promo_bundle *b = (promo_bundle *)1;
    char err[256];
    cr_assert_eq(promo_bundle_load_file("/nonexistent/x.pbc", &b, err, sizeof err), PROMO_EIO);
    cr_assert_null(b);
    cr_assert_str_eq(err, "/nonexistent/x.pbc: No such file or directory");
}

Test(bundle, header_checks) {
    size_t len;
    unsigned char *mem = tb_sample(&len);
    char err[256];

    unsigned char *m = malloc(len + 8);
    memcpy(m, mem, len);
    memcpy(m, "PROMOBC\x1b", 8);
    cr_assert_eq(load(m, len, err, sizeof err), PROMO_ECORRUPT);
    cr_assert_str_eq(err, "bundle: not a promo bundle (bad magic)");

    memcpy(m, mem, len);
    ((pb_header *)m)->format = PB_FORMAT + 1;
    cr_assert_eq(load(m, len, err, sizeof err), PROMO_EVERSION);
    char fmtmsg[96];
    snprintf(fmtmsg, sizeof fmtmsg, "bundle: format %d, this library reads format %d",
             PB_FORMAT + 1, PB_FORMAT);
    cr_assert_str_eq(err, fmtmsg);
    /* older formats (1: the checksum left the header out; 2: no L_PRICE_CMP) are
     * refused by number */
    for (uint32_t f = 1; f < PB_FORMAT; f++) {
        ((pb_header *)m)->format = f;
        cr_assert_eq(load(m, len, err, sizeof err), PROMO_EVERSION);
    }

    memcpy(m, mem, len);
    ((pb_header *)m)->endian = 0x04030201u;
    cr_assert_eq(load(m, len, err, sizeof err), PROMO_ECORRUPT);
    cr_assert_str_eq(err, "bundle: byte order probe 0x04030201: written for another byte order");

    memcpy(m, mem, len);
    m[len] = 0;
    cr_assert_eq(load(m, len + 1, err, sizeof err), PROMO_ECORRUPT);
    char want[128];
    snprintf(want, sizeof want, "bundle: truncated or padded: header says %zu bytes, got %zu", len,
             len + 1);
    cr_assert_str_eq(err, want);

    memcpy(m, mem, len);
    m[len - 1] ^= 1;
    cr_assert_eq(load(m, len, err, sizeof err), PROMO_ECORRUPT);
    cr_assert(!strncmp(err, "bundle: checksum mismatch (stored ", 34), "%s", err);

    cr_assert_eq(load(m, 10, err, sizeof err), PROMO_ECORRUPT);
    cr_assert_str_eq(err, "bundle: truncated: 10 bytes, the header alone is 64");
    cr_assert_eq(load(m, 0, err, sizeof err), PROMO_ECORRUPT);

    memcpy(m, mem, len);
    ((pb_header *)m)->reserved[3] = 1;
    cr_assert_eq(load(m, len, err, sizeof err), PROMO_ECORRUPT);
    cr_assert(!strncmp(err, "bundle: checksum mismatch (stored ", 34), "%s", err);
    tb_fix_checksum(m, len); /* the header is checksummed: fixed up, the field check speaks */
    cr_assert_eq(load(m, len, err, sizeof err), PROMO_ECORRUPT);
    cr_assert_str_eq(err, "bundle: reserved header bytes are not zero");
    free(m);
    free(mem);
}

Test(bundle, section_table_checks) {
    size_t len;
    unsigned char *mem = tb_sample(&len);
    unsigned char *m = malloc(len);
    char err[256];

    memcpy(m, mem, len);
    section_entry(m, PBS_CONSTS)->id = PBS_STRINGS;
    tb_fix_checksum(m, len);
    cr_assert_eq(load(m, len, err, sizeof err), PROMO_ECORRUPT);
    cr_assert_str_eq(err, "bundle: section STRINGS: given twice");

    memcpy(m, mem, len);
    section_entry(m, PBS_CONSTS)->id = 77;
    tb_fix_checksum(m, len);
    cr_assert_eq(load(m, len, err, sizeof err), PROMO_ECORRUPT);
    cr_assert_str_eq(err, "bundle: section 1: unknown id 77");

    memcpy(m, mem, len);
    section_entry(m, PBS_CODE)->offset += 4;
    tb_fix_checksum(m, len);
    cr_assert_eq(load(m, len, err, sizeof err), PROMO_ECORRUPT);
    cr_assert_str_eq(err, "bundle: section CODE: offset not 8-aligned");

    memcpy(m, mem, len);
    section_entry(m, PBS_CODE)->size = UINT64_MAX - 3; /* offset + size would wrap */
    tb_fix_checksum(m, len);
    cr_assert_eq(load(m, len, err, sizeof err), PROMO_ECORRUPT);
    cr_assert(strstr(err, "bundle: section CODE: out of bounds"), "%s", err);

    memcpy(m, mem, len);
    section_entry(m, PBS_CODE)->count += 1;
    tb_fix_checksum(m, len);
    cr_assert_eq(load(m, len, err, sizeof err), PROMO_ECORRUPT);
    cr_assert_str_eq(err, "bundle: section CODE: size 40 is not 11 elements of 4 bytes");

    memcpy(m, mem, len);
    ((pb_header *)m)->nsections = 15;
    tb_fix_checksum(m, len);
    cr_assert_eq(load(m, len, err, sizeof err), PROMO_ECORRUPT);
    cr_assert_str_eq(err, "bundle: 15 sections, at most 14 are known");
    free(m);
    free(mem);
}

Test(bundle, table_checks) {
    size_t len;
    unsigned char *mem = tb_sample(&len);
    unsigned char *m = malloc(len);
    char err[256];

    memcpy(m, mem, len);
    ((pb_reward *)section(m, PBS_REWARDS))->kind = 99;
    tb_fix_checksum(m, len);
    cr_assert_eq(load(m, len, err, sizeof err), PROMO_ECORRUPT);
    cr_assert_str_eq(err, "bundle: section REWARDS: reward 0: unknown kind");

    memcpy(m, mem, len);
    ((pb_reward *)section(m, PBS_REWARDS))->a = 100001; /* 100.001% */
    tb_fix_checksum(m, len);
    cr_assert_eq(load(m, len, err, sizeof err), PROMO_ECORRUPT);
    cr_assert_str_eq(err,
                     "bundle: section REWARDS: reward 0: parameters out of range for its kind");

    memcpy(m, mem, len);
    ((pb_campaign *)section(m, PBS_CAMPAIGNS))->reward_cnt = 2;
    tb_fix_checksum(m, len);
    cr_assert_eq(load(m, len, err, sizeof err), PROMO_ECORRUPT);
    cr_assert_str_eq(err, "bundle: section CAMPAIGNS: campaign 0: rewards out of range");

    memcpy(m, mem, len);
    ((pb_campaign *)section(m, PBS_CAMPAIGNS))->reward_off = UINT32_MAX; /* off + cnt wraps */
    tb_fix_checksum(m, len);
    cr_assert_eq(load(m, len, err, sizeof err), PROMO_ECORRUPT);
    cr_assert_str_eq(err, "bundle: section CAMPAIGNS: campaign 0: rewards out of range");

    memcpy(m, mem, len);
    ((pb_campaign *)section(m, PBS_CAMPAIGNS))->cond_block = 0; /* a PRED block */
    tb_fix_checksum(m, len);
    cr_assert_eq(load(m, len, err, sizeof err), PROMO_ECORRUPT);
    cr_assert_str_eq(err, "bundle: section CAMPAIGNS: campaign 0: condition is not a COND block");

    memcpy(m, mem, len);
    ((pb_campaign *)section(m, PBS_CAMPAIGNS))->group = 1;
    tb_fix_checksum(m, len);
    cr_assert_eq(load(m, len, err, sizeof err), PROMO_ECORRUPT);
    cr_assert_str_eq(err, "bundle: section CAMPAIGNS: campaign 0: group out of range");

    memcpy(m, mem, len);
    ((pb_hist *)section(m, PBS_HIST))->pred = 1; /* the COND block */
    tb_fix_checksum(m, len);
    cr_assert_eq(load(m, len, err, sizeof err), PROMO_ECORRUPT);
    cr_assert_str_eq(err, "bundle: section HIST: slot 0: 1 is not a PRED block");

    /* The last string loses its NUL. */
    memcpy(m, mem, len);
    pb_section *s = section_entry(m, PBS_STRINGS);
    m[s->offset + s->size - 1] = 'x';
    tb_fix_checksum(m, len);
    cr_assert_eq(load(m, len, err, sizeof err), PROMO_ECORRUPT);
    cr_assert_str_eq(err, "bundle: section STRINGS: string 3: not NUL-terminated");

    memcpy(m, mem, len);
    s = section_entry(m, PBS_STRINGS);
    ((uint32_t *)(m + s->offset))[2] = 1000;
    tb_fix_checksum(m, len);
    cr_assert_eq(load(m, len, err, sizeof err), PROMO_ECORRUPT);
    cr_assert_str_eq(err, "bundle: section STRINGS: string 1: bad offset 1000");
    free(m);
    free(mem);
}

Test(bundle, set_checks) {
    tb t;
    tb_init(&t);
    uint32_t g = tb_str(&t, "g");
    tb_add(&t, PBS_GROUPS, &g, 4);
    const char *items[] = {"dairy"};
    tb_set(&t, PB_SET_STRING, items, 1);
    size_t len;
    unsigned char *mem = tb_finish(&t, &len);
    tb_free(&t);
    char err[256];
    cr_assert_eq(load(mem, len, err, sizeof err), PROMO_OK, "%s", err);

    /* Both slots full: a lookup of an absent key would never stop. */
    uint64_t *slots = (uint64_t *)section(mem, PBS_SLOTS);
    slots[0] = slots[0] ? slots[0] : 7;
    slots[1] = slots[1] ? slots[1] : 7;
    tb_fix_checksum(mem, len);
    cr_assert_eq(load(mem, len, err, sizeof err), PROMO_ECORRUPT);
    cr_assert_str_eq(err, "bundle: section SETS: set 0: no empty slot");

    pb_set *st = (pb_set *)section(mem, PBS_SETS);
    st->nslots = 3;
    tb_fix_checksum(mem, len);
    cr_assert_eq(load(mem, len, err, sizeof err), PROMO_ECORRUPT);
    cr_assert_str_eq(err, "bundle: section SETS: set 0: 3 slots is not a power of two >= 2");

    st->nslots = 4;
    tb_fix_checksum(mem, len);
    cr_assert_eq(load(mem, len, err, sizeof err), PROMO_ECORRUPT);
    cr_assert_str_eq(err, "bundle: section SETS: set 0: slots out of range");
    free(mem);
}

/* ------------------------------------------------------ verifier: code ---- */

/* Block 0: a PRED block (L_EXCLUDED; RET). Block 1: `code`, of `kind`, used as the
 * campaign's condition (COND) or its reward's target (PRED). Also a constant, a
 * category set (0) and a string set (1), a history slot over block 0. */
static promo_status load_code(uint32_t kind, const promo_insn *code, uint32_t n, uint32_t max_stack,
                              char *err, size_t errlen) {
    tb t;
    tb_init(&t);
    uint32_t g = tb_str(&t, "g");
    tb_add(&t, PBS_GROUPS, &g, 4);
    pb_campaign c = tb_campaign(&t, "c");
    pb_const k = {5, PB_NONE, 0};
    tb_add(&t, PBS_CONSTS, &k, sizeof k);
    const char *cat[] = {"dairy"};
    tb_set(&t, PB_SET_CATEGORY, cat, 1);
    tb_set(&t, PB_SET_STRING, cat, 1);
    promo_insn aux[] = {INSN_MAKE(OP_L_EXCLUDED, 0), INSN_MAKE(OP_RET, 0)};
    tb_block(&t, PB_BLOCK_PRED, aux, 2, 1);
    uint32_t blk = tb_block(&t, kind, code, n, max_stack);
    pb_hist h = {1, 0, 0};
    tb_add(&t, PBS_HIST, &h, sizeof h);
    pb_reward r;
    memset(&r, 0, sizeof r);
    r.kind = REWARD_DISCOUNT_PCT;
    r.a = 10000;
    r.str = PB_NONE;
    r.activate_days = r.expire_days = -1;
    r.pred = kind == PB_BLOCK_PRED ? blk : PRED_ALL_LINES;
    if (kind == PB_BLOCK_COND) c.cond_block = blk;
    c.reward_off = tb_add(&t, PBS_REWARDS, &r, sizeof r);
    c.reward_cnt = 1;
    tb_add(&t, PBS_CAMPAIGNS, &c, sizeof c);
    size_t len;
    unsigned char *mem = tb_finish(&t, &len);
    tb_free(&t);
    promo_status st = load(mem, len, err, errlen);
    free(mem);
    return st;
}

#define I(op, a) INSN_MAKE(OP_##op, a)
#define EXPECT_CODE_ERR(kind, maxs, msg, ...)                                                      \
    do {                                                                                           \
        promo_insn code_[] = {__VA_ARGS__};                                                        \
        char err_[256];                                                                            \
        promo_status st_ =                                                                         \
            load_code(kind, code_, sizeof code_ / sizeof code_[0], maxs, err_, sizeof err_);       \
        cr_assert_eq(st_, PROMO_ECORRUPT, "expected refusal: %s", msg);                            \
        cr_assert_str_eq(err_, msg);                                                               \
    } while (0)
#define EXPECT_CODE_OK(kind, maxs, ...)                                                            \
    do {                                                                                           \
        promo_insn code_[] = {__VA_ARGS__};                                                        \
        char err_[256];                                                                            \
        promo_status st_ =                                                                         \
            load_code(kind, code_, sizeof code_ / sizeof code_[0], maxs, err_, sizeof err_);       \
        cr_assert_eq(st_, PROMO_OK, "%s", err_);                                                   \
    } while (0)

#define COND PB_BLOCK_COND
#define PRED PB_BLOCK_PRED

Test(verifier, accepts_good_code) {
    /* a and (b or c), with every operand kind */
    EXPECT_CODE_OK(COND, 3, I(AGG_ANY, 0), I(JF_KEEP, 6), I(PUSH_K, 0), I(PUSH_I, 5), I(EQ, 0),
                   I(JT_KEEP, 2), I(R_HAS_CODE, 0), I(NOT, 0), I(ASSERT, 0), I(PUSH_I, 1),
                   I(RET, 0));
    EXPECT_CODE_OK(COND, 1, I(PUSH_I, 30), I(H_SUM, 0), I(RET, 0));
    EXPECT_CODE_OK(COND, 1, I(AGG_SUM, PRED_ALL_LINES), I(RET, 0));
    EXPECT_CODE_OK(PRED, 1, I(L_CAT_IN, 0), I(RET, 0));
    EXPECT_CODE_OK(PRED, 1, I(L_SKU, 0), I(IN_SET, 1), I(RET, 0));
    EXPECT_CODE_OK(PRED, 1, I(PUSH_I, -1), I(RET, 0));
}

Test(verifier, bad_jump) {
    EXPECT_CODE_ERR(COND, 1, "bundle: section CODE: block 1: jump at 1 leaves the block",
                    I(PUSH_I, 1), I(JF_KEEP, 5), I(PUSH_I, 1), I(RET, 0));
    /* a jump onto the position just past the block is outside it too */
    EXPECT_CODE_ERR(COND, 1, "bundle: section CODE: block 1: jump at 1 leaves the block",
                    I(PUSH_I, 1), I(JT_KEEP, 2), I(PUSH_I, 1), I(RET, 0));
    /* a "backward" offset is a huge forward one */
    EXPECT_CODE_ERR(COND, 1, "bundle: section CODE: block 1: jump at 1 leaves the block",
                    I(PUSH_I, 1), I(JT_KEEP, 0xFFFFFF), I(PUSH_I, 1), I(RET, 0));
}

Test(verifier, stack_underflow_and_depth) {
    EXPECT_CODE_ERR(COND, 2, "bundle: section CODE: block 1: stack underflow at 1 (ADD)",
                    I(PUSH_I, 1), I(ADD, 0), I(RET, 0));
    EXPECT_CODE_ERR(COND, 2, "bundle: section CODE: block 1: stack underflow at 0 (JF_KEEP)",
                    I(JF_KEEP, 0), I(PUSH_I, 1), I(RET, 0));
    EXPECT_CODE_ERR(COND, 2, "bundle: section CODE: block 1: stack underflow at 0 (H_VISITS)",
                    I(H_VISITS, 0), I(RET, 0));
    EXPECT_CODE_ERR(COND, 2, "bundle: section CODE: block 1: RET at 2 with stack depth 2, not 1",
                    I(PUSH_I, 1), I(PUSH_I, 1), I(RET, 0));
    EXPECT_CODE_ERR(COND, 2, "bundle: section CODE: block 1: stack underflow at 0 (RET)",
                    I(RET, 0));
    EXPECT_CODE_ERR(COND, 2,
                    "bundle: section CODE: block 1: stack depth 2 or 1 at 4 (paths disagree)",
                    I(PUSH_I, 1), I(JF_KEEP, 2), I(PUSH_I, 1), I(PUSH_I, 2), I(RET, 0));
    EXPECT_CODE_ERR(COND, 2, "bundle: section CODE: block 1: does not end with RET", I(PUSH_I, 1));
    EXPECT_CODE_ERR(COND, 2, "bundle: section CODE: block 1: unreachable instruction at 2",
                    I(PUSH_I, 1), I(RET, 0), I(PUSH_I, 1), I(RET, 0));
    EXPECT_CODE_ERR(COND, 1, "bundle: section CODE: block 1: stack reaches 2, max_stack says 1",
                    I(PUSH_I, 1), I(PUSH_I, 2), I(ADD, 0), I(RET, 0));

    /* 65 pushes overflow the VM stack of 64; 64 fit */
    promo_insn deep[130];
    uint32_t n = 0;
    for (int i = 0; i < 65; i++)
        deep[n++] = I(PUSH_I, 1);
    for (int i = 0; i < 64; i++)
        deep[n++] = I(ADD, 0);
    deep[n++] = I(RET, 0);
    char err[256];
    cr_assert_eq(load_code(COND, deep, n, 64, err, sizeof err), PROMO_ECORRUPT);
    cr_assert_str_eq(err, "bundle: section CODE: block 1: stack depth exceeds 64 at 64");
    n = 0;
    for (int i = 0; i < 64; i++)
        deep[n++] = I(PUSH_I, 1);
    for (int i = 0; i < 63; i++)
        deep[n++] = I(ADD, 0);
    deep[n++] = I(RET, 0);
    cr_assert_eq(load_code(COND, deep, n, 64, err, sizeof err), PROMO_OK, "%s", err);
    cr_assert_eq(load_code(COND, deep, n, 65, err, sizeof err), PROMO_ECORRUPT);
    cr_assert_str_eq(err, "bundle: section BLOCKS: block 1: max_stack 65 exceeds 64");
}

Test(verifier, bad_operands) {
    EXPECT_CODE_ERR(COND, 1, "bundle: section CODE: block 1: PUSH_K at 0: constant 7 out of range",
                    I(PUSH_K, 7), I(RET, 0));
    EXPECT_CODE_ERR(COND, 1,
                    "bundle: section CODE: block 1: R_HAS_CODE at 0: string 999 out of range",
                    I(R_HAS_CODE, 999), I(RET, 0));
    EXPECT_CODE_ERR(COND, 1, "bundle: section CODE: block 1: ASSERT at 1: string 500 out of range",
                    I(PUSH_I, 1), I(ASSERT, 500), I(PUSH_I, 1), I(RET, 0));
    EXPECT_CODE_ERR(PRED, 1, "bundle: section CODE: block 1: L_CAT_IN at 0: set 2 out of range",
                    I(L_CAT_IN, 2), I(RET, 0));
    EXPECT_CODE_ERR(PRED, 1,
                    "bundle: section CODE: block 1: L_CAT_IN at 0: set 1 has the wrong kind",
                    I(L_CAT_IN, 1), I(RET, 0));
    EXPECT_CODE_ERR(PRED, 1,
                    "bundle: section CODE: block 1: IN_NSET at 1: set 1 has the wrong kind",
                    I(L_QTY, 0), I(IN_NSET, 1), I(RET, 0));
    EXPECT_CODE_ERR(COND, 1, "bundle: section CODE: block 1: AGG_ANY at 0: 1 is not a PRED block",
                    I(AGG_ANY, 1), I(RET, 0));
    EXPECT_CODE_ERR(COND, 1, "bundle: section CODE: block 1: AGG_ANY at 0: 9 is not a PRED block",
                    I(AGG_ANY, 9), I(RET, 0));
    EXPECT_CODE_ERR(COND, 1,
                    "bundle: section CODE: block 1: H_COUNT at 1: history slot 1 out of range",
                    I(PUSH_I, 7), I(H_COUNT, 1), I(RET, 0));
    EXPECT_CODE_ERR(COND, 2,
                    "bundle: section CODE: block 1: ADD at 2: operand 3 where none is taken",
                    I(PUSH_I, 1), I(PUSH_I, 1), INSN_MAKE(OP_ADD, 3), I(RET, 0));
    EXPECT_CODE_ERR(COND, 1, "bundle: section CODE: block 1: unknown opcode 200 at 0",
                    INSN_MAKE(200, 0), I(RET, 0));
    {
        char want[96];
        snprintf(want, sizeof want, "bundle: section CODE: block 1: unknown opcode %d at 0",
                 OP__COUNT);
        EXPECT_CODE_ERR(COND, 1, want, INSN_MAKE(OP__COUNT, 0), I(RET, 0));
    }
}

Test(verifier, opcode_context) {
    EXPECT_CODE_ERR(COND, 1,
                    "bundle: section CODE: block 1: L_SKU at 0 needs a line (PRED block), this is "
                    "a COND block",
                    I(L_SKU, 0), I(RET, 0));
    EXPECT_CODE_ERR(COND, 1,
                    "bundle: section CODE: block 1: L_CAT_IN at 0 needs a line (PRED block), this "
                    "is a COND block",
                    I(L_CAT_IN, 0), I(RET, 0));
    EXPECT_CODE_ERR(PRED, 1,
                    "bundle: section CODE: block 1: AGG_SUM at 0 is for COND blocks, this is a "
                    "PRED block",
                    I(AGG_SUM, 0), I(RET, 0));
    EXPECT_CODE_ERR(PRED, 1,
                    "bundle: section CODE: block 1: ASSERT at 1 is for COND blocks, this is a PRED "
                    "block",
                    I(PUSH_I, 1), I(ASSERT, 0), I(PUSH_I, 1), I(RET, 0));
}

/* ------------------------------------------------- corruption, end to end ---- */

Test(corruption, truncated_at_every_offset) {
    size_t len;
    unsigned char *full = build_all(&len);
    unsigned char *m = malloc(len);
    char err[256];
    for (size_t n = 0; n < len; n++) {
        memcpy(m, full, n);
        cr_assert_eq(load(m, n, err, sizeof err), PROMO_ECORRUPT, "truncated to %zu", n);
        cr_assert(!strncmp(err, "bundle: ", 8), "%s", err);
        /* The same with the header fixed up to the new size: the section bounds catch it. */
        if (n >= sizeof(pb_header)) {
            ((pb_header *)m)->file_size = n;
            tb_fix_checksum(m, n);
            cr_assert_neq(load(m, n, err, sizeof err), PROMO_OK, "truncated to %zu, fixed up", n);
        }
    }
    free(m);
    free(full);
}

Test(corruption, flipped_bytes_are_refused) {
    size_t len;
    unsigned char *full = build_all(&len);
    unsigned char *m = malloc(len);
    char err[256];
    rng_state = 12345;
    int tried = 0;
    while (tried < 600) {
        size_t off = rng() % len;
        memcpy(m, full, len);
        m[off] ^= (unsigned char)(1 + rng() % 255);
        cr_assert_neq(load(m, len, err, sizeof err), PROMO_OK, "flip at %zu accepted", off);
        tried++;
    }
    free(m);
    free(full);
}

/* issue 10.2: the checksum covers the header too, so no single-bit flip anywhere in a
 * bundle loads (format 1 accepted 68 of the 512 flips of the header: nsections, flags,
 * source_hash). */
Test(corruption, every_single_bit_flip_is_refused) {
    size_t len;
    unsigned char *full = build_all(&len);
    unsigned char *m = malloc(len);
    memcpy(m, full, len);
    char err[256];
    cr_assert_eq(load(m, len, err, sizeof err), PROMO_OK, "%s", err);
    for (size_t off = 0; off < len; off++)
        for (int bit = 0; bit < 8; bit++) {
            memcpy(m, full, len);
            m[off] ^= (unsigned char)(1u << bit);
            cr_assert_neq(load(m, len, err, sizeof err), PROMO_OK, "bit %d of byte %zu accepted",
                          bit, off);
        }
    free(m);
    free(full);
}

Test(corruption, flipped_bytes_with_checksum_fixed) {
    size_t len;
    unsigned char *full = build_all(&len);
    unsigned char *m = malloc(len);
    char err[256];
    rng_state = 777;
    int refused = 0, structural = 0;
    for (int i = 0; i < 3000; i++) {
        memcpy(m, full, len);
        size_t off = sizeof(pb_header) + rng() % (len - sizeof(pb_header));
        int nflips = 1 + (int)(rng() % 3);
        for (int f = 0; f < nflips; f++)
            m[(off + rng() % 16) % len] ^= (unsigned char)(1 + rng() % 255);
        tb_fix_checksum(m, len);
        promo_status st = load(m, len, err, sizeof err); /* must never crash */
        if (st != PROMO_OK) {
            refused++;
            cr_assert(!strncmp(err, "bundle: ", 8), "%s", err);
            structural += strstr(err, "checksum") == NULL;
        }
    }
    /* Most random edits of tables and code are caught by the structural checks. */
    cr_assert_gt(refused, 1000, "only %d of 3000 refused", refused);
    cr_assert_eq(structural, refused);
    free(m);
    free(full);
}

/* ------------------------------------------------------------- codegen ---- */

Test(codegen, deterministic_in_every_file_order) {
    static const int perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                    {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    strbuf first = STRBUF_INIT;
    for (int p = 0; p < 6; p++) {
        const named_src *order[3] = {&srcs[perms[p][0]], &srcs[perms[p][1]], &srcs[perms[p][2]]};
        strbuf out = STRBUF_INIT;
        cr_assert_eq(build(order, 3, &out), 0);
        if (p == 0) {
            first = out;
            continue;
        }
        cr_assert_eq(out.len, first.len, "order %d", p);
        cr_assert(!memcmp(out.data, first.data, out.len), "order %d gives other bytes", p);
        sb_free(&out);
    }
    char err[256];
    cr_assert_eq(load((unsigned char *)first.data, first.len, err, sizeof err), PROMO_OK, "%s",
                 err);
    sb_free(&first);
}

static promo_bundle *compile_one(const char *text) {
    const named_src s = {"t.rule", text};
    const named_src *order[1] = {&s};
    strbuf out = STRBUF_INIT;
    cr_assert_eq(build(order, 1, &out), 0, "compiles: %s", text);
    promo_bundle *b = NULL;
    char err[256];
    cr_assert_eq(bundle_load_owned((unsigned char *)out.data, out.len, &b, err, sizeof err),
                 PROMO_OK, "%s", err);
    return b;
}

/* The opcodes of block `blk`, space-separated: "R_TOTAL PUSH_I GE ASSERT PUSH_I RET". */
static void ops_of(const promo_bundle *b, uint32_t blk, char *out, size_t cap) {
    out[0] = 0;
    const pb_block *k = &b->blocks[blk];
    for (uint32_t i = 0; i < k->len; i++) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%s%s", i ? " " : "",
                 promo_opinfo_table[INSN_OP(b->code[k->start + i])].name);
    }
}

Test(codegen, when_parts_and_short_circuit) {
    promo_bundle *b = compile_one("campaign c {\n"
                                  "  when total >= 500 and (code \"A\" or customer.segment \"s\")\n"
                                  "  then points 100\n"
                                  "}\n");
    const pb_campaign *c = &b->campaigns[0];
    char ops[512];
    ops_of(b, c->cond_block, ops, sizeof ops);
    cr_assert_str_eq(ops, "R_TOTAL_GE ASSERT R_HAS_CODE JT_KEEP C_SEGMENT ASSERT PUSH_I RET");
    const promo_insn *code = b->code + b->blocks[c->cond_block].start;
    cr_assert_eq(b->consts[INSN_A(code[0])].value, 50000, "500 roubles in kopecks");
    cr_assert_eq(INSN_A(code[3]), 1, "JT_KEEP skips C_SEGMENT");
    cr_assert_str_eq(bundle_str(b, INSN_A(code[1])), "total >= 500");
    cr_assert_str_eq(bundle_str(b, INSN_A(code[5])), "code \"A\" or customer.segment \"s\"");
    cr_assert_eq(b->rewards[0].kind, REWARD_POINTS_FIXED);
    cr_assert_eq(b->rewards[0].level, PB_LEVEL_RECEIPT);
    cr_assert_eq(b->rewards[0].a, 10000);
    promo_bundle_release(b);
}

Test(codegen, when_part_text_is_one_clean_line) {
    promo_bundle *b = compile_one("campaign c {\n"
                                  "  when (total >= 500   # a big basket\n"
                                  "        or code \"#1  x\")\n"
                                  "  when customer.registered\n"
                                  "  then points 100\n"
                                  "}\n");
    const pb_block *k = &b->blocks[b->campaigns[0].cond_block];
    const promo_insn *code = b->code + k->start;
    uint32_t parts[2], n = 0;
    for (uint32_t i = 0; i < k->len; i++)
        if (INSN_OP(code[i]) == OP_ASSERT && n < 2) parts[n++] = INSN_A(code[i]);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(bundle_str(b, parts[0]), "total >= 500 or code \"#1  x\"");
    cr_assert_str_eq(bundle_str(b, parts[1]), "customer.registered");
    promo_bundle_release(b);
}

Test(codegen, categories_sets_and_prefilter) {
    promo_bundle *b = compile_one(
        "set dairy = category \"dairy\"\n"
        "campaign c {\n"
        "  days fri .. mon\n"
        "  hours 22:00 .. 02:00, 09:30 .. 10:00\n"
        "  stores 101, \"x7\", region \"msk\"\n"
        "  channel online\n"
        "  card \"zabota\"\n"
        "  when any(lines where category in [\"tea\", \"coffee\"] or category == \"bread\")\n"
        "  then discount 10% on lines where dairy; discount 300 on receipt\n"
        "}\n");
    const pb_campaign *c = &b->campaigns[0];
    cr_assert_eq(c->weekday_mask, 0x71, "fri sat sun mon");
    cr_assert_eq(c->hours_cnt, 2);
    cr_assert_eq(b->hours[2 * c->hours_off], 22 * 3600);
    cr_assert_eq(b->hours[2 * c->hours_off + 1], 2 * 3600);
    cr_assert_eq(b->hours[2 * c->hours_off + 3], 10 * 3600);
    cr_assert_eq(c->channel_mask, 2);
    cr_assert(bundle_set_has(b, c->stores_set, promo_hash("101", 3)));
    cr_assert(bundle_set_has(b, c->stores_set, promo_hash("x7", 2)));
    cr_assert(!bundle_set_has(b, c->stores_set, promo_hash("102", 3)));
    cr_assert(bundle_set_has(b, c->regions_set, promo_hash("msk", 3)));
    cr_assert(bundle_set_has(b, c->card_set, promo_hash("zabota", 6)));
    cr_assert_eq(c->segment_set, PB_NONE);
    cr_assert_eq(c->code_set, PB_NONE);

    const pb_reward *r = &b->rewards[c->reward_off];
    cr_assert_eq(r[0].kind, REWARD_DISCOUNT_PCT);
    cr_assert_eq(r[0].level, PB_LEVEL_LINE);
    cr_assert_eq(r[0].a, 10000);
    char ops[512];
    ops_of(b, r[0].pred, ops, sizeof ops);
    cr_assert_str_eq(ops, "L_CAT_IN RET");
    uint32_t set = INSN_A(b->code[b->blocks[r[0].pred].start]);
    cr_assert_eq(b->sets[set].kind, PB_SET_CATEGORY);
    cr_assert(bundle_set_has(b, set, promo_hash("dairy", 5)));
    cr_assert_eq(r[1].kind, REWARD_DISCOUNT_AMOUNT);
    cr_assert_eq(r[1].level, PB_LEVEL_RECEIPT);
    cr_assert_eq(r[1].pred, PRED_ALL_LINES);
    cr_assert_eq(r[1].a, 30000);

    ops_of(b, c->cond_block, ops, sizeof ops);
    cr_assert_str_eq(ops, "AGG_ANY ASSERT PUSH_I RET");
    uint32_t pred = INSN_A(b->code[b->blocks[c->cond_block].start]);
    ops_of(b, pred, ops, sizeof ops);
    cr_assert_str_eq(ops, "L_CAT_IN JT_KEEP L_CAT_IN RET");
    promo_bundle_release(b);
}

Test(codegen, identical_predicates_share_a_block) {
    promo_bundle *b = compile_one(
        "set tea = brand in [\"A\", \"B\"]\n"
        "campaign c {\n"
        "  when sum(lines where tea) >= 10 and count(lines where brand in [\"A\", \"B\"]) >= 2\n"
        "  then discount 5% on lines where tea\n"
        "}\n");
    cr_assert_eq(b->nblocks, 2, "one PRED block for the three uses, one COND block");
    cr_assert_eq(b->nsets, 1);
    promo_bundle_release(b);
}

Test(codegen, history_keys_are_stable_across_rebuilds) {
    const char *one = "campaign c {\n"
                      "  when history.sum(lines where sku \"42\", 30 days) >= 100\n"
                      "  then points 1\n"
                      "}\n";
    promo_bundle *b1 = compile_one(one);
    char two[1024];
    snprintf(two, sizeof two,
             "set other = brand \"Z\" and category \"q\"\n"
             "campaign a {\n  priority 9\n  when any(lines where other) and history.count(lines, 7 "
             "days) > 0\n"
             "  then coupon \"X\"\n}\n%s",
             one);
    promo_bundle *b2 = compile_one(two);
    cr_assert_eq(b1->nhist, 1);
    cr_assert_eq(b2->nhist, 2);
    cr_assert_eq(b2->hist[1].key, b1->hist[0].key, "same predicate, same key");
    cr_assert_neq(b2->hist[0].key, b1->hist[0].key);
    cr_assert_eq(b2->hist[0].pred, PRED_ALL_LINES);
    cr_assert_eq(b2->hist[0].kind, 1);
    promo_bundle_release(b1);
    promo_bundle_release(b2);
}

Test(codegen, rewards_fields) {
    promo_bundle *b = compile_one(
        "campaign c {\n"
        "  then buy 2 get 1 free on lines where sku \"1\"; buy 1 get 1 at 50% off on receipt;"
        " bundle 3 for 999 on lines; price 99.90 on lines; discount 50 each on lines;"
        " points 5% of paid on lines activate in 14 days expire in 90 days; points 5% of paid;"
        " spend_limit 30% if total < 2000, 55%\n"
        "  limit 3 per customer per week\n"
        "  budget 1000 partial\n"
        "}\n");
    const pb_campaign *c = &b->campaigns[0];
    cr_assert_eq(c->reward_cnt, 8);
    const pb_reward *r = &b->rewards[c->reward_off];
    cr_assert_eq(r[0].kind, REWARD_BUY_FREE);
    cr_assert(r[0].n == 2 && r[0].m == 1 && r[0].a == 2 && r[0].b == 1);
    cr_assert_eq(r[1].kind, REWARD_BUY_PCT);
    cr_assert(r[1].n == 1 && r[1].m == 1 && r[1].b == 50000 && r[1].pred == PRED_ALL_LINES);
    cr_assert_eq(r[1].level, PB_LEVEL_LINE, "buy on receipt is line-level");
    cr_assert_eq(r[2].kind, REWARD_BUNDLE);
    cr_assert(r[2].n == 3 && r[2].m == 0 && r[2].b == 99900);
    cr_assert_eq(r[3].kind, REWARD_PRICE);
    cr_assert_eq(r[3].a, 9990);
    cr_assert_eq(r[4].kind, REWARD_DISCOUNT_EACH);
    cr_assert_eq(r[4].a, 5000);
    cr_assert_eq(r[5].kind, REWARD_POINTS_PCT);
    cr_assert(r[5].level == PB_LEVEL_LINE && r[5].activate_days == 14 && r[5].expire_days == 90);
    cr_assert_eq(r[6].kind, REWARD_POINTS_PCT);
    cr_assert(r[6].level == PB_LEVEL_RECEIPT && r[6].activate_days == -1 && r[6].expire_days == -1);
    cr_assert_eq(r[7].kind, REWARD_SPEND_LIMIT);
    cr_assert_eq(r[7].steps_cnt, 2);
    cr_assert_eq(b->steps[r[7].steps_off].pct, 30000);
    cr_assert_neq(b->steps[r[7].steps_off].cond, PB_NONE);
    cr_assert_eq(b->steps[r[7].steps_off + 1].cond, PB_NONE);
    cr_assert_eq(c->limit_receipt, 0);
    cr_assert_eq(c->limit_customer, 3);
    cr_assert_eq(c->limit_period, PERIOD_WEEK);
    cr_assert_eq(c->budget, 100000);
    cr_assert_eq(c->flags, PBC_BUDGET_PARTIAL);
    cr_assert_eq(c->id_hash, promo_hash("c", 1));
    promo_bundle_release(b);
}

Test(codegen, stack_depth_limit) {
    /* Right-nested `+` is reordered to run in constant depth; `-` cannot be. */
    strbuf plus = STRBUF_INIT, minus = STRBUF_INIT;
    sb_puts(&plus, "campaign c {\n  when ");
    sb_puts(&minus, "campaign c {\n  when ");
    for (int i = 0; i < 70; i++) {
        sb_puts(&plus, "total + (");
        sb_puts(&minus, "total - (");
    }
    sb_puts(&plus, "total");
    sb_puts(&minus, "total");
    for (int i = 0; i < 70; i++) {
        sb_putc(&plus, ')');
        sb_putc(&minus, ')');
    }
    sb_puts(&plus, " >= 1\n  then points 1\n}\n");
    sb_puts(&minus, " >= 1\n  then points 1\n}\n");

    promo_bundle *b = compile_one(sb_cstr(&plus));
    cr_assert_eq(b->blocks[b->campaigns[0].cond_block].max_stack, 2);
    promo_bundle_release(b);

    compile_opts opts = {INT32_MIN, 0};
    compilation c;
    comp_init(&c, &opts);
    comp_add_source(&c, "deep.rule", minus.data, minus.len);
    strbuf out = STRBUF_INIT;
    cr_assert_eq(comp_build(&c, &out), 1);
    cr_assert_eq(c.diags.n, 1);
    cr_assert_eq(c.diags.items[0].code, DIAG_E026);
    cr_assert_str_eq(c.diags.items[0].msg,
                     "expression nests too deeply: it needs 71 stack slots, the VM has 64");
    cr_assert_eq(c.diags.items[0].span.line, 2);
    comp_free(&c);
    sb_free(&out);
    sb_free(&plus);
    sb_free(&minus);
}

/* ---------------------------------------------------------------- docs ---- */

Test(docs, bytecode_md_names_every_opcode_and_section) {
    size_t len;
    unsigned char *doc = tb_read_file(PROMO_SOURCE_DIR "/docs/bytecode.md", &len);
    cr_assert_not_null(doc, "docs/bytecode.md exists");
    char *text = malloc(len + 1);
    memcpy(text, doc, len);
    text[len] = 0;
    for (int op = 0; op < OP__COUNT; op++) {
        char want[64];
        snprintf(want, sizeof want, "`%s`", promo_opinfo_table[op].name);
        cr_expect(strstr(text, want) != NULL, "docs/bytecode.md does not document %s", want);
    }
    static const char *const sections[] = {
#define X(name, elem, d) "`" #name "`",
        PB_SECTION_LIST(X)
#undef X
    };
    for (int s = 0; s < PBS__COUNT; s++)
        cr_expect(strstr(text, sections[s]) != NULL, "section %s undocumented", sections[s]);
    free(text);
    free(doc);
}

/* ---------------------------------------------------- misuse (issue 10.10) ---- */

Test(misuse, null_arguments_are_reported) {
    char err[128] = "untouched";
    promo_bundle *b = (promo_bundle *)1;
    cr_assert_eq(promo_bundle_load_file(NULL, &b, err, sizeof err), PROMO_EARG);
    cr_assert_null(b);
    cr_assert_str_eq(err, "bundle: path is NULL");
    strcpy(err, "untouched");
    cr_assert_eq(promo_bundle_load_memory("x", 1, NULL, err, sizeof err), PROMO_EARG);
    cr_assert_str_eq(err, "bundle: the output handle is NULL");
    strcpy(err, "untouched");
    cr_assert_eq(promo_bundle_load_file("/dev/zero", &b, err, sizeof err), PROMO_EIO);
    cr_assert_str_eq(err, "/dev/zero: not a regular file");
    cr_assert_eq(promo_bundle_load_file("/tmp", &b, err, sizeof err), PROMO_EIO);
    cr_assert_str_eq(err, "/tmp: Is a directory");
    char buf[8] = "zz";
    cr_assert_eq(promo_result_to_json(NULL, buf, sizeof buf), 0);
    cr_assert_eq(buf[0], 0);
    cr_assert_eq(promo_result_to_json(NULL, NULL, 0), 0);
}

Test(misuse, store_with_a_null_operation_is_refused) {
    size_t len;
    unsigned char *mem = build_all(&len);
    promo_bundle *b = NULL;
    cr_assert_eq(promo_bundle_load_memory(mem, len, &b, NULL, 0), PROMO_OK);
    promo_store ms;
    cr_assert_eq(promo_store_new_memory(&ms), PROMO_OK);
    promo_store_ops half = *ms.ops; /* a whole table but for one operation */
    half.write = NULL;
    promo_engine_opts o;
    promo_engine_opts_init(&o);
    o.store.ops = &half;
    o.store.self = ms.self;
    promo_engine *e = (promo_engine *)1;
    cr_assert_eq(promo_engine_new(b, &o, &e), PROMO_EARG);
    cr_assert_null(e);
    promo_store_free(&ms);
    promo_bundle_release(b);
    free(mem);
}
