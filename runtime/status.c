/*
 * status.c — status codes and version of libpromo (derived from PROMO_STATUS_LIST), and
 * the small helpers of the public API that belong to no handle (dates and times).
 */
#include <string.h>

#include "civil.h"
#include "promo.h"

static const char *const status_msg[] = {
#define X(name, msg) msg,
    PROMO_STATUS_LIST(X)
#undef X
};

static const char *const status_name[] = {
#define X(name, msg) "PROMO_" #name,
    PROMO_STATUS_LIST(X)
#undef X
};

const char *promo_version(void) {
    return PROMO_VERSION_STRING;
}

int promo_version_number(void) {
    return PROMO_VERSION_NUMBER;
}

int32_t promo_date(int year, int month, int day) {
    if (month < 1 || day < 1 || !civil_valid(year, (unsigned)month, (unsigned)day))
        return INT32_MIN;
    return civil_days(year, (unsigned)month, (unsigned)day);
}

int32_t promo_time(int hour, int minute, int second) {
    if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return -1;
    return hour * 3600 + minute * 60 + second;
}

void promo_receipt_init(promo_receipt *r) {
    if (!r) return;
    memset(r, 0, sizeof *r);
    r->size = sizeof *r;
}

void promo_engine_opts_init(promo_engine_opts *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
}

const char *promo_strerror(promo_status s) {
    return (unsigned)s < PROMO__STATUS_COUNT ? status_msg[s] : "unknown status";
}

const char *promo_errname(promo_status s) {
    return (unsigned)s < PROMO__STATUS_COUNT ? status_name[s] : "PROMO_E?";
}
