/*
 * store_util.h - helpers shared by the repository files of src/store
 * (internal: not for callers outside src/store): random ids, the clock,
 * hex encoding.
 */
#ifndef FMUGW_STORE_UTIL_H
#define FMUGW_STORE_UTIL_H

#include <stddef.h>
#include <stdint.h>

/** Longest id the repositories generate, with its NUL ("fmu_" + 32 hex). */
#define STORE_ID_MAX 48

/** Writes `<prefix>_<32 lowercase hex from the CSPRNG>` into out
 *  (STORE_ID_MAX bytes). Ids are unguessable, so they reveal nothing about
 *  other tenants. */
int store__new_id(char out[STORE_ID_MAX], const char *prefix);

/** Wall-clock time in unix milliseconds. */
int64_t store__now_ms(void);

/** Lowercase hex of `len` bytes into `out` (2*len+1 bytes). */
void store__hex(char *out, const unsigned char *in, size_t len);

#endif
