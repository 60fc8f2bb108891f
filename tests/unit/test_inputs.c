/*
 * test_inputs.c - inputs.c: CSV reading, column mapping, every error
 * message, interpolation and hold, repeated time stamps (events),
 * next_event, and fmi_inputs_apply() on the Feedthrough sample FMU.
 */
#include "fmi/fmu.h"
#include "fmi/inputs.h"
#include "fmi/instance.h"
#include "fmi/model.h"
#include "util/error.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#ifndef FMUGW_FMU_DIR
#define FMUGW_FMU_DIR "fmus"
#endif

static const char model_xml[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<fmiModelDescription fmiVersion=\"3.0\" modelName=\"M\" instantiationToken=\"{1}\">\n"
    "  <CoSimulation modelIdentifier=\"M\"/>\n"
    "  <ModelVariables>\n"
    "    <Float64 name=\"time\" valueReference=\"0\" causality=\"independent\" variability=\"continuous\"/>\n"
    "    <Float64 name=\"u\" valueReference=\"1\" causality=\"input\" variability=\"continuous\" start=\"0\"/>\n"
    "    <Float64 name=\"d\" valueReference=\"2\" causality=\"input\" variability=\"discrete\" start=\"0\"/>\n"
    "    <Int8 name=\"i8\" valueReference=\"3\" causality=\"input\" variability=\"discrete\" start=\"0\"/>\n"
    "    <Boolean name=\"b\" valueReference=\"4\" causality=\"input\" variability=\"discrete\" start=\"false\"/>\n"
    "    <Float64 name=\"p\" valueReference=\"5\" causality=\"parameter\" variability=\"tunable\" start=\"0\"/>\n"
    "    <Float64 name=\"fixed\" valueReference=\"6\" causality=\"parameter\" variability=\"fixed\" start=\"0\"/>\n"
    "    <Float64 name=\"y\" valueReference=\"7\" causality=\"output\" variability=\"continuous\"/>\n"
    "    <String name=\"s\" valueReference=\"8\" causality=\"input\" variability=\"discrete\"><Start value=\"\"/></String>\n"
    "    <Float32 name=\"f\" valueReference=\"9\" causality=\"input\" variability=\"continuous\" start=\"0\"/>\n"
    "    <UInt64 name=\"u64\" valueReference=\"10\" causality=\"input\" variability=\"discrete\" start=\"0\"/>\n"
    "    <Int64 name=\"i64\" valueReference=\"11\" causality=\"input\" variability=\"discrete\" start=\"0\"/>\n"
    "    <Float64 name=\"arr\" valueReference=\"12\" causality=\"input\" variability=\"continuous\" start=\"0 0\">"
    "<Dimension start=\"2\"/></Float64>\n"
    "  </ModelVariables>\n"
    "  <ModelStructure><Output valueReference=\"7\"/></ModelStructure>\n"
    "</fmiModelDescription>\n";

static fmi_model *model;

static int setup(void **state)
{
    (void)state;
    if (fmi_model_parse_buffer(&model, model_xml, strlen(model_xml)) != 0) {
        fprintf(stderr, "cannot parse the test model: %s\n", fmugw_error_last());
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fmi_model_free(model);
    return 0;
}

static fmi_inputs *parse_ok(const char *csv)
{
    fmi_inputs *in = NULL;
    int rc = fmi_inputs_parse_csv(&in, csv, model);
    if (rc != 0)
        fail_msg("unexpected error %d: %s", rc, fmugw_error_last());
    return in;
}

/* Parsing `csv` fails with FMUGW_EINVALID and exactly `message`. */
static void expect_error(const char *csv, const char *message)
{
    fmi_inputs *in = (fmi_inputs *)1;
    int rc = fmi_inputs_parse_csv(&in, csv, model);
    assert_int_equal(rc, FMUGW_EINVALID);
    assert_null(in);
    assert_string_equal(fmugw_error_last(), message);
}

static const char events_csv[] = "time,u,d,i8,b\n"
                                 "0,0,1,1,false\n"
                                 "1,10,2,-3,true\n"
                                 "2,10,2,5,1\n"
                                 "2,20,3,5,0\n"
                                 "4,0,3,7,true\n";

enum { U, D, I8, B };

static void test_interpolation_and_hold(void **state)
{
    (void)state;
    fmi_inputs *in = parse_ok(events_csv);
    assert_int_equal(fmi_inputs_n_signals(in), 4);
    assert_int_equal(fmi_inputs_n_rows(in), 5);

    /* continuous: linear between rows, first/last row outside */
    assert_true(fmi_inputs_value(in, U, -1, false) == 0);
    assert_true(fmi_inputs_value(in, U, 0, false) == 0);
    assert_true(fmi_inputs_value(in, U, 0.5, false) == 5);
    assert_true(fmi_inputs_value(in, U, 0.25, true) == 2.5);
    assert_true(fmi_inputs_value(in, U, 1, false) == 10);
    assert_true(fmi_inputs_value(in, U, 1.5, false) == 10);
    assert_true(fmi_inputs_value(in, U, 3, false) == 10); /* from (2,20) to (4,0) */
    assert_true(fmi_inputs_value(in, U, 3.5, false) == 5);
    assert_true(fmi_inputs_value(in, U, 4, false) == 0);
    assert_true(fmi_inputs_value(in, U, 100, true) == 0);

    /* held: the last row at or before t */
    assert_true(fmi_inputs_value(in, D, -5, false) == 1);
    assert_true(fmi_inputs_value(in, D, 0.5, false) == 1);
    assert_true(fmi_inputs_value(in, D, 0.999, true) == 1);
    assert_true(fmi_inputs_value(in, D, 1, false) == 2);
    assert_true(fmi_inputs_value(in, D, 1.999, false) == 2);
    assert_true(fmi_inputs_value(in, D, 3, false) == 3);
    assert_true(fmi_inputs_value(in, I8, 0.5, false) == 1);
    assert_true(fmi_inputs_value(in, I8, 1.5, false) == -3);
    assert_true(fmi_inputs_value(in, I8, 3.9, false) == 5);
    assert_true(fmi_inputs_value(in, I8, 4, false) == 7);
    assert_true(fmi_inputs_value(in, B, 0.9, false) == 0);
    assert_true(fmi_inputs_value(in, B, 1, false) == 1);
    assert_true(fmi_inputs_value(in, B, 3, false) == 0);
    assert_true(fmi_inputs_value(in, B, 4, false) == 1);

    assert_true(isnan(fmi_inputs_value(in, 4, 0, false)));
    fmi_inputs_free(in);
}

static void test_repeated_time_stamp(void **state)
{
    (void)state;
    fmi_inputs *in = parse_ok(events_csv);
    /* before the event at t = 2: the first row with time 2 */
    assert_true(fmi_inputs_value(in, U, 2, false) == 10);
    assert_true(fmi_inputs_value(in, D, 2, false) == 2);
    assert_true(fmi_inputs_value(in, B, 2, false) == 1);
    /* after it: the second */
    assert_true(fmi_inputs_value(in, U, 2, true) == 20);
    assert_true(fmi_inputs_value(in, D, 2, true) == 3);
    assert_true(fmi_inputs_value(in, B, 2, true) == 0);
    /* just before and after */
    assert_true(fabs(fmi_inputs_value(in, U, 1.999, false) - 10) < 1e-12);
    assert_true(fabs(fmi_inputs_value(in, U, 2.5, false) - 15) < 1e-12);
    fmi_inputs_free(in);
}

static void test_next_event(void **state)
{
    (void)state;
    fmi_inputs *in = parse_ok(events_csv);
    /* d changes at 1, i8 at 2 (and 2 repeats), i8 at 4 */
    assert_true(fmi_inputs_next_event(in, -10) == 1);
    assert_true(fmi_inputs_next_event(in, 0) == 1);
    assert_true(fmi_inputs_next_event(in, 0.999) == 1);
    assert_true(fmi_inputs_next_event(in, 1) == 2);
    assert_true(fmi_inputs_next_event(in, 1.5) == 2);
    assert_true(fmi_inputs_next_event(in, 2) == 4);
    assert_true(isinf(fmi_inputs_next_event(in, 4)));
    assert_true(isinf(fmi_inputs_next_event(in, 1e9)));
    fmi_inputs_free(in);

    /* continuous signals changing are no events; a repeated stamp is */
    in = parse_ok("time,u,d\n0,0,5\n1,3,5\n2,-1,5\n3,7,5\n");
    assert_true(isinf(fmi_inputs_next_event(in, 0)));
    fmi_inputs_free(in);
    in = parse_ok("time,u\n0,0\n1,3\n1,4\n2,-1\n");
    assert_true(fmi_inputs_next_event(in, 0) == 1);
    assert_true(isinf(fmi_inputs_next_event(in, 1)));
    fmi_inputs_free(in);
}

static void test_csv_dialect(void **state)
{
    (void)state;
    /* quoted names, CRLF, blanks around fields, a quoted number, blank
     * trailing lines */
    fmi_inputs *in = parse_ok("\"time\",\"u\", \"p\" \r\n0, 1 ,\"2.5\"\r\n1,3,1e1\r\n\r\n\r\n");
    assert_int_equal(fmi_inputs_n_signals(in), 2);
    assert_int_equal(fmi_inputs_n_rows(in), 2);
    assert_true(fmi_inputs_value(in, 0, 0.5, false) == 2);
    assert_true(fmi_inputs_value(in, 1, 0, false) == 2.5);
    /* a tunable parameter is held, not interpolated */
    assert_true(fmi_inputs_value(in, 1, 0.5, false) == 2.5);
    assert_true(fmi_inputs_value(in, 1, 1, false) == 10);
    fmi_inputs_free(in);

    /* no final newline, a doubled quote inside a quoted name is not a
     * variable name here but the reader gets it right */
    in = parse_ok("Time,u\n0,1");
    assert_int_equal(fmi_inputs_n_rows(in), 1);
    assert_true(fmi_inputs_value(in, 0, 7, true) == 1);
    fmi_inputs_free(in);
    expect_error("time,\"a\"\"b\"\n0,1\n", "input.csv:1: column \"a\"b\": no such variable in the model");

    /* the time column alone */
    in = parse_ok("time\n0\n1\n");
    assert_int_equal(fmi_inputs_n_signals(in), 0);
    assert_int_equal(fmi_inputs_n_rows(in), 2);
    fmi_inputs_free(in);

    /* float32 is interpolated too; 64-bit integers, unsigned */
    in = parse_ok("time,f,u64,i64\n0,0,0,-9007199254740992\n2,1,18446744073709549568,9007199254740992\n");
    assert_true(fmi_inputs_value(in, 0, 1, false) == 0.5);
    assert_true(fmi_inputs_value(in, 1, 1, false) == 0);
    assert_true(fmi_inputs_value(in, 1, 2, false) == 18446744073709549568.0);
    assert_true(fmi_inputs_value(in, 2, 1.5, false) == -9007199254740992.0);
    fmi_inputs_free(in);

    /* booleans in every spelling */
    in = parse_ok("time,b\n0,true\n1,FALSE\n2,True\n3,0\n4,1.0\n");
    assert_true(fmi_inputs_value(in, 0, 0, false) == 1);
    assert_true(fmi_inputs_value(in, 0, 1, false) == 0);
    assert_true(fmi_inputs_value(in, 0, 2, false) == 1);
    assert_true(fmi_inputs_value(in, 0, 3, false) == 0);
    assert_true(fmi_inputs_value(in, 0, 4, false) == 1);
    fmi_inputs_free(in);
}

static void test_mapping_errors(void **state)
{
    (void)state;
    expect_error("time,x\n0,1\n", "input.csv:1: column \"x\": no such variable in the model");
    expect_error("time,u,y\n0,1,2\n",
                 "input.csv:1: column \"y\": not an input or tunable parameter (causality output, variability "
                 "continuous)");
    expect_error("time,fixed\n0,1\n",
                 "input.csv:1: column \"fixed\": not an input or tunable parameter (causality parameter, "
                 "variability fixed)");
    expect_error("time,time\n0,1\n",
                 "input.csv:1: column \"time\": not an input or tunable parameter (causality independent, "
                 "variability continuous)");
    expect_error("time,s\n0,1\n", "input.csv:1: column \"s\": String values cannot be read from CSV");
    expect_error("time,arr\n0,1\n", "input.csv:1: column \"arr\": array inputs cannot be read from CSV");
    expect_error("time,u,u\n0,1,1\n", "input.csv:1: column \"u\": appears twice");
    expect_error("time,u,\n0,1,1\n", "input.csv:1: column 3 has no name");
}

static void test_value_errors(void **state)
{
    (void)state;
    expect_error("time,u\n0,1\n1,abc\n", "input.csv:3: column \"u\": not a number: \"abc\"");
    expect_error("time,u\n0,\n", "input.csv:2: column \"u\": not a number: \"\"");
    expect_error("time,u\n0,nan\n", "input.csv:2: column \"u\": not a number: \"nan\"");
    expect_error("time,u\n0,inf\n", "input.csv:2: column \"u\": not a number: \"inf\"");
    expect_error("time,u\n0,0x10\n", "input.csv:2: column \"u\": not a number: \"0x10\"");
    expect_error("time,u\n0,1e999\n", "input.csv:2: column \"u\": not a number: \"1e999\"");
    expect_error("time,u\n0,1.5.2\n", "input.csv:2: column \"u\": not a number: \"1.5.2\"");
    expect_error("time,u\n0,1 2\n", "input.csv:2: column \"u\": not a number: \"1 2\"");
    expect_error("t,u\nzero,1\n", "input.csv:2: column \"t\": not a number: \"zero\"");
    expect_error("time,i8\n0,1.5\n", "input.csv:2: column \"i8\": not an integer: \"1.5\"");
    expect_error("time,i8\n0,1\n1,300\n", "input.csv:3: column \"i8\": out of range for Int8: \"300\"");
    expect_error("time,i8\n0,-129\n", "input.csv:2: column \"i8\": out of range for Int8: \"-129\"");
    expect_error("time,u64\n0,-1\n", "input.csv:2: column \"u64\": out of range for UInt64: \"-1\"");
    expect_error("time,u64\n0,18446744073709551616\n",
                 "input.csv:2: column \"u64\": out of range for UInt64: \"18446744073709551616\"");
    expect_error("time,i64\n0,9223372036854775808\n",
                 "input.csv:2: column \"i64\": out of range for Int64: \"9223372036854775808\"");
    expect_error("time,f\n0,1e39\n", "input.csv:2: column \"f\": out of range for Float32: \"1e39\"");
    expect_error("time,b\n0,2\n", "input.csv:2: column \"b\": not a boolean: \"2\"");
    expect_error("time,b\n0,yes\n", "input.csv:2: column \"b\": not a boolean: \"yes\"");
}

static void test_structure_errors(void **state)
{
    (void)state;
    expect_error("", "input.csv:1: no header row");
    expect_error("\n\n", "input.csv:1: no header row");
    expect_error("time,u\n", "input.csv: no data rows");
    expect_error("time,u\r\n\r\n", "input.csv: no data rows");
    expect_error("time,u\n0,1\n1,2,3\n", "input.csv:3: expected 2 fields, found 3");
    expect_error("time,u,d\n0,1,2\n1,2\n", "input.csv:3: expected 3 fields, found 2");
    expect_error("time,u\n0,1\n\n1,2\n", "input.csv:3: empty line");
    expect_error("time,u\n0,1\n2,1\n1,1\n", "input.csv:4: column \"time\": time decreases from 2 to 1");
    expect_error("time,u\n0,1\n0.5,1\n0.25,1\n", "input.csv:4: column \"time\": time decreases from 0.5 to 0.25");
    expect_error("time,u\n0,1\n1,1\n1,2\n1,3\n", "input.csv:5: column \"time\": time 1 appears more than twice");
    expect_error("time,u\n0,\"1\n", "input.csv:2: unterminated quoted field");
    expect_error("time,u\n0,1\"2\n", "input.csv:2: quote inside an unquoted field");
    expect_error("time,u\n0,\"1\"2\n", "input.csv:2: unexpected text after a closing quote");
    /* a quoted field spanning lines moves the line count on */
    expect_error("\"t\nx\",u\n0,1\n1,x\n", "input.csv:4: column \"u\": not a number: \"x\"");
    expect_error("\"time\",\"u\"\n0,\"1\n\"\n1,x\n", "input.csv:2: column \"u\": not a number: \"1\n\"");
    expect_error("time,\"u\n\"\n0,1\n1,x\n", "input.csv:1: column \"u\n\": no such variable in the model");
}

static void test_load_csv(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_inputs_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/bad.csv", dir);

    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("time,u\n0,1\n1,x\n", f);
    fclose(f);
    fmi_inputs *in = NULL;
    assert_int_equal(fmi_inputs_load_csv(&in, path, model), FMUGW_EINVALID);
    assert_null(in);
    /* errors name the file, not the server's directory */
    assert_string_equal(fmugw_error_last(), "bad.csv:3: column \"u\": not a number: \"x\"");

    f = fopen(path, "w");
    assert_non_null(f);
    fputs("time,u\n0,1\n1,3\n", f);
    fclose(f);
    assert_int_equal(fmi_inputs_load_csv(&in, path, model), 0);
    assert_true(fmi_inputs_value(in, 0, 0.5, false) == 2);
    fmi_inputs_free(in);

    /* a NUL byte is not silently the end of the file */
    f = fopen(path, "w");
    assert_non_null(f);
    fwrite("time,u\n0,1\n\0001,3\n", 1, 16, f);
    fclose(f);
    assert_int_equal(fmi_inputs_load_csv(&in, path, model), FMUGW_EINVALID);
    assert_string_equal(fmugw_error_last(), "bad.csv: contains a NUL byte");

    unlink(path);
    snprintf(path, sizeof path, "%s/missing.csv", dir);
    assert_int_equal(fmi_inputs_load_csv(&in, path, model), FMUGW_ENOTFOUND);
    assert_null(in);
    rmdir(dir);
    fmi_inputs_free(NULL);
}

/* Many rows: binary search gives the same answer as the definition. */
static void test_many_rows(void **state)
{
    (void)state;
    size_t n = 20000;
    size_t cap = 64 + n * 48;
    char *csv = malloc(cap), *p = csv;
    assert_non_null(csv);
    p += sprintf(p, "time,u,d\n");
    for (size_t r = 0; r < n; r++)
        p += sprintf(p, "%zu,%zu,%zu\n", r, (r * 7919) % 1000, r / 3);
    fmi_inputs *in = parse_ok(csv);
    free(csv);
    assert_int_equal(fmi_inputs_n_rows(in), n);
    for (size_t k = 0; k < 5000; k++) {
        size_t r = (k * 104729) % (n - 1);
        double t = r + 0.25;
        double a = (double)((r * 7919) % 1000), b = (double)(((r + 1) * 7919) % 1000);
        assert_true(fabs(fmi_inputs_value(in, 0, t, false) - (a + 0.25 * (b - a))) < 1e-9);
        assert_true(fmi_inputs_value(in, 1, t, false) == (double)(r / 3));
        /* d changes every third row */
        double next = (double)((r / 3 + 1) * 3);
        if (next < n)
            assert_true(fmi_inputs_next_event(in, t) == next);
    }
    fmi_inputs_free(in);
}

/* --- applying to a real FMU (Feedthrough, FMI 3) ----------------------- */

static fmi_fmu *open_feedthrough(const char *version)
{
    char path[1024];
    fmi_fmu *fmu = NULL;
    snprintf(path, sizeof path, "%s/%s/Feedthrough.fmu", FMUGW_FMU_DIR, version);
    if (access(path, R_OK) != 0)
        fail_msg("sample FMU %s is missing (build the fmus first)", path);
    if (fmi_fmu_open(&fmu, path) != 0)
        fail_msg("cannot open %s: %s", path, fmugw_error_last());
    return fmu;
}

static uint32_t vr_of(const fmi_model *m, const char *name)
{
    int i = fmi_model_find(m, name);
    if (i < 0)
        fail_msg("variable %s not found", name);
    return m->variables[i].vr;
}

static void test_apply_fmi3(void **state)
{
    (void)state;
    fmi_fmu *fmu = open_feedthrough("3.0");
    const fmi_model *m = fmu->model;
    fmi_binary *bin = NULL;
    fmi_instance *inst = NULL;
    fmi_inputs *in = NULL;
    fmi_instance_options opts = { 0 };
    assert_int_equal(fmi_binary_open(&bin, m, fmu->dir, FMI_CS), 0);
    assert_int_equal(fmi_instance_new(&inst, bin, m, &opts), 0);

    const char *csv = "time,Float64_continuous_input,Float64_discrete_input,Int8_input,UInt64_input,"
                      "Boolean_input,Enumeration_input,Float32_continuous_input,Float64_tunable_parameter,"
                      "Int32_input\n"
                      "0,0,1,-5,7,true,1,0,0.5,100\n"
                      "1,10,2,6,8,false,3,4,0.75,-100\n";
    assert_int_equal(fmi_inputs_parse_csv(&in, csv, m), 0);

    assert_int_equal(fmi_instance_enter_initialization(inst, 0, 0, 1), 0);
    assert_int_equal(fmi_inputs_apply(in, inst, 0.25, false, false), 0);

    uint32_t vr;
    double f64;
    float f32;
    int64_t i64;
    uint64_t u64;
    bool b;
    vr = vr_of(m, "Float64_continuous_input");
    assert_int_equal(fmi_instance_get_float64(inst, &vr, 1, &f64), 0);
    assert_true(f64 == 2.5);
    vr = vr_of(m, "Float64_discrete_input");
    assert_int_equal(fmi_instance_get_float64(inst, &vr, 1, &f64), 0);
    assert_true(f64 == 1);
    vr = vr_of(m, "Float64_tunable_parameter");
    assert_int_equal(fmi_instance_get_float64(inst, &vr, 1, &f64), 0);
    assert_true(f64 == 0.5);
    vr = vr_of(m, "Int8_input");
    assert_int_equal(fmi_instance_get_int(inst, FMI_INT8, &vr, 1, &i64), 0);
    assert_int_equal(i64, -5);
    vr = vr_of(m, "Int32_input");
    assert_int_equal(fmi_instance_get_int(inst, FMI_INT32, &vr, 1, &i64), 0);
    assert_int_equal(i64, 100);
    vr = vr_of(m, "UInt64_input");
    assert_int_equal(fmi_instance_get_uint64(inst, &vr, 1, &u64), 0);
    assert_int_equal(u64, 7);
    vr = vr_of(m, "Boolean_input");
    assert_int_equal(fmi_instance_get_boolean(inst, &vr, 1, &b), 0);
    assert_true(b);
    vr = vr_of(m, "Enumeration_input");
    assert_int_equal(fmi_instance_get_int(inst, FMI_ENUMERATION, &vr, 1, &i64), 0);
    assert_int_equal(i64, 1);
    vr = vr_of(m, "Float32_continuous_input");
    assert_int_equal(fmi_instance_get_float32(inst, &vr, 1, &f32), 0);
    assert_true(f32 == 1.0f);

    /* continuous_only: the interpolated inputs move, the held ones stay */
    assert_int_equal(fmi_inputs_apply(in, inst, 1, false, true), 0);
    vr = vr_of(m, "Float64_continuous_input");
    assert_int_equal(fmi_instance_get_float64(inst, &vr, 1, &f64), 0);
    assert_true(f64 == 10);
    vr = vr_of(m, "Float32_continuous_input");
    assert_int_equal(fmi_instance_get_float32(inst, &vr, 1, &f32), 0);
    assert_true(f32 == 4.0f);
    vr = vr_of(m, "Int8_input");
    assert_int_equal(fmi_instance_get_int(inst, FMI_INT8, &vr, 1, &i64), 0);
    assert_int_equal(i64, -5);
    vr = vr_of(m, "Float64_discrete_input");
    assert_int_equal(fmi_instance_get_float64(inst, &vr, 1, &f64), 0);
    assert_true(f64 == 1);

    /* then everything */
    assert_int_equal(fmi_inputs_apply(in, inst, 1, true, false), 0);
    vr = vr_of(m, "Int8_input");
    assert_int_equal(fmi_instance_get_int(inst, FMI_INT8, &vr, 1, &i64), 0);
    assert_int_equal(i64, 6);
    vr = vr_of(m, "Enumeration_input");
    assert_int_equal(fmi_instance_get_int(inst, FMI_ENUMERATION, &vr, 1, &i64), 0);
    assert_int_equal(i64, 3);
    vr = vr_of(m, "Boolean_input");
    assert_int_equal(fmi_instance_get_boolean(inst, &vr, 1, &b), 0);
    assert_false(b);

    /* and the FMU passes them through to its outputs */
    assert_int_equal(fmi_instance_exit_initialization(inst), 0);
    vr = vr_of(m, "Float64_continuous_output");
    assert_int_equal(fmi_instance_get_float64(inst, &vr, 1, &f64), 0);
    assert_true(f64 == 10);
    vr = vr_of(m, "Int8_output");
    assert_int_equal(fmi_instance_get_int(inst, FMI_INT8, &vr, 1, &i64), 0);
    assert_int_equal(i64, 6);

    fmi_inputs_free(in);
    fmi_instance_free(inst);
    fmi_binary_close(bin);
    fmi_fmu_close(fmu);
}

static void test_apply_fmi2(void **state)
{
    (void)state;
    fmi_fmu *fmu = open_feedthrough("2.0");
    const fmi_model *m = fmu->model;
    fmi_binary *bin = NULL;
    fmi_instance *inst = NULL;
    fmi_inputs *in = NULL;
    fmi_instance_options opts = { 0 };
    assert_int_equal(fmi_binary_open(&bin, m, fmu->dir, FMI_CS), 0);
    assert_int_equal(fmi_instance_new(&inst, bin, m, &opts), 0);
    assert_int_equal(fmi_inputs_parse_csv(&in,
                                          "time,Float64_continuous_input,Int32_input,Boolean_input\n"
                                          "0,1,2,0\n"
                                          "2,3,4,1\n",
                                          m),
                     0);
    assert_int_equal(fmi_instance_enter_initialization(inst, 0, 0, 1), 0);
    assert_int_equal(fmi_inputs_apply(in, inst, 1, false, false), 0);
    uint32_t vr = vr_of(m, "Float64_continuous_input");
    double f64;
    int64_t i64;
    bool b;
    assert_int_equal(fmi_instance_get_float64(inst, &vr, 1, &f64), 0);
    assert_true(f64 == 2);
    vr = vr_of(m, "Int32_input");
    assert_int_equal(fmi_instance_get_int(inst, FMI_INT32, &vr, 1, &i64), 0);
    assert_int_equal(i64, 2);
    vr = vr_of(m, "Boolean_input");
    assert_int_equal(fmi_instance_get_boolean(inst, &vr, 1, &b), 0);
    assert_false(b);
    fmi_inputs_free(in);
    fmi_instance_free(inst);
    fmi_binary_close(bin);
    fmi_fmu_close(fmu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interpolation_and_hold),
        cmocka_unit_test(test_repeated_time_stamp),
        cmocka_unit_test(test_next_event),
        cmocka_unit_test(test_csv_dialect),
        cmocka_unit_test(test_mapping_errors),
        cmocka_unit_test(test_value_errors),
        cmocka_unit_test(test_structure_errors),
        cmocka_unit_test(test_load_csv),
        cmocka_unit_test(test_many_rows),
        cmocka_unit_test(test_apply_fmi3),
        cmocka_unit_test(test_apply_fmi2),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
