/*
 * fmu.h - an FMU opened for use: extracted into a private temporary
 * directory (archive.h) and its model description parsed (model.h).
 *
 * fmi_fmu_close() removes the extracted files. The model and paths are
 * owned by the fmi_fmu.
 */
#ifndef FMUGW_FMI_FMU_H
#define FMUGW_FMI_FMU_H

#include "model.h"

#include <stdbool.h>

typedef struct {
    char *path;         /* the .fmu file as given (NULL for fmi_fmu_open_dir) */
    char *dir;          /* extraction directory */
    bool owns_dir;      /* remove dir on close */
    char *resource_dir; /* dir/resources if it exists, else NULL */
    fmi_model *model;
} fmi_fmu;

/** Extracts and parses `path`. Errors carry the FMU path in the message. */
int fmi_fmu_open(fmi_fmu **out, const char *path);

/** Uses an FMU already extracted into `dir` (parses it only; the
 *  directory is left in place on close). */
int fmi_fmu_open_dir(fmi_fmu **out, const char *dir);

/** Removes the extracted files and frees everything. Accepts NULL. */
void fmi_fmu_close(fmi_fmu *fmu);

#endif
