/*
 * main.c - fmugwd, the FMU Gateway daemon: parses the command line, loads
 * the configuration (defaults < file < environment < flags), prepares the
 * data directory, starts the HTTP server with the operational routes, logs
 * one "listening" line with the bound address (tests read the real port
 * from it when port 0 was asked) and shuts down gracefully on SIGINT or
 * SIGTERM. It opens the gateway application (server/app.h: data
 * directory, secrets, database, first-start bootstrap, sample FMUs), puts
 * the auth + rate-limit guard in front of every route and adds the
 * resource routes (auth, /fmu, /account, jobs) and starts the job system
 * (workers for roles all|worker). `fmugwd admin ...` is admin.c.
 */
#include "http/health.h"
#include "http/log.h"
#include "http/server.h"
#include "jobs/jobs.h"
#include "server/app.h"
#include "server/app_internal.h"
#include "server/config.h"
#include "util/error.h"

#include <libgen.h>
#include <limits.h>
#include <sys/stat.h>

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FMUGWD_VERSION "0.1.0"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: fmugwd [--config FILE] [--data-dir DIR] [--listen ADDR:PORT]\n"
            "              [--role all|api|worker] [--threads N] [--log-level LEVEL]\n"
            "              [--openapi FILE]\n"
            "       fmugwd admin ...      (administration; see docs)\n"
            "       fmugwd --version | --help\n"
            "Configuration: defaults < --config file (key = value) < FMUGW_* environment < flags.\n");
}

/* Readiness: the data directory is usable and the database answers. */
static int ready_check(void *ud, char *why, size_t why_size)
{
    app *a = ud;
    db_conn *c = NULL;
    db_stmt *st = NULL;
    int rc = 0;
    if (access(a->cfg->data_dir, R_OK | W_OK | X_OK) != 0) {
        snprintf(why, why_size, "data directory not writable");
        return 1;
    }
    if (db_pool_acquire(&c, a->db) != 0 || db_query(&st, c, "SELECT 1", NULL) != 0 || db_step(st) != 1) {
        snprintf(why, why_size, "database not available");
        rc = 1;
    }
    db_finalize(st);
    if (c)
        db_pool_release(a->db, c);
    return rc;
}

/* The sample FMUs: configuration, else <dir of fmugwd>/../fmus if it is a
 * directory (the build tree), else none. *buf holds the derived path. */
static const char *samples_dir(const fmugw_config *cfg, char *buf, size_t size)
{
    char exe[PATH_MAX];
    struct stat st;
    if (cfg->samples_dir && cfg->samples_dir[0])
        return cfg->samples_dir;
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    snprintf(buf, size, "%s/../fmus", dirname(exe));
    return stat(buf, &st) == 0 && S_ISDIR(st.st_mode) ? buf : NULL;
}

static void wake_http(void *srv) { http_server_wake(srv); }

static void log_error(const char *what)
{
    json_t *f = json_object();
    json_object_set_new(f, "error", json_string(fmugw_error_last()));
    fmugw_log_json(FMUGW_LOG_ERROR, what, f);
}

int main(int argc, char **argv)
{
    enum { OPT_CONFIG = 1000, OPT_DATA_DIR, OPT_LISTEN, OPT_ROLE, OPT_THREADS, OPT_LOG_LEVEL,
           OPT_OPENAPI, OPT_VERSION, OPT_HELP };
    static const struct option longopts[] = {
        { "config", required_argument, NULL, OPT_CONFIG },
        { "data-dir", required_argument, NULL, OPT_DATA_DIR },
        { "listen", required_argument, NULL, OPT_LISTEN },
        { "role", required_argument, NULL, OPT_ROLE },
        { "threads", required_argument, NULL, OPT_THREADS },
        { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
        { "openapi", required_argument, NULL, OPT_OPENAPI },
        { "version", no_argument, NULL, OPT_VERSION },
        { "help", no_argument, NULL, OPT_HELP },
        { NULL, 0, NULL, 0 },
    };
    /* Flags are applied after the file and the environment: keep them. */
    struct { const char *key, *value; } flags[16];
    size_t nflags = 0;
    const char *config_path = getenv("FMUGW_CONFIG");
    fmugw_config *cfg = NULL;
    http_server *srv = NULL;
    app *a = NULL;
    char samples_buf[PATH_MAX + 16];
    int rc = 1, opt;

    if (argc > 1 && strcmp(argv[1], "admin") == 0)
        return admin_main(argc - 1, argv + 1);

    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        const char *key = NULL;
        switch (opt) {
        case OPT_CONFIG: config_path = optarg; break;
        case OPT_DATA_DIR: key = "data_dir"; break;
        case OPT_LISTEN: key = "listen"; break;
        case OPT_ROLE: key = "role"; break;
        case OPT_THREADS: key = "threads"; break;
        case OPT_LOG_LEVEL: key = "log_level"; break;
        case OPT_OPENAPI: key = "openapi_path"; break;
        case OPT_VERSION: printf("fmugwd %s\n", FMUGWD_VERSION); return 0;
        case OPT_HELP: usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (key && nflags < sizeof flags / sizeof flags[0]) {
            flags[nflags].key = key;
            flags[nflags++].value = optarg;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fmugwd: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    if (config_new(&cfg) != 0 ||
        (config_path && config_load_file(cfg, config_path) != 0) ||
        config_load_env(cfg) != 0) {
        log_error("configuration");
        rc = 2;
        goto out;
    }
    for (size_t i = 0; i < nflags; i++) {
        if (config_set(cfg, flags[i].key, flags[i].value) != 0) {
            log_error("configuration");
            rc = 2;
            goto out;
        }
    }
    fmugw_log_set_level(cfg->log_level);
    fmugw_log_json(FMUGW_LOG_INFO, "configuration", json_pack("{s:o}", "config", config_dump(cfg)));
    if (config_prepare_data_dir(cfg) != 0) {
        log_error("data directory");
        goto out;
    }
    /* From here on the data directory is absolute: the sandbox mounts paths
     * below it, and `--data-dir ./data` must mean the same thing to every
     * part of the daemon. */
    char *abs_data = realpath(cfg->data_dir, NULL);
    if (!abs_data || config_set(cfg, "data_dir", abs_data) != 0) {
        free(abs_data);
        fmugw_error_set(FMUGW_EIO, "data directory %s cannot be resolved", cfg->data_dir);
        log_error("data directory");
        goto out;
    }
    free(abs_data);

    /* Block the stop signals in every thread (MHD's workers inherit this
     * mask); the main thread takes them with sigwait(). */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (app_open(&a, cfg, samples_dir(cfg, samples_buf, sizeof samples_buf)) != 0) {
        log_error("gateway start");
        goto out;
    }

    http_server_options so = {
        .listen = cfg->listen,
        .threads = cfg->threads,
        .connection_memory = cfg->max_header_bytes,
        .timeout_s = cfg->timeout_s,
        .max_connections = cfg->max_connections,
        .per_ip_connections = cfg->per_ip_connections,
        .max_body = cfg->max_body_bytes,
        .json_max_depth = cfg->json_max_depth,
        .header_timeout_s = cfg->header_timeout_s,
        .probe_reserve = cfg->probe_reserve,
        .before = app_before,
        .before_ud = a,
    };
    http_health_options ho = { .openapi_path = cfg->openapi_path, .ready = ready_check,
                               .ready_ud = a };
    if (http_server_new(&srv, &so) != 0 || http_health_routes_add(srv, &ho) != 0) {
        log_error("server setup");
        goto out;
    }
    /* Role all/api: the API resources. Role worker: job consumers only. */
    if (cfg->role != FMUGW_ROLE_WORKER) {
        if (app_routes_auth(a, srv) != 0) {
            log_error("routes");
            goto out;
        }
#ifdef FMUGW_HAVE_FMU_ROUTES
        if (app_routes_fmu(a, srv) != 0) {
            log_error("routes");
            goto out;
        }
#endif
        if (app_routes_account(a, srv) != 0) {
            log_error("routes");
            goto out;
        }
        if (app_routes_jobs(a, srv) != 0) {
            log_error("routes");
            goto out;
        }
    }
    /* The job system: recovery, retention, and for roles all|worker the
     * workers (config `workers`, default one per core); role api submits
     * and answers from the queue only. */
    {
        unsigned workers = 0;
        if (cfg->role != FMUGW_ROLE_API) {
            long cores = sysconf(_SC_NPROCESSORS_ONLN);
            workers = cfg->workers ? cfg->workers : (unsigned)(cores > 0 ? cores : 1);
        }
        if (job_system_start(a, workers) != 0) {
            log_error("job system");
            goto out;
        }
    }
    if (http_server_start(srv) != 0) {
        log_error("listen");
        goto out;
    }
    /* Parked status long-polls look again when a job of this process changes. */
    if (a->jobs)
        job_system_on_change(a->jobs, wake_http, srv);
    fmugw_log_json(FMUGW_LOG_INFO, "listening",
                   json_pack("{s:s,s:i,s:s,s:i,s:s}", "address", http_server_address(srv),
                             "port", (int)http_server_port(srv), "role",
                             config_role_name(cfg->role), "pid", (int)getpid(), "version",
                             FMUGWD_VERSION));

    int sig = 0;
    while (sigwait(&stop, &sig) != 0)
        ;
    fmugw_log_json(FMUGW_LOG_INFO, "shutting down",
                   json_pack("{s:s,s:i,s:i}", "signal", sig == SIGINT ? "SIGINT" : "SIGTERM",
                             "in_flight", (int)http_server_in_flight(srv), "grace_s",
                             (int)cfg->shutdown_grace_s));
    if (http_server_shutdown(srv, cfg->shutdown_grace_s * 1000u) != 0) {
        log_error("shutdown");
        rc = 1;
    } else {
        rc = 0;
    }
    fmugw_log_json(FMUGW_LOG_INFO, "stopped", NULL);
out:
    if (a && a->jobs)
        job_system_on_change(a->jobs, NULL, NULL); /* before the server goes */
    http_server_free(srv); /* stops the server before the app goes */
    job_system_stop(a);    /* workers finish their jobs; then the app goes */
    app_free(a);
    config_free(cfg);
    return rc;
}
