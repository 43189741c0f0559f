/*
 * gen.h — the workload generator behind `promo-gen`, the benchmarks and
 * tests/test_generator.c: a synthetic retail world (catalog, stores, customers) from
 * which it draws campaign sets as .rule source text and receipts as promo_receipt
 * structs or SPEC-4 JSON lines. It feeds the front of the pipeline (sources -> compiler)
 * and the back (receipts -> libpromo).
 *
 * Deterministic: the output is a pure function of (seed, counts), produced with the
 * generator's own PCG32 (never rand()), identical on every platform. Campaign i and
 * receipt i depend only on the seed and i, so a set of 100 campaigns is the first 100
 * of a set of 1,000 (only the shared declarations differ) and receipts can be drawn
 * in any order.
 *
 * The world is fixed (independent of the seed), so rules drawn with one seed match
 * receipts drawn with another: ~50,000 SKUs in a three-level category tree of 504
 * leaves ("dairy/milk/classic"), 200 brands, 2,000 stores (101..2100) in 20 regions,
 * 900,000 customers ("c1".."c900000") whose card, tier, segments and birthday are
 * computed from their number (no tables).
 */
#ifndef PROMO_GEN_H
#define PROMO_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "promo.h"
#include "strbuf.h"

#define GEN_SKUS      50000u
#define GEN_TOPS      12u
#define GEN_MIDS      6u /* per top category */
#define GEN_LEAVES_OF 7u /* per middle category */
#define GEN_LEAVES    (GEN_TOPS * GEN_MIDS * GEN_LEAVES_OF)
#define GEN_BRANDS    200u
#define GEN_STORES    2000u
#define GEN_REGIONS   20u
#define GEN_CUSTOMERS 900000u
#define GEN_MAX_LINES 40u
/* Receipts fall in this (common) year and campaigns are active within it; a fixed
 * future year keeps the output independent of the clock and quiet for the W003
 * "already expired" lint. */
#define GEN_YEAR 2027

/* ---- random numbers: PCG32 (O'Neill), XSH-RR output ------------------------------- */

typedef struct gen_rng {
    uint64_t state, inc;
} gen_rng;

/* Seeds a stream: the same (seed, stream) always gives the same sequence. */
void gen_rng_seed(gen_rng *r, uint64_t seed, uint64_t stream);
uint32_t gen_rng_u32(gen_rng *r);
/* Uniform in [0, n) (n > 0; multiply-shift, the bias is below 2^-32 * n). */
uint32_t gen_rng_below(gen_rng *r, uint32_t n);
/* 1 with probability pct/100. */
int gen_rng_pct(gen_rng *r, uint32_t pct);

/* ---- the world --------------------------------------------------------------------- */

typedef struct gen_sku {
    uint32_t leaf;  /* 0 .. GEN_LEAVES-1; top = leaf / 42, mid = leaf / 7 % 6 */
    uint32_t brand; /* 0 .. GEN_BRANDS-1 */
    int64_t price;  /* kopecks per unit (per kg for weight goods) */
    uint32_t sub;   /* 0..4: the fourth level of shape deep_cats */
    int weight;     /* sold by weight: 3-decimal quantities */
    int excluded;   /* tobacco: never discounted nor pointed */
} gen_sku;

void gen_sku_info(uint32_t sku, gen_sku *out);
/* "100000" + sku; returns the length written into buf[8]. */
int gen_sku_text(uint32_t sku, char buf[8]);
/* "dairy/milk/classic" (levels 3), "dairy/milk" (2) or "dairy" (1); returns the length
 * written into buf[48]. */
int gen_category_text(uint32_t leaf, int levels, char buf[48]);
/* The same with the fourth level `sub` (0..4) of shape deep_cats when levels is 4. */
int gen_category_text4(uint32_t leaf, uint32_t sub, int levels, char buf[48]);
/* "Prosto"-like names, unique per brand number; returns the length written into buf[24]. */
int gen_brand_text(uint32_t brand, char buf[24]);
const char *gen_region_name(uint32_t region);
uint32_t gen_store_region(uint32_t store); /* store 101 .. 2100 */

/* ---- shapes of campaign sets ------------------------------------------------------- */

/* A shape is a way catalogues and campaign sets differ from one shop to another; each
 * one stresses a different part of the evaluator (docs/performance.md "Shapes"). A
 * shape changes the campaigns drawn and, for some, the receipts (flags GEN_SF_*):
 *   WIDE    a fifth of the campaigns target a list of 20..300 SKUs (`sku in [...]`)
 *   FLAT    receipts draw their SKUs uniformly over the 50,000 (no popular set);
 *           promo prices name any SKU
 *   DEEP    categories four levels deep (12 x 6 x 7 x 5 = 2,520 leaves,
 *           "dairy/milk/classic/pack"); every target is a category test at some level
 *           or a list of 2..8 categories
 *   WHEN    every campaign has a `when` of 2..4 aggregates over lines (sum, count,
 *           distinct, any) and history, joined by `and`/`or`
 *   GROUPS  most campaigns in one of 12 more groups, `combine with` lists of 2..5
 *           groups, some `combine none` and `stop`
 *   TIME    70 % of the campaigns have 1..2 hour windows at half-hour boundaries (a third
 *           overnight), half have days; receipt times uniform over the year and the day
 *   STORES  half of the campaigns are limited to lists of 5..60 stores (and regions)
 * Shape "mixed" combines WIDE, FLAT, GROUPS and TIME, like a real catalogue. */
#define GEN_SF_WIDE   0x01u
#define GEN_SF_FLAT   0x02u
#define GEN_SF_DEEP   0x04u
#define GEN_SF_WHEN   0x08u
#define GEN_SF_GROUPS 0x10u
#define GEN_SF_TIME   0x20u
#define GEN_SF_STORES 0x40u

/* X(name, flags, description) */
#define GEN_SHAPE_LIST(X)                                                                          \
    X(default, 0, "the default mix (below)")                                                       \
    X(wide_skus, GEN_SF_WIDE, "a fifth of the campaigns target lists of 20..300 SKUs")             \
    X(flat_skus, GEN_SF_FLAT, "SKU popularity flat over 50,000 SKUs")                              \
    X(deep_cats, GEN_SF_DEEP, "4-level category tree, every target a category or a list")          \
    X(heavy_when, GEN_SF_WHEN, "every campaign has 2..4 aggregates in its `when`")                 \
    X(groups, GEN_SF_GROUPS, "18 groups, `combine with` lists, `combine none`, `stop`")            \
    X(time_windows, GEN_SF_TIME, "many hour windows (overnight too) and days; times spread")       \
    X(store_lists, GEN_SF_STORES, "half the campaigns limited to lists of 5..60 stores")           \
    X(mixed, GEN_SF_WIDE | GEN_SF_FLAT | GEN_SF_GROUPS | GEN_SF_TIME,                              \
      "wide SKU lists + flat popularity + groups + spread times")

typedef enum gen_shape {
#define X(name, flags, doc) GEN_SHAPE_##name,
    GEN_SHAPE_LIST(X)
#undef X
        GEN__SHAPE_COUNT
} gen_shape;

extern const char *const gen_shape_names[GEN__SHAPE_COUNT];
extern const char *const gen_shape_docs[GEN__SHAPE_COUNT];
extern const uint32_t gen_shape_flags[GEN__SHAPE_COUNT];
/* The shape named `name`, or -1. */
int gen_shape_find(const char *name);

/* ---- campaign sets ----------------------------------------------------------------- */

/* The mechanics of SPEC 3.2, one per campaign kind the generator draws. */
#define GEN_MECHANIC_LIST(X)                                                                       \
    X(PERCENT, "discount P% on lines")                                                             \
    X(EACH, "discount X each")                                                                     \
    X(SPREAD, "discount X on lines")                                                               \
    X(SPREAD_RECEIPT, "discount X on receipt")                                                     \
    X(PRICE, "price X")                                                                            \
    X(BUY_FREE, "buy N get M free")                                                                \
    X(BUY_AT, "buy N get M at P% off")                                                             \
    X(BUNDLE, "bundle N for X")                                                                    \
    X(POINTS_LINES, "points P% of paid on lines")                                                  \
    X(POINTS_RECEIPT, "points P% of paid")                                                         \
    X(POINTS_FIXED, "points N activate/expire")                                                    \
    X(COUPON, "coupon")                                                                            \
    X(MESSAGE, "message")                                                                          \
    X(SPEND_LIMIT, "spend_limit")

typedef enum gen_mechanic {
#define X(name, text) GEN_M_##name,
    GEN_MECHANIC_LIST(X)
#undef X
        GEN__M_COUNT
} gen_mechanic;

extern const char *const gen_mechanic_names[GEN__M_COUNT];

/* What a generated set holds, for the tests and the reports. */
typedef struct gen_rules_stats {
    uint32_t campaigns;
    uint32_t mechanic[GEN__M_COUNT]; /* campaigns whose first reward is of that kind */
    uint32_t multi_reward;           /* campaigns with two rewards */
    uint32_t sets, groups;
    uint32_t grouped, combine_none, combine_with, stop;
    uint32_t active, days, hours, overnight, stores, channel, card, segment, code;
    uint32_t when, history, birthday;
    uint32_t limit_receipt, limit_customer, budget, budget_partial;
} gen_rules_stats;

/* The files of a set: 00_catalog.rule (groups and sets), 10_discounts.rule,
 * 20_multibuy.rule, 30_loyalty.rule. */
#define GEN_RULE_FILES 4
extern const char *const gen_rule_file_names[GEN_RULE_FILES];

/* Draws `ncampaigns` campaigns (ids c00000_..) into out[i] (appended; pass
 * STRBUF_INIT buffers), one buffer per file of gen_rule_file_names. stats may be NULL. */
void gen_rules(uint64_t seed, uint32_t ncampaigns, strbuf out[GEN_RULE_FILES],
               gen_rules_stats *stats);
/* The same for a shape (GEN_SHAPE_default gives the bytes of gen_rules). */
void gen_rules_shape(uint64_t seed, uint32_t ncampaigns, gen_shape shape,
                     strbuf out[GEN_RULE_FILES], gen_rules_stats *stats);

/* ---- receipts ---------------------------------------------------------------------- */

/* Memory for receipts: strings, lines and customers are carved from it. */
typedef struct gen_arena gen_arena;
gen_arena *gen_arena_new(void);
void gen_arena_reset(gen_arena *a); /* keeps its blocks for reuse */
void gen_arena_free(gen_arena *a);

/* Draws receipt `index` of the stream `seed` into *out, its data carved from `a`
 * (valid until the arena is reset or freed). lines 0: the default mix (1..40 lines,
 * mean about 12); otherwise exactly that many lines. */
void gen_receipt(gen_arena *a, uint64_t seed, uint64_t index, uint32_t lines, promo_receipt *out);
/* The same for a shape (only FLAT, DEEP and TIME change receipts). */
void gen_receipt_shape(gen_arena *a, uint64_t seed, uint64_t index, uint32_t lines, gen_shape shape,
                       promo_receipt *out);

/* n receipts held in memory, for the benchmarks. */
typedef struct gen_receipts {
    promo_receipt *r;
    size_t n;
    size_t nlines; /* total over all receipts */
    gen_arena *arena;
} gen_receipts;

void gen_receipts_make(gen_receipts *out, uint64_t seed, size_t n, uint32_t lines);
void gen_receipts_make_shape(gen_receipts *out, uint64_t seed, size_t n, uint32_t lines,
                             gen_shape shape);
void gen_receipts_free(gen_receipts *g);

/* Appends the SPEC-4 JSON of a receipt (one line, no newline). */
void gen_receipt_json(const promo_receipt *r, strbuf *out);

#endif
