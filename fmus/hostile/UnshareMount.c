/* UnshareMount.c - hostile FMU: in fmi2DoStep makes itself new user and
 * mount namespaces and mounts a tmpfs over /tmp, then tries a mount in the
 * namespaces it was given. */
#include "hostile.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>

static int attack(hostile_ctx *h)
{
    const char *where = hostile_target(h)[0] ? hostile_target(h) : "/tmp";
    int got = 0;

    if (unshare(CLONE_NEWUSER | CLONE_NEWNS) == 0) {
        hostile_loot(h, "unshared user and mount namespaces");
        got++;
    } else {
        hostile_note(h, "unshare: %s", strerror(errno));
    }
    if (mount("hostile", where, "tmpfs", 0, "size=1m") == 0) {
        hostile_loot(h, "mounted a tmpfs on %s", where);
        umount2(where, MNT_DETACH);
        got++;
    } else {
        hostile_note(h, "mount %s: %s", where, strerror(errno));
    }
    return got ? 0 : hostile_fail(h, "neither unshare nor mount worked");
}

const hostile_def hostile_attack = { HOSTILE_AT_DOSTEP, attack };
