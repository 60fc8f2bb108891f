/*
 * test_sim_args.c - fmi_sim_args_parse (src/fmi/sim_args.h) from several
 * threads at once, as the daemon's job workers call it: getopt's state is
 * global, so without the parser's lock the threads' options get mixed (a
 * job once failed with "option /job/fmu needs a value"); and the runner's
 * own rules (fmi_sim_args_check): subnormal values are numbers that are
 * refused by name, lists are bounded, the argument vector the runner
 * receives has a byte bound and no count limit.
 */
#include "fmi/sim_args.h"
#include "util/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4
#define ROUNDS 2000

typedef struct {
    int index;
    int bad; /* rounds whose result was not this thread's options */
} worker;

static void *parse_main(void *p)
{
    worker *w = p;
    char stop[32], step[32], fmu[32];
    snprintf(stop, sizeof stop, "%d", w->index + 2);
    snprintf(step, sizeof step, "0.%d", w->index + 1);
    snprintf(fmu, sizeof fmu, "/job/fmu%d", w->index);
    for (int r = 0; r < ROUNDS; r++) {
        char *argv[] = { "fmugw-runner", "--stop-time", stop, "--step-size", step, "--format",
                         w->index % 2 ? "json" : "csv", fmu, NULL };
        fmi_sim_args a;
        int rc = fmi_sim_args_parse(&a, 8, argv);
        if (rc != 0 || !a.fmu || strcmp(a.fmu, fmu) != 0 || a.sim.stop_time != w->index + 2 ||
            a.format != (w->index % 2 ? FMI_RESULT_JSON : FMI_RESULT_CSV))
            w->bad++;
        fmi_sim_args_free(&a);
    }
    return NULL;
}

static void test_concurrent_parses(void **state)
{
    (void)state;
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){ i, 0 };
        assert_int_equal(pthread_create(&th[i], NULL, parse_main, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].bad, 0);
    }
}

static int parse_words(fmi_sim_args *a, const char *words)
{
    static char buf[4096];
    char *argv[64];
    int argc = 0;
    snprintf(buf, sizeof buf, "fmugw-runner %s", words);
    for (char *t = strtok(buf, " "); t && argc < 63; t = strtok(NULL, " "))
        argv[argc++] = t;
    argv[argc] = NULL;
    return fmi_sim_args_parse(a, argc, argv);
}

static void expect_refused(const char *words, const char *says)
{
    fmi_sim_args a;
    int rc = parse_words(&a, words);
    fmi_sim_args_free(&a);
    if (rc != FMUGW_EINVALID || !strstr(fmugw_error_last(), says))
        fail_msg("%s: rc %d, \"%s\" (expected \"%s\")", words, rc, fmugw_error_last(), says);
}

static void test_runner_rules(void **state)
{
    (void)state;
    expect_refused("--step-size 5e-324 m.fmu", "step size 4.94066e-324 is too close to zero");
    expect_refused("--relative-tolerance 5e-324 m.fmu", "relative tolerance");
    expect_refused("--relative-tolerance 1e-300 m.fmu", "relative tolerance 1e-300 is too small");
    expect_refused("--stop-time 1 --output-interval 1e-300 m.fmu", "output interval 1e-300 is too small");
    expect_refused("--stop-time 1e30 --step-size 1e8 m.fmu", "step size 1e+08 is too small for times around 1e+30");
    expect_refused("--start-time 2 --stop-time 1 m.fmu", "must be greater than start time");
    expect_refused("--step-size -1 m.fmu", "must be positive");
    expect_refused("--stop-time 1e999 m.fmu", "is not a number");
    /* zero is a time like any other */
    fmi_sim_args a;
    assert_int_equal(parse_words(&a, "--start-time 0 --stop-time 1 --output-interval 0.5 m.fmu"), 0);
    fmi_sim_args_free(&a);
}

/* A list bound, and the argument vector: a thousand names pass through
 * to_argv and back unchanged (the daemon's old argv had 510 slots); more
 * are refused with the bound; so is a vector over FMI_SIM_ARGS_MAX_BYTES. */
static void test_list_bounds(void **state)
{
    (void)state;
    int n = 2 * FMI_SIM_MAX_OUTPUT_VARIABLES + 4;
    char **argv = calloc((size_t)n + 1, sizeof *argv);
    char (*names)[16] = calloc(FMI_SIM_MAX_OUTPUT_VARIABLES + 1, sizeof *names);
    assert_non_null(argv);
    assert_non_null(names);
    int argc = 0;
    argv[argc++] = "fmugw-runner";
    for (unsigned i = 0; i < FMI_SIM_MAX_OUTPUT_VARIABLES; i++) {
        snprintf(names[i], sizeof names[i], "v%u", i);
        argv[argc++] = "--output-variable";
        argv[argc++] = names[i];
    }
    argv[argc++] = "m.fmu";
    fmi_sim_args a, b;
    assert_int_equal(fmi_sim_args_parse(&a, argc, argv), 0);
    assert_int_equal(a.n_output_variables, FMI_SIM_MAX_OUTPUT_VARIABLES);
    char **back;
    assert_int_equal(fmi_sim_args_to_argv(&back, &a, "/job/fmu", NULL), 0);
    int nback = 0;
    while (back[nback])
        nback++;
    assert_int_equal(fmi_sim_args_parse(&b, nback, back), 0);
    assert_int_equal(b.n_output_variables, FMI_SIM_MAX_OUTPUT_VARIABLES);
    assert_string_equal(b.output_variables[FMI_SIM_MAX_OUTPUT_VARIABLES - 1], names[FMI_SIM_MAX_OUTPUT_VARIABLES - 1]);
    fmi_sim_args_free(&b);
    fmi_sim_args_free_argv(back);
    fmi_sim_args_free(&a);
    /* one more */
    snprintf(names[FMI_SIM_MAX_OUTPUT_VARIABLES], 16, "extra");
    argv[argc - 1] = "--output-variable";
    argv[argc++] = names[FMI_SIM_MAX_OUTPUT_VARIABLES];
    argv[argc++] = "m.fmu";
    assert_int_equal(fmi_sim_args_parse(&a, argc, argv), FMUGW_EINVALID);
    assert_non_null(strstr(fmugw_error_last(), "at most 1000"));
    fmi_sim_args_free(&a);
    /* bytes: one start value larger than the whole bound */
    char *big = malloc(FMI_SIM_ARGS_MAX_BYTES + 16);
    assert_non_null(big);
    memset(big, '1', FMI_SIM_ARGS_MAX_BYTES + 8);
    memcpy(big, "k=", 2);
    big[FMI_SIM_ARGS_MAX_BYTES + 8] = 0;
    char *v2[] = { "fmugw-runner", "--start-value", big, "m.fmu", NULL };
    assert_int_equal(fmi_sim_args_parse(&a, 4, v2), FMUGW_EINVALID);
    assert_non_null(strstr(fmugw_error_last(), "bytes, at most"));
    fmi_sim_args_free(&a);
    free(big);
    free(names);
    free(argv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_parses),
        cmocka_unit_test(test_runner_rules),
        cmocka_unit_test(test_list_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
