/*
 * pstore.h — a partition's state of record on a node (docs/deploy.md, "State"): issue
 * 9's LMDB store in <state dir>/p<part>, wrapped so that every write the engine makes is
 * also serialized into the batch's write set, which is what the changelog carries.
 *
 *   batch      the engine writes into the store's overlay (group commit, nothing durable
 *              yet) and into the write set; the node appends the write set to the
 *              changelog (fenced), then ps_commit makes the overlay durable and records
 *              the changelog sequence it reflects ("node.seq" in the directory).
 *   refused    the append was fenced or its outcome is unknown: ps_close(0) drops the
 *              overlay, so the local store never holds a write the changelog lacks.
 *   takeover   the local store is the snapshot; the changelog after its sequence is
 *              replayed (ps_apply). Replay is idempotent: a write whose new journal key
 *              (the receipt id of a confirm, the refund record of a cancel / return) is
 *              already there is skipped, so a snapshot older than its marker is harmless.
 *
 * A write is serialized in the node's native byte order (the nodes of one deployment
 * run the same build).
 */
#ifndef PROMO_NODE_PSTORE_H
#define PROMO_NODE_PSTORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "escrow.h"
#include "promo.h"
#include "strbuf.h"

/* A campaign budget shared by every partition through the escrow (escrow.h): one slice
 * per node, which all of the node's partitions spend from (fewer holders: fewer grants
 * and fewer compare-and-set conflicts on the bucket). */
typedef struct ps_budget {
    uint64_t key; /* hash of the campaign id (the store's budget key) */
    int64_t cap;
    esc_budget esc;        /* the node's slice */
    pthread_mutex_t mu;    /* guards esc (held while granting) and the two below */
    int64_t seen_ms;       /* when the record was last read for a view (ps_budgets_refresh) */
    int64_t seen_free;     /* what was unallocated then (others' reservations included) */
    atomic_int settle_due; /* a batch ended holding a tail reservation: give it back */
} ps_budget;

#define PS_REFILLERS 4

/* The node's budgets (ps_pool_open), shared by its partitions' stores. */
typedef struct ps_pool {
    tp *t;
    ps_budget *b;
    uint32_t nb;
    /* refill threads: top slices up at low water, off the spending path; thread i
     * looks after the budgets j with j % PS_REFILLERS == i (a grant is round trips:
     * one thread for every budget fell behind when several ran low at once) */
    pthread_t refill[PS_REFILLERS];
    struct ps_refiller {
        struct ps_pool *pool;
        uint32_t first;
    } refiller[PS_REFILLERS];
    int running; /* threads started */
    atomic_int stop;
    atomic_ullong views; /* records read for the engine's view (ps_budgets_refresh) */
} ps_pool;

typedef struct ps_store {
    promo_store lm;   /* the LMDB store */
    promo_store wrap; /* given to the engine: forwards to lm, records writes in wset */
    strbuf wset;      /* serialized writes since the last ps_take */
    size_t nwrites;
    char dir[4096];
    uint64_t log_seq; /* changelog sequence the durable store reflects (marker) */
    uint64_t in_seq;  /* last input sequence applied (marker) */
    char err[160];    /* why ps_apply failed */
    ps_pool *pool;    /* escrow: NULL until ps_budgets_open */
    promo_engine *eng;
    int64_t *back; /* per budget: given back by this batch's cancels / returns, sent
                      after the changelog append */
} ps_store;

/* Opens (creating) the store of partition `part` under `root`, reads its marker. */
int ps_open(ps_store *s, const char *root, uint32_t part, int32_t return_window, char *err,
            size_t errlen);
/* Closes without syncing: what is not committed (ps_commit) is dropped. */
void ps_close(ps_store *s);
/* Removes the partition's directory (a local state that no longer matches the log). */
void ps_wipe(const char *root, uint32_t part);
/* Makes every write so far durable and records (log_seq, in_seq) as the marker. */
int ps_commit(ps_store *s, uint64_t log_seq, uint64_t in_seq);
/* Replays a write set (what ps_take returned on some node): applies every write that is
 * not applied yet. 0, or -1 (corrupt record / store failure). */
int ps_apply(ps_store *s, const char *data, size_t len, size_t *applied);

/* A checkpoint's content: every entry of the (committed) store, serialized. 0 or -1. */
int ps_export(ps_store *s, strbuf *out);
/* Puts a checkpoint's entries into the (fresh) store. 0 or -1 (corrupt). */
int ps_restore(ps_store *s, const char *data, size_t len);

/*
 * Budgets through the escrow (SPEC 8, docs/deploy.md "Budgets across nodes"). The
 * engine of the partition sees a campaign's spend as cap − (what this partition holds +
 * what is still unallocated): what it may grant is what the whole deployment may still
 * grant, as last seen. Each positive budget delta of a write is taken from the escrow
 * before the write reaches the store; a shortfall (another node took it meanwhile) puts
 * back what was taken, lowers the engine's view to what is really held, and refuses the
 * write (PROMO_ECONFLICT): the engine evaluates again against it (the exact tail,
 * `partial` included). Negative deltas (cancels, returns) are given back to the escrow
 * after the batch is in the changelog (ps_budgets_settle). Σ granted ≤ cap always.
 */
/* Opens the escrow record of every budgeted campaign of `bundle` (creating it with the
 * bundle's cap) and starts the refill threads: once per node. 0, or -1 (the message in
 * tp_errmsg()). */
int ps_pool_open(ps_pool *pool, tp *t, const promo_bundle *bundle);
/* Stops the refill threads, gives the slices held back (the node stops). */
void ps_pool_close(ps_pool *pool);
/* Attaches the partition's store to the node's budgets. Before the engine is created on
 * the store. */
int ps_budgets_open(ps_store *s, ps_pool *pool);
/* Before a batch: refreshes the engine's view of budgets that look nearly spent. */
void ps_budgets_refresh(ps_store *s);
/* After a batch: ok 1, give back what its cancels / returns freed; 0, forget it. */
void ps_budgets_settle(ps_store *s, int ok);
/* Detaches the store (the partition is dropped; the node keeps its slices). */
void ps_budgets_close(ps_store *s);

#endif
