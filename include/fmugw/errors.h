/*
 * fmugw/errors.h - error codes of libfmugw and the thread-local last error.
 *
 * Every function returns int: 0 on success, one of the negative
 * FMUGW_CLIENT_E* codes below on failure. The failing call records a
 * one-line message (with the server's problem title, detail and field
 * errors when the server answered) that fmugw_client_error_last() returns
 * until the next failing call on the same thread. The codes are a public
 * contract: they are never renumbered.
 *
 * Ownership: the strings returned here are borrowed, per thread.
 */
#ifndef FMUGW_PUBLIC_ERRORS_H
#define FMUGW_PUBLIC_ERRORS_H

#include "common.h"

/** Error codes (negative; 0 is success). */
enum fmugw_client_error_code {
    FMUGW_CLIENT_OK = 0,
    FMUGW_CLIENT_ERROR = -1,        /**< generic failure (I/O on a local file, memory) */
    FMUGW_CLIENT_EUSAGE = -2,       /**< a bad argument or option from the caller */
    FMUGW_CLIENT_ECONFIG = -3,      /**< no usable configuration (missing, unsafe mode, malformed) */
    FMUGW_CLIENT_EAUTH = -4,        /**< 401: bad or revoked API key, token refused */
    FMUGW_CLIENT_EFORBIDDEN = -5,   /**< 403: the key lacks the scope, or is locked */
    FMUGW_CLIENT_ENOTFOUND = -6,    /**< 404: no such FMU, job or key (for this account) */
    FMUGW_CLIENT_ECREDITS = -7,     /**< 402: insufficient credits */
    FMUGW_CLIENT_ERATELIMITED = -8, /**< 429 after the retries were used up */
    FMUGW_CLIENT_ECONFLICT = -9,    /**< 409: the state does not allow it */
    FMUGW_CLIENT_EINVALID = -10,    /**< 400/413/415/422: the server refused the request; or an FMU was rejected */
    FMUGW_CLIENT_EJOBFAILED = -11,  /**< the job ended failed, canceled or timed out */
    FMUGW_CLIENT_ENETWORK = -12,    /**< the server could not be reached (after retries) */
    FMUGW_CLIENT_ESERVER = -13,     /**< 5xx or an answer the client does not understand */
    FMUGW_CLIENT_ETIMEOUT = -14     /**< a wait ran out of time (the job goes on) */
};

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The calling thread's last error message.
 *
 * @return a borrowed one-line message ("" if no call failed yet); valid
 *         until the next failing call on this thread.
 */
FMUGW_EXTERN(const char *) fmugw_client_error_last(void);

/**
 * The calling thread's last error code.
 *
 * @return the FMUGW_CLIENT_E* code of the last failure (0 if none).
 */
FMUGW_EXTERN(int) fmugw_client_error_code(void);

/**
 * The HTTP status of the last failure, when the server answered.
 *
 * @return the status (e.g. 402), or 0 when the failure was local or a
 *         network error.
 */
FMUGW_EXTERN(int) fmugw_client_error_http_status(void);

/**
 * The problem `type` slug of the last failure ("insufficient-credits").
 *
 * @return a borrowed slug, "" if the server sent no problem document.
 */
FMUGW_EXTERN(const char *) fmugw_client_error_type(void);

/**
 * A static name for an error code ("FMUGW_CLIENT_EAUTH").
 *
 * @param code a FMUGW_CLIENT_E* value.
 * @return a static string; "FMUGW_CLIENT_E?" for an unknown code.
 */
FMUGW_EXTERN(const char *) fmugw_client_error_name(int code);

/**
 * Forgets the calling thread's last error.
 */
FMUGW_EXTERN(void) fmugw_client_error_clear(void);

#ifdef __cplusplus
}
#endif

#endif
