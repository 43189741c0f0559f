/*
 * json_mini.h — a small JSON reader for the language server's messages (a few KB each,
 * off the hot path): a tree of values; strings decoded to UTF-8 (\u escapes and
 * surrogate pairs). Receipts use the simdjson reader of the runtime instead.
 */
#ifndef PROMO_JSON_MINI_H
#define PROMO_JSON_MINI_H

#include <stddef.h>

enum { JV_NULL, JV_FALSE, JV_TRUE, JV_NUM, JV_STR, JV_ARR, JV_OBJ };

typedef struct jv {
    int type;
    double num;
    char *str; /* JV_STR: NUL-terminated (may hold NULs: len) */
    size_t len;
    struct jv *items; /* JV_ARR / JV_OBJ values */
    char **keys;      /* JV_OBJ keys */
    size_t n;
} jv;

/* Parses text[0, n); NULL when it is not one JSON value (trailing blanks allowed). */
jv *jv_parse(const char *text, size_t n);
void jv_free(jv *v);
/* Member `key` of an object, or NULL. */
const jv *jv_get(const jv *obj, const char *key);
/* obj.a.b... for a NULL-terminated path, or NULL. */
const jv *jv_path(const jv *v, const char *const *path);

#endif
