/*
 * disasm.c — the human-readable listing of a verified bundle (`promo disasm`, golden
 * tests): header, groups, every campaign in evaluation order with its prefilter,
 * rewards and the code of its blocks, then the history slots. Instruction names and
 * operand formats come from promo_opinfo_table; operands are shown with what they
 * refer to (`PUSH_K 3 ; "msk"`, `L_CAT_IN 0 ; {"dairy"}`). The output is stable: it
 * depends only on the bundle bytes. Part of the tools library (tools/), not of libpromo.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disasm.h"

#include "civil.h"

static void dis_quote(strbuf *o, const char *s) {
    sb_putc(o, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            sb_putc(o, '\\');
            sb_putc(o, (char)c);
        } else if (c == '\n') {
            sb_puts(o, "\\n");
        } else if (c == '\t') {
            sb_puts(o, "\\t");
        } else if (c < 0x20 || c == 0x7F) {
            sb_printf(o, "\\x%02x", c);
        } else {
            sb_putc(o, (char)c);
        }
    }
    sb_putc(o, '"');
}

/* A x1000 fixed-point value without trailing zeros: 2500 -> 2.5, 10000 -> 10. */
static void dis_milli(strbuf *o, int64_t v) {
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    sb_printf(o, "%s%llu", v < 0 ? "-" : "", (unsigned long long)(u / 1000));
    unsigned frac = (unsigned)(u % 1000);
    if (frac) {
        char d[4];
        snprintf(d, sizeof d, "%03u", frac);
        for (int i = 2; i > 0 && d[i] == '0'; i--)
            d[i] = 0;
        sb_printf(o, ".%s", d);
    }
}

static void dis_pct(strbuf *o, int64_t v) {
    dis_milli(o, v);
    sb_putc(o, '%');
}

static void dis_date(strbuf *o, int32_t d) {
    /* civil_format covers years 1..9999; a stranger value is shown as a day number. */
    if (d < -719162 || d > 2932896) {
        sb_printf(o, "day %d", (int)d);
        return;
    }
    char buf[11];
    civil_format(d, buf);
    sb_puts(o, buf);
}

static void dis_time(strbuf *o, int64_t s) {
    sb_printf(o, "%02lld:%02lld", (long long)(s / 3600), (long long)(s / 60 % 60));
    if (s % 60) sb_printf(o, ":%02lld", (long long)(s % 60));
}

static void dis_const(strbuf *o, const promo_bundle *b, uint32_t i) {
    const pb_const *k = &b->consts[i];
    if (k->str != PB_NONE) {
        dis_quote(o, bundle_str(b, k->str));
        return;
    }
    switch (k->type) {
    case PB_CONST_MONEY: sb_money(o, k->value); break;
    case PB_CONST_NUMBER:
    case PB_CONST_UNTYPED: dis_milli(o, k->value); break;
    case PB_CONST_PERCENT: dis_pct(o, k->value); break;
    case PB_CONST_DATE: dis_date(o, (int32_t)k->value); break;
    case PB_CONST_TIME: dis_time(o, k->value); break;
    default: sb_printf(o, "%lld", (long long)k->value);
    }
}

static void dis_set(strbuf *o, const promo_bundle *b, uint32_t s) {
    const pb_set *st = &b->sets[s];
    sb_putc(o, '{');
    for (uint32_t i = 0; i < st->nitems; i++) {
        if (i) sb_puts(o, ", ");
        const char *txt = bundle_str(b, b->setitems[st->items_off + i]);
        if (st->kind == PB_SET_NUMBER)
            sb_puts(o, txt);
        else
            dis_quote(o, txt);
    }
    sb_putc(o, '}');
}

static void dis_pred(strbuf *o, uint32_t p) {
    if (p == PRED_ALL_LINES)
        sb_puts(o, "all lines");
    else
        sb_printf(o, "block %u", p);
}

static void dis_block(strbuf *o, const promo_bundle *b, uint32_t bi) {
    const pb_block *k = &b->blocks[bi];
    sb_printf(o, "  block %u: %s, %u instructions, max stack %u\n", bi,
              k->kind == PB_BLOCK_COND ? "COND" : "PRED", k->len, k->max_stack);
    strbuf line = STRBUF_INIT;
    for (uint32_t pc = 0; pc < k->len; pc++) {
        promo_insn in = b->code[k->start + pc];
        promo_opcode op = INSN_OP(in);
        const promo_opinfo *oi = &promo_opinfo_table[op];
        uint32_t a = INSN_A(in);
        line.len = 0;
        sb_printf(&line, "    %04u  %-14s", pc, oi->name);
        switch (oi->operand) {
        case OPK_NONE: break;
        case OPK_IMM: sb_printf(&line, " %d", (int)INSN_SA(in)); break;
        case OPK_CONST:
            sb_printf(&line, " %-6u ; ", a);
            dis_const(&line, b, a);
            break;
        case OPK_STR:
        case OPK_PART:
            sb_printf(&line, " %-6u ; ", a);
            dis_quote(&line, bundle_str(b, a));
            break;
        case OPK_SET:
            sb_printf(&line, " %-6u ; ", a);
            dis_set(&line, b, a);
            break;
        case OPK_PRED:
            if (a == PRED_ALL_LINES) {
                sb_puts(&line, " all");
            } else {
                sb_printf(&line, " %-6u ; ", a);
                dis_pred(&line, a);
            }
            break;
        case OPK_HIST:
            sb_printf(&line, " %-6u ; %s of ", a, b->hist[a].kind ? "count" : "sum");
            dis_pred(&line, b->hist[a].pred);
            break;
        case OPK_JUMP: sb_printf(&line, " +%-5u ; -> %04u", a, pc + 1 + a); break;
        }
        while (line.len && line.data[line.len - 1] == ' ')
            line.len--;
        sb_add(o, line.data, line.len);
        sb_putc(o, '\n');
    }
    sb_free(&line);
}

static const char *const reward_names[REWARD_COUNT] = {
#define X(name, doc) #name,
    REWARD_LIST(X)
#undef X
};

static void dis_reward(strbuf *o, const promo_bundle *b, uint32_t ri, uint32_t n) {
    const pb_reward *r = &b->rewards[ri];
    sb_printf(o, "  reward %u: %s ", n, reward_names[r->kind]);
    switch (r->kind) {
    case REWARD_DISCOUNT_PCT: dis_pct(o, r->a); break;
    case REWARD_DISCOUNT_EACH:
        sb_money(o, r->a);
        sb_puts(o, " each");
        break;
    case REWARD_DISCOUNT_AMOUNT:
    case REWARD_PRICE:
    case REWARD_POINTS_FIXED: sb_money(o, r->a); break;
    case REWARD_BUY_FREE: sb_printf(o, "buy %u get %u free", r->n, r->m); break;
    case REWARD_BUY_PCT:
        sb_printf(o, "buy %u get %u at ", r->n, r->m);
        dis_pct(o, r->b);
        sb_puts(o, " off");
        break;
    case REWARD_BUNDLE:
        sb_printf(o, "%u for ", r->n);
        sb_money(o, r->b);
        break;
    case REWARD_POINTS_PCT:
        dis_pct(o, r->a);
        sb_puts(o, " of paid");
        break;
    case REWARD_COUPON:
    case REWARD_MESSAGE: dis_quote(o, bundle_str(b, r->str)); break;
    case REWARD_SPEND_LIMIT: sb_printf(o, "%u steps", r->steps_cnt); break;
    }
    sb_printf(o, " [%s", r->level == PB_LEVEL_RECEIPT ? "receipt" : "lines");
    if (r->kind != REWARD_COUPON && r->kind != REWARD_MESSAGE && r->kind != REWARD_SPEND_LIMIT &&
        r->kind != REWARD_POINTS_FIXED) {
        sb_puts(o, ": ");
        dis_pred(o, r->pred);
    }
    sb_putc(o, ']');
    if (r->activate_days >= 0) sb_printf(o, " activate in %d days", r->activate_days);
    if (r->expire_days >= 0) sb_printf(o, " expire in %d days", r->expire_days);
    sb_putc(o, '\n');
    for (uint32_t i = 0; i < r->steps_cnt; i++) {
        const pb_step *s = &b->steps[r->steps_off + i];
        sb_puts(o, "    step ");
        dis_pct(o, s->pct);
        if (s->cond != PB_NONE) sb_printf(o, " if block %u", s->cond);
        sb_putc(o, '\n');
    }
}

/* Blocks of one campaign in order of first reference; a block shared with an earlier
 * campaign was listed there. */
typedef struct dis_list {
    uint32_t *v;
    uint32_t n;
    unsigned char *seen; /* by block, across campaigns */
} dis_list;

static void dis_ref(dis_list *l, uint32_t blk) {
    if (blk == PB_NONE || blk == PRED_ALL_LINES || l->seen[blk]) return;
    l->seen[blk] = 1;
    l->v[l->n++] = blk;
}

static void dis_campaign(strbuf *o, const promo_bundle *b, uint32_t ci, dis_list *l) {
    const pb_campaign *c = &b->campaigns[ci];
    static const char *const days[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    sb_printf(o, "\ncampaign %u: %s", ci, bundle_str(b, c->id));
    if (c->title != PB_NONE) {
        sb_putc(o, ' ');
        dis_quote(o, bundle_str(b, c->title));
    }
    sb_putc(o, '\n');
    if (c->src_file != PB_NONE) sb_printf(o, "  source   %s\n", bundle_str(b, c->src_file));
    sb_printf(o, "  id hash  %016llx\n", (unsigned long long)c->id_hash);
    sb_printf(o, "  priority %d\n", c->priority);
    sb_printf(o, "  group    %s\n", bundle_str(b, b->groups[c->group]));
    sb_puts(o, "  combine  ");
    if (c->accept_mode == PB_ACCEPT_ANY) sb_puts(o, "any");
    if (c->accept_mode == PB_ACCEPT_NONE) sb_puts(o, "none");
    if (c->accept_mode == PB_ACCEPT_LIST) {
        sb_puts(o, "with");
        for (uint32_t i = 0; i < c->accept_cnt; i++)
            sb_printf(o, "%s %s", i ? "," : "",
                      bundle_str(b, b->groups[b->accept[c->accept_off + i]]));
    }
    sb_putc(o, '\n');
    if (c->flags & PBC_STOP) sb_puts(o, "  stop\n");
    if (c->date_from != INT32_MIN || c->date_to != INT32_MAX) {
        sb_puts(o, "  active   ");
        dis_date(o, c->date_from);
        sb_puts(o, " .. ");
        dis_date(o, c->date_to);
        sb_putc(o, '\n');
    }
    if (c->weekday_mask != 0x7F) {
        sb_puts(o, "  days    ");
        for (int d = 0; d < 7; d++)
            if (c->weekday_mask & (1u << d)) sb_printf(o, " %s", days[d]);
        sb_putc(o, '\n');
    }
    for (uint32_t i = 0; i < c->hours_cnt; i++) {
        sb_puts(o, "  hours    ");
        dis_time(o, b->hours[2 * (c->hours_off + i)]);
        sb_puts(o, " .. ");
        dis_time(o, b->hours[2 * (c->hours_off + i) + 1]);
        sb_putc(o, '\n');
    }
    const struct {
        const char *name;
        uint32_t set;
    } sets[] = {{"stores", c->stores_set},
                {"regions", c->regions_set},
                {"card", c->card_set},
                {"segment", c->segment_set},
                {"code", c->code_set}};
    for (int i = 0; i < 5; i++) {
        if (sets[i].set == PB_NONE) continue;
        sb_printf(o, "  %-8s set %u ", sets[i].name, sets[i].set);
        dis_set(o, b, sets[i].set);
        sb_putc(o, '\n');
    }
    if (c->channel_mask != 3)
        sb_printf(o, "  channel %s%s\n", c->channel_mask & 1 ? " pos" : "",
                  c->channel_mask & 2 ? " online" : "");
    if (c->limit_receipt) sb_printf(o, "  limit    %u per receipt\n", c->limit_receipt);
    if (c->limit_customer) {
        static const char *const per[] = {"", " per day", " per week", " per month"};
        sb_printf(o, "  limit    %u per customer%s\n", c->limit_customer, per[c->limit_period]);
    }
    if (c->budget >= 0) {
        sb_puts(o, "  budget   ");
        sb_money(o, c->budget);
        sb_puts(o, c->flags & PBC_BUDGET_PARTIAL ? " partial\n" : "\n");
    }
    if (c->cond_block != PB_NONE) sb_printf(o, "  when     block %u\n", c->cond_block);
    for (uint32_t i = 0; i < c->reward_cnt; i++)
        dis_reward(o, b, c->reward_off + i, i);

    /* The blocks this campaign uses: its condition, reward targets, step conditions,
     * then (transitively) the predicates of aggregates and history slots. */
    l->n = 0;
    dis_ref(l, c->cond_block);
    for (uint32_t i = 0; i < c->reward_cnt; i++) {
        const pb_reward *r = &b->rewards[c->reward_off + i];
        dis_ref(l, r->pred);
        for (uint32_t s = 0; s < r->steps_cnt; s++)
            dis_ref(l, b->steps[r->steps_off + s].cond);
    }
    for (uint32_t i = 0; i < l->n; i++) {
        const pb_block *k = &b->blocks[l->v[i]];
        for (uint32_t pc = 0; pc < k->len; pc++) {
            promo_insn in = b->code[k->start + pc];
            uint8_t kind = promo_opinfo_table[INSN_OP(in)].operand;
            if (kind == OPK_PRED) dis_ref(l, INSN_A(in));
            if (kind == OPK_HIST) dis_ref(l, b->hist[INSN_A(in)].pred);
        }
    }
    for (uint32_t i = 0; i < l->n; i++)
        dis_block(o, b, l->v[i]);
}

void bundle_disasm(const promo_bundle *b, struct strbuf *o) {
    const pb_header *h = b->hdr;
    sb_printf(o, "promo bundle format %u, %llu bytes, checksum %016llx\n", h->format,
              (unsigned long long)h->file_size, (unsigned long long)h->checksum);
    if (h->flags & PBF_TIEBREAK_BENEFIT) sb_puts(o, "tiebreak benefit\n");
    sb_printf(o,
              "%u campaigns, %u groups, %u strings, %u constants, %u sets, %u blocks "
              "(%u instructions), %u history slots\n",
              b->ncampaigns, b->ngroups, b->nstrings, b->nconsts, b->nsets, b->nblocks, b->ncode,
              b->nhist);
    sb_puts(o, "\ngroups\n");
    for (uint32_t i = 0; i < b->ngroups; i++)
        sb_printf(o, "  %u: %s\n", i, bundle_str(b, b->groups[i]));

    dis_list l = {malloc((b->nblocks + 1) * sizeof(uint32_t)), 0, calloc(b->nblocks + 1, 1)};
    if (!l.v || !l.seen) {
        free(l.v);
        free(l.seen);
        sb_puts(o, "(out of memory)\n");
        return;
    }
    for (uint32_t i = 0; i < b->ncampaigns; i++)
        dis_campaign(o, b, i, &l);
    int header = 0;
    for (uint32_t i = 0; i < b->nblocks; i++) {
        if (l.seen[i]) continue;
        if (!header) sb_puts(o, "\nblocks used by no campaign\n");
        header = 1;
        dis_block(o, b, i);
    }
    free(l.v);
    free(l.seen);

    if (b->nhist) {
        sb_puts(o, "\nhistory slots\n");
        for (uint32_t i = 0; i < b->nhist; i++) {
            sb_printf(o, "  %u: %s of ", i, b->hist[i].kind ? "count" : "sum");
            dis_pred(o, b->hist[i].pred);
            sb_printf(o, ", key %016llx\n", (unsigned long long)b->hist[i].key);
        }
    }
}
