/*
 * pricing.h - tiers and the cost model, loaded from pricing.json (the file
 * at the repository root is the default; config key `pricing_path`).
 *
 * A job's cost in millicredits is
 *
 *   base(size class, runtime class)
 *   + cpu_ms * credits_per_cpu_second / 1000
 *   + peak_rss_gib * wall_s * credits_per_gib_second
 *   + long-simulation surcharge (percent, above a wall-time threshold)
 *   + premium-model surcharge (percent, for FMUs flagged premium)
 *   then the tier's bulk discount (percent, above a monthly usage threshold)
 *
 * rounded up to a whole millicredit. The worst case (the reservation at
 * admission) is the same formula at the tier's (or job's) limits: max job
 * time as CPU and wall time, the memory limit as peak memory. A reused
 * result (identical request) costs `reuse_cost` instead. docs/pricing.md
 * explains the model with worked examples; those examples are unit tests.
 *
 * Ownership: pricing_load() returns a table the caller frees with
 * pricing_free(); tier pointers are borrowed from it.
 */
#ifndef FMUGW_LEDGER_PRICING_H
#define FMUGW_LEDGER_PRICING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char *name;                  /* "free", "pro", "enterprise" */
    int64_t price_usd_micro;     /* monthly price; -1 = custom */
    int64_t monthly_credits;     /* millicredits granted each billing cycle */
    int64_t overage_usd_micro_per_credit; /* -1 = no overage (hard limit: 402) */
    int64_t list_overage_usd_micro_per_credit; /* the published rate, also for a
                                  hard-limited tier (prices what an upgrade
                                  would cost; -1 if none) */
    double rate_per_s;           /* API requests per second per account (all its keys) */
    double burst;
    unsigned max_concurrent_jobs;
    double max_job_seconds;      /* wall-clock cap of one job */
    uint64_t max_memory_bytes;   /* sandbox memory limit of one job */
    uint64_t max_fmu_bytes;
    unsigned retention_days;     /* results kept this long */
    unsigned max_api_keys;       /* API keys an account may hold that are not revoked */
    double bulk_discount_percent;
    int64_t bulk_threshold;      /* millicredits used this cycle before the discount applies */
} pricing_tier;

typedef struct pricing pricing;

__extension__ typedef unsigned __int128 pricing_byte_ms; /* bytes x milliseconds */

/** What the sandbox metered (sandbox_report) plus what the request was. */
typedef struct {
    uint64_t fmu_bytes;     /* size class */
    double stop_minus_start; /* simulated span, for the runtime class */
    uint64_t cpu_ms;
    uint64_t wall_ms;
    uint64_t peak_rss_kb;
    uint64_t output_bytes;
    bool premium;
    bool reused;            /* served from a stored result */
    int64_t cycle_usage;    /* millicredits already used this cycle (bulk discount) */
} pricing_usage;

/** Loads and validates `path` (unknown keys, missing tiers, negative
 *  prices: FMUGW_EINVALID naming the key). */
int pricing_load(pricing **out, const char *path);
void pricing_free(pricing *p);

/** The tier named `name`, or NULL. */
const pricing_tier *pricing_tier_get(const pricing *p, const char *name);

/** Cost of a finished job in millicredits. */
int64_t pricing_job_cost(const pricing *p, const pricing_tier *t, const pricing_usage *u);

/** Worst-case cost of a job admitted with these limits (the reservation). */
int64_t pricing_job_worst_case(const pricing *p, const pricing_tier *t, uint64_t fmu_bytes, double stop_minus_start,
                               double timeout_s, uint64_t memory_bytes, bool premium, int64_t cycle_usage);

/** The same with the CPU time the sandbox allows at most given apart
 *  (`cpu_s`, e.g. the hard RLIMIT_CPU): the reservation uses the larger of
 *  it and the wall time as CPU. NAN: the wall time. */
int64_t pricing_job_worst_case_cpu(const pricing *p, const pricing_tier *t, uint64_t fmu_bytes,
                                   double stop_minus_start, double timeout_s, double cpu_s, uint64_t memory_bytes,
                                   bool premium, int64_t cycle_usage);
/** Storage cost in millicredits of `bytes` kept for `days`. */
int64_t pricing_storage_cost(const pricing *p, uint64_t bytes, double days);

/** Exact storage cost of `byte_ms` (bytes x milliseconds kept) in
 *  micro-millicredits (1e-6 millicredit), rounded down: the accrual sums
 *  these and rounds up to whole millicredits once over the sum, so a
 *  small account is never charged a millicredit a day for a fraction. */
int64_t pricing_storage_micro(const pricing *p, pricing_byte_ms byte_ms);

/** Cost of a reused result (identical request served from storage), in
 *  millicredits. */
int64_t pricing_reuse_cost(const pricing *p);

/** USD (micro) of `millicredits` of overage at the tier's published rate,
 *  rounded up (0 when the tier has no rate). */
int64_t pricing_overage_usd_micro(const pricing_tier *t, int64_t millicredits);

/** The tiers in file order (for listings): *n gets the count. Borrowed. */
const pricing_tier *pricing_tiers(const pricing *p, size_t *n);

#endif
