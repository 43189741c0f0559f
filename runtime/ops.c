/*
 * ops.c — the purchase protocol (runtime stage "state of record", SPEC 7.1 and
 * docs/semantics.md "Returns"): confirm writes a journal entry with the receipt, its
 * stored result and the attribution of everything it changed to its lines; cancel and
 * return reverse that attribution pro rata of the returned units, never re-evaluating.
 *
 * Journal entry (key = receipt id), one blob, native byte order:
 *   jr_hdr, customer id (padded to 8), jr_line[nlines], jr_attr[nattr],
 *   jr_limit[nlimit], jr_pts[npts], campaign ids of the points (padded), the result
 *   record packed (result_json.h: written straight from the result, ~40% of the
 *   text's size, so an entry stays under LMDB's ~2 KB limit for a value kept in its
 *   leaf page instead of an overflow page of its own).
 * Refund record (key = receipt id, NUL, refund_id; a cancel: receipt id, NUL):
 *   jf_hdr then the record's JSON.
 *
 * Rounding of a return (docs/semantics.md): a value V given for a line of Q units, of
 * which c0 were returned before and c1 after this return, takes back
 *   round_half_up(V * c1 / Q) - round_half_up(V * c0 / Q),
 * so that returning every unit, in any steps, takes back exactly V.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "bundle.h"
#include "civil.h"
#include "engine_int.h"
#include "hash.h"
#include "ops.h"
#include "store_internal.h"
#include "store_kv.h"
#include "rbuf.h"
#include "result_json.h"

#define JR_MAGIC1       0x314a5250u /* "PRJ1": the result JSON as it is */
#define JR_MAGIC2       0x324a5250u /* "PRJ2": the result JSON packed (out_result_packed) */
#define JR_MAGIC        0x334a5250u /* "PRJ3": PRJ2 and the header's cnow */
#define JF_MAGIC        0x31465250u /* "PRF1" */
#define JT_MAGIC        0x31545250u /* "PRT1": a tombstone (ops_tombstone) */
#define OPS_MAX_RETRIES 1000

typedef struct jr_hdr {
    uint32_t magic;
    uint32_t state; /* PROMO_RS_* */
    uint64_t hash;  /* ops_receipt_hash of the confirmed receipt */
    int32_t date;
    uint32_t cust_len; /* 0: anonymous */
    uint32_t nlines, nattr, nlimit, npts;
    uint32_t strings; /* bytes of the campaign-id area (padded) */
    uint32_t json_len;
    /* PRJ3 on: the store's now just after the entry was confirmed (the store sets it,
     * ops_entry_stamp); the entry expires when cnow < now - return window. PRJ1/PRJ2
     * headers end before it (their cnow is their date). */
    int32_t cnow;
    uint32_t pad;
} jr_hdr;

#define JR_HDR_OLD offsetof(jr_hdr, cnow) /* a PRJ1/PRJ2 header's size */

/* What pruning leaves of an expired entry under its key (docs/semantics.md "Return
 * window"): enough to answer a repeat (the receipt hash) and to say when. */
typedef struct jt_rec {
    uint32_t magic;
    int32_t date, cnow; /* the receipt's date, its entry's cnow */
    uint32_t state;     /* the entry's PROMO_RS_* when it was pruned */
    uint64_t hash;      /* ops_receipt_hash of the confirmed receipt */
} jt_rec;
_Static_assert(sizeof(jt_rec) == OPS_TOMB_SIZE, "ops.h's OPS_TOMB_SIZE");

typedef struct jr_line {
    int64_t qty, final, returned;
    int64_t weight; /* of the points spread (docs/semantics.md) */
} jr_line;

enum { JA_HIST = 0, JA_DISCOUNT = 1 };

typedef struct jr_attr {
    uint64_t key; /* history key, or the campaign hash */
    int64_t value;
    uint32_t line;
    uint16_t kind;     /* JA_* */
    uint16_t budgeted; /* the campaign has a budget: a return gives back to it */
} jr_attr;

typedef struct jr_limit {
    uint64_t key;
    int32_t day;
    int32_t pad;
} jr_limit;

typedef struct jr_pts { /* a points entry: spread over the lines' weights when needed */
    uint64_t camp;
    int64_t points;
    uint32_t id_off, id_len;
    uint32_t budgeted, pad;
} jr_pts;

typedef struct jf_hdr {
    uint32_t magic;
    uint32_t state;
    uint64_t lines_hash;
    int64_t refund, points;
    uint32_t json_len;
    int32_t cnow; /* its entry's cnow: it goes with the entry (0 in records written
                     before it was kept: they follow their entry in key order) */
} jf_hdr;

/* A parsed journal entry (pointers into its blob). */
typedef struct jr_view {
    jr_hdr h;
    const char *cust;
    jr_line *lines;
    const jr_attr *attrs;
    const jr_limit *limits;
    const jr_pts *pts;
    const char *strings;
    const char *json; /* json_len bytes, packed unless the entry is a PRJ1 one */
    int packed;
    size_t hsize; /* of the header in the blob (JR_HDR_OLD before PRJ3) */
} jr_view;

struct ops_scratch {
    const promo_allocator *a; /* the engine's: every buffer below */
    rbuf jr;                  /* the journal entry being written */
    rbuf rec;                 /* the output record */
    rbuf key;                 /* a refund key */
    rbuf old;                 /* a copy of the journal entry a return changes */
    rbuf rf;                  /* the refund record */
    int64_t *w, *sp, *rem, *req, *refund, *ptsback;
    size_t cap_w, cap_sp, cap_rem, cap_req, cap_refund, cap_pts;
    promo_delta *d;
    promo_budget_delta *bd;
    size_t cap_d, cap_bd;
};

static void ops_scratch_init(struct ops_scratch *o, const promo_allocator *a) {
    memset(o, 0, sizeof *o);
    o->a = a;
    rb_init(&o->jr, a);
    rb_init(&o->rec, a);
    rb_init(&o->key, a);
    rb_init(&o->old, a);
    rb_init(&o->rf, a);
}

/* The buffers of o (not o itself). */
static void ops_scratch_fini(struct ops_scratch *o) {
    rb_free(&o->jr);
    rb_free(&o->rec);
    rb_free(&o->key);
    rb_free(&o->old);
    rb_free(&o->rf);
    pa_free(o->a, o->w);
    pa_free(o->a, o->sp);
    pa_free(o->a, o->rem);
    pa_free(o->a, o->req);
    pa_free(o->a, o->refund);
    pa_free(o->a, o->ptsback);
    pa_free(o->a, o->d);
    pa_free(o->a, o->bd);
}

void ops_free(struct ops_scratch *o) {
    if (!o) return;
    ops_scratch_fini(o);
    pa_free(o->a, o);
}

static struct ops_scratch *ops_get(promo_ctx *c) {
    if (!c->ops && (c->ops = pa_malloc(&c->e->alloc, sizeof *c->ops)))
        ops_scratch_init(c->ops, &c->e->alloc);
    return c->ops;
}

/* Grows *p to n elements of `elem` bytes; 0 or -1. */
static int ops_grow(const promo_allocator *a, void *pp, size_t *cap, size_t n, size_t elem) {
    void **p = pp;
    if (n <= *cap) return 0;
    size_t nc = *cap ? *cap : 16;
    while (nc < n)
        nc *= 2;
    if (nc > SIZE_MAX / elem) return -1;
    void *q = pa_realloc(a, *p, nc * elem);
    if (!q) return -1;
    *p = q;
    *cap = nc;
    return 0;
}

/* ------------------------------------------------------------ arithmetic ---- */

/* round_half_up(v * num / den) for den > 0 (v of any sign rounds half away from 0). */
static int64_t ops_rhu(int64_t v, int64_t num, int64_t den) {
    __int128 p = (__int128)v * num;
    int neg = p < 0;
    if (neg) p = -p;
    __int128 q = (2 * p + den) / (2 * (__int128)den);
    return (int64_t)(neg ? -q : q);
}

/* What a return of units c0 -> c1 of Q takes back of V. */
static int64_t ops_take(int64_t v, int64_t c0, int64_t c1, int64_t q) {
    return ops_rhu(v, c1, q) - ops_rhu(v, c0, q);
}

/* Largest-remainder spread of p >= 0 over weights w >= 0 (sum W > 0): floor shares,
 * then one unit each to the largest remainders, ties to the earlier line. rem: n
 * entries of scratch. */
static void ops_spread(int64_t p, const int64_t *w, uint32_t n, int64_t *out, int64_t *rem) {
    __int128 W = 0;
    for (uint32_t i = 0; i < n; i++)
        W += w[i];
    int64_t given = 0;
    for (uint32_t i = 0; i < n; i++) {
        __int128 x = (__int128)p * w[i];
        out[i] = (int64_t)(x / W);
        rem[i] = (int64_t)(x % W);
        given += out[i];
    }
    for (int64_t left = p - given; left > 0; left--) {
        uint32_t best = 0;
        for (uint32_t i = 1; i < n; i++)
            if (rem[i] > rem[best]) best = i;
        out[best]++;
        rem[best] = -1;
    }
}

/* ------------------------------------------------------------------ hashes ---- */

/* The receipt's fields are hashed as one byte sequence through a buffer: one XXH3 call
 * for a receipt of up to 2 KB of fields, not one per field (XXH3 gives the same digest
 * however the sequence is cut). */
typedef struct ops_hasher {
    XXH3_state_t st;
    size_t n;
    int streaming; /* st holds a part of the sequence */
    unsigned char buf[2048];
} ops_hasher;

/* The buffer is full: what it holds goes to the streaming state (p[0, n) too when it
 * is larger than the buffer). */
static __attribute__((noinline)) void ops_h_spill(ops_hasher *h, const void *p, size_t n) {
    if (!h->streaming) XXH3_64bits_reset(&h->st);
    h->streaming = 1;
    XXH3_64bits_update(&h->st, h->buf, h->n);
    h->n = 0;
    if (n > sizeof h->buf) {
        XXH3_64bits_update(&h->st, p, n);
        return;
    }
    memcpy(h->buf, p, n);
    h->n = n;
}

static inline void ops_h_put(ops_hasher *h, const void *p, size_t n) {
    if (__builtin_expect(h->n + n > sizeof h->buf, 0)) {
        ops_h_spill(h, p, n);
        return;
    }
    memcpy(h->buf + h->n, p, n);
    h->n += n;
}

static inline void ops_h_str(ops_hasher *h, promo_str s) {
    uint32_t n = s.p ? s.n : UINT32_MAX;
    ops_h_put(h, &n, sizeof n);
    if (s.p && s.n) ops_h_put(h, s.p, s.n);
}

static inline void ops_h_i64(ops_hasher *h, int64_t v) {
    ops_h_put(h, &v, sizeof v);
}

static void ops_h_kv(ops_hasher *h, const promo_kv *kv, uint32_t n) {
    ops_h_i64(h, n);
    for (uint32_t i = 0; i < n; i++) {
        ops_h_str(h, kv[i].key);
        ops_h_str(h, kv[i].value);
    }
}

uint64_t ops_receipt_hash(const promo_receipt *r) {
    ops_hasher h;
    h.n = 0;
    h.streaming = 0;
    ops_h_str(&h, r->id);
    ops_h_str(&h, r->store);
    ops_h_str(&h, r->region);
    ops_h_i64(&h, r->channel);
    ops_h_i64(&h, r->payment);
    ops_h_i64(&h, r->points_paid);
    ops_h_i64(&h, r->date);
    ops_h_i64(&h, r->time);
    ops_h_i64(&h, r->ncodes);
    for (uint32_t i = 0; i < r->ncodes; i++)
        ops_h_str(&h, r->codes[i]);
    ops_h_kv(&h, r->attrs, r->nattrs);
    const promo_customer *cu = r->customer;
    ops_h_i64(&h, cu != NULL);
    if (cu) {
        ops_h_str(&h, cu->id);
        ops_h_str(&h, cu->card);
        ops_h_str(&h, cu->tier);
        ops_h_i64(&h, cu->nsegments);
        for (uint32_t i = 0; i < cu->nsegments; i++)
            ops_h_str(&h, cu->segments[i]);
        ops_h_i64(&h, cu->has_birthday ? cu->birthday : INT64_MIN);
        ops_h_i64(&h, cu->registered);
        ops_h_kv(&h, cu->attrs, cu->nattrs);
    }
    ops_h_i64(&h, r->nlines);
    for (uint32_t i = 0; i < r->nlines; i++) {
        const promo_line *l = &r->lines[i];
        ops_h_str(&h, l->sku);
        ops_h_str(&h, l->category);
        ops_h_str(&h, l->brand);
        ops_h_i64(&h, l->qty);
        ops_h_i64(&h, l->price);
        ops_h_i64(&h, l->excluded);
    }
    if (!h.streaming) return XXH3_64bits(h.buf, h.n);
    XXH3_64bits_update(&h.st, h.buf, h.n);
    return XXH3_64bits_digest(&h.st);
}

/* ------------------------------------------------------------- journal ---- */

static size_t ops_pad8(size_t n) {
    return (n + 7) & ~(size_t)7;
}

/* Appends the text of packed p[0, n) (result_json.h's packed form) to b. */
static void ops_unpack(rbuf *b, const char *p, size_t n) {
    if (n > (SIZE_MAX - 1) / OUT_PK_MAX || rb_reserve(b, n * OUT_PK_MAX)) return;
    b->len += out_unpack(p, n, b->data + b->len);
    b->data[b->len] = 0;
}

/* The result JSON of an entry, appended to b. */
static void ops_entry_json(rbuf *b, const jr_view *v) {
    if (v->packed)
        ops_unpack(b, v->json, v->h.json_len);
    else
        rb_add(b, v->json, v->h.json_len);
}

static int ops_view(const void *data, size_t len, jr_view *v) {
    uint32_t magic;
    if (!data || len < JR_HDR_OLD) return -1;
    memcpy(&magic, data, sizeof magic);
    if (magic != JR_MAGIC && magic != JR_MAGIC2 && magic != JR_MAGIC1) return -1;
    v->hsize = magic == JR_MAGIC ? sizeof v->h : JR_HDR_OLD;
    if (len < v->hsize) return -1;
    memcpy(&v->h, data, v->hsize);
    const jr_hdr *h = &v->h;
    if (magic != JR_MAGIC) v->h.cnow = h->date, v->h.pad = 0;
    v->packed = h->magic != JR_MAGIC1;
    size_t off = v->hsize;
    uint64_t need = off + ops_pad8(h->cust_len) + (uint64_t)h->nlines * sizeof(jr_line) +
                    (uint64_t)h->nattr * sizeof(jr_attr) + (uint64_t)h->nlimit * sizeof(jr_limit) +
                    (uint64_t)h->npts * sizeof(jr_pts) + h->strings + h->json_len;
    if (need != len || ((uintptr_t)data & 7)) return -1;
    const char *p = data;
    v->cust = p + off;
    off += ops_pad8(h->cust_len);
    v->lines = (jr_line *)(p + off);
    off += h->nlines * sizeof(jr_line);
    v->attrs = (const jr_attr *)(p + off);
    off += h->nattr * sizeof(jr_attr);
    v->limits = (const jr_limit *)(p + off);
    off += h->nlimit * sizeof(jr_limit);
    v->pts = (const jr_pts *)(p + off);
    off += h->npts * sizeof(jr_pts);
    v->strings = p + off;
    off += h->strings;
    v->json = p + off;
    for (uint32_t i = 0; i < h->nattr; i++)
        if (v->attrs[i].line >= h->nlines) return -1;
    for (uint32_t i = 0; i < h->npts; i++)
        if ((uint64_t)v->pts[i].id_off + v->pts[i].id_len > h->strings) return -1;
    for (uint32_t i = 0; i < h->nlines; i++)
        if (v->lines[i].qty <= 0 || v->lines[i].returned < 0 || v->lines[i].weight < 0 ||
            v->lines[i].returned > v->lines[i].qty)
            return -1;
    return 0;
}

int ops_rec_info(const void *data, size_t len, int32_t *date, int32_t *cnow) {
    uint32_t magic;
    const char *p = data;
    *date = *cnow = 0;
    if (!data || len < sizeof magic) return OPS_REC_NONE;
    memcpy(&magic, data, sizeof magic);
    if ((magic == JR_MAGIC || magic == JR_MAGIC2 || magic == JR_MAGIC1) && len >= JR_HDR_OLD) {
        memcpy(date, p + offsetof(jr_hdr, date), sizeof *date);
        *cnow = *date;
        if (magic == JR_MAGIC && len >= sizeof(jr_hdr))
            memcpy(cnow, p + offsetof(jr_hdr, cnow), sizeof *cnow);
        return OPS_REC_ENTRY;
    }
    if (magic == JT_MAGIC && len == sizeof(jt_rec)) {
        memcpy(date, p + offsetof(jt_rec, date), sizeof *date);
        memcpy(cnow, p + offsetof(jt_rec, cnow), sizeof *cnow);
        return OPS_REC_TOMB;
    }
    if (magic == JF_MAGIC && len >= sizeof(jf_hdr)) {
        memcpy(cnow, p + offsetof(jf_hdr, cnow), sizeof *cnow);
        return OPS_REC_REFUND;
    }
    return OPS_REC_NONE;
}

int32_t ops_entry_date(const void *data, size_t len) {
    int32_t d, cn;
    return ops_rec_info(data, len, &d, &cn) == OPS_REC_ENTRY ? d : 0;
}

int ops_entry_stamp(void *data, size_t len, int32_t cnow) {
    uint32_t magic;
    if (len < sizeof(jr_hdr)) return -1;
    memcpy(&magic, data, sizeof magic);
    if (magic != JR_MAGIC) return -1;
    memcpy((char *)data + offsetof(jr_hdr, cnow), &cnow, sizeof cnow);
    return 0;
}

int ops_tombstone(const void *data, size_t len, void *out) {
    jt_rec t = {JT_MAGIC, 0, 0, 0, 0};
    if (ops_rec_info(data, len, &t.date, &t.cnow) != OPS_REC_ENTRY) return -1;
    memcpy(&t.state, (const char *)data + offsetof(jr_hdr, state), sizeof t.state);
    memcpy(&t.hash, (const char *)data + offsetof(jr_hdr, hash), sizeof t.hash);
    memcpy(out, &t, sizeof t);
    return 0;
}

/* The store's return window: its first day, 0 when there is none (a store without the
 * operation: one built against an older promo.h). */
static int32_t ops_horizon(const promo_store *st) {
    const promo_store_ops *o = st->ops;
    if (o->size < offsetof(promo_store_ops, horizon) + sizeof o->horizon || !o->horizon) return 0;
    return o->horizon(st->self);
}

/* The parts of points entry p on each line (largest remainder over the weights) into
 * o->sp; the caller has grown o->sp and o->rem to nlines. */
static void ops_shares(struct ops_scratch *o, const jr_view *v, uint32_t p) {
    uint32_t n = v->h.nlines;
    int64_t W = 0;
    for (uint32_t i = 0; i < n; i++)
        W += v->lines[i].weight;
    if (ops_grow(o->a, &o->w, &o->cap_w, n + 1, sizeof *o->w)) return;
    for (uint32_t i = 0; i < n; i++)
        o->w[i] = v->lines[i].weight;
    if (W > 0) {
        ops_spread(v->pts[p].points, o->w, n, o->sp, o->rem);
    } else {
        memset(o->sp, 0, (n + 1) * sizeof *o->sp);
    }
}

/* Builds the journal entry of the ctx's last evaluation (of receipt r) into o->jr. */
static int ops_build_entry(promo_ctx *c, struct ops_scratch *o, const promo_receipt *r,
                           const promo_result *res, uint64_t hash) {
    const stk_eval *s = &c->s;
    const promo_bundle *b = res->bundle;
    uint32_t n = res->nlines;
    /* count attributions */
    uint32_t nattr = 0, nlimit = 0;
    for (uint32_t d = 0; d < s->nhist_deltas; d++)
        nattr += s->hist_off[d + 1] - s->hist_off[d];
    nattr += res->nby;
    for (uint32_t d = s->nhist_deltas; d < s->ndeltas; d++)
        if (s->deltas[d].key != STK_VISITS_KEY) nlimit++;
    /* points spread over the lines: weights = final of the lines not excluded, else
     * every line's amount */
    if (ops_grow(o->a, &o->w, &o->cap_w, n + 1, sizeof *o->w) ||
        ops_grow(o->a, &o->sp, &o->cap_sp, n + 1, sizeof *o->sp) ||
        ops_grow(o->a, &o->rem, &o->cap_rem, n + 1, sizeof *o->rem))
        return -1;
    int64_t W = 0;
    for (uint32_t i = 0; i < n; i++) {
        o->w[i] = r->lines[i].excluded ? 0 : res->lines[i].final;
        if (o->w[i] < 0) o->w[i] = 0;
        W += o->w[i];
    }
    if (W == 0)
        for (uint32_t i = 0; i < n; i++)
            W += o->w[i] = res->lines[i].amount > 0 ? res->lines[i].amount : 1;
    size_t strings = 0;
    for (uint32_t p = 0; p < res->npoints; p++)
        strings += bundle_strlen(b, b->campaigns[res->points[p].campaign].id);
    strings = ops_pad8(strings);
    uint32_t cust_len = s->has_customer_state ? s->customer.n : 0;

    rbuf *j = &o->jr;
    rb_clear(j);
    jr_hdr h = {JR_MAGIC,     PROMO_RS_CONFIRMED, hash, r->date, cust_len, n, nattr, nlimit,
                res->npoints, (uint32_t)strings,  0,    r->date, 0};
    /* everything before the packed result, written in place (its size is known) */
    size_t fixed = sizeof h + ops_pad8(cust_len) + (size_t)n * sizeof(jr_line) +
                   (size_t)nattr * sizeof(jr_attr) + (size_t)nlimit * sizeof(jr_limit) +
                   (size_t)res->npoints * sizeof(jr_pts) + strings;
    if (rb_reserve(j, fixed)) return -1;
    char *wp = j->data, *end = wp + fixed;
#define OPS_PUT(x) (memcpy(wp, &(x), sizeof(x)), wp += sizeof(x))
    OPS_PUT(h);
    if (cust_len) memcpy(wp, s->customer.p, cust_len);
    memset(wp + cust_len, 0, ops_pad8(cust_len) - cust_len);
    wp += ops_pad8(cust_len);
    for (uint32_t i = 0; i < n; i++) {
        jr_line l = {r->lines[i].qty, res->lines[i].final, 0, o->w[i]};
        OPS_PUT(l);
    }
    uint32_t wrote = 0;
    for (uint32_t d = 0; d < s->nhist_deltas; d++)
        for (uint32_t k = s->hist_off[d]; k < s->hist_off[d + 1]; k++) {
            jr_attr a = {s->deltas[d].key, s->hist_lines[k].value, s->hist_lines[k].line, JA_HIST,
                         0};
            if (wrote++ == nattr) return -1;
            OPS_PUT(a);
        }
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t k = 0; k < res->lines[i].by_cnt; k++) {
            const promo_by *by = &res->by[res->lines[i].by_off + k];
            const pb_campaign *cp = &b->campaigns[by->campaign];
            jr_attr a = {cp->id_hash, by->amount, i, JA_DISCOUNT, cp->budget >= 0};
            if (wrote++ == nattr) return -1;
            OPS_PUT(a);
        }
    if (wrote != nattr) return -1;
    for (uint32_t d = s->nhist_deltas; d < s->ndeltas; d++)
        if (s->deltas[d].key != STK_VISITS_KEY) {
            jr_limit l = {s->deltas[d].key, s->deltas[d].day, 0};
            OPS_PUT(l);
        }
    uint32_t off = 0;
    for (uint32_t p = 0; p < res->npoints; p++) {
        const pb_campaign *cp = &b->campaigns[res->points[p].campaign];
        jr_pts e = {
            cp->id_hash, res->points[p].points, off, bundle_strlen(b, cp->id), cp->budget >= 0, 0};
        off += e.id_len;
        OPS_PUT(e);
    }
#undef OPS_PUT
    for (uint32_t p = 0; p < res->npoints; p++) {
        const pb_campaign *cp = &b->campaigns[res->points[p].campaign];
        memcpy(wp, bundle_str(b, cp->id), bundle_strlen(b, cp->id));
        wp += bundle_strlen(b, cp->id);
    }
    memset(wp, 0, strings - off);
    wp += strings - off;
    if (wp != end) return -1;
    j->len = fixed;
    j->data[j->len] = 0;
    /* the result, packed (written straight from the result: nothing to scan) */
    size_t at = j->len, packed;
    for (;;) {
        size_t room = j->cap - j->len;
        if (j->oom) return -1;
        if ((packed = out_result_packed(res, j->data + at, room)) < room) break;
        if (rb_reserve(j, packed + 1)) return -1;
    }
    j->len += packed;
    if (packed > UINT32_MAX) return -1;
    uint32_t jl = (uint32_t)packed;
    memcpy(j->data + offsetof(jr_hdr, json_len), &jl, sizeof jl);
    return 0;
}

/* ------------------------------------------------------------- records ---- */

static const char *const ops_state_text[] = {"none", "confirmed", "partially_returned", "returned",
                                             "cancelled"};
static const char *const ops_op_text[] = {"confirm", "calculate", "cancel", "return"};

static void ops_qty(rbuf *b, int64_t q) { /* thousandths as a JSON number */
    if (q < 0) {
        rb_putc(b, '-');
        q = -q;
    }
    rb_printf(b, "%lld", (long long)(q / 1000));
    int64_t f = q % 1000;
    if (f) {
        char t[5];
        t[0] = '.';
        t[1] = (char)('0' + f / 100);
        t[2] = (char)('0' + f / 10 % 10);
        t[3] = (char)('0' + f % 10);
        size_t k = 4;
        while (t[k - 1] == '0')
            k--;
        rb_add(b, t, k);
    }
}

/* JSON `json` (an object) with extra fields before its closing brace, into o->rec. */
static void ops_decorate(struct ops_scratch *o, const char *json, size_t n, int op, int echo,
                         int dup) {
    rbuf *b = &o->rec;
    if (json != b->data) {
        rb_clear(b);
        rb_add(b, json, n);
    } else {
        b->len = n;
    }
    if (!echo && !dup) {
        rb_cstr(b);
        return;
    }
    if (b->len && b->data[b->len - 1] == '}') b->len--;
    if (echo) {
        rb_puts(b, ",\"op\":\"");
        rb_puts(b, ops_op_text[op]);
        rb_putc(b, '"');
    }
    if (dup) rb_puts(b, ",\"duplicate\":true");
    rb_putc(b, '}');
}

/* The record in o->rec as the result's JSON; PROMO_ENOMEM when building it failed. */
static promo_status ops_out(promo_ctx *c, promo_op_result *out, struct ops_scratch *o) {
    if (o->rec.oom) return eng_err(c, PROMO_ENOMEM, NULL);
    out->json = rb_cstr(&o->rec);
    out->json_len = o->rec.len;
    return PROMO_OK;
}

/* ------------------------------------------------------ confirm / calculate ---- */

static promo_status ops_refuse(promo_ctx *c, const char *msg) {
    return eng_err(c, PROMO_EINPUT, msg);
}

/* A store call that failed: out of memory stays PROMO_ENOMEM, the rest is PROMO_ESTATE. */
static promo_status ops_store_err(promo_ctx *c, promo_status st, const char *msg) {
    return st == PROMO_ENOMEM ? eng_err(c, st, NULL) : eng_err(c, PROMO_ESTATE, msg);
}

/* The journal record (data, len) under a receipt id, when it is an expired entry or a
 * tombstone (docs/semantics.md "Return window"): the error record, the same text for
 * both, so that the answer never depends on how far the sweep has got. `hash`: the
 * repeated confirm's receipt hash (0 for a return or cancel). PROMO_OK: not expired. */
static promo_status ops_expired(promo_ctx *c, const void *data, size_t len, int confirm,
                                uint64_t hash) {
    int32_t date, cnow, h = ops_horizon(&c->e->store);
    int kind = ops_rec_info(data, len, &date, &cnow);
    if (kind != OPS_REC_TOMB && (kind != OPS_REC_ENTRY || h <= 0 || cnow >= h)) return PROMO_OK;
    uint64_t was;
    memcpy(&was,
           (const char *)data +
               (kind == OPS_REC_TOMB ? offsetof(jt_rec, hash) : offsetof(jr_hdr, hash)),
           sizeof was);
    if (confirm && was != hash) return ops_refuse(c, "id: already confirmed with another receipt");
    char d[11], msg[192];
    civil_format(date, d);
    if (confirm)
        snprintf(msg, sizeof msg,
                 "id: already confirmed (receipt of %s); its stored result is no longer "
                 "kept (past the return window): not confirmed again",
                 d);
    else
        snprintf(msg, sizeof msg,
                 "id: the receipt of %s is past the return window: nothing reversed", d);
    return ops_refuse(c, msg);
}

promo_status ops_prepare(promo_ctx *c, const promo_op *op, promo_op_result *out, int *pending) {
    *pending = 0;
    struct ops_scratch *o = ops_get(c);
    if (!o) return eng_err(c, PROMO_ENOMEM, NULL);
    int echo = (op->flags & PROMO_OPF_ECHO_OP) != 0;
    memset(out, 0, sizeof *out);
    out->size = sizeof *out;
    out->op = op->op;
    if (op->op == PROMO_OP_CANCEL || op->op == PROMO_OP_RETURN) {
        if (!op->id.p) return ops_refuse(c, "id: missing");
        if (op->op == PROMO_OP_RETURN && !op->refund_id.p)
            return ops_refuse(c, "refund_id: missing");
        if (op->op == PROMO_OP_RETURN && !op->nlines) return ops_refuse(c, "lines: missing");
        *pending = 1;
        return PROMO_OK;
    }
    if (op->op != PROMO_OP_CONFIRM && op->op != PROMO_OP_CALCULATE)
        return eng_err(c, PROMO_EARG, "unknown operation");
    const promo_receipt *r = op->receipt;
    if (!r) return eng_err(c, PROMO_EARG, "receipt must not be NULL");
    uint64_t hash = 0;
    /* NUL separates a receipt id from a refund_id in the journal's keys */
    if (op->op == PROMO_OP_CONFIRM && r->id.n && memchr(r->id.p, 0, r->id.n))
        return ops_refuse(c, "id: must not contain U+0000");
    if (op->op == PROMO_OP_CONFIRM) {
        hash = ops_receipt_hash(r);
        const void *data;
        size_t len;
        promo_store *st = &c->e->store;
        promo_status js;
        if ((js = st->ops->journal(st->self, &c->reader, r->id, &data, &len)) != PROMO_OK)
            return ops_store_err(c, js, "state store: journal read failed");
        if (data) {
            promo_status xs = ops_expired(c, data, len, 1, hash);
            if (xs != PROMO_OK) return xs;
            jr_view v;
            if (ops_view(data, len, &v))
                return eng_err(c, PROMO_ESTATE, "state store: corrupt journal entry");
            if (v.h.hash != hash)
                return ops_refuse(c, "id: already confirmed with another receipt");
            rb_clear(&o->rec);
            ops_entry_json(&o->rec, &v);
            ops_decorate(o, o->rec.data, o->rec.len, op->op, echo, 1);
            out->duplicate = 1;
            out->state = (int)v.h.state;
            *pending = 1; /* ops_commit checks the expiry again in commit order */
            return ops_out(c, out, o);
        }
    }
    const promo_result *res;
    c->s.hist_attr = op->op == PROMO_OP_CONFIRM; /* ops_build_entry reads it */
    promo_status st = promo_eval(c, r, &res);
    c->s.hist_attr = 0;
    if (st != PROMO_OK) return st;
    rbuf *b = &o->rec;
    rb_clear(b);
    out->result = res;
    if (op->op == PROMO_OP_CONFIRM) {
        /* the record is the journal's packed result unpacked: what a repeat returns */
        if (ops_build_entry(c, o, r, res, hash)) return eng_err(c, PROMO_ENOMEM, NULL);
        jr_hdr h;
        memcpy(&h, o->jr.data, sizeof h);
        ops_unpack(b, o->jr.data + o->jr.len - h.json_len, h.json_len);
        out->state = PROMO_RS_CONFIRMED;
        *pending = 1;
    } else {
        for (;;) {
            size_t need = promo_result_to_json(res, b->data, b->cap);
            if (need < b->cap) {
                b->len = need;
                break;
            }
            if (rb_reserve(b, need + 1 - b->len)) return eng_err(c, PROMO_ENOMEM, NULL);
        }
    }
    ops_decorate(o, b->data, b->len, op->op, echo, 0);
    return ops_out(c, out, o);
}

/* ---------------------------------------------------------- cancel / return ---- */

static int ops_add_delta(struct ops_scratch *o, size_t *nd, uint64_t key, int32_t day,
                         int64_t add) {
    if (!add) return 0;
    if (ops_grow(o->a, &o->d, &o->cap_d, *nd + 1, sizeof *o->d)) return -1;
    o->d[(*nd)++] = (promo_delta){key, day, add};
    return 0;
}

static int ops_add_budget(struct ops_scratch *o, size_t *nb, uint64_t key, int64_t add) {
    if (!add) return 0;
    for (size_t i = 0; i < *nb; i++)
        if (o->bd[i].key == key) {
            o->bd[i].add += add;
            return 0;
        }
    if (ops_grow(o->a, &o->bd, &o->cap_bd, *nb + 1, sizeof *o->bd)) return -1;
    o->bd[(*nb)++] = (promo_budget_delta){key, add};
    return 0;
}

static promo_status ops_reverse(promo_ctx *c, const promo_op *op, promo_op_result *out) {
    struct ops_scratch *o = c->ops;
    promo_engine *e = c->e;
    promo_store *st = &e->store;
    int cancel = op->op == PROMO_OP_CANCEL;
    const void *data;
    size_t len;
    promo_status js;
    if ((js = st->ops->journal(st->self, &c->reader, op->id, &data, &len)) != PROMO_OK)
        return ops_store_err(c, js, "state store: journal read failed");
    if (!data) return ops_refuse(c, "id: no confirmed receipt with this id");
    promo_status xs = ops_expired(c, data, len, 0, 0);
    if (xs != PROMO_OK) return xs;
    rb_clear(&o->old);
    rb_add(&o->old, data, len);
    if (o->old.oom) return eng_err(c, PROMO_ENOMEM, NULL);
    jr_view v;
    if (ops_view(o->old.data, len, &v))
        return eng_err(c, PROMO_ESTATE, "state store: corrupt journal entry");
    uint32_t n = v.h.nlines;
    /* the request, per line */
    if (ops_grow(o->a, &o->req, &o->cap_req, n + 1, sizeof *o->req) ||
        ops_grow(o->a, &o->refund, &o->cap_refund, n + 1, sizeof *o->refund))
        return eng_err(c, PROMO_ENOMEM, NULL);
    memset(o->refund, 0, (n + 1) * sizeof *o->refund);
    memset(o->req, 0, (n + 1) * sizeof *o->req);
    if (cancel) {
        for (uint32_t i = 0; i < n; i++)
            o->req[i] = v.lines[i].qty - v.lines[i].returned;
    } else {
        for (uint32_t k = 0; k < op->nlines; k++) {
            const promo_return_line *rl = &op->lines[k];
            char msg[96];
            if (rl->n >= n) {
                snprintf(msg, sizeof msg, "lines[%u].n: the receipt has no line %u", k, rl->n);
                return ops_refuse(c, msg);
            }
            if (rl->qty <= 0) {
                snprintf(msg, sizeof msg, "lines[%u].qty: must be positive", k);
                return ops_refuse(c, msg);
            }
            o->req[rl->n] += rl->qty;
        }
    }
    XXH3_state_t hs;
    XXH3_64bits_reset(&hs);
    for (uint32_t i = 0; i < n; i++)
        if (o->req[i]) {
            XXH3_64bits_update(&hs, &i, sizeof i);
            XXH3_64bits_update(&hs, &o->req[i], sizeof o->req[i]);
        }
    uint64_t lines_hash = cancel ? 0 : XXH3_64bits_digest(&hs);
    /* the refund key: an operation done before gives its stored record */
    rbuf *key = &o->key;
    rb_clear(key);
    rb_add(key, op->id.p, op->id.n);
    rb_putc(key, 0);
    if (!cancel) rb_add(key, op->refund_id.p, op->refund_id.n);
    if (key->oom) return eng_err(c, PROMO_ENOMEM, NULL);
    promo_str rk = {key->data, (uint32_t)key->len};
    if ((js = st->ops->journal(st->self, &c->reader, rk, &data, &len)) != PROMO_OK)
        return ops_store_err(c, js, "state store: journal read failed");
    if (data) {
        jf_hdr f;
        if (len < sizeof f) return eng_err(c, PROMO_ESTATE, "state store: corrupt refund record");
        memcpy(&f, data, sizeof f);
        if (f.magic != JF_MAGIC || sizeof f + f.json_len != len)
            return eng_err(c, PROMO_ESTATE, "state store: corrupt refund record");
        if (f.lines_hash != lines_hash)
            return ops_refuse(c, "refund_id: already used with other lines");
        ops_decorate(o, (const char *)data + sizeof f, f.json_len, op->op, 0, 1);
        out->duplicate = 1;
        out->state = (int)f.state;
        out->refund = f.refund;
        out->points = f.points;
        return ops_out(c, out, o);
    }
    for (uint32_t i = 0; i < n; i++)
        if (o->req[i] > v.lines[i].qty - v.lines[i].returned) {
            char msg[96];
            snprintf(msg, sizeof msg, "lines: more than remains of line %u", i);
            return ops_refuse(c, msg);
        }
    /* what the returned units take back */
    if (ops_grow(o->a, &o->ptsback, &o->cap_pts, v.h.npts + 1, sizeof *o->ptsback))
        return eng_err(c, PROMO_ENOMEM, NULL);
    memset(o->ptsback, 0, (v.h.npts + 1) * sizeof *o->ptsback);
    size_t nd = 0, nb = 0;
    int nomem = 0;
    int64_t refund = 0, points = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!o->req[i]) continue;
        const jr_line *l = &v.lines[i];
        o->refund[i] = ops_take(l->final, l->returned, l->returned + o->req[i], l->qty);
        refund += o->refund[i];
    }
    for (uint32_t k = 0; k < v.h.nattr; k++) {
        const jr_attr *a = &v.attrs[k];
        const jr_line *l = &v.lines[a->line];
        if (!o->req[a->line]) continue;
        int64_t t = ops_take(a->value, l->returned, l->returned + o->req[a->line], l->qty);
        if (a->kind == JA_HIST) nomem |= ops_add_delta(o, &nd, a->key, v.h.date, -t);
        if (a->kind != JA_HIST && a->budgeted) nomem |= ops_add_budget(o, &nb, a->key, -t);
    }
    if (ops_grow(o->a, &o->sp, &o->cap_sp, n + 1, sizeof *o->sp) ||
        ops_grow(o->a, &o->rem, &o->cap_rem, n + 1, sizeof *o->rem) ||
        ops_grow(o->a, &o->w, &o->cap_w, n + 1, sizeof *o->w))
        return eng_err(c, PROMO_ENOMEM, NULL);
    for (uint32_t p = 0; p < v.h.npts; p++) {
        if (!v.pts[p].points) continue;
        ops_shares(o, &v, p);
        for (uint32_t i = 0; i < n; i++) {
            const jr_line *l = &v.lines[i];
            if (!o->req[i]) continue;
            int64_t t = ops_take(o->sp[i], l->returned, l->returned + o->req[i], l->qty);
            o->ptsback[p] += t;
            points -= t;
            if (v.pts[p].budgeted) nomem |= ops_add_budget(o, &nb, v.pts[p].camp, -t);
        }
    }
    int full = 1;
    for (uint32_t i = 0; i < n; i++) {
        v.lines[i].returned += o->req[i]; /* in o->old: the new entry */
        if (v.lines[i].returned != v.lines[i].qty) full = 0;
    }
    int was_full = v.h.state == PROMO_RS_RETURNED || v.h.state == PROMO_RS_CANCELLED;
    if (full && !was_full) {
        nomem |= ops_add_delta(o, &nd, STK_VISITS_KEY, v.h.date, -1);
        for (uint32_t k = 0; k < v.h.nlimit; k++)
            nomem |= ops_add_delta(o, &nd, v.limits[k].key, v.limits[k].day, -1);
    }
    if (nomem) return eng_err(c, PROMO_ENOMEM, NULL);
    uint32_t state =
        full ? (cancel ? PROMO_RS_CANCELLED : PROMO_RS_RETURNED) : PROMO_RS_PARTIALLY_RETURNED;
    if (was_full) state = v.h.state;
    v.h.state = state;
    memcpy(o->old.data, &v.h, v.hsize);
    /* the record */
    rbuf *b = &o->rec;
    rb_clear(b);
    rb_puts(b, "{\"id\":");
    rb_json_str(b, op->id.p, op->id.n);
    rb_puts(b, ",\"op\":\"");
    rb_puts(b, ops_op_text[op->op]);
    rb_putc(b, '"');
    if (!cancel) {
        rb_puts(b, ",\"refund_id\":");
        rb_json_str(b, op->refund_id.p, op->refund_id.n);
    }
    rb_puts(b, ",\"state\":\"");
    rb_puts(b, ops_state_text[state]);
    rb_puts(b, "\",\"refund\":");
    rb_money(b, refund);
    rb_puts(b, ",\"refunds\":[");
    int first = 1;
    for (uint32_t i = 0; i < n; i++) {
        if (!o->req[i]) continue;
        rb_printf(b, "%s{\"n\":%u,\"qty\":", first ? "" : ",", i);
        ops_qty(b, o->req[i]);
        rb_puts(b, ",\"refund\":");
        rb_money(b, o->refund[i]);
        rb_putc(b, '}');
        first = 0;
    }
    rb_puts(b, "],\"points\":[");
    first = 1;
    for (uint32_t p = 0; p < v.h.npts; p++) {
        if (!o->ptsback[p]) continue;
        rb_puts(b, first ? "{\"campaign\":" : ",{\"campaign\":");
        rb_json_str(b, v.strings + v.pts[p].id_off, v.pts[p].id_len);
        rb_puts(b, ",\"points\":");
        rb_money(b, -o->ptsback[p]);
        rb_putc(b, '}');
        first = 0;
    }
    rb_puts(b, "]}");
    jf_hdr f = {JF_MAGIC, state, lines_hash, refund, points, (uint32_t)b->len, v.h.cnow};
    rb_clear(&o->rf);
    rb_add(&o->rf, &f, sizeof f);
    rb_add(&o->rf, b->data, b->len);
    if (b->oom || o->rf.oom) return eng_err(c, PROMO_ENOMEM, NULL);
    promo_store_write w = {0};
    if (v.h.cust_len) {
        w.customer = (promo_str){v.cust, v.h.cust_len};
        w.expected = UINT64_MAX;
        w.deltas = o->d;
        w.ndeltas = nd;
    }
    w.budgets = o->bd;
    w.nbudgets = nb;
    w.jkey = op->id;
    w.jdata = o->old.data;
    w.jlen = o->old.len;
    w.jkey2 = rk;
    w.jdata2 = o->rf.data;
    w.jlen2 = o->rf.len;
    promo_status r = st->ops->write(st->self, &w);
    if (r == PROMO_ELIMIT) return eng_err(c, r, ENG_FULL_MSG);
    if (r != PROMO_OK)
        return eng_err(c, r == PROMO_ENOMEM ? r : PROMO_ESTATE, "state store: write failed");
    for (size_t i = 0; i < nb; i++) {
        stk_budget *ctr = eng_budget_find(e, o->bd[i].key);
        if (ctr) atomic_fetch_add(&ctr->spent, o->bd[i].add);
    }
    out->state = (int)state;
    out->refund = refund;
    out->points = points;
    return ops_out(c, out, o);
}

/* A repeated confirm found in the journal by ops_prepare, checked again in commit
 * order (an earlier commit may have moved the store's now past its entry's expiry). */
static promo_status ops_dup_expired(promo_ctx *c, const promo_op *op) {
    promo_store *st = &c->e->store;
    const void *data;
    size_t len;
    promo_status js = st->ops->journal(st->self, &c->reader, op->receipt->id, &data, &len);
    if (js != PROMO_OK) return ops_store_err(c, js, "state store: journal read failed");
    return data ? ops_expired(c, data, len, 1, ops_receipt_hash(op->receipt)) : PROMO_OK;
}

promo_status ops_commit(promo_ctx *c, const promo_op *op, promo_op_result *out) {
    struct ops_scratch *o = c->ops;
    if (!o) return eng_err(c, PROMO_EARG, "nothing to commit");
    if (op->op == PROMO_OP_CONFIRM) {
        if (out->duplicate) /* in commit order: it may have expired since ops_prepare */
            return ops_dup_expired(c, op);
        if (!c->can_commit) return eng_err(c, PROMO_EARG, "no evaluation to commit");
        return eng_commit(c, op->receipt->id, o->jr.data, o->jr.len);
    }
    if (op->op == PROMO_OP_CANCEL || op->op == PROMO_OP_RETURN) {
        pthread_mutex_lock(&c->e->cmu);
        promo_status st = ops_reverse(c, op, out);
        pthread_mutex_unlock(&c->e->cmu);
        return st;
    }
    return PROMO_OK;
}

void promo_op_init(promo_op *op) {
    if (!op) return;
    memset(op, 0, sizeof *op);
    op->size = sizeof *op;
}

promo_status promo_op_run(promo_ctx *c, const promo_op *op, promo_op_result *out) {
    if (!c) return PROMO_EARG;
    if (!op || !out || op->size < sizeof *op) return eng_err(c, PROMO_EARG, "bad promo_op");
    promo_status st = PROMO_ECONFLICT;
    for (int tries = 0; tries < OPS_MAX_RETRIES && st == PROMO_ECONFLICT; tries++) {
        int pending;
        st = ops_prepare(c, op, out, &pending);
        if (st != PROMO_OK || !pending) return st;
        st = ops_commit(c, op, out);
    }
    return st;
}

/* ----------------------------------------------------------- description ---- */

int ops_journal_describe(const void *key, size_t klen, const void *data, size_t len, rbuf *b) {
    const char *k = key;
    const char *nul = memchr(k, 0, klen);
    if (nul) { /* a refund record */
        jf_hdr f;
        if (len < sizeof f) return -1;
        memcpy(&f, data, sizeof f);
        if (f.magic != JF_MAGIC || sizeof f + f.json_len != len) return -1;
        rb_puts(b, "{\"id\":");
        rb_json_str(b, k, (size_t)(nul - k));
        if (nul + 1 < k + klen) {
            rb_puts(b, ",\"refund_id\":");
            rb_json_str(b, nul + 1, klen - (size_t)(nul + 1 - k));
        } else {
            rb_puts(b, ",\"cancel\":true");
        }
        rb_puts(b, ",\"record\":");
        rb_add(b, (const char *)data + sizeof f, f.json_len);
        rb_putc(b, '}');
        return b->oom ? -1 : 0;
    }
    int32_t date, cnow;
    if (ops_rec_info(data, len, &date, &cnow) == OPS_REC_TOMB) { /* pruned */
        jt_rec t;
        char d[11], n[11];
        memcpy(&t, data, sizeof t);
        civil_format(date, d);
        civil_format(cnow, n);
        rb_puts(b, "{\"id\":");
        rb_json_str(b, k, klen);
        rb_printf(b, ",\"state\":\"%s\",\"date\":\"%s\",\"cnow\":\"%s\",\"pruned\":true}",
                  ops_state_text[t.state <= PROMO_RS_CANCELLED ? t.state : 0], d, n);
        return b->oom ? -1 : 0;
    }
    void *al = pa_malloc(b->a, len);
    if (!al) return -1;
    memcpy(al, data, len);
    jr_view v;
    if (ops_view(al, len, &v)) {
        pa_free(b->a, al);
        return -1;
    }
    rb_puts(b, "{\"id\":");
    rb_json_str(b, k, klen);
    rb_puts(b, ",\"state\":\"");
    rb_puts(b, ops_state_text[v.h.state <= PROMO_RS_CANCELLED ? v.h.state : 0]);
    rb_puts(b, "\",\"customer\":");
    if (v.h.cust_len)
        rb_json_str(b, v.cust, v.h.cust_len);
    else
        rb_puts(b, "null");
    rb_puts(b, ",\"lines\":[");
    for (uint32_t i = 0; i < v.h.nlines; i++) {
        rb_printf(b, "%s{\"n\":%u,\"qty\":", i ? "," : "", i);
        ops_qty(b, v.lines[i].qty);
        rb_puts(b, ",\"final\":");
        rb_money(b, v.lines[i].final);
        rb_puts(b, ",\"returned\":");
        ops_qty(b, v.lines[i].returned);
        rb_putc(b, '}');
    }
    rb_puts(b, "],\"result\":");
    ops_entry_json(b, &v);
    rb_putc(b, '}');
    pa_free(b->a, al);
    return b->oom ? -1 : 0;
}

/* ---------------------------------------------------------------- verify ---- */

typedef struct ov_ctx {
    skv_store exp;        /* the state the journal says */
    struct ops_scratch o; /* the points spread */
    rbuf *report;
    size_t problems, entries, customers, budgets, tombstones;
    int32_t pruned; /* entries of receipts before this day may have been pruned */
    promo_delta *d;
    promo_budget_delta *bd;
    size_t cap_d, cap_bd;
} ov_ctx;

#define OV_PRUNED "Mpruned" /* store_lmdb.c's LM_PRUNED_KEY */

/* Pass 1: what every journal entry still contributes (what its returns left). */
static int ov_journal(void *u, const void *k, size_t kl, const void *data, size_t len) {
    ov_ctx *v = u;
    const char *key = k;
    int32_t mp;
    if (kl == sizeof OV_PRUNED - 1 && !memcmp(k, OV_PRUNED, kl) && len == sizeof mp) {
        memcpy(&mp, data, sizeof mp);
        if (mp > v->pruned) v->pruned = mp;
    }
    if (!kl || key[0] != 'J' || memchr(key + 1, 0, kl - 1)) return 0;
    int32_t date, cnow;
    if (ops_rec_info(data, len, &date, &cnow) == OPS_REC_TOMB) { /* a pruned entry */
        if (date >= v->pruned) v->pruned = date + 1;
        v->tombstones++;
        return 0;
    }
    void *al = pa_malloc(v->o.a, len);
    if (!al) return -1;
    memcpy(al, data, len);
    jr_view j;
    if (ops_view(al, len, &j)) {
        rb_printf(v->report, "journal entry %.*s: corrupt\n", (int)(kl - 1), key + 1);
        v->problems++;
        pa_free(v->o.a, al);
        return 0;
    }
    v->entries++;
    size_t nd = 0, nb = 0;
    int full = j.h.state == PROMO_RS_RETURNED || j.h.state == PROMO_RS_CANCELLED;
    int bad = 0;
    for (uint32_t a = 0; a < j.h.nattr; a++) {
        const jr_attr *at = &j.attrs[a];
        const jr_line *l = &j.lines[at->line];
        int64_t left = at->value - ops_rhu(at->value, l->returned, l->qty);
        if (!left) continue;
        if (at->kind == JA_HIST) {
            bad |= ops_grow(v->o.a, &v->d, &v->cap_d, nd + 1, sizeof *v->d);
            if (!bad) v->d[nd++] = (promo_delta){at->key, j.h.date, left};
        } else if (at->budgeted) {
            bad |= ops_grow(v->o.a, &v->bd, &v->cap_bd, nb + 1, sizeof *v->bd);
            if (!bad) v->bd[nb++] = (promo_budget_delta){at->key, left};
        }
    }
    if (j.h.npts && (ops_grow(v->o.a, &v->o.sp, &v->o.cap_sp, j.h.nlines + 1, sizeof(int64_t)) ||
                     ops_grow(v->o.a, &v->o.rem, &v->o.cap_rem, j.h.nlines + 1, sizeof(int64_t))))
        bad = 1;
    for (uint32_t p = 0; !bad && p < j.h.npts; p++) {
        if (!j.pts[p].budgeted || !j.pts[p].points) continue;
        ops_shares(&v->o, &j, p);
        for (uint32_t i = 0; i < j.h.nlines && !bad; i++) {
            const jr_line *l = &j.lines[i];
            int64_t left = v->o.sp[i] - ops_rhu(v->o.sp[i], l->returned, l->qty);
            if (!left) continue;
            bad |= ops_grow(v->o.a, &v->bd, &v->cap_bd, nb + 1, sizeof *v->bd);
            if (!bad) v->bd[nb++] = (promo_budget_delta){j.pts[p].camp, left};
        }
    }
    if (!full) {
        bad |= ops_grow(v->o.a, &v->d, &v->cap_d, nd + 1 + j.h.nlimit, sizeof *v->d);
        if (!bad) {
            v->d[nd++] = (promo_delta){STK_VISITS_KEY, j.h.date, 1};
            for (uint32_t i = 0; i < j.h.nlimit; i++)
                v->d[nd++] = (promo_delta){j.limits[i].key, j.limits[i].day, 1};
        }
    }
    if (!bad) {
        promo_store_write w = {0};
        if (j.h.cust_len) {
            w.customer = (promo_str){j.cust, j.h.cust_len};
            w.expected = UINT64_MAX;
            w.deltas = v->d;
            w.ndeltas = nd;
        }
        w.budgets = v->bd;
        w.nbudgets = nb;
        if ((w.customer.p || nb) && skv_write(&v->exp, &w) != PROMO_OK) bad = 1;
    }
    pa_free(v->o.a, al);
    return bad ? -1 : 0;
}

/* A stored counter `got` against the journal's `want` for a cell of day `day`: equal,
 * except where receipts may have been pruned (a day before v->pruned: the cell's
 * receipts, or for a week, a month or a whole-life limit some of them, are dated before
 * the horizon), where what is left of a receipt is never negative, so the stored value
 * is at least the journal's. */
static int ov_cell_ok(const ov_ctx *v, int32_t day, int64_t got, int64_t want) {
    return v->pruned > 0 && day < v->pruned ? got >= want : got == want;
}

/* Two records' cells, both sorted by (key, day). */
static int ov_cells_ok(const ov_ctx *v, const promo_store_rec *got, const promo_store_rec *want) {
    uint32_t i = 0, j = 0;
    while (i < got->ncells || j < want->ncells) {
        promo_cell g = {0, 0, 0, 0}, w = {0, 0, 0, 0};
        if (i < got->ncells) memcpy(&g, &got->cells[i], sizeof g);
        if (j < want->ncells) memcpy(&w, &want->cells[j], sizeof w);
        int c = i == got->ncells    ? 1
                : j == want->ncells ? -1
                : g.key != w.key    ? (g.key < w.key ? -1 : 1)
                                    : (g.day > w.day) - (g.day < w.day);
        if (c < 0 && !ov_cell_ok(v, g.day, g.value, 0)) return 0;
        if (c > 0 && !ov_cell_ok(v, w.day, 0, w.value)) return 0;
        if (!c && !ov_cell_ok(v, g.day, g.value, w.value)) return 0;
        i += c <= 0;
        j += c >= 0;
    }
    return 1;
}

/* Pass 2: every stored customer and budget against the journal's. */
static int ov_compare(void *u, const void *k, size_t kl, const void *data, size_t len) {
    ov_ctx *v = u;
    const char *key = k;
    if (!kl || (key[0] != 'C' && key[0] != 'B')) return 0;
    void *buf = NULL;
    size_t cap = 0, elen = 0;
    int f = skv_map_get(&v->exp.map, k, kl, &buf, &cap, &elen);
    if (f < 0) return -1;
    if (key[0] == 'B') {
        int64_t got = 0, want = 0;
        if (len == 8) memcpy(&got, data, 8);
        if (f && elen == 8) memcpy(&want, buf, 8);
        v->budgets++;
        if (!ov_cell_ok(v, 0, got, want)) {
            uint64_t h;
            memcpy(&h, key + 1, 8);
            rb_printf(v->report, "budget %016llx: stored %lld, journal %lld\n",
                      (unsigned long long)h, (long long)got, (long long)want);
            v->problems++;
        }
        pa_free(v->o.a, buf);
        return 0;
    }
    v->customers++;
    void *al = pa_malloc(v->o.a, len);
    if (!al) {
        pa_free(v->o.a, buf);
        return -1;
    }
    memcpy(al, data, len);
    promo_store_rec got, want = {0, NULL, 0};
    int ok = !skv_rec_view(al, len, &got) && (!f || !skv_rec_view(buf, elen, &want)) &&
             ov_cells_ok(v, &got, &want);
    if (!ok) {
        rb_printf(v->report, "customer %.*s: stored counters differ from the journal's\n",
                  (int)(kl - 1), key + 1);
        v->problems++;
    }
    pa_free(v->o.a, al);
    pa_free(v->o.a, buf);
    return 0;
}

int ops_verify(promo_store *s, rbuf *report) {
    ov_ctx v;
    memset(&v, 0, sizeof v);
    v.report = report;
    ops_scratch_init(&v.o, report->a);
    skv_init(&v.exp, report->a);
    int r = store_lmdb_each(s, ov_journal, &v);
    size_t want_customers = 0, want_budgets = 0;
    for (int i = 0; i < SKV_SHARDS && !r; i++)
        for (uint32_t e = 0; e < v.exp.map.sh[i].cap; e++) {
            const skv_ent *x = &v.exp.map.sh[i].tab[e];
            if (!x->h) continue;
            if (x->key[0] == 'C') {
                promo_store_rec rec;
                if (!skv_rec_view(x->key + x->klen, x->vlen, &rec) && rec.ncells) want_customers++;
            }
            if (x->key[0] == 'B') {
                int64_t b;
                memcpy(&b, x->key + x->klen, 8);
                if (b) want_budgets++;
            }
        }
    if (!r) r = store_lmdb_each(s, ov_compare, &v);
    (void)want_budgets;
    if (!r && v.customers < want_customers) {
        rb_printf(report, "%zu customers in the journal have no stored record\n",
                  want_customers - v.customers);
        v.problems++;
    }
    if (v.pruned > 0) {
        char d[11];
        civil_format(v.pruned, d);
        rb_printf(report,
                  "journal pruned before %s (return window, %zu tombstones): counters of "
                  "earlier days and budgets checked as at least the journal's\n",
                  d, v.tombstones);
    }
    rb_printf(report, "%zu journal entries, %zu customers, %zu budgets: %zu problems\n", v.entries,
              v.customers, v.budgets, v.problems);
    skv_destroy(&v.exp);
    ops_scratch_fini(&v.o);
    pa_free(v.o.a, v.d);
    pa_free(v.o.a, v.bd);
    return r || report->oom ? -1 : v.problems ? 1 : 0;
}
