/*
 * explain_text.h — a result explained in words, for people (promo run --explain=text,
 * promo explain set.pbc receipt): per campaign its title, what it gave (per line), or
 * the real reason it did not apply with the actual values involved.
 */
#ifndef PROMO_CLI_EXPLAIN_TEXT_H
#define PROMO_CLI_EXPLAIN_TEXT_H

#include "promo.h"

struct strbuf;

/* Appends the explanation of `res` (evaluated with PROMO_CTX_EXPLAIN) of receipt `r`
 * to out. `eng` (may be NULL) gives the budgets used so far. */
void explain_text(struct strbuf *out, const promo_result *res, const promo_receipt *r,
                  promo_engine *eng);

#endif
