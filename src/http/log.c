/* log.c - structured JSON log lines on one file descriptor (see log.h):
 * immediate lines built with jansson, and the buffered access-log lines
 * formatted by hand and written by a flusher thread. */
#include "http/log.h"
#include "util/error.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
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

/* ---- the buffer ---------------------------------------------------------
 * write_lock serialises every write to the fd (so the buffer's lines and
 * immediate ones stay in order); buf_lock guards the pending bytes.
 * Appenders only take buf_lock, unless the buffer is full. */
static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t buf_lock = PTHREAD_MUTEX_INITIALIZER;
static char *pending;          /* FMUGW_LOG_BUFFER_MAX + one line's slack */
static size_t pending_len, pending_cap;
static pthread_once_t flusher_once = PTHREAD_ONCE_INIT;

static void write_all(int fd, const char *p, size_t n);

/* With write_lock held: takes the pending bytes and writes them. */
static void flush_locked(void)
{
    char *out = NULL;
    size_t n = 0;
    pthread_mutex_lock(&buf_lock);
    if (pending_len) {
        out = malloc(pending_len);
        if (out) {
            memcpy(out, pending, pending_len);
            n = pending_len;
        }
        pending_len = 0; /* out of memory: the lines are dropped, not kept forever */
    }
    pthread_mutex_unlock(&buf_lock);
    if (out)
        write_all(atomic_load(&log_fd), out, n);
    free(out);
}

void fmugw_log_flush(void)
{
    pthread_mutex_lock(&write_lock);
    flush_locked();
    pthread_mutex_unlock(&write_lock);
}

static void *flusher(void *arg)
{
    (void)arg;
    const struct timespec d = {FMUGW_LOG_FLUSH_MS / 1000, (FMUGW_LOG_FLUSH_MS % 1000) * 1000000L};
    for (;;) {
        nanosleep(&d, NULL);
        pthread_mutex_lock(&buf_lock);
        size_t n = pending_len;
        pthread_mutex_unlock(&buf_lock);
        if (n)
            fmugw_log_flush();
    }
    return NULL;
}

/* A forked child must not write the parent's pending lines again. */
static void after_fork_child(void)
{
    pthread_mutex_init(&write_lock, NULL);
    pthread_mutex_init(&buf_lock, NULL);
    pending_len = 0;
}

static void start_flusher(void)
{
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&at, 64 * 1024);
    if (pthread_create(&t, &at, flusher, NULL) != 0) /* then each append flushes */
        pending_cap = (size_t)-1;
    pthread_attr_destroy(&at);
    pthread_atfork(NULL, NULL, after_fork_child);
    atexit(fmugw_log_flush);
}

/* Appends one whole line (with its newline) to the buffer. */
static void append_line(const char *line, size_t n)
{
    pthread_once(&flusher_once, start_flusher);
    bool full = false, direct = false;
    pthread_mutex_lock(&buf_lock);
    if (pending_cap == (size_t)-1) {
        direct = true; /* no flusher thread: write through */
    } else {
        if (pending_len + n > pending_cap) {
            size_t cap = pending_cap ? pending_cap : FMUGW_LOG_BUFFER_MAX + 4096;
            while (cap < pending_len + n)
                cap *= 2;
            char *p = realloc(pending, cap);
            if (p) {
                pending = p;
                pending_cap = cap;
            }
        }
        if (pending_len + n <= pending_cap) {
            memcpy(pending + pending_len, line, n);
            pending_len += n;
        } else {
            direct = true;
        }
        full = pending_len >= FMUGW_LOG_BUFFER_MAX;
    }
    pthread_mutex_unlock(&buf_lock);
    if (direct) {
        pthread_mutex_lock(&write_lock);
        flush_locked();
        write_all(atomic_load(&log_fd), line, n);
        pthread_mutex_unlock(&write_lock);
    } else if (full) {
        fmugw_log_flush();
    }
}

void fmugw_log_set_fd(int fd)
{
    pthread_mutex_lock(&write_lock);
    flush_locked();
    atomic_store(&log_fd, fd);
    pthread_mutex_unlock(&write_lock);
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
    /* The date and time to the second, formatted once per second per thread. */
    static _Thread_local time_t last_sec = (time_t)-1;
    static _Thread_local char last[24];
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec == last_sec && size >= 25) {
        unsigned ms = (unsigned)(ts.tv_nsec / 1000000L % 1000);
        memcpy(buf, last, 19);
        buf[19] = '.';
        buf[20] = (char)('0' + ms / 100);
        buf[21] = (char)('0' + ms / 10 % 10);
        buf[22] = (char)('0' + ms % 10);
        buf[23] = 'Z';
        buf[24] = '\0';
        return buf;
    }
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(ts.tv_nsec / 1000000L % 1000));
    if (n < 0 || (size_t)n >= size) /* a year past 9999: keep the line valid */
        snprintf(buf, size, "9999-12-31T23:59:59.999Z");
    else if (n == 24) {
        memcpy(last, buf, 19);
        last_sec = ts.tv_sec;
    }
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
    pthread_mutex_lock(&write_lock);
    flush_locked(); /* the buffered lines came first */
    write_all(atomic_load(&log_fd), text, n + 1);
    pthread_mutex_unlock(&write_lock);
out:
    free(text);
    json_decref(line);
    json_decref(fields);
}

/* ---- hand-formatted lines ------------------------------------------------ */

typedef struct {
    char *p;
    size_t len, cap;
    bool oom;
    char stack[1024];
} line_buf;

static void lb_put(line_buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 2 > b->cap) { /* + newline + NUL */
        size_t cap = b->cap * 2;
        while (cap < b->len + n + 2)
            cap *= 2;
        char *np = b->p == b->stack ? malloc(cap) : realloc(b->p, cap);
        if (!np) {
            b->oom = true;
            return;
        }
        if (b->p == b->stack)
            memcpy(np, b->stack, b->len);
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void lb_str(line_buf *b, const char *s)
{
    lb_put(b, s, strlen(s));
}

/* Decodes one UTF-8 sequence at s (n bytes left): its code point and
 * length, or -1 if invalid (overlong, surrogate, past U+10FFFF, cut). */
static long utf8_next(const unsigned char *s, size_t n, size_t *len)
{
    unsigned char c = s[0];
    size_t k;
    long cp, min;
    if (c < 0x80) {
        *len = 1;
        return c;
    }
    if (c >= 0xC2 && c <= 0xDF)
        k = 2, cp = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        k = 3, cp = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        k = 4, cp = c & 0x07, min = 0x10000;
    else
        return -1;
    if (k > n)
        return -1;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return -1;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return -1;
    *len = k;
    return cp;
}

/* A JSON string, ASCII only. */
static void lb_json_str(line_buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    char esc[16];
    lb_put(b, "\"", 1);
    while (n > 0) {
        size_t run = 0;
        while (run < n && p[run] >= 0x20 && p[run] < 0x7F && p[run] != '"' && p[run] != '\\')
            run++;
        lb_put(b, (const char *)p, run);
        p += run;
        n -= run;
        if (n == 0)
            break;
        size_t k = 1;
        long cp = utf8_next(p, n, &k);
        if (cp < 0) {
            cp = 0xFFFD;
            k = 1;
        }
        if (cp == '"')
            lb_put(b, "\\\"", 2);
        else if (cp == '\\')
            lb_put(b, "\\\\", 2);
        else if (cp == '\n')
            lb_put(b, "\\n", 2);
        else if (cp == '\t')
            lb_put(b, "\\t", 2);
        else if (cp == '\r')
            lb_put(b, "\\r", 2);
        else if (cp < 0x10000)
            lb_put(b, esc, (size_t)snprintf(esc, sizeof esc, "\\u%04lx", cp));
        else {
            long v = cp - 0x10000;
            lb_put(b, esc, (size_t)snprintf(esc, sizeof esc, "\\u%04lx\\u%04lx", 0xD800 + (v >> 10),
                                            0xDC00 + (v & 0x3FF)));
        }
        p += k;
        n -= k;
    }
    lb_put(b, "\"", 1);
}

void fmugw_log_fields(int level, const char *msg, const fmugw_log_field *fields, size_t n)
{
    char ts[40], num[48];
    line_buf b = {.len = 0, .cap = sizeof b.stack, .oom = false};
    b.p = b.stack;

    if (level < atomic_load(&log_level))
        return;
    lb_str(&b, "{\"ts\":\"");
    lb_str(&b, fmugw_log_timestamp(ts, sizeof ts));
    lb_str(&b, "\",\"level\":\"");
    lb_str(&b, fmugw_log_level_name(level));
    lb_str(&b, "\",\"msg\":");
    lb_json_str(&b, msg ? msg : "");
    for (size_t i = 0; i < n; i++) {
        const fmugw_log_field *f = &fields[i];
        lb_str(&b, ",\"");
        lb_str(&b, f->key);
        lb_str(&b, "\":");
        switch (f->type) {
        case 's':
            if (f->s)
                lb_json_str(&b, f->s);
            else
                lb_str(&b, "null");
            break;
        case 'i':
            lb_put(&b, num, (size_t)snprintf(num, sizeof num, "%lld", f->i));
            break;
        default:
            lb_put(&b, num, (size_t)snprintf(num, sizeof num, "%.3f", f->f));
            break;
        }
    }
    lb_str(&b, "}\n");
    if (!b.oom)
        append_line(b.p, b.len);
    if (b.p != b.stack)
        free(b.p);
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
