/*
 * nats_helpers.h — for the node tests: a tp on the test cluster that ctest's fixture
 * started (scripts/cluster.sh up, PROMO_CLUSTER_DIR), with names of its own so tests
 * running at once never share a stream or bucket.
 */
#ifndef PROMO_TEST_NATS_HELPERS_H
#define PROMO_TEST_NATS_HELPERS_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tp.h"

/* nats://127.0.0.1:P,... of the fixture's cluster, into url[160]. */
static inline void nh_url(char url[160]) {
    const char *dir = getenv("PROMO_CLUSTER_DIR");
    cr_assert(dir, "PROMO_CLUSTER_DIR unset: run through ctest (fixture nats_cluster)");
    char path[512];
    snprintf(path, sizeof path, "%s/port", dir);
    FILE *f = fopen(path, "r");
    cr_assert(f, "no cluster in %s", dir);
    int port = 0;
    cr_assert(fscanf(f, "%d", &port) == 1);
    fclose(f);
    snprintf(url, 160, "nats://127.0.0.1:%d,nats://127.0.0.1:%d,nats://127.0.0.1:%d", port,
             port + 1, port + 2);
}

/* A tp whose streams and buckets are named after `prefix`, leases of `ttl_ms` (the
 * lease bucket keeps records 20 TTLs). */
static inline tp *nh_open_ttl(const char *prefix, uint32_t partitions, int64_t ttl_ms) {
    static char url[160];
    nh_url(url);
    tp_config c = {.url = url,
                   .partitions = partitions,
                   .replicas = 3,
                   .lease_ttl_ms = ttl_ms,
                   .timeout_ms = 5000,
                   .prefix = prefix};
    tp *t = NULL;
    int rc = TP_EIO;
    /* racing creators of the streams time out on a busy machine (as nd_open does) */
    for (int tries = 0; tries < 5 && rc != TP_OK; tries++) {
        if (tries) usleep(500000);
        rc = tp_nats_open(&c, &t);
    }
    cr_assert_eq(rc, TP_OK, "tp_nats_open: %s", tp_errmsg());
    return t;
}

static inline tp *nh_open_as(const char *prefix, uint32_t partitions) {
    return nh_open_ttl(prefix, partitions, 1000);
}

/* A tp with prefix "<name><pid>" (written to prefix[64]). */
static inline tp *nh_open(const char *name, uint32_t partitions, char prefix[64]) {
    snprintf(prefix, 64, "%s%d", name, (int)getpid());
    return nh_open_as(prefix, partitions);
}

#endif
