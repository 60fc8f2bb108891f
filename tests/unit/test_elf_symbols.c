/*
 * test_elf_symbols.c - fmi_elf_exported_functions() on a shared library
 * compiled by the test (global, weak, hidden, static functions and data),
 * on a system library, and on hostile input: garbage, empty, truncated,
 * 32-bit, corrupted section tables, bit flips, and an oversized file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fmi/elf_symbols.h"
#include "util/error.h"
#include "util/fsutil.h"

#include <elf.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char *dir;
    char so[512];
    char *bytes; /* contents of the compiled library */
    size_t len;
} scratch;

static const char lib_source[] =
    "#include <stdio.h>\n"
    "int exported_fn(int x) { return x + 1; }\n"
    "__attribute__((weak)) int weak_fn(void) { return 2; }\n"
    "__attribute__((visibility(\"hidden\"))) int hidden_fn(void) { return 3; }\n"
    "static int static_fn(void) { return 4; }\n"
    "int exported_var = 5;\n"
    "int uses_static(void) { printf(\"x\"); return static_fn(); }\n";

static int write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t k = fwrite(data, 1, len, f);
    return fclose(f) == 0 && k == len ? 0 : -1;
}

static int setup(void **state)
{
    scratch *s = calloc(1, sizeof *s);
    char src[600], cmd[2048];
    if (!s || fmugw_mkdtemp(&s->dir, "fmugw-test-elf-") != 0)
        return -1;
    snprintf(src, sizeof src, "%s/lib.c", s->dir);
    snprintf(s->so, sizeof s->so, "%s/lib.so", s->dir);
    if (write_file(src, lib_source, sizeof lib_source - 1) != 0)
        return -1;
    snprintf(cmd, sizeof cmd, "cc -shared -fPIC -o '%s' '%s'", s->so, src);
    if (system(cmd) != 0)
        return -1;
    if (fmugw_read_file(&s->bytes, &s->len, s->so, FMI_ELF_MAX_SIZE) != 0)
        return -1;
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    scratch *s = *state;
    fmugw_rmtree(s->dir);
    free(s->dir);
    free(s->bytes);
    free(s);
    return 0;
}

static bool has(char **names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

/* Writes `data` to a file in the scratch dir and returns the parser's code. */
static int parse_bytes(scratch *s, const char *name, const void *data, size_t len)
{
    char path[600];
    char **names = (char **)0x1;
    size_t n = 99;
    snprintf(path, sizeof path, "%s/%s", s->dir, name);
    assert_int_equal(write_file(path, data, len), 0);
    int rc = fmi_elf_exported_functions(&names, &n, path);
    if (rc != 0) {
        assert_null(names);
        assert_int_equal(n, 0);
        assert_true(strlen(fmugw_error_last()) > 0);
    }
    fmi_elf_free_names(names, n);
    return rc;
}

static void test_compiled_library(void **state)
{
    scratch *s = *state;
    char **names = NULL;
    size_t n = 0;
    assert_int_equal(fmi_elf_exported_functions(&names, &n, s->so), 0);
    assert_true(has(names, n, "exported_fn"));
    assert_true(has(names, n, "weak_fn"));
    assert_true(has(names, n, "uses_static"));
    assert_false(has(names, n, "hidden_fn"));   /* hidden: not in .dynsym */
    assert_false(has(names, n, "static_fn"));   /* local */
    assert_false(has(names, n, "exported_var")); /* data, not a function */
    assert_false(has(names, n, "printf"));      /* undefined import */
    fmi_elf_free_names(names, n);
}

static void test_system_library(void **state)
{
    (void)state;
    const char *path = "/usr/lib/x86_64-linux-gnu/libzip.so.4";
    if (access(path, R_OK) != 0)
        skip();
    char **names = NULL;
    size_t n = 0;
    assert_int_equal(fmi_elf_exported_functions(&names, &n, path), 0);
    assert_true(n > 50);
    assert_true(has(names, n, "zip_open"));
    assert_true(has(names, n, "zip_close"));
    assert_false(has(names, n, "malloc"));
    fmi_elf_free_names(names, n);
}

static void test_missing_file(void **state)
{
    scratch *s = *state;
    char path[600];
    char **names = NULL;
    size_t n = 0;
    snprintf(path, sizeof path, "%s/nope.so", s->dir);
    assert_int_equal(fmi_elf_exported_functions(&names, &n, path), FMUGW_ENOTFOUND);
    assert_non_null(strstr(fmugw_error_last(), "nope.so"));
}

static void test_directory(void **state)
{
    scratch *s = *state;
    char **names = NULL;
    size_t n = 0;
    assert_int_equal(fmi_elf_exported_functions(&names, &n, s->dir), FMUGW_EINVALID);
}

static void test_garbage(void **state)
{
    scratch *s = *state;
    char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)(i * 7 + 3);
    assert_int_equal(parse_bytes(s, "junk.so", junk, sizeof junk), FMUGW_EINVALID);
    assert_int_equal(parse_bytes(s, "empty.so", "", 0), FMUGW_EINVALID);
    assert_int_equal(parse_bytes(s, "magic.so", "\x7f" "ELF", 4), FMUGW_EINVALID);
    assert_int_equal(parse_bytes(s, "text.so", "#!/bin/sh\necho hi\n", 18), FMUGW_EINVALID);
}

static void test_elf32_refused(void **state)
{
    scratch *s = *state;
    char *copy = malloc(s->len);
    assert_non_null(copy);
    memcpy(copy, s->bytes, s->len);
    copy[EI_CLASS] = ELFCLASS32;
    assert_int_equal(parse_bytes(s, "elf32.so", copy, s->len), FMUGW_EINVALID);
    assert_non_null(strstr(fmugw_error_last(), "64-bit"));
    memcpy(copy, s->bytes, s->len);
    copy[EI_DATA] = ELFDATA2MSB;
    assert_int_equal(parse_bytes(s, "be.so", copy, s->len), FMUGW_EINVALID);
    free(copy);
}

static void test_truncated(void **state)
{
    scratch *s = *state;
    /* Cut the file at many lengths: never a crash, never an out-of-file read;
     * cut before the section headers (at the end) it must fail. */
    size_t cuts[] = { 1, 16, 63, 64, 100, 1000, s->len / 2, s->len - 64, s->len - 1 };
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        if (cuts[i] >= s->len)
            continue;
        assert_int_equal(parse_bytes(s, "cut.so", s->bytes, cuts[i]), FMUGW_EINVALID);
    }
}

static void test_corrupt_headers(void **state)
{
    scratch *s = *state;
    char *copy = malloc(s->len);
    assert_non_null(copy);
    Elf64_Ehdr eh;
    memcpy(&eh, s->bytes, sizeof eh);

    /* section header table offset past the end */
    memcpy(copy, s->bytes, s->len);
    Elf64_Ehdr bad = eh;
    bad.e_shoff = (Elf64_Off)s->len + 1000;
    memcpy(copy, &bad, sizeof bad);
    assert_int_equal(parse_bytes(s, "shoff.so", copy, s->len), FMUGW_EINVALID);

    /* offset that overflows when added to */
    bad = eh;
    bad.e_shoff = UINT64_MAX - 10;
    memcpy(copy, &bad, sizeof bad);
    assert_int_equal(parse_bytes(s, "shoff2.so", copy, s->len), FMUGW_EINVALID);

    /* absurd section count */
    bad = eh;
    bad.e_shnum = 0xffff;
    memcpy(copy, &bad, sizeof bad);
    assert_int_equal(parse_bytes(s, "shnum.so", copy, s->len), FMUGW_EINVALID);

    /* section header entries too small */
    bad = eh;
    bad.e_shentsize = 8;
    memcpy(copy, &bad, sizeof bad);
    assert_int_equal(parse_bytes(s, "shentsize.so", copy, s->len), FMUGW_EINVALID);

    /* corrupt the .dynsym header: huge size, bad link, wrong entsize */
    memcpy(copy, s->bytes, s->len);
    size_t dynsym_at = 0;
    for (size_t i = 0; i < eh.e_shnum; i++) {
        Elf64_Shdr sh;
        memcpy(&sh, s->bytes + eh.e_shoff + i * eh.e_shentsize, sizeof sh);
        if (sh.sh_type == SHT_DYNSYM)
            dynsym_at = eh.e_shoff + i * eh.e_shentsize;
    }
    assert_true(dynsym_at > 0);
    Elf64_Shdr sh0;
    memcpy(&sh0, s->bytes + dynsym_at, sizeof sh0);

    Elf64_Shdr sh = sh0;
    sh.sh_size = (Elf64_Xword)1 << 40;
    memcpy(copy + dynsym_at, &sh, sizeof sh);
    assert_int_equal(parse_bytes(s, "dynsize.so", copy, s->len), FMUGW_EINVALID);

    sh = sh0;
    sh.sh_link = 5000;
    memcpy(copy + dynsym_at, &sh, sizeof sh);
    assert_int_equal(parse_bytes(s, "dynlink.so", copy, s->len), FMUGW_EINVALID);

    sh = sh0;
    sh.sh_entsize = 7;
    memcpy(copy + dynsym_at, &sh, sizeof sh);
    assert_int_equal(parse_bytes(s, "dynent.so", copy, s->len), FMUGW_EINVALID);

    /* .dynstr truncated to one byte: names now point outside it */
    sh = sh0;
    memcpy(copy + dynsym_at, &sh, sizeof sh);
    Elf64_Shdr str;
    size_t str_at = eh.e_shoff + sh0.sh_link * eh.e_shentsize;
    memcpy(&str, copy + str_at, sizeof str);
    str.sh_size = 1;
    memcpy(copy + str_at, &str, sizeof str);
    assert_int_equal(parse_bytes(s, "dynstr.so", copy, s->len), FMUGW_EINVALID);

    /* .dynstr without its final NUL: the last name is unterminated */
    memcpy(copy, s->bytes, s->len);
    memcpy(&str, copy + str_at, sizeof str);
    memset(copy + str.sh_offset + str.sh_size - 1, 'A', 1);
    int rc = parse_bytes(s, "nonul.so", copy, s->len);
    assert_true(rc == 0 || rc == FMUGW_EINVALID);
    free(copy);
}

static void test_bit_flips(void **state)
{
    scratch *s = *state;
    char *copy = malloc(s->len);
    assert_non_null(copy);
    Elf64_Ehdr eh;
    memcpy(&eh, s->bytes, sizeof eh);
    /* Flip bytes in the ELF header and the section header table: any
     * result code is fine, memory errors are not (run under ASan). */
    unsigned seed = 12345;
    for (int round = 0; round < 300; round++) {
        memcpy(copy, s->bytes, s->len);
        for (int k = 0; k < 4; k++) {
            seed = seed * 1103515245u + 12345u;
            size_t region = (seed >> 16) & 1;
            seed = seed * 1103515245u + 12345u;
            size_t off = region == 0 ? (seed >> 8) % sizeof eh
                                     : eh.e_shoff + (seed >> 8) % ((size_t)eh.e_shnum * eh.e_shentsize);
            if (off < s->len)
                copy[off] ^= (char)(1u << ((seed >> 4) & 7));
        }
        int rc = parse_bytes(s, "flip.so", copy, s->len);
        assert_true(rc == 0 || rc == FMUGW_EINVALID || rc == FMUGW_ENOMEM);
    }
    free(copy);
}

static void test_too_big(void **state)
{
    scratch *s = *state;
    char path[600];
    snprintf(path, sizeof path, "%s/big.so", s->dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, s->bytes, 64), 64);
    assert_int_equal(ftruncate(fd, (off_t)FMI_ELF_MAX_SIZE + 1), 0); /* sparse */
    close(fd);
    char **names = NULL;
    size_t n = 0;
    assert_int_equal(fmi_elf_exported_functions(&names, &n, path), FMUGW_ETOOBIG);
    assert_null(names);
}

static void test_free_null(void **state)
{
    (void)state;
    fmi_elf_free_names(NULL, 0);
    fmi_elf_free_names(NULL, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compiled_library), cmocka_unit_test(test_system_library),
        cmocka_unit_test(test_missing_file),     cmocka_unit_test(test_directory),
        cmocka_unit_test(test_garbage),          cmocka_unit_test(test_elf32_refused),
        cmocka_unit_test(test_truncated),        cmocka_unit_test(test_corrupt_headers),
        cmocka_unit_test(test_bit_flips),        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_free_null),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
