/* InheritedFds.c - hostile FMU: in fmi2DoStep looks at every open file
 * descriptor above 4 (0-2 are stdio, 3 and 4 the sandbox's result and log
 * channels) and reports what it names; for a directory it also lists the
 * directory's parent, the way a leaked descriptor escapes a mount view. */
#include "hostile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int attack(hostile_ctx *h)
{
    int found = 0;

    for (int fd = 5; fd < 1024; fd++) {
        char link[64], where[512] = "?";
        struct stat st;
        ssize_t n;

        if (fstat(fd, &st) != 0)
            continue;
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        if ((n = readlink(link, where, sizeof where - 1)) >= 0)
            where[n] = '\0';
        found++;
        if (S_ISDIR(st.st_mode)) {
            int up = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            DIR *d = up >= 0 ? fdopendir(up) : NULL;
            struct dirent *e;
            char names[1024] = "";
            size_t len = 0;
            while (d && (e = readdir(d)) && len < sizeof names - 300)
                len += (size_t)snprintf(names + len, sizeof names - len, " %s", e->d_name);
            if (d)
                closedir(d);
            else if (up >= 0)
                close(up);
            hostile_loot(h, "fd %d is the directory %s; its parent holds:%s", fd, where, names);
        } else {
            hostile_loot(h, "fd %d is open: %s (mode %o)", fd, where, (unsigned)st.st_mode);
        }
    }
    return found ? 0 : hostile_fail(h, "no descriptor above 4 is open");
}

const hostile_def hostile_attack = { HOSTILE_AT_DOSTEP, attack };
