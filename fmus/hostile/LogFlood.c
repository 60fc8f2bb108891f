/* LogFlood.c - hostile FMU: in fmi2DoStep logs count MiB (default 4096) of
 * Warning messages of 4000 bytes each. */
#include "hostile.h"

#include <stdio.h>
#include <string.h>

static int attack(hostile_ctx *h)
{
    unsigned long long want = (unsigned long long)(hostile_count(h) > 0 ? hostile_count(h) : 4096) << 20, sent = 0;
    char msg[4001];

    memset(msg, 'A', sizeof msg - 1);
    msg[sizeof msg - 1] = '\0';
    memcpy(msg, "flood ", 6);
    while (sent < want) {
        hostile_log_raw(h, msg);
        sent += sizeof msg - 1;
    }
    hostile_loot(h, "logged %llu MiB", sent >> 20);
    return 0;
}

const hostile_def hostile_attack = { HOSTILE_AT_DOSTEP, attack };
