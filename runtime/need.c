/*
 * need.c — necessary line atoms of PRED and COND blocks (see need.h), for the stacking
 * engine's prefilter. Runs once per bundle generation.
 *
 * Abstract interpretation in instruction order. A stack value is one of: unknown, the
 * constant c, "the line's brand / SKU hash", known zero, or NEED(N): "the value is 0
 * unless some line atom of N holds". Each path also carries a fact: a need known to
 * hold whenever the path is taken (a JF_KEEP fell through, an ASSERT passed). Jumps
 * are forward, so the states reaching an instruction are merged when it is reached:
 * where two paths meet, the top of the stack is nonzero only if it is nonzero on one
 * of them, so its need is the union of what each path knows.
 */
#include "need.h"

#include "alloc.h"

#include <stdlib.h>
#include <string.h>

#define ND_STACK  16   /* deeper blocks are not analysed */
#define ND_MAXLEN 4096 /* nor longer ones */
#define ND_NONE   UINT32_MAX

enum { ND_OTHER, ND_ZERO, ND_CONST, ND_NEED, ND_TOTAL, ND_TMIN };

typedef struct nd_val {
    uint32_t id;   /* values with equal ids are the same value */
    uint32_t kind; /* ND_* */
    uint32_t k;    /* ND_CONST pushed by PUSH_K: the constant's index, else ND_NONE */
    int64_t c;     /* ND_CONST; ND_TMIN: nonzero only if the original total is >= c */
    need_set need; /* ND_NEED */
} nd_val;

typedef struct nd_state {
    int live;
    uint32_t depth;
    need_set fact;
    nd_val v[ND_STACK];
} nd_state;

typedef struct nd {
    const promo_bundle *b;
    const need_atoms *a;
    uint32_t next_id;
} nd;

static need_set nd_one(uint32_t atom) {
    need_set s = {0, {0}};
    if (atom != ND_NONE) s.at[s.n++] = atom;
    return s;
}

/* The smaller of two known needs (either is implied, so either will do). */
static need_set nd_better(need_set x, need_set y) {
    if (x.n == 0) return y;
    if (y.n == 0) return x;
    return x.n <= y.n ? x : y;
}

/* "x or y"; unknown when either is, or when the union is too large. */
static need_set nd_union(need_set x, need_set y) {
    need_set u = {0, {0}};
    if (x.n == 0 || y.n == 0) return u;
    u = x;
    for (uint32_t i = 0; i < y.n; i++) {
        uint32_t j = 0;
        while (j < u.n && u.at[j] != y.at[i])
            j++;
        if (j < u.n) continue;
        if (u.n == NEED_MAX) return (need_set){0, {0}};
        u.at[u.n++] = y.at[i];
    }
    return u;
}

static int nd_same(const need_set *x, const need_set *y) {
    return x->n == y->n && memcmp(x->at, y->at, x->n * sizeof x->at[0]) == 0;
}

static nd_val nd_other(nd *n) {
    return (nd_val){.id = ++n->next_id, .kind = ND_OTHER, .k = ND_NONE};
}

static nd_val nd_needv(nd *n, need_set s) {
    if (s.n == 0) return nd_other(n);
    return (nd_val){.id = ++n->next_id, .kind = ND_NEED, .k = ND_NONE, .need = s};
}

/* What a path knows when its top value is nonzero: *zero = the value is 0 there. */
static need_set nd_cand(const nd_state *s, int *zero) {
    const nd_val *t = &s->v[s->depth - 1];
    *zero = t->kind == ND_ZERO;
    return nd_better(t->kind == ND_NEED ? t->need : (need_set){0, {0}}, s->fact);
}

/* Merges path `p` into the state `into` waiting at a join. */
static void nd_merge(nd *n, nd_state *into, const nd_state *p) {
    if (!p->live) return;
    if (!into->live) {
        *into = *p;
        return;
    }
    for (uint32_t i = 0; i + 1 < into->depth; i++)
        if (into->v[i].id != p->v[i].id) into->v[i] = nd_other(n);
    int z1, z2;
    need_set c1 = nd_cand(into, &z1), c2 = nd_cand(p, &z2);
    nd_val *t = &into->v[into->depth - 1];
    if (z1 && z2)
        *t = (nd_val){.id = ++n->next_id, .kind = ND_ZERO, .k = ND_NONE};
    else
        *t = nd_needv(n, z1 ? c2 : z2 ? c1 : nd_union(c1, c2));
    if (!nd_same(&into->fact, &p->fact)) into->fact = (need_set){0, {0}};
}

static int nd_const(const nd_val *v, int64_t *c) {
    *c = v->c;
    return v->kind == ND_CONST;
}

/* The need of comparison `a op b` when one side is NEED and the other a constant that
 * makes the comparison false at 0. */
static need_set nd_compare(promo_opcode op, const nd_val *a, const nd_val *b) {
    need_set none = {0, {0}};
    int64_t c;
    if (a->kind == ND_NEED && nd_const(b, &c)) {
        int ok = (op == OP_GE && c > 0) || (op == OP_GT && c >= 0) || (op == OP_EQ && c != 0) ||
                 (op == OP_NE && c == 0);
        return ok ? a->need : none;
    }
    if (b->kind == ND_NEED && nd_const(a, &c)) {
        int ok = (op == OP_LE && c > 0) || (op == OP_LT && c >= 0) || (op == OP_EQ && c != 0) ||
                 (op == OP_NE && c == 0);
        return ok ? b->need : none;
    }
    return none;
}

/* ND_TMIN threshold of comparison `a op b` of a receipt total (current or original: the
 * current one is never above the original) with a constant; INT64_MIN when none. */
static int64_t nd_total_min(promo_opcode op, const nd_val *a, const nd_val *b) {
    int64_t c;
    if (a->kind == ND_TOTAL && nd_const(b, &c)) {
        if (op == OP_GE || op == OP_EQ) return c;
        if (op == OP_GT && c < INT64_MAX) return c + 1;
    }
    if (b->kind == ND_TOTAL && nd_const(a, &c)) {
        if (op == OP_LE || op == OP_EQ) return c;
        if (op == OP_LT && c < INT64_MAX) return c + 1;
    }
    return INT64_MIN;
}

/* The atom of line-atom instruction A of `oi` (opcodes.h `atom` column) in the caller's
 * numbering, ND_NONE when it has none. */
static uint32_t nd_atom(const nd *n, const promo_opinfo *oi, uint32_t A) {
    const uint32_t *t = NULL;
    int set = oi->operand == OPK_SET;
    switch (oi->atom) {
    case OPA_CAT: t = set ? n->a->cat : NULL; break;
    case OPA_BRAND: t = set ? n->a->brand : n->a->brand_k; break;
    case OPA_SKU: t = set ? n->a->sku : n->a->sku_k; break;
    default: break;
    }
    return t ? t[A] : ND_NONE;
}

/* Runs the analysis of block `blk`. PRED: *result gets the predicate's need. COND:
 * requirements go to out[0 .. *nout). Returns -1 when out of memory. */
static int nd_block(nd *n, uint32_t blk, need_set *result, need_set *out, uint32_t max,
                    uint32_t *nout, int64_t *min_total) {
    const promo_bundle *b = n->b;
    const pb_block *bl = &b->blocks[blk];
    int is_cond = bl->kind == PB_BLOCK_COND;
    result->n = 0;
    if (bl->max_stack > ND_STACK || bl->len > ND_MAXLEN || bl->len == 0) return 0;
    /* States waiting at jump targets: at most one per jump. */
    uint32_t njumps = 0;
    for (uint32_t pc = 0; pc < bl->len; pc++) {
        promo_opcode op = INSN_OP(b->code[bl->start + pc]);
        njumps += (op_info(op)->facts & (OPF_JF_KEEP | OPF_JT_KEEP)) != 0;
    }
    const promo_allocator *al = n->a->alloc;
    nd_state *in = pa_calloc(al, njumps + 1, sizeof *in);
    uint32_t *at = pa_calloc(al, njumps + 1, sizeof *at), nin = 0;
    nd_state *s = pa_malloc(al, sizeof *s);
    if (!in || !at || !s) {
        pa_free(al, in);
        pa_free(al, at);
        pa_free(al, s);
        return -1;
    }
    memset(s, 0, sizeof *s);
    s->live = 1;
    uint32_t reach = 0; /* the farthest jump target seen so far */
    int collect = 1;    /* every path still reaches pc */
    for (uint32_t pc = 0; pc < bl->len; pc++) {
        for (uint32_t k = 0; k < nin; k++)
            if (at[k] == pc && in[k].live) {
                nd_merge(n, &in[k], s);
                *s = in[k];
                in[k].live = 0;
            }
        if (!s->live) break; /* unreachable: the verifier forbids it */
        promo_insn i = b->code[bl->start + pc];
        promo_opcode op = INSN_OP(i);
        uint32_t A = INSN_A(i);
        const promo_opinfo *oi = &promo_opinfo_table[op];
        nd_val *sp = s->v + s->depth; /* one past the top */
        if (oi->atom != OPA_NONE) {   /* a line atom: its need is itself */
            *sp = nd_needv(n, nd_one(nd_atom(n, oi, A)));
            s->depth++;
            continue;
        }
        if ((oi->facts & OPF_TOTAL_MIN) && oi->operand == OPK_CONST && !oi->pops &&
            oi->pushes == 1) { /* `total >= constant A` in one instruction */
            *sp = (nd_val){++n->next_id, ND_TMIN, ND_NONE, b->consts[A].value, {0, {0}}};
            s->depth++;
            continue;
        }
        if (oi->facts & OPF_CMP_I) { /* the top against the immediate A */
            nd_val c = {++n->next_id, ND_CONST, ND_NONE, INSN_SA(i), {0, {0}}};
            promo_opcode cmp = op_cmp_of(op);
            int64_t t = nd_total_min(cmp, &sp[-1], &c);
            if (t != INT64_MIN)
                sp[-1] = (nd_val){++n->next_id, ND_TMIN, ND_NONE, t, {0, {0}}};
            else
                sp[-1] = nd_needv(n, nd_compare(cmp, &sp[-1], &c));
            continue;
        }
        if (oi->facts & (OPF_JF_KEEP | OPF_JT_KEEP)) { /* and / or */
            uint32_t t = pc + 1 + A, slot = 0;
            while (slot < nin && !(at[slot] == t && in[slot].live))
                slot++;
            if (slot == nin) at[nin++] = t; /* in[slot] is not live: a new join */
            nd_val *top = &sp[-1];
            int zero = top->kind == ND_ZERO;
            need_set tn = top->kind == ND_NEED ? top->need : (need_set){0, {0}};
            if (oi->facts & OPF_JF_KEEP) {
                /* taken: the top is 0 there; fallen through: it was nonzero */
                nd_state save = *s;
                save.v[save.depth - 1] = (nd_val){++n->next_id, ND_ZERO, ND_NONE, 0, {0, {0}}};
                nd_merge(n, &in[slot], &save);
                if (zero) s->live = 0;
                s->fact = nd_better(s->fact, tn);
            } else if (!zero) {
                /* taken: the top is nonzero there, so its need holds */
                nd_state save = *s;
                save.fact = nd_better(save.fact, tn);
                nd_merge(n, &in[slot], &save);
            }
            if (t > reach) reach = t;
            s->depth--;
            continue;
        }
        switch (op) {
        case OP_PUSH_I:
            *sp = (nd_val){++n->next_id, ND_CONST, ND_NONE, INSN_SA(i), {0, {0}}};
            s->depth++;
            continue;
        case OP_PUSH_K:
            *sp = (nd_val){++n->next_id, ND_CONST, A, b->consts[A].value, {0, {0}}};
            s->depth++;
            continue;
        case OP_R_TOTAL:
        case OP_R_ORIG_TOTAL:
            *sp = (nd_val){++n->next_id, ND_TOTAL, ND_NONE, 0, {0, {0}}};
            s->depth++;
            continue;
        case OP_GE:
        case OP_GT:
        case OP_EQ:
        case OP_NE:
        case OP_LE:
        case OP_LT: {
            int64_t t = nd_total_min(op, &sp[-2], &sp[-1]);
            if (t != INT64_MIN)
                sp[-2] = (nd_val){++n->next_id, ND_TMIN, ND_NONE, t, {0, {0}}};
            else
                sp[-2] = nd_needv(n, nd_compare(op, &sp[-2], &sp[-1]));
            s->depth--;
            continue;
        }
        case OP_AGG_SUM:
        case OP_AGG_COUNT:
        case OP_AGG_ANY:
        case OP_AGG_DISTINCT: {
            need_set ps = {0, {0}};
            if (A != PRED_ALL_LINES) ps = need_pred(b, n->a, A);
            *sp = nd_needv(n, ps);
            s->depth++;
            continue;
        }
        case OP_ASSERT:
            if (sp[-1].kind == ND_TMIN && is_cond && collect && reach <= pc &&
                sp[-1].c > *min_total)
                *min_total = sp[-1].c;
            if (sp[-1].kind == ND_NEED) {
                if (is_cond && collect && reach <= pc && *nout < max) out[(*nout)++] = sp[-1].need;
                s->fact = nd_better(s->fact, sp[-1].need);
            }
            s->depth--;
            continue;
        case OP_RET: {
            if (pc + 1 == bl->len && collect) {
                int zero;
                need_set c = nd_cand(s, &zero);
                if (!is_cond && !zero) *result = c;
                if (is_cond && sp[-1].kind == ND_NEED && reach <= pc && *nout < max)
                    out[(*nout)++] = sp[-1].need;
                if (is_cond && sp[-1].kind == ND_TMIN && reach <= pc && sp[-1].c > *min_total)
                    *min_total = sp[-1].c;
            }
            collect = 0; /* later instructions are reached by only some paths */
            s->live = 0;
            continue;
        }
        default:
            for (uint32_t k = 0; k < oi->pops; k++)
                s->depth--;
            for (uint32_t k = 0; k < oi->pushes; k++)
                s->v[s->depth++] = nd_other(n);
            continue;
        }
    }
    pa_free(al, in);
    pa_free(al, at);
    pa_free(al, s);
    return 0;
}

need_set need_pred(const promo_bundle *b, const need_atoms *a, uint32_t blk) {
    nd n = {b, a, 0};
    need_set r = {0, {0}};
    uint32_t nout = 0;
    int64_t t = INT64_MIN;
    if (blk >= b->nblocks || b->blocks[blk].kind != PB_BLOCK_PRED) return r;
    if (nd_block(&n, blk, &r, NULL, 0, &nout, &t) != 0) r.n = 0;
    return r;
}

int need_cond(const promo_bundle *b, const need_atoms *a, uint32_t blk, need_set *out, uint32_t max,
              int64_t *min_total) {
    nd n = {b, a, 0};
    need_set r;
    uint32_t nout = 0;
    *min_total = INT64_MIN;
    if (blk >= b->nblocks || b->blocks[blk].kind != PB_BLOCK_COND) return 0;
    if (nd_block(&n, blk, &r, out, max, &nout, min_total) != 0) return -1;
    return (int)nout;
}
