/*
 * test_golden.c — golden tests of code generation: every tests/golden/NAME.rule is
 * compiled, loaded (so the verifier passes on it) and listed with bundle_disasm; the
 * listing must equal tests/golden/NAME.disasm byte for byte. PROMO_UPDATE_GOLDEN=1
 * rewrites the .disasm files instead (review the diff before committing them).
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "disasm.h"
#include "bundle_helpers.h"
#include "compile.h"
#include "strbuf.h"

#define GOLDEN_DIR PROMO_SOURCE_DIR "/tests/golden/"

typedef struct golden_case {
    char name[128]; /* file name without .rule */
} golden_case;

static void golden_free(struct criterion_test_params *p) {
    cr_free(p->params);
}

/* Criterion's parameters must live in its shared arena (cr_malloc); plain tests use
 * malloc. */
static size_t golden_list(golden_case **out, int shared) {
    glob_t g;
    *out = NULL;
    if (glob(GOLDEN_DIR "*.rule", 0, NULL, &g) != 0) return 0;
    size_t size = sizeof(golden_case) * (g.gl_pathc ? g.gl_pathc : 1);
    golden_case *cases = shared ? cr_malloc(size) : malloc(size);
    size_t n = 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *base = strrchr(g.gl_pathv[i], '/');
        base = base ? base + 1 : g.gl_pathv[i];
        size_t len = strlen(base) - strlen(".rule");
        if (len >= sizeof cases[n].name) continue;
        memset(cases[n].name, 0, sizeof cases[n].name);
        memcpy(cases[n].name, base, len);
        n++;
    }
    globfree(&g);
    *out = cases;
    return n;
}

ParameterizedTestParameters(golden, disasm) {
    golden_case *cases;
    size_t n = golden_list(&cases, 1);
    return cr_make_param_array(golden_case, cases, n, golden_free);
}

static char *golden_read(const char *path, size_t *len) {
    unsigned char *p = tb_read_file(path, len);
    if (!p) return NULL;
    char *s = realloc(p, *len + 1);
    s[*len] = 0;
    return s;
}

ParameterizedTest(golden_case *gc, golden, disasm) {
    char path[512];
    snprintf(path, sizeof path, GOLDEN_DIR "%s.rule", gc->name);
    size_t len;
    char *src = golden_read(path, &len);
    cr_assert_not_null(src, "cannot read %s", path);

    /* The path recorded in the bundle is the bare file name, so the listing does not
     * depend on where the tree is checked out. */
    char fname[160];
    snprintf(fname, sizeof fname, "%s.rule", gc->name);
    compile_opts opts = {INT32_MIN, 0};
    compilation c;
    comp_init(&c, &opts);
    comp_add_source(&c, fname, src, len);
    strbuf bundle = STRBUF_INIT;
    size_t errs = comp_build(&c, &bundle);
    if (errs) {
        strbuf d = STRBUF_INIT;
        diag_render_text(&c.diags, &d, 0);
        cr_assert_fail("%s does not compile:\n%s", fname, sb_cstr(&d));
    }
    comp_free(&c);
    free(src);

    promo_bundle *b = NULL;
    char err[256];
    cr_assert_eq(promo_bundle_load_memory(bundle.data, bundle.len, &b, err, sizeof err), PROMO_OK,
                 "%s: %s", fname, err);
    sb_free(&bundle);
    strbuf got = STRBUF_INIT;
    bundle_disasm(b, &got);
    promo_bundle_release(b);

    snprintf(path, sizeof path, GOLDEN_DIR "%s.disasm", gc->name);
    const char *update = getenv("PROMO_UPDATE_GOLDEN");
    if (update && !strcmp(update, "1")) {
        FILE *f = fopen(path, "wb");
        cr_assert_not_null(f, "cannot write %s", path);
        fwrite(got.data, 1, got.len, f);
        cr_assert_eq(fclose(f), 0);
        sb_free(&got);
        return;
    }
    size_t wlen;
    char *want = golden_read(path, &wlen);
    cr_assert_not_null(want, "%s is missing (run with PROMO_UPDATE_GOLDEN=1 to create it)", path);
    if (wlen != got.len || memcmp(want, got.data, wlen) != 0) {
        /* Point at the first differing line: a whole-listing diff is unreadable here. */
        size_t i = 0, line = 1, bol = 0;
        while (i < wlen && i < got.len && want[i] == got.data[i]) {
            if (want[i] == '\n') {
                line++;
                bol = i + 1;
            }
            i++;
        }
        const char *we = strchr(want + bol, '\n');
        const char *ge = strchr(sb_cstr(&got) + bol, '\n');
        int wl = we ? (int)(we - (want + bol)) : (int)(wlen - bol);
        int gl = ge ? (int)(ge - (got.data + bol)) : (int)(got.len - bol);
        cr_assert_fail("%s.disasm differs at line %zu:\n  want: %.*s\n  got:  %.*s\n"
                       "(PROMO_UPDATE_GOLDEN=1 regenerates)",
                       gc->name, line, wl, bol < wlen ? want + bol : "", gl,
                       bol < got.len ? got.data + bol : "");
    }
    free(want);
    sb_free(&got);
}

Test(golden, there_are_golden_sets) {
    golden_case *cases;
    size_t n = golden_list(&cases, 0);
    cr_assert_geq(n, 5, "tests/golden holds the disasm golden sets");
    for (size_t i = 0; i < n; i++) {
        char path[512];
        snprintf(path, sizeof path, GOLDEN_DIR "%s.disasm", cases[i].name);
        FILE *f = fopen(path, "rb");
        cr_expect_not_null(f, "%s has no .disasm", cases[i].name);
        if (f) fclose(f);
    }
    free(cases);
}
