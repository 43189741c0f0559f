/*
 * compile_helpers.c — see compile_helpers.h. Test support for the front end and the
 * checks stage.
 */
#include "compile_helpers.h"

#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "strbuf.h"

static const char *ch_path(const compilation *c, uint32_t file) {
    return file < c->nfiles && c->files[file].path ? c->files[file].path : "?";
}

char *diags_compact(const compilation *c) {
    strbuf out = STRBUF_INIT;
    diag_list *l = (diag_list *)&c->diags;
    diag_sort(l);
    for (size_t i = 0; i < l->n; i++) {
        const diag *d = &l->items[i];
        sb_printf(&out, "%s:%u:%u: %s: %s\n", ch_path(c, d->span.file), d->span.line, d->span.col,
                  diag_code_names[d->code], d->msg ? d->msg : "");
        for (int k = 0; k < d->nnotes; k++)
            sb_printf(&out, "%s:%u:%u: note: %s\n", ch_path(c, d->notes[k].span.file),
                      d->notes[k].span.line, d->notes[k].span.col,
                      d->notes[k].msg ? d->notes[k].msg : "");
    }
    char *r = strdup(sb_cstr(&out));
    sb_free(&out);
    return r;
}

char *check_srcs(int n, const char *const *paths, const char *const *texts, int32_t today) {
    compilation c;
    compile_opts opts = {today, 0};
    comp_init(&c, &opts);
    for (int i = 0; i < n; i++)
        comp_add_source(&c, paths[i], texts[i], strlen(texts[i]));
    comp_check(&c);
    char *r = diags_compact(&c);
    comp_free(&c);
    return r;
}

char *check_src(const char *src) {
    const char *path = "t.rule";
    return check_srcs(1, &path, &src, INT32_MIN);
}

size_t comp_src(compilation *c, const char *src) {
    compile_opts opts = {INT32_MIN, 0};
    comp_init(c, &opts);
    comp_add_source(c, "t.rule", src, strlen(src));
    return comp_check(c);
}
