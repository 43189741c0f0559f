/* jc_jsonc.c — the json-c reader of json_compare (see json_compare.c). */
#include <json-c/json.h>
#include <stdio.h>

#include "jc.h"

/* ---------------------------------------------------------------------- json-c */
void run_jsonc(char **lines, size_t *lens, size_t n, sink *k) {
    json_tokener *tok = json_tokener_new();
    for (size_t i = 0; i < n; i++) {
        json_tokener_reset(tok);
        struct json_object *root = json_tokener_parse_ex(tok, lines[i], (int)lens[i]);
        if (!root) {
            k->errors++;
            continue;
        }
        k->receipts++;
        struct json_object *v, *c, *arr;
        if (json_object_object_get_ex(root, "id", &v))
            take_str(k, json_object_get_string(v), (size_t)json_object_get_string_len(v));
        if (json_object_object_get_ex(root, "store", &v)) take_num(k, json_object_get_int64(v));
        if (json_object_object_get_ex(root, "region", &v))
            take_str(k, json_object_get_string(v), (size_t)json_object_get_string_len(v));
        if (json_object_object_get_ex(root, "time", &v))
            take_str(k, json_object_get_string(v), (size_t)json_object_get_string_len(v));
        if (json_object_object_get_ex(root, "points_paid", &v))
            take_num(k, dbl_fixed(json_object_get_double(v), 2));
        if (json_object_object_get_ex(root, "codes", &arr))
            for (size_t j = 0; j < json_object_array_length(arr); j++) {
                v = json_object_array_get_idx(arr, j);
                take_str(k, json_object_get_string(v), (size_t)json_object_get_string_len(v));
            }
        if (json_object_object_get_ex(root, "attrs", &c)) {
            json_object_object_foreach(c, key, val) {
                (void)val;
                take_str(k, key, strlen(key));
            }
        }
        if (json_object_object_get_ex(root, "customer", &c)) {
            if (json_object_object_get_ex(c, "id", &v))
                take_str(k, json_object_get_string(v), (size_t)json_object_get_string_len(v));
            if (json_object_object_get_ex(c, "card", &v))
                take_str(k, json_object_get_string(v), (size_t)json_object_get_string_len(v));
        }
        if (json_object_object_get_ex(root, "lines", &arr))
            for (size_t j = 0; j < json_object_array_length(arr); j++) {
                struct json_object *l = json_object_array_get_idx(arr, j);
                if (json_object_object_get_ex(l, "sku", &v))
                    take_str(k, json_object_get_string(v), (size_t)json_object_get_string_len(v));
                if (json_object_object_get_ex(l, "category", &v))
                    take_str(k, json_object_get_string(v), (size_t)json_object_get_string_len(v));
                int64_t q = 0, p = 0, x = 0;
                if (json_object_object_get_ex(l, "qty", &v))
                    q = dbl_fixed(json_object_get_double(v), 3);
                if (json_object_object_get_ex(l, "price", &v))
                    p = dbl_fixed(json_object_get_double(v), 2);
                if (json_object_object_get_ex(l, "excluded", &v)) x = json_object_get_boolean(v);
                take_num(k, q + p + x);
            }
        json_object_put(root);
    }
    json_tokener_free(tok);
}
