/*
 * test_jobs_system.c - the job system (src/jobs) on a real, migrated
 * SQLite database in a temporary directory, without HTTP and without
 * workers (job_system_start(a, 0)): submit with Idempotency-Key (same key
 * + body replays the answer, another body 422, a key in flight 409, a
 * validation failure forgets the key), 404 for a missing FMU, the queue's
 * transitions driven by the worker's own steps (worker.c is included to
 * reach claim_fn / finish_fn): claim queued -> running with this process's
 * lease, finish running -> failed (charged) exactly once, a second finish
 * changes nothing and settles nothing; cancel of a queued job (released,
 * 409 again); recovery at start of a job left running by a dead process
 * (failed platform_error, released, not run again); the monitor pass
 * (progress written, cancel marks of other processes honoured), and
 * status progress from the database.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* the worker's statics (claim_fn, finish_fn): job__worker_main and friends
 * come from here, so the archive's worker.o is not linked in */
#include "jobs/worker.c"

#include "ledger/ledger.h"
#include "server/config.h"
#include "store/accounts.h"
#include "store/migrations.h"

#define FMU_ID "fmu_0123456789abcdef0123456789abcdef"
#define SUMMARY                                                                                                     \
    "{\"interfaces\":[\"CoSimulation\"],\"default_experiment\":{\"start_time\":0,\"stop_time\":10},"                \
    "\"variables\":[{\"name\":\"x\",\"type\":\"Real\",\"causality\":\"output\",\"variability\":\"continuous\","    \
    "\"start\":\"1\"},{\"name\":\"k\",\"type\":\"Real\",\"causality\":\"parameter\",\"variability\":\"tunable\","   \
    "\"start\":\"-1\"}]}"

typedef struct {
    char *dir;
    fmugw_config cfg;
    app a;
    db_conn *c;
    store_account *acct;
    principal who;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char url[700], path[1024];
    uint8_t key[32];
    if (!f || fmugw_mkdtemp(&f->dir, "fmugw-test-jobs-") != 0)
        return -1;
    f->cfg.data_dir = f->dir;
    f->a.cfg = &f->cfg;
    snprintf(path, sizeof path, "%s/pricing.json", getenv("FMUGW_SOURCE_DIR") ? getenv("FMUGW_SOURCE_DIR") : ".");
    if (pricing_load(&f->a.pricing, path) != 0)
        return -1;
    snprintf(url, sizeof url, "%s/blobs", f->dir);
    if (blob_store_open(&f->a.blobs, url) != 0 || crypto_keyring_new(&f->a.master_keys) != 0 ||
        crypto_random_bytes(key, sizeof key) != 0 || crypto_keyring_add(f->a.master_keys, "k1", key, true) != 0)
        return -1;
    f->a.tmp_dir = f->dir;
    snprintf(url, sizeof url, "sqlite://%s/fmugw.db", f->dir);
    if (db_open(&f->c, url) != 0 || store_migrate(f->c) != 0 ||
        store_account_create(&f->acct, f->c, "jobs@example.com", "pro") != 0 ||
        ledger_grant(f->c, f->acct->id, 1000 * LEDGER_MILLI, "grant:test", "test") != 0)
        return -1;
    int64_t now = job__now_ms();
    if (db_execp(NULL, f->c,
                 "INSERT INTO fmus (id, account_id, name, size, sha256, state, summary, blob_key, created_at, "
                 "updated_at) VALUES ($1, $2, 'm', 1000, $3, 'ready', $4, $3, $5, $5)",
                 "ttt" "ti", FMU_ID, f->acct->id,
                 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", SUMMARY, now) != 0)
        return -1;
    snprintf(f->who.account_id, sizeof f->who.account_id, "%s", f->acct->id);
    snprintf(f->who.tier, sizeof f->who.tier, "pro");
    if (job_system_start(&f->a, 0) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    job_system_stop(&f->a);
    store_account_free(f->acct);
    db_close(f->c);
    blob_store_close(f->a.blobs);
    crypto_keyring_free(f->a.master_keys);
    pricing_free(f->a.pricing);
    fmugw_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static job_answer submit(fixture *f, const char *body, const char *idem)
{
    job_answer ans;
    json_t *b = json_loads(body, 0, NULL);
    assert_non_null(b);
    assert_int_equal(job_submit(&ans, f->a.jobs, &f->who, b, idem), 0);
    json_decref(b);
    return ans;
}

static const char *field0(const job_answer *a)
{
    return json_string_value(json_object_get(json_array_get(json_object_get(a->body, "errors"), 0), "field"));
}

static int64_t scalar(fixture *f, const char *sql, const char *job_id)
{
    db_stmt *st = NULL;
    int64_t v = -1;
    assert_int_equal(db_query(&st, f->c, sql, "t", job_id), 0);
    if (db_step(st) == 1)
        v = db_column_int64(st, 0);
    db_finalize(st);
    return v;
}

static char *status_of(fixture *f, const char *job_id, double *progress)
{
    json_t *j = NULL;
    assert_int_equal(job_status(&j, f->a.jobs, f->acct->id, job_id), 0);
    char *s = strdup(json_string_value(json_object_get(j, "status")));
    if (progress)
        *progress = json_number_value(json_object_get(j, "progress"));
    json_decref(j);
    return s;
}

static void test_idempotency(void **state)
{
    fixture *f = *state;
    const char *body = "{\"fmu_id\":\"" FMU_ID "\",\"stop_time\":3}";
    job_answer a1 = submit(f, body, "key-1");
    assert_int_equal(a1.status, 202);
    assert_false(a1.replayed);
    const char *id = json_string_value(json_object_get(a1.body, "job_id"));
    assert_non_null(id);
    assert_string_equal(json_string_value(json_object_get(a1.body, "status")), "queued");

    /* same key, same body (member order aside): the first answer again */
    job_answer a2 = submit(f, "{\"stop_time\":3,\"fmu_id\":\"" FMU_ID "\"}", "key-1");
    assert_int_equal(a2.status, 202);
    assert_true(a2.replayed);
    assert_string_equal(json_string_value(json_object_get(a2.body, "job_id")), id);
    assert_int_equal(scalar(f, "SELECT COUNT(*) FROM jobs WHERE account_id = $1", f->acct->id), 1);

    /* same key, other body: 422 naming the header, nothing admitted */
    job_answer a3 = submit(f, "{\"fmu_id\":\"" FMU_ID "\",\"stop_time\":4}", "key-1");
    assert_int_equal(a3.status, 422);
    assert_string_equal(field0(&a3), "Idempotency-Key");
    assert_int_equal(scalar(f, "SELECT COUNT(*) FROM jobs WHERE account_id = $1", f->acct->id), 1);

    /* a key in flight (its first request not answered yet): 409 */
    const char *body2 = "{\"fmu_id\":\"" FMU_ID "\",\"stop_time\":5}";
    json_t *b2 = json_loads(body2, 0, NULL);
    char *canon = json_dumps(b2, JSON_COMPACT | JSON_SORT_KEYS);
    uint8_t d[32];
    char hex[65];
    crypto_sha256(d, canon, strlen(canon));
    crypto_hex_encode(hex, sizeof hex, d, sizeof d);
    assert_int_equal(db_execp(NULL, f->c,
                              "INSERT INTO idempotency_keys (account_id, idem_key, request_hash, created_at) "
                              "VALUES ($1, 'key-2', $2, $3)",
                              "tti", f->acct->id, hex, job__now_ms()),
                     0);
    job_answer a4 = submit(f, body2, "key-2");
    assert_int_equal(a4.status, 409);
    /* ... left by a crash long ago: taken over */
    assert_int_equal(db_execp(NULL, f->c, "UPDATE idempotency_keys SET created_at = 1 WHERE idem_key = 'key-2'", NULL),
                     0);
    job_answer a5 = submit(f, body2, "key-2");
    assert_int_equal(a5.status, 202);
    assert_false(a5.replayed);

    /* a validation failure is not remembered: the key is free again */
    job_answer a6 = submit(f, "{\"fmu_id\":\"" FMU_ID "\",\"start_values\":{\"nope\":1}}", "key-3");
    assert_int_equal(a6.status, 422);
    assert_string_equal(field0(&a6), "start_values.nope");
    assert_int_equal(scalar(f, "SELECT COUNT(*) FROM idempotency_keys WHERE idem_key = 'key-3' AND account_id = $1",
                            f->acct->id),
                     0);
    job_answer a7 = submit(f, body, "key-3");
    assert_int_equal(a7.status, 202);

    /* a bad key and a missing FMU */
    job_answer a8 = submit(f, body, "bad key");
    assert_int_equal(a8.status, 400);
    job_answer a9 = submit(f, "{\"fmu_id\":\"fmu_nope\"}", NULL);
    assert_int_equal(a9.status, 404);

    job_answer *all[] = { &a1, &a2, &a3, &a4, &a5, &a6, &a7, &a8, &a9 };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        json_decref(all[i]->body);
    free(canon);
    json_decref(b2);
    /* leave the queue empty for the next tests */
    assert_int_equal(db_execp(NULL, f->c, "UPDATE jobs SET status = 'canceled' WHERE status = 'queued'", NULL), 0);
}

/* Claims the next queued job as a regular worker does (a reserve worker
 * with `reserve`); false when none. */
static bool claim_as(fixture *f, claimed *job, bool reserve)
{
    claim_tx t = { f->a.jobs, job, reserve, false };
    assert_int_equal(db_transact(f->c, claim_fn, &t), 0);
    return t.got;
}

static bool claim(fixture *f, claimed *job)
{
    return claim_as(f, job, false);
}

static void test_claim_finish_once(void **state)
{
    fixture *f = *state;
    claimed job;
    memset(&job, 0, sizeof job);
    assert_false(claim(f, &job)); /* nothing queued */
    job_answer a = submit(f, "{\"fmu_id\":\"" FMU_ID "\",\"stop_time\":3,\"reuse\":false}", NULL);
    assert_int_equal(a.status, 202);
    char id[JOB_ID_MAX];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(a.body, "job_id")));
    json_decref(a.body);

    /* claim: queued -> running under this process's lease, once */
    assert_true(claim(f, &job));
    assert_string_equal(job.id, id);
    assert_true(job.reserved > 0);
    char *s = status_of(f, id, NULL);
    assert_string_equal(s, "running");
    free(s);
    db_stmt *st = NULL;
    assert_int_equal(db_query(&st, f->c, "SELECT lease_owner, attempts FROM jobs WHERE id = $1", "t", id), 0);
    assert_int_equal(db_step(st), 1);
    assert_string_equal(db_column_text(st, 0), f->a.jobs->owner);
    assert_int_equal(db_column_int64(st, 1), 1);
    db_finalize(st);
    claimed other;
    memset(&other, 0, sizeof other);
    assert_false(claim(f, &other));
    /* a reserve worker never takes a second job of an account already running one */
    a = submit(f, "{\"fmu_id\":\"" FMU_ID "\",\"stop_time\":3,\"reuse\":false}", NULL);
    assert_int_equal(a.status, 202);
    char id2[JOB_ID_MAX];
    snprintf(id2, sizeof id2, "%s", json_string_value(json_object_get(a.body, "job_id")));
    json_decref(a.body);
    assert_false(claim_as(f, &other, true));
    s = status_of(f, id2, NULL);
    assert_string_equal(s, "queued");
    free(s);
    assert_true(claim(f, &other)); /* a regular worker does */
    assert_string_equal(other.id, id2);
    free(other.request);
    free(other.inputs);
    memset(&other, 0, sizeof other);
    assert_int_equal(db_execp(NULL, f->c, "UPDATE jobs SET status = 'canceled' WHERE id = $1", "t", id2), 0);

    /* progress written by the worker shows in the status */
    assert_int_equal(db_execp(NULL, f->c, "UPDATE jobs SET progress_ppm = 250000 WHERE id = $1", "t", id), 0);
    double p = -1;
    s = status_of(f, id, &p);
    assert_true(p == 0.25);
    free(s);

    /* finish as an FMU error: charged its metered use, exactly once */
    sandbox_report rep;
    memset(&rep, 0, sizeof rep);
    rep.outcome = SANDBOX_FMU_ERROR;
    rep.cpu_user_ms = 1500;
    rep.wall_ms = 2000;
    rep.peak_rss_kb = 20000;
    finish_tx ft;
    memset(&ft, 0, sizeof ft);
    ft.js = f->a.jobs;
    ft.job = &job;
    ft.rep = &rep;
    ft.status = "failed";
    ft.error_class = "fmu_error";
    ft.message = "fmu_error: test";
    ft.tier = pricing_tier_get(f->a.pricing, "pro");
    ft.usage = (pricing_usage){ .fmu_bytes = 1000, .stop_minus_start = 3, .cpu_ms = 1500, .wall_ms = 2000,
                                .peak_rss_kb = 20000 };
    ft.progress = 400000;
    assert_int_equal(db_transact(f->c, finish_fn, &ft), 0);
    assert_int_equal(ft.changed, 1);
    int64_t reserved = 0, charged = 0;
    assert_int_equal(ledger_job_amounts(f->c, id, &reserved, &charged), 0);
    assert_true(charged > 0 && charged <= reserved);
    assert_int_equal(scalar(f, "SELECT credits_charged FROM jobs WHERE id = $1", id), charged);
    s = status_of(f, id, &p);
    assert_string_equal(s, "failed");
    assert_true(p == 0.4);
    free(s);

    /* again (a retried finish): nothing changes, nothing is settled twice */
    finish_tx ft2 = ft;
    ft2.changed = 0;
    ft2.error_class = NULL;
    ft2.status = "succeeded";
    assert_int_equal(db_transact(f->c, finish_fn, &ft2), 0);
    assert_int_equal(ft2.changed, 0);
    s = status_of(f, id, NULL);
    assert_string_equal(s, "failed");
    free(s);
    int64_t charged2 = 0;
    assert_int_equal(ledger_job_amounts(f->c, id, &reserved, &charged2), 0);
    assert_int_equal(charged2, charged);
    assert_int_equal(ledger_settle(f->c, id, 1), FMUGW_EEXISTS);
    assert_int_equal(ledger_release(f->c, id), FMUGW_EEXISTS);
    assert_int_equal(scalar(f, "SELECT COUNT(*) FROM ledger_ops WHERE job_id = $1 AND kind IN ('settle', 'release')", id),
                     1);
    assert_int_equal(ledger_check(f->c), 0);
    free(job.request);
    free(job.inputs);
    free(other.request);
    free(other.inputs);
}

static void test_cancel_queued(void **state)
{
    fixture *f = *state;
    job_answer a = submit(f, "{\"fmu_id\":\"" FMU_ID "\",\"stop_time\":2,\"reuse\":false}", NULL);
    assert_int_equal(a.status, 202);
    char id[JOB_ID_MAX];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(a.body, "job_id")));
    json_decref(a.body);
    json_t *j = NULL;
    assert_int_equal(job_cancel(&j, f->a.jobs, f->acct->id, id), 0);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "canceled");
    assert_true(json_number_value(json_object_get(j, "credits_charged")) == 0);
    json_decref(j);
    int64_t reserved = 0, charged = -1;
    assert_int_equal(ledger_job_amounts(f->c, id, &reserved, &charged), 0);
    assert_int_equal(charged, 0);
    assert_int_equal(ledger_release(f->c, id), FMUGW_EEXISTS); /* released once already */
    assert_int_equal(job_cancel(&j, f->a.jobs, f->acct->id, id), FMUGW_ECONFLICT);
    assert_int_equal(job_cancel(&j, f->a.jobs, "acct_other", id), FMUGW_ENOTFOUND);
}

static void test_monitor_pass(void **state)
{
    fixture *f = *state;
    job_system *js = f->a.jobs;
    job_answer a = submit(f, "{\"fmu_id\":\"" FMU_ID "\",\"start_time\":1,\"stop_time\":5,\"reuse\":false}", NULL);
    assert_int_equal(a.status, 202);
    json_decref(a.body);
    claimed job;
    memset(&job, 0, sizeof job);
    assert_true(claim(f, &job));

    /* a worker slot of this process running it (the test stands in for
     * run_job), with the runner's progress reports */
    job_slot slot;
    memset(&slot, 0, sizeof slot);
    slot.result_rfd = -1;
    pthread_mutex_lock(&js->mu);
    js->slots = &slot;
    js->n_workers = 1;
    snprintf(slot.job_id, sizeof slot.job_id, "%s", job.id);
    slot.active = true;
    slot.start = 1;
    slot.span = 4;
    pthread_mutex_unlock(&js->mu);
    progress_ctx pc = { js, &slot };
    on_progress(&pc, 2.0);  /* 25 % */
    on_progress(&pc, 1.5);  /* never backwards */
    assert_int_equal(slot.progress, 250000);
    double p = -1;
    char *s = status_of(f, job.id, &p);
    assert_true(p == 0.25); /* in memory, not written yet */
    free(s);

    assert_int_equal(job__monitor_pass(js), 0);
    assert_int_equal(scalar(f, "SELECT progress_ppm FROM jobs WHERE id = $1", job.id), 250000);
    assert_int_equal(__atomic_load_n(&slot.cancel_flag, __ATOMIC_ACQUIRE), 0);
    /* written at most every JOB_PROGRESS_WRITE_MS */
    on_progress(&pc, 3.0);
    assert_int_equal(job__monitor_pass(js), 0);
    assert_int_equal(scalar(f, "SELECT progress_ppm FROM jobs WHERE id = $1", job.id), 250000);
    slot.progress_written_ms -= JOB_PROGRESS_WRITE_MS;
    assert_int_equal(job__monitor_pass(js), 0);
    assert_int_equal(scalar(f, "SELECT progress_ppm FROM jobs WHERE id = $1", job.id), 500000);
    on_progress(&pc, 99.0); /* past stop: clamped */
    assert_int_equal(slot.progress, JOB_PROGRESS_SCALE);

    /* a cancel mark set by another process (the API's job_cancel writes it) */
    assert_int_equal(db_execp(NULL, f->c, "UPDATE jobs SET cancel_requested = 1 WHERE id = $1", "t", job.id), 0);
    assert_int_equal(job__monitor_pass(js), 0);
    assert_int_equal(__atomic_load_n(&slot.cancel_flag, __ATOMIC_ACQUIRE), 1);
    assert_true(slot.cancel);

    pthread_mutex_lock(&js->mu);
    js->slots = NULL;
    js->n_workers = 0;
    pthread_mutex_unlock(&js->mu);
    free(job.request);
    free(job.inputs);
}

static void test_recovery_after_crash(void **state)
{
    fixture *f = *state;
    job_answer a = submit(f, "{\"fmu_id\":\"" FMU_ID "\",\"stop_time\":6,\"reuse\":false}", NULL);
    assert_int_equal(a.status, 202);
    json_decref(a.body);
    claimed job;
    memset(&job, 0, sizeof job);
    assert_true(claim(f, &job));
    /* its worker's process dies: a lease of a pid that does not exist */
    char owner[160];
    snprintf(owner, sizeof owner, "%s:%d:deadbeef", f->a.jobs->host, 0x7ffffff0);
    assert_int_equal(db_execp(NULL, f->c, "UPDATE jobs SET lease_owner = $1 WHERE id = $2", "tt", owner, job.id), 0);
    /* and one queued job that must survive the restart */
    job_answer q = submit(f, "{\"fmu_id\":\"" FMU_ID "\",\"stop_time\":7,\"reuse\":false}", NULL);
    char qid[JOB_ID_MAX];
    snprintf(qid, sizeof qid, "%s", json_string_value(json_object_get(q.body, "job_id")));
    json_decref(q.body);

    job_system_stop(&f->a);
    assert_int_equal(job_system_start(&f->a, 0), 0);
    char *s = status_of(f, job.id, NULL);
    assert_string_equal(s, "failed");
    free(s);
    db_stmt *st = NULL;
    assert_int_equal(db_query(&st, f->c, "SELECT error_class, lease_owner, attempts FROM jobs WHERE id = $1", "t",
                              job.id),
                     0);
    assert_int_equal(db_step(st), 1);
    assert_string_equal(db_column_text(st, 0), "platform_error");
    assert_null(db_column_text(st, 1));
    assert_int_equal(db_column_int64(st, 2), 1); /* not run again */
    db_finalize(st);
    int64_t reserved = 0, charged = -1;
    assert_int_equal(ledger_job_amounts(f->c, job.id, &reserved, &charged), 0);
    assert_int_equal(charged, 0);
    assert_int_equal(ledger_settle(f->c, job.id, 1), FMUGW_EEXISTS); /* released: never charged later */
    s = status_of(f, qid, NULL);
    assert_string_equal(s, "queued");
    free(s);
    assert_int_equal(ledger_check(f->c), 0);
    free(job.request);
    free(job.inputs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idempotency),
        cmocka_unit_test(test_claim_finish_once),
        cmocka_unit_test(test_cancel_queued),
        cmocka_unit_test(test_monitor_pass),
        cmocka_unit_test(test_recovery_after_crash),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
