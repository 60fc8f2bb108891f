/*
 * fmugw/account.h - the account: balance and tier, the credit ledger,
 * usage (JSON or CSV), and the account's API keys (create, list, revoke).
 *
 * Ownership: every document is returned through `out` as caller-owned
 * NUL-terminated text freed with fmugw_free().
 */
#ifndef FMUGW_PUBLIC_ACCOUNT_H
#define FMUGW_PUBLIC_ACCOUNT_H

#include "client.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The account: id, tier, credit balance and limits.
 *
 * @param out receives the JSON text; fmugw_free().
 * @param c the client.
 * @return 0 or a request error.
 */
FMUGW_EXTERN(int) fmugw_account_get(char **out, fmugw_client *c);

/**
 * The credit balance alone.
 *
 * @param out receives the balance (credits).
 * @param c the client.
 * @return 0, FMUGW_CLIENT_ESERVER (no balance in the answer), or a request error.
 */
FMUGW_EXTERN(int) fmugw_account_balance(double *out, fmugw_client *c);

/**
 * The ledger entries of the account (first page, newest first).
 *
 * @param out receives the JSON text; fmugw_free().
 * @param c the client.
 * @return 0 or a request error.
 */
FMUGW_EXTERN(int) fmugw_account_ledger(char **out, fmugw_client *c);

/**
 * Usage of the account.
 *
 * @param out receives the document (JSON, or CSV text); fmugw_free().
 * @param c the client.
 * @param csv 1 for CSV (?format=csv), 0 for JSON.
 * @return 0 or a request error.
 */
FMUGW_EXTERN(int) fmugw_account_usage(char **out, fmugw_client *c, int csv);

/**
 * Creates an API key for the account. The key itself (`api_key`) is shown
 * only in this answer.
 *
 * @param out receives the JSON text of the new key; fmugw_free().
 * @param c the client.
 * @param name a label, or NULL.
 * @param scopes space-separated scopes, or NULL for the server's default.
 * @return 0, FMUGW_CLIENT_EFORBIDDEN (scopes beyond the caller's), or a
 *         request error.
 */
FMUGW_EXTERN(int) fmugw_key_create(char **out, fmugw_client *c, const char *name, const char *scopes);

/**
 * Lists the account's API keys (hints only, revoked ones included).
 *
 * @param out receives `{"items":[...]}` as JSON text; fmugw_free().
 * @param c the client.
 * @return 0 or a request error.
 */
FMUGW_EXTERN(int) fmugw_key_list(char **out, fmugw_client *c);

/**
 * Revokes one of the account's API keys.
 *
 * @param c the client.
 * @param key_id the key's id (not the key).
 * @return 0, FMUGW_CLIENT_ENOTFOUND, or a request error.
 */
FMUGW_EXTERN(int) fmugw_key_revoke(fmugw_client *c, const char *key_id);

#ifdef __cplusplus
}
#endif

#endif
