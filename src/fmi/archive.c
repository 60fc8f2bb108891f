/*
 * archive.c - safe extraction of FMU zip files (see archive.h).
 *
 * Two passes: the first checks every entry (name, type, encryption, declared
 * sizes and ratio, paths that collide) before anything touches the disk; the second creates the
 * target directory and writes the entries through openat()/mkdirat()
 * relative to directory descriptors, never following a symlink, counting the
 * real inflated bytes against the same caps. Any failure removes the target
 * directory if this file created it. The archive is a file, or any
 * random-access source through a libzip source callback (a sealed blob);
 * a filter may limit pass 2 to some entries. What lives elsewhere: loading the
 * binaries (instance.c), parsing the XML (model.c).
 */
#include "fmi/archive.h"

#include "util/error.h"
#include "util/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#define RATIO_MIN_SIZE ((uint64_t)1 << 20) /* ratio checked above 1 MiB (of an entry, and of the archive) */
#define MAX_DEPTH 64                        /* path components per entry */
#define MAX_PATH_LEN 1024                   /* bytes of an entry's path: trees stay well within PATH_MAX */
#define CHUNK (64 * 1024)

typedef enum { ENTRY_FILE, ENTRY_DIR } entry_kind;

/* Copies `name` into `buf` for a message: control bytes become '?', long
 * names are cut with "...". */
static const char *quote_name(char *buf, size_t size, const char *name)
{
    size_t n = 0;
    for (const char *p = name; *p && n + 4 < size; p++)
        buf[n++] = ((unsigned char)*p < 0x20 || *p == 0x7f) ? '?' : *p;
    if (n + 4 >= size && name[n])
        memcpy(buf + n, "...", 3), n += 3;
    buf[n] = '\0';
    return buf;
}

/* Checks an entry name: relative, no "..", no backslash, no drive letter,
 * no control characters, not empty, not too deep. */
static int check_name(const char *name, const char *raw)
{
    char q[256];
    quote_name(q, sizeof q, name);
    if (name[0] == '\0')
        return fmugw_error_set(FMUGW_EUNSAFE, "unsafe entry \"\": empty name");
    if (name[0] == '/')
        return fmugw_error_set(FMUGW_EUNSAFE, "unsafe entry \"%s\": absolute path", q);
    if (strchr(name, '\\'))
        return fmugw_error_set(FMUGW_EUNSAFE, "unsafe entry \"%s\": backslash in path", q);
    if (((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z')) && name[1] == ':')
        return fmugw_error_set(FMUGW_EUNSAFE, "unsafe entry \"%s\": drive letter in path", q);
    /* libzip shows CP437 control bytes as symbols: check the raw bytes too */
    for (const char *p = raw; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return fmugw_error_set(FMUGW_EUNSAFE, "unsafe entry \"%s\": control character in name",
                                   quote_name(q, sizeof q, raw));
    for (const char *p = name; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return fmugw_error_set(FMUGW_EUNSAFE, "unsafe entry \"%s\": control character in name", q);
    if (strlen(name) > MAX_PATH_LEN)
        return fmugw_error_set(FMUGW_EUNSAFE, "unsafe entry \"%s\": path longer than %d bytes", q, MAX_PATH_LEN);
    int depth = 0, real = 0;
    const char *p = name;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return fmugw_error_set(FMUGW_EUNSAFE, "unsafe entry \"%s\": path escapes the FMU directory", q);
        if (len > NAME_MAX)
            return fmugw_error_set(FMUGW_EUNSAFE, "unsafe entry \"%s\": path component too long", q);
        if (len > 0 && !(len == 1 && p[0] == '.'))
            real++;
        if (++depth > MAX_DEPTH)
            return fmugw_error_set(FMUGW_EUNSAFE, "unsafe entry \"%s\": path too deep", q);
        p += len;
        if (*p == '/')
            p++;
    }
    if (real == 0)
        return fmugw_error_set(FMUGW_EUNSAFE, "unsafe entry \"%s\": empty path", q);
    return 0;
}

/* Classifies an entry from its name and external attributes; refuses
 * symlinks and other special files. */
static int entry_type(entry_kind *out, zip_t *za, zip_uint64_t i, const char *name)
{
    char q[256];
    zip_uint8_t opsys = 0;
    zip_uint32_t attr = 0;
    size_t len = strlen(name);
    bool slash = len > 0 && name[len - 1] == '/';
    if (zip_file_get_external_attributes(za, i, 0, &opsys, &attr) != 0)
        return fmugw_error_set(FMUGW_EIO, "entry \"%s\": cannot read attributes: %s",
                               quote_name(q, sizeof q, name), zip_strerror(za));
    if (opsys == ZIP_OPSYS_UNIX) {
        mode_t mode = (mode_t)(attr >> 16);
        if (S_ISLNK(mode))
            return fmugw_error_set(FMUGW_EUNSAFE, "entry \"%s\" is a symbolic link", quote_name(q, sizeof q, name));
        if (S_ISDIR(mode)) {
            *out = ENTRY_DIR;
            return 0;
        }
        if ((mode & S_IFMT) != 0 && !S_ISREG(mode))
            return fmugw_error_set(FMUGW_EUNSAFE, "entry \"%s\" is not a regular file or directory (mode %06o)",
                                   quote_name(q, sizeof q, name), (unsigned)mode);
    }
    *out = slash ? ENTRY_DIR : ENTRY_FILE;
    return 0;
}

static bool over_ratio(uint64_t size, uint64_t comp, double max_ratio, double *ratio)
{
    if (size <= RATIO_MIN_SIZE)
        return false;
    *ratio = (double)size / (double)(comp ? comp : 1);
    return *ratio > max_ratio;
}

static uint16_t rd16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const unsigned char *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

/* Where the raw reader gets the archive's bytes: a file descriptor (pread)
 * or a caller's fmi_archive_source. */
typedef struct {
    int fd;
    const fmi_archive_source *src;
    uint64_t size;
} raw_input;

/* Reads exactly `len` bytes at `off`; false on a short read or error. */
static bool raw_read(const raw_input *in, uint64_t off, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        size_t n = 0;
        if (in->src) {
            if (in->src->read_at(in->src->ctx, off + got, (char *)buf + got, len - got, &n) != 0)
                return false;
        } else {
            ssize_t r = pread(in->fd, (char *)buf + got, len - got, (off_t)(off + got));
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                return false;
            n = (size_t)r;
        }
        if (n == 0)
            return false;
        got += n;
    }
    return true;
}

/* libzip turns NUL bytes inside names into spaces, so the only way to see
 * them is the central directory itself. Scans the raw names of up to
 * `max` records; an archive whose layout this simple reader does not follow
 * (a prefix, a broken record) is left to libzip, which already opened it. */
static int check_raw_names(const raw_input *in, uint64_t max)
{
    int rc = 0;
    unsigned char *tail = NULL, *name = NULL;
    if (in->size < 22)
        goto out;
    uint64_t size = in->size;
    size_t tn = size < 65557 ? (size_t)size : 65557;
    tail = malloc(tn);
    name = malloc(65536);
    if (!tail || !name) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    if (!raw_read(in, size - tn, tail, tn))
        goto out;
    size_t e = tn - 22 + 1;
    while (e-- > 0)
        if (rd32(tail + e) == 0x06054b50)
            break;
    if (e == (size_t)-1)
        goto out;
    uint64_t count = rd16(tail + e + 10), cd_off = rd32(tail + e + 16);
    if ((count == 0xffff || cd_off == 0xffffffffu) && e >= 20 && rd32(tail + e - 20) == 0x07064b50) {
        unsigned char z[56];
        uint64_t zoff = rd64(tail + e - 20 + 8);
        if (!raw_read(in, zoff, z, sizeof z) || rd32(z) != 0x06064b50)
            goto out;
        count = rd64(z + 32);
        cd_off = rd64(z + 48);
    }
    if (count > max)
        goto out;
    uint64_t at = cd_off;
    for (uint64_t i = 0; i < count; i++) {
        unsigned char h[46];
        if (!raw_read(in, at, h, sizeof h) || rd32(h) != 0x02014b50)
            goto out;
        size_t nl = rd16(h + 28);
        if (!raw_read(in, at + sizeof h, name, nl))
            goto out;
        if (memchr(name, 0, nl)) {
            char q[256];
            for (size_t k = 0; k < nl; k++)
                if (name[k] == 0)
                    name[k] = '?';
            name[nl] = '\0';
            rc = fmugw_error_set(FMUGW_EUNSAFE, "unsafe entry \"%s\": NUL byte in name",
                                 quote_name(q, sizeof q, (const char *)name));
            goto out;
        }
        at += sizeof h + nl + rd16(h + 30) + rd16(h + 32);
    }
out:
    free(tail);
    free(name);
    return rc;
}

/* The path an entry lands on: "." and empty components dropped, no
 * trailing slash (what make_parents does while creating it). malloc'd. */
static char *normalize(const char *name)
{
    size_t len = strlen(name), n = 0;
    char *out = malloc(len + 1);
    if (!out)
        return NULL;
    const char *p = name;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t cl = e ? (size_t)(e - p) : strlen(p);
        if (cl > 0 && !(cl == 1 && p[0] == '.')) {
            if (n > 0)
                out[n++] = '/';
            memcpy(out + n, p, cl);
            n += cl;
        }
        p += cl;
        if (*p == '/')
            p++;
    }
    out[n] = '\0';
    return out;
}

typedef struct {
    char *path; /* normalized */
    bool dir;
} norm_entry;

/* Orders paths component by component ('/' below every other byte), so
 * that "a" is directly followed by the paths under "a/". */
static int norm_cmp(const void *pa, const void *pb)
{
    const unsigned char *a = (const unsigned char *)((const norm_entry *)pa)->path,
                        *b = (const unsigned char *)((const norm_entry *)pb)->path;
    for (;; a++, b++) {
        unsigned ca = *a == '/' ? 1 : *a, cb = *b == '/' ? 1 : *b;
        if (ca != cb || ca == 0)
            return (int)ca - (int)cb;
    }
}

/* Refuses two entries with the same path unless both are directories, and
 * a file whose path another entry uses as a directory: extraction refuses
 * both (O_EXCL, ENOTDIR); this finds them from the central directory. */
static int check_collisions(norm_entry *v, size_t n)
{
    char q[256];
    qsort(v, n, sizeof *v, norm_cmp);
    for (size_t i = 0; i + 1 < n; i++) {
        const char *a = v[i].path, *b = v[i + 1].path;
        size_t la = strlen(a);
        if (strcmp(a, b) == 0 && !(v[i].dir && v[i + 1].dir))
            return fmugw_error_set(FMUGW_EUNSAFE, "entry \"%s\": duplicate entry", quote_name(q, sizeof q, b));
        if (!v[i].dir && strncmp(a, b, la) == 0 && b[la] == '/')
            return fmugw_error_set(FMUGW_EUNSAFE, "entry \"%s\": \"%s\" is a file, not a directory",
                                   quote_name(q, sizeof q, b), a);
    }
    return 0;
}

/* One entry of pass 1; *ne gets its normalized path and kind (its path is
 * malloc'd even when the check fails, for the caller to free). */
static int check_entry(zip_t *za, zip_int64_t i, const fmi_archive_limits *lim, uint64_t *total, uint64_t *comp,
                       norm_entry *ne)
{
    zip_stat_t st;
    entry_kind kind;
    char q[256];
    int rc;
    zip_stat_init(&st);
    if (zip_stat_index(za, (zip_uint64_t)i, 0, &st) != 0 || !(st.valid & ZIP_STAT_NAME))
        return fmugw_error_set(FMUGW_EINVALID, "not a zip file: entry %lld unreadable: %s", (long long)i,
                               zip_strerror(za));
    const char *raw = zip_get_name(za, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
    if ((rc = check_name(st.name, raw ? raw : st.name)) != 0)
        return rc;
    if ((rc = entry_type(&kind, za, (zip_uint64_t)i, st.name)) != 0)
        return rc;
    if (!(ne->path = normalize(st.name)))
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    ne->dir = kind == ENTRY_DIR;
    quote_name(q, sizeof q, st.name);
    if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE)
        return fmugw_error_set(FMUGW_EUNSAFE, "entry \"%s\" is encrypted", q);
    if (!(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_COMP_SIZE))
        return fmugw_error_set(FMUGW_EINVALID, "entry \"%s\" has no size", q);
    if (kind == ENTRY_DIR)
        return 0;
    if (st.size > lim->max_total_size || *total > lim->max_total_size - st.size)
        return fmugw_error_set(FMUGW_ETOOBIG, "entry \"%s\": total uncompressed size over the limit of %llu bytes", q,
                               (unsigned long long)lim->max_total_size);
    *total += st.size;
    *comp += st.comp_size;
    double ratio;
    if (over_ratio(st.size, st.comp_size, lim->max_ratio, &ratio))
        return fmugw_error_set(FMUGW_ETOOBIG, "zip bomb: entry \"%s\" expands %.0fx", q, ratio);
    return 0;
}

/* Pass 1: everything that can be decided from the central directory.
 * Besides each entry's own ratio, the archive's: the declared sizes of all
 * entries against their compressed sizes (never more than the archive's
 * `archive_size` bytes, when known, so a header cannot claim compressed
 * bytes the file does not have), so that many entries each at or below
 * the per-entry threshold cannot add up to a bomb. */
static int check_entries(zip_t *za, zip_int64_t n, const fmi_archive_limits *lim, uint64_t archive_size)
{
    uint64_t total = 0, comp = 0;
    int rc = 0;
    size_t nv = 0;
    norm_entry *v = calloc((size_t)n + 1, sizeof *v);
    if (!v)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    for (zip_int64_t i = 0; i < n && rc == 0; i++)
        rc = check_entry(za, i, lim, &total, &comp, &v[nv++]);
    double ratio;
    if (rc == 0 && archive_size && comp > archive_size)
        comp = archive_size;
    if (rc == 0 && over_ratio(total, comp, lim->max_ratio, &ratio))
        rc = fmugw_error_set(FMUGW_ETOOBIG,
                             "zip bomb: the archive expands %.0fx (%llu bytes from %llu compressed; the limit is %.0fx)",
                             ratio, (unsigned long long)total, (unsigned long long)comp, lim->max_ratio);
    if (rc == 0)
        rc = check_collisions(v, nv);
    for (size_t i = 0; i < nv; i++)
        free(v[i].path);
    free(v);
    return rc;
}

/* Opens (creating when missing) the directory `comp` below `dfd`; never
 * follows a symlink. Returns the new descriptor or -1 with errno. */
static int open_subdir(int dfd, const char *comp)
{
    if (mkdirat(dfd, comp, 0700) != 0 && errno != EEXIST)
        return -1;
    return openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* Walks the directory components of `name` below `root`, creating them;
 * *out_dfd gets the parent of the last component (dup of root if none) and
 * *out_base points at the last component inside `buf`. */
static int make_parents(int *out_dfd, char **out_base, int root, char *buf, const char *q)
{
    int dfd = dup(root);
    if (dfd < 0)
        return fmugw_error_set(FMUGW_EIO, "entry \"%s\": %s", q, strerror(errno));
    char *p = buf;
    for (;;) {
        while (*p == '/')
            p++;
        char *e = strchr(p, '/');
        if (!e)
            break;
        /* "a/b/" (directory entry) leaves an empty last component */
        *e = '\0';
        if (!(p[0] == '.' && p[1] == '\0')) {
            int nd = open_subdir(dfd, p);
            if (nd < 0) {
                int err = errno;
                close(dfd);
                return fmugw_error_set(err == ELOOP || err == ENOTDIR ? FMUGW_EUNSAFE : FMUGW_EIO,
                                       "entry \"%s\": cannot create directory \"%s\": %s", q, p, strerror(err));
            }
            close(dfd);
            dfd = nd;
        }
        p = e + 1;
    }
    *out_dfd = dfd;
    *out_base = p;
    return 0;
}

static int write_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Pass 2 for one entry. `total` is the running count of written bytes. */
static int extract_entry(zip_t *za, zip_uint64_t i, int root, const fmi_archive_limits *lim, uint64_t *total,
                         char *chunk)
{
    int rc = 0, dfd = -1, fd = -1;
    zip_file_t *zf = NULL;
    char *buf = NULL, *base = NULL;
    char q[256];
    zip_stat_t st;
    entry_kind kind;

    zip_stat_init(&st);
    if (zip_stat_index(za, i, 0, &st) != 0)
        return fmugw_error_set(FMUGW_EIO, "entry %llu: %s", (unsigned long long)i, zip_strerror(za));
    quote_name(q, sizeof q, st.name);
    if ((rc = entry_type(&kind, za, i, st.name)) != 0)
        return rc;
    size_t len = strlen(st.name);
    buf = malloc(len + 2);
    if (!buf)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    memcpy(buf, st.name, len + 1);
    if (kind == ENTRY_DIR && (len == 0 || buf[len - 1] != '/'))
        buf[len] = '/', buf[len + 1] = '\0';
    if ((rc = make_parents(&dfd, &base, root, buf, q)) != 0)
        goto out;
    if (kind == ENTRY_DIR || base[0] == '\0' || (base[0] == '.' && base[1] == '\0'))
        goto out; /* directories were made by make_parents */

    fd = openat(dfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        int err = errno;
        rc = fmugw_error_set(err == EEXIST || err == ELOOP ? FMUGW_EUNSAFE : FMUGW_EIO, "entry \"%s\": %s%s", q,
                             err == EEXIST ? "duplicate entry: " : "", strerror(err));
        goto out;
    }
    zf = zip_fopen_index(za, i, 0);
    if (!zf) {
        rc = fmugw_error_set(FMUGW_EIO, "entry \"%s\": cannot open: %s", q, zip_strerror(za));
        goto out;
    }
    uint64_t written = 0;
    for (;;) {
        zip_int64_t r = zip_fread(zf, chunk, CHUNK);
        if (r < 0) {
            rc = fmugw_error_set(FMUGW_EIO, "entry \"%s\": cannot inflate: %s", q, zip_file_strerror(zf));
            goto out;
        }
        if (r == 0)
            break;
        written += (uint64_t)r;
        *total += (uint64_t)r;
        double ratio;
        if (written > st.size) {
            rc = fmugw_error_set(FMUGW_ETOOBIG, "entry \"%s\" inflates past its declared size of %llu bytes", q,
                                 (unsigned long long)st.size);
            goto out;
        }
        if (*total > lim->max_total_size) {
            rc = fmugw_error_set(FMUGW_ETOOBIG, "entry \"%s\": total uncompressed size over the limit of %llu bytes",
                                 q, (unsigned long long)lim->max_total_size);
            goto out;
        }
        if (over_ratio(written, st.comp_size, lim->max_ratio, &ratio)) {
            rc = fmugw_error_set(FMUGW_ETOOBIG, "zip bomb: entry \"%s\" expands %.0fx", q, ratio);
            goto out;
        }
        if (write_all(fd, chunk, (size_t)r) != 0) {
            rc = fmugw_error_set(FMUGW_EIO, "entry \"%s\": write failed: %s", q, strerror(errno));
            goto out;
        }
    }
    if (written != st.size) {
        rc = fmugw_error_set(FMUGW_EIO, "entry \"%s\" is truncated (%llu of %llu bytes)", q,
                             (unsigned long long)written, (unsigned long long)st.size);
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = fmugw_error_set(FMUGW_EIO, "entry \"%s\": write failed: %s", q, strerror(errno));
        goto out;
    }
    fd = -1;
out:
    if (zf)
        zip_fclose(zf);
    if (fd >= 0)
        close(fd);
    if (dfd >= 0)
        close(dfd);
    free(buf);
    return rc;
}

static int open_zip_error(int zerr, const char *name);

static int open_zip(zip_t **out, const char *zip_path)
{
    int zerr = 0;
    zip_t *za = zip_open(zip_path, ZIP_RDONLY, &zerr);
    if (za) {
        *out = za;
        return 0;
    }
    return open_zip_error(zerr, zip_path);
}

/* ---- a libzip source over fmi_archive_source ----------------------------- */

typedef struct {
    const fmi_archive_source *src;
    uint64_t pos;
    zip_error_t err;
} cb_source;

static zip_int64_t source_cb(void *ud, void *data, zip_uint64_t len, zip_source_cmd_t cmd)
{
    cb_source *s = ud;
    switch (cmd) {
    case ZIP_SOURCE_OPEN:
        s->pos = 0;
        return 0;
    case ZIP_SOURCE_READ: {
        if (s->pos >= s->src->size || len == 0)
            return 0;
        size_t want = len > s->src->size - s->pos ? (size_t)(s->src->size - s->pos) : (size_t)len, n = 0;
        if (want > ((size_t)1 << 30))
            want = (size_t)1 << 30;
        if (s->src->read_at(s->src->ctx, s->pos, data, want, &n) != 0) {
            zip_error_set(&s->err, ZIP_ER_READ, EIO);
            return -1;
        }
        s->pos += n;
        return (zip_int64_t)n;
    }
    case ZIP_SOURCE_CLOSE:
        return 0;
    case ZIP_SOURCE_STAT: {
        zip_stat_t *st = ZIP_SOURCE_GET_ARGS(zip_stat_t, data, len, &s->err);
        if (!st)
            return -1;
        zip_stat_init(st);
        st->size = s->src->size;
        st->comp_size = s->src->size;
        st->comp_method = ZIP_CM_STORE;
        st->encryption_method = ZIP_EM_NONE;
        st->valid = ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD | ZIP_STAT_ENCRYPTION_METHOD;
        return sizeof *st;
    }
    case ZIP_SOURCE_ERROR:
        return zip_error_to_data(&s->err, data, len);
    case ZIP_SOURCE_FREE:
        zip_error_fini(&s->err);
        free(s);
        return 0;
    case ZIP_SOURCE_SEEK: {
        zip_int64_t at = zip_source_seek_compute_offset(s->pos, s->src->size, data, len, &s->err);
        if (at < 0)
            return -1;
        s->pos = (uint64_t)at;
        return 0;
    }
    case ZIP_SOURCE_TELL:
        return (zip_int64_t)s->pos;
    case ZIP_SOURCE_ACCEPT_EMPTY:
        return 0; /* an empty file is not a zip (as for zip_open) */
    case ZIP_SOURCE_SUPPORTS:
        return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE, ZIP_SOURCE_STAT,
                                              ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE, ZIP_SOURCE_SEEK, ZIP_SOURCE_TELL,
                                              ZIP_SOURCE_ACCEPT_EMPTY, ZIP_SOURCE_SUPPORTS, -1);
    default:
        zip_error_set(&s->err, ZIP_ER_OPNOTSUPP, 0);
        return -1;
    }
}

static int open_zip_error(int zerr, const char *name)
{
    zip_error_t ze;
    zip_error_init_with_code(&ze, zerr);
    int code = FMUGW_EIO;
    if (zerr == ZIP_ER_NOZIP || zerr == ZIP_ER_INCONS)
        code = FMUGW_EINVALID;
    else if (zerr == ZIP_ER_NOENT)
        code = FMUGW_ENOTFOUND;
    if (code == FMUGW_EINVALID)
        fmugw_error_set(code, "not a zip file: %s: %s", name, zip_error_strerror(&ze));
    else
        fmugw_error_set(code, "cannot open %s: %s", name, zip_error_strerror(&ze));
    zip_error_fini(&ze);
    return code;
}

static int open_zip_source(zip_t **out, const fmi_archive_source *src)
{
    zip_error_t ze;
    cb_source *s = calloc(1, sizeof *s);
    if (!s)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    s->src = src;
    zip_error_init(&s->err);
    zip_error_init(&ze);
    zip_source_t *zs = zip_source_function_create(source_cb, s, &ze);
    if (!zs) {
        zip_error_fini(&s->err);
        free(s);
        zip_error_fini(&ze);
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    }
    zip_t *za = zip_open_from_source(zs, ZIP_RDONLY, &ze);
    if (!za) {
        int zerr = zip_error_code_zip(&ze);
        zip_error_fini(&ze);
        zip_source_free(zs); /* frees s through ZIP_SOURCE_FREE */
        return open_zip_error(zerr, src->name ? src->name : "archive");
    }
    zip_error_fini(&ze);
    *out = za;
    return 0;
}

/* The shared body of the entry points: `zip_path` or `src` is the archive.
 * When `create` the target must not exist and is created here; either way
 * it is removed on failure. Entries `want` refuses are checked only. */
static int extract(const char *zip_path, const fmi_archive_source *src, const char *target_dir,
                   const fmi_archive_limits *limits, bool create, fmi_archive_want_fn want, void *want_ctx)
{
    fmi_archive_limits lim = FMI_ARCHIVE_LIMITS_INIT;
    int rc = 0, root = -1;
    bool made = !create; /* a temporary directory is ours from the start */
    zip_t *za = NULL;
    char *chunk = NULL;
    uint64_t total = 0;
    raw_input in = { .fd = -1, .src = src, .size = src ? src->size : 0 };

    if (limits)
        lim = *limits;
    if ((rc = src ? open_zip_source(&za, src) : open_zip(&za, zip_path)) != 0)
        goto out;
    zip_int64_t n = zip_get_num_entries(za, 0);
    if (n < 0) {
        rc = fmugw_error_set(FMUGW_EINVALID, "not a zip file: %s: no central directory",
                             src ? (src->name ? src->name : "archive") : zip_path);
        goto out;
    }
    if ((uint64_t)n > lim.max_entries) {
        rc = fmugw_error_set(FMUGW_ETOOBIG, "too many entries (%lld > %zu)", (long long)n, lim.max_entries);
        goto out;
    }
    if (!src) {
        struct stat st;
        if ((in.fd = open(zip_path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(in.fd, &st) != 0) {
            rc = fmugw_error_set(FMUGW_EIO, "cannot open %s: %s", zip_path, strerror(errno));
            goto out;
        }
        in.size = (uint64_t)st.st_size;
    }
    if ((rc = check_raw_names(&in, lim.max_entries)) != 0 || (rc = check_entries(za, n, &lim, in.size)) != 0)
        goto out;

    if (create) {
        if (mkdir(target_dir, 0700) != 0) {
            rc = fmugw_error_set(FMUGW_EIO, "cannot create %s: %s", target_dir, strerror(errno));
            goto out;
        }
    }
    made = true;
    root = open(target_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (root < 0) {
        rc = fmugw_error_set(FMUGW_EIO, "cannot open %s: %s", target_dir, strerror(errno));
        goto out;
    }
    chunk = malloc(CHUNK);
    if (!chunk) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    for (zip_int64_t i = 0; i < n; i++) {
        if (want) {
            const char *name = zip_get_name(za, (zip_uint64_t)i, 0);
            char *path = name ? normalize(name) : NULL;
            entry_kind kind = ENTRY_FILE;
            if (!path) {
                rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
                goto out;
            }
            rc = entry_type(&kind, za, (zip_uint64_t)i, name);
            bool take = rc == 0 && want(path, kind == ENTRY_DIR, want_ctx);
            free(path);
            if (rc != 0)
                goto out;
            if (!take)
                continue;
        }
        if ((rc = extract_entry(za, (zip_uint64_t)i, root, &lim, &total, chunk)) != 0)
            goto out;
    }
out:
    free(chunk);
    if (in.fd >= 0)
        close(in.fd);
    if (root >= 0)
        close(root);
    if (za)
        zip_discard(za);
    if (rc != 0 && made) {
        char saved[1024];
        snprintf(saved, sizeof saved, "%s", fmugw_error_last());
        fmugw_rmtree(target_dir);
        fmugw_error_set(rc, "%s", saved);
    }
    return rc;
}

int fmi_archive_extract(const char *zip_path, const char *target_dir, const fmi_archive_limits *limits)
{
    return extract(zip_path, NULL, target_dir, limits, true, NULL, NULL);
}

int fmi_archive_extract_temp(char **out_dir, const char *zip_path, const fmi_archive_limits *limits)
{
    char *dir = NULL;
    int rc = fmugw_mkdtemp(&dir, "fmugw-fmu-");
    if (rc != 0)
        return rc;
    rc = extract(zip_path, NULL, dir, limits, false, NULL, NULL);
    if (rc != 0) {
        free(dir); /* extract() removed it */
        return rc;
    }
    *out_dir = dir;
    return 0;
}

int fmi_archive_extract_source(const fmi_archive_source *src, const char *target_dir, const fmi_archive_limits *limits,
                               fmi_archive_want_fn want, void *want_ctx)
{
    return extract(NULL, src, target_dir, limits, true, want, want_ctx);
}
