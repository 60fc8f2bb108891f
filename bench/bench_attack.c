/*
 * bench_attack.c - /healthz latency while one Free tenant does the worst it
 * can within its limits, against the same daemon idle, in one run.
 *
 *   idle     PROBES sequential GET /healthz, each on a new connection from
 *            an address of its own (as a load balancer's probe), on a
 *            daemon with its defaults;
 *   attack   the same probes while, at once:
 *              - slow headers: 64 connections (the per-address cap) from
 *                each of 20 loopback addresses trickle a header byte every
 *                0.5 s and reconnect when cut (1,280 > max_connections);
 *              - long-polls: 8 status long-polls of a queued job kept open
 *                (4 are parked, the account's limit; the rest get 429 and
 *                retry);
 *              - an auth-failure flood: requests with unknown well-formed
 *                keys and malformed ones, back to back;
 *              - the tenant's API traffic (below) from 127.0.0.1;
 *              - jobs: the tenant keeps its 2 concurrent jobs running
 *                (Dahlquist, Euler, CPU-bound) and GETs its models;
 *   Prints p50/p99/max of both, the ratio of the p99s (goal <= 2) and what
 *   the attackers got (answers by status, connections cut).
 *
 * usage: bench_attack FMUGWD FMU_DIR [PROBES]
 *   ATTACK_SKIP=jobs,longpoll,slow,flood leaves those attackers out.
 */
#pragma GCC diagnostic ignored "-Wunused-function" /* harness.h is header-only */
#include "tenant.h"

#include "auth/apikey.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#pragma GCC diagnostic ignored "-Wformat-truncation"

#define SLOW_ADDRS 20
#define SLOW_PER_ADDR 64
#define LONG_POLLS 8
#define PROBE_ADDR "127.0.0.200" /* the probes' source: not the tenant's */

static gw G;
static tn_cred T;
static char QUEUED_JOB[64], MODEL[64];
static atomic_int stop;
static atomic_long flood_by_status[6]; /* 2xx 3xx 4xx(401) 429 5xx none */
static atomic_long slow_cut, lp_parked_done, lp_429, jobs_done;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return s * n;
}

/* PROBES probes; latencies (ms) into v, sorted. Returns failures. */
static int probe(double *v, int n)
{
    int failed = 0;
    char url[128];
    snprintf(url, sizeof url, "%s/healthz", G.base_url);
    for (int i = 0; i < n; i++) {
        CURL *c = curl_easy_init();
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_INTERFACE, "host!" PROBE_ADDR); /* a load balancer's own address */
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
        double t0 = now_ms();
        long code = 0;
        if (curl_easy_perform(c) == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        v[i] = now_ms() - t0;
        if (code != 200)
            failed++;
        curl_easy_cleanup(c);
        usleep(2000);
    }
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return failed;
}

static double pct(const double *v, int n, double p)
{
    int i = (int)ceil(p * n) - 1;
    return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

/* ---- attackers -------------------------------------------------------------------- */

static int slow_connect(int addr)
{
    char src[32];
    snprintf(src, sizeof src, "127.0.1.%d", addr + 1);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = { .sin_family = AF_INET };
    inet_pton(AF_INET, src, &a.sin_addr);
    struct sockaddr_in d = { .sin_family = AF_INET, .sin_port = htons((uint16_t)G.port) };
    inet_pton(AF_INET, "127.0.0.1", &d.sin_addr);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    connect(fd, (struct sockaddr *)&d, sizeof d); /* in progress */
    return fd;
}

static void *slow_main(void *arg)
{
    (void)arg;
    enum { N = SLOW_ADDRS * SLOW_PER_ADDR };
    static int fds[N];
    static int sent[N];
    for (int i = 0; i < N; i++)
        fds[i] = -1;
    while (!atomic_load(&stop)) {
        for (int i = 0; i < N && !atomic_load(&stop); i++) {
            if (fds[i] >= 0) {
                char b[256];
                ssize_t r = recv(fds[i], b, sizeof b, MSG_DONTWAIT);
                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTCONN)) {
                    close(fds[i]);
                    fds[i] = -1;
                    atomic_fetch_add(&slow_cut, 1);
                }
            }
            if (fds[i] < 0) {
                fds[i] = slow_connect(i / SLOW_PER_ADDR);
                sent[i] = 0;
                continue;
            }
            const char *hdr = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
            if (sent[i] == 0) {
                if (send(fds[i], hdr, strlen(hdr), MSG_NOSIGNAL | MSG_DONTWAIT) > 0)
                    sent[i] = 1;
            } else {
                send(fds[i], "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
            }
        }
        usleep(500 * 1000);
    }
    for (int i = 0; i < N; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    return NULL;
}

static void *flood_main(void *arg)
{
    (void)arg;
    CURL *c = curl_easy_init();
    char url[128], key[APIKEY_LEN + 1], h[256];
    snprintf(url, sizeof url, "%s/account", G.base_url);
    for (long i = 0; !atomic_load(&stop); i++) {
        if (i % 2)
            apikey_generate(key);
        else
            snprintf(key, sizeof key, "fmugw_live_garbage%ld", i);
        snprintf(h, sizeof h, "X-API-Key: %s", key);
        struct curl_slist *hl = curl_slist_append(NULL, h);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
        long code = 0;
        if (curl_easy_perform(c) == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        int k = code == 0 ? 5 : code == 429 ? 3 : code >= 500 ? 4 : code >= 400 ? 2 : code >= 300 ? 1 : 0;
        atomic_fetch_add(&flood_by_status[k], 1);
        curl_slist_free_all(hl);
    }
    curl_easy_cleanup(c);
    return NULL;
}

static void *longpoll_main(void *arg)
{
    (void)arg;
    char path[256];
    snprintf(path, sizeof path, "/fmu/status/%s?wait=30", QUEUED_JOB);
    while (!atomic_load(&stop)) {
        gw_response r;
        if (tn_api(&G, &T, &r, "GET", path, NULL, NULL) == 0) {
            if (r.status == 429) {
                atomic_fetch_add(&lp_429, 1);
                usleep(1000 * 1000);
            } else {
                atomic_fetch_add(&lp_parked_done, 1);
            }
        }
        gw_response_free(&r);
    }
    return NULL;
}

static void *jobs_main(void *arg)
{
    (void)arg;
    char body[512], path[256];
    snprintf(body, sizeof body,
             "{\"fmu_id\":\"%s\",\"stop_time\":10,\"interface\":\"me\",\"solver\":\"euler\",\"step_size\":1e-5,"
             "\"output_interval\":1,\"reuse\":false,\"timeout_s\":20}",
             MODEL);
    snprintf(path, sizeof path, "/fmu/%s", MODEL);
    while (!atomic_load(&stop)) {
        char *id = tn_submit_ok(&G, &T, body);
        if (id) {
            json_t *j = tn_wait_job(&G, &T, id, 60);
            json_decref(j);
            atomic_fetch_add(&jobs_done, 1);
            free(id);
        } else {
            usleep(500 * 1000);
        }
        json_decref(tn_get_json(&G, &T, path, 200));
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_attack FMUGWD FMU_DIR [PROBES]\n");
        return 2;
    }
    setenv("FMUGWD", argv[1], 1);
    int n = argc > 3 ? atoi(argv[3]) : 1000;
    if (n < 10)
        n = 10;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (gw_start(&G, NULL) != 0 || tn_account(&G, &T, "free") != 0) {
        fprintf(stderr, "bench_attack: cannot start the gateway\n");
        return 1;
    }
    tn_sample_id(&G, &T, MODEL, "Dahlquist", "2.0");
    char body[256];
    snprintf(body, sizeof body, "{\"fmu_id\":\"%s\",\"stop_time\":1,\"reuse\":false}", MODEL);

    double *idle = calloc((size_t)n, sizeof *idle), *attack = calloc((size_t)n, sizeof *attack);
    probe(idle, n / 10); /* warm-up */
    int idle_failed = probe(idle, n);

    /* the long-polls wait on a job that stays queued: the tenant's two
     * concurrency slots are taken by its CPU jobs, submitted first */
    /* ATTACK_SKIP (e.g. "slow,flood") leaves attackers out, to see what each costs */
    const char *skip = getenv("ATTACK_SKIP") ? getenv("ATTACK_SKIP") : "";
    bool no_jobs = strstr(skip, "jobs"), no_lp = strstr(skip, "longpoll"), no_slow = strstr(skip, "slow"),
         no_flood = strstr(skip, "flood");
    pthread_t jt[2], lp[LONG_POLLS], sl, fl;
    for (int i = 0; i < 2 && !no_jobs; i++)
        pthread_create(&jt[i], NULL, jobs_main, NULL);
    usleep(500 * 1000);
    char *q = tn_submit_ok(&G, &T, body);
    snprintf(QUEUED_JOB, sizeof QUEUED_JOB, "%s", q ? q : "none");
    free(q);
    for (int i = 0; i < LONG_POLLS && !no_lp; i++)
        pthread_create(&lp[i], NULL, longpoll_main, NULL);
    if (!no_slow)
        pthread_create(&sl, NULL, slow_main, NULL);
    if (!no_flood)
        pthread_create(&fl, NULL, flood_main, NULL);
    /* the tenant's own refusals (429, 503) are the point: not printed */
    fflush(stderr);
    int saved_err = dup(2), devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (devnull >= 0)
        dup2(devnull, 2);
    sleep(3); /* every attacker in place */
    int attack_failed = probe(attack, n);
    atomic_store(&stop, 1);

    printf("healthz  idle:   p50 %.2f ms  p99 %.2f ms  max %.2f ms  (%d probes, %d failed)\n", pct(idle, n, 0.5),
           pct(idle, n, 0.99), idle[n - 1], n, idle_failed);
    printf("healthz  attack: p50 %.2f ms  p99 %.2f ms  max %.2f ms  (%d probes, %d failed)\n", pct(attack, n, 0.5),
           pct(attack, n, 0.99), attack[n - 1], n, attack_failed);
    printf("p99 attack / idle: %.2fx (goal <= 2x)\n", pct(attack, n, 0.99) / pct(idle, n, 0.99));
    printf("attackers: auth flood %ld x 401, %ld x 429, %ld other; slow connections cut %ld; "
           "long-polls %ld answered, %ld x 429; tenant jobs finished %ld\n",
           atomic_load(&flood_by_status[2]), atomic_load(&flood_by_status[3]),
           atomic_load(&flood_by_status[0]) + atomic_load(&flood_by_status[1]) + atomic_load(&flood_by_status[4]) +
               atomic_load(&flood_by_status[5]),
           atomic_load(&slow_cut), atomic_load(&lp_parked_done), atomic_load(&lp_429), atomic_load(&jobs_done));
    fflush(stdout);
    /* the cancel ends the long-polls; the jobs end within their timeout */
    char path[256];
    snprintf(path, sizeof path, "/fmu/cancel/%s", QUEUED_JOB);
    gw_response r;
    tn_api(&G, &T, &r, "POST", path, NULL, NULL);
    gw_response_free(&r);
    if (!no_slow)
        pthread_join(sl, NULL);
    if (!no_flood)
        pthread_join(fl, NULL);
    for (int i = 0; i < LONG_POLLS && !no_lp; i++)
        pthread_join(lp[i], NULL);
    for (int i = 0; i < 2 && !no_jobs; i++)
        pthread_join(jt[i], NULL);
    gw_stop(&G);
    if (saved_err >= 0)
        dup2(saved_err, 2);
    free(idle);
    free(attack);
    curl_global_cleanup();
    return idle_failed || attack_failed;
}
