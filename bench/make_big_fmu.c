/*
 * make_big_fmu.c - writes a valid FMU of a chosen size for the upload
 * benchmark (bench/bench_http.sh): every entry of a sample FMU plus
 * resources/bench_noise.bin, pseudo-random (incompressible) bytes stored
 * uncompressed, so the archive is as large as asked and still passes the
 * static validator.
 *
 * usage: make_big_fmu SAMPLE.fmu OUT.fmu MIB
 */
#include <zip.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* xorshift64*: fast, and its output does not compress */
static uint64_t next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1DULL;
}

static int write_noise(const char *path, uint64_t bytes)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    uint64_t seed = 0x9E3779B97F4A7C15ULL, block[8192];
    int rc = 0;
    for (uint64_t done = 0; done < bytes;) {
        for (size_t i = 0; i < sizeof block / sizeof block[0]; i++)
            block[i] = next(&seed);
        size_t n = bytes - done < sizeof block ? (size_t)(bytes - done) : sizeof block;
        if (fwrite(block, 1, n, f) != n) {
            rc = -1;
            break;
        }
        done += n;
    }
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: make_big_fmu SAMPLE.fmu OUT.fmu MIB\n");
        return 2;
    }
    uint64_t bytes = (uint64_t)strtoull(argv[3], NULL, 10) << 20;
    char noise[4096];
    snprintf(noise, sizeof noise, "%s.noise", argv[2]);
    int err = 0, rc = 1;
    zip_t *in = NULL, *out = NULL;

    if (write_noise(noise, bytes) != 0) {
        fprintf(stderr, "make_big_fmu: cannot write %s\n", noise);
        goto done;
    }
    if (!(in = zip_open(argv[1], ZIP_RDONLY, &err))) {
        fprintf(stderr, "make_big_fmu: cannot open %s (libzip error %d)\n", argv[1], err);
        goto done;
    }
    if (!(out = zip_open(argv[2], ZIP_CREATE | ZIP_TRUNCATE, &err))) {
        fprintf(stderr, "make_big_fmu: cannot create %s (libzip error %d)\n", argv[2], err);
        goto done;
    }
    zip_int64_t n = zip_get_num_entries(in, 0);
    for (zip_int64_t i = 0; i < n; i++) {
        const char *name = zip_get_name(in, (zip_uint64_t)i, 0);
        zip_source_t *src = name ? zip_source_zip(out, in, (zip_uint64_t)i, 0, 0, -1) : NULL;
        if (!src || (name[strlen(name) - 1] == '/' ? zip_dir_add(out, name, ZIP_FL_ENC_UTF_8)
                                                   : zip_file_add(out, name, src, ZIP_FL_ENC_UTF_8)) < 0) {
            fprintf(stderr, "make_big_fmu: cannot copy entry %lld: %s\n", (long long)i, zip_strerror(out));
            zip_source_free(src);
            goto done;
        }
        if (name[strlen(name) - 1] == '/')
            zip_source_free(src);
    }
    zip_source_t *src = zip_source_file(out, noise, 0, -1);
    zip_int64_t idx = src ? zip_file_add(out, "resources/bench_noise.bin", src, ZIP_FL_ENC_UTF_8) : -1;
    if (idx < 0 || zip_set_file_compression(out, (zip_uint64_t)idx, ZIP_CM_STORE, 0) != 0) {
        fprintf(stderr, "make_big_fmu: cannot add the noise: %s\n", zip_strerror(out));
        if (idx < 0)
            zip_source_free(src);
        goto done;
    }
    if (zip_close(out) != 0) {
        fprintf(stderr, "make_big_fmu: cannot write %s: %s\n", argv[2], zip_strerror(out));
        zip_discard(out);
    } else
        rc = 0;
    out = NULL;
done:
    if (out)
        zip_discard(out);
    if (in)
        zip_close(in);
    unlink(noise);
    return rc;
}
