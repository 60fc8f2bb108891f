/*
 * config.c - the client configuration file (~/.fmu_gateway/config): INI
 * profiles, the mode rules (written 0600 in a 0700 directory, refused when
 * group or others may read it) and the profile writer used by
 * `fmugw configure`.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define CONFIG_MAX_BYTES (1u << 20)

FMUGW_EXTERN(int) fmugw_config_default_path(char **out)
{
    *out = NULL;
    const char *home = getenv("HOME");
    if (!home || !*home)
        return client__error(FMUGW_CLIENT_ECONFIG, "HOME is not set: cannot find ~/.fmu_gateway/config");
    size_t n = strlen(home) + 32;
    *out = malloc(n);
    if (!*out)
        return client__error(FMUGW_CLIENT_ERROR, "out of memory");
    snprintf(*out, n, "%s/.fmu_gateway/config", home);
    return 0;
}

/* Reads the whole file after checking its mode. ENOTFOUND if absent. */
static int read_file(char **out, const char *path)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return client__error(FMUGW_CLIENT_ENOTFOUND, "%s does not exist", path);
        return client__error(FMUGW_CLIENT_ECONFIG, "cannot open %s: %s", path, strerror(errno));
    }
    int rc = 0;
    char *buf = NULL;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = client__error(FMUGW_CLIENT_ECONFIG, "%s is not a regular file", path);
        goto out;
    }
    if (st.st_mode & 077) {
        rc = client__error(FMUGW_CLIENT_ECONFIG,
                           "%s holds API keys but other users may read it (mode %03o): run 'chmod 600 %s'",
                           path, (unsigned)(st.st_mode & 0777), path);
        goto out;
    }
    if (st.st_size > (off_t)CONFIG_MAX_BYTES) {
        rc = client__error(FMUGW_CLIENT_ECONFIG, "%s is too large", path);
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        rc = client__error(FMUGW_CLIENT_ERROR, "out of memory");
        goto out;
    }
    size_t n = 0;
    while (n < (size_t)st.st_size) {
        ssize_t k = read(fd, buf + n, (size_t)st.st_size - n);
        if (k <= 0) {
            if (k < 0 && errno == EINTR)
                continue;
            break;
        }
        n += (size_t)k;
    }
    buf[n] = '\0';
    *out = buf;
    buf = NULL;
out:
    free(buf);
    close(fd);
    return rc;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* A section header "[name]": the name (in place) or NULL. */
static char *section_name(char *line)
{
    char *t = trim(line);
    size_t n = strlen(t);
    if (n < 2 || t[0] != '[' || t[n - 1] != ']')
        return NULL;
    t[n - 1] = '\0';
    return trim(t + 1);
}

static int dup_value(char **dst, const char *v)
{
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v++;
        n -= 2;
    }
    free(*dst);
    *dst = strndup(v, n);
    return *dst ? 0 : client__error(FMUGW_CLIENT_ERROR, "out of memory");
}

FMUGW_EXTERN(int) fmugw_config_read(char **out_base_url, char **out_api_key, const char *path,
                                    const char *profile)
{
    *out_base_url = NULL;
    *out_api_key = NULL;
    char *def = NULL, *text = NULL, *base = NULL, *key = NULL;
    int rc = 0, found = 0, lineno = 0;
    if (!profile || !*profile)
        profile = "default";
    if (!path) {
        if ((rc = fmugw_config_default_path(&def)) != 0)
            goto out;
        path = def;
    }
    if ((rc = read_file(&text, path)) != 0)
        goto out;
    int in_profile = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        char *t = trim(line);
        if (!*t || *t == '#' || *t == ';')
            continue;
        char *name = section_name(t);
        if (name) {
            in_profile = !strcmp(name, profile);
            found |= in_profile;
            continue;
        }
        char *eq = strchr(t, '=');
        if (!eq) {
            rc = client__error(FMUGW_CLIENT_ECONFIG, "%s:%d: expected 'key = value' or '[profile]'", path, lineno);
            goto out;
        }
        *eq = '\0';
        char *k = trim(t), *v = trim(eq + 1);
        if (!in_profile)
            continue;
        if (!strcmp(k, "base_url"))
            rc = dup_value(&base, v);
        else if (!strcmp(k, "api_key"))
            rc = dup_value(&key, v);
        if (rc)
            goto out;
    }
    if (!found) {
        rc = client__error(FMUGW_CLIENT_ENOTFOUND, "%s has no profile [%s]", path, profile);
        goto out;
    }
    *out_base_url = base;
    *out_api_key = key;
    base = key = NULL;
out:
    free(def);
    free(text);
    free(base);
    free(key);
    return rc;
}

static int valid_value(const char *v)
{
    if (!v || !*v)
        return 0;
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return 0;
    return !isspace((unsigned char)v[0]) && !isspace((unsigned char)v[strlen(v) - 1]);
}

static int valid_profile(const char *p)
{
    if (!*p || strlen(p) > 64)
        return 0;
    for (; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("_.-", *p))
            return 0;
    return 1;
}

/* mkdir -p of the file's directory, the last level 0700. */
static int make_dir(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(dir, 0755) != 0 && errno != EEXIST)
                return client__error(FMUGW_CLIENT_ERROR, "cannot create %s: %s", dir, strerror(errno));
            *p = '/';
        }
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return client__error(FMUGW_CLIENT_ERROR, "cannot create %s: %s", dir, strerror(errno));
    return 0;
}

FMUGW_EXTERN(int) fmugw_config_write(const char *path, const char *profile, const char *base_url,
                                     const char *api_key)
{
    char *def = NULL, *text = NULL, *tmp = NULL;
    FILE *f = NULL;
    int rc = 0, fd = -1;
    if (!profile || !*profile)
        profile = "default";
    if (!valid_profile(profile))
        return client__error(FMUGW_CLIENT_EUSAGE, "bad profile name \"%s\" (letters, digits, _ . -)", profile);
    if (!valid_value(base_url) || (strncmp(base_url, "http://", 7) && strncmp(base_url, "https://", 8)))
        return client__error(FMUGW_CLIENT_EUSAGE, "the base URL must start with http:// or https://");
    if (!valid_value(api_key))
        return client__error(FMUGW_CLIENT_EUSAGE, "the API key is empty or has spaces or control characters");
    if (!path) {
        if ((rc = fmugw_config_default_path(&def)) != 0)
            goto out;
        path = def;
    }
    rc = read_file(&text, path);
    if (rc == FMUGW_CLIENT_ENOTFOUND)
        rc = 0;
    else if (rc)
        goto out;
    if ((rc = make_dir(path)) != 0)
        goto out;
    size_t tn = strlen(path) + 16;
    tmp = malloc(tn);
    if (!tmp) {
        rc = client__error(FMUGW_CLIENT_ERROR, "out of memory");
        goto out;
    }
    snprintf(tmp, tn, "%s.tmpXXXXXX", path);
    fd = mkstemp(tmp); /* mode 0600 */
    if (fd < 0 || fchmod(fd, 0600) != 0 || !(f = fdopen(fd, "w"))) {
        rc = client__error(FMUGW_CLIENT_ERROR, "cannot write %s: %s", path, strerror(errno));
        goto out;
    }
    fd = -1;
    /* Copy the other profiles verbatim; put ours where it was (or last). */
    int written = 0, skipping = 0;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char copy[4096];
        snprintf(copy, sizeof copy, "%s", line);
        char *name = section_name(copy);
        if (name) {
            skipping = !strcmp(name, profile);
            if (skipping && !written) {
                fprintf(f, "[%s]\nbase_url = %s\napi_key = %s\n", profile, base_url, api_key);
                written = 1;
            }
        }
        if (!skipping)
            fprintf(f, "%s\n", line);
    }
    if (!written)
        fprintf(f, "%s[%s]\nbase_url = %s\napi_key = %s\n", text && *text ? "\n" : "", profile, base_url, api_key);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        rc = client__error(FMUGW_CLIENT_ERROR, "cannot write %s: %s", path, strerror(errno));
        goto out;
    }
    fclose(f);
    f = NULL;
    if (rename(tmp, path) != 0) {
        rc = client__error(FMUGW_CLIENT_ERROR, "cannot rename to %s: %s", path, strerror(errno));
        goto out;
    }
    free(tmp);
    tmp = NULL;
out:
    if (f)
        fclose(f);
    if (fd >= 0)
        close(fd);
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    free(text);
    free(def);
    return rc;
}
