/*
 * fmi2_exports.h - the FMI 2.0 functions an FMU built here exports, declared
 * once from the types in src/fmi/fmi2_abi.h with default visibility (FMUs are
 * compiled with -fvisibility=hidden). Included by fmus/common/fmi2.c and
 * fmus/hostile/hostile_fmu.c, which define them.
 */
#ifndef FMUGW_FMUS_FMI2_EXPORTS_H
#define FMUGW_FMUS_FMI2_EXPORTS_H

#include "fmi/fmi2_abi.h"

#define EXPORT __attribute__((visibility("default")))

EXPORT fmi2GetTypesPlatformTYPE fmi2GetTypesPlatform;
EXPORT fmi2GetVersionTYPE fmi2GetVersion;
EXPORT fmi2SetDebugLoggingTYPE fmi2SetDebugLogging;
EXPORT fmi2InstantiateTYPE fmi2Instantiate;
EXPORT fmi2FreeInstanceTYPE fmi2FreeInstance;
EXPORT fmi2SetupExperimentTYPE fmi2SetupExperiment;
EXPORT fmi2EnterInitializationModeTYPE fmi2EnterInitializationMode;
EXPORT fmi2ExitInitializationModeTYPE fmi2ExitInitializationMode;
EXPORT fmi2TerminateTYPE fmi2Terminate;
EXPORT fmi2ResetTYPE fmi2Reset;
EXPORT fmi2GetRealTYPE fmi2GetReal;
EXPORT fmi2GetIntegerTYPE fmi2GetInteger;
EXPORT fmi2GetBooleanTYPE fmi2GetBoolean;
EXPORT fmi2GetStringTYPE fmi2GetString;
EXPORT fmi2SetRealTYPE fmi2SetReal;
EXPORT fmi2SetIntegerTYPE fmi2SetInteger;
EXPORT fmi2SetBooleanTYPE fmi2SetBoolean;
EXPORT fmi2SetStringTYPE fmi2SetString;
EXPORT fmi2GetFMUstateTYPE fmi2GetFMUstate;
EXPORT fmi2SetFMUstateTYPE fmi2SetFMUstate;
EXPORT fmi2FreeFMUstateTYPE fmi2FreeFMUstate;
EXPORT fmi2SerializedFMUstateSizeTYPE fmi2SerializedFMUstateSize;
EXPORT fmi2SerializeFMUstateTYPE fmi2SerializeFMUstate;
EXPORT fmi2DeSerializeFMUstateTYPE fmi2DeSerializeFMUstate;
EXPORT fmi2GetDirectionalDerivativeTYPE fmi2GetDirectionalDerivative;
EXPORT fmi2EnterEventModeTYPE fmi2EnterEventMode;
EXPORT fmi2NewDiscreteStatesTYPE fmi2NewDiscreteStates;
EXPORT fmi2EnterContinuousTimeModeTYPE fmi2EnterContinuousTimeMode;
EXPORT fmi2CompletedIntegratorStepTYPE fmi2CompletedIntegratorStep;
EXPORT fmi2SetTimeTYPE fmi2SetTime;
EXPORT fmi2SetContinuousStatesTYPE fmi2SetContinuousStates;
EXPORT fmi2GetDerivativesTYPE fmi2GetDerivatives;
EXPORT fmi2GetEventIndicatorsTYPE fmi2GetEventIndicators;
EXPORT fmi2GetContinuousStatesTYPE fmi2GetContinuousStates;
EXPORT fmi2GetNominalsOfContinuousStatesTYPE fmi2GetNominalsOfContinuousStates;
EXPORT fmi2SetRealInputDerivativesTYPE fmi2SetRealInputDerivatives;
EXPORT fmi2GetRealOutputDerivativesTYPE fmi2GetRealOutputDerivatives;
EXPORT fmi2DoStepTYPE fmi2DoStep;
EXPORT fmi2CancelStepTYPE fmi2CancelStep;
EXPORT fmi2GetStatusTYPE fmi2GetStatus;
EXPORT fmi2GetRealStatusTYPE fmi2GetRealStatus;
EXPORT fmi2GetIntegerStatusTYPE fmi2GetIntegerStatus;
EXPORT fmi2GetBooleanStatusTYPE fmi2GetBooleanStatus;
EXPORT fmi2GetStringStatusTYPE fmi2GetStringStatus;

#endif
