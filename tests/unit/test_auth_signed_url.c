/*
 * test_auth_signed_url.c - src/auth/signed_url: exact URLs with signatures
 * computed independently (Python hmac), expiry, and tampering of every
 * signed field, via both verification entry points; URLs bound to an API
 * key (v2): the key can be neither removed, swapped nor added.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/signed_url.h"
#include "util/error.h"

#define EXP 1700000300
static const uint8_t KEY[32] = "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk";
static const uint8_t KEY2[32] = "jjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjj";

static void expect(signed_url_failure want, const uint8_t *key, const char *method, const char *path,
                   const char *account, const char *expires, const char *sig, int64_t now)
{
    signed_url_failure why = (signed_url_failure)99;
    int rc = signed_url_verify(&why, key, 32, method, path, account, expires, sig, now);
    if (want == SIGNED_URL_OK) {
        if (rc != 0)
            fail_msg("refused: %s", fmugw_error_last());
    } else if (rc != FMUGW_EAUTH || why != want) {
        fail_msg("expected refusal %d, got rc %d why %d (%s)", want, rc, why, fmugw_error_last());
    }
}

static void test_make_known_answer(void **state)
{
    (void)state;
    char *url = NULL;
    assert_int_equal(signed_url_make(&url, KEY, 32, "PUT", "/fmu/upload/fmu_123", "acct_42", EXP), 0);
    assert_string_equal(url, "/fmu/upload/fmu_123?account=acct_42&expires=1700000300"
                             "&sig=z057-HI6RsrX4CyRN2yyayUuqeMGWFnJAnLtEU6j9LI");
    free(url);
    /* the account is percent-encoded in the URL, signed decoded */
    assert_int_equal(signed_url_make(&url, KEY, 32, "GET", "/fmu/fmu_9/blob", "a b&c", EXP), 0);
    assert_string_equal(url, "/fmu/fmu_9/blob?account=a%20b%26c&expires=1700000300"
                             "&sig=hhwgbD8RVyKw9xZFtxFZyh59XKnBC6o1FIr3_nKrSBo");
    free(url);
}

static void test_verify_fields(void **state)
{
    (void)state;
    const char *sig = "z057-HI6RsrX4CyRN2yyayUuqeMGWFnJAnLtEU6j9LI";
    const char *m = "PUT", *p = "/fmu/upload/fmu_123", *a = "acct_42", *e = "1700000300";
    expect(SIGNED_URL_OK, KEY, m, p, a, e, sig, EXP - 1);
    expect(SIGNED_URL_EXPIRED, KEY, m, p, a, e, sig, EXP);
    expect(SIGNED_URL_EXPIRED, KEY, m, p, a, e, sig, EXP + 3600);
    /* each signed field changed */
    expect(SIGNED_URL_TAMPERED, KEY, "GET", p, a, e, sig, EXP - 1);
    expect(SIGNED_URL_TAMPERED, KEY, m, "/fmu/upload/fmu_124", a, e, sig, EXP - 1);
    expect(SIGNED_URL_TAMPERED, KEY, m, p, "acct_43", e, sig, EXP - 1);
    expect(SIGNED_URL_TAMPERED, KEY, m, p, a, "1700000301", sig, EXP - 1);
    /* a pushed-back expiry on an expired URL is tampering, not expiry */
    expect(SIGNED_URL_TAMPERED, KEY, m, p, a, "1800000000", sig, EXP + 10);
    expect(SIGNED_URL_TAMPERED, KEY2, m, p, a, e, sig, EXP - 1);
    /* the signature itself */
    char s2[64];
    for (size_t i = 0; i < strlen(sig); i++) {
        strcpy(s2, sig);
        s2[i] = s2[i] == 'x' ? 'y' : 'x';
        expect(SIGNED_URL_TAMPERED, KEY, m, p, a, e, s2, EXP - 1);
    }
    snprintf(s2, sizeof s2, "%.42s", sig);
    expect(SIGNED_URL_TAMPERED, KEY, m, p, a, e, s2, EXP - 1);
    snprintf(s2, sizeof s2, "%s=", sig);
    expect(SIGNED_URL_TAMPERED, KEY, m, p, a, e, s2, EXP - 1);
    expect(SIGNED_URL_TAMPERED, KEY, m, p, a, e, "", EXP - 1);
    /* malformed values */
    expect(SIGNED_URL_MALFORMED, KEY, m, p, a, e, NULL, EXP - 1);
    expect(SIGNED_URL_MALFORMED, KEY, m, p, NULL, e, sig, EXP - 1);
    expect(SIGNED_URL_MALFORMED, KEY, m, p, a, NULL, sig, EXP - 1);
    const char *bad_exp[] = {"", "-1", "+1700000300", "01700000300", "1700000300x", "1e9", " 1700000300",
                             "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad_exp / sizeof bad_exp[0]; i++)
        expect(SIGNED_URL_MALFORMED, KEY, m, p, a, bad_exp[i], sig, EXP - 1);
    assert_int_equal(signed_url_verify(NULL, KEY, 31, m, p, a, e, sig, EXP - 1), FMUGW_EINVALID);
    assert_int_equal(signed_url_verify(NULL, KEY, 32, m, p, a, e, sig, EXP - 1), 0);
}

static void test_make_refusals(void **state)
{
    (void)state;
    char *url = NULL;
    assert_int_equal(signed_url_make(&url, KEY, 31, "PUT", "/x", "a", EXP), FMUGW_EINVALID);
    assert_int_equal(signed_url_make(&url, KEY, 32, "PUT", "x", "a", EXP), FMUGW_EINVALID);
    assert_int_equal(signed_url_make(&url, KEY, 32, "PUT", "/x?y=1", "a", EXP), FMUGW_EINVALID);
    assert_int_equal(signed_url_make(&url, KEY, 32, "PUT", "/x#f", "a", EXP), FMUGW_EINVALID);
    assert_int_equal(signed_url_make(&url, KEY, 32, "PUT", "/x", "a\nb", EXP), FMUGW_EINVALID);
    assert_int_equal(signed_url_make(&url, KEY, 32, "PUT", "/x", "", EXP), FMUGW_EINVALID);
    assert_int_equal(signed_url_make(&url, KEY, 32, "", "/x", "a", EXP), FMUGW_EINVALID);
    assert_int_equal(signed_url_make(&url, KEY, 32, "PUT", "/x", "a", -1), FMUGW_EINVALID);
    assert_null(url);
}

static void test_verify_query(void **state)
{
    (void)state;
    char *url = NULL, *acct = NULL;
    signed_url_failure why;
    assert_int_equal(signed_url_make(&url, KEY, 32, "GET", "/fmu/fmu_9/blob", "a b&c/é", EXP), 0);
    const char *q = strchr(url, '?') + 1;
    assert_int_equal(signed_url_verify_query(&acct, &why, KEY, 32, "GET", "/fmu/fmu_9/blob", q, EXP - 5), 0);
    assert_string_equal(acct, "a b&c/é");
    free(acct);
    assert_int_equal(signed_url_verify_query(NULL, &why, KEY, 32, "PUT", "/fmu/fmu_9/blob", q, EXP - 5), FMUGW_EAUTH);
    assert_int_equal(why, SIGNED_URL_TAMPERED);
    assert_int_equal(signed_url_verify_query(&acct, &why, KEY, 32, "GET", "/fmu/fmu_9/blob", q, EXP), FMUGW_EAUTH);
    assert_int_equal(why, SIGNED_URL_EXPIRED);
    assert_null(acct);

    /* parameters in another order */
    const char *sig = strstr(q, "sig=") + 4;
    char buf[512];
    snprintf(buf, sizeof buf, "sig=%s&expires=%d&account=a%%20b%%26c%%2F%%C3%%A9", sig, EXP);
    assert_int_equal(signed_url_verify_query(NULL, &why, KEY, 32, "GET", "/fmu/fmu_9/blob", buf, EXP - 5), 0);
    /* '+' decodes to a space as in forms */
    snprintf(buf, sizeof buf, "account=a+b%%26c%%2f%%c3%%a9&expires=%d&sig=%s", EXP, sig);
    assert_int_equal(signed_url_verify_query(NULL, &why, KEY, 32, "GET", "/fmu/fmu_9/blob", buf, EXP - 5), 0);
    /* malformed queries */
    const char *bad[] = {
        "account=x&expires=1&sig=y&extra=1",   /* unknown parameter */
        "account=x&account=x&expires=1&sig=y", /* repeated */
        "account=%zz&expires=1&sig=y",         /* bad escape */
        "account=%4&expires=1&sig=y",          /* short escape */
        "account=a%00b&expires=1&sig=y",       /* NUL */
        "account&expires=1&sig=y",             /* no '=' */
        "expires=1&sig=y",                     /* missing account */
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why = SIGNED_URL_OK;
        assert_int_equal(signed_url_verify_query(&acct, &why, KEY, 32, "GET", "/p", bad[i], 0), FMUGW_EAUTH);
        if (why != SIGNED_URL_MALFORMED)
            fail_msg("'%s': why %d", bad[i], why);
        assert_null(acct);
    }
    assert_int_equal(signed_url_verify_query(NULL, &why, KEY, 32, "GET", "/p", NULL, 0), FMUGW_EAUTH);
    free(url);
}

static void test_bound_to_key(void **state)
{
    (void)state;
    char *url = NULL;
    signed_url_failure why;
    const char *sig = "OUecIQZYSlqsiOC3IEA1v_TCVYPDywsPZOlsIUFfopo";
    const char *m = "PUT", *p = "/uploads/fmu_123", *a = "acct_42", *e = "1700000300";
    assert_int_equal(signed_url_make_for_key(&url, KEY, 32, m, p, a, "key_7", EXP), 0);
    assert_string_equal(url, "/uploads/fmu_123?account=acct_42&key=key_7&expires=1700000300"
                             "&sig=OUecIQZYSlqsiOC3IEA1v_TCVYPDywsPZOlsIUFfopo");
    free(url);
    assert_int_equal(signed_url_verify_for_key(&why, KEY, 32, m, p, a, "key_7", e, sig, EXP - 1), 0);
    /* the key removed, swapped */
    assert_int_equal(signed_url_verify_for_key(&why, KEY, 32, m, p, a, NULL, e, sig, EXP - 1), FMUGW_EAUTH);
    assert_int_equal(why, SIGNED_URL_TAMPERED);
    assert_int_equal(signed_url_verify_for_key(&why, KEY, 32, m, p, a, "key_8", e, sig, EXP - 1), FMUGW_EAUTH);
    assert_int_equal(why, SIGNED_URL_TAMPERED);
    /* an unbound URL's signature with a key added */
    assert_int_equal(signed_url_verify_for_key(&why, KEY, 32, m, "/fmu/upload/fmu_123", a, "key_7", e,
                                               "z057-HI6RsrX4CyRN2yyayUuqeMGWFnJAnLtEU6j9LI", EXP - 1),
                     FMUGW_EAUTH);
    assert_int_equal(why, SIGNED_URL_TAMPERED);
    /* NULL key: exactly signed_url_make / signed_url_verify */
    assert_int_equal(signed_url_verify_for_key(&why, KEY, 32, m, "/fmu/upload/fmu_123", a, NULL, e,
                                               "z057-HI6RsrX4CyRN2yyayUuqeMGWFnJAnLtEU6j9LI", EXP - 1),
                     0);
    assert_int_equal(signed_url_make_for_key(&url, KEY, 32, m, p, a, "k\ney", EXP), FMUGW_EINVALID);
    assert_int_equal(signed_url_verify_for_key(&why, KEY, 32, m, p, a, "", e, sig, EXP - 1), FMUGW_EAUTH);
    assert_int_equal(why, SIGNED_URL_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_make_known_answer),
        cmocka_unit_test(test_verify_fields),
        cmocka_unit_test(test_make_refusals),
        cmocka_unit_test(test_verify_query),
        cmocka_unit_test(test_bound_to_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
