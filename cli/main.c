/*
 * main.c — `promo`: dispatches to the subcommands of cli.h.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "promo.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    {"check", cmd_check, "parse, type-check and lint .rule files"},
    {"build", cmd_build, "compile .rule files into a bundle (-o set.pbc)"},
    {"run", cmd_run, "evaluate a JSON-lines receipt stream with a bundle"},
    {"test", cmd_test, "run the example blocks of .rule files"},
    {"fmt", cmd_fmt, "format .rule files canonically"},
    {"disasm", cmd_disasm, "list a bundle in human-readable form"},
    {"node", cmd_node, "own partitions of a scale-out over NATS JetStream"},
    {"client", cmd_client, "send a JSON-lines stream through the scale-out, results in order"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: promo <command> [options] [args]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n`promo <command> --help` describes a command; docs/cli.md has them all.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("promo %s (bundle format %d)\n", promo_version(), 1);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "promo: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
