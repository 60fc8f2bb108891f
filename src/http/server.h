/*
 * server.h - the HTTP server framework of fmugwd, on libmicrohttpd.
 *
 * What it gives a resource handler:
 *   - a router: method + path pattern with `{name}` segments
 *     ("/fmu/{id}/download"); unknown paths answer 404, known paths with
 *     another method 405 (with Allow), both as problem+json;
 *   - a request context (http_request) that lives from the first byte of
 *     the request to the end of its response, with an arena: everything
 *     allocated with http_request_alloc()/_strdup()/_printf() is freed at
 *     once when the request completes;
 *   - headers, query parameters and path parameters (borrowed strings, valid
 *     for the request's lifetime);
 *   - the body, either buffered up to a cap (413 past it; default 1 MiB) or
 *     streamed chunk by chunk to the route's `on_body` callback (uploads:
 *     never whole in memory); JSON bodies parsed with jansson under a size
 *     and a nesting-depth cap (400 problem when malformed);
 *   - responses: JSON, bytes, a FILE* or a pull callback streamed in 64 KiB
 *     blocks (downloads), and RFC 9457 problems with a stable `type` URI per
 *     error class and `instance` = the request id;
 *   - an X-Request-Id on every response (a sane incoming one is kept, else
 *     16 random bytes in hex), one JSON access-log line per request (never
 *     any header value, never the query string: signed URLs carry their
 *     signature there), request counters and a latency histogram in a
 *     metrics registry;
 *   - a `before` hook run for every routed request after routing and before
 *     any body is read (auth, rate limiting), with per-route flags;
 *   - graceful shutdown: stop accepting, let in-flight requests finish
 *     within a deadline, then stop.
 *
 * Early answers. A response set by `before` or `start` (or a 404/405/413)
 * is sent without reading the body; if the client announced a body the
 * connection is then closed after the answer, otherwise it stays alive. A
 * response set by `on_body` (or a cap hit mid-body) is sent once the rest
 * of the body has been read and dropped (at most 4 MiB more, after which
 * the connection is closed without an answer).
 *
 * Handler contract. Callbacks (before, start, on_body, handler) return 0 to
 * go on. To answer early they set a response (usually `return
 * http_problem(...)`, which sets a problem and returns HTTP_STOP) and return
 * non-zero; a non-zero return without a response becomes a 500 problem. The
 * final `handler` must set a response (else 500), or defer it. All
 * callbacks of one request run on one libmicrohttpd polling thread, one
 * after the other, and none may block it: every connection on that thread
 * waits meanwhile. A handler that must wait parks the request
 * (http_request_park: a job's state change) and one with slow work
 * offloads it (http_request_offload: validation, decryption); see
 * "Deferred answers" below.
 *
 * Connections. Besides the total and per-address caps, a connection must
 * deliver its request headers within `header_timeout_s` of opening (or of
 * its previous answer, on keep-alive), or it is closed: a slow-header
 * client holds a slot for seconds, not forever. `probe_reserve`
 * connections above `max_connections` are kept for the probe routes
 * (HTTP_ROUTE_PROBE, e.g. /healthz): a connection accepted into the
 * reserve gets 2 s for its headers and may only ask a probe route (others
 * get 503), so a full server still answers its health checks.
 *
 * Ownership. The server owns its routes (patterns are copied; `ud` pointers
 * are borrowed unless handed over with http_server_attach()). Strings
 * returned by http_request_* are borrowed from the request. json_t values
 * given to http_respond_json()/http_problem_ext() are stolen.
 * http_server_free(NULL) is a no-op.
 */
#ifndef FMUGW_HTTP_SERVER_H
#define FMUGW_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <jansson.h>

#include "http/metrics.h"

typedef struct http_server http_server;
typedef struct http_request http_request;

/** Returned by callbacks (and by http_problem()) to stop the request. */
#define HTTP_STOP (-1)

/* ---- problem types (RFC 9457) ---------------------------------------- */

/** Base of every problem `type` URI: HTTP_PROBLEM_BASE "<slug>". */
#define HTTP_PROBLEM_BASE "https://fmu-gateway.dev/problems/"

/** The error classes: X(enum suffix, slug, status, title). The slugs are a
 *  public contract (clients switch on the type URI): never rename one. */
#define HTTP_PROBLEM_LIST(X)                                              \
    X(BAD_REQUEST, "bad-request", 400, "Bad Request")                     \
    X(UNAUTHORIZED, "unauthorized", 401, "Unauthorized")                  \
    X(INSUFFICIENT_CREDITS, "insufficient-credits", 402, "Insufficient Credits") \
    X(FORBIDDEN, "forbidden", 403, "Forbidden")                           \
    X(NOT_FOUND, "not-found", 404, "Not Found")                           \
    X(METHOD_NOT_ALLOWED, "method-not-allowed", 405, "Method Not Allowed") \
    X(CONFLICT, "conflict", 409, "Conflict")                              \
    X(PAYLOAD_TOO_LARGE, "payload-too-large", 413, "Payload Too Large")   \
    X(UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", 415, "Unsupported Media Type") \
    X(UNPROCESSABLE, "unprocessable", 422, "Unprocessable Content")       \
    X(RATE_LIMITED, "rate-limited", 429, "Too Many Requests")             \
    X(INTERNAL, "internal", 500, "Internal Server Error")                 \
    X(UNAVAILABLE, "unavailable", 503, "Service Unavailable")

typedef enum http_problem_kind {
#define HTTP_PROBLEM_ENUM(name, slug, status, title) HTTP_PROBLEM_##name,
    HTTP_PROBLEM_LIST(HTTP_PROBLEM_ENUM)
#undef HTTP_PROBLEM_ENUM
    HTTP_PROBLEM__COUNT
} http_problem_kind;

/** The slug of `kind` ("not-found"); "internal" for an unknown kind. */
const char *http_problem_slug(http_problem_kind kind);

/** The HTTP status of `kind`. */
int http_problem_status(http_problem_kind kind);

/** The problem kind for an FMUGW_E* code (ENOTFOUND -> NOT_FOUND, EINVALID
 *  -> BAD_REQUEST, ETOOBIG -> PAYLOAD_TOO_LARGE, EAUTH -> UNAUTHORIZED,
 *  EFORBIDDEN -> FORBIDDEN, EEXISTS/ECONFLICT -> CONFLICT, ELIMIT ->
 *  RATE_LIMITED, EUNSAFE/EFMU/EUNSUPPORTED -> UNPROCESSABLE, else
 *  INTERNAL). */
http_problem_kind http_problem_from_error(int code);

/* ---- server ------------------------------------------------------------ */

/** Called for every routed request after routing, before any body byte is
 *  read. Return 0 to go on, or set a response / return http_problem(). */
typedef int (*http_before_fn)(http_request *req, void *ud);

/** Options of http_server_new(); zero fields take the default noted. */
typedef struct http_server_options {
    const char *listen;         /**< "ADDR:PORT", "[v6]:PORT"; port 0 = any. Default "127.0.0.1:8080" */
    unsigned threads;           /**< worker thread pool size. Default 4 */
    size_t connection_memory;   /**< per-connection memory (caps the request
                                     line + headers, about half of it). Default 64 KiB */
    unsigned timeout_s;         /**< idle connection timeout: slow clients are cut. Default 30 */
    unsigned max_connections;   /**< total connections. Default 1024 */
    unsigned per_ip_connections; /**< connections per client address. Default 64; UINT_MAX = no limit */
    size_t max_body;            /**< default cap of a buffered body. Default 1 MiB */
    unsigned json_max_depth;    /**< nesting cap for JSON bodies. Default 32 */
    unsigned header_timeout_s;  /**< time to deliver the request headers. Default 10 */
    unsigned probe_reserve;     /**< connections kept for probe routes above max_connections. Default 32 */
    unsigned offload_threads;   /**< threads for offloaded work. Default 4 */
    unsigned offload_queue;     /**< offloaded requests that may wait for a thread. Default 256 */
    unsigned max_parked;        /**< parked requests at once. Default 1024 */
    http_before_fn before;      /**< optional middleware hook */
    void *before_ud;
    metrics *metrics;           /**< registry to record into (borrowed); NULL = the server's own */
} http_server_options;

/** Creates a stopped server: add routes, then http_server_start(). The
 *  options are copied. FMUGW_EINVALID for a bad listen address. */
int http_server_new(http_server **out, const http_server_options *opts);

/** Starts listening and serving. FMUGW_EIO if the address cannot be bound. */
int http_server_start(http_server *srv);

/** The bound port (the real one when 0 was asked), 0 before start. */
unsigned http_server_port(const http_server *srv);

/** The bound address as "ADDR:PORT" (borrowed; "" before start). */
const char *http_server_address(const http_server *srv);

/** The metrics registry the server records into (borrowed). */
metrics *http_server_metrics(http_server *srv);

/** Number of requests being processed right now. */
unsigned http_server_in_flight(http_server *srv);

/** Hands `p` to the server: free_fn(p) runs in http_server_free() (after
 *  the server has stopped), in reverse order of attachment. */
int http_server_attach(http_server *srv, void *p, void (*free_fn)(void *));

/** Graceful stop: stops accepting connections at once, waits up to
 *  `deadline_ms` for in-flight requests to finish, then stops the server
 *  (closing what is left). Returns 0 if everything finished in time,
 *  FMUGW_ELIMIT if the deadline cut requests off. Idempotent. */
int http_server_shutdown(http_server *srv, unsigned deadline_ms);

/** Stops the server if running (deadline 0) and frees it. */
void http_server_free(http_server *srv);

/* ---- routes ------------------------------------------------------------ */

/** Route flags the framework defines; the `before` hook interprets them.
 *  Bits from HTTP_ROUTE_USER on are free for the integrator. */
enum {
    HTTP_ROUTE_NEEDS_AUTH = 1u << 0, /**< the before hook must authenticate */
    HTTP_ROUTE_QUIET = 1u << 1,      /**< access-log line at debug level (probes) */
    HTTP_ROUTE_PROBE = 1u << 2,      /**< a health probe: served on reserve connections */
    HTTP_ROUTE_USER = 1u << 8
};

/** Final handler: the body (if buffered) is complete. Must set a response. */
typedef int (*http_handler_fn)(http_request *req, void *ud);

/** Called once after `before`, before the body: may reject early (e.g. a
 *  bad signature on an upload URL) without reading the body. */
typedef int (*http_start_fn)(http_request *req, void *ud);

/** Streamed body: called for each chunk as it arrives (chunks are at most a
 *  few tens of KiB; the data is only valid during the call). */
typedef int (*http_body_fn)(http_request *req, const char *data, size_t len, void *ud);

/** One route. Only method, pattern and handler are required. */
typedef struct http_route {
    const char *method;     /**< "GET", "POST", ... (HEAD is served by GET) */
    const char *pattern;    /**< "/fmu/{id}": `{name}` matches one non-empty segment */
    http_handler_fn handler;
    http_start_fn start;    /**< optional */
    http_body_fn on_body;   /**< optional: stream the body instead of buffering */
    size_t max_body;        /**< body cap: 0 = server default when buffered,
                                 no cap when streamed; SIZE_MAX = no cap */
    unsigned flags;         /**< HTTP_ROUTE_* */
    const char *name;       /**< metrics/log label; default = pattern */
    void *ud;               /**< passed to every callback (borrowed) */
} http_route;

/** Adds a route (before start). When several patterns match, the one with
 *  more literal segments wins ("/fmu/upload" over "/fmu/{id}").
 *  FMUGW_EINVALID for a bad pattern, FMUGW_EEXISTS for a duplicate. */
int http_server_route(http_server *srv, const http_route *route);

/* ---- the request ------------------------------------------------------- */

/** "GET", "PUT", ... (borrowed). */
const char *http_request_method(const http_request *req);

/** The decoded path without the query string (borrowed). */
const char *http_request_path(const http_request *req);

/** This request's id (echoed in X-Request-Id and problem `instance`). */
const char *http_request_id(const http_request *req);

/** The matched route's name (pattern unless named) and flags. */
const char *http_request_route_name(const http_request *req);
unsigned http_request_route_flags(const http_request *req);

/** A request header (case-insensitive name) or NULL. */
const char *http_request_header(http_request *req, const char *name);

/** A query parameter (decoded) or NULL. "?a" gives "" for a. */
const char *http_request_query(http_request *req, const char *name);

/** How many times the query names `name` ("?a=1&a=2" gives 2 for a):
 *  http_request_query() gives only the first. */
size_t http_request_query_count(http_request *req, const char *name);

/** A path parameter from the pattern (`{id}` -> "id") or NULL. */
const char *http_request_param(const http_request *req, const char *name);

/** The client address as text ("127.0.0.1", "::1"); borrowed. */
const char *http_request_client_ip(const http_request *req);

/** Content-Length if the client sent one, else -1. */
int64_t http_request_content_length(http_request *req);

/** The buffered body (NUL-terminated for convenience; NULL and 0 if none
 *  or if the route streams it). Borrowed. */
const char *http_request_body(const http_request *req, size_t *len);

/** Parses the buffered body as JSON (size capped by the route's body cap,
 *  nesting by json_max_depth, duplicate keys refused). On success *out is
 *  borrowed (freed with the request). On failure a problem is set and
 *  HTTP_STOP returned, so `if ((rc = http_request_json(&j, req))) return
 *  rc;` is the idiom: 400 for malformed, empty or too deep JSON, 415 when
 *  a Content-Type is sent that is neither application/json nor *+json. */
int http_request_json(json_t **out, http_request *req);

/** Arena allocation owned by the request, zeroed; NULL on OOM. */
void *http_request_alloc(http_request *req, size_t size);
char *http_request_strdup(http_request *req, const char *s);
char *http_request_printf(http_request *req, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/** Attaches a per-request value (e.g. the authenticated principal set by
 *  the before hook); free_fn (may be NULL) runs when the request ends. */
void http_request_set_user(http_request *req, void *p, void (*free_fn)(void *));
void *http_request_user(const http_request *req);

/* ---- responses ---------------------------------------------------------- */

/** Adds a response header (copied), e.g. Location, Retry-After. May be
 *  called before or after the response is set. */
int http_header_add(http_request *req, const char *name, const char *value);

/** Sets a JSON response; steals `body` (NULL body -> "{}"). */
int http_respond_json(http_request *req, int status, json_t *body);

/** Sets a response from bytes (copied). */
int http_respond_bytes(http_request *req, int status, const char *content_type,
                       const void *data, size_t len);

/** Pull callback for streamed responses: fill `buf` with up to `max` bytes
 *  from offset `pos`; return the count, 0 at the end, <0 on error (the
 *  connection is then aborted). */
typedef ssize_t (*http_stream_fn)(void *ud, uint64_t pos, char *buf, size_t max);

/** Sets a streamed response. `size` is the total length or -1 if unknown
 *  (chunked). free_fn(ud) runs when the response is done with. */
int http_respond_stream(http_request *req, int status, const char *content_type,
                        int64_t size, http_stream_fn fn, void *ud,
                        void (*free_fn)(void *));

/** Streams an open file from its current position to its end; takes `f`
 *  (fclose'd when done, also on failure). size -1 = determine with fstat. */
int http_respond_file(http_request *req, int status, const char *content_type,
                      FILE *f, int64_t size);

/** Sets an application/problem+json response of class `kind` with a
 *  printf-style detail (fmt may be NULL); returns HTTP_STOP. */
int http_problem(http_request *req, http_problem_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** As http_problem(), with extension members merged from `ext` (stolen,
 *  may be NULL), e.g. {"errors": [{"field": "size", "message": "..."}]}. */
int http_problem_ext(http_request *req, http_problem_kind kind, const char *detail,
                     json_t *ext);

/** The response status set so far (0 = none yet). */
int http_response_status(const http_request *req);

/* ---- deferred answers ------------------------------------------------------
 * A handler defers its answer by calling one of these and returning their
 * result: 0 (deferred: no response yet) or HTTP_STOP with a 503 problem
 * (Retry-After: 1) when too many requests are deferred already. The
 * connection is suspended meanwhile (it holds no polling thread), then the
 * response the deferred part set is sent. `ud` is handed over: free_fn(ud)
 * (may be NULL) runs when the request is done with it, also on refusal.
 * Only the final `handler` may defer, once. */

/** Called on the server's waiter thread; must not block (no I/O beyond a
 *  quick database read). Return 0 to go on waiting, or set a response and
 *  return non-zero. With `final` set (the deadline passed, or the server
 *  is stopping) it must set a response. */
typedef int (*http_wait_fn)(http_request *req, void *ud, int final);

/** Parks the request: `fn` is called after every http_server_wake(), every
 *  `recheck_ms` (0 = never), and finally after `max_wait_ms`. */
int http_request_park(http_request *req, unsigned max_wait_ms, unsigned recheck_ms, http_wait_fn fn, void *ud,
                      void (*free_fn)(void *));

/** Slow work: runs on an offload thread; may block (bounded); must set a
 *  response (a non-zero return without one becomes a 500). */
typedef int (*http_work_fn)(http_request *req, void *ud);

/** Offloads the rest of the request to `fn`. */
int http_request_offload(http_request *req, http_work_fn fn, void *ud, void (*free_fn)(void *));

/** Something parked requests may wait for has happened: each wait function
 *  runs again soon. Cheap; callable from any thread. */
void http_server_wake(http_server *srv);

/** Parked, queued-for-offload and offloading requests right now. */
void http_server_deferred(http_server *srv, unsigned *parked, unsigned *queued, unsigned *running);

#endif
