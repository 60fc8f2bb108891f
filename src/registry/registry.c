/*
 * registry.c - the FMU registry pipeline (see registry.h): streamed
 * upload -> SHA-256 + seal -> blob writer (written once, adopted by the
 * blob store on commit), declaration checks, validation read from the
 * sealed blob in place, the model summary, the public sample import, the JSON
 * representation of an FMU, and the rejected-upload abuse counter. No HTTP
 * here: src/http/fmu.c maps these results to routes and problems.
 */
#include "registry/registry.h"

#include "fmi/archive.h"
#include "fmi/fmu.h"
#include "fmi/validate.h"
#include "http/log.h"
#include "store/api_keys.h"
#include "store/audit.h"
#include "util/error.h"
#include "util/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Plaintext bytes per sealed chunk of an upload. 1 MiB chunks measured no
 * faster than 64 KiB ones on the 200 MiB upload bench (the per-chunk cost
 * is small next to the hashing), and small chunks keep the seal's buffers
 * and a validation's random reads small. */
#define UPLOAD_CHUNK CRYPTO_CHUNK_DEFAULT

struct registry_upload {
    app *a;
    blob_writer *w; /* the sealed bytes, a temporary inside the blob store */
    crypto_sha256_ctx *sha;
    crypto_seal *seal;
    uint64_t n, max;
    bool ended, dead;
    char sha256[65]; /* once ended */
};

/* ---- time --------------------------------------------------------------- */

void registry_format_time(char *buf, size_t size, int64_t unix_ms)
{
    time_t t = (time_t)(unix_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- the upload stream ------------------------------------------------- */

static int writer_feed(void *ctx, const void *data, size_t len)
{
    return blob_writer_write(ctx, data, len);
}

int registry_upload_begin(registry_upload **out, app *a, uint64_t max_bytes)
{
    registry_upload *u = calloc(1, sizeof *u);
    int rc = 0;

    *out = NULL;
    if (u == NULL)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    u->a = a;
    u->max = max_bytes;
    if ((rc = blob_writer_open(&u->w, a->blobs, 0)) != 0 || (rc = crypto_sha256_new(&u->sha)) != 0 ||
        (rc = crypto_seal_init(&u->seal, a->master_keys, UPLOAD_CHUNK, writer_feed, u->w)) != 0)
        goto out;
out:
    if (rc != 0)
        registry_upload_free(u);
    else
        *out = u;
    return rc;
}

int registry_upload_write(registry_upload *u, const void *data, size_t len)
{
    int rc;
    if (u->dead || u->ended)
        return fmugw_error_set(FMUGW_EINVALID, "upload stream is closed");
    if (len > u->max - u->n) {
        u->dead = true;
        return fmugw_error_set(FMUGW_ETOOBIG, "the upload is larger than %llu bytes", (unsigned long long)u->max);
    }
    if ((rc = crypto_sha256_update(u->sha, data, len)) != 0 || (rc = crypto_seal_update(u->seal, data, len)) != 0) {
        u->dead = true;
        return rc;
    }
    u->n += len;
    return 0;
}

int registry_upload_end(registry_upload *u, char sha256_hex[65], uint64_t *size)
{
    uint8_t digest[CRYPTO_SHA256_LEN];
    int rc;
    if (u->ended && !u->dead) { /* again: the same answer */
        memcpy(sha256_hex, u->sha256, 65);
        *size = u->n;
        return 0;
    }
    if (u->dead)
        return fmugw_error_set(FMUGW_EINVALID, "upload stream is closed");
    u->ended = true;
    if ((rc = crypto_seal_final(u->seal)) != 0 || (rc = crypto_sha256_final(u->sha, digest)) != 0)
        goto fail;
    if ((rc = crypto_hex_encode(u->sha256, sizeof u->sha256, digest, sizeof digest)) != 0)
        goto fail;
    memcpy(sha256_hex, u->sha256, 65);
    *size = u->n;
    return 0;
fail:
    u->dead = true;
    return rc;
}

int registry_upload_store(registry_upload *u, char blob_key[65])
{
    if (!u->ended || u->dead)
        return fmugw_error_set(FMUGW_EINVALID, "upload not complete");
    return blob_writer_commit(blob_key, u->w); /* a second commit is refused */
}

void registry_upload_free(registry_upload *u)
{
    if (u == NULL)
        return;
    crypto_seal_free(u->seal);
    crypto_sha256_free(u->sha);
    blob_writer_free(u->w);
    free(u);
}

/* ---- decryption ---------------------------------------------------------- */

static int open_feed(void *ctx, const void *buf, size_t n)
{
    return crypto_open_update(ctx, buf, n);
}

int registry_blob_decrypt(app *a, const char *blob_key, FILE *f)
{
    crypto_open *o = NULL;
    int rc;
    if ((rc = crypto_open_init_file(&o, a->master_keys, f)) != 0)
        goto out;
    if ((rc = blob_get_stream(a->blobs, blob_key, open_feed, o)) != 0)
        goto out;
    if ((rc = crypto_open_final(o)) != 0)
        goto out;
    if (fflush(f) != 0)
        rc = fmugw_error_set(FMUGW_EIO, "cannot write the decrypted FMU: %s", strerror(errno));
out:
    crypto_open_free(o);
    return rc;
}

/* Random access to the plaintext of a stored blob: a crypto_reader over a
 * blob_reader. `err` keeps the first read error, so that a failing store
 * or a blob that fails authentication is told apart from a bad archive
 * (libzip reports both as a read error). */
typedef struct {
    blob_reader *br;
    crypto_reader *cr;
    int err;
    char msg[256];
} sealed_source;

static int blob_read_at(void *ctx, uint64_t off, void *buf, size_t len, size_t *out_n)
{
    return blob_reader_read_at(out_n, ctx, off, buf, len);
}

static int plain_read_at(void *ctx, uint64_t off, void *buf, size_t len, size_t *out_n)
{
    sealed_source *s = ctx;
    int rc = crypto_reader_pread(s->cr, off, buf, len, out_n);
    if (rc != 0 && s->err == 0) {
        s->err = rc;
        snprintf(s->msg, sizeof s->msg, "%s", fmugw_error_last());
    }
    return rc;
}

static int sealed_source_open(sealed_source *s, app *a, const char *blob_key)
{
    uint64_t size = 0;
    int rc;
    memset(s, 0, sizeof *s);
    if ((rc = blob_reader_open(&s->br, a->blobs, blob_key)) != 0 || (rc = blob_reader_size(&size, s->br)) != 0 ||
        (rc = crypto_reader_open(&s->cr, a->master_keys, size, blob_read_at, s->br)) != 0)
        return rc;
    return 0;
}

static void sealed_source_close(sealed_source *s)
{
    crypto_reader_free(s->cr);
    blob_reader_close(s->br);
}

/* ---- validation and summary -------------------------------------------- */

static const char *const fatal_rules[] = {
    "archive", "model-description-missing", "model-description-parse", "fmi-version",
    "interface-required", "model-identifier-invalid", "binary-invalid", "binary-function-missing",
};

static bool rule_is_fatal(const char *rule)
{
    for (size_t i = 0; i < sizeof fatal_rules / sizeof fatal_rules[0]; i++)
        if (strcmp(fatal_rules[i], rule) == 0)
            return true;
    return false;
}

/* Distinct binaries the model's declared interfaces need (one per model
 * identifier): if `binary-missing` is reported for all of them, no
 * interface can run. */
static size_t distinct_binaries(const fmi_model *m)
{
    const char *ids[3];
    size_t n = 0;
    for (int i = 0; i < 3; i++) {
        const char *id = m->interfaces[i].present ? m->interfaces[i].model_identifier : NULL;
        if (id == NULL || id[0] == '\0')
            continue;
        bool seen = false;
        for (size_t j = 0; j < n; j++)
            seen |= strcmp(ids[j], id) == 0;
        if (!seen)
            ids[n++] = id;
    }
    return n;
}

static json_t *jstr_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The binaries/<platform> directories of an extracted FMU, sorted. */
static json_t *platforms_json(const char *dir)
{
    json_t *arr = json_array();
    char *bin = fmugw_path_join(dir, "binaries");
    char *names[256];
    size_t n = 0;
    DIR *d = bin ? opendir(bin) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL && n < 256) {
        if (e->d_name[0] == '.')
            continue;
        char *p = fmugw_path_join(bin, e->d_name);
        struct stat st;
        if (p && lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            names[n++] = strdup(e->d_name);
        free(p);
    }
    if (d)
        closedir(d);
    qsort(names, n, sizeof names[0], cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (names[i])
            json_array_append_new(arr, json_string(names[i]));
        free(names[i]);
    }
    free(bin);
    return arr;
}

static json_t *summary_json(const fmi_fmu *fmu)
{
    const fmi_model *m = fmu->model;
    json_t *s = json_object(), *ifaces = json_array(), *vars = json_array(), *de = json_object();
    size_t n_in = 0, n_out = 0, n_par = 0;

    for (int i = 0; i < 3; i++)
        if (m->interfaces[i].present)
            json_array_append_new(ifaces, json_string(fmi_interface_name((fmi_interface)i)));
    if (m->default_experiment.has_start_time)
        json_object_set_new(de, "start_time", json_real(m->default_experiment.start_time));
    if (m->default_experiment.has_stop_time)
        json_object_set_new(de, "stop_time", json_real(m->default_experiment.stop_time));
    if (m->default_experiment.has_tolerance)
        json_object_set_new(de, "tolerance", json_real(m->default_experiment.tolerance));
    if (m->default_experiment.has_step_size)
        json_object_set_new(de, "step_size", json_real(m->default_experiment.step_size));
    for (size_t i = 0; i < m->n_variables; i++) {
        const fmi_variable *v = &m->variables[i];
        n_in += v->causality == FMI_CAUSALITY_INPUT;
        n_out += v->causality == FMI_CAUSALITY_OUTPUT;
        n_par += v->causality == FMI_CAUSALITY_PARAMETER || v->causality == FMI_CAUSALITY_STRUCTURAL_PARAMETER;
        json_array_append_new(vars, json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:o}", "name", v->name ? v->name : "",
                                              "type", fmi_type_name(m->version, v->type), "causality",
                                              fmi_causality_name(v->causality), "variability",
                                              fmi_variability_name(v->variability), "start",
                                              jstr_or_null(v->start), "unit", jstr_or_null(v->unit),
                                              "description", jstr_or_null(v->description)));
    }
    size_t n_events = m->version == FMI_VERSION_2 ? m->number_of_event_indicators : m->n_event_indicators;
    json_object_set_new(s, "fmi_version", json_string(m->fmi_version ? m->fmi_version : ""));
    json_object_set_new(s, "model_name", json_string(m->model_name ? m->model_name : ""));
    json_object_set_new(s, "instantiation_token", json_string(m->instantiation_token ? m->instantiation_token : ""));
    json_object_set_new(s, "generation_tool", jstr_or_null(m->generation_tool));
    json_object_set_new(s, "description", jstr_or_null(m->description));
    json_object_set_new(s, "interfaces", ifaces);
    json_object_set_new(s, "platforms", platforms_json(fmu->dir));
    json_object_set_new(s, "default_experiment", de);
    json_object_set_new(s, "variables", vars);
    json_object_set_new(s, "counts",
                        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "variables", (json_int_t)m->n_variables, "inputs",
                                  (json_int_t)n_in, "outputs", (json_int_t)n_out, "parameters", (json_int_t)n_par,
                                  "continuous_states", (json_int_t)m->n_derivatives, "event_indicators",
                                  (json_int_t)n_events));
    return s;
}

/* Validates a stored blob without touching the database: *summary and
 * *report are malloc'd JSON texts (summary NULL when the model cannot be
 * read), *rules the comma-separated fatal rules ("" if none). */
static int evaluate(bool *ready, char **summary, char **report, char **rules, app *a, const char *blob_key)
{
    char *dir = NULL, *unpack = NULL;
    sealed_source src;
    bool src_open = false;
    fmi_report *rep = NULL;
    fmi_fmu *fmu = NULL;
    json_t *problems = json_array(), *fatal = json_array(), *rj = NULL, *sj = NULL;
    size_t missing = 0;
    int rc;

    *ready = false;
    *summary = *report = *rules = NULL;
    if (asprintf(&dir, "%s/val-XXXXXX", a->tmp_dir) < 0) {
        dir = NULL;
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    if (mkdtemp(dir) == NULL) {
        rc = fmugw_error_set(FMUGW_EIO, "cannot create a validation directory: %s", strerror(errno));
        free(dir);
        dir = NULL;
        goto out;
    }
    if ((unpack = fmugw_path_join(dir, "fmu")) == NULL) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    src_open = true;
    if ((rc = sealed_source_open(&src, a, blob_key)) != 0)
        goto out;
    if ((rep = calloc(1, sizeof *rep)) == NULL) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    /* Validation reads the sealed blob in place: the central directory and
     * every entry's header are checked, and only modelDescription.xml and
     * binaries/ are decrypted and written (not the resources, which may be
     * most of the FMU). One unpacking serves the validation and the
     * summary. */
    fmi_archive_source as = { plain_read_at, &src, crypto_reader_size(src.cr), "model.fmu" };
    rc = fmi_archive_extract_source(&as, unpack, NULL, fmi_validate_needs_entry, NULL);
    if (src.err != 0) { /* the store or the blob failed, not the archive */
        rc = fmugw_error_set(src.err, "%s", src.msg);
        goto out;
    }
    if (rc == FMUGW_ENOMEM)
        goto out;
    if (rc != 0) {
        if ((rc = fmi_report_add(rep, "archive", "model.fmu", "%s", fmugw_error_last())) != 0)
            goto out;
    } else if (fmi_fmu_open_dir(&fmu, unpack) == 0) {
        if ((rc = fmi_validate_model(rep, fmu->model, fmu->dir)) == FMUGW_ENOMEM)
            goto out;
        rc = 0;
        sj = summary_json(fmu);
    } else {
        char why[256];
        snprintf(why, sizeof why, "%s", fmugw_error_last());
        if ((rc = fmi_validate_unpacked(rep, unpack)) != 0)
            goto out;
        if (rep->n_problems == 0)
            fmi_report_add(rep, "model-description-parse", "modelDescription.xml", "%s", why);
    }
    for (size_t i = 0; i < rep->n_problems; i++)
        missing += strcmp(rep->problems[i].rule, "binary-missing") == 0;
    /* binary-missing is fatal only when every declared interface lacks its
     * binary */
    bool all_missing = fmu && missing > 0 && missing >= distinct_binaries(fmu->model);
    bool any_fatal = sj == NULL;
    for (size_t i = 0; i < rep->n_problems; i++) {
        const fmi_problem *p = &rep->problems[i];
        bool is_fatal = rule_is_fatal(p->rule) || (all_missing && strcmp(p->rule, "binary-missing") == 0);
        if (is_fatal) {
            bool seen = false;
            size_t k;
            json_t *r;
            json_array_foreach(fatal, k, r) seen |= strcmp(json_string_value(r), p->rule) == 0;
            if (!seen)
                json_array_append_new(fatal, json_string(p->rule));
        }
        any_fatal |= is_fatal;
        json_array_append_new(problems, json_pack("{s:s,s:s,s:s,s:s}", "rule", p->rule, "where",
                                                  p->where ? p->where : "", "message", p->message ? p->message : "",
                                                  "severity", is_fatal ? "error" : "warning"));
    }
    *ready = !any_fatal;
    rj = json_pack("{s:b,s:O,s:O}", "valid", *ready, "fatal", fatal, "problems", problems);
    *report = rj ? json_dumps(rj, JSON_COMPACT) : NULL;
    *summary = sj ? json_dumps(sj, JSON_COMPACT) : NULL;
    size_t len = 1, k;
    json_t *r;
    json_array_foreach(fatal, k, r) len += strlen(json_string_value(r)) + 1;
    *rules = calloc(1, len);
    json_array_foreach(fatal, k, r)
    {
        if (k > 0)
            strcat(*rules, ",");
        strcat(*rules, json_string_value(r));
    }
    if (*report == NULL || *rules == NULL || (sj && *summary == NULL)) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
out:
    if (rc != 0) {
        free(*summary);
        free(*report);
        free(*rules);
        *summary = *report = *rules = NULL;
    }
    fmi_fmu_close(fmu);
    fmi_report_free(rep);
    json_decref(problems);
    json_decref(fatal);
    json_decref(rj);
    json_decref(sj);
    if (src_open)
        sealed_source_close(&src);
    if (dir) {
        fmugw_rmtree(dir);
        free(dir);
    }
    free(unpack);
    return rc;
}

int registry_validate(bool *out_ready, char **rules, app *a, db_conn *c, const char *fmu_id, const char *blob_key)
{
    char *summary = NULL, *report = NULL, *fatal = NULL;
    bool ready = false;
    int rc;

    if (rules)
        *rules = NULL;
    if ((rc = evaluate(&ready, &summary, &report, &fatal, a, blob_key)) != 0)
        goto out;
    if ((rc = store_fmu_set_validation(c, fmu_id, ready ? STORE_FMU_READY : STORE_FMU_REJECTED, summary, report)) != 0)
        goto out;
    if (out_ready)
        *out_ready = ready;
    if (rules) {
        *rules = fatal;
        fatal = NULL;
    }
out:
    free(summary);
    free(report);
    free(fatal);
    return rc;
}

/* ---- tenant upload ------------------------------------------------------- */

struct to_validating {
    const char *id, *blob_key;
};

static int tx_to_validating(db_conn *c, void *ctx)
{
    struct to_validating *t = ctx;
    int rc = store_fmu_set_state(c, t->id, STORE_FMU_AWAITING_UPLOAD, STORE_FMU_VALIDATING);
    if (rc == 0)
        rc = store_fmu_set_blob(c, t->id, t->blob_key);
    return rc;
}

int registry_upload_finish(store_fmu **out, app *a, db_conn *c, registry_upload *u, const store_fmu *fmu,
                           const char *actor)
{
    char sha[65], key[BLOB_KEY_SIZE];
    char *rules = NULL;
    uint64_t size = 0;
    bool ready = false;
    int rc;

    if (out)
        *out = NULL;
    if ((rc = registry_upload_end(u, sha, &size)) != 0)
        goto out;
    if (size != (uint64_t)fmu->size) {
        rc = fmugw_error_set(FMUGW_EINVALID, "size mismatch: declared %lld bytes, received %llu", (long long)fmu->size,
                             (unsigned long long)size);
        goto out;
    }
    if (strlen(fmu->sha256) != 64 || !crypto_equal(sha, fmu->sha256, 64)) {
        rc = fmugw_error_set(FMUGW_EINVALID, "checksum mismatch: the bytes received do not have the declared SHA-256");
        goto out;
    }
    if ((rc = registry_upload_store(u, key)) != 0)
        goto out;
    struct to_validating t = { fmu->id, key };
    if ((rc = db_transact(c, tx_to_validating, &t)) != 0) {
        int keep = rc;
        char msg[256];
        snprintf(msg, sizeof msg, "%s", fmugw_error_last());
        blob_delete(a->blobs, key); /* ours alone: every seal has its own data key */
        rc = fmugw_error_set(keep, "%s", msg);
        goto out;
    }
    if ((rc = registry_validate(&ready, &rules, a, c, fmu->id, key)) != 0)
        goto out;
    app_audit(a, c, actor, "fmu.upload", fmu->id,
              json_pack("{s:I,s:s,s:s,s:s}", "size", (json_int_t)size, "sha256", sha, "status",
                        ready ? "ready" : "rejected", "fatal", rules ? rules : ""));
    if (out)
        rc = store_fmu_get_internal(out, c, fmu->id);
out:
    free(rules);
    return rc;
}

int registry_find_by_sha256(char **out_id, db_conn *c, const char *account_id, const char *sha256, bool any_state)
{
    db_stmt *st = NULL;
    int rc;
    const char *state = any_state ? "" : " AND state = 'ready'";
    char sql[512];

    *out_id = NULL;
    if (account_id) {
        snprintf(sql, sizeof sql,
                 "SELECT id FROM fmus WHERE account_id = $1 AND sha256 = $2 AND deleted_at IS NULL%s"
                 " ORDER BY created_at, id LIMIT 1",
                 state);
        rc = db_query(&st, c, sql, "tt", account_id, sha256);
    } else {
        snprintf(sql, sizeof sql,
                 "SELECT id FROM fmus WHERE account_id IS NULL AND is_public = 1 AND sha256 = $1"
                 " AND deleted_at IS NULL%s ORDER BY created_at, id LIMIT 1",
                 state);
        rc = db_query(&st, c, sql, "t", sha256);
    }
    if (rc != 0)
        goto out;
    rc = db_step(st);
    if (rc == 1)
        rc = db_column_text_dup(out_id, st, 0);
    else if (rc == 0)
        rc = 0;
out:
    db_finalize(st);
    return rc;
}

/* ---- public samples --------------------------------------------------- */

struct sample_tx {
    const char *name, *sha, *key, *summary, *report;
    int64_t size;
    bool ready;
    store_fmu *row;
};

static int tx_insert_sample(db_conn *c, void *ctx)
{
    struct sample_tx *t = ctx;
    store_fmu_new in = { .account_id = NULL, .name = t->name, .size = t->size, .sha256 = t->sha,
                         .state = STORE_FMU_VALIDATING, .is_public = true, .blob_key = t->key };
    store_fmu_free(t->row);
    t->row = NULL;
    int rc = store_fmu_insert(&t->row, c, &in);
    if (rc == 0)
        rc = store_fmu_set_validation(c, t->row->id, t->ready ? STORE_FMU_READY : STORE_FMU_REJECTED, t->summary,
                                      t->report);
    if (rc == 0)
        rc = store_audit_append(NULL, c, "system", "fmu.import", t->row->id, NULL);
    return rc;
}

static int import_one(app *a, db_conn *c, const char *path, const char *name)
{
    registry_upload *u = NULL;
    FILE *f = NULL;
    char buf[65536], sha[65], key[BLOB_KEY_SIZE] = "";
    char *existing = NULL, *summary = NULL, *report = NULL, *rules = NULL;
    uint64_t size = 0;
    bool stored = false;
    struct sample_tx t = { 0 };
    int rc;

    if ((f = fopen(path, "rb")) == NULL) {
        rc = fmugw_error_set(FMUGW_EIO, "cannot open %s: %s", path, strerror(errno));
        goto out;
    }
    if ((rc = registry_upload_begin(&u, a, (uint64_t)4 << 30)) != 0)
        goto out;
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        if ((rc = registry_upload_write(u, buf, n)) != 0)
            goto out;
    if (ferror(f)) {
        rc = fmugw_error_set(FMUGW_EIO, "cannot read %s", path);
        goto out;
    }
    if ((rc = registry_upload_end(u, sha, &size)) != 0)
        goto out;
    if ((rc = registry_find_by_sha256(&existing, c, NULL, sha, true)) != 0 || existing != NULL)
        goto out; /* already imported */
    if ((rc = registry_upload_store(u, key)) != 0)
        goto out;
    stored = true;
    bool ready = false;
    if ((rc = evaluate(&ready, &summary, &report, &rules, a, key)) != 0)
        goto out;
    t = (struct sample_tx){ name, sha, key, summary, report, (int64_t)size, ready, NULL };
    if ((rc = db_transact(c, tx_insert_sample, &t)) != 0)
        goto out;
    stored = false;
    fmugw_log_json(FMUGW_LOG_INFO, "sample imported",
                   json_pack("{s:s,s:s,s:s}", "name", name, "fmu_id", t.row->id, "status", ready ? "ready" : "rejected"));
out:
    if (stored)
        blob_delete(a->blobs, key);
    store_fmu_free(t.row);
    registry_upload_free(u);
    if (f)
        fclose(f);
    free(existing);
    free(summary);
    free(report);
    free(rules);
    return rc;
}

int registry_import_samples(app *a, const char *dir)
{
    static const char *const versions[] = { "2.0", "3.0" };
    db_conn *c = NULL;
    int rc;

    if (dir == NULL)
        return 0;
    if ((rc = db_pool_acquire(&c, a->db)) != 0)
        return rc;
    for (size_t v = 0; v < 2; v++) {
        char *sub = fmugw_path_join(dir, versions[v]);
        struct dirent **list = NULL;
        int n = sub ? scandir(sub, &list, NULL, alphasort) : -1;
        for (int i = 0; i < n; i++) {
            const char *fn = list[i]->d_name;
            size_t len = strlen(fn);
            if (fn[0] != '.' && len > 4 && strcmp(fn + len - 4, ".fmu") == 0) {
                char *path = fmugw_path_join(sub, fn), name[300];
                snprintf(name, sizeof name, "%.*s (FMI %s)", (int)(len - 4 > 255 ? 255 : len - 4), fn, versions[v]);
                if (path == NULL || import_one(a, c, path, name) != 0)
                    fmugw_log_json(FMUGW_LOG_WARN, "sample import failed",
                                   json_pack("{s:s,s:s}", "name", name, "error", fmugw_error_last()));
                free(path);
            }
            free(list[i]);
        }
        free(list);
        free(sub);
    }
    db_pool_release(a->db, c);
    return 0;
}

/* ---- representation ------------------------------------------------------ */

/* Parsed summary / validation texts, shared between requests: GET
 * /fmu/{id} answers the same FMUs over and over, and parsing their JSON was
 * a quarter of its CPU (docs/benchmarks.md). Direct-mapped by a hash of the
 * text; a hit is the same text, compared in full. Cached values are never
 * modified (callers add members to the top-level object only) and jansson's
 * reference counts are atomic, so threads share them. Texts over
 * PARSE_CACHE_MAX bytes are parsed every time (bounded memory). */
#define PARSE_CACHE 32
#define PARSE_CACHE_MAX (16u << 10)
static struct {
    char *text;
    json_t *value;
} parse_cache[PARSE_CACHE];
static pthread_mutex_t parse_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static json_t *parse_or_null(const char *text)
{
    if (!text)
        return json_null();
    size_t len = strlen(text);
    if (len > PARSE_CACHE_MAX) {
        json_t *j = json_loadb(text, len, 0, NULL);
        return j ? j : json_null();
    }
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)text[i]) * 1099511628211ull;
    size_t slot = (size_t)(h % PARSE_CACHE);
    json_t *j = NULL;
    pthread_mutex_lock(&parse_cache_lock);
    if (parse_cache[slot].text && strcmp(parse_cache[slot].text, text) == 0)
        j = json_incref(parse_cache[slot].value);
    pthread_mutex_unlock(&parse_cache_lock);
    if (j)
        return j;
    if (!(j = json_loadb(text, len, 0, NULL)))
        return json_null();
    char *copy = strdup(text);
    if (copy) {
        pthread_mutex_lock(&parse_cache_lock);
        char *old_text = parse_cache[slot].text;
        json_t *old_value = parse_cache[slot].value;
        parse_cache[slot].text = copy;
        parse_cache[slot].value = json_incref(j);
        pthread_mutex_unlock(&parse_cache_lock);
        free(old_text);
        json_decref(old_value);
    }
    return j;
}

/* The summary as GET /fmu/{id} shows it: a shallow copy (cached values
 * are shared and never modified) with at most REGISTRY_VARIABLES_INLINE
 * variables and `variables_truncated`. Steals `s`. */
static json_t *summary_page(json_t *s)
{
    json_t *vars = json_object_get(s, "variables");
    if (!json_is_object(s) || !json_is_array(vars))
        return s;
    json_t *c = json_copy(s);
    json_decref(s);
    if (!c)
        return json_null();
    bool more = json_array_size(vars) > REGISTRY_VARIABLES_INLINE;
    if (more) {
        json_t *page = json_array();
        for (size_t i = 0; page && i < REGISTRY_VARIABLES_INLINE; i++)
            json_array_append(page, json_array_get(vars, i));
        json_object_set_new(c, "variables", page ? page : json_array());
    }
    json_object_set_new(c, "variables_truncated", json_boolean(more));
    return c;
}

json_t *registry_fmu_json(const store_fmu *f, bool full)
{
    char created[40], updated[40];
    registry_format_time(created, sizeof created, f->created_at);
    registry_format_time(updated, sizeof updated, f->updated_at);
    json_t *j = json_pack("{s:s,s:s,s:s,s:b,s:I,s:s,s:s,s:s}", "id", f->id, "name", f->name, "status",
                          store_fmu_state_name(f->state), "public", f->is_public, "size", (json_int_t)f->size, "sha256",
                          f->sha256, "created_at", created, "updated_at", updated);
    if (j && full) {
        json_object_set_new(j, "summary", summary_page(parse_or_null(f->summary)));
        json_object_set_new(j, "validation", parse_or_null(f->report));
    }
    return j;
}

int registry_fmu_variables(json_t **out, const store_fmu *f, uint64_t offset, uint64_t limit)
{
    *out = NULL;
    if (limit < 1 || limit > REGISTRY_VARIABLES_PAGE_MAX)
        return fmugw_error_set(FMUGW_EINVALID, "limit must be from 1 to %d", REGISTRY_VARIABLES_PAGE_MAX);
    json_t *s = parse_or_null(f->summary);
    json_t *vars = json_object_get(s, "variables");
    if (!json_is_array(vars)) {
        json_decref(s);
        return fmugw_error_set(FMUGW_ECONFLICT, "the FMU has no model summary (status %s)",
                               store_fmu_state_name(f->state));
    }
    size_t total = json_array_size(vars);
    json_t *page = json_array();
    for (uint64_t i = offset; page && i < total && i - offset < limit; i++)
        json_array_append(page, json_array_get(vars, (size_t)i));
    uint64_t next = offset + limit;
    *out = json_pack("{s:s,s:I,s:I,s:I,s:o,s:o}", "fmu_id", f->id, "total", (json_int_t)total, "offset",
                     (json_int_t)(offset > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)offset), "limit",
                     (json_int_t)limit, "variables", page ? page : json_array(),
                     "next_offset", next < total ? json_integer((json_int_t)next) : json_null());
    json_decref(s);
    return *out ? 0 : fmugw_error_set(FMUGW_ENOMEM, "out of memory");
}

/* ---- abuse -------------------------------------------------------------- */

static void lock_key(app *a, db_conn *c, const char *key_id)
{
    if (store_apikey_set_locked(c, key_id, true, "too many rejected uploads") != 0) {
        fmugw_log_json(FMUGW_LOG_ERROR, "key lock failed",
                       json_pack("{s:s,s:s}", "key_id", key_id, "error", fmugw_error_last()));
        return;
    }
    app_audit(a, c, "system", "key.lock", key_id, json_pack("{s:s}", "reason", "too many rejected uploads"));
}

void registry_count_reject(app *a, db_conn *c, const char *counter_key)
{
    if (a->upload_rejects == NULL || counter_key == NULL || !abuse_counter_fail(a->upload_rejects, counter_key))
        return;
    if (strncmp(counter_key, "acct:", 5) != 0) {
        lock_key(a, c, counter_key);
        return;
    }
    store_apikey **keys = NULL;
    size_t n = 0;
    if (store_apikey_list(&keys, &n, c, counter_key + 5) != 0) {
        fmugw_log_json(FMUGW_LOG_ERROR, "key lock failed",
                       json_pack("{s:s,s:s}", "account_id", counter_key + 5, "error", fmugw_error_last()));
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (keys[i]->revoked_at == 0 && keys[i]->locked_at == 0)
            lock_key(a, c, keys[i]->id);
    store_apikey_list_free(keys, n);
}
