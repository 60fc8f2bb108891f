/*
 * test_sim_args.c - fmi_sim_args_parse (src/fmi/sim_args.h) from several
 * threads at once, as the daemon's job workers call it: getopt's state is
 * global, so without the parser's lock the threads' options get mixed (a
 * job once failed with "option /job/fmu needs a value").
 */
#include "fmi/sim_args.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_parses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
