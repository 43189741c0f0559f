/* jc_jansson.c — the jansson reader of json_compare (see json_compare.c). */
#include <jansson.h>
#include <stdio.h>

#include "jc.h"

/* --------------------------------------------------------------------- jansson */
void run_jansson(char **lines, size_t *lens, size_t n, sink *k) {
    for (size_t i = 0; i < n; i++) {
        json_error_t e;
        json_t *root = json_loadb(lines[i], lens[i], 0, &e);
        if (!root) {
            k->errors++;
            continue;
        }
        k->receipts++;
        const char *s;
        json_t *v;
        if ((s = json_string_value(json_object_get(root, "id")))) take_str(k, s, strlen(s));
        take_num(k, json_integer_value(json_object_get(root, "store")));
        if ((s = json_string_value(json_object_get(root, "region")))) take_str(k, s, strlen(s));
        if ((s = json_string_value(json_object_get(root, "time")))) take_str(k, s, strlen(s));
        take_num(k, dbl_fixed(json_number_value(json_object_get(root, "points_paid")), 2));
        size_t j;
        json_array_foreach(json_object_get(root, "codes"), j, v) {
            if ((s = json_string_value(v))) take_str(k, s, strlen(s));
        }
        const char *key;
        json_object_foreach(json_object_get(root, "attrs"), key, v) take_str(k, key, strlen(key));
        json_t *c = json_object_get(root, "customer");
        if (c) {
            if ((s = json_string_value(json_object_get(c, "id")))) take_str(k, s, strlen(s));
            if ((s = json_string_value(json_object_get(c, "card")))) take_str(k, s, strlen(s));
        }
        json_array_foreach(json_object_get(root, "lines"), j, v) {
            if ((s = json_string_value(json_object_get(v, "sku")))) take_str(k, s, strlen(s));
            if ((s = json_string_value(json_object_get(v, "category")))) take_str(k, s, strlen(s));
            take_num(k, dbl_fixed(json_number_value(json_object_get(v, "qty")), 3) +
                            dbl_fixed(json_number_value(json_object_get(v, "price")), 2) +
                            json_is_true(json_object_get(v, "excluded")));
        }
        json_decref(root);
    }
}
