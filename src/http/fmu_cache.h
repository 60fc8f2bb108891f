/*
 * fmu_cache.h - a bounded cache of the serialised body of GET /fmu/{id}
 * (src/http/fmu.c), so the hot read neither queries the database nor
 * rebuilds the JSON with jansson.
 *
 * An entry is keyed by (account id, FMU id) and stamped with the
 * database's change epoch read BEFORE the row was read (store/db.h:
 * db_change_epoch, moved by every write of any process). It is served only
 * while the epoch is unchanged and for at most FMU_CACHE_MAX_AGE_MS (the
 * bound when a writer died between its commit and its last bump). The
 * caller puts a body only after reading the row with store_fmu_get, whose
 * SQL applies tenant isolation for that account: another account's FMU is
 * never cached under this account, so it is still a 404.
 *
 * Bounded: FMU_CACHE_SLOTS entries of at most FMU_CACHE_ENTRY_MAX bytes
 * each; bigger bodies are not cached. Thread-safe (sharded mutexes).
 * Process-wide: one daemon serves one database.
 */
#ifndef FMUGW_HTTP_FMU_CACHE_H
#define FMUGW_HTTP_FMU_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FMU_CACHE_SLOTS 256
#define FMU_CACHE_ENTRY_MAX (64 * 1024)
#define FMU_CACHE_MAX_AGE_MS 1000

/** If the body of FMU `fmu_id` as seen by `account_id` was cached at
 *  `epoch` less than FMU_CACHE_MAX_AGE_MS before `now_ms`: true, *body a
 *  malloc'd copy (the caller frees it) of *len bytes. */
bool fmu_cache_get(const char *account_id, const char *fmu_id, uint64_t epoch, int64_t now_ms, char **body,
                   size_t *len);

/** Caches `body` (`len` bytes, copied) for (`account_id`, `fmu_id`), read at
 *  `epoch` (taken before the row was read) at `now_ms`. Silently skipped
 *  when too big or out of memory. */
void fmu_cache_put(const char *account_id, const char *fmu_id, uint64_t epoch, int64_t now_ms, const char *body,
                   size_t len);

/** Drops every entry (app_free at shutdown). */
void fmu_cache_clear(void);

#endif
