/*
 * bundle.h — the loaded, verified view of a .pbc bundle (runtime stage
 * "loader/verifier"), shared read-only by the VM, the stacking engine and the
 * disassembler. Built by runtime/bundle.c; immutable after load; reference counted.
 *
 * After promo_bundle_load_* succeeds every index in every table is in range, every
 * block ends in RET, jumps are forward and in-block, every operand refers to an
 * existing entry of the right kind, and stack depth never exceeds PROMO_VM_STACK_MAX:
 * the VM trusts all of it and checks nothing per instruction.
 */
#ifndef PROMO_BUNDLE_H
#define PROMO_BUNDLE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "bundle_format.h"
#include "opcodes.h"
#include "promo.h"

struct promo_bundle {
    atomic_long refs;
    unsigned char *mem; /* owned copy of the file, 8-aligned */
    size_t size;
    const pb_header *hdr;

    const uint32_t *str_off; /* nstrings + 1 offsets into str_bytes */
    const char *str_bytes;
    uint32_t nstrings;

    const pb_const *consts;
    uint32_t nconsts;
    const pb_set *sets;
    uint32_t nsets;
    const uint64_t *slots;
    uint32_t nslots;
    const uint32_t *setitems;
    uint32_t nsetitems;
    const promo_insn *code;
    uint32_t ncode;
    const pb_block *blocks;
    uint32_t nblocks;
    const uint32_t *groups; /* group index -> name string */
    uint32_t ngroups;
    const uint32_t *accept;
    uint32_t naccept;
    const uint32_t *hours; /* pairs */
    uint32_t nhours;       /* number of u32 (2 per window) */
    const pb_step *steps;
    uint32_t nsteps;
    const pb_reward *rewards;
    uint32_t nrewards;
    const pb_hist *hist;
    uint32_t nhist;
    const pb_campaign *campaigns;
    uint32_t ncampaigns;

    /* Derived at load time (still immutable afterwards). */
    uint32_t max_stack;       /* largest pb_block.max_stack */
    const uint64_t *str_hash; /* promo_hash of every pooled string (nstrings entries) */
    char label[48];           /* promo_bundle_label */
    promo_allocator alloc;    /* what mem, str_hash and the bundle itself came from */
};

/* String i of the pool (NUL-terminated); "" for PB_NONE. */
static inline const char *bundle_str(const promo_bundle *b, uint32_t i) {
    return i < b->nstrings ? b->str_bytes + b->str_off[i] : "";
}
static inline uint32_t bundle_strlen(const promo_bundle *b, uint32_t i) {
    return i < b->nstrings ? b->str_off[i + 1] - b->str_off[i] - 1 : 0;
}

/* 1 when hash h (never 0) is a member of set s. */
static inline int bundle_set_has(const promo_bundle *b, uint32_t s, uint64_t h) {
    const pb_set *st = &b->sets[s];
    const uint64_t *slot = b->slots + st->slot_off;
    uint32_t mask = st->nslots - 1;
    for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
        if (slot[i] == h) return 1;
        if (slot[i] == 0) return 0;
    }
}

/* Loader/verifier entry (also used by tests and fuzzers): takes ownership of `mem`
 * (malloc'd, `size` bytes) whether it succeeds or not. */
promo_status bundle_load_owned(unsigned char *mem, size_t size, promo_bundle **out, char *errbuf,
                               size_t errlen);
/* The same with `mem` from allocator a (NULL = libc), which allocates the rest too. */
promo_status bundle_load_owned_with(unsigned char *mem, size_t size, const promo_allocator *a,
                                    promo_bundle **out, char *errbuf, size_t errlen);

#endif
