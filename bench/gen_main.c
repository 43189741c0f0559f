/*
 * gen_main.c — `promo-gen`, the command-line face of the workload generator (gen.h):
 *
 *   promo-gen --seed S --campaigns N --receipts R --out DIR [--lines L] [--shape NAME]
 *             [--quiet]
 *
 * writes DIR/rules/{00_catalog,10_discounts,20_multibuy,30_loyalty}.rule (N campaigns
 * in all) and DIR/receipts.jsonl (R receipts, SPEC 4). The same arguments always give
 * the same bytes. Receipts are streamed, so R may exceed memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gen.h"

static void usage(FILE *f) {
    fputs("usage: promo-gen --seed S --campaigns N --receipts R --out DIR [--lines L] "
          "[--shape NAME] [--quiet]\n"
          "  writes DIR/rules/*.rule (N campaigns) and DIR/receipts.jsonl (R receipts);\n"
          "  --lines L gives every receipt exactly L lines (default: 1..40, mean ~12)\n"
          "  --shape NAME draws a shape of campaign set (docs/performance.md):\n",
          f);
    for (int i = 0; i < GEN__SHAPE_COUNT; i++)
        fprintf(f, "    %-13s %s\n", gen_shape_names[i], gen_shape_docs[i]);
}

static int parse_u64(const char *s, unsigned long long *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-') return -1;
    *out = v;
    return 0;
}

static int mkdir_p(const char *path) {
    if (mkdir(path, 0777) == 0 || errno == EEXIST) return 0;
    fprintf(stderr, "promo-gen: %s: %s\n", path, strerror(errno));
    return -1;
}

static int write_file(const char *path, const strbuf *b) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b->data ? b->data : "", 1, b->len, f) != b->len || fclose(f) != 0) {
        fprintf(stderr, "promo-gen: %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    unsigned long long seed = 1, ncamp = 400, nrec = 10000, lines = 0;
    const char *out = NULL;
    int quiet = 0, shape = GEN_SHAPE_default;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        unsigned long long *dst = !strcmp(a, "--seed")        ? &seed
                                  : !strcmp(a, "--campaigns") ? &ncamp
                                  : !strcmp(a, "--receipts")  ? &nrec
                                  : !strcmp(a, "--lines")     ? &lines
                                                              : NULL;
        if (dst) {
            if (i + 1 >= argc || parse_u64(argv[i + 1], dst)) {
                fprintf(stderr, "promo-gen: %s needs a non-negative integer\n", a);
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--out") && i + 1 < argc) {
            out = argv[++i];
        } else if (!strcmp(a, "--shape") && i + 1 < argc) {
            shape = gen_shape_find(argv[++i]);
            if (shape < 0) {
                fprintf(stderr, "promo-gen: unknown shape '%s'\n", argv[i]);
                usage(stderr);
                return 2;
            }
        } else if (!strcmp(a, "--quiet")) {
            quiet = 1;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "promo-gen: unknown argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!out || ncamp > 1000000 || lines > GEN_MAX_LINES * 250) {
        usage(stderr);
        return 2;
    }

    strbuf path = STRBUF_INIT;
    if (mkdir_p(out)) return 2;
    sb_printf(&path, "%s/rules", out);
    if (mkdir_p(sb_cstr(&path))) return 2;

    strbuf files[GEN_RULE_FILES] = {STRBUF_INIT, STRBUF_INIT, STRBUF_INIT, STRBUF_INIT};
    gen_rules_stats st;
    gen_rules_shape(seed, (uint32_t)ncamp, (gen_shape)shape, files, &st);
    for (int f = 0; f < GEN_RULE_FILES; f++) {
        path.len = 0;
        sb_printf(&path, "%s/rules/%s", out, gen_rule_file_names[f]);
        if (write_file(sb_cstr(&path), &files[f])) return 2;
        sb_free(&files[f]);
    }

    path.len = 0;
    sb_printf(&path, "%s/receipts.jsonl", out);
    FILE *rf = fopen(sb_cstr(&path), "wb");
    if (!rf) {
        fprintf(stderr, "promo-gen: %s: %s\n", sb_cstr(&path), strerror(errno));
        return 2;
    }
    gen_arena *arena = gen_arena_new();
    strbuf line = STRBUF_INIT;
    unsigned long long nlines = 0;
    for (unsigned long long i = 0; i < nrec; i++) {
        promo_receipt r;
        gen_arena_reset(arena);
        gen_receipt_shape(arena, seed, i, (uint32_t)lines, (gen_shape)shape, &r);
        nlines += r.nlines;
        line.len = 0;
        gen_receipt_json(&r, &line);
        sb_putc(&line, '\n');
        if (fwrite(line.data, 1, line.len, rf) != line.len) {
            fprintf(stderr, "promo-gen: %s: %s\n", sb_cstr(&path), strerror(errno));
            return 2;
        }
    }
    if (fclose(rf) != 0) {
        fprintf(stderr, "promo-gen: %s: %s\n", sb_cstr(&path), strerror(errno));
        return 2;
    }
    gen_arena_free(arena);
    sb_free(&line);
    sb_free(&path);

    if (!quiet) {
        fprintf(stderr, "promo-gen: %s: %llu campaigns (", out, ncamp);
        for (int m = 0; m < GEN__M_COUNT; m++)
            fprintf(stderr, "%s%s %u", m ? ", " : "", gen_mechanic_names[m], st.mechanic[m]);
        fprintf(stderr, "), %u sets, %u groups; %llu receipts, %llu lines (%.2f per receipt)\n",
                st.sets, st.groups, nrec, nlines, nrec ? (double)nlines / (double)nrec : 0.0);
    }
    return 0;
}
