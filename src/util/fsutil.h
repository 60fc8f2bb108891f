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
 *  followed, and no mount point is crossed into. Works relative to
 *  directory descriptors, so any depth (beyond PATH_MAX too) is removed, in
 *  bounded memory and stack. A missing path is not an error; the first
 *  failure stops it (FMUGW_EIO naming `path`, what was removed is gone). */
int fmugw_rmtree(const char *path);

/** Makes `path` a new empty directory (0700) whatever was there: an old
 *  tree is renamed aside to `path`.stale-XXXXXX (a rename does not depend
 *  on what the tree holds) for fmugw_rmtree_stale() to remove, e.g. in the
 *  background. FMUGW_EIO when the rename or the mkdir fails. */
int fmugw_dir_renew(const char *path);

/** Removes every `path`.stale-* beside `path` (fmugw_dir_renew's).
 *  Returns the first failure, after trying them all. */
int fmugw_rmtree_stale(const char *path);

/** Joins `a` and `b` with one '/', into a malloc'd string (NULL on OOM). */
char *fmugw_path_join(const char *a, const char *b);

/** Reads a whole file (at most `cap` bytes) into a malloc'd, NUL-terminated
 *  buffer; *len gets its length. FMUGW_ETOOBIG past the cap. */
int fmugw_read_file(char **out, size_t *len, const char *path, size_t cap);

#endif
