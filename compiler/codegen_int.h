/*
 * codegen_int.h — internals shared by the code generator (codegen.c) and the bundle
 * writer (bundle_writer.c): the growable tables of a bundle under construction.
 */
#ifndef PROMO_CODEGEN_INT_H
#define PROMO_CODEGEN_INT_H

#include <stddef.h>
#include <stdint.h>

#include "ast.h"
#include "bundle_format.h"
#include "codegen.h"
#include "opcodes.h"
#include "strbuf.h"

struct compilation;
struct sema_result;

/* A growable array: VPUSH appends (aborting on out-of-memory, like all tools). */
#define VEC(T)                                                                                     \
    struct {                                                                                       \
        T *v;                                                                                      \
        uint32_t n, cap;                                                                           \
    }
void *cg_grow(void *p, uint32_t *cap, uint32_t need, size_t elem);
#define VPUSH(vec, x)                                                                              \
    do {                                                                                           \
        if ((vec).n >= (vec).cap)                                                                  \
            (vec).v = cg_grow((vec).v, &(vec).cap, (vec).n + 1, sizeof *(vec).v);                  \
        (vec).v[(vec).n++] = (x);                                                                  \
    } while (0)

typedef struct cg_map_entry {
    uint64_t h;
    uint32_t idx;
    char *key; /* owned copy; NULL = empty slot */
    size_t len;
} cg_map_entry;

typedef struct cg_map {
    cg_map_entry *e;
    uint32_t n, cap;
} cg_map;

/* One block being emitted: its words, running stack depth, and canonical bytes (the
 * instructions with operands by content, to share equal predicate blocks). */
typedef struct cg_code {
    VEC(promo_insn) w;
    int depth, maxd;
    strbuf canon;
    uint64_t set_content; /* content hash of the set of the SET operand being emitted */
    src_span span;
    int cond; /* a COND block (`when`, a spend-limit step): never shared by its bytes */
} cg_code;

typedef struct cg {
    struct compilation *c;
    const struct sema_result *s;
    int failed;

    VEC(uint32_t) str_off; /* offset of each string in str_bytes */
    strbuf str_bytes;
    VEC(pb_const) consts;
    VEC(pb_set) sets;
    VEC(uint64_t) slots;
    VEC(uint32_t) setitems;
    VEC(promo_insn) code;
    VEC(pb_block) blocks;
    VEC(uint32_t) groups;
    VEC(uint32_t) accept;
    VEC(uint32_t) hours;
    VEC(pb_step) steps;
    VEC(pb_reward) rewards;
    VEC(pb_hist) hist;
    VEC(pb_campaign) campaigns;

    cg_map str_map, const_map, set_map, pred_map, hist_map;
} cg;

uint32_t cg_str(cg *g, const char *s, size_t len);
/* bundle_writer.c: lays the tables out as a .pbc file appended to `out`. */
void cg_write(cg *g, strbuf *out);

#endif
