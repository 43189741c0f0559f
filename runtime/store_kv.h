/*
 * store_kv.h — what the two state stores share (runtime stage "state"): a sharded hash
 * table of byte keys -> value blobs (the whole in-memory store, and the LMDB store's
 * overlay of writes not yet synced), the customer record format and its merge, and the
 * version-checked write of one operation. Internal to libpromo.
 *
 * Keys are a namespace byte and the text: 'C' + customer id, 'J' + journal key,
 * 'B' + the 8 bytes of a campaign hash, 'M' + a name (the store's own values: its now,
 * what it pruned). (The LMDB store keeps a receipt's entry under 'S' + a sequence number
 * in its file, behind its 'J' key: store_lmdb.c.) Texts longer than SKV_MAX_TEXT keep
 * their first SKV_MAX_TEXT - 16 bytes and a 128-bit hash of the whole (LMDB keys are at
 * most 511 bytes);
 * docs/semantics.md says so.
 *
 * A customer record: skv_rec_hdr then ncells promo_cell sorted by (key, day).
 */
#ifndef PROMO_STORE_KV_H
#define PROMO_STORE_KV_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "promo.h"

#define SKV_SHARDS   64
#define SKV_MAX_TEXT 480
#define SKV_MAX_KEY  (SKV_MAX_TEXT + 1)

typedef struct skv_rec_hdr {
    uint64_t version;
    uint32_t ncells;
    uint32_t pad_;
} skv_rec_hdr;

typedef struct skv_ent {
    uint64_t h; /* 0: empty slot */
    char *key;  /* key bytes then the value, one allocation */
    uint32_t klen, vlen, vcap;
    uint32_t fresh; /* put by skv_map_put_fresh: the key was in no store when the entry
                       was made (the LMDB store's sync need not look for an old value) */
} skv_ent;

typedef struct skv_shard {
    pthread_mutex_t mu;
    skv_ent *tab;
    uint32_t n, cap; /* cap: 0 or a power of two */
} skv_shard;

/* Where a map's entries live when they are all dropped at once (the LMDB store's
 * overlay, emptied at every sync): chunks handed out in turn and kept for the next
 * round, so after warm-up a put allocates nothing. */
typedef struct skv_slab {
    struct skv_chunk {
        char *p;
        size_t cap;
    } * c;
    size_t n, cur, off; /* chunks; the one in use and its bytes used */
} skv_slab;

typedef struct skv_map {
    const promo_allocator *a; /* the store's (skv_store.alloc) */
    skv_shard sh[SKV_SHARDS];
    size_t count;   /* entries, all shards (writer only) */
    skv_slab *slab; /* NULL: an entry is allocated (and freed) on its own */
} skv_map;

/* A read handle: buffers for copies (customer record, journal entry). */
typedef struct skv_reader {
    void *rbuf, *jbuf;
    size_t rcap, jcap;
    void *dbuf; /* the memory store: a customer record decoded from its compact form */
    size_t dcap;
    void *backend; /* the LMDB read transaction */
} skv_reader;

/* Where a write finds what the map does not hold (the LMDB store's database); NULL
 * for the memory store. Returns 1 found (*p valid until the next call), 0 absent,
 * -1 error. */
typedef int (*skv_base_get)(void *base, const void *key, size_t klen, const void **p, size_t *len);

typedef struct skv_store {
    promo_allocator alloc; /* every allocation of the store (LMDB's own excepted) */
    skv_map map;
    pthread_mutex_t wmu; /* serializes write and sync */
    skv_base_get base_get;
    void *base;
    void *mbuf; /* the merged record of a write */
    size_t mcap;
    /* The memory store only (base_get NULL): customers held, the cap on them (0: none),
     * and the sweep that drops customers none of whose counters can be read any more
     * (every cell of a day in [1, sweep_before), sweep_before the largest prune_before
     * of any write), a few slots per write. */
    uint64_t ncustomers, max_customers;
    int32_t sweep_before;
    int32_t full_swept; /* the sweep_before of the last whole sweep (at the cap) */
    /* What lets the sweep skip reading entries: the earliest day >= 1 of any cell written
     * (INT32_MAX: none; no record of a cell on or after sweep_before can be dropped),
     * whether a write ever left a record with no cell, or put a journal entry. */
    int32_t min_day;
    int any_empty, any_journal;
    /* Customer records are kept compact (store_mem.c skv_cenc: varints, a key written
     * once per run of cells): SKV_COMPACT_DICT (the memory store) names a key by its
     * number in the store's key dictionary, SKV_COMPACT_VAR (the LMDB store: the
     * dictionary lives in the process only) writes its 8 bytes; 0: records as they
     * are. Everything else sees the skv_rec_hdr + promo_cell form. */
    int compact;
    struct skv_dict *dict; /* store_mem.c; NULL until the first compact record */
    void *ebuf, *dbuf;     /* a write's encoded record, and the old one decoded */
    size_t ecap, dcap;
    uint32_t sweep_shard, sweep_slot;
    void *cbuf, *abuf; /* a write's copies: a current value, an aligned record */
    size_t ccap, acap;
    void *sbuf, *vbuf; /* a write's deltas sorted (and their scratch), budget values */
    size_t scap, vcap;
    /* The return window (docs/semantics.md): `now` is the latest date of a confirmed
     * receipt (kept under the key SKV_NOW_KEY too, so that it persists), `window` the
     * days a receipt stays returnable (-1: none). skv_horizon gives now - window. */
    int32_t now, window;
} skv_store;

#define SKV_NOW_KEY "Mnow" /* the store's `now` (int32), written with the journal entry */

/* The return window's first day (0: none); any thread. */
int32_t skv_horizon(const skv_store *s);

/* a: NULL or incomplete = libc (copied). */
void skv_init(skv_store *s, const promo_allocator *a);
void skv_destroy(skv_store *s);
/* Empties the map: a slab map keeps its tables and chunks for the next round (writer
 * lock held), another frees them. */
void skv_map_clear(skv_map *m);
/* Frees everything the map holds, its slab's chunks included (not the slab itself). */
void skv_map_release(skv_map *m);

/* Builds the key of namespace `ns` and `text` into k[SKV_MAX_KEY + 16]; returns its length. */
size_t skv_key(char ns, const void *text, size_t n, char *k);

#define SKV_NOMEM (-2) /* a lookup ran out of memory (-1: the base store failed) */

/* Copies the value of `key` into *buf (grown through m->a): 1 found, 0 absent, -1 no memory. */
int skv_map_get(skv_map *m, const void *key, size_t klen, void **buf, size_t *cap, size_t *len);
/* Inserts or replaces (caller holds the writer lock); 0 or -1 no memory. */
int skv_map_put(skv_map *m, const void *key, size_t klen, const void *val, size_t vlen);
/* The same for a key the caller knows to be in no store (a journal entry just created):
 * a new entry is marked fresh (a replaced one keeps its mark). */
int skv_map_put_fresh(skv_map *m, const void *key, size_t klen, const void *val, size_t vlen);
/* Calls f for every entry (caller holds the writer lock); stops at a non-zero return. */
int skv_map_each(skv_map *m, int (*f)(void *u, const void *k, size_t kl, const void *v, size_t vl),
                 void *u);

/* A record blob as promo_store_rec (len 0: unknown customer). 0, or -1 malformed. */
int skv_rec_view(const void *p, size_t len, promo_store_rec *out);

enum { SKV_COMPACT_DICT = 1, SKV_COMPACT_VAR = 2 };

/* A customer record of store s as kept (p, len: any alignment) in skv_rec_hdr form at
 * *out: decoded into *buf (grown through s's allocator), or in place (a record of many
 * cells: *out may then be unaligned). Its length, or 0 malformed / no memory (*nomem). */
size_t skv_rec_decode(const skv_store *s, const void *p, size_t len, void **buf, size_t *cap,
                      const void **out, int *nomem);
/* The record rec (skv_rec_hdr form, len bytes, 8-byte aligned) as s keeps it, into *buf
 * (grown through s's allocator): its length, 0 malformed / no memory. */
size_t skv_rec_encode(skv_store *s, const void *rec, size_t len, void **buf, size_t *cap);

/* The version-checked write (caller holds wmu). */
promo_status skv_write(skv_store *s, const promo_store_write *w);

/* Reader buffers. */
void *skv_grow(const promo_allocator *a, void **buf, size_t *cap, size_t need);
skv_reader *skv_reader_new(const promo_allocator *a);
void skv_reader_free(const promo_allocator *a, skv_reader *r);

#endif
