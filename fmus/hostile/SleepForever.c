/* SleepForever.c - hostile FMU: sleeps forever in fmi2DoStep. */
#include "hostile.h"

#include <unistd.h>

static int attack(hostile_ctx *h)
{
    (void)h;
    for (;;)
        sleep(3600);
    return 0;
}

const hostile_def hostile_attack = { HOSTILE_AT_DOSTEP, attack };
