/*
 * account.c - the account calls: account summary and balance, ledger,
 * usage (JSON or CSV), and API keys (create, list, revoke).
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int get_json_text(char **out, fmugw_client *c, const char *path)
{
    json_t *j = NULL;
    *out = NULL;
    int rc = client__json(c, &j, "GET", path, NULL, 0);
    if (rc == 0 && !(*out = json_dumps(j, JSON_COMPACT)))
        rc = client__error(FMUGW_CLIENT_ERROR, "out of memory");
    json_decref(j);
    return rc;
}

FMUGW_EXTERN(int) fmugw_account_get(char **out, fmugw_client *c)
{
    return get_json_text(out, c, "/account");
}

FMUGW_EXTERN(int) fmugw_account_balance(double *out, fmugw_client *c)
{
    json_t *j = NULL;
    *out = 0;
    int rc = client__json(c, &j, "GET", "/account", NULL, 0);
    if (rc == 0) {
        json_t *b = json_object_get(j, "balance");
        if (json_is_number(b))
            *out = json_number_value(b);
        else
            rc = client__error(FMUGW_CLIENT_ESERVER, "GET /account: no balance in the answer");
    }
    json_decref(j);
    return rc;
}

FMUGW_EXTERN(int) fmugw_account_ledger(char **out, fmugw_client *c)
{
    return get_json_text(out, c, "/account/ledger");
}

FMUGW_EXTERN(int) fmugw_account_usage(char **out, fmugw_client *c, int csv)
{
    if (csv)
        return client__text(c, out, "GET", "/account/usage?format=csv", 0);
    return get_json_text(out, c, "/account/usage?format=json");
}

FMUGW_EXTERN(int) fmugw_key_create(char **out, fmugw_client *c, const char *name, const char *scopes)
{
    json_t *body = json_object(), *j = NULL;
    int rc = 0;
    *out = NULL;
    if (!body)
        return client__error(FMUGW_CLIENT_ERROR, "out of memory");
    if (name)
        json_object_set_new(body, "name", json_string(name));
    if (scopes)
        json_object_set_new(body, "scopes", json_string(scopes));
    /* not retried on 5xx: a retry could make a second key */
    rc = client__json(c, &j, "POST", "/keys", body, 0);
    if (rc == 0 && !(*out = json_dumps(j, JSON_COMPACT)))
        rc = client__error(FMUGW_CLIENT_ERROR, "out of memory");
    json_decref(body);
    json_decref(j);
    return rc;
}

FMUGW_EXTERN(int) fmugw_key_list(char **out, fmugw_client *c)
{
    return get_json_text(out, c, "/keys");
}

FMUGW_EXTERN(int) fmugw_key_revoke(fmugw_client *c, const char *key_id)
{
    return client__on_id(c, NULL, "DELETE", "/keys/", key_id, NULL);
}
