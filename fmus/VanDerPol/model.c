/*
 * VanDerPol - the Van der Pol oscillator:
 *   der(x0) = x1
 *   der(x1) = mu * (1 - x0^2) * x1 - x0
 * with x0(0) = 2, x1(0) = 0. Two continuous states, no events.
 */
#include "fmu_model.h"

typedef struct {
    double x0;     /* vr 1 */
    double der_x0; /* vr 2 */
    double x1;     /* vr 3 */
    double der_x1; /* vr 4 */
    double mu;     /* vr 5 */
} vanderpol;

static const fmu_var vars[] = {
    FMU_VAR_TIME(0),
    FMU_VAR(vanderpol, x0, 1, "x0", FMU_F64, FMU_SET_INIT),
    FMU_VAR(vanderpol, der_x0, 2, "der(x0)", FMU_F64, FMU_SET_NEVER),
    FMU_VAR(vanderpol, x1, 3, "x1", FMU_F64, FMU_SET_INIT),
    FMU_VAR(vanderpol, der_x1, 4, "der(x1)", FMU_F64, FMU_SET_NEVER),
    FMU_VAR(vanderpol, mu, 5, "mu", FMU_F64, FMU_SET_INIT),
};

static const uint32_t states[] = { 1, 3 };
static const uint32_t derivatives[] = { 2, 4 };

static int start(fmu_instance *inst, void *data)
{
    vanderpol *m = data;

    (void)inst;
    m->x0 = 2.0;
    m->x1 = 0.0;
    m->mu = 1.0;
    return 0;
}

static int calculate(fmu_instance *inst, void *data)
{
    vanderpol *m = data;

    (void)inst;
    m->der_x0 = m->x1;
    m->der_x1 = m->mu * (1.0 - m->x0 * m->x0) * m->x1 - m->x0;
    return 0;
}

const fmu_model fmu_model_def = {
    .name = "VanDerPol",
    .token = "{3b2a6c1e-5d0f-4e8a-9c71-0d4a1f2e6b03}",
    .data_size = sizeof(vanderpol),
    .vars = vars,
    .n_vars = sizeof vars / sizeof vars[0],
    .state_vrs = states,
    .der_vrs = derivatives,
    .n_states = 2,
    .start = start,
    .calculate = calculate,
};
