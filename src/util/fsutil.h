/*
 * fsutil.h - small filesystem helpers: private temporary directories,
 * recursive removal, path joining. All return 0 / FMUGW_E* (see error.h).
 */
#ifndef FMUGW_UTIL_FSUTIL_H
#define FMUGW_UTIL_FSUTIL_H

#include <stddef.h>

/** Creates a private (0700) directory under $TMPDIR or /tmp named
 *  `prefix`XXXXXX; *out is malloc'd, the caller frees it. */
int fmugw_mkdtemp(char **out, const char *prefix);

/** Removes `path` and everything below it; symlinks are removed, never
 *  followed. A missing path is not an error. */
int fmugw_rmtree(const char *path);

/** Joins `a` and `b` with one '/', into a malloc'd string (NULL on OOM). */
char *fmugw_path_join(const char *a, const char *b);

/** Reads a whole file (at most `cap` bytes) into a malloc'd, NUL-terminated
 *  buffer; *len gets its length. FMUGW_ETOOBIG past the cap. */
int fmugw_read_file(char **out, size_t *len, const char *path, size_t cap);

#endif
