/*
 * init_main.c - fmugw-init: the first program of every sandbox (and of the
 * plain, unisolated child). The parent spawns it with sandbox__spawn()
 * (sandbox.c) instead of running the child side in a copy of itself; it
 * rebuilds the sandbox__child from its fixed descriptors and argv (the
 * layout is in init.h) and runs init.c: pid 1 of the namespaces
 * (sandbox__init_main) or the plain child (sandbox__plain_main). Linked
 * statically against libc alone, so that it starts in well under a
 * millisecond. Not meant to be run by hand.
 */
#include "init.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <string.h>
#include <unistd.h>

/* Exit code 2 is "platform error" for the parent; there is no channel yet. */
static int usage(void)
{
    static const char msg[] = "fmugw-init: started by fmugw's sandbox only\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    return 2;
}

/* FMU code runs below the service's own threads: on a busy host the API
 * (health probes, other tenants' requests) comes first. Jobs are metered
 * by the CPU time they use, so the lower priority costs nobody money,
 * only wall time when every core is taken. */
#define SANDBOX_NICE 10

int main(int argc, char **argv, char **envp)
{
    sandbox__child c;
    char mode = 0;
    unsigned long long mem = 0, fsize = 0, scratch = 0, inodes = 0;
    unsigned mask = 0;
    memset(&c, 0, sizeof c);
    if (setpriority(PRIO_PROCESS, 0, SANDBOX_NICE) != 0) {
        /* not fatal: the job runs at the daemon's priority */
    }
    if (argc < 6 || sscanf(argv[1], "%c %lg %llu %llu %u %u %x %llu %llu", &mode, &c.limits.cpu_limit_s, &mem, &fsize,
                           &c.limits.max_open_files, &c.limits.max_threads, &mask, &scratch, &inodes) != 9 ||
        (mode != 'i' && mode != 'p' && mode != 'n'))
        return usage();
    c.limits.memory_limit = mem;
    c.limits.file_size_limit = fsize;
    c.limits.scratch_bytes = scratch;
    c.limits.scratch_inodes = inodes;
    int fd[SANDBOX_INIT_FD_END];
    for (int i = 0; i < SANDBOX_INIT_FD_END; i++)
        fd[i] = i >= SANDBOX_INIT_FD_RESULT && (mask >> (i - SANDBOX_INIT_FD_RESULT) & 1) ? i : -1;
    c.isolate = mode != 'n';
    c.pool = mode == 'p';
    c.result_w = fd[SANDBOX_INIT_FD_RESULT];
    c.log_w = fd[SANDBOX_INIT_FD_LOG];
    c.ctl_w = fd[SANDBOX_INIT_FD_CTL];
    c.sync_r = fd[SANDBOX_INIT_FD_SYNC];
    c.runner_fd = fd[SANDBOX_INIT_FD_RUNNER];
    c.job_r = fd[SANDBOX_INIT_FD_JOB];
    c.fmu_tree = fd[SANDBOX_INIT_FD_FMU_TREE];
    c.input_tree = fd[SANDBOX_INIT_FD_INPUT_TREE];
    c.scratch_tree = fd[SANDBOX_INIT_FD_SCRATCH_TREE];
    c.status_w = fd[SANDBOX_INIT_FD_STATUS];
    c.fmu_dir = argv[2][0] ? argv[2] : NULL;
    c.input_file = argv[3][0] ? argv[3] : NULL;
    c.scratch_dir = argv[4][0] ? argv[4] : NULL;
    c.args = argv + 5;
    c.envp = envp;
    if (c.result_w < 0 || c.log_w < 0 || c.status_w < 0 || c.runner_fd < 0 ||
        (c.isolate && (c.ctl_w < 0 || c.sync_r < 0)) || (c.isolate && !c.fmu_dir) || !c.args[0])
        return usage();
    /* the descriptors are ours alone now: none may reach the runner twice */
    for (int i = SANDBOX_INIT_FD_RESULT; i < SANDBOX_INIT_FD_END; i++)
        if (fd[i] >= 0)
            fcntl(fd[i], F_SETFD, FD_CLOEXEC);
    if (c.isolate)
        sandbox__init_main(&c);
    sandbox__plain_main(&c);
}
