/*
 * report.h — what a bundle gave on a receipt stream, per campaign: receipts it applied
 * to, discount, points, budget used. Shared by `promo run --report` and `promo plan`
 * (which keeps one per bundle and compares them by campaign id).
 */
#ifndef PROMO_CLI_REPORT_H
#define PROMO_CLI_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "promo.h"

typedef struct report_row {
    char *id;
    uint64_t receipts; /* receipts it applied to */
    int64_t discount;  /* kopecks */
    int64_t points;    /* kopecks */
    int64_t budget;    /* budget used at the end, -1 when it has no budget */
} report_row;

typedef struct report {
    report_row *rows; /* every campaign of the bundles seen, in evaluation order */
    size_t n, cap;
    uint64_t receipts, errors;
    int64_t discount, points;
    const promo_bundle *mapped; /* bundle whose indices map[] translates */
    uint32_t *map;              /* bundle campaign index -> row */
} report;

/* Adds one result. */
void report_add(report *r, const promo_result *res);
/* Adds the campaigns of bundle b (rows with zeros for those not seen yet). */
void report_map(report *r, const promo_bundle *b);
/* Row of campaign `id`, or NULL. */
const report_row *report_find(const report *r, const char *id);
/* Reads the budget used by every campaign from the engine. */
void report_budgets(report *r, promo_engine *e);
/* The per-campaign money table, for people. */
void report_print(const report *r, FILE *f);
void report_free(report *r);

/* Money with two decimals ("1234.50", "-0.05"). */
void report_money(FILE *f, int64_t kopecks);

#endif
