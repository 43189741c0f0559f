/*
 * report.c — per-campaign money tallies (report.h).
 */
#include "report.h"

#include <inttypes.h>
#include <string.h>

#include "result_json.h"
#include "xalloc.h"

void report_money(FILE *f, int64_t kopecks) {
    char b[24];
    size_t n = out_money(kopecks, b);
    fwrite(b, 1, n, f);
}

static size_t report_row_of(report *r, const char *id) {
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->rows[i].id, id)) return i;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        r->rows = xrealloc(r->rows, r->cap * sizeof *r->rows);
    }
    report_row *row = &r->rows[r->n];
    memset(row, 0, sizeof *row);
    row->id = xstrdup(id);
    row->budget = -1;
    return r->n++;
}

void report_map(report *r, const promo_bundle *b) {
    uint32_t n = promo_bundle_campaign_count(b);
    xfree(r->map);
    r->map = xcalloc(n ? n : 1, sizeof *r->map);
    for (uint32_t i = 0; i < n; i++)
        r->map[i] = (uint32_t)report_row_of(r, promo_bundle_campaign_id(b, i));
    r->mapped = b;
}

const report_row *report_find(const report *r, const char *id) {
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->rows[i].id, id)) return &r->rows[i];
    return NULL;
}

void report_add(report *r, const promo_result *res) {
    if (res->bundle != r->mapped) report_map(r, res->bundle);
    r->receipts++;
    r->discount += res->discount;
    for (uint32_t i = 0; i < res->napplied; i++)
        r->rows[r->map[res->applied[i]]].receipts++;
    for (uint32_t i = 0; i < res->nby; i++)
        r->rows[r->map[res->by[i].campaign]].discount += res->by[i].amount;
    for (uint32_t i = 0; i < res->npoints; i++) {
        r->rows[r->map[res->points[i].campaign]].points += res->points[i].points;
        r->points += res->points[i].points;
    }
}

void report_budgets(report *r, promo_engine *e) {
    for (size_t i = 0; i < r->n; i++)
        r->rows[i].budget = promo_engine_budget_spent(e, r->rows[i].id);
}

void report_print(const report *r, FILE *f) {
    fprintf(f, "%-32s %10s %14s %14s %14s\n", "campaign", "receipts", "discount", "points",
            "budget used");
    for (size_t i = 0; i < r->n; i++) {
        const report_row *w = &r->rows[i];
        char d[24], p[24], b[24] = "-";
        d[out_money(w->discount, d)] = 0;
        p[out_money(w->points, p)] = 0;
        if (w->budget >= 0) b[out_money(w->budget, b)] = 0;
        fprintf(f, "%-32s %10" PRIu64 " %14s %14s %14s\n", w->id, w->receipts, d, p, b);
    }
    char d[24], p[24];
    d[out_money(r->discount, d)] = 0;
    p[out_money(r->points, p)] = 0;
    fprintf(f, "%-32s %10" PRIu64 " %14s %14s\n", "total", r->receipts, d, p);
    if (r->errors) fprintf(f, "malformed lines: %" PRIu64 "\n", r->errors);
}

void report_free(report *r) {
    for (size_t i = 0; i < r->n; i++)
        xfree(r->rows[i].id);
    xfree(r->rows);
    xfree(r->map);
    memset(r, 0, sizeof *r);
}
