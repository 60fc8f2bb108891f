/*
 * auth_cache.c - the guard's in-memory caches (see auth_cache.h): three
 * set-associative tables (keys, tokens, touch times) of fixed size, each
 * split into mutex-protected shards so request threads rarely meet.
 */
#include "auth/auth_cache.h"
#include "util/error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define WAYS 4
#define SHARDS 16
#define KEY_LEN 64

typedef struct {
    uint8_t key[KEY_LEN]; /* zero-padded */
    uint64_t stamp;       /* last use (shard clock); 0 = empty */
    int64_t tag;          /* epoch, keyring generation, or unused */
    int64_t born_ms;      /* keys: when the row was read */
    union {
        auth_cached_key k;
        auth_cached_token t;
        int64_t last_ms;
    } v;
} entry;

typedef struct {
    pthread_mutex_t lock;
    uint64_t clock;
    char pad[64 - sizeof(uint64_t)]; /* keep shards on their own cache lines */
} shard;

typedef struct {
    entry *e;
    size_t nsets; /* a power of two */
    shard shards[SHARDS];
} table;

struct auth_cache {
    table keys, tokens, touch;
};

static int table_init(table *t, size_t entries)
{
    size_t nsets = 16;
    while (nsets * WAYS < entries)
        nsets *= 2;
    t->e = calloc(nsets * WAYS, sizeof *t->e);
    if (!t->e)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    t->nsets = nsets;
    for (size_t i = 0; i < SHARDS; i++) {
        pthread_mutex_init(&t->shards[i].lock, NULL);
        t->shards[i].clock = 0;
    }
    return 0;
}

static void table_free(table *t)
{
    if (!t->e)
        return;
    for (size_t i = 0; i < SHARDS; i++)
        pthread_mutex_destroy(&t->shards[i].lock);
    /* Cached key rows and claims are not secrets, but keep memory clean. */
    memset(t->e, 0, t->nsets * WAYS * sizeof *t->e);
    free(t->e);
    t->e = NULL;
}

/* FNV-1a over the padded key. */
static uint64_t hash_key(const uint8_t *k)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < KEY_LEN; i++) {
        h ^= k[i];
        h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
}

/* Locks the shard of `key` and returns its set (WAYS entries). */
static entry *lock_set(table *t, const uint8_t *key, shard **sh)
{
    size_t set = (size_t)hash_key(key) & (t->nsets - 1);
    *sh = &t->shards[set & (SHARDS - 1)];
    pthread_mutex_lock(&(*sh)->lock);
    return &t->e[set * WAYS];
}

static entry *find(entry *set, const uint8_t *key)
{
    for (size_t i = 0; i < WAYS; i++)
        if (set[i].stamp && memcmp(set[i].key, key, KEY_LEN) == 0)
            return &set[i];
    return NULL;
}

/* The entry for `key`: the existing one, else an empty or the least
 * recently used one (its key set, its value left for the caller). */
static entry *slot(entry *set, const uint8_t *key)
{
    entry *e = find(set, key);
    if (e)
        return e;
    e = &set[0];
    for (size_t i = 1; i < WAYS && e->stamp; i++)
        if (!set[i].stamp || set[i].stamp < e->stamp)
            e = &set[i];
    memset(e, 0, sizeof *e);
    memcpy(e->key, key, KEY_LEN);
    return e;
}

static void text_key(uint8_t out[KEY_LEN], const char *s)
{
    memset(out, 0, KEY_LEN);
    size_t n = strnlen(s, KEY_LEN);
    memcpy(out, s, n);
}

int auth_cache_new(auth_cache **out, size_t entries)
{
    *out = NULL;
    auth_cache *c = calloc(1, sizeof *c);
    if (!c)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    if (entries < 64)
        entries = 64;
    int rc = table_init(&c->keys, entries);
    if (rc == 0)
        rc = table_init(&c->tokens, entries);
    if (rc == 0)
        rc = table_init(&c->touch, entries);
    if (rc != 0) {
        auth_cache_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void auth_cache_free(auth_cache *c)
{
    if (!c)
        return;
    table_free(&c->keys);
    table_free(&c->tokens);
    table_free(&c->touch);
    free(c);
}

bool auth_cache_key_get(auth_cache *c, const char *hmac_hex, int64_t epoch, int64_t now_ms, auth_cached_key *out)
{
    uint8_t key[KEY_LEN];
    shard *sh;
    bool hit = false;
    text_key(key, hmac_hex);
    entry *set = lock_set(&c->keys, key, &sh);
    entry *e = find(set, key);
    if (e && e->tag == epoch && now_ms >= e->born_ms && now_ms - e->born_ms < AUTH_CACHE_KEY_MAX_AGE_MS) {
        *out = e->v.k;
        e->stamp = ++sh->clock;
        hit = true;
    }
    pthread_mutex_unlock(&sh->lock);
    return hit;
}

void auth_cache_key_put(auth_cache *c, const char *hmac_hex, int64_t epoch, int64_t now_ms, const auth_cached_key *k)
{
    uint8_t key[KEY_LEN];
    shard *sh;
    text_key(key, hmac_hex);
    entry *set = lock_set(&c->keys, key, &sh);
    entry *e = slot(set, key);
    /* A slower thread must not replace a newer epoch's row with an older. */
    if (!e->stamp || e->tag <= epoch) {
        e->tag = epoch;
        e->born_ms = now_ms;
        e->v.k = *k;
    }
    e->stamp = ++sh->clock;
    pthread_mutex_unlock(&sh->lock);
}

bool auth_cache_token_get(auth_cache *c, const uint8_t digest[32], uint64_t gen, int64_t now_s,
                          auth_cached_token *out)
{
    uint8_t key[KEY_LEN] = {0};
    shard *sh;
    bool hit = false;
    memcpy(key, digest, 32);
    entry *set = lock_set(&c->tokens, key, &sh);
    entry *e = find(set, key);
    if (e && (uint64_t)e->tag == gen && now_s < e->v.t.exp) {
        *out = e->v.t;
        e->stamp = ++sh->clock;
        hit = true;
    }
    pthread_mutex_unlock(&sh->lock);
    return hit;
}

void auth_cache_token_put(auth_cache *c, const uint8_t digest[32], uint64_t gen, const auth_cached_token *t)
{
    uint8_t key[KEY_LEN] = {0};
    shard *sh;
    memcpy(key, digest, 32);
    entry *set = lock_set(&c->tokens, key, &sh);
    entry *e = slot(set, key);
    e->tag = (int64_t)gen;
    e->v.t = *t;
    e->stamp = ++sh->clock;
    pthread_mutex_unlock(&sh->lock);
}

bool auth_cache_touch_due(auth_cache *c, const char *key_id, int64_t now_ms, int64_t every_ms)
{
    uint8_t key[KEY_LEN];
    shard *sh;
    bool due = false;
    text_key(key, key_id);
    entry *set = lock_set(&c->touch, key, &sh);
    entry *e = find(set, key);
    if (!e || now_ms - e->v.last_ms >= every_ms || now_ms < e->v.last_ms) {
        e = slot(set, key);
        e->v.last_ms = now_ms;
        due = true;
    }
    e->stamp = ++sh->clock;
    pthread_mutex_unlock(&sh->lock);
    return due;
}
