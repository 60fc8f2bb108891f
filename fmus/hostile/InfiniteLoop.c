/* InfiniteLoop.c - hostile FMU: spins on the CPU forever in fmi2DoStep. */
#include "hostile.h"

static int attack(hostile_ctx *h)
{
    volatile unsigned long spins = 0;

    (void)h;
    for (;;)
        spins++;
    return 0;
}

const hostile_def hostile_attack = { HOSTILE_AT_DOSTEP, attack };
