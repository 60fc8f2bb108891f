/*
 * app.h - the gateway application: everything a request handler needs,
 * built once at start from the configuration, and the seams between the
 * files that make up the API.
 *
 *   src/server/app.c      app_open/app_free: data directory, secrets, database
 *                         (migrated), blob store, keyrings, limiters, first-start
 *                         bootstrap, public sample FMUs; app_audit
 *   src/server/admin.c    `fmugwd admin ...` (works on the data directory offline)
 *   src/http/guard.c      app_before: the auth + rate-limit middleware
 *   src/http/auth.c       POST /auth/token                      (app_routes_auth)
 *   src/http/fmu.c        /fmu..., /uploads/{id}, /downloads/{id} (app_routes_fmu)
 *   src/http/jobs.c       /fmu/execute, /fmu/status, /jobs, results (app_routes_jobs)
 *   src/jobs/             the job system: queue, workers, results (jobs/jobs.h)
 *   src/registry/         the upload pipeline: stream -> SHA-256 + seal -> blob,
 *                         verify, validate, summarize
 *
 * Data directory (created 0700; secrets 0600; generated on first start when
 * not given by configuration):
 *   fmugw.db            SQLite (WAL) metadata
 *   blobs/              content-addressed encrypted blobs (store/blob.h)
 *   secrets/pepper      32 random bytes: HMAC pepper of stored API keys
 *   secrets/jwt.keys    "kid hexkey" lines; the last is the signing key
 *                       (FMUGW_JWT_SECRET, when set, is used as kid "env")
 *   secrets/master.keys "kid hexkey" lines; the last is active for new blobs
 *                       (FMUGW_MASTER_KEY, when set, is used as kid "env")
 *   secrets/url.key     32 random bytes: HMAC key of signed upload/download URLs
 *   tmp/                partial uploads (removed at start)
 *   jobs/               running jobs' private directories and the sandbox
 *                       pool's (src/jobs; renewed at start, the old one moved aside)
 *
 * Ownership: the app owns everything it opens; app_free(NULL) is a no-op.
 * Handlers borrow the app (route `ud`) and take a database connection from
 * app->db for the length of a request (db_pool_acquire / db_pool_release).
 */
#ifndef FMUGW_SERVER_APP_H
#define FMUGW_SERVER_APP_H

#include "auth/jwt.h"
#include "auth/ratelimit.h"
#include "http/server.h"
#include "server/config.h"
#include "store/blob.h"
#include "store/db.h"
#include "util/crypto.h"

#include <stdbool.h>
#include <stdint.h>

/* Scopes of an API key (stored as a space-separated list of names). */
enum {
    SCOPE_FMU_READ = 1u << 0,     /* "fmu:read" */
    SCOPE_FMU_WRITE = 1u << 1,    /* "fmu:write" */
    SCOPE_JOBS_RUN = 1u << 2,     /* "jobs:run" */
    SCOPE_ACCOUNT_READ = 1u << 3, /* "account:read" */
    SCOPE_ADMIN = 1u << 4         /* "admin" */
};
#define SCOPE_DEFAULT (SCOPE_FMU_READ | SCOPE_FMU_WRITE | SCOPE_JOBS_RUN | SCOPE_ACCOUNT_READ)

/** Parses "fmu:read jobs:run" into a mask; FMUGW_EINVALID naming an unknown
 *  scope. */
int scopes_parse(unsigned *out, const char *text);
/** Writes the space-separated names of `mask` into buf. */
void scopes_format(char *buf, size_t size, unsigned mask);

/* Route flags (http_route.flags) the guard interprets, on top of
 * HTTP_ROUTE_NEEDS_AUTH: the scope a route requires. */
#define APP_ROUTE_SCOPE(mask) ((unsigned)(mask) << 8) /* bits 8.. = HTTP_ROUTE_USER.. */
#define APP_ROUTE_SCOPES(flags) (((flags) >> 8) & 0xffu)

/* Per-tier limits, read from pricing.json (app->pricing) once the app is
 * open; built-in defaults before that. */
typedef struct {
    const char *tier;       /* "free", "pro", "enterprise" */
    double rate_per_s;      /* requests per second per account (its keys share it) */
    double burst;
    uint64_t max_fmu_bytes; /* largest FMU upload */
    unsigned max_api_keys;  /* keys not revoked an account may hold */
} tier_limits;

/** The limits of `tier` (free's for an unknown tier). */
const tier_limits *tier_limits_of(const char *tier);

/* The authenticated caller of a request, set by app_before() with
 * http_request_set_user() and read with app_principal(). */
typedef struct {
    char account_id[64];
    char key_id[64];
    char tier[16];
    unsigned scopes;
} principal;

struct pricing;     /* ledger/pricing.h: tiers and cost model (issue 5) */
struct job_system;  /* jobs/jobs.h: queue, workers, results (issue 5) */

typedef struct app {
    fmugw_config *cfg;             /* borrowed from main */
    struct pricing *pricing;       /* loaded from pricing.json (ledger helper) */
    struct job_system *jobs;       /* started for roles all|worker (jobs helper) */
    struct app_grants *grants;     /* monthly credit grant sweep thread (ledger helper) */
    db_pool *db;
    blob_store *blobs;
    crypto_keyring *master_keys;
    jwt_keyring *jwt_keys;
    uint8_t pepper[32];
    uint8_t url_key[32];
    ratelimit *rate;
    abuse_counter *auth_failures;  /* per key id: failed auths -> lock */
    struct failure_log *auth_failure_log; /* per address: failure limit + audit aggregation */
    abuse_counter *upload_rejects; /* per key id: rejected uploads -> lock */
    char *tmp_dir;                 /* <data>/tmp */
    const char *jwt_issuer;        /* "fmugw" */
    const char *jwt_audience;      /* "fmugw-api" */
    unsigned token_ttl_s;          /* <= 900 */
    unsigned url_ttl_s;            /* signed URL lifetime, 300 */
    struct auth_cache *auth_cache; /* guard.c: key/token/touch caches (auth/auth_cache.h) */
} app;

/** Opens the data directory, loads or creates the secrets, opens and
 *  migrates the database, opens the blob store, builds keyrings and
 *  limiters, and on first start creates the admin account and prints its
 *  API key once to stdout (one JSON line: {"admin_account_id":..,
 *  "admin_api_key":..}). Imports the public sample FMUs from `samples_dir`
 *  (may be NULL) if not there yet. */
int app_open(app **out, fmugw_config *cfg, const char *samples_dir);

void app_free(app *a);

/** Registers the routes of each resource file. */
int app_routes_auth(app *a, http_server *srv);
int app_routes_fmu(app *a, http_server *srv);
/** The job routes (src/http/jobs.c): /fmu/execute, /fmu/status, /fmu/cancel,
 *  /jobs, /fmu/results, /results/{id} (signed), DELETE /account/data. */
int app_routes_jobs(app *a, http_server *srv);
/** GET /account, /account/ledger, /account/usage (src/http/account.c). */
int app_routes_account(app *a, http_server *srv);

/** The auth + rate-limit middleware (http_server_options.before, ud = app):
 *  for HTTP_ROUTE_NEEDS_AUTH routes requires X-API-Key (checksum checked
 *  offline first; then looked up by HMAC; revoked/locked refused) and the
 *  bearer JWT issued for that key (RFC 8725 checks; `key_id` claim = key id;
 *  a revoked key's tokens fail at once: key lookups are cached only per
 *  auth epoch, read on every call), checks the route's scopes, applies the tier's rate limit
 *  (RateLimit-Policy / RateLimit headers on every answer, 429 +
 *  Retry-After), counts failures toward the abuse lock, and sets the
 *  principal. */
int app_before(http_request *req, void *ud);

/** The check of a request reached through a signed URL
 *  (src/http/signed_access.c), for `method` on `path`: each of account,
 *  expires and sig exactly once, the signature and expiry, and the
 *  account, read now, neither locked (403) nor gone (404). 0 with
 *  *account (borrowed from the request) set, or a problem answered
 *  (HTTP_STOP). `what` ("upload", "download", "result") names the URL in
 *  problems and the audit. */
int app_signed_access(app *a, http_request *req, const char *method, const char *path, const char *what,
                      const char **account);

/** The principal of an authenticated request (NULL if none). */
const principal *app_principal(const http_request *req);

/** Appends to the audit chain (actor = account or key id or "system",
 *  action like "auth.failure", "key.create", "fmu.upload", target, detail
 *  JSON stolen). Uses its own connection when `c` is NULL. Failure to audit
 *  is logged, never silent. */
int app_audit(app *a, db_conn *c, const char *actor, const char *action, const char *target, json_t *detail);

/** An anonymous authentication failure outside the guard (a bad signed
 *  URL): noted in the failure log (auth/failure_log.h) and audited within
 *  its bounds, as the guard does. Returns the Retry-After seconds when the
 *  address is over its failure limit (answer 429), else 0. */
int64_t app_auth_failure(app *a, http_request *req, const char *reason, const char *target);

#endif
