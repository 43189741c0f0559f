/*
 * lint.c — the lints of lint.h. Each reasons over the typed campaigns of sema (in
 * evaluation order) and is documented, with an example tested word for word, in
 * docs/diagnostics.md.
 */
#include "lint.h"

#include <string.h>

#include "bundle_format.h"
#include "compile.h"
#include "diag.h"
#include "sema.h"
#include "strbuf.h"

/* A campaign whose every receipt-level gate is open: it applies to every receipt
 * (its `when`, dates, days, hours, stores, channel, card, segment, code, per-customer
 * limit and budget absent). */
static int lint_always_applies(const sema_campaign *p) {
    return !p->when_expr && !p->active && !p->days && !p->hours && !p->stores && !p->channel &&
           !p->card && !p->segment && !p->code && !p->limit_customer && !p->budget;
}

static const ast_node *lint_reward(const sema_campaign *p, int op) {
    for (const ast_node *r = p->then ? p->then->a : NULL; r; r = r->next)
        if (r->op == op) return r;
    return NULL;
}

/* W005: `bundle N for X` with X below one rouble a unit: almost always "N for the price
 * of M" written as a price (`bundle 3 for 2` sells three items for 2.00). */
static void lint_bundle_price(compilation *c, const sema_campaign *p) {
    for (const ast_node *r = p->then ? p->then->a : NULL; r; r = r->next) {
        if (r->op != REWARD_BUNDLE || !r->a || r->ival <= 0) continue;
        int64_t price = r->a->value; /* kopecks */
        if (price >= (int64_t)r->ival * 100) continue;
        strbuf m = STRBUF_INIT;
        sb_money(&m, price);
        const char *lit = c->files[r->a->span.file].text + r->a->span.off;
        diag *d = diag_report(&c->diags, DIAG_W005, r->a->span,
                              "'bundle %lld for %.*s' sells %lld items for %s in total, less "
                              "than 1.00 each",
                              (long long)r->ival, (int)r->a->span.len, lit, (long long)r->ival,
                              sb_cstr(&m));
        if (price % 100 == 0 && price / 100 >= 1 && price / 100 < r->ival)
            diag_set_help(d, "for %lld at the price of %lld write 'buy %lld get %lld free'",
                          (long long)r->ival, (long long)(price / 100), (long long)(price / 100),
                          (long long)(r->ival - price / 100));
        sb_free(&m);
    }
}

/* The campaign's id after `campaign` (the whole campaign if not found). */
static src_span lint_name_span(const compilation *c, const sema_campaign *p) {
    src_span at = p->node->span;
    const char *t = c->files[at.file].text;
    size_t n = strlen(p->id);
    for (uint32_t o = at.off + 8; o + n <= at.off + at.len; o++) {
        if (memcmp(t + o, p->id, n) == 0) {
            at.col += o - at.off;
            at.off = o;
            at.len = (uint32_t)n;
            return at;
        }
    }
    return at;
}

/* Whether the spend_limit reward r always sets a limit (it has a catch-all step). */
static int lint_scale_total(const ast_node *r) {
    for (const ast_node *st = r->a; st; st = st->next)
        if (!st->b) return 1;
    return 0;
}

void lint_check(compilation *c) {
    const sema_result *sr = sema_get(c);
    if (!sr) return;
    const sema_campaign *always_limit = NULL; /* W006: the first that always sets one */
    for (size_t i = 0; i < sr->ncampaigns; i++) {
        const sema_campaign *p = &sr->campaigns[i];
        lint_bundle_price(c, p);
        const ast_node *sl = lint_reward(p, REWARD_SPEND_LIMIT);
        if (sl && always_limit) {
            diag *d = diag_report(&c->diags, DIAG_W006, sl->span,
                                  "the spend_limit of '%s' can never apply: '%s' comes first and "
                                  "always sets one (the first to apply wins)",
                                  p->id, always_limit->id);
            const ast_node *first = lint_reward(always_limit, REWARD_SPEND_LIMIT);
            diag_add_note(d, first->span, "'%s' sets it here", always_limit->id);
        } else if (sl && lint_always_applies(p) && lint_scale_total(sl)) {
            always_limit = p;
        }
        if (c->lint_examples) {
            int has = 0;
            for (const ast_node *cl = p->node->a; cl && !has; cl = cl->next)
                has = cl->kind == AST_C_EXAMPLE;
            if (!has) {
                src_span at = lint_name_span(c, p);
                diag *d =
                    diag_report(&c->diags, DIAG_W007, at, "campaign '%s' has no example", p->id);
                diag_set_help(d, "add an 'example \"...\" { line ...  expect ... }' block; "
                                 "'promo test' runs it");
            }
        }
    }
}
