/*
 * jobs.c - the job routes (app_routes_jobs): POST /fmu/execute, GET
 * /fmu/status/{job_id} (long-poll with ?wait=N, parked: no thread waits),
 * POST /fmu/cancel/{job_id},
 * GET /jobs, GET /fmu/results/{job_id} (a signed URL), GET /results/{id}
 * (the signed URL itself: streams the decrypted result) and DELETE
 * /account/data. The work is done by the job system (src/jobs/jobs.h);
 * this file maps requests to it and its errors to problems.
 *
 * Tenants: every call passes the caller's account (or, for the signed
 * URL, the account it was signed for) and the job system scopes its SQL by
 * it, so another account's job is a 404 on every route.
 */
#include "auth/signed_url.h"
#include "http/log.h"
#include "jobs/jobs.h"
#include "server/app.h"
#include "util/error.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXECUTE_MAX_BODY ((size_t)8 << 20)
#define LIST_DEFAULT 50
#define LIST_MAX 200
#define RESULT_URL_TTL_S 300

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
    fmugw_log_json(FMUGW_LOG_ERROR, "jobs error",
                   json_pack("{s:s,s:s,s:s}", "what", what, "error", fmugw_error_last(), "request_id",
                             http_request_id(req)));
    return http_problem(req, HTTP_PROBLEM_INTERNAL, "internal error");
}

static int problem_from(http_request *req, int rc, const char *what)
{
    if (rc == FMUGW_ENOTFOUND)
        return http_problem(req, HTTP_PROBLEM_NOT_FOUND, "no such job");
    http_problem_kind k = http_problem_from_error(rc);
    if (k == HTTP_PROBLEM_INTERNAL)
        return internal(req, what);
    return http_problem(req, k, "%s", fmugw_error_last());
}

static job_system *jobs_or_503(http_request *req, app *a)
{
    if (!a->jobs)
        http_problem(req, HTTP_PROBLEM_UNAVAILABLE, "the job system is not running");
    return a->jobs;
}

static json_t *field_error(const char *field, const char *message)
{
    return json_pack("{s:[{s:s,s:s}]}", "errors", "field", field, "message", message);
}

static const char *actor_of(const principal *who)
{
    return who->key_id[0] ? who->key_id : who->account_id;
}

/* ---- POST /fmu/execute ------------------------------------------------------ */

static int execute(http_request *req, void *ud)
{
    app *a = ud;
    const principal *who = who_or_401(req);
    json_t *body = NULL;
    job_answer ans;
    int rc;

    if (!who)
        return HTTP_STOP;
    job_system *js = jobs_or_503(req, a);
    if (!js)
        return HTTP_STOP;
    if ((rc = http_request_json(&body, req)) != 0)
        return rc;
    if (!json_is_object(body))
        return http_problem(req, HTTP_PROBLEM_BAD_REQUEST, "the body must be a JSON object");
    if ((rc = job_submit(&ans, js, who, body, http_request_header(req, "Idempotency-Key"))) != 0)
        return internal(req, "submit");
    if (ans.replayed)
        http_header_add(req, "Idempotent-Replayed", "true");
    const char *id = json_string_value(json_object_get(ans.body, "job_id"));
    if (ans.status == 202 && id)
        http_header_add(req, "Location", http_request_printf(req, "/fmu/status/%s", id));
    if (ans.status >= 400) {
        /* problem+json through the framework: same kind, detail and members */
        http_problem_kind kind = HTTP_PROBLEM_INTERNAL;
        for (int k = 0; k < HTTP_PROBLEM__COUNT; k++)
            if (http_problem_status((http_problem_kind)k) == ans.status)
                kind = (http_problem_kind)k;
        char *detail = http_request_strdup(req, json_string_value(json_object_get(ans.body, "detail")) ?: "");
        static const char *const std[] = { "type", "title", "status", "detail", "instance" };
        for (size_t i = 0; i < sizeof std / sizeof std[0]; i++)
            json_object_del(ans.body, std[i]);
        return http_problem_ext(req, kind, detail, ans.body);
    }
    return http_respond_json(req, ans.status, ans.body);
}

/* ---- GET /fmu/status/{job_id} and POST /fmu/cancel/{job_id} -------------------
 * A wait (a status long-poll, a cancel of a running job waiting for its
 * worker) parks the request on a job watch: no polling thread is held. */

#define CANCEL_WAIT_MS 10000

static int watch_wait(http_request *req, void *ud, int final)
{
    json_t *j = NULL;
    if (!job_watch_poll(&j, ud, final != 0))
        return 0;
    if (!j)
        return http_problem(req, HTTP_PROBLEM_NOT_FOUND, "no such job");
    http_respond_json(req, 200, j);
    return 1;
}

static void watch_free(void *p) { job_watch_free(p); }

/* Answers the job's status now, or parks until it leaves `known` (NULL:
 * now) for at most wait_ms. */
static int status_or_park(http_request *req, job_system *js, const principal *who, const char *known,
                          unsigned wait_ms, const char *what)
{
    job_watch *w = NULL;
    json_t *j = NULL;
    int rc = job_watch_open(&w, &j, js, who->account_id, who->tier, http_request_param(req, "job_id"), known,
                            wait_ms > 0);
    if (rc == FMUGW_ELIMIT) {
        http_header_add(req, "Retry-After", "1");
        return http_problem(req, HTTP_PROBLEM_RATE_LIMITED, "%s", fmugw_error_last());
    }
    if (rc != 0)
        return problem_from(req, rc, what);
    if (!w)
        return http_respond_json(req, 200, j);
    json_decref(j);
    return http_request_park(req, wait_ms, JOB_WATCH_RECHECK_MS, watch_wait, w, watch_free);
}

static int status(http_request *req, void *ud)
{
    app *a = ud;
    const principal *who = who_or_401(req);
    double wait = 0;

    if (!who)
        return HTTP_STOP;
    job_system *js = jobs_or_503(req, a);
    if (!js)
        return HTTP_STOP;
    const char *w = http_request_query(req, "wait");
    if (w) {
        char *end;
        errno = 0;
        wait = strtod(w, &end);
        if (errno || end == w || *end || !isfinite(wait) || wait < 0 || wait > JOB_WAIT_MAX_S)
            return http_problem_ext(req, HTTP_PROBLEM_BAD_REQUEST, "invalid wait",
                                    field_error("wait", "seconds, from 0 to 30"));
    }
    /* ?status= the state the client knows (default: the state now) */
    return status_or_park(req, js, who, http_request_query(req, "status"), (unsigned)(wait * 1000), "status");
}

static int cancel(http_request *req, void *ud)
{
    app *a = ud;
    const principal *who = who_or_401(req);
    json_t *j = NULL;
    int rc;

    if (!who)
        return HTTP_STOP;
    job_system *js = jobs_or_503(req, a);
    if (!js)
        return HTTP_STOP;
    if ((rc = job_cancel(&j, js, who->account_id, http_request_param(req, "job_id"))) != 0)
        return problem_from(req, rc, "cancel");
    const char *st = json_string_value(json_object_get(j, "status"));
    if (!st || strcmp(st, "running") != 0)
        return http_respond_json(req, 200, j);
    json_decref(j);
    /* the worker stops the sandbox and records the cancel: wait for it */
    return status_or_park(req, js, who, "running", CANCEL_WAIT_MS, "cancel");
}

/* ---- GET /jobs -------------------------------------------------------------------- */

static int list(http_request *req, void *ud)
{
    app *a = ud;
    const principal *who = who_or_401(req);
    json_t *j = NULL;
    long long limit = LIST_DEFAULT;
    int rc;

    if (!who)
        return HTTP_STOP;
    job_system *js = jobs_or_503(req, a);
    if (!js)
        return HTTP_STOP;
    const char *ls = http_request_query(req, "limit");
    if (ls) {
        char *end;
        errno = 0;
        limit = strtoll(ls, &end, 10);
        if (errno || *end || end == ls || limit < 1 || limit > LIST_MAX)
            return http_problem_ext(req, HTTP_PROBLEM_BAD_REQUEST, "invalid limit",
                                    field_error("limit", "an integer from 1 to 200"));
    }
    const char *state = http_request_query(req, "state");
    static const char *const states[] = { "queued", "running", "succeeded", "failed", "canceled", "timed_out" };
    if (state) {
        bool ok = false;
        for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
            ok |= !strcmp(state, states[i]);
        if (!ok)
            return http_problem_ext(req, HTTP_PROBLEM_BAD_REQUEST, "invalid state",
                                    field_error("state", "queued, running, succeeded, failed, canceled or timed_out"));
    }
    rc = job_list(&j, js, who->account_id, state, http_request_query(req, "fmu_id"), http_request_query(req, "cursor"),
                  (int)limit);
    if (rc == FMUGW_EINVALID)
        return http_problem_ext(req, HTTP_PROBLEM_BAD_REQUEST, "invalid cursor",
                                field_error("cursor", "use next_cursor from the previous page"));
    if (rc != 0)
        return problem_from(req, rc, "list");
    return http_respond_json(req, 200, j);
}

/* ---- results ----------------------------------------------------------------------- */

static void format_time(char *buf, size_t size, int64_t unix_s)
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int results_url(http_request *req, void *ud)
{
    app *a = ud;
    const principal *who = who_or_401(req);
    const char *id = http_request_param(req, "job_id");
    job_result_info info;
    char *url = NULL;
    int rc;

    if (!who)
        return HTTP_STOP;
    job_system *js = jobs_or_503(req, a);
    if (!js)
        return HTTP_STOP;
    if ((rc = job_result_get(&info, js, who->account_id, id)) != 0)
        return problem_from(req, rc, "result");
    unsigned ttl = a->cfg && a->cfg->url_ttl_s ? a->cfg->url_ttl_s : RESULT_URL_TTL_S;
    if (ttl > RESULT_URL_TTL_S)
        ttl = RESULT_URL_TTL_S;
    int64_t expires = (int64_t)time(NULL) + ttl;
    char path[128], when[40];
    snprintf(path, sizeof path, "/results/%s", id);
    if (signed_url_make_for_key(&url, a->url_key, sizeof a->url_key, "GET", path, who->account_id,
                                who->key_id[0] ? who->key_id : NULL, expires) != 0)
        return internal(req, "sign result URL");
    format_time(when, sizeof when, expires);
    rc = http_respond_json(req, 200,
                           json_pack("{s:s,s:s,s:I,s:I,s:s,s:s}", "url", url, "format", info.format, "rows",
                                     (json_int_t)info.rows, "size", (json_int_t)info.size, "sha256", info.sha256,
                                     "expires_at", when));
    free(url);
    return rc;
}

static int result_fetch_work(http_request *req, void *ud)
{
    app *a = ud;
    const char *id = http_request_param(req, "id");
    char *path = http_request_printf(req, "/results/%s", id);
    job_result_info info;
    FILE *f = NULL;
    int rc;

    if (!path)
        return internal(req, "out of memory");
    const char *account = NULL;
    if ((rc = app_signed_access(a, req, "GET", path, "result", &account)) != 0)
        return rc;
    job_system *js = jobs_or_503(req, a);
    if (!js)
        return HTTP_STOP;
    if ((rc = job_result_get(&info, js, account, id)) != 0)
        return problem_from(req, rc, "result");
    if ((rc = job_result_open(&f, js, &info)) != 0)
        return internal(req, "open result");
    http_header_add(req, "Cache-Control", "no-store");
    http_header_add(req, "X-Content-SHA256", info.sha256);
    http_header_add(req, "Content-Disposition",
                    http_request_printf(req, "attachment; filename=\"%s.%s\"", id, info.format));
    return http_respond_file(req, 200, !strcmp(info.format, "json") ? "application/json" : "text/csv; charset=utf-8", f,
                             info.size);
}

/* Decrypting the whole result first: not on a polling thread. */
static int result_fetch(http_request *req, void *ud)
{
    return http_request_offload(req, result_fetch_work, ud, NULL);
}

/* ---- DELETE /account/data ------------------------------------------------------ */

static int purge_work(http_request *req, void *ud)
{
    app *a = ud;
    const principal *who = who_or_401(req);
    json_t *summary = NULL;
    int rc;

    if (!who)
        return HTTP_STOP;
    job_system *js = jobs_or_503(req, a);
    if (!js)
        return HTTP_STOP;
    if ((rc = job_purge_account(&summary, js, who->account_id)) != 0)
        return internal(req, "purge account");
    app_audit(a, NULL, actor_of(who), "account.purge", who->account_id, json_deep_copy(summary));
    json_object_set_new(summary, "ledger_entries_kept", json_true());
    return http_respond_json(req, 200, summary);
}

/* Deletes every result and FMU blob of the account: not on a polling thread. */
static int purge(http_request *req, void *ud)
{
    return http_request_offload(req, purge_work, ud, NULL);
}

/* ---- routes --------------------------------------------------------------------- */

int app_routes_jobs(app *a, http_server *srv)
{
    const unsigned run = HTTP_ROUTE_NEEDS_AUTH | APP_ROUTE_SCOPE(SCOPE_JOBS_RUN);
    const unsigned wr = HTTP_ROUTE_NEEDS_AUTH | APP_ROUTE_SCOPE(SCOPE_FMU_WRITE);
    const http_route routes[] = {
        { .method = "POST", .pattern = "/fmu/execute", .handler = execute, .max_body = EXECUTE_MAX_BODY, .flags = run,
          .ud = a },
        { .method = "GET", .pattern = "/fmu/status/{job_id}", .handler = status, .flags = run, .ud = a },
        { .method = "POST", .pattern = "/fmu/cancel/{job_id}", .handler = cancel, .flags = run, .ud = a },
        { .method = "GET", .pattern = "/jobs", .handler = list, .flags = run, .ud = a },
        { .method = "GET", .pattern = "/fmu/results/{job_id}", .handler = results_url, .flags = run, .ud = a },
        { .method = "GET", .pattern = "/results/{id}", .handler = result_fetch, .ud = a },
        { .method = "DELETE", .pattern = "/account/data", .handler = purge, .flags = wr, .ud = a },
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rc = http_server_route(srv, &routes[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}
