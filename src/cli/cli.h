/*
 * cli.h - the fmugw command-line tool: one function per subcommand, and the
 * exit codes every subcommand uses.
 */
#ifndef FMUGW_CLI_H
#define FMUGW_CLI_H

/* Exit codes (documented in docs/cli.md; never renumbered). */
enum {
    CLI_OK = 0,
    CLI_FAILED = 1, /* the operation ran and failed (bad FMU, FMU error) */
    CLI_USAGE = 2   /* bad command line: nothing was done */
};

int cli_sim(int argc, char **argv);
int cli_info(int argc, char **argv);
int cli_validate(int argc, char **argv);

/** Prints "fmugw: MESSAGE" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
