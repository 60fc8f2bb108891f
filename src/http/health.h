/*
 * health.h - the operational routes of fmugwd: GET /healthz (the process
 * is alive), /readyz (a readiness callback decides), /metrics (Prometheus
 * text 0.0.4 of the server's registry) and /openapi.yaml (a file served as
 * is; 404 problem when it is missing). None of them needs auth (flags 0),
 * and /healthz, /readyz and /metrics are access-logged at debug level only
 * (probes would drown the log; a 5xx is still a warning), and counted.
 */
#ifndef FMUGW_HTTP_HEALTH_H
#define FMUGW_HTTP_HEALTH_H

#include <stddef.h>

#include "http/server.h"

/** Readiness check: return 0 when ready; otherwise write a short reason
 *  (no secrets: it is shown to the caller) into `why` and return non-zero.
 *  Called on a server worker thread for every GET /readyz. */
typedef int (*http_ready_fn)(void *ud, char *why, size_t why_size);

typedef struct http_health_options {
    const char *openapi_path; /**< file served at /openapi.yaml (copied); NULL = 404 */
    http_ready_fn ready;      /**< NULL = always ready */
    void *ready_ud;           /**< borrowed */
} http_health_options;

/** Adds the four routes to `srv` (before it starts). The options are
 *  copied into state the server owns (freed by http_server_free). */
int http_health_routes_add(http_server *srv, const http_health_options *opts);

#endif
