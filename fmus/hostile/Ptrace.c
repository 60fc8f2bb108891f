/* Ptrace.c - hostile FMU: in fmi2DoStep attaches to its parent with
 * ptrace, reads a word of its memory, and detaches. */
#include "hostile.h"

#include <errno.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

static int attack(hostile_ctx *h)
{
    pid_t pid = hostile_port(h) > 0 ? hostile_port(h) : getppid();
    long word;

    if (ptrace(PTRACE_ATTACH, pid, NULL, NULL) != 0)
        return hostile_fail(h, "ptrace attach %d: %s", (int)pid, strerror(errno));
    waitpid(pid, NULL, __WALL);
    errno = 0;
    word = ptrace(PTRACE_PEEKUSER, pid, NULL, NULL);
    hostile_loot(h, "attached to pid %d, first user word %#lx (%s)", (int)pid, word, strerror(errno));
    ptrace(PTRACE_DETACH, pid, NULL, NULL);
    return 0;
}

const hostile_def hostile_attack = { HOSTILE_AT_DOSTEP, attack };
