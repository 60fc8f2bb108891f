/* DeepChain.c - hostile FMU: in fmi2DoStep, builds a chain of `count`
 * nested directories (default 3000, named "d": 6,000 characters of path,
 * beyond PATH_MAX) in its scratch, relative to directory descriptors, with
 * a file at the bottom, and leaves it there. Nothing to loot inside: the
 * attack is on the host, whose clean-up once failed on such a tree and
 * whose daemon then refused to start. Expected: the job finishes (the
 * chain dies with the sandbox's scratch), the daemon restarts. */
#include "hostile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int attack(hostile_ctx *h)
{
    int want = hostile_count(h) > 0 ? hostile_count(h) : 3000, made = 0;
    int cur = open("/tmp", O_RDONLY | O_DIRECTORY);
    if (cur < 0)
        return hostile_fail(h, "open /tmp: %s", strerror(errno));
    for (; made < want; made++) {
        if (mkdirat(cur, "d", 0700) != 0)
            break;
        int next = openat(cur, "d", O_RDONLY | O_DIRECTORY);
        close(cur);
        if ((cur = next) < 0)
            return hostile_fail(h, "stopped at depth %d: %s", made, strerror(errno));
    }
    int f = openat(cur, "bottom", O_WRONLY | O_CREAT, 0600);
    if (f >= 0)
        close(f);
    close(cur);
    hostile_note(h, "left a chain of %d directories in the scratch", made);
    return 0;
}

const hostile_def hostile_attack = { HOSTILE_AT_DOSTEP, attack };
