/* ReadOtherScratch.c - hostile FMU: lists the directory target (another
 * job's scratch directory) in fmi2DoStep and logs the files it can read. */
#include "hostile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static int attack(hostile_ctx *h)
{
    const char *dir = hostile_target(h);
    struct dirent *e;
    int nread = 0;
    DIR *d;

    if (!dir[0])
        return hostile_fail(h, "no directory given (parameter target)");
    if (!(d = opendir(dir)))
        return hostile_fail(h, "opendir %s: %s", dir, strerror(errno));
    while ((e = readdir(d))) {
        char buf[1024];
        ssize_t n;
        int fd;
        if (e->d_name[0] == '.')
            continue;
        if ((fd = openat(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
            continue;
        n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n < 0)
            continue;
        buf[n] = '\0';
        buf[strcspn(buf, "\r\n")] = '\0';
        hostile_loot(h, "%s/%s: %s", dir, e->d_name, buf);
        nread++;
    }
    closedir(d);
    return nread ? 0 : hostile_fail(h, "nothing readable in %s", dir);
}

const hostile_def hostile_attack = { HOSTILE_AT_DOSTEP, attack };
