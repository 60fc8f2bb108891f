/*
 * defer.h - the framework's side of parked and offloaded requests (defer.c):
 * what server.c calls. Handlers use http_request_park() and
 * http_request_offload() from server.h.
 */
#ifndef FMUGW_HTTP_DEFER_H
#define FMUGW_HTTP_DEFER_H

#include "http/server.h"

typedef struct http_defer http_defer;
typedef struct http_deferred http_deferred;

/** Starts the waiter thread and `workers` offload threads; at most
 *  `max_queued` offloaded requests wait for a thread and `max_parked` are
 *  parked. */
int http_defer__new(http_defer **out, unsigned workers, unsigned max_queued, unsigned max_parked);

/** Refuses new deferrals, gives every parked request its final call, and
 *  waits until every deferred request has been handed back. */
void http_defer__drain(http_defer *df);

/** Drains, stops the threads and frees. NULL is a no-op. */
void http_defer__free(http_defer *df);

/** Every parked request is looked at again (http_server_wake). */
void http_defer__wake(http_defer *df);

/** Counts for /metrics and tests. */
void http_defer__stats(http_defer *df, unsigned *parked, unsigned *queued, unsigned *busy);

/** The request's connection is suspended: take its deferred part. */
void http_defer__submit(http_defer *df, http_request *req);

/** The handler asked to defer but answered anyway: drop the ask. */
void http_defer__cancel(http_request *req);

#endif
