/*
 * fmu_internal.h - what fmu.c (directories) shares with fmu_archive.c
 * (archives). Not a public interface.
 */
#ifndef FMUGW_FMI_FMU_INTERNAL_H
#define FMUGW_FMI_FMU_INTERNAL_H

#include "fmu.h"

/** Parses fmu->dir/modelDescription.xml into fmu->model and sets
 *  fmu->resource_dir when fmu->dir/resources exists. `name` is what the
 *  messages call the FMU. 0 or FMUGW_E*. */
int fmi__fmu_load(fmi_fmu *fmu, const char *name);

#endif
