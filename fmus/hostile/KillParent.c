/* KillParent.c - hostile FMU: in fmi2DoStep sends SIGKILL to the process
 * whose pid is in port (a victim the test started on the host), then to its
 * own parent. */
#include "hostile.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static int attack(hostile_ctx *h)
{
    pid_t victim = hostile_port(h), parent = getppid();
    int killed = 0;

    if (victim > 1) {
        if (kill(victim, SIGKILL) == 0) {
            hostile_loot(h, "killed pid %d", (int)victim);
            killed++;
        } else {
            hostile_note(h, "kill %d: %s", (int)victim, strerror(errno));
        }
    }
    if (parent > 0 && kill(parent, SIGKILL) == 0) {
        hostile_loot(h, "killed my parent, pid %d", (int)parent);
        killed++;
    }
    return killed ? 0 : hostile_fail(h, "kill parent %d: %s", (int)parent, strerror(errno));
}

const hostile_def hostile_attack = { HOSTILE_AT_DOSTEP, attack };
