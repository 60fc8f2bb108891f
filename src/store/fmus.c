/* fmus.c - the FMU registry repository (see fmus.h for the tenant rule). */
#include "fmus.h"
#include "store_util.h"
#include "util/error.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COLS                                                                                            \
    "id, account_id, name, size, sha256, state, summary, report, blob_key, is_public, upload_expires_at, " \
    "created_at, updated_at"
#define NAME_MAX_LEN 255

static const char *const state_names[] = {"awaiting_upload", "validating", "ready", "rejected"};

const char *store_fmu_state_name(store_fmu_state s)
{
    return (unsigned)s < 4 ? state_names[s] : "unknown";
}

int store_fmu_state_parse(store_fmu_state *out, const char *name)
{
    for (unsigned i = 0; name && i < 4; i++) {
        if (strcmp(name, state_names[i]) == 0) {
            *out = (store_fmu_state)i;
            return 0;
        }
    }
    return fmugw_error_set(FMUGW_EINVALID, "unknown FMU state");
}

static bool transition_allowed(store_fmu_state from, store_fmu_state to)
{
    switch (from) {
    case STORE_FMU_AWAITING_UPLOAD:
        return to == STORE_FMU_VALIDATING;
    case STORE_FMU_VALIDATING:
        return to == STORE_FMU_READY || to == STORE_FMU_REJECTED || to == STORE_FMU_AWAITING_UPLOAD;
    default:
        return false; /* ready and rejected are final */
    }
}

void store_fmu_free(store_fmu *f)
{
    if (!f)
        return;
    free(f->id);
    free(f->account_id);
    free(f->name);
    free(f->sha256);
    free(f->summary);
    free(f->report);
    free(f->blob_key);
    free(f);
}

void store_fmu_list_free(store_fmu **list, size_t n)
{
    if (!list)
        return;
    for (size_t i = 0; i < n; i++)
        store_fmu_free(list[i]);
    free(list);
}

static int read_row(store_fmu **out, db_stmt *st)
{
    store_fmu *f = calloc(1, sizeof *f);
    int rc = f ? 0 : fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    char **text[] = {f ? &f->id : NULL, f ? &f->account_id : NULL, f ? &f->name : NULL};
    for (int i = 0; rc == 0 && i < 3; i++)
        rc = db_column_text_dup(text[i], st, i);
    if (rc == 0)
        rc = db_column_text_dup(&f->sha256, st, 4);
    if (rc == 0)
        rc = store_fmu_state_parse(&f->state, db_column_text(st, 5));
    if (rc == 0)
        rc = db_column_text_dup(&f->summary, st, 6);
    if (rc == 0)
        rc = db_column_text_dup(&f->report, st, 7);
    if (rc == 0)
        rc = db_column_text_dup(&f->blob_key, st, 8);
    if (rc != 0) {
        store_fmu_free(f);
        return rc;
    }
    f->size = db_column_int64(st, 3);
    f->is_public = db_column_int64(st, 9) != 0;
    f->upload_expires_at = db_column_int64(st, 10);
    f->created_at = db_column_int64(st, 11);
    f->updated_at = db_column_int64(st, 12);
    *out = f;
    return 0;
}

static int get_one(store_fmu **out, db_stmt *st)
{
    int rc = db_step(st);
    if (rc == 1)
        rc = read_row(out, st);
    else if (rc == 0)
        rc = fmugw_error_set(FMUGW_ENOTFOUND, "no such FMU");
    db_finalize(st);
    return rc;
}

int store_fmu_insert(store_fmu **out, db_conn *c, const store_fmu_new *in)
{
    char id[STORE_ID_MAX], sha[65];
    if (out)
        *out = NULL;
    if (!in->name || !*in->name || strlen(in->name) > NAME_MAX_LEN)
        return fmugw_error_set(FMUGW_EINVALID, "an FMU name has 1-%d bytes", NAME_MAX_LEN);
    if (in->size < 0)
        return fmugw_error_set(FMUGW_EINVALID, "negative FMU size");
    if (!in->account_id && !in->is_public)
        return fmugw_error_set(FMUGW_EINVALID, "a private FMU needs an owner");
    if ((unsigned)in->state > STORE_FMU_REJECTED)
        return fmugw_error_set(FMUGW_EINVALID, "bad FMU state");
    if (!in->sha256 || strlen(in->sha256) != 64 || strspn(in->sha256, "0123456789abcdefABCDEF") != 64)
        return fmugw_error_set(FMUGW_EINVALID, "sha256 must be 64 hex digits");
    for (int i = 0; i < 65; i++)
        sha[i] = (char)tolower((unsigned char)in->sha256[i]);
    int rc = store__new_id(id, "fmu");
    if (rc != 0)
        return rc;
    int64_t now = store__now_ms();
    db_stmt *st = NULL;
    rc = db_query(&st, c,
                  "INSERT INTO fmus (id, account_id, name, size, sha256, state, summary, blob_key, is_public,"
                  " upload_expires_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
                  " $11, $11)",
                  "tttitttti", id, in->account_id, in->name, in->size, sha, store_fmu_state_name(in->state),
                  in->summary, in->blob_key, (int64_t)(in->is_public ? 1 : 0));
    if (rc == 0)
        rc = in->upload_expires_at ? db_bind_int64(st, 10, in->upload_expires_at) : db_bind_null(st, 10);
    if (rc == 0)
        rc = db_bind_int64(st, 11, now);
    if (rc == 0)
        rc = db_step(st);
    db_finalize(st);
    if (rc == FMUGW_EINVALID)
        return fmugw_error_set(rc, "cannot insert the FMU (unknown account?): %s", fmugw_error_last());
    if (rc == 0 && out)
        rc = store_fmu_get_internal(out, c, id);
    return rc;
}

int store_fmu_get(store_fmu **out, db_conn *c, const char *account_id, const char *id)
{
    db_stmt *st = NULL;
    *out = NULL;
    int rc = db_query(&st, c,
                      "SELECT " COLS " FROM fmus WHERE id = $1 AND deleted_at IS NULL"
                      " AND (account_id = $2 OR is_public = 1)",
                      "tt", id, account_id);
    return rc == 0 ? get_one(out, st) : rc;
}

int store_fmu_get_owned(store_fmu **out, db_conn *c, const char *account_id, const char *id)
{
    db_stmt *st = NULL;
    *out = NULL;
    if (!account_id)
        return fmugw_error_set(FMUGW_ENOTFOUND, "no such FMU");
    int rc = db_query(&st, c, "SELECT " COLS " FROM fmus WHERE id = $1 AND deleted_at IS NULL AND account_id = $2",
                      "tt", id, account_id);
    return rc == 0 ? get_one(out, st) : rc;
}

int store_fmu_get_internal(store_fmu **out, db_conn *c, const char *id)
{
    db_stmt *st = NULL;
    *out = NULL;
    int rc = db_query(&st, c, "SELECT " COLS " FROM fmus WHERE id = $1 AND deleted_at IS NULL", "t", id);
    return rc == 0 ? get_one(out, st) : rc;
}

/* "<created_at>.<id>" -> parts; the id must look like one of ours. */
static int parse_cursor(int64_t *at, char id[STORE_ID_MAX], const char *cursor)
{
    char *end = NULL;
    long long v = strtoll(cursor, &end, 10);
    size_t n = end && *end == '.' ? strlen(end + 1) : 0;
    if (end == cursor || n == 0 || n >= STORE_ID_MAX || v < 0 ||
        strspn(end + 1, "abcdefghijklmnopqrstuvwxyz0123456789_") != n)
        return fmugw_error_set(FMUGW_EINVALID, "bad pagination cursor");
    *at = v;
    memcpy(id, end + 1, n + 1);
    return 0;
}

int store_fmu_list(store_fmu ***out, size_t *n, char **next_cursor, db_conn *c, const char *account_id,
                   bool include_public, const char *cursor, int64_t limit)
{
    db_stmt *st = NULL;
    store_fmu **list = NULL;
    size_t count = 0;
    int64_t at = INT64_MAX;
    char after[STORE_ID_MAX] = "";
    int rc = 0;
    *out = NULL;
    *n = 0;
    *next_cursor = NULL;
    if (limit < 1 || limit > 1000)
        return fmugw_error_set(FMUGW_EINVALID, "limit must be 1-1000");
    if (cursor && *cursor && (rc = parse_cursor(&at, after, cursor)) != 0)
        return rc;
    bool first = !cursor || !*cursor;
    char sql[1024];
    snprintf(sql, sizeof sql, "SELECT " COLS " FROM fmus WHERE deleted_at IS NULL AND %s%s"
             " ORDER BY created_at DESC, id DESC LIMIT $2",
             include_public ? "(account_id = $1 OR is_public = 1)" : "account_id = $1",
             first ? "" : " AND (created_at < $3 OR (created_at = $3 AND id < $4))");
    rc = first ? db_query(&st, c, sql, "ti", account_id, limit + 1)
               : db_query(&st, c, sql, "tiit", account_id, limit + 1, at, after);
    if (rc == 0 && !(list = calloc((size_t)limit + 1, sizeof *list)))
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    while (rc == 0 && (rc = db_step(st)) == 1) {
        rc = read_row(&list[count], st);
        if (rc == 0)
            count++;
    }
    db_finalize(st);
    if (rc == 0 && count > (size_t)limit) {
        /* One more row exists: the page ends at row limit-1. */
        store_fmu_free(list[count - 1]);
        count--;
        const store_fmu *last = list[count - 1];
        size_t len = strlen(last->id) + 24;
        if (!(*next_cursor = malloc(len)))
            rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        else
            snprintf(*next_cursor, len, "%" PRId64 ".%s", last->created_at, last->id);
    }
    if (rc != 0) {
        store_fmu_list_free(list, count);
        return rc;
    }
    *out = list;
    *n = count;
    return 0;
}

/* After an UPDATE matched nothing: absent (ENOTFOUND) or wrong state. */
static int explain_miss(db_conn *c, const char *id)
{
    store_fmu *f = NULL;
    int rc = store_fmu_get_internal(&f, c, id);
    if (rc == 0)
        rc = fmugw_error_set(FMUGW_ECONFLICT, "the FMU is %s: transition refused", store_fmu_state_name(f->state));
    store_fmu_free(f);
    return rc;
}

int store_fmu_set_state(db_conn *c, const char *id, store_fmu_state from, store_fmu_state to)
{
    int64_t changes = 0;
    if (!transition_allowed(from, to))
        return fmugw_error_set(FMUGW_ECONFLICT, "an FMU cannot go from %s to %s", store_fmu_state_name(from),
                               store_fmu_state_name(to));
    int rc = db_execp(&changes, c,
                      "UPDATE fmus SET state = $1, updated_at = $2 WHERE id = $3 AND state = $4 AND deleted_at IS NULL",
                      "titt", store_fmu_state_name(to), store__now_ms(), id, store_fmu_state_name(from));
    if (rc == 0 && changes == 0)
        rc = explain_miss(c, id);
    return rc;
}

int store_fmu_set_validation(db_conn *c, const char *id, store_fmu_state to, const char *summary_json,
                             const char *report_json)
{
    int64_t changes = 0;
    if (to != STORE_FMU_READY && to != STORE_FMU_REJECTED)
        return fmugw_error_set(FMUGW_ECONFLICT, "validation ends in ready or rejected");
    int rc = db_execp(&changes, c,
                      "UPDATE fmus SET state = $1, summary = $2, report = $3, updated_at = $4"
                      " WHERE id = $5 AND state = 'validating' AND deleted_at IS NULL",
                      "tttit", store_fmu_state_name(to), summary_json, report_json, store__now_ms(), id);
    if (rc == 0 && changes == 0)
        rc = explain_miss(c, id);
    return rc;
}

int store_fmu_set_blob(db_conn *c, const char *id, const char *blob_key)
{
    int64_t changes = 0;
    int rc = db_execp(&changes, c, "UPDATE fmus SET blob_key = $1, updated_at = $2 WHERE id = $3 AND deleted_at IS NULL",
                      "tit", blob_key, store__now_ms(), id);
    if (rc == 0 && changes == 0)
        rc = fmugw_error_set(FMUGW_ENOTFOUND, "no such FMU");
    return rc;
}

int store_fmu_delete(db_conn *c, const char *account_id, const char *id)
{
    int64_t changes = 0, now = store__now_ms();
    if (!account_id)
        return fmugw_error_set(FMUGW_ENOTFOUND, "no such FMU");
    int rc = db_execp(&changes, c,
                      "UPDATE fmus SET deleted_at = $1, updated_at = $1"
                      " WHERE id = $2 AND account_id = $3 AND deleted_at IS NULL",
                      "itt", now, id, account_id);
    if (rc == 0 && changes == 0)
        rc = fmugw_error_set(FMUGW_ENOTFOUND, "no such FMU");
    return rc;
}
