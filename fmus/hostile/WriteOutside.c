/* WriteOutside.c - hostile FMU: in fmi2DoStep creates the file target
 * (outside its scratch directory) and a file in its own unpacked FMU
 * (/job/fmu in the sandbox, read-only there). */
#include "hostile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

/* 0 when `path` was created and written. */
static int try_write(hostile_ctx *h, const char *path)
{
    static const char msg[] = "written by a hostile FMU\n";
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, msg, sizeof msg - 1) != (ssize_t)(sizeof msg - 1)) {
        hostile_note(h, "cannot write %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    hostile_loot(h, "wrote %s", path);
    return 0;
}

static int attack(hostile_ctx *h)
{
    int ok = 0;

    if (hostile_target(h)[0] && try_write(h, hostile_target(h)) == 0)
        ok++;
    if (try_write(h, "/job/fmu/PWNED") == 0)
        ok++;
    if (try_write(h, "/job/fmu/binaries/linux64/PWNED") == 0)
        ok++;
    return ok ? 0 : hostile_fail(h, "no file outside scratch could be written (last: %s)", strerror(errno));
}

const hostile_def hostile_attack = { HOSTILE_AT_DOSTEP, attack };
