/*
 * test_gateway_auth.c - the gateway's auth core against the real fmugwd
 * (harness.h): first-start admin key, POST /auth/token, key lifecycle
 * (admin CLI and /keys), every bad-token case, rate limits and 429, the
 * abuse lock and its unlock, the audit chain (verify, then tamper), secrets
 * kept out of the log, kill -9 and restart, token expiry. Tokens are forged
 * with src/auth/jwt.h under the JWT secret the daemon is started with.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "harness.h"

#include "auth/apikey.h"
#include "auth/jwt.h"
#include "store/db.h"
#include "util/crypto.h"

#define JWT_HEX "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static gw G;
static char jwt_env[] = "FMUGW_JWT_SECRET=" JWT_HEX;

/* ---- helpers ------------------------------------------------------------- */

/* Runs `fmugwd admin --data-dir <dir> <args>`; stdout into out. Returns
 * the exit status (or -1). */
static int admin(const char *data_dir, char *out, size_t size, const char *fmt, ...)
{
    char args[1024], cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "'%s' admin --data-dir '%s' %s 2>/dev/null", getenv("FMUGWD"), data_dir, args);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Creates an account (tier) with the admin CLI: key and account id out. */
static void new_account(const char *email, const char *tier, char *key, size_t ksize, char *acct, size_t asize)
{
    char out[4096];
    assert_int_equal(admin(G.data_dir, out, sizeof out, "account create --email %s --tier %s --json", email, tier), 0);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_non_null(json_string_value(json_object_get(j, "api_key")));
    assert_non_null(json_string_value(json_object_get(j, "account_id")));
    snprintf(key, ksize, "%s", json_string_value(json_object_get(j, "api_key")));
    if (acct)
        snprintf(acct, asize, "%s", json_string_value(json_object_get(j, "account_id")));
    json_decref(j);
}

/* POST /auth/token with `key`: returns the status; the token into tok. */
static long get_token(const gw *g, const char *key, char *tok, size_t size)
{
    char h[200];
    snprintf(h, sizeof h, "X-API-Key: %s", key);
    const char *hs[] = {h, NULL};
    gw_response r;
    assert_int_equal(gw_request(g, &r, "POST", "/auth/token", NULL, 0, hs), 0);
    long st = r.status;
    if (tok)
        tok[0] = '\0';
    if (st == 200 && tok) {
        json_t *j = gw_json(&r);
        assert_non_null(j);
        /* api/openapi.yaml Token: required access_token, token_type Bearer, expires_in <= 900 */
        assert_non_null(json_string_value(json_object_get(j, "access_token")));
        assert_string_equal(json_string_value(json_object_get(j, "token_type")), "Bearer");
        assert_true(json_is_integer(json_object_get(j, "expires_in")));
        json_int_t ttl = json_integer_value(json_object_get(j, "expires_in"));
        assert_true(ttl >= 1 && ttl <= 900);
        snprintf(tok, size, "%s", json_string_value(json_object_get(j, "access_token")));
        json_decref(j);
    }
    gw_response_free(&r);
    return st;
}

/* A request with key and bearer (either may be NULL); fills r. */
static long call(const gw *g, gw_response *r, const char *method, const char *path, const char *key,
                 const char *tok, const char *body)
{
    char hk[200], ht[9000];
    const char *hs[4];
    int n = 0;
    if (key) {
        snprintf(hk, sizeof hk, "X-API-Key: %.180s", key);
        hs[n++] = hk;
    }
    if (tok) {
        snprintf(ht, sizeof ht, "Authorization: Bearer %.8960s", tok);
        hs[n++] = ht;
    }
    if (body)
        hs[n++] = "Content-Type: application/json";
    hs[n] = NULL;
    assert_int_equal(gw_request(g, r, method, path, body, body ? strlen(body) : 0, hs), 0);
    return r->status;
}

/* Status of GET /keys with key and token. */
static long status_of(const char *key, const char *tok)
{
    gw_response r;
    long st = call(&G, &r, "GET", "/keys", key, tok, NULL);
    gw_response_free(&r);
    return st;
}

/* Asserts r is a problem+json with the required members (api/openapi.yaml
 * Problem) and the given status and slug. */
static void assert_problem(const gw_response *r, long status, const char *slug)
{
    char ct[128], want[200];
    assert_int_equal(r->status, status);
    assert_non_null(gw_header(r, "Content-Type", ct, sizeof ct));
    assert_non_null(strstr(ct, "application/problem+json"));
    json_t *j = gw_json(r);
    assert_non_null(j);
    snprintf(want, sizeof want, "https://fmu-gateway.dev/problems/%s", slug);
    assert_string_equal(json_string_value(json_object_get(j, "type")), want);
    assert_non_null(json_string_value(json_object_get(j, "title")));
    assert_int_equal(json_integer_value(json_object_get(j, "status")), status);
    json_decref(j);
}

/* The payload of a token as JSON (new reference). */
static json_t *token_payload(const char *tok)
{
    const char *d1 = strchr(tok, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    uint8_t buf[4096];
    size_t n = 0;
    assert_non_null(d2);
    assert_int_equal(crypto_b64url_decode(buf, &n, sizeof buf, d1 + 1, (size_t)(d2 - d1 - 1)), 0);
    return json_loadb((const char *)buf, n, 0, NULL);
}

static char *b64(const char *s)
{
    size_t n = crypto_b64url_len(strlen(s)) + 1;
    char *out = malloc(n);
    assert_int_equal(crypto_b64url_encode(out, n, s, strlen(s)), 0);
    return out;
}

/* Signs a token with `key_hex` as kid "env" (the daemon's FMUGW_JWT_SECRET). */
static char *forge(const char *key_hex, const char *iss, const char *aud, const char *sub, const char *key_id,
                   int64_t now, int64_t ttl)
{
    jwt_keyring *kr = NULL;
    uint8_t key[32];
    char *tok = NULL;
    assert_int_equal(crypto_key_parse(key, key_hex), 0);
    assert_int_equal(jwt_keyring_new(&kr), 0);
    assert_int_equal(jwt_keyring_add(kr, "env", key, sizeof key, true), 0);
    json_t *extra = json_pack("{s:s,s:s,s:i,s:s}", "key_id", key_id, "tier", "pro", "credits", 0, "scope",
                              "fmu:read fmu:write jobs:run account:read");
    jwt_sign_opts o = {.iss = iss, .aud = aud, .sub = sub, .ttl = ttl, .now = now};
    assert_int_equal(jwt_sign(&tok, kr, &o, extra), 0);
    json_decref(extra);
    jwt_keyring_free(kr);
    return tok;
}

/* The reason recorded by the newest "auth.failure" audit entry. */
static void last_failure_reason(char *out, size_t size)
{
    char url[700];
    db_conn *c = NULL;
    db_stmt *st = NULL;
    snprintf(url, sizeof url, "sqlite://%s/fmugw.db", G.data_dir);
    assert_int_equal(db_open(&c, url), 0);
    assert_int_equal(db_query(&st, c, "SELECT detail FROM audit_log WHERE action = 'auth.failure' ORDER BY seq DESC LIMIT 1",
                              NULL),
                     0);
    assert_int_equal(db_step(st), 1);
    json_t *j = json_loads(db_column_text(st, 0), 0, NULL);
    assert_non_null(j);
    snprintf(out, size, "%s", json_string_value(json_object_get(j, "reason")));
    json_decref(j);
    db_finalize(st);
    db_close(c);
}

/* ---- tests --------------------------------------------------------------- */

static int setup(void **state)
{
    (void)state;
    char *env[] = {jwt_env, NULL};
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (gw_start(&G, env) != 0)
        return -1;
    return G.admin_key[0] ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    gw_stop(&G);
    curl_global_cleanup();
    return 0;
}

static void test_first_start_and_token(void **state)
{
    (void)state;
    char tok[4096], buf[256];
    assert_non_null(strstr(G.admin_key, "fmugw_live_"));
    assert_non_null(strstr(G.admin_account, "acct_"));

    /* The admin line is exactly one JSON line on stdout. */
    char out[4096];
    assert_int_equal(gw__read_file(G.stdout_path, out, sizeof out), 0);
    assert_non_null(strchr(out, '\n'));
    assert_null(strchr(strchr(out, '\n') + 1, '\n'));
    json_t *line = json_loads(out, 0, NULL);
    assert_non_null(line);
    assert_string_equal(json_string_value(json_object_get(line, "admin_api_key")), G.admin_key);
    json_decref(line);

    assert_int_equal(get_token(&G, G.admin_key, tok, sizeof tok), 200);
    json_t *p = token_payload(tok);
    assert_non_null(p);
    assert_string_equal(json_string_value(json_object_get(p, "iss")), "fmugw");
    assert_string_equal(json_string_value(json_object_get(p, "aud")), "fmugw-api");
    assert_string_equal(json_string_value(json_object_get(p, "sub")), G.admin_account);
    assert_string_equal(json_string_value(json_object_get(p, "tier")), "enterprise");
    assert_true(json_is_integer(json_object_get(p, "credits")));
    assert_non_null(strstr(json_string_value(json_object_get(p, "scope")), "admin"));
    assert_non_null(json_string_value(json_object_get(p, "jti")));
    assert_non_null(json_string_value(json_object_get(p, "key_id")));
    json_int_t iat = json_integer_value(json_object_get(p, "iat")), exp = json_integer_value(json_object_get(p, "exp"));
    assert_true(exp > iat && exp - iat <= 900);
    json_decref(p);

    gw_response r;
    assert_int_equal(call(&G, &r, "GET", "/keys", G.admin_key, tok, NULL), 200);
    assert_non_null(gw_header(&r, "RateLimit-Policy", buf, sizeof buf));
    assert_non_null(strstr(buf, "q=800"));
    assert_non_null(gw_header(&r, "RateLimit", buf, sizeof buf));
    assert_non_null(strstr(buf, "r="));
    json_t *j = gw_json(&r);
    assert_true(json_is_array(json_object_get(j, "items")));
    assert_int_equal(json_array_size(json_object_get(j, "items")), 1);
    json_decref(j);
    gw_response_free(&r);

    /* The token route has the headers too. */
    const char *hs[] = {buf, NULL};
    snprintf(buf, sizeof buf, "X-API-Key: %s", G.admin_key);
    assert_int_equal(gw_request(&G, &r, "POST", "/auth/token", NULL, 0, hs), 0);
    assert_non_null(gw_header(&r, "RateLimit-Policy", out, sizeof out));
    gw_response_free(&r);
}

static void test_bad_tokens(void **state)
{
    (void)state;
    char a_key[128], a_acct[128], b_key[128], b_acct[128], c_key[128], c_acct[128], tok[4096], tok_b[4096];
    char reason[64];
    gw_response r;
    new_account("bad-a@example.com", "pro", a_key, sizeof a_key, a_acct, sizeof a_acct);
    new_account("bad-b@example.com", "pro", b_key, sizeof b_key, b_acct, sizeof b_acct);
    new_account("bad-c@example.com", "pro", c_key, sizeof c_key, c_acct, sizeof c_acct);
    assert_int_equal(get_token(&G, a_key, tok, sizeof tok), 200);
    assert_int_equal(get_token(&G, b_key, tok_b, sizeof tok_b), 200);
    json_t *p = token_payload(tok);
    char a_kid[64];
    snprintf(a_kid, sizeof a_kid, "%s", json_string_value(json_object_get(p, "key_id")));
    assert_int_equal(status_of(a_key, tok), 200);

    /* Positive control: a token forged with the right secret and claims passes. */
    char *good = forge(JWT_HEX, "fmugw", "fmugw-api", a_acct, a_kid, 0, 300);
    assert_int_equal(status_of(a_key, good), 200);
    free(good);

    /* Tampered payload: sub changed, signature kept. */
    {
        json_object_set_new(p, "sub", json_string(b_acct));
        char *text = json_dumps(p, JSON_COMPACT), *pl = b64(text);
        const char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
        char forged[4096];
        snprintf(forged, sizeof forged, "%.*s.%s%s", (int)(d1 - tok), tok, pl, d2);
        assert_int_equal(call(&G, &r, "GET", "/keys", a_key, forged, NULL), 401);
        assert_problem(&r, 401, "unauthorized");
        gw_response_free(&r);
        last_failure_reason(reason, sizeof reason);
        assert_string_equal(reason, "token_bad_signature");
        free(text);
        free(pl);
    }
    /* One flipped signature character. */
    {
        char t2[4096];
        snprintf(t2, sizeof t2, "%s", tok);
        size_t n = strlen(t2);
        t2[n - 2] = t2[n - 2] == 'A' ? 'B' : 'A';
        assert_int_equal(status_of(a_key, t2), 401);
    }
    /* Signed with a wrong key (same kid). */
    char *wrong = forge("ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100", "fmugw", "fmugw-api",
                        a_acct, a_kid, 0, 300);
    assert_int_equal(status_of(a_key, wrong), 401);
    free(wrong);
    /* alg none. */
    {
        char *h = b64("{\"alg\":\"none\",\"typ\":\"JWT\",\"kid\":\"env\"}");
        const char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
        char none[4096];
        snprintf(none, sizeof none, "%s.%.*s.", h, (int)(d2 - d1 - 1), d1 + 1);
        assert_int_equal(status_of(a_key, none), 401);
        last_failure_reason(reason, sizeof reason);
        assert_string_equal(reason, "token_bad_alg");
        free(h);
    }
    /* Expired. */
    char *old = forge(JWT_HEX, "fmugw", "fmugw-api", a_acct, a_kid, (int64_t)time(NULL) - 3600, 600);
    assert_int_equal(call(&G, &r, "GET", "/keys", a_key, old, NULL), 401);
    assert_problem(&r, 401, "unauthorized");
    gw_response_free(&r);
    last_failure_reason(reason, sizeof reason);
    assert_string_equal(reason, "token_expired");
    free(old);

    /* Key C from here on (A has 5 failures; 10 would lock it). */
    json_decref(p);
    assert_int_equal(get_token(&G, c_key, tok, sizeof tok), 200);
    p = token_payload(tok);
    char c_kid[64];
    snprintf(c_kid, sizeof c_kid, "%s", json_string_value(json_object_get(p, "key_id")));
    json_decref(p);
    /* Wrong audience, wrong issuer. */
    char *aud = forge(JWT_HEX, "fmugw", "other-api", c_acct, c_kid, 0, 300);
    assert_int_equal(status_of(c_key, aud), 401);
    last_failure_reason(reason, sizeof reason);
    assert_string_equal(reason, "token_bad_audience");
    free(aud);
    char *iss = forge(JWT_HEX, "evil", "fmugw-api", c_acct, c_kid, 0, 300);
    assert_int_equal(status_of(c_key, iss), 401);
    last_failure_reason(reason, sizeof reason);
    assert_string_equal(reason, "token_bad_issuer");
    free(iss);
    /* Key B's token with key C, and C's account with B's key id. */
    assert_int_equal(status_of(c_key, tok_b), 401);
    last_failure_reason(reason, sizeof reason);
    assert_string_equal(reason, "token_for_another_key");
    assert_int_equal(status_of(b_key, tok_b), 200);
    /* Garbage token. */
    assert_int_equal(status_of(c_key, "not.a.token"), 401);

    /* Missing headers. */
    assert_int_equal(call(&G, &r, "GET", "/keys", NULL, tok, NULL), 401);
    assert_problem(&r, 401, "unauthorized");
    gw_response_free(&r);
    assert_int_equal(status_of(c_key, NULL), 401);
    last_failure_reason(reason, sizeof reason);
    assert_string_equal(reason, "missing_bearer_token");
    assert_int_equal(get_token(&G, "", NULL, 0), 401);

    /* Malformed key: a bad checksum is refused before any key lookup. */
    {
        char bad[128];
        snprintf(bad, sizeof bad, "%s", c_key);
        size_t n = strlen(bad);
        bad[n - 1] = bad[n - 1] == 'a' ? 'b' : 'a';
        assert_int_equal(get_token(&G, bad, NULL, 0), 401);
        last_failure_reason(reason, sizeof reason);
        assert_string_equal(reason, "malformed_api_key");
        assert_int_equal(get_token(&G, "fmugw_live_short", NULL, 0), 401);
        last_failure_reason(reason, sizeof reason);
        assert_string_equal(reason, "malformed_api_key");
    }
    /* A well-formed key that does not exist. */
    {
        char fake[APIKEY_LEN + 1];
        assert_int_equal(apikey_generate(fake), 0);
        assert_int_equal(get_token(&G, fake, NULL, 0), 401);
        last_failure_reason(reason, sizeof reason);
        assert_string_equal(reason, "unknown_api_key");
    }
    /* C still works with its own token after all this. */
    assert_int_equal(status_of(c_key, tok), 200);
}

static void test_key_lifecycle(void **state)
{
    (void)state;
    char admin_tok[4096], tok[4096], out[8192], buf[128], reason[64];
    gw_response r;
    assert_int_equal(get_token(&G, G.admin_key, admin_tok, sizeof admin_tok), 200);

    /* POST /keys: a narrower key; shown once. */
    assert_int_equal(call(&G, &r, "POST", "/keys", G.admin_key, admin_tok,
                          "{\"scopes\":\"fmu:read account:read\",\"name\":\"ci\"}"),
                     201);
    json_t *j = gw_json(&r);
    gw_response_free(&r);
    char key[128], kid[64];
    snprintf(key, sizeof key, "%s", json_string_value(json_object_get(j, "api_key")));
    snprintf(kid, sizeof kid, "%s", json_string_value(json_object_get(j, "id")));
    assert_non_null(strstr(key, "fmugw_live_"));
    assert_string_equal(json_string_value(json_object_get(j, "scopes")), "fmu:read account:read");
    assert_true(json_is_null(json_object_get(j, "last_used_at")));
    json_decref(j);

    /* It cannot mint a key with more scopes than it has. */
    assert_int_equal(get_token(&G, key, tok, sizeof tok), 200);
    assert_int_equal(call(&G, &r, "POST", "/keys", key, tok, "{\"scopes\":[\"admin\"]}"), 403);
    assert_problem(&r, 403, "forbidden");
    gw_response_free(&r);
    assert_int_equal(call(&G, &r, "POST", "/keys", key, tok, "{\"scopes\":\"bogus:scope\"}"), 400);
    assert_problem(&r, 400, "bad-request");
    gw_response_free(&r);
    assert_int_equal(status_of(key, tok), 200);

    /* The list shows it with its last use. */
    assert_int_equal(call(&G, &r, "GET", "/keys", G.admin_key, admin_tok, NULL), 200);
    j = gw_json(&r);
    gw_response_free(&r);
    json_t *items = json_object_get(j, "items"), *it, *mine = NULL;
    size_t i;
    json_array_foreach(items, i, it)
    {
        assert_non_null(json_string_value(json_object_get(it, "id")));
        assert_null(json_object_get(it, "api_key")); /* never shown again */
        if (!strcmp(json_string_value(json_object_get(it, "id")), kid))
            mine = it;
    }
    assert_non_null(mine);
    assert_true(json_is_string(json_object_get(mine, "last_used_at")));
    assert_true(json_is_null(json_object_get(mine, "revoked_at")));
    json_decref(j);

    /* Another tenant's key id is a 404, as is a missing one. */
    char x_key[128], x_tok[4096];
    new_account("other-tenant@example.com", "pro", x_key, sizeof x_key, NULL, 0);
    assert_int_equal(get_token(&G, x_key, x_tok, sizeof x_tok), 200);
    snprintf(buf, sizeof buf, "/keys/%s", kid);
    assert_int_equal(call(&G, &r, "DELETE", buf, x_key, x_tok, NULL), 404);
    assert_problem(&r, 404, "not-found");
    gw_response_free(&r);
    assert_int_equal(call(&G, &r, "DELETE", "/keys/k_0000000000000000", G.admin_key, admin_tok, NULL), 404);
    gw_response_free(&r);
    assert_int_equal(status_of(key, tok), 200);

    /* Revoke: its live token dies at once, and no new token is issued. */
    assert_int_equal(call(&G, &r, "DELETE", buf, G.admin_key, admin_tok, NULL), 204);
    gw_response_free(&r);
    assert_int_equal(call(&G, &r, "GET", "/keys", key, tok, NULL), 401);
    assert_problem(&r, 401, "unauthorized");
    gw_response_free(&r);
    last_failure_reason(reason, sizeof reason);
    assert_string_equal(reason, "revoked_api_key");
    assert_int_equal(get_token(&G, key, NULL, 0), 401);

    /* The same through the admin CLI. */
    assert_int_equal(admin(G.data_dir, out, sizeof out, "key create --email other-tenant@example.com --scopes 'fmu:read' --json"), 0);
    j = json_loads(out, 0, NULL);
    assert_non_null(j);
    snprintf(key, sizeof key, "%s", json_string_value(json_object_get(j, "api_key")));
    snprintf(kid, sizeof kid, "%s", json_string_value(json_object_get(j, "key_id")));
    json_decref(j);
    assert_int_equal(get_token(&G, key, tok, sizeof tok), 200);
    assert_int_equal(admin(G.data_dir, out, sizeof out, "key list --email other-tenant@example.com"), 0);
    assert_non_null(strstr(out, kid));
    assert_non_null(strstr(out, "active"));
    assert_null(strstr(out, key)); /* only the hint, never the key */
    /* fmu:read only: /keys needs account:read. */
    assert_int_equal(call(&G, &r, "GET", "/keys", key, tok, NULL), 403);
    assert_problem(&r, 403, "forbidden");
    gw_response_free(&r);
    assert_int_equal(admin(G.data_dir, out, sizeof out, "key revoke --id %s", kid), 0);
    assert_int_equal(get_token(&G, key, NULL, 0), 401);
    assert_int_equal(admin(G.data_dir, out, sizeof out, "key list --email other-tenant@example.com"), 0);
    assert_non_null(strstr(out, "revoked"));
    /* Bad usage is exit 2; an unknown key is exit 1. */
    assert_int_equal(admin(G.data_dir, out, sizeof out, "key revoke"), 2);
    assert_int_equal(admin(G.data_dir, out, sizeof out, "key revoke --id k_nope"), 1);
    assert_int_equal(admin(G.data_dir, out, sizeof out, "account create --email z@example.com --tier gold"), 2);

    /* Credits: grants add up, and the token carries the balance. */
    assert_int_equal(admin(G.data_dir, out, sizeof out, "credits grant --email other-tenant@example.com --amount 70"), 0);
    assert_int_equal(admin(G.data_dir, out, sizeof out, "credits grant --email other-tenant@example.com --amount 5"), 0);
    /* On top of the pro tier's first monthly grant (150,000, pricing.json). */
    assert_non_null(strstr(out, "\"balance\":150075,"));
    assert_int_equal(admin(G.data_dir, out, sizeof out, "credits set --email other-tenant@example.com --amount 40"), 0);
    assert_non_null(strstr(out, "\"balance\":40,"));
    assert_int_equal(get_token(&G, x_key, x_tok, sizeof x_tok), 200);
    j = token_payload(x_tok);
    assert_int_equal(json_integer_value(json_object_get(j, "credits")), 40);
    json_decref(j);

    /* Tier change takes effect on the next call. */
    assert_int_equal(admin(G.data_dir, out, sizeof out, "account set-tier --email other-tenant@example.com --tier free"), 0);
    assert_int_equal(call(&G, &r, "GET", "/keys", x_key, x_tok, NULL), 200);
    assert_non_null(gw_header(&r, "RateLimit-Policy", buf, sizeof buf));
    assert_non_null(strstr(buf, "\"free\""));
    gw_response_free(&r);
    /* A locked account's keys stop at once. */
    assert_int_equal(admin(G.data_dir, out, sizeof out, "account lock --email other-tenant@example.com"), 0);
    assert_int_equal(call(&G, &r, "GET", "/keys", x_key, x_tok, NULL), 403);
    assert_problem(&r, 403, "forbidden");
    gw_response_free(&r);
    assert_int_equal(admin(G.data_dir, out, sizeof out, "account unlock --email other-tenant@example.com"), 0);
    assert_int_equal(status_of(x_key, x_tok), 200);
    assert_int_equal(admin(G.data_dir, out, sizeof out, "account list"), 0);
    assert_non_null(strstr(out, "other-tenant@example.com"));
}

static void test_rate_limit(void **state)
{
    (void)state;
    char key[128], tok[4096], buf[256];
    new_account("free@example.com", "free", key, sizeof key, NULL, 0);
    assert_int_equal(get_token(&G, key, tok, sizeof tok), 200);
    int ok = 0, limited = 0;
    for (int i = 0; i < 40 && !limited; i++) {
        gw_response r;
        long st = call(&G, &r, "GET", "/keys", key, tok, NULL);
        assert_non_null(gw_header(&r, "RateLimit-Policy", buf, sizeof buf));
        assert_string_equal(buf, "\"free\";q=20;w=4");
        assert_non_null(gw_header(&r, "RateLimit", buf, sizeof buf));
        if (st == 200) {
            ok++;
        } else {
            assert_problem(&r, 429, "rate-limited");
            assert_non_null(gw_header(&r, "Retry-After", buf, sizeof buf));
            assert_true(atoi(buf) >= 1);
            assert_non_null(gw_header(&r, "RateLimit", buf, sizeof buf));
            assert_non_null(strstr(buf, "r=0"));
            limited++;
        }
        gw_response_free(&r);
    }
    assert_int_equal(limited, 1);
    assert_true(ok >= 18 && ok <= 25); /* burst 20 (minus the token call), plus a few earned back */
}

/* `fmugwd admin key create` for `email` with the default scopes: 0 and the
 * key in key (128 bytes), or the exit status with the one-line message in
 * msg (512 bytes). */
static int admin_key_create(const char *email, char *key, char *msg)
{
    char cmd[2048], out[4096] = "";
    snprintf(cmd, sizeof cmd, "'%s' admin --data-dir '%s' key create --email %s --json 2>&1", getenv("FMUGWD"),
             G.data_dir, email);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    st = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (msg)
        snprintf(msg, 512, "%.511s", out);
    if (st == 0 && key) {
        json_t *j = json_loads(out, 0, NULL);
        assert_non_null(j);
        snprintf(key, 128, "%s", json_string_value(json_object_get(j, "api_key")));
        json_decref(j);
    }
    return st;
}

/* The rate limit is the account's: five keys of one Free account share
 * one bucket (burst 20, 5/s), they do not get 20 each. */
static void test_rate_limit_per_account(void **state)
{
    (void)state;
    char keys[5][128], toks[5][4096];
    new_account("shared-bucket@example.com", "free", keys[0], sizeof keys[0], NULL, 0);
    for (int i = 1; i < 5; i++)
        assert_int_equal(admin_key_create("shared-bucket@example.com", keys[i], NULL), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(get_token(&G, keys[i], toks[i], sizeof toks[i]), 200);
    int ok = 5, limited = 0;
    for (int i = 0; i < 150 && !limited; i++) {
        gw_response r;
        long st = call(&G, &r, "GET", "/keys", keys[i % 5], toks[i % 5], NULL);
        if (st == 200)
            ok++;
        else {
            assert_problem(&r, 429, "rate-limited");
            limited++;
        }
        gw_response_free(&r);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double elapsed = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    /* what one bucket allows: the burst plus 5/s earned meanwhile */
    double allowed = 20 + 5 * elapsed + 1;
    if (ok > allowed)
        fail_msg("%d requests of one Free account passed in %.2f s (one bucket allows %.0f)", ok, elapsed, allowed);
    assert_int_equal(limited, 1);
    /* every key of the account is refused now, not only the one that hit it */
    gw_response r;
    for (int i = 0; i < 5; i++) {
        long st = call(&G, &r, "GET", "/keys", keys[i], toks[i], NULL);
        gw_response_free(&r);
        if (st == 429)
            limited++;
    }
    assert_true(limited >= 4);
}

/* Keys per account are capped by tier (Free: 5 not revoked): the sixth is
 * refused by the API (409) and the admin CLI alike and nothing is created;
 * revoking one frees a place. */
static void test_key_cap(void **state)
{
    (void)state;
    char key[128], tok[4096], extra[128], msg[512];
    gw_response r;
    new_account("key-cap@example.com", "free", key, sizeof key, NULL, 0);
    for (int i = 1; i < 4; i++)
        assert_int_equal(admin_key_create("key-cap@example.com", extra, NULL), 0);
    assert_int_equal(get_token(&G, key, tok, sizeof tok), 200);
    /* the fifth through the API */
    assert_int_equal(call(&G, &r, "POST", "/keys", key, tok, "{\"name\":\"fifth\"}"), 201);
    json_t *j = gw_json(&r);
    char fifth[64];
    snprintf(fifth, sizeof fifth, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    gw_response_free(&r);
    /* the sixth: 409 naming the cap, by the API and the CLI */
    assert_int_equal(call(&G, &r, "POST", "/keys", key, tok, "{\"name\":\"sixth\"}"), 409);
    assert_problem(&r, 409, "conflict");
    j = gw_json(&r);
    assert_non_null(strstr(json_string_value(json_object_get(j, "detail")), "at most 5 active API keys"));
    json_decref(j);
    gw_response_free(&r);
    assert_int_not_equal(admin_key_create("key-cap@example.com", NULL, msg), 0);
    assert_non_null(strstr(msg, "at most 5 active API keys"));
    assert_null(strchr(msg, '\n') && strchr(msg, '\n')[1] ? strchr(msg, '\n') + 1 : NULL); /* one line */
    /* nothing was created */
    assert_int_equal(call(&G, &r, "GET", "/keys", key, tok, NULL), 200);
    j = gw_json(&r);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 5);
    json_decref(j);
    gw_response_free(&r);
    /* revoking one frees its place */
    char path[128];
    snprintf(path, sizeof path, "/keys/%s", fifth);
    assert_int_equal(call(&G, &r, "DELETE", path, key, tok, NULL), 204);
    gw_response_free(&r);
    assert_int_equal(call(&G, &r, "POST", "/keys", key, tok, "{\"name\":\"again\"}"), 201);
    gw_response_free(&r);
    assert_int_equal(call(&G, &r, "GET", "/keys", key, tok, NULL), 200);
    j = gw_json(&r);
    assert_int_equal(json_array_size(json_object_get(j, "items")), 6); /* 5 active + the revoked one */
    json_decref(j);
    gw_response_free(&r);
}

static void test_abuse_lock(void **state)
{
    (void)state;
    char key[128], acct[128], tok[4096], out[8192], url[700];
    new_account("abuse@example.com", "pro", key, sizeof key, acct, sizeof acct);
    assert_int_equal(get_token(&G, key, tok, sizeof tok), 200);
    assert_int_equal(status_of(key, tok), 200);
    for (int i = 0; i < 10; i++)
        assert_int_equal(status_of(key, "bad.token.here"), 401);
    /* Locked: even the good token is refused, and no new token. */
    gw_response r;
    assert_int_equal(call(&G, &r, "GET", "/keys", key, tok, NULL), 403);
    assert_problem(&r, 403, "forbidden");
    gw_response_free(&r);
    assert_int_equal(get_token(&G, key, NULL, 0), 403);
    assert_int_equal(admin(G.data_dir, out, sizeof out, "key list --email abuse@example.com"), 0);
    assert_non_null(strstr(out, "locked"));
    char kid[64];
    assert_int_equal(sscanf(out, "%63s", kid), 1);

    /* The lock is audited. */
    db_conn *c = NULL;
    db_stmt *st = NULL;
    snprintf(url, sizeof url, "sqlite://%s/fmugw.db", G.data_dir);
    assert_int_equal(db_open(&c, url), 0);
    assert_int_equal(db_query(&st, c, "SELECT COUNT(*) FROM audit_log WHERE action = 'key.lock' AND target = $1", "t", kid), 0);
    assert_int_equal(db_step(st), 1);
    assert_int_equal(db_column_int64(st, 0), 1);
    db_finalize(st);
    db_close(c);

    /* An admin unlocks it. */
    assert_int_equal(admin(G.data_dir, out, sizeof out, "key unlock --id %s", kid), 0);
    assert_int_equal(status_of(key, tok), 200);
    assert_int_equal(get_token(&G, key, NULL, 0), 200);
}

static void test_secrets_not_logged(void **state)
{
    (void)state;
    char tok[4096];
    assert_int_equal(get_token(&G, G.admin_key, tok, sizeof tok), 200);
    assert_int_equal(status_of(G.admin_key, tok), 200);
    size_t size = 16 << 20;
    char *log = malloc(size);
    assert_non_null(log);
    assert_int_equal(gw__read_file(G.stderr_path, log, size), 0);
    assert_true(strlen(log) > 100);
    assert_non_null(strstr(log, "\"msg\":\"listening\""));
    assert_null(strstr(log, G.admin_key));
    assert_null(strstr(log, tok));
    assert_null(strstr(log, "fmugw_live_"));
    assert_null(strstr(log, "eyJ")); /* no JWT at all */
    assert_null(strstr(log, JWT_HEX));
    free(log);
}

static void test_audit_chain(void **state)
{
    (void)state;
    char out[8192], url[700];
    assert_int_equal(admin(G.data_dir, out, sizeof out, "audit verify"), 0);
    assert_non_null(strstr(out, "intact"));
    /* Tamper with entry 3 from outside. */
    db_conn *c = NULL;
    int64_t changes = 0;
    snprintf(url, sizeof url, "sqlite://%s/fmugw.db", G.data_dir);
    assert_int_equal(db_open(&c, url), 0);
    assert_int_equal(db_execp(&changes, c, "UPDATE audit_log SET detail = '{\"reason\":\"forged\"}' WHERE seq = 3", NULL), 0);
    assert_int_equal(changes, 1);
    db_close(c);
    assert_int_equal(admin(G.data_dir, out, sizeof out, "audit verify"), 1);
    assert_non_null(strstr(out, "seq 3 "));
}

static void test_kill9_restart(void **state)
{
    (void)state;
    char tok[4096], root[512], data[600];
    char *env[] = {jwt_env, NULL};
    snprintf(root, sizeof root, "%s", G.root);
    snprintf(data, sizeof data, "%s", G.data_dir);
    char old_key[128];
    snprintf(old_key, sizeof old_key, "%s", G.admin_key);
    gw_kill(&G, SIGKILL);
    sleep(1); /* a new stdout file name (the harness derives it from the time) */
    assert_int_equal(gw_start_ex(&G, data, NULL, env), 0);
    assert_string_equal(G.root, root);
    assert_string_equal(G.admin_key, ""); /* printed on the first start only */
    char out[4096];
    assert_int_equal(gw__read_file(G.stdout_path, out, sizeof out), 0);
    assert_null(strstr(out, "fmugw_live_"));
    snprintf(G.admin_key, sizeof G.admin_key, "%s", old_key);
    assert_int_equal(get_token(&G, old_key, tok, sizeof tok), 200);
    assert_int_equal(status_of(old_key, tok), 200);
    gw_response r;
    assert_int_equal(gw_request(&G, &r, "GET", "/readyz", NULL, 0, NULL), 0);
    assert_int_equal(r.status, 200);
    gw_response_free(&r);
}

static void test_token_expiry(void **state)
{
    (void)state;
    gw t;
    char ttl_env[] = "FMUGW_TOKEN_TTL_S=2";
    char *env[] = {jwt_env, ttl_env, NULL};
    char tok[4096];
    assert_int_equal(gw_start(&t, env), 0);
    assert_non_null(strstr(t.admin_key, "fmugw_live_"));
    assert_int_equal(get_token(&t, t.admin_key, tok, sizeof tok), 200);
    json_t *p = token_payload(tok);
    assert_int_equal(json_integer_value(json_object_get(p, "exp")) - json_integer_value(json_object_get(p, "iat")), 2);
    json_decref(p);
    gw_response r;
    assert_int_equal(call(&t, &r, "GET", "/keys", t.admin_key, tok, NULL), 200);
    gw_response_free(&r);
    usleep(3200 * 1000);
    assert_int_equal(call(&t, &r, "GET", "/keys", t.admin_key, tok, NULL), 401);
    assert_problem(&r, 401, "unauthorized");
    assert_non_null(strstr(r.body, "expired"));
    gw_response_free(&r);
    /* A fresh token works again. */
    assert_int_equal(get_token(&t, t.admin_key, tok, sizeof tok), 200);
    assert_int_equal(call(&t, &r, "GET", "/keys", t.admin_key, tok, NULL), 200);
    gw_response_free(&r);
    /* A clean stop (under ASan this also means no leak at exit). */
    int st = gw_stop(&t);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* Key lookups and tokens are cached in the server (auth/auth_cache.h): a
 * key revoked, an account locked or a tier changed by ANOTHER process (the
 * admin CLI) must still take effect on the very next request, even for a
 * key and token the server has just served from its cache. */
static void test_cache_invalidation_by_another_process(void **state)
{
    (void)state;
    char out[8192], key[128], kid[128], tok[4096], buf[256];
    gw_response r;
    assert_int_equal(admin(G.data_dir, out, sizeof out, "account create --email cache-tenant@example.com --tier pro"),
                     0);
    assert_int_equal(admin(G.data_dir, out, sizeof out,
                           "key create --email cache-tenant@example.com --scopes 'account:read fmu:read' --json"),
                     0);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    snprintf(key, sizeof key, "%s", json_string_value(json_object_get(j, "api_key")));
    snprintf(kid, sizeof kid, "%s", json_string_value(json_object_get(j, "key_id")));
    json_decref(j);
    assert_int_equal(get_token(&G, key, tok, sizeof tok), 200);
    /* Served twice: the key row and the token are cached now. */
    assert_int_equal(status_of(key, tok), 200);
    assert_int_equal(status_of(key, tok), 200);

    /* Tier change by the CLI: the next answer carries the new policy. */
    assert_int_equal(admin(G.data_dir, out, sizeof out,
                           "account set-tier --email cache-tenant@example.com --tier free"), 0);
    assert_int_equal(call(&G, &r, "GET", "/keys", key, tok, NULL), 200);
    assert_non_null(gw_header(&r, "RateLimit-Policy", buf, sizeof buf));
    assert_non_null(strstr(buf, "\"free\""));
    gw_response_free(&r);

    /* Account lock and unlock by the CLI. */
    assert_int_equal(admin(G.data_dir, out, sizeof out, "account lock --email cache-tenant@example.com"), 0);
    assert_int_equal(status_of(key, tok), 403);
    assert_int_equal(admin(G.data_dir, out, sizeof out, "account unlock --email cache-tenant@example.com"), 0);
    assert_int_equal(status_of(key, tok), 200);
    assert_int_equal(status_of(key, tok), 200);

    /* Revocation by the CLI: the cached key's live token dies at once. */
    assert_int_equal(admin(G.data_dir, out, sizeof out, "key revoke --id %s", kid), 0);
    assert_int_equal(call(&G, &r, "GET", "/keys", key, tok, NULL), 401);
    assert_problem(&r, 401, "unauthorized");
    gw_response_free(&r);
    char reason[64];
    last_failure_reason(reason, sizeof reason);
    assert_string_equal(reason, "revoked_api_key");
    assert_int_equal(status_of(key, tok), 401);
}

int main(void)
{
    if (!getenv("FMUGWD")) {
        fprintf(stderr, "FMUGWD is not set\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_start_and_token),
        cmocka_unit_test(test_bad_tokens),
        cmocka_unit_test(test_key_lifecycle),
        cmocka_unit_test(test_rate_limit),
        cmocka_unit_test(test_rate_limit_per_account),
        cmocka_unit_test(test_key_cap),
        cmocka_unit_test(test_abuse_lock),
        cmocka_unit_test(test_secrets_not_logged),
        cmocka_unit_test(test_audit_chain),
        cmocka_unit_test(test_kill9_restart),
        cmocka_unit_test(test_token_expiry),
        cmocka_unit_test(test_cache_invalidation_by_another_process),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
