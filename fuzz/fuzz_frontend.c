/*
 * fuzz_frontend.c — libFuzzer target for the whole compiler: source text -> lexer ->
 * parser -> checks -> code generation -> bundle. Any input must be handled without a
 * crash or sanitizer report, and whatever compiles must pass the runtime's verifier
 * (the emitter and the verifier agree) and list with bundle_disasm.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bundle.h"
#include "disasm.h"
#include "compile.h"
#include "strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    compile_opts opts = {INT32_MIN, 0};
    compilation c;
    comp_init(&c, &opts);
    comp_add_source(&c, "fuzz.rule", (const char *)data, size);
    strbuf out = STRBUF_INIT;
    if (comp_build(&c, &out) == 0 && out.len) {
        promo_bundle *b = NULL;
        char err[256];
        if (promo_bundle_load_memory(out.data, out.len, &b, err, sizeof err) != PROMO_OK) {
            fprintf(stderr, "the compiler wrote a bundle the verifier refuses: %s\n", err);
            abort();
        }
        strbuf d = STRBUF_INIT;
        bundle_disasm(b, &d);
        sb_free(&d);
        promo_bundle_release(b);
    }
    strbuf d = STRBUF_INIT;
    diag_render_text(&c.diags, &d, 0);
    diag_render_json(&c.diags, &d);
    sb_free(&d);
    sb_free(&out);
    comp_free(&c);
    return 0;
}
