/*
 * test_ledger_property.c - the ledger under thousands of random steps from
 * several threads, each on its own connection to one SQLite file:
 *
 *   admit          = ledger_reserve (Free: hard limit, 402 shortfall)
 *   finish         = ledger_settle with a random charge <= the reservation
 *   fail by FMU    = ledger_settle with a partial charge
 *   platform fail  = ledger_release
 *   cancel         = ledger_release
 *   retry          = the same operation again: FMUGW_EEXISTS, nothing changes
 *   top-up         = ledger_grant (and its repeat)
 *   crash+restart  = a forked child begins a transaction, writes part of an
 *                    operation and is SIGKILLed; every connection is then
 *                    closed and reopened
 *
 * Each thread keeps a model of its jobs. Every batch (inside a write
 * transaction, so the snapshot is consistent) ledger_check passes and no
 * Free account is negative or in overage; after every round (threads
 * joined) the books match the models exactly: revenue = sum of charges,
 * reserved = sum of open reservations, each job's reserved/charged amounts
 * as modelled, each job closed at most once.
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

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NTHREADS 4
#define ROUNDS 8
#define STEPS 160 /* per thread and round: 4 x 8 x 160 = 5120 steps */
#define CHECK_EVERY 40
#define MAX_JOBS (ROUNDS * STEPS)
#define NACCTS 3 /* free, pro, enterprise */

enum { OPEN = 0, SETTLED, RELEASED };

typedef struct {
    char id[40];
    int acct;
    int state;
    int64_t reserved, charged;
} job;

typedef struct {
    int tid;
    unsigned seed;
    db_conn *c;
    job jobs[MAX_JOBS];
    size_t njobs;
    int topups;
    int64_t eexists_seen, shortfalls_seen;
    char failure[512];
} worker;

static char url[700];
static char acct_ids[NACCTS][64];
static worker W[NTHREADS];

#define WFAIL(w, ...)                                                                                             \
    do {                                                                                                          \
        snprintf((w)->failure, sizeof (w)->failure, __VA_ARGS__);                                                 \
        return NULL;                                                                                              \
    } while (0)

static int64_t scalar(db_conn *c, const char *sql, const char *arg)
{
    db_stmt *st = NULL;
    int64_t v = -1;
    if (db_query(&st, c, sql, arg ? "t" : NULL, arg) == 0 && db_step(st) == 1)
        v = db_column_int64(st, 0);
    db_finalize(st);
    return v;
}

static int64_t job_rows(db_conn *c, const char *job_id)
{
    return scalar(c, "SELECT COUNT(*) FROM ledger_entries WHERE job_id = $1", job_id);
}

/* The batch check: one consistent snapshot (a write transaction). */
static int check_tx(db_conn *c, void *p)
{
    (void)p;
    int rc = ledger_check(c);
    if (rc != 0)
        return rc;
    ledger_balance b;
    if ((rc = ledger_balance_get(c, acct_ids[0], &b)) != 0)
        return rc;
    if (b.available < 0 || b.overage_used != 0)
        return fmugw_error_set(FMUGW_ERROR, "free account negative or in overage (%lld, %lld)",
                               (long long)b.available, (long long)b.overage_used);
    return 0;
}

static job *pick(worker *w, int want_state)
{
    if (w->njobs == 0)
        return NULL;
    size_t start = (size_t)rand_r(&w->seed) % w->njobs;
    for (size_t k = 0; k < w->njobs; k++) {
        job *j = &w->jobs[(start + k) % w->njobs];
        if (want_state < 0 || j->state == want_state)
            return j;
    }
    return NULL;
}

static void *run_worker(void *p)
{
    worker *w = p;
    for (int step = 0; step < STEPS; step++) {
        int r = rand_r(&w->seed) % 100, rc;
        if (r < 32) { /* admit */
            if (w->njobs == MAX_JOBS)
                continue;
            job *j = &w->jobs[w->njobs];
            memset(j, 0, sizeof *j);
            snprintf(j->id, sizeof j->id, "job_t%d_%zu", w->tid, w->njobs);
            j->acct = rand_r(&w->seed) % NACCTS;
            j->reserved = 1 + rand_r(&w->seed) % 300000;
            int64_t shortfall = -1;
            rc = ledger_reserve(w->c, acct_ids[j->acct], j->id, j->reserved, j->acct != 0, &shortfall);
            if (rc == 0) {
                if (shortfall != 0)
                    WFAIL(w, "shortfall %lld on success", (long long)shortfall);
                w->njobs++;
            } else if (rc == FMUGW_ELIMIT && j->acct == 0) {
                if (shortfall <= 0 || shortfall > j->reserved)
                    WFAIL(w, "bad shortfall %lld for %lld", (long long)shortfall, (long long)j->reserved);
                if (job_rows(w->c, j->id) != 0)
                    WFAIL(w, "refused admission wrote entries");
                w->shortfalls_seen++;
            } else {
                WFAIL(w, "reserve: %d %s", rc, fmugw_error_last());
            }
        } else if (r < 72) { /* finish / fail by FMU / platform fail / cancel */
            job *j = pick(w, OPEN);
            if (!j)
                continue;
            if (r < 60) {
                int64_t charge = r < 50 ? rand_r(&w->seed) % (j->reserved + 1) /* finish */
                                        : rand_r(&w->seed) % (j->reserved / 2 + 1); /* FMU failure */
                if (rand_r(&w->seed) % 20 == 0)
                    charge = j->reserved + 1 + rand_r(&w->seed) % 1000; /* metered above: capped */
                rc = ledger_settle_detail(w->c, j->id, charge, "{\"fmu_id\":\"fmu_prop\"}");
                if (rc != 0)
                    WFAIL(w, "settle: %s", fmugw_error_last());
                j->state = SETTLED;
                j->charged = charge < j->reserved ? charge : j->reserved;
            } else {
                if ((rc = ledger_release(w->c, j->id)) != 0)
                    WFAIL(w, "release: %s", fmugw_error_last());
                j->state = RELEASED;
            }
        } else if (r < 95) { /* retry an operation with the same key */
            job *j = pick(w, -1);
            if (!j)
                continue;
            int64_t rows = job_rows(w->c, j->id), res0, ch0, res1, ch1;
            ledger_balance b0, b1;
            if (ledger_job_amounts(w->c, j->id, &res0, &ch0) != 0)
                WFAIL(w, "amounts: %s", fmugw_error_last());
            int which = rand_r(&w->seed) % 3;
            if (which == 0)
                rc = ledger_reserve(w->c, acct_ids[j->acct], j->id, j->reserved, true, NULL);
            else if (j->state == OPEN)
                rc = ledger_reserve(w->c, acct_ids[j->acct], j->id, 1, false, NULL);
            else if (which == 1)
                rc = ledger_settle(w->c, j->id, j->charged);
            else
                rc = ledger_release(w->c, j->id);
            if (rc != FMUGW_EEXISTS)
                WFAIL(w, "retry of %s (%d, state %d) gave %d", j->id, which, j->state, rc);
            (void)b0;
            (void)b1;
            if (job_rows(w->c, j->id) != rows || ledger_job_amounts(w->c, j->id, &res1, &ch1) != 0 || res1 != res0 ||
                ch1 != ch0)
                WFAIL(w, "a retry changed job %s", j->id);
            w->eexists_seen++;
        } else { /* top-up grant, and its repeat */
            char key[64];
            int a = rand_r(&w->seed) % NACCTS;
            snprintf(key, sizeof key, "topup:%d:%d", w->tid, w->topups++);
            int64_t amount = (50 + rand_r(&w->seed) % 450) * (int64_t)LEDGER_MILLI;
            if ((rc = ledger_grant(w->c, acct_ids[a], amount, key, "top-up")) != 0)
                WFAIL(w, "grant: %s", fmugw_error_last());
            if (ledger_grant(w->c, acct_ids[a], amount, key, "top-up") != FMUGW_EEXISTS)
                WFAIL(w, "repeated grant was applied");
        }
        if ((step + 1) % CHECK_EVERY == 0 && (rc = db_transact(w->c, check_tx, NULL)) != 0)
            WFAIL(w, "batch check after step %d: %s", step, fmugw_error_last());
    }
    return NULL;
}

/* ---- crash and restart --------------------------------------------------- */

typedef struct {
    const char *job_id;    /* the operation's job */
    const char *acct;
    bool settle;           /* settle an open job (else reserve a new one) */
} crash_plan;

static int crash_tx(db_conn *c, void *p)
{
    const crash_plan *cp = p;
    int rc = cp->settle ? ledger_settle(c, cp->job_id, 1) : ledger_reserve(c, cp->acct, cp->job_id, 5000, true, NULL);
    if (rc == 0)
        raise(SIGKILL); /* written, not committed */
    return rc;
}

/* A child process that dies inside the transaction of one operation. */
static void crash_child(const crash_plan *cp)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        db_conn *c = NULL;
        if (db_open(&c, url) != 0)
            _exit(3);
        db_transact(c, crash_tx, (void *)cp);
        _exit(4); /* not reached when the write worked */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
}

static void reopen_all(void)
{
    for (int t = 0; t < NTHREADS; t++) {
        db_close(W[t].c);
        W[t].c = NULL;
        assert_int_equal(db_open(&W[t].c, url), 0);
    }
}

/* ---- the exact comparison with the models (threads joined) --------------- */

static void compare_models(db_conn *c)
{
    int64_t revenue = 0, open_held[NACCTS] = {0};
    assert_int_equal(db_transact(c, check_tx, NULL), 0);
    for (int t = 0; t < NTHREADS; t++)
        for (size_t i = 0; i < W[t].njobs; i++) {
            const job *j = &W[t].jobs[i];
            int64_t res, ch;
            assert_int_equal(ledger_job_amounts(c, j->id, &res, &ch), 0);
            if (res != j->reserved || ch != j->charged)
                fail_msg("job %s: ledger %lld/%lld, model %lld/%lld", j->id, (long long)res, (long long)ch,
                         (long long)j->reserved, (long long)j->charged);
            int64_t closes = scalar(c, "SELECT COUNT(*) FROM ledger_ops WHERE job_id = $1 AND kind IN ('settle', 'release')",
                                    j->id);
            assert_int_equal(closes, j->state == OPEN ? 0 : 1);
            revenue += j->charged;
            if (j->state == OPEN)
                open_held[j->acct] += j->reserved;
        }
    assert_int_equal(scalar(c, "SELECT COALESCE(SUM(amount), 0) FROM ledger_entries WHERE credit = 'system:revenue'",
                            NULL),
                     revenue);
    for (int a = 0; a < NACCTS; a++) {
        ledger_balance b;
        assert_int_equal(ledger_balance_get(c, acct_ids[a], &b), 0);
        assert_int_equal(b.reserved, open_held[a]);
        assert_true(b.available >= 0);
        assert_true(b.overage_used >= 0);
    }
}

static void test_property(void **state)
{
    char *dir = NULL;
    db_conn *c = NULL;
    struct stat st;
    (void)state;
    /* tmpfs when there is one: thousands of fsync'd commits. */
    const char *base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : NULL;
    if (base) {
        char tmpl[64];
        snprintf(tmpl, sizeof tmpl, "%s/fmugw-ledger-prop-XXXXXX", base);
        assert_non_null(mkdtemp(tmpl));
        dir = strdup(tmpl);
    } else {
        assert_int_equal(fmugw_mkdtemp(&dir, "fmugw-ledger-prop-"), 0);
    }
    snprintf(url, sizeof url, "sqlite://%s/fmugw.db", dir);
    assert_int_equal(db_open(&c, url), 0);
    assert_int_equal(store_migrate(c), 0);
    const char *tiers[NACCTS] = {"free", "pro", "enterprise"};
    for (int a = 0; a < NACCTS; a++) {
        store_account *acct = NULL;
        char email[64], key[64];
        snprintf(email, sizeof email, "prop%d@example.com", a);
        assert_int_equal(store_account_create(&acct, c, email, tiers[a]), 0);
        snprintf(acct_ids[a], sizeof acct_ids[a], "%s", acct->id);
        snprintf(key, sizeof key, "grant:%s:initial", acct->id);
        assert_int_equal(ledger_grant(c, acct->id, (a == 0 ? 300 : 5000) * (int64_t)LEDGER_MILLI, key, NULL), 0);
        store_account_free(acct);
    }
    for (int t = 0; t < NTHREADS; t++) {
        W[t].tid = t;
        W[t].seed = 0x5eed0000u + (unsigned)t * 7919u;
        assert_int_equal(db_open(&W[t].c, url), 0);
    }

    size_t steps = 0;
    for (int round = 0; round < ROUNDS; round++) {
        pthread_t th[NTHREADS];
        for (int t = 0; t < NTHREADS; t++)
            assert_int_equal(pthread_create(&th[t], NULL, run_worker, &W[t]), 0);
        for (int t = 0; t < NTHREADS; t++) {
            pthread_join(th[t], NULL);
            if (W[t].failure[0])
                fail_msg("thread %d, round %d: %s", t, round, W[t].failure);
        }
        steps += NTHREADS * STEPS;
        compare_models(c);

        /* Crash in the middle of an admission, and of a settlement. */
        char crash_job[48];
        snprintf(crash_job, sizeof crash_job, "job_crash_%d", round);
        crash_plan cp = {crash_job, acct_ids[1 + round % 2], false};
        crash_child(&cp);
        job *open = pick(&W[round % NTHREADS], OPEN);
        if (open) {
            crash_plan cs = {open->id, acct_ids[open->acct], true};
            crash_child(&cs);
        }
        /* Restart: every connection anew; nothing of the dead writes. */
        db_close(c);
        assert_int_equal(db_open(&c, url), 0);
        reopen_all();
        int64_t res, ch;
        assert_int_equal(ledger_job_amounts(c, crash_job, &res, &ch), 0);
        assert_int_equal(res + ch, 0);
        assert_int_equal(scalar(c, "SELECT COUNT(*) FROM ledger_entries WHERE job_id = $1", crash_job), 0);
        compare_models(c); /* the open job is still open, as modelled */
        steps += 2;
    }
    int64_t eexists = 0, shortfalls = 0;
    for (int t = 0; t < NTHREADS; t++) {
        eexists += W[t].eexists_seen;
        shortfalls += W[t].shortfalls_seen;
    }
    /* The run exercised what it claims to. */
    assert_true(steps >= 5000);
    assert_true(eexists > 500);
    assert_true(shortfalls > 0);
    printf("ledger property: %zu steps, %lld repeats refused, %lld Free admissions refused (402), %lld entries\n",
           steps, (long long)eexists, (long long)shortfalls, (long long)scalar(c, "SELECT COUNT(*) FROM ledger_entries",
                                                                                 NULL));
    for (int t = 0; t < NTHREADS; t++)
        db_close(W[t].c);
    db_close(c);
    fmugw_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_property),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
