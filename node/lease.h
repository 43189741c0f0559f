/*
 * lease.h — partition ownership on a tp: a lease in the KV bucket TP_KV_LEASES, and the
 * fencing of the partition's changelog (docs/deploy.md, "Ownership").
 *
 * Lease record, key "p<part>": "<owner> <epoch> <nonce>" ("- <epoch> <nonce>" when
 * released). Claiming writes epoch+1 by compare-and-set on the revision read, and only
 * when the record is absent, released, or older than the TTL (engine timestamp); the
 * holder renews by compare-and-set well within the TTL, and considers itself owner only
 * until (start of its last successful renewal + TTL - margin), local monotonic clock.
 * The bucket's max-age (a multiple of the TTL) drops leases nobody renews (NATS 2.9 has
 * no per-key TTL).
 *
 * A lease alone does not fence: a deposed owner that wakes up still believes in it until
 * its next renewal. What fences is the changelog: every commit is appended with the
 * sequence the owner believes last, and a new owner first replays the changelog and
 * appends a fence record. After that, any append by an older owner names a sequence that
 * is no longer last and is refused (TP_EFENCED): it cannot commit.
 */
#ifndef PROMO_NODE_LEASE_H
#define PROMO_NODE_LEASE_H

#include <stdint.h>

#include "tp.h"

typedef struct lease {
    uint32_t part;
    uint64_t epoch;
    uint64_t rev;     /* KV revision of our record */
    uint64_t tail;    /* changelog sequence we believe last (after lease_takeover) */
    int64_t valid_ms; /* monotonic ms until which we may act as owner */
    int64_t ttl_ms;
    char owner[64];
    char val[128]; /* the record we last wrote */
} lease;

/* Monotonic milliseconds. */
int64_t lease_now_ms(void);

/* TP_OK: we hold the partition (new epoch, valid_ms set). TP_ECONFLICT: someone else
 * holds a live lease, or won the race. Other codes: engine trouble (not claimed). */
int lease_claim(tp *t, uint32_t part, const char *owner, int64_t ttl_ms, lease *out);
/* 1: the partition may be claimed now (no record, released, or expired); 0: held by a
 * live owner (its name in holder[64]); < 0: engine trouble. */
int lease_peek(tp *t, uint32_t part, int64_t ttl_ms, char holder[64]);
/* TP_OK: renewed. TP_ECONFLICT: lost (someone claimed it after expiry). Writes to other
 * partitions' leases (revisions are bucket-wide) only make it retry. */
int lease_renew(tp *t, lease *l);
/* Gives the partition up now (another node may claim it at once). */
int lease_release(tp *t, lease *l);
/* 1 while the lease may be acted on (valid_ms not passed). */
int lease_live(const lease *l);

/* Takes the changelog over: replays every record after l->tail through `replay` (which
 * sees fence records too: data starting with 'F'), then appends a fence record naming
 * the last sequence; repeats while an older owner's append slips in between. On TP_OK,
 * l->tail is the fence's sequence. */
int lease_takeover(tp *t, lease *l,
                   int (*replay)(void *arg, uint64_t seq, const char *data, int len), void *arg);
/* Appends one commit record iff l->tail is still the last sequence; advances l->tail.
 * TP_EFENCED: a newer owner fenced us: we are deposed and must drop the partition. */
int lease_append(tp *t, lease *l, const void *data, int len);

#endif
