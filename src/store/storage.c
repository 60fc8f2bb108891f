/*
 * storage.c - the storage repository (see storage.h): an account's stored
 * bytes over time, from `fmus` and `results`, and `storage_accruals`.
 */
#include "storage.h"

#include "util/error.h"

#include <string.h>

/* The part of [start, end) inside [from, to), in ms (0 if none). */
static int64_t overlap(int64_t start, int64_t end, int64_t from, int64_t to)
{
    int64_t s = start > from ? start : from, e = end < to ? end : to;
    return e > s ? e - s : 0;
}

int store_storage_usage_get(store_storage_usage *out, db_conn *c, const char *account_id, int64_t from_ms,
                            int64_t to_ms)
{
    db_stmt *st = NULL;
    int rc;
    memset(out, 0, sizeof *out);
    if (!account_id || to_ms < from_ms)
        return fmugw_error_set(FMUGW_EINVALID, "storage usage: bad account or period");
    /* FMUs that existed at some time before `to` and were not deleted
     * before `from` (the end is "not yet" = to for those still there). */
    rc = db_query(&st, c,
                  "SELECT size, created_at, COALESCE(deleted_at, $3) FROM fmus"
                  " WHERE account_id = $1 AND blob_key IS NOT NULL AND created_at < $3"
                  " AND (deleted_at IS NULL OR deleted_at > $2)",
                  "tii", account_id, from_ms, to_ms);
    while (rc == 0 && (rc = db_step(st)) == 1) {
        int64_t size = db_column_int64(st, 0), start = db_column_int64(st, 1), end = db_column_int64(st, 2);
        rc = 0;
        if (size <= 0)
            continue;
        out->fmu_byte_ms += (store_byte_ms)size * (store_byte_ms)overlap(start, end, from_ms, to_ms);
        if (end >= to_ms)
            out->fmu_bytes += size;
    }
    db_finalize(st);
    st = NULL;
    if (rc != 0)
        return rc;
    /* Results, one per blob (a reused result shares its original's). */
    rc = db_query(&st, c,
                  "SELECT MAX(size), MIN(created_at) FROM results WHERE account_id = $1 AND created_at < $2"
                  " GROUP BY blob_key",
                  "ti", account_id, to_ms);
    while (rc == 0 && (rc = db_step(st)) == 1) {
        int64_t size = db_column_int64(st, 0), start = db_column_int64(st, 1);
        rc = 0;
        if (size <= 0)
            continue;
        out->result_byte_ms += (store_byte_ms)size * (store_byte_ms)overlap(start, to_ms, from_ms, to_ms);
        out->result_bytes += size;
    }
    db_finalize(st);
    return rc;
}

int store_storage_bytes_now(store_storage_usage *out, db_conn *c, const char *account_id)
{
    db_stmt *st = NULL;
    memset(out, 0, sizeof *out);
    int rc = db_query(&st, c,
                      "SELECT (SELECT COALESCE(SUM(size), 0) FROM fmus WHERE account_id = $1 AND blob_key IS NOT NULL"
                      "        AND deleted_at IS NULL),"
                      " (SELECT COALESCE(SUM(s), 0) FROM (SELECT MAX(size) AS s FROM results WHERE account_id = $1"
                      "        GROUP BY blob_key) t)",
                      "t", account_id);
    if (rc == 0 && (rc = db_step(st)) == 1) {
        out->fmu_bytes = db_column_int64(st, 0);
        out->result_bytes = db_column_int64(st, 1);
        rc = 0;
    } else if (rc == 0) {
        rc = fmugw_error_set(FMUGW_EIO, "storage bytes returned no row");
    }
    db_finalize(st);
    return rc;
}

int store_storage_accrual_insert(db_conn *c, const store_storage_accrual *a)
{
    if (!a->account_id || !a->day || strlen(a->day) != 10 || a->cost_micro < 0 || a->charged < 0 || a->overage < 0 ||
        a->unpaid < 0 || a->through_ms < a->from_ms)
        return fmugw_error_set(FMUGW_EINVALID, "storage accrual: bad values");
    int rc = db_execp(NULL, c,
                      "INSERT INTO storage_accruals (account_id, day, at, from_ms, through_ms, fmu_bytes,"
                      " result_bytes, cost_micro, charged, overage, unpaid)"
                      " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                      "ttiiiiiiiii", a->account_id, a->day, a->at, a->from_ms, a->through_ms, a->fmu_bytes,
                      a->result_bytes, a->cost_micro, a->charged, a->overage, a->unpaid);
    if (rc == FMUGW_EEXISTS)
        return fmugw_error_set(rc, "storage was already accrued for this account on %s", a->day);
    return rc;
}

int store_storage_totals_get(store_storage_totals *out, db_conn *c, const char *account_id, const char *day)
{
    db_stmt *st = NULL;
    memset(out, 0, sizeof *out);
    int rc = db_query(&st, c,
                      "SELECT COUNT(*), COALESCE(MAX(through_ms), 0), COALESCE(SUM(cost_micro), 0),"
                      " COALESCE(SUM(charged), 0), COALESCE(SUM(CASE WHEN day = $2 THEN 1 ELSE 0 END), 0),"
                      " COALESCE((SELECT unpaid FROM storage_accruals WHERE account_id = $1"
                      "           ORDER BY through_ms DESC, day DESC LIMIT 1), 0)"
                      " FROM storage_accruals WHERE account_id = $1",
                      "tt", account_id, day);
    if (rc == 0 && (rc = db_step(st)) == 1) {
        out->any = db_column_int64(st, 0) > 0;
        out->through_ms = db_column_int64(st, 1);
        out->cost_micro = db_column_int64(st, 2);
        out->charged = db_column_int64(st, 3);
        out->day_done = db_column_int64(st, 4) > 0;
        out->unpaid = db_column_int64(st, 5);
        rc = 0;
    } else if (rc == 0) {
        rc = fmugw_error_set(FMUGW_EIO, "storage totals returned no row");
    }
    db_finalize(st);
    return rc;
}
