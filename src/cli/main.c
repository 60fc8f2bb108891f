/* main.c - fmugw: dispatches to the subcommands (local: sim, info FILE,
 * validate; gateway: configure, upload, fmus, info ID, run, status, results,
 * cancel, jobs, keys, account, usage). */
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
    "Gateway commands (configure once, or set FMUGW_BASE_URL and FMUGW_API_KEY):\n"
    "  configure           write ~/.fmu_gateway/config (--base-url, --api-key, --profile)\n"
    "  run MODEL.fmu|ID    upload if needed, simulate on the gateway, download the results\n"
    "  upload MODEL.fmu    upload an FMU (skipped when the same bytes are stored)\n"
    "  fmus                list the FMUs you can run\n"
    "  info ID             summary of an uploaded FMU\n"
    "  status JOB          state of a job (--wait to wait for the end)\n"
    "  results JOB         download a job's results (-o FILE)\n"
    "  cancel JOB          cancel a job\n"
    "  jobs                list your jobs\n"
    "  keys create|list|revoke   manage API keys\n"
    "  account             tier and credit balance\n"
    "  usage [--csv]       usage of the account\n"
    "Read commands take --json; all take --profile NAME.\n"
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
    static const struct { const char *name; int (*fn)(int, char **); } remote[] = {
        {"configure", cli_configure}, {"upload", cli_upload}, {"fmus", cli_fmus}, {"run", cli_run},
        {"status", cli_status}, {"results", cli_results}, {"cancel", cli_cancel}, {"jobs", cli_jobs},
        {"keys", cli_keys}, {"account", cli_account}, {"usage", cli_usage},
    };
    for (size_t i = 0; i < sizeof remote / sizeof remote[0]; i++)
        if (!strcmp(cmd, remote[i].name))
            return remote[i].fn(argc - 1, argv + 1);
    cli_error("unknown command \"%s\" (try 'fmugw --help')", cmd);
    return CLI_USAGE;
}
