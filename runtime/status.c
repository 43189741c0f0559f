/*
 * status.c — status codes and version of libpromo (derived from PROMO_STATUS_LIST).
 */
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

const char *promo_strerror(promo_status s) {
    return (unsigned)s < PROMO__STATUS_COUNT ? status_msg[s] : "unknown status";
}

const char *promo_errname(promo_status s) {
    return (unsigned)s < PROMO__STATUS_COUNT ? status_name[s] : "PROMO_E?";
}
