/*
 * test_ledger_pricing.c - pricing.json (the repository's) and the cost
 * model: every worked example of docs/pricing.md computes the same number
 * here, plus the loader's refusals (unknown key, missing tier, negative
 * price, a tier's limits) and tier_limits values the gateway relies on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ledger/pricing.h"
#include "util/error.h"
#include "util/fsutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#ifndef FMUGW_PRICING_JSON
#define FMUGW_PRICING_JSON "pricing.json"
#endif

static pricing *P;

static const char *pricing_path(char *buf, size_t size)
{
    const char *src = getenv("FMUGW_SOURCE_DIR");
    if (src && src[0]) {
        snprintf(buf, size, "%s/pricing.json", src);
        return buf;
    }
    return FMUGW_PRICING_JSON;
}

static int setup(void **state)
{
    char buf[1024];
    (void)state;
    if (pricing_load(&P, pricing_path(buf, sizeof buf)) != 0) {
        fprintf(stderr, "pricing_load: %s\n", fmugw_error_last());
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pricing_free(P);
    return 0;
}

static void test_tiers(void **state)
{
    (void)state;
    const pricing_tier *f = pricing_tier_get(P, "free"), *p = pricing_tier_get(P, "pro"),
                       *e = pricing_tier_get(P, "enterprise");
    assert_non_null(f);
    assert_non_null(p);
    assert_non_null(e);
    assert_null(pricing_tier_get(P, "gold"));
    /* The seed's tiers as they stand. */
    assert_int_equal(f->price_usd_micro, 0);
    assert_int_equal(f->monthly_credits, 1000 * 1000);
    assert_int_equal(f->overage_usd_micro_per_credit, -1); /* hard limit: 402 */
    assert_int_equal(f->list_overage_usd_micro_per_credit, 50000);
    assert_int_equal(p->price_usd_micro, 249 * 1000000LL);
    assert_int_equal(p->monthly_credits, 150000 * 1000LL);
    assert_int_equal(p->overage_usd_micro_per_credit, 15000);
    assert_int_equal(e->price_usd_micro, -1); /* custom */
    assert_int_equal(e->monthly_credits, 1000000 * 1000LL);
    assert_int_equal(e->overage_usd_micro_per_credit, 10000);
    /* Limits the gateway reads through tier_limits_of(). */
    assert_true(f->rate_per_s == 5.0 && f->burst == 20.0);
    assert_int_equal(f->max_fmu_bytes, 64ull << 20);
    assert_int_equal(p->max_fmu_bytes, 1ull << 30);
    assert_int_equal(e->max_fmu_bytes, 4ull << 30);
    assert_int_equal(f->max_concurrent_jobs, 2);
    assert_true(f->max_job_seconds == 60.0);
    assert_int_equal(f->max_memory_bytes, 512ull << 20);
    assert_int_equal(f->retention_days, 7);
    assert_int_equal(f->max_api_keys, 5);
    assert_int_equal(p->max_api_keys, 25);
    assert_int_equal(e->max_api_keys, 100);
    assert_true(p->bulk_discount_percent == 10.0);
    assert_int_equal(p->bulk_threshold, 100000 * 1000LL);
    assert_true(e->bulk_discount_percent == 20.0);
    size_t n = 0;
    assert_non_null(pricing_tiers(P, &n));
    assert_int_equal(n, 3);
}

/* docs/pricing.md, example 1: BouncingBall 0..3 s on Free. */
static void test_example_bouncing_ball(void **state)
{
    (void)state;
    pricing_usage u = {.fmu_bytes = 60 * 1024, .stop_minus_start = 3.0, .cpu_ms = 4, .wall_ms = 6,
                       .peak_rss_kb = 6144};
    assert_int_equal(pricing_job_cost(P, pricing_tier_get(P, "free"), &u), 1003);
}

/* Example 2: one minute of CPU. */
static void test_example_cpu_minute(void **state)
{
    (void)state;
    pricing_usage u = {.fmu_bytes = 5u << 20, .stop_minus_start = 3600.0, .cpu_ms = 60000, .wall_ms = 61000,
                       .peak_rss_kb = 256 * 1024, .cycle_usage = 20000 * 1000LL};
    assert_int_equal(pricing_job_cost(P, pricing_tier_get(P, "pro"), &u), 34525);
}

/* Example 3: long, premium, bulk-discounted on Pro, paid from overage. */
static void test_example_long_premium_bulk(void **state)
{
    (void)state;
    const pricing_tier *pro = pricing_tier_get(P, "pro");
    pricing_usage u = {.fmu_bytes = 100u << 20, .stop_minus_start = 86400.0, .cpu_ms = 1800000,
                       .wall_ms = 1900000, .peak_rss_kb = 2 * 1024 * 1024, .premium = true,
                       .cycle_usage = 120000 * 1000LL};
    int64_t cost = pricing_job_cost(P, pro, &u);
    assert_int_equal(cost, 1977525);
    assert_int_equal(pricing_overage_usd_micro(pro, cost), 29662875);
    /* Below the threshold: no discount. */
    u.cycle_usage = 99999 * 1000LL;
    assert_int_equal(pricing_job_cost(P, pro, &u), 2197250);
}

/* Example 4: the reservation (worst case) of a Free job, and the 402. */
static void test_example_worst_case(void **state)
{
    (void)state;
    const pricing_tier *f = pricing_tier_get(P, "free");
    assert_int_equal(pricing_job_worst_case(P, f, 60 * 1024, 3.0, 10.0, 0, false, 0), 6500);
    /* No timeout given / above the tier's cap: the tier's 60 s and 512 MiB. */
    assert_int_equal(pricing_job_worst_case(P, f, 60 * 1024, 3.0, 0, 0, false, 0), 34000);
    assert_int_equal(pricing_job_worst_case(P, f, 60 * 1024, 3.0, 600.0, 8ull << 30, false, 0), 34000);
    /* The CPU the sandbox lets through, when more than the wall time (the
     * hard RLIMIT_CPU: 11 s for a 10 s job): 1 s more CPU at 0.5 credit/s. */
    assert_int_equal(pricing_job_worst_case_cpu(P, f, 60 * 1024, 3.0, 10.0, NAN, 0, false, 0), 6500);
    assert_int_equal(pricing_job_worst_case_cpu(P, f, 60 * 1024, 3.0, 10.0, 5.0, 0, false, 0), 6500);
    assert_int_equal(pricing_job_worst_case_cpu(P, f, 60 * 1024, 3.0, 10.0, 11.0, 0, false, 0), 7000);
    /* The actual cost never exceeds the reservation for the same limits. */
    pricing_usage u = {.fmu_bytes = 60 * 1024, .stop_minus_start = 3.0, .cpu_ms = 10000, .wall_ms = 10000,
                       .peak_rss_kb = 512 * 1024};
    assert_int_equal(pricing_job_cost(P, f, &u), 6500);
}

/* Example 5: storage; example 6: reuse; example 7: an overage bill. */
static void test_example_storage_reuse_overage(void **state)
{
    (void)state;
    assert_int_equal(pricing_storage_cost(P, 50ull << 20, 30.0), 2930);
    assert_int_equal(pricing_storage_cost(P, 1ull << 30, 1.0), 2000);
    assert_int_equal(pricing_storage_cost(P, 0, 30.0), 0);
    pricing_usage u = {.fmu_bytes = 100u << 20, .cpu_ms = 999999, .reused = true};
    assert_int_equal(pricing_job_cost(P, pricing_tier_get(P, "pro"), &u), 100);
    assert_int_equal(pricing_reuse_cost(P), 100);
    assert_int_equal(pricing_overage_usd_micro(pricing_tier_get(P, "pro"), 10000 * 1000LL), 150000000);
    /* Free's published rate prices an upgrade's cost of the same usage. */
    assert_int_equal(pricing_overage_usd_micro(pricing_tier_get(P, "free"), 100 * 1000LL), 5000000);
}

/* Size and runtime classes pick the base. */
static void test_classes(void **state)
{
    (void)state;
    const pricing_tier *f = pricing_tier_get(P, "free");
    pricing_usage u = {0};
    u.fmu_bytes = 1u << 20; /* exactly 1 MiB: still small */
    assert_int_equal(pricing_job_cost(P, f, &u), 1000);
    u.fmu_bytes = (1u << 20) + 1;
    assert_int_equal(pricing_job_cost(P, f, &u), 2000);
    u.fmu_bytes = 300u << 20;
    u.stop_minus_start = 7200;
    assert_int_equal(pricing_job_cost(P, f, &u), 25000);
    u.fmu_bytes = 0;
    u.stop_minus_start = 60.0;
    assert_int_equal(pricing_job_cost(P, f, &u), 1000);
    u.stop_minus_start = 60.001;
    assert_int_equal(pricing_job_cost(P, f, &u), 1500);
}

/* ---- the loader's refusals ---------------------------------------------- */

static int load_text(const char *text, char *err, size_t errsize)
{
    char *dir = NULL, path[600];
    pricing *p = NULL;
    if (fmugw_mkdtemp(&dir, "fmugw-test-pricing-") != 0)
        return -100;
    snprintf(path, sizeof path, "%s/p.json", dir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    int rc = pricing_load(&p, path);
    snprintf(err, errsize, "%s", fmugw_error_last());
    pricing_free(p);
    fmugw_rmtree(dir);
    free(dir);
    return rc;
}

/* The repository's file with one substitution. */
static char *repo_with(const char *from, const char *to)
{
    char buf[1024], *text = NULL;
    size_t len = 0;
    if (fmugw_read_file(&text, &len, pricing_path(buf, sizeof buf), 1 << 20) != 0)
        return NULL;
    char *at = strstr(text, from);
    if (!at) {
        free(text);
        return NULL;
    }
    char *out = malloc(len + strlen(to) + 1);
    size_t pre = (size_t)(at - text);
    memcpy(out, text, pre);
    strcpy(out + pre, to);
    strcat(out, at + strlen(from));
    free(text);
    return out;
}

static void expect_refused(const char *from, const char *to, const char *needle)
{
    char err[512];
    char *text = repo_with(from, to);
    assert_non_null(text);
    assert_int_equal(load_text(text, err, sizeof err), FMUGW_EINVALID);
    if (!strstr(err, needle))
        fail_msg("error \"%s\" does not name \"%s\"", err, needle);
    free(text);
}

static void test_load_refusals(void **state)
{
    char err[512];
    (void)state;
    expect_refused("\"monthly_credits\": 150000,", "\"monthly_credits\": 150000, \"monthly_credtis\": 1,",
                   "monthly_credtis");
    expect_refused("\"price_usd\": 249,", "\"price_usd\": -249,", "price_usd");
    expect_refused("\"name\": \"pro\"", "\"name\": \"professional\"", "tiers.pro: missing tier");
    expect_refused("\"credits_per_cpu_second\": 0.5", "\"credits_per_cpu_second\": -0.5", "credits_per_cpu_second");
    expect_refused("\"retention_days\": 30", "\"retention_days\": 0", "retention_days");
    expect_refused("\"max_api_keys\": 25,", "\"max_api_keys\": 0,", "max_api_keys");
    expect_refused("\"max_api_keys\": 25,", "", "max_api_keys: missing");
    expect_refused("\"percent\": 10,", "\"percent\": 100,", "percent");
    expect_refused("\"reuse_credits\": 0.1", "\"reuse_credits\": 0.1, \"bogus\": 1", "bogus");
    expect_refused("{ \"name\": \"xlarge\" }", "{ \"name\": \"xlarge\", \"max_mib\": 4096 }", "open-ended");
    assert_int_equal(load_text("{", err, sizeof err), FMUGW_EINVALID);
    assert_int_equal(load_text("[]", err, sizeof err), FMUGW_EINVALID);
    /* The file itself, untouched, loads (the fixture did), and comments pass. */
    char *same = repo_with("\"version\": 1,", "\"version\": 1, \"_note\": \"ignored\",");
    assert_non_null(same);
    assert_int_equal(load_text(same, err, sizeof err), 0);
    free(same);
    pricing *p = NULL;
    assert_int_not_equal(pricing_load(&p, "/nonexistent/pricing.json"), 0);
    assert_null(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiers),
        cmocka_unit_test(test_example_bouncing_ball),
        cmocka_unit_test(test_example_cpu_minute),
        cmocka_unit_test(test_example_long_premium_bulk),
        cmocka_unit_test(test_example_worst_case),
        cmocka_unit_test(test_example_storage_reuse_overage),
        cmocka_unit_test(test_classes),
        cmocka_unit_test(test_load_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
