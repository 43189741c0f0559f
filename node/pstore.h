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

#include <stdint.h>

#include "promo.h"
#include "strbuf.h"

typedef struct ps_store {
    promo_store lm;   /* the LMDB store */
    promo_store wrap; /* given to the engine: forwards to lm, records writes in wset */
    strbuf wset;      /* serialized writes since the last ps_take */
    size_t nwrites;
    char dir[4096];
    uint64_t log_seq; /* changelog sequence the durable store reflects (marker) */
    uint64_t in_seq;  /* last input sequence applied (marker) */
    char err[160];    /* why ps_apply failed */
} ps_store;

/* Opens (creating) the store of partition `part` under `root`, reads its marker. */
int ps_open(ps_store *s, const char *root, uint32_t part, char *err, size_t errlen);
/* Closes without syncing: what is not committed (ps_commit) is dropped. */
void ps_close(ps_store *s);
/* Removes the partition's directory (a local state that no longer matches the log). */
void ps_wipe(const char *root, uint32_t part);
/* Makes every write so far durable and records (log_seq, in_seq) as the marker. */
int ps_commit(ps_store *s, uint64_t log_seq, uint64_t in_seq);
/* Replays a write set (what ps_take returned on some node): applies every write that is
 * not applied yet. 0, or -1 (corrupt record / store failure). */
int ps_apply(ps_store *s, const char *data, size_t len, size_t *applied);

#endif
