/*
 * policy_gen.c - a build-time program (not part of fmugw_sandbox): the
 * runner's seccomp allow-list, written with libseccomp and compiled here
 * once into the classic BPF program that policy.c installs in every runner
 * (so no runner links libseccomp or builds the filter). See policy.h and
 * docs/sandbox.md.
 *
 * Usage: fmugw-policy-gen OUT.h. The only runtime value in the policy, the
 * runner's own pid (kill/tgkill), is compiled as a placeholder: the program
 * is generated twice with two different placeholders and the header lists
 * the instructions that differ (every one of them must be a JEQ against the
 * placeholder, else the build fails); policy.c writes the pid there.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Placeholders for the pid: positive 32-bit values no syscall number or
 * flag mask of the policy uses. */
#define PID_A 0x5eccf11du
#define PID_B 0x5eccf22du

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

/* Compiles the policy with `self` standing for the runner's pid into a
 * malloc'ed array of *n instructions (the caller frees it). 0 or -1 with a
 * message on stderr. */
static int compile(unsigned self, struct sock_filter **out, size_t *n)
{
    int rc = -1, r = 0;
    scmp_filter_ctx ctx = NULL;
    FILE *tmp = NULL;
    struct sock_filter *prog = NULL;
    const char *what = "seccomp_init";

    /* Everything not listed kills the whole process (SIGSYS). The native
     * architecture only: any other audit arch (int 0x80's i386) and, on
     * x86-64, any x32 number (__X32_SYSCALL_BIT) kill the whole process too
     * (libseccomp's architecture check, the first instructions of the
     * program, whose action is otherwise KILL_THREAD: the runner's other
     * threads would keep the job alive until its deadline). */
    if (!(ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)))
        goto fail;
    what = "bad-architecture action";
    if ((r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)))
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
    what = "seccomp_export_bpf";
    if (!(tmp = tmpfile())) {
        r = -errno;
        goto fail;
    }
    if ((r = seccomp_export_bpf(ctx, fileno(tmp))))
        goto fail;
    /* libseccomp wrote to the descriptor, past the FILE's buffer. */
    off_t len = lseek(fileno(tmp), 0, SEEK_END);
    if (len <= 0 || len % (off_t)sizeof *prog || len / (off_t)sizeof *prog > BPF_MAXINSNS) {
        fprintf(stderr, "policy_gen: exported program has a bad size (%lld bytes)\n", (long long)len);
        goto out;
    }
    *n = (size_t)len / sizeof *prog;
    if (!(prog = malloc((size_t)len)) || pread(fileno(tmp), prog, (size_t)len, 0) != (ssize_t)len) {
        fprintf(stderr, "policy_gen: reading the exported program failed\n");
        goto out;
    }
    /* Every way out of the program allows, fails with an errno or kills
     * the whole process: never a thread alone. */
    for (size_t i = 0; i < *n; i++) {
        if (prog[i].code != (BPF_RET | BPF_K))
            continue;
        uint32_t act = prog[i].k & SECCOMP_RET_ACTION_FULL;
        if (act != SECCOMP_RET_ALLOW && act != SECCOMP_RET_ERRNO && act != SECCOMP_RET_KILL_PROCESS) {
            fprintf(stderr, "policy_gen: instruction %zu returns action 0x%08x (only allow, errno and "
                            "kill-process are allowed)\n", i, (unsigned)act);
            goto out;
        }
    }
    *out = prog;
    prog = NULL;
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "policy_gen: %s failed: %s\n", what, strerror(r < 0 ? -r : EINVAL));
out:
    free(prog);
    if (tmp)
        fclose(tmp);
    if (ctx)
        seccomp_release(ctx);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = 1;
    struct sock_filter *a = NULL, *b = NULL;
    size_t na = 0, nb = 0, npid = 0, pid_at[16];
    FILE *f = NULL;

    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT.h\n", argv[0]);
        return 2;
    }
    if (compile(PID_A, &a, &na) || compile(PID_B, &b, &nb))
        goto out;
    if (na != nb) {
        fprintf(stderr, "policy_gen: the program's shape depends on the pid\n");
        goto out;
    }
    for (size_t i = 0; i < na; i++) {
        if (!memcmp(&a[i], &b[i], sizeof a[i]))
            continue;
        if (a[i].code != (BPF_JMP | BPF_JEQ | BPF_K) || b[i].code != a[i].code || a[i].k != PID_A ||
            b[i].k != PID_B || a[i].jt != b[i].jt || a[i].jf != b[i].jf || npid == sizeof pid_at / sizeof pid_at[0]) {
            fprintf(stderr, "policy_gen: instruction %zu differs other than in the pid\n", i);
            goto out;
        }
        pid_at[npid++] = i;
    }
    /* kill and tgkill (libseccomp may share one comparison between them). */
    if (npid < 1) {
        fprintf(stderr, "policy_gen: found no pid comparison\n");
        goto out;
    }
    if (!(f = fopen(argv[1], "w"))) {
        perror(argv[1]);
        goto out;
    }
    fprintf(f, "/* Generated by src/sandbox/policy_gen.c (libseccomp %d.%d.%d): do not edit. Included by\n"
               " * policy.c: the runner's seccomp program, with SANDBOX_POLICY_PID_PLACEHOLDER\n"
               " * where the runner's pid goes (the instructions in sandbox_policy_pid_at). */\n"
               "#include <linux/filter.h>\n\n"
               "#define SANDBOX_POLICY_PID_PLACEHOLDER 0x%08xu\n\n"
               "static const struct sock_filter sandbox_policy_prog[%zu] = {\n",
            SCMP_VER_MAJOR, SCMP_VER_MINOR, SCMP_VER_MICRO, PID_A, na);
    for (size_t i = 0; i < na; i++)
        fprintf(f, "    { 0x%04x, %u, %u, 0x%08xu },\n", a[i].code, a[i].jt, a[i].jf, a[i].k);
    fprintf(f, "};\n\nstatic const unsigned short sandbox_policy_pid_at[%zu] = {", npid);
    for (size_t i = 0; i < npid; i++)
        fprintf(f, "%s%zu", i ? ", " : " ", pid_at[i]);
    fprintf(f, " };\n");
    if (fclose(f) != 0) {
        f = NULL;
        perror(argv[1]);
        goto out;
    }
    f = NULL;
    rc = 0;
out:
    if (f)
        fclose(f);
    free(a);
    free(b);
    return rc;
}
