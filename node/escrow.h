/*
 * escrow.h — campaign budgets shared by every node without overspend (SPEC 8,
 * docs/deploy.md "Budgets").
 *
 * One record per campaign in the KV bucket TP_KV_BUDGETS, key "b.<campaign>", value
 * "<cap> <granted> <nonce> <reserved>" (kopecks). `granted` only moves by compare-and-set on the
 * revision read, and a grant never takes it past `cap`: Σ granted ≤ cap at every instant,
 * whatever the nodes do or however they die.
 *
 * A node spends from a slice it holds (no engine round trip per receipt). Slices are
 * sized by the node's recent spend rate (about ESC_HORIZON_MS of it, at least a 64th of
 * the cap, at most a 16th), refilled when the
 * held balance falls below a quarter of a slice, and capped by a share of what remains.
 * In the tail — when what remains unallocated is under ESC_TAIL_SLICES slices — grants
 * are exact and synchronous: a node asks for exactly the missing amount, and gets all of
 * it, part of it (`partial`) or nothing. A node's partitions (esc_budget.reserve) ask
 * instead for what the receipt needs plus a share of the rest (1/ESC_TAIL_SHARE), a
 * reservation counted in `reserved` and given back, what is left of it, when the batch
 * is done (esc_settle_*): one grant serves the rest of the batch, not one per receipt.
 * A node that is short in the tail while others hold reservations waits for them (at
 * most ESC_RESV_WAIT_MS, giving its own back first), then decides: the tail stays
 * exact. Returns give budget back to the record; a node
 * that stops gives back what it holds. A node killed while holding a slice strands at
 * most that slice (budget under-spent, never over-spent).
 */
#ifndef PROMO_NODE_ESCROW_H
#define PROMO_NODE_ESCROW_H

#include <stdint.h>

#include "tp.h"

#define ESC_HORIZON_MS   10000 /* a slice lasts about this long at the recent rate */
#define ESC_TAIL_SLICES  4     /* tail: remaining < this many slices */
#define ESC_MIN_SLICE    100   /* kopecks */
#define ESC_FLOOR_DIV    256   /* a slice is at least cap / 256 (and at most cap / 16) */
#define ESC_EXHAUSTED_MS 250   /* an exhausted budget is read again after this */
#define ESC_TAIL_MS      1000  /* a refill that found the tail looks again after this */
#define ESC_MIN_TAKES    8     /* a slice is at least this many of the largest take */
#define ESC_TAIL_SHARE   2     /* a tail reservation: the need + 1/this of the rest */
#define ESC_RESV_WAIT_MS 500   /* longest wait for others' reservations to come back */
#define ESC_RESV_POLL_MS 20    /* meanwhile the record is read at least this far apart */

/* The shared record. Σ over nodes of their reservations is `resv` (part of `granted`). */
typedef struct esc_rec {
    int64_t cap, granted, resv;
} esc_rec;

typedef struct esc_budget {
    char key[80];         /* "b.<campaign>" */
    int64_t cap;          /* as stored in the record */
    int64_t held;         /* granted to us, not yet spent */
    int64_t spent;        /* spent through us since esc_open (minus give-backs) */
    int64_t slice;        /* current slice size */
    int64_t max_want;     /* the largest take asked for */
    int64_t rate_t0_ms;   /* start of the rate window */
    int64_t rate_spent;   /* spent in the window */
    uint64_t grants;      /* compare-and-sets won (for the bench and tests) */
    uint64_t conflicts;   /* compare-and-sets lost */
    uint64_t grant_us;    /* time spent granting (engine round trips) */
    uint64_t wait_us;     /* of which esc_take waited (the spending path) */
    uint64_t waits;       /* grants esc_take waited for */
    int64_t exhausted_ms; /* when the record was last seen exhausted (0: not) */
    int64_t tail_ms;      /* when a refill last found the record in the tail */
    int async;            /* 1: refilled by esc_refill_* (no low-water grant in esc_take) */
    int reserve;          /* 1: tail grants are batch reservations (esc_settle_*) */
    int64_t my_resv;      /* of the record's `resv`, ours (given back by esc_settle_*) */
    int64_t resv_stuck;   /* others' reservations that did not come back (a dead node's) */
    uint64_t returns;     /* reservations given back */
} esc_budget;

/* Opens the campaign's budget, creating the record with `cap` when absent (an existing
 * record keeps its cap). Campaign ids outside [A-Za-z0-9_-] are hex-encoded in the key. */
int esc_open(tp *t, const char *campaign, int64_t cap, esc_budget *b);
/* Spends up to `want` (> 0): *got = want, or less in the tail (partial), or 0 when the
 * budget is exhausted. TP_OK even then; other codes: engine trouble (*got 0). */
int esc_take(tp *t, esc_budget *b, int64_t want, int64_t *got);
/* A return: `amount` previously spent goes back to the shared budget. */
int esc_give_back(tp *t, esc_budget *b, int64_t amount);
/* Gives back what we hold (a node stopping or handing its partitions over). */
int esc_release(tp *t, esc_budget *b);
/* Refill at low water off the spending path (a node's refill thread): under the
 * caller's lock, esc_refill_begin says whether a slice is due (held under three
 * quarters of a slice, or under a quarter when urgent; not in the tail as last seen) and copies
 * what the grant needs; esc_refill_run grants into the copy with no lock held (one attempt; nothing
 * in the tail: there grants are exact, by esc_take); under the lock again, esc_refill_end adds the
 * copy's grant. */
int esc_refill_begin(esc_budget *b, esc_budget *copy, int urgent);
int esc_refill_run(tp *t, esc_budget *copy);
void esc_refill_end(esc_budget *b, const esc_budget *copy);
/* At the end of a batch, the tail reservation goes back, off the spending path like a
 * refill: esc_settle_begin (under the lock) moves what we hold and reserve into the
 * copy (0: nothing reserved), esc_settle_run gives it back with no lock held,
 * esc_settle_end (under the lock) keeps what could not be given back. */
int esc_settle_begin(esc_budget *b, esc_budget *copy);
int esc_settle_run(tp *t, esc_budget *copy);
void esc_settle_end(esc_budget *b, const esc_budget *copy);
/* Reads the shared record. */
int esc_read(tp *t, const esc_budget *b, int64_t *cap, int64_t *granted);
int esc_read_rec(tp *t, const esc_budget *b, esc_rec *r);
/* Of the record's reservations, those of other nodes still expected back. */
int64_t esc_others_reserved(const esc_budget *b, const esc_rec *r);

#endif
