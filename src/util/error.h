/*
 * error.h - error codes and the thread-local "last error" message.
 *
 * Convention (libgit2 style): functions return int, 0 on success and a
 * negative FMUGW_E* code on failure, after recording a one-line,
 * human-readable message with fmugw_error_set(). Callers that only pass the
 * failure up do not overwrite the message. The message is per thread and is
 * valid until the next fmugw_error_set() on that thread.
 */
#ifndef FMUGW_UTIL_ERROR_H
#define FMUGW_UTIL_ERROR_H

enum {
    FMUGW_OK = 0,
    FMUGW_ERROR = -1,     /* generic failure */
    FMUGW_ENOTFOUND = -2, /* file, variable or symbol not found */
    FMUGW_EINVALID = -3,  /* malformed input (XML, CSV, option value) */
    FMUGW_ETOOBIG = -4,   /* a size cap was exceeded */
    FMUGW_EUNSAFE = -5,   /* input that tries to escape (zip slip, symlink) */
    FMUGW_ENOMEM = -6,    /* allocation failed */
    FMUGW_EIO = -7,       /* read/write failure */
    FMUGW_EFMU = -8,      /* the FMU returned fmiError/fmiFatal or misbehaved */
    FMUGW_EUNSUPPORTED = -9, /* valid but not supported (e.g. no ME interface) */
    FMUGW_EEXISTS = -10,  /* already exists (unique key, idempotency replay) */
    FMUGW_EAUTH = -11,    /* authentication failed (bad key, bad token) */
    FMUGW_EFORBIDDEN = -12, /* authenticated but not allowed (scope, locked key) */
    FMUGW_ECONFLICT = -13, /* state does not allow it (e.g. wrong FMU state) */
    FMUGW_ELIMIT = -14    /* a rate or quota limit was hit */
};

/** Records a printf-style message for the calling thread; returns `code`. */
int fmugw_error_set(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/** The calling thread's last message ("" if none). Borrowed. */
const char *fmugw_error_last(void);

/** Forgets the calling thread's last message. */
void fmugw_error_clear(void);

#endif
