/*
 * codegen.h — code generation and the bundle writer: a checked compilation (sema
 * result) -> the bytes of a .pbc bundle (runtime/bundle_format.h). Deterministic:
 * the same sources give the same bytes whatever order files were given in.
 */
#ifndef PROMO_CODEGEN_H
#define PROMO_CODEGEN_H

struct compilation;
struct strbuf;

/* Appends the bundle to `out`. Returns 0, or -1 after reporting a diagnostic (e.g. a
 * limit of the format exceeded). */
int codegen_bundle(struct compilation *c, struct strbuf *out);

#endif
