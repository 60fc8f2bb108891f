/*
 * fmi2.c - the FMI 2.0 API of the sample FMUs (Model Exchange and
 * Co-Simulation in one binary), on top of fmu_core.c.
 *
 * Every function of the standard is exported; optional capabilities the
 * models do not declare (FMU state, directional derivatives, input/output
 * derivatives, asynchronous steps) return fmi2Error with a log message.
 * fmuResourceLocation is a file:// URI and is turned into a directory path
 * here. Messages are handed to the logger with '%' escaped, since the
 * logger treats the message as a printf format.
 */
#include "fmu_core.h"

#include "fmi/fmi2_abi.h"

#include <stdlib.h>
#include <string.h>

#include "fmi2_exports.h"

#define INST ((fmu_instance *)c)
#define CHECK(fn, mask)                        \
    do {                                       \
        if (!fmu_allowed(INST, (fn), (mask)))  \
            return fmi2Error;                  \
    } while (0)
#define CHECK_ME(fn)                                    \
    do {                                                \
        if (!fmu_require_interface(INST, (fn), false)) \
            return fmi2Error;                           \
    } while (0)
#define CHECK_CS(fn)                                   \
    do {                                               \
        if (!fmu_require_interface(INST, (fn), true)) \
            return fmi2Error;                          \
    } while (0)

/* Copies `msg` with every '%' doubled into buf (cut to fit). */
static void escape_percent(char *buf, size_t size, const char *msg)
{
    size_t j = 0;

    for (size_t i = 0; msg[i] && j + 2 < size; i++) {
        buf[j++] = msg[i];
        if (msg[i] == '%')
            buf[j++] = '%';
    }
    buf[j] = '\0';
}

static void emit(fmu_instance *inst, fmu_status status, const char *category, const char *msg)
{
    fmi2CallbackLogger logger = (fmi2CallbackLogger)inst->emit_cb;
    char buf[2200];

    if (!logger)
        return;
    escape_percent(buf, sizeof buf, msg);
    logger(inst->emit_env, inst->name, (fmi2Status)status, category, buf);
}

static int hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* The directory a file URI (file:///p, file://localhost/p, file:/p) or a
 * plain absolute path names; malloc'd, NULL when not usable. */
static char *uri_to_path(const char *uri)
{
    const char *p;
    char *out, *o;

    if (uri[0] == '/') {
        p = uri;
    } else if (strncmp(uri, "file:", 5) == 0) {
        p = uri + 5;
        if (strncmp(p, "//", 2) == 0) {
            p += 2;
            if (*p != '/') { /* an authority: only a local host makes sense */
                p = strchr(p, '/');
                if (!p)
                    return NULL;
            }
        }
        if (*p != '/')
            return NULL;
    } else {
        return NULL;
    }
    out = malloc(strlen(p) + 1);
    if (!out)
        return NULL;
    for (o = out; *p; p++) {
        int hi, lo;
        if (*p == '%' && (hi = hex_digit(p[1])) >= 0 && (lo = hex_digit(p[2])) >= 0) {
            *o++ = (char)(hi * 16 + lo);
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return out;
}

const char *fmi2GetTypesPlatform(void)
{
    return fmi2TypesPlatform;
}

const char *fmi2GetVersion(void)
{
    return fmi2Version;
}

fmi2Status fmi2SetDebugLogging(fmi2Component c, fmi2Boolean loggingOn, size_t nCategories,
                               const fmi2String categories[])
{
    CHECK("fmi2SetDebugLogging", FMU_ST_ANY);
    return (fmi2Status)fmu_set_debug_logging(INST, loggingOn != fmi2False, nCategories,
                                             categories);
}

fmi2Component fmi2Instantiate(fmi2String instanceName, fmi2Type fmuType, fmi2String fmuGUID,
                              fmi2String fmuResourceLocation,
                              const fmi2CallbackFunctions *functions, fmi2Boolean visible,
                              fmi2Boolean loggingOn)
{
    fmu_new_args a = { 0 };
    fmu_instance *inst;
    char *dir = NULL;
    bool bad_type = fmuType != fmi2ModelExchange && fmuType != fmi2CoSimulation;
    bool bad_location = false;

    (void)visible;
    a.name = instanceName;
    a.token = fmuGUID;
    a.version = 2;
    a.cs = fmuType == fmi2CoSimulation;
    a.logging_on = loggingOn != fmi2False;
    a.emit = emit;
    if (functions) {
        if (functions->allocateMemory && functions->freeMemory) {
            a.alloc = functions->allocateMemory;
            a.release = functions->freeMemory;
        }
        a.emit_env = functions->componentEnvironment;
        a.emit_cb = (void (*)(void))functions->logger;
    }
    if (fmuResourceLocation && fmuResourceLocation[0]) {
        dir = uri_to_path(fmuResourceLocation);
        bad_location = dir == NULL;
    }
    a.resource_dir = dir;
    inst = fmu_instance_new(&a);
    free(dir);
    if (!inst)
        return NULL;
    if (bad_type) {
        fmu_log(inst, FMU_ERROR, FMU_LOG_ERROR, "fmi2Instantiate: unknown fmuType %d",
                (int)fmuType);
        fmu_instance_free(inst);
        return NULL;
    }
    if (bad_location)
        fmu_log(inst, FMU_WARNING, FMU_LOG_WARNING,
                "fmuResourceLocation \"%s\" is not a file URI; resources are unavailable",
                fmuResourceLocation);
    return inst;
}

void fmi2FreeInstance(fmi2Component c)
{
    fmu_instance_free(INST);
}

fmi2Status fmi2SetupExperiment(fmi2Component c, fmi2Boolean toleranceDefined, fmi2Real tolerance,
                               fmi2Real startTime, fmi2Boolean stopTimeDefined, fmi2Real stopTime)
{
    (void)toleranceDefined;
    (void)tolerance;
    CHECK("fmi2SetupExperiment", FMU_ST_INSTANTIATED);
    INST->start_time = startTime;
    INST->stop_time_defined = stopTimeDefined != fmi2False;
    INST->stop_time = stopTime;
    INST->time = startTime;
    return fmi2OK;
}

fmi2Status fmi2EnterInitializationMode(fmi2Component c)
{
    CHECK("fmi2EnterInitializationMode", FMU_ST_INSTANTIATED);
    return (fmi2Status)fmu_enter_init(INST, INST->start_time, INST->stop_time_defined,
                                      INST->stop_time);
}

fmi2Status fmi2ExitInitializationMode(fmi2Component c)
{
    CHECK("fmi2ExitInitializationMode", FMU_ST_INIT);
    return (fmi2Status)fmu_exit_init(INST);
}

fmi2Status fmi2Terminate(fmi2Component c)
{
    CHECK("fmi2Terminate", FMU_ST_EVENT | FMU_ST_CONT | FMU_ST_STEP);
    INST->state = FMU_ST_TERMINATED;
    return fmi2OK;
}

fmi2Status fmi2Reset(fmi2Component c)
{
    CHECK("fmi2Reset", FMU_ST_ANY);
    return (fmi2Status)fmu_instance_reset(INST);
}

#define GET_STATES FMU_ST_ANY
#define SET_STATES (FMU_ST_INSTANTIATED | FMU_ST_INIT | FMU_ST_EVENT | FMU_ST_CONT | FMU_ST_STEP)

fmi2Status fmi2GetReal(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                       fmi2Real value[])
{
    CHECK("fmi2GetReal", GET_STATES);
    return (fmi2Status)fmu_get(INST, FMU_API_F64, vr, nvr, value, nvr, NULL);
}

fmi2Status fmi2GetInteger(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                          fmi2Integer value[])
{
    CHECK("fmi2GetInteger", GET_STATES);
    return (fmi2Status)fmu_get(INST, FMU_API_I32, vr, nvr, value, nvr, NULL);
}

fmi2Status fmi2GetBoolean(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                          fmi2Boolean value[])
{
    CHECK("fmi2GetBoolean", GET_STATES);
    return (fmi2Status)fmu_get(INST, FMU_API_BOOL_INT, vr, nvr, value, nvr, NULL);
}

fmi2Status fmi2GetString(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                         fmi2String value[])
{
    CHECK("fmi2GetString", GET_STATES);
    return (fmi2Status)fmu_get(INST, FMU_API_STRING, vr, nvr, (void *)value, nvr, NULL);
}

fmi2Status fmi2SetReal(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                       const fmi2Real value[])
{
    CHECK("fmi2SetReal", SET_STATES);
    return (fmi2Status)fmu_set(INST, FMU_API_F64, vr, nvr, value, nvr, NULL);
}

fmi2Status fmi2SetInteger(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                          const fmi2Integer value[])
{
    CHECK("fmi2SetInteger", SET_STATES);
    return (fmi2Status)fmu_set(INST, FMU_API_I32, vr, nvr, value, nvr, NULL);
}

fmi2Status fmi2SetBoolean(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                          const fmi2Boolean value[])
{
    CHECK("fmi2SetBoolean", SET_STATES);
    return (fmi2Status)fmu_set(INST, FMU_API_BOOL_INT, vr, nvr, value, nvr, NULL);
}

fmi2Status fmi2SetString(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                         const fmi2String value[])
{
    CHECK("fmi2SetString", SET_STATES);
    return (fmi2Status)fmu_set(INST, FMU_API_STRING, vr, nvr, value, nvr, NULL);
}

fmi2Status fmi2GetFMUstate(fmi2Component c, fmi2FMUstate *FMUstate)
{
    (void)FMUstate;
    CHECK("fmi2GetFMUstate", FMU_ST_ANY);
    return (fmi2Status)fmu_unsupported(INST, "fmi2GetFMUstate");
}

fmi2Status fmi2SetFMUstate(fmi2Component c, fmi2FMUstate FMUstate)
{
    (void)FMUstate;
    CHECK("fmi2SetFMUstate", FMU_ST_ANY);
    return (fmi2Status)fmu_unsupported(INST, "fmi2SetFMUstate");
}

fmi2Status fmi2FreeFMUstate(fmi2Component c, fmi2FMUstate *FMUstate)
{
    (void)FMUstate;
    CHECK("fmi2FreeFMUstate", FMU_ST_ANY);
    return (fmi2Status)fmu_unsupported(INST, "fmi2FreeFMUstate");
}

fmi2Status fmi2SerializedFMUstateSize(fmi2Component c, fmi2FMUstate FMUstate, size_t *size)
{
    (void)FMUstate;
    (void)size;
    CHECK("fmi2SerializedFMUstateSize", FMU_ST_ANY);
    return (fmi2Status)fmu_unsupported(INST, "fmi2SerializedFMUstateSize");
}

fmi2Status fmi2SerializeFMUstate(fmi2Component c, fmi2FMUstate FMUstate,
                                 fmi2Byte serializedState[], size_t size)
{
    (void)FMUstate;
    (void)serializedState;
    (void)size;
    CHECK("fmi2SerializeFMUstate", FMU_ST_ANY);
    return (fmi2Status)fmu_unsupported(INST, "fmi2SerializeFMUstate");
}

fmi2Status fmi2DeSerializeFMUstate(fmi2Component c, const fmi2Byte serializedState[],
                                   size_t size, fmi2FMUstate *FMUstate)
{
    (void)serializedState;
    (void)size;
    (void)FMUstate;
    CHECK("fmi2DeSerializeFMUstate", FMU_ST_ANY);
    return (fmi2Status)fmu_unsupported(INST, "fmi2DeSerializeFMUstate");
}

fmi2Status fmi2GetDirectionalDerivative(fmi2Component c, const fmi2ValueReference vUnknown_ref[],
                                        size_t nUnknown, const fmi2ValueReference vKnown_ref[],
                                        size_t nKnown, const fmi2Real dvKnown[],
                                        fmi2Real dvUnknown[])
{
    (void)vUnknown_ref;
    (void)nUnknown;
    (void)vKnown_ref;
    (void)nKnown;
    (void)dvKnown;
    (void)dvUnknown;
    CHECK("fmi2GetDirectionalDerivative", FMU_ST_ANY);
    return (fmi2Status)fmu_unsupported(INST, "fmi2GetDirectionalDerivative");
}

/* --- Model Exchange ---------------------------------------------------- */

fmi2Status fmi2EnterEventMode(fmi2Component c)
{
    CHECK("fmi2EnterEventMode", FMU_ST_EVENT | FMU_ST_CONT);
    CHECK_ME("fmi2EnterEventMode");
    INST->state = FMU_ST_EVENT;
    return fmi2OK;
}

fmi2Status fmi2NewDiscreteStates(fmi2Component c, fmi2EventInfo *eventInfo)
{
    fmu_event_result ev;
    fmu_status st;

    CHECK("fmi2NewDiscreteStates", FMU_ST_EVENT);
    CHECK_ME("fmi2NewDiscreteStates");
    if (!eventInfo) {
        fmu_log(INST, FMU_ERROR, FMU_LOG_ERROR, "fmi2NewDiscreteStates: eventInfo is NULL");
        return fmi2Error;
    }
    st = fmu_update_discrete(INST, &ev);
    eventInfo->newDiscreteStatesNeeded = ev.again;
    eventInfo->terminateSimulation = ev.terminate;
    eventInfo->nominalsOfContinuousStatesChanged = fmi2False;
    eventInfo->valuesOfContinuousStatesChanged = ev.states_changed;
    eventInfo->nextEventTimeDefined = ev.next_time_defined;
    eventInfo->nextEventTime = ev.next_time_defined ? ev.next_time : 0.0;
    return (fmi2Status)st;
}

fmi2Status fmi2EnterContinuousTimeMode(fmi2Component c)
{
    CHECK("fmi2EnterContinuousTimeMode", FMU_ST_EVENT);
    CHECK_ME("fmi2EnterContinuousTimeMode");
    INST->state = FMU_ST_CONT;
    return fmi2OK;
}

fmi2Status fmi2CompletedIntegratorStep(fmi2Component c,
                                       fmi2Boolean noSetFMUStatePriorToCurrentPoint,
                                       fmi2Boolean *enterEventMode,
                                       fmi2Boolean *terminateSimulation)
{
    (void)noSetFMUStatePriorToCurrentPoint;
    CHECK("fmi2CompletedIntegratorStep", FMU_ST_CONT);
    CHECK_ME("fmi2CompletedIntegratorStep");
    if (!enterEventMode || !terminateSimulation) {
        fmu_log(INST, FMU_ERROR, FMU_LOG_ERROR, "fmi2CompletedIntegratorStep: NULL argument");
        return fmi2Error;
    }
    *enterEventMode = fmi2False;
    *terminateSimulation = fmi2False;
    return fmi2OK;
}

fmi2Status fmi2SetTime(fmi2Component c, fmi2Real time)
{
    CHECK("fmi2SetTime", FMU_ST_EVENT | FMU_ST_CONT);
    CHECK_ME("fmi2SetTime");
    return (fmi2Status)fmu_set_time(INST, time);
}

fmi2Status fmi2SetContinuousStates(fmi2Component c, const fmi2Real x[], size_t nx)
{
    CHECK("fmi2SetContinuousStates", FMU_ST_EVENT | FMU_ST_CONT);
    CHECK_ME("fmi2SetContinuousStates");
    return (fmi2Status)fmu_set_states(INST, x, nx);
}

#define DERIVATIVE_STATES (FMU_ST_INIT | FMU_ST_EVENT | FMU_ST_CONT | FMU_ST_TERMINATED | FMU_ST_ERROR)

fmi2Status fmi2GetDerivatives(fmi2Component c, fmi2Real derivatives[], size_t nx)
{
    CHECK("fmi2GetDerivatives", DERIVATIVE_STATES);
    CHECK_ME("fmi2GetDerivatives");
    return (fmi2Status)fmu_get_derivatives(INST, derivatives, nx);
}

fmi2Status fmi2GetEventIndicators(fmi2Component c, fmi2Real eventIndicators[], size_t ni)
{
    CHECK("fmi2GetEventIndicators", DERIVATIVE_STATES);
    CHECK_ME("fmi2GetEventIndicators");
    return (fmi2Status)fmu_get_event_indicators(INST, eventIndicators, ni);
}

fmi2Status fmi2GetContinuousStates(fmi2Component c, fmi2Real x[], size_t nx)
{
    CHECK("fmi2GetContinuousStates", FMU_ST_ANY);
    CHECK_ME("fmi2GetContinuousStates");
    return (fmi2Status)fmu_get_states(INST, x, nx);
}

fmi2Status fmi2GetNominalsOfContinuousStates(fmi2Component c, fmi2Real x_nominal[], size_t nx)
{
    CHECK("fmi2GetNominalsOfContinuousStates", FMU_ST_ANY);
    CHECK_ME("fmi2GetNominalsOfContinuousStates");
    return (fmi2Status)fmu_get_nominals(INST, x_nominal, nx);
}

/* --- Co-Simulation ----------------------------------------------------- */

fmi2Status fmi2SetRealInputDerivatives(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                                       const fmi2Integer order[], const fmi2Real value[])
{
    (void)vr;
    (void)nvr;
    (void)order;
    (void)value;
    CHECK("fmi2SetRealInputDerivatives", FMU_ST_ANY);
    return (fmi2Status)fmu_unsupported(INST, "fmi2SetRealInputDerivatives");
}

fmi2Status fmi2GetRealOutputDerivatives(fmi2Component c, const fmi2ValueReference vr[],
                                        size_t nvr, const fmi2Integer order[], fmi2Real value[])
{
    (void)vr;
    (void)nvr;
    (void)order;
    (void)value;
    CHECK("fmi2GetRealOutputDerivatives", FMU_ST_ANY);
    return (fmi2Status)fmu_unsupported(INST, "fmi2GetRealOutputDerivatives");
}

fmi2Status fmi2DoStep(fmi2Component c, fmi2Real currentCommunicationPoint,
                      fmi2Real communicationStepSize, fmi2Boolean noSetFMUStatePriorToCurrentPoint)
{
    bool terminate = false;
    fmu_status st;

    (void)noSetFMUStatePriorToCurrentPoint;
    CHECK("fmi2DoStep", FMU_ST_STEP);
    CHECK_CS("fmi2DoStep");
    st = fmu_do_step(INST, currentCommunicationPoint, communicationStepSize, &terminate);
    if (st == FMU_OK && terminate)
        return fmi2Discard; /* fmi2GetBooleanStatus(fmi2Terminated) tells why */
    return (fmi2Status)st;
}

fmi2Status fmi2CancelStep(fmi2Component c)
{
    CHECK("fmi2CancelStep", FMU_ST_ANY);
    return (fmi2Status)fmu_unsupported(INST, "fmi2CancelStep (doStep never returns fmi2Pending)");
}

fmi2Status fmi2GetStatus(fmi2Component c, const fmi2StatusKind s, fmi2Status *value)
{
    (void)value;
    CHECK("fmi2GetStatus", FMU_ST_ANY);
    CHECK_CS("fmi2GetStatus");
    fmu_log(INST, FMU_DISCARD, FMU_LOG_DISCARD,
            "fmi2GetStatus: status kind %d is only defined for asynchronous steps", (int)s);
    return fmi2Discard;
}

fmi2Status fmi2GetRealStatus(fmi2Component c, const fmi2StatusKind s, fmi2Real *value)
{
    CHECK("fmi2GetRealStatus", FMU_ST_ANY);
    CHECK_CS("fmi2GetRealStatus");
    if (s != fmi2LastSuccessfulTime || !value) {
        fmu_log(INST, FMU_DISCARD, FMU_LOG_DISCARD, "fmi2GetRealStatus: unsupported kind %d",
                (int)s);
        return fmi2Discard;
    }
    *value = INST->time;
    return fmi2OK;
}

fmi2Status fmi2GetIntegerStatus(fmi2Component c, const fmi2StatusKind s, fmi2Integer *value)
{
    (void)value;
    CHECK("fmi2GetIntegerStatus", FMU_ST_ANY);
    CHECK_CS("fmi2GetIntegerStatus");
    fmu_log(INST, FMU_DISCARD, FMU_LOG_DISCARD, "fmi2GetIntegerStatus: unsupported kind %d",
            (int)s);
    return fmi2Discard;
}

fmi2Status fmi2GetBooleanStatus(fmi2Component c, const fmi2StatusKind s, fmi2Boolean *value)
{
    CHECK("fmi2GetBooleanStatus", FMU_ST_ANY);
    CHECK_CS("fmi2GetBooleanStatus");
    if (s != fmi2Terminated || !value) {
        fmu_log(INST, FMU_DISCARD, FMU_LOG_DISCARD, "fmi2GetBooleanStatus: unsupported kind %d",
                (int)s);
        return fmi2Discard;
    }
    *value = INST->terminate_requested ? fmi2True : fmi2False;
    return fmi2OK;
}

fmi2Status fmi2GetStringStatus(fmi2Component c, const fmi2StatusKind s, fmi2String *value)
{
    (void)value;
    CHECK("fmi2GetStringStatus", FMU_ST_ANY);
    CHECK_CS("fmi2GetStringStatus");
    fmu_log(INST, FMU_DISCARD, FMU_LOG_DISCARD, "fmi2GetStringStatus: unsupported kind %d",
            (int)s);
    return fmi2Discard;
}
