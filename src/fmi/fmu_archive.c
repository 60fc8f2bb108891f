/* fmu_archive.c - fmi_fmu_open(): an FMU archive, extracted safely into a
 * temporary directory (archive.c), then loaded like a directory (fmu.c).
 * Apart from fmu.c so that programs that only open directories (the
 * runner) do not pull libzip in. */
#include "fmu.h"

#include "archive.h"
#include "fmu_internal.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
    if ((rc = fmi__fmu_load(fmu, path)))
        goto out;
    *out = fmu;
    fmu = NULL;
out:
    fmi_fmu_close(fmu);
    return rc;
}
