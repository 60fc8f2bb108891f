/*
 * forge.h - shared by the hostile FMUs that forge the runner's status
 * (ForgePlatform, ForgeOk): burning CPU first, so that a run classed
 * uncharged would be free compute, and writing a line to every descriptor
 * the process may hold (the log channel, and whatever else is open).
 */
#ifndef FMUGW_HOSTILE_FORGE_H
#define FMUGW_HOSTILE_FORGE_H

#include <string.h>
#include <time.h>
#include <unistd.h>

/* Spins until this process has used `ms` of CPU time. */
static inline void forge_burn_cpu(int ms)
{
    struct timespec t0, t;
    volatile unsigned long spins = 0;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    do {
        for (int i = 0; i < 100000; i++)
            spins++;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000L + (t.tv_nsec - t0.tv_nsec) / 1000000L < ms);
}

/* Writes `line` to every descriptor from 1 to 63 but `skip` (-1: none). */
static inline void forge_write_all(const char *line, int skip)
{
    for (int fd = 1; fd < 64; fd++) {
        if (fd == skip)
            continue;
        ssize_t w = write(fd, line, strlen(line));
        (void)w;
    }
}

#endif
