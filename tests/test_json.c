/*
 * test_json.c — the JSON edges of libpromo: the receipt reader (runtime/receipt_json.cc)
 * and the result / error-record writer (runtime/result_json.c), against SPEC 4 and
 * docs/io.md: every field, exact decimals, every error text, byte-exact output.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "civil.h"
#include "receipt_json.h"
#include "result_json.h"

/* ------------------------------------------------------------- allocation count ---- */

/* The reader promises no allocation per receipt after warm-up: count them. Under
 * AddressSanitizer the allocator belongs to the sanitizer, so the count (and only the
 * count) is left to the normal build. */
#if defined(__SANITIZE_ADDRESS__)
#define PROMO_COUNT_ALLOCS 0
#else
#define PROMO_COUNT_ALLOCS 1
#endif
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
static volatile long n_allocs;
#if !PROMO_COUNT_ALLOCS
/* Test buffers then come from the sanitizer's allocator, which checks their bounds. */
#define __libc_malloc malloc
#define __libc_free   free
#else
void *malloc(size_t n) {
    n_allocs++;
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b) {
    n_allocs++;
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) {
    n_allocs++;
    return __libc_realloc(p, n);
}
void free(void *p) {
    __libc_free(p);
}
#endif

/* -------------------------------------------------------------------- helpers ---- */

static rx_reader *rd;
static char *line_buf;
static size_t line_len; /* the JSON text in line_buf (the padding is not NUL-ended) */
static char err[256];
static promo_str rid;

static void setup(void) {
    rd = rx_new(NULL);
    cr_assert_not_null(rd);
}
static void teardown(void) {
    rx_free(rd);
    __libc_free(line_buf);
    line_buf = NULL;
}

/* Copies json into a buffer followed by PROMO_JSON_PADDING bytes of `pad` and parses. */
static promo_status parse_pad(const char *json, const promo_receipt **out, char pad) {
    size_t n = strlen(json);
    __libc_free(line_buf);
    line_buf = __libc_malloc(n + PROMO_JSON_PADDING);
    memcpy(line_buf, json, n);
    memset(line_buf + n, pad, PROMO_JSON_PADDING);
    line_len = n;
    return rx_parse(rd, line_buf, n, out, &rid, err, sizeof err);
}

static promo_status parse(const char *json, const promo_receipt **out) {
    return parse_pad(json, out, 'x');
}

static const promo_receipt *ok(const char *json) {
    const promo_receipt *r = NULL;
    promo_status st = parse(json, &r);
    cr_assert_eq(st, PROMO_OK, "parse failed: %s (%s)", err, json);
    cr_assert_not_null(r);
    return r;
}

static int str_is(promo_str s, const char *want) {
    return s.p && s.n == strlen(want) && !memcmp(s.p, want, s.n);
}

#define assert_str(s, want)                                                                        \
    cr_assert(str_is((s), (want)), "expected \"%s\", got \"%.*s\"", (want), (int)(s).n,            \
              (s).p ? (s).p : "(null)")

#define HEAD       "{\"id\":\"r1\",\"time\":\"2026-06-05T10:15:00\","
#define LINE(q, p) "\"lines\":[{\"sku\":\"1\",\"qty\":" q ",\"price\":" p "}]}"

TestSuite(receipt, .init = setup, .fini = teardown);

/* ------------------------------------------------------------------ receipts ---- */

Test(receipt, spec_example_every_field) {
    const promo_receipt *r =
        ok("{\"id\":\"r1\",\"store\":101,\"region\":\"msk\",\"channel\":\"online\","
           "\"time\":\"2026-06-05T10:15:00\",\"payment\":\"credit\",\"points_paid\":12.5,"
           "\"codes\":[\"SUMMER\",\"X2\"],\"attrs\":{\"weather\":\"rain\",\"temp\":25.5,"
           "\"dry\":false,\"none\":null},"
           "\"customer\":{\"id\":\"c42\",\"card\":\"zabota\",\"segments\":[\"pensioner\",\"vip\"],"
           "\"tier\":\"gold\",\"birthday\":\"1950-06-07\",\"registered\":true,"
           "\"attrs\":{\"zone\":\"north\"}},"
           "\"lines\":[{\"sku\":\"1001\",\"category\":\"dairy/milk\",\"brand\":\"Prost\","
           "\"qty\":2,\"price\":89.90,\"excluded\":false},"
           "{\"sku\":\"2002\",\"qty\":0.5,\"price\":300,\"excluded\":true}],"
           "\"unknown\":{\"deep\":[1,2,{\"x\":null}]}}");
    assert_str(r->id, "r1");
    assert_str(rid, "r1");
    assert_str(r->store, "101");
    assert_str(r->region, "msk");
    cr_assert_eq(r->channel, PROMO_CHANNEL_ONLINE);
    cr_assert_eq(r->payment, PROMO_PAY_CREDIT);
    cr_assert_eq(r->points_paid, 1250);
    cr_assert_eq(r->date, civil_days(2026, 6, 5));
    cr_assert_eq(r->time, 10 * 3600 + 15 * 60);
    cr_assert_eq(r->ncodes, 2);
    assert_str(r->codes[0], "SUMMER");
    assert_str(r->codes[1], "X2");
    cr_assert_eq(r->nattrs, 3, "null attribute values are left out");
    assert_str(r->attrs[0].key, "weather");
    assert_str(r->attrs[0].value, "rain");
    assert_str(r->attrs[1].key, "temp");
    assert_str(r->attrs[1].value, "25.5");
    assert_str(r->attrs[2].key, "dry");
    assert_str(r->attrs[2].value, "false");

    const promo_customer *c = r->customer;
    cr_assert_not_null(c);
    assert_str(c->id, "c42");
    assert_str(c->card, "zabota");
    assert_str(c->tier, "gold");
    cr_assert_eq(c->nsegments, 2);
    assert_str(c->segments[0], "pensioner");
    assert_str(c->segments[1], "vip");
    cr_assert_eq(c->has_birthday, 1);
    cr_assert_eq(c->birthday, civil_days(1950, 6, 7));
    cr_assert_eq(c->registered, 1);
    cr_assert_eq(c->nattrs, 1);
    assert_str(c->attrs[0].key, "zone");
    assert_str(c->attrs[0].value, "north");

    cr_assert_eq(r->nlines, 2);
    assert_str(r->lines[0].sku, "1001");
    assert_str(r->lines[0].category, "dairy/milk");
    assert_str(r->lines[0].brand, "Prost");
    cr_assert_eq(r->lines[0].qty, 2000);
    cr_assert_eq(r->lines[0].price, 8990);
    cr_assert_eq(r->lines[0].excluded, 0);
    assert_str(r->lines[1].sku, "2002");
    cr_assert_null(r->lines[1].category.p);
    cr_assert_null(r->lines[1].brand.p);
    cr_assert_eq(r->lines[1].qty, 500);
    cr_assert_eq(r->lines[1].price, 30000);
    cr_assert_eq(r->lines[1].excluded, 1);

    /* Strings without escapes are not copied: they point into the line. */
    cr_assert(r->lines[0].sku.p > line_buf && r->lines[0].sku.p < line_buf + line_len);
}

Test(receipt, defaults_of_optional_fields) {
    const promo_receipt *r = ok(HEAD "\"lines\":[]}");
    cr_assert_eq(r->channel, PROMO_CHANNEL_POS);
    cr_assert_eq(r->payment, PROMO_PAY_CARD);
    cr_assert_eq(r->points_paid, 0);
    cr_assert_null(r->customer);
    cr_assert_null(r->store.p);
    cr_assert_null(r->region.p);
    cr_assert_eq(r->ncodes, 0);
    cr_assert_eq(r->nattrs, 0);
    cr_assert_eq(r->nlines, 0, "an empty lines array is a valid receipt");

    /* null means absent for optional fields. */
    r = ok(HEAD "\"store\":null,\"channel\":null,\"payment\":null,\"customer\":null,"
                "\"codes\":null,\"attrs\":null,\"points_paid\":null,"
                "\"lines\":[{\"sku\":\"1\",\"qty\":1,\"price\":1,\"category\":null}]}");
    cr_assert_eq(r->channel, PROMO_CHANNEL_POS);
    cr_assert_eq(r->payment, PROMO_PAY_CARD);
    cr_assert_null(r->customer);
    cr_assert_null(r->lines[0].category.p);

    /* A customer without facts: registered derives from the id (-1). */
    r = ok(HEAD "\"customer\":{},\"lines\":[]}");
    cr_assert_not_null(r->customer);
    cr_assert_eq(r->customer->registered, -1);
    cr_assert_eq(r->customer->has_birthday, 0);
    cr_assert_null(r->customer->id.p);
    cr_assert_eq(r->customer->nsegments, 0);
}

Test(receipt, exact_decimals) {
    static const struct {
        const char *qty, *price;
        int64_t q, p;
    } cases[] = {
        {"2", "89.90", 2000, 8990},
        {"1.005", "0.1", 1005, 10},
        {"0.3", "0.30", 300, 30},
        {"1.5", "89.9", 1500, 8990},
        {"1e2", "1E2", 100000, 10000},
        {"1.5e1", "8990e-2", 15000, 8990},
        {"2.000", "89.900", 2000, 8990},
        {"0.001", "0.01", 1, 1},
        {"1000000", "10000000000.00", 1000000000, 1000000000000LL},
        {"1", "-0", 1000, 0},
        {"1", "0", 1000, 0},
        {"12345.678", "0.2E+1", 12345678, 200},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[256];
        snprintf(json, sizeof json, HEAD "\"lines\":[{\"sku\":\"1\",\"qty\":%s,\"price\":%s}]}",
                 cases[i].qty, cases[i].price);
        const promo_receipt *r = ok(json);
        cr_assert_eq(r->lines[0].qty, cases[i].q, "qty %s", cases[i].qty);
        cr_assert_eq(r->lines[0].price, cases[i].p, "price %s", cases[i].price);
    }
    /* points_paid is money too */
    const promo_receipt *r = ok(HEAD "\"points_paid\":53.94,\"lines\":[]}");
    cr_assert_eq(r->points_paid, 5394);
}

Test(receipt, identifiers_as_numbers_or_strings) {
    const promo_receipt *r = ok("{\"id\":17,\"store\":\"s-101\",\"time\":\"2026-06-05T10:15\","
                                "\"customer\":{\"id\":42,\"registered\":false},"
                                "\"lines\":[{\"sku\":1001,\"qty\":1,\"price\":1}]}");
    assert_str(r->id, "17");
    assert_str(r->store, "s-101");
    assert_str(r->customer->id, "42");
    cr_assert_eq(r->customer->registered, 0);
    assert_str(r->lines[0].sku, "1001");

    r = ok("{\"id\":\"r\\u0031\\\"x\",\"time\":\"2026-06-05T10:15\",\"store\":7,"
           "\"lines\":[{\"sku\":\"a\\/b\",\"qty\":1,\"price\":1}]}");
    assert_str(r->id, "r1\"x");
    assert_str(r->store, "7");
    assert_str(r->lines[0].sku, "a/b");
}

Test(receipt, time_forms) {
    static const struct {
        const char *t;
        int y, mo, d, secs;
    } cases[] = {
        {"2026-06-05T10:15:00", 2026, 6, 5, 36900},
        {"2026-06-05T10:15", 2026, 6, 5, 36900},
        {"2026-06-05T23:59:59Z", 2026, 6, 5, 86399},
        {"2026-06-05T00:00:07+03:00", 2026, 6, 5, 7},
        {"2026-06-05T10:15:00.250-0500", 2026, 6, 5, 36900},
        {"2026-06-05 10:15:00+03", 2026, 6, 5, 36900},
        {"2024-02-29T12:00", 2024, 2, 29, 43200},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[256];
        snprintf(json, sizeof json, "{\"id\":1,\"time\":\"%s\",\"lines\":[]}", cases[i].t);
        const promo_receipt *r = ok(json);
        cr_assert_eq(r->date, civil_days(cases[i].y, (unsigned)cases[i].mo, (unsigned)cases[i].d),
                     "%s", cases[i].t);
        cr_assert_eq(r->time, cases[i].secs, "%s", cases[i].t);
    }
}

/* Every malformed-line class gives its exact text, and the id when it can be read. */
Test(receipt, error_texts) {
    static const struct {
        const char *json, *error, *id; /* id NULL: absent */
        promo_status st;
    } cases[] = {
        /* bad JSON */
        {"{\"id\":\"r1\",\"time\":\"2026-06-05T10:15\",\"lines\":[],\"x\":[1,]}",
         "invalid JSON: The JSON document has an improper structure: missing or superfluous "
         "commas, braces, missing keys, etc at byte 55",
         "r1", PROMO_EINPUT},
        {"{\"id\":\"r2\",\"time\":\"2026-06-05T10:15\",\"lines\":[]",
         "invalid JSON: JSON document ended early in the middle of an object or array at byte "
         "47",
         "r2", PROMO_EINPUT},
        {"{\"id\":\"r3\",\"lines\":[],\"time\":\"2026-06-05T10:15}",
         "invalid JSON: A string is opened, but never closed at byte 29", "r3", PROMO_EINPUT},
        {"{\"id\":\"r4\",\"time\":\"2026-06-05T10:15\",\"lines\":[],\"x\":tru}",
         "invalid JSON: Problem while parsing an atom starting with the letter 't' at byte 52",
         "r4", PROMO_EINPUT},
        {"{\"id\":\"r5\",\"time\":\"2026-06-05T10:15\",\"lines\":[],\"x\":01}",
         "invalid JSON: Problem while parsing a number at byte 52", "r5", PROMO_EINPUT},
        {"{\"id\":\"r6\",\"time\":\"2026-06-05T10:15\",\"lines\":[]}}",
         "invalid JSON: Unexpected trailing content in the JSON input at byte 48", "r6",
         PROMO_EINPUT},
        {"{\"id\":\"r7\",\"time\":\"2026-06-05T10:15\",\"lines\":[],\"x\":\"\\q\"}",
         "invalid JSON: Problem while parsing a string at byte 52", "r7", PROMO_EINPUT},
        {"not json",
         "invalid JSON: Problem while parsing an atom starting with the letter 'n' at byte 0", NULL,
         PROMO_EINPUT},
        {"[1,2]", "expected a JSON object", NULL, PROMO_EINPUT},
        {"   ", "empty line", NULL, PROMO_EINPUT},
        /* wrong types */
        {HEAD LINE("1", "\"89.90\""), "lines[0].price: expected a number", "r1", PROMO_EINPUT},
        {HEAD LINE("true", "1"), "lines[0].qty: expected a number", "r1", PROMO_EINPUT},
        {"{\"id\":\"r1\",\"time\":20260605,\"lines\":[]}", "time: expected a string", "r1",
         PROMO_EINPUT},
        {HEAD "\"lines\":{}}", "lines: expected an array", "r1", PROMO_EINPUT},
        {HEAD "\"lines\":[[]]}", "lines[0]: expected an object", "r1", PROMO_EINPUT},
        {HEAD "\"codes\":[\"A\",5],\"lines\":[]}", "codes[1]: expected a string", "r1",
         PROMO_EINPUT},
        {HEAD "\"customer\":{\"segments\":\"vip\"},\"lines\":[]}",
         "customer.segments: expected an array", "r1", PROMO_EINPUT},
        {HEAD "\"customer\":\"c1\",\"lines\":[]}", "customer: expected an object", "r1",
         PROMO_EINPUT},
        {HEAD "\"customer\":{\"registered\":1},\"lines\":[]}",
         "customer.registered: expected true or false", "r1", PROMO_EINPUT},
        {HEAD "\"attrs\":{\"geo\":[1]},\"lines\":[]}",
         "attrs.geo: expected a string, a number or a boolean", "r1", PROMO_EINPUT},
        {HEAD "\"store\":1.5,\"lines\":[]}", "store: expected a string or a non-negative integer",
         "r1", PROMO_EINPUT},
        {"{\"id\":null,\"time\":\"2026-06-05T10:15\",\"lines\":[]}",
         "id: expected a string or a number", NULL, PROMO_EINPUT},
        /* missing fields */
        {"{\"time\":\"2026-06-05T10:15\",\"lines\":[]}", "id: missing", NULL, PROMO_EINPUT},
        {"{\"id\":\"r1\",\"lines\":[]}", "time: missing", "r1", PROMO_EINPUT},
        {"{\"id\":\"r1\",\"time\":\"2026-06-05T10:15\"}", "lines: missing", "r1", PROMO_EINPUT},
        {HEAD "\"lines\":[{\"qty\":1,\"price\":1}]}", "lines[0].sku: missing", "r1", PROMO_EINPUT},
        {HEAD "\"lines\":[{\"sku\":\"1\",\"qty\":1,\"price\":1},{\"sku\":\"2\",\"price\":1}]}",
         "lines[1].qty: missing", "r1", PROMO_EINPUT},
        {HEAD "\"lines\":[{\"sku\":\"1\",\"qty\":1}]}", "lines[0].price: missing", "r1",
         PROMO_EINPUT},
        /* the id comes after the error: still reported */
        {"{\"lines\":[{\"sku\":\"1\",\"qty\":1,\"price\":\"x\"}],\"id\":\"late\"}",
         "lines[0].price: expected a number", "late", PROMO_EINPUT},
        /* enumerations */
        {HEAD "\"channel\":\"web\",\"lines\":[]}", "channel: unknown value \"web\"", "r1",
         PROMO_EINPUT},
        {HEAD "\"payment\":\"Card\",\"lines\":[]}", "payment: unknown value \"Card\"", "r1",
         PROMO_EINPUT},
        {HEAD "\"channel\":\""
              "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"lines\":[]}",
         "channel: unknown value \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...\"", "r1",
         PROMO_EINPUT},
        {HEAD "\"channel\":\"p\\u00f6s\\n\",\"lines\":[]}", "channel: unknown value \"p??s?\"",
         "r1", PROMO_EINPUT},
        /* absurd quantities and prices */
        {HEAD LINE("1000000.001", "1"), "lines[0].qty: too large (more than 1000000)", "r1",
         PROMO_EINPUT},
        {HEAD LINE("1", "10000000000.01"), "lines[0].price: too large (more than 10000000000.00)",
         "r1", PROMO_EINPUT},
        {HEAD LINE("1", "1e30"), "lines[0].price: too large", "r1", PROMO_EINPUT},
        {HEAD LINE("0", "1"), "lines[0].qty: must be positive", "r1", PROMO_EINPUT},
        {HEAD LINE("-1", "1"), "lines[0].qty: must be positive", "r1", PROMO_EINPUT},
        {HEAD LINE("1", "-0.01"), "lines[0].price: must not be negative", "r1", PROMO_EINPUT},
        {HEAD "\"points_paid\":-5,\"lines\":[]}", "points_paid: must not be negative", "r1",
         PROMO_EINPUT},
        /* too many decimals */
        {HEAD "\"lines\":[{\"sku\":\"1\",\"qty\":1,\"price\":1},{\"sku\":\"1\",\"qty\":1,"
              "\"price\":1},{\"sku\":\"1\",\"qty\":1,\"price\":89.999}]}",
         "lines[2].price: more than 2 decimals", "r1", PROMO_EINPUT},
        {HEAD LINE("1", "0.30000000000000004"), "lines[0].price: more than 2 decimals", "r1",
         PROMO_EINPUT},
        {HEAD LINE("1.0005", "1"), "lines[0].qty: more than 3 decimals", "r1", PROMO_EINPUT},
        {HEAD LINE("1", "1e-3"), "lines[0].price: more than 2 decimals", "r1", PROMO_EINPUT},
        {HEAD "\"points_paid\":0.001,\"lines\":[]}", "points_paid: more than 2 decimals", "r1",
         PROMO_EINPUT},
        /* bad time */
        {"{\"id\":\"r1\",\"time\":\"2026-06-05\",\"lines\":[]}",
         "time: expected \"YYYY-MM-DDTHH:MM[:SS]\"", "r1", PROMO_EINPUT},
        {"{\"id\":\"r1\",\"time\":\"05.06.2026 10:15\",\"lines\":[]}",
         "time: expected \"YYYY-MM-DDTHH:MM[:SS]\"", "r1", PROMO_EINPUT},
        {"{\"id\":\"r1\",\"time\":\"2026-06-05T10:15:00 MSK\",\"lines\":[]}",
         "time: expected \"YYYY-MM-DDTHH:MM[:SS]\"", "r1", PROMO_EINPUT},
        {"{\"id\":\"r1\",\"time\":\"2026-02-30T10:15\",\"lines\":[]}", "time: invalid date", "r1",
         PROMO_EINPUT},
        {"{\"id\":\"r1\",\"time\":\"2026-06-05T24:00\",\"lines\":[]}", "time: invalid time", "r1",
         PROMO_EINPUT},
        /* bad dates */
        {HEAD "\"customer\":{\"birthday\":\"1950-02-29\"},\"lines\":[]}",
         "customer.birthday: invalid date", "r1", PROMO_EINPUT},
        {HEAD "\"customer\":{\"birthday\":\"7 June 1950\"},\"lines\":[]}",
         "customer.birthday: expected \"YYYY-MM-DD\"", "r1", PROMO_EINPUT},
    };
    /* The padding after a line is ignored: the same text whatever follows the line
     * (in `promo run`, the next line of the batch). */
    for (size_t i = 0; i < 3 * sizeof cases / sizeof cases[0]; i++) {
        const promo_receipt *r = (const promo_receipt *)1;
        promo_status st = parse_pad(cases[i / 3].json, &r, "x}{"[i % 3]);
        i /= 3;
        cr_expect_eq(st, cases[i].st, "case %zu %s: status %d (%s)", i, cases[i].json, st, err);
        cr_assert_null(r, "case %zu", i);
        cr_expect_str_eq(err, cases[i].error, "case %zu: %s: got %s", i, cases[i].json, err);
        if (cases[i].id)
            assert_str(rid, cases[i].id);
        else
            cr_assert_null(rid.p, "case %zu: id should be absent", i);
        i = i * 3 + 2;
    }
}

Test(receipt, invalid_utf8_and_control_characters) {
    cr_assert_eq(
        parse("{\"id\":\"r1\",\"time\":\"2026-06-05T10:15\",\"lines\":[],\"x\":\"\xff\"}", NULL),
        PROMO_EINPUT);
    cr_assert_str_eq(err, "invalid JSON: The input is not valid UTF-8 at byte 53");
    assert_str(rid, "r1");
    cr_assert_eq(
        parse("{\"id\":\"r1\",\"time\":\"2026-06-05T10:15\",\"lines\":[],\"x\":\"a\tb\"}", NULL),
        PROMO_EINPUT);
    cr_assert_str_eq(err, "invalid JSON: Within strings, some characters must be escaped, we "
                          "found unescaped characters at byte 54");
}

Test(receipt, too_many_lines) {
    size_t cap = 64 + (PROMO_MAX_LINES + 1) * 40;
    char *json = __libc_malloc(cap);
    size_t n = (size_t)snprintf(json, cap, HEAD "\"lines\":[");
    for (unsigned i = 0; i <= PROMO_MAX_LINES; i++)
        n += (size_t)snprintf(json + n, cap - n, "%s{\"sku\":\"1\",\"qty\":1,\"price\":1}",
                              i ? "," : "");
    snprintf(json + n, cap - n, "]}");
    cr_assert_eq(parse(json, NULL), PROMO_ELIMIT);
    cr_assert_str_eq(err, "lines: more than 10000 lines");
    assert_str(rid, "r1");
    /* exactly the maximum is fine */
    char *last = strrchr(json, '{');
    strcpy(last - 1, "]}");
    const promo_receipt *r = ok(json);
    cr_assert_eq(r->nlines, PROMO_MAX_LINES);
    __libc_free(json);
}

/* issue 10.1: a nesting bomb in a field the reader skips (top level, in the customer,
 * in a line; before and after the id) is one error, never a deep recursion. */
static char *nest_bomb(const char *pre, const char *post, int depth) {
    size_t cap = strlen(pre) + strlen(post) + 2 * (size_t)depth + 1;
    char *j = __libc_malloc(cap);
    size_t n = strlen(pre);
    memcpy(j, pre, n);
    memset(j + n, '[', (size_t)depth);
    memset(j + n + depth, ']', (size_t)depth);
    strcpy(j + n + 2 * (size_t)depth, post);
    return j;
}

Test(receipt, nesting_bomb_is_one_error) {
    static const struct {
        const char *pre, *post, *id;
    } cases[] = {
        {HEAD "\"lines\":[],\"x\":", "}", "r1"},
        {"{\"time\":\"2026-06-05T10:15\",\"lines\":[],\"x\":", ",\"id\":\"r9\"}", "r9"},
        {HEAD "\"customer\":{\"id\":\"c\",\"x\":", "},\"lines\":[]}", "r1"},
        {HEAD "\"lines\":[{\"sku\":\"1\",\"qty\":1,\"price\":1,\"x\":", "}]}", "r1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *j = nest_bomb(cases[i].pre, cases[i].post, 100000);
        cr_assert_eq(parse(j, NULL), PROMO_EINPUT, "case %zu", i);
        cr_assert(strstr(err, "nested deeper than 64 levels") != NULL, "case %zu: %s", i, err);
        assert_str(rid, cases[i].id);
        __libc_free(j);
    }
    /* 60 levels inside the root object are fine, 64 are not */
    char *j = nest_bomb(HEAD "\"lines\":[],\"x\":", "}", 62);
    ok(j);
    __libc_free(j);
    j = nest_bomb(HEAD "\"lines\":[],\"x\":", "}", 64);
    cr_assert_eq(parse(j, NULL), PROMO_EINPUT);
    __libc_free(j);
}

Test(receipt, no_allocation_after_warm_up) {
    const char *big =
        "{\"id\":\"r\\u00311\",\"store\":101,\"time\":\"2026-06-05T10:15\",\"codes\":[\"A\",\"B\"],"
        "\"attrs\":{\"w\":\"rain\",\"t\":1.5},\"customer\":{\"id\":\"c1\",\"segments\":[\"a\","
        "\"b\",\"c\"],\"attrs\":{\"z\":true}},\"lines\":[{\"sku\":\"1\",\"qty\":1,\"price\":1},"
        "{\"sku\":\"2\",\"qty\":2,\"price\":2},{\"sku\":\"3\",\"qty\":3,\"price\":3}]}";
    size_t n = strlen(big);
    char *b = __libc_malloc(n + PROMO_JSON_PADDING);
    memcpy(b, big, n);
    memset(b + n, ' ', PROMO_JSON_PADDING);
    const promo_receipt *r;
    cr_assert_eq(rx_parse(rd, b, n, &r, NULL, err, sizeof err), PROMO_OK, "%s", err);
    cr_assert_eq(rx_parse(rd, b, 40, &r, NULL, err, sizeof err), PROMO_EINPUT);
    long before = n_allocs;
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(rx_parse(rd, b, n, &r, NULL, err, sizeof err), PROMO_OK);
        cr_assert_eq(rx_parse(rd, b, 40, &r, NULL, err, sizeof err), PROMO_EINPUT);
    }
    if (PROMO_COUNT_ALLOCS)
        cr_assert_eq(n_allocs, before, "%ld allocations in 200 parses", n_allocs - before);
    cr_assert_eq(r, NULL);
    __libc_free(b);
}

/* ------------------------------------------------------------------- results ---- */

/* A hand-built bundle: just the string pool and the campaign table the writer reads. */
static const char pool[] = "dairy_10\0base_1\0NEXT10\0Say \"hi\"\n\\ now\0x";
static const uint32_t pool_off[] = {0, 9, 16, 23, 38, 40};
static pb_campaign camps[2];
static struct promo_bundle fake;

static void fake_bundle(void) {
    memset(&fake, 0, sizeof fake);
    fake.str_off = pool_off;
    fake.str_bytes = pool;
    fake.nstrings = 5;
    camps[0].id = 0;
    camps[1].id = 1;
    fake.campaigns = camps;
    fake.ncampaigns = 2;
}

Test(result, spec_example_byte_exact) {
    fake_bundle();
    promo_line_result lines[] = {{17980, 1798, 16182, 0, 1}};
    promo_by by[] = {{0, 1798}};
    promo_points pts[] = {{1, 162, civil_days(2026, 6, 5), civil_days(2026, 9, 3)}};
    uint32_t applied[] = {0, 1};
    promo_result res = {0};
    res.bundle = &fake;
    res.id = (promo_str){"r1", 2};
    res.total = 17980;
    res.discount = 1798;
    res.final = 16182;
    res.lines = lines;
    res.nlines = 1;
    res.by = by;
    res.nby = 1;
    res.points = pts;
    res.npoints = 1;
    res.applied = applied;
    res.napplied = 2;
    const char *want =
        "{\"id\":\"r1\",\"total\":179.80,\"discount\":17.98,\"final\":161.82,"
        "\"lines\":[{\"n\":0,\"amount\":179.80,\"discount\":17.98,\"final\":161.82,"
        "\"by\":{\"dairy_10\":17.98}}],"
        "\"points\":[{\"campaign\":\"base_1\",\"points\":1.62,\"activate\":\"2026-06-05\","
        "\"expire\":\"2026-09-03\"}],"
        "\"coupons\":[],\"messages\":[],\"spend_limit\":null,\"applied\":[\"dairy_10\",\"base_1\"]"
        "}";
    char buf[1024];
    size_t n = promo_result_to_json(&res, buf, sizeof buf);
    cr_assert_str_eq(buf, want);
    cr_assert_eq(n, strlen(want));

    /* Too small a buffer: the needed length, no overflow, and it fits with one more. */
    memset(buf, '#', sizeof buf);
    cr_assert_eq(promo_result_to_json(&res, buf, 10), n);
    cr_assert_eq(buf[10], '#');
    cr_assert_eq(promo_result_to_json(&res, buf, n), n, "no room for the NUL");
    cr_assert_eq(promo_result_to_json(&res, buf, n + 1), n);
    cr_assert_str_eq(buf, want);
    cr_assert_eq(promo_result_to_json(&res, NULL, 0), n);
}

Test(result, every_section_and_explain) {
    fake_bundle();
    promo_line_result lines[] = {{100, 0, 100, 0, 0}, {5, 5, 0, 0, 2}};
    promo_by by[] = {{0, 3}, {1, 2}};
    promo_points pts[] = {{0, 12345678901LL, civil_days(2026, 1, 1), INT32_MIN}};
    promo_text coupons[] = {{1, 2}};
    promo_text msgs[] = {{0, 3}, {1, 4}};
    uint32_t applied[] = {1};
    promo_explain ex[] = {
        {1, PROMO_OUT_APPLIED, UINT32_MAX, NULL},
        {0, PROMO_OUT_NOT_APPLICABLE, UINT32_MAX, "hours"},
        {0, PROMO_OUT_BLOCKED, 1, NULL},
        {1, PROMO_OUT_STOPPED, 0, NULL},
        {0, PROMO_OUT_LIMIT, UINT32_MAX, NULL},
        {0, PROMO_OUT_BUDGET, UINT32_MAX, NULL},
        {1, PROMO_OUT_NOTHING, UINT32_MAX, NULL},
        {1, PROMO_OUT_NOT_APPLICABLE, UINT32_MAX, "sum(lines where dairy) >= 500"},
    };
    promo_result res = {0};
    res.bundle = &fake;
    res.id = (promo_str){"a\"b", 3};
    res.total = 105;
    res.discount = 5;
    res.final = 100;
    res.lines = lines;
    res.nlines = 2;
    res.by = by;
    res.nby = 2;
    res.points = pts;
    res.npoints = 1;
    res.coupons = coupons;
    res.ncoupons = 1;
    res.messages = msgs;
    res.nmessages = 2;
    res.has_spend_limit = 1;
    res.spend_limit = 0;
    res.applied = applied;
    res.napplied = 1;
    res.explain = ex;
    res.nexplain = sizeof ex / sizeof ex[0];
    char buf[2048];
    promo_result_to_json(&res, buf, sizeof buf);
    cr_assert_str_eq(
        buf, "{\"id\":\"a\\\"b\",\"total\":1.05,\"discount\":0.05,\"final\":1.00,"
             "\"lines\":[{\"n\":0,\"amount\":1.00,\"discount\":0.00,\"final\":1.00,\"by\":{}},"
             "{\"n\":1,\"amount\":0.05,\"discount\":0.05,\"final\":0.00,"
             "\"by\":{\"dairy_10\":0.03,\"base_1\":0.02}}],"
             "\"points\":[{\"campaign\":\"dairy_10\",\"points\":123456789.01,"
             "\"activate\":\"2026-01-01\",\"expire\":null}],"
             "\"coupons\":[\"NEXT10\"],\"messages\":[\"Say \\\"hi\\\"\\n\\\\ now\",\"x\"],"
             "\"spend_limit\":0.00,\"applied\":[\"base_1\"],"
             "\"explain\":[{\"campaign\":\"base_1\",\"outcome\":\"applied\"},"
             "{\"campaign\":\"dairy_10\",\"outcome\":\"condition false\",\"part\":\"hours\"},"
             "{\"campaign\":\"dairy_10\",\"outcome\":\"blocked\",\"by\":\"base_1\"},"
             "{\"campaign\":\"base_1\",\"outcome\":\"stopped\",\"by\":\"dairy_10\"},"
             "{\"campaign\":\"dairy_10\",\"outcome\":\"limit reached\"},"
             "{\"campaign\":\"dairy_10\",\"outcome\":\"budget exhausted\"},"
             "{\"campaign\":\"base_1\",\"outcome\":\"nothing to give\"},"
             "{\"campaign\":\"base_1\",\"outcome\":\"condition false\","
             "\"part\":\"sum(lines where dairy) >= 500\"}]}");

    /* An id that could not be read is null; an explain list may be empty. */
    res.id = (promo_str){NULL, 0};
    res.nexplain = 0;
    res.nlines = 0;
    res.npoints = res.ncoupons = res.nmessages = res.napplied = 0;
    res.has_spend_limit = 0;
    promo_result_to_json(&res, buf, sizeof buf);
    cr_assert_str_eq(buf, "{\"id\":null,\"total\":1.05,\"discount\":0.05,\"final\":1.00,"
                          "\"lines\":[],\"points\":[],\"coupons\":[],\"messages\":[],"
                          "\"spend_limit\":null,\"applied\":[],\"explain\":[]}");
}

Test(result, money_formatting) {
    static const struct {
        int64_t v;
        const char *s;
    } cases[] = {
        {0, "0.00"},
        {5, "0.05"},
        {10, "0.10"},
        {17980, "179.80"},
        {-5, "-0.05"},
        {-17980, "-179.80"},
        {100000000000000LL, "1000000000000.00"},
        {INT64_MAX, "92233720368547758.07"},
        {INT64_MIN, "-92233720368547758.08"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char b[24];
        size_t n = out_money(cases[i].v, b);
        b[n] = 0;
        cr_assert_str_eq(b, cases[i].s);
    }
}

Test(result, error_record) {
    char buf[256];
    size_t n = out_error_to_json((promo_str){"r1", 2}, 17, "lines[2].price: expected a number", buf,
                                 sizeof buf);
    cr_assert_str_eq(buf,
                     "{\"id\":\"r1\",\"error\":\"line 17: lines[2].price: expected a number\"}");
    cr_assert_eq(n, strlen(buf));
    out_error_to_json((promo_str){NULL, 0}, 3, "empty line", buf, sizeof buf);
    cr_assert_str_eq(buf, "{\"id\":null,\"error\":\"line 3: empty line\"}");
    out_error_to_json((promo_str){"x\\y", 3}, 0, "time: expected \"YYYY-MM-DDTHH:MM[:SS]\"", buf,
                      sizeof buf);
    cr_assert_str_eq(buf, "{\"id\":\"x\\\\y\",\"error\":\"time: expected "
                          "\\\"YYYY-MM-DDTHH:MM[:SS]\\\"\"}");
    memset(buf, '#', sizeof buf);
    cr_assert_eq(out_error_to_json((promo_str){"r1", 2}, 1, "x", buf, 5), 31);
    cr_assert_eq(buf[5], '#');
}
