/*
 * opcodes.c — the opcode description table, expanded from PROMO_OPCODE_LIST.
 */
#include "opcodes.h"

const promo_opinfo promo_opinfo_table[OP__COUNT] = {
#define OP(name, kind, pops, pushes, ctx, atom, set, facts, doc)                                   \
    {#name, OPK_##kind, pops, pushes, OPC_##ctx, OPA_##atom, OPS_##set, facts, doc},
    PROMO_OPCODE_LIST(OP)
#undef OP
};

/* Opcode numbers are stored in bundles: the list only grows at its end. A change to
 * any of these is a change of the bundle format (PB_FORMAT). */
_Static_assert(OP_PUSH_I == 0, "opcode numbers are append-only");
_Static_assert(OP_L_SKU == 23, "opcode numbers are append-only");
_Static_assert(OP_L_CAT_IN == 26, "opcode numbers are append-only");
_Static_assert(OP_IN_SET == 52, "opcode numbers are append-only");
_Static_assert(OP_RET == 58, "opcode numbers are append-only");
_Static_assert(OP_L_SKU_IN == 59 && OP_L_BRAND_EQ == 62, "opcode numbers are append-only");
_Static_assert(OP_L_PRICE_CMP == 63 && OP_R_TOTAL_GE == 64, "opcode numbers are append-only");
_Static_assert(OP_EQ_I == 65 && OP_GE_I == 70, "opcode numbers are append-only");
_Static_assert(OP_GE - OP_EQ == 5 && OP_NE == OP_EQ + 1 && OP_LT == OP_EQ + 2 &&
                   OP_LE == OP_EQ + 3 && OP_GT == OP_EQ + 4,
               "EQ_I .. GE_I follow EQ .. GE (op_cmp_of)");
_Static_assert(OP__COUNT <= 256, "the opcode is 8 bits");
