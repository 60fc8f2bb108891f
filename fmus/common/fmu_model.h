/*
 * fmu_model.h - the interface a sample model implements to become an FMU.
 *
 * A model is a plain C struct of its variables (its "data") plus one
 * fmu_model descriptor: a table that maps each value reference to a field of
 * the data struct, the value references of the continuous states and of
 * their derivatives, and a few callbacks for the equations. The FMI 2 and
 * FMI 3 wrappers (fmi2.c, fmi3.c, on top of fmu_core.c) do everything else:
 * the FMI state machine, get/set by value reference with type checks,
 * Model Exchange state access, event iteration and the fixed-step
 * Co-Simulation solver. Nothing here depends on an FMI version.
 *
 * Ownership: String and Binary fields in the data struct are owned by the
 * instance; set them only with fmu_set_string()/fmu_set_binary(), the
 * framework frees them on reset and when the instance is freed.
 */
#ifndef FMUS_FMU_MODEL_H
#define FMUS_FMU_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Status codes, numerically equal to fmi2Status and fmi3Status. */
typedef enum { FMU_OK = 0, FMU_WARNING, FMU_DISCARD, FMU_ERROR, FMU_FATAL } fmu_status;

/* How a variable is stored in the data struct (and, for the getters and
 * setters, which API type it is accessed with). */
typedef enum {
    FMU_F32,    /* float */
    FMU_F64,    /* double */
    FMU_I8,     /* int8_t */
    FMU_U8,     /* uint8_t */
    FMU_I16,    /* int16_t */
    FMU_U16,    /* uint16_t */
    FMU_I32,    /* int32_t */
    FMU_U32,    /* uint32_t */
    FMU_I64,    /* int64_t */
    FMU_U64,    /* uint64_t */
    FMU_BOOL,   /* bool */
    FMU_STRING, /* char *, owned by the instance */
    FMU_BINARY, /* fmu_bytes, owned by the instance */
    FMU_ENUM    /* int64_t; FMI 2 Integer API, FMI 3 Int64 API */
} fmu_type;

/* When a variable may be set (derived from causality/variability/initial). */
typedef enum {
    FMU_SET_NEVER = 0, /* outputs, locals, constants, time */
    FMU_SET_INIT,      /* fixed parameters, states with initial="exact":
                        * before and during initialization only */
    FMU_SET_TUNABLE,   /* tunable parameters: also in event and step mode */
    FMU_SET_INPUT      /* inputs: at any time before termination */
} fmu_settable;

/* A Binary value. */
typedef struct {
    uint8_t *data;
    size_t size;
} fmu_bytes;

/* Log categories, as declared in every modelDescription.xml. */
typedef enum {
    FMU_LOG_EVENTS = 0, /* "logEvents" */
    FMU_LOG_WARNING,    /* "logStatusWarning" */
    FMU_LOG_DISCARD,    /* "logStatusDiscard" */
    FMU_LOG_ERROR,      /* "logStatusError" */
    FMU_LOG_FATAL,      /* "logStatusFatal" */
    FMU_LOG_N
} fmu_log_category;

/* One row of a model's variable table. */
typedef struct {
    uint32_t vr;          /* unique over all types in both FMI versions */
    const char *name;     /* as in modelDescription.xml, for messages */
    fmu_type type;
    size_t offset;        /* offsetof() the field in the data struct */
    size_t count;         /* number of elements: 1 for scalars */
    fmu_settable settable;
    int min_version;      /* 2, or 3 for variables only the FMI 3 FMU has */
    bool is_time;         /* the independent variable: read from the instance */
} fmu_var;

/* Variable table helpers: FMU_VAR(data struct, field, vr, type, settable). */
#define FMU_VAR(S, F, VR, NAME, T, SET) \
    { (VR), (NAME), (T), offsetof(S, F), 1, (SET), 2, false }
#define FMU_VAR3(S, F, VR, NAME, T, SET) \
    { (VR), (NAME), (T), offsetof(S, F), 1, (SET), 3, false }
#define FMU_VAR3_ARRAY(S, F, VR, NAME, T, N, SET) \
    { (VR), (NAME), (T), offsetof(S, F), (N), (SET), 3, false }
#define FMU_VAR_TIME(VR) { (VR), "time", FMU_F64, 0, 1, FMU_SET_NEVER, 2, true }

/* What an event update reports back. */
typedef struct {
    bool again;             /* another update is needed (event iteration) */
    bool terminate;         /* the model asks to stop the simulation */
    bool states_changed;    /* continuous states were re-initialized */
    bool next_time_defined; /* a time event is pending ... */
    double next_time;       /* ... at this time */
} fmu_event_result;

typedef struct fmu_instance fmu_instance;

/* A model. Callbacks receive the instance and its data struct. Those
 * returning int return 0 on success and -1 on failure (after logging). */
typedef struct {
    const char *name;  /* modelIdentifier and modelName */
    const char *token; /* FMI 2 guid and FMI 3 instantiationToken */
    size_t data_size;
    const fmu_var *vars;
    size_t n_vars;
    const uint32_t *state_vrs; /* Float64 continuous states, in order */
    const uint32_t *der_vrs;   /* their derivatives, same order */
    size_t n_states;
    size_t n_event_indicators;

    /* Writes the start values into freshly zeroed data. Required. */
    int (*start)(fmu_instance *inst, void *data);
    /* Runs once after instantiation (and after each reset), e.g. to read
     * resources. Optional. */
    int (*setup)(fmu_instance *inst, void *data);
    /* Computes outputs and derivatives from time, inputs, parameters and
     * states. Required. */
    int (*calculate)(fmu_instance *inst, void *data);
    /* Writes n_event_indicators values. Required if n_event_indicators > 0. */
    void (*event_indicators)(fmu_instance *inst, void *data, double *z);
    /* Performs the discrete update at an event (time, state or initial
     * event) and reports the next time event. Optional. */
    void (*event_update)(fmu_instance *inst, void *data, fmu_event_result *ev);
} fmu_model;

/** The one model of this shared library; each model's model.c defines it. */
extern const fmu_model fmu_model_def;

/** Current simulation time of the instance. */
double fmu_time(const fmu_instance *inst);

/** Directory of the unpacked resources/ folder, with a trailing '/', or
 *  NULL when the importer gave no usable resource location. Borrowed. */
const char *fmu_resource_dir(const fmu_instance *inst);

/** Replaces *field with a copy of `value` (NULL allowed) in instance-owned
 *  memory. Returns 0, or -1 (logged) when out of memory. */
int fmu_set_string(fmu_instance *inst, char **field, const char *value);

/** Replaces *field with a copy of `size` bytes at `data`. Returns 0 or -1. */
int fmu_set_binary(fmu_instance *inst, fmu_bytes *field, const uint8_t *data, size_t size);

/** Sends a message to the importer's logger if the category is enabled
 *  (messages with status Error or Fatal are always sent). */
void fmu_log(fmu_instance *inst, fmu_status status, fmu_log_category cat, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
