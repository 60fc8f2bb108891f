/*
 * fmus.h - the FMU registry repository (table `fmus`).
 *
 * Tenant isolation lives here, in the SQL: every read a tenant can trigger
 * has `WHERE ... AND (account_id = $acct OR is_public = 1)` and every write
 * a tenant can trigger has `AND account_id = $acct`, so another account's
 * private FMU is indistinguishable from a missing one (FMUGW_ENOTFOUND, to
 * be answered 404). Public FMUs (the samples; account_id NULL) are visible
 * to every account but nobody's to delete through these functions.
 * Soft-deleted rows (deleted_at set) are invisible to every function.
 *
 * State machine (refused transitions give FMUGW_ECONFLICT):
 *   awaiting_upload -> validating -> ready | rejected
 *   validating -> awaiting_upload   (an upload that failed, e.g. checksum)
 * Transitions are compare-and-set on the current state, so two workers
 * cannot both move the same FMU.
 *
 * Pagination (store_fmu_list): keyset, newest first, ordered by
 * (created_at DESC, id DESC). The cursor is an opaque string
 * "<created_at>.<id>" from the previous page's next_cursor (NULL/"" for the
 * first page); it stays stable when rows are added or deleted meanwhile.
 *
 * Ownership: store_fmu results belong to the caller (store_fmu_free,
 * store_fmu_list_free; NULL is a no-op); *next_cursor is malloc'd.
 */
#ifndef FMUGW_STORE_FMUS_H
#define FMUGW_STORE_FMUS_H

#include "db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    STORE_FMU_AWAITING_UPLOAD = 0,
    STORE_FMU_VALIDATING,
    STORE_FMU_READY,
    STORE_FMU_REJECTED
} store_fmu_state;

typedef struct {
    char *id;         /* "fmu_" + 32 hex */
    char *account_id; /* NULL for a public sample without owner */
    char *name;
    int64_t size;     /* declared size in bytes */
    char *sha256;     /* declared SHA-256, lowercase hex */
    store_fmu_state state;
    char *summary;    /* JSON text or NULL */
    char *report;     /* JSON text or NULL */
    char *blob_key;   /* NULL until stored */
    bool is_public;
    int64_t upload_expires_at; /* 0 if none */
    int64_t created_at, updated_at;
} store_fmu;

/** What store_fmu_insert needs. `account_id` NULL only for public FMUs;
 *  `sha256` is 64 hex digits (stored lowercased). */
typedef struct {
    const char *account_id;
    const char *name;
    int64_t size;
    const char *sha256;
    store_fmu_state state;    /* usually STORE_FMU_AWAITING_UPLOAD */
    bool is_public;
    const char *blob_key;     /* may be NULL */
    const char *summary;      /* may be NULL */
    int64_t upload_expires_at; /* 0 if none */
} store_fmu_new;

/** "awaiting_upload", "validating", "ready", "rejected". */
const char *store_fmu_state_name(store_fmu_state s);

/** Parses a state name; FMUGW_EINVALID if unknown. */
int store_fmu_state_parse(store_fmu_state *out, const char *name);

/** Inserts an FMU; *out (may be NULL) gets the stored row. */
int store_fmu_insert(store_fmu **out, db_conn *c, const store_fmu_new *in);

/** Gets an FMU as `account_id` sees it: its own or a public one.
 *  FMUGW_ENOTFOUND otherwise. `account_id` NULL sees only public FMUs. */
int store_fmu_get(store_fmu **out, db_conn *c, const char *account_id, const char *id);

/** Gets an FMU only if `account_id` owns it (downloads, deletes, uploads:
 *  public samples are not downloadable). */
int store_fmu_get_owned(store_fmu **out, db_conn *c, const char *account_id, const char *id);

/** Gets any live FMU by id, whoever owns it: for the internal pipeline and
 *  admin tools only, never on a tenant's behalf. */
int store_fmu_get_internal(store_fmu **out, db_conn *c, const char *id);

/** One page of the FMUs `account_id` can see (its own, plus public ones
 *  when `include_public`), newest first. `limit` is 1-1000. *next_cursor
 *  is NULL on the last page. */
int store_fmu_list(store_fmu ***out, size_t *n, char **next_cursor, db_conn *c, const char *account_id,
                   bool include_public, const char *cursor, int64_t limit);

/** Moves an FMU from `from` to `to` if that transition is allowed and the
 *  FMU is in `from` now (FMUGW_ECONFLICT otherwise; FMUGW_ENOTFOUND if
 *  absent). Internal: the caller has already checked the tenant. */
int store_fmu_set_state(db_conn *c, const char *id, store_fmu_state from, store_fmu_state to);

/** Ends validation: validating -> `to` (ready or rejected) and stores the
 *  summary and report JSON (either may be NULL) in the same UPDATE. */
int store_fmu_set_validation(db_conn *c, const char *id, store_fmu_state to, const char *summary_json,
                             const char *report_json);

/** Records where the bytes live. */
int store_fmu_set_blob(db_conn *c, const char *id, const char *blob_key);

/** Soft-deletes an FMU that `account_id` owns. FMUGW_ENOTFOUND for a
 *  missing, public, other account's or already deleted FMU. */
int store_fmu_delete(db_conn *c, const char *account_id, const char *id);

/** Frees an FMU. NULL is a no-op. */
void store_fmu_free(store_fmu *f);

/** Frees an array from store_fmu_list. */
void store_fmu_list_free(store_fmu **list, size_t n);

#endif
