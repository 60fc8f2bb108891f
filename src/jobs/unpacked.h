/*
 * unpacked.h - the workers' cache of unpacked FMUs: each stored FMU blob is
 * decrypted and extracted once into <work dir>/fmus/<blob key>/ and shared,
 * read-only, by the jobs that run it, instead of once per job (which cost
 * more than the sandbox for small jobs).
 *
 * An entry is held (a reference) while a job uses it and removed when
 * unused for longer than the idle time, when the cache is over its entry
 * count or its byte budget (the least recently used unused entry goes
 * first), and at stop. Disk use is capped: a fill may write at most what
 * the budget leaves once every unused entry is evicted, capped at
 * UNPACKED_FILL_MAX, and is measured afterwards (an entry's bytes are its
 * files' allocated blocks); with the budget taken by entries in use, a
 * miss is refused (FMUGW_ELIMIT) instead of filled.
 * The plaintext lives only in the work dir (also where a job's own files
 * are, wiped at every start); see docs/architecture.md. Concurrent
 * requests for the same blob wait for one extraction. Thread-safe.
 */
#ifndef FMUGW_JOBS_UNPACKED_H
#define FMUGW_JOBS_UNPACKED_H

#include <stdint.h>

typedef struct unpacked_cache unpacked_cache;

/* Default byte budget of a cache, and the most one fill may write. */
#define UNPACKED_DEFAULT_MAX_BYTES ((uint64_t)8 << 30)
#define UNPACKED_FILL_MAX (((uint64_t)2 << 30) + ((uint64_t)256 << 20))

/** Unpacks the FMU of `blob_key` into the new, empty directory `dir`,
 *  writing at most `max_bytes` there (FMUGW_ETOOBIG past it). */
typedef int (*unpacked_fill_fn)(void *ctx, const char *blob_key, const char *dir, uint64_t max_bytes);

/** A cache in `dir` (created; emptied if it exists) keeping at most
 *  `max_entries` unused entries, each for at most `idle_ms`, and at most
 *  UNPACKED_DEFAULT_MAX_BYTES on disk. */
int unpacked_cache_new(unpacked_cache **out, const char *dir, unsigned max_entries, int64_t idle_ms);

/** Sets the byte budget (at least 1). Entries over it are evicted at the
 *  next acquire or sweep. */
void unpacked_cache_set_max_bytes(unpacked_cache *uc, uint64_t max_bytes);

/** Bytes on disk of the ready entries now. */
uint64_t unpacked_cache_bytes(unpacked_cache *uc);

/** The unpacked directory of `blob_key`, filled by `fill` on a miss, held
 *  until unpacked_cache_release. *path is borrowed until then. */
int unpacked_cache_acquire(unpacked_cache *uc, const char *blob_key, unpacked_fill_fn fill, void *ctx,
                           const char **path);

/** Gives back a reference taken by unpacked_cache_acquire. */
void unpacked_cache_release(unpacked_cache *uc, const char *blob_key);

/** Removes unused entries idle for longer than the idle time (also done on
 *  every acquire). */
void unpacked_cache_sweep(unpacked_cache *uc);

/** Removes every entry and its directory; none may be held. NULL: no-op. */
void unpacked_cache_free(unpacked_cache *uc);

#endif
