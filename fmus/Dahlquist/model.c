/*
 * Dahlquist - the test equation der(x) = -k * x, x(0) = 1, so that
 * x(t) = exp(-k t). One continuous state, no events.
 */
#include "fmu_model.h"

typedef struct {
    double x;     /* vr 1: output, continuous state */
    double der_x; /* vr 2: local, der(x) */
    double k;     /* vr 3: parameter, fixed */
} dahlquist;

static const fmu_var vars[] = {
    FMU_VAR_TIME(0),
    FMU_VAR(dahlquist, x, 1, "x", FMU_F64, FMU_SET_INIT),
    FMU_VAR(dahlquist, der_x, 2, "der(x)", FMU_F64, FMU_SET_NEVER),
    FMU_VAR(dahlquist, k, 3, "k", FMU_F64, FMU_SET_INIT),
};

static const uint32_t states[] = { 1 };
static const uint32_t derivatives[] = { 2 };

static int start(fmu_instance *inst, void *data)
{
    dahlquist *m = data;

    (void)inst;
    m->x = 1.0;
    m->k = 1.0;
    return 0;
}

static int calculate(fmu_instance *inst, void *data)
{
    dahlquist *m = data;

    (void)inst;
    m->der_x = -m->k * m->x;
    return 0;
}

const fmu_model fmu_model_def = {
    .name = "Dahlquist",
    .token = "{3b2a6c1e-5d0f-4e8a-9c71-0d4a1f2e6b01}",
    .data_size = sizeof(dahlquist),
    .vars = vars,
    .n_vars = sizeof vars / sizeof vars[0],
    .state_vrs = states,
    .der_vrs = derivatives,
    .n_states = 1,
    .start = start,
    .calculate = calculate,
};
