/*
 * fmugw/client.h - the connection to an FMU Gateway: configuration
 * (profiles in ~/.fmu_gateway/config, environment overrides), the client
 * handle that obtains and refreshes its access token, retries and
 * backoff.
 *
 * Configuration file (INI style, one section per profile):
 *
 *     [default]
 *     base_url = https://gateway.example.com
 *     api_key = fmugw_live_...
 *
 * It lives at $HOME/.fmu_gateway/config, is written with mode 0600 (its
 * directory 0700) and is refused with FMUGW_CLIENT_ECONFIG when group or
 * others may read it. FMUGW_BASE_URL and FMUGW_API_KEY override the
 * profile's values (when both are set the file is not read at all);
 * FMUGW_PROFILE names the profile when the options do not.
 *
 * Ownership: a client from fmugw_client_new() is freed with
 * fmugw_client_free(). A client is not thread-safe: use one per thread.
 */
#ifndef FMUGW_PUBLIC_CLIENT_H
#define FMUGW_PUBLIC_CLIENT_H

#include "common.h"
#include "errors.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An open connection to a gateway (opaque). */
typedef struct fmugw_client fmugw_client;

/** Upload progress: `done` of `total` bytes sent. Return 0 to go on,
 *  non-zero to abort (the call then fails with FMUGW_CLIENT_ERROR). */
typedef int (*fmugw_progress_cb)(void *ud, unsigned long long done, unsigned long long total);

/** Current version of fmugw_client_options. */
#define FMUGW_CLIENT_OPTIONS_VERSION 1

/** How to open a client. Initialize with FMUGW_CLIENT_OPTIONS_INIT, then
 *  set the fields you need; NULL/0 fields take the documented default. */
typedef struct fmugw_client_options {
    int version;             /**< FMUGW_CLIENT_OPTIONS_VERSION */
    const char *base_url;    /**< overrides configuration and environment */
    const char *api_key;     /**< overrides configuration and environment */
    const char *profile;     /**< profile name; default FMUGW_PROFILE, else "default" */
    const char *config_path; /**< default $HOME/.fmu_gateway/config */
    int max_retries;         /**< retries of retryable failures; -1 = default 4, 0 = none */
    int backoff_ms;          /**< first backoff delay (doubles, with jitter); 0 = 200 ms */
    int timeout_s;           /**< per-request timeout; 0 = 120 s */
    int proactive_refresh;   /**< 1 (default): renew the token shortly before it expires;
                                  0: only when the server says it expired */
    const char *user_agent;  /**< default "fmugw-c/VERSION" */
} fmugw_client_options;

/** Default options. */
#define FMUGW_CLIENT_OPTIONS_INIT { FMUGW_CLIENT_OPTIONS_VERSION, NULL, NULL, NULL, NULL, -1, 0, 0, 1, NULL }

/** Counters for tests and benchmarks. */
typedef struct fmugw_client_stats {
    unsigned long requests;       /**< HTTP requests sent (all attempts) */
    unsigned long token_fetches;  /**< POST /auth/token calls */
    unsigned long retries;        /**< attempts repeated after a retryable failure */
    unsigned long expired_401;    /**< 401 "token expired" answers that led to a refresh */
} fmugw_client_stats;

/**
 * Opens a client. Resolves the base URL and API key (options, then
 * environment, then the profile of the configuration file). No request is
 * made until the first call.
 *
 * @param out receives the client; free with fmugw_client_free().
 * @param opts options, or NULL for the defaults.
 * @return 0, FMUGW_CLIENT_ECONFIG (no base URL or key, unsafe or malformed
 *         file), FMUGW_CLIENT_EUSAGE (bad option version).
 */
FMUGW_EXTERN(int) fmugw_client_new(fmugw_client **out, const fmugw_client_options *opts);

/**
 * Closes a client and frees it.
 *
 * @param c the client; NULL is a no-op.
 */
FMUGW_EXTERN(void) fmugw_client_free(fmugw_client *c);

/**
 * The base URL the client talks to.
 *
 * @param c the client.
 * @return borrowed, valid while the client lives.
 */
FMUGW_EXTERN(const char *) fmugw_client_base_url(const fmugw_client *c);

/**
 * Makes sure the client holds a valid access token (fetches one if not).
 * Other calls do this themselves; this is for checking credentials early.
 *
 * @param c the client.
 * @return 0, FMUGW_CLIENT_EAUTH, FMUGW_CLIENT_EFORBIDDEN, FMUGW_CLIENT_ENETWORK...
 */
FMUGW_EXTERN(int) fmugw_client_authenticate(fmugw_client *c);

/**
 * Copies the client's counters.
 *
 * @param c the client.
 * @param out receives the counters.
 */
FMUGW_EXTERN(void) fmugw_client_get_stats(const fmugw_client *c, fmugw_client_stats *out);

/**
 * The default configuration file path ($HOME/.fmu_gateway/config).
 *
 * @param out receives a string; free with fmugw_free().
 * @return 0, or FMUGW_CLIENT_ECONFIG when HOME is not set.
 */
FMUGW_EXTERN(int) fmugw_config_default_path(char **out);

/**
 * Writes (creates or updates) one profile of a configuration file,
 * keeping the other profiles. The directory is created 0700 and the file
 * is written 0600 (through a temporary file renamed over it).
 *
 * @param path the file, or NULL for the default path.
 * @param profile the profile name, or NULL for "default".
 * @param base_url the gateway URL (required).
 * @param api_key the API key (required).
 * @return 0, FMUGW_CLIENT_EUSAGE (missing value, bad characters),
 *         FMUGW_CLIENT_ECONFIG (existing file unsafe or malformed),
 *         FMUGW_CLIENT_ERROR (I/O).
 */
FMUGW_EXTERN(int) fmugw_config_write(const char *path, const char *profile, const char *base_url,
                                     const char *api_key);

/**
 * Reads one profile of a configuration file (without the environment).
 *
 * @param out_base_url receives the base URL or NULL if unset; fmugw_free().
 * @param out_api_key receives the API key or NULL if unset; fmugw_free().
 * @param path the file, or NULL for the default path.
 * @param profile the profile, or NULL for "default".
 * @return 0, FMUGW_CLIENT_ENOTFOUND (no file or no such profile),
 *         FMUGW_CLIENT_ECONFIG (unsafe mode or malformed).
 */
FMUGW_EXTERN(int) fmugw_config_read(char **out_base_url, char **out_api_key, const char *path,
                                    const char *profile);

#ifdef __cplusplus
}
#endif

#endif
