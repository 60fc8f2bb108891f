/*
 * bench_format.c - micro benchmark of fmi_format_double() against
 * snprintf("%.17g") on the same values in the same run: random bit
 * patterns, values in a typical simulation range, and output times.
 * Prints ns per value for each and their ratio.
 */
#include "fmi/results.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t state = 0x9e3779b97f4a7c15u;

static uint64_t next_random(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void run(const char *label, const double *values, size_t n)
{
    char buf[64];
    volatile size_t sink = 0;
    double t0 = now();
    for (size_t i = 0; i < n; i++)
        sink += fmi_format_double(buf, values[i]);
    double t1 = now();
    for (size_t i = 0; i < n; i++)
        sink += (size_t)snprintf(buf, sizeof buf, "%.17g", values[i]);
    double t2 = now();
    double ours = (t1 - t0) / n * 1e9, theirs = (t2 - t1) / n * 1e9;
    printf("%-14s fmi_format_double %7.1f ns/value   snprintf %%.17g %7.1f ns/value   ratio %.2fx faster\n",
           label, ours, theirs, theirs / ours);
    (void)sink;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    if (n == 0)
        n = 1;
    double *values = calloc(n, sizeof *values);
    if (!values)
        return 1;
    char warm[64];
    fmi_format_double(warm, 1.5); /* builds the tables outside the timing */

    for (size_t i = 0; i < n; i++) {
        uint64_t bits;
        do {
            bits = next_random();
            memcpy(&values[i], &bits, sizeof bits);
        } while (!isfinite(values[i]));
    }
    run("random bits", values, n);

    for (size_t i = 0; i < n; i++)
        values[i] = ((double)(next_random() >> 11) / 9007199254740992.0 - 0.5) * 20.0;
    run("[-10, 10)", values, n);

    for (size_t i = 0; i < n; i++)
        values[i] = (double)i * 0.001;
    run("times i*0.001", values, n);

    free(values);
    return 0;
}
