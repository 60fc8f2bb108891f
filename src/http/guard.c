/*
 * guard.c - app_before (see app.h): the auth + rate-limit middleware run
 * before every routed request. For HTTP_ROUTE_NEEDS_AUTH routes:
 *
 *   1. X-API-Key: shape and checksum checked offline (a typo or a random
 *      string never reaches the database), then one indexed lookup by the
 *      peppered HMAC that also reads the key's revocation/lock state and the
 *      account's lock flag and tier. The row is cached in memory
 *      (auth/auth_cache.h) under the database's change epoch (store/db.h:
 *      db_change_epoch, one atomic load of a counter that every write of
 *      any process moves) for at most a second: revoking or locking a key
 *      takes effect on the next request. A request served from the caches
 *      takes no database connection at all.
 *   2. The tier's rate limit, per account: all keys of an account share
 *      one bucket (app__rate_limit; its signed URLs have a second one),
 *      RateLimit-Policy / RateLimit on every answer from here on, 429 +
 *      Retry-After past the limit.
 *   3. Unless the route is APP_ROUTE_KEY_ONLY (POST /auth/token): the bearer
 *      JWT (RFC 8725 checks in auth/jwt.c), whose `sub` must be the key's
 *      account and whose `key_id` claim must be this key. Verified tokens
 *      are cached by the SHA-256 of their bytes (exp checked on each use,
 *      invalidated when a signing key is removed).
 *   4. The route's scopes against the key's current scopes.
 *   5. last_used_at written at most once per key per
 *      STORE_APIKEY_TOUCH_EVERY_MS per process (throttled in memory).
 *
 * Every refusal is audited ("auth.failure", never with the key or token),
 * within auth/failure_log.h's bounds: each address may fail 5 times a
 * second (burst 20), after which its refusals are 429s, and repeated
 * failures are one row per address, reason and minute with their count;
 * refusals of a known key count toward its abuse lock (10 in 60 s), which
 * is stored on the key and audited ("key.lock"). Nothing secret is logged.
 */
#include "server/app.h"
#include "server/app_internal.h"

#include "auth/apikey.h"
#include "auth/auth_cache.h"
#include "auth/failure_log.h"
#include "http/log.h"
#include "store/api_keys.h"
#include "util/crypto.h"
#include "util/error.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef auth_cached_key key_row;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the key's HMAC ------------------------------------------------------
 * apikey_hash() through a per-thread HMAC context keyed with the pepper
 * once (OpenSSL's one-shot HMAC fetches the algorithms on every call). */
typedef struct {
    EVP_MAC_CTX *ctx;
    uint8_t pepper[32];
} hmac_tls;

static EVP_MAC *hmac_alg;
static pthread_key_t hmac_key;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;
static bool hmac_ready;

static void hmac_tls_free(void *p)
{
    hmac_tls *t = p;
    EVP_MAC_CTX_free(t->ctx);
    crypto_wipe(t->pepper, sizeof t->pepper);
    free(t);
}

static void hmac_setup(void)
{
    hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
    hmac_ready = hmac_alg && pthread_key_create(&hmac_key, hmac_tls_free) == 0;
}

/* The thread's context, (re)keyed when the pepper differs; NULL on failure. */
static EVP_MAC_CTX *hmac_ctx(const uint8_t pepper[32])
{
    hmac_tls *t = pthread_getspecific(hmac_key);
    if (t && memcmp(t->pepper, pepper, 32) == 0)
        return EVP_MAC_init(t->ctx, NULL, 0, NULL) == 1 ? t->ctx : NULL;
    if (!t) {
        if (!(t = calloc(1, sizeof *t)))
            return NULL;
        if (!(t->ctx = EVP_MAC_CTX_new(hmac_alg)) || pthread_setspecific(hmac_key, t) != 0) {
            hmac_tls_free(t);
            return NULL;
        }
    }
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    memset(t->pepper, 0, sizeof t->pepper); /* no match until keyed */
    if (EVP_MAC_init(t->ctx, pepper, 32, params) != 1)
        return NULL;
    memcpy(t->pepper, pepper, 32);
    return t->ctx;
}

/* Same result as apikey_hash(out, pepper, 32, key). */
static int key_hash(char out[APIKEY_HASH_LEN + 1], const uint8_t pepper[32], const char *key)
{
    uint8_t mac[CRYPTO_SHA256_LEN];
    size_t n = 0;
    pthread_once(&hmac_once, hmac_setup);
    EVP_MAC_CTX *ctx = hmac_ready ? hmac_ctx(pepper) : NULL;
    if (!ctx || EVP_MAC_update(ctx, (const unsigned char *)key, strlen(key)) != 1 ||
        EVP_MAC_final(ctx, mac, &n, sizeof mac) != 1 || n != sizeof mac)
        return apikey_hash(out, pepper, 32, key);
    int rc = crypto_hex_encode(out, APIKEY_HASH_LEN + 1, mac, sizeof mac);
    crypto_wipe(mac, sizeof mac);
    return rc;
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

/* The guard's database connection, taken from the pool only when a request
 * needs it: a request served from the caches touches no database. */
typedef struct {
    app *a;
    db_conn *c;
    int64_t throttled_retry; /* > 0: the address is over its failure limit (answer 429) */
} guard_db;

static db_conn *gdb(guard_db *g)
{
    if (!g->c && db_pool_acquire(&g->c, g->a->db) != 0)
        g->c = NULL;
    return g->c;
}

/* The key by HMAC: from the cache if read at the current change epoch
 * (store/db.h: db_change_epoch) and recently enough, else from the
 * database (the epoch read first, so a write in between makes the cached
 * row stale at once). */
static int find_key_cached(key_row *out, guard_db *g, const char *hmac_hex)
{
    int64_t now = now_ms();
    int64_t epoch = (int64_t)db_pool_change_epoch(g->a->db);
    if (auth_cache_key_get(g->a->auth_cache, hmac_hex, epoch, now, out))
        return 0;
    db_conn *c = gdb(g);
    if (!c)
        return FMUGW_EIO;
    int rc = find_key(out, c, hmac_hex);
    if (rc != 0)
        return rc;
    auth_cache_key_put(g->a->auth_cache, hmac_hex, epoch, now, out);
    return 0;
}

static void iso_time(char out[32], int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    if (strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        out[0] = '\0';
}

/* Writes what a failure verdict asks for: the summaries of closed windows
 * and this failure's own row. `c` may be NULL (app_audit takes one). */
static void audit_failure(app *a, db_conn *c, http_request *req, const char *key_id, const char *reason,
                          const char *target, const failure_verdict *v)
{
    for (size_t i = 0; i < v->n_summaries; i++) {
        const failure_summary *s = &v->summaries[i];
        char first[32], last[32];
        iso_time(first, s->first_ms);
        iso_time(last, s->last_ms);
        app_audit(a, c, "anonymous", "auth.failure", NULL,
                  json_pack("{s:s,s:s,s:I,s:s,s:s,s:b}", "reason", s->reason, "ip", s->ip, "count",
                            (json_int_t)s->count, "first_at", first, "last_at", last, "aggregated", 1));
    }
    if (v->audit) {
        json_t *d = json_pack("{s:s,s:s,s:s,s:s}", "reason", reason, "route", http_request_route_name(req), "ip",
                              http_request_client_ip(req), "request_id", http_request_id(req));
        app_audit(a, c, key_id ? key_id : "anonymous", "auth.failure", target, d);
    }
}

int64_t app_auth_failure(app *a, http_request *req, const char *reason, const char *target)
{
    failure_verdict v;
    failure_log_note(&v, a->auth_failure_log, http_request_client_ip(req), reason, true, now_ms());
    audit_failure(a, NULL, req, NULL, reason, target, &v);
    return v.throttled ? v.retry_after : 0;
}

/* Audits a refusal (auth/failure_log.h: throttled per address, repeated
 * ones aggregated); with a known key, counts it toward the abuse lock. */
static void failure_ex(guard_db *g, http_request *req, const char *key_id, const char *reason, bool count)
{
    app *a = g->a;
    failure_verdict v;
    failure_log_note(&v, a->auth_failure_log, http_request_client_ip(req), reason, key_id == NULL, now_ms());
    if (v.throttled)
        g->throttled_retry = v.retry_after;
    db_conn *c = (v.audit || v.n_summaries || (count && key_id)) ? gdb(g) : NULL;
    if (!c) {
        if (v.audit || v.n_summaries)
            fmugw_log_json(FMUGW_LOG_ERROR, "cannot audit an auth failure: the database is not available",
                           json_pack("{s:s,s:s?}", "reason", reason, "key_id", key_id));
        return;
    }
    audit_failure(a, c, req, key_id, reason, key_id, &v);
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

static void failure(guard_db *g, http_request *req, const char *key_id, const char *reason)
{
    failure_ex(g, req, key_id, reason, true);
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

int app__rate_limit(app *a, http_request *req, const char *bucket, const char *tier)
{
    const tier_limits *t = tier_limits_of(tier);
    ratelimit_result r;
    char policy[128], state[128];
    int rc = ratelimit_check(&r, a->rate, bucket, t->rate_per_s, (int64_t)t->burst);
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
static int check_token(guard_db *g, http_request *req, const key_row *k)
{
    app *a = g->a;
    const char *tok = bearer_token(req);
    json_t *claims = NULL;
    jwt_failure why = JWT_OK;
    auth_cached_token t;
    uint8_t digest[CRYPTO_SHA256_LEN];
    bool cached = false, hashed = false;
    int rc = 0;

    if (!tok) {
        failure(g, req, k->id, "missing_bearer_token");
        return unauthorized(req, "a bearer token from POST /auth/token is required");
    }
    size_t len = strlen(tok);
    uint64_t gen = jwt_keyring_generation(a->jwt_keys); /* before verifying: a removal meanwhile misses */
    int64_t now = (int64_t)time(NULL);
    hashed = len <= JWT_MAX_TOKEN && crypto_sha256(digest, tok, len) == 0;
    if (hashed)
        cached = auth_cache_token_get(a->auth_cache, digest, gen, now, &t);
    if (!cached) {
        jwt_verify_opts vo = {.iss = a->jwt_issuer, .aud = a->jwt_audience, .leeway = 0, .now = now};
        if (jwt_verify(&claims, &why, a->jwt_keys, &vo, tok, len) != 0) {
            char reason[64];
            snprintf(reason, sizeof reason, "token_%s", jwt_failure_name(why));
            failure(g, req, k->id, reason);
            return unauthorized(req, why == JWT_EXPIRED ? "the token has expired" : "the token is not valid");
        }
        const char *sub = json_string_value(json_object_get(claims, "sub"));
        const char *kid = json_string_value(json_object_get(claims, "key_id"));
        json_int_t exp = json_integer_value(json_object_get(claims, "exp"));
        memset(&t, 0, sizeof t);
        if (sub && kid && strlen(sub) < sizeof t.sub && strlen(kid) < sizeof t.key_id) {
            snprintf(t.sub, sizeof t.sub, "%s", sub);
            snprintf(t.key_id, sizeof t.key_id, "%s", kid);
            t.exp = (int64_t)exp;
            if (hashed)
                auth_cache_token_put(a->auth_cache, digest, gen, &t);
        }
        json_decref(claims);
    }
    if (!t.sub[0] || !t.key_id[0] || strcmp(t.sub, k->account_id) != 0 || strcmp(t.key_id, k->id) != 0) {
        failure(g, req, k->id, "token_for_another_key");
        rc = unauthorized(req, "the token was not issued for this API key");
    }
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
    guard_db g = {.a = a, .c = NULL};
    guard_db *gp = &g;
    key_row k;
    char hmac_hex[APIKEY_HASH_LEN + 1];
    int rc = 0;

    if (!(flags & HTTP_ROUTE_NEEDS_AUTH))
        return 0;

    const char *key = http_request_header(req, "X-API-Key");
    if (!key || !*key) {
        failure(gp, req, NULL, "missing_api_key");
        rc = unauthorized(req, "the X-API-Key header is required");
        goto out;
    }
    /* Offline first: a malformed key or bad checksum never reaches the
     * key table. */
    if (apikey_parse(key, strlen(key)) != 0) {
        failure(gp, req, NULL, "malformed_api_key");
        rc = unauthorized(req, "the API key is malformed (bad length, prefix or checksum)");
        goto out;
    }
    if (key_hash(hmac_hex, a->pepper, key) != 0) {
        rc = http_problem(req, HTTP_PROBLEM_INTERNAL, NULL);
        goto out;
    }
    rc = find_key_cached(&k, gp, hmac_hex);
    crypto_wipe(hmac_hex, sizeof hmac_hex);
    if (rc == FMUGW_ENOTFOUND) {
        failure(gp, req, NULL, "unknown_api_key");
        rc = unauthorized(req, "unknown API key");
        goto out;
    }
    if (rc != 0) {
        rc = http_problem(req, HTTP_PROBLEM_UNAVAILABLE, "the database is not available");
        goto out;
    }
    if (k.revoked) {
        failure_ex(gp, req, k.id, "revoked_api_key", false);
        rc = unauthorized(req, "the API key has been revoked");
        goto out;
    }
    if (k.locked) {
        failure_ex(gp, req, k.id, "locked_api_key", false); /* locked already */
        rc = http_problem(req, HTTP_PROBLEM_FORBIDDEN, "the API key or its account is locked; ask an administrator");
        goto out;
    }
    if ((rc = app__rate_limit(a, req, k.account_id, k.tier)) != 0)
        goto out;
    if (!(flags & APP_ROUTE_KEY_ONLY) && (rc = check_token(gp, req, &k)) != 0)
        goto out;

    unsigned scopes = 0;
    if (scopes_parse(&scopes, k.scopes) != 0)
        scopes = 0; /* a stored scope this binary does not know grants nothing */
    unsigned need = APP_ROUTE_SCOPES(flags);
    if ((need & scopes) != need) {
        char want[128];
        scopes_format(want, sizeof want, need & ~scopes);
        failure_ex(gp, req, k.id, "missing_scope", false); /* authorisation, not abuse */
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
    int64_t now = now_ms();
    if (auth_cache_touch_due(a->auth_cache, k.id, now, STORE_APIKEY_TOUCH_EVERY_MS) &&
        (!gdb(gp) || store_apikey_touch(g.c, k.id, now) != 0))
        fmugw_log_json(FMUGW_LOG_WARN, "cannot record key use",
                       json_pack("{s:s,s:s}", "key_id", k.id, "error", fmugw_error_last()));
out:
    if (g.throttled_retry > 0 && rc != 0 && http_response_status(req) != 429) {
        /* Over the address's failure limit: the same refusal, as a 429. */
        char retry[32];
        snprintf(retry, sizeof retry, "%lld", (long long)g.throttled_retry);
        http_header_add(req, "Retry-After", retry);
        rc = http_problem(req, HTTP_PROBLEM_RATE_LIMITED,
                          "too many failed authentications from this address; try again in %lld s",
                          (long long)g.throttled_retry);
    }
    if (g.c)
        db_pool_release(a->db, g.c);
    return rc;
}
