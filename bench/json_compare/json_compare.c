/*
 * json_compare.c — throwaway benchmark behind docs/json-reader.md (not part of any
 * build): the same JSONL receipts read into the same fields by promo's reader
 * (simdjson On-Demand, runtime/receipt_json.cc) and by jansson, json-c and cJSON;
 * receipts/s, heap allocations per receipt, and what reading money through a double
 * does to kopecks. Build and run: bench/json_compare/run.sh.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jc.h"
#include "receipt_json.h"

/* ---- allocation counter (interposes the C allocator of the whole process) ---- */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
static long n_allocs;
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

/* ---------------------------------------------------------------- promo / simdjson */
static void run_promo(char **lines, size_t *lens, size_t n, sink *k) {
    static rx_reader *rx;
    if (!rx) rx = rx_new(NULL);
    char err[256];
    for (size_t i = 0; i < n; i++) {
        const promo_receipt *r;
        if (rx_parse(rx, lines[i], lens[i], &r, NULL, err, sizeof err) != PROMO_OK) {
            k->errors++;
            continue;
        }
        k->receipts++;
        take_str(k, r->id.p, r->id.n);
        take_str(k, r->store.p, r->store.n);
        take_str(k, r->region.p, r->region.n);
        take_num(k, r->channel + r->payment + r->points_paid + r->date + r->time);
        for (uint32_t j = 0; j < r->ncodes; j++)
            take_str(k, r->codes[j].p, r->codes[j].n);
        for (uint32_t j = 0; j < r->nattrs; j++)
            take_str(k, r->attrs[j].value.p, r->attrs[j].value.n);
        if (r->customer) {
            take_str(k, r->customer->id.p, r->customer->id.n);
            take_str(k, r->customer->card.p, r->customer->card.n);
            take_num(k, r->customer->birthday);
        }
        for (uint32_t j = 0; j < r->nlines; j++) {
            const promo_line *l = &r->lines[j];
            take_str(k, l->sku.p, l->sku.n);
            take_str(k, l->category.p, l->category.n);
            take_num(k, l->qty + l->price + l->excluded);
        }
    }
}

/* ----------------------------------------------------------------------- cJSON */
static void run_cjson(char **lines, size_t *lens, size_t n, sink *k) {
    for (size_t i = 0; i < n; i++) {
        cJSON *root = cJSON_ParseWithLength(lines[i], lens[i]);
        if (!root) {
            k->errors++;
            continue;
        }
        k->receipts++;
        cJSON *v, *c;
        const char *s;
        if ((s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "id"))))
            take_str(k, s, strlen(s));
        if ((v = cJSON_GetObjectItemCaseSensitive(root, "store")))
            take_num(k, (int64_t)v->valuedouble);
        if ((s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "region"))))
            take_str(k, s, strlen(s));
        if ((s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "time"))))
            take_str(k, s, strlen(s));
        if ((v = cJSON_GetObjectItemCaseSensitive(root, "points_paid")))
            take_num(k, dbl_fixed(v->valuedouble, 2));
        cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(root, "codes")) {
            if ((s = cJSON_GetStringValue(v))) take_str(k, s, strlen(s));
        }
        cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(root, "attrs"))
            take_str(k, v->string, strlen(v->string));
        if ((c = cJSON_GetObjectItemCaseSensitive(root, "customer"))) {
            if ((s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "id"))))
                take_str(k, s, strlen(s));
            if ((s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "card"))))
                take_str(k, s, strlen(s));
        }
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(root, "lines")) {
            if ((s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "sku"))))
                take_str(k, s, strlen(s));
            if ((s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "category"))))
                take_str(k, s, strlen(s));
            cJSON *q = cJSON_GetObjectItemCaseSensitive(c, "qty");
            cJSON *p = cJSON_GetObjectItemCaseSensitive(c, "price");
            take_num(k, (q ? dbl_fixed(q->valuedouble, 3) : 0) +
                            (p ? dbl_fixed(p->valuedouble, 2) : 0) +
                            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "excluded")));
        }
        cJSON_Delete(root);
    }
}

/* ------------------------------------------------------------------------ main */
static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

typedef void (*runner)(char **, size_t *, size_t, sink *);

static void exactness(void) {
    static const char *prices[] = {"0.29",   "1.15",
                                   "89.90",  "4.35",
                                   "89.999", "0.30000000000000004",
                                   "1e2",    "92233720368547.75"};
    rx_reader *rx = rx_new(NULL);
    printf("\nprice text -> kopecks: promo reader | llround(double*100) | (int64)(double*100)\n");
    for (size_t i = 0; i < sizeof prices / sizeof prices[0]; i++) {
        char line[256];
        int n = snprintf(line, sizeof line - 64,
                         "{\"id\":1,\"time\":\"2026-06-05T10:00\",\"lines\":[{\"sku\":\"1\","
                         "\"qty\":1,\"price\":%s}]}",
                         prices[i]);
        memset(line + n, ' ', 64);
        const promo_receipt *r;
        char err[128], ours[160];
        if (rx_parse(rx, line, (size_t)n, &r, NULL, err, sizeof err) == PROMO_OK)
            snprintf(ours, sizeof ours, "%lld", (long long)r->lines[0].price);
        else
            snprintf(ours, sizeof ours, "error \"%s\"", err);
        double d = strtod(prices[i], NULL);
        printf("  %-22s %-45s %-20lld %lld\n", prices[i], ours, (long long)llround(d * 100),
               (long long)(d * 100));
    }
    rx_free(rx);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: json_compare receipts.jsonl [reps]\n");
        return 2;
    }
    int reps = argc > 2 ? atoi(argv[2]) : 3;
    FILE *f = fopen(argv[1], "rb");
    if (!f) return 2;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = __libc_malloc((size_t)sz + 64);
    if (fread(data, 1, (size_t)sz, f) != (size_t)sz) return 2;
    memset(data + sz, ' ', 64);
    fclose(f);
    size_t n = 0, cap = 1024;
    char **lines = __libc_malloc(cap * sizeof *lines);
    size_t *lens = __libc_malloc(cap * sizeof *lens);
    for (char *p = data, *end = data + sz; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) nl = end;
        if (n == cap) {
            cap *= 2;
            lines = __libc_realloc(lines, cap * sizeof *lines);
            lens = __libc_realloc(lens, cap * sizeof *lens);
        }
        lines[n] = p;
        lens[n++] = (size_t)(nl - p);
        p = nl + 1;
    }
    static const struct {
        const char *name;
        runner fn;
    } libs[] = {{"promo (simdjson 3.0.1 On-Demand)", run_promo},
                {"jansson 2.14", run_jansson},
                {"json-c 0.16", run_jsonc},
                {"cJSON 1.7.15", run_cjson}};
    printf("%zu receipts, %.1f MB\n", n, (double)sz / 1e6);
    printf("%-34s %14s %12s %10s\n", "reader", "receipts/s", "MB/s", "allocs/rc");
    for (size_t l = 0; l < sizeof libs / sizeof libs[0]; l++) {
        double best = 1e30;
        sink k = {0, 0, 0};
        long allocs = 0;
        for (int r = 0; r < reps; r++) {
            sink kk = {0, 0, 0};
            long a0 = n_allocs;
            double t0 = now_s();
            libs[l].fn(lines, lens, n, &kk);
            double t = now_s() - t0;
            allocs = n_allocs - a0;
            if (t < best) best = t;
            k = kk;
        }
        printf("%-34s %14.0f %12.1f %10.1f  (%ld ok, %ld errors, sum %llx)\n", libs[l].name,
               (double)n / best, (double)sz / 1e6 / best, (double)allocs / (double)n, k.receipts,
               k.errors, (unsigned long long)k.sum);
    }
    exactness();
    return 0;
}
