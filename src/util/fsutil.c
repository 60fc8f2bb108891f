/* fsutil.c - temporary directories, recursive removal, path joining. */
#include "fsutil.h"
#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        return rmdir(path) == 0 || errno == ENOENT ? 0 : -1;
    return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

int fmugw_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : fmugw_error_set(FMUGW_EIO, "%s: %s", path, strerror(errno));
    if (nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS) != 0)
        return fmugw_error_set(FMUGW_EIO, "cannot remove %s: %s", path, strerror(errno));
    return 0;
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
