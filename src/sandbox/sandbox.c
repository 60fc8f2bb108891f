/*
 * sandbox.c - the parent side of sandbox_run(): prepares the child's view
 * (detached, id-mapped mount trees when running as root), spawns pid 1 of
 * the new namespaces (sandbox__spawn: a vfork-style clone that execs the
 * small fmugw-init, which runs init.c), writes its uid/gid maps, then streams the
 * result and log pipes with the output cap and the wall-clock deadline,
 * reaps, meters and classifies the outcome. See sandbox.h and
 * docs/sandbox.md.
 */
#include "sandbox.h"

#include "init.h"
#include "util/error.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SANDBOX_UID 65534 /* nobody: what uid 0 inside is outside */

#define OPEN_TREE_CLONE 1
#define AT_RECURSIVE_ 0x8000
#define MOUNT_ATTR_RDONLY_ 0x00000001
#define MOUNT_ATTR_NOSUID_ 0x00000002
#define MOUNT_ATTR_NODEV_ 0x00000004
#define MOUNT_ATTR_NOEXEC_ 0x00000008
#define MOUNT_ATTR_IDMAP_ 0x00100000

struct mount_attr_ {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
};

const char *sandbox_outcome_name(sandbox_outcome o)
{
    static const char *const names[] = { "finished", "fmu_error", "timeout", "cpu_limit", "memory_limit",
                                         "output_limit", "forbidden_syscall", "crashed", "platform_error",
                                         "canceled" };
    return (unsigned)o < sizeof names / sizeof names[0] ? names[o] : "unknown";
}

char *sandbox_default_runner(void)
{
    const char *env = getenv("FMUGW_RUNNER");
    if (env && *env)
        return strdup(env);
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return NULL;
    self[n] = 0;
    const char *dir = dirname(self);
    size_t len = strlen(dir) + sizeof "/fmugw-runner";
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%s/fmugw-runner", dir);
    return p;
}

char *sandbox_default_validator(void)
{
    const char *env = getenv("FMUGW_VALIDATOR");
    if (env && *env)
        return strdup(env);
    char *runner = sandbox_default_runner(), *p = NULL;
    char *slash = runner ? strrchr(runner, '/') : NULL;
    if (slash && asprintf(&p, "%.*s/fmugw-validator", (int)(slash - runner), runner) < 0)
        p = NULL;
    free(runner);
    return p;
}

uint64_t sandbox__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    int e = errno;
    close(fd);
    errno = e;
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* uid/gid 0 inside -> `outside` outside. An unprivileged caller must deny
 * setgroups first; root keeps it so init can clear its groups. */
int sandbox__write_id_maps(pid_t pid, unsigned outside)
{
    char path[64], map[64];
    snprintf(map, sizeof map, "0 %u 1\n", outside);
    snprintf(path, sizeof path, "/proc/%d/setgroups", (int)pid);
    if (geteuid() != 0 && write_file(path, "deny") != 0 && errno != ENOENT)
        return -1;
    snprintf(path, sizeof path, "/proc/%d/uid_map", (int)pid);
    if (write_file(path, map) != 0)
        return -1;
    snprintf(path, sizeof path, "/proc/%d/gid_map", (int)pid);
    return write_file(path, map);
}

/* --- id-mapped trees (root only) ---------------------------------------
 * As root, the FMU files belong to root and are private (0600); the job
 * runs as nobody. Instead of changing their modes, the parent hands init
 * detached mounts whose ownership is shifted by a user namespace mapping
 * 0 -> nobody: inside, the job owns them. The namespace is made once per
 * process by a short-lived child and kept as an fd. */
static pthread_once_t idmap_once = PTHREAD_ONCE_INIT;
static int idmap_fd = -1;

static void make_idmap_ns(void)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return;
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) {
        char b;
        close(p[1]);
        ssize_t r = read(p[0], &b, 1); /* wait until the parent has looked */
        (void)r;
        _exit(0);
    }
    close(p[0]);
    if (pid > 0) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
        if (sandbox__write_id_maps(pid, SANDBOX_UID) == 0)
            idmap_fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    close(p[1]);
    if (pid > 0)
        waitpid(pid, NULL, 0);
}

int sandbox__make_tree(const char *path, uint64_t attrs)
{
    pthread_once(&idmap_once, make_idmap_ns);
    if (idmap_fd < 0) {
        errno = errno ? errno : EPERM;
        return -1;
    }
    int fd = (int)syscall(SYS_open_tree, AT_FDCWD, path, OPEN_TREE_CLONE | O_CLOEXEC | AT_RECURSIVE_);
    if (fd < 0)
        return -1;
    struct mount_attr_ a = { attrs | MOUNT_ATTR_IDMAP_, 0, 0, (uint64_t)idmap_fd };
    if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE_, &a, sizeof a) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

unsigned sandbox__outside_uid(void)
{
    return geteuid() == 0 ? SANDBOX_UID : (unsigned)geteuid();
}

/* --- spawning fmugw-init ------------------------------------------------
 * posix_spawn's way: clone(CLONE_VM | CLONE_VFORK) on a small stack of its
 * own, the calling thread suspended until the child has exec'd or exited.
 * No copy of the daemon's page tables, no copy-on-write faults in its
 * threads afterwards. The child shares our memory, so it only makes raw
 * system calls (no errno, no locks, no allocation, not instrumented) and
 * writes nothing but its stack and spawn_args.err. All signals are blocked
 * around the clone, so no handler of ours ever runs on that stack. */
#define SPAWN_STACK (64 * 1024)
#define SPAWN_SLOTS (SANDBOX_INIT_FD_END - SANDBOX_INIT_FD_RESULT)

typedef struct {
    int src[SPAWN_SLOTS]; /* our fd for each fixed slot of fmugw-init, -1: none */
    bool ambient;         /* keep the new user namespace's capabilities across execve */
    bool new_group;       /* plain child: its own process group, before we can kill it */
    const char *path;
    char *const *argv, *const *envp;
    int err;              /* the child's errno when it failed */
} spawn_args;

#if defined(__x86_64__)
__attribute__((always_inline)) static inline long spawn_sys(long n, long a, long b, long c, long d, long e)
{
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
    return ret;
}
#else
/* Elsewhere glibc's syscall(): its errno write lands in the suspended
 * calling thread's errno, which sandbox__spawn restores. */
static long spawn_sys(long n, long a, long b, long c, long d, long e)
{
    long r = syscall(n, a, b, c, d, e);
    return r == -1 ? -errno : r;
}
#endif

__attribute__((no_sanitize("address", "undefined"), noinline)) static int spawn_child(void *arg)
{
    spawn_args *a = arg;
    int tmp[SPAWN_SLOTS];
    long r = 0;
    const int base = SANDBOX_INIT_FD_END;
    /* Move every source above the slots first (a source may sit on a slot
     * number), then onto its slot: dup3 clears close-on-exec there. */
    for (int i = 0; i < SPAWN_SLOTS; i++) {
        tmp[i] = -1;
        if (a->src[i] >= 0) {
            if ((r = spawn_sys(SYS_fcntl, a->src[i], F_DUPFD_CLOEXEC, base, 0, 0)) < 0)
                goto fail;
            tmp[i] = (int)r;
        }
    }
    for (int i = 0; i < SPAWN_SLOTS; i++) {
        if (tmp[i] < 0) {
            spawn_sys(SYS_close, SANDBOX_INIT_FD_RESULT + i, 0, 0, 0, 0); /* an absent slot stays closed */
            continue;
        }
        if ((r = spawn_sys(SYS_dup3, tmp[i], SANDBOX_INIT_FD_RESULT + i, 0, 0, 0)) < 0)
            goto fail;
    }
    /* anything else of ours without close-on-exec does not reach the job */
    spawn_sys(SYS_close_range, base, ~0U, 0, 0, 0);
    if (a->new_group && (r = spawn_sys(SYS_setpgid, 0, 0, 0, 0, 0)) < 0)
        goto fail;
    if (a->ambient) {
        /* We are uid "unmapped" in the new user namespace until the parent
         * writes the maps, so execve would drop the namespace's full
         * capability set: carry it over as ambient capabilities (init
         * drops them all before the runner). */
        struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
        struct __user_cap_data_struct data[2];
        if ((r = spawn_sys(SYS_capget, (long)&hdr, (long)data, 0, 0, 0)) < 0)
            goto fail;
        data[0].inheritable = data[0].permitted;
        data[1].inheritable = data[1].permitted;
        if ((r = spawn_sys(SYS_capset, (long)&hdr, (long)data, 0, 0, 0)) < 0)
            goto fail;
        for (long cap = 0; cap < 64; cap++)
            if (spawn_sys(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
                break; /* past the last capability */
    }
    r = spawn_sys(SYS_execve, (long)a->path, (long)a->argv, (long)a->envp, 0, 0);
fail:
    a->err = (int)-r;
    spawn_sys(SYS_exit, 127, 0, 0, 0, 0);
    return 127;
}

char *sandbox__init_path(const char *runner)
{
    const char *env = getenv("FMUGW_INIT");
    if (env && *env)
        return strdup(env);
    const char *slash = strrchr(runner, '/');
    size_t dir = slash ? (size_t)(slash - runner) + 1 : 0;
    char *p = malloc(dir + sizeof "fmugw-init");
    if (p) {
        memcpy(p, runner, dir);
        memcpy(p + dir, "fmugw-init", sizeof "fmugw-init");
    }
    return p;
}

pid_t sandbox__spawn(const char *init_path, const sandbox__child *c)
{
    char config[160];
    char **argv = NULL;
    size_t n = 0;
    pid_t pid = -1;
    int e = 0;
    spawn_args a;
    memset(&a, 0, sizeof a);
    for (int i = 0; i < SPAWN_SLOTS; i++)
        a.src[i] = -1;
    a.src[SANDBOX_INIT_FD_RESULT - 3] = c->result_w;
    a.src[SANDBOX_INIT_FD_LOG - 3] = c->log_w;
    a.src[SANDBOX_INIT_FD_RUNNER - 3] = c->runner_fd;
    a.src[SANDBOX_INIT_FD_STATUS - 3] = c->status_w;
    if (c->isolate) {
        a.src[SANDBOX_INIT_FD_CTL - 3] = c->ctl_w;
        a.src[SANDBOX_INIT_FD_SYNC - 3] = c->sync_r;
        a.src[SANDBOX_INIT_FD_JOB - 3] = c->job_r; /* -1 when there is no job channel */
        a.src[SANDBOX_INIT_FD_FMU_TREE - 3] = c->fmu_tree;
        a.src[SANDBOX_INIT_FD_INPUT_TREE - 3] = c->input_tree;
        a.src[SANDBOX_INIT_FD_SCRATCH_TREE - 3] = c->scratch_tree;
    }
    unsigned mask = 0;
    for (int i = 0; i < SPAWN_SLOTS; i++)
        if (a.src[i] >= 0)
            mask |= 1u << i;
    const sandbox_limits *l = &c->limits;
    snprintf(config, sizeof config, "%c %.17g %" PRIu64 " %" PRIu64 " %u %u %x %" PRIu64 " %" PRIu64,
             !c->isolate ? 'n' : c->pool ? 'p' : 'i', l->cpu_limit_s, l->memory_limit, l->file_size_limit,
             l->max_open_files, l->max_threads, mask, l->scratch_bytes, l->scratch_inodes);
    while (c->args[n])
        n++;
    if (!(argv = calloc(n + 6, sizeof *argv))) {
        errno = ENOMEM;
        return -1;
    }
    argv[0] = "fmugw-init";
    argv[1] = config;
    argv[2] = (char *)(c->fmu_dir ? c->fmu_dir : "");
    argv[3] = (char *)(c->input_file ? c->input_file : "");
    argv[4] = (char *)(c->scratch_dir ? c->scratch_dir : "");
    for (size_t i = 0; i < n; i++)
        argv[5 + i] = c->args[i];
    a.path = init_path;
    a.argv = argv;
    a.envp = c->envp;
    a.ambient = c->isolate;
    a.new_group = !c->isolate;
    void *stack = mmap(NULL, SPAWN_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) {
        e = errno;
        goto out;
    }
    int flags = CLONE_VM | CLONE_VFORK | SIGCHLD;
    if (c->isolate)
        /* CLONE_NEWCGROUP: /proc/self/cgroup shows "/", not the host's cgroup names */
        flags |= CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS |
                 CLONE_NEWCGROUP;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    pid = clone(spawn_child, (char *)stack + SPAWN_STACK, flags, &a);
    e = pid < 0 ? errno : 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    munmap(stack, SPAWN_STACK);
    if (pid > 0 && a.err) { /* the child could not exec: it has exited */
        e = a.err;
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        pid = -1;
    }
out:
    free(argv);
    errno = e;
    return pid;
}

/* --- the log channel ---------------------------------------------------- */
typedef struct {
    const sandbox_job *job;
    char buf[4096];
    size_t len;
    bool nomem;
    bool loader_nomem; /* ld.so could not map a library: the limit is below what the runner needs */
    bool have_status;
    char status_kind[16];
    uint64_t status_rows;
    char status_msg[900];
} log_state;

static void log_line(log_state *ls, char *line)
{
    if (!strncmp(line, "@log ", 5)) {
        if (ls->job->on_log)
            ls->job->on_log(ls->job->log_ctx, line + 5);
    } else if (!strcmp(line, "@nomem")) {
        ls->nomem = true;
    } else if (!strncmp(line, "@progress ", 10)) {
        /* the runner's, before @status; never shown to the user */
        char *end;
        double t = strtod(line + 10, &end);
        if (!ls->have_status && end != line + 10 && !*end && isfinite(t) && ls->job->on_progress)
            ls->job->on_progress(ls->job->log_ctx, t);
    } else if (!strncmp(line, "@status ", 8)) {
        char *p = line + 8, *end;
        size_t k = strcspn(p, " ");
        ls->have_status = true;
        snprintf(ls->status_kind, sizeof ls->status_kind, "%.*s", (int)k, p);
        p += k;
        ls->status_rows = strtoull(p, &end, 10);
        p = end;
        while (*p == ' ')
            p++;
        snprintf(ls->status_msg, sizeof ls->status_msg, "%s", p);
    } else {
        if (!ls->have_status && strstr(line, "error while loading shared libraries") &&
            (strstr(line, "failed to map") || strstr(line, "cannot allocate")))
            ls->loader_nomem = true;
        if (ls->job->on_log)
            ls->job->on_log(ls->job->log_ctx, line); /* the FMU's own stdout/stderr */
    }
}

static void log_feed(log_state *ls, const char *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ch = data[i];
        if (ch == '\n' || ls->len == sizeof ls->buf - 1) {
            ls->buf[ls->len] = 0;
            log_line(ls, ls->buf);
            ls->len = 0;
            if (ch == '\n')
                continue;
        }
        ls->buf[ls->len++] = ch;
    }
}

/* --- the status channel (trusted) ---------------------------------------
 * Written by the runner before any FMU code is loaded (init.h): at most one
 * "S KIND ROWS MESSAGE" line (it ended without loading the FMU) or "L" (it
 * is loading the FMU now). Bounded: what does not fit is dropped. */
typedef struct {
    char buf[1024];
    size_t len;
} status_state;

static void status_feed(status_state *ss, const char *data, size_t n)
{
    size_t room = sizeof ss->buf - 1 - ss->len;
    size_t take = n < room ? n : room;
    memcpy(ss->buf + ss->len, data, take);
    ss->len += take;
    ss->buf[ss->len] = 0;
}

/* --- the ctl channel (init) --------------------------------------------
 * Lines from init: "E message" (set-up failed), "U KIB FILES" (a new peak
 * of the scratch's use), "X STATUS" (the runner's wait status). Parsed a
 * line at a time; a line longer than the buffer is cut. */
typedef struct {
    char line[600];
    size_t len;
    char error[600];
    bool have_x;
    int x_status;
} ctl_state;

static void ctl_line(ctl_state *cs, sandbox_report *r)
{
    cs->line[cs->len] = 0;
    unsigned long long kb, files;
    if (cs->line[0] == 'E' && cs->line[1] == ' ' && !cs->error[0]) {
        snprintf(cs->error, sizeof cs->error, "%s", cs->line + 2);
    } else if (sscanf(cs->line, "U %llu %llu", &kb, &files) == 2) {
        if (kb > r->scratch_peak_kb)
            r->scratch_peak_kb = kb;
        if (files > r->scratch_peak_files)
            r->scratch_peak_files = files;
    } else if (cs->line[0] == 'X' && cs->line[1] == ' ' && !cs->have_x) {
        cs->have_x = true;
        cs->x_status = atoi(cs->line + 2);
    }
    cs->len = 0;
}

static void ctl_feed(ctl_state *cs, sandbox_report *r, const char *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (data[i] == '\n') {
            ctl_line(cs, r);
        } else if (cs->len < sizeof cs->line - 1) {
            cs->line[cs->len++] = data[i];
        }
    }
}

/* --- the result stream, as the parent saw it ------------------------------
 * A byte-at-a-time scan of what arrived on the result pipe, to count the
 * rows and know whether the document is complete, without trusting
 * anything the runner (and so the FMU) says about it. CSV: records end at a
 * newline outside double quotes, the first is the header. JSON
 * ({"columns":[...],"rows":[[...],...]}): a row is an array opened at depth
 * 2; complete once the outer object is closed and only white space
 * follows. Constant state, no allocation. */
typedef struct {
    bool json;
    bool in_str, esc, bad;
    unsigned depth;
    bool opened, closed;   /* JSON: the outer object was opened / closed */
    uint64_t records;      /* CSV: newlines outside quotes; JSON: rows */
    char last;
    uint64_t bytes;
} result_scan;

static void result_feed(result_scan *rs, const char *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ch = data[i];
        rs->bytes++;
        rs->last = ch;
        if (!rs->json) {
            if (ch == '"')
                rs->in_str = !rs->in_str;
            else if (ch == '\n' && !rs->in_str)
                rs->records++;
            continue;
        }
        if (rs->in_str) {
            if (rs->esc)
                rs->esc = false;
            else if (ch == '\\')
                rs->esc = true;
            else if (ch == '"')
                rs->in_str = false;
            continue;
        }
        if (ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r')
            continue;
        if (rs->closed) {
            rs->bad = true; /* something after the document */
            continue;
        }
        if (ch == '"') {
            rs->in_str = true;
        } else if (ch == '{' || ch == '[') {
            if (rs->depth == 0 && ch == '{')
                rs->opened = true;
            else if (rs->depth == 0)
                rs->bad = true;
            if (rs->depth == 2 && ch == '[')
                rs->records++;
            if (rs->depth < 64)
                rs->depth++;
            else
                rs->bad = true;
        } else if (ch == '}' || ch == ']') {
            if (rs->depth == 0) {
                rs->bad = true;
            } else if (--rs->depth == 0) {
                rs->closed = true;
            }
        }
    }
}

/* Whether the stream is a whole document: *rows gets its data rows. */
static bool result_complete(const result_scan *rs, uint64_t *rows)
{
    if (!rs->json) {
        *rows = rs->records > 0 ? rs->records - 1 : 0;
        return rs->bytes > 0 && rs->records > 0 && rs->last == '\n' && !rs->in_str;
    }
    *rows = rs->records;
    return rs->opened && rs->closed && !rs->bad && !rs->in_str;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static const char *signal_name(int sig)
{
    const char *abbrev = sigabbrev_np(sig);
    return abbrev ? abbrev : "unknown";
}

/* Runner argv for the plain mode: the /job paths replaced by host paths. */
static char **plain_args(const sandbox_job *job)
{
    size_t n = 0;
    while (job->args[n])
        n++;
    char **v = calloc(n + 1, sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const char *a = job->args[i];
        if (!strcmp(a, "/job/fmu"))
            a = job->fmu_dir;
        else if (job->input_file && !strcmp(a, "/job/input.csv"))
            a = job->input_file;
        v[i] = (char *)a;
    }
    return v;
}

static int platform_error(sandbox_report *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int platform_error(sandbox_report *r, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
    r->outcome = SANDBOX_PLATFORM_ERROR;
    return fmugw_error_set(code, "%s", r->message);
}

/* How the job ended, from what the parent and init saw: the kills it made
 * itself, the runner's wait status from init, the status channel (trusted:
 * closed before any FMU code ran) and the result stream. Once the runner
 * has said "L" (loading the FMU), its exit code and "@status" lines are the
 * FMU's to forge: they can then make a job no more than an FMU outcome
 * (fmu_error, memory_limit ...), never platform_error, and "finished" also
 * needs a complete result document whose row count the parent counted. */
static void classify(sandbox_report *r, const sandbox_job *job, const log_state *ls, const status_state *ss,
                     const result_scan *rs, int st, bool killed_cancel, bool killed_timeout, bool killed_output,
                     double cpu_s)
{
    const char *fmu_msg = ls->have_status && *ls->status_msg ? ls->status_msg : NULL;
    uint64_t rows = 0;
    bool complete = result_complete(rs, &rows);
    /* the trusted status line: "S KIND ROWS MESSAGE" or "L" */
    char s_kind[16] = "";
    const char *s_msg = NULL;
    bool loaded = false;
    for (const char *p = ss->buf; *p;) {
        size_t len = strcspn(p, "\n");
        if (len == 1 && p[0] == 'L') {
            loaded = true;
        } else if (!loaded && !*s_kind && len > 2 && p[0] == 'S' && p[1] == ' ') {
            const char *k = p + 2;
            size_t kl = strcspn(k, " \n");
            snprintf(s_kind, sizeof s_kind, "%.*s", (int)kl, k);
            const char *m = k + kl;
            while (*m == ' ')
                m++;
            while (*m >= '0' && *m <= '9')
                m++; /* rows: none before the FMU ran */
            while (*m == ' ')
                m++;
            s_msg = m;
        }
        p += len + (p[len] == '\n');
    }
    r->fmu_loaded = loaded;
    bool checked = job->result_form != SANDBOX_RESULT_UNCHECKED;
    r->rows = checked ? rows : ls->status_rows;
    if (killed_cancel) {
        r->outcome = SANDBOX_CANCELED;
        snprintf(r->message, sizeof r->message, "the job was canceled and killed");
    } else if (killed_timeout) {
        r->outcome = SANDBOX_TIMEOUT;
        snprintf(r->message, sizeof r->message, "the job ran past its wall-clock limit of %g s and was killed",
                 job->limits.timeout_s);
    } else if (killed_output) {
        r->outcome = SANDBOX_OUTPUT_LIMIT;
        snprintf(r->message, sizeof r->message,
                 "the job wrote more than its output limit of %" PRIu64 " bytes (results + log) and was killed",
                 job->limits.output_limit);
    } else if (WIFSIGNALED(st)) {
        int sig = WTERMSIG(st);
        r->signal = sig;
        if (sig == SIGSYS) {
            r->outcome = SANDBOX_FORBIDDEN_SYSCALL;
            snprintf(r->message, sizeof r->message,
                     "the FMU made a forbidden system call and was killed (SIGSYS from the seccomp policy)");
        } else if (sig == SIGXCPU || (sig == SIGKILL && cpu_s >= ceil(job->limits.cpu_limit_s))) {
            r->outcome = SANDBOX_CPU_LIMIT;
            snprintf(r->message, sizeof r->message, "the job used up its CPU limit of %g s and was killed",
                     job->limits.cpu_limit_s);
        } else if (ls->nomem) {
            r->outcome = SANDBOX_MEMORY_LIMIT;
            snprintf(r->message, sizeof r->message,
                     "the FMU crashed (SIG%s) after an allocation failed under the memory limit of %" PRIu64 " bytes",
                     signal_name(sig), job->limits.memory_limit);
        } else {
            r->outcome = SANDBOX_CRASHED;
            snprintf(r->message, sizeof r->message, "the FMU crashed: killed by signal SIG%s (%d)", signal_name(sig),
                     sig);
        }
    } else if (!loaded) {
        /* No FMU code ran: the runner's own word, on the trusted channel. */
        int code = WEXITSTATUS(st);
        r->exit_code = code;
        if (!strcmp(s_kind, "nomem") || code == 3 || (code == 127 && ls->loader_nomem)) {
            r->outcome = SANDBOX_MEMORY_LIMIT;
            snprintf(r->message, sizeof r->message, "an allocation failed under the memory limit of %" PRIu64
                     " bytes%s%s", job->limits.memory_limit, s_msg && *s_msg ? ": " : "", s_msg ? s_msg : "");
        } else if (!strcmp(s_kind, "error") && code == 1) {
            r->outcome = SANDBOX_FMU_ERROR; /* the request or the model description is wrong */
            snprintf(r->message, sizeof r->message, "%s", s_msg && *s_msg ? s_msg : "the request was refused");
        } else {
            r->outcome = SANDBOX_PLATFORM_ERROR;
            if (s_msg && *s_msg)
                snprintf(r->message, sizeof r->message, "%s", s_msg);
            else
                snprintf(r->message, sizeof r->message, "the runner ended before loading the FMU (exit code %d)", code);
        }
    } else {
        /* The FMU was loaded: its process, its word. */
        int code = WEXITSTATUS(st);
        r->exit_code = code;
        if (code == 0 && ls->have_status && !strcmp(ls->status_kind, "ok") &&
            (!checked || (complete && ls->status_rows == rows))) {
            r->outcome = SANDBOX_FINISHED;
            snprintf(r->message, sizeof r->message, "finished: %" PRIu64 " rows", r->rows);
        } else if (code == 3 || (code != 0 && ls->nomem)) {
            r->outcome = SANDBOX_MEMORY_LIMIT;
            snprintf(r->message, sizeof r->message, "an allocation failed under the memory limit of %" PRIu64
                     " bytes%s%s", job->limits.memory_limit, fmu_msg ? ": " : "", fmu_msg ? fmu_msg : "");
        } else if (code == 1 && fmu_msg && strcmp(ls->status_kind, "ok") != 0) {
            r->outcome = SANDBOX_FMU_ERROR;
            snprintf(r->message, sizeof r->message, "%s", fmu_msg);
        } else if (code == 0) {
            r->outcome = SANDBOX_FMU_ERROR;
            snprintf(r->message, sizeof r->message,
                     "the FMU ended the process before the simulation completed (exit code 0, %s result of %" PRIu64
                     " rows)", complete ? "a" : "an incomplete", rows);
        } else {
            r->outcome = SANDBOX_FMU_ERROR;
            snprintf(r->message, sizeof r->message, "the FMU ended the process early (exit code %d)", code);
        }
    }
}

/* What the processes below pid 1 have used so far. Killing pid 1 takes the
 * whole PID namespace down, and its other members are reaped by the kernel,
 * not by pid 1: their CPU time would never reach our wait4(). So before a
 * kill (deadline, output cap, cancel) the parent reads it from /proc: the
 * children of pid 1 (the runner) and their user + system ticks and peak
 * resident size. Best effort: zero when /proc cannot tell. */
typedef struct {
    uint64_t user_ms, system_ms, rss_kb;
} usage_sample;

static void sample_children(pid_t pid1, usage_sample *u)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid1, (int)pid1);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    long hz = sysconf(_SC_CLK_TCK);
    char *save = NULL;
    for (char *tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
        char stat[1024];
        snprintf(path, sizeof path, "/proc/%s/stat", tok);
        if (!(f = fopen(path, "r")))
            continue;
        n = fread(stat, 1, sizeof stat - 1, f);
        fclose(f);
        stat[n] = 0;
        char *p = strrchr(stat, ')'); /* the command name may hold spaces */
        unsigned long long ut = 0, st = 0;
        if (p && hz > 0 &&
            sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2) {
            u->user_ms += ut * 1000 / (unsigned long long)hz;
            u->system_ms += st * 1000 / (unsigned long long)hz;
        }
        snprintf(path, sizeof path, "/proc/%s/status", tok);
        if ((f = fopen(path, "r"))) {
            char line[256];
            unsigned long long kb;
            while (fgets(line, sizeof line, f))
                if (sscanf(line, "VmHWM: %llu kB", &kb) == 1 && kb > u->rss_kb)
                    u->rss_kb = kb;
            fclose(f);
        }
    }
}

/* Kills the job's process tree, first sampling what it used (see above). */
static void kill_job(const sandbox_job *job, pid_t pid, usage_sample *u)
{
    if (job->isolate)
        sample_children(pid, u);
    kill(job->isolate ? pid : -pid, SIGKILL);
}

int sandbox__collect(const sandbox_job *job, sandbox_report *r, pid_t pid, int res_r, int log_r, int ctl_r,
                     int status_r, uint64_t t0)
{
    int rc = 0;
    log_state *ls = calloc(1, sizeof *ls);
    status_state ss;
    result_scan rs;
    memset(&ss, 0, sizeof ss);
    memset(&rs, 0, sizeof rs);
    rs.json = job->result_form == SANDBOX_RESULT_JSON;
    if (!ls) {
        rc = platform_error(r, FMUGW_ENOMEM, "sandbox: out of memory");
        kill(job->isolate ? pid : -pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return rc;
    }
    ls->job = job;
    /* Stream until every channel is closed. */
    uint64_t deadline = t0 + (uint64_t)llround((job->limits.timeout_s > 0 ? job->limits.timeout_s : 60) * 1000);
    bool killed_timeout = false, killed_output = false, write_failed = false, killed = false, killed_cancel = false;
    usage_sample killed_usage = { 0, 0, 0 };
    ctl_state cs;
    memset(&cs, 0, sizeof cs);
    struct pollfd pf[4] = { { res_r, POLLIN, 0 }, { log_r, POLLIN, 0 }, { ctl_r, POLLIN, 0 },
                            { status_r, POLLIN, 0 } };
    int open_fds = 0;
    for (int i = 0; i < 4; i++)
        open_fds += pf[i].fd >= 0;
    char *buf = malloc(65536);
    if (!buf) {
        rc = platform_error(r, FMUGW_ENOMEM, "sandbox: out of memory");
        kill(job->isolate ? pid : -pid, SIGKILL);
        waitpid(pid, NULL, 0);
        free(ls);
        return rc;
    }
    while (open_fds > 0) {
        uint64_t now = sandbox__now_ms();
        int wait_ms = -1;
        if (!killed)
            wait_ms = now >= deadline ? 0 : (int)(deadline - now);
        if (job->cancel && !killed && (wait_ms < 0 || wait_ms > 100))
            wait_ms = 100; /* look at the cancel flag ten times a second */
        int n = poll(pf, 4, wait_ms);
        if (n < 0 && errno == EINTR)
            continue;
        if (job->cancel && !killed && __atomic_load_n(job->cancel, __ATOMIC_ACQUIRE)) {
            killed_cancel = killed = true;
            kill_job(job, pid, &killed_usage);
            continue;
        }
        if (n == 0 && !killed && sandbox__now_ms() >= deadline) {
            killed_timeout = killed = true;
            kill_job(job, pid, &killed_usage);
            continue;
        }
        for (int i = 0; i < 4; i++) {
            if (pf[i].fd < 0 || !pf[i].revents)
                continue;
            ssize_t got = read(pf[i].fd, buf, 65536);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0) {
                pf[i].fd = -1;
                open_fds--;
                continue;
            }
            if (i == 0) {
                r->output_bytes += (uint64_t)got;
                result_feed(&rs, buf, (size_t)got);
                if (!write_failed && job->result_fd >= 0 && write_all(job->result_fd, buf, (size_t)got) != 0) {
                    write_failed = true;
                    snprintf(r->message, sizeof r->message, "sandbox: writing the results failed: %s",
                             strerror(errno));
                }
            } else if (i == 1) {
                r->log_bytes += (uint64_t)got;
                log_feed(ls, buf, (size_t)got);
            } else if (i == 3) {
                status_feed(&ss, buf, (size_t)got);
            } else {
                ctl_feed(&cs, r, buf, (size_t)got);
            }
            if (!killed && (write_failed || r->output_bytes + r->log_bytes > job->limits.output_limit)) {
                killed_output = !write_failed;
                killed = true;
                kill_job(job, pid, &killed_usage);
            }
        }
    }
    free(buf);
    if (ls->len) {
        ls->buf[ls->len] = 0;
        log_line(ls, ls->buf);
    }

    int st = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &st, 0, &ru) < 0 && errno == EINTR)
        ;
    r->wall_ms = sandbox__now_ms() - t0;
    r->cpu_user_ms = (uint64_t)ru.ru_utime.tv_sec * 1000 + (uint64_t)ru.ru_utime.tv_usec / 1000;
    r->cpu_system_ms = (uint64_t)ru.ru_stime.tv_sec * 1000 + (uint64_t)ru.ru_stime.tv_usec / 1000;
    r->peak_rss_kb = (uint64_t)ru.ru_maxrss;
    /* a killed job's runner is not in wait4's figures: add what was sampled */
    r->cpu_user_ms += killed_usage.user_ms;
    r->cpu_system_ms += killed_usage.system_ms;
    if (killed_usage.rss_kb > r->peak_rss_kb)
        r->peak_rss_kb = killed_usage.rss_kb;
    double cpu_s = (double)(r->cpu_user_ms + r->cpu_system_ms) / 1000.0;

    int runner_st = st;
    bool have_runner = true;
    if (job->isolate) {
        have_runner = cs.have_x;
        if (have_runner)
            runner_st = cs.x_status;
    }
    for (const char *p = ss.buf; *p; p += strcspn(p, "\n") + (p[strcspn(p, "\n")] == '\n'))
        if (p[0] == 'L' && (p[1] == '\n' || !p[1]))
            r->fmu_loaded = true;
    if (write_failed) {
        r->outcome = SANDBOX_PLATFORM_ERROR;
        rc = fmugw_error_set(FMUGW_EIO, "%s", r->message);
    } else if (!have_runner && !killed) {
        rc = platform_error(r, FMUGW_ERROR, "%s", cs.error[0] ? cs.error : "sandbox: init ended without reporting");
    } else {
        classify(r, job, ls, &ss, &rs, runner_st, killed_cancel, killed_timeout, killed_output, cpu_s);
        if (r->outcome == SANDBOX_PLATFORM_ERROR)
            rc = fmugw_error_set(FMUGW_ERROR, "%s", r->message);
    }
    free(ls);
    return rc;
}

int sandbox_run(const sandbox_job *job, sandbox_report *r)
{
    int rc = 0;
    int res_p[2] = { -1, -1 }, log_p[2] = { -1, -1 }, ctl_p[2] = { -1, -1 }, sync_p[2] = { -1, -1 };
    int st_p[2] = { -1, -1 };
    int job_p[2] = { -1, -1 };
    sandbox__child c;
    char **pargs = NULL, *init_path = NULL;
    /* isolated: the runner reads its argv from the job channel (fd 6) */
    static char *const job_fd_args[] = { "fmugw-runner", "--job-fd", NULL };
    pid_t pid = -1;
    uint64_t t0 = sandbox__now_ms();
    static char *const envp_isolated[] = { "PATH=/usr/bin", "TMPDIR=/tmp", "HOME=/job/scratch", NULL };
    static char *const envp_plain[] = { "PATH=/usr/bin", "TMPDIR=/tmp", "HOME=/tmp", "FMUGW_RUNNER_PLAIN=1", NULL };

    memset(r, 0, sizeof *r);
    memset(&c, 0, sizeof c);
    c.fmu_tree = c.input_tree = c.scratch_tree = c.runner_fd = c.job_r = c.status_w = -1;
    c.limits = job->limits;
    c.isolate = job->isolate;
    c.fmu_dir = job->fmu_dir;
    c.input_file = job->input_file;
    c.scratch_dir = job->scratch_dir; /* NULL, isolated: a capped tmpfs (init.c) */
    c.args = job->args;
    c.envp = job->isolate ? envp_isolated : envp_plain;

    if (!job->runner || !job->fmu_dir || !job->args || !job->args[0]) {
        rc = platform_error(r, FMUGW_EINVALID, "sandbox: runner, fmu_dir and args are required");
        goto out;
    }
    if ((c.runner_fd = open(job->runner, O_RDONLY | O_CLOEXEC)) < 0) {
        rc = platform_error(r, FMUGW_ENOTFOUND, "sandbox: cannot open the runner %s: %s", job->runner,
                            strerror(errno));
        goto out;
    }
    if (!(init_path = sandbox__init_path(job->runner))) {
        rc = platform_error(r, FMUGW_ENOMEM, "sandbox: out of memory");
        goto out;
    }
    if (pipe2(res_p, O_CLOEXEC) || pipe2(log_p, O_CLOEXEC) || pipe2(ctl_p, O_CLOEXEC) || pipe2(sync_p, O_CLOEXEC) ||
        pipe2(st_p, O_CLOEXEC)) {
        rc = platform_error(r, FMUGW_ERROR, "sandbox: pipe: %s", strerror(errno));
        goto out;
    }
    c.status_w = st_p[1];
    c.result_w = res_p[1];
    c.log_w = log_p[1];
    c.ctl_w = ctl_p[1];
    c.sync_r = sync_p[0];

    if (job->isolate) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, job_p) != 0) {
            rc = platform_error(r, FMUGW_ERROR, "sandbox: socketpair: %s", strerror(errno));
            goto out;
        }
        c.job_r = job_p[1];
        c.args = job_fd_args;
        if (geteuid() == 0) {
            pthread_once(&idmap_once, make_idmap_ns);
            if (idmap_fd < 0) {
                rc = platform_error(r, FMUGW_ERROR, "sandbox: cannot create the id-mapping user namespace: %s",
                                    strerror(errno));
                goto out;
            }
            uint64_t ro = MOUNT_ATTR_RDONLY_ | MOUNT_ATTR_NOSUID_ | MOUNT_ATTR_NODEV_;
            if ((c.fmu_tree = sandbox__make_tree(job->fmu_dir, ro)) < 0 ||
                (job->input_file && (c.input_tree = sandbox__make_tree(job->input_file, ro)) < 0) ||
                (job->scratch_dir &&
                 (c.scratch_tree = sandbox__make_tree(job->scratch_dir, MOUNT_ATTR_NOSUID_ | MOUNT_ATTR_NODEV_ |
                                                                            MOUNT_ATTR_NOEXEC_)) < 0)) {
                rc = platform_error(r, FMUGW_ERROR, "sandbox: cannot prepare an id-mapped mount of the job files: %s",
                                    strerror(errno));
                goto out;
            }
        }
    } else {
        if (!(pargs = plain_args(job))) {
            rc = platform_error(r, FMUGW_ENOMEM, "sandbox: out of memory");
            goto out;
        }
        c.args = pargs;
    }
    if ((pid = sandbox__spawn(init_path, &c)) < 0) {
        rc = platform_error(r, FMUGW_ERROR, "sandbox: cannot start %s: %s", init_path, strerror(errno));
        goto out;
    }
    close(res_p[1]);
    close(log_p[1]);
    close(ctl_p[1]);
    close(sync_p[0]);
    close(st_p[1]);
    res_p[1] = log_p[1] = ctl_p[1] = sync_p[0] = st_p[1] = -1;
    if (job_p[1] >= 0) {
        close(job_p[1]);
        job_p[1] = -1;
    }
    if (job->isolate) {
        if (sandbox__write_id_maps(pid, sandbox__outside_uid()) != 0) {
            rc = platform_error(r, FMUGW_ERROR, "sandbox: cannot write the uid/gid maps: %s", strerror(errno));
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            pid = -1;
            goto out;
        }
        if (write(sync_p[1], "g", 1) != 1) {
            rc = platform_error(r, FMUGW_ERROR, "sandbox: cannot start init: %s", strerror(errno));
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            pid = -1;
            goto out;
        }
        /* A runner that dies before reading ends the send (EPIPE); what
         * became of it is then sandbox__collect's to report. */
        if (sandbox__send_job(job_p[0], &job->limits, job->args) != 0) {
            rc = platform_error(r, FMUGW_EINVALID, "%s", fmugw_error_last());
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            pid = -1;
            goto out;
        }
    }

    rc = sandbox__collect(job, r, pid, res_p[0], log_p[0], ctl_p[0], st_p[0], t0);
    pid = -1;
out:
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    int fds[] = { res_p[0], res_p[1], log_p[0], log_p[1], ctl_p[0], ctl_p[1], sync_p[0], sync_p[1],
                  st_p[0], st_p[1], job_p[0], job_p[1], c.fmu_tree, c.input_tree, c.scratch_tree, c.runner_fd };
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(pargs);
    free(init_path);
    if (!r->wall_ms)
        r->wall_ms = sandbox__now_ms() - t0;
    return rc;
}
