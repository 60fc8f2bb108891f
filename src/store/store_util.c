/* store_util.c - random ids, the clock and hex for the repositories. */
#include "store_util.h"
#include "util/error.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void store__hex(char *out, const unsigned char *in, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

int store__new_id(char out[STORE_ID_MAX], const char *prefix)
{
    unsigned char rnd[16];
    char hex[33];
    if (strlen(prefix) + 1 + 32 + 1 > STORE_ID_MAX)
        return fmugw_error_set(FMUGW_EINVALID, "id prefix too long");
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return fmugw_error_set(FMUGW_ERROR, "the random generator failed");
    store__hex(hex, rnd, sizeof rnd);
    snprintf(out, STORE_ID_MAX, "%s_%s", prefix, hex);
    return 0;
}

int64_t store__now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
