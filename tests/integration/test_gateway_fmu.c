/*
 * test_gateway_fmu.c - the FMU registry against the real fmugwd: declared
 * upload + signed PUT, the one-request upload, checksum and size checks,
 * expired and tampered URLs, malformed FMUs rejected with the rule named,
 * the abuse lock after repeated rejections, tenant isolation on every route
 * (404), the public samples (visible, not downloadable), the download round
 * trip, encryption at rest, and kill -9 in the middle of an upload.
 */
#include "tenant.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <ftw.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "auth/signed_url.h"
#include "util/crypto.h"

static gw G;      /* the shared daemon */
static tn_cred A; /* the admin account (first start) */
static tn_cred B; /* a second tenant */

/* ---- helpers -------------------------------------------------------------- */

static char *sample_path(const char *ver, const char *name)
{
    static char buf[8][1024];
    static int i;
    char *p = buf[i++ % 8];
    snprintf(p, 1024, "%s/%s/%s.fmu", getenv("FMUGW_FMU_DIR"), ver, name);
    return p;
}

static void sha_hex(char out[65], const void *data, size_t len)
{
    uint8_t d[32];
    assert_int_equal(crypto_sha256(d, data, len), 0);
    assert_int_equal(crypto_hex_encode(out, 65, d, 32), 0);
}

static int get_token(const gw *g, tn_cred *c)
{
    return gw_token(g, c->key, c->token, sizeof c->token);
}

/* `fmugwd admin --data-dir D ARGS`: its exit status (0 = success). */
static int admin_run(const gw *g, const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' admin --data-dir '%s' %s >/dev/null", getenv("FMUGWD"), g->data_dir, args);
    return system(cmd);
}

/* An authenticated request as `c` (ct: an extra Content-Type or NULL). */
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

/* Declares an upload; returns the parsed answer (caller decrefs). */
static json_t *declare(const gw *g, const tn_cred *c, const char *name, long long size, const char *sha, long *status)
{
    json_t *req = json_pack("{s:s,s:I,s:s}", "name", name, "size", (json_int_t)size, "sha256", sha);
    char *text = json_dumps(req, JSON_COMPACT);
    gw_response r;
    api(g, c, &r, "POST", "/fmu/upload", text, strlen(text), "application/json");
    *status = r.status;
    json_t *j = gw_json(&r);
    if (r.status >= 300)
        fprintf(stderr, "declare %s: %ld %s\n", name, r.status, r.body);
    gw_response_free(&r);
    free(text);
    json_decref(req);
    return j;
}

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* PUT to a (relative) signed URL. */
static long put_url(const gw *g, const char *url, const void *body, size_t len, json_t **out)
{
    gw_response r;
    const char *hs[] = { "Content-Type: application/octet-stream", NULL };
    assert_int_equal(gw_request(g, &r, "PUT", url, body, len, hs), 0);
    long st = r.status;
    if (out)
        *out = gw_json(&r);
    gw_response_free(&r);
    return st;
}

/* Declare + PUT: the FMU JSON after the upload (caller decrefs). */
static json_t *upload(const gw *g, const tn_cred *c, const char *name, const void *data, size_t len, long *put_status)
{
    char sha[65];
    long st;
    sha_hex(sha, data, len);
    json_t *t = declare(g, c, name, (long long)len, sha, &st);
    assert_int_equal(st, 201);
    json_t *fmu = NULL;
    *put_status = put_url(g, jstr(t, "upload_url"), data, len, &fmu);
    json_decref(t);
    return fmu;
}

/* GET /fmu/{id} as c: status, and the JSON in *out. */
static long get_fmu(const gw *g, const tn_cred *c, const char *id, json_t **out)
{
    char path[256];
    gw_response r;
    snprintf(path, sizeof path, "/fmu/%s", id);
    api(g, c, &r, "GET", path, NULL, 0, NULL);
    long st = r.status;
    if (out)
        *out = gw_json(&r);
    gw_response_free(&r);
    return st;
}

static bool problem_type_is(const gw_response *r, const char *slug)
{
    json_t *j = gw_json(r);
    char want[256];
    snprintf(want, sizeof want, "https://fmu-gateway.dev/problems/%s", slug);
    bool ok = j && jstr(j, "type") && !strcmp(jstr(j, "type"), want);
    json_decref(j);
    return ok;
}

/* Blob files under <data>/blobs (temporaries excluded). */
static int blob_count_n;
static char blob_found_plain[1024];
static int blob_visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag != FTW_F || strstr(path, "/blobs/tmp/"))
        return 0;
    blob_count_n++;
    size_t len;
    char *data = tn_slurp(path, &len);
    if (data && st->st_size > 0) {
        if (len < 8 || memcmp(data, "FMUGWENC", 8) != 0 || memmem(data, len, "modelDescription", 16))
            snprintf(blob_found_plain, sizeof blob_found_plain, "%s", path);
    }
    free(data);
    return 0;
}

static int count_blobs(const gw *g)
{
    char dir[700];
    snprintf(dir, sizeof dir, "%s/blobs", g->data_dir);
    blob_count_n = 0;
    blob_found_plain[0] = '\0';
    nftw(dir, blob_visit, 16, FTW_PHYS);
    return blob_count_n;
}

static int count_dir(const char *path)
{
    DIR *d = opendir(path);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static int raw_connect(const gw *g)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)g->port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        return -1;
    return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        c += w;
        n -= (size_t)w;
    }
}

/* Reads the status code of a raw HTTP answer (0 if none). */
static int read_status(int fd)
{
    char buf[4096];
    size_t n = 0;
    struct timeval tv = { 10, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (n < sizeof buf - 1) {
        ssize_t r = recv(fd, buf + n, sizeof buf - 1 - n, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
        buf[n] = '\0';
        if (strstr(buf, "\r\n"))
            break;
    }
    buf[n] = '\0';
    int status = 0;
    sscanf(buf, "HTTP/1.%*d %d", &status);
    return status;
}

/* ---- fixtures ------------------------------------------------------------ */

static char samples_env[1100];

static int start_daemon(gw *g, const char *data_dir, const char *extra_env)
{
    snprintf(samples_env, sizeof samples_env, "FMUGW_SAMPLES_DIR=%s", getenv("FMUGW_FMU_DIR"));
    char *env[] = { samples_env, (char *)extra_env, NULL };
    return gw_start_ex(g, data_dir, NULL, env);
}

static int group_setup(void **state)
{
    (void)state;
    if (start_daemon(&G, NULL, NULL) != 0 || !G.admin_key[0])
        return -1;
    if (tn_admin_cred(&G, &A) != 0 || tn_account(&G, &B, "free") != 0)
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

static void test_upload_happy_path_and_download(void **state)
{
    (void)state;
    size_t len;
    char *data = tn_slurp(sample_path("3.0", "BouncingBall"), &len), sha[65];
    assert_non_null(data);
    sha_hex(sha, data, len);
    assert_non_null(memmem(data, len, "modelDescription", 16)); /* the control for the at-rest check */

    long st;
    json_t *t = declare(&G, &A, "bouncing.fmu", (long long)len, sha, &st);
    assert_int_equal(st, 201);
    const char *id = jstr(t, "fmu_id"), *url = jstr(t, "upload_url");
    assert_non_null(id);
    assert_non_null(url);
    assert_non_null(jstr(t, "expires_at"));
    assert_non_null(strstr(url, "/uploads/"));
    assert_non_null(strstr(url, "sig="));
    char fid[128];
    snprintf(fid, sizeof fid, "%s", id);

    json_t *f;
    assert_int_equal(get_fmu(&G, &A, fid, &f), 200);
    assert_string_equal(jstr(f, "status"), "awaiting_upload");
    json_decref(f);

    json_t *put = NULL;
    assert_int_equal(put_url(&G, url, data, len, &put), 200);
    assert_string_equal(jstr(put, "status"), "ready");
    json_decref(put);
    /* the URL is spent: the FMU is no longer awaiting an upload */
    assert_int_equal(put_url(&G, url, data, len, NULL), 409);
    json_decref(t);

    assert_int_equal(get_fmu(&G, &A, fid, &f), 200);
    assert_string_equal(jstr(f, "status"), "ready");
    assert_string_equal(jstr(f, "sha256"), sha);
    assert_int_equal(json_integer_value(json_object_get(f, "size")), (json_int_t)len);
    assert_false(json_is_true(json_object_get(f, "public")));
    json_t *sum = json_object_get(f, "summary");
    assert_string_equal(jstr(sum, "model_name"), "BouncingBall");
    assert_string_equal(jstr(sum, "fmi_version"), "3.0");
    assert_non_null(jstr(sum, "instantiation_token"));
    assert_true(json_array_size(json_object_get(sum, "variables")) >= 3);
    assert_true(json_array_size(json_object_get(sum, "platforms")) >= 1);
    assert_true(json_array_size(json_object_get(sum, "interfaces")) >= 1);
    assert_non_null(json_object_get(json_object_get(sum, "default_experiment"), "stop_time"));
    json_t *v0 = json_array_get(json_object_get(sum, "variables"), 0);
    assert_non_null(jstr(v0, "name"));
    assert_non_null(jstr(v0, "causality"));
    json_t *val = json_object_get(f, "validation");
    assert_true(json_is_true(json_object_get(val, "valid")));
    assert_int_equal(json_array_size(json_object_get(val, "fatal")), 0);
    json_decref(f);

    /* declaring the same bytes again: the existing FMU, no upload */
    t = declare(&G, &A, "again.fmu", (long long)len, sha, &st);
    assert_int_equal(st, 200);
    assert_true(json_is_true(json_object_get(t, "existing")));
    assert_string_equal(jstr(t, "fmu_id"), fid);
    json_decref(t);

    /* the list has it and the public samples */
    gw_response r;
    api(&G, &A, &r, "GET", "/fmu?limit=200", NULL, 0, NULL);
    assert_int_equal(r.status, 200);
    json_t *l = gw_json(&r);
    gw_response_free(&r);
    size_t i, n_public = 0;
    bool mine = false;
    json_t *it;
    json_array_foreach(json_object_get(l, "items"), i, it)
    {
        n_public += json_is_true(json_object_get(it, "public"));
        mine |= !strcmp(jstr(it, "id"), fid);
    }
    assert_true(mine);
    char d2[1024], d3[1024];
    snprintf(d2, sizeof d2, "%s/2.0", getenv("FMUGW_FMU_DIR"));
    snprintf(d3, sizeof d3, "%s/3.0", getenv("FMUGW_FMU_DIR"));
    assert_int_equal(n_public, (size_t)(count_dir(d2) + count_dir(d3)));
    json_decref(l);

    /* pagination: limit 1 gives a cursor that leads to another item */
    api(&G, &A, &r, "GET", "/fmu?limit=1", NULL, 0, NULL);
    assert_int_equal(r.status, 200);
    l = gw_json(&r);
    gw_response_free(&r);
    assert_int_equal(json_array_size(json_object_get(l, "items")), 1);
    const char *cur = jstr(l, "next_cursor");
    assert_non_null(cur);
    char p2[512], first[128];
    snprintf(first, sizeof first, "%s", jstr(json_array_get(json_object_get(l, "items"), 0), "id"));
    char *esc = curl_easy_escape(NULL, cur, 0);
    snprintf(p2, sizeof p2, "/fmu?limit=1&cursor=%s", esc);
    curl_free(esc);
    json_decref(l);
    api(&G, &A, &r, "GET", p2, NULL, 0, NULL);
    assert_int_equal(r.status, 200);
    l = gw_json(&r);
    gw_response_free(&r);
    assert_string_not_equal(jstr(json_array_get(json_object_get(l, "items"), 0), "id"), first);
    json_decref(l);
    api(&G, &A, &r, "GET", "/fmu?limit=0", NULL, 0, NULL);
    assert_int_equal(r.status, 400);
    gw_response_free(&r);

    /* download round trip: identical bytes */
    char path[256];
    snprintf(path, sizeof path, "/fmu/%s/download", fid);
    api(&G, &A, &r, "GET", path, NULL, 0, NULL);
    assert_int_equal(r.status, 200);
    json_t *d = gw_json(&r);
    gw_response_free(&r);
    const char *durl = jstr(d, "download_url");
    assert_non_null(durl);
    assert_non_null(jstr(d, "expires_at"));
    assert_int_equal(gw_request(&G, &r, "GET", durl, NULL, 0, NULL), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, len);
    assert_memory_equal(r.body, data, len);
    char hb[512];
    assert_non_null(gw_header(&r, "Content-Type", hb, sizeof hb));
    assert_string_equal(hb, "application/octet-stream");
    assert_non_null(gw_header(&r, "Content-Disposition", hb, sizeof hb));
    assert_non_null(strstr(hb, "bouncing.fmu"));
    gw_response_free(&r);
    /* the download URL cannot be used to upload (the method is signed) */
    char up[2048];
    assert_non_null(strchr(durl, '?'));
    snprintf(up, sizeof up, "/uploads/%s%s", fid, strchr(durl, '?'));
    assert_int_equal(put_url(&G, up, data, len, NULL), 403);
    json_decref(d);

    /* at rest: every blob is sealed, none shows the FMU's text */
    assert_true(count_blobs(&G) >= 1);
    assert_string_equal(blob_found_plain, "");

    /* the one-request path */
    size_t len2;
    char *data2 = tn_slurp(sample_path("2.0", "Dahlquist"), &len2), p3[128];
    api(&G, &A, &r, "POST", "/fmu?name=dahlquist.fmu", data2, len2, "application/octet-stream");
    assert_int_equal(r.status, 201);
    f = gw_json(&r);
    gw_response_free(&r);
    assert_string_equal(jstr(f, "status"), "ready");
    assert_string_equal(jstr(f, "name"), "dahlquist.fmu");
    assert_string_equal(jstr(json_object_get(f, "summary"), "fmi_version"), "2.0");
    snprintf(p3, sizeof p3, "%s", jstr(f, "id"));
    json_decref(f);
    api(&G, &A, &r, "POST", "/fmu?name=x.fmu", data2, len2, "text/plain");
    assert_int_equal(r.status, 415);
    gw_response_free(&r);

    /* delete (owner): gone on every route afterwards */
    snprintf(path, sizeof path, "/fmu/%s", p3);
    api(&G, &A, &r, "DELETE", path, NULL, 0, NULL);
    assert_int_equal(r.status, 204);
    gw_response_free(&r);
    assert_int_equal(get_fmu(&G, &A, p3, NULL), 404);
    api(&G, &A, &r, "DELETE", path, NULL, 0, NULL);
    assert_int_equal(r.status, 404);
    gw_response_free(&r);
    free(data);
    free(data2);
}

static void test_wrong_checksum(void **state)
{
    (void)state;
    size_t len;
    char *data = tn_slurp(sample_path("3.0", "Stair"), &len), sha[65];
    char *other = malloc(len);
    memcpy(other, data, len);
    other[len / 2] ^= 0x55;
    sha_hex(sha, other, len); /* declare the checksum of other bytes */
    long st;
    json_t *t = declare(&G, &B, "stair.fmu", (long long)len, sha, &st);
    assert_int_equal(st, 201);
    char id[128];
    snprintf(id, sizeof id, "%s", jstr(t, "fmu_id"));
    json_t *p = NULL;
    assert_int_equal(put_url(&G, jstr(t, "upload_url"), data, len, &p), 422);
    assert_non_null(strstr(jstr(p, "detail"), "checksum"));
    assert_string_equal(jstr(p, "type"), "https://fmu-gateway.dev/problems/unprocessable");
    json_decref(p);
    json_t *f;
    assert_int_equal(get_fmu(&G, &B, id, &f), 200);
    assert_string_equal(jstr(f, "status"), "awaiting_upload");
    json_decref(f);
    /* nothing left in tmp/ */
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s/tmp", G.data_dir);
    assert_int_equal(count_dir(tmp), 0);
    /* the same URL takes the right bytes afterwards */
    assert_int_equal(put_url(&G, jstr(t, "upload_url"), other, len, &p), 200);
    assert_string_not_equal(jstr(p, "status"), "awaiting_upload");
    json_decref(p);
    json_decref(t);
    free(data);
    free(other);
}

static void test_tampered_url(void **state)
{
    (void)state;
    size_t len;
    char *data = tn_slurp(sample_path("3.0", "Feedthrough"), &len), sha[65];
    sha_hex(sha, data, len);
    long st;
    json_t *t = declare(&G, &A, "ft.fmu", (long long)len, sha, &st);
    assert_int_equal(st, 201);
    char url[2048], id[128];
    snprintf(url, sizeof url, "%s", jstr(t, "upload_url"));
    snprintf(id, sizeof id, "%s", jstr(t, "fmu_id"));
    json_decref(t);

    /* a changed signature character */
    char bad[2048];
    snprintf(bad, sizeof bad, "%s", url);
    char *sig = strstr(bad, "sig=") + 4;
    *sig = *sig == 'A' ? 'B' : 'A';
    json_t *p = NULL;
    assert_int_equal(put_url(&G, bad, data, len, &p), 403);
    assert_string_equal(jstr(p, "type"), "https://fmu-gateway.dev/problems/forbidden");
    assert_null(strstr(jstr(p, "detail"), "expired"));
    json_decref(p);
    /* a pushed expiry */
    snprintf(bad, sizeof bad, "%s", url);
    char *ex = strstr(bad, "expires=") + 8;
    *ex = *ex == '9' ? '8' : (char)(*ex + 1);
    assert_int_equal(put_url(&G, bad, data, len, NULL), 403);
    /* no signature at all */
    snprintf(bad, sizeof bad, "/uploads/%s", id);
    assert_int_equal(put_url(&G, bad, data, len, NULL), 403);
    /* still awaiting: the real URL works */
    assert_int_equal(put_url(&G, url, data, len, &p), 200);
    assert_string_equal(jstr(p, "status"), "ready");
    json_decref(p);
    free(data);
}

static void test_expired_url(void **state)
{
    (void)state;
    gw g;
    tn_cred c;
    assert_int_equal(start_daemon(&g, NULL, "FMUGW_URL_TTL_S=1"), 0);
    snprintf(c.key, sizeof c.key, "%s", g.admin_key);
    assert_int_equal(get_token(&g, &c), 0);
    size_t len;
    char *data = tn_slurp(sample_path("2.0", "Stair"), &len), sha[65];
    sha_hex(sha, data, len);
    long st;
    json_t *t = declare(&g, &c, "stair2.fmu", (long long)len, sha, &st);
    assert_int_equal(st, 201);
    sleep(2);
    json_t *p = NULL;
    assert_int_equal(put_url(&g, jstr(t, "upload_url"), data, len, &p), 403);
    assert_non_null(strstr(jstr(p, "detail"), "expired"));
    json_decref(p);
    json_t *f;
    assert_int_equal(get_fmu(&g, &c, jstr(t, "fmu_id"), &f), 200);
    assert_string_equal(jstr(f, "status"), "awaiting_upload");
    json_decref(f);
    /* a new declaration is always possible */
    json_decref(t);
    t = declare(&g, &c, "stair2.fmu", (long long)len, sha, &st);
    assert_int_equal(st, 201);
    assert_int_equal(put_url(&g, jstr(t, "upload_url"), data, len, &p), 200);
    json_decref(p);
    json_decref(t);
    free(data);
    gw_stop(&g);
}

static void test_oversize(void **state)
{
    (void)state;
    char sha[65];
    sha_hex(sha, "x", 1);
    long st;
    json_t *t = declare(&G, &A, "huge.fmu", 1LL << 40, sha, &st);
    assert_int_equal(st, 413);
    json_decref(t);
    /* bad declarations */
    t = declare(&G, &A, "zero.fmu", 0, sha, &st);
    assert_int_equal(st, 400);
    json_decref(t);
    t = declare(&G, &A, "", 10, sha, &st);
    assert_int_equal(st, 400);
    json_decref(t);
    t = declare(&G, &A, "upper.fmu", 10, "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789", &st);
    assert_int_equal(st, 400);
    json_decref(t);

    /* a PUT longer than declared: Content-Length refused before the body */
    size_t len;
    char *data = tn_slurp(sample_path("3.0", "VanDerPol"), &len);
    sha_hex(sha, data, len - 100);
    t = declare(&G, &A, "short.fmu", (long long)(len - 100), sha, &st);
    assert_int_equal(st, 201);
    assert_int_equal(put_url(&G, jstr(t, "upload_url"), data, len, NULL), 413);
    /* and shorter than declared */
    assert_int_equal(put_url(&G, jstr(t, "upload_url"), data, len - 200, NULL), 400);
    /* chunked (no Content-Length): counted while streaming */
    int fd = raw_connect(&G);
    assert_true(fd >= 0);
    char head[4096];
    int n = snprintf(head, sizeof head,
                     "PUT %s HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                     "Content-Type: application/octet-stream\r\n\r\n%zx\r\n",
                     jstr(t, "upload_url"), len);
    send_all(fd, head, (size_t)n);
    send_all(fd, data, len);
    send_all(fd, "\r\n0\r\n\r\n", 7);
    assert_int_equal(read_status(fd), 413);
    close(fd);
    json_t *f;
    assert_int_equal(get_fmu(&G, &A, jstr(t, "fmu_id"), &f), 200);
    assert_string_equal(jstr(f, "status"), "awaiting_upload");
    json_decref(f);
    json_decref(t);
    free(data);
}

static void test_malformed_fmus(void **state)
{
    (void)state;
    static const struct { const char *file, *rule; } bad[] = {
        { "no_xml", "model-description-missing" }, { "broken_xml", "model-description-parse" },
        { "wrong_version", "model-description-parse" }, { "zip_slip", "archive" },
        { "absolute_path", "archive" }, { "symlink", "archive" }, { "zip_bomb", "archive" },
        { "no_binary", "binary-missing" }, { "missing_symbol", "binary-function-missing" },
    };
    tn_cred c = { 0 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (i % 4 == 0) /* a fresh tenant every 4 rejections: 5 would lock the key */
            assert_int_equal(tn_account(&G, &c, "free"), 0);
        char path[1024];
        size_t len;
        snprintf(path, sizeof path, "%s/%s.fmu", getenv("FMUGW_BAD_FMU_DIR"), bad[i].file);
        char *data = tn_slurp(path, &len);
        assert_non_null(data);
        long st;
        json_t *f = upload(&G, &c, bad[i].file, data, len, &st);
        assert_int_equal(st, 200);
        assert_string_equal(jstr(f, "status"), "rejected");
        json_t *val = json_object_get(f, "validation");
        assert_false(json_is_true(json_object_get(val, "valid")));
        bool named = false;
        size_t k;
        json_t *r;
        json_array_foreach(json_object_get(val, "fatal"), k, r) named |= !strcmp(json_string_value(r), bad[i].rule);
        if (!named)
            fprintf(stderr, "%s: %s\n", bad[i].file, json_dumps(val, 0));
        assert_true(named);
        assert_true(json_array_size(json_object_get(val, "problems")) >= 1);
        /* a rejected FMU cannot be downloaded */
        char dp[256];
        gw_response resp;
        snprintf(dp, sizeof dp, "/fmu/%s/download", jstr(f, "id"));
        api(&G, &c, &resp, "GET", dp, NULL, 0, NULL);
        assert_int_equal(resp.status, 409);
        gw_response_free(&resp);
        json_decref(f);
        free(data);
    }
}

static void test_rejections_lock_the_key(void **state)
{
    (void)state;
    tn_cred c;
    assert_int_equal(tn_account(&G, &c, "free"), 0);
    size_t len;
    char path[1024];
    snprintf(path, sizeof path, "%s/no_xml.fmu", getenv("FMUGW_BAD_FMU_DIR"));
    char *data = tn_slurp(path, &len);
    gw_response r;
    for (int i = 0; i < 5; i++) {
        api(&G, &c, &r, "POST", "/fmu?name=bad.fmu", data, len, "application/octet-stream");
        assert_int_equal(r.status, 201);
        json_t *f = gw_json(&r);
        assert_string_equal(jstr(f, "status"), "rejected");
        json_decref(f);
        gw_response_free(&r);
    }
    api(&G, &c, &r, "GET", "/fmu", NULL, 0, NULL);
    assert_int_equal(r.status, 403);
    assert_non_null(strstr(r.body, "locked"));
    gw_response_free(&r);
    free(data);
}

/* Signs a URL with the daemon's URL key, read from the data dir (what a
 * tenant could do for its own account if it knew the key). */
static char *forge(const gw *g, const char *method, const char *path, const char *account)
{
    char kp[700];
    size_t n;
    snprintf(kp, sizeof kp, "%s/secrets/url.key", g->data_dir);
    char *key = tn_slurp(kp, &n);
    assert_non_null(key);
    assert_true(n >= 32);
    char *url = NULL;
    assert_int_equal(signed_url_make(&url, (const uint8_t *)key, n, method, path, account, time(NULL) + 300), 0);
    free(key);
    return url;
}

static void test_other_tenant_is_404_everywhere(void **state)
{
    (void)state;
    size_t len;
    char *data = tn_slurp(sample_path("2.0", "VanDerPol"), &len), sha[65];
    long st;
    json_t *f = upload(&G, &A, "vdp.fmu", data, len, &st);
    assert_int_equal(st, 200);
    char ready[128];
    snprintf(ready, sizeof ready, "%s", jstr(f, "id"));
    json_decref(f);
    /* one of A's still awaiting an upload */
    size_t len2;
    char *data2 = tn_slurp(sample_path("2.0", "Resource"), &len2);
    sha_hex(sha, data2, len2);
    json_t *t = declare(&G, &A, "res.fmu", (long long)len2, sha, &st);
    assert_int_equal(st, 201);
    char waiting[128];
    snprintf(waiting, sizeof waiting, "%s", jstr(t, "fmu_id"));
    json_decref(t);

    gw_response r;
    char p[512];
    const char *ids[] = { ready, waiting };
    for (int i = 0; i < 2; i++) {
        assert_int_equal(get_fmu(&G, &B, ids[i], NULL), 404);
        snprintf(p, sizeof p, "/fmu/%s/download", ids[i]);
        api(&G, &B, &r, "GET", p, NULL, 0, NULL);
        assert_int_equal(r.status, 404);
        assert_true(problem_type_is(&r, "not-found"));
        gw_response_free(&r);
        snprintf(p, sizeof p, "/fmu/%s", ids[i]);
        api(&G, &B, &r, "DELETE", p, NULL, 0, NULL);
        assert_int_equal(r.status, 404);
        gw_response_free(&r);
    }
    /* the list of B does not show A's */
    api(&G, &B, &r, "GET", "/fmu?limit=200", NULL, 0, NULL);
    assert_int_equal(r.status, 200);
    assert_null(strstr(r.body, ready));
    assert_null(strstr(r.body, waiting));
    gw_response_free(&r);
    /* signed URLs that B can hold (its own account): 404 */
    snprintf(p, sizeof p, "/uploads/%s", waiting);
    char *u = forge(&G, "PUT", p, B.account);
    assert_int_equal(put_url(&G, u, data2, len2, NULL), 404);
    free(u);
    snprintf(p, sizeof p, "/downloads/%s", ready);
    u = forge(&G, "GET", p, B.account);
    assert_int_equal(gw_request(&G, &r, "GET", u, NULL, 0, NULL), 0);
    assert_int_equal(r.status, 404);
    gw_response_free(&r);
    free(u);
    /* B's own upload URL pointed at A's FMU: the signature does not match */
    char bsha[65];
    sha_hex(bsha, data, len);
    t = declare(&G, &B, "mine.fmu", (long long)len, bsha, &st);
    assert_int_equal(st, 201);
    const char *q = strchr(jstr(t, "upload_url"), '?');
    snprintf(p, sizeof p, "/uploads/%s%s", waiting, q);
    assert_int_equal(put_url(&G, p, data2, len2, NULL), 403);
    json_decref(t);
    /* A's FMUs are untouched */
    json_t *fa;
    assert_int_equal(get_fmu(&G, &A, ready, &fa), 200);
    assert_string_equal(jstr(fa, "status"), "ready");
    json_decref(fa);
    assert_int_equal(get_fmu(&G, &A, waiting, &fa), 200);
    assert_string_equal(jstr(fa, "status"), "awaiting_upload");
    json_decref(fa);
    free(data);
    free(data2);
}

/* GET of a (relative) URL without credentials: the status; the body's
 * problem detail is copied into detail (if not NULL, 512 bytes). */
static long get_url(const gw *g, const char *url, char *detail)
{
    gw_response r;
    assert_int_equal(gw_request(g, &r, "GET", url, NULL, 0, NULL), 0);
    long st = r.status;
    if (detail) {
        json_t *j = gw_json(&r);
        snprintf(detail, 512, "%s", j && jstr(j, "detail") ? jstr(j, "detail") : "");
        json_decref(j);
    }
    gw_response_free(&r);
    return st;
}

/* Each signed parameter must appear once: a second sig, account or
 * expires (libmicrohttpd hands out the first) is refused, whichever of the
 * two copies is the genuine one. */
static void test_repeated_signed_parameter(void **state)
{
    (void)state;
    tn_cred D; /* a fresh tenant: signed URL uses draw from its rate limit */
    assert_int_equal(tn_account(&G, &D, "free"), 0);
    size_t len;
    char *data = tn_slurp(sample_path("2.0", "Dahlquist"), &len);
    long st;
    json_t *f = upload(&G, &D, "dq.fmu", data, len, &st);
    assert_int_equal(st, 200);
    char p[256], url[2048], bad[2600], detail[512];
    snprintf(p, sizeof p, "/fmu/%s/download", jstr(f, "id"));
    json_decref(f);
    gw_response r;
    api(&G, &D, &r, "GET", p, NULL, 0, NULL);
    assert_int_equal(r.status, 200);
    json_t *d = gw_json(&r);
    gw_response_free(&r);
    snprintf(url, sizeof url, "%s", jstr(d, "download_url"));
    json_decref(d);
    assert_int_equal(get_url(&G, url, NULL), 200);

    const char *sig = strstr(url, "&sig=");
    assert_non_null(sig);
    /* the genuine sig first, junk second (the first wins in the library) */
    snprintf(bad, sizeof bad, "%s&sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", url);
    assert_int_equal(get_url(&G, bad, detail), 403);
    assert_non_null(strstr(detail, "sig is repeated"));
    /* junk first, the genuine one second */
    snprintf(bad, sizeof bad, "%.*s&sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%s", (int)(sig - url), url, sig);
    assert_int_equal(get_url(&G, bad, NULL), 403);
    /* the same value twice is still a repeat */
    snprintf(bad, sizeof bad, "%s%s", url, sig);
    assert_int_equal(get_url(&G, bad, NULL), 403);
    /* a second account= (another tenant's) and a second expires= */
    snprintf(bad, sizeof bad, "%s&account=%s", url, A.account);
    assert_int_equal(get_url(&G, bad, detail), 403);
    assert_non_null(strstr(detail, "account is repeated"));
    snprintf(bad, sizeof bad, "%s&expires=99999999999", url);
    assert_int_equal(get_url(&G, bad, NULL), 403);
    /* and on the upload URL */
    char sha[65];
    size_t len2;
    char *data2 = tn_slurp(sample_path("2.0", "Stair"), &len2);
    sha_hex(sha, data2, len2);
    json_t *t = declare(&G, &D, "stair.fmu", (long long)len2, sha, &st);
    assert_int_equal(st, 201);
    snprintf(bad, sizeof bad, "%s&sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", jstr(t, "upload_url"));
    assert_int_equal(put_url(&G, bad, data2, len2, NULL), 403);
    json_t *fa;
    assert_int_equal(get_fmu(&G, &D, jstr(t, "fmu_id"), &fa), 200);
    assert_string_equal(jstr(fa, "status"), "awaiting_upload");
    json_decref(fa);
    /* the URL as issued still works */
    assert_int_equal(put_url(&G, jstr(t, "upload_url"), data2, len2, NULL), 200);
    json_decref(t);
    assert_int_equal(get_url(&G, url, NULL), 200);
    free(data);
    free(data2);
}

/* Signed URLs issued before the account was locked stop working at the
 * lock (403 naming it), store nothing, and work again after an unlock
 * while they have not expired. */
static void test_locked_account_signed_urls(void **state)
{
    (void)state;
    tn_cred C;
    char email[128], args[256];
    snprintf(email, sizeof email, "lock-%d@example.com", (int)getpid());
    assert_int_equal(tn_account_email(&G, &C, "free", email), 0);
    size_t len, len2;
    char *data = tn_slurp(sample_path("2.0", "VanDerPol"), &len);
    char *data2 = tn_slurp(sample_path("2.0", "Feedthrough"), &len2);
    long st;
    json_t *f = upload(&G, &C, "vdp.fmu", data, len, &st);
    assert_int_equal(st, 200);
    char fid[128], p[256], durl[2048], uurl[2048], wid[128], sha[65], detail[512];
    snprintf(fid, sizeof fid, "%s", jstr(f, "id"));
    json_decref(f);
    snprintf(p, sizeof p, "/fmu/%s/download", fid);
    gw_response r;
    api(&G, &C, &r, "GET", p, NULL, 0, NULL);
    assert_int_equal(r.status, 200);
    json_t *d = gw_json(&r);
    gw_response_free(&r);
    snprintf(durl, sizeof durl, "%s", jstr(d, "download_url"));
    json_decref(d);
    sha_hex(sha, data2, len2);
    json_t *t = declare(&G, &C, "ft.fmu", (long long)len2, sha, &st);
    assert_int_equal(st, 201);
    snprintf(uurl, sizeof uurl, "%s", jstr(t, "upload_url"));
    snprintf(wid, sizeof wid, "%s", jstr(t, "fmu_id"));
    json_decref(t);
    assert_int_equal(get_url(&G, durl, NULL), 200);

    snprintf(args, sizeof args, "account lock --email %s", email);
    assert_int_equal(admin_run(&G, args), 0);
    int blobs = count_blobs(&G);
    assert_int_equal(get_url(&G, durl, detail), 403);
    assert_non_null(strstr(detail, "account is locked"));
    json_t *body = NULL;
    assert_int_equal(put_url(&G, uurl, data2, len2, &body), 403);
    assert_non_null(strstr(jstr(body, "detail"), "account is locked"));
    assert_string_equal(jstr(body, "type"), "https://fmu-gateway.dev/problems/forbidden");
    json_decref(body);
    assert_int_equal(count_blobs(&G), blobs);

    snprintf(args, sizeof args, "account unlock --email %s", email);
    assert_int_equal(admin_run(&G, args), 0);
    json_t *fa;
    assert_int_equal(get_fmu(&G, &C, wid, &fa), 200);
    assert_string_equal(jstr(fa, "status"), "awaiting_upload");
    json_decref(fa);
    assert_int_equal(get_url(&G, durl, NULL), 200);
    assert_int_equal(put_url(&G, uurl, data2, len2, NULL), 200);
    free(data);
    free(data2);
}

/* Signed URLs are bound to the key that asked for them: revoking that key
 * ends them at once (403 naming it, nothing stored), the key cannot be
 * stripped or swapped, and URLs of the account's other keys still work. */
static void test_revoked_key_signed_urls(void **state)
{
    (void)state;
    tn_cred K1, K2;
    assert_int_equal(tn_account(&G, &K1, "free"), 0);
    gw_response r;
    api(&G, &K1, &r, "POST", "/keys", "{\"name\":\"ci\"}", 13, "application/json");
    assert_int_equal(r.status, 201);
    json_t *k = gw_json(&r);
    gw_response_free(&r);
    memset(&K2, 0, sizeof K2);
    snprintf(K2.key, sizeof K2.key, "%s", jstr(k, "api_key"));
    snprintf(K2.account, sizeof K2.account, "%s", K1.account);
    char k2id[64];
    snprintf(k2id, sizeof k2id, "%s", jstr(k, "id"));
    json_decref(k);
    assert_int_equal(get_token(&G, &K2), 0);

    size_t len, len2;
    char *data = tn_slurp(sample_path("3.0", "BouncingBall"), &len);
    char *data2 = tn_slurp(sample_path("3.0", "VanDerPol"), &len2);
    long st;
    json_t *f = upload(&G, &K2, "bb3.fmu", data, len, &st);
    assert_int_equal(st, 200);
    char p[256], durl[2048], uurl[2048], wid[128], sha[65], detail[512], bad[2600], fid[128];
    snprintf(fid, sizeof fid, "%s", jstr(f, "id"));
    json_decref(f);
    snprintf(p, sizeof p, "/fmu/%s/download", fid);
    api(&G, &K2, &r, "GET", p, NULL, 0, NULL);
    assert_int_equal(r.status, 200);
    json_t *d = gw_json(&r);
    gw_response_free(&r);
    snprintf(durl, sizeof durl, "%s", jstr(d, "download_url"));
    json_decref(d);
    char want_key[100];
    snprintf(want_key, sizeof want_key, "&key=%s&", k2id);
    assert_non_null(strstr(durl, want_key));
    sha_hex(sha, data2, len2);
    json_t *t = declare(&G, &K2, "vdp3.fmu", (long long)len2, sha, &st);
    assert_int_equal(st, 201);
    snprintf(uurl, sizeof uurl, "%s", jstr(t, "upload_url"));
    snprintf(wid, sizeof wid, "%s", jstr(t, "fmu_id"));
    json_decref(t);
    assert_int_equal(get_url(&G, durl, NULL), 200);
    /* the key stripped, or swapped for another of the account's keys */
    const char *kp = strstr(durl, "&key=");
    const char *after = strchr(kp + 1, '&');
    snprintf(bad, sizeof bad, "%.*s%s", (int)(kp - durl), durl, after);
    assert_int_equal(get_url(&G, bad, NULL), 403);
    snprintf(bad, sizeof bad, "%.*s&key=key_0000%s", (int)(kp - durl), durl, after);
    assert_int_equal(get_url(&G, bad, NULL), 403);

    /* revoke K2 (with K1): its URLs end */
    snprintf(p, sizeof p, "/keys/%s", k2id);
    api(&G, &K1, &r, "DELETE", p, NULL, 0, NULL);
    assert_int_equal(r.status, 204);
    gw_response_free(&r);
    int blobs = count_blobs(&G);
    assert_int_equal(get_url(&G, durl, detail), 403);
    assert_non_null(strstr(detail, "has been revoked"));
    json_t *body = NULL;
    assert_int_equal(put_url(&G, uurl, data2, len2, &body), 403);
    assert_non_null(strstr(jstr(body, "detail"), "has been revoked"));
    json_decref(body);
    assert_int_equal(count_blobs(&G), blobs);
    json_t *fa;
    assert_int_equal(get_fmu(&G, &K1, wid, &fa), 200);
    assert_string_equal(jstr(fa, "status"), "awaiting_upload");
    json_decref(fa);
    /* the same FMU through a URL of K1, the account's other key */
    snprintf(p, sizeof p, "/fmu/%s/download", fid);
    api(&G, &K1, &r, "GET", p, NULL, 0, NULL);
    assert_int_equal(r.status, 200);
    d = gw_json(&r);
    gw_response_free(&r);
    assert_int_equal(get_url(&G, jstr(d, "download_url"), NULL), 200);
    json_decref(d);
    free(data);
    free(data2);
}

/* A signed URL draws from its account's rate limit: replaying one download
 * URL cannot go past the tier's burst (Free: 20). */
static void test_signed_url_rate_limited(void **state)
{
    (void)state;
    tn_cred E;
    assert_int_equal(tn_account(&G, &E, "free"), 0);
    size_t len;
    char *data = tn_slurp(sample_path("2.0", "Resource"), &len);
    long st;
    json_t *f = upload(&G, &E, "res.fmu", data, len, &st);
    assert_int_equal(st, 200);
    char p[256], url[2048], buf[64];
    snprintf(p, sizeof p, "/fmu/%s/download", jstr(f, "id"));
    json_decref(f);
    gw_response r;
    api(&G, &E, &r, "GET", p, NULL, 0, NULL);
    assert_int_equal(r.status, 200);
    json_t *d = gw_json(&r);
    gw_response_free(&r);
    snprintf(url, sizeof url, "%s", jstr(d, "download_url"));
    json_decref(d);
    int ok = 0, limited = 0;
    for (int i = 0; i < 60 && !limited; i++) {
        assert_int_equal(gw_request(&G, &r, "GET", url, NULL, 0, NULL), 0);
        if (r.status == 200)
            ok++;
        else {
            assert_int_equal(r.status, 429);
            assert_true(problem_type_is(&r, "rate-limited"));
            assert_non_null(gw_header(&r, "Retry-After", buf, sizeof buf));
            limited++;
        }
        gw_response_free(&r);
    }
    assert_int_equal(limited, 1);
    assert_true(ok < 60);
    free(data);
}

static void test_public_samples(void **state)
{
    (void)state;
    gw_response r;
    api(&G, &B, &r, "GET", "/fmu?limit=200", NULL, 0, NULL);
    assert_int_equal(r.status, 200);
    json_t *l = gw_json(&r);
    gw_response_free(&r);
    char id[128] = "";
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(l, "items"), i, it)
    {
        if (json_is_true(json_object_get(it, "public")) && !strcmp(jstr(it, "name"), "BouncingBall (FMI 3.0)"))
            snprintf(id, sizeof id, "%s", jstr(it, "id"));
    }
    json_decref(l);
    assert_string_not_equal(id, "");
    json_t *f;
    assert_int_equal(get_fmu(&G, &B, id, &f), 200); /* visible (and so runnable) */
    assert_string_equal(jstr(f, "status"), "ready");
    assert_true(json_is_true(json_object_get(f, "public")));
    assert_string_equal(jstr(json_object_get(f, "summary"), "model_name"), "BouncingBall");
    json_decref(f);
    char p[256];
    snprintf(p, sizeof p, "/fmu/%s/download", id);
    api(&G, &B, &r, "GET", p, NULL, 0, NULL);
    assert_int_equal(r.status, 404);
    gw_response_free(&r);
    snprintf(p, sizeof p, "/fmu/%s", id);
    api(&G, &B, &r, "DELETE", p, NULL, 0, NULL);
    assert_int_equal(r.status, 404);
    gw_response_free(&r);
    api(&G, &A, &r, "DELETE", p, NULL, 0, NULL); /* not even the admin's */
    assert_int_equal(r.status, 404);
    gw_response_free(&r);
    snprintf(p, sizeof p, "/downloads/%s", id);
    char *u = forge(&G, "GET", p, B.account);
    assert_int_equal(gw_request(&G, &r, "GET", u, NULL, 0, NULL), 0);
    assert_int_equal(r.status, 404);
    gw_response_free(&r);
    free(u);
}

static void test_kill9_mid_upload(void **state)
{
    (void)state;
    gw g;
    tn_cred c;
    assert_int_equal(start_daemon(&g, NULL, NULL), 0);
    snprintf(c.key, sizeof c.key, "%s", g.admin_key);
    assert_int_equal(get_token(&g, &c), 0);
    int blobs_before = count_blobs(&g);
    size_t len;
    char *data = tn_slurp(sample_path("3.0", "Resource"), &len), sha[65];
    sha_hex(sha, data, len);
    long st;
    json_t *t = declare(&g, &c, "resource.fmu", (long long)len, sha, &st);
    assert_int_equal(st, 201);
    char id[128], url[2048], tmp[700], app_tmp[700];
    snprintf(id, sizeof id, "%s", jstr(t, "fmu_id"));
    snprintf(url, sizeof url, "%s", jstr(t, "upload_url"));
    json_decref(t);

    int fd = raw_connect(&g);
    assert_true(fd >= 0);
    char head[4096];
    int n = snprintf(head, sizeof head,
                     "PUT %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %zu\r\n"
                     "Content-Type: application/octet-stream\r\n\r\n",
                     url, len);
    send_all(fd, head, (size_t)n);
    send_all(fd, data, len / 2);
    /* the sealed bytes stream into a temporary inside the blob store, which
     * becomes the blob by a rename once complete and checked */
    snprintf(tmp, sizeof tmp, "%s/blobs/tmp", g.data_dir);
    snprintf(app_tmp, sizeof app_tmp, "%s/tmp", g.data_dir);
    for (int i = 0; i < 200 && count_dir(tmp) == 0; i++)
        usleep(10000);
    assert_true(count_dir(tmp) >= 1); /* mid-upload: the partial temp file */
    usleep(100000);
    gw_kill(&g, SIGKILL);
    close(fd);

    /* the harness names its log files after the second and pid: drop the
     * old ones so that the old "listening" line is not taken for the new */
    unlink(g.stderr_path);
    unlink(g.stdout_path);
    gw g2;
    assert_int_equal(start_daemon(&g2, g.data_dir, NULL), 0);
    snprintf(g2.root, sizeof g2.root, "%s", g.root); /* gw_stop removes it */
    assert_int_equal(count_dir(tmp), 0); /* the dead upload's temporary is gone */
    assert_int_equal(count_dir(app_tmp), 0);
    assert_int_equal(count_blobs(&g2), blobs_before);
    json_t *f;
    assert_int_equal(get_fmu(&g2, &c, id, &f), 200);
    assert_string_equal(jstr(f, "status"), "awaiting_upload");
    json_decref(f);
    /* the same signed URL takes the whole upload now */
    json_t *p = NULL;
    assert_int_equal(put_url(&g2, url, data, len, &p), 200);
    assert_string_equal(jstr(p, "status"), "ready");
    json_decref(p);
    assert_int_equal(count_blobs(&g2), blobs_before + 1);
    free(data);
    gw_stop(&g2);
}

int main(void)
{
    if (!getenv("FMUGWD") || !getenv("FMUGW_FMU_DIR") || !getenv("FMUGW_BAD_FMU_DIR")) {
        fprintf(stderr, "FMUGWD, FMUGW_FMU_DIR and FMUGW_BAD_FMU_DIR must be set\n");
        return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    (void)gw_start; /* the harness's short form; this file passes extra env */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upload_happy_path_and_download),
        cmocka_unit_test(test_wrong_checksum),
        cmocka_unit_test(test_tampered_url),
        cmocka_unit_test(test_expired_url),
        cmocka_unit_test(test_oversize),
        cmocka_unit_test(test_malformed_fmus),
        cmocka_unit_test(test_rejections_lock_the_key),
        cmocka_unit_test(test_other_tenant_is_404_everywhere),
        cmocka_unit_test(test_public_samples),
        cmocka_unit_test(test_repeated_signed_parameter),
        cmocka_unit_test(test_locked_account_signed_urls),
        cmocka_unit_test(test_signed_url_rate_limited),
        cmocka_unit_test(test_revoked_key_signed_urls),
        cmocka_unit_test(test_kill9_mid_upload),
    };
    int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
    curl_global_cleanup();
    return rc;
}
