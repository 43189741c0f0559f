/* keeps the support library non-empty */
typedef int promo_testsupport_empty;
