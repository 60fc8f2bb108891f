/*
 * storage_charge.c - the storage accrual (see storage_charge.h).
 */
#include "ledger/storage_charge.h"

#include "ledger/ledger.h"
#include "store/storage.h"
#include "util/error.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MICRO 1000000

typedef struct {
    storage_run *out;
    const pricing *p;
    const store_account *acct;
    int64_t now;
    bool dry_run;
} accrue_ctx;

static void utc_day(char out[11], int64_t ms)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    if (strftime(out, 11, "%Y-%m-%d", &tm) == 0)
        snprintf(out, 11, "1970-01-01");
}

static int64_t sat_add(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static int accrue_tx(db_conn *c, void *ud)
{
    accrue_ctx *x = ud;
    storage_run *r = x->out;
    const store_account *acct = x->acct;
    store_storage_totals tot;
    store_storage_usage use;
    char day[11];
    int rc;

    /* a retried transaction starts afresh */
    memset(r, 0, sizeof *r);
    snprintf(r->account_id, sizeof r->account_id, "%s", acct->id);
    utc_day(day, x->now);
    if ((rc = store_storage_totals_get(&tot, c, acct->id, day)) != 0)
        return rc;
    if (tot.day_done) {
        r->already = true;
        r->unpaid = tot.unpaid;
        return 0;
    }
    r->from_ms = tot.any ? tot.through_ms : acct->created_at;
    if (r->from_ms > x->now)
        r->from_ms = x->now;
    r->through_ms = x->now;
    if ((rc = store_storage_usage_get(&use, c, acct->id, r->from_ms, r->through_ms)) != 0)
        return rc;
    r->fmu_bytes = use.fmu_bytes;
    r->result_bytes = use.result_bytes;
    r->cost_micro = pricing_storage_micro(x->p, use.fmu_byte_ms + use.result_byte_ms);
    int64_t total_micro = sat_add(tot.cost_micro, r->cost_micro);
    int64_t owed = total_micro / MICRO + (total_micro % MICRO != 0);
    r->due = owed > tot.charged ? owed - tot.charged : 0;
    if (r->cost_micro == 0 && r->due == 0 && r->fmu_bytes == 0 && r->result_bytes == 0)
        return 0; /* nothing stored, nothing owed: no row */
    r->recorded = true;

    const pricing_tier *t = pricing_tier_get(x->p, acct->tier);
    if (!t)
        t = pricing_tier_get(x->p, "free");
    bool allow_overage = t && t->overage_usd_micro_per_credit >= 0;
    if (x->dry_run) {
        ledger_balance b;
        if ((rc = ledger_balance_get(c, acct->id, &b)) != 0)
            return rc;
        int64_t have = b.available > 0 ? b.available : 0;
        r->charged = allow_overage || r->due <= have ? r->due : have;
        r->overage = r->due > have && allow_overage ? r->due - have : 0;
        r->unpaid = r->due - r->charged;
        return 0;
    }
    if (r->due > 0) {
        json_t *d = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:I}", "day", day, "from_ms", (json_int_t)r->from_ms,
                              "through_ms", (json_int_t)r->through_ms, "fmu_bytes", (json_int_t)r->fmu_bytes,
                              "result_bytes", (json_int_t)r->result_bytes, "cost_micro", (json_int_t)r->cost_micro,
                              "owed", (json_int_t)r->due);
        char *detail = d ? json_dumps(d, JSON_COMPACT) : NULL;
        json_decref(d);
        if (!detail)
            return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        rc = ledger_storage_charge(c, acct->id, day, r->due, allow_overage, detail, &r->charged, &r->overage);
        free(detail);
        if (rc != 0)
            return rc;
    }
    r->unpaid = r->due - r->charged;
    store_storage_accrual row = {.account_id = acct->id,
                                 .day = day,
                                 .at = x->now,
                                 .from_ms = r->from_ms,
                                 .through_ms = r->through_ms,
                                 .fmu_bytes = r->fmu_bytes,
                                 .result_bytes = r->result_bytes,
                                 .cost_micro = r->cost_micro,
                                 .charged = r->charged,
                                 .overage = r->overage,
                                 .unpaid = r->unpaid};
    return store_storage_accrual_insert(c, &row);
}

int storage_accrue(storage_run *out, db_conn *c, const pricing *p, const store_account *acct, int64_t now_ms,
                   bool dry_run)
{
    accrue_ctx x = {out, p, acct, now_ms, dry_run};
    memset(out, 0, sizeof *out);
    if (!p || !acct || !acct->id)
        return fmugw_error_set(FMUGW_EINVALID, "storage accrual needs pricing and an account");
    return db_transact(c, accrue_tx, &x);
}

int storage_accrue_all(storage_sweep *out, db_conn *c, const pricing *p, int64_t now_ms, bool dry_run,
                       storage_run_fn each, void *ud)
{
    store_account **list = NULL;
    size_t n = 0;
    int rc = 0;
    memset(out, 0, sizeof *out);
    for (int64_t off = 0;; off += 1000) {
        int lr = store_account_list(&list, &n, c, off, 1000);
        if (lr != 0)
            return lr;
        for (size_t i = 0; i < n; i++) {
            storage_run r;
            int ar = storage_accrue(&r, c, p, list[i], now_ms, dry_run);
            out->accounts++;
            if (ar != 0) {
                out->failed++;
                rc = ar;
            } else if (r.already) {
                out->already++;
            } else if (r.recorded) {
                out->recorded++;
                out->charged += r.charged;
                out->unpaid += r.unpaid;
            }
            if (each)
                each(&r, ar, ud);
        }
        store_account_list_free(list, n);
        list = NULL;
        if (n < 1000)
            break;
    }
    return rc;
}
