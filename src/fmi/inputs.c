/*
 * inputs.c - input signals from CSV: a strict CSV reader (RFC 4180 quoting,
 * CRLF or LF, trailing blank lines), the mapping of columns to model
 * variables, and the lookup of values over time (binary search over the
 * time column, once per apply for all signals) with linear interpolation
 * for continuous floats and hold for everything else.
 *
 * Values are kept as double, row-major (values[row * n_signals + i]), as
 * FMPy keeps them; integers are checked to be integral and in their type's
 * range when read. Setting the values on an instance groups them by type so
 * that each apply makes one set call per type.
 */
#include "inputs.h"
#include "results.h"

#include "util/error.h"
#include "util/fsutil.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int var;          /* index into model->variables */
    uint32_t vr;
    fmi_type type;
    bool continuous;  /* interpolated */
    char *name;
} signal_info;

/* The signals set by one fmi_instance_set_* call. */
typedef struct {
    fmi_type type;
    bool continuous;
    size_t n;
    uint32_t *vrs;
    size_t *sig; /* signal indices */
} set_group;

struct fmi_inputs {
    size_t n_signals, n_rows;
    double *time;   /* n_rows */
    double *values; /* n_rows * n_signals, row-major */
    signal_info *sig;
    set_group *groups;
    size_t n_groups;
    double *events; /* sorted, distinct */
    size_t n_events;
};

/* ---------------------------------------------------------------------- */
/* CSV records                                                             */
/* ---------------------------------------------------------------------- */

typedef struct {
    const char *file; /* name for messages */
    const char *p;
    int line;
    /* current record: fields as offsets into text */
    char *text;
    size_t text_len, text_cap;
    size_t *field;
    size_t n_fields, field_cap;
} csv_reader;

static int text_push(csv_reader *r, char c)
{
    if (r->text_len == r->text_cap) {
        size_t cap = r->text_cap ? 2 * r->text_cap : 256;
        char *p = realloc(r->text, cap);
        if (!p)
            return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        r->text = p;
        r->text_cap = cap;
    }
    r->text[r->text_len++] = c;
    return 0;
}

static int field_start(csv_reader *r)
{
    if (r->n_fields == r->field_cap) {
        size_t cap = r->field_cap ? 2 * r->field_cap : 16;
        size_t *p = realloc(r->field, cap * sizeof *p);
        if (!p)
            return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        r->field = p;
        r->field_cap = cap;
    }
    r->field[r->n_fields++] = r->text_len;
    return 0;
}

static const char *field_text(const csv_reader *r, size_t i)
{
    return r->text + r->field[i];
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool at_line_end(const char *p)
{
    return *p == '\n' || (*p == '\r' && p[1] == '\n');
}

static const char *skip_line_end(const char *p)
{
    return *p == '\r' ? p + 2 : p + 1;
}

/* True when only blank lines (no characters at all) are left. */
static bool only_blank_lines_left(const char *p)
{
    while (at_line_end(p))
        p = skip_line_end(p);
    return *p == '\0';
}

/* Reads the next record. Returns 1 with the fields in r, 0 at the end of
 * the text, or an error. *line gets the line the record starts on.
 * Unquoted fields lose surrounding blanks; quoted ones are kept as is. */
static int csv_next(csv_reader *r, int *line)
{
    int rc = 0;
    r->text_len = 0;
    r->n_fields = 0;
    if (*r->p == '\0' || only_blank_lines_left(r->p))
        return 0;
    if (at_line_end(r->p))
        return fmugw_error_set(FMUGW_EINVALID, "%s:%d: empty line", r->file, r->line);
    *line = r->line;
    for (;;) {
        if ((rc = field_start(r)) < 0)
            return rc;
        const char *p = r->p;
        while (is_blank(*p))
            p++;
        if (*p == '"') {
            p++;
            for (;;) {
                if (*p == '\0')
                    return fmugw_error_set(FMUGW_EINVALID, "%s:%d: unterminated quoted field", r->file, *line);
                if (*p == '"') {
                    if (p[1] != '"')
                        break;
                    p++;
                }
                if (*p == '\n')
                    r->line++;
                if ((rc = text_push(r, *p++)) < 0)
                    return rc;
            }
            p++;
            while (is_blank(*p))
                p++;
            if (*p != ',' && *p != '\0' && !at_line_end(p))
                return fmugw_error_set(FMUGW_EINVALID, "%s:%d: unexpected text after a closing quote",
                                       r->file, r->line);
        } else {
            const char *start = p;
            while (*p != ',' && *p != '\0' && !at_line_end(p)) {
                if (*p == '"')
                    return fmugw_error_set(FMUGW_EINVALID, "%s:%d: quote inside an unquoted field", r->file,
                                           r->line);
                p++;
            }
            const char *end = p;
            while (end > start && is_blank(end[-1]))
                end--;
            for (const char *q = start; q < end; q++)
                if ((rc = text_push(r, *q)) < 0)
                    return rc;
        }
        if ((rc = text_push(r, '\0')) < 0)
            return rc;
        if (*p == ',') {
            r->p = p + 1;
            continue;
        }
        if (*p != '\0') {
            p = skip_line_end(p);
            r->line++;
        }
        r->p = p;
        return 1;
    }
}

/* ---------------------------------------------------------------------- */
/* Parsing                                                                 */
/* ---------------------------------------------------------------------- */

/* A decimal number: digits, sign, point, exponent only (no nan, inf, hex),
 * the whole field, finite. */
static bool parse_number(const char *s, double *out)
{
    if (*s == '\0' || strspn(s, "0123456789+-.eE") != strlen(s))
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static bool int_range(fmi_version version, fmi_type type, double *lo, double *hi)
{
    switch (type) {
    case FMI_INT8:
        *lo = INT8_MIN, *hi = INT8_MAX;
        return true;
    case FMI_UINT8:
        *lo = 0, *hi = UINT8_MAX;
        return true;
    case FMI_INT16:
        *lo = INT16_MIN, *hi = INT16_MAX;
        return true;
    case FMI_UINT16:
        *lo = 0, *hi = UINT16_MAX;
        return true;
    case FMI_INT32:
        *lo = INT32_MIN, *hi = INT32_MAX;
        return true;
    case FMI_UINT32:
        *lo = 0, *hi = UINT32_MAX;
        return true;
    case FMI_ENUMERATION:
        if (version == FMI_VERSION_2) {
            *lo = INT32_MIN, *hi = INT32_MAX;
            return true;
        }
        /* FMI 3 enumerations are int64 */
        /* fall through */
    case FMI_INT64:
        *lo = -9223372036854775808.0, *hi = 9223372036854775807.0;
        return true;
    case FMI_UINT64:
        *lo = 0, *hi = 18446744073709551615.0;
        return true;
    default:
        return false;
    }
}

/* Parses one value field of signal `s`. */
static int parse_value(const fmi_model *model, const char *file, int line, const signal_info *s, const char *text,
                       double *out)
{
    if (s->type == FMI_BOOLEAN) {
        if (!strcmp(text, "true") || !strcmp(text, "True") || !strcmp(text, "TRUE")) {
            *out = 1;
            return 0;
        }
        if (!strcmp(text, "false") || !strcmp(text, "False") || !strcmp(text, "FALSE")) {
            *out = 0;
            return 0;
        }
        double v;
        if (!parse_number(text, &v) || (v != 0 && v != 1))
            return fmugw_error_set(FMUGW_EINVALID, "%s:%d: column \"%s\": not a boolean: \"%s\"", file, line,
                                   s->name, text);
        *out = v;
        return 0;
    }
    double v;
    if (!parse_number(text, &v))
        return fmugw_error_set(FMUGW_EINVALID, "%s:%d: column \"%s\": not a number: \"%s\"", file, line, s->name,
                               text);
    double lo, hi;
    if (int_range(model->version, s->type, &lo, &hi)) {
        if (v != trunc(v))
            return fmugw_error_set(FMUGW_EINVALID, "%s:%d: column \"%s\": not an integer: \"%s\"", file, line,
                                   s->name, text);
        /* hi of the 64-bit types rounds up to 2^63 / 2^64: exclude it */
        if (v < lo || v > hi || (hi >= 9223372036854775807.0 && v >= hi))
            return fmugw_error_set(FMUGW_EINVALID, "%s:%d: column \"%s\": out of range for %s: \"%s\"", file,
                                   line, s->name, fmi_type_name(model->version, s->type), text);
    } else if (s->type == FMI_FLOAT32 && fabs(v) > 3.4028234663852886e38) {
        return fmugw_error_set(FMUGW_EINVALID, "%s:%d: column \"%s\": out of range for %s: \"%s\"", file, line,
                               s->name, fmi_type_name(model->version, s->type), text);
    }
    *out = v;
    return 0;
}

static bool settable_type(fmi_type t)
{
    return t != FMI_STRING && t != FMI_BINARY && t != FMI_CLOCK;
}

/* Maps the header to signals. */
static int map_header(fmi_inputs *in, const csv_reader *r, int line, const fmi_model *model)
{
    in->n_signals = r->n_fields - 1;
    in->sig = calloc(in->n_signals + 1, sizeof *in->sig);
    if (!in->sig)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    for (size_t i = 0; i < in->n_signals; i++) {
        const char *name = field_text(r, i + 1);
        signal_info *s = &in->sig[i];
        if (!*name)
            return fmugw_error_set(FMUGW_EINVALID, "%s:%d: column %zu has no name", r->file, line, i + 2);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(in->sig[j].name, name))
                return fmugw_error_set(FMUGW_EINVALID, "%s:%d: column \"%s\": appears twice", r->file, line, name);
        s->name = strdup(name);
        if (!s->name)
            return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        s->var = fmi_model_find(model, name);
        if (s->var < 0)
            return fmugw_error_set(FMUGW_EINVALID, "%s:%d: column \"%s\": no such variable in the model", r->file,
                                   line, name);
        const fmi_variable *v = &model->variables[s->var];
        bool input = v->causality == FMI_CAUSALITY_INPUT;
        bool tunable = v->causality == FMI_CAUSALITY_PARAMETER && v->variability == FMI_VARIABILITY_TUNABLE;
        if (!input && !tunable)
            return fmugw_error_set(FMUGW_EINVALID,
                                   "%s:%d: column \"%s\": not an input or tunable parameter (causality %s, "
                                   "variability %s)",
                                   r->file, line, name, fmi_causality_name(v->causality),
                                   fmi_variability_name(v->variability));
        if (!settable_type(v->type))
            return fmugw_error_set(FMUGW_EINVALID, "%s:%d: column \"%s\": %s values cannot be read from CSV",
                                   r->file, line, name, fmi_type_name(model->version, v->type));
        if (v->n_dims > 0)
            return fmugw_error_set(FMUGW_EINVALID, "%s:%d: column \"%s\": array inputs cannot be read from CSV",
                                   r->file, line, name);
        s->vr = v->vr;
        s->type = v->type;
        s->continuous = input && (v->type == FMI_FLOAT64 || v->type == FMI_FLOAT32) &&
                        v->variability == FMI_VARIABILITY_CONTINUOUS;
    }
    return 0;
}

/* One set group per (type, continuous) pair present. */
static int build_groups(fmi_inputs *in)
{
    in->groups = calloc(in->n_signals + 1, sizeof *in->groups);
    if (!in->groups)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    for (size_t i = 0; i < in->n_signals; i++) {
        const signal_info *s = &in->sig[i];
        set_group *g = NULL;
        for (size_t j = 0; j < in->n_groups; j++)
            if (in->groups[j].type == s->type && in->groups[j].continuous == s->continuous)
                g = &in->groups[j];
        if (!g) {
            g = &in->groups[in->n_groups++];
            g->type = s->type;
            g->continuous = s->continuous;
            g->vrs = malloc(in->n_signals * sizeof *g->vrs);
            g->sig = malloc(in->n_signals * sizeof *g->sig);
            if (!g->vrs || !g->sig)
                return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        }
        g->vrs[g->n] = s->vr;
        g->sig[g->n++] = i;
    }
    return 0;
}

/* Event times: repeated time stamps, and rows where a held signal changes. */
static int find_events(fmi_inputs *in)
{
    in->events = malloc((in->n_rows + 1) * sizeof *in->events);
    if (!in->events)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    size_t ns = in->n_signals;
    for (size_t r = 1; r < in->n_rows; r++) {
        bool event = in->time[r] == in->time[r - 1];
        for (size_t i = 0; i < ns && !event; i++)
            event = !in->sig[i].continuous && in->values[r * ns + i] != in->values[(r - 1) * ns + i];
        if (event && (in->n_events == 0 || in->events[in->n_events - 1] != in->time[r]))
            in->events[in->n_events++] = in->time[r];
    }
    return 0;
}

static int grow_rows(fmi_inputs *in, size_t *cap)
{
    size_t ncap = *cap ? 2 * *cap : 64;
    double *t = realloc(in->time, ncap * sizeof *t);
    if (!t)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    in->time = t;
    double *v = realloc(in->values, ncap * (in->n_signals + 1) * sizeof *v);
    if (!v)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    in->values = v;
    *cap = ncap;
    return 0;
}

static int parse(fmi_inputs **out, const char *text, const char *file, const fmi_model *model)
{
    int rc = 0, line = 1;
    size_t rows_cap = 0;
    char *time_name = NULL;
    csv_reader r = { .file = file, .p = text, .line = 1 };
    *out = NULL;
    fmi_inputs *in = calloc(1, sizeof *in);
    if (!in)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");

    if (strlen(text) > FMI_INPUTS_CSV_CAP) {
        rc = fmugw_error_set(FMUGW_ETOOBIG, "%s: larger than %zu MiB", file, FMI_INPUTS_CSV_CAP >> 20);
        goto out;
    }
    if ((rc = csv_next(&r, &line)) < 0)
        goto out;
    if (rc == 0) {
        rc = fmugw_error_set(FMUGW_EINVALID, "%s:1: no header row", file);
        goto out;
    }
    time_name = strdup(field_text(&r, 0));
    if (!time_name) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = map_header(in, &r, line, model)) < 0)
        goto out;

    size_t ns = in->n_signals;
    while ((rc = csv_next(&r, &line)) == 1) {
        if (r.n_fields != ns + 1) {
            rc = fmugw_error_set(FMUGW_EINVALID, "%s:%d: expected %zu fields, found %zu", file, line, ns + 1,
                                 r.n_fields);
            goto out;
        }
        if (in->n_rows == rows_cap && (rc = grow_rows(in, &rows_cap)) < 0)
            goto out;
        size_t row = in->n_rows;
        double t;
        if (!parse_number(field_text(&r, 0), &t)) {
            rc = fmugw_error_set(FMUGW_EINVALID, "%s:%d: column \"%s\": not a number: \"%s\"", file, line, time_name,
                                 field_text(&r, 0));
            goto out;
        }
        if (row > 0 && t < in->time[row - 1]) {
            char a[32], b[32];
            fmi_format_double(a, in->time[row - 1]);
            fmi_format_double(b, t);
            rc = fmugw_error_set(FMUGW_EINVALID, "%s:%d: column \"%s\": time decreases from %s to %s", file, line,
                                 time_name, a, b);
            goto out;
        }
        if (row > 1 && t == in->time[row - 1] && t == in->time[row - 2]) {
            char a[32];
            fmi_format_double(a, t);
            rc = fmugw_error_set(FMUGW_EINVALID, "%s:%d: column \"%s\": time %s appears more than twice", file, line,
                                 time_name, a);
            goto out;
        }
        in->time[row] = t;
        for (size_t i = 0; i < ns; i++)
            if ((rc = parse_value(model, file, line, &in->sig[i], field_text(&r, i + 1), &in->values[row * ns + i])) < 0)
                goto out;
        in->n_rows++;
    }
    if (rc < 0)
        goto out;
    rc = 0;
    if (in->n_rows == 0) {
        rc = fmugw_error_set(FMUGW_EINVALID, "%s: no data rows", file);
        goto out;
    }
    if ((rc = build_groups(in)) < 0 || (rc = find_events(in)) < 0)
        goto out;

out:
    free(r.text);
    free(r.field);
    free(time_name);
    if (rc < 0) {
        fmi_inputs_free(in);
        return rc;
    }
    *out = in;
    return 0;
}

int fmi_inputs_parse_csv(fmi_inputs **out, const char *text, const fmi_model *model)
{
    return parse(out, text, "input.csv", model);
}

int fmi_inputs_load_csv(fmi_inputs **out, const char *path, const fmi_model *model)
{
    char *text = NULL;
    size_t len;
    *out = NULL;
    int rc = fmugw_read_file(&text, &len, path, FMI_INPUTS_CSV_CAP);
    if (rc < 0)
        return rc;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (memchr(text, '\0', len))
        rc = fmugw_error_set(FMUGW_EINVALID, "%s: contains a NUL byte", base);
    else
        rc = parse(out, text, base, model);
    free(text);
    return rc;
}

void fmi_inputs_free(fmi_inputs *in)
{
    if (!in)
        return;
    for (size_t i = 0; i < in->n_signals && in->sig; i++)
        free(in->sig[i].name);
    for (size_t i = 0; i < in->n_groups; i++) {
        free(in->groups[i].vrs);
        free(in->groups[i].sig);
    }
    free(in->groups);
    free(in->sig);
    free(in->time);
    free(in->values);
    free(in->events);
    free(in);
}

size_t fmi_inputs_n_signals(const fmi_inputs *in)
{
    return in->n_signals;
}

size_t fmi_inputs_n_rows(const fmi_inputs *in)
{
    return in->n_rows;
}

/* ---------------------------------------------------------------------- */
/* Lookup                                                                  */
/* ---------------------------------------------------------------------- */

/* First index with time[i] > t (strict) or >= t. */
static size_t bound(const double *time, size_t n, double t, bool strict)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strict ? time[mid] <= t : time[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Where t falls: row `a` alone (b == a), or between rows a and b with
 * weight w on b. */
typedef struct {
    size_t a, b;
    double w;
} position;

static position locate(const fmi_inputs *in, double t, bool after_event)
{
    position pos = { 0, 0, 0 };
    size_t n = in->n_rows;
    size_t lo = bound(in->time, n, t, false); /* first row at or after t */
    if (lo < n && in->time[lo] == t) {
        /* t is a time stamp: the first row before the event, the second after */
        pos.a = pos.b = after_event && lo + 1 < n && in->time[lo + 1] == t ? lo + 1 : lo;
    } else if (lo == 0) {
        pos.a = pos.b = 0;
    } else if (lo == n) {
        pos.a = pos.b = n - 1;
    } else {
        pos.a = lo - 1;
        pos.b = lo;
        pos.w = (t - in->time[lo - 1]) / (in->time[lo] - in->time[lo - 1]);
    }
    return pos;
}

static double value_at(const fmi_inputs *in, size_t i, position pos)
{
    size_t ns = in->n_signals;
    double va = in->values[pos.a * ns + i];
    if (pos.a == pos.b || !in->sig[i].continuous)
        return va;
    double vb = in->values[pos.b * ns + i];
    return va + pos.w * (vb - va);
}

double fmi_inputs_value(const fmi_inputs *in, size_t i, double t, bool after_event)
{
    if (i >= in->n_signals)
        return NAN;
    return value_at(in, i, locate(in, t, after_event));
}

#define STACK_VALUES 64

int fmi_inputs_apply(const fmi_inputs *in, fmi_instance *inst, double t, bool after_event, bool continuous_only)
{
    int rc = 0;
    position pos = locate(in, t, after_event);
    for (size_t g = 0; g < in->n_groups && rc == 0; g++) {
        const set_group *grp = &in->groups[g];
        if (continuous_only && !grp->continuous)
            continue;
        /* Typed buffers: on the stack for the usual few values. */
        double f64_stack[STACK_VALUES];
        float f32_stack[STACK_VALUES];
        int64_t i64_stack[STACK_VALUES];
        uint64_t u64_stack[STACK_VALUES];
        bool b_stack[STACK_VALUES];
        double *f64 = f64_stack;
        float *f32 = f32_stack;
        int64_t *i64 = i64_stack;
        uint64_t *u64 = u64_stack;
        bool *b = b_stack;
        void *heap = NULL;
        if (grp->n > STACK_VALUES) {
            heap = malloc(grp->n * sizeof(double));
            if (!heap)
                return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
            f64 = heap;
            f32 = heap;
            i64 = heap;
            u64 = heap;
            b = heap;
        }
        for (size_t k = 0; k < grp->n; k++) {
            double x = value_at(in, grp->sig[k], pos);
            switch (grp->type) {
            case FMI_FLOAT64:
                f64[k] = x;
                break;
            case FMI_FLOAT32:
                f32[k] = (float)x;
                break;
            case FMI_UINT64:
                u64[k] = (uint64_t)x;
                break;
            case FMI_BOOLEAN:
                b[k] = x != 0;
                break;
            default:
                i64[k] = (int64_t)x;
                break;
            }
        }
        switch (grp->type) {
        case FMI_FLOAT64:
            rc = fmi_instance_set_float64(inst, grp->vrs, grp->n, f64);
            break;
        case FMI_FLOAT32:
            rc = fmi_instance_set_float32(inst, grp->vrs, grp->n, f32);
            break;
        case FMI_UINT64:
            rc = fmi_instance_set_uint64(inst, grp->vrs, grp->n, u64);
            break;
        case FMI_BOOLEAN:
            rc = fmi_instance_set_boolean(inst, grp->vrs, grp->n, b);
            break;
        default:
            rc = fmi_instance_set_int(inst, grp->type, grp->vrs, grp->n, i64);
            break;
        }
        free(heap);
    }
    return rc;
}

double fmi_inputs_next_event(const fmi_inputs *in, double t)
{
    size_t i = bound(in->events, in->n_events, t, true);
    return i < in->n_events ? in->events[i] : INFINITY;
}
