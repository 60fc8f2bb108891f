/* Int80.c - hostile FMU: in fmi2DoStep, makes a 32-bit system call with
 * `int 0x80` (i386 getpid), which the seccomp filter sees with another
 * audit architecture. Expected: forbidden_syscall (the whole process
 * killed). */
#include "hostile.h"

static int attack(hostile_ctx *h)
{
#if defined(__x86_64__)
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory");
    hostile_loot(h, "int 0x80 getpid returned %ld", ret);
    return 0;
#else
    return hostile_fail(h, "int 0x80 exists on x86 only");
#endif
}

const hostile_def hostile_attack = { HOSTILE_AT_DOSTEP, attack };
