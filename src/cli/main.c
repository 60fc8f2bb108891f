/* main.c - fmugw: dispatches to the subcommands (sim, info, validate). */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: fmugw <command> [options]\n"
    "\n"
    "Local commands (no server needed):\n"
    "  sim MODEL.fmu       simulate an FMU and write its results (CSV or JSON)\n"
    "  info MODEL.fmu      print a summary of an FMU\n"
    "  validate MODEL.fmu  check an FMU against the FMI standard\n"
    "\n"
    "Run 'fmugw <command> --help' for the options of a command.\n";

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fmugw: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    if (!strcmp(cmd, "--version")) {
        puts("fmugw 0.1.0");
        return CLI_OK;
    }
    if (!strcmp(cmd, "sim"))
        return cli_sim(argc - 1, argv + 1);
    if (!strcmp(cmd, "info"))
        return cli_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "validate"))
        return cli_validate(argc - 1, argv + 1);
    cli_error("unknown command \"%s\" (try 'fmugw --help')", cmd);
    return CLI_USAGE;
}
