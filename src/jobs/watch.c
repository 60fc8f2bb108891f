/*
 * watch.c - watching a job for a change of state without holding a thread
 * (jobs.h: job_watch_*): what status long-polls and cancels that wait for
 * their worker are built on. A watch remembers the job system's change
 * version it last looked at; a poll costs one lock and a look at the ring of
 * recent changes, and reads the database only when the ring names the job
 * or when JOB_WATCH_RECHECK_MS passed since the last read (changes by other
 * processes are only in the database). Open watches are counted per account
 * against job_watch_limit(tier).
 */
#include "jobs/jobs.h"
#include "jobs/jobs_internal.h"

#include "util/error.h"

#include <stdlib.h>
#include <string.h>

struct job_watch_count {
    char account_id[64];
    unsigned n;
};

struct job_watch {
    job_system *js;
    char account_id[64];
    char job_id[JOB_ID_MAX];
    char known[16];
    uint64_t version;     /* the change version when last looked */
    int64_t next_read_ms; /* the next database read without a ring hint */
};

unsigned job_watch_limit(const char *tier)
{
    if (tier && !strcmp(tier, "enterprise"))
        return 64;
    if (tier && !strcmp(tier, "pro"))
        return 16;
    return 4;
}

/* js->mu held. The account's counter, created when `create`. */
static struct job_watch_count *count_of(job_system *js, const char *account_id, bool create)
{
    for (size_t i = 0; i < js->n_watch_counts; i++)
        if (!strcmp(js->watch_counts[i].account_id, account_id))
            return &js->watch_counts[i];
    if (!create)
        return NULL;
    if (js->n_watch_counts == js->cap_watch_counts) {
        size_t cap = js->cap_watch_counts ? js->cap_watch_counts * 2 : 16;
        struct job_watch_count *n = realloc(js->watch_counts, cap * sizeof *n);
        if (!n)
            return NULL;
        js->watch_counts = n;
        js->cap_watch_counts = cap;
    }
    struct job_watch_count *c = &js->watch_counts[js->n_watch_counts++];
    snprintf(c->account_id, sizeof c->account_id, "%s", account_id);
    c->n = 0;
    return c;
}

/* js->mu held. */
static void count_drop(job_system *js, const char *account_id)
{
    struct job_watch_count *c = count_of(js, account_id, false);
    if (c && --c->n == 0)
        *c = js->watch_counts[--js->n_watch_counts]; /* the table holds only accounts that watch */
}

int job_watch_open(job_watch **out, json_t **status, job_system *js, const char *account_id, const char *tier,
                   const char *job_id, const char *known_status, bool wait)
{
    char now_status[16];
    *out = NULL;
    *status = NULL;

    pthread_mutex_lock(&js->mu);
    uint64_t version = js->version; /* before the read: a change after it is seen */
    pthread_mutex_unlock(&js->mu);
    int rc = job__status_once(status, now_status, js, account_id, job_id);
    if (rc != 0)
        return rc;
    if (!known_status)
        known_status = now_status;
    if (!wait || job__finished_status(now_status) || strcmp(now_status, known_status) != 0)
        return 0;

    job_watch *w = calloc(1, sizeof *w);
    if (!w) {
        json_decref(*status);
        *status = NULL;
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    }
    w->js = js;
    w->version = version;
    w->next_read_ms = job__now_ms() + JOB_WATCH_RECHECK_MS;
    snprintf(w->account_id, sizeof w->account_id, "%s", account_id);
    snprintf(w->job_id, sizeof w->job_id, "%s", job_id);
    snprintf(w->known, sizeof w->known, "%s", known_status);

    unsigned limit = job_watch_limit(tier);
    pthread_mutex_lock(&js->mu);
    struct job_watch_count *c = count_of(js, account_id, true);
    if (!c || c->n >= limit) {
        pthread_mutex_unlock(&js->mu);
        free(w);
        json_decref(*status);
        *status = NULL;
        if (!c)
            return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        return fmugw_error_set(FMUGW_ELIMIT,
                               "this account already waits on %u job status requests (the limit of tier %s); "
                               "wait for one to end, or poll without ?wait",
                               limit, tier ? tier : "free");
    }
    c->n++;
    pthread_mutex_unlock(&js->mu);
    *out = w;
    return 0;
}

int job_watch_poll(json_t **status, job_watch *w, bool final)
{
    job_system *js = w->js;
    char now_status[16];
    *status = NULL;

    pthread_mutex_lock(&js->mu);
    bool hinted = job__changed_since(js, w->version, w->job_id);
    uint64_t version = js->version;
    bool stopping = js->stopping;
    pthread_mutex_unlock(&js->mu);
    int64_t now = job__now_ms();
    if (!hinted && !final && !stopping && now < w->next_read_ms)
        return 0;

    json_t *j = NULL;
    if (job__status_once(&j, now_status, js, w->account_id, w->job_id) != 0) {
        /* gone (purged) or unreadable: the caller answers from a fresh read */
        *status = NULL;
        return 1;
    }
    if (final || stopping || job__finished_status(now_status) || strcmp(now_status, w->known) != 0) {
        *status = j;
        return 1;
    }
    json_decref(j);
    w->version = version;
    w->next_read_ms = now + JOB_WATCH_RECHECK_MS;
    return 0;
}

void job_watch_free(job_watch *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->js->mu);
    count_drop(w->js, w->account_id);
    pthread_mutex_unlock(&w->js->mu);
    free(w);
}
