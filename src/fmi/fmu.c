/* fmu.c - open an unpacked FMU: parsing of modelDescription.xml (see
 * fmu.h). Opening an FMU archive (extraction first) is in fmu_archive.c, so
 * that fmugw-runner, which only opens directories, does not link libzip. */
#include "fmu.h"

#include "fmu_internal.h"
#include "util/error.h"
#include "util/fsutil.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int fmi__fmu_load(fmi_fmu *fmu, const char *name)
{
    int rc = 0;
    struct stat st;
    char *xml = fmugw_path_join(fmu->dir, "modelDescription.xml");
    if (!xml) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    if (stat(xml, &st) != 0) {
        rc = fmugw_error_set(FMUGW_EINVALID, "%s: the FMU has no modelDescription.xml", name);
        goto out;
    }
    if ((rc = fmi_model_parse(&fmu->model, xml))) {
        rc = fmugw_error_set(rc, "%s: %s", name, fmugw_error_last());
        goto out;
    }
    char *res = fmugw_path_join(fmu->dir, "resources");
    if (res && stat(res, &st) == 0 && S_ISDIR(st.st_mode))
        fmu->resource_dir = res;
    else
        free(res);
out:
    free(xml);
    return rc;
}

int fmi_fmu_open_dir(fmi_fmu **out, const char *dir)
{
    int rc;
    fmi_fmu *fmu = calloc(1, sizeof *fmu);
    if (!fmu || !(fmu->dir = strdup(dir))) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = fmi__fmu_load(fmu, "FMU")))
        goto out;
    *out = fmu;
    fmu = NULL;
out:
    fmi_fmu_close(fmu);
    return rc;
}

void fmi_fmu_close(fmi_fmu *fmu)
{
    if (!fmu)
        return;
    if (fmu->dir && fmu->owns_dir)
        fmugw_rmtree(fmu->dir);
    fmi_model_free(fmu->model);
    free(fmu->resource_dir);
    free(fmu->dir);
    free(fmu->path);
    free(fmu);
}
