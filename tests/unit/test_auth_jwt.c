/*
 * test_auth_jwt.c - src/auth/jwt: a token computed independently (Python
 * base64/hmac) verifies; jwt_sign output is checked field by field; every
 * refusal class of RFC 8725 verification; key rotation and removal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "util/crypto.h"
#include "util/error.h"

#define KEY1 "0123456789abcdef0123456789abcdef"
#define KEY2 "fedcba9876543210fedcba9876543210"
#define T0 1700000000

/* HS256, kid k1, key KEY1; header {"alg":"HS256","typ":"JWT","kid":"k1"}, payload
 * {"iss":"fmugw","sub":"acct_1","aud":"fmugw-api","iat":1700000000,"exp":1700000600,
 *  "jti":"abc","tier":"pro","credits":12.5,"scopes":["fmu:read","jobs:run"]},
 * assembled and signed with Python's base64 and hmac modules. */
static const char *KAT_TOKEN =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImsxIn0."
    "eyJpc3MiOiJmbXVndyIsInN1YiI6ImFjY3RfMSIsImF1ZCI6ImZtdWd3LWFwaSIsImlhdCI6MTcwMDAwMDAwMCwiZXhwIjoxNzAwMDAwNjAwLCJqdG"
    "kiOiJhYmMiLCJ0aWVyIjoicHJvIiwiY3JlZGl0cyI6MTIuNSwic2NvcGVzIjpbImZtdTpyZWFkIiwiam9iczpydW4iXX0."
    "BrisnJPaHZm764U4gLCiZ8uadY_4XUY219FD2PsJijY";

static jwt_keyring *keyring(void)
{
    jwt_keyring *kr;
    assert_int_equal(jwt_keyring_new(&kr), 0);
    assert_int_equal(jwt_keyring_add(kr, "k1", (const uint8_t *)KEY1, 32, true), 0);
    return kr;
}

static const jwt_verify_opts VOPTS = {.iss = "fmugw", .aud = "fmugw-api", .leeway = 0, .now = T0 + 100};

/* Assembles header.payload.HMAC(key) from raw JSON text. */
static char *make_token(const char *header, const char *payload, const char *key)
{
    size_t hl = strlen(header), pl = strlen(payload);
    size_t cap = crypto_b64url_len(hl) + crypto_b64url_len(pl) + 64;
    char *t = malloc(cap);
    assert_non_null(t);
    assert_int_equal(crypto_b64url_encode(t, cap, header, hl), 0);
    size_t n = strlen(t);
    t[n++] = '.';
    assert_int_equal(crypto_b64url_encode(t + n, cap - n, payload, pl), 0);
    n += strlen(t + n);
    uint8_t mac[32];
    assert_int_equal(crypto_hmac_sha256(mac, key, strlen(key), t, n), 0);
    t[n++] = '.';
    assert_int_equal(crypto_b64url_encode(t + n, cap - n, mac, 32), 0);
    return t;
}

#define HDR "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}"
#define PAYLOAD_FMT                                                                                                    \
    "{\"iss\":\"fmugw\",\"sub\":\"acct_1\",\"aud\":%s,\"iat\":%d,\"exp\":%d,\"jti\":\"j\"%s}"

static char *payload(const char *aud, int iat, int exp, const char *extra)
{
    static char buf[1024];
    snprintf(buf, sizeof buf, PAYLOAD_FMT, aud, iat, exp, extra);
    return buf;
}

/* Verifies and expects refusal for `want`. */
static void expect(jwt_keyring *kr, const jwt_verify_opts *o, const char *token, size_t len, jwt_failure want)
{
    json_t *claims = (json_t *)1;
    jwt_failure why = JWT_OK;
    int rc = jwt_verify(&claims, &why, kr, o, token, len);
    if (want == JWT_OK) {
        if (rc != 0)
            fail_msg("refused (%s): %s", jwt_failure_name(why), fmugw_error_last());
        assert_non_null(claims);
        json_decref(claims);
        return;
    }
    if (rc != FMUGW_EAUTH || why != want)
        fail_msg("expected %s, got rc %d why %s (%s)", jwt_failure_name(want), rc, jwt_failure_name(why),
                 fmugw_error_last());
    assert_null(claims);
}

static void expect_tok(jwt_keyring *kr, const char *header, const char *pl, const char *key, jwt_failure want)
{
    char *t = make_token(header, pl, key);
    expect(kr, &VOPTS, t, strlen(t), want);
    free(t);
}

static void test_independent_token(void **state)
{
    (void)state;
    jwt_keyring *kr = keyring();
    json_t *c = NULL;
    jwt_failure why;
    assert_int_equal(jwt_verify(&c, &why, kr, &VOPTS, KAT_TOKEN, strlen(KAT_TOKEN)), 0);
    assert_int_equal(why, JWT_OK);
    assert_string_equal(json_string_value(json_object_get(c, "sub")), "acct_1");
    assert_string_equal(json_string_value(json_object_get(c, "tier")), "pro");
    assert_true(json_real_value(json_object_get(c, "credits")) == 12.5);
    json_t *scopes = json_object_get(c, "scopes");
    assert_int_equal(json_array_size(scopes), 2);
    assert_string_equal(json_string_value(json_array_get(scopes, 1)), "jobs:run");
    json_decref(c);
    /* the same token expires at 1700000600 */
    jwt_verify_opts late = VOPTS;
    late.now = T0 + 600;
    expect(kr, &late, KAT_TOKEN, strlen(KAT_TOKEN), JWT_EXPIRED);
    late.now = T0 + 599;
    expect(kr, &late, KAT_TOKEN, strlen(KAT_TOKEN), JWT_OK);
    /* a NULL `why` is allowed */
    assert_int_equal(jwt_verify(&c, NULL, kr, &VOPTS, KAT_TOKEN, strlen(KAT_TOKEN)), 0);
    json_decref(c);
    jwt_keyring_free(kr);
}

static void test_sign_round_trip(void **state)
{
    (void)state;
    jwt_keyring *kr = keyring();
    json_t *extra = json_pack("{s:s, s:s, s:I, s:[s,s]}", "key_id", "k_0011223344556677", "tier", "free", "credits",
                              (json_int_t)42, "scopes", "fmu:read", "account:read");
    jwt_sign_opts so = {.iss = "fmugw", .aud = "fmugw-api", .sub = "acct_7", .ttl = 900, .now = T0};
    char *tok = NULL;
    assert_int_equal(jwt_sign(&tok, kr, &so, extra), 0);
    assert_non_null(tok);

    /* pick it apart by hand */
    const char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
    assert_true(d1 && d2 && d1 < d2);
    uint8_t raw[1024];
    size_t n;
    assert_int_equal(crypto_b64url_decode(raw, &n, sizeof raw, tok, (size_t)(d1 - tok)), 0);
    assert_int_equal(n, strlen(HDR));
    assert_memory_equal(raw, HDR, n);
    uint8_t mac[32], sig[32];
    assert_int_equal(crypto_hmac_sha256(mac, KEY1, 32, tok, (size_t)(d2 - tok)), 0);
    assert_int_equal(crypto_b64url_decode(sig, &n, sizeof sig, d2 + 1, strlen(d2 + 1)), 0);
    assert_int_equal(n, 32);
    assert_memory_equal(mac, sig, 32);
    assert_int_equal(crypto_b64url_decode(raw, &n, sizeof raw - 1, d1 + 1, (size_t)(d2 - d1 - 1)), 0);
    raw[n] = '\0';
    json_t *p = json_loads((const char *)raw, 0, NULL);
    assert_non_null(p);
    assert_int_equal(json_integer_value(json_object_get(p, "iat")), T0);
    assert_int_equal(json_integer_value(json_object_get(p, "exp")), T0 + 900);
    assert_int_equal(json_string_length(json_object_get(p, "jti")), 22);
    json_decref(p);

    json_t *c = NULL;
    assert_int_equal(jwt_verify(&c, NULL, kr, &VOPTS, tok, strlen(tok)), 0);
    assert_string_equal(json_string_value(json_object_get(c, "sub")), "acct_7");
    assert_string_equal(json_string_value(json_object_get(c, "iss")), "fmugw");
    assert_string_equal(json_string_value(json_object_get(c, "aud")), "fmugw-api");
    assert_string_equal(json_string_value(json_object_get(c, "key_id")), "k_0011223344556677");
    assert_int_equal(json_integer_value(json_object_get(c, "credits")), 42);
    assert_string_equal(json_string_value(json_array_get(json_object_get(c, "scopes"), 0)), "fmu:read");
    json_decref(c);

    /* two tokens differ in jti */
    char *tok2 = NULL;
    assert_int_equal(jwt_sign(&tok2, kr, &so, extra), 0);
    assert_string_not_equal(tok, tok2);
    free(tok2);

    /* refusals when signing */
    so.ttl = 0;
    assert_int_equal(jwt_sign(&tok2, kr, &so, NULL), FMUGW_EINVALID);
    so.ttl = JWT_MAX_TTL + 1;
    assert_int_equal(jwt_sign(&tok2, kr, &so, NULL), FMUGW_EINVALID);
    so.ttl = 60;
    json_t *bad = json_pack("{s:I}", "exp", (json_int_t)T0 + 99999);
    assert_int_equal(jwt_sign(&tok2, kr, &so, bad), FMUGW_EINVALID);
    json_decref(bad);
    bad = json_pack("[i]", 1);
    assert_int_equal(jwt_sign(&tok2, kr, &so, bad), FMUGW_EINVALID);
    json_decref(bad);
    so.sub = NULL;
    assert_int_equal(jwt_sign(&tok2, kr, &so, NULL), FMUGW_EINVALID);
    assert_null(tok2);
    jwt_keyring *empty;
    assert_int_equal(jwt_keyring_new(&empty), 0);
    so.sub = "x";
    assert_int_equal(jwt_sign(&tok2, empty, &so, NULL), FMUGW_ENOTFOUND);
    jwt_keyring_free(empty);
    /* default `now` is the wall clock: a fresh token verifies now */
    so.now = 0;
    assert_int_equal(jwt_sign(&tok2, kr, &so, NULL), 0);
    jwt_verify_opts vnow = VOPTS;
    vnow.now = 0;
    expect(kr, &vnow, tok2, strlen(tok2), JWT_OK);
    free(tok2);

    free(tok);
    json_decref(extra);
    jwt_keyring_free(kr);
}

static void test_header_refusals(void **state)
{
    (void)state;
    jwt_keyring *kr = keyring();
    const char *pl = payload("\"fmugw-api\"", T0, T0 + 600, "");
    expect_tok(kr, HDR, pl, KEY1, JWT_OK);
    /* alg none, with an empty signature */
    char *t = make_token("{\"alg\":\"none\",\"typ\":\"JWT\",\"kid\":\"k1\"}", pl, KEY1);
    *strrchr(t, '.') = '\0';
    size_t n = strlen(t);
    t[n] = '.';
    t[n + 1] = '\0';
    expect(kr, &VOPTS, t, strlen(t), JWT_BAD_ALG);
    free(t);
    expect_tok(kr, "{\"alg\":\"none\",\"kid\":\"k1\"}", pl, KEY1, JWT_BAD_ALG);
    expect_tok(kr, "{\"alg\":\"HS512\",\"kid\":\"k1\"}", pl, KEY1, JWT_BAD_ALG);
    expect_tok(kr, "{\"alg\":\"RS256\",\"kid\":\"k1\"}", pl, KEY1, JWT_BAD_ALG);
    expect_tok(kr, "{\"alg\":\"hs256\",\"kid\":\"k1\"}", pl, KEY1, JWT_BAD_ALG);
    expect_tok(kr, "{\"kid\":\"k1\"}", pl, KEY1, JWT_BAD_ALG);
    expect_tok(kr, "{\"alg\":[\"HS256\"],\"kid\":\"k1\"}", pl, KEY1, JWT_BAD_ALG);
    /* parameters that could redirect key selection are refused */
    expect_tok(kr, "{\"alg\":\"HS256\",\"kid\":\"k1\",\"jku\":\"https://evil\"}", pl, KEY1, JWT_BAD_HEADER);
    expect_tok(kr, "{\"alg\":\"HS256\",\"kid\":\"k1\",\"crit\":[\"exp\"]}", pl, KEY1, JWT_BAD_HEADER);
    expect_tok(kr, "{\"alg\":\"HS256\",\"kid\":\"k1\",\"typ\":\"JOSE\"}", pl, KEY1, JWT_BAD_HEADER);
    /* kid */
    expect_tok(kr, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", pl, KEY1, JWT_MISSING_KID);
    expect_tok(kr, "{\"alg\":\"HS256\",\"kid\":\"k2\"}", pl, KEY1, JWT_UNKNOWN_KID);
    expect_tok(kr, "{\"alg\":\"HS256\",\"kid\":7}", pl, KEY1, JWT_UNKNOWN_KID);
    expect_tok(kr, "{\"alg\":\"HS256\",\"kid\":\"../k1\"}", pl, KEY1, JWT_UNKNOWN_KID);
    /* minimal header without typ is fine */
    expect_tok(kr, "{\"alg\":\"HS256\",\"kid\":\"k1\"}", pl, KEY1, JWT_OK);
    /* duplicate header member */
    expect_tok(kr, "{\"alg\":\"HS256\",\"alg\":\"none\",\"kid\":\"k1\"}", pl, KEY1, JWT_MALFORMED);
    jwt_keyring_free(kr);
}

static void test_signature_refusals(void **state)
{
    (void)state;
    jwt_keyring *kr = keyring();
    const char *pl = payload("\"fmugw-api\"", T0, T0 + 600, "");
    /* signed with another key under the same kid */
    expect_tok(kr, HDR, pl, KEY2, JWT_BAD_SIGNATURE);
    char *t = make_token(HDR, pl, KEY1);
    size_t len = strlen(t);
    /* every character of the signature changed in turn */
    char *sig = strrchr(t, '.') + 1;
    for (char *p = sig; *p; p++) {
        char old = *p;
        *p = old == 'A' ? 'B' : 'A';
        expect(kr, &VOPTS, t, len, JWT_BAD_SIGNATURE);
        *p = old;
    }
    /* truncated / extended signature */
    expect(kr, &VOPTS, t, len - 1, JWT_BAD_SIGNATURE);
    expect(kr, &VOPTS, t, (size_t)(sig - t), JWT_BAD_SIGNATURE); /* "h.p." */
    expect(kr, &VOPTS, t, len, JWT_OK);
    /* payload swapped for another (sub changed) under the old signature */
    char *t2 = make_token(HDR, "{\"iss\":\"fmugw\",\"sub\":\"admin\"}", KEY1);
    char *d1 = strchr(t, '.'), *d2 = strrchr(t, '.');
    char *e1 = strchr(t2, '.'), *e2 = strrchr(t2, '.');
    char forged[2048];
    snprintf(forged, sizeof forged, "%.*s%.*s%s", (int)(d1 - t), t, (int)(e2 - e1), e1, d2);
    expect(kr, &VOPTS, forged, strlen(forged), JWT_BAD_SIGNATURE);
    free(t2);
    free(t);
    jwt_keyring_free(kr);
}

static void test_claim_refusals(void **state)
{
    (void)state;
    jwt_keyring *kr = keyring();
    /* audience */
    expect_tok(kr, HDR, payload("\"other-api\"", T0, T0 + 600, ""), KEY1, JWT_BAD_AUDIENCE);
    expect_tok(kr, HDR, payload("[\"a\",\"fmugw-api\"]", T0, T0 + 600, ""), KEY1, JWT_OK);
    expect_tok(kr, HDR, payload("[\"a\",\"b\"]", T0, T0 + 600, ""), KEY1, JWT_BAD_AUDIENCE);
    expect_tok(kr, HDR, payload("[]", T0, T0 + 600, ""), KEY1, JWT_BAD_AUDIENCE);
    expect_tok(kr, HDR, payload("5", T0, T0 + 600, ""), KEY1, JWT_MISSING_CLAIM);
    /* issuer */
    expect_tok(kr, HDR,
               "{\"iss\":\"evil\",\"sub\":\"a\",\"aud\":\"fmugw-api\",\"iat\":1700000000,\"exp\":1700000600,\"jti\":"
               "\"j\"}",
               KEY1, JWT_BAD_ISSUER);
    /* required claims missing or mistyped */
    expect_tok(kr, HDR, "{\"iss\":\"fmugw\",\"sub\":\"a\",\"aud\":\"fmugw-api\",\"iat\":1700000000,\"jti\":\"j\"}", KEY1,
               JWT_MISSING_CLAIM);
    expect_tok(kr, HDR,
               "{\"iss\":\"fmugw\",\"sub\":\"a\",\"aud\":\"fmugw-api\",\"iat\":1700000000,\"exp\":\"1700000600\","
               "\"jti\":\"j\"}",
               KEY1, JWT_MISSING_CLAIM);
    expect_tok(kr, HDR,
               "{\"iss\":\"fmugw\",\"sub\":\"a\",\"aud\":\"fmugw-api\",\"iat\":1700000000,\"exp\":1700000600.0,"
               "\"jti\":\"j\"}",
               KEY1, JWT_MISSING_CLAIM);
    expect_tok(kr, HDR, "{\"iss\":\"fmugw\",\"sub\":\"a\",\"aud\":\"fmugw-api\",\"exp\":1700000600,\"jti\":\"j\"}",
               KEY1, JWT_MISSING_CLAIM);
    expect_tok(kr, HDR, "{\"iss\":\"fmugw\",\"sub\":\"a\",\"aud\":\"fmugw-api\",\"iat\":1700000000,\"exp\":1700000600}",
               KEY1, JWT_MISSING_CLAIM);
    expect_tok(kr, HDR, "{\"iss\":\"fmugw\",\"aud\":\"fmugw-api\",\"iat\":1700000000,\"exp\":1700000600,\"jti\":\"j\"}",
               KEY1, JWT_MISSING_CLAIM);
    expect_tok(kr, HDR, "{\"sub\":\"a\",\"aud\":\"fmugw-api\",\"iat\":1700000000,\"exp\":1700000600,\"jti\":\"j\"}",
               KEY1, JWT_MISSING_CLAIM);
    expect_tok(kr, HDR, payload("\"fmugw-api\"", T0, T0 + 600, ",\"nbf\":\"soon\""), KEY1, JWT_MISSING_CLAIM);
    /* time */
    expect_tok(kr, HDR, payload("\"fmugw-api\"", T0 - 900, T0 + 100, ""), KEY1, JWT_EXPIRED); /* now == exp */
    expect_tok(kr, HDR, payload("\"fmugw-api\"", T0 - 900, T0 + 99, ""), KEY1, JWT_EXPIRED);
    expect_tok(kr, HDR, payload("\"fmugw-api\"", T0 + 101, T0 + 700, ""), KEY1, JWT_NOT_YET_VALID);
    expect_tok(kr, HDR, payload("\"fmugw-api\"", T0, T0 + 600, ",\"nbf\":1700000200"), KEY1, JWT_NOT_YET_VALID);
    expect_tok(kr, HDR, payload("\"fmugw-api\"", T0, T0 + 600, ",\"nbf\":1700000050"), KEY1, JWT_OK);
    expect_tok(kr, HDR, payload("\"fmugw-api\"", T0, T0 + 3600, ""), KEY1, JWT_LIFETIME);
    expect_tok(kr, HDR, payload("\"fmugw-api\"", T0, T0 + 900, ""), KEY1, JWT_OK);
    expect_tok(kr, HDR, payload("\"fmugw-api\"", -5, T0 + 900, ""), KEY1, JWT_LIFETIME);
    /* leeway: 30 s accepts a token expired 29 s ago and one issued 30 s ahead */
    jwt_verify_opts lw = VOPTS;
    lw.leeway = 30;
    char *t = make_token(HDR, payload("\"fmugw-api\"", T0 - 500, T0 + 71, ""), KEY1);
    expect(kr, &lw, t, strlen(t), JWT_OK);
    expect(kr, &VOPTS, t, strlen(t), JWT_EXPIRED);
    free(t);
    t = make_token(HDR, payload("\"fmugw-api\"", T0 - 500, T0 + 70, ""), KEY1);
    expect(kr, &lw, t, strlen(t), JWT_EXPIRED);
    free(t);
    t = make_token(HDR, payload("\"fmugw-api\"", T0 + 130, T0 + 700, ""), KEY1);
    expect(kr, &lw, t, strlen(t), JWT_OK);
    free(t);
    lw.leeway = JWT_MAX_LEEWAY + 1;
    json_t *c;
    assert_int_equal(jwt_verify(&c, NULL, kr, &lw, KAT_TOKEN, strlen(KAT_TOKEN)), FMUGW_EINVALID);
    jwt_verify_opts noaud = VOPTS;
    noaud.aud = NULL;
    assert_int_equal(jwt_verify(&c, NULL, kr, &noaud, KAT_TOKEN, strlen(KAT_TOKEN)), FMUGW_EINVALID);
    /* duplicate claim (after a valid signature) */
    expect_tok(kr, HDR, payload("\"fmugw-api\"", T0, T0 + 600, ",\"sub\":\"admin\""), KEY1, JWT_MALFORMED);
    jwt_keyring_free(kr);
}

static void test_structure_and_size(void **state)
{
    (void)state;
    jwt_keyring *kr = keyring();
    const char *bad[] = {"", "abc", "a.b", "a.b.c.d", "..", "a..c", ".b.c", "!!!.b.c", "e30=.e30.c"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect(kr, &VOPTS, bad[i], strlen(bad[i]), JWT_MALFORMED);
    /* header that is JSON but not an object */
    expect_tok(kr, "[1,2]", "{}", KEY1, JWT_MALFORMED);
    expect_tok(kr, "not json", "{}", KEY1, JWT_MALFORMED);
    /* payload that is not an object, validly signed */
    expect_tok(kr, HDR, "\"hello\"", KEY1, JWT_MALFORMED);
    /* oversized token */
    char *big = malloc(JWT_MAX_TOKEN + 2);
    memset(big, 'a', JWT_MAX_TOKEN + 1);
    big[JWT_MAX_TOKEN + 1] = '\0';
    expect(kr, &VOPTS, big, JWT_MAX_TOKEN + 1, JWT_TOO_BIG);
    free(big);
    /* deep nesting, validly signed: refused before jansson sees it */
    char deep[256] = "";
    for (int i = 0; i < 20; i++)
        strcat(deep, "[");
    for (int i = 0; i < 20; i++)
        strcat(deep, "]");
    char extra[300];
    snprintf(extra, sizeof extra, ",\"x\":%s", deep);
    expect_tok(kr, HDR, payload("\"fmugw-api\"", T0, T0 + 600, extra), KEY1, JWT_TOO_BIG);
    /* brackets inside strings do not count */
    snprintf(extra, sizeof extra, ",\"x\":\"%s\"", deep);
    expect_tok(kr, HDR, payload("\"fmugw-api\"", T0, T0 + 600, extra), KEY1, JWT_OK);
    /* depth 8 is fine */
    snprintf(extra, sizeof extra, ",\"x\":[[[[[[[1]]]]]]]");
    expect_tok(kr, HDR, payload("\"fmugw-api\"", T0, T0 + 600, extra), KEY1, JWT_OK);
    snprintf(extra, sizeof extra, ",\"x\":[[[[[[[[1]]]]]]]]");
    expect_tok(kr, HDR, payload("\"fmugw-api\"", T0, T0 + 600, extra), KEY1, JWT_TOO_BIG);
    /* signing refuses extra claims that would make the token too big */
    char *huge = malloc(9000);
    memset(huge, 'x', 8999);
    huge[8999] = '\0';
    json_t *e = json_pack("{s:s}", "blob", huge);
    jwt_sign_opts so = {.iss = "fmugw", .aud = "fmugw-api", .sub = "a", .ttl = 60, .now = T0};
    char *tok = NULL;
    assert_int_equal(jwt_sign(&tok, kr, &so, e), FMUGW_ETOOBIG);
    assert_null(tok);
    json_decref(e);
    free(huge);
    jwt_keyring_free(kr);
}

static void test_rotation(void **state)
{
    (void)state;
    jwt_keyring *kr = keyring();
    jwt_sign_opts so = {.iss = "fmugw", .aud = "fmugw-api", .sub = "a", .ttl = 600, .now = T0};
    char *old = NULL, *fresh = NULL;
    assert_int_equal(jwt_sign(&old, kr, &so, NULL), 0);
    assert_int_equal(jwt_keyring_add(kr, "k2", (const uint8_t *)KEY2, 32, true), 0);
    assert_int_equal(jwt_sign(&fresh, kr, &so, NULL), 0);
    /* the new token names k2 */
    uint8_t raw[256];
    size_t n;
    assert_int_equal(crypto_b64url_decode(raw, &n, sizeof raw, fresh, (size_t)(strchr(fresh, '.') - fresh)), 0);
    assert_non_null(memmem(raw, n, "\"kid\":\"k2\"", 10));
    expect(kr, &VOPTS, old, strlen(old), JWT_OK);
    expect(kr, &VOPTS, fresh, strlen(fresh), JWT_OK);
    /* retire k1 */
    assert_int_equal(jwt_keyring_remove(kr, "k2"), FMUGW_ECONFLICT); /* active */
    assert_int_equal(jwt_keyring_remove(kr, "nope"), FMUGW_ENOTFOUND);
    assert_int_equal(jwt_keyring_remove(kr, "k1"), 0);
    expect(kr, &VOPTS, old, strlen(old), JWT_UNKNOWN_KID);
    expect(kr, &VOPTS, fresh, strlen(fresh), JWT_OK);
    /* keyring argument checks */
    assert_int_equal(jwt_keyring_add(kr, "k3", (const uint8_t *)KEY1, 31, false), FMUGW_EINVALID);
    assert_int_equal(jwt_keyring_add(kr, "bad kid", (const uint8_t *)KEY1, 32, false), FMUGW_EINVALID);
    assert_int_equal(jwt_keyring_add(kr, "k2", (const uint8_t *)KEY1, 32, false), FMUGW_EEXISTS);
    assert_int_equal(jwt_keyring_set_active(kr, "k1"), FMUGW_ENOTFOUND);
    assert_int_equal(jwt_keyring_add(kr, "k1", (const uint8_t *)KEY1, 32, false), 0);
    assert_int_equal(jwt_keyring_set_active(kr, "k1"), 0);
    expect(kr, &VOPTS, old, strlen(old), JWT_OK);
    assert_string_equal(jwt_failure_name(JWT_EXPIRED), "expired");
    assert_string_equal(jwt_failure_name(JWT_BAD_SIGNATURE), "bad_signature");
    free(old);
    free(fresh);
    jwt_keyring_free(kr);
    jwt_keyring_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_independent_token), cmocka_unit_test(test_sign_round_trip),
        cmocka_unit_test(test_header_refusals),   cmocka_unit_test(test_signature_refusals),
        cmocka_unit_test(test_claim_refusals),    cmocka_unit_test(test_structure_and_size),
        cmocka_unit_test(test_rotation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
