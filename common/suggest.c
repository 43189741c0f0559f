/*
 * suggest.c — did-you-mean by edit distance (see suggest.h).
 */
#include "suggest.h"

#include <string.h>

#define SUGGEST_MAX 64

size_t suggest_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > SUGGEST_MAX || lb > SUGGEST_MAX) return (size_t)-1;
    /* Three rows of the optimal-string-alignment table. */
    size_t prev2[SUGGEST_MAX + 1], prev[SUGGEST_MAX + 1], cur[SUGGEST_MAX + 1];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    prev2[0] = 0;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t best = prev[j - 1] + (a[i - 1] != b[j - 1]);
            if (prev[j] + 1 < best) best = prev[j] + 1;
            if (cur[j - 1] + 1 < best) best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
        memcpy(prev2, prev, (lb + 1) * sizeof *prev);
        memcpy(prev, cur, (lb + 1) * sizeof *prev);
    }
    return prev[lb];
}

void suggest_init(suggest_state *st, const char *word) {
    size_t n = strlen(word);
    st->word = word;
    st->best = NULL;
    st->limit = st->dist = (n <= 4 ? 1 : n <= 8 ? 2 : 3) + 1; /* strict "<" below */
}

void suggest_offer(suggest_state *st, const char *cand) {
    if (!cand || !*cand || strcmp(cand, st->word) == 0) return;
    size_t d = suggest_distance(st->word, cand);
    size_t lc = strlen(cand), lw = strlen(st->word);
    /* A longer spelling of a short candidate ("monday" for "mon") is as good as the
     * weakest accepted typo. */
    if (d >= st->limit && lc >= 3 && lw > lc && strncmp(st->word, cand, lc) == 0) d = st->limit - 1;
    if (d < st->dist) {
        st->dist = d;
        st->best = cand;
    }
}

const char *suggest_closest(const char *word, const char *const *cands, size_t n) {
    suggest_state st;
    suggest_init(&st, word);
    for (size_t i = 0; i < n; i++)
        suggest_offer(&st, cands[i]);
    return st.best;
}
