/* metrics.c - the Prometheus metrics registry (see metrics.h). */
#include "http/metrics.h"
#include "util/error.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct series {
    char *labels;     /* rendered `k="v",...` without braces, "" for none */
    double value;     /* counter / gauge value, histogram sum */
    unsigned long long count; /* histogram observations */
    unsigned long long *buckets; /* histogram: per-bucket (non-cumulative) */
    struct series *next;
} series;

typedef struct family {
    char *name;
    char *help;
    metrics_type type;
    double *bounds;
    size_t nbounds;
    series *head, *tail;
    struct family *next;
} family;

struct metrics {
    pthread_mutex_t lock;
    family *head, *tail;
};

static const double default_buckets[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                           0.5, 1, 2.5, 5, 10 };

const double *metrics_default_buckets(size_t *n)
{
    *n = sizeof default_buckets / sizeof default_buckets[0];
    return default_buckets;
}

int metrics_new(metrics **out)
{
    metrics *m = calloc(1, sizeof *m);
    *out = NULL;
    if (m == NULL)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    pthread_mutex_init(&m->lock, NULL);
    *out = m;
    return 0;
}

void metrics_free(metrics *m)
{
    if (m == NULL)
        return;
    family *f = m->head;
    while (f) {
        family *fn = f->next;
        series *s = f->head;
        while (s) {
            series *sn = s->next;
            free(s->labels);
            free(s->buckets);
            free(s);
            s = sn;
        }
        free(f->name);
        free(f->help);
        free(f->bounds);
        free(f);
        f = fn;
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static int valid_name(const char *s)
{
    if (s == NULL || *s == '\0')
        return 0;
    for (const char *p = s; *p; p++) {
        int alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' || *p == ':';
        int digit = *p >= '0' && *p <= '9';
        if (!alpha && !(digit && p != s))
            return 0;
    }
    return 1;
}

static family *find_family(metrics *m, const char *name)
{
    for (family *f = m->head; f; f = f->next)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

int metrics_register(metrics *m, const char *name, const char *help,
                     metrics_type type, const double *buckets, size_t nbuckets)
{
    int rc = 0;
    family *f = NULL;

    if (!valid_name(name))
        return fmugw_error_set(FMUGW_EINVALID, "invalid metric name \"%s\"", name ? name : "");
    if (type == METRICS_HISTOGRAM) {
        if (buckets == NULL)
            buckets = metrics_default_buckets(&nbuckets);
        for (size_t i = 1; i < nbuckets; i++)
            if (!(buckets[i] > buckets[i - 1]))
                return fmugw_error_set(FMUGW_EINVALID, "histogram %s: buckets not increasing", name);
    }
    pthread_mutex_lock(&m->lock);
    family *old = find_family(m, name);
    if (old) {
        if (old->type != type)
            rc = fmugw_error_set(FMUGW_EEXISTS, "metric %s already declared with another type", name);
        goto out;
    }
    f = calloc(1, sizeof *f);
    if (f == NULL)
        goto oom;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    f->type = type;
    if (type == METRICS_HISTOGRAM && nbuckets > 0) {
        f->bounds = malloc(nbuckets * sizeof *f->bounds);
        if (f->bounds == NULL)
            goto oom;
        memcpy(f->bounds, buckets, nbuckets * sizeof *f->bounds);
        f->nbounds = nbuckets;
    }
    if (f->name == NULL || f->help == NULL)
        goto oom;
    if (m->tail)
        m->tail->next = f;
    else
        m->head = f;
    m->tail = f;
    f = NULL;
    goto out;
oom:
    rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
out:
    pthread_mutex_unlock(&m->lock);
    if (f) {
        free(f->name);
        free(f->help);
        free(f->bounds);
        free(f);
    }
    return rc;
}

/* Renders label pairs as `k="v",k2="v2"` with value escaping; malloc'd. */
static char *render_labels(const char *const *labels)
{
    size_t cap = 1;
    if (labels)
        for (size_t i = 0; labels[i] && labels[i + 1]; i += 2)
            cap += strlen(labels[i]) + 2 * strlen(labels[i + 1]) + 4;
    char *out = malloc(cap), *p = out;
    if (out == NULL)
        return NULL;
    if (labels) {
        for (size_t i = 0; labels[i] && labels[i + 1]; i += 2) {
            if (i > 0)
                *p++ = ',';
            size_t kl = strlen(labels[i]);
            memcpy(p, labels[i], kl);
            p += kl;
            *p++ = '=';
            *p++ = '"';
            for (const char *v = labels[i + 1]; *v; v++) {
                if (*v == '\\' || *v == '"') {
                    *p++ = '\\';
                    *p++ = *v;
                } else if (*v == '\n') {
                    *p++ = '\\';
                    *p++ = 'n';
                } else {
                    *p++ = *v;
                }
            }
            *p++ = '"';
        }
    }
    *p = '\0';
    return out;
}

/* Finds or creates the series; called with the lock held. */
static series *get_series(family *f, const char *key, int create)
{
    for (series *s = f->head; s; s = s->next)
        if (strcmp(s->labels, key) == 0)
            return s;
    if (!create)
        return NULL;
    series *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->labels = strdup(key);
    if (f->type == METRICS_HISTOGRAM)
        s->buckets = calloc(f->nbounds + 1, sizeof *s->buckets);
    if (s->labels == NULL || (f->type == METRICS_HISTOGRAM && s->buckets == NULL)) {
        free(s->labels);
        free(s->buckets);
        free(s);
        return NULL;
    }
    if (f->tail)
        f->tail->next = s;
    else
        f->head = s;
    f->tail = s;
    return s;
}

enum op { OP_ADD, OP_SET, OP_OBSERVE };

static int update(metrics *m, const char *name, const char *const *labels,
                  metrics_type want, enum op op, double v)
{
    int rc = 0;
    char *key = render_labels(labels);
    if (key == NULL)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    pthread_mutex_lock(&m->lock);
    family *f = find_family(m, name);
    if (f == NULL) {
        rc = fmugw_error_set(FMUGW_ENOTFOUND, "metric %s not declared", name);
        goto out;
    }
    if (f->type != want) {
        rc = fmugw_error_set(FMUGW_EINVALID, "metric %s has another type", name);
        goto out;
    }
    series *s = get_series(f, key, 1);
    if (s == NULL) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    switch (op) {
    case OP_ADD:
        s->value += v;
        break;
    case OP_SET:
        s->value = v;
        break;
    case OP_OBSERVE: {
        size_t i = 0;
        while (i < f->nbounds && v > f->bounds[i])
            i++;
        s->buckets[i]++;
        s->count++;
        s->value += v;
        break;
    }
    }
out:
    pthread_mutex_unlock(&m->lock);
    free(key);
    return rc;
}

int metrics_counter_add(metrics *m, const char *name, const char *const *labels, double v)
{
    if (!(v >= 0))
        return fmugw_error_set(FMUGW_EINVALID, "counter %s: negative increment", name);
    return update(m, name, labels, METRICS_COUNTER, OP_ADD, v);
}

int metrics_gauge_set(metrics *m, const char *name, const char *const *labels, double v, int add)
{
    return update(m, name, labels, METRICS_GAUGE, add ? OP_ADD : OP_SET, v);
}

int metrics_histogram_observe(metrics *m, const char *name, const char *const *labels, double v)
{
    return update(m, name, labels, METRICS_HISTOGRAM, OP_OBSERVE, v);
}

int metrics_value(double *out, metrics *m, const char *name, const char *const *labels)
{
    int rc = 0;
    char *key = render_labels(labels);
    if (key == NULL)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    pthread_mutex_lock(&m->lock);
    family *f = find_family(m, name);
    series *s = f ? get_series(f, key, 0) : NULL;
    if (s == NULL)
        rc = fmugw_error_set(FMUGW_ENOTFOUND, "no series %s{%s}", name, key);
    else
        *out = f->type == METRICS_HISTOGRAM ? (double)s->count : s->value;
    pthread_mutex_unlock(&m->lock);
    free(key);
    return rc;
}

/* A growable output buffer for rendering. */
typedef struct outbuf {
    char *p;
    size_t len, cap;
    int oom;
} outbuf;

static void outf(outbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(outbuf *b, const char *fmt, ...)
{
    va_list ap;
    if (b->oom)
        return;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t ncap = (b->cap + (size_t)n + 1) * 2;
        char *np = realloc(b->p, ncap);
        if (np == NULL) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
}

/* Prometheus number formatting: integers without exponent, +Inf/NaN named. */
static void fmt_num(char *buf, size_t n, double v)
{
    if (isnan(v))
        snprintf(buf, n, "NaN");
    else if (isinf(v))
        snprintf(buf, n, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, n, "%.0f", v);
    else
        snprintf(buf, n, "%.17g", v);
}

static void help_escaped(outbuf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            outf(b, "\\\\");
        else if (*s == '\n')
            outf(b, "\\n");
        else
            outf(b, "%c", *s);
    }
}

int metrics_render(char **out, size_t *len, metrics *m)
{
    static const char *const type_names[] = { "counter", "gauge", "histogram" };
    outbuf b = { malloc(4096), 0, 4096, 0 };
    char num[64], le[64];

    *out = NULL;
    if (b.p == NULL)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    b.p[0] = '\0';
    pthread_mutex_lock(&m->lock);
    for (family *f = m->head; f; f = f->next) {
        outf(&b, "# HELP %s ", f->name);
        help_escaped(&b, f->help);
        outf(&b, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
        for (series *s = f->head; s; s = s->next) {
            const char *sep = s->labels[0] ? "," : "";
            if (f->type != METRICS_HISTOGRAM) {
                fmt_num(num, sizeof num, s->value);
                if (s->labels[0])
                    outf(&b, "%s{%s} %s\n", f->name, s->labels, num);
                else
                    outf(&b, "%s %s\n", f->name, num);
                continue;
            }
            unsigned long long cum = 0;
            for (size_t i = 0; i <= f->nbounds; i++) {
                cum += s->buckets[i];
                if (i < f->nbounds)
                    fmt_num(le, sizeof le, f->bounds[i]);
                else
                    snprintf(le, sizeof le, "+Inf");
                outf(&b, "%s_bucket{%s%sle=\"%s\"} %llu\n", f->name, s->labels, sep, le, cum);
            }
            fmt_num(num, sizeof num, s->value);
            if (s->labels[0]) {
                outf(&b, "%s_sum{%s} %s\n", f->name, s->labels, num);
                outf(&b, "%s_count{%s} %llu\n", f->name, s->labels, s->count);
            } else {
                outf(&b, "%s_sum %s\n", f->name, num);
                outf(&b, "%s_count %llu\n", f->name, s->count);
            }
        }
    }
    pthread_mutex_unlock(&m->lock);
    if (b.oom) {
        free(b.p);
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    }
    *out = b.p;
    if (len)
        *len = b.len;
    return 0;
}
