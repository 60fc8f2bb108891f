/*
 * bench_clients.c - what libfmugw adds over raw HTTP. Starts fmugwd (the
 * test harness), then runs one tiny job N times both ways, interleaved:
 * "raw" is the same HTTP calls made with libcurl directly (one reused
 * handle, token fetched once, minimal JSON parsing, no retries, hashing or
 * temporary files); "libfmugw" is fmugw_job_execute + fmugw_job_wait +
 * fmugw_job_results_download. A second figure repeats only the calls on a
 * finished job (status, results, download), where server time is small and
 * the client's share shows. Prints medians and the added milliseconds
 * (goal: under 1 ms median).
 *
 *     bench_clients FMUGWD FMU_DIR [N]
 */
#include <stdlib.h>

#include "fmugw.h"
#include "harness.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    double *c = malloc(sizeof *c * (size_t)n);
    memcpy(c, v, sizeof *c * (size_t)n);
    qsort(c, (size_t)n, sizeof *c, cmp_double);
    double m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
    free(c);
    return m;
}

/* ---- raw libcurl -------------------------------------------------------------- */

typedef struct {
    CURL *h;
    const char *base;
    char key_hdr[256];
    char auth_hdr[4200];
    char body[1 << 16];
    size_t len;
    FILE *sink;
} raw;

static size_t raw_collect(char *d, size_t s, size_t n, void *ud)
{
    raw *r = ud;
    size_t len = s * n;
    if (r->sink)
        return fwrite(d, 1, len, r->sink);
    if (r->len + len >= sizeof r->body)
        return 0;
    memcpy(r->body + r->len, d, len);
    r->len += len;
    r->body[r->len] = '\0';
    return len;
}

/* One request; returns the status. */
static long raw_call(raw *r, const char *method, const char *path, const char *body, int auth, const char *idem)
{
    char url[4096], idem_hdr[128];
    struct curl_slist *hl = NULL;
    snprintf(url, sizeof url, "%s%s", strncmp(path, "http", 4) ? r->base : "", path);
    curl_easy_reset(r->h);
    curl_easy_setopt(r->h, CURLOPT_URL, url);
    curl_easy_setopt(r->h, CURLOPT_WRITEFUNCTION, raw_collect);
    curl_easy_setopt(r->h, CURLOPT_WRITEDATA, r);
    if (auth) {
        hl = curl_slist_append(hl, r->key_hdr);
        if (r->auth_hdr[0])
            hl = curl_slist_append(hl, r->auth_hdr);
    }
    if (idem) {
        snprintf(idem_hdr, sizeof idem_hdr, "Idempotency-Key: %s", idem);
        hl = curl_slist_append(hl, idem_hdr);
    }
    if (body) {
        hl = curl_slist_append(hl, "Content-Type: application/json");
        curl_easy_setopt(r->h, CURLOPT_POSTFIELDS, body);
    } else if (!strcmp(method, "POST")) {
        curl_easy_setopt(r->h, CURLOPT_POST, 1L);
        curl_easy_setopt(r->h, CURLOPT_POSTFIELDSIZE, 0L);
    }
    curl_easy_setopt(r->h, CURLOPT_HTTPHEADER, hl);
    r->len = 0;
    r->body[0] = '\0';
    long st = 0;
    if (curl_easy_perform(r->h) == CURLE_OK)
        curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &st);
    curl_slist_free_all(hl);
    curl_easy_setopt(r->h, CURLOPT_HTTPHEADER, NULL);
    return st;
}

static const char *json_str(const char *text, const char *key, char *out, size_t size)
{
    json_t *j = json_loads(text, 0, NULL);
    const char *v = json_string_value(json_object_get(j, key));
    snprintf(out, size, "%s", v ? v : "");
    json_decref(j);
    return out;
}

static int raw_finish(raw *r, const char *job, const char *out_path)
{
    char path[512], url[2048], st[32];
    for (;;) {
        snprintf(path, sizeof path, "/fmu/status/%s?wait=20", job);
        if (raw_call(r, "GET", path, NULL, 1, NULL) != 200)
            return -1;
        json_str(r->body, "status", st, sizeof st);
        if (!strcmp(st, "succeeded"))
            break;
        if (strcmp(st, "queued") && strcmp(st, "running"))
            return -1;
    }
    snprintf(path, sizeof path, "/fmu/results/%s", job);
    if (raw_call(r, "GET", path, NULL, 1, NULL) != 200)
        return -1;
    json_str(r->body, "url", url, sizeof url);
    r->sink = fopen(out_path, "w");
    long s = raw_call(r, "GET", url, NULL, 0, NULL);
    fclose(r->sink);
    r->sink = NULL;
    return s == 200 ? 0 : -1;
}

static int raw_job(raw *r, const char *body, const char *out_path, char *job, size_t size)
{
    char key[37];
    fmugw_uuid4(key);
    if (raw_call(r, "POST", "/fmu/execute", body, 1, key) != 202 && r->len == 0)
        return -1;
    json_str(r->body, "job_id", job, size);
    return *job ? raw_finish(r, job, out_path) : -1;
}

/* ---- libfmugw ---------------------------------------------------------------- */

static int lib_finish(fmugw_client *c, const char *job, const char *out_path)
{
    fmugw_job_status st;
    int rc = fmugw_job_wait(&st, c, job, 120, NULL, NULL);
    return rc ? rc : fmugw_job_results_download(c, job, out_path);
}

static int lib_job(fmugw_client *c, const char *fmu, const char *out_path, char *job, size_t size)
{
    fmugw_execute_options o = FMUGW_EXECUTE_OPTIONS_INIT;
    fmugw_job_ref ref;
    o.stop_time = 0.1;
    o.output_interval = 0.01;
    int rc = fmugw_job_execute(&ref, c, fmu, &o);
    snprintf(job, size, "%s", ref.id);
    return rc ? rc : lib_finish(c, job, out_path);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_clients FMUGWD FMU_DIR [N]\n");
        return 2;
    }
    (void)gw_request, (void)gw_header, (void)gw_json, (void)gw_response_free;
    int n = argc > 3 ? atoi(argv[3]) : 30;
    if (n < 3)
        n = 3;
    setenv("FMUGWD", argv[1], 1);
    unsetenv("FMUGW_CONTRACT_LOG");
    gw g;
    if (gw_start(&g, NULL) != 0 || !g.admin_key[0]) {
        fprintf(stderr, "bench_clients: cannot start %s\n", argv[1]);
        return 1;
    }
    int rc = 1;
    char fmu_path[1024], out_raw[700], out_lib[700], job[128];
    snprintf(fmu_path, sizeof fmu_path, "%s/2.0/BouncingBall.fmu", argv[2]);
    snprintf(out_raw, sizeof out_raw, "%s/raw.csv", g.root);
    snprintf(out_lib, sizeof out_lib, "%s/lib.csv", g.root);

    fmugw_client_options co = FMUGW_CLIENT_OPTIONS_INIT;
    co.base_url = g.base_url;
    co.api_key = g.admin_key;
    fmugw_client *c = NULL;
    fmugw_fmu_ref fmu;
    if (fmugw_client_new(&c, &co) || fmugw_fmu_upload(&fmu, c, fmu_path, NULL)) {
        fprintf(stderr, "bench_clients: %s\n", fmugw_client_error_last());
        goto out;
    }
    raw r = {.h = curl_easy_init(), .base = g.base_url};
    snprintf(r.key_hdr, sizeof r.key_hdr, "X-API-Key: %s", g.admin_key);
    if (raw_call(&r, "POST", "/auth/token", NULL, 1, NULL) != 200)
        goto out;
    char tok[4096];
    snprintf(r.auth_hdr, sizeof r.auth_hdr, "Authorization: Bearer %s", json_str(r.body, "access_token", tok, sizeof tok));
    char body[512];
    snprintf(body, sizeof body, "{\"fmu_id\":\"%s\",\"stop_time\":0.1,\"output_interval\":0.01}", fmu.id);

    /* warm-up: connections, the FMU cache, the client's token */
    for (int i = 0; i < 3; i++)
        if (raw_job(&r, body, out_raw, job, sizeof job) || lib_job(c, fmu.id, out_lib, job, sizeof job)) {
            fprintf(stderr, "bench_clients: warm-up failed: %s\n", fmugw_client_error_last());
            goto out;
        }
    double *t_raw = calloc((size_t)n, sizeof(double)), *t_lib = calloc((size_t)n, sizeof(double));
    double *d = calloc((size_t)n, sizeof(double)), *f_raw = calloc((size_t)n, sizeof(double));
    double *f_lib = calloc((size_t)n, sizeof(double)), *fd = calloc((size_t)n, sizeof(double));
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 2; k++) { /* alternate who goes first */
            int lib_turn = (i + k) % 2;
            double t0 = now_ms();
            int e = lib_turn ? lib_job(c, fmu.id, out_lib, job, sizeof job) : raw_job(&r, body, out_raw, job, sizeof job);
            double t1 = now_ms();
            if (e) {
                fprintf(stderr, "bench_clients: job failed: %s\n", fmugw_client_error_last());
                goto out;
            }
            (lib_turn ? t_lib : t_raw)[i] = t1 - t0;
            /* the calls on the finished job alone */
            t0 = now_ms();
            e = lib_turn ? lib_finish(c, job, out_lib) : raw_finish(&r, job, out_raw);
            t1 = now_ms();
            if (e)
                goto out;
            (lib_turn ? f_lib : f_raw)[i] = t1 - t0;
        }
        d[i] = t_lib[i] - t_raw[i];
        fd[i] = f_lib[i] - f_raw[i];
    }
    double mr = median(t_raw, n), ml = median(t_lib, n), mf_r = median(f_raw, n), mf_l = median(f_lib, n);
    double added = median(fd, n);
    printf("tiny job (BouncingBall FMI 2.0 CS, 0.1 s, 11 rows), %d runs each, interleaved:\n", n);
    printf("  whole job  raw libcurl %.2f ms  libfmugw %.2f ms  added %.2f ms (median of paired differences %.2f ms)\n",
           mr, ml, ml - mr, median(d, n));
    printf("  finished-job calls (status, results, download)  raw %.3f ms  libfmugw %.3f ms  added %.3f ms "
           "(paired median)\n", mf_r, mf_l, added);
    printf("  goal: libfmugw adds < 1 ms median: %s\n", added < 1.0 ? "met" : "NOT met");
    free(t_raw);
    free(t_lib);
    free(d);
    free(f_raw);
    free(f_lib);
    free(fd);
    curl_easy_cleanup(r.h);
    rc = 0;
out:
    fmugw_client_free(c);
    gw_stop(&g);
    return rc;
}
