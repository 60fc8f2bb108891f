/*
 * results.h - recording simulation results and streaming them to a file.
 *
 * A recorder samples a fixed list of variables from an instance at each
 * output time and writes them as it goes (memory does not grow with the
 * number of rows).
 *
 * CSV is the layout FMPy writes: a header row of double-quoted names, the
 * first being "time", then one row per sample; floats with up to 17
 * significant digits (round-trip exact), integers as integers, booleans as
 * 0/1, strings double-quoted with "" for an embedded quote.
 *
 * JSON is {"columns":["time",...],"rows":[[t,...],...]} with the same
 * values (non-finite floats as null, strings as JSON strings, binaries as
 * hex strings).
 *
 * Arrays (FMI 3) are recorded element-wise with names like "x[1]", "x[2]"
 * (1-based, as FMPy does).
 */
#ifndef FMUGW_FMI_RESULTS_H
#define FMUGW_FMI_RESULTS_H

#include "instance.h"
#include "model.h"

#include <stdio.h>

typedef enum { FMI_RESULT_CSV = 0, FMI_RESULT_JSON } fmi_result_format;

typedef struct fmi_recorder fmi_recorder;

/** Creates a recorder writing to `f` (borrowed; the caller closes it after
 *  fmi_recorder_finish()). `vars` are 0-based indices into
 *  model->variables. Writes the header at once. */
int fmi_recorder_new(fmi_recorder **out, const fmi_model *model, const int *vars, size_t n_vars,
                     fmi_result_format format, FILE *f);

/** Reads the recorded variables from `inst` and writes one row at time t. */
int fmi_recorder_sample(fmi_recorder *rec, fmi_instance *inst, double t);

/** Number of rows written so far. */
size_t fmi_recorder_rows(const fmi_recorder *rec);

/** Writes the trailer (JSON) and flushes. Returns FMUGW_EIO if any write
 *  failed. Does not free. */
int fmi_recorder_finish(fmi_recorder *rec);

void fmi_recorder_free(fmi_recorder *rec);

/** Writes the shortest decimal text that reads back as exactly `v` into
 *  buf (at least 32 bytes); returns its length. "nan", "inf", "-inf" for
 *  non-finite values. */
size_t fmi_format_double(char *buf, double v);

#endif
