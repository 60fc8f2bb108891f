/*
 * test_http_server.c - the HTTP framework (src/http) against a real
 * libmicrohttpd server on 127.0.0.1 (port 0) in this process, with libcurl
 * and raw sockets as clients: routing, problems, body caps, JSON caps,
 * streamed uploads and downloads, request ids, the access log, metrics,
 * health routes, graceful shutdown and the slow-client timeout.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http/health.h"
#include "http/log.h"
#include "http/metrics.h"
#include "http/server.h"
#include "util/error.h"

/* ---- a small libcurl client ------------------------------------------- */

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static size_t buf_write(char *data, size_t size, size_t n, void *ud)
{
    buf *b = ud;
    size_t len = size * n;
    if (b->len + len + 1 > b->cap) {
        b->cap = (b->len + len + 1) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
    b->p[b->len] = '\0';
    return len;
}

typedef struct response {
    long status;
    buf body, headers;
} response;

static void response_clear(response *r)
{
    free(r->body.p);
    free(r->headers.p);
    memset(r, 0, sizeof *r);
}

/* The value of response header `name` (first match), copied into out. */
static int response_header(const response *r, const char *name, char *out, size_t size)
{
    size_t nl = strlen(name);
    const char *p = r->headers.p;
    while (p && *p) {
        const char *eol = strstr(p, "\r\n");
        if (eol == NULL)
            break;
        if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            snprintf(out, size, "%.*s", (int)(eol - v), v);
            return 1;
        }
        p = eol + 2;
    }
    return 0;
}

static unsigned port;

/* Sends one request; `hdrs` is a NULL-terminated list of "Name: value". */
static void request(response *r, const char *method, const char *path, const char *const *hdrs,
                    const char *body, size_t body_len)
{
    char url[512];
    CURL *c = curl_easy_init();
    struct curl_slist *list = NULL;
    memset(r, 0, sizeof *r);
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, buf_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, buf_write);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    for (size_t i = 0; hdrs && hdrs[i]; i++)
        list = curl_slist_append(list, hdrs[i]);
    list = curl_slist_append(list, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    CURLcode cc = curl_easy_perform(c);
    if (cc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    else
        r->status = -(long)cc;
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
}

static json_t *response_json(const response *r)
{
    json_error_t e;
    return r->body.p ? json_loads(r->body.p, 0, &e) : NULL;
}

/* Checks an RFC 9457 body: content type, type URI, status, instance. */
static void assert_problem(const response *r, int status, const char *slug)
{
    char ct[128], rid[128], type[200];
    assert_int_equal(r->status, status);
    assert_true(response_header(r, "Content-Type", ct, sizeof ct));
    assert_string_equal(ct, "application/problem+json");
    assert_true(response_header(r, "X-Request-Id", rid, sizeof rid));
    json_t *j = response_json(r);
    assert_non_null(j);
    snprintf(type, sizeof type, "https://fmu-gateway.dev/problems/%s", slug);
    assert_string_equal(json_string_value(json_object_get(j, "type")), type);
    assert_int_equal(json_integer_value(json_object_get(j, "status")), status);
    assert_non_null(json_string_value(json_object_get(j, "title")));
    assert_string_equal(json_string_value(json_object_get(j, "instance")), rid);
    json_decref(j);
}

/* ---- the routes under test --------------------------------------------- */

static int get_fmu(http_request *req, void *ud)
{
    (void)ud;
    const char *q = http_request_query(req, "fields");
    return http_respond_json(req, 200, json_pack("{s:s,s:s,s:s?}", "route", "get", "id",
                                                 http_request_param(req, "id"), "fields", q));
}

static int get_download(http_request *req, void *ud)
{
    (void)ud;
    return http_respond_json(req, 200, json_pack("{s:s,s:s}", "route", "download", "id",
                                                 http_request_param(req, "id")));
}

static int post_upload_literal(http_request *req, void *ud)
{
    (void)ud;
    return http_respond_json(req, 201, json_pack("{s:s}", "route", "upload"));
}

static int post_echo(http_request *req, void *ud)
{
    size_t len;
    const char *body = http_request_body(req, &len);
    (void)ud;
    return http_respond_bytes(req, 200, "application/octet-stream", body ? body : "", len);
}

static int post_json(http_request *req, void *ud)
{
    json_t *j;
    int rc;
    (void)ud;
    if ((rc = http_request_json(&j, req)) != 0)
        return rc;
    return http_respond_json(req, 200, json_pack("{s:O}", "got", j));
}

static int get_noresponse(http_request *req, void *ud)
{
    (void)req;
    (void)ud;
    return 0;
}

static int get_invalid(http_request *req, void *ud)
{
    (void)ud;
    return http_problem_ext(req, HTTP_PROBLEM_UNPROCESSABLE, "two fields are wrong",
                            json_pack("{s:[{s:s,s:s}]}", "errors", "field", "size", "message",
                                      "must be positive"));
}

/* The before hook: HTTP_ROUTE_NEEDS_AUTH routes need "X-API-Key: good". */
static atomic_int before_calls;
static int before(http_request *req, void *ud)
{
    (void)ud;
    atomic_fetch_add(&before_calls, 1);
    if (!(http_request_route_flags(req) & HTTP_ROUTE_NEEDS_AUTH))
        return 0;
    const char *key = http_request_header(req, "x-api-key");
    if (key == NULL || strcmp(key, "good") != 0) {
        http_header_add(req, "WWW-Authenticate", "Bearer");
        return http_problem(req, HTTP_PROBLEM_UNAUTHORIZED, "an API key is required");
    }
    http_request_set_user(req, strdup("account-7"), free);
    return 0;
}

static int get_private(http_request *req, void *ud)
{
    (void)ud;
    return http_respond_json(req, 200, json_pack("{s:s}", "account", (char *)http_request_user(req)));
}

/* Streamed upload: counts bytes, checks the pattern, records the largest
 * chunk; the handler reports. */
typedef struct upload_state {
    atomic_ullong bytes;
    atomic_ullong max_chunk;
    atomic_int bad_pattern;
    atomic_int chunks_seen;
    atomic_int body_was_buffered;
} upload_state;
static upload_state up;

static unsigned char pattern_at(uint64_t pos) { return (unsigned char)((pos * 31 + 7) % 251); }

static int upload_start(http_request *req, void *ud)
{
    (void)ud;
    const char *v = http_request_header(req, "X-Upload-Token");
    if (v == NULL || strcmp(v, "ok") != 0)
        return http_problem(req, HTTP_PROBLEM_FORBIDDEN, "bad upload token");
    return 0;
}

static atomic_int fail_upload;
static int upload_chunk(http_request *req, const char *data, size_t len, void *ud)
{
    (void)ud;
    if (atomic_load(&fail_upload)) {
        atomic_fetch_add(&up.chunks_seen, 1);
        return http_problem(req, HTTP_PROBLEM_CONFLICT, "storage refused the chunk");
    }
    uint64_t pos = atomic_load(&up.bytes);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)data[i] != pattern_at(pos + i))
            atomic_store(&up.bad_pattern, 1);
    atomic_fetch_add(&up.bytes, len);
    atomic_fetch_add(&up.chunks_seen, 1);
    if (len > atomic_load(&up.max_chunk))
        atomic_store(&up.max_chunk, len);
    return 0;
}

static int upload_done(http_request *req, void *ud)
{
    size_t len;
    (void)ud;
    if (http_request_body(req, &len) != NULL)
        atomic_store(&up.body_was_buffered, 1);
    return http_respond_json(req, 200, json_pack("{s:I}", "bytes", (json_int_t)atomic_load(&up.bytes)));
}

/* Streamed download of `n` pattern bytes, size unknown (chunked). */
static ssize_t pattern_read(void *ud, uint64_t pos, char *out, size_t max)
{
    uint64_t total = *(uint64_t *)ud;
    if (pos >= total)
        return 0;
    size_t n = total - pos < max ? (size_t)(total - pos) : max;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)pattern_at(pos + i);
    return (ssize_t)n;
}

static int get_stream(http_request *req, void *ud)
{
    (void)ud;
    uint64_t *n = malloc(sizeof *n);
    *n = 10u * 1024 * 1024;
    return http_respond_stream(req, 200, "application/octet-stream", -1, pattern_read, n, free);
}

static char file_path[256];
static int get_file(http_request *req, void *ud)
{
    (void)ud;
    FILE *f = fopen(file_path, "rb");
    if (f == NULL)
        return http_problem(req, HTTP_PROBLEM_NOT_FOUND, "no file");
    return http_respond_file(req, 200, "application/octet-stream", f, -1);
}

static atomic_int slow_ms = 1000;
static atomic_int slow_entered;
static int get_slow(http_request *req, void *ud)
{
    (void)ud;
    atomic_store(&slow_entered, 1);
    usleep((useconds_t)atomic_load(&slow_ms) * 1000);
    return http_respond_json(req, 200, json_pack("{s:b}", "slow", 1));
}

static atomic_int ready_flag = 1;
static int ready(void *ud, char *why, size_t n)
{
    (void)ud;
    if (atomic_load(&ready_flag))
        return 0;
    snprintf(why, n, "database unreachable");
    return 1;
}

static char openapi_path[256];
static http_server *srv;

static http_server *make_server(const http_server_options *base)
{
    http_server_options o = *base;
    http_server *s = NULL;
    o.listen = "127.0.0.1:0";
    assert_int_equal(http_server_new(&s, &o), 0);
    const http_route routes[] = {
        { .method = "GET", .pattern = "/fmu/{id}", .handler = get_fmu },
        { .method = "GET", .pattern = "/fmu/{id}/download", .handler = get_download },
        { .method = "POST", .pattern = "/fmu/upload", .handler = post_upload_literal },
        { .method = "POST", .pattern = "/fmu/{id}", .handler = get_fmu },
        { .method = "POST", .pattern = "/echo", .handler = post_echo, .max_body = 1024 },
        { .method = "POST", .pattern = "/json", .handler = post_json },
        { .method = "GET", .pattern = "/none", .handler = get_noresponse },
        { .method = "GET", .pattern = "/invalid", .handler = get_invalid },
        { .method = "GET", .pattern = "/private", .handler = get_private, .flags = HTTP_ROUTE_NEEDS_AUTH },
        { .method = "PUT", .pattern = "/upload/{id}", .handler = upload_done, .start = upload_start,
          .on_body = upload_chunk, .flags = HTTP_ROUTE_NEEDS_AUTH, .name = "upload" },
        { .method = "GET", .pattern = "/stream", .handler = get_stream },
        { .method = "GET", .pattern = "/file", .handler = get_file },
        { .method = "GET", .pattern = "/slow", .handler = get_slow },
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        assert_int_equal(http_server_route(s, &routes[i]), 0);
    http_health_options ho = { .openapi_path = openapi_path, .ready = ready };
    assert_int_equal(http_health_routes_add(s, &ho), 0);
    assert_int_equal(http_server_start(s), 0);
    assert_true(http_server_port(s) > 0);
    return s;
}

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(openapi_path, sizeof openapi_path, "/tmp/fmugw-openapi-%d.yaml", (int)getpid());
    FILE *f = fopen(openapi_path, "w");
    fputs("openapi: 3.1.0\ninfo: {title: test}\n", f);
    fclose(f);
    http_server_options o = { .before = before, .threads = 4, .timeout_s = 10 };
    srv = make_server(&o);
    port = http_server_port(srv);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    http_server_free(srv);
    unlink(openapi_path);
    curl_global_cleanup();
    return 0;
}

/* ---- tests -------------------------------------------------------------- */

static void test_routing_and_params(void **state)
{
    response r;
    (void)state;
    request(&r, "GET", "/fmu/abc123?fields=summary", NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    json_t *j = response_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "route")), "get");
    assert_string_equal(json_string_value(json_object_get(j, "id")), "abc123");
    assert_string_equal(json_string_value(json_object_get(j, "fields")), "summary");
    json_decref(j);
    response_clear(&r);

    request(&r, "GET", "/fmu/xyz/download", NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    j = response_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "route")), "download");
    assert_string_equal(json_string_value(json_object_get(j, "id")), "xyz");
    json_decref(j);
    response_clear(&r);

    /* The literal segment wins over the parameter for the same method. */
    request(&r, "POST", "/fmu/upload", NULL, "", 0);
    assert_int_equal(r.status, 201);
    response_clear(&r);

    /* HEAD is served by the GET route, without a body. */
    request(&r, "HEAD", "/fmu/abc", NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 0);
    response_clear(&r);

    /* Parameters never match an empty segment or extra segments. */
    request(&r, "GET", "/fmu/", NULL, NULL, 0);
    assert_problem(&r, 404, "not-found");
    response_clear(&r);
    request(&r, "GET", "/fmu/a/b/c", NULL, NULL, 0);
    assert_problem(&r, 404, "not-found");
    response_clear(&r);
}

static void test_not_found_and_method_not_allowed(void **state)
{
    response r;
    char allow[128];
    (void)state;
    request(&r, "GET", "/nowhere", NULL, NULL, 0);
    assert_problem(&r, 404, "not-found");
    json_t *j = response_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "title")), "Not Found");
    assert_non_null(strstr(json_string_value(json_object_get(j, "detail")), "/nowhere"));
    json_decref(j);
    response_clear(&r);

    request(&r, "DELETE", "/fmu/abc", NULL, NULL, 0);
    assert_problem(&r, 405, "method-not-allowed");
    assert_true(response_header(&r, "Allow", allow, sizeof allow));
    assert_non_null(strstr(allow, "GET"));
    assert_non_null(strstr(allow, "POST"));
    response_clear(&r);
}

/* A 404 or 401 decided before any body keeps the connection alive. */
static void test_keep_alive_after_problem(void **state)
{
    char url[128];
    long code = 0, connects = -1;
    buf b = { 0 };
    (void)state;
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, buf_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    const char *const paths[] = { "/nowhere", "/private", "/fmu/1" };
    for (int i = 0; i < 3; i++) {
        snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, paths[i]);
        curl_easy_setopt(c, CURLOPT_URL, url);
        assert_int_equal(curl_easy_perform(c), CURLE_OK);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
        assert_int_equal(code, i == 0 ? 404 : i == 1 ? 401 : 200);
        assert_int_equal(connects, i == 0 ? 1 : 0); /* reused after the first */
    }
    curl_easy_cleanup(c);
    free(b.p);
}

static void test_handler_errors(void **state)
{
    response r;
    (void)state;
    /* A handler that sets no response gives a 500 problem, not a hang. */
    request(&r, "GET", "/none", NULL, NULL, 0);
    assert_problem(&r, 500, "internal");
    response_clear(&r);

    /* Extension members are merged into the problem. */
    request(&r, "GET", "/invalid", NULL, NULL, 0);
    assert_problem(&r, 422, "unprocessable");
    json_t *j = response_json(&r);
    json_t *e = json_array_get(json_object_get(j, "errors"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "field")), "size");
    json_decref(j);
    response_clear(&r);

    assert_int_equal(http_problem_from_error(FMUGW_ENOTFOUND), HTTP_PROBLEM_NOT_FOUND);
    assert_int_equal(http_problem_from_error(FMUGW_ELIMIT), HTTP_PROBLEM_RATE_LIMITED);
    assert_int_equal(http_problem_status(HTTP_PROBLEM_INSUFFICIENT_CREDITS), 402);
    assert_string_equal(http_problem_slug(HTTP_PROBLEM_CONFLICT), "conflict");
}

static void test_body_cap(void **state)
{
    response r;
    char big[2000];
    (void)state;
    memset(big, 'x', sizeof big);
    request(&r, "POST", "/echo", NULL, big, 1000);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 1000);
    response_clear(&r);

    /* Over the cap with a Content-Length: refused before the body. */
    request(&r, "POST", "/echo", NULL, big, sizeof big);
    assert_problem(&r, 413, "payload-too-large");
    response_clear(&r);

    /* Over the cap without a length (chunked): refused mid-body. */
    const char *const chunked[] = { "Transfer-Encoding: chunked", NULL };
    request(&r, "POST", "/echo", chunked, big, sizeof big);
    assert_problem(&r, 413, "payload-too-large");
    response_clear(&r);
}

static void test_header_cap(void **state)
{
    response r;
    (void)state;
    /* The default connection memory is 64 KiB: 100 KiB of headers cannot fit. */
    size_t n = 100 * 1024;
    char *h = malloc(n + 16);
    strcpy(h, "X-Big: ");
    memset(h + 7, 'a', n);
    h[7 + n] = '\0';
    const char *const hdrs[] = { h, NULL };
    request(&r, "GET", "/fmu/abc", hdrs, NULL, 0);
    assert_true(r.status == 431 || r.status == 413);
    response_clear(&r);
    free(h);
    /* The server is still fine afterwards. */
    request(&r, "GET", "/healthz", NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    response_clear(&r);
}

static void test_json_body(void **state)
{
    response r;
    char deep[200], ok[100];
    (void)state;
    const char *const json_ct[] = { "Content-Type: application/json", NULL };
    request(&r, "POST", "/json", json_ct, "{\"a\": [1, 2]}", 13);
    assert_int_equal(r.status, 200);
    json_t *j = response_json(&r);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(json_object_get(j, "got"), "a"), 1)), 2);
    json_decref(j);
    response_clear(&r);

    request(&r, "POST", "/json", json_ct, "{\"a\": ", 6);
    assert_problem(&r, 400, "bad-request");
    response_clear(&r);

    request(&r, "POST", "/json", json_ct, "", 0);
    assert_problem(&r, 400, "bad-request");
    response_clear(&r);

    /* Duplicate keys are refused. */
    request(&r, "POST", "/json", json_ct, "{\"a\":1,\"a\":2}", 13);
    assert_problem(&r, 400, "bad-request");
    response_clear(&r);

    /* 40 levels is over the default cap of 32; 20 is fine. Brackets inside
     * strings do not count. */
    memset(deep, '[', 40);
    memset(deep + 40, ']', 40);
    request(&r, "POST", "/json", json_ct, deep, 80);
    assert_problem(&r, 400, "bad-request");
    j = response_json(&r);
    assert_non_null(strstr(json_string_value(json_object_get(j, "detail")), "deeper"));
    json_decref(j);
    response_clear(&r);
    memset(ok, '[', 20);
    memcpy(ok + 20, "\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"", 39);
    memset(ok + 59, ']', 20);
    request(&r, "POST", "/json", json_ct, ok, 79);
    assert_int_equal(r.status, 200);
    response_clear(&r);

    const char *const xml[] = { "Content-Type: application/xml", NULL };
    request(&r, "POST", "/json", xml, "{}", 2);
    assert_problem(&r, 415, "unsupported-media-type");
    response_clear(&r);
    const char *const problem_ct[] = { "Content-Type: application/merge-patch+json", NULL };
    request(&r, "POST", "/json", problem_ct, "{}", 2);
    assert_int_equal(r.status, 200);
    response_clear(&r);
}

static void test_before_hook(void **state)
{
    response r;
    (void)state;
    request(&r, "GET", "/private", NULL, NULL, 0);
    assert_problem(&r, 401, "unauthorized");
    char www[64];
    assert_true(response_header(&r, "WWW-Authenticate", www, sizeof www));
    response_clear(&r);

    const char *const good[] = { "X-API-Key: good", NULL };
    request(&r, "GET", "/private", good, NULL, 0);
    assert_int_equal(r.status, 200);
    json_t *j = response_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "account")), "account-7");
    json_decref(j);
    response_clear(&r);

    /* A rejected upload never reaches the body callback. */
    atomic_store(&up.chunks_seen, 0);
    char body[5000] = { 0 };
    request(&r, "PUT", "/upload/1", NULL, body, sizeof body);
    assert_problem(&r, 401, "unauthorized");
    response_clear(&r);
    const char *const notoken[] = { "X-API-Key: good", "X-Upload-Token: no", NULL };
    request(&r, "PUT", "/upload/1", notoken, body, sizeof body);
    assert_problem(&r, 403, "forbidden");
    response_clear(&r);
    assert_int_equal(atomic_load(&up.chunks_seen), 0);
}

/* curl read callback producing `total` pattern bytes on the fly. */
typedef struct gen {
    uint64_t pos, total;
} gen;

static size_t gen_read(char *out, size_t size, size_t n, void *ud)
{
    gen *g = ud;
    size_t max = size * n;
    size_t k = g->total - g->pos < max ? (size_t)(g->total - g->pos) : max;
    for (size_t i = 0; i < k; i++)
        out[i] = (char)pattern_at(g->pos + i);
    g->pos += k;
    return k;
}

static long max_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void test_streamed_upload(void **state)
{
    (void)state;
    const uint64_t total = 50u * 1024 * 1024;
    gen g = { 0, total };
    buf body = { 0 };
    char url[128];
    long status = 0;

    memset(&up, 0, sizeof up);
    long rss0 = max_rss_kb();
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "X-API-Key: good");
    h = curl_slist_append(h, "X-Upload-Token: ok");
    snprintf(url, sizeof url, "http://127.0.0.1:%u/upload/42", port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, gen_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &g);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)total);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, buf_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    long rss1 = max_rss_kb();

    assert_int_equal(status, 200);
    assert_int_equal(atomic_load(&up.bytes), total);
    assert_int_equal(atomic_load(&up.bad_pattern), 0);
    assert_int_equal(atomic_load(&up.body_was_buffered), 0);
    assert_true(atomic_load(&up.chunks_seen) > 100);
    /* Chunks are bounded by the connection memory (64 KiB). */
    assert_true(atomic_load(&up.max_chunk) <= 64 * 1024);
    /* Neither side held the 50 MB: peak RSS grew by far less. */
    assert_true(rss1 - rss0 < 24 * 1024);
    json_error_t e;
    json_t *j = json_loads(body.p, 0, &e);
    assert_int_equal(json_integer_value(json_object_get(j, "bytes")), (json_int_t)total);
    json_decref(j);
    free(body.p);
}

/* A body callback that fails mid-upload gets its problem sent, once. */
static void test_streamed_upload_rejected_mid_body(void **state)
{
    response r;
    (void)state;
    memset(&up, 0, sizeof up);
    atomic_store(&fail_upload, 1);
    size_t n = 300 * 1024;
    char *body = calloc(1, n);
    const char *const hdrs[] = { "X-API-Key: good", "X-Upload-Token: ok", NULL };
    request(&r, "PUT", "/upload/9", hdrs, body, n);
    atomic_store(&fail_upload, 0);
    assert_problem(&r, 409, "conflict");
    assert_int_equal(atomic_load(&up.chunks_seen), 1);
    response_clear(&r);
    free(body);
    /* The server keeps serving. */
    request(&r, "GET", "/healthz", NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    response_clear(&r);
}

static void test_streamed_download(void **state)
{
    response r;
    (void)state;
    request(&r, "GET", "/stream", NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 10u * 1024 * 1024);
    for (size_t i = 0; i < r.body.len; i++)
        if ((unsigned char)r.body.p[i] != pattern_at(i))
            fail_msg("byte %zu differs", i);
    response_clear(&r);

    /* A FILE* from its current position... the whole file here. */
    snprintf(file_path, sizeof file_path, "/tmp/fmugw-dl-%d.bin", (int)getpid());
    FILE *f = fopen(file_path, "wb");
    for (size_t i = 0; i < 300000; i++)
        fputc((int)pattern_at(i), f);
    fclose(f);
    request(&r, "GET", "/file", NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    char cl[32];
    assert_true(response_header(&r, "Content-Length", cl, sizeof cl));
    assert_string_equal(cl, "300000");
    assert_int_equal(r.body.len, 300000);
    for (size_t i = 0; i < r.body.len; i++)
        if ((unsigned char)r.body.p[i] != pattern_at(i))
            fail_msg("byte %zu differs", i);
    response_clear(&r);
    unlink(file_path);
}

static int is_hex32(const char *s)
{
    if (strlen(s) != 32)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

static void test_request_id(void **state)
{
    response r;
    char rid[128], rid2[128];
    (void)state;
    const char *const given[] = { "X-Request-Id: client-abc.123", NULL };
    request(&r, "GET", "/fmu/1", given, NULL, 0);
    assert_true(response_header(&r, "X-Request-Id", rid, sizeof rid));
    assert_string_equal(rid, "client-abc.123");
    response_clear(&r);

    request(&r, "GET", "/fmu/1", NULL, NULL, 0);
    assert_true(response_header(&r, "X-Request-Id", rid, sizeof rid));
    assert_true(is_hex32(rid));
    response_clear(&r);
    request(&r, "GET", "/fmu/1", NULL, NULL, 0);
    assert_true(response_header(&r, "X-Request-Id", rid2, sizeof rid2));
    assert_true(is_hex32(rid2));
    assert_string_not_equal(rid, rid2);
    response_clear(&r);

    /* Unsafe or oversized ids are replaced. */
    const char *const bad[] = { "X-Request-Id: a\"b<script>", NULL };
    request(&r, "GET", "/fmu/1", bad, NULL, 0);
    assert_true(response_header(&r, "X-Request-Id", rid, sizeof rid));
    assert_true(is_hex32(rid));
    response_clear(&r);
    char longid[120] = "X-Request-Id: ";
    memset(longid + 14, 'a', 80);
    const char *const toolong[] = { longid, NULL };
    request(&r, "GET", "/fmu/1", toolong, NULL, 0);
    assert_true(response_header(&r, "X-Request-Id", rid, sizeof rid));
    assert_true(is_hex32(rid));
    response_clear(&r);
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return strdup("");
    buf b = { 0 };
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        buf_write(tmp, 1, n, &b);
    fclose(f);
    return b.p ? b.p : strdup("");
}

static void test_access_log_has_no_secrets(void **state)
{
    response r;
    char path[256];
    (void)state;
    snprintf(path, sizeof path, "/tmp/fmugw-log-%d.txt", (int)getpid());
    int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2); /* the log goes to stderr: capture it */
    const char *const hdrs[] = { "X-API-Key: fmugw_SECRETKEY0123456789", "Authorization: Bearer eyJSECRETTOKEN.x.y",
                                 "X-Request-Id: log-test-1", NULL };
    request(&r, "GET", "/fmu/77?sig=SECRETSIG", hdrs, NULL, 0);
    assert_int_equal(r.status, 200);
    response_clear(&r);
    const char *const hdrs2[] = { "X-API-Key: fmugw_SECRETKEY0123456789", "X-Request-Id: log-test-2", NULL };
    request(&r, "GET", "/private", hdrs2, NULL, 0);
    response_clear(&r);
    /* The line is written when the request completes: wait for it. */
    char *log = NULL;
    for (int i = 0; i < 200; i++) {
        free(log);
        log = read_all(path);
        if (strstr(log, "log-test-1") && strstr(log, "log-test-2"))
            break;
        usleep(10000);
    }
    dup2(saved, 2);
    close(saved);
    close(fd);
    unlink(path);

    assert_non_null(strstr(log, "log-test-1"));
    assert_null(strstr(log, "SECRET"));
    assert_null(strstr(log, "eyJ"));
    /* Each line is one JSON object with the documented fields. */
    char *line = strstr(log, "{");
    char *save = NULL;
    int seen = 0;
    for (char *l = strtok_r(line, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        json_error_t e;
        json_t *j = json_loads(l, 0, &e);
        assert_non_null(j);
        const char *id = json_string_value(json_object_get(j, "request_id"));
        if (id && strcmp(id, "log-test-1") == 0) {
            seen = 1;
            assert_string_equal(json_string_value(json_object_get(j, "level")), "info");
            assert_string_equal(json_string_value(json_object_get(j, "msg")), "request");
            assert_string_equal(json_string_value(json_object_get(j, "method")), "GET");
            assert_string_equal(json_string_value(json_object_get(j, "path")), "/fmu/77");
            assert_string_equal(json_string_value(json_object_get(j, "route")), "/fmu/{id}");
            assert_int_equal(json_integer_value(json_object_get(j, "status")), 200);
            assert_true(json_integer_value(json_object_get(j, "bytes")) > 0);
            assert_true(json_is_number(json_object_get(j, "duration_ms")));
            assert_non_null(json_string_value(json_object_get(j, "ts")));
        }
        json_decref(j);
    }
    assert_true(seen);
    free(log);
}

static void test_metrics(void **state)
{
    response r;
    double before_n = 0, after_n = 0;
    (void)state;
    const char *const labels[] = { "method", "GET", "route", "/fmu/{id}/download", "status", "200", NULL };
    metrics_value(&before_n, http_server_metrics(srv), "fmugw_http_requests_total", labels);
    for (int i = 0; i < 5; i++) {
        request(&r, "GET", "/fmu/m/download", NULL, NULL, 0);
        assert_int_equal(r.status, 200);
        response_clear(&r);
    }
    /* Counted at completion: give the last one a moment. */
    for (int i = 0; i < 100; i++) {
        metrics_value(&after_n, http_server_metrics(srv), "fmugw_http_requests_total", labels);
        if (after_n - before_n >= 5)
            break;
        usleep(10000);
    }
    assert_true(after_n - before_n == 5);

    request(&r, "GET", "/metrics", NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    char ct[128], line[256];
    assert_true(response_header(&r, "Content-Type", ct, sizeof ct));
    assert_non_null(strstr(ct, "text/plain"));
    assert_non_null(strstr(ct, "version=0.0.4"));
    snprintf(line, sizeof line,
             "fmugw_http_requests_total{method=\"GET\",route=\"/fmu/{id}/download\",status=\"200\"} %.0f\n",
             after_n);
    assert_non_null(strstr(r.body.p, line));
    assert_non_null(strstr(r.body.p, "# TYPE fmugw_http_request_duration_seconds histogram"));
    assert_non_null(strstr(r.body.p, "fmugw_http_request_duration_seconds_bucket{route=\"/fmu/{id}/download\",le=\"+Inf\"}"));
    assert_non_null(strstr(r.body.p, "fmugw_http_requests_in_flight"));
    /* Unmatched paths share one label: no cardinality explosion. */
    assert_null(strstr(r.body.p, "nowhere"));
    response_clear(&r);
}

static void test_metrics_registry(void **state)
{
    metrics *m;
    char *text;
    size_t len;
    double v;
    (void)state;
    const double b[] = { 0.1, 1 };
    assert_int_equal(metrics_new(&m), 0);
    assert_int_equal(metrics_register(m, "jobs_total", "Jobs.", METRICS_COUNTER, NULL, 0), 0);
    assert_int_equal(metrics_register(m, "jobs_total", "Jobs.", METRICS_COUNTER, NULL, 0), 0);
    assert_int_equal(metrics_register(m, "jobs_total", "Jobs.", METRICS_GAUGE, NULL, 0), FMUGW_EEXISTS);
    assert_int_equal(metrics_register(m, "9bad", "x", METRICS_GAUGE, NULL, 0), FMUGW_EINVALID);
    assert_int_equal(metrics_register(m, "lat_seconds", "Latency \\ help.\nline", METRICS_HISTOGRAM, b, 2), 0);
    assert_int_equal(metrics_counter_add(m, "nope", NULL, 1), FMUGW_ENOTFOUND);
    assert_int_equal(metrics_counter_add(m, "jobs_total", NULL, -1), FMUGW_EINVALID);
    const char *const l[] = { "state", "a\"b\\c\nd", NULL };
    assert_int_equal(metrics_counter_add(m, "jobs_total", l, 2), 0);
    assert_int_equal(metrics_counter_add(m, "jobs_total", l, 0.5), 0);
    assert_int_equal(metrics_value(&v, m, "jobs_total", l), 0);
    assert_true(v == 2.5);
    assert_int_equal(metrics_histogram_observe(m, "lat_seconds", NULL, 0.05), 0);
    assert_int_equal(metrics_histogram_observe(m, "lat_seconds", NULL, 0.5), 0);
    assert_int_equal(metrics_histogram_observe(m, "lat_seconds", NULL, 5), 0);
    assert_int_equal(metrics_render(&text, &len, m), 0);
    assert_int_equal(strlen(text), len);
    assert_non_null(strstr(text, "# TYPE jobs_total counter\n"));
    assert_non_null(strstr(text, "jobs_total{state=\"a\\\"b\\\\c\\nd\"} 2.5\n"));
    assert_non_null(strstr(text, "# HELP lat_seconds Latency \\\\ help.\\nline\n"));
    assert_non_null(strstr(text, "lat_seconds_bucket{le=\"0.10000000000000001\"} 1\n") ?
                    strstr(text, "lat_seconds_bucket{le=\"0.10000000000000001\"} 1\n") :
                    strstr(text, "lat_seconds_bucket{le=\"0.1\"} 1\n"));
    assert_non_null(strstr(text, "lat_seconds_bucket{le=\"1\"} 2\n"));
    assert_non_null(strstr(text, "lat_seconds_bucket{le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(text, "lat_seconds_count 3\n"));
    assert_non_null(strstr(text, "lat_seconds_sum 5.5"));
    free(text);
    metrics_free(m);
    metrics_free(NULL);
}

/* Many threads hammer one counter: no update is lost. */
static metrics *shared_m;
static void *hammer(void *arg)
{
    (void)arg;
    const char *const l[] = { "k", "v", NULL };
    for (int i = 0; i < 10000; i++)
        metrics_counter_add(shared_m, "c_total", l, 1);
    return NULL;
}

static void test_metrics_threads(void **state)
{
    pthread_t t[4];
    double v;
    (void)state;
    assert_int_equal(metrics_new(&shared_m), 0);
    assert_int_equal(metrics_register(shared_m, "c_total", "c", METRICS_COUNTER, NULL, 0), 0);
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, hammer, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    const char *const l[] = { "k", "v", NULL };
    assert_int_equal(metrics_value(&v, shared_m, "c_total", l), 0);
    assert_true(v == 40000);
    metrics_free(shared_m);
}

static void test_health_routes(void **state)
{
    response r;
    char ct[128];
    (void)state;
    request(&r, "GET", "/healthz", NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.p, "{\"status\":\"ok\"}");
    response_clear(&r);

    request(&r, "GET", "/readyz", NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.p, "{\"status\":\"ready\"}");
    response_clear(&r);
    atomic_store(&ready_flag, 0);
    request(&r, "GET", "/readyz", NULL, NULL, 0);
    assert_problem(&r, 503, "unavailable");
    assert_non_null(strstr(r.body.p, "database unreachable"));
    response_clear(&r);
    atomic_store(&ready_flag, 1);

    request(&r, "GET", "/openapi.yaml", NULL, NULL, 0);
    assert_int_equal(r.status, 200);
    assert_true(response_header(&r, "Content-Type", ct, sizeof ct));
    assert_string_equal(ct, "application/yaml");
    assert_string_equal(r.body.p, "openapi: 3.1.0\ninfo: {title: test}\n");
    response_clear(&r);

    char moved[300];
    snprintf(moved, sizeof moved, "%s.moved", openapi_path);
    rename(openapi_path, moved);
    request(&r, "GET", "/openapi.yaml", NULL, NULL, 0);
    assert_problem(&r, 404, "not-found");
    response_clear(&r);
    rename(moved, openapi_path);
}

/* ---- shutdown and timeouts: servers of their own ------------------------ */

typedef struct slow_call {
    unsigned port;
    long status;
} slow_call;

static void *slow_client(void *arg)
{
    slow_call *sc = arg;
    char url[128];
    CURL *c = curl_easy_init();
    buf b = { 0 };
    snprintf(url, sizeof url, "http://127.0.0.1:%u/slow", sc->port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, buf_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &sc->status);
    else
        sc->status = -1;
    curl_easy_cleanup(c);
    free(b.p);
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int connect_port(unsigned p)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)p) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void test_graceful_shutdown(void **state)
{
    (void)state;
    http_server_options o = { .threads = 2 };
    http_server *s = make_server(&o);
    slow_call sc = { http_server_port(s), 0 };
    pthread_t t;

    atomic_store(&slow_ms, 1000);
    atomic_store(&slow_entered, 0);
    pthread_create(&t, NULL, slow_client, &sc);
    for (int i = 0; i < 500 && !atomic_load(&slow_entered); i++)
        usleep(2000);
    assert_true(atomic_load(&slow_entered));
    assert_int_equal(http_server_in_flight(s), 1);
    double t0 = now_s();
    assert_int_equal(http_server_shutdown(s, 5000), 0);
    double waited = now_s() - t0;
    pthread_join(t, NULL);
    /* The in-flight request finished normally; shutdown waited for it. */
    assert_int_equal(sc.status, 200);
    assert_true(waited > 0.5);
    assert_int_equal(http_server_in_flight(s), 0);
    /* Nothing listens any more. */
    assert_int_equal(connect_port(sc.port), -1);
    assert_int_equal(http_server_shutdown(s, 1000), 0); /* idempotent */
    http_server_free(s);
}

static void test_shutdown_deadline(void **state)
{
    (void)state;
    http_server_options o = { .threads = 2 };
    http_server *s = make_server(&o);
    slow_call sc = { http_server_port(s), 0 };
    pthread_t t;

    atomic_store(&slow_ms, 1500);
    atomic_store(&slow_entered, 0);
    pthread_create(&t, NULL, slow_client, &sc);
    for (int i = 0; i < 500 && !atomic_load(&slow_entered); i++)
        usleep(2000);
    double t0 = now_s();
    assert_int_equal(http_server_shutdown(s, 100), FMUGW_ELIMIT);
    assert_true(now_s() - t0 < 5);
    pthread_join(t, NULL);
    http_server_free(s);
    atomic_store(&slow_ms, 1000);
}

static void test_slow_client_cut_off(void **state)
{
    (void)state;
    http_server_options o = { .threads = 2, .timeout_s = 1 };
    http_server *s = make_server(&o);
    int fd = connect_port(http_server_port(s));
    assert_true(fd >= 0);
    const char *partial = "GET /healthz HTTP/1.1\r\nHost: x\r\n"; /* never finished */
    assert_int_equal(write(fd, partial, strlen(partial)), (ssize_t)strlen(partial));
    struct timeval tv = { 10, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    double t0 = now_s();
    char b[256];
    ssize_t n = read(fd, b, sizeof b);
    double took = now_s() - t0;
    /* The server closed the connection (EOF or reset) well before our 10 s. */
    assert_true(n <= 0);
    assert_true(took < 5);
    assert_true(took > 0.5);
    close(fd);

    /* A normal client on the same server is unaffected. */
    fd = connect_port(http_server_port(s));
    const char *full = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert_int_equal(write(fd, full, strlen(full)), (ssize_t)strlen(full));
    n = read(fd, b, sizeof b - 1);
    assert_true(n > 12);
    b[n] = '\0';
    assert_non_null(strstr(b, "200"));
    close(fd);
    http_server_free(s);
}

static void test_bad_options(void **state)
{
    http_server *s = NULL;
    (void)state;
    http_server_options o = { .listen = "no-port-here" };
    assert_int_equal(http_server_new(&s, &o), FMUGW_EINVALID);
    assert_null(s);
    o.listen = "127.0.0.1:99999";
    assert_int_equal(http_server_new(&s, &o), FMUGW_EINVALID);
    o.listen = "127.0.0.1:0";
    assert_int_equal(http_server_new(&s, &o), 0);
    http_route bad = { .method = "GET", .pattern = "/a/{x", .handler = get_fmu };
    assert_int_equal(http_server_route(s, &bad), FMUGW_EINVALID);
    http_route good = { .method = "GET", .pattern = "/a/{x}", .handler = get_fmu };
    assert_int_equal(http_server_route(s, &good), 0);
    assert_int_equal(http_server_route(s, &good), FMUGW_EEXISTS);
    http_server_free(s);
    http_server_free(NULL);

    /* A port that is taken cannot be bound. */
    char taken[64];
    snprintf(taken, sizeof taken, "127.0.0.1:%u", port);
    o.listen = taken;
    assert_int_equal(http_server_new(&s, &o), 0);
    assert_int_equal(http_server_start(s), FMUGW_EIO);
    http_server_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routing_and_params),
        cmocka_unit_test(test_not_found_and_method_not_allowed),
        cmocka_unit_test(test_keep_alive_after_problem),
        cmocka_unit_test(test_handler_errors),
        cmocka_unit_test(test_body_cap),
        cmocka_unit_test(test_header_cap),
        cmocka_unit_test(test_json_body),
        cmocka_unit_test(test_before_hook),
        cmocka_unit_test(test_streamed_upload),
        cmocka_unit_test(test_streamed_upload_rejected_mid_body),
        cmocka_unit_test(test_streamed_download),
        cmocka_unit_test(test_request_id),
        cmocka_unit_test(test_access_log_has_no_secrets),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_metrics_registry),
        cmocka_unit_test(test_metrics_threads),
        cmocka_unit_test(test_health_routes),
        cmocka_unit_test(test_graceful_shutdown),
        cmocka_unit_test(test_shutdown_deadline),
        cmocka_unit_test(test_slow_client_cut_off),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
