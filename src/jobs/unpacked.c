/* unpacked.c - the cache of unpacked FMUs (see unpacked.h): the table of
 * entries, references, eviction by idle time, count and bytes, and the
 * byte budget of fills. */
#include "jobs/unpacked.h"

#include "util/error.h"
#include "util/fsutil.h"

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define KEY_MAX 128

typedef struct {
    char key[KEY_MAX];
    char *path;
    unsigned refs;
    bool ready;     /* false while the first acquirer fills it */
    int64_t last_ms;
    uint64_t bytes;   /* ready: on disk */
    uint64_t reserve; /* filling: the budget it may write */
} entry;

struct unpacked_cache {
    pthread_mutex_t mu;
    pthread_cond_t filled;
    char *dir;
    unsigned max_entries;
    int64_t idle_ms;
    uint64_t seq; /* names of temporary and evicted directories */
    uint64_t max_bytes, bytes, reserved; /* budget; ready entries; fills in progress */
    entry *e;
    size_t n, cap;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A blob key becomes a directory name: only [0-9A-Za-z._-], no leading dot. */
static bool key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n >= KEY_MAX || k[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = k[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '_' ||
              c == '-'))
            return false;
    }
    return true;
}

int unpacked_cache_new(unpacked_cache **out, const char *dir, unsigned max_entries, int64_t idle_ms)
{
    *out = NULL;
    unpacked_cache *uc = calloc(1, sizeof *uc);
    if (!uc || !(uc->dir = strdup(dir))) {
        free(uc);
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    }
    fmugw_rmtree(dir);
    if (mkdir(dir, 0700) != 0) {
        int rc = fmugw_error_set(FMUGW_EIO, "cannot create %s: %s", dir, strerror(errno));
        free(uc->dir);
        free(uc);
        return rc;
    }
    pthread_mutex_init(&uc->mu, NULL);
    pthread_cond_init(&uc->filled, NULL);
    uc->max_entries = max_entries ? max_entries : 1;
    uc->idle_ms = idle_ms;
    uc->max_bytes = UNPACKED_DEFAULT_MAX_BYTES;
    *out = uc;
    return 0;
}

void unpacked_cache_set_max_bytes(unpacked_cache *uc, uint64_t max_bytes)
{
    pthread_mutex_lock(&uc->mu);
    uc->max_bytes = max_bytes ? max_bytes : 1;
    pthread_mutex_unlock(&uc->mu);
}

uint64_t unpacked_cache_bytes(unpacked_cache *uc)
{
    pthread_mutex_lock(&uc->mu);
    uint64_t b = uc->bytes;
    pthread_mutex_unlock(&uc->mu);
    return b;
}

/* Disk use of a filled directory (allocated blocks of everything in it;
 * not following links). nftw's callback has no context: one walk at a
 * time. */
static pthread_mutex_t du_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t du_total;

static int du_visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)path, (void)flag, (void)ftw;
    du_total += (uint64_t)st->st_blocks * 512;
    return 0;
}

static int disk_use(const char *dir, uint64_t *out)
{
    pthread_mutex_lock(&du_lock);
    du_total = 0;
    int r = nftw(dir, du_visit, 16, FTW_PHYS);
    *out = du_total;
    pthread_mutex_unlock(&du_lock);
    return r == 0 ? 0 : fmugw_error_set(FMUGW_EIO, "cannot measure the unpacked FMU: %s", strerror(errno));
}

static entry *find(unpacked_cache *uc, const char *key)
{
    for (size_t i = 0; i < uc->n; i++)
        if (strcmp(uc->e[i].key, key) == 0)
            return &uc->e[i];
    return NULL;
}

/* Takes entry i out of the table; its directory is renamed aside under the
 * lock (so a new fill of the same key cannot meet it) and its new name
 * returned for removal outside the lock (NULL if it had none). */
static char *detach(unpacked_cache *uc, size_t i)
{
    entry *e = &uc->e[i];
    char *gone = NULL;
    if (e->path && e->ready) {
        if (asprintf(&gone, "%s/.evicted-%llu", uc->dir, (unsigned long long)++uc->seq) < 0 ||
            rename(e->path, gone) != 0) {
            free(gone);
            gone = e->path; /* remove it in place: no fill can be running for it */
            e->path = NULL;
        }
    }
    free(e->path);
    if (e->ready)
        uc->bytes -= e->bytes;
    uc->e[i] = uc->e[--uc->n];
    return gone;
}

/* The least recently used unused ready entry, or SIZE_MAX. */
static size_t lru_unused(const unpacked_cache *uc, size_t *unused)
{
    size_t lru = SIZE_MAX, n = 0;
    for (size_t i = 0; i < uc->n; i++) {
        if (!uc->e[i].ready || uc->e[i].refs)
            continue;
        n++;
        if (lru == SIZE_MAX || uc->e[i].last_ms < uc->e[lru].last_ms)
            lru = i;
    }
    if (unused)
        *unused = n;
    return lru;
}

/* Picks the unused entries to drop (idle too long, or the least recently
 * used beyond max_entries); returns their directories, NULL-terminated. */
static char **collect_evictions(unpacked_cache *uc, int64_t now)
{
    char **gone = calloc(uc->n + 1, sizeof *gone);
    size_t ng = 0;
    if (!gone)
        return NULL;
    for (size_t i = 0; i < uc->n;) {
        entry *e = &uc->e[i];
        if (e->ready && e->refs == 0 && now - e->last_ms > uc->idle_ms) {
            char *p = detach(uc, i);
            if (p)
                gone[ng++] = p;
            continue;
        }
        i++;
    }
    for (;;) {
        size_t unused = 0, lru = lru_unused(uc, &unused);
        if (lru == SIZE_MAX || (unused <= uc->max_entries && uc->bytes + uc->reserved <= uc->max_bytes))
            break;
        char *p = detach(uc, lru);
        if (p)
            gone[ng++] = p;
    }
    return gone;
}

/* Makes room for a fill: evicts unused entries (least recently used
 * first, into `gone`, with room for every entry) until `want` bytes are
 * free or none is left; returns what is free, at most `want`. */
static uint64_t make_room(unpacked_cache *uc, uint64_t want, char **gone)
{
    size_t ng = 0;
    for (;;) {
        uint64_t used = uc->bytes + uc->reserved;
        uint64_t avail = used < uc->max_bytes ? uc->max_bytes - used : 0;
        size_t lru;
        if (avail >= want || (lru = lru_unused(uc, NULL)) == SIZE_MAX)
            return avail < want ? avail : want;
        char *p = detach(uc, lru);
        if (p)
            gone[ng++] = p;
    }
}

static void remove_all(char **gone)
{
    for (size_t i = 0; gone && gone[i]; i++) {
        fmugw_rmtree(gone[i]);
        free(gone[i]);
    }
    free(gone);
}

void unpacked_cache_sweep(unpacked_cache *uc)
{
    pthread_mutex_lock(&uc->mu);
    char **gone = collect_evictions(uc, mono_ms());
    pthread_mutex_unlock(&uc->mu);
    remove_all(gone);
}

/* Fills a fresh temporary directory with at most `budget` bytes, measures
 * it (*bytes) and renames it to `final`. */
static int fill_entry(unpacked_cache *uc, const char *key, const char *final, unpacked_fill_fn fill, void *ctx,
                      uint64_t budget, uint64_t *bytes)
{
    char *tmp = NULL;
    pthread_mutex_lock(&uc->mu);
    unsigned long long n = ++uc->seq;
    pthread_mutex_unlock(&uc->mu);
    if (asprintf(&tmp, "%s/.fill-%llu", uc->dir, n) < 0)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    int rc = 0;
    if (mkdir(tmp, 0700) != 0)
        rc = fmugw_error_set(FMUGW_EIO, "cannot create %s: %s", tmp, strerror(errno));
    else if ((rc = fill(ctx, key, tmp, budget)) == 0 && (rc = disk_use(tmp, bytes)) == 0) {
        if (*bytes > budget)
            rc = fmugw_error_set(FMUGW_ETOOBIG, "the unpacked FMU takes %llu bytes, over its budget of %llu",
                                 (unsigned long long)*bytes, (unsigned long long)budget);
        else if (rename(tmp, final) != 0)
            rc = fmugw_error_set(FMUGW_EIO, "cannot publish the unpacked FMU: %s", strerror(errno));
    }
    if (rc != 0)
        fmugw_rmtree(tmp);
    free(tmp);
    return rc;
}

int unpacked_cache_acquire(unpacked_cache *uc, const char *blob_key, unpacked_fill_fn fill, void *ctx,
                           const char **path)
{
    *path = NULL;
    if (!key_ok(blob_key))
        return fmugw_error_set(FMUGW_EINVALID, "unusable blob key");
    pthread_mutex_lock(&uc->mu);
    char **gone = collect_evictions(uc, mono_ms());
    entry *e;
    while ((e = find(uc, blob_key)) && !e->ready)
        pthread_cond_wait(&uc->filled, &uc->mu);
    if (e) {
        e->refs++;
        e->last_ms = mono_ms();
        *path = e->path;
        pthread_mutex_unlock(&uc->mu);
        remove_all(gone);
        return 0;
    }
    /* A miss: this thread fills it; others wait on `filled`. */
    int rc = 0;
    char *final = NULL;
    if (uc->n == uc->cap) {
        size_t cap = uc->cap ? uc->cap * 2 : 16;
        entry *ne = realloc(uc->e, cap * sizeof *ne);
        if (!ne)
            rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        else
            uc->e = ne, uc->cap = cap;
    }
    if (rc == 0 && asprintf(&final, "%s/%s", uc->dir, blob_key) < 0) {
        final = NULL;
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    }
    uint64_t budget = 0;
    char **room = rc == 0 ? calloc(uc->n + 1, sizeof *room) : NULL;
    if (rc == 0 && room) {
        uint64_t want = uc->max_bytes < UNPACKED_FILL_MAX ? uc->max_bytes : UNPACKED_FILL_MAX;
        if ((budget = make_room(uc, want, room)) == 0)
            rc = fmugw_error_set(FMUGW_ELIMIT,
                                 "the unpacked-FMU cache is full: %llu of %llu bytes are in use by running jobs",
                                 (unsigned long long)(uc->bytes + uc->reserved), (unsigned long long)uc->max_bytes);
    } else if (rc == 0) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    }
    if (rc != 0) {
        pthread_mutex_unlock(&uc->mu);
        free(final);
        remove_all(gone);
        remove_all(room);
        return rc;
    }
    e = &uc->e[uc->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->key, sizeof e->key, "%s", blob_key);
    e->path = final;
    e->refs = 1;
    e->reserve = budget;
    uc->reserved += budget;
    pthread_mutex_unlock(&uc->mu);
    remove_all(gone);
    remove_all(room);

    uint64_t bytes = 0;
    rc = fill_entry(uc, blob_key, final, fill, ctx, budget, &bytes);

    pthread_mutex_lock(&uc->mu);
    e = find(uc, blob_key); /* the table may have moved */
    uc->reserved -= e->reserve;
    e->reserve = 0;
    if (rc == 0) {
        e->ready = true;
        e->last_ms = mono_ms();
        e->bytes = bytes;
        uc->bytes += bytes;
        *path = e->path;
    } else {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", fmugw_error_last());
        e->path = NULL;
        free(final);
        uc->e[e - uc->e] = uc->e[--uc->n];
        fmugw_error_set(rc, "%s", msg);
    }
    pthread_cond_broadcast(&uc->filled);
    pthread_mutex_unlock(&uc->mu);
    return rc;
}

void unpacked_cache_release(unpacked_cache *uc, const char *blob_key)
{
    pthread_mutex_lock(&uc->mu);
    entry *e = find(uc, blob_key);
    if (e && e->refs > 0) {
        e->refs--;
        e->last_ms = mono_ms();
    }
    pthread_mutex_unlock(&uc->mu);
}

void unpacked_cache_free(unpacked_cache *uc)
{
    if (!uc)
        return;
    for (size_t i = 0; i < uc->n; i++)
        free(uc->e[i].path);
    free(uc->e);
    fmugw_rmtree(uc->dir);
    free(uc->dir);
    pthread_mutex_destroy(&uc->mu);
    pthread_cond_destroy(&uc->filled);
    free(uc);
}
