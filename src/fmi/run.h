/*
 * run.h - one simulation job end to end on an unpacked FMU: load inputs,
 * select outputs, open the binary, record to a stream, simulate. The same
 * code runs in `fmugw sim --no-sandbox` and inside the sandbox runner.
 */
#ifndef FMUGW_FMI_RUN_H
#define FMUGW_FMI_RUN_H

#include "fmu.h"
#include "sim_args.h"

#include <stdio.h>

typedef struct {
    fmi_sim_stats stats;
    size_t rows;
} fmi_run_result;

/** Runs the request `a` on the opened `fmu`, writing results to `out`
 *  (borrowed, not closed). FMU log messages and the FMI call trace (when
 *  a->log_fmi_calls) go to `log` / `call_log` with `ctx`. On failure the
 *  results written so far are flushed and the message is in
 *  fmugw_error_last(). */
int fmi_run(const fmi_sim_args *a, const fmi_fmu *fmu, FILE *out, fmi_log_fn log, fmi_call_log_fn call_log,
            void *ctx, fmi_run_result *result);

#endif
