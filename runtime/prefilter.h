/*
 * prefilter.h — the prefilter index of a bundle (runtime stage "stacking", built once
 * per engine generation by runtime/engine.c, then shared read-only by every ctx).
 *
 * Everything the stacking engine can decide about a campaign before running any of its
 * bytecode, tabulated once: the time clauses per (weekday, time slot) and per date slot,
 * the receipt-constant clauses (stores, regions, card, segment, code, channel) indexed
 * by member hash, the line atoms (category/brand/SKU sets a PRED block tests) indexed by
 * member hash, each campaign's needed atoms and minimum total (runtime/need.h), which
 * line predicates can be memoised, and compatibility as bitsets. The per-receipt lookups
 * below read it without writing: many threads use one index at once.
 */
#ifndef PROMO_PREFILTER_H
#define PROMO_PREFILTER_H

#include <stddef.h>
#include <stdint.h>

#include "bundle.h"
#include "vm.h"

#define PF_NONE UINT32_MAX

#define PF_CATBITS  16384 /* bits of pf_index.catfilter */
#define PF_REQ_NONE UINT32_MAX
#define PF_REQ_MORE 0x80000000u /* pf_creq.req1 flag: the rest is an offset into req_flat */
/* pf_index.req_flat entries: an atom bit, and flags after the last atom of a requirement
 * and after the campaign's last one. */
#define PF_RQ_BIT  0x3FFFFFFFu
#define PF_RQ_END  0x80000000u
#define PF_RQ_LAST 0x40000000u

/* Outcome of a campaign's time clauses. */
enum { PF_T_OK, PF_T_ACTIVE, PF_T_DAYS, PF_T_HOURS };

/* Which hash of a line a line-atom set is tested against. */
enum { PF_LX_CAT, PF_LX_BRAND, PF_LX_SKU };
/* Receipt-constant clause kinds. */
enum { PF_RX_STORE, PF_RX_REGION, PF_RX_CARD, PF_RX_SEG, PF_RX_CODE };

typedef struct pf_catpair { /* member hash h is in line-atom set `set` (dense) */
    uint64_t h;
    uint32_t set, kind; /* kind: PF_LX_* */
} pf_catpair;

typedef struct pf_slot { /* open addressing: a member hash and its run of entries */
    uint64_t h;          /* 0 = empty */
    uint32_t off;        /* into catpairs / rxci */
    uint32_t kindcnt;    /* catmap: count; rxmap: kind | count << 3 */
} pf_slot;

typedef struct pf_req {
    uint32_t off;  /* into req_atoms */
    uint16_t cnt;  /* atoms: one of them must be present */
    uint16_t excl; /* 1: present on a non-excluded line (line rewards skip excluded lines) */
} pf_req;

/* The requirement check of one campaign, packed: one cache access per candidate. */
typedef struct pf_creq {
    int64_t min_total; /* the original total must be at least this */
    uint32_t req1;     /* PF_REQ_NONE, PF_REQ_MORE | first entry in req_flat, or atom << 1 | excl */
    /* PB_NONE, or the campaign's `when` is one test of an OPF_TOTAL_MIN opcode of this
     * constant (`when total >= X`: `R_TOTAL_GE k; ASSERT; PUSH_I 1; RET`), which the
     * engine makes without running the VM (vm_total_ge), except for --explain and
     * PROMO_CTX_PLAIN */
    uint32_t when_total;
} pf_creq;

typedef struct pf_index {
    const promo_bundle *b;      /* not owned: the generation holds it */
    uint32_t ncampaigns, words; /* words: campaign bitset words */

    /* Time: hour-window boundaries tb[0 .. ntb) (sorted, distinct). When use_tw, tw holds
     * per (weekday, slot) 2 * words words: the campaigns whose days and hours hold, then
     * those some hour window holds. Date ranges per campaign (dr: from, to); when
     * use_dact, dact holds per date slot (between boundaries db[0 .. ndb)) the active
     * campaigns. Without use_tw the engine computes time clauses per campaign. */
    int32_t *tb;
    uint32_t ntb;
    int use_tw;
    uint64_t *tw;
    int32_t *dr;
    int32_t *db;
    uint32_t ndb;
    int use_dact;
    uint64_t *dact;

    /* Receipt-constant clauses (with use_tw): rxfree holds per group (stores or regions,
     * card, segment, code) the campaigns without that clause, then per channel the
     * campaigns it admits (6 * words); rxmap maps (kind, member hash) to the run of
     * rxci naming the campaigns requiring it. */
    uint64_t *rxfree;
    pf_slot *rxmap;
    uint32_t rxmap_mask;
    uint32_t *rxci;

    /* Line atoms: dense indices per set (cat/brand/sku) and per constant (brand_k/sku_k
     * for `L_BRAND_EQ k`, `L_SKU_EQ k`), PF_NONE = not indexed; catmap maps a member hash to
     * its run of catpairs. pred_atom: per block, the atom a PRED block is exactly. */
    uint32_t ncat;
    uint32_t *cat_idx, *brand_idx, *sku_idx, *brandk_idx, *skuk_idx;
    pf_catpair *catpairs;
    pf_slot *catmap;
    uint32_t catmap_mask;
    /* One bit per PF_CATBITS-th of the hash space: 0 = no member hash falls there, so
     * most lookups (SKUs, brands and categories no set names) end on one L1 access. */
    uint64_t catfilter[PF_CATBITS / 64];
    uint32_t *pred_atom;

    /* Requirements: campaign ci can apply only if the receipt's original total is at
     * least creq[ci].min_total and creq[ci].req1 or each reqs[req_off[ci] .. req_off[ci + 1])
     * (for PF_REQ_MORE) is met. */
    pf_creq *creq;
    uint32_t *req_off;
    pf_req *reqs;
    uint32_t *req_atoms;
    /* For PF_REQ_MORE: each campaign's requirements in one run, fewest atoms first (the
     * likeliest to fail), every atom as a bit of the receipt's two atom bitsets side by
     * side (stacking.c pres: the atoms of any line, then of the non-excluded lines,
     * (ncat + 63) / 64 words each; one test per atom, whatever its req's excl), with
     * PF_RQ_END after a requirement's last atom and PF_RQ_LAST after the campaign's. */
    uint32_t *req_flat;

    /* History slots: slot h's predicate holds only on a line with one of the atoms
     * hist_atoms[hist_off[h] .. hist_off[h + 1]) (an empty run: nothing is known), so a
     * receipt without them adds nothing to the slot (its delta is skipped unseen). */
    uint32_t *hist_off;
    uint32_t *hist_atoms;
    /* The same, inverted, with each slot named by its rank in key order (hist_by_key[r]
     * is the slot of rank r; ties by slot): per atom a, the ranks of the slots that name
     * it, atom_hist[atom_hist_off[a] .. atom_hist_off[a + 1]); hist_open: the ranks of
     * the slots with an empty run (hist_words words of one bit per rank). A receipt's
     * candidate slots are hist_open | the slots of its present atoms: work in proportion
     * to the receipt, and visited by rank its history deltas come out sorted by key, the
     * order the store merges them in (store_mem.c skv_merge). */
    uint32_t *atom_hist_off;
    uint32_t *atom_hist;
    uint64_t *hist_open;
    uint32_t *hist_by_key;
    uint32_t hist_words;

    /* Line predicates whose value cannot change during a receipt: per block a dense
     * memo index, PF_NONE = not memoised. */
    uint32_t *memo_idx;
    uint32_t nmemo;
    /* Line-mask programs (vm.h) of memoised blocks made only of atoms, `excluded`,
     * `qty`/`original_price` against constants, not/and/or: per block the first op in
     * mprog, PF_NONE = none. */
    uint32_t *mprog_off;
    vm_mop *mprog;
    /* Current programs (vm.h), in mprog too: PRED blocks that are not memoised because
     * they compare the current unit price with a constant (`price >= 100`), and are
     * otherwise made of what a program covers; run afresh at every use. PF_NONE = none. */
    uint32_t *cprog_off;
    /* Per block run per line (neither one atom nor a line-mask program): the atoms one of
     * which a line needs to match it, pred_need_atoms[pred_need_off[b] ..
     * pred_need_off[b + 1]) (vm_env.pred_need_off). */
    uint32_t *pred_need_off;
    uint32_t *pred_need_atoms;

    /* Compatibility: bit g of campaign i's acc_words words = i accepts group g; group:
     * every campaign's group, packed. */
    int use_acc;
    uint64_t *accb;
    uint32_t acc_words;
    uint32_t *group;
    /* When it fits PF_TABLE_MAX: bit j of campaign i's `words` words = i and j are
     * incompatible (the two tests above, done once). */
    uint64_t *incompat;

    size_t bytes;          /* memory held, for reports */
    promo_allocator alloc; /* where every array of the index comes from */
} pf_index;

/* Builds the index of bundle b (kept, not retained: b must outlive the index). */
promo_status pf_build(const promo_bundle *b, const promo_allocator *a, pf_index **out);
void pf_free(pf_index *ix);

/* The time clauses of campaign c at (date, weekday wd 0 mon, time t): PF_T_*. */
uint8_t pf_time_clauses(const promo_bundle *b, const pb_campaign *c, int32_t date, uint32_t wd,
                        int32_t t);

/* Compatibility of campaigns i and j (SPEC 3.4), from the accept lists. */
int pf_compatible(const promo_bundle *b, uint32_t i, uint32_t j);

/* The same, from the bitsets when the index has them. */
static inline int pf_compatible_x(const pf_index *ix, uint32_t i, uint32_t j) {
    if (ix->incompat) return !(ix->incompat[(size_t)i * ix->words + j / 64] >> (j % 64) & 1);
    if (!ix->use_acc) return pf_compatible(ix->b, i, j);
    if (i == j) return 1;
    uint32_t gi = ix->group[i], gj = ix->group[j];
    return (ix->accb[(size_t)i * ix->acc_words + gj / 64] >> (gj % 64) & 1) &&
           (ix->accb[(size_t)j * ix->acc_words + gi / 64] >> (gi % 64) & 1);
}

/* The presence-filter bit of member hash h (pf_index.catfilter). */
static inline uint32_t pf_catfilter_bit(uint64_t h) {
    return (uint32_t)(h >> 40) & (PF_CATBITS - 1);
}

/* One line being indexed: its word and bit in every atom's line mask (atom a's mask at
 * lines + a * lw), and the atoms present on any line / on non-excluded lines (ne NULL
 * for an excluded line). */
typedef struct pf_mark {
    uint64_t *lines;
    uint32_t lw;
    uint64_t lbit;
    uint64_t *all, *ne;
} pf_mark;

/* Marks the line in the masks of the atoms of `kind` holding h (0: absent). */
static inline void pf_atom_mark(const pf_index *ix, const pf_mark *m, uint32_t kind, uint64_t h) {
    uint32_t f = pf_catfilter_bit(h);
    if (!h || !(ix->catfilter[f / 64] >> (f % 64) & 1)) return;
    for (uint32_t p = (uint32_t)h & ix->catmap_mask; ix->catmap[p].h;
         p = (p + 1) & ix->catmap_mask) {
        if (ix->catmap[p].h != h) continue;
        for (uint32_t k = 0; k < ix->catmap[p].kindcnt; k++) {
            const pf_catpair *e = &ix->catpairs[ix->catmap[p].off + k];
            if (e->kind != kind) continue;
            m->lines[(size_t)e->set * m->lw] |= m->lbit;
            m->all[e->set / 64] |= 1ull << (e->set % 64);
            if (m->ne) m->ne[e->set / 64] |= 1ull << (e->set % 64);
        }
        return;
    }
}

/* Adds to m the campaigns whose receipt clause of `kind` admits value h (0: absent, in
 * no set). */
void pf_rx_lookup(const pf_index *ix, uint64_t *m, uint32_t kind, uint64_t h);

#endif
