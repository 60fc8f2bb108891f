/*
 * validate.h - static validation of an FMU: the checks of FMPy's and
 * fmusim's validators.
 *
 * A report is a list of problems, each with the rule broken (a stable
 * kebab-case id such as "unique-variable-names"), where (file and line, or
 * variable name) and a one-line message. The validator never runs FMU code:
 * the exported functions of a binary are read from its ELF dynamic symbol
 * table (dlopen would run the library's constructors).
 */
#ifndef FMUGW_FMI_VALIDATE_H
#define FMUGW_FMI_VALIDATE_H

#include "model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct {
    char *rule;     /* stable id, e.g. "start-value-required" */
    char *where;    /* e.g. "modelDescription.xml:42 (variable 'h')" */
    char *message;  /* one line */
} fmi_problem;

typedef struct {
    fmi_problem *problems;
    size_t n_problems;
} fmi_report;

/** Validates the FMU at `fmu_path` (a .fmu zip): archive rules, then the
 *  model description, then the binaries. *out is always set (even when the
 *  FMU cannot be opened: that is a problem in the report) and freed with
 *  fmi_report_free(). Returns 0, or FMUGW_ENOMEM. */
int fmi_validate_fmu(fmi_report **out, const char *fmu_path);

/** Validates an FMU already unpacked into `dir` (all of it, or only the
 *  entries fmi_validate_needs_entry() accepts): the model description
 *  rules, then the model, then the binaries. Appends to `rep`. Returns 0,
 *  or FMUGW_ENOMEM. */
int fmi_validate_unpacked(fmi_report *rep, const char *dir);

/** The entries of an FMU the validator reads (an fmi_archive_want_fn):
 *  modelDescription.xml and everything under binaries/. The others need
 *  only their archive headers checked. `ctx` is unused. */
bool fmi_validate_needs_entry(const char *path, bool is_dir, void *ctx);

/** Validates an already parsed model and its unpacked directory
 *  (`unpack_dir` may be NULL to skip the binary checks). Appends to `rep`. */
int fmi_validate_model(fmi_report *rep, const fmi_model *model, const char *unpack_dir);

/** Appends a problem (printf-style message). */
int fmi_report_add(fmi_report *rep, const char *rule, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/** Prints one line per problem: "RULE  WHERE: MESSAGE". */
void fmi_report_print(const fmi_report *rep, FILE *f);

void fmi_report_free(fmi_report *rep);

#endif
