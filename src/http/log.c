/* log.c - structured JSON log lines on one file descriptor (see log.h). */
#include "http/log.h"
#include "util/error.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static atomic_int log_level = FMUGW_LOG_INFO;
static atomic_int log_fd = 2;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void fmugw_log_set_level(int level)
{
    if (level < FMUGW_LOG_DEBUG)
        level = FMUGW_LOG_DEBUG;
    if (level > FMUGW_LOG_ERROR)
        level = FMUGW_LOG_ERROR;
    atomic_store(&log_level, level);
}

int fmugw_log_get_level(void)
{
    return atomic_load(&log_level);
}

void fmugw_log_set_fd(int fd)
{
    atomic_store(&log_fd, fd);
}

int fmugw_log_level_parse(int *out, const char *name)
{
    if (name == NULL)
        return fmugw_error_set(FMUGW_EINVALID, "log level missing");
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        *out = FMUGW_LOG_WARN;
        return 0;
    }
    return fmugw_error_set(FMUGW_EINVALID,
                           "unknown log level \"%s\" (debug, info, warn, error)", name);
}

const char *fmugw_log_level_name(int level)
{
    if (level < 0 || level > 3)
        return "info";
    return level_names[level];
}

char *fmugw_log_timestamp(char *buf, size_t size)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(ts.tv_nsec / 1000000L % 1000));
    if (n < 0 || (size_t)n >= size) /* a year past 9999: keep the line valid */
        snprintf(buf, size, "9999-12-31T23:59:59.999Z");
    return buf;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0)
            return; /* nowhere left to report a logging failure */
        p += w;
        n -= (size_t)w;
    }
}

void fmugw_log_json(int level, const char *msg, json_t *fields)
{
    json_t *line = NULL;
    char *text = NULL;
    char ts[40];
    const char *key;
    json_t *value;

    if (level < atomic_load(&log_level))
        goto out;
    line = json_object();
    if (line == NULL)
        goto out;
    json_object_set_new(line, "ts", json_string(fmugw_log_timestamp(ts, sizeof ts)));
    json_object_set_new(line, "level", json_string(fmugw_log_level_name(level)));
    json_object_set_new(line, "msg", json_string(msg ? msg : ""));
    if (json_is_object(fields)) {
        json_object_foreach(fields, key, value) {
            json_object_set(line, key, value);
        }
    }
    text = json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(10));
    if (text == NULL)
        goto out;
    size_t n = strlen(text);
    /* One write per line: append the newline in place. */
    char *withnl = realloc(text, n + 2);
    if (withnl == NULL)
        goto out;
    text = withnl;
    text[n] = '\n';
    text[n + 1] = '\0';
    write_all(atomic_load(&log_fd), text, n + 1);
out:
    free(text);
    json_decref(line);
    json_decref(fields);
}

void fmugw_log(int level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    if (level < atomic_load(&log_level))
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fmugw_log_json(level, msg, NULL);
}
