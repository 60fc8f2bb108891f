/*
 * test_jobs_request.c - POST /fmu/execute bodies against a model summary
 * (src/jobs/request.c): every problem is a {field, message} naming the
 * field (unknown member, unknown variable, wrong JSON type for the
 * variable's type, a variable that cannot be set, stop <= start, an
 * interface the FMU lacks, limits over the tier's), the defaults of the
 * summary's default experiment (start, span), and the request hash (same
 * settings, same hash; another setting, another hash; member order does
 * not matter); the runner's rules applied at validation (subnormal and
 * unrunnable times, list bounds), the stored settings turned into a
 * runner argv that parses with as many names as were accepted, the
 * effective limits (what is reserved is what is enforced), the variable
 * index on a large model and the bound on listed problems.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "jobs/jobs_internal.h"
#include "fmi/sim_args.h"
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

/* Accepted by the old validation, then refused by the runner as a platform
 * error (uncharged), or run with one row: refused here, naming the field. */
static void test_runner_rules(void **state)
{
    fixture *f = *state;
    expect_field(f, "{\"fmu_id\":\"fmu_1\",\"step_size\":5e-324}", "step_size");
    expect_field(f, "{\"fmu_id\":\"fmu_1\",\"relative_tolerance\":5e-324}", "relative_tolerance");
    expect_field(f, "{\"fmu_id\":\"fmu_1\",\"output_interval\":1e-300}", "output_interval");
    expect_field(f, "{\"fmu_id\":\"fmu_1\",\"stop_time\":1e30,\"step_size\":1e8}", "step_size");
    expect_field(f, "{\"fmu_id\":\"fmu_1\",\"stop_time\":1e9,\"output_interval\":1e-3}", "output_interval");
    expect_field(f, "{\"fmu_id\":\"fmu_1\",\"step_size\":0.1,\"output_interval\":0.15}", "output_interval");
    /* the default experiment (2 .. 12) counts: 1e-13 is below the precision of 12 */
    expect_field(f, "{\"fmu_id\":\"fmu_1\",\"output_interval\":1e-13}", "output_interval");
    /* ME with CVODE: the step size is not a step count, the rows are */
    job_request req;
    json_t *errors;
    assert_int_equal(parse(f, "{\"fmu_id\":\"fmu_1\",\"interface\":\"me\",\"output_interval\":1}", &req, &errors), 0);
    job__request_free(&req);
    json_decref(errors);
}

/* A summary with `n` Real parameters p0..p<n-1> (and the fixture's). */
static json_t *big_summary(fixture *f, unsigned n)
{
    json_t *s = json_deep_copy(f->summary), *vars = json_object_get(s, "variables");
    for (unsigned i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "p%u", i);
        json_array_append_new(vars, json_pack("{s:s,s:s,s:s,s:s,s:s}", "name", name, "type", "Real", "causality",
                                              "parameter", "variability", "tunable", "start", "0"));
    }
    return s;
}

/* 300 output variables (the runner's argv once had 510 slots: the job
 * failed as a platform error) and the 1000 allowed: the stored settings
 * give a runner argv that parses with every name; 1001 are refused. */
static void test_output_names_reach_the_runner(void **state)
{
    fixture *f = *state;
    json_t *sum = big_summary(f, 20000);
    unsigned counts[] = { 300, FMI_SIM_MAX_OUTPUT_VARIABLES, FMI_SIM_MAX_OUTPUT_VARIABLES + 1 };
    for (size_t c = 0; c < 3; c++) {
        json_t *names = json_array(), *sv = json_object();
        for (unsigned i = 0; i < counts[c]; i++) {
            char name[32];
            snprintf(name, sizeof name, "p%u", (i * 7919u) % 20000u);
            json_array_append_new(names, json_string(name));
            if (i < 300)
                json_object_set_new(sv, name, json_real(i));
        }
        json_t *b = json_pack("{s:s,s:o,s:o}", "fmu_id", "fmu_1", "output_variables", names, "start_values", sv);
        json_t *errors = json_array();
        job_request req;
        int rc = job__request_parse(&req, errors, b, sum, SHA, f->free_tier);
        if (c == 2) {
            assert_int_equal(rc, FMUGW_EINVALID);
            assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 0), "field")),
                                "output_variables");
        } else {
            assert_int_equal(rc, 0);
            char *text = json_dumps(req.canonical, JSON_COMPACT);
            char **argv = NULL;
            assert_int_equal(job__runner_argv(&argv, text, false), 0);
            int argc = 0;
            while (argv[argc])
                argc++;
            fmi_sim_args a;
            assert_int_equal(fmi_sim_args_parse(&a, argc, argv), 0);
            assert_int_equal(a.n_output_variables, counts[c]);
            assert_int_equal(a.sim.n_start_values, 300);
            assert_string_equal(a.fmu, "/job/fmu");
            fmi_sim_args_free(&a);
            fmi_sim_args_free_argv(argv);
            free(text);
        }
        job__request_free(&req);
        json_decref(errors);
        json_decref(b);
    }
    /* every list is bounded */
    json_t *sv = json_object();
    for (unsigned i = 0; i <= FMI_SIM_MAX_START_VALUES; i++) {
        char name[32];
        snprintf(name, sizeof name, "p%u", i);
        json_object_set_new(sv, name, json_real(1));
    }
    json_t *b = json_pack("{s:s,s:o}", "fmu_id", "fmu_1", "start_values", sv), *errors = json_array();
    job_request req;
    assert_int_equal(job__request_parse(&req, errors, b, sum, SHA, f->free_tier), FMUGW_EINVALID);
    assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 0), "field")), "start_values");
    json_decref(errors);
    json_decref(b);
    json_t *in = json_pack("{s:[i,i]}", "time", 0, 1);
    for (unsigned i = 0; i <= JOB_MAX_INPUT_COLUMNS; i++) {
        char name[32];
        snprintf(name, sizeof name, "p%u", i);
        json_object_set_new(in, name, json_pack("[i,i]", 0, 1));
    }
    b = json_pack("{s:s,s:o}", "fmu_id", "fmu_1", "inputs", in);
    errors = json_array();
    assert_int_equal(job__request_parse(&req, errors, b, sum, SHA, f->free_tier), FMUGW_EINVALID);
    assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 0), "field")), "inputs");
    json_decref(errors);
    json_decref(b);
    json_decref(sum);
}

/* Names not in the model, many of them: each one a problem, but only the
 * first JOB_MAX_PROBLEMS are listed (then one "more problems"). */
static void test_problems_bounded(void **state)
{
    fixture *f = *state;
    json_t *names = json_array();
    for (unsigned i = 0; i < FMI_SIM_MAX_OUTPUT_VARIABLES; i++)
        json_array_append_new(names, json_string(i % 2 ? "x" : "nope"));
    json_t *b = json_pack("{s:s,s:o}", "fmu_id", "fmu_1", "output_variables", names), *errors = json_array();
    job_request req;
    assert_int_equal(job__request_parse(&req, errors, b, f->summary, SHA, f->free_tier), FMUGW_EINVALID);
    assert_int_equal(json_array_size(errors), JOB_MAX_PROBLEMS + 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(errors, 0), "field")), "output_variables[0]");
    assert_string_equal(json_string_value(json_object_get(json_array_get(errors, JOB_MAX_PROBLEMS), "field")), "request");
    json_decref(errors);
    json_decref(b);
}

/* The limits: refused below the minimum, and the effective values (whole
 * ms of wall time, whole s of CPU) are what is stored and priced. */
static void test_effective_limits(void **state)
{
    fixture *f = *state;
    expect_field(f, "{\"fmu_id\":\"fmu_1\",\"timeout_s\":1e-300}", "timeout_s");
    expect_field(f, "{\"fmu_id\":\"fmu_1\",\"timeout_s\":0.5}", "timeout_s");
    expect_field(f, "{\"fmu_id\":\"fmu_1\",\"cpu_limit_s\":1e-300}", "cpu_limit_s");
    expect_field(f, "{\"fmu_id\":\"fmu_1\",\"memory_limit_mb\":5e-324}", "memory_limit_mb");
    job_request req;
    json_t *errors;
    assert_int_equal(parse(f, "{\"fmu_id\":\"fmu_1\",\"timeout_s\":2.0004,\"cpu_limit_s\":1.2,\"memory_limit_mb\":16.5}",
                           &req, &errors),
                     0);
    assert_int_equal(req.timeout_ms, 2001);
    assert_true(req.timeout_s == 2.001);
    assert_true(req.cpu_limit_s == 2.0);
    assert_true(json_number_value(json_object_get(req.canonical, "cpu_limit_s")) == 2.0);
    assert_true(json_number_value(json_object_get(req.canonical, "timeout_s")) == 2.001);
    assert_true(req.memory_limit == (uint64_t)(16.5 * 1048576));
    job__request_free(&req);
    json_decref(errors);
    assert_int_equal(parse(f, "{\"fmu_id\":\"fmu_1\"}", &req, &errors), 0);
    assert_int_equal(req.timeout_ms, (int64_t)(f->free_tier->max_job_seconds * 1000));
    assert_true(req.memory_limit == f->free_tier->max_memory_bytes);
    job__request_free(&req);
    json_decref(errors);
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
        cmocka_unit_test(test_runner_rules),
        cmocka_unit_test(test_output_names_reach_the_runner),
        cmocka_unit_test(test_problems_bounded),
        cmocka_unit_test(test_effective_limits),
        cmocka_unit_test(test_hash),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
