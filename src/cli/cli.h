/*
 * cli.h - the fmugw command-line tool: one function per subcommand, and the
 * exit codes every subcommand uses. Local commands (sim, validate, info
 * FILE) use the FMI engine; the gateway commands use only libfmugw's public
 * API (include/fmugw.h).
 */
#ifndef FMUGW_CLI_H
#define FMUGW_CLI_H

/* Exit codes (documented in docs/cli.md; never renumbered). */
enum {
    CLI_OK = 0,
    CLI_FAILED = 1, /* the operation ran and failed (bad FMU, FMU error) */
    CLI_USAGE = 2,  /* bad command line: nothing was done */
    CLI_AUTH = 3,   /* not configured, unsafe config, key refused, revoked or lacking the scope */
    CLI_CREDITS = 4, /* insufficient credits */
    CLI_JOB_FAILED = 5, /* the job failed, was canceled or timed out */
    CLI_NETWORK = 6, /* the gateway could not be reached */
    CLI_NOT_FOUND = 7 /* no such FMU, job or key */
};

int cli_sim(int argc, char **argv);
int cli_info(int argc, char **argv);
int cli_validate(int argc, char **argv);

/* Gateway commands (cmd_remote.c, cmd_run.c). */
int cli_configure(int argc, char **argv);
int cli_upload(int argc, char **argv);
int cli_fmus(int argc, char **argv);
int cli_info_remote(int argc, char **argv);
int cli_run(int argc, char **argv);
int cli_status(int argc, char **argv);
int cli_results(int argc, char **argv);
int cli_cancel(int argc, char **argv);
int cli_jobs(int argc, char **argv);
int cli_keys(int argc, char **argv);
int cli_account(int argc, char **argv);
int cli_usage(int argc, char **argv);

/** The exit code for a libfmugw error code (FMUGW_CLIENT_E*). */
int cli_exit_for(int client_code);

/** Prints libfmugw's last error as "fmugw: MESSAGE" and returns the exit
 *  code for `client_code`. */
int cli_client_error(int client_code);

/** Prints "fmugw: MESSAGE" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
