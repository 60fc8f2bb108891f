/*
 * test_results.c - results.c: fmi_format_double() (exact text for special
 * values, round trip and shortness on a million random doubles), and the
 * recorder's CSV and JSON layout on the Feedthrough and BouncingBall
 * sample FMUs, header names of arrays, buffer flushing and write errors;
 * the writer thread: same bytes as the synchronous path
 * (FMUGW_RECORDER_SYNC=1), freeing without finish, write errors.
 */
#include "fmi/fmu.h"
#include "fmi/instance.h"
#include "fmi/model.h"
#include "fmi/results.h"
#include "util/error.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <dirent.h>

#ifndef FMUGW_FMU_DIR
#define FMUGW_FMU_DIR "fmus"
#endif

/* --- fmi_format_double ------------------------------------------------- */

static void expect_format(double v, const char *text)
{
    char buf[64];
    memset(buf, 'x', sizeof buf);
    size_t n = fmi_format_double(buf, v);
    assert_string_equal(buf, text);
    assert_int_equal(n, strlen(text));
}

static void test_format_special(void **state)
{
    (void)state;
    expect_format(0.0, "0");
    expect_format(-0.0, "-0");
    expect_format(1.0, "1");
    expect_format(-1.0, "-1");
    expect_format(123456.0, "123456");
    expect_format(-42.5, "-42.5");
    expect_format(0.1, "0.1");
    expect_format(0.3, "0.3");
    expect_format(0.1 + 0.2, "0.30000000000000004");
    expect_format(1.0 / 3.0, "0.3333333333333333");
    expect_format(2.0 / 3.0, "0.6666666666666666");
    expect_format(100.0, "100");
    expect_format(1e15, "1000000000000000");
    expect_format(1e16, "10000000000000000");
    expect_format(1e17, "1e+17");
    expect_format(1.5e17, "1.5e+17");
    expect_format(1e22, "1e+22");
    expect_format(1e23, "1e+23"); /* %.17g says 9.9999999999999992e+22 */
    expect_format(9007199254740993.0, "9007199254740992");
    expect_format(0.0001, "0.0001");
    expect_format(0.00012345, "0.00012345");
    expect_format(1e-5, "1e-05");
    expect_format(1.5e-5, "1.5e-05");
    expect_format(2e-7, "2e-07");
    expect_format(DBL_MAX, "1.7976931348623157e+308");
    expect_format(-DBL_MAX, "-1.7976931348623157e+308");
    expect_format(DBL_MIN, "2.2250738585072014e-308");
    expect_format(2.2250738585072009e-308, "2.225073858507201e-308"); /* largest denormal */
    expect_format(5e-324, "5e-324");
    expect_format(-5e-324, "-5e-324");
    expect_format(1e-320, "1e-320");
    expect_format(5e-310, "5e-310");
    expect_format(1e300, "1e+300");
    expect_format(123.456e100, "1.23456e+102");
    /* exact ties between two shortest candidates round half to even */
    expect_format(2.98023223876953125e-08, "2.9802322387695312e-08");
    expect_format(536870915.81640625, "536870915.8164062");
    expect_format(8589934599.6328125, "8589934599.632812");
    expect_format(NAN, "nan");
    expect_format(-NAN, "nan");
    expect_format(INFINITY, "inf");
    expect_format(-INFINITY, "-inf");
}

static uint64_t rng = 0x2545f4914f6cdd1du;

static uint64_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Counts significant digits of a formatted number. */
static int significant_digits(const char *s)
{
    int n = 0, trailing_zeros = 0;
    bool started = false;
    for (; *s && *s != 'e'; s++) {
        if (*s < '0' || *s > '9')
            continue;
        if (*s != '0')
            started = true;
        if (!started)
            continue;
        n++;
        trailing_zeros = *s == '0' ? trailing_zeros + 1 : 0;
    }
    return n - trailing_zeros;
}

/* The length of the shortest correctly rounded %e text that reads back. */
static int reference_digits(double v)
{
    char buf[64];
    for (int p = 1; p < 17; p++) {
        snprintf(buf, sizeof buf, "%.*e", p - 1, v);
        if (strtod(buf, NULL) == v)
            return p;
    }
    return 17;
}

/* Round trip, never longer than %.17g, and (every `ref_every`-th value)
 * no more significant digits than the shortest correctly rounded form. */
static void check_value(double v, bool compare_reference)
{
    char buf[64], g17[64];
    size_t n = fmi_format_double(buf, v);
    assert_int_equal(n, strlen(buf));
    double back = strtod(buf, NULL);
    if (memcmp(&back, &v, sizeof v) != 0)
        fail_msg("%a formatted as %s reads back as %a", v, buf, back);
    snprintf(g17, sizeof g17, "%.17g", v);
    if (n > strlen(g17))
        fail_msg("%a: %s is longer than %%.17g %s", v, buf, g17);
    if (compare_reference && significant_digits(buf) > reference_digits(v))
        fail_msg("%a: %s is not the shortest", v, buf);
}

static void test_format_random_bits(void **state)
{
    (void)state;
    for (int i = 0; i < 1000000; i++) {
        uint64_t bits = next_random();
        double v;
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v))
            continue;
        check_value(v, i % 20 == 0);
    }
}

/* Never writes past buf + 32, whatever the layout (the digits are copied
 * in fixed-size blocks). */
static void test_format_stays_in_32_bytes(void **state)
{
    (void)state;
    char buf[64];
    for (int i = 0; i < 200000; i++) {
        double v;
        if (i % 3 == 0) {
            uint64_t bits = next_random();
            memcpy(&v, &bits, sizeof v);
        } else {
            /* decimal exponents around every layout switch, both signs */
            int e = (int)(next_random() % 44) - 22;
            v = ((double)(next_random() >> 11) / 9007199254740992.0) * pow(10.0, e);
            if (i % 2)
                v = -v;
            if (i % 5 == 0)
                v = round(v);
        }
        memset(buf, 'x', sizeof buf);
        size_t n = fmi_format_double(buf, v);
        assert_true(n < 32);
        assert_int_equal(buf[n], '\0');
        for (size_t k = 32; k < sizeof buf; k++)
            assert_int_equal(buf[k], 'x');
        if (isfinite(v))
            assert_true(strtod(buf, NULL) == v);
    }
}

static void test_format_typical_ranges(void **state)
{
    (void)state;
    for (int i = 0; i < 300000; i++) {
        double unit = (double)(next_random() >> 11) / 9007199254740992.0;
        check_value((unit - 0.5) * 2000.0, i % 20 == 0);
        check_value(unit * pow(10.0, (double)(int)(next_random() % 60) - 30), i % 20 == 0);
        check_value(i * 0.001, i % 20 == 0);
    }
    /* denormals */
    for (int i = 0; i < 100000; i++) {
        uint64_t bits = next_random() & ((UINT64_C(1) << 52) - 1);
        double v;
        memcpy(&v, &bits, sizeof v);
        check_value(v, i % 10 == 0);
        check_value(-v, false);
    }
    /* every power of two, and its neighbours (the asymmetric bounds) */
    for (int e = -1074; e <= 1023; e++) {
        double v = ldexp(1.0, e);
        check_value(v, true);
        check_value(nextafter(v, 0), true);
        check_value(nextafter(v, INFINITY), true);
    }
    /* integers print as integers */
    for (int i = 0; i < 100000; i++) {
        int64_t k = (int64_t)(next_random() >> 11) - (INT64_C(1) << 52);
        char buf[64], want[32];
        fmi_format_double(buf, (double)k);
        snprintf(want, sizeof want, "%" PRId64, k);
        assert_string_equal(buf, want);
    }
    /* powers of ten */
    for (int e = -300; e <= 300; e++) {
        char want[16], buf[64];
        double v = strtod((snprintf(want, sizeof want, "1e%d", e), want), NULL);
        fmi_format_double(buf, v);
        if (e >= -4 && e < 17)
            assert_true(strtod(buf, NULL) == v && significant_digits(buf) == 1);
        else
            assert_string_equal(buf, (snprintf(want, sizeof want, "1e%c%02d", e < 0 ? '-' : '+', abs(e)), want));
    }
}

/* --- recorder on sample FMUs -------------------------------------------- */

static fmi_fmu *open_sample(const char *version, const char *name)
{
    char path[1024];
    fmi_fmu *fmu = NULL;
    snprintf(path, sizeof path, "%s/%s/%s.fmu", FMUGW_FMU_DIR, version, name);
    if (access(path, R_OK) != 0)
        fail_msg("sample FMU %s is missing (build the fmus first)", path);
    if (fmi_fmu_open(&fmu, path) != 0)
        fail_msg("cannot open %s: %s", path, fmugw_error_last());
    return fmu;
}

static int var_of(const fmi_model *m, const char *name)
{
    int i = fmi_model_find(m, name);
    if (i < 0)
        fail_msg("variable %s not found", name);
    return i;
}

static uint32_t vr_of(const fmi_model *m, const char *name)
{
    return m->variables[var_of(m, name)].vr;
}

typedef struct {
    fmi_fmu *fmu;
    fmi_binary *bin;
    fmi_instance *inst;
} sample;

static void sample_open(sample *s, const char *version, const char *name)
{
    fmi_instance_options opts = { 0 };
    s->fmu = open_sample(version, name);
    opts.resource_dir = s->fmu->resource_dir;
    assert_int_equal(fmi_binary_open(&s->bin, s->fmu->model, s->fmu->dir, FMI_CS), 0);
    assert_int_equal(fmi_instance_new(&s->inst, s->bin, s->fmu->model, &opts), 0);
}

static void sample_close(sample *s)
{
    fmi_instance_free(s->inst);
    fmi_binary_close(s->bin);
    fmi_fmu_close(s->fmu);
}

static const char *const feedthrough_recorded[] = {
    "Float64_continuous_output", "Int8_output",        "UInt64_output",          "Boolean_output",
    "Float32_continuous_output", "String_output",      "Binary_output",          "Enumeration_output",
    "Float64_array_output",      "Float64_continuous_input",
};
#define N_RECORDED (sizeof feedthrough_recorded / sizeof feedthrough_recorded[0])

/* Records two rows of Feedthrough (FMI 3) in `format`; returns the text. */
static char *record_feedthrough(fmi_result_format format)
{
    sample s;
    sample_open(&s, "3.0", "Feedthrough");
    const fmi_model *m = s.fmu->model;
    int vars[N_RECORDED];
    for (size_t i = 0; i < N_RECORDED; i++)
        vars[i] = var_of(m, feedthrough_recorded[i]);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    fmi_recorder *rec = NULL;
    assert_int_equal(fmi_recorder_new(&rec, m, vars, N_RECORDED, format, f), 0);

    assert_int_equal(fmi_instance_enter_initialization(s.inst, 0, 0, 1), 0);
    uint32_t vr = vr_of(m, "Float64_continuous_input");
    double f64 = 0.1;
    assert_int_equal(fmi_instance_set_float64(s.inst, &vr, 1, &f64), 0);
    vr = vr_of(m, "Int8_input");
    int64_t i64 = -5;
    assert_int_equal(fmi_instance_set_int(s.inst, FMI_INT8, &vr, 1, &i64), 0);
    vr = vr_of(m, "UInt64_input");
    uint64_t u64 = UINT64_MAX;
    assert_int_equal(fmi_instance_set_uint64(s.inst, &vr, 1, &u64), 0);
    vr = vr_of(m, "Boolean_input");
    bool b = true;
    assert_int_equal(fmi_instance_set_boolean(s.inst, &vr, 1, &b), 0);
    vr = vr_of(m, "Float32_continuous_input");
    float f32 = 0.1f;
    assert_int_equal(fmi_instance_set_float32(s.inst, &vr, 1, &f32), 0);
    vr = vr_of(m, "String_input");
    const char *str = "say \"hi\"\n";
    assert_int_equal(fmi_instance_set_string(s.inst, &vr, 1, &str), 0);
    vr = vr_of(m, "Binary_input");
    static const uint8_t bytes[] = { 0x00, 0xff, 0x10 };
    const uint8_t *bp = bytes;
    size_t bsize = sizeof bytes;
    assert_int_equal(fmi_instance_set_binary(s.inst, &vr, 1, &bsize, &bp), 0);
    vr = vr_of(m, "Enumeration_input");
    i64 = 2;
    assert_int_equal(fmi_instance_set_int(s.inst, FMI_ENUMERATION, &vr, 1, &i64), 0);
    vr = vr_of(m, "Float64_array_input");
    double arr[3] = { 1.5, 0, 1e300 };
    assert_int_equal(fmi_instance_set_float64(s.inst, &vr, 1, arr), 0);
    assert_int_equal(fmi_instance_exit_initialization(s.inst), 0);

    assert_int_equal(fmi_recorder_sample(rec, s.inst, 0), 0);
    assert_int_equal(fmi_recorder_rows(rec), 1);

    vr = vr_of(m, "Float64_continuous_input");
    f64 = NAN;
    assert_int_equal(fmi_instance_set_float64(s.inst, &vr, 1, &f64), 0);
    vr = vr_of(m, "Boolean_input");
    b = false;
    assert_int_equal(fmi_instance_set_boolean(s.inst, &vr, 1, &b), 0);
    fmi_step_result res;
    assert_int_equal(fmi_instance_do_step(s.inst, 0, 0.1, &res), 0);
    assert_int_equal(fmi_recorder_sample(rec, s.inst, 0.1), 0);
    assert_int_equal(fmi_recorder_rows(rec), 2);

    assert_int_equal(fmi_recorder_finish(rec), 0);
    assert_int_equal(fmi_recorder_finish(rec), 0); /* idempotent */
    assert_int_not_equal(fmi_recorder_sample(rec, s.inst, 0.2), 0);
    fmi_recorder_free(rec);
    fclose(f);
    sample_close(&s);
    return text;
}

static void test_csv_layout(void **state)
{
    (void)state;
    char *text = record_feedthrough(FMI_RESULT_CSV);
    assert_string_equal(text,
                        "\"time\",\"Float64_continuous_output\",\"Int8_output\",\"UInt64_output\",\"Boolean_output\","
                        "\"Float32_continuous_output\",\"String_output\",\"Binary_output\",\"Enumeration_output\","
                        "\"Float64_array_output[1]\",\"Float64_array_output[2]\",\"Float64_array_output[3]\","
                        "\"Float64_continuous_input\"\n"
                        "0,0.1,-5,18446744073709551615,1,0.1,\"say \"\"hi\"\"\n\",\"00ff10\",2,1.5,0,1e+300,0.1\n"
                        "0.1,nan,-5,18446744073709551615,0,0.1,\"say \"\"hi\"\"\n\",\"00ff10\",2,1.5,0,1e+300,nan\n");
    free(text);
}

static void test_json_layout(void **state)
{
    (void)state;
    char *text = record_feedthrough(FMI_RESULT_JSON);
    assert_string_equal(text,
                        "{\"columns\":[\"time\",\"Float64_continuous_output\",\"Int8_output\",\"UInt64_output\","
                        "\"Boolean_output\",\"Float32_continuous_output\",\"String_output\",\"Binary_output\","
                        "\"Enumeration_output\",\"Float64_array_output[1]\",\"Float64_array_output[2]\","
                        "\"Float64_array_output[3]\",\"Float64_continuous_input\"],\"rows\":[\n"
                        "[0,0.1,-5,18446744073709551615,1,0.1,\"say \\\"hi\\\"\\n\",\"00ff10\",2,1.5,0,1e+300,0.1],\n"
                        "[0.1,null,-5,18446744073709551615,0,0.1,\"say \\\"hi\\\"\\n\",\"00ff10\",2,1.5,0,1e+300,null]\n"
                        "]}\n");
    free(text);
}

/* BouncingBall (FMI 2): every recorded number reads back as exactly the
 * value the FMU returned. */
static void test_csv_round_trip_fmi2(void **state)
{
    (void)state;
    sample s;
    sample_open(&s, "2.0", "BouncingBall");
    const fmi_model *m = s.fmu->model;
    int vars[2] = { var_of(m, "h"), var_of(m, "v") };
    uint32_t vrs[2] = { m->variables[vars[0]].vr, m->variables[vars[1]].vr };
    enum { STEPS = 200 };
    double want[STEPS + 1][3];

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    fmi_recorder *rec = NULL;
    assert_int_equal(fmi_recorder_new(&rec, m, vars, 2, FMI_RESULT_CSV, f), 0);
    assert_int_equal(fmi_instance_enter_initialization(s.inst, 0, 0, 3), 0);
    assert_int_equal(fmi_instance_exit_initialization(s.inst), 0);
    fmi_step_result res;
    for (int k = 0; k <= STEPS; k++) {
        double t = k * 0.01;
        if (k > 0)
            assert_int_equal(fmi_instance_do_step(s.inst, (k - 1) * 0.01, 0.01, &res), 0);
        assert_int_equal(fmi_recorder_sample(rec, s.inst, t), 0);
        want[k][0] = t;
        assert_int_equal(fmi_instance_get_float64(s.inst, vrs, 2, &want[k][1]), 0);
    }
    assert_int_equal(fmi_recorder_finish(rec), 0);
    fclose(f);

    const char *header = "\"time\",\"h\",\"v\"\n";
    assert_memory_equal(text, header, strlen(header));
    const char *p = text + strlen(header);
    for (int k = 0; k <= STEPS; k++) {
        for (int c = 0; c < 3; c++) {
            char *end;
            double v = strtod(p, &end);
            assert_true(end > p);
            assert_memory_equal(&v, &want[k][c], sizeof v);
            assert_int_equal(*end, c < 2 ? ',' : '\n');
            p = end + 1;
        }
    }
    assert_int_equal(*p, '\0');
    /* the ball moved */
    assert_true(want[STEPS][1] != want[0][1]);
    fmi_recorder_free(rec);
    free(text);
    sample_close(&s);
}

/* More rows than fit in the private buffer: nothing lost or reordered. */
static void test_many_rows(void **state)
{
    (void)state;
    sample s;
    sample_open(&s, "3.0", "Feedthrough");
    const fmi_model *m = s.fmu->model;
    int vars[2] = { var_of(m, "Float64_continuous_output"), var_of(m, "Int32_output") };
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    fmi_recorder *rec = NULL;
    assert_int_equal(fmi_recorder_new(&rec, m, vars, 2, FMI_RESULT_CSV, f), 0);
    assert_int_equal(fmi_instance_enter_initialization(s.inst, 0, 0, 1), 0);
    uint32_t vr = vr_of(m, "Float64_continuous_input");
    double x = 1.0 / 3.0;
    assert_int_equal(fmi_instance_set_float64(s.inst, &vr, 1, &x), 0);
    assert_int_equal(fmi_instance_exit_initialization(s.inst), 0);
    enum { ROWS = 150000 };
    for (int k = 0; k < ROWS; k++)
        assert_int_equal(fmi_recorder_sample(rec, s.inst, k * 1e-3), 0);
    assert_int_equal(fmi_recorder_rows(rec), ROWS);
    assert_int_equal(fmi_recorder_finish(rec), 0);
    fclose(f);
    assert_true(len > (size_t)4 << 20); /* several times the buffer */

    const char *p = strchr(text, '\n') + 1;
    for (int k = 0; k < ROWS; k++) {
        char t[64], line[128];
        fmi_format_double(t, k * 1e-3);
        int n = snprintf(line, sizeof line, "%s,0.3333333333333333,0\n", t);
        assert_memory_equal(p, line, (size_t)n);
        p += n;
    }
    assert_int_equal(*p, '\0');
    fmi_recorder_free(rec);
    free(text);
    sample_close(&s);
}

static void test_write_error(void **state)
{
    (void)state;
    FILE *f = fopen("/dev/full", "w");
    if (!f)
        skip();
    sample s;
    sample_open(&s, "3.0", "Feedthrough");
    const fmi_model *m = s.fmu->model;
    int var = var_of(m, "Float64_continuous_output");
    fmi_recorder *rec = NULL;
    assert_int_equal(fmi_recorder_new(&rec, m, &var, 1, FMI_RESULT_JSON, f), 0);
    assert_int_equal(fmi_instance_enter_initialization(s.inst, 0, 0, 1), 0);
    assert_int_equal(fmi_instance_exit_initialization(s.inst), 0);
    assert_int_equal(fmi_recorder_sample(rec, s.inst, 0), 0);
    assert_int_equal(fmi_recorder_finish(rec), FMUGW_EIO);
    assert_non_null(strstr(fmugw_error_last(), "write"));
    fmi_recorder_free(rec);
    fclose(f);
    sample_close(&s);
}

/* --- writer thread ------------------------------------------------------- */

/* Threads of this process. */
static int thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* A joined thread's /proc entry can outlive pthread_join() by a moment on a
 * loaded machine: wait (up to 2 s) for the count to settle. */
static int thread_count_settled(int expected)
{
    int n = thread_count();
    for (int i = 0; i < 200 && n != expected; i++) {
        usleep(10000);
        n = thread_count();
    }
    return n;
}

static const char *const feedthrough_numeric[] = {
    "Float64_continuous_output", "Int8_output",          "UInt64_output",        "Boolean_output",
    "Float32_continuous_output", "Enumeration_output",   "Float64_array_output", "Int32_output",
    "Float64_continuous_input",
};
#define N_NUMERIC (sizeof feedthrough_numeric / sizeof feedthrough_numeric[0])

/* Records `rows` rows of Feedthrough's numeric columns in `format`, the
 * inputs changing every row (and non-finite now and then), with the writer
 * thread or (sync) without. Returns the text. */
static char *record_numeric(fmi_result_format format, bool sync, int rows, size_t *len_out)
{
    if (sync)
        setenv("FMUGW_RECORDER_SYNC", "1", 1);
    else
        unsetenv("FMUGW_RECORDER_SYNC");
    sample s;
    sample_open(&s, "3.0", "Feedthrough");
    const fmi_model *m = s.fmu->model;
    int vars[N_NUMERIC];
    for (size_t i = 0; i < N_NUMERIC; i++)
        vars[i] = var_of(m, feedthrough_numeric[i]);
    uint32_t vr_f64 = vr_of(m, "Float64_continuous_input"), vr_i8 = vr_of(m, "Int8_input"),
             vr_u64 = vr_of(m, "UInt64_input"), vr_b = vr_of(m, "Boolean_input"),
             vr_f32 = vr_of(m, "Float32_continuous_input"), vr_i32 = vr_of(m, "Int32_input"),
             vr_arr = vr_of(m, "Float64_array_input");

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    int before = thread_count_settled(1); /* only the main thread */
    fmi_recorder *rec = NULL;
    assert_int_equal(fmi_recorder_new(&rec, m, vars, N_NUMERIC, format, f), 0);
    /* the writer thread runs unless the synchronous path is forced */
    assert_int_equal(thread_count(), before + (sync ? 0 : 1));
    assert_int_equal(fmi_instance_enter_initialization(s.inst, 0, 0, 1), 0);
    assert_int_equal(fmi_instance_exit_initialization(s.inst), 0);
    fmi_step_result res;
    for (int k = 0; k < rows; k++) {
        double x = k % 97 == 5 ? NAN : k % 89 == 7 ? -INFINITY : sin(k) * pow(10.0, k % 30 - 15);
        int64_t i8 = k % 256 - 128, i32 = (int64_t)k * 40503 - 1000000000;
        uint64_t u64 = (uint64_t)k * 0x9e3779b97f4a7c15u;
        bool b = k % 3 == 0;
        float f32 = (float)k / 7.0f;
        double arr[3] = { (double)k, -x, 1.0 / (k + 1) };
        assert_int_equal(fmi_instance_set_float64(s.inst, &vr_f64, 1, &x), 0);
        assert_int_equal(fmi_instance_set_int(s.inst, FMI_INT8, &vr_i8, 1, &i8), 0);
        assert_int_equal(fmi_instance_set_int(s.inst, FMI_INT32, &vr_i32, 1, &i32), 0);
        assert_int_equal(fmi_instance_set_uint64(s.inst, &vr_u64, 1, &u64), 0);
        assert_int_equal(fmi_instance_set_boolean(s.inst, &vr_b, 1, &b), 0);
        assert_int_equal(fmi_instance_set_float32(s.inst, &vr_f32, 1, &f32), 0);
        assert_int_equal(fmi_instance_set_float64(s.inst, &vr_arr, 1, arr), 0);
        assert_int_equal(fmi_instance_do_step(s.inst, k * 1e-3, 1e-3, &res), 0);
        assert_int_equal(fmi_recorder_sample(rec, s.inst, (k + 1) * 1e-3), 0);
    }
    assert_int_equal(fmi_recorder_rows(rec), (size_t)rows);
    assert_int_equal(fmi_recorder_finish(rec), 0);
    assert_int_equal(thread_count_settled(before), before); /* joined */
    fmi_recorder_free(rec);
    fclose(f);
    sample_close(&s);
    unsetenv("FMUGW_RECORDER_SYNC");
    *len_out = len;
    return text;
}

/* The writer thread writes exactly the bytes of the synchronous path, over
 * many chunks and for a partial last chunk, in both formats. */
static void test_threaded_same_bytes(void **state)
{
    (void)state;
    static const int rows[] = { 0, 1, 7, 20000 };
    for (int fmt = 0; fmt < 2; fmt++) {
        for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
            size_t len_sync, len_thread;
            char *a = record_numeric((fmi_result_format)fmt, true, rows[r], &len_sync);
            char *b = record_numeric((fmi_result_format)fmt, false, rows[r], &len_thread);
            assert_int_equal(len_sync, len_thread);
            assert_memory_equal(a, b, len_sync);
            if (rows[r] == 20000) {
                assert_true(len_sync > (size_t)2 << 20); /* several buffers and many chunks */
                assert_non_null(strstr(a, fmt ? ",null," : ",nan,"));
                assert_non_null(strstr(a, fmt ? ",null" : ",-inf,"));
            }
            free(a);
            free(b);
        }
    }
}

/* Freeing without finish stops the thread and frees everything (leaks and
 * races show under the sanitizers). */
static void test_threaded_free_without_finish(void **state)
{
    (void)state;
    unsetenv("FMUGW_RECORDER_SYNC");
    sample s;
    sample_open(&s, "2.0", "BouncingBall");
    const fmi_model *m = s.fmu->model;
    int vars[2] = { var_of(m, "h"), var_of(m, "v") };
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    int before = thread_count_settled(1); /* only the main thread */
    fmi_recorder *rec = NULL;
    assert_int_equal(fmi_recorder_new(&rec, m, vars, 2, FMI_RESULT_CSV, f), 0);
    assert_int_equal(thread_count(), before + 1);
    assert_int_equal(fmi_instance_enter_initialization(s.inst, 0, 0, 3), 0);
    assert_int_equal(fmi_instance_exit_initialization(s.inst), 0);
    for (int k = 0; k < 50000; k++)
        assert_int_equal(fmi_recorder_sample(rec, s.inst, k * 1e-5), 0);
    assert_int_equal(fmi_recorder_rows(rec), 50000);
    fmi_recorder_free(rec);
    assert_int_equal(thread_count_settled(before), before);
    fclose(f);
    free(text);
    sample_close(&s);
}

/* A write error in the writer thread reaches the caller: sample() fails
 * with FMUGW_EIO once it hears of it, and finish() reports it. */
static void test_threaded_write_error(void **state)
{
    (void)state;
    unsetenv("FMUGW_RECORDER_SYNC");
    FILE *f = fopen("/dev/full", "w");
    if (!f)
        skip();
    sample s;
    sample_open(&s, "2.0", "BouncingBall");
    const fmi_model *m = s.fmu->model;
    int vars[2] = { var_of(m, "h"), var_of(m, "v") };
    int before = thread_count_settled(1); /* only the main thread */
    fmi_recorder *rec = NULL;
    assert_int_equal(fmi_recorder_new(&rec, m, vars, 2, FMI_RESULT_CSV, f), 0);
    assert_int_equal(thread_count(), before + 1);
    assert_int_equal(fmi_instance_enter_initialization(s.inst, 0, 0, 3), 0);
    assert_int_equal(fmi_instance_exit_initialization(s.inst), 0);
    int rc = 0, k;
    for (k = 0; k < 2000000 && rc == 0; k++)
        rc = fmi_recorder_sample(rec, s.inst, k * 1e-5);
    assert_int_equal(rc, FMUGW_EIO); /* well before 2e6 rows (~40 MB) */
    assert_true(k < 2000000);
    assert_int_equal(fmi_recorder_finish(rec), FMUGW_EIO);
    assert_non_null(strstr(fmugw_error_last(), "write"));
    fmi_recorder_free(rec);
    fclose(f);
    sample_close(&s);
}

/* --- header names from an inline model ----------------------------------- */

static const char arrays_xml[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<fmiModelDescription fmiVersion=\"3.0\" modelName=\"A\" instantiationToken=\"{2}\">\n"
    "  <CoSimulation modelIdentifier=\"A\"/>\n"
    "  <ModelVariables>\n"
    "    <Float64 name=\"time\" valueReference=\"0\" causality=\"independent\" variability=\"continuous\"/>\n"
    "    <UInt64 name=\"n\" valueReference=\"1\" causality=\"structuralParameter\" variability=\"fixed\" "
    "start=\"2\"/>\n"
    "    <Float64 name=\"m\" valueReference=\"2\" causality=\"output\"><Dimension start=\"2\"/>"
    "<Dimension start=\"3\"/></Float64>\n"
    "    <Int32 name=\"w\" valueReference=\"3\" causality=\"output\" variability=\"discrete\">"
    "<Dimension valueReference=\"1\"/></Int32>\n"
    "    <Float64 name=\"q&quot;x\" valueReference=\"4\" causality=\"output\"/>\n"
    "    <Clock name=\"c\" valueReference=\"5\" causality=\"input\" intervalVariability=\"triggered\"/>\n"
    "  </ModelVariables>\n"
    "  <ModelStructure><Output valueReference=\"2\"/><Output valueReference=\"3\"/>"
    "<Output valueReference=\"4\"/></ModelStructure>\n"
    "</fmiModelDescription>\n";

static void test_header_names(void **state)
{
    (void)state;
    fmi_model *m = NULL;
    if (fmi_model_parse_buffer(&m, arrays_xml, strlen(arrays_xml)) != 0)
        fail_msg("cannot parse: %s", fmugw_error_last());
    int vars[3] = { var_of(m, "m"), var_of(m, "w"), var_of(m, "q\"x") };

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    fmi_recorder *rec = NULL;
    assert_int_equal(fmi_recorder_new(&rec, m, vars, 3, FMI_RESULT_CSV, f), 0);
    assert_int_equal(fmi_recorder_finish(rec), 0);
    fmi_recorder_free(rec);
    fclose(f);
    assert_string_equal(text, "\"time\",\"m[1,1]\",\"m[1,2]\",\"m[1,3]\",\"m[2,1]\",\"m[2,2]\",\"m[2,3]\","
                              "\"w[1]\",\"w[2]\",\"q\"\"x\"\n");
    free(text);

    text = NULL;
    f = open_memstream(&text, &len);
    assert_int_equal(fmi_recorder_new(&rec, m, vars + 2, 1, FMI_RESULT_JSON, f), 0);
    assert_int_equal(fmi_recorder_finish(rec), 0);
    fmi_recorder_free(rec);
    fclose(f);
    assert_string_equal(text, "{\"columns\":[\"time\",\"q\\\"x\"],\"rows\":[\n]}\n");
    free(text);

    /* clocks are not values; out-of-range indices are refused */
    f = open_memstream(&text, &len);
    int bad = var_of(m, "c");
    rec = (fmi_recorder *)1;
    assert_int_equal(fmi_recorder_new(&rec, m, &bad, 1, FMI_RESULT_CSV, f), FMUGW_EUNSUPPORTED);
    assert_null(rec);
    bad = (int)m->n_variables;
    assert_int_equal(fmi_recorder_new(&rec, m, &bad, 1, FMI_RESULT_CSV, f), FMUGW_EINVALID);
    bad = -1;
    assert_int_equal(fmi_recorder_new(&rec, m, &bad, 1, FMI_RESULT_CSV, f), FMUGW_EINVALID);
    fclose(f);
    free(text);
    fmi_recorder_free(NULL);
    fmi_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_special),
        cmocka_unit_test(test_format_random_bits),
        cmocka_unit_test(test_format_typical_ranges),
        cmocka_unit_test(test_csv_layout),
        cmocka_unit_test(test_json_layout),
        cmocka_unit_test(test_csv_round_trip_fmi2),
        cmocka_unit_test(test_many_rows),
        cmocka_unit_test(test_write_error),
        cmocka_unit_test(test_header_names),
        cmocka_unit_test(test_format_stays_in_32_bytes),
        cmocka_unit_test(test_threaded_same_bytes),
        cmocka_unit_test(test_threaded_free_without_finish),
        cmocka_unit_test(test_threaded_write_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
