/* api_keys.c - the API key repository (see api_keys.h). */
#include "api_keys.h"
#include "store_util.h"
#include "util/error.h"

#include <stdlib.h>
#include <string.h>

#define COLS                                                                                                 \
    "k.id, k.account_id, k.prefix, k.scopes, k.name, k.created_at, k.last_used_at, k.revoked_at, k.locked_at, " \
    "k.lock_reason, a.locked"
#define FROM " FROM api_keys k JOIN accounts a ON a.id = k.account_id "

void store_apikey_free(store_apikey *k)
{
    if (!k)
        return;
    free(k->id);
    free(k->account_id);
    free(k->prefix);
    free(k->scopes);
    free(k->name);
    free(k->lock_reason);
    free(k);
}

void store_apikey_list_free(store_apikey **list, size_t n)
{
    if (!list)
        return;
    for (size_t i = 0; i < n; i++)
        store_apikey_free(list[i]);
    free(list);
}

static int read_row(store_apikey **out, db_stmt *st)
{
    store_apikey *k = calloc(1, sizeof *k);
    int rc = k ? 0 : fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    if (rc == 0)
        rc = db_column_text_dup(&k->id, st, 0);
    if (rc == 0)
        rc = db_column_text_dup(&k->account_id, st, 1);
    if (rc == 0)
        rc = db_column_text_dup(&k->prefix, st, 2);
    if (rc == 0)
        rc = db_column_text_dup(&k->scopes, st, 3);
    if (rc == 0)
        rc = db_column_text_dup(&k->name, st, 4);
    if (rc == 0)
        rc = db_column_text_dup(&k->lock_reason, st, 9);
    if (rc != 0) {
        store_apikey_free(k);
        return rc;
    }
    k->created_at = db_column_int64(st, 5);
    k->last_used_at = db_column_int64(st, 6);
    k->revoked_at = db_column_int64(st, 7);
    k->locked_at = db_column_int64(st, 8);
    k->account_locked = db_column_int64(st, 10) != 0;
    *out = k;
    return 0;
}

static int get_one(store_apikey **out, db_stmt *st)
{
    int rc = db_step(st);
    if (rc == 1)
        rc = read_row(out, st);
    else if (rc == 0)
        rc = fmugw_error_set(FMUGW_ENOTFOUND, "no such API key");
    db_finalize(st);
    return rc;
}

static int hmac_hex(char out[2 * STORE_APIKEY_HMAC_MAX + 1], const unsigned char *hmac, size_t len)
{
    if (!hmac || len < 16 || len > STORE_APIKEY_HMAC_MAX)
        return fmugw_error_set(FMUGW_EINVALID, "an API key HMAC has 16-%d bytes", STORE_APIKEY_HMAC_MAX);
    store__hex(out, hmac, len);
    return 0;
}

int store_apikey_insert(store_apikey **out, db_conn *c, const char *id, const char *account_id,
                        const char *prefix, const unsigned char *hmac, size_t hmac_len, const char *scopes,
                        const char *name)
{
    char hex[2 * STORE_APIKEY_HMAC_MAX + 1], gen[STORE_ID_MAX];
    if (out)
        *out = NULL;
    if (!account_id || !prefix || !*prefix || !scopes)
        return fmugw_error_set(FMUGW_EINVALID, "an API key needs an account, a prefix and scopes");
    int rc = hmac_hex(hex, hmac, hmac_len);
    if (rc == 0 && !id) {
        rc = store__new_id(gen, "key");
        id = gen;
    }
    if (rc != 0)
        return rc;
    rc = db_execp(NULL, c,
                  "INSERT INTO api_keys (id, account_id, prefix, hmac, scopes, name, created_at)"
                  " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                  "tttttti", id, account_id, prefix, hex, scopes, name, store__now_ms());
    if (rc == FMUGW_EEXISTS)
        return fmugw_error_set(rc, "an API key with this id or secret already exists");
    if (rc == FMUGW_EINVALID)
        return fmugw_error_set(rc, "cannot insert the API key (unknown account?): %s", fmugw_error_last());
    if (rc == 0 && out)
        rc = store_apikey_get(out, c, account_id, id);
    return rc;
}

int store_apikey_find_by_hmac(store_apikey **out, db_conn *c, const unsigned char *hmac, size_t hmac_len)
{
    char hex[2 * STORE_APIKEY_HMAC_MAX + 1];
    db_stmt *st = NULL;
    *out = NULL;
    int rc = hmac_hex(hex, hmac, hmac_len);
    if (rc == 0)
        rc = db_query(&st, c, "SELECT " COLS FROM "WHERE k.hmac = $1", "t", hex);
    return rc == 0 ? get_one(out, st) : rc;
}

int store_apikey_get(store_apikey **out, db_conn *c, const char *account_id, const char *key_id)
{
    db_stmt *st = NULL;
    *out = NULL;
    int rc = account_id ? db_query(&st, c, "SELECT " COLS FROM "WHERE k.id = $1 AND k.account_id = $2", "tt",
                                   key_id, account_id)
                        : db_query(&st, c, "SELECT " COLS FROM "WHERE k.id = $1", "t", key_id);
    return rc == 0 ? get_one(out, st) : rc;
}

int store_apikey_list(store_apikey ***out, size_t *n, db_conn *c, const char *account_id)
{
    db_stmt *st = NULL;
    store_apikey **list = NULL;
    size_t count = 0, cap = 0;
    *out = NULL;
    *n = 0;
    int rc = db_query(&st, c, "SELECT " COLS FROM "WHERE k.account_id = $1 ORDER BY k.created_at, k.id", "t",
                      account_id);
    while (rc == 0 && (rc = db_step(st)) == 1) {
        if (count == cap) {
            size_t ncap = cap ? 2 * cap : 8;
            store_apikey **p = realloc(list, ncap * sizeof *p);
            if (!p) {
                rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
                break;
            }
            list = p;
            cap = ncap;
        }
        rc = read_row(&list[count], st);
        if (rc == 0)
            count++;
    }
    db_finalize(st);
    if (rc != 0) {
        store_apikey_list_free(list, count);
        return rc;
    }
    *out = list;
    *n = count;
    return 0;
}

int store_apikey_count_active(int64_t *n, db_conn *c, const char *account_id)
{
    db_stmt *st = NULL;
    *n = 0;
    int rc = db_query(&st, c, "SELECT COUNT(*) FROM api_keys WHERE account_id = $1 AND revoked_at IS NULL", "t",
                      account_id);
    if (rc == 0 && (rc = db_step(st)) == 1) {
        *n = db_column_int64(st, 0);
        rc = 0;
    } else if (rc == 0) {
        rc = fmugw_error_set(FMUGW_EIO, "counting API keys returned no row");
    }
    db_finalize(st);
    return rc;
}

int store_apikey_revoke(db_conn *c, const char *account_id, const char *key_id)
{
    int64_t changes = 0, now = store__now_ms();
    int rc = account_id ? db_execp(&changes, c,
                                   "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1)"
                                   " WHERE id = $2 AND account_id = $3",
                                   "itt", now, key_id, account_id)
                        : db_execp(&changes, c,
                                   "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2", "it",
                                   now, key_id);
    if (rc == 0 && changes == 0)
        rc = fmugw_error_set(FMUGW_ENOTFOUND, "no such API key");
    return rc;
}

int store_apikey_touch(db_conn *c, const char *key_id, int64_t now_ms)
{
    return db_execp(NULL, c,
                    "UPDATE api_keys SET last_used_at = $1"
                    " WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $3)",
                    "iti", now_ms, key_id, now_ms - STORE_APIKEY_TOUCH_EVERY_MS);
}

int store_apikey_set_locked(db_conn *c, const char *key_id, bool locked, const char *reason)
{
    int64_t changes = 0;
    int rc = locked ? db_execp(&changes, c,
                               "UPDATE api_keys SET locked_at = COALESCE(locked_at, $1), lock_reason = $2"
                               " WHERE id = $3",
                               "itt", store__now_ms(), reason, key_id)
                    : db_execp(&changes, c, "UPDATE api_keys SET locked_at = NULL, lock_reason = NULL WHERE id = $1",
                               "t", key_id);
    if (rc == 0 && changes == 0)
        rc = fmugw_error_set(FMUGW_ENOTFOUND, "no such API key");
    return rc;
}
