/*
 * ast.h — the abstract syntax tree of .rule sources (stage 2 of the pipeline:
 * lexer -> parser -> *AST* -> checks -> code generation -> bundle).
 *
 * The tree is deliberately uniform: one node struct, a kind, up to three children
 * and a sibling link for lists. Bison actions only build nodes (ast_new*); name
 * resolution, typing and lints fill the `sema` fields in compiler/sema.c.
 * All nodes and strings live in one arena per compilation (ast_arena) and are freed
 * together.
 */
#ifndef PROMO_AST_H
#define PROMO_AST_H

#include <stddef.h>
#include <stdint.h>

#include "bundle_format.h"

/* A source position: file index (into the compilation's file table), 1-based line
 * and column, byte offset and byte length of the span. */
typedef struct src_span {
    uint32_t file;
    uint32_t line;
    uint32_t col;
    uint32_t off;
    uint32_t len;
} src_span;

/*
 * Node kinds. X(name, doc). Children: a, b, c; lists chain through `next`.
 */
#define AST_KIND_LIST(X)                                                                           \
    /* ---- declarations ---- */                                                                   \
    X(FILE, "a = first decl (list)")                                                               \
    X(SET, "str = name; a = predicate expr")                                                       \
    X(GROUP, "str = group name (one node per name)")                                               \
    X(TIEBREAK, "tiebreak benefit")                                                                \
    X(CAMPAIGN, "str = id; str2 = title or NULL; a = first clause (list); span = the id")          \
    /* ---- campaign clauses (ival/str per clause) ---- */                                         \
    X(C_PRIORITY, "ival = priority")                                                               \
    X(C_GROUP, "str = group name")                                                                 \
    X(C_COMBINE, "op = COMBINE_ANY/NONE/WITH; a = list of IDENT nodes")                            \
    X(C_STOP, "stop")                                                                              \
    X(C_ACTIVE, "a = DATE from, b = DATE to")                                                      \
    X(C_DAYS, "a = list of DAYRANGE")                                                              \
    X(C_HOURS, "a = list of TIMERANGE")                                                            \
    X(C_STORES, "a = list of INT/STRING (store ids) and REGION nodes")                             \
    X(C_CHANNEL, "a = list of IDENT (channel names)")                                              \
    X(C_CARD, "a = list of STRING")                                                                \
    X(C_SEGMENT, "a = list of STRING")                                                             \
    X(C_CODE, "a = list of STRING")                                                                \
    X(C_WHEN, "a = bool expr")                                                                     \
    X(C_THEN, "a = list of reward nodes")                                                          \
    X(C_LIMIT, "ival = K; op = LIMIT_RECEIPT/LIMIT_CUSTOMER; ival2 = PERIOD_*")                    \
    X(C_BUDGET, "a = money literal; op = 1 if partial")                                            \
    X(C_EXAMPLE, "str = name; a = list of example items")                                          \
    /* ---- clause helpers ---- */                                                                 \
    X(DAYRANGE, "ival = first weekday 0..6 (mon..sun), ival2 = last (== first for one)")           \
    X(TIMERANGE, "a = TIME from, b = TIME to")                                                     \
    X(REGION, "str = region name (in stores)")                                                     \
    /* ---- rewards (op = REWARD_*) ---- */                                                        \
    X(REWARD, "op = REWARD_*; a = amount/percent literal; b = second literal; "                    \
              "c = TARGET or NULL; ival = N, ival2 = M; str = coupon/message text; "               \
              "for points: d1 = activate days or -1, d2 = expire days or -1; "                     \
              "for spend_limit: a = list of STEP")                                                 \
    X(TARGET, "op = TARGET_RECEIPT/TARGET_LINES; a = predicate expr or NULL (all lines)")          \
    X(STEP, "a = PERCENT literal; b = condition expr or NULL (catch-all)")                         \
    /* ---- expressions ---- */                                                                    \
    X(NUM, "numeric literal: ival = mantissa, scale = decimals (89.90 -> 8990, 2)")                \
    X(PERCENT, "percent literal: ival = mantissa, scale = decimals")                               \
    X(STRING, "str = decoded text")                                                                \
    X(DATE, "ival = days since 1970-01-01")                                                        \
    X(TIME, "ival = seconds since midnight (24:00 = 86400)")                                       \
    X(DATETIME, "ival = date days, ival2 = seconds since midnight")                                \
    X(DURATION, "ival = days; ival2 = count as written; op = 1 if written in weeks")               \
    X(IDENT, "str = name (set, group, enum member); resolved by sema")                             \
    X(LIST, "a = first item (list of literal/IDENT nodes)")                                        \
    X(BINOP, "op = BIN_*; a, b")                                                                   \
    X(UNOP, "op = UN_NOT/UN_NEG; a")                                                               \
    X(FACT, "op = FACT_*; str = argument (code/attr/segment/card name) or NULL; "                  \
            "ival = days for birthday within")                                                     \
    X(AGG, "op = AGG_SUM/COUNT/ANY/DISTINCT; a = predicate or NULL")                               \
    X(HIST, "op = HIST_SUM/COUNT/VISITS; a = predicate or NULL; b = DURATION")                     \
    /* ---- example blocks (SPEC 6) ---- */                                                        \
    X(EX_CUSTOMER, "a = list of EX_FIELD")                                                         \
    X(EX_FIELD, "str = field name (store, region, channel, time, payment, points_paid, "           \
                "code, attr, id, card, segments, tier, birthday, registered, sku, "                \
                "category, brand, qty, price, excluded); a = value node or NULL; "                 \
                "str2 = attr name for attr")                                                       \
    X(EX_LINE, "a = list of EX_FIELD")                                                             \
    X(EX_HISTORY, "a = DATETIME; b = list of example items of that prior receipt")                 \
    X(EX_EXPECT, "op = EXP_*; a = value; str = sku / text / campaign id; "                         \
                 "b = activate DATE or NULL; c = expire DATE or NULL; ival = 1 if negated")

typedef enum ast_kind {
#define X(name, doc) AST_##name,
    AST_KIND_LIST(X)
#undef X
        AST_KIND_COUNT
} ast_kind;

extern const char *const ast_kind_names[AST_KIND_COUNT];

enum { COMBINE_ANY, COMBINE_NONE, COMBINE_WITH };
enum { LIMIT_RECEIPT, LIMIT_CUSTOMER };

/* REWARD_*, PERIOD_*, TARGET_* come from runtime/bundle_format.h (shared with the VM). */

enum {
    BIN_OR,
    BIN_AND,
    BIN_EQ,
    BIN_NE,
    BIN_LT,
    BIN_LE,
    BIN_GT,
    BIN_GE,
    BIN_IN,
    BIN_NOT_IN,
    BIN_ADD,
    BIN_SUB,
    BIN_MUL
};
enum { UN_NOT, UN_NEG };
enum { AGG_OP_SUM, AGG_OP_COUNT, AGG_OP_ANY, AGG_OP_DISTINCT };
enum { HIST_OP_SUM, HIST_OP_COUNT, HIST_OP_VISITS };

// clang-format off
#define FACT_LIST(X) \
    /* receipt level */ \
    X(TOTAL, RECEIPT) \
    X(ORIGINAL_TOTAL, RECEIPT) \
    X(STORE, RECEIPT) \
    X(REGION, RECEIPT) \
    X(CHANNEL, RECEIPT) \
    X(PAYMENT, RECEIPT) \
    X(CODE, RECEIPT) \
    X(TIME, RECEIPT) \
    X(DATE, RECEIPT) \
    X(WEEKDAY, RECEIPT) \
    X(ATTR, RECEIPT) \
    /* customer level */ \
    X(SEGMENT, CUSTOMER) \
    X(CARD, CUSTOMER) \
    X(CARD_IS, CUSTOMER) \
    X(TIER, CUSTOMER) \
    X(BIRTHDAY_WITHIN, CUSTOMER) \
    X(REGISTERED, CUSTOMER) \
    X(CUSTOMER_ATTR, CUSTOMER) \
    X(CUSTOMER_ID,                                                                                        CUSTOMER) \
    /* line level (only inside `lines where` and set declarations) */ \
    X(SKU, LINE) \
    X(CATEGORY, LINE) \
    X(BRAND, LINE) \
    X(QTY, LINE) \
    X(PRICE, LINE) \
    X(                            ORIGINAL_PRICE, LINE) \
    X(AMOUNT, LINE) \
    X(EXCLUDED,                                                                                           LINE) \
    /* short forms `sku "1"`, `category "dairy"`, `brand "X"`: str = the value */ \
    X(SKU_IS, LINE) \
    X(CATEGORY_IS, LINE) \
    X(BRAND_IS, LINE)
// clang-format on

enum {
#define X(name, level) FACT_##name,
    FACT_LIST(X)
#undef X
        FACT_COUNT
};

enum {
    EXP_DISCOUNT,
    EXP_TOTAL,
    EXP_FINAL,
    EXP_POINTS,
    EXP_COUPON,
    EXP_MESSAGE,
    EXP_SPEND_LIMIT,
    EXP_APPLIED
};

/* Static types, filled by sema. */
// clang-format off
#define TYPE_LIST(X) \
    X(ERROR, "<error>") \
    X(BOOL, "bool") \
    X(MONEY, "money") \
    X(NUMBER, "number") \
    X(PERCENT, "percent") \
    X(STRING, "string") \
    X(DATE, "date") \
    X(TIME, "time") \
    X(WEEKDAY, "weekday") \
    X(CHANNEL, "channel") \
    X(PAYMENT, "payment") \
    X(ATTR, "attribute") \
    X(UNTYPED, "number literal") \
    X(LIST, "list")
// clang-format on

typedef enum ast_type {
#define X(name, text) TY_##name,
    TYPE_LIST(X)
#undef X
        TY_COUNT
} ast_type;

typedef struct ast_node ast_node;
struct ast_node {
    uint16_t kind; /* ast_kind */
    uint16_t op;   /* kind-specific sub-kind */
    src_span span;
    ast_node *a, *b, *c; /* children */
    ast_node *next;      /* next sibling in a list */
    int64_t ival, ival2; /* literal values, counts */
    int32_t scale;       /* decimals of a NUM/PERCENT literal */
    int32_t d1, d2;      /* points activate/expire days (-1 = none) */
    uint32_t depth;      /* operators nested below and at this node (parser, AST_MAX_DEPTH) */
    const char *str;     /* NUL-terminated, arena-owned */
    const char *str2;
    /* ---- filled by sema ---- */
    uint8_t type;  /* ast_type */
    uint8_t level; /* 0 receipt/customer, 1 needs a line */
    int64_t value; /* literal converted to its typed representation */
    ast_node *ref; /* IDENT -> SET node it names; C_GROUP etc. */
};

/* The deepest operator nesting an expression may have: every later stage walks an
 * expression recursively, so a 100,000-term `or` chain is refused by the parser (E004)
 * instead of overflowing the stack. */
#define AST_MAX_DEPTH 1000

/* The arena owning every node and string of one compilation. */
typedef struct ast_arena ast_arena;
ast_arena *ast_arena_new(void);
void ast_arena_free(ast_arena *a);
void *ast_alloc(ast_arena *a, size_t size); /* zeroed, 16-byte aligned; aborts on OOM */
const char *ast_strndup(ast_arena *a, const char *s, size_t n);

ast_node *ast_new(ast_arena *a, ast_kind kind, src_span span);
/* Appends `item` to the list starting at `head`; returns the head. O(n), lists are short. */
ast_node *ast_append(ast_node *head, ast_node *item);

/* Source files of one compilation: path and full text (NUL-terminated), kept for
 * diagnostics and golden output. */
typedef struct src_file {
    const char *path;
    const char *text;
    size_t len;
} src_file;

/* Debug dump used by tests (stable, one node per line). */
struct strbuf;
void ast_dump(const ast_node *n, int indent, struct strbuf *out);

#endif
