/* StackOverflow.c - hostile FMU: recurses without end in fmi2DoStep, 4 KiB
 * of stack per call. */
#include "hostile.h"

#include <string.h>

/* never reached: 4 KiB * ULONG_MAX; volatile so the compiler sees an exit */
static volatile unsigned long max_depth = ~0UL;

__attribute__((noinline)) static unsigned long dive(unsigned long depth)
{
    volatile char frame[4096];

    if (depth >= max_depth)
        return 0;
    memset((char *)frame, (int)(depth & 0x7f), sizeof frame);
    /* use the frame after the call: no tail call */
    return dive(depth + 1) + frame[depth % sizeof frame];
}

static int attack(hostile_ctx *h)
{
    hostile_loot(h, "recursion returned %lu", dive(0));
    return 0;
}

const hostile_def hostile_attack = { HOSTILE_AT_DOSTEP, attack };
