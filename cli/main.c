/*
 * main.c — `promo`: dispatches to the subcommands of cli.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "bundle_format.h"
#include "promo.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    {"check", cmd_check, "parse, type-check and lint .rule files"},
    {"build", cmd_build, "compile .rule files into a bundle (-o set.pbc)"},
    {"run", cmd_run, "evaluate a JSON-lines receipt stream with a bundle"},
    {"plan", cmd_plan, "compare two bundles on a receipt stream, per campaign"},
    {"test", cmd_test, "run the example blocks of .rule files"},
    {"fmt", cmd_fmt, "format .rule files canonically"},
    {"lsp", cmd_lsp, "the language server (LSP over stdio) for editors"},
    {"disasm", cmd_disasm, "list a bundle in human-readable form"},
    {"state", cmd_state, "look into, export, import or verify a state store (run --state)"},
    {"explain", cmd_explain, "explain a diagnostic code, or what a bundle did with a receipt"},
    {"node", cmd_node, "own partitions of a scale-out over NATS JetStream"},
    {"client", cmd_client, "send a JSON-lines stream through the scale-out, results in order"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: promo <command> [options] [args]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n`promo <command> --help` describes a command; docs/cli.md has them all.\n");
}

/* Every command's output is checked once more here: a write that failed at any time
 * (ferror), the last flush and the close of standard output all count, so no command
 * exits 0 after losing output (docs/cli.md: exit 2). */
static int main_finish(const char *cmd, int rc) {
    errno = 0;
    int bad = fflush(stdout) != 0 || ferror(stdout);
    int e = errno;
    if (fclose(stdout) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (!bad) return rc;
    fprintf(stderr, "promo %s: write error on standard output: %s\n", cmd,
            e ? strerror(e) : "an earlier write failed");
    return 2;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return main_finish("help", 0);
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("promo %s (bundle format %d)\n", promo_version(), PB_FORMAT);
        return main_finish("version", 0);
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return main_finish(commands[i].name, commands[i].fn(argc - 1, argv + 1));
    fprintf(stderr, "promo: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
