/*
 * jobs.h - the job system: running stored FMUs for tenants, durably.
 *
 *   request.c   POST /fmu/execute bodies: validation against the FMU's model
 *               summary (422 field errors), the canonical form and its hash
 *   jobs.c      the system (start/stop, recovery, retention sweep), submit
 *               (idempotency keys, reuse, admission + reservation in one
 *               transaction), status, long-poll, cancel, list, results,
 *               account purge
 *   worker.c    one worker thread: claim -> decrypt + extract FMU -> sandbox
 *               -> SHA-256 + seal the results -> blob -> finish (state,
 *               metering, result row and ledger in one transaction)
 *
 * Queue. The `jobs` table (migration 4) is the queue. A worker claims,
 * with one atomic UPDATE ... WHERE status = 'queued' (the job's row gets
 * status running, a lease owner and a lease expiry), a queued job whose
 * account runs fewer than its tier's max_concurrent_jobs: among those, of
 * the accounts with the fewest running jobs (fair between tenants), the
 * oldest.
 * Jobs over an account's concurrency limit are admitted and wait queued
 * (not 429); at most JOB_MAX_QUEUED_PER_ACCOUNT may wait, then 429.
 *
 * States: queued -> running -> succeeded | failed | timed_out | canceled;
 * queued -> canceled. Every transition is a compare-and-set on the current
 * state, and commits in the same transaction as its ledger entry:
 *   admit    insert queued + ledger_reserve(worst case)          (402 for Free)
 *   finish   succeeded, or an FMU-caused failure (fmu_error, timeout,
 *            cpu_limit, memory_limit, output_limit, forbidden_syscall,
 *            crashed): ledger_settle(pricing_job_cost(metered usage))
 *   platform_error: failed + ledger_release (the customer pays nothing)
 *   cancel   queued: canceled + release; running: the sandbox is stopped,
 *            canceled + settle for what it used.
 * The ledger's idempotency keys (reserve:/settle:/release:<job>) make a
 * second settlement impossible, so a crash between two steps never charges
 * twice.
 *
 * Recovery (job_system_start, before any worker runs; and in every
 * retention sweep): a job left running by a dead daemon is failed with
 * error class platform_error and its reservation released (the FMU may
 * have partly run: it is not run again behind the customer's back). Dead
 * means: leased by a process of this host that no longer exists (lease
 * owner "<host>:<pid>:<random>"), or a lease past its expiry (started +
 * timeout + JOB_LEASE_GRACE_S). Queued jobs stay queued and run.
 * Graceful stop: workers finish their current job (its sandbox deadline
 * bounds that), then exit; no new job is claimed.
 *
 * Retention: a sweep at start and every 10 minutes deletes results (blob +
 * row) older than the account tier's retention_days (config key
 * `retention_override_s` replaces it, for tests).
 *
 * Units in JSON answers: credits as numbers (millicredits / 1000, the unit
 * of GET /account's `balance`).
 *
 * Ownership: json_t values returned through **out are new references the
 * caller releases; strings through **out are malloc'd.
 */
#ifndef FMUGW_JOBS_H
#define FMUGW_JOBS_H

#include "server/app.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JOB_MAX_QUEUED_PER_ACCOUNT 1000
#define JOB_WAIT_MAX_S 30
#define JOB_RETENTION_SWEEP_S 600
#define JOB_LEASE_GRACE_S 120

typedef struct job_system job_system;

/** Starts the job system of `a` (sets a->jobs): recovery of jobs left
 *  running by a dead daemon, the first retention sweep, then `n_workers`
 *  worker threads (0: API only, no workers: role api) and the retention
 *  thread. Returns 0 or FMUGW_E* (nothing left running). */
int job_system_start(app *a, unsigned n_workers);

/** Stops the workers (each finishes or requeues its job), the sweeper, and
 *  frees the system; a->jobs becomes NULL. NULL app or system is a no-op. */
void job_system_stop(app *a);

/** The answer of a submit: HTTP status, body (new reference) and whether
 *  it was replayed from an idempotency key. */
typedef struct {
    int status;
    json_t *body;
    bool replayed;
} job_answer;

/** POST /fmu/execute: validates `body` (borrowed) against the FMU, honours
 *  the Idempotency-Key `idem_key` (may be NULL), reuses a stored identical
 *  result when allowed, admits the job and reserves its worst case. Every
 *  outcome (202, 402, 404, 409, 422, 429) is in *out; returns FMUGW_E* only
 *  on internal failure. */
int job_submit(job_answer *out, job_system *js, const principal *who, json_t *body, const char *idem_key);

/** The status JSON of a job of `account_id` (FMUGW_ENOTFOUND for another
 *  account's or a missing job). Never waits: to wait for a change, watch
 *  the job (job_watch_open). */
int job_status(json_t **out, job_system *js, const char *account_id, const char *job_id);

/* Watching a job: what a status long-poll (and a cancel waiting for its
 * worker) waits on, without holding a thread. A watch is polled, never
 * blocks: job_watch_poll looks at the in-memory change ring (one lock) and
 * reads the database only when the ring names the job, or every
 * JOB_WATCH_RECHECK_MS (changes made by other processes show only there).
 * An account may hold job_watch_limit(tier) watches at once. */
typedef struct job_watch job_watch;

#define JOB_WATCH_RECHECK_MS 250

/** Open watches allowed per account of `tier`: free 4, pro 16,
 *  enterprise 64. */
unsigned job_watch_limit(const char *tier);

/** Reads the job's status into *status (new reference). Without `wait`,
 *  or when the job is finished or its status differs from `known_status`
 *  (NULL: its status now), *out is NULL: answer now. Else *out is a watch
 *  to poll. FMUGW_ENOTFOUND as job_status; FMUGW_ELIMIT when the account
 *  holds its limit of watches. */
int job_watch_open(job_watch **out, json_t **status, job_system *js, const char *account_id, const char *tier,
                   const char *job_id, const char *known_status, bool wait);

/** Non-blocking: 1 with *status (new reference) when the job's status left
 *  the known one, or when `final` (the current status then); 0 = go on
 *  waiting. */
int job_watch_poll(json_t **status, job_watch *w, bool final);

/** Closes the watch. NULL is a no-op. */
void job_watch_free(job_watch *w);

/** `fn(ud)` runs after every job state change this process makes (under
 *  the job system's lock: it must be quick and take no job lock); NULL
 *  stops the calls. How parked HTTP long-polls learn of changes. */
void job_system_on_change(job_system *js, void (*fn)(void *), void *ud);

/** Cancels a job: queued -> canceled (reservation released); running ->
 *  the sandbox is stopped and the job canceled, charged for what it used
 *  (recorded by its worker shortly after: *out may still say running).
 *  FMUGW_ECONFLICT for a finished job, FMUGW_ENOTFOUND for another
 *  account's. *out is the status JSON after the cancel. */
int job_cancel(json_t **out, job_system *js, const char *account_id, const char *job_id);

/** One page of jobs of `account_id`, newest first: {"items":[...],
 *  "next_cursor":...}. `state` and `fmu_id` filter (may be NULL); `cursor`
 *  from a previous page (FMUGW_EINVALID if malformed). */
int job_list(json_t **out, job_system *js, const char *account_id, const char *state, const char *fmu_id,
             const char *cursor, int limit);

/** What is known about a job's stored result. */
typedef struct {
    char blob_key[65];
    char format[8];
    int64_t rows;
    int64_t size;
    char sha256[65];
} job_result_info;

/** The result of a succeeded job of `account_id`: FMUGW_ENOTFOUND (not the
 *  caller's, or purged), FMUGW_ECONFLICT (not succeeded). */
int job_result_get(job_result_info *out, job_system *js, const char *account_id, const char *job_id);

/** Decrypts the stored result into an unlinked temporary file, positioned
 *  at its start (*out is the caller's: fclose). The plaintext is checked
 *  against the stored SHA-256. */
int job_result_open(FILE **out, job_system *js, const job_result_info *info);

/** DELETE /account/data: deletes the account's results (rows and blobs),
 *  idempotency keys, queued jobs (canceled, released) and FMUs (rows soft
 *  deleted, blobs removed). Ledger entries are kept (the financial
 *  record). *summary counts what went. */
int job_purge_account(json_t **summary, job_system *js, const char *account_id);

/** One retention sweep now (the background thread runs it every
 *  JOB_RETENTION_SWEEP_S). *deleted (may be NULL) gets the results purged. */
int job_retention_sweep(job_system *js, int64_t *deleted);

#endif
