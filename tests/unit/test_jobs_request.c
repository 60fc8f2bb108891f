/*
 * test_jobs_request.c - POST /fmu/execute bodies against a model summary
 * (src/jobs/request.c): every problem is a {field, message} naming the
 * field (unknown member, unknown variable, wrong JSON type for the
 * variable's type, a variable that cannot be set, stop <= start, an
 * interface the FMU lacks, limits over the tier's), the defaults of the
 * summary's default experiment (start, span), and the request hash (same
 * settings, same hash; another setting, another hash; member order does
 * not matter).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jobs/jobs_internal.h"
#include "ledger/pricing.h"
#include "util/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const SUMMARY =
    "{\"interfaces\":[\"CoSimulation\",\"ModelExchange\"],"
    "\"default_experiment\":{\"start_time\":2,\"stop_time\":12},"
    "\"variables\":["
    "{\"name\":\"time\",\"type\":\"Real\",\"causality\":\"independent\",\"variability\":\"continuous\"},"
    "{\"name\":\"x\",\"type\":\"Real\",\"causality\":\"output\",\"variability\":\"continuous\",\"start\":\"1\"},"
    "{\"name\":\"k\",\"type\":\"Real\",\"causality\":\"parameter\",\"variability\":\"tunable\",\"start\":\"-1\"},"
    "{\"name\":\"n\",\"type\":\"Integer\",\"causality\":\"parameter\",\"variability\":\"fixed\",\"start\":\"3\"},"
    "{\"name\":\"on\",\"type\":\"Boolean\",\"causality\":\"parameter\",\"variability\":\"fixed\",\"start\":\"true\"},"
    "{\"name\":\"c\",\"type\":\"Real\",\"causality\":\"calculatedParameter\",\"variability\":\"fixed\"},"
    "{\"name\":\"u\",\"type\":\"Real\",\"causality\":\"input\",\"variability\":\"continuous\",\"start\":\"0\"}"
    "]}";

#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

typedef struct {
    pricing *p;
    const pricing_tier *free_tier;
    json_t *summary;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char path[1024];
    snprintf(path, sizeof path, "%s/pricing.json", getenv("FMUGW_SOURCE_DIR") ? getenv("FMUGW_SOURCE_DIR") : ".");
    if (!f || pricing_load(&f->p, path) != 0 || !(f->free_tier = pricing_tier_get(f->p, "free")) ||
        !(f->summary = json_loads(SUMMARY, 0, NULL)))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    json_decref(f->summary);
    pricing_free(f->p);
    free(f);
    return 0;
}

/* Parses `body` (JSON text); returns the parse result, *errors the array. */
static int parse(fixture *f, const char *body, job_request *req, json_t **errors)
{
    json_t *b = json_loads(body, 0, NULL);
    assert_non_null(b);
    *errors = json_array();
    int rc = job__request_parse(req, *errors, b, f->summary, SHA, f->free_tier);
    json_decref(b);
    return rc;
}

/* Asserts that `body` is refused with an error naming `field`. */
static void expect_field(fixture *f, const char *body, const char *field)
{
    job_request req;
    json_t *errors;
    int rc = parse(f, body, &req, &errors);
    assert_int_equal(rc, FMUGW_EINVALID);
    bool found = false;
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        assert_non_null(json_string_value(json_object_get(e, "message")));
        if (!strcmp(json_string_value(json_object_get(e, "field")), field))
            found = true;
    }
    if (!found) {
        char *dump = json_dumps(errors, 0);
        fail_msg("%s: no error for field %s in %s", body, field, dump);
    }
    job__request_free(&req);
    json_decref(errors);
}

static void test_valid_defaults(void **state)
{
    fixture *f = *state;
    job_request req;
    json_t *errors;
    assert_int_equal(parse(f, "{\"fmu_id\":\"fmu_1\"}", &req, &errors), 0);
    assert_int_equal(json_array_size(errors), 0);
    /* the default experiment: 2 .. 12 */
    assert_true(req.start == 2.0);
    assert_true(req.span == 10.0);
    assert_true(req.timeout_s == f->free_tier->max_job_seconds);
    assert_true(req.reuse);
    assert_int_equal(strlen(req.hash), 64);
    assert_null(req.inputs_csv);
    job__request_free(&req);
    json_decref(errors);

    /* given times win over the default experiment */
    assert_int_equal(parse(f, "{\"fmu_id\":\"fmu_1\",\"start_time\":-1,\"stop_time\":4,\"start_values\":{\"k\":2.5,"
                              "\"n\":7,\"on\":false}}",
                           &req, &errors),
                     0);
    assert_true(req.start == -1.0);
    assert_true(req.span == 5.0);
    json_t *sv = json_object_get(req.canonical, "start_values");
    assert_string_equal(json_string_value(json_object_get(sv, "k")), "2.5");
    assert_string_equal(json_string_value(json_object_get(sv, "n")), "7");
    assert_string_equal(json_string_value(json_object_get(sv, "on")), "false");
    job__request_free(&req);
    json_decref(errors);
}

static void test_field_errors(void **state)
{
    fixture *f = *state;
    expect_field(f, "{\"fmu_id\":\"fmu_1\",\"stop_tme\":3}", "stop_tme");
    expect_field(f, "{\"fmu_id\":\"fmu_1\",\"start_values\":{\"nope\":1}}", "start_values.nope");
    expect_field(f, "{\"fmu_id\":\"fmu_1\",\"start_values\":{\"k\":\"fast\"}}", "start_values.k");
    expect_field(f, "{\"fmu_id\":\"fmu_1\",\"start_values\":{\"n\":1.5}}", "start_values.n");
    expect_field(f, "{\"fmu_id\":\"fmu_1\",\"start_values\":{\"on\":\"yes\"}}", "start_values.on");
    expect_field(f, "{\"fmu_id\":\"fmu_1\",\"start_values\":{\"c\":1}}", "start_values.c");
    expect_field(f, "{\"fmu_id\":\"fmu_1\",\"start_values\":[1]}", "start_values");
    expect_field(f, "{\"fmu_id\":\"fmu_1\",\"start_time\":5,\"stop_time\":1}", "stop_time");
    expect_field(f, "{\"fmu_id\":\"fmu_1\",\"start_time\":5,\"stop_time\":5}", "stop_time");
    expect_field(f, "{\"fmu_id\":\"fmu_1\",\"stop_time\":\"10\"}", "stop_time");
    expect_field(f, "{\"fmu_id\":\"fmu_1\",\"start_time\":20}", "stop_time"); /* after the default stop */
    expect_field(f, "{\"fmu_id\":\"fmu_1\",\"interface\":\"both\"}", "interface");
    expect_field(f, "{\"fmu_id\":\"fmu_1\",\"solver\":\"rk4\"}", "solver");
    expect_field(f, "{\"fmu_id\":\"fmu_1\",\"output_variables\":[\"x\",\"y\"]}", "output_variables[1]");
    expect_field(f, "{\"fmu_id\":\"fmu_1\",\"output_format\":\"xml\"}", "output_format");
    expect_field(f, "{\"fmu_id\":\"fmu_1\",\"timeout_s\":1e9}", "timeout_s");
    expect_field(f, "{\"fmu_id\":\"fmu_1\",\"timeout_s\":10,\"cpu_limit_s\":20}", "cpu_limit_s");
    expect_field(f, "{\"fmu_id\":\"fmu_1\",\"memory_limit_mb\":1}", "memory_limit_mb");
    expect_field(f, "{\"fmu_id\":\"fmu_1\",\"reuse\":\"no\"}", "reuse");
    expect_field(f, "{\"fmu_id\":\"fmu_1\",\"inputs\":{\"time\":[0,1],\"x\":[1,2]}}", "inputs.x");
}

static void test_interface_missing(void **state)
{
    fixture *f = *state;
    json_t *cs_only = json_deep_copy(f->summary);
    json_object_set_new(cs_only, "interfaces", json_pack("[s]", "CoSimulation"));
    json_t *b = json_pack("{s:s,s:s}", "fmu_id", "fmu_1", "interface", "me"), *errors = json_array();
    job_request req;
    assert_int_equal(job__request_parse(&req, errors, b, cs_only, SHA, f->free_tier), FMUGW_EINVALID);
    assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 0), "field")), "interface");
    job__request_free(&req);
    json_decref(errors);
    json_decref(b);
    json_decref(cs_only);
}

static void test_hash(void **state)
{
    fixture *f = *state;
    job_request a, b, c;
    json_t *ea, *eb, *ec;
    assert_int_equal(parse(f, "{\"fmu_id\":\"fmu_1\",\"stop_time\":4,\"start_values\":{\"k\":2}}", &a, &ea), 0);
    assert_int_equal(parse(f, "{\"start_values\":{\"k\":2},\"stop_time\":4,\"fmu_id\":\"fmu_1\"}", &b, &eb), 0);
    assert_int_equal(parse(f, "{\"fmu_id\":\"fmu_1\",\"stop_time\":4,\"start_values\":{\"k\":3}}", &c, &ec), 0);
    assert_string_equal(a.hash, b.hash);
    assert_string_not_equal(a.hash, c.hash);
    job__request_free(&a);
    job__request_free(&b);
    job__request_free(&c);
    json_decref(ea);
    json_decref(eb);
    json_decref(ec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_defaults),
        cmocka_unit_test(test_field_errors),
        cmocka_unit_test(test_interface_missing),
        cmocka_unit_test(test_hash),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
