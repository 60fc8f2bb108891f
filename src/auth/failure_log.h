/*
 * failure_log.h - what the guard does with failed authentications before
 * it writes anything: a per-address limit, and aggregation of repeated
 * failures into one audit row per address, reason and minute.
 *
 * A flood of requests with malformed or unknown keys used to write one
 * audit row each, thousands a second, slowing every tenant's writes. Now:
 *
 *   - Each address may fail anonymously (no known key) FAILURE_RATE_PER_S
 *     times a second with a burst of FAILURE_BURST (GCRA, auth/ratelimit.h).
 *     Past that those failures are answered 429 with Retry-After; requests
 *     with valid credentials from the same address are not affected.
 *   - Failures are grouped by (address, reason) in windows of
 *     FAILURE_WINDOW_MS. The first failure of a window is audited on its
 *     own (as before: "auth.failure" with its reason, route and request id);
 *     the rest are counted, and when the window has closed one summary row
 *     says how many there were ("count", "first_at", "last_at",
 *     "aggregated": true). Summaries are emitted by the next failure of any
 *     address after a window closed, at most every FAILURE_WINDOW_MS.
 *   - All audit rows of failures share one budget, FAILURE_AUDIT_PER_S with
 *     a burst of FAILURE_AUDIT_BURST: failures from many addresses cannot
 *     write faster than that either; what is over budget is added to the
 *     window's count and summarised.
 *   - The table holds at most `max_entries` (address, reason) windows;
 *     when it is full the oldest window is dropped and its count goes to
 *     one overflow summary (address "*").
 *
 * Counts of the last open windows are lost if the process stops (at most a
 * minute of repeated failures: the first of each window was written).
 * Thread-safe (one mutex; every call is short).
 */
#ifndef FMUGW_AUTH_FAILURE_LOG_H
#define FMUGW_AUTH_FAILURE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FAILURE_RATE_PER_S 5.0
#define FAILURE_BURST 20
#define FAILURE_WINDOW_MS 60000
#define FAILURE_AUDIT_PER_S 50.0
#define FAILURE_AUDIT_BURST 200
#define FAILURE_SUMMARIES_MAX 16 /* summaries handed out per call */

typedef struct failure_log failure_log;

/** A closed window with failures that were counted, not written. */
typedef struct {
    char ip[64];
    char reason[48];
    uint64_t count;      /* failures of the window not audited one by one */
    int64_t first_ms, last_ms;
} failure_summary;

/** What to do with one failure. */
typedef struct {
    bool throttled;      /* the address is over its failure limit: answer 429 */
    int64_t retry_after; /* seconds, when throttled */
    bool audit;          /* write this failure's own audit row */
    size_t n_summaries;  /* summaries[0..n) to write now */
    failure_summary summaries[FAILURE_SUMMARIES_MAX];
} failure_verdict;

int failure_log_new(failure_log **out, size_t max_entries);
void failure_log_free(failure_log *fl);

/** Notes one failure of `reason` from `ip` at `now_ms` (a wall clock in
 *  ms) and says what to do with it. Only `anonymous` failures (no known
 *  key: missing, malformed or unknown keys, bad signed URLs) count toward
 *  and are refused by the per-address limit; a known key's failures are
 *  bounded by its abuse lock (ratelimit.h) instead. */
void failure_log_note(failure_verdict *out, failure_log *fl, const char *ip, const char *reason, bool anonymous,
                      int64_t now_ms);

#endif
