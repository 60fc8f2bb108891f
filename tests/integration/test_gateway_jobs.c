/*
 * test_gateway_jobs.c - jobs through the real fmugwd: every sample FMU
 * (FMI 2.0 and 3.0) with each interface it has, results byte-identical to
 * `fmugw sim` with the same settings; status long-poll; Idempotency-Key
 * (replay, other body 422, in flight 409); 422 field errors; 402 for a Free
 * account without credits; each hostile FMU fails with its class while
 * another tenant's job runs, charged the pricing of its metered usage;
 * cross-tenant 404; cancel (queued: nothing charged; running: charged for
 * its use); kill -9 of the daemon with jobs queued and running, restart,
 * ledger_check; retention purge; DELETE /account/data; options the
 * runner's rules refuse are 422s (subnormal steps and tolerances, steps or
 * rows past their bounds, too many names), options past the old argv
 * limit run and are charged, limits are validated and the reservation is
 * priced at the limits the sandbox enforces.
 */
#include "tenant.h"

/* test buffers are sized for the paths used; truncation would fail the checks */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

#include <cmocka.h>

#include "tenant_assert.h"

#include "ledger/ledger.h"
#include "ledger/pricing.h"
#include "store/db.h"
#include "util/crypto.h"

static gw G;      /* the shared daemon (2 workers) */
static tn_cred A; /* admin account (enterprise) */
static tn_cred B; /* a second tenant (pro) */
static unsigned email_seq;
static pricing *P;

/* ---- helpers ----------------------------------------------------------------- */

static int get_token(const gw *g, tn_cred *c)
{
    return gw_token(g, c->key, c->token, sizeof c->token);
}

/* tn_api, asserting that an answer came. */
static void api_h(const gw *g, const tn_cred *c, gw_response *r, const char *method, const char *path,
                  const char *body, const char *extra)
{
    assert_int_equal(tn_api(g, c, r, method, path, body, extra), 0);
}

static void api(const gw *g, const tn_cred *c, gw_response *r, const char *method, const char *path, const char *body)
{
    api_h(g, c, r, method, path, body, NULL);
}

/* Submits a job body (a JSON text); returns the answer, status in *status. */
static json_t *submit(const gw *g, const tn_cred *c, const char *body, const char *idem, long *status)
{
    gw_response r;
    char h[300];
    if (idem)
        snprintf(h, sizeof h, "Idempotency-Key: %s", idem);
    api_h(g, c, &r, "POST", "/fmu/execute", body, idem ? h : NULL);
    *status = r.status;
    json_t *j = gw_json(&r);
    if (r.status != 202 && getenv("JOBS_TEST_VERBOSE"))
        fprintf(stderr, "submit: %ld %s\n", r.status, r.body);
    gw_response_free(&r);
    return j;
}

/* Downloads a succeeded job's result through its signed URL. */
static char *download(const gw *g, const tn_cred *c, const char *id, size_t *len, json_t **info_out)
{
    char path[256];
    snprintf(path, sizeof path, "/fmu/results/%s", id);
    json_t *info = get_json(g, c, path, 200);
    const char *url = json_string_value(json_object_get(info, "url"));
    assert_non_null(url);
    gw_response r;
    assert_int_equal(gw_request(g, &r, "GET", url, NULL, 0, NULL), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal((json_int_t)r.len, json_integer_value(json_object_get(info, "size")));
    uint8_t d[32];
    char hex[65];
    crypto_sha256(d, r.body, r.len);
    crypto_hex_encode(hex, sizeof hex, d, 32);
    assert_string_equal(hex, json_string_value(json_object_get(info, "sha256")));
    char *body = r.body;
    *len = r.len;
    r.body = NULL;
    gw_response_free(&r);
    if (info_out)
        *info_out = info;
    else
        json_decref(info);
    return body;
}

/* `fmugw sim FMU ARGS -o tmp`; returns the bytes written. */
static char *cli_sim(const char *fmu, const char *args, size_t *len)
{
    char out[512], cmd[4096];
    snprintf(out, sizeof out, "%s/cli-%d-%u.out", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid(),
             email_seq++);
    snprintf(cmd, sizeof cmd, "'%s' sim '%s' %s --quiet -o '%s'", getenv("FMUGW"), fmu, args, out);
    int rc = system(cmd);
    assert_int_equal(rc, 0);
    char *b = tn_slurp(out, len);
    unlink(out);
    assert_non_null(b);
    return b;
}

/* The id of the public sample "<model> (FMI <ver>)". */
static void sample_id(char out[64], const char *model, const char *ver)
{
    tn_sample_id(&G, &A, out, model, ver);
    if (!out[0])
        fail_msg("sample %s (FMI %s) not found", model, ver);
}

/* Uploads an FMU file as `c`; returns its id. */
static void upload(const gw *g, const tn_cred *c, const char *path, const char *name, char out[64])
{
    tn_upload(g, c, path, name, out);
    assert_true(out[0] != '\0');
}

/* tn_open_db, asserting that it opened. */
static db_conn *open_db(const gw *g)
{
    db_conn *c = tn_open_db(g);
    assert_non_null(c);
    return c;
}

/* ---- setup ------------------------------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    char src[600];
    snprintf(src, sizeof src, "%s/pricing.json", getenv("FMUGW_SOURCE_DIR"));
    if (pricing_load(&P, src) != 0)
        return -1;
    static char *env[] = { "FMUGW_WORKERS=2", "FMUGW_THREADS=8", NULL };
    if (gw_start(&G, env) != 0)
        return -1;
    if (tn_admin_cred(&G, &A) != 0 || tn_account(&G, &B, "pro") != 0)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    gw_stop(&G);
    pricing_free(P);
    curl_global_cleanup();
    return 0;
}

/* ---- every sample, both interfaces, identical to fmugw sim ------------------- */

static void test_samples_match_cli(void **state)
{
    (void)state;
    static const char *const vers[] = { "2.0", "3.0" };
    struct { char id[64], fmu[600], iface[4], job[64]; } runs[64];
    size_t n = 0;
    for (int v = 0; v < 2; v++) {
        char dir[600];
        snprintf(dir, sizeof dir, "%s/%s", getenv("FMUGW_FMU_DIR"), vers[v]);
        DIR *d = opendir(dir);
        assert_non_null(d);
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t l = strlen(e->d_name);
            if (l < 5 || strcmp(e->d_name + l - 4, ".fmu"))
                continue;
            char model[128], id[64], path[256];
            snprintf(model, sizeof model, "%.*s", (int)(l - 4), e->d_name);
            sample_id(id, model, vers[v]);
            snprintf(path, sizeof path, "/fmu/%s", id);
            json_t *f = get_json(&G, &B, path, 200);
            json_t *ifs = json_object_get(json_object_get(f, "summary"), "interfaces");
            size_t i;
            json_t *x;
            json_array_foreach(ifs, i, x)
            {
                const char *name = json_string_value(x);
                const char *iface = !strcmp(name, "CoSimulation") ? "cs" : !strcmp(name, "ModelExchange") ? "me" : NULL;
                if (!iface || n >= 64)
                    continue;
                snprintf(runs[n].id, 64, "%s", id);
                snprintf(runs[n].fmu, 600, "%s/%s", dir, e->d_name);
                snprintf(runs[n].iface, 4, "%s", iface);
                n++;
            }
            json_decref(f);
        }
        closedir(d);
    }
    assert_true(n >= 20); /* 6 models x 2 versions, most with both interfaces */
    for (size_t i = 0; i < n; i++) {
        char body[512];
        snprintf(body, sizeof body, "{\"fmu_id\":\"%s\",\"interface\":\"%s\",\"reuse\":false}", runs[i].id,
                 runs[i].iface);
        char *id = submit_ok(&G, &B, body);
        snprintf(runs[i].job, 64, "%s", id);
        free(id);
    }
    for (size_t i = 0; i < n; i++) {
        json_t *s = wait_job(&G, &B, runs[i].job, 120);
        if (strcmp(json_string_value(json_object_get(s, "status")), "succeeded"))
            fprintf(stderr, "%s %s: %s\n", runs[i].fmu, runs[i].iface, json_dumps(s, 0));
        assert_string_equal(json_string_value(json_object_get(s, "status")), "succeeded");
        assert_true(json_number_value(json_object_get(s, "progress")) == 1.0);
        assert_true(milli(s, "credits_charged") > 0);
        assert_true(milli(s, "credits_charged") <= milli(s, "credits_reserved"));
        json_decref(s);
        size_t la, lb;
        char *api_res = download(&G, &B, runs[i].job, &la, NULL);
        char args[64];
        snprintf(args, sizeof args, "--interface %s", runs[i].iface);
        char *cli_res = cli_sim(runs[i].fmu, args, &lb);
        if (la != lb || memcmp(api_res, cli_res, la))
            fail_msg("%s (%s): API result differs from fmugw sim (%zu vs %zu bytes)", runs[i].fmu, runs[i].iface, la,
                     lb);
        free(api_res);
        free(cli_res);
    }
    /* settings, start values, output variables and JSON, inline inputs */
    char bb[64], ft[64];
    sample_id(bb, "BouncingBall", "3.0");
    sample_id(ft, "Feedthrough", "2.0");
    char body[1024];
    snprintf(body, sizeof body,
             "{\"fmu_id\":\"%s\",\"start_time\":0,\"stop_time\":3,\"output_interval\":0.05,\"interface\":\"me\","
             "\"solver\":\"cvode\",\"relative_tolerance\":1e-6,\"start_values\":{\"e\":0.6,\"h\":2},"
             "\"output_variables\":[\"h\",\"v\"],\"output_format\":\"json\"}",
             bb);
    char *id = submit_ok(&G, &B, body);
    json_decref(wait_job(&G, &B, id, 60));
    size_t la, lb;
    json_t *info = NULL;
    char *r1 = download(&G, &B, id, &la, &info);
    assert_string_equal(json_string_value(json_object_get(info, "format")), "json");
    json_decref(info);
    char path[600];
    snprintf(path, sizeof path, "%s/3.0/BouncingBall.fmu", getenv("FMUGW_FMU_DIR"));
    char *r2 = cli_sim(path,
                       "--start-time 0 --stop-time 3 --output-interval 0.05 --interface me --solver cvode "
                       "--relative-tolerance 1e-6 --start-value e=0.6 --start-value h=2 --output-variable h "
                       "--output-variable v --format json",
                       &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(r1, r2, la);
    free(r1);
    free(r2);
    free(id);
    snprintf(body, sizeof body,
             "{\"fmu_id\":\"%s\",\"stop_time\":2,\"output_interval\":0.25,\"inputs\":{\"time\":[0,1,2],"
             "\"Float64_continuous_input\":[0,10,20]},\"output_variables\":[\"Float64_continuous_output\"]}",
             ft);
    id = submit_ok(&G, &B, body);
    json_t *s = wait_job(&G, &B, id, 60);
    assert_string_equal(json_string_value(json_object_get(s, "status")), "succeeded");
    json_decref(s);
    r1 = download(&G, &B, id, &la, NULL);
    assert_non_null(strstr(r1, "\n1,10\n")); /* the input passed through at t = 1 */
    free(r1);
    free(id);
}

/* ---- long-poll ---------------------------------------------------------------- */

static const char *long_body(char *buf, size_t size, const char *fmu_id, double stop)
{
    snprintf(buf, size,
             "{\"fmu_id\":\"%s\",\"interface\":\"me\",\"solver\":\"euler\",\"step_size\":1e-7,\"stop_time\":%g,"
             "\"output_interval\":0.01,\"reuse\":false}",
             fmu_id, stop);
    return buf;
}

static void test_long_poll(void **state)
{
    (void)state;
    char dq[64], body[512], path[256];
    sample_id(dq, "Dahlquist", "2.0");
    char *id = submit_ok(&G, &B, long_body(body, sizeof body, dq, 1.0));
    /* each long-poll names the state it knows and returns on the change:
     * queued -> running -> succeeded takes at most three of them (a poll
     * that hit its 30 s deadline would show no change of state) */
    json_t *s = NULL;
    char known[16] = "queued";
    int changes = 0, polls = 0;
    for (int i = 0; i < 4; i++) {
        polls++;
        snprintf(path, sizeof path, "/fmu/status/%s?wait=30&status=%s", id, known);
        s = get_json(&G, &B, path, 200);
        const char *st = json_string_value(json_object_get(s, "status"));
        assert_non_null(st);
        if (strcmp(st, known) != 0)
            changes++;
        if (tn_finished(st))
            break;
        snprintf(known, sizeof known, "%s", st);
        json_decref(s);
        s = NULL;
    }
    assert_non_null(s);
    assert_string_equal(json_string_value(json_object_get(s, "status")), "succeeded");
    assert_int_equal(changes, polls); /* every poll ended on a change, none at its deadline */
    json_decref(s);
    double t0;
    /* on a finished job ?wait returns at once */
    snprintf(path, sizeof path, "/fmu/status/%s?wait=30", id);
    t0 = tn_now_s();
    json_decref(get_json(&G, &B, path, 200));
    assert_true(tn_now_s() - t0 < 2);
    /* bad wait */
    snprintf(path, sizeof path, "/fmu/status/%s?wait=31", id);
    json_decref(get_json(&G, &B, path, 400));
    free(id);
}

/* ---- idempotency ---------------------------------------------------------------- */

static void test_idempotency(void **state)
{
    (void)state;
    char bb[64], body[512], body2[512], key[64], h[128];
    sample_id(bb, "BouncingBall", "2.0");
    snprintf(key, sizeof key, "idem-%d-%u", (int)getpid(), email_seq++);
    snprintf(body, sizeof body, "{\"fmu_id\":\"%s\",\"stop_time\":1.5,\"reuse\":false}", bb);
    snprintf(body2, sizeof body2, "{\"fmu_id\":\"%s\",\"stop_time\":2.5,\"reuse\":false}", bb);

    gw_response r1, r2, r3;
    snprintf(h, sizeof h, "Idempotency-Key: %s", key);
    api_h(&G, &B, &r1, "POST", "/fmu/execute", body, h);
    assert_int_equal(r1.status, 202);
    api_h(&G, &B, &r2, "POST", "/fmu/execute", body, h);
    assert_int_equal(r2.status, 202);
    assert_string_equal(r1.body, r2.body);
    char v[64];
    assert_non_null(gw_header(&r2, "Idempotent-Replayed", v, sizeof v));
    assert_string_equal(v, "true");
    assert_null(gw_header(&r1, "Idempotent-Replayed", v, sizeof v));
    /* same key, other body */
    api_h(&G, &B, &r3, "POST", "/fmu/execute", body2, h);
    assert_int_equal(r3.status, 422);
    assert_non_null(strstr(r3.body, "Idempotency-Key"));
    gw_response_free(&r3);
    /* exactly one job was made */
    json_t *j1 = gw_json(&r1);
    const char *job = json_string_value(json_object_get(j1, "job_id"));
    json_t *list = get_json(&G, &B, "/jobs?limit=200", 200);
    size_t i, count = 0;
    json_t *it;
    json_array_foreach(json_object_get(list, "items"), i, it)
    {
        if (!strcmp(json_string_value(json_object_get(it, "job_id")), job))
            count++;
    }
    assert_int_equal(count, 1);
    json_decref(list);
    json_decref(wait_job(&G, &B, job, 60));
    json_decref(j1);
    gw_response_free(&r1);
    gw_response_free(&r2);

    /* in flight: a key whose first request has no answer yet -> 409 */
    char key2[64];
    snprintf(key2, sizeof key2, "inflight-%d", (int)getpid());
    json_t *parsed = json_loads(body, 0, NULL);
    char *canon = json_dumps(parsed, JSON_COMPACT | JSON_SORT_KEYS);
    uint8_t d[32];
    char hex[65];
    crypto_sha256(d, canon, strlen(canon));
    crypto_hex_encode(hex, sizeof hex, d, 32);
    free(canon);
    json_decref(parsed);
    db_conn *c = open_db(&G);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    assert_int_equal(db_execp(NULL, c,
                              "INSERT INTO idempotency_keys (account_id, idem_key, request_hash, created_at) "
                              "VALUES ($1, $2, $3, $4)",
                              "ttti", B.account, key2, hex, (int64_t)tv.tv_sec * 1000),
                     0);
    db_close(c);
    snprintf(h, sizeof h, "Idempotency-Key: %s", key2);
    api_h(&G, &B, &r3, "POST", "/fmu/execute", body, h);
    assert_int_equal(r3.status, 409);
    gw_response_free(&r3);
    /* a body that differs from the in-flight one is still 422 */
    api_h(&G, &B, &r3, "POST", "/fmu/execute", body2, h);
    assert_int_equal(r3.status, 422);
    gw_response_free(&r3);
}

/* ---- 422 field errors ------------------------------------------------------------ */

static void expect_field(const char *body, const char *field)
{
    long st;
    json_t *j = submit(&G, &B, body, NULL, &st);
    if (st != 422)
        fprintf(stderr, "%s -> %ld\n", body, st);
    assert_int_equal(st, 422);
    assert_non_null(strstr(json_string_value(json_object_get(j, "type")), "unprocessable"));
    size_t i;
    json_t *e;
    bool found = false;
    json_array_foreach(json_object_get(j, "errors"), i, e)
    {
        found |= !strcmp(json_string_value(json_object_get(e, "field")), field);
    }
    if (!found)
        fprintf(stderr, "%s: no error for %s in %s\n", body, field, json_dumps(j, 0));
    assert_true(found);
    json_decref(j);
}

static void test_field_errors(void **state)
{
    (void)state;
    char bb[64], body[512];
    sample_id(bb, "BouncingBall", "2.0");
    json_t *before = get_json(&G, &B, "/jobs?limit=200", 200);
    size_t n_before = json_array_size(json_object_get(before, "items"));
    json_decref(before);
#define F(field, fmt, ...)                                                \
    do {                                                                  \
        snprintf(body, sizeof body, "{\"fmu_id\":\"%s\"," fmt "}", bb, __VA_ARGS__); \
        expect_field(body, field);                                        \
    } while (0)
    F("start_values.nope", "\"start_values\":{\"nope\":%d}", 1);
    F("start_values.e", "\"start_values\":{\"e\":\"%s\"}", "high");
    F("start_values.der(h)", "\"start_values\":{\"der(h)\":%d}", 1);
    F("stop_time", "\"start_time\":2,\"stop_time\":%d", 1);
    F("output_interval", "\"output_interval\":%d", -1);
    F("step_size", "\"step_size\":%d", 0);
    F("interface", "\"interface\":\"%s\"", "xx");
    F("solver", "\"solver\":\"%s\"", "rk4");
    F("output_variables[0]", "\"output_variables\":[\"%s\"]", "nope");
    F("output_format", "\"output_format\":\"%s\"", "xml");
    F("timeout_s", "\"timeout_s\":%d", 100000);
    F("inputs.nope", "\"inputs\":{\"time\":[0,1],\"nope\":[%d,2]}", 1);
    F("bogus", "\"bogus\":%d", 1);
#undef F
    /* an interface the FMU lacks: the hostile FMUs are Co-Simulation only */
    char hdir[600], hid[64];
    snprintf(hdir, sizeof hdir, "%s/Segfault.fmu", getenv("FMUGW_HOSTILE_DIR"));
    upload(&G, &B, hdir, "segv-iface", hid);
    snprintf(body, sizeof body, "{\"fmu_id\":\"%s\",\"interface\":\"me\"}", hid);
    expect_field(body, "interface");
    /* unknown / foreign FMU: 404 */
    long st;
    json_t *j = submit(&G, &B, "{\"fmu_id\":\"fmu_00000000000000000000000000000000\"}", NULL, &st);
    assert_int_equal(st, 404);
    json_decref(j);
    j = submit(&G, &B, "{\"stop_time\":1}", NULL, &st);
    assert_int_equal(st, 422);
    json_decref(j);
    /* nothing was admitted */
    json_t *after = get_json(&G, &B, "/jobs?limit=200", 200);
    assert_int_equal(json_array_size(json_object_get(after, "items")), n_before);
    json_decref(after);
}

/* ---- the runner's rules at the API ------------------------------------------------ */

/* A body with `n` output variables alternating h and v (and `extra`). */
static char *names_body(const char *fmu_id, unsigned n, const char *extra)
{
    size_t cap = (size_t)n * 8 + 512;
    char *b = malloc(cap);
    assert_non_null(b);
    int k = snprintf(b, cap, "{\"fmu_id\":\"%s\",\"stop_time\":0.5,\"output_interval\":0.1,\"reuse\":false%s,"
                             "\"output_variables\":[", fmu_id, extra ? extra : "");
    for (unsigned i = 0; i < n; i++)
        k += snprintf(b + k, cap - (size_t)k, "%s\"%s\"", i ? "," : "", i % 2 ? "v" : "h");
    snprintf(b + k, cap - (size_t)k, "]}");
    return b;
}

/* Options the old validation accepted and the runner then refused as a
 * platform error (uncharged): 300 output variables past the runner argv's
 * 510 slots now run and are charged; subnormal steps and tolerances,
 * steps/rows past their bounds and more names than allowed are 422s
 * naming the field, and nothing is admitted. */
static void test_runner_rules(void **state)
{
    (void)state;
    char bb[64], body[512];
    sample_id(bb, "BouncingBall", "2.0");
    char *big = names_body(bb, 300, NULL);
    char *id = submit_ok(&G, &B, big);
    free(big);
    json_t *s = wait_job(&G, &B, id, 120);
    if (strcmp(json_string_value(json_object_get(s, "status")), "succeeded"))
        fail_msg("300 output variables: %s", json_dumps(s, 0));
    assert_true(milli(s, "credits_charged") > 0);
    assert_true(milli(s, "credits_charged") <= milli(s, "credits_reserved"));
    json_decref(s);
    size_t len;
    char *res = download(&G, &B, id, &len, NULL);
    size_t cols = 1;
    for (char *p = res; *p && *p != '\n'; p++)
        cols += *p == ',';
    assert_int_equal(cols, 301); /* time + the 300 named */
    free(res);
    free(id);

    json_t *before = get_json(&G, &B, "/jobs?limit=200", 200);
    size_t n_before = json_array_size(json_object_get(before, "items"));
    json_decref(before);
#define F(field, fmt, ...)                                                \
    do {                                                                  \
        snprintf(body, sizeof body, "{\"fmu_id\":\"%s\"," fmt "}", bb, __VA_ARGS__); \
        expect_field(body, field);                                        \
    } while (0)
    F("step_size", "\"step_size\":%s", "5e-324");
    F("relative_tolerance", "\"interface\":\"me\",\"relative_tolerance\":%s", "5e-324");
    F("output_interval", "\"stop_time\":1,\"output_interval\":%s", "1e-300");
    F("step_size", "\"stop_time\":1e30,\"step_size\":%s", "1e8");
    F("output_interval", "\"stop_time\":1e9,\"output_interval\":%s", "1e-3");
    F("timeout_s", "\"timeout_s\":%s", "1e-300");
    F("timeout_s", "\"timeout_s\":%s", "0.5");
    F("cpu_limit_s", "\"cpu_limit_s\":%s", "1e-300");
    F("memory_limit_mb", "\"memory_limit_mb\":%s", "5e-324");
#undef F
    /* 10,000 names: one bounded problem, not one per name found by a linear search */
    big = names_body(bb, 10000, NULL);
    long st;
    json_t *j = submit(&G, &B, big, NULL, &st);
    free(big);
    assert_int_equal(st, 422);
    json_t *errs = json_object_get(j, "errors");
    assert_int_equal(json_array_size(errs), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(errs, 0), "field")), "output_variables");
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(errs, 0), "message")), "at most 1000"));
    json_decref(j);
    json_t *after = get_json(&G, &B, "/jobs?limit=200", 200);
    assert_int_equal(json_array_size(json_object_get(after, "items")), n_before);
    json_decref(after);
}

/* The reservation is priced at the limits the sandbox enforces: a timeout
 * of 1.0004 s is stored and enforced as 1.001 s (whole milliseconds) and
 * reserved as that, with the CPU the hard RLIMIT_CPU allows; the job that
 * sleeps past it is killed at that limit. */
static void test_limits_reserved_as_enforced(void **state)
{
    (void)state;
    tn_cred T;
    assert_int_equal(tn_account(&G, &T, "pro"), 0);
    char path[600], fid[64], body[512];
    snprintf(path, sizeof path, "%s/SleepForever.fmu", getenv("FMUGW_HOSTILE_DIR"));
    upload(&G, &T, path, "sleep-limits", fid);
    snprintf(body, sizeof body,
             "{\"fmu_id\":\"%s\",\"stop_time\":0.3,\"output_interval\":0.1,\"reuse\":false,\"timeout_s\":1.0004,"
             "\"memory_limit_mb\":300}",
             fid);
    long st;
    json_t *a = submit(&G, &T, body, NULL, &st);
    assert_int_equal(st, 202);
    char id[64];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(a, "job_id")));
    snprintf(path, sizeof path, "/fmu/%s", fid);
    json_t *f = get_json(&G, &T, path, 200);
    const pricing_tier *pro = pricing_tier_get(P, "pro");
    /* CPU: RLIMIT_CPU counts whole seconds, 2 s soft and 3 s hard for a 1.001 s
     * job, and several threads can use that much within the wall time */
    int64_t want = pricing_job_worst_case_cpu(P, pro, (uint64_t)json_integer_value(json_object_get(f, "size")), 0.3,
                                              1.001, 3.0, (uint64_t)300 << 20, false, 0);
    assert_int_equal(json_integer_value(json_object_get(a, "credits_reserved_millicredits")), want);
    json_decref(f);
    json_decref(a);
    json_t *s = wait_job(&G, &T, id, 120);
    assert_string_equal(json_string_value(json_object_get(s, "status")), "timed_out");
    const char *msg = json_string_value(json_object_get(json_object_get(s, "error"), "detail"));
    if (!msg)
        msg = json_dumps(s, 0);
    if (!strstr(msg, "limit of 1.001 s"))
        fail_msg("not killed at the stored limit: %s", json_dumps(s, 0));
    assert_true(milli(s, "credits_charged") > 0);
    assert_true(milli(s, "credits_charged") <= want);
    json_decref(s);
    db_conn *c = open_db(&G);
    db_stmt *q = NULL;
    assert_int_equal(db_query(&q, c, "SELECT timeout_ms, memory_limit, credits_reserved FROM jobs WHERE id = $1", "t", id),
                     0);
    assert_int_equal(db_step(q), 1);
    assert_int_equal(db_column_int64(q, 0), 1001);
    assert_int_equal(db_column_int64(q, 1), (int64_t)300 << 20);
    assert_int_equal(db_column_int64(q, 2), want);
    db_finalize(q);
    db_close(c);
}

/* ---- 402 ------------------------------------------------------------------------- */

static void test_free_no_credits(void **state)
{
    (void)state;
    tn_cred F;
    char out[4096], args[512], bb[64], body[512];
    assert_int_equal(tn_account(&G, &F, "free"), 0);
    snprintf(args, sizeof args, "credits set --email %s --amount 0", F.email);
    assert_int_equal(tn_admin(&G, args, out, sizeof out), 0);
    sample_id(bb, "BouncingBall", "2.0");
    snprintf(body, sizeof body, "{\"fmu_id\":\"%s\"}", bb);
    long st;
    json_t *j = submit(&G, &F, body, NULL, &st);
    assert_int_equal(st, 402);
    assert_non_null(strstr(json_string_value(json_object_get(j, "type")), "insufficient-credits"));
    assert_true(json_number_value(json_object_get(j, "required")) > 0);
    assert_true(json_number_value(json_object_get(j, "available")) == 0);
    json_decref(j);
    json_t *list = get_json(&G, &F, "/jobs", 200);
    assert_int_equal(json_array_size(json_object_get(list, "items")), 0);
    json_decref(list);
}

/* ---- hostile FMUs ------------------------------------------------------------------ */

static bool asan_build(void)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd, "ldd '%s' 2>/dev/null | grep -q libasan", getenv("FMUGWD"));
    return system(cmd) == 0;
}

static void test_hostile(void **state)
{
    (void)state;
    static const struct { const char *name, *cls, *extra; } cases[] = {
        { "ConnectTcp", "forbidden_syscall", "\"port\":9" },
        { "ResolveHost", "forbidden_syscall", "\"target\":\"example.invalid\"" },
        { "ReadSecret", "fmu_error", "\"target\":\"/etc/shadow\"" },
        { "ReadOtherScratch", "fmu_error", "\"target\":\"/tmp\"" },
        { "WriteOutside", "fmu_error", "\"target\":\"/var/PWNED-jobs\"" },
        { "ReadEnviron", "fmu_error", "\"target\":\"FMUGW_JWT_SECRET\"" },
        { "ForkBomb", "forbidden_syscall", "\"count\":512" },
        { "ExecShell", "forbidden_syscall", NULL },
        { "InfiniteLoop", "cpu_limit", NULL },
        { "Alloc64G", "memory_limit", NULL },
        { "StackOverflow", "crashed", NULL },
        { "Segfault", "crashed", NULL },
        { "Abort", "crashed", NULL },
        { "KillParent", "forbidden_syscall", "\"port\":1" },
        { "Ptrace", "forbidden_syscall", NULL },
        { "UnshareMount", "forbidden_syscall", NULL },
        { "LogFlood", "output_limit", NULL },
        { "SleepForever", "timeout", NULL },
        { "ThreadSpin", "fmu_error", "\"count\":1000" },
        { "ConstructorSocket", "forbidden_syscall", NULL },
        { "InheritedFds", "fmu_error", NULL },
    };
    enum { N = sizeof cases / sizeof cases[0] };
    bool asan = asan_build();
    tn_cred H;
    assert_int_equal(tn_account(&G, &H, "pro"), 0);
    char ids[N][64], jobs[N][64];
    for (size_t i = 0; i < N; i++) {
        char path[600], body[1024];
        snprintf(path, sizeof path, "%s/%s.fmu", getenv("FMUGW_HOSTILE_DIR"), cases[i].name);
        upload(&G, &H, path, cases[i].name, ids[i]);
        const char *limits = !strcmp(cases[i].name, "InfiniteLoop") ? ",\"timeout_s\":10,\"cpu_limit_s\":1"
                             : !strcmp(cases[i].name, "SleepForever") ? ",\"timeout_s\":1"
                             : !strcmp(cases[i].name, "Alloc64G")     ? ",\"timeout_s\":10,\"memory_limit_mb\":256"
                                                                      : ",\"timeout_s\":10";
        snprintf(body, sizeof body,
                 "{\"fmu_id\":\"%s\",\"stop_time\":0.3,\"output_interval\":0.1,\"reuse\":false%s%s%s%s}", ids[i],
                 limits, cases[i].extra ? ",\"start_values\":{" : "", cases[i].extra ? cases[i].extra : "",
                 cases[i].extra ? "}" : "");
        char *id = submit_ok(&G, &H, body);
        snprintf(jobs[i], 64, "%s", id);
        free(id);
    }
    /* another tenant is served meanwhile */
    char bb[64], body[256];
    sample_id(bb, "BouncingBall", "3.0");
    snprintf(body, sizeof body, "{\"fmu_id\":\"%s\",\"stop_time\":2,\"reuse\":false}", bb);
    double t0 = tn_now_s();
    char *other = submit_ok(&G, &B, body);
    json_t *os = wait_job(&G, &B, other, 120);
    assert_string_equal(json_string_value(json_object_get(os, "status")), "succeeded");
    fprintf(stderr, "   (another tenant's job done in %.1f s while hostile jobs ran)\n", tn_now_s() - t0);
    char other_done[64]; /* when it started: while hostile jobs still ran */
    snprintf(other_done, sizeof other_done, "%s", json_string_value(json_object_get(os, "started_at")));
    json_decref(os);
    free(other);
    char last_hostile[64] = "";

    const pricing_tier *pro = pricing_tier_get(P, "pro");
    for (size_t i = 0; i < N; i++) {
        json_t *s = wait_job(&G, &H, jobs[i], 180);
        const char *status = json_string_value(json_object_get(s, "status"));
        json_t *err = json_object_get(s, "error");
        const char *cls = json_string_value(json_object_get(err, "error_class"));
        const char *want = cases[i].cls;
        if (asan && (!strcmp(want, "crashed") || !strcmp(want, "memory_limit")))
            want = NULL; /* the sanitizer handles these itself (docs/sandbox.md) */
        else if (asan && !strcmp(want, "output_limit") && cls && !strcmp(cls, "timeout"))
            want = NULL; /* slowed down, it meets its wall-clock limit before the output cap */
        if (want && (!cls || strcmp(cls, want)))
            fail_msg("%s: expected %s, got %s (%s)", cases[i].name, want, cls ? cls : "none", json_dumps(s, 0));
        if (want) /* under ASan a slowed-down job may meet its wall-clock limit first */
            assert_string_equal(status, !strcmp(cases[i].cls, "timeout") ? "timed_out" : "failed");
        else
            assert_true(!strcmp(status, "failed") || !strcmp(status, "timed_out"));
        assert_non_null(strstr(json_string_value(json_object_get(err, "type")), "job-failed"));
        /* the charge is the pricing of the metered usage, not the reservation */
        char path[256];
        snprintf(path, sizeof path, "/fmu/%s", ids[i]);
        json_t *f = get_json(&G, &H, path, 200);
        json_t *m = json_object_get(s, "metering");
        pricing_usage u = { .fmu_bytes = (uint64_t)json_integer_value(json_object_get(f, "size")),
                            .stop_minus_start = 0.3,
                            .cpu_ms = (uint64_t)json_integer_value(json_object_get(m, "cpu_ms")),
                            .wall_ms = (uint64_t)json_integer_value(json_object_get(m, "wall_ms")),
                            .peak_rss_kb = (uint64_t)json_integer_value(json_object_get(m, "peak_rss_kb")),
                            .output_bytes = (uint64_t)json_integer_value(json_object_get(m, "output_bytes")) };
        int64_t cost = pricing_job_cost(P, pro, &u), charged = milli(s, "credits_charged"),
                reserved = milli(s, "credits_reserved");
        if (cost > reserved)
            cost = reserved;
        if (charged != cost)
            fail_msg("%s: charged %lld, pricing of the metered usage %lld", cases[i].name, (long long)charged,
                     (long long)cost);
        assert_true(charged > 0);
        if (asan) /* ASan's shadow memory inflates the metered peak RSS up to the cap */
            assert_true(charged <= reserved);
        else
            assert_true(charged < reserved);
        const char *fin = json_string_value(json_object_get(s, "finished_at"));
        if (fin && strcmp(fin, last_hostile) > 0)
            snprintf(last_hostile, sizeof last_hostile, "%s", fin);
        json_decref(f);
        json_decref(s);
    }
    /* the other tenant was served while hostile jobs were still running
     * (fair queue: not behind the whole hostile backlog): it started
     * before the last hostile job ended */
    assert_true(strcmp(other_done, last_hostile) < 0);
    /* the daemon is alive and well */
    gw_response r;
    assert_int_equal(gw_request(&G, &r, "GET", "/readyz", NULL, 0, NULL), 0);
    assert_int_equal(r.status, 200);
    gw_response_free(&r);
    struct stat st;
    assert_int_not_equal(stat("/var/PWNED-jobs", &st), 0);
}

/* ---- cross-tenant ---------------------------------------------------------------- */

static void test_cross_tenant(void **state)
{
    (void)state;
    char bb[64], body[256], path[256];
    sample_id(bb, "BouncingBall", "2.0");
    snprintf(body, sizeof body, "{\"fmu_id\":\"%s\",\"stop_time\":0.7}", bb);
    char *id = submit_ok(&G, &A, body);
    json_decref(wait_job(&G, &A, id, 60));
    snprintf(path, sizeof path, "/fmu/status/%s", id);
    json_decref(get_json(&G, &B, path, 404));
    snprintf(path, sizeof path, "/fmu/status/%s?wait=2", id);
    json_decref(get_json(&G, &B, path, 404));
    snprintf(path, sizeof path, "/fmu/results/%s", id);
    json_decref(get_json(&G, &B, path, 404));
    gw_response r;
    snprintf(path, sizeof path, "/fmu/cancel/%s", id);
    api(&G, &B, &r, "POST", path, NULL);
    assert_int_equal(r.status, 404);
    gw_response_free(&r);
    json_t *list = get_json(&G, &B, "/jobs?limit=200", 200);
    char *listed = json_dumps(list, 0);
    bool leaked_id = listed && strstr(listed, id);
    free(listed);
    assert_false(leaked_id);
    json_decref(list);
    /* A's results URL, re-signed for B by swapping the account: refused */
    snprintf(path, sizeof path, "/fmu/results/%s", id);
    json_t *info = get_json(&G, &A, path, 200);
    const char *url = json_string_value(json_object_get(info, "url"));
    char forged[2048];
    const char *acc = strstr(url, "account=");
    assert_non_null(acc);
    snprintf(forged, sizeof forged, "%.*saccount=%s%s", (int)(acc - url), url, B.account, strchr(acc, '&'));
    assert_int_equal(gw_request(&G, &r, "GET", forged, NULL, 0, NULL), 0);
    assert_int_equal(r.status, 403);
    gw_response_free(&r);
    /* and B cannot cancel-then-see: still A's, succeeded */
    snprintf(path, sizeof path, "/fmu/status/%s", id);
    json_t *s = get_json(&G, &A, path, 200);
    assert_string_equal(json_string_value(json_object_get(s, "status")), "succeeded");
    json_decref(s);
    /* results of a job that did not succeed: 409 */
    json_decref(info);
    free(id);
}

/* A result URL issued before the account was locked stops working at the
 * lock (403 naming it); a repeated signed parameter is refused. */
static void test_result_url_locked_account(void **state)
{
    (void)state;
    tn_cred L;
    char bb[64], body[256], path[256], args[256], url[2048], bad[2600], out[1024];
    assert_int_equal(tn_account(&G, &L, "pro"), 0);
    sample_id(bb, "BouncingBall", "2.0");
    snprintf(body, sizeof body, "{\"fmu_id\":\"%s\",\"stop_time\":0.5}", bb);
    char *id = submit_ok(&G, &L, body);
    json_t *s = wait_job(&G, &L, id, 60);
    assert_string_equal(json_string_value(json_object_get(s, "status")), "succeeded");
    json_decref(s);
    snprintf(path, sizeof path, "/fmu/results/%s", id);
    json_t *info = get_json(&G, &L, path, 200);
    snprintf(url, sizeof url, "%s", json_string_value(json_object_get(info, "url")));
    json_decref(info);
    gw_response r;
    assert_int_equal(gw_request(&G, &r, "GET", url, NULL, 0, NULL), 0);
    assert_int_equal(r.status, 200);
    gw_response_free(&r);
    snprintf(bad, sizeof bad, "%s&sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", url);
    assert_int_equal(gw_request(&G, &r, "GET", bad, NULL, 0, NULL), 0);
    assert_int_equal(r.status, 403);
    gw_response_free(&r);

    snprintf(args, sizeof args, "account lock --email %s", L.email);
    assert_int_equal(tn_admin(&G, args, out, sizeof out), 0);
    assert_int_equal(gw_request(&G, &r, "GET", url, NULL, 0, NULL), 0);
    assert_int_equal(r.status, 403);
    assert_non_null(strstr(r.body, "account is locked"));
    gw_response_free(&r);
    snprintf(args, sizeof args, "account unlock --email %s", L.email);
    assert_int_equal(tn_admin(&G, args, out, sizeof out), 0);
    assert_int_equal(gw_request(&G, &r, "GET", url, NULL, 0, NULL), 0);
    assert_int_equal(r.status, 200);
    gw_response_free(&r);
    free(id);
}

/* ---- cancel ---------------------------------------------------------------------- */

static void test_cancel(void **state)
{
    (void)state;
    char dq[64], body[512], path[256];
    tn_cred C;
    assert_int_equal(tn_account(&G, &C, "pro"), 0);
    sample_id(dq, "Dahlquist", "3.0");
    char *ids[4];
    for (int i = 0; i < 4; i++) {
        /* long, and writing rows all the time: a running job is stopped at
         * its next result write */
        snprintf(body, sizeof body,
                 "{\"fmu_id\":\"%s\",\"interface\":\"me\",\"solver\":\"euler\",\"step_size\":1e-7,"
                 "\"stop_time\":%d,\"output_interval\":1e-4,\"reuse\":false}",
                 dq, 20 + i);
        ids[i] = submit_ok(&G, &C, body);
    }
    /* with 2 workers the last one waits */
    snprintf(path, sizeof path, "/fmu/status/%s", ids[3]);
    json_t *s = get_json(&G, &C, path, 200);
    bool was_queued = !strcmp(json_string_value(json_object_get(s, "status")), "queued");
    json_decref(s);
    gw_response r;
    snprintf(path, sizeof path, "/fmu/cancel/%s", ids[3]);
    api(&G, &C, &r, "POST", path, NULL);
    assert_int_equal(r.status, 200);
    s = gw_json(&r);
    gw_response_free(&r);
    assert_string_equal(json_string_value(json_object_get(s, "status")), "canceled");
    if (was_queued)
        assert_int_equal(milli(s, "credits_charged"), 0);
    json_decref(s);
    /* a running one: stopped, charged for its use */
    snprintf(path, sizeof path, "/fmu/status/%s?wait=20&status=queued", ids[0]);
    s = get_json(&G, &C, path, 200);
    assert_string_equal(json_string_value(json_object_get(s, "status")), "running");
    json_decref(s);
    usleep(300000);
    double t0 = tn_now_s();
    snprintf(path, sizeof path, "/fmu/cancel/%s", ids[0]);
    api(&G, &C, &r, "POST", path, NULL);
    assert_int_equal(r.status, 200);
    s = gw_json(&r);
    gw_response_free(&r);
    /* stopped at its next result write (the runner's output is buffered) */
    assert_true(tn_now_s() - t0 < 20);
    assert_string_equal(json_string_value(json_object_get(s, "status")), "canceled");
    assert_true(milli(s, "credits_charged") > 0);
    assert_true(milli(s, "credits_charged") < milli(s, "credits_reserved"));
    json_decref(s);
    /* cancel again: 409 */
    api(&G, &C, &r, "POST", path, NULL);
    assert_int_equal(r.status, 409);
    gw_response_free(&r);
    for (int i = 1; i < 3; i++) {
        snprintf(path, sizeof path, "/fmu/cancel/%s", ids[i]);
        api(&G, &C, &r, "POST", path, NULL);
        gw_response_free(&r);
    }
    for (int i = 0; i < 4; i++) {
        json_decref(wait_job(&G, &C, ids[i], 60));
        free(ids[i]);
    }
    /* GET /jobs filter by state */
    json_t *list = get_json(&G, &C, "/jobs?state=canceled&limit=2", 200);
    assert_int_equal(json_array_size(json_object_get(list, "items")), 2);
    const char *next = json_string_value(json_object_get(list, "next_cursor"));
    assert_non_null(next);
    char p2[512];
    snprintf(p2, sizeof p2, "/jobs?state=canceled&limit=2&cursor=%s", next);
    json_t *list2 = get_json(&G, &C, p2, 200);
    assert_true(json_array_size(json_object_get(list2, "items")) >= 1);
    json_decref(list2);
    json_decref(list);
}

/* ---- kill -9 and restart ------------------------------------------------------------ */

static void test_kill9_recovery(void **state)
{
    (void)state;
    gw K;
    static char *env[] = { "FMUGW_WORKERS=1", NULL };
    assert_int_equal(gw_start(&K, env), 0);
    tn_cred C;
    snprintf(C.key, sizeof C.key, "%s", K.admin_key);
    snprintf(C.account, sizeof C.account, "%s", K.admin_account);
    assert_int_equal(get_token(&K, &C), 0);
    /* the samples of this daemon */
    json_t *fl = get_json(&K, &C, "/fmu?limit=200", 200);
    char dq[64] = "", bb[64] = "";
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(fl, "items"), i, it)
    {
        const char *name = json_string_value(json_object_get(it, "name"));
        if (!strcmp(name, "Dahlquist (FMI 2.0)"))
            snprintf(dq, sizeof dq, "%s", json_string_value(json_object_get(it, "id")));
        if (!strcmp(name, "BouncingBall (FMI 2.0)"))
            snprintf(bb, sizeof bb, "%s", json_string_value(json_object_get(it, "id")));
    }
    json_decref(fl);
    char body[512], path[256];
    char *run = submit_ok(&K, &C, long_body(body, sizeof body, dq, 30));
    char *q[2];
    for (int k = 0; k < 2; k++) {
        snprintf(body, sizeof body, "{\"fmu_id\":\"%s\",\"stop_time\":%d,\"reuse\":false}", bb, k + 1);
        q[k] = submit_ok(&K, &C, body);
    }
    snprintf(path, sizeof path, "/fmu/status/%s?wait=20&status=queued", run);
    json_t *s = get_json(&K, &C, path, 200);
    assert_string_equal(json_string_value(json_object_get(s, "status")), "running");
    json_decref(s);
    snprintf(path, sizeof path, "/fmu/status/%s", q[1]);
    s = get_json(&K, &C, path, 200);
    assert_string_equal(json_string_value(json_object_get(s, "status")), "queued");
    json_decref(s);
    char data[600];
    snprintf(data, sizeof data, "%s", K.data_dir);
    char root[512];
    snprintf(root, sizeof root, "%s", K.root);
    gw_kill(&K, SIGKILL);
    assert_int_equal(gw_start_ex(&K, data, NULL, env), 0);
    snprintf(K.root, sizeof K.root, "%s", root);
    assert_int_equal(get_token(&K, &C), 0);
    s = wait_job(&K, &C, run, 60);
    assert_string_equal(json_string_value(json_object_get(s, "status")), "failed");
    assert_string_equal(json_string_value(json_object_get(json_object_get(s, "error"), "error_class")),
                        "platform_error");
    assert_int_equal(milli(s, "credits_charged"), 0);
    json_decref(s);
    for (int k = 0; k < 2; k++) {
        s = wait_job(&K, &C, q[k], 60);
        assert_string_equal(json_string_value(json_object_get(s, "status")), "succeeded");
        json_decref(s);
        free(q[k]);
    }
    db_conn *c = open_db(&K);
    int64_t reserved = -1, charged = -1;
    assert_int_equal(ledger_job_amounts(c, run, &reserved, &charged), 0);
    assert_true(reserved > 0);
    assert_int_equal(charged, 0);
    if (ledger_check(c) != 0)
        fail_msg("ledger_check: %s", "violation");
    ledger_balance bal;
    assert_int_equal(ledger_balance_get(c, C.account, &bal), 0);
    assert_int_equal(bal.reserved, 0); /* every reservation was settled or released */
    db_close(c);
    free(run);
    gw_stop(&K);
}

/* ---- retention and DELETE /account/data ---------------------------------------------- */

static void test_retention_and_purge(void **state)
{
    (void)state;
    gw K;
    static char *env[] = { "FMUGW_WORKERS=1", "FMUGW_RETENTION_OVERRIDE_S=2", NULL };
    assert_int_equal(gw_start(&K, env), 0);
    tn_cred C;
    snprintf(C.key, sizeof C.key, "%s", K.admin_key);
    snprintf(C.account, sizeof C.account, "%s", K.admin_account);
    assert_int_equal(get_token(&K, &C), 0);
    char path[600], id_fmu[64], body[256];
    snprintf(path, sizeof path, "%s/2.0/BouncingBall.fmu", getenv("FMUGW_FMU_DIR"));
    upload(&K, &C, path, "bb-own", id_fmu);
    snprintf(body, sizeof body, "{\"fmu_id\":\"%s\",\"stop_time\":1}", id_fmu);
    char *id = submit_ok(&K, &C, body);
    json_decref(wait_job(&K, &C, id, 60));
    char rp[256];
    snprintf(rp, sizeof rp, "/fmu/results/%s", id);
    json_t *info = get_json(&K, &C, rp, 200);
    json_decref(info);
    double t0 = tn_now_s();
    long st = 200;
    while (tn_now_s() - t0 < 15 && st == 200) {
        usleep(500000);
        gw_response r;
        api(&K, &C, &r, "GET", rp, NULL);
        st = r.status;
        gw_response_free(&r);
    }
    assert_int_equal(st, 404);
    db_conn *c = open_db(&K);
    db_stmt *q = NULL;
    assert_int_equal(db_query(&q, c, "SELECT COUNT(*) FROM results", NULL), 0);
    assert_int_equal(db_step(q), 1);
    assert_int_equal(db_column_int64(q, 0), 0);
    db_finalize(q);

    /* DELETE /account/data: FMUs, results, keys; the ledger stays */
    snprintf(body, sizeof body, "{\"fmu_id\":\"%s\",\"stop_time\":1.25}", id_fmu);
    char *id2 = submit_ok(&K, &C, body);
    json_decref(wait_job(&K, &C, id2, 60));
    gw_response r;
    api(&K, &C, &r, "DELETE", "/account/data", NULL);
    assert_int_equal(r.status, 200);
    json_t *sum = gw_json(&r);
    gw_response_free(&r);
    assert_true(json_integer_value(json_object_get(sum, "fmus_deleted")) >= 1);
    json_decref(sum);
    snprintf(path, sizeof path, "/fmu/%s", id_fmu);
    json_decref(get_json(&K, &C, path, 404));
    assert_int_equal(db_query(&q, c, "SELECT COUNT(*) FROM audit_log WHERE action = 'account.purge'", NULL), 0);
    assert_int_equal(db_step(q), 1);
    assert_int_equal(db_column_int64(q, 0), 1);
    db_finalize(q);
    assert_int_equal(db_query(&q, c, "SELECT COUNT(*) FROM results WHERE account_id = $1", "t", C.account), 0);
    assert_int_equal(db_step(q), 1);
    assert_int_equal(db_column_int64(q, 0), 0);
    db_finalize(q);
    ledger_entry *e = NULL;
    size_t ne = 0;
    assert_int_equal(ledger_entries(&e, &ne, c, C.account, 0, 100), 0);
    assert_true(ne > 0);
    ledger_entries_free(e, ne);
    assert_int_equal(ledger_check(c), 0);
    db_close(c);
    free(id);
    free(id2);
    gw_stop(&K);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_samples_match_cli),
        cmocka_unit_test(test_long_poll),
        cmocka_unit_test(test_idempotency),
        cmocka_unit_test(test_field_errors),
        cmocka_unit_test(test_runner_rules),
        cmocka_unit_test(test_limits_reserved_as_enforced),
        cmocka_unit_test(test_free_no_credits),
        cmocka_unit_test(test_cross_tenant),
        cmocka_unit_test(test_result_url_locked_account),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_kill9_recovery),
        cmocka_unit_test(test_retention_and_purge),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
