/*
 * sema.h — the checks stage: name resolution, static types, semantic errors and lints
 * over the AST of all files of a compilation. Its result is what code generation
 * consumes: campaigns in evaluation order with their clauses, the group table, and
 * every expression typed (ast_node.type/value/ref filled).
 *
 * Guarantees to codegen when sema_check reported no error:
 *  - every expression node has `type`; literals have `value` in the typed
 *    representation of docs/semantics.md (money kopecks, number x1000, percent x1000,
 *    date days, time seconds, enum member index; strings keep `str` and codegen hashes
 *    them); an untyped literal got the type of its context;
 *  - IDENT naming a set has `ref` = the SET node (acyclic); IDENT naming an enum member
 *    has the enum type and `value`;
 *  - FACT_ATTR / FACT_CUSTOMER_ATTR have type TY_ATTR; a comparison with one has the
 *    other operand typed TY_STRING or TY_NUMBER, which picks the string/number opcode;
 *  - line facts appear only in predicates (set bodies, `lines where`), aggregates never
 *    inside predicates.
 */
#ifndef PROMO_SEMA_H
#define PROMO_SEMA_H

#include <stddef.h>
#include <stdint.h>

#include "ast.h"

struct compilation;

typedef struct sema_campaign {
    ast_node *node; /* AST_CAMPAIGN */
    const char *id;
    int32_t priority;
    uint32_t group; /* index into sema_result.groups */
    uint32_t file;  /* source file index */
    /* Clause nodes, NULL when absent. */
    ast_node *combine, *stop, *active, *days, *hours, *stores, *channel, *card, *segment, *code,
        *then, *limit_receipt, *limit_customer, *budget;
    ast_node *when_expr;  /* all `when` clauses joined by `and`, or NULL */
    uint32_t accept_mode; /* PB_ACCEPT_* */
    uint32_t *accept;     /* sorted group indices for PB_ACCEPT_LIST */
    uint32_t naccept;
} sema_campaign;

typedef struct sema_result {
    sema_campaign *campaigns; /* evaluation order: priority desc, id bytewise asc */
    size_t ncampaigns;
    const char **groups; /* bytewise sorted, unique: declared groups and the
                            implicit one-campaign groups (named by campaign id) */
    size_t ngroups;
    int tiebreak_benefit;
} sema_result;

/* Runs all checks over c->trees; reports into c->diags; stores the result in c->sema.
 * Returns the number of errors. */
size_t sema_check(struct compilation *c);
const sema_result *sema_get(const struct compilation *c);
void sema_free(struct compilation *c);

#endif
