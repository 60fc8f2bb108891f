/*
 * internal.h - what the files of libfmugw (src/client) share and the public
 * headers do not show: the client struct, the one HTTP request function
 * (auth headers, token refresh, retries, problem+json mapping, contract
 * log) and the thread-local error setter. Nothing here is exported.
 */
#ifndef FMUGW_CLIENT_INTERNAL_H
#define FMUGW_CLIENT_INTERNAL_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>

#include "fmugw.h"

/* Caps on what the server may send back into memory. */
#define CLIENT_MAX_BODY (64u << 20)
#define CLIENT_MAX_ERROR_BODY (1u << 20)

struct fmugw_client {
    CURL *curl;
    char *base_url;
    char *api_key;
    char *user_agent;
    char *token;
    double token_expiry;   /* monotonic seconds */
    double token_margin;   /* renew this long before expiry */
    int max_retries;
    int backoff_ms;
    int timeout_s;
    int proactive_refresh;
    FILE *contract_log;    /* FMUGW_CONTRACT_LOG, or NULL */
    fmugw_client_stats stats;
};

/* Flags of a request. */
enum {
    REQ_NOAUTH = 1,     /* no X-API-Key / Authorization (signed URLs, /auth/token builds its own) */
    REQ_IDEMPOTENT = 2, /* safe to repeat on 5xx / network errors (GET, DELETE, keyed POST) */
    REQ_LONG = 4        /* long-poll: the timeout is extended by `wait_s` */
};

typedef struct client__req {
    const char *method;
    const char *path;        /* "/fmu" (joined to the base URL) or an absolute URL */
    const char *body;        /* request body, or NULL */
    size_t body_len;
    const char *content_type;
    const char *idempotency_key;
    FILE *upload;            /* PUT body streamed from this file (rewound on retry) */
    unsigned long long upload_size;
    FILE *sink;              /* a 2xx body goes here (truncated on retry) instead of memory */
    fmugw_progress_cb progress;
    void *progress_ud;
    int flags;
    int wait_s;              /* REQ_LONG: extra seconds for the timeout */
} client__req;

typedef struct client__resp {
    long status;
    char *body;              /* NUL-terminated (non-2xx bodies always land here) */
    size_t len;
    char content_type[128];
    long retry_after;        /* seconds, -1 if absent */
} client__resp;

/** Sends a request with retries and token handling. Returns 0 on a 2xx
 *  answer; otherwise the mapped FMUGW_CLIENT_E* code with the message set.
 *  `r` is filled either way and freed with client__resp_free(). */
int client__send(fmugw_client *c, client__resp *r, const client__req *q);

/** Shorthand: a JSON request (body may be NULL) whose 2xx answer is parsed
 *  into *out (may be NULL to drop it). */
int client__json(fmugw_client *c, json_t **out, const char *method, const char *path, const json_t *body,
                 int flags);

/** Shorthand: a request whose 2xx body is returned as text (fmugw_free). */
int client__text(fmugw_client *c, char **out, const char *method, const char *path, int flags);

void client__resp_free(client__resp *r);

/** Records the thread's error (code, no HTTP status); returns code. */
int client__error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Records an error that came from the server. */
int client__error_http(int code, int http_status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/** GET/DELETE on "<prefix><escaped id><suffix>"; the 2xx answer as JSON
 *  text into *out when out is not NULL (fmugw_free). */
int client__on_id(fmugw_client *c, char **out, const char *method, const char *prefix, const char *id,
                  const char *suffix);

/** Percent-encodes one path segment (ids come from users). Caller frees. */
char *client__escape(const char *s);

/** Monotonic clock in seconds. */
double client__now(void);

#endif
