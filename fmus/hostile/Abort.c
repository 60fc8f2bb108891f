/* Abort.c - hostile FMU: calls abort() in fmi2Instantiate. */
#include "hostile.h"

#include <stdlib.h>

static int attack(hostile_ctx *h)
{
    (void)h;
    abort();
}

const hostile_def hostile_attack = { HOSTILE_AT_INSTANTIATE, attack };
