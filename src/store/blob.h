/*
 * blob.h - the content-addressed blob store: a vtable (blob_backend.h)
 * with the local-directory backend (fs.c) now and S3 later.
 *
 * A blob's key is the lowercase hex SHA-256 of its bytes, computed by the
 * store while streaming, so a key always names exactly the bytes stored
 * under it. The store keeps whatever bytes it is given (the registry
 * encrypts before). A put is atomic: until it returns 0 no reader can see
 * the blob, and a crash (even kill -9) in the middle leaves no visible
 * blob, only a temporary file that the next blob_store_open removes. When
 * blob_put_stream returns 0 the bytes are durable (file and directory
 * fsync'd). Identical content stored twice is one blob: deleting it removes
 * it for every referrer (the registry's per-blob data keys make two
 * encrypted uploads differ anyway).
 *
 * URLs: `file:///abs/dir` (or just `/abs/dir`); the directory is created
 * 0700 if missing. Layout: `<dir>/ab/cd/<sha256hex>`, temporaries in
 * `<dir>/tmp/`.
 *
 * Threads: a blob_store may be shared by all threads; a blob_reader or
 * blob_writer is used by one thread at a time.
 * Ownership: blob_store_close, blob_reader_close, blob_writer_free free
 * their objects (NULL is a no-op).
 * Errors: FMUGW_EINVALID (bad key or URL, checksum mismatch),
 * FMUGW_ENOTFOUND (no such blob), FMUGW_ETOOBIG (over the cap),
 * FMUGW_EIO, or the error returned by the caller's read callback.
 */
#ifndef FMUGW_STORE_BLOB_H
#define FMUGW_STORE_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct blob_store blob_store;
typedef struct blob_reader blob_reader;
typedef struct blob_writer blob_writer;

/** Hex SHA-256 key length plus NUL. */
#define BLOB_KEY_SIZE 65

/** Source of a put: fill `buf` with up to `cap` bytes, set *out_n (0 at
 *  the end), return 0; or return a negative FMUGW_E* code to abort the
 *  put (nothing becomes visible). */
typedef int (*blob_read_fn)(size_t *out_n, void *ctx, void *buf, size_t cap);

/** Sink of a get: consume `n` bytes; a non-zero return stops the get and
 *  is returned by it. */
typedef int (*blob_write_fn)(void *ctx, const void *buf, size_t n);

/** Opens a store from its URL. */
int blob_store_open(blob_store **out, const char *url);

/** Closes a store. NULL is a no-op. */
void blob_store_close(blob_store *bs);

/** Stores the bytes read from `read` and writes their key into out_key.
 *  If `expect_sha256` (hex, any case) is not NULL and differs from the
 *  content, nothing is stored and FMUGW_EINVALID is returned. `max_size`
 *  (0 = no cap) bounds the bytes accepted: FMUGW_ETOOBIG past it. */
int blob_put_stream(char out_key[BLOB_KEY_SIZE], blob_store *bs, blob_read_fn read, void *ctx,
                    const char *expect_sha256, uint64_t max_size);

/** Starts a put that the caller pushes bytes into (the counterpart of
 *  blob_put_stream for a producer that is itself a stream, such as an
 *  upload): the bytes go to a temporary file inside the store (the fs
 *  backend: `<dir>/tmp/put-<pid>-<random>`, removed at the next open if
 *  the process dies) and are hashed on the way. `max_size` (0 = no cap)
 *  bounds the bytes: FMUGW_ETOOBIG from blob_writer_write past it. Free
 *  with blob_writer_free, which drops the bytes unless committed. */
int blob_writer_open(blob_writer **out, blob_store *bs, uint64_t max_size);

/** Appends `len` bytes. After an error the writer is dead (commit fails). */
int blob_writer_write(blob_writer *w, const void *data, size_t len);

/** Makes the bytes a blob: fsyncs them, moves them into place under their
 *  key (an existing blob with the same key is kept and the temporary is
 *  dropped) and fsyncs the directory; durable on return. Writes the key
 *  into out_key. The writer accepts nothing afterwards; free it. */
int blob_writer_commit(char out_key[BLOB_KEY_SIZE], blob_writer *w);

/** Frees a writer; the bytes of an uncommitted one are removed. NULL is a
 *  no-op. */
void blob_writer_free(blob_writer *w);

/** blob_put_stream from a memory buffer. */
int blob_put_buffer(char out_key[BLOB_KEY_SIZE], blob_store *bs, const void *data, size_t len);

/** Opens a blob for reading. */
int blob_reader_open(blob_reader **out, blob_store *bs, const char *key);

/** Reads up to `cap` bytes; *out_n = 0 at the end. */
int blob_reader_read(size_t *out_n, blob_reader *r, void *buf, size_t cap);

/** Reads up to `cap` bytes at offset `off` (random access; the reader's
 *  sequential position is not moved); *out_n < cap only at the end. */
int blob_reader_read_at(size_t *out_n, blob_reader *r, uint64_t off, void *buf, size_t cap);

/** *out = the size in bytes of the blob open in `r`. */
int blob_reader_size(uint64_t *out, blob_reader *r);

/** Closes a reader. NULL is a no-op. */
void blob_reader_close(blob_reader *r);

/** Streams a whole blob into `write`. */
int blob_get_stream(blob_store *bs, const char *key, blob_write_fn write, void *ctx);

/** *out = whether the blob exists. */
int blob_exists(bool *out, blob_store *bs, const char *key);

/** *out = the blob's size in bytes (FMUGW_ENOTFOUND if absent). */
int blob_size(uint64_t *out, blob_store *bs, const char *key);

/** Deletes a blob (FMUGW_ENOTFOUND if absent); durable on return. */
int blob_delete(blob_store *bs, const char *key);

/** True if `key` is 64 lowercase hex digits. */
bool blob_key_valid(const char *key);

#endif
