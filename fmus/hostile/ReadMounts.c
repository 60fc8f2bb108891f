/* ReadMounts.c - hostile FMU: in fmi2DoStep, reads /proc/self/mountinfo
 * and /proc/self/cgroup (and pid 1's) and reports every line that names
 * something of the host: a mount whose root within its file system is
 * neither "/" nor its own mount point (a bind of a host directory), a
 * path in a mount's options other than /proc/self/fd/N, a cgroup other
 * than the namespace's root. Expected: fmu_error ("no host path"). */
#include "hostile.h"

#include <stdio.h>
#include <string.h>

/* Whether `root` (mountinfo field 4) says no more than `point` (field 5). */
static int harmless_root(const char *root, const char *point)
{
    size_t r = strlen(root), p = strlen(point);
    return !strcmp(root, "/") || (r <= p && !strcmp(point + p - r, root));
}

/* Whether the options hold a path that is not /proc/self/fd/N. */
static int option_path(const char *opts)
{
    for (const char *p = strchr(opts, '/'); p; p = strchr(p + 1, '/')) {
        if (p > opts && (p[-1] == '=' || p[-1] == ':') && strncmp(p, "/proc/self/fd/", 14) != 0)
            return 1;
    }
    return 0;
}

static int attack(hostile_ctx *h)
{
    static const char *const mounts[] = { "/proc/self/mountinfo", "/proc/1/mountinfo" };
    static const char *const cgroups[] = { "/proc/self/cgroup", "/proc/1/cgroup" };
    char line[2048];
    int n_mounts = 0, n_cgroups = 0, leaks = 0;
    for (size_t i = 0; i < 2; i++) {
        FILE *f = fopen(mounts[i], "r");
        while (f && fgets(line, sizeof line, f)) {
            char root[1024], point[1024];
            line[strcspn(line, "\n")] = 0;
            n_mounts++;
            const char *dash = strstr(line, " - ");
            if (sscanf(line, "%*s %*s %*s %1023s %1023s", root, point) != 2 || !harmless_root(root, point) ||
                (dash && option_path(dash))) {
                hostile_loot(h, "%s: %s", mounts[i], line);
                leaks++;
            }
        }
        if (f)
            fclose(f);
    }
    for (size_t i = 0; i < 2; i++) {
        FILE *f = fopen(cgroups[i], "r");
        while (f && fgets(line, sizeof line, f)) {
            line[strcspn(line, "\n")] = 0;
            n_cgroups++;
            const char *path = strrchr(line, ':');
            if (!path || strcmp(path, ":/") != 0) {
                hostile_loot(h, "%s: %s", cgroups[i], line);
                leaks++;
            }
        }
        if (f)
            fclose(f);
    }
    if (leaks)
        return 0;
    return hostile_fail(h, "no host path in %d mountinfo lines, no host cgroup in %d cgroup lines", n_mounts,
                        n_cgroups);
}

const hostile_def hostile_attack = { HOSTILE_AT_DOSTEP, attack };
