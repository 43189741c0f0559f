/*
 * lint.h — lints over a set that has no error, beyond sema's W001-W004: valid rules that
 * most likely do not do what was meant (W005 bundle price below a unit's worth, W006 a
 * spend_limit that can never apply, W007 a campaign without an example, on request).
 */
#ifndef PROMO_LINT_H
#define PROMO_LINT_H

struct compilation;

/* Runs after sema_check on a set without errors; reports into c->diags. */
void lint_check(struct compilation *c);

#endif
