/*
 * evaluate.c - the registry's verdict on an FMU archive (see evaluate.h):
 * archive checks, partial extraction, the validator, the fatal rules, the
 * model summary and the report, bounded. Runs inside the sandbox only
 * (fmugw-validator).
 */
#include "registry/evaluate.h"

#include "fmi/archive.h"
#include "fmi/fmu.h"
#include "fmi/validate.h"
#include "util/error.h"
#include "util/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- rules -------------------------------------------------------------- */

static const char *const fatal_rules[] = {
    "archive", "model-description-missing", "model-description-parse", "fmi-version",
    "interface-required", "model-identifier-invalid", "binary-invalid", "binary-function-missing",
};

static bool rule_is_fatal(const char *rule)
{
    for (size_t i = 0; i < sizeof fatal_rules / sizeof fatal_rules[0]; i++)
        if (strcmp(fatal_rules[i], rule) == 0)
            return true;
    return false;
}

/* Distinct binaries the model's declared interfaces need (one per model
 * identifier): if `binary-missing` is reported for all of them, no
 * interface can run. */
static size_t distinct_binaries(const fmi_model *m)
{
    const char *ids[3];
    size_t n = 0;
    for (int i = 0; i < 3; i++) {
        const char *id = m->interfaces[i].present ? m->interfaces[i].model_identifier : NULL;
        if (id == NULL || id[0] == '\0')
            continue;
        bool seen = false;
        for (size_t j = 0; j < n; j++)
            seen |= strcmp(ids[j], id) == 0;
        if (!seen)
            ids[n++] = id;
    }
    return n;
}

/* ---- summary ------------------------------------------------------------ */

static json_t *jstr_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* `s` cut to REGISTRY_SUMMARY_TEXT_MAX bytes at a UTF-8 boundary (null
 * for NULL). */
static json_t *jtext(const char *s)
{
    if (!s)
        return json_null();
    size_t n = strlen(s);
    if (n <= REGISTRY_SUMMARY_TEXT_MAX)
        return json_string(s);
    n = REGISTRY_SUMMARY_TEXT_MAX;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return json_stringn(s, n);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The binaries/<platform> directories of an extracted FMU, sorted. */
static json_t *platforms_json(const char *dir)
{
    json_t *arr = json_array();
    char *bin = fmugw_path_join(dir, "binaries");
    char *names[256];
    size_t n = 0;
    DIR *d = bin ? opendir(bin) : NULL;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL && n < 256) {
        if (e->d_name[0] == '.')
            continue;
        char *p = fmugw_path_join(bin, e->d_name);
        struct stat st;
        if (p && lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
            names[n++] = strdup(e->d_name);
        free(p);
    }
    if (d)
        closedir(d);
    qsort(names, n, sizeof names[0], cmp_str);
    for (size_t i = 0; i < n; i++) {
        if (names[i])
            json_array_append_new(arr, json_string(names[i]));
        free(names[i]);
    }
    free(bin);
    return arr;
}

static json_t *summary_json(const fmi_fmu *fmu)
{
    const fmi_model *m = fmu->model;
    json_t *s = json_object(), *ifaces = json_array(), *vars = json_array(), *de = json_object();
    size_t n_in = 0, n_out = 0, n_par = 0;

    for (int i = 0; i < 3; i++)
        if (m->interfaces[i].present)
            json_array_append_new(ifaces, json_string(fmi_interface_name((fmi_interface)i)));
    if (m->default_experiment.has_start_time)
        json_object_set_new(de, "start_time", json_real(m->default_experiment.start_time));
    if (m->default_experiment.has_stop_time)
        json_object_set_new(de, "stop_time", json_real(m->default_experiment.stop_time));
    if (m->default_experiment.has_tolerance)
        json_object_set_new(de, "tolerance", json_real(m->default_experiment.tolerance));
    if (m->default_experiment.has_step_size)
        json_object_set_new(de, "step_size", json_real(m->default_experiment.step_size));
    for (size_t i = 0; i < m->n_variables; i++) {
        const fmi_variable *v = &m->variables[i];
        n_in += v->causality == FMI_CAUSALITY_INPUT;
        n_out += v->causality == FMI_CAUSALITY_OUTPUT;
        n_par += v->causality == FMI_CAUSALITY_PARAMETER || v->causality == FMI_CAUSALITY_STRUCTURAL_PARAMETER;
        json_array_append_new(vars, json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:o}", "name", v->name ? v->name : "",
                                              "type", fmi_type_name(m->version, v->type), "causality",
                                              fmi_causality_name(v->causality), "variability",
                                              fmi_variability_name(v->variability), "start", jtext(v->start),
                                              "unit", jtext(v->unit), "description", jtext(v->description)));
    }
    size_t n_events = m->version == FMI_VERSION_2 ? m->number_of_event_indicators : m->n_event_indicators;
    json_object_set_new(s, "fmi_version", json_string(m->fmi_version ? m->fmi_version : ""));
    json_object_set_new(s, "model_name", json_string(m->model_name ? m->model_name : ""));
    json_object_set_new(s, "instantiation_token", json_string(m->instantiation_token ? m->instantiation_token : ""));
    json_object_set_new(s, "generation_tool", jstr_or_null(m->generation_tool));
    json_object_set_new(s, "description", jstr_or_null(m->description));
    json_object_set_new(s, "interfaces", ifaces);
    json_object_set_new(s, "platforms", platforms_json(fmu->dir));
    json_object_set_new(s, "default_experiment", de);
    json_object_set_new(s, "variables", vars);
    json_object_set_new(s, "counts",
                        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "variables", (json_int_t)m->n_variables, "inputs",
                                  (json_int_t)n_in, "outputs", (json_int_t)n_out, "parameters", (json_int_t)n_par,
                                  "continuous_states", (json_int_t)m->n_derivatives, "event_indicators",
                                  (json_int_t)n_events));
    return s;
}

/* ---- the archive as a source ------------------------------------------- */

static int file_read_at(void *ctx, uint64_t off, void *buf, size_t len, size_t *out_n)
{
    int fd = *(int *)ctx;
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return fmugw_error_set(FMUGW_EIO, "cannot read the archive: %s", strerror(errno));
        if (r == 0)
            break;
        got += (size_t)r;
    }
    *out_n = got;
    return 0;
}

/* ---- the verdict -------------------------------------------------------- */

int registry_evaluate_file(json_t **out, const char *fmu_path, const char *tmp_dir)
{
    char *dir = NULL, *unpack = NULL;
    fmi_report *rep = NULL;
    fmi_fmu *fmu = NULL;
    json_t *problems = json_array(), *fatal = json_array(), *sj = NULL;
    size_t missing = 0;
    int fd = -1, rc;

    *out = NULL;
    if (asprintf(&dir, "%s/val-XXXXXX", tmp_dir && *tmp_dir ? tmp_dir : "/tmp") < 0) {
        dir = NULL;
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    if (mkdtemp(dir) == NULL) {
        rc = fmugw_error_set(FMUGW_EIO, "cannot create a validation directory: %s", strerror(errno));
        free(dir);
        dir = NULL;
        goto out;
    }
    if (!problems || !fatal || (unpack = fmugw_path_join(dir, "fmu")) == NULL ||
        (rep = calloc(1, sizeof *rep)) == NULL) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    struct stat st;
    if ((fd = open(fmu_path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0) {
        rc = fmugw_error_set(FMUGW_EIO, "cannot open the archive: %s", strerror(errno));
        goto out;
    }
    /* Every entry's header is checked; only modelDescription.xml and
     * binaries/ are written (one unpacking for validation and summary). */
    fmi_archive_source as = { file_read_at, &fd, (uint64_t)st.st_size, "model.fmu" };
    rc = fmi_archive_extract_source(&as, unpack, NULL, fmi_validate_needs_entry, NULL);
    if (rc == FMUGW_ENOMEM)
        goto out;
    if (rc != 0) {
        if ((rc = fmi_report_add(rep, "archive", "model.fmu", "%s", fmugw_error_last())) != 0)
            goto out;
    } else if (fmi_fmu_open_dir(&fmu, unpack) == 0) {
        if ((rc = fmi_validate_model(rep, fmu->model, fmu->dir)) == FMUGW_ENOMEM)
            goto out;
        rc = 0;
        sj = summary_json(fmu);
    } else {
        char why[512];
        snprintf(why, sizeof why, "%s", fmugw_error_last());
        if ((rc = fmi_validate_unpacked(rep, unpack)) != 0)
            goto out;
        if (rep->n_problems == 0)
            fmi_report_add(rep, "model-description-parse", "modelDescription.xml", "%s", why);
    }
    for (size_t i = 0; i < rep->n_problems; i++)
        missing += strcmp(rep->problems[i].rule, "binary-missing") == 0;
    /* binary-missing is fatal only when every declared interface lacks its
     * binary */
    bool all_missing = fmu && missing > 0 && missing >= distinct_binaries(fmu->model);
    bool any_fatal = sj == NULL;
    for (size_t i = 0; i < rep->n_problems; i++) {
        const fmi_problem *p = &rep->problems[i];
        bool is_fatal = rule_is_fatal(p->rule) || (all_missing && strcmp(p->rule, "binary-missing") == 0);
        if (is_fatal) {
            bool seen = false;
            size_t k;
            json_t *r;
            json_array_foreach(fatal, k, r) seen |= strcmp(json_string_value(r), p->rule) == 0;
            if (!seen)
                json_array_append_new(fatal, json_string(p->rule));
        }
        any_fatal |= is_fatal;
        if (i < REGISTRY_REPORT_MAX_PROBLEMS)
            json_array_append_new(problems, json_pack("{s:s,s:s,s:s,s:s}", "rule", p->rule, "where",
                                                      p->where ? p->where : "", "message",
                                                      p->message ? p->message : "", "severity",
                                                      is_fatal ? "error" : "warning"));
    }
    json_t *rj = json_pack("{s:b,s:O,s:O}", "valid", !any_fatal, "fatal", fatal, "problems", problems);
    if (rj && rep->n_problems > REGISTRY_REPORT_MAX_PROBLEMS)
        json_object_set_new(rj, "problems_total", json_integer((json_int_t)rep->n_problems));
    *out = rj ? json_pack("{s:b,s:O,s:o,s:o}", "ready", !any_fatal, "fatal", fatal, "summary",
                          sj ? json_incref(sj) : json_null(), "report", rj)
              : NULL;
    if (!*out) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    fmi_fmu_close(fmu);
    fmi_report_free(rep);
    json_decref(problems);
    json_decref(fatal);
    json_decref(sj);
    if (dir) {
        fmugw_rmtree(dir);
        free(dir);
    }
    free(unpack);
    return rc;
}

char *registry_evaluate_dump(const json_t *answer, size_t *len)
{
    char *text = json_dumps(answer, JSON_COMPACT);
    if (text && strlen(text) > REGISTRY_ANSWER_MAX) {
        char msg[160];
        snprintf(msg, sizeof msg, "the model summary and report take %zu bytes, over the limit of %zu", strlen(text),
                 REGISTRY_ANSWER_MAX);
        free(text);
        json_t *r = registry_evaluate_rejection("model-too-large", msg);
        text = r ? json_dumps(r, JSON_COMPACT) : NULL;
        json_decref(r);
    }
    if (text && len)
        *len = strlen(text);
    return text;
}
