/*
 * test_crypto.c - src/util/crypto: SHA-256 (FIPS 180 examples) and
 * HMAC-SHA256 (RFC 4231) known answers, codecs (RFC 4648 vectors and strict
 * refusals), keyring, envelope encryption: round trips, every-byte
 * tampering, truncation, reordering, rotation and rewrap, and a 100 MB
 * stream with bounded memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "util/crypto.h"
#include "util/error.h"

/* --- helpers ------------------------------------------------------------- */

static void hex_of(char *out, const uint8_t *d, size_t n)
{
    assert_int_equal(crypto_hex_encode(out, 2 * n + 1, d, n), 0);
}

typedef struct {
    uint8_t *p;
    size_t len, cap;
    int fail_after; /* >0: fail the Nth write */
    int writes;
} membuf;

static int mem_write(void *opaque, const void *data, size_t len)
{
    membuf *m = opaque;
    if (m->fail_after > 0 && ++m->writes >= m->fail_after)
        return fmugw_error_set(FMUGW_EIO, "test: write refused");
    if (m->len + len > m->cap) {
        size_t cap = (m->len + len) * 2 + 64;
        uint8_t *p = realloc(m->p, cap);
        assert_non_null(p);
        m->p = p;
        m->cap = cap;
    }
    if (len)
        memcpy(m->p + m->len, data, len);
    m->len += len;
    return 0;
}

static crypto_keyring *ring_with(const char *id, uint8_t fill)
{
    crypto_keyring *kr;
    uint8_t key[CRYPTO_KEY_LEN];
    memset(key, fill, sizeof key);
    assert_int_equal(crypto_keyring_new(&kr), 0);
    assert_int_equal(crypto_keyring_add(kr, id, key, true), 0);
    return kr;
}

/* Seals `len` bytes, fed in pieces of `piece` bytes (0: all at once). */
static membuf seal_buf(const crypto_keyring *kr, size_t chunk, const uint8_t *data, size_t len, size_t piece)
{
    membuf out = {0};
    crypto_seal *s;
    assert_int_equal(crypto_seal_init(&s, kr, chunk, mem_write, &out), 0);
    if (piece == 0)
        piece = len ? len : 1;
    for (size_t off = 0; off < len; off += piece)
        assert_int_equal(crypto_seal_update(s, data + off, off + piece > len ? len - off : piece), 0);
    assert_int_equal(crypto_seal_final(s), 0);
    crypto_seal_free(s);
    return out;
}

/* Opens a sealed buffer; returns the first error (or 0) and the plaintext. */
static int open_buf(membuf *plain, const crypto_keyring *kr, const uint8_t *data, size_t len, size_t piece)
{
    crypto_open *o;
    int rc = crypto_open_init(&o, kr, mem_write, plain);
    assert_int_equal(rc, 0);
    if (piece == 0)
        piece = len ? len : 1;
    for (size_t off = 0; off < len && rc == 0; off += piece)
        rc = crypto_open_update(o, data + off, off + piece > len ? len - off : piece);
    if (rc == 0)
        rc = crypto_open_final(o);
    crypto_open_free(o);
    return rc;
}

static uint8_t *pattern(size_t n, uint32_t seed)
{
    uint8_t *p = malloc(n ? n : 1);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
    return p;
}

/* --- SHA-256 and HMAC ---------------------------------------------------- */

static void test_sha256_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *msg, *hex;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t d[32];
        char hex[65];
        assert_int_equal(crypto_sha256(d, v[i].msg, strlen(v[i].msg)), 0);
        hex_of(hex, d, 32);
        assert_string_equal(hex, v[i].hex);
    }
    /* one million 'a', streamed in uneven pieces */
    crypto_sha256_ctx *c;
    char a[1000];
    memset(a, 'a', sizeof a);
    assert_int_equal(crypto_sha256_new(&c), 0);
    size_t left = 1000000, k = 1;
    while (left) {
        size_t n = k % 997 + 1;
        if (n > left)
            n = left;
        assert_int_equal(crypto_sha256_update(c, a, n), 0);
        left -= n;
        k += 7;
    }
    uint8_t d[32];
    char hex[65];
    assert_int_equal(crypto_sha256_final(c, d), 0);
    assert_int_not_equal(crypto_sha256_update(c, "x", 1), 0); /* finished */
    crypto_sha256_free(c);
    crypto_sha256_free(NULL);
    hex_of(hex, d, 32);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_hmac_rfc4231(void **state)
{
    (void)state;
    uint8_t k1[20], k3[20], k4[25], k6[131], d3[50], d4[50];
    memset(k1, 0x0b, sizeof k1);
    memset(k3, 0xaa, sizeof k3);
    for (int i = 0; i < 25; i++)
        k4[i] = (uint8_t)(i + 1);
    memset(k6, 0xaa, sizeof k6);
    memset(d3, 0xdd, sizeof d3);
    memset(d4, 0xcd, sizeof d4);
    const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    const char *m7 = "This is a test using a larger than block-size key and a larger than block-size data. The key needs "
                     "to be hashed before being used by the HMAC algorithm.";
    const struct {
        const void *key;
        size_t klen;
        const void *msg;
        size_t mlen;
        const char *hex;
    } v[] = {
        {k1, 20, "Hi There", 8, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
        {"Jefe", 4, "what do ya want for nothing?", 28,
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {k3, 20, d3, 50, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
        {k4, 25, d4, 50, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
        {k6, 131, m6, strlen(m6), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
        {k6, 131, m7, strlen(m7), "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t mac[32];
        char hex[65];
        assert_int_equal(crypto_hmac_sha256(mac, v[i].key, v[i].klen, v[i].msg, v[i].mlen), 0);
        hex_of(hex, mac, 32);
        assert_string_equal(hex, v[i].hex);
    }
    /* RFC 4231 test case 5: output truncated to 128 bits */
    uint8_t k5[20], mac[32];
    char hex[65];
    memset(k5, 0x0c, sizeof k5);
    assert_int_equal(crypto_hmac_sha256(mac, k5, 20, "Test With Truncation", 20), 0);
    hex_of(hex, mac, 16);
    assert_string_equal(hex, "a3b6167473100ee06e0c796c2955552b");
}

static void test_equal_random_wipe(void **state)
{
    (void)state;
    uint8_t a[32], b[32], z[32] = {0};
    assert_int_equal(crypto_random_bytes(a, sizeof a), 0);
    assert_int_equal(crypto_random_bytes(b, sizeof b), 0);
    assert_false(crypto_equal(a, b, sizeof a));
    assert_false(crypto_equal(a, z, sizeof a));
    memcpy(b, a, sizeof a);
    assert_true(crypto_equal(a, b, sizeof a));
    b[31] ^= 1;
    assert_false(crypto_equal(a, b, sizeof a));
    assert_true(crypto_equal(a, b, 0));
    crypto_wipe(a, sizeof a);
    assert_memory_equal(a, z, sizeof a);
}

/* --- codecs ---------------------------------------------------------------- */

static void test_hex(void **state)
{
    (void)state;
    uint8_t in[] = {0x00, 0x01, 0xab, 0xff, 0x7f};
    char hex[11];
    uint8_t out[8];
    size_t n;
    assert_int_equal(crypto_hex_encode(hex, sizeof hex, in, sizeof in), 0);
    assert_string_equal(hex, "0001abff7f");
    assert_int_equal(crypto_hex_encode(hex, 10, in, sizeof in), FMUGW_ETOOBIG);
    assert_int_equal(crypto_hex_decode(out, &n, sizeof out, "0001ABff7f", 10), 0);
    assert_int_equal(n, 5);
    assert_memory_equal(out, in, 5);
    assert_int_equal(crypto_hex_decode(out, &n, sizeof out, "abc", 3), FMUGW_EINVALID);
    assert_int_equal(crypto_hex_decode(out, &n, sizeof out, "0g", 2), FMUGW_EINVALID);
    assert_int_equal(crypto_hex_decode(out, &n, sizeof out, " 0", 2), FMUGW_EINVALID);
    assert_int_equal(crypto_hex_decode(out, &n, 2, "000000", 6), FMUGW_ETOOBIG);
    assert_int_equal(crypto_hex_decode(out, &n, sizeof out, "", 0), 0);
    assert_int_equal(n, 0);
}

static void test_b64url(void **state)
{
    (void)state;
    static const struct {
        const char *raw, *enc;
    } v[] = {{"", ""},         {"f", "Zg"},         {"fo", "Zm8"},       {"foo", "Zm9v"},
             {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char enc[16];
        uint8_t dec[16];
        size_t n;
        assert_int_equal(crypto_b64url_len(strlen(v[i].raw)), strlen(v[i].enc));
        assert_int_equal(crypto_b64url_encode(enc, sizeof enc, v[i].raw, strlen(v[i].raw)), 0);
        assert_string_equal(enc, v[i].enc);
        assert_int_equal(crypto_b64url_decode(dec, &n, sizeof dec, v[i].enc, strlen(v[i].enc)), 0);
        assert_int_equal(n, strlen(v[i].raw));
        assert_memory_equal(dec, v[i].raw, n);
    }
    /* the url alphabet: 0xfb 0xff -> "-_8" (standard base64 would be "+/8=") */
    uint8_t u[] = {0xfb, 0xff}, dec[8];
    char enc[8];
    size_t n;
    assert_int_equal(crypto_b64url_encode(enc, sizeof enc, u, 2), 0);
    assert_string_equal(enc, "-_8");
    assert_int_equal(crypto_b64url_encode(enc, 3, u, 2), FMUGW_ETOOBIG);
    /* strict refusals */
    const char *bad[] = {"Zg==", "Z", "Zh", "Zm9", "Zm+v", "Zm/v", "Zm9v\n", " Zm9v", "Zm 9v", "Zm9vY"};
    const char *bad_why[] = {"padding", "len%4==1", "trailing bits", "trailing bits", "'+'", "'/'", "newline",
                             "space", "space", "len%4==1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = crypto_b64url_decode(dec, &n, sizeof dec, bad[i], strlen(bad[i]));
        if (rc != FMUGW_EINVALID)
            fail_msg("'%s' (%s) was accepted", bad[i], bad_why[i]);
    }
    assert_int_equal(crypto_b64url_decode(dec, &n, 2, "Zm9v", 4), FMUGW_ETOOBIG);
    /* random round trips of every length up to 64 */
    for (size_t len = 0; len <= 64; len++) {
        uint8_t raw[64], back[64];
        char e[100];
        assert_int_equal(crypto_random_bytes(raw, len), 0);
        assert_int_equal(crypto_b64url_encode(e, sizeof e, raw, len), 0);
        assert_int_equal(crypto_b64url_decode(back, &n, sizeof back, e, strlen(e)), 0);
        assert_int_equal(n, len);
        assert_memory_equal(raw, back, len);
    }
}

static void test_key_parse(void **state)
{
    (void)state;
    uint8_t want[32], got[32];
    for (int i = 0; i < 32; i++)
        want[i] = (uint8_t)(i * 7 + 3);
    char hex[65], b64[44], std[45];
    hex_of(hex, want, 32);
    assert_int_equal(crypto_b64url_encode(b64, sizeof b64, want, 32), 0);
    assert_int_equal(crypto_key_parse(got, hex), 0);
    assert_memory_equal(got, want, 32);
    memset(got, 0, 32);
    assert_int_equal(crypto_key_parse(got, b64), 0);
    assert_memory_equal(got, want, 32);
    /* standard base64 with padding, and surrounding whitespace */
    snprintf(std, sizeof std, "%s=", b64);
    for (char *p = std; *p; p++)
        *p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
    char padded[64];
    snprintf(padded, sizeof padded, "  %s\n", std);
    memset(got, 0, 32);
    assert_int_equal(crypto_key_parse(got, padded), 0);
    assert_memory_equal(got, want, 32);
    /* refusals */
    assert_int_equal(crypto_key_parse(got, ""), FMUGW_EINVALID);
    assert_int_equal(crypto_key_parse(got, "00112233"), FMUGW_EINVALID);
    hex[10] = 'z';
    assert_int_equal(crypto_key_parse(got, hex), FMUGW_EINVALID);
    b64[5] = '*';
    assert_int_equal(crypto_key_parse(got, b64), FMUGW_EINVALID);
}

static void test_keyring(void **state)
{
    (void)state;
    crypto_keyring *kr;
    uint8_t k[32] = {1};
    char id[CRYPTO_KEY_ID_MAX + 1];
    assert_int_equal(crypto_keyring_new(&kr), 0);
    assert_int_equal(crypto_keyring_active_id(id, kr), FMUGW_ENOTFOUND);
    membuf out = {0};
    crypto_seal *s = NULL;
    assert_int_equal(crypto_seal_init(&s, kr, 0, mem_write, &out), FMUGW_ENOTFOUND);
    assert_null(s);
    assert_int_equal(crypto_keyring_add(kr, "", k, true), FMUGW_EINVALID);
    assert_int_equal(crypto_keyring_add(kr, "bad id", k, true), FMUGW_EINVALID);
    assert_int_equal(crypto_keyring_add(kr, "123456789012345678901234567890123", k, true), FMUGW_EINVALID);
    assert_int_equal(crypto_keyring_add(kr, "k1", k, false), 0); /* first key: active anyway */
    assert_int_equal(crypto_keyring_active_id(id, kr), 0);
    assert_string_equal(id, "k1");
    assert_int_equal(crypto_keyring_add(kr, "k1", k, true), FMUGW_EEXISTS);
    assert_int_equal(crypto_keyring_add_string(kr, "k2",
                                               "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", false),
                     0);
    assert_int_equal(crypto_keyring_active_id(id, kr), 0);
    assert_string_equal(id, "k1");
    assert_int_equal(crypto_keyring_add_string(kr, "k3", "nope", true), FMUGW_EINVALID);
    assert_int_equal(crypto_keyring_set_active(kr, "k3"), FMUGW_ENOTFOUND);
    assert_int_equal(crypto_keyring_set_active(kr, "k2"), 0);
    assert_int_equal(crypto_keyring_active_id(id, kr), 0);
    assert_string_equal(id, "k2");
    crypto_keyring_free(kr);
    crypto_keyring_free(NULL);
    free(out.p);
}

/* --- envelope ---------------------------------------------------------------- */

static void test_seal_round_trip(void **state)
{
    (void)state;
    crypto_keyring *kr = ring_with("master-1", 0x42);
    const size_t chunk = 64;
    const size_t sizes[] = {0, 1, 63, 64, 65, 127, 128, 129, 1000};
    const size_t pieces[] = {0, 1, 7, 64, 100};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint8_t *data = pattern(sizes[i], (uint32_t)i);
        for (size_t j = 0; j < sizeof pieces / sizeof pieces[0]; j++) {
            membuf sealed = seal_buf(kr, chunk, data, sizes[i], pieces[j]);
            /* header + one tag per chunk; an empty blob still has one (final) chunk */
            size_t chunks = sizes[i] == 0 ? 1 : (sizes[i] + chunk - 1) / chunk;
            assert_int_equal(sealed.len, CRYPTO_HEADER_LEN + sizes[i] + chunks * CRYPTO_TAG_LEN);
            assert_memory_equal(sealed.p, "FMUGWENC", 8);
            char id[CRYPTO_KEY_ID_MAX + 1];
            assert_int_equal(crypto_header_key_id(id, sealed.p), 0);
            assert_string_equal(id, "master-1");
            if (sizes[i] >= 16) /* the body is not the plaintext */
                assert_memory_not_equal(sealed.p + CRYPTO_HEADER_LEN, data, 16);
            for (size_t k = 0; k < sizeof pieces / sizeof pieces[0]; k++) {
                membuf plain = {0};
                assert_int_equal(open_buf(&plain, kr, sealed.p, sealed.len, pieces[k]), 0);
                assert_int_equal(plain.len, sizes[i]);
                if (sizes[i])
                    assert_memory_equal(plain.p, data, sizes[i]);
                free(plain.p);
            }
            free(sealed.p);
        }
        free(data);
    }
    /* two seals of the same data differ (fresh data key and nonces) */
    uint8_t msg[100] = {0};
    membuf a = seal_buf(kr, 0, msg, sizeof msg, 0), b = seal_buf(kr, 0, msg, sizeof msg, 0);
    assert_int_equal(a.len, b.len);
    assert_memory_not_equal(a.p + 42, b.p + 42, a.len - 42);
    free(a.p);
    free(b.p);
    crypto_keyring_free(kr);
}

static void test_seal_files_and_errors(void **state)
{
    (void)state;
    crypto_keyring *kr = ring_with("k", 7);
    FILE *sealed = tmpfile(), *plain = tmpfile();
    assert_non_null(sealed);
    assert_non_null(plain);
    crypto_seal *s;
    uint8_t *data = pattern(200000, 9);
    assert_int_equal(crypto_seal_init_file(&s, kr, 0, sealed), 0);
    assert_int_equal(crypto_seal_update(s, data, 200000), 0);
    assert_int_equal(crypto_seal_final(s), 0);
    assert_int_not_equal(crypto_seal_update(s, data, 1), 0); /* after final */
    assert_int_not_equal(crypto_seal_final(s), 0);
    crypto_seal_free(s);
    crypto_seal_free(NULL);
    rewind(sealed);
    crypto_open *o;
    assert_int_equal(crypto_open_init_file(&o, kr, plain), 0);
    uint8_t buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, sealed)) > 0)
        assert_int_equal(crypto_open_update(o, buf, n), 0);
    assert_int_equal(crypto_open_final(o), 0);
    crypto_open_free(o);
    crypto_open_free(NULL);
    assert_int_equal(ftell(plain), 200000);
    rewind(plain);
    uint8_t *back = malloc(200000);
    assert_int_equal(fread(back, 1, 200000, plain), 200000);
    assert_memory_equal(back, data, 200000);

    /* bad chunk sizes */
    membuf m = {0};
    assert_int_equal(crypto_seal_init(&s, kr, 8, mem_write, &m), FMUGW_EINVALID);
    assert_int_equal(crypto_seal_init(&s, kr, CRYPTO_CHUNK_MAX + 1, mem_write, &m), FMUGW_EINVALID);
    /* a failing sink stops the stream with its error */
    m.fail_after = 2; /* header passes, first chunk fails */
    assert_int_equal(crypto_seal_init(&s, kr, 16, mem_write, &m), 0);
    assert_int_equal(crypto_seal_update(s, data, 100), FMUGW_EIO);
    assert_int_not_equal(crypto_seal_update(s, data, 1), 0);
    crypto_seal_free(s);
    free(m.p);
    /* a sink failing while opening */
    membuf sealed2 = seal_buf(kr, 16, data, 100, 0);
    membuf p2 = {.fail_after = 1};
    assert_int_equal(open_buf(&p2, kr, sealed2.p, sealed2.len, 0), FMUGW_EIO);
    free(p2.p);
    free(sealed2.p);
    /* not a sealed blob */
    membuf p3 = {0};
    assert_int_equal(open_buf(&p3, kr, data, 1000, 0), FMUGW_EINVALID);
    assert_int_equal(open_buf(&p3, kr, data, 10, 0), FMUGW_EINVALID);
    assert_int_equal(p3.len, 0);
    free(p3.p);

    free(back);
    free(data);
    fclose(sealed);
    fclose(plain);
    crypto_keyring_free(kr);
}

static void test_tamper_every_byte(void **state)
{
    (void)state;
    crypto_keyring *kr = ring_with("k1", 1);
    uint8_t *data = pattern(200, 3);
    membuf sealed = seal_buf(kr, 64, data, 200, 0); /* 4 chunks: 64, 64, 64, 8 */
    assert_int_equal(sealed.len, CRYPTO_HEADER_LEN + 200 + 4 * CRYPTO_TAG_LEN);
    for (size_t i = 0; i < sealed.len; i++) {
        for (int bit = 0; bit < 8; bit += 7) {
            sealed.p[i] ^= (uint8_t)(1u << bit);
            membuf plain = {0};
            int rc = open_buf(&plain, kr, sealed.p, sealed.len, 0);
            if (rc == 0)
                fail_msg("flipping bit %d of byte %zu went unnoticed", bit, i);
            free(plain.p);
            sealed.p[i] ^= (uint8_t)(1u << bit);
        }
    }
    membuf plain = {0};
    assert_int_equal(open_buf(&plain, kr, sealed.p, sealed.len, 0), 0);
    free(plain.p);
    free(sealed.p);
    free(data);
    crypto_keyring_free(kr);
}

static void test_truncate_append_reorder(void **state)
{
    (void)state;
    crypto_keyring *kr = ring_with("k1", 1);
    uint8_t *data = pattern(192, 4);
    membuf sealed = seal_buf(kr, 64, data, 192, 0); /* chunks 64, 64 and a final 64 */
    /* every strict prefix fails, including those ending on a chunk boundary */
    for (size_t len = 0; len < sealed.len; len++) {
        membuf plain = {0};
        int rc = open_buf(&plain, kr, sealed.p, len, 13);
        if (rc == 0)
            fail_msg("prefix of %zu/%zu bytes accepted", len, sealed.len);
        if (len > CRYPTO_HEADER_LEN)
            assert_int_equal(rc, FMUGW_EAUTH);
        free(plain.p);
    }
    /* appended bytes fail */
    membuf longer = {0};
    mem_write(&longer, sealed.p, sealed.len);
    mem_write(&longer, "x", 1);
    membuf plain = {0};
    assert_int_equal(open_buf(&plain, kr, longer.p, longer.len, 0), FMUGW_EAUTH);
    free(plain.p);
    /* a whole extra copy of the last chunk fails */
    mem_write(&longer, sealed.p + sealed.len - CRYPTO_TAG_LEN, CRYPTO_TAG_LEN);
    plain = (membuf){0};
    assert_int_not_equal(open_buf(&plain, kr, longer.p, longer.len, 0), 0);
    free(plain.p);
    free(longer.p);
    /* swapping chunks 0 and 1 fails */
    size_t c = 64 + CRYPTO_TAG_LEN;
    uint8_t tmp[64 + CRYPTO_TAG_LEN];
    uint8_t *c0 = sealed.p + CRYPTO_HEADER_LEN, *c1 = c0 + c;
    memcpy(tmp, c0, c);
    memcpy(c0, c1, c);
    memcpy(c1, tmp, c);
    plain = (membuf){0};
    assert_int_equal(open_buf(&plain, kr, sealed.p, sealed.len, 0), FMUGW_EAUTH);
    free(plain.p);
    /* dropping the middle chunk fails */
    memcpy(c1, c0, c); /* restore order: c0 <- c1's old content is now in c0 */
    memcpy(c0, tmp, c);
    plain = (membuf){0};
    assert_int_equal(open_buf(&plain, kr, sealed.p, sealed.len, 0), 0);
    free(plain.p);
    membuf dropped = {0};
    mem_write(&dropped, sealed.p, CRYPTO_HEADER_LEN + c);
    mem_write(&dropped, sealed.p + CRYPTO_HEADER_LEN + 2 * c, sealed.len - CRYPTO_HEADER_LEN - 2 * c);
    plain = (membuf){0};
    assert_int_equal(open_buf(&plain, kr, dropped.p, dropped.len, 0), FMUGW_EAUTH);
    free(plain.p);
    free(dropped.p);
    /* a chunk spliced in from another blob sealed under the same master key fails */
    membuf other = seal_buf(kr, 64, data, 192, 0);
    memcpy(sealed.p + CRYPTO_HEADER_LEN, other.p + CRYPTO_HEADER_LEN, c);
    plain = (membuf){0};
    assert_int_equal(open_buf(&plain, kr, sealed.p, sealed.len, 0), FMUGW_EAUTH);
    free(plain.p);
    free(other.p);
    free(sealed.p);
    free(data);
    crypto_keyring_free(kr);
}

static void test_wrong_keys(void **state)
{
    (void)state;
    crypto_keyring *kr = ring_with("k1", 1);
    crypto_keyring *same_id_other_key = ring_with("k1", 2);
    crypto_keyring *other_id = ring_with("k9", 1);
    uint8_t data[50] = {5};
    membuf sealed = seal_buf(kr, 0, data, sizeof data, 0);
    membuf plain = {0};
    assert_int_equal(open_buf(&plain, same_id_other_key, sealed.p, sealed.len, 0), FMUGW_EAUTH);
    assert_int_equal(open_buf(&plain, other_id, sealed.p, sealed.len, 0), FMUGW_ENOTFOUND);
    assert_int_equal(plain.len, 0);
    /* a bad version is refused as such */
    sealed.p[8] = 2;
    assert_int_equal(open_buf(&plain, kr, sealed.p, sealed.len, 0), FMUGW_EINVALID);
    free(plain.p);
    free(sealed.p);
    crypto_keyring_free(kr);
    crypto_keyring_free(same_id_other_key);
    crypto_keyring_free(other_id);
}

static void test_rotation_and_rewrap(void **state)
{
    (void)state;
    uint8_t k1[32], k2[32];
    memset(k1, 0x11, 32);
    memset(k2, 0x22, 32);
    crypto_keyring *kr;
    assert_int_equal(crypto_keyring_new(&kr), 0);
    assert_int_equal(crypto_keyring_add(kr, "2024-01", k1, true), 0);
    uint8_t *data = pattern(5000, 8);
    membuf sealed = seal_buf(kr, 1024, data, 5000, 0);
    char id[CRYPTO_KEY_ID_MAX + 1];
    assert_int_equal(crypto_header_key_id(id, sealed.p), 0);
    assert_string_equal(id, "2024-01");

    /* rotate: k2 becomes active; old blobs still open, new ones use k2 */
    assert_int_equal(crypto_keyring_add(kr, "2024-02", k2, true), 0);
    membuf plain = {0};
    assert_int_equal(open_buf(&plain, kr, sealed.p, sealed.len, 0), 0);
    assert_memory_equal(plain.p, data, 5000);
    free(plain.p);
    membuf fresh = seal_buf(kr, 0, data, 10, 0);
    assert_int_equal(crypto_header_key_id(id, fresh.p), 0);
    assert_string_equal(id, "2024-02");
    free(fresh.p);

    /* rewrap the header only: the body bytes stay identical */
    membuf rewrapped = {0};
    mem_write(&rewrapped, sealed.p, sealed.len);
    assert_int_equal(crypto_rewrap(rewrapped.p, kr), 0);
    assert_int_equal(crypto_header_key_id(id, rewrapped.p), 0);
    assert_string_equal(id, "2024-02");
    assert_memory_equal(rewrapped.p + CRYPTO_HEADER_LEN, sealed.p + CRYPTO_HEADER_LEN, sealed.len - CRYPTO_HEADER_LEN);
    assert_memory_not_equal(rewrapped.p, sealed.p, CRYPTO_HEADER_LEN);

    /* retire k1: a keyring with only k2 opens the rewrapped blob, not the old one */
    crypto_keyring *only2;
    assert_int_equal(crypto_keyring_new(&only2), 0);
    assert_int_equal(crypto_keyring_add(only2, "2024-02", k2, true), 0);
    plain = (membuf){0};
    assert_int_equal(open_buf(&plain, only2, rewrapped.p, rewrapped.len, 0), 0);
    assert_int_equal(plain.len, 5000);
    assert_memory_equal(plain.p, data, 5000);
    free(plain.p);
    plain = (membuf){0};
    assert_int_equal(open_buf(&plain, only2, sealed.p, sealed.len, 0), FMUGW_ENOTFOUND);
    free(plain.p);

    /* rewrap refuses a header it cannot authenticate, and leaves it alone */
    uint8_t h[CRYPTO_HEADER_LEN];
    memcpy(h, sealed.p, sizeof h);
    h[60] ^= 1; /* wrapped key */
    uint8_t h0[CRYPTO_HEADER_LEN];
    memcpy(h0, h, sizeof h);
    assert_int_equal(crypto_rewrap(h, kr), FMUGW_EAUTH);
    assert_memory_equal(h, h0, sizeof h);
    memcpy(h, sealed.p, sizeof h);
    assert_int_equal(crypto_rewrap(h, only2), FMUGW_ENOTFOUND);
    /* swapping the key id in the header (to another known key) is caught */
    memcpy(h, rewrapped.p, sizeof h);
    memcpy(h + 10, "2024-01", 7);
    plain = (membuf){0};
    membuf swapped = {0};
    mem_write(&swapped, h, sizeof h);
    mem_write(&swapped, rewrapped.p + CRYPTO_HEADER_LEN, rewrapped.len - CRYPTO_HEADER_LEN);
    assert_int_equal(open_buf(&plain, kr, swapped.p, swapped.len, 0), FMUGW_EAUTH);
    free(plain.p);
    free(swapped.p);
    /* rewrapping twice is fine (new wrap nonce each time) */
    membuf again = {0};
    mem_write(&again, rewrapped.p, rewrapped.len);
    assert_int_equal(crypto_rewrap(again.p, kr), 0);
    assert_memory_not_equal(again.p + 42, rewrapped.p + 42, 12);
    plain = (membuf){0};
    assert_int_equal(open_buf(&plain, only2, again.p, again.len, 0), 0);
    free(plain.p);
    free(again.p);

    free(rewrapped.p);
    free(sealed.p);
    free(data);
    crypto_keyring_free(only2);
    crypto_keyring_free(kr);
}

/* 100 MB: seal -> open -> SHA-256, all streaming, in constant memory. */
/* ---- random access (crypto_reader) ---- */

typedef struct {
    const uint8_t *p;
    size_t len;
    int reads;
} sealed_mem;

static int sealed_read_at(void *opaque, uint64_t off, void *buf, size_t len, size_t *out_n)
{
    sealed_mem *m = opaque;
    m->reads++;
    size_t n = off >= m->len ? 0 : (m->len - off < len ? (size_t)(m->len - off) : len);
    memcpy(buf, m->p + off, n);
    *out_n = n;
    return 0;
}

static void test_reader_random_access(void **state)
{
    (void)state;
    crypto_keyring *kr = ring_with("k1", 0x42);
    const size_t chunk = 100;
    const size_t sizes[] = { 0, 1, 99, 100, 101, 250, 1000, 1001 };
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t n = sizes[si];
        uint8_t *plain = pattern(n, (uint32_t)n + 1);
        membuf sealed = seal_buf(kr, chunk, plain, n, 37);
        sealed_mem m = { sealed.p, sealed.len, 0 };
        crypto_reader *r = NULL;
        assert_int_equal(crypto_reader_open(&r, kr, sealed.len, sealed_read_at, &m), 0);
        assert_int_equal(crypto_reader_size(r), n);
        uint8_t buf[400];
        size_t got = 0;
        /* every offset and a few lengths, across chunk boundaries */
        for (size_t off = 0; off <= n + 2; off += (n > 300 ? 7 : 1)) {
            for (size_t len = 0; len <= 250; len += 83) {
                assert_int_equal(crypto_reader_pread(r, off, buf, len, &got), 0);
                size_t want = off >= n ? 0 : (n - off < len ? n - off : len);
                assert_int_equal(got, want);
                if (want)
                    assert_memory_equal(buf, plain + off, want);
            }
        }
        crypto_reader_free(r);
        free(plain);
        free(sealed.p);
    }
    crypto_keyring_free(kr);
}

static void test_reader_refuses_tampering(void **state)
{
    (void)state;
    crypto_keyring *kr = ring_with("k1", 0x42), *other = ring_with("k2", 0x43);
    const size_t chunk = 64, n = 1000; /* 16 chunks, the last of 40 bytes */
    uint8_t *plain = pattern(n, 9), buf[64];
    membuf sealed = seal_buf(kr, chunk, plain, n, 0);
    size_t got;
    crypto_reader *r = NULL;

    /* one flipped byte in chunk 3: chunks 2 and 4 still read, 3 does not */
    sealed.p[CRYPTO_HEADER_LEN + 3 * (chunk + CRYPTO_TAG_LEN) + 5] ^= 1;
    sealed_mem m = { sealed.p, sealed.len, 0 };
    assert_int_equal(crypto_reader_open(&r, kr, sealed.len, sealed_read_at, &m), 0);
    assert_int_equal(crypto_reader_pread(r, 2 * chunk, buf, chunk, &got), 0);
    assert_memory_equal(buf, plain + 2 * chunk, chunk);
    assert_int_equal(crypto_reader_pread(r, 4 * chunk, buf, chunk, &got), 0);
    assert_int_equal(crypto_reader_pread(r, 3 * chunk + 10, buf, 4, &got), FMUGW_EAUTH);
    crypto_reader_free(r);
    sealed.p[CRYPTO_HEADER_LEN + 3 * (chunk + CRYPTO_TAG_LEN) + 5] ^= 1;

    /* truncated at a chunk boundary: the new last chunk was not sealed as
     * the last one */
    size_t cut = CRYPTO_HEADER_LEN + 10 * (chunk + CRYPTO_TAG_LEN);
    assert_int_equal(crypto_reader_open(&r, kr, cut, sealed_read_at, &m), 0);
    assert_int_equal(crypto_reader_size(r), 10 * chunk);
    assert_int_equal(crypto_reader_pread(r, 0, buf, 8, &got), 0);
    assert_int_equal(crypto_reader_pread(r, 9 * chunk, buf, 8, &got), FMUGW_EAUTH);
    crypto_reader_free(r);
    /* a size no sealed blob has (a partial tag), or less than a header */
    assert_int_equal(crypto_reader_open(&r, kr, cut + 5, sealed_read_at, &m), FMUGW_EAUTH);
    assert_null(r);
    assert_int_equal(crypto_reader_open(&r, kr, 50, sealed_read_at, &m), FMUGW_EAUTH);
    /* two chunks swapped */
    uint8_t *sw = malloc(sealed.len);
    memcpy(sw, sealed.p, sealed.len);
    memcpy(sw + CRYPTO_HEADER_LEN, sealed.p + CRYPTO_HEADER_LEN + chunk + CRYPTO_TAG_LEN, chunk + CRYPTO_TAG_LEN);
    memcpy(sw + CRYPTO_HEADER_LEN + chunk + CRYPTO_TAG_LEN, sealed.p + CRYPTO_HEADER_LEN, chunk + CRYPTO_TAG_LEN);
    sealed_mem ms = { sw, sealed.len, 0 };
    assert_int_equal(crypto_reader_open(&r, kr, sealed.len, sealed_read_at, &ms), 0);
    assert_int_equal(crypto_reader_pread(r, 0, buf, 8, &got), FMUGW_EAUTH);
    crypto_reader_free(r);
    free(sw);
    /* a keyring without the blob's key */
    assert_int_equal(crypto_reader_open(&r, other, sealed.len, sealed_read_at, &m), FMUGW_ENOTFOUND);
    /* a reading that reuses the cached chunk does not read again */
    assert_int_equal(crypto_reader_open(&r, kr, sealed.len, sealed_read_at, &m), 0);
    assert_int_equal(crypto_reader_pread(r, 0, buf, 8, &got), 0);
    int before = m.reads;
    assert_int_equal(crypto_reader_pread(r, 8, buf, 8, &got), 0);
    assert_int_equal(m.reads, before);
    crypto_reader_free(r);
    crypto_reader_free(NULL);
    free(plain);
    free(sealed.p);
    crypto_keyring_free(kr);
    crypto_keyring_free(other);
}

typedef struct {
    crypto_open *o;
    size_t sealed_bytes;
} pipe_to_open;

static int to_open(void *opaque, const void *data, size_t len)
{
    pipe_to_open *p = opaque;
    p->sealed_bytes += len;
    return crypto_open_update(p->o, data, len);
}

static int to_sha(void *opaque, const void *data, size_t len)
{
    return crypto_sha256_update(opaque, data, len);
}

static long max_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void test_stream_100mb(void **state)
{
    (void)state;
    const size_t total = 100u << 20;
    crypto_keyring *kr = ring_with("big", 9);
    crypto_sha256_ctx *in_sha, *out_sha;
    assert_int_equal(crypto_sha256_new(&in_sha), 0);
    assert_int_equal(crypto_sha256_new(&out_sha), 0);
    pipe_to_open p = {0};
    assert_int_equal(crypto_open_init(&p.o, kr, to_sha, out_sha), 0);
    crypto_seal *s;
    assert_int_equal(crypto_seal_init(&s, kr, 0, to_open, &p), 0);

    /* warm up allocators before measuring */
    size_t piece = 100003; /* not a multiple of the chunk size */
    uint8_t *buf = malloc(piece);
    assert_non_null(buf);
    long rss0 = max_rss_kb();
    uint32_t x = 1;
    for (size_t done = 0; done < total;) {
        size_t n = total - done < piece ? total - done : piece;
        for (size_t i = 0; i < n; i += 4) {
            x = x * 1664525u + 1013904223u;
            memcpy(buf + i, &x, n - i < 4 ? n - i : 4);
        }
        assert_int_equal(crypto_sha256_update(in_sha, buf, n), 0);
        assert_int_equal(crypto_seal_update(s, buf, n), 0);
        done += n;
    }
    assert_int_equal(crypto_seal_final(s), 0);
    assert_int_equal(crypto_open_final(p.o), 0);
    long rss1 = max_rss_kb();

    uint8_t d_in[32], d_out[32];
    assert_int_equal(crypto_sha256_final(in_sha, d_in), 0);
    assert_int_equal(crypto_sha256_final(out_sha, d_out), 0);
    assert_memory_equal(d_in, d_out, 32);
    size_t chunks = (total + CRYPTO_CHUNK_DEFAULT - 1) / CRYPTO_CHUNK_DEFAULT;
    assert_int_equal(p.sealed_bytes, CRYPTO_HEADER_LEN + total + chunks * CRYPTO_TAG_LEN);
    /* 100 MB went through; the peak RSS grew by far less than that */
    if (rss1 - rss0 > 16 * 1024)
        fail_msg("max RSS grew by %ld KiB while streaming 100 MiB", rss1 - rss0);

    free(buf);
    crypto_seal_free(s);
    crypto_open_free(p.o);
    crypto_sha256_free(in_sha);
    crypto_sha256_free(out_sha);
    crypto_keyring_free(kr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_vectors),
        cmocka_unit_test(test_hmac_rfc4231),
        cmocka_unit_test(test_equal_random_wipe),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_b64url),
        cmocka_unit_test(test_key_parse),
        cmocka_unit_test(test_keyring),
        cmocka_unit_test(test_seal_round_trip),
        cmocka_unit_test(test_seal_files_and_errors),
        cmocka_unit_test(test_tamper_every_byte),
        cmocka_unit_test(test_truncate_append_reorder),
        cmocka_unit_test(test_wrong_keys),
        cmocka_unit_test(test_rotation_and_rewrap),
        cmocka_unit_test(test_reader_random_access),
        cmocka_unit_test(test_reader_refuses_tampering),
        cmocka_unit_test(test_stream_100mb),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
