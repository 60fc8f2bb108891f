/*
 * bench_sim.c - `fmugw sim` against the floor, in one run.
 *
 * usage: bench_sim FMUGW FMU_DIR [repeats]
 *
 * Case 1: BouncingBall (FMI 2) Co-Simulation, 10^6 communication steps,
 *         CSV output of every step, vs a floor loop that instantiates the
 *         same FMU and calls fmi2DoStep 10^6 times recording nothing.
 *         1b: the same run with 500 rows (FMPy's default output count).
 * Case 2: VanDerPol (FMI 2) Model Exchange with CVODE, 10^5 output points,
 *         vs the same solver loop with no recording (fmi_simulate with no
 *         recorder).
 * Case 3: peak memory of `fmugw sim` for 10^5 and 10^6 output rows.
 *
 * Every measurement runs in a child process (fork + exec for fmugw, fork
 * for the floor) so wall time and peak RSS (wait4 rusage) are taken the same
 * way. Each figure is the median of `repeats` runs (default 5).
 */
#include "fmi/fmu.h"
#include "fmi/instance.h"
#include "fmi/sim.h"
#include "util/error.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    double wall_s;
    double cpu_s;
    long maxrss_kb;
} sample;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Floor for CS: instantiate, initialize, n x doStep, nothing recorded. */
static int floor_cs(const char *fmu_path, double stop, size_t n)
{
    fmi_fmu *fmu;
    fmi_binary *bin;
    fmi_instance *inst;
    if (fmi_fmu_open(&fmu, fmu_path) || fmi_binary_open(&bin, fmu->model, fmu->dir, FMI_CS))
        return 1;
    fmi_instance_options io = { 0 };
    if (fmi_instance_new(&inst, bin, fmu->model, &io) || fmi_instance_enter_initialization(inst, 0, 0, stop) ||
        fmi_instance_exit_initialization(inst))
        return 1;
    double h = stop / (double)n;
    for (size_t i = 0; i < n; i++) {
        fmi_step_result res;
        if (fmi_instance_do_step(inst, (double)i * h, h, &res))
            return 1;
    }
    fmi_instance_free(inst);
    fmi_binary_close(bin);
    fmi_fmu_close(fmu);
    return 0;
}

/* Floor for ME: the simulator's own CVODE loop with no recorder. */
static int floor_me(const char *fmu_path, double stop, double interval)
{
    fmi_fmu *fmu;
    fmi_binary *bin;
    if (fmi_fmu_open(&fmu, fmu_path) || fmi_binary_open(&bin, fmu->model, fmu->dir, FMI_ME))
        return 1;
    fmi_sim_options so = FMI_SIM_OPTIONS_INIT;
    so.iface = FMI_ME;
    so.stop_time = stop;
    so.output_interval = interval;
    int rc = fmi_simulate(fmu->model, bin, &so, NULL, NULL);
    fmi_binary_close(bin);
    fmi_fmu_close(fmu);
    return rc != 0;
}

typedef struct {
    const char *kind; /* "exec", "floor_cs", "floor_me" */
    char *const *argv;
    const char *fmu;
    double stop, interval;
    size_t n;
} job;

static sample run_once(const job *j)
{
    sample s = { 0 };
    double t0 = now();
    pid_t pid = fork();
    if (pid == 0) {
        if (!strcmp(j->kind, "exec")) {
            int devnull = open("/dev/null", 1);
            dup2(devnull, 2);
            execv(j->argv[0], j->argv);
            _exit(127);
        }
        _exit(!strcmp(j->kind, "floor_cs") ? floor_cs(j->fmu, j->stop, j->n) : floor_me(j->fmu, j->stop, j->interval));
    }
    int status;
    struct rusage ru;
    wait4(pid, &status, 0, &ru);
    s.wall_s = now() - t0;
    s.cpu_s = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_sec +
              1e-6 * (double)ru.ru_stime.tv_usec;
    s.maxrss_kb = ru.ru_maxrss;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench_sim: %s run failed (status %d)\n", j->kind, status);
        exit(1);
    }
    return s;
}

static sample median(const job *j, int repeats)
{
    double wall[64], cpu[64];
    long rss = 0;
    for (int i = 0; i < repeats; i++) {
        sample s = run_once(j);
        wall[i] = s.wall_s;
        cpu[i] = s.cpu_s;
        if (s.maxrss_kb > rss)
            rss = s.maxrss_kb;
    }
    qsort(wall, (size_t)repeats, sizeof *wall, cmp_double);
    qsort(cpu, (size_t)repeats, sizeof *cpu, cmp_double);
    sample m = { wall[repeats / 2], cpu[repeats / 2], rss };
    return m;
}

static void report(const char *name, sample sim, sample fl)
{
    printf("%-44s fmugw sim %8.3f s (%6.1f MiB)   floor %8.3f s (%6.1f MiB)   ratio %.3f\n", name, sim.wall_s,
           (double)sim.maxrss_kb / 1024, fl.wall_s, (double)fl.maxrss_kb / 1024, sim.wall_s / fl.wall_s);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_sim FMUGW FMU_DIR [repeats]\n");
        return 2;
    }
    const char *fmugw = argv[1];
    int repeats = argc > 3 ? atoi(argv[3]) : 5;
    if (repeats < 1 || repeats > 64)
        repeats = 5;
    char bb[4096], vdp[4096], out[4096];
    snprintf(bb, sizeof bb, "%s/2.0/BouncingBall.fmu", argv[2]);
    snprintf(vdp, sizeof vdp, "%s/2.0/VanDerPol.fmu", argv[2]);
    snprintf(out, sizeof out, "%s/fmugw-bench-%d.csv", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());

    printf("bench_sim: median of %d runs each, wall time and peak RSS\n", repeats);

    /* 1: BouncingBall CS, 10^6 steps over 10 s, a row per step */
    char *cs_argv[] = { (char *)fmugw, "sim", bb, "--stop-time", "10", "--step-size", "1e-5", "--output-interval",
                        "1e-5", "-o", out, NULL };
    job cs_sim = { "exec", cs_argv, NULL, 0, 0, 0 };
    job cs_floor = { "floor_cs", NULL, bb, 10.0, 0, 1000000 };
    report("BouncingBall CS, 1e6 steps, 1e6 CSV rows", median(&cs_sim, repeats), median(&cs_floor, repeats));

    /* 1b: the same 10^6 steps with FMPy's default of 500 output rows */
    char *cs500_argv[] = { (char *)fmugw, "sim", bb, "--stop-time", "10", "--step-size", "1e-5", "--output-interval",
                           "0.02", "-o", out, NULL };
    job cs500_sim = { "exec", cs500_argv, NULL, 0, 0, 0 };
    report("BouncingBall CS, 1e6 steps, 500 CSV rows", median(&cs500_sim, repeats), median(&cs_floor, repeats));

    /* 2: VanDerPol ME with CVODE, 10^5 output points */
    char *me_argv[] = { (char *)fmugw, "sim", vdp, "--interface", "me", "--stop-time", "100", "--output-interval",
                        "1e-3", "-o", out, NULL };
    job me_sim = { "exec", me_argv, NULL, 0, 0, 0 };
    job me_floor = { "floor_me", NULL, vdp, 100.0, 1e-3, 0 };
    report("VanDerPol ME CVODE, 1e5 CSV rows", median(&me_sim, repeats), median(&me_floor, repeats));

    /* 3: memory does not grow with the number of rows */
    char *small_argv[] = { (char *)fmugw, "sim", bb, "--stop-time", "1", "--step-size", "1e-5", "--output-interval",
                           "1e-5", "-o", out, NULL };
    job small = { "exec", small_argv, NULL, 0, 0, 0 };
    sample s_small = median(&small, repeats), s_big = median(&cs_sim, repeats);
    printf("%-44s 1e5 rows %6.1f MiB   1e6 rows %6.1f MiB   ratio %.3f\n", "peak RSS of fmugw sim vs rows",
           (double)s_small.maxrss_kb / 1024, (double)s_big.maxrss_kb / 1024,
           (double)s_big.maxrss_kb / (double)s_small.maxrss_kb);
    unlink(out);
    return 0;
}
