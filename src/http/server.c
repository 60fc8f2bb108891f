/*
 * server.c - the HTTP server framework on libmicrohttpd (see server.h):
 * daemon setup and graceful shutdown, the router, the per-request context
 * and its arena, body buffering/streaming, responses and problems, request
 * ids, the access log and the request metrics. Resource handlers live in
 * their own files (health.c, later fmu.c ...).
 */
#include "http/server_internal.h"
#include "http/conn_guard.h"
#include "http/defer.h"
#include "http/log.h"
#include "util/error.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_SEGMENTS 32
#define STREAM_BLOCK (64 * 1024)
/* After a mid-body rejection, read and drop at most this much more body
 * before closing the connection without an answer. */
#define MAX_DISCARD (4u * 1024 * 1024)

#define M_REQUESTS "fmugw_http_requests_total"
#define M_DURATION "fmugw_http_request_duration_seconds"
#define M_IN_FLIGHT "fmugw_http_requests_in_flight"

/* ---- problem table ----------------------------------------------------- */

static const struct {
    const char *slug;
    int status;
    const char *title;
} problems[] = {
#define HTTP_PROBLEM_ROW(name, slug, status, title) { slug, status, title },
    HTTP_PROBLEM_LIST(HTTP_PROBLEM_ROW)
#undef HTTP_PROBLEM_ROW
};

const char *http_problem_slug(http_problem_kind kind)
{
    if ((unsigned)kind >= HTTP_PROBLEM__COUNT)
        kind = HTTP_PROBLEM_INTERNAL;
    return problems[kind].slug;
}

int http_problem_status(http_problem_kind kind)
{
    if ((unsigned)kind >= HTTP_PROBLEM__COUNT)
        kind = HTTP_PROBLEM_INTERNAL;
    return problems[kind].status;
}

http_problem_kind http_problem_from_error(int code)
{
    switch (code) {
    case FMUGW_ENOTFOUND: return HTTP_PROBLEM_NOT_FOUND;
    case FMUGW_EINVALID: return HTTP_PROBLEM_BAD_REQUEST;
    case FMUGW_ETOOBIG: return HTTP_PROBLEM_PAYLOAD_TOO_LARGE;
    case FMUGW_EAUTH: return HTTP_PROBLEM_UNAUTHORIZED;
    case FMUGW_EFORBIDDEN: return HTTP_PROBLEM_FORBIDDEN;
    case FMUGW_EEXISTS:
    case FMUGW_ECONFLICT: return HTTP_PROBLEM_CONFLICT;
    case FMUGW_ELIMIT: return HTTP_PROBLEM_RATE_LIMITED;
    case FMUGW_EUNSAFE:
    case FMUGW_EFMU:
    case FMUGW_EUNSUPPORTED: return HTTP_PROBLEM_UNPROCESSABLE;
    default: return HTTP_PROBLEM_INTERNAL;
    }
}

/* ---- structures -------------------------------------------------------- */
/* ---- arena -------------------------------------------------------------- */

void *http_request_alloc(http_request *req, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    if (size == 0)
        size = 16;
    arena_block *b = req->arena;
    if (b == NULL || b->cap - b->used < size) {
        size_t cap = size > 2048 ? size : 4096;
        arena_block *nb = malloc(sizeof *nb + cap);
        if (nb == NULL)
            return NULL;
        nb->cap = cap;
        nb->used = 0;
        if (b != NULL && size > 2048) {
            /* A big one-off: keep the current block on top for small ones. */
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            req->arena = nb;
        }
        b = nb;
    }
    void *p = b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

char *http_request_strdup(http_request *req, const char *s)
{
    size_t n = strlen(s);
    char *p = http_request_alloc(req, n + 1);
    if (p)
        memcpy(p, s, n + 1);
    return p;
}

static char *vprintf_arena(http_request *req, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return NULL;
    char *p = http_request_alloc(req, (size_t)n + 1);
    if (p)
        vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *http_request_printf(http_request *req, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = vprintf_arena(req, fmt, ap);
    va_end(ap);
    return p;
}

static void arena_free(arena_block *b)
{
    while (b) {
        arena_block *n = b->next;
        free(b);
        b = n;
    }
}

/* ---- routes ------------------------------------------------------------- */

static void route_entry_clear(route_entry *e)
{
    for (size_t i = 0; i < e->nsegs; i++)
        free(e->segs[i].text);
    free(e->segs);
    free(e->method);
    free(e->pattern);
    free(e->name);
}

/* Splits "/a/b" into segments in place (the string is modified); returns
 * the count or -1 if there are more than `max`. "/" has zero segments. */
static int split_path(char *path, char **segs, int max)
{
    int n = 0;
    char *p = path + 1;
    if (*path != '/')
        return -1;
    if (*p == '\0')
        return 0;
    for (;;) {
        if (n == max)
            return -1;
        segs[n++] = p;
        char *slash = strchr(p, '/');
        if (slash == NULL)
            break;
        *slash = '\0';
        p = slash + 1;
    }
    return n;
}

int http_server_route(http_server *srv, const http_route *route)
{
    route_entry e;
    char *copy = NULL, *parts[MAX_SEGMENTS];
    int rc = 0, n;

    memset(&e, 0, sizeof e);
    if (srv->daemon)
        return fmugw_error_set(FMUGW_EINVALID, "routes must be added before the server starts");
    if (route == NULL || route->method == NULL || route->pattern == NULL || route->handler == NULL)
        return fmugw_error_set(FMUGW_EINVALID, "a route needs a method, a pattern and a handler");
    copy = strdup(route->pattern);
    if (copy == NULL)
        goto oom;
    n = split_path(copy, parts, MAX_SEGMENTS);
    if (n < 0) {
        rc = fmugw_error_set(FMUGW_EINVALID, "bad route pattern \"%s\"", route->pattern);
        goto out;
    }
    e.segs = calloc((size_t)n + 1, sizeof *e.segs);
    if (e.segs == NULL)
        goto oom;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(parts[i]);
        int param = len >= 3 && parts[i][0] == '{' && parts[i][len - 1] == '}';
        if (!param && (strchr(parts[i], '{') || strchr(parts[i], '}'))) {
            rc = fmugw_error_set(FMUGW_EINVALID, "bad route pattern \"%s\"", route->pattern);
            goto out;
        }
        e.segs[i].param = param;
        e.segs[i].text = param ? strndup(parts[i] + 1, len - 2) : strdup(parts[i]);
        e.nsegs++;
        if (e.segs[i].text == NULL)
            goto oom;
        if (!param)
            e.nliteral++;
    }
    for (size_t i = 0; i < srv->nroutes; i++) {
        if (strcmp(srv->routes[i].pattern, route->pattern) == 0 &&
            strcasecmp(srv->routes[i].method, route->method) == 0) {
            rc = fmugw_error_set(FMUGW_EEXISTS, "route %s %s already exists", route->method,
                                 route->pattern);
            goto out;
        }
    }
    e.r = *route;
    e.method = strdup(route->method);
    e.pattern = strdup(route->pattern);
    e.name = strdup(route->name ? route->name : route->pattern);
    if (e.method == NULL || e.pattern == NULL || e.name == NULL)
        goto oom;
    e.r.method = e.method;
    e.r.pattern = e.pattern;
    e.r.name = e.name;
    route_entry *nr = realloc(srv->routes, (srv->nroutes + 1) * sizeof *nr);
    if (nr == NULL)
        goto oom;
    srv->routes = nr;
    srv->routes[srv->nroutes++] = e;
    memset(&e, 0, sizeof e);
    goto out;
oom:
    rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
out:
    route_entry_clear(&e);
    free(copy);
    return rc;
}

static int route_matches(const route_entry *e, char **parts, int n)
{
    if ((size_t)n != e->nsegs)
        return 0;
    for (int i = 0; i < n; i++) {
        if (e->segs[i].param) {
            if (parts[i][0] == '\0')
                return 0;
        } else if (strcmp(e->segs[i].text, parts[i]) != 0) {
            return 0;
        }
    }
    return 1;
}

/* Routes the request: sets req->route and its parameters, or a 404/405
 * problem. */
static void route_request(http_request *req)
{
    http_server *srv = req->srv;
    char *parts[MAX_SEGMENTS];
    char *copy = http_request_strdup(req, req->path);
    const char *method = strcmp(req->method, "HEAD") == 0 ? "GET" : req->method;
    route_entry *best = NULL;
    char *allow = NULL;
    int n;

    if (copy == NULL) {
        http_problem(req, HTTP_PROBLEM_INTERNAL, "out of memory");
        return;
    }
    n = split_path(copy, parts, MAX_SEGMENTS);
    if (n >= 0) {
        for (size_t i = 0; i < srv->nroutes; i++) {
            route_entry *e = &srv->routes[i];
            if (!route_matches(e, parts, n))
                continue;
            if (strcasecmp(e->method, method) == 0) {
                if (best == NULL || e->nliteral > best->nliteral)
                    best = e;
            } else {
                allow = allow ? http_request_printf(req, "%s, %s", allow, e->method)
                              : http_request_strdup(req, e->method);
                if (strcmp(e->method, "GET") == 0 && allow)
                    allow = http_request_printf(req, "%s, HEAD", allow);
            }
        }
    }
    if (best == NULL) {
        if (allow) {
            http_header_add(req, "Allow", allow);
            http_problem(req, HTTP_PROBLEM_METHOD_NOT_ALLOWED, "%s is not allowed on %s",
                         req->method, req->path);
        } else {
            http_problem(req, HTTP_PROBLEM_NOT_FOUND, "no resource at %s", req->path);
        }
        return;
    }
    req->route = best;
    req->nparams = 0;
    req->param_names = http_request_alloc(req, (best->nsegs + 1) * sizeof(char *));
    req->param_values = http_request_alloc(req, (best->nsegs + 1) * sizeof(char *));
    if (req->param_names == NULL || req->param_values == NULL) {
        req->route = NULL;
        http_problem(req, HTTP_PROBLEM_INTERNAL, "out of memory");
        return;
    }
    for (size_t i = 0; i < best->nsegs; i++) {
        if (best->segs[i].param) {
            req->param_names[req->nparams] = best->segs[i].text;
            req->param_values[req->nparams++] = parts[i];
        }
    }
}

/* ---- request accessors -------------------------------------------------- */

const char *http_request_method(const http_request *req) { return req->method; }
const char *http_request_path(const http_request *req) { return req->path; }
const char *http_request_id(const http_request *req) { return req->id; }
const char *http_request_client_ip(const http_request *req) { return req->client_ip; }

const char *http_request_route_name(const http_request *req)
{
    return req->route ? req->route->name : "unmatched";
}

unsigned http_request_route_flags(const http_request *req)
{
    return req->route ? req->route->r.flags : 0;
}

const char *http_request_header(http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_request_query(http_request *req, const char *name)
{
    const char *v = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
    if (v == NULL) {
        /* "?a" (no '=') is stored with a NULL value: tell it from absent. */
        const char *val = NULL;
        if (MHD_lookup_connection_value_n(req->conn, MHD_GET_ARGUMENT_KIND, name, strlen(name),
                                          &val, NULL) == MHD_YES)
            return val ? val : "";
    }
    return v;
}

/* MHD_get_connection_values iterator: counts the arguments named q->name. */
typedef struct {
    const char *name;
    size_t n;
} query_count_ctx;

static enum MHD_Result query_count_it(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    (void)value;
    query_count_ctx *q = cls;
    if (key && strcmp(key, q->name) == 0)
        q->n++;
    return MHD_YES;
}

size_t http_request_query_count(http_request *req, const char *name)
{
    query_count_ctx q = {.name = name, .n = 0};
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_count_it, &q);
    return q.n;
}

const char *http_request_param(const http_request *req, const char *name)
{
    for (size_t i = 0; i < req->nparams; i++)
        if (strcmp(req->param_names[i], name) == 0)
            return req->param_values[i];
    return NULL;
}

int64_t http_request_content_length(http_request *req)
{
    const char *cl = http_request_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
    char *end;
    if (cl == NULL || *cl < '0' || *cl > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(cl, &end, 10);
    if (errno || *end != '\0' || v > INT64_MAX)
        return -1;
    return (int64_t)v;
}

const char *http_request_body(const http_request *req, size_t *len)
{
    if (len)
        *len = req->body ? req->body_len : 0;
    return req->body;
}

void http_request_set_user(http_request *req, void *p, void (*free_fn)(void *))
{
    if (req->user_free && req->user && req->user != p)
        req->user_free(req->user);
    req->user = p;
    req->user_free = free_fn;
}

void *http_request_user(const http_request *req) { return req->user; }

int http_response_status(const http_request *req) { return req->resp ? req->status : 0; }

/* Nesting depth of a JSON text, scanning outside strings; jansson's own
 * limit (2048) is a compile-time constant, too deep for a network input. */
static int json_depth_ok(const char *s, size_t n, unsigned max)
{
    unsigned depth = 0;
    int in_str = 0, esc = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (in_str) {
            if (esc)
                esc = 0;
            else if (c == '\\')
                esc = 1;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                return 0;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return 1;
}

int http_request_json(json_t **out, http_request *req)
{
    json_error_t err;
    const char *ct = http_request_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);

    *out = NULL;
    if (req->json) {
        *out = req->json;
        return 0;
    }
    if (ct && strncasecmp(ct, "application/json", 16) != 0 && strstr(ct, "+json") == NULL)
        return http_problem(req, HTTP_PROBLEM_UNSUPPORTED_MEDIA_TYPE,
                            "the body must be application/json");
    if (req->body == NULL || req->body_len == 0)
        return http_problem(req, HTTP_PROBLEM_BAD_REQUEST, "a JSON body is required");
    if (!json_depth_ok(req->body, req->body_len, req->srv->opts.json_max_depth))
        return http_problem(req, HTTP_PROBLEM_BAD_REQUEST, "JSON nested deeper than %u levels",
                            req->srv->opts.json_max_depth);
    req->json = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &err);
    if (req->json == NULL)
        return http_problem(req, HTTP_PROBLEM_BAD_REQUEST, "malformed JSON at line %d column %d: %s",
                            err.line, err.column, err.text);
    *out = req->json;
    return 0;
}

/* ---- responses ---------------------------------------------------------- */

int http_header_add(http_request *req, const char *name, const char *value)
{
    header_item *h = http_request_alloc(req, sizeof *h);
    if (h == NULL || (h->name = http_request_strdup(req, name)) == NULL ||
        (h->value = http_request_strdup(req, value)) == NULL)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    h->next = req->headers;
    req->headers = h;
    return 0;
}

static void set_response(http_request *req, int status, struct MHD_Response *resp,
                         const char *content_type)
{
    if (req->resp)
        MHD_destroy_response(req->resp);
    req->resp = resp;
    req->status = status;
    if (resp && content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
}

int http_respond_bytes(http_request *req, int status, const char *content_type,
                       const void *data, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data,
                                                             MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return fmugw_error_set(FMUGW_ENOMEM, "cannot create a response");
    set_response(req, status, r, content_type);
    req->bytes_out = len;
    return 0;
}

static int respond_json_ct(http_request *req, int status, json_t *body, const char *ct)
{
    char *text = json_dumps(body ? body : json_object(), JSON_COMPACT);
    json_decref(body);
    if (text == NULL)
        return fmugw_error_set(FMUGW_ENOMEM, "cannot serialise JSON");
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text,
                                                             MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(text);
        return fmugw_error_set(FMUGW_ENOMEM, "cannot create a response");
    }
    req->bytes_out = strlen(text);
    set_response(req, status, r, ct);
    return 0;
}

int http_respond_json(http_request *req, int status, json_t *body)
{
    return respond_json_ct(req, status, body, "application/json");
}

int http_problem_ext(http_request *req, http_problem_kind kind, const char *detail, json_t *ext)
{
    json_t *p = json_object();
    if ((unsigned)kind >= HTTP_PROBLEM__COUNT)
        kind = HTTP_PROBLEM_INTERNAL;
    if (p == NULL) {
        json_decref(ext);
        return HTTP_STOP;
    }
    if (json_is_object(ext))
        json_object_update(p, ext);
    json_decref(ext);
    char type[128];
    snprintf(type, sizeof type, "%s%s", HTTP_PROBLEM_BASE, problems[kind].slug);
    json_object_set_new(p, "type", json_string(type));
    json_object_set_new(p, "title", json_string(problems[kind].title));
    json_object_set_new(p, "status", json_integer(problems[kind].status));
    if (detail && *detail)
        json_object_set_new(p, "detail", json_string(detail));
    json_object_set_new(p, "instance", json_string(req->id));
    respond_json_ct(req, problems[kind].status, p, "application/problem+json");
    return HTTP_STOP;
}

int http_problem(http_request *req, http_problem_kind kind, const char *fmt, ...)
{
    char detail[512] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, sizeof detail, fmt, ap);
        va_end(ap);
    }
    return http_problem_ext(req, kind, detail, NULL);
}

typedef struct stream_ctx {
    http_request *req; /* valid while MHD reads; never used by stream_free */
    http_stream_fn fn;
    void *ud;
    void (*free_fn)(void *);
} stream_ctx;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    stream_ctx *s = cls;
    ssize_t n = s->fn(s->ud, pos, buf, max);
    if (n == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n < 0)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    s->req->bytes_out += (uint64_t)n;
    return n;
}

static void stream_free(void *cls)
{
    stream_ctx *s = cls;
    if (s->free_fn)
        s->free_fn(s->ud);
    free(s);
}

int http_respond_stream(http_request *req, int status, const char *content_type, int64_t size,
                        http_stream_fn fn, void *ud, void (*free_fn)(void *))
{
    stream_ctx *s = calloc(1, sizeof *s);
    if (s == NULL) {
        if (free_fn)
            free_fn(ud);
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    }
    s->req = req;
    s->fn = fn;
    s->ud = ud;
    s->free_fn = free_fn;
    struct MHD_Response *r = MHD_create_response_from_callback(
        size < 0 ? MHD_SIZE_UNKNOWN : (uint64_t)size, STREAM_BLOCK, stream_read, s, stream_free);
    if (r == NULL) {
        stream_free(s);
        return fmugw_error_set(FMUGW_ENOMEM, "cannot create a response");
    }
    req->bytes_out = 0;
    set_response(req, status, r, content_type);
    return 0;
}

typedef struct file_ctx {
    FILE *f;
    off_t start;
} file_ctx;

static ssize_t file_read(void *ud, uint64_t pos, char *buf, size_t max)
{
    file_ctx *fc = ud;
    off_t want = fc->start + (off_t)pos;
    if (ftello(fc->f) != want && fseeko(fc->f, want, SEEK_SET) != 0)
        return -1;
    size_t n = fread(buf, 1, max, fc->f);
    if (n == 0 && ferror(fc->f))
        return -1;
    return (ssize_t)n;
}

static void file_free(void *ud)
{
    file_ctx *fc = ud;
    fclose(fc->f);
    free(fc);
}

int http_respond_file(http_request *req, int status, const char *content_type, FILE *f,
                      int64_t size)
{
    file_ctx *fc = calloc(1, sizeof *fc);
    if (fc == NULL) {
        fclose(f);
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    }
    fc->f = f;
    fc->start = ftello(f);
    if (fc->start < 0)
        fc->start = 0;
    if (size < 0) {
        struct stat st;
        if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode))
            size = st.st_size > fc->start ? st.st_size - fc->start : 0;
    }
    return http_respond_stream(req, status, content_type, size, file_read, fc, file_free);
}

/* ---- the request lifecycle ---------------------------------------------- */

static int request_id_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':'))
            return 0;
    }
    return n >= 1 && n <= MAX_REQUEST_ID;
}

/* 32 hex digits from getrandom, drawn from a per-thread pool of random
 * bytes so that most requests make no system call (request ids are for
 * correlation, not secrets). */
static void request_id_make(char *out)
{
    static _Thread_local unsigned char pool[512];
    static _Thread_local size_t left;
    static const char hex[] = "0123456789abcdef";
    if (left < 16) {
        size_t got = 0;
        while (got < sizeof pool) {
            ssize_t n = getrandom(pool + got, sizeof pool - got, 0);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                /* No entropy source: fall back to time and address, still unique enough
                 * for correlation. */
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                snprintf(out, MAX_REQUEST_ID + 1, "%lx%09lx%p", (long)ts.tv_sec, ts.tv_nsec, (void *)out);
                return;
            }
            got += (size_t)n;
        }
        left = sizeof pool;
    }
    const unsigned char *raw = pool + sizeof pool - left;
    for (size_t i = 0; i < 16; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[32] = '\0';
    left -= 16;
}

static http_request *request_new(http_server *srv, struct MHD_Connection *conn, const char *url,
                                 const char *method)
{
    http_request *req = calloc(1, sizeof *req);
    if (req == NULL)
        return NULL;
    clock_gettime(CLOCK_MONOTONIC, &req->t0);
    req->srv = srv;
    req->conn = conn;
    req->method = http_request_strdup(req, method);
    req->path = http_request_strdup(req, url);
    if (req->method == NULL || req->path == NULL) {
        arena_free(req->arena);
        free(req);
        return NULL;
    }
    const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    if (rid && request_id_ok(rid))
        snprintf(req->id, sizeof req->id, "%s", rid);
    else
        request_id_make(req->id);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, req->client_ip,
                      sizeof req->client_ip);
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, req->client_ip,
                      sizeof req->client_ip);
    }
    return req;
}

static void request_free(http_request *req)
{
    if (req->resp)
        MHD_destroy_response(req->resp);
    if (req->user_free && req->user)
        req->user_free(req->user);
    json_decref(req->json);
    free(req->body);
    arena_free(req->arena);
    free(req);
}

static enum MHD_Result queue(http_request *req)
{
    if (req->resp == NULL)
        http_problem(req, HTTP_PROBLEM_INTERNAL, "the handler produced no response");
    if (req->resp == NULL)
        return MHD_NO;
    MHD_add_response_header(req->resp, "X-Request-Id", req->id);
    MHD_add_response_header(req->resp, "X-Content-Type-Options", "nosniff");
    for (header_item *h = req->headers; h; h = h->next)
        MHD_add_response_header(req->resp, h->name, h->value);
    if (atomic_load(&req->srv->stopping) || req->close_after)
        MHD_add_response_header(req->resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result r = MHD_queue_response(req->conn, (unsigned)req->status, req->resp);
    if (r == MHD_YES) {
        req->queued = 1;
        MHD_destroy_response(req->resp); /* the connection holds its reference */
        req->resp = NULL;
    }
    return r;
}

/* A callback said stop: make sure there is a response. */
static void ensure_stop_response(http_request *req)
{
    if (req->resp == NULL)
        http_problem(req, HTTP_PROBLEM_INTERNAL, "request stopped without a response");
}

/* A response decided on the first call, before any body. When a body is
 * coming, queue it now so MHD never reads the body (it then closes the
 * connection after the answer). Without a body, wait for the final call:
 * MHD closes connections whose answer was queued early, and a 401/404 must
 * not cost a keep-alive connection. */
static enum MHD_Result answer_early(http_request *req)
{
    const char *te = http_request_header(req, MHD_HTTP_HEADER_TRANSFER_ENCODING);
    if (te != NULL || http_request_content_length(req) > 0)
        return queue(req);
    req->pending = 1;
    return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    http_server *srv = cls;
    http_request *req = *con_cls;
    (void)version;

    if (req == NULL) {
        req = request_new(srv, conn, url, method);
        if (req == NULL)
            return MHD_NO;
        *con_cls = req;
        atomic_fetch_add(&srv->in_flight, 1);
        metrics_gauge_set(srv->metrics, M_IN_FLIGHT, NULL, 1, 1);
        bool reserve = http_conn_guard__request_begins(srv->guard, conn);
        route_request(req);
        if (reserve && (req->route == NULL || !(req->route->r.flags & HTTP_ROUTE_PROBE))) {
            /* Accepted into the probe reserve: the server is full. */
            if (req->resp == NULL || req->route != NULL) {
                req->route = NULL;
                http_header_add(req, "Retry-After", "1");
                http_problem(req, HTTP_PROBLEM_UNAVAILABLE,
                             "the server is at its connection limit; try again shortly");
            }
            req->close_after = 1;
            return answer_early(req);
        }
        if (req->route == NULL)
            return answer_early(req);
        req->streaming = req->route->r.on_body != NULL;
        req->max_body = req->route->r.max_body;
        if (req->max_body == 0)
            req->max_body = req->streaming ? SIZE_MAX : srv->opts.max_body;
        if (srv->opts.before && srv->opts.before(req, srv->opts.before_ud) != 0) {
            ensure_stop_response(req);
            return answer_early(req);
        }
        if (req->resp == NULL && req->route->r.start &&
            req->route->r.start(req, req->route->r.ud) != 0) {
            ensure_stop_response(req);
            return answer_early(req);
        }
        if (req->resp == NULL) {
            int64_t cl = http_request_content_length(req);
            if (cl >= 0 && (uint64_t)cl > req->max_body) {
                http_problem(req, HTTP_PROBLEM_PAYLOAD_TOO_LARGE,
                             "the body is %lld bytes; the limit is %zu", (long long)cl,
                             req->max_body);
                return answer_early(req);
            }
            if (!req->streaming && cl > 0) {
                req->body = malloc((size_t)cl + 1);
                if (req->body == NULL) {
                    http_problem(req, HTTP_PROBLEM_INTERNAL, "out of memory");
                    return answer_early(req);
                }
                req->body_cap = (size_t)cl + 1;
            }
        }
        if (req->resp)
            return answer_early(req);
        return MHD_YES; /* MHD sends 100 Continue if asked, then the body */
    }

    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (req->queued)
            return MHD_YES;
        if (req->pending) {
            req->discarded += n;
            return req->discarded > MAX_DISCARD ? MHD_NO : MHD_YES;
        }
        if (n > req->max_body - req->received) {
            http_problem(req, HTTP_PROBLEM_PAYLOAD_TOO_LARGE, "the body is over the %zu byte limit",
                         req->max_body);
            req->pending = 1;
            return MHD_YES;
        }
        req->received += n;
        if (req->streaming) {
            if (req->route->r.on_body(req, upload_data, n, req->route->r.ud) != 0 || req->resp) {
                ensure_stop_response(req);
                req->pending = 1;
            }
            return MHD_YES;
        }
        if (req->body_len + n + 1 > req->body_cap) {
            size_t cap = req->body_cap ? req->body_cap : 4096;
            while (cap < req->body_len + n + 1)
                cap *= 2;
            char *nb = realloc(req->body, cap);
            if (nb == NULL) {
                http_problem(req, HTTP_PROBLEM_INTERNAL, "out of memory");
                req->pending = 1;
                return MHD_YES;
            }
            req->body = nb;
            req->body_cap = cap;
        }
        memcpy(req->body + req->body_len, upload_data, n);
        req->body_len += n;
        req->body[req->body_len] = '\0';
        return MHD_YES;
    }

    /* The final call: the whole request has been read (or, for a deferred
     * answer, the connection was resumed with the response set). */
    if (req->queued)
        return MHD_YES;
    if (req->defer_state == DEFER_DONE)
        return queue(req);
    if (req->defer_state == DEFER_SUSPENDED)
        return MHD_YES;
    if (!req->pending) {
        int hrc = req->route->r.handler(req, req->route->r.ud);
        if (req->defer_state == DEFER_ASKED) {
            if (hrc == 0 && req->resp == NULL) {
                MHD_suspend_connection(conn);
                req->defer_state = DEFER_SUSPENDED;
                http_defer__submit(srv->defer, req);
                return MHD_YES;
            }
            http_defer__cancel(req);
        }
        if (hrc != 0)
            ensure_stop_response(req);
    }
    return queue(req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    http_server *srv = cls;
    http_request *req = *con_cls;
    struct timespec t1;
    char status_text[16];
    if (req == NULL)
        return;
    *con_cls = NULL;
    http_conn_guard__request_ends(srv->guard, conn);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - req->t0.tv_sec) + (double)(t1.tv_nsec - req->t0.tv_nsec) / 1e9;
    int status = req->queued ? req->status : 0;
    const char *route = http_request_route_name(req);
    snprintf(status_text, sizeof status_text, "%d", status);

    const char *const count_labels[] = { "method", req->method, "route", route,
                                         "status", status_text, NULL };
    const char *const dur_labels[] = { "route", route, NULL };
    metrics_counter_add(srv->metrics, M_REQUESTS, count_labels, 1);
    metrics_histogram_observe(srv->metrics, M_DURATION, dur_labels, secs);

    {
        /* Only these fields: never header values, never the query string.
         * Formatted without jansson and buffered (http/log.h). */
        int level = FMUGW_LOG_INFO;
        if (status >= 500 || status == 0)
            level = FMUGW_LOG_WARN;
        else if (req->route && (req->route->r.flags & HTTP_ROUTE_QUIET))
            level = FMUGW_LOG_DEBUG;
        static const char *const why[] = { "ok", "error", "timeout", "daemon_shutdown",
                                           "read_error", "client_abort" };
        fmugw_log_field f[] = {
            { .key = "request_id", .type = 's', .s = req->id },
            { .key = "method", .type = 's', .s = req->method },
            { .key = "path", .type = 's', .s = req->path },
            { .key = "route", .type = 's', .s = route },
            { .key = "status", .type = 'i', .i = status },
            { .key = "bytes", .type = 'i', .i = (long long)req->bytes_out },
            { .key = "bytes_in", .type = 'i', .i = (long long)req->received },
            { .key = "duration_ms", .type = 'f', .f = (double)(long long)(secs * 1e6) / 1e3 },
            { .key = "client", .type = 's', .s = req->client_ip },
            { .key = "terminated", .type = 's',
              .s = (unsigned)toe < 6 ? why[toe] : "unknown" },
        };
        size_t nf = sizeof f / sizeof f[0];
        if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
            nf--; /* "terminated" only when the request did not complete */
        fmugw_log_fields(level, "request", f, nf);
    }
    request_free(req);

    pthread_mutex_lock(&srv->lock);
    unsigned left = atomic_fetch_sub(&srv->in_flight, 1) - 1;
    if (left == 0)
        pthread_cond_broadcast(&srv->idle);
    pthread_mutex_unlock(&srv->lock);
    metrics_gauge_set(srv->metrics, M_IN_FLIGHT, NULL, -1, 1);
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    json_t *f = json_object();
    json_object_set_new(f, "component", json_string("libmicrohttpd"));
    fmugw_log_json(FMUGW_LOG_DEBUG, msg, f);
}

/* ---- server lifecycle --------------------------------------------------- */

static int parse_listen(http_server *srv, const char *listen)
{
    char host[256];
    const char *port;
    struct addrinfo hints, *res = NULL;
    int rc = 0;

    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (close == NULL || close[1] != ':' || (size_t)(close - listen - 1) >= sizeof host)
            return fmugw_error_set(FMUGW_EINVALID, "bad listen address \"%s\" (want [ADDR]:PORT)", listen);
        memcpy(host, listen + 1, (size_t)(close - listen - 1));
        host[close - listen - 1] = '\0';
        port = close + 2;
    } else {
        const char *colon = strrchr(listen, ':');
        if (colon == NULL || (size_t)(colon - listen) >= sizeof host)
            return fmugw_error_set(FMUGW_EINVALID, "bad listen address \"%s\" (want ADDR:PORT)", listen);
        memcpy(host, listen, (size_t)(colon - listen));
        host[colon - listen] = '\0';
        port = colon + 1;
    }
    char *end;
    long p = strtol(port, &end, 10);
    if (*port == '\0' || *end != '\0' || p < 0 || p > 65535)
        return fmugw_error_set(FMUGW_EINVALID, "bad port in listen address \"%s\"", listen);
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(host[0] ? host : "0.0.0.0", port, &hints, &res);
    if (gai != 0 || res == NULL)
        return fmugw_error_set(FMUGW_EINVALID, "cannot resolve listen address \"%s\": %s", listen,
                               gai_strerror(gai));
    if (res->ai_addrlen > sizeof srv->addr) {
        rc = fmugw_error_set(FMUGW_EINVALID, "bad listen address \"%s\"", listen);
    } else {
        memcpy(&srv->addr, res->ai_addr, res->ai_addrlen);
        srv->addrlen = res->ai_addrlen;
    }
    freeaddrinfo(res);
    return rc;
}

int http_server_new(http_server **out, const http_server_options *opts)
{
    http_server *srv = NULL;
    int rc = 0;
    static const http_server_options zero;

    *out = NULL;
    if (opts == NULL)
        opts = &zero;
    srv = calloc(1, sizeof *srv);
    if (srv == NULL)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    pthread_mutex_init(&srv->lock, NULL);
    pthread_cond_init(&srv->idle, NULL);
    srv->opts = *opts;
    srv->listen = strdup(opts->listen ? opts->listen : "127.0.0.1:8080");
    if (srv->listen == NULL) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    srv->opts.listen = srv->listen;
    if (srv->opts.threads == 0)
        srv->opts.threads = 4;
    if (srv->opts.connection_memory == 0)
        srv->opts.connection_memory = 64 * 1024;
    if (srv->opts.timeout_s == 0)
        srv->opts.timeout_s = 30;
    if (srv->opts.max_connections == 0)
        srv->opts.max_connections = 1024;
    if (srv->opts.per_ip_connections == 0)
        srv->opts.per_ip_connections = 64;
    if (srv->opts.max_body == 0)
        srv->opts.max_body = 1024 * 1024;
    if (srv->opts.json_max_depth == 0)
        srv->opts.json_max_depth = 32;
    if (srv->opts.header_timeout_s == 0)
        srv->opts.header_timeout_s = 10;
    if (srv->opts.probe_reserve == 0)
        srv->opts.probe_reserve = 32;
    if (srv->opts.offload_threads == 0)
        srv->opts.offload_threads = 4;
    if (srv->opts.offload_queue == 0)
        srv->opts.offload_queue = 256;
    if (srv->opts.max_parked == 0)
        srv->opts.max_parked = 1024;
    if ((rc = parse_listen(srv, srv->listen)) != 0)
        goto out;
    if (opts->metrics) {
        srv->metrics = opts->metrics;
    } else {
        if ((rc = metrics_new(&srv->metrics)) != 0)
            goto out;
        srv->own_metrics = 1;
    }
    if ((rc = metrics_register(srv->metrics, M_REQUESTS, "HTTP requests by method, route and status.",
                               METRICS_COUNTER, NULL, 0)) != 0 ||
        (rc = metrics_register(srv->metrics, M_DURATION, "HTTP request latency by route.",
                               METRICS_HISTOGRAM, NULL, 0)) != 0 ||
        (rc = metrics_register(srv->metrics, M_IN_FLIGHT, "HTTP requests being served.",
                               METRICS_GAUGE, NULL, 0)) != 0)
        goto out;
    metrics_gauge_set(srv->metrics, M_IN_FLIGHT, NULL, 0, 0);
out:
    if (rc != 0) {
        http_server_free(srv);
        return rc;
    }
    *out = srv;
    return 0;
}

int http_server_start(http_server *srv)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    char host[INET6_ADDRSTRLEN];

    if (srv->daemon)
        return fmugw_error_set(FMUGW_EINVALID, "server already started");
    if (srv->addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* Thread pool size 1 means "no pool" to MHD: one internal thread. */
    unsigned pool = srv->opts.threads > 1 ? srv->opts.threads : 0;
    unsigned per_ip = srv->opts.per_ip_connections == UINT_MAX ? 0 : srv->opts.per_ip_connections;
    if (http_defer__new(&srv->defer, srv->opts.offload_threads, srv->opts.offload_queue, srv->opts.max_parked) != 0 ||
        http_conn_guard__new(&srv->guard, srv->opts.max_connections, srv->opts.header_timeout_s,
                             srv->opts.timeout_s) != 0) {
        http_defer__free(srv->defer);
        srv->defer = NULL;
        return fmugw_error_set(FMUGW_ENOMEM, "cannot start the server's threads");
    }
    srv->daemon = MHD_start_daemon(
        flags, 0, http_conn_guard__accept, srv->guard, on_access, srv,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&srv->addr,
        MHD_OPTION_THREAD_POOL_SIZE, pool,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, srv->opts.connection_memory,
        MHD_OPTION_CONNECTION_TIMEOUT, srv->opts.timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, srv->opts.max_connections + srv->opts.probe_reserve,
        MHD_OPTION_NOTIFY_CONNECTION, http_conn_guard__notify, srv->guard,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, srv,
        MHD_OPTION_END);
    if (srv->daemon == NULL) {
        http_defer__free(srv->defer);
        http_conn_guard__free(srv->guard);
        srv->defer = NULL;
        srv->guard = NULL;
        return fmugw_error_set(FMUGW_EIO, "cannot listen on %s (address in use or not permitted)",
                               srv->listen);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_LISTEN_FD);
    if (di && getsockname(di->listen_fd, (struct sockaddr *)&bound, &blen) == 0) {
        if (bound.ss_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&bound;
            inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
            srv->port = ntohs(a->sin6_port);
            snprintf(srv->address, sizeof srv->address, "[%s]:%u", host, srv->port);
        } else {
            const struct sockaddr_in *a = (const struct sockaddr_in *)&bound;
            inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
            srv->port = ntohs(a->sin_port);
            snprintf(srv->address, sizeof srv->address, "%s:%u", host, srv->port);
        }
    }
    return 0;
}

unsigned http_server_port(const http_server *srv) { return srv->port; }
const char *http_server_address(const http_server *srv) { return srv->address; }
metrics *http_server_metrics(http_server *srv) { return srv->metrics; }
unsigned http_server_in_flight(http_server *srv) { return atomic_load(&srv->in_flight); }

void http_server_wake(http_server *srv)
{
    if (srv)
        http_defer__wake(srv->defer);
}

void http_server_deferred(http_server *srv, unsigned *parked, unsigned *queued, unsigned *running)
{
    *parked = *queued = *running = 0;
    if (srv->defer)
        http_defer__stats(srv->defer, parked, queued, running);
}

int http_server_attach(http_server *srv, void *p, void (*free_fn)(void *))
{
    attachment *a = calloc(1, sizeof *a);
    if (a == NULL) {
        if (free_fn)
            free_fn(p);
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    }
    a->p = p;
    a->free_fn = free_fn;
    a->next = srv->attachments;
    srv->attachments = a;
    return 0;
}

int http_server_shutdown(http_server *srv, unsigned deadline_ms)
{
    int rc = 0;
    struct timespec until;

    if (srv->daemon == NULL)
        return 0;
    atomic_store(&srv->stopping, 1);
    MHD_socket s = MHD_quiesce_daemon(srv->daemon);
    if (s != MHD_INVALID_SOCKET)
        close(s);
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += deadline_ms / 1000;
    until.tv_nsec += (long)(deadline_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    /* Parked requests are answered now (their final call); offloaded work
     * finishes (it is bounded). Suspended connections must all be resumed
     * before the daemon stops. */
    http_defer__drain(srv->defer);
    pthread_mutex_lock(&srv->lock);
    while (atomic_load(&srv->in_flight) > 0) {
        if (pthread_cond_timedwait(&srv->idle, &srv->lock, &until) == ETIMEDOUT)
            break;
    }
    unsigned left = atomic_load(&srv->in_flight);
    pthread_mutex_unlock(&srv->lock);
    if (left > 0)
        rc = fmugw_error_set(FMUGW_ELIMIT, "shutdown deadline passed with %u request(s) in flight",
                             left);
    http_defer__drain(srv->defer); /* none may be left suspended */
    MHD_stop_daemon(srv->daemon);
    srv->daemon = NULL;
    http_defer__free(srv->defer);
    http_conn_guard__free(srv->guard);
    srv->defer = NULL;
    srv->guard = NULL;
    fmugw_log_flush(); /* the access-log lines of the last requests */
    return rc;
}

void http_server_free(http_server *srv)
{
    if (srv == NULL)
        return;
    if (srv->daemon)
        http_server_shutdown(srv, 0);
    while (srv->attachments) {
        attachment *a = srv->attachments;
        srv->attachments = a->next;
        if (a->free_fn)
            a->free_fn(a->p);
        free(a);
    }
    for (size_t i = 0; i < srv->nroutes; i++)
        route_entry_clear(&srv->routes[i]);
    free(srv->routes);
    if (srv->own_metrics)
        metrics_free(srv->metrics);
    free(srv->listen);
    pthread_cond_destroy(&srv->idle);
    pthread_mutex_destroy(&srv->lock);
    free(srv);
}
