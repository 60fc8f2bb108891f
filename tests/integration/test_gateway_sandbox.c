/*
 * test_gateway_sandbox.c - what a job's sandbox may do to the daemon's host
 * and to its own bill, through the real fmugwd and hostile FMUs
 * (fmus/hostile): a forged runner status (platform failure, or "ok" and
 * exit 0 mid-run) makes an FMU outcome, charged for the CPU it burnt, with
 * none of the FMU's text as the error; an x32 or `int 0x80` system call
 * kills the process (forbidden_syscall, not a timeout); a job's scratch
 * is capped in bytes (3000 MiB written: stopped) and inodes (300,000 files:
 * stopped), its use is metered and charged, and a setuid file made there
 * never appears on the host; a directory chain deeper than PATH_MAX (made
 * by a job, or left in the data directory by an older run) and even an
 * unremovable leftover (a mount point) do not stop the daemon from
 * restarting; /proc/self/mountinfo and /proc/self/cgroup in a job's
 * sandbox name no host path or cgroup.
 */
#include "tenant.h"

/* test buffers are sized for the paths used; truncation would fail the checks */
#pragma GCC diagnostic ignored "-Wformat-truncation"

#include <ftw.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/time.h>

#include <cmocka.h>

#include "tenant_assert.h"

static gw G;      /* the shared daemon */
static tn_cred T; /* a tenant (pro) */

/* ---- helpers ----------------------------------------------------------------- */

/* Uploads a hostile FMU (fmus/hostile/<name>.fmu) as `c`; its id in out. */
static void upload_hostile(const gw *g, const tn_cred *c, const char *name, char out[64])
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s.fmu", getenv("FMUGW_HOSTILE_DIR"), name);
    tn_upload(g, c, path, name, out);
    assert_true(out[0] != '\0');
}

/* Runs hostile FMU `name` with extra request fields `extra` (",..." or "")
 * and returns the finished job's status JSON. */
static json_t *run_hostile(const char *name, const char *extra)
{
    char id[64], body[1024];
    upload_hostile(&G, &T, name, id);
    snprintf(body, sizeof body,
             "{\"fmu_id\":\"%s\",\"stop_time\":0.3,\"output_interval\":0.1,\"reuse\":false,\"timeout_s\":20%s}", id,
             extra);
    char *job = submit_ok(&G, &T, body);
    json_t *s = wait_job(&G, &T, job, 120);
    free(job);
    return s;
}

static const char *error_class(const json_t *s)
{
    return json_string_value(json_object_get(json_object_get(s, "error"), "error_class"));
}

/* ---- setup ------------------------------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    static char *env[] = { "FMUGW_WORKERS=2", "FMUGW_THREADS=8", NULL };
    if (gw_start(&G, env) != 0)
        return -1;
    return tn_account(&G, &T, "pro");
}

static int group_teardown(void **state)
{
    (void)state;
    gw_stop(&G);
    curl_global_cleanup();
    return 0;
}

/* ---- forged status ----------------------------------------------------------- */

/* ForgePlatform burns 300 ms of CPU, writes "@status platform ..." (and the
 * status channel's and init's lines) everywhere it can, _exit(2); ForgeOk
 * burns 300 ms, writes "@status ok 4", exit(0) in its first step. */
static void test_forged_status(void **state)
{
    (void)state;
    static const char *const names[] = { "ForgePlatform", "ForgeOk" };
    for (size_t i = 0; i < 2; i++) {
        json_t *s = run_hostile(names[i], ",\"start_values\":{\"count\":300}");
        char *dump = json_dumps(s, 0);
        const char *status = json_string_value(json_object_get(s, "status"));
        const char *cls = error_class(s);
        const char *msg = json_string_value(json_object_get(json_object_get(s, "error"), "detail"));
        if (strcmp(status, "failed") || !cls || strcmp(cls, "fmu_error"))
            fail_msg("%s: expected failed / fmu_error: %s", names[i], dump);
        assert_null(strstr(dump, "FORGED")); /* none of its text anywhere in the answer */
        (void)msg;
        /* metered and charged: the CPU it burnt is on the bill */
        json_t *m = json_object_get(s, "metering");
        int64_t cpu = json_integer_value(json_object_get(m, "cpu_ms"));
        if (cpu < 250)
            fail_msg("%s: %lld ms of CPU metered for a 300 ms burn: %s", names[i], (long long)cpu, dump);
        assert_true(milli(s, "credits_charged") > 0);
        assert_null(json_object_get(s, "result"));
        free(dump);
        json_decref(s);
    }
}

/* ---- other system call ABIs ---------------------------------------------------- */

/* An x32 system call and an `int 0x80` one: the job ends forbidden_syscall
 * (the whole process killed), not timed out by its other threads. */
static void test_other_abis(void **state)
{
    (void)state;
    static const char *const names[] = { "X32Syscall", "Int80" };
    for (size_t i = 0; i < 2; i++) {
        json_t *s = run_hostile(names[i], "");
        const char *cls = error_class(s);
        if (!cls || strcmp(cls, "forbidden_syscall"))
            fail_msg("%s: expected forbidden_syscall: %s", names[i], json_dumps(s, 0));
        assert_string_equal(json_string_value(json_object_get(s, "status")), "failed");
        assert_true(milli(s, "credits_charged") > 0);
        json_decref(s);
    }
}

/* ---- scratch ------------------------------------------------------------------- */

static int setuid_seen;

static int find_setuid(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag == FTW_F && (st->st_mode & (S_ISUID | S_ISGID))) {
        fprintf(stderr, "setuid file on the host: %s (mode %o)\n", path, (unsigned)st->st_mode);
        setuid_seen++;
    }
    return 0;
}

/* Setuid or setgid files anywhere under the daemon's data directory. */
static int host_setuid_files(void)
{
    setuid_seen = 0;
    nftw(G.data_dir, find_setuid, 16, FTW_PHYS);
    return setuid_seen;
}

static void test_scratch_capped(void **state)
{
    (void)state;
    /* 3000 MiB: stopped at the byte cap; what it held is metered as memory */
    json_t *s = run_hostile("FillScratch", ",\"start_values\":{\"count\":3000}");
    char *dump = json_dumps(s, 0);
    const char *cls = error_class(s);
    if (!cls || strcmp(cls, "fmu_error") || !strstr(dump, "stopped after"))
        fail_msg("FillScratch: expected fmu_error, stopped: %s", dump);
    json_t *m = json_object_get(s, "metering");
    int64_t kb = json_integer_value(json_object_get(m, "peak_rss_kb"));
    if (kb < 200 * 1024) /* it filled a 256 MiB scratch */
        fail_msg("FillScratch: peak memory %lld KiB does not count its scratch: %s", (long long)kb, dump);
    assert_true(milli(s, "credits_charged") > 0);
    free(dump);
    json_decref(s);

    /* 300,000 files: stopped at the inode cap */
    s = run_hostile("ManyFiles", ",\"start_values\":{\"count\":300000}");
    dump = json_dumps(s, 0);
    cls = error_class(s);
    if (!cls || strcmp(cls, "fmu_error") || !strstr(dump, "stopped after"))
        fail_msg("ManyFiles: expected fmu_error, stopped: %s", dump);
    free(dump);
    json_decref(s);

    /* a setuid file: never on the host, while the job holds it or after */
    char id[64], body[1024];
    upload_hostile(&G, &T, "SetuidFile", id);
    snprintf(body, sizeof body,
             "{\"fmu_id\":\"%s\",\"stop_time\":0.3,\"output_interval\":0.1,\"reuse\":false,\"timeout_s\":20,"
             "\"start_values\":{\"count\":3,\"target\":\"gw\"}}", id);
    char *job = submit_ok(&G, &T, body);
    char path[256];
    snprintf(path, sizeof path, "/fmu/status/%s", job);
    int seen = 0, looks = 0;
    for (;;) {
        seen += host_setuid_files();
        looks++;
        json_t *j = get_json(&G, &T, path, 200);
        const char *st = json_string_value(json_object_get(j, "status"));
        bool done = st && strcmp(st, "queued") && strcmp(st, "running");
        json_decref(j);
        if (done)
            break;
        usleep(100000);
    }
    seen += host_setuid_files();
    s = wait_job(&G, &T, job, 60);
    dump = json_dumps(s, 0);
    cls = error_class(s);
    if (!cls || strcmp(cls, "fmu_error") || !strstr(dump, "nosuid, noexec"))
        fail_msg("SetuidFile: expected fmu_error, nosuid, noexec: %s", dump);
    assert_int_equal(seen, 0);
    assert_true(looks > 1); /* it was looked for while the job held the file */
    free(dump);
    free(job);
    json_decref(s);
}

/* ---- what /proc shows ------------------------------------------------------------ */

/* ReadMounts fails ("no host path") unless it finds a host path in
 * mountinfo or a host cgroup; then it finishes with the lines as loot. */
static void test_proc_views(void **state)
{
    (void)state;
    json_t *s = run_hostile("ReadMounts", "");
    char *dump = json_dumps(s, 0);
    const char *cls = error_class(s);
    if (!cls || strcmp(cls, "fmu_error") || !strstr(dump, "no host path"))
        fail_msg("ReadMounts: expected fmu_error, no host path: %s", dump);
    assert_null(strstr(dump, G.data_dir));
    free(dump);
    json_decref(s);
}

/* ---- leftovers and restart ------------------------------------------------------- */

/* A chain of `depth` directories "d" below `dir` (made relative to fds). */
static void plant_chain(const char *dir, int depth)
{
    int cur = open(dir, O_RDONLY | O_DIRECTORY);
    assert_true(cur >= 0);
    for (int i = 0; i < depth; i++) {
        assert_int_equal(mkdirat(cur, "d", 0700), 0);
        int next = openat(cur, "d", O_RDONLY | O_DIRECTORY);
        close(cur);
        assert_true(next >= 0);
        cur = next;
    }
    close(cur);
}

/* Entries of <data> named "jobs.stale-*". */
static int stale_dirs(void)
{
    char cmd[800], out[64] = "";
    snprintf(cmd, sizeof cmd, "ls -A '%s' | grep -c '^jobs\\.stale-'", G.data_dir);
    FILE *p = popen(cmd, "r");
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    pclose(p);
    return atoi(out);
}

static void restart(void)
{
    char data[600];
    snprintf(data, sizeof data, "%s", G.data_dir);
    gw_kill(&G, SIGTERM);
    static char *env[] = { "FMUGW_WORKERS=2", "FMUGW_THREADS=8", NULL };
    if (gw_start_ex(&G, data, NULL, env) != 0) {
        char log[4096] = "";
        gw__read_file(G.stderr_path, log, sizeof log);
        fail_msg("the daemon did not restart: %s", log);
    }
    assert_int_equal(gw_token(&G, T.key, T.token, sizeof T.token), 0);
}

static void test_restart_after_leftovers(void **state)
{
    (void)state;
    /* a job leaves a chain deeper than PATH_MAX in its scratch */
    json_t *s = run_hostile("DeepChain", "");
    if (strcmp(json_string_value(json_object_get(s, "status")), "succeeded"))
        fail_msg("DeepChain: %s", json_dumps(s, 0));
    json_decref(s);
    /* an older run's leftovers in <data>/jobs: a 3000-level chain, and (as
     * root) a mount point, which no removal gets rid of */
    char old[800], busy[800];
    snprintf(old, sizeof old, "%s/jobs/old-job", G.data_dir);
    assert_int_equal(mkdir(old, 0700), 0);
    plant_chain(old, 3000);
    bool mounted = false;
    snprintf(busy, sizeof busy, "%s/jobs/busy", G.data_dir);
    if (geteuid() == 0 && mkdir(busy, 0700) == 0)
        mounted = mount("tmpfs", busy, "tmpfs", 0, "size=64k") == 0;
    restart();
    gw_response r;
    assert_int_equal(gw_request(&G, &r, "GET", "/readyz", NULL, 0, NULL), 0);
    assert_int_equal(r.status, 200);
    gw_response_free(&r);
    /* and it runs jobs */
    s = run_hostile("DeepChain", ",\"start_values\":{\"count\":10}");
    assert_string_equal(json_string_value(json_object_get(s, "status")), "succeeded");
    json_decref(s);
    if (mounted) {
        /* the old tree is aside, its mount point still in it */
        assert_true(stale_dirs() >= 1);
        char aside[900];
        snprintf(aside, sizeof aside, "ls -d '%s'/jobs.stale-*/busy >/dev/null 2>&1", G.data_dir);
        assert_int_equal(system(aside), 0);
        snprintf(aside, sizeof aside, "umount '%s'/jobs.stale-*/busy", G.data_dir);
        assert_int_equal(system(aside), 0);
        restart();
    }
    /* the cleaner removes what is aside, in the background: bounded wait */
    int left = stale_dirs();
    for (int i = 0; i < 300 && left > 0; i++) {
        usleep(100000);
        left = stale_dirs();
    }
    assert_int_equal(left, 0);
    struct stat st;
    assert_int_not_equal(stat(old, &st), 0);
}

int main(void)
{
    (void)gw_header;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forged_status),
        cmocka_unit_test(test_other_abis),
        cmocka_unit_test(test_scratch_capped),
        cmocka_unit_test(test_proc_views),
        cmocka_unit_test(test_restart_after_leftovers),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
