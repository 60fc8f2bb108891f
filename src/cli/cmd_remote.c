/*
 * cmd_remote.c - the gateway commands of fmugw, on libfmugw's public API:
 * configure, upload, fmus, info ID, status, results, cancel, jobs, keys,
 * account, usage (`run` is in cmd_run.c), and the mapping of client error
 * codes to exit codes (docs/cli.md).
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

/* Parses only common options plus up to `max_pos` positionals. Returns -1
 * to go on, else an exit code. */
static int parse_simple(remote_common *o, int argc, char **argv, const char **pos, int max_pos, int min_pos,
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
        if (n >= max_pos) {
            cli_error("unexpected argument \"%s\" (usage: %s)", argv[i], usage);
            return CLI_USAGE;
        }
        pos[n++] = argv[i];
    }
    if (o->help) {
        printf("usage: %s\n", usage);
        return CLI_OK;
    }
    if (n < min_pos) {
        cli_error("usage: %s", usage);
        return CLI_USAGE;
    }
    return -1;
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
    int verify = 1, missing, rc = CLI_OK;
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
        else {
            if (!missing)
                cli_error("unexpected argument \"%s\" (usage: %s)", argv[i], usage);
            return CLI_USAGE;
        }
    }
    if (o.help) {
        printf("usage: %s\n", usage);
        return CLI_OK;
    }
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
    int missing;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r = remote_common_option(&o, argc, argv, &i);
        if (r < 0)
            return CLI_USAGE;
        if (r > 0)
            continue;
        if ((v = remote_option_value("--name", argc, argv, &i, &missing)))
            name = v;
        else if (missing)
            return CLI_USAGE;
        else if (argv[i][0] != '-' && !file)
            file = argv[i];
        else {
            cli_error("unexpected argument \"%s\" (usage: %s)", argv[i], usage);
            return CLI_USAGE;
        }
    }
    if (o.help) {
        printf("usage: %s\n", usage);
        return CLI_OK;
    }
    if (!file) {
        cli_error("usage: %s", usage);
        return CLI_USAGE;
    }
    fmugw_client *c;
    int rc = remote_open(&c, &o);
    if (rc)
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
    if (e)
        rc = cli_client_error(e);
    else
        fprintf(stderr, "%s %s (%s)\n", ref.id, ref.status, ref.existing ? "already stored: not sent again" : "uploaded");
    fmugw_client_free(c);
    return rc;
}

int cli_fmus(int argc, char **argv)
{
    remote_common o = {0};
    const char *pos[1];
    int rc = parse_simple(&o, argc, argv, pos, 0, 0, "fmugw fmus [--json] [--profile NAME]");
    if (rc >= 0)
        return rc;
    fmugw_client *c;
    if ((rc = remote_open(&c, &o)))
        return rc;
    char *text = NULL;
    int e = fmugw_fmu_list(&text, c);
    if (e) {
        rc = cli_client_error(e);
    } else if (o.json) {
        remote_print_json_text(text);
    } else {
        json_t *j = json_loads(text, 0, NULL), *it;
        size_t i;
        printf("%-36s %-10s %-7s %s\n", "ID", "STATUS", "PUBLIC", "NAME");
        json_array_foreach(json_object_get(j, "items"), i, it)
            printf("%-36s %-10s %-7s %s\n", remote_str(it, "id"), remote_str(it, "status"),
                   json_is_true(json_object_get(it, "public")) ? "yes" : "no", remote_str(it, "name"));
        json_decref(j);
    }
    fmugw_free(text);
    fmugw_client_free(c);
    return rc;
}

static void print_number(const char *label, const json_t *v)
{
    if (json_is_number(v))
        printf("  %-22s %g\n", label, json_number_value(v));
}

int cli_info_remote(int argc, char **argv)
{
    remote_common o = {0};
    const char *pos[1] = {NULL};
    int rc = parse_simple(&o, argc, argv, pos, 1, 1, "fmugw info ID [--json] [--profile NAME]");
    if (rc >= 0)
        return rc;
    fmugw_client *c;
    if ((rc = remote_open(&c, &o)))
        return rc;
    char *text = NULL;
    int e = fmugw_fmu_get(&text, c, pos[0]);
    if (e) {
        rc = cli_client_error(e);
    } else if (o.json) {
        remote_print_json_text(text);
    } else {
        json_t *j = json_loads(text, 0, NULL), *s = json_object_get(j, "summary"), *v;
        size_t i;
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
            }
        }
        json_t *val = json_object_get(j, "validation");
        json_array_foreach(json_object_get(val, "problems"), i, v)
            printf("  problem: %s %s: %s\n", remote_str(v, "rule"), remote_str(v, "where"), remote_str(v, "message"));
        json_decref(j);
    }
    fmugw_free(text);
    fmugw_client_free(c);
    return rc;
}

/* ---- jobs ------------------------------------------------------------------ */

int cli_status(int argc, char **argv)
{
    static const char usage[] = "fmugw status JOB [--wait] [--json] [--profile NAME]";
    remote_common o = {0};
    const char *job = NULL;
    int wait = 0;
    for (int i = 1; i < argc; i++) {
        int r = remote_common_option(&o, argc, argv, &i);
        if (r < 0)
            return CLI_USAGE;
        if (r > 0)
            continue;
        if (!strcmp(argv[i], "--wait"))
            wait = 1;
        else if (argv[i][0] != '-' && !job)
            job = argv[i];
        else {
            cli_error("unexpected argument \"%s\" (usage: %s)", argv[i], usage);
            return CLI_USAGE;
        }
    }
    if (o.help) {
        printf("usage: %s\n", usage);
        return CLI_OK;
    }
    if (!job) {
        cli_error("usage: %s", usage);
        return CLI_USAGE;
    }
    fmugw_client *c;
    int rc = remote_open(&c, &o);
    if (rc)
        return rc;
    fmugw_job_status st;
    int e = 0;
    if (wait) {
        e = fmugw_job_wait(&st, c, job, 0, NULL, NULL);
        if (e && e != FMUGW_CLIENT_EJOBFAILED)
            goto done;
    }
    char *text = NULL;
    int e2 = fmugw_job_get(&text, c, job);
    if (e2) {
        e = e2;
        goto done;
    }
    if (o.json) {
        remote_print_json_text(text);
    } else {
        json_t *j = json_loads(text, 0, NULL);
        printf("%s %s", job, remote_str(j, "status"));
        json_t *cc = json_object_get(j, "credits_charged");
        if (json_is_number(cc))
            printf(" (%g credits)", json_number_value(cc));
        putchar('\n');
        json_decref(j);
    }
    fmugw_free(text);
done:
    if (e)
        rc = cli_client_error(e);
    fmugw_client_free(c);
    return rc;
}

int cli_results(int argc, char **argv)
{
    static const char usage[] = "fmugw results JOB [-o FILE] [--profile NAME]";
    remote_common o = {0};
    const char *job = NULL, *out = "-";
    int missing;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r = remote_common_option(&o, argc, argv, &i);
        if (r < 0)
            return CLI_USAGE;
        if (r > 0)
            continue;
        if ((v = remote_option_value("-o", argc, argv, &i, &missing)) ||
            (!missing && (v = remote_option_value("--output", argc, argv, &i, &missing))))
            out = v;
        else if (missing)
            return CLI_USAGE;
        else if (argv[i][0] != '-' && !job)
            job = argv[i];
        else {
            cli_error("unexpected argument \"%s\" (usage: %s)", argv[i], usage);
            return CLI_USAGE;
        }
    }
    if (o.help) {
        printf("usage: %s\n", usage);
        return CLI_OK;
    }
    if (!job) {
        cli_error("usage: %s", usage);
        return CLI_USAGE;
    }
    fmugw_client *c;
    int rc = remote_open(&c, &o);
    if (rc)
        return rc;
    int e = fmugw_job_results_download(c, job, out);
    if (e)
        rc = cli_client_error(e);
    else if (strcmp(out, "-"))
        fprintf(stderr, "results of %s written to %s\n", job, out);
    fmugw_client_free(c);
    return rc;
}

int cli_cancel(int argc, char **argv)
{
    remote_common o = {0};
    const char *pos[1] = {NULL};
    int rc = parse_simple(&o, argc, argv, pos, 1, 1, "fmugw cancel JOB [--profile NAME]");
    if (rc >= 0)
        return rc;
    fmugw_client *c;
    if ((rc = remote_open(&c, &o)))
        return rc;
    int e = fmugw_job_cancel(c, pos[0]);
    if (e)
        rc = cli_client_error(e);
    else
        fprintf(stderr, "cancel requested for %s\n", pos[0]);
    fmugw_client_free(c);
    return rc;
}

int cli_jobs(int argc, char **argv)
{
    remote_common o = {0};
    const char *pos[1];
    int rc = parse_simple(&o, argc, argv, pos, 0, 0, "fmugw jobs [--json] [--profile NAME]");
    if (rc >= 0)
        return rc;
    fmugw_client *c;
    if ((rc = remote_open(&c, &o)))
        return rc;
    char *text = NULL;
    int e = fmugw_job_list(&text, c);
    if (e) {
        rc = cli_client_error(e);
    } else if (o.json) {
        remote_print_json_text(text);
    } else {
        json_t *j = json_loads(text, 0, NULL), *it;
        size_t i;
        printf("%-36s %-10s %-36s %s\n", "JOB", "STATUS", "FMU", "CREATED");
        json_array_foreach(json_object_get(j, "items"), i, it) {
            const char *id = json_string_value(json_object_get(it, "job_id"));
            printf("%-36s %-10s %-36s %s\n", id ? id : remote_str(it, "id"), remote_str(it, "status"),
                   remote_str(it, "fmu_id"), remote_str(it, "created_at"));
        }
        json_decref(j);
    }
    fmugw_free(text);
    fmugw_client_free(c);
    return rc;
}

/* ---- keys, account, usage -------------------------------------------------- */

int cli_keys(int argc, char **argv)
{
    static const char usage[] = "fmugw keys create [--name NAME] [--scopes \"S1 S2\"] | keys list | keys revoke ID"
                                "  [--json] [--profile NAME]";
    remote_common o = {0};
    const char *sub = NULL, *arg = NULL, *name = NULL, *scopes = NULL;
    int missing;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r = remote_common_option(&o, argc, argv, &i);
        if (r < 0)
            return CLI_USAGE;
        if (r > 0)
            continue;
        if ((v = remote_option_value("--name", argc, argv, &i, &missing)))
            name = v;
        else if (!missing && (v = remote_option_value("--scopes", argc, argv, &i, &missing)))
            scopes = v;
        else if (missing)
            return CLI_USAGE;
        else if (argv[i][0] != '-' && !sub)
            sub = argv[i];
        else if (argv[i][0] != '-' && !arg)
            arg = argv[i];
        else {
            cli_error("unexpected argument \"%s\" (usage: %s)", argv[i], usage);
            return CLI_USAGE;
        }
    }
    if (o.help) {
        printf("usage: %s\n", usage);
        return CLI_OK;
    }
    int is_create = sub && !strcmp(sub, "create"), is_list = sub && !strcmp(sub, "list"),
        is_revoke = sub && !strcmp(sub, "revoke");
    if (!(is_create && !arg) && !(is_list && !arg) && !(is_revoke && arg)) {
        cli_error("usage: %s", usage);
        return CLI_USAGE;
    }
    fmugw_client *c;
    int rc = remote_open(&c, &o);
    if (rc)
        return rc;
    char *text = NULL;
    int e = is_create ? fmugw_key_create(&text, c, name, scopes)
            : is_list ? fmugw_key_list(&text, c)
                      : fmugw_key_revoke(c, arg);
    if (e) {
        rc = cli_client_error(e);
    } else if (is_revoke) {
        fprintf(stderr, "revoked %s\n", arg);
    } else if (o.json) {
        remote_print_json_text(text);
    } else if (is_create) {
        json_t *j = json_loads(text, 0, NULL);
        printf("%s\n", remote_str(j, "api_key"));
        fprintf(stderr, "key %s (scopes: %s): shown once, store it now\n", remote_str(j, "id"),
                remote_str(j, "scopes"));
        json_decref(j);
    } else {
        json_t *j = json_loads(text, 0, NULL), *it;
        size_t i;
        printf("%-24s %-20s %-8s %-30s %s\n", "ID", "HINT", "STATE", "SCOPES", "NAME");
        json_array_foreach(json_object_get(j, "items"), i, it) {
            const char *state = json_is_true(json_object_get(it, "locked")) ? "locked"
                                : json_is_string(json_object_get(it, "revoked_at")) ? "revoked" : "active";
            printf("%-24s %-20s %-8s %-30s %s\n", remote_str(it, "id"), remote_str(it, "hint"), state,
                   remote_str(it, "scopes"), remote_str(it, "name"));
        }
        json_decref(j);
    }
    fmugw_free(text);
    fmugw_client_free(c);
    return rc;
}

int cli_account(int argc, char **argv)
{
    remote_common o = {0};
    const char *pos[1];
    int rc = parse_simple(&o, argc, argv, pos, 0, 0, "fmugw account [--json] [--profile NAME]");
    if (rc >= 0)
        return rc;
    fmugw_client *c;
    if ((rc = remote_open(&c, &o)))
        return rc;
    char *text = NULL;
    int e = fmugw_account_get(&text, c);
    if (e) {
        rc = cli_client_error(e);
    } else if (o.json) {
        remote_print_json_text(text);
    } else {
        json_t *j = json_loads(text, 0, NULL);
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) {
            if (json_is_string(v))
                printf("%-20s %s\n", k, json_string_value(v));
            else if (json_is_number(v))
                printf("%-20s %g\n", k, json_number_value(v));
            else if (json_is_boolean(v))
                printf("%-20s %s\n", k, json_is_true(v) ? "yes" : "no");
        }
        json_decref(j);
    }
    fmugw_free(text);
    fmugw_client_free(c);
    return rc;
}

int cli_usage(int argc, char **argv)
{
    static const char usage[] = "fmugw usage [--csv | --json] [--profile NAME]";
    remote_common o = {0};
    int csv = 0;
    for (int i = 1; i < argc; i++) {
        int r = remote_common_option(&o, argc, argv, &i);
        if (r < 0)
            return CLI_USAGE;
        if (r > 0)
            continue;
        if (!strcmp(argv[i], "--csv"))
            csv = 1;
        else {
            cli_error("unexpected argument \"%s\" (usage: %s)", argv[i], usage);
            return CLI_USAGE;
        }
    }
    if (o.help) {
        printf("usage: %s\n", usage);
        return CLI_OK;
    }
    if (csv && o.json) {
        cli_error("--csv and --json exclude each other");
        return CLI_USAGE;
    }
    fmugw_client *c;
    int rc = remote_open(&c, &o);
    if (rc)
        return rc;
    char *text = NULL;
    int e = fmugw_account_usage(&text, c, csv);
    if (e)
        rc = cli_client_error(e);
    else if (csv)
        fputs(text, stdout);
    else
        remote_print_json_text(text);
    fmugw_free(text);
    fmugw_client_free(c);
    return rc;
}
