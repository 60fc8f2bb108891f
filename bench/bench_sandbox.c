/*
 * bench_sandbox.c - the cost of running a tiny job in the sandbox, in one
 * run.
 *
 * usage: bench_sandbox RUNNER FMU_DIR [jobs]
 *
 * `jobs` (default 1000) tiny simulations, BouncingBall (FMI 2) 0..1 s with
 * the default output, four ways: in a one-shot sandbox (sandbox_run,
 * isolate), in a sandbox from the pre-forked pool (sandbox_pool_run, pool
 * of 2 with its refill thread), in a plain fork + exec of the same runner
 * (isolate = false), and in-process (fmi_run in a loop). The FMU is
 * extracted once; every job writes its CSV to a memory file. Prints median
 * and p99 wall time per job, the ratios, and jobs/s with 2 concurrent
 * workers for the one-shot sandbox, the pool (refill thread) and the pool
 * refilled inline by the workers, and whether the goals (<= 5 ms median
 * overhead, >= 200 jobs/s) are met.
 */
#include "fmi/fmu.h"
#include "fmi/run.h"
#include "fmi/sim_args.h"
#include "sandbox/sandbox.h"
#include "util/error.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

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

typedef struct {
    double median, p99;
} stats;

static stats summarize(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    stats s = { v[n / 2], v[(int)(n * 0.99) < n ? (int)(n * 0.99) : n - 1] };
    return s;
}

typedef struct {
    const char *runner;
    fmi_fmu *fmu;
    char **argv;
    fmi_sim_args *a;
    sandbox_pool *pool; /* NULL: one-shot sandbox_run */
} bench_ctx;

static int run_one(const bench_ctx *b, bool isolate, int fd)
{
    sandbox_job job = { 0 };
    sandbox_limits lim = SANDBOX_LIMITS_INIT;
    sandbox_report rep;
    if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0)
        return -1;
    job.runner = b->runner;
    job.fmu_dir = b->fmu->dir;
    job.args = b->argv;
    job.limits = lim;
    job.isolate = isolate;
    job.result_fd = fd;
    job.result_form = SANDBOX_RESULT_CSV;
    int rc = b->pool ? sandbox_pool_run(b->pool, &job, &rep) : sandbox_run(&job, &rep);
    if (rc || rep.outcome != SANDBOX_FINISHED) {
        fprintf(stderr, "bench_sandbox: job failed: %s: %s\n", sandbox_outcome_name(rep.outcome), rep.message);
        return -1;
    }
    return 0;
}

typedef struct {
    const bench_ctx *b;
    int jobs;
    int failed;
    pthread_barrier_t *done; /* no worker ends before all have run their jobs */
} worker_arg;

static void *worker(void *p)
{
    worker_arg *w = p;
    int fd = memfd_create("results", MFD_CLOEXEC);
    for (int i = 0; i < w->jobs && fd >= 0; i++)
        if (run_one(w->b, true, fd))
            w->failed++;
    if (fd >= 0)
        close(fd);
    /* With inline refill, the sandboxes this thread refilled die with it
     * (their parent-death signal is the thread's): it must not end while
     * the other worker may still run a job in one of them. */
    pthread_barrier_wait(w->done);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_sandbox RUNNER FMU_DIR [jobs]\n");
        return 2;
    }
    int jobs = argc > 3 ? atoi(argv[3]) : 1000;
    char fmu_path[4096];
    snprintf(fmu_path, sizeof fmu_path, "%s/2.0/BouncingBall.fmu", argv[2]);
    char *cmd[] = { "sim", fmu_path, "--stop-time", "1", NULL };
    fmi_sim_args a;
    bench_ctx b = { argv[1], NULL, NULL, &a, NULL };
    if (fmi_sim_args_parse(&a, 4, cmd) || fmi_fmu_open(&b.fmu, fmu_path) ||
        fmi_sim_args_to_argv(&b.argv, &a, "/job/fmu", NULL)) {
        fprintf(stderr, "bench_sandbox: %s\n", fmugw_error_last());
        return 1;
    }
    sandbox_pool_opts po = SANDBOX_POOL_OPTS_INIT;
    po.runner = argv[1];
    sandbox_pool *pool = NULL;
    if (sandbox_pool_new(&pool, 2, &po)) {
        fprintf(stderr, "bench_sandbox: pool: %s\n", fmugw_error_last());
        return 1;
    }
    bench_ctx bp = b;
    bp.pool = pool;
    double *t[4];
    for (int m = 0; m < 4; m++)
        t[m] = malloc((size_t)jobs * sizeof(double));
    int fd = memfd_create("results", MFD_CLOEXEC);
    FILE *f = tmpfile();

    /* Interleaved, so a slow patch of the machine hits all four alike. */
    for (int i = 0; i < jobs; i++) {
        double t0 = now_ms();
        if (run_one(&b, true, fd))
            return 1;
        double t1 = now_ms();
        if (run_one(&bp, true, fd))
            return 1;
        double t2 = now_ms();
        if (run_one(&b, false, fd))
            return 1;
        double t3 = now_ms();
        fmi_run_result res;
        rewind(f);
        if (fmi_run(&a, b.fmu, f, NULL, NULL, NULL, &res) || fflush(f)) {
            fprintf(stderr, "bench_sandbox: in-process: %s\n", fmugw_error_last());
            return 1;
        }
        double t4 = now_ms();
        t[0][i] = t1 - t0;
        t[1][i] = t2 - t1;
        t[2][i] = t3 - t2;
        t[3][i] = t4 - t3;
    }
    stats sb = summarize(t[0], jobs), po_ = summarize(t[1], jobs), pl = summarize(t[2], jobs),
          ip = summarize(t[3], jobs);
    printf("%d tiny jobs (BouncingBall FMI 2, 0..1 s, 101 rows CSV) per mode\n", jobs);
    printf("  %-28s median %7.3f ms   p99 %7.3f ms\n", "sandbox (namespaces+seccomp)", sb.median, sb.p99);
    printf("  %-28s median %7.3f ms   p99 %7.3f ms\n", "sandbox pool (2, refilled)", po_.median, po_.p99);
    printf("  %-28s median %7.3f ms   p99 %7.3f ms\n", "plain fork+exec of runner", pl.median, pl.p99);
    printf("  %-28s median %7.3f ms   p99 %7.3f ms\n", "in-process fmi_run", ip.median, ip.p99);
    printf("  sandbox vs plain:      x%.2f  (+%.3f ms median)\n", sb.median / pl.median, sb.median - pl.median);
    printf("  sandbox vs in-process: x%.2f  (+%.3f ms median overhead per job)\n", sb.median / ip.median,
           sb.median - ip.median);
    printf("  pool vs plain:         x%.2f  (%+.3f ms median)\n", po_.median / pl.median, po_.median - pl.median);
    printf("  pool vs in-process:    x%.2f  (+%.3f ms median overhead per job, p99 +%.3f ms)\n",
           po_.median / ip.median, po_.median - ip.median, po_.p99 - ip.p99);

    double rate[3];
    const char *names[3] = { "one-shot sandbox", "pool, refill thread", "pool, inline refill" };
    for (int mode = 0; mode < 3; mode++) {
        bench_ctx bw = b;
        sandbox_pool *p2 = NULL;
        if (mode == 1) {
            bw.pool = pool;
        } else if (mode == 2) {
            po.refill_inline = true;
            if (sandbox_pool_new(&p2, 2, &po)) {
                fprintf(stderr, "bench_sandbox: pool: %s\n", fmugw_error_last());
                return 1;
            }
            bw.pool = p2;
        }
        pthread_barrier_t done;
        pthread_barrier_init(&done, NULL, 2);
        worker_arg w[2] = { { &bw, jobs / 2, 0, &done }, { &bw, jobs - jobs / 2, 0, &done } };
        pthread_t th[2];
        double t0 = now_ms();
        for (int i = 0; i < 2; i++)
            pthread_create(&th[i], NULL, worker, &w[i]);
        for (int i = 0; i < 2; i++)
            pthread_join(th[i], NULL);
        double el = now_ms() - t0;
        pthread_barrier_destroy(&done);
        sandbox_pool_free(p2);
        if (w[0].failed || w[1].failed)
            return 1;
        rate[mode] = jobs / (el / 1e3);
        printf("  2 concurrent workers, %-20s %d sandboxed jobs in %.0f ms = %.0f jobs/s\n", names[mode], jobs, el,
               rate[mode]);
    }
    printf("  goal <= 5 ms median overhead: one-shot %s (+%.3f ms), pool %s (+%.3f ms)\n",
           sb.median - ip.median <= 5 ? "met" : "NOT met", sb.median - ip.median,
           po_.median - ip.median <= 5 ? "met" : "NOT met", po_.median - ip.median);
    printf("  goal >= 200 jobs/s (2 workers): one-shot %s (%.0f), pool %s (%.0f)\n", rate[0] >= 200 ? "met" : "NOT met",
           rate[0], rate[1] >= 200 ? "met" : "NOT met", rate[1]);

    sandbox_pool_free(pool);
    fclose(f);
    close(fd);
    for (int m = 0; m < 4; m++)
        free(t[m]);
    fmi_sim_args_free_argv(b.argv);
    fmi_fmu_close(b.fmu);
    fmi_sim_args_free(&a);
    return 0;
}
