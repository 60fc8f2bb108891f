/*
 * test_sandbox.c - sandbox_run() (src/sandbox): a BouncingBall job gives
 * the same bytes in the sandbox, in a plain child and in-process; metering
 * is filled in; each outcome class is reached (limits, a bad request, the
 * hostile FMUs when built); and what a process inside sees: only lo, only
 * its own processes, an empty environment, none of the host's files. For
 * that last part this executable is its own probe: started as the "runner"
 * with argv[0] "sandbox-probe" (on its job channel), it reports what it
 * sees on fd 3.
 * The pool (sandbox_pool_*): same bytes as sandbox_run, the outcomes
 * through it, no job sees another's files, free leaves no process.
 *
 * The sandbox sources are compiled in (the test links fmugw_fmi only).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fmi/fmu.h"
#include "fmi/run.h"
#include "fmi/sim_args.h"
#include "sandbox/init.c"
#include "sandbox/pool.c"
#include "sandbox/sandbox.c"
#include "util/error.h"
#include "util/fsutil.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define BB2 FMUGW_FMU_DIR "/2.0/BouncingBall.fmu"
#define RUNNER FMUGW_FMU_DIR "/../src/fmugw-runner"

/* --- probe mode ----------------------------------------------------------- */
static int probe_main(void)
{
    /* as the runner does: say on the status channel that the "FMU" comes
     * now, then write a whole CSV document (a header, then one record per
     * line) and a status line with its row count */
    if (write(SANDBOX_RUNNER_FD_STATUS, "L\n", 2) != 2)
        return 2;
    close(SANDBOX_RUNNER_FD_STATUS);
    char *text = NULL;
    size_t text_len = 0;
    FILE *out = open_memstream(&text, &text_len);
    char line[512];
    if (!out)
        return 2;
    FILE *f = fopen("/proc/net/dev", "r");
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (colon) {
            *colon = 0;
            fprintf(out, "netdev %s\n", line + strspn(line, " "));
        }
    }
    if (f)
        fclose(f);
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9')
            fprintf(out, "pid %s\n", e->d_name);
    if (d)
        closedir(d);
    extern char **environ;
    for (char **p = environ; *p; p++)
        fprintf(out, "env %s\n", *p);
    /* what the process can learn of the host from /proc/self */
    static const char *const views[] = { "/proc/self/mountinfo", "/proc/self/mounts", "/proc/self/cgroup",
                                         "/proc/1/mountinfo", "/proc/1/cgroup" };
    for (size_t i = 0; i < sizeof views / sizeof views[0]; i++) {
        FILE *v = fopen(views[i], "r");
        while (v && fgets(line, sizeof line, v)) {
            line[strcspn(line, "\n")] = 0;
            fprintf(out, "view %s %s\n", views[i], line);
        }
        if (v)
            fclose(v);
    }
    fprintf(out, "uid %d\n", (int)getuid());
    fprintf(out, "home %s\n", access("/home", F_OK) == 0 || access("/work", F_OK) == 0 ? "visible" : "hidden");
    fprintf(out, "fmu %s\n", access("/job/fmu/modelDescription.xml", R_OK) == 0 ? "readable" : "missing");
    fprintf(out, "fmu-write %s\n", access("/job/fmu", W_OK) == 0 ? "yes" : "no");
    fprintf(out, "scratch-write %s\n", access("/job/scratch", W_OK) == 0 ? "yes" : "no");
    fprintf(out, "usr-write %s\n", access("/usr/lib", W_OK) == 0 ? "yes" : "no");
    /* capabilities (none in any set, the ambient one included) and no_new_privs */
    if ((f = fopen("/proc/self/status", "r"))) {
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "Cap", 3) || !strncmp(line, "NoNewPrivs:", 11))
                fprintf(out, "status %s", line);
        fclose(f);
    }
    fclose(out);
    size_t rows = 0;
    for (size_t i = 0; i < text_len; i++)
        rows += text[i] == '\n';
    FILE *res = fdopen(3, "w");
    if (!res)
        return 2;
    fprintf(res, "\"time\"\n%s", text);
    fclose(res);
    free(text);
    char st[64];
    int n = snprintf(st, sizeof st, "@status ok %zu \n", rows);
    ssize_t w = write(4, st, (size_t)n);
    (void)w;
    return 0;
}

/* --- helpers -------------------------------------------------------------- */
typedef struct {
    fmi_fmu *fmu;
    char *scratch;
    char **argv;
    fmi_sim_args a;
    char *cmd[32];
    char *owned[32]; /* cmd[] is permuted by getopt: free these */
    int result_fd;
    int n_log;
} job_fixture;

static void count_log(void *ctx, const char *line)
{
    (void)line;
    ((job_fixture *)ctx)->n_log++;
}

/* Parses a `fmugw sim` command line (NULL-terminated, FMU first) into a job. */
static void fixture_init(job_fixture *fx, sandbox_job *job, const char *fmu, ...)
{
    va_list ap;
    int n = 0;
    memset(fx, 0, sizeof *fx);
    fx->cmd[n++] = "sim";
    fx->cmd[n++] = (char *)fmu;
    va_start(ap, fmu);
    for (const char *s; (s = va_arg(ap, const char *)) && n < 31;)
        fx->owned[n] = fx->cmd[n] = strdup(s), n++; /* the parser writes into its argv */
    va_end(ap);
    assert_int_equal(fmi_sim_args_parse(&fx->a, n, fx->cmd), 0);
    assert_int_equal(fmi_fmu_open(&fx->fmu, fmu), 0);
    assert_int_equal(fmugw_mkdtemp(&fx->scratch, "fmugw-test-scratch-"), 0);
    assert_int_equal(fmi_sim_args_to_argv(&fx->argv, &fx->a, "/job/fmu", NULL), 0);
    fx->result_fd = memfd_create("results", MFD_CLOEXEC);
    assert_true(fx->result_fd >= 0);
    sandbox_limits lim = SANDBOX_LIMITS_INIT;
    memset(job, 0, sizeof *job);
    job->runner = RUNNER;
    job->fmu_dir = fx->fmu->dir;
    job->scratch_dir = fx->scratch;
    job->args = fx->argv;
    job->limits = lim;
    job->isolate = true;
    job->result_fd = fx->result_fd;
    job->result_form = SANDBOX_RESULT_CSV; /* the runner's, checked as the daemon does */
    job->on_log = count_log;
    job->log_ctx = fx;
}

static void fixture_free(job_fixture *fx)
{
    fmugw_rmtree(fx->scratch);
    free(fx->scratch);
    fmi_sim_args_free_argv(fx->argv);
    fmi_fmu_close(fx->fmu);
    fmi_sim_args_free(&fx->a);
    close(fx->result_fd);
    for (int i = 0; i < 32; i++)
        free(fx->owned[i]);
}

/* The whole content of fd (from offset 0), malloc'd and NUL-terminated. */
static char *slurp(int fd, size_t *len)
{
    off_t n = lseek(fd, 0, SEEK_END);
    assert_true(n >= 0);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(pread(fd, buf, (size_t)n, 0), n);
    buf[n] = 0;
    *len = (size_t)n;
    return buf;
}

static sandbox_report run_job(const sandbox_job *job, int expect_rc)
{
    sandbox_report rep;
    int rc = sandbox_run(job, &rep);
    if (expect_rc == 0 && rc != 0)
        fail_msg("sandbox_run: %s", fmugw_error_last());
    if (expect_rc != 0)
        assert_int_not_equal(rc, 0);
    return rep;
}

/* --- tests ---------------------------------------------------------------- */
static void test_same_bytes_three_ways(void **state)
{
    (void)state;
    job_fixture fx;
    sandbox_job job;
    size_t n_sb, n_plain, n_inproc;
    fixture_init(&fx, &job, BB2, "--stop-time", "1", NULL);

    sandbox_report rep = run_job(&job, 0);
    assert_int_equal(rep.outcome, SANDBOX_FINISHED);
    char *sb = slurp(fx.result_fd, &n_sb);

    assert_int_equal(ftruncate(fx.result_fd, 0), 0);
    assert_int_equal(lseek(fx.result_fd, 0, SEEK_SET), 0);
    job.isolate = false;
    rep = run_job(&job, 0);
    assert_int_equal(rep.outcome, SANDBOX_FINISHED);
    char *plain = slurp(fx.result_fd, &n_plain);

    FILE *f = tmpfile();
    fmi_run_result res = { 0 };
    assert_int_equal(fmi_run(&fx.a, fx.fmu, f, NULL, NULL, NULL, &res), 0);
    fflush(f);
    char *inproc = slurp(fileno(f), &n_inproc);
    fclose(f);

    assert_true(n_sb > 100);
    assert_int_equal(n_sb, n_inproc);
    assert_int_equal(n_plain, n_inproc);
    assert_memory_equal(sb, inproc, n_sb);
    assert_memory_equal(plain, inproc, n_sb);
    assert_int_equal(rep.rows, res.rows);
    free(sb);
    free(plain);
    free(inproc);
    fixture_free(&fx);
}

static void test_metering(void **state)
{
    (void)state;
    job_fixture fx;
    sandbox_job job;
    size_t n;
    fixture_init(&fx, &job, BB2, "--stop-time", "1", "--debug-logging", NULL);
    sandbox_report rep = run_job(&job, 0);
    assert_int_equal(rep.outcome, SANDBOX_FINISHED);
    assert_string_equal(sandbox_outcome_name(rep.outcome), "finished");
    char *buf = slurp(fx.result_fd, &n);
    assert_int_equal(rep.output_bytes, n);
    assert_int_equal(rep.rows, 101); /* 0..1 s every 0.01 s */
    assert_true(rep.log_bytes > 0);  /* the status line at least */
    assert_true(rep.wall_ms < 10000);
    assert_true(rep.cpu_user_ms + rep.cpu_system_ms <= rep.wall_ms + 20);
    assert_true(rep.peak_rss_kb > 500 && rep.peak_rss_kb < 2 * 1024 * 1024);
    assert_int_equal(rep.exit_code, 0);
    assert_int_equal(rep.signal, 0);
    free(buf);
    fixture_free(&fx);
}

static void test_fmu_error(void **state)
{
    (void)state;
    job_fixture fx;
    sandbox_job job;
    fixture_init(&fx, &job, BB2, "--start-value", "no_such_variable=1", NULL);
    sandbox_report rep = run_job(&job, 0);
    assert_int_equal(rep.outcome, SANDBOX_FMU_ERROR);
    assert_int_equal(rep.exit_code, 1);
    assert_non_null(strstr(rep.message, "no_such_variable"));
    fixture_free(&fx);
}

/* One argument of 300 KB (over execve's 128 KiB per argument): the
 * runner gets its argv on the job channel, not through execve, so the job
 * runs instead of failing to start. */
static void test_large_args(void **state)
{
    (void)state;
    size_t n = 300000;
    char *big = malloc(n + 8);
    assert_non_null(big);
    memcpy(big, "h=1.", 4);
    memset(big + 4, '0', n);
    big[n + 4] = 0;
    job_fixture fx;
    sandbox_job job;
    fixture_init(&fx, &job, BB2, "--stop-time", "0.1", "--start-value", big, NULL);
    free(big);
    sandbox_report rep = run_job(&job, 0);
    if (rep.outcome != SANDBOX_FINISHED)
        fail_msg("outcome %s: %s", sandbox_outcome_name(rep.outcome), rep.message);
    fixture_free(&fx);
}

static void test_output_limit(void **state)
{
    (void)state;
    job_fixture fx;
    sandbox_job job;
    fixture_init(&fx, &job, BB2, "--stop-time", "1", NULL);
    job.limits.output_limit = 200;
    sandbox_report rep = run_job(&job, 0);
    assert_int_equal(rep.outcome, SANDBOX_OUTPUT_LIMIT);
    assert_true(rep.output_bytes + rep.log_bytes > 200);
    assert_non_null(strstr(rep.message, "output limit"));
    fixture_free(&fx);
}

static void test_timeout(void **state)
{
    (void)state;
    job_fixture fx;
    sandbox_job job;
    fixture_init(&fx, &job, BB2, "--stop-time", "1e9", "--step-size", "1e-3", "--output-interval", "1e6", NULL);
    job.limits.timeout_s = 1;
    sandbox_report rep = run_job(&job, 0);
    assert_int_equal(rep.outcome, SANDBOX_TIMEOUT);
    assert_true(rep.wall_ms >= 1000);
    /* the runner spun until it was killed: its CPU is metered (pid 1 reaps
     * the namespace's processes as it dies, so wait4 sees them); a few ms
     * would be pid 1 alone */
    if (rep.cpu_user_ms + rep.cpu_system_ms < 50)
        fail_msg("a killed job's CPU was not metered: %llu ms", (unsigned long long)(rep.cpu_user_ms + rep.cpu_system_ms));
    fixture_free(&fx);
}

static void *set_cancel_later(void *p)
{
    usleep(300000);
    __atomic_store_n((int *)p, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Another thread sets job->cancel: the job is killed (long before its
 * deadline) and reported canceled. */
static void test_cancel(void **state)
{
    (void)state;
    job_fixture fx;
    sandbox_job job;
    fixture_init(&fx, &job, BB2, "--stop-time", "1e9", "--step-size", "1e-3", "--output-interval", "1e6", NULL);
    job.limits.timeout_s = 60;
    int cancel = 0;
    job.cancel = &cancel;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, set_cancel_later, &cancel), 0);
    sandbox_report rep = run_job(&job, 0);
    pthread_join(th, NULL);
    assert_int_equal(rep.outcome, SANDBOX_CANCELED);
    assert_string_equal(sandbox_outcome_name(rep.outcome), "canceled");
    assert_true(rep.wall_ms < 60000); /* not its deadline */
    fixture_free(&fx);
}

static void test_cpu_limit(void **state)
{
    (void)state;
    job_fixture fx;
    sandbox_job job;
    fixture_init(&fx, &job, BB2, "--stop-time", "1e9", "--step-size", "1e-3", "--output-interval", "1e6", NULL);
    job.limits.cpu_limit_s = 1;
    job.limits.timeout_s = 20;
    sandbox_report rep = run_job(&job, 0);
    assert_int_equal(rep.outcome, SANDBOX_CPU_LIMIT);
    assert_true(rep.signal == SIGXCPU || rep.signal == SIGKILL);
    /* Charged for its CPU (a killed job's CPU must reach the report). Not
     * 1000: on a loaded machine the kernel's accounting at the SIGXCPU
     * was seen as low as 830 ms. */
    if (rep.cpu_user_ms + rep.cpu_system_ms < 500)
        fail_msg("cpu_limit job metered only %llu ms CPU (user %llu, sys %llu, wall %llu)",
                 (unsigned long long)(rep.cpu_user_ms + rep.cpu_system_ms), (unsigned long long)rep.cpu_user_ms,
                 (unsigned long long)rep.cpu_system_ms, (unsigned long long)rep.wall_ms);
    fixture_free(&fx);
}

static void test_memory_limit(void **state)
{
    (void)state;
#ifdef SANDBOX_ASAN
    skip(); /* no RLIMIT_AS under ASan (see docs/sandbox.md) */
#endif
    job_fixture fx;
    sandbox_job job;
    /* Below what the runner needs to map itself or its libraries (ICU's
     * 30 MB data, linked in or loaded): the runner child's check before
     * execve (static runner) or the loader's mmap (dynamic) fails. */
    fixture_init(&fx, &job, BB2, "--stop-time", "1", NULL);
    job.limits.memory_limit = 24u << 20;
    sandbox_report rep = run_job(&job, 0);
    if (rep.outcome != SANDBOX_MEMORY_LIMIT)
        fail_msg("outcome %s: %s", sandbox_outcome_name(rep.outcome), rep.message);
    fixture_free(&fx);
}

/* A hostile FMU (fmus/hostile), when the build has them. */
static void run_hostile(const char *name, sandbox_outcome expect, int sig)
{
    char path[512];
    snprintf(path, sizeof path, FMUGW_FMU_DIR "/hostile/%s.fmu", name);
    if (access(path, R_OK) != 0)
        skip();
    job_fixture fx;
    sandbox_job job;
    fixture_init(&fx, &job, path, "--stop-time", "0.1", NULL);
    job.limits.timeout_s = 10;
    sandbox_report rep = run_job(&job, 0);
    if (rep.outcome != expect)
        fail_msg("%s: outcome %s: %s", name, sandbox_outcome_name(rep.outcome), rep.message);
    assert_int_equal(rep.signal, sig);
    fixture_free(&fx);
}

static void test_crashed(void **state)
{
    (void)state;
    run_hostile("Segfault", SANDBOX_CRASHED, SIGSEGV);
}

static void test_forbidden_syscall(void **state)
{
    (void)state;
    run_hostile("ForkBomb", SANDBOX_FORBIDDEN_SYSCALL, SIGSYS);
}

static void test_bad_runner(void **state)
{
    (void)state;
    job_fixture fx;
    sandbox_job job;
    fixture_init(&fx, &job, BB2, NULL);
    job.runner = "/nonexistent/fmugw-runner";
    sandbox_report rep = run_job(&job, -1);
    assert_int_equal(rep.outcome, SANDBOX_PLATFORM_ERROR);
    assert_non_null(strstr(rep.message, "/nonexistent/fmugw-runner"));
    fixture_free(&fx);
}

/* What the inside looks like, through the probe. */
static void test_isolation_view(void **state)
{
    (void)state;
    job_fixture fx;
    sandbox_job job;
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(n > 0);
    self[n] = 0;
    fixture_init(&fx, &job, BB2, NULL);
    char *probe_args[] = { "sandbox-probe", NULL };
    job.scratch_dir = NULL; /* the job's scratch: the sandbox's own tmpfs, as for the daemon's jobs */
    job.runner = self; /* fmugw-init is not beside it: name the built one */
    setenv("FMUGW_INIT", FMUGW_FMU_DIR "/../src/fmugw-init", 1);
    job.args = probe_args;
    sandbox_report rep = run_job(&job, 0);
    if (rep.outcome != SANDBOX_FINISHED)
        fail_msg("probe: %s: %s", sandbox_outcome_name(rep.outcome), rep.message);
    size_t len;
    char *seen = slurp(fx.result_fd, &len);
    if (getenv("SANDBOX_TEST_SHOW"))
        fprintf(stderr, "%s", seen);
    assert_non_null(strstr(seen, "netdev lo\n"));
    assert_null(strstr(seen, "netdev eth"));
    int n_netdev = 0, n_env = 0, n_pid = 0;
    for (char *p = seen; (p = strstr(p, "\n")); p++) {
        n_netdev += !strncmp(p + 1, "netdev ", 7);
        n_env += !strncmp(p + 1, "env ", 4);
        n_pid += !strncmp(p + 1, "pid ", 4);
    }
    n_netdev += !strncmp(seen, "netdev ", 7);
    assert_int_equal(n_netdev, 1);          /* lo only */
    assert_int_equal(n_pid, 2);             /* init and the probe itself */
    assert_non_null(strstr(seen, "pid 1\n"));
    assert_int_equal(n_env, 3);             /* PATH, TMPDIR, HOME only */
    assert_non_null(strstr(seen, "env HOME=/job/scratch\n"));
    assert_null(strstr(seen, "FMUGW_FMU_DIR"));
    assert_non_null(strstr(seen, "uid 0\n")); /* root of its own user namespace */
    assert_non_null(strstr(seen, "home hidden\n"));
    assert_non_null(strstr(seen, "fmu readable\n"));
    assert_non_null(strstr(seen, "fmu-write no\n"));
    assert_non_null(strstr(seen, "scratch-write yes\n"));
    assert_non_null(strstr(seen, "usr-write no\n"));
    static const char *const caps[] = { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" };
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "status %s:\t0000000000000000\n", caps[i]);
        if (!strstr(seen, want))
            fail_msg("the runner has capabilities (%s): %s", caps[i], seen);
    }
    assert_non_null(strstr(seen, "status NoNewPrivs:\t1\n"));
    /* /proc/self/mountinfo and /proc/self/cgroup name nothing of the host:
     * not the FMU's directory, not the temporary or work directories, no
     * cgroup but the namespace's root */
    assert_non_null(strstr(seen, "view /proc/self/mountinfo "));
    assert_non_null(strstr(seen, "view /proc/self/cgroup "));
    const char *host[] = { fx.fmu->dir, "fmugw-", "/tmp/", "/work", "/home", FMUGW_FMU_DIR };
    for (char *p = seen; p && *p;) {
        char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (!strncmp(p, "view ", 5)) {
            char line[1024];
            snprintf(line, sizeof line, "%.*s", (int)len, p);
            for (size_t i = 0; i < sizeof host / sizeof host[0]; i++)
                if (strstr(line, host[i]))
                    fail_msg("the sandbox shows the host path %s: %s", host[i], line);
            if (strstr(line, "/cgroup ") && line[len - 1] != '/')
                fail_msg("the sandbox shows a host cgroup: %s", line);
        }
        p = nl ? nl + 1 : NULL;
    }
    unsetenv("FMUGW_INIT");
    free(seen);
    fixture_free(&fx);
}


/* --- the pool ------------------------------------------------------------- */
static sandbox_pool *new_pool(unsigned size, const char *work_dir)
{
    sandbox_pool_opts o = SANDBOX_POOL_OPTS_INIT;
    sandbox_pool *p = NULL;
    o.runner = RUNNER;
    o.work_dir = work_dir;
    if (sandbox_pool_new(&p, size, &o) != 0)
        fail_msg("sandbox_pool_new: %s", fmugw_error_last());
    return p;
}

static sandbox_report pool_job(sandbox_pool *p, const sandbox_job *job)
{
    sandbox_report rep;
    if (sandbox_pool_run(p, job, &rep) != 0)
        fail_msg("sandbox_pool_run: %s", fmugw_error_last());
    return rep;
}

/* Log lines of a job, joined. */
typedef struct {
    char text[65536];
    size_t len;
} log_text;

static void keep_log(void *ctx, const char *line)
{
    log_text *t = ctx;
    int n = snprintf(t->text + t->len, sizeof t->text - t->len, "%s\n", line);
    if (n > 0)
        t->len += (size_t)n < sizeof t->text - t->len ? (size_t)n : sizeof t->text - t->len - 1;
}

static void test_pool_same_bytes(void **state)
{
    (void)state;
    job_fixture fx;
    sandbox_job job;
    size_t n_one, n_pool;
    sandbox_pool *p = new_pool(2, NULL);
    fixture_init(&fx, &job, BB2, "--stop-time", "1", NULL);
    sandbox_report one = run_job(&job, 0);
    assert_int_equal(one.outcome, SANDBOX_FINISHED);
    char *a = slurp(fx.result_fd, &n_one);
    for (int i = 0; i < 3; i++) { /* more jobs than sandboxes: refilled */
        assert_int_equal(ftruncate(fx.result_fd, 0), 0);
        assert_int_equal(lseek(fx.result_fd, 0, SEEK_SET), 0);
        sandbox_report rep = pool_job(p, &job);
        assert_int_equal(rep.outcome, SANDBOX_FINISHED);
        assert_int_equal(rep.rows, one.rows);
        assert_int_equal(rep.output_bytes, one.output_bytes);
        assert_true(rep.peak_rss_kb > 500);
        char *b = slurp(fx.result_fd, &n_pool);
        assert_int_equal(n_pool, n_one);
        assert_memory_equal(a, b, n_one);
        free(b);
    }
    free(a);
    sandbox_pool_free(p);
    fixture_free(&fx);
}

static void test_pool_outcomes(void **state)
{
    (void)state;
    job_fixture fx;
    sandbox_job job;
    sandbox_pool *p = new_pool(2, NULL);

    fixture_init(&fx, &job, BB2, "--start-value", "no_such_variable=1", NULL);
    sandbox_report rep = pool_job(p, &job);
    assert_int_equal(rep.outcome, SANDBOX_FMU_ERROR);
    assert_int_equal(rep.exit_code, 1);
    assert_non_null(strstr(rep.message, "no_such_variable"));
    fixture_free(&fx);

    fixture_init(&fx, &job, BB2, "--stop-time", "1", NULL);
    job.limits.output_limit = 200;
    rep = pool_job(p, &job);
    assert_int_equal(rep.outcome, SANDBOX_OUTPUT_LIMIT);
    fixture_free(&fx);

    fixture_init(&fx, &job, BB2, "--stop-time", "1e9", "--step-size", "1e-3", "--output-interval", "1e6", NULL);
    job.limits.timeout_s = 0.3;
    rep = pool_job(p, &job);
    assert_int_equal(rep.outcome, SANDBOX_TIMEOUT);
    assert_true(rep.wall_ms >= 300 && rep.wall_ms < 3000);
    fixture_free(&fx);

    /* The CPU limit is the job's, set by the runner after it got the job
     * (the pooled runner started with the pool's 60 s ceiling). */
    fixture_init(&fx, &job, BB2, "--stop-time", "1e9", "--step-size", "1e-3", "--output-interval", "1e6", NULL);
    job.limits.cpu_limit_s = 1;
    job.limits.timeout_s = 20;
    rep = pool_job(p, &job);
    assert_int_equal(rep.outcome, SANDBOX_CPU_LIMIT);
    if (rep.cpu_user_ms + rep.cpu_system_ms < 500) /* see test_cpu_limit */
        fail_msg("pool cpu_limit job metered only %llu ms CPU", (unsigned long long)(rep.cpu_user_ms + rep.cpu_system_ms));
    fixture_free(&fx);

#ifndef SANDBOX_ASAN
    /* The memory limit too: the libraries are loaded, parsing fails. */
    fixture_init(&fx, &job, BB2, "--stop-time", "1", NULL);
    job.limits.memory_limit = 24u << 20;
    rep = pool_job(p, &job);
    if (rep.outcome != SANDBOX_MEMORY_LIMIT)
        fail_msg("memory: outcome %s: %s", sandbox_outcome_name(rep.outcome), rep.message);
    fixture_free(&fx);
#endif

    char path[512];
    snprintf(path, sizeof path, FMUGW_FMU_DIR "/hostile/ForkBomb.fmu");
    if (access(path, R_OK) == 0) {
        fixture_init(&fx, &job, path, "--stop-time", "0.1", NULL);
        job.limits.timeout_s = 10;
        rep = pool_job(p, &job);
        if (rep.outcome != SANDBOX_FORBIDDEN_SYSCALL)
            fail_msg("ForkBomb: outcome %s: %s", sandbox_outcome_name(rep.outcome), rep.message);
        assert_int_equal(rep.signal, SIGSYS);
        fixture_free(&fx);
    }

    /* Above the pool's ceiling: run one-shot, still with the job's limit. */
    fixture_init(&fx, &job, BB2, "--stop-time", "1", NULL);
    job.limits.cpu_limit_s = 120;
    rep = pool_job(p, &job);
    assert_int_equal(rep.outcome, SANDBOX_FINISHED);
    fixture_free(&fx);
    sandbox_pool_free(p);
}

typedef struct {
    sandbox_pool *pool;
    sandbox_job *job;
    sandbox_report rep;
    int rc;
} bg_job;

static void *bg_run(void *arg)
{
    bg_job *b = arg;
    b->rc = sandbox_pool_run(b->pool, b->job, &b->rep);
    return NULL;
}

/* The busy sandbox's directory in work_dir: the one with an FMU in it. */
static char *busy_dir(const char *work_dir)
{
    for (int tries = 0; tries < 500; tries++) {
        DIR *d = opendir(work_dir);
        struct dirent *e;
        char path[1024];
        while (d && (e = readdir(d))) {
            if (strncmp(e->d_name, "fmugw-pool-", 11))
                continue;
            snprintf(path, sizeof path, "%s/%s/fmu/modelDescription.xml", work_dir, e->d_name);
            if (access(path, F_OK) == 0) {
                snprintf(path, sizeof path, "%s/%s", work_dir, e->d_name);
                closedir(d);
                return strdup(path);
            }
        }
        if (d)
            closedir(d);
        usleep(10000);
    }
    return NULL;
}

static void test_pool_jobs_isolated(void **state)
{
    (void)state;
    char sleeper[512], reader[512];
    snprintf(sleeper, sizeof sleeper, FMUGW_FMU_DIR "/hostile/SleepForever.fmu");
    snprintf(reader, sizeof reader, FMUGW_FMU_DIR "/hostile/ReadOtherScratch.fmu");
    if (access(sleeper, R_OK) != 0 || access(reader, R_OK) != 0)
        skip();
    char *work = NULL;
    assert_int_equal(fmugw_mkdtemp(&work, "fmugw-test-pool-"), 0);
    sandbox_pool *p = new_pool(2, work);

    /* Job A sleeps in its sandbox; a secret is put in its scratch. */
    job_fixture fa, fb;
    sandbox_job ja, jb;
    fixture_init(&fa, &ja, sleeper, "--stop-time", "1", NULL);
    ja.limits.timeout_s = 4;
    bg_job bg = { p, &ja, { 0 }, 0 };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, bg_run, &bg), 0);
    char *a_dir = busy_dir(work);
    assert_non_null(a_dir);
    char secret[1100], target[1100];
    snprintf(secret, sizeof secret, "%s/scratch/secret.txt", a_dir);
    FILE *f = fopen(secret, "w");
    assert_non_null(f);
    fputs("job-A-secret-42\n", f);
    fclose(f);

    /* Job B reads A's scratch by its host path, then the pool's directory. */
    const char *targets[2] = { "%s/scratch", "%s/.." };
    for (int i = 0; i < 2; i++) {
        log_text *lt = calloc(1, sizeof *lt);
        char arg[1200];
        snprintf(target, sizeof target, targets[i], a_dir);
        snprintf(arg, sizeof arg, "target=%s", target);
        fixture_init(&fb, &jb, reader, "--stop-time", "0.1", "--start-value", arg, NULL);
        jb.on_log = keep_log;
        jb.log_ctx = lt;
        sandbox_report rep = pool_job(p, &jb);
        if (rep.outcome != SANDBOX_FMU_ERROR)
            fail_msg("%s: outcome %s: %s", target, sandbox_outcome_name(rep.outcome), rep.message);
        assert_null(strstr(lt->text, "job-A-secret-42"));
        assert_null(strstr(lt->text, "HOSTILE-LOOT"));
        free(lt);
        fixture_free(&fb);
    }

    /* Control: the same FMU does read what is in its own view. */
    log_text *lt = calloc(1, sizeof *lt);
    fixture_init(&fb, &jb, reader, "--stop-time", "0.1", "--start-value", "target=/job/fmu", NULL);
    jb.on_log = keep_log;
    jb.log_ctx = lt;
    sandbox_report rep = pool_job(p, &jb);
    assert_int_equal(rep.outcome, SANDBOX_FINISHED);
    assert_non_null(strstr(lt->text, "HOSTILE-LOOT"));
    assert_non_null(strstr(lt->text, "/job/fmu/modelDescription.xml"));
    free(lt);
    fixture_free(&fb);

    pthread_join(th, NULL);
    assert_int_equal(bg.rc, 0);
    assert_int_equal(bg.rep.outcome, SANDBOX_TIMEOUT);
    assert_int_equal(access(a_dir, F_OK), -1); /* A's directory went with A */
    free(a_dir);
    sandbox_pool_free(p);
    fixture_free(&fa);
    assert_int_equal(rmdir(work), 0); /* free removed every sandbox's directory */
    free(work);
}

/* The runner pids under init `pid` (its children). */
static int children_of(pid_t pid, pid_t *out, int max)
{
    char path[64], buf[256];
    int n = 0;
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    if (fgets(buf, sizeof buf, f))
        for (char *q = buf, *end; n < max; q = end) {
            long v = strtol(q, &end, 10);
            if (end == q)
                break;
            out[n++] = (pid_t)v;
        }
    fclose(f);
    return n;
}

static void test_pool_free_kills(void **state)
{
    (void)state;
    pid_t pids[16];
    int n = 0;
    sandbox_pool *p = new_pool(3, NULL);
    pthread_mutex_lock(&p->mu);
    for (pool_slot *s = p->head; s; s = s->next) {
        assert_true(s->ready); /* sandbox_pool_new waited for them */
        pids[n++] = s->pid;
        n += children_of(s->pid, pids + n, 2);
    }
    pthread_mutex_unlock(&p->mu);
    assert_int_equal(n, 6); /* 3 inits, each with its waiting runner */
    for (int i = 0; i < n; i++)
        assert_int_equal(kill(pids[i], 0), 0);
    sandbox_pool_free(p);
    for (int i = 0; i < n; i++) {
        errno = 0;
        assert_int_equal(kill(pids[i], 0), -1);
        assert_int_equal(errno, ESRCH);
    }
}

static void test_pool_bad_runner(void **state)
{
    (void)state;
    sandbox_pool_opts o = SANDBOX_POOL_OPTS_INIT;
    sandbox_pool *p = (sandbox_pool *)&o;
    o.runner = "/nonexistent/fmugw-runner";
    assert_int_not_equal(sandbox_pool_new(&p, 2, &o), 0);
    assert_null(p);
    assert_non_null(strstr(fmugw_error_last(), "/nonexistent/fmugw-runner"));
    /* A runner that is not one: it never says "@ready". */
    o.runner = "/bin/true";
    setenv("FMUGW_INIT", FMUGW_FMU_DIR "/../src/fmugw-init", 1); /* not in /bin */
    assert_int_not_equal(sandbox_pool_new(&p, 1, &o), 0);
    unsetenv("FMUGW_INIT");
    assert_null(p);
    assert_null(strstr(fmugw_error_last(), "fmugw-init"));
}

/* A runner without fmugw-init beside it: a platform error that names the
 * missing program, one-shot (isolated and plain) and pooled; nothing left. */
static void test_missing_init(void **state)
{
    (void)state;
    char dir[] = "/tmp/fmugw-noinit-XXXXXX", runner[64], real[4096];
    assert_non_null(mkdtemp(dir));
    assert_non_null(realpath(RUNNER, real));
    snprintf(runner, sizeof runner, "%s/fmugw-runner", dir);
    assert_int_equal(symlink(real, runner), 0);
    job_fixture fx;
    sandbox_job job;
    fixture_init(&fx, &job, BB2, NULL);
    job.runner = runner;
    for (int isolate = 0; isolate < 2; isolate++) {
        job.isolate = isolate;
        sandbox_report rep = run_job(&job, -1);
        assert_int_equal(rep.outcome, SANDBOX_PLATFORM_ERROR);
        if (!strstr(rep.message, "fmugw-init") || !strstr(rep.message, "No such file"))
            fail_msg("message: %s", rep.message);
    }
    sandbox_pool_opts o = SANDBOX_POOL_OPTS_INIT;
    sandbox_pool *p = NULL;
    o.runner = runner;
    assert_int_not_equal(sandbox_pool_new(&p, 1, &o), 0);
    assert_null(p);
    assert_non_null(strstr(fmugw_error_last(), "fmugw-init"));
    int st;
    assert_int_equal(waitpid(-1, &st, WNOHANG), -1); /* every child reaped */
    assert_int_equal(errno, ECHILD);
    fixture_free(&fx);
    unlink(runner);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    /* started by sandbox_run() as a runner: the job's argv comes on fd 5 */
    if (argc == 2 && !strcmp(argv[1], "--job-fd") && sandbox__pool_receive(SANDBOX_RUNNER_FD_JOB, false, &argc, &argv) != 0)
        return 2;
    if (!strcmp(argv[0], "sandbox-probe"))
        _exit(probe_main()); /* no LeakSanitizer pass at exit: the probe reports on fd 3 only */
    setenv("FMUGW_TEST_SECRET", "should-not-be-seen", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_bytes_three_ways),
        cmocka_unit_test(test_metering),
        cmocka_unit_test(test_fmu_error),
        cmocka_unit_test(test_large_args),
        cmocka_unit_test(test_output_limit),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_cpu_limit),
        cmocka_unit_test(test_memory_limit),
        cmocka_unit_test(test_crashed),
        cmocka_unit_test(test_forbidden_syscall),
        cmocka_unit_test(test_bad_runner),
        cmocka_unit_test(test_isolation_view),
        cmocka_unit_test(test_missing_init),
        cmocka_unit_test(test_pool_same_bytes),
        cmocka_unit_test(test_pool_outcomes),
        cmocka_unit_test(test_pool_jobs_isolated),
        cmocka_unit_test(test_pool_free_kills),
        cmocka_unit_test(test_pool_bad_runner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
