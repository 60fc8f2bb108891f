/*
 * test_auth_apikey.c - src/auth/apikey: format, checksum (known answers
 * computed independently with Python's zlib.crc32, hashlib and hmac),
 * offline refusal of typos, id, hint and stored form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "auth/apikey.h"
#include "util/crypto.h"
#include "util/error.h"

/* Computed outside this code base (Python zlib / hashlib / hmac). */
#define KAT_KEY "fmugw_live_0123456789ABCDEFGHIJKLMNOPQRSTUv1278N5"
#define KAT_KEY2 "fmugw_live_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz36XVPy"
#define KAT_ID "k_655f12130ee58f24"
#define KAT_PEPPER "pepper-pepper-pepper-0123456789ab"
#define KAT_HASH "9b2cfe4064c7624608524f8612c9ea9eee485ab2b260d134416f6c463dc47cf6"

static void test_crc32(void **state)
{
    (void)state;
    assert_int_equal(apikey_crc32("123456789", 9), 0xCBF43926u);
    assert_int_equal(apikey_crc32("", 0), 0);
    assert_int_equal(apikey_crc32("a", 1), 0xE8B7BE43u);
}

static void test_known_keys(void **state)
{
    (void)state;
    assert_int_equal(strlen(KAT_KEY), APIKEY_LEN);
    assert_int_equal(apikey_parse(KAT_KEY, strlen(KAT_KEY)), 0);
    assert_int_equal(apikey_parse(KAT_KEY2, strlen(KAT_KEY2)), 0);
    char id[APIKEY_ID_LEN + 1], hint[APIKEY_HINT_LEN + 1], hash[APIKEY_HASH_LEN + 1];
    assert_int_equal(apikey_id(id, KAT_KEY), 0);
    assert_string_equal(id, KAT_ID);
    assert_int_equal(apikey_hint(hint, KAT_KEY), 0);
    assert_string_equal(hint, "fmugw_live_0123...78N5");
    assert_int_equal(apikey_hash(hash, (const uint8_t *)KAT_PEPPER, strlen(KAT_PEPPER), KAT_KEY), 0);
    assert_string_equal(hash, KAT_HASH);
}

static void test_refusals(void **state)
{
    (void)state;
    char k[APIKEY_LEN + 8];
    /* length */
    assert_int_equal(apikey_parse(KAT_KEY, APIKEY_LEN - 1), FMUGW_EAUTH);
    assert_non_null(strstr(fmugw_error_last(), "49 characters"));
    snprintf(k, sizeof k, "%sA", KAT_KEY);
    assert_int_equal(apikey_parse(k, strlen(k)), FMUGW_EAUTH);
    assert_int_equal(apikey_parse("", 0), FMUGW_EAUTH);
    assert_int_equal(apikey_parse(NULL, 0), FMUGW_EAUTH);
    /* prefix */
    strcpy(k, KAT_KEY);
    memcpy(k, "fmugw_test_", 11);
    assert_int_equal(apikey_parse(k, strlen(k)), FMUGW_EAUTH);
    assert_non_null(strstr(fmugw_error_last(), "start with"));
    /* characters */
    strcpy(k, KAT_KEY);
    k[20] = '_';
    assert_int_equal(apikey_parse(k, strlen(k)), FMUGW_EAUTH);
    assert_non_null(strstr(fmugw_error_last(), "invalid character"));
    strcpy(k, KAT_KEY);
    k[APIKEY_LEN - 1] = '\0';
    assert_int_equal(apikey_parse(k, APIKEY_LEN), FMUGW_EAUTH);
    /* every single-character typo in the random part and checksum is caught */
    static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    for (size_t pos = APIKEY_PREFIX_LEN; pos < APIKEY_LEN; pos++) {
        for (size_t a = 0; a < 62; a++) {
            strcpy(k, KAT_KEY);
            if (k[pos] == alphabet[a])
                continue;
            k[pos] = alphabet[a];
            if (apikey_parse(k, APIKEY_LEN) != FMUGW_EAUTH)
                fail_msg("typo at %zu accepted", pos);
        }
    }
    /* swapping neighbours and changing case are caught too */
    strcpy(k, KAT_KEY);
    char t = k[15];
    k[15] = k[16];
    k[16] = t;
    assert_int_equal(apikey_parse(k, APIKEY_LEN), FMUGW_EAUTH);
    assert_non_null(strstr(fmugw_error_last(), "checksum"));
    /* the message never contains the key */
    assert_null(strstr(fmugw_error_last(), "0123456789"));
}

static void test_generate(void **state)
{
    (void)state;
    enum { N = 1000 };
    char (*keys)[APIKEY_LEN + 1] = calloc(N, sizeof *keys);
    int seen[256] = {0};
    assert_non_null(keys);
    for (int i = 0; i < N; i++) {
        assert_int_equal(apikey_generate(keys[i]), 0);
        assert_int_equal(strlen(keys[i]), APIKEY_LEN);
        assert_memory_equal(keys[i], APIKEY_PREFIX, APIKEY_PREFIX_LEN);
        assert_int_equal(apikey_parse(keys[i], APIKEY_LEN), 0);
        for (int j = APIKEY_PREFIX_LEN; j < APIKEY_PREFIX_LEN + APIKEY_RANDOM_LEN; j++)
            seen[(unsigned char)keys[i][j]]++;
    }
    /* all 62 digits show up, roughly uniformly (32000 draws: ~516 each) */
    int distinct = 0;
    for (int c = 0; c < 256; c++) {
        if (seen[c]) {
            distinct++;
            assert_true(seen[c] > 350 && seen[c] < 700);
        }
    }
    assert_int_equal(distinct, 62);
    /* no duplicates, and distinct keys have distinct ids */
    for (int i = 0; i < N; i++) {
        for (int j = i + 1; j < N; j++)
            assert_string_not_equal(keys[i], keys[j]);
    }
    char id1[APIKEY_ID_LEN + 1], id2[APIKEY_ID_LEN + 1];
    assert_int_equal(apikey_id(id1, keys[0]), 0);
    assert_int_equal(apikey_id(id2, keys[1]), 0);
    assert_string_not_equal(id1, id2);
    assert_int_equal(strlen(id1), APIKEY_ID_LEN);
    free(keys);
}

static void test_hash(void **state)
{
    (void)state;
    char key[APIKEY_LEN + 1], h1[APIKEY_HASH_LEN + 1], h2[APIKEY_HASH_LEN + 1];
    const uint8_t pepper1[32] = {1}, pepper2[32] = {2};
    assert_int_equal(apikey_generate(key), 0);
    assert_int_equal(apikey_hash(h1, pepper1, sizeof pepper1, key), 0);
    assert_int_equal(apikey_hash(h2, pepper1, sizeof pepper1, key), 0);
    assert_string_equal(h1, h2);
    assert_int_equal(strlen(h1), 64);
    assert_null(strstr(h1, key + APIKEY_PREFIX_LEN));
    assert_int_equal(apikey_hash(h2, pepper2, sizeof pepper2, key), 0);
    assert_string_not_equal(h1, h2);
    assert_int_equal(apikey_hash(h2, pepper1, APIKEY_PEPPER_MIN - 1, key), FMUGW_EINVALID);
    assert_int_equal(apikey_hash(h2, NULL, 32, key), FMUGW_EINVALID);
    char hint[APIKEY_HINT_LEN + 1];
    assert_int_equal(apikey_hint(hint, "short"), FMUGW_EINVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32),    cmocka_unit_test(test_known_keys), cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_generate), cmocka_unit_test(test_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
