/* fmu.c - open an FMU: safe extraction into a temporary directory, then
 * parsing of modelDescription.xml (see fmu.h). */
#include "fmu.h"

#include "archive.h"
#include "util/error.h"
#include "util/fsutil.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Parses dir/modelDescription.xml and finds dir/resources. `name` is what
 * messages call the FMU. */
static int load(fmi_fmu *fmu, const char *name)
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

int fmi_fmu_open(fmi_fmu **out, const char *path)
{
    int rc;
    struct stat st;
    fmi_fmu *fmu = calloc(1, sizeof *fmu);
    if (!fmu || !(fmu->path = strdup(path))) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    if (stat(path, &st) != 0) {
        rc = fmugw_error_set(FMUGW_ENOTFOUND, "%s: no such file", path);
        goto out;
    }
    if ((rc = fmi_archive_extract_temp(&fmu->dir, path, NULL))) {
        rc = fmugw_error_set(rc, "%s: %s", path, fmugw_error_last());
        goto out;
    }
    fmu->owns_dir = true;
    if ((rc = load(fmu, path)))
        goto out;
    *out = fmu;
    fmu = NULL;
out:
    fmi_fmu_close(fmu);
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
    if ((rc = load(fmu, "FMU")))
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
