/*
 * test_jobs_unpacked.c - the workers' cache of unpacked FMUs
 * (src/jobs/unpacked.h): one fill per blob however many jobs ask at once,
 * references, eviction of unused entries (idle time, entry count, least
 * recently used first), failed fills leave nothing, keys that cannot be
 * directory names are refused.
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

static int fill(void *ctx, const char *key, const char *dir)
{
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_fill_for_concurrent_jobs),
        cmocka_unit_test(test_eviction),
        cmocka_unit_test(test_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
