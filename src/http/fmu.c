/*
 * fmu.c - the registry routes (app_routes_fmu): declare an upload, the
 * signed upload URL, the one-request upload of small FMUs, list, get,
 * delete, the signed download URL and the download itself. The pipeline
 * (streaming, sealing, validation) lives in src/registry; this file maps
 * requests to it and its errors to problems. A model's variables beyond
 * the first REGISTRY_VARIABLES_INLINE are paged (GET /fmu/{id}/variables).
 *
 * Tenants: every lookup is scoped by the caller's account (the principal,
 * or the account a signed URL was issued for) through store_fmu_get /
 * store_fmu_get_owned, so another account's FMU is a 404 on every route.
 * Public samples are visible (GET) but not downloadable or deletable.
 *
 * Streamed uploads keep their state (an upload_req) as the request's user
 * value so that it is freed, and the temporary file removed, however the
 * request ends (also when the client disconnects mid-body). On POST /fmu
 * this replaces the principal set by the guard: the principal is copied
 * into the upload_req first (first member, so app_principal() still reads
 * a valid principal).
 */
#include "auth/signed_url.h"
#include "http/fmu_cache.h"
#include "http/log.h"
#include "registry/registry.h"
#include "server/app.h"
#include "store/fmus.h"
#include "util/error.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define DECLARE_MAX_BODY 16384
#define LIST_DEFAULT 50
#define LIST_MAX 200

typedef struct {
    principal who; /* first: see the top of the file */
    app *a;
    registry_upload *u;
    store_fmu *fmu;   /* PUT: the FMU being uploaded */
    char account[64]; /* owner of the upload */
    char counter_key[80];
    const char *name; /* POST /fmu: arena string */
} upload_req;

static void upload_req_free(void *p)
{
    upload_req *r = p;
    if (r == NULL)
        return;
    registry_upload_free(r->u);
    store_fmu_free(r->fmu);
    free(r);
}

/* The signed URL lifetime: configuration key url_ttl_s, else the app's. */
static unsigned url_ttl(const app *a)
{
    if (a->cfg && a->cfg->url_ttl_s)
        return a->cfg->url_ttl_s;
    return a->url_ttl_s ? a->url_ttl_s : 300;
}

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* The caller's principal, or a 401 problem. */
static const principal *who_or_401(http_request *req)
{
    const principal *p = app_principal(req);
    if (p == NULL || p->account_id[0] == '\0') {
        http_problem(req, HTTP_PROBLEM_UNAUTHORIZED, "authentication required");
        return NULL;
    }
    return p;
}

static int internal(http_request *req, const char *what)
{
    json_t *f = json_pack("{s:s,s:s,s:s}", "what", what, "error", fmugw_error_last(), "request_id",
                          http_request_id(req));
    fmugw_log_json(FMUGW_LOG_ERROR, "registry error", f);
    return http_problem(req, HTTP_PROBLEM_INTERNAL, "internal error");
}

/* Maps a store/registry error to a problem (404 for ENOTFOUND, ...). */
static int problem_from(http_request *req, int rc, const char *what)
{
    http_problem_kind k = http_problem_from_error(rc);
    if (k == HTTP_PROBLEM_INTERNAL)
        return internal(req, what);
    return http_problem(req, k, "%s", fmugw_error_last());
}

static int acquire(db_conn **c, http_request *req, app *a)
{
    if (db_pool_acquire(c, a->db) != 0) {
        internal(req, "database");
        return HTTP_STOP;
    }
    return 0;
}

/* 1..255 bytes of UTF-8 (jansson checked the encoding) without control
 * characters. */
static bool name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f)
            return false;
    }
    return true;
}

static bool sha_ok(const char *s)
{
    if (s == NULL || strlen(s) != 64)
        return false;
    for (size_t i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static json_t *field_error(const char *field, const char *message)
{
    return json_pack("{s:[{s:s,s:s}]}", "errors", "field", field, "message", message);
}

/* ---- POST /fmu/upload ------------------------------------------------- */

static int declare(http_request *req, void *ud)
{
    app *a = ud;
    const principal *who = who_or_401(req);
    json_t *body = NULL;
    db_conn *c = NULL;
    store_fmu *f = NULL;
    char *existing = NULL, *url = NULL;
    int rc;

    if (who == NULL)
        return HTTP_STOP;
    if ((rc = http_request_json(&body, req)) != 0)
        return rc;
    if (!json_is_object(body))
        return http_problem(req, HTTP_PROBLEM_BAD_REQUEST, "the body must be a JSON object");
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        if (strcmp(key, "name") && strcmp(key, "size") && strcmp(key, "sha256"))
            return http_problem_ext(req, HTTP_PROBLEM_BAD_REQUEST, "unknown member", field_error(key, "not allowed"));
    }
    json_t *jname = json_object_get(body, "name"), *jsize = json_object_get(body, "size"),
           *jsha = json_object_get(body, "sha256");
    const char *name = json_string_value(jname), *sha = json_string_value(jsha);
    if (!name_ok(name))
        return http_problem_ext(req, HTTP_PROBLEM_BAD_REQUEST, "invalid name",
                                field_error("name", "1 to 255 characters, no control characters"));
    if (!json_is_integer(jsize) || json_integer_value(jsize) <= 0)
        return http_problem_ext(req, HTTP_PROBLEM_BAD_REQUEST, "invalid size",
                                field_error("size", "a positive integer (bytes)"));
    if (!sha_ok(sha))
        return http_problem_ext(req, HTTP_PROBLEM_BAD_REQUEST, "invalid sha256",
                                field_error("sha256", "64 lowercase hex digits"));
    int64_t size = (int64_t)json_integer_value(jsize);
    const tier_limits *lim = tier_limits_of(who->tier);
    if ((uint64_t)size > lim->max_fmu_bytes)
        return http_problem(req, HTTP_PROBLEM_PAYLOAD_TOO_LARGE,
                            "the FMU is larger than the %llu bytes allowed for tier %s",
                            (unsigned long long)lim->max_fmu_bytes, lim->tier);
    if (acquire(&c, req, a))
        return HTTP_STOP;
    if ((rc = registry_find_by_sha256(&existing, c, who->account_id, sha, false)) != 0) {
        rc = internal(req, "find by sha256");
        goto out;
    }
    if (existing) {
        rc = http_respond_json(req, 200, json_pack("{s:s,s:b,s:s}", "fmu_id", existing, "existing", 1, "status",
                                                   "ready"));
        goto out;
    }
    int64_t expires = now_s() + url_ttl(a);
    store_fmu_new in = { .account_id = who->account_id, .name = name, .size = size, .sha256 = sha,
                         .state = STORE_FMU_AWAITING_UPLOAD, .upload_expires_at = expires * 1000 };
    if ((rc = store_fmu_insert(&f, c, &in)) != 0) {
        rc = problem_from(req, rc, "insert fmu");
        goto out;
    }
    char path[128], when[40];
    snprintf(path, sizeof path, "/uploads/%s", f->id);
    if (signed_url_make_for_key(&url, a->url_key, sizeof a->url_key, "PUT", path, who->account_id,
                                who->key_id[0] ? who->key_id : NULL, expires) != 0) {
        rc = internal(req, "sign upload URL");
        goto out;
    }
    registry_format_time(when, sizeof when, expires * 1000);
    http_header_add(req, "Location", http_request_printf(req, "/fmu/%s", f->id));
    rc = http_respond_json(req, 201, json_pack("{s:s,s:s,s:s}", "fmu_id", f->id, "upload_url", url, "expires_at", when));
out:
    free(url);
    free(existing);
    store_fmu_free(f);
    if (c)
        db_pool_release(a->db, c);
    return rc;
}

/* ---- PUT /uploads/{id} --------------------------------------------------- */

static int put_start(http_request *req, void *ud)
{
    app *a = ud;
    const char *id = http_request_param(req, "id");
    char *path = http_request_printf(req, "/uploads/%s", id);
    db_conn *c = NULL;
    upload_req *ur = NULL;
    store_fmu *f = NULL;
    int rc;

    if (path == NULL)
        return internal(req, "out of memory");
    const char *account = NULL;
    if ((rc = app_signed_access(a, req, "PUT", path, "upload", &account)) != 0)
        return rc;
    if (acquire(&c, req, a))
        return HTTP_STOP;
    rc = store_fmu_get_owned(&f, c, account, id);
    db_pool_release(a->db, c);
    if (rc != 0)
        return problem_from(req, rc, "get fmu");
    if (f->state != STORE_FMU_AWAITING_UPLOAD) {
        rc = http_problem(req, HTTP_PROBLEM_CONFLICT, "the FMU is %s, not awaiting an upload",
                          store_fmu_state_name(f->state));
        goto out;
    }
    int64_t cl = http_request_content_length(req);
    if (cl >= 0 && cl > f->size) {
        rc = http_problem(req, HTTP_PROBLEM_PAYLOAD_TOO_LARGE, "Content-Length %lld is over the declared size %lld",
                          (long long)cl, (long long)f->size);
        goto out;
    }
    if (cl >= 0 && cl < f->size) {
        rc = http_problem(req, HTTP_PROBLEM_BAD_REQUEST, "Content-Length %lld differs from the declared size %lld",
                          (long long)cl, (long long)f->size);
        goto out;
    }
    if ((ur = calloc(1, sizeof *ur)) == NULL) {
        rc = internal(req, "out of memory");
        goto out;
    }
    ur->a = a;
    snprintf(ur->account, sizeof ur->account, "%s", account);
    snprintf(ur->counter_key, sizeof ur->counter_key, "acct:%s", account);
    if (registry_upload_begin(&ur->u, a, (uint64_t)f->size) != 0) {
        upload_req_free(ur);
        rc = internal(req, "begin upload");
        goto out;
    }
    ur->fmu = f;
    f = NULL;
    http_request_set_user(req, ur, upload_req_free);
    rc = 0;
out:
    store_fmu_free(f);
    return rc;
}

static int put_body(http_request *req, const char *data, size_t len, void *ud)
{
    (void)ud;
    upload_req *ur = http_request_user(req);
    int rc = registry_upload_write(ur->u, data, len);
    if (rc == FMUGW_ETOOBIG)
        return http_problem(req, HTTP_PROBLEM_PAYLOAD_TOO_LARGE, "the body is larger than the declared size");
    if (rc != 0)
        return internal(req, "upload write");
    return 0;
}

/* Finishes an upload of ur->fmu and answers with the FMU (`status` on
 * success), or a problem. */
static int finish_upload(http_request *req, upload_req *ur, int status, const char *actor)
{
    app *a = ur->a;
    db_conn *c = NULL;
    store_fmu *row = NULL;
    int rc;

    if (acquire(&c, req, a))
        return HTTP_STOP;
    rc = registry_upload_finish(&row, a, c, ur->u, ur->fmu, actor);
    /* the temporary file goes now, before the answer is sent */
    registry_upload_free(ur->u);
    ur->u = NULL;
    if (rc == FMUGW_EINVALID) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", fmugw_error_last());
        app_audit(a, c, actor, "fmu.upload", ur->fmu->id, json_pack("{s:s,s:s}", "status", "mismatch", "error", msg));
        registry_count_reject(a, c, ur->counter_key);
        rc = http_problem(req, HTTP_PROBLEM_UNPROCESSABLE, "%s", msg);
    } else if (rc == FMUGW_ECONFLICT) {
        rc = http_problem(req, HTTP_PROBLEM_CONFLICT, "the FMU is no longer awaiting an upload");
    } else if (rc != 0) {
        rc = internal(req, "finish upload");
    } else {
        if (row->state == STORE_FMU_REJECTED)
            registry_count_reject(a, c, ur->counter_key);
        rc = http_respond_json(req, status, registry_fmu_json(row, true));
    }
    store_fmu_free(row);
    db_pool_release(a->db, c);
    return rc;
}

static int put_done_work(http_request *req, void *ud)
{
    (void)ud;
    upload_req *ur = http_request_user(req);
    if (ur == NULL)
        return internal(req, "upload state missing");
    char actor[80];
    snprintf(actor, sizeof actor, "%s", ur->account);
    return finish_upload(req, ur, 200, actor);
}

/* Validation reads and checks the whole FMU: not on a polling thread. */
static int put_done(http_request *req, void *ud)
{
    return http_request_offload(req, put_done_work, ud, NULL);
}

/* ---- POST /fmu?name=NAME (one request) --------------------------------- */

static bool octet_stream(const char *ct)
{
    static const char want[] = "application/octet-stream";
    if (ct == NULL || strncasecmp(ct, want, sizeof want - 1) != 0)
        return false;
    char next = ct[sizeof want - 1];
    return next == '\0' || next == ';' || next == ' ';
}

static int small_start(http_request *req, void *ud)
{
    app *a = ud;
    const principal *who = who_or_401(req);
    upload_req *ur;

    if (who == NULL)
        return HTTP_STOP;
    const char *name = http_request_query(req, "name");
    if (!name_ok(name))
        return http_problem_ext(req, HTTP_PROBLEM_BAD_REQUEST, "invalid name",
                                field_error("name", "query parameter: 1 to 255 characters"));
    if (!octet_stream(http_request_header(req, "Content-Type")))
        return http_problem(req, HTTP_PROBLEM_UNSUPPORTED_MEDIA_TYPE, "send the FMU as application/octet-stream");
    const tier_limits *lim = tier_limits_of(who->tier);
    uint64_t cap = lim->max_fmu_bytes < REGISTRY_SMALL_MAX ? lim->max_fmu_bytes : REGISTRY_SMALL_MAX;
    int64_t cl = http_request_content_length(req);
    if (cl >= 0 && (uint64_t)cl > cap)
        return http_problem(req, HTTP_PROBLEM_PAYLOAD_TOO_LARGE,
                            "one-request uploads are limited to %llu bytes: use POST /fmu/upload",
                            (unsigned long long)cap);
    if ((ur = calloc(1, sizeof *ur)) == NULL)
        return internal(req, "out of memory");
    ur->who = *who;
    ur->a = a;
    ur->name = http_request_strdup(req, name);
    snprintf(ur->account, sizeof ur->account, "%s", who->account_id);
    snprintf(ur->counter_key, sizeof ur->counter_key, "%s", who->key_id[0] ? who->key_id : who->account_id);
    if (registry_upload_begin(&ur->u, a, cap) != 0) {
        upload_req_free(ur);
        return internal(req, "begin upload");
    }
    http_request_set_user(req, ur, upload_req_free);
    return 0;
}

static int small_body(http_request *req, const char *data, size_t len, void *ud)
{
    (void)ud;
    upload_req *ur = http_request_user(req);
    int rc = registry_upload_write(ur->u, data, len);
    if (rc == FMUGW_ETOOBIG)
        return http_problem(req, HTTP_PROBLEM_PAYLOAD_TOO_LARGE,
                            "one-request uploads are limited in size: use POST /fmu/upload");
    if (rc != 0)
        return internal(req, "upload write");
    return 0;
}

static int small_done_work(http_request *req, void *ud)
{
    app *a = ud;
    upload_req *ur = http_request_user(req);
    db_conn *c = NULL;
    store_fmu *f = NULL;
    char sha[65], *existing = NULL;
    uint64_t size = 0;
    int rc;

    if (ur == NULL)
        return internal(req, "upload state missing");
    if (registry_upload_end(ur->u, sha, &size) != 0)
        return internal(req, "end upload");
    if (size == 0)
        return http_problem(req, HTTP_PROBLEM_BAD_REQUEST, "empty body");
    if (acquire(&c, req, a))
        return HTTP_STOP;
    if ((rc = registry_find_by_sha256(&existing, c, ur->account, sha, false)) != 0) {
        rc = internal(req, "find by sha256");
        goto out;
    }
    if (existing) {
        registry_upload_free(ur->u);
        ur->u = NULL;
        if ((rc = store_fmu_get_owned(&f, c, ur->account, existing)) != 0) {
            rc = problem_from(req, rc, "get fmu");
            goto out;
        }
        json_t *j = registry_fmu_json(f, true);
        json_object_set_new(j, "existing", json_true());
        rc = http_respond_json(req, 200, j);
        goto out;
    }
    store_fmu_new in = { .account_id = ur->account, .name = ur->name, .size = (int64_t)size, .sha256 = sha,
                         .state = STORE_FMU_AWAITING_UPLOAD };
    if ((rc = store_fmu_insert(&ur->fmu, c, &in)) != 0) {
        rc = problem_from(req, rc, "insert fmu");
        goto out;
    }
    db_pool_release(a->db, c);
    c = NULL;
    http_header_add(req, "Location", http_request_printf(req, "/fmu/%s", ur->fmu->id));
    rc = finish_upload(req, ur, 201, ur->who.key_id[0] ? ur->who.key_id : ur->account);
out:
    free(existing);
    store_fmu_free(f);
    if (c)
        db_pool_release(a->db, c);
    return rc;
}

static int small_done(http_request *req, void *ud)
{
    return http_request_offload(req, small_done_work, ud, NULL);
}

/* ---- GET /fmu ---------------------------------------------------------------- */

static int list(http_request *req, void *ud)
{
    app *a = ud;
    const principal *who = who_or_401(req);
    db_conn *c = NULL;
    store_fmu **items = NULL;
    size_t n = 0;
    char *next = NULL;
    int64_t limit = LIST_DEFAULT;
    int rc;

    if (who == NULL)
        return HTTP_STOP;
    const char *ls = http_request_query(req, "limit");
    if (ls) {
        char *end;
        errno = 0;
        long long v = strtoll(ls, &end, 10);
        if (errno || *end || end == ls || v < 1 || v > LIST_MAX)
            return http_problem_ext(req, HTTP_PROBLEM_BAD_REQUEST, "invalid limit",
                                    field_error("limit", "an integer from 1 to 200"));
        limit = v;
    }
    const char *cursor = http_request_query(req, "cursor");
    if (acquire(&c, req, a))
        return HTTP_STOP;
    rc = store_fmu_list(&items, &n, &next, c, who->account_id, true, cursor, limit);
    db_pool_release(a->db, c);
    if (rc == FMUGW_EINVALID)
        return http_problem_ext(req, HTTP_PROBLEM_BAD_REQUEST, "invalid cursor",
                                field_error("cursor", "use next_cursor from the previous page"));
    if (rc != 0)
        return problem_from(req, rc, "list fmus");
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, registry_fmu_json(items[i], false));
    store_fmu_list_free(items, n);
    rc = http_respond_json(req, 200, json_pack("{s:o,s:o}", "items", arr, "next_cursor",
                                               next ? json_string(next) : json_null()));
    free(next);
    return rc;
}

/* ---- GET / DELETE /fmu/{id} ------------------------------------------------ */

static int get_one(http_request *req, void *ud)
{
    app *a = ud;
    const principal *who = who_or_401(req);
    const char *id = http_request_param(req, "id");
    db_conn *c = NULL;
    store_fmu *f = NULL;
    char *body = NULL;
    size_t len = 0;
    int rc;

    if (who == NULL)
        return HTTP_STOP;
    /* The epoch first: a body cached at it for this account (after the
     * SQL visibility check) is current (http/fmu_cache.h). */
    uint64_t epoch = db_pool_change_epoch(a->db);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    if (fmu_cache_get(who->account_id, id, epoch, now, &body, &len)) {
        rc = http_respond_bytes(req, 200, "application/json", body, len);
        free(body);
        return rc;
    }
    if (acquire(&c, req, a))
        return HTTP_STOP;
    rc = store_fmu_get(&f, c, who->account_id, id);
    db_pool_release(a->db, c);
    if (rc != 0)
        return problem_from(req, rc, "get fmu");
    json_t *j = registry_fmu_json(f, true);
    body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    store_fmu_free(f);
    if (body == NULL)
        return http_problem(req, HTTP_PROBLEM_INTERNAL, "cannot serialise the FMU");
    len = strlen(body);
    fmu_cache_put(who->account_id, id, epoch, now, body, len);
    rc = http_respond_bytes(req, 200, "application/json", body, len);
    free(body);
    return rc;
}

/* A non-negative integer query parameter within [lo, hi], or `dflt` when
 * absent; false (and a 400 answered) when malformed. */
static bool query_uint(http_request *req, const char *name, uint64_t lo, uint64_t hi, uint64_t dflt, uint64_t *out)
{
    const char *s = http_request_query(req, name);
    *out = dflt;
    if (!s)
        return true;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || end == s || s[0] < '0' || s[0] > '9' || v < lo || v > hi) {
        char msg[96];
        snprintf(msg, sizeof msg, "an integer from %llu to %llu", (unsigned long long)lo, (unsigned long long)hi);
        http_problem_ext(req, HTTP_PROBLEM_BAD_REQUEST, "invalid query parameter", field_error(name, msg));
        return false;
    }
    *out = v;
    return true;
}

/* GET /fmu/{id}/variables?offset=&limit=: one page of the model's
 * variables (registry_fmu_variables), so no answer carries all of a big
 * model. */
static int variables(http_request *req, void *ud)
{
    app *a = ud;
    const principal *who = who_or_401(req);
    const char *id = http_request_param(req, "id");
    db_conn *c = NULL;
    store_fmu *f = NULL;
    uint64_t offset, limit;
    json_t *page = NULL;
    int rc;

    if (who == NULL)
        return HTTP_STOP;
    if (!query_uint(req, "offset", 0, (uint64_t)INT64_MAX, 0, &offset) ||
        !query_uint(req, "limit", 1, REGISTRY_VARIABLES_PAGE_MAX, REGISTRY_VARIABLES_PAGE_DEFAULT, &limit))
        return HTTP_STOP;
    if (acquire(&c, req, a))
        return HTTP_STOP;
    rc = store_fmu_get(&f, c, who->account_id, id);
    db_pool_release(a->db, c);
    if (rc != 0)
        return problem_from(req, rc, "get fmu");
    rc = registry_fmu_variables(&page, f, offset, limit);
    store_fmu_free(f);
    if (rc != 0)
        return problem_from(req, rc, "fmu variables");
    return http_respond_json(req, 200, page);
}

static int delete_one(http_request *req, void *ud)
{
    app *a = ud;
    const principal *who = who_or_401(req);
    const char *id = http_request_param(req, "id");
    db_conn *c = NULL;
    store_fmu *f = NULL;
    int rc;

    if (who == NULL)
        return HTTP_STOP;
    if (acquire(&c, req, a))
        return HTTP_STOP;
    if ((rc = store_fmu_get_owned(&f, c, who->account_id, id)) != 0 ||
        (rc = store_fmu_delete(c, who->account_id, id)) != 0) {
        rc = problem_from(req, rc, "delete fmu");
        goto out;
    }
    /* The bytes go with the FMU: every upload is its own blob. */
    if (f->blob_key && (rc = blob_delete(a->blobs, f->blob_key)) != 0 && rc != FMUGW_ENOTFOUND)
        fmugw_log_json(FMUGW_LOG_WARN, "blob delete failed",
                       json_pack("{s:s,s:s}", "fmu_id", id, "error", fmugw_error_last()));
    app_audit(a, c, who->key_id[0] ? who->key_id : who->account_id, "fmu.delete", id,
              json_pack("{s:s}", "account_id", who->account_id));
    rc = http_respond_bytes(req, 204, NULL, NULL, 0);
out:
    store_fmu_free(f);
    db_pool_release(a->db, c);
    return rc;
}

/* ---- downloads --------------------------------------------------------------- */

static int download_url(http_request *req, void *ud)
{
    app *a = ud;
    const principal *who = who_or_401(req);
    const char *id = http_request_param(req, "id");
    db_conn *c = NULL;
    store_fmu *f = NULL;
    char *url = NULL;
    int rc;

    if (who == NULL)
        return HTTP_STOP;
    if (acquire(&c, req, a))
        return HTTP_STOP;
    if ((rc = store_fmu_get_owned(&f, c, who->account_id, id)) != 0) {
        rc = problem_from(req, rc, "get fmu");
        goto out;
    }
    if (f->state != STORE_FMU_READY || f->blob_key == NULL) {
        rc = http_problem(req, HTTP_PROBLEM_CONFLICT, "the FMU is %s, not ready", store_fmu_state_name(f->state));
        goto out;
    }
    int64_t expires = now_s() + url_ttl(a);
    char path[128], when[40];
    snprintf(path, sizeof path, "/downloads/%s", f->id);
    if (signed_url_make_for_key(&url, a->url_key, sizeof a->url_key, "GET", path, who->account_id,
                                who->key_id[0] ? who->key_id : NULL, expires) != 0) {
        rc = internal(req, "sign download URL");
        goto out;
    }
    registry_format_time(when, sizeof when, expires * 1000);
    app_audit(a, c, who->key_id[0] ? who->key_id : who->account_id, "fmu.download", id,
              json_pack("{s:s,s:s}", "account_id", who->account_id, "expires_at", when));
    rc = http_respond_json(req, 200, json_pack("{s:s,s:s}", "download_url", url, "expires_at", when));
out:
    free(url);
    store_fmu_free(f);
    db_pool_release(a->db, c);
    return rc;
}

/* Content-Disposition with an ASCII fallback and the UTF-8 name (RFC 6266). */
static char *content_disposition(http_request *req, const char *name)
{
    size_t n = strlen(name);
    char *ascii = http_request_alloc(req, n + 1), *enc = http_request_alloc(req, 3 * n + 1);
    if (ascii == NULL || enc == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)name[i];
        ascii[i] = ch < 0x20 || ch >= 0x7f || ch == '"' || ch == '\\' || ch == '/' ? '_' : (char)ch;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' ||
            ch == '-' || ch == '_')
            enc[k++] = (char)ch;
        else
            k += (size_t)sprintf(enc + k, "%%%02X", ch);
    }
    ascii[n] = '\0';
    enc[k] = '\0';
    return http_request_printf(req, "attachment; filename=\"%s\"; filename*=UTF-8''%s", ascii, enc);
}

static int download_work(http_request *req, void *ud)
{
    app *a = ud;
    const char *id = http_request_param(req, "id");
    char *path = http_request_printf(req, "/downloads/%s", id), *tmp = NULL;
    db_conn *c = NULL;
    store_fmu *f = NULL;
    FILE *out = NULL;
    int rc, fd = -1;

    if (path == NULL)
        return internal(req, "out of memory");
    const char *account = NULL;
    if ((rc = app_signed_access(a, req, "GET", path, "download", &account)) != 0)
        return rc;
    if (acquire(&c, req, a))
        return HTTP_STOP;
    if ((rc = store_fmu_get_owned(&f, c, account, id)) != 0) {
        rc = problem_from(req, rc, "get fmu");
        goto out;
    }
    if (f->state != STORE_FMU_READY || f->blob_key == NULL) {
        rc = http_problem(req, HTTP_PROBLEM_CONFLICT, "the FMU is %s, not ready", store_fmu_state_name(f->state));
        goto out;
    }
    /* Decrypt to an unlinked temporary file first: only bytes whose whole
     * blob authenticated are sent. */
    if (asprintf(&tmp, "%s/dl-XXXXXX", a->tmp_dir) < 0) {
        tmp = NULL;
        rc = internal(req, "out of memory");
        goto out;
    }
    if ((fd = mkstemp(tmp)) < 0 || unlink(tmp) != 0 || (out = fdopen(fd, "w+b")) == NULL) {
        if (fd >= 0)
            close(fd);
        rc = internal(req, "download temporary file");
        goto out;
    }
    if (registry_blob_decrypt(a, f->blob_key, out) != 0 || fseek(out, 0, SEEK_SET) != 0) {
        rc = internal(req, "decrypt blob");
        goto out;
    }
    app_audit(a, c, account, "fmu.download.fetch", id, json_pack("{s:s}", "ip", http_request_client_ip(req)));
    const char *cd = content_disposition(req, f->name);
    if (cd)
        http_header_add(req, "Content-Disposition", cd);
    http_header_add(req, "Cache-Control", "no-store");
    rc = http_respond_file(req, 200, "application/octet-stream", out, -1);
    out = NULL;
out:
    if (out)
        fclose(out);
    free(tmp);
    store_fmu_free(f);
    db_pool_release(a->db, c);
    return rc;
}

/* Decrypting the whole blob first: not on a polling thread. */
static int download(http_request *req, void *ud)
{
    return http_request_offload(req, download_work, ud, NULL);
}

/* ---- routes --------------------------------------------------------------- */

int app_routes_fmu(app *a, http_server *srv)
{
    const unsigned rd = HTTP_ROUTE_NEEDS_AUTH | APP_ROUTE_SCOPE(SCOPE_FMU_READ);
    const unsigned wr = HTTP_ROUTE_NEEDS_AUTH | APP_ROUTE_SCOPE(SCOPE_FMU_WRITE);
    const http_route routes[] = {
        { .method = "POST", .pattern = "/fmu/upload", .handler = declare, .max_body = DECLARE_MAX_BODY,
          .flags = wr },
        { .method = "PUT", .pattern = "/uploads/{id}", .handler = put_done, .start = put_start,
          .on_body = put_body, .max_body = SIZE_MAX },
        { .method = "POST", .pattern = "/fmu", .handler = small_done, .start = small_start, .on_body = small_body,
          .max_body = SIZE_MAX, .flags = wr },
        { .method = "GET", .pattern = "/fmu", .handler = list, .flags = rd },
        { .method = "GET", .pattern = "/fmu/{id}", .handler = get_one, .flags = rd },
        { .method = "DELETE", .pattern = "/fmu/{id}", .handler = delete_one, .flags = wr },
        { .method = "GET", .pattern = "/fmu/{id}/download", .handler = download_url, .flags = rd },
        { .method = "GET", .pattern = "/fmu/{id}/variables", .handler = variables, .flags = rd },
        { .method = "GET", .pattern = "/downloads/{id}", .handler = download },
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        http_route r = routes[i];
        r.ud = a;
        int rc = http_server_route(srv, &r);
        if (rc != 0)
            return rc;
    }
    return 0;
}
