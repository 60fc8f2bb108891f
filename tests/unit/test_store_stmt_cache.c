/*
 * test_store_stmt_cache.c - the SQLite backend's per-connection statement
 * cache (src/store/sqlite.c): a reused statement starts with no bindings
 * and no rows, the same text in use twice at once gives two independent
 * statements, a reused statement sees rows committed by another connection
 * (it holds no read snapshot between uses), a statement given back in the
 * middle of its rows starts over, and more distinct texts than the cache
 * holds still work.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/db.h"
#include "util/fsutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *dir;
    char url[700];
    db_conn *c;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f || fmugw_mkdtemp(&f->dir, "fmugw-test-stmt-") != 0)
        return -1;
    snprintf(f->url, sizeof f->url, "sqlite://%s/test.db", f->dir);
    if (db_open(&f->c, f->url) != 0 ||
        db_exec(f->c, "CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT);"
                      "INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three')") != 0)
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

static const char *const SQL_ONE = "SELECT v FROM t WHERE k = $1";

static void test_reuse_has_fresh_bindings(void **state)
{
    fixture *f = *state;
    db_stmt *st = NULL;
    assert_int_equal(db_query(&st, f->c, SQL_ONE, "i", (int64_t)2), 0);
    assert_int_equal(db_step(st), 1);
    assert_string_equal(db_column_text(st, 0), "two");
    db_finalize(st);
    /* the same text again, unbound: $1 is NULL, so no row (not "two") */
    assert_int_equal(db_prepare(&st, f->c, SQL_ONE), 0);
    assert_int_equal(db_step(st), 0);
    db_finalize(st);
    assert_int_equal(db_query(&st, f->c, SQL_ONE, "i", (int64_t)3), 0);
    assert_int_equal(db_step(st), 1);
    assert_string_equal(db_column_text(st, 0), "three");
    db_finalize(st);
}

static void test_same_text_twice_at_once(void **state)
{
    fixture *f = *state;
    db_stmt *a = NULL, *b = NULL;
    assert_int_equal(db_query(&a, f->c, SQL_ONE, "i", (int64_t)1), 0);
    assert_int_equal(db_query(&b, f->c, SQL_ONE, "i", (int64_t)2), 0);
    assert_ptr_not_equal(a, b);
    assert_int_equal(db_step(a), 1);
    assert_int_equal(db_step(b), 1);
    assert_string_equal(db_column_text(a, 0), "one");
    assert_string_equal(db_column_text(b, 0), "two");
    db_finalize(b);
    db_finalize(a);
}

static void test_given_back_mid_rows_starts_over(void **state)
{
    fixture *f = *state;
    const char *sql = "SELECT k FROM t ORDER BY k";
    db_stmt *st = NULL;
    assert_int_equal(db_prepare(&st, f->c, sql), 0);
    assert_int_equal(db_step(st), 1);
    assert_int_equal(db_column_int64(st, 0), 1);
    db_finalize(st); /* two rows left unread */
    assert_int_equal(db_prepare(&st, f->c, sql), 0);
    assert_int_equal(db_step(st), 1);
    assert_int_equal(db_column_int64(st, 0), 1);
    db_finalize(st);
}

static void test_sees_other_connections_commits(void **state)
{
    fixture *f = *state;
    const char *count = "SELECT COUNT(*) FROM t";
    db_conn *other = NULL;
    db_stmt *st = NULL;
    assert_int_equal(db_query(&st, f->c, count, NULL), 0);
    assert_int_equal(db_step(st), 1);
    assert_int_equal(db_column_int64(st, 0), 3);
    db_finalize(st);
    assert_int_equal(db_open(&other, f->url), 0);
    assert_int_equal(db_execp(NULL, other, "INSERT INTO t VALUES ($1, $2)", "it", (int64_t)4, "four"), 0);
    db_close(other);
    assert_int_equal(db_query(&st, f->c, count, NULL), 0);
    assert_int_equal(db_step(st), 1);
    assert_int_equal(db_column_int64(st, 0), 4);
    db_finalize(st);
}

static void test_more_texts_than_the_cache(void **state)
{
    fixture *f = *state;
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 200; i++) {
            char sql[64];
            snprintf(sql, sizeof sql, "SELECT %d + k FROM t WHERE k = $1", i);
            db_stmt *st = NULL;
            assert_int_equal(db_query(&st, f->c, sql, "i", (int64_t)1), 0);
            assert_int_equal(db_step(st), 1);
            assert_int_equal(db_column_int64(st, 0), i + 1);
            db_finalize(st);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reuse_has_fresh_bindings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_text_twice_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_given_back_mid_rows_starts_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sees_other_connections_commits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_more_texts_than_the_cache, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
