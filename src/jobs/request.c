/*
 * request.c - POST /fmu/execute bodies: validation against the FMU's model
 * summary (the registry's JSON: interfaces, default experiment, variables
 * with type, causality, variability and start), the canonical settings
 * stored with the job and hashed for result reuse, the input signals as
 * CSV text, and the runner's argument vector built back from the stored
 * settings (through fmi_sim_args, as `fmugw sim` builds it).
 *
 * The settings are checked with the runner's own rules: the accepted
 * request is turned into the fmi_sim_args the runner will get and passed
 * through fmi_sim_args_check() and fmi_sim_plan_resolve() (with the FMU's
 * default experiment), so what is accepted here is what the runner runs.
 * Lists are bounded (sim_args.h, JOB_MAX_INPUT_COLUMNS) and variable names
 * are looked up in a sorted index of the model's variables.
 *
 * The limits (timeout, CPU, memory) are validated here and turned into
 * the effective values the worker enforces (whole milliseconds of wall
 * time, whole seconds of CPU): the reservation is priced from those.
 *
 * Every problem is collected as {field, message} so one 422 answer names
 * all of them (the first JOB_MAX_PROBLEMS). Nothing here touches the
 * database or charges anything.
 */
#include "jobs/jobs_internal.h"

#include "fmi/results.h"
#include "fmi/sim_args.h"
#include "fmi/sim_plan.h"
#include "util/crypto.h"
#include "util/error.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INPUTS_CSV_MAX ((size_t)8 << 20)
#define MAX_LIST 10000 /* elements of one array start value */

static const char *const allowed[] = {
    "fmu_id", "start_time", "stop_time", "output_interval", "step_size", "interface", "solver",
    "relative_tolerance", "start_values", "inputs", "output_variables", "output_all", "output_format",
    "timeout_s", "cpu_limit_s", "memory_limit_mb", "reuse",
};

static void err(json_t *errors, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void err(json_t *errors, const char *field, const char *fmt, ...)
{
    size_t n = json_array_size(errors);
    if (n > JOB_MAX_PROBLEMS)
        return;
    if (n == JOB_MAX_PROBLEMS) {
        json_array_append_new(errors, json_pack("{s:s,s:s}", "field", "request", "message",
                                                "more problems, not listed"));
        return;
    }
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_array_append_new(errors, json_pack("{s:s,s:s}", "field", field, "message", msg));
}

/* The model's variables sorted by name: one O(n log n) sort per request,
 * then O(log n) per name looked up. */
typedef struct {
    const char *name;
    const json_t *var;
} var_ref;

typedef struct {
    var_ref *v;
    size_t n;
} var_index;

static int ref_cmp(const void *a, const void *b)
{
    return strcmp(((const var_ref *)a)->name, ((const var_ref *)b)->name);
}

static int index_build(var_index *ix, const json_t *summary)
{
    const json_t *vars = json_object_get(summary, "variables");
    size_t i;
    const json_t *v;
    ix->n = 0;
    if (!(ix->v = malloc((json_array_size(vars) + 1) * sizeof *ix->v)))
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    json_array_foreach(vars, i, v)
    {
        const char *n = json_string_value(json_object_get(v, "name"));
        if (n) {
            ix->v[ix->n].name = n;
            ix->v[ix->n++].var = v;
        }
    }
    qsort(ix->v, ix->n, sizeof *ix->v, ref_cmp);
    return 0;
}

static const json_t *find_var(const var_index *ix, const char *name)
{
    var_ref key = { name, NULL };
    const var_ref *r = ix->n ? bsearch(&key, ix->v, ix->n, sizeof *ix->v, ref_cmp) : NULL;
    return r ? r->var : NULL;
}

static const char *vstr(const json_t *v, const char *key)
{
    const char *s = json_string_value(json_object_get(v, key));
    return s ? s : "";
}

typedef enum { T_REAL, T_INT, T_ENUM, T_BOOL, T_STRING, T_OTHER } vtype;

static vtype var_type(const json_t *v)
{
    const char *t = vstr(v, "type");
    if (!strcmp(t, "Real") || !strncmp(t, "Float", 5))
        return T_REAL;
    if (!strcmp(t, "Enumeration"))
        return T_ENUM;
    if (!strcmp(t, "Integer") || !strncmp(t, "Int", 3) || !strncmp(t, "UInt", 4))
        return T_INT;
    if (!strcmp(t, "Boolean"))
        return T_BOOL;
    if (!strcmp(t, "String"))
        return T_STRING;
    return T_OTHER;
}

/* The engine's rule (sim.c), with "has a start value" standing for
 * initial exact/approx, which the summary does not carry. */
static bool settable(const json_t *v)
{
    const char *c = vstr(v, "causality");
    if (!strcmp(c, "input"))
        return true;
    bool cause = !strcmp(c, "parameter") || !strcmp(c, "structuralParameter") || !strcmp(c, "local") ||
                 !strcmp(c, "output");
    return cause && strcmp(vstr(v, "variability"), "constant") != 0 && json_is_string(json_object_get(v, "start"));
}

static bool input_ok(const json_t *v)
{
    const char *c = vstr(v, "causality");
    return !strcmp(c, "input") || (!strcmp(c, "parameter") && !strcmp(vstr(v, "variability"), "tunable"));
}

static bool finite_number(const json_t *j, double *out)
{
    if (!json_is_number(j))
        return false;
    *out = json_number_value(j);
    return isfinite(*out);
}

static void fmt_double(char *buf, double v)
{
    fmi_format_double(buf, v);
}

/* A start value as the text `fmugw sim --start-value` takes; NULL (and an
 * error) when the JSON type does not fit the variable. */
static char *start_text(json_t *errors, const char *field, const json_t *var, const json_t *val)
{
    char buf[64];
    vtype t = var_type(var);
    switch (t) {
    case T_REAL:
        if (json_is_array(val)) {
            size_t n = json_array_size(val), i;
            if (n == 0 || n > MAX_LIST)
                break;
            char *s = calloc(n, 34);
            if (!s)
                return NULL;
            json_t *e;
            json_array_foreach(val, i, e)
            {
                double d;
                if (!finite_number(e, &d)) {
                    free(s);
                    err(errors, field, "expected a number or an array of numbers");
                    return NULL;
                }
                fmt_double(buf, d);
                if (i)
                    strcat(s, " ");
                strcat(s, buf);
            }
            return s;
        }
        {
            double d;
            if (finite_number(val, &d)) {
                fmt_double(buf, d);
                return strdup(buf);
            }
        }
        err(errors, field, "expected a number (%s variable)", vstr(var, "type"));
        return NULL;
    case T_INT:
    case T_ENUM:
        if (json_is_integer(val)) {
            snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(val));
            return strdup(buf);
        }
        if (t == T_ENUM && json_is_string(val))
            return strdup(json_string_value(val));
        err(errors, field, "expected an integer (%s variable)", vstr(var, "type"));
        return NULL;
    case T_BOOL:
        if (json_is_boolean(val))
            return strdup(json_is_true(val) ? "true" : "false");
        if (json_is_integer(val) && (json_integer_value(val) == 0 || json_integer_value(val) == 1))
            return strdup(json_integer_value(val) ? "true" : "false");
        err(errors, field, "expected true or false (Boolean variable)");
        return NULL;
    case T_STRING:
    case T_OTHER:
        if (json_is_string(val))
            return strdup(json_string_value(val));
        err(errors, field, "expected a string (%s variable)", vstr(var, "type"));
        return NULL;
    }
    err(errors, field, "expected a number or an array of numbers");
    return NULL;
}

/* ---- inputs ------------------------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
    bool failed;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = cap > INPUTS_CSV_MAX ? NULL : realloc(b->p, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void sb_quoted(sbuf *b, const char *s)
{
    sb_add(b, "\"", 1);
    for (; *s; s++) {
        sb_add(b, s, 1);
        if (*s == '"')
            sb_add(b, "\"", 1); /* "" for an embedded quote */
    }
    sb_add(b, "\"", 1);
}

/* Checks the header row of an uploaded CSV: the first column is time, the
 * others name input variables. */
static void check_csv_header(json_t *errors, const var_index *summary, const char *csv)
{
    size_t line_len = strcspn(csv, "\r\n");
    char *line = strndup(csv, line_len);
    if (!line)
        return;
    size_t col = 0;
    char *p = line;
    while (p) {
        char name[512];
        size_t n = 0;
        while (*p == ' ')
            p++;
        if (*p == '"') {
            p++;
            while (*p && !(*p == '"' && p[1] != '"')) {
                if (*p == '"')
                    p++;
                if (n < sizeof name - 1)
                    name[n++] = *p;
                p++;
            }
            if (*p == '"')
                p++;
        } else {
            while (*p && *p != ',') {
                if (n < sizeof name - 1)
                    name[n++] = *p;
                p++;
            }
        }
        while (n && name[n - 1] == ' ')
            n--;
        name[n] = '\0';
        while (*p == ' ')
            p++;
        if (col > JOB_MAX_INPUT_COLUMNS) {
            err(errors, "inputs.csv", "more than %u input columns", JOB_MAX_INPUT_COLUMNS);
            break;
        }
        if (col > 0) {
            const json_t *v = find_var(summary, name);
            if (!v)
                err(errors, "inputs.csv", "column \"%s\": no such variable", name);
            else if (!input_ok(v))
                err(errors, "inputs.csv", "column \"%s\": not an input (causality %s)", name, vstr(v, "causality"));
        }
        col++;
        p = *p == ',' ? p + 1 : NULL;
    }
    if (col < 2)
        err(errors, "inputs.csv", "the header needs a time column and at least one input column");
    free(line);
}

/* Inline signals {"time":[...], "<input>":[...]} -> CSV text. */
static char *inline_csv(json_t *errors, const var_index *summary, json_t *inputs)
{
    if (json_object_size(inputs) > JOB_MAX_INPUT_COLUMNS + 1) {
        err(errors, "inputs", "more than %u input signals", JOB_MAX_INPUT_COLUMNS);
        return NULL;
    }
    json_t *time = json_object_get(inputs, "time");
    size_t n = json_array_size(time), i;
    if (!json_is_array(time) || n == 0 || n > 1000000) {
        err(errors, "inputs.time", "an array of 1 to 1000000 time stamps is required");
        return NULL;
    }
    double prev = -INFINITY;
    json_t *e;
    json_array_foreach(time, i, e)
    {
        double d;
        if (!finite_number(e, &d) || d < prev) {
            err(errors, "inputs.time", "time stamps must be finite numbers that do not decrease (index %zu)", i);
            return NULL;
        }
        prev = d;
    }
    const char *key;
    json_t *col;
    size_t ncols = 0;
    bool bad = false;
    json_object_foreach(inputs, key, col)
    {
        if (!strcmp(key, "time"))
            continue;
        char field[300];
        snprintf(field, sizeof field, "inputs.%s", key);
        const json_t *v = find_var(summary, key);
        if (!v) {
            err(errors, field, "no such variable");
            bad = true;
            continue;
        }
        if (!input_ok(v)) {
            err(errors, field, "not an input (causality %s, variability %s)", vstr(v, "causality"),
                vstr(v, "variability"));
            bad = true;
            continue;
        }
        if (!json_is_array(col) || json_array_size(col) != n) {
            err(errors, field, "an array with one value per time stamp (%zu) is required", n);
            bad = true;
            continue;
        }
        size_t k;
        json_array_foreach(col, k, e)
        {
            if (!json_is_number(e) && !json_is_boolean(e)) {
                err(errors, field, "values must be numbers or booleans (index %zu)", k);
                bad = true;
                break;
            }
        }
        ncols++;
    }
    if (bad)
        return NULL;
    if (ncols == 0) {
        err(errors, "inputs", "no input signal given");
        return NULL;
    }
    sbuf b = { 0 };
    sb_str(&b, "\"time\"");
    json_object_foreach(inputs, key, col)
    {
        if (strcmp(key, "time")) {
            sb_str(&b, ",");
            sb_quoted(&b, key);
        }
    }
    sb_str(&b, "\n");
    char buf[64];
    for (i = 0; i < n && !b.failed; i++) {
        fmt_double(buf, json_number_value(json_array_get(time, i)));
        sb_str(&b, buf);
        json_object_foreach(inputs, key, col)
        {
            if (!strcmp(key, "time"))
                continue;
            json_t *x = json_array_get(col, i);
            sb_str(&b, ",");
            if (json_is_boolean(x))
                sb_str(&b, json_is_true(x) ? "1" : "0");
            else {
                fmt_double(buf, json_number_value(x));
                sb_str(&b, buf);
            }
        }
        sb_str(&b, "\n");
    }
    if (b.failed) {
        free(b.p);
        err(errors, "inputs", "the input signals are too large (8 MiB of CSV at most)");
        return NULL;
    }
    return b.p;
}

/* ---- the body ------------------------------------------------------------ */

static bool has_interface(const json_t *summary, const char *name)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(summary, "interfaces"), i, v)
    {
        if (json_is_string(v) && !strcmp(json_string_value(v), name))
            return true;
    }
    return false;
}

/* A positive optional number: copied to canonical when present. */
static void positive(json_t *errors, json_t *body, json_t *canon, const char *key)
{
    json_t *j = json_object_get(body, key);
    double d;
    if (!j)
        return;
    if (!finite_number(j, &d) || d <= 0)
        err(errors, key, "must be a positive number");
    else
        json_object_set_new(canon, key, json_real(d));
}

static void check_runner_rules(json_t *errors, const json_t *canon, bool has_inputs, const json_t *summary);

int job__request_parse(job_request *req, json_t *errors, json_t *body, const json_t *summary,
                       const char *fmu_sha256, const pricing_tier *tier)
{
    json_t *canon = json_object();
    const char *key;
    json_t *v;
    int rc = 0;

    memset(req, 0, sizeof *req);
    var_index ix = { NULL, 0 };
    if ((rc = index_build(&ix, summary)) != 0) {
        json_decref(canon);
        return rc;
    }
    json_object_foreach(body, key, v)
    {
        bool ok = false;
        for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
            ok |= strcmp(allowed[i], key) == 0;
        if (!ok)
            err(errors, key, "unknown member");
    }
    json_object_set(canon, "fmu_id", json_object_get(body, "fmu_id"));

    /* times */
    const json_t *de = json_object_get(summary, "default_experiment");
    double start = 0, stop = NAN, d;
    json_t *js = json_object_get(body, "start_time"), *je = json_object_get(body, "stop_time");
    if (js) {
        if (!finite_number(js, &start))
            err(errors, "start_time", "must be a number");
        else
            json_object_set_new(canon, "start_time", json_real(start));
    } else if (finite_number(json_object_get(de, "start_time"), &d)) {
        start = d;
    }
    if (je) {
        if (!finite_number(je, &stop))
            err(errors, "stop_time", "must be a number");
        else
            json_object_set_new(canon, "stop_time", json_real(stop));
    } else if (finite_number(json_object_get(de, "stop_time"), &d)) {
        stop = d;
    } else {
        stop = start + 1;
    }
    if (isfinite(stop) && !(stop > start))
        err(errors, "stop_time", "must be greater than start_time (%g)", start);
    req->span = isfinite(stop) && stop > start ? stop - start : 0;
    req->start = start;
    positive(errors, body, canon, "output_interval");
    positive(errors, body, canon, "step_size");
    json_t *jt = json_object_get(body, "relative_tolerance");
    if (jt && (!finite_number(jt, &d) || d <= 0 || d >= 1))
        err(errors, "relative_tolerance", "must be a number between 0 and 1");
    else if (jt)
        json_object_set_new(canon, "relative_tolerance", json_real(d));

    /* interface and solver */
    json_t *ji = json_object_get(body, "interface");
    if (ji) {
        const char *s = json_string_value(ji);
        if (!s || (strcmp(s, "cs") && strcmp(s, "me")))
            err(errors, "interface", "must be \"cs\" or \"me\"");
        else if (!has_interface(summary, !strcmp(s, "cs") ? "CoSimulation" : "ModelExchange"))
            err(errors, "interface", "the FMU does not support %s",
                !strcmp(s, "cs") ? "Co-Simulation" : "Model Exchange");
        else
            json_object_set_new(canon, "interface", json_string(s));
    } else if (!has_interface(summary, "CoSimulation") && !has_interface(summary, "ModelExchange")) {
        err(errors, "interface", "the FMU supports neither Co-Simulation nor Model Exchange");
    }
    json_t *jsol = json_object_get(body, "solver");
    if (jsol) {
        const char *s = json_string_value(jsol);
        if (!s || (strcmp(s, "cvode") && strcmp(s, "euler")))
            err(errors, "solver", "must be \"cvode\" or \"euler\"");
        else
            json_object_set_new(canon, "solver", json_string(s));
    }

    /* start values */
    json_t *jsv = json_object_get(body, "start_values");
    if (jsv && !json_is_object(jsv)) {
        err(errors, "start_values", "must be an object {name: value}");
    } else if (jsv && json_object_size(jsv) > FMI_SIM_MAX_START_VALUES) {
        err(errors, "start_values", "%zu given, at most %u", json_object_size(jsv), FMI_SIM_MAX_START_VALUES);
    } else if (jsv) {
        json_t *out = json_object();
        json_object_foreach(jsv, key, v)
        {
            char field[300];
            snprintf(field, sizeof field, "start_values.%s", key);
            const json_t *var = find_var(&ix, key);
            if (!var) {
                err(errors, field, "no such variable");
                continue;
            }
            if (!settable(var)) {
                err(errors, field, "a %s %s variable cannot be given a start value", vstr(var, "causality"),
                    vstr(var, "variability"));
                continue;
            }
            char *text = start_text(errors, field, var, v);
            if (text) {
                json_object_set_new(out, key, json_string(text));
                free(text);
            }
        }
        json_object_set_new(canon, "start_values", out);
    }

    /* inputs */
    json_t *jin = json_object_get(body, "inputs");
    if (jin && !json_is_object(jin)) {
        err(errors, "inputs", "must be an object: {\"time\": [...], \"<input>\": [...]} or {\"csv\": \"...\"}");
    } else if (jin && json_object_get(jin, "csv")) {
        const char *csv = json_string_value(json_object_get(jin, "csv"));
        if (json_object_size(jin) != 1 || !csv || !csv[0])
            err(errors, "inputs.csv", "must be the only member, a non-empty string");
        else if (strlen(csv) > INPUTS_CSV_MAX)
            err(errors, "inputs.csv", "too large (8 MiB at most)");
        else {
            check_csv_header(errors, &ix, csv);
            req->inputs_csv = strdup(csv);
        }
    } else if (jin) {
        req->inputs_csv = inline_csv(errors, &ix, jin);
    }
    if (req->inputs_csv)
        json_object_set_new(canon, "inputs", json_true());

    /* outputs */
    json_t *jov = json_object_get(body, "output_variables");
    if (jov) {
        size_t i;
        if (!json_is_array(jov)) {
            err(errors, "output_variables", "must be an array of variable names");
        } else if (json_array_size(jov) > FMI_SIM_MAX_OUTPUT_VARIABLES) {
            err(errors, "output_variables", "%zu names given, at most %u (output_all records every variable)",
                json_array_size(jov), FMI_SIM_MAX_OUTPUT_VARIABLES);
        } else {
            json_t *out = json_array();
            json_array_foreach(jov, i, v)
            {
                char field[64];
                snprintf(field, sizeof field, "output_variables[%zu]", i);
                const char *name = json_string_value(v);
                if (!name)
                    err(errors, field, "must be a variable name");
                else if (!find_var(&ix, name))
                    err(errors, field, "no such variable: \"%s\"", name);
                else
                    json_array_append(out, v);
            }
            json_object_set_new(canon, "output_variables", out);
        }
    }
    json_t *jall = json_object_get(body, "output_all");
    if (jall && !json_is_boolean(jall))
        err(errors, "output_all", "must be a boolean");
    else if (json_is_true(jall))
        json_object_set_new(canon, "output_all", json_true());
    json_t *jf = json_object_get(body, "output_format");
    const char *fmt = "csv";
    if (jf) {
        fmt = json_string_value(jf);
        if (!fmt || (strcmp(fmt, "csv") && strcmp(fmt, "json"))) {
            err(errors, "output_format", "must be \"csv\" or \"json\"");
            fmt = "csv";
        }
    }
    json_object_set_new(canon, "output_format", json_string(fmt));

    /* limits: refused outside [minimum, tier maximum]; the effective values
     * are what the worker enforces and what the reservation is priced at */
    double timeout = tier->max_job_seconds;
    json_t *jto = json_object_get(body, "timeout_s");
    if (jto) {
        if (!finite_number(jto, &d) || d < JOB_MIN_TIMEOUT_S)
            err(errors, "timeout_s", "must be a number of seconds, at least %g", JOB_MIN_TIMEOUT_S);
        else if (d > tier->max_job_seconds)
            err(errors, "timeout_s", "at most %g s on tier %s", tier->max_job_seconds, tier->name);
        else
            timeout = d;
    }
    req->timeout_ms = (int64_t)ceil(timeout * 1000.0 - 1e-6);
    req->timeout_s = (double)req->timeout_ms / 1000.0;
    double cpu = NAN;
    json_t *jcpu = json_object_get(body, "cpu_limit_s");
    if (jcpu) {
        if (!finite_number(jcpu, &cpu) || cpu < JOB_MIN_CPU_LIMIT_S) {
            err(errors, "cpu_limit_s", "must be a number of seconds, at least %g", JOB_MIN_CPU_LIMIT_S);
            cpu = NAN;
        } else if (cpu > req->timeout_s) {
            err(errors, "cpu_limit_s", "at most timeout_s (%g s)", req->timeout_s);
            cpu = NAN;
        } else {
            cpu = ceil(cpu - 1e-9); /* RLIMIT_CPU: whole seconds */
        }
    }
    req->cpu_limit_s = isfinite(cpu) ? cpu : ceil(req->timeout_s - 1e-9);
    json_t *jmem = json_object_get(body, "memory_limit_mb");
    double mem = NAN;
    if (jmem) {
        if (!finite_number(jmem, &mem) || mem < JOB_MIN_MEMORY_MB) {
            err(errors, "memory_limit_mb", "must be a number of MiB, at least %g", JOB_MIN_MEMORY_MB);
            mem = NAN;
        } else if (mem * 1048576.0 > (double)tier->max_memory_bytes) {
            err(errors, "memory_limit_mb", "at most %llu MiB on tier %s",
                (unsigned long long)(tier->max_memory_bytes >> 20), tier->name);
            mem = NAN;
        }
    }
    req->memory_limit = isfinite(mem) ? (uint64_t)(mem * 1048576.0) : tier->max_memory_bytes;
    json_t *jr = json_object_get(body, "reuse");
    req->reuse = true;
    if (jr && !json_is_boolean(jr))
        err(errors, "reuse", "must be a boolean");
    else if (jr)
        req->reuse = json_is_true(jr);

    if (json_array_size(errors) == 0)
        check_runner_rules(errors, canon, req->inputs_csv != NULL, summary);
    if (json_array_size(errors) > 0) {
        rc = fmugw_error_set(FMUGW_EINVALID, "invalid request");
        goto out;
    }

    /* The hash names the result: FMU bytes, settings and inputs (not the
     * limits, which do not change a successful result). */
    json_t *h = json_deep_copy(canon);
    json_object_del(h, "fmu_id");
    char *htext = json_dumps(h, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(h);
    crypto_sha256_ctx *sc = NULL;
    uint8_t dg[32];
    if (!htext || crypto_sha256_new(&sc) != 0 || crypto_sha256_update(sc, fmu_sha256, strlen(fmu_sha256)) != 0 ||
        crypto_sha256_update(sc, "\n", 1) != 0 || crypto_sha256_update(sc, htext, strlen(htext)) != 0 ||
        crypto_sha256_update(sc, "\n", 1) != 0 ||
        (req->inputs_csv && crypto_sha256_update(sc, req->inputs_csv, strlen(req->inputs_csv)) != 0) ||
        crypto_sha256_final(sc, dg) != 0) {
        free(htext);
        crypto_sha256_free(sc);
        rc = fmugw_error_set(FMUGW_ENOMEM, "cannot hash the request");
        goto out;
    }
    free(htext);
    crypto_sha256_free(sc);
    crypto_hex_encode(req->hash, sizeof req->hash, dg, sizeof dg);
    json_object_set_new(canon, "timeout_s", json_real(req->timeout_s));
    if (isfinite(cpu))
        json_object_set_new(canon, "cpu_limit_s", json_real(cpu));
    req->canonical = canon;
    canon = NULL;
out:
    free(ix.v);
    json_decref(canon);
    if (rc != 0) {
        free(req->inputs_csv);
        req->inputs_csv = NULL;
    }
    return rc;
}

void job__request_free(job_request *req)
{
    if (!req)
        return;
    json_decref(req->canonical);
    free(req->inputs_csv);
    memset(req, 0, sizeof *req);
}

/* ---- the runner's options ---------------------------------------------------- */

/* The fmi_sim_args the runner gets for stored settings `req` (strings
 * borrowed from it; free with fmi_sim_args_free). */
static int args_from_request(fmi_sim_args *a, const json_t *req, bool has_inputs)
{
    fmi_sim_options init = FMI_SIM_OPTIONS_INIT;
    const char *key, *s;
    json_t *v;
    size_t i;
    memset(a, 0, sizeof *a);
    a->sim = init;
    a->output_path = "-";
    a->timeout_s = NAN;
    a->cpu_limit_s = NAN;
    a->fmu = "/job/fmu";
    a->input_path = has_inputs ? "/job/input.csv" : NULL;
    json_t *sv = json_object_get(req, "start_values"), *ov = json_object_get(req, "output_variables");
    a->start_values_owned = calloc(json_object_size(sv) + 1, sizeof *a->start_values_owned);
    a->output_variables = calloc(json_array_size(ov) + 1, sizeof *a->output_variables);
    if (!a->start_values_owned || !a->output_variables)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    a->sim.start_values = a->start_values_owned;
    struct {
        const char *key;
        double *to;
    } nums[] = { { "start_time", &a->sim.start_time },     { "stop_time", &a->sim.stop_time },
                 { "output_interval", &a->sim.output_interval }, { "step_size", &a->sim.step_size },
                 { "relative_tolerance", &a->sim.relative_tolerance } };
    for (i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        json_t *j = json_object_get(req, nums[i].key);
        if (json_is_number(j))
            *nums[i].to = json_number_value(j);
    }
    if ((s = json_string_value(json_object_get(req, "interface")))) {
        a->iface_given = true;
        a->sim.iface = !strcmp(s, "me") ? FMI_ME : FMI_CS;
    }
    if ((s = json_string_value(json_object_get(req, "solver"))))
        a->sim.solver = !strcmp(s, "euler") ? FMI_SOLVER_EULER : FMI_SOLVER_CVODE;
    json_object_foreach(sv, key, v)
    {
        a->start_values_owned[a->sim.n_start_values].name = key;
        a->start_values_owned[a->sim.n_start_values++].value = json_string_value(v) ? json_string_value(v) : "";
    }
    json_array_foreach(ov, i, v)
    {
        if (json_string_value(v))
            a->output_variables[a->n_output_variables++] = json_string_value(v);
    }
    a->output_all = json_is_true(json_object_get(req, "output_all"));
    s = json_string_value(json_object_get(req, "output_format"));
    a->format = s && !strcmp(s, "json") ? FMI_RESULT_JSON : FMI_RESULT_CSV;
    a->format_given = true;
    return 0;
}

/* The field a message of the runner's rules is about (they name it). */
static const char *rule_field(const char *msg)
{
    static const struct {
        const char *prefix, *field;
    } map[] = { { "start time", "start_time" },          { "stop time", "stop_time" },
                { "the span", "stop_time" },             { "output interval", "output_interval" },
                { "step size", "step_size" },            { "relative tolerance", "relative_tolerance" } };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strncmp(msg, map[i].prefix, strlen(map[i].prefix)))
            return map[i].field;
    if (strstr(msg, "output variables"))
        return "output_variables";
    if (strstr(msg, "start values"))
        return "start_values";
    return "request";
}

/* The runner's rules (sim_args.h, sim_plan.h) on the settings as the runner
 * will get them, with the FMU's default experiment and the interface the
 * runner would pick (Co-Simulation when the FMU has it). */
static void check_runner_rules(json_t *errors, const json_t *canon, bool has_inputs, const json_t *summary)
{
    fmi_sim_args a;
    int rc = args_from_request(&a, canon, has_inputs);
    if (rc == 0 && !a.iface_given && !has_interface(summary, "CoSimulation"))
        a.sim.iface = FMI_ME;
    if (rc == 0)
        rc = fmi_sim_args_check(&a);
    if (rc == 0) {
        const json_t *de = json_object_get(summary, "default_experiment");
        fmi_default_experiment dx;
        memset(&dx, 0, sizeof dx);
        dx.has_start_time = finite_number(json_object_get(de, "start_time"), &dx.start_time);
        dx.has_stop_time = finite_number(json_object_get(de, "stop_time"), &dx.stop_time);
        dx.has_tolerance = finite_number(json_object_get(de, "tolerance"), &dx.tolerance);
        dx.has_step_size = finite_number(json_object_get(de, "step_size"), &dx.step_size);
        fmi_sim_plan plan;
        rc = fmi_sim_plan_resolve(&plan, &dx, &a.sim);
    }
    if (rc == FMUGW_EINVALID)
        err(errors, rule_field(fmugw_error_last()), "%s", fmugw_error_last());
    else if (rc != 0)
        err(errors, "request", "cannot check the settings: %s", fmugw_error_last());
    fmi_sim_args_free(&a);
}

int job__runner_argv(char ***out, const char *request_json, bool has_inputs)
{
    json_t *req = json_loads(request_json, 0, NULL);
    fmi_sim_args a;
    int rc;

    *out = NULL;
    if (!req)
        return fmugw_error_set(FMUGW_EINVALID, "stored request is not JSON");
    if ((rc = args_from_request(&a, req, has_inputs)) == 0 && (rc = fmi_sim_args_check(&a)) == 0)
        rc = fmi_sim_args_to_argv(out, &a, "/job/fmu", a.input_path);
    fmi_sim_args_free(&a);
    json_decref(req);
    return rc;
}
