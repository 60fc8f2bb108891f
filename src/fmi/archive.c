/*
 * archive.c - safe extraction of FMU zip files (see archive.h).
 *
 * Two passes: the first checks every entry (name, type, encryption, declared
 * sizes and ratio) before anything touches the disk; the second creates the
 * target directory and writes the entries through openat()/mkdirat()
 * relative to directory descriptors, never following a symlink, counting the
 * real inflated bytes against the same caps. Any failure removes the target
 * directory if this file created it. What lives elsewhere: loading the
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

#define RATIO_MIN_SIZE ((uint64_t)1 << 20) /* ratio checked only above 1 MiB */
#define MAX_DEPTH 64                        /* path components per entry */
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

/* libzip turns NUL bytes inside names into spaces, so the only way to see
 * them is the central directory itself. Scans the raw names of up to
 * `max` records; an archive whose layout this simple reader does not follow
 * (a prefix, a broken record) is left to libzip, which already opened it. */
static int check_raw_names(const char *zip_path, uint64_t max)
{
    int rc = 0;
    FILE *f = fopen(zip_path, "rb");
    unsigned char *tail = NULL, *name = NULL;
    if (!f)
        return fmugw_error_set(FMUGW_EIO, "cannot open %s: %s", zip_path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || st.st_size < 22)
        goto out;
    uint64_t size = (uint64_t)st.st_size;
    size_t tn = size < 65557 ? (size_t)size : 65557;
    tail = malloc(tn);
    name = malloc(65536);
    if (!tail || !name) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    if (fseeko(f, (off_t)(size - tn), SEEK_SET) != 0 || fread(tail, 1, tn, f) != tn)
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
        if (fseeko(f, (off_t)zoff, SEEK_SET) != 0 || fread(z, 1, sizeof z, f) != sizeof z || rd32(z) != 0x06064b50)
            goto out;
        count = rd64(z + 32);
        cd_off = rd64(z + 48);
    }
    if (count > max || fseeko(f, (off_t)cd_off, SEEK_SET) != 0)
        goto out;
    for (uint64_t i = 0; i < count; i++) {
        unsigned char h[46];
        if (fread(h, 1, sizeof h, f) != sizeof h || rd32(h) != 0x02014b50)
            goto out;
        size_t nl = rd16(h + 28);
        if (fread(name, 1, nl, f) != nl)
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
        if (fseeko(f, (off_t)rd16(h + 30) + rd16(h + 32), SEEK_CUR) != 0)
            goto out;
    }
out:
    free(tail);
    free(name);
    fclose(f);
    return rc;
}

/* Pass 1: everything that can be decided from the central directory. */
static int check_entries(zip_t *za, zip_int64_t n, const fmi_archive_limits *lim)
{
    uint64_t total = 0;
    char q[256];
    for (zip_int64_t i = 0; i < n; i++) {
        zip_stat_t st;
        entry_kind kind;
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
        quote_name(q, sizeof q, st.name);
        if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE)
            return fmugw_error_set(FMUGW_EUNSAFE, "entry \"%s\" is encrypted", q);
        if (!(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_COMP_SIZE))
            return fmugw_error_set(FMUGW_EINVALID, "entry \"%s\" has no size", q);
        if (kind == ENTRY_DIR)
            continue;
        if (st.size > lim->max_total_size || total > lim->max_total_size - st.size)
            return fmugw_error_set(FMUGW_ETOOBIG, "entry \"%s\": total uncompressed size over the limit of %llu bytes",
                                   q, (unsigned long long)lim->max_total_size);
        total += st.size;
        double ratio;
        if (over_ratio(st.size, st.comp_size, lim->max_ratio, &ratio))
            return fmugw_error_set(FMUGW_ETOOBIG, "zip bomb: entry \"%s\" expands %.0fx", q, ratio);
    }
    return 0;
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

static int open_zip(zip_t **out, const char *zip_path)
{
    int zerr = 0;
    zip_t *za = zip_open(zip_path, ZIP_RDONLY, &zerr);
    if (za) {
        *out = za;
        return 0;
    }
    zip_error_t ze;
    zip_error_init_with_code(&ze, zerr);
    int code = FMUGW_EIO;
    if (zerr == ZIP_ER_NOZIP || zerr == ZIP_ER_INCONS)
        code = FMUGW_EINVALID;
    else if (zerr == ZIP_ER_NOENT)
        code = FMUGW_ENOTFOUND;
    if (code == FMUGW_EINVALID)
        fmugw_error_set(code, "not a zip file: %s: %s", zip_path, zip_error_strerror(&ze));
    else
        fmugw_error_set(code, "cannot open %s: %s", zip_path, zip_error_strerror(&ze));
    zip_error_fini(&ze);
    return code;
}

/* The shared body of both entry points. When `create` the target must not
 * exist and is created here; either way it is removed on failure. */
static int extract(const char *zip_path, const char *target_dir, const fmi_archive_limits *limits, bool create)
{
    fmi_archive_limits lim = FMI_ARCHIVE_LIMITS_INIT;
    int rc = 0, root = -1;
    bool made = !create; /* a temporary directory is ours from the start */
    zip_t *za = NULL;
    char *chunk = NULL;
    uint64_t total = 0;

    if (limits)
        lim = *limits;
    if ((rc = open_zip(&za, zip_path)) != 0)
        goto out;
    zip_int64_t n = zip_get_num_entries(za, 0);
    if (n < 0) {
        rc = fmugw_error_set(FMUGW_EINVALID, "not a zip file: %s: no central directory", zip_path);
        goto out;
    }
    if ((uint64_t)n > lim.max_entries) {
        rc = fmugw_error_set(FMUGW_ETOOBIG, "too many entries (%lld > %zu)", (long long)n, lim.max_entries);
        goto out;
    }
    if ((rc = check_raw_names(zip_path, lim.max_entries)) != 0 || (rc = check_entries(za, n, &lim)) != 0)
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
    for (zip_int64_t i = 0; i < n; i++)
        if ((rc = extract_entry(za, (zip_uint64_t)i, root, &lim, &total, chunk)) != 0)
            goto out;
out:
    free(chunk);
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
    return extract(zip_path, target_dir, limits, true);
}

int fmi_archive_extract_temp(char **out_dir, const char *zip_path, const fmi_archive_limits *limits)
{
    char *dir = NULL;
    int rc = fmugw_mkdtemp(&dir, "fmugw-fmu-");
    if (rc != 0)
        return rc;
    rc = extract(zip_path, dir, limits, false);
    if (rc != 0) {
        free(dir); /* extract() removed it */
        return rc;
    }
    *out_dir = dir;
    return 0;
}
