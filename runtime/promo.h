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
PROMO_API const char *promo_version(void);

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

/* ---------------------------------------------------------------- bundles ---- */

typedef struct promo_bundle promo_bundle;

/* Loads and verifies (magic, format, checksum, every offset, every instruction).
 * On failure *out is NULL and errbuf (if not NULL) receives a one-line message. */
PROMO_API promo_status promo_bundle_load_file(const char *path, promo_bundle **out, char *errbuf,
                                              size_t errlen);
/* Copies `data`; the caller keeps ownership of it. */
PROMO_API promo_status promo_bundle_load_memory(const void *data, size_t len, promo_bundle **out,
                                                char *errbuf, size_t errlen);
PROMO_API void promo_bundle_retain(promo_bundle *b);
PROMO_API void promo_bundle_release(promo_bundle *b); /* NULL is ignored */

PROMO_API uint32_t promo_bundle_campaign_count(const promo_bundle *b);
/* Campaign id of evaluation-order index i (NUL-terminated, owned by the bundle). */
PROMO_API const char *promo_bundle_campaign_id(const promo_bundle *b, uint32_t i);
PROMO_API const char *promo_bundle_string(const promo_bundle *b, uint32_t str_index);

/* ------------------------------------------------------------ state store ---- */

/*
 * Per-customer state behind a small interface, so an embedded persistent store can
 * replace the in-memory one. State is a set of counters keyed by
 * (customer, key, day): key identifies a campaign limit or a history slot, day a
 * period bucket (days since 1970 for days, the first day of the ISO week / month for
 * week / month limits, 0 for whole-life limits).
 *
 * Evaluation reads (sum_range, version); commit writes (apply) only when the
 * customer's version is still the one read, so an evaluation that raced with another
 * receipt of the same customer is detected (PROMO_ECONFLICT) and redone.
 * Every function must be thread-safe.
 */
typedef struct promo_delta {
    uint64_t key;
    int32_t day;
    int64_t add;
} promo_delta;

typedef struct promo_store_ops {
    /* Sum of counters of (customer, key) with day in [from, to]; 0 when none. */
    promo_status (*sum_range)(void *self, uint64_t customer, uint64_t key, int32_t from, int32_t to,
                              int64_t *out);
    /* Current version of the customer's state (0 for an unknown customer). */
    promo_status (*version)(void *self, uint64_t customer, uint64_t *out);
    /* Applies all deltas atomically iff the version is still `expected`, then bumps it.
     * Returns PROMO_ECONFLICT (nothing applied) when the version moved. */
    promo_status (*apply)(void *self, uint64_t customer, uint64_t expected,
                          const promo_delta *deltas, size_t n);
    void (*destroy)(void *self);
} promo_store_ops;

typedef struct promo_store {
    const promo_store_ops *ops;
    void *self;
} promo_store;

/* The default in-memory store (a sharded hash table). Free with promo_store_free. */
PROMO_API promo_status promo_store_new_memory(promo_store *out);
PROMO_API void promo_store_free(promo_store *s);

/* --------------------------------------------------------------- engines ---- */

typedef struct promo_engine promo_engine;

typedef struct promo_engine_opts {
    promo_store store; /* ops NULL: an in-memory store owned by the engine */
    int own_store;     /* 1: the engine frees `store` with it */
} promo_engine_opts;

/* `bundle` may be released by the caller afterwards (the engine keeps a reference).
 * opts may be NULL. */
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

typedef struct promo_str {
    const char *p; /* not necessarily NUL-terminated; NULL with n 0 = absent */
    uint32_t n;
} promo_str;

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

typedef struct promo_receipt {
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

#define PROMO_MAX_LINES 10000u /* larger receipts are refused with PROMO_ELIMIT */

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
    X(STOPPED, "stopped") /* by `other` */

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
