/* jsoncheck.c — see jsoncheck.h. A recursive-descent validator, no allocation. */
#include "jsoncheck.h"

#include <string.h>

typedef struct jc {
    const char *p, *e;
    int depth;
} jc;

static void jc_ws(jc *j) {
    while (j->p < j->e && strchr(" \t\r\n", *j->p) && *j->p)
        j->p++;
}

static int jc_value(jc *j);

static int jc_lit(jc *j, const char *w) {
    size_t n = strlen(w);
    if ((size_t)(j->e - j->p) < n || memcmp(j->p, w, n) != 0) return 0;
    j->p += n;
    return 1;
}

static int jc_string(jc *j) {
    if (j->p >= j->e || *j->p != '"') return 0;
    j->p++;
    while (j->p < j->e) {
        unsigned char c = (unsigned char)*j->p++;
        if (c == '"') return 1;
        if (c < 0x20) return 0;
        if (c == '\\') {
            if (j->p >= j->e) return 0;
            char x = *j->p++;
            if (x == 'u') {
                for (int i = 0; i < 4; i++, j->p++)
                    if (j->p >= j->e || !strchr("0123456789abcdefABCDEF", *j->p) || !*j->p)
                        return 0;
            } else if (!strchr("\"\\/bfnrt", x) || !x) {
                return 0;
            }
        }
    }
    return 0;
}

static int jc_digits(jc *j) {
    const char *s = j->p;
    while (j->p < j->e && *j->p >= '0' && *j->p <= '9')
        j->p++;
    return j->p > s;
}

static int jc_number(jc *j) {
    if (j->p < j->e && *j->p == '-') j->p++;
    if (j->p < j->e && *j->p == '0')
        j->p++;
    else if (!jc_digits(j))
        return 0;
    if (j->p < j->e && *j->p == '.') {
        j->p++;
        if (!jc_digits(j)) return 0;
    }
    if (j->p < j->e && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->e && (*j->p == '+' || *j->p == '-')) j->p++;
        if (!jc_digits(j)) return 0;
    }
    return 1;
}

static int jc_seq(jc *j, char close, int object) {
    j->p++;
    jc_ws(j);
    if (j->p < j->e && *j->p == close) {
        j->p++;
        return 1;
    }
    for (;;) {
        jc_ws(j);
        if (object) {
            if (!jc_string(j)) return 0;
            jc_ws(j);
            if (j->p >= j->e || *j->p != ':') return 0;
            j->p++;
        }
        if (!jc_value(j)) return 0;
        jc_ws(j);
        if (j->p >= j->e) return 0;
        if (*j->p == ',') {
            j->p++;
            continue;
        }
        if (*j->p == close) {
            j->p++;
            return 1;
        }
        return 0;
    }
}

static int jc_value(jc *j) {
    jc_ws(j);
    if (j->p >= j->e || ++j->depth > 512) return 0;
    int ok;
    switch (*j->p) {
    case '{': ok = jc_seq(j, '}', 1); break;
    case '[': ok = jc_seq(j, ']', 0); break;
    case '"': ok = jc_string(j); break;
    case 't': ok = jc_lit(j, "true"); break;
    case 'f': ok = jc_lit(j, "false"); break;
    case 'n': ok = jc_lit(j, "null"); break;
    default: ok = jc_number(j); break;
    }
    j->depth--;
    return ok;
}

int json_valid(const char *s, size_t n) {
    jc j = {s, s + n, 0};
    if (!jc_value(&j)) return 0;
    jc_ws(&j);
    return j.p == j.e;
}
