/*
 * conn_guard.h - per-connection header deadlines and the probe reserve
 * (conn_guard.c), as server.c uses them.
 */
#ifndef FMUGW_HTTP_CONN_GUARD_H
#define FMUGW_HTTP_CONN_GUARD_H

#include <microhttpd.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct http_conn_guard http_conn_guard;

/** Starts the reaper. Connections accepted while `max_connections` are
 *  open are reserve ones; headers are due `header_timeout_s` after accept
 *  and `keepalive_s` after each answer. */
int http_conn_guard__new(http_conn_guard **out, unsigned max_connections, unsigned header_timeout_s,
                         unsigned keepalive_s);

/** Stops the reaper and frees. NULL is a no-op. */
void http_conn_guard__free(http_conn_guard *g);

/** The accept policy (MHD_start_daemon's apc, cls = the guard): refuses,
 *  before anything is allocated, a connection the rules would cut at once
 *  (an address over its share under pressure, a second one in the reserve). */
enum MHD_Result http_conn_guard__accept(void *cls, const struct sockaddr *addr, socklen_t addrlen);

/** MHD_OPTION_NOTIFY_CONNECTION callback (cls = the guard). */
void http_conn_guard__notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                             enum MHD_ConnectionNotificationCode code);

/** The headers of a request are in: no deadline while it is served.
 *  Returns true for a reserve connection (probe routes only). */
bool http_conn_guard__request_begins(http_conn_guard *g, struct MHD_Connection *conn);

/** The answer is sent: the next request's headers are due. */
void http_conn_guard__request_ends(http_conn_guard *g, struct MHD_Connection *conn);

/** True when the client has closed its side (or the socket failed): a
 *  suspended request's answer would go nowhere. Never blocks. */
bool http_conn_guard__peer_closed(http_conn_guard *g, struct MHD_Connection *conn);

/** Open connections and connections cut at their deadline so far. */
void http_conn_guard__stats(http_conn_guard *g, unsigned *open, uint64_t *reaped);

#endif
