/* ManyFiles.c - hostile FMU: in fmi2DoStep, creates `count` empty files
 * (default 300,000) in its scratch, 1000 per directory. Expected:
 * fmu_error, stopped by the scratch's inode cap ("stopped after N files"). */
#include "hostile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int attack(hostile_ctx *h)
{
    int want = hostile_count(h) > 0 ? hostile_count(h) : 300000;
    for (int i = 0; i < want; i++) {
        char path[64];
        if (i % 1000 == 0) {
            snprintf(path, sizeof path, "/tmp/d%d", i / 1000);
            if (mkdir(path, 0700) != 0)
                return hostile_fail(h, "stopped after %d files: mkdir: %s", i, strerror(errno));
        }
        snprintf(path, sizeof path, "/tmp/d%d/f%d", i / 1000, i);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0)
            return hostile_fail(h, "stopped after %d files: %s", i, strerror(errno));
        close(fd);
    }
    hostile_loot(h, "created %d files in the scratch", want);
    return 0;
}

const hostile_def hostile_attack = { HOSTILE_AT_DOSTEP, attack };
