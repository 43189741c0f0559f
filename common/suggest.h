/*
 * suggest.h — "did you mean": the candidate closest to a misspelt word, by edit
 * distance (optimal string alignment: insertions, deletions, substitutions and
 * transpositions of neighbours each cost 1), for keywords, names, groups, campaigns.
 */
#ifndef PROMO_SUGGEST_H
#define PROMO_SUGGEST_H

#include <stddef.h>

/* Edit distance between a and b; (size_t)-1 when either is longer than 64 bytes. */
size_t suggest_distance(const char *a, const char *b);

/* The candidate closest to `word` within a small distance (1 for words of up to 4
 * bytes, 2 up to 8, 3 beyond), or one that `word` starts with ("monday" -> "mon", at
 * least 3 bytes); NULL when nothing is close. The first of equally close candidates
 * wins, so pass them in a stable order. NULL entries and `word` itself are skipped. */
const char *suggest_closest(const char *word, const char *const *cands, size_t n);

/* The same, one candidate at a time: init with the word, offer candidates, read best. */
typedef struct suggest_state {
    const char *word;
    const char *best;
    size_t dist;  /* of best; candidates must be strictly closer */
    size_t limit; /* the first value of dist */
} suggest_state;

void suggest_init(suggest_state *st, const char *word);
void suggest_offer(suggest_state *st, const char *cand);

#endif
