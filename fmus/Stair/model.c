/*
 * Stair - a discrete counter: counter starts at 1 and is incremented by 1 at
 * each time event t = 1, 2, 3, ... The next event time is reported by every
 * event update. No continuous states, no event indicators.
 */
#include "fmu_model.h"

#include <math.h>

typedef struct {
    int32_t counter;  /* vr 1: output, discrete */
    double next_time; /* not a variable: time of the next increment */
    bool started;     /* not a variable: the initial update has run */
} stair;

static const fmu_var vars[] = {
    FMU_VAR_TIME(0),
    FMU_VAR(stair, counter, 1, "counter", FMU_I32, FMU_SET_INIT),
};

static int start(fmu_instance *inst, void *data)
{
    stair *m = data;

    (void)inst;
    m->counter = 1;
    m->next_time = 1.0;
    m->started = false;
    return 0;
}

static int calculate(fmu_instance *inst, void *data)
{
    (void)inst;
    (void)data;
    return 0;
}

static void event_update(fmu_instance *inst, void *data, fmu_event_result *ev)
{
    stair *m = data;
    double t = fmu_time(inst);
    double tol = 1e-10 * fmax(1.0, fabs(t));

    /* The first update (at the start time) schedules the first increment
     * at the next whole second after it. */
    if (!m->started) {
        m->next_time = floor(t + tol) + 1.0;
        m->started = true;
    }
    while (t + tol >= m->next_time) {
        m->counter++;
        m->next_time += 1.0;
        fmu_log(inst, FMU_OK, FMU_LOG_EVENTS, "counter = %d at t=%g", (int)m->counter, t);
    }
    ev->next_time_defined = true;
    ev->next_time = m->next_time;
}

const fmu_model fmu_model_def = {
    .name = "Stair",
    .token = "{3b2a6c1e-5d0f-4e8a-9c71-0d4a1f2e6b04}",
    .data_size = sizeof(stair),
    .vars = vars,
    .n_vars = sizeof vars / sizeof vars[0],
    .start = start,
    .calculate = calculate,
    .event_update = event_update,
};
