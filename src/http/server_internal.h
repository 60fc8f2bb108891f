/*
 * server_internal.h - the HTTP framework's own structures, shared by its
 * files (server.c: daemon, router, requests; defer.c: parked and offloaded
 * requests; conn_guard.c: per-connection deadlines and the probe reserve).
 * Nothing outside src/http/server*.c, defer.c and conn_guard.c includes it.
 */
#ifndef FMUGW_HTTP_SERVER_INTERNAL_H
#define FMUGW_HTTP_SERVER_INTERNAL_H

#include "http/server.h"

#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <time.h>

#define MAX_REQUEST_ID 64

struct http_defer;
struct http_conn_guard;

typedef struct segment {
    char *text; /* literal text, or the parameter name */
    int param;
} segment;

typedef struct route_entry {
    http_route r;       /* method/pattern/name point into owned copies */
    char *method, *pattern, *name;
    segment *segs;
    size_t nsegs, nliteral;
} route_entry;

typedef struct attachment {
    void *p;
    void (*free_fn)(void *);
    struct attachment *next;
} attachment;

struct http_server {
    http_server_options opts;
    char *listen;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    struct MHD_Daemon *daemon;
    char address[80];
    unsigned port;
    route_entry *routes;
    size_t nroutes;
    metrics *metrics;
    int own_metrics;
    atomic_uint in_flight;
    atomic_int stopping;
    pthread_mutex_t lock;
    pthread_cond_t idle;
    attachment *attachments;
    struct http_defer *defer;       /* parked and offloaded requests (defer.c) */
    struct http_conn_guard *guard;  /* connection deadlines, probe reserve (conn_guard.c) */
};

typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} arena_block;

typedef struct header_item {
    const char *name, *value;
    struct header_item *next;
} header_item;

struct http_request {
    http_server *srv;
    struct MHD_Connection *conn;
    arena_block *arena;
    const char *method, *path;
    char id[MAX_REQUEST_ID + 1];
    char client_ip[INET6_ADDRSTRLEN];
    struct timespec t0;
    route_entry *route;
    const char **param_names, **param_values;
    size_t nparams;
    /* body */
    int streaming;
    size_t max_body, received, discarded;
    char *body;
    size_t body_len, body_cap;
    json_t *json;
    /* response */
    struct MHD_Response *resp;
    int status;
    int queued;          /* handed to MHD */
    int pending;         /* rejected mid-body: queue at the final call */
    uint64_t bytes_out;  /* body bytes (fixed size, or counted by a stream) */
    header_item *headers;
    void *user;
    void (*user_free)(void *);
    /* deferred answer (defer.c): set by http_request_park/_offload in a
     * handler; the connection is suspended until the deferred part has set
     * the response, then resumed and the response queued. */
    int close_after;     /* Connection: close on the answer */
    int defer_state;     /* DEFER_NONE, DEFER_ASKED, DEFER_SUSPENDED, DEFER_DONE */
    struct http_deferred *deferred;
};

enum { DEFER_NONE, DEFER_ASKED, DEFER_SUSPENDED, DEFER_DONE };


#endif
