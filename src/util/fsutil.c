/* fsutil.c - temporary directories, recursive removal (fd-relative, any depth), renewing a
 * directory without depending on its old contents, path joining. */
#include "fsutil.h"
#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fmugw_mkdtemp(char **out, const char *prefix)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    size_t n = strlen(tmp) + strlen(prefix) + 8;
    char *p = malloc(n);
    if (!p)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    snprintf(p, n, "%s/%sXXXXXX", tmp, prefix);
    if (!mkdtemp(p)) {
        int e = errno;
        free(p);
        return fmugw_error_set(FMUGW_EIO, "cannot create a temporary directory in %s: %s", tmp, strerror(e));
    }
    *out = p;
    return 0;
}

/* --- removal ---------------------------------------------------------------
 * Relative to directory descriptors (openat / unlinkat), never by full path,
 * so a tree deeper than PATH_MAX goes as any other. The first
 * RM_STACK_DEPTH levels are walked recursively, each with its directory
 * stream open (fast for ordinary trees); anything deeper is walked by
 * rm_deep() in constant memory: it goes down to the first non-empty
 * directory it finds and back up through "..", rescanning the parent, and
 * each return empties one more directory. Any error other than "already
 * gone" stops the removal (no endless loop over what cannot be removed). */
#define RM_STACK_DEPTH 32

/* Removes `name` in `dfd` if it is not a directory, or an empty directory:
 * 1 when removed (or gone), 0 for a directory that is not empty, -1 (errno)
 * on error. */
static int rm_simple(int dfd, const char *name)
{
    if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
        return 1;
    if (errno != EISDIR && errno != EPERM)
        return -1;
    if (unlinkat(dfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
        return 1;
    return errno == ENOTEMPTY || errno == EEXIST ? 0 : -1;
}

static int is_dot(const char *n)
{
    return n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2]));
}

/* Scans `dfd` once, removing what rm_simple can; copies the name of the
 * first non-empty directory into `next` (empty when there is none).
 * 0 or -1 (errno). */
static int rm_scan(int dfd, char next[256])
{
    int dup_fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    next[0] = 0;
    if (!d) {
        if (dup_fd >= 0)
            close(dup_fd);
        return -1;
    }
    rewinddir(d); /* the duplicate shares the offset of an earlier scan */
    int rc = 0;
    struct dirent *e;
    while ((errno = 0, e = readdir(d))) {
        if (is_dot(e->d_name))
            continue;
        int r = rm_simple(dfd, e->d_name);
        if (r < 0) {
            rc = -1;
            break;
        }
        if (r == 0 && !next[0])
            snprintf(next, 256, "%s", e->d_name);
    }
    if (rc == 0 && errno)
        rc = -1;
    int en = errno;
    closedir(d);
    errno = en;
    return rc;
}

/* Empties `top` (a directory fd) in constant memory: see above. */
static int rm_deep(int top)
{
    char next[256];
    int cur = fcntl(top, F_DUPFD_CLOEXEC, 0);
    size_t level = 0;
    if (cur < 0)
        return -1;
    for (;;) {
        if (rm_scan(cur, next) != 0)
            break;
        if (next[0]) {
            int child = openat(cur, next, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (child < 0)
                break;
            close(cur);
            cur = child;
            level++;
            continue;
        }
        if (level == 0) {
            close(cur);
            return 0;
        }
        int up = openat(cur, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (up < 0)
            break;
        close(cur);
        cur = up;
        level--;
    }
    int en = errno;
    close(cur);
    errno = en;
    return -1;
}

/* Empties `dfd`: recursively down to RM_STACK_DEPTH, then rm_deep. */
static int rm_contents(int dfd, unsigned depth)
{
    if (depth >= RM_STACK_DEPTH)
        return rm_deep(dfd);
    int dup_fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    if (!d) {
        if (dup_fd >= 0)
            close(dup_fd);
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (errno = 0, e = readdir(d))) {
        if (is_dot(e->d_name))
            continue;
        int r = rm_simple(dfd, e->d_name);
        if (r != 0) {
            rc = r < 0 ? -1 : 0;
            continue;
        }
        int child = openat(dfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (child < 0) {
            rc = errno == ENOENT ? 0 : -1;
            continue;
        }
        rc = rm_contents(child, depth + 1);
        int en = errno;
        close(child);
        errno = en;
        if (rc == 0 && unlinkat(dfd, e->d_name, AT_REMOVEDIR) != 0 && errno != ENOENT)
            rc = -1;
    }
    if (rc == 0 && errno)
        rc = -1;
    int en = errno;
    closedir(d);
    errno = en;
    return rc;
}

int fmugw_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : fmugw_error_set(FMUGW_EIO, "%s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode)) {
        if (unlink(path) != 0 && errno != ENOENT)
            return fmugw_error_set(FMUGW_EIO, "cannot remove %s: %s", path, strerror(errno));
        return 0;
    }
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return fmugw_error_set(FMUGW_EIO, "cannot remove %s: %s", path, strerror(errno));
    int r = rm_contents(fd, 0);
    int en = errno;
    close(fd);
    if (r != 0 || (rmdir(path) != 0 && errno != ENOENT))
        return fmugw_error_set(FMUGW_EIO, "cannot remove %s: %s", path, strerror(r != 0 ? en : errno));
    return 0;
}

int fmugw_dir_renew(const char *path)
{
    struct stat st;
    if (lstat(path, &st) == 0) {
        size_t n = strlen(path) + sizeof ".stale-XXXXXX";
        char *aside = malloc(n);
        if (!aside)
            return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        /* a unique name: mkdtemp makes it, the rename replaces it (empty) */
        snprintf(aside, n, "%s.stale-XXXXXX", path);
        int rc = 0;
        if (!mkdtemp(aside) || rename(path, aside) != 0)
            rc = fmugw_error_set(FMUGW_EIO, "cannot move %s aside: %s", path, strerror(errno));
        if (rc != 0)
            rmdir(aside);
        free(aside);
        if (rc != 0)
            return rc;
    } else if (errno != ENOENT) {
        return fmugw_error_set(FMUGW_EIO, "%s: %s", path, strerror(errno));
    }
    if (mkdir(path, 0700) != 0)
        return fmugw_error_set(FMUGW_EIO, "cannot create %s: %s", path, strerror(errno));
    return 0;
}

int fmugw_rmtree_stale(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    char *slash = strrchr(copy, '/');
    const char *parent = slash ? (slash == copy ? "/" : copy) : ".";
    const char *base = slash ? slash + 1 : copy;
    if (slash)
        *slash = 0;
    char prefix[300];
    snprintf(prefix, sizeof prefix, "%s.stale-", base);
    size_t plen = strlen(prefix);
    int rc = 0;
    DIR *d = opendir(parent);
    if (!d) {
        rc = errno == ENOENT ? 0 : fmugw_error_set(FMUGW_EIO, "%s: %s", parent, strerror(errno));
        free(copy);
        return rc;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, plen) != 0)
            continue;
        char *p = fmugw_path_join(parent, e->d_name);
        int r = p ? fmugw_rmtree(p) : fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        if (r != 0 && rc == 0)
            rc = r;
        free(p);
    }
    closedir(d);
    free(copy);
    return rc;
}

char *fmugw_path_join(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    while (na > 1 && a[na - 1] == '/')
        na--;
    while (*b == '/')
        b++, nb--;
    char *p = malloc(na + nb + 2);
    if (!p)
        return NULL;
    memcpy(p, a, na);
    p[na] = '/';
    memcpy(p + na + 1, b, nb + 1);
    return p;
}

int fmugw_read_file(char **out, size_t *len, const char *path, size_t cap)
{
    int rc = 0;
    char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fmugw_error_set(errno == ENOENT ? FMUGW_ENOTFOUND : FMUGW_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = fmugw_error_set(FMUGW_EIO, "%s: %s", path, strerror(errno));
        goto out;
    }
    if ((size_t)st.st_size > cap) {
        rc = fmugw_error_set(FMUGW_ETOOBIG, "%s is %lld bytes, over the limit of %zu", path, (long long)st.st_size, cap);
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = fmugw_error_set(FMUGW_EIO, "%s: read failed", path);
            goto out;
        }
        got += (size_t)r;
    }
    buf[got] = '\0';
    *out = buf;
    buf = NULL;
    if (len)
        *len = got;
out:
    free(buf);
    close(fd);
    return rc;
}
