/*
 * test_jobs_unpacked.c - the workers' cache of unpacked FMUs
 * (src/jobs/unpacked.h): one fill per blob however many jobs ask at once,
 * references, eviction of unused entries (idle time, entry count, least
 * recently used first), failed fills leave nothing, keys that cannot be
 * directory names are refused, the byte budget (eviction by bytes, each
 * fill bounded by what is left, a miss refused while entries in use take
 * the budget, a fill over its budget refused).
 */
#include "jobs/unpacked.h"
#include "util/error.h"
#include "util/fsutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#pragma GCC diagnostic ignored "-Wformat-truncation"

typedef struct {
    int fills;
    int fail;
    pthread_mutex_t mu;
} counter;

static int fill(void *ctx, const char *key, const char *dir, uint64_t max_bytes)
{
    (void)max_bytes;
    counter *c = ctx;
    pthread_mutex_lock(&c->mu);
    c->fills++;
    int fail = c->fail;
    pthread_mutex_unlock(&c->mu);
    usleep(20000); /* let concurrent acquirers arrive while this one fills */
    if (fail)
        return fmugw_error_set(FMUGW_EIO, "fill failed on purpose");
    char path[4096];
    snprintf(path, sizeof path, "%s/key.txt", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return FMUGW_EIO;
    fputs(key, f);
    fclose(f);
    return 0;
}

static bool has_file(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/key.txt", dir);
    return access(path, F_OK) == 0;
}

typedef struct {
    unpacked_cache *uc;
    counter *c;
    const char *path;
    int rc;
} acq_arg;

static void *acquire_main(void *p)
{
    acq_arg *a = p;
    a->rc = unpacked_cache_acquire(a->uc, "abc123", fill, a->c, &a->path);
    return NULL;
}

static void test_one_fill_for_concurrent_jobs(void **state)
{
    (void)state;
    char *dir = NULL;
    assert_int_equal(fmugw_mkdtemp(&dir, "fmugw-test-unpacked-"), 0);
    char cache_dir[4096];
    snprintf(cache_dir, sizeof cache_dir, "%s/fmus", dir);
    unpacked_cache *uc = NULL;
    assert_int_equal(unpacked_cache_new(&uc, cache_dir, 4, 60000), 0);
    counter c = {.mu = PTHREAD_MUTEX_INITIALIZER};
    pthread_t th[4];
    acq_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (acq_arg){uc, &c, NULL, -1};
        assert_int_equal(pthread_create(&th[i], NULL, acquire_main, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].rc, 0);
        assert_non_null(args[i].path);
        assert_true(has_file(args[i].path));
        assert_string_equal(args[i].path, args[0].path);
    }
    assert_int_equal(c.fills, 1);
    /* Held entries survive a sweep even with idle time 0 elsewhere; here
     * they are simply still there after all four are released. */
    for (int i = 0; i < 4; i++)
        unpacked_cache_release(uc, "abc123");
    const char *again = NULL;
    assert_int_equal(unpacked_cache_acquire(uc, "abc123", fill, &c, &again), 0);
    assert_int_equal(c.fills, 1);
    unpacked_cache_release(uc, "abc123");
    unpacked_cache_free(uc);
    struct stat st;
    assert_int_not_equal(stat(cache_dir, &st), 0); /* removed with the cache */
    fmugw_rmtree(dir);
    free(dir);
}

static void test_eviction(void **state)
{
    (void)state;
    char *dir = NULL;
    assert_int_equal(fmugw_mkdtemp(&dir, "fmugw-test-unpacked-"), 0);
    unpacked_cache *uc = NULL;
    assert_int_equal(unpacked_cache_new(&uc, dir, 2, 60000), 0);
    counter c = {.mu = PTHREAD_MUTEX_INITIALIZER};
    const char *pa = NULL, *pb = NULL, *pc = NULL, *p = NULL;
    char keep_a[4096];

    assert_int_equal(unpacked_cache_acquire(uc, "a", fill, &c, &pa), 0);
    snprintf(keep_a, sizeof keep_a, "%s", pa);
    unpacked_cache_release(uc, "a");
    usleep(2000);
    assert_int_equal(unpacked_cache_acquire(uc, "b", fill, &c, &pb), 0);
    unpacked_cache_release(uc, "b");
    usleep(2000);
    /* "c" is held: a third unused entry would exceed 2, but held ones do
     * not count and are never evicted. */
    assert_int_equal(unpacked_cache_acquire(uc, "c", fill, &c, &pc), 0);
    assert_int_equal(c.fills, 3);
    assert_true(has_file(keep_a));
    unpacked_cache_release(uc, "c");
    /* Now three unused: the next acquire evicts the least recently used,
     * "a", and its directory is gone. */
    assert_int_equal(unpacked_cache_acquire(uc, "b", fill, &c, &p), 0);
    assert_int_equal(c.fills, 3);
    assert_false(has_file(keep_a));
    unpacked_cache_release(uc, "b");
    assert_int_equal(unpacked_cache_acquire(uc, "a", fill, &c, &p), 0);
    assert_int_equal(c.fills, 4); /* filled again */
    unpacked_cache_release(uc, "a");
    unpacked_cache_free(uc);
    fmugw_rmtree(dir);
    free(dir);

    /* Idle time 0: an unused entry goes at the next sweep, a held one
     * stays. */
    assert_int_equal(fmugw_mkdtemp(&dir, "fmugw-test-unpacked-"), 0);
    assert_int_equal(unpacked_cache_new(&uc, dir, 8, 0), 0);
    assert_int_equal(unpacked_cache_acquire(uc, "held", fill, &c, &p), 0);
    char held[4096];
    snprintf(held, sizeof held, "%s", p);
    assert_int_equal(unpacked_cache_acquire(uc, "idle", fill, &c, &p), 0);
    char idle[4096];
    snprintf(idle, sizeof idle, "%s", p);
    unpacked_cache_release(uc, "idle");
    usleep(2000);
    unpacked_cache_sweep(uc);
    assert_false(has_file(idle));
    assert_true(has_file(held));
    unpacked_cache_release(uc, "held");
    unpacked_cache_free(uc);
    fmugw_rmtree(dir);
    free(dir);
}

static void test_failures(void **state)
{
    (void)state;
    char *dir = NULL;
    assert_int_equal(fmugw_mkdtemp(&dir, "fmugw-test-unpacked-"), 0);
    unpacked_cache *uc = NULL;
    assert_int_equal(unpacked_cache_new(&uc, dir, 4, 60000), 0);
    counter c = {.mu = PTHREAD_MUTEX_INITIALIZER, .fail = 1};
    const char *p = NULL;
    assert_int_equal(unpacked_cache_acquire(uc, "k1", fill, &c, &p), FMUGW_EIO);
    assert_null(p);
    assert_non_null(strstr(fmugw_error_last(), "on purpose"));
    /* Nothing was left behind: the directory holds no entry. */
    char path[4096];
    snprintf(path, sizeof path, "%s/k1", dir);
    assert_int_not_equal(access(path, F_OK), 0);
    /* The next acquire fills again and succeeds. */
    c.fail = 0;
    assert_int_equal(unpacked_cache_acquire(uc, "k1", fill, &c, &p), 0);
    assert_int_equal(c.fills, 2);
    unpacked_cache_release(uc, "k1");
    /* Keys that are no plain directory names. */
    const char *bad[] = {"", "../x", "a/b", ".hidden", "sp ace"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(unpacked_cache_acquire(uc, bad[i], fill, &c, &p), FMUGW_EINVALID);
    assert_int_equal(c.fills, 2);
    unpacked_cache_free(uc);
    unpacked_cache_free(NULL);
    fmugw_rmtree(dir);
    free(dir);
}

/* A fill of `size` bytes that, like the real one, stops at its budget;
 * `lie` ignores the budget (the cache must notice). */
typedef struct {
    size_t size;
    bool lie;
    uint64_t last_budget;
} sized;

static int fill_sized(void *ctx, const char *key, const char *dir, uint64_t max_bytes)
{
    (void)key;
    sized *z = ctx;
    z->last_budget = max_bytes;
    if (z->size > max_bytes && !z->lie)
        return fmugw_error_set(FMUGW_ETOOBIG, "over the budget of %llu", (unsigned long long)max_bytes);
    char path[4096];
    snprintf(path, sizeof path, "%s/data.bin", dir);
    FILE *f = fopen(path, "wb");
    if (!f)
        return FMUGW_EIO;
    char *buf = calloc(1, z->size);
    for (size_t i = 0; i < z->size; i++)
        buf[i] = (char)(i * 131 + 7); /* not sparse */
    size_t w = fwrite(buf, 1, z->size, f);
    free(buf);
    fclose(f);
    return w == z->size ? 0 : FMUGW_EIO;
}

static void test_byte_budget(void **state)
{
    (void)state;
    char *dir = NULL;
    assert_int_equal(fmugw_mkdtemp(&dir, "fmugw-test-unpacked-"), 0);
    unpacked_cache *uc = NULL;
    assert_int_equal(unpacked_cache_new(&uc, dir, 100, 600000), 0);
    const uint64_t cap = (uint64_t)1 << 20;
    unpacked_cache_set_max_bytes(uc, cap);
    sized z = { 600 << 10, false, 0 };
    const char *pa = NULL, *pb = NULL, *pc = NULL;
    char path[4096];

    /* a, then b: a (unused) goes to make room for b */
    assert_int_equal(unpacked_cache_acquire(uc, "a", fill_sized, &z, &pa), 0);
    assert_int_equal(z.last_budget, cap);
    assert_true(unpacked_cache_bytes(uc) >= (600u << 10));
    unpacked_cache_release(uc, "a");
    assert_int_equal(unpacked_cache_acquire(uc, "b", fill_sized, &z, &pb), 0);
    assert_true(unpacked_cache_bytes(uc) <= cap);
    snprintf(path, sizeof path, "%s/a", dir);
    assert_int_not_equal(access(path, F_OK), 0);

    /* b held: c may only have what is left, which is too little */
    assert_int_equal(unpacked_cache_acquire(uc, "c", fill_sized, &z, &pc), FMUGW_ETOOBIG);
    assert_true(z.last_budget <= cap - (600u << 10));
    /* a fill that ignores its budget is refused after the fact */
    z.lie = true;
    assert_int_equal(unpacked_cache_acquire(uc, "c", fill_sized, &z, &pc), FMUGW_ETOOBIG);
    assert_non_null(strstr(fmugw_error_last(), "over its budget"));
    snprintf(path, sizeof path, "%s/c", dir);
    assert_int_not_equal(access(path, F_OK), 0);
    z.lie = false;
    assert_true(unpacked_cache_bytes(uc) <= cap);

    /* the budget all in use: a miss is refused without a fill */
    unpacked_cache_set_max_bytes(uc, 4096);
    z.last_budget = 12345;
    assert_int_equal(unpacked_cache_acquire(uc, "c", fill_sized, &z, &pc), FMUGW_ELIMIT);
    assert_int_equal(z.last_budget, 12345);
    assert_non_null(strstr(fmugw_error_last(), "cache is full"));

    /* b released: it is evicted to make room, c fits again */
    unpacked_cache_release(uc, "b");
    unpacked_cache_set_max_bytes(uc, cap);
    assert_int_equal(unpacked_cache_acquire(uc, "c", fill_sized, &z, &pc), 0);
    snprintf(path, sizeof path, "%s/b", dir);
    assert_int_not_equal(access(path, F_OK), 0);
    assert_true(unpacked_cache_bytes(uc) <= cap);
    unpacked_cache_release(uc, "c");
    unpacked_cache_free(uc);
    fmugw_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_fill_for_concurrent_jobs),
        cmocka_unit_test(test_eviction),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_byte_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
