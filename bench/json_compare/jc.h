/* jc.h — shared bits of the json_compare benchmark (see json_compare.c). The readers
 * live in separate files because jansson and json-c both define json_object_get. */
#ifndef JC_H
#define JC_H
#include <math.h>
#include <stdint.h>
#include <string.h>

/* What every reader extracts, folded into a checksum so nothing is optimised out. */
typedef struct sink {
    uint64_t sum;
    long receipts, errors;
} sink;

static inline void take_str(sink *k, const char *s, size_t n) {
    k->sum += n + (n ? (unsigned char)s[0] : 0);
}
static inline void take_num(sink *k, int64_t v) {
    k->sum += (uint64_t)v * 31;
}

/* double -> kopecks the way most code does it (rounded, not truncated). */
static inline int64_t dbl_fixed(double x, int scale) {
    return llround(x * (scale == 2 ? 100.0 : 1000.0));
}

void run_jansson(char **lines, size_t *lens, size_t n, sink *k);
void run_jsonc(char **lines, size_t *lens, size_t n, sink *k);
#endif
