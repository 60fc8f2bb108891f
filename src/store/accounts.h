/*
 * accounts.h - the accounts repository (table `accounts`): tenants with a
 * unique email, a tier name and a lock flag.
 *
 * Emails are stored trimmed and with ASCII letters lowercased, so lookups
 * are case-insensitive. Tier names are not interpreted here (the pricing
 * file defines them); they must be 1-32 characters of [a-z0-9_-].
 * Every function takes a db_conn used by the calling thread only (db.h)
 * and composes into an outer db_transact.
 *
 * Ownership: a store_account returned through **out belongs to the caller
 * and is freed with store_account_free (NULL is a no-op).
 * Errors: FMUGW_ENOTFOUND (no such account), FMUGW_EEXISTS (email taken),
 * FMUGW_EINVALID (bad email/tier), and the db.h errors.
 */
#ifndef FMUGW_STORE_ACCOUNTS_H
#define FMUGW_STORE_ACCOUNTS_H

#include "db.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    char *id;    /* "acct_" + 32 hex */
    char *email; /* normalised */
    char *tier;
    int64_t created_at; /* unix ms */
    bool locked;
} store_account;

/** Creates an account. *out (may be NULL when not wanted) gets the new
 *  row. FMUGW_EEXISTS if the email is already used. */
int store_account_create(store_account **out, db_conn *c, const char *email, const char *tier);

/** Finds an account by id. */
int store_account_get(store_account **out, db_conn *c, const char *id);

/** Finds an account by email (case-insensitive). */
int store_account_find_by_email(store_account **out, db_conn *c, const char *email);

/** Lists accounts by creation time, oldest first: at most `limit` (1-1000)
 *  rows after skipping `offset`. *out is an array of *n entries, freed with
 *  store_account_list_free. */
int store_account_list(store_account ***out, size_t *n, db_conn *c, int64_t offset, int64_t limit);

/** Changes an account's tier. */
int store_account_set_tier(db_conn *c, const char *id, const char *tier);

/** Locks or unlocks an account (a locked account's keys stop working). */
int store_account_set_locked(db_conn *c, const char *id, bool locked);

/** Frees an account. NULL is a no-op. */
void store_account_free(store_account *a);

/** Frees an array from store_account_list. */
void store_account_list_free(store_account **list, size_t n);

#endif
