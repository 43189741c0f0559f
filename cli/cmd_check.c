/*
 * cmd_check.c — `promo check`, `promo build` and `promo disasm`: the command-line face
 * of the compiler (sources -> diagnostics -> bundle file) and of the bundle listing.
 * Text diagnostics go to stderr, JSON and SARIF to stdout. Exit status: 0 clean,
 * 1 errors (warnings too with --werror; a corrupt bundle for disasm), 2 usage or I/O.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic_write.h"
#include "bundle.h"
#include "disasm.h"
#include "civil.h"
#include "cli.h"
#include "compile.h"
#include "diag.h"
#include "promo.h"
#include "strbuf.h"
#include "xalloc.h"

enum { FMT_TEXT, FMT_JSON, FMT_SARIF };

typedef struct check_args {
    int format;
    int werror;
    int allow_empty;
    int lint_examples;
    int color;          /* -1 auto */
    int32_t today;      /* INT32_MIN: the current local date */
    const char *output; /* build: -o */
    char **paths;
    int npaths;
} check_args;

static const char check_help[] =
    "usage: promo check [options] FILES/DIRS...\n"
    "\n"
    "Parses, type-checks and lints .rule files (directories are searched recursively).\n"
    "\n"
    "options:\n"
    "  --format=text|json|sarif  diagnostics format (text on stderr, json/sarif on stdout)\n"
    "  --werror                  treat warnings as errors\n"
    "  --allow-empty             accept a set without campaigns (else error E027)\n"
    "  --lint-examples           warn about campaigns without an example (W007)\n"
    "  --today YYYY-MM-DD        the date for the 'already expired' lint (default: today)\n"
    "  --color=auto|always|never colored text diagnostics (default: auto)\n"
    "  -h, --help                this help\n"
    "\n"
    "exit status: 0 clean, 1 errors (or warnings with --werror), 2 usage or I/O error\n";

static const char build_help[] =
    "usage: promo build [options] FILES/DIRS... -o set.pbc\n"
    "\n"
    "Compiles .rule files into one verified bundle. Nothing is written when there is any\n"
    "error; the bundle is written to a temporary file and renamed into place.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE         the bundle to write (required)\n"
    "  --format=text|json|sarif  diagnostics format (text on stderr, json/sarif on stdout)\n"
    "  --werror                  treat warnings as errors\n"
    "  --allow-empty             accept a set without campaigns (else error E027)\n"
    "  --lint-examples           warn about campaigns without an example (W007)\n"
    "  --today YYYY-MM-DD        the date for the 'already expired' lint (default: today)\n"
    "  --color=auto|always|never colored text diagnostics (default: auto)\n"
    "  -h, --help                this help\n"
    "\n"
    "exit status: 0 written, 1 errors, 2 usage or I/O error\n";

static const char disasm_help[] = "usage: promo disasm set.pbc\n"
                                  "\n"
                                  "Verifies a bundle and prints a human-readable listing of it:\n"
                                  "header, groups, campaigns in evaluation order with their\n"
                                  "prefilter, rewards and bytecode, and history slots.\n"
                                  "\n"
                                  "exit status: 0 listed, 1 corrupt bundle, 2 usage or I/O error\n";

static int32_t check_local_today(void) {
    time_t now = time(NULL);
    struct tm tm;
    if (!localtime_r(&now, &tm)) return INT32_MIN;
    return civil_days(tm.tm_year + 1900, (unsigned)tm.tm_mon + 1, (unsigned)tm.tm_mday);
}

/* The value of `--name=value` or `--name value`; NULL (and *i untouched) when arg is
 * not this option. Sets *missing when the value is absent. */
static const char *check_opt(const char *name, int argc, char **argv, int *i, int *missing) {
    const char *arg = argv[*i];
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0) return NULL;
    if (arg[n] == '=') return arg + n + 1;
    if (arg[n] != 0) return NULL;
    if (*i + 1 >= argc) {
        *missing = 1;
        return NULL;
    }
    return argv[++*i];
}

/* Returns 0 to go on, 1 when --help was printed, 2 on a usage error (printed). */
static int check_parse(const char *cmd, const char *help, int build, int argc, char **argv,
                       check_args *a) {
    memset(a, 0, sizeof *a);
    a->color = -1;
    a->today = INT32_MIN;
    a->paths = xcalloc((size_t)argc + 1, sizeof *a->paths);
    int only_paths = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v;
        int missing = 0;
        if (only_paths || arg[0] != '-' || !strcmp(arg, "-")) {
            a->paths[a->npaths++] = argv[i];
            continue;
        }
        if (!strcmp(arg, "--")) {
            only_paths = 1;
        } else if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            fputs(help, stdout);
            return 1;
        } else if (!strcmp(arg, "--werror")) {
            a->werror = 1;
        } else if (!strcmp(arg, "--allow-empty")) {
            a->allow_empty = 1;
        } else if (!strcmp(arg, "--lint-examples")) {
            a->lint_examples = 1;
        } else if ((v = check_opt("--format", argc, argv, &i, &missing))) {
            if (!strcmp(v, "text"))
                a->format = FMT_TEXT;
            else if (!strcmp(v, "json"))
                a->format = FMT_JSON;
            else if (!strcmp(v, "sarif"))
                a->format = FMT_SARIF;
            else {
                fprintf(stderr, "promo %s: unknown format '%s' (text, json or sarif)\n", cmd, v);
                return 2;
            }
        } else if ((v = check_opt("--color", argc, argv, &i, &missing))) {
            if (!strcmp(v, "auto"))
                a->color = -1;
            else if (!strcmp(v, "always"))
                a->color = 1;
            else if (!strcmp(v, "never"))
                a->color = 0;
            else {
                fprintf(stderr, "promo %s: --color takes auto, always or never\n", cmd);
                return 2;
            }
        } else if ((v = check_opt("--today", argc, argv, &i, &missing))) {
            if (!civil_parse_date(v, (unsigned)strlen(v), &a->today) || strlen(v) != 10) {
                fprintf(stderr, "promo %s: --today takes a date YYYY-MM-DD, not '%s'\n", cmd, v);
                return 2;
            }
        } else if (build && ((v = check_opt("-o", argc, argv, &i, &missing)) ||
                             (v = check_opt("--output", argc, argv, &i, &missing)))) {
            a->output = v;
        } else {
            if (missing)
                fprintf(stderr, "promo %s: option '%s' needs a value\n", cmd, arg);
            else
                fprintf(stderr, "promo %s: unknown option '%s'\n", cmd, arg);
            fprintf(stderr, "try 'promo %s --help'\n", cmd);
            return 2;
        }
        if (missing) {
            fprintf(stderr, "promo %s: option '%s' needs a value\n", cmd, arg);
            return 2;
        }
    }
    if (a->npaths == 0) {
        fprintf(stderr, "promo %s: no input files\n%s", cmd, help);
        return 2;
    }
    if (build && !a->output) {
        fprintf(stderr, "promo %s: no output file (-o set.pbc)\n", cmd);
        return 2;
    }
    if (a->today == INT32_MIN) a->today = check_local_today();
    if (a->color < 0) {
        const char *term = getenv("TERM");
        a->color = isatty(STDERR_FILENO) && !getenv("NO_COLOR") && !(term && !strcmp(term, "dumb"));
    }
    return 0;
}

static void check_render(const check_args *a, compilation *c) {
    strbuf out = STRBUF_INIT;
    diag_sort(&c->diags);
    if (a->format == FMT_JSON) {
        diag_render_json(&c->diags, &out);
        fwrite(out.data ? out.data : "", 1, out.len, stdout);
    } else if (a->format == FMT_SARIF) {
        diag_render_sarif(&c->diags, &out);
        fwrite(out.data ? out.data : "", 1, out.len, stdout);
    } else {
        diag_render_text(&c->diags, &out, a->color);
        fwrite(out.data ? out.data : "", 1, out.len, stderr);
    }
    fflush(stdout);
    sb_free(&out);
}

static int check_failed(const check_args *a, const compilation *c) {
    return c->diags.nerrors > 0 || (a->werror && c->diags.nwarnings > 0);
}

/* Writes `data` next to `path` and renames it into place, so a reader never sees a
 * half-written bundle and a failed build leaves the old one. */
static int check_run(int argc, char **argv, int build) {
    const char *cmd = build ? "build" : "check";
    check_args a;
    int rc = check_parse(cmd, build ? build_help : check_help, build, argc, argv, &a);
    if (rc) {
        xfree(a.paths);
        return rc == 1 ? 0 : 2;
    }
    compile_opts opts = {a.today, a.werror};
    compilation c;
    comp_init(&c, &opts);
    c.require_campaigns = !a.allow_empty;
    c.lint_examples = a.lint_examples;
    int io = comp_add_paths(&c, a.paths, a.npaths) < 0;
    strbuf bundle = STRBUF_INIT;
    if (!io) {
        if (build)
            comp_build(&c, &bundle);
        else
            comp_check(&c);
    }
    check_render(&a, &c);
    if (io) {
        rc = 2;
    } else if (check_failed(&a, &c) || (build && bundle.len == 0)) {
        rc = 1;
    } else if (build) {
        /* Never ship what the runtime would refuse: load the bytes once. */
        char err[256];
        promo_bundle *b = NULL;
        promo_status st = promo_bundle_load_memory(bundle.data, bundle.len, &b, err, sizeof err);
        if (st != PROMO_OK) {
            fprintf(stderr, "promo build: internal error, the bundle does not verify: %s\n", err);
            rc = 1;
        } else {
            promo_bundle_release(b);
            char werr[512];
            rc = 0;
            if (aw_write_file(a.output, bundle.data, bundle.len, werr, sizeof werr) < 0) {
                fprintf(stderr, "promo build: %s\n", werr);
                rc = 2;
            }
        }
    }
    sb_free(&bundle);
    comp_free(&c);
    xfree(a.paths);
    return rc;
}

int cmd_check(int argc, char **argv) {
    return check_run(argc, argv, 0);
}

int cmd_build(int argc, char **argv) {
    return check_run(argc, argv, 1);
}

int cmd_disasm(int argc, char **argv) {
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(disasm_help, stdout);
            return 0;
        }
        if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "promo disasm: unknown option '%s'\ntry 'promo disasm --help'\n",
                    argv[i]);
            return 2;
        }
        if (path) {
            fprintf(stderr, "promo disasm: one bundle at a time\n");
            return 2;
        }
        path = argv[i];
    }
    if (!path) {
        fprintf(stderr, "promo disasm: no bundle given\n%s", disasm_help);
        return 2;
    }
    char err[256];
    promo_bundle *b = NULL;
    promo_status st = promo_bundle_load_file(path, &b, err, sizeof err);
    if (st != PROMO_OK) {
        fprintf(stderr, "promo disasm: %s%s%s\n", st == PROMO_EIO ? "" : path,
                st == PROMO_EIO ? "" : ": ", err);
        return st == PROMO_EIO || st == PROMO_ENOMEM ? 2 : 1;
    }
    strbuf out = STRBUF_INIT;
    bundle_disasm(b, &out);
    fwrite(out.data ? out.data : "", 1, out.len, stdout);
    sb_free(&out);
    promo_bundle_release(b);
    return fflush(stdout) == 0 ? 0 : 2;
}
