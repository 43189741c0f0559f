/*
 * args.c — argument parsing shared by the subcommands that take FILES/DIRS
 * (promo fmt, promo test), and the JSON-lines reader of promo plan and explain.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "promo.h"
#include "xalloc.h"

int cli_parse_paths(const char *cmd, int argc, char **argv, const cli_flag *flags, size_t nflags,
                    void (*usage)(FILE *), char ***paths, int *npaths) {
    char **p = xcalloc((size_t)argc + 1, sizeof *p);
    int n = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            xfree(p);
            return 0;
        }
        if (a[0] == '-' && a[1]) {
            size_t f = 0;
            while (f < nflags && strcmp(a, flags[f].name))
                f++;
            if (f == nflags) {
                fprintf(stderr, "promo %s: unknown option '%s'\n", cmd, a);
                usage(stderr);
                xfree(p);
                return 2;
            }
            *flags[f].target = flags[f].value;
            continue;
        }
        p[n++] = argv[i];
    }
    if (!n) {
        usage(stderr);
        xfree(p);
        return 2;
    }
    *paths = p;
    *npaths = n;
    return -1;
}

const char *cli_jsonl_next(cli_jsonl *r, size_t *len) {
    ssize_t n;
    while ((n = getline(&r->line, &r->cap, r->in)) >= 0) {
        r->lineno++;
        while (n > 0 && (r->line[n - 1] == '\n' || r->line[n - 1] == '\r'))
            n--;
        if (n == 0) continue;
        if ((size_t)n + PROMO_JSON_PADDING > r->bcap) {
            r->bcap = (size_t)n + PROMO_JSON_PADDING;
            r->buf = xrealloc(r->buf, r->bcap);
        }
        memcpy(r->buf, r->line, (size_t)n);
        memset(r->buf + n, ' ', PROMO_JSON_PADDING);
        *len = (size_t)n;
        return r->buf;
    }
    return NULL;
}

void cli_jsonl_free(cli_jsonl *r) {
    free(r->line);
    xfree(r->buf);
    r->line = r->buf = NULL;
}
