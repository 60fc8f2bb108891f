/*
 * sim_plan.h - the times and steps a simulation will really run with, and
 * the bounds every run must fit: what `fmugw sim`, the sandbox runner and
 * the daemon's request validation all check with the same code, so that a
 * request accepted at the API is never refused (or misrun) by the runner.
 *
 * fmi_sim_plan_resolve() fills the defaults (the model's DefaultExperiment,
 * then the built-in ones: start 0, stop start + 1, interval (stop-start)/500,
 * step = interval, tolerance 1e-4) and refuses, with a one-line reason,
 * what cannot be run: non-finite or subnormal values, a stop not after the
 * start, a step or interval too small for the times' precision, more than
 * FMI_SIM_MAX_STEPS steps or FMI_SIM_MAX_ROWS result rows.
 */
#ifndef FMUGW_FMI_SIM_PLAN_H
#define FMUGW_FMI_SIM_PLAN_H

#include "model.h"
#include "sim.h"

#include <stdint.h>

/* Co-Simulation communication steps or Euler steps of one run: counts stay
 * exact in a double and a size_t; how long a run may take is the timeout's
 * business, not this bound's. */
#define FMI_SIM_MAX_STEPS 1000000000000ull
/* Output rows of one run (one per output interval, plus the start); more
 * could not be delivered under the 1 GiB output limit anyway. */
#define FMI_SIM_MAX_ROWS 100000000ull

typedef struct {
    double start, stop, interval, step, rtol;
    uint64_t steps; /* fixed steps (CS, Euler) the run takes; for CVODE the output points */
    uint64_t rows;  /* result rows at most, events aside */
} fmi_sim_plan;

/** Checks the values `o` gives (those not NAN) by the rules below, without
 *  the model: what can be refused before the model is known. */
int fmi_sim_options_check(const fmi_sim_options *o);

/** Resolves `o`'s times against `de` (may be NULL: no DefaultExperiment)
 *  for interface `o->iface` and solver `o->solver`. 0, or FMUGW_EINVALID with
 *  the reason in fmugw_error_last(). */
int fmi_sim_plan_resolve(fmi_sim_plan *p, const fmi_default_experiment *de, const fmi_sim_options *o);

#endif
