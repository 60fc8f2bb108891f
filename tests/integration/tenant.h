/*
 * tenant.h - tenants of a running fmugwd for integration tests, on top of
 * harness.h: an account made with `fmugwd admin account create`, its key
 * and token, authenticated requests, job submission and waiting, sample
 * ids and uploads, files and the daemon's database. Header-only (static
 * functions), included once per test.
 *
 *   tn_cred b;
 *   tn_account(&g, &b, "pro");                  // key + token
 *   json_t *j = tn_get_json(&g, &b, "/account", 200);
 *   char *id = tn_submit_ok(&g, &b, "{\"fmu_id\":\"...\"}");
 *   json_t *s = tn_wait_job(&g, &b, id, 60);    // long-polls until finished
 */
#ifndef FMUGW_TEST_TENANT_H
#define FMUGW_TEST_TENANT_H

#include "harness.h"

#include "store/db.h"

#include <stdbool.h>
#include <sys/time.h>

typedef struct {
    char key[128];
    char account[128];
    char token[4096];
    char email[128];
} tn_cred;

static unsigned tn_seq;

static __attribute__((unused)) double tn_now_s(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

/* The whole file at `path` (malloc'd, NUL-terminated, its length in *len); NULL on failure. */
static __attribute__((unused)) char *tn_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) {
        b[n] = '\0';
        *len = (size_t)n;
    }
    return b;
}

/* The daemon's database (sqlite://<data dir>/fmugw.db), opened; NULL on failure. */
static __attribute__((unused)) db_conn *tn_open_db(const gw *g)
{
    char url[800];
    db_conn *c = NULL;
    snprintf(url, sizeof url, "sqlite://%s/fmugw.db", g->data_dir);
    return db_open(&c, url) == 0 ? c : NULL;
}

/* `fmugwd admin --data-dir <g's> ARGS`: its stdout into out; 0 on exit 0. */
static __attribute__((unused)) int tn_admin(const gw *g, const char *args, char *out, size_t size)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' admin --data-dir '%s' %s", getenv("FMUGWD"), g->data_dir, args);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    return pclose(p) == 0 ? 0 : -1;
}

/* The admin account printed at first start, with a token. */
static __attribute__((unused)) int tn_admin_cred(const gw *g, tn_cred *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->key, sizeof c->key, "%s", g->admin_key);
    snprintf(c->account, sizeof c->account, "%s", g->admin_account);
    return gw_token(g, c->key, c->token, sizeof c->token);
}

/* A new account of `tier` (email `email`, or a fresh one when NULL) with a key and a token. */
static __attribute__((unused)) int tn_account_email(const gw *g, tn_cred *c, const char *tier, const char *email)
{
    char args[512], out[4096] = "";
    memset(c, 0, sizeof *c);
    if (email)
        snprintf(c->email, sizeof c->email, "%s", email);
    else
        snprintf(c->email, sizeof c->email, "t%u-%d@example.com", tn_seq++, (int)getpid());
    snprintf(args, sizeof args, "account create --email %s --tier %s --json", c->email, tier);
    if (tn_admin(g, args, out, sizeof out) != 0)
        return -1;
    json_t *j = json_loads(out, 0, NULL);
    if (!j)
        return -1;
    snprintf(c->key, sizeof c->key, "%s", json_string_value(json_object_get(j, "api_key")));
    snprintf(c->account, sizeof c->account, "%s", json_string_value(json_object_get(j, "account_id")));
    json_decref(j);
    return gw_token(g, c->key, c->token, sizeof c->token);
}

/* A new account of `tier` with a fresh email, a key and a token. */
static __attribute__((unused)) int tn_account(const gw *g, tn_cred *c, const char *tier)
{
    return tn_account_email(g, c, tier, NULL);
}

/* An authenticated request; `extra` is one more header line or NULL. 0 or -1. */
static __attribute__((unused)) int tn_api(const gw *g, const tn_cred *c, gw_response *r, const char *method,
                                          const char *path, const char *body, const char *extra)
{
    char k[256], t[4200];
    snprintf(k, sizeof k, "X-API-Key: %s", c->key);
    snprintf(t, sizeof t, "Authorization: Bearer %s", c->token);
    const char *hs[5] = { k, t, "Content-Type: application/json", extra, NULL };
    return gw_request(g, r, method, path, body, body ? strlen(body) : 0, hs);
}

/* GET as `c`: the status (-1 without an answer), the JSON body (or NULL) in *out when out. */
static __attribute__((unused)) long tn_get(const gw *g, const tn_cred *c, const char *path, json_t **out)
{
    gw_response r;
    if (out)
        *out = NULL;
    if (tn_api(g, c, &r, "GET", path, NULL, NULL) != 0)
        return -1;
    long st = r.status;
    if (out)
        *out = gw_json(&r);
    gw_response_free(&r);
    return st;
}

/* GET as JSON; NULL (and the answer on stderr) unless the status is `want`. */
static __attribute__((unused)) json_t *tn_get_json(const gw *g, const tn_cred *c, const char *path, long want)
{
    gw_response r;
    json_t *j = NULL;
    if (tn_api(g, c, &r, "GET", path, NULL, NULL) == 0 && r.status == want)
        j = gw_json(&r);
    else
        fprintf(stderr, "GET %s: %ld %s (want %ld)\n", path, r.status, r.body ? r.body : "", want);
    gw_response_free(&r);
    return j;
}

/* Submits a job; its id (malloc'd) or NULL (the answer on stderr). */
static __attribute__((unused)) char *tn_submit_ok(const gw *g, const tn_cred *c, const char *body)
{
    gw_response r;
    char *id = NULL;
    if (tn_api(g, c, &r, "POST", "/fmu/execute", body, NULL) == 0 && r.status == 202) {
        json_t *j = gw_json(&r);
        const char *s = json_string_value(json_object_get(j, "job_id"));
        id = s ? strdup(s) : NULL;
        json_decref(j);
    } else {
        fprintf(stderr, "submit %s: %ld %s\n", body, r.status, r.body ? r.body : "");
    }
    gw_response_free(&r);
    return id;
}

static __attribute__((unused)) bool tn_finished(const char *s)
{
    return s && strcmp(s, "queued") && strcmp(s, "running");
}

/* The job's status word into out (16 bytes); "" on failure. */
static __attribute__((unused)) const char *tn_job_status(const gw *g, const tn_cred *c, const char *id, char out[16])
{
    char path[256];
    snprintf(path, sizeof path, "/fmu/status/%s", id);
    json_t *j = tn_get_json(g, c, path, 200);
    snprintf(out, 16, "%s", j ? json_string_value(json_object_get(j, "status")) ?: "" : "");
    json_decref(j);
    return out;
}

/* Long-polls until the job is finished (at most max_s); its status JSON or NULL. */
static __attribute__((unused)) json_t *tn_wait_job(const gw *g, const tn_cred *c, const char *id, double max_s)
{
    double t0 = tn_now_s();
    char path[256];
    snprintf(path, sizeof path, "/fmu/status/%s?wait=10", id);
    while (tn_now_s() - t0 < max_s) {
        json_t *j = tn_get_json(g, c, path, 200);
        if (!j || tn_finished(json_string_value(json_object_get(j, "status"))))
            return j;
        json_decref(j);
    }
    fprintf(stderr, "job %s not finished after %.0f s\n", id, max_s);
    return NULL;
}

/* The id of the public sample "<model> (FMI <ver>)" as seen by `c`; "" if none. */
static __attribute__((unused)) void tn_sample_id(const gw *g, const tn_cred *c, char out[64], const char *model,
                                                 const char *ver)
{
    char want[128];
    snprintf(want, sizeof want, "%s (FMI %s)", model, ver);
    out[0] = '\0';
    json_t *j = tn_get_json(g, c, "/fmu?limit=200", 200);
    if (j)
        gw_item_id_named(out, j, want);
    json_decref(j);
}

/* Uploads the FMU file at `path` as `c` (POST /fmu); its id (or fmu_id) into out ("" on failure). */
static __attribute__((unused)) void tn_upload(const gw *g, const tn_cred *c, const char *path, const char *name,
                                              char out[64])
{
    out[0] = '\0';
    size_t len = 0;
    char *bytes = tn_slurp(path, &len);
    char k[256], t[4200], p[512];
    snprintf(k, sizeof k, "X-API-Key: %s", c->key);
    snprintf(t, sizeof t, "Authorization: Bearer %s", c->token);
    const char *hs[] = { k, t, "Content-Type: application/octet-stream", NULL };
    snprintf(p, sizeof p, "/fmu?name=%s", name);
    gw_response r;
    memset(&r, 0, sizeof r);
    if (bytes && gw_request(g, &r, "POST", p, bytes, len, hs) == 0 && (r.status == 201 || r.status == 200)) {
        json_t *j = gw_json(&r);
        const char *id = json_string_value(json_object_get(j, "id"));
        if (!id)
            id = json_string_value(json_object_get(j, "fmu_id"));
        snprintf(out, 64, "%s", id ? id : "");
        json_decref(j);
    } else {
        fprintf(stderr, "upload %s: %ld %s\n", name, r.status, r.body ? r.body : "");
    }
    gw_response_free(&r);
    free(bytes);
}

#endif
