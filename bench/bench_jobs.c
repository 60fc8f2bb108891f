/*
 * bench_jobs.c - jobs through the real fmugwd against `fmugw sim`, in one
 * run:
 *   1. end-to-end latency of a BouncingBall 0..3 s job (submit -> status
 *      long-poll -> signed URL -> result downloaded) vs `fmugw sim` of the
 *      same job; goal: median added <= 10 ms;
 *   2. sustained throughput of tiny jobs with 8 concurrent clients (each
 *      its own enterprise account and key); goal >= 150 jobs/s; then every
 *      job is checked to be settled exactly once (ledger_check and each
 *      job's charge from the ledger);
 *   3. a job of >= 1 s CPU (Dahlquist ME, Euler, 1e7 steps) end to end vs
 *      `fmugw sim`, 5 runs interleaved; goal within 1.05x, judged on the
 *      median of the paired ratios (each API run against the `fmugw sim`
 *      run right after it); each run also shows the job's own wall time in
 *      its sandbox, so what the API adds around it is visible.
 *
 * usage: bench_jobs FMUGWD FMUGW FMU_DIR [LATENCY_RUNS] [TINY_JOBS_PER_CLIENT]
 */
#pragma GCC diagnostic ignored "-Wunused-function" /* harness.h, tenant.h are header-only */
#include "tenant.h"

#include "ledger/ledger.h"
#include "store/db.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/time.h>

#pragma GCC diagnostic ignored "-Wformat-truncation"

#define CLIENTS 8

static gw G;
static const char *FMUGW_BIN, *FMU_DIR;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Client i's enterprise account, with a key and a token. */
static int account(tn_cred *c, int i)
{
    char email[128];
    snprintf(email, sizeof email, "bench%d-%d@example.com", i, (int)getpid());
    return tn_account_email(&G, c, "enterprise", email);
}

/* One request as `c`; the parsed answer (caller decrefs) or NULL. */
static json_t *call(const tn_cred *c, const char *method, const char *path, const char *body, long *status)
{
    char k[256], t[4200];
    snprintf(k, sizeof k, "X-API-Key: %s", c->key);
    snprintf(t, sizeof t, "Authorization: Bearer %s", c->token);
    const char *hs[] = { k, t, "Content-Type: application/json", NULL };
    gw_response r;
    if (gw_request(&G, &r, method, path, body, body ? strlen(body) : 0, hs) != 0) {
        *status = 0;
        return NULL;
    }
    *status = r.status;
    json_t *j = gw_json(&r);
    gw_response_free(&r);
    return j;
}

/* Submit, long-poll until finished; with `download`, fetch the result.
 * Returns the job id (malloc'd) or NULL. */
static char *run_job(const tn_cred *c, const char *body, bool download, size_t *result_len)
{
    long st;
    json_t *j = call(c, "POST", "/fmu/execute", body, &st);
    if (st != 202) {
        fprintf(stderr, "submit: %ld\n", st);
        json_decref(j);
        return NULL;
    }
    char *id = strdup(json_string_value(json_object_get(j, "job_id")));
    json_decref(j);
    char path[256];
    snprintf(path, sizeof path, "/fmu/status/%s?wait=30", id);
    for (;;) {
        j = call(c, "GET", path, NULL, &st);
        const char *s = json_string_value(json_object_get(j, "status"));
        if (st != 200 || !s) {
            json_decref(j);
            free(id);
            return NULL;
        }
        bool done = strcmp(s, "queued") && strcmp(s, "running");
        bool ok = !strcmp(s, "succeeded");
        if (done && !ok) {
            char *text = json_dumps(j, JSON_COMPACT);
            fprintf(stderr, "job %s: %s\n", id, text ? text : s);
            free(text);
        }
        json_decref(j);
        if (done && !ok) {
            free(id);
            return NULL;
        }
        if (done)
            break;
    }
    if (download) {
        snprintf(path, sizeof path, "/fmu/results/%s", id);
        j = call(c, "GET", path, NULL, &st);
        const char *url = json_string_value(json_object_get(j, "url"));
        gw_response r;
        if (st != 200 || !url || gw_request(&G, &r, "GET", url, NULL, 0, NULL) != 0 || r.status != 200) {
            json_decref(j);
            free(id);
            return NULL;
        }
        *result_len = r.len;
        gw_response_free(&r);
        json_decref(j);
    }
    return id;
}

static double cli_ms(const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' sim %s --quiet -o /dev/null", FMUGW_BIN, args);
    double t0 = now_ms();
    if (system(cmd) != 0)
        return -1;
    return now_ms() - t0;
}

static void sample(char out[64], const tn_cred *c, const char *name)
{
    long st;
    json_t *j = call(c, "GET", "/fmu?limit=200", NULL, &st);
    gw_item_id_named(out, j, name);
    json_decref(j);
}

/* ---- throughput -------------------------------------------------------- */

/* CPU seconds the daemon used, its reaped descendants (sandboxes and their
 * runners) included: utime + stime + cutime + cstime of /proc/PID/stat. */
static double daemon_cpu_s(pid_t pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p)
        return -1;
    unsigned long long f[18] = {0}; /* f[k]: field k of proc(5)'s stat */
    char state;
    if (sscanf(p + 1, " %c %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &state, &f[4],
               &f[5], &f[6], &f[7], &f[8], &f[9], &f[10], &f[11], &f[12], &f[13], &f[14], &f[15], &f[16],
               &f[17]) != 15)
        return -1;
    /* 14 utime, 15 stime, 16 cutime, 17 cstime (clock ticks) */
    return (double)(f[14] + f[15] + f[16] + f[17]) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

typedef struct {
    tn_cred c;
    const char *fmu_id;
    int n;
    int done;
    char **ids;
} client;

static void *client_main(void *arg)
{
    client *cl = arg;
    for (int i = 0; i < cl->n; i++) {
        char body[256];
        /* distinct requests: no result reuse */
        snprintf(body, sizeof body, "{\"fmu_id\":\"%s\",\"stop_time\":0.1,\"output_interval\":0.01,\"reuse\":false}",
                 cl->fmu_id);
        char *id = run_job(&cl->c, body, false, NULL);
        if (id)
            cl->ids[cl->done++] = id;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_jobs FMUGWD FMUGW FMU_DIR [LATENCY_RUNS] [TINY_JOBS_PER_CLIENT]\n");
        return 2;
    }
    setenv("FMUGWD", argv[1], 1);
    FMUGW_BIN = argv[2];
    FMU_DIR = argv[3];
    int runs = argc > 4 ? atoi(argv[4]) : 30, per_client = argc > 5 ? atoi(argv[5]) : 100;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    static char *env[] = { "FMUGW_THREADS=16", NULL };
    if (gw_start(&G, env) != 0) {
        fprintf(stderr, "cannot start fmugwd\n");
        return 1;
    }
    int rc = 1;
    tn_cred admin;
    if (tn_admin_cred(&G, &admin) != 0)
        goto out;
    char bb[64], dq[64];
    sample(bb, &admin, "BouncingBall (FMI 2.0)");
    sample(dq, &admin, "Dahlquist (FMI 2.0)");
    char bbpath[600], dqpath[600];
    snprintf(bbpath, sizeof bbpath, "'%s/2.0/BouncingBall.fmu'", FMU_DIR);
    snprintf(dqpath, sizeof dqpath, "'%s/2.0/Dahlquist.fmu'", FMU_DIR);

    /* 1. latency */
    double *api = calloc((size_t)runs, sizeof *api), *cli = calloc((size_t)runs, sizeof *cli);
    for (int i = 0; i < runs + 3; i++) { /* 3 warm-up runs */
        char body[256], args[800];
        snprintf(body, sizeof body, "{\"fmu_id\":\"%s\",\"start_time\":0,\"stop_time\":3,\"reuse\":false}", bb);
        snprintf(args, sizeof args, "%s --start-time 0 --stop-time 3", bbpath);
        size_t len = 0;
        double t0 = now_ms();
        char *id = run_job(&admin, body, true, &len);
        double t_api = now_ms() - t0;
        double t_cli = cli_ms(args);
        if (!id || t_cli < 0 || len == 0) {
            fprintf(stderr, "latency run failed\n");
            goto out;
        }
        free(id);
        if (i >= 3) {
            api[i - 3] = t_api;
            cli[i - 3] = t_cli;
        }
    }
    double m_api = median(api, (size_t)runs), m_cli = median(cli, (size_t)runs);
    printf("latency, BouncingBall FMI 2 0..3 s, %d runs (submit -> long-poll -> signed URL -> download):\n", runs);
    printf("  API end to end  median %8.3f ms\n", m_api);
    printf("  fmugw sim       median %8.3f ms\n", m_cli);
    printf("  added by the API: %+.3f ms median (goal <= 10 ms)  ratio x%.2f\n", m_api - m_cli, m_api / m_cli);

    /* 2. throughput */
    client cl[CLIENTS];
    pthread_t th[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        memset(&cl[i], 0, sizeof cl[i]);
        if (account(&cl[i].c, i) != 0) {
            fprintf(stderr, "cannot create client account\n");
            goto out;
        }
        cl[i].fmu_id = bb;
        cl[i].n = per_client;
        cl[i].ids = calloc((size_t)per_client, sizeof(char *));
    }
    double cpu0 = daemon_cpu_s(G.pid), self0 = self_cpu_s();
    double t0 = now_ms();
    for (int i = 0; i < CLIENTS; i++)
        pthread_create(&th[i], NULL, client_main, &cl[i]);
    int total = 0;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(th[i], NULL);
        total += cl[i].done;
    }
    double dt = now_ms() - t0;
    double cpu1 = daemon_cpu_s(G.pid), self1 = self_cpu_s();
    printf("throughput, tiny jobs (BouncingBall 0..0.1 s, 11 rows), %d clients:\n", CLIENTS);
    printf("  %d of %d jobs succeeded in %.0f ms = %.1f jobs/s (goal >= 150)\n", total, CLIENTS * per_client, dt,
           total * 1000.0 / dt);
    if (total > 0 && cpu0 >= 0 && cpu1 >= 0) {
        double per_job = (cpu1 - cpu0) * 1e3 / total, clients = (self1 - self0) * 1e3 / total;
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        printf("  CPU per job: daemon + sandboxes %.2f ms, the 8 clients %.2f ms: %ld cores bound this at"
               " %.0f jobs/s (less with other load on the machine)\n",
               per_job, clients, cores, cores * 1e3 / (per_job + clients));
    }
    /* every job settled exactly once */
    char url[800];
    db_conn *c = NULL;
    snprintf(url, sizeof url, "sqlite://%s/fmugw.db", G.data_dir);
    int settled = 0;
    if (db_open(&c, url) == 0) {
        for (int i = 0; i < CLIENTS; i++)
            for (int k = 0; k < cl[i].done; k++) {
                int64_t res = 0, ch = 0;
                if (ledger_job_amounts(c, cl[i].ids[k], &res, &ch) == 0 && ch > 0 && ch <= res)
                    settled++;
            }
        int chk = ledger_check(c);
        printf("  ledger: %d of %d jobs settled with a charge, ledger_check %s\n", settled, total,
               chk == 0 ? "passed (no job settled twice, sum zero)" : "FAILED");
        db_close(c);
    }
    for (int i = 0; i < CLIENTS; i++) {
        for (int k = 0; k < cl[i].done; k++)
            free(cl[i].ids[k]);
        free(cl[i].ids);
    }

    /* 3. a CPU-bound job */
#define BIG_RUNS 5
    double big_api[BIG_RUNS], big_cli[BIG_RUNS], big_wall[BIG_RUNS];
    for (int i = 0; i < BIG_RUNS; i++) {
        char body[512], args[900];
        snprintf(body, sizeof body,
                 "{\"fmu_id\":\"%s\",\"interface\":\"me\",\"solver\":\"euler\",\"step_size\":1e-7,\"stop_time\":1,"
                 "\"output_interval\":0.01,\"reuse\":false}",
                 dq);
        snprintf(args, sizeof args, "%s --interface me --solver euler --step-size 1e-7 --stop-time 1 --output-interval 0.01",
                 dqpath);
        size_t len = 0;
        double s = now_ms();
        char *id = run_job(&admin, body, true, &len);
        big_api[i] = now_ms() - s;
        big_cli[i] = cli_ms(args);
        if (!id) {
            fprintf(stderr, "CPU job failed\n");
            goto out;
        }
        char spath[256];
        long sst = 0;
        snprintf(spath, sizeof spath, "/fmu/status/%s", id);
        json_t *sj = call(&admin, "GET", spath, NULL, &sst);
        big_wall[i] = json_number_value(json_object_get(json_object_get(sj, "metering"), "wall_ms"));
        json_decref(sj);
        free(id);
    }
    double pair[BIG_RUNS];
    for (int i = 0; i < BIG_RUNS; i++)
        pair[i] = big_api[i] / big_cli[i];
    printf("CPU-bound job, Dahlquist FMI 2 ME Euler 1e7 steps, %d runs, interleaved:\n", BIG_RUNS);
    printf("  each run (API [the job's own wall time in its sandbox] / fmugw sim, ms):");
    for (int i = 0; i < BIG_RUNS; i++)
        printf(" %.0f [%.0f] / %.0f", big_api[i], big_wall[i], big_cli[i]);
    printf("\n");
    double ba = median(big_api, BIG_RUNS), bc = median(big_cli, BIG_RUNS);
    printf("  API end to end  median %8.1f ms\n  fmugw sim       median %8.1f ms\n  ratio of the medians x%.3f\n", ba,
           bc, ba / bc);
    /* Each API run is paired with the `fmugw sim` run right after it: the
     * median of the pairs' ratios is less moved by a slow spell of the
     * machine than the ratio of the medians. */
    printf("  median of the paired ratios x%.3f (goal <= 1.05)\n", median(pair, BIG_RUNS));
    rc = 0;
out:
    gw_stop(&G);
    curl_global_cleanup();
    return rc;
}
