/*
 * signed_access.c - app_signed_access (see app.h): the one check every
 * route reached through a signed URL (PUT /uploads/{id}, GET
 * /downloads/{id}, GET /results/{id}) runs before touching anything.
 *
 *   1. Each signed parameter (account, key, expires, sig) appears at most
 *      once (all but key exactly once):
 *      the HTTP library hands out the first of a repeated parameter, so
 *      "sig=good&sig=junk" (or a second account=) would otherwise be
 *      judged on one value while other layers might read another.
 *   2. The signature and expiry (auth/signed_url.h).
 *   3. The account the URL was issued for, read from the database now:
 *      a URL issued before the account was locked (or deleted) stops
 *      working at once. A locked account gets 403 naming the lock; an
 *      account that no longer exists 404.
 *   4. For a URL bound to the API key that asked for it (`key=`, all the
 *      URLs the gateway issues): that key, read now, neither revoked nor
 *      locked (403 naming it), so revoking a leaked key also ends the URLs
 *      obtained with it. URLs without `key` (issued before keys were
 *      bound) are checked against the account only.
 *   5. The tier's rate limit on the account's signed-URL bucket
 *      ("url:<account>", beside the one its keys share): a URL cannot be
 *      replayed faster than the tier allows (429).
 *
 * Every refusal is audited as "auth.failure" (reason, route, address;
 * never the signature) through app_auth_failure: limited per address (429
 * past it) and aggregated like the guard's. Refusals answer 403 except the
 * 404 above.
 */
#include "auth/signed_url.h"
#include "http/log.h"
#include "server/app.h"
#include "server/app_internal.h"
#include "store/accounts.h"
#include "store/api_keys.h"
#include "util/error.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static int refuse(app *a, http_request *req, const char *what, const char *reason, http_problem_kind kind,
                  const char *detail)
{
    (void)what; /* the route is in the audit row's "route" */
    int64_t retry = app_auth_failure(a, req, reason, http_request_param(req, "id"));
    if (retry > 0) {
        char r[32];
        snprintf(r, sizeof r, "%lld", (long long)retry);
        http_header_add(req, "Retry-After", r);
        return http_problem(req, HTTP_PROBLEM_RATE_LIMITED,
                            "too many failed authentications from this address; try again in %lld s",
                            (long long)retry);
    }
    return http_problem(req, kind, "%s", detail);
}

int app_signed_access(app *a, http_request *req, const char *method, const char *path, const char *what,
                      const char **account_out)
{
    static const char *const signed_names[] = {"account", "key", "expires", "sig"};
    char detail[256];
    *account_out = NULL;

    for (size_t i = 0; i < sizeof signed_names / sizeof signed_names[0]; i++) {
        if (http_request_query_count(req, signed_names[i]) > 1) {
            snprintf(detail, sizeof detail, "invalid %s URL: the parameter %s is repeated", what, signed_names[i]);
            return refuse(a, req, what, "repeated_parameter", HTTP_PROBLEM_FORBIDDEN, detail);
        }
    }
    const char *account = http_request_query(req, "account");
    const char *expires = http_request_query(req, "expires");
    const char *sig = http_request_query(req, "sig");
    const char *key_id = http_request_query(req, "key");
    signed_url_failure why = SIGNED_URL_MALFORMED;
    if (!account || !expires || !sig ||
        signed_url_verify_for_key(&why, a->url_key, sizeof a->url_key, method, path, account, key_id, expires, sig,
                                  (int64_t)time(NULL)) != 0) {
        if (why == SIGNED_URL_EXPIRED) {
            snprintf(detail, sizeof detail, "%s URL expired", what);
            return refuse(a, req, what, "expired", HTTP_PROBLEM_FORBIDDEN, detail);
        }
        snprintf(detail, sizeof detail, "invalid %s URL signature", what);
        return refuse(a, req, what, why == SIGNED_URL_TAMPERED ? "tampered" : "malformed", HTTP_PROBLEM_FORBIDDEN,
                      detail);
    }

    db_conn *c = NULL;
    store_account *acct = NULL;
    if (db_pool_acquire(&c, a->db) != 0)
        return http_problem(req, HTTP_PROBLEM_UNAVAILABLE, "the database is not available");
    store_apikey *k = NULL;
    int rc = store_account_get(&acct, c, account);
    int krc = rc == 0 && key_id ? store_apikey_get(&k, c, account, key_id) : 0;
    db_pool_release(a->db, c);
    if (rc == FMUGW_ENOTFOUND)
        return refuse(a, req, what, "unknown_account", HTTP_PROBLEM_NOT_FOUND, "not found");
    if (rc != 0) {
        fmugw_log_json(FMUGW_LOG_ERROR, "cannot read the account of a signed URL",
                       json_pack("{s:s,s:s}", "error", fmugw_error_last(), "request_id", http_request_id(req)));
        return http_problem(req, HTTP_PROBLEM_UNAVAILABLE, "the database is not available");
    }
    if (krc != 0 && krc != FMUGW_ENOTFOUND) {
        store_account_free(acct);
        return http_problem(req, HTTP_PROBLEM_UNAVAILABLE, "the database is not available");
    }
    bool key_revoked = key_id && (krc == FMUGW_ENOTFOUND || k->revoked_at != 0);
    bool key_locked = key_id && k && k->locked_at != 0;
    store_apikey_free(k);
    if (key_revoked || key_locked) {
        store_account_free(acct);
        snprintf(detail, sizeof detail,
                 "the API key that issued this %s URL has been %s: the URL no longer works", what,
                 key_revoked ? "revoked" : "locked");
        return refuse(a, req, what, key_revoked ? "revoked_api_key" : "locked_api_key", HTTP_PROBLEM_FORBIDDEN,
                      detail);
    }
    if (acct->locked) {
        store_account_free(acct);
        snprintf(detail, sizeof detail,
                 "the account is locked: its %s URLs no longer work; ask an administrator", what);
        return refuse(a, req, what, "locked_account", HTTP_PROBLEM_FORBIDDEN, detail);
    }
    char bucket[96];
    snprintf(bucket, sizeof bucket, "url:%s", account);
    rc = app__rate_limit(a, req, bucket, acct->tier);
    store_account_free(acct);
    if (rc != 0)
        return rc;
    *account_out = account;
    return 0;
}
