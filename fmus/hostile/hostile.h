/*
 * hostile.h - the one hook a hostile test FMU implements (see README.md).
 *
 * hostile_fmu.c is a minimal FMI 2.0 Co-Simulation FMU (variables: output
 * x = time, output pwned, parameters target / port / count) that calls the
 * FMU's attack once, in fmi2Instantiate or in the first fmi2DoStep as the
 * FMU's hostile_def says. These FMUs exist to test the sandbox: every attack
 * is real (actual socket/connect, fork, execve, ptrace ... calls). An attack
 * that gets through logs its loot with hostile_loot() (status Warning, so
 * `fmugw sim` always shows it), sets pwned = 1 and the call returns fmi2OK;
 * a blocked attack returns -1 with a message and the call returns fmi2Error.
 */
#ifndef FMUGW_HOSTILE_H
#define FMUGW_HOSTILE_H

#include <stddef.h>

/* Prefix of every loot line: tests grep for it. */
#define HOSTILE_LOOT_TAG "HOSTILE-LOOT"

typedef struct hostile_ctx hostile_ctx;

typedef enum { HOSTILE_AT_INSTANTIATE, HOSTILE_AT_DOSTEP } hostile_when;

typedef struct {
    hostile_when when;
    /* Returns 0 when the attack succeeded (loot logged), -1 when it was
     * stopped (reason logged with hostile_fail()); may never return. */
    int (*attack)(hostile_ctx *h);
} hostile_def;

/** Defined by each hostile FMU's attack file. */
extern const hostile_def hostile_attack;

/** The String parameter "target" (a path, host name or variable name; ""
 *  when not set). Borrowed. */
const char *hostile_target(const hostile_ctx *h);
/** The Integer parameters "port" and "count" (0 when not set). */
int hostile_port(const hostile_ctx *h);
int hostile_count(const hostile_ctx *h);

/** Logs "HOSTILE-LOOT: <message>" with status Warning (printf format). */
void hostile_loot(hostile_ctx *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Logs a message with status Error (printf format) and returns -1. */
int hostile_fail(hostile_ctx *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Logs a message with status OK (progress notes; printf format). */
void hostile_note(hostile_ctx *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Sends one raw message of status Warning (no formatting, no tag): for
 *  the log flood, which wants no per-message overhead. */
void hostile_log_raw(hostile_ctx *h, const char *message);

#endif
