/*
 * explain_text.c — explain_text(): the --explain outcomes of one result turned into
 * sentences. The runtime reports, per campaign, an outcome and for a false condition
 * the clause or the source text of the false part of `when`; this file adds what a
 * marketer needs to act on it: the campaign's title, the amounts it gave per line, the
 * actual values of the receipt facts the false part mentions ("total is 4991.82"), and
 * the real reason behind a refusal (no customer id for a per-customer limit, which
 * period's limit, how much budget is left).
 */
#include "explain_text.h"

#include <inttypes.h>
#include <string.h>

#include "bundle.h"
#include "civil.h"
#include "strbuf.h"

static const char *const xt_weekdays[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
static const char *const xt_payments[] = {"cash", "card", "credit", "bonus", "mixed"};

static void xt_str(strbuf *b, promo_str s) {
    if (s.p)
        sb_printf(b, "\"%.*s\"", (int)s.n, s.p);
    else
        sb_puts(b, "none");
}

/* The receipt's total when campaign k's turn came: amounts less what the campaigns
 * before it took off. */
static int64_t xt_total_at(const promo_result *res, uint32_t k) {
    int64_t t = res->total;
    for (uint32_t i = 0; i < res->nby; i++)
        if (res->by[i].campaign < k) t -= res->by[i].amount;
    return t;
}

/* Appends "name is value" for one fact word of a false part; 0 when not a fact. */
static int xt_fact(strbuf *b, const char *w, size_t n, const promo_result *res,
                   const promo_receipt *r, uint32_t k) {
#define IS(s) (n == sizeof(s) - 1 && !memcmp(w, s, n))
    const promo_customer *c = r->customer;
    char d[11];
    if (IS("total")) {
        sb_puts(b, "total is ");
        sb_money(b, xt_total_at(res, k));
    } else if (IS("original_total")) {
        sb_puts(b, "original_total is ");
        sb_money(b, res->total);
    } else if (IS("store")) {
        sb_puts(b, "store is ");
        xt_str(b, r->store);
    } else if (IS("region")) {
        sb_puts(b, "region is ");
        xt_str(b, r->region);
    } else if (IS("channel")) {
        sb_printf(b, "channel is %s", r->channel == PROMO_CHANNEL_ONLINE ? "online" : "pos");
    } else if (IS("payment")) {
        sb_printf(b, "payment is %s",
                  r->payment >= 0 && r->payment < 5 ? xt_payments[r->payment] : "?");
    } else if (IS("weekday")) {
        sb_printf(b, "weekday is %s", xt_weekdays[civil_weekday(r->date) % 7]);
    } else if (IS("date")) {
        civil_format(r->date, d);
        sb_printf(b, "date is %s", d);
    } else if (IS("time")) {
        sb_printf(b, "time is %02d:%02d", r->time / 3600, r->time / 60 % 60);
    } else if (IS("points_paid")) {
        sb_puts(b, "points_paid is ");
        sb_money(b, r->points_paid);
    } else if (IS("customer.tier")) {
        sb_puts(b, "customer.tier is ");
        xt_str(b, c ? c->tier : (promo_str){NULL, 0});
    } else if (IS("customer.card")) {
        sb_puts(b, "customer.card is ");
        xt_str(b, c ? c->card : (promo_str){NULL, 0});
    } else if (IS("customer.id")) {
        sb_puts(b, "customer.id is ");
        xt_str(b, c ? c->id : (promo_str){NULL, 0});
    } else if (IS("customer.registered")) {
        int reg = c && (c->registered > 0 || (c->registered < 0 && c->id.n > 0));
        sb_printf(b, "the customer is %sregistered", reg ? "" : "not ");
    } else {
        return 0;
    }
    return 1;
#undef IS
}

/* `attr "key"` at p: its value on the receipt (or the customer). */
static void xt_attr(strbuf *b, int *n, const char *p, const promo_kv *kv, uint32_t nkv) {
    while (*p == ' ')
        p++;
    if (*p != '"') return;
    const char *k = ++p;
    while (*p && *p != '"')
        p++;
    size_t kl = (size_t)(p - k);
    sb_puts(b, (*n)++ ? ", " : " (");
    sb_printf(b, "attr \"%.*s\" is ", (int)kl, k);
    for (uint32_t i = 0; i < nkv; i++)
        if (kv[i].key.n == kl && !memcmp(kv[i].key.p, k, kl)) {
            xt_str(b, kv[i].value);
            return;
        }
    sb_puts(b, "absent");
}

/* " (total is 4991.82, weekday is sat)" for the facts the false part mentions. */
static void xt_values(strbuf *b, const char *part, const promo_result *res, const promo_receipt *r,
                      uint32_t k) {
    const char *seen[16];
    size_t nseen = 0, lens[16];
    int n = 0;
    for (const char *p = part; *p;) {
        if (!((*p >= 'a' && *p <= 'z') || *p == '_')) {
            if (*p == '"')
                for (p++; *p && *p != '"'; p++)
                    if (*p == '\\' && p[1]) p++;
            if (*p) p++;
            continue;
        }
        const char *w = p;
        while ((*p >= 'a' && *p <= 'z') || *p == '_' || *p == '.' || (*p >= '0' && *p <= '9'))
            p++;
        size_t len = (size_t)(p - w);
        if ((len == 4 && !memcmp(w, "attr", 4)) || (len == 13 && !memcmp(w, "customer.attr", 13))) {
            xt_attr(b, &n, p,
                    len == 4      ? r->attrs
                    : r->customer ? r->customer->attrs
                                  : NULL,
                    len == 4      ? r->nattrs
                    : r->customer ? r->customer->nattrs
                                  : 0);
            continue;
        }
        int dup = 0;
        for (size_t i = 0; i < nseen && !dup; i++)
            dup = lens[i] == len && !memcmp(seen[i], w, len);
        if (dup || nseen == 16) continue;
        strbuf one = STRBUF_INIT;
        if (xt_fact(&one, w, len, res, r, k)) {
            sb_puts(b, n++ ? ", " : " (");
            sb_add(b, one.data, one.len);
            seen[nseen] = w;
            lens[nseen++] = len;
        }
        sb_free(&one);
    }
    if (n) sb_putc(b, ')');
}

static const char *xt_period(uint32_t p) {
    return p == PERIOD_DAY     ? " per day"
           : p == PERIOD_WEEK  ? " per week"
           : p == PERIOD_MONTH ? " per month"
                               : " (for good)";
}

static void xt_prefilter(strbuf *b, const char *part, const pb_campaign *pc,
                         const promo_receipt *r) {
    char d[11];
    if (!strcmp(part, "active")) {
        civil_format(r->date, d);
        sb_printf(b, "outside its dates (the receipt is of %s)", d);
    } else if (!strcmp(part, "days")) {
        sb_printf(b, "not on its days (the receipt is of a %s)",
                  xt_weekdays[civil_weekday(r->date) % 7]);
    } else if (!strcmp(part, "hours")) {
        sb_printf(b, "outside its hours (the receipt is at %02d:%02d)", r->time / 3600,
                  r->time / 60 % 60);
    } else if (!strcmp(part, "stores")) {
        sb_puts(b, "not in its stores (the receipt's store is ");
        xt_str(b, r->store);
        sb_putc(b, ')');
    } else if (!strcmp(part, "channel")) {
        sb_printf(b, "not on its channel (the receipt is %s)",
                  r->channel == PROMO_CHANNEL_ONLINE ? "online" : "pos");
    } else if (!strcmp(part, "card") || !strcmp(part, "segment")) {
        if (!r->customer)
            sb_printf(b, "no customer on the receipt (it needs a %s)", part);
        else if (!strcmp(part, "card")) {
            sb_puts(b, "not the customer's card (the card is ");
            xt_str(b, r->customer->card);
            sb_putc(b, ')');
        } else
            sb_puts(b, "the customer is in none of its segments");
    } else if (!strcmp(part, "code")) {
        sb_printf(b, "the receipt has none of its codes (%u code%s given)", r->ncodes,
                  r->ncodes == 1 ? "" : "s");
    } else {
        sb_printf(b, "condition false: %s", part);
    }
    (void)pc;
}

void explain_text(strbuf *out, const promo_result *res, const promo_receipt *r, promo_engine *eng) {
    const promo_bundle *b = res->bundle;
    int64_t pts = 0;
    for (uint32_t i = 0; i < res->npoints; i++)
        pts += res->points[i].points;
    sb_printf(out, "receipt %.*s: total ", (int)res->id.n, res->id.p ? res->id.p : "");
    sb_money(out, res->total);
    sb_puts(out, ", discount ");
    sb_money(out, res->discount);
    sb_puts(out, ", to pay ");
    sb_money(out, res->final);
    sb_puts(out, ", points ");
    sb_money(out, pts);
    sb_putc(out, '\n');
    for (uint32_t e = 0; e < res->nexplain; e++) {
        const promo_explain *x = &res->explain[e];
        uint32_t k = x->campaign;
        if (k >= b->ncampaigns) continue;
        const pb_campaign *pc = &b->campaigns[k];
        const char *id = bundle_str(b, pc->id);
        sb_printf(out, "  %s %s", x->outcome == PROMO_OUT_APPLIED ? "+" : "-", id);
        if (pc->title != PB_NONE) sb_printf(out, " \"%s\"", bundle_str(b, pc->title));
        sb_puts(out, ": ");
        const char *other =
            x->other < b->ncampaigns ? bundle_str(b, b->campaigns[x->other].id) : "?";
        switch (x->outcome) {
        case PROMO_OUT_APPLIED: {
            int64_t disc = 0, p = 0;
            for (uint32_t i = 0; i < res->nby; i++)
                if (res->by[i].campaign == k) disc += res->by[i].amount;
            for (uint32_t i = 0; i < res->npoints; i++)
                if (res->points[i].campaign == k) p += res->points[i].points;
            const char *sep = "";
            if (disc) {
                sb_puts(out, "discount ");
                sb_money(out, disc);
                sb_puts(out, " (");
                int first = 1;
                for (uint32_t l = 0; l < res->nlines && l < r->nlines; l++) {
                    const promo_line_result *lr = &res->lines[l];
                    for (uint32_t j = lr->by_off; j < lr->by_off + lr->by_cnt; j++) {
                        if (res->by[j].campaign != k) continue;
                        sb_printf(out, "%sline %u sku \"%.*s\" ", first ? "" : ", ", l,
                                  (int)r->lines[l].sku.n,
                                  r->lines[l].sku.p ? r->lines[l].sku.p : "");
                        sb_money(out, res->by[j].amount);
                        first = 0;
                    }
                }
                sb_putc(out, ')');
                sep = "; ";
            }
            if (p) {
                sb_printf(out, "%spoints ", sep);
                sb_money(out, p);
                sep = "; ";
            }
            for (uint32_t i = 0; i < res->ncoupons; i++)
                if (res->coupons[i].campaign == k) {
                    sb_printf(out, "%scoupon \"%s\"", sep, bundle_str(b, res->coupons[i].str));
                    sep = "; ";
                }
            for (uint32_t i = 0; i < res->nmessages; i++)
                if (res->messages[i].campaign == k) {
                    sb_printf(out, "%smessage \"%s\"", sep, bundle_str(b, res->messages[i].str));
                    sep = "; ";
                }
            if (!*sep) sb_puts(out, "applied (a spend limit)");
            break;
        }
        case PROMO_OUT_NOT_APPLICABLE: {
            const char *part = x->part ? x->part : "";
            static const char *const pre[] = {"active",  "days", "hours",   "stores",
                                              "channel", "card", "segment", "code"};
            int is_pre = 0;
            for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++)
                is_pre |= !strcmp(part, pre[i]);
            if (is_pre) {
                xt_prefilter(out, part, pc, r);
            } else {
                sb_printf(out, "condition false: %s", part);
                xt_values(out, part, res, r, k);
            }
            break;
        }
        case PROMO_OUT_NOTHING:
            sb_puts(out,
                    "its condition holds, but nothing on the receipt qualifies for its reward");
            break;
        case PROMO_OUT_BLOCKED: sb_printf(out, "blocked by %s (they do not combine)", other); break;
        case PROMO_OUT_STOPPED:
            sb_printf(out, "not evaluated: %s stops the campaigns after it", other);
            break;
        case PROMO_OUT_NO_CUSTOMER:
            sb_printf(out, "no customer id: its limit of %u per customer needs one",
                      pc->limit_customer);
            break;
        case PROMO_OUT_LIMIT:
            if (pc->limit_customer)
                sb_printf(out, "limit reached: %u per customer%s", pc->limit_customer,
                          xt_period(pc->limit_period));
            else
                sb_puts(out, "limit reached");
            break;
        case PROMO_OUT_BUDGET: {
            int64_t spent = eng ? promo_engine_budget_spent(eng, id) : -1;
            sb_puts(out, "budget exhausted: ");
            if (spent >= 0 && pc->budget >= 0) {
                sb_money(out, spent);
                sb_puts(out, " of ");
                sb_money(out, pc->budget);
                sb_puts(out, " used, ");
                sb_money(out, pc->budget - spent);
                sb_puts(out, " left");
            } else {
                sb_puts(out, "not enough left");
            }
            break;
        }
        default: sb_puts(out, "?");
        }
        sb_putc(out, '\n');
    }
}
