/*
 * fmugw.h - libfmugw, the C client of FMU Gateway: include this one
 * header. One header per noun lives in fmugw/ (client, fmu, job, account,
 * errors). Ownership: what comes back through an `out` pointer is the
 * caller's (see fmugw/common.h); returned const pointers are borrowed.
 *
 *     fmugw_client *c;
 *     if (fmugw_client_new(&c, NULL) == 0) { ... fmugw_client_free(c); }
 */
#ifndef FMUGW_PUBLIC_H
#define FMUGW_PUBLIC_H

#include "fmugw/common.h"
#include "fmugw/errors.h"
#include "fmugw/client.h"
#include "fmugw/fmu.h"
#include "fmugw/job.h"
#include "fmugw/account.h"

#endif
