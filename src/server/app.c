/*
 * app.c - the gateway application (see app.h): the data directory and its
 * secrets, the database pool (migrated), the blob store, keyrings, rate
 * limiter and abuse counters, the tier table, scopes, the audit helper and
 * the first-start bootstrap (admin account + key printed once). Request
 * handling lives in src/http (guard.c, auth.c, fmu.c), the admin CLI in
 * admin.c.
 *
 * Pricing (ledger helper): pricing.json is loaded at open (config key
 * `pricing_path`, else <data dir>/../pricing.json, ./pricing.json, the
 * repository's); tier_limits_of() reads its tiers. Monthly credit grants:
 * every account gets its tier's monthly_credits at creation and at the start
 * of each billing cycle (ledger_cycle), applied by a sweep at start and
 * every hour on a thread of the app (stopped by app_free). The same sweep
 * then runs the storage accrual (ledger/storage_charge.h), which charges
 * each account once per UTC day (the first sweep of the day does it).
 */
#include "server/app.h"
#include "server/app_internal.h"

#include "auth/apikey.h"
#include "auth/auth_cache.h"
#include "auth/failure_log.h"
#include "http/fmu_cache.h"
#include "http/log.h"
#include "ledger/ledger.h"
#include "ledger/pricing.h"
#include "ledger/storage_charge.h"
#include "store/accounts.h"
#include "store/api_keys.h"
#include "store/audit.h"
#include "store/migrations.h"
#include "util/error.h"
#include "util/fsutil.h"

#ifdef FMUGW_HAVE_REGISTRY
#include "registry/registry.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ADMIN_EMAIL "admin@localhost"
#define SECRET_FILE_MAX 65536

/* ---- scopes -------------------------------------------------------------- */

static const struct {
    const char *name;
    unsigned bit;
} scope_names[] = {
    {"fmu:read", SCOPE_FMU_READ},         {"fmu:write", SCOPE_FMU_WRITE}, {"jobs:run", SCOPE_JOBS_RUN},
    {"account:read", SCOPE_ACCOUNT_READ}, {"admin", SCOPE_ADMIN},
};
#define NSCOPES (sizeof scope_names / sizeof scope_names[0])

int scopes_parse(unsigned *out, const char *text)
{
    unsigned mask = 0;
    const char *p = text ? text : "";
    *out = 0;
    while (*p) {
        size_t n = strcspn(p, " ,\t");
        if (n > 0) {
            size_t i;
            for (i = 0; i < NSCOPES; i++)
                if (strlen(scope_names[i].name) == n && memcmp(scope_names[i].name, p, n) == 0)
                    break;
            if (i == NSCOPES)
                return fmugw_error_set(FMUGW_EINVALID, "unknown scope \"%.*s\"", (int)(n > 64 ? 64 : n), p);
            mask |= scope_names[i].bit;
        }
        p += n;
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
    }
    *out = mask;
    return 0;
}

void scopes_format(char *buf, size_t size, unsigned mask)
{
    size_t used = 0;
    if (size == 0)
        return;
    buf[0] = '\0';
    for (size_t i = 0; i < NSCOPES; i++) {
        if (!(mask & scope_names[i].bit))
            continue;
        int n = snprintf(buf + used, size - used, "%s%s", used ? " " : "", scope_names[i].name);
        if (n < 0 || (size_t)n >= size - used)
            return;
        used += (size_t)n;
    }
}

/* ---- tiers --------------------------------------------------------------- */

/* Built-in defaults until pricing.json is loaded (and for tests that use
 * the guard without an app). */
static const tier_limits builtin_tiers[] = {
    {"free", 5.0, 20, 64ull << 20, 5},
    {"pro", 50.0, 200, 1ull << 30, 25},
    {"enterprise", 200.0, 800, 4ull << 30, 100},
};

#define MAX_PRICED_TIERS 16
/* The limits of the loaded pricing table: written by app_open before any
 * server thread starts, read-only afterwards. The tier names are copies,
 * so they outlive an app_free. */
static tier_limits priced_tiers[MAX_PRICED_TIERS];
static char priced_names[MAX_PRICED_TIERS][33];
static size_t n_priced;

static void tiers_from_pricing(const pricing *p)
{
    size_t n = 0;
    const pricing_tier *t = pricing_tiers(p, &n);
    if (n > MAX_PRICED_TIERS)
        n = MAX_PRICED_TIERS;
    /* The free tier first: it is the answer for an unknown tier. */
    size_t k = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++) {
            bool is_free = strcmp(t[i].name, "free") == 0;
            if ((pass == 0) != is_free)
                continue;
            snprintf(priced_names[k], sizeof priced_names[k], "%s", t[i].name);
            priced_tiers[k] = (tier_limits){priced_names[k], t[i].rate_per_s, t[i].burst, t[i].max_fmu_bytes,
                                            t[i].max_api_keys};
            k++;
        }
    n_priced = k;
}

const tier_limits *tier_limits_of(const char *tier)
{
    const tier_limits *v = n_priced ? priced_tiers : builtin_tiers;
    size_t n = n_priced ? n_priced : sizeof builtin_tiers / sizeof builtin_tiers[0];
    for (size_t i = 0; tier && i < n; i++)
        if (strcmp(v[i].tier, tier) == 0)
            return &v[i];
    return &v[0];
}

/* pricing_path, else the first pricing.json found next to the data
 * directory, in the working directory, or in the source tree. */
static int load_pricing(app *a, const char *data)
{
    char buf[PATH_MAX];
    const char *path = a->cfg->pricing_path && a->cfg->pricing_path[0] ? a->cfg->pricing_path : NULL;
    struct stat st;
    if (!path) {
        const char *candidates[3] = {NULL, "pricing.json", NULL};
        snprintf(buf, sizeof buf, "%s/../pricing.json", data);
        candidates[0] = buf;
#ifdef FMUGW_DEFAULT_PRICING
        candidates[2] = FMUGW_DEFAULT_PRICING;
#endif
        for (size_t i = 0; i < 3 && !path; i++)
            if (candidates[i] && stat(candidates[i], &st) == 0 && S_ISREG(st.st_mode))
                path = candidates[i];
        if (!path)
            return fmugw_error_set(FMUGW_ENOTFOUND, "no pricing.json found (set pricing_path)");
    }
    int rc = pricing_load(&a->pricing, path);
    if (rc == 0) {
        tiers_from_pricing(a->pricing);
        fmugw_log_json(FMUGW_LOG_INFO, "pricing loaded", json_pack("{s:s}", "path", path));
    }
    return rc;
}

/* ---- monthly credit grants ----------------------------------------------- */

struct app_grants {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
};

#define GRANT_SWEEP_S 3600

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int app__grant_cycle(app *a, db_conn *c, const char *account_id, const char *tier, int64_t created_ms,
                     int64_t now_ms)
{
    const pricing_tier *t = pricing_tier_get(a->pricing, tier);
    if (!t)
        t = pricing_tier_get(a->pricing, "free");
    if (!t)
        return fmugw_error_set(FMUGW_EINVALID, "no pricing for tier %s", tier ? tier : "?");
    int rc = ledger_grant_cycle(c, account_id, created_ms, t->monthly_credits, now_ms);
    return rc == FMUGW_EEXISTS ? 0 : rc;
}

int app__grant_sweep(app *a, size_t *granted)
{
    db_conn *c = NULL;
    store_account **list = NULL;
    size_t n = 0, count = 0;
    int rc;
    if ((rc = db_pool_acquire(&c, a->db)) != 0)
        goto out;
    for (int64_t off = 0;; off += 1000) {
        if ((rc = store_account_list(&list, &n, c, off, 1000)) != 0)
            goto out;
        for (size_t i = 0; i < n; i++) {
            const pricing_tier *t = pricing_tier_get(a->pricing, list[i]->tier);
            if (!t)
                t = pricing_tier_get(a->pricing, "free");
            int r = t ? ledger_grant_cycle(c, list[i]->id, list[i]->created_at, t->monthly_credits, wall_ms())
                      : FMUGW_EINVALID;
            if (r == 0 && t->monthly_credits > 0)
                count++;
            else if (r != 0 && r != FMUGW_EEXISTS) {
                fmugw_log_json(FMUGW_LOG_ERROR, "monthly credit grant failed",
                               json_pack("{s:s,s:s}", "account_id", list[i]->id, "error", fmugw_error_last()));
                rc = r;
            }
        }
        store_account_list_free(list, n);
        list = NULL;
        if (n < 1000)
            break;
    }
out:
    if (c)
        db_pool_release(a->db, c);
    if (granted)
        *granted = count;
    if (count > 0)
        fmugw_log_json(FMUGW_LOG_INFO, "monthly credits granted", json_pack("{s:I}", "accounts", (json_int_t)count));
    return rc;
}

static void log_storage_failure(const storage_run *r, int rc, void *ud)
{
    (void)ud;
    if (rc != 0)
        fmugw_log_json(FMUGW_LOG_ERROR, "storage charge failed",
                       json_pack("{s:s,s:s}", "account_id", r->account_id, "error", fmugw_error_last()));
}

int app__storage_sweep(app *a, storage_sweep *out)
{
    db_conn *c = NULL;
    storage_sweep s;
    memset(&s, 0, sizeof s);
    int rc = db_pool_acquire(&c, a->db);
    if (rc == 0) {
        rc = storage_accrue_all(&s, c, a->pricing, wall_ms(), false, log_storage_failure, NULL);
        if (s.recorded > 0)
            app_audit(a, c, "system", "storage.charge", NULL,
                      json_pack("{s:I,s:I,s:I}", "accounts", (json_int_t)s.recorded, "charged",
                                (json_int_t)s.charged, "unpaid", (json_int_t)s.unpaid));
        db_pool_release(a->db, c);
    }
    if (s.recorded > 0)
        fmugw_log_json(FMUGW_LOG_INFO, "storage charged",
                       json_pack("{s:I,s:I,s:I}", "accounts", (json_int_t)s.recorded, "millicredits",
                                 (json_int_t)s.charged, "unpaid", (json_int_t)s.unpaid));
    if (out)
        *out = s;
    return rc;
}

static void *grants_main(void *p)
{
    app *a = p;
    struct app_grants *g = a->grants;
    pthread_mutex_lock(&g->lock);
    while (!g->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += GRANT_SWEEP_S;
        while (!g->stop && pthread_cond_timedwait(&g->wake, &g->lock, &until) == 0)
            ;
        if (g->stop)
            break;
        pthread_mutex_unlock(&g->lock);
        app__grant_sweep(a, NULL);
        app__storage_sweep(a, NULL);
        pthread_mutex_lock(&g->lock);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

static int grants_start(app *a)
{
    struct app_grants *g = calloc(1, sizeof *g);
    if (!g)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->wake, NULL);
    a->grants = g;
    if (pthread_create(&g->thread, NULL, grants_main, a) != 0) {
        pthread_cond_destroy(&g->wake);
        pthread_mutex_destroy(&g->lock);
        free(g);
        a->grants = NULL;
        return fmugw_error_set(FMUGW_ERROR, "cannot start the grant sweep thread");
    }
    return 0;
}

static void grants_stop(app *a)
{
    struct app_grants *g = a->grants;
    if (!g)
        return;
    pthread_mutex_lock(&g->lock);
    g->stop = true;
    pthread_cond_broadcast(&g->wake);
    pthread_mutex_unlock(&g->lock);
    pthread_join(g->thread, NULL);
    pthread_cond_destroy(&g->wake);
    pthread_mutex_destroy(&g->lock);
    free(g);
    a->grants = NULL;
}

/* ---- principal, audit ---------------------------------------------------- */

const principal *app_principal(const http_request *req)
{
    return req ? http_request_user(req) : NULL;
}

int app_audit(app *a, db_conn *c, const char *actor, const char *action, const char *target, json_t *detail)
{
    char *text = NULL;
    db_conn *own = NULL;
    int rc = 0;

    if (detail && (text = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "cannot serialise an audit detail");
        goto out;
    }
    if (c == NULL) {
        if ((rc = db_pool_acquire(&own, a->db)) != 0)
            goto out;
        c = own;
    }
    rc = store_audit_append(NULL, c, actor ? actor : "system", action, target, text);
out:
    if (rc != 0) {
        json_t *f = json_pack("{s:s,s:s,s:s}", "action", action ? action : "", "actor", actor ? actor : "",
                              "error", fmugw_error_last());
        fmugw_log_json(FMUGW_LOG_ERROR, "audit append failed", f);
    }
    if (own)
        db_pool_release(a->db, own);
    free(text);
    json_decref(detail);
    return rc;
}

json_t *app__time_json(int64_t ms)
{
    if (ms <= 0)
        return json_null();
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    char buf[64];
    gmtime_r(&s, &tm);
    snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    return json_string(buf);
}

/* ---- secrets ------------------------------------------------------------- */

/* Creates a directory of ours (secrets/, tmp/) 0700, tightening an
 * existing one. */
static int ensure_dir(const char *path)
{
    struct stat st;
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return fmugw_error_set(FMUGW_EIO, "cannot create %s: %s", path, strerror(errno));
    if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return fmugw_error_set(FMUGW_EIO, "%s is not a directory", path);
    if ((st.st_mode & 077) && chmod(path, 0700) != 0)
        return fmugw_error_set(FMUGW_EIO, "cannot chmod %s: %s", path, strerror(errno));
    return 0;
}

/* Reads a secret file, refusing one that others may read. *out is
 * malloc'd and NUL-terminated; FMUGW_ENOTFOUND if it does not exist. */
static int read_secret(char **out, size_t *len, const char *path)
{
    struct stat st;
    int rc;
    *out = NULL;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return FMUGW_ENOTFOUND;
        return fmugw_error_set(FMUGW_EIO, "cannot stat %s: %s", path, strerror(errno));
    }
    if (st.st_mode & 077)
        return fmugw_error_set(FMUGW_EIO, "%s is readable by others: chmod 600 it", path);
    if ((rc = fmugw_read_file(out, len, path, SECRET_FILE_MAX)) != 0)
        return rc;
    return 0;
}

/* Creates `path` with `data` (mode 0600) unless it exists: written to a
 * temporary, fsync'd, then linked into place, so two processes starting at
 * once agree on one file. *created says whether ours won. */
static int write_secret(bool *created, const char *path, const void *data, size_t len)
{
    char tmp[PATH_MAX];
    int fd = -1, rc = 0;
    *created = false;
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return fmugw_error_set(FMUGW_EIO, "cannot create %s: %s", tmp, strerror(errno));
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = fmugw_error_set(FMUGW_EIO, "cannot write %s: %s", tmp, strerror(errno));
            goto out;
        }
        p += n;
        left -= (size_t)n;
    }
    if (fsync(fd) != 0) {
        rc = fmugw_error_set(FMUGW_EIO, "cannot fsync %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (link(tmp, path) == 0)
        *created = true;
    else if (errno != EEXIST)
        rc = fmugw_error_set(FMUGW_EIO, "cannot create %s: %s", path, strerror(errno));
out:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return rc;
}

/* A raw 32-byte secret file (pepper, url.key): loaded, or generated. */
static int load_raw_secret(uint8_t key[32], const char *dir, const char *name)
{
    char *path = fmugw_path_join(dir, name), *text = NULL;
    size_t len = 0;
    bool created;
    int rc;
    if (!path)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    for (int attempt = 0; attempt < 2; attempt++) {
        rc = read_secret(&text, &len, path);
        if (rc == 0) {
            if (len != 32)
                rc = fmugw_error_set(FMUGW_EINVALID, "%s must hold exactly 32 bytes", path);
            else
                memcpy(key, text, 32);
            goto out;
        }
        if (rc != FMUGW_ENOTFOUND)
            goto out;
        uint8_t fresh[32];
        if ((rc = crypto_random_bytes(fresh, sizeof fresh)) != 0 ||
            (rc = write_secret(&created, path, fresh, sizeof fresh)) != 0) {
            crypto_wipe(fresh, sizeof fresh);
            goto out;
        }
        crypto_wipe(fresh, sizeof fresh);
        /* Read back what is on disk (another process may have won). */
    }
    rc = fmugw_error_set(FMUGW_EIO, "cannot create %s", path);
out:
    if (text) {
        crypto_wipe(text, len);
        free(text);
    }
    free(path);
    return rc;
}

typedef int (*keyfile_add_fn)(void *ring, const char *kid, const uint8_t key[32], bool active);

static int add_jwt_key(void *ring, const char *kid, const uint8_t key[32], bool active)
{
    return jwt_keyring_add(ring, kid, key, 32, active);
}

static int add_master_key(void *ring, const char *kid, const uint8_t key[32], bool active)
{
    return crypto_keyring_add(ring, kid, key, active);
}

/* A "kid hexkey" file: every line is added, the last one active. Generated
 * with one line "<prefix><8 hex>" when missing and `generate`. *count gets
 * the number of keys added. */
static int load_key_file(size_t *count, const char *dir, const char *name, const char *kid_prefix, bool generate,
                         void *ring, keyfile_add_fn add)
{
    char *path = fmugw_path_join(dir, name), *text = NULL;
    size_t len = 0;
    int rc;
    *count = 0;
    if (!path)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    rc = read_secret(&text, &len, path);
    if (rc == FMUGW_ENOTFOUND && generate) {
        uint8_t key[32], rnd[4];
        char hex[65], rhex[9], line[160];
        bool created;
        if ((rc = crypto_random_bytes(key, sizeof key)) == 0 && (rc = crypto_random_bytes(rnd, sizeof rnd)) == 0) {
            crypto_hex_encode(hex, sizeof hex, key, sizeof key);
            crypto_hex_encode(rhex, sizeof rhex, rnd, sizeof rnd);
            int n = snprintf(line, sizeof line, "%s%s %s\n", kid_prefix, rhex, hex);
            rc = write_secret(&created, path, line, (size_t)n);
            crypto_wipe(line, sizeof line);
            crypto_wipe(hex, sizeof hex);
        }
        crypto_wipe(key, sizeof key);
        if (rc == 0)
            rc = read_secret(&text, &len, path);
    }
    if (rc == FMUGW_ENOTFOUND && !generate) {
        rc = 0;
        goto out;
    }
    if (rc != 0)
        goto out;
    /* Each line is added as active, so the last one ends up signing. */
    size_t lineno = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char kid[80];
        uint8_t key[32];
        lineno++;
        while (*line == ' ' || *line == '\t')
            line++;
        if (*line == '\0' || *line == '#')
            continue;
        size_t kn = strcspn(line, " \t");
        if (kn == 0 || kn >= sizeof kid || line[kn] == '\0') {
            rc = fmugw_error_set(FMUGW_EINVALID, "%s:%zu: expected \"kid hexkey\"", path, lineno);
            goto out;
        }
        memcpy(kid, line, kn);
        kid[kn] = '\0';
        if ((rc = crypto_key_parse(key, line + kn)) != 0) {
            rc = fmugw_error_set(FMUGW_EINVALID, "%s:%zu: not a 256-bit key", path, lineno);
            goto out;
        }
        rc = add(ring, kid, key, true);
        crypto_wipe(key, sizeof key);
        if (rc != 0)
            goto out;
        (*count)++;
    }
out:
    if (text) {
        crypto_wipe(text, len);
        free(text);
    }
    free(path);
    return rc;
}

/* A key from the configuration (FMUGW_JWT_SECRET / FMUGW_MASTER_KEY): 64
 * hex or base64 of 32 bytes; a JWT secret may also be any text of at least
 * 32 bytes (used as is). */
static int config_key(uint8_t key[32], const char *text, bool any_text, const char *what)
{
    if (crypto_key_parse(key, text) == 0)
        return 0;
    if (any_text && strlen(text) >= 32)
        return crypto_sha256(key, text, strlen(text));
    return fmugw_error_set(FMUGW_EINVALID, "%s must be a 256-bit key (64 hex digits or base64)%s", what,
                           any_text ? " or a text of at least 32 characters" : "");
}

static int load_secrets(app *a, const char *secrets, bool offline)
{
    const fmugw_config *cfg = a->cfg;
    uint8_t key[32];
    size_t n = 0;
    int rc;

    if ((rc = load_raw_secret(a->pepper, secrets, "pepper")) != 0 ||
        (rc = load_raw_secret(a->url_key, secrets, "url.key")) != 0)
        return rc;
    if ((rc = jwt_keyring_new(&a->jwt_keys)) != 0 || (rc = crypto_keyring_new(&a->master_keys)) != 0)
        return rc;

    bool jwt_env = cfg->jwt_secret && cfg->jwt_secret[0];
    if ((rc = load_key_file(&n, secrets, "jwt.keys", "jwt-", !jwt_env, a->jwt_keys, add_jwt_key)) != 0)
        return rc;
    if (jwt_env) {
        if ((rc = config_key(key, cfg->jwt_secret, true, "jwt_secret")) != 0)
            return rc;
        rc = jwt_keyring_add(a->jwt_keys, "env", key, sizeof key, true);
        crypto_wipe(key, sizeof key);
        if (rc != 0)
            return rc;
    }

    bool master_env = cfg->master_key && cfg->master_key[0];
    if ((rc = load_key_file(&n, secrets, "master.keys", "mk-", !master_env, a->master_keys, add_master_key)) != 0)
        return rc;
    if (master_env) {
        if ((rc = config_key(key, cfg->master_key, false, "master_key")) != 0)
            return rc;
        rc = crypto_keyring_add(a->master_keys, "env", key, true);
        crypto_wipe(key, sizeof key);
        if (rc != 0)
            return rc;
    }
    (void)offline;
    return 0;
}

/* ---- keys, bootstrap ----------------------------------------------------- */

int app__key_create(app *a, db_conn *c, const char *account_id, unsigned scopes, const char *name,
                    char key_out[APIKEY_LEN + 1], char id_out[APIKEY_ID_LEN + 1])
{
    uint8_t mac[CRYPTO_SHA256_LEN];
    char hint[APIKEY_HINT_LEN + 1], scope_text[128];
    store_account *acct = NULL;
    int64_t active = 0;
    int rc;

    /* The tier's cap on keys that are not revoked (counted inside the
     * caller's transaction, so two creations cannot both take the last). */
    if ((rc = store_account_get(&acct, c, account_id)) != 0)
        return rc;
    const tier_limits *lim = tier_limits_of(acct->tier);
    rc = store_apikey_count_active(&active, c, account_id);
    store_account_free(acct);
    if (rc != 0)
        return rc;
    if (active >= (int64_t)lim->max_api_keys)
        return fmugw_error_set(FMUGW_ELIMIT,
                               "the %s tier allows at most %u active API keys and the account has %lld: revoke one"
                               " first",
                               lim->tier, lim->max_api_keys, (long long)active);
    if ((rc = apikey_generate(key_out)) != 0 || (rc = apikey_id(id_out, key_out)) != 0 ||
        (rc = apikey_hint(hint, key_out)) != 0 ||
        (rc = crypto_hmac_sha256(mac, a->pepper, sizeof a->pepper, key_out, APIKEY_LEN)) != 0)
        goto out;
    scopes_format(scope_text, sizeof scope_text, scopes);
    rc = store_apikey_insert(NULL, c, id_out, account_id, hint, mac, sizeof mac, scope_text, name);
out:
    crypto_wipe(mac, sizeof mac);
    if (rc != 0)
        crypto_wipe(key_out, APIKEY_LEN + 1);
    return rc;
}

typedef struct {
    app *a;
    bool created;
    char account_id[64];
    char key[APIKEY_LEN + 1];
    char key_id[APIKEY_ID_LEN + 1];
} bootstrap_ctx;

static int bootstrap_tx(db_conn *c, void *p)
{
    bootstrap_ctx *b = p;
    store_account *acct = NULL;
    int rc = store_account_find_by_email(&acct, c, ADMIN_EMAIL);
    b->created = false;
    if (rc == 0)
        goto out; /* not the first start */
    if (rc != FMUGW_ENOTFOUND)
        goto out;
    if ((rc = store_account_create(&acct, c, ADMIN_EMAIL, "enterprise")) != 0)
        goto out;
    snprintf(b->account_id, sizeof b->account_id, "%s", acct->id);
    if ((rc = app__grant_cycle(b->a, c, acct->id, acct->tier, acct->created_at, acct->created_at)) != 0)
        goto out;
    if ((rc = app__key_create(b->a, c, acct->id, SCOPE_DEFAULT | SCOPE_ADMIN, "bootstrap admin key", b->key,
                              b->key_id)) != 0)
        goto out;
    if ((rc = app_audit(b->a, c, "system", "bootstrap", acct->id,
                        json_pack("{s:s,s:s}", "email", ADMIN_EMAIL, "key_id", b->key_id))) != 0)
        goto out;
    b->created = true;
out:
    store_account_free(acct);
    return rc;
}

static int bootstrap(app *a, db_conn *c)
{
    bootstrap_ctx b = {.a = a};
    int rc = db_transact(c, bootstrap_tx, &b);
    if (rc == 0 && b.created) {
        /* The only place the admin key is ever shown: stdout, once. */
        json_t *line = json_pack("{s:s,s:s}", "admin_account_id", b.account_id, "admin_api_key", b.key);
        char *text = line ? json_dumps(line, JSON_COMPACT) : NULL;
        if (text) {
            printf("%s\n", text);
            fflush(stdout);
            crypto_wipe(text, strlen(text));
        }
        free(text);
        json_decref(line); /* jansson keeps its own copy of the key */
        fmugw_log_json(FMUGW_LOG_INFO, "first start: admin account created",
                       json_pack("{s:s,s:s}", "account_id", b.account_id, "key_id", b.key_id));
    }
    crypto_wipe(b.key, sizeof b.key);
    return rc;
}

/* ---- open / free --------------------------------------------------------- */

int app__open(app **out, fmugw_config *cfg, const char *samples_dir, unsigned flags)
{
    app *a = calloc(1, sizeof *a);
    char *data = NULL, *secrets = NULL, *url = NULL, *blob_url = NULL;
    db_conn *c = NULL;
    bool offline = flags & APP_OPEN_OFFLINE;
    int rc;

    *out = NULL;
    if (!a)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    a->cfg = cfg;
    a->jwt_issuer = "fmugw";
    a->jwt_audience = "fmugw-api";
    a->token_ttl_s = cfg->token_ttl_s >= 1 && cfg->token_ttl_s <= JWT_MAX_TTL ? cfg->token_ttl_s : JWT_MAX_TTL;
    a->url_ttl_s = cfg->url_ttl_s ? cfg->url_ttl_s : 300;

    if ((rc = config_prepare_data_dir(cfg)) != 0)
        goto out;
    if ((data = realpath(cfg->data_dir, NULL)) == NULL) {
        rc = fmugw_error_set(FMUGW_EIO, "data directory %s: %s", cfg->data_dir, strerror(errno));
        goto out;
    }
    {
        /* The data directory may be the operator's: warn, never chmod it. */
        struct stat st;
        if (stat(data, &st) == 0 && (st.st_mode & 077))
            fmugw_log_json(FMUGW_LOG_WARN, "data directory is accessible by others (chmod 700 it)",
                           json_pack("{s:s}", "data_dir", data));
    }
    if (!(secrets = fmugw_path_join(data, "secrets")) || !(a->tmp_dir = fmugw_path_join(data, "tmp"))) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = ensure_dir(secrets)) != 0 || (rc = load_secrets(a, secrets, offline)) != 0)
        goto out;
    if ((rc = load_pricing(a, data)) != 0)
        goto out;
    if (!offline) {
        /* Partial uploads of a previous run are garbage: moved aside (start
         * does not depend on removing them) and removed; what cannot be
         * removed is left for the next start, with a warning. */
        if ((rc = fmugw_dir_renew(a->tmp_dir)) != 0)
            goto out;
        if (fmugw_rmtree_stale(a->tmp_dir) != 0)
            fmugw_log_json(FMUGW_LOG_WARN, "old temporary files left", json_pack("{s:s}", "error", fmugw_error_last()));
        if ((rc = ensure_dir(a->tmp_dir)) != 0)
            goto out;
    }

    if (cfg->database_url && cfg->database_url[0]) {
        if (!(url = strdup(cfg->database_url))) {
            rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
            goto out;
        }
    } else if ((rc = db_url_default(&url, data)) != 0) {
        goto out;
    }
    if ((rc = db_pool_open(&a->db, url, (cfg->threads ? cfg->threads : 4) + 1)) != 0 ||
        (rc = db_pool_acquire(&c, a->db)) != 0)
        goto out;
    if ((rc = store_migrate(c)) != 0)
        goto out;

    if (cfg->s3_bucket && cfg->s3_bucket[0]) {
        rc = fmugw_error_set(FMUGW_EUNSUPPORTED, "s3_bucket is not supported yet (blobs go to the data directory)");
        goto out;
    }
    if (asprintf(&blob_url, "file://%s/blobs", data) < 0) {
        blob_url = NULL;
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = blob_store_open(&a->blobs, blob_url)) != 0)
        goto out;

    if ((rc = ratelimit_new(&a->rate, 65536)) != 0 ||
        (rc = abuse_counter_new(&a->auth_failures, 10, 60.0, 65536)) != 0 ||
        (rc = failure_log_new(&a->auth_failure_log, 4096)) != 0 ||
        (rc = abuse_counter_new(&a->upload_rejects, 5, 600.0, 65536)) != 0 ||
        (rc = auth_cache_new(&a->auth_cache, 4096)) != 0)
        goto out;

    if (!offline) {
        if ((rc = bootstrap(a, c)) != 0)
            goto out;
        db_pool_release(a->db, c);
        c = NULL;
        /* Monthly grants, then the day's storage charge: now (a cycle or
         * a day may have begun while stopped), then every hour. A failure
         * is logged, never fatal. */
        app__grant_sweep(a, NULL);
        app__storage_sweep(a, NULL);
        if ((rc = grants_start(a)) != 0)
            goto out;
#ifdef FMUGW_HAVE_REGISTRY
        if (samples_dir && samples_dir[0] && (rc = registry_import_samples(a, samples_dir)) != 0)
            goto out;
#else
        (void)samples_dir;
#endif
    }
out:
    if (c)
        db_pool_release(a->db, c);
    free(data);
    free(secrets);
    free(url);
    free(blob_url);
    if (rc != 0)
        app_free(a);
    else
        *out = a;
    return rc;
}

int app_open(app **out, fmugw_config *cfg, const char *samples_dir)
{
    return app__open(out, cfg, samples_dir, APP_OPEN_SERVE);
}

void app_free(app *a)
{
    if (!a)
        return;
    grants_stop(a);
    db_pool_close(a->db);
    blob_store_close(a->blobs);
    crypto_keyring_free(a->master_keys);
    jwt_keyring_free(a->jwt_keys);
    ratelimit_free(a->rate);
    abuse_counter_free(a->auth_failures);
    failure_log_free(a->auth_failure_log);
    abuse_counter_free(a->upload_rejects);
    auth_cache_free(a->auth_cache);
    fmu_cache_clear(); /* the GET /fmu/{id} bodies (process-wide) */
    free(a->tmp_dir);
    pricing_free(a->pricing);
    crypto_wipe(a->pepper, sizeof a->pepper);
    crypto_wipe(a->url_key, sizeof a->url_key);
    free(a);
}
