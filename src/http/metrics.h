/*
 * metrics.h - a thread-safe registry of counters, gauges and histograms,
 * rendered in the Prometheus text exposition format 0.0.4.
 *
 * A metric family is declared once (name, help, type, histogram buckets);
 * its series are then addressed by label pairs given as a NULL-terminated
 * array {"key", "value", ..., NULL} (NULL or {NULL} for no labels). Label
 * values are escaped on output; keys must be valid Prometheus label names.
 * One mutex guards the registry: updates are a lock, a short linear lookup
 * and an add, fine for the few hundred series an HTTP server has.
 *
 * Ownership: the registry owns everything it stores and copies every string
 * it is given. metrics_free(NULL) is a no-op.
 */
#ifndef FMUGW_HTTP_METRICS_H
#define FMUGW_HTTP_METRICS_H

#include <stddef.h>

typedef struct metrics metrics;

typedef enum metrics_type {
    METRICS_COUNTER,
    METRICS_GAUGE,
    METRICS_HISTOGRAM
} metrics_type;

/** The default latency buckets in seconds (5 ms .. 10 s), count in *n. */
const double *metrics_default_buckets(size_t *n);

/** Creates an empty registry; the caller frees it with metrics_free(). */
int metrics_new(metrics **out);

/** Frees the registry and all its series. */
void metrics_free(metrics *m);

/** Declares a family. `buckets` (strictly increasing upper bounds, +Inf
 *  implied) is used for histograms only; NULL means the default buckets.
 *  Declaring an existing name again with the same type is a no-op;
 *  with another type it is FMUGW_EEXISTS. FMUGW_EINVALID for a bad name. */
int metrics_register(metrics *m, const char *name, const char *help,
                     metrics_type type, const double *buckets, size_t nbuckets);

/** Adds `v` (>= 0) to a counter series, creating the series at 0 first.
 *  FMUGW_ENOTFOUND if the family was not declared, FMUGW_EINVALID if it is
 *  not a counter or v < 0. */
int metrics_counter_add(metrics *m, const char *name, const char *const *labels,
                        double v);

/** Sets (add == 0) or adds to (add != 0) a gauge series. */
int metrics_gauge_set(metrics *m, const char *name, const char *const *labels,
                      double v, int add);

/** Records one observation in a histogram series. */
int metrics_histogram_observe(metrics *m, const char *name,
                              const char *const *labels, double v);

/** Reads the current value of a counter or gauge series (for tests and
 *  readiness checks); FMUGW_ENOTFOUND if the series does not exist. For a
 *  histogram, *out is the observation count. */
int metrics_value(double *out, metrics *m, const char *name,
                  const char *const *labels);

/** Renders the whole registry as Prometheus text into a malloc'd,
 *  NUL-terminated buffer that the caller frees; *len gets its length
 *  (len may be NULL). */
int metrics_render(char **out, size_t *len, metrics *m);

#endif
