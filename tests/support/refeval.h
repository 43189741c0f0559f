/*
 * refeval.h — the reference evaluator (tests only): evaluates a checked compilation
 * directly on its AST, without bytecode, VM or stacking engine, so the differential
 * test can compare the real pipeline (codegen -> bundle -> VM -> stacking) with an
 * independent, deliberately naive reading of SPEC 3.2-3.5 and docs/semantics.md.
 *
 * Everything is recomputed from scratch: expressions are walked, strings compared as
 * strings, categories by the prefix rule. Per-customer state (limits, history) and
 * budgets are kept in plain lists across a sequence of receipts, like one engine fed
 * with promo_process.
 */
#ifndef PROMO_REFEVAL_H
#define PROMO_REFEVAL_H

#include <stddef.h>
#include <stdint.h>

#include "compile.h"
#include "promo.h"
#include "strbuf.h"

typedef struct ref_by {
    const char *campaign; /* campaign id (AST-owned) */
    int64_t amount;
} ref_by;

typedef struct ref_line {
    int64_t amount, discount, final;
    ref_by *by; /* evaluation order */
    uint32_t nby;
} ref_line;

typedef struct ref_points {
    const char *campaign;
    int64_t points;
    int32_t activate;
    int32_t expire; /* INT32_MIN: null */
} ref_points;

typedef struct ref_text {
    const char *campaign;
    const char *text;
} ref_text;

typedef struct ref_explain {
    const char *campaign;
    int outcome;       /* PROMO_OUT_* */
    const char *other; /* the stopping / first blocking campaign, else NULL */
} ref_explain;

typedef struct ref_result {
    int64_t total, discount, final;
    ref_line *lines;
    uint32_t nlines;
    ref_points *points;
    uint32_t npoints;
    ref_text *coupons;
    uint32_t ncoupons;
    ref_text *messages;
    uint32_t nmessages;
    int has_spend_limit;
    int64_t spend_limit;
    const char **applied; /* campaign ids in evaluation order */
    uint32_t napplied;
    const ref_explain *explain; /* every campaign reached, in evaluation order */
    uint32_t nexplain;
} ref_result;

typedef struct ref_eval ref_eval;

/* The compilation must have passed comp_check without errors and must outlive the
 * evaluator. Returns NULL when the set uses something the reference does not model. */
ref_eval *ref_new(const compilation *c);
void ref_free(ref_eval *e);

/* Alternative readings of points where the engine and the reference were seen to
 * differ (docs/dev/diff-findings.md): the engine's behaviour, for triage and to tell a
 * known difference from a new one. Never the default. */
enum {
    REF_ALT_PRICE_FROM_AMOUNT = 1u << 0,   /* F3: `price` = round(amount / qty) always */
    REF_ALT_ACTED_BEFORE_BUDGET = 1u << 1, /* F4: lines touched before a partial cut act */
    REF_ALT_UNIT_ORDER = 1u << 2,          /* F5: buy/bundle partial items in unit order */
    REF_ALT_EMPTY_RECEIPT_EARNS = 1u << 3, /* F8: campaigns apply to a receipt without lines */
    REF_ALT_MERGE_POINTS = 1u << 4,        /* F9: one points entry per campaign and dates */
    REF_ALT_RECEIPT_ACTS_BEFORE_BUDGET = 1u << 5, /* F10: receipt-level reward cut to 0 acts */
};
ref_eval *ref_new_alt(const compilation *c, unsigned alt);

/* Switches to another compilation of the same campaigns (promo_engine_swap): budgets,
 * limits and history are kept, keyed by campaign id. The old compilation must outlive
 * the last result computed with it. Returns 0 when the set is not modelled. */
int ref_swap(ref_eval *e, const compilation *c);

/* Evaluates the receipt and commits its state changes (limits, history, budgets), as
 * promo_process does. The result is owned by `e` and valid until the next call. */
const ref_result *ref_process(ref_eval *e, const promo_receipt *r);

/* SPEC-4 JSON of a reference result, written from SPEC 4 and docs/io.md independently
 * of runtime/result_json.c: failure reports, and the byte-for-byte comparison with
 * promo_result_to_json. */
void ref_result_json(const ref_result *res, const promo_receipt *r, strbuf *out);

#endif
