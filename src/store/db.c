/*
 * db.c - the backend-independent half of the SQL seam (db.h): URL dispatch
 * to a backend, the variadic binders, transactions with retry on a busy
 * database, and the connection pool. Nothing here knows SQLite.
 */
#include "db_backend.h"
#include "util/error.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const db_backend *const backends[] = {&db_sqlite_backend};

int db_open(db_conn **out, const char *url)
{
    *out = NULL;
    if (!url)
        return fmugw_error_set(FMUGW_EINVALID, "no database URL");
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
        size_t n = strlen(backends[i]->scheme);
        if (strncmp(url, backends[i]->scheme, n) == 0)
            return backends[i]->open(out, url + n);
    }
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0)
        return fmugw_error_set(FMUGW_EUNSUPPORTED, "the PostgreSQL backend is not built into this binary");
    return fmugw_error_set(FMUGW_EINVALID, "unsupported database URL scheme (expected sqlite:///abs/path.db)");
}

void db_close(db_conn *c)
{
    if (!c)
        return;
    if (c->tx_depth)
        c->be->rollback(c);
    c->be->close(c);
}

int db_url_default(char **out, const char *data_dir)
{
    *out = NULL;
    if (!data_dir || data_dir[0] != '/')
        return fmugw_error_set(FMUGW_EINVALID, "the data directory must be an absolute path");
    size_t n = strlen(data_dir);
    while (n > 1 && data_dir[n - 1] == '/')
        n--;
    size_t len = strlen("sqlite://") + n + strlen("/fmugw.db") + 1;
    char *p = malloc(len);
    if (!p)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    snprintf(p, len, "sqlite://%.*s/fmugw.db", (int)(n == 1 ? 0 : n), data_dir);
    *out = p;
    return 0;
}

const char *db_backend_name(const db_conn *c)
{
    return c->be->name;
}

/* ---- change epoch (db.h: db_change_epoch) ---- */

static void epoch_bump(db_conn *c)
{
    uint64_t *n = c->be->change_counter ? c->be->change_counter(c) : NULL;
    if (n)
        __atomic_add_fetch(n, 1, __ATOMIC_SEQ_CST);
}

uint64_t db_change_epoch(db_conn *c)
{
    uint64_t *n = c->be->change_counter ? c->be->change_counter(c) : NULL;
    return n ? __atomic_load_n(n, __ATOMIC_SEQ_CST) : 0;
}

int db_exec(db_conn *c, const char *sql)
{
    if (c->tx_depth)
        return c->be->exec(c, sql);
    epoch_bump(c); /* may write (DDL, pragmas): treated as a write */
    int rc = c->be->exec(c, sql);
    epoch_bump(c);
    return rc;
}

int db_prepare(db_stmt **out, db_conn *c, const char *sql)
{
    *out = NULL;
    int rc = c->be->prepare(out, c, sql);
    if (rc == 0) {
        (*out)->autocommit_write = !c->tx_depth && !(c->be->readonly && c->be->readonly(*out));
        if ((*out)->autocommit_write)
            epoch_bump(c);
    }
    return rc;
}

int db_bind_int64(db_stmt *st, int idx, int64_t v)
{
    return st->conn->be->bind_int64(st, idx, v);
}

int db_bind_text(db_stmt *st, int idx, const char *text)
{
    if (!text)
        return st->conn->be->bind_null(st, idx);
    return st->conn->be->bind_text(st, idx, text);
}

int db_bind_blob(db_stmt *st, int idx, const void *data, size_t len)
{
    if (!data)
        return st->conn->be->bind_null(st, idx);
    return st->conn->be->bind_blob(st, idx, data, len);
}

int db_bind_null(db_stmt *st, int idx)
{
    return st->conn->be->bind_null(st, idx);
}

static int bind_va(db_stmt *st, const char *types, va_list ap)
{
    int rc = 0;
    for (int i = 0; types && types[i] && rc == 0; i++) {
        int idx = i + 1;
        switch (types[i]) {
        case 'i':
            rc = db_bind_int64(st, idx, va_arg(ap, int64_t));
            break;
        case 't':
            rc = db_bind_text(st, idx, va_arg(ap, const char *));
            break;
        case 'b': {
            const void *p = va_arg(ap, const void *);
            size_t n = va_arg(ap, size_t);
            rc = db_bind_blob(st, idx, p, n);
            break;
        }
        case 'n':
            rc = db_bind_null(st, idx);
            break;
        default:
            rc = fmugw_error_set(FMUGW_EINVALID, "db_bind_v: unknown type letter '%c'", types[i]);
        }
    }
    return rc;
}

int db_bind_v(db_stmt *st, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    int rc = bind_va(st, types, ap);
    va_end(ap);
    return rc;
}

int db_query(db_stmt **out, db_conn *c, const char *sql, const char *types, ...)
{
    db_stmt *st = NULL;
    int rc = db_prepare(&st, c, sql);
    if (rc == 0) {
        va_list ap;
        va_start(ap, types);
        rc = bind_va(st, types, ap);
        va_end(ap);
    }
    if (rc != 0) {
        db_finalize(st);
        st = NULL;
    }
    *out = st;
    return rc;
}

int db_execp(int64_t *changes, db_conn *c, const char *sql, const char *types, ...)
{
    db_stmt *st = NULL;
    int rc = db_prepare(&st, c, sql);
    if (rc == 0) {
        va_list ap;
        va_start(ap, types);
        rc = bind_va(st, types, ap);
        va_end(ap);
    }
    while (rc == 0 && (rc = db_step(st)) == 1)
        rc = 0; /* rows of a RETURNING clause are ignored */
    if (rc == 0 && changes)
        *changes = db_changes(c);
    db_finalize(st);
    return rc;
}

int db_step(db_stmt *st)
{
    return st->conn->be->step(st);
}

int db_reset(db_stmt *st)
{
    int rc = st->conn->be->reset(st);
    if (st->autocommit_write)
        epoch_bump(st->conn); /* the statement's implicit commit is over */
    return rc;
}

void db_finalize(db_stmt *st)
{
    if (!st)
        return;
    db_conn *c = st->conn;
    bool wrote = st->autocommit_write;
    c->be->finalize(st);
    if (wrote)
        epoch_bump(c);
}

int64_t db_changes(db_conn *c)
{
    return c->be->changes(c);
}

int db_column_count(db_stmt *st)
{
    return st->conn->be->column_count(st);
}

db_type db_column_type(db_stmt *st, int col)
{
    return st->conn->be->column_type(st, col);
}

bool db_column_is_null(db_stmt *st, int col)
{
    return st->conn->be->column_type(st, col) == DB_NULL;
}

int64_t db_column_int64(db_stmt *st, int col)
{
    return st->conn->be->column_int64(st, col);
}

double db_column_double(db_stmt *st, int col)
{
    return st->conn->be->column_double(st, col);
}

const char *db_column_text(db_stmt *st, int col)
{
    if (db_column_is_null(st, col))
        return NULL;
    return st->conn->be->column_text(st, col);
}

const void *db_column_blob(db_stmt *st, int col, size_t *len)
{
    *len = 0;
    if (db_column_is_null(st, col))
        return NULL;
    return st->conn->be->column_blob(st, col, len);
}

int db_column_text_dup(char **out, db_stmt *st, int col)
{
    *out = NULL;
    const char *s = db_column_text(st, col);
    if (!s)
        return 0;
    *out = strdup(s);
    return *out ? 0 : fmugw_error_set(FMUGW_ENOMEM, "out of memory");
}

int db_begin(db_conn *c)
{
    if (c->tx_depth)
        return fmugw_error_set(FMUGW_EINVALID, "a transaction is already open on this connection");
    epoch_bump(c);
    int rc = c->be->begin(c);
    if (rc == 0)
        c->tx_depth = 1;
    else
        epoch_bump(c);
    return rc;
}

int db_commit(db_conn *c)
{
    if (!c->tx_depth)
        return fmugw_error_set(FMUGW_EINVALID, "no transaction is open");
    int rc = c->be->commit(c);
    if (rc == 0) {
        c->tx_depth = 0;
        epoch_bump(c);
    }
    return rc; /* on failure the transaction is still open: roll it back */
}

int db_rollback(db_conn *c)
{
    if (!c->tx_depth)
        return 0;
    c->tx_depth = 0;
    int rc = c->be->rollback(c);
    epoch_bump(c);
    return rc;
}

bool db_in_transaction(const db_conn *c)
{
    return c->tx_depth != 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int db_transact(db_conn *c, db_tx_fn fn, void *ctx)
{
    if (c->tx_depth)
        return fn(c, ctx); /* join the caller's transaction */

    long backoff = 1, waited = 0;
    for (;;) {
        int rc = db_begin(c);
        if (rc == 0) {
            rc = fn(c, ctx);
            if (rc == 0)
                rc = db_commit(c);
            if (rc != 0) {
                /* Keep fn's message: the rollback must not overwrite it. */
                char msg[512];
                snprintf(msg, sizeof msg, "%s", fmugw_error_last());
                db_rollback(c);
                fmugw_error_set(rc, "%s", msg);
            }
        }
        if (rc != FMUGW_ECONFLICT || waited >= 10000)
            return rc;
        sleep_ms(backoff);
        waited += backoff;
        backoff = backoff < 128 ? backoff * 2 : 128;
    }
}

/* ---- pool ---- */

struct db_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *url;
    unsigned size, opened, n_idle;
    db_conn **idle; /* stack of idle connections */
    db_conn *first; /* opened at start, kept until close: its change counter */
};

int db_pool_open(db_pool **out, const char *url, unsigned size)
{
    *out = NULL;
    if (size == 0)
        return fmugw_error_set(FMUGW_EINVALID, "a pool needs at least one connection");
    db_pool *p = calloc(1, sizeof *p);
    if (!p || !(p->url = strdup(url)) || !(p->idle = calloc(size, sizeof *p->idle))) {
        if (p)
            free(p->url);
        free(p);
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->size = size;
    /* Open one connection now so a bad URL fails at start-up. */
    db_conn *c = NULL;
    int rc = db_open(&c, url);
    if (rc != 0) {
        db_pool_close(p);
        return rc;
    }
    p->idle[p->n_idle++] = c;
    p->opened = 1;
    p->first = c;
    *out = p;
    return 0;
}

uint64_t db_pool_change_epoch(db_pool *p)
{
    return db_change_epoch(p->first);
}

int db_pool_acquire(db_conn **out, db_pool *p)
{
    *out = NULL;
    pthread_mutex_lock(&p->mu);
    while (p->n_idle == 0 && p->opened == p->size)
        pthread_cond_wait(&p->cv, &p->mu);
    if (p->n_idle > 0) {
        *out = p->idle[--p->n_idle];
        pthread_mutex_unlock(&p->mu);
        return 0;
    }
    p->opened++; /* reserve the slot, open outside the lock */
    pthread_mutex_unlock(&p->mu);
    int rc = db_open(out, p->url);
    if (rc != 0) {
        pthread_mutex_lock(&p->mu);
        p->opened--;
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    return rc;
}

void db_pool_release(db_pool *p, db_conn *c)
{
    if (!c)
        return;
    if (c->tx_depth)
        db_rollback(c);
    if (c->be->idle)
        c->be->idle(c);
    pthread_mutex_lock(&p->mu);
    p->idle[p->n_idle++] = c;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void db_pool_close(db_pool *p)
{
    if (!p)
        return;
    for (unsigned i = 0; i < p->n_idle; i++)
        db_close(p->idle[i]);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->idle);
    free(p->url);
    free(p);
}
