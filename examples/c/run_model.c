/*
 * run_model.c - libfmugw in one page: upload an FMU (skipped when the
 * gateway already has it), simulate it, wait, and print the last row of
 * the results. Configuration as for the fmugw CLI: FMUGW_BASE_URL and
 * FMUGW_API_KEY, or ~/.fmu_gateway/config.
 *
 *     run_model MODEL.fmu [STOP_TIME]
 */
#include <stdio.h>
#include <stdlib.h>

#include <fmugw.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL.fmu [STOP_TIME]\n", argv[0]);
        return 2;
    }
    fmugw_client *c = NULL;
    fmugw_table *t = NULL;
    int rc = fmugw_client_new(&c, NULL);
    if (rc)
        goto out;

    fmugw_fmu_ref fmu;
    if ((rc = fmugw_fmu_upload(&fmu, c, argv[1], NULL)))
        goto out;
    printf("FMU %s (%s)\n", fmu.id, fmu.existing ? "already on the gateway" : "uploaded");

    fmugw_execute_options opts = FMUGW_EXECUTE_OPTIONS_INIT;
    opts.stop_time = argc > 2 ? atof(argv[2]) : 3.0;
    fmugw_job_ref job;
    if ((rc = fmugw_job_execute(&job, c, fmu.id, &opts)))
        goto out;

    fmugw_job_status st;
    if ((rc = fmugw_job_wait(&st, c, job.id, 300, NULL, NULL)))
        goto out;
    printf("job %s %s, %g credits\n", job.id, st.status, st.credits_charged);

    if ((rc = fmugw_job_results_table(&t, c, job.id)))
        goto out;
    printf("%zu rows; last:", t->nrows);
    for (size_t i = 0; i < t->ncols && t->nrows; i++)
        printf(" %s=%g", t->names[i], t->values[(t->nrows - 1) * t->ncols + i]);
    printf("\n");
out:
    if (rc)
        fprintf(stderr, "run_model: %s (%s)\n", fmugw_client_error_last(), fmugw_client_error_name(rc));
    fmugw_table_free(t);
    fmugw_client_free(c);
    return rc ? 1 : 0;
}
