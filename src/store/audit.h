/*
 * audit.h - the audit log (table `audit_log`) as a hash chain.
 *
 * Entry seq = 1, 2, 3, ... (no gaps) with
 *   hash = SHA-256(prev_hash_bytes || canonical(entry))
 * where prev_hash is the previous entry's hash (32 zero bytes for seq 1),
 * both stored as lowercase hex, and canonical(entry) is the concatenation
 * of netstrings "<len>:<bytes>," of, in order: seq (decimal), at (decimal
 * unix ms), actor, action, target, detail — a NULL target or detail is
 * written "~," instead of a netstring. The detail JSON is hashed exactly as
 * stored, so it needs no JSON canonicalisation.
 *
 * Appends run in one write transaction that reads the last entry and
 * inserts the next (seq is the PRIMARY KEY, so even a backend that did not
 * serialise writers could not fork the chain: the loser gets a unique
 * violation and its transaction is retried). Called inside an outer
 * db_transact, the entry commits or rolls back with the caller's change.
 *
 * Verification recomputes every hash in seq order and reports the first
 * entry that was altered, inserted, or that follows a removed one.
 * Removing the newest entries cannot be seen from the chain alone (compare
 * the count or last hash with a copy kept elsewhere).
 *
 * Never write secrets into actor/target/detail. Errors: FMUGW_EINVALID for
 * missing actor/action, db.h errors.
 */
#ifndef FMUGW_STORE_AUDIT_H
#define FMUGW_STORE_AUDIT_H

#include "db.h"

#include <stdint.h>

/** Appends an entry. `actor` (e.g. "key:key_ab..", "admin", "anonymous")
 *  and `action` (e.g. "auth.fail", "key.create") are required; `target`
 *  and `detail_json` may be NULL. *out_seq (may be NULL) gets its seq. */
int store_audit_append(int64_t *out_seq, db_conn *c, const char *actor, const char *action, const char *target,
                       const char *detail_json);

/** Checks the whole chain. Returns 0 after a complete check, with
 *  *out_bad_seq = 0 if the chain is intact or the seq of the first bad
 *  entry; *out_count (may be NULL) gets the number of entries read. */
int store_audit_verify(int64_t *out_bad_seq, int64_t *out_count, db_conn *c);

#endif
