/*
 * ratelimit.h - per-key request rate limiting (GCRA) and an abuse counter
 * (N failures within a window locks a key), both in memory, thread-safe,
 * bounded in size.
 *
 * GCRA (generic cell rate algorithm): a key may make `burst` requests at
 * once and then `rate` requests per second; the only state per key is its
 * "theoretical arrival time" (TAT). A key whose TAT has passed is
 * indistinguishable from a new key, so idle keys are dropped when the table
 * is full at no cost in accuracy. If every entry is busy, the one closest to
 * idle is dropped (that key then gets a fresh burst).
 *
 * Storage: a hash table split into 64 stripes, each with its own mutex; at
 * most `max_keys` entries in total (rounded up to a multiple of 64). Keys
 * are strings of 1..256 bytes: use the API key id (apikey_id()), never the
 * secret key. The hash is seeded at random per table.
 *
 * HTTP headers (draft-ietf-httpapi-ratelimit-headers-08..10, structured
 * fields; the header names and syntax the HTTP layer must send). With
 * policy name "default", rate 10/s and burst 20, on every response:
 *
 *   RateLimit-Policy: "default";q=20;w=2
 *   RateLimit: "default";r=<remaining>;t=<reset>
 *
 * where q = burst (the quota), w = ceil(burst / rate) seconds (the time to
 * earn a whole burst back), r = requests that could still be made now,
 * t = ceil(seconds until the whole burst is available again). On a refused
 * request, answer 429 with the same two headers (r=0) plus
 *
 *   Retry-After: <ceil(retry_after), at least 1>
 *
 * ratelimit_headers() formats the two field values (without the names).
 *
 * Errors: 0 or a negative FMUGW_E* code (error.h); ratelimit_check returns
 * FMUGW_ELIMIT when the request is refused. Objects from *_new are freed
 * with the matching *_free (NULL is a no-op).
 */
#ifndef FMUGW_AUTH_RATELIMIT_H
#define FMUGW_AUTH_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RATELIMIT_KEY_MAX 256
#define RATELIMIT_BURST_MAX 1000000
#define RATELIMIT_RATE_MIN 1e-6 /* requests per second */
#define RATELIMIT_RATE_MAX 1e6

/** Outcome of one check; everything needed for the headers. */
typedef struct {
    bool allowed;
    int64_t limit;       /* q: the burst */
    int64_t window;      /* w: ceil(burst / rate) seconds, at least 1 */
    int64_t remaining;   /* r: further requests allowed right now (0 if refused) */
    int64_t reset;       /* t: ceil(seconds until the full burst is back) */
    int64_t retry_after; /* Retry-After seconds: 0 if allowed, else >= 1 */
    double retry_after_exact; /* seconds until this request would pass (0 if allowed) */
} ratelimit_result;

/** GCRA limiter (opaque). */
typedef struct ratelimit ratelimit;

/** Creates a limiter holding at most about `max_keys` keys (>= 1). */
int ratelimit_new(ratelimit **out, size_t max_keys);

/** Frees a limiter; NULL is a no-op. */
void ratelimit_free(ratelimit *rl);

/** Counts one request of `key` against `rate` requests/s with `burst`
 *  (the parameters may differ per call, e.g. by tier; the key's state is
 *  kept across changes). Fills *out either way. Returns 0 if allowed,
 *  FMUGW_ELIMIT if refused (the request is then not counted),
 *  FMUGW_EINVALID for bad arguments (including burst / rate over about
 *  126 years), FMUGW_ENOMEM. Uses CLOCK_MONOTONIC. */
int ratelimit_check(ratelimit_result *out, ratelimit *rl, const char *key, double rate, int64_t burst);

/** ratelimit_check() at time `now` (seconds on any monotonic scale, must not
 *  go backwards much; for tests). */
int ratelimit_check_at(ratelimit_result *out, ratelimit *rl, const char *key, double rate, int64_t burst, double now);

/** Number of keys currently held. */
size_t ratelimit_size(ratelimit *rl);

/** Formats the RateLimit-Policy and RateLimit field values for policy
 *  `name` (1..64 chars of [A-Za-z0-9._-]) into `policy` and `state`.
 *  FMUGW_ETOOBIG if a buffer is too small (128 bytes each is plenty). */
int ratelimit_headers(char *policy, size_t policy_size, char *state, size_t state_size, const char *name,
                      const ratelimit_result *r);

/** Abuse counter (opaque): `threshold` failures of one key within
 *  `window` seconds lock it. */
typedef struct abuse_counter abuse_counter;

/** Creates a counter; threshold 1..1000, window > 0 seconds, max_keys >= 1. */
int abuse_counter_new(abuse_counter **out, unsigned threshold, double window, size_t max_keys);

/** Frees a counter; NULL is a no-op. */
void abuse_counter_free(abuse_counter *ac);

/** Records one failure of `key`. Returns true exactly once: on the failure
 *  that makes `threshold` failures within the window; later failures return
 *  false until abuse_counter_reset(). (The caller then locks the key in the
 *  database and audits it; the lock itself lives there, not here. If an
 *  entry is evicted for space, a later crossing reports true again.) On
 *  allocation failure or an invalid key the failure is not recorded. */
bool abuse_counter_fail(abuse_counter *ac, const char *key);

/** abuse_counter_fail() at time `now` (seconds, monotonic; for tests). */
bool abuse_counter_fail_at(abuse_counter *ac, const char *key, double now);

/** Forgets `key` (e.g. after an admin unlocks it or on a success). */
void abuse_counter_reset(abuse_counter *ac, const char *key);

#endif
