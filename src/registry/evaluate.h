/*
 * evaluate.h - the registry's verdict on an FMU archive: ready or
 * rejected, the model summary and the validation report, as one JSON
 * answer. Pure (a plaintext .fmu in, JSON out: no database, no keys) and
 * fed untrusted bytes, so it never runs in the daemon: fmugw-validator
 * (validator_main.c) runs it inside the sandbox and registry.c parses the
 * answer it writes.
 *
 * Answer: {"ready": bool, "fatal": [rules...], "summary": object | null,
 *          "report": {"valid", "fatal", "problems", ["problems_total"]}}
 * (the shapes of registry.h). Bounds: at most REGISTRY_REPORT_MAX_PROBLEMS
 * problems are listed (problems_total then counts them all; the verdict
 * uses all of them); a variable's description, start and unit are cut to
 * REGISTRY_SUMMARY_TEXT_MAX bytes in the summary; an answer still longer
 * than REGISTRY_ANSWER_MAX bytes is replaced by a rejection with rule
 * "model-too-large".
 */
#ifndef FMUGW_REGISTRY_EVALUATE_H
#define FMUGW_REGISTRY_EVALUATE_H

#include <jansson.h>
#include <stddef.h>

#define REGISTRY_ANSWER_MAX ((size_t)32 << 20)
#define REGISTRY_REPORT_MAX_PROBLEMS 1000
#define REGISTRY_SUMMARY_TEXT_MAX 256

/** Evaluates the FMU archive at `fmu_path`: every entry's header checked,
 *  modelDescription.xml and binaries/ extracted to a new directory under
 *  `tmp_dir` (removed before returning), the validator run, the summary
 *  built. *out is the answer (the caller decrefs). Returns 0 (whatever the
 *  verdict) or FMUGW_ENOMEM / FMUGW_EIO when the evaluation itself failed. */
int registry_evaluate_file(json_t **out, const char *fmu_path, const char *tmp_dir);

/** The answer for an FMU that could not be evaluated within the limits:
 *  rejected with `rule` and `message`. NULL when out of memory. Inline:
 *  the daemon (registry.c) builds it too, without linking evaluate.c. */
static inline json_t *registry_evaluate_rejection(const char *rule, const char *message)
{
    return json_pack("{s:b,s:[s],s:n,s:{s:b,s:[s],s:[{s:s,s:s,s:s,s:s}]}}", "ready", 0, "fatal", rule, "summary",
                     "report", "valid", 0, "fatal", rule, "problems", "rule", rule, "where", "model.fmu", "message",
                     message, "severity", "error");
}

/** Serialises `answer` compactly; if longer than REGISTRY_ANSWER_MAX, the
 *  "model-too-large" rejection instead. malloc'd, NULL when out of memory. */
char *registry_evaluate_dump(const json_t *answer, size_t *len);

#endif
