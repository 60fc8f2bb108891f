/*
 * jobs.c - the job system (see jobs.h): start/stop, recovery of jobs left
 * running by a dead daemon, the retention sweep, and everything the routes
 * ask of it: submit (idempotency keys, result reuse, admission and
 * reservation in one transaction), status with long-poll, cancel, list,
 * results and the account purge. The worker threads are in worker.c, the
 * request validation in request.c.
 */
#include "jobs/jobs_internal.h"
#include "jobs/unpacked.h"

#include "http/log.h"
#include "http/server.h"
#include "ledger/ledger.h"
#include "store/blob.h"
#include "store/fmus.h"
#include "util/crypto.h"
#include "util/error.h"
#include "util/fsutil.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define IDEM_KEY_MAX 255
#define IDEM_STALE_MS (5 * 60 * 1000) /* an in-flight key older than this was abandoned by a crash */

int64_t job__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int job__new_id(char out[JOB_ID_MAX], const char *prefix)
{
    uint8_t r[16];
    char hex[33];
    int rc = crypto_random_bytes(r, sizeof r);
    if (rc != 0)
        return rc;
    crypto_hex_encode(hex, sizeof hex, r, sizeof r);
    snprintf(out, JOB_ID_MAX, "%s_%s", prefix, hex);
    return 0;
}

int64_t job__cycle_usage(db_conn *c, const char *account_id)
{
    db_stmt *st = NULL;
    int64_t created = 0, start = 0, end = 0, charged = 0, overage = 0;
    if (db_query(&st, c, "SELECT created_at FROM accounts WHERE id = $1", "t", account_id) == 0 && db_step(st) == 1)
        created = db_column_int64(st, 0);
    db_finalize(st);
    if (created <= 0)
        return 0;
    ledger_cycle(created, job__now_ms(), &start, &end, NULL);
    if (ledger_usage_total(c, account_id, start, end, &charged, &overage) != 0)
        return 0;
    return charged > 0 ? charged : 0;
}

void job__notify_changed(job_system *js, const char *job_id)
{
    pthread_mutex_lock(&js->mu);
    js->version++;
    size_t slot = js->version % JOB_CHANGE_RING;
    js->changes[slot].version = js->version;
    snprintf(js->changes[slot].job_id, sizeof js->changes[slot].job_id, "%s", job_id ? job_id : "");
    pthread_cond_broadcast(&js->changed);
    pthread_cond_broadcast(&js->work); /* a finished job frees a concurrency slot */
    if (js->on_change)
        js->on_change(js->on_change_ud);
    pthread_mutex_unlock(&js->mu);
}

bool job__class_charged(const char *c)
{
    static const char *const charged[] = { "finished", "fmu_error", "timeout", "cpu_limit", "memory_limit",
                                           "output_limit", "forbidden_syscall", "crashed" };
    for (size_t i = 0; c && i < sizeof charged / sizeof charged[0]; i++)
        if (!strcmp(c, charged[i]))
            return true;
    return false;
}

bool job__finished_status(const char *s)
{
    return s && strcmp(s, "queued") != 0 && strcmp(s, "running") != 0;
}

static json_t *credits_json(int64_t milli)
{
    return json_real((double)milli / LEDGER_MILLI);
}

static const pricing_tier *tier_of(const app *a, const char *name)
{
    const pricing_tier *t = a->pricing ? pricing_tier_get(a->pricing, name) : NULL;
    if (!t && a->pricing)
        t = pricing_tier_get(a->pricing, "free");
    return t;
}

static void log_err(const char *what, const char *job_id)
{
    fmugw_log_json(FMUGW_LOG_ERROR, what,
                   json_pack("{s:s,s:s}", "job_id", job_id ? job_id : "", "error", fmugw_error_last()));
}

/* ---- rows --------------------------------------------------------------- */

#define JOB_COLS                                                                                                  \
    "id, account_id, fmu_id, status, request, reused, credits_reserved, credits_charged, error_class, "          \
    "error_message, cpu_ms, wall_ms, peak_rss_kb, output_bytes, rows, created_at, started_at, finished_at, "          \
    "progress_ppm"

static json_t *time_json(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    char buf[64];
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    return json_string(buf);
}

static json_t *text_or_null(db_stmt *st, int col)
{
    const char *s = db_column_text(st, col);
    return s ? json_string(s) : json_null();
}

/* The status JSON of the row at `st` (columns JOB_COLS). */
static json_t *job_json(db_stmt *st)
{
    const char *id = db_column_text(st, 0), *status = db_column_text(st, 3), *cls = db_column_text(st, 8);
    json_t *j = json_object();
    json_object_set_new(j, "job_id", json_string(id));
    json_object_set_new(j, "fmu_id", text_or_null(st, 2));
    json_object_set_new(j, "status", json_string(status));
    /* succeeded: 1; otherwise the fraction of the simulated span reached
     * (running: as last written by its worker; status_once refines it) */
    int64_t ppm = db_column_int64(st, 18);
    ppm = ppm < 0 ? 0 : ppm > JOB_PROGRESS_SCALE ? JOB_PROGRESS_SCALE : ppm;
    json_object_set_new(j, "progress",
                        json_real(!strcmp(status, "succeeded") ? 1.0 : (double)ppm / JOB_PROGRESS_SCALE));
    json_object_set_new(j, "reused", json_boolean(db_column_int64(st, 5) != 0));
    json_object_set_new(j, "credits_reserved", credits_json(db_column_int64(st, 6)));
    json_object_set_new(j, "credits_charged", credits_json(db_column_int64(st, 7)));
    json_object_set_new(j, "credits_reserved_millicredits", json_integer(db_column_int64(st, 6)));
    json_object_set_new(j, "credits_charged_millicredits", json_integer(db_column_int64(st, 7)));
    json_object_set_new(j, "metering",
                        json_pack("{s:I,s:I,s:I,s:I,s:I}", "cpu_ms", (json_int_t)db_column_int64(st, 10), "wall_ms",
                                  (json_int_t)db_column_int64(st, 11), "peak_rss_kb",
                                  (json_int_t)db_column_int64(st, 12), "output_bytes",
                                  (json_int_t)db_column_int64(st, 13), "rows", (json_int_t)db_column_int64(st, 14)));
    json_object_set_new(j, "created_at", time_json(db_column_int64(st, 15)));
    json_object_set_new(j, "started_at", time_json(db_column_int64(st, 16)));
    json_object_set_new(j, "finished_at", time_json(db_column_int64(st, 17)));
    json_object_set_new(j, "status_url", json_sprintf("/fmu/status/%s", id));
    if (!strcmp(status, "succeeded"))
        json_object_set_new(j, "results_url", json_sprintf("/fmu/results/%s", id));
    if (cls) {
        const char *msg = db_column_text(st, 9);
        json_object_set_new(j, "error",
                            json_pack("{s:s,s:s,s:s,s:s,s:s}", "type",
                                      !strcmp(cls, "canceled") ? HTTP_PROBLEM_BASE "job-canceled"
                                                               : HTTP_PROBLEM_BASE "job-failed",
                                      "title", !strcmp(cls, "platform_error") ? "Platform error" : "Job failed",
                                      "detail", msg ? msg : cls, "error_class", cls, "instance", id));
    } else {
        json_object_set_new(j, "error", json_null());
    }
    return j;
}

/* Reads one job of `account_id` (NULL: any) into *out (status JSON) and
 * its status into status_out (may be NULL). */
static int job_read(json_t **out, char status_out[16], db_conn *c, const char *account_id, const char *job_id)
{
    db_stmt *st = NULL;
    int rc;
    if (account_id)
        rc = db_query(&st, c, "SELECT " JOB_COLS " FROM jobs WHERE id = $1 AND account_id = $2", "tt", job_id,
                      account_id);
    else
        rc = db_query(&st, c, "SELECT " JOB_COLS " FROM jobs WHERE id = $1", "t", job_id);
    if (rc != 0)
        goto out;
    if ((rc = db_step(st)) < 0)
        goto out;
    if (rc == 0) {
        rc = fmugw_error_set(FMUGW_ENOTFOUND, "no such job");
        goto out;
    }
    rc = 0;
    if (status_out)
        snprintf(status_out, 16, "%s", db_column_text(st, 3));
    if (out)
        *out = job_json(st);
out:
    db_finalize(st);
    return rc;
}

/* ---- start / stop -------------------------------------------------------- */

/* True if the lease owner "<host>:<pid>:<rand>" is a process of this host
 * that is gone (or an earlier incarnation with our pid). */
static bool owner_dead(const job_system *js, const char *owner)
{
    char host[64];
    long pid = 0;
    char rnd[32] = "";
    if (!owner || sscanf(owner, "%63[^:]:%ld:%31s", host, &pid, rnd) != 3)
        return true;
    if (strcmp(host, js->host) != 0)
        return false;
    if (pid == (long)getpid())
        return strcmp(rnd, js->owner_rand) != 0;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

typedef struct {
    const char *job_id;
    const char *owner;
    const char *message;
    int64_t changed;
} fail_tx;

static int fail_platform_tx(db_conn *c, void *ctx)
{
    fail_tx *t = ctx;
    int64_t now = job__now_ms();
    int rc = db_execp(&t->changed, c,
                      "UPDATE jobs SET status = 'failed', error_class = 'platform_error', error_message = $1, "
                      "finished_at = $2, updated_at = $2, lease_owner = NULL, lease_expires_at = NULL "
                      "WHERE id = $3 AND status = 'running' AND lease_owner = $4",
                      "titt", t->message, now, t->job_id, t->owner);
    if (rc != 0 || t->changed == 0)
        return rc;
    rc = ledger_release(c, t->job_id);
    return rc == FMUGW_EEXISTS ? 0 : rc;
}

/* Fails every running job whose owner is dead or whose lease expired. */
static int recover(job_system *js, db_conn *c, int64_t *n_recovered)
{
    db_stmt *st = NULL;
    char (*ids)[JOB_ID_MAX] = NULL;
    char (*owners)[128] = NULL;
    size_t n = 0, cap = 0;
    int64_t now = job__now_ms();
    int rc = db_query(&st, c, "SELECT id, lease_owner, lease_expires_at FROM jobs WHERE status = 'running'", NULL);
    while (rc == 0 && (rc = db_step(st)) == 1) {
        rc = 0; /* a row: go on */
        const char *owner = db_column_text(st, 1);
        int64_t exp = db_column_int64(st, 2);
        bool ours = owner && strcmp(owner, js->owner) == 0;
        if (ours || !(owner_dead(js, owner) || (exp > 0 && exp < now)))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            void *p1 = realloc(ids, cap * sizeof *ids), *p2 = p1 ? realloc(owners, cap * sizeof *owners) : NULL;
            if (p1)
                ids = p1;
            if (p2)
                owners = p2;
            if (!p1 || !p2) {
                rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
                break;
            }
        }
        snprintf(ids[n], JOB_ID_MAX, "%s", db_column_text(st, 0));
        snprintf(owners[n], 128, "%s", owner ? owner : "");
        n++;
    }
    db_finalize(st);
    if (rc == 1)
        rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        fail_tx t = { ids[i], owners[i], "the service stopped while the job was running; it was not charged", 0 };
        if ((rc = db_transact(c, fail_platform_tx, &t)) == 0 && t.changed) {
            (*n_recovered)++;
            fmugw_log_json(FMUGW_LOG_WARN, "job recovered",
                           json_pack("{s:s,s:s,s:s}", "job_id", ids[i], "status", "failed", "error_class",
                                     "platform_error"));
        }
    }
    free(ids);
    free(owners);
    return rc;
}

static void *sweeper_main(void *arg)
{
    job_system *js = arg;
    time_t next_retention = 0;
    pthread_mutex_lock(&js->mu);
    while (!js->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned period = JOB_RETENTION_SWEEP_S;
        if (js->a->cfg && js->a->cfg->retention_override_s && js->a->cfg->retention_override_s < period)
            period = js->a->cfg->retention_override_s;
        if (next_retention == 0)
            next_retention = ts.tv_sec + period;
        /* Wake for the retention sweep, and often enough to drop idle
         * unpacked FMUs (unpacked.h). */
        time_t wake = ts.tv_sec + JOB_UNPACKED_IDLE_S / 2;
        ts.tv_sec = js->unpacked && wake < next_retention ? wake : next_retention;
        pthread_cond_timedwait(&js->changed_sweep, &js->mu, &ts);
        if (js->stopping)
            break;
        pthread_mutex_unlock(&js->mu);
        if (js->unpacked)
            unpacked_cache_sweep(js->unpacked);
        clock_gettime(CLOCK_REALTIME, &ts);
        if (ts.tv_sec >= next_retention) {
            int64_t n = 0;
            if (job_retention_sweep(js, &n) != 0)
                log_err("retention sweep failed", NULL);
            next_retention = ts.tv_sec + period;
        }
        pthread_mutex_lock(&js->mu);
    }
    pthread_mutex_unlock(&js->mu);
    return NULL;
}

/* Removes the work directories earlier runs left beside ours (moved
 * aside at start by fmugw_dir_renew); a failure is logged, and retried at
 * the next start. */
static void *cleaner_main(void *arg)
{
    job_system *js = arg;
    if (fmugw_rmtree_stale(js->work_dir) != 0)
        fmugw_log_json(FMUGW_LOG_WARN, "old job directories left", json_pack("{s:s}", "error", fmugw_error_last()));
    return NULL;
}

static int open_pool(job_system *js)
{
    const app *a = js->a;
    char *url = NULL;
    int rc;
    if (a->cfg && a->cfg->database_url && a->cfg->database_url[0]) {
        url = strdup(a->cfg->database_url);
        rc = url ? 0 : fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    } else {
        rc = db_url_default(&url, a->cfg->data_dir);
    }
    if (rc == 0)
        rc = db_pool_open(&js->db, url, js->n_workers + 3);
    free(url);
    return rc;
}

int job_system_start(app *a, unsigned n_workers)
{
    job_system *js = calloc(1, sizeof *js);
    db_conn *c = NULL;
    int rc = 0;
    uint8_t r[8];

    if (!js)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    if (!a->pricing) {
        free(js);
        return fmugw_error_set(FMUGW_EINVALID, "jobs: no pricing loaded");
    }
    js->a = a;
    /* n_workers regular workers, and JOB_RESERVE_WORKERS more that only
     * take the job of an account running nothing (worker.c: fairness). */
    js->n_reserve = n_workers > 0 ? JOB_RESERVE_WORKERS : 0;
    n_workers += js->n_reserve;
    js->n_workers = n_workers;
    pthread_mutex_init(&js->mu, NULL);
    pthread_cond_init(&js->work, NULL);
    pthread_cond_init(&js->changed, NULL);
    pthread_cond_init(&js->changed_sweep, NULL);
    pthread_cond_init(&js->monitor_wake, NULL);
    if (gethostname(js->host, sizeof js->host) != 0)
        snprintf(js->host, sizeof js->host, "localhost");
    js->host[sizeof js->host - 1] = '\0';
    for (char *p = js->host; *p; p++)
        if (*p == ':')
            *p = '_';
    crypto_random_bytes(r, sizeof r);
    crypto_hex_encode(js->owner_rand, sizeof js->owner_rand, r, sizeof r);
    snprintf(js->owner, sizeof js->owner, "%s:%ld:%s", js->host, (long)getpid(), js->owner_rand);
    if ((rc = open_pool(js)) != 0)
        goto out;

    /* Recovery before any worker runs. */
    int64_t recovered = 0, purged = 0;
    if ((rc = db_pool_acquire(&c, js->db)) != 0)
        goto out;
    rc = recover(js, c, &recovered);
    db_pool_release(js->db, c);
    c = NULL;
    if (rc != 0)
        goto out;
    if ((rc = job_retention_sweep(js, &purged)) != 0)
        goto out;

    if (n_workers > 0) {
        if (asprintf(&js->work_dir, "%s/jobs", a->cfg->data_dir) < 0) {
            js->work_dir = NULL;
            rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
            goto out;
        }
        /* Whatever an earlier run left there (a job's tree too deep or odd
         * to remove, a crash) is moved aside, not removed first: start-up
         * never depends on it. The cleaner thread removes it. */
        if ((rc = fmugw_dir_renew(js->work_dir)) != 0)
            goto out;
        if (pthread_create(&js->cleaner, NULL, cleaner_main, js) == 0)
            js->cleaner_started = true;
        else
            log_err("cannot start the cleaner of old job directories", NULL);
        char *fmus_dir = fmugw_path_join(js->work_dir, "fmus");
        rc = fmus_dir ? unpacked_cache_new(&js->unpacked, fmus_dir, JOB_UNPACKED_MAX, JOB_UNPACKED_IDLE_S * 1000)
                      : fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        free(fmus_dir);
        if (rc != 0)
            goto out;
        if (!(js->runner = sandbox_default_runner())) {
            rc = fmugw_error_set(FMUGW_ENOMEM, "cannot locate fmugw-runner");
            goto out;
        }
        if (access(js->runner, X_OK) != 0) {
            rc = fmugw_error_set(FMUGW_ENOTFOUND, "fmugw-runner not found at %s", js->runner);
            goto out;
        }
        sandbox_pool_opts po = SANDBOX_POOL_OPTS_INIT;
        po.runner = js->runner;
        po.work_dir = js->work_dir;
        double max_s = 0;
        uint64_t max_mem = 0;
        static const char *const names[] = { "free", "pro", "enterprise" };
        for (size_t i = 0; i < 3; i++) {
            const pricing_tier *t = pricing_tier_get(a->pricing, names[i]);
            if (t && t->max_job_seconds > max_s)
                max_s = t->max_job_seconds;
            if (t && t->max_memory_bytes > max_mem)
                max_mem = t->max_memory_bytes;
        }
        if (max_s > 0)
            po.limits.cpu_limit_s = po.limits.timeout_s = max_s;
        if (max_mem > 0)
            po.limits.memory_limit = max_mem;
        po.limits.output_limit = JOB_OUTPUT_LIMIT;
        if (sandbox_pool_new(&js->pool, n_workers, &po) != 0) {
            fmugw_log_json(FMUGW_LOG_WARN, "sandbox pool unavailable: one-shot sandboxes",
                           json_pack("{s:s}", "error", fmugw_error_last()));
            js->pool = NULL;
        }
        if (!(js->threads = calloc(n_workers, sizeof *js->threads)) ||
            !(js->slots = calloc(n_workers, sizeof *js->slots)) ||
            !(js->args = calloc(n_workers, sizeof *js->args))) {
            rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
            goto out;
        }
        for (unsigned i = 0; i < n_workers; i++) {
            js->slots[i].result_rfd = -1;
            js->args[i].js = js;
            js->args[i].index = i;
            if (pthread_create(&js->threads[i], NULL, job__worker_main, &js->args[i]) != 0) {
                rc = fmugw_error_set(FMUGW_ERROR, "cannot start worker thread %u", i);
                goto out;
            }
            js->n_started++;
        }
        if (pthread_create(&js->monitor, NULL, job__monitor_main, js) != 0) {
            rc = fmugw_error_set(FMUGW_ERROR, "cannot start the job monitor");
            goto out;
        }
        js->monitor_started = true;
    }
    if (pthread_create(&js->sweeper, NULL, sweeper_main, js) != 0) {
        rc = fmugw_error_set(FMUGW_ERROR, "cannot start the retention thread");
        goto out;
    }
    js->sweeper_started = true;
    fmugw_log_json(FMUGW_LOG_INFO, "jobs started",
                   json_pack("{s:i,s:i,s:b,s:I,s:I,s:s}", "workers", (int)(n_workers - js->n_reserve), "reserve_workers",
                             (int)js->n_reserve, "sandbox_pool", js->pool != NULL,
                             "recovered", (json_int_t)recovered, "results_purged", (json_int_t)purged, "owner",
                             js->owner));
    a->jobs = js;
    return 0;
out:
    a->jobs = js;
    job_system_stop(a);
    return rc;
}

void job_system_on_change(job_system *js, void (*fn)(void *), void *ud)
{
    pthread_mutex_lock(&js->mu);
    js->on_change = fn;
    js->on_change_ud = ud;
    pthread_mutex_unlock(&js->mu);
}

void job_system_stop(app *a)
{
    job_system *js = a ? a->jobs : NULL;
    if (!js)
        return;
    pthread_mutex_lock(&js->mu);
    js->stopping = true;
    pthread_cond_broadcast(&js->work);
    pthread_cond_broadcast(&js->changed);
    pthread_cond_broadcast(&js->changed_sweep);
    if (js->on_change)
        js->on_change(js->on_change_ud); /* watchers see the stop */
    pthread_mutex_unlock(&js->mu);
    for (unsigned i = 0; i < js->n_started; i++)
        pthread_join(js->threads[i], NULL);
    /* the monitor last: jobs finishing above may still be canceled elsewhere */
    pthread_mutex_lock(&js->mu);
    js->monitor_stop = true;
    pthread_cond_broadcast(&js->monitor_wake);
    pthread_mutex_unlock(&js->mu);
    if (js->monitor_started)
        pthread_join(js->monitor, NULL);
    if (js->sweeper_started)
        pthread_join(js->sweeper, NULL);
    if (js->cleaner_started)
        pthread_join(js->cleaner, NULL);
    sandbox_pool_free(js->pool);
    unpacked_cache_free(js->unpacked);
    if (js->work_dir) {
        if (fmugw_rmtree(js->work_dir) != 0) /* the next start moves it aside */
            fmugw_log_json(FMUGW_LOG_WARN, "job directory left", json_pack("{s:s}", "error", fmugw_error_last()));
        free(js->work_dir);
    }
    db_pool_close(js->db);
    free(js->runner);
    free(js->threads);
    free(js->slots);
    free(js->watch_counts);
    free(js->args);
    pthread_cond_destroy(&js->work);
    pthread_cond_destroy(&js->changed);
    pthread_cond_destroy(&js->changed_sweep);
    pthread_cond_destroy(&js->monitor_wake);
    pthread_mutex_destroy(&js->mu);
    free(js);
    a->jobs = NULL;
}

/* ---- submit --------------------------------------------------------------- */

static json_t *problem_body(http_problem_kind k, const char *detail, json_t *ext)
{
    json_t *j = json_pack("{s:s,s:s,s:i,s:s}", "type", "", "title", "", "status", http_problem_status(k), "detail",
                          detail ? detail : "");
    json_object_set_new(j, "type", json_sprintf(HTTP_PROBLEM_BASE "%s", http_problem_slug(k)));
    static const char *const titles[] = {
#define T(name, slug, status, title) title,
        HTTP_PROBLEM_LIST(T)
#undef T
    };
    json_object_set_new(j, "title", json_string((unsigned)k < HTTP_PROBLEM__COUNT ? titles[k] : "Error"));
    if (ext)
        json_object_update(j, ext);
    json_decref(ext);
    return j;
}

static void answer_problem(job_answer *out, http_problem_kind k, const char *detail, json_t *ext)
{
    out->status = http_problem_status(k);
    out->body = problem_body(k, detail, ext);
}

static json_t *field_errors(const char *field, const char *message)
{
    return json_pack("{s:[{s:s,s:s}]}", "errors", "field", field, "message", message);
}

typedef struct {
    job_system *js;
    const principal *who;
    const pricing_tier *tier;
    const store_fmu *fmu;
    const job_request *req;
    const char *request_text;
    const char *idem_key;
    char job_id[JOB_ID_MAX];
    /* results */
    job_answer ans;
    int64_t shortfall;
    int64_t reserved;
    bool reused;
    char settle_detail[256];
} admit_tx;

/* Stores the answer of an idempotency key (inside the caller's tx). */
static int idem_store(db_conn *c, const char *account, const char *key, int status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    if (!text)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    int rc = db_execp(NULL, c,
                      "UPDATE idempotency_keys SET response_status = $1, response_body = $2 "
                      "WHERE account_id = $3 AND idem_key = $4",
                      "itt" "t", (int64_t)status, text, account, key);
    free(text);
    return rc;
}

static int admit_fn(db_conn *c, void *ctx)
{
    admit_tx *t = ctx;
    const app *a = t->js->a;
    db_stmt *st = NULL;
    int64_t now = job__now_ms(), queued = 0;
    bool overage = t->tier->overage_usd_micro_per_credit >= 0;
    int rc;

    json_decref(t->ans.body);
    t->ans.body = NULL;
    t->ans.status = 0;
    t->reused = false;
    t->shortfall = 0;
    /* Waiting jobs of the account. */
    if ((rc = db_query(&st, c, "SELECT COUNT(*) FROM jobs WHERE account_id = $1 AND status = 'queued'", "t",
                       t->who->account_id)) != 0 ||
        (rc = db_step(st)) < 0)
        goto out;
    queued = db_column_int64(st, 0);
    db_finalize(st);
    st = NULL;
    if (queued >= JOB_MAX_QUEUED_PER_ACCOUNT) {
        answer_problem(&t->ans, HTTP_PROBLEM_RATE_LIMITED, "too many queued jobs: wait for some to finish", NULL);
        rc = fmugw_error_set(FMUGW_ELIMIT, "queue full");
        goto out;
    }

    /* An identical request whose result is still kept. */
    char blob[65] = "", fmt[8] = "", sha[65] = "";
    int64_t rows = 0, size = 0;
    if (t->req->reuse) {
        rc = db_query(&st, c,
                      "SELECT r.blob_key, r.format, r.rows, r.size, r.sha256 FROM jobs j JOIN results r ON r.job_id = j.id "
                      "WHERE j.account_id = $1 AND j.request_hash = $2 AND j.status = 'succeeded' "
                      "ORDER BY j.created_at DESC LIMIT 1",
                      "tt", t->who->account_id, t->req->hash);
        if (rc != 0 || (rc = db_step(st)) < 0)
            goto out;
        if (rc == 1) {
            snprintf(blob, sizeof blob, "%s", db_column_text(st, 0));
            snprintf(fmt, sizeof fmt, "%s", db_column_text(st, 1));
            rows = db_column_int64(st, 2);
            size = db_column_int64(st, 3);
            snprintf(sha, sizeof sha, "%s", db_column_text(st, 4));
            t->reused = true;
        }
        db_finalize(st);
        st = NULL;
    }
    int64_t amount;
    if (t->reused) {
        pricing_usage u = { .fmu_bytes = (uint64_t)t->fmu->size, .stop_minus_start = t->req->span, .reused = true };
        amount = pricing_job_cost(a->pricing, t->tier, &u);
    } else {
        /* priced at the limits exactly as stored and enforced (request.c):
         * wall time, memory, and the CPU the hard RLIMIT_CPU lets through */
        amount = pricing_job_worst_case_cpu(a->pricing, t->tier, (uint64_t)t->fmu->size, t->req->span,
                                            (double)t->req->timeout_ms / 1000.0,
                                            t->req->cpu_limit_s + JOB_CPU_HARD_GRACE_S, t->req->memory_limit, false,
                                            job__cycle_usage(c, t->who->account_id));
    }
    if (amount < 0)
        amount = 0;
    rc = db_execp(NULL, c,
                  "INSERT INTO jobs (id, account_id, fmu_id, fmu_sha256, fmu_size, status, request, request_hash, "
                  "inputs_csv, tier, max_concurrent, timeout_ms, memory_limit, credits_reserved, credits_charged, "
                  "reused, rows, output_bytes, created_at, started_at, finished_at, updated_at) VALUES "
                  "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $19)",
                  "tttti" "ttttt" "iiiii" "iiiii" "i",
                  t->job_id, t->who->account_id, t->fmu->id, t->fmu->sha256, (int64_t)t->fmu->size,
                  t->reused ? "succeeded" : "queued", t->request_text, t->req->hash, t->req->inputs_csv,
                  t->tier->name, (int64_t)(t->tier->max_concurrent_jobs ? t->tier->max_concurrent_jobs : 1),
                  t->req->timeout_ms, (int64_t)t->req->memory_limit, amount,
                  t->reused ? amount : 0, (int64_t)t->reused, rows, size, now, t->reused ? now : 0,
                  t->reused ? now : 0);
    if (rc != 0)
        goto out;
    rc = ledger_reserve(c, t->who->account_id, t->job_id, amount, overage, &t->shortfall);
    if (rc == FMUGW_ELIMIT) {
        ledger_balance bal = { 0 };
        ledger_balance_get(c, t->who->account_id, &bal);
        char detail[160];
        snprintf(detail, sizeof detail, "this job needs %.3f credits reserved; %.3f are available",
                 (double)amount / LEDGER_MILLI, (double)bal.available / LEDGER_MILLI);
        answer_problem(&t->ans, HTTP_PROBLEM_INSUFFICIENT_CREDITS, detail,
                       json_pack("{s:o,s:o,s:o}", "required", credits_json(amount), "available",
                                 credits_json(bal.available), "shortfall", credits_json(t->shortfall)));
        rc = FMUGW_ELIMIT;
        goto out;
    }
    if (rc != 0)
        goto out;
    if (t->reused) {
        snprintf(t->settle_detail, sizeof t->settle_detail,
                 "{\"fmu_id\":\"%s\",\"job_id\":\"%s\",\"status\":\"succeeded\",\"reused\":true,\"rows\":%lld,"
                 "\"output_bytes\":%lld}",
                 t->fmu->id, t->job_id, (long long)rows, (long long)size);
        if ((rc = db_execp(NULL, c,
                           "INSERT INTO results (job_id, account_id, blob_key, format, rows, size, sha256, created_at) "
                           "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                           "tttt" "iiti", t->job_id, t->who->account_id, blob, fmt, rows, size, sha, now)) != 0 ||
            (rc = ledger_settle_detail(c, t->job_id, amount, t->settle_detail)) != 0)
            goto out;
    }
    t->reserved = amount;
    t->ans.status = 202;
    t->ans.body = json_pack("{s:s,s:s,s:o,s:s,s:b}", "job_id", t->job_id, "status", t->reused ? "succeeded" : "queued",
                            "credits_reserved", credits_json(amount), "status_url", "", "reused", t->reused);
    json_object_set_new(t->ans.body, "status_url", json_sprintf("/fmu/status/%s", t->job_id));
    json_object_set_new(t->ans.body, "credits_reserved_millicredits", json_integer(amount));
    if (t->idem_key && (rc = idem_store(c, t->who->account_id, t->idem_key, 202, t->ans.body)) != 0)
        goto out;
    rc = 0;
out:
    db_finalize(st);
    return rc;
}

/* SHA-256 hex of the canonical JSON text of a body. */
static int body_hash(char out[65], json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    uint8_t d[32];
    if (!text)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    int rc = crypto_sha256(d, text, strlen(text));
    free(text);
    if (rc == 0)
        crypto_hex_encode(out, 65, d, sizeof d);
    return rc;
}

typedef struct {
    const char *account, *key, *hash;
    int outcome; /* 0 new, 1 replay, 2 mismatch, 3 in flight */
    int status;
    char *body;
} idem_tx;

static int idem_begin_fn(db_conn *c, void *ctx)
{
    idem_tx *t = ctx;
    db_stmt *st = NULL;
    int64_t now = job__now_ms();
    free(t->body);
    t->body = NULL;
    t->outcome = 0;
    int rc = db_query(&st, c,
                      "SELECT request_hash, response_status, response_body, created_at FROM idempotency_keys "
                      "WHERE account_id = $1 AND idem_key = $2",
                      "tt", t->account, t->key);
    if (rc != 0 || (rc = db_step(st)) < 0)
        goto out;
    if (rc == 0) {
        db_finalize(st);
        st = NULL;
        rc = db_execp(NULL, c,
                      "INSERT INTO idempotency_keys (account_id, idem_key, request_hash, created_at) "
                      "VALUES ($1, $2, $3, $4)",
                      "ttti", t->account, t->key, t->hash, now);
        goto out;
    }
    rc = 0;
    if (strcmp(db_column_text(st, 0), t->hash) != 0) {
        t->outcome = 2;
    } else if (db_column_is_null(st, 1)) {
        if (db_column_int64(st, 3) + IDEM_STALE_MS < now) {
            /* abandoned by a crash mid-request: take it over */
            db_finalize(st);
            st = NULL;
            rc = db_execp(NULL, c, "UPDATE idempotency_keys SET created_at = $1 WHERE account_id = $2 AND idem_key = $3",
                          "itt", now, t->account, t->key);
            goto out;
        }
        t->outcome = 3;
    } else {
        t->outcome = 1;
        t->status = (int)db_column_int64(st, 1);
        t->body = db_column_text(st, 2) ? strdup(db_column_text(st, 2)) : NULL;
    }
out:
    db_finalize(st);
    return rc;
}

static void idem_forget(job_system *js, const char *account, const char *key)
{
    db_conn *c = NULL;
    if (db_pool_acquire(&c, js->db) != 0)
        return;
    if (db_execp(NULL, c,
                 "DELETE FROM idempotency_keys WHERE account_id = $1 AND idem_key = $2 AND response_status IS NULL",
                 "tt", account, key) != 0)
        log_err("idempotency key cleanup failed", NULL);
    db_pool_release(js->db, c);
}

typedef struct {
    const char *account, *key;
    int status;
    json_t *body;
} idem_save_tx;

static int idem_save_fn(db_conn *c, void *ctx)
{
    idem_save_tx *t = ctx;
    return idem_store(c, t->account, t->key, t->status, t->body);
}

static bool idem_key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > IDEM_KEY_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)k[i] < 0x21 || (unsigned char)k[i] > 0x7e)
            return false;
    return true;
}

int job_submit(job_answer *out, job_system *js, const principal *who, json_t *body, const char *idem_key)
{
    db_conn *c = NULL;
    store_fmu *fmu = NULL;
    json_t *summary = NULL, *errors = json_array();
    job_request req;
    char hash[65], *request_text = NULL;
    bool idem_open = false;
    int rc = 0;
    admit_tx t;

    memset(out, 0, sizeof *out);
    memset(&req, 0, sizeof req);
    memset(&t, 0, sizeof t);
    if (idem_key && !idem_key_ok(idem_key)) {
        answer_problem(out, HTTP_PROBLEM_BAD_REQUEST, "invalid Idempotency-Key",
                       field_errors("Idempotency-Key", "1 to 255 printable ASCII characters"));
        goto out;
    }
    if ((rc = db_pool_acquire(&c, js->db)) != 0)
        goto out;
    if (idem_key) {
        idem_tx it = { who->account_id, idem_key, hash, 0, 0, NULL };
        if ((rc = body_hash(hash, body)) != 0 || (rc = db_transact(c, idem_begin_fn, &it)) != 0) {
            free(it.body);
            goto out;
        }
        if (it.outcome == 1) {
            out->status = it.status;
            out->body = it.body ? json_loads(it.body, 0, NULL) : json_object();
            out->replayed = true;
            free(it.body);
            goto out;
        }
        free(it.body);
        if (it.outcome == 2) {
            answer_problem(out, HTTP_PROBLEM_UNPROCESSABLE,
                           "this Idempotency-Key was used with a different request body",
                           field_errors("Idempotency-Key", "already used with another body"));
            goto out;
        }
        if (it.outcome == 3) {
            answer_problem(out, HTTP_PROBLEM_CONFLICT, "a request with this Idempotency-Key is still being processed",
                           NULL);
            goto out;
        }
        idem_open = true;
    }

    /* The FMU: the caller's own or a public one, ready. */
    const char *fmu_id = json_string_value(json_object_get(body, "fmu_id"));
    if (!fmu_id) {
        answer_problem(out, HTTP_PROBLEM_UNPROCESSABLE, "invalid request", field_errors("fmu_id", "required (a string)"));
        goto out;
    }
    rc = store_fmu_get(&fmu, c, who->account_id, fmu_id);
    if (rc == FMUGW_ENOTFOUND || (rc == 0 && (fmu->state != STORE_FMU_READY || !fmu->blob_key || !fmu->summary))) {
        rc = 0;
        answer_problem(out, HTTP_PROBLEM_NOT_FOUND, "no such FMU ready to run", NULL);
        goto out;
    }
    if (rc != 0)
        goto out;
    if (!(summary = json_loads(fmu->summary, 0, NULL))) {
        rc = fmugw_error_set(FMUGW_EINVALID, "stored summary of %s is not JSON", fmu->id);
        goto out;
    }
    const pricing_tier *tier = tier_of(js->a, who->tier);
    if (!tier) {
        rc = fmugw_error_set(FMUGW_EINVALID, "no pricing tier %s", who->tier);
        goto out;
    }
    if (job__request_parse(&req, errors, body, summary, fmu->sha256, tier) != 0) {
        if (json_array_size(errors) == 0) {
            rc = FMUGW_ENOMEM;
            goto out;
        }
        answer_problem(out, HTTP_PROBLEM_UNPROCESSABLE, "the request does not fit the FMU",
                       json_pack("{s:O}", "errors", errors));
        goto out;
    }
    json_object_set_new(req.canonical, "span", json_real(req.span));
    json_object_set_new(req.canonical, "start", json_real(req.start)); /* for progress (worker.c) */
    if (!(request_text = json_dumps(req.canonical, JSON_COMPACT | JSON_SORT_KEYS))) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }

    t.js = js;
    t.who = who;
    t.tier = tier;
    t.fmu = fmu;
    t.req = &req;
    t.request_text = request_text;
    t.idem_key = idem_open ? idem_key : NULL;
    if ((rc = job__new_id(t.job_id, "job")) != 0)
        goto out;
    rc = db_transact(c, admit_fn, &t);
    if (rc == FMUGW_ELIMIT && t.ans.body) {
        /* 402 / 429: nothing was admitted; the answer is final for the key */
        rc = 0;
        *out = t.ans;
        t.ans.body = NULL;
        if (idem_open) {
            idem_save_tx s = { who->account_id, idem_key, out->status, out->body };
            if (db_transact(c, idem_save_fn, &s) == 0)
                idem_open = false;
        }
        goto out;
    }
    if (rc != 0)
        goto out;
    *out = t.ans;
    t.ans.body = NULL;
    idem_open = false; /* stored with the job */
    if (!t.reused) {
        pthread_mutex_lock(&js->mu);
        pthread_cond_signal(&js->work);
        pthread_mutex_unlock(&js->mu);
    }
    job__notify_changed(js, t.job_id);
out:
    if (c)
        db_pool_release(js->db, c);
    if (idem_open)
        idem_forget(js, who->account_id, idem_key); /* validation failures are not remembered */
    json_decref(t.ans.body);
    job__request_free(&req);
    free(request_text);
    json_decref(summary);
    json_decref(errors);
    store_fmu_free(fmu);
    return rc;
}

/* ---- status, wait, cancel, list ----------------------------------------------- */

int job__status_once(json_t **out, char status[16], job_system *js, const char *account_id, const char *job_id)
{
    db_conn *c = NULL;
    int rc = db_pool_acquire(&c, js->db);
    if (rc != 0)
        return rc;
    rc = job_read(out, status, c, account_id, job_id);
    db_pool_release(js->db, c);
    if (rc == 0 && out && *out && !strcmp(status, "running")) {
        /* a worker of this process knows more than its last write */
        int64_t mem = job__slot_progress(js, job_id);
        double db = json_number_value(json_object_get(*out, "progress"));
        if (mem >= 0 && (double)mem / JOB_PROGRESS_SCALE > db)
            json_object_set_new(*out, "progress", json_real((double)mem / JOB_PROGRESS_SCALE));
    }
    return rc;
}

/* True if job `job_id` may have changed since version `since` (js->mu
 * held): a change of that job or of an unknown one is in the ring, or the
 * ring no longer reaches back that far. */
bool job__changed_since(const job_system *js, uint64_t since, const char *job_id)
{
    if (js->version == since)
        return false;
    if (js->version - since >= JOB_CHANGE_RING)
        return true;
    for (uint64_t k = since + 1; k <= js->version; k++) {
        const char *id = js->changes[k % JOB_CHANGE_RING].job_id;
        if (js->changes[k % JOB_CHANGE_RING].version != k || !id[0] || !strcmp(id, job_id))
            return true;
    }
    return false;
}

int job_status(json_t **out, job_system *js, const char *account_id, const char *job_id)
{
    char status[16];
    *out = NULL;
    return job__status_once(out, status, js, account_id, job_id);
}

typedef struct {
    const char *account, *job_id;
    int64_t changed;
} cancel_tx;

static int cancel_queued_fn(db_conn *c, void *ctx)
{
    cancel_tx *t = ctx;
    int64_t now = job__now_ms();
    int rc = db_execp(&t->changed, c,
                      "UPDATE jobs SET status = 'canceled', error_class = 'canceled', error_message = $1, "
                      "finished_at = $2, updated_at = $2 WHERE id = $3 AND account_id = $4 AND status = 'queued'",
                      "titt", "canceled before it started; nothing was charged", now, t->job_id, t->account);
    if (rc != 0 || t->changed == 0)
        return rc;
    rc = ledger_release(c, t->job_id);
    return rc == FMUGW_EEXISTS ? 0 : rc;
}

int job_cancel(json_t **out, job_system *js, const char *account_id, const char *job_id)
{
    db_conn *c = NULL;
    char status[16];
    int rc;

    *out = NULL;
    if ((rc = db_pool_acquire(&c, js->db)) != 0)
        return rc;
    if ((rc = job_read(NULL, status, c, account_id, job_id)) != 0)
        goto out;
    if (job__finished_status(status)) {
        rc = fmugw_error_set(FMUGW_ECONFLICT, "the job is already %s", status);
        goto out;
    }
    cancel_tx t = { account_id, job_id, 0 };
    if ((rc = db_transact(c, cancel_queued_fn, &t)) != 0)
        goto out;
    if (t.changed) {
        db_pool_release(js->db, c);
        c = NULL;
        job__notify_changed(js, job_id);
        rc = job__status_once(out, status, js, account_id, job_id);
        goto out;
    }
    /* Running: mark it and stop its sandbox if it runs here; the worker
     * records the cancel (the caller may watch for it: job_watch_open). */
    if ((rc = db_execp(NULL, c, "UPDATE jobs SET cancel_requested = 1 WHERE id = $1 AND account_id = $2", "tt", job_id,
                       account_id)) != 0)
        goto out;
    db_pool_release(js->db, c);
    c = NULL;
    job__slot_cancel(js, job_id); /* elsewhere: that process's monitor sees the mark within 250 ms */
    rc = job__status_once(out, status, js, account_id, job_id);
out:
    if (c)
        db_pool_release(js->db, c);
    return rc;
}

int job_list(json_t **out, job_system *js, const char *account_id, const char *state, const char *fmu_id,
             const char *cursor, int limit)
{
    db_conn *c = NULL;
    db_stmt *st = NULL;
    int64_t cur_at = INT64_MAX;
    char cur_id[JOB_ID_MAX] = "~";
    json_t *items = json_array();
    char *next = NULL;
    int rc = 0, n = 0;

    *out = NULL;
    if (cursor && cursor[0]) {
        char *dot = strchr(cursor, '.');
        char *end;
        errno = 0;
        long long at = strtoll(cursor, &end, 10);
        if (!dot || end != dot || errno || strlen(dot + 1) == 0 || strlen(dot + 1) >= JOB_ID_MAX) {
            json_decref(items);
            return fmugw_error_set(FMUGW_EINVALID, "bad cursor");
        }
        cur_at = at;
        snprintf(cur_id, sizeof cur_id, "%s", dot + 1);
    }
    if ((rc = db_pool_acquire(&c, js->db)) != 0)
        goto out;
    rc = db_query(&st, c,
                  "SELECT " JOB_COLS " FROM jobs WHERE account_id = $1 AND ($2 = '' OR status = $2) "
                  "AND ($3 = '' OR fmu_id = $3) AND (created_at < $4 OR (created_at = $4 AND id < $5)) "
                  "ORDER BY created_at DESC, id DESC LIMIT $6",
                  "tttit" "i", account_id, state ? state : "", fmu_id ? fmu_id : "", cur_at, cur_id,
                  (int64_t)limit + 1);
    if (rc != 0)
        goto out;
    while ((rc = db_step(st)) == 1) {
        if (n == limit)
            break; /* there is a next page: its cursor is the last item shown */
        json_array_append_new(items, job_json(st));
        n++;
        free(next);
        next = NULL;
        if (asprintf(&next, "%lld.%s", (long long)db_column_int64(st, 15), db_column_text(st, 0)) < 0)
            next = NULL;
    }
    if (rc == 1 && n == limit)
        rc = 0;
    else if (rc == 0) {
        free(next); /* last page */
        next = NULL;
    }
    if (rc < 0)
        goto out;
    rc = 0;
    *out = json_pack("{s:O,s:o}", "items", items, "next_cursor", next ? json_string(next) : json_null());
out:
    db_finalize(st);
    if (c)
        db_pool_release(js->db, c);
    json_decref(items);
    free(next);
    return rc;
}

/* ---- results ---------------------------------------------------------------- */

int job_result_get(job_result_info *out, job_system *js, const char *account_id, const char *job_id)
{
    db_conn *c = NULL;
    db_stmt *st = NULL;
    char status[16];
    int rc;

    memset(out, 0, sizeof *out);
    if ((rc = db_pool_acquire(&c, js->db)) != 0)
        return rc;
    if ((rc = job_read(NULL, status, c, account_id, job_id)) != 0)
        goto out;
    if (strcmp(status, "succeeded") != 0) {
        rc = fmugw_error_set(FMUGW_ECONFLICT, "the job is %s: no result", status);
        goto out;
    }
    if ((rc = db_query(&st, c,
                       "SELECT blob_key, format, rows, size, sha256 FROM results WHERE job_id = $1 AND account_id = $2",
                       "tt", job_id, account_id)) != 0 ||
        (rc = db_step(st)) < 0)
        goto out;
    if (rc == 0) {
        rc = fmugw_error_set(FMUGW_ENOTFOUND, "the result of this job is no longer kept");
        goto out;
    }
    rc = 0;
    snprintf(out->blob_key, sizeof out->blob_key, "%s", db_column_text(st, 0));
    snprintf(out->format, sizeof out->format, "%s", db_column_text(st, 1));
    out->rows = db_column_int64(st, 2);
    out->size = db_column_int64(st, 3);
    snprintf(out->sha256, sizeof out->sha256, "%s", db_column_text(st, 4));
out:
    db_finalize(st);
    db_pool_release(js->db, c);
    return rc;
}

typedef struct {
    FILE *f;
    crypto_sha256_ctx *sha;
    crypto_open *open;
} open_sink;

static int plain_write(void *opaque, const void *data, size_t len)
{
    open_sink *s = opaque;
    if (crypto_sha256_update(s->sha, data, len) != 0)
        return FMUGW_ERROR;
    if (fwrite(data, 1, len, s->f) != len)
        return fmugw_error_set(FMUGW_EIO, "cannot write the result: %s", strerror(errno));
    return 0;
}

static int sealed_feed(void *ctx, const void *buf, size_t n)
{
    open_sink *s = ctx;
    return crypto_open_update(s->open, buf, n);
}

int job_result_open(FILE **out, job_system *js, const job_result_info *info)
{
    char *tmp = NULL;
    open_sink s = { NULL, NULL, NULL };
    uint8_t d[32];
    char hex[65];
    int rc, fd = -1;

    *out = NULL;
    if (asprintf(&tmp, "%s/result-XXXXXX", js->a->tmp_dir) < 0)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    if ((fd = mkstemp(tmp)) < 0 || unlink(tmp) != 0 || !(s.f = fdopen(fd, "w+b"))) {
        if (fd >= 0)
            close(fd);
        rc = fmugw_error_set(FMUGW_EIO, "cannot create a temporary file: %s", strerror(errno));
        goto out;
    }
    if ((rc = crypto_sha256_new(&s.sha)) != 0 ||
        (rc = crypto_open_init(&s.open, js->a->master_keys, plain_write, &s)) != 0 ||
        (rc = blob_get_stream(js->a->blobs, info->blob_key, sealed_feed, &s)) != 0 ||
        (rc = crypto_open_final(s.open)) != 0 || (rc = crypto_sha256_final(s.sha, d)) != 0)
        goto out;
    crypto_hex_encode(hex, sizeof hex, d, sizeof d);
    if (strcmp(hex, info->sha256) != 0) {
        rc = fmugw_error_set(FMUGW_EAUTH, "the stored result does not match its SHA-256");
        goto out;
    }
    if (fflush(s.f) != 0 || fseek(s.f, 0, SEEK_SET) != 0) {
        rc = fmugw_error_set(FMUGW_EIO, "cannot read back the result");
        goto out;
    }
    *out = s.f;
    s.f = NULL;
out:
    if (s.f)
        fclose(s.f);
    crypto_open_free(s.open);
    crypto_sha256_free(s.sha);
    free(tmp);
    return rc;
}

/* ---- retention and purge ------------------------------------------------------ */

/* Deletes a result row, then its blob if no other result uses it. */
static int result_delete(job_system *js, db_conn *c, const char *job_id, const char *blob_key)
{
    db_stmt *st = NULL;
    int rc = db_execp(NULL, c, "DELETE FROM results WHERE job_id = $1", "t", job_id);
    if (rc != 0)
        return rc;
    if ((rc = db_query(&st, c, "SELECT COUNT(*) FROM results WHERE blob_key = $1", "t", blob_key)) == 0 &&
        (rc = db_step(st)) == 1) {
        rc = 0;
        if (db_column_int64(st, 0) == 0) {
            int brc = blob_delete(js->a->blobs, blob_key);
            if (brc != 0 && brc != FMUGW_ENOTFOUND)
                log_err("result blob delete failed", job_id);
        }
    }
    db_finalize(st);
    return rc < 0 ? rc : 0;
}

typedef struct {
    char job_id[JOB_ID_MAX];
    char blob[65];
} result_ref;

/* Collects (job, blob) pairs of a query with those two columns. */
static int collect_refs(result_ref **out, size_t *n, db_stmt *st, job_system *js, bool by_age)
{
    size_t cap = 0;
    int rc;
    int64_t now = job__now_ms();
    unsigned override = js->a->cfg ? js->a->cfg->retention_override_s : 0;
    *out = NULL;
    *n = 0;
    while ((rc = db_step(st)) == 1) {
        if (by_age) {
            int64_t keep_ms;
            if (override)
                keep_ms = (int64_t)override * 1000;
            else {
                const pricing_tier *t = tier_of(js->a, db_column_text(st, 3));
                keep_ms = (int64_t)(t ? t->retention_days : 7) * 86400000;
            }
            if (db_column_int64(st, 2) + keep_ms > now)
                continue;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            result_ref *p = realloc(*out, cap * sizeof *p);
            if (!p)
                return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
            *out = p;
        }
        snprintf((*out)[*n].job_id, JOB_ID_MAX, "%s", db_column_text(st, 0));
        snprintf((*out)[*n].blob, 65, "%s", db_column_text(st, 1));
        (*n)++;
    }
    return rc < 0 ? rc : 0;
}

int job_retention_sweep(job_system *js, int64_t *deleted)
{
    db_conn *c = NULL;
    db_stmt *st = NULL;
    result_ref *refs = NULL;
    size_t n = 0;
    int64_t recovered = 0;
    int rc;

    if (deleted)
        *deleted = 0;
    if ((rc = db_pool_acquire(&c, js->db)) != 0)
        return rc;
    if ((rc = db_query(&st, c,
                       "SELECT r.job_id, r.blob_key, r.created_at, a.tier FROM results r "
                       "JOIN accounts a ON a.id = r.account_id",
                       NULL)) != 0 ||
        (rc = collect_refs(&refs, &n, st, js, true)) != 0)
        goto out;
    db_finalize(st);
    st = NULL;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if ((rc = result_delete(js, c, refs[i].job_id, refs[i].blob)) == 0 && deleted)
            (*deleted)++;
    }
    if (rc == 0 && js->sweeper_started)
        rc = recover(js, c, &recovered); /* expired leases */
    if (n > 0)
        fmugw_log_json(FMUGW_LOG_INFO, "results purged (retention)", json_pack("{s:I}", "count", (json_int_t)n));
out:
    db_finalize(st);
    free(refs);
    db_pool_release(js->db, c);
    return rc;
}

int job_purge_account(json_t **summary, job_system *js, const char *account_id)
{
    db_conn *c = NULL;
    db_stmt *st = NULL;
    result_ref *refs = NULL;
    size_t n = 0;
    int64_t keys = 0, fmus = 0, canceled = 0, scrubbed = 0;
    char **running = NULL;
    size_t n_running = 0;
    int rc;

    *summary = NULL;
    if ((rc = db_pool_acquire(&c, js->db)) != 0)
        return rc;
    /* queued jobs: canceled and released; running ones: canceled below */
    if ((rc = db_query(&st, c, "SELECT id, status FROM jobs WHERE account_id = $1 AND status IN ('queued', 'running')",
                       "t", account_id)) != 0)
        goto out;
    while ((rc = db_step(st)) == 1) {
        char **p = realloc(running, (n_running + 1) * sizeof *p);
        if (!p) {
            rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
            goto out;
        }
        running = p;
        running[n_running++] = strdup(db_column_text(st, 0));
    }
    db_finalize(st);
    st = NULL;
    if (rc < 0)
        goto out;
    db_pool_release(js->db, c);
    c = NULL;
    for (size_t i = 0; i < n_running; i++) {
        json_t *j = NULL;
        if (running[i] && job_cancel(&j, js, account_id, running[i]) == 0)
            canceled++;
        json_decref(j);
    }
    if ((rc = db_pool_acquire(&c, js->db)) != 0)
        goto out;
    /* results */
    if ((rc = db_query(&st, c, "SELECT job_id, blob_key FROM results WHERE account_id = $1", "t", account_id)) != 0 ||
        (rc = collect_refs(&refs, &n, st, js, false)) != 0)
        goto out;
    db_finalize(st);
    st = NULL;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = result_delete(js, c, refs[i].job_id, refs[i].blob);
    if (rc != 0)
        goto out;
    /* idempotency keys (they hold answers), and the jobs' settings and
     * inputs (customer data); the job rows stay with their metering, as
     * the ledger entries that refer to them */
    if ((rc = db_execp(&keys, c, "DELETE FROM idempotency_keys WHERE account_id = $1", "t", account_id)) != 0 ||
        (rc = db_execp(&scrubbed, c,
                       "UPDATE jobs SET request = '{\"purged\":true}', inputs_csv = NULL WHERE account_id = $1", "t",
                       account_id)) != 0)
        goto out;
    /* FMUs: rows soft-deleted, blobs removed */
    for (;;) {
        store_fmu **list = NULL;
        size_t nf = 0;
        char *next = NULL;
        if ((rc = store_fmu_list(&list, &nf, &next, c, account_id, false, NULL, 200)) != 0)
            goto out;
        int64_t before = fmus;
        for (size_t i = 0; i < nf; i++) {
            if (store_fmu_delete(c, account_id, list[i]->id) == 0) {
                fmus++;
                if (list[i]->blob_key) {
                    int brc = blob_delete(js->a->blobs, list[i]->blob_key);
                    if (brc != 0 && brc != FMUGW_ENOTFOUND)
                        log_err("fmu blob delete failed", list[i]->id);
                }
            }
        }
        store_fmu_list_free(list, nf);
        free(next);
        if (nf == 0 || fmus == before)
            break;
    }
    *summary = json_pack("{s:I,s:I,s:I,s:I,s:I}", "results_deleted", (json_int_t)n, "fmus_deleted", (json_int_t)fmus,
                         "idempotency_keys_deleted", (json_int_t)keys, "jobs_canceled", (json_int_t)canceled,
                         "jobs_scrubbed", (json_int_t)scrubbed);
out:
    db_finalize(st);
    free(refs);
    for (size_t i = 0; i < n_running; i++)
        free(running[i]);
    free(running);
    if (c)
        db_pool_release(js->db, c);
    return rc;
}
