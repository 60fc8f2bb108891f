/*
 * hostile_fmu.c - the FMI 2.0 Co-Simulation API shared by the hostile test
 * FMUs (see hostile.h and README.md). Written for this project; it carries
 * just enough of a model to pass validation and produce result rows:
 *
 *   vr 1  x       Real output     = time
 *   vr 2  pwned   Integer output  1 once an attack got through
 *   vr 3  target  String parameter (path, host name, variable name)
 *   vr 4  port    Integer parameter (TCP port, victim pid ...)
 *   vr 5  count   Integer parameter (how many forks / threads / MiB ...)
 *
 * The attack runs once, in fmi2Instantiate or in the first fmi2DoStep.
 * Model Exchange functions are exported (importers look them up) but refuse.
 */
#include "hostile.h"

#include "fmi/fmi2_abi.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/fmi2_exports.h"

enum { VR_X = 1, VR_PWNED, VR_TARGET, VR_PORT, VR_COUNT };

struct hostile_ctx {
    char *name;
    fmi2CallbackLogger logger;
    fmi2ComponentEnvironment env;
    double time;
    int pwned;
    int attacked;
    char *target;
    int port;
    int count;
};

#define H ((hostile_ctx *)c)

/* --- the hook API ---------------------------------------------------- */

const char *hostile_target(const hostile_ctx *h) { return h->target ? h->target : ""; }
int hostile_port(const hostile_ctx *h) { return h->port; }
int hostile_count(const hostile_ctx *h) { return h->count; }

static void logv(hostile_ctx *h, fmi2Status st, const char *category, const char *prefix, const char *fmt,
                 va_list ap)
{
    char buf[3000];
    int n = snprintf(buf, sizeof buf, "%s", prefix);
    vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    /* the message is a printf format for the logger: pass it as an argument */
    if (h->logger)
        h->logger(h->env, h->name, st, category, "%s", buf);
}

void hostile_loot(hostile_ctx *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    logv(h, fmi2Warning, "logStatusWarning", HOSTILE_LOOT_TAG ": ", fmt, ap);
    va_end(ap);
}

int hostile_fail(hostile_ctx *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    logv(h, fmi2Error, "logStatusError", "attack blocked: ", fmt, ap);
    va_end(ap);
    return -1;
}

void hostile_note(hostile_ctx *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    logv(h, fmi2OK, "logEvents", "", fmt, ap);
    va_end(ap);
}

void hostile_log_raw(hostile_ctx *h, const char *message)
{
    if (h->logger)
        h->logger(h->env, h->name, fmi2Warning, "logStatusWarning", "%s", message);
}

/* Runs the attack once; 0 = it got through (pwned set). */
static int run_attack(hostile_ctx *h)
{
    h->attacked = 1;
    if (hostile_attack.attack(h) != 0)
        return -1;
    h->pwned = 1;
    return 0;
}

static fmi2Status refuse(fmi2Component c, const char *fn)
{
    if (c)
        hostile_fail(H, "%s is not supported by this FMU", fn);
    return fmi2Error;
}

/* --- common functions ------------------------------------------------ */

const char *fmi2GetTypesPlatform(void) { return fmi2TypesPlatform; }
const char *fmi2GetVersion(void) { return fmi2Version; }

fmi2Status fmi2SetDebugLogging(fmi2Component c, fmi2Boolean loggingOn, size_t nCategories,
                               const fmi2String categories[])
{
    (void)c, (void)loggingOn, (void)nCategories, (void)categories;
    return fmi2OK;
}

fmi2Component fmi2Instantiate(fmi2String instanceName, fmi2Type fmuType, fmi2String fmuGUID,
                              fmi2String fmuResourceLocation, const fmi2CallbackFunctions *functions,
                              fmi2Boolean visible, fmi2Boolean loggingOn)
{
    hostile_ctx *h;

    (void)fmuResourceLocation, (void)visible, (void)loggingOn;
    if (!functions || fmuType != fmi2CoSimulation || !fmuGUID || strcmp(fmuGUID, HOSTILE_GUID) != 0)
        return NULL;
    h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->name = strdup(instanceName ? instanceName : "");
    h->target = strdup("");
    h->logger = functions->logger;
    h->env = functions->componentEnvironment;
    if (!h->name || !h->target)
        goto fail;
    if (hostile_attack.when == HOSTILE_AT_INSTANTIATE && run_attack(h) != 0)
        goto fail;
    return h;
fail:
    free(h->name);
    free(h->target);
    free(h);
    return NULL;
}

void fmi2FreeInstance(fmi2Component c)
{
    if (!c)
        return;
    free(H->name);
    free(H->target);
    free(H);
}

fmi2Status fmi2SetupExperiment(fmi2Component c, fmi2Boolean toleranceDefined, fmi2Real tolerance,
                               fmi2Real startTime, fmi2Boolean stopTimeDefined, fmi2Real stopTime)
{
    (void)toleranceDefined, (void)tolerance, (void)stopTimeDefined, (void)stopTime;
    H->time = startTime;
    return fmi2OK;
}

fmi2Status fmi2EnterInitializationMode(fmi2Component c) { (void)c; return fmi2OK; }
fmi2Status fmi2ExitInitializationMode(fmi2Component c) { (void)c; return fmi2OK; }
fmi2Status fmi2Terminate(fmi2Component c) { (void)c; return fmi2OK; }

fmi2Status fmi2Reset(fmi2Component c)
{
    H->time = 0;
    return fmi2OK;
}

/* --- values ---------------------------------------------------------- */

fmi2Status fmi2GetReal(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, fmi2Real value[])
{
    for (size_t i = 0; i < nvr; i++) {
        if (vr[i] != VR_X)
            return refuse(c, "fmi2GetReal of this value reference");
        value[i] = H->time;
    }
    return fmi2OK;
}

fmi2Status fmi2GetInteger(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, fmi2Integer value[])
{
    for (size_t i = 0; i < nvr; i++) {
        if (vr[i] == VR_PWNED)
            value[i] = H->pwned;
        else if (vr[i] == VR_PORT)
            value[i] = H->port;
        else if (vr[i] == VR_COUNT)
            value[i] = H->count;
        else
            return refuse(c, "fmi2GetInteger of this value reference");
    }
    return fmi2OK;
}

fmi2Status fmi2GetBoolean(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, fmi2Boolean value[])
{
    (void)vr, (void)value;
    return nvr ? refuse(c, "fmi2GetBoolean") : fmi2OK;
}

fmi2Status fmi2GetString(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, fmi2String value[])
{
    for (size_t i = 0; i < nvr; i++) {
        if (vr[i] != VR_TARGET)
            return refuse(c, "fmi2GetString of this value reference");
        value[i] = H->target;
    }
    return fmi2OK;
}

fmi2Status fmi2SetReal(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, const fmi2Real value[])
{
    (void)vr, (void)value;
    return nvr ? refuse(c, "fmi2SetReal") : fmi2OK;
}

fmi2Status fmi2SetInteger(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, const fmi2Integer value[])
{
    for (size_t i = 0; i < nvr; i++) {
        if (vr[i] == VR_PORT)
            H->port = value[i];
        else if (vr[i] == VR_COUNT)
            H->count = value[i];
        else
            return refuse(c, "fmi2SetInteger of this value reference");
    }
    return fmi2OK;
}

fmi2Status fmi2SetBoolean(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, const fmi2Boolean value[])
{
    (void)vr, (void)value;
    return nvr ? refuse(c, "fmi2SetBoolean") : fmi2OK;
}

fmi2Status fmi2SetString(fmi2Component c, const fmi2ValueReference vr[], size_t nvr, const fmi2String value[])
{
    for (size_t i = 0; i < nvr; i++) {
        char *s;
        if (vr[i] != VR_TARGET)
            return refuse(c, "fmi2SetString of this value reference");
        if (!(s = strdup(value[i] ? value[i] : "")))
            return fmi2Error;
        free(H->target);
        H->target = s;
    }
    return fmi2OK;
}

/* --- Co-Simulation --------------------------------------------------- */

fmi2Status fmi2DoStep(fmi2Component c, fmi2Real currentCommunicationPoint, fmi2Real communicationStepSize,
                      fmi2Boolean noSetFMUStatePriorToCurrentPoint)
{
    (void)noSetFMUStatePriorToCurrentPoint;
    if (hostile_attack.when == HOSTILE_AT_DOSTEP && !H->attacked && run_attack(H) != 0)
        return fmi2Error;
    H->time = currentCommunicationPoint + communicationStepSize;
    return fmi2OK;
}

fmi2Status fmi2CancelStep(fmi2Component c) { return refuse(c, "fmi2CancelStep"); }

fmi2Status fmi2GetStatus(fmi2Component c, const fmi2StatusKind s, fmi2Status *value)
{
    (void)s, (void)value;
    return refuse(c, "fmi2GetStatus");
}

fmi2Status fmi2GetRealStatus(fmi2Component c, const fmi2StatusKind s, fmi2Real *value)
{
    if (s != fmi2LastSuccessfulTime)
        return refuse(c, "fmi2GetRealStatus of this kind");
    *value = H->time;
    return fmi2OK;
}

fmi2Status fmi2GetIntegerStatus(fmi2Component c, const fmi2StatusKind s, fmi2Integer *value)
{
    (void)s, (void)value;
    return refuse(c, "fmi2GetIntegerStatus");
}

fmi2Status fmi2GetBooleanStatus(fmi2Component c, const fmi2StatusKind s, fmi2Boolean *value)
{
    if (s != fmi2Terminated)
        return refuse(c, "fmi2GetBooleanStatus of this kind");
    *value = fmi2False;
    return fmi2OK;
}

fmi2Status fmi2GetStringStatus(fmi2Component c, const fmi2StatusKind s, fmi2String *value)
{
    (void)s, (void)value;
    return refuse(c, "fmi2GetStringStatus");
}

fmi2Status fmi2SetRealInputDerivatives(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                                       const fmi2Integer order[], const fmi2Real value[])
{
    (void)vr, (void)nvr, (void)order, (void)value;
    return refuse(c, "fmi2SetRealInputDerivatives");
}

fmi2Status fmi2GetRealOutputDerivatives(fmi2Component c, const fmi2ValueReference vr[], size_t nvr,
                                        const fmi2Integer order[], fmi2Real value[])
{
    (void)vr, (void)nvr, (void)order, (void)value;
    return refuse(c, "fmi2GetRealOutputDerivatives");
}

/* --- not supported: FMU state, derivatives, Model Exchange ----------- */

fmi2Status fmi2GetFMUstate(fmi2Component c, fmi2FMUstate *s) { (void)s; return refuse(c, "fmi2GetFMUstate"); }
fmi2Status fmi2SetFMUstate(fmi2Component c, fmi2FMUstate s) { (void)s; return refuse(c, "fmi2SetFMUstate"); }
fmi2Status fmi2FreeFMUstate(fmi2Component c, fmi2FMUstate *s) { (void)s; return refuse(c, "fmi2FreeFMUstate"); }

fmi2Status fmi2SerializedFMUstateSize(fmi2Component c, fmi2FMUstate s, size_t *size)
{
    (void)s, (void)size;
    return refuse(c, "fmi2SerializedFMUstateSize");
}

fmi2Status fmi2SerializeFMUstate(fmi2Component c, fmi2FMUstate s, fmi2Byte buf[], size_t size)
{
    (void)s, (void)buf, (void)size;
    return refuse(c, "fmi2SerializeFMUstate");
}

fmi2Status fmi2DeSerializeFMUstate(fmi2Component c, const fmi2Byte buf[], size_t size, fmi2FMUstate *s)
{
    (void)s, (void)buf, (void)size;
    return refuse(c, "fmi2DeSerializeFMUstate");
}

fmi2Status fmi2GetDirectionalDerivative(fmi2Component c, const fmi2ValueReference u[], size_t nu,
                                        const fmi2ValueReference k[], size_t nk, const fmi2Real dk[],
                                        fmi2Real du[])
{
    (void)u, (void)nu, (void)k, (void)nk, (void)dk, (void)du;
    return refuse(c, "fmi2GetDirectionalDerivative");
}

fmi2Status fmi2EnterEventMode(fmi2Component c) { return refuse(c, "fmi2EnterEventMode"); }
fmi2Status fmi2NewDiscreteStates(fmi2Component c, fmi2EventInfo *e) { (void)e; return refuse(c, "fmi2NewDiscreteStates"); }
fmi2Status fmi2EnterContinuousTimeMode(fmi2Component c) { return refuse(c, "fmi2EnterContinuousTimeMode"); }

fmi2Status fmi2CompletedIntegratorStep(fmi2Component c, fmi2Boolean noSetPrior, fmi2Boolean *enterEventMode,
                                       fmi2Boolean *terminateSimulation)
{
    (void)noSetPrior, (void)enterEventMode, (void)terminateSimulation;
    return refuse(c, "fmi2CompletedIntegratorStep");
}

fmi2Status fmi2SetTime(fmi2Component c, fmi2Real t) { (void)t; return refuse(c, "fmi2SetTime"); }

fmi2Status fmi2SetContinuousStates(fmi2Component c, const fmi2Real x[], size_t nx)
{
    (void)x, (void)nx;
    return refuse(c, "fmi2SetContinuousStates");
}

fmi2Status fmi2GetDerivatives(fmi2Component c, fmi2Real d[], size_t nx)
{
    (void)d, (void)nx;
    return refuse(c, "fmi2GetDerivatives");
}

fmi2Status fmi2GetEventIndicators(fmi2Component c, fmi2Real z[], size_t ni)
{
    (void)z, (void)ni;
    return refuse(c, "fmi2GetEventIndicators");
}

fmi2Status fmi2GetContinuousStates(fmi2Component c, fmi2Real x[], size_t nx)
{
    (void)x, (void)nx;
    return refuse(c, "fmi2GetContinuousStates");
}

fmi2Status fmi2GetNominalsOfContinuousStates(fmi2Component c, fmi2Real x[], size_t nx)
{
    (void)x, (void)nx;
    return refuse(c, "fmi2GetNominalsOfContinuousStates");
}
