/*
 * bundle.c — the loader and verifier of .pbc bundles (runtime stage "loader/verifier",
 * between the file and the VM). It checks the header (magic, endianness, format,
 * size, checksum), then every section, table and instruction, so that the VM and the
 * stacking engine can trust every index and operand without a per-instruction check
 * (the Lua lundump.c / SQLite "corrupt is an error, never a crash" discipline).
 *
 * Every failure yields one precise line, e.g.
 *   bundle: section CODE: block 3: jump at 17 leaves the block
 * All offset arithmetic is done in 64 bits on values already known to be < 2^32, and
 * every element is read only after its section has been bounds-checked.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "bundle_sum.h"

#include "alloc.h"

_Static_assert(OPS_STRING == PB_SET_STRING + 1 && OPS_NUMBER == PB_SET_NUMBER + 1 &&
                   OPS_CATEGORY == PB_SET_CATEGORY + 1,
               "opcodes.h set kinds follow PB_SET_*");
#include "hash.h"
#include "readfile.h"

typedef struct vctx {
    promo_bundle *b;
    char *err;
    size_t errlen;
} vctx;

static const char *const section_names[PBS__COUNT] = {
#define X(name, elem, doc) #name,
    PB_SECTION_LIST(X)
#undef X
};

/* Element size of each section; 0 for the string pool, which has its own layout. */
static const uint32_t section_elem[PBS__COUNT] = {
    [PBS_STRINGS] = 0,
    [PBS_CONSTS] = sizeof(pb_const),
    [PBS_SETS] = sizeof(pb_set),
    [PBS_SLOTS] = sizeof(uint64_t),
    [PBS_SETITEMS] = sizeof(uint32_t),
    [PBS_CODE] = sizeof(promo_insn),
    [PBS_BLOCKS] = sizeof(pb_block),
    [PBS_GROUPS] = sizeof(uint32_t),
    [PBS_ACCEPT] = sizeof(uint32_t),
    [PBS_HOURS] = sizeof(uint32_t),
    [PBS_STEPS] = sizeof(pb_step),
    [PBS_REWARDS] = sizeof(pb_reward),
    [PBS_HIST] = sizeof(pb_hist),
    [PBS_CAMPAIGNS] = sizeof(pb_campaign),
};

_Static_assert(sizeof(pb_header) == 64, "pb_header is 64 bytes");
_Static_assert(sizeof(pb_section) == 24, "pb_section is 24 bytes");
_Static_assert(sizeof(pb_const) == 16, "pb_const is 16 bytes");
_Static_assert(sizeof(pb_set) == 24, "pb_set is 24 bytes");
_Static_assert(sizeof(pb_block) == 16, "pb_block is 16 bytes");
_Static_assert(sizeof(pb_step) == 16, "pb_step is 16 bytes");
_Static_assert(sizeof(pb_hist) == 16, "pb_hist is 16 bytes");
_Static_assert(sizeof(pb_reward) == 56, "pb_reward is 56 bytes");
_Static_assert(sizeof(pb_campaign) == 128, "pb_campaign is 128 bytes");

__attribute__((format(printf, 2, 3))) static promo_status bundle_fail(vctx *v, const char *fmt,
                                                                      ...) {
    if (v->err && v->errlen) {
        int n = snprintf(v->err, v->errlen, "bundle: ");
        if (n >= 0 && (size_t)n < v->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(v->err + n, v->errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return PROMO_ECORRUPT;
}

/* ------------------------------------------------------------------ header ---- */

static promo_status bundle_check_header(vctx *v) {
    promo_bundle *b = v->b;
    if (b->size < sizeof(pb_header))
        return bundle_fail(v, "truncated: %zu bytes, the header alone is %zu", b->size,
                           sizeof(pb_header));
    const pb_header *h = (const pb_header *)b->mem;
    if (memcmp(h->magic, PB_MAGIC, PB_MAGIC_LEN) != 0)
        return bundle_fail(v, "not a promo bundle (bad magic)");
    if (h->endian != PB_ENDIAN_PROBE)
        return bundle_fail(v, "byte order probe 0x%08x: written for another byte order",
                           (unsigned)h->endian);
    if (h->format != PB_FORMAT) {
        bundle_fail(v, "format %u, this library reads format %u", (unsigned)h->format,
                    (unsigned)PB_FORMAT);
        return PROMO_EVERSION;
    }
    if (h->file_size != b->size)
        return bundle_fail(v, "truncated or padded: header says %llu bytes, got %zu",
                           (unsigned long long)h->file_size, b->size);
    uint64_t sum = pb_checksum(b->mem, b->size);
    if (sum != h->checksum)
        return bundle_fail(v, "checksum mismatch (stored %016llx, computed %016llx)",
                           (unsigned long long)h->checksum, (unsigned long long)sum);
    for (size_t i = 0; i < sizeof h->reserved; i++)
        if (h->reserved[i]) return bundle_fail(v, "reserved header bytes are not zero");
    if (h->flags & ~(uint32_t)PBF_TIEBREAK_BENEFIT)
        return bundle_fail(v, "unknown header flags 0x%x", (unsigned)h->flags);
    b->hdr = h;
    return PROMO_OK;
}

/* -------------------------------------------------------------- sections ---- */

static promo_status bundle_check_sections(vctx *v, const pb_section *sec[PBS__COUNT]) {
    promo_bundle *b = v->b;
    const pb_header *h = b->hdr;
    if (h->nsections > PBS__COUNT)
        return bundle_fail(v, "%u sections, at most %d are known", (unsigned)h->nsections,
                           PBS__COUNT);
    uint64_t table_end = sizeof(pb_header) + (uint64_t)h->nsections * sizeof(pb_section);
    if (table_end > b->size) return bundle_fail(v, "section table runs past the end");
    const pb_section *tab = (const pb_section *)(b->mem + sizeof(pb_header));
    for (uint32_t i = 0; i < h->nsections; i++) {
        const pb_section *s = &tab[i];
        if (s->id >= PBS__COUNT) return bundle_fail(v, "section %u: unknown id %u", i, s->id);
        const char *name = section_names[s->id];
        if (sec[s->id]) return bundle_fail(v, "section %s: given twice", name);
        sec[s->id] = s;
        if (s->offset % 8) return bundle_fail(v, "section %s: offset not 8-aligned", name);
        /* offset and size are u64: compare before adding so the sum cannot wrap. */
        if (s->offset < table_end || s->offset > b->size || s->size > b->size - s->offset)
            return bundle_fail(v, "section %s: out of bounds (offset %llu size %llu)", name,
                               (unsigned long long)s->offset, (unsigned long long)s->size);
        if (s->id == PBS_STRINGS) {
            if ((uint64_t)s->count + 1 > s->size / 4)
                return bundle_fail(v, "section STRINGS: %u strings do not fit in %llu bytes",
                                   s->count, (unsigned long long)s->size);
        } else if ((uint64_t)s->count * section_elem[s->id] != s->size) {
            return bundle_fail(v, "section %s: size %llu is not %u elements of %u bytes", name,
                               (unsigned long long)s->size, s->count, section_elem[s->id]);
        }
    }
    if (sec[PBS_HOURS] && sec[PBS_HOURS]->count % 2)
        return bundle_fail(v, "section HOURS: odd number of values");

#define BIND(ID, field, nfield, type)                                                              \
    do {                                                                                           \
        if (sec[ID]) {                                                                             \
            b->field = (const type *)(b->mem + sec[ID]->offset);                                   \
            b->nfield = sec[ID]->count;                                                            \
        }                                                                                          \
    } while (0)
    BIND(PBS_CONSTS, consts, nconsts, pb_const);
    BIND(PBS_SETS, sets, nsets, pb_set);
    BIND(PBS_SLOTS, slots, nslots, uint64_t);
    BIND(PBS_SETITEMS, setitems, nsetitems, uint32_t);
    BIND(PBS_CODE, code, ncode, promo_insn);
    BIND(PBS_BLOCKS, blocks, nblocks, pb_block);
    BIND(PBS_GROUPS, groups, ngroups, uint32_t);
    BIND(PBS_ACCEPT, accept, naccept, uint32_t);
    BIND(PBS_HOURS, hours, nhours, uint32_t);
    BIND(PBS_STEPS, steps, nsteps, pb_step);
    BIND(PBS_REWARDS, rewards, nrewards, pb_reward);
    BIND(PBS_HIST, hist, nhist, pb_hist);
    BIND(PBS_CAMPAIGNS, campaigns, ncampaigns, pb_campaign);
#undef BIND
    return PROMO_OK;
}

static promo_status bundle_check_strings(vctx *v, const pb_section *s) {
    promo_bundle *b = v->b;
    if (!s) return PROMO_OK;
    const uint32_t *off = (const uint32_t *)(b->mem + s->offset);
    uint64_t bytes_at = ((uint64_t)s->count + 1) * 4;
    uint64_t nbytes = s->size - bytes_at;
    const char *bytes = (const char *)(b->mem + s->offset + bytes_at);
    if (off[0] != 0) return bundle_fail(v, "section STRINGS: first offset is %u, not 0", off[0]);
    for (uint32_t i = 0; i < s->count; i++) {
        if (off[i + 1] <= off[i] || off[i + 1] > nbytes)
            return bundle_fail(v, "section STRINGS: string %u: bad offset %u", i, off[i + 1]);
        size_t len = off[i + 1] - off[i] - 1;
        if (bytes[off[i] + len] != 0)
            return bundle_fail(v, "section STRINGS: string %u: not NUL-terminated", i);
        if (memchr(bytes + off[i], 0, len))
            return bundle_fail(v, "section STRINGS: string %u: embedded NUL", i);
    }
    b->str_off = off;
    b->str_bytes = bytes;
    b->nstrings = s->count;
    return PROMO_OK;
}

/* ---------------------------------------------------------------- tables ---- */

/* 1 when [off, off + cnt) lies within [0, n); 64-bit so off + cnt cannot wrap. */
static int bundle_range_ok(uint32_t off, uint32_t cnt, uint32_t n) {
    return (uint64_t)off + cnt <= n;
}

static int bundle_str_ok(const promo_bundle *b, uint32_t s, int optional) {
    return s < b->nstrings || (optional && s == PB_NONE);
}

static int bundle_set_ok(const promo_bundle *b, uint32_t s, int optional) {
    return s < b->nsets || (optional && s == PB_NONE);
}

static int bundle_pred_ok(const promo_bundle *b, uint32_t p) {
    return p == PRED_ALL_LINES || (p < b->nblocks && b->blocks[p].kind == PB_BLOCK_PRED);
}

static int bundle_cond_ok(const promo_bundle *b, uint32_t c) {
    return c == PB_NONE || (c < b->nblocks && b->blocks[c].kind == PB_BLOCK_COND);
}

static promo_status bundle_check_consts_sets(vctx *v) {
    promo_bundle *b = v->b;
    for (uint32_t i = 0; i < b->nconsts; i++)
        if (!bundle_str_ok(b, b->consts[i].str, 1))
            return bundle_fail(v, "section CONSTS: constant %u: string %u out of range", i,
                               b->consts[i].str);
    for (uint32_t i = 0; i < b->nsetitems; i++)
        if (!bundle_str_ok(b, b->setitems[i], 0))
            return bundle_fail(v, "section SETITEMS: item %u: string %u out of range", i,
                               b->setitems[i]);
    for (uint32_t i = 0; i < b->nsets; i++) {
        const pb_set *s = &b->sets[i];
        if (s->kind > PB_SET_CATEGORY)
            return bundle_fail(v, "section SETS: set %u: unknown kind %u", i, s->kind);
        if (s->nslots < 2 || (s->nslots & (s->nslots - 1)))
            return bundle_fail(v, "section SETS: set %u: %u slots is not a power of two >= 2", i,
                               s->nslots);
        if (!bundle_range_ok(s->slot_off, s->nslots, b->nslots))
            return bundle_fail(v, "section SETS: set %u: slots out of range", i);
        if (!bundle_range_ok(s->items_off, s->nitems, b->nsetitems))
            return bundle_fail(v, "section SETS: set %u: items out of range", i);
        if (!bundle_str_ok(b, s->name, 1))
            return bundle_fail(v, "section SETS: set %u: name out of range", i);
        /* bundle_set_has probes until it meets an empty slot: there must be one. */
        uint32_t empty = 0;
        for (uint32_t k = 0; k < s->nslots; k++)
            empty += b->slots[s->slot_off + k] == 0;
        if (empty == 0) return bundle_fail(v, "section SETS: set %u: no empty slot", i);
    }
    return PROMO_OK;
}

static promo_status bundle_check_blocks(vctx *v) {
    promo_bundle *b = v->b;
    for (uint32_t i = 0; i < b->nblocks; i++) {
        const pb_block *k = &b->blocks[i];
        if (k->kind > PB_BLOCK_PRED)
            return bundle_fail(v, "section BLOCKS: block %u: unknown kind %u", i, k->kind);
        if (k->len == 0 || !bundle_range_ok(k->start, k->len, b->ncode))
            return bundle_fail(v, "section BLOCKS: block %u: code range out of bounds", i);
        if (k->max_stack > PROMO_VM_STACK_MAX)
            return bundle_fail(v, "section BLOCKS: block %u: max_stack %u exceeds %d", i,
                               k->max_stack, PROMO_VM_STACK_MAX);
    }
    return PROMO_OK;
}

/* One pass per block. Jumps only go forward, so the depth at every instruction is
 * known when it is reached: from the fall-through of the previous instruction and
 * from the jumps recorded earlier, which must agree. `depth` is scratch, ncode long. */
static promo_status bundle_check_code(vctx *v, int16_t *depth) {
    promo_bundle *b = v->b;
    for (uint32_t bi = 0; bi < b->nblocks; bi++) {
        const pb_block *k = &b->blocks[bi];
        const promo_insn *code = b->code + k->start;
        const char *kname = k->kind == PB_BLOCK_COND ? "COND" : "PRED";
        int16_t *d = depth + k->start;
        for (uint32_t pc = 0; pc < k->len; pc++)
            d[pc] = -1;
        int cur = 0; /* depth falling into pc; -1 when the previous insn does not fall through */
        uint32_t maxd = 0;
#define CODE_FAIL(...)                                                                             \
    do {                                                                                           \
        char m_[160];                                                                              \
        snprintf(m_, sizeof m_, __VA_ARGS__);                                                      \
        return bundle_fail(v, "section CODE: block %u: %s", bi, m_);                               \
    } while (0)
        for (uint32_t pc = 0; pc < k->len; pc++) {
            promo_insn in = code[pc];
            unsigned op = in & 0xFFu;
            uint32_t a = INSN_A(in);
            if (op >= OP__COUNT) CODE_FAIL("unknown opcode %u at %u", op, pc);
            const promo_opinfo *oi = &promo_opinfo_table[op];
            if (oi->context == OPC_LINE && k->kind != PB_BLOCK_PRED)
                CODE_FAIL("%s at %u needs a line (PRED block), this is a %s block", oi->name, pc,
                          kname);
            if (oi->context == OPC_COND && k->kind != PB_BLOCK_COND)
                CODE_FAIL("%s at %u is for COND blocks, this is a %s block", oi->name, pc, kname);
            switch (oi->operand) {
            case OPK_NONE:
                if (a) CODE_FAIL("%s at %u: operand %u where none is taken", oi->name, pc, a);
                break;
            case OPK_IMM: break;
            case OPK_CONST:
                if (a >= b->nconsts)
                    CODE_FAIL("%s at %u: constant %u out of range", oi->name, pc, a);
                if (oi->atom != OPA_NONE && b->consts[a].str == PB_NONE)
                    CODE_FAIL("%s at %u: constant %u is not a string", oi->name, pc, a);
                break;
            case OPK_STR:
            case OPK_PART:
                if (a >= b->nstrings)
                    CODE_FAIL("%s at %u: string %u out of range", oi->name, pc, a);
                break;
            case OPK_SET: {
                if (a >= b->nsets) CODE_FAIL("%s at %u: set %u out of range", oi->name, pc, a);
                if (b->sets[a].kind + 1 != oi->set)
                    CODE_FAIL("%s at %u: set %u has the wrong kind", oi->name, pc, a);
                break;
            }
            case OPK_PRED:
                if (!bundle_pred_ok(b, a))
                    CODE_FAIL("%s at %u: %u is not a PRED block", oi->name, pc, a);
                break;
            case OPK_HIST:
                if (a >= b->nhist)
                    CODE_FAIL("%s at %u: history slot %u out of range", oi->name, pc, a);
                break;
            case OPK_JUMP:
                if ((uint64_t)pc + 1 + a >= k->len) CODE_FAIL("jump at %u leaves the block", pc);
                break;
            }
            /* Merge the depths reaching pc. */
            if (d[pc] >= 0) {
                if (cur >= 0 && cur != d[pc])
                    CODE_FAIL("stack depth %d or %d at %u (paths disagree)", cur, d[pc], pc);
                cur = d[pc];
            }
            if (cur < 0) CODE_FAIL("unreachable instruction at %u", pc);
            d[pc] = (int16_t)cur;
            int keep = (oi->facts & (OPF_JF_KEEP | OPF_JT_KEEP)) != 0;
            if (cur < oi->pops || (keep && cur < 1))
                CODE_FAIL("stack underflow at %u (%s)", pc, oi->name);
            if (keep) {
                uint32_t t = pc + 1 + a;
                if (d[t] >= 0 && d[t] != cur)
                    CODE_FAIL("stack depth %d or %d at %u (paths disagree)", cur, d[t], t);
                d[t] = (int16_t)cur; /* the jump keeps the top */
                cur -= 1;            /* fall-through pops it */
            } else if (op == OP_RET) {
                if (cur != 1) CODE_FAIL("RET at %u with stack depth %d, not 1", pc, cur);
                cur = -1;
            } else {
                cur = cur - oi->pops + oi->pushes;
            }
            if (cur > (int)maxd) maxd = (uint32_t)cur;
            if (maxd > PROMO_VM_STACK_MAX)
                CODE_FAIL("stack depth exceeds %d at %u", PROMO_VM_STACK_MAX, pc);
        }
        if (INSN_OP(code[k->len - 1]) != OP_RET) CODE_FAIL("does not end with RET");
        if (maxd > k->max_stack)
            CODE_FAIL("stack reaches %u, max_stack says %u", maxd, k->max_stack);
        if (k->max_stack > b->max_stack) b->max_stack = k->max_stack;
#undef CODE_FAIL
    }
    return PROMO_OK;
}

static int bundle_pct_ok(int64_t p) {
    return p >= 0 && p <= 100000;
}

static promo_status bundle_check_rewards(vctx *v) {
    promo_bundle *b = v->b;
    for (uint32_t i = 0; i < b->nsteps; i++) {
        const pb_step *s = &b->steps[i];
        if (!bundle_pct_ok(s->pct))
            return bundle_fail(v, "section STEPS: step %u: percent out of range", i);
        if (!bundle_cond_ok(b, s->cond))
            return bundle_fail(v, "section STEPS: step %u: %u is not a COND block", i, s->cond);
    }
    for (uint32_t i = 0; i < b->nhist; i++) {
        if (!bundle_pred_ok(b, b->hist[i].pred))
            return bundle_fail(v, "section HIST: slot %u: %u is not a PRED block", i,
                               b->hist[i].pred);
        if (b->hist[i].kind > 1)
            return bundle_fail(v, "section HIST: slot %u: unknown kind %u", i, b->hist[i].kind);
    }
    for (uint32_t i = 0; i < b->nrewards; i++) {
        const pb_reward *r = &b->rewards[i];
#define RW_FAIL(what) return bundle_fail(v, "section REWARDS: reward %u: %s", i, what)
        if (r->kind >= REWARD_COUNT) RW_FAIL("unknown kind");
        if (r->level > PB_LEVEL_RECEIPT) RW_FAIL("unknown level");
        if (!bundle_pred_ok(b, r->pred)) RW_FAIL("target is not a PRED block");
        if (!bundle_str_ok(b, r->str, 1)) RW_FAIL("string out of range");
        if (!bundle_range_ok(r->steps_off, r->steps_cnt, b->nsteps)) RW_FAIL("steps out of range");
        if (r->activate_days < -1 || r->expire_days < -1 || r->activate_days > PB_MAX_DAYS ||
            r->expire_days > PB_MAX_DAYS)
            RW_FAIL("bad activate/expire days");
        int ok = 1;
        switch (r->kind) {
        case REWARD_DISCOUNT_PCT: ok = r->a > 0 && r->a <= 100000; break;
        case REWARD_DISCOUNT_EACH:
        case REWARD_DISCOUNT_AMOUNT:
        case REWARD_PRICE:
        case REWARD_POINTS_FIXED: ok = r->a >= 0; break;
        case REWARD_POINTS_PCT: ok = bundle_pct_ok(r->a); break;
        case REWARD_BUY_FREE: ok = r->n >= 1 && r->m >= 1 && r->a == r->n && r->b == r->m; break;
        case REWARD_BUY_PCT:
            ok = r->n >= 1 && r->m >= 1 && r->a == r->n && bundle_pct_ok(r->b);
            break;
        case REWARD_BUNDLE: ok = r->n >= 1 && r->a == r->n && r->b >= 0; break;
        case REWARD_COUPON:
        case REWARD_MESSAGE: ok = r->str != PB_NONE; break;
        case REWARD_SPEND_LIMIT: ok = r->steps_cnt >= 1; break;
        }
        if (!ok) RW_FAIL("parameters out of range for its kind");
#undef RW_FAIL
    }
    return PROMO_OK;
}

static promo_status bundle_check_campaigns(vctx *v) {
    promo_bundle *b = v->b;
    for (uint32_t i = 0; i < b->ngroups; i++)
        if (!bundle_str_ok(b, b->groups[i], 0))
            return bundle_fail(v, "section GROUPS: group %u: name out of range", i);
    for (uint32_t i = 0; i < b->naccept; i++)
        if (b->accept[i] >= b->ngroups)
            return bundle_fail(v, "section ACCEPT: entry %u: group %u out of range", i,
                               b->accept[i]);
    for (uint32_t i = 0; i < b->nhours; i++)
        if (b->hours[i] > 86400)
            return bundle_fail(v, "section HOURS: value %u: %u seconds is past 24:00", i,
                               b->hours[i]);
    for (uint32_t i = 0; i < b->ncampaigns; i++) {
        const pb_campaign *c = &b->campaigns[i];
#define CP_FAIL(what) return bundle_fail(v, "section CAMPAIGNS: campaign %u: %s", i, what)
        if (!bundle_str_ok(b, c->id, 0)) CP_FAIL("id out of range");
        if (!bundle_str_ok(b, c->title, 1)) CP_FAIL("title out of range");
        if (!bundle_str_ok(b, c->src_file, 1)) CP_FAIL("source file out of range");
        if (c->flags & ~(uint32_t)(PBC_STOP | PBC_BUDGET_PARTIAL)) CP_FAIL("unknown flags");
        if (c->budget < -1) CP_FAIL("negative budget");
        if (c->group >= b->ngroups) CP_FAIL("group out of range");
        if (c->accept_mode > PB_ACCEPT_LIST) CP_FAIL("unknown combine mode");
        if (!bundle_range_ok(c->accept_off, c->accept_cnt, b->naccept))
            CP_FAIL("accept list out of range");
        if (!bundle_range_ok(c->hours_off, c->hours_cnt, b->nhours / 2))
            CP_FAIL("hour windows out of range");
        if (c->weekday_mask > 0x7F) CP_FAIL("bad weekday mask");
        if (c->channel_mask > 3) CP_FAIL("bad channel mask");
        if (!bundle_set_ok(b, c->stores_set, 1) || !bundle_set_ok(b, c->regions_set, 1) ||
            !bundle_set_ok(b, c->card_set, 1) || !bundle_set_ok(b, c->segment_set, 1) ||
            !bundle_set_ok(b, c->code_set, 1))
            CP_FAIL("prefilter set out of range");
        uint32_t sets[5] = {c->stores_set, c->regions_set, c->card_set, c->segment_set,
                            c->code_set};
        for (int k = 0; k < 5; k++)
            if (sets[k] != PB_NONE && b->sets[sets[k]].kind != PB_SET_STRING)
                CP_FAIL("prefilter set is not a string set");
        if (!bundle_cond_ok(b, c->cond_block)) CP_FAIL("condition is not a COND block");
        if (!bundle_range_ok(c->reward_off, c->reward_cnt, b->nrewards))
            CP_FAIL("rewards out of range");
        if (c->limit_period > PERIOD_MONTH) CP_FAIL("unknown limit period");
#undef CP_FAIL
    }
    return PROMO_OK;
}

static promo_status bundle_verify(vctx *v) {
    promo_status st = bundle_check_header(v);
    if (st) return st;
    const pb_section *sec[PBS__COUNT] = {0};
    if ((st = bundle_check_sections(v, sec))) return st;
    if ((st = bundle_check_strings(v, sec[PBS_STRINGS]))) return st;
    if ((st = bundle_check_consts_sets(v))) return st;
    if ((st = bundle_check_blocks(v))) return st;
    int16_t *depth = pa_malloc(&v->b->alloc, (size_t)v->b->ncode * sizeof *depth + 1);
    if (!depth) {
        if (v->err && v->errlen) snprintf(v->err, v->errlen, "bundle: out of memory");
        return PROMO_ENOMEM;
    }
    st = bundle_check_code(v, depth);
    pa_free(&v->b->alloc, depth);
    if (st) return st;
    if ((st = bundle_check_rewards(v))) return st;
    return bundle_check_campaigns(v);
}

/* ------------------------------------------------------------ public API ---- */

promo_status bundle_load_owned_with(unsigned char *mem, size_t size, const promo_allocator *a,
                                    promo_bundle **out, char *errbuf, size_t errlen) {
    a = pa_or_default(a);
    if (out) *out = NULL;
    if (errbuf && errlen) errbuf[0] = 0;
    if (!out) {
        pa_free(a, mem);
        return PROMO_EARG;
    }
    promo_bundle *b = pa_calloc(a, 1, sizeof *b);
    if (!b) {
        pa_free(a, mem);
        if (errbuf && errlen) snprintf(errbuf, errlen, "bundle: out of memory");
        return PROMO_ENOMEM;
    }
    b->alloc = *a;
    b->mem = mem;
    b->size = size;
    vctx v = {b, errbuf, errlen};
    promo_status st = mem ? bundle_verify(&v) : PROMO_EARG;
    if (st != PROMO_OK) {
        pa_free(a, mem);
        pa_free(a, b);
        return st;
    }
    /* Derived once, read-only afterwards: the hash of every pooled string, so the VM
     * never hashes an operand string per receipt. */
    uint64_t *sh = pa_malloc(a, (b->nstrings ? b->nstrings : 1) * sizeof *sh);
    if (!sh) {
        pa_free(a, mem);
        pa_free(a, b);
        if (errbuf && errlen) snprintf(errbuf, errlen, "bundle: out of memory");
        return PROMO_ENOMEM;
    }
    for (uint32_t i = 0; i < b->nstrings; i++)
        sh[i] = promo_hash(bundle_str(b, i), bundle_strlen(b, i));
    b->str_hash = sh;
    snprintf(b->label, sizeof b->label, "pbc%u:%016llx:%uc", (unsigned)b->hdr->format,
             (unsigned long long)b->hdr->checksum, (unsigned)b->ncampaigns);
    atomic_init(&b->refs, 1);
    *out = b;
    return PROMO_OK;
}

promo_status bundle_load_owned(unsigned char *mem, size_t size, promo_bundle **out, char *errbuf,
                               size_t errlen) {
    return bundle_load_owned_with(mem, size, NULL, out, errbuf, errlen);
}

promo_status promo_bundle_load_memory_with(const void *data, size_t len,
                                           const promo_allocator *alloc, promo_bundle **out,
                                           char *errbuf, size_t errlen) {
    if (out) *out = NULL;
    if (errbuf && errlen) errbuf[0] = 0;
    if ((!data && len) || !out) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "bundle: %s is NULL", out ? "data" : "the output handle");
        return PROMO_EARG;
    }
    unsigned char *mem = pa_malloc(alloc, len ? len : 1);
    if (!mem) {
        if (errbuf && errlen) snprintf(errbuf, errlen, "bundle: out of memory");
        return PROMO_ENOMEM;
    }
    if (len) memcpy(mem, data, len);
    return bundle_load_owned_with(mem, len, alloc, out, errbuf, errlen);
}

promo_status promo_bundle_load_memory(const void *data, size_t len, promo_bundle **out,
                                      char *errbuf, size_t errlen) {
    return promo_bundle_load_memory_with(data, len, NULL, out, errbuf, errlen);
}

promo_status promo_bundle_load_file_with(const char *path, const promo_allocator *alloc,
                                         promo_bundle **out, char *errbuf, size_t errlen) {
    if (out) *out = NULL;
    if (errbuf && errlen) errbuf[0] = 0;
    if (!path || !out) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "bundle: %s is NULL", path ? "the output handle" : "path");
        return PROMO_EARG;
    }
    char *mem;
    size_t len;
    const promo_allocator *a = pa_or_default(alloc);
    rf_alloc ra = {a->realloc, a->free, a->ud};
    int err = rf_read_with(&ra, path, PROMO_MAX_BUNDLE_BYTES, &mem, &len);
    if (err) {
        char why[64];
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "%s: %s", path,
                     err == ENOMEM ? "out of memory"
                                   : rf_strerror(err, PROMO_MAX_BUNDLE_BYTES, why, sizeof why));
        return err == ENOMEM ? PROMO_ENOMEM : PROMO_EIO;
    }
    return bundle_load_owned_with((unsigned char *)mem, len, alloc, out, errbuf, errlen);
}

promo_status promo_bundle_load_file(const char *path, promo_bundle **out, char *errbuf,
                                    size_t errlen) {
    return promo_bundle_load_file_with(path, NULL, out, errbuf, errlen);
}

void promo_bundle_retain(promo_bundle *b) {
    if (b) atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

void promo_bundle_release(promo_bundle *b) {
    if (!b) return;
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) {
        promo_allocator a = b->alloc;
        pa_free(&a, (void *)b->str_hash);
        pa_free(&a, b->mem);
        pa_free(&a, b);
    }
}

uint64_t promo_bundle_checksum(const promo_bundle *b) {
    return b ? b->hdr->checksum : 0;
}

int64_t promo_bundle_campaign_budget(const promo_bundle *b, uint32_t i) {
    return b && i < b->ncampaigns ? b->campaigns[i].budget : -1;
}

uint32_t promo_bundle_campaign_count(const promo_bundle *b) {
    return b ? b->ncampaigns : 0;
}

const char *promo_bundle_campaign_id(const promo_bundle *b, uint32_t i) {
    if (!b || i >= b->ncampaigns) return NULL;
    return bundle_str(b, b->campaigns[i].id);
}

const char *promo_bundle_string(const promo_bundle *b, uint32_t str_index) {
    if (!b || str_index >= b->nstrings) return NULL;
    return bundle_str(b, str_index);
}

const char *promo_bundle_label(const promo_bundle *b) {
    return b ? b->label : "";
}
