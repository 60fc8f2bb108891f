/* sim_plan.c - resolving and bounding a run's times and steps (see
 * sim_plan.h). */
#include "sim_plan.h"

#include "util/error.h"

#include <float.h>
#include <math.h>

/* A time value the engine can compute with: finite, and not subnormal
 * (zero is fine). */
static int check_time(const char *what, double v)
{
    if (!isfinite(v))
        return fmugw_error_set(FMUGW_EINVALID, "%s must be a finite number", what);
    if (v != 0 && !isnormal(v))
        return fmugw_error_set(FMUGW_EINVALID, "%s %g is too close to zero (at least %g)", what, v, DBL_MIN);
    return 0;
}

/* A positive length of time (step, interval): normal, and large enough
 * that adding it to the largest time of the run changes that time. */
static int check_length(const char *what, double v, double magnitude)
{
    int rc;
    if (!(v > 0))
        return fmugw_error_set(FMUGW_EINVALID, "%s %g must be positive", what, v);
    if ((rc = check_time(what, v)))
        return rc;
    if (v < magnitude * 64 * DBL_EPSILON)
        return fmugw_error_set(FMUGW_EINVALID, "%s %g is too small for times around %g (below their precision)",
                               what, v, magnitude);
    return 0;
}

static int check_rtol(double rtol)
{
    if (!(rtol > 0 && rtol < 1))
        return fmugw_error_set(FMUGW_EINVALID, "relative tolerance %g must be in (0, 1)", rtol);
    if (rtol < DBL_EPSILON)
        return fmugw_error_set(FMUGW_EINVALID, "relative tolerance %g is too small (at least %g)", rtol, DBL_EPSILON);
    return 0;
}

int fmi_sim_options_check(const fmi_sim_options *o)
{
    int rc;
    double magnitude = 0;
    if (!isnan(o->start_time)) {
        if ((rc = check_time("start time", o->start_time)))
            return rc;
        magnitude = fabs(o->start_time);
    }
    if (!isnan(o->stop_time)) {
        if ((rc = check_time("stop time", o->stop_time)))
            return rc;
        magnitude = fmax(magnitude, fabs(o->stop_time));
    }
    if (!isnan(o->start_time) && !isnan(o->stop_time) && !(o->stop_time > o->start_time))
        return fmugw_error_set(FMUGW_EINVALID, "stop time %g must be greater than start time %g", o->stop_time,
                               o->start_time);
    if (!isnan(o->output_interval) && (rc = check_length("output interval", o->output_interval, magnitude)))
        return rc;
    if (!isnan(o->step_size) && (rc = check_length("step size", o->step_size, magnitude)))
        return rc;
    if (!isnan(o->relative_tolerance) && (rc = check_rtol(o->relative_tolerance)))
        return rc;
    return 0;
}

int fmi_sim_plan_resolve(fmi_sim_plan *p, const fmi_default_experiment *de, const fmi_sim_options *o)
{
    static const fmi_default_experiment none = { false, false, false, false, 0, 0, 0, 0 };
    int rc;
    if (!de)
        de = &none;
    if ((rc = fmi_sim_options_check(o)))
        return rc;
    p->start = !isnan(o->start_time) ? o->start_time : de->has_start_time ? de->start_time : 0.0;
    p->stop = !isnan(o->stop_time) ? o->stop_time : de->has_stop_time ? de->stop_time : p->start + 1.0;
    if ((rc = check_time("start time", p->start)) || (rc = check_time("stop time", p->stop)))
        return rc;
    if (!(p->stop > p->start))
        return fmugw_error_set(FMUGW_EINVALID, "stop time %g must be greater than start time %g", p->stop, p->start);
    double span = p->stop - p->start;
    if (!isfinite(span))
        return fmugw_error_set(FMUGW_EINVALID, "the span from %g to %g is too large", p->start, p->stop);
    p->rtol = !isnan(o->relative_tolerance) ? o->relative_tolerance : de->has_tolerance ? de->tolerance : 1e-4;
    if ((rc = check_rtol(p->rtol)))
        return rc;

    double interval = o->output_interval, step = o->step_size;
    if (isnan(interval))
        interval = !isnan(step) ? step : de->has_step_size ? de->step_size : span / 500;
    if (isnan(step))
        step = interval;
    double magnitude = fmax(fabs(p->start), fabs(p->stop));
    if ((rc = check_length("output interval", interval, magnitude)) ||
        (rc = check_length("step size", step, magnitude)))
        return rc;
    if (o->iface == FMI_CS) {
        /* Outputs are taken at communication points: the interval must be
         * a whole number of steps. */
        double k = interval / step;
        if (fabs(k - round(k)) > 1e-9 * k || round(k) < 1)
            return fmugw_error_set(FMUGW_EINVALID,
                                   "output interval %g must be a whole multiple of the communication step %g",
                                   interval, step);
    }
    /* Counted as the engine counts them (sim.c): the last step lands on
     * stop exactly; compared as doubles, before any integer conversion. */
    double rows = ceil(span / interval - 1e-9 * (span / interval)) + 1;
    if (!(rows <= (double)FMI_SIM_MAX_ROWS))
        return fmugw_error_set(FMUGW_EINVALID,
                               "output interval %g over %g to %g gives %.3g result rows, more than the %llu allowed",
                               interval, p->start, p->stop, rows, FMI_SIM_MAX_ROWS);
    double steps = rows - 1;
    bool fixed = o->iface == FMI_CS || o->solver == FMI_SOLVER_EULER;
    if (fixed) {
        steps = ceil(span / step - 1e-9 * (span / step));
        if (!(steps <= (double)FMI_SIM_MAX_STEPS))
            return fmugw_error_set(FMUGW_EINVALID,
                                   "step size %g over %g to %g gives %.3g steps, more than the %llu allowed", step,
                                   p->start, p->stop, steps, FMI_SIM_MAX_STEPS);
    }
    p->interval = interval;
    p->step = step;
    p->steps = steps < 1 ? 1 : (uint64_t)steps;
    p->rows = (uint64_t)rows;
    return 0;
}
