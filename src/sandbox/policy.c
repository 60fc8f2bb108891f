/* policy.c - installs the seccomp allow-list of fmugw-runner (see policy.h
 * and docs/sandbox.md), and marks the trust boundary on the status channel
 * (sandbox_untrusted_begin). The rules live in policy_gen.c, which compiles them
 * with libseccomp at build time into the BPF program included below; here
 * the runner's pid is written into it and it is loaded with two system
 * calls. Only the runner links this file's caller. */
#include "policy.h"

#include "util/error.h"

#include "sandbox/init.h"
#include "sandbox_policy_bpf.h" /* generated: sandbox_policy_prog, _pid_at */

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PROG_LEN (sizeof sandbox_policy_prog / sizeof sandbox_policy_prog[0])

int sandbox_policy_install(void)
{
    static struct sock_filter prog[PROG_LEN];
    struct sock_fprog fprog = { .len = (unsigned short)PROG_LEN, .filter = prog };
    pid_t self = getpid();

    memcpy(prog, sandbox_policy_prog, sizeof prog);
    for (size_t i = 0; i < sizeof sandbox_policy_pid_at / sizeof sandbox_policy_pid_at[0]; i++) {
        struct sock_filter *ins = &prog[sandbox_policy_pid_at[i]];
        if (ins->code != (BPF_JMP | BPF_JEQ | BPF_K) || ins->k != SANDBOX_POLICY_PID_PLACEHOLDER)
            return fmugw_error_set(FMUGW_ERROR, "sandbox: the compiled seccomp program is inconsistent");
        ins->k = (uint32_t)self;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return fmugw_error_set(FMUGW_ERROR, "sandbox: PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0)
        return fmugw_error_set(FMUGW_ERROR, "sandbox: loading the seccomp filter failed: %s", strerror(errno));
    return 0;
}

int sandbox_untrusted_begin(void)
{
    static const char loading[] = "L\n";
    if (write(SANDBOX_RUNNER_FD_STATUS, loading, sizeof loading - 1) != (ssize_t)(sizeof loading - 1))
        return fmugw_error_set(FMUGW_EIO, "sandbox: no status channel on fd %d: %s", SANDBOX_RUNNER_FD_STATUS,
                               strerror(errno));
    close(SANDBOX_RUNNER_FD_STATUS);
    return 0;
}
