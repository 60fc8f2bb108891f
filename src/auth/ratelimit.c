/*
 * ratelimit.c - GCRA rate limiter and abuse counter over one striped,
 * bounded hash table (see ratelimit.h). Times are int64 nanoseconds inside.
 */
#include "auth/ratelimit.h"

#include "util/crypto.h"
#include "util/error.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STRIPES 64
#define NS 1000000000LL

/* --- the striped table ------------------------------------------------------ */

typedef struct entry {
    struct entry *next;
    uint64_t hash;
    int64_t t;      /* GCRA: TAT; abuse: time of the last failure */
    int64_t *ring;  /* abuse: the last `threshold` failure times */
    unsigned count; /* abuse: failures in the ring */
    unsigned head;  /* abuse: next slot to write (= oldest once full) */
    bool locked;    /* abuse: threshold crossed and reported */
    size_t klen;
    char key[];
} entry;

typedef struct {
    pthread_mutex_t mu;
    entry **buckets;
    size_t nbuckets; /* power of two */
    size_t count;
    size_t cap;
} stripe;

/* When an entry may be dropped without changing any answer. */
typedef bool (*idle_fn)(const entry *e, int64_t now, int64_t param);

typedef struct {
    stripe stripes[STRIPES];
    uint64_t seed;
    idle_fn idle;
    int64_t idle_param;
    unsigned ring_len; /* slots to allocate per entry (abuse only) */
} table;

static uint64_t hash_key(uint64_t seed, const char *key, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)key[i];
        h *= 0x100000001b3ull;
    }
    /* splitmix64 finaliser: spread the bits for stripe and bucket */
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

static int table_init(table *t, size_t max_keys, idle_fn idle, int64_t idle_param, unsigned ring_len)
{
    size_t per = (max_keys + STRIPES - 1) / STRIPES;
    if (per == 0)
        per = 1;
    size_t nb = 8;
    while (nb < per)
        nb *= 2;
    if (crypto_random_bytes(&t->seed, sizeof t->seed) < 0)
        return FMUGW_ERROR;
    t->idle = idle;
    t->idle_param = idle_param;
    t->ring_len = ring_len;
    for (int i = 0; i < STRIPES; i++) {
        stripe *s = &t->stripes[i];
        s->buckets = calloc(nb, sizeof *s->buckets);
        if (!s->buckets)
            return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        s->nbuckets = nb;
        s->cap = per;
        pthread_mutex_init(&s->mu, NULL);
    }
    return 0;
}

static void entry_free(entry *e)
{
    if (e) {
        free(e->ring);
        free(e);
    }
}

static void table_destroy(table *t)
{
    for (int i = 0; i < STRIPES; i++) {
        stripe *s = &t->stripes[i];
        if (!s->buckets)
            continue;
        for (size_t b = 0; b < s->nbuckets; b++) {
            entry *e = s->buckets[b];
            while (e) {
                entry *next = e->next;
                entry_free(e);
                e = next;
            }
        }
        free(s->buckets);
        pthread_mutex_destroy(&s->mu);
    }
}

static stripe *stripe_of(table *t, uint64_t h)
{
    return &t->stripes[h >> 58]; /* top 6 bits: 64 stripes */
}

/* Makes room in a full stripe: drops idle entries, or else the entry with
 * the smallest t (closest to idle). Caller holds the mutex. */
static void stripe_evict(table *t, stripe *s, int64_t now)
{
    entry **min_link = NULL;
    for (size_t b = 0; b < s->nbuckets; b++) {
        entry **link = &s->buckets[b];
        while (*link) {
            entry *e = *link;
            if (t->idle(e, now, t->idle_param)) {
                *link = e->next;
                entry_free(e);
                s->count--;
                continue;
            }
            if (!min_link || e->t < (*min_link)->t)
                min_link = link;
            link = &e->next;
        }
    }
    if (s->count >= s->cap && min_link) {
        entry *e = *min_link;
        *min_link = e->next;
        entry_free(e);
        s->count--;
    }
}

/* Finds `key` in its stripe (locked by the caller), or creates it with t =
 * `t0`. NULL on allocation failure. */
static entry *stripe_get(table *t, stripe *s, uint64_t h, const char *key, size_t klen, int64_t now, int64_t t0)
{
    entry **head = &s->buckets[h & (s->nbuckets - 1)];
    for (entry *e = *head; e; e = e->next)
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0)
            return e;
    if (s->count >= s->cap) {
        stripe_evict(t, s, now);
        head = &s->buckets[h & (s->nbuckets - 1)];
    }
    entry *e = calloc(1, sizeof *e + klen + 1);
    if (!e)
        return NULL;
    if (t->ring_len && !(e->ring = calloc(t->ring_len, sizeof *e->ring))) {
        free(e);
        return NULL;
    }
    e->hash = h;
    e->t = t0;
    e->klen = klen;
    memcpy(e->key, key, klen);
    e->next = *head;
    *head = e;
    s->count++;
    return e;
}

static size_t table_size(table *t)
{
    size_t n = 0;
    for (int i = 0; i < STRIPES; i++) {
        pthread_mutex_lock(&t->stripes[i].mu);
        n += t->stripes[i].count;
        pthread_mutex_unlock(&t->stripes[i].mu);
    }
    return n;
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

static int64_t sec_to_ns(double s)
{
    return (int64_t)llround(s * 1e9);
}

static int64_t ceil_div(int64_t a, int64_t b)
{
    return a <= 0 ? 0 : (a + b - 1) / b;
}

/* --- GCRA ------------------------------------------------------------------- */

struct ratelimit {
    table t;
};

static bool gcra_idle(const entry *e, int64_t now, int64_t param)
{
    (void)param;
    return e->t <= now;
}

int ratelimit_new(ratelimit **out, size_t max_keys)
{
    *out = NULL;
    if (max_keys == 0)
        return fmugw_error_set(FMUGW_EINVALID, "ratelimit: max_keys must be at least 1");
    ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    int rc = table_init(&rl->t, max_keys, gcra_idle, 0, 0);
    if (rc < 0) {
        ratelimit_free(rl);
        return rc;
    }
    *out = rl;
    return 0;
}

void ratelimit_free(ratelimit *rl)
{
    if (!rl)
        return;
    table_destroy(&rl->t);
    free(rl);
}

static int check_key(const char *key, size_t *len)
{
    if (!key)
        return fmugw_error_set(FMUGW_EINVALID, "rate limit key missing");
    *len = strnlen(key, RATELIMIT_KEY_MAX + 1);
    if (*len == 0 || *len > RATELIMIT_KEY_MAX)
        return fmugw_error_set(FMUGW_EINVALID, "rate limit key must be 1..%d bytes", RATELIMIT_KEY_MAX);
    return 0;
}

static int gcra(ratelimit_result *out, ratelimit *rl, const char *key, double rate, int64_t burst, int64_t now)
{
    size_t klen = 0;
    int rc = check_key(key, &klen);
    memset(out, 0, sizeof *out);
    if (rc < 0)
        return rc;
    if (!(rate >= RATELIMIT_RATE_MIN && rate <= RATELIMIT_RATE_MAX) || burst < 1 || burst > RATELIMIT_BURST_MAX)
        return fmugw_error_set(FMUGW_EINVALID, "rate limit: rate must be %g..%g/s and burst 1..%d", RATELIMIT_RATE_MIN,
                               RATELIMIT_RATE_MAX, RATELIMIT_BURST_MAX);
    int64_t T = (int64_t)llround(1e9 / rate); /* emission interval */
    if (T < 1)
        T = 1;
    if ((double)burst * (double)T > 4e18) /* keeps TAT arithmetic far from overflow */
        return fmugw_error_set(FMUGW_EINVALID, "rate limit: burst / rate spans too long a time");
    int64_t tau = burst * T;
    out->limit = burst;
    out->window = ceil_div(tau, NS);
    if (out->window < 1)
        out->window = 1;

    uint64_t h = hash_key(rl->t.seed, key, klen);
    stripe *s = stripe_of(&rl->t, h);
    pthread_mutex_lock(&s->mu);
    entry *e = stripe_get(&rl->t, s, h, key, klen, now, now);
    if (!e) {
        pthread_mutex_unlock(&s->mu);
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    }
    int64_t tat = e->t > now ? e->t : now;
    int64_t new_tat = tat + T;
    int64_t allow_at = new_tat - tau;
    if (now < allow_at) {
        out->allowed = false;
        out->remaining = 0;
        out->reset = ceil_div(tat - now, NS);
        out->retry_after_exact = (double)(allow_at - now) / 1e9;
        out->retry_after = ceil_div(allow_at - now, NS);
        if (out->retry_after < 1)
            out->retry_after = 1;
        rc = fmugw_error_set(FMUGW_ELIMIT, "rate limit exceeded; retry in %lld s", (long long)out->retry_after);
    } else {
        e->t = new_tat;
        out->allowed = true;
        out->remaining = (now - allow_at) / T;
        out->reset = ceil_div(new_tat - now, NS);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int ratelimit_check(ratelimit_result *out, ratelimit *rl, const char *key, double rate, int64_t burst)
{
    return gcra(out, rl, key, rate, burst, mono_ns());
}

int ratelimit_check_at(ratelimit_result *out, ratelimit *rl, const char *key, double rate, int64_t burst, double now)
{
    return gcra(out, rl, key, rate, burst, sec_to_ns(now));
}

size_t ratelimit_size(ratelimit *rl)
{
    return table_size(&rl->t);
}

int ratelimit_headers(char *policy, size_t policy_size, char *state, size_t state_size, const char *name,
                      const ratelimit_result *r)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 64)
        return fmugw_error_set(FMUGW_EINVALID, "rate limit policy name must be 1..64 characters");
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)name[i]) || name[i] == '.' || name[i] == '_' || name[i] == '-'))
            return fmugw_error_set(FMUGW_EINVALID, "rate limit policy name: invalid character");
    int a = snprintf(policy, policy_size, "\"%s\";q=%lld;w=%lld", name, (long long)r->limit, (long long)r->window);
    int b = snprintf(state, state_size, "\"%s\";r=%lld;t=%lld", name, (long long)r->remaining, (long long)r->reset);
    if (a < 0 || (size_t)a >= policy_size || b < 0 || (size_t)b >= state_size)
        return fmugw_error_set(FMUGW_ETOOBIG, "rate limit header buffer too small");
    return 0;
}

/* --- abuse counter ------------------------------------------------------------ */

struct abuse_counter {
    table t;
    unsigned threshold;
    int64_t window;
};

static bool abuse_idle(const entry *e, int64_t now, int64_t window)
{
    return e->t <= now - window;
}

int abuse_counter_new(abuse_counter **out, unsigned threshold, double window, size_t max_keys)
{
    *out = NULL;
    if (threshold < 1 || threshold > 1000 || !(window > 0 && window < 1e9) || max_keys == 0)
        return fmugw_error_set(FMUGW_EINVALID, "abuse counter: threshold 1..1000, window > 0, max_keys >= 1");
    abuse_counter *ac = calloc(1, sizeof *ac);
    if (!ac)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    ac->threshold = threshold;
    ac->window = sec_to_ns(window);
    int rc = table_init(&ac->t, max_keys, abuse_idle, ac->window, threshold);
    if (rc < 0) {
        abuse_counter_free(ac);
        return rc;
    }
    *out = ac;
    return 0;
}

void abuse_counter_free(abuse_counter *ac)
{
    if (!ac)
        return;
    table_destroy(&ac->t);
    free(ac);
}

static bool abuse_fail(abuse_counter *ac, const char *key, int64_t now)
{
    size_t klen = 0;
    bool crossed = false;
    if (check_key(key, &klen) < 0)
        return false;
    uint64_t h = hash_key(ac->t.seed, key, klen);
    stripe *s = stripe_of(&ac->t, h);
    pthread_mutex_lock(&s->mu);
    entry *e = stripe_get(&ac->t, s, h, key, klen, now, now);
    if (e) {
        e->t = now;
        e->ring[e->head] = now;
        e->head = (e->head + 1) % ac->threshold;
        if (e->count < ac->threshold)
            e->count++;
        /* Full ring: head is the oldest of the last `threshold` failures. */
        if (e->count == ac->threshold && e->ring[e->head] > now - ac->window && !e->locked) {
            e->locked = true;
            crossed = true;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return crossed;
}

bool abuse_counter_fail(abuse_counter *ac, const char *key)
{
    return abuse_fail(ac, key, mono_ns());
}

bool abuse_counter_fail_at(abuse_counter *ac, const char *key, double now)
{
    return abuse_fail(ac, key, sec_to_ns(now));
}

void abuse_counter_reset(abuse_counter *ac, const char *key)
{
    size_t klen = 0;
    if (check_key(key, &klen) < 0)
        return;
    uint64_t h = hash_key(ac->t.seed, key, klen);
    stripe *s = stripe_of(&ac->t, h);
    pthread_mutex_lock(&s->mu);
    entry **link = &s->buckets[h & (s->nbuckets - 1)];
    while (*link) {
        entry *e = *link;
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0) {
            *link = e->next;
            entry_free(e);
            s->count--;
            break;
        }
        link = &e->next;
    }
    pthread_mutex_unlock(&s->mu);
}
