/*
 * disasm.h — the human-readable listing of a verified bundle (`promo disasm`, golden
 * tests, fuzzers). Part of the tools library (promo_tools): linked by the CLI and the
 * tests, never by libpromo.
 */
#ifndef PROMO_DISASM_H
#define PROMO_DISASM_H

#include "bundle.h"
#include "strbuf.h"

void bundle_disasm(const promo_bundle *b, strbuf *out);

#endif
