/*
 * db_backend.h - what a metadata database backend implements (the vtable
 * behind db.h), in the style of curl's vtls and redis' ConnectionType.
 * Only backends (sqlite.c, later postgres.c) and db.c include this file.
 *
 * A backend allocates its own connection/statement structs whose FIRST
 * member is the `struct db_conn` / `struct db_stmt` base below, and returns
 * a pointer to that base. db.c does the generic parts (URL dispatch, the
 * variadic binders, transactions and their retry, the pool); the backend
 * only talks to its library. Every method returns 0 / FMUGW_E* as described
 * in db.h; a backend maps "busy / serialization failure" to FMUGW_ECONFLICT
 * (db_transact retries those) and unique violations to FMUGW_EEXISTS.
 */
#ifndef FMUGW_STORE_DB_BACKEND_H
#define FMUGW_STORE_DB_BACKEND_H

#include "db.h"

typedef struct db_backend {
    const char *name;   /* "sqlite" */
    const char *scheme; /* URL prefix it accepts, e.g. "sqlite://" */

    /** `rest` is the URL after the scheme. */
    int (*open)(db_conn **out, const char *rest);
    void (*close)(db_conn *c);
    int (*exec)(db_conn *c, const char *sql);
    int (*prepare)(db_stmt **out, db_conn *c, const char *sql);
    int (*bind_int64)(db_stmt *st, int idx, int64_t v);
    int (*bind_text)(db_stmt *st, int idx, const char *text);
    int (*bind_blob)(db_stmt *st, int idx, const void *data, size_t len);
    int (*bind_null)(db_stmt *st, int idx);
    int (*step)(db_stmt *st);
    int (*reset)(db_stmt *st);
    void (*finalize)(db_stmt *st);
    int64_t (*changes)(db_conn *c);
    int (*column_count)(db_stmt *st);
    db_type (*column_type)(db_stmt *st, int col);
    int64_t (*column_int64)(db_stmt *st, int col);
    double (*column_double)(db_stmt *st, int col);
    const char *(*column_text)(db_stmt *st, int col);
    const void *(*column_blob)(db_stmt *st, int col, size_t *len);
    int (*begin)(db_conn *c);
    int (*commit)(db_conn *c);
    int (*rollback)(db_conn *c);
    /* The connection goes back to a pool: end whatever a caller left open
     * (statements stepped but never reset or finalized keep a read
     * snapshot, and the next request would not see newer rows). Returns the
     * number of such statements. May be NULL. */
    int (*idle)(db_conn *c);
    /* True when the statement only reads (SELECT without side effects). */
    bool (*readonly)(db_stmt *st);
    /* The database's change counter, shared by every process using the
     * same database (see db_change_epoch in db.h); valid while `c` is
     * open. */
    uint64_t *(*change_counter)(db_conn *c);
} db_backend;

/** Base of every backend connection. */
struct db_conn {
    const db_backend *be;
    int tx_depth; /* 1 while db_begin's transaction is open (db.c owns it) */
};

/** Base of every backend statement. */
struct db_stmt {
    db_conn *conn;
    bool autocommit_write; /* writes outside db_begin: db.c bumps the change counter around it */
};

extern const db_backend db_sqlite_backend;

#endif
