/*
 * blob_backend.h - what a blob store backend implements (the vtable behind
 * blob.h). Only backends (fs.c, later s3.c) and blob.c include this file.
 * Backend structs start with the `struct blob_store` / `struct blob_reader`
 * / `struct blob_writer` base. blob.c validates keys and arguments before calling a backend.
 */
#ifndef FMUGW_STORE_BLOB_BACKEND_H
#define FMUGW_STORE_BLOB_BACKEND_H

#include "blob.h"

typedef struct blob_backend {
    const char *name;   /* "fs" */
    const char *scheme; /* "file://" */
    int (*open)(blob_store **out, const char *rest);
    void (*close)(blob_store *bs);
    int (*put)(char out_key[BLOB_KEY_SIZE], blob_store *bs, blob_read_fn read, void *ctx,
               const char *expect_sha256, uint64_t max_size);
    int (*writer_open)(blob_writer **out, blob_store *bs, uint64_t max_size);
    int (*writer_write)(blob_writer *w, const void *data, size_t len);
    int (*writer_commit)(char out_key[BLOB_KEY_SIZE], blob_writer *w);
    void (*writer_free)(blob_writer *w);
    int (*reader_open)(blob_reader **out, blob_store *bs, const char *key);
    int (*read)(size_t *out_n, blob_reader *r, void *buf, size_t cap);
    int (*read_at)(size_t *out_n, blob_reader *r, uint64_t off, void *buf, size_t cap);
    int (*reader_size)(uint64_t *out, blob_reader *r);
    void (*reader_close)(blob_reader *r);
    int (*exists)(bool *out, blob_store *bs, const char *key);
    int (*size)(uint64_t *out, blob_store *bs, const char *key);
    int (*del)(blob_store *bs, const char *key);
} blob_backend;

struct blob_store {
    const blob_backend *be;
};

struct blob_reader {
    const blob_backend *be;
};

struct blob_writer {
    const blob_backend *be;
};

extern const blob_backend blob_fs_backend;

#endif
