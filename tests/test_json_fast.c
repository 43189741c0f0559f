/*
 * test_json_fast.c — the receipt reader's fast path (runtime/receipt_json.cc, "fast
 * path") against its simdjson path (rx_set_fast(r, 0)): on every line, the same status,
 * the same error text, the same id and the same receipt, field by field. Lines: the
 * generator's receipts of every shape (bench/gen.h), hand-written forms the fast path
 * reads or must hand over (whitespace, nulls, UTF-8, exponents, unknown fields,
 * duplicates, escapes), and thousands of single-byte mutants of them.
 *
 * gen.c is compiled into this test directly (as in test_shapes.c).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../bench/gen.c"
#include "receipt_json.h"
#include "strbuf.h"

static rx_reader *fast_rd, *slow_rd;

static void setup(void) {
    fast_rd = rx_new(NULL);
    slow_rd = rx_new(NULL);
    cr_assert(fast_rd && slow_rd);
    rx_set_fast(slow_rd, 0);
}
static void teardown(void) {
    rx_free(fast_rd);
    rx_free(slow_rd);
}

static void dump_str(strbuf *o, const char *name, promo_str s) {
    if (!s.p)
        sb_printf(o, "%s=absent ", name);
    else
        sb_printf(o, "%s=\"%.*s\" ", name, (int)s.n, s.p);
}

static void dump_kvs(strbuf *o, const char *name, const promo_kv *kv, uint32_t n) {
    sb_printf(o, "%s[%u]{", name, n);
    for (uint32_t i = 0; i < n; i++) {
        dump_str(o, "k", kv[i].key);
        dump_str(o, "v", kv[i].value);
    }
    sb_printf(o, "} ");
}

/* Every field of a parsed receipt, as text. */
static void dump(strbuf *o, promo_status st, const promo_receipt *r, promo_str id,
                 const char *err) {
    sb_printf(o, "status=%d err=\"%s\" ", (int)st, err);
    dump_str(o, "rid", id);
    if (!r) return;
    dump_str(o, "id", r->id);
    dump_str(o, "store", r->store);
    dump_str(o, "region", r->region);
    sb_printf(o, "channel=%d payment=%d points_paid=%lld date=%d time=%d ", r->channel, r->payment,
              (long long)r->points_paid, (int)r->date, (int)r->time);
    sb_printf(o, "codes[%u]{", r->ncodes);
    for (uint32_t i = 0; i < r->ncodes; i++)
        dump_str(o, "c", r->codes[i]);
    sb_printf(o, "} ");
    dump_kvs(o, "attrs", r->attrs, r->nattrs);
    if (r->customer) {
        const promo_customer *c = r->customer;
        sb_printf(o, "customer{");
        dump_str(o, "id", c->id);
        dump_str(o, "card", c->card);
        dump_str(o, "tier", c->tier);
        sb_printf(o, "segments[%u]{", c->nsegments);
        for (uint32_t i = 0; i < c->nsegments; i++)
            dump_str(o, "s", c->segments[i]);
        sb_printf(o, "} birthday=%d/%d registered=%d ", c->has_birthday,
                  c->has_birthday ? (int)c->birthday : 0, c->registered);
        dump_kvs(o, "attrs", c->attrs, c->nattrs);
        sb_printf(o, "} ");
    } else {
        sb_printf(o, "customer=none ");
    }
    sb_printf(o, "lines[%u]{", r->nlines);
    for (uint32_t i = 0; i < r->nlines; i++) {
        const promo_line *l = &r->lines[i];
        dump_str(o, "sku", l->sku);
        dump_str(o, "cat", l->category);
        dump_str(o, "brand", l->brand);
        sb_printf(o, "qty=%lld price=%lld ex=%d; ", (long long)l->qty, (long long)l->price,
                  l->excluded);
    }
    sb_printf(o, "}");
}

static char *padded;
static size_t padcap;
static long n_compared, n_ok;

/* Parses json[0..n) with both readers, the line followed by padding of `pad`; both
 * must say the same. */
static void same(const char *json, size_t n, char pad) {
    if (n + PROMO_JSON_PADDING > padcap) {
        padcap = 2 * (n + PROMO_JSON_PADDING);
        padded = realloc(padded, padcap);
        cr_assert_not_null(padded);
    }
    memcpy(padded, json, n);
    memset(padded + n, pad, PROMO_JSON_PADDING);
    strbuf a = STRBUF_INIT, b = STRBUF_INIT;
    char ea[256], eb[256];
    const promo_receipt *ra = NULL, *rb = NULL;
    promo_str ia, ib;
    promo_status sa = rx_parse(fast_rd, padded, n, &ra, &ia, ea, sizeof ea);
    dump(&a, sa, ra, ia, ea);
    promo_status sb = rx_parse(slow_rd, padded, n, &rb, &ib, eb, sizeof eb);
    dump(&b, sb, rb, ib, eb);
    cr_assert_str_eq(sb_cstr(&a), sb_cstr(&b), "fast and simdjson readers differ on %.*s",
                     (int)(n > 2000 ? 2000 : n), json);
    n_compared++;
    n_ok += sa == PROMO_OK;
    sb_free(&a);
    sb_free(&b);
}

static void same_str(const char *json) {
    same(json, strlen(json), ' ');
    same(json, strlen(json), '}');
}

TestSuite(fast_path, .init = setup, .fini = teardown);

/* The generator's receipts of every shape read the same (and all parse). */
Test(fast_path, every_shape_of_generated_receipt) {
    gen_arena *ar = gen_arena_new();
    strbuf js = STRBUF_INIT;
    for (int sh = 0; sh < GEN__SHAPE_COUNT; sh++) {
        for (uint32_t i = 0; i < 300; i++) {
            promo_receipt r;
            gen_arena_reset(ar);
            gen_receipt_shape(ar, 11, i, 0, (gen_shape)sh, &r);
            js.len = 0;
            gen_receipt_json(&r, &js);
            long ok0 = n_ok;
            same(js.data, js.len, ' ');
            cr_assert_eq(n_ok, ok0 + 1, "a generated receipt did not parse: %s", sb_cstr(&js));
        }
    }
    sb_free(&js);
    gen_arena_free(ar);
}

/* Forms the fast path reads, and forms it hands over to simdjson. */
static const char *const forms[] = {
    "{\"id\":\"r1\",\"store\":101,\"region\":\"msk\",\"channel\":\"online\","
    "\"time\":\"2026-06-05T10:15:00\",\"payment\":\"credit\",\"points_paid\":12.5,"
    "\"codes\":[\"SUMMER\",\"X2\"],\"attrs\":{\"weather\":\"rain\",\"temp\":25.5,"
    "\"dry\":false,\"none\":null,\"on\":true,\"big\":-1.5e3},"
    "\"customer\":{\"id\":\"c42\",\"card\":\"zabota\",\"segments\":[\"pensioner\",\"vip\"],"
    "\"tier\":\"gold\",\"birthday\":\"1950-06-07\",\"registered\":true,"
    "\"attrs\":{\"zone\":\"north\"}},"
    "\"lines\":[{\"sku\":\"1001\",\"category\":\"dairy/milk\",\"brand\":\"Prost\","
    "\"qty\":2,\"price\":89.90,\"excluded\":false},"
    "{\"sku\":\"2002\",\"qty\":0.5,\"price\":300,\"excluded\":true}]}",
    " { \"id\" : 7 , \"time\" : \"2026-06-05 10:15\" ,\r\n\t\"lines\" : [ { \"sku\" : 12 ,"
    " \"qty\" : 1e0 , \"price\" : 0.5E+1 , \"note\" : \"x\" , \"n\" : null , \"b\" : true } ] ,"
    " \"extra\" : -0.0 } ",
    "{\"id\":\"r\",\"time\":\"2026-06-05T10:15:00.123+03:00\",\"store\":null,\"region\":null,"
    "\"channel\":null,\"payment\":null,\"points_paid\":null,\"codes\":null,\"attrs\":null,"
    "\"customer\":null,\"lines\":[{\"sku\":\"1\",\"qty\":1,\"price\":0,\"category\":null,"
    "\"brand\":null,\"excluded\":null}]}",
    "{\"id\":\"r\",\"time\":\"2026-06-05T10:15Z\",\"customer\":{\"id\":null,\"card\":null,"
    "\"tier\":null,\"segments\":null,\"birthday\":null,\"registered\":null,\"attrs\":null,"
    "\"x\":[1]},\"lines\":[]}",
    "{\"id\":\"\xd0\xb0\xd0\xb1\",\"time\":\"2026-06-05T10:15:00\",\"lines\":[{\"sku\":\"1\","
    "\"category\":\"\xd0\xbc\xd0\xbe\xd0\xbb\xd0\xbe\xd0\xba\xd0\xbe/\xe2\x82\xac/"
    "\xf0\x9f\x8d\xba\","
    "\"brand\":\"\xc3\xa9\",\"qty\":1,\"price\":1}]}",
    /* hand-overs: escapes, duplicates, nested unknown values, bad UTF-8, errors */
    "{\"id\":\"r\\u0031\",\"time\":\"2026-06-05T10:15:00\",\"lines\":[]}",
    "{\"id\":\"r\",\"time\":\"2026-06-05T10:15:00\",\"lines\":[],\"lines\":[{\"sku\":\"1\","
    "\"qty\":1,\"price\":1}]}",
    "{\"id\":\"r\",\"time\":\"2026-06-05T10:15:00\",\"lines\":[{\"sku\":\"1\",\"qty\":1,"
    "\"price\":1,\"qty\":2}]}",
    "{\"id\":\"r\",\"time\":\"2026-06-05T10:15:00\",\"lines\":[],\"x\":{\"y\":[1,{}]}}",
    "{\"id\":\"r\",\"time\":\"2026-06-05T10:15:00\",\"lines\":[],\"x\":\"\xc0\xaf\"}",
    "{\"id\":\"r\",\"time\":\"2026-06-05T10:15:00\",\"lines\":[],\"x\":\"\xed\xa0\x80\"}",
    "{\"id\":\"r\",\"time\":\"2026-06-05T10:15:00\",\"lines\":[{\"sku\":\"1\",\"qty\":0.0005,"
    "\"price\":1}]}",
    "{\"id\":\"r\",\"time\":\"2026-06-05T10:15:00\",\"lines\":[{\"sku\":\"1\",\"qty\":1,"
    "\"price\":1.001}]}",
    "{\"id\":\"r\",\"time\":\"2026-06-05T10:15:00\",\"lines\":[{\"sku\":01,\"qty\":1,"
    "\"price\":1}]}",
    "{\"id\":\"r\",\"time\":\"2026-06-05T10:15:00\",\"lines\":[{\"sku\":\"1\",\"qty\":1,"
    "\"price\":123456789012345678901234}]}",
    "{\"id\":\"r\",\"time\":\"2026-02-30T10:15:00\",\"lines\":[]}",
    "{\"id\":\"r\",\"time\":\"2026-06-05T10:15:00\",\"lines\":[]} x",
    "{\"id\":\"r\",\"time\":\"2026-06-05T10:15:00\",\"lines\":[]}}",
    "{\"id\":\"r\",\"time\":\"2026-06-05T10:15:00\",\"channel\":\"pos \",\"lines\":[]}",
    "{\"id\":true,\"time\":\"2026-06-05T10:15:00\",\"lines\":[]}",
    "{\"id\":\"r\",\"time\":\"2026-06-05T10:15:00\"}",
    "[1,2]",
    "\"r\"",
};

Test(fast_path, hand_written_forms) {
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++)
        same_str(forms[i]);
    cr_assert_geq(n_ok, 10, "the readable forms must parse (%ld did)", n_ok);
}

/* Single-byte mutants (deleted, replaced by or inserted before with a byte that matters
 * to JSON) of every form and of generated receipts. */
Test(fast_path, mutated_lines) {
    static const char alphabet[] = "\"\\{}[]:,.-+0159eEtfnul \t\x01\x80\xc3\xff";
    gen_arena *ar = gen_arena_new();
    strbuf js = STRBUF_INIT, m = STRBUF_INIT;
    gen_rng rng;
    gen_rng_seed(&rng, 5, 3);
    size_t nforms = sizeof forms / sizeof forms[0];
    for (size_t f = 0; f < nforms + 20; f++) {
        js.len = 0;
        if (f < nforms) {
            sb_add(&js, forms[f], strlen(forms[f]));
        } else {
            promo_receipt r;
            gen_arena_reset(ar);
            gen_receipt_shape(ar, 3, f, 0, (gen_shape)(f % GEN__SHAPE_COUNT), &r);
            gen_receipt_json(&r, &js);
        }
        for (int k = 0; k < 300; k++) {
            size_t at = gen_rng_below(&rng, (uint32_t)js.len + 1);
            char c = alphabet[gen_rng_below(&rng, sizeof alphabet - 1)];
            int op = (int)gen_rng_below(&rng, 3);
            size_t rest = at;
            m.len = 0;
            sb_add(&m, js.data, at);
            if (op != 0) sb_add(&m, &c, 1);            /* 1: replace, 2: insert */
            if (op != 2 && at < js.len) rest = at + 1; /* 0: delete */
            sb_add(&m, js.data + rest, js.len - rest);
            same(m.data ? m.data : "", m.len, k & 1 ? '}' : ' ');
        }
    }
    cr_log_info("%ld lines compared, %ld parsed", n_compared, n_ok);
    sb_free(&js);
    sb_free(&m);
    gen_arena_free(ar);
}
