/*
 * migrations.h - versioned schema migrations of the metadata database.
 *
 * The schema is a list of numbered migrations kept in migrations.c; each is
 * applied at most once, in its own write transaction together with its row
 * in `schema_migrations (version, name, applied_at)`, so a crash leaves the
 * database either before or after a migration, and two processes starting
 * at once do not apply one twice. The SQL is portable to PostgreSQL
 * (BIGINT/INTEGER/TEXT, ids as TEXT made by the application, times as
 * BIGINT unix milliseconds, JSON as TEXT, booleans as INTEGER 0/1).
 * Later issues (jobs, ledger, ...) append migrations; never edit or
 * renumber one that has shipped.
 */
#ifndef FMUGW_STORE_MIGRATIONS_H
#define FMUGW_STORE_MIGRATIONS_H

#include "db.h"

/** Applies every migration not yet applied, in order. Safe to call on
 *  every start. Returns 0 or the failing migration's error (the database
 *  stays at the last successful version). */
int store_migrate(db_conn *c);

/** Highest applied migration version (0 for an empty database). */
int store_schema_version(int64_t *out, db_conn *c);

/** Highest migration version this binary knows. */
int64_t store_schema_latest(void);

#endif
