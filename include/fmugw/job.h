/*
 * fmugw/job.h - simulation jobs: execute (with an Idempotency-Key so that a
 * retried request never runs twice), status, wait (long-poll), cancel,
 * list, results streamed to a file or parsed into arrays.
 *
 * Ownership: JSON text from `out` parameters is freed with fmugw_free(); a
 * table with fmugw_table_free(); fmugw_job_ref and fmugw_job_status are
 * plain values. Strings in fmugw_execute_options are borrowed for the call.
 */
#ifndef FMUGW_PUBLIC_JOB_H
#define FMUGW_PUBLIC_JOB_H

#include <math.h>

#include "client.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Current version of fmugw_execute_options. */
#define FMUGW_EXECUTE_OPTIONS_VERSION 1

/** A simulation request: the same knobs as `fmugw sim`. Initialize with
 *  FMUGW_EXECUTE_OPTIONS_INIT; NaN numbers, NULL strings and 0 counts are
 *  left to the server's defaults (the model's DefaultExperiment). */
typedef struct fmugw_execute_options {
    int version;                /**< FMUGW_EXECUTE_OPTIONS_VERSION */
    double start_time;          /**< NaN = default */
    double stop_time;           /**< NaN = default */
    double output_interval;     /**< NaN = default */
    double step_size;           /**< NaN = default */
    double relative_tolerance;  /**< NaN = default */
    const char *interface;      /**< "cs", "me" or NULL */
    const char *solver;         /**< "cvode", "euler" or NULL */
    const char *const *start_values; /**< "NAME=VALUE" strings; NULL-terminated, or NULL */
    const char *inputs_csv;     /**< input signals as CSV text (time column first), or NULL */
    const char *const *output_variables; /**< NULL-terminated, or NULL for the outputs */
    int output_all;             /**< 1: record every variable */
    const char *output_format;  /**< "csv" (default) or "json" */
    int timeout_s;              /**< wall-clock limit of the job; 0 = tier default */
    const char *idempotency_key; /**< NULL: a random UUID made for this call */
} fmugw_execute_options;

/** Default execute options. */
#define FMUGW_EXECUTE_OPTIONS_INIT \
    { FMUGW_EXECUTE_OPTIONS_VERSION, NAN, NAN, NAN, NAN, NAN, NULL, NULL, NULL, NULL, NULL, 0, NULL, 0, NULL }

/** A job as answered by execute. */
typedef struct fmugw_job_ref {
    char id[96];     /**< "job_..." */
    char status[24]; /**< usually "queued" */
} fmugw_job_ref;

/** A job's state. */
typedef struct fmugw_job_status {
    char id[96];
    char status[24];         /**< queued, running, succeeded, failed, canceled, timed_out */
    int finished;            /**< 1 when the status is final */
    double credits_charged;  /**< NaN until known */
    double progress;         /**< 0..1, NaN when the server does not say */
    char error[512];         /**< the failure's message ("" if none) */
} fmugw_job_status;

/** Called after each status poll of fmugw_job_wait(). Return non-zero to
 *  stop waiting (the call then returns FMUGW_CLIENT_ETIMEOUT). */
typedef int (*fmugw_wait_cb)(void *ud, const fmugw_job_status *st);

/**
 * Starts a simulation of an FMU the account can see. Retries reuse the
 * same Idempotency-Key, so the job runs once.
 *
 * @param out receives the job id.
 * @param c the client.
 * @param fmu_id the FMU.
 * @param opts the request, or NULL for all defaults.
 * @return 0, FMUGW_CLIENT_ENOTFOUND (no such FMU), FMUGW_CLIENT_ECREDITS,
 *         FMUGW_CLIENT_EINVALID (bad option), or a request error.
 */
FMUGW_EXTERN(int) fmugw_job_execute(fmugw_job_ref *out, fmugw_client *c, const char *fmu_id,
                                    const fmugw_execute_options *opts);

/**
 * A job's current state (no waiting).
 *
 * @param out receives the state.
 * @param c the client.
 * @param job_id the job.
 * @return 0, FMUGW_CLIENT_ENOTFOUND, or a request error.
 */
FMUGW_EXTERN(int) fmugw_job_status_get(fmugw_job_status *out, fmugw_client *c, const char *job_id);

/**
 * Waits until a job finishes, long-polling the server.
 *
 * @param out receives the final (or last seen) state.
 * @param c the client.
 * @param job_id the job.
 * @param timeout_s give up after this many seconds (0: wait forever).
 * @param cb called after every poll, may be NULL. With a callback, a running
 *        job is polled every second so that `progress` moves (a progress
 *        change alone does not end the server's long poll); without one,
 *        only state changes wake the wait.
 * @param ud passed to `cb`.
 * @return 0 when the job succeeded, FMUGW_CLIENT_EJOBFAILED when it failed,
 *         was canceled or timed out (message from the server),
 *         FMUGW_CLIENT_ETIMEOUT, or a request error.
 */
FMUGW_EXTERN(int) fmugw_job_wait(fmugw_job_status *out, fmugw_client *c, const char *job_id,
                                 int timeout_s, fmugw_wait_cb cb, void *ud);

/**
 * Asks the server to cancel a job.
 *
 * @param c the client.
 * @param job_id the job.
 * @return 0, FMUGW_CLIENT_ENOTFOUND, FMUGW_CLIENT_ECONFLICT (already
 *         finished), or a request error.
 */
FMUGW_EXTERN(int) fmugw_job_cancel(fmugw_client *c, const char *job_id);

/**
 * Lists the account's jobs (first page, newest first).
 *
 * @param out receives `{"items":[...]}` as JSON text; fmugw_free().
 * @param c the client.
 * @return 0 or a request error.
 */
FMUGW_EXTERN(int) fmugw_job_list(char **out, fmugw_client *c);

/**
 * The raw status document of a job.
 *
 * @param out receives the JSON text; fmugw_free().
 * @param c the client.
 * @param job_id the job.
 * @return 0, FMUGW_CLIENT_ENOTFOUND, or a request error.
 */
FMUGW_EXTERN(int) fmugw_job_get(char **out, fmugw_client *c, const char *job_id);

/**
 * Downloads a finished job's results, streamed to a file (written beside
 * it and renamed when complete, checked against the server's SHA-256).
 *
 * @param c the client.
 * @param job_id the job.
 * @param path the destination; "-" writes to standard output.
 * @return 0, FMUGW_CLIENT_ENOTFOUND, FMUGW_CLIENT_ECONFLICT (not finished
 *         or no results), FMUGW_CLIENT_ERROR (local I/O), or a request error.
 */
FMUGW_EXTERN(int) fmugw_job_results_download(fmugw_client *c, const char *job_id, const char *path);

/** Results parsed into arrays: `nrows` rows of `ncols` numbers, row-major;
 *  non-numeric cells are NaN. */
typedef struct fmugw_table {
    size_t ncols;
    size_t nrows;
    char **names;   /**< ncols column names ("time" first) */
    double *values; /**< nrows * ncols; value(r, c) = values[r * ncols + c] */
} fmugw_table;

/**
 * Downloads a finished job's CSV results and parses them.
 *
 * @param out receives the table; free with fmugw_table_free().
 * @param c the client.
 * @param job_id the job.
 * @return 0, FMUGW_CLIENT_EINVALID (not CSV), or as
 *         fmugw_job_results_download().
 */
FMUGW_EXTERN(int) fmugw_job_results_table(fmugw_table **out, fmugw_client *c, const char *job_id);

/**
 * Parses CSV results (a header line, then numbers) held in memory.
 *
 * @param out receives the table; free with fmugw_table_free().
 * @param csv the text.
 * @param len its length in bytes.
 * @return 0 or FMUGW_CLIENT_EINVALID.
 */
FMUGW_EXTERN(int) fmugw_table_parse_csv(fmugw_table **out, const char *csv, size_t len);

/**
 * Frees a table.
 *
 * @param t the table; NULL is a no-op.
 */
FMUGW_EXTERN(void) fmugw_table_free(fmugw_table *t);

/**
 * Makes a random (version 4) UUID, e.g. for an Idempotency-Key.
 *
 * @param out receives 37 bytes (36 characters and NUL).
 * @return 0 or FMUGW_CLIENT_ERROR.
 */
FMUGW_EXTERN(int) fmugw_uuid4(char out[37]);

#ifdef __cplusplus
}
#endif

#endif
