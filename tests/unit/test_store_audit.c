/*
 * test_store_audit.c - the audit log hash chain (store/audit.h) on a real
 * SQLite file: the hash is the documented one (recomputed here with
 * OpenSSL), concurrent appends from several threads on separate
 * connections keep one unbroken chain, tampering with any field, the hash,
 * the prev_hash, or removing/inserting a row is found at the right seq, and
 * an entry appended inside a rolled-back transaction disappears with it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/audit.h"
#include "store/db.h"
#include "store/migrations.h"
#include "util/error.h"
#include "util/fsutil.h"

#include <openssl/evp.h>
#include <pthread.h>
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
    if (!f || fmugw_mkdtemp(&f->dir, "fmugw-test-audit-") != 0)
        return -1;
    snprintf(f->url, sizeof f->url, "sqlite://%s/fmugw.db", f->dir);
    if (db_open(&f->c, f->url) != 0 || store_migrate(f->c) != 0)
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

static void append_n(db_conn *c, int n)
{
    for (int i = 0; i < n; i++) {
        char detail[64];
        int64_t seq = 0;
        snprintf(detail, sizeof detail, "{\"i\":%d}", i);
        assert_int_equal(store_audit_append(&seq, c, "admin", "test.append", i % 2 ? "fmu_x" : NULL,
                                            i % 3 ? detail : NULL),
                         0);
        assert_true(seq > 0);
    }
}

static void expect_verify(db_conn *c, int64_t bad, int64_t count)
{
    int64_t got_bad = -1, got_count = -1;
    assert_int_equal(store_audit_verify(&got_bad, &got_count, c), 0);
    assert_int_equal(got_bad, bad);
    if (count >= 0)
        assert_int_equal(got_count, count);
}

/* Independent implementation of the documented hash. */
static void netstring(EVP_MD_CTX *s, const char *v)
{
    char head[32];
    if (!v) {
        EVP_DigestUpdate(s, "~,", 2);
        return;
    }
    int h = snprintf(head, sizeof head, "%zu:", strlen(v));
    EVP_DigestUpdate(s, head, (size_t)h);
    EVP_DigestUpdate(s, v, strlen(v));
    EVP_DigestUpdate(s, ",", 1);
}

static void test_hash_is_documented_one(void **state)
{
    fixture *f = *state;
    int64_t seq = 0;
    assert_int_equal(store_audit_append(&seq, f->c, "key:key_1", "key.create", "key_2", "{\"scopes\":\"admin\"}"), 0);
    assert_int_equal(seq, 1);
    assert_int_equal(store_audit_append(&seq, f->c, "anonymous", "auth.fail", NULL, NULL), 0);
    assert_int_equal(seq, 2);

    db_stmt *st = NULL;
    assert_int_equal(db_query(&st, f->c, "SELECT seq, at, actor, action, target, detail, prev_hash, hash"
                                         " FROM audit_log ORDER BY seq", NULL),
                     0);
    unsigned char prev[32] = {0};
    char prev_hex[65];
    for (int row = 0; row < 2; row++) {
        assert_int_equal(db_step(st), 1);
        char num[2][24];
        snprintf(num[0], sizeof num[0], "%lld", (long long)db_column_int64(st, 0));
        snprintf(num[1], sizeof num[1], "%lld", (long long)db_column_int64(st, 1));
        for (int i = 0; i < 32; i++)
            sprintf(prev_hex + 2 * i, "%02x", prev[i]);
        assert_string_equal(db_column_text(st, 6), prev_hex);
        EVP_MD_CTX *s = EVP_MD_CTX_new();
        assert_int_equal(EVP_DigestInit_ex(s, EVP_sha256(), NULL), 1);
        EVP_DigestUpdate(s, prev, 32);
        netstring(s, num[0]);
        netstring(s, num[1]);
        for (int col = 2; col <= 5; col++)
            netstring(s, db_column_text(st, col));
        unsigned char md[32];
        char hex[65];
        assert_int_equal(EVP_DigestFinal_ex(s, md, NULL), 1);
        EVP_MD_CTX_free(s);
        for (int i = 0; i < 32; i++)
            sprintf(hex + 2 * i, "%02x", md[i]);
        assert_string_equal(db_column_text(st, 7), hex);
        memcpy(prev, md, 32);
    }
    db_finalize(st);
    expect_verify(f->c, 0, 2);
}

static void test_empty_and_args(void **state)
{
    fixture *f = *state;
    expect_verify(f->c, 0, 0);
    assert_int_equal(store_audit_append(NULL, f->c, "", "x", NULL, NULL), FMUGW_EINVALID);
    assert_int_equal(store_audit_append(NULL, f->c, "admin", NULL, NULL, NULL), FMUGW_EINVALID);
    assert_int_equal(store_audit_append(NULL, f->c, "admin", "x", NULL, NULL), 0);
    expect_verify(f->c, 0, 1);
}

typedef struct {
    const char *url;
    int id, n, rc;
} worker_arg;

static void *appender(void *varg)
{
    worker_arg *a = varg;
    db_conn *c = NULL;
    a->rc = db_open(&c, a->url);
    for (int i = 0; i < a->n && a->rc == 0; i++) {
        char actor[32];
        snprintf(actor, sizeof actor, "thread-%d", a->id);
        a->rc = store_audit_append(NULL, c, actor, "concurrent", NULL, "{}");
    }
    db_close(c);
    return NULL;
}

static void test_concurrent_appends(void **state)
{
    fixture *f = *state;
    enum { T = 4, N = 40 };
    pthread_t th[T];
    worker_arg args[T];
    for (int i = 0; i < T; i++) {
        args[i] = (worker_arg){f->url, i, N, 0};
        assert_int_equal(pthread_create(&th[i], NULL, appender, &args[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].rc, 0);
    }
    expect_verify(f->c, 0, T * N);
    /* One chain: every prev_hash is used by exactly one entry. */
    db_stmt *st = NULL;
    assert_int_equal(db_query(&st, f->c, "SELECT COUNT(DISTINCT prev_hash), MAX(seq) FROM audit_log", NULL), 0);
    assert_int_equal(db_step(st), 1);
    assert_int_equal(db_column_int64(st, 0), T * N);
    assert_int_equal(db_column_int64(st, 1), T * N);
    db_finalize(st);
}

static void tamper(db_conn *c, const char *sql)
{
    assert_int_equal(db_execp(NULL, c, sql, NULL), 0);
    assert_int_equal(db_changes(c), 1);
}

static void test_tamper_detection(void **state)
{
    fixture *f = *state;
    append_n(f->c, 10);
    expect_verify(f->c, 0, 10);

    /* Each edit is found at the edited seq; the edit is then undone by
     * restoring from a copy of the table. */
    assert_int_equal(db_exec(f->c, "CREATE TABLE backup AS SELECT * FROM audit_log"), 0);
    const struct {
        const char *sql;
        int64_t bad;
    } cases[] = {
        {"UPDATE audit_log SET detail = '{\"i\":99}' WHERE seq = 5", 5},
        {"UPDATE audit_log SET actor = 'someone-else' WHERE seq = 1", 1},
        {"UPDATE audit_log SET action = 'nothing' WHERE seq = 10", 10},
        {"UPDATE audit_log SET target = NULL WHERE seq = 4", 4},
        {"UPDATE audit_log SET target = '' WHERE seq = 3", 3}, /* NULL and "" differ */
        {"UPDATE audit_log SET at = at + 1 WHERE seq = 7", 7},
        {"UPDATE audit_log SET hash = prev_hash WHERE seq = 6", 6},
        {"UPDATE audit_log SET prev_hash = hash WHERE seq = 8", 8},
        {"DELETE FROM audit_log WHERE seq = 6", 7},
        {"UPDATE audit_log SET seq = 11 WHERE seq = 9", 10},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tamper(f->c, cases[i].sql);
        expect_verify(f->c, cases[i].bad, -1);
        assert_int_equal(db_exec(f->c, "DELETE FROM audit_log; INSERT INTO audit_log SELECT * FROM backup"), 0);
        expect_verify(f->c, 0, 10);
    }

    /* Appending after a restore continues the chain. */
    append_n(f->c, 2);
    expect_verify(f->c, 0, 12);
}

static int append_then_fail(db_conn *c, void *ctx)
{
    (void)ctx;
    int rc = store_audit_append(NULL, c, "admin", "doomed", NULL, NULL);
    return rc ? rc : fmugw_error_set(FMUGW_EIO, "the caller's own change failed");
}

static int append_in_tx(db_conn *c, void *ctx)
{
    int64_t *seq = ctx;
    return store_audit_append(seq, c, "admin", "kept", NULL, NULL);
}

static void test_audit_in_caller_transaction(void **state)
{
    fixture *f = *state;
    append_n(f->c, 1);
    assert_int_equal(db_transact(f->c, append_then_fail, NULL), FMUGW_EIO);
    expect_verify(f->c, 0, 1);
    int64_t seq = 0;
    assert_int_equal(db_transact(f->c, append_in_tx, &seq), 0);
    assert_int_equal(seq, 2);
    expect_verify(f->c, 0, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hash_is_documented_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_and_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_appends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tamper_detection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_in_caller_transaction, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
