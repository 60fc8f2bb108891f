/*
 * fmi3.c - the FMI 3.0 API of the sample FMUs (Model Exchange and
 * Co-Simulation in one binary), on top of fmu_core.c.
 *
 * Every function of the standard is exported. What the models do not
 * declare (Scheduled Execution, clocks, configuration mode, FMU state,
 * partial derivatives, output derivatives, dependency queries, Event Mode in
 * Co-Simulation) returns fmi3Error with a log message. resourcePath is a
 * directory path and is used as it is.
 */
#include "fmu_core.h"

#include "fmi/fmi3_abi.h"

#define EXPORT __attribute__((visibility("default")))

EXPORT fmi3GetVersionTYPE fmi3GetVersion;
EXPORT fmi3SetDebugLoggingTYPE fmi3SetDebugLogging;
EXPORT fmi3InstantiateModelExchangeTYPE fmi3InstantiateModelExchange;
EXPORT fmi3InstantiateCoSimulationTYPE fmi3InstantiateCoSimulation;
EXPORT fmi3InstantiateScheduledExecutionTYPE fmi3InstantiateScheduledExecution;
EXPORT fmi3FreeInstanceTYPE fmi3FreeInstance;
EXPORT fmi3EnterInitializationModeTYPE fmi3EnterInitializationMode;
EXPORT fmi3ExitInitializationModeTYPE fmi3ExitInitializationMode;
EXPORT fmi3EnterEventModeTYPE fmi3EnterEventMode;
EXPORT fmi3TerminateTYPE fmi3Terminate;
EXPORT fmi3ResetTYPE fmi3Reset;
EXPORT fmi3GetFloat32TYPE fmi3GetFloat32;
EXPORT fmi3GetFloat64TYPE fmi3GetFloat64;
EXPORT fmi3GetInt8TYPE fmi3GetInt8;
EXPORT fmi3GetUInt8TYPE fmi3GetUInt8;
EXPORT fmi3GetInt16TYPE fmi3GetInt16;
EXPORT fmi3GetUInt16TYPE fmi3GetUInt16;
EXPORT fmi3GetInt32TYPE fmi3GetInt32;
EXPORT fmi3GetUInt32TYPE fmi3GetUInt32;
EXPORT fmi3GetInt64TYPE fmi3GetInt64;
EXPORT fmi3GetUInt64TYPE fmi3GetUInt64;
EXPORT fmi3GetBooleanTYPE fmi3GetBoolean;
EXPORT fmi3GetStringTYPE fmi3GetString;
EXPORT fmi3GetBinaryTYPE fmi3GetBinary;
EXPORT fmi3GetClockTYPE fmi3GetClock;
EXPORT fmi3SetFloat32TYPE fmi3SetFloat32;
EXPORT fmi3SetFloat64TYPE fmi3SetFloat64;
EXPORT fmi3SetInt8TYPE fmi3SetInt8;
EXPORT fmi3SetUInt8TYPE fmi3SetUInt8;
EXPORT fmi3SetInt16TYPE fmi3SetInt16;
EXPORT fmi3SetUInt16TYPE fmi3SetUInt16;
EXPORT fmi3SetInt32TYPE fmi3SetInt32;
EXPORT fmi3SetUInt32TYPE fmi3SetUInt32;
EXPORT fmi3SetInt64TYPE fmi3SetInt64;
EXPORT fmi3SetUInt64TYPE fmi3SetUInt64;
EXPORT fmi3SetBooleanTYPE fmi3SetBoolean;
EXPORT fmi3SetStringTYPE fmi3SetString;
EXPORT fmi3SetBinaryTYPE fmi3SetBinary;
EXPORT fmi3SetClockTYPE fmi3SetClock;
EXPORT fmi3GetNumberOfVariableDependenciesTYPE fmi3GetNumberOfVariableDependencies;
EXPORT fmi3GetVariableDependenciesTYPE fmi3GetVariableDependencies;
EXPORT fmi3GetFMUStateTYPE fmi3GetFMUState;
EXPORT fmi3SetFMUStateTYPE fmi3SetFMUState;
EXPORT fmi3FreeFMUStateTYPE fmi3FreeFMUState;
EXPORT fmi3SerializedFMUStateSizeTYPE fmi3SerializedFMUStateSize;
EXPORT fmi3SerializeFMUStateTYPE fmi3SerializeFMUState;
EXPORT fmi3DeserializeFMUStateTYPE fmi3DeserializeFMUState;
EXPORT fmi3GetDirectionalDerivativeTYPE fmi3GetDirectionalDerivative;
EXPORT fmi3GetAdjointDerivativeTYPE fmi3GetAdjointDerivative;
EXPORT fmi3EnterConfigurationModeTYPE fmi3EnterConfigurationMode;
EXPORT fmi3ExitConfigurationModeTYPE fmi3ExitConfigurationMode;
EXPORT fmi3GetIntervalDecimalTYPE fmi3GetIntervalDecimal;
EXPORT fmi3GetIntervalFractionTYPE fmi3GetIntervalFraction;
EXPORT fmi3GetShiftDecimalTYPE fmi3GetShiftDecimal;
EXPORT fmi3GetShiftFractionTYPE fmi3GetShiftFraction;
EXPORT fmi3SetIntervalDecimalTYPE fmi3SetIntervalDecimal;
EXPORT fmi3SetIntervalFractionTYPE fmi3SetIntervalFraction;
EXPORT fmi3SetShiftDecimalTYPE fmi3SetShiftDecimal;
EXPORT fmi3SetShiftFractionTYPE fmi3SetShiftFraction;
EXPORT fmi3EvaluateDiscreteStatesTYPE fmi3EvaluateDiscreteStates;
EXPORT fmi3UpdateDiscreteStatesTYPE fmi3UpdateDiscreteStates;
EXPORT fmi3EnterContinuousTimeModeTYPE fmi3EnterContinuousTimeMode;
EXPORT fmi3CompletedIntegratorStepTYPE fmi3CompletedIntegratorStep;
EXPORT fmi3SetTimeTYPE fmi3SetTime;
EXPORT fmi3SetContinuousStatesTYPE fmi3SetContinuousStates;
EXPORT fmi3GetContinuousStateDerivativesTYPE fmi3GetContinuousStateDerivatives;
EXPORT fmi3GetEventIndicatorsTYPE fmi3GetEventIndicators;
EXPORT fmi3GetContinuousStatesTYPE fmi3GetContinuousStates;
EXPORT fmi3GetNominalsOfContinuousStatesTYPE fmi3GetNominalsOfContinuousStates;
EXPORT fmi3GetNumberOfEventIndicatorsTYPE fmi3GetNumberOfEventIndicators;
EXPORT fmi3GetNumberOfContinuousStatesTYPE fmi3GetNumberOfContinuousStates;
EXPORT fmi3EnterStepModeTYPE fmi3EnterStepMode;
EXPORT fmi3GetOutputDerivativesTYPE fmi3GetOutputDerivatives;
EXPORT fmi3DoStepTYPE fmi3DoStep;
EXPORT fmi3ActivateModelPartitionTYPE fmi3ActivateModelPartition;

#define INST ((fmu_instance *)instance)
#define CHECK(fn, mask)                        \
    do {                                       \
        if (!fmu_allowed(INST, (fn), (mask)))  \
            return fmi3Error;                  \
    } while (0)
#define CHECK_ME(fn)                                    \
    do {                                                \
        if (!fmu_require_interface(INST, (fn), false)) \
            return fmi3Error;                           \
    } while (0)
#define CHECK_CS(fn)                                   \
    do {                                               \
        if (!fmu_require_interface(INST, (fn), true)) \
            return fmi3Error;                          \
    } while (0)
#define UNSUPPORTED(fn)                                    \
    do {                                                   \
        CHECK(fn, FMU_ST_ANY);                             \
        return (fmi3Status)fmu_unsupported(INST, (fn));    \
    } while (0)

static void emit(fmu_instance *inst, fmu_status status, const char *category, const char *msg)
{
    fmi3LogMessageCallback logMessage = (fmi3LogMessageCallback)inst->emit_cb;

    if (logMessage)
        logMessage(inst->emit_env, (fmi3Status)status, category, msg);
}

const char *fmi3GetVersion(void)
{
    return fmi3Version;
}

fmi3Status fmi3SetDebugLogging(fmi3Instance instance, fmi3Boolean loggingOn, size_t nCategories,
                               const fmi3String categories[])
{
    CHECK("fmi3SetDebugLogging", FMU_ST_ANY);
    return (fmi3Status)fmu_set_debug_logging(INST, loggingOn, nCategories, categories);
}

static fmi3Instance instantiate(bool cs, fmi3String instanceName, fmi3String instantiationToken,
                                fmi3String resourcePath, fmi3Boolean loggingOn,
                                fmi3InstanceEnvironment instanceEnvironment,
                                fmi3LogMessageCallback logMessage)
{
    fmu_new_args a = { 0 };

    a.name = instanceName;
    a.token = instantiationToken;
    a.resource_dir = resourcePath;
    a.version = 3;
    a.cs = cs;
    a.logging_on = loggingOn;
    a.emit = emit;
    a.emit_env = instanceEnvironment;
    a.emit_cb = (void (*)(void))logMessage;
    return fmu_instance_new(&a);
}

fmi3Instance fmi3InstantiateModelExchange(fmi3String instanceName, fmi3String instantiationToken,
                                          fmi3String resourcePath, fmi3Boolean visible,
                                          fmi3Boolean loggingOn,
                                          fmi3InstanceEnvironment instanceEnvironment,
                                          fmi3LogMessageCallback logMessage)
{
    (void)visible;
    return instantiate(false, instanceName, instantiationToken, resourcePath, loggingOn,
                       instanceEnvironment, logMessage);
}

fmi3Instance fmi3InstantiateCoSimulation(
    fmi3String instanceName, fmi3String instantiationToken, fmi3String resourcePath,
    fmi3Boolean visible, fmi3Boolean loggingOn, fmi3Boolean eventModeUsed,
    fmi3Boolean earlyReturnAllowed, const fmi3ValueReference requiredIntermediateVariables[],
    size_t nRequiredIntermediateVariables, fmi3InstanceEnvironment instanceEnvironment,
    fmi3LogMessageCallback logMessage, fmi3IntermediateUpdateCallback intermediateUpdate)
{
    fmu_instance *inst;

    (void)visible;
    (void)earlyReturnAllowed;
    (void)requiredIntermediateVariables;
    (void)intermediateUpdate;
    inst = instantiate(true, instanceName, instantiationToken, resourcePath, loggingOn,
                       instanceEnvironment, logMessage);
    if (!inst)
        return NULL;
    if (eventModeUsed)
        fmu_log(inst, FMU_WARNING, FMU_LOG_WARNING,
                "eventModeUsed ignored: the FMU declares hasEventMode=\"false\"");
    if (nRequiredIntermediateVariables > 0)
        fmu_log(inst, FMU_WARNING, FMU_LOG_WARNING,
                "requiredIntermediateVariables ignored: no intermediate update");
    return inst;
}

fmi3Instance fmi3InstantiateScheduledExecution(
    fmi3String instanceName, fmi3String instantiationToken, fmi3String resourcePath,
    fmi3Boolean visible, fmi3Boolean loggingOn, fmi3InstanceEnvironment instanceEnvironment,
    fmi3LogMessageCallback logMessage, fmi3ClockUpdateCallback clockUpdate,
    fmi3LockPreemptionCallback lockPreemption, fmi3UnlockPreemptionCallback unlockPreemption)
{
    (void)instanceName;
    (void)instantiationToken;
    (void)resourcePath;
    (void)visible;
    (void)loggingOn;
    (void)clockUpdate;
    (void)lockPreemption;
    (void)unlockPreemption;
    if (logMessage)
        logMessage(instanceEnvironment, fmi3Error, "logStatusError",
                   "Scheduled Execution is not supported by this FMU");
    return NULL;
}

void fmi3FreeInstance(fmi3Instance instance)
{
    fmu_instance_free(INST);
}

fmi3Status fmi3EnterInitializationMode(fmi3Instance instance, fmi3Boolean toleranceDefined,
                                       fmi3Float64 tolerance, fmi3Float64 startTime,
                                       fmi3Boolean stopTimeDefined, fmi3Float64 stopTime)
{
    (void)toleranceDefined;
    (void)tolerance;
    CHECK("fmi3EnterInitializationMode", FMU_ST_INSTANTIATED);
    return (fmi3Status)fmu_enter_init(INST, startTime, stopTimeDefined, stopTime);
}

fmi3Status fmi3ExitInitializationMode(fmi3Instance instance)
{
    CHECK("fmi3ExitInitializationMode", FMU_ST_INIT);
    return (fmi3Status)fmu_exit_init(INST);
}

fmi3Status fmi3EnterEventMode(fmi3Instance instance)
{
    CHECK("fmi3EnterEventMode", FMU_ST_EVENT | FMU_ST_CONT);
    CHECK_ME("fmi3EnterEventMode");
    INST->state = FMU_ST_EVENT;
    return fmi3OK;
}

fmi3Status fmi3Terminate(fmi3Instance instance)
{
    CHECK("fmi3Terminate", FMU_ST_EVENT | FMU_ST_CONT | FMU_ST_STEP);
    INST->state = FMU_ST_TERMINATED;
    return fmi3OK;
}

fmi3Status fmi3Reset(fmi3Instance instance)
{
    CHECK("fmi3Reset", FMU_ST_ANY);
    return (fmi3Status)fmu_instance_reset(INST);
}

/* --- getting and setting values ---------------------------------------- */

#define GET_STATES FMU_ST_ANY
#define SET_STATES (FMU_ST_INSTANTIATED | FMU_ST_INIT | FMU_ST_EVENT | FMU_ST_CONT | FMU_ST_STEP)

#define GETSET(T, API)                                                                         \
    fmi3Status fmi3Get##T(fmi3Instance instance, const fmi3ValueReference valueReferences[],   \
                          size_t nValueReferences, fmi3##T values[], size_t nValues)           \
    {                                                                                          \
        CHECK("fmi3Get" #T, GET_STATES);                                                       \
        return (fmi3Status)fmu_get(INST, (API), valueReferences, nValueReferences,             \
                                   (void *)values, nValues, NULL);                             \
    }                                                                                          \
    fmi3Status fmi3Set##T(fmi3Instance instance, const fmi3ValueReference valueReferences[],   \
                          size_t nValueReferences, const fmi3##T values[], size_t nValues)     \
    {                                                                                          \
        CHECK("fmi3Set" #T, SET_STATES);                                                       \
        return (fmi3Status)fmu_set(INST, (API), valueReferences, nValueReferences, values,     \
                                   nValues, NULL);                                             \
    }

GETSET(Float32, FMU_API_F32)
GETSET(Float64, FMU_API_F64)
GETSET(Int8, FMU_API_I8)
GETSET(UInt8, FMU_API_U8)
GETSET(Int16, FMU_API_I16)
GETSET(UInt16, FMU_API_U16)
GETSET(Int32, FMU_API_I32)
GETSET(UInt32, FMU_API_U32)
GETSET(Int64, FMU_API_I64)
GETSET(UInt64, FMU_API_U64)
GETSET(Boolean, FMU_API_BOOL)
GETSET(String, FMU_API_STRING)

fmi3Status fmi3GetBinary(fmi3Instance instance, const fmi3ValueReference valueReferences[],
                         size_t nValueReferences, size_t valueSizes[], fmi3Binary values[],
                         size_t nValues)
{
    CHECK("fmi3GetBinary", GET_STATES);
    return (fmi3Status)fmu_get(INST, FMU_API_BINARY, valueReferences, nValueReferences,
                               (void *)values, nValues, valueSizes);
}

fmi3Status fmi3SetBinary(fmi3Instance instance, const fmi3ValueReference valueReferences[],
                         size_t nValueReferences, const size_t valueSizes[],
                         const fmi3Binary values[], size_t nValues)
{
    CHECK("fmi3SetBinary", SET_STATES);
    return (fmi3Status)fmu_set(INST, FMU_API_BINARY, valueReferences, nValueReferences, values,
                               nValues, valueSizes);
}

fmi3Status fmi3GetClock(fmi3Instance instance, const fmi3ValueReference valueReferences[],
                        size_t nValueReferences, fmi3Clock values[])
{
    (void)valueReferences;
    (void)nValueReferences;
    (void)values;
    UNSUPPORTED("fmi3GetClock");
}

fmi3Status fmi3SetClock(fmi3Instance instance, const fmi3ValueReference valueReferences[],
                        size_t nValueReferences, const fmi3Clock values[])
{
    (void)valueReferences;
    (void)nValueReferences;
    (void)values;
    UNSUPPORTED("fmi3SetClock");
}

/* --- unsupported optional functions ------------------------------------ */

fmi3Status fmi3GetNumberOfVariableDependencies(fmi3Instance instance,
                                               fmi3ValueReference valueReference,
                                               size_t *nDependencies)
{
    (void)valueReference;
    (void)nDependencies;
    UNSUPPORTED("fmi3GetNumberOfVariableDependencies");
}

fmi3Status fmi3GetVariableDependencies(fmi3Instance instance, fmi3ValueReference dependent,
                                       size_t elementIndicesOfDependent[],
                                       fmi3ValueReference independents[],
                                       size_t elementIndicesOfIndependents[],
                                       fmi3DependencyKind dependencyKinds[], size_t nDependencies)
{
    (void)dependent;
    (void)elementIndicesOfDependent;
    (void)independents;
    (void)elementIndicesOfIndependents;
    (void)dependencyKinds;
    (void)nDependencies;
    UNSUPPORTED("fmi3GetVariableDependencies");
}

fmi3Status fmi3GetFMUState(fmi3Instance instance, fmi3FMUState *FMUState)
{
    (void)FMUState;
    UNSUPPORTED("fmi3GetFMUState");
}

fmi3Status fmi3SetFMUState(fmi3Instance instance, fmi3FMUState FMUState)
{
    (void)FMUState;
    UNSUPPORTED("fmi3SetFMUState");
}

fmi3Status fmi3FreeFMUState(fmi3Instance instance, fmi3FMUState *FMUState)
{
    (void)FMUState;
    UNSUPPORTED("fmi3FreeFMUState");
}

fmi3Status fmi3SerializedFMUStateSize(fmi3Instance instance, fmi3FMUState FMUState, size_t *size)
{
    (void)FMUState;
    (void)size;
    UNSUPPORTED("fmi3SerializedFMUStateSize");
}

fmi3Status fmi3SerializeFMUState(fmi3Instance instance, fmi3FMUState FMUState,
                                 fmi3Byte serializedState[], size_t size)
{
    (void)FMUState;
    (void)serializedState;
    (void)size;
    UNSUPPORTED("fmi3SerializeFMUState");
}

fmi3Status fmi3DeserializeFMUState(fmi3Instance instance, const fmi3Byte serializedState[],
                                   size_t size, fmi3FMUState *FMUState)
{
    (void)serializedState;
    (void)size;
    (void)FMUState;
    UNSUPPORTED("fmi3DeserializeFMUState");
}

fmi3Status fmi3GetDirectionalDerivative(fmi3Instance instance, const fmi3ValueReference unknowns[],
                                        size_t nUnknowns, const fmi3ValueReference knowns[],
                                        size_t nKnowns, const fmi3Float64 seed[], size_t nSeed,
                                        fmi3Float64 sensitivity[], size_t nSensitivity)
{
    (void)unknowns;
    (void)nUnknowns;
    (void)knowns;
    (void)nKnowns;
    (void)seed;
    (void)nSeed;
    (void)sensitivity;
    (void)nSensitivity;
    UNSUPPORTED("fmi3GetDirectionalDerivative");
}

fmi3Status fmi3GetAdjointDerivative(fmi3Instance instance, const fmi3ValueReference unknowns[],
                                    size_t nUnknowns, const fmi3ValueReference knowns[],
                                    size_t nKnowns, const fmi3Float64 seed[], size_t nSeed,
                                    fmi3Float64 sensitivity[], size_t nSensitivity)
{
    (void)unknowns;
    (void)nUnknowns;
    (void)knowns;
    (void)nKnowns;
    (void)seed;
    (void)nSeed;
    (void)sensitivity;
    (void)nSensitivity;
    UNSUPPORTED("fmi3GetAdjointDerivative");
}

fmi3Status fmi3EnterConfigurationMode(fmi3Instance instance)
{
    UNSUPPORTED("fmi3EnterConfigurationMode");
}

fmi3Status fmi3ExitConfigurationMode(fmi3Instance instance)
{
    UNSUPPORTED("fmi3ExitConfigurationMode");
}

fmi3Status fmi3GetIntervalDecimal(fmi3Instance instance, const fmi3ValueReference valueReferences[],
                                  size_t nValueReferences, fmi3Float64 intervals[],
                                  fmi3IntervalQualifier qualifiers[])
{
    (void)valueReferences;
    (void)nValueReferences;
    (void)intervals;
    (void)qualifiers;
    UNSUPPORTED("fmi3GetIntervalDecimal");
}

fmi3Status fmi3GetIntervalFraction(fmi3Instance instance,
                                   const fmi3ValueReference valueReferences[],
                                   size_t nValueReferences, fmi3UInt64 counters[],
                                   fmi3UInt64 resolutions[], fmi3IntervalQualifier qualifiers[])
{
    (void)valueReferences;
    (void)nValueReferences;
    (void)counters;
    (void)resolutions;
    (void)qualifiers;
    UNSUPPORTED("fmi3GetIntervalFraction");
}

fmi3Status fmi3GetShiftDecimal(fmi3Instance instance, const fmi3ValueReference valueReferences[],
                               size_t nValueReferences, fmi3Float64 shifts[])
{
    (void)valueReferences;
    (void)nValueReferences;
    (void)shifts;
    UNSUPPORTED("fmi3GetShiftDecimal");
}

fmi3Status fmi3GetShiftFraction(fmi3Instance instance, const fmi3ValueReference valueReferences[],
                                size_t nValueReferences, fmi3UInt64 counters[],
                                fmi3UInt64 resolutions[])
{
    (void)valueReferences;
    (void)nValueReferences;
    (void)counters;
    (void)resolutions;
    UNSUPPORTED("fmi3GetShiftFraction");
}

fmi3Status fmi3SetIntervalDecimal(fmi3Instance instance, const fmi3ValueReference valueReferences[],
                                  size_t nValueReferences, const fmi3Float64 intervals[])
{
    (void)valueReferences;
    (void)nValueReferences;
    (void)intervals;
    UNSUPPORTED("fmi3SetIntervalDecimal");
}

fmi3Status fmi3SetIntervalFraction(fmi3Instance instance,
                                   const fmi3ValueReference valueReferences[],
                                   size_t nValueReferences, const fmi3UInt64 counters[],
                                   const fmi3UInt64 resolutions[])
{
    (void)valueReferences;
    (void)nValueReferences;
    (void)counters;
    (void)resolutions;
    UNSUPPORTED("fmi3SetIntervalFraction");
}

fmi3Status fmi3SetShiftDecimal(fmi3Instance instance, const fmi3ValueReference valueReferences[],
                               size_t nValueReferences, const fmi3Float64 shifts[])
{
    (void)valueReferences;
    (void)nValueReferences;
    (void)shifts;
    UNSUPPORTED("fmi3SetShiftDecimal");
}

fmi3Status fmi3SetShiftFraction(fmi3Instance instance, const fmi3ValueReference valueReferences[],
                                size_t nValueReferences, const fmi3UInt64 counters[],
                                const fmi3UInt64 resolutions[])
{
    (void)valueReferences;
    (void)nValueReferences;
    (void)counters;
    (void)resolutions;
    UNSUPPORTED("fmi3SetShiftFraction");
}

fmi3Status fmi3ActivateModelPartition(fmi3Instance instance, fmi3ValueReference clockReference,
                                      fmi3Float64 activationTime)
{
    (void)clockReference;
    (void)activationTime;
    UNSUPPORTED("fmi3ActivateModelPartition");
}

fmi3Status fmi3GetOutputDerivatives(fmi3Instance instance,
                                    const fmi3ValueReference valueReferences[],
                                    size_t nValueReferences, const fmi3Int32 orders[],
                                    fmi3Float64 values[], size_t nValues)
{
    (void)valueReferences;
    (void)nValueReferences;
    (void)orders;
    (void)values;
    (void)nValues;
    UNSUPPORTED("fmi3GetOutputDerivatives");
}

fmi3Status fmi3EnterStepMode(fmi3Instance instance)
{
    CHECK("fmi3EnterStepMode", FMU_ST_ANY);
    return (fmi3Status)fmu_unsupported(
        INST, "fmi3EnterStepMode (no Event Mode in Co-Simulation: "
              "fmi3ExitInitializationMode enters Step Mode)");
}

/* --- discrete states and Model Exchange -------------------------------- */

fmi3Status fmi3EvaluateDiscreteStates(fmi3Instance instance)
{
    CHECK("fmi3EvaluateDiscreteStates", FMU_ST_EVENT);
    return (fmi3Status)fmu_calculate(INST);
}

fmi3Status fmi3UpdateDiscreteStates(fmi3Instance instance, fmi3Boolean *discreteStatesNeedUpdate,
                                    fmi3Boolean *terminateSimulation,
                                    fmi3Boolean *nominalsOfContinuousStatesChanged,
                                    fmi3Boolean *valuesOfContinuousStatesChanged,
                                    fmi3Boolean *nextEventTimeDefined, fmi3Float64 *nextEventTime)
{
    fmu_event_result ev;
    fmu_status st;

    CHECK("fmi3UpdateDiscreteStates", FMU_ST_EVENT);
    CHECK_ME("fmi3UpdateDiscreteStates");
    if (!discreteStatesNeedUpdate || !terminateSimulation || !nominalsOfContinuousStatesChanged ||
        !valuesOfContinuousStatesChanged || !nextEventTimeDefined || !nextEventTime) {
        fmu_log(INST, FMU_ERROR, FMU_LOG_ERROR, "fmi3UpdateDiscreteStates: NULL argument");
        return fmi3Error;
    }
    st = fmu_update_discrete(INST, &ev);
    *discreteStatesNeedUpdate = ev.again;
    *terminateSimulation = ev.terminate;
    *nominalsOfContinuousStatesChanged = false;
    *valuesOfContinuousStatesChanged = ev.states_changed;
    *nextEventTimeDefined = ev.next_time_defined;
    *nextEventTime = ev.next_time_defined ? ev.next_time : 0.0;
    return (fmi3Status)st;
}

fmi3Status fmi3EnterContinuousTimeMode(fmi3Instance instance)
{
    CHECK("fmi3EnterContinuousTimeMode", FMU_ST_EVENT);
    CHECK_ME("fmi3EnterContinuousTimeMode");
    INST->state = FMU_ST_CONT;
    return fmi3OK;
}

fmi3Status fmi3CompletedIntegratorStep(fmi3Instance instance,
                                       fmi3Boolean noSetFMUStatePriorToCurrentPoint,
                                       fmi3Boolean *enterEventMode,
                                       fmi3Boolean *terminateSimulation)
{
    (void)noSetFMUStatePriorToCurrentPoint;
    CHECK("fmi3CompletedIntegratorStep", FMU_ST_CONT);
    CHECK_ME("fmi3CompletedIntegratorStep");
    if (!enterEventMode || !terminateSimulation) {
        fmu_log(INST, FMU_ERROR, FMU_LOG_ERROR, "fmi3CompletedIntegratorStep: NULL argument");
        return fmi3Error;
    }
    *enterEventMode = false;
    *terminateSimulation = false;
    return fmi3OK;
}

fmi3Status fmi3SetTime(fmi3Instance instance, fmi3Float64 time)
{
    CHECK("fmi3SetTime", FMU_ST_EVENT | FMU_ST_CONT);
    CHECK_ME("fmi3SetTime");
    return (fmi3Status)fmu_set_time(INST, time);
}

fmi3Status fmi3SetContinuousStates(fmi3Instance instance, const fmi3Float64 continuousStates[],
                                   size_t nContinuousStates)
{
    CHECK("fmi3SetContinuousStates", FMU_ST_EVENT | FMU_ST_CONT);
    CHECK_ME("fmi3SetContinuousStates");
    return (fmi3Status)fmu_set_states(INST, continuousStates, nContinuousStates);
}

#define DERIVATIVE_STATES (FMU_ST_INIT | FMU_ST_EVENT | FMU_ST_CONT | FMU_ST_TERMINATED | FMU_ST_ERROR)

fmi3Status fmi3GetContinuousStateDerivatives(fmi3Instance instance, fmi3Float64 derivatives[],
                                             size_t nContinuousStates)
{
    CHECK("fmi3GetContinuousStateDerivatives", DERIVATIVE_STATES);
    CHECK_ME("fmi3GetContinuousStateDerivatives");
    return (fmi3Status)fmu_get_derivatives(INST, derivatives, nContinuousStates);
}

fmi3Status fmi3GetEventIndicators(fmi3Instance instance, fmi3Float64 eventIndicators[],
                                  size_t nEventIndicators)
{
    CHECK("fmi3GetEventIndicators", DERIVATIVE_STATES);
    CHECK_ME("fmi3GetEventIndicators");
    return (fmi3Status)fmu_get_event_indicators(INST, eventIndicators, nEventIndicators);
}

fmi3Status fmi3GetContinuousStates(fmi3Instance instance, fmi3Float64 continuousStates[],
                                   size_t nContinuousStates)
{
    CHECK("fmi3GetContinuousStates", FMU_ST_ANY);
    CHECK_ME("fmi3GetContinuousStates");
    return (fmi3Status)fmu_get_states(INST, continuousStates, nContinuousStates);
}

fmi3Status fmi3GetNominalsOfContinuousStates(fmi3Instance instance, fmi3Float64 nominals[],
                                             size_t nContinuousStates)
{
    CHECK("fmi3GetNominalsOfContinuousStates", FMU_ST_ANY);
    CHECK_ME("fmi3GetNominalsOfContinuousStates");
    return (fmi3Status)fmu_get_nominals(INST, nominals, nContinuousStates);
}

fmi3Status fmi3GetNumberOfEventIndicators(fmi3Instance instance, size_t *nEventIndicators)
{
    CHECK("fmi3GetNumberOfEventIndicators", FMU_ST_ANY);
    if (!nEventIndicators)
        return fmi3Error;
    *nEventIndicators = INST->model->n_event_indicators;
    return fmi3OK;
}

fmi3Status fmi3GetNumberOfContinuousStates(fmi3Instance instance, size_t *nContinuousStates)
{
    CHECK("fmi3GetNumberOfContinuousStates", FMU_ST_ANY);
    if (!nContinuousStates)
        return fmi3Error;
    *nContinuousStates = INST->model->n_states;
    return fmi3OK;
}

/* --- Co-Simulation ----------------------------------------------------- */

fmi3Status fmi3DoStep(fmi3Instance instance, fmi3Float64 currentCommunicationPoint,
                      fmi3Float64 communicationStepSize,
                      fmi3Boolean noSetFMUStatePriorToCurrentPoint,
                      fmi3Boolean *eventHandlingNeeded, fmi3Boolean *terminateSimulation,
                      fmi3Boolean *earlyReturn, fmi3Float64 *lastSuccessfulTime)
{
    bool terminate = false;
    fmu_status st;

    (void)noSetFMUStatePriorToCurrentPoint;
    CHECK("fmi3DoStep", FMU_ST_STEP);
    CHECK_CS("fmi3DoStep");
    if (!eventHandlingNeeded || !terminateSimulation || !earlyReturn || !lastSuccessfulTime) {
        fmu_log(INST, FMU_ERROR, FMU_LOG_ERROR, "fmi3DoStep: NULL argument");
        return fmi3Error;
    }
    st = fmu_do_step(INST, currentCommunicationPoint, communicationStepSize, &terminate);
    *eventHandlingNeeded = false;
    *terminateSimulation = terminate;
    *earlyReturn = false;
    *lastSuccessfulTime = INST->time;
    return (fmi3Status)st;
}
