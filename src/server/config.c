/* config.c - fmugwd configuration: defaults, file, environment (see config.h). */
#include "server/config.h"
#include "http/log.h"
#include "util/error.h"
#include "util/fsutil.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum kind { K_STR, K_SECRET, K_URL, K_UINT, K_SIZE, K_ROLE, K_LEVEL };

static const struct key {
    const char *name;
    enum kind kind;
    size_t offset;
    const char *env[3];
    unsigned long long min, max;
} keys[] = {
    { "listen", K_STR, offsetof(fmugw_config, listen), { "FMUGW_LISTEN" }, 0, 0 },
    { "data_dir", K_STR, offsetof(fmugw_config, data_dir), { "FMUGW_DATA_DIR" }, 0, 0 },
    { "role", K_ROLE, offsetof(fmugw_config, role), { "FMUGW_ROLE" }, 0, 0 },
    { "threads", K_UINT, offsetof(fmugw_config, threads), { "FMUGW_THREADS" }, 1, 1024 },
    { "database_url", K_URL, offsetof(fmugw_config, database_url), { "FMUGW_DATABASE_URL", "DATABASE_URL" }, 0, 0 },
    { "redis_url", K_URL, offsetof(fmugw_config, redis_url), { "FMUGW_REDIS_URL", "REDIS_URL" }, 0, 0 },
    { "jwt_secret", K_SECRET, offsetof(fmugw_config, jwt_secret), { "FMUGW_JWT_SECRET", "JWT_SECRET" }, 0, 0 },
    { "s3_bucket", K_STR, offsetof(fmugw_config, s3_bucket), { "FMUGW_S3_BUCKET", "S3_BUCKET" }, 0, 0 },
    { "master_key", K_SECRET, offsetof(fmugw_config, master_key), { "FMUGW_MASTER_KEY" }, 0, 0 },
    { "log_level", K_LEVEL, offsetof(fmugw_config, log_level), { "FMUGW_LOG_LEVEL" }, 0, 0 },
    { "openapi_path", K_STR, offsetof(fmugw_config, openapi_path), { "FMUGW_OPENAPI_PATH" }, 0, 0 },
    { "max_body_bytes", K_SIZE, offsetof(fmugw_config, max_body_bytes), { "FMUGW_MAX_BODY_BYTES" }, 1, (1ull << 40) },
    { "max_header_bytes", K_SIZE, offsetof(fmugw_config, max_header_bytes), { "FMUGW_MAX_HEADER_BYTES" }, 4096, 16u << 20 },
    { "timeout_s", K_UINT, offsetof(fmugw_config, timeout_s), { "FMUGW_TIMEOUT_S" }, 1, 86400 },
    { "max_connections", K_UINT, offsetof(fmugw_config, max_connections), { "FMUGW_MAX_CONNECTIONS" }, 1, 1000000 },
    { "per_ip_connections", K_UINT, offsetof(fmugw_config, per_ip_connections), { "FMUGW_PER_IP_CONNECTIONS" }, 1, 1000000 },
    { "json_max_depth", K_UINT, offsetof(fmugw_config, json_max_depth), { "FMUGW_JSON_MAX_DEPTH" }, 1, 1000 },
    { "header_timeout_s", K_UINT, offsetof(fmugw_config, header_timeout_s), { "FMUGW_HEADER_TIMEOUT_S" }, 1, 3600 },
    { "probe_reserve", K_UINT, offsetof(fmugw_config, probe_reserve), { "FMUGW_PROBE_RESERVE" }, 1, 10000 },
    { "shutdown_grace_s", K_UINT, offsetof(fmugw_config, shutdown_grace_s), { "FMUGW_SHUTDOWN_GRACE_S" }, 0, 3600 },
    { "url_ttl_s", K_UINT, offsetof(fmugw_config, url_ttl_s), { "FMUGW_URL_TTL_S" }, 1, 3600 },
    { "token_ttl_s", K_UINT, offsetof(fmugw_config, token_ttl_s), { "FMUGW_TOKEN_TTL_S" }, 1, 900 },
    { "samples_dir", K_STR, offsetof(fmugw_config, samples_dir), { "FMUGW_SAMPLES_DIR" }, 0, 0 },
    { "pricing_path", K_STR, offsetof(fmugw_config, pricing_path), { "FMUGW_PRICING_PATH" }, 0, 0 },
    { "workers", K_UINT, offsetof(fmugw_config, workers), { "FMUGW_WORKERS" }, 0, 1024 },
    { "retention_override_s", K_UINT, offsetof(fmugw_config, retention_override_s), { "FMUGW_RETENTION_OVERRIDE_S" }, 0, 100000000 },
};
#define NKEYS (sizeof keys / sizeof keys[0])

static const char *const role_names[] = { "all", "api", "worker" };

const char *config_role_name(fmugw_role role)
{
    return (unsigned)role < 3 ? role_names[role] : "all";
}

static char **str_field(fmugw_config *cfg, const struct key *k)
{
    return (char **)((char *)cfg + k->offset);
}

static void wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

void config_free(fmugw_config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < NKEYS; i++) {
        enum kind k = keys[i].kind;
        if (k == K_STR || k == K_SECRET || k == K_URL)
            wipe_free(*str_field(cfg, &keys[i]));
    }
    free(cfg);
}

int config_new(fmugw_config **out)
{
    static const struct { const char *key, *value; } defaults[] = {
        { "listen", "127.0.0.1:8080" }, { "data_dir", "./data" }, { "role", "all" },
        { "threads", "4" }, { "database_url", "" }, { "redis_url", "" }, { "jwt_secret", "" },
        { "s3_bucket", "" }, { "master_key", "" }, { "log_level", "info" },
        { "openapi_path", "api/openapi.yaml" }, { "max_body_bytes", "1048576" },
        { "max_header_bytes", "65536" }, { "timeout_s", "30" }, { "max_connections", "1024" },
        { "per_ip_connections", "64" }, { "json_max_depth", "32" }, { "shutdown_grace_s", "20" },
        { "header_timeout_s", "10" }, { "probe_reserve", "32" },
        { "url_ttl_s", "300" },
        { "token_ttl_s", "900" }, { "samples_dir", "" }, { "workers", "0" }, { "retention_override_s", "0" }, { "pricing_path", "" },
    };
    fmugw_config *cfg = calloc(1, sizeof *cfg);
    int rc = 0;
    *out = NULL;
    if (cfg == NULL)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
        if ((rc = config_set(cfg, defaults[i].key, defaults[i].value)) != 0) {
            config_free(cfg);
            return rc;
        }
    }
    *out = cfg;
    return 0;
}

static int parse_number(unsigned long long *out, const struct key *k, const char *value)
{
    char *end;
    if (value[0] < '0' || value[0] > '9')
        goto bad;
    errno = 0;
    unsigned long long v = strtoull(value, &end, 10);
    if (errno)
        goto bad;
    /* Sizes may carry a binary suffix: 64K, 1M, 2G. */
    if (k->kind == K_SIZE && *end) {
        int shift = *end == 'K' || *end == 'k' ? 10 : *end == 'M' || *end == 'm' ? 20
                  : *end == 'G' || *end == 'g' ? 30 : -1;
        if (shift < 0 || end[1] != '\0' || v > (ULLONG_MAX >> shift))
            goto bad;
        v <<= shift;
        end++;
    }
    if (*end != '\0')
        goto bad;
    if (v < k->min || v > k->max)
        return fmugw_error_set(FMUGW_EINVALID, "%s must be between %llu and %llu", k->name,
                               k->min, k->max);
    *out = v;
    return 0;
bad:
    return fmugw_error_set(FMUGW_EINVALID, "%s: \"%s\" is not a number", k->name, value);
}

int config_set(fmugw_config *cfg, const char *key, const char *value)
{
    const struct key *k = NULL;
    unsigned long long n;
    int rc;

    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].name, key) == 0)
            k = &keys[i];
    if (k == NULL)
        return fmugw_error_set(FMUGW_ENOTFOUND, "unknown configuration key \"%s\"", key);
    if (value == NULL)
        return fmugw_error_set(FMUGW_EINVALID, "%s: missing value", key);
    switch (k->kind) {
    case K_STR:
    case K_SECRET:
    case K_URL: {
        if ((strcmp(key, "listen") == 0 || strcmp(key, "data_dir") == 0 ||
             strcmp(key, "openapi_path") == 0) && value[0] == '\0')
            return fmugw_error_set(FMUGW_EINVALID, "%s must not be empty", key);
        char *copy = strdup(value);
        if (copy == NULL)
            return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        wipe_free(*str_field(cfg, k));
        *str_field(cfg, k) = copy;
        return 0;
    }
    case K_UINT:
        if ((rc = parse_number(&n, k, value)) != 0)
            return rc;
        *(unsigned *)((char *)cfg + k->offset) = (unsigned)n;
        return 0;
    case K_SIZE:
        if ((rc = parse_number(&n, k, value)) != 0)
            return rc;
        *(size_t *)((char *)cfg + k->offset) = (size_t)n;
        return 0;
    case K_ROLE:
        for (int i = 0; i < 3; i++) {
            if (strcmp(value, role_names[i]) == 0) {
                cfg->role = (fmugw_role)i;
                return 0;
            }
        }
        return fmugw_error_set(FMUGW_EINVALID, "role must be all, api or worker (not \"%s\")", value);
    case K_LEVEL:
        return fmugw_log_level_parse(&cfg->log_level, value);
    }
    return fmugw_error_set(FMUGW_ERROR, "unreachable");
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

int config_load_file(fmugw_config *cfg, const char *path)
{
    char *text = NULL;
    size_t len = 0;
    int rc, lineno = 0;

    rc = fmugw_read_file(&text, &len, path, 1024 * 1024);
    if (rc == FMUGW_ETOOBIG)
        return fmugw_error_set(FMUGW_EINVALID, "%s: config file over 1 MiB", path);
    if (rc != 0)
        return fmugw_error_set(FMUGW_ENOTFOUND, "cannot read config file %s: %s", path,
                               fmugw_error_last());
    if (strlen(text) != len) {
        rc = fmugw_error_set(FMUGW_EINVALID, "%s: NUL byte in config file", path);
        goto out;
    }
    char *save = NULL;
    for (char *line = text; line; line = save) {
        char *nl = strchr(line, '\n');
        save = nl ? nl + 1 : NULL;
        if (nl)
            *nl = '\0';
        lineno++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            rc = fmugw_error_set(FMUGW_EINVALID, "%s:%d: expected key = value", path, lineno);
            goto out;
        }
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        size_t vn = strlen(value);
        if (vn >= 2 && value[0] == '"' && value[vn - 1] == '"') {
            value[vn - 1] = '\0';
            value++;
        }
        if ((rc = config_set(cfg, key, value)) != 0) {
            rc = fmugw_error_set(rc == FMUGW_ENOMEM ? rc : FMUGW_EINVALID, "%s:%d: %s", path,
                                 lineno, fmugw_error_last());
            goto out;
        }
    }
out:
    if (text) {
        explicit_bzero(text, len);
        free(text);
    }
    return rc;
}

int config_load_env(fmugw_config *cfg)
{
    int rc;
    for (size_t i = 0; i < NKEYS; i++) {
        for (int e = 0; e < 3 && keys[i].env[e]; e++) {
            const char *v = getenv(keys[i].env[e]);
            if (v == NULL)
                continue;
            if ((rc = config_set(cfg, keys[i].name, v)) != 0)
                return fmugw_error_set(rc, "environment %s: %s", keys[i].env[e], fmugw_error_last());
            break;
        }
    }
    return 0;
}

int config_prepare_data_dir(const fmugw_config *cfg)
{
    char *path = strdup(cfg->data_dir);
    int rc = 0;
    struct stat st;

    if (path == NULL)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            rc = fmugw_error_set(FMUGW_EIO, "cannot create %s: %s", path, strerror(errno));
            goto out;
        }
        *p = '/';
    }
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        rc = fmugw_error_set(FMUGW_EIO, "cannot create data directory %s: %s", path, strerror(errno));
        goto out;
    }
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        rc = fmugw_error_set(FMUGW_EIO, "data directory %s is not a directory", path);
out:
    free(path);
    return rc;
}

/* "scheme://user:password@host/db" -> "scheme://user:***@host/db". */
static json_t *redact_url(const char *url)
{
    const char *scheme = strstr(url, "://");
    const char *start = scheme ? scheme + 3 : url;
    const char *at = strchr(start, '@');
    const char *slash = strchr(start, '/');
    if (at == NULL || (slash && slash < at))
        return json_string(url);
    const char *colon = memchr(start, ':', (size_t)(at - start));
    const char *cut = colon ? colon + 1 : start;
    char *out = NULL;
    if (asprintf(&out, "%.*s***%s", (int)(cut - url), url, at) < 0)
        return json_string("***");
    json_t *j = json_string(out);
    free(out);
    return j;
}

json_t *config_dump(const fmugw_config *cfg)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    for (size_t i = 0; i < NKEYS; i++) {
        const struct key *k = &keys[i];
        const void *field = (const char *)cfg + k->offset;
        json_t *v = NULL;
        switch (k->kind) {
        case K_STR:
            v = json_string(*(char *const *)field);
            break;
        case K_SECRET:
            v = json_string((*(char *const *)field)[0] ? "***" : "");
            break;
        case K_URL:
            v = redact_url(*(char *const *)field);
            break;
        case K_UINT:
            v = json_integer(*(const unsigned *)field);
            break;
        case K_SIZE:
            v = json_integer((json_int_t)*(const size_t *)field);
            break;
        case K_ROLE:
            v = json_string(config_role_name(cfg->role));
            break;
        case K_LEVEL:
            v = json_string(fmugw_log_level_name(cfg->log_level));
            break;
        }
        json_object_set_new(o, k->name, v);
    }
    return o;
}
