/* credits.c - interim credit grants (see credits.h). */
#include "credits.h"
#include "store_util.h"
#include "util/error.h"

int store_credit_grant(db_conn *c, const char *account_id, int64_t amount, const char *reason)
{
    char id[STORE_ID_MAX];
    int rc;
    if (!account_id)
        return fmugw_error_set(FMUGW_EINVALID, "no account");
    if ((rc = store__new_id(id, "cg")) != 0)
        return rc;
    return db_execp(NULL, c, "INSERT INTO credit_grants (id, account_id, amount, at, reason) VALUES ($1, $2, $3, $4, $5)",
                    "ttiit", id, account_id, amount, store__now_ms(), reason);
}

int store_credit_balance(int64_t *out, db_conn *c, const char *account_id)
{
    db_stmt *st = NULL;
    *out = 0;
    int rc = db_query(&st, c, "SELECT COALESCE(SUM(amount), 0) FROM credit_grants WHERE account_id = $1", "t",
                      account_id);
    if (rc == 0 && (rc = db_step(st)) == 1) {
        *out = db_column_int64(st, 0);
        rc = 0;
    }
    db_finalize(st);
    return rc;
}

typedef struct {
    const char *account_id;
    int64_t target;
    const char *reason;
} set_ctx;

static int set_tx(db_conn *c, void *p)
{
    set_ctx *s = p;
    int64_t have = 0;
    int rc = store_credit_balance(&have, c, s->account_id);
    if (rc == 0 && have != s->target)
        rc = store_credit_grant(c, s->account_id, s->target - have, s->reason);
    return rc;
}

int store_credit_set(db_conn *c, const char *account_id, int64_t target, const char *reason)
{
    set_ctx s = {account_id, target, reason};
    return db_transact(c, set_tx, &s);
}
