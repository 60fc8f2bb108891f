/*
 * test_gateway_models.c - hostile models and archives against the real
 * fmugwd: a modelDescription.xml with 200,000 attributes on one element is
 * rejected with the cap named; a model with thousands of variables is
 * summarised in GET /fmu/{id} and paged by GET /fmu/{id}/variables
 * (bounds, tenant isolation); validation runs in the sandbox; archives
 * whose entries each stay at the per-entry ratio threshold but inflate far
 * beyond the whole-archive ratio are rejected at upload and never reach the
 * unpacked-FMU cache. The FMUs are built here from a sample FMU with
 * libzip, replacing its modelDescription.xml or adding entries.
 */
#include "tenant.h"

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <zip.h>

#include <cmocka.h>

#include "util/crypto.h"

static gw G;
static tn_cred A, B; /* two tenants */

/* ---- helpers -------------------------------------------------------------- */

static void sha_hex(char out[65], const void *data, size_t len)
{
    uint8_t d[32];
    assert_int_equal(crypto_sha256(d, data, len), 0);
    assert_int_equal(crypto_hex_encode(out, 65, d, 32), 0);
}

static void api(const gw *g, const tn_cred *c, gw_response *r, const char *method, const char *path, const void *body,
                size_t len, const char *ct)
{
    char k[256], t[4200], cth[128];
    snprintf(k, sizeof k, "X-API-Key: %s", c->key);
    snprintf(t, sizeof t, "Authorization: Bearer %s", c->token);
    const char *hs[4] = { k, t, NULL, NULL };
    if (ct) {
        snprintf(cth, sizeof cth, "Content-Type: %s", ct);
        hs[2] = cth;
    }
    assert_int_equal(gw_request(g, r, method, path, body, len, hs), 0);
}

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* Declare + PUT: the FMU JSON after the upload (caller decrefs). */
static json_t *upload(const gw *g, const tn_cred *c, const char *name, const void *data, size_t len)
{
    char sha[65];
    sha_hex(sha, data, len);
    json_t *req = json_pack("{s:s,s:I,s:s}", "name", name, "size", (json_int_t)len, "sha256", sha);
    char *text = json_dumps(req, JSON_COMPACT);
    gw_response r;
    api(g, c, &r, "POST", "/fmu/upload", text, strlen(text), "application/json");
    if (r.status != 201)
        fprintf(stderr, "declare %s: %ld %s\n", name, r.status, r.body);
    assert_int_equal(r.status, 201);
    json_t *t = gw_json(&r);
    gw_response_free(&r);
    free(text);
    json_decref(req);
    const char *hs[] = { "Content-Type: application/octet-stream", NULL };
    assert_int_equal(gw_request(g, &r, "PUT", jstr(t, "upload_url"), data, len, hs), 0);
    if (r.status != 200)
        fprintf(stderr, "PUT %s: %ld %s\n", name, r.status, r.body);
    assert_int_equal(r.status, 200);
    json_t *fmu = gw_json(&r);
    gw_response_free(&r);
    json_decref(t);
    assert_non_null(fmu);
    return fmu;
}

static long get_json(const gw *g, const tn_cred *c, const char *path, json_t **out)
{
    gw_response r;
    api(g, c, &r, "GET", path, NULL, 0, NULL);
    long st = r.status;
    if (out)
        *out = gw_json(&r);
    gw_response_free(&r);
    return st;
}

static bool has_fatal(json_t *fmu, const char *rule)
{
    size_t k;
    json_t *r;
    json_array_foreach(json_object_get(json_object_get(fmu, "validation"), "fatal"), k, r)
        if (!strcmp(json_string_value(r), rule))
            return true;
    return false;
}

static bool problem_mentions(json_t *fmu, const char *text)
{
    size_t k;
    json_t *p;
    json_array_foreach(json_object_get(json_object_get(fmu, "validation"), "problems"), k, p)
        if (strstr(jstr(p, "message") ? jstr(p, "message") : "", text))
            return true;
    return false;
}

/* A growing string. */
typedef struct {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        assert_true(n >= 0);
        if (b->p && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap ? b->cap * 2 + (size_t)n : 4096 + (size_t)n;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
}

/* The sample Dahlquist FMU (FMI 2.0) with `md` (NULL: unchanged) as its
 * modelDescription.xml and `extra` entries of `extra_size` zero bytes
 * each, stored deflated. *len gets the size of the archive; the caller
 * frees it. */
static char *build_fmu(const char *md, size_t md_len, unsigned extra, size_t extra_size, size_t *len)
{
    char src[1024], tmp[] = "/tmp/fmugw-model-XXXXXX";
    snprintf(src, sizeof src, "%s/2.0/Dahlquist.fmu", getenv("FMUGW_FMU_DIR"));
    size_t n;
    char *orig = tn_slurp(src, &n);
    assert_non_null(orig);
    int fd = mkstemp(tmp);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, orig, n), (ssize_t)n);
    close(fd);
    free(orig);
    int err;
    zip_t *z = zip_open(tmp, 0, &err);
    assert_non_null(z);
    if (md) {
        zip_int64_t idx = zip_name_locate(z, "modelDescription.xml", 0);
        assert_true(idx >= 0);
        zip_source_t *s = zip_source_buffer(z, md, md_len, 0);
        assert_non_null(s);
        assert_int_equal(zip_file_replace(z, (zip_uint64_t)idx, s, 0), 0);
    }
    char *zeros = extra ? calloc(1, extra_size) : NULL;
    for (unsigned i = 0; i < extra; i++) {
        char name[64];
        snprintf(name, sizeof name, "resources/pad%04u.bin", i);
        zip_source_t *s = zip_source_buffer(z, zeros, extra_size, 0);
        assert_non_null(s);
        zip_int64_t idx = zip_file_add(z, name, s, 0);
        assert_true(idx >= 0);
        assert_int_equal(zip_set_file_compression(z, (zip_uint64_t)idx, ZIP_CM_DEFLATE, 9), 0);
    }
    if (zip_close(z) != 0)
        fail_msg("zip_close: %s", zip_strerror(z));
    free(zeros);
    char *data = tn_slurp(tmp, len);
    unlink(tmp);
    assert_non_null(data);
    return data;
}

/* Dahlquist's modelDescription.xml (FMI 2.0) with `n` more local Real
 * variables "pad<i>" at the end of ModelVariables (indices of the model
 * structure stay valid). */
static char *dahlquist_md_with(unsigned n, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/fmus/Dahlquist/modelDescription2.xml", getenv("FMUGW_SOURCE_DIR"));
    size_t ol;
    char *orig = tn_slurp(path, &ol);
    assert_non_null(orig);
    orig[ol] = '\0';
    char *end = strstr(orig, "</ModelVariables>");
    assert_non_null(end);
    sbuf b = { 0 };
    sb_printf(&b, "%.*s", (int)(end - orig), orig);
    for (unsigned i = 0; i < n; i++)
        sb_printf(&b, "<ScalarVariable name=\"pad%u\" valueReference=\"%u\"><Real/></ScalarVariable>\n", i,
                  100000 + i);
    sb_printf(&b, "%s", end);
    free(orig);
    *len = b.len;
    return b.p;
}

static int group_setup(void **state)
{
    (void)state;
    static char samples_env[1100];
    snprintf(samples_env, sizeof samples_env, "FMUGW_SAMPLES_DIR=%s", getenv("FMUGW_FMU_DIR"));
    char *env[] = { samples_env, NULL };
    if (gw_start(&G, env) != 0)
        return -1;
    if (tn_account(&G, &A, "free") != 0 || tn_account(&G, &B, "free") != 0)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    gw_stop(&G);
    return 0;
}

/* ---- tests ------------------------------------------------------------------ */

/* A ~1.6 MB modelDescription.xml with 200,000 attributes on one element:
 * libxml2 alone spent minutes on it. It is rejected, with the cap and the
 * line named, and the daemon answers health checks afterwards. */
static void test_attribute_flood_rejected(void **state)
{
    (void)state;
    sbuf md = { 0 };
    sb_printf(&md, "<?xml version=\"1.0\"?>\n<fmiModelDescription fmiVersion=\"2.0\" modelName=\"Dahlquist\" "
                   "guid=\"{x}\">\n<CoSimulation modelIdentifier=\"Dahlquist\"");
    for (int i = 0; i < 200000; i++)
        sb_printf(&md, " a%d=\"\"", i);
    sb_printf(&md, "/>\n<ModelVariables/>\n<ModelStructure/>\n</fmiModelDescription>\n");
    size_t len;
    char *fmu = build_fmu(md.p, md.len, 0, 0, &len);
    json_t *f = upload(&G, &A, "attrs.fmu", fmu, len);
    assert_string_equal(jstr(f, "status"), "rejected");
    assert_true(has_fatal(f, "model-description-parse"));
    if (!problem_mentions(f, "an element has more than 128 attributes"))
        fail_msg("%s", json_dumps(json_object_get(f, "validation"), 0));
    json_decref(f);
    free(fmu);
    free(md.p);
    gw_response r;
    assert_int_equal(gw_request(&G, &r, "GET", "/healthz", NULL, 0, NULL), 0);
    assert_int_equal(r.status, 200);
    gw_response_free(&r);
}

/* 2,500 extra variables: GET /fmu/{id} carries the first 1,000 and says
 * it is truncated; GET /fmu/{id}/variables pages the rest in model order,
 * refuses bad bounds (400), is 404 for another tenant. */
static void test_big_model_paged(void **state)
{
    (void)state;
    size_t ml, len;
    char *md = dahlquist_md_with(2500, &ml);
    char *fmu = build_fmu(md, ml, 0, 0, &len);
    json_t *f = upload(&G, &A, "big.fmu", fmu, len);
    if (strcmp(jstr(f, "status"), "ready") != 0)
        fail_msg("%s", json_dumps(f, 0));
    char id[128], path[256];
    snprintf(id, sizeof id, "%s", jstr(f, "id"));
    json_decref(f);

    snprintf(path, sizeof path, "/fmu/%s", id);
    assert_int_equal(get_json(&G, &A, path, &f), 200);
    json_t *s = json_object_get(f, "summary");
    json_int_t total = json_integer_value(json_object_get(json_object_get(s, "counts"), "variables"));
    assert_true(total > 2500);
    assert_int_equal(json_array_size(json_object_get(s, "variables")), 1000);
    assert_true(json_is_true(json_object_get(s, "variables_truncated")));
    json_decref(f);

    /* every variable exactly once, in order, across pages of 1,000 */
    json_int_t seen = 0, pads = 0;
    for (json_int_t off = 0;;) {
        snprintf(path, sizeof path, "/fmu/%s/variables?offset=%lld&limit=1000", id, (long long)off);
        assert_int_equal(get_json(&G, &A, path, &f), 200);
        assert_int_equal(json_integer_value(json_object_get(f, "total")), total);
        assert_int_equal(json_integer_value(json_object_get(f, "offset")), off);
        size_t k;
        json_t *v;
        json_array_foreach(json_object_get(f, "variables"), k, v)
        {
            const char *name = jstr(v, "name");
            if (!strncmp(name, "pad", 3)) {
                char want[32];
                snprintf(want, sizeof want, "pad%lld", (long long)pads++);
                assert_string_equal(name, want);
            }
            seen++;
        }
        json_t *next = json_object_get(f, "next_offset");
        if (json_is_null(next)) {
            json_decref(f);
            break;
        }
        off = json_integer_value(next);
        assert_int_equal(off, seen);
        json_decref(f);
    }
    assert_int_equal(seen, total);
    assert_int_equal(pads, 2500);

    /* the default page, a page past the end */
    snprintf(path, sizeof path, "/fmu/%s/variables", id);
    gw_response r;
    char ct[128];
    api(&G, &A, &r, "GET", path, NULL, 0, NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(gw_header(&r, "Content-Type", ct, sizeof ct));
    assert_non_null(strstr(ct, "application/json"));
    f = gw_json(&r);
    gw_response_free(&r);
    assert_int_equal(json_array_size(json_object_get(f, "variables")), 100);
    assert_int_equal(json_integer_value(json_object_get(f, "next_offset")), 100);
    json_decref(f);
    snprintf(path, sizeof path, "/fmu/%s/variables?offset=999999", id);
    assert_int_equal(get_json(&G, &A, path, &f), 200);
    assert_int_equal(json_array_size(json_object_get(f, "variables")), 0);
    assert_true(json_is_null(json_object_get(f, "next_offset")));
    json_decref(f);

    /* bounds */
    static const char *const bad[] = { "limit=1001", "limit=0", "limit=-1", "offset=-1", "offset=x", "limit=" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, "/fmu/%s/variables?%s", id, bad[i]);
        assert_int_equal(get_json(&G, &A, path, NULL), 400);
    }
    /* another tenant */
    snprintf(path, sizeof path, "/fmu/%s/variables", id);
    assert_int_equal(get_json(&G, &B, path, NULL), 404);
    snprintf(path, sizeof path, "/fmu/%s", id);
    assert_int_equal(get_json(&G, &B, path, NULL), 404);
    free(fmu);
    free(md);
}

/* A second daemon whose fmugw-validator (validation and the workers'
 * unpacking) is hostile_validator, and an account on it. */
static void start_hostile(gw *h, tn_cred *c)
{
    static char venv[1100], ienv[1100];
    snprintf(venv, sizeof venv, "FMUGW_VALIDATOR=%s", getenv("FMUGW_HOSTILE_VALIDATOR"));
    const char *d = getenv("FMUGWD");
    const char *slash = strrchr(d, '/');
    snprintf(ienv, sizeof ienv, "FMUGW_INIT=%.*s/fmugw-init", (int)(slash - d), d);
    char *env[] = { venv, ienv, NULL };
    assert_int_equal(gw_start(h, env), 0);
    assert_int_equal(tn_account(h, c, "free"), 0);
}

/* Validation runs in the sandbox, and the daemon trusts nothing of what
 * comes back: a second daemon whose validator is hostile_validator (an
 * answer flood past the cap, a malformed answer claiming "ready", a
 * duplicated key, a crash) rejects every upload with rule
 * validation-aborted, a forged "ready" beside a fatal rule is rejected,
 * and the daemon keeps serving. */
static void test_hostile_validator(void **state)
{
    (void)state;
    gw H;
    tn_cred c;
    start_hostile(&H, &c);
    static const struct {
        const char *body, *why;
    } cases[] = {
        { "FLOOD", "output_limit" },
        { "GARBAGE", "malformed" },
        { "DUPKEY", "malformed" },
        { "CRASH", "crashed" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[64];
        snprintf(body, sizeof body, "%s payload %zu", cases[i].body, i);
        json_t *f = upload(&H, &c, "hostile.fmu", body, strlen(body));
        assert_string_equal(jstr(f, "status"), "rejected");
        assert_true(has_fatal(f, "validation-aborted"));
        if (!problem_mentions(f, cases[i].why))
            fail_msg("%s: %s", cases[i].body, json_dumps(json_object_get(f, "validation"), 0));
        assert_true(json_is_null(json_object_get(f, "summary")));
        json_decref(f);
    }
    /* a well-formed answer that claims "ready" against its own fatal rule */
    json_t *f = upload(&H, &c, "forged.fmu", "FORGED", 6);
    assert_string_equal(jstr(f, "status"), "rejected");
    assert_true(has_fatal(f, "archive"));
    assert_false(json_is_true(json_object_get(json_object_get(f, "validation"), "valid")));
    json_decref(f);
    gw_response r;
    assert_int_equal(gw_request(&H, &r, "GET", "/healthz", NULL, 0, NULL), 0);
    assert_int_equal(r.status, 200);
    gw_response_free(&r);
    gw_stop(&H);
}

/* The archive: 1,000 entries of exactly 1 MiB of zeros, about
 * 1.1 MB uploaded (tests/fixtures/make_bad_fmus.c). Each entry is at the
 * per-entry threshold, the whole is 1 GiB: rejected at upload (rule
 * archive, the archive's ratio named), so no job can unpack it. */
static void test_many_entry_bomb_rejected(void **state)
{
    (void)state;
    char path[1024];
    size_t len;
    snprintf(path, sizeof path, "%s/zip_bomb_entries.fmu", getenv("FMUGW_BAD_FMU_DIR"));
    char *data = tn_slurp(path, &len);
    assert_non_null(data);
    assert_true(len < 2 << 20);
    json_t *f = upload(&G, &B, "bomb.fmu", data, len);
    assert_string_equal(jstr(f, "status"), "rejected");
    assert_true(has_fatal(f, "archive"));
    if (!problem_mentions(f, "zip bomb: the archive expands"))
        fail_msg("%s", json_dumps(json_object_get(f, "validation"), 0));
    char body[256];
    snprintf(body, sizeof body, "{\"fmu_id\":\"%s\",\"stop_time\":1}", jstr(f, "id"));
    gw_response r;
    api(&G, &B, &r, "POST", "/fmu/execute", body, strlen(body), "application/json");
    assert_true(r.status >= 400 && r.status < 500);
    gw_response_free(&r);
    json_decref(f);
    free(data);
}

/* Long-polls a job until it is finished; its status (caller decrefs). */
static json_t *wait_job(const gw *g, const tn_cred *c, const char *id)
{
    char path[256];
    snprintf(path, sizeof path, "/fmu/status/%s?wait=10", id);
    for (int i = 0; i < 30; i++) {
        json_t *j = NULL;
        assert_int_equal(get_json(g, c, path, &j), 200);
        const char *st = jstr(j, "status");
        if (st && strcmp(st, "queued") && strcmp(st, "running"))
            return j;
        json_decref(j);
    }
    fail_msg("job %s did not finish", id);
    return NULL;
}

/* Submits a job of `fmu_id`; its status once finished (caller decrefs). */
static json_t *run_job_status(const gw *g, const tn_cred *c, const char *fmu_id)
{
    char body[256];
    snprintf(body, sizeof body, "{\"fmu_id\":\"%s\",\"stop_time\":1,\"reuse\":false}", fmu_id);
    gw_response r;
    api(g, c, &r, "POST", "/fmu/execute", body, strlen(body), "application/json");
    if (r.status != 202)
        fail_msg("execute: %ld %s", r.status, r.body);
    json_t *j = gw_json(&r);
    gw_response_free(&r);
    json_t *st = wait_job(g, c, jstr(j, "job_id"));
    json_decref(j);
    return st;
}

static char *run_job(const gw *g, const tn_cred *c, const char *fmu_id)
{
    char body[256];
    snprintf(body, sizeof body, "{\"fmu_id\":\"%s\",\"stop_time\":1,\"reuse\":false}", fmu_id);
    gw_response r;
    api(g, c, &r, "POST", "/fmu/execute", body, strlen(body), "application/json");
    if (r.status != 202)
        fail_msg("execute: %ld %s", r.status, r.body);
    json_t *j = gw_json(&r);
    gw_response_free(&r);
    char *id = strdup(jstr(j, "job_id"));
    json_decref(j);
    json_t *st = wait_job(g, c, id);
    if (strcmp(jstr(st, "status"), "succeeded") != 0)
        fail_msg("job %s: %s", id, json_dumps(st, 0));
    json_decref(st);
    return id;
}

/* The ledger detail of job `job_id`'s charge (a new reference). */
static json_t *charge_detail(const gw *g, const tn_cred *c, const char *job_id)
{
    json_t *l = NULL;
    assert_int_equal(get_json(g, c, "/account/ledger?limit=100", &l), 200);
    size_t k;
    json_t *it, *found = NULL;
    json_array_foreach(json_object_get(l, "items"), k, it)
    {
        json_t *d = json_object_get(it, "detail");
        if (jstr(it, "job_id") && !strcmp(jstr(it, "job_id"), job_id) && json_object_get(d, "unpack_cpu_ms"))
            found = json_incref(d);
    }
    json_decref(l);
    if (!found)
        fail_msg("no charge with unpack_cpu_ms for job %s", job_id);
    return found;
}

/* Unpacking is metered: the job that unpacks an FMU into the cache is
 * charged for the CPU time of the unpacking (unpack_cpu_ms, included in
 * its cpu_ms); the next job of the same FMU finds it unpacked and is not. */
static void test_unpack_metered(void **state)
{
    (void)state;
    size_t ml, len;
    char *md = dahlquist_md_with(3, &ml);
    char *fmu = build_fmu(md, ml, 0, 0, &len);
    json_t *f = upload(&G, &B, "metered.fmu", fmu, len);
    assert_string_equal(jstr(f, "status"), "ready");
    char *first = run_job(&G, &B, jstr(f, "id"));
    char *second = run_job(&G, &B, jstr(f, "id"));
    json_t *d1 = charge_detail(&G, &B, first), *d2 = charge_detail(&G, &B, second);
    json_int_t u1 = json_integer_value(json_object_get(d1, "unpack_cpu_ms"));
    assert_true(u1 >= 1);
    assert_true(json_integer_value(json_object_get(d1, "cpu_ms")) >= u1);
    assert_int_equal(json_integer_value(json_object_get(d2, "unpack_cpu_ms")), 0);
    json_decref(d1);
    json_decref(d2);
    free(first);
    free(second);
    json_decref(f);
    free(fmu);
    free(md);
}

static int suid_files, suid_tidied, links;
static int scan_visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag == FTW_SL)
        links++;
    else if (S_ISREG(st->st_mode) && (st->st_mode & (S_ISUID | S_ISGID)))
        suid_files++;
    else if (S_ISREG(st->st_mode) && !strcmp(path + strlen(path) - 5, "/suid"))
        suid_tidied++;
    return 0;
}

static void scan(const char *dir)
{
    suid_files = suid_tidied = links = 0;
    assert_int_equal(nftw(dir, scan_visit, 16, FTW_PHYS), 0);
}

/* Jobs unpack FMUs in the sandbox (fmugw-validator --unpack), and the
 * worker checks what comes out: with a compromised unpacker
 * (hostile_validator), a set-uid file is tidied (the bit cleared: no
 * set-uid file appears on the host) and a symbolic link makes the job fail
 * as a platform error, with nothing left in the cache. */
static void test_hostile_unpacker(void **state)
{
    (void)state;
    /* the summary of a real model, for the hostile validator to answer */
    json_t *f = NULL;
    size_t len;
    char *fmu = build_fmu(NULL, 0, 0, 0, &len);
    json_t *real = upload(&G, &A, "real.fmu", fmu, len);
    char path[256];
    snprintf(path, sizeof path, "/fmu/%s", jstr(real, "id"));
    assert_int_equal(get_json(&G, &A, path, &f), 200);
    char *summary = json_dumps(json_object_get(f, "summary"), JSON_COMPACT);
    json_decref(f);
    json_decref(real);
    free(fmu);

    gw H;
    tn_cred c;
    start_hostile(&H, &c);
    char *body = NULL;
    assert_true(asprintf(&body, "READY-SUID\n%s", summary) > 0);
    f = upload(&H, &c, "suid.fmu", body, strlen(body));
    assert_string_equal(jstr(f, "status"), "ready");
    json_t *st = run_job_status(&H, &c, jstr(f, "id"));
    assert_string_not_equal(jstr(st, "status"), "succeeded");
    json_decref(st);
    json_decref(f);
    free(body);
    scan(H.data_dir);
    assert_int_equal(suid_files, 0);
    assert_int_equal(suid_tidied, 1); /* unpacked, cached, without its set-uid bit */

    assert_true(asprintf(&body, "READY-LINK\n%s", summary) > 0);
    f = upload(&H, &c, "link.fmu", body, strlen(body));
    assert_string_equal(jstr(f, "status"), "ready");
    st = run_job_status(&H, &c, jstr(f, "id"));
    assert_string_equal(jstr(st, "status"), "failed");
    char *text = json_dumps(st, 0);
    if (!strstr(text, "platform_error") || !strstr(text, "holds a link or a special file"))
        fail_msg("%s", text);
    free(text);
    json_decref(st);
    json_decref(f);
    free(body);
    scan(H.data_dir);
    assert_int_equal(suid_files, 0);
    assert_int_equal(links, 0);
    assert_int_equal(suid_tidied, 1); /* only the first FMU's entry is cached */
    gw_stop(&H);
    free(summary);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attribute_flood_rejected),
        cmocka_unit_test(test_big_model_paged),
        cmocka_unit_test(test_hostile_validator),
        cmocka_unit_test(test_many_entry_bomb_rejected),
        cmocka_unit_test(test_unpack_metered),
        cmocka_unit_test(test_hostile_unpacker),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
