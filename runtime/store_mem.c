/*
 * store_mem.c — the in-memory per-customer state store (runtime stage "state"): the
 * default promo_store behind limits and history. Customers are spread over shards by
 * their hash, one mutex per shard; each customer holds a version and an
 * open-addressing table of counters keyed by (key, day).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "promo.h"
#include "store_mem.h"

#define MS_SHARDS 64

typedef struct ms_cell {
    uint64_t key;
    int32_t day;
    int used;
    int64_t value;
} ms_cell;

typedef struct ms_cust {
    uint64_t id;
    int used;
    uint64_t version;
    ms_cell *cells;
    uint32_t ncells, capcells; /* capcells: 0 or a power of two */
} ms_cust;

typedef struct ms_shard {
    pthread_mutex_t mu;
    const promo_allocator *a; /* the store's */
    ms_cust *tab;
    uint32_t n, cap; /* cap: 0 or a power of two */
} ms_shard;

typedef struct ms_store {
    ms_shard shards[MS_SHARDS];
    promo_allocator alloc;
} ms_store;

static uint64_t ms_mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static ms_shard *ms_shard_of(ms_store *s, uint64_t customer) {
    return &s->shards[ms_mix(customer) % MS_SHARDS];
}

static ms_cust *ms_find(ms_shard *sh, uint64_t id) {
    if (!sh->cap) return NULL;
    uint32_t mask = sh->cap - 1;
    for (uint32_t i = (uint32_t)(ms_mix(id) >> 7) & mask;; i = (i + 1) & mask) {
        if (!sh->tab[i].used) return NULL;
        if (sh->tab[i].id == id) return &sh->tab[i];
    }
}

static ms_cust *ms_insert_slot(ms_cust *tab, uint32_t cap, uint64_t id) {
    uint32_t mask = cap - 1;
    uint32_t i = (uint32_t)(ms_mix(id) >> 7) & mask;
    while (tab[i].used)
        i = (i + 1) & mask;
    return &tab[i];
}

static ms_cust *ms_get(ms_shard *sh, uint64_t id) {
    ms_cust *c = ms_find(sh, id);
    if (c) return c;
    if ((sh->n + 1) * 10 > sh->cap * 7) {
        uint32_t nc = sh->cap ? sh->cap * 2 : 64;
        ms_cust *t = pa_calloc(sh->a, nc, sizeof *t);
        if (!t) return NULL;
        for (uint32_t i = 0; i < sh->cap; i++)
            if (sh->tab[i].used) *ms_insert_slot(t, nc, sh->tab[i].id) = sh->tab[i];
        pa_free(sh->a, sh->tab);
        sh->tab = t;
        sh->cap = nc;
    }
    c = ms_insert_slot(sh->tab, sh->cap, id);
    memset(c, 0, sizeof *c);
    c->id = id;
    c->used = 1;
    sh->n++;
    return c;
}

static uint32_t ms_cell_hash(uint64_t key, int32_t day) {
    return (uint32_t)(ms_mix(key ^ ((uint64_t)(uint32_t)day * 0x9E3779B97F4A7C15ull)) >> 11);
}

static ms_cell *ms_cell_find(const ms_cust *c, uint64_t key, int32_t day) {
    if (!c->capcells) return NULL;
    uint32_t mask = c->capcells - 1;
    for (uint32_t i = ms_cell_hash(key, day) & mask;; i = (i + 1) & mask) {
        ms_cell *e = &c->cells[i];
        if (!e->used) return NULL;
        if (e->key == key && e->day == day) return e;
    }
}

/* Makes room for `extra` more cells (so apply cannot fail halfway). */
static int ms_cells_reserve(const promo_allocator *a, ms_cust *c, uint32_t extra) {
    if ((uint64_t)(c->ncells + extra) * 10 <= (uint64_t)c->capcells * 7) return 0;
    uint32_t nc = c->capcells ? c->capcells : 16;
    while ((uint64_t)(c->ncells + extra) * 10 > (uint64_t)nc * 7)
        nc *= 2;
    ms_cell *t = pa_calloc(a, nc, sizeof *t);
    if (!t) return -1;
    for (uint32_t i = 0; i < c->capcells; i++) {
        ms_cell *e = &c->cells[i];
        if (!e->used) continue;
        uint32_t j = ms_cell_hash(e->key, e->day) & (nc - 1);
        while (t[j].used)
            j = (j + 1) & (nc - 1);
        t[j] = *e;
    }
    pa_free(a, c->cells);
    c->cells = t;
    c->capcells = nc;
    return 0;
}

static void ms_cell_add(ms_cust *c, uint64_t key, int32_t day, int64_t add) {
    ms_cell *e = ms_cell_find(c, key, day);
    if (!e) {
        uint32_t mask = c->capcells - 1, i = ms_cell_hash(key, day) & mask;
        while (c->cells[i].used)
            i = (i + 1) & mask;
        e = &c->cells[i];
        *e = (ms_cell){key, day, 1, 0};
        c->ncells++;
    }
    if (__builtin_add_overflow(e->value, add, &e->value))
        e->value = add < 0 ? INT64_MIN : INT64_MAX;
}

static promo_status ms_sum_range(void *self, uint64_t customer, uint64_t key, int32_t from,
                                 int32_t to, int64_t *out) {
    ms_shard *sh = ms_shard_of(self, customer);
    int64_t sum = 0;
    pthread_mutex_lock(&sh->mu);
    const ms_cust *c = ms_find(sh, customer);
    if (c && from <= to) {
        if ((int64_t)to - from + 1 <= (int64_t)c->ncells) {
            for (int64_t d = from; d <= to; d++) {
                const ms_cell *e = ms_cell_find(c, key, (int32_t)d);
                if (e && __builtin_add_overflow(sum, e->value, &sum)) sum = INT64_MAX;
            }
        } else {
            for (uint32_t i = 0; i < c->capcells; i++) {
                const ms_cell *e = &c->cells[i];
                if (e->used && e->key == key && e->day >= from && e->day <= to &&
                    __builtin_add_overflow(sum, e->value, &sum))
                    sum = INT64_MAX;
            }
        }
    }
    pthread_mutex_unlock(&sh->mu);
    *out = sum;
    return PROMO_OK;
}

static promo_status ms_version(void *self, uint64_t customer, uint64_t *out) {
    ms_shard *sh = ms_shard_of(self, customer);
    pthread_mutex_lock(&sh->mu);
    const ms_cust *c = ms_find(sh, customer);
    *out = c ? c->version : 0;
    pthread_mutex_unlock(&sh->mu);
    return PROMO_OK;
}

static promo_status ms_apply(void *self, uint64_t customer, uint64_t expected,
                             const promo_delta *deltas, size_t n) {
    ms_shard *sh = ms_shard_of(self, customer);
    promo_status st = PROMO_OK;
    pthread_mutex_lock(&sh->mu);
    ms_cust *c = ms_get(sh, customer);
    if (!c) {
        st = PROMO_ENOMEM;
    } else if (c->version != expected) {
        st = PROMO_ECONFLICT;
    } else if (n > UINT32_MAX / 2 || ms_cells_reserve(sh->a, c, (uint32_t)n)) {
        st = PROMO_ENOMEM;
    } else {
        for (size_t i = 0; i < n; i++)
            ms_cell_add(c, deltas[i].key, deltas[i].day, deltas[i].add);
        c->version++;
    }
    pthread_mutex_unlock(&sh->mu);
    return st;
}

static void ms_destroy(void *self) {
    ms_store *s = self;
    if (!s) return;
    for (int i = 0; i < MS_SHARDS; i++) {
        ms_shard *sh = &s->shards[i];
        for (uint32_t k = 0; k < sh->cap; k++)
            pa_free(&s->alloc, sh->tab[k].cells);
        pa_free(&s->alloc, sh->tab);
        pthread_mutex_destroy(&sh->mu);
    }
    promo_allocator a = s->alloc;
    pa_free(&a, s);
}

static const promo_store_ops ms_ops = {ms_sum_range, ms_version, ms_apply, ms_destroy};

promo_status store_mem_new(const promo_allocator *a, promo_store *out) {
    if (!out) return PROMO_EARG;
    out->ops = NULL;
    out->self = NULL;
    a = pa_or_default(a);
    ms_store *s = pa_calloc(a, 1, sizeof *s);
    if (!s) return PROMO_ENOMEM;
    s->alloc = *a;
    for (int i = 0; i < MS_SHARDS; i++) {
        pthread_mutex_init(&s->shards[i].mu, NULL);
        s->shards[i].a = &s->alloc;
    }
    out->ops = &ms_ops;
    out->self = s;
    return PROMO_OK;
}

promo_status promo_store_new_memory(promo_store *out) {
    return store_mem_new(NULL, out);
}

void promo_store_free(promo_store *s) {
    if (!s || !s->ops) return;
    if (s->ops->destroy) s->ops->destroy(s->self);
    s->ops = NULL;
    s->self = NULL;
}
