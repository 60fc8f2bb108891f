/*
 * migrations.c - the schema of the metadata database, as numbered
 * migrations (see migrations.h), and the code that applies them.
 *
 * Tables (migration 1):
 *   accounts      tenants: unique email, tier name, lock flag
 *   api_keys      keys of an account: only an HMAC (hex) of the secret,
 *                 scopes (space-separated), usage/revocation/lock times
 *   fmus          the registry: owner (NULL for public samples), declared
 *                 name/size/sha256, state machine, summary and validation
 *                 report (JSON text), blob key, public flag, soft delete
 *   audit_log     the hash chain (see audit.h)
 * Migration 2: credit_grants (interim credits, see credits.h).
 */
#include "migrations.h"
#include "store_util.h"
#include "util/error.h"

#include <stdio.h>

typedef struct {
    int64_t version;
    const char *name;
    const char *sql;
} migration;

static const migration migrations[] = {
    {1, "initial schema",
     "CREATE TABLE accounts ("
     "  id TEXT PRIMARY KEY,"
     "  email TEXT NOT NULL UNIQUE,"
     "  tier TEXT NOT NULL,"
     "  created_at BIGINT NOT NULL,"
     "  locked INTEGER NOT NULL DEFAULT 0 CHECK (locked IN (0, 1))"
     ");"
     "CREATE TABLE api_keys ("
     "  id TEXT PRIMARY KEY,"
     "  account_id TEXT NOT NULL REFERENCES accounts(id),"
     "  prefix TEXT NOT NULL,"
     "  hmac TEXT NOT NULL UNIQUE,"
     "  scopes TEXT NOT NULL,"
     "  name TEXT,"
     "  created_at BIGINT NOT NULL,"
     "  last_used_at BIGINT,"
     "  revoked_at BIGINT,"
     "  locked_at BIGINT,"
     "  lock_reason TEXT"
     ");"
     "CREATE INDEX api_keys_account ON api_keys (account_id, created_at);"
     "CREATE TABLE fmus ("
     "  id TEXT PRIMARY KEY,"
     "  account_id TEXT REFERENCES accounts(id),"
     "  name TEXT NOT NULL,"
     "  size BIGINT NOT NULL CHECK (size >= 0),"
     "  sha256 TEXT NOT NULL,"
     "  state TEXT NOT NULL CHECK (state IN ('awaiting_upload', 'validating', 'ready', 'rejected')),"
     "  summary TEXT,"
     "  report TEXT,"
     "  blob_key TEXT,"
     "  is_public INTEGER NOT NULL DEFAULT 0 CHECK (is_public IN (0, 1)),"
     "  upload_expires_at BIGINT,"
     "  created_at BIGINT NOT NULL,"
     "  updated_at BIGINT NOT NULL,"
     "  deleted_at BIGINT"
     ");"
     "CREATE INDEX fmus_account ON fmus (account_id, created_at, id);"
     "CREATE INDEX fmus_public ON fmus (is_public, created_at, id);"
     "CREATE TABLE audit_log ("
     "  seq BIGINT PRIMARY KEY,"
     "  at BIGINT NOT NULL,"
     "  actor TEXT NOT NULL,"
     "  action TEXT NOT NULL,"
     "  target TEXT,"
     "  detail TEXT,"
     "  prev_hash TEXT NOT NULL,"
     "  hash TEXT NOT NULL"
     ");"},
    /* Interim credits: a balance is the sum of the grants. Issue 5's
     * ledger replaces this table (and migrates its rows). */
    {2, "credit grants",
     "CREATE TABLE credit_grants ("
     "  id TEXT PRIMARY KEY,"
     "  account_id TEXT NOT NULL REFERENCES accounts(id),"
     "  amount BIGINT NOT NULL,"
     "  at BIGINT NOT NULL,"
     "  reason TEXT"
     ");"
     "CREATE INDEX credit_grants_account ON credit_grants (account_id, at);"},
};

#define N_MIGRATIONS (sizeof migrations / sizeof migrations[0])

int64_t store_schema_latest(void)
{
    return migrations[N_MIGRATIONS - 1].version;
}

int store_schema_version(int64_t *out, db_conn *c)
{
    db_stmt *st = NULL;
    *out = 0;
    int rc = db_query(&st, c, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", NULL);
    if (rc == 0 && (rc = db_step(st)) == 1) {
        *out = db_column_int64(st, 0);
        rc = 0;
    }
    db_finalize(st);
    return rc;
}

static int apply_one(db_conn *c, void *ctx)
{
    const migration *m = ctx;
    db_stmt *st = NULL;
    /* Checked inside the write transaction: a concurrent starter that got
     * here first has already applied it. */
    int rc = db_query(&st, c, "SELECT 1 FROM schema_migrations WHERE version = $1", "i", m->version);
    if (rc != 0)
        goto out;
    rc = db_step(st);
    if (rc != 0) {
        rc = rc == 1 ? 0 : rc; /* already applied */
        goto out;
    }
    if ((rc = db_exec(c, m->sql)) != 0) {
        fmugw_error_set(rc, "migration %lld (%s): %s", (long long)m->version, m->name, fmugw_error_last());
        goto out;
    }
    rc = db_execp(NULL, c, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                  "iti", m->version, m->name, store__now_ms());
out:
    db_finalize(st);
    return rc;
}

int store_migrate(db_conn *c)
{
    int rc = db_exec(c, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                        "  version BIGINT PRIMARY KEY,"
                        "  name TEXT NOT NULL,"
                        "  applied_at BIGINT NOT NULL)");
    for (size_t i = 0; rc == 0 && i < N_MIGRATIONS; i++)
        rc = db_transact(c, apply_one, (void *)&migrations[i]);
    return rc;
}
