/*
 * sim.c - the simulation driver: start values, initialization, then a
 * Co-Simulation loop (fixed communication step) or a Model Exchange loop
 * (CVODE or explicit Euler) with time, state and step events.
 *
 * The Model Exchange loop follows the scheme of FMI 2 section 3.1 / FMI 3
 * section 3.1: integrate to the next of {output time, time event, stop},
 * stopping early at a root of the event indicators; then
 * fmiCompletedIntegratorStep; if any event is due, record the values just
 * before it, run the event iteration, re-initialize the solver, and record
 * the values after it (two rows with the same time, as FMPy writes them).
 *
 * Output times are computed as start + k * interval (never accumulated) so
 * that long runs do not drift.
 */
#include "sim.h"
#include "sim_plan.h"

#include "util/error.h"

#include <cvode/cvode.h>
#include <errno.h>
#include <math.h>
#include <nvector/nvector_serial.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunmatrix/sunmatrix_dense.h>

/* Two times closer than this (relative to the larger magnitude) are equal. */
static int time_equal(double a, double b)
{
    if (!isfinite(a) || !isfinite(b))
        return a == b;
    double scale = fmax(1.0, fmax(fabs(a), fabs(b)));
    return fabs(a - b) <= 1e-12 * scale;
}

/* --- start values --------------------------------------------------- */

static int parse_bool(const char *s, bool *out)
{
    if (!strcmp(s, "true") || !strcmp(s, "1")) {
        *out = true;
        return 0;
    }
    if (!strcmp(s, "false") || !strcmp(s, "0")) {
        *out = false;
        return 0;
    }
    return -1;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return (end == s || *end || errno == ERANGE) ? -1 : 0;
}

static int enum_value(const fmi_model *m, const fmi_variable *v, const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (end != s && !*end && !errno) {
        *out = x;
        return 0;
    }
    if (!v->declared_type)
        return -1;
    for (size_t i = 0; i < m->n_type_defs; i++) {
        const fmi_type_def *td = &m->type_defs[i];
        if (!td->name || strcmp(td->name, v->declared_type))
            continue;
        for (size_t k = 0; k < td->n_items; k++)
            if (!strcmp(td->item_names[k], s)) {
                *out = td->item_values[k];
                return 0;
            }
    }
    return -1;
}

static int hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Sets one start value given as text, checking that the variable may be set
 * before initialization. */
static int apply_start_value(fmi_instance *inst, const fmi_model *m, const fmi_start_value *sv)
{
    int idx = fmi_model_find(m, sv->name);
    if (idx < 0)
        return fmugw_error_set(FMUGW_EINVALID, "start value for \"%s\": no such variable", sv->name);
    const fmi_variable *v = &m->variables[idx];
    fmi_initial ini = fmi_variable_initial(m, v);
    bool settable = v->causality == FMI_CAUSALITY_INPUT ||
                    ((v->causality == FMI_CAUSALITY_PARAMETER || v->causality == FMI_CAUSALITY_STRUCTURAL_PARAMETER ||
                      v->causality == FMI_CAUSALITY_LOCAL || v->causality == FMI_CAUSALITY_OUTPUT) &&
                     v->variability != FMI_VARIABILITY_CONSTANT &&
                     (ini == FMI_INITIAL_EXACT || ini == FMI_INITIAL_APPROX));
    if (!settable)
        return fmugw_error_set(FMUGW_EINVALID,
                               "start value for \"%s\": a %s %s variable cannot be given a start value", sv->name,
                               fmi_causality_name(v->causality), fmi_variability_name(v->variability));
    const char *s = sv->value;
    int rc = 0;
    switch (v->type) {
    case FMI_FLOAT64:
    case FMI_FLOAT32: {
        size_t n = fmi_variable_size(m, v);
        double *vals = calloc(n ? n : 1, sizeof *vals);
        float *fvals = calloc(n ? n : 1, sizeof *fvals);
        if (!vals || !fvals) {
            free(vals);
            free(fvals);
            return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        }
        const char *p = s;
        size_t k = 0;
        for (; k < n; k++) {
            char *end;
            errno = 0;
            vals[k] = strtod(p, &end);
            if (end == p || errno == ERANGE)
                break;
            fvals[k] = (float)vals[k];
            p = end;
            while (*p == ' ' || *p == ',')
                p++;
        }
        if (k != n || *p)
            rc = fmugw_error_set(FMUGW_EINVALID, "start value for \"%s\": expected %zu number%s, got \"%s\"",
                                 sv->name, n, n == 1 ? "" : "s", s);
        else if (v->type == FMI_FLOAT64)
            rc = fmi_instance_set_float64(inst, &v->vr, 1, vals);
        else
            rc = fmi_instance_set_float32(inst, &v->vr, 1, fvals);
        free(vals);
        free(fvals);
        return rc;
    }
    case FMI_INT8:
    case FMI_UINT8:
    case FMI_INT16:
    case FMI_UINT16:
    case FMI_INT32:
    case FMI_UINT32:
    case FMI_INT64:
    case FMI_ENUMERATION: {
        int64_t x;
        if (enum_value(m, v, s, &x) != 0)
            return fmugw_error_set(FMUGW_EINVALID, "start value for \"%s\": not an integer%s: \"%s\"", sv->name,
                                   v->type == FMI_ENUMERATION ? " or item name" : "", s);
        return fmi_instance_set_int(inst, v->type, &v->vr, 1, &x);
    }
    case FMI_UINT64: {
        char *end;
        errno = 0;
        unsigned long long x = strtoull(s, &end, 10);
        if (end == s || *end || errno || *s == '-')
            return fmugw_error_set(FMUGW_EINVALID, "start value for \"%s\": not an unsigned integer: \"%s\"", sv->name, s);
        uint64_t u = x;
        return fmi_instance_set_uint64(inst, &v->vr, 1, &u);
    }
    case FMI_BOOLEAN: {
        bool b;
        if (parse_bool(s, &b) != 0)
            return fmugw_error_set(FMUGW_EINVALID, "start value for \"%s\": expected true/false/1/0, got \"%s\"", sv->name, s);
        return fmi_instance_set_boolean(inst, &v->vr, 1, &b);
    }
    case FMI_STRING:
        return fmi_instance_set_string(inst, &v->vr, 1, &s);
    case FMI_BINARY: {
        size_t len = strlen(s);
        if (len % 2)
            return fmugw_error_set(FMUGW_EINVALID, "start value for \"%s\": hex text of odd length", sv->name);
        uint8_t *bytes = malloc(len / 2 + 1);
        if (!bytes)
            return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        for (size_t i = 0; i < len / 2; i++) {
            int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);
            if (hi < 0 || lo < 0) {
                free(bytes);
                return fmugw_error_set(FMUGW_EINVALID, "start value for \"%s\": not hex: \"%s\"", sv->name, s);
            }
            bytes[i] = (uint8_t)(hi << 4 | lo);
        }
        size_t size = len / 2;
        const uint8_t *p = bytes;
        rc = fmi_instance_set_binary(inst, &v->vr, 1, &size, &p);
        free(bytes);
        return rc;
    }
    case FMI_CLOCK:
        break;
    }
    return fmugw_error_set(FMUGW_EINVALID, "start value for \"%s\": %s variables cannot be set", sv->name,
                           fmi_type_name(m->version, v->type));
}

/* Checks what can be checked without an instance, so that a bad option is
 * reported before any FMU code runs. */
static int check_start_values(const fmi_model *m, const fmi_sim_options *o)
{
    for (size_t i = 0; i < o->n_start_values; i++) {
        const fmi_start_value *sv = &o->start_values[i];
        int idx = fmi_model_find(m, sv->name);
        if (idx < 0)
            return fmugw_error_set(FMUGW_EINVALID, "start value for \"%s\": no such variable", sv->name);
        const fmi_variable *v = &m->variables[idx];
        double d;
        bool b;
        int64_t x;
        int bad = 0;
        switch (v->type) {
        case FMI_FLOAT32:
        case FMI_FLOAT64:
            bad = fmi_variable_size(m, v) == 1 && parse_double(sv->value, &d) != 0;
            break;
        case FMI_BOOLEAN:
            bad = parse_bool(sv->value, &b) != 0;
            break;
        case FMI_STRING:
        case FMI_BINARY:
        case FMI_CLOCK:
        case FMI_UINT64:
            break;
        default:
            bad = enum_value(m, v, sv->value, &x) != 0;
            break;
        }
        if (bad)
            return fmugw_error_set(FMUGW_EINVALID, "start value for \"%s\": \"%s\" is not a valid %s", sv->name,
                                   sv->value, fmi_type_name(m->version, v->type));
    }
    return 0;
}

/* --- shared state of one run ----------------------------------------- */

typedef struct {
    const fmi_model *model;
    const fmi_sim_options *opts;
    fmi_instance *inst;
    fmi_recorder *rec;
    fmi_sim_stats *stats;
    double start, stop, interval, step, rtol;
    uint64_t n_steps;
    /* Model Exchange */
    size_t nx, nz;
    double *x, *dx, *z, *z_prev, *nominals;
    bool time_event_defined;
    double next_time_event;
    bool terminated;
    /* progress (opts->progress): the clock is read every prog_stride steps */
    uint32_t prog_count, prog_stride;
    int64_t prog_checked_ns, prog_reported_ns;
} run;

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Reads the clock and reports when a period has passed. The stride adapts
 * so that the clock is read about every 2 to 20 ms whatever a step costs. */
static void progress_check(run *r, double t)
{
    int64_t now = mono_ns(), since = now - r->prog_checked_ns;
    r->prog_count = 0;
    r->prog_checked_ns = now;
    if (since < 2000000 && r->prog_stride < (1u << 20))
        r->prog_stride *= 2;
    else if (since > 20000000 && r->prog_stride > 1)
        r->prog_stride /= 2;
    if (now - r->prog_reported_ns >= (int64_t)FMI_PROGRESS_PERIOD_MS * 1000000) {
        r->prog_reported_ns = now;
        r->opts->progress(r->opts->progress_ctx, t);
    }
}

/* After each step: one branch when no one listens. */
static inline void progress(run *r, double t)
{
    if (r->opts->progress && ++r->prog_count >= r->prog_stride)
        progress_check(r, t);
}

static int record(run *r, double t)
{
    return r->rec ? fmi_recorder_sample(r->rec, r->inst, t) : 0;
}

static int resolve_settings(run *r, const fmi_model *m, const fmi_sim_options *o)
{
    fmi_sim_plan p;
    int rc = fmi_sim_plan_resolve(&p, &m->default_experiment, o);
    if (rc)
        return rc;
    r->start = p.start;
    r->stop = p.stop;
    r->rtol = p.rtol;
    r->interval = p.interval;
    r->step = p.step;
    r->n_steps = p.steps;
    return 0;
}

static int apply_inputs(run *r, double t, bool after_event, bool continuous_only)
{
    if (!r->opts->inputs)
        return 0;
    return fmi_inputs_apply(r->opts->inputs, r->inst, t, after_event, continuous_only);
}

/* --- Co-Simulation --------------------------------------------------- */

static int run_cs(run *r)
{
    int rc;
    double t = r->start;
    size_t per_output = (size_t)llround(r->interval / r->step);
    /* the step count, bounded by resolve_settings (sim_plan.c): the last
     * step lands on stop exactly */
    size_t n = (size_t)r->n_steps;

    /* At each communication point: set the inputs, sample, step (the
     * order FMPy uses, so direct feedthrough shows the current inputs). */
    for (size_t i = 0;; i++) {
        if ((rc = apply_inputs(r, t, true, false)))
            return rc;
        if ((i % per_output == 0 || i == n) && (rc = record(r, t)))
            return rc;
        if (i == n)
            break;
        double t_next = i + 1 == n ? r->stop : r->start + (double)(i + 1) * r->step;
        fmi_step_result res = { 0 };
        if ((rc = fmi_instance_do_step(r->inst, t, t_next - t, &res)))
            return rc;
        r->stats->steps++;
        t = t_next;
        progress(r, t);
        if (res.terminate) {
            r->stats->terminated_by_fmu = true;
            if (res.last_successful_time > r->start && res.last_successful_time < t)
                t = res.last_successful_time;
            if ((rc = record(r, t)))
                return rc;
            break;
        }
    }
    r->stats->stop_time_reached = t;
    return 0;
}

/* --- Model Exchange: events ------------------------------------------ */

/* Runs the event iteration (the FMU must already be in event mode), then
 * returns to continuous-time mode and refreshes states and nominals. */
static int event_iteration(run *r)
{
    int rc;
    fmi_event_result ev;
    int rounds = 0;
    r->time_event_defined = false;
    do {
        memset(&ev, 0, sizeof ev);
        if ((rc = fmi_instance_update_discrete_states(r->inst, &ev)))
            return rc;
        if (ev.terminate) {
            r->terminated = true;
            r->stats->terminated_by_fmu = true;
            return 0;
        }
        if (++rounds > 10000)
            return fmugw_error_set(FMUGW_EFMU, "event iteration did not converge after 10000 rounds");
    } while (ev.discrete_states_need_update);
    r->time_event_defined = ev.next_event_time_defined;
    r->next_time_event = ev.next_event_time;
    if ((rc = fmi_instance_enter_continuous_time_mode(r->inst)))
        return rc;
    if (r->nx && (rc = fmi_instance_get_states(r->inst, r->x)))
        return rc;
    if (r->nx && (rc = fmi_instance_get_nominals(r->inst, r->nominals)))
        return rc;
    if (r->nz && (rc = fmi_instance_get_event_indicators(r->inst, r->z_prev)))
        return rc;
    return 0;
}

/* The next time event: the FMU's, the inputs', or none (INFINITY). */
static double next_time_event(run *r, double t)
{
    double te = INFINITY;
    if (r->time_event_defined && r->next_time_event > t && !time_equal(r->next_time_event, t))
        te = r->next_time_event;
    if (r->opts->inputs) {
        double ti = fmi_inputs_next_event(r->opts->inputs, t);
        if (ti < te)
            te = ti;
    }
    return te;
}

/* Handles everything due at time t after an integration step: completed
 * step, time event, state event. Records before and after an event. */
static int after_step(run *r, double t, bool time_event, bool state_event, bool is_output, bool *handled)
{
    int rc;
    bool step_event = false, terminate = false;
    *handled = false;
    if ((rc = fmi_instance_completed_integrator_step(r->inst, &step_event, &terminate)))
        return rc;
    if (terminate) {
        r->terminated = true;
        r->stats->terminated_by_fmu = true;
        return record(r, t);
    }
    if (!(time_event || state_event || step_event))
        return is_output ? record(r, t) : 0;

    if ((rc = record(r, t)))
        return rc;
    *handled = true;
    r->stats->events++;
    r->stats->time_events += time_event;
    r->stats->state_events += state_event;
    if ((rc = fmi_instance_enter_event_mode(r->inst)))
        return rc;
    if ((rc = apply_inputs(r, t, true, false)))
        return rc;
    if ((rc = event_iteration(r)))
        return rc;
    return record(r, t);
}

/* --- Model Exchange: CVODE ------------------------------------------- */

typedef struct {
    run *r;
    int failed; /* an FMU call failed inside a callback: the message is set */
} cv_data;

static int set_time_and_states(run *r, double t, const double *x)
{
    int rc;
    if ((rc = fmi_instance_set_time(r->inst, t)))
        return rc;
    if (r->nx && (rc = fmi_instance_set_states(r->inst, x)))
        return rc;
    return apply_inputs(r, t, false, true);
}

static int cv_rhs(sunrealtype t, N_Vector y, N_Vector ydot, void *user)
{
    cv_data *d = user;
    run *r = d->r;
    double *yd = N_VGetArrayPointer(ydot);
    if (r->nx == 0) { /* the dummy state of a model without states */
        yd[0] = 0;
        return 0;
    }
    if (set_time_and_states(r, t, N_VGetArrayPointer(y)) || fmi_instance_get_derivatives(r->inst, yd)) {
        d->failed = 1;
        return -1;
    }
    return 0;
}

static int cv_roots(sunrealtype t, N_Vector y, sunrealtype *g, void *user)
{
    cv_data *d = user;
    run *r = d->r;
    if (set_time_and_states(r, t, r->nx ? N_VGetArrayPointer(y) : NULL) ||
        fmi_instance_get_event_indicators(r->inst, g)) {
        d->failed = 1;
        return -1;
    }
    return 0;
}

static void cv_error(int code, const char *module, const char *function, char *msg, void *user)
{
    cv_data *d = user;
    if (!d->failed)
        fmugw_error_set(FMUGW_EFMU, "CVODE %s (%s, %s): %s", code < 0 ? "error" : "warning", module, function, msg);
}

static int run_me_cvode(run *r)
{
    int rc = 0, flag;
    SUNContext ctx = NULL;
    void *mem = NULL;
    N_Vector y = NULL, abstol = NULL;
    SUNMatrix A = NULL;
    SUNLinearSolver LS = NULL;
    cv_data data = { r, 0 };
    size_t n = r->nx ? r->nx : 1;
    double t = r->start;

    if (SUNContext_Create(NULL, &ctx) != 0 || !(y = N_VNew_Serial((sunindextype)n, ctx)) ||
        !(abstol = N_VNew_Serial((sunindextype)n, ctx)) || !(mem = CVodeCreate(CV_BDF, ctx))) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "cannot create the CVODE solver");
        goto out;
    }
    CVodeSetErrHandlerFn(mem, cv_error, &data);
    double *yv = N_VGetArrayPointer(y), *av = N_VGetArrayPointer(abstol);
    for (size_t i = 0; i < n; i++) {
        yv[i] = r->nx ? r->x[i] : 0.0;
        av[i] = r->rtol * (r->nx && r->nominals[i] > 0 ? r->nominals[i] : 1.0);
    }
    if (CVodeInit(mem, cv_rhs, t, y) != CV_SUCCESS || CVodeSetUserData(mem, &data) != CV_SUCCESS ||
        CVodeSVtolerances(mem, r->rtol, abstol) != CV_SUCCESS ||
        !(A = SUNDenseMatrix((sunindextype)n, (sunindextype)n, ctx)) || !(LS = SUNLinSol_Dense(y, A, ctx)) ||
        CVodeSetLinearSolver(mem, LS, A) != CV_SUCCESS || CVodeSetMaxNumSteps(mem, 1000000) != CV_SUCCESS ||
        (r->nz && CVodeRootInit(mem, (int)r->nz, cv_roots) != CV_SUCCESS)) {
        rc = fmugw_error_set(FMUGW_ERROR, "cannot set up CVODE: %s", fmugw_error_last());
        goto out;
    }
    CVodeSetNoInactiveRootWarn(mem);
    CVodeSetMaxStep(mem, r->stop - r->start);

    if ((rc = record(r, t)))
        goto out;
    size_t k = 1; /* index of the next output time */
    while (!r->terminated && t < r->stop && !time_equal(t, r->stop)) {
        double t_out = fmin(r->start + (double)k * r->interval, r->stop);
        double t_ev = next_time_event(r, t);
        double target = fmin(t_out, t_ev);
        CVodeSetStopTime(mem, target);
        sunrealtype t_ret = t;
        flag = CVode(mem, target, y, &t_ret, CV_NORMAL);
        if (flag < 0) {
            rc = data.failed ? FMUGW_EFMU : fmugw_error_set(FMUGW_EFMU, "CVODE failed at t=%g: %s", t, fmugw_error_last());
            break;
        }
        r->stats->steps++;
        t = t_ret;
        progress(r, t);
        bool state_event = flag == CV_ROOT_RETURN;
        bool at_target = !state_event && time_equal(t, target);
        if (at_target)
            t = target;
        bool time_event = at_target && time_equal(t, t_ev);
        bool is_output = at_target && time_equal(t, t_out);
        if (r->nx)
            memcpy(r->x, yv, r->nx * sizeof *r->x);
        if ((rc = set_time_and_states(r, t, r->x)))
            break;
        bool handled;
        if ((rc = after_step(r, t, time_event, state_event, is_output, &handled)))
            break;
        if (is_output)
            k++;
        if (handled) {
            /* after an event the states may have jumped: restart */
            for (size_t i = 0; i < r->nx; i++)
                yv[i] = r->x[i];
            if (CVodeReInit(mem, t, y) != CV_SUCCESS) {
                rc = fmugw_error_set(FMUGW_EFMU, "CVODE cannot restart at t=%g", t);
                break;
            }
        }
    }
    r->stats->stop_time_reached = t;
out:
    SUNLinSolFree(LS);
    SUNMatDestroy(A);
    N_VDestroy(y);
    N_VDestroy(abstol);
    CVodeFree(&mem);
    SUNContext_Free(&ctx);
    return rc;
}

/* --- Model Exchange: explicit Euler ---------------------------------- */

static int run_me_euler(run *r)
{
    int rc;
    double t = r->start;
    size_t k = 1;
    if ((rc = record(r, t)))
        return rc;
    while (!r->terminated && t < r->stop && !time_equal(t, r->stop)) {
        double t_out = fmin(r->start + (double)k * r->interval, r->stop);
        double t_ev = next_time_event(r, t);
        double target = fmin(t_out, t_ev);
        double h = fmin(r->step, target - t);
        double t_next = time_equal(t + h, target) ? target : t + h;
        if (r->nx) {
            if ((rc = fmi_instance_get_derivatives(r->inst, r->dx)))
                return rc;
            for (size_t i = 0; i < r->nx; i++)
                r->x[i] += (t_next - t) * r->dx[i];
        }
        t = t_next;
        r->stats->steps++;
        progress(r, t);
        if ((rc = set_time_and_states(r, t, r->x)))
            return rc;
        bool state_event = false;
        if (r->nz) {
            if ((rc = fmi_instance_get_event_indicators(r->inst, r->z)))
                return rc;
            /* A crossing leaves a strictly signed value: an indicator that
             * an event has just set to exactly zero is not a new event. */
            for (size_t i = 0; i < r->nz; i++)
                if ((r->z_prev[i] > 0 && r->z[i] <= 0) || (r->z_prev[i] < 0 && r->z[i] >= 0))
                    state_event = true;
            memcpy(r->z_prev, r->z, r->nz * sizeof *r->z);
        }
        bool at_target = time_equal(t, target);
        bool time_event = at_target && time_equal(t, t_ev);
        bool is_output = at_target && time_equal(t, t_out);
        bool handled;
        if ((rc = after_step(r, t, time_event, state_event, is_output, &handled)))
            return rc;
        if (is_output)
            k++;
    }
    r->stats->stop_time_reached = t;
    return 0;
}

/* --- entry point ----------------------------------------------------- */

static int alloc_me(run *r)
{
    r->nx = fmi_instance_n_states(r->inst);
    r->nz = fmi_instance_n_event_indicators(r->inst);
    size_t nx = r->nx ? r->nx : 1, nz = r->nz ? r->nz : 1;
    r->x = calloc(nx, sizeof *r->x);
    r->dx = calloc(nx, sizeof *r->dx);
    r->nominals = calloc(nx, sizeof *r->nominals);
    r->z = calloc(nz, sizeof *r->z);
    r->z_prev = calloc(nz, sizeof *r->z_prev);
    if (!r->x || !r->dx || !r->nominals || !r->z || !r->z_prev)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    return 0;
}

int fmi_simulate(const fmi_model *model, fmi_binary *bin, const fmi_sim_options *opts, fmi_recorder *rec,
                 fmi_sim_stats *stats)
{
    int rc;
    fmi_sim_stats local_stats;
    run r = { 0 };
    r.model = model;
    r.opts = opts;
    r.rec = rec;
    r.stats = stats ? stats : &local_stats;
    memset(r.stats, 0, sizeof *r.stats);

    if (!model->interfaces[opts->iface].present)
        return fmugw_error_set(FMUGW_EUNSUPPORTED, "the FMU does not support %s", fmi_interface_name(opts->iface));
    if ((rc = resolve_settings(&r, model, opts)) || (rc = check_start_values(model, opts)))
        return rc;

    fmi_instance_options io = { 0 };
    io.resource_dir = opts->resource_dir;
    io.logging_on = opts->logging_on;
    io.log = opts->log;
    io.call_log = opts->call_log;
    io.log_ctx = opts->log_ctx;
    if ((rc = fmi_instance_new(&r.inst, bin, model, &io)))
        return rc;

    for (size_t i = 0; i < opts->n_start_values; i++)
        if ((rc = apply_start_value(r.inst, model, &opts->start_values[i])))
            goto out;
    if ((rc = apply_inputs(&r, r.start, false, false)))
        goto out;
    if ((rc = fmi_instance_enter_initialization(r.inst, r.rtol, r.start, r.stop)))
        goto out;
    if ((rc = apply_inputs(&r, r.start, false, false)))
        goto out;
    if ((rc = fmi_instance_exit_initialization(r.inst)))
        goto out;

    r.prog_stride = 1;
    if (opts->progress)
        r.prog_checked_ns = r.prog_reported_ns = mono_ns(); /* a run shorter than a period reports nothing */
    if (opts->iface == FMI_CS) {
        rc = run_cs(&r);
    } else {
        if ((rc = alloc_me(&r)))
            goto out;
        /* leaving initialization puts a ME FMU in event mode */
        if ((rc = apply_inputs(&r, r.start, true, false)) || (rc = event_iteration(&r)))
            goto out;
        if (!r.terminated)
            rc = opts->solver == FMI_SOLVER_EULER ? run_me_euler(&r) : run_me_cvode(&r);
    }
    if (rc == 0)
        rc = fmi_instance_terminate(r.inst);
out:
    fmi_instance_free(r.inst);
    free(r.x);
    free(r.dx);
    free(r.nominals);
    free(r.z);
    free(r.z_prev);
    return rc;
}
