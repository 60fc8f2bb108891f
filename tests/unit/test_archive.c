/*
 * test_archive.c - fmi_archive_extract() against hostile zips built at run
 * time with libzip: zip slip, absolute paths, symlinks, special files,
 * encryption, zip bombs, entry and size caps, lying headers, non-zips, and a
 * valid FMU-like tree. Every refusal is also checked through
 * fmi_archive_extract_source with a filter that writes nothing (the
 * registry's header-only check of resources), and the filter's choice.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fmi/archive.h"
#include "util/error.h"
#include "util/fsutil.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

typedef struct {
    const char *name;
    const void *data; /* NULL with is_dir */
    size_t len;
    bool is_dir;
    unsigned unix_mode; /* nonzero: external attributes (mode << 16), opsys UNIX */
    bool encrypt;
} entry;

/* Per-test scratch directory: the zip, the target and sentinel paths. */
typedef struct {
    char *dir;
    char zip[512];
    char target[512];
    char sentinel[512];
} scratch;

static int setup(void **state)
{
    scratch *s = calloc(1, sizeof *s);
    if (!s || fmugw_mkdtemp(&s->dir, "fmugw-test-archive-") != 0)
        return -1;
    snprintf(s->zip, sizeof s->zip, "%s/in.zip", s->dir);
    snprintf(s->target, sizeof s->target, "%s/fmu/out", s->dir);
    snprintf(s->sentinel, sizeof s->sentinel, "%s/fmu/evil", s->dir);
    char sub[600];
    snprintf(sub, sizeof sub, "%s/fmu", s->dir);
    if (mkdir(sub, 0700) != 0)
        return -1;
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    scratch *s = *state;
    fmugw_rmtree(s->dir);
    free(s->dir);
    free(s);
    return 0;
}

/* Writes a zip with the given entries; fails the test on any libzip error. */
static void make_zip(const char *path, const entry *e, size_t n)
{
    int err = 0;
    unlink(path);
    zip_t *za = zip_open(path, ZIP_CREATE | ZIP_EXCL, &err);
    assert_non_null(za);
    for (size_t i = 0; i < n; i++) {
        zip_int64_t idx;
        if (e[i].is_dir) {
            idx = zip_dir_add(za, e[i].name, ZIP_FL_ENC_GUESS);
        } else {
            zip_source_t *src = zip_source_buffer(za, e[i].data, e[i].len, 0);
            assert_non_null(src);
            idx = zip_file_add(za, e[i].name, src, ZIP_FL_ENC_GUESS);
            if (idx < 0)
                zip_source_free(src);
        }
        assert_true(idx >= 0);
        if (e[i].unix_mode)
            assert_int_equal(zip_file_set_external_attributes(za, (zip_uint64_t)idx, 0, ZIP_OPSYS_UNIX,
                                                              (zip_uint32_t)e[i].unix_mode << 16),
                             0);
        if (e[i].encrypt)
            assert_int_equal(zip_file_set_encryption(za, (zip_uint64_t)idx, ZIP_EM_AES_256, "secret"), 0);
    }
    assert_int_equal(zip_close(za), 0);
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static void assert_message(const char *want)
{
    const char *got = fmugw_error_last();
    if (!strstr(got, want))
        fail_msg("message \"%s\" does not contain \"%s\"", got, want);
}

/* An archive in memory read through fmi_archive_source; `fail_at` (when
 * nonzero) makes reads at or past that offset fail. */
typedef struct {
    unsigned char *data;
    size_t len;
    uint64_t fail_at;
    int reads;
} mem_zip;

static int mem_read_at(void *ctx, uint64_t off, void *buf, size_t len, size_t *out_n)
{
    mem_zip *m = ctx;
    m->reads++;
    *out_n = 0;
    if (m->fail_at && off + len > m->fail_at)
        return fmugw_error_set(FMUGW_EIO, "injected read error");
    if (off >= m->len)
        return 0;
    size_t n = m->len - off < len ? (size_t)(m->len - off) : len;
    memcpy(buf, m->data + off, n);
    *out_n = n;
    return 0;
}

static void mem_zip_load(mem_zip *m, const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    m->data = malloc((size_t)n + 1);
    assert_non_null(m->data);
    assert_int_equal(fread(m->data, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    m->len = (size_t)n;
    m->fail_at = 0;
    m->reads = 0;
}

static bool want_nothing(const char *path, bool is_dir, void *ctx)
{
    (void)path;
    (void)is_dir;
    (*(int *)ctx)++;
    return false;
}

/* A refused archive: the code, the message, no target, no sentinel; the
 * same from a source that extracts nothing (headers are enough). */
static void assert_refused(scratch *s, const fmi_archive_limits *lim, int code, const char *msg)
{
    fmugw_error_clear();
    assert_int_equal(fmi_archive_extract(s->zip, s->target, lim), code);
    assert_message(msg);
    assert_null(strchr(fmugw_error_last(), '\n'));
    assert_false(exists(s->target));
    assert_false(exists(s->sentinel));
    if (!exists(s->zip))
        return;

    mem_zip m;
    int asked = 0;
    mem_zip_load(&m, s->zip);
    fmi_archive_source src = { mem_read_at, &m, m.len, "in.zip" };
    fmugw_error_clear();
    assert_int_equal(fmi_archive_extract_source(&src, s->target, lim, want_nothing, &asked), code);
    assert_message(msg);
    assert_false(exists(s->target));
    assert_false(exists(s->sentinel));
    free(m.data);
}

static const char hello[] = "hello";

static void test_valid_tree(void **state)
{
    scratch *s = *state;
    static const char xml[] = "<fmiModelDescription/>";
    entry e[] = {
        {"modelDescription.xml", xml, sizeof xml - 1, false, 0, false},
        {"binaries/", NULL, 0, true, 0, false},
        {"binaries/x86_64-linux/m.so", hello, 5, false, 0100755, false},
        {"resources/a/b/c.txt", hello, 5, false, 0, false},
        {"documentation/", NULL, 0, true, 040755, false},
        {"./sources/./m.c", hello, 5, false, 0, false},
        {"empty.txt", "", 0, false, 0, false},
    };
    make_zip(s->zip, e, sizeof e / sizeof e[0]);
    assert_int_equal(fmi_archive_extract(s->zip, s->target, NULL), 0);

    char p[700], buf[64];
    struct stat st;
    snprintf(p, sizeof p, "%s/binaries/x86_64-linux/m.so", s->target);
    assert_int_equal(stat(p, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600); /* never the archive's mode */
    assert_int_equal(st.st_size, 5);
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    assert_int_equal(fread(buf, 1, sizeof buf, f), 5);
    fclose(f);
    assert_memory_equal(buf, "hello", 5);

    snprintf(p, sizeof p, "%s/resources/a/b", s->target);
    assert_int_equal(stat(p, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0700);
    snprintf(p, sizeof p, "%s/documentation", s->target);
    assert_int_equal(stat(p, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    snprintf(p, sizeof p, "%s/sources/m.c", s->target);
    assert_true(exists(p));
    snprintf(p, sizeof p, "%s/modelDescription.xml", s->target);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, (off_t)(sizeof xml - 1));
    snprintf(p, sizeof p, "%s/empty.txt", s->target);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 0);
    assert_int_equal(stat(s->target, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
}

static void test_zip_slip(void **state)
{
    scratch *s = *state;
    entry e[] = {{"ok.txt", hello, 5, false, 0, false}, {"../evil", hello, 5, false, 0, false}};
    make_zip(s->zip, e, 2);
    assert_refused(s, NULL, FMUGW_EUNSAFE, "unsafe entry \"../evil\": path escapes the FMU directory");
}

static void test_zip_slip_nested(void **state)
{
    scratch *s = *state;
    entry e[] = {{"binaries/../../evil", hello, 5, false, 0, false}};
    make_zip(s->zip, e, 1);
    assert_refused(s, NULL, FMUGW_EUNSAFE, "unsafe entry \"binaries/../../evil\": path escapes the FMU directory");
}

static void test_absolute_path(void **state)
{
    scratch *s = *state;
    entry e[] = {{s->sentinel, hello, 5, false, 0, false}}; /* <tmp>/fmu/evil, absolute */
    make_zip(s->zip, e, 1);
    char want[700];
    snprintf(want, sizeof want, "unsafe entry \"%s\": absolute path", s->sentinel);
    assert_refused(s, NULL, FMUGW_EUNSAFE, want);
}

static void test_backslash_and_drive(void **state)
{
    scratch *s = *state;
    entry e1[] = {{"..\\evil", hello, 5, false, 0, false}};
    make_zip(s->zip, e1, 1);
    assert_refused(s, NULL, FMUGW_EUNSAFE, "unsafe entry \"..\\evil\": backslash in path");
    entry e2[] = {{"C:/evil", hello, 5, false, 0, false}};
    make_zip(s->zip, e2, 1);
    assert_refused(s, NULL, FMUGW_EUNSAFE, "unsafe entry \"C:/evil\": drive letter in path");
    entry e3[] = {{"a/\x01x", hello, 5, false, 0, false}};
    make_zip(s->zip, e3, 1);
    assert_refused(s, NULL, FMUGW_EUNSAFE, "unsafe entry \"a/?x\": control character in name");
}

/* libzip shows a NUL inside a name as a space; the raw scan still sees it. */
static void test_nul_in_name(void **state)
{
    scratch *s = *state;
    entry e[] = {{"okQ/../../evil", hello, 5, false, 0, false}, {"b.txt", hello, 5, false, 0, false}};
    make_zip(s->zip, e, 2);
    FILE *f = fopen(s->zip, "r+b");
    assert_non_null(f);
    unsigned char z[4096];
    size_t zn = fread(z, 1, sizeof z, f);
    int patched = 0;
    /* Only the Q of the name: a lone 'Q' byte may also occur in the
     * timestamps or CRCs. */
    static const char name[] = "okQ/../../evil";
    for (size_t i = 0; i + sizeof name - 1 <= zn; i++)
        if (memcmp(z + i, name, sizeof name - 1) == 0)
            z[i + 2] = 0, patched++;
    assert_int_equal(patched, 2); /* local header and central directory */
    rewind(f);
    assert_int_equal(fwrite(z, 1, zn, f), zn);
    fclose(f);
    assert_refused(s, NULL, FMUGW_EUNSAFE, "unsafe entry \"ok?/../../evil\": NUL byte in name");
}

static void test_symlink(void **state)
{
    scratch *s = *state;
    /* the link would point at the sentinel; a later file would write through it */
    entry e[] = {
        {"x.so", s->sentinel, strlen(s->sentinel), false, 0120777, false},
        {"y.txt", hello, 5, false, 0, false},
    };
    make_zip(s->zip, e, 2);
    assert_refused(s, NULL, FMUGW_EUNSAFE, "entry \"x.so\" is a symbolic link");
}

static void test_special_file(void **state)
{
    scratch *s = *state;
    entry e[] = {{"fifo", "", 0, false, 010644, false}};
    make_zip(s->zip, e, 1);
    assert_refused(s, NULL, FMUGW_EUNSAFE, "entry \"fifo\" is not a regular file or directory");
}

static void test_encrypted(void **state)
{
    scratch *s = *state;
    if (!zip_encryption_method_supported(ZIP_EM_AES_256, 1))
        skip();
    entry e[] = {{"secret.txt", hello, 5, false, 0, true}};
    make_zip(s->zip, e, 1);
    assert_refused(s, NULL, FMUGW_EUNSAFE, "entry \"secret.txt\" is encrypted");
}

static void test_zip_bomb(void **state)
{
    scratch *s = *state;
    size_t n = (size_t)50 << 20;
    char *zeros = calloc(1, n);
    assert_non_null(zeros);
    entry e[] = {{"small.txt", hello, 5, false, 0, false}, {"big.bin", zeros, n, false, 0, false}};
    make_zip(s->zip, e, 2);
    free(zeros);
    assert_refused(s, NULL, FMUGW_ETOOBIG, "zip bomb: entry \"big.bin\" expands ");
    /* a high ratio limit lets the same file through */
    fmi_archive_limits lim = FMI_ARCHIVE_LIMITS_INIT;
    lim.max_ratio = 1e6;
    assert_int_equal(fmi_archive_extract(s->zip, s->target, &lim), 0);
    char p[700];
    struct stat st;
    snprintf(p, sizeof p, "%s/big.bin", s->target);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, (off_t)n);
}

/* 1,000 entries of exactly 1 MiB of zeros (about 1 MB zipped): no entry
 * is over the per-entry threshold, the archive is 1 GiB. Refused from the
 * central directory, before anything is written (and the same from a
 * source); a high ratio limit lets its headers through. */
static void test_zip_bomb_many_entries(void **state)
{
    scratch *s = *state;
    enum { N = 1000 };
    size_t n = (size_t)1 << 20;
    char *zeros = calloc(1, n);
    assert_non_null(zeros);
    entry *e = calloc(N, sizeof *e);
    char (*names)[32] = calloc(N, sizeof *names);
    assert_non_null(e);
    assert_non_null(names);
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "resources/z%04d.bin", i);
        e[i] = (entry){ names[i], zeros, n, false, 0, false };
    }
    make_zip(s->zip, e, N);
    struct stat st;
    assert_int_equal(stat(s->zip, &st), 0);
    assert_true(st.st_size < 4 << 20);
    assert_refused(s, NULL, FMUGW_ETOOBIG, "zip bomb: the archive expands ");
    assert_non_null(strstr(fmugw_error_last(), "(1048576000 bytes from "));
    /* a high ratio limit lets it through (checked from the headers only:
     * nothing is written) */
    fmi_archive_limits lim = FMI_ARCHIVE_LIMITS_INIT;
    lim.max_ratio = 1e6;
    mem_zip m;
    int asked = 0;
    mem_zip_load(&m, s->zip);
    fmi_archive_source src = { mem_read_at, &m, m.len, "in.zip" };
    assert_int_equal(fmi_archive_extract_source(&src, s->target, &lim, want_nothing, &asked), 0);
    free(m.data);
    free(zeros);
    free(e);
    free(names);
}

/* A path of 40 components of 200 bytes each (8 KB) would build a tree
 * deeper than PATH_MAX: refused from its length. */
static void test_long_path(void **state)
{
    scratch *s = *state;
    char name[64 * 201 + 8] = "";
    for (int i = 0; i < 40; i++) {
        size_t n = strlen(name);
        memset(name + n, 'd', 200);
        name[n + 200] = '/';
        name[n + 201] = '\0';
    }
    strcat(name, "f.txt");
    entry e[] = {{name, hello, 5, false, 0, false}};
    make_zip(s->zip, e, 1);
    assert_refused(s, NULL, FMUGW_EUNSAFE, "path longer than 1024 bytes");
}

static void test_too_many_entries(void **state)
{
    scratch *s = *state;
    entry e[12];
    char names[12][16];
    for (int i = 0; i < 12; i++) {
        snprintf(names[i], sizeof names[i], "f%02d", i);
        e[i] = (entry){names[i], hello, 5, false, 0, false};
    }
    make_zip(s->zip, e, 12);
    fmi_archive_limits lim = FMI_ARCHIVE_LIMITS_INIT;
    lim.max_entries = 10;
    assert_refused(s, &lim, FMUGW_ETOOBIG, "too many entries (12 > 10)");
    lim.max_entries = 12;
    assert_int_equal(fmi_archive_extract(s->zip, s->target, &lim), 0);
}

static void test_total_size(void **state)
{
    scratch *s = *state;
    static char a[600], b[600];
    memset(a, 'a', sizeof a);
    memset(b, 'b', sizeof b);
    entry e[] = {{"a", a, sizeof a, false, 0, false}, {"b", b, sizeof b, false, 0, false}};
    make_zip(s->zip, e, 2);
    fmi_archive_limits lim = FMI_ARCHIVE_LIMITS_INIT;
    lim.max_total_size = 1000;
    assert_refused(s, &lim, FMUGW_ETOOBIG, "entry \"b\": total uncompressed size over the limit of 1000 bytes");
    lim.max_total_size = 1200;
    assert_int_equal(fmi_archive_extract(s->zip, s->target, &lim), 0);
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8), p[2] = (unsigned char)(v >> 16),
    p[3] = (unsigned char)(v >> 24);
}

/* The headers say 1000 bytes, the deflate stream holds 300000. */
static void test_lying_header(void **state)
{
    scratch *s = *state;
    size_t n = 300000;
    unsigned char *data = malloc(n);
    assert_non_null(data);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        data[i] = (unsigned char)('a' + (x >> 16) % 4); /* compresses about 4:1 */
    }
    entry e[] = {{"liar.bin", data, n, false, 0, false}};
    make_zip(s->zip, e, 1);
    free(data);

    FILE *f = fopen(s->zip, "r+b");
    assert_non_null(f);
    unsigned char *z = malloc(1 << 20);
    assert_non_null(z);
    size_t zn = fread(z, 1, 1 << 20, f);
    int patched = 0;
    for (size_t i = 0; i + 46 < zn; i++) {
        if (rd32(z + i) == 0x04034b50 && rd32(z + i + 22) == n) { /* local header */
            wr32(z + i + 22, 1000);
            patched++;
        } else if (rd32(z + i) == 0x02014b50 && rd32(z + i + 24) == n) { /* central directory */
            wr32(z + i + 24, 1000);
            patched++;
        }
    }
    assert_int_equal(patched, 2);
    rewind(f);
    assert_int_equal(fwrite(z, 1, zn, f), zn);
    fclose(f);
    free(z);

    fmugw_error_clear();
    int rc = fmi_archive_extract(s->zip, s->target, NULL);
    assert_int_equal(rc, FMUGW_ETOOBIG);
    assert_message("entry \"liar.bin\" inflates past its declared size of 1000 bytes");
    assert_false(exists(s->target));
}

static void test_not_a_zip(void **state)
{
    scratch *s = *state;
    FILE *f = fopen(s->zip, "wb");
    assert_non_null(f);
    fputs("this is not a zip file, just text that is long enough to have no end record\n", f);
    fclose(f);
    assert_refused(s, NULL, FMUGW_EINVALID, "not a zip file: ");
    /* an empty file is not a zip either */
    f = fopen(s->zip, "wb");
    fclose(f);
    assert_refused(s, NULL, FMUGW_EINVALID, "not a zip file: ");
}

static void test_missing_zip(void **state)
{
    scratch *s = *state;
    assert_refused(s, NULL, FMUGW_ENOTFOUND, "in.zip");
}

static void test_target_exists(void **state)
{
    scratch *s = *state;
    entry e[] = {{"a.txt", hello, 5, false, 0, false}};
    make_zip(s->zip, e, 1);
    assert_int_equal(mkdir(s->target, 0700), 0);
    char keep[700];
    snprintf(keep, sizeof keep, "%s/keep", s->target);
    FILE *f = fopen(keep, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(fmi_archive_extract(s->zip, s->target, NULL), FMUGW_EIO);
    /* a directory that was not ours is left alone */
    assert_true(exists(keep));
}

static void test_colliding_paths(void **state)
{
    scratch *s = *state;
    /* extraction refused these while writing (O_EXCL, ENOTDIR); pass 1
     * refuses them now, so that a header-only check sees them too */
    entry dup_dir[] = {{"dir/a.txt", hello, 5, false, 0, false}, {"dir/a.txt/", NULL, 0, true, 0, false}};
    make_zip(s->zip, dup_dir, 2);
    assert_refused(s, NULL, FMUGW_EUNSAFE, "entry \"dir/a.txt\": duplicate entry");
    entry dot[] = {{"x.txt", hello, 5, false, 0, false}, {"./x.txt", hello, 5, false, 0, false}};
    make_zip(s->zip, dot, 2);
    assert_refused(s, NULL, FMUGW_EUNSAFE, "entry \"x.txt\": duplicate entry");
    entry slashes[] = {{"d//y", hello, 5, false, 0, false}, {"d/y", hello, 5, false, 0, false}};
    make_zip(s->zip, slashes, 2);
    assert_refused(s, NULL, FMUGW_EUNSAFE, "entry \"d/y\": duplicate entry");
    entry under_file[] = {{"a", hello, 5, false, 0, false}, {"a-b", hello, 5, false, 0, false},
                          {"a/b/c", hello, 5, false, 0, false}};
    make_zip(s->zip, under_file, 3);
    assert_refused(s, NULL, FMUGW_EUNSAFE, "entry \"a/b/c\": \"a\" is a file, not a directory");
    /* a directory named twice (explicitly and as a parent) is fine */
    entry dirs[] = {{"d/", NULL, 0, true, 0, false}, {"./d/", NULL, 0, true, 0, false},
                    {"d/z", hello, 5, false, 0, false}};
    make_zip(s->zip, dirs, 3);
    assert_int_equal(fmi_archive_extract(s->zip, s->target, NULL), 0);
}

static bool want_md_and_binaries(const char *path, bool is_dir, void *ctx)
{
    (void)is_dir;
    (void)ctx;
    return strcmp(path, "modelDescription.xml") == 0 || strncmp(path, "binaries/", 9) == 0 ||
           strcmp(path, "binaries") == 0;
}

static void test_source_writes_only_wanted(void **state)
{
    scratch *s = *state;
    static const char xml[] = "<fmiModelDescription/>";
    size_t big = (size_t)3 << 20;
    char *noise = malloc(big);
    assert_non_null(noise);
    uint32_t x = 7;
    for (size_t i = 0; i < big; i++) {
        x = x * 1103515245u + 12345u;
        noise[i] = (char)(x >> 16);
    }
    entry e[] = {
        {"./modelDescription.xml", xml, sizeof xml - 1, false, 0, false},
        {"binaries/x86_64-linux/m.so", hello, 5, false, 0100755, false},
        {"resources/", NULL, 0, true, 0, false},
        {"resources/noise.bin", noise, big, false, 0, false},
        {"documentation/index.html", hello, 5, false, 0, false},
    };
    make_zip(s->zip, e, sizeof e / sizeof e[0]);
    free(noise);
    mem_zip m;
    mem_zip_load(&m, s->zip);
    fmi_archive_source src = { mem_read_at, &m, m.len, "in.zip" };
    assert_int_equal(fmi_archive_extract_source(&src, s->target, NULL, want_md_and_binaries, NULL), 0);
    char p[700];
    struct stat st;
    snprintf(p, sizeof p, "%s/modelDescription.xml", s->target);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, (off_t)(sizeof xml - 1));
    snprintf(p, sizeof p, "%s/binaries/x86_64-linux/m.so", s->target);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 5);
    snprintf(p, sizeof p, "%s/resources", s->target);
    assert_false(exists(p));
    snprintf(p, sizeof p, "%s/documentation", s->target);
    assert_false(exists(p));
    fmugw_rmtree(s->target);

    /* without a filter: everything, as fmi_archive_extract */
    assert_int_equal(fmi_archive_extract_source(&src, s->target, NULL, NULL, NULL), 0);
    snprintf(p, sizeof p, "%s/resources/noise.bin", s->target);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, (off_t)big);
    fmugw_rmtree(s->target);

    /* a failing source is an error (not a crash), and leaves no target:
     * the central directory is read fine, the resource's bytes fail */
    m.fail_at = m.len / 2;
    fmugw_error_clear();
    assert_true(fmi_archive_extract_source(&src, s->target, NULL, NULL, NULL) < 0);
    assert_false(exists(s->target));
    m.fail_at = 1;
    assert_true(fmi_archive_extract_source(&src, s->target, NULL, want_md_and_binaries, NULL) < 0);
    assert_false(exists(s->target));
    free(m.data);
}

static void test_extract_temp(void **state)
{
    scratch *s = *state;
    entry e[] = {{"modelDescription.xml", hello, 5, false, 0, false}};
    make_zip(s->zip, e, 1);
    char *dir = NULL;
    assert_int_equal(fmi_archive_extract_temp(&dir, s->zip, NULL), 0);
    assert_non_null(dir);
    char p[700];
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0700);
    snprintf(p, sizeof p, "%s/modelDescription.xml", dir);
    assert_true(exists(p));
    assert_int_equal(fmugw_rmtree(dir), 0);
    free(dir);

    /* a failing temp extraction leaves nothing behind and returns no dir */
    entry bad[] = {{"../evil", hello, 5, false, 0, false}};
    make_zip(s->zip, bad, 1);
    dir = NULL;
    assert_int_equal(fmi_archive_extract_temp(&dir, s->zip, NULL), FMUGW_EUNSAFE);
    assert_null(dir);
    assert_false(exists(s->sentinel));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_valid_tree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zip_slip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zip_slip_nested, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absolute_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backslash_and_drive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nul_in_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_special_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encrypted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zip_bomb, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zip_bomb_many_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_many_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_total_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lying_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_zip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_zip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_target_exists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_colliding_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_source_writes_only_wanted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extract_temp, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
