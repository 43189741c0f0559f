/*
 * vm.c — the bytecode VM (runtime stage "VM"): one function, vm_run, executing a
 * verified block over the per-receipt facts of vm.h.
 *
 * Dispatch is wrapped in macros (Lua's lvm.c): vmcase(OP_X) { ...; vmbreak; } compiles
 * to computed goto with PROMO_DISPATCH_GOTO and to a switch with PROMO_DISPATCH_SWITCH.
 * The verifier (runtime/bundle.c) guarantees operands, forward in-block jumps and the
 * stack depth, so nothing is checked per instruction. Arithmetic saturates (never UB,
 * never ABSENT by accident); ABSENT propagates through arithmetic and makes
 * comparisons false; string hash 0 (absent) makes string comparisons false.
 */
#include "vm.h"

#include <string.h>

#include "civil.h"
#include "hash.h"

#if defined(PROMO_DISPATCH_GOTO) && defined(__GNUC__)
#define VM_USE_GOTO 1
#endif

int64_t vm_parse_num(const char *p, size_t n) {
    size_t i = 0;
    int neg = 0;
    if (i < n && (p[i] == '-' || p[i] == '+')) neg = p[i++] == '-';
    if (i >= n || p[i] < '0' || p[i] > '9') return PROMO_ABSENT;
    int64_t v = 0;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++)
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, p[i] - '0', &v))
            return PROMO_ABSENT;
    int dec = 0;
    if (i < n && p[i] == '.') {
        i++;
        if (i >= n || p[i] < '0' || p[i] > '9') return PROMO_ABSENT;
        for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
            if (++dec > 3) {
                /* Extra decimals are fine when they are zeros ("1.2500"). */
                if (p[i] != '0') return PROMO_ABSENT;
                continue;
            }
            if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, p[i] - '0', &v))
                return PROMO_ABSENT;
        }
    }
    if (i != n) return PROMO_ABSENT;
    for (; dec < 3; dec++)
        if (__builtin_mul_overflow(v, 10, &v)) return PROMO_ABSENT;
    return neg ? -v : v;
}

static int32_t vm_place_birthday(int32_t y, unsigned m, unsigned d) {
    if (m == 2 && d == 29 && !civil_valid(y, 2, 29)) d = 28;
    return civil_days(y, m, d);
}

int vm_birthday_within(int32_t birthday, int32_t date, int64_t n) {
    int32_t by, y;
    unsigned bm, bd, m, d;
    civil_from_days(birthday, &by, &bm, &bd);
    civil_from_days(date, &y, &m, &d);
    for (int32_t k = y - 1; k <= y + 1; k++) {
        int64_t diff = (int64_t)vm_place_birthday(k, bm, bd) - date;
        if (diff < 0) diff = -diff;
        if (diff <= n) return 1;
    }
    return 0;
}

static const vm_kv *vm_find_kv(const vm_kv *kv, uint32_t n, uint64_t key) {
    for (uint32_t i = 0; i < n; i++)
        if (kv[i].key == key) return &kv[i];
    return NULL;
}

static uint64_t vm_str_hash(const promo_bundle *b, uint32_t s) {
    return b->str_hash[s]; /* precomputed at load (bundle.c) */
}

/* Current unit price: the given price until something discounts the line (the rounded
 * amount of a weight line would not give it back), then round_half_up(amount / qty). */
static int64_t vm_unit_price(const vm_line *l) {
    if (l->amount == l->amount0) return l->price;
    return (int64_t)vm_rdiv((vm_u128)l->amount * 1000u, (vm_u128)l->qty);
}

/* OP_L_PRICE_CMP: the current unit price (exact: amount / qty once discounted) compared
 * with v by comparator A (0 == 1 != 2 < 3 <= 4 > 5 >=); false when v is ABSENT. */
static int64_t vm_price_cmp(const vm_line *l, int64_t v, uint32_t a) {
    if (v == PROMO_ABSENT) return 0;
    vm_i128 lhs = l->price, rhs = v;
    if (l->amount != l->amount0) {
        lhs = (vm_i128)l->amount * 1000;
        rhs = (vm_i128)v * l->qty;
    }
    int c = (lhs > rhs) - (lhs < rhs);
    switch (a) {
    case 0: return c == 0;
    case 1: return c != 0;
    case 2: return c < 0;
    case 3: return c <= 0;
    case 4: return c > 0;
    default: return c >= 0;
    }
}

/* AGG_* and the current-receipt part of history: loops the lines through `pred`. */
enum { VM_AGG_SUM, VM_AGG_COUNT, VM_AGG_ANY, VM_AGG_DISTINCT };

/* AGG_DISTINCT: adds 1 (x1000) when the line's SKU was not seen yet. */
static int64_t vm_distinct_add(vm_env *env, const vm_line *l, int64_t acc) {
    uint64_t h = l->sku ? l->sku : 1;
    uint32_t j = (uint32_t)h & env->seen_mask;
    while (env->seen[j] && env->seen[j] != h)
        j = (j + 1) & env->seen_mask;
    if (env->seen[j]) return acc;
    env->seen[j] = h;
    return acc + 1000;
}

/* `v cmp c` for the comparison opcodes (neither side is ABSENT here). */
static int vm_cmp(uint8_t cmp, int64_t v, int64_t c) {
    switch (cmp) {
    case OP_EQ: return v == c;
    case OP_NE: return v != c;
    case OP_LT: return v < c;
    case OP_LE: return v <= c;
    case OP_GT: return v > c;
    default: return v >= c;
    }
}

/* The lines of an n-line receipt (n <= 64) whose qty (VM_M_QTY) or price compares `cmp`
 * with c: one word; the comparison chosen once, not per line. */
static uint64_t vm_mask_cmp(const vm_line *ln, uint32_t n, int qty, uint8_t cmp, int64_t c) {
    uint64_t t = 0;
#define VM_MASK_CMP(op)                                                                            \
    for (uint32_t i = 0; i < n; i++)                                                               \
        t |= (uint64_t)((qty ? ln[i].qty : ln[i].price)op c) << i;                                 \
    break;
    switch (cmp) {
    case OP_EQ: VM_MASK_CMP(==)
    case OP_NE: VM_MASK_CMP(!=)
    case OP_LT: VM_MASK_CMP(<)
    case OP_LE: VM_MASK_CMP(<=)
    case OP_GT: VM_MASK_CMP(>)
    default: VM_MASK_CMP(>=)
    }
#undef VM_MASK_CMP
    return t;
}

/* The lines of `cand` whose current unit price compares with c by L_PRICE_CMP's
 * comparator a (vm_price_cmp, exact). */
static uint64_t vm_mask_price(const vm_line *ln, uint64_t cand, uint8_t a, int64_t c) {
    uint64_t t = 0;
    for (; cand; cand &= cand - 1) {
        uint32_t i = (uint32_t)__builtin_ctzll(cand);
        t |= (uint64_t)vm_price_cmp(&ln[i], c, a) << i;
    }
    return t;
}

/* vm_pred_mask's program on a receipt of up to 64 lines (the usual one): one word per
 * stack entry. VM_M_PRICE is computed for the lines of `cand` only (0 elsewhere): the
 * caller keeps only those lines of the result. */
static inline __attribute__((always_inline)) uint64_t
vm_mask_word(const vm_env *env, const vm_mop *op, uint64_t valid, uint64_t cand) {
    uint64_t st[VM_MASK_DEPTH];
    uint32_t sp = 0, n = env->rx->nlines;
    const vm_line *ln = env->rx->lines;
    for (; op->op != VM_M_END; op++) {
        switch (op->op) {
        case VM_M_ATOM: st[sp++] = env->atom_lines[op->atom]; break;
        case VM_M_EXCL: st[sp++] = env->excl_lines[0]; break;
        case VM_M_QTY:
        case VM_M_OPRICE: st[sp++] = vm_mask_cmp(ln, n, op->op == VM_M_QTY, op->cmp, op->c); break;
        case VM_M_PRICE: st[sp++] = vm_mask_price(ln, cand, op->cmp, op->c); break;
        case VM_M_NOT: st[sp - 1] = ~st[sp - 1] & valid; break;
        case VM_M_AND:
            sp--;
            st[sp - 1] &= st[sp];
            break;
        default: /* VM_M_OR */
            sp--;
            st[sp - 1] |= st[sp];
            break;
        }
    }
    return st[0];
}

/* vm_pred_mask on a receipt of 65 to 64 * VM_MASK_WORDS lines (apart: the usual single
 * word keeps a small frame). */
static __attribute__((noinline)) const uint64_t *vm_pred_mask_words(vm_env *env, uint32_t pred,
                                                                    uint32_t d, uint64_t *m) {
    uint32_t lw = env->atom_lw, n = env->rx->nlines;
    uint64_t valid[VM_MASK_WORDS];
    for (uint32_t w = 0; w < lw; w++)
        valid[w] = w + 1 < lw || n % 64 == 0 ? ~0ull : (1ull << (n % 64)) - 1;
    if (env->memo_stamp[d] == env->memo_epoch) {
        uint32_t w = 0;
        while (w < lw && m[w] == valid[w])
            w++;
        if (w == lw) { /* every line known already (per line, or by an earlier run) */
            for (w = 0; w < lw; w++)
                m[lw + w] &= valid[w]; /* value bits past the last line may be stale */
            return m + lw;
        }
    }
    uint64_t st[VM_MASK_DEPTH][VM_MASK_WORDS];
    uint32_t sp = 0;
    for (const vm_mop *op = env->mprog + env->mprog_off[pred]; op->op != VM_M_END; op++) {
        uint64_t *t = st[sp], *u = sp ? st[sp - 1] : NULL;
        switch (op->op) {
        /* word loops, not memcpy: lw is almost always 1 */
        case VM_M_ATOM:
            for (uint32_t w = 0; w < lw; w++)
                t[w] = env->atom_lines[(size_t)op->atom * lw + w];
            sp++;
            break;
        case VM_M_EXCL:
            for (uint32_t w = 0; w < lw; w++)
                t[w] = env->excl_lines[w];
            sp++;
            break;
        case VM_M_QTY:
        case VM_M_OPRICE:
            for (uint32_t w = 0; w < lw; w++)
                t[w] = 0;
            for (uint32_t i = 0; i < n; i++) {
                const vm_line *l = &env->rx->lines[i];
                int64_t v = op->op == VM_M_QTY ? l->qty : l->price;
                t[i / 64] |= (uint64_t)vm_cmp(op->cmp, v, op->c) << (i % 64);
            }
            sp++;
            break;
        case VM_M_NOT:
            for (uint32_t w = 0; w < lw; w++)
                u[w] = ~u[w] & valid[w];
            break;
        case VM_M_AND:
            for (uint32_t w = 0; w < lw; w++)
                st[sp - 2][w] &= u[w];
            sp--;
            break;
        default: /* VM_M_OR */
            for (uint32_t w = 0; w < lw; w++)
                st[sp - 2][w] |= u[w];
            sp--;
            break;
        }
    }
    for (uint32_t w = 0; w < lw; w++) {
        m[w] = valid[w];
        m[lw + w] = st[0][w];
    }
    env->memo_stamp[d] = env->memo_epoch;
    return m + lw;
}

const uint64_t *vm_pred_mask(vm_env *env, uint32_t pred) {
    if (!env->cat_idx || !env->mprog_off || !env->memo_idx) return NULL;
    uint32_t off = env->mprog_off[pred], d = env->memo_idx[pred], lw = env->atom_lw;
    if (off == UINT32_MAX || d == UINT32_MAX || env->memo_words != lw) return NULL;
    uint64_t *m = env->memo_bits + (size_t)d * 2 * lw;
    if (lw != 1) return lw <= VM_MASK_WORDS ? vm_pred_mask_words(env, pred, d, m) : NULL;
    uint32_t n = env->rx->nlines;
    uint64_t valid = n % 64 == 0 ? ~0ull : (1ull << (n % 64)) - 1;
    if (env->memo_stamp[d] == env->memo_epoch && m[0] == valid) {
        m[1] &= valid; /* value bits past the last line may be stale */
        return m + 1;
    }
    m[1] = vm_mask_word(env, env->mprog + off, valid, valid);
    m[0] = valid;
    env->memo_stamp[d] = env->memo_epoch;
    return m + 1;
}

const uint64_t *vm_pred_now(vm_env *env, uint32_t pred, uint64_t *tmp) {
    uint32_t n = env->rx->nlines;
    if (!env->cat_idx || pred == PRED_ALL_LINES || !env->cprog_off ||
        env->cprog_off[pred] == UINT32_MAX || env->atom_lw != 1 || n > 64)
        return NULL;
    /* Only the lines with one of the atoms the block needs can match it (need.h), so the
     * price is compared on those alone. Another line gets 0 for its comparisons, and still
     * comes out 0: need.c derives the atoms from the block's structure, with every price
     * comparison any value, this one included. */
    uint64_t cand = vm_pred_cand(env, pred, n, 0);
    uint64_t valid = n % 64 == 0 ? ~0ull : (1ull << (n % 64)) - 1;
    *tmp = cand ? vm_mask_word(env, env->mprog + env->cprog_off[pred], valid, cand) : 0;
    return tmp;
}

/* vm_aggregate over the lines of an indexed predicate (vm_pred_lines). */
static int64_t vm_aggregate_lines(vm_env *env, const uint64_t *al, int kind) {
    const vm_line *ln = env->rx->lines;
    int64_t acc = 0;
    for (uint32_t w = 0; w < env->atom_lw; w++)
        for (uint64_t m = al[w]; m; m &= m - 1) {
            const vm_line *l = &ln[w * 64 + (uint32_t)__builtin_ctzll(m)];
            switch (kind) {
            case VM_AGG_SUM: acc = vm_add(acc, l->amount); break;
            case VM_AGG_COUNT: acc = vm_add(acc, l->qty); break;
            case VM_AGG_ANY: return 1;
            default: acc = vm_distinct_add(env, l, acc);
            }
        }
    return acc;
}

static promo_status vm_aggregate(vm_env *env, uint32_t pred, int kind, int64_t *out) {
    vm_receipt *rx = env->rx;
    int64_t acc = 0;
    uint64_t now;
    const uint64_t *al = vm_pred_lines_now(env, pred, &now);
    if (al && kind == VM_AGG_DISTINCT && env->atom_lw == 1) {
        /* up to 64 lines: a line counts unless an earlier matching line has its SKU (no
         * set to clear: most matches are a few lines) */
        const vm_line *ln = rx->lines;
        for (uint64_t m = al[0]; m; m &= m - 1) {
            uint32_t i = (uint32_t)__builtin_ctzll(m);
            uint64_t h = ln[i].sku ? ln[i].sku : 1;
            int dup = 0;
            for (uint64_t e = al[0] & ((1ull << i) - 1); e && !dup; e &= e - 1) {
                const vm_line *l = &ln[__builtin_ctzll(e)];
                dup = (l->sku ? l->sku : 1) == h;
            }
            acc += dup ? 0 : 1000;
        }
        *out = acc;
        return PROMO_OK;
    }
    if (al) {
        if (kind == VM_AGG_DISTINCT)
            for (uint32_t i = 0; i <= env->seen_mask; i++)
                env->seen[i] = 0;
        *out = vm_aggregate_lines(env, al, kind);
        return PROMO_OK;
    }
    if (kind == VM_AGG_DISTINCT)
        for (uint32_t i = 0; i <= env->seen_mask; i++)
            env->seen[i] = 0;
    uint32_t i;
    VM_FOR_CAND_LINES(env, pred, rx->nlines, i) {
        int m;
        promo_status st = vm_pred(env, pred, i, &m);
        if (st != PROMO_OK) return st;
        if (!m) continue;
        const vm_line *l = &rx->lines[i];
        switch (kind) {
        case VM_AGG_SUM: acc = vm_add(acc, l->amount); break;
        case VM_AGG_COUNT: acc = vm_add(acc, l->qty); break;
        case VM_AGG_ANY: *out = 1; return PROMO_OK;
        default: acc = vm_distinct_add(env, l, acc);
        }
    }
    *out = acc;
    return PROMO_OK;
}

/* vm_aggregate, inlined into the opcodes (kind is a constant there) for the usual case:
 * the index on, up to 64 lines, a predicate that is one atom or has a line-mask program.
 * The same value as vm_aggregate. */
static inline __attribute__((always_inline)) promo_status vm_agg(vm_env *env, uint32_t pred,
                                                                 int kind, int64_t *out) {
    if (env->cat_idx && pred != PRED_ALL_LINES && env->atom_lw == 1 && kind != VM_AGG_DISTINCT) {
        const uint64_t *al = NULL;
        uint64_t now;
        if (env->pred_atom[pred] != UINT32_MAX)
            al = env->atom_lines + env->pred_atom[pred];
        else if (env->mprog_off[pred] != UINT32_MAX)
            al = vm_pred_mask(env, pred);
        else if (env->cprog_off && env->cprog_off[pred] != UINT32_MAX)
            al = vm_pred_now(env, pred, &now);
        if (al) {
            const vm_line *ln = env->rx->lines;
            int64_t acc = 0;
            if (kind == VM_AGG_ANY) {
                acc = al[0] != 0;
            } else {
                /* A plain sum: the stacking engine keeps every amount in [0, original]
                 * and refuses a receipt whose total passes PROMO_MAX_MONEY or a line whose
                 * qty passes PROMO_MAX_QTY (stk_prepare), so 64 lines never overflow and
                 * vm_add's saturation could not change the result. */
                for (uint64_t m = al[0]; m; m &= m - 1) {
                    const vm_line *l = &ln[__builtin_ctzll(m)];
                    acc += kind == VM_AGG_SUM ? l->amount : l->qty;
                }
            }
            *out = acc;
            return PROMO_OK;
        }
    }
    return vm_aggregate(env, pred, kind, out);
}

/* history.sum / count / visits over the last `days` days, this receipt included. */
static inline __attribute__((always_inline)) promo_status vm_history(vm_env *env, uint32_t slot,
                                                                     int64_t days, int64_t *out) {
    *out = 0;
    if (days == PROMO_ABSENT || days < 1) return PROMO_OK;
    if (days > 4000000) days = 4000000; /* longer than the calendar: everything */
    int64_t cur = 0, stored = 0;
    if (slot != UINT32_MAX) {
        const pb_hist *h = &env->b->hist[slot];
        promo_status st = h->kind ? vm_agg(env, h->pred, VM_AGG_COUNT, &cur)
                                  : vm_agg(env, h->pred, VM_AGG_SUM, &cur);
        if (st != PROMO_OK) return st;
    }
    if (env->hist) {
        int64_t from = (int64_t)env->rx->date - days + 1;
        if (from < INT32_MIN) from = INT32_MIN;
        promo_status st = env->hist(env->hist_u, slot, (int32_t)from, env->rx->date, &stored);
        if (st != PROMO_OK) return st;
    }
    /* Visits are a count: numbers are thousandths. */
    *out = slot == UINT32_MAX ? vm_sat(((vm_i128)stored + 1) * 1000) : vm_add(cur, stored);
    return PROMO_OK;
}

/* Bit of atom d for `line` in the receipt's line masks (vm_env.atom_lines). */
static inline int64_t vm_atom_bit(const vm_env *env, uint32_t d, uint32_t line) {
    return (int64_t)(env->atom_lines[(size_t)d * env->atom_lw + line / 64] >> (line % 64) & 1);
}

/* The atom bit of operand A of a line-atom opcode in the per-receipt index (idx: the
 * index's table for that opcode), or UINT32_MAX when the index is off or A is not in it. */
static inline uint32_t vm_atom_of(const vm_env *env, const uint32_t *idx, uint32_t a) {
    return env->cat_idx ? idx[a] : UINT32_MAX;
}

#ifdef VM_USE_GOTO
#define vmdispatch(o) goto *vm_disptab[o];
#define vmcase(l)     L_##l:
#define vmbreak                                                                                    \
    i = *pc++;                                                                                     \
    goto *vm_disptab[INSN_OP(i)]
#else
#define vmdispatch(o) switch ((uint32_t)(o))
#define vmcase(l)     case l:
#define vmbreak       break
#endif

#define A       INSN_A(i)
#define PUSH(v) (*sp++ = (v))
#define TOP     (sp[-1])
#define POP     (*--sp)
/* Binary operators: b on top, a below it; the result replaces a. */
#define BIN_OPERANDS                                                                               \
    int64_t b_ = POP;                                                                              \
    int64_t a_ = TOP

promo_status vm_run(vm_env *env, uint32_t block, uint32_t line, int64_t *out) {
#ifdef VM_USE_GOTO
    static const void *const vm_disptab[OP__COUNT] = {
#define OP(name, kind, pops, pushes, ctx, atom, set, facts, doc) &&L_OP_##name,
        PROMO_OPCODE_LIST(OP)
#undef OP
    };
#endif
    const promo_bundle *b = env->b;
    vm_receipt *rx = env->rx;
    const vm_line *ln = line < rx->nlines ? &rx->lines[line] : NULL;
    const promo_insn *pc = b->code + b->blocks[block].start;
    int64_t stack[PROMO_VM_STACK_MAX];
    int64_t *sp = stack;
    promo_status st = PROMO_OK;
    int64_t v;
    promo_insn i;

    for (;;) {
        i = *pc++;
        vmdispatch(INSN_OP(i)) {
            vmcase(OP_PUSH_I) {
                PUSH((int64_t)INSN_SA(i));
                vmbreak;
            }
            vmcase(OP_PUSH_K) {
                PUSH(b->consts[A].value);
                vmbreak;
            }
            vmcase(OP_R_TOTAL) {
                PUSH(rx->total);
                vmbreak;
            }
            vmcase(OP_R_TOTAL_GE) {
                PUSH(vm_total_ge(env, A));
                vmbreak;
            }
            vmcase(OP_R_ORIG_TOTAL) {
                PUSH(rx->orig_total);
                vmbreak;
            }
            vmcase(OP_R_STORE) {
                PUSH((int64_t)rx->store);
                vmbreak;
            }
            vmcase(OP_R_REGION) {
                PUSH((int64_t)rx->region);
                vmbreak;
            }
            vmcase(OP_R_CHANNEL) {
                PUSH(rx->channel);
                vmbreak;
            }
            vmcase(OP_R_PAYMENT) {
                PUSH(rx->payment);
                vmbreak;
            }
            vmcase(OP_R_HAS_CODE) {
                uint64_t h = vm_str_hash(b, A);
                v = 0;
                for (uint32_t k = 0; k < rx->ncodes; k++)
                    if (rx->codes[k] == h) v = 1;
                PUSH(v);
                vmbreak;
            }
            vmcase(OP_R_TIME) {
                PUSH(rx->time);
                vmbreak;
            }
            vmcase(OP_R_DATE) {
                PUSH(rx->date);
                vmbreak;
            }
            vmcase(OP_R_WEEKDAY) {
                PUSH(rx->weekday);
                vmbreak;
            }
            vmcase(OP_R_ATTR_S) {
                const vm_kv *kv = vm_find_kv(rx->attrs, rx->nattrs, vm_str_hash(b, A));
                PUSH(kv ? (int64_t)kv->val : 0);
                vmbreak;
            }
            vmcase(OP_R_ATTR_N) {
                const vm_kv *kv = vm_find_kv(rx->attrs, rx->nattrs, vm_str_hash(b, A));
                PUSH(kv ? kv->num : PROMO_ABSENT);
                vmbreak;
            }
            vmcase(OP_C_SEGMENT) {
                uint64_t h = vm_str_hash(b, A);
                v = 0;
                for (uint32_t k = 0; k < rx->nsegs; k++)
                    if (rx->segs[k] == h) v = 1;
                PUSH(v);
                vmbreak;
            }
            vmcase(OP_C_CARD_IS) {
                PUSH(rx->card != 0 && rx->card == vm_str_hash(b, A));
                vmbreak;
            }
            vmcase(OP_C_CARD) {
                PUSH((int64_t)rx->card);
                vmbreak;
            }
            vmcase(OP_C_TIER) {
                PUSH((int64_t)rx->tier);
                vmbreak;
            }
            vmcase(OP_C_ID) {
                PUSH((int64_t)rx->cust_id);
                vmbreak;
            }
            vmcase(OP_C_BIRTHDAY) {
                PUSH(rx->has_birthday && vm_birthday_within(rx->birthday, rx->date, INSN_SA(i)));
                vmbreak;
            }
            vmcase(OP_C_REGISTERED) {
                PUSH(rx->registered);
                vmbreak;
            }
            vmcase(OP_C_ATTR_S) {
                const vm_kv *kv = vm_find_kv(rx->cattrs, rx->ncattrs, vm_str_hash(b, A));
                PUSH(kv ? (int64_t)kv->val : 0);
                vmbreak;
            }
            vmcase(OP_C_ATTR_N) {
                const vm_kv *kv = vm_find_kv(rx->cattrs, rx->ncattrs, vm_str_hash(b, A));
                PUSH(kv ? kv->num : PROMO_ABSENT);
                vmbreak;
            }
            vmcase(OP_L_SKU) {
                PUSH((int64_t)ln->sku);
                vmbreak;
            }
            vmcase(OP_L_BRAND) {
                PUSH((int64_t)ln->brand);
                vmbreak;
            }
            /* Line atoms: the line's bit when the stacking engine indexed the operand,
             * else the test itself (hash 0 = absent is in no set and equals nothing). */
            vmcase(OP_L_SKU_IN) {
                uint32_t d = vm_atom_of(env, env->sku_idx, A);
                PUSH(d != UINT32_MAX ? vm_atom_bit(env, d, line)
                                     : ln->sku != 0 && bundle_set_has(b, A, ln->sku));
                vmbreak;
            }
            vmcase(OP_L_BRAND_IN) {
                uint32_t d = vm_atom_of(env, env->brand_idx, A);
                PUSH(d != UINT32_MAX ? vm_atom_bit(env, d, line)
                                     : ln->brand != 0 && bundle_set_has(b, A, ln->brand));
                vmbreak;
            }
            vmcase(OP_L_SKU_EQ) {
                uint32_t d = vm_atom_of(env, env->skuk_idx, A);
                PUSH(d != UINT32_MAX ? vm_atom_bit(env, d, line)
                                     : ln->sku != 0 && (int64_t)ln->sku == b->consts[A].value);
                vmbreak;
            }
            vmcase(OP_L_BRAND_EQ) {
                uint32_t d = vm_atom_of(env, env->brandk_idx, A);
                PUSH(d != UINT32_MAX ? vm_atom_bit(env, d, line)
                                     : ln->brand != 0 && (int64_t)ln->brand == b->consts[A].value);
                vmbreak;
            }
            vmcase(OP_L_CATEGORY) {
                PUSH((int64_t)ln->cat);
                vmbreak;
            }
            vmcase(OP_L_CAT_IN) {
                uint32_t d = env->cat_idx ? env->cat_idx[A] : UINT32_MAX;
                if (d != UINT32_MAX) {
                    v = vm_atom_bit(env, d, line);
                    PUSH(v);
                    vmbreak;
                }
                v = 0;
                for (uint32_t k = 0; k < ln->anc_cnt && !v; k++)
                    v = bundle_set_has(b, A, rx->anc[ln->anc_off + k]);
                PUSH(v);
                vmbreak;
            }
            vmcase(OP_L_QTY) {
                PUSH(ln->qty);
                vmbreak;
            }
            vmcase(OP_L_PRICE) {
                PUSH(vm_unit_price(ln));
                vmbreak;
            }
            vmcase(OP_L_PRICE_CMP) {
                TOP = vm_price_cmp(ln, TOP, A);
                vmbreak;
            }
            vmcase(OP_L_ORIG_PRICE) {
                PUSH(ln->price);
                vmbreak;
            }
            vmcase(OP_L_AMOUNT) {
                PUSH(ln->amount);
                vmbreak;
            }
            vmcase(OP_L_EXCLUDED) {
                PUSH(ln->excluded != 0);
                vmbreak;
            }
            vmcase(OP_AGG_SUM) {
                if ((st = vm_agg(env, A, VM_AGG_SUM, &v)) != PROMO_OK) goto failed;
                PUSH(v);
                vmbreak;
            }
            vmcase(OP_AGG_COUNT) {
                if ((st = vm_agg(env, A, VM_AGG_COUNT, &v)) != PROMO_OK) goto failed;
                PUSH(v);
                vmbreak;
            }
            vmcase(OP_AGG_ANY) {
                v = 0;
                if ((st = vm_agg(env, A, VM_AGG_ANY, &v)) != PROMO_OK) goto failed;
                PUSH(v);
                vmbreak;
            }
            vmcase(OP_AGG_DISTINCT) {
                if ((st = vm_aggregate(env, A, VM_AGG_DISTINCT, &v)) != PROMO_OK) goto failed;
                PUSH(v);
                vmbreak;
            }
            vmcase(OP_H_SUM) {
                if ((st = vm_history(env, A, TOP, &v)) != PROMO_OK) goto failed;
                TOP = v;
                vmbreak;
            }
            vmcase(OP_H_COUNT) {
                if ((st = vm_history(env, A, TOP, &v)) != PROMO_OK) goto failed;
                TOP = v;
                vmbreak;
            }
            vmcase(OP_H_VISITS) {
                if ((st = vm_history(env, UINT32_MAX, TOP, &v)) != PROMO_OK) goto failed;
                TOP = v;
                vmbreak;
            }
            vmcase(OP_ADD) {
                BIN_OPERANDS;
                TOP = a_ == PROMO_ABSENT || b_ == PROMO_ABSENT ? PROMO_ABSENT
                                                               : vm_sat((vm_i128)a_ + b_);
                vmbreak;
            }
            vmcase(OP_SUB) {
                BIN_OPERANDS;
                TOP = a_ == PROMO_ABSENT || b_ == PROMO_ABSENT ? PROMO_ABSENT
                                                               : vm_sat((vm_i128)a_ - b_);
                vmbreak;
            }
            vmcase(OP_MUL_MN) {
                BIN_OPERANDS;
                TOP = a_ == PROMO_ABSENT || b_ == PROMO_ABSENT ? PROMO_ABSENT
                                                               : vm_muldiv(a_, b_, 1000);
                vmbreak;
            }
            vmcase(OP_MUL_NN) {
                BIN_OPERANDS;
                TOP = a_ == PROMO_ABSENT || b_ == PROMO_ABSENT ? PROMO_ABSENT
                                                               : vm_muldiv(a_, b_, 1000);
                vmbreak;
            }
            vmcase(OP_NEG) {
                /* -ABSENT is ABSENT; every other value negates without overflow. */
                if (TOP != PROMO_ABSENT) TOP = -TOP;
                vmbreak;
            }
#define VM_CMP(op)                                                                                 \
    {                                                                                              \
        BIN_OPERANDS;                                                                              \
        TOP = a_ != PROMO_ABSENT && b_ != PROMO_ABSENT && a_ op b_;                                \
        vmbreak;                                                                                   \
    }
            vmcase(OP_EQ) VM_CMP(==) vmcase(OP_NE) VM_CMP(!=) vmcase(OP_LT) VM_CMP(<) vmcase(OP_LE)
                VM_CMP(<=) vmcase(OP_GT) VM_CMP(>) vmcase(OP_GE) VM_CMP(>=)
#undef VM_CMP
/* The same against the immediate A (never ABSENT). */
#define VM_CMP_I(op)                                                                               \
    {                                                                                              \
        TOP = TOP != PROMO_ABSENT && TOP op(int64_t) INSN_SA(i);                                   \
        vmbreak;                                                                                   \
    }
                    vmcase(OP_EQ_I) VM_CMP_I(==) vmcase(OP_NE_I) VM_CMP_I(!=) vmcase(OP_LT_I)
                        VM_CMP_I(<) vmcase(OP_LE_I) VM_CMP_I(<=) vmcase(OP_GT_I) VM_CMP_I(>)
                            vmcase(OP_GE_I) VM_CMP_I(>=)
#undef VM_CMP_I
                                vmcase(OP_SEQ) {
                BIN_OPERANDS;
                TOP = a_ != 0 && b_ != 0 && a_ == b_;
                vmbreak;
            }
            vmcase(OP_SNE) {
                BIN_OPERANDS;
                TOP = a_ != 0 && b_ != 0 && a_ != b_;
                vmbreak;
            }
            vmcase(OP_IN_SET) {
                TOP = TOP != 0 && bundle_set_has(b, A, (uint64_t)TOP);
                vmbreak;
            }
            vmcase(OP_IN_NSET) {
                TOP = TOP != PROMO_ABSENT && bundle_set_has(b, A, promo_hash_i64(TOP));
                vmbreak;
            }
            vmcase(OP_NOT) {
                TOP = TOP == 0;
                vmbreak;
            }
            vmcase(OP_JF_KEEP) {
                if (TOP == 0)
                    pc += A;
                else
                    --sp;
                vmbreak;
            }
            vmcase(OP_JT_KEEP) {
                if (TOP != 0)
                    pc += A;
                else
                    --sp;
                vmbreak;
            }
            vmcase(OP_ASSERT) {
                if (POP == 0) {
                    env->fail_part = A;
                    goto is_false;
                }
                vmbreak;
            }
            vmcase(OP_RET) {
                *out = POP;
                goto done;
            }
        }
    }

is_false:
    *out = 0;
done:
    return PROMO_OK;
failed:
    *out = 0;
    return st;
}
