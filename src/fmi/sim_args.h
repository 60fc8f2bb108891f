/*
 * sim_args.h - the command-line form of a simulation request, shared by
 * `fmugw sim` and the sandbox runner: parsing it, and writing it back out
 * as an argument vector (so the CLI can hand a parsed request to the runner
 * process unchanged).
 *
 * Strings in an fmi_sim_args point into the argv it was parsed from (which
 * must outlive it); the arrays are owned and released by
 * fmi_sim_args_free().
 */
#ifndef FMUGW_FMI_SIM_ARGS_H
#define FMUGW_FMI_SIM_ARGS_H

#include "results.h"
#include "sim.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *fmu;              /* the one positional argument */
    fmi_sim_options sim;          /* times, interface, solver, tolerance, start values, logging_on */
    bool iface_given;
    const char *input_path;       /* --input */
    const char **output_variables; /* --output-variable (repeatable) */
    size_t n_output_variables;
    bool output_all;
    const char *output_path;      /* --output / -o; "-" = stdout */
    fmi_result_format format;
    bool format_given;
    bool log_fmi_calls;
    bool debug_logging;
    bool quiet;
    bool help;
    /* sandbox (issue 3) */
    bool no_sandbox;
    double timeout_s;       /* wall clock, NAN = default */
    double cpu_limit_s;     /* NAN = default */
    uint64_t memory_limit;  /* bytes, 0 = default */
    uint64_t output_limit;  /* bytes, 0 = default */
    fmi_start_value *start_values_owned;
} fmi_sim_args;

/** Parses `argv[1..argc-1]` (argv[0] is the command name). On a bad
 *  command line returns FMUGW_EINVALID with a one-line message in
 *  fmugw_error_last() naming the option. *a is always initialized and must
 *  be freed with fmi_sim_args_free(). Thread-safe: the getopt state it
 *  uses is global, so concurrent calls take turns. */
int fmi_sim_args_parse(fmi_sim_args *a, int argc, char **argv);

/* Bounds of one request, checked by fmi_sim_args_check(): */
#define FMI_SIM_MAX_OUTPUT_VARIABLES 1000u /* --output-variable names (--output-all: any number) */
#define FMI_SIM_MAX_START_VALUES 1000u     /* --start-value settings */
#define FMI_SIM_ARGS_MAX_BYTES (512u << 10) /* the runner's whole argument vector, NULs included */

/** The runner's rules for options that need no model: the values given
 *  (fmi_sim_options_check, sim_plan.h), the list bounds and the size of the
 *  argument vector the runner would receive. fmi_sim_args_parse() ends
 *  with it; the daemon's request validation calls it on the same
 *  fmi_sim_args it will hand the runner. 0 or FMUGW_EINVALID (one line in
 *  fmugw_error_last()). */
int fmi_sim_args_check(const fmi_sim_args *a);

/** Writes the simulation part of `a` (not output path, sandbox or quiet
 *  options) as an argument vector for the runner, with `fmu` as the
 *  positional argument and `input_path` replacing --input when non-NULL.
 *  *out is a NULL-terminated, malloc'd array of malloc'd strings; free with
 *  fmi_sim_args_free_argv(). */
int fmi_sim_args_to_argv(char ***out, const fmi_sim_args *a, const char *fmu, const char *input_path);

void fmi_sim_args_free_argv(char **argv);

void fmi_sim_args_free(fmi_sim_args *a);

/** The --help text of `fmugw sim`. */
extern const char fmi_sim_args_usage[];

/** Parses a size like "512M", "2G", "1048576" (binary units); -1 if bad. */
int fmi_parse_size(const char *s, uint64_t *out);

#endif
