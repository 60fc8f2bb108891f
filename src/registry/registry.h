/*
 * registry.h - the FMU registry pipeline, without HTTP: an upload streams
 * through SHA-256 and envelope encryption (crypto_seal under the active
 * master key, 64 KiB chunks) straight into a blob_writer, i.e. a temporary
 * file inside the blob store: the bytes are written once. When the
 * declared size and SHA-256 match, the writer commits (fsync, rename into
 * place under the key = SHA-256 of the sealed bytes, directory fsync);
 * otherwise it is dropped. Validation then decrypts the blob into a
 * private temporary directory and runs fmugw-validator (evaluate.h) on it
 * in the sandbox (sandbox_run: namespaces, seccomp, rlimits): every zip
 * entry's header is checked there, only modelDescription.xml and binaries/
 * are extracted (to the sandbox's tmpfs), and the validator and the model
 * summary run there too; the daemon never parses the zip or the XML. It
 * reads back one JSON answer, at most REGISTRY_ANSWER_MAX bytes, checks its
 * shape and stores it. The plaintext copy is removed when validation ends.
 * Jobs get the whole FMU (src/jobs: decrypt + fmi_archive_extract).
 * src/http/fmu.c drives it from the routes; registry_import_samples() puts
 * the public sample FMUs through the same path at start.
 *
 * States (store/fmus.h): awaiting_upload -> validating -> ready | rejected.
 * An upload whose bytes do not match the declaration (size or SHA-256)
 * leaves the FMU in awaiting_upload: the client may PUT again to the same
 * signed URL until it expires. Nothing becomes visible before the bytes are
 * complete and checked: a crash mid-upload leaves a temporary file in the
 * blob store's tmp/ (removed when the store is next opened: app_open) and
 * the FMU still awaiting_upload. Validation runs
 * synchronously at the end of the upload for now (issue 5's workers can
 * take it over: registry_validate() is the unit of work); an FMU left in
 * `validating` by a crash between the blob put and the end of validation
 * can be finished by calling registry_validate() again.
 *
 * Fatal validation rules (the FMU is rejected; every other problem the
 * engine tolerates and the FMU becomes ready with the problems listed as
 * warnings in its report):
 *   archive, model-description-missing, model-description-parse,
 *   fmi-version, interface-required, model-identifier-invalid,
 *   binary-invalid, binary-function-missing,
 *   binary-missing when it is missing for every declared interface,
 *   model-too-large (the summary and report would pass
 *   REGISTRY_ANSWER_MAX), validation-aborted (the sandboxed validator hit
 *   a limit, crashed, or gave no well-formed answer).
 * Report JSON: {"valid": bool, "fatal": [rules...], "problems":
 *   [{"rule","where","message","severity":"error"|"warning"}]} with at
 *   most REGISTRY_REPORT_MAX_PROBLEMS problems (then "problems_total").
 *
 * Ownership: a registry_upload is freed with registry_upload_free (NULL is
 * a no-op), which also removes its temporary file. JSON values returned
 * are new references owned by the caller.
 */
#ifndef FMUGW_REGISTRY_REGISTRY_H
#define FMUGW_REGISTRY_REGISTRY_H

#include "server/app.h"
#include "store/fmus.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/** The largest body of the one-request upload (POST /fmu). */
#define REGISTRY_SMALL_MAX ((uint64_t)16 << 20)

/** An upload in progress (opaque). */
typedef struct registry_upload registry_upload;

/** Starts an upload: a blob_writer on a->blobs, a SHA-256 context and a
 *  sealing stream under the active master key. `max_bytes` caps the
 *  plaintext (FMUGW_ETOOBIG past it from registry_upload_write). */
int registry_upload_begin(registry_upload **out, app *a, uint64_t max_bytes);

/** Feeds `len` more plaintext bytes. FMUGW_ETOOBIG once the total passes
 *  the cap; the upload is then dead. */
int registry_upload_write(registry_upload *u, const void *data, size_t len);

/** Ends the stream: seals the final chunk and computes the SHA-256 (hex
 *  into sha256_hex) and the plaintext size. Calling it again gives the
 *  same answer. */
int registry_upload_end(registry_upload *u, char sha256_hex[65], uint64_t *size);

/** Commits the sealed bytes of an ended upload as a blob (they are in the
 *  store already: fsync + rename); writes the blob key (SHA-256 of the
 *  sealed bytes). Durable on return. Once only. */
int registry_upload_store(registry_upload *u, char blob_key[65]);

/** Frees an upload and removes its temporary file. NULL is a no-op. */
void registry_upload_free(registry_upload *u);

/** Validates the stored blob of FMU `fmu_id` (in state validating):
 *  checks every archive entry's header from the sealed blob, unpacks only
 *  modelDescription.xml and binaries/ to a private temporary directory,
 *  runs the validator, builds the summary, and moves the FMU to ready or rejected with summary and report.
 *  *out_ready (may be NULL) tells which. `rules` (may be NULL) gets a
 *  malloc'd comma-separated list of the fatal rules (for audit details). */
int registry_validate(bool *out_ready, char **rules, app *a, db_conn *c, const char *fmu_id, const char *blob_key);

/** Finishes a tenant's upload of FMU `fmu_id` (awaiting_upload): checks
 *  the ended upload against the declared size and SHA-256 (FMUGW_EINVALID
 *  "checksum mismatch" / "size mismatch"; the FMU stays awaiting_upload),
 *  stores the blob, moves the FMU to validating (FMUGW_ECONFLICT if another
 *  upload got there first), validates and audits "fmu.upload" with `actor`.
 *  *out (may be NULL) gets the final row. */
int registry_upload_finish(store_fmu **out, app *a, db_conn *c, registry_upload *u, const store_fmu *fmu,
                           const char *actor);

/** Finds a live FMU of `account_id` (NULL: the public registry) with this
 *  SHA-256 in state ready (or any state when `any_state`). *out_id is
 *  malloc'd, NULL if none. */
int registry_find_by_sha256(char **out_id, db_conn *c, const char *account_id, const char *sha256, bool any_state);

/** Imports every *.fmu under dir/2.0 and dir/3.0 as a public FMU named
 *  "<Model> (FMI x.0)" unless one with the same SHA-256 is already there
 *  (idempotent), through the same seal + validate path. Returns 0 even if
 *  some samples fail to import (each failure is logged). */
int registry_import_samples(app *a, const char *dir);

/** Decrypts blob `blob_key` into the open file `f` (plaintext only
 *  trustworthy when this returns 0). */
int registry_blob_decrypt(app *a, const char *blob_key, FILE *f);

/** Variables in the summary of GET /fmu/{id} (the first ones, in model
 *  order); the others are paged with registry_fmu_variables. */
#define REGISTRY_VARIABLES_INLINE 1000
/** Default and largest page of GET /fmu/{id}/variables. */
#define REGISTRY_VARIABLES_PAGE_DEFAULT 100
#define REGISTRY_VARIABLES_PAGE_MAX 1000

/** The JSON representation of an FMU: id, name, status, public, size,
 *  sha256, created_at, updated_at, and with `full` also summary and
 *  validation (parsed from the stored JSON, null if none). The summary's
 *  `variables` holds at most REGISTRY_VARIABLES_INLINE of them and
 *  `variables_truncated` tells whether there are more (counts.variables
 *  has the total). */
json_t *registry_fmu_json(const store_fmu *f, bool full);

/** One page of the variables of FMU `f`'s summary: {"fmu_id", "total",
 *  "offset", "limit", "variables": [...], "next_offset": int|null}.
 *  `limit` is 1..REGISTRY_VARIABLES_PAGE_MAX (FMUGW_EINVALID otherwise); an
 *  offset past the end gives an empty page. FMUGW_ECONFLICT when the FMU
 *  has no summary (not validated, or its model could not be read). */
int registry_fmu_variables(json_t **out, const store_fmu *f, uint64_t offset, uint64_t limit);

/** Formats unix milliseconds as RFC 3339 UTC ("2024-05-01T12:00:00Z"). */
void registry_format_time(char *buf, size_t size, int64_t unix_ms);

/** Counts a rejected upload of `counter_key` (a key id, or "acct:<id>"
 *  when only the account is known) toward app->upload_rejects; when the
 *  threshold trips, locks the key (or every active key of the account)
 *  for review and audits "key.lock". */
void registry_count_reject(app *a, db_conn *c, const char *counter_key);

#endif
