/*
 * test_auth_failure_log.c - src/auth/failure_log: the per-address failure
 * limit, one audited failure per (address, reason) window with the rest
 * counted into a summary when the window closes, the global audit budget,
 * and the bounded table whose evicted windows land in the overflow summary.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "auth/failure_log.h"

static const failure_summary *find(const failure_verdict *v, const char *ip, const char *reason)
{
    for (size_t i = 0; i < v->n_summaries; i++)
        if (!strcmp(v->summaries[i].ip, ip) && !strcmp(v->summaries[i].reason, reason))
            return &v->summaries[i];
    return NULL;
}

static void test_window_aggregates(void **state)
{
    (void)state;
    failure_log *fl;
    failure_verdict v;
    assert_int_equal(failure_log_new(&fl, 64), 0);
    int64_t t = 1700000000000;
    /* the first failure of a window is audited, the next ones are counted */
    failure_log_note(&v, fl, "10.0.0.1", "unknown_api_key", true, t);
    assert_true(v.audit);
    assert_false(v.throttled);
    for (int i = 1; i < 10; i++) {
        failure_log_note(&v, fl, "10.0.0.1", "unknown_api_key", true, t + i * 300);
        assert_false(v.audit);
        assert_false(v.throttled);
    }
    /* another reason, another address: their own windows */
    failure_log_note(&v, fl, "10.0.0.1", "malformed_api_key", true, t + 100);
    assert_true(v.audit);
    failure_log_note(&v, fl, "10.0.0.2", "unknown_api_key", true, t + 100);
    assert_true(v.audit);
    /* after the window: a summary of the 9 counted, and a new window */
    failure_log_note(&v, fl, "10.0.0.3", "missing_api_key", true, t + FAILURE_WINDOW_MS + 1);
    assert_true(v.audit);
    const failure_summary *s = find(&v, "10.0.0.1", "unknown_api_key");
    assert_non_null(s);
    assert_int_equal(s->count, 9);
    assert_int_equal(s->first_ms, t + 300);
    assert_int_equal(s->last_ms, t + 9 * 300);
    assert_null(find(&v, "10.0.0.1", "malformed_api_key")); /* nothing counted there */
    failure_log_note(&v, fl, "10.0.0.1", "unknown_api_key", true, t + FAILURE_WINDOW_MS + 2);
    assert_true(v.audit);
    assert_int_equal(v.n_summaries, 0); /* summarised once */
    failure_log_free(fl);
}

static void test_per_address_limit(void **state)
{
    (void)state;
    failure_log *fl;
    failure_verdict v;
    assert_int_equal(failure_log_new(&fl, 64), 0);
    int64_t t = 1700000000000;
    for (int i = 0; i < FAILURE_BURST; i++) {
        failure_log_note(&v, fl, "10.0.0.9", "unknown_api_key", true, t);
        assert_false(v.throttled);
    }
    failure_log_note(&v, fl, "10.0.0.9", "unknown_api_key", true, t);
    assert_true(v.throttled);
    assert_true(v.retry_after >= 1);
    assert_false(v.audit);
    /* a known key's failures are not throttled (its abuse lock bounds them) */
    failure_log_note(&v, fl, "10.0.0.9", "token_bad_signature", false, t);
    assert_false(v.throttled);
    /* another address is not affected */
    failure_log_note(&v, fl, "10.0.0.10", "unknown_api_key", true, t);
    assert_false(v.throttled);
    /* the limit refills at FAILURE_RATE_PER_S */
    failure_log_note(&v, fl, "10.0.0.9", "unknown_api_key", true, t + 1000);
    assert_false(v.throttled);
    failure_log_free(fl);
}

static void test_audit_budget_and_overflow(void **state)
{
    (void)state;
    failure_log *fl;
    failure_verdict v;
    enum { CAP = 32 };
    assert_int_equal(failure_log_new(&fl, CAP), 0);
    int64_t t = 1700000000000;
    /* many addresses at once: at most the burst of the audit budget is written */
    int audited = 0;
    for (int i = 0; i < FAILURE_AUDIT_BURST + 50; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "10.1.%d.%d", i / 250, i % 250);
        failure_log_note(&v, fl, ip, "unknown_api_key", true, t);
        audited += v.audit;
    }
    assert_int_equal(audited, FAILURE_AUDIT_BURST);
    /* the table held CAP windows; the dropped ones' counts are in the overflow */
    failure_log_note(&v, fl, "10.9.9.9", "unknown_api_key", true, t + FAILURE_WINDOW_MS + 1);
    const failure_summary *o = find(&v, "*", "overflow");
    uint64_t counted = o ? o->count : 0;
    for (size_t i = 0; i < v.n_summaries; i++)
        if (&v.summaries[i] != o)
            counted += v.summaries[i].count;
    /* the 50 over budget were counted, none lost (the sweep hands out at most
     * FAILURE_SUMMARIES_MAX per call; the rest comes with the next calls) */
    for (int k = 1; k < 10; k++) {
        failure_log_note(&v, fl, "10.9.9.9", "unknown_api_key", true, t + FAILURE_WINDOW_MS + 1 + k);
        for (size_t i = 0; i < v.n_summaries; i++)
            counted += v.summaries[i].count;
    }
    assert_int_equal(counted, 50);
    failure_log_free(fl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_aggregates),
        cmocka_unit_test(test_per_address_limit),
        cmocka_unit_test(test_audit_budget_and_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
