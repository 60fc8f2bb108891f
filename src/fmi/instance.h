/*
 * instance.h - one loaded FMU binary and one instance of it, behind a single
 * API for FMI 2.0 and FMI 3.0 (the simulator in sim.c never looks at the
 * version).
 *
 * fmi_binary_open() finds the shared library for this platform
 * (binaries/linux64/<id>.so for FMI 2, binaries/x86_64-linux/<id>.so for
 * FMI 3; FMI 2 FMUs that use x86_64-linux are accepted too), dlopen()s it
 * RTLD_LOCAL and resolves every function the chosen interface requires. A
 * missing binary or symbol is an error naming it. Functions the standard
 * lists as optional (e.g. FMU state, directional derivatives) may be NULL.
 *
 * Every call returns 0 when the FMU answered OK or Warning and FMUGW_EFMU
 * (with "fmiXXX returned Error" in fmugw_error_last()) when it answered
 * Discard/Error/Fatal, or when a call is illegal in the instance's current
 * state (the state machine of the standard is tracked here and enforced
 * before the FMU is called).
 *
 * Values are exchanged by value reference. Booleans are passed as bool
 * (converted to fmi2Boolean int / fmi3Boolean bool). FMI 2 Enumeration and
 * Integer use the int32 calls; FMI 3 Enumeration uses int64.
 *
 * Ownership: the instance borrows the model and the binary, which must
 * outlive it. Strings returned by fmi_instance_get_string() are owned by
 * the FMU and valid until the next call into it.
 */
#ifndef FMUGW_FMI_INSTANCE_H
#define FMUGW_FMI_INSTANCE_H

#include "model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fmi_binary fmi_binary;
typedef struct fmi_instance fmi_instance;

/* FMU status as reported to log callbacks (same order in FMI 2 and 3). */
typedef enum {
    FMI_STATUS_OK = 0,
    FMI_STATUS_WARNING,
    FMI_STATUS_DISCARD,
    FMI_STATUS_ERROR,
    FMI_STATUS_FATAL,
    FMI_STATUS_PENDING /* FMI 2 only */
} fmi_status;

/* Receives every message the FMU logs (FMI 2 logger / FMI 3
 * logMessage), already formatted (FMI 2 printf-style messages are expanded
 * with a bounded buffer). */
typedef void (*fmi_log_fn)(void *ctx, fmi_status status, const char *category, const char *message);

/* Receives a description of every FMI call when call logging is on, e.g.
 * "fmi2DoStep(currentCommunicationPoint=0, communicationStepSize=0.01, ...) -> OK". */
typedef void (*fmi_call_log_fn)(void *ctx, const char *line);

/** Opens the platform binary of `model` for interface `iface` from the
 *  unpacked FMU directory `unpack_dir`, resolving all required functions.
 *  *out is released with fmi_binary_close(). */
int fmi_binary_open(fmi_binary **out, const fmi_model *model, const char *unpack_dir, fmi_interface iface);

/** dlclose()s. Accepts NULL. */
void fmi_binary_close(fmi_binary *bin);

/** Lists the names of the functions FMI `version` requires for `iface`
 *  (NULL-terminated static array), for the validator. */
const char *const *fmi_required_functions(fmi_version version, fmi_interface iface);

/** Path of the platform binary for `model`/`iface` under `unpack_dir`
 *  (malloc'd; the file may not exist). */
char *fmi_binary_path(const fmi_model *model, const char *unpack_dir, fmi_interface iface);

typedef struct {
    const char *instance_name;  /* default: model name */
    const char *resource_dir;   /* unpacked resources/ directory, may be NULL */
    bool logging_on;            /* ask the FMU to log (all categories) */
    fmi_log_fn log;             /* may be NULL */
    fmi_call_log_fn call_log;   /* may be NULL: no call logging */
    void *log_ctx;
} fmi_instance_options;

/** Instantiates. `bin` must have been opened for the same interface. */
int fmi_instance_new(fmi_instance **out, fmi_binary *bin, const fmi_model *model,
                     const fmi_instance_options *opts);

/** Frees the instance (calling fmiXXXTerminate first if still initialized).
 *  Accepts NULL. */
void fmi_instance_free(fmi_instance *inst);

fmi_interface fmi_instance_interface(const fmi_instance *inst);

/* --- lifecycle ------------------------------------------------------- */

/** FMI 2 fmi2SetupExperiment + fmi2EnterInitializationMode; FMI 3
 *  fmi3EnterInitializationMode. `tolerance` <= 0 means not defined;
 *  `stop_time` < start means not defined. */
int fmi_instance_enter_initialization(fmi_instance *inst, double tolerance, double start_time, double stop_time);
int fmi_instance_exit_initialization(fmi_instance *inst);
int fmi_instance_terminate(fmi_instance *inst);

/* --- values ---------------------------------------------------------- */

int fmi_instance_get_float64(fmi_instance *inst, const uint32_t *vrs, size_t n, double *values);
int fmi_instance_set_float64(fmi_instance *inst, const uint32_t *vrs, size_t n, const double *values);
int fmi_instance_get_float32(fmi_instance *inst, const uint32_t *vrs, size_t n, float *values);
int fmi_instance_set_float32(fmi_instance *inst, const uint32_t *vrs, size_t n, const float *values);
/* Integer types: values travel as int64 / uint64 and are range-converted to
 * the variable's width (`type` must be one of INT8..UINT64 or ENUMERATION). */
int fmi_instance_get_int(fmi_instance *inst, fmi_type type, const uint32_t *vrs, size_t n, int64_t *values);
int fmi_instance_set_int(fmi_instance *inst, fmi_type type, const uint32_t *vrs, size_t n, const int64_t *values);
int fmi_instance_get_uint64(fmi_instance *inst, const uint32_t *vrs, size_t n, uint64_t *values);
int fmi_instance_set_uint64(fmi_instance *inst, const uint32_t *vrs, size_t n, const uint64_t *values);
int fmi_instance_get_boolean(fmi_instance *inst, const uint32_t *vrs, size_t n, bool *values);
int fmi_instance_set_boolean(fmi_instance *inst, const uint32_t *vrs, size_t n, const bool *values);
int fmi_instance_get_string(fmi_instance *inst, const uint32_t *vrs, size_t n, const char **values);
int fmi_instance_set_string(fmi_instance *inst, const uint32_t *vrs, size_t n, const char *const *values);
/* FMI 3 only; FMUGW_EUNSUPPORTED for FMI 2. */
int fmi_instance_get_binary(fmi_instance *inst, const uint32_t *vrs, size_t n, size_t *sizes, const uint8_t **values);
int fmi_instance_set_binary(fmi_instance *inst, const uint32_t *vrs, size_t n, const size_t *sizes, const uint8_t *const *values);

/* --- Co-Simulation --------------------------------------------------- */

typedef struct {
    bool event_handling_needed; /* FMI 3 */
    bool terminate;             /* FMU asked to stop (FMI 3 terminateSimulation, FMI 2 fmi2Terminated) */
    bool early_return;          /* FMI 3 */
    double last_successful_time;
} fmi_step_result;

int fmi_instance_do_step(fmi_instance *inst, double t, double h, fmi_step_result *res);

/* --- Model Exchange -------------------------------------------------- */

typedef struct {
    bool discrete_states_need_update; /* FMI 2: newDiscreteStatesNeeded */
    bool terminate;
    bool nominals_changed;
    bool values_changed;
    bool next_event_time_defined;
    double next_event_time;
} fmi_event_result;

/** Number of continuous states and event indicators (from the model
 *  description; FMI 3 asks the FMU when arrays make them structural). */
size_t fmi_instance_n_states(const fmi_instance *inst);
size_t fmi_instance_n_event_indicators(const fmi_instance *inst);

int fmi_instance_set_time(fmi_instance *inst, double t);
int fmi_instance_get_states(fmi_instance *inst, double *x);
int fmi_instance_set_states(fmi_instance *inst, const double *x);
int fmi_instance_get_derivatives(fmi_instance *inst, double *dx);
int fmi_instance_get_nominals(fmi_instance *inst, double *nominals);
int fmi_instance_get_event_indicators(fmi_instance *inst, double *z);
int fmi_instance_completed_integrator_step(fmi_instance *inst, bool *enter_event_mode, bool *terminate);
int fmi_instance_enter_event_mode(fmi_instance *inst);
/** One round of event iteration (fmi2NewDiscreteStates /
 *  fmi3UpdateDiscreteStates). Callers loop while
 *  res->discrete_states_need_update && !res->terminate. */
int fmi_instance_update_discrete_states(fmi_instance *inst, fmi_event_result *res);
int fmi_instance_enter_continuous_time_mode(fmi_instance *inst);

/** FMI 3 Co-Simulation with event mode: enter/leave step mode. */
int fmi_instance_enter_step_mode(fmi_instance *inst);

#endif
