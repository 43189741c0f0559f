/*
 * json_mini.c — the JSON reader of json_mini.h (recursive descent, depth-limited).
 */
#include "json_mini.h"

#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "xalloc.h"

#define JV_MAX_DEPTH 64

typedef struct jp {
    const char *p, *end;
    int depth;
} jp;

static void jp_ws(jp *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int jp_hex4(jp *s, unsigned *out) {
    if (s->end - s->p < 4) return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s->p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    s->p += 4;
    *out = v;
    return 0;
}

static void jp_utf8(strbuf *b, unsigned cp) {
    if (cp < 0x80) {
        sb_putc(b, (char)cp);
    } else if (cp < 0x800) {
        sb_putc(b, (char)(0xC0 | cp >> 6));
        sb_putc(b, (char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        sb_putc(b, (char)(0xE0 | cp >> 12));
        sb_putc(b, (char)(0x80 | (cp >> 6 & 0x3F)));
        sb_putc(b, (char)(0x80 | (cp & 0x3F)));
    } else {
        sb_putc(b, (char)(0xF0 | cp >> 18));
        sb_putc(b, (char)(0x80 | (cp >> 12 & 0x3F)));
        sb_putc(b, (char)(0x80 | (cp >> 6 & 0x3F)));
        sb_putc(b, (char)(0x80 | (cp & 0x3F)));
    }
}

static int jp_string(jp *s, char **out, size_t *len) {
    strbuf b = STRBUF_INIT;
    s->p++; /* '"' */
    while (s->p < s->end && *s->p != '"') {
        unsigned char c = (unsigned char)*s->p++;
        if (c < 0x20) goto bad;
        if (c != '\\') {
            sb_putc(&b, (char)c);
            continue;
        }
        if (s->p >= s->end) goto bad;
        char e = *s->p++;
        unsigned cp;
        switch (e) {
        case '"': sb_putc(&b, '"'); break;
        case '\\': sb_putc(&b, '\\'); break;
        case '/': sb_putc(&b, '/'); break;
        case 'b': sb_putc(&b, '\b'); break;
        case 'f': sb_putc(&b, '\f'); break;
        case 'n': sb_putc(&b, '\n'); break;
        case 'r': sb_putc(&b, '\r'); break;
        case 't': sb_putc(&b, '\t'); break;
        case 'u':
            if (jp_hex4(s, &cp)) goto bad;
            if (cp >= 0xD800 && cp < 0xDC00 && s->end - s->p >= 6 && s->p[0] == '\\' &&
                s->p[1] == 'u') {
                unsigned lo;
                s->p += 2;
                if (jp_hex4(s, &lo) || lo < 0xDC00 || lo > 0xDFFF) goto bad;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            jp_utf8(&b, cp);
            break;
        default: goto bad;
        }
    }
    if (s->p >= s->end) goto bad;
    s->p++;
    *len = b.len;
    *out = b.data ? b.data : xstrdup("");
    return 0;
bad:
    sb_free(&b);
    return -1;
}

static int jp_value(jp *s, jv *v);

static int jp_push(jv *v, size_t *cap) {
    if (v->n == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        v->items = xrealloc(v->items, *cap * sizeof *v->items);
        if (v->type == JV_OBJ) v->keys = xrealloc(v->keys, *cap * sizeof *v->keys);
    }
    return 0;
}

static int jp_container(jp *s, jv *v, char close) {
    size_t cap = 0;
    s->p++;
    jp_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return 0;
    }
    for (;;) {
        jp_ws(s);
        jp_push(v, &cap);
        if (v->type == JV_OBJ) {
            size_t kl;
            if (s->p >= s->end || *s->p != '"' || jp_string(s, &v->keys[v->n], &kl)) return -1;
            jp_ws(s);
            if (s->p >= s->end || *s->p != ':') {
                xfree(v->keys[v->n]);
                return -1;
            }
            s->p++;
        }
        memset(&v->items[v->n], 0, sizeof *v->items);
        int rc = jp_value(s, &v->items[v->n]);
        v->n++; /* counted even when it failed, so jv_free frees what it holds */
        if (rc) return -1;
        jp_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            continue;
        }
        if (s->p < s->end && *s->p == close) {
            s->p++;
            return 0;
        }
        return -1;
    }
}

static int jp_value(jp *s, jv *v) {
    jp_ws(s);
    if (s->p >= s->end) return -1;
    char c = *s->p;
    if (c == '{' || c == '[') {
        if (++s->depth > JV_MAX_DEPTH) return -1;
        v->type = c == '{' ? JV_OBJ : JV_ARR;
        int rc = jp_container(s, v, c == '{' ? '}' : ']');
        s->depth--;
        return rc;
    }
    if (c == '"') {
        v->type = JV_STR;
        return jp_string(s, &v->str, &v->len);
    }
    static const struct {
        const char *w;
        int t;
    } lits[] = {{"null", JV_NULL}, {"false", JV_FALSE}, {"true", JV_TRUE}};
    for (int i = 0; i < 3; i++) {
        size_t l = strlen(lits[i].w);
        if ((size_t)(s->end - s->p) >= l && !memcmp(s->p, lits[i].w, l)) {
            s->p += l;
            v->type = lits[i].t;
            return 0;
        }
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        char tmp[64];
        size_t k = 0;
        while (s->p < s->end && k < sizeof tmp - 1 && strchr("+-.eE0123456789", *s->p))
            tmp[k++] = *s->p++;
        tmp[k] = 0;
        char *e;
        v->num = strtod(tmp, &e);
        v->type = JV_NUM;
        return *e ? -1 : 0;
    }
    return -1;
}

jv *jv_parse(const char *text, size_t n) {
    jp s = {text, text + n, 0};
    jv *v = xcalloc(1, sizeof *v);
    if (jp_value(&s, v) == 0) {
        jp_ws(&s);
        if (s.p == s.end) return v;
    }
    jv_free(v);
    return NULL;
}

static void jv_clear(jv *v) {
    for (size_t i = 0; i < v->n; i++) {
        jv_clear(&v->items[i]);
        if (v->keys) xfree(v->keys[i]);
    }
    xfree(v->items);
    xfree(v->keys);
    xfree(v->str);
}

void jv_free(jv *v) {
    if (!v) return;
    jv_clear(v);
    xfree(v);
}

const jv *jv_get(const jv *obj, const char *key) {
    if (!obj || obj->type != JV_OBJ) return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (!strcmp(obj->keys[i], key)) return &obj->items[i];
    return NULL;
}

const jv *jv_path(const jv *v, const char *const *path) {
    for (; v && *path; path++)
        v = jv_get(v, *path);
    return v;
}
