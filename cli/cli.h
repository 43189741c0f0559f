/*
 * cli.h — the `promo` command line: one function per subcommand (cli/cmd_*.c),
 * dispatched by cli/main.c. Each returns the process exit status:
 * 0 success, 1 errors found (diagnostics, failed examples, bad input lines with
 * --strict), 2 usage or I/O error.
 */
#ifndef PROMO_CLI_H
#define PROMO_CLI_H

int cmd_check(int argc, char **argv);   /* promo check FILES/DIRS... */
int cmd_build(int argc, char **argv);   /* promo build FILES/DIRS... -o set.pbc */
int cmd_disasm(int argc, char **argv);  /* promo disasm set.pbc */
int cmd_run(int argc, char **argv);     /* promo run set.pbc [receipts.jsonl] */
int cmd_test(int argc, char **argv);    /* promo test FILES/DIRS... */
int cmd_fmt(int argc, char **argv);     /* promo fmt FILES... */
int cmd_state(int argc, char **argv);   /* promo state COMMAND DIR [ID] */
int cmd_plan(int argc, char **argv);    /* promo plan OLD.pbc NEW.pbc receipts.jsonl */
int cmd_explain(int argc, char **argv); /* promo explain CODE | set.pbc receipt */
int cmd_lsp(int argc, char **argv);     /* promo lsp: the language server on stdio */
int cmd_node(int argc, char **argv);    /* promo node set.pbc --nats URLS --id N (node/) */
int cmd_client(int argc, char **argv);  /* promo client --nats URLS [ops.jsonl] (node/) */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* A flag of a subcommand: `name` sets *target = value. */
typedef struct cli_flag {
    const char *name;
    int *target;
    int value;
} cli_flag;

/* Parses `promo CMD [flags] PATHS...` for the commands that take files and
 * directories. Returns -1 when the command should go on (*paths, to xfree, holds
 * *npaths >= 1 paths), else the exit status: 0 after --help, 2 on a usage error. */
int cli_parse_paths(const char *cmd, int argc, char **argv, const cli_flag *flags, size_t nflags,
                    void (*usage)(FILE *), char ***paths, int *npaths);

/* Reads JSON lines (promo plan, promo explain): each non-blank line without its line
 * break, followed by PROMO_JSON_PADDING readable bytes as the receipt parser needs. */
typedef struct cli_jsonl {
    FILE *in;
    char *line, *buf;
    size_t cap, bcap;
    size_t lineno; /* of the line returned last, 1-based */
} cli_jsonl;
/* The next line (its length in *len), or NULL at the end of input or on a read error
 * (ferror(r->in) tells). */
const char *cli_jsonl_next(cli_jsonl *r, size_t *len);
void cli_jsonl_free(cli_jsonl *r);

struct compilation;
struct strbuf;
/* promo fmt's layout of file fi of c into *out (0), or -1 when it does not parse. */
int fmt_file(struct compilation *c, uint32_t fi, struct strbuf *out);

#endif
