/* atomic_write.c — see atomic_write.h. */
#include "atomic_write.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xalloc.h"

static int aw_fail(char *err, size_t errlen, const char *what, const char *path, int e) {
    if (err && errlen) snprintf(err, errlen, "cannot %s '%s': %s", what, path, strerror(e));
    errno = e;
    return -1;
}

/* The file to replace: `path`, or the file a symlink at `path` finally names. */
static char *aw_target(const char *path) {
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
        char *real = realpath(path, NULL);
        if (real) {
            char *t = xstrdup(real);
            free(real);
            return t;
        }
        /* A dangling link: write where it points (relative to the link's directory). */
        char buf[PATH_MAX];
        ssize_t n = readlink(path, buf, sizeof buf - 1);
        if (n > 0) {
            buf[n] = 0;
            const char *slash = strrchr(path, '/');
            if (buf[0] == '/' || !slash) return xstrdup(buf);
            size_t dl = (size_t)(slash - path) + 1;
            char *t = xmalloc(dl + (size_t)n + 1);
            memcpy(t, path, dl);
            memcpy(t + dl, buf, (size_t)n + 1);
            return t;
        }
    }
    return xstrdup(path);
}

static void aw_sync_dir(const char *file) {
    const char *slash = strrchr(file, '/');
    char *dir = slash ? xstrndup(file, slash == file ? 1 : (size_t)(slash - file)) : xstrdup(".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd); /* best effort: not every file system syncs directories */
        close(fd);
    }
    xfree(dir);
}

int aw_write_file(const char *path, const void *data, size_t len, char *err, size_t errlen) {
    char *target = aw_target(path);
    mode_t mode;
    struct stat st;
    if (stat(target, &st) == 0) {
        mode = st.st_mode & 07777;
    } else {
        mode_t mask = umask(0);
        umask(mask);
        mode = 0666 & ~mask;
    }
    size_t n = strlen(target);
    char *tmp = xmalloc(n + 16);
    memcpy(tmp, target, n);
    memcpy(tmp + n, ".tmp.XXXXXX", 12);
    int fd = mkstemp(tmp); /* O_CREAT | O_EXCL, mode 0600 */
    if (fd < 0) {
        int e = errno;
        aw_fail(err, errlen, "create a temporary file for", path, e);
        xfree(tmp);
        xfree(target);
        errno = e;
        return -1;
    }
    const char *p = data;
    size_t left = len;
    int e = 0;
    while (left && !e) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            e = w < 0 && errno ? errno : EIO;
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    if (!e && fchmod(fd, mode) != 0) e = errno;
    if (!e && fsync(fd) != 0) e = errno;
    if (close(fd) != 0 && !e) e = errno;
    if (!e && rename(tmp, target) != 0) e = errno;
    if (e) {
        unlink(tmp);
        aw_fail(err, errlen, "write", path, e);
    } else {
        aw_sync_dir(target);
    }
    xfree(tmp);
    xfree(target);
    errno = e;
    return e ? -1 : 0;
}
