/*
 * crypto.h - the project's only door to OpenSSL libcrypto: SHA-256, HMAC-SHA256,
 * CSPRNG bytes, constant-time comparison, strict hex / base64url codecs, a
 * keyring of master keys, and streaming envelope encryption of blobs (with
 * random-access reading of a sealed blob's plaintext: crypto_reader).
 *
 * Errors: functions return 0 or a negative FMUGW_E* code (src/util/error.h)
 * with a message from fmugw_error_set(). Messages never contain key material.
 * Ownership: objects returned through `**out` belong to the caller and are
 * released with their *_free() function, which accepts NULL and wipes any key
 * material it held. Pointers returned directly are borrowed.
 *
 * Sealed blob format (version 1). All integers big-endian. The header has a
 * fixed size (CRYPTO_HEADER_LEN = 114 bytes) so that crypto_rewrap() can
 * rewrite it in place:
 *
 *   off len  field
 *     0   8  magic "FMUGWENC"
 *     8   1  version (1)
 *     9   1  n = length of the master key id (1..32)
 *    10  32  master key id, ASCII [A-Za-z0-9._-], zero-padded
 *    42  12  wrap nonce (random, new on every wrap)
 *    54  32  data key encrypted with AES-256-GCM under the master key
 *    86  16  GCM tag of the wrap; AAD = bytes 0..41 and 102..113
 *   102   8  body nonce prefix (random)
 *   110   4  chunk size C (plaintext bytes per chunk, 16..1 MiB)
 *
 * The body follows: chunks of AES-256-GCM under the blob's data key (a fresh
 * random 256-bit key per blob). Every chunk but the last holds exactly C
 * plaintext bytes; the last holds 0..C bytes (a blob always ends with a final
 * chunk, so an empty blob has one empty chunk). Each chunk is written as
 * ciphertext || 16-byte tag. Chunk i (from 0) uses the nonce
 * prefix || uint32(i), and AAD = bytes 0..8 (magic, version) || bytes
 * 102..113 || uint8(final ? 1 : 0). Reordering, dropping, duplicating or
 * truncating chunks, or appending data after the final chunk, therefore fails
 * authentication; so does any change to the header's key id or wrapped key.
 *
 * Master key rotation: a keyring holds several master keys, each named by a
 * key id; one is active and wraps the data keys of new blobs, all of them can
 * unwrap. crypto_rewrap() re-wraps an existing blob's data key under the
 * active key without touching the body; after every blob is rewrapped the old
 * master key can be removed from the configuration.
 *
 * Thread safety: the stateless functions are thread-safe. A keyring may be
 * used from many threads; crypto_keyring_add/_set_active take a write lock,
 * so keys can be added and the active key switched at run time. A seal or
 * open context belongs to one thread at a time.
 */
#ifndef FMUGW_UTIL_CRYPTO_H
#define FMUGW_UTIL_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CRYPTO_SHA256_LEN 32
#define CRYPTO_KEY_LEN 32           /* master and data keys: AES-256 */
#define CRYPTO_KEY_ID_MAX 32        /* longest master key id */
#define CRYPTO_HEADER_LEN 114       /* sealed blob header */
#define CRYPTO_TAG_LEN 16           /* GCM tag after every chunk */
#define CRYPTO_CHUNK_DEFAULT 65536  /* plaintext bytes per chunk by default */
#define CRYPTO_CHUNK_MIN 16
#define CRYPTO_CHUNK_MAX (1u << 20)
#define CRYPTO_KEYRING_MAX 64       /* master keys per keyring */

/* --- hashing, MAC, randomness ------------------------------------------- */

/** SHA-256 of `len` bytes at `data` into `out`. */
int crypto_sha256(uint8_t out[CRYPTO_SHA256_LEN], const void *data, size_t len);

/** Streaming SHA-256 context (opaque). */
typedef struct crypto_sha256_ctx crypto_sha256_ctx;

/** Starts a streaming SHA-256; free with crypto_sha256_free(). */
int crypto_sha256_new(crypto_sha256_ctx **out);

/** Hashes `len` more bytes. */
int crypto_sha256_update(crypto_sha256_ctx *ctx, const void *data, size_t len);

/** Writes the digest to `out`. The context cannot be updated afterwards
 *  (free it, or create a new one). */
int crypto_sha256_final(crypto_sha256_ctx *ctx, uint8_t out[CRYPTO_SHA256_LEN]);

/** Frees a context; NULL is a no-op. */
void crypto_sha256_free(crypto_sha256_ctx *ctx);

/** HMAC-SHA256 of `data` under `key` (any length, including 0). */
int crypto_hmac_sha256(uint8_t out[CRYPTO_SHA256_LEN], const void *key, size_t key_len,
                       const void *data, size_t len);

/** Fills `buf` with `len` bytes from the OpenSSL CSPRNG (RAND_bytes). */
int crypto_random_bytes(void *buf, size_t len);

/** True if the `len` bytes at `a` and `b` are equal; the time taken depends
 *  only on `len`, never on the contents. */
bool crypto_equal(const void *a, const void *b, size_t len);

/** Overwrites `len` bytes with zeros in a way the compiler cannot drop. */
void crypto_wipe(void *p, size_t len);

/* --- hex and base64url ---------------------------------------------------- */

/** Lower-case hex of `len` bytes into `out` (2*len + 1 bytes with the NUL).
 *  FMUGW_ETOOBIG if `out_size` is too small. */
int crypto_hex_encode(char *out, size_t out_size, const void *data, size_t len);

/** Strict hex decoding of `s_len` chars: even length, [0-9a-fA-F] only. At
 *  most `out_cap` bytes are written; *out_len gets the count. FMUGW_EINVALID
 *  on bad input, FMUGW_ETOOBIG if it does not fit. */
int crypto_hex_decode(uint8_t *out, size_t *out_len, size_t out_cap, const char *s, size_t s_len);

/** Length of the unpadded base64url encoding of `len` bytes (without NUL). */
size_t crypto_b64url_len(size_t len);

/** Unpadded base64url (RFC 4648 section 5) of `len` bytes into `out`
 *  (crypto_b64url_len(len) + 1 bytes with the NUL). */
int crypto_b64url_encode(char *out, size_t out_size, const void *data, size_t len);

/** Strict unpadded base64url decoding: alphabet [A-Za-z0-9_-] only, no '=',
 *  no whitespace, length % 4 != 1 and unused trailing bits zero (so every
 *  byte string has exactly one accepted encoding). FMUGW_EINVALID on bad
 *  input, FMUGW_ETOOBIG if the result exceeds `out_cap`. */
int crypto_b64url_decode(uint8_t *out, size_t *out_len, size_t out_cap, const char *s, size_t s_len);

/* --- master keys ---------------------------------------------------------- */

/** Parses a 256-bit key written as 64 hex digits or as 43 base64url chars
 *  (unpadded) or 44 standard base64 chars ending in '='. Leading/trailing
 *  whitespace is ignored (a key file usually ends with a newline). */
int crypto_key_parse(uint8_t out[CRYPTO_KEY_LEN], const char *s);

/** Keyring of master keys (opaque). */
typedef struct crypto_keyring crypto_keyring;

/** Creates an empty keyring; free with crypto_keyring_free(). */
int crypto_keyring_new(crypto_keyring **out);

/** Wipes and frees a keyring; NULL is a no-op. */
void crypto_keyring_free(crypto_keyring *kr);

/** Adds master key `key` (copied) under `key_id` (1..32 chars of
 *  [A-Za-z0-9._-]); with `active`, it becomes the key for new blobs. The
 *  first key added is active whatever `active` says. FMUGW_EEXISTS if the
 *  id is taken, FMUGW_ETOOBIG past CRYPTO_KEYRING_MAX keys. */
int crypto_keyring_add(crypto_keyring *kr, const char *key_id, const uint8_t key[CRYPTO_KEY_LEN], bool active);

/** crypto_keyring_add() with the key given as a string (crypto_key_parse). */
int crypto_keyring_add_string(crypto_keyring *kr, const char *key_id, const char *key, bool active);

/** Makes `key_id` the active key. FMUGW_ENOTFOUND if unknown. */
int crypto_keyring_set_active(crypto_keyring *kr, const char *key_id);

/** Copies the active key id into `out` (CRYPTO_KEY_ID_MAX + 1 bytes).
 *  FMUGW_ENOTFOUND if the keyring is empty. */
int crypto_keyring_active_id(char out[CRYPTO_KEY_ID_MAX + 1], const crypto_keyring *kr);

/* --- envelope encryption ---------------------------------------------------- */

/** Where sealed or opened bytes go: returns 0, or a negative FMUGW_E* code
 *  that aborts the operation and is passed back to the caller. */
typedef int (*crypto_write_fn)(void *opaque, const void *data, size_t len);

/** A sealing stream (opaque). Memory: two buffers of the chunk size,
 *  whatever the blob size. */
typedef struct crypto_seal crypto_seal;

/** Starts sealing a blob under the active master key of `kr`, with a fresh
 *  data key; `chunk_size` 0 means CRYPTO_CHUNK_DEFAULT. The header is
 *  written through `write` at once. The keyring is only used here. */
int crypto_seal_init(crypto_seal **out, const crypto_keyring *kr, size_t chunk_size,
                     crypto_write_fn write, void *opaque);

/** crypto_seal_init() writing to `f` (fwrite; a short write is FMUGW_EIO).
 *  The caller keeps `f` and closes it. */
int crypto_seal_init_file(crypto_seal **out, const crypto_keyring *kr, size_t chunk_size, FILE *f);

/** Encrypts `len` more bytes; full chunks are written out as they fill. */
int crypto_seal_update(crypto_seal *s, const void *data, size_t len);

/** Writes the final chunk. Nothing may be added afterwards. If any step
 *  failed, the output is incomplete and must be discarded. */
int crypto_seal_final(crypto_seal *s);

/** Wipes and frees a sealing stream; NULL is a no-op. */
void crypto_seal_free(crypto_seal *s);

/** An opening stream (opaque). Memory: a header buffer and two buffers of
 *  the blob's chunk size (at most CRYPTO_CHUNK_MAX). */
typedef struct crypto_open crypto_open;

/** Starts opening a sealed blob with the keys of `kr` (the keyring must
 *  outlive the stream: the header names the key, which is looked up when
 *  the header has arrived). Plaintext goes through `write`. */
int crypto_open_init(crypto_open **out, const crypto_keyring *kr, crypto_write_fn write, void *opaque);

/** crypto_open_init() writing plaintext to `f`. */
int crypto_open_init_file(crypto_open **out, const crypto_keyring *kr, FILE *f);

/** Feeds `len` more sealed bytes, in pieces of any size. Each chunk is
 *  written out once it has been authenticated. Errors: FMUGW_EINVALID (not a
 *  sealed blob, bad version or chunk size), FMUGW_ENOTFOUND (master key id
 *  not in the keyring), FMUGW_EAUTH (wrong key, tampered header or chunk,
 *  data after the final chunk). After an error the stream is dead. */
int crypto_open_update(crypto_open *o, const void *data, size_t len);

/** Checks and writes the final chunk. FMUGW_EAUTH if the blob is truncated
 *  or tampered with. IMPORTANT: chunks are released before the end is
 *  seen, so the plaintext written so far is only trustworthy once this
 *  returns 0 (write it to a temporary file and rename it on success). */
int crypto_open_final(crypto_open *o);

/** Wipes and frees an opening stream; NULL is a no-op. */
void crypto_open_free(crypto_open *o);

/** Random access to the plaintext of a sealed blob (opaque): the body's
 *  chunks have a fixed sealed size, so plaintext offset X lives in chunk
 *  X / C at sealed offset CRYPTO_HEADER_LEN + (X / C) * (C + 16). Every
 *  chunk is authenticated (its index and whether it is the last one, known
 *  from the sealed size, are in its nonce and AAD) before a byte of it is
 *  returned, so reordered, tampered or truncated blobs fail with
 *  FMUGW_EAUTH as with crypto_open. Memory: one chunk of plaintext (the
 *  last one read, kept for the next read) and one of sealed bytes. */
typedef struct crypto_reader crypto_reader;

/** Reads up to `len` sealed bytes at offset `off`; *out_n < len only at the
 *  end. Returns 0 or a negative FMUGW_E* code. */
typedef int (*crypto_read_at_fn)(void *opaque, uint64_t off, void *buf, size_t len, size_t *out_n);

/** Opens a sealed blob of `sealed_size` bytes read through `read_at` with
 *  the keys of `kr` (used only here): reads and unwraps the header, checks
 *  the layout. Errors as for crypto_open_update, FMUGW_EAUTH for a size no
 *  sealed blob can have. */
int crypto_reader_open(crypto_reader **out, const crypto_keyring *kr, uint64_t sealed_size, crypto_read_at_fn read_at,
                       void *opaque);

/** The plaintext size. */
uint64_t crypto_reader_size(const crypto_reader *r);

/** Copies up to `len` plaintext bytes from offset `off` into `buf`;
 *  *out_n < len only at the end of the plaintext. */
int crypto_reader_pread(crypto_reader *r, uint64_t off, void *buf, size_t len, size_t *out_n);

/** Wipes and frees a reader; NULL is a no-op. */
void crypto_reader_free(crypto_reader *r);

/** Copies the master key id named by a sealed blob header into `out`.
 *  FMUGW_EINVALID if `header` is not a version 1 header. */
int crypto_header_key_id(char out[CRYPTO_KEY_ID_MAX + 1], const uint8_t header[CRYPTO_HEADER_LEN]);

/** Re-wraps the data key in `header` (the first CRYPTO_HEADER_LEN bytes of
 *  a sealed blob) under the active master key of `kr`, in place; the body
 *  is unchanged and still opens. Write the header back over the first
 *  CRYPTO_HEADER_LEN bytes of the blob (better: to a copy that is then
 *  renamed, since an in-place write is not atomic). Errors as for
 *  crypto_open_update() on the header. */
int crypto_rewrap(uint8_t header[CRYPTO_HEADER_LEN], const crypto_keyring *kr);

#endif
