/*
 * smap.h — a string-keyed open-addressing hash map (keys copied, values owned by the
 * caller): the node's results by message id, the client's inputs by message id.
 */
#ifndef PROMO_NODE_SMAP_H
#define PROMO_NODE_SMAP_H

#include <stddef.h>

typedef struct smap {
    char **keys;
    void **vals;
    size_t cap, n;
} smap;

void *smap_get(const smap *m, const char *key);
/* Sets key -> val; returns the previous value (NULL when new). */
void *smap_put(smap *m, const char *key, void *val);
/* Frees the keys; calls free_val on every value when not NULL. */
void smap_free(smap *m, void (*free_val)(void *));

#endif
