/*
 * smap.c — string-keyed hash map (smap.h), linear probing, grown at 1/2 load.
 */
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "smap.h"
#include "xalloc.h"

static size_t smap_slot(const smap *m, const char *key) {
    size_t i = (size_t)promo_hash(key, strlen(key)) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], key) != 0)
        i = (i + 1) & (m->cap - 1);
    return i;
}

void *smap_get(const smap *m, const char *key) {
    if (!m->cap) return NULL;
    size_t i = smap_slot(m, key);
    return m->keys[i] ? m->vals[i] : NULL;
}

static void smap_grow(smap *m) {
    smap g = {xcalloc(m->cap ? m->cap * 2 : 64, sizeof(char *)),
              xcalloc(m->cap ? m->cap * 2 : 64, sizeof(void *)), m->cap ? m->cap * 2 : 64, m->n};
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i]) continue;
        size_t j = smap_slot(&g, m->keys[i]);
        g.keys[j] = m->keys[i];
        g.vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    *m = g;
}

void *smap_put(smap *m, const char *key, void *val) {
    if ((m->n + 1) * 2 > m->cap) smap_grow(m);
    size_t i = smap_slot(m, key);
    void *old = m->vals[i];
    if (!m->keys[i]) {
        m->keys[i] = xstrdup(key);
        m->n++;
        old = NULL;
    }
    m->vals[i] = val;
    return old;
}

void smap_free(smap *m, void (*free_val)(void *)) {
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i]) continue;
        free(m->keys[i]);
        if (free_val) free_val(m->vals[i]);
    }
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}
