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

typedef struct job_worker_arg job_worker_arg;

/* A job being run by a worker: what cancel needs to stop it. */
typedef struct {
    char job_id[JOB_ID_MAX];
    int result_rfd;     /* read end of the result pipe; closing it stops the sandbox */
    bool cancel;        /* cancel asked: the worker settles as canceled */
    int cancel_flag;    /* the same, read by the sandbox without the lock (sandbox_job.cancel) */
    bool active;
} job_slot;

struct job_system {
    app *a;
    char owner[128];          /* lease owner: "<host>:<pid>:<random>" */
    char host[64];
    char owner_rand[17];
    char *runner;             /* fmugw-runner */
    sandbox_pool *pool;       /* may be NULL: sandbox_run then */
    char *work_dir;           /* <data>/jobs: per-job private dirs and the pool's (emptied at start) */
    unsigned n_workers;
    unsigned n_started;       /* worker threads running */
    pthread_t *threads;
    job_worker_arg *args;
    db_pool *db;              /* the job system's own connections */
    pthread_t sweeper;
    bool sweeper_started;
    pthread_mutex_t mu;
    pthread_cond_t work;      /* a job may be claimable */
    pthread_cond_t changed;   /* some job changed state */
    pthread_cond_t changed_sweep; /* wakes the sweeper to stop */
    uint64_t version;         /* bumped on every state change */
    bool stopping;
    job_slot *slots;          /* one per worker */
};

/* ---- request.c ---- */

/* A validated POST /fmu/execute body. */
typedef struct {
    json_t *canonical;    /* the settings as stored (jobs.request) */
    char *inputs_csv;     /* input signals as CSV text, or NULL */
    double timeout_s;
    uint64_t memory_limit; /* bytes: the tier's, or memory_limit_mb */
    double span;          /* stop - start (pricing's simulated span) */
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

/** Helpers shared by jobs.c and worker.c. */
int64_t job__now_ms(void);
int job__new_id(char out[JOB_ID_MAX], const char *prefix);

/* ---- worker.c ---- */

/** A worker thread (arg: its job_worker_arg). */
void *job__worker_main(void *arg);

struct job_worker_arg {
    job_system *js;
    unsigned index;
};

/* ---- jobs.c, for worker.c ---- */

/** Wakes status waiters (a job changed state). */
void job__notify_changed(job_system *js);

/** True if an error class is caused by the FMU (charged for its use). */
bool job__class_charged(const char *error_class);

#endif
