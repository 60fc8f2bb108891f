/*
 * fmu.c - the FMU registry calls: upload through the signed URL (SHA-256
 * first, so the bytes are not sent when the account already has them;
 * then a PUT streamed from disk with progress), list (all pages), show,
 * delete.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"
#include "util/crypto.h"

FMUGW_EXTERN(int) fmugw_file_sha256(char out[65], const char *path)
{
    FILE *f = fopen(path, "rb");
    crypto_sha256_ctx *ctx = NULL;
    int rc = 0;
    out[0] = '\0';
    if (!f)
        return client__error(FMUGW_CLIENT_ERROR, "cannot open %s: %s", path, strerror(errno));
    if (crypto_sha256_new(&ctx) != 0) {
        rc = client__error(FMUGW_CLIENT_ERROR, "SHA-256 unavailable");
        goto out;
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        crypto_sha256_update(ctx, buf, n);
    if (ferror(f)) {
        rc = client__error(FMUGW_CLIENT_ERROR, "cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    uint8_t d[CRYPTO_SHA256_LEN];
    crypto_sha256_final(ctx, d);
    for (int i = 0; i < CRYPTO_SHA256_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
out:
    crypto_sha256_free(ctx);
    fclose(f);
    return rc;
}

static void copy_str(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

/* "rejected" with the validator's fatal rules in the message. */
static int rejected(const json_t *fmu, const char *id)
{
    char rules[1024] = "";
    size_t used = 0, i;
    json_t *r;
    json_array_foreach(json_object_get(json_object_get(fmu, "validation"), "fatal"), i, r) {
        if (used < sizeof rules)
            used += (size_t)snprintf(rules + used, sizeof rules - used, "%s%s", i ? ", " : "",
                                     json_string_value(r) ? json_string_value(r) : "?");
    }
    return client__error(FMUGW_CLIENT_EINVALID, "the gateway rejected FMU %s (%s): see 'fmugw info %s'", id,
                         *rules ? rules : "validation failed", id);
}

FMUGW_EXTERN(int) fmugw_fmu_upload(fmugw_fmu_ref *out, fmugw_client *c, const char *path,
                                   const fmugw_upload_options *opts)
{
    fmugw_upload_options defaults = FMUGW_UPLOAD_OPTIONS_INIT;
    json_t *ticket = NULL, *body = NULL, *fmu = NULL;
    FILE *f = NULL;
    client__resp r = {0};
    char sha[65], *url = NULL;
    int rc = 0;
    memset(out, 0, sizeof *out);
    if (!opts)
        opts = &defaults;
    if (opts->version != FMUGW_UPLOAD_OPTIONS_VERSION)
        return client__error(FMUGW_CLIENT_EUSAGE, "fmugw_upload_options version %d is not supported", opts->version);
    f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = client__error(FMUGW_CLIENT_ERROR, "cannot read %s: %s", path, f ? "not a regular file" : strerror(errno));
        goto out;
    }
    if (st.st_size == 0) {
        rc = client__error(FMUGW_CLIENT_EUSAGE, "%s is empty", path);
        goto out;
    }
    if ((rc = fmugw_file_sha256(sha, path)) != 0)
        goto out;
    const char *name = opts->name;
    if (!name || !*name) {
        name = strrchr(path, '/');
        name = name ? name + 1 : path;
    }
    body = json_pack("{s:s, s:I, s:s}", "name", name, "size", (json_int_t)st.st_size, "sha256", sha);
    if (!body) {
        rc = client__error(FMUGW_CLIENT_ERROR, "out of memory");
        goto out;
    }
    /* Declaring twice is harmless (same bytes answer existing), so retry it. */
    if ((rc = client__json(c, &ticket, "POST", "/fmu/upload", body, REQ_IDEMPOTENT)) != 0)
        goto out;
    copy_str(out->id, sizeof out->id, json_string_value(json_object_get(ticket, "fmu_id")));
    if (json_is_true(json_object_get(ticket, "existing"))) {
        out->existing = 1;
        copy_str(out->status, sizeof out->status, json_string_value(json_object_get(ticket, "status")));
        if (!strcmp(out->status, "rejected"))
            rc = rejected(ticket, out->id);
        goto out;
    }
    const char *upload_url = json_string_value(json_object_get(ticket, "upload_url"));
    if (!*out->id || !upload_url) {
        rc = client__error(FMUGW_CLIENT_ESERVER, "POST /fmu/upload: no fmu_id or upload_url in the answer");
        goto out;
    }
    /* The PUT is idempotent: the FMU stays awaiting_upload until the bytes match. */
    client__req q = {.method = "PUT", .path = upload_url, .upload = f, .upload_size = (unsigned long long)st.st_size,
                     .progress = opts->progress, .progress_ud = opts->progress_ud,
                     .flags = REQ_NOAUTH | REQ_IDEMPOTENT};
    if ((rc = client__send(c, &r, &q)) != 0)
        goto out;
    fmu = json_loadb(r.body, r.len, 0, NULL);
    copy_str(out->status, sizeof out->status, json_string_value(json_object_get(fmu, "status")));
    if (!fmu || !*out->status) {
        rc = client__error(FMUGW_CLIENT_ESERVER, "PUT upload: the answer has no status");
        goto out;
    }
    if (!strcmp(out->status, "rejected"))
        rc = rejected(fmu, out->id);
out:
    free(url);
    json_decref(ticket);
    json_decref(body);
    json_decref(fmu);
    client__resp_free(&r);
    if (f)
        fclose(f);
    return rc;
}

static int dump(char **out, json_t *j)
{
    *out = json_dumps(j, JSON_COMPACT);
    return *out ? 0 : client__error(FMUGW_CLIENT_ERROR, "out of memory");
}

FMUGW_EXTERN(int) fmugw_fmu_list(char **out, fmugw_client *c)
{
    json_t *all = json_array(), *page = NULL, *doc = NULL;
    char *cursor = NULL;
    int rc = 0;
    *out = NULL;
    for (int pages = 0; pages < 1000; pages++) {
        char path[512];
        if (cursor) {
            char *e = client__escape(cursor);
            snprintf(path, sizeof path, "/fmu?limit=200&cursor=%s", e ? e : "");
            free(e);
        } else {
            snprintf(path, sizeof path, "/fmu?limit=200");
        }
        if ((rc = client__json(c, &page, "GET", path, NULL, 0)) != 0)
            goto out;
        json_array_extend(all, json_object_get(page, "items"));
        free(cursor);
        cursor = NULL;
        const char *next = json_string_value(json_object_get(page, "next_cursor"));
        if (next && *next)
            cursor = strdup(next);
        json_decref(page);
        page = NULL;
        if (!cursor)
            break;
    }
    doc = json_pack("{s:O}", "items", all);
    rc = dump(out, doc);
out:
    free(cursor);
    json_decref(page);
    json_decref(doc);
    json_decref(all);
    return rc;
}

int client__on_id(fmugw_client *c, char **out, const char *method, const char *prefix, const char *id,
                  const char *suffix)
{
    if (!id || !*id)
        return client__error(FMUGW_CLIENT_EUSAGE, "no id given");
    char *e = client__escape(id), path[1024];
    if (!e)
        return client__error(FMUGW_CLIENT_ERROR, "out of memory");
    snprintf(path, sizeof path, "%s%s%s", prefix, e, suffix ? suffix : "");
    free(e);
    json_t *j = NULL;
    int rc = client__json(c, out ? &j : NULL, method, path, NULL, 0);
    if (rc == 0 && out)
        rc = dump(out, j);
    json_decref(j);
    return rc;
}

FMUGW_EXTERN(int) fmugw_fmu_get(char **out, fmugw_client *c, const char *id)
{
    *out = NULL;
    return client__on_id(c, out, "GET", "/fmu/", id, NULL);
}

FMUGW_EXTERN(int) fmugw_fmu_delete(fmugw_client *c, const char *id)
{
    return client__on_id(c, NULL, "DELETE", "/fmu/", id, NULL);
}
