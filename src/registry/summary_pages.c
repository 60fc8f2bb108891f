/*
 * summary_pages.c - a linear scan of a stored summary's JSON text that
 * finds the top-level "variables" array and the spans of its elements
 * (see summary_pages.h). Values are skipped, not decoded: strings by their
 * quotes and escapes, containers by depth, scalars up to a delimiter.
 */
#include "registry/summary_pages.h"

#include "util/error.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static size_t skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* Past the string starting at s[i] == '"'; n when unterminated. */
static size_t skip_string(const char *s, size_t n, size_t i)
{
    for (i++; i < n; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return n + 1;
}

/* Past one value starting at s[i]; > n when malformed. */
static size_t skip_value(const char *s, size_t n, size_t i)
{
    if (i >= n)
        return n + 1;
    if (s[i] == '"')
        return skip_string(s, n, i);
    if (s[i] == '{' || s[i] == '[') {
        size_t depth = 0;
        while (i < n) {
            char c = s[i];
            if (c == '"') {
                i = skip_string(s, n, i);
                continue;
            }
            if (c == '{' || c == '[')
                depth++;
            else if ((c == '}' || c == ']') && --depth == 0)
                return i + 1;
            i++;
        }
        return n + 1;
    }
    size_t start = i;
    while (i < n && !strchr(",]} \t\r\n", s[i]))
        i++;
    return i > start ? i : n + 1;
}

/* The span [*b, *e) of the value of top-level member "variables" if it is
 * an array. */
static int find_variables(const char *s, size_t n, size_t *b, size_t *e)
{
    size_t i = skip_ws(s, n, 0);
    if (i >= n || s[i] != '{')
        return FMUGW_EINVALID;
    i = skip_ws(s, n, i + 1);
    if (i < n && s[i] == '}')
        return FMUGW_ENOTFOUND;
    while (i < n) {
        if (s[i] != '"')
            return FMUGW_EINVALID;
        size_t k = i, ke = skip_string(s, n, i);
        if (ke > n)
            return FMUGW_EINVALID;
        i = skip_ws(s, n, ke);
        if (i >= n || s[i] != ':')
            return FMUGW_EINVALID;
        i = skip_ws(s, n, i + 1);
        size_t ve = skip_value(s, n, i);
        if (ve > n)
            return FMUGW_EINVALID;
        if (ke - k == sizeof "\"variables\"" - 1 && memcmp(s + k, "\"variables\"", ke - k) == 0 && s[i] == '[') {
            *b = i;
            *e = ve;
            return 0;
        }
        i = skip_ws(s, n, ve);
        if (i < n && s[i] == ',')
            i = skip_ws(s, n, i + 1);
        else if (i < n && s[i] == '}')
            return FMUGW_ENOTFOUND;
        else
            return FMUGW_EINVALID;
    }
    return FMUGW_EINVALID;
}

/* Calls back with the span of each element of the array s[b, e); stops
 * early when `fn` returns false. *count gets the elements seen. */
typedef bool (*element_fn)(void *ctx, size_t idx, size_t eb, size_t ee);

static int each_element(const char *s, size_t b, size_t e, element_fn fn, void *ctx, size_t *count)
{
    size_t i = skip_ws(s, e, b + 1), idx = 0;
    bool go = true;
    *count = 0;
    if (i < e && s[i] == ']')
        return 0;
    while (i < e) {
        size_t ve = skip_value(s, e, i);
        if (ve > e)
            return FMUGW_EINVALID;
        if (go)
            go = fn(ctx, idx, i, ve);
        idx++;
        i = skip_ws(s, e, ve);
        if (i < e && s[i] == ',') {
            i = skip_ws(s, e, i + 1);
        } else if (i < e && s[i] == ']') {
            *count = idx;
            return 0;
        } else {
            return FMUGW_EINVALID;
        }
    }
    return FMUGW_EINVALID;
}

/* Collects the text of the elements [from, to) as a JSON array. */
typedef struct {
    const char *s;
    uint64_t from, to;
    char *buf;
    size_t len, cap;
    bool oom;
} collect;

static bool collect_fn(void *ctx, size_t idx, size_t eb, size_t ee)
{
    collect *c = ctx;
    if (idx < c->from)
        return true;
    if (idx >= c->to)
        return true; /* keep counting */
    size_t need = c->len + (ee - eb) + 2;
    if (need > c->cap) {
        size_t cap = c->cap ? c->cap : 4096;
        while (cap < need)
            cap *= 2;
        char *nb = realloc(c->buf, cap);
        if (!nb) {
            c->oom = true;
            return false;
        }
        c->buf = nb, c->cap = cap;
    }
    if (c->len > 1)
        c->buf[c->len++] = ',';
    memcpy(c->buf + c->len, c->s + eb, ee - eb);
    c->len += ee - eb;
    return true;
}

static int collect_range(collect *c, const char *s, size_t b, size_t e, uint64_t from, uint64_t to, size_t *total)
{
    memset(c, 0, sizeof *c);
    c->s = s, c->from = from, c->to = to;
    if (!(c->buf = malloc(c->cap = 4096)))
        return FMUGW_ENOMEM;
    c->buf[c->len++] = '[';
    int rc = each_element(s, b, e, collect_fn, c, total);
    if (rc == 0 && c->oom)
        rc = FMUGW_ENOMEM;
    if (rc == 0)
        c->buf[c->len++] = ']';
    return rc;
}

int summary_pages_slice(json_t **page, size_t *total, const char *text, size_t len, uint64_t offset, uint64_t limit)
{
    size_t b, e;
    collect c;
    *page = NULL;
    *total = 0;
    int rc = find_variables(text, len, &b, &e);
    if (rc != 0)
        return rc;
    uint64_t to = offset + limit < offset ? UINT64_MAX : offset + limit;
    if ((rc = collect_range(&c, text, b, e, offset, to, total)) == 0 &&
        !(*page = json_loadb(c.buf, c.len, 0, NULL)))
        rc = FMUGW_EINVALID;
    free(c.buf);
    return rc;
}

json_t *summary_pages_head(const char *text, size_t len, size_t inline_max)
{
    size_t b, e, total = 0;
    collect c;
    if (find_variables(text, len, &b, &e) != 0)
        return NULL;
    if (collect_range(&c, text, b, e, 0, inline_max, &total) != 0) {
        free(c.buf);
        return NULL;
    }
    /* the object with its variables array replaced by the head */
    size_t n = b + c.len + (len - e);
    char *t = malloc(n);
    json_t *j = NULL;
    if (t) {
        memcpy(t, text, b);
        memcpy(t + b, c.buf, c.len);
        memcpy(t + b + c.len, text + e, len - e);
        j = json_loadb(t, n, 0, NULL);
    }
    free(t);
    free(c.buf);
    if (json_is_object(j))
        json_object_set_new(j, "variables_truncated", json_boolean(total > inline_max));
    else {
        json_decref(j);
        j = NULL;
    }
    return j;
}
