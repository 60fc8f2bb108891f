/* policy.c - the seccomp allow-list of fmugw-runner (see policy.h and
 * docs/sandbox.md). Only the runner links this file's caller. */
#include "policy.h"

#include "util/error.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

/* What glibc, libxml2, SUNDIALS, dlopen and ordinary FMU code need. */
static const int allowed[] = {
    SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(pread64),
    SCMP_SYS(pwrite64), SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(close), SCMP_SYS(fstat),
    SCMP_SYS(stat), SCMP_SYS(lstat), SCMP_SYS(newfstatat), SCMP_SYS(statx), SCMP_SYS(statfs),
    SCMP_SYS(fstatfs), SCMP_SYS(lseek), SCMP_SYS(mmap), SCMP_SYS(mprotect), SCMP_SYS(munmap),
    SCMP_SYS(mremap), SCMP_SYS(madvise), SCMP_SYS(mincore), SCMP_SYS(brk), SCMP_SYS(futex),
    SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres), SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep),
    SCMP_SYS(gettimeofday), SCMP_SYS(time), SCMP_SYS(times), SCMP_SYS(getrusage), SCMP_SYS(getpid),
    SCMP_SYS(gettid), SCMP_SYS(getppid), SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid),
    SCMP_SYS(getegid), SCMP_SYS(getresuid), SCMP_SYS(getresgid), SCMP_SYS(exit), SCMP_SYS(exit_group),
    SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigsuspend),
    SCMP_SYS(rt_sigtimedwait), SCMP_SYS(sigaltstack), SCMP_SYS(set_robust_list), SCMP_SYS(get_robust_list),
    SCMP_SYS(rseq), SCMP_SYS(set_tid_address), SCMP_SYS(getrandom), SCMP_SYS(getdents64),
    SCMP_SYS(fcntl), SCMP_SYS(dup), SCMP_SYS(dup2), SCMP_SYS(dup3), SCMP_SYS(access),
    SCMP_SYS(faccessat), SCMP_SYS(faccessat2), SCMP_SYS(readlink), SCMP_SYS(readlinkat),
    SCMP_SYS(getcwd), SCMP_SYS(chdir), SCMP_SYS(fchdir), SCMP_SYS(uname), SCMP_SYS(sched_yield),
    SCMP_SYS(sched_getaffinity), SCMP_SYS(getrlimit), SCMP_SYS(mkdir), SCMP_SYS(mkdirat),
    SCMP_SYS(rmdir), SCMP_SYS(unlink), SCMP_SYS(unlinkat), SCMP_SYS(rename), SCMP_SYS(renameat),
    SCMP_SYS(renameat2), SCMP_SYS(ftruncate), SCMP_SYS(fsync), SCMP_SYS(fdatasync),
    SCMP_SYS(fchmod), SCMP_SYS(umask), SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(pipe2),
    SCMP_SYS(sysinfo), SCMP_SYS(membarrier), SCMP_SYS(sched_getparam), SCMP_SYS(sched_getscheduler),
};

int sandbox_policy_install(void)
{
    int rc = FMUGW_ERROR, r = 0;
    scmp_filter_ctx ctx = NULL;
    const char *what = "seccomp_init";
    pid_t self = getpid();

    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        fmugw_error_set(FMUGW_ERROR, "sandbox: PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
        goto out;
    }
    if (!(ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)))
        goto fail;
    what = "allow rule";
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0] && !r; i++)
        r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
    if (r)
        goto fail;
    what = "conditional rule";
    /* Threads yes, new processes no. glibc tries clone3 first: make it
     * fall back to clone, whose flags seccomp can inspect. */
    if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD))) ||
        (r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0)) ||
        /* isatty() and friends: no terminal here. */
        (r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOTTY), SCMP_SYS(ioctl), 0)) ||
        /* raise()/abort() signal the process itself, nobody else. */
        (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self))) ||
        (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self))) ||
        /* Reading limits is fine, raising them is not. */
        (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prlimit64), 1, SCMP_A2(SCMP_CMP_EQ, 0))))
        goto fail;
    what = "seccomp_load";
    if ((r = seccomp_load(ctx)))
        goto fail;
    rc = 0;
    goto out;
fail:
    fmugw_error_set(FMUGW_ERROR, "sandbox: %s failed: %s", what, strerror(r < 0 ? -r : EINVAL));
out:
    if (ctx)
        seccomp_release(ctx);
    return rc;
}
