/*
 * api_keys.h - the API key repository (table `api_keys`).
 *
 * The store never sees a key's secret: the caller (src/auth) computes an
 * HMAC of the presented key with the server pepper and passes those bytes;
 * they are stored as lowercase hex, UNIQUE, and looked up by equality
 * (an index lookup on a keyed hash leaks nothing useful by timing).
 * `prefix` is the non-secret, displayable start of the key; `scopes` a
 * space-separated list ("fmu:read fmu:write"), not interpreted here.
 * Revocation and locking are times (unix ms), 0 meaning "not". Functions
 * that act for a tenant take its account_id and answer FMUGW_ENOTFOUND for
 * another account's key.
 *
 * Ownership: store_apikey results belong to the caller (store_apikey_free,
 * store_apikey_list_free; NULL is a no-op).
 * Errors: FMUGW_ENOTFOUND, FMUGW_EEXISTS (same HMAC or id twice),
 * FMUGW_EINVALID (bad arguments, unknown account), db.h errors.
 */
#ifndef FMUGW_STORE_API_KEYS_H
#define FMUGW_STORE_API_KEYS_H

#include "db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Longest HMAC accepted, in bytes (SHA-512 size). */
#define STORE_APIKEY_HMAC_MAX 64

typedef struct {
    char *id;         /* "key_" + 32 hex, or the id the caller chose */
    char *account_id;
    char *prefix;
    char *scopes;
    char *name;       /* optional label, may be NULL */
    int64_t created_at;
    int64_t last_used_at; /* 0 = never (updated at most once a minute) */
    int64_t revoked_at;   /* 0 = active */
    int64_t locked_at;    /* 0 = not locked */
    char *lock_reason;    /* may be NULL */
    bool account_locked;  /* the owning account's lock flag (joined) */
} store_apikey;

/** Inserts a key. `id` may be NULL to have one generated (auth may choose
 *  it, e.g. to embed it in the key); `name` may be NULL. *out (may be NULL)
 *  gets the stored row. */
int store_apikey_insert(store_apikey **out, db_conn *c, const char *id, const char *account_id,
                        const char *prefix, const unsigned char *hmac, size_t hmac_len, const char *scopes,
                        const char *name);

/** Finds a key by its HMAC, whatever its state (the caller checks
 *  revoked_at, locked_at and account_locked): the authentication path.
 *  FMUGW_ENOTFOUND if no key has this HMAC. */
int store_apikey_find_by_hmac(store_apikey **out, db_conn *c, const unsigned char *hmac, size_t hmac_len);

/** Gets one key of an account (FMUGW_ENOTFOUND for another account's).
 *  `account_id` NULL means any account (admin use). */
int store_apikey_get(store_apikey **out, db_conn *c, const char *account_id, const char *key_id);

/** Lists an account's keys (revoked ones included), oldest first. */
int store_apikey_list(store_apikey ***out, size_t *n, db_conn *c, const char *account_id);

/** How many keys of the account are not revoked (locked ones count). */
int store_apikey_count_active(int64_t *n, db_conn *c, const char *account_id);

/** Revokes a key of an account (`account_id` NULL: any account). Revoking
 *  twice keeps the first time and succeeds. */
int store_apikey_revoke(db_conn *c, const char *account_id, const char *key_id);

/** How often a key's last_used_at is written at most (ms). */
#define STORE_APIKEY_TOUCH_EVERY_MS 60000

/** Records that a key was used at `now_ms`: one cheap UPDATE that writes
 *  only when the stored time is STORE_APIKEY_TOUCH_EVERY_MS old or more.
 *  The server also throttles calls in memory (src/auth/auth_cache.h), so
 *  the hot path rarely even asks. An unknown key is not an error. */
int store_apikey_touch(db_conn *c, const char *key_id, int64_t now_ms);

/** Locks a key for review (abuse detection) with a reason, or unlocks it
 *  (reason ignored). */
int store_apikey_set_locked(db_conn *c, const char *key_id, bool locked, const char *reason);

/** Frees a key. NULL is a no-op. */
void store_apikey_free(store_apikey *k);

/** Frees an array from store_apikey_list. */
void store_apikey_list_free(store_apikey **list, size_t n);

#endif
