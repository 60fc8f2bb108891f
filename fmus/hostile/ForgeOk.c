/* ForgeOk.c - hostile FMU: burns `count` ms of CPU (default 500) in its
 * first fmi2DoStep, then writes a forged "@status ok 4" line (the row count
 * a whole run of 0.3 s at 0.1 s would have) to every descriptor but the
 * result stream, and exit(0) mid-run. Expected: fmu_error (the result
 * stream the parent saw is not a whole document), charged for the CPU. */
#include "forge.h"
#include "hostile.h"

#include <stdlib.h>

static int attack(hostile_ctx *h)
{
    forge_burn_cpu(hostile_count(h) > 0 ? hostile_count(h) : 500);
    forge_write_all("@status ok 4 \n", 3);
    _exit(0);
    return -1;
}

const hostile_def hostile_attack = { HOSTILE_AT_DOSTEP, attack };
