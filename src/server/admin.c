/*
 * admin.c - `fmugwd admin ...`: manages accounts, tiers, keys, credit
 * grants and the audit chain directly on the data directory (the daemon may
 * be running: SQLite serialises the writers). Every change is audited with
 * actor "admin-cli". Secrets (a new API key) are printed once on stdout,
 * never logged.
 *
 *   fmugwd admin [--data-dir DIR] [--config FILE] <noun> <verb> [options]
 *     account create --email E --tier free|pro|enterprise [--json]
 *     account list [--json]
 *     account set-tier --email E --tier T
 *     account lock|unlock --email E
 *     key create --email E [--scopes "fmu:read ..."] [--name N] [--json]
 *     key list --email E [--json]
 *     key revoke --id K
 *     key unlock --id K
 *     credits set|grant --email E --amount N [--reason R]
 *     credits show --email E
 *
 * Credits live in the ledger (src/ledger): amounts are whole credits;
 * `grant` posts a grant, `set` posts the difference to the available
 * balance as a grant or an adjustment (available -> system:grants); `show`
 * prints the derived balances. A new account gets its tier's first monthly
 * grant in the same transaction.
 *     audit verify
 *     storage charge [--now] [--json]
 *
 * `storage charge` runs the storage accrual (ledger/storage_charge.h) for
 * every account as the daemon does once a day: without --now it only
 * shows what it would charge; with --now it charges (audited as
 * "storage.charge"). A second run on the same UTC day charges nothing.
 *
 * Exit status: 0 done, 1 failed (audit verify: chain altered), 2 bad usage.
 */
#include "server/app_internal.h"

#include "http/log.h"
#include "store/accounts.h"
#include "store/api_keys.h"
#include "store/audit.h"
#include "ledger/ledger.h"
#include "ledger/storage_charge.h"
#include "util/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ACTOR "admin-cli"

typedef struct {
    const char *email, *tier, *scopes, *name, *id, *amount, *reason;
    bool json;
    bool now;
} opts;

static int usage(void)
{
    fprintf(stderr,
            "usage: fmugwd admin [--data-dir DIR] [--config FILE] <command>\n"
            "  account create --email E --tier free|pro|enterprise [--json]\n"
            "  account list [--json]\n"
            "  account set-tier --email E --tier T\n"
            "  account lock|unlock --email E\n"
            "  key create --email E [--scopes \"fmu:read ...\"] [--name N] [--json]\n"
            "  key list --email E [--json]\n"
            "  key revoke --id K\n"
            "  key unlock --id K\n"
            "  credits set|grant --email E --amount N [--reason R]\n"
            "  credits show --email E\n"
            "  audit verify\n"
            "  storage charge [--now] [--json]\n");
    return 2;
}

static int fail(const char *what)
{
    fprintf(stderr, "fmugwd admin: %s: %s\n", what, fmugw_error_last());
    return 1;
}

static bool tier_known(const char *t)
{
    return t && (!strcmp(t, "free") || !strcmp(t, "pro") || !strcmp(t, "enterprise"));
}

static void print_json(json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    if (text) {
        printf("%s\n", text);
        crypto_wipe(text, strlen(text));
    }
    free(text);
    json_decref(j);
}

/* Checks a command's required options before anything is opened: 0, or
 * 2 after a message. */
static int check_usage(const char *noun, const char *verb, const opts *o)
{
    bool ok = true;
    if (!strcmp(noun, "account")) {
        if (!strcmp(verb, "create") || !strcmp(verb, "set-tier"))
            ok = o->email && tier_known(o->tier);
        else if (!strcmp(verb, "lock") || !strcmp(verb, "unlock"))
            ok = o->email != NULL;
        else
            ok = !strcmp(verb, "list");
    } else if (!strcmp(noun, "key")) {
        if (!strcmp(verb, "create") || !strcmp(verb, "list"))
            ok = o->email != NULL;
        else if (!strcmp(verb, "revoke") || !strcmp(verb, "unlock"))
            ok = o->id != NULL;
        else
            ok = false;
    } else if (!strcmp(noun, "credits")) {
        if (!strcmp(verb, "set") || !strcmp(verb, "grant"))
            ok = o->email && o->amount;
        else
            ok = !strcmp(verb, "show") && o->email;
    } else if (!strcmp(noun, "audit")) {
        ok = !strcmp(verb, "verify");
    } else if (!strcmp(noun, "storage")) {
        ok = !strcmp(verb, "charge");
    } else {
        ok = false;
    }
    if (!ok) {
        fprintf(stderr, "fmugwd admin: %s %s: missing or bad options (--tier is free, pro or enterprise)\n", noun,
                verb);
        return usage();
    }
    return 0;
}

/* ---- transactions (each change and its audit entry commit together) ---- */

typedef struct {
    app *a;
    const opts *o;
    unsigned scopes;
    char account_id[64];
    char key[APIKEY_LEN + 1];
    char key_id[APIKEY_ID_LEN + 1];
} tx_ctx;

static int account_create_tx(db_conn *c, void *p)
{
    tx_ctx *x = p;
    store_account *acct = NULL;
    int rc = store_account_create(&acct, c, x->o->email, x->o->tier);
    if (rc != 0)
        return rc;
    snprintf(x->account_id, sizeof x->account_id, "%s", acct->id);
    rc = app__grant_cycle(x->a, c, acct->id, acct->tier, acct->created_at, acct->created_at);
    if (rc == 0)
        rc = app__key_create(x->a, c, acct->id, SCOPE_DEFAULT, "created with the account", x->key, x->key_id);
    if (rc == 0)
        rc = app_audit(x->a, c, ACTOR, "account.create", acct->id,
                       json_pack("{s:s,s:s,s:s}", "email", acct->email, "tier", acct->tier, "key_id", x->key_id));
    store_account_free(acct);
    return rc;
}

static int key_create_tx(db_conn *c, void *p)
{
    tx_ctx *x = p;
    char scopes[128];
    int rc = app__key_create(x->a, c, x->account_id, x->scopes, x->o->name, x->key, x->key_id);
    scopes_format(scopes, sizeof scopes, x->scopes);
    if (rc == 0)
        rc = app_audit(x->a, c, ACTOR, "key.create", x->key_id,
                       json_pack("{s:s,s:s,s:s}", "account_id", x->account_id, "scopes", scopes, "via", "admin"));
    return rc;
}

typedef enum { ACT_SET_TIER, ACT_LOCK, ACT_UNLOCK, ACT_KEY_REVOKE, ACT_KEY_UNLOCK, ACT_CREDITS_SET, ACT_CREDITS_GRANT } act;

typedef struct {
    app *a;
    const opts *o;
    act what;
    const char *target; /* account or key id */
    long long amount;
} change_ctx;

/* A fresh idempotency key for one admin action ("admin:<16 hex>"). */
static int admin_key(char out[48])
{
    uint8_t r[8];
    int rc = crypto_random_bytes(r, sizeof r);
    if (rc == 0) {
        memcpy(out, "admin:", 6);
        crypto_hex_encode(out + 6, 48 - 6, r, sizeof r);
    }
    return rc;
}

/* grant: +amount credits; set: the difference to reach `amount` credits
 * available (a grant up, an adjustment down). */
static int credits_change(db_conn *c, const char *account_id, long long amount, bool set, const char *reason)
{
    char key[48];
    int64_t delta = (int64_t)amount * LEDGER_MILLI;
    int rc = admin_key(key);
    if (rc != 0)
        return rc;
    if (set) {
        ledger_balance b;
        if ((rc = ledger_balance_get(c, account_id, &b)) != 0)
            return rc;
        delta -= b.available;
    }
    if (delta > 0)
        return ledger_grant(c, account_id, delta, key, reason ? reason : "admin grant");
    if (delta < 0)
        return ledger_adjust(c, account_id, -delta, key, reason ? reason : "admin adjustment");
    return 0;
}

static int change_tx(db_conn *c, void *p)
{
    change_ctx *x = p;
    const char *action = "";
    json_t *d = NULL;
    int rc = 0;
    switch (x->what) {
    case ACT_SET_TIER:
        rc = store_account_set_tier(c, x->target, x->o->tier);
        action = "account.set_tier";
        d = json_pack("{s:s}", "tier", x->o->tier);
        break;
    case ACT_LOCK:
    case ACT_UNLOCK:
        rc = store_account_set_locked(c, x->target, x->what == ACT_LOCK);
        action = x->what == ACT_LOCK ? "account.lock" : "account.unlock";
        break;
    case ACT_KEY_REVOKE:
        rc = store_apikey_revoke(c, NULL, x->target);
        action = "key.revoke";
        d = json_pack("{s:s}", "via", "admin");
        break;
    case ACT_KEY_UNLOCK:
        rc = store_apikey_set_locked(c, x->target, false, NULL);
        action = "key.unlock";
        break;
    case ACT_CREDITS_SET:
    case ACT_CREDITS_GRANT:
        rc = credits_change(c, x->target, x->amount, x->what == ACT_CREDITS_SET, x->o->reason);
        action = x->what == ACT_CREDITS_SET ? "credits.set" : "credits.grant";
        d = json_pack("{s:I,s:s?}", "amount", (json_int_t)x->amount, "reason", x->o->reason);
        break;
    }
    if (rc == 0)
        return app_audit(x->a, c, ACTOR, action, x->target, d);
    json_decref(d);
    return rc;
}

/* ---- commands ------------------------------------------------------------ */

static int find_account(store_account **acct, db_conn *c, const char *email)
{
    if (!email)
        return fmugw_error_set(FMUGW_EINVALID, "--email is required");
    int rc = store_account_find_by_email(acct, c, email);
    if (rc == FMUGW_ENOTFOUND)
        fmugw_error_set(rc, "no account with this email");
    return rc;
}

static int cmd_account(app *a, db_conn *c, const char *verb, const opts *o)
{
    store_account *acct = NULL;
    int rc = 1;
    if (!strcmp(verb, "create")) {
        if (!o->email || !tier_known(o->tier)) {
            fprintf(stderr, "fmugwd admin: account create needs --email and --tier free|pro|enterprise\n");
            return 2;
        }
        tx_ctx x = {.a = a, .o = o};
        if (db_transact(c, account_create_tx, &x) != 0)
            return fail("account create");
        if (o->json)
            print_json(json_pack("{s:s,s:s,s:s}", "account_id", x.account_id, "api_key", x.key, "key_id", x.key_id));
        else
            printf("account_id: %s\napi_key: %s\n(the key is shown only this once)\n", x.account_id, x.key);
        crypto_wipe(x.key, sizeof x.key);
        return 0;
    }
    if (!strcmp(verb, "list")) {
        store_account **list = NULL;
        size_t n = 0;
        json_t *arr = json_array();
        for (int64_t off = 0;; off += 1000) {
            if (store_account_list(&list, &n, c, off, 1000) != 0) {
                json_decref(arr);
                return fail("account list");
            }
            for (size_t i = 0; i < n; i++) {
                if (o->json)
                    json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:b,s:o}", "id", list[i]->id, "email",
                                                         list[i]->email, "tier", list[i]->tier, "locked",
                                                         list[i]->locked, "created_at",
                                                         app__time_json(list[i]->created_at)));
                else
                    printf("%s  %-12s %-6s %s\n", list[i]->id, list[i]->tier, list[i]->locked ? "locked" : "-",
                           list[i]->email);
            }
            store_account_list_free(list, n);
            if (n < 1000)
                break;
        }
        if (o->json)
            print_json(arr);
        else
            json_decref(arr);
        return 0;
    }
    bool set_tier = !strcmp(verb, "set-tier"), lock = !strcmp(verb, "lock"), unlock = !strcmp(verb, "unlock");
    if (!set_tier && !lock && !unlock)
        return usage();
    if (set_tier && !tier_known(o->tier)) {
        fprintf(stderr, "fmugwd admin: --tier must be free, pro or enterprise\n");
        return 2;
    }
    if (find_account(&acct, c, o->email) != 0)
        return fail("account");
    change_ctx x = {.a = a, .o = o, .what = set_tier ? ACT_SET_TIER : lock ? ACT_LOCK : ACT_UNLOCK,
                    .target = acct->id};
    if (db_transact(c, change_tx, &x) != 0)
        rc = fail(verb);
    else
        rc = 0;
    store_account_free(acct);
    return rc;
}

static int cmd_key(app *a, db_conn *c, const char *verb, const opts *o)
{
    store_account *acct = NULL;
    int rc = 1;
    if (!strcmp(verb, "create")) {
        tx_ctx x = {.a = a, .o = o, .scopes = SCOPE_DEFAULT};
        if (o->scopes && scopes_parse(&x.scopes, o->scopes) != 0) {
            fprintf(stderr, "fmugwd admin: %s\n", fmugw_error_last());
            return 2;
        }
        if (x.scopes == 0) {
            fprintf(stderr, "fmugwd admin: a key needs at least one scope\n");
            return 2;
        }
        if (find_account(&acct, c, o->email) != 0)
            return fail("key create");
        snprintf(x.account_id, sizeof x.account_id, "%s", acct->id);
        store_account_free(acct);
        if (db_transact(c, key_create_tx, &x) != 0)
            return fail("key create");
        if (o->json)
            print_json(json_pack("{s:s,s:s,s:s}", "key_id", x.key_id, "api_key", x.key, "account_id", x.account_id));
        else
            printf("key_id: %s\napi_key: %s\n(the key is shown only this once)\n", x.key_id, x.key);
        crypto_wipe(x.key, sizeof x.key);
        return 0;
    }
    if (!strcmp(verb, "list")) {
        store_apikey **list = NULL;
        size_t n = 0;
        if (find_account(&acct, c, o->email) != 0 || store_apikey_list(&list, &n, c, acct->id) != 0) {
            store_account_free(acct);
            return fail("key list");
        }
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            const store_apikey *k = list[i];
            const char *state = k->revoked_at ? "revoked" : k->locked_at ? "locked" : "active";
            if (o->json)
                json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:o,s:o}", "id", k->id, "hint", k->prefix,
                                                     "scopes", k->scopes, "state", state, "created_at",
                                                     app__time_json(k->created_at), "last_used_at",
                                                     app__time_json(k->last_used_at)));
            else
                printf("%s  %-22s %-7s %s%s%s\n", k->id, k->prefix, state, k->scopes,
                       k->lock_reason ? "  lock: " : "", k->lock_reason ? k->lock_reason : "");
        }
        if (o->json)
            print_json(arr);
        else
            json_decref(arr);
        store_apikey_list_free(list, n);
        store_account_free(acct);
        return 0;
    }
    bool revoke = !strcmp(verb, "revoke"), unlock = !strcmp(verb, "unlock");
    if (!revoke && !unlock)
        return usage();
    if (!o->id) {
        fprintf(stderr, "fmugwd admin: key %s needs --id\n", verb);
        return 2;
    }
    change_ctx x = {.a = a, .o = o, .what = revoke ? ACT_KEY_REVOKE : ACT_KEY_UNLOCK, .target = o->id};
    rc = db_transact(c, change_tx, &x) != 0 ? fail(verb) : 0;
    return rc;
}

static int cmd_credits(app *a, db_conn *c, const char *verb, const opts *o)
{
    store_account *acct = NULL;
    bool set = !strcmp(verb, "set"), grant = !strcmp(verb, "grant"), show = !strcmp(verb, "show");
    long long amount = 0;
    int rc = 1;
    if (!set && !grant && !show)
        return usage();
    if (!show) {
        char *end = NULL;
        errno = 0;
        amount = o->amount ? strtoll(o->amount, &end, 10) : 0;
        if (!o->amount || !*o->amount || *end || errno || (set && amount < 0) || (grant && amount <= 0) ||
            amount > 1000000000000LL) {
            fprintf(stderr, "fmugwd admin: --amount must be a whole number of credits%s\n",
                    set ? " >= 0" : " > 0");
            return 2;
        }
    }
    if (find_account(&acct, c, o->email) != 0)
        return fail("credits");
    if (!show) {
        change_ctx x = {.a = a, .o = o, .what = set ? ACT_CREDITS_SET : ACT_CREDITS_GRANT, .target = acct->id,
                        .amount = amount};
        if (db_transact(c, change_tx, &x) != 0) {
            rc = fail(verb);
            goto out;
        }
    }
    ledger_balance b;
    if (ledger_balance_get(c, acct->id, &b) != 0) {
        rc = fail("credits");
        goto out;
    }
    /* Credits with up to 3 decimals (exact: the ledger counts millicredits). */
    char bal[3][48];
    int64_t v[3] = {b.available, b.reserved, b.overage_used};
    for (int i = 0; i < 3; i++) {
        int64_t m = v[i] < 0 ? -v[i] : v[i];
        if (m % LEDGER_MILLI)
            snprintf(bal[i], sizeof bal[i], "%s%lld.%03lld", v[i] < 0 ? "-" : "", (long long)(m / LEDGER_MILLI),
                     (long long)(m % LEDGER_MILLI));
        else
            snprintf(bal[i], sizeof bal[i], "%lld", (long long)(v[i] / LEDGER_MILLI));
    }
    printf("{\"account_id\":\"%s\",\"balance\":%s,\"reserved\":%s,\"overage_used\":%s}\n", acct->id, bal[0],
           bal[1], bal[2]);
    rc = 0;
out:
    store_account_free(acct);
    return rc;
}

static int cmd_audit(db_conn *c, const char *verb)
{
    int64_t bad = 0, count = 0;
    if (strcmp(verb, "verify") != 0)
        return usage();
    if (store_audit_verify(&bad, &count, c) != 0)
        return fail("audit verify");
    if (bad) {
        printf("audit chain altered: first bad entry seq %lld (of %lld read)\n", (long long)bad, (long long)count);
        return 1;
    }
    printf("audit chain intact: %lld entries\n", (long long)count);
    return 0;
}

typedef struct {
    const opts *o;
    json_t *list; /* --json: the runs that did or would charge, or were done */
} storage_print;

static void print_run(const storage_run *r, int rc, void *ud)
{
    storage_print *sp = ud;
    if (rc != 0) {
        fprintf(stderr, "fmugwd admin: storage charge: %s: %s\n", r->account_id, fmugw_error_last());
        return;
    }
    if (!r->recorded && !r->already)
        return;
    if (sp->o->json) {
        json_array_append_new(
            sp->list, json_pack("{s:s,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "account_id", r->account_id,
                                "already", r->already, "from_ms", (json_int_t)r->from_ms, "through_ms",
                                (json_int_t)r->through_ms, "fmu_bytes", (json_int_t)r->fmu_bytes, "result_bytes",
                                (json_int_t)r->result_bytes, "cost_micro", (json_int_t)r->cost_micro, "due",
                                (json_int_t)r->due, "charged", (json_int_t)r->charged, "overage",
                                (json_int_t)r->overage, "unpaid", (json_int_t)r->unpaid));
    } else if (r->already) {
        printf("%s  already charged today\n", r->account_id);
    } else {
        printf("%s  %lld bytes stored  %s %lld millicredits (%lld from overage)  unpaid %lld\n", r->account_id,
               (long long)(r->fmu_bytes + r->result_bytes), sp->o->now ? "charged" : "would charge",
               (long long)r->charged, (long long)r->overage, (long long)r->unpaid);
    }
}

static int cmd_storage(app *a, db_conn *c, const opts *o)
{
    storage_sweep s;
    storage_print sp = {.o = o, .list = o->json ? json_array() : NULL};
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    int rc = storage_accrue_all(&s, c, a->pricing, now, !o->now, print_run, &sp);
    if (o->now && s.recorded > 0)
        app_audit(a, c, ACTOR, "storage.charge", NULL,
                  json_pack("{s:I,s:I,s:I}", "accounts", (json_int_t)s.recorded, "charged", (json_int_t)s.charged,
                            "unpaid", (json_int_t)s.unpaid));
    if (o->json)
        print_json(json_pack("{s:b,s:o,s:I,s:I,s:I,s:I}", "dry_run", !o->now, "accounts", sp.list, "charged",
                             (json_int_t)s.charged, "unpaid", (json_int_t)s.unpaid, "already", (json_int_t)s.already,
                             "failed", (json_int_t)s.failed));
    else
        printf("%s %lld millicredits for %zu accounts (%zu already charged today, %zu failed)%s\n",
               o->now ? "charged" : "would charge", (long long)s.charged, s.recorded, s.already, s.failed,
               o->now ? "" : "; run with --now to charge");
    if (rc != 0) {
        fprintf(stderr, "fmugwd admin: storage charge: %zu accounts failed\n", s.failed);
        return 1;
    }
    return 0;
}

int admin_main(int argc, char **argv)
{
    const char *data_dir = NULL, *config_path = getenv("FMUGW_CONFIG");
    const char *noun = NULL, *verb = NULL;
    opts o = {0};
    fmugw_config *cfg = NULL;
    app *a = NULL;
    db_conn *c = NULL;
    int rc = 2;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char **slot = NULL;
        if (!strcmp(arg, "--json")) {
            o.json = true;
            continue;
        }
        if (!strcmp(arg, "--now")) {
            o.now = true;
            continue;
        }
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            usage();
            return 0;
        }
        if (!strcmp(arg, "--data-dir"))
            slot = &data_dir;
        else if (!strcmp(arg, "--config"))
            slot = &config_path;
        else if (!strcmp(arg, "--email"))
            slot = &o.email;
        else if (!strcmp(arg, "--tier"))
            slot = &o.tier;
        else if (!strcmp(arg, "--scopes"))
            slot = &o.scopes;
        else if (!strcmp(arg, "--name"))
            slot = &o.name;
        else if (!strcmp(arg, "--id"))
            slot = &o.id;
        else if (!strcmp(arg, "--amount"))
            slot = &o.amount;
        else if (!strcmp(arg, "--reason"))
            slot = &o.reason;
        if (slot) {
            if (i + 1 >= argc) {
                fprintf(stderr, "fmugwd admin: %s needs a value\n", arg);
                return 2;
            }
            *slot = argv[++i];
        } else if (arg[0] == '-') {
            fprintf(stderr, "fmugwd admin: unknown option %s\n", arg);
            return usage();
        } else if (!noun) {
            noun = arg;
        } else if (!verb) {
            verb = arg;
        } else {
            fprintf(stderr, "fmugwd admin: unexpected argument \"%s\"\n", arg);
            return usage();
        }
    }
    if (!noun || !verb)
        return usage();
    if (check_usage(noun, verb, &o) != 0)
        return 2;

    /* The admin CLI logs nothing but errors (stdout carries its answers). */
    fmugw_log_set_level(FMUGW_LOG_ERROR);
    if (config_new(&cfg) != 0 || (config_path && config_load_file(cfg, config_path) != 0) ||
        config_load_env(cfg) != 0 || (data_dir && config_set(cfg, "data_dir", data_dir) != 0)) {
        fail("configuration");
        rc = 2;
        goto out;
    }
    if (app__open(&a, cfg, NULL, APP_OPEN_OFFLINE) != 0) {
        rc = fail("open data directory");
        goto out;
    }
    if (db_pool_acquire(&c, a->db) != 0) {
        rc = fail("database");
        goto out;
    }
    if (!strcmp(noun, "account"))
        rc = cmd_account(a, c, verb, &o);
    else if (!strcmp(noun, "key"))
        rc = cmd_key(a, c, verb, &o);
    else if (!strcmp(noun, "credits"))
        rc = cmd_credits(a, c, verb, &o);
    else if (!strcmp(noun, "storage"))
        rc = cmd_storage(a, c, &o);
    else
        rc = cmd_audit(c, verb);
    fflush(stdout);
out:
    if (c)
        db_pool_release(a->db, c);
    app_free(a);
    config_free(cfg);
    return rc;
}
