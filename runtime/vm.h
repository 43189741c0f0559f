/*
 * vm.h — the bytecode VM (runtime stage "VM", between the loader/verifier and the
 * stacking engine). Runs one verified block (a COND block with the receipt, a PRED
 * block with a current line) over facts precomputed once per receipt.
 *
 * Also the exact integer arithmetic shared by the VM and the stacking engine:
 * rounding half away from zero on 128-bit products, saturation that never yields
 * ABSENT (INT64_MIN) by accident.
 */
#ifndef PROMO_VM_H
#define PROMO_VM_H

#include <stdint.h>

#include "bundle.h"
#include "promo.h"

/* ------------------------------------------------------------- arithmetic ---- */

__extension__ typedef __int128 vm_i128;
__extension__ typedef unsigned __int128 vm_u128;

/* Clamps to the int64 range minus INT64_MIN, which is reserved for ABSENT. */
static inline int64_t vm_sat(vm_i128 v) {
    if (v > INT64_MAX) return INT64_MAX;
    if (v < -INT64_MAX) return -INT64_MAX;
    return (int64_t)v;
}

/* round_half_up(num / den) for num >= 0, den > 0. */
static inline vm_u128 vm_rdiv(vm_u128 num, vm_u128 den) {
    if (!(num >> 64) && !(den >> 64)) { /* the usual case: no 128-bit division */
        uint64_t n = (uint64_t)num, d = (uint64_t)den, q = n / d, r = n % d;
        return r >= d - r ? q + 1 : q;
    }
    vm_u128 q = num / den, r = num % den;
    return r >= den - r ? q + 1 : q;
}

/* round(a * b / den), halves away from zero, saturated; den > 0. Never overflows:
 * |a * b| < 2^126. */
static inline int64_t vm_muldiv(int64_t a, int64_t b, int64_t den) {
    int neg = (a < 0) != (b < 0);
    vm_u128 ua = a < 0 ? (vm_u128)(-(vm_i128)a) : (vm_u128)a;
    vm_u128 ub = b < 0 ? (vm_u128)(-(vm_i128)b) : (vm_u128)b;
    vm_u128 q = vm_rdiv(ua * ub, (vm_u128)den);
    if (q > (vm_u128)INT64_MAX) q = (vm_u128)INT64_MAX;
    return neg ? -(int64_t)q : (int64_t)q;
}

/* Saturating add of two non-ABSENT values. */
static inline int64_t vm_add(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_add_overflow(a, b, &r) || r == INT64_MIN) return a < 0 ? -INT64_MAX : INT64_MAX;
    return r;
}

/* ------------------------------------------------------- receipt facts ---- */

/* A key/value attribute: hashes of key and value, the value as a number x1000 (ABSENT
 * when it is not a decimal number). */
typedef struct vm_kv {
    uint64_t key, val;
    int64_t num;
} vm_kv;

typedef struct vm_line {
    uint64_t sku, brand, cat; /* string hashes, 0 = absent */
    uint32_t anc_off;         /* hashes of the category and every ancestor: */
    uint32_t anc_cnt;         /*   vm_receipt.anc[anc_off .. anc_off + anc_cnt) */
    int64_t qty;              /* thousandths, > 0 */
    int64_t price;            /* original unit price, kopecks */
    int64_t amount0;          /* original amount round_half_up(qty * price) */
    int64_t amount;           /* current amount (after discounts so far) */
    int excluded;
} vm_line;

typedef struct vm_receipt {
    const promo_receipt *r;
    uint64_t store, region; /* hashes, 0 absent */
    int64_t store_num;      /* store as an integer, ABSENT when not numeric */
    int channel, payment;
    int32_t date, time;
    unsigned weekday; /* 0 mon .. 6 sun */
    const uint64_t *codes;
    uint32_t ncodes;
    const vm_kv *attrs;
    uint32_t nattrs;

    int has_customer;
    uint64_t cust_id, card, tier; /* hashes, 0 absent */
    const uint64_t *segs;
    uint32_t nsegs;
    const vm_kv *cattrs;
    uint32_t ncattrs;
    int registered;
    int has_birthday;
    int32_t birthday;

    vm_line *lines;
    uint32_t nlines;
    const uint64_t *anc;
    int64_t total;      /* current: sum of vm_line.amount, kept by stacking */
    int64_t orig_total; /* sum of amount0 */
} vm_receipt;

/* Stored part of a history query (the VM adds the current receipt itself): the sum of
 * slot `slot` (UINT32_MAX = visits) of the receipt's customer over days [from, to]. */
typedef promo_status (*vm_hist_fn)(void *u, uint32_t slot, int32_t from, int32_t to, int64_t *out);

/* A line-mask program: a PRED block made only of indexed tests (atoms), `excluded`,
 * `qty` or `original_price` compared with a constant, `not`, `and` and `or`, rewritten
 * once per generation (runtime/prefilter.c) in postfix form over line masks, so the
 * predicate is evaluated for all the lines of a receipt at once with bit operations.
 * Ends with VM_M_END. A program of a block that also compares the current unit price
 * with a constant (L_PRICE_CMP: VM_M_PRICE) is a "current" program (vm_env.cprog_off):
 * its value changes as discounts apply, so it is run afresh at every use, never
 * memoised (vm_pred_lines_now). */
enum {
    VM_M_END,
    VM_M_ATOM,
    VM_M_EXCL,
    VM_M_QTY,
    VM_M_OPRICE,
    VM_M_NOT,
    VM_M_AND,
    VM_M_OR,
    VM_M_PRICE
};
typedef struct vm_mop {
    uint8_t op;  /* VM_M_* */
    uint8_t cmp; /* VM_M_QTY / VM_M_OPRICE: OP_EQ .. OP_GE, the line's value on the left;
                  * VM_M_PRICE: L_PRICE_CMP's operand (0 == 1 != 2 < 3 <= 4 > 5 >=) */
    uint32_t atom;
    int64_t c;
} vm_mop;
#define VM_MASK_DEPTH 8 /* deepest program stack */
#define VM_MASK_WORDS 4 /* programs run on receipts of up to 256 lines */

typedef struct vm_env {
    const promo_bundle *b;
    vm_receipt *rx;
    vm_hist_fn hist; /* NULL: no customer state (history = the current receipt) */
    void *hist_u;
    uint64_t *seen;     /* scratch set for AGG_DISTINCT: seen_mask + 1 slots, */
    uint32_t seen_mask; /*   a power of two >= 2 * nlines */
    uint32_t fail_part; /* string index of the ASSERT part that failed, or PB_NONE */

    /* Per-receipt memo of line predicates whose value cannot change while the receipt
     * is evaluated (they read neither current amounts, prices nor the total): set by
     * the stacking engine, memo_idx NULL = off. A predicate's bits are valid when its
     * stamp equals memo_epoch (bumped for every receipt). */
    const uint32_t *memo_idx; /* per block: dense memo index, UINT32_MAX = not memoised */
    uint32_t *memo_stamp;     /* per memo index */
    uint64_t *memo_bits;      /* per memo index: memo_words "known" + memo_words values */
    uint32_t memo_words;
    uint32_t memo_epoch;

    /* Category index, built per receipt by the stacking engine (cat_idx NULL = off):
     * atom cat_idx[set] (an "atom" is one indexed test) holds for line i when bit i of
     * its line mask (atom_lines below) is set: the line's category or an ancestor is in
     * that set (OP_L_CAT_IN). cat_words: words of a bitset over atoms. */
    const uint32_t *cat_idx; /* per set: dense index, UINT32_MAX = not indexed */
    uint32_t cat_words;
    /* The same bits for `L_BRAND_IN A` and `L_SKU_IN A` (bit brand_idx[A] or
     * sku_idx[A]: the line's brand or SKU is in A); set together with cat_idx. */
    const uint32_t *brand_idx, *sku_idx;
    /* And for `L_BRAND_EQ k` / `L_SKU_EQ k`: per constant k. */
    const uint32_t *brandk_idx, *skuk_idx;
    /* Per block: the bit of a PRED block that is one indexed test, or UINT32_MAX. */
    const uint32_t *pred_atom;
    /* Per atom bit: the receipt's lines that have it (atom_lw words each). */
    const uint64_t *atom_lines;
    uint32_t atom_lw;
    const uint64_t *excl_lines; /* the excluded lines (atom_lw words) */
    /* Line-mask programs: per block the first op in mprog, or UINT32_MAX. A program's
     * result is kept in the block's memo bits (all lines known at once). */
    const uint32_t *mprog_off;
    const vm_mop *mprog;
    /* Per block the first op in mprog of its current program (reads current prices: run
     * at every use, not memoised), or UINT32_MAX. */
    const uint32_t *cprog_off;
    /* Per block the atoms one of which a line needs to match it (need.h):
     * pred_need_atoms[pred_need_off[b] .. pred_need_off[b + 1]), an empty run when
     * nothing is known; set together with cat_idx. */
    const uint32_t *pred_need_off, *pred_need_atoms;
} vm_env;

/* Runs block `block` (line: the current line for PRED blocks, ignored for COND) and
 * stores its value in *out. A failing ASSERT makes the value 0 and sets
 * env->fail_part. Only a state store failure returns something other than PROMO_OK. */
promo_status vm_run(vm_env *env, uint32_t block, uint32_t line, int64_t *out);

/* Runs the line-mask program of PRED block `pred` into its memo bits and returns the
 * lines matching (atom_lw words); NULL when it cannot (no program, memo off, receipt
 * too large). */
const uint64_t *vm_pred_mask(vm_env *env, uint32_t pred);

/* The lines matching PRED block `pred` (atom_lw words), when the block is one indexed
 * test or has a line-mask program and the index is on; NULL otherwise (use vm_pred per
 * line). */
static inline const uint64_t *vm_pred_lines(vm_env *env, uint32_t pred) {
    if (!env->cat_idx || pred == PRED_ALL_LINES) return NULL;
    if (env->pred_atom[pred] != UINT32_MAX)
        return env->atom_lines + (size_t)env->pred_atom[pred] * env->atom_lw;
    return env->mprog_off[pred] != UINT32_MAX ? vm_pred_mask(env, pred) : NULL;
}

/* Runs the current program of PRED block `pred` (vm_env.cprog_off) on a receipt of up to
 * 64 lines into *tmp and returns tmp: the lines matching it now; NULL when it cannot (no
 * program, index off, more than 64 lines). */
const uint64_t *vm_pred_now(vm_env *env, uint32_t pred, uint64_t *tmp);

/* vm_pred_lines, and else the lines matching a block with a current program, computed
 * now into tmp[0] (one word): valid until the amounts change. NULL: use vm_pred per line. */
static inline const uint64_t *vm_pred_lines_now(vm_env *env, uint32_t pred, uint64_t *tmp) {
    const uint64_t *al = vm_pred_lines(env, pred);
    if (al || !env->cat_idx || pred == PRED_ALL_LINES || !env->cprog_off ||
        env->cprog_off[pred] == UINT32_MAX)
        return al;
    return vm_pred_now(env, pred, tmp);
}

/* Word w of the lines of an n-line receipt that can match PRED block `pred`: the lines
 * with one of the atoms it needs; every line when nothing is known or the index is off. */
static inline uint64_t vm_pred_cand(const vm_env *env, uint32_t pred, uint32_t n, uint32_t w) {
    uint64_t valid = (w + 1) * 64 <= n ? ~0ull : (1ull << (n % 64)) - 1;
    if (!env->cat_idx || pred == PRED_ALL_LINES) return valid;
    uint32_t from = env->pred_need_off[pred], to = env->pred_need_off[pred + 1];
    if (from == to) return valid;
    uint64_t m = 0;
    for (uint32_t k = from; k < to; k++)
        m |= env->atom_lines[(size_t)env->pred_need_atoms[k] * env->atom_lw + w];
    return m & valid;
}

/* Runs the statement after it with `i` set to each line of an n-line receipt that can
 * match PRED block `pred` (vm_pred_cand), in ascending order; `break` leaves only the
 * inner loop, so use it with a flag or a return. */
#define VM_FOR_CAND_LINES(env, pred, n, i)                                                         \
    for (uint32_t vm_w_ = 0; vm_w_ < ((n) + 63) / 64; vm_w_++)                                     \
        for (uint64_t vm_m_ = vm_pred_cand((env), (pred), (n), vm_w_);                             \
             vm_m_ && ((i) = vm_w_ * 64 + (uint32_t)__builtin_ctzll(vm_m_), 1);                    \
             vm_m_ &= vm_m_ - 1)

/* 1 when line `line` matches PRED block `pred` (PRED_ALL_LINES: every line). */
static inline promo_status vm_pred(vm_env *env, uint32_t pred, uint32_t line, int *match) {
    if (pred == PRED_ALL_LINES) {
        *match = 1;
        return PROMO_OK;
    }
    uint64_t *m = NULL, bit = 1ull << (line % 64);
    uint32_t w = line / 64;
    if (env->cat_idx && env->pred_atom[pred] != UINT32_MAX) {
        uint32_t d = env->pred_atom[pred];
        *match = (int)(env->atom_lines[(size_t)d * env->atom_lw + line / 64] >> (line % 64) & 1);
        return PROMO_OK;
    }
    if (env->memo_idx) {
        uint32_t d = env->memo_idx[pred];
        if (d != UINT32_MAX) {
            m = env->memo_bits + (size_t)d * 2 * env->memo_words;
            if (env->memo_stamp[d] != env->memo_epoch) {
                for (uint32_t k = 0; k < env->memo_words; k++)
                    m[k] = 0;
                env->memo_stamp[d] = env->memo_epoch;
            } else if (m[w] & bit) {
                *match = (m[env->memo_words + w] & bit) != 0;
                return PROMO_OK;
            }
            /* The whole mask at once when the block has a program. */
            if (env->cat_idx && env->mprog_off[pred] != UINT32_MAX && vm_pred_mask(env, pred)) {
                *match = (m[env->memo_words + w] & bit) != 0;
                return PROMO_OK;
            }
        }
    }
    int64_t v = 0;
    promo_status st = vm_run(env, pred, line, &v);
    *match = v != 0 && v != PROMO_ABSENT;
    if (m && st == PROMO_OK) {
        m[w] |= bit;
        if (*match)
            m[env->memo_words + w] |= bit;
        else
            m[env->memo_words + w] &= ~bit;
    }
    return st;
}

/* 1 when the receipt's current total is at least constant k (R_TOTAL_GE k; also the
 * stacking engine's test of a `when total >= X` without the VM: opcodes.h OPF_TOTAL_MIN). */
static inline int64_t vm_total_ge(const vm_env *env, uint32_t k) {
    return env->rx->total >= env->b->consts[k].value;
}

/* Parses a decimal number ("25", "-1.5") into thousandths; ABSENT when it is not one
 * or has more than 3 decimals. */
int64_t vm_parse_num(const char *p, size_t n);

/* `birthday within n days` of `date` (29 February is 28 February in common years). */
int vm_birthday_within(int32_t birthday, int32_t date, int64_t n);

#endif
