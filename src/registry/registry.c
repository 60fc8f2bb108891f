/*
 * registry.c - the FMU registry pipeline (see registry.h): streamed
 * upload -> SHA-256 + seal -> blob writer (written once, adopted by the
 * blob store on commit), declaration checks, validation by fmugw-validator
 * in the sandbox (its answer read back under a cap), the public sample import, the JSON
 * representation of an FMU, and the rejected-upload abuse counter. No HTTP
 * here: src/http/fmu.c maps these results to routes and problems.
 */
#include "registry/registry.h"

#include "http/log.h"
#include "registry/evaluate.h"
#include "registry/summary_pages.h"
#include "sandbox/sandbox.h"
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
#include <sys/mman.h>
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

/* ---- validation, in the sandbox ------------------------------------------ */

/* What fmugw-validator may use: the archive is untrusted, so its parse
 * runs under the sandbox's limits, and what it may take is bounded here.
 * Its /tmp (the tmpfs scratch) holds modelDescription.xml and binaries/. */
#define VALIDATE_TIMEOUT_S 60.0
#define VALIDATE_CPU_S 30.0
#define VALIDATE_MEMORY ((uint64_t)1 << 30)
#define VALIDATE_SCRATCH ((uint64_t)512 << 20)
#define VALIDATE_OUTPUT ((uint64_t)REGISTRY_ANSWER_MAX + ((uint64_t)1 << 20))

/* Reads the validator's answer (at most REGISTRY_ANSWER_MAX bytes) from
 * the start of `fd` and checks its shape; NULL with a reason in `why`
 * when it is not an answer. */
static json_t *read_answer(int fd, char *why, size_t why_size)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= 0) {
        snprintf(why, why_size, "the validator gave no answer");
        return NULL;
    }
    if ((uint64_t)st.st_size > REGISTRY_ANSWER_MAX) {
        snprintf(why, why_size, "the validator's answer is over %zu bytes", REGISTRY_ANSWER_MAX);
        return NULL;
    }
    size_t len = (size_t)st.st_size, got = 0;
    char *buf = malloc(len);
    while (buf && got < len) {
        ssize_t r = pread(fd, buf + got, len - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    json_error_t e;
    json_t *j = buf && got == len ? json_loadb(buf, len, JSON_REJECT_DUPLICATES, &e) : NULL;
    free(buf);
    json_t *sum = json_object_get(j, "summary"), *rep = json_object_get(j, "report");
    if (!json_is_object(j) || !json_is_boolean(json_object_get(j, "ready")) ||
        !json_is_array(json_object_get(j, "fatal")) || !(json_is_object(sum) || json_is_null(sum)) ||
        !json_is_object(rep)) {
        snprintf(why, why_size, "the validator's answer is malformed");
        json_decref(j);
        return NULL;
    }
    size_t k;
    json_t *r, *fatal = json_object_get(j, "fatal");
    bool ok = json_array_size(fatal) <= 64;
    json_array_foreach(fatal, k, r) ok &= json_is_string(r) && json_string_length(r) > 0 &&
                                         json_string_length(r) <= 64;
    if (!ok) {
        snprintf(why, why_size, "the validator's answer is malformed");
        json_decref(j);
        return NULL;
    }
    /* ready only as the rest of the answer allows: no fatal rule, a
     * summary; the report says the same */
    bool ready = json_is_true(json_object_get(j, "ready")) && json_array_size(fatal) == 0 && json_is_object(sum);
    json_object_set_new(j, "ready", json_boolean(ready));
    json_object_set_new(rep, "valid", json_boolean(ready));
    return j;
}

/* Validates a stored blob without touching the database: *summary and
 * *report are malloc'd JSON texts (summary NULL when the model cannot be
 * read), *rules the comma-separated fatal rules ("" if none). The blob is
 * decrypted into a private temporary directory (its only copy in
 * plaintext, removed before returning) that is the sandbox's read-only
 * /job/fmu; fmugw-validator (evaluate.h) parses it there and writes its
 * answer to a memfd. A validator stopped by its limits (time, CPU,
 * memory, output, a forbidden system call, a crash) rejects the FMU with
 * rule validation-aborted; a sandbox that cannot start is an error (the
 * FMU stays validating). */
static int evaluate(bool *ready, char **summary, char **report, char **rules, app *a, const char *blob_key)
{
    char *dir = NULL, *path = NULL, *validator = NULL, why[1200] = "";
    json_t *ans = NULL;
    FILE *f = NULL;
    int res = -1, rc;

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
    if ((path = fmugw_path_join(dir, "model.fmu")) == NULL || (validator = sandbox_default_validator()) == NULL) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || (f = fdopen(fd, "wb")) == NULL) {
        if (fd >= 0)
            close(fd);
        rc = fmugw_error_set(FMUGW_EIO, "cannot create the validation copy: %s", strerror(errno));
        goto out;
    }
    if ((rc = registry_blob_decrypt(a, blob_key, f)) != 0)
        goto out;
    if (fclose(f) != 0) {
        f = NULL;
        rc = fmugw_error_set(FMUGW_EIO, "cannot write the validation copy: %s", strerror(errno));
        goto out;
    }
    f = NULL;
    if ((res = memfd_create("fmugw-validation", MFD_CLOEXEC)) < 0) {
        rc = fmugw_error_set(FMUGW_EIO, "memfd_create: %s", strerror(errno));
        goto out;
    }
    char *argv[] = { "fmugw-validator", "/job/fmu/model.fmu", NULL };
    sandbox_job sj = { 0 };
    sj.runner = validator;
    sj.fmu_dir = dir;
    sj.args = argv;
    sandbox_limits lim = SANDBOX_LIMITS_INIT;
    lim.timeout_s = VALIDATE_TIMEOUT_S;
    lim.cpu_limit_s = VALIDATE_CPU_S;
    lim.memory_limit = VALIDATE_MEMORY;
    lim.output_limit = VALIDATE_OUTPUT;
    lim.file_size_limit = VALIDATE_SCRATCH;
    lim.scratch_bytes = VALIDATE_SCRATCH; /* its /tmp: a tmpfs of this size */
    lim.scratch_inodes = 2 * 10000 + 64;  /* the archive's entries (at most 10,000) and their directories */
    sj.limits = lim;
    sj.isolate = true;
    sj.result_fd = res;
    sandbox_report sr;
    if ((rc = sandbox_run(&sj, &sr)) != 0)
        goto out;
    if (sr.outcome == SANDBOX_PLATFORM_ERROR) {
        rc = fmugw_error_set(FMUGW_ERROR, "validation sandbox: %s", sr.message);
        goto out;
    }
    if (sr.outcome == SANDBOX_FINISHED)
        ans = read_answer(res, why, sizeof why);
    else
        snprintf(why, sizeof why, "validation stopped (%s): %s", sandbox_outcome_name(sr.outcome), sr.message);
    if (!ans && !(ans = registry_evaluate_rejection("validation-aborted", why))) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    *ready = json_is_true(json_object_get(ans, "ready"));
    json_t *sum = json_object_get(ans, "summary");
    *report = json_dumps(json_object_get(ans, "report"), JSON_COMPACT);
    *summary = json_is_object(sum) ? json_dumps(sum, JSON_COMPACT) : NULL;
    size_t len = 1, k;
    json_t *r;
    json_array_foreach(json_object_get(ans, "fatal"), k, r) len += strlen(json_string_value(r)) + 1;
    if ((*rules = calloc(1, len)) != NULL)
        json_array_foreach(json_object_get(ans, "fatal"), k, r)
        {
            if (k > 0)
                strcat(*rules, ",");
            strcat(*rules, json_string_value(r));
        }
    if (*report == NULL || *rules == NULL || (json_is_object(sum) && *summary == NULL)) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    rc = 0;
out:
    if (rc != 0) {
        free(*summary);
        free(*report);
        free(*rules);
        *summary = *report = *rules = NULL;
        *ready = false;
    }
    json_decref(ans);
    if (f)
        fclose(f);
    if (res >= 0)
        close(res);
    if (dir) {
        fmugw_rmtree(dir);
        free(dir);
    }
    free(path);
    free(validator);
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
        /* a big summary: only its first variables are parsed */
        json_t *head = f->summary && strlen(f->summary) > PARSE_CACHE_MAX
                           ? summary_pages_head(f->summary, strlen(f->summary), REGISTRY_VARIABLES_INLINE)
                           : NULL;
        json_object_set_new(j, "summary", head ? head : summary_page(parse_or_null(f->summary)));
        json_object_set_new(j, "validation", parse_or_null(f->report));
    }
    return j;
}

int registry_fmu_variables(json_t **out, const store_fmu *f, uint64_t offset, uint64_t limit)
{
    *out = NULL;
    if (limit < 1 || limit > REGISTRY_VARIABLES_PAGE_MAX)
        return fmugw_error_set(FMUGW_EINVALID, "limit must be from 1 to %d", REGISTRY_VARIABLES_PAGE_MAX);
    json_t *page = NULL;
    size_t total = 0;
    int rc = f->summary ? summary_pages_slice(&page, &total, f->summary, strlen(f->summary), offset, limit)
                        : FMUGW_ENOTFOUND;
    if (rc == FMUGW_ENOMEM)
        return fmugw_error_set(rc, "out of memory");
    if (rc != 0)
        return fmugw_error_set(FMUGW_ECONFLICT, "the FMU has no model summary (status %s)",
                               store_fmu_state_name(f->state));
    uint64_t next = offset + limit;
    *out = json_pack("{s:s,s:I,s:I,s:I,s:o,s:o}", "fmu_id", f->id, "total", (json_int_t)total, "offset",
                     (json_int_t)(offset > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)offset), "limit",
                     (json_int_t)limit, "variables", page ? page : json_array(),
                     "next_offset", next < total ? json_integer((json_int_t)next) : json_null());
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
