/* run.c - one simulation job end to end (see run.h). */
#include "run.h"

#include "util/error.h"

#include <stdlib.h>

/* The variables to record: the named ones, all, or (default) the outputs. */
static int select_outputs(const fmi_model *m, const fmi_sim_args *a, int **out, size_t *n_out)
{
    int *vars = malloc((m->n_variables + a->n_output_variables + 1) * sizeof *vars);
    size_t n = 0;
    if (!vars)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    for (size_t i = 0; i < a->n_output_variables; i++) {
        int idx = fmi_model_find(m, a->output_variables[i]);
        if (idx < 0) {
            free(vars);
            return fmugw_error_set(FMUGW_EINVALID, "--output-variable: the FMU has no variable \"%s\"",
                                   a->output_variables[i]);
        }
        vars[n++] = idx;
    }
    if (!a->n_output_variables)
        for (size_t i = 0; i < m->n_variables; i++) {
            const fmi_variable *v = &m->variables[i];
            if (v->type == FMI_CLOCK || v->causality == FMI_CAUSALITY_INDEPENDENT) /* time is always first */
                continue;
            if (a->output_all || v->causality == FMI_CAUSALITY_OUTPUT)
                vars[n++] = (int)i;
        }
    *out = vars;
    *n_out = n;
    return 0;
}

int fmi_run(const fmi_sim_args *a, const fmi_fmu *fmu, FILE *out, fmi_log_fn log, fmi_call_log_fn call_log,
            void *ctx, fmi_run_result *result)
{
    int rc;
    const fmi_model *m = fmu->model;
    fmi_sim_options so = a->sim;
    fmi_inputs *inputs = NULL;
    fmi_binary *bin = NULL;
    fmi_recorder *rec = NULL;
    int *vars = NULL;
    size_t n_vars = 0;

    if (!a->iface_given && !m->interfaces[FMI_CS].present)
        so.iface = FMI_ME;
    if (!m->interfaces[so.iface].present) {
        rc = fmugw_error_set(FMUGW_EUNSUPPORTED, "the FMU does not support %s", fmi_interface_name(so.iface));
        goto out;
    }
    if (a->input_path && (rc = fmi_inputs_load_csv(&inputs, a->input_path, m)))
        goto out;
    if ((rc = select_outputs(m, a, &vars, &n_vars)))
        goto out;
    if ((rc = fmi_binary_open(&bin, m, fmu->dir, so.iface)))
        goto out;
    if ((rc = fmi_recorder_new(&rec, m, vars, n_vars, a->format, out)))
        goto out;
    so.inputs = inputs;
    so.resource_dir = fmu->resource_dir;
    so.log = log;
    so.call_log = a->log_fmi_calls ? call_log : NULL;
    so.log_ctx = ctx;
    rc = fmi_simulate(m, bin, &so, rec, &result->stats);
    int frc = fmi_recorder_finish(rec);
    if (!rc)
        rc = frc;
    result->rows = fmi_recorder_rows(rec);
out:
    fmi_recorder_free(rec);
    fmi_binary_close(bin);
    fmi_inputs_free(inputs);
    free(vars);
    return rc;
}
