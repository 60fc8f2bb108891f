/*
 * test_ledger.c - the credit ledger on a real, migrated SQLite file: every
 * operation, exactly-once on repeat (FMUGW_EEXISTS and nothing changed),
 * the 402 shortfall, overage, settle capped at the reservation, settle and
 * release excluding each other, derived balances, joining an outer
 * transaction, billing cycles and grants, listings, the fold of the interim
 * credit grants (migration 3), and ledger_check catching rows corrupted by
 * raw SQL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ledger/ledger.h"
#include "store/accounts.h"
#include "store/db.h"
#include "store/migrations.h"
#include "util/error.h"
#include "util/fsutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define C(n) ((int64_t)(n) * LEDGER_MILLI)

typedef struct {
    char *dir;
    db_conn *c;
    store_account *free_acct, *pro_acct;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char url[700];
    if (!f || fmugw_mkdtemp(&f->dir, "fmugw-test-ledger-") != 0)
        return -1;
    snprintf(url, sizeof url, "sqlite://%s/fmugw.db", f->dir);
    if (db_open(&f->c, url) != 0 || store_migrate(f->c) != 0)
        return -1;
    if (store_account_create(&f->free_acct, f->c, "free@example.com", "free") != 0 ||
        store_account_create(&f->pro_acct, f->c, "pro@example.com", "pro") != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    store_account_free(f->free_acct);
    store_account_free(f->pro_acct);
    db_close(f->c);
    fmugw_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static ledger_balance bal(fixture *f, const char *acct)
{
    ledger_balance b;
    assert_int_equal(ledger_balance_get(f->c, acct, &b), 0);
    return b;
}

static int64_t count_rows(fixture *f, const char *table)
{
    char sql[128];
    db_stmt *st = NULL;
    int64_t n = -1;
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s", table);
    assert_int_equal(db_query(&st, f->c, sql, NULL), 0);
    assert_int_equal(db_step(st), 1);
    n = db_column_int64(st, 0);
    db_finalize(st);
    return n;
}

static void assert_balance(fixture *f, const char *acct, int64_t avail, int64_t reserved, int64_t overage)
{
    ledger_balance b = bal(f, acct);
    assert_int_equal(b.available, avail);
    assert_int_equal(b.reserved, reserved);
    assert_int_equal(b.overage_used, overage);
}

static void test_grant(void **state)
{
    fixture *f = *state;
    const char *a = f->free_acct->id;
    assert_balance(f, a, 0, 0, 0);
    assert_int_equal(ledger_grant(f->c, a, C(1000), "grant:test:1", "first"), 0);
    assert_balance(f, a, C(1000), 0, 0);
    int64_t rows = count_rows(f, "ledger_entries");
    /* Exactly once: the same key changes nothing, whatever the amount. */
    assert_int_equal(ledger_grant(f->c, a, C(1000), "grant:test:1", "again"), FMUGW_EEXISTS);
    assert_int_equal(ledger_grant(f->c, a, C(5), "grant:test:1", NULL), FMUGW_EEXISTS);
    assert_int_equal(count_rows(f, "ledger_entries"), rows);
    assert_balance(f, a, C(1000), 0, 0);
    /* Refusals. */
    assert_int_equal(ledger_grant(f->c, a, 0, "grant:test:2", NULL), FMUGW_EINVALID);
    assert_int_equal(ledger_grant(f->c, a, -5, "grant:test:2", NULL), FMUGW_EINVALID);
    assert_int_equal(ledger_grant(f->c, a, 5, NULL, NULL), FMUGW_EINVALID);
    assert_int_equal(ledger_grant(f->c, "acct_nope", 5, "grant:test:3", NULL), FMUGW_EINVALID);
    assert_int_equal(ledger_grant(f->c, "bad:id", 5, "grant:test:4", NULL), FMUGW_EINVALID);
    /* Adjust: takes back available credits only. */
    assert_int_equal(ledger_adjust(f->c, a, C(1001), "adj:1", NULL), FMUGW_ELIMIT);
    assert_int_equal(ledger_adjust(f->c, a, C(400), "adj:1", "correction"), 0);
    assert_int_equal(ledger_adjust(f->c, a, C(400), "adj:1", "correction"), FMUGW_EEXISTS);
    assert_balance(f, a, C(600), 0, 0);
    assert_int_equal(ledger_check(f->c), 0);
}

static void test_reserve_settle(void **state)
{
    fixture *f = *state;
    const char *a = f->free_acct->id;
    int64_t shortfall = -1, r, ch;
    assert_int_equal(ledger_grant(f->c, a, C(1000), "g", NULL), 0);
    assert_int_equal(ledger_reserve(f->c, a, "job_1", C(300), false, &shortfall), 0);
    assert_int_equal(shortfall, 0);
    assert_balance(f, a, C(700), C(300), 0);
    assert_int_equal(ledger_job_amounts(f->c, "job_1", &r, &ch), 0);
    assert_int_equal(r, C(300));
    assert_int_equal(ch, 0);
    /* A repeated admission changes nothing. */
    assert_int_equal(ledger_reserve(f->c, a, "job_1", C(300), false, &shortfall), FMUGW_EEXISTS);
    assert_int_equal(ledger_reserve(f->c, a, "job_1", C(1), true, NULL), FMUGW_EEXISTS);
    assert_balance(f, a, C(700), C(300), 0);
    /* Settle 120.5: charged, the rest comes back. */
    assert_int_equal(ledger_settle(f->c, "job_1", 120500), 0);
    assert_balance(f, a, 879500, 0, 0);
    assert_int_equal(ledger_job_amounts(f->c, "job_1", &r, &ch), 0);
    assert_int_equal(r, C(300));
    assert_int_equal(ch, 120500);
    int64_t rows = count_rows(f, "ledger_entries"), ops = count_rows(f, "ledger_ops");
    /* Once: a second settle or a release of the same job changes nothing. */
    assert_int_equal(ledger_settle(f->c, "job_1", 120500), FMUGW_EEXISTS);
    assert_int_equal(ledger_settle(f->c, "job_1", 1), FMUGW_EEXISTS);
    assert_int_equal(ledger_release(f->c, "job_1"), FMUGW_EEXISTS);
    assert_int_equal(ledger_reserve(f->c, a, "job_1", C(1), false, NULL), FMUGW_EEXISTS);
    assert_int_equal(count_rows(f, "ledger_entries"), rows);
    assert_int_equal(count_rows(f, "ledger_ops"), ops);
    assert_balance(f, a, 879500, 0, 0);
    /* Unknown jobs, bad charges. */
    assert_int_equal(ledger_settle(f->c, "job_none", 1), FMUGW_ENOTFOUND);
    assert_int_equal(ledger_release(f->c, "job_none"), FMUGW_ENOTFOUND);
    assert_int_equal(ledger_reserve(f->c, a, "job_2", C(1), false, NULL), 0);
    assert_int_equal(ledger_settle(f->c, "job_2", -1), FMUGW_EINVALID);
    assert_int_equal(ledger_reserve(f->c, a, "job_3", -1, false, NULL), FMUGW_EINVALID);
    assert_int_equal(ledger_job_amounts(f->c, "job_none", &r, &ch), 0);
    assert_int_equal(r + ch, 0);
    assert_int_equal(ledger_check(f->c), 0);
}

static void test_settle_caps_and_zero(void **state)
{
    fixture *f = *state;
    const char *a = f->free_acct->id;
    int64_t r, ch;
    assert_int_equal(ledger_grant(f->c, a, C(100), "g", NULL), 0);
    assert_int_equal(ledger_reserve(f->c, a, "job_cap", C(10), false, NULL), 0);
    assert_int_equal(ledger_settle(f->c, "job_cap", C(500)), 0); /* capped at the reservation */
    assert_int_equal(ledger_job_amounts(f->c, "job_cap", &r, &ch), 0);
    assert_int_equal(ch, C(10));
    assert_balance(f, a, C(90), 0, 0);
    /* A zero charge is a settlement too (closes the job). */
    assert_int_equal(ledger_reserve(f->c, a, "job_zero", C(10), false, NULL), 0);
    assert_int_equal(ledger_settle(f->c, "job_zero", 0), 0);
    assert_int_equal(ledger_release(f->c, "job_zero"), FMUGW_EEXISTS);
    assert_balance(f, a, C(90), 0, 0);
    /* A zero reservation (e.g. nothing to hold) can be settled once. */
    assert_int_equal(ledger_reserve(f->c, a, "job_nothing", 0, false, NULL), 0);
    assert_int_equal(ledger_settle(f->c, "job_nothing", 5), 0);
    assert_int_equal(ledger_job_amounts(f->c, "job_nothing", &r, &ch), 0);
    assert_int_equal(r + ch, 0);
    assert_int_equal(ledger_check(f->c), 0);
}

static void test_release(void **state)
{
    fixture *f = *state;
    const char *a = f->free_acct->id;
    assert_int_equal(ledger_grant(f->c, a, C(50), "g", NULL), 0);
    assert_int_equal(ledger_reserve(f->c, a, "job_r", C(20), false, NULL), 0);
    assert_balance(f, a, C(30), C(20), 0);
    assert_int_equal(ledger_release(f->c, "job_r"), 0);
    assert_balance(f, a, C(50), 0, 0);
    assert_int_equal(ledger_release(f->c, "job_r"), FMUGW_EEXISTS);
    assert_int_equal(ledger_settle(f->c, "job_r", C(1)), FMUGW_EEXISTS);
    assert_balance(f, a, C(50), 0, 0);
    int64_t r, ch;
    assert_int_equal(ledger_job_amounts(f->c, "job_r", &r, &ch), 0);
    assert_int_equal(r, C(20));
    assert_int_equal(ch, 0);
    assert_int_equal(ledger_check(f->c), 0);
}

/* A Free account that cannot cover the reservation: FMUGW_ELIMIT (402)
 * with the missing amount, and nothing written. */
static void test_shortfall(void **state)
{
    fixture *f = *state;
    const char *a = f->free_acct->id;
    int64_t shortfall = 0;
    assert_int_equal(ledger_grant(f->c, a, 2500, "g", NULL), 0); /* 2.5 credits */
    int64_t rows = count_rows(f, "ledger_entries");
    assert_int_equal(ledger_reserve(f->c, a, "job_big", 6500, false, &shortfall), FMUGW_ELIMIT);
    assert_int_equal(shortfall, 4000);
    assert_non_null(strstr(fmugw_error_last(), "4.000"));
    assert_int_equal(count_rows(f, "ledger_entries"), rows);
    assert_balance(f, a, 2500, 0, 0);
    /* Not reserved, so it can be admitted later (nothing was recorded). */
    assert_int_equal(ledger_settle(f->c, "job_big", 1), FMUGW_ENOTFOUND);
    assert_int_equal(ledger_grant(f->c, a, C(10), "g2", NULL), 0);
    assert_int_equal(ledger_reserve(f->c, a, "job_big", 6500, false, &shortfall), 0);
    assert_int_equal(shortfall, 0);
    assert_int_equal(ledger_check(f->c), 0);
}

/* Paid tiers: the part not covered by available is drawn from the overage
 * line; settling returns the rest to overage first. */
static void test_overage(void **state)
{
    fixture *f = *state;
    const char *a = f->pro_acct->id;
    int64_t shortfall = -1, used = 0, over = 0;
    assert_int_equal(ledger_grant(f->c, a, C(100), "g", NULL), 0);
    assert_int_equal(ledger_reserve(f->c, a, "job_o", C(500), true, &shortfall), 0);
    assert_int_equal(shortfall, 0);
    assert_balance(f, a, 0, C(500), C(400));
    assert_int_equal(ledger_settle_detail(f->c, "job_o", C(250), "{\"fmu_id\":\"fmu_x\",\"cpu_ms\":1234}"), 0);
    /* Charged 250: 100 from available, 150 from overage. */
    assert_balance(f, a, 0, 0, C(150));
    assert_int_equal(ledger_usage_total(f->c, a, 0, INT64_MAX, &used, &over), 0);
    assert_int_equal(used, C(250));
    assert_int_equal(over, C(150));
    /* A released reservation returns its overage in full. */
    assert_int_equal(ledger_reserve(f->c, a, "job_o2", C(40), true, NULL), 0);
    assert_balance(f, a, 0, C(40), C(190));
    assert_int_equal(ledger_release(f->c, "job_o2"), 0);
    assert_balance(f, a, 0, 0, C(150));
    /* A grant refills available; overage stays owed (it is billed). */
    assert_int_equal(ledger_grant(f->c, a, C(30), "g2", NULL), 0);
    assert_int_equal(ledger_reserve(f->c, a, "job_o3", C(20), true, NULL), 0);
    assert_balance(f, a, C(10), C(20), C(150));
    assert_int_equal(ledger_settle(f->c, "job_o3", C(5)), 0);
    assert_balance(f, a, C(25), 0, C(150));
    assert_int_equal(ledger_usage_total(f->c, a, 0, INT64_MAX, &used, &over), 0);
    assert_int_equal(used, C(255));
    assert_int_equal(over, C(150));
    /* Settlements carry their detail for the usage report. */
    ledger_settlement *s = NULL;
    size_t n = 0;
    assert_int_equal(ledger_settlements(&s, &n, f->c, a, 0, INT64_MAX, 100), 0);
    assert_int_equal(n, 2);
    assert_string_equal(s[0].job_id, "job_o");
    assert_string_equal(s[0].fmu_id, "fmu_x");
    assert_int_equal(s[0].cpu_ms, 1234);
    assert_int_equal(s[0].charged, C(250));
    assert_int_equal(s[0].overage, C(150));
    assert_null(s[1].fmu_id);
    ledger_settlements_free(s, n);
    assert_int_equal(ledger_check(f->c), 0);
}

typedef struct {
    const char *acct;
    int fail_after;
} outer_ctx;

static int outer_tx(db_conn *c, void *p)
{
    outer_ctx *o = p;
    int rc = ledger_reserve(c, o->acct, "job_tx", C(10), false, NULL);
    if (rc == 0)
        rc = ledger_settle(c, "job_tx", C(4));
    return rc == 0 && o->fail_after ? FMUGW_ECONFLICT - 100 : rc;
}

/* Ledger operations join the caller's transaction: a rollback undoes them
 * all, a commit keeps them all. */
static void test_joins_outer_transaction(void **state)
{
    fixture *f = *state;
    const char *a = f->free_acct->id;
    int64_t r, ch;
    assert_int_equal(ledger_grant(f->c, a, C(100), "g", NULL), 0);
    outer_ctx o = {a, 1};
    assert_int_not_equal(db_transact(f->c, outer_tx, &o), 0);
    assert_balance(f, a, C(100), 0, 0);
    assert_int_equal(ledger_job_amounts(f->c, "job_tx", &r, &ch), 0);
    assert_int_equal(r, 0);
    o.fail_after = 0;
    assert_int_equal(db_transact(f->c, outer_tx, &o), 0);
    assert_balance(f, a, C(96), 0, 0);
    assert_int_equal(ledger_check(f->c), 0);
}

static int64_t utc(int y, int m, int d, int hh)
{
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    tm.tm_hour = hh;
    return (int64_t)timegm(&tm) * 1000;
}

static void test_cycles(void **state)
{
    (void)state;
    int64_t s, e;
    char day[11];
    /* Anchored at the creation day, clamped to short months. */
    ledger_cycle(utc(2026, 1, 31, 15), utc(2026, 2, 15, 0), &s, &e, day);
    assert_int_equal(s, utc(2026, 1, 31, 0));
    assert_int_equal(e, utc(2026, 2, 28, 0));
    assert_string_equal(day, "2026-01-31");
    ledger_cycle(utc(2026, 1, 31, 15), utc(2026, 3, 1, 0), &s, &e, day);
    assert_int_equal(s, utc(2026, 2, 28, 0));
    assert_int_equal(e, utc(2026, 3, 31, 0));
    assert_string_equal(day, "2026-02-28");
    ledger_cycle(utc(2024, 1, 30, 1), utc(2024, 2, 29, 12), &s, &e, day); /* leap year */
    assert_string_equal(day, "2024-02-29");
    assert_int_equal(e, utc(2024, 3, 30, 0));
    ledger_cycle(utc(2026, 5, 10, 8), utc(2026, 5, 10, 9), &s, &e, day);
    assert_string_equal(day, "2026-05-10");
    assert_int_equal(e, utc(2026, 6, 10, 0));
    ledger_cycle(utc(2026, 12, 15, 8), utc(2027, 1, 14, 23), &s, &e, day); /* year boundary */
    assert_string_equal(day, "2026-12-15");
    assert_int_equal(e, utc(2027, 1, 15, 0));
    /* A clock before the creation: the first cycle. */
    ledger_cycle(utc(2026, 5, 10, 8), utc(2026, 5, 1, 0), &s, &e, day);
    assert_string_equal(day, "2026-05-10");
}

static void test_grant_cycle(void **state)
{
    fixture *f = *state;
    const char *a = f->free_acct->id;
    int64_t created = utc(2026, 1, 31, 15);
    assert_int_equal(ledger_grant_cycle(f->c, a, created, C(1000), created), 0);
    assert_int_equal(ledger_grant_cycle(f->c, a, created, C(1000), utc(2026, 2, 27, 23)), FMUGW_EEXISTS);
    assert_balance(f, a, C(1000), 0, 0);
    assert_int_equal(ledger_grant_cycle(f->c, a, created, C(1000), utc(2026, 2, 28, 0)), 0);
    assert_int_equal(ledger_grant_cycle(f->c, a, created, C(1000), utc(2026, 3, 5, 0)), FMUGW_EEXISTS);
    assert_balance(f, a, C(2000), 0, 0);
    /* The key is the documented one. */
    db_stmt *st = NULL;
    char key[128];
    snprintf(key, sizeof key, "grant:%s:2026-02-28", a);
    assert_int_equal(db_query(&st, f->c, "SELECT amount FROM ledger_ops WHERE op_key = $1", "t", key), 0);
    assert_int_equal(db_step(st), 1);
    assert_int_equal(db_column_int64(st, 0), C(1000));
    db_finalize(st);
    assert_int_equal(ledger_check(f->c), 0);
}

static void test_entries_pagination(void **state)
{
    fixture *f = *state;
    const char *a = f->free_acct->id, *b = f->pro_acct->id;
    ledger_entry *e = NULL;
    size_t n = 0;
    char key[32];
    for (int i = 0; i < 7; i++) {
        snprintf(key, sizeof key, "g%d", i);
        assert_int_equal(ledger_grant(f->c, a, C(i + 1), key, "r\"q"), 0);
    }
    assert_int_equal(ledger_grant(f->c, b, C(99), "gb", NULL), 0);
    assert_int_equal(ledger_reserve(f->c, a, "job_p", C(2), false, NULL), 0);
    /* Newest first: the reservation, then the grants 7..1. */
    assert_int_equal(ledger_entries(&e, &n, f->c, a, 0, 3), 0);
    assert_int_equal(n, 3);
    assert_string_equal(e[0].kind, "reserve");
    assert_string_equal(e[0].job_id, "job_p");
    assert_int_equal(e[0].amount, C(2));
    assert_string_equal(e[1].kind, "grant");
    assert_int_equal(e[1].amount, C(7));
    assert_string_equal(e[1].debit, "system:grants");
    assert_non_null(strstr(e[1].credit, ":available"));
    assert_string_equal(e[1].detail, "{\"reason\":\"r\\\"q\"}");
    assert_true(e[0].seq > e[1].seq && e[1].seq > e[2].seq);
    int64_t before = e[2].seq;
    ledger_entries_free(e, n);
    assert_int_equal(ledger_entries(&e, &n, f->c, a, before, 100), 0);
    assert_int_equal(n, 5); /* grants 5..1; never the other tenant's */
    for (size_t i = 0; i < n; i++)
        assert_int_equal(e[i].amount, C(5 - (int)i));
    ledger_entries_free(e, n);
    assert_int_equal(ledger_entries(&e, &n, f->c, a, 0, 0), FMUGW_EINVALID);
    ledger_entries_free(NULL, 0);
}

/* ---- ledger_check finds rows corrupted by raw SQL ------------------------ */

static void corrupt_and_check(fixture *f, const char *sql, const char *needle)
{
    assert_int_equal(ledger_check(f->c), 0);
    assert_int_equal(db_exec(f->c, sql), 0);
    assert_int_equal(ledger_check(f->c), FMUGW_ERROR);
    if (!strstr(fmugw_error_last(), needle))
        fail_msg("ledger_check said \"%s\", expected \"%s\"", fmugw_error_last(), needle);
}

static void prepare_settled_job(fixture *f)
{
    const char *a = f->free_acct->id;
    assert_int_equal(ledger_grant(f->c, a, C(100), "g", NULL), 0);
    assert_int_equal(ledger_reserve(f->c, a, "job_c", C(10), false, NULL), 0);
    assert_int_equal(ledger_settle(f->c, "job_c", C(4)), 0);
}

static char *sqlf(const char *fmt, const char *acct)
{
    static char buf[2048];
    snprintf(buf, sizeof buf, fmt, acct, acct, acct);
    return buf;
}

static void test_check_second_settlement(void **state)
{
    fixture *f = *state;
    prepare_settled_job(f);
    /* A second settlement of job_c under a new operation. */
    corrupt_and_check(f,
                      sqlf("INSERT INTO ledger_ops (op_key, kind, account_id, job_id, closes, at, amount)"
                           " VALUES ('settle2:job_c', 'settle', '%s', 'job_c', NULL, 1, 1000);"
                           "INSERT INTO ledger_entries VALUES (1000, 1, 'settle2:job_c', 0, 'settle',"
                           " 'user:%s:available', 'system:revenue', 1000, '%s', 'job_c', NULL)",
                           f->free_acct->id),
                      "more than once");
}

static void test_check_extra_leg(void **state)
{
    fixture *f = *state;
    prepare_settled_job(f);
    /* A leg slipped into the existing settlement: more charged than held. */
    corrupt_and_check(f,
                      sqlf("INSERT INTO ledger_entries VALUES (1000, 1, 'settle:job_c', 9, 'settle',"
                           " 'user:%s:available', 'system:revenue', 500, '%s', 'job_c', NULL)",
                           f->free_acct->id),
                      "job_c");
}

static void test_check_free_credits(void **state)
{
    fixture *f = *state;
    prepare_settled_job(f);
    /* Credits out of nowhere into available (the grant op says 100). */
    corrupt_and_check(f,
                      sqlf("INSERT INTO ledger_entries VALUES (1000, 1, 'g', 1, 'grant',"
                           " 'system:grants', 'user:%s:available', 77, '%s', NULL, NULL)",
                           f->free_acct->id),
                      "legs of g");
}

static void test_check_negative_and_foreign(void **state)
{
    fixture *f = *state;
    prepare_settled_job(f);
    assert_int_equal(ledger_grant(f->c, f->pro_acct->id, C(1000), "gp", NULL), 0);
    /* Available driven negative by a forged adjustment. */
    corrupt_and_check(f,
                      sqlf("INSERT INTO ledger_ops (op_key, kind, account_id, at, amount) VALUES"
                           " ('forged', 'adjust', '%s', 1, 500000);"
                           "INSERT INTO ledger_entries VALUES (1000, 1, 'forged', 0, 'adjust',"
                           " 'user:%s:available', 'system:grants', 500000, '%s', NULL, NULL)",
                           f->free_acct->id),
                      "negative");
}

static void test_check_other_corruptions(void **state)
{
    fixture *f = *state;
    prepare_settled_job(f);
    /* A movement to another tenant's book hidden in this account's op. */
    char sql[1024];
    snprintf(sql, sizeof sql,
             "INSERT INTO ledger_entries VALUES (1000, 1, 'g', 1, 'grant', 'system:grants',"
             " 'user:%s:available', 1, '%s', NULL, NULL)",
             f->pro_acct->id, f->free_acct->id);
    corrupt_and_check(f, sql, "bad amount or accounts");
    assert_int_equal(db_exec(f->c, "DELETE FROM ledger_entries WHERE seq = 1000"), 0);
    /* A reserved movement without a job. */
    snprintf(sql, sizeof sql,
             "INSERT INTO ledger_entries VALUES (1000, 1, 'g', 1, 'grant', 'user:%s:available',"
             " 'user:%s:reserved', 1, '%s', NULL, NULL)",
             f->free_acct->id, f->free_acct->id, f->free_acct->id);
    corrupt_and_check(f, sql, "without a job");
    assert_int_equal(db_exec(f->c, "DELETE FROM ledger_entries WHERE seq = 1000"), 0);
    /* An unknown book account. */
    snprintf(sql, sizeof sql,
             "INSERT INTO ledger_entries VALUES (1000, 1, 'g', 1, 'grant', 'system:grants',"
             " 'system:mint', 1, '%s', NULL, NULL)",
             f->free_acct->id);
    corrupt_and_check(f, sql, "");
    assert_int_equal(db_exec(f->c, "DELETE FROM ledger_entries WHERE seq = 1000"), 0);
    assert_int_equal(ledger_check(f->c), 0);
    /* A running balance that is not the sum of its entries (a balance is
     * read from ledger_books), and one for a book without entries. */
    snprintf(sql, sizeof sql, "UPDATE ledger_books SET balance = balance + 1 WHERE book = 'user:%s:available'",
             f->free_acct->id);
    corrupt_and_check(f, sql, "running balance differs");
    snprintf(sql, sizeof sql, "UPDATE ledger_books SET balance = balance - 1 WHERE book = 'user:%s:available'",
             f->free_acct->id);
    assert_int_equal(db_exec(f->c, sql), 0);
    corrupt_and_check(f, "INSERT INTO ledger_books VALUES ('user:ghost:available', 5)", "running balance differs");
    assert_int_equal(db_exec(f->c, "DELETE FROM ledger_books WHERE book = 'user:ghost:available'"), 0);
    assert_int_equal(ledger_check(f->c), 0);
}

/* Migration 3 folds the interim credit grants (whole credits) in. */
static void test_migration_fold(void **state)
{
    fixture *f = *state;
    const char *a = f->free_acct->id;
    char sql[1024];
    /* Back to "before migration 3" with two interim grants (and before
     * migration 7, which fills the running balances from the entries). */
    assert_int_equal(db_exec(f->c, "DROP TABLE ledger_entries; DROP TABLE ledger_ops; DROP TABLE ledger_books;"
                                   "DELETE FROM schema_migrations WHERE version IN (3, 7)"),
                     0);
    snprintf(sql, sizeof sql,
             "INSERT INTO credit_grants VALUES ('cg_1', '%s', 70, 10, 'start');"
             "INSERT INTO credit_grants VALUES ('cg_2', '%s', -30, 20, 'fix');"
             "INSERT INTO credit_grants VALUES ('cg_3', '%s', 0, 30, NULL)",
             a, a, a);
    assert_int_equal(db_exec(f->c, sql), 0);
    assert_int_equal(store_migrate(f->c), 0);
    assert_balance(f, a, C(40), 0, 0);
    assert_int_equal(count_rows(f, "ledger_entries"), 2);
    assert_int_equal(ledger_check(f->c), 0);
    /* New operations continue the sequence. */
    assert_int_equal(ledger_grant(f->c, a, C(1), "after", NULL), 0);
    ledger_entry *e = NULL;
    size_t n = 0;
    assert_int_equal(ledger_entries(&e, &n, f->c, a, 0, 10), 0);
    assert_int_equal(n, 3);
    assert_int_equal(e[0].seq, 3);
    assert_string_equal(e[1].kind, "adjust");
    assert_int_equal(e[2].seq, 1);
    ledger_entries_free(e, n);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_grant),
        T(test_reserve_settle),
        T(test_settle_caps_and_zero),
        T(test_release),
        T(test_shortfall),
        T(test_overage),
        T(test_joins_outer_transaction),
        cmocka_unit_test(test_cycles),
        T(test_grant_cycle),
        T(test_entries_pagination),
        T(test_check_second_settlement),
        T(test_check_extra_leg),
        T(test_check_free_credits),
        T(test_check_negative_and_foreign),
        T(test_check_other_corruptions),
        T(test_migration_fold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
