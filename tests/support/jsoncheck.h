/*
 * jsoncheck.h — test helper: a strict JSON well-formedness check (RFC 8259), used to
 * validate the JSON and SARIF renderings of diagnostics and other JSON outputs.
 */
#ifndef PROMO_JSONCHECK_H
#define PROMO_JSONCHECK_H

#include <stddef.h>

/* 1 when s[0..n) is exactly one JSON value (surrounding whitespace allowed). */
int json_valid(const char *s, size_t n);

#endif
