/*
 * atomic_write.h — the one way the CLI replaces a file (`promo build -o`, `promo fmt`):
 * a fresh temporary next to the target (mkstemp: O_CREAT|O_EXCL, so a planted file or
 * symlink is never followed), written, fsync'ed, then renamed over the target, and the
 * directory fsync'ed. Readers see the old file or the new one, never a mix. A target
 * that is a symlink stays one: its final target is replaced. An existing file keeps its
 * permission bits; a new one gets 0666 & ~umask. Part of the tools library.
 */
#ifndef PROMO_ATOMIC_WRITE_H
#define PROMO_ATOMIC_WRITE_H

#include <stddef.h>

/* 0 on success; -1 with a one-line reason in err ("cannot write 'x': No space left on
 * device"), nothing changed at `path` and no temporary left behind. */
int aw_write_file(const char *path, const void *data, size_t len, char *err, size_t errlen);

#endif
