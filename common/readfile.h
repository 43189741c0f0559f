/*
 * readfile.h — reading a whole input file with a size cap (bundles, .rule files).
 * Refuses what is not a file (a directory, a device such as /dev/zero, a socket) and
 * stops at `cap` bytes, so no input can make promo read until memory runs out. A FIFO
 * or pipe (`<(cat set.pbc)`) is read, up to the cap. Opening never blocks.
 */
#ifndef PROMO_READFILE_H
#define PROMO_READFILE_H

#include <stddef.h>

enum {
    RF_NOTREG = -1, /* a device or socket */
    RF_TOOBIG = -2  /* more than cap bytes */
};

/* 0: *data (malloc'ed, NUL-ended after *len bytes) holds the file. Otherwise an errno
 * value (EISDIR, ENOMEM, ...) or RF_*; *data is NULL. */
int rf_read(const char *path, size_t cap, char **data, size_t *len);

/* The same, *data allocated through a (libpromo's allocator hook; NULL = libc):
 * realloc(ud, NULL, n) acts as malloc, free(ud, p) releases. */
typedef struct rf_alloc {
    void *(*realloc)(void *ud, void *p, size_t n);
    void (*free)(void *ud, void *p);
    void *ud;
} rf_alloc;
int rf_read_with(const rf_alloc *a, const char *path, size_t cap, char **data, size_t *len);

/* The text of an rf_read error: "Is a directory", "not a regular file", ... */
const char *rf_strerror(int err, size_t cap, char *buf, size_t buflen);

#endif
