/*
 * engine_int.h — the engine's and the context's internals (runtime stage "evaluation
 * API"), shared by engine.c and ops.c (the purchase protocol). Internal to libpromo.
 */
#ifndef PROMO_ENGINE_INT_H
#define PROMO_ENGINE_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "prefilter.h"
#include "promo.h"
#include "receipt_json.h"
#include "stacking.h"

typedef struct eng_gen {
    promo_bundle *b;
    pf_index *ix;         /* prefilter index of b, shared by every ctx */
    stk_budget **budgets; /* per campaign in evaluation order; NULL = no budget */
    struct eng_gen *next; /* retired list */
    uint64_t serial;      /* unique within the engine: keys its ctxs' per-bundle caches */
} eng_gen;

struct promo_engine {
    _Atomic(eng_gen *) cur;
    _Atomic uint64_t serial; /* last generation serial handed out (no global state) */
    pthread_mutex_t mu;
    promo_ctx **ctxs;
    size_t nctx, capctx;
    eng_gen *retired;
    stk_budget *budgets; /* every counter ever created; freed with the engine */
    promo_store store;
    int own_store;
    pthread_mutex_t cmu;   /* serializes commits (budget checks + the store write) */
    promo_allocator alloc; /* every allocation of the engine and its ctxs */
    /* Days of counters behind a receipt's date that a window of any bundle this engine
     * served can read (eng_window_days), plus ENG_LATE_DAYS. */
    _Atomic int32_t keep_days;
};

struct promo_ctx {
    promo_engine *e;
    _Atomic(eng_gen *) hazard;
    eng_gen *gen; /* generation of the last evaluation */
    unsigned flags;
    int can_commit;
    stk_eval s;
    rx_reader *rx;
    void *reader;                 /* the store's read handle of this ctx */
    struct ops_scratch *ops;      /* runtime/ops.c: operations, journal entries, records */
    struct ops_json_buf *opsjson; /* runtime/ops_json.c: the return lines of a parse */
    promo_budget_delta *bd;       /* commit: budget deltas */
    uint32_t cap_bd;
    char msg[256];
};

/* Days of per-customer state kept behind a receipt's date (pruning, SPEC 7.2): what
 * the windows of the bundles served can read plus ENG_LATE_DAYS (a receipt up to a year
 * late, or a year of receipts replayed in any order, still sees its whole window: the
 * results are those of no pruning at all); in a persistent or caller's store at least
 * ENG_KEEP_DAYS (a later bundle may read further back than the current one). */
#define ENG_KEEP_DAYS 400
/* The message of a write the in-memory store refused at its customer cap. */
#define ENG_FULL_MSG                                                                               \
    "state store: full (a new customer past the in-memory store's max_customers); nothing "        \
    "was committed"
#define ENG_LATE_DAYS 366

/* Commits the ctx's last evaluation with an optional journal entry (jkey.p NULL: none;
 * it must not exist yet). Budgets are checked and the store written under the commit
 * lock before any budget counter moves, so nothing is ever given back on a conflict. */
promo_status eng_commit(promo_ctx *c, promo_str jkey, const void *jdata, size_t jlen);
/* The engine's budget counter of a campaign hash, NULL when none (takes e->mu). */
stk_budget *eng_budget_find(promo_engine *e, uint64_t id_hash);
promo_status eng_err(promo_ctx *c, promo_status st, const char *msg);

#endif
