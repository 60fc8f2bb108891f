/*
 * job.c - simulation jobs: execute (Idempotency-Key reused across
 * retries), status, wait (long-poll ?wait=), cancel, list, results
 * (streamed to a file through a temporary name and checked against the
 * server's SHA-256, or parsed from CSV into a table), UUIDs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "util/crypto.h"

#define WAIT_POLL_S 20

FMUGW_EXTERN(int) fmugw_uuid4(char out[37])
{
    unsigned char b[16];
    if (crypto_random_bytes(b, sizeof b) != 0)
        return client__error(FMUGW_CLIENT_ERROR, "no randomness available");
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
             b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
    return 0;
}

/* "1.5" -> number, "true" -> boolean, anything else -> string. */
static json_t *start_value(const char *v)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (*v && !*end && errno == 0 && !strchr(v, ' '))
        return json_real(d);
    if (!strcmp(v, "true"))
        return json_true();
    if (!strcmp(v, "false"))
        return json_false();
    return json_string(v);
}

static int set_num(json_t *o, const char *k, double v)
{
    return isnan(v) ? 0 : json_object_set_new(o, k, json_real(v));
}

static int build_request(json_t **out, const char *fmu_id, const fmugw_execute_options *o)
{
    json_t *b = json_pack("{s:s}", "fmu_id", fmu_id);
    if (!b)
        return client__error(FMUGW_CLIENT_ERROR, "out of memory");
    set_num(b, "start_time", o->start_time);
    set_num(b, "stop_time", o->stop_time);
    set_num(b, "output_interval", o->output_interval);
    set_num(b, "step_size", o->step_size);
    set_num(b, "relative_tolerance", o->relative_tolerance);
    if (o->interface)
        json_object_set_new(b, "interface", json_string(o->interface));
    if (o->solver)
        json_object_set_new(b, "solver", json_string(o->solver));
    if (o->start_values && o->start_values[0]) {
        json_t *sv = json_object();
        for (size_t i = 0; o->start_values[i]; i++) {
            const char *eq = strchr(o->start_values[i], '=');
            if (!eq || eq == o->start_values[i]) {
                json_decref(sv);
                json_decref(b);
                return client__error(FMUGW_CLIENT_EUSAGE, "start value \"%s\" is not NAME=VALUE", o->start_values[i]);
            }
            char name[512];
            snprintf(name, sizeof name, "%.*s", (int)(eq - o->start_values[i]), o->start_values[i]);
            json_object_set_new(sv, name, start_value(eq + 1));
        }
        json_object_set_new(b, "start_values", sv);
    }
    if (o->inputs_csv)
        json_object_set_new(b, "inputs", json_pack("{s:s}", "csv", o->inputs_csv));
    if (o->output_variables && o->output_variables[0]) {
        json_t *a = json_array();
        for (size_t i = 0; o->output_variables[i]; i++)
            json_array_append_new(a, json_string(o->output_variables[i]));
        json_object_set_new(b, "output_variables", a);
    }
    if (o->output_all)
        json_object_set_new(b, "output_all", json_true());
    if (o->output_format)
        json_object_set_new(b, "output_format", json_string(o->output_format));
    if (o->timeout_s > 0)
        json_object_set_new(b, "timeout_s", json_integer(o->timeout_s));
    *out = b;
    return 0;
}

FMUGW_EXTERN(int) fmugw_job_execute(fmugw_job_ref *out, fmugw_client *c, const char *fmu_id,
                                    const fmugw_execute_options *opts)
{
    fmugw_execute_options defaults = FMUGW_EXECUTE_OPTIONS_INIT;
    json_t *body = NULL, *ans = NULL;
    char *text = NULL, key[37];
    client__resp r = {0};
    int rc = 0;
    memset(out, 0, sizeof *out);
    if (!opts)
        opts = &defaults;
    if (opts->version != FMUGW_EXECUTE_OPTIONS_VERSION)
        return client__error(FMUGW_CLIENT_EUSAGE, "fmugw_execute_options version %d is not supported", opts->version);
    if (!fmu_id || !*fmu_id)
        return client__error(FMUGW_CLIENT_EUSAGE, "no FMU id given");
    if ((rc = build_request(&body, fmu_id, opts)) != 0)
        goto out;
    if (!opts->idempotency_key && (rc = fmugw_uuid4(key)) != 0)
        goto out;
    if (!(text = json_dumps(body, JSON_COMPACT))) {
        rc = client__error(FMUGW_CLIENT_ERROR, "out of memory");
        goto out;
    }
    client__req q = {.method = "POST", .path = "/fmu/execute", .body = text, .body_len = strlen(text),
                     .idempotency_key = opts->idempotency_key ? opts->idempotency_key : key};
    if ((rc = client__send(c, &r, &q)) != 0)
        goto out;
    ans = json_loadb(r.body, r.len, 0, NULL);
    const char *id = json_string_value(json_object_get(ans, "job_id"));
    if (!id) {
        rc = client__error(FMUGW_CLIENT_ESERVER, "POST /fmu/execute: no job_id in the answer");
        goto out;
    }
    snprintf(out->id, sizeof out->id, "%s", id);
    const char *st = json_string_value(json_object_get(ans, "status"));
    snprintf(out->status, sizeof out->status, "%s", st ? st : "queued");
out:
    json_decref(body);
    json_decref(ans);
    free(text);
    client__resp_free(&r);
    return rc;
}

static int is_final(const char *s)
{
    return !strcmp(s, "succeeded") || !strcmp(s, "failed") || !strcmp(s, "canceled") || !strcmp(s, "timed_out");
}

static void parse_status(fmugw_job_status *out, const json_t *j, const char *job_id)
{
    memset(out, 0, sizeof *out);
    const char *id = json_string_value(json_object_get(j, "job_id"));
    if (!id)
        id = json_string_value(json_object_get(j, "id"));
    snprintf(out->id, sizeof out->id, "%s", id ? id : job_id);
    const char *st = json_string_value(json_object_get(j, "status"));
    snprintf(out->status, sizeof out->status, "%s", st ? st : "");
    out->finished = is_final(out->status);
    json_t *cc = json_object_get(j, "credits_charged");
    out->credits_charged = json_is_number(cc) ? json_number_value(cc) : NAN;
    json_t *p = json_object_get(j, "progress");
    out->progress = json_is_number(p) ? json_number_value(p) : NAN;
    json_t *e = json_object_get(j, "error");
    const char *msg = json_string_value(e);
    if (!msg && json_is_object(e)) {
        msg = json_string_value(json_object_get(e, "message"));
        if (!msg)
            msg = json_string_value(json_object_get(e, "detail"));
    }
    if (!msg)
        msg = json_string_value(json_object_get(j, "error_message"));
    snprintf(out->error, sizeof out->error, "%s", msg ? msg : "");
}

static int status_call(fmugw_job_status *out, fmugw_client *c, const char *job_id, int wait_s)
{
    if (!job_id || !*job_id)
        return client__error(FMUGW_CLIENT_EUSAGE, "no job id given");
    char *e = client__escape(job_id), path[1024];
    if (!e)
        return client__error(FMUGW_CLIENT_ERROR, "out of memory");
    if (wait_s > 0)
        snprintf(path, sizeof path, "/fmu/status/%s?wait=%d", e, wait_s);
    else
        snprintf(path, sizeof path, "/fmu/status/%s", e);
    free(e);
    client__resp r = {0};
    client__req q = {.method = "GET", .path = path, .flags = REQ_IDEMPOTENT | REQ_LONG, .wait_s = wait_s};
    int rc = client__send(c, &r, &q);
    if (rc == 0) {
        json_t *j = json_loadb(r.body, r.len, 0, NULL);
        if (!j)
            rc = client__error(FMUGW_CLIENT_ESERVER, "GET /fmu/status: the answer is not JSON");
        else
            parse_status(out, j, job_id);
        json_decref(j);
    }
    client__resp_free(&r);
    return rc;
}

FMUGW_EXTERN(int) fmugw_job_status_get(fmugw_job_status *out, fmugw_client *c, const char *job_id)
{
    memset(out, 0, sizeof *out);
    return status_call(out, c, job_id, 0);
}

FMUGW_EXTERN(int) fmugw_job_wait(fmugw_job_status *out, fmugw_client *c, const char *job_id, int timeout_s,
                                 fmugw_wait_cb cb, void *ud)
{
    double deadline = client__now() + timeout_s;
    memset(out, 0, sizeof *out);
    for (;;) {
        /* A running job's progress does not end a long poll: a caller that
         * shows it asks again every second. */
        int wait_s = cb && !strcmp(out->status, "running") ? 1 : WAIT_POLL_S;
        if (timeout_s > 0) {
            double left = deadline - client__now();
            if (left <= 0)
                return client__error(FMUGW_CLIENT_ETIMEOUT, "job %s is still %s after %d s", job_id, out->status,
                                     timeout_s);
            if (left < wait_s)
                wait_s = left < 1 ? 1 : (int)left;
        }
        int rc = status_call(out, c, job_id, wait_s);
        if (rc)
            return rc;
        if (cb && cb(ud, out))
            return client__error(FMUGW_CLIENT_ETIMEOUT, "stopped waiting for job %s (%s)", job_id, out->status);
        if (out->finished) {
            if (!strcmp(out->status, "succeeded"))
                return 0;
            return client__error(FMUGW_CLIENT_EJOBFAILED, "job %s %s%s%s", job_id,
                                 !strcmp(out->status, "timed_out") ? "timed out" : out->status,
                                 *out->error ? ": " : "", out->error);
        }
    }
}

FMUGW_EXTERN(int) fmugw_job_cancel(fmugw_client *c, const char *job_id)
{
    return client__on_id(c, NULL, "POST", "/fmu/cancel/", job_id, NULL);
}

FMUGW_EXTERN(int) fmugw_job_get(char **out, fmugw_client *c, const char *job_id)
{
    *out = NULL;
    return client__on_id(c, out, "GET", "/fmu/status/", job_id, NULL);
}

FMUGW_EXTERN(int) fmugw_job_list(char **out, fmugw_client *c)
{
    json_t *j = NULL;
    *out = NULL;
    int rc = client__json(c, &j, "GET", "/jobs", NULL, 0);
    if (rc == 0 && !(*out = json_dumps(j, JSON_COMPACT)))
        rc = client__error(FMUGW_CLIENT_ERROR, "out of memory");
    json_decref(j);
    return rc;
}

/* Downloads the results into an open file (truncated first). */
static int download_to(fmugw_client *c, const char *job_id, FILE *sink)
{
    char *meta_text = NULL;
    json_t *meta = NULL;
    client__resp r = {0};
    int rc = client__on_id(c, &meta_text, "GET", "/fmu/results/", job_id, NULL);
    if (rc)
        goto out;
    meta = json_loads(meta_text, 0, NULL);
    const char *url = json_string_value(json_object_get(meta, "url"));
    const char *want = json_string_value(json_object_get(meta, "sha256"));
    if (!url) {
        rc = client__error(FMUGW_CLIENT_ESERVER, "GET /fmu/results: no url in the answer");
        goto out;
    }
    client__req q = {.method = "GET", .path = url, .sink = sink, .flags = REQ_NOAUTH | REQ_IDEMPOTENT};
    if ((rc = client__send(c, &r, &q)) != 0)
        goto out;
    if (fflush(sink) != 0) {
        rc = client__error(FMUGW_CLIENT_ERROR, "cannot write the results: %s", strerror(errno));
        goto out;
    }
    if (want && *want) {
        crypto_sha256_ctx *ctx = NULL;
        uint8_t d[CRYPTO_SHA256_LEN];
        char got[65], buf[65536];
        size_t n;
        if (crypto_sha256_new(&ctx) != 0) {
            rc = client__error(FMUGW_CLIENT_ERROR, "SHA-256 unavailable");
            goto out;
        }
        rewind(sink);
        while ((n = fread(buf, 1, sizeof buf, sink)) > 0)
            crypto_sha256_update(ctx, buf, n);
        crypto_sha256_final(ctx, d);
        crypto_sha256_free(ctx);
        for (int i = 0; i < CRYPTO_SHA256_LEN; i++)
            snprintf(got + 2 * i, 3, "%02x", d[i]);
        if (strcmp(got, want)) {
            rc = client__error(FMUGW_CLIENT_ESERVER, "the downloaded results of job %s do not match their SHA-256",
                               job_id);
            goto out;
        }
    }
out:
    fmugw_free(meta_text);
    json_decref(meta);
    client__resp_free(&r);
    return rc;
}

FMUGW_EXTERN(int) fmugw_job_results_download(fmugw_client *c, const char *job_id, const char *path)
{
    FILE *f = NULL;
    char *tmp = NULL;
    int rc = 0;
    if (!path || !*path)
        return client__error(FMUGW_CLIENT_EUSAGE, "no output path given");
    if (!strcmp(path, "-")) {
        if (!(f = tmpfile()))
            return client__error(FMUGW_CLIENT_ERROR, "cannot create a temporary file: %s", strerror(errno));
        if ((rc = download_to(c, job_id, f)) == 0) {
            char buf[65536];
            size_t n;
            rewind(f);
            while ((n = fread(buf, 1, sizeof buf, f)) > 0)
                if (fwrite(buf, 1, n, stdout) != n) {
                    rc = client__error(FMUGW_CLIENT_ERROR, "cannot write to standard output");
                    break;
                }
            fflush(stdout);
        }
        fclose(f);
        return rc;
    }
    size_t n = strlen(path) + 16;
    if (!(tmp = malloc(n)))
        return client__error(FMUGW_CLIENT_ERROR, "out of memory");
    snprintf(tmp, n, "%s.partXXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0 || !(f = fdopen(fd, "w+"))) {
        rc = client__error(FMUGW_CLIENT_ERROR, "cannot create %s: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        goto out;
    }
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0) {
        rc = client__error(FMUGW_CLIENT_ERROR, "cannot set the mode of %s: %s", tmp, strerror(errno));
        goto out;
    }
    if ((rc = download_to(c, job_id, f)) != 0)
        goto out;
    if (fclose(f) != 0) {
        f = NULL;
        rc = client__error(FMUGW_CLIENT_ERROR, "cannot write %s: %s", path, strerror(errno));
        goto out;
    }
    f = NULL;
    if (rename(tmp, path) != 0) {
        rc = client__error(FMUGW_CLIENT_ERROR, "cannot rename to %s: %s", path, strerror(errno));
        goto out;
    }
    free(tmp);
    tmp = NULL;
out:
    if (f)
        fclose(f);
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    return rc;
}

FMUGW_EXTERN(int) fmugw_job_results_table(fmugw_table **out, fmugw_client *c, const char *job_id)
{
    FILE *f = tmpfile();
    char *buf = NULL;
    int rc = 0;
    *out = NULL;
    if (!f)
        return client__error(FMUGW_CLIENT_ERROR, "cannot create a temporary file: %s", strerror(errno));
    if ((rc = download_to(c, job_id, f)) != 0)
        goto out;
    long size = ftell(f);
    if (fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    if (size < 0 || !(buf = malloc((size_t)size + 1))) {
        rc = client__error(FMUGW_CLIENT_ERROR, "out of memory");
        goto out;
    }
    rewind(f);
    size_t n = fread(buf, 1, (size_t)size, f);
    buf[n] = '\0';
    rc = fmugw_table_parse_csv(out, buf, n);
out:
    free(buf);
    fclose(f);
    return rc;
}

FMUGW_EXTERN(void) fmugw_table_free(fmugw_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->ncols; i++)
        free(t->names[i]);
    free(t->names);
    free(t->values);
    free(t);
}

/* One CSV field starting at *p (quotes allowed); advances past it and its
 * separator. Returns a malloc'd copy. */
static char *csv_field(const char **p, const char *end, int *eol)
{
    const char *s = *p;
    char *o = malloc((size_t)(end - s) + 1), *w = o;
    if (!o)
        return NULL;
    if (s < end && *s == '"') {
        s++;
        while (s < end) {
            if (*s == '"' && s + 1 < end && s[1] == '"') {
                *w++ = '"';
                s += 2;
            } else if (*s == '"') {
                s++;
                break;
            } else {
                *w++ = *s++;
            }
        }
    }
    while (s < end && *s != ',' && *s != '\n' && *s != '\r')
        *w++ = *s++;
    *w = '\0';
    *eol = s >= end || *s != ',';
    if (s < end && *s == '\r')
        s++;
    if (s < end)
        s++;
    *p = s;
    return o;
}

FMUGW_EXTERN(int) fmugw_table_parse_csv(fmugw_table **out, const char *csv, size_t len)
{
    const char *p = csv, *end = csv + len;
    fmugw_table *t = calloc(1, sizeof *t);
    size_t cap = 0;
    int rc = 0, eol = 0;
    *out = NULL;
    if (!t)
        return client__error(FMUGW_CLIENT_ERROR, "out of memory");
    if (!len) {
        rc = client__error(FMUGW_CLIENT_EINVALID, "the results are empty");
        goto out;
    }
    while (!eol && p < end) {
        char *name = csv_field(&p, end, &eol);
        char **names = realloc(t->names, (t->ncols + 1) * sizeof *names);
        if (!name || !names) {
            free(name);
            if (names)
                t->names = names;
            rc = client__error(FMUGW_CLIENT_ERROR, "out of memory");
            goto out;
        }
        t->names = names;
        t->names[t->ncols++] = name;
    }
    while (p < end) {
        if (*p == '\n' || *p == '\r') {
            p++;
            continue;
        }
        if (t->nrows + 1 > cap) {
            cap = cap ? cap * 2 : 256;
            double *v = realloc(t->values, cap * t->ncols * sizeof *v);
            if (!v) {
                rc = client__error(FMUGW_CLIENT_ERROR, "out of memory");
                goto out;
            }
            t->values = v;
        }
        double *row = t->values + t->nrows * t->ncols;
        size_t col = 0;
        eol = 0;
        while (!eol) {
            char *f = csv_field(&p, end, &eol);
            if (!f) {
                rc = client__error(FMUGW_CLIENT_ERROR, "out of memory");
                goto out;
            }
            if (col < t->ncols) {
                char *e;
                double d = strtod(f, &e);
                row[col] = (*f && !*e) ? d : !strcmp(f, "true") ? 1.0 : !strcmp(f, "false") ? 0.0 : NAN;
            }
            col++;
            free(f);
        }
        if (col != t->ncols) {
            rc = client__error(FMUGW_CLIENT_EINVALID, "CSV row %zu has %zu fields, the header %zu", t->nrows + 1, col,
                               t->ncols);
            goto out;
        }
        t->nrows++;
    }
    *out = t;
    t = NULL;
out:
    fmugw_table_free(t);
    return rc;
}
