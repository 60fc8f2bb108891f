/* cmd_sim.c - `fmugw sim`: simulate an FMU locally and write its results. */
#include "cli.h"

#include "fmi/fmu.h"
#include "fmi/inputs.h"
#include "fmi/instance.h"
#include "fmi/results.h"
#include "fmi/sim.h"
#include "util/error.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
    "usage: fmugw sim MODEL.fmu [options]\n"
    "  --start-time T            start of the simulation (default: DefaultExperiment or 0)\n"
    "  --stop-time T             end of the simulation (default: DefaultExperiment or start+1)\n"
    "  --output-interval H       time between result rows (default: step size, or (stop-start)/500)\n"
    "  --step-size H             communication step (CS) or Euler step (ME) (default: output interval)\n"
    "  --interface cs|me         Co-Simulation or Model Exchange (default: cs if supported)\n"
    "  --solver cvode|euler      ME solver (default: cvode)\n"
    "  --relative-tolerance R    CVODE relative tolerance (default: DefaultExperiment or 1e-4)\n"
    "  --start-value NAME=VALUE  set a start value (repeatable)\n"
    "  --input FILE.csv          input signals: a time column, then one column per input\n"
    "  --output-variable NAME    record this variable (repeatable; default: all outputs)\n"
    "  --output-all              record every variable\n"
    "  --output FILE             result file (default: - for standard output)\n"
    "  --format csv|json         result format (default: csv, or from the --output suffix)\n"
    "  --log-fmi-calls           print every FMI call on standard error\n"
    "  --debug-logging           turn the FMU's own debug logging on\n"
    "  --quiet                   print nothing but errors\n";

enum {
    OPT_START = 256, OPT_STOP, OPT_INTERVAL, OPT_STEP, OPT_IFACE, OPT_SOLVER, OPT_RTOL, OPT_START_VALUE,
    OPT_INPUT, OPT_OUTVAR, OPT_OUTALL, OPT_OUTPUT, OPT_FORMAT, OPT_LOG_CALLS, OPT_DEBUG_LOG, OPT_QUIET, OPT_HELP
};

static const struct option options[] = {
    { "start-time", required_argument, NULL, OPT_START },
    { "stop-time", required_argument, NULL, OPT_STOP },
    { "output-interval", required_argument, NULL, OPT_INTERVAL },
    { "step-size", required_argument, NULL, OPT_STEP },
    { "interface", required_argument, NULL, OPT_IFACE },
    { "solver", required_argument, NULL, OPT_SOLVER },
    { "relative-tolerance", required_argument, NULL, OPT_RTOL },
    { "start-value", required_argument, NULL, OPT_START_VALUE },
    { "input", required_argument, NULL, OPT_INPUT },
    { "output-variable", required_argument, NULL, OPT_OUTVAR },
    { "output-all", no_argument, NULL, OPT_OUTALL },
    { "output", required_argument, NULL, OPT_OUTPUT },
    { "format", required_argument, NULL, OPT_FORMAT },
    { "log-fmi-calls", no_argument, NULL, OPT_LOG_CALLS },
    { "debug-logging", no_argument, NULL, OPT_DEBUG_LOG },
    { "quiet", no_argument, NULL, OPT_QUIET },
    { "help", no_argument, NULL, OPT_HELP },
    { NULL, 0, NULL, 0 },
};

static mode_t current_umask(void)
{
    mode_t m = umask(0);
    umask(m);
    return m;
}

static int parse_time(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v)) {
        cli_error("--%s: \"%s\" is not a number", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

static const char *status_name(fmi_status s)
{
    static const char *const names[] = { "OK", "Warning", "Discard", "Error", "Fatal", "Pending" };
    return (unsigned)s < 6 ? names[s] : "?";
}

typedef struct {
    bool debug;
} log_ctx;

static void on_log(void *ctx, fmi_status status, const char *category, const char *message)
{
    log_ctx *lc = ctx;
    if (status == FMI_STATUS_OK && !lc->debug)
        return;
    fprintf(stderr, "[%s] %s: %s\n", status_name(status), category ? category : "", message);
}

static void on_call(void *ctx, const char *line)
{
    (void)ctx;
    fprintf(stderr, "%s\n", line);
}

/* The variables to record: the named ones, all, or (default) the outputs. */
static int select_outputs(const fmi_model *m, char **names, size_t n_names, bool all, int **out, size_t *n_out)
{
    int *vars = malloc((m->n_variables + n_names + 1) * sizeof *vars);
    size_t n = 0;
    if (!vars) {
        cli_error("out of memory");
        return -1;
    }
    if (n_names) {
        for (size_t i = 0; i < n_names; i++) {
            int idx = fmi_model_find(m, names[i]);
            if (idx < 0) {
                cli_error("--output-variable: the FMU has no variable \"%s\"", names[i]);
                free(vars);
                return -1;
            }
            vars[n++] = idx;
        }
    } else {
        for (size_t i = 0; i < m->n_variables; i++) {
            const fmi_variable *v = &m->variables[i];
            if (v->type == FMI_CLOCK)
                continue;
            if (all || v->causality == FMI_CAUSALITY_OUTPUT)
                vars[n++] = (int)i;
        }
    }
    *out = vars;
    *n_out = n;
    return 0;
}

int cli_sim(int argc, char **argv)
{
    int rc = CLI_USAGE;
    fmi_sim_options so = FMI_SIM_OPTIONS_INIT;
    fmi_start_value *svs = calloc((size_t)argc, sizeof *svs);
    char **outvars = calloc((size_t)argc, sizeof *outvars);
    size_t n_outvars = 0;
    bool output_all = false, quiet = false, iface_given = false, format_given = false;
    const char *input_path = NULL, *output_path = "-";
    fmi_result_format format = FMI_RESULT_CSV;
    fmi_fmu *fmu = NULL;
    fmi_binary *bin = NULL;
    fmi_inputs *inputs = NULL;
    fmi_recorder *rec = NULL;
    FILE *f = NULL;
    char *tmp_path = NULL;
    int *vars = NULL;
    size_t n_vars = 0;
    log_ctx lc = { false };

    if (!svs || !outvars) {
        cli_error("out of memory");
        rc = CLI_FAILED;
        goto out;
    }
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "o:", options, NULL)) != -1) {
        switch (c) {
        case OPT_START:
            if (parse_time("start-time", optarg, &so.start_time))
                goto out;
            break;
        case OPT_STOP:
            if (parse_time("stop-time", optarg, &so.stop_time))
                goto out;
            break;
        case OPT_INTERVAL:
            if (parse_time("output-interval", optarg, &so.output_interval))
                goto out;
            break;
        case OPT_STEP:
            if (parse_time("step-size", optarg, &so.step_size))
                goto out;
            break;
        case OPT_RTOL:
            if (parse_time("relative-tolerance", optarg, &so.relative_tolerance))
                goto out;
            break;
        case OPT_IFACE:
            if (!strcmp(optarg, "cs"))
                so.iface = FMI_CS;
            else if (!strcmp(optarg, "me"))
                so.iface = FMI_ME;
            else {
                cli_error("--interface: expected cs or me, got \"%s\"", optarg);
                goto out;
            }
            iface_given = true;
            break;
        case OPT_SOLVER:
            if (!strcmp(optarg, "cvode"))
                so.solver = FMI_SOLVER_CVODE;
            else if (!strcmp(optarg, "euler"))
                so.solver = FMI_SOLVER_EULER;
            else {
                cli_error("--solver: expected cvode or euler, got \"%s\"", optarg);
                goto out;
            }
            break;
        case OPT_START_VALUE: {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg) {
                cli_error("--start-value: expected NAME=VALUE, got \"%s\"", optarg);
                goto out;
            }
            *eq = '\0';
            svs[so.n_start_values].name = optarg;
            svs[so.n_start_values].value = eq + 1;
            so.n_start_values++;
            break;
        }
        case OPT_INPUT:
            input_path = optarg;
            break;
        case OPT_OUTVAR:
            outvars[n_outvars++] = optarg;
            break;
        case OPT_OUTALL:
            output_all = true;
            break;
        case 'o':
        case OPT_OUTPUT:
            output_path = optarg;
            break;
        case OPT_FORMAT:
            if (!strcmp(optarg, "csv"))
                format = FMI_RESULT_CSV;
            else if (!strcmp(optarg, "json"))
                format = FMI_RESULT_JSON;
            else {
                cli_error("--format: expected csv or json, got \"%s\"", optarg);
                goto out;
            }
            format_given = true;
            break;
        case OPT_LOG_CALLS:
            so.call_log = on_call;
            break;
        case OPT_DEBUG_LOG:
            lc.debug = true;
            so.logging_on = true;
            break;
        case OPT_QUIET:
            quiet = true;
            break;
        case OPT_HELP:
            fputs(usage, stdout);
            rc = CLI_OK;
            goto out;
        default:
            if (optopt)
                cli_error("sim: option --%s needs a value or is unknown", argv[optind - 1] + 2);
            else
                cli_error("sim: unknown option \"%s\" (try 'fmugw sim --help')", argv[optind - 1]);
            goto out;
        }
    }
    if (optind != argc - 1) {
        cli_error(optind >= argc ? "sim: which FMU? (usage: fmugw sim MODEL.fmu [options])"
                                 : "sim: expected one FMU, got extra argument \"%s\"",
                  argv[argc - 1]);
        goto out;
    }
    if (output_all && n_outvars) {
        cli_error("--output-all and --output-variable exclude each other");
        goto out;
    }
    if (!format_given) {
        size_t len = strlen(output_path);
        if (len > 5 && !strcmp(output_path + len - 5, ".json"))
            format = FMI_RESULT_JSON;
    }

    rc = CLI_FAILED;
    if (fmi_fmu_open(&fmu, argv[optind])) {
        cli_error("%s", fmugw_error_last());
        goto out;
    }
    const fmi_model *m = fmu->model;
    if (!iface_given && !m->interfaces[FMI_CS].present)
        so.iface = FMI_ME;
    if (!m->interfaces[so.iface].present) {
        cli_error("%s does not support %s", argv[optind], fmi_interface_name(so.iface));
        goto out;
    }
    if (input_path && fmi_inputs_load_csv(&inputs, input_path, m)) {
        cli_error("%s", fmugw_error_last());
        goto out;
    }
    if (select_outputs(m, outvars, n_outvars, output_all, &vars, &n_vars))
        goto out;
    if (fmi_binary_open(&bin, m, fmu->dir, so.iface)) {
        cli_error("%s", fmugw_error_last());
        goto out;
    }
    if (!strcmp(output_path, "-")) {
        f = stdout;
    } else {
        /* Write beside the target and rename on success: a failed run
         * leaves no partial result file behind. */
        size_t n = strlen(output_path) + 16;
        if (!(tmp_path = malloc(n))) {
            cli_error("out of memory");
            goto out;
        }
        snprintf(tmp_path, n, "%s.partXXXXXX", output_path);
        int fd = mkstemp(tmp_path);
        if (fd < 0 || !(f = fdopen(fd, "w"))) {
            cli_error("cannot write %s: %s", output_path, strerror(errno));
            if (fd >= 0)
                close(fd);
            free(tmp_path);
            tmp_path = NULL;
            goto out;
        }
        fchmod(fd, 0644 & ~current_umask());
    }
    if (fmi_recorder_new(&rec, m, vars, n_vars, format, f)) {
        cli_error("%s", fmugw_error_last());
        goto out;
    }
    so.start_values = svs;
    so.inputs = inputs;
    so.resource_dir = fmu->resource_dir;
    so.log = on_log;
    so.log_ctx = &lc;
    fmi_sim_stats stats;
    int sim_rc = fmi_simulate(m, bin, &so, rec, &stats);
    if (sim_rc)
        cli_error("simulation failed: %s", fmugw_error_last());
    if (fmi_recorder_finish(rec)) {
        cli_error("writing %s failed: %s", output_path, fmugw_error_last());
        goto out;
    }
    if (sim_rc)
        goto out;
    if (!quiet && f != stdout)
        fprintf(stderr, "fmugw: %zu rows written to %s (t = %g%s)\n", fmi_recorder_rows(rec), output_path,
                stats.stop_time_reached, stats.terminated_by_fmu ? ", terminated by the FMU" : "");
    rc = CLI_OK;
out:
    fmi_recorder_free(rec);
    if (f && f != stdout && fclose(f) != 0 && rc == CLI_OK) {
        cli_error("writing %s failed: %s", output_path, strerror(errno));
        rc = CLI_FAILED;
    }
    if (tmp_path) {
        if (rc == CLI_OK && rename(tmp_path, output_path) != 0) {
            cli_error("cannot write %s: %s", output_path, strerror(errno));
            rc = CLI_FAILED;
        }
        if (rc != CLI_OK)
            unlink(tmp_path);
        free(tmp_path);
    }
    fmi_binary_close(bin);
    fmi_inputs_free(inputs);
    fmi_fmu_close(fmu);
    free(vars);
    free(svs);
    free(outvars);
    return rc;
}
