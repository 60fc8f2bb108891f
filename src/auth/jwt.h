/*
 * jwt.h - HS256 JSON Web Tokens (RFC 7519) for the short-lived access
 * tokens of POST /auth/token, verified per RFC 8725 (JWT best practices).
 *
 * Keys: a jwt_keyring holds HMAC-SHA256 keys (>= 32 bytes each), each named
 * by a `kid`; one is active and signs new tokens, all of them verify. To
 * rotate: add the new key as active, keep the old one for JWT_MAX_TTL
 * seconds (15 min), then remove it.
 *
 * Tokens produced by jwt_sign():
 *   header  {"alg":"HS256","typ":"JWT","kid":"<kid>"}
 *   payload {"iss":..,"sub":..,"aud":..,"iat":..,"exp":..,"jti":..,<extra>}
 * where jti is 128 random bits in base64url and <extra> are the caller's
 * claims (key id, tier, credit balance, scopes, ...).
 *
 * jwt_verify() refuses, each with its own jwt_failure and message:
 *  - tokens over JWT_MAX_TOKEN bytes or JSON nested deeper than
 *    JWT_MAX_DEPTH (JWT_TOO_BIG), anything but three strict unpadded
 *    base64url parts holding JSON objects (JWT_MALFORMED);
 *  - a header whose alg is not exactly "HS256" ("none", "HS512", "RS256",
 *    ...: JWT_BAD_ALG), with members other than alg, typ ("JWT"), kid
 *    (crit, jku, jwk, x5u, ...: JWT_BAD_HEADER), without a kid
 *    (JWT_MISSING_KID) or with a kid not in the keyring (JWT_UNKNOWN_KID);
 *  - a signature that does not match (constant-time check; JWT_BAD_SIGNATURE);
 *  - a payload without string iss, sub, jti, string-or-array aud, integer
 *    iat and exp (JWT_MISSING_CLAIM), with another issuer (JWT_BAD_ISSUER)
 *    or audience (JWT_BAD_AUDIENCE), expired (JWT_EXPIRED), issued in the
 *    future or with nbf in the future (JWT_NOT_YET_VALID), or living longer
 *    than JWT_MAX_TTL (JWT_LIFETIME). Duplicate JSON members are refused.
 * The payload is only parsed after the signature has been checked.
 *
 * Errors: 0, FMUGW_EAUTH for a refused token (detail in *why and in
 * fmugw_error_last()), FMUGW_EINVALID for bad arguments, FMUGW_ENOMEM.
 * Ownership: *out strings are malloc'd (free()), *out json_t are new
 * references (json_decref()); keyrings are freed with jwt_keyring_free().
 * Messages never include tokens or keys.
 */
#ifndef FMUGW_AUTH_JWT_H
#define FMUGW_AUTH_JWT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JWT_MAX_TOKEN 8192 /* bytes */
#define JWT_MAX_DEPTH 8    /* nesting of JSON objects/arrays, top level = 1 */
#define JWT_MAX_TTL 900    /* seconds: tokens live at most 15 minutes */
#define JWT_MAX_LEEWAY 300 /* seconds */
#define JWT_KEY_MIN 32     /* bytes of HMAC key */
#define JWT_KID_MAX 64     /* characters */
#define JWT_KEYRING_MAX 16

/** Why jwt_verify() refused a token. */
typedef enum {
    JWT_OK = 0,
    JWT_MALFORMED,
    JWT_TOO_BIG,
    JWT_BAD_ALG,
    JWT_BAD_HEADER,
    JWT_MISSING_KID,
    JWT_UNKNOWN_KID,
    JWT_BAD_SIGNATURE,
    JWT_MISSING_CLAIM,
    JWT_BAD_ISSUER,
    JWT_BAD_AUDIENCE,
    JWT_EXPIRED,
    JWT_NOT_YET_VALID,
    JWT_LIFETIME
} jwt_failure;

/** A stable lower-case name for a failure ("expired", "bad_signature",
 *  ...), e.g. for a problem+json type or a metric label. Borrowed. */
const char *jwt_failure_name(jwt_failure f);

/** Keyring of HMAC keys (opaque). */
typedef struct jwt_keyring jwt_keyring;

/** Creates an empty keyring; free with jwt_keyring_free(). */
int jwt_keyring_new(jwt_keyring **out);

/** Wipes and frees a keyring; NULL is a no-op. */
void jwt_keyring_free(jwt_keyring *kr);

/** Adds `key` (copied, at least JWT_KEY_MIN bytes) named `kid` (1..64 chars
 *  of [A-Za-z0-9._-]); with `active` (or if it is the first key), it signs
 *  new tokens. FMUGW_EEXISTS if the kid is taken. Thread-safe. */
int jwt_keyring_add(jwt_keyring *kr, const char *kid, const uint8_t *key, size_t key_len, bool active);

/** Removes a key (tokens signed with it stop verifying). The active key
 *  cannot be removed (FMUGW_ECONFLICT). FMUGW_ENOTFOUND if unknown. */
int jwt_keyring_remove(jwt_keyring *kr, const char *kid);

/** A counter that changes whenever a key leaves the keyring: a cache of
 *  verified tokens (src/auth/auth_cache.h) only trusts entries verified at
 *  the current generation. Thread-safe. */
uint64_t jwt_keyring_generation(const jwt_keyring *kr);

/** Makes `kid` the signing key. FMUGW_ENOTFOUND if unknown. */
int jwt_keyring_set_active(jwt_keyring *kr, const char *kid);

/** Registered claims of a new token. */
typedef struct {
    const char *iss; /* issuer, e.g. "fmugw" (required) */
    const char *aud; /* audience, e.g. "fmugw-api" (required) */
    const char *sub; /* subject: the account id (required) */
    int64_t ttl;     /* lifetime in seconds, 1..JWT_MAX_TTL */
    int64_t now;     /* issue time (Unix seconds); 0 means time(NULL) */
} jwt_sign_opts;

/** Signs a token with the active key. `extra` (borrowed, may be NULL) is a
 *  JSON object of further claims copied into the payload; it must not hold
 *  iss, sub, aud, iat, exp, nbf or jti (FMUGW_EINVALID). *out is a malloc'd
 *  NUL-terminated token. */
int jwt_sign(char **out, const jwt_keyring *kr, const jwt_sign_opts *opts, const json_t *extra);

/** What a token must match. */
typedef struct {
    const char *iss; /* required issuer */
    const char *aud; /* required audience (aud may be a string or an array holding it) */
    int64_t leeway;  /* clock skew allowance in seconds, 0..JWT_MAX_LEEWAY */
    int64_t now;     /* Unix seconds; 0 means time(NULL) */
} jwt_verify_opts;

/** Verifies `token` (`len` bytes, not necessarily NUL-terminated). On
 *  success *out is the payload object (a new reference) and *why JWT_OK;
 *  on refusal FMUGW_EAUTH, *out NULL and *why the reason. `why` may be
 *  NULL. */
int jwt_verify(json_t **out, jwt_failure *why, const jwt_keyring *kr, const jwt_verify_opts *opts, const char *token,
               size_t len);

#endif
