/*
 * failure_log.c - per-address limit and aggregation of failed
 * authentications (failure_log.h). A table of (address, reason) windows:
 * an array of entries with a chained hash index, swept of closed windows
 * at most once a second; the limits are two GCRA limiters (ratelimit.h).
 */
#include "auth/failure_log.h"
#include "auth/ratelimit.h"
#include "util/error.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SWEEP_EVERY_MS 1000
#define NO_ENTRY UINT32_MAX

typedef struct {
    char ip[64];
    char reason[48];
    int64_t start_ms, first_ms, last_ms; /* window start; first/last counted failure */
    uint64_t counted;                    /* failures not audited one by one */
    uint32_t next;                       /* hash chain */
    bool used;
} entry;

struct failure_log {
    pthread_mutex_t mu;
    entry *entries;
    uint32_t *buckets;
    size_t cap, nbuckets, used;
    int64_t next_sweep_ms;
    failure_summary overflow; /* dropped windows' counts */
    ratelimit *per_ip;
    ratelimit *audit_budget;
};

static uint64_t hash_of(const char *ip, const char *reason)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const char *p = ip; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (const char *p = reason; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h;
}

int failure_log_new(failure_log **out, size_t max_entries)
{
    failure_log *fl = calloc(1, sizeof *fl);
    *out = NULL;
    if (!fl)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    pthread_mutex_init(&fl->mu, NULL);
    fl->cap = max_entries ? max_entries : 1;
    fl->nbuckets = fl->cap * 2;
    fl->entries = calloc(fl->cap, sizeof *fl->entries);
    fl->buckets = malloc(fl->nbuckets * sizeof *fl->buckets);
    snprintf(fl->overflow.ip, sizeof fl->overflow.ip, "*");
    snprintf(fl->overflow.reason, sizeof fl->overflow.reason, "overflow");
    if (!fl->entries || !fl->buckets || ratelimit_new(&fl->per_ip, fl->cap) != 0 ||
        ratelimit_new(&fl->audit_budget, 1) != 0) {
        failure_log_free(fl);
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < fl->nbuckets; i++)
        fl->buckets[i] = NO_ENTRY;
    *out = fl;
    return 0;
}

void failure_log_free(failure_log *fl)
{
    if (!fl)
        return;
    ratelimit_free(fl->per_ip);
    ratelimit_free(fl->audit_budget);
    free(fl->entries);
    free(fl->buckets);
    pthread_mutex_destroy(&fl->mu);
    free(fl);
}

/* Unlinks entry i from its chain and frees it. */
static void entry_drop(failure_log *fl, uint32_t i)
{
    entry *e = &fl->entries[i];
    uint32_t *p = &fl->buckets[hash_of(e->ip, e->reason) % fl->nbuckets];
    while (*p != i)
        p = &fl->entries[*p].next;
    *p = e->next;
    e->used = false;
    fl->used--;
}

static void add_summary(failure_verdict *v, const entry *e)
{
    failure_summary *s = &v->summaries[v->n_summaries++];
    snprintf(s->ip, sizeof s->ip, "%s", e->ip);
    snprintf(s->reason, sizeof s->reason, "%s", e->reason);
    s->count = e->counted;
    s->first_ms = e->first_ms;
    s->last_ms = e->last_ms;
}

/* Closed windows: summarised (as many as fit) and dropped. */
static void sweep(failure_log *fl, failure_verdict *v, int64_t now)
{
    bool more = false;
    for (uint32_t i = 0; i < fl->cap; i++) {
        entry *e = &fl->entries[i];
        if (!e->used || now - e->start_ms < FAILURE_WINDOW_MS)
            continue;
        if (e->counted) {
            if (v->n_summaries == FAILURE_SUMMARIES_MAX) {
                more = true;
                continue;
            }
            add_summary(v, e);
        }
        entry_drop(fl, i);
    }
    if (fl->overflow.count && !more && v->n_summaries < FAILURE_SUMMARIES_MAX) {
        v->summaries[v->n_summaries++] = fl->overflow;
        fl->overflow.count = 0;
    }
    fl->next_sweep_ms = now + (more ? 0 : SWEEP_EVERY_MS);
}

/* The entry of (ip, reason), created (evicting the oldest window when the
 * table is full); NO_ENTRY only on an impossible state. */
static uint32_t entry_for(failure_log *fl, const char *ip, const char *reason, int64_t now, bool *fresh)
{
    uint64_t h = hash_of(ip, reason) % fl->nbuckets;
    for (uint32_t i = fl->buckets[h]; i != NO_ENTRY; i = fl->entries[i].next)
        if (!strcmp(fl->entries[i].ip, ip) && !strcmp(fl->entries[i].reason, reason)) {
            *fresh = false;
            return i;
        }
    uint32_t slot = NO_ENTRY;
    if (fl->used == fl->cap) {
        int64_t oldest = INT64_MAX;
        for (uint32_t i = 0; i < fl->cap; i++)
            if (fl->entries[i].start_ms < oldest) {
                oldest = fl->entries[i].start_ms;
                slot = i;
            }
        entry *e = &fl->entries[slot];
        if (e->counted) {
            if (!fl->overflow.count)
                fl->overflow.first_ms = e->first_ms;
            fl->overflow.count += e->counted;
            fl->overflow.last_ms = e->last_ms;
        }
        entry_drop(fl, slot);
    } else {
        for (uint32_t i = 0; i < fl->cap && slot == NO_ENTRY; i++)
            if (!fl->entries[i].used)
                slot = i;
    }
    if (slot == NO_ENTRY)
        return NO_ENTRY;
    entry *e = &fl->entries[slot];
    memset(e, 0, sizeof *e);
    snprintf(e->ip, sizeof e->ip, "%s", ip);
    snprintf(e->reason, sizeof e->reason, "%s", reason);
    e->start_ms = now;
    e->used = true;
    e->next = fl->buckets[h];
    fl->buckets[h] = slot;
    fl->used++;
    *fresh = true;
    return slot;
}

void failure_log_note(failure_verdict *out, failure_log *fl, const char *ip, const char *reason, bool anonymous,
                      int64_t now_ms)
{
    ratelimit_result r;
    double now_s = (double)now_ms / 1000.0;
    memset(out, 0, offsetof(failure_verdict, summaries));
    if (!ip || !*ip)
        ip = "unknown";

    pthread_mutex_lock(&fl->mu);
    if (anonymous &&
        ratelimit_check_at(&r, fl->per_ip, ip, FAILURE_RATE_PER_S, FAILURE_BURST, now_s) == FMUGW_ELIMIT) {
        out->throttled = true;
        out->retry_after = r.retry_after > 0 ? r.retry_after : 1;
    }
    if (now_ms >= fl->next_sweep_ms)
        sweep(fl, out, now_ms);
    bool fresh = false;
    uint32_t i = entry_for(fl, ip, reason, now_ms, &fresh);
    bool budget = !out->throttled &&
                  ratelimit_check_at(&r, fl->audit_budget, "audit", FAILURE_AUDIT_PER_S, FAILURE_AUDIT_BURST,
                                     now_s) == 0;
    if (i != NO_ENTRY && fresh && budget) {
        out->audit = true;
    } else if (i != NO_ENTRY) {
        entry *e = &fl->entries[i];
        if (!e->counted)
            e->first_ms = now_ms;
        e->counted++;
        e->last_ms = now_ms;
    }
    pthread_mutex_unlock(&fl->mu);
}
