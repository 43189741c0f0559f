/*
 * store_lmdb.c — the persistent state store (runtime stage "state", SPEC 7.2): one LMDB
 * environment in a directory, one database of the keys of store_kv.h.
 *
 * Store format 2 (LM_FORMAT, kept under LM_FORMAT_KEY; a store of another format, or
 * one written before the key existed, is refused at open with a message): a receipt's
 * journal entry is kept under 'S' + a sequence number (8 bytes big-endian, given at
 * each sync, in key order within one) and appended there (MDB_APPEND: leaf pages
 * filled to the end, one page per few entries), and its 'J' key holds an lm_ref (the
 * sequence number, the entry's date and cnow for the sweep). Keyed by receipt id, the
 * entries went between existing keys: every entry copied and wrote a random, half-full
 * leaf page. Refund records and tombstones stay under their 'J' keys. Customer records
 * are kept compact (store_kv.h SKV_COMPACT_VAR: varints, a key's 8 bytes once per run of
 * cells; ~45 instead of ~110 bytes for the generated workload's customer): every sync
 * rewrites most pages of the customers it touches, so a smaller tree is fewer pages
 * copied and written. Everything above the store sees the journal by receipt id and
 * the records in skv_rec_hdr form as before: reads resolve a reference and decode a
 * record, an export (store_lmdb_each) shows each entry under its 'J' key and each
 * record decoded, an import puts them back the same way.
 *
 * Writes go to an in-memory overlay (store_kv.h's table) under the writer lock. A sync
 * seals the overlay (moves its entries to a second table, `sealed`, and starts an empty
 * one, under the writer lock), then writes the sealed entries in key order in ONE LMDB
 * write transaction (the group commit) without the writer lock, and empties the sealed
 * table once the transaction is committed: writes go on while a sync writes, and the
 * process holds only what was written since the last sync: the customers themselves
 * live in the file, whose pages are the OS's cache. Reads look in the overlay, then in
 * the sealed table, then in LMDB through the reader's own read transaction (MDB_NOTLS:
 * a transaction per reader, not per thread), renewed after the sealed table was looked
 * at, so an entry is always in one of the three; a customer record is decoded into the
 * reader's buffer (one of more than 128 cells, kept as it is, is used in place in the
 * map when it is 8-byte aligned: LMDB aligns values to 2 bytes only; copied otherwise).
 *
 * Allocation: everything the store allocates itself (the store, the overlay, readers'
 * buffers) goes through promo_store_opts.alloc; the overlay's entries come from chunks
 * (store_kv.h skv_slab) kept from one sync to the next, so a write allocates nothing
 * once the chunks and tables have grown to a sync's worth; LMDB's own allocations (its
 * environment, transactions, cursors, dirty pages) come from libc and cannot be hooked
 * (LMDB has no allocator interface); docs/embedding.md says so.
 *
 * Return window (docs/semantics.md): each sync's transaction also sweeps the journal on
 * from where the last sweep stopped, a bounded number of records (twice what it wrote,
 * plus LM_SWEEP_MIN), replaces the entries expired (cnow before the horizon, now -
 * window) by their tombstones and deletes their refund records; the day after the
 * latest receipt date pruned is kept under LM_PRUNED_KEY for `promo state verify`. The
 * sweep goes round the journal in cycles, so every expired entry goes within a cycle of
 * the horizon passing its cnow; after a cycle it knows the earliest cnow left, and syncs
 * skip the sweep until the horizon passes that.
 *
 * Durability: `process` opens with MDB_NOSYNC (a committed transaction is in the OS
 * page cache, which survives kill -9 of the process); `strict` lets LMDB fsync at
 * every commit (survives power loss). promo_store_opts.write_map (process durability
 * only) adds MDB_WRITEMAP: LMDB writes its pages in the shared map, not with pwrite;
 * they are the same page cache pages, so kill -9 is as safe (a transaction's pages are
 * all free pages until its meta page, whose txnid is written last, names them).
 */
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "ops.h"
#include "store_internal.h"
#include "store_kv.h"
#include "store_mem.h"

#define LM_OVERLAY_MAX 200000 /* entries pending before a write syncs by itself */
#define LM_SWEEP_MIN   64     /* journal entries a sync's sweep looks at, at least */
#define LM_PRUNED_KEY  "Mpruned"
#define LM_FORMAT_KEY  "Mformat" /* the store format (uint32); absent: format 1 */
#define LM_FORMAT      2u
#define LM_REF_MAGIC   0x31515250u /* "PRQ1": a journal entry kept under its sequence key */
#define LM_SEQ_KEY     9           /* 'S' + the sequence number, 8 bytes big-endian */

/* What a receipt's 'J' key holds when its entry lives under 'S' + seq (store format
 * 2): the entry's receipt date and cnow (what the journal sweep needs) and where it is. */
typedef struct lm_ref {
    uint32_t magic;
    int32_t date, cnow;
    uint32_t pad;
    uint64_t seq;
} lm_ref;

typedef struct lm_store {
    skv_store kv; /* first: the ops get an lm_store as self */
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *wtxn;       /* the writer's read transaction (base lookups of skv_write) */
    skv_map sealed;      /* being written by a sync; emptied under kv.wmu */
    skv_slab slab[2];    /* the entries of the overlay and of the sealed table */
    pthread_mutex_t smu; /* one sync at a time */
    void *bbuf;          /* the writer's copy of a sealed entry */
    size_t bcap;
    const skv_ent **order; /* a sync's entries in key order */
    size_t ocap;
    int group, read_only;
    char jcur[SKV_MAX_KEY + 16]; /* where the journal sweep goes on (length 0: at 'J') */
    size_t jcurl;
    int32_t pruned, pruned_new; /* the latest date pruned + 1 (LM_PRUNED_KEY), committed
                                   and in the sync being written */
    int32_t jmin;               /* a lower bound of the journal's dates (INT32_MIN: not known) */
    int32_t wmin; /* the earliest date confirmed since the last sync (writers; atomic) */
    int32_t cmin; /* the earliest date the sweep's cycle left */
    int cycle;    /* a sweep cycle is under way */
    char err[512];
} lm_store;

static promo_status lm_fail(lm_store *s, const char *what, int rc) {
    snprintf(s->err, sizeof s->err, "state store: %s: %s", what, mdb_strerror(rc));
    return PROMO_ESTATE;
}

/* Whether a 'J' value is a reference (*seq its sequence number). */
static int lm_is_ref(const void *v, size_t len, lm_ref *r) {
    if (len != sizeof *r) return 0;
    memcpy(r, v, sizeof *r);
    return r->magic == LM_REF_MAGIC;
}

static void lm_seq_key(uint64_t seq, char k[LM_SEQ_KEY]) {
    k[0] = 'S';
    for (int i = 0; i < 8; i++)
        k[1 + i] = (char)(seq >> (56 - 8 * i));
}

/* A 'J' value (*v) read in t: a reference is replaced by the entry it names. 0, or an
 * LMDB error (MDB_NOTFOUND: a reference to nothing, a corrupt store). */
static int lm_resolve(lm_store *s, MDB_txn *t, MDB_val *v) {
    lm_ref r;
    if (!lm_is_ref(v->mv_data, v->mv_size, &r)) return 0;
    char sk[LM_SEQ_KEY];
    lm_seq_key(r.seq, sk);
    MDB_val k = {sizeof sk, sk};
    return mdb_get(t, s->dbi, &k, v);
}

/* A read transaction made current: renewed (or begun) for the caller. */
static int lm_renew(lm_store *s, MDB_txn **t) {
    if (*t) {
        mdb_txn_reset(*t);
        return mdb_txn_renew(*t);
    }
    return mdb_txn_begin(s->env, NULL, MDB_RDONLY, t);
}

/* What the overlay does not hold, for the writer (kv.wmu held: the sealed table is not
 * emptied meanwhile): the sealed table, else LMDB. */
static int lm_base_get(void *base, const void *key, size_t klen, const void **p, size_t *len) {
    lm_store *s = base;
    int f = skv_map_get(&s->sealed, key, klen, &s->bbuf, &s->bcap, len);
    if (f) {
        *p = s->bbuf;
        return f;
    }
    MDB_val k = {klen, (void *)key}, v;
    int rc = mdb_get(s->wtxn, s->dbi, &k, &v);
    if (rc == MDB_NOTFOUND) return 0;
    if (rc || (*(const char *)key == 'J' && lm_resolve(s, s->wtxn, &v))) return -1;
    *p = v.mv_data;
    *len = v.mv_size;
    return 1;
}

static skv_reader *lm_reader(lm_store *s, void **reader) {
    if (!*reader) *reader = skv_reader_new(&s->kv.alloc);
    return *reader;
}

/* Overlay, else the sealed table, else LMDB through the reader's transaction (renewed
 * after the sealed table was looked at: a sync empties it only once LMDB has its
 * entries). 1 found (*p, *len), 0 absent, SKV_NOMEM, -1 LMDB failed. */
static int lm_get(lm_store *s, skv_reader *r, const char *k, size_t kl, void **buf, size_t *cap,
                  const void **p, size_t *len) {
    int f = skv_map_get(&s->kv.map, k, kl, buf, cap, len);
    if (!f) f = skv_map_get(&s->sealed, k, kl, buf, cap, len);
    if (f < 0) return SKV_NOMEM;
    if (f) {
        *p = *buf;
        return f;
    }
    MDB_txn *t = r->backend;
    int rc = lm_renew(s, &t);
    r->backend = t;
    if (rc) return -1;
    MDB_val key = {kl, (void *)k}, v;
    rc = mdb_get(t, s->dbi, &key, &v);
    if (rc == MDB_NOTFOUND) return 0;
    if (rc || (k[0] == 'J' && lm_resolve(s, t, &v))) return -1;
    *p = v.mv_data;
    *len = v.mv_size;
    return 1;
}

static promo_status lm_read(void *self, void **reader, promo_str customer, promo_store_rec *out) {
    lm_store *s = self;
    skv_reader *r = lm_reader(s, reader);
    *out = (promo_store_rec){0, NULL, 0};
    if (!r) return PROMO_ENOMEM;
    char k[SKV_MAX_KEY + 16];
    size_t kl = skv_key('C', customer.p, customer.n, k), len = 0;
    const void *p = NULL;
    int f = lm_get(s, r, k, kl, &r->rbuf, &r->rcap, &p, &len);
    if (f < 0) return f == SKV_NOMEM ? PROMO_ENOMEM : PROMO_ESTATE;
    if (!f) return PROMO_OK;
    int nomem;
    if (!(len = skv_rec_decode(&s->kv, p, len, &r->dbuf, &r->dcap, &p, &nomem)))
        return nomem ? PROMO_ENOMEM : PROMO_ESTATE;
    if ((uintptr_t)p & 7) { /* a record of many cells, in place in LMDB's page */
        if (!skv_grow(&s->kv.alloc, &r->dbuf, &r->dcap, len)) return PROMO_ENOMEM;
        memcpy(r->dbuf, p, len);
        p = r->dbuf;
    }
    return skv_rec_view(p, len, out) ? PROMO_ESTATE : PROMO_OK;
}

static promo_status lm_journal(void *self, void **reader, promo_str key, const void **data,
                               size_t *len) {
    lm_store *s = self;
    skv_reader *r = lm_reader(s, reader);
    *data = NULL;
    *len = 0;
    if (!r) return PROMO_ENOMEM;
    char k[SKV_MAX_KEY + 16];
    size_t kl = skv_key('J', key.p, key.n, k);
    const void *p = NULL;
    int f = lm_get(s, r, k, kl, &r->jbuf, &r->jcap, &p, len);
    if (f < 0) return f == SKV_NOMEM ? PROMO_ENOMEM : PROMO_ESTATE;
    if (!f) return PROMO_OK;
    if (p != r->jbuf) { /* a copy: the caller may read a customer through r meanwhile */
        if (!skv_grow(&s->kv.alloc, &r->jbuf, &r->jcap, *len ? *len : 1)) return PROMO_ENOMEM;
        memcpy(r->jbuf, p, *len);
    }
    *data = r->jbuf;
    return PROMO_OK;
}

static promo_status lm_budget(void *self, uint64_t key, int64_t *spent) {
    lm_store *s = self;
    void *rd = NULL;
    skv_reader *r = lm_reader(s, &rd);
    *spent = 0;
    if (!r) return PROMO_ENOMEM;
    char k[SKV_MAX_KEY + 16];
    size_t kl = skv_key('B', &key, 8, k), len = 0;
    const void *p = NULL;
    int f = lm_get(s, r, k, kl, &r->rbuf, &r->rcap, &p, &len);
    if (f > 0 && len == 8) memcpy(spent, p, 8);
    if (r->backend) mdb_txn_abort(r->backend);
    skv_reader_free(&s->kv.alloc, r);
    return f == SKV_NOMEM ? PROMO_ENOMEM : f < 0 ? PROMO_ESTATE : PROMO_OK;
}

static int lm_ent_cmp(const void *a, const void *b) {
    const skv_ent *x = *(const skv_ent *const *)a, *y = *(const skv_ent *const *)b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

/* The journal sweep, in a sync's transaction t through its cursor c (smu held): up to
 * `budget` records on from s->jcur; replaces the entries whose cnow is before the
 * horizon by their tombstones and deletes their refund records. A sweep goes round the
 * whole journal in cycles; a cycle ends knowing a lower bound of the cnows left
 * (s->jmin, lowered by every confirm since: s->wmin, a receipt's date <= its cnow), and
 * until the horizon passes it no sync sweeps: nothing could expire. */
static int lm_prune(lm_store *s, MDB_txn *t, MDB_cursor *c, size_t budget) {
    int32_t h = skv_horizon(&s->kv);
    int32_t added = __atomic_exchange_n(&s->wmin, INT32_MAX, __ATOMIC_ACQ_REL);
    if (added < s->jmin) s->jmin = added;
    if (added < s->cmin) s->cmin = added;
    if (h <= 1 || (!s->cycle && h <= s->jmin)) return 0;
    if (!s->cycle) { /* a new cycle, from the journal's first entry */
        s->cycle = 1;
        s->cmin = INT32_MAX;
        s->jcurl = 0;
    }
    MDB_val k = {s->jcurl ? s->jcurl : 1, s->jcurl ? s->jcur : "J"}, v;
    int32_t gone = 0;  /* the latest date deleted */
    size_t parent = 0; /* the length of the receipt entry just deleted (at s->jcur) */
    int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    for (size_t seen = 0; !rc && seen < budget; seen++) {
        const char *kp = k.mv_data;
        if (!k.mv_size || kp[0] != 'J') {
            rc = MDB_NOTFOUND; /* past the journal */
            break;
        }
        int32_t d, cn;
        lm_ref ref;
        int isref = lm_is_ref(v.mv_data, v.mv_size, &ref);
        int kind = isref ? OPS_REC_ENTRY : ops_rec_info(v.mv_data, v.mv_size, &d, &cn);
        if (isref) d = ref.date, cn = ref.cnow;
        /* a refund record follows its receipt's entry (key, NUL, refund id); one written
         * before refund records kept cnow (0) goes with the entry */
        int orphan = kind == OPS_REC_REFUND && parent && cn == 0 && k.mv_size > parent &&
                     kp[parent] == 0 && !memcmp(kp, s->jcur, parent);
        if (kind == OPS_REC_ENTRY && cn >= 1 && cn < h && k.mv_size <= sizeof s->jcur) {
            char tomb[OPS_TOMB_SIZE], sk[LM_SEQ_KEY];
            memcpy(s->jcur, kp, k.mv_size); /* a receipt's entry: its records follow */
            parent = k.mv_size;
            MDB_val ev = v, skey = {sizeof sk, sk};
            if (isref) { /* the entry itself, then it goes */
                lm_seq_key(ref.seq, sk);
                if ((rc = mdb_get(t, s->dbi, &skey, &ev))) return rc;
            }
            if (ops_tombstone(ev.mv_data, ev.mv_size, tomb)) return MDB_CORRUPTED;
            MDB_val tk = {parent, s->jcur}, tv = {sizeof tomb, tomb};
            if ((rc = mdb_cursor_put(c, &tk, &tv, MDB_CURRENT))) return rc;
            if (isref && (rc = mdb_del(t, s->dbi, &skey, NULL))) return rc;
            if (d > gone) gone = d;
        } else if ((kind == OPS_REC_REFUND && cn >= 1 && cn < h) || orphan) {
            if ((rc = mdb_cursor_del(c, 0))) return rc;
        } else if (kind != OPS_REC_TOMB && cn >= 1 && cn < s->cmin) {
            s->cmin = cn;
        }
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT); /* after a deletion: the entry after it */
    }
    if (rc == MDB_NOTFOUND) { /* the cycle is complete */
        s->jcurl = 0;
        s->cycle = 0;
        s->jmin = s->cmin;
    } else if (rc) {
        return rc;
    } else if (*(const char *)k.mv_data == 'J' && k.mv_size <= sizeof s->jcur) {
        memcpy(s->jcur, k.mv_data, k.mv_size);
        s->jcurl = k.mv_size;
    } else {
        s->jcurl = 0;
    }
    if (gone && gone + 1 > s->pruned) { /* entries before gone + 1 may be missing */
        s->pruned_new = gone + 1;
        MDB_val pk = {sizeof LM_PRUNED_KEY - 1, LM_PRUNED_KEY};
        MDB_val pv = {sizeof s->pruned_new, &s->pruned_new};
        if ((rc = mdb_put(t, s->dbi, &pk, &pv, 0))) return rc;
    }
    return 0;
}

/* The next journal sequence number: after the last 'S' key (the store's last key), read
 * in the transaction at each sync (another process may have written since). */
static uint64_t lm_next_seq(MDB_cursor *cs) {
    MDB_val k, v;
    if (mdb_cursor_get(cs, &k, &v, MDB_LAST) || k.mv_size != LM_SEQ_KEY ||
        *(const char *)k.mv_data != 'S')
        return 1;
    uint64_t q = 0;
    for (int i = 1; i < LM_SEQ_KEY; i++)
        q = q << 8 | ((const unsigned char *)k.mv_data)[i];
    return q + 1;
}

/*
 * Puts journal record e (a 'J' key) in a sync's transaction, through the cursor c of
 * the sync's key order; cs appends to the sequence-keyed entries (smu held). A receipt's
 * entry goes under 'S' + its sequence number (a new one, appended: MDB_APPEND fills
 * pages to the end instead of splitting pages between random receipt ids), and its key
 * gets an lm_ref; a record that is not an entry (a refund record, a tombstone) is kept
 * under its key as it is, and an entry it replaces goes. A fresh entry (created since
 * the last sync) has no old value to look at.
 */
static int lm_put_journal(lm_store *s, MDB_cursor *c, MDB_cursor *cs, const skv_ent *e,
                          uint64_t *seq) {
    MDB_val key = {e->klen, e->key}, val = {e->vlen, e->key + e->klen}, old;
    lm_ref ref = {LM_REF_MAGIC, 0, 0, 0, 0};
    int have = 0, rc;
    if (!e->fresh) {
        rc = mdb_cursor_get(c, &key, &old, MDB_SET);
        if (rc && rc != MDB_NOTFOUND) return rc;
        have = !rc && lm_is_ref(old.mv_data, old.mv_size, &ref);
    }
    char sk[LM_SEQ_KEY];
    MDB_val skey = {sizeof sk, sk};
    if (ops_rec_info(val.mv_data, val.mv_size, &ref.date, &ref.cnow) != OPS_REC_ENTRY) {
        if (have) {
            lm_seq_key(ref.seq, sk);
            if ((rc = mdb_del(mdb_cursor_txn(cs), s->dbi, &skey, NULL))) return rc;
        }
        key = (MDB_val){e->klen, e->key};
        return mdb_cursor_put(c, &key, &val, 0);
    }
    if (!have) ref.seq = (*seq)++;
    lm_seq_key(ref.seq, sk);
    if ((rc = mdb_cursor_put(cs, &skey, &val, have ? 0 : MDB_APPEND))) return rc;
    MDB_val rv = {sizeof ref, &ref};
    key = (MDB_val){e->klen, e->key};
    return mdb_cursor_put(c, &key, &rv, 0);
}

/* Writes the sealed table in one transaction, in key order through one cursor (LMDB
 * finds the next key from the page it is on instead of from the root), then empties
 * it. smu held. */
static promo_status lm_write_sealed(lm_store *s) {
    size_t n = 0;
    for (int i = 0; i < SKV_SHARDS; i++)
        n += s->sealed.sh[i].n;
    if (!n) return PROMO_OK;
    if (n > s->ocap) {
        const skv_ent **o = pa_realloc(&s->kv.alloc, s->order, n * sizeof *o);
        if (!o) return PROMO_ENOMEM;
        s->order = o;
        s->ocap = n;
    }
    size_t k = 0;
    for (int i = 0; i < SKV_SHARDS; i++)
        for (uint32_t e = 0; e < s->sealed.sh[i].cap; e++)
            if (s->sealed.sh[i].tab[e].h) s->order[k++] = &s->sealed.sh[i].tab[e];
    qsort(s->order, n, sizeof *s->order, lm_ent_cmp);
    MDB_txn *t;
    MDB_cursor *c, *cs;
    int rc = mdb_txn_begin(s->env, NULL, 0, &t);
    if (rc) return lm_fail(s, "begin", rc);
    if ((rc = mdb_cursor_open(t, s->dbi, &c)) || (rc = mdb_cursor_open(t, s->dbi, &cs))) {
        mdb_txn_abort(t);
        return lm_fail(s, "cursor", rc);
    }
    uint64_t seq = lm_next_seq(cs);
    for (size_t i = 0; i < n && !rc; i++) {
        const skv_ent *e = s->order[i];
        MDB_val key = {e->klen, e->key}, val = {e->vlen, e->key + e->klen};
        if (e->key[0] == 'J')
            rc = lm_put_journal(s, c, cs, e, &seq);
        else
            rc = mdb_cursor_put(c, &key, &val, 0);
    }
    s->pruned_new = s->pruned;
    if (!rc) rc = lm_prune(s, t, c, 2 * n + LM_SWEEP_MIN);
    mdb_cursor_close(cs);
    mdb_cursor_close(c);
    if (rc) {
        mdb_txn_abort(t);
        s->jmin = INT32_MIN; /* what the sweep learned was not committed */
        s->cycle = 0;
        return lm_fail(s, "put", rc);
    }
    if ((rc = mdb_txn_commit(t))) {
        s->jmin = INT32_MIN;
        s->cycle = 0;
        return lm_fail(s, "commit", rc);
    }
    s->pruned = s->pruned_new;
    pthread_mutex_lock(&s->kv.wmu);
    skv_map_clear(&s->sealed);
    pthread_mutex_unlock(&s->kv.wmu);
    return PROMO_OK;
}

/* Seals the overlay (kv.wmu held; smu held, so the sealed table is empty). */
static void lm_seal(lm_store *s) {
    for (int i = 0; i < SKV_SHARDS; i++) {
        skv_shard *a = &s->kv.map.sh[i], *b = &s->sealed.sh[i];
        pthread_mutex_lock(&a->mu);
        pthread_mutex_lock(&b->mu);
        skv_ent *tab = b->tab;
        uint32_t n = b->n, cap = b->cap;
        b->tab = a->tab, b->n = a->n, b->cap = a->cap;
        a->tab = tab, a->n = n, a->cap = cap;
        pthread_mutex_unlock(&b->mu);
        pthread_mutex_unlock(&a->mu);
    }
    s->sealed.count = s->kv.map.count;
    s->kv.map.count = 0;
    skv_slab *sl = s->sealed.slab; /* the entries go with their table */
    s->sealed.slab = s->kv.map.slab;
    s->kv.map.slab = sl;
}

/* Makes every write done so far durable. A failed sync keeps its entries in the sealed
 * table: the next sync writes them again. */
static promo_status lm_sync(void *self) {
    lm_store *s = self;
    pthread_mutex_lock(&s->smu);
    promo_status st = lm_write_sealed(s); /* what a failed sync left */
    if (st == PROMO_OK) {
        pthread_mutex_lock(&s->kv.wmu);
        if (s->kv.map.count) lm_seal(s); /* else the sealed table stays empty */
        pthread_mutex_unlock(&s->kv.wmu);
        st = lm_write_sealed(s);
    }
    pthread_mutex_unlock(&s->smu);
    return st;
}

static promo_status lm_write(void *self, const promo_store_write *w) {
    lm_store *s = self;
    if (s->read_only) return PROMO_EARG;
    pthread_mutex_lock(&s->kv.wmu);
    promo_status st = PROMO_OK;
    int rc = lm_renew(s, &s->wtxn);
    if (rc) st = lm_fail(s, "read", rc);
    if (st == PROMO_OK) st = skv_write(&s->kv, w);
    mdb_txn_reset(s->wtxn);
    int32_t d = st == PROMO_OK && w->jkey.p && w->jcreate && w->jdata
                    ? ops_entry_date(w->jdata, w->jlen)
                    : INT32_MAX;
    int32_t cur = __atomic_load_n(&s->wmin, __ATOMIC_RELAXED); /* the sweep's bound */
    while (d >= 1 && d < cur &&
           !__atomic_compare_exchange_n(&s->wmin, &cur, d, 1, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        ;
    int sync = st == PROMO_OK && (!s->group || s->kv.map.count >= LM_OVERLAY_MAX);
    pthread_mutex_unlock(&s->kv.wmu);
    return sync ? lm_sync(s) : st;
}

static void lm_reader_free(void *self, void *reader) {
    lm_store *s = self;
    skv_reader *r = reader;
    if (!r) return;
    if (r->backend) mdb_txn_abort(r->backend);
    skv_reader_free(&s->kv.alloc, r);
}

static void lm_destroy(void *self) {
    lm_store *s = self;
    if (!s) return;
    if (s->wtxn) mdb_txn_abort(s->wtxn);
    if (s->env) mdb_env_close(s->env);
    skv_map_release(&s->sealed);
    for (int i = 0; i < SKV_SHARDS; i++)
        pthread_mutex_destroy(&s->sealed.sh[i].mu);
    pthread_mutex_destroy(&s->smu);
    promo_allocator a = s->kv.alloc;
    pa_free(&a, s->bbuf);
    pa_free(&a, s->order);
    skv_destroy(&s->kv);
    pa_free(&a, s);
}

static int32_t lm_horizon(void *self) {
    lm_store *s = self;
    return skv_horizon(&s->kv);
}

static const promo_store_ops lm_ops = {
    sizeof(promo_store_ops), lm_read,    lm_journal, lm_budget, lm_write, lm_sync,
    lm_reader_free,          lm_destroy, lm_horizon};

/* The store's own values (SKV_NOW_KEY, LM_PRUNED_KEY) as kept in t. */
static int lm_meta(lm_store *s, MDB_txn *t) {
    static const char *const keys[] = {SKV_NOW_KEY, LM_PRUNED_KEY};
    int32_t *to[] = {&s->kv.now, &s->pruned};
    for (int i = 0; i < 2; i++) {
        MDB_val k = {strlen(keys[i]), (void *)keys[i]}, v;
        int rc = mdb_get(t, s->dbi, &k, &v);
        if (rc == MDB_NOTFOUND) continue;
        if (rc) return rc;
        if (v.mv_size == sizeof(int32_t)) memcpy(to[i], v.mv_data, sizeof(int32_t));
    }
    return 0;
}

/* The store format of t's database into *format: LM_FORMAT_KEY's value; 1 without it
 * (a store written before the key existed); a new, empty store gets LM_FORMAT (unless
 * read-only). 0, MDB_INCOMPATIBLE (another format: refused, never misread), or an
 * LMDB error. */
static int lm_format(lm_store *s, MDB_txn *t, uint32_t *format) {
    MDB_val k = {sizeof LM_FORMAT_KEY - 1, LM_FORMAT_KEY}, v;
    int rc = mdb_get(t, s->dbi, &k, &v);
    if (rc == MDB_NOTFOUND) {
        MDB_stat st;
        if ((rc = mdb_stat(t, s->dbi, &st))) return rc;
        if (st.ms_entries) {
            *format = 1;
            return MDB_INCOMPATIBLE;
        }
        *format = LM_FORMAT;
        if (s->read_only) return 0;
        v = (MDB_val){sizeof *format, format};
        return mdb_put(t, s->dbi, &k, &v, 0);
    }
    if (rc) return rc;
    *format = UINT32_MAX;
    if (v.mv_size == sizeof *format) memcpy(format, v.mv_data, sizeof *format);
    return *format == LM_FORMAT ? 0 : MDB_INCOMPATIBLE;
}

promo_status promo_store_open(const char *dir, const promo_store_opts *opts, promo_store *out,
                              char *errbuf, size_t errlen) {
    if (!out) return PROMO_EARG;
    out->ops = NULL;
    out->self = NULL;
    if (!dir) return PROMO_EARG;
    promo_store_opts o;
    store_opts_read(opts, &o);
    if (!o.map_size) o.map_size = (uint64_t)64 << 30;
    lm_store *s = pa_calloc(&o.alloc, 1, sizeof *s);
    if (!s) {
        if (errbuf && errlen) snprintf(errbuf, errlen, "state store: out of memory");
        return PROMO_ENOMEM;
    }
    skv_init(&s->kv, &o.alloc);
    s->kv.compact = SKV_COMPACT_VAR;
    s->sealed.a = &s->kv.alloc;
    s->kv.map.slab = &s->slab[0]; /* emptied at every sync: no allocation per entry */
    s->sealed.slab = &s->slab[1];
    for (int i = 0; i < SKV_SHARDS; i++)
        pthread_mutex_init(&s->sealed.sh[i].mu, NULL);
    pthread_mutex_init(&s->smu, NULL);
    s->kv.base_get = lm_base_get;
    s->kv.base = s;
    s->group = o.group_commit;
    s->read_only = o.read_only;
    s->kv.window = o.return_window < 0 ? -1 : o.return_window;
    s->jmin = INT32_MIN; /* not known: the first sweep goes round the journal */
    s->wmin = s->cmin = INT32_MAX;
    promo_status st = PROMO_OK;
    int rc;
    if (!o.read_only && mkdir(dir, 0777) && errno != EEXIST) {
        snprintf(s->err, sizeof s->err, "cannot create %s: %s", dir, strerror(errno));
        st = PROMO_EIO;
        goto fail;
    }
    unsigned flags = MDB_NOTLS | MDB_NORDAHEAD | MDB_NOMEMINIT;
    if (o.durability != PROMO_DURABLE_STRICT) flags |= MDB_NOSYNC;
    if (o.read_only) flags |= MDB_RDONLY;
    /* Process durability only: with MDB_WRITEMAP LMDB syncs by msync of the whole map,
     * slow for strict. A committed transaction is in the page cache either way, so a
     * kill -9 of the process loses nothing committed. */
    else if (o.write_map && o.durability != PROMO_DURABLE_STRICT)
        flags |= MDB_WRITEMAP;
    if ((rc = mdb_env_create(&s->env)) || (rc = mdb_env_set_mapsize(s->env, (size_t)o.map_size)) ||
        (rc = mdb_env_set_maxreaders(s->env, 4096)) ||
        (rc = mdb_env_open(s->env, dir, flags, 0666))) {
        snprintf(s->err, sizeof s->err, "cannot open the state store %s: %s", dir,
                 mdb_strerror(rc));
        st = PROMO_ESTATE;
        goto fail;
    }
    int dead;
    mdb_reader_check(s->env, &dead); /* reader slots of killed processes */
    MDB_txn *t = NULL;
    uint32_t format = 0;
    if (!(rc = mdb_txn_begin(s->env, NULL, o.read_only ? MDB_RDONLY : 0, &t)) &&
        !(rc = mdb_dbi_open(t, NULL, 0, &s->dbi)) && !(rc = lm_meta(s, t)) &&
        !(rc = lm_format(s, t, &format))) {
        rc = mdb_txn_commit(t); /* frees t, committed or not */
        t = NULL;
    }
    if (rc) {
        if (t) mdb_txn_abort(t); /* a refused store: nothing of the open stays behind */
        if (rc == MDB_INCOMPATIBLE && format)
            snprintf(s->err, sizeof s->err,
                     "the state store %s is in store format %u; this promo reads format %u "
                     "only: export it (promo state export) with the promo that wrote it and "
                     "import the export into a new directory",
                     dir, format, LM_FORMAT);
        else
            snprintf(s->err, sizeof s->err, "cannot open the state store %s: %s", dir,
                     mdb_strerror(rc));
        st = PROMO_ESTATE;
        goto fail;
    }
    out->ops = &lm_ops;
    out->self = s;
    return PROMO_OK;
fail:
    if (errbuf && errlen) snprintf(errbuf, errlen, "%s", s->err);
    lm_destroy(s);
    return st;
}

/* ------------------------------------------------ promo state (internal) ---- */

int store_lmdb_is(const promo_store *s) {
    return s && s->ops == &lm_ops;
}

int store_lmdb_each(promo_store *ps,
                    int (*f)(void *u, const void *k, size_t kl, const void *v, size_t vl),
                    void *u) {
    lm_store *s = ps->self;
    lm_sync(s);
    MDB_txn *t;
    MDB_cursor *c;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &t)) return -1;
    if (mdb_cursor_open(t, s->dbi, &c)) {
        mdb_txn_abort(t);
        return -1;
    }
    MDB_val k, v;
    void *buf = NULL; /* a customer record decoded */
    size_t cap = 0;
    int r = 0, rc = mdb_cursor_get(c, &k, &v, MDB_FIRST);
    while (!rc && !r) {
        const char *kp = k.mv_data;
        /* the logical entries: a journal entry under its receipt's key, not the
         * sequence-keyed copy (nor the store format, which an import does not carry) */
        if (kp[0] == 'S' ||
            (k.mv_size == sizeof LM_FORMAT_KEY - 1 && !memcmp(kp, LM_FORMAT_KEY, k.mv_size))) {
        } else if (kp[0] == 'J' && lm_resolve(s, t, &v)) {
            r = -1; /* a reference to nothing */
            break;
        } else if (kp[0] == 'C') { /* in skv_rec_hdr form */
            const void *p;
            int nomem;
            size_t len = skv_rec_decode(&s->kv, v.mv_data, v.mv_size, &buf, &cap, &p, &nomem);
            if (!len || (p != buf && !skv_grow(&s->kv.alloc, &buf, &cap, len))) {
                r = -1;
                break;
            }
            if (p != buf) memmove(buf, p, len);
            r = f(u, k.mv_data, k.mv_size, buf, len);
        } else {
            r = f(u, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
        }
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    mdb_txn_abort(t);
    pa_free(&s->kv.alloc, buf);
    return r;
}

int store_lmdb_put_raw(promo_store *ps, const void *k, size_t kl, const void *v, size_t vl) {
    lm_store *s = ps->self;
    lm_ref ref;
    char ns = kl ? *(const char *)k : 0;
    /* the namespaces of store_kv.h, not the store's own layout (sequence keys,
     * references, the format) */
    if (ns == 'M' && kl == sizeof LM_FORMAT_KEY - 1 && !memcmp(k, LM_FORMAT_KEY, kl)) return 0;
    if ((ns != 'B' && ns != 'C' && ns != 'J' && ns != 'M') || (ns == 'J' && lm_is_ref(v, vl, &ref)))
        return -1;
    pthread_mutex_lock(&s->kv.wmu);
    if (ns == 'C') { /* a record in skv_rec_hdr form, kept compact */
        if (!skv_grow(&s->kv.alloc, &s->kv.abuf, &s->kv.acap, vl ? vl : 1)) {
            pthread_mutex_unlock(&s->kv.wmu);
            return -1;
        }
        memcpy(s->kv.abuf, v, vl);
        vl = skv_rec_encode(&s->kv, s->kv.abuf, vl, &s->kv.ebuf, &s->kv.ecap);
        v = s->kv.ebuf;
        if (!vl) {
            pthread_mutex_unlock(&s->kv.wmu);
            return -1;
        }
    }
    int r = skv_map_put(&s->kv.map, k, kl, v, vl);
    int sync = !r && s->kv.map.count >= LM_OVERLAY_MAX;
    pthread_mutex_unlock(&s->kv.wmu);
    if (sync && lm_sync(s) != PROMO_OK) r = -1;
    return r;
}
