/*
 * auth_cache.h - bounded, thread-safe in-memory caches of the auth hot path
 * (src/http/guard.c): API key lookups, verified bearer tokens, and the
 * per-key throttle of the last-used write.
 *
 * Keys: a key lookup is cached under the key's peppered HMAC (hex, never
 * the key itself) together with the database's change epoch
 * (db_change_epoch in store/db.h) read before it; it is only served while
 * the epoch is the same, and every write to the database, by whichever
 * process, moves the epoch. So a revoked/locked key or a changed tier is
 * seen on the next request. Entries also expire after
 * AUTH_CACHE_KEY_MAX_AGE_MS.
 *
 * Tokens: a token that jwt_verify() accepted is cached under the SHA-256 of
 * its exact bytes (the token itself is not kept) with the claims the guard
 * needs (sub, key_id, exp) and the keyring generation it was verified at
 * (jwt_keyring_generation: removing a key invalidates); exp is checked on
 * every use.
 *
 * Touch: at most one last-used write per key per `every_ms` per process.
 *
 * Each table is set-associative (4 ways) with a fixed number of entries
 * chosen at creation, split into independently locked shards: memory is
 * bounded and a full set evicts its least recently used entry. All
 * functions are thread-safe.
 *
 * Ownership: auth_cache_free() frees the cache; values are copied in and
 * out.
 */
#ifndef FMUGW_AUTH_AUTH_CACHE_H
#define FMUGW_AUTH_AUTH_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct auth_cache auth_cache;

/** The state of a key as the guard checks it (one api_keys row joined with
 *  its account). */
typedef struct {
    char id[64];
    char account_id[64];
    char tier[16];
    char scopes[128];
    bool revoked, locked;
} auth_cached_key;

/** The claims of a verified token the guard needs. */
typedef struct {
    char sub[64];
    char key_id[64];
    int64_t exp; /* Unix seconds */
} auth_cached_token;

/** Creates a cache holding up to `entries` items per table (rounded up to
 *  a power of two, at least 64). FMUGW_ENOMEM. */
int auth_cache_new(auth_cache **out, size_t entries);

/** Frees the cache; NULL is a no-op. */
void auth_cache_free(auth_cache *c);

/** Entries of the key table older than this miss: the bound on staleness
 *  when a writer died between its commit and its last epoch bump
 *  (store/db.h: db_change_epoch). */
#define AUTH_CACHE_KEY_MAX_AGE_MS 1000

/** Looks up the key whose HMAC hex is `hmac_hex` (64 characters) as read
 *  at epoch `epoch`: true and *out filled on a hit. An entry of another
 *  epoch, or read AUTH_CACHE_KEY_MAX_AGE_MS or more before `now_ms`, is a
 *  miss. */
bool auth_cache_key_get(auth_cache *c, const char *hmac_hex, int64_t epoch, int64_t now_ms, auth_cached_key *out);

/** Stores a key looked up at epoch `epoch` (read BEFORE the lookup) at
 *  `now_ms`. */
void auth_cache_key_put(auth_cache *c, const char *hmac_hex, int64_t epoch, int64_t now_ms, const auth_cached_key *k);

/** Looks up a token by the SHA-256 of its bytes: true on a hit verified at
 *  keyring generation `gen` and not expired at `now_s` (exp > now_s). */
bool auth_cache_token_get(auth_cache *c, const uint8_t digest[32], uint64_t gen, int64_t now_s,
                          auth_cached_token *out);

/** Stores a token jwt_verify() accepted at keyring generation `gen`. */
void auth_cache_token_put(auth_cache *c, const uint8_t digest[32], uint64_t gen, const auth_cached_token *t);

/** True (and remembers now_ms) when key `key_id` has not been touched by
 *  this process for `every_ms` or more: the caller then writes
 *  last_used_at. */
bool auth_cache_touch_due(auth_cache *c, const char *key_id, int64_t now_ms, int64_t every_ms);

#endif
