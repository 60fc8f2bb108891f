/* error.c - the thread-local last-error message (see error.h). */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last[1024];

int fmugw_error_set(int code, const char *fmt, ...)
{
    /* Format into a scratch buffer first: callers may pass
     * fmugw_error_last() itself as an argument to add context. */
    char msg[sizeof last];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    memcpy(last, msg, sizeof last);
    return code;
}

const char *fmugw_error_last(void)
{
    return last;
}

void fmugw_error_clear(void)
{
    last[0] = '\0';
}
