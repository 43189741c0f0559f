/*
 * prefilter.c — builds the prefilter index of a bundle (see prefilter.h). Runs once per
 * engine generation, off the hot path: it may allocate and sort freely.
 */
#include "prefilter.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "need.h"

/* Tables larger than this are not built (the engine falls back to per-campaign work). */
#define PF_TABLE_MAX (4u << 20)

typedef struct pf_build_ctx {
    pf_index *ix;
    int oom;
} pf_build_ctx;

static void *pf_alloc(pf_build_ctx *c, size_t n, size_t size) {
    if (c->oom) return NULL;
    void *p = pa_calloc(&c->ix->alloc, n ? n : 1, size);
    if (!p) {
        c->oom = 1;
        return NULL;
    }
    c->ix->bytes += (n ? n : 1) * size;
    return p;
}

static int pf_i32_cmp(const void *pa, const void *pb) {
    int32_t a = *(const int32_t *)pa, b = *(const int32_t *)pb;
    return a < b ? -1 : a > b;
}

typedef struct pf_hkey { /* a history slot and its key, for the key order */
    uint64_t key;
    uint32_t slot;
} pf_hkey;

static int pf_hkey_cmp(const void *pa, const void *pb) {
    const pf_hkey *a = pa, *b = pb;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return a->slot < b->slot ? -1 : a->slot > b->slot;
}

/* Sorts and dedups v[0 .. n); returns the distinct count. */
static uint32_t pf_distinct(int32_t *v, uint32_t n) {
    qsort(v, n, sizeof *v, pf_i32_cmp);
    uint32_t u = 0;
    for (uint32_t i = 0; i < n; i++)
        if (u == 0 || v[u - 1] != v[i]) v[u++] = v[i];
    return u;
}

/* ------------------------------------------------------------------ time ---- */

uint8_t pf_time_clauses(const promo_bundle *b, const pb_campaign *c, int32_t date, uint32_t wd,
                        int32_t t) {
    if (date < c->date_from || date > c->date_to) return PF_T_ACTIVE;
    uint32_t prev = (wd + 6) % 7;
    if (c->hours_cnt == 0) return c->weekday_mask >> wd & 1 ? PF_T_OK : PF_T_DAYS;
    /* The part of an overnight window after midnight belongs to the day the window
     * started (docs/semantics.md). */
    int time_ok = 0, ok = 0;
    for (uint32_t k = 0; k < c->hours_cnt && !ok; k++) {
        int32_t from = (int32_t)b->hours[2 * (c->hours_off + k)];
        int32_t to = (int32_t)b->hours[2 * (c->hours_off + k) + 1];
        uint32_t day = PF_NONE;
        if (from < to) {
            if (t >= from && t < to) day = wd;
        } else if (t >= from) {
            day = wd;
        } else if (t < to) {
            day = prev;
        }
        if (day != PF_NONE) {
            time_ok = 1;
            ok = c->weekday_mask >> day & 1;
        }
    }
    return ok ? PF_T_OK : time_ok ? PF_T_DAYS : PF_T_HOURS;
}

/* Every hour test is `t >= bound` or `t < bound`, so its outcome is constant between
 * consecutive distinct boundaries: the slot of t (how many boundaries are <= t) and the
 * weekday decide every campaign's days and hours; likewise the date slot decides
 * `active`. */
static void pf_time_setup(pf_build_ctx *c) {
    pf_index *ix = c->ix;
    const promo_bundle *b = ix->b;
    uint32_t nc = b->ncampaigns, words = ix->words;
    ix->tb = pf_alloc(c, b->nhours, sizeof *ix->tb);
    ix->dr = pf_alloc(c, (size_t)2 * nc, sizeof *ix->dr);
    ix->db = pf_alloc(c, (size_t)2 * nc, sizeof *ix->db);
    if (c->oom) return;
    for (uint32_t i = 0; i < b->nhours; i++)
        ix->tb[i] = (int32_t)b->hours[i];
    ix->ntb = pf_distinct(ix->tb, b->nhours);

    size_t nw = (size_t)7 * (ix->ntb + 1) * 2 * words;
    if (nw * sizeof(uint64_t) <= PF_TABLE_MAX && (ix->tw = pf_alloc(c, nw, sizeof *ix->tw))) {
        /* Campaign by campaign: without hours the outcome does not depend on the slot. */
        size_t stride = 2 * (size_t)words; /* words per (weekday, slot) row */
        for (uint32_t i = 0; i < nc; i++) {
            const pb_campaign *cp = &b->campaigns[i];
            uint64_t bit = 1ull << (i % 64);
            for (uint32_t wd = 0; wd < 7; wd++) {
                uint64_t *row = ix->tw + (size_t)wd * (ix->ntb + 1) * stride + i / 64;
                for (uint32_t slot = 0; slot <= ix->ntb; slot++, row += stride) {
                    /* Any time of the slot: its lower boundary (0 for the first slot).
                     * date_from/date_to are the date table's: pass them here. Without
                     * hours, the previous slot's outcome. */
                    uint8_t o;
                    if (cp->hours_cnt || slot == 0)
                        o = pf_time_clauses(b, cp, cp->date_from, wd, slot ? ix->tb[slot - 1] : 0);
                    else
                        o = (row - stride)[0] & bit ? PF_T_OK : PF_T_DAYS;
                    if (o == PF_T_OK) row[0] |= bit;
                    if (o != PF_T_HOURS) row[words] |= bit;
                }
            }
        }
        ix->use_tw = 1;
    }

    uint32_t n = 0;
    for (uint32_t i = 0; i < nc; i++) {
        const pb_campaign *cp = &b->campaigns[i];
        ix->dr[2 * i] = cp->date_from;
        ix->dr[2 * i + 1] = cp->date_to;
        ix->db[n++] = cp->date_from;
        if (cp->date_to < INT32_MAX) ix->db[n++] = cp->date_to + 1;
    }
    ix->ndb = pf_distinct(ix->db, n);
    nw = ((size_t)ix->ndb + 1) * words;
    if (nw * sizeof(uint64_t) > PF_TABLE_MAX || !(ix->dact = pf_alloc(c, nw, sizeof *ix->dact)))
        return;
    /* Slot s holds the dates in [db[s - 1], db[s]); any of them decides. */
    for (uint32_t slot = 0; slot <= ix->ndb; slot++) {
        int32_t d = slot ? ix->db[slot - 1] : INT32_MIN;
        uint64_t *row = ix->dact + (size_t)slot * words;
        for (uint32_t i = 0; i < nc; i++)
            if (d >= b->campaigns[i].date_from && d <= b->campaigns[i].date_to)
                row[i / 64] |= 1ull << (i % 64);
    }
    ix->use_dact = 1;
}

/* ------------------------------------------------ receipt-constant clauses ---- */

typedef struct pf_rxpair {
    uint64_t h;
    uint32_t kind, ci;
} pf_rxpair;

static int pf_rxpair_cmp(const void *pa, const void *pb) {
    const pf_rxpair *a = pa, *b = pb;
    if (a->h != b->h) return a->h < b->h ? -1 : 1;
    if (a->kind != b->kind) return a->kind < b->kind ? -1 : 1;
    return a->ci < b->ci ? -1 : a->ci > b->ci;
}

static uint32_t pf_rx_probe(uint64_t h, uint32_t kind) {
    return (uint32_t)((h ^ (0x9E3779B97F4A7C15ull * (kind + 1))) >> 7);
}

static void pf_rx_setup(pf_build_ctx *c) {
    pf_index *ix = c->ix;
    const promo_bundle *b = ix->b;
    uint32_t words = ix->words, nc = b->ncampaigns;
    if (!(ix->rxfree = pf_alloc(c, (size_t)6 * words, sizeof *ix->rxfree))) return;
    size_t npairs = 0;
    for (uint32_t i = 0; i < nc; i++) {
        const pb_campaign *cp = &b->campaigns[i];
        uint32_t sets[5] = {cp->stores_set, cp->regions_set, cp->card_set, cp->segment_set,
                            cp->code_set};
        for (uint32_t k = 0; k < 5; k++)
            if (sets[k] != PB_NONE) npairs += b->sets[sets[k]].nslots;
        uint64_t bit = 1ull << (i % 64);
        if (sets[0] == PB_NONE && sets[1] == PB_NONE) ix->rxfree[i / 64] |= bit;
        for (uint32_t k = 2; k < 5; k++)
            if (sets[k] == PB_NONE) ix->rxfree[(size_t)(k - 1) * words + i / 64] |= bit;
        for (uint32_t ch = 0; ch < 2; ch++)
            if (!cp->channel_mask || (cp->channel_mask >> ch & 1))
                ix->rxfree[(size_t)(4 + ch) * words + i / 64] |= bit;
    }
    pf_rxpair *pairs = pa_calloc(&ix->alloc, npairs ? npairs : 1, sizeof *pairs);
    if (!pairs) {
        c->oom = 1;
        return;
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < nc; i++) {
        const pb_campaign *cp = &b->campaigns[i];
        uint32_t sets[5] = {cp->stores_set, cp->regions_set, cp->card_set, cp->segment_set,
                            cp->code_set};
        for (uint32_t k = 0; k < 5; k++) {
            if (sets[k] == PB_NONE) continue;
            const uint64_t *slot = b->slots + b->sets[sets[k]].slot_off;
            for (uint32_t j = 0; j < b->sets[sets[k]].nslots; j++)
                if (slot[j]) pairs[n++] = (pf_rxpair){slot[j], k, i};
        }
    }
    qsort(pairs, n, sizeof *pairs, pf_rxpair_cmp);
    uint32_t nkeys = 0;
    ix->rxci = pf_alloc(c, n, sizeof *ix->rxci);
    for (uint32_t i = 0; ix->rxci && i < n; i++) {
        ix->rxci[i] = pairs[i].ci;
        nkeys += i == 0 || pairs[i].h != pairs[i - 1].h || pairs[i].kind != pairs[i - 1].kind;
    }
    uint32_t size = 2;
    while (size < 2 * nkeys)
        size *= 2;
    if ((ix->rxmap = pf_alloc(c, size, sizeof *ix->rxmap))) {
        for (uint32_t i = 0; i < n;) {
            uint32_t j = i;
            while (j < n && pairs[j].h == pairs[i].h && pairs[j].kind == pairs[i].kind)
                j++;
            uint32_t p = pf_rx_probe(pairs[i].h, pairs[i].kind) & (size - 1);
            while (ix->rxmap[p].h)
                p = (p + 1) & (size - 1);
            ix->rxmap[p] = (pf_slot){pairs[i].h, i, pairs[i].kind | (j - i) << 3};
            i = j;
        }
        ix->rxmap_mask = size - 1;
    }
    pa_free(&ix->alloc, pairs);
}

void pf_rx_lookup(const pf_index *ix, uint64_t *m, uint32_t kind, uint64_t h) {
    if (!h) return;
    for (uint32_t p = pf_rx_probe(h, kind) & ix->rxmap_mask; ix->rxmap[p].h;
         p = (p + 1) & ix->rxmap_mask) {
        const pf_slot *e = &ix->rxmap[p];
        if (e->h != h || (e->kindcnt & 7) != kind) continue;
        for (uint32_t k = 0; k < e->kindcnt >> 3; k++) {
            uint32_t ci = ix->rxci[e->off + k];
            m[ci / 64] |= 1ull << (ci % 64);
        }
        return;
    }
}

/* ------------------------------------------------------------ line atoms ---- */

static int pf_catpair_cmp(const void *pa, const void *pb) {
    const pf_catpair *a = pa, *b = pb;
    if (a->h != b->h) return a->h < b->h ? -1 : 1;
    if (a->kind != b->kind) return a->kind < b->kind ? -1 : 1;
    return a->set < b->set ? -1 : a->set > b->set;
}

/* The index table of a line-atom opcode (opcodes.h `atom` column): per set for a SET
 * operand, per constant for a CONST one (a constant is a set of one); NULL otherwise. */
static uint32_t *pf_atom_table(const pf_index *ix, const promo_opinfo *oi) {
    int set = oi->operand == OPK_SET;
    switch (oi->atom) {
    case OPA_CAT: return set ? ix->cat_idx : NULL;
    case OPA_BRAND: return set ? ix->brand_idx : ix->brandk_idx;
    case OPA_SKU: return set ? ix->sku_idx : ix->skuk_idx;
    default: return NULL;
    }
}

/* Every operand of a line-atom opcode (L_CAT_IN, L_BRAND_IN, L_SKU_IN, L_BRAND_EQ,
 * L_SKU_EQ) gets an atom bit. */
static void pf_cat_setup(pf_build_ctx *c) {
    pf_index *ix = c->ix;
    const promo_bundle *b = ix->b;
    uint32_t *idx[3];
    idx[PF_LX_CAT] = ix->cat_idx = pf_alloc(c, b->nsets, sizeof *ix->cat_idx);
    idx[PF_LX_BRAND] = ix->brand_idx = pf_alloc(c, b->nsets, sizeof *ix->brand_idx);
    idx[PF_LX_SKU] = ix->sku_idx = pf_alloc(c, b->nsets, sizeof *ix->sku_idx);
    ix->brandk_idx = pf_alloc(c, b->nconsts, sizeof *ix->brandk_idx);
    ix->skuk_idx = pf_alloc(c, b->nconsts, sizeof *ix->skuk_idx);
    if (c->oom) return;
    for (uint32_t i = 0; i < b->nsets; i++)
        ix->cat_idx[i] = ix->brand_idx[i] = ix->sku_idx[i] = PF_NONE;
    for (uint32_t i = 0; i < b->nconsts; i++)
        ix->brandk_idx[i] = ix->skuk_idx[i] = PF_NONE;
    /* Block by block: only verified instructions. */
    size_t npairs = 0;
    for (uint32_t blk = 0; blk < b->nblocks; blk++) {
        uint32_t end = b->blocks[blk].start + b->blocks[blk].len;
        for (uint32_t k = b->blocks[blk].start; k < end; k++) {
            const promo_opinfo *oi = op_info(INSN_OP(b->code[k]));
            uint32_t *t = pf_atom_table(ix, oi), a = INSN_A(b->code[k]);
            if (!t || t[a] != PF_NONE) continue;
            t[a] = ix->ncat++;
            npairs += oi->operand == OPK_SET ? b->sets[a].nslots : 1;
        }
    }
    if (!ix->ncat || !(ix->catpairs = pf_alloc(c, npairs, sizeof *ix->catpairs))) return;
    uint32_t n = 0;
    for (uint32_t kind = 0; kind < 3; kind++)
        for (uint32_t s = 0; s < b->nsets; s++) {
            if (idx[kind][s] == PF_NONE) continue;
            const uint64_t *slot = b->slots + b->sets[s].slot_off;
            for (uint32_t k = 0; k < b->sets[s].nslots; k++)
                if (slot[k]) ix->catpairs[n++] = (pf_catpair){slot[k], idx[kind][s], kind};
        }
    /* SEQ is false for hash 0 (absent): such a constant gets a bit no line sets. */
    for (uint32_t k = 0; k < b->nconsts; k++) {
        uint64_t h = (uint64_t)b->consts[k].value;
        if (ix->brandk_idx[k] != PF_NONE && h)
            ix->catpairs[n++] = (pf_catpair){h, ix->brandk_idx[k], PF_LX_BRAND};
        if (ix->skuk_idx[k] != PF_NONE && h)
            ix->catpairs[n++] = (pf_catpair){h, ix->skuk_idx[k], PF_LX_SKU};
    }
    qsort(ix->catpairs, n, sizeof *ix->catpairs, pf_catpair_cmp);
    uint32_t size = 2;
    while (size < 2 * n)
        size *= 2;
    if (!(ix->catmap = pf_alloc(c, size, sizeof *ix->catmap))) return;
    for (uint32_t i = 0; i < n;) {
        uint32_t j = i;
        while (j < n && ix->catpairs[j].h == ix->catpairs[i].h)
            j++;
        uint32_t p = (uint32_t)ix->catpairs[i].h & (size - 1);
        while (ix->catmap[p].h)
            p = (p + 1) & (size - 1);
        ix->catmap[p] = (pf_slot){ix->catpairs[i].h, i, j - i};
        uint32_t f = pf_catfilter_bit(ix->catpairs[i].h);
        ix->catfilter[f / 64] |= 1ull << (f % 64);
        i = j;
    }
    ix->catmap_mask = size - 1;
}

/* The atom PRED block `blk` is exactly (one line-atom opcode, then RET), or PF_NONE. */
static uint32_t pf_pred_atom(const pf_index *ix, uint32_t blk) {
    const promo_bundle *b = ix->b;
    const pb_block *bl = &b->blocks[blk];
    const promo_insn *c = b->code + bl->start;
    if (bl->kind != PB_BLOCK_PRED || !ix->ncat || bl->len != 2) return PF_NONE;
    const uint32_t *t = pf_atom_table(ix, op_info(INSN_OP(c[0])));
    return t ? t[INSN_A(c[0])] : PF_NONE;
}

/* ---------------------------------------------------------- requirements ---- */

typedef struct pf_vec {
    void *v;
    size_t n, cap, size;
} pf_vec;

static int pf_reserve(pf_build_ctx *c, pf_vec *v, size_t more) {
    if (v->n + more <= v->cap) return 0;
    size_t nc = v->cap ? v->cap : 64;
    while (nc < v->n + more)
        nc *= 2;
    void *p = pa_realloc(&c->ix->alloc, v->v, nc * v->size);
    if (!p) {
        c->oom = 1;
        return -1;
    }
    v->v = p;
    v->cap = nc;
    return 0;
}

/* Appends the atoms of need p to the uint32_t vector v; -1 when out of memory. */
static int pf_push_need(pf_build_ctx *c, pf_vec *v, need_set p) {
    if (p.n == 0) return 0; /* nothing to copy (v->v may still be NULL) */
    if (pf_reserve(c, v, p.n)) return -1;
    memcpy((uint32_t *)v->v + v->n, p.at, p.n * sizeof p.at[0]);
    v->n += p.n;
    return 0;
}

/* The constant k when COND block blk is one test of an OPF_TOTAL_MIN opcode, the form a
 * `when` of one part takes (codegen.c cg_when): `T k; ASSERT p; PUSH_I 1; RET`; else
 * PB_NONE. */
static uint32_t pf_when_total(const promo_bundle *b, uint32_t blk) {
    const pb_block *bl = &b->blocks[blk];
    if (bl->len != 4) return PB_NONE;
    const promo_insn *c = b->code + bl->start;
    const promo_opinfo *oi = op_info(INSN_OP(c[0]));
    if (!(oi->facts & OPF_TOTAL_MIN) || oi->operand != OPK_CONST || INSN_OP(c[1]) != OP_ASSERT ||
        INSN_OP(c[2]) != OP_PUSH_I || INSN_SA(c[2]) != 1 || INSN_OP(c[3]) != OP_RET)
        return PB_NONE;
    return INSN_A(c[0]);
}

/* From each campaign's `when`, and when every reward is a line reward with a known need,
 * "some non-excluded line has one of their atoms" (runtime/need.h). */
static void pf_req_setup(pf_build_ctx *c) {
    enum { MAXC = 16 };
    pf_index *ix = c->ix;
    const promo_bundle *b = ix->b;
    uint32_t nc = b->ncampaigns;
    ix->creq = pf_alloc(c, nc, sizeof *ix->creq);
    ix->req_off = pf_alloc(c, (size_t)nc + 1, sizeof *ix->req_off);
    if (c->oom) return;
    const need_atoms na = {ix->cat_idx,    ix->brand_idx, ix->sku_idx,
                           ix->brandk_idx, ix->skuk_idx,  &ix->alloc};
    pf_vec reqs = {NULL, 0, 0, sizeof(pf_req)}, atoms = {NULL, 0, 0, sizeof(uint32_t)};
    need_set ns[MAXC];
    for (uint32_t ci = 0; ci < nc && !c->oom; ci++) {
        const pb_campaign *cp = &b->campaigns[ci];
        ix->req_off[ci] = (uint32_t)reqs.n;
        ix->creq[ci].min_total = INT64_MIN;
        ix->creq[ci].when_total =
            cp->cond_block != PB_NONE ? pf_when_total(b, cp->cond_block) : PB_NONE;
        int m = 0;
        if (cp->cond_block != PB_NONE &&
            (m = need_cond(b, &na, cp->cond_block, ns, MAXC, &ix->creq[ci].min_total)) < 0) {
            c->oom = 1;
            break;
        }
        /* The rewards' needs as one union of any size. */
        size_t rw_off = atoms.n;
        int lines_only = cp->reward_cnt > 0;
        for (uint32_t r = 0; r < cp->reward_cnt && lines_only; r++) {
            const pb_reward *rw = &b->rewards[cp->reward_off + r];
            if (rw->kind == REWARD_SPEND_LIMIT || rw->level == PB_LEVEL_RECEIPT ||
                rw->pred == PRED_ALL_LINES) {
                lines_only = 0;
                break;
            }
            need_set p = need_pred(b, &na, rw->pred);
            if (p.n == 0 || pf_reserve(c, &atoms, p.n)) {
                lines_only = 0;
                break;
            }
            memcpy((uint32_t *)atoms.v + atoms.n, p.at, p.n * sizeof p.at[0]);
            atoms.n += p.n;
        }
        size_t rw_cnt = lines_only ? atoms.n - rw_off : 0;
        if (!lines_only || rw_cnt > UINT16_MAX) atoms.n = rw_off, rw_cnt = 0;
        if (pf_reserve(c, &reqs, (size_t)m + 1)) break;
        pf_req *rq = reqs.v;
        if (rw_cnt) rq[reqs.n++] = (pf_req){(uint32_t)rw_off, (uint16_t)rw_cnt, 1};
        for (int k = 0; k < m; k++) {
            if (pf_reserve(c, &atoms, ns[k].n)) break;
            rq[reqs.n++] = (pf_req){(uint32_t)atoms.n, (uint16_t)ns[k].n, 0};
            memcpy((uint32_t *)atoms.v + atoms.n, ns[k].at, ns[k].n * sizeof ns[k].at[0]);
            atoms.n += ns[k].n;
        }
    }
    ix->req_off[nc] = (uint32_t)reqs.n;
    ix->reqs = reqs.v;
    ix->req_atoms = atoms.v;
    ix->bytes += reqs.cap * reqs.size + atoms.cap * atoms.size;
    if (c->oom) return;
    /* History slots: the atoms their predicate needs. */
    if (!(ix->hist_off = pf_alloc(c, (size_t)b->nhist + 1, sizeof *ix->hist_off))) return;
    pf_vec hat = {NULL, 0, 0, sizeof(uint32_t)};
    for (uint32_t h = 0; h < b->nhist; h++) {
        ix->hist_off[h] = (uint32_t)hat.n;
        if (b->hist[h].pred == PRED_ALL_LINES) continue;
        if (pf_push_need(c, &hat, need_pred(b, &na, b->hist[h].pred))) break;
    }
    ix->hist_off[b->nhist] = (uint32_t)hat.n;
    ix->hist_atoms = hat.v;
    ix->bytes += hat.cap * hat.size;
    if (c->oom) return;
    /* ... and inverted (counting sort by atom; ranks ascending within an atom), each slot
     * named by its rank in key order. */
    ix->hist_words = (b->nhist + 63) / 64;
    pf_hkey *hk = pf_alloc(c, b->nhist, sizeof *hk);
    uint32_t *rank = pf_alloc(c, b->nhist, sizeof *rank);
    if (!hk || !rank || !(ix->hist_by_key = pf_alloc(c, b->nhist, sizeof *ix->hist_by_key)) ||
        !(ix->hist_open = pf_alloc(c, ix->hist_words, sizeof *ix->hist_open)) ||
        !(ix->atom_hist_off = pf_alloc(c, (size_t)ix->ncat + 1, sizeof *ix->atom_hist_off)) ||
        !(ix->atom_hist = pf_alloc(c, hat.n, sizeof *ix->atom_hist))) {
        pa_free(&ix->alloc, hk);
        pa_free(&ix->alloc, rank);
        return;
    }
    for (uint32_t h = 0; h < b->nhist; h++)
        hk[h] = (pf_hkey){b->hist[h].key, h};
    qsort(hk, b->nhist, sizeof *hk, pf_hkey_cmp);
    for (uint32_t r = 0; r < b->nhist; r++) {
        ix->hist_by_key[r] = hk[r].slot;
        rank[hk[r].slot] = r;
    }
    for (uint32_t h = 0; h < b->nhist; h++) {
        if (ix->hist_off[h] == ix->hist_off[h + 1])
            ix->hist_open[rank[h] / 64] |= 1ull << (rank[h] % 64);
        for (uint32_t k = ix->hist_off[h]; k < ix->hist_off[h + 1]; k++)
            ix->atom_hist_off[ix->hist_atoms[k] + 1]++;
    }
    for (uint32_t a = 0; a < ix->ncat; a++)
        ix->atom_hist_off[a + 1] += ix->atom_hist_off[a];
    for (uint32_t r = 0; r < b->nhist; r++) {
        uint32_t h = ix->hist_by_key[r];
        for (uint32_t k = ix->hist_off[h]; k < ix->hist_off[h + 1]; k++)
            ix->atom_hist[ix->atom_hist_off[ix->hist_atoms[k]]++] = r;
    }
    /* (index-build scratch, not counted in ix->bytes) */
    ix->bytes -= (size_t)(b->nhist ? b->nhist : 1) * (sizeof *hk + sizeof *rank);
    pa_free(&ix->alloc, hk);
    pa_free(&ix->alloc, rank);
    for (uint32_t a = ix->ncat; a > 0; a--)
        ix->atom_hist_off[a] = ix->atom_hist_off[a - 1];
    ix->atom_hist_off[0] = 0;
    size_t nflat = 1;
    for (uint32_t q = 0; q < ix->req_off[nc]; q++)
        nflat += ix->reqs[q].cnt;
    uint32_t wbits = (ix->ncat + 63) / 64 * 64, nf = 0;
    int fits = nflat + 2 * (size_t)wbits <= PF_RQ_BIT; /* else no requirement is checked */
    if (fits && !(ix->req_flat = pf_alloc(c, nflat, sizeof *ix->req_flat))) return;
    for (uint32_t ci = 0; ci < nc; ci++) {
        uint32_t from = ix->req_off[ci], to = ix->req_off[ci + 1];
        pf_req *r = &ix->reqs[from];
        if (from == to || !fits) {
            ix->creq[ci].req1 = PF_REQ_NONE;
            continue;
        }
        if (to - from == 1 && r->cnt == 1) {
            ix->creq[ci].req1 = ix->req_atoms[r->off] << 1 | r->excl;
            continue;
        }
        /* fewest atoms first (insertion sort, stable: a few requirements) */
        for (uint32_t i = 1; i < to - from; i++)
            for (uint32_t j = i; j > 0 && r[j].cnt < r[j - 1].cnt; j--) {
                pf_req t = r[j];
                r[j] = r[j - 1];
                r[j - 1] = t;
            }
        ix->creq[ci].req1 = PF_REQ_MORE | nf;
        for (uint32_t q = 0; q < to - from; q++)
            for (uint32_t k = 0; k < r[q].cnt; k++)
                ix->req_flat[nf++] = (ix->req_atoms[r[q].off + k] + (r[q].excl ? wbits : 0)) |
                                     (k + 1 == r[q].cnt ? PF_RQ_END : 0) |
                                     (k + 1 == r[q].cnt && q + 1 == to - from ? PF_RQ_LAST : 0);
    }
}

/* ------------------------------------------------------------------ memo ---- */

/* 1 when PRED block `blk` gives the same value for a line all through the receipt: it
 * reads neither the current amount, price or total, nor anything else that is not a
 * fixed fact (aggregates, history and ASSERT are not expected in PRED blocks; they are
 * excluded all the same). */
static int pf_pred_fixed(const promo_bundle *b, uint32_t blk) {
    const pb_block *bl = &b->blocks[blk];
    if (bl->kind != PB_BLOCK_PRED) return 0;
    for (uint32_t k = 0; k < bl->len; k++) {
        const promo_opinfo *oi = op_info(INSN_OP(b->code[bl->start + k]));
        if ((oi->facts & OPF_AMOUNTS) || oi->context == OPC_COND) return 0;
    }
    return 1;
}

/* -------------------------------------------------------- line-mask programs ---- */

/* The atom of line-atom instruction `in`, PF_NONE for any other instruction. */
static uint32_t pf_atom_at(const pf_index *ix, promo_insn in) {
    const uint32_t *t = pf_atom_table(ix, op_info(INSN_OP(in)));
    return t ? t[INSN_A(in)] : PF_NONE;
}

static int pf_is_cmp(promo_opcode op) {
    return op == OP_EQ || op == OP_NE || op == OP_LT || op == OP_LE || op == OP_GT || op == OP_GE;
}

/* A numeric constant pushed by c[k] (PUSH_I, or PUSH_K of a non-ABSENT value). */
static int pf_num_const(const promo_bundle *b, promo_insn in, int64_t *v) {
    if (INSN_OP(in) == OP_PUSH_I) {
        *v = INSN_SA(in);
        return 1;
    }
    if (INSN_OP(in) != OP_PUSH_K || b->consts[INSN_A(in)].str != PB_NONE) return 0;
    *v = b->consts[INSN_A(in)].value;
    return *v != PROMO_ABSENT;
}

/* Compiles PRED block `blk` into out[0 ..) (VM_M_END last); returns the op count, 0 when
 * the block has a shape the programs do not cover. The bytecode is postfix already but
 * for `and`/`or`: `A JF_KEEP L; B; L:` becomes `A B AND`. Only properly nested jumps are
 * accepted (each target at or before the enclosing one's), so the rewrite is exact.
 * `price`: a current program, where a constant compared with the current unit price
 * (`K; L_PRICE_CMP a`) becomes VM_M_PRICE. */
static uint32_t pf_mask_compile(const pf_index *ix, uint32_t blk, vm_mop *out, uint32_t cap,
                                int price) {
    const promo_bundle *b = ix->b;
    const pb_block *bl = &b->blocks[blk];
    const promo_insn *c = b->code + bl->start;
    uint32_t tgt[VM_MASK_DEPTH], kind[VM_MASK_DEPTH], nj = 0, n = 0, depth = 0;
    static const uint8_t swap[OP__COUNT] = {[OP_EQ] = OP_EQ, [OP_NE] = OP_NE, [OP_LT] = OP_GT,
                                            [OP_LE] = OP_GE, [OP_GT] = OP_LT, [OP_GE] = OP_LE};
#define PF_EMIT(...)                                                                               \
    do {                                                                                           \
        if (n + 1 >= cap) return 0;                                                                \
        out[n++] = (vm_mop){__VA_ARGS__};                                                          \
    } while (0)
    for (uint32_t k = 0; k < bl->len;) {
        /* Close the and/or whose jumps land here, innermost first. */
        while (nj && tgt[nj - 1] == k) {
            PF_EMIT(.op = (uint8_t)kind[--nj]);
            depth--;
        }
        for (uint32_t j = 0; j < nj; j++)
            if (tgt[j] <= k) return 0; /* not nested */
        promo_opcode op = INSN_OP(c[k]);
        uint32_t atom = pf_atom_at(ix, c[k]), facts = op_info(op)->facts;
        int64_t v;
        if (atom != PF_NONE) {
            PF_EMIT(.op = VM_M_ATOM, .atom = atom);
            depth++;
            k++;
        } else if (op == OP_L_EXCLUDED) {
            PF_EMIT(.op = VM_M_EXCL);
            depth++;
            k++;
        } else if ((op == OP_L_QTY || op == OP_L_ORIG_PRICE) && k + 2 < bl->len &&
                   pf_num_const(b, c[k + 1], &v) && pf_is_cmp(INSN_OP(c[k + 2]))) {
            PF_EMIT(.op = op == OP_L_QTY ? VM_M_QTY : VM_M_OPRICE,
                    .cmp = (uint8_t)INSN_OP(c[k + 2]), .c = v);
            depth++;
            k += 3;
        } else if (k + 2 < bl->len && pf_num_const(b, c[k], &v) &&
                   (INSN_OP(c[k + 1]) == OP_L_QTY || INSN_OP(c[k + 1]) == OP_L_ORIG_PRICE) &&
                   pf_is_cmp(INSN_OP(c[k + 2]))) {
            PF_EMIT(.op = INSN_OP(c[k + 1]) == OP_L_QTY ? VM_M_QTY : VM_M_OPRICE,
                    .cmp = swap[INSN_OP(c[k + 2])], .c = v);
            depth++;
            k += 3;
        } else if (price && k + 1 < bl->len && pf_num_const(b, c[k], &v) &&
                   INSN_OP(c[k + 1]) == OP_L_PRICE_CMP && INSN_A(c[k + 1]) <= 5) {
            PF_EMIT(.op = VM_M_PRICE, .cmp = (uint8_t)INSN_A(c[k + 1]), .c = v);
            depth++;
            k += 2;
        } else if (op == OP_NOT) {
            PF_EMIT(.op = VM_M_NOT);
            k++;
        } else if (facts & (OPF_JF_KEEP | OPF_JT_KEEP)) {
            uint32_t t = k + 1 + INSN_A(c[k]);
            if (nj == VM_MASK_DEPTH || (nj && t > tgt[nj - 1])) return 0;
            tgt[nj] = t;
            kind[nj++] = facts & OPF_JF_KEEP ? VM_M_AND : VM_M_OR;
            k++;
        } else if (op == OP_RET && k + 1 == bl->len && nj == 0 && depth == 1) {
            PF_EMIT(.op = VM_M_END);
            return n;
        } else {
            return 0;
        }
        if (depth > VM_MASK_DEPTH) return 0;
    }
    return 0;
#undef PF_EMIT
}

static void pf_mask_setup(pf_build_ctx *c) {
    pf_index *ix = c->ix;
    const promo_bundle *b = ix->b;
    if (c->oom || !(ix->mprog_off = pf_alloc(c, b->nblocks, sizeof *ix->mprog_off)) ||
        !(ix->cprog_off = pf_alloc(c, b->nblocks, sizeof *ix->cprog_off)))
        return;
    pf_vec prog = {NULL, 0, 0, sizeof(vm_mop)};
    for (uint32_t i = 0; i < b->nblocks; i++) {
        ix->mprog_off[i] = ix->cprog_off[i] = PF_NONE;
        /* memoised blocks get a program; the other PRED blocks that are not one atom, a
         * current program when theirs reads the current price only through L_PRICE_CMP */
        int cur = ix->memo_idx[i] == PF_NONE;
        if (!ix->ncat || b->blocks[i].kind != PB_BLOCK_PRED || (cur && ix->pred_atom[i] != PF_NONE))
            continue;
        uint32_t cap = 2 * b->blocks[i].len + 2;
        if (pf_reserve(c, &prog, cap)) return;
        uint32_t n = pf_mask_compile(ix, i, (vm_mop *)prog.v + prog.n, cap, cur);
        if (!n) continue;
        (cur ? ix->cprog_off : ix->mprog_off)[i] = (uint32_t)prog.n;
        prog.n += n;
    }
    ix->mprog = prog.v;
    ix->bytes += prog.cap * prog.size;
}

/* The needs of the PRED blocks that run per line (vm_pred_cand). */
static void pf_pred_need_setup(pf_build_ctx *c) {
    pf_index *ix = c->ix;
    const promo_bundle *b = ix->b;
    if (c->oom || !(ix->pred_need_off = pf_alloc(c, (size_t)b->nblocks + 1, sizeof(uint32_t))))
        return;
    const need_atoms na = {ix->cat_idx,    ix->brand_idx, ix->sku_idx,
                           ix->brandk_idx, ix->skuk_idx,  &ix->alloc};
    pf_vec at = {NULL, 0, 0, sizeof(uint32_t)};
    for (uint32_t i = 0; i < b->nblocks; i++) {
        ix->pred_need_off[i] = (uint32_t)at.n;
        if (b->blocks[i].kind != PB_BLOCK_PRED || !ix->ncat || ix->pred_atom[i] != PF_NONE ||
            ix->mprog_off[i] != PF_NONE)
            continue;
        if (pf_push_need(c, &at, need_pred(b, &na, i))) break;
    }
    ix->pred_need_off[b->nblocks] = (uint32_t)at.n;
    ix->pred_need_atoms = at.v;
    ix->bytes += at.cap * at.size;
}

/* ---------------------------------------------------------- compatibility ---- */

static int pf_accepts(const promo_bundle *b, const pb_campaign *a, uint32_t group) {
    if (a->accept_mode == PB_ACCEPT_ANY) return 1;
    if (a->accept_mode == PB_ACCEPT_NONE) return 0;
    const uint32_t *l = b->accept + a->accept_off;
    uint32_t lo = 0, hi = a->accept_cnt;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (l[mid] == group) return 1;
        if (l[mid] < group)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

int pf_compatible(const promo_bundle *b, uint32_t i, uint32_t j) {
    if (i == j) return 1;
    const pb_campaign *a = &b->campaigns[i], *c = &b->campaigns[j];
    return pf_accepts(b, a, c->group) && pf_accepts(b, c, a->group);
}

static void pf_compat_setup(pf_build_ctx *c) {
    pf_index *ix = c->ix;
    const promo_bundle *b = ix->b;
    uint32_t words = (b->ngroups + 63) / 64;
    size_t need = (size_t)b->ncampaigns * words;
    if (need * sizeof(uint64_t) > PF_TABLE_MAX) return;
    for (uint32_t i = 0; i < b->ncampaigns; i++)
        if (b->campaigns[i].group >= b->ngroups) return;
    if (!(ix->accb = pf_alloc(c, need, sizeof *ix->accb)) ||
        !(ix->group = pf_alloc(c, b->ncampaigns, sizeof *ix->group)))
        return;
    for (uint32_t i = 0; i < b->ncampaigns; i++)
        ix->group[i] = b->campaigns[i].group;
    for (uint32_t i = 0; i < b->ncampaigns; i++)
        for (uint32_t g = 0; g < b->ngroups; g++)
            if (pf_accepts(b, &b->campaigns[i], g))
                ix->accb[(size_t)i * words + g / 64] |= 1ull << (g % 64);
    ix->acc_words = words;
    ix->use_acc = 1;
    size_t nw = (size_t)b->ncampaigns * ix->words;
    if (nw * sizeof(uint64_t) > PF_TABLE_MAX ||
        !(ix->incompat = pf_alloc(c, nw, sizeof *ix->incompat)))
        return;
    /* Row i: the campaigns in a group i accepts that accept i's group, i itself, negated.
     * in[g]: the campaigns in group g; by[g]: the campaigns accepting group g. */
    uint32_t cw = ix->words, nc = b->ncampaigns;
    uint64_t *in = pa_calloc(&ix->alloc, (size_t)2 * b->ngroups * cw + cw + 1, sizeof *in);
    if (!in) {
        c->oom = 1;
        return;
    }
    uint64_t *by = in + (size_t)b->ngroups * cw, *row = by + (size_t)b->ngroups * cw;
    for (uint32_t j = 0; j < nc; j++) {
        in[(size_t)ix->group[j] * cw + j / 64] |= 1ull << (j % 64);
        for (uint32_t g = 0; g < b->ngroups; g++)
            if (ix->accb[(size_t)j * words + g / 64] >> (g % 64) & 1)
                by[(size_t)g * cw + j / 64] |= 1ull << (j % 64);
    }
    for (uint32_t i = 0; i < nc; i++) {
        memset(row, 0, cw * sizeof *row);
        for (uint32_t g = 0; g < b->ngroups; g++)
            if (ix->accb[(size_t)i * words + g / 64] >> (g % 64) & 1)
                for (uint32_t w = 0; w < cw; w++)
                    row[w] |= in[(size_t)g * cw + w];
        const uint64_t *acc_gi = by + (size_t)ix->group[i] * cw;
        row[i / 64] |= 1ull << (i % 64);
        for (uint32_t w = 0; w < cw; w++) {
            uint64_t valid = w + 1 < cw || nc % 64 == 0 ? ~0ull : (1ull << (nc % 64)) - 1;
            uint64_t ok = (row[w] & acc_gi[w]) | (w == i / 64 ? 1ull << (i % 64) : 0);
            ix->incompat[(size_t)i * cw + w] = ~ok & valid;
        }
    }
    pa_free(&ix->alloc, in);
}

/* ----------------------------------------------------------------- build ---- */

promo_status pf_build(const promo_bundle *b, const promo_allocator *a, pf_index **out) {
    *out = NULL;
    a = pa_or_default(a);
    pf_index *ix = pa_calloc(a, 1, sizeof *ix);
    if (!ix) return PROMO_ENOMEM;
    ix->alloc = *a;
    pf_build_ctx c = {ix, 0};
    ix->b = b;
    ix->bytes = sizeof *ix;
    ix->ncampaigns = b->ncampaigns;
    ix->words = (b->ncampaigns + 63) / 64;
    pf_time_setup(&c);
    pf_rx_setup(&c);
    pf_cat_setup(&c);
    if (!c.oom && (ix->pred_atom = pf_alloc(&c, b->nblocks, sizeof *ix->pred_atom)))
        for (uint32_t i = 0; i < b->nblocks; i++)
            ix->pred_atom[i] = pf_pred_atom(ix, i);
    pf_req_setup(&c);
    /* A block that is one atom reads its bit instead (vm_pred). */
    if (!c.oom && (ix->memo_idx = pf_alloc(&c, b->nblocks, sizeof *ix->memo_idx)))
        for (uint32_t i = 0; i < b->nblocks; i++)
            ix->memo_idx[i] =
                ix->pred_atom[i] == PF_NONE && pf_pred_fixed(b, i) ? ix->nmemo++ : PF_NONE;
    pf_mask_setup(&c);
    pf_pred_need_setup(&c);
    pf_compat_setup(&c);
    if (c.oom) {
        pf_free(ix);
        return PROMO_ENOMEM;
    }
    *out = ix;
    return PROMO_OK;
}

void pf_free(pf_index *ix) {
    if (!ix) return;
    void *arrs[] = {ix->tb,
                    ix->tw,
                    ix->dr,
                    ix->db,
                    ix->dact,
                    ix->rxfree,
                    ix->rxmap,
                    ix->rxci,
                    ix->cat_idx,
                    ix->brand_idx,
                    ix->sku_idx,
                    ix->brandk_idx,
                    ix->skuk_idx,
                    ix->catpairs,
                    ix->catmap,
                    ix->pred_atom,
                    ix->creq,
                    ix->req_off,
                    ix->reqs,
                    ix->req_atoms,
                    ix->req_flat,
                    ix->memo_idx,
                    ix->accb,
                    ix->group,
                    ix->mprog_off,
                    ix->cprog_off,
                    ix->mprog,
                    ix->incompat,
                    ix->hist_off,
                    ix->hist_atoms,
                    ix->atom_hist_off,
                    ix->atom_hist,
                    ix->hist_open,
                    ix->hist_by_key,
                    ix->pred_need_off,
                    ix->pred_need_atoms};
    promo_allocator a = ix->alloc;
    for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++)
        pa_free(&a, arrs[i]);
    pa_free(&a, ix);
}
