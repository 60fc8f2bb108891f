/*
 * log.h - structured JSON log lines (one object per line) for the daemon.
 *
 * Every line carries "ts" (RFC 3339 UTC, milliseconds), "level" and "msg",
 * followed by the caller's fields in insertion order. Lines go to one file
 * descriptor (stderr unless fmugw_log_set_fd() says otherwise), whole lines
 * only, so concurrent threads never interleave within a line.
 *
 * Two paths: fmugw_log_json()/fmugw_log() write at once (jansson builds the
 * line); fmugw_log_fields() (the access log: one line per request) formats
 * the line without jansson into an in-memory buffer that a background
 * thread writes every FMUGW_LOG_FLUSH_MS, or at once when
 * FMUGW_LOG_BUFFER_MAX bytes are pending. Order is kept: an immediate line
 * first writes what is pending. fmugw_log_flush() writes everything; it is
 * called at graceful shutdown (http_server_stop) and at exit, so no line is
 * lost; a forked child drops its copy of the buffer.
 * Callers must never pass secrets (API keys, tokens, passwords) as fields:
 * this module does not filter.
 */
#ifndef FMUGW_HTTP_LOG_H
#define FMUGW_HTTP_LOG_H

#include <jansson.h>

enum fmugw_log_level {
    FMUGW_LOG_DEBUG = 0,
    FMUGW_LOG_INFO = 1,
    FMUGW_LOG_WARN = 2,
    FMUGW_LOG_ERROR = 3
};

/** Lines below `level` are dropped (default FMUGW_LOG_INFO). Thread-safe. */
void fmugw_log_set_level(int level);

/** The current threshold. */
int fmugw_log_get_level(void);

/** Sends lines to `fd` (default 2), after writing the buffered ones to the
 *  previous fd. The fd stays the caller's. */
void fmugw_log_set_fd(int fd);

/** Parses "debug", "info", "warn"/"warning", "error" into *out;
 *  FMUGW_EINVALID for anything else. */
int fmugw_log_level_parse(int *out, const char *name);

/** The lowercase name of `level` ("info", ...). Static string. */
const char *fmugw_log_level_name(int level);

/** Writes one line: ts, level, msg, then the members of `fields` (may be
 *  NULL). Steals the reference to `fields` whether or not the line is
 *  written. */
void fmugw_log_json(int level, const char *msg, json_t *fields);

#define FMUGW_LOG_FLUSH_MS 100
#define FMUGW_LOG_BUFFER_MAX (32 * 1024)

/** One field of fmugw_log_fields(): `type` 's' (s, NULL writes null),
 *  'i' (i) or 'f' (f, written with 3 decimals). */
typedef struct {
    const char *key; /* a literal name: written as is, not escaped */
    char type;
    const char *s;
    long long i;
    double f;
} fmugw_log_field;

/** Buffered line: ts, level, msg, then the `n` fields (strings escaped as
 *  JSON, ASCII only; invalid UTF-8 becomes U+FFFD). */
void fmugw_log_fields(int level, const char *msg, const fmugw_log_field *fields, size_t n);

/** Writes every buffered line now. Thread-safe. */
void fmugw_log_flush(void);

/** Writes one line with a printf-formatted "msg" and no other fields. */
void fmugw_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/** Formats the current UTC time as RFC 3339 with milliseconds into buf
 *  (at least 32 bytes). Returns buf. */
char *fmugw_log_timestamp(char *buf, size_t size);

#endif
