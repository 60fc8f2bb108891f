/*
 * account.c - the account routes (app_routes_account): GET /account (tier,
 * derived balances, this billing cycle's usage and overage, what is
 * stored and any storage charge still owed), GET
 * /account/ledger (the account's ledger entries, newest first, paged by
 * `before_seq`) and GET /account/usage (settled jobs per day and per FMU,
 * JSON or CSV). Everything is read from the ledger (src/ledger); nothing
 * here writes.
 *
 * Units: credits are JSON numbers (millicredits / 1000, the unit of the
 * jobs routes' credits_charged), each with an exact integer
 * `*_millicredits` twin; money is integer micro-USD.
 */
#include "ledger/ledger.h"
#include "ledger/pricing.h"
#include "server/app.h"
#include "store/accounts.h"
#include "store/storage.h"
#include "util/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LEDGER_PAGE_DEFAULT 50
#define LEDGER_PAGE_MAX 200
#define USAGE_MAX_ROWS 100000
#define USAGE_MAX_DAYS 366
#define DAY_MS 86400000LL

static json_t *credits(int64_t millicredits)
{
    return json_real((double)millicredits / LEDGER_MILLI);
}

static json_t *field_error(const char *field, const char *message)
{
    return json_pack("{s:[{s:s,s:s}]}", "errors", "field", field, "message", message);
}

/* The caller's account row (tier, creation time) on a pooled connection. */
static int begin(http_request *req, app *a, db_conn **c, store_account **acct)
{
    const principal *who = app_principal(req);
    *c = NULL;
    *acct = NULL;
    if (!who)
        return http_problem(req, HTTP_PROBLEM_UNAUTHORIZED, NULL);
    if (db_pool_acquire(c, a->db) != 0)
        return http_problem(req, HTTP_PROBLEM_UNAVAILABLE, "the database is not available");
    if (store_account_get(acct, *c, who->account_id) != 0) {
        db_pool_release(a->db, *c);
        *c = NULL;
        return http_problem(req, HTTP_PROBLEM_INTERNAL, NULL);
    }
    return 0;
}

static void end(app *a, db_conn *c, store_account *acct)
{
    if (c)
        db_pool_release(a->db, c);
    store_account_free(acct);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static json_t *time_json(int64_t ms)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    char buf[40];
    gmtime_r(&s, &tm);
    if (strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return json_null();
    return json_string(buf);
}

static void day_text(char out[11], int64_t ms)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    if (strftime(out, 11, "%Y-%m-%d", &tm) == 0)
        out[0] = '\0';
}

/* ---- GET /account -------------------------------------------------------- */

static int get_account(http_request *req, void *ud)
{
    app *a = ud;
    db_conn *c;
    store_account *acct;
    ledger_balance bal;
    int64_t start, end_ms, used = 0, over = 0, now = now_ms();
    int rc = begin(req, a, &c, &acct);
    if (rc != 0)
        return rc;
    const pricing_tier *t = pricing_tier_get(a->pricing, acct->tier);
    if (!t)
        t = pricing_tier_get(a->pricing, "free");
    ledger_cycle(acct->created_at, now, &start, &end_ms, NULL);
    store_storage_usage stored;
    store_storage_totals st_tot;
    if (ledger_balance_get(c, acct->id, &bal) != 0 || ledger_usage_total(c, acct->id, start, end_ms, &used, &over) != 0 ||
        store_storage_bytes_now(&stored, c, acct->id) != 0 ||
        store_storage_totals_get(&st_tot, c, acct->id, "") != 0) {
        end(a, c, acct);
        return http_problem(req, HTTP_PROBLEM_INTERNAL, NULL);
    }
    json_t *storage = json_pack("{s:I,s:I,s:I,s:o}", "fmu_bytes", (json_int_t)stored.fmu_bytes, "result_bytes",
                                (json_int_t)stored.result_bytes, "unpaid_millicredits", (json_int_t)st_tot.unpaid,
                                "credits_per_gib_day", credits(pricing_storage_cost(a->pricing, 1ull << 30, 1.0)));
    json_t *cycle = json_pack("{s:o,s:o,s:o,s:I,s:o,s:I,s:o,s:I,s:I}", "start", time_json(start), "end",
                              time_json(end_ms), "monthly_credits", credits(t ? t->monthly_credits : 0),
                              "monthly_millicredits", (json_int_t)(t ? t->monthly_credits : 0), "usage",
                              credits(used), "usage_millicredits", (json_int_t)used, "overage", credits(over),
                              "overage_millicredits", (json_int_t)over, "overage_usd_micro",
                              (json_int_t)pricing_overage_usd_micro(t, over));
    json_t *body = json_pack("{s:s,s:s,s:o,s:I,s:o,s:I,s:o,s:I,s:b,s:o,s:o}", "account_id", acct->id, "tier",
                             acct->tier, "balance", credits(bal.available), "balance_millicredits",
                             (json_int_t)bal.available, "reserved", credits(bal.reserved), "reserved_millicredits",
                             (json_int_t)bal.reserved, "overage_used", credits(bal.overage_used),
                             "overage_used_millicredits", (json_int_t)bal.overage_used, "hard_limit",
                             !t || t->overage_usd_micro_per_credit < 0, "storage", storage, "cycle", cycle);
    end(a, c, acct);
    if (!body)
        return http_problem(req, HTTP_PROBLEM_INTERNAL, NULL);
    http_header_add(req, "Cache-Control", "no-store");
    return http_respond_json(req, 200, body);
}

/* ---- GET /account/ledger ------------------------------------------------- */

static int parse_int_query(int64_t *out, http_request *req, const char *name, int64_t min, int64_t max)
{
    const char *s = http_request_query(req, name);
    char *endp = NULL;
    if (!s)
        return 0;
    long long v = strtoll(s, &endp, 10);
    if (!*s || *endp || v < min || v > max) {
        char msg[96];
        snprintf(msg, sizeof msg, "an integer from %lld to %lld", (long long)min, (long long)max);
        return http_problem_ext(req, HTTP_PROBLEM_BAD_REQUEST, "invalid query parameter", field_error(name, msg));
    }
    *out = v;
    return 0;
}

static int get_ledger(http_request *req, void *ud)
{
    app *a = ud;
    db_conn *c;
    store_account *acct;
    ledger_entry *v = NULL;
    size_t n = 0;
    int64_t limit = LEDGER_PAGE_DEFAULT, before = 0;
    int rc;
    if ((rc = parse_int_query(&limit, req, "limit", 1, LEDGER_PAGE_MAX)) != 0 ||
        (rc = parse_int_query(&before, req, "before_seq", 1, INT64_MAX)) != 0)
        return rc;
    if ((rc = begin(req, a, &c, &acct)) != 0)
        return rc;
    /* One more than asked: tells whether there is a next page. */
    rc = ledger_entries(&v, &n, c, acct->id, before, (int)limit + 1);
    end(a, c, acct);
    if (rc != 0)
        return http_problem(req, HTTP_PROBLEM_INTERNAL, NULL);
    json_t *items = json_array();
    size_t shown = n > (size_t)limit ? (size_t)limit : n;
    for (size_t i = 0; i < shown; i++) {
        json_t *detail = v[i].detail ? json_loads(v[i].detail, 0, NULL) : NULL;
        json_array_append_new(items, json_pack("{s:I,s:o,s:s,s:s,s:s,s:o,s:I,s:s?,s:o}", "seq", (json_int_t)v[i].seq,
                                               "at", time_json(v[i].at_ms), "kind", v[i].kind, "debit", v[i].debit,
                                               "credit", v[i].credit, "amount", credits(v[i].amount),
                                               "amount_millicredits", (json_int_t)v[i].amount, "job_id", v[i].job_id,
                                               "detail", detail ? detail : json_null()));
    }
    json_t *next = n > (size_t)limit && shown > 0 ? json_integer(v[shown - 1].seq) : json_null();
    ledger_entries_free(v, n);
    http_header_add(req, "Cache-Control", "no-store");
    return http_respond_json(req, 200, json_pack("{s:o,s:o}", "items", items, "next_before_seq", next));
}

/* ---- GET /account/usage -------------------------------------------------- */

typedef struct {
    char day[11];
    const char *fmu_id; /* borrowed from the settlements; "" when unknown */
    int64_t jobs, charged, overage, cpu_ms, wall_ms;
} usage_row;

typedef struct {
    usage_row *v;
    size_t n, cap;
} usage_rows;

static usage_row *row_for(usage_rows *r, const char *day, const char *fmu)
{
    for (size_t i = r->n; i-- > 0;) {
        if (strcmp(r->v[i].fmu_id, fmu) == 0 && (!day || strcmp(r->v[i].day, day) == 0))
            return &r->v[i];
        if (day && strcmp(r->v[i].day, day) != 0)
            break; /* rows of earlier days: settlements come in time order */
    }
    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 64;
        usage_row *nv = realloc(r->v, ncap * sizeof *nv);
        if (!nv)
            return NULL;
        r->v = nv;
        r->cap = ncap;
    }
    usage_row *u = &r->v[r->n++];
    memset(u, 0, sizeof *u);
    snprintf(u->day, sizeof u->day, "%s", day ? day : "");
    u->fmu_id = fmu;
    return u;
}

static void row_add(usage_row *u, const ledger_settlement *s)
{
    u->jobs++;
    u->charged += s->charged;
    u->overage += s->overage;
    u->cpu_ms += s->cpu_ms;
    u->wall_ms += s->wall_ms;
}

static json_t *row_json(const usage_row *u, bool with_day, bool with_fmu)
{
    json_t *o = json_pack("{s:I,s:o,s:I,s:o,s:I,s:I,s:I}", "jobs", (json_int_t)u->jobs, "credits", credits(u->charged),
                          "credits_millicredits", (json_int_t)u->charged, "overage", credits(u->overage),
                          "overage_millicredits", (json_int_t)u->overage, "cpu_ms", (json_int_t)u->cpu_ms, "wall_ms",
                          (json_int_t)u->wall_ms);
    if (o && with_day)
        json_object_set_new(o, "day", json_string(u->day));
    if (o && with_fmu)
        json_object_set_new(o, "fmu_id", u->fmu_id[0] ? json_string(u->fmu_id) : json_null());
    return o;
}

/* "YYYY-MM-DD" -> 00:00 UTC of that day in ms; -1 if malformed. */
static int64_t parse_day(const char *s)
{
    int y, m, d;
    char tail;
    if (!s || strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || y < 1970 || y > 9999 ||
        m < 1 || m > 12 || d < 1 || d > 31)
        return -1;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    time_t t = timegm(&tm);
    struct tm back;
    gmtime_r(&t, &back);
    if (back.tm_mday != d) /* 2026-02-30 */
        return -1;
    return (int64_t)t * 1000;
}

static void csv_credits(char *out, size_t size, int64_t mc)
{
    snprintf(out, size, "%lld.%03lld", (long long)(mc / LEDGER_MILLI), (long long)(mc % LEDGER_MILLI));
}

static int get_usage(http_request *req, void *ud)
{
    app *a = ud;
    db_conn *c;
    store_account *acct;
    ledger_settlement *s = NULL;
    size_t n = 0;
    usage_rows rows = {0}, fmus = {0}, days = {0};
    usage_row total = {{0}, "", 0, 0, 0, 0, 0};
    const char *format = http_request_query(req, "format"), *from_q = http_request_query(req, "from"),
               *to_q = http_request_query(req, "to");
    int64_t from = -1, to = -1;
    int rc;

    if (format && strcmp(format, "json") != 0 && strcmp(format, "csv") != 0)
        return http_problem_ext(req, HTTP_PROBLEM_BAD_REQUEST, "invalid format", field_error("format", "csv or json"));
    bool csv = format && !strcmp(format, "csv");
    if (from_q && (from = parse_day(from_q)) < 0)
        return http_problem_ext(req, HTTP_PROBLEM_BAD_REQUEST, "invalid date", field_error("from", "YYYY-MM-DD"));
    if (to_q && (to = parse_day(to_q)) < 0)
        return http_problem_ext(req, HTTP_PROBLEM_BAD_REQUEST, "invalid date", field_error("to", "YYYY-MM-DD"));
    if ((rc = begin(req, a, &c, &acct)) != 0)
        return rc;
    /* Default: the current billing cycle. `to` is inclusive. */
    int64_t cs, ce;
    ledger_cycle(acct->created_at, now_ms(), &cs, &ce, NULL);
    int64_t to_excl;
    if (to >= 0)
        to_excl = to + DAY_MS;
    else if (from >= 0)
        to_excl = (now_ms() / DAY_MS + 1) * DAY_MS; /* through today */
    else
        to_excl = ce;
    if (from < 0)
        from = to >= 0 ? to_excl - 31 * DAY_MS : cs;
    to = to_excl;
    if (to <= from || to - from > USAGE_MAX_DAYS * DAY_MS) {
        end(a, c, acct);
        return http_problem_ext(req, HTTP_PROBLEM_BAD_REQUEST, "invalid date range",
                                field_error("to", "on or after from, at most 366 days later"));
    }
    rc = ledger_settlements(&s, &n, c, acct->id, from, to, USAGE_MAX_ROWS);
    end(a, c, acct);
    if (rc != 0)
        return http_problem(req, HTTP_PROBLEM_INTERNAL, NULL);

    for (size_t i = 0; i < n; i++) {
        char day[11];
        const char *fmu = s[i].fmu_id ? s[i].fmu_id : "";
        usage_row *r, *f, *d;
        day_text(day, s[i].at_ms);
        if (!(r = row_for(&rows, day, fmu)) || !(f = row_for(&fmus, NULL, fmu)) || !(d = row_for(&days, day, ""))) {
            rc = FMUGW_ENOMEM;
            break;
        }
        row_add(r, &s[i]);
        row_add(f, &s[i]);
        row_add(d, &s[i]);
        row_add(&total, &s[i]);
    }
    if (rc != 0) {
        rc = http_problem(req, HTTP_PROBLEM_INTERNAL, NULL);
        goto out;
    }
    char from_day[11], to_day[11];
    day_text(from_day, from);
    day_text(to_day, to - DAY_MS);
    http_header_add(req, "Cache-Control", "no-store");
    if (csv) {
        size_t cap = 128 + rows.n * 160, len = 0;
        char *buf = malloc(cap);
        if (!buf) {
            rc = http_problem(req, HTTP_PROBLEM_INTERNAL, NULL);
            goto out;
        }
        len += (size_t)snprintf(buf + len, cap - len, "day,fmu_id,jobs,credits,overage_credits,cpu_ms,wall_ms\r\n");
        for (size_t i = 0; i < rows.n; i++) {
            char cr[32], ov[32];
            const usage_row *u = &rows.v[i];
            csv_credits(cr, sizeof cr, u->charged);
            csv_credits(ov, sizeof ov, u->overage);
            /* fmu ids are [a-z0-9_]: nothing to quote. */
            int k = snprintf(buf + len, cap - len, "%s,%.64s,%lld,%s,%s,%lld,%lld\r\n", u->day, u->fmu_id,
                             (long long)u->jobs, cr, ov, (long long)u->cpu_ms, (long long)u->wall_ms);
            if (k < 0 || (size_t)k >= cap - len)
                break;
            len += (size_t)k;
        }
        http_header_add(req, "Content-Disposition",
                        http_request_printf(req, "attachment; filename=\"usage-%s-%s.csv\"", from_day, to_day));
        rc = http_respond_bytes(req, 200, "text/csv; charset=utf-8", buf, len);
        free(buf);
        goto out;
    }
    json_t *jr = json_array(), *jf = json_array(), *jd = json_array();
    for (size_t i = 0; i < rows.n; i++)
        json_array_append_new(jr, row_json(&rows.v[i], true, true));
    for (size_t i = 0; i < fmus.n; i++)
        json_array_append_new(jf, row_json(&fmus.v[i], false, true));
    for (size_t i = 0; i < days.n; i++)
        json_array_append_new(jd, row_json(&days.v[i], true, false));
    rc = http_respond_json(req, 200,
                           json_pack("{s:s,s:s,s:o,s:o,s:o,s:o}", "from", from_day, "to", to_day, "total",
                                     row_json(&total, false, false), "by_day", jd, "by_fmu", jf, "rows", jr));
out:
    free(rows.v);
    free(fmus.v);
    free(days.v);
    ledger_settlements_free(s, n);
    return rc;
}

int app_routes_account(app *a, http_server *srv)
{
    const unsigned rd = HTTP_ROUTE_NEEDS_AUTH | APP_ROUTE_SCOPE(SCOPE_ACCOUNT_READ);
    const http_route routes[] = {
        {.method = "GET", .pattern = "/account", .handler = get_account, .flags = rd},
        {.method = "GET", .pattern = "/account/ledger", .handler = get_ledger, .flags = rd},
        {.method = "GET", .pattern = "/account/usage", .handler = get_usage, .flags = rd},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        http_route r = routes[i];
        r.ud = a;
        int rc = http_server_route(srv, &r);
        if (rc != 0)
            return rc;
    }
    return 0;
}
