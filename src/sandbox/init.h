/*
 * init.h - internals shared by sandbox.c (the parent side) and init.c (what
 * runs in the child: pid 1 of the new namespaces, and the runner child it
 * forks before exec). Not a public interface.
 */
#ifndef FMUGW_SANDBOX_INIT_H
#define FMUGW_SANDBOX_INIT_H

#include "sandbox.h"

#include <stdbool.h>

/* Everything the child needs, prepared by the parent before clone(): the
 * child only makes async-signal-safe calls (the parent may be threaded). */
typedef struct {
    bool isolate;
    /* Paths on the host, and detached mount trees (open_tree clones made by
     * the parent, -1 when it could not: init then binds the path). */
    const char *fmu_dir, *input_file, *scratch_dir;
    int fmu_tree, input_tree, scratch_tree;
    int runner_fd;       /* the runner executable, opened O_RDONLY|O_CLOEXEC */
    int result_w, log_w; /* become fd 3 and fd 4 of the runner */
    int ctl_w;           /* init -> parent: "E message" / "X wait-status" lines */
    int sync_r;          /* parent -> init: one byte once uid/gid maps are written */
    char *const *args;
    char *const *envp;
    sandbox_limits limits;
} sandbox__child;

/** Body of pid 1 inside the namespaces: mounts, pivot_root, fork + exec of
 *  the runner, wait, report on ctl_w. Never returns. */
void sandbox__init_main(const sandbox__child *c) __attribute__((noreturn));

/** Body of the plain (isolate = false) child: rlimits, fds, exec. Never
 *  returns. */
void sandbox__plain_main(const sandbox__child *c) __attribute__((noreturn));

#endif
