/*
 * pricing.c - loads pricing.json (tiers, limits and the cost model, see
 * pricing.h and docs/pricing.md) and prices jobs and storage.
 *
 * The file speaks in credits and USD (decimals a person can read); they
 * become integer millicredits and micro-USD at load, and every cost is
 * computed in integers (a 128-bit numerator over a common denominator)
 * and rounded up once, so the same usage always costs the same.
 * Keys starting with "_" are comments; any other unknown key is an error.
 */
#include "ledger/pricing.h"

#include "util/error.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CLASSES 8
#define MAX_TIERS 16
#define KIB_PER_GIB 1048576ull

typedef unsigned __int128 u128;

typedef struct {
    char *name;
    uint64_t max; /* bytes (size) or milliseconds of simulated span (runtime); UINT64_MAX = open */
} price_class;

struct pricing {
    pricing_tier tiers[MAX_TIERS];
    size_t ntiers;
    price_class sizes[MAX_CLASSES];
    size_t nsizes;
    price_class runtimes[MAX_CLASSES];
    size_t nruntimes;
    int64_t base[MAX_CLASSES][MAX_CLASSES]; /* millicredits [size][runtime] */
    int64_t cpu_rate;                       /* millicredits per CPU-second */
    int64_t mem_rate;                       /* millicredits per GiB-second */
    int64_t long_wall_ms;                   /* long-simulation threshold */
    int64_t long_bp;                        /* surcharge, basis points */
    int64_t premium_bp;
    int64_t storage_rate; /* millicredits per GiB-day */
    int64_t reuse_cost;   /* millicredits */
};

/* ---- strict JSON readers --------------------------------------------------- */

static int bad(const char *where, const char *key, const char *what)
{
    return fmugw_error_set(FMUGW_EINVALID, "pricing: %s%s%s: %s", where, key ? "." : "", key ? key : "", what);
}

/* Every key of `obj` must be in `allowed` (NULL-terminated) or start with '_'. */
static int only_keys(json_t *obj, const char *where, const char *const *allowed)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        bool ok = k[0] == '_';
        for (size_t i = 0; !ok && allowed[i]; i++)
            ok = strcmp(allowed[i], k) == 0;
        if (!ok)
            return bad(where, k, "unknown key");
    }
    return 0;
}

/* A non-negative number; `scale` turns it into an integer (rounded). */
static int get_scaled(int64_t *out, json_t *obj, const char *where, const char *key, double scale, bool required,
                      int64_t dflt)
{
    json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            return bad(where, key, "missing");
        *out = dflt;
        return 0;
    }
    if (!json_is_number(v))
        return bad(where, key, "must be a number");
    double x = json_number_value(v);
    if (!(x >= 0) || x * scale > 9.0e15)
        return bad(where, key, "must be a non-negative number within range");
    *out = llround(x * scale);
    return 0;
}

static int get_double(double *out, json_t *obj, const char *where, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return bad(where, key, "missing");
    if (!json_is_number(v) || !(json_number_value(v) >= 0))
        return bad(where, key, "must be a non-negative number");
    *out = json_number_value(v);
    return 0;
}

static int get_percent_bp(int64_t *out, json_t *obj, const char *where, const char *key, bool below_100)
{
    int rc = get_scaled(out, obj, where, key, 100.0, false, 0);
    if (rc == 0 && below_100 && *out >= 10000)
        rc = bad(where, key, "must be below 100");
    return rc;
}

/* ---- load ---------------------------------------------------------------- */

static int load_classes(price_class *out, size_t *n, json_t *arr, const char *where, const char *limit_key,
                        double scale)
{
    static const char *const size_keys[] = {"name", "max_mib", NULL};
    static const char *const run_keys[] = {"name", "max_span_s", NULL};
    size_t i;
    json_t *e;
    uint64_t prev = 0;
    if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > MAX_CLASSES)
        return bad(where, NULL, "must be an array of 1-8 classes");
    json_array_foreach(arr, i, e)
    {
        int rc;
        const char *name = json_string_value(json_object_get(e, "name"));
        if (!json_is_object(e) || !name || !name[0])
            return bad(where, NULL, "each class needs a name");
        if ((rc = only_keys(e, where, strcmp(limit_key, "max_mib") == 0 ? size_keys : run_keys)) != 0)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(out[j].name, name))
                return bad(where, name, "duplicate class");
        bool last = i + 1 == json_array_size(arr);
        if (json_object_get(e, limit_key)) {
            int64_t v;
            if ((rc = get_scaled(&v, e, where, limit_key, scale, true, 0)) != 0)
                return rc;
            if ((uint64_t)v <= prev && i > 0)
                return bad(where, name, "class limits must increase");
            out[i].max = (uint64_t)v;
            prev = (uint64_t)v;
        } else if (!last) {
            return bad(where, name, "only the last class may be open-ended");
        } else {
            out[i].max = UINT64_MAX;
        }
        if (!(out[i].name = strdup(name)))
            return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        *n = i + 1;
    }
    if (out[*n - 1].max != UINT64_MAX)
        return bad(where, NULL, "the last class must be open-ended (no limit)");
    return 0;
}

static int load_tier(pricing_tier *t, json_t *o, size_t idx)
{
    static const char *const tier_keys[] = {"name",          "price_usd",   "monthly_credits", "overage_usd_per_credit",
                                            "hard_limit",    "limits",      "bulk_discount",   NULL};
    static const char *const limit_keys[] = {"rate_per_s",     "burst",        "max_concurrent_jobs", "max_job_seconds",
                                             "max_memory_mib", "max_fmu_mib", "retention_days",      "max_api_keys",
                                             NULL};
    static const char *const bulk_keys[] = {"percent", "threshold_credits", NULL};
    char where[64];
    int64_t v;
    int rc;
    const char *name = json_string_value(json_object_get(o, "name"));

    if (!json_is_object(o) || !name || !name[0] || strlen(name) > 32)
        return fmugw_error_set(FMUGW_EINVALID, "pricing: tiers[%zu] needs a name (1-32 characters)", idx);
    snprintf(where, sizeof where, "tiers.%s", name);
    if ((rc = only_keys(o, where, tier_keys)) != 0)
        return rc;
    if (!(t->name = strdup(name)))
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");

    json_t *price = json_object_get(o, "price_usd");
    if (json_is_string(price) && !strcmp(json_string_value(price), "custom"))
        t->price_usd_micro = -1;
    else if ((rc = get_scaled(&t->price_usd_micro, o, where, "price_usd", 1e6, true, 0)) != 0)
        return rc == FMUGW_EINVALID ? bad(where, "price_usd", "must be a non-negative number or \"custom\"") : rc;
    if ((rc = get_scaled(&t->monthly_credits, o, where, "monthly_credits", 1000.0, true, 0)) != 0)
        return rc;
    json_t *over = json_object_get(o, "overage_usd_per_credit");
    if (!over || json_is_null(over))
        t->list_overage_usd_micro_per_credit = -1;
    else if ((rc = get_scaled(&t->list_overage_usd_micro_per_credit, o, where, "overage_usd_per_credit", 1e6, true,
                              0)) != 0)
        return rc;
    json_t *hard = json_object_get(o, "hard_limit");
    if (hard && !json_is_boolean(hard))
        return bad(where, "hard_limit", "must be true or false");
    /* A hard-limited tier (or one without a rate) never runs into overage. */
    t->overage_usd_micro_per_credit =
        json_is_true(hard) || t->list_overage_usd_micro_per_credit < 0 ? -1 : t->list_overage_usd_micro_per_credit;

    json_t *lim = json_object_get(o, "limits");
    char lwhere[80];
    snprintf(lwhere, sizeof lwhere, "%s.limits", where);
    if (!json_is_object(lim))
        return bad(where, "limits", "missing");
    if ((rc = only_keys(lim, lwhere, limit_keys)) != 0)
        return rc;
    if ((rc = get_double(&t->rate_per_s, lim, lwhere, "rate_per_s")) != 0 ||
        (rc = get_double(&t->burst, lim, lwhere, "burst")) != 0 ||
        (rc = get_double(&t->max_job_seconds, lim, lwhere, "max_job_seconds")) != 0)
        return rc;
    if (t->rate_per_s <= 0 || t->burst < 1)
        return bad(lwhere, "rate_per_s", "rate must be > 0 and burst >= 1");
    if (t->max_job_seconds <= 0 || t->max_job_seconds > 7 * 86400.0)
        return bad(lwhere, "max_job_seconds", "must be in (0, 604800]");
    if ((rc = get_scaled(&v, lim, lwhere, "max_concurrent_jobs", 1.0, true, 0)) != 0)
        return rc;
    if (v < 1 || v > 100000)
        return bad(lwhere, "max_concurrent_jobs", "must be 1-100000");
    t->max_concurrent_jobs = (unsigned)v;
    if ((rc = get_scaled(&v, lim, lwhere, "max_memory_mib", 1.0, true, 0)) != 0)
        return rc;
    if (v < 16)
        return bad(lwhere, "max_memory_mib", "must be at least 16");
    t->max_memory_bytes = (uint64_t)v << 20;
    if ((rc = get_scaled(&v, lim, lwhere, "max_fmu_mib", 1.0, true, 0)) != 0)
        return rc;
    if (v < 1)
        return bad(lwhere, "max_fmu_mib", "must be at least 1");
    t->max_fmu_bytes = (uint64_t)v << 20;
    if ((rc = get_scaled(&v, lim, lwhere, "retention_days", 1.0, true, 0)) != 0)
        return rc;
    if (v < 1 || v > 3650)
        return bad(lwhere, "retention_days", "must be 1-3650");
    t->retention_days = (unsigned)v;
    if ((rc = get_scaled(&v, lim, lwhere, "max_api_keys", 1.0, true, 0)) != 0)
        return rc;
    if (v < 1 || v > 10000)
        return bad(lwhere, "max_api_keys", "must be 1-10000");
    t->max_api_keys = (unsigned)v;

    json_t *bulk = json_object_get(o, "bulk_discount");
    if (bulk) {
        char bwhere[80];
        int64_t bp;
        snprintf(bwhere, sizeof bwhere, "%s.bulk_discount", where);
        if (!json_is_object(bulk))
            return bad(where, "bulk_discount", "must be an object");
        if ((rc = only_keys(bulk, bwhere, bulk_keys)) != 0 ||
            (rc = get_percent_bp(&bp, bulk, bwhere, "percent", true)) != 0 ||
            (rc = get_scaled(&t->bulk_threshold, bulk, bwhere, "threshold_credits", 1000.0, true, 0)) != 0)
            return rc;
        t->bulk_discount_percent = (double)bp / 100.0;
    }
    return 0;
}

static int load_model(pricing *p, json_t *m)
{
    static const char *const model_keys[] = {"size_classes",
                                             "runtime_classes",
                                             "base_credits",
                                             "credits_per_cpu_second",
                                             "credits_per_gib_second",
                                             "long_simulation",
                                             "premium_surcharge_percent",
                                             "storage_credits_per_gib_day",
                                             "reuse_credits",
                                             NULL};
    static const char *const long_keys[] = {"wall_seconds_over", "surcharge_percent", NULL};
    int rc;
    if (!json_is_object(m))
        return bad("cost_model", NULL, "missing");
    if ((rc = only_keys(m, "cost_model", model_keys)) != 0)
        return rc;
    if ((rc = load_classes(p->sizes, &p->nsizes, json_object_get(m, "size_classes"), "cost_model.size_classes",
                           "max_mib", (double)(1u << 20))) != 0 ||
        (rc = load_classes(p->runtimes, &p->nruntimes, json_object_get(m, "runtime_classes"),
                           "cost_model.runtime_classes", "max_span_s", 1000.0)) != 0)
        return rc;
    json_t *base = json_object_get(m, "base_credits");
    if (!json_is_object(base))
        return bad("cost_model", "base_credits", "missing");
    for (size_t s = 0; s < p->nsizes; s++) {
        char where[96];
        json_t *row = json_object_get(base, p->sizes[s].name);
        snprintf(where, sizeof where, "cost_model.base_credits.%s", p->sizes[s].name);
        if (!json_is_object(row))
            return bad("cost_model.base_credits", p->sizes[s].name, "missing");
        if (json_object_size(row) != p->nruntimes)
            return bad(where, NULL, "needs exactly one price per runtime class");
        for (size_t r = 0; r < p->nruntimes; r++)
            if ((rc = get_scaled(&p->base[s][r], row, where, p->runtimes[r].name, 1000.0, true, 0)) != 0)
                return rc;
    }
    if (json_object_size(base) != p->nsizes)
        return bad("cost_model", "base_credits", "needs exactly one row per size class");
    json_t *lng = json_object_get(m, "long_simulation");
    int64_t secs_ms;
    if (!json_is_object(lng))
        return bad("cost_model", "long_simulation", "missing");
    if ((rc = only_keys(lng, "cost_model.long_simulation", long_keys)) != 0 ||
        (rc = get_scaled(&secs_ms, lng, "cost_model.long_simulation", "wall_seconds_over", 1000.0, true, 0)) != 0 ||
        (rc = get_percent_bp(&p->long_bp, lng, "cost_model.long_simulation", "surcharge_percent", false)) != 0)
        return rc;
    p->long_wall_ms = secs_ms;
    if ((rc = get_scaled(&p->cpu_rate, m, "cost_model", "credits_per_cpu_second", 1000.0, true, 0)) != 0 ||
        (rc = get_scaled(&p->mem_rate, m, "cost_model", "credits_per_gib_second", 1000.0, true, 0)) != 0 ||
        (rc = get_percent_bp(&p->premium_bp, m, "cost_model", "premium_surcharge_percent", false)) != 0 ||
        (rc = get_scaled(&p->storage_rate, m, "cost_model", "storage_credits_per_gib_day", 1000.0, true, 0)) != 0 ||
        (rc = get_scaled(&p->reuse_cost, m, "cost_model", "reuse_credits", 1000.0, true, 0)) != 0)
        return rc;
    return 0;
}

int pricing_load(pricing **out, const char *path)
{
    static const char *const top_keys[] = {"version", "currency", "tiers", "cost_model", NULL};
    static const char *const required[] = {"free", "pro", "enterprise"};
    json_error_t jerr;
    json_t *root = NULL;
    pricing *p = NULL;
    int rc;

    *out = NULL;
    if (!(root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr))) {
        rc = fmugw_error_set(FMUGW_EINVALID, "pricing: %s:%d: %s", path, jerr.line, jerr.text);
        goto out;
    }
    if (!(p = calloc(1, sizeof *p))) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    if (!json_is_object(root)) {
        rc = bad("(top)", NULL, "must be an object");
        goto out;
    }
    if ((rc = only_keys(root, "(top)", top_keys)) != 0)
        goto out;
    json_t *ver = json_object_get(root, "version");
    if (!json_is_integer(ver) || json_integer_value(ver) != 1) {
        rc = bad("(top)", "version", "must be 1");
        goto out;
    }
    json_t *cur = json_object_get(root, "currency");
    if (cur && (!json_is_string(cur) || strcmp(json_string_value(cur), "USD") != 0)) {
        rc = bad("(top)", "currency", "must be \"USD\"");
        goto out;
    }
    json_t *tiers = json_object_get(root, "tiers");
    if (!json_is_array(tiers) || json_array_size(tiers) == 0 || json_array_size(tiers) > MAX_TIERS) {
        rc = bad("(top)", "tiers", "must be an array of 1-16 tiers");
        goto out;
    }
    size_t i;
    json_t *t;
    json_array_foreach(tiers, i, t)
    {
        if ((rc = load_tier(&p->tiers[i], t, i)) != 0) {
            p->ntiers = i + 1; /* free its name too */
            goto out;
        }
        p->ntiers = i + 1;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(p->tiers[j].name, p->tiers[i].name)) {
                rc = bad("tiers", p->tiers[i].name, "duplicate tier");
                goto out;
            }
    }
    for (i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!pricing_tier_get(p, required[i])) {
            rc = bad("tiers", required[i], "missing tier");
            goto out;
        }
    if ((rc = load_model(p, json_object_get(root, "cost_model"))) != 0)
        goto out;
out:
    json_decref(root);
    if (rc != 0)
        pricing_free(p);
    else
        *out = p;
    return rc;
}

void pricing_free(pricing *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->ntiers; i++)
        free(p->tiers[i].name);
    for (size_t i = 0; i < MAX_CLASSES; i++) {
        free(p->sizes[i].name);
        free(p->runtimes[i].name);
    }
    free(p);
}

const pricing_tier *pricing_tier_get(const pricing *p, const char *name)
{
    for (size_t i = 0; p && name && i < p->ntiers; i++)
        if (!strcmp(p->tiers[i].name, name))
            return &p->tiers[i];
    return NULL;
}

const pricing_tier *pricing_tiers(const pricing *p, size_t *n)
{
    *n = p ? p->ntiers : 0;
    return p ? p->tiers : NULL;
}

/* ---- costs --------------------------------------------------------------- */

static size_t class_of(const price_class *c, size_t n, uint64_t v)
{
    for (size_t i = 0; i < n; i++)
        if (v <= c[i].max)
            return i;
    return n - 1;
}

static int64_t ceil_div(u128 num, u128 den)
{
    u128 q = (num + den - 1) / den;
    return q > (u128)INT64_MAX ? INT64_MAX : (int64_t)q;
}

int64_t pricing_job_cost(const pricing *p, const pricing_tier *t, const pricing_usage *u)
{
    if (u->reused)
        return p->reuse_cost;
    double span = u->stop_minus_start > 0 ? u->stop_minus_start : 0;
    uint64_t span_ms = span * 1000.0 >= 1.8e19 ? UINT64_MAX : (uint64_t)llround(span * 1000.0);
    size_t s = class_of(p->sizes, p->nsizes, u->fmu_bytes), r = class_of(p->runtimes, p->nruntimes, span_ms);
    /* Common denominator: milliseconds x KiB-per-GiB (so the memory term is
     * exact), times 10^8 for two percentage factors in basis points. */
    const u128 D = (u128)1000 * KIB_PER_GIB;
    u128 sub = (u128)p->base[s][r] * D + (u128)u->cpu_ms * (u128)p->cpu_rate * KIB_PER_GIB +
               (u128)u->peak_rss_kb * (u128)u->wall_ms * (u128)p->mem_rate;
    u128 up = 10000, down = 10000;
    if ((int64_t)u->wall_ms > p->long_wall_ms)
        up += (u128)p->long_bp;
    if (u->premium)
        up += (u128)p->premium_bp;
    if (t && t->bulk_discount_percent > 0 && u->cycle_usage >= t->bulk_threshold)
        down -= (u128)llround(t->bulk_discount_percent * 100.0);
    return ceil_div(sub * up * down, D * 100000000u);
}

int64_t pricing_job_worst_case(const pricing *p, const pricing_tier *t, uint64_t fmu_bytes, double stop_minus_start,
                               double timeout_s, uint64_t memory_bytes, bool premium, int64_t cycle_usage)
{
    return pricing_job_worst_case_cpu(p, t, fmu_bytes, stop_minus_start, timeout_s, NAN, memory_bytes, premium,
                                      cycle_usage);
}

int64_t pricing_job_worst_case_cpu(const pricing *p, const pricing_tier *t, uint64_t fmu_bytes,
                                   double stop_minus_start, double timeout_s, double cpu_s, uint64_t memory_bytes,
                                   bool premium, int64_t cycle_usage)
{
    double secs = t ? t->max_job_seconds : 3600.0;
    if (timeout_s > 0 && timeout_s < secs)
        secs = timeout_s;
    uint64_t mem = t ? t->max_memory_bytes : 0;
    if (memory_bytes > 0 && (mem == 0 || memory_bytes < mem))
        mem = memory_bytes;
    uint64_t ms = (uint64_t)ceil(secs * 1000.0);
    /* CPU: what the sandbox can let through (several threads can use more
     * CPU than wall time), never less than the wall time */
    uint64_t cpu_ms = isfinite(cpu_s) && cpu_s * 1000.0 > (double)ms && cpu_s < 1e12 ? (uint64_t)ceil(cpu_s * 1000.0)
                                                                                       : ms;
    pricing_usage u = {.fmu_bytes = fmu_bytes,
                       .stop_minus_start = stop_minus_start,
                       .cpu_ms = cpu_ms,
                       .wall_ms = ms,
                       .peak_rss_kb = (mem + 1023) / 1024,
                       .premium = premium,
                       .cycle_usage = cycle_usage};
    return pricing_job_cost(p, t, &u);
}

int64_t pricing_storage_cost(const pricing *p, uint64_t bytes, double days)
{
    if (!(days > 0) || bytes == 0)
        return 0;
    uint64_t ms = days * 86400000.0 >= 1.8e19 ? UINT64_MAX / 2 : (uint64_t)llround(days * 86400000.0);
    u128 num = (u128)bytes * (u128)p->storage_rate * ms;
    u128 den = (u128)KIB_PER_GIB * 1024u * 86400000u;
    return ceil_div(num, den);
}

int64_t pricing_storage_micro(const pricing *p, pricing_byte_ms byte_ms)
{
    u128 den = (u128)KIB_PER_GIB * 1024u * 86400000u;
    u128 micro = byte_ms * (u128)p->storage_rate * 1000000u / den;
    return micro > (u128)INT64_MAX ? INT64_MAX : (int64_t)micro;
}

int64_t pricing_reuse_cost(const pricing *p)
{
    return p->reuse_cost;
}

int64_t pricing_overage_usd_micro(const pricing_tier *t, int64_t millicredits)
{
    if (!t || t->list_overage_usd_micro_per_credit <= 0 || millicredits <= 0)
        return 0;
    return ceil_div((u128)millicredits * (u128)t->list_overage_usd_micro_per_credit, 1000);
}
