/* sim_args.c - parse and re-serialize the options of a simulation request
 * (see sim_args.h). */
#include "sim_args.h"
#include "sim_plan.h"

#include "util/error.h"

#include <errno.h>
#include <float.h>
#include <getopt.h>
#include <pthread.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char fmi_sim_args_usage[] =
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
    "  --output FILE, -o FILE    result file (default: - for standard output)\n"
    "  --format csv|json         result format (default: csv, or from the --output suffix)\n"
    "  --log-fmi-calls           print every FMI call on standard error\n"
    "  --debug-logging           turn the FMU's own debug logging on\n"
    "  --quiet                   print nothing but errors\n"
    "Sandbox (the FMU runs isolated unless --no-sandbox):\n"
    "  --timeout S               wall-clock limit in seconds (default 60)\n"
    "  --cpu-limit S             CPU-time limit in seconds (default 60)\n"
    "  --memory-limit SIZE       address-space limit, e.g. 512M, 2G (default 1G)\n"
    "  --output-limit SIZE       results + log bytes (default 1G)\n"
    "  --no-sandbox              run the FMU inside this process: UNSAFE, for debugging only\n";

enum {
    OPT_START = 256, OPT_STOP, OPT_INTERVAL, OPT_STEP, OPT_IFACE, OPT_SOLVER, OPT_RTOL, OPT_START_VALUE,
    OPT_INPUT, OPT_OUTVAR, OPT_OUTALL, OPT_OUTPUT, OPT_FORMAT, OPT_LOG_CALLS, OPT_DEBUG_LOG, OPT_QUIET, OPT_HELP,
    OPT_NO_SANDBOX, OPT_TIMEOUT, OPT_CPU_LIMIT, OPT_MEMORY_LIMIT, OPT_OUTPUT_LIMIT
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
    { "no-sandbox", no_argument, NULL, OPT_NO_SANDBOX },
    { "timeout", required_argument, NULL, OPT_TIMEOUT },
    { "cpu-limit", required_argument, NULL, OPT_CPU_LIMIT },
    { "memory-limit", required_argument, NULL, OPT_MEMORY_LIMIT },
    { "output-limit", required_argument, NULL, OPT_OUTPUT_LIMIT },
    { NULL, 0, NULL, 0 },
};

static int parse_number(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    /* an underflow (a subnormal or zero result) is a number: the checks
     * (fmi_sim_options_check) say what is wrong with it */
    if (errno == ERANGE && fabs(v) <= DBL_MIN)
        errno = 0;
    if (end == s || *end || errno || !isfinite(v))
        return fmugw_error_set(FMUGW_EINVALID, "--%s: \"%s\" is not a number", opt, s);
    *out = v;
    return 0;
}

int fmi_parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (*s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno)
        return -1;
    unsigned shift = 0;
    switch (*end) {
    case '\0':
        break;
    case 'K': case 'k': shift = 10; end++; break;
    case 'M': case 'm': shift = 20; end++; break;
    case 'G': case 'g': shift = 30; end++; break;
    case 'T': case 't': shift = 40; end++; break;
    default:
        return -1;
    }
    if (*end == 'i' && shift)
        end++;
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end || (shift && v > (UINT64_MAX >> shift)))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

/* getopt_long keeps its state in globals (optind, optarg, its position in
 * a clustered option): parses of different threads (the daemon's job
 * workers) take turns. */
static pthread_mutex_t getopt_lock = PTHREAD_MUTEX_INITIALIZER;

static int parse_locked(fmi_sim_args *a, int argc, char **argv);

int fmi_sim_args_parse(fmi_sim_args *a, int argc, char **argv)
{
    pthread_mutex_lock(&getopt_lock);
    int rc = parse_locked(a, argc, argv);
    pthread_mutex_unlock(&getopt_lock);
    return rc;
}

static int parse_locked(fmi_sim_args *a, int argc, char **argv)
{
    fmi_sim_options init = FMI_SIM_OPTIONS_INIT;
    memset(a, 0, sizeof *a);
    a->sim = init;
    a->output_path = "-";
    a->timeout_s = NAN;
    a->cpu_limit_s = NAN;
    a->start_values_owned = calloc((size_t)argc + 1, sizeof *a->start_values_owned);
    a->output_variables = calloc((size_t)argc + 1, sizeof *a->output_variables);
    if (!a->start_values_owned || !a->output_variables)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    a->sim.start_values = a->start_values_owned;

    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "o:", options, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case OPT_START:
            rc = parse_number("start-time", optarg, &a->sim.start_time);
            break;
        case OPT_STOP:
            rc = parse_number("stop-time", optarg, &a->sim.stop_time);
            break;
        case OPT_INTERVAL:
            rc = parse_number("output-interval", optarg, &a->sim.output_interval);
            break;
        case OPT_STEP:
            rc = parse_number("step-size", optarg, &a->sim.step_size);
            break;
        case OPT_RTOL:
            rc = parse_number("relative-tolerance", optarg, &a->sim.relative_tolerance);
            break;
        case OPT_TIMEOUT:
            if (!(rc = parse_number("timeout", optarg, &a->timeout_s)) && !(a->timeout_s > 0))
                rc = fmugw_error_set(FMUGW_EINVALID, "--timeout: must be positive, got \"%s\"", optarg);
            break;
        case OPT_CPU_LIMIT:
            if (!(rc = parse_number("cpu-limit", optarg, &a->cpu_limit_s)) && !(a->cpu_limit_s > 0))
                rc = fmugw_error_set(FMUGW_EINVALID, "--cpu-limit: must be positive, got \"%s\"", optarg);
            break;
        case OPT_MEMORY_LIMIT:
            if (fmi_parse_size(optarg, &a->memory_limit) || !a->memory_limit)
                rc = fmugw_error_set(FMUGW_EINVALID, "--memory-limit: expected a size like 512M or 2G, got \"%s\"", optarg);
            break;
        case OPT_OUTPUT_LIMIT:
            if (fmi_parse_size(optarg, &a->output_limit) || !a->output_limit)
                rc = fmugw_error_set(FMUGW_EINVALID, "--output-limit: expected a size like 64M or 1G, got \"%s\"", optarg);
            break;
        case OPT_IFACE:
            if (!strcmp(optarg, "cs"))
                a->sim.iface = FMI_CS;
            else if (!strcmp(optarg, "me"))
                a->sim.iface = FMI_ME;
            else
                rc = fmugw_error_set(FMUGW_EINVALID, "--interface: expected cs or me, got \"%s\"", optarg);
            a->iface_given = true;
            break;
        case OPT_SOLVER:
            if (!strcmp(optarg, "cvode"))
                a->sim.solver = FMI_SOLVER_CVODE;
            else if (!strcmp(optarg, "euler"))
                a->sim.solver = FMI_SOLVER_EULER;
            else
                rc = fmugw_error_set(FMUGW_EINVALID, "--solver: expected cvode or euler, got \"%s\"", optarg);
            break;
        case OPT_START_VALUE: {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg) {
                rc = fmugw_error_set(FMUGW_EINVALID, "--start-value: expected NAME=VALUE, got \"%s\"", optarg);
                break;
            }
            /* split a copy-free view: the name ends at '=' */
            *eq = '\0';
            a->start_values_owned[a->sim.n_start_values].name = optarg;
            a->start_values_owned[a->sim.n_start_values].value = eq + 1;
            a->sim.n_start_values++;
            break;
        }
        case OPT_INPUT:
            a->input_path = optarg;
            break;
        case OPT_OUTVAR:
            a->output_variables[a->n_output_variables++] = optarg;
            break;
        case OPT_OUTALL:
            a->output_all = true;
            break;
        case 'o':
        case OPT_OUTPUT:
            a->output_path = optarg;
            break;
        case OPT_FORMAT:
            if (!strcmp(optarg, "csv"))
                a->format = FMI_RESULT_CSV;
            else if (!strcmp(optarg, "json"))
                a->format = FMI_RESULT_JSON;
            else
                rc = fmugw_error_set(FMUGW_EINVALID, "--format: expected csv or json, got \"%s\"", optarg);
            a->format_given = true;
            break;
        case OPT_LOG_CALLS:
            a->log_fmi_calls = true;
            break;
        case OPT_DEBUG_LOG:
            a->debug_logging = true;
            a->sim.logging_on = true;
            break;
        case OPT_QUIET:
            a->quiet = true;
            break;
        case OPT_NO_SANDBOX:
            a->no_sandbox = true;
            break;
        case OPT_HELP:
            a->help = true;
            return 0;
        default: {
            const char *bad = argv[optind - 1];
            if (optopt && optopt < 256)
                rc = fmugw_error_set(FMUGW_EINVALID, "option -%c needs a value or is unknown", optopt);
            else if (optopt)
                rc = fmugw_error_set(FMUGW_EINVALID, "option %s needs a value", bad);
            else
                rc = fmugw_error_set(FMUGW_EINVALID, "unknown option \"%s\" (try 'fmugw sim --help')", bad);
            break;
        }
        }
        if (rc)
            return rc;
    }
    if (optind >= argc)
        return fmugw_error_set(FMUGW_EINVALID, "which FMU? (usage: fmugw sim MODEL.fmu [options])");
    if (optind != argc - 1)
        return fmugw_error_set(FMUGW_EINVALID, "expected one FMU, got extra argument \"%s\"", argv[optind + 1]);
    a->fmu = argv[optind];
    if (a->output_all && a->n_output_variables)
        return fmugw_error_set(FMUGW_EINVALID, "--output-all and --output-variable exclude each other");
    if (!a->format_given) {
        size_t len = strlen(a->output_path);
        if (len > 5 && !strcmp(a->output_path + len - 5, ".json"))
            a->format = FMI_RESULT_JSON;
    }
    return fmi_sim_args_check(a);
}

int fmi_sim_args_check(const fmi_sim_args *a)
{
    int rc;
    if ((rc = fmi_sim_options_check(&a->sim)))
        return rc;
    if (a->n_output_variables > FMI_SIM_MAX_OUTPUT_VARIABLES)
        return fmugw_error_set(FMUGW_EINVALID, "%zu output variables given, at most %u are allowed (or all of them)",
                               a->n_output_variables, FMI_SIM_MAX_OUTPUT_VARIABLES);
    if (a->sim.n_start_values > FMI_SIM_MAX_START_VALUES)
        return fmugw_error_set(FMUGW_EINVALID, "%zu start values given, at most %u are allowed",
                               a->sim.n_start_values, FMI_SIM_MAX_START_VALUES);
    /* what the runner receives: its whole argument vector */
    char **v = NULL;
    if ((rc = fmi_sim_args_to_argv(&v, a, a->fmu ? a->fmu : "/job/fmu", NULL)))
        return rc;
    size_t bytes = 0;
    for (char **p = v; *p; p++)
        bytes += strlen(*p) + 1;
    fmi_sim_args_free_argv(v);
    if (bytes > FMI_SIM_ARGS_MAX_BYTES)
        return fmugw_error_set(FMUGW_EINVALID, "the options take %zu bytes, at most %u are allowed", bytes,
                               FMI_SIM_ARGS_MAX_BYTES);
    return 0;
}

typedef struct {
    char **v;
    size_t n, cap;
    int failed;
} argv_builder;

static void push(argv_builder *b, const char *s)
{
    if (b->failed)
        return;
    if (b->n + 2 > b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 32;
        char **v = realloc(b->v, cap * sizeof *v);
        if (!v) {
            b->failed = 1;
            return;
        }
        b->v = v;
        b->cap = cap;
    }
    if (!(b->v[b->n] = strdup(s))) {
        b->failed = 1;
        return;
    }
    b->v[++b->n] = NULL;
}

static void push_number(argv_builder *b, const char *opt, double v)
{
    char buf[64];
    if (isnan(v))
        return;
    snprintf(buf, sizeof buf, "%.17g", v);
    push(b, opt);
    push(b, buf);
}

int fmi_sim_args_to_argv(char ***out, const fmi_sim_args *a, const char *fmu, const char *input_path)
{
    argv_builder b = { 0 };
    push(&b, "fmugw-sim");
    push_number(&b, "--start-time", a->sim.start_time);
    push_number(&b, "--stop-time", a->sim.stop_time);
    push_number(&b, "--output-interval", a->sim.output_interval);
    push_number(&b, "--step-size", a->sim.step_size);
    push_number(&b, "--relative-tolerance", a->sim.relative_tolerance);
    if (a->iface_given) {
        push(&b, "--interface");
        push(&b, a->sim.iface == FMI_ME ? "me" : "cs");
    }
    push(&b, "--solver");
    push(&b, a->sim.solver == FMI_SOLVER_EULER ? "euler" : "cvode");
    for (size_t i = 0; i < a->sim.n_start_values; i++) {
        const fmi_start_value *sv = &a->sim.start_values[i];
        size_t n = strlen(sv->name) + strlen(sv->value) + 2;
        char *s = malloc(n);
        if (!s) {
            b.failed = 1;
            break;
        }
        snprintf(s, n, "%s=%s", sv->name, sv->value);
        push(&b, "--start-value");
        push(&b, s);
        free(s);
    }
    if (input_path || a->input_path) {
        push(&b, "--input");
        push(&b, input_path ? input_path : a->input_path);
    }
    for (size_t i = 0; i < a->n_output_variables; i++) {
        push(&b, "--output-variable");
        push(&b, a->output_variables[i]);
    }
    if (a->output_all)
        push(&b, "--output-all");
    push(&b, "--format");
    push(&b, a->format == FMI_RESULT_JSON ? "json" : "csv");
    if (a->log_fmi_calls)
        push(&b, "--log-fmi-calls");
    if (a->debug_logging)
        push(&b, "--debug-logging");
    push(&b, "--");
    push(&b, fmu);
    if (b.failed) {
        fmi_sim_args_free_argv(b.v);
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    }
    *out = b.v;
    return 0;
}

void fmi_sim_args_free_argv(char **argv)
{
    if (!argv)
        return;
    for (char **p = argv; *p; p++)
        free(*p);
    free(argv);
}

void fmi_sim_args_free(fmi_sim_args *a)
{
    free(a->start_values_owned);
    free(a->output_variables);
    a->start_values_owned = NULL;
    a->output_variables = NULL;
}
