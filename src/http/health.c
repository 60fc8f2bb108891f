/* health.c - /healthz, /readyz, /metrics and /openapi.yaml (see health.h). */
#include "http/health.h"
#include "util/error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct health_state {
    char *openapi_path;
    http_ready_fn ready;
    void *ready_ud;
} health_state;

static void health_state_free(void *p)
{
    health_state *h = p;
    if (h == NULL)
        return;
    free(h->openapi_path);
    free(h);
}

static int get_healthz(http_request *req, void *ud)
{
    (void)ud;
    return http_respond_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

static int get_readyz(http_request *req, void *ud)
{
    health_state *h = ud;
    char why[256] = "";
    if (h->ready && h->ready(h->ready_ud, why, sizeof why) != 0)
        return http_problem(req, HTTP_PROBLEM_UNAVAILABLE, "not ready: %s",
                            why[0] ? why : "a dependency is unavailable");
    return http_respond_json(req, 200, json_pack("{s:s}", "status", "ready"));
}

static void free_text(void *p) { free(p); }

static ssize_t text_read(void *ud, uint64_t pos, char *buf, size_t max)
{
    const char *text = ud;
    size_t len = strlen(text);
    if (pos >= len)
        return 0;
    size_t n = len - pos < max ? len - pos : max;
    memcpy(buf, text + pos, n);
    return (ssize_t)n;
}

static int get_metrics(http_request *req, void *ud)
{
    char *text = NULL;
    size_t len = 0;
    if (metrics_render(&text, &len, http_server_metrics((http_server *)ud)) != 0)
        return http_problem(req, HTTP_PROBLEM_INTERNAL, "cannot render metrics");
    return http_respond_stream(req, 200, "text/plain; version=0.0.4; charset=utf-8",
                               (int64_t)len, text_read, text, free_text);
}

static int get_openapi(http_request *req, void *ud)
{
    health_state *h = ud;
    FILE *f = h->openapi_path ? fopen(h->openapi_path, "rb") : NULL;
    if (f == NULL)
        return http_problem(req, HTTP_PROBLEM_NOT_FOUND, "the OpenAPI document is not available");
    return http_respond_file(req, 200, "application/yaml", f, -1);
}

int http_health_routes_add(http_server *srv, const http_health_options *opts)
{
    int rc;
    health_state *h = calloc(1, sizeof *h);
    if (h == NULL)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    if (opts) {
        h->ready = opts->ready;
        h->ready_ud = opts->ready_ud;
        if (opts->openapi_path && (h->openapi_path = strdup(opts->openapi_path)) == NULL) {
            free(h);
            return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        }
    }
    if ((rc = http_server_attach(srv, h, health_state_free)) != 0)
        return rc;
    const http_route routes[] = {
        { .method = "GET", .pattern = "/healthz", .handler = get_healthz, .flags = HTTP_ROUTE_QUIET | HTTP_ROUTE_PROBE, .ud = h },
        { .method = "GET", .pattern = "/readyz", .handler = get_readyz, .flags = HTTP_ROUTE_QUIET | HTTP_ROUTE_PROBE, .ud = h },
        { .method = "GET", .pattern = "/metrics", .handler = get_metrics, .flags = HTTP_ROUTE_QUIET, .ud = srv },
        { .method = "GET", .pattern = "/openapi.yaml", .handler = get_openapi, .ud = h },
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if ((rc = http_server_route(srv, &routes[i])) != 0)
            return rc;
    return 0;
}
