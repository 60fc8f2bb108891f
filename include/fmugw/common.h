/*
 * fmugw/common.h - what every public header of libfmugw shares: the export
 * macro, the library version and fmugw_free().
 *
 * Ownership rule of the whole API (stated once here, repeated briefly in
 * each header): anything returned through an `out` pointer belongs to the
 * caller and is released with the free function named beside it
 * (fmugw_free() for strings, fmugw_client_free(), fmugw_table_free()); every
 * free function accepts NULL. Pointers returned directly (const char *) are
 * borrowed and stay valid only as documented.
 */
#ifndef FMUGW_PUBLIC_COMMON_H
#define FMUGW_PUBLIC_COMMON_H

#include <stddef.h>

#if defined(__GNUC__)
#define FMUGW_EXTERN(type) __attribute__((visibility("default"))) type
#else
#define FMUGW_EXTERN(type) type
#endif

/** Major, minor and patch version of the library. */
#define FMUGW_VERSION_MAJOR 0
#define FMUGW_VERSION_MINOR 1
#define FMUGW_VERSION_PATCH 0
/** The version as a string. */
#define FMUGW_VERSION "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Releases memory handed out by the library (JSON documents, text).
 *
 * @param p what an `out` parameter of this library returned; NULL is a no-op.
 */
FMUGW_EXTERN(void) fmugw_free(void *p);

/**
 * The library version.
 *
 * @return FMUGW_VERSION of the library actually linked (static string).
 */
FMUGW_EXTERN(const char *) fmugw_version(void);

#ifdef __cplusplus
}
#endif

#endif
