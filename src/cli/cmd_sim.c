/* cmd_sim.c - `fmugw sim`: simulate an FMU locally and write its results.
 * The FMU runs in the sandbox (src/sandbox) unless --no-sandbox is given. */
#include "cli.h"

#include "fmi/fmu.h"
#include "fmi/run.h"
#include "fmi/sim_args.h"
#include "fmi/sim_plan.h"
#include "sandbox/sandbox.h"
#include "util/error.h"
#include "util/fsutil.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *status_name(fmi_status s)
{
    static const char *const names[] = { "OK", "Warning", "Discard", "Error", "Fatal", "Pending" };
    return (unsigned)s < 6 ? names[s] : "?";
}

static void on_log(void *ctx, fmi_status status, const char *category, const char *message)
{
    const fmi_sim_args *a = ctx;
    if (status == FMI_STATUS_OK && !a->debug_logging)
        return;
    fprintf(stderr, "[%s] %s: %s\n", status_name(status), category ? category : "", message);
}

static void on_call(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "%s\n", line);
}

static mode_t current_umask(void)
{
    mode_t m = umask(0);
    umask(m);
    return m;
}

/* Opens the output. A regular file (or a new one) is written as a temporary
 * file beside `path` and renamed over it on success, so a failed run leaves
 * nothing behind. Anything else that exists (/dev/null, a FIFO, a terminal)
 * is opened and written in place: renaming over it would replace it. */
static FILE *open_partial(const char *path, char **tmp_out)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return fopen(path, "w");
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp)
        return NULL;
    snprintf(tmp, n, "%s.partXXXXXX", path);
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        errno = e;
        return NULL;
    }
    fchmod(fd, 0666 & ~current_umask());
    *tmp_out = tmp;
    return f;
}

/* Runs the FMU inside this process (--no-sandbox). */
static int run_in_process(const fmi_sim_args *a, FILE *f, fmi_run_result *res)
{
    fmi_fmu *fmu;
    if (fmi_fmu_open(&fmu, a->fmu))
        return -1;
    int rc = fmi_run(a, fmu, f, on_log, on_call, (void *)a, res);
    fmi_fmu_close(fmu);
    return rc;
}

static void on_sandbox_log(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "%s\n", line);
}

/* Runs the FMU in the sandbox (src/sandbox): extracted here, simulated by
 * fmugw-runner in its own namespaces. Returns 0 when the job finished;
 * otherwise the message is in fmugw_error_last(). */
static int run_in_sandbox(const fmi_sim_args *a, FILE *f, sandbox_report *rep)
{
    int rc;
    fmi_fmu *fmu = NULL;
    char *runner = NULL, **argv = NULL;
    sandbox_job job = { 0 };
    sandbox_limits lim = SANDBOX_LIMITS_INIT;

    if ((rc = fmi_fmu_open(&fmu, a->fmu)))
        goto out;
    /* what the runner will refuse, refused here with the same rules */
    fmi_sim_options so = a->sim;
    fmi_sim_plan plan;
    if (!a->iface_given && !fmu->model->interfaces[FMI_CS].present)
        so.iface = FMI_ME;
    if ((rc = fmi_sim_plan_resolve(&plan, &fmu->model->default_experiment, &so)))
        goto out;
    if ((rc = fmi_sim_args_to_argv(&argv, a, "/job/fmu", a->input_path ? "/job/input.csv" : NULL)))
        goto out;
    if (!(runner = sandbox_default_runner())) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "cannot locate fmugw-runner");
        goto out;
    }
    if (!isnan(a->timeout_s))
        lim.timeout_s = a->timeout_s;
    if (!isnan(a->cpu_limit_s))
        lim.cpu_limit_s = a->cpu_limit_s;
    if (a->memory_limit)
        lim.memory_limit = a->memory_limit;
    if (a->output_limit)
        lim.output_limit = a->output_limit;
    if (fflush(f) != 0) {
        rc = fmugw_error_set(FMUGW_EIO, "writing %s failed: %s", a->output_path, strerror(errno));
        goto out;
    }
    job.runner = runner;
    job.fmu_dir = fmu->dir;
    job.input_file = a->input_path;
    job.scratch_dir = NULL; /* the sandbox makes the job's scratch, a capped tmpfs */
    job.args = argv;
    job.limits = lim;
    job.isolate = true;
    job.result_fd = fileno(f);
    job.result_form = a->format == FMI_RESULT_JSON ? SANDBOX_RESULT_JSON : SANDBOX_RESULT_CSV;
    job.on_log = on_sandbox_log;
    if ((rc = sandbox_run(&job, rep)))
        goto out;
    if (rep->outcome != SANDBOX_FINISHED)
        rc = fmugw_error_set(FMUGW_EFMU, "%s: %s", sandbox_outcome_name(rep->outcome), rep->message);
out:
    fmi_sim_args_free_argv(argv);
    free(runner);
    fmi_fmu_close(fmu);
    return rc;
}

int cli_sim(int argc, char **argv)
{
    int rc = CLI_USAGE;
    fmi_sim_args a;
    FILE *f = NULL;
    char *tmp_path = NULL;
    fmi_run_result res = { 0 };
    bool sandboxed = false;

    if (fmi_sim_args_parse(&a, argc, argv)) {
        cli_error("sim: %s", fmugw_error_last());
        goto out;
    }
    if (a.help) {
        fputs(fmi_sim_args_usage, stdout);
        rc = CLI_OK;
        goto out;
    }
    rc = CLI_FAILED;
    if (!strcmp(a.output_path, "-")) {
        f = stdout;
    } else if (!(f = open_partial(a.output_path, &tmp_path))) {
        cli_error("cannot write %s: %s", a.output_path, strerror(errno));
        goto out;
    }
    if (a.no_sandbox) {
        fprintf(stderr, "fmugw: warning: --no-sandbox runs the FMU inside this process: UNSAFE, "
                        "for debugging trusted FMUs only\n");
        if (run_in_process(&a, f, &res)) {
            cli_error("%s", fmugw_error_last());
            goto out;
        }
    } else {
        sandbox_report rep;
        if (run_in_sandbox(&a, f, &rep)) {
            cli_error("%s", fmugw_error_last());
            goto out;
        }
        res.rows = rep.rows;
        sandboxed = true;
        if (!a.quiet && f != stdout)
            fprintf(stderr, "fmugw: %" PRIu64 " rows written to %s (sandbox: %" PRIu64 " ms wall, %" PRIu64
                            " ms CPU, %" PRIu64 " KiB peak RSS)\n",
                    rep.rows, a.output_path, rep.wall_ms, rep.cpu_user_ms + rep.cpu_system_ms, rep.peak_rss_kb);
    }
    if (fflush(f) != 0) {
        cli_error("writing %s failed: %s", a.output_path, strerror(errno));
        goto out;
    }
    if (!a.quiet && f != stdout && !sandboxed)
        fprintf(stderr, "fmugw: %zu rows written to %s (t = %g%s)\n", res.rows, a.output_path,
                res.stats.stop_time_reached, res.stats.terminated_by_fmu ? ", terminated by the FMU" : "");
    rc = CLI_OK;
out:
    if (f && f != stdout && fclose(f) != 0 && rc == CLI_OK) {
        cli_error("writing %s failed: %s", a.output_path, strerror(errno));
        rc = CLI_FAILED;
    }
    if (tmp_path) {
        if (rc == CLI_OK && rename(tmp_path, a.output_path) != 0) {
            cli_error("cannot write %s: %s", a.output_path, strerror(errno));
            rc = CLI_FAILED;
        }
        if (rc != CLI_OK)
            unlink(tmp_path);
        free(tmp_path);
    }
    fmi_sim_args_free(&a);
    return rc;
}
