/*
 * jobs_internal.h - what the files of src/jobs share: the system struct,
 * the parsed request, and the worker entry points. Not for other modules.
 */
#ifndef FMUGW_JOBS_INTERNAL_H
#define FMUGW_JOBS_INTERNAL_H

#include "jobs/jobs.h"
#include "ledger/pricing.h"
#include "sandbox/sandbox.h"
#include "store/db.h"

#include <pthread.h>

#define JOB_ID_MAX 48
#define JOB_OUTPUT_LIMIT ((uint64_t)256 << 20) /* results + log bytes of one job */
/* Request validation (request.c; docs/api.md "Limits of one request"): */
#define JOB_MAX_PROBLEMS 100        /* {field, message} entries of one 422 (then one "more problems") */
#define JOB_MAX_INPUT_COLUMNS 1000  /* input signals of one job */
#define JOB_MIN_TIMEOUT_S 1.0       /* timeout_s below this is refused */
#define JOB_MIN_CPU_LIMIT_S 1.0     /* cpu_limit_s too (RLIMIT_CPU counts whole seconds) */
#define JOB_MIN_MEMORY_MB 16.0      /* memory_limit_mb below this is refused */
/* The sandbox's RLIMIT_CPU: soft = the CPU limit in whole seconds (SIGXCPU),
 * hard = soft + this (SIGKILL), docs/sandbox.md: the CPU a job can really
 * use, and so what its reservation prices. */
#define JOB_CPU_HARD_GRACE_S 1.0

typedef struct job_worker_arg job_worker_arg;

#define JOB_MONITOR_PERIOD_MS 250   /* cancel marks of other processes are looked for this often */
#define JOB_PROGRESS_WRITE_MS 500   /* a running job's progress is written at most this often */
#define JOB_PROGRESS_SCALE 1000000  /* jobs.progress_ppm: millionths */

/* A job being run by a worker: what cancel needs to stop it, and its
 * progress. All fields under job_system.mu but cancel_flag. */
typedef struct {
    char job_id[JOB_ID_MAX];
    int result_rfd;     /* read end of the result pipe; closing it stops the sandbox */
    bool cancel;        /* cancel asked: the worker settles as canceled */
    int cancel_flag;    /* the same, read by the sandbox without the lock (sandbox_job.cancel) */
    bool active;
    double start, span; /* simulated start time and stop - start (progress = (t - start) / span) */
    int64_t progress;   /* millionths reached (the runner's "@progress T"), never decreasing */
    int64_t progress_written;    /* the value last written to jobs.progress_ppm */
    int64_t progress_written_ms; /* when (job__now_ms) */
} job_slot;

/* The unpacked-FMU cache (unpacked.h): unused entries kept at most, and
 * for at most this long. */
#define JOB_UNPACKED_MAX 32
#define JOB_UNPACKED_IDLE_S 120

#define JOB_CHANGE_RING 256
/* Workers beyond the configured count that only run the job of an account
 * with nothing running (worker.c). */
#define JOB_RESERVE_WORKERS 1

struct job_system {
    app *a;
    char owner[128];          /* lease owner: "<host>:<pid>:<random>" */
    char host[64];
    char owner_rand[17];
    char *runner;             /* fmugw-runner */
    sandbox_pool *pool;       /* may be NULL: sandbox_run then */
    char *work_dir;           /* <data>/jobs: per-job private dirs and the pool's (renewed at start:
                               * the old one is moved aside and removed in the background) */
    struct unpacked_cache *unpacked; /* <work_dir>/fmus: unpacked FMUs shared by jobs (unpacked.h) */
    unsigned n_workers;       /* worker threads, the reserve ones included */
    unsigned n_reserve;       /* the last n_reserve of them are reserve workers */
    unsigned n_busy_regular;  /* regular workers running a job (js->mu) */
    unsigned n_started;       /* worker threads running */
    pthread_t *threads;
    job_worker_arg *args;
    db_pool *db;              /* the job system's own connections */
    pthread_t sweeper;
    bool sweeper_started;
    pthread_t cleaner;        /* removes the work dirs earlier runs left (<data>/jobs.stale-*) */
    bool cleaner_started;
    pthread_mutex_t mu;
    pthread_cond_t work;      /* a job may be claimable */
    pthread_cond_t changed;   /* some job changed state */
    pthread_cond_t changed_sweep; /* wakes the sweeper to stop */
    pthread_t monitor;        /* cancel marks + progress writes of this process's running jobs */
    bool monitor_started;
    bool monitor_stop;        /* set after the workers ended */
    pthread_cond_t monitor_wake;  /* wakes the monitor to stop */
    uint64_t version;         /* bumped on every state change */
    /* Which job each of the last JOB_CHANGE_RING versions changed, so that
     * a status long-poll wakes on its own job, not on every job
     * (job__notify_changed; "" = unknown: every waiter looks). */
    struct {
        uint64_t version;
        char job_id[JOB_ID_MAX];
    } changes[JOB_CHANGE_RING];
    bool stopping;
    job_slot *slots;          /* one per worker */
    void (*on_change)(void *); /* called (js->mu held) after every change */
    void *on_change_ud;
    struct job_watch_count *watch_counts; /* open watches per account (watch.c) */
    size_t n_watch_counts, cap_watch_counts;
};

/* ---- request.c ---- */

/* A validated POST /fmu/execute body. */
typedef struct {
    json_t *canonical;    /* the settings as stored (jobs.request) */
    char *inputs_csv;     /* input signals as CSV text, or NULL */
    double timeout_s;     /* effective: whole milliseconds, what the sandbox's deadline is */
    int64_t timeout_ms;   /* the same in ms, as stored (jobs.timeout_ms) and priced */
    double cpu_limit_s;   /* effective CPU limit: whole seconds, at most the timeout rounded up */
    uint64_t memory_limit; /* bytes: the tier's, or memory_limit_mb (whole bytes) */
    double span;          /* stop - start (pricing's simulated span) */
    double start;         /* the simulated start time (given or the default experiment's) */
    bool reuse;
    char hash[65];        /* SHA-256 of FMU sha256 + settings + inputs */
} job_request;

/** Validates `body` against the model summary `summary` (the FMU's) and
 *  the tier: 0 with *req filled, or FMUGW_EINVALID with `errors` (a JSON
 *  array) holding {field, message} objects. */
int job__request_parse(job_request *req, json_t *errors, json_t *body, const json_t *summary,
                       const char *fmu_sha256, const pricing_tier *tier);

void job__request_free(job_request *req);

/** Builds the runner's argv from a stored request: `fmu` and `input` are
 *  the paths as the runner sees them. Free with fmi_sim_args_free_argv. */
int job__runner_argv(char ***out, const char *request_json, bool has_inputs);

/** Millicredits the account was charged in its current billing cycle (the
 *  bulk discount's input); 0 when unknown. */
int64_t job__cycle_usage(db_conn *c, const char *account_id);

/** Helpers shared by jobs.c, watch.c and worker.c. */
int64_t job__now_ms(void);
bool job__finished_status(const char *s);
/** One read of a job's status JSON (and its status word). */
int job__status_once(json_t **out, char status[16], job_system *js, const char *account_id, const char *job_id);
/** True if `job_id` may have changed since version `since` (js->mu held). */
bool job__changed_since(const job_system *js, uint64_t since, const char *job_id);
int job__new_id(char out[JOB_ID_MAX], const char *prefix);

/* ---- worker.c ---- */

/** A worker thread (arg: its job_worker_arg). */
void *job__worker_main(void *arg);

/** The monitor thread of a process with workers (arg: the job_system):
 *  every JOB_MONITOR_PERIOD_MS while a job runs here, one query for cancel
 *  marks of this process's running jobs (set by job_cancel in any process:
 *  their sandboxes are stopped) and, at most every JOB_PROGRESS_WRITE_MS per
 *  job, one UPDATE of jobs.progress_ppm. Ends when js->monitor_stop is set
 *  (after the workers ended) and monitor_wake signalled. */
void *job__monitor_main(void *arg);

/** One monitor pass now (what job__monitor_main does each period). */
int job__monitor_pass(job_system *js);

/** Stops the sandbox of `job_id` if a worker of this process runs it (its
 *  slot's cancel flag; the result socket is shut down). Takes js->mu.
 *  True if it ran here. */
bool job__slot_cancel(job_system *js, const char *job_id);

/** The progress in millionths a worker of this process knows for a running
 *  `job_id`, or -1 when it does not run here. Takes js->mu. */
int64_t job__slot_progress(job_system *js, const char *job_id);

struct job_worker_arg {
    job_system *js;
    unsigned index;
};

/* ---- jobs.c, for worker.c ---- */

/** Wakes status waiters: job `job_id` (NULL: unknown) changed state. */
void job__notify_changed(job_system *js, const char *job_id);

/** True if an error class is caused by the FMU (charged for its use). */
bool job__class_charged(const char *error_class);

#endif
