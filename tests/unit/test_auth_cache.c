/*
 * test_auth_cache.c - the guard's caches (src/auth/auth_cache.h): key rows
 * only served at their epoch, tokens only at their keyring generation and
 * before exp, the touch throttle, eviction within the bound, and the
 * keyring generation bumped by jwt_keyring_remove.
 */
#include "auth/auth_cache.h"
#include "auth/jwt.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static void hex_of(char out[65], unsigned n)
{
    snprintf(out, 65, "%064x", n);
}

static void test_key_epoch(void **state)
{
    (void)state;
    auth_cache *c = NULL;
    assert_int_equal(auth_cache_new(&c, 64), 0);
    char h[65];
    hex_of(h, 1);
    auth_cached_key k = {0}, got;
    snprintf(k.id, sizeof k.id, "key_1");
    snprintf(k.tier, sizeof k.tier, "pro");
    assert_false(auth_cache_key_get(c, h, 5, 1000, &got));
    auth_cache_key_put(c, h, 5, 1000, &k);
    assert_true(auth_cache_key_get(c, h, 5, 1000, &got));
    assert_string_equal(got.id, "key_1");
    assert_string_equal(got.tier, "pro");
    /* Another epoch: a miss (the row must be read again). */
    assert_false(auth_cache_key_get(c, h, 6, 1000, &got));
    /* A slow thread's older row never replaces a newer one. */
    k.revoked = true;
    auth_cache_key_put(c, h, 7, 1000, &k);
    k.revoked = false;
    auth_cache_key_put(c, h, 6, 1000, &k);
    assert_true(auth_cache_key_get(c, h, 7, 1000, &got));
    assert_true(got.revoked);
    /* Entries age out (a writer killed between commit and bump), and a
     * clock that went back does not keep one alive. */
    assert_true(auth_cache_key_get(c, h, 7, 1000 + AUTH_CACHE_KEY_MAX_AGE_MS - 1, &got));
    assert_false(auth_cache_key_get(c, h, 7, 1000 + AUTH_CACHE_KEY_MAX_AGE_MS, &got));
    assert_false(auth_cache_key_get(c, h, 7, 999, &got));
    auth_cache_free(c);
}

static void test_token_gen_and_exp(void **state)
{
    (void)state;
    auth_cache *c = NULL;
    assert_int_equal(auth_cache_new(&c, 64), 0);
    uint8_t d[32] = {1, 2, 3};
    auth_cached_token t = {.exp = 1000}, got;
    snprintf(t.sub, sizeof t.sub, "acct_1");
    snprintf(t.key_id, sizeof t.key_id, "key_1");
    auth_cache_token_put(c, d, 3, &t);
    assert_true(auth_cache_token_get(c, d, 3, 999, &got));
    assert_string_equal(got.sub, "acct_1");
    assert_string_equal(got.key_id, "key_1");
    assert_false(auth_cache_token_get(c, d, 3, 1000, &got)); /* expired */
    assert_false(auth_cache_token_get(c, d, 4, 10, &got));   /* a key was removed */
    d[0] = 9;
    assert_false(auth_cache_token_get(c, d, 3, 10, &got));   /* other bytes */
    auth_cache_free(c);
}

static void test_touch_throttle(void **state)
{
    (void)state;
    auth_cache *c = NULL;
    assert_int_equal(auth_cache_new(&c, 64), 0);
    assert_true(auth_cache_touch_due(c, "key_a", 1000, 60000));
    assert_false(auth_cache_touch_due(c, "key_a", 2000, 60000));
    assert_true(auth_cache_touch_due(c, "key_b", 2000, 60000));
    assert_false(auth_cache_touch_due(c, "key_a", 60999, 60000));
    assert_true(auth_cache_touch_due(c, "key_a", 61000, 60000));
    auth_cache_free(c);
}

static void test_bounded(void **state)
{
    (void)state;
    auth_cache *c = NULL;
    assert_int_equal(auth_cache_new(&c, 64), 0);
    char h[65];
    auth_cached_key k = {0}, got;
    for (unsigned i = 0; i < 10000; i++) {
        hex_of(h, i);
        snprintf(k.id, sizeof k.id, "key_%u", i);
        auth_cache_key_put(c, h, 1, 1000, &k);
    }
    unsigned hits = 0;
    for (unsigned i = 0; i < 10000; i++) {
        hex_of(h, i);
        if (auth_cache_key_get(c, h, 1, 1000, &got)) {
            hits++;
            char want[64];
            snprintf(want, sizeof want, "key_%u", i);
            assert_string_equal(got.id, want); /* never another key's row */
        }
    }
    assert_true(hits > 0);
    assert_true(hits <= 64);
    auth_cache_free(c);
}

static void test_keyring_generation(void **state)
{
    (void)state;
    jwt_keyring *kr = NULL;
    uint8_t key[32] = {0};
    assert_int_equal(jwt_keyring_new(&kr), 0);
    assert_int_equal(jwt_keyring_add(kr, "a", key, sizeof key, true), 0);
    key[0] = 1;
    assert_int_equal(jwt_keyring_add(kr, "b", key, sizeof key, false), 0);
    uint64_t g = jwt_keyring_generation(kr);
    assert_int_equal(jwt_keyring_set_active(kr, "b"), 0);
    assert_true(jwt_keyring_generation(kr) == g);
    assert_int_equal(jwt_keyring_remove(kr, "a"), 0);
    assert_true(jwt_keyring_generation(kr) != g);
    jwt_keyring_free(kr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_epoch),
        cmocka_unit_test(test_token_gen_and_exp),
        cmocka_unit_test(test_touch_throttle),
        cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_keyring_generation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
