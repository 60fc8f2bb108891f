/* error.c - the thread-local last-error message (see error.h). */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last[1024];

int fmugw_error_set(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last, sizeof last, fmt, ap);
    va_end(ap);
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
