/*
 * engine.c — promo_engine and promo_ctx (runtime stage "evaluation API"): the current
 * bundle as an atomically swapped generation, budget counters that survive swaps,
 * per-thread contexts, eval / commit / process, and the JSON receipt glue.
 *
 * Readers are lock-free: a ctx publishes the generation it evaluates with in its
 * hazard pointer (and keeps it published until its next evaluation, because its
 * result points into that bundle). The swapper exchanges the current generation and
 * frees an old one only when no ctx publishes it; otherwise the old one waits on a
 * retired list, reclaimed at the next swap or at engine free. The engine mutex guards
 * only the swap path: the ctx registry, the retired list and the budget table.
 */
#include <stddef.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "bundle.h"
#include "engine_int.h"
#include "hash.h"
#include "ops.h"
#include "promo.h"
#include "receipt_json.h"
#include "stacking.h"
#include "store_mem.h"

/* Conflicts in a row after which promo_process gives up. */
#define ENG_MAX_RETRIES 1000

/* ----------------------------------------------------------- generations ---- */

static stk_budget *eng_budget(promo_engine *e, uint64_t id_hash) {
    for (stk_budget *c = e->budgets; c; c = c->next)
        if (c->id_hash == id_hash) return c;
    stk_budget *c = pa_calloc(&e->alloc, 1, sizeof *c);
    if (!c) return NULL;
    c->id_hash = id_hash;
    int64_t spent = 0; /* budgets are state of record: start from the store's value */
    if (e->store.ops->budget(e->store.self, id_hash, &spent) != PROMO_OK) {
        pa_free(&e->alloc, c);
        return NULL;
    }
    atomic_init(&c->spent, spent);
    c->next = e->budgets;
    e->budgets = c;
    return c;
}

stk_budget *eng_budget_find(promo_engine *e, uint64_t id_hash) {
    pthread_mutex_lock(&e->mu);
    stk_budget *c = e->budgets;
    while (c && c->id_hash != id_hash)
        c = c->next;
    pthread_mutex_unlock(&e->mu);
    return c;
}

static void eng_gen_free(promo_engine *e, eng_gen *g) {
    if (!g) return;
    pf_free(g->ix);
    promo_bundle_release(g->b);
    pa_free(&e->alloc, g->budgets);
    pa_free(&e->alloc, g);
}

/* The longest reach back of the bundle's windows, in days: history windows (the
 * immediate pushed right before each H_* instruction, as the compiler emits it; any
 * other form: PB_MAX_DAYS) and per-customer limit periods (a week 7, a month 31). */
static int32_t eng_window_days(const promo_bundle *b) {
    int32_t days = 1;
    for (uint32_t i = 0; i < b->ncampaigns; i++) {
        int32_t p = b->campaigns[i].limit_period == PERIOD_MONTH  ? 31
                    : b->campaigns[i].limit_period == PERIOD_WEEK ? 7
                                                                  : 1;
        if (b->campaigns[i].limit_customer && p > days) days = p;
    }
    for (uint32_t i = 0; i < b->ncode; i++) {
        promo_opcode op = INSN_OP(b->code[i]);
        if (op != OP_H_SUM && op != OP_H_COUNT && op != OP_H_VISITS) continue;
        int32_t w = PB_MAX_DAYS;
        if (i && INSN_OP(b->code[i - 1]) == OP_PUSH_I) {
            w = INSN_SA(b->code[i - 1]);
            if (w > PB_MAX_DAYS) w = PB_MAX_DAYS;
        }
        if (w > days) days = w;
    }
    return days;
}

/* Called with e->mu held. Takes `ix` (the prefilter index of b, built beforehand
 * without the lock: it takes a while and touches nothing shared) even on failure. */
static eng_gen *eng_gen_new(promo_engine *e, promo_bundle *b, pf_index *ix) {
    eng_gen *g = pa_calloc(&e->alloc, 1, sizeof *g);
    if (!g) {
        pf_free(ix);
        return NULL;
    }
    g->ix = ix;
    g->budgets = pa_calloc(&e->alloc, b->ncampaigns ? b->ncampaigns : 1, sizeof *g->budgets);
    if (!g->budgets) {
        pf_free(ix);
        pa_free(&e->alloc, g);
        return NULL;
    }
    for (uint32_t i = 0; i < b->ncampaigns; i++) {
        if (b->campaigns[i].budget < 0) continue;
        if (!(g->budgets[i] = eng_budget(e, b->campaigns[i].id_hash))) {
            pf_free(ix);
            pa_free(&e->alloc, g->budgets);
            pa_free(&e->alloc, g);
            return NULL;
        }
    }
    promo_bundle_retain(b);
    g->b = b;
    g->serial = atomic_fetch_add(&e->serial, 1) + 1;
    int32_t keep = eng_window_days(b) + ENG_LATE_DAYS;
    if (keep > atomic_load(&e->keep_days)) atomic_store(&e->keep_days, keep);
    return g;
}

/* Frees the retired generations no ctx publishes. Called with e->mu held. */
static void eng_reclaim(promo_engine *e) {
    eng_gen **pp = &e->retired;
    while (*pp) {
        eng_gen *g = *pp;
        int used = 0;
        for (size_t i = 0; i < e->nctx && !used; i++)
            used = atomic_load(&e->ctxs[i]->hazard) == g;
        if (used) {
            pp = &g->next;
        } else {
            *pp = g->next;
            eng_gen_free(e, g);
        }
    }
}

/* Publishes the current generation in the ctx hazard pointer and returns it. */
static eng_gen *eng_acquire(promo_ctx *c) {
    eng_gen *g = atomic_load(&c->e->cur);
    for (;;) {
        atomic_store(&c->hazard, g);
        eng_gen *again = atomic_load(&c->e->cur);
        if (again == g) return g;
        g = again;
    }
}

/* ----------------------------------------------------------------- engine ---- */

promo_status promo_engine_new(promo_bundle *bundle, const promo_engine_opts *opts,
                              promo_engine **out) {
    if (!out) return PROMO_EARG;
    *out = NULL;
    if (!bundle) return PROMO_EARG;
    /* opts->size: the first version is the whole struct as it is today. */
    if (opts && opts->size < sizeof(promo_engine_opts)) return PROMO_EARG;
    const promo_allocator *a = pa_or_default(opts ? &opts->alloc : NULL);
    promo_engine *e = pa_calloc(a, 1, sizeof *e);
    if (!e) return PROMO_ENOMEM;
    e->alloc = *a;
    pthread_mutex_init(&e->mu, NULL);
    pthread_mutex_init(&e->cmu, NULL);
    /* A store must give every operation: a NULL one would crash at first use. */
    const promo_store_ops *so = opts ? opts->store.ops : NULL;
    if (so && (so->size < offsetof(promo_store_ops, horizon) || !so->read || !so->journal ||
               !so->budget || !so->write || !so->sync || !so->reader_free || !so->destroy)) {
        pthread_mutex_destroy(&e->mu);
        pthread_mutex_destroy(&e->cmu);
        pa_free(&e->alloc, e);
        return PROMO_EARG;
    }
    if (opts && opts->store.ops) {
        e->store = opts->store;
        e->own_store = opts->own_store;
    } else {
        promo_status st = store_mem_new(&e->alloc, &e->store);
        if (st != PROMO_OK) {
            pthread_mutex_destroy(&e->mu);
            pthread_mutex_destroy(&e->cmu);
            pa_free(&e->alloc, e);
            return st;
        }
        e->own_store = 1;
    }
    /* The prefilter index: built once per generation, shared by every ctx. */
    pf_index *ix = NULL;
    eng_gen *g = NULL;
    if (pf_build(bundle, &e->alloc, &ix) == PROMO_OK) {
        pthread_mutex_lock(&e->mu);
        g = eng_gen_new(e, bundle, ix);
        pthread_mutex_unlock(&e->mu);
    }
    if (!g) {
        if (opts && opts->store.ops) e->own_store = 0; /* a failure leaves it the caller's */
        promo_engine_free(e);
        return PROMO_ENOMEM;
    }
    atomic_init(&e->cur, g);
    *out = e;
    return PROMO_OK;
}

promo_status promo_engine_swap(promo_engine *e, promo_bundle *bundle) {
    if (!e || !bundle) return PROMO_EARG;
    pf_index *ix = NULL;
    if (pf_build(bundle, &e->alloc, &ix) != PROMO_OK) return PROMO_ENOMEM;
    pthread_mutex_lock(&e->mu);
    eng_gen *g = eng_gen_new(e, bundle, ix);
    if (!g) {
        pthread_mutex_unlock(&e->mu);
        return PROMO_ENOMEM;
    }
    eng_gen *old = atomic_exchange(&e->cur, g);
    if (old) {
        old->next = e->retired;
        e->retired = old;
    }
    eng_reclaim(e);
    pthread_mutex_unlock(&e->mu);
    return PROMO_OK;
}

promo_bundle *promo_engine_bundle(promo_engine *e) {
    if (!e) return NULL;
    pthread_mutex_lock(&e->mu);
    eng_gen *g = atomic_load(&e->cur);
    promo_bundle *b = g ? g->b : NULL;
    if (b) promo_bundle_retain(b);
    pthread_mutex_unlock(&e->mu);
    return b;
}

int64_t promo_engine_budget_spent(promo_engine *e, const char *campaign_id) {
    if (!e || !campaign_id) return -1;
    uint64_t h = promo_hash(campaign_id, strlen(campaign_id));
    int64_t v = -1;
    pthread_mutex_lock(&e->mu);
    for (stk_budget *c = e->budgets; c; c = c->next)
        if (c->id_hash == h) v = atomic_load(&c->spent);
    pthread_mutex_unlock(&e->mu);
    return v;
}

void promo_engine_free(promo_engine *e) {
    if (!e) return;
    eng_gen_free(e, atomic_load(&e->cur));
    while (e->retired) {
        eng_gen *g = e->retired;
        e->retired = g->next;
        eng_gen_free(e, g);
    }
    while (e->budgets) {
        stk_budget *c = e->budgets;
        e->budgets = c->next;
        pa_free(&e->alloc, c);
    }
    if (e->own_store) promo_store_free(&e->store);
    pa_free(&e->alloc, e->ctxs);
    pthread_mutex_destroy(&e->mu);
    pthread_mutex_destroy(&e->cmu);
    promo_allocator a = e->alloc;
    pa_free(&a, e);
}

/* -------------------------------------------------------------------- ctx ---- */

promo_status promo_ctx_new(promo_engine *e, unsigned flags, promo_ctx **out) {
    if (!out) return PROMO_EARG;
    *out = NULL;
    if (!e) return PROMO_EARG;
    promo_ctx *c = pa_calloc(&e->alloc, 1, sizeof *c);
    if (!c) return PROMO_ENOMEM;
    c->e = e;
    c->flags = flags;
    atomic_init(&c->hazard, NULL);
    if (stk_init(&c->s, &e->alloc) != PROMO_OK) {
        pa_free(&e->alloc, c);
        return PROMO_ENOMEM;
    }
    pthread_mutex_lock(&e->mu);
    if (e->nctx == e->capctx) {
        size_t nc = e->capctx ? e->capctx * 2 : 8;
        promo_ctx **t = pa_realloc(&e->alloc, e->ctxs, nc * sizeof *t);
        if (!t) {
            pthread_mutex_unlock(&e->mu);
            stk_free(&c->s);
            pa_free(&e->alloc, c);
            return PROMO_ENOMEM;
        }
        e->ctxs = t;
        e->capctx = nc;
    }
    e->ctxs[e->nctx++] = c;
    pthread_mutex_unlock(&e->mu);
    *out = c;
    return PROMO_OK;
}

void promo_ctx_free(promo_ctx *c) {
    if (!c) return;
    promo_engine *e = c->e;
    pthread_mutex_lock(&e->mu);
    for (size_t i = 0; i < e->nctx; i++)
        if (e->ctxs[i] == c) {
            e->ctxs[i] = e->ctxs[--e->nctx];
            break;
        }
    atomic_store(&c->hazard, NULL);
    eng_reclaim(e);
    pthread_mutex_unlock(&e->mu);
    stk_free(&c->s);
    rx_free(c->rx);
    if (c->reader) e->store.ops->reader_free(e->store.self, c->reader);
    ops_free(c->ops);
    ops_json_free(c->opsjson);
    pa_free(&e->alloc, c->bd);
    pa_free(&e->alloc, c);
}

const char *promo_ctx_errmsg(const promo_ctx *c) {
    return c ? c->msg : "invalid argument";
}

static int stk_grow_bd(promo_ctx *c, uint32_t n) {
    if (n <= c->cap_bd) return 0;
    uint32_t nc = c->cap_bd ? c->cap_bd * 2 : 16;
    while (nc < n)
        nc *= 2;
    promo_budget_delta *p = pa_realloc(&c->e->alloc, c->bd, nc * sizeof *p);
    if (!p) return -1;
    c->bd = p;
    c->cap_bd = nc;
    return 0;
}

promo_status eng_err(promo_ctx *c, promo_status st, const char *msg) {
    snprintf(c->msg, sizeof c->msg, "%s", msg && *msg ? msg : promo_strerror(st));
    return st;
}

promo_status promo_eval(promo_ctx *c, const promo_receipt *r, const promo_result **out) {
    if (!c) return PROMO_EARG;
    if (out) *out = NULL;
    c->can_commit = 0;
    if (!r || !out) return eng_err(c, PROMO_EARG, "receipt and result must not be NULL");
    if (r->size < sizeof(promo_receipt))
        return eng_err(c, PROMO_EARG, "receipt size not set: start it with promo_receipt_init()");
    eng_gen *g = eng_acquire(c);
    c->gen = g;
    c->s.b = g->b;
    c->s.ix = g->ix;
    c->s.gen = g->serial;
    c->s.budgets = g->budgets;
    c->s.store = &c->e->store;
    c->s.reader = &c->reader;
    c->s.flags = c->flags;
    promo_status st = stk_evaluate(&c->s, r);
    if (st != PROMO_OK) return eng_err(c, st, c->s.msg);
    c->can_commit = 1;
    c->msg[0] = 0;
    *out = &c->s.res;
    return PROMO_OK;
}

/* The commit mutex is held for one store write (a few microseconds): a thread that finds
 * it taken spins briefly before it sleeps, so two committing threads do not pay a futex
 * sleep and wake-up (a system call each) on most commits. */
static void eng_cmu_lock(promo_engine *e) {
    for (int i = 0; i < 256; i++) {
        if (pthread_mutex_trylock(&e->cmu) == 0) return;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
    pthread_mutex_lock(&e->cmu);
}

promo_status eng_commit(promo_ctx *c, promo_str jkey, const void *jdata, size_t jlen) {
    stk_eval *s = &c->s;
    promo_engine *e = c->e;
    if (stk_grow_bd(c, s->nbudget_uses)) return eng_err(c, PROMO_ENOMEM, NULL);
    promo_store_write w = {0};
    if (s->has_customer_state) {
        w.customer = s->customer;
        w.expected = s->version;
        w.deltas = s->deltas;
        w.ndeltas = s->ndeltas;
        int32_t keep = atomic_load_explicit(&e->keep_days, memory_order_relaxed);
        if (keep < ENG_KEEP_DAYS && !store_mem_is(&e->store)) keep = ENG_KEEP_DAYS;
        for (uint32_t i = 0; i < s->ndeltas; i++)
            if (s->deltas[i].key == STK_VISITS_KEY && s->deltas[i].day > INT32_MIN + keep)
                w.prune_before = s->deltas[i].day - keep;
    }
    w.budgets = c->bd;
    w.nbudgets = s->nbudget_uses;
    w.jkey = jkey;
    w.jdata = jdata;
    w.jlen = jlen;
    w.jcreate = 1;
    eng_cmu_lock(e);
    /* Budgets: the decision the evaluation took must still hold (a full grant still
     * fits; a partial grant saw exactly this counter). Counters move only under cmu. */
    for (uint32_t i = 0; i < s->nbudget_uses; i++) {
        const stk_budget_use *u = &s->budget_uses[i];
        int64_t cur = atomic_load(&u->ctr->spent), remaining = u->cap - cur;
        int same = u->granted == u->want ? remaining >= u->want : cur == u->seen;
        if (!same) {
            pthread_mutex_unlock(&e->cmu);
            return eng_err(c, PROMO_ECONFLICT, "budget changed since evaluation");
        }
        c->bd[i] = (promo_budget_delta){u->ctr->id_hash, u->granted};
    }
    promo_status r = PROMO_OK;
    if (w.customer.p || w.nbudgets || w.jkey.p) r = e->store.ops->write(e->store.self, &w);
    if (r == PROMO_OK)
        for (uint32_t i = 0; i < s->nbudget_uses; i++)
            atomic_fetch_add(&s->budget_uses[i].ctr->spent, s->budget_uses[i].granted);
    pthread_mutex_unlock(&e->cmu);
    if (r == PROMO_ECONFLICT) return eng_err(c, r, "customer state changed since evaluation");
    if (r == PROMO_ELIMIT) return eng_err(c, r, ENG_FULL_MSG);
    if (r != PROMO_OK)
        return eng_err(c, r == PROMO_ENOMEM ? r : PROMO_ESTATE, "state store: write failed");
    c->can_commit = 0;
    return PROMO_OK;
}

promo_status promo_commit(promo_ctx *c) {
    if (!c) return PROMO_EARG;
    if (!c->can_commit) return eng_err(c, PROMO_EARG, "no evaluation to commit");
    return eng_commit(c, (promo_str){NULL, 0}, NULL, 0);
}

promo_status promo_process(promo_ctx *c, const promo_receipt *r, const promo_result **out) {
    if (!c) return PROMO_EARG;
    promo_status st = PROMO_ECONFLICT;
    for (int tries = 0; tries < ENG_MAX_RETRIES && st == PROMO_ECONFLICT; tries++) {
        st = promo_eval(c, r, out);
        if (st != PROMO_OK) return st;
        st = promo_commit(c);
    }
    return st;
}

promo_status promo_receipt_parse_json(promo_ctx *c, const char *line, size_t len,
                                      const promo_receipt **out, promo_str *out_id) {
    if (!c) return PROMO_EARG;
    if (out_id) *out_id = (promo_str){NULL, 0};
    if (!line || !out) return eng_err(c, PROMO_EARG, "line and receipt must not be NULL");
    if (!c->rx && !(c->rx = rx_new(&c->e->alloc))) return eng_err(c, PROMO_ENOMEM, NULL);
    c->msg[0] = 0;
    promo_status st = rx_parse(c->rx, line, len, out, out_id, c->msg, sizeof c->msg);
    if (st != PROMO_OK && !c->msg[0]) eng_err(c, st, NULL);
    return st;
}
