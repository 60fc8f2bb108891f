/*
 * init.c - the child side of sandbox_run(), run by fmugw-init
 * (init_main.c): pid 1 of the new namespaces (builds the filesystem view,
 * forks and waits for the runner) and the runner's last steps before
 * execve (fds, rlimits, capabilities, signals); also sandbox__apply_rlimits,
 * which the pooled runner uses.
 *
 * fmugw-init is its own small single-threaded program, but the code keeps
 * to what was safe in a clone of a threaded parent: no malloc, no stdio
 * streams, no fork() with its atfork handlers; snprintf into stack buffers.
 */
#include "init.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <grp.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NEWROOT "/tmp"
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004

#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_ASAN 1
#endif
#endif

/* Set in the runner child, whose errors go to the status channel as an
 * "S platform" line (see init.h) instead of the ctl channel. */
static int in_runner_child;

/* Reports "E what: reason" to the parent and ends init. */
static void __attribute__((noreturn)) die(const sandbox__child *c, const char *what, const char *arg)
{
    char buf[512];
    int e = errno;
    const char *reason = strerrordesc_np(e);
    int n = snprintf(buf, sizeof buf, "%s sandbox setup: %s%s%s: %s\n", in_runner_child ? "S platform 0" : "E",
                     what, arg ? " " : "", arg ? arg : "",
                     reason ? reason : "error");
    if (n > 0 && c->ctl_w >= 0) {
        ssize_t w = write(c->ctl_w, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
        (void)w;
    }
    _exit(2);
}

static void reset_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            sigaction(s, &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* Closes every descriptor >= 3 but the ones in keep[] (a concurrent job's
 * pipe ends, inherited through clone, must not stay open here). */
static void close_others(int *keep, size_t n)
{
    /* insertion sort: n is tiny, and qsort is not async-signal-safe */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && cmp_int(&keep[j - 1], &keep[j]) > 0; j--) {
            int t = keep[j];
            keep[j] = keep[j - 1];
            keep[j - 1] = t;
        }
    unsigned lo = 3;
    for (size_t i = 0; i < n; i++) {
        if (keep[i] < (int)lo)
            continue;
        if ((unsigned)keep[i] > lo)
            syscall(SYS_close_range, lo, (unsigned)keep[i] - 1, 0);
        lo = (unsigned)keep[i] + 1;
    }
    syscall(SYS_close_range, lo, ~0U, 0);
}

static int set_limit(int res, rlim_t soft, rlim_t hard)
{
    struct rlimit rl = { soft, hard };
    return setrlimit(res, &rl);
}

int sandbox__apply_rlimits(const sandbox_limits *l)
{
    int rc = 0;
    rlim_t cpu = (rlim_t)ceil(l->cpu_limit_s > 0 ? l->cpu_limit_s : 1);
    rc |= set_limit(RLIMIT_CPU, cpu, cpu + 1); /* SIGXCPU at the limit, SIGKILL a second later */
#ifndef SANDBOX_ASAN
    /* ASan reserves terabytes of shadow address space: no RLIMIT_AS there. */
    if (l->memory_limit)
        rc |= set_limit(RLIMIT_AS, l->memory_limit, l->memory_limit);
#endif
    if (l->file_size_limit)
        rc |= set_limit(RLIMIT_FSIZE, l->file_size_limit, l->file_size_limit);
    if (l->max_open_files)
        rc |= set_limit(RLIMIT_NOFILE, l->max_open_files, l->max_open_files);
    if (l->max_threads)
        rc |= set_limit(RLIMIT_NPROC, l->max_threads, l->max_threads);
    rc |= set_limit(RLIMIT_CORE, 0, 0);
    rc |= set_limit(RLIMIT_MEMLOCK, 0, 0);
    return rc ? -1 : 0;
}

/* No capabilities now, none regained by execve (securebits), none in the
 * bounding set. Inside the user namespace we are uid 0, so this matters. */
static int drop_capabilities(void)
{
    if (prctl(PR_SET_SECUREBITS, 0x2f /* NOROOT, NOROOT_LOCKED, NO_SETUID_FIXUP(+LOCKED), KEEP_CAPS_LOCKED */,
              0, 0, 0) != 0)
        return -1;
    for (int cap = 0; cap <= 63; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
            return -1;
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    return (int)syscall(SYS_capset, &hdr, data);
}

#ifndef SANDBOX_ASAN
/* Address space the ELF image open on `fd` maps (its PT_LOAD segments,
 * page-rounded); 0 when it cannot tell. */
static uint64_t image_bytes(int fd)
{
    Elf64_Ehdr eh;
    Elf64_Phdr ph[32];
    uint64_t sum = 0;
    if (pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
        eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof ph[0] || eh.e_phnum > 32)
        return 0;
    size_t len = (size_t)eh.e_phnum * sizeof ph[0];
    if (pread(fd, ph, len, (off_t)eh.e_phoff) != (ssize_t)len)
        return 0;
    for (int i = 0; i < eh.e_phnum; i++)
        if (ph[i].p_type == PT_LOAD)
            sum += ((ph[i].p_vaddr % 4096) + ph[i].p_memsz + 4095) / 4096 * 4096;
    return sum;
}

/* The runner (its libraries linked in statically, ICU's data too) needs
 * its image and at least libc beside it: under a lower RLIMIT_AS the
 * kernel's execve would fail past its point of no return and leave only a
 * SIGSEGV. Say what it is instead, as the runner would (exit code 3). */
static void check_image_fits(const sandbox__child *c, int exe)
{
    uint64_t need = image_bytes(exe);
    if (c->limits.memory_limit && need && c->limits.memory_limit < need + (1u << 20)) {
        char buf[256];
        int n = snprintf(buf, sizeof buf,
                         "S nomem 0 the memory limit is below the %llu bytes the runner itself maps\n",
                         (unsigned long long)need + (1u << 20));
        if (n > 0) {
            ssize_t w = write(SANDBOX_RUNNER_FD_STATUS, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
            (void)w;
        }
        _exit(3);
    }
}
#else
/* No RLIMIT_AS under ASan (and the runner is dynamic there). */
static void check_image_fits(const sandbox__child *c, int exe)
{
    (void)c;
    (void)exe;
}
#endif

/* The runner child: fd 0 /dev/null, 1 and 2 and 4 the log pipe, 3 the
 * result pipe, 5 the status channel, 6 the job channel (pool mode); limits;
 * then execve. Never returns. */
static void __attribute__((noreturn)) exec_runner(const sandbox__child *c, int ctl_w)
{
    int r = fcntl(c->result_w, F_DUPFD, 10);
    int l = fcntl(c->log_w, F_DUPFD, 10);
    int s = fcntl(c->status_w, F_DUPFD, 10);
    int x = fcntl(c->runner_fd, F_DUPFD_CLOEXEC, 10);
    int j = c->job_r >= 0 ? fcntl(c->job_r, F_DUPFD, 10) : -1;
    int exe = SANDBOX_RUNNER_FD_JOB + 1;
    int n = open("/dev/null", O_RDWR);
    if (n < 0) { /* no usable /dev/null: stdin at end of file instead */
        int p[2];
        if (pipe(p) == 0) {
            close(p[1]);
            n = p[0];
        }
    }
    sandbox__child cc = *c;
    cc.ctl_w = s >= 0 ? s : l; /* errors from here on go to the status channel */
    in_runner_child = 1;
    (void)ctl_w;
    if (r < 0 || l < 0 || s < 0 || x < 0 || n < 0 || (c->job_r >= 0 && j < 0))
        die(&cc, "descriptors", NULL);
    if (dup2(n, 0) < 0 || dup2(l, 1) < 0 || dup2(l, 2) < 0 || dup2(r, 3) < 0 || dup2(l, 4) < 0 ||
        dup2(s, SANDBOX_RUNNER_FD_STATUS) < 0 || dup2(x, exe) < 0 || fcntl(exe, F_SETFD, FD_CLOEXEC) < 0 ||
        (j >= 0 ? dup2(j, SANDBOX_RUNNER_FD_JOB) < 0 : close(SANDBOX_RUNNER_FD_JOB) < 0 && errno != EBADF))
        die(&cc, "dup2", NULL);
    cc.ctl_w = SANDBOX_RUNNER_FD_STATUS;
    syscall(SYS_close_range, exe + 1, ~0U, 0);
    /* Pool mode: these are the pool's ceilings; the runner lowers them to
     * the job's limits once it has its job (sandbox__pool_receive). */
    sandbox__apply_rlimits(&c->limits);
    check_image_fits(c, exe);
    if (c->isolate && drop_capabilities() != 0)
        die(&cc, "dropping capabilities", NULL);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        die(&cc, "no_new_privs", NULL);
    syscall(SYS_execveat, exe, "", c->args, c->envp, AT_EMPTY_PATH);
    die(&cc, "execve of the runner", NULL);
}

/* A bind mount made read-only (and nosuid, nodev) in a second step, as
 * bind mounts need; flags the source mount already has are kept, since a
 * user namespace may not clear them. */
static void bind_ro(const sandbox__child *c, const char *src, const char *dst, bool rec)
{
    struct statvfs sv;
    if (mount(src, dst, NULL, MS_BIND | (rec ? MS_REC : 0), NULL) != 0)
        die(c, "bind mount", dst);
    unsigned long fl = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV;
    if (statvfs(dst, &sv) == 0) {
        if (sv.f_flag & ST_NOEXEC)
            fl |= MS_NOEXEC;
        if (sv.f_flag & ST_NOATIME)
            fl |= MS_NOATIME;
        if (sv.f_flag & ST_NODIRATIME)
            fl |= MS_NODIRATIME;
        if (sv.f_flag & ST_RELATIME)
            fl |= MS_RELATIME;
    }
    if (mount(NULL, dst, NULL, fl, NULL) != 0)
        die(c, "read-only remount", dst);
}

static void make_dir(const sandbox__child *c, const char *path, mode_t mode)
{
    if (mkdir(path, mode) != 0 && errno != EEXIST)
        die(c, "mkdir", path);
}

static void make_file(const sandbox__child *c, const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        die(c, "create", path);
    close(fd);
}

/* Attaches a detached tree prepared by the parent, or binds the host path
 * (opened earlier as host_fd) when there is none. */
static void attach(const sandbox__child *c, int tree, int host_fd, const char *dst, bool ro)
{
    if (tree >= 0) {
        if (syscall(SYS_move_mount, tree, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH) != 0)
            die(c, "move_mount", dst);
        return;
    }
    char src[64];
    snprintf(src, sizeof src, "/proc/self/fd/%d", host_fd);
    if (ro) {
        bind_ro(c, src, dst, true);
    } else {
        if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) != 0 ||
            mount(NULL, dst, NULL, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
            die(c, "bind mount", dst);
    }
}

/* Attaches a host directory (a prepared tree, or host_fd) read-only at
 * `dst` without its host path showing in /proc/self/mountinfo: a bind
 * mount's root field is its path within the host file system, so the
 * directory is presented at `dst` as a read-only overlay whose layers are
 * named "/proc/self/fd/N" (what mountinfo shows of it): the directory and
 * an empty one. The directory is host_fd, or a prepared tree attached at a
 * staging point first (overlayfs takes no detached mount as a layer: EPERM,
 * after 1.7 ms of work on this kernel), detached again once the overlay
 * holds it. */
static int overlay_at(int dir_fd, int empty_fd, const char *dst)
{
    char opts[128];
    snprintf(opts, sizeof opts, "lowerdir=/proc/self/fd/%d:/proc/self/fd/%d", dir_fd, empty_fd);
    return mount("overlay", dst, "overlay", MS_RDONLY | MS_NOSUID | MS_NODEV, opts);
}

static void attach_hidden(const sandbox__child *c, int tree, int host_fd, const char *dst)
{
    static const char stage[] = NEWROOT "/.stage", empty[] = NEWROOT "/.empty";
    make_dir(c, empty, 0500);
    int efd = open(empty, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (efd < 0)
        die(c, "open", empty);
    if (tree < 0) {
        if (overlay_at(host_fd, efd, dst) != 0)
            die(c, "overlay mount", dst);
    } else {
        make_dir(c, stage, 0700);
        attach(c, tree, host_fd, stage, true);
        int sfd = open(stage, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (sfd < 0)
            die(c, "open", stage);
        if (overlay_at(sfd, efd, dst) != 0)
            die(c, "overlay mount", dst);
        close(sfd);
        if (umount2(stage, MNT_DETACH) != 0 || rmdir(stage) != 0)
            die(c, "detaching", stage);
    }
    close(efd);
    if (rmdir(empty) != 0)
        die(c, "rmdir", empty);
}

/* The input file, copied into a tmpfs of its own size at /job/in (then
 * read-only), /job/input.csv a symlink to it: a bind of the file would
 * show its host path in mountinfo. `src` is an O_PATH descriptor of it. */
static void copy_input(const sandbox__child *c, int src)
{
    char path[64], opts[96];
    snprintf(path, sizeof path, "/proc/self/fd/%d", src);
    int in = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (in < 0 || fstat(in, &st) != 0 || !S_ISREG(st.st_mode))
        die(c, "open", c->input_file);
    make_dir(c, NEWROOT "/job/in", 0755);
    snprintf(opts, sizeof opts, "size=%llu,nr_inodes=4,mode=0755",
             (unsigned long long)st.st_size + 8192); /* tmpfs rounds to pages */
    if (mount("tmpfs", NEWROOT "/job/in", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) != 0)
        die(c, "tmpfs", "/job/in");
    int out = open(NEWROOT "/job/in/input.csv", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0)
        die(c, "create", "/job/in/input.csv");
    char buf[16384];
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            die(c, "read", c->input_file);
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                die(c, "write", "/job/in/input.csv");
            off += w;
        }
    }
    close(in);
    if (close(out) != 0 ||
        mount(NULL, NEWROOT "/job/in", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) != 0)
        die(c, "read-only remount", "/job/in");
    if (symlink("in/input.csv", NEWROOT "/job/input.csv") != 0)
        die(c, "symlink", "/job/input.csv");
}

/* /lib, /lib64, /bin ...: recreated as the same symlinks (merged /usr), or
 * bound read-only when they are real directories. */
static void link_or_bind(const sandbox__child *c, const char *name)
{
    char host[64], dst[96], target[256];
    struct stat st;
    snprintf(host, sizeof host, "/%s", name);
    snprintf(dst, sizeof dst, NEWROOT "/%s", name);
    if (lstat(host, &st) != 0)
        return;
    if (S_ISLNK(st.st_mode)) {
        ssize_t n = readlink(host, target, sizeof target - 1);
        if (n <= 0)
            die(c, "readlink", host);
        target[n] = 0;
        if (symlink(target, dst) != 0)
            die(c, "symlink", dst);
    } else if (S_ISDIR(st.st_mode)) {
        make_dir(c, dst, 0755);
        bind_ro(c, host, dst, true);
    }
}

static void build_root(const sandbox__child *c)
{
    int fmu_fd = -1, input_fd = -1, scratch_fd = -1;
    /* Host paths without a prepared tree: open them before NEWROOT hides
     * anything (bound through /proc/self/fd, which must be in this mount
     * namespace: hence opened here, not by the parent). */
    if (c->fmu_tree < 0 && (fmu_fd = open(c->fmu_dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
        die(c, "open", c->fmu_dir);
    if (c->input_file && c->input_tree < 0 && (input_fd = open(c->input_file, O_PATH | O_CLOEXEC)) < 0)
        die(c, "open", c->input_file);
    if (c->scratch_dir && c->scratch_tree < 0 &&
        (scratch_fd = open(c->scratch_dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
        die(c, "open", c->scratch_dir);

    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        die(c, "making mounts private", NULL);
    if (mount("tmpfs", NEWROOT, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,nr_inodes=64,mode=0755") != 0)
        die(c, "tmpfs root", NULL);
    make_dir(c, NEWROOT "/usr", 0755);
    bind_ro(c, "/usr", NEWROOT "/usr", true);
    static const char *const top[] = { "lib", "lib64", "lib32", "libx32", "bin", "sbin" };
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
        link_or_bind(c, top[i]);
    make_dir(c, NEWROOT "/etc", 0755);
    if (access("/etc/ld.so.cache", F_OK) == 0) {
        make_file(c, NEWROOT "/etc/ld.so.cache");
        bind_ro(c, "/etc/ld.so.cache", NEWROOT "/etc/ld.so.cache", false);
    }
    make_dir(c, NEWROOT "/job", 0755);
    if (c->pool) {
        /* The pooled sandbox's own directory: fmu/, input.csv (filled in by
         * the parent when a job is assigned) read-only, scratch/ writable. */
        attach_hidden(c, c->fmu_tree, fmu_fd, NEWROOT "/job");
    } else {
        make_dir(c, NEWROOT "/job/fmu", 0755);
        attach_hidden(c, c->fmu_tree, fmu_fd, NEWROOT "/job/fmu");
        if (c->input_file)
            copy_input(c, c->input_tree >= 0 ? c->input_tree : input_fd);
        make_dir(c, NEWROOT "/job/scratch", 0755);
    }
    /* The scratch: a tmpfs of this namespace, capped in bytes and inodes,
     * where no setuid bit, device or executable counts; it dies with the
     * sandbox and never touches the host's disks. Only a caller's own
     * helper (fmugw-validator unpacking for the workers) names a host
     * directory instead, bound nosuid, nodev, noexec. */
    if (c->scratch_dir) {
        attach(c, c->scratch_tree, scratch_fd, NEWROOT "/job/scratch", false);
        close(scratch_fd);
        scratch_fd = -1;
    }
    char opts[96];
    snprintf(opts, sizeof opts, "size=%llu,nr_inodes=%llu,mode=0700",
             (unsigned long long)(c->limits.scratch_bytes ? c->limits.scratch_bytes : 64u << 20),
             (unsigned long long)(c->limits.scratch_inodes ? c->limits.scratch_inodes : 4096));
    if (!c->scratch_dir &&
        mount("tmpfs", NEWROOT "/job/scratch", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) != 0)
        die(c, "tmpfs scratch", NULL);
    if (symlink("job/scratch", NEWROOT "/tmp") != 0)
        die(c, "symlink", "/tmp");
    make_dir(c, NEWROOT "/dev", 0755);
    static const char *const devs[] = { "null", "zero", "urandom" };
    for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++) {
        char src[32], dst[64];
        snprintf(src, sizeof src, "/dev/%s", devs[i]);
        snprintf(dst, sizeof dst, NEWROOT "/dev/%s", devs[i]);
        struct stat st;
        if (stat(src, &st) != 0 || !S_ISCHR(st.st_mode))
            continue; /* a host whose /dev/null is a plain file: do not share that file */
        make_file(c, dst);
        if (mount(src, dst, NULL, MS_BIND, NULL) != 0)
            die(c, "bind mount", dst);
    }
    make_dir(c, NEWROOT "/proc", 0555);
    if (mount("proc", NEWROOT "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
        die(c, "mount", "/proc");
    if (chdir(NEWROOT) != 0)
        die(c, "chdir", NEWROOT);
    if (syscall(SYS_pivot_root, ".", ".") != 0)
        die(c, "pivot_root", NULL);
    if (umount2(".", MNT_DETACH) != 0) /* the old root, stacked under the new one */
        die(c, "detaching the old root", NULL);
    if (chdir("/") != 0 || mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) != 0)
        die(c, "read-only root", NULL);
    if (sethostname("sandbox", 7) != 0)
        die(c, "sethostname", NULL);
    if (chdir("/job/scratch") != 0)
        die(c, "chdir", "/job/scratch");
    if (fmu_fd >= 0)
        close(fmu_fd);
    if (input_fd >= 0)
        close(input_fd);
}

void sandbox__init_main(const sandbox__child *c)
{
    int keep[] = { c->fmu_tree, c->input_tree, c->scratch_tree, c->runner_fd,
                   c->result_w, c->log_w, c->ctl_w, c->sync_r, c->job_r, c->status_w };
    char b;
    reset_signals();
    close_others(keep, sizeof keep / sizeof keep[0]);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (read(c->sync_r, &b, 1) != 1) /* parent gone, or it could not map our ids */
        _exit(2);
    close(c->sync_r);
    /* Become uid/gid 0 of the new namespace (nobody outside, or the
     * caller's own uid when it is not root), with no supplementary groups
     * (setgroups is denied, and needless, when the caller is not root). */
    /* Raw syscalls: glibc's set*id wrappers apply the change to every
     * thread (a signal broadcast under its stack-cache lock), and this is
     * a clone of a possibly threaded parent: a lock held by another parent
     * thread at clone time (pthread_create, thread exit) would never be
     * released here, and init would hang until the deadline. */
    if (syscall(SYS_setgroups, 0, NULL) != 0 && errno != EPERM)
        die(c, "setgroups", NULL);
    if (syscall(SYS_setresgid, 0, 0, 0) != 0 || syscall(SYS_setresuid, 0, 0, 0) != 0)
        die(c, "setresuid", NULL);
    /* A change of our ids outside (root's job becomes nobody) clears the
     * parent-death signal: set it again, then make sure the parent did not
     * die in between (its end of the ctl pipe is then closed: POLLERR). */
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    struct pollfd pf = { c->ctl_w, POLLOUT, 0 };
    if (poll(&pf, 1, 0) == 1 && (pf.revents & POLLERR))
        _exit(2);
    build_root(c);

    /* A raw clone, not fork(): no atfork handlers in this child. */
    pid_t pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
    if (pid < 0)
        die(c, "fork of the runner", NULL);
    if (pid == 0)
        exec_runner(c, c->ctl_w);
    close(c->result_w);
    close(c->log_w);
    close(c->status_w); /* the runner's alone: end of file for the parent once it has closed it */
    if (c->job_r >= 0)
        close(c->job_r); /* the runner's alone: the parent sees EPIPE when it is gone */
    /* Wait for the runner, sampling the scratch's use every 50 ms: each new
     * peak goes to the parent as "U KIB FILES" at once, so it has the
     * figures even if it kills us. */
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    /* the empty tmpfs (its root inode) is the baseline: an idle pooled
     * sandbox must stay silent on ctl (pool.c takes any line as its end) */
    unsigned long long peak_kb = 0, peak_files = 0;
    struct statvfs sv0;
    if (statvfs("/job/scratch", &sv0) == 0) {
        peak_kb = (unsigned long long)(sv0.f_blocks - sv0.f_bfree) * sv0.f_frsize / 1024;
        peak_files = (unsigned long long)(sv0.f_files - sv0.f_ffree);
    }
    for (;;) {
        int st;
        pid_t w = waitpid(-1, &st, WNOHANG);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            die(c, "waitpid", NULL);
        struct statvfs sv;
        if (!c->scratch_dir && statvfs("/job/scratch", &sv) == 0) {
            unsigned long long kb = (unsigned long long)(sv.f_blocks - sv.f_bfree) * sv.f_frsize / 1024;
            unsigned long long files = (unsigned long long)(sv.f_files - sv.f_ffree);
            if (kb > peak_kb || files > peak_files) {
                peak_kb = kb > peak_kb ? kb : peak_kb;
                peak_files = files > peak_files ? files : peak_files;
                char ubuf[64];
                int un = snprintf(ubuf, sizeof ubuf, "U %llu %llu\n", peak_kb, peak_files);
                ssize_t uw = write(c->ctl_w, ubuf, (size_t)un);
                (void)uw;
            }
        }
        if (w == 0) {
            struct timespec ts = { 0, 50 * 1000000L };
            sigtimedwait(&chld, NULL, &ts);
            continue;
        }
        if (w == pid) {
            char buf[32];
            int n = snprintf(buf, sizeof buf, "X %d\n", st);
            ssize_t wr = write(c->ctl_w, buf, (size_t)n);
            (void)wr;
            _exit(0);
        }
    }
}

void sandbox__plain_main(const sandbox__child *c)
{
    int keep[] = { c->runner_fd, c->result_w, c->log_w, c->status_w };
    in_runner_child = 1;
    reset_signals();
    close_others(keep, sizeof keep / sizeof keep[0]);
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (c->scratch_dir && chdir(c->scratch_dir) != 0) {
        sandbox__child cc = *c;
        cc.ctl_w = c->status_w;
        die(&cc, "chdir", c->scratch_dir);
    }
    exec_runner(c, -1);
}
