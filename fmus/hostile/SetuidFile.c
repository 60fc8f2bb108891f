/* SetuidFile.c - hostile FMU: in fmi2DoStep, creates /tmp/suid-<target>
 * (uid 0 inside: root-owned where the scratch is a host directory mapped
 * so), sets mode 04755 on it, and keeps it there for `count` seconds
 * (default 3) so a test can look for it on the host. Then it reports the
 * scratch's mount flags: a setuid bit where the file system honours it, or
 * an executable scratch, is loot. Expected: fmu_error ("nosuid, noexec"),
 * and no setuid file on the host at any time. */
#include "hostile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

static int attack(hostile_ctx *h)
{
    char path[256];
    snprintf(path, sizeof path, "/tmp/suid-%s", hostile_target(h));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    if (fd < 0)
        return hostile_fail(h, "cannot create %s: %s", path, strerror(errno));
    ssize_t w = write(fd, "#!/bin/sh\nid\n", 13);
    (void)w;
    struct stat st;
    if (fchmod(fd, 04755) != 0 || fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return hostile_fail(h, "chmod 04755 %s: %s", path, strerror(e));
    }
    close(fd);
    struct timespec ts = { hostile_count(h) > 0 ? hostile_count(h) : 3, 0 };
    nanosleep(&ts, NULL);
    struct statvfs sv;
    if (statvfs("/tmp", &sv) != 0)
        return hostile_fail(h, "statvfs /tmp: %s", strerror(errno));
    int nosuid = (sv.f_flag & ST_NOSUID) != 0, noexec = (sv.f_flag & ST_NOEXEC) != 0;
    if ((st.st_mode & S_ISUID) && !nosuid) {
        hostile_loot(h, "setuid file %s (mode %o) on a file system that honours setuid", path,
                     (unsigned)st.st_mode & 07777);
        return 0;
    }
    if (!noexec) {
        hostile_loot(h, "the scratch allows exec (mode %o on %s)", (unsigned)st.st_mode & 07777, path);
        return 0;
    }
    return hostile_fail(h, "the scratch is nosuid, noexec: mode %o on %s is inert", (unsigned)st.st_mode & 07777,
                        path);
}

const hostile_def hostile_attack = { HOSTILE_AT_DOSTEP, attack };
