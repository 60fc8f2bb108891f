/*
 * test_gateway_account.c - the account routes and credits against the real
 * fmugwd: GET /account after the first start shows the admin's monthly
 * grant (enterprise tier, pricing.json), `fmugwd admin credits grant|set`
 * show up in /account and in the token's `credits` claim, a new account
 * gets its tier's grant at creation, ledger pagination (newest first,
 * before_seq), GET /account/usage as JSON and CSV over settlements written
 * through the ledger API on the daemon's database, scopes, tenant
 * isolation and bad query parameters.
 */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ledger/ledger.h"
#include "store/db.h"

#include <openssl/evp.h>

static gw G;

/* ---- helpers ------------------------------------------------------------- */

static int admin(char *out, size_t size, const char *fmt, ...)
{
    char args[1024], cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "'%s' admin --data-dir '%s' %s 2>/dev/null", getenv("FMUGWD"), G.data_dir, args);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void new_account(const char *email, const char *tier, char *key, size_t ksize, char *acct, size_t asize)
{
    char out[4096];
    assert_int_equal(admin(out, sizeof out, "account create --email %s --tier %s --json", email, tier), 0);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    snprintf(key, ksize, "%s", json_string_value(json_object_get(j, "api_key")));
    snprintf(acct, asize, "%s", json_string_value(json_object_get(j, "account_id")));
    json_decref(j);
}

static void get_token(const char *key, char *tok, size_t size)
{
    char h[200];
    snprintf(h, sizeof h, "X-API-Key: %s", key);
    const char *hs[] = {h, NULL};
    gw_response r;
    assert_int_equal(gw_request(&G, &r, "POST", "/auth/token", NULL, 0, hs), 0);
    if (r.status != 200)
        fail_msg("POST /auth/token: %ld %.*s", r.status, (int)r.len, r.body);
    json_t *j = gw_json(&r);
    snprintf(tok, size, "%s", json_string_value(json_object_get(j, "access_token")));
    json_decref(j);
    gw_response_free(&r);
}

/* The `credits` claim of a token (payload decoded without verification). */
static json_int_t credits_claim(const char *tok)
{
    const char *p = strchr(tok, '.');
    assert_non_null(p);
    const char *e = strchr(p + 1, '.');
    assert_non_null(e);
    size_t n = (size_t)(e - p - 1);
    char b64[8192];
    assert_true(n + 4 < sizeof b64);
    for (size_t i = 0; i < n; i++)
        b64[i] = p[1 + i] == '-' ? '+' : p[1 + i] == '_' ? '/' : p[1 + i];
    while (n % 4)
        b64[n++] = '=';
    b64[n] = '\0';
    unsigned char raw[8192];
    int len = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n);
    assert_true(len > 0);
    raw[len] = '\0';
    json_t *j = json_loads((const char *)raw, JSON_DISABLE_EOF_CHECK, NULL);
    assert_non_null(j);
    assert_true(json_is_integer(json_object_get(j, "credits")));
    json_int_t v = json_integer_value(json_object_get(j, "credits"));
    json_decref(j);
    return v;
}

static long call(gw_response *r, const char *path, const char *key, const char *tok)
{
    char hk[200], ht[9000];
    snprintf(hk, sizeof hk, "X-API-Key: %s", key);
    snprintf(ht, sizeof ht, "Authorization: Bearer %s", tok);
    const char *hs[] = {hk, ht, NULL};
    assert_int_equal(gw_request(&G, r, "GET", path, NULL, 0, hs), 0);
    return r->status;
}

/* GET path as JSON (asserting 200). */
static json_t *get_json(const char *path, const char *key, const char *tok)
{
    gw_response r;
    long st = call(&r, path, key, tok);
    if (st != 200)
        fail_msg("GET %s: %ld %.*s", path, st, (int)r.len, r.body);
    json_t *j = gw_json(&r);
    assert_non_null(j);
    gw_response_free(&r);
    return j;
}

static double num(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_number(v))
        fail_msg("%s is not a number", k);
    return json_number_value(v);
}

static json_int_t integer(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v))
        fail_msg("%s is not an integer", k);
    return json_integer_value(v);
}

static int setup(void **state)
{
    (void)state;
    if (gw_start(&G, NULL) != 0 || !G.admin_key[0]) {
        fprintf(stderr, "fmugwd did not start\n");
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gw_stop(&G);
    return 0;
}

/* ---- tests --------------------------------------------------------------- */

static void test_account_after_bootstrap(void **state)
{
    char tok[4096];
    (void)state;
    get_token(G.admin_key, tok, sizeof tok);
    json_t *a = get_json("/account", G.admin_key, tok);
    assert_string_equal(json_string_value(json_object_get(a, "account_id")), G.admin_account);
    assert_string_equal(json_string_value(json_object_get(a, "tier")), "enterprise");
    /* pricing.json: enterprise gets 1,000,000 credits a cycle. */
    assert_true(num(a, "balance") == 1000000.0);
    assert_int_equal(integer(a, "balance_millicredits"), 1000000000LL);
    assert_true(num(a, "reserved") == 0.0);
    assert_true(num(a, "overage_used") == 0.0);
    assert_false(json_is_true(json_object_get(a, "hard_limit")));
    json_t *cy = json_object_get(a, "cycle");
    assert_non_null(json_string_value(json_object_get(cy, "start")));
    assert_non_null(json_string_value(json_object_get(cy, "end")));
    assert_true(strcmp(json_string_value(json_object_get(cy, "start")), json_string_value(json_object_get(cy, "end"))) <
                0);
    assert_true(num(cy, "monthly_credits") == 1000000.0);
    assert_int_equal(integer(cy, "usage_millicredits"), 0);
    assert_int_equal(integer(cy, "overage_usd_micro"), 0);
    json_decref(a);
    assert_int_equal(credits_claim(tok), 1000000);
}

static void test_credits_admin_cli(void **state)
{
    char tok[4096], out[4096], key[128], acct[128];
    (void)state;
    assert_int_equal(admin(out, sizeof out, "credits grant --email admin@localhost --amount 250 --reason bonus"), 0);
    assert_non_null(strstr(out, "\"balance\":1000250,"));
    get_token(G.admin_key, tok, sizeof tok);
    assert_int_equal(credits_claim(tok), 1000250);
    json_t *a = get_json("/account", G.admin_key, tok);
    assert_true(num(a, "balance") == 1000250.0);
    json_decref(a);

    /* A new Free account: its first grant at creation. */
    new_account("free-user@example.com", "free", key, sizeof key, acct, sizeof acct);
    get_token(key, tok, sizeof tok);
    assert_int_equal(credits_claim(tok), 1000);
    a = get_json("/account", key, tok);
    assert_string_equal(json_string_value(json_object_get(a, "tier")), "free");
    assert_true(num(a, "balance") == 1000.0);
    assert_true(json_is_true(json_object_get(a, "hard_limit")));
    json_decref(a);
    /* set: down (an adjustment), then up (a grant). */
    assert_int_equal(admin(out, sizeof out, "credits set --email free-user@example.com --amount 10"), 0);
    assert_non_null(strstr(out, "\"balance\":10,"));
    get_token(key, tok, sizeof tok);
    assert_int_equal(credits_claim(tok), 10);
    assert_int_equal(admin(out, sizeof out, "credits set --email free-user@example.com --amount 15"), 0);
    assert_int_equal(admin(out, sizeof out, "credits show --email free-user@example.com"), 0);
    assert_non_null(strstr(out, "\"balance\":15,"));
    a = get_json("/account", key, tok);
    assert_true(num(a, "balance") == 15.0);
    json_decref(a);
    /* Bad amounts. */
    assert_int_equal(admin(out, sizeof out, "credits grant --email free-user@example.com --amount -5"), 2);
    assert_int_equal(admin(out, sizeof out, "credits grant --email free-user@example.com --amount 1.5"), 2);
    assert_int_equal(admin(out, sizeof out, "credits grant --email nobody@example.com --amount 5"), 1);

    /* Its ledger: only its own entries, newest first. */
    json_t *l = get_json("/account/ledger", key, tok);
    json_t *items = json_object_get(l, "items");
    assert_int_equal(json_array_size(items), 3); /* monthly grant, adjust, grant */
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "kind")), "grant");
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 1), "kind")), "adjust");
    assert_true(num(json_array_get(items, 1), "amount") == 990.0);
    json_t *first = json_array_get(items, 2);
    assert_true(num(first, "amount") == 1000.0);
    assert_non_null(strstr(json_string_value(json_object_get(first, "credit")), acct));
    assert_non_null(
        strstr(json_string_value(json_object_get(json_object_get(first, "detail"), "reason")), "monthly grant"));
    assert_true(json_is_null(json_object_get(l, "next_before_seq")));
    json_decref(l);
}

static void test_ledger_pagination(void **state)
{
    char tok[4096], out[1024], path[128];
    (void)state;
    for (int i = 1; i <= 4; i++)
        assert_int_equal(admin(out, sizeof out, "credits grant --email admin@localhost --amount %d", i), 0);
    get_token(G.admin_key, tok, sizeof tok);
    /* Walk the pages of 2: 4, 3 | 2, 1 | 250, monthly | end. */
    double want[] = {4, 3, 2, 1, 250, 1000000};
    size_t seen = 0;
    json_int_t prev_seq = 0;
    snprintf(path, sizeof path, "/account/ledger?limit=2");
    for (int page = 0; page < 10; page++) {
        json_t *l = get_json(path, G.admin_key, tok);
        json_t *items = json_object_get(l, "items");
        for (size_t i = 0; i < json_array_size(items); i++) {
            json_t *e = json_array_get(items, i);
            json_int_t seq = integer(e, "seq");
            assert_true(prev_seq == 0 || seq < prev_seq);
            prev_seq = seq;
            assert_true(seen < 6);
            assert_true(num(e, "amount") == want[seen]);
            assert_int_equal(integer(e, "amount_millicredits"), (json_int_t)(want[seen] * 1000));
            seen++;
        }
        json_t *next = json_object_get(l, "next_before_seq");
        if (json_is_null(next)) {
            json_decref(l);
            break;
        }
        assert_int_equal(json_array_size(items), 2);
        snprintf(path, sizeof path, "/account/ledger?limit=2&before_seq=%lld", (long long)json_integer_value(next));
        json_decref(l);
    }
    assert_int_equal(seen, 6);
    gw_response r;
    assert_int_equal(call(&r, "/account/ledger?limit=0", G.admin_key, tok), 400);
    gw_response_free(&r);
    assert_int_equal(call(&r, "/account/ledger?limit=201", G.admin_key, tok), 400);
    gw_response_free(&r);
    assert_int_equal(call(&r, "/account/ledger?before_seq=x", G.admin_key, tok), 400);
    gw_response_free(&r);
}

/* Settlements written through the ledger on the daemon's database (as the
 * jobs worker does), then read back per day and per FMU. */
static void test_usage_formats(void **state)
{
    char tok[4096], url[800], key[128], acct[128];
    (void)state;
    new_account("usage@example.com", "pro", key, sizeof key, acct, sizeof acct);
    snprintf(url, sizeof url, "sqlite://%s/fmugw.db", G.data_dir);
    db_conn *c = NULL;
    assert_int_equal(db_open(&c, url), 0);
    const struct {
        const char *job, *fmu;
        int64_t reserve, charge;
    } jobs[] = {
        {"job_u1", "fmu_aaa", 5000, 1003},
        {"job_u2", "fmu_aaa", 5000, 2000},
        {"job_u3", "fmu_bbb", 40000, 34525},
    };
    for (size_t i = 0; i < 3; i++) {
        char detail[256];
        snprintf(detail, sizeof detail, "{\"fmu_id\":\"%s\",\"cpu_ms\":%d,\"wall_ms\":%d,\"status\":\"succeeded\"}",
                 jobs[i].fmu, (int)(10 * (i + 1)), (int)(20 * (i + 1)));
        assert_int_equal(ledger_reserve(c, acct, jobs[i].job, jobs[i].reserve, true, NULL), 0);
        assert_int_equal(ledger_settle_detail(c, jobs[i].job, jobs[i].charge, detail), 0);
    }
    /* One still running: reserved, not in the usage. */
    assert_int_equal(ledger_reserve(c, acct, "job_u4", 7000, true, NULL), 0);
    assert_int_equal(ledger_check(c), 0);
    db_close(c);

    get_token(key, tok, sizeof tok);
    json_t *a = get_json("/account", key, tok);
    assert_int_equal(integer(a, "balance_millicredits"), 150000000LL - 1003 - 2000 - 34525 - 7000);
    assert_int_equal(integer(a, "reserved_millicredits"), 7000);
    assert_int_equal(integer(json_object_get(a, "cycle"), "usage_millicredits"), 1003 + 2000 + 34525);
    json_decref(a);

    json_t *u = get_json("/account/usage", key, tok);
    json_t *total = json_object_get(u, "total");
    assert_int_equal(integer(total, "jobs"), 3);
    assert_int_equal(integer(total, "credits_millicredits"), 37528);
    assert_true(num(total, "credits") > 37.527 && num(total, "credits") < 37.529);
    assert_int_equal(integer(total, "cpu_ms"), 60);
    json_t *by_fmu = json_object_get(u, "by_fmu");
    assert_int_equal(json_array_size(by_fmu), 2);
    json_t *fa = json_array_get(by_fmu, 0);
    assert_string_equal(json_string_value(json_object_get(fa, "fmu_id")), "fmu_aaa");
    assert_int_equal(integer(fa, "jobs"), 2);
    assert_int_equal(integer(fa, "credits_millicredits"), 3003);
    assert_int_equal(json_array_size(json_object_get(u, "by_day")), 1);
    assert_int_equal(json_array_size(json_object_get(u, "rows")), 2);
    char today[16];
    snprintf(today, sizeof today, "%s", json_string_value(json_object_get(json_array_get(json_object_get(u, "by_day"), 0), "day")));
    json_decref(u);

    gw_response r;
    assert_int_equal(call(&r, "/account/usage?format=csv", key, tok), 200);
    char ct[128];
    assert_non_null(gw_header(&r, "Content-Type", ct, sizeof ct));
    assert_non_null(strstr(ct, "text/csv"));
    char *body = strndup(r.body, r.len);
    char want[256];
    assert_non_null(strstr(body, "day,fmu_id,jobs,credits,overage_credits,cpu_ms,wall_ms\r\n"));
    snprintf(want, sizeof want, "%s,fmu_aaa,2,3.003,0.000,30,60\r\n", today);
    if (!strstr(body, want))
        fail_msg("CSV lacks \"%s\":\n%s", want, body);
    snprintf(want, sizeof want, "%s,fmu_bbb,1,34.525,0.000,30,60\r\n", today);
    assert_non_null(strstr(body, want));
    free(body);
    gw_response_free(&r);

    /* A range without the day: empty. */
    json_t *e = get_json("/account/usage?from=2020-01-01&to=2020-01-31", key, tok);
    assert_int_equal(integer(json_object_get(e, "total"), "jobs"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "from")), "2020-01-01");
    assert_string_equal(json_string_value(json_object_get(e, "to")), "2020-01-31");
    json_decref(e);
    /* The other tenant (admin) sees none of it. */
    char atok[4096];
    get_token(G.admin_key, atok, sizeof atok);
    e = get_json("/account/usage?format=json", G.admin_key, atok);
    assert_int_equal(integer(json_object_get(e, "total"), "jobs"), 0);
    json_decref(e);
    /* Bad parameters. */
    const char *bad[] = {"/account/usage?format=xml", "/account/usage?from=2026-02-30", "/account/usage?to=yesterday",
                         "/account/usage?from=2026-05-01&to=2026-04-01", "/account/usage?from=2020-01-01&to=2026-01-01"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(call(&r, bad[i], key, tok), 400);
        assert_non_null(gw_header(&r, "Content-Type", ct, sizeof ct));
        assert_non_null(strstr(ct, "application/problem+json"));
        gw_response_free(&r);
    }
}

static void test_scope_and_auth(void **state)
{
    char tok[4096], out[4096];
    (void)state;
    assert_int_equal(admin(out, sizeof out, "key create --email admin@localhost --scopes 'fmu:read' --json"), 0);
    json_t *j = json_loads(out, 0, NULL);
    char key[128];
    snprintf(key, sizeof key, "%s", json_string_value(json_object_get(j, "api_key")));
    json_decref(j);
    get_token(key, tok, sizeof tok);
    const char *paths[] = {"/account", "/account/ledger", "/account/usage"};
    for (size_t i = 0; i < 3; i++) {
        gw_response r;
        assert_int_equal(call(&r, paths[i], key, tok), 403);
        gw_response_free(&r);
        assert_int_equal(gw_request(&G, &r, "GET", paths[i], NULL, 0, NULL), 0);
        assert_int_equal(r.status, 401);
        gw_response_free(&r);
    }
}

/* The storage charge: an uploaded FMU, kept (backdated) 1000 days, is
 * charged at pricing.json's 2 credits per GiB-day by `fmugwd admin storage
 * charge --now`, listed as a `storage` entry by GET /account/ledger; a
 * dry run before charges nothing and a second run the same day charges
 * nothing more; the ledger still checks. */
static void test_storage_charge(void **state)
{
    (void)state;
    char key[128], acct[128], tok[4096], out[65536], path[700], url[800], sql[512];
    new_account("storage@example.com", "pro", key, sizeof key, acct, sizeof acct);
    get_token(key, tok, sizeof tok);
    snprintf(path, sizeof path, "%s/2.0/BouncingBall.fmu", getenv("FMUGW_FMU_DIR"));
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char fmu[1 << 20];
    size_t size = fread(fmu, 1, sizeof fmu, f);
    fclose(f);
    assert_true(size > 0 && size < sizeof fmu);
    char hk[200], ht[9000];
    snprintf(hk, sizeof hk, "X-API-Key: %s", key);
    snprintf(ht, sizeof ht, "Authorization: Bearer %s", tok);
    const char *hs[] = {hk, ht, "Content-Type: application/octet-stream", NULL};
    gw_response r;
    assert_int_equal(gw_request(&G, &r, "POST", "/fmu?name=bb.fmu", fmu, size, hs), 0);
    assert_int_equal(r.status, 201);
    gw_response_free(&r);

    /* The account and its FMU have existed for 1000 days. */
    const int64_t back = 1000LL * 86400000;
    snprintf(url, sizeof url, "sqlite://%s/fmugw.db", G.data_dir);
    db_conn *c = NULL;
    assert_int_equal(db_open(&c, url), 0);
    snprintf(sql, sizeof sql,
             "UPDATE accounts SET created_at = created_at - %lld WHERE id = '%s';"
             "UPDATE fmus SET created_at = created_at - %lld WHERE account_id = '%s'",
             (long long)back, acct, (long long)back, acct);
    assert_int_equal(db_exec(c, sql), 0);
    db_stmt *st = NULL;
    assert_int_equal(db_query(&st, c, "SELECT created_at FROM accounts WHERE id = $1", "t", acct), 0);
    assert_int_equal(db_step(st), 1);
    int64_t created = db_column_int64(st, 0);
    db_finalize(st);
    json_t *before = get_json("/account", key, tok);
    json_int_t bal0 = integer(before, "balance_millicredits");
    assert_int_equal(integer(json_object_get(before, "storage"), "fmu_bytes"), (json_int_t)size);
    json_decref(before);

    /* A dry run shows the charge and writes nothing. */
    assert_int_equal(admin(out, sizeof out, "storage charge --json"), 0);
    json_t *dry = json_loads(out, 0, NULL);
    assert_non_null(dry);
    assert_true(json_is_true(json_object_get(dry, "dry_run")));
    json_decref(dry);
    json_t *l = get_json("/account/ledger", key, tok);
    for (size_t i = 0; i < json_array_size(json_object_get(l, "items")); i++)
        assert_string_not_equal(json_string_value(json_object_get(json_array_get(json_object_get(l, "items"), i),
                                                                  "kind")),
                                "storage");
    json_decref(l);

    /* --now charges it. */
    assert_int_equal(admin(out, sizeof out, "storage charge --now --json"), 0);
    json_t *run = json_loads(out, 0, NULL);
    assert_non_null(run);
    json_t *mine = NULL, *it;
    size_t i;
    json_array_foreach(json_object_get(run, "accounts"), i, it)
    {
        if (!strcmp(json_string_value(json_object_get(it, "account_id")), acct))
            mine = it;
    }
    assert_non_null(mine);
    assert_int_equal(integer(mine, "from_ms"), created);
    assert_int_equal(integer(mine, "fmu_bytes"), (json_int_t)size);
    int64_t through = integer(mine, "through_ms");
    /* bytes x ms x 2000 millicredits per GiB-day, in micro-millicredits
     * rounded down, then up to whole millicredits */
    unsigned __int128 num = (unsigned __int128)size * (unsigned __int128)(through - created) * 2000u * 1000000u;
    unsigned __int128 den = (unsigned __int128)(1u << 30) * 86400000u;
    int64_t micro = (int64_t)(num / den), want = micro / 1000000 + (micro % 1000000 != 0);
    assert_true(want >= 10); /* tens of KiB for 1000 days: a fraction of a credit */
    assert_int_equal(integer(mine, "charged"), want);
    assert_int_equal(integer(mine, "unpaid"), 0);
    json_decref(run);

    l = get_json("/account/ledger", key, tok);
    json_t *e = json_array_get(json_object_get(l, "items"), 0);
    assert_string_equal(json_string_value(json_object_get(e, "kind")), "storage");
    assert_int_equal(integer(e, "amount_millicredits"), want);
    char book[200];
    snprintf(book, sizeof book, "user:%s:available", acct);
    assert_string_equal(json_string_value(json_object_get(e, "debit")), book);
    assert_string_equal(json_string_value(json_object_get(e, "credit")), "system:revenue");
    json_decref(l);
    json_t *after = get_json("/account", key, tok);
    assert_int_equal(integer(after, "balance_millicredits"), bal0 - want);
    assert_true(integer(json_object_get(after, "cycle"), "usage_millicredits") >= want);
    json_decref(after);

    /* A second run the same day charges nothing more. */
    assert_int_equal(admin(out, sizeof out, "storage charge --now --json"), 0);
    run = json_loads(out, 0, NULL);
    assert_non_null(run);
    mine = NULL;
    json_array_foreach(json_object_get(run, "accounts"), i, it)
    {
        if (!strcmp(json_string_value(json_object_get(it, "account_id")), acct))
            mine = it;
    }
    assert_non_null(mine);
    assert_true(json_is_true(json_object_get(mine, "already")));
    assert_int_equal(integer(mine, "charged"), 0);
    json_decref(run);
    l = get_json("/account/ledger", key, tok);
    int storage_entries = 0;
    json_array_foreach(json_object_get(l, "items"), i, it)
    {
        storage_entries += !strcmp(json_string_value(json_object_get(it, "kind")), "storage");
    }
    assert_int_equal(storage_entries, 1);
    json_decref(l);
    after = get_json("/account", key, tok);
    assert_int_equal(integer(after, "balance_millicredits"), bal0 - want);
    json_decref(after);
    assert_int_equal(ledger_check(c), 0);
    db_close(c);
}

int main(void)
{
    if (!getenv("FMUGWD")) {
        fprintf(stderr, "FMUGWD is not set\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_account_after_bootstrap),
        cmocka_unit_test(test_credits_admin_cli),
        cmocka_unit_test(test_ledger_pagination),
        cmocka_unit_test(test_usage_formats),
        cmocka_unit_test(test_scope_and_auth),
        cmocka_unit_test(test_storage_charge),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
