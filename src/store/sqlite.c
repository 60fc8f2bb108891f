/*
 * sqlite.c - the SQLite backend of the SQL seam (db_backend.h): opens
 * `sqlite:///abs/path.db` with WAL, synchronous=FULL, foreign keys and a
 * busy timeout, rewrites `$N` parameters to `?N`, and maps SQLite result
 * codes to FMUGW_E* codes. See db.h for the thread rule (one thread per
 * connection at a time).
 *
 * Statement cache: each connection keeps up to STMT_CACHE prepared
 * statements keyed by their SQL text. db_prepare of a cached text that is
 * not in use takes it (no parsing); db_finalize resets it, clears its
 * bindings and gives it back. A text seen when the cache is full, or while
 * its cached statement is in use, gets a statement of its own, finalized as
 * before. Parsing was a third of the CPU of an authenticated GET.
 */
#include "db_backend.h"
#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 5000
#define STMT_CACHE 64

typedef struct {
    struct db_stmt base;
    sqlite3_stmt *s;
    char *sql;      /* cached: the text as given to db_prepare (owned); else NULL */
    uint64_t hash;  /* of sql */
    int in_use;     /* cached: handed out by sq_prepare, not yet finalized */
} sq_stmt;

typedef struct {
    struct db_conn base;
    sqlite3 *h;
    sq_stmt *cache[STMT_CACHE];
    size_t n_cache;
    uint64_t *epoch; /* the mapped `<db>-epoch` page (db.h: db_change_epoch) */
} sq_conn;

static int map_epoch(uint64_t **out, const char *db_path);

static sqlite3 *H(db_conn *c)
{
    return ((sq_conn *)c)->h;
}

static sqlite3_stmt *S(db_stmt *st)
{
    return ((sq_stmt *)st)->s;
}

/* Maps an SQLite result code to an FMUGW_E* code and records a message. */
static int sq_error(sqlite3 *h, int rc, const char *what)
{
    int ext = h ? sqlite3_extended_errcode(h) : rc;
    const char *msg = h ? sqlite3_errmsg(h) : sqlite3_errstr(rc);
    int code;
    switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
        code = (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY) ? FMUGW_EEXISTS
                                                                                         : FMUGW_EINVALID;
        break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        code = FMUGW_ECONFLICT;
        break;
    case SQLITE_NOMEM:
        code = FMUGW_ENOMEM;
        break;
    case SQLITE_ERROR:
    case SQLITE_RANGE:
    case SQLITE_MISMATCH:
        code = FMUGW_EINVALID;
        break;
    default:
        code = FMUGW_EIO;
    }
    return fmugw_error_set(code, "sqlite: %s: %s", what, msg);
}

/* Rewrites `$N` to `?N` outside '...' literals, "..." identifiers and
 * comments. The result is malloc'd (same length). */
static char *rewrite_params(const char *sql)
{
    size_t n = strlen(sql);
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    memcpy(out, sql, n + 1);
    for (size_t i = 0; i < n; i++) {
        char ch = out[i];
        if (ch == '\'' || ch == '"') {
            for (i++; i < n && out[i] != ch; i++)
                ; /* a doubled quote simply closes and reopens */
        } else if (ch == '-' && out[i + 1] == '-') {
            while (i < n && out[i] != '\n')
                i++;
        } else if (ch == '/' && out[i + 1] == '*') {
            for (i += 2; i + 1 < n && !(out[i] == '*' && out[i + 1] == '/'); i++)
                ;
            i++;
        } else if (ch == '$' && out[i + 1] >= '0' && out[i + 1] <= '9') {
            out[i] = '?';
        }
    }
    return out;
}

static int sq_exec(db_conn *c, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(H(c), sql, NULL, NULL, &err);
    if (rc != SQLITE_OK) {
        int code = sq_error(H(c), rc, "exec");
        sqlite3_free(err);
        return code;
    }
    return 0;
}

/* Reads one PRAGMA's text value into buf, to check that a setting took. */
static int pragma_value(sqlite3 *h, const char *sql, char *buf, size_t cap)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(h, sql, -1, &s, NULL);
    buf[0] = '\0';
    if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(s, 0);
        snprintf(buf, cap, "%s", t ? (const char *)t : "");
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK && rc != SQLITE_DONE)
        rc = sq_error(h, rc, sql);
    else
        rc = 0;
    sqlite3_finalize(s);
    return rc;
}

static int sq_open(db_conn **out, const char *rest)
{
    /* sqlite:///abs/path.db -> rest = "/abs/path.db" */
    int rc = 0;
    sq_conn *c = NULL;
    char val[32];
    if (rest[0] != '/' || rest[1] == '\0')
        return fmugw_error_set(FMUGW_EINVALID, "sqlite URL must name an absolute file: sqlite:///abs/path.db");

    /* Create the file ourselves so it (and the -wal/-shm files SQLite
     * derives from its mode) is private to the service. Only when it does
     * not exist yet: close() of ANY descriptor of a file drops every POSIX
     * lock this process holds on it, so opening and closing an existing
     * database behind SQLite's back would silently unlock the other
     * connections of this process (stale snapshots, "disk I/O error"). */
    struct stat st;
    if (stat(rest, &st) != 0) {
        int fd = open(rest, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0 && errno != EEXIST)
            return fmugw_error_set(FMUGW_EIO, "cannot create database %s: %s", rest, strerror(errno));
        if (fd >= 0)
            close(fd); /* a new file: nobody holds locks on it yet */
    }

    c = calloc(1, sizeof *c);
    if (!c)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    c->base.be = &db_sqlite_backend;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_NOFOLLOW;
    int src = sqlite3_open_v2(rest, &c->h, flags, NULL);
    if (src != SQLITE_OK) {
        rc = sq_error(c->h, src, "open");
        goto out;
    }
    sqlite3_extended_result_codes(c->h, 1);
    sqlite3_busy_timeout(c->h, BUSY_TIMEOUT_MS);
    /* journal_mode=WAL needs a write lock on first switch; the busy timeout
     * covers concurrent openers. */
    if ((rc = pragma_value(c->h, "PRAGMA journal_mode=WAL", val, sizeof val)) != 0)
        goto out;
    if (strcmp(val, "wal") != 0) {
        rc = fmugw_error_set(FMUGW_EIO, "sqlite: cannot switch %s to WAL (journal_mode=%s)", rest, val);
        goto out;
    }
    rc = sq_exec(&c->base, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA trusted_schema=OFF;");
    if (rc != 0)
        goto out;
    if ((rc = pragma_value(c->h, "PRAGMA foreign_keys", val, sizeof val)) != 0)
        goto out;
    if (strcmp(val, "1") != 0) {
        rc = fmugw_error_set(FMUGW_EUNSUPPORTED, "sqlite: this SQLite build cannot enforce foreign keys");
        goto out;
    }
    rc = map_epoch(&c->epoch, rest);
out:
    if (rc != 0) {
        sqlite3_close_v2(c->h);
        free(c);
        return rc;
    }
    *out = &c->base;
    return 0;
}

/* Maps `<db>-epoch`, a page whose first 8 bytes are the change counter that
 * every process using this database shares (db.h: db_change_epoch). It is
 * not a SQLite file, so opening and closing it here is harmless. */
static int map_epoch(uint64_t **out, const char *db_path)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s-epoch", db_path) >= (int)sizeof path)
        return fmugw_error_set(FMUGW_EINVALID, "database path too long");
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return fmugw_error_set(FMUGW_EIO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0 || (st.st_size < 4096 && ftruncate(fd, 4096) != 0)) {
        rc = fmugw_error_set(FMUGW_EIO, "cannot size %s: %s", path, strerror(errno));
    } else {
        void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED)
            rc = fmugw_error_set(FMUGW_EIO, "cannot map %s: %s", path, strerror(errno));
        else
            *out = m;
    }
    close(fd);
    return rc;
}

static uint64_t *sq_change_counter(db_conn *c)
{
    return ((sq_conn *)c)->epoch;
}

static bool sq_readonly(db_stmt *st)
{
    return sqlite3_stmt_readonly(S(st)) != 0;
}

static void sq_close(db_conn *c)
{
    sq_conn *sc = (sq_conn *)c;
    if (sc->epoch)
        munmap(sc->epoch, 4096);
    for (size_t i = 0; i < sc->n_cache; i++) {
        sqlite3_finalize(sc->cache[i]->s);
        free(sc->cache[i]->sql);
        free(sc->cache[i]);
    }
    sqlite3_close_v2(H(c));
    free(c);
}

static uint64_t sql_hash(const char *sql)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)sql; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h;
}

static int sq_prepare(db_stmt **out, db_conn *c, const char *sql)
{
    sq_conn *sc = (sq_conn *)c;
    uint64_t hash = sql_hash(sql);
    for (size_t i = 0; i < sc->n_cache; i++) {
        sq_stmt *hit = sc->cache[i];
        if (hit->hash == hash && !hit->in_use && strcmp(hit->sql, sql) == 0) {
            hit->in_use = 1;
            *out = &hit->base;
            return 0;
        }
    }
    char *q = rewrite_params(sql);
    if (!q)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    sq_stmt *st = calloc(1, sizeof *st);
    if (!st) {
        free(q);
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    }
    st->base.conn = c;
    const char *tail = NULL;
    int src = sqlite3_prepare_v3(H(c), q, -1, SQLITE_PREPARE_PERSISTENT, &st->s, &tail);
    int rc = 0;
    if (src != SQLITE_OK)
        rc = sq_error(H(c), src, "prepare");
    else if (!st->s)
        rc = fmugw_error_set(FMUGW_EINVALID, "sqlite: prepare: empty statement");
    else if (tail && strspn(tail, " \t\r\n;") != strlen(tail))
        rc = fmugw_error_set(FMUGW_EINVALID, "sqlite: prepare: more than one statement");
    free(q);
    if (rc != 0) {
        sqlite3_finalize(st->s);
        free(st);
        return rc;
    }
    /* keep it for the next db_prepare of the same text, if there is room
     * (an uncached statement is simply finalized by sq_finalize) */
    if (sc->n_cache < STMT_CACHE && (st->sql = strdup(sql)) != NULL) {
        st->hash = hash;
        st->in_use = 1;
        sc->cache[sc->n_cache++] = st;
    }
    *out = &st->base;
    return 0;
}

static int bind_rc(db_stmt *st, int src)
{
    return src == SQLITE_OK ? 0 : sq_error(H(st->conn), src, "bind");
}

static int sq_bind_int64(db_stmt *st, int idx, int64_t v)
{
    return bind_rc(st, sqlite3_bind_int64(S(st), idx, v));
}

static int sq_bind_text(db_stmt *st, int idx, const char *text)
{
    return bind_rc(st, sqlite3_bind_text(S(st), idx, text, -1, SQLITE_TRANSIENT));
}

static int sq_bind_blob(db_stmt *st, int idx, const void *data, size_t len)
{
    return bind_rc(st, sqlite3_bind_blob64(S(st), idx, data, len, SQLITE_TRANSIENT));
}

static int sq_bind_null(db_stmt *st, int idx)
{
    return bind_rc(st, sqlite3_bind_null(S(st), idx));
}

static int sq_step(db_stmt *st)
{
    int src = sqlite3_step(S(st));
    if (src == SQLITE_ROW)
        return 1;
    if (src == SQLITE_DONE)
        return 0;
    int rc = sq_error(H(st->conn), src, "step");
    sqlite3_reset(S(st)); /* so the statement can be retried or finalized cleanly */
    return rc;
}

static int sq_reset(db_stmt *st)
{
    int src = sqlite3_reset(S(st));
    return src == SQLITE_OK ? 0 : sq_error(H(st->conn), src, "reset");
}

static void sq_finalize(db_stmt *st)
{
    sq_stmt *s = (sq_stmt *)st;
    if (s->sql) { /* cached: back to the connection's cache, clean */
        sqlite3_reset(s->s);
        sqlite3_clear_bindings(s->s);
        s->in_use = 0;
        return;
    }
    sqlite3_finalize(s->s);
    free(s);
}

static int64_t sq_changes(db_conn *c)
{
    return sqlite3_changes64(H(c));
}

static int sq_column_count(db_stmt *st)
{
    return sqlite3_column_count(S(st));
}

static db_type sq_column_type(db_stmt *st, int col)
{
    switch (sqlite3_column_type(S(st), col)) {
    case SQLITE_INTEGER:
        return DB_INT;
    case SQLITE_FLOAT:
        return DB_FLOAT;
    case SQLITE_TEXT:
        return DB_TEXT;
    case SQLITE_BLOB:
        return DB_BLOB;
    default:
        return DB_NULL;
    }
}

static int64_t sq_column_int64(db_stmt *st, int col)
{
    return sqlite3_column_int64(S(st), col);
}

static double sq_column_double(db_stmt *st, int col)
{
    return sqlite3_column_double(S(st), col);
}

static const char *sq_column_text(db_stmt *st, int col)
{
    return (const char *)sqlite3_column_text(S(st), col);
}

static const void *sq_column_blob(db_stmt *st, int col, size_t *len)
{
    const void *p = sqlite3_column_blob(S(st), col);
    *len = (size_t)sqlite3_column_bytes(S(st), col);
    return p;
}

static int sq_begin(db_conn *c)
{
    return sq_exec(c, "BEGIN IMMEDIATE");
}

static int sq_commit(db_conn *c)
{
    return sq_exec(c, "COMMIT");
}

static int sq_rollback(db_conn *c)
{
    if (sqlite3_get_autocommit(H(c)))
        return 0; /* SQLite already rolled back (e.g. after SQLITE_FULL) */
    return sq_exec(c, "ROLLBACK");
}

static int sq_idle(db_conn *c)
{
    int leaked = 0;
    for (sqlite3_stmt *st = sqlite3_next_stmt(H(c), NULL); st; st = sqlite3_next_stmt(H(c), st))
        if (sqlite3_stmt_busy(st)) {
            sqlite3_reset(st);
            leaked++;
        }
    if (!sqlite3_get_autocommit(H(c)))
        sq_exec(c, "ROLLBACK");
    return leaked;
}

const db_backend db_sqlite_backend = {
    .name = "sqlite",
    .scheme = "sqlite://",
    .open = sq_open,
    .close = sq_close,
    .exec = sq_exec,
    .prepare = sq_prepare,
    .bind_int64 = sq_bind_int64,
    .bind_text = sq_bind_text,
    .bind_blob = sq_bind_blob,
    .bind_null = sq_bind_null,
    .step = sq_step,
    .reset = sq_reset,
    .finalize = sq_finalize,
    .readonly = sq_readonly,
    .change_counter = sq_change_counter,
    .changes = sq_changes,
    .column_count = sq_column_count,
    .column_type = sq_column_type,
    .column_int64 = sq_column_int64,
    .column_double = sq_column_double,
    .column_text = sq_column_text,
    .column_blob = sq_column_blob,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .idle = sq_idle,
};
