/*
 * sim.h - simulating an FMU: Co-Simulation with a fixed communication step,
 * Model Exchange with CVODE (BDF, Newton, dense) or explicit Euler, both
 * with time, state and step events, for FMI 2.0 and 3.0.
 *
 * The simulator owns nothing of its arguments: the caller opens the model
 * and binary (instance.h), loads inputs (inputs.h) and creates a recorder
 * (results.h); fmi_simulate() instantiates, initializes, runs, records and
 * frees the instance.
 */
#ifndef FMUGW_FMI_SIM_H
#define FMUGW_FMI_SIM_H

#include "inputs.h"
#include "instance.h"
#include "model.h"
#include "results.h"

#include <stdbool.h>

typedef enum { FMI_SOLVER_CVODE = 0, FMI_SOLVER_EULER } fmi_solver;

/* Progress reports: at most one per FMI_PROGRESS_PERIOD_MS of wall time,
 * none at all for a run shorter than that. */
#define FMI_PROGRESS_PERIOD_MS 100

/** Called with the simulated time reached (see fmi_sim_options.progress). */
typedef void (*fmi_progress_fn)(void *ctx, double t);

typedef struct {
    const char *name;  /* variable name */
    const char *value; /* text as given on the command line */
} fmi_start_value;

typedef struct {
    fmi_interface iface;
    fmi_solver solver;           /* ME only */
    double start_time;           /* NAN: default experiment or 0 */
    double stop_time;            /* NAN: default experiment or start + 1 */
    double output_interval;      /* NAN: step size, or (stop - start) / 500 */
    double step_size;            /* NAN: CS communication step / Euler step = output interval */
    double relative_tolerance;   /* NAN: default experiment or 1e-4 */
    const fmi_start_value *start_values;
    size_t n_start_values;
    const fmi_inputs *inputs;    /* may be NULL */
    const char *resource_dir;    /* may be NULL */
    fmi_log_fn log;              /* FMU log messages; may be NULL */
    fmi_call_log_fn call_log;    /* FMI call trace; may be NULL */
    void *log_ctx;
    bool logging_on;
    fmi_progress_fn progress;    /* simulated time, at most every FMI_PROGRESS_PERIOD_MS; may be NULL.
                                  * The wall clock is read every few steps only (an adaptive
                                  * stride), so the hook costs nothing measurable. */
    void *progress_ctx;
} fmi_sim_options;

#define FMI_SIM_OPTIONS_INIT                                                                                          \
    { FMI_CS, FMI_SOLVER_CVODE, NAN, NAN, NAN, NAN, NAN, NULL, 0, NULL, NULL, NULL, NULL, NULL, false, NULL, NULL }

typedef struct {
    double stop_time_reached;
    size_t steps;         /* CS doStep calls, or ME integrator steps */
    size_t events;        /* event iterations entered (time + state + step) */
    size_t state_events;
    size_t time_events;
    bool terminated_by_fmu;
} fmi_sim_stats;

/** Runs one simulation. `rec` may be NULL (nothing recorded: the benchmark
 *  floor). Start values are validated against the model (unknown name,
 *  non-settable causality/variability, unparsable value: FMUGW_EINVALID
 *  naming the variable) before the FMU is instantiated. `stats` may be NULL. */
int fmi_simulate(const fmi_model *model, fmi_binary *bin, const fmi_sim_options *opts,
                 fmi_recorder *rec, fmi_sim_stats *stats);

#endif
