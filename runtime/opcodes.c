/*
 * opcodes.c — the opcode description table, expanded from PROMO_OPCODE_LIST.
 */
#include "opcodes.h"

const promo_opinfo promo_opinfo_table[OP__COUNT] = {
#define OP(name, kind, pops, pushes, ctx, doc) {#name, OPK_##kind, pops, pushes, OPC_##ctx, doc},
    PROMO_OPCODE_LIST(OP)
#undef OP
};
