/*
 * need.h — static analysis of verified bytecode for the stacking engine's prefilter
 * (runtime stage "stacking", run once per bundle generation, never per receipt).
 *
 * A line atom is a membership test the stacking engine answers per receipt from its
 * line index: an opcode with an `atom` column in opcodes.h (`L_CAT_IN A`, `L_BRAND_IN A`,
 * `L_SKU_IN A`, `L_BRAND_EQ k`, `L_SKU_EQ k`). The analysis finds, for a PRED
 * block, a set of atoms one of which a line must have for the predicate to hold, and
 * for a COND block, such sets that must each be met by some line of the receipt for the
 * condition to hold (`sum(lines where P) >= 500` needs a line matching P). A receipt
 * whose lines have none of a campaign's needed atoms cannot satisfy the condition or
 * give a line reward, so the engine skips the campaign without running any bytecode.
 *
 * The analysis is a forward data flow over the block (jumps are forward only), sound
 * for any verified block, not only for the shapes the compiler emits: when it cannot
 * prove a need it reports none, which only costs speed.
 */
#ifndef PROMO_NEED_H
#define PROMO_NEED_H

#include <stdint.h>

#include "bundle.h"

/* Atom numbering of the caller's line index; UINT32_MAX = not indexed. */
typedef struct need_atoms {
    const uint32_t *cat, *brand, *sku; /* per set: L_CAT_IN A, L_BRAND_IN A, L_SKU_IN A */
    const uint32_t *brand_k, *sku_k;   /* per constant: L_BRAND_EQ k, L_SKU_EQ k */
    const promo_allocator *alloc;      /* the analysis' scratch (NULL = libc) */
} need_atoms;

#define NEED_MAX 8 /* atoms in one need; a larger union is reported as no need */

/* "Some line has one of the atoms at[0 .. n)"; n == 0: nothing is known. */
typedef struct need_set {
    uint32_t n;
    uint32_t at[NEED_MAX];
} need_set;

/* PRED block `blk`: the predicate holds for a line only if the line has an atom of the
 * returned set (n == 0: no such set is known). */
need_set need_pred(const promo_bundle *b, const need_atoms *a, uint32_t blk);

/* COND block `blk`: the block is true only if every set written to out[0 .. return)
 * is met by some line of the receipt (any line: aggregates read excluded lines too)
 * and the receipt's original total is at least *min_total (INT64_MIN: no bound; a
 * `total >= X` part, since discounts only lower the total). Writes at most `max` sets.
 * Returns -1 when out of memory. */
int need_cond(const promo_bundle *b, const need_atoms *a, uint32_t blk, need_set *out, uint32_t max,
              int64_t *min_total);

#endif
