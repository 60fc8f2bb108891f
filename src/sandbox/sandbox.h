/*
 * sandbox.h - running one simulation job in an isolated child process.
 *
 * sandbox_run() starts the runner program (fmugw-runner, built from
 * src/sandbox/runner.c) in a child that the FMU cannot escape:
 *
 *   parent (fmugw sim / worker)
 *     clone(VM|VFORK|NEWUSER|NEWPID|NEWNET|NEWNS|NEWIPC|NEWUTS|NEWCGROUP) + exec fmugw-init
 *                                           uid/gid 0 inside -> 65534 outside
 *       pid 1 "init" (fmugw-init, static; never a copy of the parent's
 *       memory): builds the filesystem view, then forks
 *         runner: rlimits, no_new_privs, caps dropped, execve(fmugw-runner)
 *                 runner installs its seccomp allow-list, then loads the FMU
 *
 * Filesystem view (tmpfs root, pivot_root, old root detached): /usr, /lib*,
 * /etc/ld.so.cache read-only; /job/fmu (the unpacked FMU, read-only, an
 * overlay so that mountinfo shows no host path); /job/input.csv (a
 * read-only copy, if any); /job/scratch (a capped tmpfs,
 * nosuid, nodev, noexec; also /tmp);
 * /dev/null, /dev/zero, /dev/urandom; a fresh /proc of the new PID
 * namespace. Nothing else of the host: not the server's data directory,
 * not other jobs. The environment is empty but for PATH=/usr/bin,
 * TMPDIR=/tmp, HOME=/job/scratch.
 *
 * Channels: the runner writes results to fd 3 (a pipe the parent copies to
 * job->result_fd, counting bytes against the output limit) and log lines and
 * its final status to fd 4 (see runner.c for the line protocol); fd 5 is its
 * status channel, which it closes before it loads the FMU (init.h). The
 * parent enforces the wall-clock deadline by killing pid 1 (which takes the
 * whole PID namespace with it) and reads metering from wait4(). Once the FMU
 * is loaded, everything the runner process says is the FMU's to forge: the
 * outcome comes from the kills the parent made, the wait status init saw,
 * the status channel and the result stream the parent counted itself (see
 * classify() in sandbox.c), never platform_error from the FMU's word.
 *
 * With job->isolate false, the runner is started through fmugw-init
 * without namespaces (same channels, same rlimits, no seccomp): the baseline the
 * benchmark compares against. (`fmugw sim --no-sandbox` does not use this
 * file at all: it runs the FMU inside the CLI process.)
 */
#ifndef FMUGW_SANDBOX_H
#define FMUGW_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How a job ended. Stable: stored with jobs and mapped to API errors. */
typedef enum {
    SANDBOX_FINISHED = 0,     /* the simulation completed */
    SANDBOX_FMU_ERROR,        /* the FMU returned Error/Fatal, or the request was invalid for it */
    SANDBOX_TIMEOUT,          /* wall-clock deadline passed: killed */
    SANDBOX_CPU_LIMIT,        /* RLIMIT_CPU reached (SIGXCPU / SIGKILL) */
    SANDBOX_MEMORY_LIMIT,     /* an allocation failed under the address-space limit */
    SANDBOX_OUTPUT_LIMIT,     /* results + logs over the cap: killed */
    SANDBOX_FORBIDDEN_SYSCALL,/* seccomp killed it (SIGSYS) */
    SANDBOX_CRASHED,          /* killed by another signal (see signal) */
    SANDBOX_PLATFORM_ERROR,   /* the sandbox itself could not be set up: not the FMU's fault */
    SANDBOX_CANCELED          /* the caller set job->cancel: killed */
} sandbox_outcome;

/** Stable lower-case name of an outcome ("finished", "fmu_error", ...). */
const char *sandbox_outcome_name(sandbox_outcome o);

typedef struct {
    double timeout_s;         /* wall clock */
    double cpu_limit_s;       /* CPU seconds (user + system) */
    uint64_t memory_limit;    /* bytes of address space */
    uint64_t output_limit;    /* bytes of results + log */
    uint64_t file_size_limit; /* largest file the job may write in scratch */
    unsigned max_open_files;
    unsigned max_threads;     /* RLIMIT_NPROC inside the sandbox's user */
    uint64_t scratch_bytes;   /* size of the job's scratch tmpfs (isolated jobs) */
    uint64_t scratch_inodes;  /* files and directories it may hold */
} sandbox_limits;

#define SANDBOX_LIMITS_INIT                                                                                          \
    { 60.0, 60.0, (uint64_t)1 << 30, (uint64_t)1 << 30, (uint64_t)256 << 20, 64, 64, (uint64_t)256 << 20, 16384 }

typedef struct {
    sandbox_outcome outcome;
    int signal;               /* for CRASHED / FORBIDDEN_SYSCALL */
    int exit_code;
    uint64_t cpu_user_ms;
    uint64_t cpu_system_ms;
    uint64_t wall_ms;
    uint64_t peak_rss_kb;
    uint64_t output_bytes;    /* result bytes delivered */
    uint64_t log_bytes;
    uint64_t rows;            /* result rows the parent counted in the result stream (unless unchecked) */
    uint64_t scratch_peak_kb; /* most of the scratch tmpfs in use at once (sampled by init every 50 ms) */
    uint64_t scratch_peak_files; /* most inodes in use there at once */
    bool fmu_loaded;          /* the runner got as far as loading the FMU: from then on the job's
                               * CPU is the FMU's to answer for (see classify in sandbox.c) */
    char message[1024];       /* one line: what happened, for the user */
} sandbox_report;

/** The runner's result stream, which the parent checks is a whole document
 *  (and counts its rows) before it calls a job finished. UNCHECKED for
 *  programs with other answers (fmugw-validator): rows are then what the
 *  program said. */
typedef enum {
    SANDBOX_RESULT_UNCHECKED = 0,
    SANDBOX_RESULT_CSV,
    SANDBOX_RESULT_JSON
} sandbox_result_form;

typedef void (*sandbox_log_fn)(void *ctx, const char *line);

/** The simulated time the job reached (the runner's "@progress T" lines, at
 *  most ten a second). Called on the thread running sandbox_run(). */
typedef void (*sandbox_progress_fn)(void *ctx, double t);

typedef struct {
    const char *runner;       /* path of the fmugw-runner executable */
    const char *fmu_dir;      /* unpacked FMU, mounted read-only at /job/fmu */
    const char *input_file;   /* may be NULL; mounted read-only at /job/input.csv */
    const char *scratch_dir;  /* NULL for jobs (the daemon's, fmugw sim's): /job/scratch is then a
                               * tmpfs of limits.scratch_bytes and limits.scratch_inodes, nosuid,
                               * nodev, noexec, metered; nothing of it lands on the host's disks. A
                               * host directory only for the caller's own helpers (fmugw-validator's
                               * unpack target): bound writable, nosuid, nodev, noexec, not metered.
                               * Plain mode: the working directory */
    char *const *args;        /* runner argv (argv[0] included), from fmi_sim_args_to_argv
                               * with fmu "/job/fmu" and input "/job/input.csv" */
    sandbox_limits limits;
    bool isolate;             /* false: plain child, no namespaces or seccomp */
    int result_fd;            /* results are copied here */
    const volatile int *cancel; /* may be NULL; once another thread sets *cancel non-zero the job
                               * is killed within 100 ms (outcome canceled) */
    sandbox_log_fn on_log;    /* each log line of the job (FMU messages, call trace); may be NULL */
    void *log_ctx;
    sandbox_progress_fn on_progress; /* simulated time reached, with log_ctx; may be NULL. Not a log line */
    sandbox_result_form result_form; /* what the result stream must be for "finished" (below) */
} sandbox_job;

/** Runs the job and fills *report. Returns 0 when the job ran (whatever its
 *  outcome: see report->outcome) and FMUGW_E* when the sandbox could not be
 *  started (report->outcome = SANDBOX_PLATFORM_ERROR, message set). */
int sandbox_run(const sandbox_job *job, sandbox_report *report);

/* --- the pool (pool.c) ---------------------------------------------------
 * A pre-forked pool of ready sandboxes, for the worker and the benchmark:
 * each pooled sandbox has already been cloned into its namespaces, built
 * its filesystem view and pivoted into it, and its runner has exec'd and
 * loaded its libraries; the runner then blocks on a control channel,
 * before parsing anything job-specific and before installing seccomp.
 * sandbox_pool_run() hands one sandbox one job: the parent hard-links (or
 * copies) the job's FMU and input file into that sandbox's own directory,
 * which is its /job (read-only; /job/scratch writable and empty), and
 * sends the argv and the limits; the runner lowers its rlimits to the
 * job's, installs seccomp and runs the job as sandbox_run() would. A
 * sandbox runs exactly one job and then dies; it is never reused. The
 * pool keeps `size` sandboxes ready (a background thread, or the caller
 * right after handing out a job, see refill_inline). See docs/sandbox.md,
 * "Pool". sandbox_run() stays the one-shot path. */

typedef struct sandbox_pool sandbox_pool;

typedef struct {
    const char *runner;       /* path of fmugw-runner (required) */
    sandbox_limits limits;    /* ceilings: the rlimits a pooled runner starts with; a job asking for
                               * more CPU / memory / file size / files / threads runs one-shot instead */
    const char *work_dir;     /* where the per-sandbox job directories are made (NULL: $TMPDIR or /tmp);
                               * on the same file system as the extracted FMUs, links are used, else copies */
    bool refill_inline;       /* false: a background thread keeps the pool full; true: sandbox_pool_run
                               * starts the replacement itself, right after handing its job out. A
                               * sandbox's parent-death signal is its spawning thread's: with true, the
                               * sandboxes a thread refilled die when that thread ends, so every caller
                               * thread must outlive the jobs run in the pool (the daemon uses false) */
} sandbox_pool_opts;

#define SANDBOX_POOL_OPTS_INIT { NULL, SANDBOX_LIMITS_INIT, NULL, false }

/** Creates a pool and starts `size` (>= 1) sandboxes, returning once all
 *  are ready. *out is the caller's, freed with sandbox_pool_free(). Returns
 *  0, FMUGW_EINVALID (no runner, size 0) or FMUGW_ERROR when a sandbox could
 *  not be started (the reason in fmugw_error_last(); nothing left running). */
int sandbox_pool_new(sandbox_pool **out, unsigned size, const sandbox_pool_opts *opts);

/** Runs one job in a ready sandbox of the pool (waiting for one if all are
 *  taken) and fills *report, like sandbox_run(). job->runner and
 *  job->scratch_dir are not used: the pool's runner runs it and the
 *  scratch is the sandbox's own tmpfs (of the pool's scratch limits: a job
 *  asking for more runs one-shot), gone with the sandbox.
 *  Jobs with isolate false or limits above the pool's ceilings are passed
 *  to sandbox_run(). Thread-safe: any number of threads may call it. The
 *  sandbox is killed and its directory removed before returning. */
int sandbox_pool_run(sandbox_pool *pool, const sandbox_job *job, sandbox_report *report);

/** How many sandbox directories could not be removed since the last call
 *  (the failure is not the job's: its report is unaffected); the last
 *  reason in msg. For the caller to log. Thread-safe. */
unsigned sandbox_pool_cleanup_failures(sandbox_pool *pool, char *msg, size_t size);

/** Stops the refill, kills every idle sandbox (no process is left) and
 *  removes their directories. No sandbox_pool_run() may be in progress.
 *  NULL is allowed. */
void sandbox_pool_free(sandbox_pool *pool);

/** The runner next to the running executable (dirname(/proc/self/exe) +
 *  "/fmugw-runner"), or $FMUGW_RUNNER when set. malloc'd. */
char *sandbox_default_runner(void);

/** fmugw-validator (src/registry/validator_main.c, the sandboxed parser of
 *  uploaded archives: validation and the workers' unpacking), beside the
 *  runner, or $FMUGW_VALIDATOR when set. malloc'd. */
char *sandbox_default_validator(void);

#endif
