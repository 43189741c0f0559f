/*
 * readfile.c — see readfile.h.
 */
#include "readfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void *rf_libc_realloc(void *ud, void *p, size_t n) {
    (void)ud;
    return realloc(p, n);
}

static void rf_libc_free(void *ud, void *p) {
    (void)ud;
    free(p);
}

static const rf_alloc rf_libc = {rf_libc_realloc, rf_libc_free, NULL};

int rf_read(const char *path, size_t cap, char **data, size_t *len) {
    return rf_read_with(NULL, path, cap, data, len);
}

int rf_read_with(const rf_alloc *a, const char *path, size_t cap, char **data, size_t *len) {
    if (!a) a = &rf_libc;
    *data = NULL;
    *len = 0;
    /* O_NONBLOCK: opening a FIFO without a writer must not hang. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return errno;
    struct stat st;
    int err = 0;
    if (fstat(fd, &st) != 0)
        err = errno;
    else if (S_ISDIR(st.st_mode))
        err = EISDIR;
    else if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
        err = RF_NOTREG;
    else if (S_ISREG(st.st_mode) && (unsigned long long)st.st_size > cap)
        err = RF_TOOBIG;
    else if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0)
        err = errno;
    size_t n = 0, size = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 65536;
    char *buf = err ? NULL : a->realloc(a->ud, NULL, size + 1);
    if (!err && !buf) err = ENOMEM;
    while (!err) {
        if (n == size) { /* a growing file or a pipe */
            if (size > cap) {
                err = RF_TOOBIG;
                break;
            }
            size_t ns = size * 2 > cap + 1 ? cap + 1 : size * 2;
            char *b2 = a->realloc(a->ud, buf, ns + 1);
            if (!b2) {
                err = ENOMEM;
                break;
            }
            buf = b2;
            size = ns;
        }
        ssize_t r = read(fd, buf + n, size - n);
        if (r == 0) break;
        if (r < 0) {
            if (errno != EINTR) err = errno;
            continue;
        }
        n += (size_t)r;
        if (n > cap) err = RF_TOOBIG;
    }
    close(fd);
    if (err) {
        if (buf) a->free(a->ud, buf);
        return err;
    }
    buf[n] = 0;
    *data = buf;
    *len = n;
    return 0;
}

const char *rf_strerror(int err, size_t cap, char *buf, size_t buflen) {
    if (err == RF_NOTREG) return "not a regular file";
    if (err == RF_TOOBIG) {
        snprintf(buf, buflen, "file too large (more than %zu bytes)", cap);
        return buf;
    }
    return strerror(err);
}
