/* Alloc64G.c - hostile FMU: in fmi2DoStep mallocs 64 GiB and touches every
 * page; when the single allocation is refused it goes on in 64 MiB chunks,
 * touching each, until 64 GiB are held or an allocation fails. */
#include "hostile.h"

#include <stdint.h>
#include <stdlib.h>

#define GIB ((size_t)1 << 30)
#define CHUNK ((size_t)64 << 20)
#define PAGE 4096

static void touch(char *p, size_t n)
{
    for (size_t i = 0; i < n; i += PAGE)
        ((volatile char *)p)[i] = 1;
}

static int attack(hostile_ctx *h)
{
    size_t want = 64 * GIB, held = 0, n = 0;
    char *chunks[64 * GIB / CHUNK];
    char *p = malloc(want);
    int rc = 0;

    if (p) {
        touch(p, want);
        hostile_loot(h, "malloc'd and touched 64 GiB in one block");
        free(p);
        return 0;
    }
    hostile_note(h, "malloc(64 GiB) failed; going on in 64 MiB chunks");
    while (held < want) {
        if (!(chunks[n] = malloc(CHUNK))) {
            rc = hostile_fail(h, "malloc failed after %zu MiB", held >> 20);
            break;
        }
        touch(chunks[n++], CHUNK);
        held += CHUNK;
    }
    if (rc == 0)
        hostile_loot(h, "malloc'd and touched %zu MiB", held >> 20);
    while (n)
        free(chunks[--n]);
    return rc;
}

const hostile_def hostile_attack = { HOSTILE_AT_DOSTEP, attack };
