/*
 * fmu_core.c - the FMI machinery shared by both wrappers (see fmu_core.h).
 *
 * Co-Simulation solver: fmu_do_step() integrates with explicit Euler at a
 * fixed internal step of min(communicationStepSize, FMU_CS_STEP). A pending
 * time event shortens the step so that it is hit exactly. After every
 * internal step the event indicators are compared with their previous
 * values; a change of sign domain (z > 0 versus z <= 0) or a reached time
 * event runs the event iteration (the model's event_update() until it asks
 * for no further update), so state events such as a bounce happen in
 * Co-Simulation too, at the end of the internal step that crossed them.
 */
#include "fmu_core.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EVENT_ITERATIONS 100

static const char *const category_names[FMU_LOG_N] = {
    "logEvents", "logStatusWarning", "logStatusDiscard", "logStatusError", "logStatusFatal",
};

void fmu_log(fmu_instance *inst, fmu_status status, fmu_log_category cat, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    if (!inst || !inst->emit || (unsigned)cat >= FMU_LOG_N)
        return;
    if (status < FMU_ERROR && !(inst->logging_on && inst->log_enabled[cat]))
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    inst->emit(inst, status, category_names[cat], buf);
}

static void log_error(fmu_instance *inst, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_error(fmu_instance *inst, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fmu_log(inst, FMU_ERROR, FMU_LOG_ERROR, "%s", buf);
}

double fmu_time(const fmu_instance *inst)
{
    return inst->time;
}

const char *fmu_resource_dir(const fmu_instance *inst)
{
    return inst->resource_dir;
}

static char *dup_string(fmu_instance *inst, const char *s, size_t extra)
{
    size_t n = strlen(s);
    char *p = inst->alloc(n + 1 + extra, 1);

    if (p)
        memcpy(p, s, n + 1);
    return p;
}

int fmu_set_string(fmu_instance *inst, char **field, const char *value)
{
    char *copy = NULL;

    if (value) {
        copy = dup_string(inst, value, 0);
        if (!copy) {
            log_error(inst, "out of memory copying a string");
            return -1;
        }
    }
    if (*field)
        inst->release(*field);
    *field = copy;
    return 0;
}

int fmu_set_binary(fmu_instance *inst, fmu_bytes *field, const uint8_t *data, size_t size)
{
    uint8_t *copy = NULL;

    if (size > 0) {
        if (!data) {
            log_error(inst, "binary value of %zu bytes is NULL", size);
            return -1;
        }
        copy = inst->alloc(size, 1);
        if (!copy) {
            log_error(inst, "out of memory copying %zu bytes", size);
            return -1;
        }
        memcpy(copy, data, size);
    }
    if (field->data)
        inst->release(field->data);
    field->data = copy;
    field->size = copy ? size : 0;
    return 0;
}

static const fmu_var *find_var(const fmu_instance *inst, uint32_t vr)
{
    const fmu_model *m = inst->model;

    for (size_t i = 0; i < m->n_vars; i++)
        if (m->vars[i].vr == vr && m->vars[i].min_version <= inst->version)
            return &m->vars[i];
    return NULL;
}

static void *field_of(const fmu_instance *inst, const fmu_var *v)
{
    return (char *)inst->data + v->offset;
}

/* Frees the owned memory in the data struct. */
static void release_data(fmu_instance *inst)
{
    const fmu_model *m = inst->model;

    if (!inst->data)
        return;
    for (size_t i = 0; i < m->n_vars; i++) {
        const fmu_var *v = &m->vars[i];
        if (v->is_time)
            continue;
        for (size_t k = 0; k < v->count; k++) {
            if (v->type == FMU_STRING) {
                char **s = (char **)field_of(inst, v) + k;
                if (*s)
                    inst->release(*s);
                *s = NULL;
            } else if (v->type == FMU_BINARY) {
                fmu_bytes *b = (fmu_bytes *)field_of(inst, v) + k;
                if (b->data)
                    inst->release(b->data);
                b->data = NULL;
                b->size = 0;
            }
        }
    }
}

/* Start values, setup(), and the initial bookkeeping. */
static int start_model(fmu_instance *inst)
{
    const fmu_model *m = inst->model;

    memset(inst->data, 0, m->data_size);
    inst->time = 0;
    inst->start_time = 0;
    inst->stop_time_defined = false;
    inst->stop_time = 0;
    inst->next_time_defined = false;
    inst->next_time = 0;
    inst->terminate_requested = false;
    inst->dirty = true;
    inst->state = FMU_ST_INSTANTIATED;
    if (m->start(inst, inst->data) != 0)
        return -1;
    if (m->setup && m->setup(inst, inst->data) != 0)
        return -1;
    return 0;
}

fmu_instance *fmu_instance_new(const fmu_new_args *a)
{
    const fmu_model *m = &fmu_model_def;
    void *(*alloc)(size_t, size_t) = a->alloc ? a->alloc : calloc;
    void (*release)(void *) = a->release ? a->release : free;
    fmu_instance *inst = alloc(1, sizeof *inst);
    size_t n;

    if (!inst)
        return NULL;
    inst->model = m;
    inst->version = a->version;
    inst->cs = a->cs;
    inst->alloc = alloc;
    inst->release = release;
    inst->emit = a->emit;
    inst->emit_env = a->emit_env;
    inst->emit_cb = a->emit_cb;
    inst->logging_on = a->logging_on;
    for (int i = 0; i < FMU_LOG_N; i++)
        inst->log_enabled[i] = true;
    inst->state = FMU_ST_INSTANTIATED;

    inst->name = dup_string(inst, a->name ? a->name : "", 0);
    if (!inst->name)
        goto fail;
    if (!a->name || !a->name[0]) {
        log_error(inst, "instanceName must be a non-empty string");
        goto fail;
    }
    if (!a->token || strcmp(a->token, m->token) != 0) {
        log_error(inst, "instantiation token \"%s\" does not match \"%s\" of model %s",
                  a->token ? a->token : "(null)", m->token, m->name);
        goto fail;
    }
    if (a->resource_dir && a->resource_dir[0]) {
        n = strlen(a->resource_dir);
        inst->resource_dir = dup_string(inst, a->resource_dir, 1);
        if (!inst->resource_dir)
            goto oom;
        if (inst->resource_dir[n - 1] != '/') {
            inst->resource_dir[n] = '/';
            inst->resource_dir[n + 1] = '\0';
        }
    }
    inst->data = alloc(1, m->data_size);
    if (!inst->data)
        goto oom;
    if (m->n_event_indicators > 0) {
        inst->z_prev = alloc(m->n_event_indicators, sizeof(double));
        if (!inst->z_prev)
            goto oom;
    }
    if (start_model(inst) != 0)
        goto fail;
    fmu_log(inst, FMU_OK, FMU_LOG_EVENTS, "instantiated %s (FMI %d, %s)", m->name, inst->version,
            inst->cs ? "Co-Simulation" : "Model Exchange");
    return inst;
oom:
    log_error(inst, "out of memory");
fail:
    fmu_instance_free(inst);
    return NULL;
}

void fmu_instance_free(fmu_instance *inst)
{
    if (!inst)
        return;
    release_data(inst);
    if (inst->data)
        inst->release(inst->data);
    if (inst->z_prev)
        inst->release(inst->z_prev);
    if (inst->resource_dir)
        inst->release(inst->resource_dir);
    if (inst->name)
        inst->release(inst->name);
    inst->release(inst);
}

fmu_status fmu_instance_reset(fmu_instance *inst)
{
    release_data(inst);
    if (start_model(inst) != 0) {
        inst->state = FMU_ST_ERROR;
        return FMU_ERROR;
    }
    return FMU_OK;
}

static const char *state_name(unsigned state)
{
    switch (state) {
    case FMU_ST_INSTANTIATED: return "Instantiated";
    case FMU_ST_INIT: return "Initialization Mode";
    case FMU_ST_EVENT: return "Event Mode";
    case FMU_ST_CONT: return "Continuous-Time Mode";
    case FMU_ST_STEP: return "Step Mode";
    case FMU_ST_TERMINATED: return "Terminated";
    case FMU_ST_ERROR: return "Error";
    default: return "?";
    }
}

bool fmu_allowed(fmu_instance *inst, const char *fn, unsigned mask)
{
    if (!inst)
        return false;
    if (inst->state & mask)
        return true;
    log_error(inst, "%s must not be called in state %s", fn, state_name(inst->state));
    return false;
}

bool fmu_require_interface(fmu_instance *inst, const char *fn, bool cs)
{
    if (inst->cs == cs)
        return true;
    log_error(inst, "%s is a %s function but this instance is %s", fn,
              cs ? "Co-Simulation" : "Model Exchange",
              inst->cs ? "Co-Simulation" : "Model Exchange");
    return false;
}

fmu_status fmu_unsupported(fmu_instance *inst, const char *fn)
{
    log_error(inst, "%s is not supported by %s", fn, inst->model->name);
    return FMU_ERROR;
}

fmu_status fmu_set_debug_logging(fmu_instance *inst, bool on, size_t n, const char *const cats[])
{
    bool enabled[FMU_LOG_N] = { false };

    if (n > 0 && !cats) {
        log_error(inst, "categories is NULL but nCategories is %zu", n);
        return FMU_ERROR;
    }
    for (size_t i = 0; i < n; i++) {
        int found = -1;
        for (int c = 0; c < FMU_LOG_N; c++)
            if (cats[i] && strcmp(cats[i], category_names[c]) == 0)
                found = c;
        if (found < 0) {
            log_error(inst, "unknown log category \"%s\"", cats[i] ? cats[i] : "(null)");
            return FMU_ERROR;
        }
        enabled[found] = true;
    }
    inst->logging_on = on;
    for (int c = 0; c < FMU_LOG_N; c++)
        inst->log_enabled[c] = n == 0 ? true : enabled[c];
    return FMU_OK;
}

fmu_status fmu_calculate(fmu_instance *inst)
{
    if (!inst->dirty)
        return FMU_OK;
    if (inst->model->calculate(inst, inst->data) != 0)
        return FMU_ERROR;
    inst->dirty = false;
    return FMU_OK;
}

static size_t api_size(fmu_api api)
{
    switch (api) {
    case FMU_API_F32: return sizeof(float);
    case FMU_API_F64: return sizeof(double);
    case FMU_API_I8: return sizeof(int8_t);
    case FMU_API_U8: return sizeof(uint8_t);
    case FMU_API_I16: return sizeof(int16_t);
    case FMU_API_U16: return sizeof(uint16_t);
    case FMU_API_I32: return sizeof(int32_t);
    case FMU_API_U32: return sizeof(uint32_t);
    case FMU_API_I64: return sizeof(int64_t);
    case FMU_API_U64: return sizeof(uint64_t);
    case FMU_API_BOOL: return sizeof(bool);
    case FMU_API_STRING: return sizeof(const char *);
    case FMU_API_BINARY: return sizeof(const uint8_t *);
    case FMU_API_BOOL_INT: return sizeof(int);
    }
    return 0;
}

static const char *api_name(const fmu_instance *inst, fmu_api api)
{
    static const char *const v3[] = { "Float32", "Float64", "Int8",    "UInt8",  "Int16",
                                      "UInt16",  "Int32",   "UInt32",  "Int64",  "UInt64",
                                      "Boolean", "String",  "Binary" };
    if (inst->version == 2) {
        switch (api) {
        case FMU_API_F64: return "Real";
        case FMU_API_I32: return "Integer";
        case FMU_API_BOOL_INT: return "Boolean";
        case FMU_API_STRING: return "String";
        default: break;
        }
    }
    if ((unsigned)api < sizeof v3 / sizeof v3[0])
        return v3[api];
    return "?";
}

/* Whether a variable stored as `t` is accessed with `api`. */
static bool type_matches(const fmu_instance *inst, fmu_type t, fmu_api api)
{
    if (t == FMU_ENUM)
        return api == (inst->version == 2 ? FMU_API_I32 : FMU_API_I64);
    if (t == FMU_BOOL && api == FMU_API_BOOL_INT)
        return true;
    return (int)t == (int)api;
}

/* Looks up and type-checks one value reference; logs on failure. */
static const fmu_var *resolve(fmu_instance *inst, fmu_api api, uint32_t vr, const char *what)
{
    const fmu_var *v = find_var(inst, vr);

    if (!v) {
        log_error(inst, "%s%s: unknown value reference %u", what, api_name(inst, api), vr);
        return NULL;
    }
    if (!type_matches(inst, v->type, api)) {
        log_error(inst, "%s%s: variable %s (value reference %u) has another type", what,
                  api_name(inst, api), v->name, vr);
        return NULL;
    }
    return v;
}

fmu_status fmu_get(fmu_instance *inst, fmu_api api, const uint32_t vr[], size_t nvr, void *values,
                   size_t n_values, size_t *sizes)
{
    size_t idx = 0;
    size_t esz = api_size(api);

    if (nvr > 0 && (!vr || !values || (api == FMU_API_BINARY && !sizes))) {
        log_error(inst, "get%s: NULL array argument", api_name(inst, api));
        return FMU_ERROR;
    }
    if (fmu_calculate(inst) != FMU_OK)
        return FMU_ERROR;
    for (size_t i = 0; i < nvr; i++) {
        const fmu_var *v = resolve(inst, api, vr[i], "get");
        if (!v)
            return FMU_ERROR;
        if (idx + v->count > n_values) {
            log_error(inst, "get%s: nValues (%zu) is too small for variable %s",
                      api_name(inst, api), n_values, v->name);
            return FMU_ERROR;
        }
        for (size_t k = 0; k < v->count; k++, idx++) {
            char *dst = (char *)values + idx * esz;
            if (v->is_time) {
                memcpy(dst, &inst->time, sizeof(double));
            } else if (v->type == FMU_ENUM && api == FMU_API_I32) {
                int32_t x = (int32_t)((const int64_t *)field_of(inst, v))[k];
                memcpy(dst, &x, sizeof x);
            } else if (v->type == FMU_BOOL && api == FMU_API_BOOL_INT) {
                int x = ((const bool *)field_of(inst, v))[k] ? 1 : 0;
                memcpy(dst, &x, sizeof x);
            } else if (v->type == FMU_STRING) {
                const char *s = ((char *const *)field_of(inst, v))[k];
                if (!s)
                    s = "";
                memcpy(dst, &s, sizeof s);
            } else if (v->type == FMU_BINARY) {
                const fmu_bytes *b = (const fmu_bytes *)field_of(inst, v) + k;
                const uint8_t *p = b->data;
                memcpy(dst, &p, sizeof p);
                sizes[idx] = b->size;
            } else {
                memcpy(dst, (const char *)field_of(inst, v) + k * esz, esz);
            }
        }
    }
    if (idx != n_values) {
        log_error(inst, "get%s: nValues is %zu but the variables have %zu values",
                  api_name(inst, api), n_values, idx);
        return FMU_ERROR;
    }
    return FMU_OK;
}

static bool may_set(fmu_instance *inst, const fmu_var *v)
{
    unsigned mask = 0;

    switch (v->settable) {
    case FMU_SET_NEVER: break;
    case FMU_SET_INIT: mask = FMU_ST_INSTANTIATED | FMU_ST_INIT; break;
    case FMU_SET_TUNABLE:
        mask = FMU_ST_INSTANTIATED | FMU_ST_INIT | FMU_ST_EVENT | FMU_ST_STEP;
        break;
    case FMU_SET_INPUT:
        mask = FMU_ST_INSTANTIATED | FMU_ST_INIT | FMU_ST_EVENT | FMU_ST_CONT | FMU_ST_STEP;
        break;
    }
    if (inst->state & mask)
        return true;
    if (v->settable == FMU_SET_NEVER)
        log_error(inst, "variable %s (value reference %u) cannot be set", v->name, v->vr);
    else
        log_error(inst, "variable %s (value reference %u) cannot be set in state %s", v->name,
                  v->vr, state_name(inst->state));
    return false;
}

fmu_status fmu_set(fmu_instance *inst, fmu_api api, const uint32_t vr[], size_t nvr,
                   const void *values, size_t n_values, const size_t *sizes)
{
    size_t idx = 0;
    size_t esz = api_size(api);

    if (nvr > 0 && (!vr || !values || (api == FMU_API_BINARY && !sizes))) {
        log_error(inst, "set%s: NULL array argument", api_name(inst, api));
        return FMU_ERROR;
    }
    /* Check everything first so that a failing call changes nothing. */
    for (size_t i = 0; i < nvr; i++) {
        const fmu_var *v = resolve(inst, api, vr[i], "set");
        if (!v || !may_set(inst, v))
            return FMU_ERROR;
        idx += v->count;
    }
    if (idx != n_values) {
        log_error(inst, "set%s: nValues is %zu but the variables have %zu values",
                  api_name(inst, api), n_values, idx);
        return FMU_ERROR;
    }
    idx = 0;
    for (size_t i = 0; i < nvr; i++) {
        const fmu_var *v = find_var(inst, vr[i]);
        for (size_t k = 0; k < v->count; k++, idx++) {
            const char *src = (const char *)values + idx * esz;
            if (v->type == FMU_ENUM && api == FMU_API_I32) {
                int32_t x;
                memcpy(&x, src, sizeof x);
                ((int64_t *)field_of(inst, v))[k] = x;
            } else if (v->type == FMU_BOOL && api == FMU_API_BOOL_INT) {
                int x;
                memcpy(&x, src, sizeof x);
                ((bool *)field_of(inst, v))[k] = x != 0;
            } else if (v->type == FMU_BOOL) {
                bool x;
                memcpy(&x, src, sizeof x);
                ((bool *)field_of(inst, v))[k] = x;
            } else if (v->type == FMU_STRING) {
                const char *s;
                memcpy(&s, src, sizeof s);
                if (fmu_set_string(inst, (char **)field_of(inst, v) + k, s ? s : "") != 0)
                    return FMU_ERROR;
            } else if (v->type == FMU_BINARY) {
                const uint8_t *p;
                memcpy(&p, src, sizeof p);
                if (fmu_set_binary(inst, (fmu_bytes *)field_of(inst, v) + k, p, sizes[idx]) != 0)
                    return FMU_ERROR;
            } else {
                memcpy((char *)field_of(inst, v) + k * esz, src, esz);
            }
        }
    }
    if (nvr > 0)
        inst->dirty = true;
    return FMU_OK;
}

static double *state_field(fmu_instance *inst, uint32_t vr)
{
    const fmu_var *v = find_var(inst, vr);
    return (double *)field_of(inst, v);
}

static bool check_count(fmu_instance *inst, const char *fn, size_t n, size_t expected,
                        const void *array)
{
    if (n != expected) {
        log_error(inst, "%s: n is %zu but the model has %zu", fn, n, expected);
        return false;
    }
    if (n > 0 && !array) {
        log_error(inst, "%s: NULL array", fn);
        return false;
    }
    return true;
}

fmu_status fmu_get_states(fmu_instance *inst, double x[], size_t n)
{
    const fmu_model *m = inst->model;

    if (!check_count(inst, "getContinuousStates", n, m->n_states, x))
        return FMU_ERROR;
    for (size_t i = 0; i < n; i++)
        x[i] = *state_field(inst, m->state_vrs[i]);
    return FMU_OK;
}

fmu_status fmu_set_states(fmu_instance *inst, const double x[], size_t n)
{
    const fmu_model *m = inst->model;

    if (!check_count(inst, "setContinuousStates", n, m->n_states, x))
        return FMU_ERROR;
    for (size_t i = 0; i < n; i++)
        *state_field(inst, m->state_vrs[i]) = x[i];
    inst->dirty = true;
    return FMU_OK;
}

fmu_status fmu_get_derivatives(fmu_instance *inst, double dx[], size_t n)
{
    const fmu_model *m = inst->model;

    if (!check_count(inst, "getDerivatives", n, m->n_states, dx))
        return FMU_ERROR;
    if (fmu_calculate(inst) != FMU_OK)
        return FMU_ERROR;
    for (size_t i = 0; i < n; i++)
        dx[i] = *state_field(inst, m->der_vrs[i]);
    return FMU_OK;
}

fmu_status fmu_get_event_indicators(fmu_instance *inst, double z[], size_t n)
{
    const fmu_model *m = inst->model;

    if (!check_count(inst, "getEventIndicators", n, m->n_event_indicators, z))
        return FMU_ERROR;
    if (n == 0)
        return FMU_OK;
    if (fmu_calculate(inst) != FMU_OK)
        return FMU_ERROR;
    m->event_indicators(inst, inst->data, z);
    return FMU_OK;
}

fmu_status fmu_get_nominals(fmu_instance *inst, double nominals[], size_t n)
{
    if (!check_count(inst, "getNominalsOfContinuousStates", n, inst->model->n_states, nominals))
        return FMU_ERROR;
    for (size_t i = 0; i < n; i++)
        nominals[i] = 1.0;
    return FMU_OK;
}

fmu_status fmu_set_time(fmu_instance *inst, double t)
{
    if (!isfinite(t)) {
        log_error(inst, "setTime: time is not finite");
        return FMU_ERROR;
    }
    inst->time = t;
    inst->dirty = true;
    return FMU_OK;
}

fmu_status fmu_enter_init(fmu_instance *inst, double start, bool stop_defined, double stop)
{
    if (!isfinite(start) || (stop_defined && (!isfinite(stop) || stop < start))) {
        log_error(inst, "invalid experiment: startTime %g, stopTime %g", start, stop);
        return FMU_ERROR;
    }
    inst->start_time = start;
    inst->stop_time_defined = stop_defined;
    inst->stop_time = stop;
    inst->time = start;
    inst->dirty = true;
    inst->state = FMU_ST_INIT;
    return FMU_OK;
}

fmu_status fmu_update_discrete(fmu_instance *inst, fmu_event_result *ev)
{
    const fmu_model *m = inst->model;

    memset(ev, 0, sizeof *ev);
    if (fmu_calculate(inst) != FMU_OK)
        return FMU_ERROR;
    if (m->event_update) {
        m->event_update(inst, inst->data, ev);
        inst->dirty = true;
    }
    inst->next_time_defined = ev->next_time_defined;
    inst->next_time = ev->next_time;
    if (ev->terminate)
        inst->terminate_requested = true;
    fmu_log(inst, FMU_OK, FMU_LOG_EVENTS, "event at t=%.17g%s%s%s", inst->time,
            ev->states_changed ? ", states changed" : "",
            ev->terminate ? ", termination requested" : "",
            ev->next_time_defined ? ", next time event pending" : "");
    if (fmu_calculate(inst) != FMU_OK)
        return FMU_ERROR;
    return FMU_OK;
}

/* Event iteration of the CS solver; refreshes z_prev. */
static fmu_status event_iteration(fmu_instance *inst)
{
    fmu_event_result ev;
    int i;

    for (i = 0; i < MAX_EVENT_ITERATIONS; i++) {
        if (fmu_update_discrete(inst, &ev) != FMU_OK)
            return FMU_ERROR;
        if (!ev.again || ev.terminate)
            break;
    }
    if (i == MAX_EVENT_ITERATIONS) {
        log_error(inst, "event iteration did not converge at t=%g", inst->time);
        return FMU_ERROR;
    }
    return fmu_get_event_indicators(inst, inst->z_prev, inst->model->n_event_indicators);
}

fmu_status fmu_exit_init(fmu_instance *inst)
{
    if (fmu_calculate(inst) != FMU_OK)
        return FMU_ERROR;
    if (!inst->cs) {
        inst->state = FMU_ST_EVENT;
        return FMU_OK;
    }
    if (event_iteration(inst) != FMU_OK)
        return FMU_ERROR;
    inst->state = FMU_ST_STEP;
    return FMU_OK;
}

fmu_status fmu_do_step(fmu_instance *inst, double t0, double h, bool *terminate)
{
    const fmu_model *m = inst->model;
    size_t nx = m->n_states, nz = m->n_event_indicators;
    double x[8], dx[8], z[8];
    double t_end, dt_max, tol;

    *terminate = false;
    if (nx > 8 || nz > 8) {
        log_error(inst, "doStep: the model has too many states or event indicators");
        return FMU_ERROR;
    }
    if (!isfinite(t0) || !isfinite(h) || h < 0) {
        log_error(inst, "doStep: invalid communication point %g or step size %g", t0, h);
        return FMU_ERROR;
    }
    if (fabs(t0 - inst->time) > 1e-9 * fmax(1.0, fabs(t0))) {
        log_error(inst, "doStep: currentCommunicationPoint %.17g is not the FMU's time %.17g", t0,
                  inst->time);
        return FMU_ERROR;
    }
    inst->time = t0;
    t_end = t0 + h;
    tol = 1e-12 * fmax(1.0, fabs(t_end));
    dt_max = fmin(h, FMU_CS_STEP);

    while (inst->time < t_end - tol) {
        double dt = fmin(dt_max, t_end - inst->time);
        bool time_event = false, state_event = false;

        if (inst->next_time_defined && inst->next_time <= inst->time + dt + tol) {
            dt = fmax(0.0, inst->next_time - inst->time);
            time_event = true;
        }
        if (fmu_get_states(inst, x, nx) != FMU_OK || fmu_get_derivatives(inst, dx, nx) != FMU_OK)
            return FMU_ERROR;
        for (size_t i = 0; i < nx; i++)
            x[i] += dt * dx[i];
        if (fmu_set_states(inst, x, nx) != FMU_OK)
            return FMU_ERROR;
        if (time_event)
            inst->time = fmax(inst->time, inst->next_time);
        else if (t_end - (inst->time + dt) <= tol)
            inst->time = t_end;
        else
            inst->time += dt;
        inst->dirty = true;

        if (fmu_get_event_indicators(inst, z, nz) != FMU_OK)
            return FMU_ERROR;
        for (size_t i = 0; i < nz; i++)
            if ((z[i] > 0) != (inst->z_prev[i] > 0))
                state_event = true;
        if (time_event || state_event) {
            if (event_iteration(inst) != FMU_OK)
                return FMU_ERROR;
            if (time_event && inst->next_time_defined && inst->next_time <= inst->time) {
                log_error(inst, "doStep: next time event %.17g is not after t=%.17g",
                          inst->next_time, inst->time);
                return FMU_ERROR;
            }
        } else if (nz > 0) {
            memcpy(inst->z_prev, z, nz * sizeof z[0]);
        }
        if (inst->terminate_requested) {
            *terminate = true;
            fmu_log(inst, FMU_OK, FMU_LOG_EVENTS, "model requested termination at t=%g",
                    inst->time);
            return FMU_OK;
        }
    }
    inst->time = t_end;
    inst->dirty = true;
    return fmu_calculate(inst);
}
