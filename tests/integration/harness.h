/*
 * harness.h - starts the real fmugwd on a loopback port for integration
 * tests, and talks HTTP to it with libcurl. Header-only (static functions):
 * each test_*.c in tests/integration includes it once.
 *
 *   gw g;
 *   gw_start(&g, NULL);                      // temp data dir, port 0, waits for "listening"
 *   gw_response r;
 *   gw_request(&g, &r, "GET", "/healthz", NULL, 0, NULL);  // headers: NULL-terminated list
 *   ... r.status, r.body (NUL-terminated), gw_header(&r, "RateLimit") ...
 *   gw_response_free(&r);
 *   gw_stop(&g);                             // SIGTERM, waits, removes the data dir
 *
 * The daemon's stdout (the first-start admin key line) and stderr (JSON
 * logs) go to files in the data dir's parent: g.stdout_path, g.stderr_path.
 * FMUGWD (environment) is the daemon binary. `env` passed to gw_start are
 * extra "NAME=value" strings for the daemon (e.g. a known JWT secret).
 *
 * Contract log: when the environment names a file in FMUGW_CONTRACT_LOG,
 * gw_request() appends one JSON line per answered request to it (method,
 * raw path without the query, status, content type, and the body when it
 * is JSON) for tools/check-responses.mjs, which validates every line
 * against api/openapi.yaml (ctest contract/responses).
 */
#ifndef FMUGW_TEST_HARNESS_H
#define FMUGW_TEST_HARNESS_H

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    pid_t pid;
    unsigned port;
    char root[512];        /* temp dir holding data/ and the log files */
    char data_dir[600];
    char stdout_path[600];
    char stderr_path[600];
    char base_url[64];
    char admin_key[128];   /* from the first-start line, "" if none */
    char admin_account[128];
} gw;

typedef struct {
    long status;
    char *body;
    size_t len;
    char *headers; /* raw header block */
} gw_response;

static int gw__read_file(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
    return 0;
}

/* Finds `"key":<digits>` or `"key":"<text>"` in a log line. */
static int gw__json_field(const char *text, const char *key, char *out, size_t size)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(text, pat);
    if (!p)
        return -1;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    size_t n = 0;
    if (*p == '"') {
        p++;
        while (p[n] && p[n] != '"')
            n++;
    } else {
        while (p[n] && p[n] != ',' && p[n] != '}')
            n++;
    }
    if (n >= size)
        return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

/** Starts fmugwd with a fresh data dir (or `data_dir` if non-NULL: a
 *  restart on existing data). `args` and `env` are NULL-terminated extra
 *  arguments / environment entries (may be NULL). Returns 0 once it
 *  listens, -1 after 10 s. */
static int gw_start_ex(gw *g, const char *data_dir, char *const *args, char *const *env)
{
    memset(g, 0, sizeof *g);
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    if (data_dir) {
        snprintf(g->data_dir, sizeof g->data_dir, "%s", data_dir);
        snprintf(g->root, sizeof g->root, "%s", data_dir);
        char *slash = strrchr(g->root, '/');
        if (slash)
            *slash = '\0';
    } else {
        snprintf(g->root, sizeof g->root, "%s/fmugw-gw.XXXXXX", tmp);
        if (!mkdtemp(g->root))
            return -1;
        snprintf(g->data_dir, sizeof g->data_dir, "%s/data", g->root);
    }
    /* a fresh pair of log files per start: a restart must not find the
     * previous run's "listening" line */
    static unsigned starts;
    starts++;
    snprintf(g->stdout_path, sizeof g->stdout_path, "%s/stdout.%ld.%u", g->root, (long)getpid(), starts);
    snprintf(g->stderr_path, sizeof g->stderr_path, "%s/stderr.%ld.%u", g->root, (long)getpid(), starts);
    const char *bin = getenv("FMUGWD");
    if (!bin)
        return -1;
    g->pid = fork();
    if (g->pid == 0) {
        freopen(g->stdout_path, "w", stdout);
        freopen(g->stderr_path, "w", stderr);
        char *argv[64];
        int n = 0;
        argv[n++] = (char *)bin;
        argv[n++] = "--data-dir";
        argv[n++] = g->data_dir;
        argv[n++] = "--listen";
        argv[n++] = "127.0.0.1:0";
        for (int i = 0; args && args[i] && n < 62; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        for (int i = 0; env && env[i]; i++)
            putenv(env[i]);
        execv(bin, argv);
        _exit(127);
    }
    char buf[65536], port[16];
    for (int i = 0; i < 1000; i++) {
        if (gw__read_file(g->stderr_path, buf, sizeof buf) == 0) {
            const char *line = strstr(buf, "\"msg\":\"listening\"");
            if (line) {
                const char *start = line;
                while (start > buf && start[-1] != '\n')
                    start--;
                if (gw__json_field(start, "port", port, sizeof port) == 0) {
                    g->port = (unsigned)atoi(port);
                    snprintf(g->base_url, sizeof g->base_url, "http://127.0.0.1:%u", g->port);
                    if (gw__read_file(g->stdout_path, buf, sizeof buf) == 0) {
                        gw__json_field(buf, "admin_api_key", g->admin_key, sizeof g->admin_key);
                        gw__json_field(buf, "admin_account_id", g->admin_account, sizeof g->admin_account);
                    }
                    return 0;
                }
            }
        }
        int status;
        if (waitpid(g->pid, &status, WNOHANG) == g->pid) {
            g->pid = 0;
            return -1;
        }
        usleep(10000);
    }
    return -1;
}

static int gw_start(gw *g, char *const *env)
{
    return gw_start_ex(g, NULL, NULL, env);
}

/** Stops the daemon with `sig` (SIGTERM: graceful; SIGKILL: crash) and
 *  returns its wait status. Keeps the data dir. */
static int gw_kill(gw *g, int sig)
{
    int status = -1;
    if (g->pid > 0) {
        kill(g->pid, sig);
        waitpid(g->pid, &status, 0);
        g->pid = 0;
    }
    return status;
}

/** Stops the daemon gracefully and removes the whole temp dir. */
static int gw_stop(gw *g)
{
    int status = gw_kill(g, SIGTERM);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g->root);
    if (strstr(g->root, "fmugw-gw."))
        (void)!system(cmd);
    return status;
}

static size_t gw__collect(char *data, size_t size, size_t n, void *ud)
{
    gw_response *r = ud;
    size_t len = size * n;
    char *p = realloc(r->body, r->len + len + 1);
    if (!p)
        return 0;
    memcpy(p + r->len, data, len);
    r->body = p;
    r->len += len;
    r->body[r->len] = '\0';
    return len;
}

static size_t gw__collect_header(char *data, size_t size, size_t n, void *ud)
{
    gw_response *r = ud;
    size_t len = size * n, old = r->headers ? strlen(r->headers) : 0;
    char *p = realloc(r->headers, old + len + 1);
    if (!p)
        return 0;
    memcpy(p + old, data, len);
    p[old + len] = '\0';
    r->headers = p;
    return len;
}

/* Appends the exchange to $FMUGW_CONTRACT_LOG (if set) as one JSON line,
 * written with a single O_APPEND write so that parallel test processes do
 * not interleave. A body that is not valid JSON under a JSON content type is
 * kept as the string "body_text" (the checker reports it). */
static void gw__contract_record(const char *method, const char *url, long status, const char *ctype,
                                const gw_response *r)
{
    const char *log = getenv("FMUGW_CONTRACT_LOG");
    if (!log || !*log || status == 0)
        return;
    const char *path = url;
    const char *scheme = strstr(url, "://");
    if (scheme) {
        path = strchr(scheme + 3, '/');
        if (!path)
            path = "/";
    }
    json_t *line = json_pack("{s:s, s:s#, s:I, s:s}", "method", method, "path", path, (int)strcspn(path, "?#"),
                             "status", (json_int_t)status, "content_type", ctype ? ctype : "");
    if (!line)
        return;
#ifdef _GNU_SOURCE
    json_object_set_new(line, "test", json_string(program_invocation_short_name));
#endif
    if (ctype && (!strncmp(ctype, "application/json", 16) || strstr(ctype, "+json"))) {
        json_t *body = json_loadb(r->body, r->len, JSON_DECODE_ANY, NULL);
        if (body)
            json_object_set_new(line, "body", body);
        else
            json_object_set_new(line, "body_text", json_stringn(r->body, r->len < 2048 ? r->len : 2048));
    }
    char *text = json_dumps(line, JSON_COMPACT);
    json_decref(line);
    if (!text)
        return;
    size_t n = strlen(text);
    text[n] = '\n'; /* json_dumps output is NUL-terminated: reuse the NUL slot */
    int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
        if (write(fd, text, n + 1) != (ssize_t)(n + 1))
            fprintf(stderr, "harness: short write to FMUGW_CONTRACT_LOG\n");
        close(fd);
    }
    free(text);
}

/** One request to `path` (or to a full URL starting with "http"). `body`
 *  may be NULL. `headers` is a NULL-terminated list of "Name: value". */
static int gw_request(const gw *g, gw_response *r, const char *method, const char *path, const void *body,
                      size_t body_len, const char *const *headers)
{
    memset(r, 0, sizeof *r);
    r->body = calloc(1, 1);
    CURL *c = curl_easy_init();
    if (!c)
        return -1;
    char url[4096];
    if (!strncmp(path, "http", 4))
        snprintf(url, sizeof url, "%s", path);
    else
        snprintf(url, sizeof url, "%s%s", g->base_url, path);
    struct curl_slist *hl = NULL;
    for (int i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, gw__collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, gw__collect_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
        char *ctype = NULL;
        curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype);
        gw__contract_record(method, url, r->status, ctype, r);
    }
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return rc == CURLE_OK ? 0 : -1;
}

/** A response header's value (case-insensitive name) copied into buf, or
 *  NULL. */
static const char *gw_header(const gw_response *r, const char *name, char *buf, size_t size)
{
    if (!r->headers)
        return NULL;
    size_t n = strlen(name);
    for (const char *p = r->headers; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (!strncasecmp(p, name, n) && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            size_t len = strcspn(v, "\r\n");
            if (len >= size)
                len = size - 1;
            memcpy(buf, v, len);
            buf[len] = '\0';
            return buf;
        }
    }
    return NULL;
}

/** The response body parsed as JSON (caller decrefs), or NULL. */
static json_t *gw_json(const gw_response *r)
{
    return json_loadb(r->body, r->len, 0, NULL);
}

/* The "id" of the entry of `list` ({"items": [...]}, as GET /fmu answers)
 * whose "name" is `name`, copied to out (64 bytes); "" when there is none. */
static __attribute__((unused)) void gw_item_id_named(char out[64], const json_t *list, const char *name)
{
    size_t i;
    json_t *it;
    out[0] = '\0';
    json_array_foreach(json_object_get(list, "items"), i, it)
    {
        const char *n = json_string_value(json_object_get(it, "name"));
        if (n && !strcmp(n, name))
            snprintf(out, 64, "%s", json_string_value(json_object_get(it, "id")));
    }
}

static void gw_response_free(gw_response *r)
{
    free(r->body);
    free(r->headers);
    memset(r, 0, sizeof *r);
}

/* POST /auth/token with `api_key`: the access token into out (cap bytes).
 * 0, or -1 (the answer's status and body on stderr). */
static __attribute__((unused)) int gw_token(const gw *g, const char *api_key, char *out, size_t cap)
{
    char h[256];
    snprintf(h, sizeof h, "X-API-Key: %s", api_key);
    const char *hs[] = { h, NULL };
    gw_response r;
    out[0] = '\0';
    if (gw_request(g, &r, "POST", "/auth/token", NULL, 0, hs) != 0 || r.status != 200) {
        fprintf(stderr, "token: %ld %s\n", r.status, r.body ? r.body : "");
        gw_response_free(&r);
        return -1;
    }
    json_t *j = gw_json(&r);
    const char *t = json_string_value(json_object_get(j, "access_token"));
    snprintf(out, cap, "%s", t ? t : "");
    json_decref(j);
    gw_response_free(&r);
    return out[0] ? 0 : -1;
}

#endif
