/*
 * conn_guard.c - connection-level defences of the HTTP framework: a
 * deadline for the request headers, and a reserve of connections for the
 * probe routes.
 *
 * libmicrohttpd cuts a connection only when it is idle for `timeout_s`; a
 * client trickling one header byte every few seconds (slowloris) is never
 * idle and holds its slot for ever, and enough of them fill the server.
 * Here every connection is tracked from accept (MHD_OPTION_NOTIFY_CONNECTION)
 * with a deadline: its headers must be complete `header_timeout_s` after it
 * opened, or `timeout_s` after its previous answer on keep-alive. A reaper
 * thread shuts the socket down when the deadline passes; libmicrohttpd
 * then sees the end of the stream and closes the connection the normal
 * way. The reaper acts on a dup of the socket taken at accept, so the
 * number it shuts down can never be a reused descriptor of another
 * connection.
 *
 * The reserve: libmicrohttpd accepts max_connections + probe_reserve. A
 * connection accepted while max_connections or more are open is a reserve
 * one: it gets RESERVE_HEADER_MS for its headers and may only ask for a
 * probe route (HTTP_ROUTE_PROBE); anything else is answered 503 and the
 * connection closed. A reserve connection from an address that already
 * holds RESERVE_PER_ADDRESS connections is cut at once: probes come one at
 * a time, floods do not.
 *
 * Pressure: the server must never reach its hard limit, where the kernel's
 * accept queue fills and every new client (a probe too) waits for SYN
 * retransmits (1 s, 3 s, 7 s). While PRESSURE_PERCENT of max_connections
 * or more are open, an address holding more than PRESSURE_PER_ADDRESS
 * connections has its connections that still wait for headers cut after
 * PRESSURE_HEADER_MS, and its new connections refused at accept (the
 * accept policy, before libmicrohttpd allocates anything: a flood of
 * reconnects costs an accept and a close each). Many slow clients from a
 * few addresses then hold PRESSURE_PER_ADDRESS slots each, not the server.
 */
#include "http/conn_guard.h"
#include "http/server_internal.h"
#include "util/error.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RESERVE_HEADER_MS 2000
#define RESERVE_PER_ADDRESS 4
#define PRESSURE_PERCENT 75
#define PRESSURE_PER_ADDRESS 8
#define PRESSURE_HEADER_MS 1000
#define REAP_EVERY_MS 250
#define ADDR_BUCKETS 1024

/* Open connections of one client address. */
typedef struct addr_count {
    char addr[48];
    unsigned n;
    struct addr_count *next;
} addr_count;

typedef struct tracked {
    int fd;               /* our dup of the connection's socket; -1 when none */
    int64_t deadline_ms;  /* headers due by; 0 = a request is being served */
    int64_t waiting_since_ms; /* when it started waiting for headers */
    addr_count *addr;     /* its address's counter (NULL: unknown address) */
    bool reserve;
    bool reaped;
    struct tracked *prev, *next;
} tracked;

struct http_conn_guard {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    tracked *list;
    addr_count *addrs[ADDR_BUCKETS];
    unsigned open, max_connections;
    int64_t header_ms, keepalive_ms;
    uint64_t reaped, refused;
    bool stop;
    pthread_t reaper;
    bool reaper_started;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* g->mu held. */
static void cut(http_conn_guard *g, tracked *t)
{
    shutdown(t->fd, SHUT_RDWR);
    t->reaped = true;
    g->reaped++;
}

static unsigned addr_hash(const char *a)
{
    unsigned h = 2166136261u;
    for (; *a; a++)
        h = (h ^ (unsigned char)*a) * 16777619u;
    return h % ADDR_BUCKETS;
}

/* g->mu held. The counter of `addr`, one more connection; NULL on OOM. */
static addr_count *addr_take(http_conn_guard *g, const char *addr)
{
    unsigned h = addr_hash(addr);
    addr_count *c = g->addrs[h];
    while (c && strcmp(c->addr, addr) != 0)
        c = c->next;
    if (!c) {
        if (!(c = calloc(1, sizeof *c)))
            return NULL;
        snprintf(c->addr, sizeof c->addr, "%s", addr);
        c->next = g->addrs[h];
        g->addrs[h] = c;
    }
    c->n++;
    return c;
}

/* g->mu held. */
static void addr_drop(http_conn_guard *g, addr_count *c)
{
    if (!c || --c->n > 0)
        return;
    addr_count **p = &g->addrs[addr_hash(c->addr)];
    while (*p != c)
        p = &(*p)->next;
    *p = c->next;
    free(c);
}

static void sockaddr_text(char out[48], const struct sockaddr *sa)
{
    out[0] = '\0';
    if (!sa)
        return;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, 48);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, 48);
}

static void addr_text(char out[48], struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    sockaddr_text(out, ci ? ci->client_addr : NULL);
}

/* g->mu held. Connections `addr` holds now. */
static unsigned addr_held(http_conn_guard *g, const char *addr)
{
    for (addr_count *c = g->addrs[addr_hash(addr)]; c; c = c->next)
        if (!strcmp(c->addr, addr))
            return c->n;
    return 0;
}

enum MHD_Result http_conn_guard__accept(void *cls, const struct sockaddr *sa, socklen_t len)
{
    http_conn_guard *g = cls;
    char addr[48];
    (void)len;
    sockaddr_text(addr, sa);
    if (!addr[0])
        return MHD_YES;
    pthread_mutex_lock(&g->mu);
    unsigned held = addr_held(g, addr);
    bool reserve = g->open >= g->max_connections;
    bool pressure = g->open * 100 >= (uint64_t)g->max_connections * PRESSURE_PERCENT;
    bool refuse = (reserve && held >= RESERVE_PER_ADDRESS) || (pressure && held >= PRESSURE_PER_ADDRESS);
    if (refuse)
        g->refused++;
    pthread_mutex_unlock(&g->mu);
    return refuse ? MHD_NO : MHD_YES;
}

static void *reaper_main(void *arg)
{
    http_conn_guard *g = arg;
    pthread_mutex_lock(&g->mu);
    while (!g->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += REAP_EVERY_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g->cv, &g->mu, &ts);
        int64_t now = mono_ms();
        bool pressure = g->open * 100 >= (uint64_t)g->max_connections * PRESSURE_PERCENT;
        for (tracked *t = g->list; t; t = t->next) {
            if (!t->deadline_ms || t->reaped || t->fd < 0)
                continue;
            bool due = now >= t->deadline_ms ||
                       (pressure && t->addr && t->addr->n > PRESSURE_PER_ADDRESS &&
                        now - t->waiting_since_ms >= PRESSURE_HEADER_MS);
            if (due)
                cut(g, t);
        }
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

int http_conn_guard__new(http_conn_guard **out, unsigned max_connections, unsigned header_timeout_s,
                         unsigned keepalive_s)
{
    http_conn_guard *g = calloc(1, sizeof *g);
    *out = NULL;
    if (!g)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->max_connections = max_connections;
    g->header_ms = (int64_t)header_timeout_s * 1000;
    g->keepalive_ms = (int64_t)keepalive_s * 1000;
    if (pthread_create(&g->reaper, NULL, reaper_main, g) != 0) {
        http_conn_guard__free(g);
        return fmugw_error_set(FMUGW_ENOMEM, "cannot start the connection reaper");
    }
    g->reaper_started = true;
    *out = g;
    return 0;
}

void http_conn_guard__free(http_conn_guard *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->mu);
    g->stop = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    if (g->reaper_started)
        pthread_join(g->reaper, NULL);
    while (g->list) { /* connections the daemon never reported closed */
        tracked *t = g->list;
        g->list = t->next;
        if (t->fd >= 0)
            close(t->fd);
        free(t);
    }
    for (size_t i = 0; i < ADDR_BUCKETS; i++)
        while (g->addrs[i]) {
            addr_count *c = g->addrs[i];
            g->addrs[i] = c->next;
            free(c);
        }
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    free(g);
}

void http_conn_guard__notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                             enum MHD_ConnectionNotificationCode code)
{
    http_conn_guard *g = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        tracked *t = calloc(1, sizeof *t);
        if (!t)
            return; /* untracked: only the idle timeout applies */
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        t->fd = ci ? fcntl(ci->connect_fd, F_DUPFD_CLOEXEC, 0) : -1;
        char addr[48];
        addr_text(addr, conn);
        int64_t now = mono_ms();
        pthread_mutex_lock(&g->mu);
        t->reserve = g->open >= g->max_connections;
        t->waiting_since_ms = now;
        t->deadline_ms = now + (t->reserve ? RESERVE_HEADER_MS : g->header_ms);
        t->addr = addr[0] ? addr_take(g, addr) : NULL;
        t->next = g->list;
        if (g->list)
            g->list->prev = t;
        g->list = t;
        g->open++;
        bool pressure = g->open * 100 >= (uint64_t)g->max_connections * PRESSURE_PERCENT;
        unsigned held = t->addr ? t->addr->n : 0;
        if (t->fd >= 0 && ((t->reserve && held > RESERVE_PER_ADDRESS) || (pressure && held > PRESSURE_PER_ADDRESS)))
            cut(g, t); /* a flood, not a probe: the slot is free again at once */
        pthread_mutex_unlock(&g->mu);
        *socket_context = t;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        tracked *t = *socket_context;
        if (!t)
            return;
        *socket_context = NULL;
        pthread_mutex_lock(&g->mu);
        if (t->prev)
            t->prev->next = t->next;
        else
            g->list = t->next;
        if (t->next)
            t->next->prev = t->prev;
        addr_drop(g, t->addr);
        g->open--;
        pthread_mutex_unlock(&g->mu);
        if (t->fd >= 0)
            close(t->fd);
        free(t);
    }
}

static tracked *of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

bool http_conn_guard__request_begins(http_conn_guard *g, struct MHD_Connection *conn)
{
    tracked *t = g ? of(conn) : NULL;
    if (!t)
        return false;
    pthread_mutex_lock(&g->mu);
    t->deadline_ms = 0;
    bool reserve = t->reserve;
    pthread_mutex_unlock(&g->mu);
    return reserve;
}

void http_conn_guard__request_ends(http_conn_guard *g, struct MHD_Connection *conn)
{
    tracked *t = g ? of(conn) : NULL;
    if (!t)
        return;
    pthread_mutex_lock(&g->mu);
    /* A reserve connection stays one: it answers probes only. */
    int64_t now = mono_ms();
    t->waiting_since_ms = now;
    t->deadline_ms = now + (t->reserve ? RESERVE_HEADER_MS : g->keepalive_ms);
    pthread_mutex_unlock(&g->mu);
}

bool http_conn_guard__peer_closed(http_conn_guard *g, struct MHD_Connection *conn)
{
    tracked *t = g ? of(conn) : NULL;
    if (!t || t->fd < 0)
        return false;
    struct pollfd p = { .fd = t->fd, .events = POLLRDHUP };
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

void http_conn_guard__stats(http_conn_guard *g, unsigned *open, uint64_t *reaped)
{
    pthread_mutex_lock(&g->mu);
    *open = g->open;
    *reaped = g->reaped;
    pthread_mutex_unlock(&g->mu);
}
