/*
 * blob.c - the backend-independent half of the blob store (blob.h): URL
 * dispatch, key validation, and the buffer/stream conveniences.
 */
#include "blob_backend.h"
#include "util/error.h"

#include <string.h>

bool blob_key_valid(const char *key)
{
    return key && strlen(key) == 64 && strspn(key, "0123456789abcdef") == 64;
}

static int check_key(const char *key)
{
    return blob_key_valid(key) ? 0 : fmugw_error_set(FMUGW_EINVALID, "a blob key is 64 lowercase hex digits");
}

int blob_store_open(blob_store **out, const char *url)
{
    *out = NULL;
    if (!url)
        return fmugw_error_set(FMUGW_EINVALID, "no blob store URL");
    if (strncmp(url, "file://", 7) == 0)
        return blob_fs_backend.open(out, url + 7);
    if (url[0] == '/')
        return blob_fs_backend.open(out, url);
    if (strncmp(url, "s3://", 5) == 0)
        return fmugw_error_set(FMUGW_EUNSUPPORTED, "the S3 blob backend is not built into this binary");
    return fmugw_error_set(FMUGW_EINVALID, "unsupported blob store URL (expected file:///abs/dir)");
}

void blob_store_close(blob_store *bs)
{
    if (bs)
        bs->be->close(bs);
}

int blob_put_stream(char out_key[BLOB_KEY_SIZE], blob_store *bs, blob_read_fn read, void *ctx,
                    const char *expect_sha256, uint64_t max_size)
{
    out_key[0] = '\0';
    if (expect_sha256 && (strlen(expect_sha256) != 64 || strspn(expect_sha256, "0123456789abcdefABCDEF") != 64))
        return fmugw_error_set(FMUGW_EINVALID, "the expected SHA-256 is not 64 hex digits");
    return bs->be->put(out_key, bs, read, ctx, expect_sha256, max_size);
}

int blob_writer_open(blob_writer **out, blob_store *bs, uint64_t max_size)
{
    *out = NULL;
    return bs->be->writer_open(out, bs, max_size);
}

int blob_writer_write(blob_writer *w, const void *data, size_t len)
{
    return len == 0 ? 0 : w->be->writer_write(w, data, len);
}

int blob_writer_commit(char out_key[BLOB_KEY_SIZE], blob_writer *w)
{
    out_key[0] = '\0';
    return w->be->writer_commit(out_key, w);
}

void blob_writer_free(blob_writer *w)
{
    if (w)
        w->be->writer_free(w);
}

typedef struct {
    const unsigned char *p;
    size_t left;
} mem_src;

static int read_mem(size_t *out_n, void *ctx, void *buf, size_t cap)
{
    mem_src *m = ctx;
    size_t n = m->left < cap ? m->left : cap;
    memcpy(buf, m->p, n);
    m->p += n;
    m->left -= n;
    *out_n = n;
    return 0;
}

int blob_put_buffer(char out_key[BLOB_KEY_SIZE], blob_store *bs, const void *data, size_t len)
{
    mem_src m = {data, len};
    return blob_put_stream(out_key, bs, read_mem, &m, NULL, 0);
}

int blob_reader_open(blob_reader **out, blob_store *bs, const char *key)
{
    *out = NULL;
    int rc = check_key(key);
    return rc ? rc : bs->be->reader_open(out, bs, key);
}

int blob_reader_read(size_t *out_n, blob_reader *r, void *buf, size_t cap)
{
    *out_n = 0;
    return r->be->read(out_n, r, buf, cap);
}

int blob_reader_read_at(size_t *out_n, blob_reader *r, uint64_t off, void *buf, size_t cap)
{
    *out_n = 0;
    return r->be->read_at(out_n, r, off, buf, cap);
}

int blob_reader_size(uint64_t *out, blob_reader *r)
{
    *out = 0;
    return r->be->reader_size(out, r);
}

void blob_reader_close(blob_reader *r)
{
    if (r)
        r->be->reader_close(r);
}

int blob_get_stream(blob_store *bs, const char *key, blob_write_fn write, void *ctx)
{
    blob_reader *r = NULL;
    unsigned char buf[65536];
    size_t n = 0;
    int rc = blob_reader_open(&r, bs, key);
    while (rc == 0 && (rc = blob_reader_read(&n, r, buf, sizeof buf)) == 0 && n > 0)
        rc = write(ctx, buf, n);
    blob_reader_close(r);
    return rc;
}

int blob_exists(bool *out, blob_store *bs, const char *key)
{
    *out = false;
    int rc = check_key(key);
    return rc ? rc : bs->be->exists(out, bs, key);
}

int blob_size(uint64_t *out, blob_store *bs, const char *key)
{
    *out = 0;
    int rc = check_key(key);
    return rc ? rc : bs->be->size(out, bs, key);
}

int blob_delete(blob_store *bs, const char *key)
{
    int rc = check_key(key);
    return rc ? rc : bs->be->del(bs, key);
}
