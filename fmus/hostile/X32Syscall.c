/* X32Syscall.c - hostile FMU: in fmi2DoStep, makes a system call through
 * the x32 ABI (getpid with __X32_SYSCALL_BIT set), which the seccomp
 * filter sees as a number outside its x86-64 table. Expected:
 * forbidden_syscall (the whole process killed, not the calling thread
 * alone: the runner's other threads would keep it alive until the
 * deadline). */
#include "hostile.h"

static int attack(hostile_ctx *h)
{
#if defined(__x86_64__)
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(0x40000000L + 39) : "rcx", "r11", "memory");
    hostile_loot(h, "x32 getpid returned %ld", ret);
    return 0;
#else
    return hostile_fail(h, "x32 system calls exist on x86-64 only");
#endif
}

const hostile_def hostile_attack = { HOSTILE_AT_DOSTEP, attack };
