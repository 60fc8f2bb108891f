/*
 * remote.h - what the gateway commands of the CLI share (cmd_remote.c,
 * cmd_run.c): the common options (--json, --profile, --help), opening a
 * client, printing JSON and the upload progress bar.
 */
#ifndef FMUGW_CLI_REMOTE_H
#define FMUGW_CLI_REMOTE_H

#include "fmugw.h"

#include <jansson.h>

typedef struct {
    int json;
    int help;
    const char *profile;
} remote_common;

/** If argv[*i] is a common option, consumes it (and its value) and returns
 *  1; 0 if it is not one; -1 (message printed) if its value is missing. */
int remote_common_option(remote_common *o, int argc, char **argv, int *i);

/** Value of "--name VALUE" or "--name=VALUE" at argv[*i]: returns the
 *  value (advancing *i past a separate value) or NULL if argv[*i] is not
 *  that option. Sets *missing when the value is absent. */
const char *remote_option_value(const char *name, int argc, char **argv, int *i, int *missing);

/** Opens a client for the profile; on failure prints the error and returns
 *  the exit code (else 0). */
int remote_open(fmugw_client **out, const remote_common *o);

/** Prints a JSON document (text from libfmugw) indented on stdout. */
void remote_print_json_text(const char *text);

/** Upload progress bar on stderr (only when stderr is a terminal). */
int remote_upload_progress(void *ud, unsigned long long done, unsigned long long total);

/** A string field of a JSON object, or "" / "-". */
const char *remote_str(const json_t *o, const char *key);

#endif
