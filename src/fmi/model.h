/*
 * model.h - the parsed modelDescription.xml of an FMI 2.0 or 3.0 FMU.
 *
 * One structure describes both versions; version-specific facts are mapped
 * onto common names (FMI 2 Real -> FMI_FLOAT64, Integer -> FMI_INT32,
 * Enumeration keeps its own type; guid and instantiationToken are both
 * `instantiation_token`). Everything in a fmi_model is owned by it and
 * released by fmi_model_free(). Strings are UTF-8 as in the file; absent
 * optional strings are NULL.
 *
 * The parser is lenient the way reference importers are: it fails only when
 * the file cannot be used at all (not XML, no fmiModelDescription root,
 * unsupported fmiVersion, a variable without name/valueReference, a type it
 * does not know). Everything else that breaks the standard is left for the
 * validator (validate.h), which reports it with the XML line number kept in
 * each element's `line`.
 */
#ifndef FMUGW_FMI_MODEL_H
#define FMUGW_FMI_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { FMI_VERSION_2 = 2, FMI_VERSION_3 = 3 } fmi_version;

typedef enum {
    FMI_FLOAT32,
    FMI_FLOAT64, /* FMI 2 Real */
    FMI_INT8,
    FMI_UINT8,
    FMI_INT16,
    FMI_UINT16,
    FMI_INT32, /* FMI 2 Integer */
    FMI_UINT32,
    FMI_INT64,
    FMI_UINT64,
    FMI_BOOLEAN,
    FMI_STRING,
    FMI_BINARY,
    FMI_CLOCK,
    FMI_ENUMERATION /* FMI 2: int32 values; FMI 3: int64 values */
} fmi_type;

typedef enum {
    FMI_CAUSALITY_LOCAL = 0, /* the default in both versions */
    FMI_CAUSALITY_PARAMETER,
    FMI_CAUSALITY_CALCULATED_PARAMETER,
    FMI_CAUSALITY_INPUT,
    FMI_CAUSALITY_OUTPUT,
    FMI_CAUSALITY_INDEPENDENT,
    FMI_CAUSALITY_STRUCTURAL_PARAMETER /* FMI 3 only */
} fmi_causality;

typedef enum {
    FMI_VARIABILITY_CONTINUOUS = 0, /* the default for floats */
    FMI_VARIABILITY_CONSTANT,
    FMI_VARIABILITY_FIXED,
    FMI_VARIABILITY_TUNABLE,
    FMI_VARIABILITY_DISCRETE
} fmi_variability;

typedef enum {
    FMI_INITIAL_UNSET = 0, /* attribute absent: see fmi_variable.initial_effective */
    FMI_INITIAL_EXACT,
    FMI_INITIAL_APPROX,
    FMI_INITIAL_CALCULATED
} fmi_initial;

typedef enum { FMI_CS = 0, FMI_ME = 1, FMI_SE = 2 } fmi_interface;

/* One array dimension: either a fixed size (`start`) or the value of the
 * structural parameter with value reference `vr`. */
typedef struct {
    bool has_start;
    uint64_t start;
    bool has_vr;
    uint32_t vr;
} fmi_dimension;

typedef struct {
    char *name;
    char *description;
    uint32_t vr;
    fmi_type type;
    fmi_causality causality;
    fmi_variability variability;
    bool has_variability; /* attribute given explicitly */
    fmi_initial initial;  /* as written */
    char *declared_type;  /* FMI 2 declaredType / FMI 3 declaredType */
    char *quantity;
    char *unit;
    char *display_unit;
    char *start; /* start value text as written (space-separated for arrays,
                  * hex for Binary); NULL when absent */
    bool has_min, has_max, has_nominal;
    double min, max, nominal; /* for integers: the value as double */
    bool relative_quantity;
    bool unbounded;
    bool can_handle_multiple_set;
    bool reinit;
    bool intermediate_update;
    int derivative_of; /* 0-based index into fmi_model.variables, -1 none */
    int previous;      /* 0-based index, -1 none */
    uint32_t derivative_vr_raw; /* as written (FMI 2: 1-based index; FMI 3: vr) */
    bool has_derivative_raw, has_previous_raw;
    uint32_t previous_raw;
    fmi_dimension *dims; /* FMI 3 arrays; n_dims == 0 for scalars */
    size_t n_dims;
    /* FMI 3 Clock attributes */
    char *interval_variability;
    uint32_t *clocks; /* vrs of the clocks this variable depends on */
    size_t n_clocks;
    int line; /* line of the element in modelDescription.xml */
} fmi_variable;

typedef struct {
    char *name;
    char *quantity;
    char *unit;
    char *display_unit;
    fmi_type type;
    bool has_min, has_max, has_nominal;
    double min, max, nominal;
    /* Enumeration items */
    char **item_names;
    int64_t *item_values;
    size_t n_items;
    int line;
} fmi_type_def;

typedef struct {
    char *name;
    int line;
} fmi_unit;

typedef struct {
    char *name;
    char *description;
} fmi_log_category;

/* One ModelStructure entry (Output, Derivative, InitialUnknown,
 * EventIndicator). `var` is the 0-based index into fmi_model.variables, or
 * -1 if the reference does not resolve (the validator reports it). */
typedef struct {
    int var;
    uint32_t raw; /* FMI 2: 1-based index; FMI 3: value reference */
    int *dependencies; /* 0-based variable indices, -1 for unresolved */
    size_t n_dependencies;
    bool has_dependencies; /* attribute present (may be empty) */
    int line;
} fmi_unknown;

typedef struct {
    bool present;
    char *model_identifier;
    bool needs_execution_tool;
    bool can_be_instantiated_only_once_per_process;
    bool can_get_and_set_fmu_state;
    bool can_serialize_fmu_state;
    bool provides_directional_derivatives;
    bool provides_adjoint_derivatives;
    bool can_not_use_memory_management_functions; /* FMI 2 */
    /* Model Exchange */
    bool completed_integrator_step_not_needed;
    /* Co-Simulation */
    bool can_handle_variable_communication_step_size;
    bool can_interpolate_inputs;
    int max_output_derivative_order;
    bool can_run_asynchronuously;
    bool can_return_early_after_intermediate_update;
    bool has_event_mode;
    bool provides_intermediate_update;
    bool might_return_early_from_do_step;
    bool has_fixed_internal_step_size;
    double fixed_internal_step_size;
    int line;
} fmi_interface_info;

typedef struct {
    bool has_start_time, has_stop_time, has_tolerance, has_step_size;
    double start_time, stop_time, tolerance, step_size;
} fmi_default_experiment;

typedef struct {
    fmi_version version;
    char *fmi_version;         /* the attribute as written, e.g. "2.0", "3.0" */
    char *model_name;
    char *instantiation_token; /* FMI 2 guid, FMI 3 instantiationToken */
    char *description;
    char *author;
    char *model_version;
    char *copyright;
    char *license;
    char *generation_tool;
    char *generation_date_time;
    char *variable_naming_convention; /* "flat" (default) or "structured" */
    bool has_number_of_event_indicators; /* FMI 2 attribute */
    size_t number_of_event_indicators;

    fmi_interface_info interfaces[3]; /* indexed by fmi_interface */

    fmi_unit *units;
    size_t n_units;
    fmi_type_def *type_defs;
    size_t n_type_defs;
    fmi_log_category *log_categories;
    size_t n_log_categories;
    fmi_default_experiment default_experiment;

    fmi_variable *variables;
    size_t n_variables;

    fmi_unknown *outputs;
    size_t n_outputs;
    fmi_unknown *derivatives; /* continuous state derivatives, in state order */
    size_t n_derivatives;
    fmi_unknown *initial_unknowns;
    size_t n_initial_unknowns;
    fmi_unknown *event_indicators; /* FMI 3 only */
    size_t n_event_indicators;
    fmi_unknown *clocked_states; /* FMI 3 only */
    size_t n_clocked_states;

    /* Hash tables of the variables by name and by value reference, built
     * by the parser (model.c). NULL in a model built by hand: the lookups
     * are linear then. */
    struct fmi_model_index *index;
} fmi_model;

/* Caps on an untrusted modelDescription.xml, checked before libxml2 builds
 * a tree (a pre-scan of the raw bytes counts elements and the attributes
 * of each start tag) or, for variables, before any is allocated. A
 * document over a cap is refused (FMUGW_ETOOBIG) with a message naming the
 * cap and the line. docs/architecture.md lists them. */
#define FMI_MODEL_XML_CAP ((size_t)16 << 20)     /* bytes of the document */
#define FMI_MODEL_MAX_ATTRIBUTES 128               /* attributes of one element */
#define FMI_MODEL_MAX_ELEMENTS ((size_t)1000000)   /* elements in the document */
#define FMI_MODEL_MAX_VARIABLES ((size_t)100000)   /* children of ModelVariables */

/** Parses modelDescription.xml at `path` (network access and entity
 *  expansion off, within the caps above). On success *out is a new
 *  model the caller releases with fmi_model_free(). On failure returns
 *  FMUGW_EINVALID / FMUGW_ENOTFOUND / FMUGW_ETOOBIG with the reason in
 *  fmugw_error_last() ("modelDescription.xml:LINE: ..."). */
int fmi_model_parse(fmi_model **out, const char *path);

/** Same as fmi_model_parse() on an in-memory document. */
int fmi_model_parse_buffer(fmi_model **out, const char *xml, size_t len);

/** Releases a model and everything it owns. Accepts NULL. */
void fmi_model_free(fmi_model *model);

/** Index of the first variable named `name`, or -1. A hash lookup in a
 *  parsed model (linear only in one built by hand). */
int fmi_model_find(const fmi_model *model, const char *name);

/** Index of the first variable with value reference `vr` and (for FMI 2,
 *  where types have separate vr spaces) type class of `type`, or -1.
 *  Hashed like fmi_model_find(). */
int fmi_model_find_vr(const fmi_model *model, fmi_type type, uint32_t vr);

/** The `initial` the standard implies when the attribute is absent (from
 *  causality and variability), or the written one. */
fmi_initial fmi_variable_initial(const fmi_model *model, const fmi_variable *v);

/** Number of scalar elements of a variable (product of dimensions, using
 *  start values of structural parameters), 1 for scalars. */
size_t fmi_variable_size(const fmi_model *model, const fmi_variable *v);

/** Names for messages and CLI output. */
const char *fmi_type_name(fmi_version version, fmi_type type);
const char *fmi_causality_name(fmi_causality c);
const char *fmi_variability_name(fmi_variability v);
const char *fmi_initial_name(fmi_initial i);
const char *fmi_interface_name(fmi_interface i); /* "CoSimulation" ... */

#endif
