/* Segfault.c - hostile FMU: writes through a null pointer in
 * fmi2Instantiate. */
#include "hostile.h"

/* volatile: the compiler cannot prove it null and turn the store into a trap */
static int *volatile nowhere;

static int attack(hostile_ctx *h)
{
    *nowhere = 42;
    hostile_loot(h, "wrote through a null pointer and lived");
    return 0;
}

const hostile_def hostile_attack = { HOSTILE_AT_INSTANTIATE, attack };
