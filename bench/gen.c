/*
 * gen.c — the workload generator (see gen.h): a fixed synthetic retail world, campaign
 * sets drawn from it as .rule text (input of the compiler), receipts drawn from it as
 * promo_receipt structs or JSON lines (input of libpromo and `promo run`).
 *
 * Everything is integer arithmetic on the generator's own PCG32 streams, so the bytes
 * are the same on every machine and compiler.
 */
#include "gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "civil.h"
#include "xalloc.h"

/* ------------------------------------------------------------------ random ---- */

/* splitmix64's finalizer: spreads seeds and numbers over all 64 bits. */
static uint64_t gen_mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

void gen_rng_seed(gen_rng *r, uint64_t seed, uint64_t stream) {
    r->state = 0;
    r->inc = (gen_mix64(stream ^ 0x5851f42d4c957f2dull) << 1) | 1u;
    (void)gen_rng_u32(r);
    r->state += gen_mix64(seed);
    (void)gen_rng_u32(r);
}

uint32_t gen_rng_u32(gen_rng *r) {
    uint64_t old = r->state;
    r->state = old * 6364136223846793005ull + r->inc;
    uint32_t xs = (uint32_t)(((old >> 18) ^ old) >> 27);
    uint32_t rot = (uint32_t)(old >> 59);
    return (xs >> rot) | (xs << ((0u - rot) & 31u));
}

uint32_t gen_rng_below(gen_rng *r, uint32_t n) {
    return (uint32_t)(((uint64_t)gen_rng_u32(r) * n) >> 32);
}

int gen_rng_pct(gen_rng *r, uint32_t pct) {
    return gen_rng_below(r, 100) < pct;
}

/* Index drawn from a table of weights. */
static uint32_t gen_pick(gen_rng *r, const uint32_t *w, uint32_t n) {
    uint32_t sum = 0;
    for (uint32_t i = 0; i < n; i++)
        sum += w[i];
    uint32_t x = gen_rng_below(r, sum);
    for (uint32_t i = 0; i < n; i++) {
        if (x < w[i]) return i;
        x -= w[i];
    }
    return n - 1;
}

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Streams: one per campaign and one per receipt, so each is drawn independently. */
#define STREAM_CAMPAIGN (1ull << 40)
#define STREAM_RECEIPT  (2ull << 40)
#define STREAM_SHAPE    (3ull << 40) /* a shape's own draws, so the rest stays as drawn */
#define SALT_CATALOG    0x63617461u
#define SALT_CUSTOMER   0x63757374u
#define SALT_STORE      0x73746f72u
#define SALT_WEATHER    0x77656174u

/* ------------------------------------------------------------------- world ---- */

enum {
    T_DAIRY,
    T_BAKERY,
    T_MEAT,
    T_FISH,
    T_PRODUCE,
    T_GROCERY,
    T_DRINKS,
    T_ALCOHOL,
    T_FROZEN,
    T_SNACKS,
    T_HOUSEHOLD,
    T_TOBACCO
};

static const char *const top_names[GEN_TOPS] = {"dairy",   "bakery",  "meat",      "fish",
                                                "produce", "grocery", "drinks",    "alcohol",
                                                "frozen",  "snacks",  "household", "tobacco"};
static const char *const mid_names[GEN_TOPS][GEN_MIDS] = {
    {"milk", "yogurt", "cheese", "butter", "kefir", "cream"},
    {"bread", "buns", "cakes", "cookies", "pies", "crackers"},
    {"beef", "pork", "poultry", "sausages", "ham", "mince"},
    {"chilled", "salted", "smoked", "canned", "caviar", "seafood"},
    {"vegetables", "fruits", "berries", "greens", "mushrooms", "nuts"},
    {"pasta", "cereals", "flour", "sugar", "oil", "sauces"},
    {"water", "juice", "soda", "tea", "coffee", "energy"},
    {"beer", "wine", "vodka", "cognac", "cider", "whisky"},
    {"dumplings", "pizza", "vegetables", "icecream", "fries", "meals"},
    {"chips", "chocolate", "candy", "crisps", "popcorn", "bars"},
    {"cleaning", "laundry", "paper", "dishes", "pets", "care"},
    {"cigarettes", "cigars", "sticks", "rolling", "hookah", "lighters"}};
static const char *const leaf_names[GEN_LEAVES_OF] = {"classic", "premium", "organic", "light",
                                                      "kids",    "value",   "local"};
/* Share of the catalog per top category, and its price range in roubles. */
static const uint32_t top_weight[GEN_TOPS] = {10, 7, 8, 5, 10, 14, 10, 6, 6, 8, 10, 1};
static const uint32_t top_price_lo[GEN_TOPS] = {40, 20, 200, 150, 30, 30, 30, 80, 80, 30, 50, 150};
static const uint32_t top_price_hi[GEN_TOPS] = {250, 150,  800, 1200, 300, 250,
                                                250, 1500, 500, 250,  600, 300};
static const char *const region_names[GEN_REGIONS] = {
    "msk", "spb", "kzn", "nsk", "ekb", "nnv", "sam", "oms", "rnd", "ufa",
    "krs", "prm", "vrn", "vlg", "krd", "srt", "tmn", "tlt", "izh", "brn"};
static const char *const brand_syl[16] = {"pro", "sto", "mil", "ka", "ve",  "ra",  "do", "bri",
                                          "lu",  "ne",  "zo",  "ta", "fel", "gor", "si", "mar"};
static const char *const segment_names[] = {"pensioner", "student",  "family",
                                            "vip",       "employee", "new"};
static const char *const promo_codes[] = {"SUMMER", "NEXT10",  "WELCOME", "BLACKFRIDAY",
                                          "APP5",   "STUDENT", "DAIRY20", "WEEKEND"};
static const char *const weathers[] = {"sun",  "sun",  "cloud", "cloud", "rain",
                                       "rain", "snow", "sun",   "cloud", "fog"};

const char *const gen_mechanic_names[GEN__M_COUNT] = {
#define X(name, text) text,
    GEN_MECHANIC_LIST(X)
#undef X
};

const char *const gen_rule_file_names[GEN_RULE_FILES] = {"00_catalog.rule", "10_discounts.rule",
                                                         "20_multibuy.rule", "30_loyalty.rule"};

void gen_sku_info(uint32_t sku, gen_sku *out) {
    uint64_t h = gen_mix64(sku ^ ((uint64_t)SALT_CATALOG << 32));
    uint32_t x = (uint32_t)(h % 95), top = 0;
    while (x >= top_weight[top])
        x -= top_weight[top++];
    uint32_t mid = (uint32_t)((h >> 8) % GEN_MIDS), leaf = (uint32_t)((h >> 16) % GEN_LEAVES_OF);
    out->leaf = (top * GEN_MIDS + mid) * GEN_LEAVES_OF + leaf;
    /* Brands cluster by top category (40 per category, overlapping neighbours). */
    out->brand = (top * 17 + (uint32_t)((h >> 24) % 40)) % GEN_BRANDS;
    out->weight = (top == T_MEAT || top == T_PRODUCE || (top == T_FISH && mid < 3) ||
                   (top == T_DAIRY && mid == 2)) &&
                  (h >> 32) % 4 != 0;
    uint32_t lo = top_price_lo[top], hi = top_price_hi[top];
    static const int64_t endings[4] = {90, 99, 0, 50};
    /* The lower of two draws: most goods are at the cheap end of their range. */
    uint32_t a = (uint32_t)((h >> 40) % (hi - lo + 1)), b = (uint32_t)((h >> 50) % (hi - lo + 1));
    out->price = (int64_t)(lo + (a < b ? a : b)) * 100 + endings[(h >> 62) % 4];
    out->excluded = top == T_TOBACCO;
    out->sub = (uint32_t)(gen_mix64(h) % 5);
}

int gen_sku_text(uint32_t sku, char buf[8]) {
    return snprintf(buf, 8, "%u", 100000u + sku % GEN_SKUS);
}

int gen_category_text(uint32_t leaf, int levels, char buf[48]) {
    uint32_t top = leaf / (GEN_MIDS * GEN_LEAVES_OF), mid = leaf / GEN_LEAVES_OF % GEN_MIDS;
    if (levels <= 1) return snprintf(buf, 48, "%s", top_names[top]);
    if (levels == 2) return snprintf(buf, 48, "%s/%s", top_names[top], mid_names[top][mid]);
    return snprintf(buf, 48, "%s/%s/%s", top_names[top], mid_names[top][mid],
                    leaf_names[leaf % GEN_LEAVES_OF]);
}

static const char *const sub_names[5] = {"single", "pack", "family", "bulk", "gift"};

int gen_category_text4(uint32_t leaf, uint32_t sub, int levels, char buf[48]) {
    int n = gen_category_text(leaf, levels, buf);
    if (levels >= 4) n += snprintf(buf + n, (size_t)(48 - n), "/%s", sub_names[sub % 5]);
    return n;
}

const char *const gen_shape_names[GEN__SHAPE_COUNT] = {
#define X(name, flags, doc) #name,
    GEN_SHAPE_LIST(X)
#undef X
};
const char *const gen_shape_docs[GEN__SHAPE_COUNT] = {
#define X(name, flags, doc) doc,
    GEN_SHAPE_LIST(X)
#undef X
};
const uint32_t gen_shape_flags[GEN__SHAPE_COUNT] = {
#define X(name, flags, doc) flags,
    GEN_SHAPE_LIST(X)
#undef X
};

int gen_shape_find(const char *name) {
    for (int i = 0; i < GEN__SHAPE_COUNT; i++)
        if (!strcmp(gen_shape_names[i], name)) return i;
    return -1;
}

int gen_brand_text(uint32_t brand, char buf[24]) {
    brand %= GEN_BRANDS;
    int n = snprintf(buf, 24, "%s%s%s", brand_syl[brand % 16], brand_syl[brand / 16 % 16],
                     brand % 3 == 0 ? "n" : "");
    buf[0] = (char)(buf[0] - 'a' + 'A');
    return n;
}

const char *gen_region_name(uint32_t region) {
    return region_names[region % GEN_REGIONS];
}

uint32_t gen_store_region(uint32_t store) {
    return (uint32_t)(gen_mix64(store ^ ((uint64_t)SALT_STORE << 32)) % GEN_REGIONS);
}

/* Popular SKUs: a fixed scattering of 2,000 of them over the catalog (7919 is prime to
 * 50,000, so k -> k * 7919 mod 50,000 is a permutation). */
static uint32_t gen_hot_sku(uint32_t k) {
    return (uint32_t)((uint64_t)k * 7919u % GEN_SKUS);
}

/* ------------------------------------------------------------------- rules ---- */

enum { G_DISCOUNTS, G_MULTIBUY, G_POINTS, G_COUPONS, G_CLUB, G_PARTNER, G__COUNT };
/* Shape "groups" adds 12 more (G__COUNT .. G__ALL-1). */
#define G_XGROUPS 12
#define G__ALL    (G__COUNT + G_XGROUPS)
static const char *const group_names[G__ALL] = {
    "g_discounts", "g_multibuy", "g_points", "g_coupons", "g_club",  "g_partner",
    "g_dept_a",    "g_dept_b",   "g_dept_c", "g_dept_d",  "g_brand", "g_vendor",
    "g_season",    "g_weekly",   "g_app",    "g_family",  "g_pharm", "g_clearance"};

#define BRAND_SETS 10
enum {
    CS_FRESH,
    CS_PREMIUM_DRINKS,
    CS_NO_ALCOHOL,
    CS_WEIGHED,
    CS_HOUSE_BRANDS,
    CS_SWEETS,
    CS__COUNT
};

typedef struct gen_world {
    strbuf *out;
    gen_rules_stats *st;
    /* The set a campaign's target names, marked used only if the campaign ends up
     * naming it (some mechanics draw a target and do not use it). */
    uint8_t *pending[3];
    uint8_t used_top[GEN_TOPS];
    uint8_t used_mid[GEN_TOPS * GEN_MIDS];
    uint8_t used_brandset[BRAND_SETS];
    uint8_t used_combo[CS__COUNT];
    uint8_t used_group[G__ALL];
    uint32_t shape; /* GEN_SF_* */
} gen_world;

static void gen_money(strbuf *b, int64_t k) {
    if (k % 100 == 0)
        sb_printf(b, "%lld", (long long)(k / 100));
    else
        sb_printf(b, "%lld.%02lld", (long long)(k / 100), (long long)(k % 100));
}

static void gen_quoted_brand(strbuf *b, uint32_t brand) {
    char buf[24];
    gen_brand_text(brand, buf);
    sb_printf(b, "\"%s\"", buf);
}

/* A brand of the cluster of top category `top`. */
static uint32_t gen_brand_of(gen_rng *r, uint32_t top) {
    return (top * 17 + gen_rng_below(r, 40)) % GEN_BRANDS;
}

/* Brands of brand set k: four of the cluster of top category k % 11 (never tobacco). */
static uint32_t gen_brandset_brand(uint32_t k, uint32_t j) {
    return ((k % 11) * 17 + (k * 7 + j * 5) % 40) % GEN_BRANDS;
}

static const char *const combo_names[CS__COUNT] = {"s_fresh",   "s_premium_drinks", "s_no_alcohol",
                                                   "s_weighed", "s_house_brands",   "s_sweets"};
/* The top category a combo set mostly selects (for price-based amounts). */
static const uint32_t combo_top[CS__COUNT] = {T_DAIRY, T_DRINKS, T_GROCERY,
                                              T_MEAT,  T_SNACKS, T_SNACKS};

/* How much of the catalog a target selects: deep discounts go to narrow targets. */
enum { B_BROAD, B_MID, B_NARROW };
static const uint8_t target_breadth[10] = {B_BROAD, B_MID, B_NARROW, B_MID,    B_NARROW,
                                           B_MID,   B_MID, B_BROAD,  B_NARROW, B_NARROW};

/* A line predicate for a reward target or an aggregate; *top gets the top category it
 * selects (to size amounts). Tobacco is never targeted on purpose. `narrow`: no whole
 * top category or wide combination (multibuys and per-unit discounts). Returns the
 * target's breadth. */
static int gen_target(gen_world *w, gen_rng *r, strbuf *t, uint32_t *top, int narrow) {
    static const uint32_t weights[2][10] = {{25, 20, 10, 8, 8, 6, 5, 6, 7, 5},
                                            {0, 25, 15, 10, 12, 8, 6, 0, 10, 8}};
    uint32_t tp = gen_rng_below(r, GEN_TOPS - 1), mid = gen_rng_below(r, GEN_MIDS);
    char buf[48];
    *top = tp;
    uint32_t kind = gen_pick(r, weights[narrow != 0], 10);
    switch (kind) {
    case 0:
        w->pending[0] = &w->used_top[tp];
        sb_printf(t, "s_%s", top_names[tp]);
        break;
    case 1:
        w->pending[0] = &w->used_mid[tp * GEN_MIDS + mid];
        sb_printf(t, "s_%s_%s", top_names[tp], mid_names[tp][mid]);
        break;
    case 2:
        gen_category_text((tp * GEN_MIDS + mid) * GEN_LEAVES_OF + gen_rng_below(r, GEN_LEAVES_OF),
                          3, buf);
        sb_printf(t, "category \"%s\"", buf);
        break;
    case 3:
        gen_category_text((tp * GEN_MIDS + mid) * GEN_LEAVES_OF, 2, buf);
        sb_printf(t, "category \"%s\"", buf);
        break;
    case 4:
        sb_puts(t, "brand ");
        gen_quoted_brand(t, gen_brand_of(r, tp));
        break;
    case 5: {
        sb_puts(t, "brand in [");
        uint32_t n = 2 + gen_rng_below(r, 3);
        for (uint32_t j = 0; j < n; j++) {
            if (j) sb_puts(t, ", ");
            gen_quoted_brand(t, (tp * 17 + j * 9 + gen_rng_below(r, 9)) % GEN_BRANDS);
        }
        sb_puts(t, "]");
        break;
    }
    case 6: {
        uint32_t k = gen_rng_below(r, BRAND_SETS);
        w->pending[0] = &w->used_brandset[k];
        *top = k % 11;
        sb_printf(t, "s_brands_%u", k);
        break;
    }
    case 7: {
        uint32_t k = gen_rng_below(r, CS__COUNT);
        w->pending[0] = &w->used_combo[k];
        if (k == CS_HOUSE_BRANDS) {
            w->pending[1] = &w->used_brandset[0];
            w->pending[2] = &w->used_brandset[1];
        }
        *top = combo_top[k];
        sb_puts(t, combo_names[k]);
        break;
    }
    case 8:
        sb_printf(t, "category \"%s\" and not brand ", top_names[tp]);
        gen_quoted_brand(t, gen_brand_of(r, tp));
        break;
    default:
        gen_category_text((tp * GEN_MIDS + mid) * GEN_LEAVES_OF, 2, buf);
        sb_printf(t, "category \"%s\" and qty >= 2", buf);
        break;
    }
    return target_breadth[kind];
}

/* A money threshold around `units` typical items of top category tp, in whole
 * roubles rounded to 50. */
static int64_t gen_threshold(gen_rng *r, uint32_t tp, uint32_t units) {
    int64_t avg = (top_price_lo[tp] + top_price_hi[tp]) / 2;
    int64_t x = avg * units * (60 + gen_rng_below(r, 80)) / 100;
    x = (x + 49) / 50 * 50;
    return (x < 100 ? 100 : x) * 100;
}

static const char *gen_any_code(gen_rng *r) {
    return promo_codes[gen_rng_below(r, NELEM(promo_codes))];
}

/* One `when` condition over the receipt, about the campaign's target `tgt`. */
static void gen_condition(gen_world *w, gen_rng *r, strbuf *c, const char *tgt, uint32_t tp) {
    static const uint32_t weights[] = {30, 15, 15, 5, 5, 5, 5, 4, 4, 4, 4, 4};
    switch (gen_pick(r, weights, NELEM(weights))) {
    case 0:
        sb_printf(c, "sum(lines where %s) >= ", tgt);
        gen_money(c, gen_threshold(r, tp, 2 + gen_rng_below(r, 4)));
        break;
    case 1: sb_printf(c, "count(lines where %s) >= %u", tgt, 2 + gen_rng_below(r, 3)); break;
    case 2:
        sb_puts(c, "total >= ");
        gen_money(c, (int64_t)(1000 + 500 * gen_rng_below(r, 9)) * 100);
        break;
    case 3: sb_printf(c, "distinct(lines where %s) >= 2", tgt); break;
    case 4: sb_printf(c, "any(lines where %s)", tgt); break;
    case 5: sb_puts(c, "customer.tier in [\"gold\", \"platinum\"]"); break;
    case 6: sb_puts(c, gen_rng_pct(r, 50) ? "payment != credit" : "payment == cash"); break;
    case 7: sb_printf(c, "attr \"weather\" == \"%s\"", gen_rng_pct(r, 60) ? "rain" : "snow"); break;
    case 8: {
        w->st->history++;
        /* One draw per statement: the order of evaluation of arguments is unspecified,
         * and the bytes must not depend on the compiler. */
        uint32_t days = gen_rng_pct(r, 50) ? 30u : 7u;
        sb_printf(c, "history.visits(%u days) >= %u", days, 2 + gen_rng_below(r, 3));
        break;
    }
    case 9:
        w->st->history++;
        sb_printf(c, "history.sum(lines where %s, 30 days) >= ", tgt);
        gen_money(c, gen_threshold(r, tp, 6 + gen_rng_below(r, 6)));
        break;
    case 10:
        w->st->birthday++;
        sb_printf(c, "customer.birthday within %u days", 1 + gen_rng_below(r, 7));
        break;
    default: sb_puts(c, "not any(lines where category \"alcohol\")"); break;
    }
}

static void gen_clause(strbuf *o, const char *kw) {
    sb_printf(o, "    %-8s ", kw);
}

static void gen_combine_with(gen_world *w, strbuf *o, const int *groups, int n) {
    gen_clause(o, "combine");
    sb_puts(o, "with ");
    for (int j = 0; j < n; j++) {
        w->used_group[groups[j]] = 1;
        sb_printf(o, "%s%s", j ? ", " : "", group_names[groups[j]]);
    }
    sb_putc(o, '\n');
    w->st->combine_with++;
}

static void gen_group(gen_world *w, strbuf *o, int g) {
    w->used_group[g] = 1;
    gen_clause(o, "group");
    sb_printf(o, "%s\n", group_names[g]);
    w->st->grouped++;
}

static const char *const mech_tag[GEN__M_COUNT] = {"pct",    "each",   "spread", "rcpt", "price",
                                                   "bxgy",   "bxgat",  "bundle", "pts",  "ptsr",
                                                   "ptsfix", "coupon", "msg",    "spend"};
/* Evaluation-order tier per mechanic: shelf prices and multibuys first, loyalty last. */
static const uint32_t mech_tier[GEN__M_COUNT] = {8, 8, 7, 6, 9, 9, 9, 9, 4, 4, 4, 3, 3, 1};
static const uint32_t mech_weight[GEN__M_COUNT] = {20, 7, 6, 4, 12, 8, 5, 5, 10, 4, 5, 6, 5, 3};
static const int mech_file[GEN__M_COUNT] = {1, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 3};

static const char *const mech_title[GEN__M_COUNT] = {"percent off",
                                                     "money off each",
                                                     "money off",
                                                     "receipt discount",
                                                     "promo price",
                                                     "buy and get free",
                                                     "second at a discount",
                                                     "bundle price",
                                                     "bonus points",
                                                     "bonus points",
                                                     "gift points",
                                                     "coupon",
                                                     "message",
                                                     "points spend limit"};
static const char *const mech_title_receipt[GEN__M_COUNT] = {
    "storewide discount",    "money off each",    "money off",
    "money off the receipt", "promo price",       "buy and get free",
    "second at a discount",  "bundle price",      "bonus points",
    "points on the receipt", "gift points",       "coupon for the next visit",
    "cashier message",       "points spend limit"};
/* Percent off by target breadth. */
static const char *const percents[3][6] = {{"3%", "5%", "5%", "7%", "10%", "10%"},
                                           {"5%", "7%", "10%", "12.5%", "15%", "20%"},
                                           {"10%", "15%", "20%", "25%", "30%", "50%"}};
static const char *const messages[] = {"Try our new coffee blend", "Fresh bread every morning",
                                       "Double points this weekend", "Thank you for shopping",
                                       "Ask about the family card"};

static void gen_points_when(gen_rng *r, strbuf *b, int always) {
    if (always || gen_rng_pct(r, 30)) {
        static const uint32_t act[] = {0, 1, 7, 14, 30};
        static const uint32_t exp[] = {30, 60, 90, 180, 365};
        uint32_t a = act[gen_rng_below(r, 5)], e = exp[gen_rng_below(r, 5)];
        if (a) sb_printf(b, " activate in %u days", a);
        if (always || gen_rng_pct(r, 70)) sb_printf(b, " expire in %u days", e);
    }
}

/* A promo price for 1..3 popular SKUs, below the cheapest of them. */
static void gen_price_reward(gen_rng *r, strbuf *rw, int flat) {
    uint32_t n = 1 + gen_rng_below(r, 3);
    int64_t minp = INT64_MAX;
    char skus[3][8];
    for (uint32_t j = 0; j < n; j++) {
        gen_sku s;
        uint32_t sku;
        do {
            sku = gen_hot_sku(gen_rng_below(r, 2000));
            if (flat) sku = (uint32_t)(gen_mix64(sku + (uint64_t)j * GEN_SKUS) % GEN_SKUS);
            gen_sku_info(sku, &s);
        } while (s.excluded);
        gen_sku_text(sku, skus[j]);
        if (s.price < minp) minp = s.price;
    }
    int64_t p = minp * (60 + gen_rng_below(r, 30)) / 100 / 100 * 100 + 90;
    if (p >= minp) p = minp - 10;
    if (p < 10) p = 10;
    sb_puts(rw, "price ");
    gen_money(rw, p);
    if (n == 1) {
        sb_printf(rw, " on lines where sku \"%s\"", skus[0]);
    } else {
        sb_puts(rw, " on lines where sku in [");
        for (uint32_t j = 0; j < n; j++)
            sb_printf(rw, "%s\"%s\"", j ? ", " : "", skus[j]);
        sb_puts(rw, "]");
    }
}

/* 1 when `text` names the predicate `t` as a whole (not as part of a longer name). */
static int gen_names(const char *text, size_t n, const char *t) {
    size_t k = strlen(t);
    for (const char *p = text, *end = text + n; p + k <= end; p++) {
        if (memcmp(p, t, k) != 0) continue;
        char c = p + k < end ? p[k] : ' ';
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- shapes ---- */

/* A SKU that is not tobacco: popular (unless `flat`) or any. */
static uint32_t gen_target_sku(gen_rng *r, int flat) {
    for (;;) {
        uint32_t sku = !flat && gen_rng_pct(r, 50) ? gen_hot_sku(gen_rng_below(r, 2000))
                                                   : gen_rng_below(r, GEN_SKUS);
        gen_sku s;
        gen_sku_info(sku, &s);
        if (!s.excluded) return sku;
    }
}

/* WIDE: `sku in [...]` of 20..300 SKUs. */
static void gen_wide_target(gen_rng *r, strbuf *t, int flat) {
    uint32_t n = 20 + gen_rng_below(r, 281);
    char buf[8];
    sb_puts(t, "sku in [");
    for (uint32_t j = 0; j < n; j++) {
        gen_sku_text(gen_target_sku(r, flat), buf);
        sb_printf(t, "%s\"%s\"", j ? ", " : "", buf);
    }
    sb_putc(t, ']');
}

/* A category of top category tp at `levels` (1..4) levels. */
static void gen_any_category(gen_rng *r, strbuf *t, uint32_t tp, int levels) {
    char buf[48];
    uint32_t leaf = (tp * GEN_MIDS + gen_rng_below(r, GEN_MIDS)) * GEN_LEAVES_OF +
                    gen_rng_below(r, GEN_LEAVES_OF);
    gen_category_text4(leaf, gen_rng_below(r, 5), levels, buf);
    sb_printf(t, "\"%s\"", buf);
}

/* DEEP: a category test at some level, or a list of 2..8 categories. */
static int gen_deep_target(gen_rng *r, strbuf *t, uint32_t *top) {
    uint32_t tp = gen_rng_below(r, GEN_TOPS - 1), x = gen_rng_below(r, 100);
    *top = tp;
    if (x < 45) {
        int levels = 1 + (int)gen_rng_below(r, 4);
        sb_puts(t, "category ");
        gen_any_category(r, t, tp, levels);
        return levels == 1 ? B_BROAD : levels == 2 ? B_MID : B_NARROW;
    }
    if (x < 85) {
        uint32_t n = 2 + gen_rng_below(r, 7);
        sb_puts(t, "category in [");
        for (uint32_t j = 0; j < n; j++) {
            if (j) sb_puts(t, ", ");
            gen_any_category(r, t, gen_rng_pct(r, 70) ? tp : gen_rng_below(r, GEN_TOPS - 1),
                             2 + (int)gen_rng_below(r, 3));
        }
        sb_putc(t, ']');
        return B_MID;
    }
    sb_puts(t, "category ");
    gen_any_category(r, t, tp, 3);
    sb_puts(t, " or category ");
    gen_any_category(r, t, gen_rng_below(r, GEN_TOPS - 1), 4);
    return B_NARROW;
}

/* WHEN: 2..4 aggregates over lines, joined by `and` / `or`. */
static void gen_heavy_when(gen_world *w, gen_rng *r, strbuf *c, const char *tgt, uint32_t tp) {
    uint32_t n = 2 + gen_rng_below(r, 3);
    for (uint32_t j = 0; j < n; j++) {
        if (j) sb_puts(c, gen_rng_pct(r, 60) ? " or " : " and ");
        uint32_t other = gen_rng_below(r, GEN_TOPS - 1);
        switch (gen_rng_below(r, 8)) {
        case 0:
            sb_printf(c, "sum(lines where %s) >= ", tgt);
            gen_money(c, gen_threshold(r, tp, 1 + gen_rng_below(r, 4)));
            break;
        case 1: sb_printf(c, "count(lines where %s) >= %u", tgt, 1 + gen_rng_below(r, 3)); break;
        case 2: sb_printf(c, "distinct(lines where %s) >= 2", tgt); break;
        case 3:
            sb_puts(c, "any(lines where category ");
            gen_any_category(r, c, other, 2);
            sb_putc(c, ')');
            break;
        case 4:
            sb_puts(c, "sum(lines where category ");
            gen_any_category(r, c, other, 1);
            sb_puts(c, ") >= ");
            gen_money(c, gen_threshold(r, other, 2 + gen_rng_below(r, 3)));
            break;
        case 5: sb_printf(c, "count(lines where qty >= 2) >= %u", 1 + gen_rng_below(r, 3)); break;
        case 6:
            sb_printf(c, "sum(lines where %s and price >= ", tgt);
            gen_money(c, (int64_t)(50 + 50 * gen_rng_below(r, 4)) * 100);
            sb_puts(c, ") >= ");
            gen_money(c, gen_threshold(r, tp, 2));
            break;
        default:
            w->st->history++;
            sb_printf(c, "history.sum(lines where %s, 30 days) >= ", tgt);
            gen_money(c, gen_threshold(r, tp, 3 + gen_rng_below(r, 6)));
            break;
        }
    }
}

/* "HH:MM" of half-hour slot k (0..48). */
static void gen_slot(strbuf *o, uint32_t k) {
    sb_printf(o, "%02u:%02u", k / 2, k % 2 * 30);
}

/* TIME: 1..2 hour windows at half-hour boundaries, a third overnight. Returns 1 when
 * one is overnight. */
static int gen_time_windows(gen_rng *r, strbuf *o) {
    if (gen_rng_below(r, 3) == 0) {
        uint32_t from = 36 + gen_rng_below(r, 11), to = 2 + gen_rng_below(r, 13);
        gen_slot(o, from);
        sb_puts(o, " .. ");
        gen_slot(o, to);
        sb_putc(o, '\n');
        return 1;
    }
    uint32_t from = 12 + gen_rng_below(r, 28), to = from + 2 + gen_rng_below(r, 15);
    if (to > 48) to = 48;
    gen_slot(o, from);
    sb_puts(o, " .. ");
    gen_slot(o, to);
    if (to + 3 < 48 && gen_rng_pct(r, 30)) {
        uint32_t f2 = to + 1 + gen_rng_below(r, 47 - to - 1);
        uint32_t t2 = f2 + 1 + gen_rng_below(r, 48 - f2);
        sb_puts(o, ", ");
        gen_slot(o, f2);
        sb_puts(o, " .. ");
        gen_slot(o, t2);
    }
    sb_putc(o, '\n');
    return 0;
}

/* STORES: 5..60 distinct stores, sometimes a region too. */
static void gen_store_list(gen_rng *r, strbuf *o) {
    static const uint32_t steps[] = {7, 13, 17, 31, 37, 41, 43, 53, 61, 67, 71, 73, 79, 83, 89, 97};
    uint32_t n = 5 + gen_rng_below(r, 56), start = gen_rng_below(r, GEN_STORES);
    uint32_t step = steps[gen_rng_below(r, NELEM(steps))];
    for (uint32_t j = 0; j < n; j++)
        sb_printf(o, "%s%u", j ? ", " : "", 101 + (start + j * step) % GEN_STORES);
    if (gen_rng_pct(r, 30))
        sb_printf(o, ", region \"%s\"", region_names[gen_rng_below(r, GEN_REGIONS)]);
    sb_putc(o, '\n');
}

static void gen_campaign(gen_world *w, uint64_t seed, uint32_t i) {
    gen_rng rr, *r = &rr;
    gen_rng_seed(r, seed, STREAM_CAMPAIGN + i);
    gen_rules_stats *st = w->st;
    /* The first campaigns cover every mechanic, so even a small set has them all. */
    gen_mechanic m =
        i < GEN__M_COUNT ? (gen_mechanic)i : (gen_mechanic)gen_pick(r, mech_weight, GEN__M_COUNT);
    st->mechanic[m]++;
    strbuf *o = &w->out[mech_file[m]];
    strbuf tgt = STRBUF_INIT, rw = STRBUF_INIT, cond = STRBUF_INIT;
    uint32_t tp = 0;
    memset(w->pending, 0, sizeof w->pending);
    int narrow = m == GEN_M_EACH || m == GEN_M_BUY_FREE || m == GEN_M_BUY_AT || m == GEN_M_BUNDLE;
    int breadth = gen_target(w, r, &tgt, &tp, narrow);
    gen_rng srr, *sr = &srr; /* the shape's draws */
    gen_rng_seed(sr, seed, STREAM_SHAPE + i);
    const uint32_t shape = w->shape;
    if ((shape & GEN_SF_WIDE) && m != GEN_M_PRICE && gen_rng_pct(sr, 20)) {
        tgt.len = 0;
        memset(w->pending, 0, sizeof w->pending);
        gen_wide_target(sr, &tgt, (shape & GEN_SF_FLAT) != 0);
        breadth = B_NARROW;
    } else if (shape & GEN_SF_DEEP) {
        tgt.len = 0;
        memset(w->pending, 0, sizeof w->pending);
        breadth = gen_deep_target(sr, &tgt, &tp);
    }
    const char *T = sb_cstr(&tgt);
    int line_level = 1, per_receipt_ok = 0, forced_when = 0, staff = 0;
    /* Sales periods: a discount on a wide target always has dates; a storewide percent
     * is for a segment. */
    int force_active = 0, force_segment = 0;

    switch (m) {
    case GEN_M_PERCENT:
        staff = gen_rng_pct(r, 3);
        if (staff || gen_rng_pct(r, 5)) {
            sb_printf(&rw, "discount %s on receipt",
                      staff ? "15%" : percents[B_BROAD][gen_rng_below(r, 2)]);
            line_level = 0;
            force_segment = !staff;
        } else {
            sb_printf(&rw, "discount %s on lines where %s",
                      percents[breadth][gen_rng_below(r, NELEM(percents[0]))], T);
            force_active = breadth == B_BROAD;
        }
        break;
    case GEN_M_EACH:
        /* 5..15 % of a typical price of the category, in 5-rouble steps. */
        sb_puts(&rw, "discount ");
        int64_t avg = (top_price_lo[tp] + top_price_hi[tp]) / 2;
        int64_t each = (avg * (5 + gen_rng_below(r, 11)) / 100 + 4) / 5 * 5 * 100;
        gen_money(&rw, each - (gen_rng_pct(r, 30) ? 10 : 0));
        sb_printf(&rw, " each on lines where %s", T);
        per_receipt_ok = 1;
        break;
    case GEN_M_SPREAD: {
        int64_t x = (int64_t)(100 + 50 * gen_rng_below(r, 9)) * 100;
        sb_puts(&rw, "discount ");
        gen_money(&rw, x);
        sb_printf(&rw, " on lines where %s", T);
        sb_printf(&cond, "sum(lines where %s) >= ", T);
        gen_money(&cond, x * (3 + gen_rng_below(r, 4)));
        forced_when = 1;
        force_active = breadth == B_BROAD;
        break;
    }
    case GEN_M_SPREAD_RECEIPT: {
        int64_t m0 = (int64_t)(2000 + 500 * gen_rng_below(r, 13)) * 100;
        sb_puts(&rw, "discount ");
        gen_money(&rw, m0 * (5 + gen_rng_below(r, 6)) / 100 / 1000 * 1000);
        sb_puts(&rw, " on receipt");
        sb_puts(&cond, "total >= ");
        gen_money(&cond, m0);
        forced_when = 1;
        line_level = 0;
        break;
    }
    case GEN_M_PRICE: gen_price_reward(r, &rw, (shape & GEN_SF_FLAT) != 0); break;
    case GEN_M_BUY_FREE: {
        static const uint32_t nm[4][2] = {{2, 1}, {1, 1}, {3, 1}, {4, 2}};
        uint32_t k = gen_rng_below(r, 4);
        sb_printf(&rw, "buy %u get %u free on lines where %s", nm[k][0], nm[k][1], T);
        per_receipt_ok = 1;
        break;
    }
    case GEN_M_BUY_AT: {
        static const char *const forms[] = {"buy 1 get 1 at 50% off", "buy 2 get 1 at 70% off",
                                            "buy 1 get 1 at 30% off", "buy 3 get 1 at 25% off"};
        sb_printf(&rw, "%s on lines where %s", forms[gen_rng_below(r, 4)], T);
        per_receipt_ok = 1;
        break;
    }
    case GEN_M_BUNDLE: {
        static const uint32_t ns[] = {2, 3, 5};
        uint32_t n = ns[gen_rng_below(r, 3)];
        int64_t mid = (top_price_lo[tp] + top_price_hi[tp]) / 2;
        int64_t x = mid * n * (50 + gen_rng_below(r, 30)) / 100;
        x = x < 10 ? 9 : x / 10 * 10 - 1; /* 999-style prices */
        sb_printf(&rw, "bundle %u for ", n);
        gen_money(&rw, x * 100);
        sb_printf(&rw, " on lines where %s", T);
        per_receipt_ok = 1;
        break;
    }
    case GEN_M_POINTS_LINES:
        sb_printf(&rw, "points %s of paid on lines where %s",
                  breadth == B_BROAD
                      ? (const char *[]){"1%", "2%"}[gen_rng_below(r, 2)]
                      : (const char *[]){"2%", "3%", "5%", "10%"}[gen_rng_below(r, 4)],
                  T);
        gen_points_when(r, &rw, 0);
        break;
    case GEN_M_POINTS_RECEIPT:
        sb_printf(&rw, "points %s of paid",
                  (const char *[]){"0.5%", "1%", "1%", "2%"}[gen_rng_below(r, 4)]);
        gen_points_when(r, &rw, 0);
        line_level = 0;
        break;
    case GEN_M_POINTS_FIXED:
        sb_printf(&rw, "points %u", (const uint32_t[]){50, 100, 200, 500}[gen_rng_below(r, 4)]);
        gen_points_when(r, &rw, 1);
        line_level = 0;
        /* Gift points are for an occasion: a birthday, loyalty, a big basket. */
        switch (gen_rng_below(r, 4)) {
        case 0:
            sb_printf(&cond, "customer.birthday within %u days", 1 + gen_rng_below(r, 7));
            st->birthday++;
            break;
        case 1:
            sb_printf(&cond, "history.visits(30 days) >= %u", 4 + gen_rng_below(r, 4));
            st->history++;
            break;
        case 2:
            sb_printf(&cond, "sum(lines where %s) >= ", T);
            gen_money(&cond, gen_threshold(r, tp, 6 + gen_rng_below(r, 6)));
            break;
        default: sb_printf(&cond, "count(lines where %s) >= %u", T, 3 + gen_rng_below(r, 3)); break;
        }
        forced_when = 1;
        break;
    case GEN_M_COUPON:
        sb_printf(&rw, "coupon \"%s\"", gen_any_code(r));
        sb_puts(&cond, "total >= ");
        gen_money(&cond, (int64_t)(2000 + 500 * gen_rng_below(r, 7)) * 100);
        forced_when = 1;
        line_level = 0;
        break;
    case GEN_M_MESSAGE:
        sb_printf(&rw, "message \"%s\"", messages[gen_rng_below(r, NELEM(messages))]);
        sb_printf(&cond, "any(lines where %s)", T);
        forced_when = 1;
        line_level = 0;
        break;
    case GEN_M_SPEND_LIMIT: {
        static const char *const forms[] = {
            "spend_limit 30% if total < 2000, 40% if total < 10000, 55%", "spend_limit 50%",
            "spend_limit 20% if total < 1000, 35%", "spend_limit 30% if total < 5000"};
        sb_puts(&rw, forms[gen_rng_below(r, 4)]);
        line_level = 0;
        break;
    }
    default: break;
    }

    /* A second reward now and then: a message or a few points with a discount. */
    int multi = !per_receipt_ok && m != GEN_M_SPEND_LIMIT && gen_rng_pct(r, 8);
    if (multi) {
        if (gen_rng_pct(r, 50))
            sb_printf(&rw, "; message \"%s\"", messages[gen_rng_below(r, NELEM(messages))]);
        else
            sb_printf(&rw, "; points %u", 10u * (1 + gen_rng_below(r, 10)));
        st->multi_reward++;
    }

    /* Header. */
    char title[96];
    snprintf(title, sizeof title, "%c%s: %s", top_names[tp][0] - 'a' + 'A', top_names[tp] + 1,
             staff        ? "staff discount"
             : line_level ? mech_title[m]
                          : mech_title_receipt[m]);
    size_t start = o->len;
    sb_printf(o, "campaign c%05u_%s \"%s\" {\n", i, mech_tag[m], title);
    uint32_t tier = staff ? 99 : mech_tier[m];
    gen_clause(o, "priority");
    sb_printf(o, "%u\n", tier * 10000 + (uint32_t)((uint64_t)i * 7919u % 10000u));

    /* Compatibility. */
    int card = gen_rng_pct(r, 12), code = !staff && gen_rng_pct(r, 5), shape_stop = 0;
    if ((shape & GEN_SF_GROUPS) && !staff) {
        uint32_t x = gen_rng_below(sr, 100);
        if (x < 90) {
            gen_group(w, o, G__COUNT + (int)gen_rng_below(sr, G_XGROUPS));
            uint32_t y = gen_rng_below(sr, 100);
            if (y < 70) {
                int with[6], n = 2 + (int)gen_rng_below(sr, 4);
                uint32_t first = gen_rng_below(sr, G_XGROUPS);
                with[0] = G_POINTS;
                for (int j = 1; j < n; j++) /* distinct: consecutive groups */
                    with[j] = G__COUNT + (int)((first + (uint32_t)j) % G_XGROUPS);
                gen_combine_with(w, o, with, n);
            } else if (y < 78) {
                gen_clause(o, "combine");
                sb_puts(o, "none\n");
                st->combine_none++;
            }
        }
        shape_stop = gen_rng_pct(sr, 4);
    } else if (staff) {
        gen_clause(o, "combine");
        sb_puts(o, "none\n");
        st->combine_none++;
    } else if (code) {
        gen_group(w, o, G_PARTNER);
        if (gen_rng_pct(r, 50)) {
            gen_clause(o, "combine");
            sb_puts(o, "none\n");
            st->combine_none++;
        } else {
            gen_combine_with(w, o, (const int[]){G_POINTS}, 1);
        }
    } else if (card && m != GEN_M_SPEND_LIMIT) {
        gen_group(w, o, G_CLUB);
        gen_combine_with(w, o, (const int[]){G_POINTS, G_DISCOUNTS}, 2);
    } else if (m <= GEN_M_PRICE) {
        uint32_t x = gen_rng_below(r, 100);
        if (x < 50) {
            gen_group(w, o, G_DISCOUNTS);
            if (x < 30)
                gen_combine_with(w, o, (const int[]){G_POINTS, G_COUPONS}, 2);
            else
                gen_combine_with(w, o, (const int[]){G_POINTS}, 1);
        } else if (x < 55) {
            gen_clause(o, "combine");
            sb_puts(o, "none\n");
            st->combine_none++;
        }
    } else if (m <= GEN_M_BUNDLE) {
        uint32_t x = gen_rng_below(r, 100);
        gen_group(w, o, G_MULTIBUY);
        if (x < 60) {
            gen_combine_with(w, o, (const int[]){G_POINTS}, 1);
        } else if (x < 70) {
            gen_clause(o, "combine");
            sb_puts(o, "none\n");
            st->combine_none++;
        }
    } else if (m <= GEN_M_POINTS_FIXED) {
        gen_group(w, o, G_POINTS);
        if (gen_rng_pct(r, 30))
            gen_combine_with(w, o, (const int[]){G_DISCOUNTS, G_MULTIBUY, G_COUPONS}, 3);
    } else if (m != GEN_M_SPEND_LIMIT) {
        gen_group(w, o, G_COUPONS);
    }
    if (staff || (code && gen_rng_pct(r, 20)) || shape_stop) {
        sb_puts(o, "    stop\n");
        st->stop++;
    }

    /* Targeting. */
    if (gen_rng_pct(r, m <= GEN_M_BUNDLE ? 70 : 35) || force_active) {
        int32_t y0 = civil_days(GEN_YEAR, 1, 1);
        int32_t a = y0 + (int32_t)gen_rng_below(r, 330);
        int32_t b = a + 6 + (int32_t)gen_rng_below(r, 85);
        if (b > y0 + 364) b = y0 + 364;
        char da[11], db[11];
        civil_format(a, da);
        civil_format(b, db);
        gen_clause(o, "active");
        sb_printf(o, "%s .. %s\n", da, db);
        st->active++;
    }
    int want_days = gen_rng_pct(r, 20);
    if (shape & GEN_SF_TIME) want_days = gen_rng_pct(sr, 50);
    if (want_days) {
        static const char *const forms[] = {"mon .. fri", "sat, sun", "fri .. mon", "tue, thu",
                                            "wed"};
        gen_clause(o, "days");
        sb_printf(o, "%s\n", forms[gen_rng_below(r, NELEM(forms))]);
        st->days++;
    }
    int want_hours = gen_rng_pct(r, 15);
    if (shape & GEN_SF_TIME) want_hours = gen_rng_pct(sr, 70);
    if (want_hours && (shape & GEN_SF_TIME)) {
        gen_clause(o, "hours");
        st->overnight += (uint32_t)gen_time_windows(sr, o);
        st->hours++;
    } else if (want_hours) {
        static const char *const forms[] = {"09:00 .. 18:00", "22:00 .. 06:00", "07:00 .. 11:00",
                                            "18:00 .. 24:00", "12:00 .. 15:00, 19:00 .. 21:00"};
        uint32_t k = gen_rng_below(r, NELEM(forms));
        gen_clause(o, "hours");
        sb_printf(o, "%s\n", forms[k]);
        st->hours++;
        if (k == 1) st->overnight++;
    }
    int want_stores = gen_rng_pct(r, 15);
    if (shape & GEN_SF_STORES) want_stores = gen_rng_pct(sr, 50);
    if (want_stores && (shape & GEN_SF_STORES)) {
        gen_clause(o, "stores");
        gen_store_list(sr, o);
        st->stores++;
    } else if (want_stores) {
        gen_clause(o, "stores");
        uint32_t n = gen_rng_below(r, 6), nreg = gen_rng_pct(r, 40) || n == 0;
        for (uint32_t j = 0; j < n; j++)
            sb_printf(o, "%s%u", j ? ", " : "", 101 + gen_rng_below(r, GEN_STORES));
        if (nreg)
            sb_printf(o, "%sregion \"%s\"", n ? ", " : "",
                      region_names[gen_rng_below(r, GEN_REGIONS)]);
        sb_putc(o, '\n');
        st->stores++;
    }
    if (gen_rng_pct(r, 12)) {
        gen_clause(o, "channel");
        sb_puts(o, gen_rng_pct(r, 65) ? "online\n" : "pos\n");
        st->channel++;
    }
    if (card) {
        gen_clause(o, "card");
        sb_puts(o, gen_rng_pct(r, 70) ? "\"zabota\"\n" : "\"gold\", \"silver\"\n");
        st->card++;
    }
    if (staff) {
        gen_clause(o, "segment");
        sb_puts(o, "\"employee\"\n");
        st->segment++;
    } else if (gen_rng_pct(r, 12) || force_segment) {
        gen_clause(o, "segment");
        uint32_t a = gen_rng_below(r, NELEM(segment_names));
        if (gen_rng_pct(r, 25))
            sb_printf(o, "\"%s\", \"%s\"\n", segment_names[a],
                      segment_names[(a + 1) % NELEM(segment_names)]);
        else
            sb_printf(o, "\"%s\"\n", segment_names[a]);
        st->segment++;
    }
    if (code) {
        gen_clause(o, "code");
        sb_printf(o, "\"%s\"\n", gen_any_code(r));
        st->code++;
    }

    /* Conditions: forced ones first, then optional ones (sometimes two, joined by
     * `and` in one clause or by a second `when`). */
    if (forced_when) {
        gen_clause(o, "when");
        sb_printf(o, "%s\n", sb_cstr(&cond));
        st->when++;
    }
    if (!staff && gen_rng_pct(r, forced_when ? 20 : 50)) {
        strbuf c2 = STRBUF_INIT;
        gen_condition(w, r, &c2, T, tp);
        uint32_t x = gen_rng_below(r, 100);
        if (x < 15) {
            sb_puts(&c2, " and ");
            gen_condition(w, r, &c2, T, tp);
        } else if (x < 20) {
            sb_puts(&c2, " or ");
            gen_condition(w, r, &c2, T, tp);
        }
        gen_clause(o, "when");
        sb_printf(o, "%s\n", sb_cstr(&c2));
        if (!forced_when) st->when++;
        sb_free(&c2);
        if (gen_rng_pct(r, 8)) {
            strbuf c3 = STRBUF_INIT;
            gen_condition(w, r, &c3, T, tp);
            gen_clause(o, "when");
            sb_printf(o, "%s\n", sb_cstr(&c3));
            sb_free(&c3);
        }
    }

    /* A spend limit only from a receipt total on (no draw: the rest of the set is as
     * without it), so none always applies and shadows a later one (lint W006): a set
     * compiles with `promo check --werror`. */
    if (m == GEN_M_SPEND_LIMIT) {
        gen_clause(o, "when");
        sb_puts(o, "total >= 500\n");
    }
    if ((shape & GEN_SF_WHEN) && !staff) {
        strbuf c4 = STRBUF_INIT;
        gen_heavy_when(w, sr, &c4, T, tp);
        gen_clause(o, "when");
        sb_printf(o, "%s\n", sb_cstr(&c4));
        if (!forced_when) st->when++;
        sb_free(&c4);
    }

    gen_clause(o, "then");
    sb_printf(o, "%s\n", sb_cstr(&rw));

    if (per_receipt_ok && gen_rng_pct(r, 30)) {
        gen_clause(o, "limit");
        sb_printf(o, "%u per receipt\n", 1 + gen_rng_below(r, 4));
        st->limit_receipt++;
    }
    if (m != GEN_M_SPEND_LIMIT && gen_rng_pct(r, 10)) {
        static const char *const forms[] = {"1 per customer per day", "3 per customer per week",
                                            "1 per customer per month", "5 per customer"};
        gen_clause(o, "limit");
        sb_printf(o, "%s\n", forms[gen_rng_below(r, 4)]);
        st->limit_customer++;
    }
    if (m != GEN_M_SPEND_LIMIT && m != GEN_M_MESSAGE && m != GEN_M_COUPON && gen_rng_pct(r, 8)) {
        gen_clause(o, "budget");
        gen_money(o, (int64_t)(10000 + 10000 * gen_rng_below(r, 50)) * 100);
        st->budget++;
        if (gen_rng_pct(r, 40)) {
            sb_puts(o, " partial");
            st->budget_partial++;
        }
        sb_putc(o, '\n');
    }
    sb_puts(o, "}\n\n");
    if (gen_names(o->data + start, o->len - start, T))
        for (int k = 0; k < 3; k++)
            if (w->pending[k]) *w->pending[k] = 1;
    sb_free(&tgt);
    sb_free(&rw);
    sb_free(&cond);
}

static void gen_catalog_file(gen_world *w, uint64_t seed, uint32_t n) {
    strbuf *o = &w->out[0];
    gen_rules_stats *st = w->st;
    sb_printf(o, "# Generated by promo-gen --seed %llu --campaigns %u: groups and line sets.\n\n",
              (unsigned long long)seed, n);
    int any = 0;
    for (int g = 0; g < G__ALL; g++) {
        if (!w->used_group[g]) continue;
        sb_printf(o, "%s%s", any ? ", " : "group ", group_names[g]);
        any = 1;
        st->groups++;
    }
    if (any) sb_puts(o, "\n\n");
    char buf[48];
    for (uint32_t t = 0; t < GEN_TOPS; t++) {
        if (!w->used_top[t]) continue;
        sb_printf(o, "set s_%s = category \"%s\"\n", top_names[t], top_names[t]);
        st->sets++;
    }
    for (uint32_t k = 0; k < GEN_TOPS * GEN_MIDS; k++) {
        if (!w->used_mid[k]) continue;
        gen_category_text(k * GEN_LEAVES_OF, 2, buf);
        sb_printf(o, "set s_%s_%s = category \"%s\"\n", top_names[k / GEN_MIDS],
                  mid_names[k / GEN_MIDS][k % GEN_MIDS], buf);
        st->sets++;
    }
    for (uint32_t k = 0; k < BRAND_SETS; k++) {
        if (!w->used_brandset[k]) continue;
        sb_printf(o, "set s_brands_%u = brand in [", k);
        for (uint32_t j = 0; j < 4; j++) {
            if (j) sb_puts(o, ", ");
            gen_quoted_brand(o, gen_brandset_brand(k, j));
        }
        sb_puts(o, "]\n");
        st->sets++;
    }
    static const char *const combos[CS__COUNT] = {
        "category \"dairy\" or category \"bakery\" or category \"produce\"",
        "category \"drinks\" and price >= 150",
        "not category \"alcohol\" and not category \"tobacco\"",
        "(category \"meat\" or category \"produce\") and qty < 1",
        "s_brands_0 or s_brands_1",
        "category \"snacks/chocolate\" or category \"snacks/candy\""};
    for (uint32_t k = 0; k < CS__COUNT; k++) {
        if (!w->used_combo[k]) continue;
        sb_printf(o, "set %s = %s\n", combo_names[k], combos[k]);
        st->sets++;
    }
}

void gen_rules(uint64_t seed, uint32_t ncampaigns, strbuf out[GEN_RULE_FILES],
               gen_rules_stats *stats) {
    gen_rules_shape(seed, ncampaigns, GEN_SHAPE_default, out, stats);
}

void gen_rules_shape(uint64_t seed, uint32_t ncampaigns, gen_shape shape,
                     strbuf out[GEN_RULE_FILES], gen_rules_stats *stats) {
    gen_rules_stats local;
    gen_world w;
    memset(&w, 0, sizeof w);
    w.shape = (unsigned)shape < GEN__SHAPE_COUNT ? gen_shape_flags[shape] : 0;
    w.out = out;
    w.st = stats ? stats : &local;
    memset(w.st, 0, sizeof *w.st);
    w.st->campaigns = ncampaigns;
    static const char *const heads[GEN_RULE_FILES] = {NULL, "shelf discounts and promo prices",
                                                      "multibuys and bundles",
                                                      "points, coupons, messages and spend limits"};
    for (int f = 1; f < GEN_RULE_FILES; f++)
        sb_printf(&out[f], "# Generated by promo-gen --seed %llu: %s.\n\n",
                  (unsigned long long)seed, heads[f]);
    for (uint32_t i = 0; i < ncampaigns; i++)
        gen_campaign(&w, seed, i);
    gen_catalog_file(&w, seed, ncampaigns);
}

/* ------------------------------------------------------------------- arena ---- */

typedef struct gen_block {
    struct gen_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} gen_block;

struct gen_arena {
    gen_block *first, *cur;
};

#define GEN_BLOCK (1u << 20)

gen_arena *gen_arena_new(void) {
    return xcalloc(1, sizeof(gen_arena));
}

static void *gen_alloc(gen_arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    while (a->cur && a->cur->used + n > a->cur->cap) {
        if (!a->cur->next) break;
        a->cur = a->cur->next;
        a->cur->used = 0;
    }
    if (!a->cur || a->cur->used + n > a->cur->cap) {
        size_t cap = n > GEN_BLOCK ? n : GEN_BLOCK;
        gen_block *b = xmalloc(sizeof(gen_block) + cap);
        b->next = NULL;
        b->used = 0;
        b->cap = cap;
        if (a->cur) {
            b->next = a->cur->next;
            a->cur->next = b;
        } else {
            a->first = b;
        }
        a->cur = b;
    }
    void *p = a->cur->data + a->cur->used;
    a->cur->used += n;
    return p;
}

void gen_arena_reset(gen_arena *a) {
    a->cur = a->first;
    if (a->cur) a->cur->used = 0;
}

void gen_arena_free(gen_arena *a) {
    if (!a) return;
    for (gen_block *b = a->first, *next; b; b = next) {
        next = b->next;
        xfree(b);
    }
    xfree(a);
}

static promo_str gen_str(gen_arena *a, const char *s, int n) {
    char *p = gen_alloc(a, (size_t)n + 1);
    memcpy(p, s, (size_t)n + 1);
    return (promo_str){p, (uint32_t)n};
}

static promo_str gen_lit(const char *s) {
    return (promo_str){s, (uint32_t)strlen(s)};
}

/* ---------------------------------------------------------------- receipts ---- */

static promo_customer *gen_customer(gen_arena *a, uint32_t n) {
    promo_customer *c = gen_alloc(a, sizeof *c);
    memset(c, 0, sizeof *c);
    char buf[16];
    c->id = gen_str(a, buf, snprintf(buf, sizeof buf, "c%u", n));
    uint64_t h = gen_mix64(n ^ ((uint64_t)SALT_CUSTOMER << 32));
    uint32_t x = (uint32_t)(h % 100);
    c->card = x < 45   ? gen_lit("zabota")
              : x < 60 ? gen_lit("gold")
              : x < 70 ? gen_lit("silver")
                       : (promo_str){0, 0};
    x = (uint32_t)((h >> 8) % 100);
    c->tier = gen_lit(x < 50 ? "bronze" : x < 80 ? "silver" : x < 95 ? "gold" : "platinum");
    static const uint32_t seg_pct[NELEM(segment_names)] = {15, 10, 25, 3, 2, 8};
    promo_str *segs = gen_alloc(a, sizeof(promo_str) * NELEM(segment_names));
    uint32_t ns = 0;
    for (uint32_t k = 0; k < NELEM(segment_names); k++) {
        uint64_t hk = gen_mix64(h + k);
        if (hk % 100 < seg_pct[k]) segs[ns++] = gen_lit(segment_names[k]);
    }
    c->segments = segs;
    c->nsegments = ns;
    if ((h >> 52) % 10 != 0) {
        c->has_birthday = 1;
        int32_t year = 1940 + (int32_t)((h >> 20) % 69);
        c->birthday = civil_days(year, 1, 1) + (int32_t)((h >> 4) % 365);
    }
    c->registered = -1;
    return c;
}

static const uint32_t hour_weight[24] = {1, 1, 1, 1, 1, 1,  1,  3,  5,  6, 7, 7,
                                         8, 8, 7, 7, 8, 10, 12, 12, 10, 7, 4, 2};

void gen_receipt(gen_arena *a, uint64_t seed, uint64_t index, uint32_t lines, promo_receipt *out) {
    gen_receipt_shape(a, seed, index, lines, GEN_SHAPE_default, out);
}

void gen_receipt_shape(gen_arena *a, uint64_t seed, uint64_t index, uint32_t lines, gen_shape shape,
                       promo_receipt *out) {
    const uint32_t sf = (unsigned)shape < GEN__SHAPE_COUNT ? gen_shape_flags[shape] : 0;
    gen_rng rr, *r = &rr;
    gen_rng_seed(r, seed, STREAM_RECEIPT + index);
    memset(out, 0, sizeof *out); /* promo_receipt_init without linking libpromo */
    out->size = sizeof *out;
    char buf[48];
    out->id = gen_str(a, buf, snprintf(buf, sizeof buf, "r%llu", (unsigned long long)index));
    uint32_t store = 101 + gen_rng_below(r, GEN_STORES);
    out->store = gen_str(a, buf, snprintf(buf, sizeof buf, "%u", store));
    uint32_t region = gen_store_region(store);
    out->region = gen_lit(region_names[region]);
    out->channel = gen_rng_pct(r, 8) ? PROMO_CHANNEL_ONLINE : PROMO_CHANNEL_POS;
    static const uint32_t pay_w[5] = {25, 60, 6, 3, 6};
    out->payment = (int)gen_pick(r, pay_w, 5);
    out->date = civil_days(GEN_YEAR, 1, 1) + (int32_t)gen_rng_below(r, 365);
    int32_t hour = (int32_t)gen_pick(r, hour_weight, 24);
    if (sf & GEN_SF_TIME) hour = (int32_t)gen_rng_below(r, 24);
    out->time = hour * 3600 + (int32_t)gen_rng_below(r, 3600);

    if (gen_rng_pct(r, 6)) {
        uint32_t nc = gen_rng_pct(r, 15) ? 2 : 1;
        promo_str *codes = gen_alloc(a, sizeof(promo_str) * nc);
        for (uint32_t j = 0; j < nc; j++)
            codes[j] = gen_lit(gen_any_code(r));
        out->codes = codes;
        out->ncodes = nc;
    }
    promo_kv *kv = gen_alloc(a, sizeof *kv);
    kv->key = gen_lit("weather");
    kv->value = gen_lit(
        weathers[gen_mix64((uint64_t)out->date * 31 + region + ((uint64_t)SALT_WEATHER << 32)) %
                 NELEM(weathers)]);
    out->attrs = kv;
    out->nattrs = 1;

    if (gen_rng_pct(r, 80)) {
        /* A third of the visits come from the 50,000 most loyal customers. */
        uint32_t n =
            gen_rng_pct(r, 35) ? 1 + gen_rng_below(r, 50000) : 1 + gen_rng_below(r, GEN_CUSTOMERS);
        out->customer = gen_customer(a, n);
    }

    uint32_t nl = lines;
    if (!nl) {
        /* Mostly everyday baskets (1..21, triangular around 11), sometimes a big
         * weekly shop (21..40): mean about 12. */
        if (gen_rng_pct(r, 6)) {
            nl = 21 + gen_rng_below(r, 20);
        } else {
            nl = 1 + gen_rng_below(r, 11);
            nl += gen_rng_below(r, 11);
        }
    }
    promo_line *ln = gen_alloc(a, sizeof(promo_line) * nl);
    int64_t total = 0;
    for (uint32_t j = 0; j < nl; j++) {
        uint32_t sku = gen_rng_pct(r, 45) && !(sf & GEN_SF_FLAT)
                           ? gen_hot_sku(gen_rng_below(r, 2000))
                           : gen_rng_below(r, GEN_SKUS);
        gen_sku s;
        gen_sku_info(sku, &s);
        ln[j].sku = gen_str(a, buf, gen_sku_text(sku, buf));
        ln[j].category =
            gen_str(a, buf, gen_category_text4(s.leaf, s.sub, sf & GEN_SF_DEEP ? 4 : 3, buf));
        ln[j].brand = gen_str(a, buf, gen_brand_text(s.brand, buf));
        ln[j].price = s.price;
        if (s.weight) {
            ln[j].qty = 200 + gen_rng_below(r, 2301);
        } else {
            uint32_t x = gen_rng_below(r, 100);
            ln[j].qty = x < 72   ? 1000
                        : x < 90 ? 2000
                        : x < 96 ? 3000
                                 : 1000 * (4 + gen_rng_below(r, 3));
        }
        ln[j].excluded = s.excluded;
        total += (ln[j].qty * ln[j].price + 500) / 1000;
    }
    out->lines = ln;
    out->nlines = nl;
    if (out->payment == PROMO_PAY_BONUS)
        out->points_paid = total / 2 / 100 * 100;
    else if (out->payment == PROMO_PAY_MIXED)
        out->points_paid = (int64_t)gen_rng_below(r, (uint32_t)(total * 3 / 10 / 100) + 1) * 100;
}

void gen_receipts_make(gen_receipts *out, uint64_t seed, size_t n, uint32_t lines) {
    gen_receipts_make_shape(out, seed, n, lines, GEN_SHAPE_default);
}

void gen_receipts_make_shape(gen_receipts *out, uint64_t seed, size_t n, uint32_t lines,
                             gen_shape shape) {
    out->arena = gen_arena_new();
    out->r = xmalloc(sizeof(promo_receipt) * (n ? n : 1));
    out->n = n;
    out->nlines = 0;
    for (size_t i = 0; i < n; i++) {
        gen_receipt_shape(out->arena, seed, i, lines, shape, &out->r[i]);
        out->nlines += out->r[i].nlines;
    }
}

void gen_receipts_free(gen_receipts *g) {
    gen_arena_free(g->arena);
    xfree(g->r);
    memset(g, 0, sizeof *g);
}

/* ------------------------------------------------------------------- JSON ---- */

static void gen_json_str(strbuf *b, promo_str s) {
    sb_json_str(b, s.p ? s.p : "", s.n);
}

static void gen_json_qty(strbuf *b, int64_t q) {
    if (q % 1000 == 0)
        sb_printf(b, "%lld", (long long)(q / 1000));
    else
        sb_printf(b, "%lld.%03lld", (long long)(q / 1000), (long long)(q % 1000));
}

void gen_receipt_json(const promo_receipt *r, strbuf *b) {
    static const char *const pays[5] = {"cash", "card", "credit", "bonus", "mixed"};
    char d[11];
    sb_puts(b, "{\"id\":");
    gen_json_str(b, r->id);
    if (r->store.p) sb_printf(b, ",\"store\":%.*s", (int)r->store.n, r->store.p);
    if (r->region.p) {
        sb_puts(b, ",\"region\":");
        gen_json_str(b, r->region);
    }
    sb_printf(b, ",\"channel\":\"%s\"", r->channel == PROMO_CHANNEL_ONLINE ? "online" : "pos");
    civil_format(r->date, d);
    sb_printf(b, ",\"time\":\"%sT%02d:%02d:%02d\"", d, r->time / 3600, r->time / 60 % 60,
              r->time % 60);
    sb_printf(b, ",\"payment\":\"%s\"", pays[r->payment % 5]);
    if (r->points_paid) {
        sb_puts(b, ",\"points_paid\":");
        sb_money(b, r->points_paid);
    }
    if (r->ncodes) {
        sb_puts(b, ",\"codes\":[");
        for (uint32_t i = 0; i < r->ncodes; i++) {
            if (i) sb_putc(b, ',');
            gen_json_str(b, r->codes[i]);
        }
        sb_putc(b, ']');
    }
    if (r->nattrs) {
        sb_puts(b, ",\"attrs\":{");
        for (uint32_t i = 0; i < r->nattrs; i++) {
            if (i) sb_putc(b, ',');
            gen_json_str(b, r->attrs[i].key);
            sb_putc(b, ':');
            gen_json_str(b, r->attrs[i].value);
        }
        sb_putc(b, '}');
    }
    const promo_customer *c = r->customer;
    if (c) {
        sb_puts(b, ",\"customer\":{\"id\":");
        gen_json_str(b, c->id);
        if (c->card.p) {
            sb_puts(b, ",\"card\":");
            gen_json_str(b, c->card);
        }
        if (c->nsegments) {
            sb_puts(b, ",\"segments\":[");
            for (uint32_t i = 0; i < c->nsegments; i++) {
                if (i) sb_putc(b, ',');
                gen_json_str(b, c->segments[i]);
            }
            sb_putc(b, ']');
        }
        if (c->tier.p) {
            sb_puts(b, ",\"tier\":");
            gen_json_str(b, c->tier);
        }
        if (c->has_birthday) {
            civil_format(c->birthday, d);
            sb_printf(b, ",\"birthday\":\"%s\"", d);
        }
        sb_putc(b, '}');
    }
    sb_puts(b, ",\"lines\":[");
    for (uint32_t i = 0; i < r->nlines; i++) {
        const promo_line *l = &r->lines[i];
        sb_puts(b, i ? ",{\"sku\":" : "{\"sku\":");
        gen_json_str(b, l->sku);
        if (l->category.p) {
            sb_puts(b, ",\"category\":");
            gen_json_str(b, l->category);
        }
        if (l->brand.p) {
            sb_puts(b, ",\"brand\":");
            gen_json_str(b, l->brand);
        }
        sb_puts(b, ",\"qty\":");
        gen_json_qty(b, l->qty);
        sb_puts(b, ",\"price\":");
        sb_money(b, l->price);
        if (l->excluded) sb_puts(b, ",\"excluded\":true");
        sb_putc(b, '}');
    }
    sb_puts(b, "]}");
}
