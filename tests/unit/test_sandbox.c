/*
 * test_sandbox.c - sandbox_run() (src/sandbox): a BouncingBall job gives
 * the same bytes in the sandbox, in a plain child and in-process; metering
 * is filled in; each outcome class is reached (limits, a bad request, the
 * hostile FMUs when built); and what a process inside sees: only lo, only
 * its own processes, an empty environment, none of the host's files. For
 * that last part this executable is its own probe: started as the "runner"
 * with argv[0] "sandbox-probe", it reports what it sees on fd 3.
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
#include "sandbox/sandbox.c"
#include "util/error.h"
#include "util/fsutil.h"

#include <dirent.h>
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
    FILE *out = fdopen(3, "w");
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
    fprintf(out, "uid %d\n", (int)getuid());
    fprintf(out, "home %s\n", access("/home", F_OK) == 0 || access("/work", F_OK) == 0 ? "visible" : "hidden");
    fprintf(out, "fmu %s\n", access("/job/fmu/modelDescription.xml", R_OK) == 0 ? "readable" : "missing");
    fprintf(out, "fmu-write %s\n", access("/job/fmu", W_OK) == 0 ? "yes" : "no");
    fprintf(out, "scratch-write %s\n", access("/job/scratch", W_OK) == 0 ? "yes" : "no");
    fprintf(out, "usr-write %s\n", access("/usr/lib", W_OK) == 0 ? "yes" : "no");
    fclose(out);
    static const char st[] = "@status ok 0 \n";
    ssize_t w = write(4, st, sizeof st - 1);
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
    job.limits.timeout_s = 0.3;
    sandbox_report rep = run_job(&job, 0);
    assert_int_equal(rep.outcome, SANDBOX_TIMEOUT);
    assert_true(rep.wall_ms >= 300 && rep.wall_ms < 3000);
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
    assert_true(rep.cpu_user_ms + rep.cpu_system_ms >= 900);
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
    /* Below what the runner needs to map its libraries (libxml2 pulls in
     * ICU's 30 MB data): the loader's mmap fails. */
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
    job.runner = self;
    job.args = probe_args;
    sandbox_report rep = run_job(&job, 0);
    if (rep.outcome != SANDBOX_FINISHED)
        fail_msg("probe: %s: %s", sandbox_outcome_name(rep.outcome), rep.message);
    size_t len;
    char *seen = slurp(fx.result_fd, &len);
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
    free(seen);
    fixture_free(&fx);
}

int main(int argc, char **argv)
{
    (void)argc;
    if (!strcmp(argv[0], "sandbox-probe"))
        return probe_main();
    setenv("FMUGW_TEST_SECRET", "should-not-be-seen", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_bytes_three_ways),
        cmocka_unit_test(test_metering),
        cmocka_unit_test(test_fmu_error),
        cmocka_unit_test(test_output_limit),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_cpu_limit),
        cmocka_unit_test(test_memory_limit),
        cmocka_unit_test(test_crashed),
        cmocka_unit_test(test_forbidden_syscall),
        cmocka_unit_test(test_bad_runner),
        cmocka_unit_test(test_isolation_view),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
