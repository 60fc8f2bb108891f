/*
 * app_internal.h - what the files of the gateway core share beyond the
 * app.h contract: the offline open used by `fmugwd admin`, API key
 * creation (bootstrap, admin CLI, POST /keys), the admin entry point, and
 * one more route flag of the guard. Not for resource files.
 */
#ifndef FMUGW_SERVER_APP_INTERNAL_H
#define FMUGW_SERVER_APP_INTERNAL_H

#include "auth/apikey.h"
#include "server/app.h"
#include "ledger/storage_charge.h"
#include "store/api_keys.h"

/* Route flag (bit 16, above the scope bits): the route takes the X-API-Key
 * alone, without a bearer token (POST /auth/token). */
#define APP_ROUTE_KEY_ONLY (1u << 16)

/* app__open flags. */
enum {
    APP_OPEN_SERVE = 0,      /* the daemon: everything, bootstrap, samples */
    APP_OPEN_OFFLINE = 1u << 0 /* admin CLI: secrets + database only; no
                                  bootstrap, no samples, tmp/ untouched */
};

/** The tier's request rate limit for the bucket `bucket` (src/http/guard.c):
 *  the account id for API requests (one bucket per account, shared by all
 *  its keys), "url:<account id>" for its signed URLs (a second bucket, so
 *  that fetching results does not compete with polling). Adds the
 *  RateLimit-Policy / RateLimit headers; past the limit answers 429 with
 *  Retry-After and returns HTTP_STOP; 0 when allowed. */
int app__rate_limit(app *a, http_request *req, const char *bucket, const char *tier);

/** app_open() with flags (APP_OPEN_*). */
int app__open(app **out, fmugw_config *cfg, const char *samples_dir, unsigned flags);

/** Creates an API key for `account_id` with `scopes` (and an optional
 *  `name`): writes the secret key (shown once) into key_out and the key id
 *  into id_out. Joins an outer transaction on `c`. Does not audit.
 *  FMUGW_ELIMIT (nothing created) when the account already holds its
 *  tier's max_api_keys keys that are not revoked. */
int app__key_create(app *a, db_conn *c, const char *account_id, unsigned scopes, const char *name,
                    char key_out[APIKEY_LEN + 1], char id_out[APIKEY_ID_LEN + 1]);

/** Grants an account its tier's monthly credits for the billing cycle
 *  containing `now_ms` (ledger key "grant:<account>:<cycle start day>");
 *  0 also when that cycle was already granted. Joins an outer
 *  transaction on `c`. */
int app__grant_cycle(app *a, db_conn *c, const char *account_id, const char *tier, int64_t created_ms,
                     int64_t now_ms);

/** Applies the current cycle's grant to every account (the sweep run at
 *  start and every hour). *granted (may be NULL) counts new grants. */
int app__grant_sweep(app *a, size_t *granted);

/** Runs the storage accrual for every account (once per UTC day each;
 *  ledger/storage_charge.h), logging failures: the daemon's daily charge,
 *  run by the grant sweep. `out` (may be NULL) gets the totals. */
int app__storage_sweep(app *a, storage_sweep *out);

/** RFC 3339 UTC text of a unix-ms time, or JSON null for 0 (new ref). */
json_t *app__time_json(int64_t ms);

/** `fmugwd admin ...` (argv[0] = "admin"). Returns the exit status. */
int admin_main(int argc, char **argv);

#endif
