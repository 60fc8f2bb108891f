/*
 * tenant_assert.h - tenant.h's helpers as cmocka assertions: each fails the
 * running test with a message instead of returning an error. Include after
 * <cmocka.h>; header-only, for the integration tests (not the benches).
 */
#ifndef FMUGW_TEST_TENANT_ASSERT_H
#define FMUGW_TEST_TENANT_ASSERT_H

#include "tenant.h"

#include <math.h>

/* GET as JSON, asserting the status. */
static __attribute__((unused)) json_t *get_json(const gw *g, const tn_cred *c, const char *path, long want)
{
    json_t *j = NULL;
    long st = tn_get(g, c, path, &j);
    if (st != want)
        fail_msg("GET %s: %ld (want %ld) %s", path, st, want, j ? json_dumps(j, 0) : "");
    return j;
}

/* tn_submit_ok, asserting the 202 and its job_id. */
static __attribute__((unused)) char *submit_ok(const gw *g, const tn_cred *c, const char *body)
{
    char *id = tn_submit_ok(g, c, body);
    assert_non_null(id);
    return id;
}

/* tn_wait_job, failing the test unless the job finished within max_s. */
static __attribute__((unused)) json_t *wait_job(const gw *g, const tn_cred *c, const char *id, double max_s)
{
    json_t *j = tn_wait_job(g, c, id, max_s);
    if (!j)
        fail_msg("job %s not finished after %.0f s", id, max_s);
    return j;
}

/* A credits field of an answer as integer millicredits. */
static __attribute__((unused)) int64_t milli(const json_t *j, const char *key)
{
    return llround(json_number_value(json_object_get(j, key)) * 1000);
}

#endif
