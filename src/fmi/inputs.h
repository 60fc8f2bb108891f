/*
 * inputs.h - input signals read from CSV and applied to an FMU over time.
 *
 * File layout: a header row with the time column first, then one column per
 * input variable named as in the model description (quoted or not); then
 * rows of numbers (booleans as 0/1 or true/false). Time must not decrease.
 * A time stamp that appears twice marks an event: before it the first row's
 * values hold, from it on the second row's.
 *
 * Continuous (float, variability continuous) inputs are interpolated
 * linearly between rows; all others (discrete, integer, boolean) are held
 * from the last row at or before t. Before the first row the first row's
 * values hold; after the last row the last row's values hold.
 *
 * The signals own their data; free with fmi_inputs_free().
 */
#ifndef FMUGW_FMI_INPUTS_H
#define FMUGW_FMI_INPUTS_H

#include "instance.h"
#include "model.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct fmi_inputs fmi_inputs;

#define FMI_INPUTS_CSV_CAP ((size_t)256 << 20)

/** Reads `path` and maps its columns to the model's variables. A column
 *  naming an unknown variable, a variable that is not an input (or a
 *  tunable parameter), a malformed number or decreasing time is an error
 *  naming the line and column. */
int fmi_inputs_load_csv(fmi_inputs **out, const char *path, const fmi_model *model);

/** Same from an in-memory CSV text (NUL-terminated). */
int fmi_inputs_parse_csv(fmi_inputs **out, const char *text, const fmi_model *model);

void fmi_inputs_free(fmi_inputs *in);

/** Number of signals (columns after time) and rows. */
size_t fmi_inputs_n_signals(const fmi_inputs *in);
size_t fmi_inputs_n_rows(const fmi_inputs *in);

/** Sets every input at time t. With `after_event` true, a time stamp that
 *  appears twice takes the later row (the value after the event). If
 *  `continuous_only` is set, only the interpolated (continuous) inputs are
 *  set: that is what a solver does between events. */
int fmi_inputs_apply(const fmi_inputs *in, fmi_instance *inst, double t, bool after_event, bool continuous_only);

/** The value of signal `i` at time `t` (after events at t when
 *  `after_event`), for tests. */
double fmi_inputs_value(const fmi_inputs *in, size_t i, double t, bool after_event);

/** The first time strictly after `t` at which a discrete input changes value
 *  or a time stamp repeats (a time event for the simulator); INFINITY if
 *  none. */
double fmi_inputs_next_event(const fmi_inputs *in, double t);

#endif
