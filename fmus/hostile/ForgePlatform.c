/* ForgePlatform.c - hostile FMU: burns `count` ms of CPU (default 500) in
 * fmi2DoStep, then writes forged runner and init status lines claiming a
 * platform failure ("@status platform", the status channel's "S platform",
 * init's "X 0" and "E" lines) to every descriptor it has, and _exit(2), the
 * runner's "platform failure" exit code. Expected: fmu_error, charged for
 * the CPU, and none of its text in the job's error. */
#include "forge.h"
#include "hostile.h"

static int attack(hostile_ctx *h)
{
    forge_burn_cpu(hostile_count(h) > 0 ? hostile_count(h) : 500);
    forge_write_all("@status platform 0 FORGED-PLATFORM sandbox setup: the host is broken\n"
                    "S platform 0 FORGED-PLATFORM sandbox setup: the host is broken\n"
                    "X 0\nE FORGED-PLATFORM init failed\n", 3);
    _exit(2);
    return -1;
}

const hostile_def hostile_attack = { HOSTILE_AT_DOSTEP, attack };
