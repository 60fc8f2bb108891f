/*
 * test_store_repo.c - the repositories on a real, migrated SQLite file:
 * accounts, API keys and FMUs, including tenant isolation (account B can
 * neither get, list, delete nor move account A's FMU; public FMUs are
 * visible to everyone and deletable by no tenant), the FMU state machine
 * and keyset pagination.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/accounts.h"
#include "store/api_keys.h"
#include "store/db.h"
#include "store/fmus.h"
#include "store/migrations.h"
#include "util/error.h"
#include "util/fsutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHA_A "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

typedef struct {
    char *dir;
    db_conn *c;
    store_account *a, *b; /* two tenants */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char url[700];
    if (!f || fmugw_mkdtemp(&f->dir, "fmugw-test-repo-") != 0)
        return -1;
    snprintf(url, sizeof url, "sqlite://%s/fmugw.db", f->dir);
    if (db_open(&f->c, url) != 0 || store_migrate(f->c) != 0)
        return -1;
    if (store_account_create(&f->a, f->c, "alice@example.com", "free") != 0 ||
        store_account_create(&f->b, f->c, "bob@example.com", "pro") != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    store_account_free(f->a);
    store_account_free(f->b);
    db_close(f->c);
    fmugw_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* ---- accounts ---- */

static void test_accounts(void **state)
{
    fixture *f = *state;
    store_account *x = NULL;
    assert_non_null(f->a);
    assert_int_equal(strncmp(f->a->id, "acct_", 5), 0);
    assert_int_equal(strlen(f->a->id), 5 + 32);
    assert_string_equal(f->a->email, "alice@example.com");
    assert_string_equal(f->a->tier, "free");
    assert_false(f->a->locked);
    assert_true(f->a->created_at > 1600000000000LL);
    assert_string_not_equal(f->a->id, f->b->id);

    /* Unique email, case-insensitively and trimmed. */
    assert_int_equal(store_account_create(&x, f->c, "  ALICE@Example.COM ", "free"), FMUGW_EEXISTS);
    assert_null(x);
    assert_int_equal(store_account_create(NULL, f->c, "not-an-email", "free"), FMUGW_EINVALID);
    assert_int_equal(store_account_create(NULL, f->c, "a b@c.d", "free"), FMUGW_EINVALID);
    assert_int_equal(store_account_create(NULL, f->c, "carol@example.com", "Bad Tier"), FMUGW_EINVALID);
    assert_int_equal(store_account_create(NULL, f->c, "carol@example.com", "enterprise"), 0);

    assert_int_equal(store_account_find_by_email(&x, f->c, "Alice@EXAMPLE.com"), 0);
    assert_string_equal(x->id, f->a->id);
    store_account_free(x);
    assert_int_equal(store_account_find_by_email(&x, f->c, "nobody@example.com"), FMUGW_ENOTFOUND);
    assert_null(x);
    assert_int_equal(store_account_get(&x, f->c, "acct_missing"), FMUGW_ENOTFOUND);

    assert_int_equal(store_account_set_tier(f->c, f->a->id, "pro"), 0);
    assert_int_equal(store_account_set_tier(f->c, f->a->id, "PRO!"), FMUGW_EINVALID);
    assert_int_equal(store_account_set_tier(f->c, "acct_missing", "pro"), FMUGW_ENOTFOUND);
    assert_int_equal(store_account_set_locked(f->c, f->a->id, true), 0);
    assert_int_equal(store_account_set_locked(f->c, "acct_missing", true), FMUGW_ENOTFOUND);
    assert_int_equal(store_account_get(&x, f->c, f->a->id), 0);
    assert_string_equal(x->tier, "pro");
    assert_true(x->locked);
    store_account_free(x);
    assert_int_equal(store_account_set_locked(f->c, f->a->id, false), 0);
    assert_int_equal(store_account_get(&x, f->c, f->a->id), 0);
    assert_false(x->locked);
    store_account_free(x);
    store_account_free(NULL);

    store_account **list = NULL;
    size_t n = 0;
    assert_int_equal(store_account_list(&list, &n, f->c, 0, 10), 0);
    assert_int_equal(n, 3);
    /* oldest first (accounts made in the same millisecond tie: any order) */
    bool seen_a = false;
    for (size_t i = 0; i < n; i++) {
        seen_a |= !strcmp(list[i]->id, f->a->id);
        if (i)
            assert_true(list[i - 1]->created_at <= list[i]->created_at);
    }
    assert_true(seen_a);
    char third[64];
    snprintf(third, sizeof third, "%s", list[2]->id);
    store_account_list_free(list, n);
    assert_int_equal(store_account_list(&list, &n, f->c, 2, 10), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0]->id, third); /* the offset skips in the same order */
    store_account_list_free(list, n);
    assert_int_equal(store_account_list(&list, &n, f->c, 0, 0), FMUGW_EINVALID);
}

/* ---- API keys ---- */

static void fill(unsigned char *h, unsigned char v)
{
    for (int i = 0; i < 32; i++)
        h[i] = (unsigned char)(v + i);
}

static void test_api_keys(void **state)
{
    fixture *f = *state;
    unsigned char h1[32], h2[32], h3[32];
    fill(h1, 1);
    fill(h2, 100);
    fill(h3, 200);
    store_apikey *k = NULL, *k2 = NULL, *x = NULL;

    assert_int_equal(store_apikey_insert(&k, f->c, NULL, f->a->id, "fmugw_ab12", h1, 32, "fmu:read fmu:write", "ci"),
                     0);
    assert_int_equal(strncmp(k->id, "key_", 4), 0);
    assert_string_equal(k->account_id, f->a->id);
    assert_string_equal(k->prefix, "fmugw_ab12");
    assert_string_equal(k->scopes, "fmu:read fmu:write");
    assert_string_equal(k->name, "ci");
    assert_int_equal(k->last_used_at, 0);
    assert_int_equal(k->revoked_at, 0);
    assert_int_equal(k->locked_at, 0);
    assert_false(k->account_locked);

    /* Caller-chosen id; same HMAC twice and unknown account refused. */
    assert_int_equal(store_apikey_insert(&k2, f->c, "key_chosen", f->a->id, "fmugw_cd34", h2, 32, "admin", NULL), 0);
    assert_string_equal(k2->id, "key_chosen");
    assert_null(k2->name);
    assert_int_equal(store_apikey_insert(NULL, f->c, NULL, f->b->id, "p", h1, 32, "x", NULL), FMUGW_EEXISTS);
    assert_int_equal(store_apikey_insert(NULL, f->c, "key_chosen", f->b->id, "p", h3, 32, "x", NULL), FMUGW_EEXISTS);
    assert_int_equal(store_apikey_insert(NULL, f->c, NULL, "acct_missing", "p", h3, 32, "x", NULL), FMUGW_EINVALID);
    assert_int_equal(store_apikey_insert(NULL, f->c, NULL, f->b->id, "p", h3, 8, "x", NULL), FMUGW_EINVALID);

    /* Lookup by HMAC: only the exact bytes match. */
    assert_int_equal(store_apikey_find_by_hmac(&x, f->c, h1, 32), 0);
    assert_string_equal(x->id, k->id);
    store_apikey_free(x);
    assert_int_equal(store_apikey_find_by_hmac(&x, f->c, h3, 32), FMUGW_ENOTFOUND);
    assert_null(x);
    h1[31] ^= 1;
    assert_int_equal(store_apikey_find_by_hmac(&x, f->c, h1, 32), FMUGW_ENOTFOUND);
    h1[31] ^= 1;

    /* Tenant scoping of get/revoke. */
    assert_int_equal(store_apikey_get(&x, f->c, f->b->id, k->id), FMUGW_ENOTFOUND);
    assert_int_equal(store_apikey_revoke(f->c, f->b->id, k->id), FMUGW_ENOTFOUND);
    assert_int_equal(store_apikey_get(&x, f->c, NULL, k->id), 0);
    store_apikey_free(x);

    /* List per account. */
    store_apikey **list = NULL;
    size_t n = 0;
    assert_int_equal(store_apikey_list(&list, &n, f->c, f->a->id), 0);
    assert_int_equal(n, 2);
    store_apikey_list_free(list, n);
    assert_int_equal(store_apikey_list(&list, &n, f->c, f->b->id), 0);
    assert_int_equal(n, 0);
    store_apikey_list_free(list, n);

    /* touch: writes, then is throttled for a minute. */
    int64_t t0 = 1700000000000LL;
    assert_int_equal(store_apikey_touch(f->c, k->id, t0), 0);
    assert_int_equal(store_apikey_get(&x, f->c, f->a->id, k->id), 0);
    assert_true(x->last_used_at == t0);
    store_apikey_free(x);
    assert_int_equal(store_apikey_touch(f->c, k->id, t0 + 1000), 0);
    assert_int_equal(db_changes(f->c), 0);
    assert_int_equal(store_apikey_get(&x, f->c, f->a->id, k->id), 0);
    assert_true(x->last_used_at == t0);
    store_apikey_free(x);
    assert_int_equal(store_apikey_touch(f->c, k->id, t0 + 61000), 0);
    assert_int_equal(store_apikey_get(&x, f->c, f->a->id, k->id), 0);
    assert_true(x->last_used_at == t0 + 61000);
    store_apikey_free(x);
    assert_int_equal(store_apikey_touch(f->c, "key_missing", t0), 0);

    /* Lock / unlock, account lock seen through the key. */
    assert_int_equal(store_apikey_set_locked(f->c, k->id, true, "5 failed auths in 10 s"), 0);
    assert_int_equal(store_apikey_find_by_hmac(&x, f->c, h1, 32), 0);
    assert_true(x->locked_at > 0);
    assert_string_equal(x->lock_reason, "5 failed auths in 10 s");
    store_apikey_free(x);
    assert_int_equal(store_apikey_set_locked(f->c, k->id, false, NULL), 0);
    assert_int_equal(store_apikey_set_locked(f->c, "key_missing", true, "r"), FMUGW_ENOTFOUND);
    assert_int_equal(store_account_set_locked(f->c, f->a->id, true), 0);
    assert_int_equal(store_apikey_find_by_hmac(&x, f->c, h1, 32), 0);
    assert_int_equal(x->locked_at, 0);
    assert_null(x->lock_reason);
    assert_true(x->account_locked);
    store_apikey_free(x);

    /* Revoke: idempotent, keeps the first time, still found by HMAC. */
    assert_int_equal(store_apikey_revoke(f->c, f->a->id, k->id), 0);
    assert_int_equal(store_apikey_get(&x, f->c, f->a->id, k->id), 0);
    int64_t revoked = x->revoked_at;
    assert_true(revoked > 0);
    store_apikey_free(x);
    assert_int_equal(store_apikey_revoke(f->c, NULL, k->id), 0);
    assert_int_equal(store_apikey_find_by_hmac(&x, f->c, h1, 32), 0);
    assert_true(x->revoked_at == revoked);
    store_apikey_free(x);
    assert_int_equal(store_apikey_revoke(f->c, NULL, "key_missing"), FMUGW_ENOTFOUND);

    store_apikey_free(k);
    store_apikey_free(k2);
    store_apikey_free(NULL);
}

/* ---- FMUs ---- */

static store_fmu *new_fmu(fixture *f, const char *account_id, const char *name, bool is_public)
{
    store_fmu_new in = {.account_id = account_id,
                        .name = name,
                        .size = 1234,
                        .sha256 = SHA_A,
                        .state = is_public ? STORE_FMU_READY : STORE_FMU_AWAITING_UPLOAD,
                        .is_public = is_public,
                        .upload_expires_at = is_public ? 0 : 1700000000000LL};
    store_fmu *out = NULL;
    assert_int_equal(store_fmu_insert(&out, f->c, &in), 0);
    return out;
}

static void test_fmu_basics(void **state)
{
    fixture *f = *state;
    store_fmu *m = new_fmu(f, f->a->id, "BouncingBall.fmu", false), *x = NULL;
    assert_int_equal(strncmp(m->id, "fmu_", 4), 0);
    assert_string_equal(m->account_id, f->a->id);
    assert_string_equal(m->name, "BouncingBall.fmu");
    assert_int_equal(m->size, 1234);
    assert_string_equal(m->sha256, SHA_A);
    assert_int_equal(m->state, STORE_FMU_AWAITING_UPLOAD);
    assert_false(m->is_public);
    assert_null(m->blob_key);
    assert_true(m->upload_expires_at == 1700000000000LL);

    /* Input checks. */
    store_fmu_new bad = {.account_id = f->a->id, .name = "x", .size = 1, .sha256 = "abc"};
    assert_int_equal(store_fmu_insert(NULL, f->c, &bad), FMUGW_EINVALID);
    bad.sha256 = SHA_A;
    bad.account_id = NULL; /* private without owner */
    assert_int_equal(store_fmu_insert(NULL, f->c, &bad), FMUGW_EINVALID);
    bad.account_id = "acct_missing";
    assert_int_equal(store_fmu_insert(NULL, f->c, &bad), FMUGW_EINVALID);
    bad.account_id = f->a->id;
    bad.size = -1;
    assert_int_equal(store_fmu_insert(NULL, f->c, &bad), FMUGW_EINVALID);
    bad.size = 1;
    bad.sha256 = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08";
    assert_int_equal(store_fmu_insert(&x, f->c, &bad), 0);
    assert_string_equal(x->sha256, SHA_A); /* lowercased */
    store_fmu_free(x);

    /* State machine: compare-and-set, illegal moves refused. */
    assert_int_equal(store_fmu_set_state(f->c, m->id, STORE_FMU_AWAITING_UPLOAD, STORE_FMU_READY), FMUGW_ECONFLICT);
    assert_int_equal(store_fmu_set_validation(f->c, m->id, STORE_FMU_READY, "{}", NULL), FMUGW_ECONFLICT);
    assert_int_equal(store_fmu_set_state(f->c, m->id, STORE_FMU_AWAITING_UPLOAD, STORE_FMU_VALIDATING), 0);
    /* a second worker trying the same move loses */
    assert_int_equal(store_fmu_set_state(f->c, m->id, STORE_FMU_AWAITING_UPLOAD, STORE_FMU_VALIDATING),
                     FMUGW_ECONFLICT);
    assert_int_equal(store_fmu_set_state(f->c, "fmu_missing", STORE_FMU_AWAITING_UPLOAD, STORE_FMU_VALIDATING),
                     FMUGW_ENOTFOUND);
    assert_int_equal(store_fmu_set_blob(f->c, m->id, "ab" SHA_A), 0);
    assert_int_equal(store_fmu_set_blob(f->c, "fmu_missing", "x"), FMUGW_ENOTFOUND);
    assert_int_equal(store_fmu_set_validation(f->c, m->id, STORE_FMU_VALIDATING, NULL, NULL), FMUGW_ECONFLICT);
    assert_int_equal(store_fmu_set_validation(f->c, m->id, STORE_FMU_READY, "{\"fmiVersion\":\"2.0\"}",
                                              "{\"errors\":[]}"),
                     0);
    assert_int_equal(store_fmu_get(&x, f->c, f->a->id, m->id), 0);
    assert_int_equal(x->state, STORE_FMU_READY);
    assert_string_equal(x->summary, "{\"fmiVersion\":\"2.0\"}");
    assert_string_equal(x->report, "{\"errors\":[]}");
    assert_string_equal(x->blob_key, "ab" SHA_A);
    assert_true(x->updated_at >= x->created_at);
    store_fmu_free(x);
    /* ready is final */
    assert_int_equal(store_fmu_set_state(f->c, m->id, STORE_FMU_READY, STORE_FMU_VALIDATING), FMUGW_ECONFLICT);

    /* validating -> awaiting_upload (failed upload) and -> rejected */
    store_fmu *r = new_fmu(f, f->a->id, "Bad.fmu", false);
    assert_int_equal(store_fmu_set_state(f->c, r->id, STORE_FMU_AWAITING_UPLOAD, STORE_FMU_VALIDATING), 0);
    assert_int_equal(store_fmu_set_state(f->c, r->id, STORE_FMU_VALIDATING, STORE_FMU_AWAITING_UPLOAD), 0);
    assert_int_equal(store_fmu_set_state(f->c, r->id, STORE_FMU_AWAITING_UPLOAD, STORE_FMU_VALIDATING), 0);
    assert_int_equal(store_fmu_set_validation(f->c, r->id, STORE_FMU_REJECTED, NULL, "{\"errors\":[\"x\"]}"), 0);
    assert_int_equal(store_fmu_get_owned(&x, f->c, f->a->id, r->id), 0);
    assert_int_equal(x->state, STORE_FMU_REJECTED);
    assert_null(x->summary);
    store_fmu_free(x);

    /* state names round-trip */
    for (int s = STORE_FMU_AWAITING_UPLOAD; s <= STORE_FMU_REJECTED; s++) {
        store_fmu_state back;
        assert_int_equal(store_fmu_state_parse(&back, store_fmu_state_name((store_fmu_state)s)), 0);
        assert_int_equal(back, s);
    }
    store_fmu_state back;
    assert_int_equal(store_fmu_state_parse(&back, "done"), FMUGW_EINVALID);

    /* Soft delete: gone for every reader, twice is not found. */
    assert_int_equal(store_fmu_delete(f->c, f->a->id, m->id), 0);
    assert_int_equal(store_fmu_get(&x, f->c, f->a->id, m->id), FMUGW_ENOTFOUND);
    assert_int_equal(store_fmu_get_internal(&x, f->c, m->id), FMUGW_ENOTFOUND);
    assert_int_equal(store_fmu_delete(f->c, f->a->id, m->id), FMUGW_ENOTFOUND);
    assert_int_equal(store_fmu_set_blob(f->c, m->id, "x"), FMUGW_ENOTFOUND);
    store_fmu_free(m);
    store_fmu_free(r);
    store_fmu_free(NULL);
}

static bool list_has(store_fmu **list, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i]->id, id) == 0)
            return true;
    return false;
}

static void test_fmu_tenant_isolation(void **state)
{
    fixture *f = *state;
    store_fmu *mine = new_fmu(f, f->a->id, "A-private.fmu", false);
    store_fmu *pub = new_fmu(f, NULL, "Sample.fmu", true);
    store_fmu *x = NULL;
    assert_null(pub->account_id);
    assert_true(pub->is_public);

    /* B cannot get A's FMU, by any getter; A can. */
    assert_int_equal(store_fmu_get(&x, f->c, f->b->id, mine->id), FMUGW_ENOTFOUND);
    assert_null(x);
    assert_int_equal(store_fmu_get_owned(&x, f->c, f->b->id, mine->id), FMUGW_ENOTFOUND);
    assert_int_equal(store_fmu_get(&x, f->c, NULL, mine->id), FMUGW_ENOTFOUND);
    assert_int_equal(store_fmu_get(&x, f->c, f->a->id, mine->id), 0);
    store_fmu_free(x);

    /* B cannot delete it; it is still there for A. */
    assert_int_equal(store_fmu_delete(f->c, f->b->id, mine->id), FMUGW_ENOTFOUND);
    assert_int_equal(store_fmu_delete(f->c, NULL, mine->id), FMUGW_ENOTFOUND);
    assert_int_equal(store_fmu_get_owned(&x, f->c, f->a->id, mine->id), 0);
    store_fmu_free(x);

    /* B's listing shows only public FMUs (or nothing without them). */
    store_fmu **list = NULL;
    size_t n = 0;
    char *next = NULL;
    assert_int_equal(store_fmu_list(&list, &n, &next, f->c, f->b->id, true, NULL, 100), 0);
    assert_int_equal(n, 1);
    assert_string_equal(list[0]->id, pub->id);
    assert_null(next);
    store_fmu_list_free(list, n);
    assert_int_equal(store_fmu_list(&list, &n, &next, f->c, f->b->id, false, NULL, 100), 0);
    assert_int_equal(n, 0);
    store_fmu_list_free(list, n);
    assert_int_equal(store_fmu_list(&list, &n, &next, f->c, f->a->id, true, NULL, 100), 0);
    assert_int_equal(n, 2);
    assert_true(list_has(list, n, mine->id));
    assert_true(list_has(list, n, pub->id));
    store_fmu_list_free(list, n);

    /* Public FMUs: visible to all, not owned by anyone, deletable by none. */
    assert_int_equal(store_fmu_get(&x, f->c, f->a->id, pub->id), 0);
    store_fmu_free(x);
    assert_int_equal(store_fmu_get(&x, f->c, f->b->id, pub->id), 0);
    store_fmu_free(x);
    assert_int_equal(store_fmu_get(&x, f->c, NULL, pub->id), 0);
    store_fmu_free(x);
    assert_int_equal(store_fmu_get_owned(&x, f->c, f->a->id, pub->id), FMUGW_ENOTFOUND);
    assert_int_equal(store_fmu_delete(f->c, f->a->id, pub->id), FMUGW_ENOTFOUND);
    assert_int_equal(store_fmu_delete(f->c, f->b->id, pub->id), FMUGW_ENOTFOUND);

    /* The owner's delete works; afterwards nobody sees it. */
    assert_int_equal(store_fmu_delete(f->c, f->a->id, mine->id), 0);
    assert_int_equal(store_fmu_list(&list, &n, &next, f->c, f->a->id, false, NULL, 100), 0);
    assert_int_equal(n, 0);
    store_fmu_list_free(list, n);
    store_fmu_free(mine);
    store_fmu_free(pub);
}

static void test_fmu_pagination(void **state)
{
    fixture *f = *state;
    enum { N = 23 };
    char *ids[N];
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof name, "m%02d.fmu", i);
        store_fmu *m = new_fmu(f, f->a->id, name, false);
        ids[i] = strdup(m->id);
        store_fmu_free(m);
    }
    store_fmu *other = new_fmu(f, f->b->id, "B.fmu", false);

    /* Walk pages of 5: every FMU exactly once, newest first, none of B's. */
    int seen[N] = {0}, pages = 0, total = 0;
    char *cursor = NULL;
    int64_t prev_at = INT64_MAX;
    do {
        store_fmu **list = NULL;
        size_t n = 0;
        char *next = NULL;
        assert_int_equal(store_fmu_list(&list, &n, &next, f->c, f->a->id, false, cursor, 5), 0);
        pages++;
        assert_true(n <= 5);
        for (size_t i = 0; i < n; i++) {
            assert_true(list[i]->created_at <= prev_at);
            prev_at = list[i]->created_at;
            assert_string_not_equal(list[i]->id, other->id);
            int hit = -1;
            for (int j = 0; j < N; j++)
                if (strcmp(ids[j], list[i]->id) == 0)
                    hit = j;
            assert_true(hit >= 0);
            seen[hit]++;
            total++;
        }
        if (next)
            assert_int_equal(n, 5);
        store_fmu_list_free(list, n);
        free(cursor);
        cursor = next;
    } while (cursor);
    assert_int_equal(pages, 5);
    assert_int_equal(total, N);
    for (int i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);

    /* Bad cursors and limits. */
    store_fmu **list = NULL;
    size_t n = 0;
    char *next = NULL;
    assert_int_equal(store_fmu_list(&list, &n, &next, f->c, f->a->id, false, "garbage", 5), FMUGW_EINVALID);
    assert_int_equal(store_fmu_list(&list, &n, &next, f->c, f->a->id, false, "12.fmu_x' OR 1=1", 5),
                     FMUGW_EINVALID);
    assert_int_equal(store_fmu_list(&list, &n, &next, f->c, f->a->id, false, NULL, 0), FMUGW_EINVALID);
    assert_int_equal(store_fmu_list(&list, &n, &next, f->c, f->a->id, false, NULL, 1001), FMUGW_EINVALID);
    /* Exactly one page: no next cursor. */
    assert_int_equal(store_fmu_list(&list, &n, &next, f->c, f->a->id, false, NULL, N), 0);
    assert_int_equal(n, N);
    assert_null(next);
    store_fmu_list_free(list, n);

    for (int i = 0; i < N; i++)
        free(ids[i]);
    store_fmu_free(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_accounts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fmu_basics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fmu_tenant_isolation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fmu_pagination, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
