/*
 * init.h - internals shared by sandbox.c (the parent side) and init.c (what
 * runs in the child: pid 1 of the new namespaces, and the runner child it
 * forks before exec). Not a public interface.
 */
#ifndef FMUGW_SANDBOX_INIT_H
#define FMUGW_SANDBOX_INIT_H

#include "sandbox.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Everything the child needs, prepared by the parent before the spawn and
 * passed to fmugw-init as descriptors and argv (sandbox__spawn). */
typedef struct {
    bool isolate;
    /* Paths on the host, and detached mount trees (open_tree clones made by
     * the parent, -1 when it could not: init then binds the path). */
    const char *fmu_dir, *input_file, *scratch_dir;
    int fmu_tree, input_tree, scratch_tree;
    int runner_fd;       /* the runner executable, opened O_RDONLY|O_CLOEXEC */
    int result_w, log_w; /* become fd 3 and fd 4 of the runner */
    int status_w;        /* becomes fd SANDBOX_RUNNER_FD_STATUS of the runner: its trusted status
                          * channel, closed by the runner before any FMU code is loaded */
    int ctl_w;           /* init -> parent: "E message" / "U kib files" (scratch use, each new
                          * peak) / "X wait-status" lines */
    int sync_r;          /* parent -> init: one byte once uid/gid maps are written */
    /* Pool mode (pool.c): fmu_dir / fmu_tree is the sandbox's job directory,
     * mounted read-only at /job (its scratch/ bound writable over it), and
     * job_r (fd SANDBOX_RUNNER_FD_JOB of the runner) brings the job later.
     * -1 otherwise. */
    bool pool;
    int job_r;
    char *const *args;
    char *const *envp;
    sandbox_limits limits;
} sandbox__child;

/* --- fmugw-init (init_main.c) ---------------------------------------------
 * The parent does not run the child side in a copy of itself: it spawns
 * the small static program fmugw-init (next to the runner) the way
 * posix_spawn does, clone(CLONE_VM | CLONE_VFORK | namespaces) on a small
 * stack, the child doing nothing but placing descriptors and execve. The
 * descriptors of sandbox__child land on fixed numbers in fmugw-init (the
 * SANDBOX_INIT_FD_* below; absent ones are left closed) and the rest of it
 * travels in argv: argv[1] "MODE CPU MEM FSIZE NOFILE NPROC MASK SCRATCH
 * INODES" (MODE i: one-shot sandbox, p: pooled, n: plain child; MASK the
 * slots present, bit = fd - 3; SCRATCH, INODES the scratch tmpfs's caps),
 * argv[2..4] fmu_dir, input_file, scratch_dir ("" for none), argv[5..] the
 * runner's argv; the environment is the runner's. */
enum {
    SANDBOX_INIT_FD_RESULT = 3,
    SANDBOX_INIT_FD_LOG,
    SANDBOX_INIT_FD_CTL,
    SANDBOX_INIT_FD_SYNC,
    SANDBOX_INIT_FD_RUNNER,
    SANDBOX_INIT_FD_JOB,
    SANDBOX_INIT_FD_FMU_TREE,
    SANDBOX_INIT_FD_INPUT_TREE,
    SANDBOX_INIT_FD_SCRATCH_TREE,
    SANDBOX_INIT_FD_STATUS,
    SANDBOX_INIT_FD_END
};

/* --- the runner's descriptors ---------------------------------------------
 * 0 /dev/null; 1, 2 and 4 the log pipe; 3 the result pipe; then: */
enum {
    /* The status channel (runner -> parent, not through init): what the
     * runner says before any FMU code can run, which is the only time what
     * it says can be trusted. Lines "S KIND ROWS MESSAGE" (the runner ended
     * before loading the FMU: KIND error, nomem or platform) or "L" (it is
     * about to load the FMU: from here on nothing it says or does decides
     * more than the FMU's own outcome classes). The runner closes it before
     * the FMU is loaded; the FMU never holds it. */
    SANDBOX_RUNNER_FD_STATUS = 5,
    SANDBOX_RUNNER_FD_JOB = 6 /* pool mode: the job channel */
};

/** Spawns fmugw-init at `init_path` for `c` (in new namespaces when
 *  c->isolate, else as a plain child in its own process group). Returns its
 *  pid, or -1 with errno set: the clone failed, or the child's execve did
 *  (the child is reaped then). Thread-safe; the child touches no memory of
 *  the parent but its own stack and the one error word posix_spawn also
 *  uses. */
pid_t sandbox__spawn(const char *init_path, const sandbox__child *c);

/** fmugw-init beside `runner` (dirname + "/fmugw-init"), or $FMUGW_INIT
 *  when set; malloc'd, NULL when out of memory. */
char *sandbox__init_path(const char *runner);

/** Body of pid 1 inside the namespaces (in fmugw-init): mounts, pivot_root,
 *  fork + exec of the runner, wait, report on ctl_w. Never returns. */
void sandbox__init_main(const sandbox__child *c) __attribute__((noreturn));

/** Sets RLIMIT_CPU, AS (not under ASan), FSIZE, NOFILE, NPROC, CORE and
 *  MEMLOCK of the calling process from `l`. Returns 0, or -1 (errno set)
 *  when one could not be set (e.g. above the hard limit). Async-signal-safe. */
int sandbox__apply_rlimits(const sandbox_limits *l);

/* --- shared by sandbox.c and pool.c (the parent side) --- */

/** Monotonic clock in ms. */
uint64_t sandbox__now_ms(void);

/** Writes the uid/gid maps of a new user namespace (0 inside -> outside). */
int sandbox__write_id_maps(pid_t pid, unsigned outside);

/** A detached, id-mapped (0 -> nobody) copy of `path` with mount `attrs`
 *  (root only); -1 with errno set when not possible. */
int sandbox__make_tree(const char *path, uint64_t attrs);

/** The outside uid of uid 0 in a sandbox: nobody as root, else our own. */
unsigned sandbox__outside_uid(void);

/** Streams a started job's result, log, ctl and status pipes until all are closed
 *  (output cap, wall-clock deadline from t0), reaps `pid` (init; or the
 *  plain child's process group when !job->isolate), meters and classifies
 *  into *r. Does not close the fds. Returns 0, or FMUGW_E* for a platform
 *  error (r->outcome = SANDBOX_PLATFORM_ERROR). */
int sandbox__collect(const sandbox_job *job, sandbox_report *r, pid_t pid, int res_r, int log_r, int ctl_r,
                     int status_r, uint64_t t0);

/** Runner side of the job channel (pool.c): writes "@ready" on fd 4 when
 *  `announce` (a pooled sandbox), reads the job from fd `fd` until end of
 *  file (limits line + argv), closes fd, lowers
 *  the rlimits to the job's and returns its argv (malloc'd, NULL-terminated)
 *  in *argv_out and its length in *argc_out. 0 or FMUGW_E*; FMUGW_ENOTFOUND
 *  when the pool closed the channel without a job (pool freed). */
int sandbox__pool_receive(int fd, bool announce, int *argc_out, char ***argv_out);

/** Parent side of the job channel: sends the limits line and `args` on
 *  `fd` (the runner's fd 6) and shuts the sending side (end of the job).
 *  Used by the pool and by sandbox_run(), whose runners both get their
 *  argument vector this way (`fmugw-runner --pool-wait` / `--job-fd`), never
 *  through execve: no ARG_MAX or per-argument limit, only
 *  SANDBOX_JOB_MAX bytes. Does not close fd. */
int sandbox__send_job(int fd, const sandbox_limits *l, char *const *args);

#define SANDBOX_JOB_MAX (1u << 20) /* largest job message the runner accepts */

/** Body of the plain (isolate = false) child: rlimits, fds, exec. Never
 *  returns. */
void sandbox__plain_main(const sandbox__child *c) __attribute__((noreturn));

#endif
