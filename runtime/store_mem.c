/*
 * store_mem.c — the in-memory state store (runtime stage "state") and what it shares
 * with the LMDB store (store_kv.h): a sharded hash table of byte keys -> blobs, one
 * mutex per shard for readers, one writer lock; customer records merged with their
 * deltas at write time; budgets and journal entries as plain entries.
 */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "hash.h"
#include "ops.h"
#include "store_kv.h"
#include "store_mem.h"

/* ------------------------------------------------------------------- keys ---- */

size_t skv_key(char ns, const void *text, size_t n, char *k) {
    k[0] = ns;
    if (n <= SKV_MAX_TEXT) {
        if (n) memcpy(k + 1, text, n);
        return n + 1;
    }
    memcpy(k + 1, text, SKV_MAX_TEXT - 16);
    XXH128_hash_t h = XXH3_128bits(text, n);
    memcpy(k + 1 + SKV_MAX_TEXT - 16, &h.low64, 8);
    memcpy(k + 1 + SKV_MAX_TEXT - 8, &h.high64, 8);
    return SKV_MAX_TEXT + 1;
}

void *skv_grow(const promo_allocator *a, void **buf, size_t *cap, size_t need) {
    if (need <= *cap) return *buf;
    size_t nc = *cap ? *cap : 256;
    while (nc < need)
        nc *= 2;
    void *p = pa_realloc(a, *buf, nc);
    if (!p) return NULL;
    *buf = p;
    *cap = nc;
    return p;
}

skv_reader *skv_reader_new(const promo_allocator *a) {
    return pa_calloc(a, 1, sizeof(skv_reader));
}

void skv_reader_free(const promo_allocator *a, skv_reader *r) {
    if (!r) return;
    pa_free(a, r->rbuf);
    pa_free(a, r->jbuf);
    pa_free(a, r->dbuf);
    pa_free(a, r);
}

/* -------------------------------------------------------------- hash table ---- */

static uint64_t skv_hash(const void *k, size_t n) {
    return promo_hash(k, n); /* never 0 */
}

static skv_shard *skv_shard_of(skv_map *m, uint64_t h) {
    return &m->sh[h % SKV_SHARDS];
}

static skv_ent *skv_find(skv_shard *sh, uint64_t h, const void *k, size_t n) {
    if (!sh->cap) return NULL;
    uint32_t mask = sh->cap - 1;
    for (uint32_t i = (uint32_t)(h >> 8) & mask;; i = (i + 1) & mask) {
        skv_ent *e = &sh->tab[i];
        if (!e->h) return NULL;
        if (e->h == h && e->klen == n && !memcmp(e->key, k, n)) return e;
    }
}

int skv_map_get(skv_map *m, const void *key, size_t klen, void **buf, size_t *cap, size_t *len) {
    uint64_t h = skv_hash(key, klen);
    skv_shard *sh = skv_shard_of(m, h);
    int r = 0;
    pthread_mutex_lock(&sh->mu);
    const skv_ent *e = skv_find(sh, h, key, klen);
    if (e) {
        r = -1;
        if (skv_grow(m->a, buf, cap, e->vlen ? e->vlen : 1)) {
            memcpy(*buf, e->key + e->klen, e->vlen);
            *len = e->vlen;
            r = 1;
        }
    }
    pthread_mutex_unlock(&sh->mu);
    return r;
}

static int skv_rehash(const promo_allocator *a, skv_shard *sh) {
    uint32_t nc = sh->cap ? sh->cap * 2 : 64;
    skv_ent *t = pa_calloc(a, nc, sizeof *t);
    if (!t) return -1;
    for (uint32_t i = 0; i < sh->cap; i++) {
        if (!sh->tab[i].h) continue;
        uint32_t j = (uint32_t)(sh->tab[i].h >> 8) & (nc - 1);
        while (t[j].h)
            j = (j + 1) & (nc - 1);
        t[j] = sh->tab[i];
    }
    pa_free(a, sh->tab);
    sh->tab = t;
    sh->cap = nc;
    return 0;
}

#define SKV_CHUNK ((size_t)256 << 10)

/* n bytes (8-aligned) of the slab: the chunk in use, else the next one that has room
 * (those are kept from earlier rounds), else a new one. NULL: no memory. */
static void *skv_slab_get(const promo_allocator *a, skv_slab *sl, size_t n) {
    n = (n + 7) & ~(size_t)7;
    for (; sl->cur < sl->n; sl->cur++, sl->off = 0)
        if (sl->c[sl->cur].cap - sl->off >= n) {
            void *p = sl->c[sl->cur].p + sl->off;
            sl->off += n;
            return p;
        }
    struct skv_chunk *c = pa_realloc(a, sl->c, (sl->n + 1) * sizeof *c);
    if (!c) return NULL;
    sl->c = c;
    size_t cap = n > SKV_CHUNK ? n : SKV_CHUNK;
    char *p = pa_malloc(a, cap);
    if (!p) return NULL;
    sl->c[sl->n++] = (struct skv_chunk){p, cap};
    sl->cur = sl->n - 1;
    sl->off = n;
    return p;
}

/* A block for an entry of n bytes: from the slab, or allocated on its own. */
static char *skv_ent_alloc(skv_map *m, size_t n) {
    return m->slab ? skv_slab_get(m->a, m->slab, n) : pa_malloc(m->a, n);
}

static int skv_map_put_as(skv_map *m, const void *key, size_t klen, const void *val, size_t vlen,
                          uint32_t fresh) {
    uint64_t h = skv_hash(key, klen);
    skv_shard *sh = skv_shard_of(m, h);
    int r = 0;
    pthread_mutex_lock(&sh->mu);
    skv_ent *e = skv_find(sh, h, key, klen);
    if (!e) {
        if ((sh->n + 1) * 10 > sh->cap * 7 && skv_rehash(m->a, sh)) {
            r = -1;
            goto out;
        }
        uint32_t mask = sh->cap - 1, i = (uint32_t)(h >> 8) & mask;
        while (sh->tab[i].h)
            i = (i + 1) & mask;
        char *p = skv_ent_alloc(m, klen + (vlen ? vlen : 1));
        if (!p) {
            r = -1;
            goto out;
        }
        memcpy(p, key, klen);
        e = &sh->tab[i];
        *e = (skv_ent){h, p, (uint32_t)klen, 0, (uint32_t)(vlen ? vlen : 1), fresh};
        sh->n++;
        m->count++;
    } else if (vlen > e->vcap) {
        char *p = m->slab ? skv_slab_get(m->a, m->slab, e->klen + vlen) /* the old one stays */
                          : pa_realloc(m->a, e->key, e->klen + vlen);
        if (!p) {
            r = -1;
            goto out;
        }
        if (m->slab) memcpy(p, e->key, e->klen);
        e->key = p;
        e->vcap = (uint32_t)vlen;
    }
    if (vlen) memcpy(e->key + e->klen, val, vlen);
    e->vlen = (uint32_t)vlen;
out:
    pthread_mutex_unlock(&sh->mu);
    return r;
}

int skv_map_put(skv_map *m, const void *key, size_t klen, const void *val, size_t vlen) {
    return skv_map_put_as(m, key, klen, val, vlen, 0);
}

int skv_map_put_fresh(skv_map *m, const void *key, size_t klen, const void *val, size_t vlen) {
    return skv_map_put_as(m, key, klen, val, vlen, 1);
}

int skv_map_each(skv_map *m, int (*f)(void *u, const void *k, size_t kl, const void *v, size_t vl),
                 void *u) {
    for (int s = 0; s < SKV_SHARDS; s++) {
        skv_shard *sh = &m->sh[s];
        for (uint32_t i = 0; i < sh->cap; i++) {
            const skv_ent *e = &sh->tab[i];
            if (!e->h) continue;
            int r = f(u, e->key, e->klen, e->key + e->klen, e->vlen);
            if (r) return r;
        }
    }
    return 0;
}

/* Removes slot i of sh (its entry freed), backward-shifting the probe chain after it. */
static void skv_del_at(const promo_allocator *a, skv_shard *sh, uint32_t i) {
    uint32_t mask = sh->cap - 1;
    pa_free(a, sh->tab[i].key);
    for (uint32_t j = (i + 1) & mask; sh->tab[j].h; j = (j + 1) & mask) {
        uint32_t home = (uint32_t)(sh->tab[j].h >> 8) & mask;
        /* the entry at j may move to i unless its home lies cyclically in (i, j] */
        int stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays) continue;
        sh->tab[i] = sh->tab[j];
        i = j;
    }
    sh->tab[i] = (skv_ent){0, NULL, 0, 0, 0, 0};
    sh->n--;
}

/* Empties the map; `keep`: a slab map's tables and chunks stay for the next round. */
static void skv_map_empty(skv_map *m, int keep) {
    for (int s = 0; s < SKV_SHARDS; s++) {
        skv_shard *sh = &m->sh[s];
        pthread_mutex_lock(&sh->mu);
        if (keep && sh->cap && (uint64_t)sh->n * 8 >= sh->cap) {
            memset(sh->tab, 0, sh->cap * sizeof *sh->tab);
        } else { /* (a table far larger than this round needed: its memset would cost
                  * more than growing a new one, e.g. after a bulk load) */
            if (!m->slab)
                for (uint32_t i = 0; i < sh->cap; i++)
                    pa_free(m->a, sh->tab[i].key);
            pa_free(m->a, sh->tab);
            sh->tab = NULL;
            sh->cap = 0;
        }
        sh->n = 0;
        pthread_mutex_unlock(&sh->mu);
    }
    m->count = 0;
    if (m->slab) m->slab->cur = m->slab->off = 0;
}

void skv_map_clear(skv_map *m) {
    skv_map_empty(m, m->slab != NULL);
}

void skv_map_release(skv_map *m) {
    skv_map_empty(m, 0);
    if (!m->slab) return;
    for (size_t i = 0; i < m->slab->n; i++)
        pa_free(m->a, m->slab->c[i].p);
    pa_free(m->a, m->slab->c);
    *m->slab = (skv_slab){NULL, 0, 0, 0};
}

void skv_init(skv_store *s, const promo_allocator *a) {
    memset(s, 0, sizeof *s);
    s->alloc = *pa_or_default(a);
    s->map.a = &s->alloc;
    for (int i = 0; i < SKV_SHARDS; i++)
        pthread_mutex_init(&s->map.sh[i].mu, NULL);
    pthread_mutex_init(&s->wmu, NULL);
    s->window = -1;
    s->min_day = INT32_MAX;
}

int32_t skv_horizon(const skv_store *s) {
    int32_t now = __atomic_load_n(&s->now, __ATOMIC_RELAXED);
    return s->window >= 0 && now > s->window ? now - s->window : 0;
}

static void skv_dict_free(const promo_allocator *a, struct skv_dict *d);

void skv_destroy(skv_store *s) {
    skv_map_release(&s->map);
    for (int i = 0; i < SKV_SHARDS; i++)
        pthread_mutex_destroy(&s->map.sh[i].mu);
    pthread_mutex_destroy(&s->wmu);
    pa_free(&s->alloc, s->mbuf);
    pa_free(&s->alloc, s->ebuf);
    pa_free(&s->alloc, s->dbuf);
    pa_free(&s->alloc, s->cbuf);
    pa_free(&s->alloc, s->abuf);
    pa_free(&s->alloc, s->sbuf);
    pa_free(&s->alloc, s->vbuf);
    skv_dict_free(&s->alloc, s->dict);
}

/* ----------------------------------------------------------------- records ---- */

int skv_rec_view(const void *p, size_t len, promo_store_rec *out) {
    *out = (promo_store_rec){0, NULL, 0};
    if (!len) return 0;
    if (len < sizeof(skv_rec_hdr)) return -1;
    skv_rec_hdr h;
    memcpy(&h, p, sizeof h);
    if ((len - sizeof h) / sizeof(promo_cell) < h.ncells) return -1;
    out->version = h.version;
    out->cells = (const promo_cell *)((const char *)p + sizeof h);
    out->ncells = h.ncells;
    return 0;
}

static int skv_cell_cmp(uint64_t ka, int32_t da, uint64_t kb, int32_t db) {
    if (ka != kb) return ka < kb ? -1 : 1;
    return da < db ? -1 : da > db;
}

static inline int skv_delta_lt(const promo_delta *x, const promo_delta *y) {
    return x->key != y->key ? x->key < y->key : x->day < y->day;
}

/* The general case of skv_sort_deltas, t[0, n) as scratch: insertion sort of runs of
 * 16, then merge passes; stable (glibc's qsort, a merge sort too, allocates above 1 KB:
 * a write must not). */
static void skv_merge_sort(promo_delta *d, size_t n, promo_delta *t) {
    for (size_t lo = 0; lo < n; lo += 16) {
        size_t hi = lo + 16 < n ? lo + 16 : n;
        for (size_t i = lo + 1; i < hi; i++) {
            promo_delta x = d[i];
            size_t j = i;
            for (; j > lo && skv_delta_lt(&x, &d[j - 1]); j--)
                d[j] = d[j - 1];
            d[j] = x;
        }
    }
    promo_delta *a = d, *b = t;
    for (size_t w = 16; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                b[k++] = skv_delta_lt(&a[j], &a[i]) ? a[j++] : a[i++];
            while (i < mid)
                b[k++] = a[i++];
            while (j < hi)
                b[k++] = a[j++];
        }
        promo_delta *x = a;
        a = b;
        b = x;
    }
    if (a != d) memcpy(d, a, n * sizeof *d);
}

/* Sorts d[0 .. n) by (key, day), stably (equal cells add up in the given order, which
 * matters only when a sum saturates); t[0 .. n) is scratch. The engine's deltas are one
 * sorted run (its history deltas: prefilter.h) and a few more (the visit, the limits):
 * the run is found in one pass and the rest inserted by binary search; anything else
 * goes to skv_merge_sort. */
static void skv_sort_deltas(promo_delta *d, size_t n, promo_delta *t) {
    size_t run = 1;
    while (run < n && skv_cell_cmp(d[run - 1].key, d[run - 1].day, d[run].key, d[run].day) <= 0)
        run++;
    if (run >= n) return;
    if (n - run > 16) {
        skv_merge_sort(d, n, t);
        return;
    }
    for (size_t j = run; j < n; j++) {
        promo_delta e = d[j];
        size_t lo = 0, hi = j; /* the first of d[0 .. j) greater than e */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (skv_cell_cmp(d[mid].key, d[mid].day, e.key, e.day) <= 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        memmove(d + lo + 1, d + lo, (j - lo) * sizeof *d);
        d[lo] = e;
    }
}

/* A new customer's next cell from the sorted deltas d[*j ..): the run of equal (key, day)
 * summed (saturating) into *c, *j past it. 0 when the cell is dropped (0, or a day in
 * [1, prune_before)); else 1, and *min_day lowered to its day if earlier. */
static inline __attribute__((always_inline)) int skv_new_cell(const promo_delta *d, size_t nd,
                                                              size_t *j, int32_t prune_before,
                                                              int32_t *min_day, promo_cell *c) {
    size_t k = *j;
    *c = (promo_cell){d[k].key, d[k].day, 0, d[k].add};
    for (k++; k < nd && d[k].key == c->key && d[k].day == c->day; k++)
        if (__builtin_add_overflow(c->value, d[k].add, &c->value))
            c->value = d[k].add < 0 ? INT64_MIN : INT64_MAX;
    *j = k;
    if (c->value == 0 || (c->day >= 1 && c->day < prune_before)) return 0;
    if (c->day >= 1 && c->day < *min_day) *min_day = c->day;
    return 1;
}

/*
 * Merges sorted old cells with the deltas into s->mbuf as a record of version `ver`:
 * equal (key, day) cells add up (saturating), cells of a day in [1, prune_before) and
 * cells that come to 0 are dropped. Returns the blob length, 0 on no memory.
 */
static size_t skv_merge(skv_store *s, const promo_store_rec *old, uint64_t ver,
                        const promo_delta *deltas, size_t nd, int32_t prune_before) {
    /* the deltas sorted, in the store's scratch (writer lock held): nd, then nd more */
    promo_delta *d = skv_grow(&s->alloc, &s->sbuf, &s->scap, (2 * nd + 1) * sizeof *d);
    size_t need = sizeof(skv_rec_hdr) + (old->ncells + nd) * sizeof(promo_cell);
    if (!d || !skv_grow(&s->alloc, &s->mbuf, &s->mcap, need)) return 0;
    if (nd) memcpy(d, deltas, nd * sizeof *d);
    skv_sort_deltas(d, nd, d + nd);
    promo_cell *out = (promo_cell *)((char *)s->mbuf + sizeof(skv_rec_hdr));
    uint32_t n = 0;
    size_t i = 0, j = 0;
    if (!old->ncells) { /* a new customer (most writes): the deltas alone, summed per cell */
        int32_t min_day = s->min_day;
        while (j < nd)
            if (skv_new_cell(d, nd, &j, prune_before, &min_day, &out[n])) n++;
        s->min_day = min_day;
    }
    while (i < old->ncells || j < nd) {
        promo_cell c;
        if (j == nd || (i < old->ncells && skv_cell_cmp(old->cells[i].key, old->cells[i].day,
                                                        d[j].key, d[j].day) <= 0)) {
            memcpy(&c, &old->cells[i++], sizeof c);
        } else {
            c = (promo_cell){d[j].key, d[j].day, 0, 0}; /* its deltas are added below */
        }
        while (j < nd && d[j].key == c.key && d[j].day == c.day) {
            if (__builtin_add_overflow(c.value, d[j].add, &c.value))
                c.value = d[j].add < 0 ? INT64_MIN : INT64_MAX;
            j++;
        }
        if (c.value == 0 || (c.day >= 1 && c.day < prune_before)) continue;
        if (n && out[n - 1].key == c.key && out[n - 1].day == c.day) {
            out[n - 1].value += c.value;
            continue;
        }
        if (c.day >= 1 && c.day < s->min_day) s->min_day = c.day;
        out[n++] = c;
    }
    if (!n) s->any_empty = 1;
    skv_rec_hdr h = {ver, n, 0};
    memcpy(s->mbuf, &h, sizeof h);
    return sizeof h + (size_t)n * sizeof(promo_cell);
}

/* ------------------------------------------------- compact customer records ---- */

/*
 * The in-memory store's form of a customer record (it lives only in the process, so it
 * can be anything). Most customers have a few dozen counters at most: SKV_CMP_DICT,
 * varint version, varint ncells, then per cell a varint h = zigzag(day - previous day)
 * << 1 | same key as the previous cell, the key's number in the store's key dictionary
 * (a varint) when not the same, and zigzag(value): a cell of a one-receipt record costs
 * 4-6 bytes instead of 24 (issue 15: a set with a hundred history slots gives a customer
 * ~26 cells per receipt). SKV_CMP_VAR is the same with the 8 key bytes instead of the
 * number (a key the dictionary cannot number); SKV_CMP_RAW (8 bytes) and the skv_rec_hdr
 * form when there are more than SKV_CMP_MAX cells (a busy customer's record is read in
 * place: decoding it at every receipt would cost more than it saves).
 */
enum { SKV_CMP_RAW = 0, SKV_CMP_VAR = 1, SKV_CMP_DICT = 2 };
#define SKV_CMP_MAX 128

/*
 * The key dictionary: every cell key a compact record names (history slots, limits,
 * visits: a few hundred per bundle) is numbered in order of first use. Numbers are never
 * reused or dropped, so a record stays readable for the store's life. The keys sit in
 * chunks that never move: the writer (writer lock held) fills an entry, then publishes
 * the count (release); a reader decodes a record it copied under its shard's lock, which
 * the writer took after numbering the record's keys, and checks every number against the
 * count (acquire). Past SKV_DICT_CHUNK * SKV_DICT_DIR keys, or without memory for a
 * chunk, a record is written as SKV_CMP_VAR.
 */
#define SKV_DICT_CHUNK 4096u
#define SKV_DICT_DIR   256u
struct skv_dict {
    uint64_t *chunk[SKV_DICT_DIR]; /* number -> key */
    uint32_t n;                    /* keys numbered (atomic) */
    uint32_t hcap;                 /* the writer's index: key -> number + 1 (0: empty) */
    uint64_t *hk;
    uint32_t *hv;
};

static void skv_dict_free(const promo_allocator *a, struct skv_dict *d) {
    if (!d) return;
    for (uint32_t i = 0; i < SKV_DICT_DIR && d->chunk[i]; i++)
        pa_free(a, d->chunk[i]);
    pa_free(a, d->hk);
    pa_free(a, d->hv);
    pa_free(a, d);
}

static uint32_t skv_dict_slot(uint64_t k, uint32_t mask) {
    return (uint32_t)((k * 0x9E3779B97F4A7C15ull) >> 40) & mask;
}

/* The number of key k, a new one if it has none (writer lock held); UINT32_MAX when
 * the dictionary is full or out of memory. */
static uint32_t skv_dict_id(skv_store *s, uint64_t k) {
    struct skv_dict *d = s->dict;
    if (!d && !(d = s->dict = pa_calloc(&s->alloc, 1, sizeof *d))) return UINT32_MAX;
    uint32_t mask = d->hcap - 1, i;
    if (d->hcap)
        for (i = skv_dict_slot(k, mask); d->hv[i]; i = (i + 1) & mask)
            if (d->hk[i] == k) return d->hv[i] - 1;
    uint32_t n = d->n;
    if (n >= SKV_DICT_CHUNK * SKV_DICT_DIR) return UINT32_MAX;
    if (!d->chunk[n / SKV_DICT_CHUNK] &&
        !(d->chunk[n / SKV_DICT_CHUNK] = pa_malloc(&s->alloc, SKV_DICT_CHUNK * sizeof(uint64_t))))
        return UINT32_MAX;
    if ((uint64_t)(n + 1) * 10 > (uint64_t)d->hcap * 7) { /* grow the index (writer only) */
        uint32_t nc = d->hcap ? d->hcap * 2 : 256;
        uint64_t *hk = pa_malloc(&s->alloc, nc * sizeof *hk);
        uint32_t *hv = pa_calloc(&s->alloc, nc, sizeof *hv);
        if (!hk || !hv) {
            pa_free(&s->alloc, hk);
            pa_free(&s->alloc, hv);
            return UINT32_MAX;
        }
        for (uint32_t j = 0; j < d->hcap; j++) {
            if (!d->hv[j]) continue;
            for (i = skv_dict_slot(d->hk[j], nc - 1); hv[i]; i = (i + 1) & (nc - 1)) {
            }
            hk[i] = d->hk[j];
            hv[i] = d->hv[j];
        }
        pa_free(&s->alloc, d->hk);
        pa_free(&s->alloc, d->hv);
        d->hk = hk;
        d->hv = hv;
        d->hcap = nc;
    }
    mask = d->hcap - 1;
    for (i = skv_dict_slot(k, mask); d->hv[i]; i = (i + 1) & mask) {
    }
    d->hk[i] = k;
    d->hv[i] = n + 1;
    d->chunk[n / SKV_DICT_CHUNK][n % SKV_DICT_CHUNK] = k;
    __atomic_store_n(&d->n, n + 1, __ATOMIC_RELEASE);
    return n;
}

static inline size_t skv_put_varint(unsigned char *o, uint64_t v) {
    if (v < 0x80) { /* most cells: a day or a key number in one byte */
        o[0] = (unsigned char)v;
        return 1;
    }
    if (v < 0x200000) { /* most values: two or three bytes */
        o[0] = (unsigned char)(v | 0x80);
        if (v < 0x4000) {
            o[1] = (unsigned char)(v >> 7);
            return 2;
        }
        o[1] = (unsigned char)(v >> 7 | 0x80);
        o[2] = (unsigned char)(v >> 14);
        return 3;
    }
    size_t n = 0;
    while (v >= 0x80) {
        o[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    o[n++] = (unsigned char)v;
    return n;
}

static inline __attribute__((always_inline)) int
skv_get_varint(const unsigned char **p, const unsigned char *end, uint64_t *v) {
    const unsigned char *q = *p;
    if (q < end && q[0] < 0x80) {
        *v = q[0];
        *p = q + 1;
        return 0;
    }
    if (end - q >= 2 && q[1] < 0x80) {
        *v = (uint64_t)(q[0] & 0x7f) | (uint64_t)q[1] << 7;
        *p = q + 2;
        return 0;
    }
    uint64_t x = 0;
    for (int sh = 0; sh < 64 && *p < end; sh += 7) {
        unsigned char b = *(*p)++;
        x |= (uint64_t)(b & 0x7f) << sh;
        if (!(b & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -1;
}

static uint64_t skv_zz(int64_t v) {
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t skv_unzz(uint64_t u) {
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

/* The most bytes skv_cenc writes for n cells. */
static size_t skv_cenc_max(size_t ncells) {
    return 32 + ncells * (10 + 8 + 10);
}

/* The running state of an encoder of cells (skv_enc_cell). The cells and the
 * dictionary's index are read into locals: the byte stores into the output may alias
 * anything, so the compiler would reload them after each one. */
typedef struct skv_enc {
    const uint64_t *hk;
    const uint32_t *hv;
    uint32_t mask;
    int form;
    int64_t day;
    uint64_t prev;
    int first;
} skv_enc;

static void skv_enc_init(skv_store *s, skv_enc *e, int form) {
    *e = (skv_enc){NULL, NULL, 0, form, 0, 0, 1};
    if (form == SKV_CMP_DICT && s->dict && s->dict->hcap) {
        e->hk = s->dict->hk;
        e->hv = s->dict->hv;
        e->mask = s->dict->hcap - 1;
    }
}

/* Writes the cell (key, day, value) after the previous one at o: its length, 0 when its
 * key has no number (SKV_CMP_DICT only). */
static inline __attribute__((always_inline)) size_t
skv_enc_cell(skv_store *s, skv_enc *e, uint64_t key, int32_t day, int64_t value, unsigned char *o) {
    int same = !e->first && key == e->prev;
    e->first = 0;
    e->prev = key;
    size_t n = skv_put_varint(o, skv_zz((int64_t)day - e->day) << 1 | (uint64_t)same);
    e->day = day;
    if (same) {
    } else if (e->form == SKV_CMP_VAR) {
        memcpy(o + n, &key, 8);
        n += 8;
    } else {
        uint32_t id = UINT32_MAX;
        if (e->hv)
            for (uint32_t k = skv_dict_slot(key, e->mask); e->hv[k]; k = (k + 1) & e->mask)
                if (e->hk[k] == key) {
                    id = e->hv[k] - 1;
                    break;
                }
        if (id == UINT32_MAX) { /* a new key: numbered (the index may grow) */
            if ((id = skv_dict_id(s, key)) == UINT32_MAX) return 0;
            e->hk = s->dict->hk;
            e->hv = s->dict->hv;
            e->mask = s->dict->hcap - 1;
        }
        n += skv_put_varint(o + n, id);
    }
    return n + skv_put_varint(o + n, skv_zz(value));
}

/* Encodes r (its cells aligned) as `form` (SKV_CMP_DICT or SKV_CMP_VAR) into out: its
 * length, 0 when a key has no number (SKV_CMP_DICT only). */
static size_t skv_cenc_as(skv_store *s, const promo_store_rec *r, int form, unsigned char *out) {
    skv_enc e;
    skv_enc_init(s, &e, form);
    const promo_cell *cells = r->cells;
    uint32_t nc = r->ncells;
    out[0] = (unsigned char)form;
    size_t n = 1 + skv_put_varint(out + 1, r->version);
    n += skv_put_varint(out + n, nc);
    for (uint32_t i = 0; i < nc; i++) {
        promo_cell c = cells[i];
        size_t m = skv_enc_cell(s, &e, c.key, c.day, c.value, out + n);
        if (!m) return 0;
        n += m;
    }
    return n;
}

/* A new customer's record straight from its deltas (no old cell), in the store's compact
 * form (SKV_CMP_DICT for the memory store's dictionary, SKV_CMP_VAR for a store that keeps
 * no dictionary: LMDB's records outlive the process) into out (skv_cenc_max(nd) + 16
 * bytes): the record skv_merge then skv_cenc would give, without the 24-byte cells
 * between. Its length; 0 when it cannot (no memory, more than SKV_CMP_MAX cells, a key
 * without a number): then skv_merge. */
static size_t skv_enc_new(skv_store *s, uint64_t ver, const promo_delta *deltas, size_t nd,
                          int32_t prune_before, unsigned char *out) {
    promo_delta *d = skv_grow(&s->alloc, &s->sbuf, &s->scap, (2 * nd + 1) * sizeof *d);
    if (!d || nd > SKV_CMP_MAX) return 0;
    if (nd) memcpy(d, deltas, nd * sizeof *d);
    skv_sort_deltas(d, nd, d + nd);
    int form = s->compact == SKV_COMPACT_DICT ? SKV_CMP_DICT : SKV_CMP_VAR;
    skv_enc e;
    skv_enc_init(s, &e, form);
    enum { GAP = 16 }; /* room for the header, written once the cells are counted */
    size_t n = GAP;
    uint32_t nc = 0;
    int32_t min_day = s->min_day;
    for (size_t j = 0; j < nd;) { /* as skv_merge with no old cell */
        promo_cell c;
        if (!skv_new_cell(d, nd, &j, prune_before, &min_day, &c)) continue;
        size_t m = skv_enc_cell(s, &e, c.key, c.day, c.value, out + n);
        if (!m) return 0;
        n += m;
        nc++;
    }
    unsigned char h[GAP];
    h[0] = (unsigned char)form;
    size_t hl = 1 + skv_put_varint(h + 1, ver);
    hl += skv_put_varint(h + hl, nc);
    memmove(out + hl, out + GAP, n - GAP);
    memcpy(out, h, hl);
    s->min_day = min_day;
    if (!nc) s->any_empty = 1;
    return hl + n - GAP;
}

/* Encodes the record rec (skv_rec_hdr form, valid, aligned) into out; its length. */
static size_t skv_cenc(skv_store *s, const void *rec, size_t len, unsigned char *out) {
    promo_store_rec r;
    skv_rec_view(rec, len, &r);
    if (r.ncells > SKV_CMP_MAX) {
        memset(out, 0, 8);
        out[0] = SKV_CMP_RAW;
        memcpy(out + 8, rec, len);
        return 8 + len;
    }
    size_t n = s->compact == SKV_COMPACT_DICT ? skv_cenc_as(s, &r, SKV_CMP_DICT, out) : 0;
    return n ? n : skv_cenc_as(s, &r, SKV_CMP_VAR, out);
}

typedef struct skv_citer {
    const unsigned char *p, *end;
    uint64_t left, key;
    int64_t day;
    const struct skv_dict *dict; /* SKV_CMP_DICT: the store's, and its count */
    uint32_t nkeys;
} skv_citer;

/* Starts reading a SKV_CMP_VAR or SKV_CMP_DICT record of store s: its version and cell
 * count. 0, or -1 malformed. */
static int skv_cbegin(const skv_store *s, skv_citer *it, const void *p, size_t len,
                      uint64_t *version) {
    it->p = p;
    it->end = it->p + len;
    if (!len || (*it->p != SKV_CMP_VAR && *it->p != SKV_CMP_DICT)) return -1;
    it->dict = NULL;
    it->nkeys = 0;
    if (*it->p++ == SKV_CMP_DICT) {
        if (!s->dict) return -1;
        it->dict = s->dict;
        it->nkeys = __atomic_load_n(&s->dict->n, __ATOMIC_ACQUIRE);
    }
    it->key = 0;
    it->day = 0;
    return skv_get_varint(&it->p, it->end, version) || skv_get_varint(&it->p, it->end, &it->left)
               ? -1
               : 0;
}

/* The next cell: 1, 0 at the end, -1 malformed. */
static inline __attribute__((always_inline)) int skv_cnext(skv_citer *it, promo_cell *c) {
    if (!it->left) return 0;
    uint64_t h, v;
    if (skv_get_varint(&it->p, it->end, &h)) return -1;
    it->day += skv_unzz(h >> 1);
    if (h & 1) {
    } else if (it->dict) {
        if (skv_get_varint(&it->p, it->end, &v) || v >= it->nkeys) return -1;
        it->key = it->dict->chunk[v / SKV_DICT_CHUNK][v % SKV_DICT_CHUNK];
    } else {
        if (it->end - it->p < 8) return -1;
        memcpy(&it->key, it->p, 8);
        it->p += 8;
    }
    if (skv_get_varint(&it->p, it->end, &v)) return -1;
    if (it->day < INT32_MIN || it->day > INT32_MAX) return -1;
    *c = (promo_cell){it->key, (int32_t)it->day, 0, skv_unzz(v)};
    it->left--;
    return 1;
}

/* The record of store s in its compact form at p in skv_rec_hdr form at *out: in place
 * (SKV_CMP_RAW: aligned when p is) or decoded into *buf (grown through s's allocator).
 * Its length, or 0 malformed / no memory (*nomem set). */
static size_t skv_cdec(const skv_store *s, const void *p, size_t len, void **buf, size_t *cap,
                       const void **out, int *nomem) {
    skv_citer it;
    uint64_t version;
    *nomem = 0;
    if (len > 8 && *(const unsigned char *)p == SKV_CMP_RAW) {
        *out = (const char *)p + 8;
        return len - 8;
    }
    *out = *buf;
    if (skv_cbegin(s, &it, p, len, &version) || it.left > len) return 0;
    size_t need = sizeof(skv_rec_hdr) + it.left * sizeof(promo_cell);
    if (!skv_grow(&s->alloc, buf, cap, need)) {
        *nomem = 1;
        return 0;
    }
    skv_rec_hdr h = {version, (uint32_t)it.left, 0};
    memcpy(*buf, &h, sizeof h);
    promo_cell *cells = (promo_cell *)((char *)*buf + sizeof h), c;
    uint32_t n = 0;
    int r;
    *out = *buf;
    while ((r = skv_cnext(&it, &c)) > 0)
        cells[n++] = c;
    return r < 0 || it.p != it.end ? 0 : need;
}

size_t skv_rec_decode(const skv_store *s, const void *p, size_t len, void **buf, size_t *cap,
                      const void **out, int *nomem) {
    return skv_cdec(s, p, len, buf, cap, out, nomem);
}

size_t skv_rec_encode(skv_store *s, const void *rec, size_t len, void **buf, size_t *cap) {
    promo_store_rec r;
    if (((uintptr_t)rec & 7) || skv_rec_view(rec, len, &r)) return 0;
    if (!skv_grow(&s->alloc, buf, cap, skv_cenc_max(r.ncells) + len)) return 0;
    return skv_cenc(s, rec, len, *buf);
}

/* The current value of a key: the map (pending writes), else the base. 1 found, 0
 * absent, SKV_NOMEM, or -1 the base failed. */
static int skv_current(skv_store *s, const char *k, size_t kl, void **buf, size_t *cap,
                       const void **p, size_t *len) {
    int r = skv_map_get(&s->map, k, kl, buf, cap, len);
    if (r < 0) return SKV_NOMEM;
    if (r) {
        *p = *buf;
        return r;
    }
    if (!s->base_get) return 0;
    return s->base_get(s->base, k, kl, p, len);
}

/* A customer record none of whose cells a window can read: every day in [1, before). */
static int skv_rec_dead(const skv_store *s, const char *v, size_t len, int32_t before) {
    promo_cell c;
    if (s->compact && len && (v[0] == SKV_CMP_VAR || v[0] == SKV_CMP_DICT)) {
        skv_citer it;
        uint64_t version;
        int r;
        if (skv_cbegin(s, &it, v, len, &version)) return 0;
        while ((r = skv_cnext(&it, &c)) > 0)
            if (c.day < 1 || c.day >= before) return 0;
        return r == 0;
    }
    if (s->compact) { /* SKV_CMP_RAW */
        if (len < 8) return 0;
        v += 8;
        len -= 8;
    }
    promo_store_rec rec;
    if (skv_rec_view(v, len, &rec)) return 0;
    for (uint32_t i = 0; i < rec.ncells; i++) {
        memcpy(&c, &rec.cells[i], sizeof c); /* the value may be unaligned */
        if (c.day < 1 || c.day >= before) return 0;
    }
    return 1;
}

/* What the sweep does with journal record e past the return window (docs/semantics.md):
 * 1 delete it (a refund record of an expired entry), 2 replace it by its tombstone (an
 * expired entry), 0 keep it. */
static int skv_journal_old(const skv_ent *e, int32_t horizon) {
    int32_t date, cnow;
    int kind = ops_rec_info(e->key + e->klen, e->vlen, &date, &cnow);
    if (cnow < 1 || cnow >= horizon) return 0;
    return kind == OPS_REC_REFUND ? 1 : kind == OPS_REC_ENTRY ? 2 : 0;
}

/* The memory store's sweep: `slots` slots on from where it stopped (writer lock held):
 * it drops the customers none of whose counters can be read any more, and replaces the
 * journal entries expired past the return window by their tombstones (their refund
 * records go). */
#define SKV_SWEEP 8 /* per write */
static void skv_sweep(skv_store *s, uint64_t slots) {
    int32_t jh = skv_horizon(s);
    /* whether a customer or a journal entry can go at all: if not, no slot is read (each
     * is a cache miss on a large map) */
    int cust = s->sweep_before > 1 && (s->any_empty || s->sweep_before > s->min_day);
    int jour = jh > 1 && s->any_journal;
    if (s->base_get || (!cust && !jour)) return;
    skv_shard *locked = NULL; /* one lock per run of slots in a shard, not one per slot */
    for (uint64_t k = 0; k < slots; k++) {
        skv_shard *sh = &s->map.sh[s->sweep_shard];
        if (s->sweep_slot >= sh->cap) {
            s->sweep_slot = 0;
            s->sweep_shard = (s->sweep_shard + 1) % SKV_SHARDS;
            continue;
        }
        if (sh != locked) {
            if (locked) pthread_mutex_unlock(&locked->mu);
            pthread_mutex_lock(&sh->mu);
            locked = sh;
        }
        skv_ent *e = &sh->tab[s->sweep_slot];
        int old;
        if (cust && e->h && e->klen && e->key[0] == 'C' &&
            skv_rec_dead(s, e->key + e->klen, e->vlen, s->sweep_before)) {
            skv_del_at(s->map.a, sh, s->sweep_slot);
            s->map.count--;
            s->ncustomers--;
        } else if (jour && e->h && e->klen && e->key[0] == 'J' && (old = skv_journal_old(e, jh))) {
            if (old == 1) {
                skv_del_at(s->map.a, sh, s->sweep_slot);
                s->map.count--;
            } else { /* in place, then shrunk (readers copy under the shard's lock) */
                char *p;
                ops_tombstone(e->key + e->klen, e->vlen, e->key + e->klen);
                e->vlen = OPS_TOMB_SIZE;
                if (!s->map.slab && (p = pa_realloc(s->map.a, e->key, e->klen + OPS_TOMB_SIZE))) {
                    e->key = p;
                    e->vcap = OPS_TOMB_SIZE;
                }
                s->sweep_slot++;
            }
        } else {
            s->sweep_slot++;
        }
    }
    if (locked) pthread_mutex_unlock(&locked->mu);
}

promo_status skv_write(skv_store *s, const promo_store_write *w) {
    char k[SKV_MAX_KEY + 16];
    size_t kl;
    static const promo_store_rec none = {0, NULL, 0};
    promo_status st = PROMO_OK;
    /* 1. checks: journal key free (a tombstone keeps it taken), customer version
     * unchanged */
    int32_t jdate = w->jkey.p && w->jcreate && w->jdata ? ops_entry_date(w->jdata, w->jlen) : 0;
    if (w->jkey.p && w->jcreate) {
        const void *p;
        size_t len;
        kl = skv_key('J', w->jkey.p, w->jkey.n, k);
        int r = skv_current(s, k, kl, &s->cbuf, &s->ccap, &p, &len);
        if (r) {
            st = r == SKV_NOMEM ? PROMO_ENOMEM : r < 0 ? PROMO_ESTATE : PROMO_ECONFLICT;
            goto out;
        }
    }
    size_t reclen = 0, enclen = 0;
    char ck[SKV_MAX_KEY + 16];
    size_t ckl = 0;
    int new_customer = 0;
    if (w->customer.p) {
        const void *p = NULL;
        size_t len = 0;
        ckl = skv_key('C', w->customer.p, w->customer.n, ck);
        int r = skv_current(s, ck, ckl, &s->cbuf, &s->ccap, &p, &len);
        promo_store_rec old = none;
        if (r > 0 && s->compact) {
            int nomem;
            if (!(len = skv_cdec(s, p, len, &s->dbuf, &s->dcap, &p, &nomem))) {
                st = nomem ? PROMO_ENOMEM : PROMO_ESTATE;
                goto out;
            }
        }
        if (r > 0 && ((uintptr_t)p & 7)) { /* LMDB data need not be aligned */
            if (!skv_grow(&s->alloc, &s->abuf, &s->acap, len ? len : 1)) {
                st = PROMO_ENOMEM;
                goto out;
            }
            memcpy(s->abuf, p, len);
            p = s->abuf;
        }
        if (r < 0 || (r > 0 && skv_rec_view(p, len, &old))) {
            st = r == SKV_NOMEM ? PROMO_ENOMEM : PROMO_ESTATE;
            goto out;
        }
        if (w->expected != UINT64_MAX && old.version != w->expected) {
            st = PROMO_ECONFLICT;
            goto out;
        }
        new_customer = r == 0;
        if (w->prune_before > s->sweep_before) s->sweep_before = w->prune_before;
        if (new_customer && s->max_customers && s->ncustomers >= s->max_customers &&
            s->sweep_before > s->full_swept) { /* at the cap: first drop the unreadable */
            uint64_t all = SKV_SHARDS;         /* every slot (a deletion re-reads its own) */
            for (int i = 0; i < SKV_SHARDS; i++)
                all += 2 * (uint64_t)s->map.sh[i].cap;
            skv_sweep(s, all);
            s->full_swept = s->sweep_before;
        }
        if (new_customer && s->max_customers && s->ncustomers >= s->max_customers) {
            st = PROMO_ELIMIT; /* refused, never forgotten: the caller reports it */
            goto out;
        }
        /* a new customer's record straight into its compact form, when it can */
        if (s->compact && !old.ncells &&
            skv_grow(&s->alloc, &s->ebuf, &s->ecap, skv_cenc_max(w->ndeltas) + 16))
            enclen =
                skv_enc_new(s, old.version + 1, w->deltas, w->ndeltas, w->prune_before, s->ebuf);
        if (!enclen && !(reclen = skv_merge(s, &old, old.version + 1, w->deltas, w->ndeltas,
                                            w->prune_before))) {
            st = PROMO_ENOMEM;
            goto out;
        }
    }
    /* 2. budgets: read every current value first, so a failure changes nothing */
    int64_t *bv = skv_grow(&s->alloc, &s->vbuf, &s->vcap, (w->nbudgets + 1) * sizeof *bv);
    if (!bv) {
        st = PROMO_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < w->nbudgets; i++) {
        const void *p;
        size_t len;
        kl = skv_key('B', &w->budgets[i].key, 8, k);
        int r = skv_current(s, k, kl, &s->cbuf, &s->ccap, &p, &len);
        int64_t v = 0;
        if (r < 0) st = r == SKV_NOMEM ? PROMO_ENOMEM : PROMO_ESTATE;
        if (r > 0 && len == 8) memcpy(&v, p, 8);
        for (size_t j = i; j-- > 0;) /* the same campaign twice: the sum so far */
            if (w->budgets[j].key == w->budgets[i].key) {
                v = bv[j];
                break;
            }
        if (__builtin_add_overflow(v, w->budgets[i].add, &v)) v = INT64_MAX;
        bv[i] = v; /* the last put of a key writes its total */
    }
    /* 3. apply (the map only grows here: a failure past this point is out of memory) */
    if (st == PROMO_OK && w->customer.p && enclen) {
        if (skv_map_put(&s->map, ck, ckl, s->ebuf, enclen)) st = PROMO_ENOMEM;
    } else if (st == PROMO_OK && w->customer.p && s->compact) {
        if (!skv_grow(&s->alloc, &s->ebuf, &s->ecap,
                      skv_cenc_max((reclen - sizeof(skv_rec_hdr)) / sizeof(promo_cell))))
            st = PROMO_ENOMEM;
        else if (skv_map_put(&s->map, ck, ckl, s->ebuf, skv_cenc(s, s->mbuf, reclen, s->ebuf)))
            st = PROMO_ENOMEM;
    } else if (st == PROMO_OK && w->customer.p && skv_map_put(&s->map, ck, ckl, s->mbuf, reclen)) {
        st = PROMO_ENOMEM;
    }
    if (st == PROMO_OK && new_customer) s->ncustomers++;
    for (size_t i = 0; st == PROMO_OK && i < w->nbudgets; i++) {
        kl = skv_key('B', &w->budgets[i].key, 8, k);
        if (skv_map_put(&s->map, k, kl, &bv[i], 8)) st = PROMO_ENOMEM;
    }
    if (st == PROMO_OK && w->jkey.p) {
        const void *jd = w->jdata;
        if (jdate >= 1 && jdate < s->now) { /* a late receipt: its cnow is the store's now */
            if (!skv_grow(&s->alloc, &s->cbuf, &s->ccap, w->jlen)) {
                st = PROMO_ENOMEM;
                goto out;
            }
            memcpy(s->cbuf, w->jdata, w->jlen);
            ops_entry_stamp(s->cbuf, w->jlen, s->now);
            jd = s->cbuf;
        }
        kl = skv_key('J', w->jkey.p, w->jkey.n, k);
        s->any_journal = 1;
        if ((w->jcreate ? skv_map_put_fresh : skv_map_put)(&s->map, k, kl, jd, w->jlen))
            st = PROMO_ENOMEM;
    }
    if (st == PROMO_OK && w->jkey2.p) {
        kl = skv_key('J', w->jkey2.p, w->jkey2.n, k);
        s->any_journal = 1;
        if (skv_map_put(&s->map, k, kl, w->jdata2, w->jlen2)) st = PROMO_ENOMEM;
    }
    if (st == PROMO_OK && jdate > s->now) { /* the store's now moves with the journal */
        if (skv_map_put(&s->map, SKV_NOW_KEY, sizeof SKV_NOW_KEY - 1, &jdate, sizeof jdate))
            st = PROMO_ENOMEM;
        else
            __atomic_store_n(&s->now, jdate, __ATOMIC_RELAXED);
    }
out:
    if (w->prune_before > s->sweep_before) s->sweep_before = w->prune_before;
    skv_sweep(s, SKV_SWEEP);
    return st;
}

/* ------------------------------------------------------------ memory store ---- */

static skv_reader *ms_reader(skv_store *s, void **reader) {
    if (!*reader) *reader = skv_reader_new(&s->alloc);
    return *reader;
}

static promo_status ms_read(void *self, void **reader, promo_str customer, promo_store_rec *out) {
    skv_store *s = self;
    skv_reader *r = ms_reader(s, reader);
    *out = (promo_store_rec){0, NULL, 0};
    if (!r) return PROMO_ENOMEM;
    char k[SKV_MAX_KEY + 16];
    size_t kl = skv_key('C', customer.p, customer.n, k), len = 0;
    int f = skv_map_get(&s->map, k, kl, &r->rbuf, &r->rcap, &len);
    if (f < 0) return PROMO_ENOMEM;
    if (!f) return PROMO_OK;
    int nomem;
    const void *rec;
    if (!(len = skv_cdec(s, r->rbuf, len, &r->dbuf, &r->dcap, &rec, &nomem)))
        return nomem ? PROMO_ENOMEM : PROMO_ESTATE;
    if (skv_rec_view(rec, len, out)) return PROMO_ESTATE;
    return PROMO_OK;
}

static promo_status ms_journal(void *self, void **reader, promo_str key, const void **data,
                               size_t *len) {
    skv_store *s = self;
    skv_reader *r = ms_reader(s, reader);
    *data = NULL;
    *len = 0;
    if (!r) return PROMO_ENOMEM;
    char k[SKV_MAX_KEY + 16];
    size_t kl = skv_key('J', key.p, key.n, k);
    int f = skv_map_get(&s->map, k, kl, &r->jbuf, &r->jcap, len);
    if (f < 0) return PROMO_ENOMEM;
    if (f) *data = r->jbuf;
    return PROMO_OK;
}

static promo_status ms_budget(void *self, uint64_t key, int64_t *spent) {
    skv_store *s = self;
    char k[SKV_MAX_KEY + 16];
    size_t kl = skv_key('B', &key, 8, k), len = 0, cap = 0;
    void *buf = NULL;
    *spent = 0;
    int f = skv_map_get(&s->map, k, kl, &buf, &cap, &len);
    if (f > 0 && len == 8) memcpy(spent, buf, 8);
    pa_free(&s->alloc, buf);
    return f < 0 ? PROMO_ENOMEM : PROMO_OK;
}

static promo_status ms_write(void *self, const promo_store_write *w) {
    skv_store *s = self;
    pthread_mutex_lock(&s->wmu);
    promo_status st = skv_write(s, w);
    pthread_mutex_unlock(&s->wmu);
    return st;
}

static promo_status ms_sync(void *self) {
    (void)self;
    return PROMO_OK;
}

static void ms_reader_free(void *self, void *reader) {
    skv_store *s = self;
    skv_reader_free(&s->alloc, reader);
}

static int32_t ms_horizon(void *self) {
    return skv_horizon(self);
}

static void ms_destroy(void *self) {
    skv_store *s = self;
    if (!s) return;
    promo_allocator a = s->alloc;
    skv_destroy(s);
    pa_free(&a, s);
}

static const promo_store_ops ms_ops = {
    sizeof(promo_store_ops), ms_read,    ms_journal, ms_budget, ms_write, ms_sync,
    ms_reader_free,          ms_destroy, ms_horizon};

int store_mem_is(const promo_store *s) {
    return s && s->ops == &ms_ops;
}

uint64_t store_mem_customers(const promo_store *s) {
    return store_mem_is(s) ? ((const skv_store *)s->self)->ncustomers : 0;
}

/* The options a caller passed (any older, smaller size), completed with the defaults. */
void store_opts_read(const promo_store_opts *opts, promo_store_opts *o) {
    promo_store_opts_init(o);
    if (opts && opts->size) memcpy(o, opts, opts->size < sizeof *o ? opts->size : sizeof *o);
    o->size = sizeof *o;
}

promo_status promo_store_new_memory_with(const promo_store_opts *opts, promo_store *out) {
    if (!out) return PROMO_EARG;
    out->ops = NULL;
    out->self = NULL;
    promo_store_opts o;
    store_opts_read(opts, &o);
    skv_store *s = pa_malloc(&o.alloc, sizeof *s);
    if (!s) return PROMO_ENOMEM;
    skv_init(s, &o.alloc);
    s->max_customers = o.max_customers;
    s->compact = SKV_COMPACT_DICT;
    s->window = o.return_window < 0 ? -1 : o.return_window;
    out->ops = &ms_ops;
    out->self = s;
    return PROMO_OK;
}

promo_status promo_store_new_memory(promo_store *out) {
    return promo_store_new_memory_with(NULL, out);
}

promo_status promo_store_sync(promo_store *s) {
    if (!s || !s->ops) return PROMO_EARG;
    return s->ops->sync(s->self);
}

void promo_store_free(promo_store *s) {
    if (!s || !s->ops) return;
    if (s->ops->sync) s->ops->sync(s->self);
    if (s->ops->destroy) s->ops->destroy(s->self);
    s->ops = NULL;
    s->self = NULL;
}

void promo_store_opts_init(promo_store_opts *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->durability = PROMO_DURABLE_PROCESS;
    o->map_size = (uint64_t)64 << 30;
    o->return_window = 180;
}

/* The engine's default store, allocating through the engine's allocator. */
promo_status store_mem_new(const promo_allocator *a, promo_store *out) {
    promo_store_opts o;
    promo_store_opts_init(&o);
    o.alloc = *pa_or_default(a);
    return promo_store_new_memory_with(&o, out);
}
