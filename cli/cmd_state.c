/*
 * cmd_state.c — `promo state`: looks into a state store of `promo run --state DIR`
 * (SPEC 7): a customer's counters, a receipt's journal entry and its refunds, the
 * budgets; export / import of a whole store (JSON lines), and verify (the counters and
 * budgets recomputed from the journal equal the stored ones).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bundle.h"
#include "civil.h"
#include "cli.h"
#include "ops.h"
#include "promo.h"
#include "rbuf.h"
#include "stacking.h"
#include "store_internal.h"
#include "store_kv.h"
#include "strbuf.h"
#include "xalloc.h"

static const char state_help[] =
    "usage: promo state COMMAND DIR [args] [--json] [--bundle set.pbc]\n"
    "\n"
    "Looks into the state store DIR of `promo run --state DIR`.\n"
    "\n"
    "commands:\n"
    "  customer DIR ID   the customer's counters (limits, history, visits)\n"
    "  receipt DIR ID    the journal entry of a confirmed receipt, and its refunds\n"
    "  budgets DIR       every campaign budget spent (with --bundle: by campaign id,\n"
    "                    with the cap)\n"
    "  export DIR        every entry as JSON lines on standard output\n"
    "  import DIR        entries of an export from standard input into DIR (a replay\n"
    "                    that starts from real state)\n"
    "  verify DIR        counters and budgets recomputed from the journal must equal\n"
    "                    the stored ones (exit 1 when they do not)\n"
    "\n"
    "options:\n"
    "  --json            JSON instead of text (customer, receipt, budgets)\n"
    "  --bundle FILE     names counters and budgets after the campaigns of FILE\n"
    "exit status: 0 done, 1 not found / verify found differences, 2 usage or I/O error\n";

typedef struct st_opts {
    const char *cmd, *dir, *arg, *bundle;
    int json;
} st_opts;

static int st_usage(const char *msg, const char *arg) {
    fprintf(stderr, "promo state: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    fprintf(stderr, "usage: promo state COMMAND DIR [args] (--help for more)\n");
    return 2;
}

static void st_day(strbuf *b, int32_t day) {
    char d[11];
    civil_format(day, d);
    sb_add(b, d, 10);
}

/* What a counter key is, given the bundle (NULL: unknown). */
static const char *st_key_name(const promo_bundle *b, uint64_t key, char *buf, size_t n) {
    if (key == STK_VISITS_KEY) return "visits";
    for (uint32_t i = 0; b && i < b->nhist; i++)
        if (b->hist[i].key == key) {
            snprintf(buf, n, "history %u (%s)", i, b->hist[i].kind ? "count" : "sum");
            return buf;
        }
    for (uint32_t i = 0; b && i < b->ncampaigns; i++)
        for (uint32_t p = 0; p < 4; p++)
            if (stk_limit_key(b->campaigns[i].id_hash, p) == key) {
                snprintf(buf, n, "limit of %s", bundle_str(b, b->campaigns[i].id));
                return buf;
            }
    snprintf(buf, n, "%016" PRIx64, key);
    return buf;
}

static int st_customer(promo_store *s, const st_opts *o, const promo_bundle *b) {
    void *reader = NULL;
    promo_store_rec rec;
    promo_str id = {o->arg, (uint32_t)strlen(o->arg)};
    promo_status st = s->ops->read(s->self, &reader, id, &rec);
    int rc = 0;
    strbuf out = STRBUF_INIT;
    char name[160];
    if (st != PROMO_OK) {
        fprintf(stderr, "promo state: %s\n", promo_strerror(st));
        rc = 2;
    } else if (!rec.version) {
        fprintf(stderr, "promo state: no customer %s\n", o->arg);
        rc = 1;
    } else if (o->json) {
        sb_puts(&out, "{\"customer\":");
        sb_json_str(&out, id.p, id.n);
        sb_printf(&out, ",\"version\":%" PRIu64 ",\"counters\":[", rec.version);
        for (uint32_t i = 0; i < rec.ncells; i++) {
            const promo_cell *c = &rec.cells[i];
            sb_printf(&out, "%s{\"key\":\"%016" PRIx64 "\",\"what\":", i ? "," : "", c->key);
            const char *w = st_key_name(b, c->key, name, sizeof name);
            sb_json_str(&out, w, strlen(w));
            sb_puts(&out, ",\"day\":\"");
            st_day(&out, c->day);
            sb_printf(&out, "\",\"value\":%" PRId64 "}", c->value);
        }
        sb_puts(&out, "]}\n");
    } else {
        sb_printf(&out, "customer %s: version %" PRIu64 ", %u counters\n", o->arg, rec.version,
                  rec.ncells);
        for (uint32_t i = 0; i < rec.ncells; i++) {
            const promo_cell *c = &rec.cells[i];
            sb_puts(&out, "  ");
            st_day(&out, c->day);
            sb_printf(&out, "  %-28s %" PRId64 "\n", st_key_name(b, c->key, name, sizeof name),
                      c->value);
        }
    }
    fwrite(out.data, 1, out.len, stdout);
    sb_free(&out);
    s->ops->reader_free(s->self, reader);
    return rc;
}

typedef struct st_walk {
    const st_opts *o;
    const promo_bundle *b;
    strbuf out;
    size_t found;
    FILE *f;
} st_walk;

/* Journal entries of one receipt: its entry and every refund record (key id NUL ...). */
static int st_receipt_one(void *u, const void *k, size_t kl, const void *v, size_t vl) {
    st_walk *w = u;
    const char *key = k;
    size_t n = strlen(w->o->arg);
    if (kl < n + 1 || key[0] != 'J' || memcmp(key + 1, w->o->arg, n)) return 0;
    if (kl > n + 1 && key[n + 1] != 0) return 0;
    strbuf *b = &w->out;
    rbuf d;
    rb_init(&d, NULL);
    if (ops_journal_describe(key + 1, kl - 1, v, vl, &d))
        sb_puts(b, "{\"error\":\"corrupt journal entry\"}");
    else
        sb_add(b, d.data, d.len);
    rb_free(&d);
    sb_putc(b, '\n');
    w->found++;
    return 0;
}

static int st_budget_one(void *u, const void *k, size_t kl, const void *v, size_t vl) {
    st_walk *w = u;
    const char *key = k;
    if (kl != 9 || key[0] != 'B' || vl != 8) return 0;
    uint64_t h;
    int64_t spent;
    memcpy(&h, key + 1, 8);
    memcpy(&spent, v, 8);
    const char *id = NULL;
    int64_t cap = -1;
    for (uint32_t i = 0; w->b && i < w->b->ncampaigns; i++)
        if (w->b->campaigns[i].id_hash == h) {
            id = bundle_str(w->b, w->b->campaigns[i].id);
            cap = w->b->campaigns[i].budget;
        }
    strbuf *b = &w->out;
    char hex[17];
    snprintf(hex, sizeof hex, "%016" PRIx64, h);
    if (w->o->json) {
        sb_puts(b, w->found ? "," : "");
        sb_puts(b, "{\"campaign\":");
        if (id)
            sb_json_str(b, id, strlen(id));
        else
            sb_printf(b, "\"%s\"", hex);
        sb_puts(b, ",\"spent\":");
        sb_money(b, spent);
        if (cap >= 0) {
            sb_puts(b, ",\"cap\":");
            sb_money(b, cap);
        }
        sb_putc(b, '}');
    } else {
        sb_printf(b, "%-24s spent ", id ? id : hex);
        sb_money(b, spent);
        if (cap >= 0) {
            sb_puts(b, " of ");
            sb_money(b, cap);
        }
        sb_putc(b, '\n');
    }
    w->found++;
    return 0;
}

static void st_hex(strbuf *b, const void *p, size_t n) {
    static const char hx[] = "0123456789abcdef";
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        sb_putc(b, hx[s[i] >> 4]);
        sb_putc(b, hx[s[i] & 15]);
    }
}

static int st_export_one(void *u, const void *k, size_t kl, const void *v, size_t vl) {
    st_walk *w = u;
    strbuf *b = &w->out;
    b->len = 0;
    sb_puts(b, "{\"k\":\"");
    st_hex(b, k, kl);
    sb_puts(b, "\",\"v\":\"");
    st_hex(b, v, vl);
    sb_puts(b, "\"}\n");
    w->found++;
    return fwrite(b->data, 1, b->len, w->f) == b->len ? 0 : -1;
}

static int st_unhex(const char *s, size_t n, strbuf *out) {
    out->len = 0;
    if (n % 2) return -1;
    for (size_t i = 0; i < n; i += 2) {
        int v = 0;
        for (int j = 0; j < 2; j++) {
            char c = s[i + j];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (d < 0) return -1;
            v = v * 16 + d;
        }
        sb_putc(out, (char)v);
    }
    return 0;
}

/* One line {"k":"hex","v":"hex"} of an export. */
static int st_import_line(promo_store *s, const char *line, strbuf *k, strbuf *v) {
    const char *a = strstr(line, "\"k\":\""), *b = strstr(line, "\"v\":\"");
    if (!a || !b) return -1;
    a += 5;
    b += 5;
    const char *ae = strchr(a, '"'), *be = strchr(b, '"');
    if (!ae || !be || st_unhex(a, (size_t)(ae - a), k) || st_unhex(b, (size_t)(be - b), v))
        return -1;
    if (!k->len || k->len > SKV_MAX_KEY) return -1;
    return store_lmdb_put_raw(s, k->data, k->len, v->data, v->len);
}

static int st_args(int argc, char **argv, st_opts *o) {
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(state_help, stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            o->json = 1;
        } else if (!strcmp(a, "--bundle")) {
            if (i + 1 >= argc) return st_usage("--bundle needs a file", NULL);
            o->bundle = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            return st_usage("unknown option", a);
        } else if (npos == 0) {
            o->cmd = a, npos++;
        } else if (npos == 1) {
            o->dir = a, npos++;
        } else if (npos == 2) {
            o->arg = a, npos++;
        } else {
            return st_usage("too many arguments", a);
        }
    }
    if (!o->cmd) return st_usage("missing the command", NULL);
    if (!o->dir) return st_usage("missing the state directory", NULL);
    int needs = !strcmp(o->cmd, "customer") || !strcmp(o->cmd, "receipt");
    if (needs && !o->arg) return st_usage("missing the id", NULL);
    if (!needs && o->arg) return st_usage("too many arguments", o->arg);
    return -1;
}

int cmd_state(int argc, char **argv) {
    st_opts o = {0};
    int rc = st_args(argc, argv, &o);
    if (rc >= 0) return rc;
    static const char *const cmds[] = {"customer", "receipt", "budgets",
                                       "export",   "import",  "verify"};
    size_t c = 0;
    while (c < 6 && strcmp(o.cmd, cmds[c]))
        c++;
    if (c == 6) return st_usage("unknown command", o.cmd);
    promo_bundle *b = NULL;
    char err[256] = "";
    if (o.bundle && promo_bundle_load_file(o.bundle, &b, err, sizeof err) != PROMO_OK) {
        fprintf(stderr, "promo state: cannot load %s: %s\n", o.bundle, err);
        return 2;
    }
    char probe[4096];
    struct stat sb;
    snprintf(probe, sizeof probe, "%s/data.mdb", o.dir);
    if (c != 4 && stat(probe, &sb) != 0) { /* only import creates a store */
        fprintf(stderr, "promo state: no state store in %s\n", o.dir);
        promo_bundle_release(b);
        return 2;
    }
    promo_store_opts so;
    promo_store_opts_init(&so);
    so.group_commit = 1;
    promo_store s;
    if (promo_store_open(o.dir, &so, &s, err, sizeof err) != PROMO_OK) {
        fprintf(stderr, "promo state: %s\n", err);
        promo_bundle_release(b);
        return 2;
    }
    st_walk w = {&o, b, STRBUF_INIT, 0, stdout};
    rc = 0;
    switch (c) {
    case 0: rc = st_customer(&s, &o, b); break;
    case 1:
        store_lmdb_each(&s, st_receipt_one, &w);
        if (!w.found) {
            fprintf(stderr, "promo state: no receipt %s\n", o.arg);
            rc = 1;
        } else if (o.json) {
            fwrite(w.out.data, 1, w.out.len, stdout);
        } else {
            fputs(w.out.data, stdout); /* one JSON object a line is the text form too */
        }
        break;
    case 2:
        if (o.json) sb_puts(&w.out, "{\"budgets\":[");
        store_lmdb_each(&s, st_budget_one, &w);
        if (o.json) sb_puts(&w.out, "]}\n");
        if (w.out.len) fwrite(w.out.data, 1, w.out.len, stdout);
        break;
    case 3:
        if (store_lmdb_each(&s, st_export_one, &w)) {
            fprintf(stderr, "promo state: export failed\n");
            rc = 2;
        }
        break;
    case 4: {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        strbuf k = STRBUF_INIT, v = STRBUF_INIT;
        uint64_t lineno = 0;
        while (rc == 0 && (n = getline(&line, &cap, stdin)) > 0) {
            lineno++;
            if (n == 1 && line[0] == '\n') continue;
            if (st_import_line(&s, line, &k, &v)) {
                fprintf(stderr, "promo state: import: line %" PRIu64 ": malformed entry\n", lineno);
                rc = 2;
            }
        }
        free(line);
        sb_free(&k);
        sb_free(&v);
        if (rc == 0 && promo_store_sync(&s) != PROMO_OK) rc = 2;
        break;
    }
    case 5: {
        rbuf rep;
        rb_init(&rep, NULL);
        rc = ops_verify(&s, &rep);
        if (rep.len) fwrite(rep.data, 1, rep.len, rc ? stderr : stdout);
        rb_free(&rep);
        if (rc < 0) rc = 2;
        break;
    }
    }
    sb_free(&w.out);
    promo_store_free(&s);
    promo_bundle_release(b);
    fflush(stdout);
    return rc;
}
