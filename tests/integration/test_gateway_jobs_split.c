/*
 * test_gateway_jobs_split.c - job progress and cancel, with the API and the
 * workers in one daemon (`--role all`) and split over two processes on one
 * data directory (`fmugwd --role api` + `fmugwd --role worker`): a long
 * job's progress, polled through GET /fmu/status, is non-decreasing and
 * shows values strictly between 0 and 1 while it runs; POST /fmu/cancel
 * answered by the API process stops the job in the worker process (the
 * worker's monitor sees the database mark); the job ends canceled and
 * charged for what it used, once; a short job ends succeeded with
 * progress 1. No timing assertions: loops are bounded by counts only.
 */
/* harness.h is header-only: not every helper is used here */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wformat-truncation"

#include "harness.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store/db.h"

typedef struct {
    char key[128];
    char token[4096];
} cred;

static int get_token(const gw *g, cred *c)
{
    return gw_token(g, c->key, c->token, sizeof c->token);
}

static json_t *call(const gw *g, const cred *c, const char *method, const char *path, const char *body, long want)
{
    char k[256], t[4200];
    snprintf(k, sizeof k, "X-API-Key: %s", c->key);
    snprintf(t, sizeof t, "Authorization: Bearer %s", c->token);
    const char *hs[] = { k, t, "Content-Type: application/json", NULL };
    gw_response r;
    assert_int_equal(gw_request(g, &r, method, path, body, body ? strlen(body) : 0, hs), 0);
    if (r.status != want)
        fprintf(stderr, "%s %s: %ld %s\n", method, path, r.status, r.body);
    assert_int_equal(r.status, want);
    json_t *j = gw_json(&r);
    gw_response_free(&r);
    assert_non_null(j);
    return j;
}

static void sample_id(const gw *g, const cred *c, const char *name, char out[64])
{
    json_t *j = call(g, c, "GET", "/fmu?limit=200", NULL, 200);
    gw_item_id_named(out, j, name);
    json_decref(j);
    assert_true(out[0] != '\0');
}

static const char *status_of(const json_t *j)
{
    return json_string_value(json_object_get(j, "status"));
}

static int64_t milli(const json_t *j, const char *key)
{
    return llround(json_number_value(json_object_get(j, key)) * 1000);
}

/* The scenario on `api` (the process answering HTTP; workers in it or in
 * another process): a long job's progress, then its cancel; a short job. */
static void progress_and_cancel(const gw *api)
{
    cred c;
    memset(&c, 0, sizeof c);
    snprintf(c.key, sizeof c.key, "%s", api->admin_key);
    assert_int_equal(get_token(api, &c), 0);
    char dq[64], body[512], path[256];
    sample_id(api, &c, "Dahlquist (FMI 2.0)", dq);

    /* far longer than the test lets it run: 1e10 Euler steps */
    snprintf(body, sizeof body,
             "{\"fmu_id\":\"%s\",\"interface\":\"me\",\"solver\":\"euler\",\"step_size\":1e-7,\"stop_time\":1000,"
             "\"output_interval\":1,\"reuse\":false}",
             dq);
    json_t *j = call(api, &c, "POST", "/fmu/execute", body, 202);
    char id[64];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(j, "job_id")));
    json_decref(j);

    /* wait until it runs */
    snprintf(path, sizeof path, "/fmu/status/%s?wait=20&status=queued", id);
    for (int i = 0; i < 30; i++) {
        j = call(api, &c, "GET", path, NULL, 200);
        bool queued = !strcmp(status_of(j), "queued");
        if (!queued)
            assert_string_equal(status_of(j), "running");
        json_decref(j);
        if (!queued)
            break;
    }

    /* poll: non-decreasing, and two different values strictly inside (0, 1) */
    snprintf(path, sizeof path, "/fmu/status/%s", id);
    double last = 0, first_inside = -1;
    int inside = 0;
    for (int i = 0; i < 3000 && inside < 2; i++) {
        j = call(api, &c, "GET", path, NULL, 200);
        assert_string_equal(status_of(j), "running");
        double p = json_number_value(json_object_get(j, "progress"));
        json_decref(j);
        assert_true(p >= 0 && p <= 1);
        assert_true(p >= last);
        last = p;
        if (p > 0 && p < 1 && (first_inside < 0 || p > first_inside)) {
            if (first_inside < 0)
                first_inside = p;
            inside++;
        }
        usleep(50000);
    }
    assert_int_equal(inside, 2);

    /* cancel through the API: stopped wherever it runs, charged for its use */
    snprintf(path, sizeof path, "/fmu/cancel/%s", id);
    j = call(api, &c, "POST", path, NULL, 200);
    if (strcmp(status_of(j), "canceled") != 0) { /* the answer waits 10 s at most: look again */
        json_decref(j);
        snprintf(path, sizeof path, "/fmu/status/%s?wait=30&status=running", id);
        j = call(api, &c, "GET", path, NULL, 200);
    }
    assert_string_equal(status_of(j), "canceled");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "error_class")), "canceled");
    assert_true(milli(j, "credits_charged") > 0);
    assert_true(milli(j, "credits_charged") <= milli(j, "credits_reserved"));
    /* the progress it reached is kept */
    double p = json_number_value(json_object_get(j, "progress"));
    assert_true(p >= last && p < 1);
    json_decref(j);

    /* settled exactly once: one settle operation, no release, nothing reserved left */
    char url[800];
    db_conn *db = NULL;
    db_stmt *st = NULL;
    snprintf(url, sizeof url, "sqlite://%s/fmugw.db", api->data_dir);
    assert_int_equal(db_open(&db, url), 0);
    assert_int_equal(db_query(&st, db,
                              "SELECT SUM(kind = 'settle'), SUM(kind = 'release') FROM ledger_ops WHERE job_id = $1",
                              "t", id),
                     0);
    assert_int_equal(db_step(st), 1);
    assert_int_equal(db_column_int64(st, 0), 1);
    assert_int_equal(db_column_int64(st, 1), 0);
    db_finalize(st);
    db_close(db);

    /* cancel again: 409 */
    snprintf(path, sizeof path, "/fmu/cancel/%s", id);
    json_decref(call(api, &c, "POST", path, NULL, 409));

    /* a short job: succeeded, progress 1 */
    snprintf(body, sizeof body, "{\"fmu_id\":\"%s\",\"stop_time\":2,\"reuse\":false}", dq);
    j = call(api, &c, "POST", "/fmu/execute", body, 202);
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(j, "job_id")));
    json_decref(j);
    snprintf(path, sizeof path, "/fmu/status/%s?wait=10", id);
    for (int i = 0; i < 30; i++) {
        j = call(api, &c, "GET", path, NULL, 200);
        const char *s = status_of(j);
        if (strcmp(s, "queued") && strcmp(s, "running"))
            break;
        json_decref(j);
        j = NULL;
    }
    assert_non_null(j);
    assert_string_equal(status_of(j), "succeeded");
    assert_true(json_number_value(json_object_get(j, "progress")) == 1.0);
    json_decref(j);
}

static void test_one_process(void **state)
{
    (void)state;
    gw g;
    static char *env[] = { "FMUGW_WORKERS=1", NULL };
    assert_int_equal(gw_start(&g, env), 0);
    progress_and_cancel(&g);
    gw_stop(&g);
}

static void test_api_and_worker_processes(void **state)
{
    (void)state;
    gw api, worker;
    static char *api_args[] = { "--role", "api", NULL };
    static char *worker_args[] = { "--role", "worker", NULL };
    static char *env[] = { "FMUGW_WORKERS=1", NULL };
    assert_int_equal(gw_start_ex(&api, NULL, api_args, NULL), 0);
    assert_true(api.admin_key[0] != '\0');
    assert_int_equal(gw_start_ex(&worker, api.data_dir, worker_args, env), 0);
    progress_and_cancel(&api);
    gw_kill(&worker, SIGTERM); /* keeps the shared data dir */
    gw_stop(&api);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_process),
        cmocka_unit_test(test_api_and_worker_processes),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
