/*
 * ops.h — the purchase protocol (runtime stage "state of record", SPEC 7.1): calculate,
 * confirm (idempotent by receipt id, journaled), cancel and return (reversal by the
 * journal's attribution). Internal to libpromo; promo.h has the public entry
 * (promo_op_run), `promo run` uses the two phases below so that evaluations run in
 * parallel and commits in input order.
 */
#ifndef PROMO_OPS_H
#define PROMO_OPS_H

#include "promo.h"

struct ops_scratch;
void ops_free(struct ops_scratch *o);
struct ops_json_buf;
void ops_json_free(struct ops_json_buf *b);

/*
 * Phase 1 (any thread, parallel): for calculate/confirm, the duplicate check and the
 * evaluation; the record is formatted. For cancel/return nothing (everything happens
 * in phase 2). *pending is 1 when ops_commit must be called (for a duplicate confirm
 * too: phase 2 checks the return window in commit order, out->duplicate stays 1).
 * PROMO_EINPUT: an error record (promo_ctx_errmsg), nothing changed.
 */
promo_status ops_prepare(promo_ctx *c, const promo_op *op, promo_op_result *out, int *pending);
/* Phase 2 (commit order). PROMO_ECONFLICT: call ops_prepare again. */
promo_status ops_commit(promo_ctx *c, const promo_op *op, promo_op_result *out);

/* The content hash that tells "the same receipt" on a repeated confirm. */
uint64_t ops_receipt_hash(const promo_receipt *r);

/* The return window (docs/semantics.md): what a journal record (data, len) is, for the
 * stores' pruning. *date: the receipt's date (entries and tombstones; 0 otherwise);
 * *cnow: the store's now just after the receipt was confirmed (an entry, a tombstone, a
 * refund record: its entry's; 0 in refund records written before it was kept). The
 * record expires when *cnow < now - window. */
enum { OPS_REC_NONE, OPS_REC_ENTRY, OPS_REC_TOMB, OPS_REC_REFUND };
int ops_rec_info(const void *data, size_t len, int32_t *date, int32_t *cnow);

/* The receipt's date of a journal entry (data, len); 0 when it is not an entry. */
int32_t ops_entry_date(const void *data, size_t len);

/* Sets cnow in a journal entry being written (the store, under its writer lock, when
 * its now is after the receipt's date). 0, or -1 not an entry that keeps it. */
int ops_entry_stamp(void *data, size_t len, int32_t cnow);

/* The tombstone that replaces an expired entry (data, len) when it is pruned, into out
 * (OPS_TOMB_SIZE bytes: the receipt's date, cnow, state and hash). 0, or -1. */
#define OPS_TOMB_SIZE 24
int ops_tombstone(const void *data, size_t len, void *out);

/* Journal entries (for `promo state`): the JSON description of entry (key, data),
 * appended to out (allocating through out's allocator). 0, or -1 corrupt / no memory. */
struct rbuf;
int ops_journal_describe(const void *key, size_t klen, const void *data, size_t len,
                         struct rbuf *out);

/* Recomputes every customer's counters and every budget from the journal of an LMDB
 * store and compares them with the stored ones; a line per difference, then a summary
 * line, into report (its allocator serves the whole check). 0 equal, 1 differences,
 * -1 error. */
int ops_verify(promo_store *s, struct rbuf *report);

#endif
