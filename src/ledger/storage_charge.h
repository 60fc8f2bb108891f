/*
 * storage_charge.h - the storage accrual: what an account keeps stored
 * (store/storage.h) priced at pricing.json's storage_credits_per_gib_day
 * and charged in the ledger as kind "storage".
 *
 * One run per account and UTC day (ledger key "storage:<account>:<day>",
 * and one storage_accruals row): a run accounts for the period since the
 * previous run (or since the account was created) up to now, so periods
 * follow each other without gaps or overlaps and a second run on the same
 * day changes nothing. Each period's exact cost is kept in
 * micro-millicredits; a run charges the whole millicredits the account
 * owes in total minus what was charged before, so rounding happens once
 * over the total (at most 1 millicredit ahead, ever), not once a day.
 *
 * When the balance does not cover it: a tier with overage (Pro,
 * Enterprise) draws the rest from the overage line like a job does (billed
 * with the cycle); a hard-limited tier (Free) is charged what is available,
 * never below zero, and the rest stays owed (`unpaid`) and is charged
 * first by the next runs (for instance after the monthly grant).
 *
 * Runs are settled in the billing cycle they fall in: GET /account's cycle
 * usage and overage include them (ledger_usage_total).
 */
#ifndef FMUGW_LEDGER_STORAGE_CHARGE_H
#define FMUGW_LEDGER_STORAGE_CHARGE_H

#include "ledger/pricing.h"
#include "store/accounts.h"
#include "store/db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** One account's run. */
typedef struct {
    char account_id[64];
    bool already;  /* the account was already accrued this day: nothing done */
    bool recorded; /* a run was recorded (false: nothing stored and nothing owed) */
    int64_t from_ms, through_ms;
    int64_t fmu_bytes, result_bytes; /* stored at through_ms */
    int64_t cost_micro;              /* the period's exact cost, micro-millicredits */
    int64_t due;                     /* millicredits owed at this run */
    int64_t charged, overage;        /* charged now; part from the overage line */
    int64_t unpaid;                  /* owed and not charged (hard-limited tier) */
} storage_run;

/** Accrues `acct` at `now_ms` (in one transaction, joining the caller's).
 *  With `dry_run` computes what would be charged and writes nothing. */
int storage_accrue(storage_run *out, db_conn *c, const pricing *p, const store_account *acct, int64_t now_ms,
                   bool dry_run);

/** Totals of a sweep. */
typedef struct {
    size_t accounts;  /* accounts looked at */
    size_t recorded;  /* runs recorded (or that would be, dry) */
    size_t already;   /* accounts already accrued that day */
    size_t failed;    /* accounts whose run failed (logged by the caller through `each`) */
    int64_t charged;  /* millicredits charged */
    int64_t unpaid;   /* millicredits owed after the sweep by the accounts recorded */
} storage_sweep;

/** Called for every account with its run (rc its result). */
typedef void (*storage_run_fn)(const storage_run *r, int rc, void *ud);

/** storage_accrue() for every account; `each` (may be NULL) sees each run.
 *  Returns 0, or the last failure (the other accounts still run). */
int storage_accrue_all(storage_sweep *out, db_conn *c, const pricing *p, int64_t now_ms, bool dry_run,
                       storage_run_fn each, void *ud);

#endif
