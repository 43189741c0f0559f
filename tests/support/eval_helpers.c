/*
 * eval_helpers.c — see eval_helpers.h.
 */
#include "eval_helpers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "civil.h"
#include "compile.h"
#include "strbuf.h"

promo_bundle *eh_compile(const char *src) {
    compilation c;
    compile_opts o = {INT32_MIN, 0};
    comp_init(&c, &o);
    comp_add_source(&c, "test.rule", src, strlen(src));
    strbuf out = STRBUF_INIT;
    promo_bundle *b = NULL;
    if (comp_build(&c, &out) != 0) {
        strbuf d = STRBUF_INIT;
        diag_render_text(&c.diags, &d, 0);
        fprintf(stderr, "compile failed:\n%s\n", sb_cstr(&d));
        sb_free(&d);
    } else {
        char err[256] = "";
        if (promo_bundle_load_memory(out.data, out.len, &b, err, sizeof err) != PROMO_OK) {
            fprintf(stderr, "load failed: %s\n", err);
            b = NULL;
        }
    }
    sb_free(&out);
    comp_free(&c);
    return b;
}

int eh_env_init(eh_env *env, const char *src, unsigned flags) {
    memset(env, 0, sizeof *env);
    if (!(env->b = eh_compile(src))) return -1;
    if (promo_engine_new(env->b, NULL, &env->e) != PROMO_OK) return -1;
    if (promo_ctx_new(env->e, flags, &env->c) != PROMO_OK) return -1;
    return 0;
}

void eh_env_free(eh_env *env) {
    promo_ctx_free(env->c);
    promo_engine_free(env->e);
    promo_bundle_release(env->b);
    memset(env, 0, sizeof *env);
}

promo_str eh_str(const char *s) {
    return s ? (promo_str){s, (uint32_t)strlen(s)} : (promo_str){NULL, 0};
}

void eh_store_remove(const char *dir) {
    char p[512];
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    remove(p);
    snprintf(p, sizeof p, "%s/lock.mdb", dir);
    remove(p);
    remove(dir);
}

int32_t eh_date(const char *ymd) {
    int32_t d = 0;
    if (!civil_parse_date(ymd, (unsigned)strlen(ymd), &d)) abort();
    return d;
}

void eh_receipt_init(eh_receipt *rc, const char *id, const char *when) {
    memset(rc, 0, sizeof *rc);
    promo_receipt_init(&rc->r);
    rc->r.id = eh_str(id);
    rc->r.store = eh_str("101");
    rc->r.channel = PROMO_CHANNEL_POS;
    rc->r.payment = PROMO_PAY_CARD;
    rc->r.date = eh_date(when);
    int hh = (when[11] - '0') * 10 + (when[12] - '0');
    int mm = (when[14] - '0') * 10 + (when[15] - '0');
    rc->r.time = hh * 3600 + mm * 60;
    rc->r.lines = rc->lines;
    rc->r.codes = rc->codes;
    rc->r.attrs = rc->attrs;
}

uint32_t eh_line_full(eh_receipt *rc, const char *sku, const char *category, const char *brand,
                      int64_t qty, int64_t price, int excluded) {
    uint32_t i = rc->r.nlines++;
    if (i >= EH_MAX) abort();
    rc->lines[i] = (promo_line){eh_str(sku), eh_str(category), eh_str(brand), qty, price, excluded};
    return i;
}

uint32_t eh_line(eh_receipt *rc, const char *sku, const char *category, int64_t qty,
                 int64_t price) {
    return eh_line_full(rc, sku, category, NULL, qty, price, 0);
}

void eh_customer(eh_receipt *rc, const char *id) {
    rc->cust.id = eh_str(id);
    rc->cust.registered = -1;
    rc->cust.segments = rc->segs;
    rc->cust.attrs = rc->cattrs;
    rc->r.customer = &rc->cust;
}

void eh_segment(eh_receipt *rc, const char *seg) {
    if (!rc->r.customer) eh_customer(rc, NULL);
    rc->segs[rc->cust.nsegments++] = eh_str(seg);
}

void eh_code(eh_receipt *rc, const char *code) {
    rc->codes[rc->r.ncodes++] = eh_str(code);
}

void eh_attr(eh_receipt *rc, const char *key, const char *value) {
    rc->attrs[rc->r.nattrs++] = (promo_kv){eh_str(key), eh_str(value)};
}

static int eh_is(const promo_result *res, uint32_t campaign, const char *cid) {
    return !strcmp(promo_bundle_campaign_id(res->bundle, campaign), cid);
}

int64_t eh_line_discount(const promo_result *res, uint32_t line) {
    return line < res->nlines ? res->lines[line].discount : -1;
}

int64_t eh_by(const promo_result *res, uint32_t line, const char *cid) {
    if (line >= res->nlines) return -1;
    const promo_line_result *l = &res->lines[line];
    int64_t v = 0;
    for (uint32_t i = 0; i < l->by_cnt; i++)
        if (eh_is(res, res->by[l->by_off + i].campaign, cid)) v += res->by[l->by_off + i].amount;
    return v;
}

int64_t eh_points(const promo_result *res, const char *cid) {
    int64_t v = 0;
    for (uint32_t i = 0; i < res->npoints; i++)
        if (eh_is(res, res->points[i].campaign, cid)) v += res->points[i].points;
    return v;
}

int eh_applied(const promo_result *res, const char *cid) {
    for (uint32_t i = 0; i < res->napplied; i++)
        if (eh_is(res, res->applied[i], cid)) return (int)i;
    return -1;
}

const promo_explain *eh_explain(const promo_result *res, const char *cid) {
    for (uint32_t i = 0; i < res->nexplain; i++)
        if (eh_is(res, res->explain[i].campaign, cid)) return &res->explain[i];
    return NULL;
}

const char *eh_coupon(const promo_result *res, uint32_t idx) {
    return idx < res->ncoupons ? promo_bundle_string(res->bundle, res->coupons[idx].str) : NULL;
}

const char *eh_message(const promo_result *res, uint32_t idx) {
    return idx < res->nmessages ? promo_bundle_string(res->bundle, res->messages[idx].str) : NULL;
}
