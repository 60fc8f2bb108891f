/*
 * cmd_remote.c - the gateway commands of fmugw, on libfmugw's public API:
 * configure, upload, fmus, info ID, status, results, cancel, jobs, keys,
 * account, usage (`run` is in cmd_run.c), the mapping of client error
 * codes to exit codes (docs/cli.md), and what these commands share:
 * option parsing, opening the client, printing JSON or a table, ending.
 */
#include "cli.h"
#include "remote.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_exit_for(int code)
{
    switch (code) {
    case FMUGW_CLIENT_OK: return CLI_OK;
    case FMUGW_CLIENT_EUSAGE: return CLI_USAGE;
    case FMUGW_CLIENT_ECONFIG:
    case FMUGW_CLIENT_EAUTH:
    case FMUGW_CLIENT_EFORBIDDEN: return CLI_AUTH;
    case FMUGW_CLIENT_ECREDITS: return CLI_CREDITS;
    case FMUGW_CLIENT_EJOBFAILED: return CLI_JOB_FAILED;
    case FMUGW_CLIENT_ENETWORK: return CLI_NETWORK;
    case FMUGW_CLIENT_ENOTFOUND: return CLI_NOT_FOUND;
    default: return CLI_FAILED;
    }
}

int cli_client_error(int code)
{
    cli_error("%s", fmugw_client_error_last());
    return cli_exit_for(code);
}

const char *remote_option_value(const char *name, int argc, char **argv, int *i, int *missing)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    *missing = 0;
    if (strncmp(a, name, n))
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n])
        return NULL;
    if (*i + 1 >= argc) {
        *missing = 1;
        cli_error("option %s needs a value", name);
        return NULL;
    }
    return argv[++*i];
}

int remote_common_option(remote_common *o, int argc, char **argv, int *i)
{
    int missing;
    const char *v;
    if (!strcmp(argv[*i], "--json")) {
        o->json = 1;
        return 1;
    }
    if (!strcmp(argv[*i], "--help") || !strcmp(argv[*i], "-h")) {
        o->help = 1;
        return 1;
    }
    if ((v = remote_option_value("--profile", argc, argv, i, &missing))) {
        o->profile = v;
        return 1;
    }
    return missing ? -1 : 0;
}

int remote_open(fmugw_client **out, const remote_common *o)
{
    fmugw_client_options opts = FMUGW_CLIENT_OPTIONS_INIT;
    opts.profile = o->profile;
    int rc = fmugw_client_new(out, &opts);
    return rc ? cli_client_error(rc) : 0;
}

void remote_print_json_text(const char *text)
{
    json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
    if (!j) {
        puts(text);
        return;
    }
    json_dumpf(j, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
    putchar('\n');
    json_decref(j);
}

int remote_upload_progress(void *ud, unsigned long long done, unsigned long long total)
{
    (void)ud;
    if (!isatty(STDERR_FILENO) || !total)
        return 0;
    int width = 30, fill = (int)(done * (unsigned long long)width / total);
    fprintf(stderr, "\rupload [%.*s%*s] %3d%%", fill, "##############################", width - fill, "",
            (int)(done * 100 / total));
    if (done >= total)
        fputc('\n', stderr);
    return 0;
}

const char *remote_str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "-";
}

/* ---- what the commands share ---------------------------------------------- */

/* The error for an argument the command does not take: returns CLI_USAGE. */
static int unexpected(const char *arg, const char *usage)
{
    cli_error("unexpected argument \"%s\" (usage: %s)", arg, usage);
    return CLI_USAGE;
}

/* After the options: prints the usage for --help (returns CLI_OK), or as an
 * error when the arguments are incomplete, !args_ok (returns CLI_USAGE);
 * else returns -1 to go on. */
static int check_usage(const remote_common *o, int args_ok, const char *usage)
{
    if (o->help) {
        printf("usage: %s\n", usage);
        return CLI_OK;
    }
    if (!args_ok) {
        cli_error("usage: %s", usage);
        return CLI_USAGE;
    }
    return -1;
}

/* check_usage(), then opens the client into *c: returns -1 to go on (the
 * caller ends with finish()), else the exit code with nothing to free. */
static int begin(fmugw_client **c, const remote_common *o, int args_ok, const char *usage)
{
    int rc = check_usage(o, args_ok, usage);
    if (rc < 0 && (rc = remote_open(c, o)) == 0)
        rc = -1;
    return rc;
}

/* begin() for a command that takes the common options and exactly `n_pos`
 * positionals (stored in pos[]), nothing else. */
static int begin_simple(fmugw_client **c, remote_common *o, int argc, char **argv, const char **pos, int n_pos,
                        const char *usage)
{
    int n = 0;
    for (int i = 1; i < argc; i++) {
        int r = remote_common_option(o, argc, argv, &i);
        if (r < 0)
            return CLI_USAGE;
        if (r > 0)
            continue;
        if (argv[i][0] == '-' && argv[i][1]) {
            cli_error("unknown option %s (usage: %s)", argv[i], usage);
            return CLI_USAGE;
        }
        if (n >= n_pos)
            return unexpected(argv[i], usage);
        pos[n++] = argv[i];
    }
    return begin(c, o, n >= n_pos, usage);
}

/* An option a command takes besides the common ones: "NAME VALUE" (or
 * "NAME=VALUE") stores VALUE in *value; a flag (value NULL) sets *flag. */
typedef struct {
    const char *name;
    const char **value;
    int *flag;
} command_option;

/* Parses the common options, the options in opts[] (ended by a NULL name)
 * and up to `n_pos` positionals (not starting with '-') into pos[].
 * Returns -1 to go on, else the exit code (message printed). */
static int parse_options(remote_common *o, int argc, char **argv, const command_option *opts, const char **pos,
                         int n_pos, const char *usage)
{
    int n = 0, missing = 0;
    for (int i = 1; i < argc; i++) {
        int r = remote_common_option(o, argc, argv, &i);
        if (r < 0)
            return CLI_USAGE;
        if (r > 0)
            continue;
        const command_option *p;
        const char *v = NULL;
        for (p = opts; p->name; p++) {
            if (p->value && ((v = remote_option_value(p->name, argc, argv, &i, &missing)) || missing))
                break;
            if (!p->value && !strcmp(argv[i], p->name))
                break;
        }
        if (missing)
            return CLI_USAGE;
        if (p->name && p->value)
            *p->value = v;
        else if (p->name)
            *p->flag = 1;
        else if (argv[i][0] != '-' && n < n_pos)
            pos[n++] = argv[i];
        else
            return unexpected(argv[i], usage);
    }
    return -1;
}

/* How a command shows its document to people (without --json); `arg` is
 * the command's argument, if any. */
typedef void (*table_printer)(json_t *j, const char *arg);

/* Ends a command begun with begin(): prints `text` if there is one (as JSON
 * with --json, else parsed through print_table or, without one, as it
 * came), then the client error `e` if any; frees text and c. Returns the
 * exit code. */
static int finish(fmugw_client *c, const remote_common *o, int e, char *text, table_printer print_table,
                  const char *arg)
{
    if (text && o->json) {
        remote_print_json_text(text);
    } else if (text && !print_table) {
        fputs(text, stdout);
    } else if (text) {
        json_t *j = json_loads(text, 0, NULL);
        print_table(j, arg);
        json_decref(j);
    }
    int rc = e ? cli_client_error(e) : CLI_OK;
    fmugw_free(text);
    fmugw_client_free(c);
    return rc;
}

/* A command that reads one document and takes only the common options:
 * list(&text, client) without a positional, or get(&text, client, ID) with
 * one (give one of the two), then finish(). */
static int read_command(int argc, char **argv, const char *usage, int (*list)(char **out, fmugw_client *c),
                        int (*get)(char **out, fmugw_client *c, const char *id), table_printer print_table)
{
    remote_common o = {0};
    const char *pos[1] = {NULL};
    fmugw_client *c;
    int rc = begin_simple(&c, &o, argc, argv, pos, get ? 1 : 0, usage);
    if (rc >= 0)
        return rc;
    char *text = NULL;
    int e = get ? get(&text, c, pos[0]) : list(&text, c);
    return finish(c, &o, e, text, print_table, pos[0]);
}

/* ---- configure ----------------------------------------------------------- */

static int prompt(char *buf, size_t size, const char *question, const char *current)
{
    if (isatty(STDIN_FILENO))
        fprintf(stderr, "%s%s%s%s: ", question, current ? " [" : "", current ? current : "", current ? "]" : "");
    if (!fgets(buf, (int)size, stdin))
        return -1;
    buf[strcspn(buf, "\r\n")] = '\0';
    if (!*buf && current)
        snprintf(buf, size, "%s", current);
    return *buf ? 0 : -1;
}

int cli_configure(int argc, char **argv)
{
    static const char usage[] = "fmugw configure [--base-url URL] [--api-key KEY] [--profile NAME] [--no-verify]";
    remote_common o = {0};
    const char *base = NULL, *key = NULL;
    int verify = 1, missing, rc;
    char bbuf[1024], kbuf[1024];
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r = remote_common_option(&o, argc, argv, &i);
        if (r < 0)
            return CLI_USAGE;
        if (r > 0)
            continue;
        if ((v = remote_option_value("--base-url", argc, argv, &i, &missing)))
            base = v;
        else if ((v = remote_option_value("--api-key", argc, argv, &i, &missing)))
            key = v;
        else if (!strcmp(argv[i], "--no-verify"))
            verify = 0;
        else
            return missing ? CLI_USAGE : unexpected(argv[i], usage);
    }
    if ((rc = check_usage(&o, 1, usage)) >= 0)
        return rc;
    rc = CLI_OK;
    char *old_base = NULL, *old_key = NULL;
    fmugw_config_read(&old_base, &old_key, NULL, o.profile);
    if (!base) {
        if (prompt(bbuf, sizeof bbuf, "Gateway URL", old_base) != 0) {
            cli_error("no base URL given (--base-url URL)");
            rc = CLI_USAGE;
            goto out;
        }
        base = bbuf;
    }
    if (!key) {
        if (prompt(kbuf, sizeof kbuf, "API key", NULL) != 0) {
            if (!old_key) {
                cli_error("no API key given (--api-key KEY)");
                rc = CLI_USAGE;
                goto out;
            }
            snprintf(kbuf, sizeof kbuf, "%s", old_key);
        }
        key = kbuf;
    }
    int e = fmugw_config_write(NULL, o.profile, base, key);
    if (e) {
        rc = cli_client_error(e);
        goto out;
    }
    char *path = NULL;
    fmugw_config_default_path(&path);
    fprintf(stderr, "wrote profile [%s] to %s\n", o.profile ? o.profile : "default", path ? path : "?");
    fmugw_free(path);
    if (verify) {
        fmugw_client_options opts = FMUGW_CLIENT_OPTIONS_INIT;
        fmugw_client *c = NULL;
        opts.base_url = base;
        opts.api_key = key;
        opts.max_retries = 1;
        e = fmugw_client_new(&c, &opts);
        if (!e)
            e = fmugw_client_authenticate(c);
        fmugw_client_free(c);
        if (e) {
            rc = cli_client_error(e);
            goto out;
        }
        fprintf(stderr, "the gateway at %s accepted the key\n", base);
    }
out:
    fmugw_free(old_base);
    fmugw_free(old_key);
    return rc;
}

/* ---- upload, fmus, info --------------------------------------------------- */

int cli_upload(int argc, char **argv)
{
    static const char usage[] = "fmugw upload MODEL.fmu [--name NAME] [--json] [--profile NAME]";
    remote_common o = {0};
    const char *file = NULL, *name = NULL;
    const command_option opts[] = {{"--name", &name, NULL}, {NULL, NULL, NULL}};
    fmugw_client *c;
    int rc = parse_options(&o, argc, argv, opts, &file, 1, usage);
    if (rc >= 0 || (rc = begin(&c, &o, file != NULL, usage)) >= 0)
        return rc;
    fmugw_upload_options uo = FMUGW_UPLOAD_OPTIONS_INIT;
    uo.name = name;
    uo.progress = remote_upload_progress;
    fmugw_fmu_ref ref;
    int e = fmugw_fmu_upload(&ref, c, file, &uo);
    if (o.json && *ref.id)
        printf("{\"fmu_id\": \"%s\", \"status\": \"%s\", \"existing\": %s}\n", ref.id, ref.status,
               ref.existing ? "true" : "false");
    else if (!e)
        printf("%s\n", ref.id);
    if (!e)
        fprintf(stderr, "%s %s (%s)\n", ref.id, ref.status, ref.existing ? "already stored: not sent again" : "uploaded");
    return finish(c, &o, e, NULL, NULL, NULL);
}

static void print_fmus(json_t *j, const char *arg)
{
    json_t *it;
    size_t i;
    (void)arg;
    printf("%-36s %-10s %-7s %s\n", "ID", "STATUS", "PUBLIC", "NAME");
    json_array_foreach(json_object_get(j, "items"), i, it)
        printf("%-36s %-10s %-7s %s\n", remote_str(it, "id"), remote_str(it, "status"),
               json_is_true(json_object_get(it, "public")) ? "yes" : "no", remote_str(it, "name"));
}

int cli_fmus(int argc, char **argv)
{
    return read_command(argc, argv, "fmugw fmus [--json] [--profile NAME]", fmugw_fmu_list, NULL, print_fmus);
}

static void print_number(const char *label, const json_t *v)
{
    if (json_is_number(v))
        printf("  %-22s %g\n", label, json_number_value(v));
}

static void print_fmu(json_t *j, const char *arg)
{
    json_t *s = json_object_get(j, "summary"), *v;
    size_t i;
    (void)arg;
    printf("%s (%s)\n", remote_str(j, "name"), remote_str(j, "id"));
    printf("  %-22s %s\n", "Status", remote_str(j, "status"));
    printf("  %-22s %s\n", "Public", json_is_true(json_object_get(j, "public")) ? "yes" : "no");
    print_number("Size", json_object_get(j, "size"));
    if (json_is_object(s)) {
        printf("  %-22s %s\n", "FMI version", remote_str(s, "fmi_version"));
        printf("  %-22s %s\n", "Model name", remote_str(s, "model_name"));
        printf("  %-22s", "Interfaces");
        json_array_foreach(json_object_get(s, "interfaces"), i, v) printf(" %s", json_string_value(v));
        printf("\n  %-22s", "Platforms");
        json_array_foreach(json_object_get(s, "platforms"), i, v) printf(" %s", json_string_value(v));
        putchar('\n');
        json_t *de = json_object_get(s, "default_experiment");
        print_number("Start time", json_object_get(de, "start_time"));
        print_number("Stop time", json_object_get(de, "stop_time"));
        print_number("Tolerance", json_object_get(de, "tolerance"));
        print_number("Step size", json_object_get(de, "step_size"));
        json_t *vars = json_object_get(s, "variables");
        if (json_array_size(vars)) {
            printf("\n  %-24s %-10s %-12s %-12s %s\n", "Variable", "Type", "Causality", "Variability", "Start");
            json_array_foreach(vars, i, v)
                printf("  %-24s %-10s %-12s %-12s %s\n", remote_str(v, "name"), remote_str(v, "type"),
                       remote_str(v, "causality"), remote_str(v, "variability"), remote_str(v, "start"));
            json_int_t total = json_integer_value(json_object_get(json_object_get(s, "counts"), "variables"));
            if (json_is_true(json_object_get(s, "variables_truncated")) && total > (json_int_t)json_array_size(vars))
                printf("  ... and %lld more (GET /fmu/%s/variables?offset=%zu)\n",
                       (long long)(total - (json_int_t)json_array_size(vars)), remote_str(j, "id"), json_array_size(vars));
        }
    }
    json_t *val = json_object_get(j, "validation");
    json_array_foreach(json_object_get(val, "problems"), i, v)
        printf("  problem: %s %s: %s\n", remote_str(v, "rule"), remote_str(v, "where"), remote_str(v, "message"));
}

int cli_info_remote(int argc, char **argv)
{
    return read_command(argc, argv, "fmugw info ID [--json] [--profile NAME]", NULL, fmugw_fmu_get, print_fmu);
}

/* ---- jobs ------------------------------------------------------------------ */

static void print_status(json_t *j, const char *job)
{
    printf("%s %s", job, remote_str(j, "status"));
    json_t *cc = json_object_get(j, "credits_charged");
    if (json_is_number(cc))
        printf(" (%g credits)", json_number_value(cc));
    putchar('\n');
}

int cli_status(int argc, char **argv)
{
    static const char usage[] = "fmugw status JOB [--wait] [--json] [--profile NAME]";
    remote_common o = {0};
    const char *job = NULL;
    int wait = 0;
    const command_option opts[] = {{"--wait", NULL, &wait}, {NULL, NULL, NULL}};
    fmugw_client *c;
    int rc = parse_options(&o, argc, argv, opts, &job, 1, usage);
    if (rc >= 0 || (rc = begin(&c, &o, job != NULL, usage)) >= 0)
        return rc;
    fmugw_job_status st;
    char *text = NULL;
    int e = wait ? fmugw_job_wait(&st, c, job, 0, NULL, NULL) : 0;
    if (!e || e == FMUGW_CLIENT_EJOBFAILED) {
        /* a failed job still has a status to show, then the failure */
        int e2 = fmugw_job_get(&text, c, job);
        if (e2)
            e = e2;
    }
    return finish(c, &o, e, text, print_status, job);
}

int cli_results(int argc, char **argv)
{
    static const char usage[] = "fmugw results JOB [-o FILE] [--profile NAME]";
    remote_common o = {0};
    const char *job = NULL, *out = "-";
    const command_option opts[] = {{"-o", &out, NULL}, {"--output", &out, NULL}, {NULL, NULL, NULL}};
    fmugw_client *c;
    int rc = parse_options(&o, argc, argv, opts, &job, 1, usage);
    if (rc >= 0 || (rc = begin(&c, &o, job != NULL, usage)) >= 0)
        return rc;
    int e = fmugw_job_results_download(c, job, out);
    if (!e && strcmp(out, "-"))
        fprintf(stderr, "results of %s written to %s\n", job, out);
    return finish(c, &o, e, NULL, NULL, NULL);
}

int cli_cancel(int argc, char **argv)
{
    remote_common o = {0};
    const char *pos[1] = {NULL};
    fmugw_client *c;
    int rc = begin_simple(&c, &o, argc, argv, pos, 1, "fmugw cancel JOB [--profile NAME]");
    if (rc >= 0)
        return rc;
    int e = fmugw_job_cancel(c, pos[0]);
    if (!e)
        fprintf(stderr, "cancel requested for %s\n", pos[0]);
    return finish(c, &o, e, NULL, NULL, NULL);
}

static void print_jobs(json_t *j, const char *arg)
{
    json_t *it;
    size_t i;
    (void)arg;
    printf("%-36s %-10s %-36s %s\n", "JOB", "STATUS", "FMU", "CREATED");
    json_array_foreach(json_object_get(j, "items"), i, it) {
        const char *id = json_string_value(json_object_get(it, "job_id"));
        printf("%-36s %-10s %-36s %s\n", id ? id : remote_str(it, "id"), remote_str(it, "status"),
               remote_str(it, "fmu_id"), remote_str(it, "created_at"));
    }
}

int cli_jobs(int argc, char **argv)
{
    return read_command(argc, argv, "fmugw jobs [--json] [--profile NAME]", fmugw_job_list, NULL, print_jobs);
}

/* ---- keys, account, usage -------------------------------------------------- */

static void print_new_key(json_t *j, const char *arg)
{
    (void)arg;
    printf("%s\n", remote_str(j, "api_key"));
    fprintf(stderr, "key %s (scopes: %s): shown once, store it now\n", remote_str(j, "id"), remote_str(j, "scopes"));
}

static void print_keys(json_t *j, const char *arg)
{
    json_t *it;
    size_t i;
    (void)arg;
    printf("%-24s %-20s %-8s %-30s %s\n", "ID", "HINT", "STATE", "SCOPES", "NAME");
    json_array_foreach(json_object_get(j, "items"), i, it) {
        const char *state = json_is_true(json_object_get(it, "locked")) ? "locked"
                            : json_is_string(json_object_get(it, "revoked_at")) ? "revoked" : "active";
        printf("%-24s %-20s %-8s %-30s %s\n", remote_str(it, "id"), remote_str(it, "hint"), state,
               remote_str(it, "scopes"), remote_str(it, "name"));
    }
}

int cli_keys(int argc, char **argv)
{
    static const char usage[] = "fmugw keys create [--name NAME] [--scopes \"S1 S2\"] | keys list | keys revoke ID"
                                "  [--json] [--profile NAME]";
    remote_common o = {0};
    const char *pos[2] = {NULL, NULL}, *name = NULL, *scopes = NULL;
    const command_option opts[] = {{"--name", &name, NULL}, {"--scopes", &scopes, NULL}, {NULL, NULL, NULL}};
    int rc = parse_options(&o, argc, argv, opts, pos, 2, usage);
    if (rc >= 0)
        return rc;
    const char *sub = pos[0], *arg = pos[1];
    int is_create = sub && !strcmp(sub, "create"), is_list = sub && !strcmp(sub, "list"),
        is_revoke = sub && !strcmp(sub, "revoke");
    fmugw_client *c;
    if ((rc = begin(&c, &o, (is_create && !arg) || (is_list && !arg) || (is_revoke && arg), usage)) >= 0)
        return rc;
    char *text = NULL;
    int e = is_create ? fmugw_key_create(&text, c, name, scopes)
            : is_list ? fmugw_key_list(&text, c)
                      : fmugw_key_revoke(c, arg);
    if (!e && is_revoke)
        fprintf(stderr, "revoked %s\n", arg);
    return finish(c, &o, e, text, is_create ? print_new_key : print_keys, NULL);
}

static void print_account(json_t *j, const char *arg)
{
    const char *k;
    json_t *v;
    (void)arg;
    json_object_foreach(j, k, v) {
        if (json_is_string(v))
            printf("%-20s %s\n", k, json_string_value(v));
        else if (json_is_number(v))
            printf("%-20s %g\n", k, json_number_value(v));
        else if (json_is_boolean(v))
            printf("%-20s %s\n", k, json_is_true(v) ? "yes" : "no");
    }
}

int cli_account(int argc, char **argv)
{
    return read_command(argc, argv, "fmugw account [--json] [--profile NAME]", fmugw_account_get, NULL, print_account);
}

int cli_usage(int argc, char **argv)
{
    static const char usage[] = "fmugw usage [--csv | --json] [--profile NAME]";
    remote_common o = {0};
    int csv = 0;
    const command_option opts[] = {{"--csv", NULL, &csv}, {NULL, NULL, NULL}};
    int rc = parse_options(&o, argc, argv, opts, NULL, 0, usage);
    if (rc >= 0)
        return rc;
    if (csv && o.json && !o.help) {
        cli_error("--csv and --json exclude each other");
        return CLI_USAGE;
    }
    fmugw_client *c;
    if ((rc = begin(&c, &o, 1, usage)) >= 0)
        return rc;
    char *text = NULL;
    int e = fmugw_account_usage(&text, c, csv);
    o.json = !csv; /* the usage is JSON unless it is CSV: CSV as it came */
    return finish(c, &o, e, text, NULL, NULL);
}
