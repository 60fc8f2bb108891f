/*
 * test_ledger_storage.c - the storage accrual (ledger/storage_charge.h) on
 * a real, migrated SQLite file with the repository's pricing.json (2
 * credits per GiB-day): the exact charge of a period, a run per account and
 * UTC day (a second run that day charges nothing), consecutive periods
 * without gaps or overlaps (a deletion mid-period counts to the
 * millisecond), rounding once over the total (a small account is not
 * charged a millicredit a day), results sharing a blob counted once, a
 * hard-limited account charged only what it has (never negative, the rest
 * owed and taken after its next grant), a paid account drawing the overage
 * line, a dry run writing nothing, and ledger_check after each.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ledger/ledger.h"
#include "ledger/pricing.h"
#include "ledger/storage_charge.h"
#include "store/accounts.h"
#include "store/db.h"
#include "store/migrations.h"
#include "util/error.h"
#include "util/fsutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY 86400000LL
#define GIB (1LL << 30)
/* 2026-01-10 00:00:00 UTC: the accounts' creation */
#define T0 1768003200000LL

typedef struct {
    char *dir;
    db_conn *c;
    pricing *p;
    store_account *free_acct, *pro_acct;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char url[700], path[1024], sql[512];
    const char *src = getenv("FMUGW_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/pricing.json", src && src[0] ? src : ".");
    if (!f || fmugw_mkdtemp(&f->dir, "fmugw-test-storage-") != 0 || pricing_load(&f->p, path) != 0)
        return -1;
    snprintf(url, sizeof url, "sqlite://%s/fmugw.db", f->dir);
    if (db_open(&f->c, url) != 0 || store_migrate(f->c) != 0)
        return -1;
    store_account *a = NULL, *b = NULL;
    if (store_account_create(&a, f->c, "free@example.com", "free") != 0 ||
        store_account_create(&b, f->c, "pro@example.com", "pro") != 0)
        return -1;
    snprintf(sql, sizeof sql, "UPDATE accounts SET created_at = %lld", (long long)T0);
    if (db_exec(f->c, sql) != 0 || store_account_get(&f->free_acct, f->c, a->id) != 0 ||
        store_account_get(&f->pro_acct, f->c, b->id) != 0)
        return -1;
    store_account_free(a);
    store_account_free(b);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    store_account_free(f->free_acct);
    store_account_free(f->pro_acct);
    pricing_free(f->p);
    db_close(f->c);
    fmugw_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static unsigned fmu_seq;

/* An FMU of `size` bytes stored from `created` (deleted at `deleted`, 0 =
 * not deleted); returns nothing, asserts. */
static void add_fmu(fixture *f, const char *acct, int64_t size, int64_t created, int64_t deleted)
{
    char sql[1024], del[32] = "NULL";
    if (deleted)
        snprintf(del, sizeof del, "%lld", (long long)deleted);
    fmu_seq++;
    snprintf(sql, sizeof sql,
             "INSERT INTO fmus (id, account_id, name, size, sha256, state, blob_key, created_at, updated_at,"
             " deleted_at) VALUES ('fmu_%u', '%s', 'm.fmu', %lld, 'sha%u', 'ready', 'blob%u', %lld, %lld, %s)",
             fmu_seq, acct, (long long)size, fmu_seq, fmu_seq, (long long)created, (long long)created, del);
    assert_int_equal(db_exec(f->c, sql), 0);
}

static void add_result(fixture *f, const char *acct, const char *job, const char *blob, int64_t size, int64_t created)
{
    char sql[1400];
    snprintf(sql, sizeof sql,
             "INSERT INTO jobs (id, account_id, fmu_id, fmu_sha256, fmu_size, status, request, request_hash, tier,"
             " max_concurrent, timeout_ms, memory_limit, created_at, updated_at) VALUES ('%s', '%s', 'fmu_x', 's', 1,"
             " 'succeeded', '{}', 'h', 'pro', 1, 1000, 1000, %lld, %lld);"
             "INSERT INTO results (job_id, account_id, blob_key, format, rows, size, sha256, created_at)"
             " VALUES ('%s', '%s', '%s', 'csv', 1, %lld, 's', %lld)",
             job, acct, (long long)created, (long long)created, job, acct, blob, (long long)size, (long long)created);
    assert_int_equal(db_exec(f->c, sql), 0);
}

static storage_run run_at(fixture *f, const store_account *a, int64_t now)
{
    storage_run r;
    int rc = storage_accrue(&r, f->c, f->p, a, now, false);
    if (rc != 0)
        fail_msg("storage_accrue: %s", fmugw_error_last());
    assert_int_equal(ledger_check(f->c), 0);
    return r;
}

static int64_t count(fixture *f, const char *sql)
{
    db_stmt *st = NULL;
    assert_int_equal(db_query(&st, f->c, sql, NULL), 0);
    assert_int_equal(db_step(st), 1);
    int64_t n = db_column_int64(st, 0);
    db_finalize(st);
    return n;
}

static ledger_balance bal(fixture *f, const char *acct)
{
    ledger_balance b;
    assert_int_equal(ledger_balance_get(f->c, acct, &b), 0);
    return b;
}

/* 1 GiB for one day is 2 credits; the day's second run charges nothing;
 * the next day's run covers exactly the time since. */
static void test_exact_and_once_a_day(void **state)
{
    fixture *f = *state;
    const char *a = f->pro_acct->id;
    assert_int_equal(ledger_grant(f->c, a, 100000, "g1", NULL), 0);
    add_fmu(f, a, GIB, T0, 0);
    storage_run r = run_at(f, f->pro_acct, T0 + DAY);
    assert_true(r.recorded && !r.already);
    assert_int_equal(r.from_ms, T0);
    assert_int_equal(r.through_ms, T0 + DAY);
    assert_int_equal(r.fmu_bytes, GIB);
    assert_int_equal(r.charged, 2000);
    assert_int_equal(r.overage, 0);
    assert_int_equal(bal(f, a).available, 98000);
    /* the ledger entry */
    ledger_entry *e = NULL;
    size_t n = 0;
    assert_int_equal(ledger_entries(&e, &n, f->c, a, 0, 10), 0);
    assert_true(n >= 1);
    assert_string_equal(e[0].kind, "storage");
    assert_int_equal(e[0].amount, 2000);
    assert_string_equal(e[0].credit, "system:revenue");
    assert_non_null(strstr(e[0].detail, "\"fmu_bytes\":1073741824"));
    ledger_entries_free(e, n);
    /* later the same UTC day: nothing more */
    r = run_at(f, f->pro_acct, T0 + DAY + 5 * 3600000LL);
    assert_true(r.already);
    assert_int_equal(r.charged, 0);
    assert_int_equal(bal(f, a).available, 98000);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM ledger_ops WHERE kind = 'storage'"), 1);
    /* the next day: the FMU is deleted half way; half a day is charged */
    assert_int_equal(db_exec(f->c, "UPDATE fmus SET deleted_at = 1768132800000"), 0); /* T0 + 1.5 days */
    r = run_at(f, f->pro_acct, T0 + 2 * DAY + 3600000LL);
    assert_int_equal(r.from_ms, T0 + DAY);
    assert_int_equal(r.charged, 1000);
    assert_int_equal(r.fmu_bytes, 0);
    assert_int_equal(bal(f, a).available, 97000);
    /* nothing stored and nothing owed: no run recorded */
    r = run_at(f, f->pro_acct, T0 + 3 * DAY);
    assert_false(r.recorded);
    assert_int_equal(r.charged, 0);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM storage_accruals"), 2);
}

/* 1 MiB costs 1/512 millicredit... a day: 2000/1024 = 1.953 mc. Ten
 * daily runs charge ceil(19.53) = 20 in total, not 10 x 2. */
static void test_rounding_once_over_the_total(void **state)
{
    fixture *f = *state;
    const char *a = f->pro_acct->id;
    assert_int_equal(ledger_grant(f->c, a, 100000, "g1", NULL), 0);
    add_fmu(f, a, 1 << 20, T0, 0);
    int64_t total = 0;
    for (int d = 1; d <= 10; d++)
        total += run_at(f, f->pro_acct, T0 + d * DAY).charged;
    assert_int_equal(total, 20); /* 19.53125 rounded up once */
    assert_int_equal(bal(f, a).available, 100000 - 20);
}

/* Results: from their creation, once per blob (a reused result shares its
 * original's blob). */
static void test_results_once_per_blob(void **state)
{
    fixture *f = *state;
    const char *a = f->pro_acct->id;
    assert_int_equal(ledger_grant(f->c, a, 100000, "g1", NULL), 0);
    add_result(f, a, "job_1", "blobR", GIB / 2, T0);
    add_result(f, a, "job_2", "blobR", GIB / 2, T0 + DAY / 2); /* reuse */
    add_result(f, a, "job_3", "blobS", GIB / 4, T0 + DAY / 2);
    storage_run r = run_at(f, f->pro_acct, T0 + DAY);
    assert_int_equal(r.result_bytes, GIB / 2 + GIB / 4);
    /* 0.5 GiB x 1 day + 0.25 GiB x 0.5 day = 0.625 GiB-days = 1250 mc */
    assert_int_equal(r.charged, 1250);
}

/* Free (hard limit): charged what is available, never below zero; the rest
 * is owed and taken after the next grant. */
static void test_hard_limit_owes_the_rest(void **state)
{
    fixture *f = *state;
    const char *a = f->free_acct->id;
    assert_int_equal(ledger_grant(f->c, a, 1500, "g1", NULL), 0);
    add_fmu(f, a, GIB, T0, 0);
    storage_run r = run_at(f, f->free_acct, T0 + DAY);
    assert_int_equal(r.due, 2000);
    assert_int_equal(r.charged, 1500);
    assert_int_equal(r.overage, 0);
    assert_int_equal(r.unpaid, 500);
    ledger_balance b = bal(f, a);
    assert_int_equal(b.available, 0);
    assert_int_equal(b.overage_used, 0);
    /* nothing available: nothing charged, all owed, still not negative */
    r = run_at(f, f->free_acct, T0 + 2 * DAY);
    assert_int_equal(r.due, 2500);
    assert_int_equal(r.charged, 0);
    assert_int_equal(r.unpaid, 2500);
    assert_int_equal(bal(f, a).available, 0);
    /* a grant arrives: the next run takes what is owed first */
    assert_int_equal(ledger_grant(f->c, a, 10000, "g2", NULL), 0);
    r = run_at(f, f->free_acct, T0 + 3 * DAY);
    assert_int_equal(r.due, 4500);
    assert_int_equal(r.charged, 4500);
    assert_int_equal(r.unpaid, 0);
    assert_int_equal(bal(f, a).available, 10000 - 4500);
    /* in total exactly three days of 1 GiB */
    assert_int_equal(count(f, "SELECT SUM(amount) FROM ledger_ops WHERE kind = 'storage'"), 6000);
}

/* Pro (overage): what available does not cover comes from the overage
 * line, in the same operation. */
static void test_paid_tier_draws_overage(void **state)
{
    fixture *f = *state;
    const char *a = f->pro_acct->id;
    assert_int_equal(ledger_grant(f->c, a, 500, "g1", NULL), 0);
    add_fmu(f, a, 2 * GIB, T0, 0);
    storage_run r = run_at(f, f->pro_acct, T0 + DAY);
    assert_int_equal(r.charged, 4000);
    assert_int_equal(r.overage, 3500);
    assert_int_equal(r.unpaid, 0);
    ledger_balance b = bal(f, a);
    assert_int_equal(b.available, 0);
    assert_int_equal(b.overage_used, 3500);
    int64_t used = 0, over = 0;
    assert_int_equal(ledger_usage_total(f->c, a, 0, INT64_MAX, &used, &over), 0); /* ops carry the wall time */
    assert_int_equal(used, 4000);
    assert_int_equal(over, 3500);
}

/* A dry run computes the same and writes nothing; the repeat of a day's
 * ledger key is refused by the ledger itself. */
static void test_dry_run_and_ledger_key(void **state)
{
    fixture *f = *state;
    const char *a = f->pro_acct->id;
    assert_int_equal(ledger_grant(f->c, a, 100000, "g1", NULL), 0);
    add_fmu(f, a, GIB, T0, 0);
    storage_run r;
    assert_int_equal(storage_accrue(&r, f->c, f->p, f->pro_acct, T0 + DAY, true), 0);
    assert_int_equal(r.charged, 2000);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM storage_accruals"), 0);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM ledger_ops WHERE kind = 'storage'"), 0);
    assert_int_equal(bal(f, a).available, 100000);
    r = run_at(f, f->pro_acct, T0 + DAY);
    assert_int_equal(r.charged, 2000);
    int64_t ch = -1, ov = -1;
    assert_int_equal(ledger_storage_charge(f->c, a, "2026-01-11", 5, true, NULL, &ch, &ov), FMUGW_EEXISTS);
    assert_int_equal(ch, 0);
    assert_int_equal(bal(f, a).available, 98000);
    /* and a whole sweep over both accounts the same day changes nothing */
    storage_sweep s;
    assert_int_equal(storage_accrue_all(&s, f->c, f->p, T0 + DAY + 1000, false, NULL, NULL), 0);
    assert_int_equal(s.accounts, 2);
    assert_int_equal(s.already, 1);
    assert_int_equal(s.charged, 0);
    assert_int_equal(ledger_check(f->c), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_exact_and_once_a_day),     T(test_rounding_once_over_the_total), T(test_results_once_per_blob),
        T(test_hard_limit_owes_the_rest), T(test_paid_tier_draws_overage),      T(test_dry_run_and_ledger_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
