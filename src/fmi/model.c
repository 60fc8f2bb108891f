/*
 * model.c - modelDescription.xml parser for FMI 2.0 and 3.0 (see model.h).
 *
 * Before libxml2 sees the bytes, a pre-scan counts elements and the
 * attributes of each start tag against the caps of model.h: libxml2's check
 * for duplicate attributes is quadratic in their number, so one element
 * with 200,000 attributes would keep it busy for minutes. Then
 * libxml2 builds a tree with network access off and no entity expansion; a
 * document with a DOCTYPE is refused outright (the parse stops at the
 * DOCTYPE, before any entity declaration is read), which rules out
 * billion-laughs and external-entity tricks. The tree is then walked once
 * into an fmi_model: variables first (so the FMI 3 value-reference hash is
 * ready), then the model structure. References are resolved to indices
 * here; whether they make sense is validate.c's business. The finished
 * model carries hash tables of its variables by name and by value
 * reference (fmi_model_index), for fmi_model_find / fmi_model_find_vr.
 */
#include "fmi/model.h"

#include "util/error.h"
#include "util/fsutil.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#define DOC_NAME "modelDescription.xml"

typedef struct {
    fmi_model *m;
    bool oom;       /* a strdup/calloc failed somewhere: reported at the end */
    int *vr_slots;  /* FMI 3 vr -> index + 1, open addressing; 0 = empty */
    size_t vr_mask;
} parser;

/* ---- small helpers ------------------------------------------------------ */

static int fail(const xmlNode *node, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(const xmlNode *node, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fmugw_error_set(FMUGW_EINVALID, DOC_NAME ":%ld: %s", node ? xmlGetLineNo(node) : 0L, msg);
}

static bool is_elem(const xmlNode *n, const char *name)
{
    return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

/* The text of attribute `name` (borrowed), or NULL when absent. */
static const char *attr(const xmlNode *n, const char *name)
{
    for (const xmlAttr *a = n->properties; a; a = a->next) {
        if (strcmp((const char *)a->name, name) != 0)
            continue;
        if (!a->children)
            return "";
        if (a->children->type == XML_TEXT_NODE && !a->children->next && a->children->content)
            return (const char *)a->children->content;
        return ""; /* only reachable with entity references, which are refused */
    }
    return NULL;
}

static char *sdup(parser *p, const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        p->oom = true;
    return d;
}

static char *attr_dup(parser *p, const xmlNode *n, const char *name)
{
    return sdup(p, attr(n, name));
}

static bool parse_bool(const char *s, bool dflt)
{
    if (!s)
        return dflt;
    if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
        return true;
    if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
        return false;
    return dflt;
}

static bool attr_bool(const xmlNode *n, const char *name, bool dflt)
{
    return parse_bool(attr(n, name), dflt);
}

static bool parse_double(const char *s, double *out)
{
    if (!s)
        return false;
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s)
        return false;
    while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
        end++;
    if (*end)
        return false;
    *out = d;
    return true;
}

/* Reads an optional number attribute; returns whether it was present and
 * well formed. */
static bool attr_double(const xmlNode *n, const char *name, double *out)
{
    return parse_double(attr(n, name), out);
}

static bool parse_u64(const char *s, uint64_t *out)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    if (*s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return false;
    while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
        end++;
    if (*end)
        return false;
    *out = v;
    return true;
}

static bool parse_u32(const char *s, uint32_t *out)
{
    uint64_t v;
    if (!s || !parse_u64(s, &v) || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* Splits a whitespace-separated list of unsigned numbers. Tokens that are
 * not numbers come back as UINT32_MAX with *ok cleared. *out is malloc'd. */
static size_t parse_u32_list(parser *p, const char *s, uint32_t **out, bool *ok)
{
    size_t n = 0;
    *out = NULL;
    *ok = true;
    for (const char *c = s; *c;) {
        while (*c && strchr(" \t\r\n", *c))
            c++;
        if (!*c)
            break;
        n++;
        while (*c && !strchr(" \t\r\n", *c))
            c++;
    }
    if (n == 0)
        return 0;
    uint32_t *v = calloc(n, sizeof *v);
    if (!v) {
        p->oom = true;
        return 0;
    }
    size_t i = 0;
    for (const char *c = s; *c && i < n;) {
        while (*c && strchr(" \t\r\n", *c))
            c++;
        if (!*c)
            break;
        char tok[32];
        size_t len = 0;
        while (*c && !strchr(" \t\r\n", *c)) {
            if (len + 1 < sizeof tok)
                tok[len] = *c;
            len++, c++;
        }
        if (len >= sizeof tok || (tok[len] = '\0', !parse_u32(tok, &v[i]))) {
            v[i] = UINT32_MAX;
            *ok = false;
        }
        i++;
    }
    *out = v;
    return n;
}

static size_t count_elems(const xmlNode *parent, const char *name)
{
    size_t n = 0;
    if (!parent)
        return 0;
    for (const xmlNode *c = parent->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && (!name || strcmp((const char *)c->name, name) == 0))
            n++;
    return n;
}

static xmlNode *child(const xmlNode *parent, const char *name)
{
    if (!parent)
        return NULL;
    for (xmlNode *c = parent->children; c; c = c->next)
        if (is_elem(c, name))
            return c;
    return NULL;
}

static void *alloc_array(parser *p, size_t n, size_t size)
{
    if (n == 0)
        return NULL;
    void *a = calloc(n, size);
    if (!a)
        p->oom = true;
    return a;
}

/* ---- value-reference hash (FMI 3 has one vr space) ---------------------- */

static size_t vr_hash(uint32_t vr)
{
    uint64_t h = (uint64_t)vr * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32);
}

static int build_vr_index(parser *p)
{
    size_t n = p->m->n_variables, size = 16;
    while (size < n * 2)
        size <<= 1;
    p->vr_slots = calloc(size, sizeof *p->vr_slots);
    if (!p->vr_slots)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    p->vr_mask = size - 1;
    for (size_t i = 0; i < n; i++) {
        uint32_t vr = p->m->variables[i].vr;
        size_t s = vr_hash(vr) & p->vr_mask;
        while (p->vr_slots[s] && p->m->variables[p->vr_slots[s] - 1].vr != vr)
            s = (s + 1) & p->vr_mask;
        if (!p->vr_slots[s])
            p->vr_slots[s] = (int)i + 1; /* the first variable with a vr wins */
    }
    return 0;
}

static int lookup_vr(const parser *p, uint32_t vr)
{
    size_t s = vr_hash(vr) & p->vr_mask;
    while (p->vr_slots[s]) {
        int i = p->vr_slots[s] - 1;
        if (p->m->variables[i].vr == vr)
            return i;
        s = (s + 1) & p->vr_mask;
    }
    return -1;
}

/* Resolves a reference as written: a 1-based index (FMI 2) or a vr (FMI 3). */
static int resolve(const parser *p, uint32_t raw)
{
    if (p->m->version == FMI_VERSION_2)
        return raw >= 1 && raw <= p->m->n_variables ? (int)raw - 1 : -1;
    return lookup_vr(p, raw);
}

/* ---- enumerated attributes ---------------------------------------------- */

static const char *const causality_names[] = {"local", "parameter", "calculatedParameter", "input",
                                              "output", "independent", "structuralParameter"};
static const char *const variability_names[] = {"continuous", "constant", "fixed", "tunable", "discrete"};
static const char *const initial_names[] = {"", "exact", "approx", "calculated"};

static int lookup_name(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return (int)i;
    return -1;
}

/* ---- types -------------------------------------------------------------- */

static const struct {
    const char *name;
    fmi_type type;
} fmi3_types[] = {
    {"Float32", FMI_FLOAT32}, {"Float64", FMI_FLOAT64}, {"Int8", FMI_INT8},         {"UInt8", FMI_UINT8},
    {"Int16", FMI_INT16},     {"UInt16", FMI_UINT16},   {"Int32", FMI_INT32},       {"UInt32", FMI_UINT32},
    {"Int64", FMI_INT64},     {"UInt64", FMI_UINT64},   {"Boolean", FMI_BOOLEAN},   {"String", FMI_STRING},
    {"Binary", FMI_BINARY},   {"Clock", FMI_CLOCK},     {"Enumeration", FMI_ENUMERATION},
};

static const struct {
    const char *name;
    fmi_type type;
} fmi2_types[] = {
    {"Real", FMI_FLOAT64}, {"Integer", FMI_INT32}, {"Boolean", FMI_BOOLEAN},
    {"String", FMI_STRING}, {"Enumeration", FMI_ENUMERATION},
};

/* Type of an element name (FMI 3 variable or, with `suffix` "Type", type
 * definition; FMI 2 type child). Returns false when unknown. */
static bool type_of(fmi_version version, const char *name, const char *suffix, fmi_type *out)
{
    size_t sl = suffix ? strlen(suffix) : 0, nl = strlen(name);
    if (sl) {
        if (nl <= sl || strcmp(name + nl - sl, suffix) != 0)
            return false;
        nl -= sl;
    }
    if (version == FMI_VERSION_2) {
        for (size_t i = 0; i < sizeof fmi2_types / sizeof fmi2_types[0]; i++)
            if (strlen(fmi2_types[i].name) == nl && strncmp(fmi2_types[i].name, name, nl) == 0)
                return *out = fmi2_types[i].type, true;
    } else {
        for (size_t i = 0; i < sizeof fmi3_types / sizeof fmi3_types[0]; i++)
            if (strlen(fmi3_types[i].name) == nl && strncmp(fmi3_types[i].name, name, nl) == 0)
                return *out = fmi3_types[i].type, true;
    }
    return false;
}

static bool is_float(fmi_type t)
{
    return t == FMI_FLOAT32 || t == FMI_FLOAT64;
}

/* ---- header sections ---------------------------------------------------- */

static void parse_interface(parser *p, const xmlNode *n, fmi_interface which)
{
    fmi_interface_info *f = &p->m->interfaces[which];
    bool v3 = p->m->version == FMI_VERSION_3;
    f->present = true;
    f->line = (int)xmlGetLineNo(n);
    f->model_identifier = attr_dup(p, n, "modelIdentifier");
    f->needs_execution_tool = attr_bool(n, "needsExecutionTool", false);
    f->can_be_instantiated_only_once_per_process = attr_bool(n, "canBeInstantiatedOnlyOncePerProcess", false);
    f->can_get_and_set_fmu_state = attr_bool(n, v3 ? "canGetAndSetFMUState" : "canGetAndSetFMUstate", false);
    f->can_serialize_fmu_state = attr_bool(n, v3 ? "canSerializeFMUState" : "canSerializeFMUstate", false);
    f->provides_directional_derivatives =
        attr_bool(n, v3 ? "providesDirectionalDerivatives" : "providesDirectionalDerivative", false);
    f->provides_adjoint_derivatives = attr_bool(n, "providesAdjointDerivatives", false);
    f->can_not_use_memory_management_functions = attr_bool(n, "canNotUseMemoryManagementFunctions", false);
    if (v3)
        f->completed_integrator_step_not_needed = !attr_bool(n, "needsCompletedIntegratorStep", false);
    else
        f->completed_integrator_step_not_needed = attr_bool(n, "completedIntegratorStepNotNeeded", false);
    f->can_handle_variable_communication_step_size = attr_bool(n, "canHandleVariableCommunicationStepSize", false);
    f->can_interpolate_inputs = attr_bool(n, "canInterpolateInputs", false);
    double d;
    f->max_output_derivative_order =
        attr_double(n, "maxOutputDerivativeOrder", &d) && d >= 0 && d <= INT_MAX ? (int)d : 0;
    f->can_run_asynchronuously = attr_bool(n, "canRunAsynchronuously", false);
    f->can_return_early_after_intermediate_update = attr_bool(n, "canReturnEarlyAfterIntermediateUpdate", false);
    f->has_event_mode = attr_bool(n, "hasEventMode", false);
    f->provides_intermediate_update = attr_bool(n, "providesIntermediateUpdate", false);
    f->might_return_early_from_do_step = attr_bool(n, "mightReturnEarlyFromDoStep", false);
    f->has_fixed_internal_step_size = attr_double(n, "fixedInternalStepSize", &f->fixed_internal_step_size);
}

static void parse_units(parser *p, const xmlNode *defs)
{
    size_t n = count_elems(defs, "Unit");
    fmi_model *m = p->m;
    if (!(m->units = alloc_array(p, n, sizeof *m->units)))
        return;
    for (const xmlNode *c = defs->children; c; c = c->next) {
        if (!is_elem(c, "Unit"))
            continue;
        fmi_unit *u = &m->units[m->n_units++];
        u->name = attr_dup(p, c, "name");
        u->line = (int)xmlGetLineNo(c);
    }
}

static void parse_items(parser *p, fmi_type_def *t, const xmlNode *n)
{
    size_t k = count_elems(n, "Item");
    if (k == 0)
        return;
    t->item_names = alloc_array(p, k, sizeof *t->item_names);
    t->item_values = alloc_array(p, k, sizeof *t->item_values);
    if (!t->item_names || !t->item_values)
        return;
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (!is_elem(c, "Item"))
            continue;
        size_t i = t->n_items++;
        t->item_names[i] = attr_dup(p, c, "name");
        const char *v = attr(c, "value");
        char *end = NULL;
        t->item_values[i] = v ? (int64_t)strtoll(v, &end, 10) : (int64_t)(i + 1);
    }
}

static void type_def_attrs(parser *p, fmi_type_def *t, const xmlNode *n)
{
    t->quantity = attr_dup(p, n, "quantity");
    t->unit = attr_dup(p, n, "unit");
    t->display_unit = attr_dup(p, n, "displayUnit");
    t->has_min = attr_double(n, "min", &t->min);
    t->has_max = attr_double(n, "max", &t->max);
    t->has_nominal = attr_double(n, "nominal", &t->nominal);
    if (t->type == FMI_ENUMERATION)
        parse_items(p, t, n);
}

static void parse_type_defs(parser *p, const xmlNode *defs)
{
    fmi_model *m = p->m;
    size_t n = count_elems(defs, NULL);
    if (!(m->type_defs = alloc_array(p, n, sizeof *m->type_defs)))
        return;
    for (const xmlNode *c = defs->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        fmi_type type;
        const xmlNode *body = c;
        if (m->version == FMI_VERSION_2) {
            if (!is_elem(c, "SimpleType"))
                continue;
            for (body = c->children; body; body = body->next)
                if (body->type == XML_ELEMENT_NODE && type_of(m->version, (const char *)body->name, NULL, &type))
                    break;
            if (!body)
                continue; /* the validator reports a SimpleType without a type */
        } else if (!type_of(m->version, (const char *)c->name, "Type", &type)) {
            continue;
        }
        fmi_type_def *t = &m->type_defs[m->n_type_defs++];
        t->name = attr_dup(p, c, "name");
        t->type = type;
        t->line = (int)xmlGetLineNo(c);
        type_def_attrs(p, t, body);
    }
}

static void parse_log_categories(parser *p, const xmlNode *cats)
{
    fmi_model *m = p->m;
    size_t n = count_elems(cats, "Category");
    if (!(m->log_categories = alloc_array(p, n, sizeof *m->log_categories)))
        return;
    for (const xmlNode *c = cats->children; c; c = c->next) {
        if (!is_elem(c, "Category"))
            continue;
        fmi_log_category *l = &m->log_categories[m->n_log_categories++];
        l->name = attr_dup(p, c, "name");
        l->description = attr_dup(p, c, "description");
    }
}

static void parse_default_experiment(parser *p, const xmlNode *n)
{
    fmi_default_experiment *d = &p->m->default_experiment;
    d->has_start_time = attr_double(n, "startTime", &d->start_time);
    d->has_stop_time = attr_double(n, "stopTime", &d->stop_time);
    d->has_tolerance = attr_double(n, "tolerance", &d->tolerance);
    d->has_step_size = attr_double(n, "stepSize", &d->step_size);
}

/* ---- variables ---------------------------------------------------------- */

/* Attributes shared by the FMI 2 type child and the FMI 3 variable element. */
static void type_attrs(parser *p, fmi_variable *v, const xmlNode *n)
{
    v->declared_type = attr_dup(p, n, "declaredType");
    v->quantity = attr_dup(p, n, "quantity");
    v->unit = attr_dup(p, n, "unit");
    v->display_unit = attr_dup(p, n, "displayUnit");
    v->has_min = attr_double(n, "min", &v->min);
    v->has_max = attr_double(n, "max", &v->max);
    v->has_nominal = attr_double(n, "nominal", &v->nominal);
    v->relative_quantity = attr_bool(n, "relativeQuantity", false);
    v->unbounded = attr_bool(n, "unbounded", false);
    v->reinit = attr_bool(n, "reinit", false);
    v->start = attr_dup(p, n, "start");
    v->has_derivative_raw = parse_u32(attr(n, "derivative"), &v->derivative_vr_raw);
}

/* FMI 3 String and Binary: <Start value="..."/> children, joined by spaces. */
static void start_children(parser *p, fmi_variable *v, const xmlNode *n)
{
    size_t len = 0, k = 0;
    for (const xmlNode *c = n->children; c; c = c->next) {
        const char *s = is_elem(c, "Start") ? attr(c, "value") : NULL;
        if (s)
            len += strlen(s) + 1, k++;
    }
    if (k == 0)
        return;
    char *buf = malloc(len);
    if (!buf) {
        p->oom = true;
        return;
    }
    size_t at = 0;
    for (const xmlNode *c = n->children; c; c = c->next) {
        const char *s = is_elem(c, "Start") ? attr(c, "value") : NULL;
        if (!s)
            continue;
        if (at)
            buf[at++] = ' ';
        memcpy(buf + at, s, strlen(s));
        at += strlen(s);
    }
    buf[at] = '\0';
    free(v->start);
    v->start = buf;
}

static void dimensions(parser *p, fmi_variable *v, const xmlNode *n)
{
    size_t k = count_elems(n, "Dimension");
    if (k == 0 || !(v->dims = alloc_array(p, k, sizeof *v->dims)))
        return;
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (!is_elem(c, "Dimension"))
            continue;
        fmi_dimension *d = &v->dims[v->n_dims++];
        const char *s = attr(c, "start");
        d->has_start = s && parse_u64(s, &d->start);
        d->has_vr = parse_u32(attr(c, "valueReference"), &d->vr);
    }
}

/* Common attributes of ScalarVariable (FMI 2) or a variable element
 * (FMI 3); `tnode` is the element holding the type attributes. */
static int variable(parser *p, fmi_variable *v, const xmlNode *n, const xmlNode *tnode, fmi_type type)
{
    const char *s;
    v->line = (int)xmlGetLineNo(n);
    v->type = type;
    v->derivative_of = -1;
    v->previous = -1;
    if (!(s = attr(n, "name")) || !*s)
        return fail(n, "variable without a name");
    v->name = sdup(p, s);
    if (!(s = attr(n, "valueReference")))
        return fail(n, "variable \"%s\" has no valueReference", v->name ? v->name : "");
    if (!parse_u32(s, &v->vr))
        return fail(n, "variable \"%s\": invalid valueReference \"%s\"", v->name ? v->name : "", s);
    v->description = attr_dup(p, n, "description");
    if ((s = attr(n, "causality"))) {
        int c = lookup_name(causality_names, sizeof causality_names / sizeof causality_names[0], s);
        if (c < 0 || (c == FMI_CAUSALITY_STRUCTURAL_PARAMETER && p->m->version == FMI_VERSION_2))
            return fail(n, "variable \"%s\": unknown causality \"%s\"", v->name, s);
        v->causality = (fmi_causality)c;
    }
    if ((s = attr(n, "variability"))) {
        int c = lookup_name(variability_names, sizeof variability_names / sizeof variability_names[0], s);
        if (c < 0)
            return fail(n, "variable \"%s\": unknown variability \"%s\"", v->name, s);
        v->variability = (fmi_variability)c;
        v->has_variability = true;
    } else {
        v->variability = is_float(type) ? FMI_VARIABILITY_CONTINUOUS : FMI_VARIABILITY_DISCRETE;
    }
    if ((s = attr(n, "initial"))) {
        int c = lookup_name(initial_names, sizeof initial_names / sizeof initial_names[0], s);
        if (c <= 0)
            return fail(n, "variable \"%s\": unknown initial \"%s\"", v->name, s);
        v->initial = (fmi_initial)c;
    }
    v->can_handle_multiple_set = attr_bool(n, "canHandleMultipleSetPerTimeInstant", false);
    v->intermediate_update = attr_bool(n, "intermediateUpdate", false);
    v->has_previous_raw = parse_u32(attr(n, "previous"), &v->previous_raw);
    type_attrs(p, v, tnode);
    if (p->m->version == FMI_VERSION_3) {
        if (type == FMI_STRING || type == FMI_BINARY)
            start_children(p, v, n);
        dimensions(p, v, n);
        v->interval_variability = attr_dup(p, n, "intervalVariability");
        if ((s = attr(n, "clocks"))) {
            bool ok;
            v->n_clocks = parse_u32_list(p, s, &v->clocks, &ok);
        }
    }
    return 0;
}

static int parse_variables(parser *p, const xmlNode *vars)
{
    fmi_model *m = p->m;
    size_t n = count_elems(vars, NULL);
    if (n > FMI_MODEL_MAX_VARIABLES) {
        return fmugw_error_set(FMUGW_ETOOBIG, DOC_NAME ":%ld: %zu variables, over the limit of %zu",
                               xmlGetLineNo(vars), n, FMI_MODEL_MAX_VARIABLES);
    }
    if (n && !(m->variables = calloc(n, sizeof *m->variables)))
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    for (const xmlNode *c = vars ? vars->children : NULL; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        fmi_type type;
        const xmlNode *tnode = c;
        if (m->version == FMI_VERSION_2) {
            if (!is_elem(c, "ScalarVariable"))
                return fail(c, "unknown element <%s> in ModelVariables", (const char *)c->name);
            for (tnode = c->children; tnode; tnode = tnode->next)
                if (tnode->type == XML_ELEMENT_NODE && !is_elem(tnode, "Annotations"))
                    break;
            const char *name = attr(c, "name");
            if (!tnode)
                return fail(c, "variable \"%s\" has no type element", name ? name : "");
            if (!type_of(m->version, (const char *)tnode->name, NULL, &type))
                return fail(tnode, "variable \"%s\": unknown type element <%s>", name ? name : "",
                            (const char *)tnode->name);
        } else if (!type_of(m->version, (const char *)c->name, NULL, &type)) {
            const char *name = attr(c, "name");
            return fail(c, "variable \"%s\": unknown type element <%s>", name ? name : "", (const char *)c->name);
        }
        int rc = variable(p, &m->variables[m->n_variables++], c, tnode, type);
        if (rc)
            return rc;
    }
    return 0;
}

static void resolve_variables(parser *p)
{
    fmi_model *m = p->m;
    for (size_t i = 0; i < m->n_variables; i++) {
        fmi_variable *v = &m->variables[i];
        if (v->has_derivative_raw)
            v->derivative_of = resolve(p, v->derivative_vr_raw);
        if (v->has_previous_raw && m->version == FMI_VERSION_3)
            v->previous = lookup_vr(p, v->previous_raw);
    }
}

/* ---- model structure ---------------------------------------------------- */

static void unknown(parser *p, fmi_unknown *u, const xmlNode *n)
{
    bool v3 = p->m->version == FMI_VERSION_3;
    u->line = (int)xmlGetLineNo(n);
    u->var = -1;
    if (parse_u32(attr(n, v3 ? "valueReference" : "index"), &u->raw))
        u->var = resolve(p, u->raw);
    const char *deps = attr(n, "dependencies");
    u->has_dependencies = deps != NULL;
    if (!deps)
        return;
    uint32_t *raw = NULL;
    bool ok;
    size_t k = parse_u32_list(p, deps, &raw, &ok);
    if (k && raw && (u->dependencies = alloc_array(p, k, sizeof *u->dependencies))) {
        for (size_t i = 0; i < k; i++)
            u->dependencies[i] = raw[i] == UINT32_MAX ? -1 : resolve(p, raw[i]);
        u->n_dependencies = k;
    }
    free(raw);
}

/* Fills (*list, *n) from the children named `name` of `parent`. */
static void unknowns(parser *p, const xmlNode *parent, const char *name, fmi_unknown **list, size_t *n)
{
    size_t k = count_elems(parent, name);
    if (k == 0 || !(*list = alloc_array(p, k, sizeof **list)))
        return;
    for (const xmlNode *c = parent->children; c; c = c->next)
        if (is_elem(c, name))
            unknown(p, &(*list)[(*n)++], c);
}

static void parse_structure(parser *p, const xmlNode *ms)
{
    fmi_model *m = p->m;
    if (m->version == FMI_VERSION_2) {
        const xmlNode *s;
        if ((s = child(ms, "Outputs")))
            unknowns(p, s, "Unknown", &m->outputs, &m->n_outputs);
        if ((s = child(ms, "Derivatives")))
            unknowns(p, s, "Unknown", &m->derivatives, &m->n_derivatives);
        if ((s = child(ms, "InitialUnknowns")))
            unknowns(p, s, "Unknown", &m->initial_unknowns, &m->n_initial_unknowns);
    } else {
        unknowns(p, ms, "Output", &m->outputs, &m->n_outputs);
        unknowns(p, ms, "ContinuousStateDerivative", &m->derivatives, &m->n_derivatives);
        unknowns(p, ms, "ClockedState", &m->clocked_states, &m->n_clocked_states);
        unknowns(p, ms, "InitialUnknown", &m->initial_unknowns, &m->n_initial_unknowns);
        unknowns(p, ms, "EventIndicator", &m->event_indicators, &m->n_event_indicators);
    }
}

/* ---- document ----------------------------------------------------------- */

static int parse_root(parser *p, const xmlNode *root)
{
    fmi_model *m = p->m;
    const char *ver = attr(root, "fmiVersion");
    int rc;
    if (!ver)
        return fail(root, "fmiVersion missing");
    if (strcmp(ver, "2.0") == 0)
        m->version = FMI_VERSION_2;
    else if (strncmp(ver, "3.", 2) == 0)
        m->version = FMI_VERSION_3;
    else
        return fail(root, "unsupported fmiVersion \"%.64s\"", ver);
    m->fmi_version = sdup(p, ver);
    m->model_name = attr_dup(p, root, "modelName");
    m->instantiation_token = attr_dup(p, root, m->version == FMI_VERSION_2 ? "guid" : "instantiationToken");
    m->description = attr_dup(p, root, "description");
    m->author = attr_dup(p, root, "author");
    m->model_version = attr_dup(p, root, "version");
    m->copyright = attr_dup(p, root, "copyright");
    m->license = attr_dup(p, root, "license");
    m->generation_tool = attr_dup(p, root, "generationTool");
    m->generation_date_time = attr_dup(p, root, "generationDateAndTime");
    m->variable_naming_convention = sdup(p, attr(root, "variableNamingConvention") ? attr(root, "variableNamingConvention") : "flat");
    uint64_t nev;
    const char *s = attr(root, "numberOfEventIndicators");
    if (s && parse_u64(s, &nev)) {
        m->has_number_of_event_indicators = true;
        m->number_of_event_indicators = (size_t)nev;
    }

    const xmlNode *c;
    if ((c = child(root, "ModelExchange")))
        parse_interface(p, c, FMI_ME);
    if ((c = child(root, "CoSimulation")))
        parse_interface(p, c, FMI_CS);
    if (m->version == FMI_VERSION_3 && (c = child(root, "ScheduledExecution")))
        parse_interface(p, c, FMI_SE);
    if ((c = child(root, "UnitDefinitions")))
        parse_units(p, c);
    if ((c = child(root, "TypeDefinitions")))
        parse_type_defs(p, c);
    if ((c = child(root, "LogCategories")))
        parse_log_categories(p, c);
    if ((c = child(root, "DefaultExperiment")))
        parse_default_experiment(p, c);
    if ((rc = parse_variables(p, child(root, "ModelVariables"))) != 0)
        return rc;
    if (m->version == FMI_VERSION_3 && (rc = build_vr_index(p)) != 0)
        return rc;
    resolve_variables(p);
    if ((c = child(root, "ModelStructure")))
        parse_structure(p, c);
    return 0;
}

/* ---- caps on the raw document ------------------------------------------- */

/* Skips from `i` past the first occurrence of `end` (or to `len`), counting
 * newlines into *line. */
static size_t skip_past(const char *x, size_t len, size_t i, const char *end, long *line)
{
    size_t el = strlen(end);
    for (; i < len; i++) {
        if (x[i] == '\n')
            (*line)++;
        if (x[i] == end[0] && len - i >= el && memcmp(x + i, end, el) == 0)
            return i + el;
    }
    return len;
}

/* Counts elements and, per start tag, attributes (an '=' outside a quoted
 * value) without building anything: linear in the bytes. Comments, CDATA,
 * processing instructions and declarations are skipped. A malformed
 * document may be miscounted; libxml2 refuses it afterwards anyway. */
static int prescan(const char *x, size_t len)
{
    size_t elements = 0;
    long line = 1;
    for (size_t i = 0; i < len;) {
        if (x[i] != '<') {
            line += x[i] == '\n';
            i++;
            continue;
        }
        if (len - i >= 4 && memcmp(x + i, "<!--", 4) == 0) {
            i = skip_past(x, len, i + 4, "-->", &line);
        } else if (len - i >= 9 && memcmp(x + i, "<![CDATA[", 9) == 0) {
            i = skip_past(x, len, i + 9, "]]>", &line);
        } else if (len - i >= 2 && x[i + 1] == '?') {
            i = skip_past(x, len, i + 2, "?>", &line);
        } else if (len - i >= 2 && (x[i + 1] == '!' || x[i + 1] == '/')) {
            i = skip_past(x, len, i + 2, ">", &line);
        } else {
            long tag_line = line;
            size_t attrs = 0;
            char quote = 0;
            if (++elements > FMI_MODEL_MAX_ELEMENTS)
                return fmugw_error_set(FMUGW_ETOOBIG, DOC_NAME ":%ld: more than %zu elements in the document", line,
                                       FMI_MODEL_MAX_ELEMENTS);
            for (i++; i < len; i++) {
                char ch = x[i];
                line += ch == '\n';
                if (quote) {
                    if (ch == quote)
                        quote = 0;
                } else if (ch == '"' || ch == '\'') {
                    quote = ch;
                } else if (ch == '=') {
                    if (++attrs > FMI_MODEL_MAX_ATTRIBUTES)
                        return fmugw_error_set(FMUGW_ETOOBIG,
                                               DOC_NAME ":%ld: an element has more than %d attributes", tag_line,
                                               FMI_MODEL_MAX_ATTRIBUTES);
                } else if (ch == '>') {
                    i++;
                    break;
                }
            }
        }
    }
    return 0;
}

/* ---- the variable index --------------------------------------------------- */

/* Open addressing; a slot holds variable index + 1, 0 = empty. The first
 * variable with a key wins (what a linear search would find). */
struct fmi_model_index {
    int *by_name;
    int *by_vr;
    size_t mask;
};

static size_t name_hash(const char *s)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29));
}

/* The key of a variable's value reference: FMI 2 has one vr space per
 * type class, FMI 3 one for all. */
static int vr_space(fmi_type t);

static uint64_t vr_key(const fmi_model *m, fmi_type type, uint32_t vr)
{
    uint64_t space = m->version == FMI_VERSION_3 ? 0 : (uint64_t)vr_space(type);
    return (space << 32) | vr;
}

static size_t key_hash(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return (size_t)k;
}

static int build_index(fmi_model *m)
{
    size_t n = m->n_variables, size = 16;
    while (size < n * 2)
        size <<= 1;
    struct fmi_model_index *ix = calloc(1, sizeof *ix);
    if (!ix || !(ix->by_name = calloc(size, sizeof *ix->by_name)) || !(ix->by_vr = calloc(size, sizeof *ix->by_vr))) {
        if (ix) {
            free(ix->by_name);
            free(ix);
        }
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    }
    ix->mask = size - 1;
    for (size_t i = 0; i < n; i++) {
        const fmi_variable *v = &m->variables[i];
        if (v->name) {
            size_t s = name_hash(v->name) & ix->mask;
            while (ix->by_name[s] && strcmp(m->variables[ix->by_name[s] - 1].name, v->name) != 0)
                s = (s + 1) & ix->mask;
            if (!ix->by_name[s])
                ix->by_name[s] = (int)i + 1;
        }
        uint64_t k = vr_key(m, v->type, v->vr);
        size_t s = key_hash(k) & ix->mask;
        while (ix->by_vr[s]) {
            const fmi_variable *w = &m->variables[ix->by_vr[s] - 1];
            if (vr_key(m, w->type, w->vr) == k)
                break;
            s = (s + 1) & ix->mask;
        }
        if (!ix->by_vr[s])
            ix->by_vr[s] = (int)i + 1;
    }
    m->index = ix;
    return 0;
}

/* SAX hook: called at <!DOCTYPE ...>, before any declaration in it is read.
 * Stopping here keeps entity declarations (billion laughs, XXE) out. */
static void refuse_doctype(void *ctx, const xmlChar *name, const xmlChar *external_id, const xmlChar *system_id)
{
    (void)name, (void)external_id, (void)system_id;
    xmlParserCtxtPtr ctxt = ctx;
    *(int *)ctxt->_private = ctxt->input ? ctxt->input->line : 1;
    xmlStopParser(ctxt);
}

int fmi_model_parse_buffer(fmi_model **out, const char *xml, size_t len)
{
    int rc = 0, doctype_line = 0;
    xmlParserCtxtPtr ctxt = NULL;
    xmlDocPtr doc = NULL;
    parser p = {0};

    static pthread_once_t xml_once = PTHREAD_ONCE_INIT;
    pthread_once(&xml_once, xmlInitParser); /* libxml2 wants one init before threads use it */
    *out = NULL;
    if (len > FMI_MODEL_XML_CAP)
        return fmugw_error_set(FMUGW_ETOOBIG, DOC_NAME ":0: document is %zu bytes, over the limit of %zu", len,
                               FMI_MODEL_XML_CAP);
    if ((rc = prescan(xml, len)) != 0)
        return rc;
    ctxt = xmlNewParserCtxt();
    p.m = calloc(1, sizeof *p.m);
    if (!ctxt || !p.m) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    ctxt->_private = &doctype_line;
    ctxt->sax->internalSubset = refuse_doctype;
    doc = xmlCtxtReadMemory(ctxt, xml, (int)len, DOC_NAME, NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_BIG_LINES |
                                XML_PARSE_COMPACT);
    if (doctype_line) {
        rc = fmugw_error_set(FMUGW_EINVALID, DOC_NAME ":%d: DOCTYPE/entity declarations are not allowed (XML bomb guard)",
                             doctype_line);
        goto out;
    }
    if (!doc || !ctxt->wellFormed) {
        const xmlError *e = xmlCtxtGetLastError(ctxt);
        char msg[512] = "parse error";
        if (e && e->message) {
            snprintf(msg, sizeof msg, "%s", e->message);
            msg[strcspn(msg, "\n")] = '\0';
        }
        rc = fmugw_error_set(FMUGW_EINVALID, DOC_NAME ":%d: not well-formed XML: %s", e ? e->line : 0, msg);
        goto out;
    }
    if (doc->intSubset || doc->extSubset) {
        rc = fmugw_error_set(FMUGW_EINVALID, DOC_NAME ":1: DOCTYPE/entity declarations are not allowed (XML bomb guard)");
        goto out;
    }
    xmlNode *root = xmlDocGetRootElement(doc);
    if (!root) {
        rc = fmugw_error_set(FMUGW_EINVALID, DOC_NAME ":1: no root element");
        goto out;
    }
    if (strcmp((const char *)root->name, "fmiModelDescription") != 0) {
        rc = fail(root, "root element is <%.64s>, expected <fmiModelDescription>", (const char *)root->name);
        goto out;
    }
    if ((rc = parse_root(&p, root)) != 0)
        goto out;
    if (!p.oom && (rc = build_index(p.m)) != 0)
        goto out;
    if (p.oom) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    *out = p.m;
    p.m = NULL;
out:
    free(p.vr_slots);
    fmi_model_free(p.m);
    if (doc)
        xmlFreeDoc(doc);
    if (ctxt)
        xmlFreeParserCtxt(ctxt);
    return rc;
}

int fmi_model_parse(fmi_model **out, const char *path)
{
    char *buf = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = fmugw_read_file(&buf, &len, path, FMI_MODEL_XML_CAP);
    if (rc == 0)
        rc = fmi_model_parse_buffer(out, buf, len);
    free(buf);
    return rc;
}

/* ---- release ------------------------------------------------------------ */

static void free_unknowns(fmi_unknown *u, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(u[i].dependencies);
    free(u);
}

void fmi_model_free(fmi_model *m)
{
    if (!m)
        return;
    free(m->fmi_version);
    free(m->model_name);
    free(m->instantiation_token);
    free(m->description);
    free(m->author);
    free(m->model_version);
    free(m->copyright);
    free(m->license);
    free(m->generation_tool);
    free(m->generation_date_time);
    free(m->variable_naming_convention);
    for (int i = 0; i < 3; i++)
        free(m->interfaces[i].model_identifier);
    for (size_t i = 0; i < m->n_units; i++)
        free(m->units[i].name);
    free(m->units);
    for (size_t i = 0; i < m->n_type_defs; i++) {
        fmi_type_def *t = &m->type_defs[i];
        free(t->name);
        free(t->quantity);
        free(t->unit);
        free(t->display_unit);
        for (size_t k = 0; k < t->n_items; k++)
            free(t->item_names[k]);
        free(t->item_names);
        free(t->item_values);
    }
    free(m->type_defs);
    for (size_t i = 0; i < m->n_log_categories; i++) {
        free(m->log_categories[i].name);
        free(m->log_categories[i].description);
    }
    free(m->log_categories);
    for (size_t i = 0; i < m->n_variables; i++) {
        fmi_variable *v = &m->variables[i];
        free(v->name);
        free(v->description);
        free(v->declared_type);
        free(v->quantity);
        free(v->unit);
        free(v->display_unit);
        free(v->start);
        free(v->dims);
        free(v->interval_variability);
        free(v->clocks);
    }
    free(m->variables);
    free_unknowns(m->outputs, m->n_outputs);
    free_unknowns(m->derivatives, m->n_derivatives);
    free_unknowns(m->initial_unknowns, m->n_initial_unknowns);
    free_unknowns(m->event_indicators, m->n_event_indicators);
    free_unknowns(m->clocked_states, m->n_clocked_states);
    if (m->index) {
        free(m->index->by_name);
        free(m->index->by_vr);
        free(m->index);
    }
    free(m);
}

/* ---- queries ------------------------------------------------------------ */

int fmi_model_find(const fmi_model *m, const char *name)
{
    if (!m || !name)
        return -1;
    if (m->index) {
        const struct fmi_model_index *ix = m->index;
        for (size_t s = name_hash(name) & ix->mask; ix->by_name[s]; s = (s + 1) & ix->mask)
            if (strcmp(m->variables[ix->by_name[s] - 1].name, name) == 0)
                return ix->by_name[s] - 1;
        return -1;
    }
    for (size_t i = 0; i < m->n_variables; i++)
        if (m->variables[i].name && strcmp(m->variables[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* FMI 2 value-reference spaces: Real, Integer+Enumeration, Boolean, String. */
static int vr_space(fmi_type t)
{
    switch (t) {
    case FMI_INT32:
    case FMI_ENUMERATION:
        return 1;
    case FMI_BOOLEAN:
        return 2;
    case FMI_STRING:
        return 3;
    default:
        return 0;
    }
}

int fmi_model_find_vr(const fmi_model *m, fmi_type type, uint32_t vr)
{
    if (!m)
        return -1;
    if (m->index) {
        const struct fmi_model_index *ix = m->index;
        uint64_t k = vr_key(m, type, vr);
        for (size_t s = key_hash(k) & ix->mask; ix->by_vr[s]; s = (s + 1) & ix->mask) {
            const fmi_variable *v = &m->variables[ix->by_vr[s] - 1];
            if (vr_key(m, v->type, v->vr) == k)
                return ix->by_vr[s] - 1;
        }
        return -1;
    }
    for (size_t i = 0; i < m->n_variables; i++) {
        const fmi_variable *v = &m->variables[i];
        if (v->vr != vr)
            continue;
        if (m->version == FMI_VERSION_3 || vr_space(v->type) == vr_space(type))
            return (int)i;
    }
    return -1;
}

fmi_initial fmi_variable_initial(const fmi_model *m, const fmi_variable *v)
{
    if (v->initial != FMI_INITIAL_UNSET)
        return v->initial;
    bool v3 = m && m->version == FMI_VERSION_3;
    switch (v->causality) {
    case FMI_CAUSALITY_PARAMETER:
    case FMI_CAUSALITY_STRUCTURAL_PARAMETER:
        return FMI_INITIAL_EXACT;
    case FMI_CAUSALITY_CALCULATED_PARAMETER:
        return FMI_INITIAL_CALCULATED;
    case FMI_CAUSALITY_INPUT:
        return v3 ? FMI_INITIAL_EXACT : FMI_INITIAL_UNSET; /* FMI 2 inputs have no initial */
    case FMI_CAUSALITY_OUTPUT:
    case FMI_CAUSALITY_LOCAL:
        return v->variability == FMI_VARIABILITY_CONSTANT ? FMI_INITIAL_EXACT : FMI_INITIAL_CALCULATED;
    case FMI_CAUSALITY_INDEPENDENT:
    default:
        return FMI_INITIAL_UNSET;
    }
}

size_t fmi_variable_size(const fmi_model *m, const fmi_variable *v)
{
    size_t size = 1;
    for (size_t i = 0; i < v->n_dims; i++) {
        const fmi_dimension *d = &v->dims[i];
        uint64_t len = 0;
        if (d->has_start) {
            len = d->start;
        } else if (d->has_vr && m) {
            int k = fmi_model_find_vr(m, FMI_UINT64, d->vr);
            if (k < 0 || !m->variables[k].start || !parse_u64(m->variables[k].start, &len))
                return 0; /* unresolvable: the validator reports it */
        } else {
            return 0;
        }
        if (len != 0 && size > SIZE_MAX / len)
            return 0;
        size *= (size_t)len;
    }
    return size;
}

const char *fmi_type_name(fmi_version version, fmi_type type)
{
    if (version == FMI_VERSION_2) {
        for (size_t i = 0; i < sizeof fmi2_types / sizeof fmi2_types[0]; i++)
            if (fmi2_types[i].type == type)
                return fmi2_types[i].name;
    }
    for (size_t i = 0; i < sizeof fmi3_types / sizeof fmi3_types[0]; i++)
        if (fmi3_types[i].type == type)
            return fmi3_types[i].name;
    return "?";
}

const char *fmi_causality_name(fmi_causality c)
{
    return (unsigned)c < sizeof causality_names / sizeof causality_names[0] ? causality_names[c] : "?";
}

const char *fmi_variability_name(fmi_variability v)
{
    return (unsigned)v < sizeof variability_names / sizeof variability_names[0] ? variability_names[v] : "?";
}

const char *fmi_initial_name(fmi_initial i)
{
    return i == FMI_INITIAL_UNSET ? "unset" : (unsigned)i < 4 ? initial_names[i] : "?";
}

const char *fmi_interface_name(fmi_interface i)
{
    switch (i) {
    case FMI_CS:
        return "CoSimulation";
    case FMI_ME:
        return "ModelExchange";
    case FMI_SE:
        return "ScheduledExecution";
    }
    return "?";
}
