/*
 * fs.c - the local-directory blob backend (see blob.h): blobs at
 * `<root>/ab/cd/<sha256hex>`, written (blob_put_stream, or pushed through a
 * blob_writer) to `<root>/tmp/put-<pid>-<rand>`, fsync'd, renamed into
 * place and the directory fsync'd; random-access reads with pread. Temporaries left
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
#include <pthread.h>
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

/* A put in progress: the temporary file, the running SHA-256 and count.
 *
 * Hashing and writing a large blob costs about as much CPU as producing it
 * (an upload's plaintext SHA-256 and sealing), so once a blob passes one
 * slot the writer hands full slots to a thread of its own, which hashes
 * and writes them while the caller produces the next: a ring of NSLOT
 * slots of SLOT bytes, the caller blocking while all are queued (memory
 * bounded by NSLOT * SLOT whatever the blob size). A blob that fits in one
 * slot never starts the thread. Writeback of the temporary is started
 * every WRITEBACK bytes (sync_file_range, asynchronous) so that the fsync
 * at commit has little left to wait for. */
#define WRITEBACK ((uint64_t)8 << 20)
#define SLOT ((size_t)256 << 10)
#define NSLOT 4

typedef struct {
    struct blob_writer base;
    fs_store *s;
    char *tmp; /* NULL once renamed into place or removed */
    int fd;
    EVP_MD_CTX *sha;     /* the thread's while it runs */
    uint64_t total, max; /* bytes accepted, cap */
    uint64_t written, flushed; /* the thread's while it runs */
    bool dead, committed;
    /* the ring: slots [tail, head) are queued, slot head % NSLOT fills */
    unsigned char *slot[NSLOT];
    size_t slot_len[NSLOT], fill;
    unsigned head, tail;
    bool started, closing, stop;
    int err; /* the thread's first error, its message in errmsg */
    char errmsg[256];
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} fs_writer;

/* Hashes and writes `n` bytes (the thread, or the caller for a blob that
 * never started it). */
static int sink(fs_writer *w, const unsigned char *p, size_t n)
{
    if (EVP_DigestUpdate(w->sha, p, n) != 1)
        return fmugw_error_set(FMUGW_ERROR, "SHA-256 failed");
    if (write_all(w->fd, p, n) != 0)
        return fmugw_error_set(FMUGW_EIO, "writing %s: %s", w->tmp, strerror(errno));
    w->written += n;
    if (w->written - w->flushed >= WRITEBACK) {
        /* only a hint: an error here shows again at the fsync of commit */
        (void)sync_file_range(w->fd, (off_t)w->flushed, (off_t)(w->written - w->flushed), SYNC_FILE_RANGE_WRITE);
        w->flushed = w->written;
    }
    return 0;
}

static void *sink_thread(void *arg)
{
    fs_writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->tail == w->head && !w->closing && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->stop || w->tail == w->head)
            break;
        unsigned i = w->tail % NSLOT;
        pthread_mutex_unlock(&w->mu);
        int rc = sink(w, w->slot[i], w->slot_len[i]);
        pthread_mutex_lock(&w->mu);
        if (rc != 0) {
            w->err = rc;
            snprintf(w->errmsg, sizeof w->errmsg, "%s", fmugw_error_last());
            pthread_cond_broadcast(&w->cv);
            break;
        }
        w->tail++;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Waits for the thread to end (after closing or stop was set). Returns its
 * error, re-raised in this thread. */
static int join_sink(fs_writer *w)
{
    if (!w->started)
        return 0;
    pthread_join(w->th, NULL);
    w->started = false;
    return w->err ? fmugw_error_set(w->err, "%s", w->errmsg) : 0;
}

/* Queues the filling slot; starts the thread at the first one. */
static int push_slot(fs_writer *w)
{
    int rc = 0;
    if (!w->started) {
        for (unsigned i = 0; i < NSLOT; i++)
            if (!w->slot[i] && !(w->slot[i] = malloc(SLOT)))
                return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        if ((rc = pthread_create(&w->th, NULL, sink_thread, w)) != 0)
            return fmugw_error_set(FMUGW_ERROR, "cannot start the blob writer thread: %s", strerror(rc));
        w->started = true;
    }
    pthread_mutex_lock(&w->mu);
    w->slot_len[w->head % NSLOT] = w->fill;
    w->head++;
    pthread_cond_broadcast(&w->cv);
    while (w->head - w->tail >= NSLOT && !w->err)
        pthread_cond_wait(&w->cv, &w->mu);
    rc = w->err;
    pthread_mutex_unlock(&w->mu);
    w->fill = 0;
    return rc ? fmugw_error_set(rc, "%s", w->errmsg) : 0;
}

static void fs_writer_free(blob_writer *bw)
{
    fs_writer *w = (fs_writer *)bw;
    if (w->started) {
        pthread_mutex_lock(&w->mu);
        w->stop = true;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        (void)join_sink(w);
    }
    if (w->fd >= 0)
        close(w->fd);
    if (w->tmp) {
        unlink(w->tmp);
        free(w->tmp);
    }
    EVP_MD_CTX_free(w->sha);
    for (unsigned i = 0; i < NSLOT; i++)
        free(w->slot[i]);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

static int fs_writer_open(blob_writer **out, blob_store *bs, uint64_t max_size)
{
    fs_store *s = (fs_store *)bs;
    char name[64], hex[33];
    unsigned char rnd[16];
    int rc = 0;
    fs_writer *w = calloc(1, sizeof *w);

    if (!w)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    w->base.be = &blob_fs_backend;
    w->s = s;
    w->fd = -1;
    w->max = max_size;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (!(w->sha = EVP_MD_CTX_new()) || EVP_DigestInit_ex(w->sha, EVP_sha256(), NULL) != 1) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
        rc = fmugw_error_set(FMUGW_ERROR, "the random generator failed");
        goto out;
    }
    store__hex(hex, rnd, sizeof rnd);
    snprintf(name, sizeof name, "tmp/put-%ld-%s", (long)getpid(), hex);
    if (!(w->tmp = path_of(s, name))) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (w->fd < 0) {
        rc = fmugw_error_set(FMUGW_EIO, "cannot create %s: %s", w->tmp, strerror(errno));
        free(w->tmp);
        w->tmp = NULL;
        goto out;
    }
out:
    if (rc != 0)
        fs_writer_free(&w->base);
    else
        *out = &w->base;
    return rc;
}

static int fs_writer_write(blob_writer *bw, const void *data, size_t len)
{
    fs_writer *w = (fs_writer *)bw;
    const unsigned char *p = data;
    int rc = 0;
    if (w->dead || w->committed)
        return fmugw_error_set(FMUGW_EINVALID, "the blob writer is closed");
    if (w->max && (len > w->max || w->total > w->max - len)) {
        rc = fmugw_error_set(FMUGW_ETOOBIG, "the blob is larger than %llu bytes", (unsigned long long)w->max);
        goto out;
    }
    w->total += len;
    while (len > 0) {
        if (w->fill == SLOT && (rc = push_slot(w)) != 0)
            goto out;
        unsigned char *dst = w->slot[w->head % NSLOT];
        if (!dst && !(dst = w->slot[w->head % NSLOT] = malloc(SLOT))) {
            rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
            goto out;
        }
        size_t n = SLOT - w->fill < len ? SLOT - w->fill : len;
        memcpy(dst + w->fill, p, n);
        w->fill += n;
        p += n;
        len -= n;
    }
out:
    if (rc != 0)
        w->dead = true;
    return rc;
}

/* fs_writer_commit; with `expect_sha256`, a different key is
 * FMUGW_EINVALID and nothing becomes visible. */
static int commit(char out_key[BLOB_KEY_SIZE], fs_writer *w, const char *expect_sha256)
{
    fs_store *s = w->s;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char key[BLOB_KEY_SIZE], *final = NULL, *dir = NULL;
    int rc = 0;
    struct stat st;

    if (w->dead || w->committed)
        return fmugw_error_set(FMUGW_EINVALID, "the blob writer is closed");
    w->committed = true; /* whatever happens: nothing more goes in */
    /* the last, partial slot: to the thread if it runs, else here */
    if (w->started) {
        if (w->fill > 0 && (rc = push_slot(w)) != 0)
            goto out;
        pthread_mutex_lock(&w->mu);
        w->closing = true;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        if ((rc = join_sink(w)) != 0)
            goto out;
    } else if (w->fill > 0) {
        if ((rc = sink(w, w->slot[w->head % NSLOT], w->fill)) != 0)
            goto out;
        w->fill = 0;
    }
    if (EVP_DigestFinal_ex(w->sha, md, &mdlen) != 1 || mdlen != 32) {
        rc = fmugw_error_set(FMUGW_ERROR, "SHA-256 failed");
        goto out;
    }
    store__hex(key, md, 32);
    if (expect_sha256 && strcasecmp(expect_sha256, key) != 0) {
        rc = fmugw_error_set(FMUGW_EINVALID, "checksum mismatch: the content's SHA-256 is %s", key);
        goto out;
    }
    if (fsync(w->fd) != 0) {
        rc = fmugw_error_set(FMUGW_EIO, "fsync %s: %s", w->tmp, strerror(errno));
        goto out;
    }
    int fd = w->fd;
    w->fd = -1;
    if (close(fd) != 0) {
        rc = fmugw_error_set(FMUGW_EIO, "closing %s: %s", w->tmp, strerror(errno));
        goto out;
    }
    if (!(final = blob_path(s, key, false)) || !(dir = blob_path(s, key, true))) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    if (lstat(final, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == w->written) {
        /* the same content is stored already (durably: its put fsync'd
         * it): drop ours */
        unlink(w->tmp);
        free(w->tmp);
        w->tmp = NULL;
        memcpy(out_key, key, BLOB_KEY_SIZE);
        goto out;
    }
    if ((rc = make_blob_dirs(s, key)) != 0)
        goto out;
    /* Atomic: readers see either no blob or all of it. Same key means same
     * bytes, so replacing an existing blob changes nothing. */
    if (rename(w->tmp, final) != 0) {
        rc = fmugw_error_set(FMUGW_EIO, "rename to %s: %s", final, strerror(errno));
        goto out;
    }
    free(w->tmp);
    w->tmp = NULL; /* nothing left to unlink */
    if ((rc = fsync_dir(dir)) != 0)
        goto out;
    memcpy(out_key, key, BLOB_KEY_SIZE);
out:
    if (rc != 0)
        w->dead = true;
    free(final);
    free(dir);
    return rc;
}

static int fs_writer_commit(char out_key[BLOB_KEY_SIZE], blob_writer *bw)
{
    return commit(out_key, (fs_writer *)bw, NULL);
}

static int fs_put(char out_key[BLOB_KEY_SIZE], blob_store *bs, blob_read_fn source, void *ctx,
                  const char *expect_sha256, uint64_t max_size)
{
    blob_writer *w = NULL;
    unsigned char *buf = malloc(CHUNK);
    int rc;

    if (!buf) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = fs_writer_open(&w, bs, max_size)) != 0)
        goto out;
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
        if ((rc = fs_writer_write(w, buf, n)) != 0)
            goto out;
    }
    rc = commit(out_key, (fs_writer *)w, expect_sha256);
out:
    if (w)
        fs_writer_free(w);
    free(buf);
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

static int fs_read_at(size_t *out_n, blob_reader *br, uint64_t off, void *buf, size_t cap)
{
    fs_reader *r = (fs_reader *)br;
    size_t got = 0;
    while (got < cap) {
        ssize_t n = pread(r->fd, (char *)buf + got, cap - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fmugw_error_set(FMUGW_EIO, "reading a blob: %s", strerror(errno));
        if (n == 0)
            break;
        got += (size_t)n;
    }
    *out_n = got;
    return 0;
}

static int fs_reader_size(uint64_t *out, blob_reader *br)
{
    fs_reader *r = (fs_reader *)br;
    struct stat st;
    if (fstat(r->fd, &st) != 0)
        return fmugw_error_set(FMUGW_EIO, "stat of a blob: %s", strerror(errno));
    *out = (uint64_t)st.st_size;
    return 0;
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
    .writer_open = fs_writer_open,
    .writer_write = fs_writer_write,
    .writer_commit = fs_writer_commit,
    .writer_free = fs_writer_free,
    .reader_open = fs_reader_open,
    .read = fs_read,
    .read_at = fs_read_at,
    .reader_size = fs_reader_size,
    .reader_close = fs_reader_close,
    .exists = fs_exists,
    .size = fs_size,
    .del = fs_del,
};
