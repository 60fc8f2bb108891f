/*
 * ledger.c - the double-entry credit ledger (see ledger.h) on the tables of
 * migration 3: ledger_ops (one row per operation; its idempotency key is
 * the primary key, `closes` = job id for settle/release so a job closes
 * once) and ledger_entries (the immutable legs: debit, credit, amount).
 *
 * Every operation runs in db_transact (joining the caller's transaction)
 * and checks its key with a SELECT before inserting, so a repeat answers
 * FMUGW_EEXISTS without a failed statement (PostgreSQL would abort the
 * outer transaction on a constraint violation). Balances are sums over the
 * legs; nothing here updates or deletes a row. Pricing lives in pricing.c.
 */
#include "ledger/ledger.h"

#include "util/error.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BOOK_MAX 96
#define KEY_MAX 160

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int book_name(char out[BOOK_MAX], const char *account_id, const char *which)
{
    if (!account_id || !account_id[0] || strlen(account_id) > 64 || strchr(account_id, ':'))
        return fmugw_error_set(FMUGW_EINVALID, "bad account id");
    snprintf(out, BOOK_MAX, "user:%s:%s", account_id, which);
    return 0;
}

static int make_key(char out[KEY_MAX], const char *prefix, const char *id)
{
    if (!id || !id[0] || strlen(id) > 100)
        return fmugw_error_set(FMUGW_EINVALID, "bad %s id", prefix);
    snprintf(out, KEY_MAX, "%s:%s", prefix, id);
    return 0;
}

/* Credits minus debits of one book account: its running balance
 * (ledger_books, kept with every entry; ledger_check proves it equals the
 * sum over the entries). */
static int book_balance(db_conn *c, const char *book, int64_t *out)
{
    db_stmt *st = NULL;
    *out = 0;
    int rc = db_query(&st, c, "SELECT balance FROM ledger_books WHERE book = $1", "t", book);
    if (rc == 0 && (rc = db_step(st)) == 1)
        *out = db_column_int64(st, 0);
    db_finalize(st);
    return rc < 0 ? rc : 0;
}

/* Adds `delta` to the running balance of `book`. */
static int book_add(db_conn *c, const char *book, int64_t delta)
{
    return db_execp(NULL, c,
                    "INSERT INTO ledger_books (book, balance) VALUES ($1, $2)"
                    " ON CONFLICT (book) DO UPDATE SET balance = ledger_books.balance + excluded.balance",
                    "ti", book, delta);
}

/* 1 when a row answers `sql` (bound to one text), 0 when none. */
static int exists1(db_conn *c, const char *sql, const char *arg)
{
    db_stmt *st = NULL;
    int rc = db_query(&st, c, sql, "t", arg);
    if (rc == 0)
        rc = db_step(st);
    db_finalize(st);
    return rc;
}

static int op_insert(db_conn *c, const char *key, const char *kind, const char *account_id, const char *job_id,
                     const char *closes, int64_t at, int64_t amount, int64_t overage, const char *detail)
{
    return db_execp(NULL, c,
                    "INSERT INTO ledger_ops (op_key, kind, account_id, job_id, closes, at, amount, overage, detail)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    "tttttiiit", key, kind, account_id, job_id, closes, at, amount, overage, detail);
}

/* The legs of one operation: written in order with consecutive seqs. */
typedef struct {
    db_conn *c;
    const char *op_key;
    const char *account_id;
    const char *job_id;
    int64_t at;
    int64_t seq; /* next seq; 0 = not read yet */
    int leg;
} legs;

static int leg_add(legs *l, const char *kind, const char *debit, const char *credit, int64_t amount,
                   const char *detail)
{
    int rc;
    if (amount == 0)
        return 0;
    if (l->seq == 0) {
        db_stmt *st = NULL;
        rc = db_query(&st, l->c, "SELECT COALESCE(MAX(seq), 0) FROM ledger_entries", NULL);
        if (rc == 0 && (rc = db_step(st)) == 1) {
            l->seq = db_column_int64(st, 0) + 1;
            rc = 0;
        }
        db_finalize(st);
        if (rc != 0)
            return rc;
    }
    rc = db_execp(NULL, l->c,
                  "INSERT INTO ledger_entries (seq, at, op_key, leg, kind, debit, credit, amount, account_id,"
                  " job_id, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                  "iititttittt", l->seq, l->at, l->op_key, (int64_t)l->leg, kind, debit, credit, amount,
                  l->account_id, l->job_id, detail);
    if (rc == 0 && (rc = book_add(l->c, credit, amount)) == 0)
        rc = book_add(l->c, debit, -amount);
    if (rc == 0) {
        l->seq++;
        l->leg++;
    }
    return rc;
}

static char *reason_json(const char *reason)
{
    if (!reason)
        return NULL;
    json_t *j = json_pack("{s:s}", "reason", reason);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;
}

/* ---- grant / adjust ------------------------------------------------------ */

typedef struct {
    const char *account_id;
    int64_t amount;
    const char *key;
    const char *reason;
    bool adjust;
} grant_ctx;

static int grant_tx(db_conn *c, void *p)
{
    grant_ctx *g = p;
    char avail[BOOK_MAX], *detail = NULL;
    int64_t at = now_ms();
    int rc;

    if ((rc = book_name(avail, g->account_id, "available")) != 0)
        return rc;
    if ((rc = exists1(c, "SELECT 1 FROM ledger_ops WHERE op_key = $1", g->key)) != 0)
        return rc == 1 ? fmugw_error_set(FMUGW_EEXISTS, "ledger operation already applied") : rc;
    if (g->adjust) {
        int64_t have = 0;
        if ((rc = book_balance(c, avail, &have)) != 0)
            return rc;
        if (have < g->amount)
            return fmugw_error_set(FMUGW_ELIMIT, "cannot take back more credits than are available");
    }
    if (g->reason && !(detail = reason_json(g->reason)))
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    rc = op_insert(c, g->key, g->adjust ? "adjust" : "grant", g->account_id, NULL, NULL, at, g->amount, 0, detail);
    if (rc == FMUGW_EINVALID)
        rc = fmugw_error_set(FMUGW_EINVALID, "no such account");
    if (rc == 0) {
        legs l = {c, g->key, g->account_id, NULL, at, 0, 0};
        rc = g->adjust ? leg_add(&l, "adjust", avail, "system:grants", g->amount, detail)
                       : leg_add(&l, "grant", "system:grants", avail, g->amount, detail);
    }
    free(detail);
    return rc;
}

static int grant_common(db_conn *c, const char *account_id, int64_t amount, const char *key, const char *reason,
                        bool adjust)
{
    if (amount <= 0)
        return fmugw_error_set(FMUGW_EINVALID, "a ledger amount must be positive");
    if (!key || !key[0] || strlen(key) >= KEY_MAX)
        return fmugw_error_set(FMUGW_EINVALID, "a ledger operation needs an idempotency key");
    grant_ctx g = {account_id, amount, key, reason, adjust};
    return db_transact(c, grant_tx, &g);
}

int ledger_grant(db_conn *c, const char *account_id, int64_t amount, const char *key, const char *reason)
{
    return grant_common(c, account_id, amount, key, reason, false);
}

int ledger_adjust(db_conn *c, const char *account_id, int64_t amount, const char *key, const char *reason)
{
    return grant_common(c, account_id, amount, key, reason, true);
}

/* ---- reserve ------------------------------------------------------------- */

typedef struct {
    const char *account_id;
    const char *job_id;
    int64_t amount;
    bool allow_overage;
    int64_t shortfall;
} reserve_ctx;

static int reserve_tx(db_conn *c, void *p)
{
    reserve_ctx *r = p;
    char key[KEY_MAX], avail[BOOK_MAX], held[BOOK_MAX], over[BOOK_MAX];
    int64_t have = 0, from_avail, from_over, at = now_ms();
    int rc;

    r->shortfall = 0;
    if ((rc = make_key(key, "reserve", r->job_id)) != 0 || (rc = book_name(avail, r->account_id, "available")) != 0 ||
        (rc = book_name(held, r->account_id, "reserved")) != 0 ||
        (rc = book_name(over, r->account_id, "overage")) != 0)
        return rc;
    if ((rc = exists1(c, "SELECT 1 FROM ledger_ops WHERE op_key = $1", key)) != 0)
        return rc == 1 ? fmugw_error_set(FMUGW_EEXISTS, "job already has a reservation") : rc;
    if ((rc = exists1(c, "SELECT 1 FROM ledger_ops WHERE closes = $1", r->job_id)) != 0)
        return rc == 1 ? fmugw_error_set(FMUGW_EEXISTS, "job is already closed") : rc;
    if ((rc = book_balance(c, avail, &have)) != 0)
        return rc;
    if (have < 0)
        have = 0;
    from_avail = r->amount <= have ? r->amount : have;
    from_over = r->amount - from_avail;
    if (from_over > 0 && !r->allow_overage) {
        r->shortfall = from_over;
        return fmugw_error_set(FMUGW_ELIMIT, "insufficient credits: %lld.%03lld more needed",
                               (long long)(from_over / LEDGER_MILLI), (long long)(from_over % LEDGER_MILLI));
    }
    rc = op_insert(c, key, "reserve", r->account_id, r->job_id, NULL, at, r->amount, from_over, NULL);
    if (rc == FMUGW_EINVALID)
        rc = fmugw_error_set(FMUGW_EINVALID, "no such account");
    if (rc == 0) {
        legs l = {c, key, r->account_id, r->job_id, at, 0, 0};
        if ((rc = leg_add(&l, "reserve", avail, held, from_avail, NULL)) == 0)
            rc = leg_add(&l, "overage", over, held, from_over, NULL);
    }
    return rc;
}

int ledger_reserve(db_conn *c, const char *account_id, const char *job_id, int64_t amount, bool allow_overage,
                   int64_t *shortfall)
{
    reserve_ctx r = {account_id, job_id, amount, allow_overage, 0};
    int rc;
    if (amount < 0)
        return fmugw_error_set(FMUGW_EINVALID, "a reservation cannot be negative");
    rc = db_transact(c, reserve_tx, &r);
    if (shortfall)
        *shortfall = rc == FMUGW_ELIMIT ? r.shortfall : 0;
    return rc;
}

/* ---- settle / release ---------------------------------------------------- */

typedef struct {
    const char *job_id;
    int64_t charge; /* < 0: release */
    const char *detail;
} close_ctx;

typedef struct {
    char *account_id;
    int64_t amount;
    int64_t overage;
} reservation;

static int reservation_get(db_conn *c, const char *job_id, reservation *out)
{
    char key[KEY_MAX];
    db_stmt *st = NULL;
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = make_key(key, "reserve", job_id)) != 0)
        return rc;
    rc = db_query(&st, c, "SELECT account_id, amount, overage FROM ledger_ops WHERE op_key = $1", "t", key);
    if (rc == 0 && (rc = db_step(st)) == 1) {
        rc = db_column_text_dup(&out->account_id, st, 0);
        out->amount = db_column_int64(st, 1);
        out->overage = db_column_int64(st, 2);
    } else if (rc == 0) {
        rc = fmugw_error_set(FMUGW_ENOTFOUND, "job has no reservation");
    }
    db_finalize(st);
    return rc;
}

static int close_tx(db_conn *c, void *p)
{
    close_ctx *x = p;
    bool settle = x->charge >= 0;
    reservation r;
    char key[KEY_MAX], avail[BOOK_MAX], held[BOOK_MAX], over[BOOK_MAX];
    int64_t at = now_ms();
    int rc;

    if ((rc = make_key(key, settle ? "settle" : "release", x->job_id)) != 0)
        return rc;
    if ((rc = exists1(c, "SELECT 1 FROM ledger_ops WHERE closes = $1", x->job_id)) != 0)
        return rc == 1 ? fmugw_error_set(FMUGW_EEXISTS, "job already settled or released") : rc;
    if ((rc = reservation_get(c, x->job_id, &r)) != 0)
        return rc;
    if ((rc = book_name(avail, r.account_id, "available")) != 0 ||
        (rc = book_name(held, r.account_id, "reserved")) != 0 || (rc = book_name(over, r.account_id, "overage")) != 0)
        goto out;
    {
        int64_t charge = settle ? (x->charge < r.amount ? x->charge : r.amount) : 0;
        int64_t rest = r.amount - charge;
        int64_t back_over = rest < r.overage ? rest : r.overage;
        int64_t back_avail = rest - back_over;
        int64_t net_over = r.overage - back_over;
        legs l = {c, key, r.account_id, x->job_id, at, 0, 0};
        rc = op_insert(c, key, settle ? "settle" : "release", r.account_id, x->job_id, x->job_id, at,
                       settle ? charge : r.amount, settle ? net_over : 0, settle ? x->detail : NULL);
        if (rc == 0 && settle)
            rc = leg_add(&l, "settle", held, "system:revenue", charge, x->detail);
        if (rc == 0)
            rc = leg_add(&l, "release", held, over, back_over, NULL);
        if (rc == 0)
            rc = leg_add(&l, "release", held, avail, back_avail, NULL);
    }
out:
    free(r.account_id);
    return rc;
}

int ledger_settle_detail(db_conn *c, const char *job_id, int64_t charge, const char *detail)
{
    if (charge < 0)
        return fmugw_error_set(FMUGW_EINVALID, "a charge cannot be negative");
    close_ctx x = {job_id, charge, detail};
    return db_transact(c, close_tx, &x);
}

int ledger_settle(db_conn *c, const char *job_id, int64_t charge)
{
    return ledger_settle_detail(c, job_id, charge, NULL);
}

int ledger_release(db_conn *c, const char *job_id)
{
    close_ctx x = {job_id, -1, NULL};
    return db_transact(c, close_tx, &x);
}

/* ---- storage ------------------------------------------------------------- */

typedef struct {
    const char *account_id;
    const char *day;
    int64_t amount;
    bool allow_overage;
    const char *detail;
    int64_t charged, overage;
} storage_ctx;

static int storage_tx(db_conn *c, void *p)
{
    storage_ctx *x = p;
    char key[KEY_MAX], avail[BOOK_MAX], over[BOOK_MAX];
    int64_t have = 0, at = now_ms();
    int rc;

    x->charged = x->overage = 0;
    if (!x->day || strlen(x->day) != 10 || strlen(x->account_id ? x->account_id : "") > 64)
        return fmugw_error_set(FMUGW_EINVALID, "bad storage charge day or account");
    snprintf(key, sizeof key, "storage:%s:%s", x->account_id, x->day);
    if ((rc = book_name(avail, x->account_id, "available")) != 0 || (rc = book_name(over, x->account_id, "overage")) != 0)
        return rc;
    if ((rc = exists1(c, "SELECT 1 FROM ledger_ops WHERE op_key = $1", key)) != 0)
        return rc == 1 ? fmugw_error_set(FMUGW_EEXISTS, "storage already charged for %s", x->day) : rc;
    if ((rc = book_balance(c, avail, &have)) != 0)
        return rc;
    if (have < 0)
        have = 0;
    int64_t from_avail = x->amount <= have ? x->amount : have;
    int64_t from_over = x->allow_overage ? x->amount - from_avail : 0;
    if (from_avail + from_over == 0)
        return 0;
    rc = op_insert(c, key, "storage", x->account_id, NULL, NULL, at, from_avail + from_over, from_over, x->detail);
    if (rc == FMUGW_EINVALID)
        rc = fmugw_error_set(FMUGW_EINVALID, "no such account");
    if (rc == 0) {
        legs l = {c, key, x->account_id, NULL, at, 0, 0};
        if ((rc = leg_add(&l, "storage", avail, "system:revenue", from_avail, x->detail)) == 0)
            rc = leg_add(&l, "storage", over, "system:revenue", from_over, x->detail);
    }
    if (rc == 0) {
        x->charged = from_avail + from_over;
        x->overage = from_over;
    }
    return rc;
}

int ledger_storage_charge(db_conn *c, const char *account_id, const char *day, int64_t amount, bool allow_overage,
                          const char *detail, int64_t *charged, int64_t *overage)
{
    storage_ctx x = {account_id, day, amount, allow_overage, detail, 0, 0};
    if (amount <= 0)
        return fmugw_error_set(FMUGW_EINVALID, "a ledger amount must be positive");
    int rc = db_transact(c, storage_tx, &x);
    if (charged)
        *charged = rc == 0 ? x.charged : 0;
    if (overage)
        *overage = rc == 0 ? x.overage : 0;
    return rc;
}

/* ---- reads --------------------------------------------------------------- */

int ledger_job_amounts(db_conn *c, const char *job_id, int64_t *reserved, int64_t *charged)
{
    db_stmt *st = NULL;
    int rc;
    *reserved = 0;
    *charged = 0;
    rc = db_query(&st, c, "SELECT kind, amount FROM ledger_ops WHERE job_id = $1 AND kind IN ('reserve', 'settle')",
                  "t", job_id);
    while (rc == 0 && (rc = db_step(st)) == 1) {
        const char *kind = db_column_text(st, 0);
        if (kind && !strcmp(kind, "reserve"))
            *reserved = db_column_int64(st, 1);
        else
            *charged = db_column_int64(st, 1);
        rc = 0;
    }
    db_finalize(st);
    return rc;
}

int ledger_balance_get(db_conn *c, const char *account_id, ledger_balance *out)
{
    char avail[BOOK_MAX], held[BOOK_MAX], over[BOOK_MAX];
    int64_t o = 0;
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = book_name(avail, account_id, "available")) != 0 || (rc = book_name(held, account_id, "reserved")) != 0 ||
        (rc = book_name(over, account_id, "overage")) != 0)
        return rc;
    if ((rc = book_balance(c, avail, &out->available)) != 0 || (rc = book_balance(c, held, &out->reserved)) != 0 ||
        (rc = book_balance(c, over, &o)) != 0)
        return rc;
    out->overage_used = -o;
    return 0;
}

/* ---- check --------------------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Runs `sql`; a first row is a violation described by `what` and its
 * first column. */
static int check_none(db_conn *c, const char *sql, const char *what)
{
    db_stmt *st = NULL;
    int rc = db_query(&st, c, sql, NULL);
    if (rc == 0 && (rc = db_step(st)) == 1) {
        const char *v = db_column_text(st, 0);
        rc = fmugw_error_set(FMUGW_ERROR, "ledger: %s (%s)", what, v ? v : "?");
    }
    db_finalize(st);
    return rc;
}

static int check_books(db_conn *c)
{
    db_stmt *st = NULL;
    int64_t total = 0;
    int rc = db_query(&st, c,
                      "SELECT book, SUM(x) FROM ("
                      " SELECT credit AS book, amount AS x FROM ledger_entries"
                      " UNION ALL SELECT debit AS book, -amount AS x FROM ledger_entries) t GROUP BY book",
                      NULL);
    while (rc == 0 && (rc = db_step(st)) == 1) {
        const char *book = db_column_text(st, 0);
        int64_t bal = db_column_int64(st, 1);
        rc = 0;
        total += bal;
        if (!book)
            rc = fmugw_error_set(FMUGW_ERROR, "ledger: an entry without a book account");
        else if (!strcmp(book, "system:grants")) {
            if (bal > 0)
                rc = fmugw_error_set(FMUGW_ERROR, "ledger: system:grants is positive");
        } else if (!strcmp(book, "system:revenue")) {
            if (bal < 0)
                rc = fmugw_error_set(FMUGW_ERROR, "ledger: system:revenue is negative");
        } else if (strncmp(book, "user:", 5) != 0) {
            rc = fmugw_error_set(FMUGW_ERROR, "ledger: unknown book account %s", book);
        } else if (ends_with(book, ":available") || ends_with(book, ":reserved")) {
            if (bal < 0)
                rc = fmugw_error_set(FMUGW_ERROR, "ledger: %s is negative (%lld)", book, (long long)bal);
        } else if (ends_with(book, ":overage")) {
            if (bal > 0)
                rc = fmugw_error_set(FMUGW_ERROR, "ledger: %s is positive (%lld)", book, (long long)bal);
        } else {
            rc = fmugw_error_set(FMUGW_ERROR, "ledger: unknown book account %s", book);
        }
    }
    db_finalize(st);
    if (rc == 0 && total != 0)
        rc = fmugw_error_set(FMUGW_ERROR, "ledger: the books do not sum to zero (%lld)", (long long)total);
    return rc;
}

/* Each operation's legs add up to what the operation says. */
static int check_ops(db_conn *c)
{
    db_stmt *st = NULL;
    int rc = db_query(&st, c,
                      "SELECT o.op_key, o.kind, o.amount, o.overage, COALESCE(SUM(e.amount), 0),"
                      " COALESCE(SUM(CASE WHEN e.kind = 'settle' THEN e.amount ELSE 0 END), 0),"
                      " COALESCE(SUM(CASE WHEN e.kind = 'overage' THEN e.amount ELSE 0 END), 0),"
                      " COALESCE(SUM(CASE WHEN e.account_id <> o.account_id THEN 1 ELSE 0 END), 0)"
                      " FROM ledger_ops o LEFT JOIN ledger_entries e ON e.op_key = o.op_key"
                      " GROUP BY o.op_key, o.kind, o.amount, o.overage",
                      NULL);
    while (rc == 0 && (rc = db_step(st)) == 1) {
        const char *key = db_column_text(st, 0), *kind = db_column_text(st, 1);
        int64_t amount = db_column_int64(st, 2), overage = db_column_int64(st, 3), legs_sum = db_column_int64(st, 4),
                settle_sum = db_column_int64(st, 5), over_sum = db_column_int64(st, 6),
                foreign = db_column_int64(st, 7);
        bool settle = kind && !strcmp(kind, "settle");
        rc = 0;
        if (foreign)
            rc = fmugw_error_set(FMUGW_ERROR, "ledger: operation %s has legs of another account", key);
        else if (settle ? settle_sum != amount : legs_sum != amount)
            rc = fmugw_error_set(FMUGW_ERROR, "ledger: the legs of %s do not add up to %lld", key, (long long)amount);
        else if (kind && !strcmp(kind, "reserve") && over_sum != overage)
            rc = fmugw_error_set(FMUGW_ERROR, "ledger: the overage legs of %s do not add up", key);
    }
    db_finalize(st);
    return rc;
}

/* What a job holds comes back exactly once: all of it when it is closed,
 * none of it while it is open. */
static int check_jobs(db_conn *c)
{
    db_stmt *st = NULL;
    int rc = db_query(&st, c,
                      "SELECT t.job_id, t.held, t.outgo,"
                      " (SELECT COUNT(*) FROM ledger_ops o WHERE o.job_id = t.job_id"
                      "   AND o.kind IN ('settle', 'release')) FROM ("
                      " SELECT job_id,"
                      "  SUM(CASE WHEN kind IN ('reserve', 'overage') THEN amount ELSE 0 END) AS held,"
                      "  SUM(CASE WHEN kind IN ('settle', 'release') THEN amount ELSE 0 END) AS outgo"
                      " FROM ledger_entries WHERE job_id IS NOT NULL GROUP BY job_id) t",
                      NULL);
    while (rc == 0 && (rc = db_step(st)) == 1) {
        const char *job = db_column_text(st, 0);
        int64_t held = db_column_int64(st, 1), outgo = db_column_int64(st, 2), closes = db_column_int64(st, 3);
        rc = 0;
        if (closes > 1)
            rc = fmugw_error_set(FMUGW_ERROR, "ledger: job %s is closed %lld times", job, (long long)closes);
        else if (closes == 1 && outgo != held)
            rc = fmugw_error_set(FMUGW_ERROR, "ledger: job %s held %lld but returned/charged %lld", job,
                                 (long long)held, (long long)outgo);
        else if (closes == 0 && outgo != 0)
            rc = fmugw_error_set(FMUGW_ERROR, "ledger: open job %s has charges", job);
    }
    db_finalize(st);
    return rc;
}

int ledger_check(db_conn *c)
{
    int rc;
    if ((rc = check_none(c,
                         "SELECT CAST(seq AS TEXT) FROM ledger_entries WHERE amount <= 0 OR debit = credit"
                         " OR (debit <> 'system:grants' AND debit <> 'system:revenue'"
                         "     AND debit NOT LIKE 'user:' || account_id || ':%')"
                         " OR (credit <> 'system:grants' AND credit <> 'system:revenue'"
                         "     AND credit NOT LIKE 'user:' || account_id || ':%')",
                         "an entry with a bad amount or accounts")) != 0)
        return rc;
    if ((rc = check_none(c,
                         "SELECT CAST(e.seq AS TEXT) FROM ledger_entries e LEFT JOIN ledger_ops o"
                         " ON o.op_key = e.op_key WHERE o.op_key IS NULL",
                         "an entry without an operation")) != 0)
        return rc;
    if ((rc = check_none(c,
                         "SELECT CAST(seq AS TEXT) FROM ledger_entries WHERE job_id IS NULL"
                         " AND (debit LIKE '%:reserved' OR credit LIKE '%:reserved'"
                         "      OR kind IN ('reserve', 'overage', 'settle', 'release'))",
                         "a job movement without a job")) != 0)
        return rc;
    if ((rc = check_none(c,
                         "SELECT job_id FROM ledger_entries WHERE kind IN ('settle', 'release')"
                         " AND job_id IS NOT NULL GROUP BY job_id HAVING COUNT(DISTINCT op_key) > 1",
                         "a job settled or released more than once")) != 0)
        return rc;
    if ((rc = check_books(c)) != 0 || (rc = check_ops(c)) != 0 || (rc = check_jobs(c)) != 0)
        return rc;
    /* The running balances are the sums of the entries, book by book. */
    if ((rc = check_none(c,
                         "SELECT d.book FROM (SELECT book, SUM(x) AS s FROM ("
                         "  SELECT credit AS book, amount AS x FROM ledger_entries"
                         "  UNION ALL SELECT debit AS book, -amount AS x FROM ledger_entries) t GROUP BY book) d"
                         " LEFT JOIN ledger_books b ON b.book = d.book WHERE COALESCE(b.balance, 0) <> d.s"
                         " UNION ALL SELECT b.book FROM ledger_books b WHERE b.balance <> 0 AND NOT EXISTS"
                         " (SELECT 1 FROM ledger_entries e WHERE e.credit = b.book OR e.debit = b.book)",
                         "a running balance differs from the sum of its entries")) != 0)
        return rc;
    return 0;
}

/* ---- listings ------------------------------------------------------------ */

int ledger_entries(ledger_entry **out, size_t *n, db_conn *c, const char *account_id, int64_t before_seq,
                   int limit)
{
    db_stmt *st = NULL;
    ledger_entry *v = NULL;
    size_t k = 0;
    int rc;

    *out = NULL;
    *n = 0;
    if (limit <= 0 || limit > 1000)
        return fmugw_error_set(FMUGW_EINVALID, "limit must be 1-1000");
    if (!(v = calloc((size_t)limit, sizeof *v)))
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    rc = db_query(&st, c,
                  "SELECT seq, at, kind, debit, credit, amount, job_id, detail FROM ledger_entries"
                  " WHERE account_id = $1 AND ($2 <= 0 OR seq < $2) ORDER BY seq DESC LIMIT $3",
                  "tii", account_id, before_seq, (int64_t)limit);
    while (rc == 0 && k < (size_t)limit && (rc = db_step(st)) == 1) {
        ledger_entry *e = &v[k++];
        e->seq = db_column_int64(st, 0);
        e->at_ms = db_column_int64(st, 1);
        e->amount = db_column_int64(st, 5);
        if ((rc = db_column_text_dup(&e->kind, st, 2)) != 0 || (rc = db_column_text_dup(&e->debit, st, 3)) != 0 ||
            (rc = db_column_text_dup(&e->credit, st, 4)) != 0 || (rc = db_column_text_dup(&e->job_id, st, 6)) != 0 ||
            (rc = db_column_text_dup(&e->detail, st, 7)) != 0)
            break;
    }
    db_finalize(st);
    if (rc < 0) {
        ledger_entries_free(v, k);
        return rc;
    }
    *out = v;
    *n = k;
    return 0;
}

void ledger_entries_free(ledger_entry *entries, size_t n)
{
    if (!entries)
        return;
    for (size_t i = 0; i < n; i++) {
        free(entries[i].kind);
        free(entries[i].debit);
        free(entries[i].credit);
        free(entries[i].job_id);
        free(entries[i].detail);
    }
    free(entries);
}

/* ---- billing cycles, usage ----------------------------------------------- */

static int days_in_month(int year, int month0)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month0 == 1 && leap ? 29 : d[month0];
}

/* 00:00 UTC of the anchor day in (year, month0), clamped to the month. */
static int64_t cycle_start_in(int year, int month0, int anchor_day)
{
    while (month0 < 0) {
        month0 += 12;
        year--;
    }
    while (month0 > 11) {
        month0 -= 12;
        year++;
    }
    struct tm tm = {0};
    int dim = days_in_month(year, month0);
    tm.tm_year = year - 1900;
    tm.tm_mon = month0;
    tm.tm_mday = anchor_day < dim ? anchor_day : dim;
    return (int64_t)timegm(&tm) * 1000;
}

void ledger_cycle(int64_t created_ms, int64_t now_ms_, int64_t *start_ms, int64_t *end_ms, char start_day[11])
{
    time_t cs = (time_t)(created_ms / 1000), ns;
    struct tm ct, nt;
    if (now_ms_ < created_ms)
        now_ms_ = created_ms;
    ns = (time_t)(now_ms_ / 1000);
    gmtime_r(&cs, &ct);
    gmtime_r(&ns, &nt);
    int y = nt.tm_year + 1900, m = nt.tm_mon;
    int64_t start = cycle_start_in(y, m, ct.tm_mday);
    if (start > now_ms_) {
        m--;
        start = cycle_start_in(y, m, ct.tm_mday);
    }
    int64_t end = cycle_start_in(y, m + 1, ct.tm_mday);
    if (start_ms)
        *start_ms = start;
    if (end_ms)
        *end_ms = end;
    if (start_day) {
        time_t ss = (time_t)(start / 1000);
        struct tm st;
        gmtime_r(&ss, &st);
        if (strftime(start_day, 11, "%Y-%m-%d", &st) == 0)
            start_day[0] = '\0';
    }
}

int ledger_grant_cycle(db_conn *c, const char *account_id, int64_t created_ms, int64_t monthly, int64_t now)
{
    char day[11], key[KEY_MAX], reason[64];
    if (!account_id || strlen(account_id) > 100)
        return fmugw_error_set(FMUGW_EINVALID, "bad account id");
    ledger_cycle(created_ms, now, NULL, NULL, day);
    snprintf(key, sizeof key, "grant:%s:%s", account_id, day);
    snprintf(reason, sizeof reason, "monthly grant, cycle of %s", day);
    if (monthly <= 0)
        return 0;
    return ledger_grant(c, account_id, monthly, key, reason);
}

int ledger_usage_total(db_conn *c, const char *account_id, int64_t from_ms, int64_t to_ms, int64_t *charged,
                       int64_t *overage)
{
    db_stmt *st = NULL;
    *charged = 0;
    *overage = 0;
    int rc = db_query(&st, c,
                      "SELECT COALESCE(SUM(amount), 0), COALESCE(SUM(overage), 0) FROM ledger_ops"
                      " WHERE account_id = $1 AND kind IN ('settle', 'storage') AND at >= $2 AND at < $3",
                      "tii", account_id, from_ms, to_ms);
    if (rc == 0 && (rc = db_step(st)) == 1) {
        *charged = db_column_int64(st, 0);
        *overage = db_column_int64(st, 1);
        rc = 0;
    }
    db_finalize(st);
    return rc;
}

int ledger_settlements(ledger_settlement **out, size_t *n, db_conn *c, const char *account_id, int64_t from_ms,
                       int64_t to_ms, int limit)
{
    db_stmt *st = NULL;
    ledger_settlement *v = NULL;
    size_t k = 0, cap = 0;
    int rc;

    *out = NULL;
    *n = 0;
    if (limit <= 0)
        return fmugw_error_set(FMUGW_EINVALID, "limit must be positive");
    rc = db_query(&st, c,
                  "SELECT at, job_id, amount, overage, detail FROM ledger_ops"
                  " WHERE account_id = $1 AND kind = 'settle' AND at >= $2 AND at < $3"
                  " ORDER BY at, op_key LIMIT $4",
                  "tiii", account_id, from_ms, to_ms, (int64_t)limit);
    while (rc == 0 && (rc = db_step(st)) == 1) {
        rc = 0;
        if (k == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            ledger_settlement *nv = realloc(v, ncap * sizeof *nv);
            if (!nv) {
                rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
                break;
            }
            v = nv;
            cap = ncap;
        }
        ledger_settlement *s = &v[k++];
        memset(s, 0, sizeof *s);
        s->at_ms = db_column_int64(st, 0);
        s->charged = db_column_int64(st, 2);
        s->overage = db_column_int64(st, 3);
        if ((rc = db_column_text_dup(&s->job_id, st, 1)) != 0)
            break;
        const char *detail = db_column_text(st, 4);
        json_t *d = detail ? json_loads(detail, 0, NULL) : NULL;
        if (json_is_object(d)) {
            const char *fmu = json_string_value(json_object_get(d, "fmu_id"));
            if (fmu && !(s->fmu_id = strdup(fmu)))
                rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
            s->cpu_ms = json_integer_value(json_object_get(d, "cpu_ms"));
            s->wall_ms = json_integer_value(json_object_get(d, "wall_ms"));
        }
        json_decref(d);
        if (rc != 0)
            break;
    }
    db_finalize(st);
    if (rc < 0) {
        ledger_settlements_free(v, k);
        return rc;
    }
    *out = v;
    *n = k;
    return 0;
}

void ledger_settlements_free(ledger_settlement *s, size_t n)
{
    if (!s)
        return;
    for (size_t i = 0; i < n; i++) {
        free(s[i].job_id);
        free(s[i].fmu_id);
    }
    free(s);
}
