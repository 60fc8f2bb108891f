/* cmd_validate.c - `fmugw validate`: static checks of an FMU; one problem
 * per line; the exit status is the number of problems (capped at 125). */
#include "cli.h"

#include "fmi/validate.h"
#include "util/error.h"

#include <stdio.h>
#include <string.h>

int cli_validate(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        puts("usage: fmugw validate MODEL.fmu\n"
             "Prints one line per problem (RULE  WHERE: MESSAGE); exit status = number of problems.");
        return CLI_OK;
    }
    if (argc != 2 || argv[1][0] == '-') {
        cli_error("usage: fmugw validate MODEL.fmu");
        return CLI_USAGE;
    }
    fmi_report *rep;
    if (fmi_validate_fmu(&rep, argv[1])) {
        cli_error("%s", fmugw_error_last());
        return CLI_FAILED;
    }
    fmi_report_print(rep, stdout);
    size_t n = rep->n_problems;
    if (n == 0)
        printf("%s: valid (no problems found)\n", argv[1]);
    else
        fprintf(stderr, "fmugw: %s: %zu problem%s\n", argv[1], n, n == 1 ? "" : "s");
    fmi_report_free(rep);
    return n > 125 ? 125 : (int)n;
}
