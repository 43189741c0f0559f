/*
 * civil.h — calendar arithmetic shared by the compiler (date literals), the receipt
 * reader and the VM: days since 1970-01-01 in the proleptic Gregorian calendar
 * (Howard Hinnant's algorithms), weekdays, ISO weeks, months. Pure integer code.
 */
#ifndef PROMO_CIVIL_H
#define PROMO_CIVIL_H

#include <stdint.h>

/* Days since 1970-01-01 of y-m-d (no validation). */
int32_t civil_days(int32_t y, unsigned m, unsigned d);
/* Inverse of civil_days. */
void civil_from_days(int32_t z, int32_t *y, unsigned *m, unsigned *d);
/* 1 when y-m-d is a real date (1 <= m <= 12, d fits the month, 1 <= y <= 9999). */
int civil_valid(int32_t y, unsigned m, unsigned d);
/* 0 = Monday .. 6 = Sunday. */
unsigned civil_weekday(int32_t days);
/* First day (Monday) of the ISO week holding `days`. */
int32_t civil_week_start(int32_t days);
/* First day of the calendar month holding `days`. */
int32_t civil_month_start(int32_t days);
/* Writes YYYY-MM-DD (10 chars + NUL) into out[11]. */
void civil_format(int32_t days, char out[11]);
/* Parses exactly YYYY-MM-DD at s (n bytes available); returns 1 and *days on success. */
int civil_parse_date(const char *s, unsigned n, int32_t *days);

#endif
