/*
 * fmu_core.h - the version-independent part of the sample FMUs' FMI
 * implementation, shared by fmi2.c and fmi3.c: the instance, its state
 * machine, logging, get/set by value reference, continuous-state access,
 * event iteration and the fixed-step explicit Euler Co-Simulation solver.
 *
 * The wrappers translate FMI types and callbacks into these calls; they
 * check the state with fmu_allowed() first. Everything here is hidden
 * (-fvisibility=hidden): only the FMI functions are exported.
 */
#ifndef FMUS_FMU_CORE_H
#define FMUS_FMU_CORE_H

#include "fmu_model.h"

/* Instance states (bit flags so that a function lists where it is legal). */
enum {
    FMU_ST_INSTANTIATED = 1 << 0,
    FMU_ST_INIT = 1 << 1,        /* Initialization Mode */
    FMU_ST_EVENT = 1 << 2,       /* Event Mode (ME) */
    FMU_ST_CONT = 1 << 3,        /* Continuous-Time Mode (ME) */
    FMU_ST_STEP = 1 << 4,        /* Step Mode / stepComplete (CS) */
    FMU_ST_TERMINATED = 1 << 5,
    FMU_ST_ERROR = 1 << 6
};
#define FMU_ST_ANY 0x7f

/* Internal Euler step of the Co-Simulation solver (seconds). */
#define FMU_CS_STEP 1e-3

/* How the wrapper hands a message to the importer. */
typedef void (*fmu_emit_fn)(fmu_instance *inst, fmu_status status, const char *category,
                            const char *message);

/* Access kinds of the getters/setters: the storage types plus FMI 2's
 * int-sized Boolean. */
typedef enum {
    FMU_API_F32 = FMU_F32,
    FMU_API_F64 = FMU_F64,
    FMU_API_I8 = FMU_I8,
    FMU_API_U8 = FMU_U8,
    FMU_API_I16 = FMU_I16,
    FMU_API_U16 = FMU_U16,
    FMU_API_I32 = FMU_I32,
    FMU_API_U32 = FMU_U32,
    FMU_API_I64 = FMU_I64,
    FMU_API_U64 = FMU_U64,
    FMU_API_BOOL = FMU_BOOL,     /* bool values (FMI 3) */
    FMU_API_STRING = FMU_STRING, /* const char * values */
    FMU_API_BINARY = FMU_BINARY, /* const uint8_t * values + sizes */
    FMU_API_BOOL_INT = 100       /* int values (FMI 2 Boolean) */
} fmu_api;

struct fmu_instance {
    const fmu_model *model;
    int version;       /* 2 or 3 */
    bool cs;           /* Co-Simulation (else Model Exchange) */
    unsigned state;    /* one FMU_ST_* */
    char *name;
    char *resource_dir;
    void *data;        /* the model's data struct */
    double time;
    bool dirty;        /* calculate() must run before outputs are read */

    /* memory: the importer's (FMI 2) or calloc/free */
    void *(*alloc)(size_t n, size_t size);
    void (*release)(void *p);

    /* logging */
    fmu_emit_fn emit;
    void *emit_env;          /* the importer's environment pointer */
    void (*emit_cb)(void);   /* the importer's logger, cast by the wrapper */
    bool logging_on;
    bool log_enabled[FMU_LOG_N];

    /* events */
    bool next_time_defined;
    double next_time;
    double *z_prev; /* CS: event indicators after the last step */
    bool terminate_requested;

    /* experiment */
    double start_time;
    bool stop_time_defined;
    double stop_time;
};

/* Arguments of fmu_instance_new(). */
typedef struct {
    const char *name;
    const char *token;
    const char *resource_dir; /* directory path or NULL */
    int version;
    bool cs;
    bool logging_on;
    void *(*alloc)(size_t n, size_t size); /* NULL: calloc */
    void (*release)(void *p);              /* NULL: free */
    fmu_emit_fn emit;
    void *emit_env;
    void (*emit_cb)(void);
} fmu_new_args;

/** Creates an instance: checks the token, copies the name and resource
 *  directory, sets start values and runs the model's setup(). Returns NULL
 *  on failure after logging why. Freed with fmu_instance_free(). */
fmu_instance *fmu_instance_new(const fmu_new_args *args);

/** Releases an instance and everything it owns. Accepts NULL. */
void fmu_instance_free(fmu_instance *inst);

/** Back to the state after instantiation (start values, setup()). */
fmu_status fmu_instance_reset(fmu_instance *inst);

/** Whether `fn` may be called now: `mask` lists the allowed FMU_ST_* states.
 *  Also rejects a NULL instance. Logs the refusal. */
bool fmu_allowed(fmu_instance *inst, const char *fn, unsigned mask);

/** Refuses a call of a function only the other interface type has. */
bool fmu_require_interface(fmu_instance *inst, const char *fn, bool cs);

/** Logs "fn is not supported" and returns FMU_ERROR. */
fmu_status fmu_unsupported(fmu_instance *inst, const char *fn);

/** Enables logging and categories (nCategories == 0: all categories). */
fmu_status fmu_set_debug_logging(fmu_instance *inst, bool on, size_t n, const char *const cats[]);

/** Gets values: `values` is an array of the C type of `api` with room for
 *  `n_values` elements (arrays take several); for FMU_API_BINARY `sizes`
 *  receives the sizes. Returned strings/binaries are borrowed. */
fmu_status fmu_get(fmu_instance *inst, fmu_api api, const uint32_t vr[], size_t nvr, void *values,
                   size_t n_values, size_t *sizes);

/** Sets values (copies strings and binaries). */
fmu_status fmu_set(fmu_instance *inst, fmu_api api, const uint32_t vr[], size_t nvr,
                   const void *values, size_t n_values, const size_t *sizes);

/** Runs calculate() if anything changed since the last run. */
fmu_status fmu_calculate(fmu_instance *inst);

/** Model Exchange state access; n must equal the model's count. */
fmu_status fmu_get_states(fmu_instance *inst, double x[], size_t n);
fmu_status fmu_set_states(fmu_instance *inst, const double x[], size_t n);
fmu_status fmu_get_derivatives(fmu_instance *inst, double dx[], size_t n);
fmu_status fmu_get_event_indicators(fmu_instance *inst, double z[], size_t n);
fmu_status fmu_get_nominals(fmu_instance *inst, double nominals[], size_t n);

/** Sets the time (Model Exchange). */
fmu_status fmu_set_time(fmu_instance *inst, double t);

/** Enters Initialization Mode with the experiment's times. */
fmu_status fmu_enter_init(fmu_instance *inst, double start, bool stop_defined, double stop);

/** Leaves Initialization Mode: to Event Mode (ME) or Step Mode (CS, after
 *  running the initial event iteration). */
fmu_status fmu_exit_init(fmu_instance *inst);

/** One discrete update (ME: fmi2NewDiscreteStates/fmi3UpdateDiscreteStates).
 *  Fills *ev; also records the next event time in the instance. */
fmu_status fmu_update_discrete(fmu_instance *inst, fmu_event_result *ev);

/** Co-Simulation step from `t0` over `h` (see the file comment of
 *  fmu_core.c). *terminate tells whether the model asked to stop. */
fmu_status fmu_do_step(fmu_instance *inst, double t0, double h, bool *terminate);

#endif
