/* ExecShell.c - hostile FMU: replaces the process with /bin/sh (then
 * /usr/bin/sh) in fmi2Instantiate. The shell prints a loot line on stdout
 * and stderr and exits 0. */
#include "hostile.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static int attack(hostile_ctx *h)
{
    static const char script[] = "echo \"" HOSTILE_LOOT_TAG ": /bin/sh runs as uid $(id -u 2>/dev/null)\"; "
                                 "echo \"" HOSTILE_LOOT_TAG ": /bin/sh runs\" >&2; exit 0";
    char *const argv[] = { "sh", "-c", (char *)script, NULL };
    char *const envp[] = { "PATH=/usr/bin:/bin", NULL };

    execve("/bin/sh", argv, envp);
    hostile_note(h, "execve /bin/sh: %s", strerror(errno));
    execve("/usr/bin/sh", argv, envp);
    return hostile_fail(h, "execve /usr/bin/sh: %s", strerror(errno));
}

const hostile_def hostile_attack = { HOSTILE_AT_INSTANTIATE, attack };
