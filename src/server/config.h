/*
 * config.h - fmugwd configuration: embedded defaults, then a config file,
 * then environment variables, then command-line flags (each overrides the
 * one before).
 *
 * File format: UTF-8 text, one `key = value` per line; blank lines and lines
 * starting with '#' are ignored; whitespace around key and value is
 * trimmed; a value may be wrapped in double quotes (kept verbatim inside).
 * Unknown keys are an error (typos must not pass silently). Keys:
 *
 *   key                 env (first found wins)                default
 *   listen              FMUGW_LISTEN                          127.0.0.1:8080
 *   data_dir            FMUGW_DATA_DIR                        ./data (created 0700)
 *   role                FMUGW_ROLE                            all (all|api|worker)
 *   threads             FMUGW_THREADS                         4
 *   database_url        FMUGW_DATABASE_URL, DATABASE_URL      "" (= SQLite in data_dir)
 *   redis_url           FMUGW_REDIS_URL, REDIS_URL            "" (= embedded queue)
 *   jwt_secret          FMUGW_JWT_SECRET, JWT_SECRET          "" (secret)
 *   s3_bucket           FMUGW_S3_BUCKET, S3_BUCKET            "" (= blobs in data_dir)
 *   master_key          FMUGW_MASTER_KEY                      "" (secret)
 *   log_level           FMUGW_LOG_LEVEL                       info
 *   openapi_path        FMUGW_OPENAPI_PATH                    api/openapi.yaml
 *   max_body_bytes      FMUGW_MAX_BODY_BYTES                  1048576
 *   max_header_bytes    FMUGW_MAX_HEADER_BYTES                65536 (per-connection memory)
 *   timeout_s           FMUGW_TIMEOUT_S                       30
 *   max_connections     FMUGW_MAX_CONNECTIONS                 1024
 *   per_ip_connections  FMUGW_PER_IP_CONNECTIONS              64
 *   json_max_depth      FMUGW_JSON_MAX_DEPTH                  32
 *   header_timeout_s    FMUGW_HEADER_TIMEOUT_S                10 (request headers due after accept)
 *   probe_reserve       FMUGW_PROBE_RESERVE                   32 (connections above max_connections
 *                                                             kept for /healthz and /readyz)
 *   shutdown_grace_s    FMUGW_SHUTDOWN_GRACE_S                20
 *   url_ttl_s           FMUGW_URL_TTL_S                       300 (signed upload/download URLs, 1..3600)
 *   token_ttl_s         FMUGW_TOKEN_TTL_S                     900 (1..900: JWT lifetime)
 *   samples_dir         FMUGW_SAMPLES_DIR                     "" (= <dir of fmugwd>/../fmus if there)
 *   workers             FMUGW_WORKERS                         0 (= one job worker per core; roles all|worker)
 *   retention_override_s FMUGW_RETENTION_OVERRIDE_S           0 (= each tier's retention_days; tests set seconds)
 *   pricing_path        FMUGW_PRICING_PATH                    "" (= <data_dir>/../pricing.json,
 *                                                             ./pricing.json, the repository's)
 *
 * Secrets (jwt_secret, master_key, the password part of database_url and
 * redis_url) are never printed: config_dump() redacts them.
 *
 * Ownership: fmugw_config owns its strings; config_free(NULL) is a no-op.
 */
#ifndef FMUGW_SERVER_CONFIG_H
#define FMUGW_SERVER_CONFIG_H

#include <stddef.h>

#include <jansson.h>

typedef enum fmugw_role {
    FMUGW_ROLE_ALL = 0,
    FMUGW_ROLE_API,
    FMUGW_ROLE_WORKER
} fmugw_role;

typedef struct fmugw_config {
    char *listen;
    char *data_dir;
    fmugw_role role;
    unsigned threads;
    char *database_url;
    char *redis_url;
    char *jwt_secret;
    char *s3_bucket;
    char *master_key;
    int log_level; /* FMUGW_LOG_* (http/log.h) */
    char *openapi_path;
    size_t max_body_bytes;
    size_t max_header_bytes;
    unsigned timeout_s;
    unsigned max_connections;
    unsigned per_ip_connections;
    unsigned json_max_depth;
    unsigned header_timeout_s;
    unsigned probe_reserve;
    unsigned shutdown_grace_s;
    unsigned url_ttl_s;
    unsigned token_ttl_s;
    char *samples_dir;
    char *pricing_path; /* tiers and cost model (ledger/pricing.h) */
    unsigned workers;              /* job worker threads; 0 = one per core */
    unsigned retention_override_s; /* results kept this long instead of the tier's days; 0 = off */
} fmugw_config;

/** A configuration holding the embedded defaults; free with config_free(). */
int config_new(fmugw_config **out);

/** Frees the configuration (and wipes the secrets from memory). */
void config_free(fmugw_config *cfg);

/** Sets one key from its text form, validating it. FMUGW_ENOTFOUND for an
 *  unknown key, FMUGW_EINVALID for a bad value (the message names the key,
 *  never a secret value). */
int config_set(fmugw_config *cfg, const char *key, const char *value);

/** Reads a `key = value` file (see the top of this header) over `cfg`.
 *  FMUGW_ENOTFOUND if it cannot be opened, FMUGW_EINVALID with
 *  "FILE:LINE: ..." for a bad line. Files over 1 MiB are refused. */
int config_load_file(fmugw_config *cfg, const char *path);

/** Applies the environment variables listed above over `cfg`. */
int config_load_env(fmugw_config *cfg);

/** Creates data_dir (and missing parents) with mode 0700. An existing
 *  directory is kept as is. FMUGW_EIO on failure. */
int config_prepare_data_dir(const fmugw_config *cfg);

/** "all", "api" or "worker". */
const char *config_role_name(fmugw_role role);

/** The configuration as a JSON object with secrets replaced by "***"
 *  (present) or "" (unset); a new reference the caller releases. */
json_t *config_dump(const fmugw_config *cfg);

#endif
