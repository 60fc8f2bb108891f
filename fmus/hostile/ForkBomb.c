/* ForkBomb.c - hostile FMU: forks count children (default 512) in
 * fmi2DoStep, each of which forks once more. Bounded, and every child exits
 * after two seconds, so that a broken sandbox shows up as a failed test
 * (and stray processes) rather than a dead machine. */
#include "hostile.h"

#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int attack(hostile_ctx *h)
{
    int n = hostile_count(h) > 0 ? hostile_count(h) : 512, forked = 0, e = 0;

    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            if (fork() == 0)
                sleep(2);
            sleep(2);
            _exit(0);
        }
        if (pid < 0) {
            e = errno;
            break;
        }
        forked++;
    }
    if (!forked)
        return hostile_fail(h, "fork: %s", strerror(e));
    hostile_loot(h, "forked %d of %d children", forked, n);
    while (waitpid(-1, NULL, 0) > 0)
        ;
    return 0;
}

const hostile_def hostile_attack = { HOSTILE_AT_DOSTEP, attack };
