/*
 * Resource - reads resources/y.txt (one character) at instantiation and
 * outputs its character code as Int32 y. Instantiation fails, with a logged
 * error, when the file cannot be read.
 */
#include "fmu_model.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    int32_t y; /* vr 1: output */
} resource;

static const fmu_var vars[] = {
    FMU_VAR_TIME(0),
    FMU_VAR(resource, y, 1, "y", FMU_I32, FMU_SET_NEVER),
};

static int start(fmu_instance *inst, void *data)
{
    (void)inst;
    (void)data;
    return 0;
}

static int setup(fmu_instance *inst, void *data)
{
    resource *m = data;
    const char *dir = fmu_resource_dir(inst);
    char path[PATH_MAX];
    FILE *f;
    int ch;

    if (!dir) {
        fmu_log(inst, FMU_ERROR, FMU_LOG_ERROR, "no resource location given: cannot read y.txt");
        return -1;
    }
    if (snprintf(path, sizeof path, "%sy.txt", dir) >= (int)sizeof path) {
        fmu_log(inst, FMU_ERROR, FMU_LOG_ERROR, "resource path too long");
        return -1;
    }
    f = fopen(path, "rb");
    if (!f) {
        fmu_log(inst, FMU_ERROR, FMU_LOG_ERROR, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    ch = fgetc(f);
    fclose(f);
    if (ch == EOF) {
        fmu_log(inst, FMU_ERROR, FMU_LOG_ERROR, "%s is empty", path);
        return -1;
    }
    m->y = ch;
    fmu_log(inst, FMU_OK, FMU_LOG_EVENTS, "read '%c' (%d) from %s", ch, ch, path);
    return 0;
}

static int calculate(fmu_instance *inst, void *data)
{
    (void)inst;
    (void)data;
    return 0;
}

const fmu_model fmu_model_def = {
    .name = "Resource",
    .token = "{3b2a6c1e-5d0f-4e8a-9c71-0d4a1f2e6b06}",
    .data_size = sizeof(resource),
    .vars = vars,
    .n_vars = sizeof vars / sizeof vars[0],
    .start = start,
    .setup = setup,
    .calculate = calculate,
};
