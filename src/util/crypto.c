/*
 * crypto.c - SHA-256, HMAC, CSPRNG, codecs, master keyring and streaming
 * AES-256-GCM envelope encryption on OpenSSL 3 EVP (see crypto.h for the
 * sealed blob format). Only non-deprecated OpenSSL APIs are used.
 */
#define OPENSSL_NO_DEPRECATED
#include "crypto.h"

#include "error.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "FMUGWENC"
#define MAGIC_LEN 8
#define VERSION 1
#define NONCE_LEN 12

/* Header field offsets (crypto.h). */
#define OFF_VERSION 8
#define OFF_IDLEN 9
#define OFF_ID 10
#define OFF_WRAP_NONCE 42
#define OFF_WRAPPED 54
#define OFF_WRAP_TAG 86
#define OFF_PARAMS 102 /* body nonce prefix (8) + chunk size (4) */
#define PARAMS_LEN 12
#define PREFIX_LEN 8

/* --- hashing, MAC, randomness ------------------------------------------- */

int crypto_sha256(uint8_t out[CRYPTO_SHA256_LEN], const void *data, size_t len)
{
    unsigned int n = 0;
    if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 || n != CRYPTO_SHA256_LEN)
        return fmugw_error_set(FMUGW_ERROR, "SHA-256 failed");
    return 0;
}

struct crypto_sha256_ctx {
    EVP_MD_CTX *md;
    bool finished;
};

int crypto_sha256_new(crypto_sha256_ctx **out)
{
    *out = NULL;
    crypto_sha256_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    c->md = EVP_MD_CTX_new();
    if (!c->md || EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) != 1) {
        crypto_sha256_free(c);
        return fmugw_error_set(FMUGW_ERROR, "SHA-256 init failed");
    }
    *out = c;
    return 0;
}

int crypto_sha256_update(crypto_sha256_ctx *ctx, const void *data, size_t len)
{
    if (ctx->finished)
        return fmugw_error_set(FMUGW_ERROR, "SHA-256 update after final");
    if (len > 0 && EVP_DigestUpdate(ctx->md, data, len) != 1)
        return fmugw_error_set(FMUGW_ERROR, "SHA-256 update failed");
    return 0;
}

int crypto_sha256_final(crypto_sha256_ctx *ctx, uint8_t out[CRYPTO_SHA256_LEN])
{
    unsigned int n = 0;
    if (ctx->finished)
        return fmugw_error_set(FMUGW_ERROR, "SHA-256 final called twice");
    ctx->finished = true;
    if (EVP_DigestFinal_ex(ctx->md, out, &n) != 1 || n != CRYPTO_SHA256_LEN)
        return fmugw_error_set(FMUGW_ERROR, "SHA-256 final failed");
    return 0;
}

void crypto_sha256_free(crypto_sha256_ctx *ctx)
{
    if (!ctx)
        return;
    EVP_MD_CTX_free(ctx->md);
    free(ctx);
}

int crypto_hmac_sha256(uint8_t out[CRYPTO_SHA256_LEN], const void *key, size_t key_len,
                       const void *data, size_t len)
{
    static const uint8_t empty[1];
    unsigned int n = 0;
    if (key_len > INT32_MAX)
        return fmugw_error_set(FMUGW_ETOOBIG, "HMAC key too long");
    /* HMAC() wants non-NULL pointers even for empty inputs. */
    if (!HMAC(EVP_sha256(), key_len ? key : empty, (int)key_len, len ? data : empty, len, out, &n) ||
        n != CRYPTO_SHA256_LEN)
        return fmugw_error_set(FMUGW_ERROR, "HMAC-SHA256 failed");
    return 0;
}

int crypto_random_bytes(void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        int n = len > (1u << 30) ? (1 << 30) : (int)len;
        if (RAND_bytes(p, n) != 1)
            return fmugw_error_set(FMUGW_ERROR, "random number generator failed");
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

bool crypto_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

void crypto_wipe(void *p, size_t len)
{
    if (p && len)
        OPENSSL_cleanse(p, len);
}

/* --- hex and base64url ---------------------------------------------------- */

int crypto_hex_encode(char *out, size_t out_size, const void *data, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *p = data;
    if (len > (SIZE_MAX - 1) / 2 || out_size < 2 * len + 1)
        return fmugw_error_set(FMUGW_ETOOBIG, "hex output buffer too small");
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * len] = '\0';
    return 0;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int crypto_hex_decode(uint8_t *out, size_t *out_len, size_t out_cap, const char *s, size_t s_len)
{
    *out_len = 0;
    if (s_len % 2 != 0)
        return fmugw_error_set(FMUGW_EINVALID, "hex string has an odd length");
    if (s_len / 2 > out_cap)
        return fmugw_error_set(FMUGW_ETOOBIG, "hex string decodes to more than %zu bytes", out_cap);
    for (size_t i = 0; i < s_len; i += 2) {
        int hi = hex_value(s[i]), lo = hex_value(s[i + 1]);
        if (hi < 0 || lo < 0)
            return fmugw_error_set(FMUGW_EINVALID, "invalid hex digit at offset %zu", hi < 0 ? i : i + 1);
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    *out_len = s_len / 2;
    return 0;
}

static const char b64url_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t crypto_b64url_len(size_t len)
{
    return len / 3 * 4 + (len % 3 == 0 ? 0 : len % 3 + 1);
}

int crypto_b64url_encode(char *out, size_t out_size, const void *data, size_t len)
{
    const uint8_t *p = data;
    if (len > SIZE_MAX / 2 || out_size < crypto_b64url_len(len) + 1)
        return fmugw_error_set(FMUGW_ETOOBIG, "base64url output buffer too small");
    char *o = out;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = b64url_alphabet[v >> 18];
        *o++ = b64url_alphabet[(v >> 12) & 63];
        *o++ = b64url_alphabet[(v >> 6) & 63];
        *o++ = b64url_alphabet[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *o++ = b64url_alphabet[v >> 18];
        *o++ = b64url_alphabet[(v >> 12) & 63];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *o++ = b64url_alphabet[v >> 18];
        *o++ = b64url_alphabet[(v >> 12) & 63];
        *o++ = b64url_alphabet[(v >> 6) & 63];
    }
    *o = '\0';
    return 0;
}

static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int crypto_b64url_decode(uint8_t *out, size_t *out_len, size_t out_cap, const char *s, size_t s_len)
{
    *out_len = 0;
    if (s_len % 4 == 1)
        return fmugw_error_set(FMUGW_EINVALID, "invalid base64url length");
    size_t n = s_len / 4 * 3 + (s_len % 4 == 0 ? 0 : s_len % 4 - 1);
    if (n > out_cap)
        return fmugw_error_set(FMUGW_ETOOBIG, "base64url string decodes to more than %zu bytes", out_cap);
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < s_len; i++) {
        int v = b64url_value(s[i]);
        if (v < 0)
            return fmugw_error_set(FMUGW_EINVALID, "invalid base64url character at offset %zu", i);
        acc = (acc << 6 | (uint32_t)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    /* Leftover bits (2 or 4) must be zero: one encoding per byte string. */
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
        return fmugw_error_set(FMUGW_EINVALID, "non-canonical base64url (trailing bits set)");
    *out_len = o;
    return 0;
}

/* --- master keys ---------------------------------------------------------- */

int crypto_key_parse(uint8_t out[CRYPTO_KEY_LEN], const char *s)
{
    int rc = 0;
    char tmp[48];
    size_t n = 0;
    uint8_t buf[CRYPTO_KEY_LEN];

    while (*s && isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        len--;

    if (len == 2 * CRYPTO_KEY_LEN) {
        rc = crypto_hex_decode(buf, &n, sizeof buf, s, len);
    } else if (len == 43) {
        rc = crypto_b64url_decode(buf, &n, sizeof buf, s, len);
    } else if (len == 44 && s[43] == '=') {
        /* standard base64: map to the url alphabet first */
        for (size_t i = 0; i < 43; i++) {
            char c = s[i];
            if (c == '-' || c == '_') {
                rc = fmugw_error_set(FMUGW_EINVALID, "invalid base64 key");
                goto out;
            }
            tmp[i] = c == '+' ? '-' : c == '/' ? '_' : c;
        }
        rc = crypto_b64url_decode(buf, &n, sizeof buf, tmp, 43);
    } else {
        rc = fmugw_error_set(FMUGW_EINVALID,
                             "a key must be 64 hex digits or 43 base64url / 44 base64 characters (got %zu)", len);
        goto out;
    }
    if (rc < 0) {
        rc = fmugw_error_set(FMUGW_EINVALID, "invalid key encoding: %s", fmugw_error_last());
        goto out;
    }
    if (n != CRYPTO_KEY_LEN) {
        rc = fmugw_error_set(FMUGW_EINVALID, "key is not 256 bits");
        goto out;
    }
    memcpy(out, buf, CRYPTO_KEY_LEN);
out:
    crypto_wipe(buf, sizeof buf);
    crypto_wipe(tmp, sizeof tmp);
    return rc;
}

typedef struct {
    char id[CRYPTO_KEY_ID_MAX + 1];
    uint8_t key[CRYPTO_KEY_LEN];
} master_key;

struct crypto_keyring {
    pthread_rwlock_t lock;
    master_key keys[CRYPTO_KEYRING_MAX];
    size_t n;
    size_t active;
};

static bool valid_key_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > CRYPTO_KEY_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!(isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

int crypto_keyring_new(crypto_keyring **out)
{
    *out = NULL;
    crypto_keyring *kr = calloc(1, sizeof *kr);
    if (!kr)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    if (pthread_rwlock_init(&kr->lock, NULL) != 0) {
        free(kr);
        return fmugw_error_set(FMUGW_ERROR, "cannot create keyring lock");
    }
    *out = kr;
    return 0;
}

void crypto_keyring_free(crypto_keyring *kr)
{
    if (!kr)
        return;
    pthread_rwlock_destroy(&kr->lock);
    crypto_wipe(kr, sizeof *kr);
    free(kr);
}

static pthread_rwlock_t *kr_lock(const crypto_keyring *kr)
{
    return (pthread_rwlock_t *)&kr->lock; /* the lock is not part of the keyring's value */
}

/* Index of `id` or -1; caller holds the lock. */
static int find_key(const crypto_keyring *kr, const char *id)
{
    for (size_t i = 0; i < kr->n; i++)
        if (strcmp(kr->keys[i].id, id) == 0)
            return (int)i;
    return -1;
}

int crypto_keyring_add(crypto_keyring *kr, const char *key_id, const uint8_t key[CRYPTO_KEY_LEN], bool active)
{
    int rc = 0;
    if (!valid_key_id(key_id))
        return fmugw_error_set(FMUGW_EINVALID, "invalid master key id (1..32 chars of A-Z a-z 0-9 . _ -)");
    pthread_rwlock_wrlock(&kr->lock);
    if (find_key(kr, key_id) >= 0) {
        rc = fmugw_error_set(FMUGW_EEXISTS, "master key id '%s' already in the keyring", key_id);
        goto out;
    }
    if (kr->n == CRYPTO_KEYRING_MAX) {
        rc = fmugw_error_set(FMUGW_ETOOBIG, "keyring full (%d keys)", CRYPTO_KEYRING_MAX);
        goto out;
    }
    master_key *k = &kr->keys[kr->n];
    snprintf(k->id, sizeof k->id, "%s", key_id);
    memcpy(k->key, key, CRYPTO_KEY_LEN);
    if (active || kr->n == 0)
        kr->active = kr->n;
    kr->n++;
out:
    pthread_rwlock_unlock(&kr->lock);
    return rc;
}

int crypto_keyring_add_string(crypto_keyring *kr, const char *key_id, const char *key, bool active)
{
    uint8_t k[CRYPTO_KEY_LEN];
    int rc = crypto_key_parse(k, key);
    if (rc == 0)
        rc = crypto_keyring_add(kr, key_id, k, active);
    crypto_wipe(k, sizeof k);
    return rc;
}

int crypto_keyring_set_active(crypto_keyring *kr, const char *key_id)
{
    int rc = 0;
    pthread_rwlock_wrlock(&kr->lock);
    int i = find_key(kr, key_id);
    if (i < 0)
        rc = fmugw_error_set(FMUGW_ENOTFOUND, "no master key with id '%s'", key_id);
    else
        kr->active = (size_t)i;
    pthread_rwlock_unlock(&kr->lock);
    return rc;
}

int crypto_keyring_active_id(char out[CRYPTO_KEY_ID_MAX + 1], const crypto_keyring *kr)
{
    int rc = 0;
    pthread_rwlock_rdlock(kr_lock(kr));
    if (kr->n == 0)
        rc = fmugw_error_set(FMUGW_ENOTFOUND, "the keyring has no master key");
    else
        memcpy(out, kr->keys[kr->active].id, CRYPTO_KEY_ID_MAX + 1);
    pthread_rwlock_unlock(kr_lock(kr));
    return rc;
}

/* Copies the active key and its id out of the keyring. */
static int active_key(const crypto_keyring *kr, char id[CRYPTO_KEY_ID_MAX + 1], uint8_t key[CRYPTO_KEY_LEN])
{
    int rc = 0;
    pthread_rwlock_rdlock(kr_lock(kr));
    if (kr->n == 0) {
        rc = fmugw_error_set(FMUGW_ENOTFOUND, "the keyring has no master key");
    } else {
        memcpy(id, kr->keys[kr->active].id, CRYPTO_KEY_ID_MAX + 1);
        memcpy(key, kr->keys[kr->active].key, CRYPTO_KEY_LEN);
    }
    pthread_rwlock_unlock(kr_lock(kr));
    return rc;
}

static int lookup_key(const crypto_keyring *kr, const char *id, uint8_t key[CRYPTO_KEY_LEN])
{
    int rc = 0;
    pthread_rwlock_rdlock(kr_lock(kr));
    int i = find_key(kr, id);
    if (i < 0)
        rc = fmugw_error_set(FMUGW_ENOTFOUND, "sealed blob needs master key '%s', which is not in the keyring", id);
    else
        memcpy(key, kr->keys[i].key, CRYPTO_KEY_LEN);
    pthread_rwlock_unlock(kr_lock(kr));
    return rc;
}

/* --- AES-256-GCM helpers ------------------------------------------------------ */

/* One GCM operation with an initialised-with-key context: sets the nonce,
 * feeds the AAD parts, transforms `in` into `out`, and produces (encrypt) or
 * checks (decrypt) the tag. Returns 1 on success, 0 on failure. */
static int gcm_run(EVP_CIPHER_CTX *ctx, bool enc, const uint8_t nonce[NONCE_LEN], const uint8_t *aad1, size_t aad1_len,
                   const uint8_t *aad2, size_t aad2_len, const uint8_t *in, size_t len, uint8_t *out,
                   uint8_t tag[CRYPTO_TAG_LEN])
{
    int n = 0;
    if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, enc) != 1)
        return 0;
    if (aad1_len && EVP_CipherUpdate(ctx, NULL, &n, aad1, (int)aad1_len) != 1)
        return 0;
    if (aad2_len && EVP_CipherUpdate(ctx, NULL, &n, aad2, (int)aad2_len) != 1)
        return 0;
    if (len && (EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1 || (size_t)n != len))
        return 0;
    if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CRYPTO_TAG_LEN, tag) != 1)
        return 0;
    if (EVP_CipherFinal_ex(ctx, out + len, &n) != 1)
        return 0;
    if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CRYPTO_TAG_LEN, tag) != 1)
        return 0;
    return 1;
}

/* A GCM context keyed with `key` for encryption or decryption. */
static EVP_CIPHER_CTX *gcm_new(const uint8_t key[CRYPTO_KEY_LEN], bool enc)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (!ctx)
        return NULL;
    if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
        EVP_CipherInit_ex(ctx, NULL, NULL, key, NULL, enc) != 1) {
        EVP_CIPHER_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Wraps `data_key` into `h` (id, nonce, wrapped key, tag) under the master
 * key; the params (102..113) must already be in place. */
static int wrap_key(uint8_t h[CRYPTO_HEADER_LEN], const char *id, const uint8_t master[CRYPTO_KEY_LEN],
                    const uint8_t data_key[CRYPTO_KEY_LEN])
{
    int rc = 0;
    memcpy(h, MAGIC, MAGIC_LEN);
    h[OFF_VERSION] = VERSION;
    size_t n = strlen(id);
    h[OFF_IDLEN] = (uint8_t)n;
    memset(h + OFF_ID, 0, CRYPTO_KEY_ID_MAX);
    memcpy(h + OFF_ID, id, n);
    if ((rc = crypto_random_bytes(h + OFF_WRAP_NONCE, NONCE_LEN)) < 0)
        return rc;
    EVP_CIPHER_CTX *ctx = gcm_new(master, true);
    if (!ctx || !gcm_run(ctx, true, h + OFF_WRAP_NONCE, h, OFF_WRAP_NONCE, h + OFF_PARAMS, PARAMS_LEN, data_key,
                         CRYPTO_KEY_LEN, h + OFF_WRAPPED, h + OFF_WRAP_TAG))
        rc = fmugw_error_set(FMUGW_ERROR, "cannot wrap the data key");
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

/* Checks the fixed parts of a header; fills `id`. */
static int parse_header(const uint8_t h[CRYPTO_HEADER_LEN], char id[CRYPTO_KEY_ID_MAX + 1], size_t *chunk)
{
    if (memcmp(h, MAGIC, MAGIC_LEN) != 0)
        return fmugw_error_set(FMUGW_EINVALID, "not a sealed blob (bad magic)");
    if (h[OFF_VERSION] != VERSION)
        return fmugw_error_set(FMUGW_EINVALID, "unsupported sealed blob version %u", h[OFF_VERSION]);
    size_t n = h[OFF_IDLEN];
    if (n == 0 || n > CRYPTO_KEY_ID_MAX)
        return fmugw_error_set(FMUGW_EINVALID, "sealed blob header: bad key id length");
    memcpy(id, h + OFF_ID, n);
    id[n] = '\0';
    for (size_t i = n; i < CRYPTO_KEY_ID_MAX; i++)
        if (h[OFF_ID + i] != 0)
            return fmugw_error_set(FMUGW_EINVALID, "sealed blob header: bad key id padding");
    if (!valid_key_id(id))
        return fmugw_error_set(FMUGW_EINVALID, "sealed blob header: bad key id");
    uint32_t c = get_u32(h + OFF_PARAMS + PREFIX_LEN);
    if (c < CRYPTO_CHUNK_MIN || c > CRYPTO_CHUNK_MAX)
        return fmugw_error_set(FMUGW_EINVALID, "sealed blob header: bad chunk size %u", c);
    if (chunk)
        *chunk = c;
    return 0;
}

/* Parses `h` and unwraps its data key with the keyring. */
static int unwrap_key(uint8_t data_key[CRYPTO_KEY_LEN], size_t *chunk, const uint8_t h[CRYPTO_HEADER_LEN],
                      const crypto_keyring *kr)
{
    int rc;
    char id[CRYPTO_KEY_ID_MAX + 1];
    uint8_t master[CRYPTO_KEY_LEN];
    uint8_t tag[CRYPTO_TAG_LEN];
    EVP_CIPHER_CTX *ctx = NULL;

    if ((rc = parse_header(h, id, chunk)) < 0)
        goto out;
    if ((rc = lookup_key(kr, id, master)) < 0)
        goto out;
    memcpy(tag, h + OFF_WRAP_TAG, CRYPTO_TAG_LEN);
    ctx = gcm_new(master, false);
    if (!ctx) {
        rc = fmugw_error_set(FMUGW_ERROR, "cannot create cipher context");
        goto out;
    }
    if (!gcm_run(ctx, false, h + OFF_WRAP_NONCE, h, OFF_WRAP_NONCE, h + OFF_PARAMS, PARAMS_LEN, h + OFF_WRAPPED,
                 CRYPTO_KEY_LEN, data_key, tag)) {
        crypto_wipe(data_key, CRYPTO_KEY_LEN);
        rc = fmugw_error_set(FMUGW_EAUTH, "cannot unwrap the data key with master key '%s' (wrong key or tampered header)",
                             id);
        goto out;
    }
out:
    EVP_CIPHER_CTX_free(ctx);
    crypto_wipe(master, sizeof master);
    return rc;
}

/* Nonce and AAD of body chunk `counter`. */
static void chunk_nonce_aad(uint8_t nonce[NONCE_LEN], uint8_t aad[MAGIC_LEN + 1 + PARAMS_LEN + 1],
                            const uint8_t params[PARAMS_LEN], uint32_t counter, bool final)
{
    memcpy(nonce, params, PREFIX_LEN);
    put_u32(nonce + PREFIX_LEN, counter);
    memcpy(aad, MAGIC, MAGIC_LEN);
    aad[MAGIC_LEN] = VERSION;
    memcpy(aad + MAGIC_LEN + 1, params, PARAMS_LEN);
    aad[MAGIC_LEN + 1 + PARAMS_LEN] = final ? 1 : 0;
}

#define AAD_LEN (MAGIC_LEN + 1 + PARAMS_LEN + 1)

static int file_write(void *opaque, const void *data, size_t len)
{
    if (len && fwrite(data, 1, len, (FILE *)opaque) != len)
        return fmugw_error_set(FMUGW_EIO, "write failed");
    return 0;
}

/* --- sealing ------------------------------------------------------------------ */

struct crypto_seal {
    EVP_CIPHER_CTX *ctx;
    crypto_write_fn write;
    void *opaque;
    uint8_t params[PARAMS_LEN];
    uint32_t counter;
    size_t chunk;
    size_t fill;
    uint8_t *in;  /* chunk bytes of plaintext */
    uint8_t *out; /* chunk + tag bytes */
    bool dead;    /* an error happened or final was called */
};

int crypto_seal_init(crypto_seal **out, const crypto_keyring *kr, size_t chunk_size, crypto_write_fn write,
                     void *opaque)
{
    int rc = 0;
    char id[CRYPTO_KEY_ID_MAX + 1];
    uint8_t master[CRYPTO_KEY_LEN], data_key[CRYPTO_KEY_LEN];
    uint8_t h[CRYPTO_HEADER_LEN];
    crypto_seal *s = NULL;

    *out = NULL;
    if (chunk_size == 0)
        chunk_size = CRYPTO_CHUNK_DEFAULT;
    if (chunk_size < CRYPTO_CHUNK_MIN || chunk_size > CRYPTO_CHUNK_MAX) {
        rc = fmugw_error_set(FMUGW_EINVALID, "chunk size must be %d..%u bytes", CRYPTO_CHUNK_MIN, CRYPTO_CHUNK_MAX);
        goto out;
    }
    s = calloc(1, sizeof *s);
    if (!s || !(s->in = malloc(chunk_size)) || !(s->out = malloc(chunk_size + CRYPTO_TAG_LEN))) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    s->chunk = chunk_size;
    s->write = write;
    s->opaque = opaque;
    if ((rc = active_key(kr, id, master)) < 0)
        goto out;
    if ((rc = crypto_random_bytes(data_key, sizeof data_key)) < 0 ||
        (rc = crypto_random_bytes(s->params, PREFIX_LEN)) < 0)
        goto out;
    put_u32(s->params + PREFIX_LEN, (uint32_t)chunk_size);
    memcpy(h + OFF_PARAMS, s->params, PARAMS_LEN);
    if ((rc = wrap_key(h, id, master, data_key)) < 0)
        goto out;
    if (!(s->ctx = gcm_new(data_key, true))) {
        rc = fmugw_error_set(FMUGW_ERROR, "cannot create cipher context");
        goto out;
    }
    if ((rc = s->write(s->opaque, h, sizeof h)) < 0)
        goto out;
out:
    crypto_wipe(master, sizeof master);
    crypto_wipe(data_key, sizeof data_key);
    if (rc < 0)
        crypto_seal_free(s);
    else
        *out = s;
    return rc;
}

int crypto_seal_init_file(crypto_seal **out, const crypto_keyring *kr, size_t chunk_size, FILE *f)
{
    return crypto_seal_init(out, kr, chunk_size, file_write, f);
}

/* Encrypts and writes the buffered chunk. */
static int seal_flush(crypto_seal *s, bool final)
{
    uint8_t nonce[NONCE_LEN], aad[AAD_LEN];
    if (!final && s->counter == UINT32_MAX) {
        s->dead = true;
        return fmugw_error_set(FMUGW_ETOOBIG, "blob too large for one sealed stream");
    }
    chunk_nonce_aad(nonce, aad, s->params, s->counter, final);
    if (!gcm_run(s->ctx, true, nonce, aad, AAD_LEN, NULL, 0, s->in, s->fill, s->out, s->out + s->fill)) {
        s->dead = true;
        return fmugw_error_set(FMUGW_ERROR, "AES-GCM encryption failed");
    }
    int rc = s->write(s->opaque, s->out, s->fill + CRYPTO_TAG_LEN);
    if (rc < 0) {
        s->dead = true;
        return rc;
    }
    s->counter++;
    s->fill = 0;
    return 0;
}

int crypto_seal_update(crypto_seal *s, const void *data, size_t len)
{
    const uint8_t *p = data;
    if (s->dead)
        return fmugw_error_set(FMUGW_ERROR, "sealing stream already finished or failed");
    while (len > 0) {
        /* A full chunk is only written once more data shows it is not the last. */
        if (s->fill == s->chunk) {
            int rc = seal_flush(s, false);
            if (rc < 0)
                return rc;
        }
        size_t n = s->chunk - s->fill < len ? s->chunk - s->fill : len;
        memcpy(s->in + s->fill, p, n);
        s->fill += n;
        p += n;
        len -= n;
    }
    return 0;
}

int crypto_seal_final(crypto_seal *s)
{
    if (s->dead)
        return fmugw_error_set(FMUGW_ERROR, "sealing stream already finished or failed");
    int rc = seal_flush(s, true);
    s->dead = true;
    return rc;
}

void crypto_seal_free(crypto_seal *s)
{
    if (!s)
        return;
    EVP_CIPHER_CTX_free(s->ctx);
    if (s->in)
        crypto_wipe(s->in, s->chunk);
    free(s->in);
    free(s->out);
    free(s);
}

/* --- opening ------------------------------------------------------------------ */

struct crypto_open {
    const crypto_keyring *kr;
    crypto_write_fn write;
    void *opaque;
    EVP_CIPHER_CTX *ctx;
    uint8_t header[CRYPTO_HEADER_LEN];
    size_t hfill;
    uint8_t params[PARAMS_LEN];
    size_t chunk;
    uint8_t *in; /* chunk + tag bytes of sealed data */
    size_t fill;
    uint8_t *out; /* chunk bytes of plaintext */
    uint32_t counter;
    bool dead;
};

int crypto_open_init(crypto_open **out, const crypto_keyring *kr, crypto_write_fn write, void *opaque)
{
    *out = NULL;
    crypto_open *o = calloc(1, sizeof *o);
    if (!o)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    o->kr = kr;
    o->write = write;
    o->opaque = opaque;
    *out = o;
    return 0;
}

int crypto_open_init_file(crypto_open **out, const crypto_keyring *kr, FILE *f)
{
    return crypto_open_init(out, kr, file_write, f);
}

/* The header is complete: unwrap the data key, allocate the buffers. */
static int open_start(crypto_open *o)
{
    uint8_t data_key[CRYPTO_KEY_LEN];
    int rc = unwrap_key(data_key, &o->chunk, o->header, o->kr);
    if (rc < 0)
        return rc;
    memcpy(o->params, o->header + OFF_PARAMS, PARAMS_LEN);
    o->ctx = gcm_new(data_key, false);
    crypto_wipe(data_key, sizeof data_key);
    if (!o->ctx)
        return fmugw_error_set(FMUGW_ERROR, "cannot create cipher context");
    o->in = malloc(o->chunk + CRYPTO_TAG_LEN);
    o->out = malloc(o->chunk + 16); /* EVP may touch a block past the data on final */
    if (!o->in || !o->out)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    return 0;
}

/* Authenticates and writes the buffered chunk. */
static int open_flush(crypto_open *o, bool final)
{
    uint8_t nonce[NONCE_LEN], aad[AAD_LEN];
    if (o->fill < CRYPTO_TAG_LEN)
        return fmugw_error_set(FMUGW_EAUTH, "sealed blob is truncated");
    if (!final && o->counter == UINT32_MAX)
        return fmugw_error_set(FMUGW_EAUTH, "sealed blob has too many chunks");
    size_t n = o->fill - CRYPTO_TAG_LEN;
    chunk_nonce_aad(nonce, aad, o->params, o->counter, final);
    if (!gcm_run(o->ctx, false, nonce, aad, AAD_LEN, NULL, 0, o->in, n, o->out, o->in + n)) {
        crypto_wipe(o->out, n);
        return fmugw_error_set(FMUGW_EAUTH, "sealed blob failed authentication at chunk %u (tampered, reordered or truncated)",
                               o->counter);
    }
    int rc = o->write(o->opaque, o->out, n);
    if (rc < 0)
        return rc;
    o->counter++;
    o->fill = 0;
    return 0;
}

int crypto_open_update(crypto_open *o, const void *data, size_t len)
{
    int rc = 0;
    const uint8_t *p = data;
    if (o->dead)
        return fmugw_error_set(FMUGW_ERROR, "opening stream already finished or failed");
    while (len > 0) {
        if (o->hfill < CRYPTO_HEADER_LEN) {
            size_t n = CRYPTO_HEADER_LEN - o->hfill < len ? CRYPTO_HEADER_LEN - o->hfill : len;
            memcpy(o->header + o->hfill, p, n);
            o->hfill += n;
            p += n;
            len -= n;
            if (o->hfill == CRYPTO_HEADER_LEN && (rc = open_start(o)) < 0)
                goto out;
            continue;
        }
        size_t cap = o->chunk + CRYPTO_TAG_LEN;
        if (o->fill == cap && (rc = open_flush(o, false)) < 0)
            goto out;
        size_t n = cap - o->fill < len ? cap - o->fill : len;
        memcpy(o->in + o->fill, p, n);
        o->fill += n;
        p += n;
        len -= n;
    }
out:
    if (rc < 0)
        o->dead = true;
    return rc;
}

int crypto_open_final(crypto_open *o)
{
    int rc;
    if (o->dead)
        return fmugw_error_set(FMUGW_ERROR, "opening stream already finished or failed");
    o->dead = true;
    if (o->hfill < CRYPTO_HEADER_LEN) {
        if (o->hfill >= MAGIC_LEN && memcmp(o->header, MAGIC, MAGIC_LEN) != 0)
            return fmugw_error_set(FMUGW_EINVALID, "not a sealed blob (bad magic)");
        return fmugw_error_set(FMUGW_EAUTH, "sealed blob is truncated (incomplete header)");
    }
    rc = open_flush(o, true);
    return rc;
}

void crypto_open_free(crypto_open *o)
{
    if (!o)
        return;
    EVP_CIPHER_CTX_free(o->ctx);
    if (o->out)
        crypto_wipe(o->out, o->chunk);
    free(o->in);
    free(o->out);
    free(o);
}

/* --- random access ---------------------------------------------------------------- */

struct crypto_reader {
    crypto_read_at_fn read_at;
    void *opaque;
    EVP_CIPHER_CTX *ctx;
    uint8_t params[PARAMS_LEN];
    size_t chunk;       /* plaintext bytes per chunk */
    uint64_t n_chunks;  /* >= 1 */
    uint64_t last_len;  /* plaintext bytes of the last chunk */
    uint64_t size;      /* plaintext size */
    uint8_t *sealed;    /* chunk + tag */
    uint8_t *plain;     /* chunk (+16: EVP may touch a block past the data) */
    uint64_t cached;    /* index of the chunk in `plain`, UINT64_MAX if none */
};

/* read_at until `len` bytes arrived; a short blob is FMUGW_EAUTH. */
static int read_exact(crypto_reader *r, uint64_t off, void *buf, size_t len)
{
    size_t got = 0, n = 0;
    while (got < len) {
        int rc = r->read_at(r->opaque, off + got, (uint8_t *)buf + got, len - got, &n);
        if (rc < 0)
            return rc;
        if (n == 0)
            return fmugw_error_set(FMUGW_EAUTH, "sealed blob is truncated");
        got += n;
    }
    return 0;
}

int crypto_reader_open(crypto_reader **out, const crypto_keyring *kr, uint64_t sealed_size, crypto_read_at_fn read_at,
                       void *opaque)
{
    uint8_t h[CRYPTO_HEADER_LEN], data_key[CRYPTO_KEY_LEN];
    int rc = 0;
    crypto_reader *r = NULL;

    *out = NULL;
    if (sealed_size < CRYPTO_HEADER_LEN + CRYPTO_TAG_LEN)
        return fmugw_error_set(FMUGW_EAUTH, "sealed blob is truncated");
    if (!(r = calloc(1, sizeof *r)))
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    r->read_at = read_at;
    r->opaque = opaque;
    r->cached = UINT64_MAX;
    if ((rc = read_exact(r, 0, h, sizeof h)) < 0 || (rc = unwrap_key(data_key, &r->chunk, h, kr)) < 0)
        goto out;
    memcpy(r->params, h + OFF_PARAMS, PARAMS_LEN);
    r->ctx = gcm_new(data_key, false);
    crypto_wipe(data_key, sizeof data_key);
    if (!r->ctx) {
        rc = fmugw_error_set(FMUGW_ERROR, "cannot create cipher context");
        goto out;
    }
    /* every chunk but the last is chunk + tag bytes; the last is tag plus
     * 0..chunk bytes (a full last chunk is not followed by an empty one) */
    uint64_t body = sealed_size - CRYPTO_HEADER_LEN, unit = r->chunk + CRYPTO_TAG_LEN;
    r->n_chunks = (body + unit - 1) / unit;
    uint64_t last_sealed = body - (r->n_chunks - 1) * unit;
    if (last_sealed < CRYPTO_TAG_LEN || r->n_chunks - 1 > UINT32_MAX) {
        rc = fmugw_error_set(FMUGW_EAUTH, "sealed blob is truncated");
        goto out;
    }
    r->last_len = last_sealed - CRYPTO_TAG_LEN;
    r->size = (r->n_chunks - 1) * r->chunk + r->last_len;
    if (!(r->sealed = malloc(unit)) || !(r->plain = malloc(r->chunk + 16))) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
out:
    if (rc < 0)
        crypto_reader_free(r);
    else
        *out = r;
    return rc;
}

uint64_t crypto_reader_size(const crypto_reader *r)
{
    return r->size;
}

/* Authenticates chunk `i` into r->plain. */
static int reader_load(crypto_reader *r, uint64_t i)
{
    uint8_t nonce[NONCE_LEN], aad[AAD_LEN];
    bool final = i == r->n_chunks - 1;
    size_t n = final ? (size_t)r->last_len : r->chunk;
    int rc;
    if (r->cached == i)
        return 0;
    r->cached = UINT64_MAX;
    if ((rc = read_exact(r, CRYPTO_HEADER_LEN + i * (r->chunk + CRYPTO_TAG_LEN), r->sealed, n + CRYPTO_TAG_LEN)) < 0)
        return rc;
    chunk_nonce_aad(nonce, aad, r->params, (uint32_t)i, final);
    if (!gcm_run(r->ctx, false, nonce, aad, AAD_LEN, NULL, 0, r->sealed, n, r->plain, r->sealed + n)) {
        crypto_wipe(r->plain, n);
        return fmugw_error_set(FMUGW_EAUTH,
                               "sealed blob failed authentication at chunk %llu (tampered, reordered or truncated)",
                               (unsigned long long)i);
    }
    r->cached = i;
    return 0;
}

int crypto_reader_pread(crypto_reader *r, uint64_t off, void *buf, size_t len, size_t *out_n)
{
    size_t got = 0;
    int rc;
    *out_n = 0;
    while (got < len && off < r->size) {
        uint64_t i = off / r->chunk, at = off % r->chunk;
        if ((rc = reader_load(r, i)) < 0)
            return rc;
        size_t have = (i == r->n_chunks - 1 ? (size_t)r->last_len : r->chunk) - (size_t)at;
        size_t n = have < len - got ? have : len - got;
        memcpy((uint8_t *)buf + got, r->plain + at, n);
        got += n;
        off += n;
    }
    *out_n = got;
    return 0;
}

void crypto_reader_free(crypto_reader *r)
{
    if (!r)
        return;
    EVP_CIPHER_CTX_free(r->ctx);
    if (r->plain)
        crypto_wipe(r->plain, r->chunk);
    free(r->plain);
    free(r->sealed);
    free(r);
}

/* --- headers and rotation ------------------------------------------------------- */

int crypto_header_key_id(char out[CRYPTO_KEY_ID_MAX + 1], const uint8_t header[CRYPTO_HEADER_LEN])
{
    return parse_header(header, out, NULL);
}

int crypto_rewrap(uint8_t header[CRYPTO_HEADER_LEN], const crypto_keyring *kr)
{
    int rc;
    uint8_t data_key[CRYPTO_KEY_LEN], master[CRYPTO_KEY_LEN];
    uint8_t h[CRYPTO_HEADER_LEN];
    char id[CRYPTO_KEY_ID_MAX + 1];

    if ((rc = unwrap_key(data_key, NULL, header, kr)) < 0)
        goto out;
    if ((rc = active_key(kr, id, master)) < 0)
        goto out;
    memcpy(h, header, CRYPTO_HEADER_LEN);
    if ((rc = wrap_key(h, id, master, data_key)) < 0)
        goto out;
    memcpy(header, h, CRYPTO_HEADER_LEN);
out:
    crypto_wipe(data_key, sizeof data_key);
    crypto_wipe(master, sizeof master);
    return rc;
}
