/*
 * compile.c — the compiler driver: gathers sources, runs the stages in order
 * (lexer/parser -> AST -> sema checks -> code generation -> bundle) and counts the
 * errors. Files are always processed in bytewise path order, whatever order they were
 * named in, so diagnostics and bundles are deterministic.
 */
#include "compile.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "codegen.h"
#include "lint.h"
#include "parse.h"
#include "readfile.h"
#include "sema.h"
#include "strbuf.h"
#include "xalloc.h"

void comp_init(compilation *c, const compile_opts *opts) {
    memset(c, 0, sizeof *c);
    c->arena = ast_arena_new();
    if (opts) {
        c->opts = *opts;
    } else {
        c->opts.today = INT32_MIN;
        c->opts.werror = 0;
    }
}

void comp_free(compilation *c) {
    if (c->sema) sema_free(c);
    diag_list_free(&c->diags);
    for (size_t i = 0; i < c->nfiles; i++) {
        xfree((char *)c->files[i].path);
        xfree((char *)c->files[i].text);
    }
    xfree(c->files);
    xfree(c->trees);
    ast_arena_free(c->arena);
    memset(c, 0, sizeof *c);
}

/* Takes ownership of path and text. */
static uint32_t comp_push(compilation *c, char *path, char *text, size_t len) {
    if (c->nfiles == c->capfiles) {
        c->capfiles = c->capfiles ? c->capfiles * 2 : 8;
        c->files = xrealloc(c->files, c->capfiles * sizeof *c->files);
    }
    src_file *f = &c->files[c->nfiles];
    f->path = path;
    f->text = text;
    f->len = len;
    c->diags.files = c->files;
    c->diags.nfiles = ++c->nfiles;
    return (uint32_t)(c->nfiles - 1);
}

void comp_add_source(compilation *c, const char *path, const char *text, size_t len) {
    char *copy = xmalloc(len + 1);
    memcpy(copy, text, len);
    copy[len] = 0;
    comp_push(c, xstrdup(path), copy, len);
}

static int comp_has_file(const compilation *c, const char *path) {
    for (size_t i = 0; i < c->nfiles; i++)
        if (strcmp(c->files[i].path, path) == 0) return 1;
    return 0;
}

int comp_add_file(compilation *c, const char *path) {
    /* A file named twice (directly and through its directory) is read once. */
    if (comp_has_file(c, path)) return 0;
    char *text;
    size_t len;
    int err = rf_read(path, COMP_MAX_FILE, &text, &len);
    if (err) {
        /* The file stays in the table (empty) so the diagnostic can name it. */
        uint32_t idx = comp_push(c, xstrdup(path), xstrdup(""), 0);
        src_span sp = {idx, 0, 0, 0, 0};
        char why[64];
        diag_report(&c->diags, DIAG_E025, sp, "cannot read file: %s",
                    rf_strerror(err, COMP_MAX_FILE, why, sizeof why));
        return -1;
    }
    comp_push(c, xstrdup(path), text, len);
    return 0;
}

static int comp_strcmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collects *.rule files under `dir` into a list; hidden entries are skipped. */
static int comp_walk(compilation *c, const char *dir, char ***list, size_t *n, size_t *cap) {
    DIR *d = opendir(dir);
    if (!d) {
        uint32_t idx = comp_push(c, xstrdup(dir), xstrdup(""), 0);
        src_span sp = {idx, 0, 0, 0, 0};
        diag_report(&c->diags, DIAG_E025, sp, "cannot read directory: %s", strerror(errno));
        return -1;
    }
    int rc = 0;
    size_t dl = strlen(dir);
    int slash = dl > 0 && dir[dl - 1] == '/';
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        strbuf p = STRBUF_INIT;
        sb_printf(&p, "%s%s%s", dir, slash ? "" : "/", e->d_name);
        struct stat st, lst;
        if (stat(p.data, &st) != 0 || lstat(p.data, &lst) != 0) {
            sb_free(&p);
            continue;
        }
        size_t nl = strlen(e->d_name);
        if (S_ISDIR(st.st_mode)) {
            /* A linked directory could lead back up the tree: only real ones are
             * walked (a linked directory named on the command line is fine). */
            if (S_ISLNK(lst.st_mode)) {
                sb_free(&p);
                continue;
            }
            if (comp_walk(c, p.data, list, n, cap) != 0) rc = -1;
            sb_free(&p);
        } else if (nl > 5 && strcmp(e->d_name + nl - 5, ".rule") == 0) {
            if (!S_ISREG(st.st_mode)) { /* a FIFO would block the walk, a device not end */
                uint32_t idx = comp_push(c, p.data, xstrdup(""), 0);
                src_span sp = {idx, 0, 0, 0, 0};
                diag_report(&c->diags, DIAG_E025, sp, "cannot read file: not a regular file");
                rc = -1;
                continue;
            }
            if (*n == *cap) {
                *cap = *cap ? *cap * 2 : 16;
                *list = xrealloc(*list, *cap * sizeof **list);
            }
            (*list)[(*n)++] = p.data;
        } else {
            sb_free(&p);
        }
    }
    closedir(d);
    return rc;
}

int comp_add_paths(compilation *c, char *const *paths, int npaths) {
    int rc = 0;
    for (int i = 0; i < npaths; i++) {
        struct stat st;
        if (stat(paths[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            char **list = NULL;
            size_t n = 0, cap = 0;
            if (comp_walk(c, paths[i], &list, &n, &cap) != 0) rc = -1;
            if (n == 0 && rc == 0 && c->require_campaigns) {
                uint32_t idx = comp_push(c, xstrdup(paths[i]), xstrdup(""), 0);
                src_span sp = {idx, 0, 0, 0, 0};
                diag_report(&c->diags, DIAG_E027, sp,
                            "no .rule files in this directory (--allow-empty to permit)");
            }
            if (n) qsort(list, n, sizeof *list, comp_strcmp);
            for (size_t k = 0; k < n; k++) {
                if (comp_add_file(c, list[k]) != 0) rc = -1;
                xfree(list[k]);
            }
            xfree(list);
        } else if (comp_add_file(c, paths[i]) != 0) {
            rc = -1;
        }
    }
    return rc;
}

/* Puts the files in bytewise path order (stable for equal paths) and renumbers the
 * diagnostics already reported against them (E025). */
static void comp_sort_files(compilation *c) {
    size_t n = c->nfiles;
    if (n < 2) return;
    uint32_t *order = xmalloc(n * sizeof *order);
    for (size_t i = 0; i < n; i++)
        order[i] = (uint32_t)i;
    /* insertion sort: stable, and file counts are small */
    for (size_t i = 1; i < n; i++) {
        uint32_t v = order[i];
        size_t j = i;
        while (j > 0 && strcmp(c->files[order[j - 1]].path, c->files[v].path) > 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
    uint32_t *newidx = xmalloc(n * sizeof *newidx);
    src_file *files = xmalloc(c->capfiles * sizeof *files);
    for (size_t i = 0; i < n; i++) {
        files[i] = c->files[order[i]];
        newidx[order[i]] = (uint32_t)i;
    }
    xfree(c->files);
    c->files = files;
    c->diags.files = files;
    for (size_t i = 0; i < c->diags.n; i++) {
        diag *d = &c->diags.items[i];
        if (d->span.file < n) d->span.file = newidx[d->span.file];
        for (int k = 0; k < d->nnotes; k++)
            if (d->notes[k].span.file < n) d->notes[k].span.file = newidx[d->notes[k].span.file];
    }
    xfree(order);
    xfree(newidx);
}

static size_t comp_errors(const compilation *c) {
    return c->diags.nerrors + (c->opts.werror ? c->diags.nwarnings : 0);
}

size_t comp_check(compilation *c) {
    if (c->checked) return comp_errors(c);
    comp_sort_files(c);
    c->trees = xcalloc(c->nfiles ? c->nfiles : 1, sizeof *c->trees);
    size_t before = c->diags.nerrors;
    for (size_t i = 0; i < c->nfiles; i++)
        c->trees[i] = parse_source(c, (uint32_t)i);
    /* Checks over a tree with holes would mostly report the holes again (a campaign
     * whose `then` did not parse "has no reward"): they run on clean input only. */
    if (c->diags.nerrors == before) sema_check(c);
    if (c->sema && c->diags.nerrors == 0) lint_check(c);
    if (c->require_campaigns && c->diags.nerrors == 0 && c->sema && sema_get(c)->ncampaigns == 0) {
        src_span sp = {0, 0, 0, 0, 0};
        if (c->nfiles == 0) comp_push(c, xstrdup("<input>"), xstrdup(""), 0);
        diag_report(&c->diags, DIAG_E027, sp,
                    "no campaigns in %zu file%s: the bundle would switch every promotion off "
                    "(--allow-empty to permit)",
                    c->nfiles, c->nfiles == 1 ? "" : "s");
    }
    c->checked = 1;
    diag_sort(&c->diags);
    return comp_errors(c);
}

size_t comp_build(compilation *c, strbuf *out) {
    size_t n = comp_check(c);
    if (n) return n;
    if (codegen_bundle(c, out) != 0) {
        if (comp_errors(c) == 0) {
            src_span sp = {0, 0, 0, 0, 0};
            diag_report(&c->diags, DIAG_E025, sp, "cannot write the bundle");
        }
        diag_sort(&c->diags);
        return comp_errors(c);
    }
    return 0;
}
