/*
 * keys.cc — routing and dedup keys of an operation line (keys.h), simdjson On-Demand.
 */
#include "keys.h"

#include <cstdio>
#include <cstring>

#include <simdjson.h>

namespace od = simdjson::ondemand;
static_assert(simdjson::SIMDJSON_PADDING <= 64, "callers pad lines with PROMO_JSON_PADDING (64)");

static void nk_copy(char *dst, size_t cap, std::string_view v) {
    size_t n = v.size() < cap - 1 ? v.size() : cap - 1;
    memcpy(dst, v.data(), n);
    dst[n] = 0;
}

extern "C" int nk_read(const char *line, size_t len, nk_keys *k) {
    memset(k, 0, sizeof *k);
    strcpy(k->op, "confirm");
    static thread_local od::parser parser;
    od::document doc;
    if (parser.iterate(line, len, len + simdjson::SIMDJSON_PADDING).get(doc)) return -1;
    od::object obj;
    if (doc.get_object().get(obj)) return -1;
    for (auto field : obj) {
        std::string_view key;
        if (field.unescaped_key().get(key)) return -1;
        od::value v = field.value();
        std::string_view s;
        if (key == "id") {
            if (!v.get_string().get(s)) nk_copy(k->id, sizeof k->id, s);
        } else if (key == "op") {
            if (!v.get_string().get(s)) nk_copy(k->op, sizeof k->op, s);
        } else if (key == "refund_id") {
            if (!v.get_string().get(s)) nk_copy(k->refund_id, sizeof k->refund_id, s);
        } else if (key == "customer") {
            od::object c;
            if (!v.get_object().get(c)) {
                for (auto cf : c) {
                    std::string_view ck;
                    if (cf.unescaped_key().get(ck)) return -1;
                    if (ck == "id" && !cf.value().get_string().get(s))
                        nk_copy(k->customer, sizeof k->customer, s);
                }
            }
        }
    }
    return 0;
}

extern "C" void nk_msgid(const nk_keys *k, char *buf, size_t cap) {
    snprintf(buf, cap, "%s|%s|%s", k->op, k->refund_id, k->id);
}

extern "C" const char *nk_route(const nk_keys *k) {
    return k->customer[0] ? k->customer : k->id;
}
