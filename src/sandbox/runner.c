/*
 * runner.c - fmugw-runner: runs one simulation job inside the sandbox.
 *
 * Started by sandbox_run() (sandbox.c) with the argument vector of
 * fmi_sim_args_to_argv(), the unpacked FMU at /job/fmu, results to be
 * written to fd 3 and log lines to fd 4. Order matters: parse the request
 * (the daemon's argv), open the result stream, install the seccomp
 * allow-list (policy.c), and only then parse the model description (the
 * FMU's, untrusted) and run fmi_run(), which dlopens the FMU: neither the
 * FMU's XML nor its code, constructors included, is handled unfiltered.
 *
 * Line protocol on fd 4 (each line written with one write(), so lines of
 * different threads do not interleave; the FMU's own stdout/stderr also go
 * to fd 4 and reach the parent as plain lines):
 *   @log TEXT                  one log line for the user (newlines folded)
 *   @nomem                     an allocation failed (first time only)
 *   @progress T                the simulated time T reached (%.17g), at most
 *                              every FMI_PROGRESS_PERIOD_MS (100 ms) of wall
 *                              time, none for a shorter run (sim.c decides)
 *   @status KIND ROWS MESSAGE  the last line: KIND is ok, error or nomem;
 *                              ROWS the result rows written
 * Fd 5 is the status channel (init.h): until the FMU is loaded, the runner
 * is the only code in this process, and how it ends is said there ("S KIND
 * ROWS MESSAGE", KIND error, nomem or platform); once its seccomp filter
 * is on, before it parses the model description (the FMU's) and loads the
 * FMU, it writes "L" and closes it (sandbox_untrusted_begin). After that
 * the FMU's data and code share this process and could write any of the
 * lines above, so the parent believes none of them for more than an FMU
 * outcome (sandbox.c, classify).
 * Started as `fmugw-runner --pool-wait` (a pooled sandbox, pool.c), it
 * first writes "@ready" on fd 4 and waits for its job on fd 6; started as
 * `fmugw-runner --job-fd` (sandbox_run), it reads its job from fd 6 at
 * once. Either way its options never pass through execve (no argv size
 * limits); only the plain, non-isolated mode gets them as argv.
 * Exit code: 0 finished, 1 FMU or request error, 2 runner/platform
 * failure, 3 failed after an allocation failure (memory limit).
 *
 * The allocator functions are defined here, in the executable, so every
 * library and the FMU's own malloc calls come through them: they forward
 * to glibc's __libc_* entry points and remember ENOMEM. Not under ASan,
 * whose allocator must stay in charge (there a failed allocation is an FMU
 * error, see docs/sandbox.md).
 */
#include "fmi/fmu.h"
#include "fmi/run.h"
#include "fmi/sim_args.h"
#include "sandbox/init.h"
#include "sandbox/policy.h"
#include "util/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RESULT_FD 3
#define LOG_FD 4
#define STATUS_FD SANDBOX_RUNNER_FD_STATUS

#if defined(__SANITIZE_ADDRESS__)
#define RUNNER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RUNNER_ASAN 1
#endif
#endif

static volatile int saw_enomem;

static __attribute__((unused)) void note_enomem(void)
{
    if (!saw_enomem) {
        saw_enomem = 1;
        static const char line[] = "@nomem\n";
        ssize_t w = write(LOG_FD, line, sizeof line - 1);
        (void)w;
    }
}

#ifdef RUNNER_ASAN
/* LeakSanitizer stops the world with clone + ptrace at exit, which the
 * seccomp policy kills: no leak checking in the runner. Fatal signals are
 * left to the kernel, so a crash is still reported as a signal; a failed
 * allocation returns NULL (there is no RLIMIT_AS under ASan). */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "detect_leaks=0:allocator_may_return_null=1:handle_segv=0:handle_sigbus=0:handle_abort=0:"
           "handle_sigfpe=0:handle_sigill=0";
}
#else
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

void *malloc(size_t n)
{
    void *p = __libc_malloc(n);
    if (!p)
        note_enomem();
    return p;
}

void *calloc(size_t n, size_t size)
{
    void *p = __libc_calloc(n, size);
    if (!p)
        note_enomem();
    return p;
}

void *realloc(void *old, size_t n)
{
    void *p = __libc_realloc(old, n);
    if (!p && n)
        note_enomem();
    return p;
}

void *memalign(size_t align, size_t n)
{
    void *p = __libc_memalign(align, n);
    if (!p && errno == ENOMEM)
        note_enomem();
    return p;
}

void *aligned_alloc(size_t align, size_t n)
{
    return memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    if (align < sizeof(void *) || (align & (align - 1)))
        return EINVAL;
    void *p = __libc_memalign(align, n);
    if (!p) {
        note_enomem();
        return ENOMEM;
    }
    *out = p;
    return 0;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    long r = syscall(SYS_mmap, addr, len, prot, flags, fd, off);
    if (r == -1) { /* syscall() has set errno */
        if (errno == ENOMEM)
            note_enomem();
        return MAP_FAILED;
    }
    return (void *)r;
}
#endif

/* Where emit() writes: the status channel until the FMU is loaded. */
static int status_to = STATUS_FD;

/* Writes "PREFIX TEXT\n" with one write(), newlines in TEXT folded; a
 * "@status" line goes to the status channel while it is open. */
static void emit(const char *prefix, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emit(const char *prefix, const char *fmt, ...)
{
    int fd = LOG_FD;
    if (!strcmp(prefix, "@status") && status_to >= 0) {
        fd = status_to;
        prefix = "S";
    }
    char buf[4096];
    int n = snprintf(buf, sizeof buf, "%s ", prefix);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof buf - 2)
        len = sizeof buf - 2;
    for (size_t i = (size_t)n; i < len; i++)
        if (buf[i] == '\n' || buf[i] == '\r')
            buf[i] = ' ';
    buf[len++] = '\n';
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, buf + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
}

static const char *status_name(fmi_status s)
{
    static const char *const names[] = { "OK", "Warning", "Discard", "Error", "Fatal", "Pending" };
    return (unsigned)s < 6 ? names[s] : "?";
}

static void on_log(void *ctx, fmi_status status, const char *category, const char *message)
{
    const fmi_sim_args *a = ctx;
    if (status == FMI_STATUS_OK && !a->debug_logging)
        return;
    emit("@log", "[%s] %s: %s", status_name(status), category ? category : "", message ? message : "");
}

static void on_call(void *ctx, const char *line)
{
    (void)ctx;
    emit("@log", "%s", line);
}

static void on_progress(void *ctx, double t)
{
    (void)ctx;
    emit("@progress", "%.17g", t);
}

int main(int argc, char **argv)
{
    int code = 1, prc;
    fmi_sim_args a;
    fmi_fmu *fmu = NULL;
    FILE *out = NULL;
    fmi_run_result res = { 0 };
    const char *kind = "error";

    /* A pooled sandbox (pool.c): libraries are loaded; now wait for the
     * job on fd 6 (argv and limits) and lower the rlimits to the job's,
     * before anything job-specific is parsed and before seccomp. */
    bool pooled = argc == 2 && !strcmp(argv[1], "--pool-wait");
    if (pooled || (argc == 2 && !strcmp(argv[1], "--job-fd"))) {
        char **job_argv;
        if ((prc = sandbox__pool_receive(SANDBOX_RUNNER_FD_JOB, pooled, &argc, &job_argv))) {
            if (prc == FMUGW_ENOTFOUND)
                _exit(0); /* the pool was freed: no job, nothing to say */
            code = 2;
            kind = "platform";
            goto out;
        }
        argv = job_argv; /* kept until _exit */
    }
    if ((prc = fmi_sim_args_parse(&a, argc, argv)))
        goto out;
    if (!(out = fdopen(RESULT_FD, "w"))) {
        prc = fmugw_error_set(FMUGW_EIO, "runner: no result channel on fd 3: %s", strerror(errno));
        code = 2;
        kind = "platform";
        goto out;
    }
    setvbuf(out, NULL, _IOFBF, 64 * 1024);
    if (!getenv("FMUGW_RUNNER_PLAIN") && (prc = sandbox_policy_install())) {
        code = 2;
        kind = "platform";
        goto out;
    }
    /* What comes next is the FMU's (its model description, then its code):
     * say so on the status channel and close it. */
    if ((prc = sandbox_untrusted_begin())) {
        code = 2;
        kind = "platform";
        goto out;
    }
    status_to = -1;
    /* The model description is the FMU's, untrusted: parsed under the
     * filter, like everything after it. */
    if ((prc = fmi_fmu_open_dir(&fmu, a.fmu)))
        goto out;
    a.sim.progress = on_progress; /* fmi_run copies a.sim */
    a.sim.progress_ctx = NULL;
    prc = fmi_run(&a, fmu, out, on_log, on_call, &a, &res);
    if (fflush(out) != 0 && !prc)
        prc = fmugw_error_set(FMUGW_EIO, "writing results failed: %s", strerror(errno));
    if (!prc) {
        code = 0;
        kind = "ok";
    }
out:
    if (prc && saw_enomem) {
        code = 3;
        kind = "nomem";
    }
    if (prc && !*fmugw_error_last())
        fmugw_error_set(prc, "failed (code %d)", prc);
    emit("@status", "%s %zu %s", kind, res.rows, prc ? fmugw_error_last() : "");
    /* No cleanup past this point: the process ends, and unloading the FMU
     * would run its destructors for nothing. */
    _exit(code);
}
