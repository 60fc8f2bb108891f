/* ThreadSpin.c - hostile FMU: in fmi2DoStep starts count threads (default
 * 10000, 64 KiB stacks) that all wait until the last one is started; then
 * releases and joins them. */
#include "hostile.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go = PTHREAD_COND_INITIALIZER;
static int released;

static void *wait_for_release(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    while (!released)
        pthread_cond_wait(&go, &lock);
    pthread_mutex_unlock(&lock);
    return NULL;
}

static int attack(hostile_ctx *h)
{
    int n = hostile_count(h) > 0 ? hostile_count(h) : 10000, started = 0, err = 0;
    pthread_t *threads = calloc((size_t)n, sizeof *threads);
    pthread_attr_t attr;

    if (!threads)
        return hostile_fail(h, "out of memory");
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 << 10);
    released = 0;
    while (started < n && !(err = pthread_create(&threads[started], &attr, wait_for_release, NULL)))
        started++;
    pthread_attr_destroy(&attr);
    pthread_mutex_lock(&lock);
    released = 1;
    pthread_cond_broadcast(&go);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    if (err)
        return hostile_fail(h, "pthread_create failed after %d threads: %s", started, strerror(err));
    hostile_loot(h, "started %d threads", started);
    return 0;
}

const hostile_def hostile_attack = { HOSTILE_AT_DOSTEP, attack };
