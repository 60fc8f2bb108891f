/*
 * apikey.h - API key format: generation, offline checksum verification, the
 * non-secret key id and display hint, and the stored (peppered HMAC) form.
 *
 * Format (49 characters, all ASCII):
 *
 *   fmugw_live_ RRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRR CCCCCC
 *   `- prefix    `- 32 base62 chars, uniformly     `- CRC32 (IEEE 802.3, as
 *      (11)         random: 32*log2(62) = 190.5        in zlib) of the first 43
 *                   bits of entropy                    chars (prefix + random),
 *                                                      6 base62 digits, most
 *                                                      significant first
 *
 *   base62 digits: 0-9, then A-Z, then a-z (values 0..61).
 *
 * Secret scanners can find leaked keys with the regular expression
 *
 *   \bfmugw_live_[0-9A-Za-z]{38}\b
 *
 * and confirm a hit offline with the checksum (1 in 2^32 false positives).
 * The checksum also lets apikey_parse() reject typos before any database
 * lookup.
 *
 * Storage: only apikey_hash() = hex(HMAC-SHA256(pepper, whole key)) is
 * stored; the pepper is a server secret kept outside the database. The key
 * itself is shown once, at creation, and must never be logged: log
 * apikey_id() or apikey_hint() instead.
 *
 * Errors: 0 or a negative FMUGW_E* code with a message (error.h); messages
 * never contain the key. Nothing here allocates: callers pass buffers of the
 * sizes given below.
 */
#ifndef FMUGW_AUTH_APIKEY_H
#define FMUGW_AUTH_APIKEY_H

#include <stddef.h>
#include <stdint.h>

#define APIKEY_PREFIX "fmugw_live_"
#define APIKEY_PREFIX_LEN 11
#define APIKEY_RANDOM_LEN 32
#define APIKEY_CHECKSUM_LEN 6
#define APIKEY_LEN (APIKEY_PREFIX_LEN + APIKEY_RANDOM_LEN + APIKEY_CHECKSUM_LEN) /* 49 */
#define APIKEY_ID_LEN 18   /* "k_" + 16 hex digits */
#define APIKEY_HINT_LEN 22 /* "fmugw_live_" + 4 + "..." + 4 */
#define APIKEY_HASH_LEN 64 /* hex HMAC-SHA256 */
#define APIKEY_PEPPER_MIN 16

/** Writes a new random key (APIKEY_LEN chars + NUL) to `out`. */
int apikey_generate(char out[APIKEY_LEN + 1]);

/** Checks the shape and checksum of a key of `len` bytes (not necessarily
 *  NUL-terminated) as received from a client. FMUGW_EAUTH with a message
 *  saying which check failed (length, prefix, character, checksum). Does not
 *  say whether the key exists: that is the database's job. */
int apikey_parse(const char *key, size_t len);

/** Non-secret key id: "k_" + the first 16 hex digits of SHA-256(key). The
 *  same key always has the same id; use it in logs, rate limiting, JWT
 *  claims and as a database index. The key must have passed apikey_parse(). */
int apikey_id(char out[APIKEY_ID_LEN + 1], const char *key);

/** Display hint: the prefix, the first 4 random characters, "...", and the
 *  last 4 checksum characters (e.g. "fmugw_live_a1B2...x9Yz"). It reveals
 *  4 random characters (24 bits), leaving 166 bits secret. */
int apikey_hint(char out[APIKEY_HINT_LEN + 1], const char *key);

/** Stored form: lower-case hex of HMAC-SHA256(pepper, key) into `out`. The
 *  pepper must be at least APIKEY_PEPPER_MIN bytes (32 random bytes
 *  recommended). Compare stored forms with crypto_equal(). */
int apikey_hash(char out[APIKEY_HASH_LEN + 1], const uint8_t *pepper, size_t pepper_len, const char *key);

/** CRC-32 (IEEE 802.3 polynomial, reflected, as in zlib's crc32()) of `len`
 *  bytes. crc32("123456789") = 0xCBF43926. */
uint32_t apikey_crc32(const void *data, size_t len);

#endif
