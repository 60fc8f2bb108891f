/*
 * policy.h - the runner's seccomp allow-list (compiled at build time).
 *
 * Installed by fmugw-runner after it has parsed its arguments and before
 * it reads the model description or loads any FMU code, and by
 * fmugw-validator before it opens the uploaded archive. Everything not on
 * the list kills the whole process (SIGSYS); see docs/sandbox.md for the
 * list and why each blocked class is blocked.
 */
#ifndef FMUGW_SANDBOX_POLICY_H
#define FMUGW_SANDBOX_POLICY_H

#include <stddef.h>

/** Sets PR_SET_NO_NEW_PRIVS and loads the allow-list for the calling
 *  process (all its threads). On failure returns FMUGW_ERROR with the
 *  reason in fmugw_error_last(); nothing is half-installed that would let
 *  FMU code run unfiltered (the caller must exit). */
int sandbox_policy_install(void);

/** The trust boundary of a program the sandbox runs (the runner, the
 *  validator): writes "L" on the status channel (fd SANDBOX_RUNNER_FD_STATUS,
 *  see init.h) and closes it. Call it once the seccomp filter is on and
 *  before anything untrusted is parsed or loaded: from then on, nothing
 *  the process says can make the job more than an FMU outcome. 0, or
 *  FMUGW_EIO when there is no status channel. */
int sandbox_untrusted_begin(void);

#endif
