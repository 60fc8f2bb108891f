/*
 * guard.c - app_before (see app.h): the auth + rate-limit middleware run
 * before every routed request. For HTTP_ROUTE_NEEDS_AUTH routes:
 *
 *   1. X-API-Key: shape and checksum checked offline (a typo or a random
 *      string never reaches the database), then one indexed lookup by the
 *      peppered HMAC that also reads the key's revocation/lock state and the
 *      account's lock flag and tier. Checked on every call, so revoking or
 *      locking a key takes effect at once (no cache).
 *   2. The tier's rate limit, per key id: RateLimit-Policy / RateLimit on
 *      every answer from here on, 429 + Retry-After past the limit.
 *   3. Unless the route is APP_ROUTE_KEY_ONLY (POST /auth/token): the bearer
 *      JWT (RFC 8725 checks in auth/jwt.c), whose `sub` must be the key's
 *      account and whose `key_id` claim must be this key.
 *   4. The route's scopes against the key's current scopes.
 *
 * Every refusal is audited ("auth.failure", never with the key or token);
 * refusals of a known key count toward its abuse lock (10 in 60 s), which
 * is stored on the key and audited ("key.lock"). Nothing secret is logged.
 */
#include "server/app.h"
#include "server/app_internal.h"

#include "auth/apikey.h"
#include "http/log.h"
#include "store/api_keys.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef struct {
    char id[64];
    char account_id[64];
    char tier[16];
    char scopes[128];
    bool revoked, locked;
} key_row;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One indexed lookup: the key by HMAC, joined with its account. */
static int find_key(key_row *out, db_conn *c, const char *hmac_hex)
{
    db_stmt *st = NULL;
    int rc = db_query(&st, c,
                      "SELECT k.id, k.account_id, k.scopes, k.revoked_at, k.locked_at, a.locked, a.tier"
                      " FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.hmac = $1",
                      "t", hmac_hex);
    if (rc != 0)
        goto out;
    rc = db_step(st);
    if (rc == 0) {
        rc = FMUGW_ENOTFOUND;
        goto out;
    }
    if (rc < 0)
        goto out;
    const char *id = db_column_text(st, 0), *acct = db_column_text(st, 1), *scopes = db_column_text(st, 2),
               *tier = db_column_text(st, 6);
    snprintf(out->id, sizeof out->id, "%s", id ? id : "");
    snprintf(out->account_id, sizeof out->account_id, "%s", acct ? acct : "");
    snprintf(out->scopes, sizeof out->scopes, "%s", scopes ? scopes : "");
    snprintf(out->tier, sizeof out->tier, "%s", tier ? tier : "free");
    out->revoked = !db_column_is_null(st, 3);
    out->locked = !db_column_is_null(st, 4) || db_column_int64(st, 5) != 0;
    rc = 0;
out:
    db_finalize(st);
    return rc;
}

/* Audits a refusal; with a known key, counts it toward the abuse lock. */
static void failure_ex(app *a, db_conn *c, http_request *req, const char *key_id, const char *reason, bool count)
{
    json_t *d = json_pack("{s:s,s:s,s:s,s:s}", "reason", reason, "route", http_request_route_name(req), "ip",
                          http_request_client_ip(req), "request_id", http_request_id(req));
    app_audit(a, c, key_id ? key_id : "anonymous", "auth.failure", key_id, d);
    if (count && key_id && abuse_counter_fail(a->auth_failures, key_id)) {
        int rc = store_apikey_set_locked(c, key_id, true, "repeated authentication failures");
        if (rc != 0)
            fmugw_log_json(FMUGW_LOG_ERROR, "cannot lock key",
                           json_pack("{s:s,s:s}", "key_id", key_id, "error", fmugw_error_last()));
        app_audit(a, c, "system", "key.lock", key_id,
                  json_pack("{s:s,s:i}", "reason", "repeated authentication failures", "threshold", 10));
        fmugw_log_json(FMUGW_LOG_WARN, "key locked for review", json_pack("{s:s}", "key_id", key_id));
        /* The lock lives in the database now; count afresh after an unlock. */
        abuse_counter_reset(a->auth_failures, key_id);
    }
}

static void failure(app *a, db_conn *c, http_request *req, const char *key_id, const char *reason)
{
    failure_ex(a, c, req, key_id, reason, true);
}

static int unauthorized(http_request *req, const char *detail)
{
    http_header_add(req, "WWW-Authenticate", "Bearer realm=\"fmugw\"");
    return http_problem(req, HTTP_PROBLEM_UNAUTHORIZED, "%s", detail);
}

/* The bearer token of `Authorization: Bearer <token>`, or NULL. */
static const char *bearer_token(http_request *req)
{
    const char *h = http_request_header(req, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return *h ? h : NULL;
}

static int rate_limit(app *a, http_request *req, const key_row *k)
{
    const tier_limits *t = tier_limits_of(k->tier);
    ratelimit_result r;
    char policy[128], state[128];
    int rc = ratelimit_check(&r, a->rate, k->id, t->rate_per_s, (int64_t)t->burst);
    if (rc != 0 && rc != FMUGW_ELIMIT)
        return http_problem(req, HTTP_PROBLEM_INTERNAL, NULL);
    if (ratelimit_headers(policy, sizeof policy, state, sizeof state, t->tier, &r) == 0) {
        http_header_add(req, "RateLimit-Policy", policy);
        http_header_add(req, "RateLimit", state);
    }
    if (rc == FMUGW_ELIMIT) {
        char retry[32];
        snprintf(retry, sizeof retry, "%lld", (long long)(r.retry_after > 0 ? r.retry_after : 1));
        http_header_add(req, "Retry-After", retry);
        return http_problem(req, HTTP_PROBLEM_RATE_LIMITED, "rate limit of the %s tier exceeded", t->tier);
    }
    return 0;
}

/* Checks the bearer token against the key; 0 or a problem already set. */
static int check_token(app *a, db_conn *c, http_request *req, const key_row *k)
{
    const char *tok = bearer_token(req);
    json_t *claims = NULL;
    jwt_failure why = JWT_OK;
    int rc = 0;

    if (!tok) {
        failure(a, c, req, k->id, "missing_bearer_token");
        return unauthorized(req, "a bearer token from POST /auth/token is required");
    }
    jwt_verify_opts vo = {.iss = a->jwt_issuer, .aud = a->jwt_audience, .leeway = 0, .now = 0};
    if (jwt_verify(&claims, &why, a->jwt_keys, &vo, tok, strlen(tok)) != 0) {
        char reason[64];
        snprintf(reason, sizeof reason, "token_%s", jwt_failure_name(why));
        failure(a, c, req, k->id, reason);
        return unauthorized(req, why == JWT_EXPIRED ? "the token has expired" : "the token is not valid");
    }
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    const char *kid = json_string_value(json_object_get(claims, "key_id"));
    if (!sub || !kid || strcmp(sub, k->account_id) != 0 || strcmp(kid, k->id) != 0) {
        failure(a, c, req, k->id, "token_for_another_key");
        rc = unauthorized(req, "the token was not issued for this API key");
    }
    json_decref(claims);
    return rc;
}

static void free_principal(void *p)
{
    free(p);
}

int app_before(http_request *req, void *ud)
{
    app *a = ud;
    unsigned flags = http_request_route_flags(req);
    db_conn *c = NULL;
    key_row k;
    char hmac_hex[APIKEY_HASH_LEN + 1];
    int rc = 0;

    if (!(flags & HTTP_ROUTE_NEEDS_AUTH))
        return 0;
    if (db_pool_acquire(&c, a->db) != 0)
        return http_problem(req, HTTP_PROBLEM_UNAVAILABLE, "the database is not available");

    const char *key = http_request_header(req, "X-API-Key");
    if (!key || !*key) {
        failure(a, c, req, NULL, "missing_api_key");
        rc = unauthorized(req, "the X-API-Key header is required");
        goto out;
    }
    /* Offline first: a malformed key or bad checksum never reaches the
     * key table. */
    if (apikey_parse(key, strlen(key)) != 0) {
        failure(a, c, req, NULL, "malformed_api_key");
        rc = unauthorized(req, "the API key is malformed (bad length, prefix or checksum)");
        goto out;
    }
    if (apikey_hash(hmac_hex, a->pepper, sizeof a->pepper, key) != 0) {
        rc = http_problem(req, HTTP_PROBLEM_INTERNAL, NULL);
        goto out;
    }
    rc = find_key(&k, c, hmac_hex);
    crypto_wipe(hmac_hex, sizeof hmac_hex);
    if (rc == FMUGW_ENOTFOUND) {
        failure(a, c, req, NULL, "unknown_api_key");
        rc = unauthorized(req, "unknown API key");
        goto out;
    }
    if (rc != 0) {
        rc = http_problem(req, HTTP_PROBLEM_UNAVAILABLE, "the database is not available");
        goto out;
    }
    if (k.revoked) {
        failure_ex(a, c, req, k.id, "revoked_api_key", false);
        rc = unauthorized(req, "the API key has been revoked");
        goto out;
    }
    if (k.locked) {
        failure_ex(a, c, req, k.id, "locked_api_key", false); /* locked already */
        rc = http_problem(req, HTTP_PROBLEM_FORBIDDEN, "the API key or its account is locked; ask an administrator");
        goto out;
    }
    if ((rc = rate_limit(a, req, &k)) != 0)
        goto out;
    if (!(flags & APP_ROUTE_KEY_ONLY) && (rc = check_token(a, c, req, &k)) != 0)
        goto out;

    unsigned scopes = 0;
    if (scopes_parse(&scopes, k.scopes) != 0)
        scopes = 0; /* a stored scope this binary does not know grants nothing */
    unsigned need = APP_ROUTE_SCOPES(flags);
    if ((need & scopes) != need) {
        char want[128];
        scopes_format(want, sizeof want, need & ~scopes);
        failure_ex(a, c, req, k.id, "missing_scope", false); /* authorisation, not abuse */
        rc = http_problem(req, HTTP_PROBLEM_FORBIDDEN, "the API key lacks the scope %s", want);
        goto out;
    }

    principal *p = calloc(1, sizeof *p);
    if (!p) {
        rc = http_problem(req, HTTP_PROBLEM_INTERNAL, NULL);
        goto out;
    }
    snprintf(p->account_id, sizeof p->account_id, "%s", k.account_id);
    snprintf(p->key_id, sizeof p->key_id, "%s", k.id);
    snprintf(p->tier, sizeof p->tier, "%s", k.tier);
    p->scopes = scopes;
    http_request_set_user(req, p, free_principal);
    if (store_apikey_touch(c, k.id, now_ms()) != 0)
        fmugw_log_json(FMUGW_LOG_WARN, "cannot record key use",
                       json_pack("{s:s,s:s}", "key_id", k.id, "error", fmugw_error_last()));
out:
    db_pool_release(a->db, c);
    return rc;
}
