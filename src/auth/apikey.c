/*
 * apikey.c - API keys: generation with uniform base62 characters, CRC32
 * checksum, id/hint derivation and the peppered HMAC stored form (format in
 * apikey.h).
 */
#include "auth/apikey.h"

#include "util/crypto.h"
#include "util/error.h"

#include <stdbool.h>
#include <string.h>

static const char base62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

uint32_t apikey_crc32(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

/* The checksum of the first 43 chars, as 6 base62 digits. */
static void checksum_chars(char out[APIKEY_CHECKSUM_LEN], const char *key)
{
    uint32_t crc = apikey_crc32(key, APIKEY_PREFIX_LEN + APIKEY_RANDOM_LEN);
    for (int i = APIKEY_CHECKSUM_LEN - 1; i >= 0; i--) {
        out[i] = base62[crc % 62];
        crc /= 62;
    }
}

static bool is_base62(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

int apikey_generate(char out[APIKEY_LEN + 1])
{
    int rc = 0;
    uint8_t rnd[64];
    size_t have = 0, used = 0;

    memcpy(out, APIKEY_PREFIX, APIKEY_PREFIX_LEN);
    for (size_t i = 0; i < APIKEY_RANDOM_LEN;) {
        if (used == have) {
            if ((rc = crypto_random_bytes(rnd, sizeof rnd)) < 0)
                goto out;
            have = sizeof rnd;
            used = 0;
        }
        uint8_t b = rnd[used++];
        if (b >= 248) /* 248 = 4 * 62: reject to keep the digits uniform */
            continue;
        out[APIKEY_PREFIX_LEN + i++] = base62[b % 62];
    }
    checksum_chars(out + APIKEY_PREFIX_LEN + APIKEY_RANDOM_LEN, out);
    out[APIKEY_LEN] = '\0';
out:
    crypto_wipe(rnd, sizeof rnd);
    if (rc < 0)
        crypto_wipe(out, APIKEY_LEN + 1);
    return rc;
}

int apikey_parse(const char *key, size_t len)
{
    char sum[APIKEY_CHECKSUM_LEN];
    if (!key || len != APIKEY_LEN)
        return fmugw_error_set(FMUGW_EAUTH, "malformed API key: expected %d characters, got %zu", APIKEY_LEN,
                               key ? len : 0);
    if (memcmp(key, APIKEY_PREFIX, APIKEY_PREFIX_LEN) != 0)
        return fmugw_error_set(FMUGW_EAUTH, "malformed API key: it must start with '" APIKEY_PREFIX "'");
    for (size_t i = APIKEY_PREFIX_LEN; i < APIKEY_LEN; i++)
        if (!is_base62(key[i]))
            return fmugw_error_set(FMUGW_EAUTH, "malformed API key: invalid character at position %zu", i + 1);
    checksum_chars(sum, key);
    if (memcmp(sum, key + APIKEY_PREFIX_LEN + APIKEY_RANDOM_LEN, APIKEY_CHECKSUM_LEN) != 0)
        return fmugw_error_set(FMUGW_EAUTH, "malformed API key: checksum mismatch (mistyped or truncated key?)");
    return 0;
}

int apikey_id(char out[APIKEY_ID_LEN + 1], const char *key)
{
    uint8_t d[CRYPTO_SHA256_LEN];
    int rc = crypto_sha256(d, key, strlen(key));
    if (rc < 0)
        return rc;
    out[0] = 'k';
    out[1] = '_';
    return crypto_hex_encode(out + 2, APIKEY_ID_LEN - 1, d, 8);
}

int apikey_hint(char out[APIKEY_HINT_LEN + 1], const char *key)
{
    if (strlen(key) != APIKEY_LEN)
        return fmugw_error_set(FMUGW_EINVALID, "API key hint: malformed key");
    memcpy(out, key, APIKEY_PREFIX_LEN + 4);
    memcpy(out + APIKEY_PREFIX_LEN + 4, "...", 3);
    memcpy(out + APIKEY_PREFIX_LEN + 7, key + APIKEY_LEN - 4, 4);
    out[APIKEY_HINT_LEN] = '\0';
    return 0;
}

int apikey_hash(char out[APIKEY_HASH_LEN + 1], const uint8_t *pepper, size_t pepper_len, const char *key)
{
    uint8_t mac[CRYPTO_SHA256_LEN];
    if (!pepper || pepper_len < APIKEY_PEPPER_MIN)
        return fmugw_error_set(FMUGW_EINVALID, "API key pepper must be at least %d bytes", APIKEY_PEPPER_MIN);
    int rc = crypto_hmac_sha256(mac, pepper, pepper_len, key, strlen(key));
    if (rc == 0)
        rc = crypto_hex_encode(out, APIKEY_HASH_LEN + 1, mac, sizeof mac);
    crypto_wipe(mac, sizeof mac);
    return rc;
}
