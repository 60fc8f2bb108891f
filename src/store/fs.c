/*
 * fs.c - the local-directory blob backend (see blob.h): blobs at
 * `<root>/ab/cd/<sha256hex>`, written to `<root>/tmp/put-<pid>-<rand>`,
 * fsync'd, renamed into place and the directory fsync'd. Temporaries left
 * by a dead process (a crash or kill -9 mid-put) are removed at open.
 */
#include "blob_backend.h"
#include "store_util.h"
#include "util/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536
#define STALE_SECONDS (24 * 3600)

typedef struct {
    struct blob_store base;
    char *root;
    size_t root_len;
} fs_store;

typedef struct {
    struct blob_reader base;
    int fd;
} fs_reader;

static int fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fmugw_error_set(FMUGW_EIO, "cannot open directory %s: %s", path, strerror(errno));
    int rc = fsync(fd) == 0 ? 0 : fmugw_error_set(FMUGW_EIO, "fsync %s: %s", path, strerror(errno));
    close(fd);
    return rc;
}

/* mkdir that treats "already there" as success; *created says if it made
 * the directory (its parent then needs an fsync). */
static int mkdir_one(const char *path, bool *created)
{
    *created = false;
    if (mkdir(path, 0700) == 0) {
        *created = true;
        return 0;
    }
    struct stat st;
    if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    return fmugw_error_set(FMUGW_EIO, "cannot create directory %s: %s", path, strerror(errno));
}

/* Builds "<root>/<rest>" into a malloc'd string. */
static char *path_of(const fs_store *s, const char *rest)
{
    size_t n = s->root_len + 1 + strlen(rest) + 1;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", s->root, rest);
    return p;
}

/* "<root>/ab/cd/<key>" (dir_only: "<root>/ab/cd"). */
static char *blob_path(const fs_store *s, const char *key, bool dir_only)
{
    char rel[4 + 3 + 65];
    if (dir_only)
        snprintf(rel, sizeof rel, "%.2s/%.2s", key, key + 2);
    else
        snprintf(rel, sizeof rel, "%.2s/%.2s/%s", key, key + 2, key);
    return path_of(s, rel);
}

/* Removes temporaries of dead processes (and very old ones). */
static void clean_tmp(const char *tmpdir)
{
    DIR *d = opendir(tmpdir);
    if (!d)
        return;
    struct dirent *e;
    pid_t self = getpid();
    time_t now = time(NULL);
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        long pid = 0;
        bool ours = sscanf(e->d_name, "put-%ld-", &pid) == 1 && pid > 0;
        bool alive = ours && (pid == (long)self || kill((pid_t)pid, 0) == 0 || errno == EPERM);
        struct stat st;
        bool old = fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && now - st.st_mtime > STALE_SECONDS;
        if (!alive || (old && pid != (long)self))
            unlinkat(dirfd(d), e->d_name, 0);
    }
    closedir(d);
}

static int fs_open(blob_store **out, const char *rest)
{
    int rc = 0;
    char *tmp = NULL;
    bool created;
    if (rest[0] != '/')
        return fmugw_error_set(FMUGW_EINVALID, "the blob directory must be an absolute path (file:///abs/dir)");
    fs_store *s = calloc(1, sizeof *s);
    if (!s || !(s->root = strdup(rest))) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    s->base.be = &blob_fs_backend;
    s->root_len = strlen(s->root);
    while (s->root_len > 1 && s->root[s->root_len - 1] == '/')
        s->root[--s->root_len] = '\0';
    if ((rc = mkdir_one(s->root, &created)) != 0)
        goto out;
    if (!(tmp = path_of(s, "tmp"))) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = mkdir_one(tmp, &created)) != 0)
        goto out;
    clean_tmp(tmp);
out:
    free(tmp);
    if (rc != 0) {
        if (s)
            free(s->root);
        free(s);
        return rc;
    }
    *out = &s->base;
    return 0;
}

static void fs_close(blob_store *bs)
{
    fs_store *s = (fs_store *)bs;
    free(s->root);
    free(s);
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Creates ab/ and ab/cd/ under the root, fsyncing each parent that got a
 * new entry so the blob's path survives a crash. */
static int make_blob_dirs(const fs_store *s, const char *key)
{
    char rel[6];
    bool created = false;
    snprintf(rel, sizeof rel, "%.2s", key);
    char *d1 = path_of(s, rel), *d2 = blob_path(s, key, true);
    int rc = d1 && d2 ? 0 : fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    if (rc == 0 && (rc = mkdir_one(d1, &created)) == 0 && created)
        rc = fsync_dir(s->root);
    if (rc == 0 && (rc = mkdir_one(d2, &created)) == 0 && created)
        rc = fsync_dir(d1);
    free(d1);
    free(d2);
    return rc;
}

static int fs_put(char out_key[BLOB_KEY_SIZE], blob_store *bs, blob_read_fn source, void *ctx,
                  const char *expect_sha256, uint64_t max_size)
{
    fs_store *s = (fs_store *)bs;
    int rc = 0, fd = -1;
    char *tmp = NULL, *final = NULL, *dir = NULL, name[64], hex[33], key[BLOB_KEY_SIZE];
    unsigned char rnd[16], md[EVP_MAX_MD_SIZE];
    unsigned char *buf = malloc(CHUNK);
    unsigned int mdlen = 0;
    uint64_t total = 0;
    EVP_MD_CTX *sha = EVP_MD_CTX_new();

    if (!buf || !sha || EVP_DigestInit_ex(sha, EVP_sha256(), NULL) != 1) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
        rc = fmugw_error_set(FMUGW_ERROR, "the random generator failed");
        goto out;
    }
    store__hex(hex, rnd, sizeof rnd);
    snprintf(name, sizeof name, "tmp/put-%ld-%s", (long)getpid(), hex);
    if (!(tmp = path_of(s, name))) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        rc = fmugw_error_set(FMUGW_EIO, "cannot create %s: %s", tmp, strerror(errno));
        goto out;
    }
    for (;;) {
        size_t n = 0;
        if ((rc = source(&n, ctx, buf, CHUNK)) != 0)
            goto out;
        if (n == 0)
            break;
        if (n > CHUNK) {
            rc = fmugw_error_set(FMUGW_EINVALID, "blob source returned more than asked");
            goto out;
        }
        total += n;
        if (max_size && total > max_size) {
            rc = fmugw_error_set(FMUGW_ETOOBIG, "the blob is larger than %llu bytes", (unsigned long long)max_size);
            goto out;
        }
        if (EVP_DigestUpdate(sha, buf, n) != 1) {
            rc = fmugw_error_set(FMUGW_ERROR, "SHA-256 failed");
            goto out;
        }
        if (write_all(fd, buf, n) != 0) {
            rc = fmugw_error_set(FMUGW_EIO, "writing %s: %s", tmp, strerror(errno));
            goto out;
        }
    }
    if (fsync(fd) != 0) {
        rc = fmugw_error_set(FMUGW_EIO, "fsync %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = fmugw_error_set(FMUGW_EIO, "closing %s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (EVP_DigestFinal_ex(sha, md, &mdlen) != 1 || mdlen != 32) {
        rc = fmugw_error_set(FMUGW_ERROR, "SHA-256 failed");
        goto out;
    }
    store__hex(key, md, 32);
    if (expect_sha256 && strcasecmp(expect_sha256, key) != 0) {
        rc = fmugw_error_set(FMUGW_EINVALID, "checksum mismatch: the content's SHA-256 is %s", key);
        goto out;
    }
    if ((rc = make_blob_dirs(s, key)) != 0)
        goto out;
    if (!(final = blob_path(s, key, false)) || !(dir = blob_path(s, key, true))) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    /* Atomic: readers see either no blob or all of it. Same key means same
     * bytes, so replacing an existing blob changes nothing. */
    if (rename(tmp, final) != 0) {
        rc = fmugw_error_set(FMUGW_EIO, "rename to %s: %s", final, strerror(errno));
        goto out;
    }
    free(tmp);
    tmp = NULL; /* nothing left to unlink */
    if ((rc = fsync_dir(dir)) != 0)
        goto out;
    memcpy(out_key, key, BLOB_KEY_SIZE);
out:
    if (fd >= 0)
        close(fd);
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    free(final);
    free(dir);
    free(buf);
    EVP_MD_CTX_free(sha);
    return rc;
}

static int fs_reader_open(blob_reader **out, blob_store *bs, const char *key)
{
    char *path = blob_path((fs_store *)bs, key, false);
    if (!path)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    int rc = 0;
    fs_reader *r = calloc(1, sizeof *r);
    if (!r) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    r->base.be = &blob_fs_backend;
    r->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (r->fd < 0) {
        rc = errno == ENOENT ? fmugw_error_set(FMUGW_ENOTFOUND, "no blob %s", key)
                             : fmugw_error_set(FMUGW_EIO, "cannot open blob %s: %s", key, strerror(errno));
        free(r);
        goto out;
    }
    *out = &r->base;
out:
    free(path);
    return rc;
}

static int fs_read(size_t *out_n, blob_reader *br, void *buf, size_t cap)
{
    fs_reader *r = (fs_reader *)br;
    for (;;) {
        ssize_t n = read(r->fd, buf, cap);
        if (n >= 0) {
            *out_n = (size_t)n;
            return 0;
        }
        if (errno != EINTR)
            return fmugw_error_set(FMUGW_EIO, "reading a blob: %s", strerror(errno));
    }
}

static void fs_reader_close(blob_reader *br)
{
    fs_reader *r = (fs_reader *)br;
    close(r->fd);
    free(r);
}

static int stat_blob(struct stat *st, blob_store *bs, const char *key)
{
    char *path = blob_path((fs_store *)bs, key, false);
    if (!path)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    int rc = 0;
    if (lstat(path, st) != 0)
        rc = errno == ENOENT ? fmugw_error_set(FMUGW_ENOTFOUND, "no blob %s", key)
                             : fmugw_error_set(FMUGW_EIO, "stat blob %s: %s", key, strerror(errno));
    else if (!S_ISREG(st->st_mode))
        rc = fmugw_error_set(FMUGW_EIO, "blob %s is not a regular file", key);
    free(path);
    return rc;
}

static int fs_exists(bool *out, blob_store *bs, const char *key)
{
    struct stat st;
    int rc = stat_blob(&st, bs, key);
    if (rc == FMUGW_ENOTFOUND)
        return 0;
    *out = rc == 0;
    return rc;
}

static int fs_size(uint64_t *out, blob_store *bs, const char *key)
{
    struct stat st;
    int rc = stat_blob(&st, bs, key);
    if (rc == 0)
        *out = (uint64_t)st.st_size;
    return rc;
}

static int fs_del(blob_store *bs, const char *key)
{
    fs_store *s = (fs_store *)bs;
    char *path = blob_path(s, key, false), *dir = blob_path(s, key, true);
    int rc = path && dir ? 0 : fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    if (rc == 0 && unlink(path) != 0)
        rc = errno == ENOENT ? fmugw_error_set(FMUGW_ENOTFOUND, "no blob %s", key)
                             : fmugw_error_set(FMUGW_EIO, "cannot delete blob %s: %s", key, strerror(errno));
    if (rc == 0)
        rc = fsync_dir(dir);
    free(path);
    free(dir);
    return rc;
}

const blob_backend blob_fs_backend = {
    .name = "fs",
    .scheme = "file://",
    .open = fs_open,
    .close = fs_close,
    .put = fs_put,
    .reader_open = fs_reader_open,
    .read = fs_read,
    .reader_close = fs_reader_close,
    .exists = fs_exists,
    .size = fs_size,
    .del = fs_del,
};
