/*
 * elf_symbols.h - the functions a shared library exports, read from its
 * ELF64 dynamic symbol table without loading it.
 *
 * The validator uses this to check an FMU binary for the functions the
 * standard requires without running any of its code (dlopen() would run
 * its constructors). The file is treated as hostile: its size is capped at
 * FMI_ELF_MAX_SIZE and every offset, size and string in it is checked
 * against the file before use.
 *
 * Ownership: the names array and each name are malloc'd and belong to the
 * caller, who releases them with fmi_elf_free_names().
 */
#ifndef FMUGW_FMI_ELF_SYMBOLS_H
#define FMUGW_FMI_ELF_SYMBOLS_H

#include <stddef.h>

#define FMI_ELF_MAX_SIZE ((size_t)256 << 20)

/** Lists the defined global or weak function symbols (STT_FUNC and
 *  STT_GNU_IFUNC) of the ELF64 little-endian shared library `so_path`,
 *  in symbol-table order. A library without a .dynsym section yields an
 *  empty list (*out may then be NULL, *n is 0). Returns FMUGW_ENOTFOUND if
 *  the file does not exist, FMUGW_ETOOBIG over FMI_ELF_MAX_SIZE,
 *  FMUGW_EINVALID if it is not a well-formed ELF64 file, FMUGW_EIO on read
 *  errors, FMUGW_ENOMEM. */
int fmi_elf_exported_functions(char ***out, size_t *n, const char *so_path);

/** Frees a list returned by fmi_elf_exported_functions(). Accepts NULL. */
void fmi_elf_free_names(char **names, size_t n);

#endif
