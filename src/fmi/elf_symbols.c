/*
 * elf_symbols.c - reading exported function names from an ELF64 shared
 * library's .dynsym/.dynstr sections (located through the section header
 * table) with pread(), never mapping or loading the file. Every number read
 * from the file is checked against the file size before it is used.
 */
#include "elf_symbols.h"

#include "util/error.h"

#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    int fd;
    uint64_t size;
    const char *path;
} elf_file;

/* Is [off, off+len) inside the file? (overflow-safe) */
static bool in_file(const elf_file *f, uint64_t off, uint64_t len)
{
    return off <= f->size && len <= f->size - off;
}

static int read_at(const elf_file *f, void *buf, uint64_t off, uint64_t len)
{
    if (!in_file(f, off, len))
        return fmugw_error_set(FMUGW_EINVALID, "%s: truncated ELF file (offset %llu + %llu past end)", f->path,
                               (unsigned long long)off, (unsigned long long)len);
    size_t done = 0;
    while (done < len) {
        ssize_t k = pread(f->fd, (char *)buf + done, (size_t)len - done, (off_t)(off + done));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return fmugw_error_set(FMUGW_EIO, "%s: read failed: %s", f->path, k < 0 ? strerror(errno) : "end of file");
        done += (size_t)k;
    }
    return 0;
}

/* Reads a whole section's contents into a new buffer (at least 1 byte). */
static int read_section(const elf_file *f, const Elf64_Shdr *sh, char **out)
{
    *out = NULL;
    if (!in_file(f, sh->sh_offset, sh->sh_size))
        return fmugw_error_set(FMUGW_EINVALID, "%s: section extends past the end of the file", f->path);
    char *buf = malloc(sh->sh_size ? (size_t)sh->sh_size : 1);
    if (!buf)
        return fmugw_error_set(FMUGW_ENOMEM, "out of memory");
    int rc = read_at(f, buf, sh->sh_offset, sh->sh_size);
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    return 0;
}

static int read_shdr(const elf_file *f, const Elf64_Ehdr *eh, uint64_t shnum, uint64_t i, Elf64_Shdr *sh)
{
    if (i >= shnum)
        return fmugw_error_set(FMUGW_EINVALID, "%s: section index %llu out of range", f->path, (unsigned long long)i);
    return read_at(f, sh, eh->e_shoff + i * eh->e_shentsize, sizeof *sh);
}

static bool is_exported_function(const Elf64_Sym *s)
{
    unsigned bind = ELF64_ST_BIND(s->st_info), type = ELF64_ST_TYPE(s->st_info);
    unsigned vis = ELF64_ST_VISIBILITY(s->st_other);
    return (bind == STB_GLOBAL || bind == STB_WEAK) && (type == STT_FUNC || type == STT_GNU_IFUNC) &&
           s->st_shndx != SHN_UNDEF && (vis == STV_DEFAULT || vis == STV_PROTECTED);
}

int fmi_elf_exported_functions(char ***out, size_t *n, const char *so_path)
{
    int rc = 0;
    elf_file f = { -1, 0, so_path };
    char *syms = NULL, *strs = NULL;
    char **names = NULL;
    size_t count = 0;
    Elf64_Ehdr eh;
    Elf64_Shdr sh, dynsym, dynstr;
    struct stat st;

    *out = NULL;
    *n = 0;
    f.fd = open(so_path, O_RDONLY | O_CLOEXEC);
    if (f.fd < 0) {
        rc = fmugw_error_set(errno == ENOENT ? FMUGW_ENOTFOUND : FMUGW_EIO, "%s: %s", so_path, strerror(errno));
        goto out;
    }
    if (fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = fmugw_error_set(FMUGW_EINVALID, "%s: not a regular file", so_path);
        goto out;
    }
    if ((uint64_t)st.st_size > FMI_ELF_MAX_SIZE) {
        rc = fmugw_error_set(FMUGW_ETOOBIG, "%s: %lld bytes, more than the %zu MiB allowed for a binary", so_path,
                             (long long)st.st_size, FMI_ELF_MAX_SIZE >> 20);
        goto out;
    }
    f.size = (uint64_t)st.st_size;

    if (f.size < sizeof eh || (rc = read_at(&f, &eh, 0, sizeof eh)) ||
        memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) {
        rc = fmugw_error_set(FMUGW_EINVALID, "%s: not an ELF file", so_path);
        goto out;
    }
    if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB) {
        rc = fmugw_error_set(FMUGW_EINVALID, "%s: not a 64-bit little-endian ELF file", so_path);
        goto out;
    }
    if (eh.e_shoff == 0) { /* no section headers: nothing we can list */
        rc = 0;
        goto out;
    }
    if (eh.e_shentsize < sizeof(Elf64_Shdr)) {
        rc = fmugw_error_set(FMUGW_EINVALID, "%s: bad section header size %u", so_path, (unsigned)eh.e_shentsize);
        goto out;
    }
    uint64_t shnum = eh.e_shnum;
    if (shnum == 0) { /* more than SHN_LORESERVE sections: the count is in section 0 */
        if ((rc = read_at(&f, &sh, eh.e_shoff, sizeof sh)))
            goto out;
        shnum = sh.sh_size;
    }
    if (shnum > f.size / eh.e_shentsize || !in_file(&f, eh.e_shoff, shnum * eh.e_shentsize)) {
        rc = fmugw_error_set(FMUGW_EINVALID, "%s: section header table extends past the end of the file", so_path);
        goto out;
    }

    bool found = false;
    for (uint64_t i = 0; i < shnum; i++) {
        if ((rc = read_shdr(&f, &eh, shnum, i, &sh)))
            goto out;
        if (sh.sh_type == SHT_DYNSYM) {
            dynsym = sh;
            found = true;
            break;
        }
    }
    if (!found)
        goto out;
    if (dynsym.sh_entsize != sizeof(Elf64_Sym)) {
        rc = fmugw_error_set(FMUGW_EINVALID, "%s: bad .dynsym entry size %llu", so_path,
                             (unsigned long long)dynsym.sh_entsize);
        goto out;
    }
    if ((rc = read_shdr(&f, &eh, shnum, dynsym.sh_link, &dynstr)))
        goto out;
    if (dynstr.sh_type != SHT_STRTAB) {
        rc = fmugw_error_set(FMUGW_EINVALID, "%s: .dynsym does not link to a string table", so_path);
        goto out;
    }
    if ((rc = read_section(&f, &dynsym, &syms)) || (rc = read_section(&f, &dynstr, &strs)))
        goto out;

    size_t nsyms = (size_t)(dynsym.sh_size / sizeof(Elf64_Sym));
    if (!(names = calloc(nsyms ? nsyms : 1, sizeof *names))) {
        rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 1; i < nsyms; i++) { /* entry 0 is the undefined symbol */
        Elf64_Sym s;
        memcpy(&s, syms + i * sizeof s, sizeof s);
        if (!is_exported_function(&s))
            continue;
        if (s.st_name >= dynstr.sh_size) {
            rc = fmugw_error_set(FMUGW_EINVALID, "%s: symbol %zu has a name outside .dynstr", so_path, i);
            goto out;
        }
        const char *name = strs + s.st_name;
        const char *end = memchr(name, '\0', (size_t)(dynstr.sh_size - s.st_name));
        if (!end) {
            rc = fmugw_error_set(FMUGW_EINVALID, "%s: unterminated symbol name in .dynstr", so_path);
            goto out;
        }
        if (!(names[count] = strndup(name, (size_t)(end - name)))) {
            rc = fmugw_error_set(FMUGW_ENOMEM, "out of memory");
            goto out;
        }
        count++;
    }
    *out = names;
    *n = count;
    names = NULL;
out:
    fmi_elf_free_names(names, count);
    free(syms);
    free(strs);
    if (f.fd >= 0)
        close(f.fd);
    return rc;
}

void fmi_elf_free_names(char **names, size_t n)
{
    if (!names)
        return;
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}
