/*
 * signed_url.c - HMAC-signed, expiring URLs (format in signed_url.h).
 */
#include "auth/signed_url.h"

#include "util/crypto.h"
#include "util/error.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIG_B64_LEN 43
#define DOMAIN "fmugw-url-v1\n"
#define DOMAIN_KEY "fmugw-url-v2\n"

static bool field_ok(const char *s)
{
    return s && *s && !strchr(s, '\n') && strlen(s) <= SIGNED_URL_FIELD_MAX;
}

/* MAC over the canonical message (v2 with the API key id when bound). */
static int url_mac(uint8_t mac[CRYPTO_SHA256_LEN], const uint8_t *key, size_t key_len, const char *method,
                   const char *path, const char *account, const char *key_id, int64_t expires)
{
    size_t cap = strlen(DOMAIN_KEY) + strlen(method) + strlen(path) + strlen(account) +
                 (key_id ? strlen(key_id) : 0) + 32;
    char *msg = malloc(cap);
    if (!msg)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    int n = key_id ? snprintf(msg, cap, DOMAIN_KEY "%s\n%s\n%s\n%s\n%" PRId64, method, path, account, key_id,
                              expires)
                   : snprintf(msg, cap, DOMAIN "%s\n%s\n%s\n%" PRId64, method, path, account, expires);
    int rc = crypto_hmac_sha256(mac, key, key_len, msg, (size_t)n);
    free(msg);
    return rc;
}

static bool unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* Appends the percent-encoded s at p; returns the new end. */
static char *put_encoded(char *p, const char *s)
{
    for (const unsigned char *a = (const unsigned char *)s; *a; a++) {
        if (unreserved(*a))
            *p++ = (char)*a;
        else
            p += sprintf(p, "%%%02X", *a);
    }
    return p;
}

int signed_url_make(char **out, const uint8_t *key, size_t key_len, const char *method, const char *path,
                    const char *account, int64_t expires)
{
    return signed_url_make_for_key(out, key, key_len, method, path, account, NULL, expires);
}

int signed_url_make_for_key(char **out, const uint8_t *key, size_t key_len, const char *method, const char *path,
                            const char *account, const char *key_id, int64_t expires)
{
    int rc = 0;
    uint8_t mac[CRYPTO_SHA256_LEN];
    char sig[SIG_B64_LEN + 1];
    char *buf = NULL;

    *out = NULL;
    if (!key || key_len < SIGNED_URL_KEY_MIN)
        return fmugw_error_set(FMUGW_EINVALID, "signed URL key must be at least %d bytes", SIGNED_URL_KEY_MIN);
    if (!field_ok(method) || !field_ok(path) || !field_ok(account) || path[0] != '/' || strpbrk(path, "?#") ||
        expires < 0 || (key_id && !field_ok(key_id)))
        return fmugw_error_set(FMUGW_EINVALID, "signed URL: bad method, path, account, key or expiry");
    if ((rc = url_mac(mac, key, key_len, method, path, account, key_id, expires)) < 0 ||
        (rc = crypto_b64url_encode(sig, sizeof sig, mac, sizeof mac)) < 0)
        goto out;
    size_t cap = strlen(path) + 3 * strlen(account) + (key_id ? 3 * strlen(key_id) : 0) + SIG_B64_LEN + 72;
    if (!(buf = malloc(cap))) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    char *p = buf;
    p += sprintf(p, "%s?account=", path);
    p = put_encoded(p, account);
    if (key_id) {
        p += sprintf(p, "&key=");
        p = put_encoded(p, key_id);
    }
    sprintf(p, "&expires=%" PRId64 "&sig=%s", expires, sig);
    *out = buf;
    buf = NULL;
out:
    free(buf);
    return rc;
}

static int refuse(signed_url_failure *why, signed_url_failure f, const char *msg)
{
    if (why)
        *why = f;
    return fmugw_error_set(FMUGW_EAUTH, "%s", msg);
}

int signed_url_verify(signed_url_failure *why, const uint8_t *key, size_t key_len, const char *method, const char *path,
                      const char *account, const char *expires, const char *sig, int64_t now)
{
    return signed_url_verify_for_key(why, key, key_len, method, path, account, NULL, expires, sig, now);
}

int signed_url_verify_for_key(signed_url_failure *why, const uint8_t *key, size_t key_len, const char *method,
                              const char *path, const char *account, const char *key_id, const char *expires,
                              const char *sig, int64_t now)
{
    uint8_t mac[CRYPTO_SHA256_LEN], got[CRYPTO_SHA256_LEN];
    size_t got_len = 0;
    if (why)
        *why = SIGNED_URL_OK;
    if (!key || key_len < SIGNED_URL_KEY_MIN)
        return fmugw_error_set(FMUGW_EINVALID, "signed URL key must be at least %d bytes", SIGNED_URL_KEY_MIN);
    if (!field_ok(method) || !field_ok(path) || !field_ok(account) || !expires || !sig ||
        (key_id && !field_ok(key_id)))
        return refuse(why, SIGNED_URL_MALFORMED, "signed URL refused: missing or malformed parameter");
    /* expires: plain decimal digits, no sign, no leading zeros, fits int64 */
    size_t el = strlen(expires);
    if (el == 0 || el > 18 || (el > 1 && expires[0] == '0'))
        return refuse(why, SIGNED_URL_MALFORMED, "signed URL refused: malformed expires");
    for (size_t i = 0; i < el; i++)
        if (!isdigit((unsigned char)expires[i]))
            return refuse(why, SIGNED_URL_MALFORMED, "signed URL refused: malformed expires");
    int64_t exp = (int64_t)strtoll(expires, NULL, 10);
    if (strlen(sig) != SIG_B64_LEN || crypto_b64url_decode(got, &got_len, sizeof got, sig, SIG_B64_LEN) < 0 ||
        got_len != sizeof got)
        return refuse(why, SIGNED_URL_TAMPERED, "signed URL refused: bad signature");
    int rc = url_mac(mac, key, key_len, method, path, account, key_id, exp);
    if (rc < 0)
        return rc;
    if (!crypto_equal(mac, got, sizeof mac))
        return refuse(why, SIGNED_URL_TAMPERED, "signed URL refused: bad signature");
    if (now >= exp)
        return refuse(why, SIGNED_URL_EXPIRED, "signed URL refused: expired");
    return 0;
}

/* Percent-decodes `len` bytes of s into a malloc'd string; '+' is a space.
 * NULL on bad escapes, an embedded NUL or OOM. */
static char *pct_decode(const char *s, size_t len)
{
    char *out = malloc(len + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            if (i + 2 >= len) {
                free(out);
                return NULL;
            }
            int hi = isxdigit((unsigned char)s[i + 1]) ? s[i + 1] : -1;
            int lo = isxdigit((unsigned char)s[i + 2]) ? s[i + 2] : -1;
            if (hi < 0 || lo < 0) {
                free(out);
                return NULL;
            }
            char hex[3] = {(char)hi, (char)lo, 0};
            char c = (char)strtol(hex, NULL, 16);
            if (c == '\0') {
                free(out);
                return NULL;
            }
            *o++ = c;
            i += 2;
        } else {
            *o++ = s[i] == '+' ? ' ' : s[i];
        }
    }
    *o = '\0';
    return out;
}

int signed_url_verify_query(char **account_out, signed_url_failure *why, const uint8_t *key, size_t key_len,
                            const char *method, const char *path, const char *query, int64_t now)
{
    int rc = 0;
    char *vals[3] = {NULL, NULL, NULL};
    static const char *const names[3] = {"account", "expires", "sig"};

    if (account_out)
        *account_out = NULL;
    if (!query || strlen(query) > 4 * SIGNED_URL_FIELD_MAX) {
        rc = refuse(why, SIGNED_URL_MALFORMED, "signed URL refused: missing or oversized query");
        goto out;
    }
    const char *p = query;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t plen = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', plen);
        int idx = -1;
        if (eq) {
            for (int i = 0; i < 3; i++)
                if ((size_t)(eq - p) == strlen(names[i]) && memcmp(p, names[i], strlen(names[i])) == 0)
                    idx = i;
        }
        if (idx < 0 || vals[idx]) {
            rc = refuse(why, SIGNED_URL_MALFORMED, "signed URL refused: unexpected or repeated query parameter");
            goto out;
        }
        if (!(vals[idx] = pct_decode(eq + 1, plen - (size_t)(eq + 1 - p)))) {
            rc = refuse(why, SIGNED_URL_MALFORMED, "signed URL refused: bad percent-encoding");
            goto out;
        }
        p += plen;
        if (*p == '&')
            p++;
    }
    if ((rc = signed_url_verify(why, key, key_len, method, path, vals[0], vals[1], vals[2], now)) < 0)
        goto out;
    if (account_out) {
        *account_out = vals[0];
        vals[0] = NULL;
    }
out:
    for (int i = 0; i < 3; i++)
        free(vals[i]);
    return rc;
}
