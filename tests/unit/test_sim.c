/*
 * test_sim.c - the simulation engine against known answers: Dahlquist vs
 * exp(-k t) (CVODE accuracy, Euler order), BouncingBall bounce times vs the
 * closed form, Stair event times, Feedthrough of every type with
 * interpolation and hold, VanDerPol CS and ME vs a fine RK4 reference.
 * Runs the real sample FMUs of both FMI versions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fmi/fmu.h"
#include "fmi/inputs.h"
#include "fmi/instance.h"
#include "fmi/results.h"
#include "fmi/sim.h"
#include "fmi/sim_plan.h"
#include "util/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t rows, cols;
    char **names;
    double *v; /* rows x cols */
} table;

static void table_free(table *t)
{
    for (size_t i = 0; i < t->cols; i++)
        free(t->names[i]);
    free(t->names);
    free(t->v);
    memset(t, 0, sizeof *t);
}

static double cell(const table *t, size_t row, const char *col)
{
    for (size_t c = 0; c < t->cols; c++)
        if (!strcmp(t->names[c], col))
            return t->v[row * t->cols + c];
    fail_msg("no column %s", col);
    return NAN;
}

/* Parses the CSV the recorder wrote (numbers only; strings become NAN). */
static void parse_csv(table *t, char *text)
{
    memset(t, 0, sizeof *t);
    char *save, *line = strtok_r(text, "\n", &save);
    assert_non_null(line);
    for (char *p = line; p; p = strchr(p, ',')) {
        if (*p == ',')
            p++;
        t->names = realloc(t->names, (t->cols + 1) * sizeof *t->names);
        const char *end = strchr(p + 1, '"');
        assert_true(*p == '"' && end);
        t->names[t->cols++] = strndup(p + 1, (size_t)(end - p - 1));
        p = (char *)end;
    }
    size_t cap = 0;
    while ((line = strtok_r(NULL, "\n", &save))) {
        if (t->rows * t->cols + t->cols > cap) {
            cap = cap ? 2 * cap : 1024;
            t->v = realloc(t->v, cap * sizeof *t->v);
        }
        char *p = line;
        for (size_t c = 0; c < t->cols; c++) {
            char *end;
            double x = strtod(p, &end);
            if (end == p)
                x = NAN;
            t->v[t->rows * t->cols + c] = x;
            p = strchr(p, ',');
            if (c + 1 < t->cols)
                assert_non_null(p);
            if (p)
                p++;
        }
        t->rows++;
    }
}

static char *fmu_path(int version, const char *model)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/%d.0/%s.fmu", FMUGW_FMU_DIR, version, model);
    return path;
}

/* Simulates and parses the CSV; `outputs` NULL records all outputs. */
static int simulate(table *t, int version, const char *model, fmi_sim_options *so, const char *csv_inputs,
                    const char *const *outputs)
{
    fmi_fmu *fmu;
    fmi_binary *bin = NULL;
    fmi_recorder *rec = NULL;
    fmi_inputs *in = NULL;
    char *buf = NULL;
    size_t len = 0;
    int vars[256];
    size_t n = 0;
    assert_int_equal(fmi_fmu_open(&fmu, fmu_path(version, model)), 0);
    const fmi_model *m = fmu->model;
    if (outputs) {
        for (; outputs[n]; n++) {
            vars[n] = fmi_model_find(m, outputs[n]);
            assert_true(vars[n] >= 0);
        }
    } else {
        for (size_t i = 0; i < m->n_variables; i++)
            if (m->variables[i].causality == FMI_CAUSALITY_OUTPUT)
                vars[n++] = (int)i;
    }
    if (csv_inputs) {
        assert_int_equal(fmi_inputs_parse_csv(&in, csv_inputs, m), 0);
        so->inputs = in;
    }
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(fmi_binary_open(&bin, m, fmu->dir, so->iface), 0);
    assert_int_equal(fmi_recorder_new(&rec, m, vars, n, FMI_RESULT_CSV, f), 0);
    so->resource_dir = fmu->resource_dir;
    int rc = fmi_simulate(m, bin, so, rec, NULL);
    if (rc)
        print_message("simulate: %s\n", fmugw_error_last());
    assert_int_equal(fmi_recorder_finish(rec), 0);
    fmi_recorder_free(rec);
    fclose(f);
    fmi_binary_close(bin);
    fmi_inputs_free(in);
    so->inputs = NULL;
    fmi_fmu_close(fmu);
    if (rc == 0)
        parse_csv(t, buf);
    free(buf);
    return rc;
}

/* --- Dahlquist ------------------------------------------------------- */

static void dahlquist_cvode(void **state)
{
    (void)state;
    for (int ver = 2; ver <= 3; ver++) {
        fmi_sim_options so = FMI_SIM_OPTIONS_INIT;
        so.iface = FMI_ME;
        so.relative_tolerance = 1e-6;
        so.stop_time = 5;
        so.output_interval = 0.05;
        table t;
        assert_int_equal(simulate(&t, ver, "Dahlquist", &so, NULL, NULL), 0);
        assert_int_equal(t.rows, 101);
        double worst = 0;
        for (size_t r = 0; r < t.rows; r++) {
            double time = cell(&t, r, "time");
            worst = fmax(worst, fabs(cell(&t, r, "x") - exp(-time)));
        }
        assert_true(worst < 1e-5);
        assert_true(fabs(cell(&t, t.rows - 1, "time") - 5.0) < 1e-12);
        table_free(&t);
    }
}

static double dahlquist_euler_error(int ver, double h)
{
    fmi_sim_options so = FMI_SIM_OPTIONS_INIT;
    so.iface = FMI_ME;
    so.solver = FMI_SOLVER_EULER;
    so.stop_time = 1;
    so.step_size = h;
    so.output_interval = 0.5;
    table t;
    assert_int_equal(simulate(&t, ver, "Dahlquist", &so, NULL, NULL), 0);
    double err = fabs(cell(&t, t.rows - 1, "x") - exp(-1.0));
    assert_true(fabs(cell(&t, t.rows - 1, "time") - 1.0) < 1e-12);
    table_free(&t);
    return err;
}

static void dahlquist_euler_first_order(void **state)
{
    (void)state;
    for (int ver = 2; ver <= 3; ver++) {
        double e1 = dahlquist_euler_error(ver, 0.02);
        double e2 = dahlquist_euler_error(ver, 0.01);
        double e3 = dahlquist_euler_error(ver, 0.005);
        /* halving the step halves the error */
        assert_true(e1 / e2 > 1.85 && e1 / e2 < 2.15);
        assert_true(e2 / e3 > 1.9 && e2 / e3 < 2.1);
    }
}

static void dahlquist_start_value(void **state)
{
    (void)state;
    fmi_start_value sv[] = { { "k", "2" }, { "x", "3" } };
    fmi_sim_options so = FMI_SIM_OPTIONS_INIT;
    so.iface = FMI_ME;
    so.relative_tolerance = 1e-8;
    so.stop_time = 1;
    so.start_values = sv;
    so.n_start_values = 2;
    table t;
    assert_int_equal(simulate(&t, 3, "Dahlquist", &so, NULL, NULL), 0);
    assert_true(fabs(cell(&t, t.rows - 1, "x") - 3 * exp(-2.0)) < 1e-6);
    table_free(&t);

    fmi_start_value bad[] = { { "nope", "1" } };
    so.start_values = bad;
    so.n_start_values = 1;
    assert_int_equal(simulate(&t, 3, "Dahlquist", &so, NULL, NULL), FMUGW_EINVALID);
    assert_non_null(strstr(fmugw_error_last(), "nope"));
    fmi_start_value badval[] = { { "k", "abc" } };
    so.start_values = badval;
    assert_int_equal(simulate(&t, 2, "Dahlquist", &so, NULL, NULL), FMUGW_EINVALID);
    assert_non_null(strstr(fmugw_error_last(), "abc"));
}

static void bad_settings(void **state)
{
    (void)state;
    table t;
    fmi_sim_options so = FMI_SIM_OPTIONS_INIT;
    so.start_time = 2;
    so.stop_time = 1;
    assert_int_equal(simulate(&t, 2, "Dahlquist", &so, NULL, NULL), FMUGW_EINVALID);
    assert_non_null(strstr(fmugw_error_last(), "stop time"));
    so = (fmi_sim_options)FMI_SIM_OPTIONS_INIT;
    so.step_size = 0.1;
    so.output_interval = 0.15;
    assert_int_equal(simulate(&t, 2, "Dahlquist", &so, NULL, NULL), FMUGW_EINVALID);
    assert_non_null(strstr(fmugw_error_last(), "multiple"));
}

/* What cannot be run is refused before the FMU is instantiated, naming the
 * reason: the step count would overflow (once one row and "success"), an
 * interval below the times' precision, subnormal values, too many rows. */
static void unrunnable_settings(void **state)
{
    (void)state;
    static const struct {
        double start, stop, interval, step, rtol;
        const char *says;
    } cases[] = {
        { NAN, 1, 1e-300, NAN, NAN, "output interval 1e-300 is too small" },
        { NAN, 1e30, NAN, 1e8, NAN, "step size 1e+08 is too small for times around 1e+30" },
        { NAN, 1e17, 1e10, 1e4, NAN, "steps, more than" },
        { NAN, 1e9, 1e-3, NAN, NAN, "result rows, more than" },
        { NAN, 1, NAN, 5e-324, NAN, "too close to zero" },
        { NAN, 1, NAN, NAN, 5e-324, "relative tolerance" },
        { NAN, INFINITY, NAN, NAN, NAN, "stop time must be a finite number" },
        { -1.7e308, 1.7e308, NAN, NAN, NAN, "too large" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        table t;
        fmi_sim_options so = FMI_SIM_OPTIONS_INIT;
        so.start_time = cases[i].start;
        so.stop_time = cases[i].stop;
        so.output_interval = cases[i].interval;
        so.step_size = cases[i].step;
        so.relative_tolerance = cases[i].rtol;
        assert_int_equal(simulate(&t, 2, "Dahlquist", &so, NULL, NULL), FMUGW_EINVALID);
        if (!strstr(fmugw_error_last(), cases[i].says))
            fail_msg("case %zu: \"%s\" does not say \"%s\"", i, fmugw_error_last(), cases[i].says);
    }
    /* the bounds themselves: exactly FMI_SIM_MAX_ROWS rows is allowed */
    fmi_sim_options so = FMI_SIM_OPTIONS_INIT;
    fmi_sim_plan p;
    so.start_time = 0;
    so.stop_time = (double)(FMI_SIM_MAX_ROWS - 1);
    so.output_interval = 1;
    assert_int_equal(fmi_sim_plan_resolve(&p, NULL, &so), 0);
    assert_true(p.rows == FMI_SIM_MAX_ROWS);
    assert_true(p.steps == FMI_SIM_MAX_ROWS - 1);
    so.stop_time = (double)FMI_SIM_MAX_ROWS;
    assert_int_equal(fmi_sim_plan_resolve(&p, NULL, &so), FMUGW_EINVALID);
}

/* --- BouncingBall ---------------------------------------------------- */

static void bouncing_ball(void **state)
{
    (void)state;
    const double g = 9.81, e = 0.7, h0 = 1.0;
    /* closed form: first impact at sqrt(2 h0 / g), then each flight lasts
     * 2 v / g with v shrinking by e at each bounce */
    double expected[8];
    double v = sqrt(2 * g * h0), tb = sqrt(2 * h0 / g);
    for (int i = 0; i < 8; i++) {
        expected[i] = tb;
        v *= e;
        tb += 2 * v / g;
    }
    const char *cols[] = { "h", "v", NULL };
    for (int ver = 2; ver <= 3; ver++) {
        fmi_sim_options so = FMI_SIM_OPTIONS_INIT;
        so.iface = FMI_ME;
        so.relative_tolerance = 1e-8;
        so.stop_time = 3;
        so.output_interval = 0.01;
        table t;
        assert_int_equal(simulate(&t, ver, "BouncingBall", &so, NULL, cols), 0);
        /* an event appears as two rows with the same time */
        int n = 0;
        for (size_t r = 1; r < t.rows && n < 8; r++) {
            if (cell(&t, r, "time") == cell(&t, r - 1, "time")) {
                double tb_found = cell(&t, r, "time");
                assert_true(fabs(tb_found - expected[n]) < 1e-5);
                assert_true(cell(&t, r - 1, "v") < 0);  /* falling before */
                assert_true(cell(&t, r, "v") >= 0);     /* rising (or resting) after */
                n++;
            }
        }
        assert_true(n >= 5);
        for (size_t r = 0; r < t.rows; r++)
            assert_true(cell(&t, r, "h") > -1e-6);
        table_free(&t);

        /* Euler finds the same bounces to within a step or two, and each
         * bounce is one event (no spurious event as the ball leaves h = 0) */
        so.solver = FMI_SOLVER_EULER;
        so.step_size = 1e-4;
        so.output_interval = 0.01;
        assert_int_equal(simulate(&t, ver, "BouncingBall", &so, NULL, cols), 0);
        n = 0;
        for (size_t r = 1; r < t.rows; r++)
            if (cell(&t, r, "time") == cell(&t, r - 1, "time")) {
                if (n < 3)
                    assert_true(fabs(cell(&t, r, "time") - expected[n]) < 2e-3);
                assert_true(cell(&t, r - 1, "v") < 0);
                n++;
            }
        assert_true(n >= 5 && n <= 12);
        table_free(&t);
        so.solver = FMI_SOLVER_CVODE;

        /* Co-Simulation bounces too (the FMU's internal fixed step) */
        so.iface = FMI_CS;
        assert_int_equal(simulate(&t, ver, "BouncingBall", &so, NULL, cols), 0);
        int rises = 0;
        for (size_t r = 1; r < t.rows; r++)
            if (cell(&t, r - 1, "v") < 0 && cell(&t, r, "v") > 0)
                rises++;
        assert_true(rises >= 3);
        for (size_t r = 0; r < t.rows; r++)
            assert_true(cell(&t, r, "h") > -0.01);
        table_free(&t);
    }
}

/* --- Stair ----------------------------------------------------------- */

static void stair(void **state)
{
    (void)state;
    for (int ver = 2; ver <= 3; ver++) {
        for (int iface = FMI_CS; iface <= FMI_ME; iface++) {
            fmi_sim_options so = FMI_SIM_OPTIONS_INIT;
            so.iface = (fmi_interface)iface;
            so.stop_time = 5;
            so.output_interval = 0.2;
            table t;
            assert_int_equal(simulate(&t, ver, "Stair", &so, NULL, NULL), 0);
            int changes = 0;
            for (size_t r = 0; r < t.rows; r++) {
                double time = cell(&t, r, "time"), c = cell(&t, r, "counter");
                bool before = r + 1 < t.rows && cell(&t, r + 1, "time") == time;
                if (r > 0 && c != cell(&t, r - 1, "counter")) {
                    changes++;
                    /* the step lands on an integer time */
                    assert_true(fabs(time - round(time)) < 1e-9);
                }
                /* ME records the value before the event, then after it */
                assert_true(c == (before ? round(time) : 1 + floor(time + 1e-9)));
            }
            assert_int_equal(changes, 5);
            table_free(&t);
        }
    }
}

/* --- Feedthrough ----------------------------------------------------- */

/* Expected input values: a repeated time stamp at t=1 is an event (the
 * first row holds until it); the discrete inputs also step at t=2. */
static double ft_expected(const char *col, double t, bool before)
{
    bool past1 = before ? t > 1 : t >= 1, past2 = before ? t > 2 : t >= 2;
    if (!strcmp(col, "Float64_continuous_output"))
        return !past1 ? 10 * t : 20 + 20 * (t - 1);
    if (!strcmp(col, "Float64_discrete_output"))
        return !past1 ? 1 : !past2 ? 3 : 4;
    if (!strcmp(col, "Int32_output"))
        return !past1 ? 1 : !past2 ? 6 : 7;
    if (!strcmp(col, "Boolean_output"))
        return !past1 ? 0 : 1;
    return !past1 ? 1 : 2; /* Enumeration_output */
}

static void feedthrough(void **state)
{
    (void)state;
    const char *csv2 = "time,Float64_continuous_input,Float64_discrete_input,Int32_input,Boolean_input,Enumeration_input\n"
                       "0,0,1,1,0,1\n"
                       "1,10,1,1,0,1\n"
                       "1,20,3,6,1,2\n"
                       "2,40,4,7,1,2\n";
    const char *cols2[] = { "Float64_continuous_output", "Float64_discrete_output", "Int32_output", "Boolean_output",
                            "Enumeration_output", NULL };
    for (int iface = FMI_CS; iface <= FMI_ME; iface++) {
        fmi_sim_options so = FMI_SIM_OPTIONS_INIT;
        so.iface = (fmi_interface)iface;
        so.stop_time = 2;
        so.output_interval = 0.25;
        table t;
        assert_int_equal(simulate(&t, 2, "Feedthrough", &so, csv2, cols2), 0);
        int pairs = 0;
        for (size_t r = 0; r < t.rows; r++) {
            double time = cell(&t, r, "time");
            /* CS samples after the inputs of each communication point are
             * set; ME records both sides of an event */
            bool before = r + 1 < t.rows && cell(&t, r + 1, "time") == time;
            pairs += before;
            for (int c = 0; cols2[c]; c++)
                if (cell(&t, r, cols2[c]) != ft_expected(cols2[c], time, before))
                    fail_msg("%s at t=%g (%s): %g, expected %g", cols2[c], time, before ? "before" : "after",
                             cell(&t, r, cols2[c]), ft_expected(cols2[c], time, before));
        }
        assert_int_equal(pairs, iface == FMI_ME ? 2 : 0);
        table_free(&t);
    }

    /* FMI 3: every integer width and float32 pass through unchanged */
    const char *csv3 = "time,Float32_continuous_input,Int8_input,UInt8_input,Int16_input,UInt16_input,"
                       "Int32_input,UInt32_input,Int64_input,UInt64_input,Boolean_input\n"
                       "0,0.5,-128,255,-32768,65535,-2147483648,4294967295,-9007199254740992,9007199254740992,1\n";
    const char *cols3[] = { "Float32_continuous_output", "Int8_output", "UInt8_output", "Int16_output",
                            "UInt16_output", "Int32_output", "UInt32_output", "Int64_output", "UInt64_output",
                            "Boolean_output", NULL };
    fmi_sim_options so = FMI_SIM_OPTIONS_INIT;
    so.stop_time = 1;
    so.output_interval = 0.5;
    table t;
    assert_int_equal(simulate(&t, 3, "Feedthrough", &so, csv3, cols3), 0);
    for (size_t r = 0; r < t.rows; r++) {
        assert_true(cell(&t, r, "Float32_continuous_output") == 0.5);
        assert_true(cell(&t, r, "Int8_output") == -128);
        assert_true(cell(&t, r, "UInt8_output") == 255);
        assert_true(cell(&t, r, "Int16_output") == -32768);
        assert_true(cell(&t, r, "UInt16_output") == 65535);
        assert_true(cell(&t, r, "Int32_output") == -2147483648.0);
        assert_true(cell(&t, r, "UInt32_output") == 4294967295.0);
        assert_true(cell(&t, r, "Int64_output") == -9007199254740992.0);
        assert_true(cell(&t, r, "UInt64_output") == 9007199254740992.0);
        assert_true(cell(&t, r, "Boolean_output") == 1);
    }
    table_free(&t);
}

/* --- VanDerPol ------------------------------------------------------- */

static void vdp_rhs(double mu, const double *x, double *dx)
{
    dx[0] = x[1];
    dx[1] = mu * (1 - x[0] * x[0]) * x[1] - x[0];
}

/* Fine-step classical RK4 from (2, 0): the reference solution. */
static void vdp_reference(double t_end, double h, double *out)
{
    double x[2] = { 2, 0 }, k1[2], k2[2], k3[2], k4[2], tmp[2];
    size_t n = (size_t)llround(t_end / h);
    for (size_t i = 0; i < n; i++) {
        vdp_rhs(1, x, k1);
        for (int j = 0; j < 2; j++)
            tmp[j] = x[j] + h / 2 * k1[j];
        vdp_rhs(1, tmp, k2);
        for (int j = 0; j < 2; j++)
            tmp[j] = x[j] + h / 2 * k2[j];
        vdp_rhs(1, tmp, k3);
        for (int j = 0; j < 2; j++)
            tmp[j] = x[j] + h * k3[j];
        vdp_rhs(1, tmp, k4);
        for (int j = 0; j < 2; j++)
            x[j] += h / 6 * (k1[j] + 2 * k2[j] + 2 * k3[j] + k4[j]);
    }
    out[0] = x[0];
    out[1] = x[1];
}

static void vanderpol(void **state)
{
    (void)state;
    double ref[5][2];
    for (int i = 0; i < 5; i++)
        vdp_reference(2.0 * (i + 1), 1e-4, ref[i]);
    for (int ver = 2; ver <= 3; ver++) {
        for (int iface = FMI_CS; iface <= FMI_ME; iface++) {
            fmi_sim_options so = FMI_SIM_OPTIONS_INIT;
            so.iface = (fmi_interface)iface;
            so.relative_tolerance = 1e-9;
            so.stop_time = 10;
            so.output_interval = 2;
            so.step_size = iface == FMI_CS ? 0.001 : NAN;
            table t;
            assert_int_equal(simulate(&t, ver, "VanDerPol", &so, NULL, NULL), 0);
            assert_int_equal(t.rows, 6);
            /* CS integrates with the FMU's own Euler (first order, step 1e-3);
             * ME with CVODE at a tight tolerance */
            double tol = iface == FMI_CS ? 0.05 : 1e-5;
            for (int i = 0; i < 5; i++) {
                assert_true(fabs(cell(&t, (size_t)i + 1, "x0") - ref[i][0]) < tol);
                assert_true(fabs(cell(&t, (size_t)i + 1, "x1") - ref[i][1]) < tol * 3);
            }
            table_free(&t);
        }
    }
}

/* --- Resource -------------------------------------------------------- */

static void resource(void **state)
{
    (void)state;
    for (int ver = 2; ver <= 3; ver++) {
        fmi_sim_options so = FMI_SIM_OPTIONS_INIT;
        so.stop_time = 1;
        table t;
        assert_int_equal(simulate(&t, ver, "Resource", &so, NULL, NULL), 0);
        assert_true(cell(&t, t.rows - 1, "y") == 'y');
        table_free(&t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dahlquist_cvode),  cmocka_unit_test(dahlquist_euler_first_order),
        cmocka_unit_test(dahlquist_start_value), cmocka_unit_test(bad_settings),
        cmocka_unit_test(unrunnable_settings),
        cmocka_unit_test(bouncing_ball),    cmocka_unit_test(stair),
        cmocka_unit_test(feedthrough),      cmocka_unit_test(vanderpol),
        cmocka_unit_test(resource),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
