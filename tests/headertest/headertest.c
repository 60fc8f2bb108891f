/*
 * headertest.c - the public header contract: include/fmugw.h compiles on
 * its own with -std=c11 -Wall -Wextra -pedantic -Werror (ctest
 * headertest/fmugw_h), and its option initializers are usable.
 */
#include "fmugw.h"

int main(void)
{
    fmugw_client_options co = FMUGW_CLIENT_OPTIONS_INIT;
    fmugw_upload_options uo = FMUGW_UPLOAD_OPTIONS_INIT;
    fmugw_execute_options eo = FMUGW_EXECUTE_OPTIONS_INIT;
    return co.version + uo.version + eo.version == 3 ? 0 : 1;
}
