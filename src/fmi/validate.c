/*
 * validate.c - static validation of an FMU (see validate.h).
 *
 * Rules are grouped by what they look at: the archive and the presence of
 * modelDescription.xml (fmi_validate_fmu), the model attributes, types and
 * units, each variable (names, value references, causality / variability /
 * initial, start/min/max/nominal, derivative and previous references,
 * dimensions, clocks), the ModelStructure, the DefaultExperiment and the
 * exported functions of the platform binaries. Every check appends at most
 * one problem per broken rule and element; rule ids are stable (tests and
 * API clients match on them). Nothing here loads or runs FMU code: exports
 * are read from the ELF file (elf_symbols.h). Parsing lives in model.c.
 */
#include "fmi/validate.h"

#include "fmi/archive.h"
#include "fmi/elf_symbols.h"
#include "fmi/instance.h"
#include "util/error.h"
#include "util/fsutil.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A hostile model can break a rule a million times; past this many problems
 * the report ends with one "too-many-problems" entry. */
#define MAX_PROBLEMS 1000

#define MD "modelDescription.xml"

/* ------------------------------------------------------------------ */
/* report                                                               */

/* One line, no control characters: names come from untrusted XML. */
static void one_line(char *s)
{
    for (; s && *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = ' ';
}

static int report_addv(fmi_report *rep, const char *rule, const char *where, const char *fmt, va_list ap)
{
    fmi_problem p = { 0 };
    int rc = 0;
    if (rep->n_problems > MAX_PROBLEMS)
        return 0;
    if (rep->n_problems == MAX_PROBLEMS) {
        rule = "too-many-problems";
        where = MD;
        fmt = NULL;
    }
    p.rule = strdup(rule);
    p.where = strdup(where ? where : "");
    if (fmt) {
        if (vasprintf(&p.message, fmt, ap) < 0)
            p.message = NULL;
    } else {
        p.message = strdup("further problems were not reported");
    }
    if (!p.rule || !p.where || !p.message) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    one_line(p.where);
    one_line(p.message);
    fmi_problem *grown = realloc(rep->problems, (rep->n_problems + 1) * sizeof *grown);
    if (!grown) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    rep->problems = grown;
    rep->problems[rep->n_problems++] = p;
    return 0;
out:
    free(p.rule);
    free(p.where);
    free(p.message);
    return rc;
}

int fmi_report_add(fmi_report *rep, const char *rule, const char *where, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = report_addv(rep, rule, where, fmt, ap);
    va_end(ap);
    return rc;
}

void fmi_report_print(const fmi_report *rep, FILE *f)
{
    if (!rep)
        return;
    for (size_t i = 0; i < rep->n_problems; i++)
        fprintf(f, "%s  %s: %s\n", rep->problems[i].rule, rep->problems[i].where, rep->problems[i].message);
}

void fmi_report_free(fmi_report *rep)
{
    if (!rep)
        return;
    for (size_t i = 0; i < rep->n_problems; i++) {
        free(rep->problems[i].rule);
        free(rep->problems[i].where);
        free(rep->problems[i].message);
    }
    free(rep->problems);
    free(rep);
}

/* ------------------------------------------------------------------ */
/* validation context                                                   */

typedef struct {
    fmi_report *rep;
    const fmi_model *m;
    int rc; /* first FMUGW_ENOMEM; later additions are dropped */
    /* per-variable facts gathered once */
    fmi_variability *var_eff;   /* effective variability */
    int *init_case;             /* see combo_case(), -1 illegal combination */
    fmi_initial *init_eff;      /* effective initial (UNSET for inputs...) */
    size_t *by_vr;              /* variable indices sorted by (class, vr) */
} vctx;

__attribute__((format(printf, 4, 5)))
static void add(vctx *c, const char *rule, int line, const char *fmt, ...)
{
    char where[64];
    if (c->rc)
        return;
    if (line > 0)
        snprintf(where, sizeof where, MD ":%d", line);
    else
        snprintf(where, sizeof where, MD);
    va_list ap;
    va_start(ap, fmt);
    c->rc = report_addv(c->rep, rule, where, fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 4, 5)))
static void add_at(vctx *c, const char *rule, const char *where, const char *fmt, ...)
{
    if (c->rc)
        return;
    va_list ap;
    va_start(ap, fmt);
    c->rc = report_addv(c->rep, rule, where, fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 4, 5)))
static void add_var(vctx *c, const char *rule, const fmi_variable *v, const char *fmt, ...)
{
    char *where = NULL;
    if (c->rc)
        return;
    int n = v->line > 0 ? asprintf(&where, MD ":%d (variable '%s')", v->line, v->name ? v->name : "")
                        : asprintf(&where, MD " (variable '%s')", v->name ? v->name : "");
    if (n < 0) {
        c->rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    c->rc = report_addv(c->rep, rule, where, fmt, ap);
    va_end(ap);
    free(where);
}

static const char *vname(const vctx *c, int idx)
{
    if (idx < 0 || (size_t)idx >= c->m->n_variables || !c->m->variables[idx].name)
        return "?";
    return c->m->variables[idx].name;
}

static bool is_float(fmi_type t)
{
    return t == FMI_FLOAT32 || t == FMI_FLOAT64;
}

static bool is_integer(fmi_type t)
{
    return t >= FMI_INT8 && t <= FMI_UINT64;
}

/* ------------------------------------------------------------------ */
/* sorted name lookups (units, type definitions, variables)             */

typedef struct {
    const char *name;
    size_t idx;
} named;

static int named_cmp(const void *a, const void *b)
{
    const named *x = a, *y = b;
    int r = strcmp(x->name, y->name);
    if (r)
        return r;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int named_key_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const named *)elem)->name);
}

/* Returns the lowest index with `name`, or -1. */
static long named_find(const named *arr, size_t n, const char *name)
{
    if (!name || !n)
        return -1;
    const named *hit = bsearch(name, arr, n, sizeof *arr, named_key_cmp);
    if (!hit)
        return -1;
    while (hit > arr && strcmp(hit[-1].name, name) == 0)
        hit--;
    return (long)hit->idx;
}

/* ------------------------------------------------------------------ */
/* model attributes                                                     */

static bool is_c_identifier(const char *s)
{
    if (!s || !(isalpha((unsigned char)*s) || *s == '_'))
        return false;
    for (s++; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_'))
            return false;
    return true;
}

static bool version_ok(const fmi_model *m)
{
    const char *v = m->fmi_version;
    if (!v)
        return false;
    if (m->version == FMI_VERSION_2)
        return strcmp(v, "2.0") == 0;
    /* FMI 3: 3.<minor>[.<patch>][-suffix] */
    if (strncmp(v, "3.", 2) != 0 || !isdigit((unsigned char)v[2]))
        return false;
    return true;
}

static void check_attributes(vctx *c)
{
    const fmi_model *m = c->m;
    bool any = false;

    if (!m->fmi_version || !*m->fmi_version)
        add(c, "fmi-version", 0, "the fmiVersion attribute is missing");
    else if (!version_ok(m))
        add(c, "fmi-version", 0, "fmiVersion \"%s\" is not a valid FMI %d version", m->fmi_version,
            (int)m->version);
    if (!m->model_name || !*m->model_name)
        add(c, "model-name-required", 0, "the modelName attribute is missing or empty");
    if (!m->instantiation_token || !*m->instantiation_token)
        add(c, "instantiation-token-required", 0, "the %s attribute is missing or empty",
            m->version == FMI_VERSION_2 ? "guid" : "instantiationToken");

    for (int i = 0; i < 3; i++) {
        const fmi_interface_info *it = &m->interfaces[i];
        if (!it->present)
            continue;
        any = true;
        if (!it->model_identifier || !*it->model_identifier)
            add(c, "model-identifier-invalid", it->line, "%s has no modelIdentifier",
                fmi_interface_name((fmi_interface)i));
        else if (!is_c_identifier(it->model_identifier))
            add(c, "model-identifier-invalid", it->line, "modelIdentifier \"%s\" of %s is not a valid C identifier",
                it->model_identifier, fmi_interface_name((fmi_interface)i));
    }
    if (!any)
        add(c, "interface-required", 0, "none of ModelExchange, CoSimulation%s is defined",
            m->version == FMI_VERSION_3 ? ", ScheduledExecution" : "");

    const char *nc = m->variable_naming_convention;
    if (nc && strcmp(nc, "flat") != 0 && strcmp(nc, "structured") != 0)
        add(c, "variable-naming-convention", 0, "variableNamingConvention must be \"flat\" or \"structured\", not \"%s\"",
            nc);
}

/* ------------------------------------------------------------------ */
/* structured names (FMI 2 section 2.2.9, FMI 3 section 2.4.7.1)        */

static bool q_char(char ch)
{
    if (isalnum((unsigned char)ch) || ch == '_')
        return true;
    return ch != '\0' && strchr("!#$%&()*+,-./:;<>=?@[]^{}|~ ", ch) != NULL;
}

static const char *parse_bname(const char *p)
{
    if (isalpha((unsigned char)*p) || *p == '_') {
        for (p++; isalnum((unsigned char)*p) || *p == '_'; p++)
            ;
        return p;
    }
    if (*p != '\'')
        return NULL;
    p++;
    const char *first = p;
    while (*p != '\'') {
        if (*p == '\\') {
            if (!p[1] || !strchr("'\"?\\abfnrtv", p[1]))
                return NULL;
            p += 2;
        } else if (q_char(*p)) {
            p++;
        } else {
            return NULL;
        }
    }
    return p == first ? NULL : p + 1;
}

static const char *parse_uint(const char *p)
{
    if (!isdigit((unsigned char)*p))
        return NULL;
    while (isdigit((unsigned char)*p))
        p++;
    return p;
}

static const char *parse_identifier(const char *p)
{
    for (;;) {
        p = parse_bname(p);
        if (!p)
            return NULL;
        if (*p == '[') {
            do {
                p = parse_uint(p + 1);
                if (!p)
                    return NULL;
            } while (*p == ',');
            if (*p != ']')
                return NULL;
            p++;
        }
        if (*p != '.')
            return p;
        p++;
    }
}

static bool structured_name_ok(const char *name)
{
    const char *p;
    if (strncmp(name, "der(", 4) == 0) {
        p = parse_identifier(name + 4);
        if (!p)
            return false;
        if (*p == ',') {
            p = parse_uint(p + 1);
            if (!p)
                return false;
        }
        return p[0] == ')' && p[1] == '\0';
    }
    p = parse_identifier(name);
    return p && *p == '\0';
}

/* ------------------------------------------------------------------ */
/* units and type definitions                                           */

typedef struct {
    named *units;
    size_t n_units;
    named *types;
    size_t n_types;
} lookups;

static const fmi_type_def *type_of(const vctx *c, const lookups *lk, const fmi_variable *v)
{
    long i = named_find(lk->types, lk->n_types, v->declared_type);
    return i < 0 ? NULL : &c->m->type_defs[i];
}

static void check_type_defs(vctx *c, const lookups *lk)
{
    const fmi_model *m = c->m;
    for (size_t i = 0; i + 1 < lk->n_units; i++)
        if (strcmp(lk->units[i].name, lk->units[i + 1].name) == 0)
            add(c, "unique-unit-names", m->units[lk->units[i + 1].idx].line, "unit \"%s\" is defined more than once",
                lk->units[i].name);
    for (size_t i = 0; i + 1 < lk->n_types; i++)
        if (strcmp(lk->types[i].name, lk->types[i + 1].name) == 0)
            add(c, "unique-type-names", m->type_defs[lk->types[i + 1].idx].line,
                "type \"%s\" is defined more than once", lk->types[i].name);

    for (size_t i = 0; i < m->n_type_defs; i++) {
        const fmi_type_def *t = &m->type_defs[i];
        if (t->unit && named_find(lk->units, lk->n_units, t->unit) < 0)
            add(c, "unit-undefined", t->line, "unit \"%s\" of type \"%s\" is not defined in UnitDefinitions", t->unit,
                t->name ? t->name : "");
        if (t->display_unit && !t->unit)
            add(c, "display-unit-without-unit", t->line, "type \"%s\" has displayUnit \"%s\" but no unit",
                t->name ? t->name : "", t->display_unit);
        if (t->has_min && t->has_max && t->min > t->max)
            add(c, "min-max", t->line, "type \"%s\": min %g > max %g", t->name ? t->name : "", t->min, t->max);
        if (t->has_nominal && !(t->nominal > 0))
            add(c, "nominal-positive", t->line, "type \"%s\": nominal %g must be > 0", t->name ? t->name : "",
                t->nominal);
    }
}

/* ------------------------------------------------------------------ */
/* variables: names and value references                                */

static void check_names(vctx *c, named *byname)
{
    const fmi_model *m = c->m;
    bool structured = m->variable_naming_convention && strcmp(m->variable_naming_convention, "structured") == 0;

    for (size_t i = 0; i < m->n_variables; i++) {
        const fmi_variable *v = &m->variables[i];
        if (!v->name || !*v->name)
            add_var(c, "variable-name-empty", v, "variable name is empty");
        else if (structured && !structured_name_ok(v->name))
            add_var(c, "structured-name-invalid", v,
                    "\"%s\" is not a valid structured name (variableNamingConvention=\"structured\")", v->name);
    }
    for (size_t i = 0; i + 1 < m->n_variables; i++) {
        if (strcmp(byname[i].name, byname[i + 1].name) != 0)
            continue;
        /* byname is sorted by (name, index): report every later occurrence */
        size_t first = byname[i].idx;
        while (i + 1 < m->n_variables && strcmp(byname[i].name, byname[i + 1].name) == 0) {
            add_var(c, "unique-variable-names", &m->variables[byname[i + 1].idx],
                    "variable name is also used at line %d", m->variables[first].line);
            i++;
        }
    }
}

/* FMI 2 has one value reference space per base type; FMI 3 one in all. */
static int vr_class(const fmi_model *m, fmi_type t)
{
    if (m->version == FMI_VERSION_3)
        return 0;
    if (is_float(t))
        return 0;
    if (is_integer(t) || t == FMI_ENUMERATION)
        return 1;
    if (t == FMI_BOOLEAN)
        return 2;
    if (t == FMI_STRING)
        return 3;
    return 4;
}

static int vr_cmp(const void *a, const void *b, void *arg)
{
    const fmi_model *m = arg;
    const fmi_variable *x = &m->variables[*(const size_t *)a];
    const fmi_variable *y = &m->variables[*(const size_t *)b];
    int cx = vr_class(m, x->type), cy = vr_class(m, y->type);
    if (cx != cy)
        return cx < cy ? -1 : 1;
    if (x->vr != y->vr)
        return x->vr < y->vr ? -1 : 1;
    size_t ia = *(const size_t *)a, ib = *(const size_t *)b;
    return ia < ib ? -1 : ia > ib;
}

/* Index of the variable with value reference `vr` (FMI 3), or -1. */
static long find_vr3(const vctx *c, uint32_t vr)
{
    size_t lo = 0, hi = c->m->n_variables;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint32_t x = c->m->variables[c->by_vr[mid]].vr;
        if (x < vr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < c->m->n_variables && c->m->variables[c->by_vr[lo]].vr == vr)
        return (long)c->by_vr[lo];
    return -1;
}

static bool sets_from_outside(fmi_causality ca)
{
    return ca == FMI_CAUSALITY_INPUT || ca == FMI_CAUSALITY_PARAMETER || ca == FMI_CAUSALITY_STRUCTURAL_PARAMETER;
}

static void check_value_references(vctx *c)
{
    const fmi_model *m = c->m;
    size_t n = m->n_variables;
    for (size_t i = 0; i + 1 < n; i++) {
        size_t a = c->by_vr[i];
        const fmi_variable *first = &m->variables[a];
        size_t j = i + 1;
        int settable = sets_from_outside(first->causality);
        for (; j < n; j++) {
            const fmi_variable *v = &m->variables[c->by_vr[j]];
            if (v->vr != first->vr || vr_class(m, v->type) != vr_class(m, first->type))
                break;
            if (m->version == FMI_VERSION_3) {
                add_var(c, "unique-value-references", v, "valueReference %u is also used by '%s' (line %d)",
                        (unsigned)v->vr, vname(c, (int)a), first->line);
                continue;
            }
            /* FMI 2 alias: same variability, at most one settable member */
            if (c->var_eff[c->by_vr[j]] != c->var_eff[a])
                add_var(c, "unique-value-references", v,
                        "alias of '%s' (valueReference %u) with a different variability (%s, not %s)", vname(c, (int)a),
                        (unsigned)v->vr, fmi_variability_name(c->var_eff[c->by_vr[j]]),
                        fmi_variability_name(c->var_eff[a]));
            else if (sets_from_outside(v->causality) && settable++)
                add_var(c, "unique-value-references", v,
                        "alias set of valueReference %u has more than one input or parameter", (unsigned)v->vr);
        }
        i = j - 1;
    }
}

/* ------------------------------------------------------------------ */
/* causality, variability, initial, start                               */

enum { CASE_A = 0, CASE_B, CASE_C, CASE_D };

/* The cases of FMI 2 table 2.2.7 / FMI 3 tables 18 and 22:
 * A initial exact only; B approx or calculated (default calculated);
 * C exact, approx or calculated (default calculated); D no initial. */
static int combo_case(fmi_version ver, fmi_causality ca, fmi_variability va)
{
    bool param_var = va == FMI_VARIABILITY_FIXED || va == FMI_VARIABILITY_TUNABLE;
    bool time_var = va == FMI_VARIABILITY_DISCRETE || va == FMI_VARIABILITY_CONTINUOUS;
    switch (ca) {
    case FMI_CAUSALITY_STRUCTURAL_PARAMETER:
        if (ver == FMI_VERSION_2)
            return -1;
        /* fall through */
    case FMI_CAUSALITY_PARAMETER:
        return param_var ? CASE_A : -1;
    case FMI_CAUSALITY_CALCULATED_PARAMETER:
        return param_var ? CASE_B : -1;
    case FMI_CAUSALITY_INPUT:
        return time_var ? CASE_D : -1;
    case FMI_CAUSALITY_OUTPUT:
        return va == FMI_VARIABILITY_CONSTANT ? CASE_A : time_var ? CASE_C : -1;
    case FMI_CAUSALITY_LOCAL:
        return va == FMI_VARIABILITY_CONSTANT ? CASE_A : param_var ? CASE_B : CASE_C;
    case FMI_CAUSALITY_INDEPENDENT:
        return va == FMI_VARIABILITY_CONTINUOUS ? CASE_D : -1;
    }
    return -1;
}

static fmi_variability effective_variability(const fmi_variable *v)
{
    if (v->has_variability)
        return v->variability;
    /* FMI 3.0.1 defines fixed as the default for parameters; FMI 2 exporters
     * always write it, so the same default is used for both versions. */
    if (v->causality == FMI_CAUSALITY_PARAMETER || v->causality == FMI_CAUSALITY_CALCULATED_PARAMETER ||
        v->causality == FMI_CAUSALITY_STRUCTURAL_PARAMETER)
        return FMI_VARIABILITY_FIXED;
    return is_float(v->type) ? FMI_VARIABILITY_CONTINUOUS : FMI_VARIABILITY_DISCRETE;
}

static void check_causality(vctx *c, size_t i)
{
    const fmi_model *m = c->m;
    const fmi_variable *v = &m->variables[i];
    fmi_variability va = c->var_eff[i];
    int cs = c->init_case[i];

    if (va == FMI_VARIABILITY_CONTINUOUS && !is_float(v->type)) {
        add_var(c, "continuous-requires-float", v, "only %s variables can be continuous, not %s",
                m->version == FMI_VERSION_2 ? "Real" : "Float32/Float64", fmi_type_name(m->version, v->type));
        return;
    }
    if (cs < 0) {
        add_var(c, "causality-variability", v, "causality=\"%s\" cannot have variability=\"%s\"",
                fmi_causality_name(v->causality), fmi_variability_name(va));
        return;
    }
    if (v->initial != FMI_INITIAL_UNSET) {
        bool ok = (cs == CASE_A && v->initial == FMI_INITIAL_EXACT) ||
                  (cs == CASE_B && v->initial != FMI_INITIAL_EXACT) || cs == CASE_C;
        if (!ok) {
            add_var(c, "initial-invalid", v, "initial=\"%s\" is not allowed with causality=\"%s\" variability=\"%s\"",
                    fmi_initial_name(v->initial), fmi_causality_name(v->causality), fmi_variability_name(va));
            return;
        }
    }
    if (v->type == FMI_CLOCK)
        return; /* Clocks have no start value */
    fmi_initial ini = c->init_eff[i];
    bool need = ini == FMI_INITIAL_EXACT || ini == FMI_INITIAL_APPROX || v->causality == FMI_CAUSALITY_INPUT;
    bool forbid = ini == FMI_INITIAL_CALCULATED || v->causality == FMI_CAUSALITY_INDEPENDENT;
    if (need && !v->start)
        add_var(c, "start-required", v, "a start value is required (causality=\"%s\", variability=\"%s\", initial=\"%s\")",
                fmi_causality_name(v->causality), fmi_variability_name(va),
                ini == FMI_INITIAL_UNSET ? "none" : fmi_initial_name(ini));
    else if (forbid && v->start)
        add_var(c, "start-not-allowed", v, "a start value is not allowed (causality=\"%s\", initial=\"%s\")",
                fmi_causality_name(v->causality), ini == FMI_INITIAL_UNSET ? "none" : fmi_initial_name(ini));
}

static void check_independent(vctx *c)
{
    const fmi_model *m = c->m;
    int first = -1;
    for (size_t i = 0; i < m->n_variables; i++) {
        const fmi_variable *v = &m->variables[i];
        if (v->causality != FMI_CAUSALITY_INDEPENDENT)
            continue;
        if (first >= 0)
            add_var(c, "independent-unique", v, "only one variable may be independent ('%s' already is)",
                    vname(c, first));
        else
            first = (int)i;
        bool type_ok = m->version == FMI_VERSION_2 ? v->type == FMI_FLOAT64 : is_float(v->type);
        if (!type_ok)
            add_var(c, "independent-type", v, "the independent variable must be %s, not %s",
                    m->version == FMI_VERSION_2 ? "Real" : "Float32/Float64", fmi_type_name(m->version, v->type));
    }
    if (first < 0 && m->version == FMI_VERSION_3)
        add(c, "independent-required", 0, "FMI 3 requires exactly one variable with causality=\"independent\"");
}

/* ------------------------------------------------------------------ */
/* start / min / max / nominal                                          */

static bool parse_int_token(fmi_type t, const char *tok, double *out)
{
    static const struct {
        double lo, hi;
    } range[] = {
        [FMI_INT8] = { -128.0, 127.0 },
        [FMI_UINT8] = { 0, 255.0 },
        [FMI_INT16] = { -32768.0, 32767.0 },
        [FMI_UINT16] = { 0, 65535.0 },
        [FMI_INT32] = { -2147483648.0, 2147483647.0 },
        [FMI_UINT32] = { 0, 4294967295.0 },
        [FMI_INT64] = { -9223372036854775808.0, 9223372036854775807.0 },
        [FMI_UINT64] = { 0, 18446744073709551615.0 },
    };
    char *end;
    errno = 0;
    if (t == FMI_UINT8 || t == FMI_UINT16 || t == FMI_UINT32 || t == FMI_UINT64) {
        if (*tok == '-')
            return false;
        unsigned long long u = strtoull(tok, &end, 10);
        if (end == tok || *end || errno)
            return false;
        *out = (double)u;
    } else {
        long long s = strtoll(tok, &end, 10);
        if (end == tok || *end || errno)
            return false;
        *out = (double)s;
    }
    if (t == FMI_ENUMERATION)
        return true;
    return *out >= range[t].lo && *out <= range[t].hi;
}

/* Checks each whitespace-separated start value. */
static void check_values(vctx *c, const fmi_variable *v, const fmi_type_def *td)
{
    bool has_min = v->has_min || (td && td->has_min);
    bool has_max = v->has_max || (td && td->has_max);
    double mn = v->has_min ? v->min : td ? td->min : 0;
    double mx = v->has_max ? v->max : td ? td->max : 0;
    bool numeric = is_float(v->type) || is_integer(v->type) || v->type == FMI_ENUMERATION;

    if (has_min && has_max && mn > mx)
        add_var(c, "min-max", v, "min %g > max %g", mn, mx);
    if (is_float(v->type) && v->has_nominal && !(v->nominal > 0))
        add_var(c, "nominal-positive", v, "nominal %g must be > 0", v->nominal);

    if (!v->start || !(numeric || v->type == FMI_BOOLEAN))
        return;
    char *copy = strdup(v->start);
    if (!copy) {
        c->rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        return;
    }
    size_t count = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
        double x = 0;
        bool ok;
        count++;
        if (v->type == FMI_BOOLEAN) {
            ok = !strcmp(tok, "true") || !strcmp(tok, "false") || !strcmp(tok, "1") || !strcmp(tok, "0");
        } else if (is_float(v->type)) {
            char *end;
            x = strtod(tok, &end);
            ok = end != tok && !*end;
        } else {
            ok = parse_int_token(v->type, tok, &x);
        }
        if (!ok) {
            add_var(c, "start-value-invalid", v, "start value \"%s\" is not a valid %s", tok,
                    fmi_type_name(c->m->version, v->type));
            break;
        }
        if (numeric && ((has_min && x < mn) || (has_max && x > mx))) {
            add_var(c, "start-out-of-range", v, "start value %s is outside [%g, %g]", tok, has_min ? mn : -INFINITY,
                    has_max ? mx : INFINITY);
            break;
        }
    }
    if (count == 0)
        add_var(c, "start-value-invalid", v, "start value is empty");
    else if (count > 1 && v->n_dims == 0)
        add_var(c, "start-value-invalid", v, "a scalar variable has %zu start values", count);
    free(copy);
}

static void check_types_and_units(vctx *c, const lookups *lk, const fmi_variable *v)
{
    const fmi_model *m = c->m;
    const fmi_type_def *td = NULL;
    if (v->declared_type) {
        td = type_of(c, lk, v);
        if (!td)
            add_var(c, "declared-type-undefined", v, "declaredType \"%s\" is not defined in TypeDefinitions",
                    v->declared_type);
        else if (td->type != v->type) {
            add_var(c, "declared-type-mismatch", v, "declaredType \"%s\" is a %s type, the variable is %s",
                    v->declared_type, fmi_type_name(m->version, td->type), fmi_type_name(m->version, v->type));
            td = NULL;
        }
    } else if (v->type == FMI_ENUMERATION) {
        add_var(c, "enumeration-declared-type", v, "an Enumeration variable needs a declaredType");
    }
    const char *unit = v->unit ? v->unit : td ? td->unit : NULL;
    if (v->unit && named_find(lk->units, lk->n_units, v->unit) < 0)
        add_var(c, "unit-undefined", v, "unit \"%s\" is not defined in UnitDefinitions", v->unit);
    if (v->display_unit && !unit)
        add_var(c, "display-unit-without-unit", v, "displayUnit \"%s\" given but the variable has no unit",
                v->display_unit);
    check_values(c, v, td);
}

/* ------------------------------------------------------------------ */
/* references between variables                                         */

static void check_references(vctx *c, size_t i)
{
    const fmi_model *m = c->m;
    const fmi_variable *v = &m->variables[i];

    if (v->has_derivative_raw) {
        if (v->derivative_of < 0 || (size_t)v->derivative_of >= m->n_variables) {
            add_var(c, "derivative-unresolved", v, "derivative=\"%u\" does not refer to a variable",
                    (unsigned)v->derivative_vr_raw);
        } else {
            const fmi_variable *s = &m->variables[v->derivative_of];
            if (!is_float(v->type) || !is_float(s->type))
                add_var(c, "derivative-not-float", v, "a derivative and its variable '%s' must be %s", s->name,
                        m->version == FMI_VERSION_2 ? "Real" : "Float32/Float64");
            else if (c->var_eff[i] != FMI_VARIABILITY_CONTINUOUS ||
                     c->var_eff[v->derivative_of] != FMI_VARIABILITY_CONTINUOUS)
                add_var(c, "derivative-not-continuous", v, "a derivative and its variable '%s' must be continuous",
                        s->name);
        }
    }
    if (v->has_previous_raw && (v->previous < 0 || (size_t)v->previous >= m->n_variables))
        add_var(c, "previous-unresolved", v, "previous=\"%u\" does not refer to a variable", (unsigned)v->previous_raw);
    else if (v->has_previous_raw && m->variables[v->previous].type != v->type)
        add_var(c, "previous-type-mismatch", v, "previous refers to '%s' of another type", vname(c, v->previous));

    if (m->version != FMI_VERSION_3)
        return;
    if (v->n_dims && v->causality == FMI_CAUSALITY_STRUCTURAL_PARAMETER)
        add_var(c, "dimension-invalid", v, "a structural parameter must not have a Dimension");
    for (size_t d = 0; d < v->n_dims; d++) {
        if (!v->dims[d].has_vr)
            continue;
        long k = find_vr3(c, v->dims[d].vr);
        if (k < 0) {
            add_var(c, "dimension-invalid", v, "Dimension valueReference %u does not refer to a variable",
                    (unsigned)v->dims[d].vr);
            continue;
        }
        const fmi_variable *p = &m->variables[k];
        if (p->type != FMI_UINT64 || (p->causality != FMI_CAUSALITY_STRUCTURAL_PARAMETER &&
                                      c->var_eff[k] != FMI_VARIABILITY_CONSTANT))
            add_var(c, "dimension-invalid", v,
                    "Dimension refers to '%s', which is not a UInt64 structural parameter or constant", p->name);
    }
    for (size_t k = 0; k < v->n_clocks; k++) {
        long idx = find_vr3(c, v->clocks[k]);
        if (idx < 0 || m->variables[idx].type != FMI_CLOCK)
            add_var(c, "clock-reference", v, "clocks entry %u does not refer to a Clock variable",
                    (unsigned)v->clocks[k]);
    }
}

/* ------------------------------------------------------------------ */
/* ModelStructure                                                       */

static bool resolves(const vctx *c, int idx)
{
    return idx >= 0 && (size_t)idx < c->m->n_variables;
}

/* Resolution, dependencies and duplicates of one list; marks `seen`. */
static void check_unknowns(vctx *c, const char *kind, const fmi_unknown *list, size_t n, bool *seen)
{
    const char *ref = c->m->version == FMI_VERSION_3 ? "valueReference" : "index";
    for (size_t i = 0; i < n; i++) {
        const fmi_unknown *u = &list[i];
        if (!resolves(c, u->var)) {
            add(c, "model-structure-unresolved", u->line, "%s %s=\"%u\" does not refer to a variable", kind, ref,
                (unsigned)u->raw);
            continue;
        }
        if (seen[u->var])
            add(c, "model-structure-duplicate", u->line, "%s '%s' is listed more than once", kind, vname(c, u->var));
        seen[u->var] = true;
        for (size_t d = 0; d < u->n_dependencies; d++)
            if (!resolves(c, u->dependencies[d]))
                add(c, "model-structure-unresolved", u->line, "dependency %zu of %s '%s' does not refer to a variable",
                    d + 1, kind, vname(c, u->var));
    }
}

static void check_model_structure(vctx *c)
{
    const fmi_model *m = c->m;
    size_t n = m->n_variables;
    bool *out = calloc(n + 1, 1), *der = calloc(n + 1, 1), *ini = calloc(n + 1, 1), *ev = calloc(n + 1, 1);
    bool *state = calloc(n + 1, 1);
    if (!out || !der || !ini || !ev || !state) {
        c->rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    bool v3 = m->version == FMI_VERSION_3;
    check_unknowns(c, v3 ? "Output" : "Outputs/Unknown", m->outputs, m->n_outputs, out);
    check_unknowns(c, v3 ? "ContinuousStateDerivative" : "Derivatives/Unknown", m->derivatives, m->n_derivatives, der);
    check_unknowns(c, v3 ? "InitialUnknown" : "InitialUnknowns/Unknown", m->initial_unknowns, m->n_initial_unknowns,
                   ini);
    check_unknowns(c, "EventIndicator", m->event_indicators, m->n_event_indicators, ev);

    /* Outputs: exactly the variables with causality output */
    for (size_t i = 0; i < m->n_outputs; i++) {
        const fmi_unknown *u = &m->outputs[i];
        if (resolves(c, u->var) && m->variables[u->var].causality != FMI_CAUSALITY_OUTPUT)
            add(c, "outputs-causality", u->line, "'%s' is listed as an output but has causality=\"%s\"",
                vname(c, u->var), fmi_causality_name(m->variables[u->var].causality));
    }
    for (size_t i = 0; i < n; i++)
        if (m->variables[i].causality == FMI_CAUSALITY_OUTPUT && !out[i])
            add_var(c, "outputs-missing", &m->variables[i], "output variable is not listed in ModelStructure %s",
                    m->version == FMI_VERSION_3 ? "Output" : "Outputs");

    /* Derivatives: variables with a derivative attribute; mark their states */
    for (size_t i = 0; i < m->n_derivatives; i++) {
        const fmi_unknown *u = &m->derivatives[i];
        if (!resolves(c, u->var))
            continue;
        const fmi_variable *v = &m->variables[u->var];
        if (!v->has_derivative_raw)
            add(c, "derivatives-not-derivative", u->line, "'%s' is listed as a state derivative but has no derivative attribute",
                v->name);
        else if (resolves(c, v->derivative_of)) {
            state[v->derivative_of] = true;
            if (m->version == FMI_VERSION_3) {
                fmi_causality sc = m->variables[v->derivative_of].causality;
                if (sc != FMI_CAUSALITY_LOCAL && sc != FMI_CAUSALITY_OUTPUT)
                    add_var(c, "state-causality", &m->variables[v->derivative_of],
                            "a continuous state must have causality local or output, not \"%s\"",
                            fmi_causality_name(sc));
            }
        }
    }

    /* InitialUnknowns: outputs and states/derivatives with initial approx or
     * calculated, and calculated parameters (FMI 2 2.2.8, FMI 3 2.4.8) */
    for (size_t i = 0; i < n; i++) {
        const fmi_variable *v = &m->variables[i];
        fmi_initial ie = c->init_eff[i];
        bool not_exact = ie == FMI_INITIAL_APPROX || ie == FMI_INITIAL_CALCULATED;
        bool expected = (v->causality == FMI_CAUSALITY_OUTPUT && not_exact) ||
                        v->causality == FMI_CAUSALITY_CALCULATED_PARAMETER || ((der[i] || state[i]) && not_exact);
        if (v->type == FMI_CLOCK)
            expected = false;
        if (expected && !ini[i])
            add_var(c, "initial-unknowns-missing", v, "must be listed in %s (causality=\"%s\", initial=\"%s\")",
                    m->version == FMI_VERSION_3 ? "InitialUnknown" : "InitialUnknowns",
                    fmi_causality_name(v->causality), ie == FMI_INITIAL_UNSET ? "none" : fmi_initial_name(ie));
        if (!ini[i] || expected)
            continue;
        /* FMI 2 gives the exact list; FMI 3 only rules out knowns */
        bool known = ie == FMI_INITIAL_EXACT || v->causality == FMI_CAUSALITY_INPUT ||
                     v->causality == FMI_CAUSALITY_PARAMETER || v->causality == FMI_CAUSALITY_STRUCTURAL_PARAMETER ||
                     v->causality == FMI_CAUSALITY_INDEPENDENT || c->var_eff[i] == FMI_VARIABILITY_CONSTANT;
        if (m->version == FMI_VERSION_2 || known)
            add_var(c, "initial-unknowns-unexpected", v, "is listed in InitialUnknowns but is not an initial unknown (causality=\"%s\", initial=\"%s\")",
                    fmi_causality_name(v->causality), ie == FMI_INITIAL_UNSET ? "none" : fmi_initial_name(ie));
    }

    /* Event indicators */
    if (m->version == FMI_VERSION_2) {
        if (m->n_event_indicators)
            add(c, "event-indicators", m->event_indicators[0].line, "EventIndicator elements are FMI 3 only");
    } else {
        if (m->has_number_of_event_indicators)
            add(c, "event-indicators", 0, "numberOfEventIndicators is an FMI 2 attribute; FMI 3 lists EventIndicator elements");
        for (size_t i = 0; i < m->n_event_indicators; i++) {
            const fmi_unknown *u = &m->event_indicators[i];
            if (!resolves(c, u->var))
                continue;
            const fmi_variable *v = &m->variables[u->var];
            if (!is_float(v->type) || c->var_eff[u->var] != FMI_VARIABILITY_CONTINUOUS)
                add(c, "event-indicators", u->line, "event indicator '%s' must be a continuous Float32/Float64 variable",
                    v->name);
            else if (v->causality != FMI_CAUSALITY_LOCAL && v->causality != FMI_CAUSALITY_OUTPUT)
                add(c, "event-indicators", u->line, "event indicator '%s' must have causality local or output", v->name);
        }
    }
out:
    free(out);
    free(der);
    free(ini);
    free(ev);
    free(state);
}

/* ------------------------------------------------------------------ */
/* DefaultExperiment                                                    */

static void check_default_experiment(vctx *c)
{
    const fmi_default_experiment *d = &c->m->default_experiment;
    double start = d->has_start_time ? d->start_time : 0.0;
    if (d->has_stop_time && !(start < d->stop_time))
        add(c, "default-experiment", 0, "DefaultExperiment startTime %g must be < stopTime %g", start, d->stop_time);
    if (d->has_tolerance && !(d->tolerance > 0))
        add(c, "default-experiment", 0, "DefaultExperiment tolerance %g must be > 0", d->tolerance);
    if (d->has_step_size && !(d->step_size > 0))
        add(c, "default-experiment", 0, "DefaultExperiment stepSize %g must be > 0", d->step_size);
}

/* ------------------------------------------------------------------ */
/* binaries                                                             */

static bool name_listed(char **names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

static void check_binaries(vctx *c, const char *unpack_dir)
{
    const fmi_model *m = c->m;
    char *paths[3] = { NULL, NULL, NULL };
    size_t dlen = strlen(unpack_dir);
    for (int i = 0; i < 3 && !c->rc; i++) {
        if (!m->interfaces[i].present || !is_c_identifier(m->interfaces[i].model_identifier))
            continue; /* an invalid identifier is reported already and must not become a path */
        char *path = fmi_binary_path(m, unpack_dir, (fmi_interface)i);
        if (!path) {
            c->rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
            break;
        }
        paths[i] = path;
        const char *rel = strncmp(path, unpack_dir, dlen) == 0 && path[dlen] == '/' ? path + dlen + 1 : path;
        /* ME and CS often share one binary: check each file once, but each
         * interface's function list against it */
        bool again = false;
        for (int j = 0; j < i; j++)
            if (paths[j] && strcmp(paths[j], path) == 0)
                again = true;
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            if (!again)
                add_at(c, "binary-missing", rel, "%s needs this binary, which is missing",
                       fmi_interface_name((fmi_interface)i));
            continue;
        }
        char **names = NULL;
        size_t n = 0;
        if (fmi_elf_exported_functions(&names, &n, path) != 0) {
            if (!again)
                add_at(c, "binary-invalid", rel, "cannot read the exported functions: %s", fmugw_error_last());
            continue;
        }
        const char *const *req = fmi_required_functions(m->version, (fmi_interface)i);
        for (size_t k = 0; req && req[k] && !c->rc; k++) {
            if (name_listed(names, n, req[k]))
                continue;
            /* already reported for an earlier interface with the same file? */
            bool dup = false;
            for (int j = 0; j < i && again; j++) {
                const char *const *rj = paths[j] && !strcmp(paths[j], path)
                                            ? fmi_required_functions(m->version, (fmi_interface)j) : NULL;
                for (size_t q = 0; rj && rj[q]; q++)
                    if (!strcmp(rj[q], req[k]))
                        dup = true;
            }
            if (!dup)
                add_at(c, "binary-function-missing", rel, "the binary does not export %s (required for %s)", req[k],
                       fmi_interface_name((fmi_interface)i));
        }
        fmi_elf_free_names(names, n);
    }
    for (int i = 0; i < 3; i++)
        free(paths[i]);
}

/* ------------------------------------------------------------------ */
/* entry points                                                         */

static int build_named(named **out, size_t n, const char *(*name_at)(const fmi_model *, size_t),
                       const fmi_model *m)
{
    named *arr = calloc(n ? n : 1, sizeof *arr);
    if (!arr)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = name_at(m, i);
        if (!s)
            continue;
        arr[k].name = s;
        arr[k].idx = i;
        k++;
    }
    qsort(arr, k, sizeof *arr, named_cmp);
    *out = arr;
    return (int)k;
}

static const char *unit_name(const fmi_model *m, size_t i) { return m->units[i].name; }
static const char *type_name_at(const fmi_model *m, size_t i) { return m->type_defs[i].name; }
static const char *var_name(const fmi_model *m, size_t i) { return m->variables[i].name ? m->variables[i].name : ""; }

int fmi_validate_model(fmi_report *rep, const fmi_model *model, const char *unpack_dir)
{
    vctx c = { .rep = rep, .m = model };
    lookups lk = { 0 };
    named *byname = NULL;
    size_t n = model->n_variables;
    int k;

    c.var_eff = calloc(n + 1, sizeof *c.var_eff);
    c.init_case = calloc(n + 1, sizeof *c.init_case);
    c.init_eff = calloc(n + 1, sizeof *c.init_eff);
    c.by_vr = calloc(n + 1, sizeof *c.by_vr);
    if (!c.var_eff || !c.init_case || !c.init_eff || !c.by_vr) {
        c.rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    if ((k = build_named(&lk.units, model->n_units, unit_name, model)) < 0)
        goto fail;
    lk.n_units = (size_t)k;
    if ((k = build_named(&lk.types, model->n_type_defs, type_name_at, model)) < 0)
        goto fail;
    lk.n_types = (size_t)k;
    if ((k = build_named(&byname, n, var_name, model)) < 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        const fmi_variable *v = &model->variables[i];
        c.var_eff[i] = effective_variability(v);
        c.init_case[i] = combo_case(model->version, v->causality, c.var_eff[i]);
        if (v->initial != FMI_INITIAL_UNSET)
            c.init_eff[i] = v->initial;
        else if (c.init_case[i] == CASE_A)
            c.init_eff[i] = FMI_INITIAL_EXACT;
        else if (c.init_case[i] == CASE_B || c.init_case[i] == CASE_C)
            c.init_eff[i] = FMI_INITIAL_CALCULATED;
        else
            c.init_eff[i] = FMI_INITIAL_UNSET;
        c.by_vr[i] = i;
    }
    qsort_r(c.by_vr, n, sizeof *c.by_vr, vr_cmp, (void *)model);

    check_attributes(&c);
    check_type_defs(&c, &lk);
    check_names(&c, byname);
    check_value_references(&c);
    check_independent(&c);
    for (size_t i = 0; i < n && !c.rc; i++) {
        check_causality(&c, i);
        check_types_and_units(&c, &lk, &model->variables[i]);
        check_references(&c, i);
    }
    check_model_structure(&c);
    check_default_experiment(&c);
    if (unpack_dir && !c.rc)
        check_binaries(&c, unpack_dir);
    goto out;
fail:
    c.rc = k;
out:
    free(c.var_eff);
    free(c.init_case);
    free(c.init_eff);
    free(c.by_vr);
    free(lk.units);
    free(lk.types);
    free(byname);
    return c.rc;
}

int fmi_validate_unpacked(fmi_report *rep, const char *dir)
{
    char *md = NULL;
    fmi_model *model = NULL;
    int rc = 0;
    struct stat st;

    md = fmugw_path_join(dir, MD);
    if (!md) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    if (stat(md, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = fmi_report_add(rep, "model-description-missing", MD, "the FMU has no modelDescription.xml at its root");
        goto out;
    }
    rc = fmi_model_parse(&model, md);
    if (rc == FMUGW_ENOMEM)
        goto out;
    if (rc) {
        /* the parser's message already starts with "modelDescription.xml:LINE: " */
        const char *msg = fmugw_error_last();
        char where[64];
        snprintf(where, sizeof where, MD);
        if (strncmp(msg, MD ":", sizeof MD) == 0) {
            const char *p = msg + sizeof MD;
            size_t nd = strspn(p, "0123456789");
            if (nd > 0 && nd < 12 && p[nd] == ':') {
                snprintf(where, sizeof where, MD ":%.*s", (int)nd, p);
                msg = p + nd + 1;
            } else if (*p == ' ') {
                msg = p;
            }
            while (*msg == ' ')
                msg++;
        }
        rc = fmi_report_add(rep, "model-description-parse", where, "%s", msg);
        goto out;
    }
    rc = fmi_validate_model(rep, model, dir);
out:
    fmi_model_free(model);
    free(md);
    return rc == FMUGW_ENOMEM ? rc : 0;
}

bool fmi_validate_needs_entry(const char *path, bool is_dir, void *ctx)
{
    (void)is_dir;
    (void)ctx;
    return strcmp(path, MD) == 0 || strcmp(path, "binaries") == 0 || strncmp(path, "binaries/", 9) == 0;
}

int fmi_validate_fmu(fmi_report **out, const char *fmu_path)
{
    fmi_report *rep = calloc(1, sizeof *rep);
    char *dir = NULL;
    int rc = 0;

    *out = NULL;
    if (!rep)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    rc = fmi_archive_extract_temp(&dir, fmu_path, NULL);
    if (rc == FMUGW_ENOMEM)
        goto out;
    if (rc) {
        /* the base name only: reports go to clients, server paths do not */
        const char *base = strrchr(fmu_path, '/');
        rc = fmi_report_add(rep, "archive", base ? base + 1 : fmu_path, "%s", fmugw_error_last());
        goto out;
    }
    rc = fmi_validate_unpacked(rep, dir);
out:
    if (dir) {
        fmugw_rmtree(dir);
        free(dir);
    }
    if (rc == FMUGW_ENOMEM) {
        fmi_report_free(rep);
        return rc;
    }
    *out = rep;
    return 0;
}
