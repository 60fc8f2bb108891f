/* FillScratch.c - hostile FMU: in fmi2DoStep, writes `count` MiB (default
 * 3000) into its scratch (/tmp), in files of 64 MiB (each under the
 * file-size limit). Expected: fmu_error, stopped by the scratch's size cap
 * ("stopped after N MiB"), nothing on the host's disks. */
#include "hostile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int attack(hostile_ctx *h)
{
    static char buf[1 << 20];
    int want = hostile_count(h) > 0 ? hostile_count(h) : 3000, done = 0;
    memset(buf, 'F', sizeof buf);
    for (int file = 0; done < want; file++) {
        char path[64];
        snprintf(path, sizeof path, "/tmp/fill-%d", file);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0)
            return hostile_fail(h, "stopped after %d MiB: open %s: %s", done, path, strerror(errno));
        for (int i = 0; i < 64 && done < want; i++, done++) {
            for (size_t off = 0; off < sizeof buf;) {
                ssize_t w = write(fd, buf + off, sizeof buf - off);
                if (w <= 0) {
                    int e = w < 0 ? errno : ENOSPC;
                    close(fd);
                    return hostile_fail(h, "stopped after %d MiB: write: %s", done, strerror(e));
                }
                off += (size_t)w;
            }
        }
        close(fd);
    }
    hostile_loot(h, "wrote %d MiB into the scratch", done);
    return 0;
}

const hostile_def hostile_attack = { HOSTILE_AT_DOSTEP, attack };
