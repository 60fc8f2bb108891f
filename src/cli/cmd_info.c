/* cmd_info.c - `fmugw info`: a readable summary of an FMU (version,
 * interfaces, default experiment, platforms, variables). */
#include "cli.h"

#include "fmi/fmu.h"
#include "util/error.h"
#include "util/fsutil.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void print_field(const char *name, const char *value)
{
    if (value && *value)
        printf("  %-22s %s\n", name, value);
}

static void print_platforms(const char *dir)
{
    char *bin = fmugw_path_join(dir, "binaries");
    DIR *d = bin ? opendir(bin) : NULL;
    printf("  %-22s", "Platforms");
    int n = 0;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (e->d_name[0] != '.') {
                printf(" %s", e->d_name);
                n++;
            }
        closedir(d);
    }
    printf("%s\n", n ? "" : " none");
    free(bin);
}

/* The variable's unit, or its declared type's. */
static const char *unit_of(const fmi_model *m, const fmi_variable *v)
{
    if (v->unit)
        return v->unit;
    for (size_t i = 0; v->declared_type && i < m->n_type_defs; i++)
        if (m->type_defs[i].name && !strcmp(m->type_defs[i].name, v->declared_type))
            return m->type_defs[i].unit ? m->type_defs[i].unit : "";
    return "";
}

int cli_info(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        puts("usage: fmugw info MODEL.fmu        (local file)\n       fmugw info ID [--json] [--profile NAME]  (an FMU on the gateway)");
        return CLI_OK;
    }
    /* An argument that is not an existing file (or that comes with gateway
     * options) is an FMU id on the gateway. */
    struct stat st;
    if (argc >= 2 && argv[1][0] != '-' && stat(argv[1], &st) != 0 && !strstr(argv[1], ".fmu"))
        return cli_info_remote(argc, argv);
    if (argc > 2 && stat(argv[argc - 1], &st) != 0)
        return cli_info_remote(argc, argv);
    if (argc != 2 || argv[1][0] == '-') {
        cli_error("usage: fmugw info MODEL.fmu|ID");
        return CLI_USAGE;
    }
    fmi_fmu *fmu;
    if (fmi_fmu_open(&fmu, argv[1])) {
        cli_error("%s", fmugw_error_last());
        return CLI_FAILED;
    }
    const fmi_model *m = fmu->model;
    printf("Model Info\n\n");
    print_field("FMI Version", m->fmi_version);
    print_field("Model Name", m->model_name);
    print_field("Description", m->description);
    print_field("Instantiation Token", m->instantiation_token);
    print_field("Generation Tool", m->generation_tool);
    print_field("Generation Date", m->generation_date_time);
    print_field("Author", m->author);
    print_field("Version", m->model_version);
    printf("  %-22s", "Interfaces");
    for (int i = FMI_CS; i <= FMI_SE; i++)
        if (m->interfaces[i].present)
            printf(" %s", fmi_interface_name((fmi_interface)i));
    printf("\n");
    print_platforms(fmu->dir);
    size_t n_states = m->n_derivatives;
    size_t n_ev = m->version == FMI_VERSION_2 ? m->number_of_event_indicators : m->n_event_indicators;
    printf("  %-22s %zu\n", "Continuous States", n_states);
    printf("  %-22s %zu\n", "Event Indicators", n_ev);
    printf("  %-22s %zu\n", "Variables", m->n_variables);

    const fmi_default_experiment *de = &m->default_experiment;
    printf("\nDefault Experiment\n\n");
    if (de->has_start_time)
        printf("  %-22s %g\n", "Start Time", de->start_time);
    if (de->has_stop_time)
        printf("  %-22s %g\n", "Stop Time", de->stop_time);
    if (de->has_tolerance)
        printf("  %-22s %g\n", "Tolerance", de->tolerance);
    if (de->has_step_size)
        printf("  %-22s %g\n", "Step Size", de->step_size);

    printf("\nVariables (input, output, parameters)\n\n");
    printf("  %-28s %-10s %-10s %-11s %-14s %-8s %s\n", "Name", "Causality", "Type", "Variability", "Start", "Unit",
           "Description");
    for (size_t i = 0; i < m->n_variables; i++) {
        const fmi_variable *v = &m->variables[i];
        if (v->causality == FMI_CAUSALITY_LOCAL || v->causality == FMI_CAUSALITY_INDEPENDENT)
            continue;
        printf("  %-28s %-10s %-10s %-11s %-14s %-8s %s\n", v->name, fmi_causality_name(v->causality),
               fmi_type_name(m->version, v->type), fmi_variability_name(v->variability), v->start ? v->start : "",
               unit_of(m, v), v->description ? v->description : "");
    }
    fmi_fmu_close(fmu);
    return CLI_OK;
}
