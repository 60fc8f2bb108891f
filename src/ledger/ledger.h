/*
 * ledger.h - the double-entry credit ledger (in the metadata store).
 *
 * Units: credits are counted in integer millicredits (1 credit = 1000);
 * money in integer micro-USD. No floating point touches a balance.
 *
 * Book accounts (names, created on first use):
 *   user:<account_id>:available   credits the customer can spend
 *   user:<account_id>:reserved    credits held for admitted, unfinished jobs
 *   user:<account_id>:overage     paid tiers only: the credit line used when
 *                                 available runs out (goes negative; billed
 *                                 at the tier's overage rate)
 *   system:grants                 source of every granted credit (negative)
 *   system:revenue                destination of every charge (jobs and storage)
 *
 * Every movement is one immutable entry: (seq, at, debit account, credit
 * account, amount > 0, kind, job id, idempotency key, detail). Entries are
 * never updated or deleted; a balance is the sum of credits minus debits of
 * an account, so the sum over all accounts is zero by construction, and
 * ledger_check() proves it from the rows. So that reading a balance does
 * not cost a scan of the account's whole history, each book's running
 * balance is kept in ledger_books, updated in the transaction of every
 * entry; ledger_check() also proves each equals the sum of its entries.
 *
 * Exactly once: every operation carries an idempotency key with a UNIQUE
 * constraint ("grant:<account>:<cycle>", "reserve:<job>", "settle:<job>",
 * "release:<job>"); repeating an operation returns FMUGW_EEXISTS and changes
 * nothing. settle and release of one job exclude each other (a job is
 * settled or released, once). All operations run in one transaction each
 * (db_transact) and may join the caller's transaction, so a job's state
 * change and its ledger entries commit together.
 *
 * Ownership: strings returned through **out belong to the caller (free
 * with the matching *_free, which accepts NULL).
 */
#ifndef FMUGW_LEDGER_H
#define FMUGW_LEDGER_H

#include "store/db.h"

#include <stdbool.h>
#include <stdint.h>

#define LEDGER_MILLI 1000 /* millicredits per credit */

typedef struct {
    int64_t available; /* millicredits; may be < 0 only through overage */
    int64_t reserved;
    int64_t overage_used; /* millicredits drawn from the credit line (>= 0) */
} ledger_balance;

/** Grants credits (system:grants -> available). `key` makes it idempotent
 *  (e.g. "grant:<account>:2026-11" for a monthly grant); FMUGW_EEXISTS if
 *  it was already applied. */
int ledger_grant(db_conn *c, const char *account_id, int64_t amount, const char *key, const char *reason);

/** Reserves the worst-case cost of a job (available -> reserved). Without
 *  `allow_overage`, FMUGW_ELIMIT when available < amount, with *shortfall
 *  set to the missing millicredits (the 402 answer). With it, the part not
 *  covered by available is drawn from the overage line. */
int ledger_reserve(db_conn *c, const char *account_id, const char *job_id, int64_t amount, bool allow_overage,
                   int64_t *shortfall);

/** Settles a finished job: `charge` (<= reserved, else capped at the
 *  reservation) goes reserved -> system:revenue; the rest returns to where
 *  it came from (overage first, then available). Once per job:
 *  FMUGW_EEXISTS if the job was already settled or released. */
int ledger_settle(db_conn *c, const char *job_id, int64_t charge);

/** Releases a job's whole reservation (platform failure, cancel before
 *  start). Once per job, exclusive with settle. */
int ledger_release(db_conn *c, const char *job_id);

/** The reserved and charged amounts of a job (0 if none). */
int ledger_job_amounts(db_conn *c, const char *job_id, int64_t *reserved, int64_t *charged);

/** Derived balances of an account. */
int ledger_balance_get(db_conn *c, const char *account_id, ledger_balance *out);

/** Checks the whole ledger: the sum over all book accounts is zero, no
 *  job has more than one settlement/release, no reserved balance is
 *  negative. Returns 0, or FMUGW_ERROR with the first violation in
 *  fmugw_error_last(). */
int ledger_check(db_conn *c);

/** One entry as the API shows it. */
typedef struct {
    int64_t seq;
    int64_t at_ms;
    char *kind;    /* grant, adjust, reserve, overage (reserve drawn from the
                      credit line), settle (charge), release (returned),
                      storage (stored FMUs and results) */
    char *debit;
    char *credit;
    int64_t amount;
    char *job_id;  /* may be NULL */
    char *detail;  /* JSON text, may be NULL */
} ledger_entry;

/** Entries touching `account_id`'s book accounts, newest first, `limit`
 *  at most, before `before_seq` (0 = from the newest). */
int ledger_entries(ledger_entry **out, size_t *n, db_conn *c, const char *account_id, int64_t before_seq,
                   int limit);
void ledger_entries_free(ledger_entry *entries, size_t n);

/* ---- additions (issue 5, ledger helper): settle detail, adjustments,
 * billing cycles, usage ---------------------------------------------------
 *
 * Settle detail (agreed with the jobs side): the JSON object text given to
 * ledger_settle_detail() is stored with the settlement and read back by
 * GET /account/usage. Keys (all optional except fmu_id):
 *   {"fmu_id":"fmu_...", "status":"succeeded|failed|timed_out|canceled",
 *    "cpu_ms":N, "wall_ms":N, "peak_rss_kb":N, "output_bytes":N,
 *    "reused":false}
 * Unknown keys are kept and ignored.
 */

/** ledger_settle() with the job's detail JSON text (may be NULL), stored
 *  on the settlement (see above). Same rules as ledger_settle(). */
int ledger_settle_detail(db_conn *c, const char *job_id, int64_t charge, const char *detail);

/** Takes `amount` (> 0) of available credits back (available ->
 *  system:grants, kind "adjust"). FMUGW_ELIMIT when available < amount;
 *  FMUGW_EEXISTS if `key` was already applied. */
int ledger_adjust(db_conn *c, const char *account_id, int64_t amount, const char *key, const char *reason);

/** The billing cycle containing `now_ms` of an account created at
 *  `created_ms` (UTC): cycles start on the creation day of each month
 *  (clamped to the month's last day) at 00:00 UTC. `start_day` (may be
 *  NULL) gets "YYYY-MM-DD" of the cycle start (11 bytes). */
void ledger_cycle(int64_t created_ms, int64_t now_ms, int64_t *start_ms, int64_t *end_ms, char start_day[11]);

/** Grants `monthly` millicredits for the cycle containing `now_ms` with key
 *  "grant:<account>:<YYYY-MM-DD of cycle start>": 0 when granted now,
 *  FMUGW_EEXISTS when that cycle was already granted. */
int ledger_grant_cycle(db_conn *c, const char *account_id, int64_t created_ms, int64_t monthly, int64_t now_ms);

/** Charges `amount` (> 0) millicredits of storage for `account_id`
 *  (kind "storage", key "storage:<account>:<day>", day "YYYY-MM-DD"):
 *  available -> system:revenue for what available covers, and, with
 *  `allow_overage`, overage -> system:revenue for the rest. Without it
 *  the charge is capped at available (never negative). *charged and
 *  *overage get what was charged (0 and no entry when nothing could be).
 *  FMUGW_EEXISTS if that account and day were already charged. Joins an
 *  outer transaction. */
int ledger_storage_charge(db_conn *c, const char *account_id, const char *day, int64_t amount, bool allow_overage,
                          const char *detail, int64_t *charged, int64_t *overage);

/** Credits charged to an account in [from_ms, to_ms) (job settlements
 *  and storage), and the part of them drawn from the overage line. */
int ledger_usage_total(db_conn *c, const char *account_id, int64_t from_ms, int64_t to_ms, int64_t *charged,
                       int64_t *overage);

/** One settled job, for usage reports (oldest first). */
typedef struct {
    int64_t at_ms;
    char *job_id;
    char *fmu_id;  /* from the detail; NULL if none */
    int64_t charged;
    int64_t overage;
    int64_t cpu_ms;
    int64_t wall_ms;
} ledger_settlement;

/** Settlements of an account in [from_ms, to_ms), oldest first, at most
 *  `limit`. Free with ledger_settlements_free. */
int ledger_settlements(ledger_settlement **out, size_t *n, db_conn *c, const char *account_id, int64_t from_ms,
                       int64_t to_ms, int limit);
void ledger_settlements_free(ledger_settlement *s, size_t n);

#endif
