/*
 * defer.c - answers that are not made on a libmicrohttpd polling thread.
 *
 * No request may hold a polling thread: a thread held by one request is a
 * thread every other connection on it waits for (a handful of 30 s
 * long-polls used to take /healthz down). Two ways out, both suspending the
 * connection (MHD_suspend_connection) until the answer is set:
 *
 *   parked     http_request_park(): the request waits for something (a job
 *              to change state). One waiter thread holds every parked
 *              request; it calls each one's wait function when
 *              http_server_wake() is called, every `recheck_ms`, and a last
 *              time at its deadline. Wait functions must not block.
 *   offloaded  http_request_offload(): slow work (validating an upload,
 *              decrypting a large download) runs on a small pool of
 *              offload threads with a bounded queue.
 *
 * A parked request whose client hung up (conn_guard.c sees the socket's
 * other side closed, at each recheck) gets its final call at once: its
 * account's long-poll slot is free again within a recheck, not after the
 * deadline.
 *
 * Both are bounded (HTTP_DEFER_MAX_PARKED, the offload queue): past the
 * bound the request is answered 503 with Retry-After, at once.
 *
 * Order of events for one request: the handler asks (DEFER_ASKED) and
 * returns without a response; server.c suspends the connection
 * (DEFER_SUSPENDED) and hands it here; the deferred part sets the response;
 * finish() marks it DEFER_DONE and resumes the connection, after which the
 * request belongs to its polling thread again (server.c queues the answer)
 * and nothing here touches it.
 */
#include "http/conn_guard.h"
#include "http/defer.h"
#include "http/server_internal.h"
#include "util/error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct http_deferred {
    http_request *req;
    http_wait_fn wait;    /* parked */
    http_work_fn work;    /* offloaded */
    void *ud;
    void (*free_fn)(void *);
    int64_t deadline_ms;  /* parked: the final call */
    int64_t recheck_ms;   /* parked: 0 = only on wake and at the deadline */
    int64_t next_ms;      /* parked: the next periodic call */
    struct http_deferred *next;
};

struct http_defer {
    pthread_mutex_t mu;
    pthread_cond_t waiter_cv;   /* wakes the waiter */
    pthread_cond_t workers_cv;  /* wakes an offload thread */
    pthread_cond_t idle_cv;     /* the last deferred request finished */
    bool stopping;              /* draining: parked requests get their final call at once */
    bool exiting;               /* the threads end (after the drain) */
    bool woken;                 /* evaluate every parked request */
    http_deferred *parked;
    unsigned nparked, max_parked;
    http_deferred *queue, *queue_tail;
    unsigned nqueued, max_queued, busy;
    pthread_t waiter;
    bool waiter_started;
    pthread_t *workers;
    unsigned nworkers;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void deferred_free(http_deferred *d)
{
    if (d->free_fn && d->ud)
        d->free_fn(d->ud);
    free(d);
}

/* The answer is set: hand the request back to its connection. */
static void finish(http_defer *df, http_deferred *d)
{
    http_request *req = d->req;
    if (req->resp == NULL)
        http_problem(req, HTTP_PROBLEM_INTERNAL, "the deferred handler produced no response");
    req->deferred = NULL;
    deferred_free(d);
    req->defer_state = DEFER_DONE;
    MHD_resume_connection(req->conn); /* from here on the request is not ours */
    pthread_mutex_lock(&df->mu);
    if (df->nparked == 0 && df->nqueued == 0 && df->busy == 0)
        pthread_cond_broadcast(&df->idle_cv);
    pthread_mutex_unlock(&df->mu);
}

/* ---- the waiter ------------------------------------------------------------ */

static void *waiter_main(void *arg)
{
    http_defer *df = arg;
    pthread_mutex_lock(&df->mu);
    for (;;) {
        if (df->exiting && df->nparked == 0)
            break;
        int64_t now = mono_ms(), due = now + 1000;
        for (http_deferred *d = df->parked; d; d = d->next) {
            if (d->deadline_ms < due)
                due = d->deadline_ms;
            if (d->recheck_ms && d->next_ms < due)
                due = d->next_ms;
        }
        bool finals = df->stopping && df->nparked > 0;
        if (!df->woken && !finals && due > now) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t ns = (int64_t)ts.tv_nsec + (due - now) * 1000000;
            ts.tv_sec += (time_t)(ns / 1000000000);
            ts.tv_nsec = (long)(ns % 1000000000);
            pthread_cond_timedwait(&df->waiter_cv, &df->mu, &ts);
            continue;
        }
        bool woken = df->woken, stopping = df->stopping;
        df->woken = false;
        http_deferred *list = df->parked;
        df->parked = NULL;
        pthread_mutex_unlock(&df->mu);

        /* The wait functions run without the lock: they may park-wake. */
        http_deferred *keep = NULL, *done = NULL;
        now = mono_ms();
        while (list) {
            http_deferred *d = list;
            list = d->next;
            bool periodic = d->recheck_ms && now >= d->next_ms;
            /* a client that hung up frees its slot now, not at the deadline */
            bool gone = periodic && http_conn_guard__peer_closed(d->req->srv->guard, d->req->conn);
            bool final = stopping || gone || now >= d->deadline_ms;
            bool run = final || woken || periodic;
            int r = run ? d->wait(d->req, d->ud, final) : 0;
            if (r != 0 || final) {
                d->next = done;
                done = d;
            } else {
                if (run && d->recheck_ms)
                    d->next_ms = now + d->recheck_ms;
                d->next = keep;
                keep = d;
            }
        }
        unsigned ndone = 0;
        for (http_deferred *d = done; d; d = d->next)
            ndone++;
        pthread_mutex_lock(&df->mu);
        /* Arrivals while unlocked are in df->parked; keep them ahead. */
        if (keep) {
            http_deferred *tail = keep;
            while (tail->next)
                tail = tail->next;
            tail->next = df->parked;
            df->parked = keep;
        }
        df->nparked -= ndone;
        pthread_mutex_unlock(&df->mu);
        while (done) {
            http_deferred *d = done;
            done = d->next;
            finish(df, d);
        }
        pthread_mutex_lock(&df->mu);
    }
    pthread_mutex_unlock(&df->mu);
    return NULL;
}

/* ---- the offload pool ----------------------------------------------------- */

static void *worker_main(void *arg)
{
    http_defer *df = arg;
    pthread_mutex_lock(&df->mu);
    for (;;) {
        while (!df->queue && !df->exiting)
            pthread_cond_wait(&df->workers_cv, &df->mu);
        if (!df->queue)
            break; /* exiting, queue drained */
        http_deferred *d = df->queue;
        df->queue = d->next;
        if (!df->queue)
            df->queue_tail = NULL;
        df->nqueued--;
        df->busy++;
        pthread_mutex_unlock(&df->mu);
        if (d->work(d->req, d->ud) != 0 && d->req->resp == NULL)
            http_problem(d->req, HTTP_PROBLEM_INTERNAL, "the offloaded handler failed");
        pthread_mutex_lock(&df->mu);
        df->busy--;
        pthread_mutex_unlock(&df->mu);
        finish(df, d);
        pthread_mutex_lock(&df->mu);
    }
    pthread_mutex_unlock(&df->mu);
    return NULL;
}

/* ---- lifecycle ------------------------------------------------------------- */

int http_defer__new(http_defer **out, unsigned workers, unsigned max_queued, unsigned max_parked)
{
    http_defer *df = calloc(1, sizeof *df);
    *out = NULL;
    if (!df)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    pthread_mutex_init(&df->mu, NULL);
    pthread_cond_init(&df->waiter_cv, NULL);
    pthread_cond_init(&df->workers_cv, NULL);
    pthread_cond_init(&df->idle_cv, NULL);
    df->max_queued = max_queued;
    df->max_parked = max_parked;
    df->workers = calloc(workers, sizeof *df->workers);
    if (!df->workers)
        goto fail;
    if (pthread_create(&df->waiter, NULL, waiter_main, df) != 0)
        goto fail;
    df->waiter_started = true;
    for (unsigned i = 0; i < workers; i++) {
        if (pthread_create(&df->workers[i], NULL, worker_main, df) != 0)
            goto fail;
        df->nworkers++;
    }
    *out = df;
    return 0;
fail:
    http_defer__free(df);
    return fmugw_error_set(FMUGW_ENOMEM, "cannot start the deferred-answer threads");
}

void http_defer__drain(http_defer *df)
{
    if (!df)
        return;
    pthread_mutex_lock(&df->mu);
    df->stopping = true;
    pthread_cond_broadcast(&df->waiter_cv);
    pthread_cond_broadcast(&df->workers_cv);
    while (df->nparked || df->nqueued || df->busy)
        pthread_cond_wait(&df->idle_cv, &df->mu);
    pthread_mutex_unlock(&df->mu);
}

void http_defer__free(http_defer *df)
{
    if (!df)
        return;
    pthread_mutex_lock(&df->mu);
    df->stopping = true;
    df->exiting = true;
    pthread_cond_broadcast(&df->waiter_cv);
    pthread_cond_broadcast(&df->workers_cv);
    pthread_mutex_unlock(&df->mu);
    if (df->waiter_started)
        pthread_join(df->waiter, NULL);
    for (unsigned i = 0; i < df->nworkers; i++)
        pthread_join(df->workers[i], NULL);
    free(df->workers);
    pthread_cond_destroy(&df->idle_cv);
    pthread_cond_destroy(&df->workers_cv);
    pthread_cond_destroy(&df->waiter_cv);
    pthread_mutex_destroy(&df->mu);
    free(df);
}

void http_defer__wake(http_defer *df)
{
    if (!df)
        return;
    pthread_mutex_lock(&df->mu);
    df->woken = true;
    pthread_cond_signal(&df->waiter_cv);
    pthread_mutex_unlock(&df->mu);
}

void http_defer__stats(http_defer *df, unsigned *parked, unsigned *queued, unsigned *busy)
{
    pthread_mutex_lock(&df->mu);
    *parked = df->nparked;
    *queued = df->nqueued;
    *busy = df->busy;
    pthread_mutex_unlock(&df->mu);
}

/* ---- asking (on the request's polling thread) -------------------------------- */

static int ask(http_request *req, http_deferred *d)
{
    if (req->defer_state != DEFER_NONE || req->srv->defer == NULL) {
        deferred_free(d);
        return http_problem(req, HTTP_PROBLEM_INTERNAL, "a request can be deferred only once");
    }
    d->req = req;
    req->deferred = d;
    req->defer_state = DEFER_ASKED;
    return 0;
}

static int refuse(http_request *req, http_deferred *d, const char *what)
{
    deferred_free(d);
    http_header_add(req, "Retry-After", "1");
    return http_problem(req, HTTP_PROBLEM_UNAVAILABLE, "the server has too many %s; try again shortly", what);
}

int http_request_park(http_request *req, unsigned max_wait_ms, unsigned recheck_ms, http_wait_fn fn, void *ud,
                      void (*free_fn)(void *))
{
    http_deferred *d = calloc(1, sizeof *d);
    if (!d) {
        if (free_fn && ud)
            free_fn(ud);
        return http_problem(req, HTTP_PROBLEM_INTERNAL, "out of memory");
    }
    d->wait = fn;
    d->ud = ud;
    d->free_fn = free_fn;
    int64_t now = mono_ms();
    d->deadline_ms = now + max_wait_ms;
    d->recheck_ms = recheck_ms;
    d->next_ms = now + recheck_ms;
    http_defer *df = req->srv->defer;
    if (df) {
        pthread_mutex_lock(&df->mu);
        bool full = df->nparked >= df->max_parked; /* when stopping: answered at once */
        pthread_mutex_unlock(&df->mu);
        if (full)
            return refuse(req, d, "waiting requests");
    }
    return ask(req, d);
}

int http_request_offload(http_request *req, http_work_fn fn, void *ud, void (*free_fn)(void *))
{
    http_deferred *d = calloc(1, sizeof *d);
    if (!d) {
        if (free_fn && ud)
            free_fn(ud);
        return http_problem(req, HTTP_PROBLEM_INTERNAL, "out of memory");
    }
    d->work = fn;
    d->ud = ud;
    d->free_fn = free_fn;
    http_defer *df = req->srv->defer;
    if (df) {
        pthread_mutex_lock(&df->mu);
        bool full = df->nqueued + df->busy >= df->max_queued + df->nworkers;
        pthread_mutex_unlock(&df->mu);
        if (full)
            return refuse(req, d, "requests in progress");
    }
    return ask(req, d);
}

/* Called by server.c once the connection is suspended. The bounds were
 * checked when asking; a request suspended past them is still taken (the
 * bound is soft by at most the polling threads' count). */
void http_defer__submit(http_defer *df, http_request *req)
{
    http_deferred *d = req->deferred;
    pthread_mutex_lock(&df->mu);
    if (d->wait) {
        d->next = df->parked;
        df->parked = d;
        df->nparked++;
        df->woken = true; /* a change between the handler's check and now is seen */
        pthread_cond_signal(&df->waiter_cv);
    } else {
        d->next = NULL;
        if (df->queue_tail)
            df->queue_tail->next = d;
        else
            df->queue = d;
        df->queue_tail = d;
        df->nqueued++;
        pthread_cond_signal(&df->workers_cv);
    }
    pthread_mutex_unlock(&df->mu);
}

/* The handler asked, then answered or failed anyway: forget the ask. */
void http_defer__cancel(http_request *req)
{
    if (req->deferred)
        deferred_free(req->deferred);
    req->deferred = NULL;
    req->defer_state = DEFER_NONE;
}
