/*
 * error.c - the thread-local last error of libfmugw: code, message, HTTP
 * status and problem type (fmugw/errors.h), and fmugw_free/fmugw_version.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static _Thread_local char message[2048];
static _Thread_local int last_code;
static _Thread_local int last_http;
static _Thread_local char last_type[64];

static int record(int code, int http_status, const char *type, const char *fmt, va_list ap)
{
    vsnprintf(message, sizeof message, fmt, ap);
    last_code = code;
    last_http = http_status;
    snprintf(last_type, sizeof last_type, "%s", type ? type : "");
    return code;
}

int client__error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(code, 0, NULL, fmt, ap);
    va_end(ap);
    return code;
}

int client__error_http(int code, int http_status, const char *type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(code, http_status, type, fmt, ap);
    va_end(ap);
    return code;
}

FMUGW_EXTERN(const char *) fmugw_client_error_last(void)
{
    return message;
}

FMUGW_EXTERN(int) fmugw_client_error_code(void)
{
    return last_code;
}

FMUGW_EXTERN(int) fmugw_client_error_http_status(void)
{
    return last_http;
}

FMUGW_EXTERN(const char *) fmugw_client_error_type(void)
{
    return last_type;
}

FMUGW_EXTERN(void) fmugw_client_error_clear(void)
{
    message[0] = '\0';
    last_type[0] = '\0';
    last_code = 0;
    last_http = 0;
}

FMUGW_EXTERN(const char *) fmugw_client_error_name(int code)
{
    switch (code) {
    case FMUGW_CLIENT_OK: return "FMUGW_CLIENT_OK";
    case FMUGW_CLIENT_ERROR: return "FMUGW_CLIENT_ERROR";
    case FMUGW_CLIENT_EUSAGE: return "FMUGW_CLIENT_EUSAGE";
    case FMUGW_CLIENT_ECONFIG: return "FMUGW_CLIENT_ECONFIG";
    case FMUGW_CLIENT_EAUTH: return "FMUGW_CLIENT_EAUTH";
    case FMUGW_CLIENT_EFORBIDDEN: return "FMUGW_CLIENT_EFORBIDDEN";
    case FMUGW_CLIENT_ENOTFOUND: return "FMUGW_CLIENT_ENOTFOUND";
    case FMUGW_CLIENT_ECREDITS: return "FMUGW_CLIENT_ECREDITS";
    case FMUGW_CLIENT_ERATELIMITED: return "FMUGW_CLIENT_ERATELIMITED";
    case FMUGW_CLIENT_ECONFLICT: return "FMUGW_CLIENT_ECONFLICT";
    case FMUGW_CLIENT_EINVALID: return "FMUGW_CLIENT_EINVALID";
    case FMUGW_CLIENT_EJOBFAILED: return "FMUGW_CLIENT_EJOBFAILED";
    case FMUGW_CLIENT_ENETWORK: return "FMUGW_CLIENT_ENETWORK";
    case FMUGW_CLIENT_ESERVER: return "FMUGW_CLIENT_ESERVER";
    case FMUGW_CLIENT_ETIMEOUT: return "FMUGW_CLIENT_ETIMEOUT";
    }
    return "FMUGW_CLIENT_E?";
}

FMUGW_EXTERN(void) fmugw_free(void *p)
{
    free(p);
}

FMUGW_EXTERN(const char *) fmugw_version(void)
{
    return FMUGW_VERSION;
}
