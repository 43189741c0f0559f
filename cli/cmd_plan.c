/*
 * cmd_plan.c — `promo plan OLD.pbc NEW.pbc receipts.jsonl`: what a change of the
 * campaign set would do on real receipts, before it ships (as `terraform plan`). Both
 * bundles replay the same stream, each from a fresh state (empty budgets and
 * per-customer limits), sequentially in input order, exactly as `promo run` would; the
 * report compares, per campaign id: receipts it applied to, discount, points and
 * budget used, old vs new and the delta; then the receipts that changed most, with
 * the campaigns whose outcome changed, and which campaign blocked which how often.
 * Text for people, JSON for CI (--format=json); --fail-over AMOUNT exits 1 when the
 * total discount or the total points move by more than AMOUNT.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "civil.h"
#include "cli.h"
#include "promo.h"
#include "report.h"
#include "result_json.h"
#include "strbuf.h"
#include "xalloc.h"

static const char plan_help[] =
    "usage: promo plan [options] OLD.pbc NEW.pbc receipts.jsonl\n"
    "\n"
    "Replays the receipts (a file, or '-' for stdin) with both bundles, each from a\n"
    "fresh state, and compares per campaign: receipts applied, discount, points and\n"
    "budget used (old -> new, delta); then the receipts that changed most and who\n"
    "blocked whom.\n"
    "\n"
    "options:\n"
    "  --format=text|json  the report (default text) on stdout\n"
    "  --top N             how many changed receipts to list (default 10)\n"
    "  --fail-over AMOUNT  exit 1 when the total discount or the total points change\n"
    "                      by more than AMOUNT (money, e.g. 10000 or 99.50)\n"
    "  -h, --help          this help\n"
    "\n"
    "exit status: 0 reported, 1 over --fail-over, 2 usage, I/O or bundle error\n";

#define PLAN_MAX_BLOCK_CAMPAIGNS 2048 /* the blocked-by matrix is n*n counters */

typedef struct plan_side {
    promo_bundle *bundle;
    promo_engine *eng;
    promo_ctx *ctx;
    report rep;
    uint32_t ncamp;
    uint32_t *blocks; /* [blocked * ncamp + by] counts, or NULL */
} plan_side;

typedef struct plan_receipt {
    char *id;
    int64_t disc[2], pts[2];
    int64_t key;   /* |delta discount| + |delta points| */
    char *changes; /* "a: applied -> blocked by b; ..." */
} plan_receipt;

typedef struct plan {
    plan_side side[2];
    plan_receipt *top;
    size_t ntop, maxtop;
    uint64_t changed;
} plan;

static int plan_open(plan_side *s, const char *path) {
    char err[256];
    promo_status st = promo_bundle_load_file(path, &s->bundle, err, sizeof err);
    if (st != PROMO_OK) {
        fprintf(stderr, "promo plan: %s: %s\n", path, err);
        return -1;
    }
    if (promo_engine_new(s->bundle, NULL, &s->eng) != PROMO_OK ||
        promo_ctx_new(s->eng, PROMO_CTX_EXPLAIN, &s->ctx) != PROMO_OK) {
        fprintf(stderr, "promo plan: cannot create an engine for %s\n", path);
        return -1;
    }
    s->ncamp = promo_bundle_campaign_count(s->bundle);
    if (s->ncamp && s->ncamp <= PLAN_MAX_BLOCK_CAMPAIGNS)
        s->blocks = xcalloc((size_t)s->ncamp * s->ncamp, sizeof *s->blocks);
    report_map(&s->rep, s->bundle);
    return 0;
}

static void plan_close(plan_side *s) {
    xfree(s->blocks);
    report_free(&s->rep);
    promo_ctx_free(s->ctx);
    promo_engine_free(s->eng);
    promo_bundle_release(s->bundle);
}

static const char *const plan_outcome[] = {
#define X(name, text) text,
    PROMO_OUTCOME_LIST(X)
#undef X
};

static int64_t plan_points(const promo_result *r) {
    int64_t p = 0;
    for (uint32_t i = 0; i < r->npoints; i++)
        p += r->points[i].points;
    return p;
}

/* Outcome of campaign `id` in r, as words ("applied", "blocked by x", "not in the
 * set"). */
static void plan_outcome_of(strbuf *b, const promo_result *r, const char *id) {
    for (uint32_t i = 0; i < r->nexplain; i++) {
        const promo_explain *x = &r->explain[i];
        if (strcmp(promo_bundle_campaign_id(r->bundle, x->campaign), id)) continue;
        sb_puts(b, x->outcome < PROMO__OUTCOME_COUNT ? plan_outcome[x->outcome] : "?");
        if (x->other != UINT32_MAX)
            sb_printf(b, " by %s", promo_bundle_campaign_id(r->bundle, x->other));
        if (x->part && x->outcome == PROMO_OUT_NOT_APPLICABLE) sb_printf(b, " (%s)", x->part);
        return;
    }
    sb_puts(b, "not in the set");
}

/* What campaign `id` gave in r: discount and points (kopecks). */
static void plan_money_of(const promo_result *r, const char *id, int64_t *disc, int64_t *pts) {
    *disc = *pts = 0;
    for (uint32_t i = 0; i < r->nby; i++)
        if (!strcmp(promo_bundle_campaign_id(r->bundle, r->by[i].campaign), id))
            *disc += r->by[i].amount;
    for (uint32_t i = 0; i < r->npoints; i++)
        if (!strcmp(promo_bundle_campaign_id(r->bundle, r->points[i].campaign), id))
            *pts += r->points[i].points;
}

/* "[; ][id: ]what OLD -> NEW" when the amounts differ; the id is written once. */
static void plan_money_change(strbuf *out, const char **sep, const char **id, const char *what,
                              int64_t a, int64_t b) {
    if (a == b) return;
    sb_printf(out, "%s%s%s%s ", *sep, *id ? *id : "", *id ? ": " : "", what);
    sb_money(out, a);
    sb_puts(out, " -> ");
    sb_money(out, b);
    *sep = ", ";
    *id = NULL;
}

/* One campaign's difference: its outcome, or what it gave, as words. */
static void plan_change_one(strbuf *out, const promo_result *o, const promo_result *n,
                            const char *id) {
    strbuf a = STRBUF_INIT, b = STRBUF_INIT;
    plan_outcome_of(&a, o, id);
    plan_outcome_of(&b, n, id);
    int64_t d0, d1, p0, p1;
    plan_money_of(o, id, &d0, &p0);
    plan_money_of(n, id, &d1, &p1);
    const char *sep = out->len ? "; " : "";
    if (strcmp(sb_cstr(&a), sb_cstr(&b))) {
        sb_printf(out, "%s%s: %s -> %s", sep, id, sb_cstr(&a), sb_cstr(&b));
        sep = ", ";
        id = NULL;
    }
    plan_money_change(out, &sep, &id, "discount", d0, d1);
    plan_money_change(out, &sep, &id, "points", p0, p1);
    sb_free(&a);
    sb_free(&b);
}

/* The campaigns whose outcome or amounts differ between the two results. */
static char *plan_changes(const promo_result *o, const promo_result *n) {
    strbuf out = STRBUF_INIT;
    for (int pass = 0; pass < 2; pass++) {
        const promo_result *r = pass ? n : o;
        for (uint32_t i = 0; i < r->nexplain; i++) {
            const char *id = promo_bundle_campaign_id(r->bundle, r->explain[i].campaign);
            if (pass) { /* ids only in the new bundle */
                int seen = 0;
                for (uint32_t k = 0; k < o->nexplain && !seen; k++)
                    seen = !strcmp(promo_bundle_campaign_id(o->bundle, o->explain[k].campaign), id);
                if (seen) continue;
            }
            plan_change_one(&out, o, n, id);
        }
    }
    return out.data ? out.data : xstrdup("");
}

/* Keeps the receipts with the largest change, largest first (ties: input order). */
static void plan_consider(plan *P, const promo_result *o, const promo_result *n) {
    int64_t dd = n->discount - o->discount, dp = plan_points(n) - plan_points(o);
    int64_t key = (dd < 0 ? -dd : dd) + (dp < 0 ? -dp : dp);
    if (key == 0) return; /* same money (outcomes may differ): not a change */
    P->changed++;
    if (P->maxtop == 0) return;
    if (P->ntop == P->maxtop && key <= P->top[P->ntop - 1].key) return;
    if (P->ntop == P->maxtop) {
        plan_receipt *last = &P->top[--P->ntop];
        xfree(last->id);
        xfree(last->changes);
    }
    size_t at = P->ntop;
    while (at > 0 && P->top[at - 1].key < key)
        at--;
    memmove(&P->top[at + 1], &P->top[at], (P->ntop - at) * sizeof *P->top);
    plan_receipt *t = &P->top[at];
    t->id = xmalloc(o->id.n + 1);
    memcpy(t->id, o->id.p ? o->id.p : "", o->id.n);
    t->id[o->id.n] = 0;
    t->disc[0] = o->discount;
    t->disc[1] = n->discount;
    t->pts[0] = plan_points(o);
    t->pts[1] = plan_points(n);
    t->key = key;
    t->changes = plan_changes(o, n);
    P->ntop++;
}

static void plan_count_blocks(plan_side *s, const promo_result *r) {
    if (!s->blocks) return;
    for (uint32_t i = 0; i < r->nexplain; i++) {
        const promo_explain *x = &r->explain[i];
        if (x->outcome == PROMO_OUT_BLOCKED && x->other < s->ncamp && x->campaign < s->ncamp)
            s->blocks[(size_t)x->campaign * s->ncamp + x->other]++;
    }
}

/* Count of `blocked` blocked by `by` on side s (ids; 0 when absent). */
static uint32_t plan_block_count(const plan_side *s, const char *blocked, const char *by) {
    if (!s->blocks) return 0;
    uint32_t a = UINT32_MAX, b = UINT32_MAX;
    for (uint32_t i = 0; i < s->ncamp; i++) {
        const char *id = promo_bundle_campaign_id(s->bundle, i);
        if (!strcmp(id, blocked)) a = i;
        if (!strcmp(id, by)) b = i;
    }
    return a == UINT32_MAX || b == UINT32_MAX ? 0 : s->blocks[(size_t)a * s->ncamp + b];
}

typedef struct plan_block {
    const char *blocked, *by;
    uint32_t n[2];
} plan_block;

static int plan_block_cmp(const void *x, const void *y) {
    const plan_block *a = x, *b = y;
    int64_t da = (int64_t)a->n[1] - a->n[0], db = (int64_t)b->n[1] - b->n[0];
    if (da < 0) da = -da;
    if (db < 0) db = -db;
    if (da != db) return da > db ? -1 : 1;
    int c = strcmp(a->blocked, b->blocked);
    return c ? c : strcmp(a->by, b->by);
}

/* Every (blocked, by) pair with a count on either side, the largest change first. */
static plan_block *plan_blocks(const plan *P, size_t *count) {
    size_t n = 0, cap = 16;
    plan_block *v = xmalloc(cap * sizeof *v);
    for (int s = 0; s < 2; s++) {
        const plan_side *S = &P->side[s];
        if (!S->blocks) continue;
        for (uint32_t a = 0; a < S->ncamp; a++)
            for (uint32_t b = 0; b < S->ncamp; b++) {
                if (!S->blocks[(size_t)a * S->ncamp + b]) continue;
                const char *ia = promo_bundle_campaign_id(S->bundle, a);
                const char *ib = promo_bundle_campaign_id(S->bundle, b);
                if (s == 1 && plan_block_count(&P->side[0], ia, ib)) continue; /* listed */
                if (n == cap) v = xrealloc(v, (cap *= 2) * sizeof *v);
                v[n].blocked = ia;
                v[n].by = ib;
                v[n].n[0] = plan_block_count(&P->side[0], ia, ib);
                v[n].n[1] = plan_block_count(&P->side[1], ia, ib);
                n++;
            }
    }
    qsort(v, n, sizeof *v, plan_block_cmp);
    *count = n;
    return v;
}

/* ------------------------------------------------------------------ output ---- */

static void plan_delta_text(FILE *f, int64_t o, int64_t n, int money) {
    if (money) {
        report_money(f, o);
        fputs(" -> ", f);
        report_money(f, n);
        fputs(" (", f);
        if (n - o > 0) fputc('+', f);
        report_money(f, n - o);
        fputc(')', f);
    } else {
        fprintf(f, "%" PRId64 " -> %" PRId64 " (%s%" PRId64 ")", o, n, n - o > 0 ? "+" : "", n - o);
    }
}

static void plan_json_delta(FILE *f, const char *key, int64_t o, int64_t n, int money) {
    fprintf(f, "\"%s\":{\"old\":", key);
    if (money) {
        report_money(f, o);
        fputs(",\"new\":", f);
        report_money(f, n);
        fputs(",\"delta\":", f);
        report_money(f, n - o);
    } else {
        fprintf(f, "%" PRId64 ",\"new\":%" PRId64 ",\"delta\":%" PRId64, o, n, n - o);
    }
    fputc('}', f);
}

static void plan_json_str(FILE *f, const char *s) {
    strbuf b = STRBUF_INIT;
    sb_json_str(&b, s, strlen(s));
    fwrite(b.data, 1, b.len, f);
    sb_free(&b);
}

static const report_row plan_zero = {NULL, 0, 0, 0, -1};

/* The ids of both sides: the new bundle's in its order, then those only in the old. */
static size_t plan_ids(const plan *P, const char ***ids) {
    const report *o = &P->side[0].rep, *n = &P->side[1].rep;
    const char **v = xmalloc((o->n + n->n + 1) * sizeof *v);
    size_t k = 0;
    for (size_t i = 0; i < n->n; i++)
        v[k++] = n->rows[i].id;
    for (size_t i = 0; i < o->n; i++)
        if (!report_find(n, o->rows[i].id)) v[k++] = o->rows[i].id;
    *ids = v;
    return k;
}

static void plan_print_text(const plan *P, FILE *f, const char *oldp, const char *newp) {
    const report *o = &P->side[0].rep, *n = &P->side[1].rep;
    fprintf(f, "promo plan: %" PRIu64 " receipts, %s -> %s\n", o->receipts, oldp, newp);
    if (o->errors) fprintf(f, "malformed lines (skipped): %" PRIu64 "\n", o->errors);
    fputs("\ntotal discount: ", f);
    plan_delta_text(f, o->discount, n->discount, 1);
    fputs("\ntotal points:   ", f);
    plan_delta_text(f, o->points, n->points, 1);
    fprintf(f,
            "\nreceipts that change: %" PRIu64
            "\n\nper campaign that changes (old -> new (delta)):\n",
            P->changed);
    const char **ids;
    size_t nids = plan_ids(P, &ids), unchanged = 0;
    for (size_t i = 0; i < nids; i++) {
        const report_row *a = report_find(o, ids[i]), *b = report_find(n, ids[i]);
        const char *tag = !a ? " (added)" : !b ? " (removed)" : "";
        if (!a) a = &plan_zero;
        if (!b) b = &plan_zero;
        if (a->receipts == b->receipts && a->discount == b->discount && a->points == b->points &&
            a->budget == b->budget && *tag == 0) {
            unchanged++;
            continue;
        }
        fprintf(f, "  %s%s\n    receipts ", ids[i], tag);
        plan_delta_text(f, (int64_t)a->receipts, (int64_t)b->receipts, 0);
        fputs("\n    discount ", f);
        plan_delta_text(f, a->discount, b->discount, 1);
        fputs("\n    points   ", f);
        plan_delta_text(f, a->points, b->points, 1);
        if (a->budget >= 0 || b->budget >= 0) {
            fputs("\n    budget used ", f);
            plan_delta_text(f, a->budget < 0 ? 0 : a->budget, b->budget < 0 ? 0 : b->budget, 1);
        }
        fputc('\n', f);
    }
    fprintf(f, "  (%zu campaign%s unchanged)\n", unchanged, unchanged == 1 ? "" : "s");
    xfree(ids);
    if (P->ntop) fputs("\nreceipts that change most:\n", f);
    for (size_t i = 0; i < P->ntop; i++) {
        const plan_receipt *t = &P->top[i];
        fprintf(f, "  %s: discount ", t->id);
        plan_delta_text(f, t->disc[0], t->disc[1], 1);
        fputs(", points ", f);
        plan_delta_text(f, t->pts[0], t->pts[1], 1);
        fprintf(f, "\n    %s\n", t->changes);
    }
    size_t nb;
    plan_block *bl = plan_blocks(P, &nb);
    int header = 0;
    for (size_t i = 0; i < nb && i < 20; i++) {
        if (bl[i].n[0] == bl[i].n[1]) continue;
        if (!header++) fputs("\nwho blocked whom (receipts, old -> new):\n", f);
        fprintf(f, "  %s blocked by %s: ", bl[i].blocked, bl[i].by);
        plan_delta_text(f, bl[i].n[0], bl[i].n[1], 0);
        fputc('\n', f);
    }
    xfree(bl);
}

static void plan_print_json(const plan *P, FILE *f) {
    const report *o = &P->side[0].rep, *n = &P->side[1].rep;
    fprintf(f,
            "{\"receipts\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"changed_receipts\":%" PRIu64
            ",\"total\":{",
            o->receipts, o->errors, P->changed);
    plan_json_delta(f, "discount", o->discount, n->discount, 1);
    fputc(',', f);
    plan_json_delta(f, "points", o->points, n->points, 1);
    fputs("},\"campaigns\":[", f);
    const char **ids;
    size_t nids = plan_ids(P, &ids);
    for (size_t i = 0; i < nids; i++) {
        const report_row *a = report_find(o, ids[i]), *b = report_find(n, ids[i]);
        fputs(i ? ",{\"id\":" : "{\"id\":", f);
        plan_json_str(f, ids[i]);
        fprintf(f, ",\"status\":\"%s\",", !a ? "added" : !b ? "removed" : "kept");
        if (!a) a = &plan_zero;
        if (!b) b = &plan_zero;
        plan_json_delta(f, "receipts", (int64_t)a->receipts, (int64_t)b->receipts, 0);
        fputc(',', f);
        plan_json_delta(f, "discount", a->discount, b->discount, 1);
        fputc(',', f);
        plan_json_delta(f, "points", a->points, b->points, 1);
        fputc(',', f);
        if (a->budget >= 0 || b->budget >= 0)
            plan_json_delta(f, "budget_used", a->budget < 0 ? 0 : a->budget,
                            b->budget < 0 ? 0 : b->budget, 1);
        else
            fputs("\"budget_used\":null", f);
        fputc('}', f);
    }
    xfree(ids);
    fputs("],\"top_receipts\":[", f);
    for (size_t i = 0; i < P->ntop; i++) {
        const plan_receipt *t = &P->top[i];
        fputs(i ? ",{\"id\":" : "{\"id\":", f);
        plan_json_str(f, t->id);
        fputc(',', f);
        plan_json_delta(f, "discount", t->disc[0], t->disc[1], 1);
        fputc(',', f);
        plan_json_delta(f, "points", t->pts[0], t->pts[1], 1);
        fputs(",\"changes\":", f);
        plan_json_str(f, t->changes);
        fputc('}', f);
    }
    fputs("],\"blocks\":[", f);
    size_t nb;
    plan_block *bl = plan_blocks(P, &nb);
    for (size_t i = 0; i < nb; i++) {
        fputs(i ? ",{\"campaign\":" : "{\"campaign\":", f);
        plan_json_str(f, bl[i].blocked);
        fputs(",\"by\":", f);
        plan_json_str(f, bl[i].by);
        fprintf(f, ",\"old\":%u,\"new\":%u}", bl[i].n[0], bl[i].n[1]);
    }
    xfree(bl);
    fputs("]}\n", f);
}

/* ------------------------------------------------------------------ command ---- */

static int plan_parse_money(const char *s, int64_t *out) {
    int64_t v = 0;
    int dec = -1;
    if (!*s) return -1;
    for (; *s; s++) {
        if (*s == '.' && dec < 0) {
            dec = 0;
            continue;
        }
        if (*s < '0' || *s > '9' || dec >= 2 || v > INT64_MAX / 100) return -1;
        v = v * 10 + (*s - '0');
        if (dec >= 0) dec++;
    }
    for (int d = dec < 0 ? 0 : dec; d < 2; d++)
        v *= 10;
    *out = v;
    return 0;
}

int cmd_plan(int argc, char **argv) {
    const char *paths[3];
    int npaths = 0, json = 0;
    long top = 10;
    int64_t fail_over = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(plan_help, stdout);
            return 0;
        } else if (!strcmp(a, "--format=json") || !strcmp(a, "--format=text")) {
            json = a[9] == 'j';
        } else if (!strcmp(a, "--top") && i + 1 < argc) {
            char *end;
            top = strtol(argv[++i], &end, 10);
            if (*end || top < 0 || top > 100000) {
                fprintf(stderr, "promo plan: --top takes a count\n");
                return 2;
            }
        } else if (!strcmp(a, "--fail-over") && i + 1 < argc) {
            if (plan_parse_money(argv[++i], &fail_over) != 0) {
                fprintf(stderr, "promo plan: --fail-over takes an amount (e.g. 10000 or 99.50)\n");
                return 2;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "promo plan: unknown option '%s'\ntry 'promo plan --help'\n", a);
            return 2;
        } else if (npaths < 3) {
            paths[npaths++] = a;
        } else {
            fprintf(stderr, "promo plan: too many arguments\n");
            return 2;
        }
    }
    if (npaths != 3) {
        fprintf(stderr, "promo plan: needs OLD.pbc NEW.pbc receipts.jsonl\n%s", plan_help);
        return 2;
    }
    plan P;
    memset(&P, 0, sizeof P);
    P.maxtop = (size_t)top;
    P.top = xcalloc(P.maxtop + 1, sizeof *P.top);
    int rc = 0;
    FILE *in = NULL;
    if (plan_open(&P.side[0], paths[0]) || plan_open(&P.side[1], paths[1])) {
        rc = 2;
    } else if (!(in = strcmp(paths[2], "-") ? fopen(paths[2], "rb") : stdin)) {
        fprintf(stderr, "promo plan: cannot open %s\n", paths[2]);
        rc = 2;
    }
    cli_jsonl rd = {in, NULL, NULL, 0, 0, 0};
    const char *buf;
    size_t len;
    while (rc == 0 && (buf = cli_jsonl_next(&rd, &len)) != NULL) {
        const promo_result *res[2] = {NULL, NULL};
        int bad = 0;
        for (int s = 0; s < 2 && !bad; s++) {
            const promo_receipt *r;
            promo_str id;
            if (promo_receipt_parse_json(P.side[s].ctx, buf, len, &r, &id) != PROMO_OK ||
                promo_process(P.side[s].ctx, r, &res[s]) != PROMO_OK)
                bad = 1;
        }
        if (bad) {
            P.side[0].rep.errors++;
            P.side[1].rep.errors++;
            continue;
        }
        for (int s = 0; s < 2; s++) {
            report_add(&P.side[s].rep, res[s]);
            plan_count_blocks(&P.side[s], res[s]);
        }
        plan_consider(&P, res[0], res[1]);
    }
    if (in && ferror(in)) {
        fprintf(stderr, "promo plan: cannot read %s\n", paths[2]);
        rc = 2;
    }
    if (in && in != stdin) fclose(in);
    cli_jsonl_free(&rd);
    if (rc == 0) {
        for (int s = 0; s < 2; s++)
            report_budgets(&P.side[s].rep, P.side[s].eng);
        if (json)
            plan_print_json(&P, stdout);
        else
            plan_print_text(&P, stdout, paths[0], paths[1]);
        if (fflush(stdout) != 0) rc = 2;
        int64_t dd = P.side[1].rep.discount - P.side[0].rep.discount;
        int64_t dp = P.side[1].rep.points - P.side[0].rep.points;
        if (rc == 0 && fail_over >= 0 &&
            ((dd < 0 ? -dd : dd) > fail_over || (dp < 0 ? -dp : dp) > fail_over)) {
            fprintf(stderr, "promo plan: the change exceeds --fail-over\n");
            rc = 1;
        }
    }
    for (size_t i = 0; i < P.ntop; i++) {
        xfree(P.top[i].id);
        xfree(P.top[i].changes);
    }
    xfree(P.top);
    plan_close(&P.side[0]);
    plan_close(&P.side[1]);
    return rc;
}
