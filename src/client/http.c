/*
 * http.c - the client handle and its one request path: base URL and key
 * resolution, the access token (fetched, renewed before expiry, renewed
 * once on a "token expired" 401), retries with exponential backoff and
 * jitter (connection errors, 429 honouring Retry-After, 502/503/504 for
 * idempotent or keyed requests), problem+json mapped to error codes, and
 * the optional contract log (FMUGW_CONTRACT_LOG: one JSON line per
 * exchange, for checking requests and answers against api/openapi.yaml).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "util/crypto.h"

double client__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

char *client__escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *o = malloc(strlen(s) * 3 + 1), *p = o;
    if (!o)
        return NULL;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (isalnum(ch) || strchr("-._~", ch)) {
            *p++ = (char)ch;
        } else {
            *p++ = '%';
            *p++ = hex[ch >> 4];
            *p++ = hex[ch & 15];
        }
    }
    *p = '\0';
    return o;
}

static void once_global_init(void)
{
    static int done;
    if (!__atomic_exchange_n(&done, 1, __ATOMIC_SEQ_CST))
        curl_global_init(CURL_GLOBAL_DEFAULT);
}

FMUGW_EXTERN(int) fmugw_client_new(fmugw_client **out, const fmugw_client_options *opts)
{
    fmugw_client_options defaults = FMUGW_CLIENT_OPTIONS_INIT;
    char *file_base = NULL, *file_key = NULL;
    fmugw_client *c = NULL;
    int rc = 0;
    *out = NULL;
    if (!opts)
        opts = &defaults;
    if (opts->version != FMUGW_CLIENT_OPTIONS_VERSION)
        return client__error(FMUGW_CLIENT_EUSAGE, "fmugw_client_options version %d is not supported", opts->version);
    const char *profile = opts->profile;
    if (!profile || !*profile)
        profile = getenv("FMUGW_PROFILE");
    int profile_named = profile && *profile;
    const char *base = opts->base_url, *key = opts->api_key;
    if (!base || !*base)
        base = getenv("FMUGW_BASE_URL");
    if (!key || !*key)
        key = getenv("FMUGW_API_KEY");
    if (!base || !*base || !key || !*key || profile_named) {
        rc = fmugw_config_read(&file_base, &file_key, opts->config_path, profile);
        if (rc == FMUGW_CLIENT_ENOTFOUND) {
            if (profile_named || !(base && *base) || !(key && *key)) {
                char msg[1024];
                snprintf(msg, sizeof msg, "%s", fmugw_client_error_last());
                rc = client__error(FMUGW_CLIENT_ECONFIG,
                                   "not configured (%s): run 'fmugw configure' or set FMUGW_BASE_URL and FMUGW_API_KEY",
                                   msg);
                goto out;
            }
            rc = 0;
        } else if (rc) {
            goto out;
        }
        if (!base || !*base)
            base = file_base;
        if (!key || !*key)
            key = file_key;
    }
    if (!base || !*base || !key || !*key) {
        rc = client__error(FMUGW_CLIENT_ECONFIG, "the profile has no %s: run 'fmugw configure'",
                           !base || !*base ? "base_url" : "api_key");
        goto out;
    }
    if (strncmp(base, "http://", 7) && strncmp(base, "https://", 8)) {
        rc = client__error(FMUGW_CLIENT_ECONFIG, "the base URL \"%s\" must start with http:// or https://", base);
        goto out;
    }
    once_global_init();
    c = calloc(1, sizeof *c);
    if (!c || !(c->base_url = strdup(base)) || !(c->api_key = strdup(key))) {
        rc = client__error(FMUGW_CLIENT_ERROR, "out of memory");
        goto out;
    }
    size_t n = strlen(c->base_url);
    while (n > 0 && c->base_url[n - 1] == '/')
        c->base_url[--n] = '\0';
    char ua[128];
    snprintf(ua, sizeof ua, "fmugw-c/%s", FMUGW_VERSION);
    c->user_agent = strdup(opts->user_agent ? opts->user_agent : ua);
    c->curl = curl_easy_init();
    if (!c->user_agent || !c->curl) {
        rc = client__error(FMUGW_CLIENT_ERROR, "out of memory");
        goto out;
    }
    c->max_retries = opts->max_retries < 0 ? 4 : opts->max_retries;
    c->backoff_ms = opts->backoff_ms > 0 ? opts->backoff_ms : 200;
    c->timeout_s = opts->timeout_s > 0 ? opts->timeout_s : 120;
    c->proactive_refresh = opts->proactive_refresh != 0;
    const char *log = getenv("FMUGW_CONTRACT_LOG");
    if (log && *log)
        c->contract_log = fopen(log, "ae"); /* O_APPEND */
    *out = c;
    c = NULL;
out:
    fmugw_client_free(c);
    free(file_base);
    free(file_key);
    return rc;
}

FMUGW_EXTERN(void) fmugw_client_free(fmugw_client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    if (c->contract_log)
        fclose(c->contract_log);
    if (c->api_key)
        memset(c->api_key, 0, strlen(c->api_key));
    if (c->token)
        memset(c->token, 0, strlen(c->token));
    free(c->base_url);
    free(c->api_key);
    free(c->token);
    free(c->user_agent);
    free(c);
}

FMUGW_EXTERN(const char *) fmugw_client_base_url(const fmugw_client *c)
{
    return c->base_url;
}

FMUGW_EXTERN(void) fmugw_client_get_stats(const fmugw_client *c, fmugw_client_stats *out)
{
    *out = c->stats;
}

void client__resp_free(client__resp *r)
{
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* ---- one attempt ---------------------------------------------------------- */

typedef struct {
    client__resp *r;
    FILE *sink;
    CURL *curl;
    size_t cap;
    int overflow;
    int write_error;
} sink_state;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    sink_state *s = ud;
    size_t len = size * nmemb;
    long status = 0;
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
    if (s->sink && status >= 200 && status < 300) {
        if (fwrite(data, 1, len, s->sink) != len) {
            s->write_error = 1;
            return 0;
        }
        return len;
    }
    size_t cap = status >= 200 && status < 300 ? s->cap : CLIENT_MAX_ERROR_BODY;
    if (s->r->len + len > cap) {
        s->overflow = 1;
        return 0;
    }
    char *p = realloc(s->r->body, s->r->len + len + 1);
    if (!p)
        return 0;
    memcpy(p + s->r->len, data, len);
    s->r->body = p;
    s->r->len += len;
    p[s->r->len] = '\0';
    return len;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    client__resp *r = ud;
    size_t len = size * nmemb;
    if (len > 12 && !strncasecmp(data, "Retry-After:", 12)) {
        r->retry_after = strtol(data + 12, NULL, 10);
    } else if (len > 13 && !strncasecmp(data, "Content-Type:", 13)) {
        const char *v = data + 13;
        while (*v == ' ')
            v++;
        size_t n = strcspn(v, "\r\n;");
        if (n >= sizeof r->content_type)
            n = sizeof r->content_type - 1;
        memcpy(r->content_type, v, n);
        r->content_type[n] = '\0';
    }
    return len;
}

typedef struct {
    fmugw_progress_cb cb;
    void *ud;
    int aborted;
} progress_state;

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    progress_state *p = ud;
    if (p->cb && ultotal > 0 && p->cb(p->ud, (unsigned long long)ulnow, (unsigned long long)ultotal)) {
        p->aborted = 1;
        return 1;
    }
    return 0;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *ud)
{
    FILE *f = ud;
    size_t n = fread(buf, size, nmemb, f);
    if (n == 0 && ferror(f))
        return CURL_READFUNC_ABORT;
    return n;
}

/* Performs one attempt. Returns the CURLcode; r filled. */
static CURLcode attempt(fmugw_client *c, client__resp *r, const client__req *q, const char *url, int with_auth,
                        int *local_error, progress_state *prog)
{
    CURL *h = c->curl;
    struct curl_slist *hl = NULL;
    char hdr[4096];
    client__resp_free(r);
    r->retry_after = -1;
    r->body = calloc(1, 1);
    sink_state ss = {.r = r, .sink = q->sink, .curl = h, .cap = CLIENT_MAX_BODY};
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    long timeout = c->timeout_s + ((q->flags & REQ_LONG) ? q->wait_s : 0);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &ss);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    if (with_auth) {
        snprintf(hdr, sizeof hdr, "X-API-Key: %s", c->api_key);
        hl = curl_slist_append(hl, hdr);
        if (c->token) {
            snprintf(hdr, sizeof hdr, "Authorization: Bearer %s", c->token);
            hl = curl_slist_append(hl, hdr);
        }
    }
    if (q->idempotency_key) {
        snprintf(hdr, sizeof hdr, "Idempotency-Key: %s", q->idempotency_key);
        hl = curl_slist_append(hl, hdr);
    }
    hl = curl_slist_append(hl, "Accept: application/json, application/problem+json, text/csv;q=0.9, */*;q=0.5");
    if (q->upload) {
        rewind(q->upload);
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, q->upload);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)q->upload_size);
        hl = curl_slist_append(hl, "Content-Type: application/octet-stream");
        hl = curl_slist_append(hl, "Expect:");
        if (strcmp(q->method, "PUT"))
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
    } else if (q->body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
        snprintf(hdr, sizeof hdr, "Content-Type: %s", q->content_type ? q->content_type : "application/json");
        hl = curl_slist_append(hl, hdr);
        if (strcmp(q->method, "POST"))
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
    } else if (!strcmp(q->method, "POST")) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
    } else if (strcmp(q->method, "GET")) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
    }
    if (q->progress) {
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, prog);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    if (q->sink) {
        rewind(q->sink);
        if (ftruncate(fileno(q->sink), 0) != 0)
            *local_error = 1;
    }
    c->stats.requests++;
    CURLcode cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    if (ss.write_error)
        *local_error = 1;
    if (ss.overflow)
        *local_error = 2;
    curl_slist_free_all(hl);
    /* the header list is gone: drop curl's pointer to it */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    return cc;
}

/* ---- contract log -------------------------------------------------------- */

/* One JSON line per answered request, in the format of
 * tests/integration/harness.h (method, path without the query, status,
 * content type, the body when it is JSON) so that tools/check-responses.mjs
 * checks the client's exchanges against api/openapi.yaml too. Written with
 * one O_APPEND write: parallel processes do not interleave. */
static void contract_log(fmugw_client *c, const client__req *q, const client__resp *r)
{
    if (!c->contract_log || r->status == 0)
        return;
    const char *url = q->path, *path = url, *scheme = strstr(url, "://");
    if (scheme) {
        path = strchr(scheme + 3, '/');
        if (!path)
            path = "/";
    }
    char *ctype = NULL;
    curl_easy_getinfo(c->curl, CURLINFO_CONTENT_TYPE, &ctype);
    json_t *line = json_pack("{s:s, s:s#, s:I, s:s}", "method", q->method, "path", path, (int)strcspn(path, "?#"),
                             "status", (json_int_t)r->status, "content_type", ctype ? ctype : "");
    if (!line)
        return;
    json_object_set_new(line, "test", json_string(program_invocation_short_name));
    int sunk = q->sink && r->status >= 200 && r->status < 300;
    if (!sunk && ctype && (!strncmp(ctype, "application/json", 16) || strstr(ctype, "+json"))) {
        json_t *body = json_loadb(r->body ? r->body : "", r->len, JSON_DECODE_ANY, NULL);
        /* a debugging log must not become a place where secrets rest */
        static const char *const secret[] = {"access_token", "api_key"};
        for (size_t i = 0; json_is_object(body) && i < 2; i++)
            if (json_is_string(json_object_get(body, secret[i])))
                json_object_set_new(body, secret[i], json_string("<redacted>"));
        if (body)
            json_object_set_new(line, "body", body);
        else
            json_object_set_new(line, "body_text", json_stringn(r->body ? r->body : "", r->len < 2048 ? r->len : 2048));
    }
    char *text = json_dumps(line, JSON_COMPACT);
    json_decref(line);
    if (!text)
        return;
    size_t n = strlen(text);
    text[n] = '\n'; /* reuse the NUL slot */
    if (write(fileno(c->contract_log), text, n + 1) != (ssize_t)(n + 1))
        fprintf(stderr, "libfmugw: short write to FMUGW_CONTRACT_LOG\n");
    free(text);
}

/* ---- errors ----------------------------------------------------------------- */

static int code_of_slug(const char *slug, long status)
{
    static const struct { const char *slug; int code; } map[] = {
        {"unauthorized", FMUGW_CLIENT_EAUTH},
        {"forbidden", FMUGW_CLIENT_EFORBIDDEN},
        {"not-found", FMUGW_CLIENT_ENOTFOUND},
        {"insufficient-credits", FMUGW_CLIENT_ECREDITS},
        {"rate-limited", FMUGW_CLIENT_ERATELIMITED},
        {"conflict", FMUGW_CLIENT_ECONFLICT},
        {"bad-request", FMUGW_CLIENT_EINVALID},
        {"unprocessable", FMUGW_CLIENT_EINVALID},
        {"payload-too-large", FMUGW_CLIENT_EINVALID},
        {"unsupported-media-type", FMUGW_CLIENT_EINVALID},
        {"method-not-allowed", FMUGW_CLIENT_EINVALID},
        {"internal", FMUGW_CLIENT_ESERVER},
        {"unavailable", FMUGW_CLIENT_ESERVER},
    };
    for (size_t i = 0; slug && i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(slug, map[i].slug))
            return map[i].code;
    switch (status) {
    case 401: return FMUGW_CLIENT_EAUTH;
    case 402: return FMUGW_CLIENT_ECREDITS;
    case 403: return FMUGW_CLIENT_EFORBIDDEN;
    case 404: return FMUGW_CLIENT_ENOTFOUND;
    case 409: return FMUGW_CLIENT_ECONFLICT;
    case 429: return FMUGW_CLIENT_ERATELIMITED;
    }
    if (status >= 400 && status < 500)
        return FMUGW_CLIENT_EINVALID;
    return FMUGW_CLIENT_ESERVER;
}

/* Maps a non-2xx answer to an error code with the problem's words. */
static int problem_error(const client__req *q, const client__resp *r)
{
    json_t *p = json_loadb(r->body ? r->body : "", r->len, 0, NULL);
    const char *type = p ? json_string_value(json_object_get(p, "type")) : NULL;
    const char *slug = type ? strrchr(type, '/') : NULL;
    slug = slug ? slug + 1 : type;
    const char *title = p ? json_string_value(json_object_get(p, "title")) : NULL;
    const char *detail = p ? json_string_value(json_object_get(p, "detail")) : NULL;
    char fields[1024] = "";
    size_t used = 0;
    json_t *errs = p ? json_object_get(p, "errors") : NULL, *e;
    size_t i;
    json_array_foreach(errs, i, e) {
        const char *f = json_string_value(json_object_get(e, "field"));
        const char *m = json_string_value(json_object_get(e, "message"));
        if (used < sizeof fields)
            used += (size_t)snprintf(fields + used, sizeof fields - used, "; %s%s%s", f ? f : "", f ? ": " : "",
                                     m ? m : "");
    }
    int code = code_of_slug(slug, r->status);
    char where[300];
    const char *path = q->path;
    const char *qm = strchr(path, '?');
    /* Never echo a signed URL's query (its signature) into messages. */
    snprintf(where, sizeof where, "%s %.*s", q->method, qm ? (int)(qm - path) : (int)strlen(path), path);
    client__error_http(code, (int)r->status, slug ? slug : "", "%s (HTTP %ld, %s)%s%s%s", title ? title : "error",
                       r->status, where, detail ? ": " : "", detail ? detail : "", fields);
    json_decref(p);
    return code;
}

/* ---- tokens ----------------------------------------------------------------- */

static int fetch_token(fmugw_client *c)
{
    client__req q = {.method = "POST", .path = "/auth/token", .flags = REQ_NOAUTH | REQ_IDEMPOTENT};
    client__resp r = {0};
    /* /auth/token wants the key and no bearer: send it as a raw request */
    free(c->token);
    c->token = NULL;
    q.flags = REQ_IDEMPOTENT; /* with_auth, but no token: only X-API-Key goes */
    c->stats.token_fetches++;
    int rc = client__send(c, &r, &q);
    json_t *j = NULL;
    if (rc)
        goto out;
    j = json_loadb(r.body, r.len, 0, NULL);
    const char *tok = json_string_value(json_object_get(j, "access_token"));
    json_int_t ttl = json_integer_value(json_object_get(j, "expires_in"));
    if (!tok || ttl <= 0) {
        rc = client__error(FMUGW_CLIENT_ESERVER, "POST /auth/token: no access_token in the answer");
        goto out;
    }
    c->token = strdup(tok);
    if (!c->token) {
        rc = client__error(FMUGW_CLIENT_ERROR, "out of memory");
        goto out;
    }
    double margin = (double)ttl / 5.0;
    c->token_margin = margin > 30.0 ? 30.0 : margin;
    c->token_expiry = client__now() + (double)ttl;
out:
    json_decref(j);
    client__resp_free(&r);
    return rc;
}

static int token_fresh(const fmugw_client *c)
{
    if (!c->token)
        return 0;
    return !c->proactive_refresh || client__now() < c->token_expiry - c->token_margin;
}

FMUGW_EXTERN(int) fmugw_client_authenticate(fmugw_client *c)
{
    return token_fresh(c) ? 0 : fetch_token(c);
}

/* ---- the request loop -------------------------------------------------------- */

static int retryable_curl(CURLcode cc, int *sent)
{
    switch (cc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
        *sent = 0;
        return 1;
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        *sent = 1;
        return 1;
    default:
        *sent = 1;
        return 0;
    }
}

static void backoff(const fmugw_client *c, int attempt_no, long retry_after)
{
    double ms;
    if (retry_after >= 0) {
        ms = (double)(retry_after > 60 ? 60 : retry_after) * 1000.0;
    } else {
        ms = (double)c->backoff_ms * pow(2.0, attempt_no);
        if (ms > 10000)
            ms = 10000;
        unsigned char rb[2] = {0, 0};
        crypto_random_bytes(rb, sizeof rb);
        ms *= 0.75 + 0.5 * ((double)(rb[0] << 8 | rb[1]) / 65535.0); /* +-25 % jitter */
    }
    struct timespec ts = {(time_t)(ms / 1000.0), (long)(fmod(ms, 1000.0) * 1e6)};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

int client__send(fmugw_client *c, client__resp *r, const client__req *q)
{
    char url[8192];
    int is_auth_call = !strcmp(q->path, "/auth/token");
    int with_auth = !(q->flags & REQ_NOAUTH);
    int refreshed = 0, rc = 0;
    memset(r, 0, sizeof *r);
    if (!strncmp(q->path, "http://", 7) || !strncmp(q->path, "https://", 8))
        snprintf(url, sizeof url, "%s", q->path);
    else
        snprintf(url, sizeof url, "%s%s", c->base_url, q->path);
    progress_state prog = {.cb = q->progress, .ud = q->progress_ud};
    for (int attempt_no = 0;; attempt_no++) {
        if (with_auth && !is_auth_call && !token_fresh(c)) {
            if ((rc = fetch_token(c)) != 0)
                return rc;
        }
        int local_error = 0;
        CURLcode cc = attempt(c, r, q, url, with_auth, &local_error, &prog);
        if (prog.aborted)
            return client__error(FMUGW_CLIENT_ERROR, "%s %s: aborted by the progress callback", q->method, q->path);
        if (local_error == 1)
            return client__error(FMUGW_CLIENT_ERROR, "%s %s: cannot write the answer to the file", q->method, q->path);
        if (local_error == 2)
            return client__error(FMUGW_CLIENT_ESERVER, "%s %s: the answer is larger than the client accepts", q->method, q->path);
        int can_retry = attempt_no < c->max_retries;
        int keyed = (q->flags & REQ_IDEMPOTENT) || q->idempotency_key;
        if (cc != CURLE_OK) {
            int sent;
            int retry = retryable_curl(cc, &sent);
            if (retry && can_retry && (!sent || keyed)) {
                c->stats.retries++;
                backoff(c, attempt_no, -1);
                continue;
            }
            char where[300];
            const char *qm = strchr(url, '?');
            snprintf(where, sizeof where, "%.*s", qm ? (int)(qm - url) : (int)strlen(url), url);
            rc = client__error(FMUGW_CLIENT_ENETWORK, "%s %s: %s", q->method, where, curl_easy_strerror(cc));
            contract_log(c, q, r);
            return rc;
        }
        contract_log(c, q, r);
        if (r->status >= 200 && r->status < 300)
            return 0;
        if (r->status == 401 && with_auth && !is_auth_call && !refreshed && r->body && strstr(r->body, "expired")) {
            /* The token ran out in flight (or the clocks disagree): renew once. */
            refreshed = 1;
            c->stats.expired_401++;
            free(c->token);
            c->token = NULL;
            continue;
        }
        if (can_retry && (r->status == 429 || (keyed && (r->status == 502 || r->status == 503 || r->status == 504)))) {
            c->stats.retries++;
            backoff(c, attempt_no, r->retry_after);
            continue;
        }
        return problem_error(q, r);
    }
}

int client__json(fmugw_client *c, json_t **out, const char *method, const char *path, const json_t *body, int flags)
{
    char *text = NULL;
    client__resp r = {0};
    int rc = 0;
    if (out)
        *out = NULL;
    if (body && !(text = json_dumps(body, JSON_COMPACT)))
        return client__error(FMUGW_CLIENT_ERROR, "out of memory");
    client__req q = {.method = method, .path = path, .body = text, .body_len = text ? strlen(text) : 0,
                     .flags = flags};
    if (!strcmp(method, "GET") || !strcmp(method, "DELETE") || !strcmp(method, "PUT"))
        q.flags |= REQ_IDEMPOTENT;
    if ((rc = client__send(c, &r, &q)) != 0)
        goto out;
    if (out && r.len) {
        json_error_t err;
        *out = json_loadb(r.body, r.len, 0, &err);
        if (!*out)
            rc = client__error(FMUGW_CLIENT_ESERVER, "%s %s: the answer is not JSON (%s)", method, path, err.text);
    } else if (out) {
        *out = json_object();
    }
out:
    free(text);
    client__resp_free(&r);
    return rc;
}

int client__text(fmugw_client *c, char **out, const char *method, const char *path, int flags)
{
    client__resp r = {0};
    *out = NULL;
    client__req q = {.method = method, .path = path, .flags = flags | (!strcmp(method, "GET") ? REQ_IDEMPOTENT : 0)};
    int rc = client__send(c, &r, &q);
    if (rc == 0) {
        *out = r.body;
        r.body = NULL;
    }
    client__resp_free(&r);
    return rc;
}
