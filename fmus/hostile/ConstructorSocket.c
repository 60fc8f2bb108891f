/* ConstructorSocket.c - hostile FMU: opens a socket in an ELF constructor,
 * i.e. while the importer is still inside dlopen(), before any FMI call.
 * fmi2Instantiate then reports whether that worked. In the sandbox the
 * policy must already be in force when the FMU is loaded. */
#include "hostile.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int early_fd = -1, early_errno;

__attribute__((constructor)) static void early(void)
{
    early_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    early_errno = errno;
}

static int attack(hostile_ctx *h)
{
    if (early_fd < 0)
        return hostile_fail(h, "socket in the constructor: %s", strerror(early_errno));
    close(early_fd);
    hostile_loot(h, "a constructor opened a socket during dlopen");
    return 0;
}

const hostile_def hostile_attack = { HOSTILE_AT_INSTANTIATE, attack };
