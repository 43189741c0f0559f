/*
 * bundle_format.h — the on-disk layout of a compiled campaign set (.pbc), shared by
 * the bundle writer (bundle_writer.c of the compiler) and the loader/verifier
 * (runtime/bundle.c). Documented for humans in docs/bytecode.md.
 *
 * File = header | section table | sections. All integers little-endian, every
 * section 8-byte aligned, padding bytes zero. The checksum covers every byte of the
 * file, the header included (bundle_sum.h; format 1 left the header out). The writer is
 * deterministic: equal inputs give equal bytes.
 */
#ifndef PROMO_BUNDLE_FORMAT_H
#define PROMO_BUNDLE_FORMAT_H

#include <stdint.h>

#define PB_MAGIC        "PROMOBC\x1a" /* 8 bytes, no NUL needed */
#define PB_MAGIC_LEN    8
#define PB_FORMAT       5 /* bundle format number, kept apart from the library version */
#define PB_ENDIAN_PROBE 0x01020304u
#define PB_NONE         0xFFFFFFFFu /* "no index" in any u32 index field */
/* The longest duration the language accepts and the verifier lets through (points
 * `activate in` / `expire in`, history windows): about 100 years. */
#define PB_MAX_DAYS 36600

/* Shared vocabulary of the compiler and the runtime. */
enum { PERIOD_NONE, PERIOD_DAY, PERIOD_WEEK, PERIOD_MONTH };
enum { TARGET_RECEIPT, TARGET_LINES };

#define REWARD_LIST(X)                                                                             \
    X(DISCOUNT_PCT, "discount P% on target")                                                       \
    X(DISCOUNT_EACH, "discount X each on target")                                                  \
    X(DISCOUNT_AMOUNT, "discount X on target (spread)")                                            \
    X(PRICE, "price X on target")                                                                  \
    X(BUY_FREE, "buy N get M free on target")                                                      \
    X(BUY_PCT, "buy N get M at P% off on target")                                                  \
    X(BUNDLE, "bundle N for X on target")                                                          \
    X(POINTS_PCT, "points P% of paid [on target]")                                                 \
    X(POINTS_FIXED, "points N")                                                                    \
    X(COUPON, "coupon \"X\"")                                                                      \
    X(MESSAGE, "message \"X\"")                                                                    \
    X(SPEND_LIMIT, "spend_limit steps")

enum {
#define X(name, doc) REWARD_##name,
    REWARD_LIST(X)
#undef X
        REWARD_COUNT
};

typedef struct pb_header { /* 64 bytes */
    char magic[8];
    uint32_t format;   /* PB_FORMAT */
    uint32_t endian;   /* PB_ENDIAN_PROBE as written by a little-endian writer */
    uint64_t checksum; /* pb_checksum(file, file_size), bundle_sum.h */
    uint64_t file_size;
    uint32_t nsections;
    uint32_t flags;       /* PBF_* */
    uint64_t source_hash; /* reserved, 0: a bundle never depends on source paths or layout */
    uint8_t reserved[16];
} pb_header;

enum { PBF_TIEBREAK_BENEFIT = 1u << 0 };

typedef struct pb_section { /* 24 bytes */
    uint32_t id;            /* PBS_* */
    uint32_t count;         /* number of elements */
    uint64_t offset;        /* from the start of the file, 8-aligned */
    uint64_t size;          /* bytes */
} pb_section;

/* Section ids, in the order they appear in the file. X(name, element type, doc) */
#define PB_SECTION_LIST(X)                                                                         \
    X(STRINGS, "u32 offsets[count+1] then bytes", "string pool; each string NUL-ended")            \
    X(CONSTS, "pb_const", "constant pool")                                                         \
    X(SETS, "pb_set", "hashed membership sets")                                                    \
    X(SLOTS, "u64", "open-addressing slots of all sets (0 = empty)")                               \
    X(SETITEMS, "u32", "string index of each set item, for disasm")                                \
    X(CODE, "u32", "instructions")                                                                 \
    X(BLOCKS, "pb_block", "code blocks")                                                           \
    X(GROUPS, "u32", "group index -> name (string index)")                                         \
    X(ACCEPT, "u32", "group indices accepted by `combine with` lists")                             \
    X(HOURS, "u32 pairs", "hour windows [from, to) in seconds")                                    \
    X(STEPS, "pb_step", "spend_limit steps")                                                       \
    X(REWARDS, "pb_reward", "rewards")                                                             \
    X(HIST, "pb_hist", "history slots")                                                            \
    X(CAMPAIGNS, "pb_campaign", "campaigns in evaluation order")

enum {
#define X(name, elem, doc) PBS_##name,
    PB_SECTION_LIST(X)
#undef X
        PBS__COUNT
};

/* The type tag of a constant (pb_const.type): how the disassembler shows its value; the
 * VM never reads it. Declared here, not in the compiler, so that the runtime and the
 * tools need nothing from the compiler; the numbers are part of the format. */
#define PB_CONST_LIST(X)                                                                           \
    X(OTHER, 0, "shown as a plain integer")                                                        \
    X(BOOL, 1, "0 or 1")                                                                           \
    X(MONEY, 2, "kopecks")                                                                         \
    X(NUMBER, 3, "thousandths")                                                                    \
    X(PERCENT, 4, "thousandths of a percent")                                                      \
    X(STRING, 5, "XXH3 of the string `str`")                                                       \
    X(DATE, 6, "days since 1970-01-01")                                                            \
    X(TIME, 7, "seconds since midnight")                                                           \
    X(WEEKDAY, 8, "0 mon .. 6 sun")                                                                \
    X(CHANNEL, 9, "PROMO_CHANNEL_*")                                                               \
    X(PAYMENT, 10, "PROMO_PAY_*")                                                                  \
    X(UNTYPED, 12, "a number literal, thousandths")

enum {
#define X(name, num, doc) PB_CONST_##name = num,
    PB_CONST_LIST(X)
#undef X
};

typedef struct pb_const { /* 16 bytes */
    int64_t value;
    uint32_t str;  /* string the value is the hash of, or PB_NONE */
    uint32_t type; /* PB_CONST_* (for disasm) */
} pb_const;

enum { PB_SET_STRING = 0, PB_SET_NUMBER = 1, PB_SET_CATEGORY = 2 };

typedef struct pb_set { /* 24 bytes */
    uint32_t kind;      /* PB_SET_* */
    uint32_t nitems;
    uint32_t slot_off;  /* first slot in SLOTS */
    uint32_t nslots;    /* power of two >= 2 * nitems, at least 2 */
    uint32_t items_off; /* first entry in SETITEMS (nitems entries) */
    uint32_t name;      /* string index (set name or a description) */
} pb_set;
/* Slot of a key: XXH3-derived key k (never 0: a 0 hash is stored as 1), probing
 * linearly from (k & (nslots - 1)). Number sets store the hash of the 8 LE bytes. */

enum { PB_BLOCK_COND = 0, PB_BLOCK_PRED = 1 };

typedef struct pb_block { /* 16 bytes */
    uint32_t start;       /* first instruction in CODE */
    uint32_t len;         /* instructions, the last is RET */
    uint32_t kind;        /* PB_BLOCK_* */
    uint32_t max_stack;   /* computed by the writer, re-checked by the verifier */
} pb_block;

typedef struct pb_step { /* 16 bytes */
    int64_t pct;         /* thousandths of a percent */
    uint32_t cond;       /* COND block or PB_NONE (catch-all) */
    uint32_t pad;
} pb_step;

typedef struct pb_hist { /* 16 bytes */
    uint64_t key;        /* stable key of (kind, predicate) for the state store */
    uint32_t pred;       /* PRED block or PRED_ALL_LINES */
    uint32_t kind;       /* 0 sum, 1 count */
} pb_hist;

enum { PB_LEVEL_LINE = 0, PB_LEVEL_RECEIPT = 1 };

typedef struct pb_reward { /* 56 bytes */
    uint32_t kind;         /* REWARD_* */
    uint32_t level;        /* PB_LEVEL_*: receipt-level rewards (SPEC 3.3 rule 3) */
    uint32_t pred;         /* PRED block, or PRED_ALL_LINES */
    uint32_t str;          /* coupon / message text, or PB_NONE */
    int64_t a;             /* percent (thousandths) | money/points (kopecks) | N */
    int64_t b;             /* M | percent (buy at) | bundle price (kopecks) */
    int32_t activate_days; /* -1: on the receipt date */
    int32_t expire_days;   /* -1: never (expire null) */
    uint32_t steps_off;    /* spend_limit: first step in STEPS */
    uint32_t steps_cnt;
    uint32_t n, m; /* buy N get M / bundle N (m 0); 0 for other kinds. Added
                      because BUY_PCT needs N, M and the percent at once */
} pb_reward;

enum {
    PBC_STOP = 1u << 0,
    PBC_BUDGET_PARTIAL = 1u << 1,
};

enum { PB_ACCEPT_ANY = 0, PB_ACCEPT_NONE = 1, PB_ACCEPT_LIST = 2 };

typedef struct pb_campaign { /* 128 bytes */
    uint64_t id_hash;        /* XXH3 of the id: keys budgets and per-customer state */
    int64_t budget;          /* kopecks, -1 = none */
    uint32_t id;             /* string index */
    uint32_t title;          /* string index or PB_NONE */
    int32_t priority;
    uint32_t flags;       /* PBC_* */
    uint32_t group;       /* group index */
    uint32_t accept_mode; /* PB_ACCEPT_* */
    uint32_t accept_off;  /* ACCEPT entries, sorted ascending */
    uint32_t accept_cnt;
    int32_t date_from;     /* inclusive, INT32_MIN when no `active` */
    int32_t date_to;       /* inclusive, INT32_MAX when no `active` */
    uint32_t weekday_mask; /* bit 0 mon .. bit 6 sun; 0x7F = every day */
    uint32_t hours_off;    /* HOURS pairs; hours_cnt 0 = any time */
    uint32_t hours_cnt;
    uint32_t stores_set; /* store ids; PB_NONE together with regions_set = any */
    uint32_t regions_set;
    uint32_t channel_mask; /* bit 0 pos, bit 1 online */
    uint32_t card_set;     /* customer card type, any of; PB_NONE = no requirement */
    uint32_t segment_set;  /* customer segments, any of */
    uint32_t code_set;     /* promo codes, any of */
    uint32_t cond_block;   /* COND block of `when`, or PB_NONE */
    uint32_t reward_off;
    uint32_t reward_cnt;
    uint32_t limit_receipt;  /* 0 = none */
    uint32_t limit_customer; /* 0 = none */
    uint32_t limit_period;   /* PERIOD_* */
    uint32_t src_file;       /* string index of the source file's base name */
    uint32_t src_line;       /* reserved, 0 (layout-independent bundles) */
    uint32_t pad;
} pb_campaign;

#endif
