/*
 * BouncingBall - a ball falling under gravity and bouncing on the floor:
 *   der(h) = v, der(v) = g
 * The event indicator is z = h; when h reaches 0 while the ball falls, the
 * event update sets h = 0 and v = -e * v. When the rebound speed is below
 * v_min the ball stays on the floor for good (h = 0, v = 0, der(v) = 0).
 */
#include "fmu_model.h"

typedef struct {
    double h;     /* vr 1: height (m), output state */
    double der_h; /* vr 2 */
    double v;     /* vr 3: velocity (m/s), output state */
    double der_v; /* vr 4 */
    double g;     /* vr 5: gravity (m/s2), fixed parameter */
    double e;     /* vr 6: coefficient of restitution, tunable parameter */
    double v_min; /* vr 7: smallest rebound speed, constant */
    bool resting; /* not a variable: the ball has come to rest */
} bouncing_ball;

static const fmu_var vars[] = {
    FMU_VAR_TIME(0),
    FMU_VAR(bouncing_ball, h, 1, "h", FMU_F64, FMU_SET_INIT),
    FMU_VAR(bouncing_ball, der_h, 2, "der(h)", FMU_F64, FMU_SET_NEVER),
    FMU_VAR(bouncing_ball, v, 3, "v", FMU_F64, FMU_SET_INIT),
    FMU_VAR(bouncing_ball, der_v, 4, "der(v)", FMU_F64, FMU_SET_NEVER),
    FMU_VAR(bouncing_ball, g, 5, "g", FMU_F64, FMU_SET_INIT),
    FMU_VAR(bouncing_ball, e, 6, "e", FMU_F64, FMU_SET_TUNABLE),
    FMU_VAR(bouncing_ball, v_min, 7, "v_min", FMU_F64, FMU_SET_NEVER),
};

static const uint32_t states[] = { 1, 3 };
static const uint32_t derivatives[] = { 2, 4 };

static int start(fmu_instance *inst, void *data)
{
    bouncing_ball *m = data;

    (void)inst;
    m->h = 1.0;
    m->v = 0.0;
    m->g = -9.81;
    m->e = 0.7;
    m->v_min = 0.1;
    m->resting = false;
    return 0;
}

static int calculate(fmu_instance *inst, void *data)
{
    bouncing_ball *m = data;

    (void)inst;
    m->der_h = m->v;
    m->der_v = m->resting ? 0.0 : m->g;
    return 0;
}

static void event_indicators(fmu_instance *inst, void *data, double *z)
{
    bouncing_ball *m = data;

    (void)inst;
    z[0] = m->h;
}

static void event_update(fmu_instance *inst, void *data, fmu_event_result *ev)
{
    bouncing_ball *m = data;

    if (m->resting || m->h > 0 || m->v >= 0)
        return; /* not falling through the floor: nothing to do */
    m->h = 0.0;
    m->v = -m->e * m->v;
    if (m->v < m->v_min) {
        m->v = 0.0;
        m->resting = true;
        fmu_log(inst, FMU_OK, FMU_LOG_EVENTS, "ball comes to rest at t=%g", fmu_time(inst));
    } else {
        fmu_log(inst, FMU_OK, FMU_LOG_EVENTS, "bounce at t=%g, v=%g", fmu_time(inst), m->v);
    }
    ev->states_changed = true;
}

const fmu_model fmu_model_def = {
    .name = "BouncingBall",
    .token = "{3b2a6c1e-5d0f-4e8a-9c71-0d4a1f2e6b02}",
    .data_size = sizeof(bouncing_ball),
    .vars = vars,
    .n_vars = sizeof vars / sizeof vars[0],
    .state_vrs = states,
    .der_vrs = derivatives,
    .n_states = 2,
    .n_event_indicators = 1,
    .start = start,
    .calculate = calculate,
    .event_indicators = event_indicators,
    .event_update = event_update,
};
