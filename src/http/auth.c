/*
 * auth.c - the auth resource (app_routes_auth): POST /auth/token exchanges
 * an API key for a short-lived JWT; GET/POST /keys and DELETE /keys/{id}
 * let an account manage its own keys. The guard (guard.c) has already
 * authenticated the caller and set the principal.
 */
#include "server/app.h"
#include "server/app_internal.h"

#include "store/api_keys.h"
#include "ledger/ledger.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* POST /auth/token */
static int token_handler(http_request *req, void *ud)
{
    app *a = ud;
    const principal *p = app_principal(req);
    db_conn *c = NULL;
    char *token = NULL, scopes[128];
    ledger_balance bal;
    int rc;

    if (!p)
        return http_problem(req, HTTP_PROBLEM_UNAUTHORIZED, NULL);
    if (db_pool_acquire(&c, a->db) != 0)
        return http_problem(req, HTTP_PROBLEM_UNAVAILABLE, "the database is not available");
    rc = ledger_balance_get(c, p->account_id, &bal);
    db_pool_release(a->db, c);
    if (rc != 0)
        return http_problem(req, HTTP_PROBLEM_INTERNAL, NULL);

    scopes_format(scopes, sizeof scopes, p->scopes);
    /* `credits`: the available balance in whole credits (rounded down). */
    json_t *extra = json_pack("{s:s,s:s,s:I,s:s}", "key_id", p->key_id, "tier", p->tier, "credits",
                              (json_int_t)(bal.available / LEDGER_MILLI), "scope", scopes);
    jwt_sign_opts so = {.iss = a->jwt_issuer, .aud = a->jwt_audience, .sub = p->account_id,
                        .ttl = a->token_ttl_s, .now = 0};
    rc = extra ? jwt_sign(&token, a->jwt_keys, &so, extra) : FMUGW_ENOMEM;
    json_decref(extra);
    if (rc != 0)
        return http_problem(req, HTTP_PROBLEM_INTERNAL, NULL);
    json_t *body = json_pack("{s:s,s:s,s:i,s:s}", "access_token", token, "token_type", "Bearer", "expires_in",
                             (int)a->token_ttl_s, "scope", scopes);
    crypto_wipe(token, strlen(token));
    free(token);
    http_header_add(req, "Cache-Control", "no-store");
    return http_respond_json(req, 200, body);
}

static json_t *key_json(const store_apikey *k)
{
    return json_pack("{s:s,s:s,s:s,s:s?,s:o,s:o,s:o,s:b}", "id", k->id, "hint", k->prefix, "scopes", k->scopes,
                     "name", k->name, "created_at", app__time_json(k->created_at), "last_used_at",
                     app__time_json(k->last_used_at), "revoked_at", app__time_json(k->revoked_at), "locked",
                     k->locked_at != 0);
}

/* GET /keys */
static int keys_list(http_request *req, void *ud)
{
    app *a = ud;
    const principal *p = app_principal(req);
    store_apikey **list = NULL;
    size_t n = 0;
    db_conn *c = NULL;
    if (db_pool_acquire(&c, a->db) != 0)
        return http_problem(req, HTTP_PROBLEM_UNAVAILABLE, "the database is not available");
    int rc = store_apikey_list(&list, &n, c, p->account_id);
    db_pool_release(a->db, c);
    if (rc != 0)
        return http_problem(req, HTTP_PROBLEM_INTERNAL, NULL);
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, key_json(list[i]));
    store_apikey_list_free(list, n);
    return http_respond_json(req, 200, json_pack("{s:o}", "items", items));
}

typedef struct {
    app *a;
    const principal *p;
    unsigned scopes;
    const char *name;
    char key[APIKEY_LEN + 1];
    char id[APIKEY_ID_LEN + 1];
} create_ctx;

static int create_tx(db_conn *c, void *ud)
{
    create_ctx *x = ud;
    char scopes[128];
    int rc = app__key_create(x->a, c, x->p->account_id, x->scopes, x->name, x->key, x->id);
    if (rc != 0)
        return rc;
    scopes_format(scopes, sizeof scopes, x->scopes);
    return app_audit(x->a, c, x->p->key_id, "key.create", x->id,
                     json_pack("{s:s,s:s,s:s}", "account_id", x->p->account_id, "scopes", scopes, "via", "api"));
}

/* POST /keys {"scopes": "fmu:read ..." | [...], "name": "..."} */
static int keys_create(http_request *req, void *ud)
{
    app *a = ud;
    const principal *p = app_principal(req);
    json_t *body = NULL, *js, *jn;
    create_ctx x = {.a = a, .p = p};
    db_conn *c = NULL;
    int rc;

    size_t body_len = 0;
    if (http_request_body(req, &body_len) != NULL && body_len > 0 && (rc = http_request_json(&body, req)) != 0)
        return rc;
    if (body && !json_is_object(body))
        return http_problem(req, HTTP_PROBLEM_BAD_REQUEST, "the body must be a JSON object");
    js = body ? json_object_get(body, "scopes") : NULL;
    jn = body ? json_object_get(body, "name") : NULL;
    if (jn && !json_is_null(jn)) {
        if (!json_is_string(jn) || json_string_length(jn) > 100)
            return http_problem(req, HTTP_PROBLEM_BAD_REQUEST, "name must be a string of at most 100 characters");
        x.name = json_string_value(jn);
    }
    if (!js || json_is_null(js)) {
        x.scopes = p->scopes & SCOPE_DEFAULT;
    } else if (json_is_string(js)) {
        if (scopes_parse(&x.scopes, json_string_value(js)) != 0)
            return http_problem(req, HTTP_PROBLEM_BAD_REQUEST, "%s", fmugw_error_last());
    } else if (json_is_array(js)) {
        size_t i;
        json_t *v;
        json_array_foreach(js, i, v)
        {
            unsigned one;
            if (!json_is_string(v) || scopes_parse(&one, json_string_value(v)) != 0)
                return http_problem(req, HTTP_PROBLEM_BAD_REQUEST, "scopes must be known scope names");
            x.scopes |= one;
        }
    } else {
        return http_problem(req, HTTP_PROBLEM_BAD_REQUEST, "scopes must be a string or an array of strings");
    }
    if (x.scopes == 0)
        return http_problem(req, HTTP_PROBLEM_BAD_REQUEST, "a key needs at least one scope");
    if (x.scopes & ~p->scopes)
        return http_problem(req, HTTP_PROBLEM_FORBIDDEN, "a new key cannot have scopes the calling key lacks");

    if (db_pool_acquire(&c, a->db) != 0)
        return http_problem(req, HTTP_PROBLEM_UNAVAILABLE, "the database is not available");
    rc = db_transact(c, create_tx, &x);
    if (rc != 0) {
        db_pool_release(a->db, c);
        if (rc == FMUGW_ELIMIT) /* the tier's key cap: nothing was created */
            return http_problem(req, HTTP_PROBLEM_CONFLICT, "%s", fmugw_error_last());
        return http_problem(req, HTTP_PROBLEM_INTERNAL, NULL);
    }
    store_apikey *k = NULL;
    rc = store_apikey_get(&k, c, p->account_id, x.id);
    db_pool_release(a->db, c);
    if (rc != 0) {
        crypto_wipe(x.key, sizeof x.key);
        return http_problem(req, HTTP_PROBLEM_INTERNAL, NULL);
    }
    json_t *out = key_json(k);
    store_apikey_free(k);
    json_object_set_new(out, "api_key", json_string(x.key));
    crypto_wipe(x.key, sizeof x.key);
    http_header_add(req, "Cache-Control", "no-store");
    return http_respond_json(req, 201, out);
}

typedef struct {
    app *a;
    const principal *p;
    const char *id;
} revoke_ctx;

static int revoke_tx(db_conn *c, void *ud)
{
    revoke_ctx *x = ud;
    int rc = store_apikey_revoke(c, x->p->account_id, x->id);
    if (rc != 0)
        return rc;
    return app_audit(x->a, c, x->p->key_id, "key.revoke", x->id,
                     json_pack("{s:s,s:s}", "account_id", x->p->account_id, "via", "api"));
}

/* DELETE /keys/{id} */
static int keys_revoke(http_request *req, void *ud)
{
    app *a = ud;
    revoke_ctx x = {.a = a, .p = app_principal(req), .id = http_request_param(req, "id")};
    db_conn *c = NULL;
    if (!x.id || strlen(x.id) > 64)
        return http_problem(req, HTTP_PROBLEM_NOT_FOUND, "no such key");
    if (db_pool_acquire(&c, a->db) != 0)
        return http_problem(req, HTTP_PROBLEM_UNAVAILABLE, "the database is not available");
    int rc = db_transact(c, revoke_tx, &x);
    db_pool_release(a->db, c);
    if (rc == FMUGW_ENOTFOUND)
        return http_problem(req, HTTP_PROBLEM_NOT_FOUND, "no such key");
    if (rc != 0)
        return http_problem(req, HTTP_PROBLEM_INTERNAL, NULL);
    return http_respond_bytes(req, 204, NULL, NULL, 0);
}

int app_routes_auth(app *a, http_server *srv)
{
    const http_route routes[] = {
        {.method = "POST", .pattern = "/auth/token", .handler = token_handler, .max_body = 4096,
         .flags = HTTP_ROUTE_NEEDS_AUTH | APP_ROUTE_KEY_ONLY, .ud = a},
        {.method = "GET", .pattern = "/keys", .handler = keys_list,
         .flags = HTTP_ROUTE_NEEDS_AUTH | APP_ROUTE_SCOPE(SCOPE_ACCOUNT_READ), .ud = a},
        {.method = "POST", .pattern = "/keys", .handler = keys_create, .max_body = 4096,
         .flags = HTTP_ROUTE_NEEDS_AUTH | APP_ROUTE_SCOPE(SCOPE_ACCOUNT_READ), .ud = a},
        {.method = "DELETE", .pattern = "/keys/{id}", .handler = keys_revoke,
         .flags = HTTP_ROUTE_NEEDS_AUTH | APP_ROUTE_SCOPE(SCOPE_ACCOUNT_READ), .ud = a},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        int rc = http_server_route(srv, &routes[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}
