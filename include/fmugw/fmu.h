/*
 * fmugw/fmu.h - the FMU registry: upload (signed URL, streamed from disk,
 * skipped when the same SHA-256 is already stored), list, show, delete.
 *
 * Ownership: JSON documents returned through `out` are caller-owned,
 * NUL-terminated strings freed with fmugw_free(); fmugw_fmu_ref is a plain
 * value with no pointers.
 */
#ifndef FMUGW_PUBLIC_FMU_H
#define FMUGW_PUBLIC_FMU_H

#include "client.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What an upload produced. */
typedef struct fmugw_fmu_ref {
    char id[96];     /**< "fmu_..." */
    char status[24]; /**< ready, rejected, validating, awaiting_upload */
    int existing;    /**< 1: the server had these bytes already; nothing was sent */
} fmugw_fmu_ref;

/** Current version of fmugw_upload_options. */
#define FMUGW_UPLOAD_OPTIONS_VERSION 1

/** Upload options; initialize with FMUGW_UPLOAD_OPTIONS_INIT. */
typedef struct fmugw_upload_options {
    int version;                /**< FMUGW_UPLOAD_OPTIONS_VERSION */
    const char *name;           /**< name to store; default the file's base name */
    fmugw_progress_cb progress; /**< called while the bytes are sent; may be NULL */
    void *progress_ud;          /**< passed to `progress` */
} fmugw_upload_options;

/** Default upload options. */
#define FMUGW_UPLOAD_OPTIONS_INIT { FMUGW_UPLOAD_OPTIONS_VERSION, NULL, NULL, NULL }

/**
 * Uploads an FMU file: hashes it (SHA-256), declares it, and unless the
 * account already has the same bytes, PUTs it streamed from disk to the
 * signed URL. The server validates it at once.
 *
 * @param out receives the FMU's id and status.
 * @param c the client.
 * @param path the .fmu file.
 * @param opts options, or NULL.
 * @return 0 (status "ready"), FMUGW_CLIENT_EINVALID (rejected by the
 *         validator: the fatal rules are in the message; `out` is still
 *         filled), FMUGW_CLIENT_ERROR (file unreadable), or a request error.
 */
FMUGW_EXTERN(int) fmugw_fmu_upload(fmugw_fmu_ref *out, fmugw_client *c, const char *path,
                                   const fmugw_upload_options *opts);

/**
 * SHA-256 of a file as 64 lowercase hex digits.
 *
 * @param out receives 65 bytes (digits and NUL).
 * @param path the file.
 * @return 0 or FMUGW_CLIENT_ERROR.
 */
FMUGW_EXTERN(int) fmugw_file_sha256(char out[65], const char *path);

/**
 * Lists the FMUs the account can see (its own and the public samples), all
 * pages.
 *
 * @param out receives `{"items":[...]}` as JSON text; fmugw_free().
 * @param c the client.
 * @return 0 or a request error.
 */
FMUGW_EXTERN(int) fmugw_fmu_list(char **out, fmugw_client *c);

/**
 * One FMU with its model summary and validation report.
 *
 * @param out receives the FMU as JSON text; fmugw_free().
 * @param c the client.
 * @param id the FMU id.
 * @return 0, FMUGW_CLIENT_ENOTFOUND, or a request error.
 */
FMUGW_EXTERN(int) fmugw_fmu_get(char **out, fmugw_client *c, const char *id);

/**
 * Deletes one of the account's FMUs.
 *
 * @param c the client.
 * @param id the FMU id.
 * @return 0, FMUGW_CLIENT_ENOTFOUND, or a request error.
 */
FMUGW_EXTERN(int) fmugw_fmu_delete(fmugw_client *c, const char *id);

#ifdef __cplusplus
}
#endif

#endif
