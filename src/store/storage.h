/*
 * storage.h - the storage repository: what an account keeps stored (its
 * FMUs and results, by size and lifetime) and the record of each run of
 * the storage accrual (table `storage_accruals`, one row per account and
 * UTC day).
 *
 * Bytes are the sizes the customer sees: an FMU's declared size (the
 * upload), a result's size. An FMU counts from its creation until it is
 * deleted (soft delete keeps the time, so a deletion between two runs is
 * still accounted for exactly); public samples (no account) count for no
 * one; an FMU without a blob (never uploaded) counts nothing. A result
 * counts from its creation while its row exists; results sharing one blob
 * (a reused result) count once.
 *
 * Errors: db.h errors; FMUGW_EEXISTS when an accrual for that account and
 * day already exists.
 */
#ifndef FMUGW_STORE_STORAGE_H
#define FMUGW_STORE_STORAGE_H

#include "db.h"

#include <stdbool.h>
#include <stdint.h>

__extension__ typedef unsigned __int128 store_byte_ms; /* bytes x milliseconds, exact */

typedef struct {
    store_byte_ms fmu_byte_ms;    /* sum over FMUs of size x their time within [from, to) */
    store_byte_ms result_byte_ms; /* the same for results */
    int64_t fmu_bytes;            /* stored at `to` */
    int64_t result_bytes;
} store_storage_usage;

/** What `account_id` kept stored during [from_ms, to_ms). */
int store_storage_usage_get(store_storage_usage *out, db_conn *c, const char *account_id, int64_t from_ms,
                            int64_t to_ms);

/** The bytes `account_id` keeps stored now (fmu_bytes, result_bytes; the
 *  byte_ms members are 0): two aggregate queries, for GET /account. */
int store_storage_bytes_now(store_storage_usage *out, db_conn *c, const char *account_id);

/** One run of the accrual for an account (all amounts >= 0). */
typedef struct {
    const char *account_id;
    const char *day;   /* "YYYY-MM-DD" (UTC) of the run */
    int64_t at;        /* unix ms of the run */
    int64_t from_ms;   /* the period it accounted for: [from_ms, through_ms) */
    int64_t through_ms;
    int64_t fmu_bytes; /* stored at through_ms */
    int64_t result_bytes;
    int64_t cost_micro; /* the period's exact cost, micro-millicredits (rounded down) */
    int64_t charged;    /* millicredits charged by this run (available + overage) */
    int64_t overage;    /* the part of charged drawn from the overage line */
    int64_t unpaid;     /* millicredits due and not charged after this run */
} store_storage_accrual;

/** Records a run; FMUGW_EEXISTS if the account has one for that day. */
int store_storage_accrual_insert(db_conn *c, const store_storage_accrual *a);

/** The sums over an account's accruals. */
typedef struct {
    bool any;            /* at least one accrual */
    bool day_done;       /* one for the given day exists */
    int64_t through_ms;  /* the latest through_ms */
    int64_t cost_micro;  /* total exact cost accounted for */
    int64_t charged;     /* total millicredits charged */
    int64_t unpaid;      /* unpaid after the latest run */
} store_storage_totals;

/** The totals of `account_id`'s accruals; day_done for `day`. */
int store_storage_totals_get(store_storage_totals *out, db_conn *c, const char *account_id, const char *day);

#endif
