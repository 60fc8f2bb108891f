/* fmu.c - open an FMU: safe extraction into a temporary directory, then
 * parsing of modelDescription.xml (see fmu.h). */
#include "fmu.h"

#include "archive.h"
#include "util/error.h"
#include "util/fsutil.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int fmi_fmu_open(fmi_fmu **out, const char *path)
{
    int rc;
    char *xml = NULL;
    fmi_fmu *fmu = calloc(1, sizeof *fmu);
    if (!fmu || !(fmu->path = strdup(path))) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        rc = fmugw_error_set(FMUGW_ENOTFOUND, "%s: no such file", path);
        goto out;
    }
    if ((rc = fmi_archive_extract_temp(&fmu->dir, path, NULL))) {
        rc = fmugw_error_set(rc, "%s: %s", path, fmugw_error_last());
        goto out;
    }
    if (!(xml = fmugw_path_join(fmu->dir, "modelDescription.xml"))) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    if (stat(xml, &st) != 0) {
        rc = fmugw_error_set(FMUGW_EINVALID, "%s: the FMU has no modelDescription.xml", path);
        goto out;
    }
    if ((rc = fmi_model_parse(&fmu->model, xml))) {
        rc = fmugw_error_set(rc, "%s: %s", path, fmugw_error_last());
        goto out;
    }
    char *res = fmugw_path_join(fmu->dir, "resources");
    if (res && stat(res, &st) == 0 && S_ISDIR(st.st_mode))
        fmu->resource_dir = res;
    else
        free(res);
    *out = fmu;
    fmu = NULL;
out:
    free(xml);
    fmi_fmu_close(fmu);
    return rc;
}

void fmi_fmu_close(fmi_fmu *fmu)
{
    if (!fmu)
        return;
    if (fmu->dir)
        fmugw_rmtree(fmu->dir);
    fmi_model_free(fmu->model);
    free(fmu->resource_dir);
    free(fmu->dir);
    free(fmu->path);
    free(fmu);
}
