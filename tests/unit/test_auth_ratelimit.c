/*
 * test_auth_ratelimit.c - src/auth/ratelimit: GCRA burst, refill, retry
 * times, header values, key independence, bounded size with eviction,
 * exact counting under concurrency, and the abuse counter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/ratelimit.h"
#include "util/error.h"

static void test_burst_and_refill(void **state)
{
    (void)state;
    ratelimit *rl;
    ratelimit_result r;
    assert_int_equal(ratelimit_new(&rl, 1000), 0);
    double t = 1000.0;
    /* burst 5 at once, 1 per second after */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(ratelimit_check_at(&r, rl, "k_a", 1.0, 5, t), 0);
        assert_true(r.allowed);
        assert_int_equal(r.remaining, 4 - i);
        assert_int_equal(r.limit, 5);
        assert_int_equal(r.window, 5);
        assert_int_equal(r.reset, i + 1); /* seconds until the whole burst is back */
        assert_int_equal(r.retry_after, 0);
    }
    assert_int_equal(ratelimit_check_at(&r, rl, "k_a", 1.0, 5, t), FMUGW_ELIMIT);
    assert_false(r.allowed);
    assert_int_equal(r.remaining, 0);
    assert_int_equal(r.retry_after, 1);
    assert_true(fabs(r.retry_after_exact - 1.0) < 1e-6);
    assert_int_equal(r.reset, 5);
    /* refused requests are not counted: 0.5 s later, 0.5 s to wait */
    assert_int_equal(ratelimit_check_at(&r, rl, "k_a", 1.0, 5, t + 0.5), FMUGW_ELIMIT);
    assert_true(fabs(r.retry_after_exact - 0.5) < 1e-6);
    assert_int_equal(r.retry_after, 1);
    /* after 1 s exactly one more */
    assert_int_equal(ratelimit_check_at(&r, rl, "k_a", 1.0, 5, t + 1.0), 0);
    assert_int_equal(r.remaining, 0);
    assert_int_equal(ratelimit_check_at(&r, rl, "k_a", 1.0, 5, t + 1.0), FMUGW_ELIMIT);
    /* another key is unaffected */
    assert_int_equal(ratelimit_check_at(&r, rl, "k_b", 1.0, 5, t + 1.0), 0);
    assert_int_equal(r.remaining, 4);
    /* after a long idle period the full burst is back */
    assert_int_equal(ratelimit_check_at(&r, rl, "k_a", 1.0, 5, t + 100), 0);
    assert_int_equal(r.remaining, 4);
    /* a longer wait reports whole seconds, rounded up */
    for (int i = 0; i < 4; i++)
        assert_int_equal(ratelimit_check_at(&r, rl, "k_slow", 0.25, 1, t + i * 4.0), 0);
    assert_int_equal(ratelimit_check_at(&r, rl, "k_slow", 0.25, 1, t + 12.5), FMUGW_ELIMIT);
    assert_int_equal(r.retry_after, 4); /* 3.5 s -> 4 */
    assert_int_equal(r.window, 4);
    ratelimit_free(rl);
    ratelimit_free(NULL);
}

static void test_steady_rate(void **state)
{
    (void)state;
    ratelimit *rl;
    ratelimit_result r;
    assert_int_equal(ratelimit_new(&rl, 10), 0);
    /* 20 requests/s offered for 10 s against 10/s with burst 20 */
    int allowed = 0;
    for (int i = 0; i < 200; i++)
        allowed += ratelimit_check_at(&r, rl, "key", 10.0, 20, 50.0 + i * 0.05) == 0;
    /* the burst plus 10/s for the ~10 s that passed */
    assert_true(allowed >= 118 && allowed <= 121);
    ratelimit_free(rl);
}

static void test_headers(void **state)
{
    (void)state;
    ratelimit *rl;
    ratelimit_result r;
    char policy[128], st[128];
    assert_int_equal(ratelimit_new(&rl, 10), 0);
    assert_int_equal(ratelimit_check_at(&r, rl, "k", 10.0, 20, 1.0), 0);
    assert_int_equal(ratelimit_headers(policy, sizeof policy, st, sizeof st, "default", &r), 0);
    assert_string_equal(policy, "\"default\";q=20;w=2");
    assert_string_equal(st, "\"default\";r=19;t=1");
    for (int i = 0; i < 19; i++)
        assert_int_equal(ratelimit_check_at(&r, rl, "k", 10.0, 20, 1.0), 0);
    assert_int_equal(ratelimit_check_at(&r, rl, "k", 10.0, 20, 1.0), FMUGW_ELIMIT);
    assert_int_equal(ratelimit_headers(policy, sizeof policy, st, sizeof st, "tier-free", &r), 0);
    assert_string_equal(policy, "\"tier-free\";q=20;w=2");
    assert_string_equal(st, "\"tier-free\";r=0;t=2");
    assert_int_equal(r.retry_after, 1);
    assert_int_equal(ratelimit_headers(policy, 5, st, sizeof st, "default", &r), FMUGW_ETOOBIG);
    assert_int_equal(ratelimit_headers(policy, sizeof policy, st, sizeof st, "a\"b", &r), FMUGW_EINVALID);
    assert_int_equal(ratelimit_headers(policy, sizeof policy, st, sizeof st, "", &r), FMUGW_EINVALID);
    ratelimit_free(rl);
}

static void test_arguments(void **state)
{
    (void)state;
    ratelimit *rl = NULL;
    ratelimit_result r;
    assert_int_equal(ratelimit_new(&rl, 0), FMUGW_EINVALID);
    assert_null(rl);
    assert_int_equal(ratelimit_new(&rl, 10), 0);
    assert_int_equal(ratelimit_check_at(&r, rl, "k", 0.0, 5, 1), FMUGW_EINVALID);
    assert_int_equal(ratelimit_check_at(&r, rl, "k", NAN, 5, 1), FMUGW_EINVALID);
    assert_int_equal(ratelimit_check_at(&r, rl, "k", 1.0, 0, 1), FMUGW_EINVALID);
    assert_int_equal(ratelimit_check_at(&r, rl, "k", 1.0, RATELIMIT_BURST_MAX + 1, 1), FMUGW_EINVALID);
    assert_int_equal(ratelimit_check_at(&r, rl, "", 1.0, 5, 1), FMUGW_EINVALID);
    assert_int_equal(ratelimit_check_at(&r, rl, NULL, 1.0, 5, 1), FMUGW_EINVALID);
    char longkey[RATELIMIT_KEY_MAX + 2];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    assert_int_equal(ratelimit_check_at(&r, rl, longkey, 1.0, 5, 1), FMUGW_EINVALID);
    longkey[RATELIMIT_KEY_MAX] = '\0';
    assert_int_equal(ratelimit_check_at(&r, rl, longkey, 1.0, 5, 1), 0);
    /* extreme but valid parameters do not overflow */
    assert_int_equal(ratelimit_check_at(&r, rl, "slow", RATELIMIT_RATE_MIN, 1000, 1), 0);
    assert_int_equal(r.remaining, 999);
    assert_int_equal(ratelimit_check_at(&r, rl, "fast", RATELIMIT_RATE_MAX, RATELIMIT_BURST_MAX, 1), 0);
    assert_int_equal(r.remaining, RATELIMIT_BURST_MAX - 1);
    assert_int_equal(ratelimit_check_at(&r, rl, "slow", RATELIMIT_RATE_MIN, RATELIMIT_BURST_MAX, 1), FMUGW_EINVALID);
    /* the monotonic-clock entry point works */
    assert_int_equal(ratelimit_check(&r, rl, "mono", 1.0, 2), 0);
    assert_int_equal(ratelimit_check(&r, rl, "mono", 1.0, 2), 0);
    assert_int_equal(ratelimit_check(&r, rl, "mono", 1.0, 2), FMUGW_ELIMIT);
    ratelimit_free(rl);
}

static void test_bounded_size(void **state)
{
    (void)state;
    ratelimit *rl;
    ratelimit_result r;
    assert_int_equal(ratelimit_new(&rl, 640), 0); /* 10 per stripe */
    char key[32];
    /* many busy keys: the table never grows past its bound */
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "k_%d", i);
        assert_int_equal(ratelimit_check_at(&r, rl, key, 1.0, 3, 10.0), 0);
        assert_true(ratelimit_size(rl) <= 640);
    }
    assert_true(ratelimit_size(rl) > 320); /* and it is used */
    /* once they are idle, new keys replace them: still bounded */
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "n_%d", i);
        assert_int_equal(ratelimit_check_at(&r, rl, key, 1.0, 3, 100.0), 0);
    }
    assert_true(ratelimit_size(rl) <= 640);
    /* a busy key survives when there is idle garbage to evict instead */
    ratelimit *small;
    assert_int_equal(ratelimit_new(&small, 64 * 4), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(ratelimit_check_at(&r, small, "hot", 0.0001, 3, 1000.0), 0);
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof key, "cold_%d", i);
        ratelimit_check_at(&r, small, key, 1000.0, 1, 1000.0 + i); /* idle 1 ms later */
    }
    assert_int_equal(ratelimit_check_at(&r, small, "hot", 0.0001, 3, 3001.0), FMUGW_ELIMIT);
    ratelimit_free(small);
    ratelimit_free(rl);
}

typedef struct {
    ratelimit *rl;
    int allowed;
    int id;
} worker;

static void *hammer(void *arg)
{
    worker *w = arg;
    ratelimit_result r;
    char own[16];
    snprintf(own, sizeof own, "own_%d", w->id);
    for (int i = 0; i < 20000; i++) {
        if (ratelimit_check_at(&r, w->rl, "shared", RATELIMIT_RATE_MIN, 1000, 5.0) == 0)
            w->allowed++;
        ratelimit_check_at(&r, w->rl, own, 1.0, 1, 5.0);
    }
    return NULL;
}

static void test_concurrency(void **state)
{
    (void)state;
    ratelimit *rl;
    assert_int_equal(ratelimit_new(&rl, 1000), 0);
    enum { N = 4 };
    pthread_t th[N];
    worker w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (worker){.rl = rl, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &w[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        total += w[i].allowed;
    }
    assert_int_equal(total, 1000); /* exactly the burst, no lost update */
    assert_int_equal(ratelimit_size(rl), N + 1);
    ratelimit_free(rl);
}

static void test_abuse_counter(void **state)
{
    (void)state;
    abuse_counter *ac = NULL;
    assert_int_equal(abuse_counter_new(&ac, 0, 60, 10), FMUGW_EINVALID);
    assert_int_equal(abuse_counter_new(&ac, 3, 0, 10), FMUGW_EINVALID);
    assert_int_equal(abuse_counter_new(&ac, 3, 60, 0), FMUGW_EINVALID);
    assert_null(ac);
    assert_int_equal(abuse_counter_new(&ac, 3, 60, 1000), 0);
    /* three within a minute: true exactly once */
    assert_false(abuse_counter_fail_at(ac, "k1", 0));
    assert_false(abuse_counter_fail_at(ac, "k1", 10));
    assert_true(abuse_counter_fail_at(ac, "k1", 20));
    assert_false(abuse_counter_fail_at(ac, "k1", 21));
    assert_false(abuse_counter_fail_at(ac, "k1", 22));
    /* other keys are separate */
    assert_false(abuse_counter_fail_at(ac, "k2", 22));
    /* after a reset (admin unlock) it counts afresh */
    abuse_counter_reset(ac, "k1");
    assert_false(abuse_counter_fail_at(ac, "k1", 30));
    assert_false(abuse_counter_fail_at(ac, "k1", 31));
    assert_true(abuse_counter_fail_at(ac, "k1", 32));
    /* failures spread wider than the window do not lock */
    assert_false(abuse_counter_fail_at(ac, "k3", 0));
    assert_false(abuse_counter_fail_at(ac, "k3", 50));
    assert_false(abuse_counter_fail_at(ac, "k3", 100)); /* 0 is out of [40, 100] */
    assert_true(abuse_counter_fail_at(ac, "k3", 101));  /* 50, 100, 101 */
    /* bad keys are ignored */
    assert_false(abuse_counter_fail_at(ac, "", 1));
    assert_false(abuse_counter_fail_at(ac, NULL, 1));
    abuse_counter_reset(ac, "unknown");
    abuse_counter_free(ac);
    abuse_counter_free(NULL);
    /* threshold 1: the first failure locks */
    assert_int_equal(abuse_counter_new(&ac, 1, 1, 1), 0);
    assert_true(abuse_counter_fail(ac, "x"));
    assert_false(abuse_counter_fail(ac, "x"));
    abuse_counter_free(ac);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_and_refill), cmocka_unit_test(test_steady_rate),
        cmocka_unit_test(test_headers),          cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_bounded_size),     cmocka_unit_test(test_concurrency),
        cmocka_unit_test(test_abuse_counter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
