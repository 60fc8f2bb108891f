/*
 * credits.h - interim credit grants (table `credit_grants`, migration 2):
 * an account's balance is the sum of its grants. `fmugwd admin credits
 * grant` adds one; `credits set` adds the difference to reach a target.
 * Issue 5's ledger (debits per job, holds, pricing) replaces this table.
 *
 * Every function takes a db_conn used by the calling thread only and
 * composes into an outer db_transact. Errors: FMUGW_EINVALID (unknown
 * account), db.h errors.
 */
#ifndef FMUGW_STORE_CREDITS_H
#define FMUGW_STORE_CREDITS_H

#include "db.h"

#include <stdint.h>

/** Adds a grant of `amount` (may be negative) to an account; `reason` may
 *  be NULL. */
int store_credit_grant(db_conn *c, const char *account_id, int64_t amount, const char *reason);

/** *out = the account's balance (sum of its grants, 0 if none). */
int store_credit_balance(int64_t *out, db_conn *c, const char *account_id);

/** Adds the grant that brings the balance to `target` (none if equal), in
 *  one transaction. */
int store_credit_set(db_conn *c, const char *account_id, int64_t target, const char *reason);

#endif
