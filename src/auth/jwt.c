/*
 * jwt.c - HS256 JWT signing and RFC 8725 verification on libcrypto and
 * jansson (rules in jwt.h). The order of checks matters: size, structure,
 * header, key, signature, and only then the payload is parsed.
 */
#include "auth/jwt.h"

#include "util/crypto.h"
#include "util/error.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SIG_B64_LEN 43 /* base64url of 32 bytes */

const char *jwt_failure_name(jwt_failure f)
{
    switch (f) {
    case JWT_OK: return "ok";
    case JWT_MALFORMED: return "malformed";
    case JWT_TOO_BIG: return "too_big";
    case JWT_BAD_ALG: return "bad_alg";
    case JWT_BAD_HEADER: return "bad_header";
    case JWT_MISSING_KID: return "missing_kid";
    case JWT_UNKNOWN_KID: return "unknown_kid";
    case JWT_BAD_SIGNATURE: return "bad_signature";
    case JWT_MISSING_CLAIM: return "missing_claim";
    case JWT_BAD_ISSUER: return "bad_issuer";
    case JWT_BAD_AUDIENCE: return "bad_audience";
    case JWT_EXPIRED: return "expired";
    case JWT_NOT_YET_VALID: return "not_yet_valid";
    case JWT_LIFETIME: return "lifetime_too_long";
    }
    return "unknown";
}

/* --- keyring -------------------------------------------------------------- */

typedef struct {
    char kid[JWT_KID_MAX + 1];
    uint8_t *key;
    size_t len;
} hmac_key;

struct jwt_keyring {
    pthread_rwlock_t lock;
    hmac_key keys[JWT_KEYRING_MAX];
    size_t n;
    size_t active;
    _Atomic uint64_t generation; /* bumped when a key is removed */
};

static pthread_rwlock_t *kr_lock(const jwt_keyring *kr)
{
    return (pthread_rwlock_t *)&kr->lock;
}

static bool valid_kid(const char *kid, size_t n)
{
    if (n == 0 || n > JWT_KID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)kid[i]) || kid[i] == '.' || kid[i] == '_' || kid[i] == '-'))
            return false;
    return true;
}

static int find_kid(const jwt_keyring *kr, const char *kid)
{
    for (size_t i = 0; i < kr->n; i++)
        if (strcmp(kr->keys[i].kid, kid) == 0)
            return (int)i;
    return -1;
}

int jwt_keyring_new(jwt_keyring **out)
{
    *out = NULL;
    jwt_keyring *kr = calloc(1, sizeof *kr);
    if (!kr)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    if (pthread_rwlock_init(&kr->lock, NULL) != 0) {
        free(kr);
        return fmugw_error_set(FMUGW_ERROR, "cannot create keyring lock");
    }
    *out = kr;
    return 0;
}

void jwt_keyring_free(jwt_keyring *kr)
{
    if (!kr)
        return;
    for (size_t i = 0; i < kr->n; i++) {
        crypto_wipe(kr->keys[i].key, kr->keys[i].len);
        free(kr->keys[i].key);
    }
    pthread_rwlock_destroy(&kr->lock);
    free(kr);
}

int jwt_keyring_add(jwt_keyring *kr, const char *kid, const uint8_t *key, size_t key_len, bool active)
{
    int rc = 0;
    if (!kid || !valid_kid(kid, strlen(kid)))
        return fmugw_error_set(FMUGW_EINVALID, "invalid JWT kid (1..64 chars of A-Z a-z 0-9 . _ -)");
    if (key_len < JWT_KEY_MIN)
        return fmugw_error_set(FMUGW_EINVALID, "JWT signing key must be at least %d bytes", JWT_KEY_MIN);
    pthread_rwlock_wrlock(&kr->lock);
    if (find_kid(kr, kid) >= 0) {
        rc = fmugw_error_set(FMUGW_EEXISTS, "JWT kid '%s' already in the keyring", kid);
        goto out;
    }
    if (kr->n == JWT_KEYRING_MAX) {
        rc = fmugw_error_set(FMUGW_ETOOBIG, "JWT keyring full (%d keys)", JWT_KEYRING_MAX);
        goto out;
    }
    hmac_key *k = &kr->keys[kr->n];
    if (!(k->key = malloc(key_len))) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(k->key, key, key_len);
    k->len = key_len;
    snprintf(k->kid, sizeof k->kid, "%s", kid);
    if (active || kr->n == 0)
        kr->active = kr->n;
    kr->n++;
out:
    pthread_rwlock_unlock(&kr->lock);
    return rc;
}

int jwt_keyring_remove(jwt_keyring *kr, const char *kid)
{
    int rc = 0;
    pthread_rwlock_wrlock(&kr->lock);
    int i = find_kid(kr, kid);
    if (i < 0) {
        rc = fmugw_error_set(FMUGW_ENOTFOUND, "no JWT key with kid '%s'", kid);
        goto out;
    }
    if ((size_t)i == kr->active) {
        rc = fmugw_error_set(FMUGW_ECONFLICT, "cannot remove the active JWT key '%s'", kid);
        goto out;
    }
    crypto_wipe(kr->keys[i].key, kr->keys[i].len);
    free(kr->keys[i].key);
    memmove(&kr->keys[i], &kr->keys[i + 1], (kr->n - (size_t)i - 1) * sizeof kr->keys[0]);
    kr->n--;
    if (kr->active > (size_t)i)
        kr->active--;
    atomic_fetch_add(&kr->generation, 1);
out:
    pthread_rwlock_unlock(&kr->lock);
    return rc;
}

uint64_t jwt_keyring_generation(const jwt_keyring *kr)
{
    return atomic_load(&((jwt_keyring *)kr)->generation);
}

int jwt_keyring_set_active(jwt_keyring *kr, const char *kid)
{
    int rc = 0;
    pthread_rwlock_wrlock(&kr->lock);
    int i = find_kid(kr, kid);
    if (i < 0)
        rc = fmugw_error_set(FMUGW_ENOTFOUND, "no JWT key with kid '%s'", kid);
    else
        kr->active = (size_t)i;
    pthread_rwlock_unlock(&kr->lock);
    return rc;
}

/* HMAC-SHA256 of `data` under key `kid` (or the active key if kid is NULL,
 * whose name is then copied to kid_out). Returns 0, or FMUGW_ENOTFOUND. */
static int keyring_mac(uint8_t mac[CRYPTO_SHA256_LEN], char kid_out[JWT_KID_MAX + 1], const jwt_keyring *kr,
                       const char *kid, const void *data, size_t len)
{
    int rc = 0;
    pthread_rwlock_rdlock(kr_lock(kr));
    int i = kid ? find_kid(kr, kid) : (kr->n ? (int)kr->active : -1);
    if (i < 0) {
        rc = FMUGW_ENOTFOUND;
        goto out;
    }
    if (kid_out)
        memcpy(kid_out, kr->keys[i].kid, JWT_KID_MAX + 1);
    rc = crypto_hmac_sha256(mac, kr->keys[i].key, kr->keys[i].len, data, len);
out:
    pthread_rwlock_unlock(kr_lock(kr));
    return rc;
}

/* --- signing -------------------------------------------------------------- */

static const char *const reserved_claims[] = {"iss", "sub", "aud", "iat", "exp", "nbf", "jti"};

/* base64url of a JSON value dumped compactly, appended at `buf`+*len. */
static int append_b64_json(char **buf, size_t *len, size_t *cap, const json_t *v)
{
    char *text = json_dumps(v, JSON_COMPACT);
    if (!text)
        return fmugw_error_set(FMUGW_ENOMEM, "cannot serialise JWT JSON");
    size_t tl = strlen(text);
    size_t need = *len + crypto_b64url_len(tl) + 2;
    if (need > *cap) {
        size_t ncap = need * 2;
        char *nb = realloc(*buf, ncap);
        if (!nb) {
            free(text);
            return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        }
        *buf = nb;
        *cap = ncap;
    }
    int rc = crypto_b64url_encode(*buf + *len, *cap - *len, text, tl);
    free(text);
    if (rc == 0)
        *len += strlen(*buf + *len);
    return rc;
}

int jwt_sign(char **out, const jwt_keyring *kr, const jwt_sign_opts *opts, const json_t *extra)
{
    int rc = 0;
    json_t *header = NULL, *payload = NULL, *copy = NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    char kid[JWT_KID_MAX + 1];
    uint8_t mac[CRYPTO_SHA256_LEN], jti_raw[16];
    char jti[32];

    *out = NULL;
    if (!opts || !opts->iss || !opts->aud || !opts->sub) {
        rc = fmugw_error_set(FMUGW_EINVALID, "jwt_sign: iss, aud and sub are required");
        goto out;
    }
    if (opts->ttl < 1 || opts->ttl > JWT_MAX_TTL) {
        rc = fmugw_error_set(FMUGW_EINVALID, "jwt_sign: ttl must be 1..%d seconds", JWT_MAX_TTL);
        goto out;
    }
    if (extra && !json_is_object(extra)) {
        rc = fmugw_error_set(FMUGW_EINVALID, "jwt_sign: extra claims must be a JSON object");
        goto out;
    }
    if (extra) {
        for (size_t i = 0; i < sizeof reserved_claims / sizeof reserved_claims[0]; i++) {
            if (json_object_get(extra, reserved_claims[i])) {
                rc = fmugw_error_set(FMUGW_EINVALID, "jwt_sign: extra claims may not set '%s'", reserved_claims[i]);
                goto out;
            }
        }
    }
    /* Find the active key's kid first: it goes into the header. */
    pthread_rwlock_rdlock(kr_lock(kr));
    if (kr->n == 0) {
        pthread_rwlock_unlock(kr_lock(kr));
        rc = fmugw_error_set(FMUGW_ENOTFOUND, "jwt_sign: the keyring has no key");
        goto out;
    }
    memcpy(kid, kr->keys[kr->active].kid, sizeof kid);
    pthread_rwlock_unlock(kr_lock(kr));

    int64_t now = opts->now ? opts->now : (int64_t)time(NULL);
    if ((rc = crypto_random_bytes(jti_raw, sizeof jti_raw)) < 0 ||
        (rc = crypto_b64url_encode(jti, sizeof jti, jti_raw, sizeof jti_raw)) < 0)
        goto out;
    header = json_pack("{s:s, s:s, s:s}", "alg", "HS256", "typ", "JWT", "kid", kid);
    payload = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "iss", opts->iss, "sub", opts->sub, "aud", opts->aud, "iat",
                        (json_int_t)now, "exp", (json_int_t)(now + opts->ttl), "jti", jti);
    if (!header || !payload) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "jwt_sign: cannot build JSON");
        goto out;
    }
    if (extra) {
        copy = json_deep_copy(extra);
        if (!copy || json_object_update(payload, copy) != 0) {
            rc = fmugw_error_set(FMUGW_ENOMEM, "jwt_sign: cannot copy claims");
            goto out;
        }
    }
    if ((rc = append_b64_json(&buf, &len, &cap, header)) < 0)
        goto out;
    buf[len++] = '.';
    if ((rc = append_b64_json(&buf, &len, &cap, payload)) < 0)
        goto out;
    if (len + 1 + SIG_B64_LEN + 1 > JWT_MAX_TOKEN) {
        rc = fmugw_error_set(FMUGW_ETOOBIG, "jwt_sign: token would exceed %d bytes", JWT_MAX_TOKEN);
        goto out;
    }
    /* The active key may have changed since: sign with the one in the header. */
    if ((rc = keyring_mac(mac, NULL, kr, kid, buf, len)) < 0) {
        rc = fmugw_error_set(FMUGW_ENOTFOUND, "jwt_sign: key '%s' was removed meanwhile", kid);
        goto out;
    }
    if (cap < len + 1 + SIG_B64_LEN + 1) {
        char *nb = realloc(buf, len + 1 + SIG_B64_LEN + 1);
        if (!nb) {
            rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
            goto out;
        }
        buf = nb;
        cap = len + 1 + SIG_B64_LEN + 1;
    }
    buf[len++] = '.';
    if ((rc = crypto_b64url_encode(buf + len, cap - len, mac, sizeof mac)) < 0)
        goto out;
    *out = buf;
    buf = NULL;
out:
    crypto_wipe(mac, sizeof mac);
    free(buf);
    json_decref(header);
    json_decref(payload);
    json_decref(copy);
    return rc;
}

/* --- verification ----------------------------------------------------------- */

/* Deepest nesting of objects/arrays in JSON text (strings skipped), or
 * JWT_MAX_DEPTH + 1 as soon as that is exceeded. */
static int json_depth(const char *s, size_t len)
{
    int depth = 0, max = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max)
                max = depth;
            if (max > JWT_MAX_DEPTH)
                return max;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return max;
}

/* Decodes one base64url part into a JSON object (depth-checked). */
static int decode_part(json_t **out, jwt_failure *why, const char *part, size_t len, const char *what)
{
    int rc = 0;
    json_error_t err;
    size_t n = 0;
    uint8_t *buf = malloc(len / 4 * 3 + 3);
    *out = NULL;
    if (!buf)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    if (crypto_b64url_decode(buf, &n, len / 4 * 3 + 3, part, len) < 0) {
        *why = JWT_MALFORMED;
        rc = fmugw_error_set(FMUGW_EAUTH, "malformed token: %s is not base64url", what);
        goto out;
    }
    if (json_depth((const char *)buf, n) > JWT_MAX_DEPTH) {
        *why = JWT_TOO_BIG;
        rc = fmugw_error_set(FMUGW_EAUTH, "token refused: %s JSON nested deeper than %d", what, JWT_MAX_DEPTH);
        goto out;
    }
    json_t *v = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, &err);
    if (!v || !json_is_object(v)) {
        json_decref(v);
        *why = JWT_MALFORMED;
        rc = fmugw_error_set(FMUGW_EAUTH, "malformed token: %s is not a JSON object", what);
        goto out;
    }
    *out = v;
out:
    free(buf);
    return rc;
}

static int refuse(jwt_failure *why, jwt_failure f, const char *msg)
{
    *why = f;
    return fmugw_error_set(FMUGW_EAUTH, "%s", msg);
}

/* Header: exactly alg "HS256", kid, optional typ "JWT"; copies the kid. */
static int check_header(jwt_failure *why, char kid[JWT_KID_MAX + 1], json_t *h)
{
    const char *key;
    json_t *v;
    json_t *alg = json_object_get(h, "alg");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "HS256") != 0 || json_string_length(alg) != 5)
        return refuse(why, JWT_BAD_ALG, "token refused: algorithm must be HS256");
    json_object_foreach(h, key, v) {
        if (strcmp(key, "alg") != 0 && strcmp(key, "kid") != 0 && strcmp(key, "typ") != 0)
            return refuse(why, JWT_BAD_HEADER, "token refused: unexpected header parameter");
    }
    json_t *typ = json_object_get(h, "typ");
    if (typ && (!json_is_string(typ) || strcmp(json_string_value(typ), "JWT") != 0))
        return refuse(why, JWT_BAD_HEADER, "token refused: typ must be JWT");
    json_t *k = json_object_get(h, "kid");
    if (!k)
        return refuse(why, JWT_MISSING_KID, "token refused: no kid in header");
    if (!json_is_string(k) || !valid_kid(json_string_value(k), json_string_length(k)) ||
        strlen(json_string_value(k)) != json_string_length(k))
        return refuse(why, JWT_UNKNOWN_KID, "token refused: unknown signing key");
    memcpy(kid, json_string_value(k), json_string_length(k) + 1);
    return 0;
}

static bool get_int(json_t *claims, const char *name, int64_t *v)
{
    json_t *j = json_object_get(claims, name);
    if (!json_is_integer(j))
        return false;
    *v = (int64_t)json_integer_value(j);
    return true;
}

static bool nonempty_string(json_t *claims, const char *name)
{
    json_t *j = json_object_get(claims, name);
    return json_is_string(j) && json_string_length(j) > 0;
}

static int check_claims(jwt_failure *why, json_t *c, const jwt_verify_opts *opts, int64_t now)
{
    int64_t exp, iat, nbf = 0;
    json_t *aud = json_object_get(c, "aud");
    if (!nonempty_string(c, "iss") || !nonempty_string(c, "sub") || !nonempty_string(c, "jti") ||
        !get_int(c, "exp", &exp) || !get_int(c, "iat", &iat) || !(json_is_string(aud) || json_is_array(aud)))
        return refuse(why, JWT_MISSING_CLAIM, "token refused: a required claim (iss, sub, aud, iat, exp, jti) is missing "
                                              "or has the wrong type");
    json_t *nbf_j = json_object_get(c, "nbf");
    if (nbf_j && !get_int(c, "nbf", &nbf))
        return refuse(why, JWT_MISSING_CLAIM, "token refused: nbf is not an integer");
    if (strcmp(json_string_value(json_object_get(c, "iss")), opts->iss) != 0)
        return refuse(why, JWT_BAD_ISSUER, "token refused: wrong issuer");
    bool aud_ok = false;
    if (json_is_string(aud)) {
        aud_ok = strcmp(json_string_value(aud), opts->aud) == 0;
    } else {
        size_t i;
        json_t *a;
        json_array_foreach(aud, i, a) {
            if (json_is_string(a) && strcmp(json_string_value(a), opts->aud) == 0)
                aud_ok = true;
        }
    }
    if (!aud_ok)
        return refuse(why, JWT_BAD_AUDIENCE, "token refused: wrong audience");
    if (now - opts->leeway >= exp)
        return refuse(why, JWT_EXPIRED, "token refused: expired");
    if (iat > now + opts->leeway || (nbf_j && nbf > now + opts->leeway))
        return refuse(why, JWT_NOT_YET_VALID, "token refused: issued in the future or not yet valid");
    if (iat < 0 || exp - iat > JWT_MAX_TTL)
        return refuse(why, JWT_LIFETIME, "token refused: lifetime longer than 15 minutes");
    return 0;
}

int jwt_verify(json_t **out, jwt_failure *why, const jwt_keyring *kr, const jwt_verify_opts *opts, const char *token,
               size_t len)
{
    int rc = 0;
    jwt_failure dummy;
    json_t *header = NULL, *claims = NULL;
    char kid[JWT_KID_MAX + 1];
    uint8_t mac[CRYPTO_SHA256_LEN], sig[CRYPTO_SHA256_LEN];
    size_t sig_len = 0;

    *out = NULL;
    if (!why)
        why = &dummy;
    *why = JWT_OK;
    if (!opts || !opts->iss || !opts->aud || opts->leeway < 0 || opts->leeway > JWT_MAX_LEEWAY) {
        rc = fmugw_error_set(FMUGW_EINVALID, "jwt_verify: iss and aud are required, leeway 0..%d", JWT_MAX_LEEWAY);
        goto out;
    }
    int64_t now = opts->now ? opts->now : (int64_t)time(NULL);
    if (!token || len == 0) {
        rc = refuse(why, JWT_MALFORMED, "malformed token: empty");
        goto out;
    }
    if (len > JWT_MAX_TOKEN) {
        rc = refuse(why, JWT_TOO_BIG, "token refused: longer than 8 KiB");
        goto out;
    }
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (!d1 || !d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)) || d1 == token || d2 == d1 + 1) {
        rc = refuse(why, JWT_MALFORMED, "malformed token: expected three non-empty parts header.payload.signature");
        goto out;
    }
    size_t signed_len = (size_t)(d2 - token);
    size_t sig_chars = len - signed_len - 1;
    if ((rc = decode_part(&header, why, token, (size_t)(d1 - token), "header")) < 0)
        goto out;
    if ((rc = check_header(why, kid, header)) < 0)
        goto out;
    if (sig_chars != SIG_B64_LEN || crypto_b64url_decode(sig, &sig_len, sizeof sig, d2 + 1, sig_chars) < 0 ||
        sig_len != sizeof sig) {
        /* an HS256 signature is always 32 bytes: anything else cannot match */
        rc = refuse(why, JWT_BAD_SIGNATURE, "token refused: bad signature");
        goto out;
    }
    rc = keyring_mac(mac, NULL, kr, kid, token, signed_len);
    if (rc == FMUGW_ENOTFOUND) {
        rc = refuse(why, JWT_UNKNOWN_KID, "token refused: unknown signing key");
        goto out;
    }
    if (rc < 0)
        goto out;
    if (!crypto_equal(mac, sig, sizeof mac)) {
        rc = refuse(why, JWT_BAD_SIGNATURE, "token refused: bad signature");
        goto out;
    }
    if ((rc = decode_part(&claims, why, d1 + 1, (size_t)(d2 - d1 - 1), "payload")) < 0)
        goto out;
    if ((rc = check_claims(why, claims, opts, now)) < 0)
        goto out;
    *out = claims;
    claims = NULL;
out:
    crypto_wipe(mac, sizeof mac);
    json_decref(header);
    json_decref(claims);
    return rc;
}
