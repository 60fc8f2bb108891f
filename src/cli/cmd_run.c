/*
 * cmd_run.c - `fmugw run MODEL.fmu|ID`: one simulation on the gateway with
 * the options of `fmugw sim`: uploads the file unless the gateway already
 * has the same bytes, executes, waits (progress bar only on a terminal),
 * downloads the results. Uses only libfmugw's public API.
 */
#include "cli.h"
#include "remote.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: fmugw run MODEL.fmu|ID [options] [-o results.csv]\n"
    "\n"
    "Runs a simulation on the gateway (uploading MODEL.fmu first unless the\n"
    "gateway already has the same bytes) and writes the results.\n"
    "\n"
    "  --start-time T, --stop-time T, --output-interval H, --step-size H\n"
    "  --interface cs|me, --solver cvode|euler, --relative-tolerance R\n"
    "  --start-value NAME=VALUE (repeatable), --input FILE.csv\n"
    "  --output-variable NAME (repeatable), --output-all, --format csv|json\n"
    "  --timeout SECONDS       the job's wall-clock limit on the gateway\n"
    "  -o FILE, --output FILE  result file (default: standard output)\n"
    "  --no-wait               print the job id and return at once\n"
    "  --quiet                 no progress and no summary\n"
    "  --json                  print the final job status as JSON on stdout (needs -o FILE)\n"
    "  --profile NAME          configuration profile\n";

typedef struct {
    double t0;
    int tty;
    int frame;
} wait_ui;

static int on_wait(void *ud, const fmugw_job_status *st)
{
    wait_ui *w = ud;
    if (!w->tty)
        return 0;
    static const char spin[] = "|/-\\";
    double el = 0;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    el = (double)ts.tv_sec + ts.tv_nsec / 1e9 - w->t0;
    if (!isnan(st->progress) && st->progress > 0) {
        int width = 30, fill = (int)(st->progress * width);
        if (fill > width)
            fill = width;
        fprintf(stderr, "\r%s [%.*s%*s] %3d%% %6.1f s", st->status, fill, "##############################",
                width - fill, "", (int)(st->progress * 100), el);
    } else {
        fprintf(stderr, "\r%s %c %6.1f s   ", st->status, spin[w->frame++ % 4], el);
    }
    if (st->finished)
        fputc('\n', stderr);
    return 0;
}

static int parse_double(const char *opt, const char *v, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(v, &end);
    if (!*v || *end || errno || !isfinite(*out)) {
        cli_error("%s: \"%s\" is not a number", opt, v);
        return -1;
    }
    return 0;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0, n;
    char chunk[65536];
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            char *p = realloc(buf, cap);
            if (!p) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = p;
        }
        memcpy(buf + len, chunk, n);
        len += n;
    }
    fclose(f);
    if (!buf)
        buf = calloc(1, 1);
    else
        buf[len] = '\0';
    return buf;
}

int cli_run(int argc, char **argv)
{
    remote_common o = {0};
    fmugw_execute_options eo = FMUGW_EXECUTE_OPTIONS_INIT;
    const char *target = NULL, *out = "-", *input = NULL;
    const char **svals = calloc((size_t)argc + 1, sizeof *svals);
    const char **ovars = calloc((size_t)argc + 1, sizeof *ovars);
    size_t nsv = 0, nov = 0;
    int quiet = 0, no_wait = 0, rc = CLI_OK, e = 0, missing;
    char *inputs_text = NULL;
    fmugw_client *c = NULL;
    if (!svals || !ovars) {
        cli_error("out of memory");
        rc = CLI_FAILED;
        goto out;
    }
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r = remote_common_option(&o, argc, argv, &i);
        if (r < 0) {
            rc = CLI_USAGE;
            goto out;
        }
        if (r > 0)
            continue;
        static const char *const nums[] = {"--start-time", "--stop-time", "--output-interval", "--step-size",
                                           "--relative-tolerance"};
        double *const targets[] = {&eo.start_time, &eo.stop_time, &eo.output_interval, &eo.step_size,
                                   &eo.relative_tolerance};
        int matched = 0;
        for (size_t k = 0; k < 5 && !matched; k++) {
            if ((v = remote_option_value(nums[k], argc, argv, &i, &missing))) {
                if (parse_double(nums[k], v, targets[k])) {
                    rc = CLI_USAGE;
                    goto out;
                }
                matched = 1;
            } else if (missing) {
                rc = CLI_USAGE;
                goto out;
            }
        }
        if (matched)
            continue;
        if ((v = remote_option_value("--interface", argc, argv, &i, &missing))) {
            if (strcmp(v, "cs") && strcmp(v, "me")) {
                cli_error("--interface: \"%s\" is not cs or me", v);
                rc = CLI_USAGE;
                goto out;
            }
            eo.interface = v;
        } else if (!missing && (v = remote_option_value("--solver", argc, argv, &i, &missing))) {
            if (strcmp(v, "cvode") && strcmp(v, "euler")) {
                cli_error("--solver: \"%s\" is not cvode or euler", v);
                rc = CLI_USAGE;
                goto out;
            }
            eo.solver = v;
        } else if (!missing && (v = remote_option_value("--start-value", argc, argv, &i, &missing))) {
            if (!strchr(v, '=') || v[0] == '=') {
                cli_error("--start-value: \"%s\" is not NAME=VALUE", v);
                rc = CLI_USAGE;
                goto out;
            }
            svals[nsv++] = v;
        } else if (!missing && (v = remote_option_value("--input", argc, argv, &i, &missing))) {
            input = v;
        } else if (!missing && (v = remote_option_value("--output-variable", argc, argv, &i, &missing))) {
            ovars[nov++] = v;
        } else if (!missing && (v = remote_option_value("--format", argc, argv, &i, &missing))) {
            if (strcmp(v, "csv") && strcmp(v, "json")) {
                cli_error("--format: \"%s\" is not csv or json", v);
                rc = CLI_USAGE;
                goto out;
            }
            eo.output_format = v;
        } else if (!missing && (v = remote_option_value("--timeout", argc, argv, &i, &missing))) {
            double t = 0;
            if (parse_double("--timeout", v, &t)) {
                rc = CLI_USAGE;
                goto out;
            }
            if (t < 1 || t > 86400) {
                cli_error("--timeout: %s is out of range (1..86400 s)", v);
                rc = CLI_USAGE;
                goto out;
            }
            eo.timeout_s = (int)t;
        } else if (!missing && ((v = remote_option_value("-o", argc, argv, &i, &missing)) ||
                                (!missing && (v = remote_option_value("--output", argc, argv, &i, &missing))))) {
            out = v;
        } else if (missing) {
            rc = CLI_USAGE;
            goto out;
        } else if (!strcmp(argv[i], "--output-all")) {
            eo.output_all = 1;
        } else if (!strcmp(argv[i], "--quiet")) {
            quiet = 1;
        } else if (!strcmp(argv[i], "--no-wait")) {
            no_wait = 1;
        } else if (argv[i][0] != '-' && !target) {
            target = argv[i];
        } else {
            cli_error("unexpected argument \"%s\" (try 'fmugw run --help')", argv[i]);
            rc = CLI_USAGE;
            goto out;
        }
    }
    if (o.help) {
        fputs(usage, stdout);
        goto out;
    }
    if (!target) {
        cli_error("usage: fmugw run MODEL.fmu|ID [options] [-o results.csv]");
        rc = CLI_USAGE;
        goto out;
    }
    if (o.json && !strcmp(out, "-") && !no_wait) {
        cli_error("--json prints the job status on stdout: give the results a file with -o FILE");
        rc = CLI_USAGE;
        goto out;
    }
    if (!eo.output_format) {
        size_t n = strlen(out);
        eo.output_format = n > 5 && !strcmp(out + n - 5, ".json") ? "json" : "csv";
    }
    if (input && !(inputs_text = read_text(input))) {
        cli_error("cannot read %s: %s", input, strerror(errno));
        rc = CLI_FAILED;
        goto out;
    }
    eo.inputs_csv = inputs_text;
    eo.start_values = nsv ? svals : NULL;
    eo.output_variables = nov ? ovars : NULL;
    if ((rc = remote_open(&c, &o)))
        goto out;

    /* An existing file is uploaded (skipped if the gateway has its bytes). */
    char fmu_id[96];
    struct stat st;
    if (stat(target, &st) == 0) {
        fmugw_upload_options uo = FMUGW_UPLOAD_OPTIONS_INIT;
        fmugw_fmu_ref ref;
        uo.progress = quiet ? NULL : remote_upload_progress;
        if ((e = fmugw_fmu_upload(&ref, c, target, &uo)))
            goto out;
        snprintf(fmu_id, sizeof fmu_id, "%s", ref.id);
        if (!quiet && isatty(STDERR_FILENO))
            fprintf(stderr, "%s: %s (%s)\n", target, ref.id, ref.existing ? "already on the gateway" : "uploaded");
    } else if (strstr(target, ".fmu")) {
        cli_error("cannot read %s: %s", target, strerror(errno));
        rc = CLI_FAILED;
        goto out;
    } else {
        snprintf(fmu_id, sizeof fmu_id, "%s", target);
    }

    fmugw_job_ref job;
    if ((e = fmugw_job_execute(&job, c, fmu_id, &eo)))
        goto out;
    if (no_wait) {
        if (o.json)
            printf("{\"job_id\": \"%s\", \"fmu_id\": \"%s\", \"status\": \"%s\"}\n", job.id, fmu_id, job.status);
        else
            printf("%s\n", job.id);
        goto out;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    wait_ui ui = {.t0 = (double)ts.tv_sec + ts.tv_nsec / 1e9, .tty = !quiet && isatty(STDERR_FILENO)};
    fmugw_job_status js;
    if ((e = fmugw_job_wait(&js, c, job.id, 0, on_wait, &ui)))
        goto out;
    if ((e = fmugw_job_results_download(c, job.id, out)))
        goto out;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double el = (double)ts.tv_sec + ts.tv_nsec / 1e9 - ui.t0;
    if (o.json) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "job_id", job.id, "fmu_id", fmu_id, "status", js.status,
                              "output", out);
        if (!isnan(js.credits_charged))
            json_object_set_new(j, "credits_charged", json_real(js.credits_charged));
        json_dumpf(j, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(j);
    }
    if (!quiet) {
        fprintf(stderr, "%s %s in %.1f s", job.id, js.status, el);
        if (!isnan(js.credits_charged))
            fprintf(stderr, ", %g credits", js.credits_charged);
        if (strcmp(out, "-"))
            fprintf(stderr, ", results in %s", out);
        fputc('\n', stderr);
    }
out:
    if (e)
        rc = cli_client_error(e);
    fmugw_client_free(c);
    free(inputs_text);
    free(svals);
    free(ovars);
    return rc;
}
