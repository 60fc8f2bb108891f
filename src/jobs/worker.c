/*
 * worker.c - one worker thread of the job system: claims a runnable job
 * (atomic UPDATE ... WHERE status = 'queued' RETURNING): of the accounts
 * with the fewest running jobs, the higher tier's, then the oldest, so one
 * tenant's backlog does not starve the others. Reserve workers
 * (JOB_RESERVE_WORKERS, on top of the configured count) claim only the job
 * of an account that runs nothing: a tenant holding every regular worker
 * with long jobs cannot make another tenant's job wait for them,
 * takes the unpacked FMU from the cache (unpacked.h: decrypted and
 * extracted once per stored blob, shared read-only by the jobs running it),
 * writes the inputs CSV, builds the runner argv from the stored settings,
 * runs it in the sandbox (the pool when there is one), streams the results
 * through SHA-256 + crypto_seal into a temporary file, stores the sealed
 * result in the blob store and finishes the job: state, metering, result
 * row and ledger settle/release in one transaction.
 *
 * The results arrive over a socketpair read by a helper thread. Cancelling
 * a running job sets the slot's cancel flag, which the sandbox polls
 * (sandbox_job.cancel) and then kills the job; the result socket is shut
 * down too. The job is then recorded as canceled and charged for the CPU
 * and memory it used.
 *
 * Progress and cancel across processes (the monitor thread, one per
 * process with workers): the runner reports the simulated time it reached
 * ("@progress T", at most ten a second; sandbox_job.on_progress), the
 * worker keeps it in its slot (status in this process reads it there) and
 * the monitor writes it to jobs.progress_ppm at most every 0.5 s per job
 * (status in other processes). The same monitor pass looks for cancel
 * marks (jobs.cancel_requested, set by POST /fmu/cancel in whatever
 * process answered it) on the jobs this process runs: one query every
 * 250 ms while a job runs, none when idle.
 */
#include "jobs/jobs_internal.h"
#include "jobs/unpacked.h"

#include "fmi/sim_args.h"
#include "http/log.h"
#include "ledger/ledger.h"
#include "store/blob.h"
#include "store/fmus.h"
#include "util/crypto.h"
#include "util/error.h"
#include "util/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char id[JOB_ID_MAX];
    char account[64];
    char fmu_id[64];
    char tier[40];
    char *request;
    char *inputs;
    int64_t timeout_ms;
    int64_t memory_limit;
    int64_t fmu_size;
    int64_t reserved;
    double span;
} claimed;

/* ---- claim -------------------------------------------------------------- */

typedef struct {
    const job_system *js;
    claimed *job;
    bool reserve; /* a reserve worker */
    bool got;
} claim_tx;

static int claim_fn(db_conn *c, void *ctx)
{
    claim_tx *t = ctx;
    db_stmt *st = NULL;
    int64_t now = job__now_ms();
    claimed *j = t->job;
    t->got = false;
    free(j->request);
    free(j->inputs);
    memset(j, 0, sizeof *j);
    /* Regular workers: the account with the fewest running jobs first,
     * then the higher tier, then the oldest job. Reserve workers: only an
     * account running nothing ($4 = 1). */
    int rc = db_query(&st, c,
                      "UPDATE jobs SET status = 'running', lease_owner = $1, lease_expires_at = $2 + timeout_ms + $3, "
                      "started_at = $2, updated_at = $2, attempts = attempts + 1 "
                      "WHERE id = (SELECT q.id FROM (SELECT j.id, j.created_at, j.max_concurrent, "
                      "    CASE j.tier WHEN 'enterprise' THEN 0 WHEN 'pro' THEN 1 ELSE 2 END AS rank, "
                      "    (SELECT COUNT(*) FROM jobs r WHERE r.account_id = j.account_id AND r.status = 'running') AS n "
                      "    FROM jobs j WHERE j.status = 'queued') q "
                      "  WHERE q.n < q.max_concurrent AND ($4 = 0 OR q.n = 0) "
                      "  ORDER BY q.n, q.rank, q.created_at, q.id LIMIT 1) AND status = 'queued' "
                      "RETURNING id, account_id, fmu_id, tier, request, inputs_csv, timeout_ms, memory_limit, fmu_size, "
                      "credits_reserved",
                      "tiii", t->js->owner, now, (int64_t)JOB_LEASE_GRACE_S * 1000, (int64_t)t->reserve);
    if (rc != 0 || (rc = db_step(st)) <= 0)
        goto out;
    snprintf(j->id, sizeof j->id, "%s", db_column_text(st, 0));
    snprintf(j->account, sizeof j->account, "%s", db_column_text(st, 1));
    snprintf(j->fmu_id, sizeof j->fmu_id, "%s", db_column_text(st, 2));
    snprintf(j->tier, sizeof j->tier, "%s", db_column_text(st, 3));
    if ((rc = db_column_text_dup(&j->request, st, 4)) != 0 || (rc = db_column_text_dup(&j->inputs, st, 5)) != 0)
        goto out;
    j->timeout_ms = db_column_int64(st, 6);
    j->memory_limit = db_column_int64(st, 7);
    j->fmu_size = db_column_int64(st, 8);
    j->reserved = db_column_int64(st, 9);
    /* finish the statement before the transaction commits */
    while ((rc = db_step(st)) == 1)
        ;
    if (rc == 0)
        t->got = true;
out:
    db_finalize(st);
    return rc < 0 ? rc : 0;
}

/* ---- results stream ---------------------------------------------------------- */

typedef struct {
    int fd;
    FILE *f;
    crypto_seal *seal;
    crypto_sha256_ctx *sha;
    uint64_t bytes;
    int rc;
} result_reader;

static void *reader_main(void *arg)
{
    result_reader *r = arg;
    char *buf = malloc(65536);
    if (!buf) {
        r->rc = FMUGW_ENOMEM;
        return NULL;
    }
    for (;;) {
        ssize_t n = read(r->fd, buf, 65536);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r->rc = FMUGW_EIO;
            break;
        }
        if (n == 0)
            break;
        r->bytes += (uint64_t)n;
        if (r->rc == 0 && (crypto_sha256_update(r->sha, buf, (size_t)n) != 0 ||
                           crypto_seal_update(r->seal, buf, (size_t)n) != 0))
            r->rc = FMUGW_EIO; /* keep draining: the sandbox must not block */
    }
    free(buf);
    if (r->rc == 0 && crypto_seal_final(r->seal) != 0)
        r->rc = FMUGW_EIO;
    if (r->rc == 0 && fflush(r->f) != 0)
        r->rc = FMUGW_EIO;
    return NULL;
}

static int file_read(size_t *out_n, void *ctx, void *buf, size_t cap)
{
    FILE *f = ctx;
    size_t n = fread(buf, 1, cap, f);
    if (n == 0 && ferror(f))
        return fmugw_error_set(FMUGW_EIO, "cannot read the sealed result");
    *out_n = n;
    return 0;
}

/* ---- the FMU -------------------------------------------------------------------- */

typedef struct {
    crypto_open *open;
} feed_ctx;

static int feed(void *ctx, const void *buf, size_t n)
{
    return crypto_open_update(((feed_ctx *)ctx)->open, buf, n);
}

/* The fill of a job's unpacked FMU, and the CPU time it took (charged to
 * the job that filled the cache; a job that finds the FMU unpacked pays
 * nothing for it). */
typedef struct {
    job_system *js;
    uint64_t cpu_ms;
} unpack_ctx;

static uint64_t thread_cpu_us(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* What the sandboxed unpacking (fmugw-validator --unpack) may use. */
#define UNPACK_TIMEOUT_S 120.0
#define UNPACK_CPU_S 60.0
#define UNPACK_MEMORY ((uint64_t)1 << 30)
#define UNPACK_LOG_LIMIT ((uint64_t)1 << 20)

/* nftw over what the sandbox wrote: only directories and regular files
 * with one link; no set-id or sticky bits and no group/other write
 * (cleared), owner access kept so the tree can be read and removed. */
static int tidy_visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag != FTW_F && flag != FTW_D)
        return 1;
    if (S_ISREG(st->st_mode) ? st->st_nlink != 1 : !S_ISDIR(st->st_mode))
        return 1;
    mode_t mode = st->st_mode & 07777, want = (mode & 0755) | (S_ISDIR(st->st_mode) ? 0700 : 0600);
    return want != mode && chmod(path, want) != 0 ? 1 : 0;
}

/* unpacked_fill_fn: decrypts the FMU blob to <dir>/in/model.fmu (here,
 * metered by this thread's CPU clock), then fmugw-validator --unpack
 * extracts it in the sandbox into <dir>/out (its /job/scratch; metered by
 * the sandbox), within `max_bytes` for the zip and the files together.
 * The tree is checked and tidied (tidy_visit), moved to <dir>/fmu, and
 * the zip removed. The worker never parses the archive itself. */
static int unpack_fmu_in(unpack_ctx *u, const char *blob_key, const char *dir, uint64_t max_bytes)
{
    job_system *js = u->js;
    char *in = fmugw_path_join(dir, "in"), *out = fmugw_path_join(dir, "out");
    char *zip = in ? fmugw_path_join(in, "model.fmu") : NULL, *fmu_dir = fmugw_path_join(dir, "fmu");
    char *made = out ? fmugw_path_join(out, "fmu") : NULL, *validator = sandbox_default_validator();
    FILE *f = NULL;
    feed_ctx fc = { NULL };
    int rc = 0, fd = -1;
    uint64_t t0 = thread_cpu_us();

    if (!in || !out || !zip || !fmu_dir || !made || !validator) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    if (mkdir(in, 0700) != 0 || mkdir(out, 0700) != 0) {
        rc = fmugw_error_set(FMUGW_EIO, "cannot prepare the unpacking: %s", strerror(errno));
        goto out;
    }
    if ((fd = open(zip, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0 ||
        !(f = fdopen(fd, "wb"))) {
        if (fd >= 0)
            close(fd);
        rc = fmugw_error_set(FMUGW_EIO, "cannot create the FMU file: %s", strerror(errno));
        goto out;
    }
    if ((rc = crypto_open_init_file(&fc.open, js->a->master_keys, f)) != 0 ||
        (rc = blob_get_stream(js->a->blobs, blob_key, feed, &fc)) != 0 || (rc = crypto_open_final(fc.open)) != 0)
        goto out;
    if (fclose(f) != 0) {
        f = NULL;
        rc = fmugw_error_set(FMUGW_EIO, "cannot write the FMU file");
        goto out;
    }
    f = NULL;
    struct stat zst;
    if (stat(zip, &zst) != 0) {
        rc = fmugw_error_set(FMUGW_EIO, "cannot stat the FMU file: %s", strerror(errno));
        goto out;
    }
    uint64_t zip_bytes = (uint64_t)zst.st_blocks * 512;
    if (zip_bytes >= max_bytes) {
        rc = fmugw_error_set(FMUGW_ETOOBIG, "no room to unpack the FMU: %llu bytes left in the unpacked-FMU cache",
                             (unsigned long long)max_bytes);
        goto out;
    }
    char max_text[32];
    snprintf(max_text, sizeof max_text, "%llu", (unsigned long long)(max_bytes - zip_bytes));
    char *argv[] = { "fmugw-validator", "--unpack", "/job/fmu/model.fmu", "/job/scratch/fmu", max_text, NULL };
    sandbox_job sj = { 0 };
    sj.runner = validator;
    sj.fmu_dir = in;
    sj.scratch_dir = out;
    sj.args = argv;
    sandbox_limits lim = SANDBOX_LIMITS_INIT;
    lim.timeout_s = UNPACK_TIMEOUT_S;
    lim.cpu_limit_s = UNPACK_CPU_S;
    lim.memory_limit = UNPACK_MEMORY;
    lim.output_limit = UNPACK_LOG_LIMIT;
    lim.file_size_limit = max_bytes - zip_bytes;
    sj.limits = lim;
    sj.isolate = true;
    sj.result_fd = -1;
    sandbox_report sr;
    u->cpu_ms += (thread_cpu_us() - t0 + 999) / 1000;
    t0 = 0;
    rc = sandbox_run(&sj, &sr);
    u->cpu_ms += sr.cpu_user_ms + sr.cpu_system_ms;
    if (rc != 0)
        goto out;
    if (sr.outcome != SANDBOX_FINISHED) {
        rc = fmugw_error_set(sr.outcome == SANDBOX_FMU_ERROR ? FMUGW_EINVALID : FMUGW_ETOOBIG,
                             "cannot unpack the FMU (%s): %s", sandbox_outcome_name(sr.outcome), sr.message);
        goto out;
    }
    unlink(zip);
    if (nftw(made, tidy_visit, 16, FTW_PHYS) != 0) {
        rc = fmugw_error_set(FMUGW_EUNSAFE, "the unpacked FMU holds a link or a special file");
        goto out;
    }
    if (rename(made, fmu_dir) != 0) {
        rc = fmugw_error_set(FMUGW_EIO, "cannot move the unpacked FMU: %s", strerror(errno));
        goto out;
    }
out:
    if (t0)
        u->cpu_ms += (thread_cpu_us() - t0 + 999) / 1000;
    if (f)
        fclose(f);
    crypto_open_free(fc.open);
    if (zip)
        unlink(zip);
    if (in)
        rmdir(in);
    if (out)
        fmugw_rmtree(out);
    free(in);
    free(out);
    free(zip);
    free(made);
    free(fmu_dir);
    free(validator);
    return rc;
}

static int unpack_fmu(void *ctx, const char *blob_key, const char *dir, uint64_t max_bytes)
{
    return unpack_fmu_in(ctx, blob_key, dir, max_bytes);
}

static int write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return fmugw_error_set(FMUGW_EIO, "cannot create %s: %s", path, strerror(errno));
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            return fmugw_error_set(FMUGW_EIO, "cannot write %s", path);
        }
        off += (size_t)n;
    }
    if (close(fd) != 0)
        return fmugw_error_set(FMUGW_EIO, "cannot write %s", path);
    return 0;
}

/* ---- finish ------------------------------------------------------------------------ */

typedef struct {
    const job_system *js;
    const claimed *job;
    const char *status;      /* succeeded, failed, timed_out, canceled */
    const char *error_class; /* NULL for succeeded */
    const char *message;
    const sandbox_report *rep;
    bool release;            /* platform error: release instead of settle */
    int64_t charge;
    const char *blob_key;    /* succeeded: the stored result */
    const char *format;
    const char *sha256;
    uint64_t size;
    int64_t changed;
    pricing_usage usage;
    const pricing_tier *tier;
    int64_t progress;        /* millionths, stored with the final state */
    uint64_t unpack_cpu_ms;  /* unpacking the FMU for this job (0 on a cache hit): in cpu_ms and the charge */
} finish_tx;

static int finish_fn(db_conn *c, void *ctx)
{
    finish_tx *t = ctx;
    int64_t now = job__now_ms(), reserved = 0, charged = 0;
    const sandbox_report *r = t->rep;
    int rc = db_execp(&t->changed, c,
                      "UPDATE jobs SET status = $1, error_class = $2, error_message = $3, cpu_ms = $4, wall_ms = $5, "
                      "peak_rss_kb = $6, output_bytes = $7, rows = $8, finished_at = $9, updated_at = $9, "
                      "lease_owner = NULL, lease_expires_at = NULL, progress_ppm = $12 "
                      "WHERE id = $10 AND status = 'running' AND lease_owner = $11",
                      "ttt" "iiiii" "itt" "i", t->status, t->error_class, t->message,
                      (int64_t)(r->cpu_user_ms + r->cpu_system_ms + t->unpack_cpu_ms), (int64_t)r->wall_ms,
                      (int64_t)r->peak_rss_kb,
                      (int64_t)(t->blob_key ? t->size : r->output_bytes), (int64_t)r->rows, now, t->job->id,
                      t->js->owner, t->progress);
    if (rc != 0 || t->changed == 0)
        return rc; /* recovered by someone else meanwhile: nothing more to record */
    if (t->blob_key &&
        (rc = db_execp(NULL, c,
                       "INSERT INTO results (job_id, account_id, blob_key, format, rows, size, sha256, created_at) "
                       "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                       "tttt" "iiti", t->job->id, t->job->account, t->blob_key, t->format, (int64_t)r->rows,
                       (int64_t)t->size, t->sha256, now)) != 0)
        return rc;
    if (!t->release) {
        /* priced here, with this cycle's usage (bulk discount) */
        t->usage.cycle_usage = job__cycle_usage(c, t->job->account);
        t->charge = t->tier ? pricing_job_cost(t->js->a->pricing, t->tier, &t->usage) : 0;
        char detail[512];
        snprintf(detail, sizeof detail,
                 "{\"fmu_id\":\"%s\",\"job_id\":\"%s\",\"status\":\"%s\",\"cpu_ms\":%llu,\"unpack_cpu_ms\":%llu,"
                 "\"wall_ms\":%llu,\"peak_rss_kb\":%llu,\"output_bytes\":%llu,\"rows\":%llu,\"reused\":false}",
                 t->job->fmu_id, t->job->id, t->status,
                 (unsigned long long)(r->cpu_user_ms + r->cpu_system_ms + t->unpack_cpu_ms),
                 (unsigned long long)t->unpack_cpu_ms,
                 (unsigned long long)r->wall_ms, (unsigned long long)r->peak_rss_kb,
                 (unsigned long long)r->output_bytes, (unsigned long long)r->rows);
        rc = ledger_settle_detail(c, t->job->id, t->charge, detail);
    } else {
        rc = ledger_release(c, t->job->id);
    }
    if (rc == FMUGW_EEXISTS)
        rc = 0; /* already closed: never twice */
    if (rc != 0)
        return rc;
    if ((rc = ledger_job_amounts(c, t->job->id, &reserved, &charged)) != 0)
        return rc;
    return db_execp(NULL, c, "UPDATE jobs SET credits_charged = $1 WHERE id = $2", "it", charged, t->job->id);
}

/* ---- progress and cancel marks ------------------------------------------------------ */

typedef struct {
    job_system *js;
    job_slot *slot;
} progress_ctx;

/* sandbox_job.on_progress: the simulated time `t` reached, as millionths
 * of the span in the slot (clamped, never decreasing). */
static void on_progress(void *ctx, double t)
{
    progress_ctx *p = ctx;
    job_slot *s = p->slot;
    pthread_mutex_lock(&p->js->mu);
    if (s->active && s->span > 0) {
        double f = (t - s->start) / s->span;
        f = f < 0 ? 0 : f > 1 ? 1 : f;
        int64_t ppm = (int64_t)llround(f * JOB_PROGRESS_SCALE);
        if (ppm > s->progress)
            s->progress = ppm;
    }
    pthread_mutex_unlock(&p->js->mu);
}

bool job__slot_cancel(job_system *js, const char *job_id)
{
    bool here = false;
    pthread_mutex_lock(&js->mu);
    for (unsigned i = 0; js->slots && i < js->n_workers; i++) {
        job_slot *s = &js->slots[i];
        if (s->active && !strcmp(s->job_id, job_id)) {
            here = true;
            s->cancel = true;
            __atomic_store_n(&s->cancel_flag, 1, __ATOMIC_RELEASE); /* the sandbox kills the job */
            if (s->result_rfd >= 0)
                shutdown(s->result_rfd, SHUT_RDWR);
        }
    }
    pthread_mutex_unlock(&js->mu);
    return here;
}

int64_t job__slot_progress(job_system *js, const char *job_id)
{
    int64_t p = -1;
    pthread_mutex_lock(&js->mu);
    for (unsigned i = 0; js->slots && i < js->n_workers; i++)
        if (js->slots[i].active && !strcmp(js->slots[i].job_id, job_id))
            p = js->slots[i].progress;
    pthread_mutex_unlock(&js->mu);
    return p;
}

typedef struct {
    char id[JOB_ID_MAX];
    int64_t progress;
} progress_write;

int job__monitor_pass(job_system *js)
{
    db_conn *c = NULL;
    db_stmt *st = NULL;
    progress_write *w = NULL;
    char (*marked)[JOB_ID_MAX] = NULL;
    size_t n_active = 0, n_w = 0, n_marked = 0;
    int64_t now = job__now_ms();
    int rc = 0;

    /* what runs here, and which progress is due to be written */
    pthread_mutex_lock(&js->mu);
    for (unsigned i = 0; js->slots && i < js->n_workers; i++)
        n_active += js->slots[i].active;
    if (n_active && !(w = calloc(n_active, sizeof *w))) {
        pthread_mutex_unlock(&js->mu);
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    }
    for (unsigned i = 0; n_active && i < js->n_workers; i++) {
        job_slot *s = &js->slots[i];
        if (!s->active || s->progress <= s->progress_written || now - s->progress_written_ms < JOB_PROGRESS_WRITE_MS)
            continue;
        snprintf(w[n_w].id, sizeof w[n_w].id, "%s", s->job_id);
        w[n_w++].progress = s->progress;
        s->progress_written = s->progress; /* a failed write is not retried before the next change */
        s->progress_written_ms = now;
    }
    pthread_mutex_unlock(&js->mu);
    if (!n_active)
        goto out;
    if ((rc = db_pool_acquire(&c, js->db)) != 0)
        goto out;
    /* one query for all of this process's running jobs (index jobs_queue: status) */
    if ((rc = db_query(&st, c,
                       "SELECT id FROM jobs WHERE status = 'running' AND lease_owner = $1 AND cancel_requested <> 0",
                       "t", js->owner)) != 0)
        goto out;
    while ((rc = db_step(st)) == 1) {
        void *p = realloc(marked, (n_marked + 1) * sizeof *marked);
        if (!p) {
            rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
            goto out;
        }
        marked = p;
        snprintf(marked[n_marked++], JOB_ID_MAX, "%s", db_column_text(st, 0));
    }
    db_finalize(st);
    st = NULL;
    if (rc < 0)
        goto out;
    rc = 0;
    for (size_t i = 0; i < n_marked; i++)
        job__slot_cancel(js, marked[i]);
    for (size_t i = 0; i < n_w && rc == 0; i++)
        rc = db_execp(NULL, c,
                      "UPDATE jobs SET progress_ppm = $1 WHERE id = $2 AND status = 'running' AND lease_owner = $3",
                      "itt", w[i].progress, w[i].id, js->owner);
out:
    db_finalize(st);
    if (c)
        db_pool_release(js->db, c);
    free(w);
    free(marked);
    return rc;
}

void *job__monitor_main(void *arg)
{
    job_system *js = arg;
    pthread_mutex_lock(&js->mu);
    while (!js->monitor_stop) {
        int64_t until = job__now_ms() + JOB_MONITOR_PERIOD_MS;
        struct timespec ts = { (time_t)(until / 1000), (long)(until % 1000) * 1000000L };
        pthread_cond_timedwait(&js->monitor_wake, &js->mu, &ts);
        if (js->monitor_stop)
            break;
        pthread_mutex_unlock(&js->mu);
        if (job__monitor_pass(js) != 0)
            fmugw_log_json(FMUGW_LOG_WARN, "job monitor pass failed", json_pack("{s:s}", "error", fmugw_error_last()));
        pthread_mutex_lock(&js->mu);
    }
    pthread_mutex_unlock(&js->mu);
    return NULL;
}

/* ---- one job --------------------------------------------------------------------- */

static bool cancel_requested(job_system *js, const char *job_id)
{
    db_conn *c = NULL;
    db_stmt *st = NULL;
    bool yes = false;
    if (db_pool_acquire(&c, js->db) != 0)
        return false;
    if (db_query(&st, c, "SELECT cancel_requested FROM jobs WHERE id = $1", "t", job_id) == 0 && db_step(st) == 1)
        yes = db_column_int64(st, 0) != 0;
    db_finalize(st);
    db_pool_release(js->db, c);
    return yes;
}

static void run_job(job_system *js, job_slot *slot, claimed *job)
{
    app *a = js->a;
    db_conn *c = NULL;
    store_fmu *fmu = NULL;
    char *dir = NULL, *fmu_dir = NULL, *input = NULL, *scratch = NULL, *sealed_path = NULL, **argv = NULL;
    int sv[2] = { -1, -1 };
    result_reader rr = { -1, NULL, NULL, NULL, 0, 0 };
    pthread_t reader;
    bool reader_started = false;
    sandbox_report rep;
    char platform_msg[1100] = "";
    char blob_key[BLOB_KEY_SIZE] = "", sha_hex[65] = "";
    bool stored = false, charge_platform = false;
    const char *held_blob = NULL, *unpacked = NULL; /* the unpacked FMU held in js->unpacked */
    unpack_ctx uctx = { js, 0 }; /* the unpack's CPU time, charged with the job's */
    int rc;

    memset(&rep, 0, sizeof rep);
    json_t *req = json_loads(job->request, 0, NULL);
    job->span = json_number_value(json_object_get(req, "span"));
    /* "start" is stored since migration 5; older rows name start_time only when given */
    json_t *jstart = json_object_get(req, "start");
    double sim_start = json_number_value(jstart ? jstart : json_object_get(req, "start_time"));
    double cpu_limit = json_number_value(json_object_get(req, "cpu_limit_s"));
    char format[8];
    snprintf(format, sizeof format, "%s", json_string_value(json_object_get(req, "output_format")) ?: "csv");
    json_decref(req);

    finish_tx ft;
    memset(&ft, 0, sizeof ft);
    ft.js = js;
    ft.job = job;
    ft.rep = &rep;
    ft.format = format;

    pthread_mutex_lock(&js->mu);
    snprintf(slot->job_id, sizeof slot->job_id, "%s", job->id);
    slot->cancel = false;
    __atomic_store_n(&slot->cancel_flag, 0, __ATOMIC_RELEASE);
    slot->active = true;
    slot->result_rfd = -1;
    slot->start = sim_start;
    slot->span = job->span;
    slot->progress = slot->progress_written = slot->progress_written_ms = 0;
    pthread_mutex_unlock(&js->mu);
    job__notify_changed(js, job->id);

    if (asprintf(&dir, "%s/%s", js->work_dir, job->id) < 0) {
        dir = NULL;
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto platform;
    }
    if (mkdir(dir, 0700) != 0) {
        rc = fmugw_error_set(FMUGW_EIO, "cannot create the job directory: %s", strerror(errno));
        goto platform;
    }
    if ((rc = db_pool_acquire(&c, js->db)) != 0)
        goto platform;
    rc = store_fmu_get_internal(&fmu, c, job->fmu_id);
    db_pool_release(js->db, c);
    c = NULL;
    if (rc != 0 || !fmu->blob_key) {
        rc = fmugw_error_set(FMUGW_ENOTFOUND, "the FMU was deleted before the job ran");
        goto platform;
    }
    if ((rc = unpacked_cache_acquire(js->unpacked, fmu->blob_key, unpack_fmu, &uctx, &unpacked)) != 0)
        goto platform;
    held_blob = fmu->blob_key;
    if (!(fmu_dir = fmugw_path_join(unpacked, "fmu"))) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto platform;
    }
    if (job->inputs) {
        if (!(input = fmugw_path_join(dir, "input.csv"))) {
            rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
            goto platform;
        }
        if ((rc = write_text(input, job->inputs)) != 0)
            goto platform;
    }
    /* no scratch directory here: the job's scratch is a tmpfs in its sandbox */
    if (!(sealed_path = fmugw_path_join(dir, "result.sealed"))) {
        rc = fmugw_error_set(FMUGW_EIO, "cannot prepare the job directory");
        goto platform;
    }
    if ((rc = job__runner_argv(&argv, job->request, job->inputs != NULL)) != 0)
        goto platform;

    /* the result stream */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        rc = fmugw_error_set(FMUGW_EIO, "socketpair: %s", strerror(errno));
        goto platform;
    }
    int sfd = open(sealed_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (sfd < 0 || !(rr.f = fdopen(sfd, "w+b"))) {
        if (sfd >= 0)
            close(sfd);
        rc = fmugw_error_set(FMUGW_EIO, "cannot create the result file");
        goto platform;
    }
    if ((rc = crypto_sha256_new(&rr.sha)) != 0 ||
        (rc = crypto_seal_init_file(&rr.seal, a->master_keys, 0, rr.f)) != 0)
        goto platform;
    rr.fd = sv[0];
    if (pthread_create(&reader, NULL, reader_main, &rr) != 0) {
        rc = fmugw_error_set(FMUGW_ERROR, "cannot start the result reader");
        goto platform;
    }
    reader_started = true;
    pthread_mutex_lock(&js->mu);
    slot->result_rfd = sv[0];
    bool canceled_early = slot->cancel;
    pthread_mutex_unlock(&js->mu);
    if (canceled_early || cancel_requested(js, job->id)) {
        pthread_mutex_lock(&js->mu);
        slot->cancel = true;
        pthread_mutex_unlock(&js->mu);
        shutdown(sv[0], SHUT_RDWR);
    }

    sandbox_job sj = { 0 };
    sj.runner = js->runner;
    sj.fmu_dir = fmu_dir;
    sj.input_file = input;
    sj.scratch_dir = scratch;
    sj.args = argv;
    sandbox_limits lim = SANDBOX_LIMITS_INIT;
    /* the limits as validated, stored and priced (request.c); a row
     * without a deadline gets the least one rather than the sandbox's
     * default */
    lim.timeout_s = (double)(job->timeout_ms > 0 ? job->timeout_ms : 1) / 1000.0;
    lim.cpu_limit_s = cpu_limit > 0 && cpu_limit < lim.timeout_s ? cpu_limit : lim.timeout_s;
    if (job->memory_limit > 0)
        lim.memory_limit = (uint64_t)job->memory_limit;
    lim.output_limit = JOB_OUTPUT_LIMIT;
    sj.limits = lim;
    sj.isolate = true;
    sj.result_fd = sv[1];
    sj.result_form = !strcmp(format, "json") ? SANDBOX_RESULT_JSON : SANDBOX_RESULT_CSV;
    sj.cancel = &slot->cancel_flag;
    progress_ctx pctx = { js, slot };
    sj.on_progress = on_progress;
    sj.log_ctx = &pctx;
    bool ran = false;
    if (slot->cancel) {
        memset(&rep, 0, sizeof rep);
        rep.outcome = SANDBOX_PLATFORM_ERROR;
        rc = 0;
    } else {
        rc = js->pool ? sandbox_pool_run(js->pool, &sj, &rep) : sandbox_run(&sj, &rep);
        ran = true;
        char why[512];
        if (js->pool && sandbox_pool_cleanup_failures(js->pool, why, sizeof why))
            fmugw_log_json(FMUGW_LOG_WARN, "sandbox directory left", json_pack("{s:s}", "error", why));
    }
    close(sv[1]);
    sv[1] = -1;
    pthread_join(reader, NULL);
    reader_started = false;
    pthread_mutex_lock(&js->mu);
    slot->result_rfd = -1;
    bool canceled = slot->cancel;
    ft.progress = slot->progress;
    pthread_mutex_unlock(&js->mu);
    /* The scratch is a tmpfs: memory the job held, metered and charged with
     * its resident memory (the ledger caps a charge at the reservation). */
    rep.peak_rss_kb += rep.scratch_peak_kb;

    pricing_usage u = { .fmu_bytes = (uint64_t)job->fmu_size, .stop_minus_start = job->span,
                        .cpu_ms = rep.cpu_user_ms + rep.cpu_system_ms + uctx.cpu_ms, .wall_ms = rep.wall_ms,
                        .peak_rss_kb = rep.peak_rss_kb, .output_bytes = rep.output_bytes };
    const pricing_tier *tier = pricing_tier_get(a->pricing, job->tier);
    if (!tier)
        tier = pricing_tier_get(a->pricing, "free");
    ft.usage = u;
    ft.unpack_cpu_ms = uctx.cpu_ms;
    ft.tier = tier;
    char msg[1100];

    if (canceled) {
        ft.status = "canceled";
        ft.error_class = "canceled";
        ft.message = ran ? "canceled while running; charged for what it used" : "canceled before it started";
        ft.release = !ran;
    } else if (rc != 0 || rep.outcome == SANDBOX_PLATFORM_ERROR) {
        snprintf(platform_msg, sizeof platform_msg, "%s", rep.message[0] ? rep.message : fmugw_error_last());
        charge_platform = ran && rep.fmu_loaded;
        goto platform_report;
    } else if (rep.outcome == SANDBOX_FINISHED) {
        uint8_t d[32];
        charge_platform = true; /* the FMU ran to the end: what follows is ours, but the CPU was used */
        if (rr.rc != 0 || crypto_sha256_final(rr.sha, d) != 0 || fseek(rr.f, 0, SEEK_SET) != 0) {
            snprintf(platform_msg, sizeof platform_msg, "storing the result failed");
            goto platform_report;
        }
        crypto_hex_encode(sha_hex, sizeof sha_hex, d, sizeof d);
        if ((rc = blob_put_stream(blob_key, a->blobs, file_read, rr.f, NULL, 0)) != 0) {
            snprintf(platform_msg, sizeof platform_msg, "storing the result failed: %s", fmugw_error_last());
            goto platform_report;
        }
        stored = true;
        ft.progress = JOB_PROGRESS_SCALE;
        ft.status = "succeeded";
        ft.blob_key = blob_key;
        ft.sha256 = sha_hex;
        ft.size = rr.bytes;
    } else {
        ft.status = rep.outcome == SANDBOX_TIMEOUT ? "timed_out" : "failed";
        ft.error_class = sandbox_outcome_name(rep.outcome);
        snprintf(msg, sizeof msg, "%s: %s", ft.error_class, rep.message);
        ft.message = msg;
    }
    goto finish;

platform:
    snprintf(platform_msg, sizeof platform_msg, "%s", fmugw_error_last());
platform_report:
    ft.status = "failed";
    ft.error_class = "platform_error";
    ft.message = platform_msg;
    /* Released only when no FMU code ran; a run that used CPU is charged for it. */
    ft.release = !charge_platform;
    ft.blob_key = NULL;
    fmugw_log_json(FMUGW_LOG_WARN, "job platform error", json_pack("{s:s,s:s}", "job_id", job->id, "error", platform_msg));
finish:
    if (reader_started) {
        if (sv[1] >= 0) {
            close(sv[1]);
            sv[1] = -1;
        }
        pthread_join(reader, NULL);
    }
    if (db_pool_acquire(&c, js->db) == 0) {
        if ((rc = db_transact(c, finish_fn, &ft)) != 0)
            fmugw_log_json(FMUGW_LOG_ERROR, "job finish failed",
                           json_pack("{s:s,s:s}", "job_id", job->id, "error", fmugw_error_last()));
        db_pool_release(js->db, c);
        c = NULL;
    } else {
        rc = FMUGW_ERROR;
    }
    if (stored && (rc != 0 || ft.changed == 0)) {
        /* the result is not referenced: do not keep it */
        blob_delete(a->blobs, blob_key);
    }
    fmugw_log_json(FMUGW_LOG_INFO, "job finished",
                   json_pack("{s:s,s:s,s:s?,s:I,s:I,s:I}", "job_id", job->id, "status", ft.status, "error_class",
                             ft.error_class, "wall_ms", (json_int_t)rep.wall_ms, "cpu_ms",
                             (json_int_t)(rep.cpu_user_ms + rep.cpu_system_ms), "charge", (json_int_t)ft.charge));
    pthread_mutex_lock(&js->mu);
    slot->active = false;
    slot->job_id[0] = '\0';
    slot->result_rfd = -1;
    pthread_mutex_unlock(&js->mu);
    job__notify_changed(js, job->id);
    if (sv[0] >= 0)
        close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    if (rr.f)
        fclose(rr.f);
    crypto_seal_free(rr.seal);
    crypto_sha256_free(rr.sha);
    fmi_sim_args_free_argv(argv);
    if (held_blob)
        unpacked_cache_release(js->unpacked, held_blob);
    store_fmu_free(fmu);
    if (dir && fmugw_rmtree(dir) != 0) /* left for the next start, which moves it aside */
        fmugw_log_json(FMUGW_LOG_WARN, "job directory left", json_pack("{s:s,s:s}", "job_id", job->id, "error",
                                                                        fmugw_error_last()));
    free(dir);
    free(fmu_dir);
    free(input);
    free(scratch);
    free(sealed_path);
}

void *job__worker_main(void *arg)
{
    job_worker_arg *wa = arg;
    job_system *js = wa->js;
    job_slot *slot = &js->slots[wa->index];
    claimed job;
    memset(&job, 0, sizeof job);

    for (;;) {
        pthread_mutex_lock(&js->mu);
        bool stop = js->stopping;
        pthread_mutex_unlock(&js->mu);
        if (stop)
            break;
        /* A reserve worker claims only while every regular worker is busy:
         * an idle system's jobs go to the regular workers first. */
        bool reserve = wa->index >= js->n_workers - js->n_reserve;
        pthread_mutex_lock(&js->mu);
        bool skip = reserve && js->n_busy_regular < js->n_workers - js->n_reserve;
        pthread_mutex_unlock(&js->mu);
        db_conn *c = NULL;
        claim_tx t = { js, &job, reserve, false };
        int rc = skip ? 0 : db_pool_acquire(&c, js->db);
        if (skip)
            goto idle;
        if (rc == 0) {
            rc = db_transact(c, claim_fn, &t);
            db_pool_release(js->db, c);
        }
        if (rc != 0)
            fmugw_log_json(FMUGW_LOG_ERROR, "job claim failed", json_pack("{s:s}", "error", fmugw_error_last()));
        if (rc == 0 && t.got) {
            pthread_mutex_lock(&js->mu);
            if (!reserve)
                js->n_busy_regular++;
            pthread_mutex_unlock(&js->mu);
            run_job(js, slot, &job);
            pthread_mutex_lock(&js->mu);
            if (!reserve)
                js->n_busy_regular--;
            pthread_cond_broadcast(&js->work);
            pthread_mutex_unlock(&js->mu);
            continue;
        }
    idle:
        /* Nothing runnable: wait for a submit or a finished job in this
         * process, or poll again after a second (other processes). */
        pthread_mutex_lock(&js->mu);
        if (!js->stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&js->work, &js->mu, &ts);
        }
        pthread_mutex_unlock(&js->mu);
    }
    free(job.request);
    free(job.inputs);
    return NULL;
}
