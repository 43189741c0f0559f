/*
 * pstore.c — a partition's LMDB store with its write set (pstore.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bundle.h"
#include "engine_int.h"
#include "lease.h"
#include "pstore.h"
#include "store_internal.h"

/* Serialized write: header, then customer, deltas, budgets, jkey, jdata, jkey2, jdata2. */
typedef struct ps_hdr {
    uint32_t len; /* of the whole write, header included */
    uint32_t cust_n, ndeltas, nbudgets;
    uint32_t jkey_n, jlen, jkey2_n, jlen2;
    int32_t prune_before;
    uint32_t flags; /* bit 0: customer, 1: jkey, 2: jkey2, 3: jcreate */
} ps_hdr;

enum { PS_CUST = 1, PS_JKEY = 2, PS_JKEY2 = 4, PS_JCREATE = 8 };

static ps_store *ps_of(void *self) {
    return self;
}

static promo_status ps_read(void *self, void **reader, promo_str customer, promo_store_rec *out) {
    ps_store *s = ps_of(self);
    return s->lm.ops->read(s->lm.self, reader, customer, out);
}

static promo_status ps_journal(void *self, void **reader, promo_str key, const void **data,
                               size_t *len) {
    ps_store *s = ps_of(self);
    return s->lm.ops->journal(s->lm.self, reader, key, data, len);
}

#define PS_VIEW_MS 100 /* a tail budget's record is read for the engine's view this often */

static ps_budget *ps_find(ps_store *s, uint64_t key) {
    if (!s->pool) return NULL;
    for (uint32_t i = 0; i < s->pool->nb; i++)
        if (s->pool->b[i].key == key) return &s->pool->b[i];
    return NULL;
}

static int64_t ps_held(ps_budget *b) {
    pthread_mutex_lock(&b->mu);
    int64_t h = b->esc.held;
    pthread_mutex_unlock(&b->mu);
    return h;
}

/* Puts `amount` taken back into the node's slice. */
static void ps_put_back(ps_budget *b, int64_t amount) {
    pthread_mutex_lock(&b->mu);
    b->esc.held += amount;
    b->esc.spent -= amount;
    pthread_mutex_unlock(&b->mu);
}

/* The spend the engine should see: cap − (held + unallocated). */
static int ps_view(ps_store *s, ps_budget *b, int64_t *spent) {
    esc_rec r;
    if (esc_read_rec(s->pool->t, &b->esc, &r) != TP_OK) return -1;
    pthread_mutex_lock(&b->mu);
    int64_t free_ = r.cap - r.granted + b->esc.held + esc_others_reserved(&b->esc, &r);
    pthread_mutex_unlock(&b->mu);
    *spent = b->cap - (free_ < 0 ? 0 : free_ > b->cap ? b->cap : free_);
    return 0;
}

static promo_status ps_budget_of(void *self, uint64_t key, int64_t *spent) {
    ps_store *s = ps_of(self);
    ps_budget *b = ps_find(s, key);
    if (!b) return s->lm.ops->budget(s->lm.self, key, spent);
    return ps_view(s, b, spent) ? PROMO_ESTATE : PROMO_OK;
}

static void ps_set_view(ps_store *s, ps_budget *b, int64_t spent) {
    stk_budget *c = s->eng ? eng_budget_find(s->eng, b->key) : NULL;
    if (c) atomic_store(&c->spent, spent);
}

/* Takes the write's positive budget deltas from the escrow. 0 taken; 1 short (nothing
 * kept, the engine's view lowered); -1 engine trouble (nothing kept). */
static int ps_take(ps_store *s, const promo_store_write *w) {
    size_t i;
    int rc = 0;
    for (i = 0; i < w->nbudgets; i++) {
        ps_budget *b = ps_find(s, w->budgets[i].key);
        int64_t add = w->budgets[i].add, got = 0;
        if (!b || add <= 0) continue;
        pthread_mutex_lock(&b->mu);
        if (esc_take(s->pool->t, &b->esc, add, &got) != TP_OK)
            rc = -1;
        else if (got < add)
            rc = 1;
        if (rc) {
            b->esc.held += got; /* put back this delta's partial take */
            b->esc.spent -= got;
        }
        pthread_mutex_unlock(&b->mu);
        if (rc) break;
    }
    if (!rc) return 0;
    for (size_t j = 0; j < i; j++) { /* and the earlier deltas' whole takes */
        ps_budget *b = ps_find(s, w->budgets[j].key);
        if (b && w->budgets[j].add > 0) ps_put_back(b, w->budgets[j].add);
    }
    /* the engine now sees what is really held: it evaluates again against that */
    for (size_t j = 0; j < w->nbudgets; j++) {
        ps_budget *b = ps_find(s, w->budgets[j].key);
        if (b) ps_set_view(s, b, b->cap - ps_held(b));
    }
    return rc;
}

static void ps_untake(ps_store *s, const promo_store_write *w) {
    for (size_t j = 0; j < w->nbudgets; j++) {
        ps_budget *b = ps_find(s, w->budgets[j].key);
        if (b && w->budgets[j].add > 0) ps_put_back(b, w->budgets[j].add);
    }
}

static void ps_record(strbuf *b, const promo_store_write *w) {
    ps_hdr h = {0};
    h.cust_n = w->customer.p ? w->customer.n : 0;
    h.ndeltas = w->customer.p ? (uint32_t)w->ndeltas : 0;
    h.nbudgets = (uint32_t)w->nbudgets;
    h.jkey_n = w->jkey.p ? w->jkey.n : 0;
    h.jlen = w->jkey.p ? (uint32_t)w->jlen : 0;
    h.jkey2_n = w->jkey2.p ? w->jkey2.n : 0;
    h.jlen2 = w->jkey2.p ? (uint32_t)w->jlen2 : 0;
    h.prune_before = w->prune_before;
    h.flags = (w->customer.p ? PS_CUST : 0) | (w->jkey.p ? PS_JKEY : 0) |
              (w->jkey2.p ? PS_JKEY2 : 0) | (w->jcreate ? PS_JCREATE : 0);
    h.len = (uint32_t)(sizeof h + h.cust_n + h.ndeltas * sizeof(promo_delta) +
                       h.nbudgets * sizeof(promo_budget_delta) + h.jkey_n + h.jlen + h.jkey2_n +
                       h.jlen2);
    sb_add(b, &h, sizeof h);
    sb_add(b, w->customer.p, h.cust_n);
    sb_add(b, w->deltas, h.ndeltas * sizeof(promo_delta));
    sb_add(b, w->budgets, h.nbudgets * sizeof(promo_budget_delta));
    sb_add(b, w->jkey.p, h.jkey_n);
    sb_add(b, w->jdata, h.jlen);
    sb_add(b, w->jkey2.p, h.jkey2_n);
    sb_add(b, w->jdata2, h.jlen2);
}

static promo_status ps_write(void *self, const promo_store_write *w) {
    ps_store *s = ps_of(self);
    int short_ = s->pool ? ps_take(s, w) : 0;
    if (short_) return short_ > 0 ? PROMO_ECONFLICT : PROMO_ESTATE;
    promo_status st = s->lm.ops->write(s->lm.self, w);
    if (st != PROMO_OK) {
        if (s->pool) ps_untake(s, w);
        return st;
    }
    ps_record(&s->wset, w);
    s->nwrites++;
    for (size_t j = 0; j < w->nbudgets; j++) {
        ps_budget *b = ps_find(s, w->budgets[j].key);
        if (b && w->budgets[j].add < 0) s->back[b - s->pool->b] -= w->budgets[j].add;
    }
    return PROMO_OK;
}

static promo_status ps_sync(void *self) {
    (void)self; /* durability is ps_commit's, after the changelog append */
    return PROMO_OK;
}

static void ps_reader_free(void *self, void *reader) {
    ps_store *s = ps_of(self);
    s->lm.ops->reader_free(s->lm.self, reader);
}

static void ps_destroy(void *self) {
    (void)self; /* the node closes the store (ps_close) */
}

static int32_t ps_horizon(void *self) { /* the partition store's return window */
    ps_store *s = ps_of(self);
    return s->lm.ops->horizon(s->lm.self);
}

static const promo_store_ops ps_ops = {
    sizeof(promo_store_ops), ps_read,    ps_journal, ps_budget_of, ps_write, ps_sync,
    ps_reader_free,          ps_destroy, ps_horizon};

static void ps_path(char *buf, size_t cap, const char *root, uint32_t part, const char *file) {
    snprintf(buf, cap, "%s/p%u%s%s", root, part, file ? "/" : "", file ? file : "");
}

int ps_open(ps_store *s, const char *root, uint32_t part, int32_t return_window, char *err,
            size_t errlen) {
    memset(s, 0, sizeof *s);
    mkdir(root, 0777);
    ps_path(s->dir, sizeof s->dir, root, part, NULL);
    promo_store_opts o;
    promo_store_opts_init(&o);
    o.group_commit = 1;
    /* The return window (promo node --return-window, docs/semantics.md "Return window"):
     * expiry is a rule on the journal entries' stored cnow, so the owner that pruned and
     * a taker that replays the changelog onto an older snapshot answer alike. */
    o.return_window = return_window;
    if (promo_store_open(s->dir, &o, &s->lm, err, errlen) != PROMO_OK) return -1;
    s->wrap = (promo_store){&ps_ops, s};
    char mp[4200];
    ps_path(mp, sizeof mp, root, part, "node.seq");
    FILE *f = fopen(mp, "r");
    if (f) {
        if (fscanf(f, "%" SCNu64 " %" SCNu64, &s->log_seq, &s->in_seq) != 2)
            s->log_seq = s->in_seq = 0;
        fclose(f);
    }
    return 0;
}

void ps_close(ps_store *s) {
    if (s->lm.ops) s->lm.ops->destroy(s->lm.self); /* no sync: uncommitted writes go */
    s->lm.ops = NULL;
    sb_free(&s->wset);
}

void ps_wipe(const char *root, uint32_t part) {
    static const char *const files[] = {"data.mdb", "lock.mdb", "node.seq", "node.seq.tmp"};
    char p[4200];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        ps_path(p, sizeof p, root, part, files[i]);
        unlink(p);
    }
    ps_path(p, sizeof p, root, part, NULL);
    rmdir(p);
}

int ps_commit(ps_store *s, uint64_t log_seq, uint64_t in_seq) {
    if (promo_store_sync(&s->lm) != PROMO_OK) return -1;
    s->wset.len = 0;
    s->nwrites = 0;
    s->log_seq = log_seq;
    s->in_seq = in_seq;
    /* The marker may lag the store (a crash between the two): replay is idempotent. */
    char p[4200], q[4200];
    snprintf(p, sizeof p, "%s/node.seq.tmp", s->dir);
    snprintf(q, sizeof q, "%s/node.seq", s->dir);
    FILE *f = fopen(p, "w");
    if (!f) return -1;
    fprintf(f, "%" PRIu64 " %" PRIu64 "\n", log_seq, in_seq);
    if (fclose(f) != 0 || rename(p, q) != 0) return -1;
    return 0;
}

/* 1: the write's new journal key exists (the write was applied before). */
static int ps_applied(ps_store *s, void **rd, promo_str key) {
    const void *d = NULL;
    size_t n = 0;
    if (s->lm.ops->journal(s->lm.self, rd, key, &d, &n) != PROMO_OK) {
        snprintf(s->err, sizeof s->err, "journal read failed");
        return -1;
    }
    return d != NULL;
}

int ps_apply(ps_store *s, const char *data, size_t len, size_t *applied) {
    const char *p = data, *end = data + len;
    void *rd = NULL;
    int rc = 0;
    *applied = 0;
    promo_delta *dl = NULL;
    promo_budget_delta *bl = NULL;
    while (p < end && rc == 0) {
        ps_hdr h;
        if ((size_t)(end - p) < sizeof h) {
            rc = -1;
            break;
        }
        memcpy(&h, p, sizeof h);
        if (h.len < sizeof h || h.len > (size_t)(end - p)) {
            snprintf(s->err, sizeof s->err, "corrupt write set at byte %zu", (size_t)(p - data));
            rc = -1;
            break;
        }
        const char *q = p + sizeof h;
        promo_store_write w = {0};
        w.expected = UINT64_MAX;
        w.prune_before = h.prune_before;
        if (h.flags & PS_CUST) w.customer = (promo_str){q, h.cust_n};
        q += h.cust_n;
        /* copies: the record need not be aligned */
        dl = realloc(dl, (h.ndeltas + 1) * sizeof *dl);
        bl = realloc(bl, (h.nbudgets + 1) * sizeof *bl);
        if (!dl || !bl) {
            rc = -1;
            break;
        }
        memcpy(dl, q, h.ndeltas * sizeof *dl);
        q += h.ndeltas * sizeof *dl;
        memcpy(bl, q, h.nbudgets * sizeof *bl);
        q += h.nbudgets * sizeof *bl;
        w.deltas = dl;
        w.ndeltas = h.ndeltas;
        w.budgets = bl;
        w.nbudgets = h.nbudgets;
        if (h.flags & PS_JKEY) w.jkey = (promo_str){q, h.jkey_n};
        q += h.jkey_n;
        w.jdata = q;
        w.jlen = h.jlen;
        q += h.jlen;
        if (h.flags & PS_JKEY2) w.jkey2 = (promo_str){q, h.jkey2_n};
        q += h.jkey2_n;
        w.jdata2 = q;
        w.jlen2 = h.jlen2;
        /* the key this write created: a confirm's receipt, a cancel's / return's refund */
        promo_str mark = (h.flags & PS_JKEY2) ? w.jkey2 : w.jkey;
        int done = mark.p ? ps_applied(s, &rd, mark) : 0;
        if (done < 0) {
            rc = -1;
        } else if (!done) {
            promo_status st = s->lm.ops->write(s->lm.self, &w);
            if (st != PROMO_OK) {
                snprintf(s->err, sizeof s->err, "write %zu: %s", *applied, promo_strerror(st));
                rc = -1;
            }
            (*applied)++;
        }
        p += h.len;
    }
    free(dl);
    free(bl);
    if (rd) s->lm.ops->reader_free(s->lm.self, rd);
    return rc;
}

/* ---- checkpoints: the whole store as (u32 key length, u32 value length, key, value)* - */

static int ps_export_one(void *u, const void *k, size_t kl, const void *v, size_t vl) {
    uint32_t h[2] = {(uint32_t)kl, (uint32_t)vl};
    sb_add(u, h, sizeof h);
    sb_add(u, k, kl);
    sb_add(u, v, vl);
    return 0;
}

int ps_export(ps_store *s, strbuf *out) {
    return store_lmdb_each(&s->lm, ps_export_one, out) ? -1 : 0;
}

int ps_restore(ps_store *s, const char *data, size_t len) {
    const char *p = data, *end = data + len;
    while (p < end) {
        uint32_t h[2];
        if ((size_t)(end - p) < sizeof h) return -1;
        memcpy(h, p, sizeof h);
        p += sizeof h;
        if ((size_t)(end - p) < (size_t)h[0] + h[1]) return -1;
        if (store_lmdb_put_raw(&s->lm, p, h[0], p + h[0], h[1]) != 0) return -1;
        p += (size_t)h[0] + h[1];
    }
    return 0;
}

/* ---- budgets through the escrow ------------------------------------------------------ */

/* The refill thread: tail reservations of finished batches go back; every budget under
 * half a slice gets a slice (not in the tail). Both with no lock held; a budget whose
 * lock is taken (a partition granting in the tail) is skipped this round, so that one
 * campaign's tail holds no other campaign's refill up. */
static void *ps_refill_main(void *arg) {
    struct ps_refiller *me = arg;
    ps_pool *pool = me->pool;
    while (!pool->stop) {
        /* two passes: the budgets nearly spent first (urgent), then the others */
        for (uint32_t k = 0; k < 2 * pool->nb && !pool->stop; k++) {
            uint32_t i = k % pool->nb;
            int urgent = k < pool->nb;
            if (i % PS_REFILLERS != me->first) continue;
            ps_budget *b = &pool->b[i];
            esc_budget copy;
            if (urgent && atomic_load(&b->settle_due)) {
                if (pthread_mutex_trylock(&b->mu) != 0) continue;
                atomic_store(&b->settle_due, 0);
                int due = esc_settle_begin(&b->esc, &copy);
                pthread_mutex_unlock(&b->mu);
                if (due) {
                    esc_settle_run(pool->t, &copy);
                    pthread_mutex_lock(&b->mu);
                    esc_settle_end(&b->esc, &copy);
                    b->seen_ms = 0; /* the view changed */
                    pthread_mutex_unlock(&b->mu);
                }
            }
            if (pthread_mutex_trylock(&b->mu) != 0) continue;
            int due = esc_refill_begin(&b->esc, &copy, urgent);
            pthread_mutex_unlock(&b->mu);
            if (!due) continue;
            esc_refill_run(pool->t, &copy);
            pthread_mutex_lock(&b->mu);
            esc_refill_end(&b->esc, &copy);
            pthread_mutex_unlock(&b->mu);
        }
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

int ps_pool_open(ps_pool *pool, tp *t, const promo_bundle *bundle) {
    memset(pool, 0, sizeof *pool);
    pool->t = t;
    for (uint32_t i = 0; i < bundle->ncampaigns; i++) {
        if (bundle->campaigns[i].budget < 0) continue;
        pool->b = realloc(pool->b, (pool->nb + 1) * sizeof *pool->b);
        if (!pool->b) return -1;
        ps_budget *b = &pool->b[pool->nb];
        memset(b, 0, sizeof *b);
        b->key = bundle->campaigns[i].id_hash;
        b->cap = bundle->campaigns[i].budget;
        if (esc_open(t, promo_bundle_campaign_id(bundle, i), b->cap, &b->esc) != TP_OK) return -1;
        b->cap = b->esc.cap; /* an existing record keeps its cap */
        b->esc.async = 1;
        b->esc.reserve = 1;
        pthread_mutex_init(&b->mu, NULL);
        pool->nb++;
    }
    pool->stop = 0;
    for (uint32_t i = 0; i < PS_REFILLERS && i < pool->nb; i++) {
        pool->refiller[i] = (struct ps_refiller){pool, i};
        if (pthread_create(&pool->refill[i], NULL, ps_refill_main, &pool->refiller[i]) != 0) break;
        pool->running++;
    }
    return 0;
}

void ps_pool_close(ps_pool *pool) {
    pool->stop = 1;
    for (int i = 0; i < pool->running; i++)
        pthread_join(pool->refill[i], NULL);
    pool->running = 0;
    for (uint32_t i = 0; i < pool->nb; i++) {
        esc_release(pool->t, &pool->b[i].esc);
        pthread_mutex_destroy(&pool->b[i].mu);
    }
    free(pool->b);
    pool->b = NULL;
    pool->nb = 0;
}

int ps_budgets_open(ps_store *s, ps_pool *pool) {
    s->pool = pool;
    s->back = calloc(pool->nb + 1, sizeof *s->back);
    return s->back ? 0 : -1;
}

void ps_budgets_refresh(ps_store *s) {
    for (uint32_t i = 0; s->pool && i < s->pool->nb; i++) {
        ps_budget *b = &s->pool->b[i];
        stk_budget *c = s->eng ? eng_budget_find(s->eng, b->key) : NULL;
        int64_t floor_ = b->cap / ESC_FLOOR_DIV;
        /* only in the tail: elsewhere the view is ample, and a stale one is caught by
         * the take at write */
        if (!c || b->cap - atomic_load(&c->spent) >= ESC_TAIL_SLICES * floor_) continue;
        int64_t now = lease_now_ms();
        pthread_mutex_lock(&b->mu);
        int64_t held = b->esc.held, ex = b->esc.exhausted_ms, free_ = b->seen_free;
        int fresh = b->seen_ms && now - b->seen_ms < PS_VIEW_MS;
        pthread_mutex_unlock(&b->mu);
        if (ex && now - ex < ESC_EXHAUSTED_MS) { /* seen exhausted just now */
            free_ = 0;
        } else if (!fresh) { /* the node's partitions share one read per PS_VIEW_MS */
            esc_rec r;
            atomic_fetch_add(&s->pool->views, 1);
            if (esc_read_rec(s->pool->t, &b->esc, &r) != TP_OK) continue;
            pthread_mutex_lock(&b->mu);
            /* what others reserve comes back at the end of their batch (escrow.h) */
            free_ = r.cap - r.granted + esc_others_reserved(&b->esc, &r);
            held = b->esc.held;
            b->seen_ms = now;
            b->seen_free = free_;
            pthread_mutex_unlock(&b->mu);
        }
        free_ += held;
        atomic_store(&c->spent, b->cap - (free_ < 0 ? 0 : free_ > b->cap ? b->cap : free_));
    }
}

void ps_budgets_settle(ps_store *s, int ok) {
    for (uint32_t i = 0; s->pool && i < s->pool->nb; i++) {
        ps_budget *b = &s->pool->b[i];
        pthread_mutex_lock(&b->mu);
        if (b->esc.my_resv > 0) atomic_store(&b->settle_due, 1); /* the refill thread's */
        pthread_mutex_unlock(&b->mu);
        if (ok && s->back[i] > 0) {
            pthread_mutex_lock(&b->mu);
            esc_give_back(s->pool->t, &b->esc, s->back[i]);
            pthread_mutex_unlock(&b->mu);
        }
        s->back[i] = 0;
    }
}

void ps_budgets_close(ps_store *s) {
    free(s->back);
    s->back = NULL;
    s->pool = NULL;
    s->eng = NULL;
}
