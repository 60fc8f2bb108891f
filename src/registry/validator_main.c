/*
 * validator_main.c - fmugw-validator: the registry's evaluation of an
 * uploaded FMU (evaluate.h), run by registry.c inside the sandbox
 * (sandbox_run: namespaces, rlimits, a size-capped tmpfs as /tmp) so that
 * the daemon never parses an untrusted zip or XML document itself.
 *
 * usage: fmugw-validator FMU_PATH    (the archive, read-only; in the
 * sandbox /job/fmu/model.fmu). The answer (one JSON document, at most
 * REGISTRY_ANSWER_MAX bytes) goes to fd 3; the last line on fd 4 is the
 * runner's "@status KIND 0 MESSAGE" (ok, error), or, before the archive is
 * opened, "S KIND 0 MESSAGE" on the status channel (fd 5: init.h). Exit code 0
 * when an answer was written (whatever the verdict), 1 when the
 * evaluation failed, 2 when the sandbox's channels or policy failed.
 *
 * usage: fmugw-validator --unpack FMU_PATH TARGET MAX_BYTES
 * The workers' unpacking of an FMU for its jobs (src/jobs/worker.c):
 * fmi_archive_extract of the whole archive into TARGET (a new directory in
 * the sandbox's writable /job/scratch), writing at most MAX_BYTES. Nothing
 * on fd 3; "@status ok" and exit 0 when unpacked, "@status error" and
 * exit 1 with the reason otherwise.
 *
 * Order matters: the result channel is opened and the seccomp allow-list
 * installed (policy.c, the runner's) before the archive is opened, so not
 * one byte of it is parsed unfiltered.
 */
#include "fmi/archive.h"
#include "registry/evaluate.h"
#include "sandbox/init.h"
#include "sandbox/policy.h"
#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RESULT_FD 3
#define LOG_FD 4

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* Until sandbox_untrusted_begin, the status channel (fd 5, "S" lines) is
 * open: what is said there is believed (init.h); after it, fd 4. */
static bool trusted = true;

static void status(const char *kind, const char *msg)
{
    char line[1024];
    int n = snprintf(line, sizeof line, "%s %s 0 %s", trusted ? "S" : "@status", kind, msg);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof line - 1 ? (size_t)n : sizeof line - 2;
    for (size_t i = 0; i < len; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[len++] = '\n';
    write_all(trusted ? SANDBOX_RUNNER_FD_STATUS : LOG_FD, line, len);
}

_Noreturn static void unpack(const char *zip, const char *target, const char *max_text)
{
    char *end;
    errno = 0;
    unsigned long long max = strtoull(max_text, &end, 10);
    if (errno || *end || end == max_text || max == 0) {
        status("platform", "bad MAX_BYTES");
        _exit(2);
    }
    fmi_archive_limits lim = FMI_ARCHIVE_LIMITS_INIT;
    if (lim.max_total_size > max)
        lim.max_total_size = max;
    if (fmi_archive_extract(zip, target, &lim) != 0) {
        status("error", fmugw_error_last());
        _exit(1);
    }
    status("ok", "");
    _exit(0);
}

int main(int argc, char **argv)
{
    /* Started by sandbox_run (isolated): the arguments come on the job
     * channel, not through execve. */
    if (argc == 2 && !strcmp(argv[1], "--job-fd")) {
        char **job_argv;
        if (sandbox__pool_receive(SANDBOX_RUNNER_FD_JOB, false, &argc, &job_argv) != 0) {
            status("platform", fmugw_error_last());
            _exit(2);
        }
        argv = job_argv; /* kept until _exit */
    }
    bool unpacking = argc == 5 && !strcmp(argv[1], "--unpack");
    if (argc != 2 && !unpacking) {
        fprintf(stderr, "usage: fmugw-validator FMU_PATH | --unpack FMU_PATH TARGET MAX_BYTES\n");
        return 2;
    }
    if (!unpacking && fcntl(RESULT_FD, F_GETFD) < 0) {
        status("platform", "no result channel on fd 3");
        _exit(2);
    }
    if (!getenv("FMUGW_RUNNER_PLAIN") && sandbox_policy_install() != 0) {
        status("platform", fmugw_error_last());
        _exit(2);
    }
    /* the archive comes next: untrusted */
    if (sandbox_untrusted_begin() != 0) {
        status("platform", fmugw_error_last());
        _exit(2);
    }
    trusted = false;
    if (unpacking)
        unpack(argv[2], argv[3], argv[4]);
    const char *tmp = getenv("TMPDIR");
    json_t *answer = NULL;
    if (registry_evaluate_file(&answer, argv[1], tmp && *tmp ? tmp : "/tmp") != 0) {
        status("error", fmugw_error_last());
        _exit(1);
    }
    size_t len = 0;
    char *text = registry_evaluate_dump(answer, &len);
    if (!text) {
        status("error", "out of memory");
        _exit(1);
    }
    write_all(RESULT_FD, text, len);
    status("ok", "");
    _exit(0);
}
