/*
 * node.h — what `promo node` (node.c) and `promo client` (client.c) share: the options
 * that name the deployment, and opening the transport with them.
 */
#ifndef PROMO_NODE_NODE_H
#define PROMO_NODE_NODE_H

#include <stdint.h>

#include "strbuf.h"
#include "tp.h"

typedef struct nd_opts {
    const char *url;
    uint32_t partitions;
    int replicas;
    int64_t lease_ms;
    int64_t timeout_ms;
    const char *prefix;
} nd_opts;

/* Parses one of --nats, --partitions, --replicas, --prefix, --timeout-ms at argv[*i]
 * (advancing *i past its value): 1 parsed, 0 not one of them, -1 bad value. */
int nd_parse_common(int argc, char **argv, int *i, nd_opts *o);
/* Opens the transport (retrying while streams are being created by others); prints the
 * error on stderr. */
int nd_open(const nd_opts *o, tp **t);

/* Appends `res` (a stored result) with "duplicate":true added; error records as is. */
void nd_duplicate(strbuf *out, const char *res);

#endif
