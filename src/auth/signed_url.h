/*
 * signed_url.h - expiring signed URLs for blob uploads and downloads.
 *
 * A signed URL is
 *
 *   <path>?account=<account>&expires=<unix seconds>&sig=<signature>
 *
 * with the account percent-encoded (RFC 3986 unreserved characters kept)
 * and signature = base64url (unpadded, 43 chars) of
 *
 *   HMAC-SHA256(key, "fmugw-url-v1\n" METHOD "\n" path "\n" account "\n" expires)
 *
 * A URL bound to the API key that asked for it (signed_url_make_for_key)
 * also carries `&key=<key id>` after the account and is signed over
 *
 *   "fmugw-url-v2\n" METHOD "\n" path "\n" account "\n" key_id "\n" expires
 *
 * so the key cannot be removed or swapped; the server checks that the key
 * is still valid when the URL is used.
 *
 * Method, path and account must not contain '\n' (so the message is
 * unambiguous), the path must start with '/' and contain no '?' or '#'.
 * The method is part of the MAC: an upload URL (PUT) cannot be used to
 * download (GET) and vice versa.
 *
 * Verification recomputes the MAC, compares in constant time, and only
 * then looks at the expiry, so a changed expiry is reported as tampered,
 * never as expired.
 *
 * Errors: 0 or a negative FMUGW_E* code with a message (error.h):
 * FMUGW_EAUTH for refused URLs (reason in *why), FMUGW_EINVALID for bad
 * arguments when signing. Ownership: *out strings are malloc'd (free()).
 */
#ifndef FMUGW_AUTH_SIGNED_URL_H
#define FMUGW_AUTH_SIGNED_URL_H

#include <stddef.h>
#include <stdint.h>

#define SIGNED_URL_KEY_MIN 32     /* bytes of HMAC key */
#define SIGNED_URL_FIELD_MAX 1024 /* longest path / account accepted */

/** Why a signed URL was refused. */
typedef enum {
    SIGNED_URL_OK = 0,
    SIGNED_URL_MALFORMED, /* missing or duplicate parameter, bad encoding */
    SIGNED_URL_TAMPERED,  /* signature does not match method/path/account/expires */
    SIGNED_URL_EXPIRED    /* authentic, but now >= expires */
} signed_url_failure;

/** Builds a signed URL for `method` (e.g. "PUT") on `path` for `account`,
 *  valid until `expires` (Unix seconds). `key` is at least
 *  SIGNED_URL_KEY_MIN bytes. *out is malloc'd. */
int signed_url_make(char **out, const uint8_t *key, size_t key_len, const char *method, const char *path,
                    const char *account, int64_t expires);

/** signed_url_make() bound to the API key `key_id` (NULL: unbound, the
 *  same as signed_url_make()). */
int signed_url_make_for_key(char **out, const uint8_t *key, size_t key_len, const char *method, const char *path,
                            const char *account, const char *key_id, int64_t expires);

/** signed_url_verify() of a URL bound to `key_id` (NULL: an unbound URL). */
int signed_url_verify_for_key(signed_url_failure *why, const uint8_t *key, size_t key_len, const char *method,
                              const char *path, const char *account, const char *key_id, const char *expires,
                              const char *sig, int64_t now);

/** Verifies the already-decoded query values of a request (as an HTTP
 *  library hands them out): `account`, `expires` (decimal string) and `sig`.
 *  `now` is the current Unix time. Returns 0 if the URL is authentic and
 *  not expired; FMUGW_EAUTH otherwise with *why set (`why` may be NULL). */
int signed_url_verify(signed_url_failure *why, const uint8_t *key, size_t key_len, const char *method, const char *path,
                      const char *account, const char *expires, const char *sig, int64_t now);

/** Like signed_url_verify() on a raw query string ("account=..&expires=..
 *  &sig=..", in any order, percent-encoded, no leading '?') of an unbound
 *  URL. Other parameters (also `key`) are refused. On success, *account_out (if not NULL) is the
 *  decoded account, malloc'd. */
int signed_url_verify_query(char **account_out, signed_url_failure *why, const uint8_t *key, size_t key_len,
                            const char *method, const char *path, const char *query, int64_t now);

#endif
