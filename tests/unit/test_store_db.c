/*
 * test_store_db.c - the SQL seam (store/db.h) on a real SQLite file:
 * URLs, durability PRAGMAs, `$N` parameters, typed binds and reads, error
 * mapping, transactions (commit, rollback, nesting, retry on busy, two
 * writers on two connections), the pool across threads, and migrations
 * (idempotent, versioned, schema as expected).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/db.h"
#include "store/migrations.h"
#include "util/error.h"
#include "util/fsutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    char *dir;
    char url[700];
    char path[600];
    db_conn *c;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f || fmugw_mkdtemp(&f->dir, "fmugw-test-db-") != 0)
        return -1;
    snprintf(f->path, sizeof f->path, "%s/test.db", f->dir);
    snprintf(f->url, sizeof f->url, "sqlite://%s", f->path);
    if (db_open(&f->c, f->url) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    db_close(f->c);
    fmugw_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void pragma_text(db_conn *c, const char *sql, char *buf, size_t cap)
{
    db_stmt *st = NULL;
    assert_int_equal(db_prepare(&st, c, sql), 0);
    assert_int_equal(db_step(st), 1);
    const char *t = db_column_text(st, 0);
    snprintf(buf, cap, "%s", t ? t : "(null)");
    db_finalize(st);
}

static void test_urls(void **state)
{
    fixture *f = *state;
    db_conn *c = NULL;
    char *url = NULL;
    assert_int_equal(db_open(&c, "sqlite://relative.db"), FMUGW_EINVALID);
    assert_null(c);
    assert_int_equal(db_open(&c, "mysql://x"), FMUGW_EINVALID);
    assert_int_equal(db_open(&c, "postgres://localhost/fmugw"), FMUGW_EUNSUPPORTED);
    assert_int_equal(db_open(&c, "sqlite:///nonexistent-dir-fmugw/x.db"), FMUGW_EIO);
    assert_int_equal(db_url_default(&url, "/var/lib/fmugw/"), 0);
    assert_string_equal(url, "sqlite:///var/lib/fmugw/fmugw.db");
    free(url);
    assert_int_equal(db_url_default(&url, "relative"), FMUGW_EINVALID);
    assert_string_equal(db_backend_name(f->c), "sqlite");
    /* The file is private to the service. */
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_durability_pragmas(void **state)
{
    fixture *f = *state;
    char v[32];
    pragma_text(f->c, "PRAGMA journal_mode", v, sizeof v);
    assert_string_equal(v, "wal");
    pragma_text(f->c, "PRAGMA synchronous", v, sizeof v);
    assert_string_equal(v, "2"); /* FULL */
    pragma_text(f->c, "PRAGMA foreign_keys", v, sizeof v);
    assert_string_equal(v, "1");
    pragma_text(f->c, "PRAGMA busy_timeout", v, sizeof v);
    assert_true(atoi(v) >= 1000);
    /* A second connection gets the same per-connection settings. */
    db_conn *c2 = NULL;
    assert_int_equal(db_open(&c2, f->url), 0);
    pragma_text(c2, "PRAGMA synchronous", v, sizeof v);
    assert_string_equal(v, "2");
    pragma_text(c2, "PRAGMA foreign_keys", v, sizeof v);
    assert_string_equal(v, "1");
    db_close(c2);
}

static void test_params_and_types(void **state)
{
    fixture *f = *state;
    db_conn *c = f->c;
    db_stmt *st = NULL;
    assert_int_equal(db_exec(c, "CREATE TABLE t (a BIGINT, b TEXT, c BLOB, d TEXT)"), 0);
    const unsigned char blob[] = {0, 1, 2, 0xff, 0};
    /* $2 before $1, a repeated parameter, and '$1' inside a literal. */
    assert_int_equal(db_query(&st, c, "INSERT INTO t (b, a, c, d) VALUES ($2, $1, $3, '$1' || $2)", "itb",
                              (int64_t)INT64_MIN, "h\xc3\xa9llo", blob, sizeof blob),
                     0);
    assert_int_equal(db_step(st), 0);
    db_finalize(st);
    assert_int_equal(db_changes(c), 1);
    int64_t changes = -1;
    assert_int_equal(db_execp(&changes, c, "INSERT INTO t (a, b, c, d) VALUES ($1, $2, $3, $4)", "itnn",
                              (int64_t)INT64_MAX, (const char *)NULL),
                     0);
    assert_int_equal(changes, 1);

    assert_int_equal(db_query(&st, c, "SELECT a, b, c, d FROM t ORDER BY a", NULL), 0);
    assert_int_equal(db_column_count(st), 4);
    assert_int_equal(db_step(st), 1);
    assert_int_equal(db_column_type(st, 0), DB_INT);
    assert_true(db_column_int64(st, 0) == INT64_MIN);
    assert_string_equal(db_column_text(st, 1), "h\xc3\xa9llo");
    size_t n = 0;
    const void *p = db_column_blob(st, 2, &n);
    assert_int_equal(db_column_type(st, 2), DB_BLOB);
    assert_int_equal(n, sizeof blob);
    assert_memory_equal(p, blob, sizeof blob);
    assert_string_equal(db_column_text(st, 3), "$1h\xc3\xa9llo");
    assert_int_equal(db_step(st), 1);
    assert_true(db_column_int64(st, 0) == INT64_MAX);
    assert_true(db_column_is_null(st, 1));
    assert_null(db_column_text(st, 1));
    char *dup = (char *)"x";
    assert_int_equal(db_column_text_dup(&dup, st, 1), 0);
    assert_null(dup);
    assert_null(db_column_blob(st, 2, &n));
    assert_int_equal(n, 0);
    assert_int_equal(db_step(st), 0);
    /* reset re-runs with the same bindings */
    assert_int_equal(db_reset(st), 0);
    assert_int_equal(db_step(st), 1);
    db_finalize(st);

    /* Comments do not confuse the rewrite: the $1 in them stays. */
    assert_int_equal(db_query(&st, c, "SELECT $1 -- $9 here\n + 1 /* $8 */", "i", (int64_t)41), 0);
    assert_int_equal(db_step(st), 1);
    assert_int_equal(db_column_int64(st, 0), 42);
    db_finalize(st);
}

static void test_errors(void **state)
{
    fixture *f = *state;
    db_conn *c = f->c;
    db_stmt *st = NULL;
    assert_int_equal(db_exec(c, "CREATE TABLE p (id TEXT PRIMARY KEY, u TEXT UNIQUE);"
                                "CREATE TABLE ch (id TEXT PRIMARY KEY, p TEXT NOT NULL REFERENCES p(id))"),
                     0);
    assert_int_equal(db_execp(NULL, c, "INSERT INTO p VALUES ($1, $2)", "tt", "a", "u1"), 0);
    assert_int_equal(db_execp(NULL, c, "INSERT INTO p VALUES ($1, $2)", "tt", "a", "u2"), FMUGW_EEXISTS);
    assert_int_equal(db_execp(NULL, c, "INSERT INTO p VALUES ($1, $2)", "tt", "b", "u1"), FMUGW_EEXISTS);
    /* foreign keys are enforced */
    assert_int_equal(db_execp(NULL, c, "INSERT INTO ch VALUES ($1, $2)", "tt", "x", "missing"), FMUGW_EINVALID);
    assert_int_equal(db_execp(NULL, c, "INSERT INTO ch VALUES ($1, $2)", "tn", "x"), FMUGW_EINVALID);
    assert_int_equal(db_prepare(&st, c, "SELEC nonsense"), FMUGW_EINVALID);
    assert_null(st);
    assert_int_equal(db_prepare(&st, c, "SELECT 1; SELECT 2"), FMUGW_EINVALID);
    assert_int_equal(db_query(&st, c, "SELECT $1", "q", 1), FMUGW_EINVALID);
    assert_null(st);
    /* The message names the problem but never the bound values. */
    assert_int_equal(db_execp(NULL, c, "INSERT INTO p VALUES ($1, $2)", "tt", "secret-value", "u1"), FMUGW_EEXISTS);
    assert_null(strstr(fmugw_error_last(), "secret-value"));
}

static int count_rows(db_conn *c, const char *table)
{
    char sql[128];
    db_stmt *st = NULL;
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s", table);
    assert_int_equal(db_prepare(&st, c, sql), 0);
    assert_int_equal(db_step(st), 1);
    int n = (int)db_column_int64(st, 0);
    db_finalize(st);
    return n;
}

typedef struct {
    int calls;
    int fail_first; /* return this code on the first call */
    int fail_always;
    const char *value;
} tx_ctx;

static int tx_insert(db_conn *c, void *vctx)
{
    tx_ctx *t = vctx;
    t->calls++;
    int rc = db_execp(NULL, c, "INSERT INTO kv (v) VALUES ($1)", "t", t->value);
    if (rc == 0 && t->calls == 1 && t->fail_first)
        rc = fmugw_error_set(t->fail_first, "simulated failure");
    if (rc == 0 && t->fail_always)
        rc = fmugw_error_set(t->fail_always, "always fails");
    return rc;
}

static int tx_nested(db_conn *c, void *vctx)
{
    tx_ctx *t = vctx;
    assert_true(db_in_transaction(c));
    tx_ctx inner = {0, 0, 0, "inner"};
    int rc = db_transact(c, tx_insert, &inner); /* joins this transaction */
    assert_int_equal(inner.calls, 1);
    if (rc == 0)
        rc = tx_insert(c, t);
    return rc;
}

static void test_transactions(void **state)
{
    fixture *f = *state;
    db_conn *c = f->c;
    assert_int_equal(db_exec(c, "CREATE TABLE kv (v TEXT NOT NULL)"), 0);

    tx_ctx ok = {0, 0, 0, "one"};
    assert_int_equal(db_transact(c, tx_insert, &ok), 0);
    assert_int_equal(ok.calls, 1);
    assert_int_equal(count_rows(c, "kv"), 1);
    assert_false(db_in_transaction(c));

    /* An error rolls back and is returned with its message. */
    tx_ctx bad = {0, 0, FMUGW_EINVALID, "two"};
    assert_int_equal(db_transact(c, tx_insert, &bad), FMUGW_EINVALID);
    assert_string_equal(fmugw_error_last(), "always fails");
    assert_int_equal(bad.calls, 1);
    assert_int_equal(count_rows(c, "kv"), 1);

    /* A busy error is retried; the first attempt's insert was rolled back. */
    tx_ctx busy = {0, FMUGW_ECONFLICT, 0, "three"};
    assert_int_equal(db_transact(c, tx_insert, &busy), 0);
    assert_int_equal(busy.calls, 2);
    assert_int_equal(count_rows(c, "kv"), 2);

    /* Nested transact joins the outer one: both rows or neither. */
    tx_ctx outer = {0, 0, 0, "outer"};
    assert_int_equal(db_transact(c, tx_nested, &outer), 0);
    assert_int_equal(count_rows(c, "kv"), 4);
    tx_ctx outer_bad = {0, 0, FMUGW_EIO, "outer"};
    assert_int_equal(db_transact(c, tx_nested, &outer_bad), FMUGW_EIO);
    assert_int_equal(count_rows(c, "kv"), 4);

    /* Explicit begin/rollback, and begin twice is refused. */
    assert_int_equal(db_begin(c), 0);
    assert_int_equal(db_begin(c), FMUGW_EINVALID);
    assert_int_equal(db_execp(NULL, c, "DELETE FROM kv", NULL), 0);
    assert_int_equal(db_rollback(c), 0);
    assert_int_equal(count_rows(c, "kv"), 4);
    assert_int_equal(db_commit(c), FMUGW_EINVALID);
}

/* Two connections: one holds the write lock for a while, the other's
 * transaction waits and then succeeds (busy timeout + retry). */
typedef struct {
    const char *url;
    int rc;
    pthread_barrier_t *barrier;
} holder_arg;

static void *hold_lock(void *varg)
{
    holder_arg *a = varg;
    db_conn *c = NULL;
    a->rc = db_open(&c, a->url);
    if (a->rc == 0)
        a->rc = db_begin(c);
    if (a->rc == 0)
        a->rc = db_execp(NULL, c, "INSERT INTO kv (v) VALUES ('holder')", NULL);
    pthread_barrier_wait(a->barrier);
    usleep(300 * 1000);
    if (a->rc == 0)
        a->rc = db_commit(c);
    db_close(c);
    return NULL;
}

static void test_two_writers(void **state)
{
    fixture *f = *state;
    assert_int_equal(db_exec(f->c, "CREATE TABLE kv (v TEXT NOT NULL)"), 0);
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, 2);
    holder_arg a = {f->url, -1, &barrier};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, hold_lock, &a), 0);
    pthread_barrier_wait(&barrier);
    tx_ctx t = {0, 0, 0, "waiter"};
    assert_int_equal(db_transact(f->c, tx_insert, &t), 0);
    pthread_join(th, NULL);
    pthread_barrier_destroy(&barrier);
    assert_int_equal(a.rc, 0);
    assert_int_equal(count_rows(f->c, "kv"), 2);
}

typedef struct {
    db_pool *pool;
    int rc;
} pool_arg;

static void *pool_worker(void *varg)
{
    pool_arg *a = varg;
    for (int i = 0; i < 20 && a->rc == 0; i++) {
        db_conn *c = NULL;
        a->rc = db_pool_acquire(&c, a->pool);
        if (a->rc != 0)
            break;
        tx_ctx t = {0, 0, 0, "pooled"};
        a->rc = db_transact(c, tx_insert, &t);
        db_pool_release(a->pool, c);
    }
    return NULL;
}

/* db_change_epoch: one counter per database file, shared by connections
 * and processes; every write moves it (before and after), reads do not. */
static void test_change_epoch(void **state)
{
    fixture *f = *state;
    assert_int_equal(db_exec(f->c, "CREATE TABLE kv (v TEXT NOT NULL)"), 0);
    db_conn *other = NULL;
    assert_int_equal(db_open(&other, f->url), 0);
    uint64_t e0 = db_change_epoch(f->c);
    assert_true(db_change_epoch(other) == e0);

    /* Reads leave it alone. */
    assert_int_equal(count_rows(other, "kv"), 0);
    assert_true(db_change_epoch(f->c) == e0);

    /* A writing statement outside a transaction moves it, seen through
     * the other connection too. */
    assert_int_equal(db_execp(NULL, other, "INSERT INTO kv (v) VALUES ($1)", "t", "a"), 0);
    uint64_t e1 = db_change_epoch(f->c);
    assert_true(e1 > e0);

    /* A transaction: moved at begin (in flight) and again after commit. */
    assert_int_equal(db_begin(f->c), 0);
    uint64_t during = db_change_epoch(other);
    assert_true(during > e1);
    assert_int_equal(db_execp(NULL, f->c, "INSERT INTO kv (v) VALUES ($1)", "t", "b"), 0);
    assert_true(db_change_epoch(other) == during); /* statements inside do not bump */
    assert_int_equal(db_commit(f->c), 0);
    uint64_t e2 = db_change_epoch(other);
    assert_true(e2 > during);

    /* A rolled back transaction moves it too (it may have been seen in
     * flight). */
    assert_int_equal(db_begin(other), 0);
    assert_int_equal(db_rollback(other), 0);
    assert_true(db_change_epoch(f->c) > e2);

    /* Another process's write. */
    uint64_t before = db_change_epoch(f->c);
    pid_t pid = fork();
    if (pid == 0) {
        db_conn *c = NULL;
        int ok = db_open(&c, f->url) == 0 && db_execp(NULL, c, "INSERT INTO kv (v) VALUES ('child')", NULL) == 0;
        db_close(c);
        _exit(ok ? 0 : 1);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    assert_true(db_change_epoch(f->c) > before);

    /* The pool reads the same counter without taking a connection. */
    db_pool *pool = NULL;
    assert_int_equal(db_pool_open(&pool, f->url, 1), 0);
    assert_true(db_pool_change_epoch(pool) == db_change_epoch(f->c));
    db_pool_close(pool);
    db_close(other);
}

static void test_pool(void **state)
{
    fixture *f = *state;
    assert_int_equal(db_exec(f->c, "CREATE TABLE kv (v TEXT NOT NULL)"), 0);
    db_pool *pool = NULL;
    assert_int_equal(db_pool_open(&pool, "sqlite://relative", 2), FMUGW_EINVALID);
    assert_null(pool);
    assert_int_equal(db_pool_open(&pool, f->url, 2), 0);
    pthread_t th[4];
    pool_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (pool_arg){pool, 0};
        assert_int_equal(pthread_create(&th[i], NULL, pool_worker, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].rc, 0);
    }
    db_pool_close(pool);
    db_pool_close(NULL);
    assert_int_equal(count_rows(f->c, "kv"), 80);
}

/* A statement left stepped on a pooled connection must not pin an old
 * snapshot for the next request that gets the connection. */
static void test_pool_release_ends_snapshot(void **state)
{
    fixture *f = *state;
    assert_int_equal(db_exec(f->c, "CREATE TABLE kv (v TEXT NOT NULL)"), 0);
    assert_int_equal(db_exec(f->c, "INSERT INTO kv VALUES ('a'), ('b')"), 0);
    db_pool *pool = NULL;
    assert_int_equal(db_pool_open(&pool, f->url, 1), 0);
    db_conn *c = NULL;
    assert_int_equal(db_pool_acquire(&c, pool), 0);
    db_stmt *leaked = NULL;
    assert_int_equal(db_query(&leaked, c, "SELECT v FROM kv", ""), 0);
    assert_int_equal(db_step(leaked), 1); /* a row read, never reset: a read transaction stays open */
    db_pool_release(pool, c);

    assert_int_equal(db_exec(f->c, "INSERT INTO kv VALUES ('c')"), 0); /* another connection writes */
    assert_int_equal(db_pool_acquire(&c, pool), 0);
    assert_int_equal(count_rows(c, "kv"), 3); /* the new row is visible */
    db_pool_release(pool, c);
    db_finalize(leaked);
    db_pool_close(pool);
}

/* Several connections in this process and writers in other processes
 * (like `fmugwd admin` next to the daemon): the WAL stays while we have the
 * database open, and every connection sees the other processes' commits.
 * (The daemon-level regression of the lock bug this guards against is
 * tests/integration/gateway_live_admin.sh.) */
static void test_open_keeps_other_connections_locks(void **state)
{
    fixture *f = *state;
    assert_int_equal(db_exec(f->c, "CREATE TABLE kv (v TEXT NOT NULL)"), 0);
    assert_int_equal(db_exec(f->c, "INSERT INTO kv VALUES ('a'), ('b')"), 0);

    db_conn *other = NULL;
    assert_int_equal(db_open(&other, f->url), 0); /* must leave f->c's locks alone */

    pid_t pid = fork();
    if (pid == 0) { /* another process (the admin CLI) writes and exits */
        db_conn *c = NULL;
        if (db_open(&c, f->url) || db_exec(c, "INSERT INTO kv VALUES ('c')"))
            _exit(3);
        db_close(c);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char wal[700];
    snprintf(wal, sizeof wal, "%s-wal", f->path);
    assert_int_equal(access(wal, F_OK), 0); /* we still have it open: not deleted */
    assert_int_equal(count_rows(f->c, "kv"), 3);
    assert_int_equal(count_rows(other, "kv"), 3);

    /* and once more, the way the daemon met it: a second outside write after
     * this process opened yet another connection */
    db_conn *third = NULL;
    assert_int_equal(db_open(&third, f->url), 0);
    pid = fork();
    if (pid == 0) { /* like `fmugwd admin`: two connections, writes, exits */
        db_conn *c = NULL, *c2 = NULL;
        if (db_open(&c, f->url) || db_exec(c, "BEGIN IMMEDIATE") || db_open(&c2, f->url) ||
            db_exec(c, "INSERT INTO kv VALUES ('d')") || db_exec(c, "COMMIT"))
            _exit(3);
        db_close(c2);
        db_close(c);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(count_rows(f->c, "kv"), 4);
    assert_int_equal(count_rows(other, "kv"), 4);
    assert_int_equal(count_rows(third, "kv"), 4);
    db_close(third);
    db_close(other);
}

static void test_migrations(void **state)
{
    fixture *f = *state;
    int64_t v = -1;
    assert_int_equal(store_migrate(f->c), 0);
    assert_int_equal(store_schema_version(&v, f->c), 0);
    assert_int_equal(v, store_schema_latest());
    assert_true(v >= 1);
    int applied = count_rows(f->c, "schema_migrations");
    assert_int_equal(applied, (int)store_schema_latest());

    /* Again on the same connection and on a fresh one: nothing changes. */
    assert_int_equal(store_migrate(f->c), 0);
    db_close(f->c);
    f->c = NULL;
    assert_int_equal(db_open(&f->c, f->url), 0);
    assert_int_equal(store_migrate(f->c), 0);
    assert_int_equal(count_rows(f->c, "schema_migrations"), applied);
    assert_int_equal(store_schema_version(&v, f->c), 0);
    assert_int_equal(v, store_schema_latest());

    /* The tables of the initial schema exist, with their constraints. */
    const char *tables[] = {"accounts", "api_keys", "fmus", "audit_log"};
    for (int i = 0; i < 4; i++)
        assert_int_equal(count_rows(f->c, tables[i]), 0);
    assert_int_equal(db_execp(NULL, f->c,
                              "INSERT INTO fmus (id, name, size, sha256, state, created_at, updated_at)"
                              " VALUES ('x', 'n', 1, 's', 'bogus', 0, 0)",
                              NULL),
                     FMUGW_EINVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_urls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_durability_pragmas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_params_and_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_change_epoch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_release_ends_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_keeps_other_connections_locks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrations, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
