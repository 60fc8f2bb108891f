/*
 * test_gateway_availability.c - no tenant can stall the service, against
 * the real fmugwd:
 *   - long-polls are parked: with 2 HTTP threads, an account's status
 *     long-polls (up to its limit; one more is a 429) hold no thread, so
 *     /healthz and other requests are answered while they wait, a client
 *     that hangs up frees its slot at once, and they end as soon as the job
 *     changes (a cancel);
 *   - slow headers: connections that trickle their headers are cut at the
 *     header deadline, and with every normal slot taken /healthz is still
 *     answered on the probe reserve (other routes get a 503 there); one
 *     address cannot take the server to its pressure mark;
 *   - failed authentications are throttled per address (429) before
 *     anything is written, and write a bounded number of audit rows, while
 *     a valid tenant on the same address is served;
 *   - scheduling: with both regular workers held by one tenant's long
 *     jobs, another tenant's small job runs and finishes while they still
 *     run (the reserve worker).
 */
#include "tenant.h"

#pragma GCC diagnostic ignored "-Wformat-truncation"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "auth/apikey.h"
#include "store/db.h"

/* tn_open_db, asserting that it opened. */
static db_conn *open_db(const gw *g)
{
    db_conn *c = tn_open_db(g);
    assert_non_null(c);
    return c;
}

static int64_t count_rows(const gw *g, const char *sql)
{
    db_conn *c = open_db(g);
    db_stmt *st = NULL;
    assert_int_equal(db_query(&st, c, sql, NULL), 0);
    assert_int_equal(db_step(st), 1);
    int64_t n = db_column_int64(st, 0);
    db_finalize(st);
    db_close(c);
    return n;
}

/* GET path without credentials, with a 10 s cap; the status (0 = no answer). */
static long plain_get(const gw *g, const char *path)
{
    gw_response r;
    long st = 0;
    CURL *c = curl_easy_init();
    char url[512];
    snprintf(url, sizeof url, "%s%s", g->base_url, path);
    memset(&r, 0, sizeof r);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, gw__collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    r.body = calloc(1, 1);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    curl_easy_cleanup(c);
    gw_response_free(&r);
    return st;
}

/* ---- long-polls are parked ------------------------------------------------------ */

typedef struct {
    CURL *h;
    struct curl_slist *hl;
    gw_response r;
} poll_req;

static void poll_req_start(CURLM *m, poll_req *p, const gw *g, const tn_cred *c, const char *path)
{
    char k[256], t[4200], url[512];
    memset(p, 0, sizeof *p);
    p->r.body = calloc(1, 1);
    snprintf(k, sizeof k, "X-API-Key: %s", c->key);
    snprintf(t, sizeof t, "Authorization: Bearer %s", c->token);
    snprintf(url, sizeof url, "%s%s", g->base_url, path);
    p->hl = curl_slist_append(curl_slist_append(NULL, k), t);
    p->h = curl_easy_init();
    curl_easy_setopt(p->h, CURLOPT_URL, url);
    curl_easy_setopt(p->h, CURLOPT_HTTPHEADER, p->hl);
    curl_easy_setopt(p->h, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(p->h, CURLOPT_WRITEFUNCTION, gw__collect);
    curl_easy_setopt(p->h, CURLOPT_WRITEDATA, &p->r);
    curl_multi_add_handle(m, p->h);
}

/* Drives the multi handle for about `ms`; returns the transfers still running. */
static int multi_run(CURLM *m, int ms)
{
    int running = 0;
    double t0 = tn_now_s();
    do {
        curl_multi_perform(m, &running);
        curl_multi_poll(m, NULL, 0, 50, NULL);
    } while (running > 0 && (tn_now_s() - t0) * 1000 < ms);
    curl_multi_perform(m, &running);
    return running;
}

static void test_long_polls_hold_no_thread(void **state)
{
    (void)state;
    gw g;
    /* role api: no workers, so the job stays queued until canceled */
    static char *env[] = { "FMUGW_THREADS=2", "FMUGW_ROLE=api", NULL };
    assert_int_equal(gw_start(&g, env), 0);
    tn_cred f;
    assert_int_equal(tn_account(&g, &f, "free"), 0);
    char fmu[64], body[256], path[256];
    tn_sample_id(&g, &f, fmu, "Dahlquist", "2.0");
    assert_true(fmu[0]);
    snprintf(body, sizeof body, "{\"fmu_id\":\"%s\",\"stop_time\":1,\"reuse\":false}", fmu);
    char *id = tn_submit_ok(&g, &f, body);
    assert_non_null(id);

    /* four long-polls (the Free limit), more than the two HTTP threads */
    enum { N = 4 };
    CURLM *m = curl_multi_init();
    poll_req p[N];
    snprintf(path, sizeof path, "/fmu/status/%s?wait=30", id);
    for (int i = 0; i < N; i++)
        poll_req_start(m, &p[i], &g, &f, path);
    assert_int_equal(multi_run(m, 1500), N);

    /* the service answers everyone meanwhile */
    for (int i = 0; i < 6; i++)
        assert_int_equal(plain_get(&g, "/healthz"), 200);
    json_t *acct = tn_get_json(&g, &f, "/account", 200);
    assert_non_null(acct);
    json_decref(acct);
    /* one more long-poll of the same account is refused, at once */
    gw_response r;
    assert_int_equal(tn_api(&g, &f, &r, "GET", path, NULL, NULL), 0);
    assert_int_equal(r.status, 429);
    char buf[64];
    assert_non_null(gw_header(&r, "Retry-After", buf, sizeof buf));
    gw_response_free(&r);
    /* a status without ?wait still answers */
    char st[16];
    assert_string_equal(tn_job_status(&g, &f, id, st), "queued");
    /* the parked long-polls were waiting all along */
    assert_int_equal(multi_run(m, 0), N);

    /* two clients hang up: their slots are free again long before the
     * 30 s deadline (one more long-poll is accepted: 200 after its 1 s) */
    enum { GONE = 2 };
    for (int i = 0; i < GONE; i++) {
        curl_multi_remove_handle(m, p[i].h);
        curl_easy_cleanup(p[i].h); /* closes the connection */
        curl_slist_free_all(p[i].hl);
        gw_response_free(&p[i].r);
    }
    snprintf(path, sizeof path, "/fmu/status/%s?wait=1", id);
    long got = 0;
    for (int i = 0; i < 20 && got != 200; i++) {
        assert_int_equal(tn_api(&g, &f, &r, "GET", path, NULL, NULL), 0);
        got = r.status;
        gw_response_free(&r);
        if (got != 200)
            usleep(200 * 1000);
    }
    assert_int_equal(got, 200);
    assert_int_equal(multi_run(m, 0), N - GONE);

    /* a change answers them: cancel the queued job */
    snprintf(path, sizeof path, "/fmu/cancel/%s", id);
    assert_int_equal(tn_api(&g, &f, &r, "POST", path, NULL, NULL), 0);
    assert_int_equal(r.status, 200);
    gw_response_free(&r);
    assert_int_equal(multi_run(m, 20000), 0);
    for (int i = GONE; i < N; i++) {
        long code = 0;
        curl_easy_getinfo(p[i].h, CURLINFO_RESPONSE_CODE, &code);
        assert_int_equal(code, 200);
        json_t *j = json_loadb(p[i].r.body, p[i].r.len, 0, NULL);
        assert_string_equal(json_string_value(json_object_get(j, "status")), "canceled");
        json_decref(j);
        curl_multi_remove_handle(m, p[i].h);
        curl_easy_cleanup(p[i].h);
        curl_slist_free_all(p[i].hl);
        gw_response_free(&p[i].r);
    }
    curl_multi_cleanup(m);
    /* the slots are free again */
    snprintf(path, sizeof path, "/fmu/status/%s?wait=1", id);
    json_decref(tn_get_json(&g, &f, path, 200));
    free(id);
    gw_stop(&g);
}

/* ---- slow headers and the probe reserve -------------------------------------------- */

/* A TCP connection to the daemon from source address `src` (127.x.y.z). */
static int connect_from(const gw *g, const char *src)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET };
    inet_pton(AF_INET, src, &a.sin_addr);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    struct sockaddr_in d = { .sin_family = AF_INET, .sin_port = htons((uint16_t)g->port) };
    inet_pton(AF_INET, "127.0.0.1", &d.sin_addr);
    if (connect(fd, (struct sockaddr *)&d, sizeof d) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* True once the server has closed fd (EOF or reset). */
static bool closed_by_server(int fd)
{
    struct pollfd pf = { .fd = fd, .events = POLLIN };
    if (poll(&pf, 1, 0) <= 0)
        return false;
    char b[256];
    ssize_t n = recv(fd, b, sizeof b, MSG_DONTWAIT);
    return n <= 0;
}

static void test_slow_headers_and_probe_reserve(void **state)
{
    (void)state;
    gw g;
    /* 20 normal slots, 4 in reserve, 8 per address, headers due in 5 s,
     * an idle timeout far longer than the test */
    static char *env[] = { "FMUGW_MAX_CONNECTIONS=20", "FMUGW_PROBE_RESERVE=4", "FMUGW_PER_IP_CONNECTIONS=8",
                           "FMUGW_HEADER_TIMEOUT_S=5", "FMUGW_TIMEOUT_S=300", NULL };
    assert_int_equal(gw_start(&g, env), 0);
    enum { SLOW = 20 };
    int fds[SLOW];
    static const char *const srcs[] = { "127.0.0.2", "127.0.0.3", "127.0.0.4" };
    for (int i = 0; i < SLOW; i++) {
        fds[i] = connect_from(&g, srcs[i / 8]);
        assert_true(fds[i] >= 0);
        const char *start = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
        assert_true(send(fds[i], start, strlen(start), MSG_NOSIGNAL) > 0);
    }
    /* every normal slot is taken by a slow client: probes are still answered */
    usleep(300 * 1000);
    assert_int_equal(plain_get(&g, "/healthz"), 200);
    assert_int_equal(plain_get(&g, "/readyz"), 200);
    /* and other routes on the reserve get a clear 503 */
    assert_int_equal(plain_get(&g, "/fmu"), 503);

    /* the slow clients keep trickling; the header deadline cuts them anyway */
    int open = SLOW;
    for (int round = 0; round < 160 && open > 0; round++) {
        open = 0;
        for (int i = 0; i < SLOW; i++) {
            if (fds[i] < 0)
                continue;
            if (closed_by_server(fds[i])) {
                close(fds[i]);
                fds[i] = -1;
                continue;
            }
            send(fds[i], "a", 1, MSG_NOSIGNAL);
            open++;
        }
        usleep(250 * 1000);
    }
    assert_int_equal(open, 0);
    /* the server is healthy for everyone again */
    assert_int_equal(plain_get(&g, "/fmu"), 401);
    assert_int_equal(plain_get(&g, "/healthz"), 200);
    gw_stop(&g);
}

/* Pressure: one address cannot take the server to 75 % of its slots. Of
 * 16 slow connections from one address (20 slots), those that would reach
 * the mark are refused at accept or cut at once, long before the header
 * deadline (a minute here); the others wait; a light address is served. */
static void test_pressure_caps_heavy_address(void **state)
{
    (void)state;
    gw g;
    static char *env[] = { "FMUGW_MAX_CONNECTIONS=20", "FMUGW_PER_IP_CONNECTIONS=20", "FMUGW_HEADER_TIMEOUT_S=60",
                           "FMUGW_TIMEOUT_S=300", NULL };
    assert_int_equal(gw_start(&g, env), 0);
    enum { SLOW = 16 };
    int fds[SLOW];
    for (int i = 0; i < SLOW; i++) {
        fds[i] = connect_from(&g, "127.0.0.5");
        assert_true(fds[i] >= 0);
        const char *start = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
        send(fds[i], start, strlen(start), MSG_NOSIGNAL);
    }
    int open = SLOW;
    for (int round = 0; round < 40 && open >= 15; round++) {
        usleep(250 * 1000);
        open = 0;
        for (int i = 0; i < SLOW; i++)
            if (fds[i] >= 0 && !closed_by_server(fds[i]))
                open++;
    }
    assert_true(open < 15); /* 75 % of 20 */
    assert_true(open >= 8); /* the address keeps its share */
    assert_int_equal(plain_get(&g, "/healthz"), 200);
    for (int i = 0; i < SLOW; i++)
        close(fds[i]);
    gw_stop(&g);
}

/* ---- failed authentications ------------------------------------------------------- */

static void test_auth_failure_flood(void **state)
{
    (void)state;
    gw g;
    assert_int_equal(gw_start(&g, NULL), 0);
    tn_cred t;
    assert_int_equal(tn_account(&g, &t, "pro"), 0);
    int64_t before = count_rows(&g, "SELECT COUNT(*) FROM audit_log WHERE action = 'auth.failure'");

    enum { FLOOD = 300 };
    int n401 = 0, n429 = 0, other = 0;
    for (int i = 0; i < FLOOD; i++) {
        char key[APIKEY_LEN + 1], h[256];
        if (i % 3 == 0)
            snprintf(key, sizeof key, "fmugw_live_not-a-key-%d", i); /* malformed */
        else
            assert_int_equal(apikey_generate(key), 0); /* well formed, unknown */
        snprintf(h, sizeof h, "X-API-Key: %s", key);
        const char *hs[] = { h, "Authorization: Bearer x", NULL };
        gw_response r;
        assert_int_equal(gw_request(&g, &r, "GET", "/account", NULL, 0, hs), 0);
        if (r.status == 401)
            n401++;
        else if (r.status == 429)
            n429++;
        else
            other++;
        gw_response_free(&r);
    }
    fprintf(stderr, "   (%d x 401, %d x 429)\n", n401, n429);
    assert_int_equal(other, 0);
    assert_true(n429 > 0);     /* throttled past the per-address burst */
    assert_true(n401 >= 20);   /* the burst itself was answered normally */
    int64_t after = count_rows(&g, "SELECT COUNT(*) FROM audit_log WHERE action = 'auth.failure'");
    fprintf(stderr, "   (%lld audit rows for %d failures)\n", (long long)(after - before), FLOOD);
    /* one row per (address, reason) window: two reasons here */
    assert_true(after - before >= 1);
    assert_true(after - before <= 4);
    /* a valid tenant on the same address is served */
    json_t *j = tn_get_json(&g, &t, "/account", 200);
    assert_non_null(j);
    json_decref(j);
    gw_stop(&g);
}

/* ---- scheduling: a reserve worker for accounts running nothing ------------------------- */

static void test_small_job_not_starved(void **state)
{
    (void)state;
    gw g;
    static char *env[] = { "FMUGW_WORKERS=2", NULL };
    assert_int_equal(gw_start(&g, env), 0);
    tn_cred hog, small;
    assert_int_equal(tn_account(&g, &hog, "pro"), 0);
    assert_int_equal(tn_account(&g, &small, "free"), 0);
    char sleeper[64], path[600], body[512];
    snprintf(path, sizeof path, "%s/SleepForever.fmu", getenv("FMUGW_HOSTILE_DIR"));
    tn_upload(&g, &hog, path, "SleepForever", sleeper);
    assert_true(sleeper[0]);
    /* the hog holds both regular workers with jobs that run 120 s (canceled at the end) */
    snprintf(body, sizeof body, "{\"fmu_id\":\"%s\",\"stop_time\":1,\"reuse\":false,\"timeout_s\":120}", sleeper);
    char *h1 = tn_submit_ok(&g, &hog, body), *h2 = tn_submit_ok(&g, &hog, body), *h3 = tn_submit_ok(&g, &hog, body);
    assert_non_null(h1);
    assert_non_null(h2);
    assert_non_null(h3);
    char s1[16], s2[16], s3[16];
    for (int i = 0; i < 300; i++) {
        if (!strcmp(tn_job_status(&g, &hog, h1, s1), "running") && !strcmp(tn_job_status(&g, &hog, h2, s2), "running"))
            break;
        usleep(100 * 1000);
    }
    assert_string_equal(s1, "running");
    assert_string_equal(s2, "running");
    /* the hog's third job waits: it never takes the reserve worker */
    assert_string_equal(tn_job_status(&g, &hog, h3, s3), "queued");

    /* another tenant's small job runs and finishes meanwhile */
    char fmu[64];
    tn_sample_id(&g, &small, fmu, "Dahlquist", "2.0");
    snprintf(body, sizeof body, "{\"fmu_id\":\"%s\",\"stop_time\":1,\"reuse\":false}", fmu);
    char *sj = tn_submit_ok(&g, &small, body);
    assert_non_null(sj);
    json_t *done = tn_wait_job(&g, &small, sj, 60);
    assert_non_null(done);
    assert_string_equal(json_string_value(json_object_get(done, "status")), "succeeded");
    json_decref(done);
    assert_string_equal(tn_job_status(&g, &hog, h1, s1), "running");
    assert_string_equal(tn_job_status(&g, &hog, h2, s2), "running");

    char *ids[] = { h1, h2, h3 };
    for (int i = 0; i < 3; i++) {
        gw_response r;
        snprintf(path, sizeof path, "/fmu/cancel/%s", ids[i]);
        assert_int_equal(tn_api(&g, &hog, &r, "POST", path, NULL, NULL), 0);
        gw_response_free(&r);
        free(ids[i]);
    }
    free(sj);
    gw_stop(&g);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_long_polls_hold_no_thread),
        cmocka_unit_test(test_slow_headers_and_probe_reserve),
        cmocka_unit_test(test_pressure_caps_heavy_address),
        cmocka_unit_test(test_auth_failure_flood),
        cmocka_unit_test(test_small_job_not_starved),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
