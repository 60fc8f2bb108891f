/* fmu_cache.c - the GET /fmu/{id} body cache (see fmu_cache.h). */
#include "http/fmu_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SHARDS 16

typedef struct {
    char *key; /* "<account id>\n<fmu id>" */
    uint64_t epoch;
    int64_t born_ms;
    char *body;
    size_t len;
} entry;

static entry slots[FMU_CACHE_SLOTS];
static pthread_mutex_t locks[SHARDS] = {
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
    PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
};

/* Writes the entry key into buf; false when it does not fit. */
static bool make_key(char *buf, size_t cap, const char *account_id, const char *fmu_id)
{
    size_t a = strlen(account_id), f = strlen(fmu_id);
    if (a + f + 2 > cap)
        return false;
    memcpy(buf, account_id, a);
    buf[a] = '\n';
    memcpy(buf + a + 1, fmu_id, f + 1);
    return true;
}

static size_t slot_of(const char *key)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    return (size_t)(h ^ (h >> 31)) % FMU_CACHE_SLOTS;
}

static void entry_clear(entry *e)
{
    free(e->key);
    free(e->body);
    memset(e, 0, sizeof *e);
}

bool fmu_cache_get(const char *account_id, const char *fmu_id, uint64_t epoch, int64_t now_ms, char **body,
                   size_t *len)
{
    char key[256];
    if (!account_id || !fmu_id || !make_key(key, sizeof key, account_id, fmu_id))
        return false;
    size_t i = slot_of(key);
    bool hit = false;
    pthread_mutex_lock(&locks[i % SHARDS]);
    entry *e = &slots[i];
    if (e->body && e->epoch == epoch && now_ms >= e->born_ms && now_ms - e->born_ms < FMU_CACHE_MAX_AGE_MS &&
        strcmp(e->key, key) == 0) {
        char *copy = malloc(e->len + 1);
        if (copy) {
            memcpy(copy, e->body, e->len + 1);
            *body = copy;
            *len = e->len;
            hit = true;
        }
    }
    pthread_mutex_unlock(&locks[i % SHARDS]);
    return hit;
}

void fmu_cache_put(const char *account_id, const char *fmu_id, uint64_t epoch, int64_t now_ms, const char *body,
                   size_t len)
{
    char key[256];
    if (!account_id || !fmu_id || !body || len > FMU_CACHE_ENTRY_MAX ||
        !make_key(key, sizeof key, account_id, fmu_id))
        return;
    entry n = {.epoch = epoch, .born_ms = now_ms, .len = len};
    n.key = strdup(key);
    n.body = malloc(len + 1);
    if (!n.key || !n.body) {
        entry_clear(&n);
        return;
    }
    memcpy(n.body, body, len);
    n.body[len] = '\0';

    size_t i = slot_of(key);
    entry old = {0};
    pthread_mutex_lock(&locks[i % SHARDS]);
    /* A slower thread must not replace a newer epoch's body with an older. */
    if (!slots[i].body || slots[i].epoch <= epoch) {
        old = slots[i];
        slots[i] = n;
    } else {
        old = n;
    }
    pthread_mutex_unlock(&locks[i % SHARDS]);
    entry_clear(&old);
}

void fmu_cache_clear(void)
{
    for (size_t i = 0; i < FMU_CACHE_SLOTS; i++) {
        pthread_mutex_lock(&locks[i % SHARDS]);
        entry old = slots[i];
        memset(&slots[i], 0, sizeof slots[i]);
        pthread_mutex_unlock(&locks[i % SHARDS]);
        entry_clear(&old);
    }
}
