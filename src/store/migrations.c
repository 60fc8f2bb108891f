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
 * Migration 3: the credit ledger (src/ledger/ledger.h): ledger_ops (one row
 *   per operation, its idempotency key the primary key; `closes` makes
 *   settle/release of a job exclusive) and ledger_entries (the immutable
 *   double-entry legs, amounts in millicredits). The interim credit_grants
 *   rows (whole credits) are folded in as grant/adjust operations; the old
 *   table stays, unused.
 * Migration 4: jobs, idempotency_keys, results (src/jobs/jobs.h).
 * Migration 5: jobs.progress_ppm (millionths of the simulated span a
 *   running job has reached, written by its worker at most every 0.5 s).
 * Migration 6: index jobs (account_id, status): the per-account counts of
 *   queued and running jobs (admission, the fair claim) no longer read
 *   every job the account ever ran.
 * Migration 7: ledger_books, the running balance of every book account,
 *   filled from the entries (src/ledger/ledger.h); a covering index for
 *   an account's settlements in a billing cycle (ledger_usage_total, read
 *   at every admission and finish).
 * Migration 8: ledger kind 'storage' (both ledger tables rebuilt, rows
 *   kept) and storage_accruals, one row per run of the storage accrual per
 *   account and UTC day (store/storage.h).
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
    /* Migration 3 (issue 5, src/ledger): the double-entry credit ledger. */
    {3, "credit ledger",
     "CREATE TABLE ledger_ops ("
     "  op_key TEXT PRIMARY KEY,"
     "  kind TEXT NOT NULL CHECK (kind IN ('grant', 'adjust', 'reserve', 'settle', 'release')),"
     "  account_id TEXT NOT NULL REFERENCES accounts(id),"
     "  job_id TEXT,"
     "  closes TEXT UNIQUE,"
     "  at BIGINT NOT NULL,"
     "  amount BIGINT NOT NULL CHECK (amount >= 0),"
     "  overage BIGINT NOT NULL DEFAULT 0 CHECK (overage >= 0),"
     "  detail TEXT"
     ");"
     "CREATE INDEX ledger_ops_account ON ledger_ops (account_id, kind, at);"
     "CREATE INDEX ledger_ops_job ON ledger_ops (job_id);"
     "CREATE TABLE ledger_entries ("
     "  seq BIGINT PRIMARY KEY,"
     "  at BIGINT NOT NULL,"
     "  op_key TEXT NOT NULL REFERENCES ledger_ops(op_key),"
     "  leg INTEGER NOT NULL,"
     "  kind TEXT NOT NULL CHECK (kind IN ('grant', 'adjust', 'reserve', 'overage', 'settle', 'release')),"
     "  debit TEXT NOT NULL,"
     "  credit TEXT NOT NULL,"
     "  amount BIGINT NOT NULL CHECK (amount > 0),"
     "  account_id TEXT NOT NULL,"
     "  job_id TEXT,"
     "  detail TEXT,"
     "  UNIQUE (op_key, leg)"
     ");"
     "CREATE INDEX ledger_entries_account ON ledger_entries (account_id, seq);"
     "CREATE INDEX ledger_entries_debit ON ledger_entries (debit, amount);"
     "CREATE INDEX ledger_entries_credit ON ledger_entries (credit, amount);"
     "CREATE INDEX ledger_entries_job ON ledger_entries (job_id);"
     /* Fold the interim grants (whole credits) in, oldest first. */
     "INSERT INTO ledger_ops (op_key, kind, account_id, job_id, closes, at, amount, overage, detail)"
     "  SELECT 'migrated:' || id, CASE WHEN amount > 0 THEN 'grant' ELSE 'adjust' END, account_id,"
     "         NULL, NULL, at, ABS(amount) * 1000, 0, NULL"
     "  FROM credit_grants WHERE amount <> 0;"
     "INSERT INTO ledger_entries (seq, at, op_key, leg, kind, debit, credit, amount, account_id, job_id, detail)"
     "  SELECT (SELECT COUNT(*) FROM credit_grants g2 WHERE g2.amount <> 0 AND"
     "            (g2.at < g.at OR (g2.at = g.at AND g2.id <= g.id))),"
     "         g.at, 'migrated:' || g.id, 0, CASE WHEN g.amount > 0 THEN 'grant' ELSE 'adjust' END,"
     "         CASE WHEN g.amount > 0 THEN 'system:grants' ELSE 'user:' || g.account_id || ':available' END,"
     "         CASE WHEN g.amount > 0 THEN 'user:' || g.account_id || ':available' ELSE 'system:grants' END,"
     "         ABS(g.amount) * 1000, g.account_id, NULL, NULL"
     "  FROM credit_grants g WHERE g.amount <> 0;"},
    /* Migration 4 (issue 5, src/jobs): the durable job queue, the
     * idempotency keys of POST /fmu/execute, and the stored results. */
    {4, "jobs, idempotency keys, results",
     "CREATE TABLE jobs ("
     "  id TEXT PRIMARY KEY,"
     "  account_id TEXT NOT NULL REFERENCES accounts(id),"
     "  fmu_id TEXT NOT NULL,"
     "  fmu_sha256 TEXT NOT NULL,"
     "  fmu_size BIGINT NOT NULL,"
     "  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled', 'timed_out')),"
     "  request TEXT NOT NULL,"
     "  request_hash TEXT NOT NULL,"
     "  inputs_csv TEXT,"
     "  tier TEXT NOT NULL,"
     "  max_concurrent INTEGER NOT NULL,"
     "  timeout_ms BIGINT NOT NULL,"
     "  memory_limit BIGINT NOT NULL,"
     "  credits_reserved BIGINT NOT NULL DEFAULT 0,"
     "  credits_charged BIGINT NOT NULL DEFAULT 0,"
     "  reused INTEGER NOT NULL DEFAULT 0 CHECK (reused IN (0, 1)),"
     "  attempts INTEGER NOT NULL DEFAULT 0,"
     "  lease_owner TEXT,"
     "  lease_expires_at BIGINT,"
     "  cancel_requested INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),"
     "  error_class TEXT,"
     "  error_message TEXT,"
     "  cpu_ms BIGINT NOT NULL DEFAULT 0,"
     "  wall_ms BIGINT NOT NULL DEFAULT 0,"
     "  peak_rss_kb BIGINT NOT NULL DEFAULT 0,"
     "  output_bytes BIGINT NOT NULL DEFAULT 0,"
     "  rows BIGINT NOT NULL DEFAULT 0,"
     "  created_at BIGINT NOT NULL,"
     "  started_at BIGINT,"
     "  finished_at BIGINT,"
     "  updated_at BIGINT NOT NULL"
     ");"
     "CREATE INDEX jobs_queue ON jobs (status, created_at);"
     "CREATE INDEX jobs_account ON jobs (account_id, created_at, id);"
     "CREATE INDEX jobs_reuse ON jobs (account_id, request_hash);"
     "CREATE TABLE idempotency_keys ("
     "  account_id TEXT NOT NULL REFERENCES accounts(id),"
     "  idem_key TEXT NOT NULL,"
     "  request_hash TEXT NOT NULL,"
     "  response_status INTEGER,"
     "  response_body TEXT,"
     "  created_at BIGINT NOT NULL,"
     "  PRIMARY KEY (account_id, idem_key)"
     ");"
     "CREATE TABLE results ("
     "  job_id TEXT PRIMARY KEY REFERENCES jobs(id),"
     "  account_id TEXT NOT NULL,"
     "  blob_key TEXT NOT NULL,"
     "  format TEXT NOT NULL CHECK (format IN ('csv', 'json')),"
     "  rows BIGINT NOT NULL,"
     "  size BIGINT NOT NULL,"
     "  sha256 TEXT NOT NULL,"
     "  created_at BIGINT NOT NULL"
     ");"
     "CREATE INDEX results_account ON results (account_id, created_at);"
     "CREATE INDEX results_created ON results (created_at);"
     "CREATE INDEX results_blob ON results (blob_key);"},
    /* Migration 5 (issue 5, src/jobs/worker.c): progress of a running
     * job, so that the API process shows what a worker process reports. */
    {5, "jobs.progress_ppm",
     "ALTER TABLE jobs ADD COLUMN progress_ppm BIGINT NOT NULL DEFAULT 0;"},
    {6, "jobs_account_status", "CREATE INDEX jobs_account_status ON jobs (account_id, status);"},
    {7, "ledger_books",
     "CREATE TABLE ledger_books ("
     "  book TEXT PRIMARY KEY,"
     "  balance BIGINT NOT NULL"
     ");"
     "INSERT INTO ledger_books (book, balance)"
     " SELECT book, SUM(x) FROM ("
     "  SELECT credit AS book, amount AS x FROM ledger_entries"
     "  UNION ALL SELECT debit AS book, -amount AS x FROM ledger_entries) t GROUP BY book;"
     "CREATE INDEX ledger_ops_usage ON ledger_ops (account_id, kind, at, amount, overage);"},
    /* Migration 8: storage charges. The ledger's kind CHECKs gain
     * 'storage' (SQL cannot alter a CHECK: both tables are rebuilt, the
     * child renamed first so that its old rows keep pointing at the old
     * parent until both are dropped); storage_accruals records each run
     * of the accrual per (account, UTC day). */
    {8, "storage charges",
     "ALTER TABLE ledger_entries RENAME TO ledger_entries_v7;"
     "ALTER TABLE ledger_ops RENAME TO ledger_ops_v7;"
     "CREATE TABLE ledger_ops ("
     "  op_key TEXT PRIMARY KEY,"
     "  kind TEXT NOT NULL CHECK (kind IN ('grant', 'adjust', 'reserve', 'settle', 'release', 'storage')),"
     "  account_id TEXT NOT NULL REFERENCES accounts(id),"
     "  job_id TEXT,"
     "  closes TEXT UNIQUE,"
     "  at BIGINT NOT NULL,"
     "  amount BIGINT NOT NULL CHECK (amount >= 0),"
     "  overage BIGINT NOT NULL DEFAULT 0 CHECK (overage >= 0),"
     "  detail TEXT"
     ");"
     "INSERT INTO ledger_ops (op_key, kind, account_id, job_id, closes, at, amount, overage, detail)"
     "  SELECT op_key, kind, account_id, job_id, closes, at, amount, overage, detail FROM ledger_ops_v7;"
     "CREATE TABLE ledger_entries ("
     "  seq BIGINT PRIMARY KEY,"
     "  at BIGINT NOT NULL,"
     "  op_key TEXT NOT NULL REFERENCES ledger_ops(op_key),"
     "  leg INTEGER NOT NULL,"
     "  kind TEXT NOT NULL CHECK (kind IN ('grant', 'adjust', 'reserve', 'overage', 'settle', 'release',"
     "                                     'storage')),"
     "  debit TEXT NOT NULL,"
     "  credit TEXT NOT NULL,"
     "  amount BIGINT NOT NULL CHECK (amount > 0),"
     "  account_id TEXT NOT NULL,"
     "  job_id TEXT,"
     "  detail TEXT,"
     "  UNIQUE (op_key, leg)"
     ");"
     "INSERT INTO ledger_entries (seq, at, op_key, leg, kind, debit, credit, amount, account_id, job_id, detail)"
     "  SELECT seq, at, op_key, leg, kind, debit, credit, amount, account_id, job_id, detail"
     "  FROM ledger_entries_v7;"
     "DROP TABLE ledger_entries_v7;"
     "DROP TABLE ledger_ops_v7;"
     "CREATE INDEX ledger_ops_account ON ledger_ops (account_id, kind, at);"
     "CREATE INDEX ledger_ops_job ON ledger_ops (job_id);"
     "CREATE INDEX ledger_ops_usage ON ledger_ops (account_id, kind, at, amount, overage);"
     "CREATE INDEX ledger_entries_account ON ledger_entries (account_id, seq);"
     "CREATE INDEX ledger_entries_debit ON ledger_entries (debit, amount);"
     "CREATE INDEX ledger_entries_credit ON ledger_entries (credit, amount);"
     "CREATE INDEX ledger_entries_job ON ledger_entries (job_id);"
     "CREATE TABLE storage_accruals ("
     "  account_id TEXT NOT NULL REFERENCES accounts(id),"
     "  day TEXT NOT NULL,"
     "  at BIGINT NOT NULL,"
     "  from_ms BIGINT NOT NULL,"
     "  through_ms BIGINT NOT NULL,"
     "  fmu_bytes BIGINT NOT NULL,"
     "  result_bytes BIGINT NOT NULL,"
     "  cost_micro BIGINT NOT NULL CHECK (cost_micro >= 0),"
     "  charged BIGINT NOT NULL CHECK (charged >= 0),"
     "  overage BIGINT NOT NULL CHECK (overage >= 0),"
     "  unpaid BIGINT NOT NULL CHECK (unpaid >= 0),"
     "  PRIMARY KEY (account_id, day)"
     ");"},
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
