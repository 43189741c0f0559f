/*
 * bundle_helpers.h — test support for the loader/verifier (runtime/bundle.c): a tiny
 * hand-driven bundle writer, so tests can build well-formed bundles with exactly the
 * defect they want, independently of the compiler.
 */
#ifndef PROMO_TEST_BUNDLE_HELPERS_H
#define PROMO_TEST_BUNDLE_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include "bundle_format.h"
#include "opcodes.h"
#include "strbuf.h"

typedef struct tb {
    strbuf sec[PBS__COUNT]; /* raw elements of every section but STRINGS */
    uint32_t count[PBS__COUNT];
    strbuf str_bytes;
    strbuf str_off; /* u32 per string */
    uint32_t nstrings;
    uint32_t flags; /* header flags */
} tb;

void tb_init(tb *t);
void tb_free(tb *t);
uint32_t tb_str(tb *t, const char *s);
/* Appends one element of `size` bytes to section `sec`; returns its index. */
uint32_t tb_add(tb *t, int sec, const void *elem, size_t size);
/* Appends code and its block; returns the block index. */
uint32_t tb_block(tb *t, uint32_t kind, const promo_insn *code, uint32_t n, uint32_t max_stack);
/* A string set of the given strings; returns the set index. */
uint32_t tb_set(tb *t, uint32_t kind, const char *const *items, uint32_t n);
/* A campaign with defaults (no prefilter, no condition, accept any, group 0). */
pb_campaign tb_campaign(tb *t, const char *id);
/* Lays the file out (header, table, 8-aligned sections, checksum). Caller frees. */
unsigned char *tb_finish(tb *t, size_t *len);

/* A small valid bundle: group "g", one campaign "c1" with a COND block
 * (AGG_SUM over a PRED block `sku == "1"` >= 500.00), a 10% discount on that
 * predicate, and a history slot. */
unsigned char *tb_sample(size_t *len);

/* Recomputes the header checksum (after a test edits the body on purpose). */
void tb_fix_checksum(unsigned char *mem, size_t len);

/* Reads a whole file (NULL on failure); *len receives its size. */
unsigned char *tb_read_file(const char *path, size_t *len);

#endif
