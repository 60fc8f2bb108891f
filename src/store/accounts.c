/* accounts.c - the accounts repository (see accounts.h). */
#include "accounts.h"
#include "store_util.h"
#include "util/error.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define COLS "id, email, tier, created_at, locked"
#define EMAIL_MAX 254

static int normalise_email(char out[EMAIL_MAX + 1], const char *email)
{
    if (!email)
        return fmugw_error_set(FMUGW_EINVALID, "no email");
    while (isspace((unsigned char)*email))
        email++;
    size_t n = strlen(email);
    while (n > 0 && isspace((unsigned char)email[n - 1]))
        n--;
    if (n == 0 || n > EMAIL_MAX)
        return fmugw_error_set(FMUGW_EINVALID, "an email must have 1 to %d characters", EMAIL_MAX);
    const char *at = memchr(email, '@', n);
    if (!at || at == email || at == email + n - 1)
        return fmugw_error_set(FMUGW_EINVALID, "not an email address");
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)email[i];
        if (ch < 0x21 || ch == 0x7f)
            return fmugw_error_set(FMUGW_EINVALID, "an email cannot contain spaces or control characters");
        out[i] = (char)tolower(ch);
    }
    out[n] = '\0';
    return 0;
}

static int check_tier(const char *tier)
{
    size_t n = tier ? strlen(tier) : 0;
    if (n == 0 || n > 32 || strspn(tier, "abcdefghijklmnopqrstuvwxyz0123456789_-") != n)
        return fmugw_error_set(FMUGW_EINVALID, "a tier name has 1-32 characters of [a-z0-9_-]");
    return 0;
}

void store_account_free(store_account *a)
{
    if (!a)
        return;
    free(a->id);
    free(a->email);
    free(a->tier);
    free(a);
}

void store_account_list_free(store_account **list, size_t n)
{
    if (!list)
        return;
    for (size_t i = 0; i < n; i++)
        store_account_free(list[i]);
    free(list);
}

static int read_row(store_account **out, db_stmt *st)
{
    store_account *a = calloc(1, sizeof *a);
    int rc = a ? 0 : fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    if (rc == 0)
        rc = db_column_text_dup(&a->id, st, 0);
    if (rc == 0)
        rc = db_column_text_dup(&a->email, st, 1);
    if (rc == 0)
        rc = db_column_text_dup(&a->tier, st, 2);
    if (rc == 0) {
        a->created_at = db_column_int64(st, 3);
        a->locked = db_column_int64(st, 4) != 0;
        *out = a;
    } else {
        store_account_free(a);
    }
    return rc;
}

/* Runs a query expected to return at most one account. */
static int get_one(store_account **out, db_stmt *st, const char *what)
{
    int rc = db_step(st);
    if (rc == 1)
        rc = read_row(out, st);
    else if (rc == 0)
        rc = fmugw_error_set(FMUGW_ENOTFOUND, "no account with this %s", what);
    db_finalize(st);
    return rc;
}

int store_account_create(store_account **out, db_conn *c, const char *email, const char *tier)
{
    char norm[EMAIL_MAX + 1], id[STORE_ID_MAX];
    if (out)
        *out = NULL;
    int rc = normalise_email(norm, email);
    if (rc == 0)
        rc = check_tier(tier);
    if (rc == 0)
        rc = store__new_id(id, "acct");
    if (rc != 0)
        return rc;
    int64_t now = store__now_ms();
    rc = db_execp(NULL, c, "INSERT INTO accounts (id, email, tier, created_at, locked) VALUES ($1, $2, $3, $4, 0)",
                  "ttti", id, norm, tier, now);
    if (rc == FMUGW_EEXISTS)
        return fmugw_error_set(rc, "an account with this email already exists");
    if (rc == 0 && out)
        rc = store_account_get(out, c, id);
    return rc;
}

int store_account_get(store_account **out, db_conn *c, const char *id)
{
    db_stmt *st = NULL;
    *out = NULL;
    int rc = db_query(&st, c, "SELECT " COLS " FROM accounts WHERE id = $1", "t", id);
    return rc == 0 ? get_one(out, st, "id") : rc;
}

int store_account_find_by_email(store_account **out, db_conn *c, const char *email)
{
    char norm[EMAIL_MAX + 1];
    db_stmt *st = NULL;
    *out = NULL;
    int rc = normalise_email(norm, email);
    if (rc == 0)
        rc = db_query(&st, c, "SELECT " COLS " FROM accounts WHERE email = $1", "t", norm);
    return rc == 0 ? get_one(out, st, "email") : rc;
}

int store_account_list(store_account ***out, size_t *n, db_conn *c, int64_t offset, int64_t limit)
{
    db_stmt *st = NULL;
    store_account **list = NULL;
    size_t count = 0;
    *out = NULL;
    *n = 0;
    if (limit < 1 || limit > 1000 || offset < 0)
        return fmugw_error_set(FMUGW_EINVALID, "limit must be 1-1000 and offset >= 0");
    int rc = db_query(&st, c, "SELECT " COLS " FROM accounts ORDER BY created_at, id LIMIT $1 OFFSET $2", "ii",
                      limit, offset);
    if (rc == 0 && !(list = calloc((size_t)limit, sizeof *list)))
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    while (rc == 0 && (rc = db_step(st)) == 1)
        rc = read_row(&list[count++], st);
    db_finalize(st);
    if (rc != 0) {
        store_account_list_free(list, count);
        return rc;
    }
    *out = list;
    *n = count;
    return 0;
}

static int update_one(db_conn *c, const char *sql, const char *types, const char *id, int64_t i, const char *t)
{
    int64_t changes = 0;
    int rc = types[0] == 'i' ? db_execp(&changes, c, sql, "it", i, id) : db_execp(&changes, c, sql, "tt", t, id);
    if (rc == 0 && changes == 0)
        rc = fmugw_error_set(FMUGW_ENOTFOUND, "no such account");
    return rc;
}

int store_account_set_tier(db_conn *c, const char *id, const char *tier)
{
    int rc = check_tier(tier);
    return rc ? rc : update_one(c, "UPDATE accounts SET tier = $1 WHERE id = $2", "t", id, 0, tier);
}

int store_account_set_locked(db_conn *c, const char *id, bool locked)
{
    return update_one(c, "UPDATE accounts SET locked = $1 WHERE id = $2", "i", id, locked ? 1 : 0, NULL);
}
