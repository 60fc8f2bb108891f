/*
 * test_store_blob.c - the content-addressed blob store (store/blob.h) on a
 * real directory: put/get/exists/size/delete, the pushed put (blob_writer)
 * and random-access reads, the on-disk layout, checksum
 * and size caps, source errors, hostile keys, and crash safety: a child
 * killed with SIGKILL in the middle of a put leaves no visible blob, and
 * its temporary file is removed at the next open.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/blob.h"
#include "util/error.h"
#include "util/fsutil.h"

#include <dirent.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    char *dir;
    char root[600];
    blob_store *bs;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f || fmugw_mkdtemp(&f->dir, "fmugw-test-blob-") != 0)
        return -1;
    snprintf(f->root, sizeof f->root, "%s/blobs", f->dir);
    char url[700];
    snprintf(url, sizeof url, "file://%s", f->root);
    if (blob_store_open(&f->bs, url) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    blob_store_close(f->bs);
    fmugw_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void sha_hex(char out[65], const void *data, size_t len)
{
    unsigned char md[32];
    assert_int_equal(EVP_Digest(data, len, md, NULL, EVP_sha256(), NULL), 1);
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

typedef struct {
    unsigned char *buf;
    size_t len, cap;
} sink;

static int to_sink(void *ctx, const void *p, size_t n)
{
    sink *s = ctx;
    if (s->len + n > s->cap)
        return FMUGW_ETOOBIG;
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    return 0;
}

/* A source that produces `total` pseudo-random bytes in odd-sized chunks. */
typedef struct {
    size_t total, done;
    unsigned seed;
    int fail_at; /* return an error on this call (1-based), 0 = never */
    int calls;
    int signal_fd; /* >= 0: after the first chunk, write a byte here and hang */
} gen_src;

static unsigned char gen_byte(size_t i, unsigned seed)
{
    return (unsigned char)((i * 2654435761u + seed) >> 13);
}

static int gen_read(size_t *out_n, void *ctx, void *buf, size_t cap)
{
    gen_src *g = ctx;
    g->calls++;
    if (g->fail_at && g->calls == g->fail_at)
        return fmugw_error_set(FMUGW_EIO, "client went away");
    if (g->signal_fd >= 0 && g->calls == 2) {
        (void)!write(g->signal_fd, "x", 1);
        for (;;)
            pause(); /* killed here, mid-put */
    }
    size_t n = g->total - g->done;
    if (n > cap)
        n = cap;
    if (n > 10007)
        n = 10007;
    for (size_t i = 0; i < n; i++)
        ((unsigned char *)buf)[i] = gen_byte(g->done + i, g->seed);
    g->done += n;
    *out_n = n;
    return 0;
}

static void test_put_get_delete(void **state)
{
    fixture *f = *state;
    const char data[] = "hello, blob\0with a NUL";
    char key[BLOB_KEY_SIZE], expect[65], path[800];
    assert_int_equal(blob_put_buffer(key, f->bs, data, sizeof data), 0);
    sha_hex(expect, data, sizeof data);
    assert_string_equal(key, expect);
    assert_true(blob_key_valid(key));

    /* Layout <root>/ab/cd/<key>, private file. */
    snprintf(path, sizeof path, "%s/%.2s/%.2s/%s", f->root, key, key + 2, key);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, sizeof data);
    assert_int_equal(st.st_mode & 0777, 0600);

    bool ex = false;
    uint64_t size = 0;
    assert_int_equal(blob_exists(&ex, f->bs, key), 0);
    assert_true(ex);
    assert_int_equal(blob_size(&size, f->bs, key), 0);
    assert_int_equal(size, sizeof data);

    unsigned char out[64];
    sink s = {out, 0, sizeof out};
    assert_int_equal(blob_get_stream(f->bs, key, to_sink, &s), 0);
    assert_int_equal(s.len, sizeof data);
    assert_memory_equal(out, data, sizeof data);

    /* A reader, in small pieces. */
    blob_reader *r = NULL;
    size_t n = 0, got = 0;
    assert_int_equal(blob_reader_open(&r, f->bs, key), 0);
    while (blob_reader_read(&n, r, out + got, 5) == 0 && n > 0)
        got += n;
    assert_int_equal(got, sizeof data);
    blob_reader_close(r);
    blob_reader_close(NULL);

    /* Same content again: same key, still one blob. */
    char key2[BLOB_KEY_SIZE];
    assert_int_equal(blob_put_buffer(key2, f->bs, data, sizeof data), 0);
    assert_string_equal(key, key2);

    /* Empty blob is fine too. */
    assert_int_equal(blob_put_buffer(key2, f->bs, "", 0), 0);
    assert_string_equal(key2, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_int_equal(blob_size(&size, f->bs, key2), 0);
    assert_int_equal(size, 0);

    assert_int_equal(blob_delete(f->bs, key), 0);
    assert_int_equal(blob_exists(&ex, f->bs, key), 0);
    assert_false(ex);
    assert_int_equal(blob_delete(f->bs, key), FMUGW_ENOTFOUND);
    assert_int_equal(blob_size(&size, f->bs, key), FMUGW_ENOTFOUND);
    assert_int_equal(blob_reader_open(&r, f->bs, key), FMUGW_ENOTFOUND);
    assert_null(r);
    assert_int_equal(blob_get_stream(f->bs, key, to_sink, &s), FMUGW_ENOTFOUND);
    /* No temporaries left behind by successful puts. */
    snprintf(path, sizeof path, "%s/tmp", f->root);
    assert_int_equal(count_files(path), 0);
}

static void test_large_stream(void **state)
{
    fixture *f = *state;
    size_t total = 3 * 1024 * 1024 + 17;
    unsigned char *want = malloc(total), *got = malloc(total);
    assert_non_null(want);
    assert_non_null(got);
    for (size_t i = 0; i < total; i++)
        want[i] = gen_byte(i, 7);
    char key[BLOB_KEY_SIZE], expect[65];
    sha_hex(expect, want, total);
    gen_src g = {total, 0, 7, 0, 0, -1};
    /* expected checksum in upper case is accepted */
    char upper[65];
    for (int i = 0; i < 65; i++)
        upper[i] = (char)(expect[i] >= 'a' ? expect[i] - 32 : expect[i]);
    assert_int_equal(blob_put_stream(key, f->bs, gen_read, &g, upper, total), 0);
    assert_string_equal(key, expect);
    sink s = {got, 0, total};
    assert_int_equal(blob_get_stream(f->bs, key, to_sink, &s), 0);
    assert_int_equal(s.len, total);
    assert_memory_equal(got, want, total);
    free(want);
    free(got);
}

static void test_refusals_leave_nothing(void **state)
{
    fixture *f = *state;
    char key[BLOB_KEY_SIZE], real[65], tmp[700];
    bool ex = true;
    snprintf(tmp, sizeof tmp, "%s/tmp", f->root);
    unsigned char *all = malloc(100000);
    for (size_t i = 0; i < 100000; i++)
        all[i] = gen_byte(i, 1);
    sha_hex(real, all, 100000);
    free(all);

    /* Wrong checksum. */
    gen_src g = {100000, 0, 1, 0, 0, -1};
    assert_int_equal(blob_put_stream(key, f->bs, gen_read, &g, "00000000000000000000000000000000000000000000000000000000"
                                                                "00000000",
                                     0),
                     FMUGW_EINVALID);
    assert_string_equal(key, "");
    assert_int_equal(blob_exists(&ex, f->bs, real), 0);
    assert_false(ex);
    assert_int_equal(blob_put_stream(key, f->bs, gen_read, &g, "not-hex", 0), FMUGW_EINVALID);

    /* Over the size cap. */
    g = (gen_src){100000, 0, 1, 0, 0, -1};
    assert_int_equal(blob_put_stream(key, f->bs, gen_read, &g, NULL, 99999), FMUGW_ETOOBIG);
    assert_int_equal(blob_exists(&ex, f->bs, real), 0);
    assert_false(ex);
    g = (gen_src){100000, 0, 1, 0, 0, -1};
    assert_int_equal(blob_put_stream(key, f->bs, gen_read, &g, NULL, 100000), 0); /* exactly the cap */
    assert_string_equal(key, real);
    assert_int_equal(blob_delete(f->bs, real), 0);

    /* The source fails half way: its error comes back, nothing stored. */
    g = (gen_src){100000, 0, 1, 3, 0, -1};
    assert_int_equal(blob_put_stream(key, f->bs, gen_read, &g, NULL, 0), FMUGW_EIO);
    assert_string_equal(fmugw_error_last(), "client went away");
    assert_int_equal(blob_exists(&ex, f->bs, real), 0);
    assert_false(ex);
    assert_int_equal(count_files(tmp), 0);

    /* Hostile or malformed keys never touch the file system. */
    const char *bad[] = {"", "../../etc/passwd", "ABCDEF0000000000000000000000000000000000000000000000000000000000",
                         "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
                         "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855/", NULL};
    for (int i = 0; i < 6; i++) {
        uint64_t size;
        blob_reader *r = NULL;
        assert_int_equal(blob_exists(&ex, f->bs, bad[i]), FMUGW_EINVALID);
        assert_int_equal(blob_size(&size, f->bs, bad[i]), FMUGW_EINVALID);
        assert_int_equal(blob_delete(f->bs, bad[i]), FMUGW_EINVALID);
        assert_int_equal(blob_reader_open(&r, f->bs, bad[i]), FMUGW_EINVALID);
    }

    /* Bad URLs. */
    blob_store *bs = NULL;
    assert_int_equal(blob_store_open(&bs, "file://relative/dir"), FMUGW_EINVALID);
    assert_int_equal(blob_store_open(&bs, "s3://bucket"), FMUGW_EUNSUPPORTED);
    assert_int_equal(blob_store_open(&bs, "ftp://x"), FMUGW_EINVALID);
    assert_null(bs);
}

/* The pushed put (blob_writer): large enough to go through the writer's
 * thread, in odd pieces; random-access reads; an abandoned writer and a
 * refused one leave nothing; the same content twice is one blob. */
static void test_writer(void **state)
{
    fixture *f = *state;
    char tmp[700], key[BLOB_KEY_SIZE], key2[BLOB_KEY_SIZE], real[65];
    snprintf(tmp, sizeof tmp, "%s/tmp", f->root);
    size_t total = (size_t)5 << 20 | 12345; /* 5 MiB + a partial slot */
    unsigned char *all = malloc(total), *back = malloc(total);
    assert_non_null(all);
    assert_non_null(back);
    for (size_t i = 0; i < total; i++)
        all[i] = gen_byte(i, 11);
    sha_hex(real, all, total);

    blob_writer *w = NULL;
    assert_int_equal(blob_writer_open(&w, f->bs, 0), 0);
    assert_int_equal(count_files(tmp), 1); /* its temporary, invisible */
    for (size_t off = 0, piece = 1; off < total; off += piece, piece = piece * 3 + 7) {
        size_t n = total - off < piece ? total - off : piece;
        assert_int_equal(blob_writer_write(w, all + off, n), 0);
    }
    bool ex = true;
    assert_int_equal(blob_exists(&ex, f->bs, real), 0);
    assert_false(ex); /* nothing visible before the commit */
    assert_int_equal(blob_writer_commit(key, w), 0);
    assert_string_equal(key, real);
    assert_int_equal(blob_writer_write(w, "x", 1), FMUGW_EINVALID); /* spent */
    blob_writer_free(w);
    assert_int_equal(count_files(tmp), 0);

    blob_reader *r = NULL;
    uint64_t size = 0;
    size_t n = 0;
    assert_int_equal(blob_reader_open(&r, f->bs, key), 0);
    assert_int_equal(blob_reader_size(&size, r), 0);
    assert_int_equal(size, total);
    assert_int_equal(blob_reader_read_at(&n, r, 0, back, total), 0);
    assert_int_equal(n, total);
    assert_memory_equal(back, all, total);
    assert_int_equal(blob_reader_read_at(&n, r, total - 10, back, 100), 0);
    assert_int_equal(n, 10);
    assert_memory_equal(back, all + total - 10, 10);
    assert_int_equal(blob_reader_read_at(&n, r, total + 5, back, 100), 0);
    assert_int_equal(n, 0);
    blob_reader_close(r);

    /* the same bytes again: the same key, still one blob, no temporary */
    assert_int_equal(blob_writer_open(&w, f->bs, 0), 0);
    assert_int_equal(blob_writer_write(w, all, total), 0);
    assert_int_equal(blob_writer_commit(key2, w), 0);
    blob_writer_free(w);
    assert_string_equal(key2, key);
    assert_int_equal(count_files(tmp), 0);

    /* abandoned mid-stream (past the first slot: the thread runs) */
    assert_int_equal(blob_writer_open(&w, f->bs, 0), 0);
    assert_int_equal(blob_writer_write(w, all, (size_t)3 << 20), 0);
    blob_writer_free(w);
    assert_int_equal(count_files(tmp), 0);

    /* over the cap: refused, the writer is dead, nothing is kept */
    assert_int_equal(blob_writer_open(&w, f->bs, 1000), 0);
    assert_int_equal(blob_writer_write(w, all, 600), 0);
    assert_int_equal(blob_writer_write(w, all, 400), 0); /* exactly the cap */
    assert_int_equal(blob_writer_write(w, all, 1), FMUGW_ETOOBIG);
    assert_int_equal(blob_writer_commit(key2, w), FMUGW_EINVALID);
    assert_string_equal(key2, "");
    blob_writer_free(w);
    assert_int_equal(count_files(tmp), 0);

    /* a small blob (the caller's thread only) and an empty one */
    char small_key[65], empty_key[65];
    sha_hex(small_key, all, 10);
    sha_hex(empty_key, "", 0);
    assert_int_equal(blob_writer_open(&w, f->bs, 0), 0);
    assert_int_equal(blob_writer_write(w, all, 10), 0);
    assert_int_equal(blob_writer_commit(key2, w), 0);
    blob_writer_free(w);
    assert_string_equal(key2, small_key);
    assert_int_equal(blob_writer_open(&w, f->bs, 0), 0);
    assert_int_equal(blob_writer_commit(key2, w), 0);
    blob_writer_free(w);
    assert_string_equal(key2, empty_key);
    assert_int_equal(blob_size(&size, f->bs, empty_key), 0);
    assert_int_equal(size, 0);
    blob_writer_free(NULL);
    free(all);
    free(back);
}

static void test_kill_during_put(void **state)
{
    fixture *f = *state;
    char tmp[700], url[700], real[65];
    snprintf(tmp, sizeof tmp, "%s/tmp", f->root);
    snprintf(url, sizeof url, "file://%s", f->root);
    size_t total = 1000000;
    unsigned char *all = malloc(total);
    for (size_t i = 0; i < total; i++)
        all[i] = gen_byte(i, 3);
    sha_hex(real, all, total);
    free(all);

    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        blob_store *bs = NULL;
        char key[BLOB_KEY_SIZE];
        gen_src g = {total, 0, 3, 0, 0, fds[1]};
        if (blob_store_open(&bs, url) == 0)
            blob_put_stream(key, bs, gen_read, &g, NULL, 0);
        _exit(3); /* not reached: the source hangs until the kill */
    }
    close(fds[1]);
    char ch;
    assert_int_equal(read(fds[0], &ch, 1), 1); /* the child is mid-put */
    close(fds[0]);
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    /* The half-written bytes sit in a temporary file, invisible. */
    assert_int_equal(count_files(tmp), 1);
    bool ex = true;
    assert_int_equal(blob_exists(&ex, f->bs, real), 0);
    assert_false(ex);
    /* Nothing under the content tree either. */
    char d[800];
    snprintf(d, sizeof d, "%s/%.2s", f->root, real);
    assert_int_equal(count_files(d), -1);

    /* Reopening (a restart) removes the dead process's temporary, but not
     * ours; and the blob can then be stored in full. */
    char mine[800];
    snprintf(mine, sizeof mine, "%s/put-%ld-inflight", tmp, (long)getpid());
    FILE *fp = fopen(mine, "w");
    assert_non_null(fp);
    fclose(fp);
    blob_store *bs2 = NULL;
    assert_int_equal(blob_store_open(&bs2, url), 0);
    assert_int_equal(count_files(tmp), 1);
    assert_int_equal(access(mine, F_OK), 0);
    unlink(mine);
    char key[BLOB_KEY_SIZE];
    gen_src g = {total, 0, 3, 0, 0, -1};
    assert_int_equal(blob_put_stream(key, bs2, gen_read, &g, real, 0), 0);
    assert_string_equal(key, real);
    assert_int_equal(blob_exists(&ex, f->bs, real), 0);
    assert_true(ex);
    blob_store_close(bs2);
    blob_store_close(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_get_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals_leave_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_during_put, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
