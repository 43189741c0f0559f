/*
 * args.c — argument parsing shared by the subcommands that take FILES/DIRS
 * (promo fmt, promo test).
 */
#include <string.h>

#include "cli.h"
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
