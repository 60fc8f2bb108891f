/*
 * pool.c - a pre-forked pool of ready sandboxes (sandbox_pool_*, see
 * sandbox.h), and the runner's side of its job channel
 * (sandbox__pool_receive).
 *
 * A pooled sandbox is made like sandbox_run()'s (same spawn of fmugw-init,
 * id maps, mount tree, pivot_root, rlimits, capabilities, execve of the
 * runner), but
 * its /job is its own host directory (read-only, id-mapped as root) with a
 * scratch tmpfs mounted on its scratch/, and its runner is started as
 * `fmugw-runner --pool-wait`: it writes "@ready" on fd 4 and blocks reading
 * fd 6 (a socket to the parent) before parsing anything job-specific and
 * before seccomp. On assignment the parent hard-links (or copies) the job's
 * FMU into <dir>/fmu and its input file to <dir>/input.csv, sends
 * "L cpu mem fsize nofile nproc\n" + the argv (NUL-terminated strings) and
 * closes its end; the runner lowers its rlimits, then goes on exactly as a
 * one-shot runner (parse, seccomp, run). The parent streams and classifies
 * with sandbox__collect(), as sandbox_run() does, and then removes the
 * sandbox's directory: one sandbox, one job. Design and figures:
 * docs/sandbox.md, "Pool".
 */
#include "sandbox.h"

#include "init.h"
#include "util/error.h"
#include "util/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define POOL_ATTR_RDONLY 0x00000001
#define POOL_ATTR_NOSUID 0x00000002
#define POOL_ATTR_NODEV 0x00000004
#define POOL_READY_MS 10000      /* a runner that is not ready by then is broken */
#define POOL_JOB_MAX SANDBOX_JOB_MAX
#define POOL_DEPTH_MAX 64        /* directory depth of an FMU tree */

typedef struct pool_slot {
    struct pool_slot *next;
    pid_t pid;                  /* init: pid 1 of the sandbox */
    int res_r, log_r, ctl_r;    /* as in sandbox_run() */
    int status_r;               /* the runner's status channel (init.h) */
    int job_w;                  /* the job channel (fd 6 of the runner) */
    char *dir;                  /* host directory, /job inside */
    bool ready;                 /* the runner said "@ready" */
} pool_slot;

struct sandbox_pool {
    char *runner;
    char *init_path;            /* fmugw-init, beside the runner */
    int runner_fd;
    sandbox_limits ceiling;
    char *work_dir;
    unsigned size;
    bool refill_inline;
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* a slot was added or taken, or stop */
    pool_slot *head, *tail;     /* idle sandboxes, oldest first */
    unsigned n_idle, spawning;
    unsigned failures;          /* refill attempts failed in a row */
    char error[512];            /* the last refill failure */
    unsigned cleanup_failures;  /* sandbox directories that could not be removed, not yet reported */
    char cleanup_error[512];    /* the last such failure */
    bool stop, have_thread;
    pthread_t thread;
};

/* --- one sandbox ---------------------------------------------------------- */

/* Kills the sandbox and removes its directory. 0, or FMUGW_EIO when the
 * directory could not be removed (reason in fmugw_error_last(); the job
 * system's next start moves it aside). */
static int pool_slot_free(pool_slot *s)
{
    int rc = 0;
    if (!s)
        return 0;
    if (s->pid > 0) {
        kill(s->pid, SIGKILL); /* pid 1: the whole namespace goes */
        while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    int fds[] = { s->res_r, s->log_r, s->ctl_r, s->status_r, s->job_w };
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    if (s->dir) {
        rc = fmugw_rmtree(s->dir);
        free(s->dir);
    }
    free(s);
    return rc;
}

/* Notes a failed removal (pool_slot_free) for sandbox_pool_cleanup_failures. */
static void pool_note_cleanup(sandbox_pool *p, int rc)
{
    if (rc == 0)
        return;
    pthread_mutex_lock(&p->mu);
    p->cleanup_failures++;
    snprintf(p->cleanup_error, sizeof p->cleanup_error, "%s", fmugw_error_last());
    pthread_mutex_unlock(&p->mu);
}

/* Clones a new sandbox whose runner will wait for a job; does not wait for
 * it to be ready (pool_await). */
static int pool_spawn(sandbox_pool *p, pool_slot **out)
{
    static char *const args[] = { "fmugw-runner", "--pool-wait", NULL };
    static char *const envp[] = { "PATH=/usr/bin", "TMPDIR=/tmp", "HOME=/job/scratch", NULL };
    int rc = 0;
    int res_p[2] = { -1, -1 }, log_p[2] = { -1, -1 }, ctl_p[2] = { -1, -1 }, sync_p[2] = { -1, -1 };
    int st_p[2] = { -1, -1 }, sv[2] = { -1, -1 }, t_job = -1, t_scr = -1;
    char *scratch = NULL, *fmu = NULL, *tmpl = NULL;
    sandbox__child c;
    pool_slot *s = calloc(1, sizeof *s);

    *out = NULL;
    if (!s || !(tmpl = fmugw_path_join(p->work_dir, "fmugw-pool-XXXXXX"))) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "sandbox pool: out of memory");
        goto out;
    }
    s->pid = -1;
    s->res_r = s->log_r = s->ctl_r = s->status_r = s->job_w = -1;
    if (!mkdtemp(tmpl)) {
        rc = fmugw_error_set(FMUGW_EIO, "sandbox pool: cannot make a directory in %s: %s", p->work_dir,
                             strerror(errno));
        goto out;
    }
    s->dir = tmpl;
    tmpl = NULL;
    if (!(scratch = fmugw_path_join(s->dir, "scratch")) || !(fmu = fmugw_path_join(s->dir, "fmu"))) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "sandbox pool: out of memory");
        goto out;
    }
    if (mkdir(scratch, 0700) != 0 || mkdir(fmu, 0700) != 0) {
        rc = fmugw_error_set(FMUGW_EIO, "sandbox pool: mkdir in %s: %s", s->dir, strerror(errno));
        goto out;
    }
    /* scratch/ is only the mount point of the sandbox's scratch tmpfs (init.c) */
    if (geteuid() == 0 &&
        (t_job = sandbox__make_tree(s->dir, POOL_ATTR_RDONLY | POOL_ATTR_NOSUID | POOL_ATTR_NODEV)) < 0) {
        rc = fmugw_error_set(FMUGW_ERROR, "sandbox pool: cannot prepare an id-mapped mount of %s: %s", s->dir,
                             strerror(errno));
        goto out;
    }
    if (pipe2(res_p, O_CLOEXEC) || pipe2(log_p, O_CLOEXEC) || pipe2(ctl_p, O_CLOEXEC) || pipe2(sync_p, O_CLOEXEC) ||
        pipe2(st_p, O_CLOEXEC) || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
        rc = fmugw_error_set(FMUGW_ERROR, "sandbox pool: pipe: %s", strerror(errno));
        goto out;
    }
    memset(&c, 0, sizeof c);
    c.isolate = true;
    c.pool = true;
    c.fmu_dir = s->dir;
    c.scratch_dir = NULL;
    c.fmu_tree = t_job;
    c.scratch_tree = t_scr;
    c.input_tree = -1;
    c.runner_fd = p->runner_fd;
    c.result_w = res_p[1];
    c.log_w = log_p[1];
    c.ctl_w = ctl_p[1];
    c.sync_r = sync_p[0];
    c.status_w = st_p[1];
    c.job_r = sv[1];
    c.args = args;
    c.envp = envp;
    c.limits = p->ceiling;
    pid_t pid = sandbox__spawn(p->init_path, &c);
    if (pid < 0) {
        rc = fmugw_error_set(FMUGW_ERROR, "sandbox pool: cannot start %s: %s", p->init_path, strerror(errno));
        goto out;
    }
    s->pid = pid;
    if (sandbox__write_id_maps(pid, sandbox__outside_uid()) != 0) {
        rc = fmugw_error_set(FMUGW_ERROR, "sandbox pool: cannot write the uid/gid maps: %s", strerror(errno));
        goto out;
    }
    if (write(sync_p[1], "g", 1) != 1) {
        rc = fmugw_error_set(FMUGW_ERROR, "sandbox pool: cannot start init: %s", strerror(errno));
        goto out;
    }
    s->res_r = res_p[0];
    s->log_r = log_p[0];
    s->ctl_r = ctl_p[0];
    s->status_r = st_p[0];
    s->job_w = sv[0];
    res_p[0] = log_p[0] = ctl_p[0] = st_p[0] = sv[0] = -1;
    *out = s;
    s = NULL;
out:
    {
        int fds[] = { res_p[0], res_p[1], log_p[0], log_p[1], ctl_p[0], ctl_p[1], sync_p[0], sync_p[1],
                      st_p[0], st_p[1], sv[0], sv[1], t_job, t_scr };
        for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
            if (fds[i] >= 0)
                close(fds[i]);
    }
    pool_slot_free(s);
    free(scratch);
    free(fmu);
    free(tmpl);
    return rc;
}

/* After a failed start: kills the sandbox and says why, from init's "E"
 * line or the runner's first log line (e.g. the dynamic loader). */
static int pool_start_failed(pool_slot *s, const char *seen, size_t n_seen)
{
    char ctl[600] = "", log[600];
    size_t n = 0;
    snprintf(log, sizeof log, "%.*s", (int)n_seen, seen);
    kill(s->pid, SIGKILL);
    for (ssize_t got; n < sizeof ctl - 1 && (got = read(s->ctl_r, ctl + n, sizeof ctl - 1 - n)) != 0;) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            break;
        n += (size_t)got;
    }
    ctl[n] = 0;
    size_t m = strlen(log);
    for (ssize_t got; m < sizeof log - 1 && (got = read(s->log_r, log + m, sizeof log - 1 - m)) != 0;) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            break;
        m += (size_t)got;
    }
    log[m] = 0;
    char st[600];
    size_t k = 0;
    for (ssize_t got; k < sizeof st - 1 && (got = read(s->status_r, st + k, sizeof st - 1 - k)) != 0;) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            break;
        k += (size_t)got;
    }
    st[k] = 0;
    ctl[strcspn(ctl, "\n")] = 0;
    log[strcspn(log, "\n")] = 0;
    st[strcspn(st, "\n")] = 0;
    if (ctl[0] == 'E' && ctl[1] == ' ')
        return fmugw_error_set(FMUGW_ERROR, "sandbox pool: %s", ctl + 2);
    if (!strncmp(st, "S platform 0 ", 13))
        return fmugw_error_set(FMUGW_ERROR, "sandbox pool: %s", st + 13);
    if (log[0])
        return fmugw_error_set(FMUGW_ERROR, "sandbox pool: the runner did not start: %s", log);
    return fmugw_error_set(FMUGW_ERROR, "sandbox pool: the runner did not start");
}

/* Waits until the sandbox's runner reports "@ready" (then it has exec'd,
 * loaded its libraries and blocks on its job channel). */
static int pool_await(pool_slot *s, int timeout_ms)
{
    static const char ready[] = "@ready\n";
    char buf[sizeof ready];
    size_t len = 0;
    uint64_t deadline = sandbox__now_ms() + (uint64_t)timeout_ms;
    while (len < sizeof ready - 1) {
        struct pollfd pf[2] = { { s->log_r, POLLIN, 0 }, { s->ctl_r, POLLIN, 0 } };
        uint64_t now = sandbox__now_ms();
        int n = poll(pf, 2, now >= deadline ? 0 : (int)(deadline - now));
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0) {
            pool_start_failed(s, buf, len);
            return fmugw_error_set(FMUGW_ERROR, "sandbox pool: the runner was not ready within %d ms", timeout_ms);
        }
        if (n < 0 || pf[1].revents) /* init wrote an E line or ended */
            return pool_start_failed(s, buf, len);
        if (pf[0].revents) {
            ssize_t got = read(s->log_r, buf + len, sizeof ready - 1 - len);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0 || memcmp(buf + len, ready + len, (size_t)got) != 0)
                return pool_start_failed(s, buf, len + (got > 0 ? (size_t)got : 0));
            len += (size_t)got;
        }
    }
    s->ready = true;
    return 0;
}

/* An idle sandbox has nothing to say: anything readable (or a hangup)
 * means it died while waiting (e.g. PR_SET_PDEATHSIG: the thread that
 * cloned it ended). */
static bool pool_slot_dead(const pool_slot *s)
{
    struct pollfd pf[2] = { { s->log_r, POLLIN, 0 }, { s->ctl_r, POLLIN, 0 } };
    return poll(pf, 2, 0) != 0;
}

/* --- the pool ------------------------------------------------------------- */

static void pool_push(sandbox_pool *p, pool_slot *s)
{
    s->next = NULL;
    if (p->tail)
        p->tail->next = s;
    else
        p->head = s;
    p->tail = s;
    p->n_idle++;
}

static pool_slot *pool_pop(sandbox_pool *p)
{
    pool_slot *s = p->head;
    if (s) {
        p->head = s->next;
        if (!p->head)
            p->tail = NULL;
        p->n_idle--;
        s->next = NULL;
    }
    return s;
}

static int pool_spawn_ready(sandbox_pool *p, pool_slot **out)
{
    pool_slot *s = NULL;
    int rc = pool_spawn(p, &s);
    if (!rc && (rc = pool_await(s, POOL_READY_MS))) {
        pool_slot_free(s);
        s = NULL;
    }
    *out = s;
    return rc;
}

/* The refill thread: keeps n_idle + spawning at size. It only starts
 * sandboxes (clone, id maps: well under a millisecond of its time) and
 * does not wait for their runners: several start at once, and the job
 * that takes one confirms it is ready (pool_take). */
static void *pool_refill_main(void *arg)
{
    sandbox_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        if (p->n_idle + p->spawning >= p->size) {
            pthread_cond_wait(&p->cv, &p->mu);
            continue;
        }
        p->spawning++;
        pthread_mutex_unlock(&p->mu);
        pool_slot *s = NULL;
        int rc = pool_spawn(p, &s);
        pthread_mutex_lock(&p->mu);
        p->spawning--;
        if (!rc) {
            pool_push(p, s);
            p->failures = 0;
        } else {
            p->failures++;
            snprintf(p->error, sizeof p->error, "%s", fmugw_error_last());
        }
        pthread_cond_broadcast(&p->cv);
        if (rc && !p->stop) { /* back off, but wake for stop */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            long ms = 50L * (p->failures < 20 ? p->failures : 20);
            ts.tv_sec += ms / 1000;
            ts.tv_nsec += (ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* A ready sandbox for one job: an idle one, or (when the refill thread is
 * failing or there is none) one started here. */
static int pool_take(sandbox_pool *p, pool_slot **out)
{
    int rc = 0;
    *out = NULL;
    for (int attempt = 0; attempt < 4; attempt++) {
        pthread_mutex_lock(&p->mu);
        while (!p->head && p->have_thread && !p->failures && !p->stop)
            pthread_cond_wait(&p->cv, &p->mu);
        pool_slot *s = pool_pop(p);
        pthread_cond_broadcast(&p->cv); /* the refill thread makes a replacement */
        pthread_mutex_unlock(&p->mu);
        if (!s)
            return (rc = pool_spawn_ready(p, out));
        if (!s->ready ? pool_await(s, POOL_READY_MS) != 0 : pool_slot_dead(s)) {
            pool_slot_free(s);
            continue;
        }
        *out = s;
        return 0;
    }
    return fmugw_error_set(FMUGW_ERROR, "sandbox pool: no sandbox could be started: %s", fmugw_error_last());
}

/* --- filling a sandbox's /job --------------------------------------------- */

static int pool_copy_file(int sdir, const char *name, int ddir, const char *dname, mode_t mode)
{
    int rc = -1, in = -1, out = -1;
    char buf[65536];
    if ((in = openat(sdir, name, O_RDONLY | O_CLOEXEC)) < 0 ||
        (out = openat(ddir, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0777)) < 0)
        goto out;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto out;
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                goto out;
            off += w;
        }
    }
    rc = 0;
out:
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    return rc;
}

/* A hard link, or a copy where a link is not possible (another file
 * system, link count, protected_hardlinks). */
static int pool_link_file(int sdir, const char *name, int ddir, const char *dname, mode_t mode, int flags)
{
    if (linkat(sdir, name, ddir, dname, flags) == 0)
        return 0;
    if (errno != EXDEV && errno != EPERM && errno != EMLINK && errno != EACCES)
        return -1;
    return pool_copy_file(sdir, name, ddir, dname, mode);
}

/* Recreates the tree at sdir in ddir: directories made, files linked,
 * symlinks copied as they are, anything else left out. */
static int pool_link_tree(int sdir, int ddir, int depth)
{
    int rc = -1, dup_fd = -1;
    DIR *d = NULL;
    struct dirent *e;
    if (depth > POOL_DEPTH_MAX) {
        errno = ELOOP;
        return -1;
    }
    if ((dup_fd = fcntl(sdir, F_DUPFD_CLOEXEC, 0)) < 0 || !(d = fdopendir(dup_fd)))
        goto out;
    dup_fd = -1;
    while ((errno = 0, e = readdir(d))) {
        struct stat st;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (fstatat(sdir, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            goto out;
        if (S_ISDIR(st.st_mode)) {
            int s2 = -1, d2 = -1, r;
            if (mkdirat(ddir, e->d_name, 0700) != 0)
                goto out;
            s2 = openat(sdir, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            d2 = openat(ddir, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            r = s2 >= 0 && d2 >= 0 ? pool_link_tree(s2, d2, depth + 1) : -1;
            int en = errno;
            if (s2 >= 0)
                close(s2);
            if (d2 >= 0)
                close(d2);
            errno = en;
            if (r != 0)
                goto out;
        } else if (S_ISREG(st.st_mode)) {
            if (pool_link_file(sdir, e->d_name, ddir, e->d_name, st.st_mode, 0) != 0)
                goto out;
        } else if (S_ISLNK(st.st_mode)) {
            char target[4096];
            ssize_t n = readlinkat(sdir, e->d_name, target, sizeof target - 1);
            if (n < 0)
                goto out;
            target[n] = 0;
            if (symlinkat(target, ddir, e->d_name) != 0)
                goto out;
        }
    }
    rc = errno ? -1 : 0;
out:
    if (d)
        closedir(d);
    if (dup_fd >= 0)
        close(dup_fd);
    return rc;
}

/* Puts the job's FMU at <dir>/fmu and its input at <dir>/input.csv. */
static int pool_fill(const pool_slot *s, const sandbox_job *job)
{
    int rc = 0, src = -1, dst = -1, jdir = -1;
    char *fmu = fmugw_path_join(s->dir, "fmu");
    if (!fmu) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "sandbox pool: out of memory");
        goto out;
    }
    if ((src = open(job->fmu_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
        (dst = open(fmu, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 || pool_link_tree(src, dst, 0) != 0) {
        rc = fmugw_error_set(FMUGW_EIO, "sandbox pool: cannot put %s into the sandbox: %s", job->fmu_dir,
                             strerror(errno));
        goto out;
    }
    if (job->input_file) {
        if ((jdir = open(s->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
            pool_link_file(AT_FDCWD, job->input_file, jdir, "input.csv", 0600, AT_SYMLINK_FOLLOW) != 0) {
            rc = fmugw_error_set(FMUGW_EIO, "sandbox pool: cannot put %s into the sandbox: %s", job->input_file,
                                 strerror(errno));
            goto out;
        }
    }
out:
    if (src >= 0)
        close(src);
    if (dst >= 0)
        close(dst);
    if (jdir >= 0)
        close(jdir);
    free(fmu);
    return rc;
}

/* "L cpu mem fsize nofile nproc\n" then each argument NUL-terminated;
 * the end of the message is the end of the stream. */
int sandbox__send_job(int fd, const sandbox_limits *l, char *const *args)
{
    int rc = 0;
    char head[256];
    int n = snprintf(head, sizeof head, "L %.17g %" PRIu64 " %" PRIu64 " %u %u\n", l->cpu_limit_s, l->memory_limit,
                     l->file_size_limit, l->max_open_files, l->max_threads);
    size_t len = (size_t)n;
    for (size_t i = 0; args[i]; i++)
        len += strlen(args[i]) + 1;
    if (len > POOL_JOB_MAX) {
        shutdown(fd, SHUT_WR);
        return fmugw_error_set(FMUGW_EINVALID, "sandbox: the job's arguments are too long (%zu bytes)", len);
    }
    char *msg = malloc(len), *q = msg;
    if (!msg) {
        shutdown(fd, SHUT_WR);
        return fmugw_error_set(FMUGW_ENOMEM, "sandbox: out of memory");
    }
    memcpy(q, head, (size_t)n);
    q += n;
    for (size_t i = 0; args[i]; i++) {
        size_t k = strlen(args[i]) + 1;
        memcpy(q, args[i], k);
        q += k;
    }
    /* A runner that died already gives EPIPE here (MSG_NOSIGNAL: no
     * SIGPIPE); sandbox__collect then reports what became of it. */
    for (size_t off = 0; off < len;) {
        ssize_t w = send(fd, msg + off, len - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    shutdown(fd, SHUT_WR); /* end of the message */
    free(msg);
    return rc;
}

static int pool_send_job(pool_slot *s, const sandbox_job *job)
{
    int rc = sandbox__send_job(s->job_w, &job->limits, job->args);
    close(s->job_w);
    s->job_w = -1;
    return rc;
}

/* 0 (unset) is "no limit" for the rlimits below. */
static bool pool_above(uint64_t want, uint64_t ceiling)
{
    return ceiling && (!want || want > ceiling);
}

static bool pool_fits(const sandbox_pool *p, const sandbox_limits *l)
{
    const sandbox_limits *c = &p->ceiling;
    double cpu = ceil(l->cpu_limit_s > 0 ? l->cpu_limit_s : 1), ccpu = ceil(c->cpu_limit_s > 0 ? c->cpu_limit_s : 1);
    return cpu <= ccpu && !pool_above(l->memory_limit, c->memory_limit) &&
           !pool_above(l->file_size_limit, c->file_size_limit) &&
           !pool_above(l->max_open_files, c->max_open_files) && !pool_above(l->max_threads, c->max_threads) &&
           !pool_above(l->scratch_bytes, c->scratch_bytes) && !pool_above(l->scratch_inodes, c->scratch_inodes);
}

int sandbox_pool_new(sandbox_pool **out, unsigned size, const sandbox_pool_opts *opts)
{
    int rc = 0;
    sandbox_pool *p = NULL;
    *out = NULL;
    if (!opts || !opts->runner || size == 0)
        return fmugw_error_set(FMUGW_EINVALID, "sandbox pool: a runner and a size >= 1 are required");
    if (!(p = calloc(1, sizeof *p)))
        return fmugw_error_set(FMUGW_ENOMEM, "sandbox pool: out of memory");
    p->runner_fd = -1;
    p->size = size;
    p->ceiling = opts->limits;
    p->refill_inline = opts->refill_inline;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    const char *wd = opts->work_dir;
    if (!wd || !*wd)
        wd = getenv("TMPDIR");
    if (!wd || !*wd)
        wd = "/tmp";
    if (!(p->runner = strdup(opts->runner)) || !(p->work_dir = strdup(wd)) ||
        !(p->init_path = sandbox__init_path(p->runner))) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "sandbox pool: out of memory");
        goto out;
    }
    if ((p->runner_fd = open(p->runner, O_RDONLY | O_CLOEXEC)) < 0) {
        rc = fmugw_error_set(FMUGW_ENOTFOUND, "sandbox pool: cannot open the runner %s: %s", p->runner,
                             strerror(errno));
        goto out;
    }
    if (p->refill_inline) {
        for (unsigned i = 0; i < size; i++) {
            pool_slot *s;
            if ((rc = pool_spawn_ready(p, &s)))
                goto out;
            pool_push(p, s);
        }
    } else {
        /* The thread starts them all: a sandbox dies with the thread that
         * cloned it (PR_SET_PDEATHSIG), and the thread lives as long as the
         * pool. */
        if (pthread_create(&p->thread, NULL, pool_refill_main, p) != 0) {
            rc = fmugw_error_set(FMUGW_ERROR, "sandbox pool: cannot start the refill thread");
            goto out;
        }
        p->have_thread = true;
        pthread_mutex_lock(&p->mu);
        while (p->n_idle < size && !p->failures)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->failures)
            rc = fmugw_error_set(FMUGW_ERROR, "%s", p->error);
        /* Wait for every runner to be ready here, so that a pool that
         * cannot work (bad runner, no namespaces) fails now. */
        for (pool_slot *s = p->head; s && !rc; s = s->next)
            rc = pool_await(s, POOL_READY_MS);
        pthread_mutex_unlock(&p->mu);
    }
out:
    if (rc) {
        char keep[512];
        snprintf(keep, sizeof keep, "%s", fmugw_error_last());
        sandbox_pool_free(p);
        fmugw_error_set(rc, "%s", keep);
    } else {
        *out = p;
    }
    return rc;
}

int sandbox_pool_run(sandbox_pool *p, const sandbox_job *job, sandbox_report *r)
{
    int rc = 0;
    pool_slot *s = NULL;
    uint64_t t0 = sandbox__now_ms();

    if (!job->isolate || !pool_fits(p, &job->limits)) {
        sandbox_job one = *job;
        one.runner = p->runner;
        return sandbox_run(&one, r);
    }
    memset(r, 0, sizeof *r);
    if (!job->fmu_dir || !job->args || !job->args[0]) {
        rc = fmugw_error_set(FMUGW_EINVALID, "sandbox: fmu_dir and args are required");
        goto fail;
    }
    if ((rc = pool_take(p, &s)))
        goto fail;
    t0 = sandbox__now_ms(); /* the job's clock starts when it has its sandbox */
    if ((rc = pool_fill(s, job)) || (rc = pool_send_job(s, job)))
        goto fail;
    if (p->refill_inline) {
        /* The replacement starts while this job runs; a failure here is
         * seen (and reported) by the next job that finds no sandbox. */
        pool_slot *n = NULL;
        if (pool_spawn(p, &n) == 0) {
            pthread_mutex_lock(&p->mu);
            pool_push(p, n);
            pthread_mutex_unlock(&p->mu);
        }
    }
    rc = sandbox__collect(job, r, s->pid, s->res_r, s->log_r, s->ctl_r, s->status_r, t0);
    s->pid = -1; /* reaped */
    {
        char keep[512];
        snprintf(keep, sizeof keep, "%s", fmugw_error_last());
        pool_note_cleanup(p, pool_slot_free(s));
        if (rc)
            fmugw_error_set(rc, "%s", keep);
    }
    return rc;
fail:
    {
        char keep[512];
        snprintf(keep, sizeof keep, "%s", fmugw_error_last());
        pool_note_cleanup(p, pool_slot_free(s));
        fmugw_error_set(rc ? rc : FMUGW_ERROR, "%s", keep);
    }
    snprintf(r->message, sizeof r->message, "%s", fmugw_error_last());
    r->outcome = SANDBOX_PLATFORM_ERROR;
    r->wall_ms = sandbox__now_ms() - t0;
    return rc;
}

unsigned sandbox_pool_cleanup_failures(sandbox_pool *p, char *msg, size_t size)
{
    pthread_mutex_lock(&p->mu);
    unsigned n = p->cleanup_failures;
    p->cleanup_failures = 0;
    if (msg && size)
        snprintf(msg, size, "%s", n ? p->cleanup_error : "");
    pthread_mutex_unlock(&p->mu);
    return n;
}

void sandbox_pool_free(sandbox_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (p->have_thread)
        pthread_join(p->thread, NULL);
    for (pool_slot *s; (s = pool_pop(p));)
        pool_note_cleanup(p, pool_slot_free(s));
    if (p->runner_fd >= 0)
        close(p->runner_fd);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->runner);
    free(p->init_path);
    free(p->work_dir);
    free(p);
}

/* --- the runner's side ---------------------------------------------------- */

int sandbox__pool_receive(int fd, bool announce, int *argc_out, char ***argv_out)
{
    static const char ready[] = "@ready\n";
    int rc = 0;
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    char **v = NULL;

    *argc_out = 0;
    *argv_out = NULL;
    if (!buf) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "runner: out of memory");
        goto out;
    }
    if (announce && write(4, ready, sizeof ready - 1) != (ssize_t)(sizeof ready - 1)) {
        rc = fmugw_error_set(FMUGW_EIO, "runner: cannot report ready: %s", strerror(errno));
        goto out;
    }
    for (;;) {
        if (len == cap) {
            char *nb = cap < POOL_JOB_MAX ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                rc = fmugw_error_set(FMUGW_EINVALID, "runner: the job message is too long");
                goto out;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = fmugw_error_set(FMUGW_EIO, "runner: reading the job: %s", strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd); /* nothing more comes, and the FMU gets no socket to the parent */
    fd = -1;
    if (len == 0) {
        rc = fmugw_error_set(FMUGW_ENOTFOUND, "runner: the pool closed without a job");
        goto out;
    }
    char *nl = memchr(buf, '\n', len);
    sandbox_limits l;
    memset(&l, 0, sizeof l);
    unsigned long long mem, fsize;
    if (!nl || buf[0] != 'L' || buf[len - 1] != 0 ||
        sscanf(buf, "L %lg %llu %llu %u %u", &l.cpu_limit_s, &mem, &fsize, &l.max_open_files, &l.max_threads) != 5) {
        rc = fmugw_error_set(FMUGW_EINVALID, "runner: malformed job message");
        goto out;
    }
    l.memory_limit = mem;
    l.file_size_limit = fsize;
    if (sandbox__apply_rlimits(&l) != 0) {
        rc = fmugw_error_set(FMUGW_ERROR, "runner: cannot set the job's limits: %s", strerror(errno));
        goto out;
    }
    size_t off = (size_t)(nl - buf) + 1, strings = len - off;
    int argc = 0;
    for (size_t i = off; i < len; i++)
        argc += buf[i] == 0;
    if (argc < 1) {
        rc = fmugw_error_set(FMUGW_EINVALID, "runner: the job has no arguments");
        goto out;
    }
    /* One block: the pointers, then the strings. */
    if (!(v = malloc((size_t)(argc + 1) * sizeof *v + strings))) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "runner: out of memory");
        goto out;
    }
    char *q = (char *)(v + argc + 1);
    memcpy(q, buf + off, strings);
    for (int i = 0; i < argc; i++) {
        v[i] = q;
        q += strlen(q) + 1;
    }
    v[argc] = NULL;
    *argc_out = argc;
    *argv_out = v;
    v = NULL;
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    free(v);
    return rc;
}
