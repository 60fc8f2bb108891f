/*
 * archive.h - safe extraction of an FMU (a zip file) with libzip.
 *
 * Extraction refuses, with a message naming the entry: absolute paths,
 * paths over 1024 bytes, ".." components, backslash-rooted or drive-letter paths, symlink (or any
 * non-regular, non-directory) entries, encrypted entries, more than
 * `max_entries` entries, a total uncompressed size over
 * `max_total_size`, and any entry whose compression ratio is over
 * `max_ratio` (a zip bomb), or an archive whose entries together are over
 * it (many entries each below the per-entry threshold). The declared sizes are checked before anything
 * is written and the actual bytes are counted while writing, so a lying
 * header cannot get past the caps. Files are created with O_NOFOLLOW |
 * O_EXCL under a fresh target directory; nothing is ever written outside
 * it, and on failure the partial extraction is removed. Two entries that
 * would land on the same path (or a file that another entry needs as a
 * directory) are refused from the central directory too, so an entry that
 * is checked but not extracted (fmi_archive_extract_source with a filter)
 * cannot hide one.
 */
#ifndef FMUGW_FMI_ARCHIVE_H
#define FMUGW_FMI_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t max_entries;       /* default 10000 */
    uint64_t max_total_size;  /* default 2 GiB */
    double max_ratio;         /* default 200 (uncompressed / compressed: of each entry over 1 MiB,
                               * and of all entries together when they are over 1 MiB) */
} fmi_archive_limits;

#define FMI_ARCHIVE_LIMITS_INIT { 10000, (uint64_t)2 << 30, 200.0 }

/** Extracts `zip_path` into the directory `target_dir`, which must not exist
 *  yet (it is created 0700). `limits` may be NULL for the defaults. Returns
 *  FMUGW_EUNSAFE for escaping/symlink entries, FMUGW_ETOOBIG for caps,
 *  FMUGW_EINVALID for a file that is not a zip, FMUGW_EIO otherwise. */
int fmi_archive_extract(const char *zip_path, const char *target_dir, const fmi_archive_limits *limits);

/** Extracts into a new private temporary directory; *out_dir is malloc'd
 *  and must be removed by the caller (fmugw_rmtree) and freed. */
int fmi_archive_extract_temp(char **out_dir, const char *zip_path, const fmi_archive_limits *limits);

/** Reads up to `len` bytes of an archive at offset `off` into `buf`;
 *  *out_n < len only at the end. Returns 0 or a negative FMUGW_E* code. */
typedef int (*fmi_archive_read_at_fn)(void *ctx, uint64_t off, void *buf, size_t len, size_t *out_n);

/** A zip archive read through a callback instead of a file (the registry
 *  reads sealed blobs this way without decrypting them to disk). */
typedef struct {
    fmi_archive_read_at_fn read_at;
    void *ctx;
    uint64_t size;    /* bytes of the archive */
    const char *name; /* for messages, e.g. "model.fmu" */
} fmi_archive_source;

/** Chooses the entries to write. `path` is the entry's path with "." and
 *  empty components removed and no trailing slash ("binaries/linux64"). */
typedef bool (*fmi_archive_want_fn)(const char *path, bool is_dir, void *ctx);

/** fmi_archive_extract from `src`, writing only the entries `want` (NULL:
 *  all) accepts. Every entry's header is checked as by fmi_archive_extract
 *  (names, type, encryption, declared sizes and ratio, duplicates); the
 *  inflated-bytes counts and caps apply to the entries written. */
int fmi_archive_extract_source(const fmi_archive_source *src, const char *target_dir, const fmi_archive_limits *limits,
                               fmi_archive_want_fn want, void *want_ctx);

#endif
