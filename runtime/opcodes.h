/*
 * opcodes.h — the one list of bytecode instructions, shared by the code generator
 * (codegen.c of the compiler), the verifier (runtime/verify.c), the disassembler
 * (tools/disasm.c) and the VM (runtime/vm.c). Everything else is derived from it.
 *
 * Instruction word: 32 bits, little-endian, `op` in the low 8 bits, operand A in the
 * high 24 bits (unsigned, or signed for IMM). Every value on the VM stack is an int64
 * whose meaning is fixed by the static type (docs/semantics.md "Numbers"); ABSENT
 * (INT64_MIN) marks a missing numeric fact, hash 0 a missing string.
 *
 * Code lives in blocks (bundle section BLOCKS): a COND block is a campaign's `when`
 * or a spend-limit step condition (receipt context); a PRED block is a line predicate
 * (runs with a current line). Every block ends with RET. Jumps are forward only and
 * stay in their block.
 *
 * OP(name, operand kind, pops, pushes, context, atom, set kind, facts, doc)
 *   operand kinds: NONE, IMM (signed 24-bit), CONST (constant pool index),
 *                  STR (string pool index), SET (set index), PRED (PRED block index or
 *                  0xFFFFFF = all lines), HIST (history slot index), JUMP (forward
 *                  offset in words from the next instruction), PART (string index naming
 *                  the condition part for --explain)
 *   context: ANY, COND (receipt context only), LINE (PRED blocks only)
 *   atom: NONE, or the line fact a line-atom opcode tests (CAT, BRAND, SKU): a SET
 *         operand is a membership test, a CONST operand an equality with a string
 *         constant. The stacking engine answers atoms from its per-receipt line index
 *         (runtime/prefilter.c); need.c reasons about them. Nothing matches instruction
 *         sequences: an opcode's facts are its columns.
 *   set kind: the kind of set a SET operand must name (NONE, STRING, NUMBER, CATEGORY;
 *         the verifier checks it)
 *   facts: OPF_* flags: OPF_AMOUNTS reads a current amount, price or total (a value
 *         that changes while a receipt is evaluated: never memoised); OPF_JF_KEEP /
 *         OPF_JT_KEEP jumps when the top is false / true keeping it, else pops it;
 *         OPF_TOTAL_MIN pushes 1 only when the current total, never above the original
 *         one, is at least constant A (need.c's min_total: the prefilter rejects a
 *         receipt whose original total is below it; the stacking engine tests a `when`
 *         made of this one test without running the VM, runtime/prefilter.h);
 *         OPF_CMP_I pops a number and pushes 1 when it compares with the immediate A as
 *         the comparison of the same rank among EQ NE LT LE GT GE does (`PUSH_I A; GE`
 *         in one instruction: op_cmp_of), 0 when it does not or is ABSENT
 *
 * Opcode numbers are part of the bundle format (PB_FORMAT): new opcodes are appended,
 * never inserted or renumbered (opcodes.c asserts a few numbers).
 */
#ifndef PROMO_OPCODES_H
#define PROMO_OPCODES_H

#include <stdint.h>

#define PROMO_OPCODE_LIST(OP)                                                                      \
    /* constants */                                                                                \
    OP(PUSH_I, IMM, 0, 1, ANY, NONE, NONE, 0, "push the signed 24-bit immediate A")                \
    OP(PUSH_K, CONST, 0, 1, ANY, NONE, NONE, 0, "push constant A of the constant pool")            \
    /* receipt facts */                                                                            \
    OP(R_TOTAL, NONE, 0, 1, ANY, NONE, NONE, OPF_AMOUNTS,                                          \
       "current receipt total, kopecks (all lines)")                                               \
    OP(R_ORIG_TOTAL, NONE, 0, 1, ANY, NONE, NONE, 0, "original receipt total, kopecks")            \
    OP(R_STORE, NONE, 0, 1, ANY, NONE, NONE, 0, "store id (string hash)")                          \
    OP(R_REGION, NONE, 0, 1, ANY, NONE, NONE, 0, "region (string hash, 0 absent)")                 \
    OP(R_CHANNEL, NONE, 0, 1, ANY, NONE, NONE, 0, "channel: 0 pos, 1 online")                      \
    OP(R_PAYMENT, NONE, 0, 1, ANY, NONE, NONE, 0,                                                  \
       "payment: 0 cash 1 card 2 credit 3 bonus 4 mixed")                                          \
    OP(R_HAS_CODE, STR, 0, 1, ANY, NONE, NONE, 0, "1 when promo code string A was presented")      \
    OP(R_TIME, NONE, 0, 1, ANY, NONE, NONE, 0, "local time, seconds since midnight")               \
    OP(R_DATE, NONE, 0, 1, ANY, NONE, NONE, 0, "local date, days since 1970-01-01")                \
    OP(R_WEEKDAY, NONE, 0, 1, ANY, NONE, NONE, 0, "weekday 0 mon .. 6 sun")                        \
    OP(R_ATTR_S, STR, 0, 1, ANY, NONE, NONE, 0, "receipt attribute A as a string hash (0 absent)") \
    OP(R_ATTR_N, STR, 0, 1, ANY, NONE, NONE, 0, "receipt attribute A as a number x1000 (ABSENT)")  \
    /* customer facts */                                                                           \
    OP(C_SEGMENT, STR, 0, 1, ANY, NONE, NONE, 0, "1 when the customer is in segment A")            \
    OP(C_CARD_IS, STR, 0, 1, ANY, NONE, NONE, 0, "1 when the customer's card type is A")           \
    OP(C_CARD, NONE, 0, 1, ANY, NONE, NONE, 0, "card type (string hash, 0 absent)")                \
    OP(C_TIER, NONE, 0, 1, ANY, NONE, NONE, 0, "tier (string hash, 0 absent)")                     \
    OP(C_ID, NONE, 0, 1, ANY, NONE, NONE, 0, "customer id (string hash, 0 absent)")                \
    OP(C_BIRTHDAY, IMM, 0, 1, ANY, NONE, NONE, 0,                                                  \
       "1 when the birthday is within A days of the date")                                         \
    OP(C_REGISTERED, NONE, 0, 1, ANY, NONE, NONE, 0, "1 when the customer is registered")          \
    OP(C_ATTR_S, STR, 0, 1, ANY, NONE, NONE, 0,                                                    \
       "customer attribute A as a string hash (0 absent)")                                         \
    OP(C_ATTR_N, STR, 0, 1, ANY, NONE, NONE, 0, "customer attribute A as a number x1000 (ABSENT)") \
    /* line facts (PRED blocks) */                                                                 \
    OP(L_SKU, NONE, 0, 1, LINE, NONE, NONE, 0, "sku (string hash)")                                \
    OP(L_BRAND, NONE, 0, 1, LINE, NONE, NONE, 0, "brand (string hash, 0 absent)")                  \
    OP(L_CATEGORY, NONE, 0, 1, LINE, NONE, NONE, 0, "full category path (string hash, 0 absent)")  \
    OP(L_CAT_IN, SET, 0, 1, LINE, CAT, CATEGORY, 0,                                                \
       "1 when the category or one of its ancestors is in A")                                      \
    OP(L_QTY, NONE, 0, 1, LINE, NONE, NONE, 0, "quantity x1000")                                   \
    OP(L_PRICE, NONE, 0, 1, LINE, NONE, NONE, OPF_AMOUNTS,                                         \
       "current unit price, kopecks (amount / qty, half up)")                                      \
    OP(L_ORIG_PRICE, NONE, 0, 1, LINE, NONE, NONE, 0, "original unit price, kopecks")              \
    OP(L_AMOUNT, NONE, 0, 1, LINE, NONE, NONE, OPF_AMOUNTS, "current line amount, kopecks")        \
    OP(L_EXCLUDED, NONE, 0, 1, LINE, NONE, NONE, 0, "1 when the line is excluded")                 \
    /* aggregates over the current receipt's lines (COND blocks) */                                \
    OP(AGG_SUM, PRED, 0, 1, COND, NONE, NONE, 0, "sum of current amounts of lines matching A")     \
    OP(AGG_COUNT, PRED, 0, 1, COND, NONE, NONE, 0, "units (qty x1000) of lines matching A")        \
    OP(AGG_ANY, PRED, 0, 1, COND, NONE, NONE, 0, "1 when some line matches A")                     \
    OP(AGG_DISTINCT, PRED, 0, 1, COND, NONE, NONE, 0,                                              \
       "distinct SKUs among lines matching A (x1000)")                                             \
    /* per-customer history (COND blocks); pops the window in days */                              \
    OP(H_SUM, HIST, 1, 1, COND, NONE, NONE, 0,                                                     \
       "history sum of slot A over the popped number of days")                                     \
    OP(H_COUNT, HIST, 1, 1, COND, NONE, NONE, 0, "history units of slot A over the popped days")   \
    OP(H_VISITS, NONE, 1, 1, COND, NONE, NONE, 0, "receipts of the customer over the popped days") \
    /* arithmetic (ABSENT propagates; saturating) */                                               \
    OP(ADD, NONE, 2, 1, ANY, NONE, NONE, 0, "a + b")                                               \
    OP(SUB, NONE, 2, 1, ANY, NONE, NONE, 0, "a - b")                                               \
    OP(MUL_MN, NONE, 2, 1, ANY, NONE, NONE, 0, "money x number: round_half_up(a * b / 1000)")      \
    OP(MUL_NN, NONE, 2, 1, ANY, NONE, NONE, 0, "number x number: round_half_up(a * b / 1000)")     \
    OP(NEG, NONE, 1, 1, ANY, NONE, NONE, 0, "-a")                                                  \
    /* comparisons of numbers (false when either side is ABSENT) */                                \
    OP(EQ, NONE, 2, 1, ANY, NONE, NONE, 0, "a == b")                                               \
    OP(NE, NONE, 2, 1, ANY, NONE, NONE, 0, "a != b")                                               \
    OP(LT, NONE, 2, 1, ANY, NONE, NONE, 0, "a < b")                                                \
    OP(LE, NONE, 2, 1, ANY, NONE, NONE, 0, "a <= b")                                               \
    OP(GT, NONE, 2, 1, ANY, NONE, NONE, 0, "a > b")                                                \
    OP(GE, NONE, 2, 1, ANY, NONE, NONE, 0, "a >= b")                                               \
    /* strings (hashes; false when either side is 0 = absent) */                                   \
    OP(SEQ, NONE, 2, 1, ANY, NONE, NONE, 0, "string a == string b")                                \
    OP(SNE, NONE, 2, 1, ANY, NONE, NONE, 0, "string a != string b")                                \
    OP(IN_SET, SET, 1, 1, ANY, NONE, STRING, 0,                                                    \
       "1 when the popped string hash is in set A (0 if absent)")                                  \
    OP(IN_NSET, SET, 1, 1, ANY, NONE, NUMBER, 0,                                                   \
       "1 when the popped number is in set A (ABSENT -> 0)")                                       \
    /* logic and control */                                                                        \
    OP(NOT, NONE, 1, 1, ANY, NONE, NONE, 0, "logical not")                                         \
    OP(JF_KEEP, JUMP, 0, 0, ANY, NONE, NONE, OPF_JF_KEEP,                                          \
       "and: if top is 0 jump keeping it, else pop it")                                            \
    OP(JT_KEEP, JUMP, 0, 0, ANY, NONE, NONE, OPF_JT_KEEP,                                          \
       "or: if top is not 0 jump keeping it, else pop it")                                         \
    OP(ASSERT, PART, 1, 0, COND, NONE, NONE, 0, "pop; if 0 the block returns false naming part A") \
    OP(RET, NONE, 1, 0, ANY, NONE, NONE, 0, "return the popped value as the block's result")       \
    /* line atoms (appended: opcode numbers never change) */                                       \
    OP(L_SKU_IN, SET, 0, 1, LINE, SKU, STRING, 0, "1 when the line's SKU is in string set A")      \
    OP(L_BRAND_IN, SET, 0, 1, LINE, BRAND, STRING, 0, "1 when the line's brand is in set A")       \
    OP(L_SKU_EQ, CONST, 0, 1, LINE, SKU, NONE, 0, "1 when the line's SKU is string constant A")    \
    OP(L_BRAND_EQ, CONST, 0, 1, LINE, BRAND, NONE, 0,                                              \
       "1 when the line's brand is string constant A")                                             \
    /* exact comparisons of the current unit price (SPEC 3.1) */                                   \
    OP(L_PRICE_CMP, IMM, 1, 1, LINE, NONE, NONE, OPF_AMOUNTS,                                      \
       "price OP popped money, exact (amount / qty); A: 0 == 1 != 2 < 3 <= 4 > 5 >=")              \
    /* `total >= X` in one instruction (bundle format 4) */                                        \
    OP(R_TOTAL_GE, CONST, 0, 1, ANY, NONE, NONE, OPF_AMOUNTS | OPF_TOTAL_MIN,                      \
       "1 when the current receipt total >= constant A (kopecks), else 0")                         \
    /* a number compared with the immediate A, in one instruction (bundle format 5): */            \
    /* EQ_I .. GE_I in the order of EQ .. GE (OPF_CMP_I) */                                        \
    OP(EQ_I, IMM, 1, 1, COND, NONE, NONE, OPF_CMP_I, "a == A (false when a is ABSENT)")            \
    OP(NE_I, IMM, 1, 1, COND, NONE, NONE, OPF_CMP_I, "a != A (false when a is ABSENT)")            \
    OP(LT_I, IMM, 1, 1, COND, NONE, NONE, OPF_CMP_I, "a < A (false when a is ABSENT)")             \
    OP(LE_I, IMM, 1, 1, COND, NONE, NONE, OPF_CMP_I, "a <= A (false when a is ABSENT)")            \
    OP(GT_I, IMM, 1, 1, COND, NONE, NONE, OPF_CMP_I, "a > A (false when a is ABSENT)")             \
    OP(GE_I, IMM, 1, 1, COND, NONE, NONE, OPF_CMP_I, "a >= A (false when a is ABSENT)")

/* Facts (the `facts` column). */
#define OPF_AMOUNTS   0x1u
#define OPF_JF_KEEP   0x2u
#define OPF_JT_KEEP   0x4u
#define OPF_TOTAL_MIN 0x8u
#define OPF_CMP_I     0x10u

typedef enum promo_opcode {
#define OP(name, kind, pops, pushes, ctx, atom, set, facts, doc) OP_##name,
    PROMO_OPCODE_LIST(OP)
#undef OP
        OP__COUNT
} promo_opcode;

typedef enum promo_operand_kind {
    OPK_NONE,
    OPK_IMM,
    OPK_CONST,
    OPK_STR,
    OPK_SET,
    OPK_PRED,
    OPK_HIST,
    OPK_JUMP,
    OPK_PART
} promo_operand_kind;

typedef enum promo_op_context { OPC_ANY, OPC_COND, OPC_LINE } promo_op_context;

/* Line atoms (the `atom` column). */
typedef enum promo_op_atom { OPA_NONE, OPA_CAT, OPA_BRAND, OPA_SKU } promo_op_atom;

/* Set kinds (the `set kind` column); the same numbers as PB_SET_* + 1 (bundle.c asserts
 * it), OPS_NONE for opcodes without a SET operand. */
typedef enum promo_op_set { OPS_NONE, OPS_STRING, OPS_NUMBER, OPS_CATEGORY } promo_op_set;

typedef struct promo_opinfo {
    const char *name;
    uint8_t operand; /* promo_operand_kind */
    uint8_t pops, pushes;
    uint8_t context; /* promo_op_context */
    uint8_t atom;    /* promo_op_atom */
    uint8_t set;     /* promo_op_set */
    uint8_t facts;   /* OPF_* */
    const char *doc;
} promo_opinfo;

/* Table indexed by opcode, defined once in runtime/opcodes.c from the list above. */
extern const promo_opinfo promo_opinfo_table[OP__COUNT];

/* The facts of an opcode (any value: OP__COUNT and above have none). */
static inline const promo_opinfo *op_info(uint32_t op) {
    static const promo_opinfo none = {"?", 0, 0, 0, 0, 0, 0, 0, ""};
    return op < OP__COUNT ? &promo_opinfo_table[op] : &none;
}

/* The two-operand comparison (OP_EQ .. OP_GE) an OPF_CMP_I opcode makes with its
 * immediate (opcodes.c asserts the two runs are in the same order). */
static inline promo_opcode op_cmp_of(uint32_t op) {
    return (promo_opcode)(OP_EQ + (op - OP_EQ_I));
}

/* Instruction encoding. */
typedef uint32_t promo_insn;
#define INSN_OP(i)       ((promo_opcode)((i)&0xFFu))
#define INSN_A(i)        ((uint32_t)(i) >> 8)
#define INSN_SA(i)       ((int32_t)((i)&0xFFFFFF00u) >> 8) /* sign-extended IMM */
#define INSN_MAKE(op, a) ((promo_insn)(((uint32_t)(a) << 8) | ((uint32_t)(op)&0xFFu)))
#define INSN_A_MAX       0xFFFFFFu
#define INSN_IMM_MIN     (-(1 << 23))
#define INSN_IMM_MAX     ((1 << 23) - 1)
#define PRED_ALL_LINES   0xFFFFFFu

#define PROMO_ABSENT       INT64_MIN
#define PROMO_VM_STACK_MAX 64

#endif
