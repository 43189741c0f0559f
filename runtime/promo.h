/*
 * promo.h — the public API of libpromo, the embeddable evaluator of compiled campaign
 * sets (.pbc bundles). Last stages of the pipeline: bundle -> loader/verifier -> VM ->
 * stacking -> results.
 *
 * Lifecycle and ownership
 *   promo_bundle  immutable, reference counted, shared by any number of engines and
 *                 threads. promo_bundle_load_* returns it with one reference owned by
 *                 the caller; promo_bundle_release drops it.
 *   promo_engine  holds the current bundle (swapped atomically), the budget counters and
 *                 the per-customer state store. Thread-safe. Takes its own reference on
 *                 every bundle given to it.
 *   promo_ctx     one per thread: scratch memory and the last result. Not thread-safe.
 *                 Must be freed before its engine.
 *   promo_result  owned by the ctx; valid until the next promo_eval* on that ctx. String
 *                 fields point into the receipt (id) or into the bundle the result was
 *                 computed with (campaign ids, coupon/message texts), which the ctx keeps
 *                 alive until its next evaluation.
 *   promo_receipt owned by the caller; must stay unchanged during promo_eval.
 *
 * Money and points are int64 kopecks, quantities int64 thousandths, percents int64
 * thousandths of a percent; dates are days since 1970-01-01, times seconds since local
 * midnight. No floating point anywhere.
 *
 * No function here calls exit(), prints, or keeps global mutable state.
 */
#ifndef PROMO_H
#define PROMO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(PROMO_BUILDING) && defined(__GNUC__)
#define PROMO_API __attribute__((visibility("default")))
#else
#define PROMO_API
#endif

#define PROMO_VERSION_MAJOR  0
#define PROMO_VERSION_MINOR  1
#define PROMO_VERSION_PATCH  0
#define PROMO_VERSION_STRING "0.1.0"
/* MAJOR * 1000000 + MINOR * 1000 + PATCH, for #if and for comparing with the library a
 * program runs against: promo_version_number() == PROMO_VERSION_NUMBER when the header
 * and the library match. */
#define PROMO_VERSION_NUMBER                                                                       \
    (PROMO_VERSION_MAJOR * 1000000 + PROMO_VERSION_MINOR * 1000 + PROMO_VERSION_PATCH)
PROMO_API const char *promo_version(void); /* "0.1.0" of the library, not of the header */
PROMO_API int promo_version_number(void);

/* Status codes, declared once: X(name, message). */
#define PROMO_STATUS_LIST(X)                                                                       \
    X(OK, "success")                                                                               \
    X(ENOMEM, "out of memory")                                                                     \
    X(EIO, "input/output error")                                                                   \
    X(ECORRUPT, "corrupt or truncated bundle")                                                     \
    X(EVERSION, "unsupported bundle format version")                                               \
    X(EINPUT, "malformed receipt")                                                                 \
    X(ELIMIT, "receipt exceeds a size limit")                                                      \
    X(ECONFLICT, "state changed since evaluation; evaluate again")                                 \
    X(ESTATE, "state store failure")                                                               \
    X(EARG, "invalid argument")

typedef enum promo_status {
#define X(name, msg) PROMO_##name,
    PROMO_STATUS_LIST(X)
#undef X
        PROMO__STATUS_COUNT
} promo_status;

PROMO_API const char *promo_strerror(promo_status s); /* "corrupt or truncated bundle" */
PROMO_API const char *promo_errname(promo_status s);  /* "PROMO_ECORRUPT" */

/* ------------------------------------------------------- dates and times ---- */

/* The receipt's local date as days since 1970-01-01 (proleptic Gregorian), for
 * promo_receipt.date: promo_date(2026, 6, 5) == 20609. Years 1..9999; an invalid date
 * (2026-02-30, month 13) gives INT32_MIN. */
PROMO_API int32_t promo_date(int year, int month, int day);
/* Seconds since local midnight, for promo_receipt.time: promo_time(10, 15, 0) == 36900.
 * Out of range (hour 24, minute 60, second 60) gives -1. */
PROMO_API int32_t promo_time(int hour, int minute, int second);

/* -------------------------------------------------------------- allocator ---- */

/*
 * Every allocation of the runtime goes through one of these (SQLite's
 * SQLITE_CONFIG_MALLOC, Lua's lua_Alloc): the engine's (promo_engine_opts.alloc) for the
 * engine, its contexts, prefilter indexes, budget counters, the purchase protocol and
 * the default in-memory store; the bundle's (promo_bundle_load_memory_with,
 * promo_bundle_load_file_with) for a bundle; the store's (promo_store_opts.alloc) for a
 * store the caller creates (LMDB's own internal allocations excepted). NULL, or a struct
 * with any function NULL, means libc. The functions must be thread-safe when the engine
 * is used from several threads; `malloc` may return NULL (the call then fails with
 * PROMO_ENOMEM and leaks nothing); `realloc(ud, NULL, n)` must act as malloc. The one
 * exception is the JSON convenience parser (promo_receipt_parse_json), whose simdjson
 * buffers come from C++ operator new.
 */
typedef struct promo_allocator {
    void *(*malloc)(void *ud, size_t n);
    void *(*realloc)(void *ud, void *p, size_t n);
    void (*free)(void *ud, void *p); /* p is never NULL */
    void *ud;
} promo_allocator;

/* ---------------------------------------------------------------- bundles ---- */

typedef struct promo_bundle promo_bundle;

/* Loads and verifies (magic, format, checksum, every offset, every instruction).
 * On failure *out is NULL and errbuf (if not NULL) receives a one-line message.
 * A directory, a device or a file larger than PROMO_MAX_BUNDLE_BYTES is refused. */
#define PROMO_MAX_BUNDLE_BYTES ((size_t)256 << 20)
PROMO_API promo_status promo_bundle_load_file(const char *path, promo_bundle **out, char *errbuf,
                                              size_t errlen);
/* The same, every allocation of the bundle (the file's bytes included) through `alloc`
 * (copied; NULL = libc). */
PROMO_API promo_status promo_bundle_load_file_with(const char *path, const promo_allocator *alloc,
                                                   promo_bundle **out, char *errbuf, size_t errlen);
/* Copies `data`; the caller keeps ownership of it. */
PROMO_API promo_status promo_bundle_load_memory(const void *data, size_t len, promo_bundle **out,
                                                char *errbuf, size_t errlen);
/* The same, every allocation of the bundle through `alloc` (copied; NULL = libc). */
PROMO_API promo_status promo_bundle_load_memory_with(const void *data, size_t len,
                                                     const promo_allocator *alloc,
                                                     promo_bundle **out, char *errbuf,
                                                     size_t errlen);
PROMO_API void promo_bundle_retain(promo_bundle *b);
PROMO_API void promo_bundle_release(promo_bundle *b); /* NULL is ignored */
/* The checksum stored in the bundle's header (what `promo disasm` prints first, and
 * `promo run --stamp` adds to every result); 0 for NULL. */
PROMO_API uint64_t promo_bundle_checksum(const promo_bundle *b);
/* The budget of campaign i in kopecks (money and points alike), -1 when it has none. */
PROMO_API int64_t promo_bundle_campaign_budget(const promo_bundle *b, uint32_t i);

PROMO_API uint32_t promo_bundle_campaign_count(const promo_bundle *b);
/* Campaign id of evaluation-order index i (NUL-terminated, owned by the bundle). */
PROMO_API const char *promo_bundle_campaign_id(const promo_bundle *b, uint32_t i);
PROMO_API const char *promo_bundle_string(const promo_bundle *b, uint32_t str_index);
/* For logs: which bundle served a receipt (result->bundle). The checksum is the one in
 * the bundle's header (XXH3-64 of its bytes), equal for equal bundles. The label is
 * "pbc<format>:<checksum as 16 hex digits>:<campaigns>c", e.g.
 * "pbc3:9f3a0c2e5b7d4411:12c"; it is owned by the bundle. */
PROMO_API const char *promo_bundle_label(const promo_bundle *b);

/* ------------------------------------------------------------ state store ---- */

typedef struct promo_str {
    const char *p; /* not necessarily NUL-terminated; NULL with n 0 = absent */
    uint32_t n;
} promo_str;

/*
 * The state of record (SPEC 7) behind a small interface, so the embedded persistent
 * store (LMDB) and the in-memory one are interchangeable. It holds:
 *   - per customer (keyed by the whole customer id text): a version and counters keyed
 *     by (key, day): key a campaign limit or a history slot, day a period bucket (days
 *     since 1970 for days, the first day of the ISO week / month for week / month
 *     limits, 0 for whole-life limits), sorted by (key, day);
 *   - campaign budgets (spent so far), keyed by the 64-bit hash of the campaign id;
 *   - the journal: an opaque blob per key (confirmed receipts, refunds), written by the
 *     engine (runtime/ops.c) and read back for duplicates, returns and `promo state`.
 *
 * Evaluation reads one customer's whole record at once (read). Writes (write) are
 * serialized by the engine and version-checked: a write whose customer version moved
 * since the evaluation read it, or that would create a journal key that exists, is
 * refused with PROMO_ECONFLICT and nothing is applied. sync makes every write so far
 * durable (the group commit). Every function except write/sync may run concurrently.
 */
typedef struct promo_delta {
    uint64_t key;
    int32_t day;
    int64_t add;
} promo_delta;

typedef struct promo_cell { /* one counter of a customer record */
    uint64_t key;
    int32_t day;
    int32_t pad_; /* 0 */
    int64_t value;
} promo_cell;

typedef struct promo_store_rec { /* a customer's record as read */
    uint64_t version;            /* 0: unknown customer (no cells) */
    const promo_cell *cells;     /* sorted by (key, day); valid until the reader's next read */
    uint32_t ncells;
} promo_store_rec;

typedef struct promo_budget_delta {
    uint64_t key; /* hash of the campaign id */
    int64_t add;
} promo_budget_delta;

typedef struct promo_store_write { /* one operation's changes, applied atomically */
    promo_str customer;            /* absent: no customer change */
    uint64_t expected;             /* the version the evaluation read; UINT64_MAX: any */
    const promo_delta *deltas;
    size_t ndeltas;
    int32_t prune_before; /* cells of days in [1, prune_before) are dropped; 0 = none */
    const promo_budget_delta *budgets;
    size_t nbudgets;
    promo_str jkey;    /* absent: no journal change */
    const void *jdata; /* the journal entry's new content */
    size_t jlen;
    int jcreate;     /* 1: refuse (PROMO_ECONFLICT) when jkey exists */
    promo_str jkey2; /* a second journal entry (a refund record), absent: none */
    const void *jdata2;
    size_t jlen2;
} promo_store_write;

typedef struct promo_store_ops {
    size_t size; /* sizeof(promo_store_ops): fields are only ever added at the end */
    /* `*reader` is the caller's read handle (NULL at first; the store creates it);
     * what a read returns stays valid until the next read through the same handle. */
    promo_status (*read)(void *self, void **reader, promo_str customer, promo_store_rec *out);
    /* A journal entry: *data NULL (and *len 0) when the key is absent. */
    promo_status (*journal)(void *self, void **reader, promo_str key, const void **data,
                            size_t *len);
    promo_status (*budget)(void *self, uint64_t key, int64_t *spent); /* 0 when absent */
    promo_status (*write)(void *self, const promo_store_write *w);
    promo_status (*sync)(void *self);
    void (*reader_free)(void *self, void *reader);
    void (*destroy)(void *self);
    /* Optional (NULL, or a store built against an older promo.h: no return window).
     * The horizon: a journal entry whose cnow (the store's now when it was confirmed;
     * its receipt's date in a store that does not stamp it) is before it has expired:
     * a return, cancel or repeated confirm of it is refused, and it may have been
     * pruned to a tombstone. 0: no window yet. The built-in stores give the latest
     * date of a confirmed receipt minus promo_store_opts.return_window
     * (docs/semantics.md "Return window"). */
    int32_t (*horizon)(void *self);
} promo_store_ops;

typedef struct promo_store {
    const promo_store_ops *ops;
    void *self;
} promo_store;

enum { PROMO_DURABLE_PROCESS = 0, PROMO_DURABLE_STRICT = 1 };

typedef struct promo_store_opts {
    size_t size;           /* sizeof(promo_store_opts); set by promo_store_opts_init */
    int durability;        /* PROMO_DURABLE_*: survive kill -9 / also power loss */
    uint64_t map_size;     /* bytes of address space for the store (default 64 GiB) */
    int32_t return_window; /* days a confirmed receipt stays returnable (default 180;
                              -1: no window, the journal is kept for ever) */
    int group_commit;      /* 0: every commit is durable when it returns; 1: durable at
                              the next promo_store_sync (the caller's group commit) */
    int read_only;         /* 1: open for reading only (promo state) */
    /* Every allocation of the store itself (copied; a zeroed struct = libc). LMDB's
     * own allocations (environment, transactions, pages) cannot be hooked. */
    promo_allocator alloc;
    /* The in-memory store only: the most customers it holds (0: no cap). A write that
     * would add one more is refused with PROMO_ELIMIT (nothing applied): limits are
     * never silently forgotten. Customers none of whose counters the current bundle can
     * read any more are dropped and no longer count. */
    uint64_t max_customers;
    /* The LMDB store with process durability only: 1 = LMDB writes its pages through
     * a writable memory map (MDB_WRITEMAP) instead of pwrite. About twice the confirms
     * per second on an established store whose writes mostly rewrite pages it already
     * has; slower while the store grows (every new page is a page fault); the data
     * file's size becomes map_size (sparse). Ignored with strict durability, which
     * keeps pwrite + fsync. docs/embedding.md "Writes through the map". */
    int write_map;
} promo_store_opts;

PROMO_API void promo_store_opts_init(promo_store_opts *o);
/* The in-memory store (sharded hash tables; state lives as long as the store). Free
 * with promo_store_free. */
PROMO_API promo_status promo_store_new_memory(promo_store *out);
/* The same with options (opts may be NULL; `alloc` and `max_customers` apply). */
PROMO_API promo_status promo_store_new_memory_with(const promo_store_opts *opts, promo_store *out);
/* Opens (creating it when absent) the persistent LMDB store in directory `dir`.
 * errbuf (may be NULL) receives a one-line message on failure. */
PROMO_API promo_status promo_store_open(const char *dir, const promo_store_opts *opts,
                                        promo_store *out, char *errbuf, size_t errlen);
/* Makes every commit so far durable (one write transaction for all of them). */
PROMO_API promo_status promo_store_sync(promo_store *s);
PROMO_API void promo_store_free(promo_store *s); /* syncs first */

/* --------------------------------------------------------------- engines ---- */

typedef struct promo_engine promo_engine;

/* Options of promo_engine_new. The struct can grow: `size` (set by
 * promo_engine_opts_init or PROMO_ENGINE_OPTS_INIT to the sizeof the caller was compiled
 * with) tells the library which fields the caller knows; fields past it take their
 * defaults. A size smaller than the first version's is PROMO_EARG. */
typedef struct promo_engine_opts {
    size_t size;
    promo_store store; /* ops NULL: an in-memory store owned by the engine */
    int own_store;     /* 1: the engine frees `store` with it (not when promo_engine_new
                          fails: the caller still owns it then) */
    /* Every allocation of the engine, its contexts and its default store (copied; a
     * zeroed struct = libc). Bundles are allocated by whoever loads them. */
    promo_allocator alloc;
} promo_engine_opts;

#define PROMO_ENGINE_OPTS_INIT                                                                     \
    { .size = sizeof(promo_engine_opts) }
/* Sets every field to its default and `size` to sizeof(promo_engine_opts). */
PROMO_API void promo_engine_opts_init(promo_engine_opts *opts);

/* `bundle` may be released by the caller afterwards (the engine keeps a reference).
 * opts may be NULL (every default). */
PROMO_API promo_status promo_engine_new(promo_bundle *bundle, const promo_engine_opts *opts,
                                        promo_engine **out);
/* Atomically makes `bundle` current. Evaluations in flight finish on the old bundle,
 * which is released once no context uses it. Budget counters (keyed by campaign id)
 * and per-customer state carry over. Lock-free for readers. */
PROMO_API promo_status promo_engine_swap(promo_engine *e, promo_bundle *bundle);
/* A new reference to the current bundle (release it). */
PROMO_API promo_bundle *promo_engine_bundle(promo_engine *e);
/* Money/points granted so far by the campaign with this id; -1 when it has no budget. */
PROMO_API int64_t promo_engine_budget_spent(promo_engine *e, const char *campaign_id);
PROMO_API void promo_engine_free(promo_engine *e);

/* ---------------------------------------------------------------- receipts ---- */

typedef struct promo_kv {
    promo_str key;
    promo_str value; /* JSON numbers as their text ("25.5"), booleans "true"/"false" */
} promo_kv;

enum { PROMO_CHANNEL_POS = 0, PROMO_CHANNEL_ONLINE = 1 };
enum {
    PROMO_PAY_CASH = 0,
    PROMO_PAY_CARD = 1,
    PROMO_PAY_CREDIT = 2,
    PROMO_PAY_BONUS = 3,
    PROMO_PAY_MIXED = 4
};

typedef struct promo_line {
    promo_str sku;
    promo_str category; /* "dairy/milk"; may be absent */
    promo_str brand;    /* may be absent */
    int64_t qty;        /* thousandths, > 0 */
    int64_t price;      /* kopecks per unit, >= 0 */
    int excluded;
} promo_line;

typedef struct promo_customer {
    promo_str id; /* absent: anonymous (no limits/history can be kept) */
    promo_str card;
    promo_str tier;
    const promo_str *segments;
    uint32_t nsegments;
    int has_birthday;
    int32_t birthday; /* days since 1970 of the birth date */
    int registered;   /* -1: derive from id; 0/1 explicit */
    const promo_kv *attrs;
    uint32_t nattrs;
} promo_customer;

/* A receipt, filled by the caller. The struct can grow: start from
 * promo_receipt_init() (or PROMO_RECEIPT_INIT), which zeroes it and sets `size`;
 * promo_eval refuses (PROMO_EARG) a receipt whose size is smaller than the first
 * version's, and gives fields past `size` their defaults. */
typedef struct promo_receipt {
    uint32_t size; /* sizeof(promo_receipt) the caller was compiled with */
    promo_str id;
    promo_str store; /* decimal text of a numeric store id, or the string */
    promo_str region;
    int channel;         /* PROMO_CHANNEL_* */
    int payment;         /* PROMO_PAY_* */
    int64_t points_paid; /* kopecks */
    int32_t date;        /* local date, days since 1970-01-01 */
    int32_t time;        /* local time, seconds since midnight */
    const promo_str *codes;
    uint32_t ncodes;
    const promo_kv *attrs;
    uint32_t nattrs;
    const promo_customer *customer; /* NULL: no customer */
    const promo_line *lines;
    uint32_t nlines;
} promo_receipt;

#define PROMO_RECEIPT_INIT                                                                         \
    { .size = sizeof(promo_receipt) }
PROMO_API void promo_receipt_init(promo_receipt *r);

/* Limits of a receipt, the same for the JSON reader, the engine and the verifier of what
 * a bundle may hold: larger values are refused (PROMO_ELIMIT from promo_eval, an error
 * record from the JSON reader). Under them no sum or product of the evaluation can
 * overflow (docs/semantics.md, "Numbers"). */
#define PROMO_MAX_LINES 10000u             /* lines per receipt */
#define PROMO_MAX_QTY   1000000000LL       /* thousandths: 10^6 units per line */
#define PROMO_MAX_PRICE 1000000000000LL    /* kopecks: 10^10 roubles per unit */
#define PROMO_MAX_MONEY 1000000000000000LL /* kopecks: a line amount, a total, points_paid */

/* ---------------------------------------------------------------- results ---- */

typedef struct promo_by { /* one campaign's discount on one line */
    uint32_t campaign;    /* evaluation-order index in result->bundle */
    int64_t amount;
} promo_by;

typedef struct promo_line_result {
    int64_t amount; /* round_half_up(qty * price) */
    int64_t discount;
    int64_t final;   /* amount - discount */
    uint32_t by_off; /* entries result->by[by_off .. by_off + by_cnt), evaluation order */
    uint32_t by_cnt;
} promo_line_result;

typedef struct promo_points {
    uint32_t campaign;
    int64_t points;   /* kopecks (two decimals) */
    int32_t activate; /* days since 1970 */
    int32_t expire;   /* days since 1970, or INT32_MIN for null */
} promo_points;

typedef struct promo_text { /* a coupon or message issued by a campaign */
    uint32_t campaign;
    uint32_t str; /* string index in result->bundle */
} promo_text;

/* --explain outcomes, declared once: X(name, json text). */
#define PROMO_OUTCOME_LIST(X)                                                                      \
    X(APPLIED, "applied")                                                                          \
    X(NOT_APPLICABLE, "condition false") /* prefilter clause or `when` part false */               \
    X(NOTHING, "nothing to give")        /* condition true, rewards gave nothing */                \
    X(BLOCKED, "blocked")                /* incompatible with `other` */                           \
    X(LIMIT, "limit reached")                                                                      \
    X(BUDGET, "budget exhausted")                                                                  \
    X(STOPPED, "stopped")            /* by `other` */                                              \
    X(NO_CUSTOMER, "no customer id") /* a per-customer limit, and no customer id */

typedef enum promo_outcome {
#define X(name, text) PROMO_OUT_##name,
    PROMO_OUTCOME_LIST(X)
#undef X
        PROMO__OUTCOME_COUNT
} promo_outcome;

typedef struct promo_explain {
    uint32_t campaign;
    uint32_t outcome; /* promo_outcome */
    uint32_t other;   /* blocking/stopping campaign index, or UINT32_MAX */
    const char *part; /* NOT_APPLICABLE: "days", "hours", "active", "stores", "channel",
                         "card", "segment", "code" or the source text of the false
                         part of `when`; owned by the bundle or static */
} promo_explain;

typedef struct promo_result {
    const promo_bundle *bundle; /* the bundle this result was computed with */
    promo_str id;               /* the receipt's id */
    int64_t total, discount, final;
    const promo_line_result *lines;
    uint32_t nlines;
    const promo_by *by;
    uint32_t nby;
    const promo_points *points;
    uint32_t npoints;
    const promo_text *coupons;
    uint32_t ncoupons;
    const promo_text *messages;
    uint32_t nmessages;
    int has_spend_limit;
    int64_t spend_limit;     /* kopecks */
    const uint32_t *applied; /* campaign indices in evaluation order */
    uint32_t napplied;
    const promo_explain *explain; /* only when the ctx has PROMO_CTX_EXPLAIN */
    uint32_t nexplain;
} promo_result;

/* ------------------------------------------------------------ evaluation ---- */

typedef struct promo_ctx promo_ctx;

/* PROMO_CTX_EXPLAIN: fill promo_result.explain (--explain).
 * PROMO_CTX_PLAIN: evaluate without the engine's prefilter index and fast paths (no
 * candidate bitsets, line atoms, needed-atom skips or line memo): every campaign's
 * clauses and bytecode run as written. The results are the same, only slower; for
 * checking the fast paths (tests/test_shapes.c) and for debugging. */
enum { PROMO_CTX_EXPLAIN = 1u << 0, PROMO_CTX_PLAIN = 1u << 1 };

PROMO_API promo_status promo_ctx_new(promo_engine *e, unsigned flags, promo_ctx **out);
PROMO_API void promo_ctx_free(promo_ctx *c);
PROMO_API const char *promo_ctx_errmsg(const promo_ctx *c); /* message of the last error */

/* Evaluates a receipt against the engine's current bundle. Reads budgets and state but
 * changes nothing; *out stays valid until the next evaluation on this ctx. */
PROMO_API promo_status promo_eval(promo_ctx *c, const promo_receipt *r, const promo_result **out);
/* Applies what the last evaluation produced: reserves budgets (atomically, never past
 * the cap) and writes per-customer state. PROMO_ECONFLICT: a budget or the customer's
 * state changed since the evaluation in a way that changes its outcome; nothing was
 * applied; evaluate again. */
PROMO_API promo_status promo_commit(promo_ctx *c);
/* promo_eval + promo_commit, re-evaluating on conflict. */
PROMO_API promo_status promo_process(promo_ctx *c, const promo_receipt *r,
                                     const promo_result **out);

/* ------------------------------------------------ purchase protocol (SPEC 7.1) ---- */

typedef enum promo_op_kind {
    PROMO_OP_CONFIRM = 0,   /* evaluate and commit; idempotent by receipt id */
    PROMO_OP_CALCULATE = 1, /* evaluate against the current state, change nothing */
    PROMO_OP_CANCEL = 2,    /* reverse a confirmed receipt completely */
    PROMO_OP_RETURN = 3     /* reverse returned units; idempotent by refund_id */
} promo_op_kind;

typedef struct promo_return_line {
    uint32_t n;  /* line index in the confirmed receipt */
    int64_t qty; /* thousandths, > 0 */
} promo_return_line;

typedef struct promo_op {
    size_t size;                  /* sizeof(promo_op); set by promo_op_init */
    int op;                       /* promo_op_kind */
    unsigned flags;               /* PROMO_OPF_* */
    const promo_receipt *receipt; /* calculate, confirm */
    promo_str id;                 /* cancel, return: the confirmed receipt's id */
    promo_str refund_id;          /* return */
    const promo_return_line *lines;
    uint32_t nlines;
} promo_op;

enum { PROMO_OPF_ECHO_OP = 1u << 0 }; /* the JSON record carries "op" (the input did) */

/* Receipt states in the journal. */
enum {
    PROMO_RS_NONE = 0,
    PROMO_RS_CONFIRMED = 1,
    PROMO_RS_PARTIALLY_RETURNED = 2,
    PROMO_RS_RETURNED = 3,
    PROMO_RS_CANCELLED = 4
};

typedef struct promo_op_result {
    size_t size;                /* sizeof(promo_op_result); set by promo_op_run */
    int op;                     /* promo_op_kind */
    int duplicate;              /* an operation done before: its stored record */
    const promo_result *result; /* calculate and a fresh confirm: the evaluation */
    const char *json;           /* the record as `promo run` writes it (no newline), */
    size_t json_len;            /* owned by the ctx until its next call */
    int state;                  /* PROMO_RS_* of the receipt afterwards */
    int64_t refund;             /* cancel / return: money paid back, kopecks */
    int64_t points;             /* cancel / return: points taken back (<= 0) */
} promo_op_result;

PROMO_API void promo_op_init(promo_op *op);
/* Runs one operation against the engine's store (confirm: evaluation + commit,
 * re-evaluated on conflict). PROMO_EINPUT: the operation is refused (unknown id, id
 * reused with another receipt, over-return, refund_id reused with other lines...),
 * nothing changed, the message is promo_ctx_errmsg. `out` stays valid until the next
 * call on this ctx. */
PROMO_API promo_status promo_op_run(promo_ctx *c, const promo_op *op, promo_op_result *out);

/* Parses one JSON input line (SPEC 7.1) into an operation held by the ctx (valid until
 * the next parse on this ctx): "op" absent is a confirm; calculate and confirm lines
 * are receipts (promo_receipt_parse_json), cancel and return lines are read here.
 * Same padding rule and error reporting as promo_receipt_parse_json. */
PROMO_API promo_status promo_op_parse_json(promo_ctx *c, const char *line, size_t len, promo_op *op,
                                           promo_str *out_id);

/* JSON convenience (SPEC 4). Parses one JSON line into a receipt held by the ctx (valid
 * until the next parse on this ctx). On PROMO_EINPUT the ctx message is the SPEC error
 * text, e.g. "lines[2].price: expected a number"; `id` (if it could be read) is kept in
 * *out_id for the error record. `line` must be followed by at least
 * PROMO_JSON_PADDING readable bytes (their content is ignored). */
#define PROMO_JSON_PADDING 64
PROMO_API promo_status promo_receipt_parse_json(promo_ctx *c, const char *line, size_t len,
                                                const promo_receipt **out, promo_str *out_id);
/* Writes the SPEC-4 JSON of a result (no newline) into buf; returns the length needed
 * (excluding NUL). When the return value >= cap, nothing useful was written. */
PROMO_API size_t promo_result_to_json(const promo_result *res, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
