// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * elf.c - just enough ELF64 to find the sections and segments of a vmlinux.
 *
 * Headers are copied out with memcpy, never cast in place: a hostile file
 * may put e_shoff at an odd offset.  Every table is checked to lie inside
 * the buffer before any entry is read.
 */
#include <elf.h>
#include <string.h>

#include "core/internal.h"
#include "profile/profile_priv.h"

bool vmt_elf_is_elf(const void *data, size_t len)
{
	return len >= SELFMAG && !memcmp(data, ELFMAG, SELFMAG);
}

/* True if [off, off + n * esz) lies inside the buffer. */
static bool table_ok(const struct vmt_elf *elf, uint64_t off, uint64_t n, uint64_t esz)
{
	uint64_t bytes, end;

	return vmt_mul_ok(n, esz, &bytes) && vmt_add_ok(off, bytes, &end) && end <= elf->len;
}

int vmt_elf_open(struct vmt_elf *elf, const void *data, size_t len)
{
	Elf64_Ehdr eh;

	memset(elf, 0, sizeof(*elf));
	if (len < sizeof(eh) || !vmt_elf_is_elf(data, len))
		return vmt_error(-ENOEXEC, "not an ELF file");
	memcpy(&eh, data, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB)
		return vmt_error(-ENOTSUP, "only 64-bit little-endian kernels are supported");
	elf->data = data;
	elf->len = len;
	if (eh.e_shnum && eh.e_shentsize == sizeof(Elf64_Shdr) &&
	    table_ok(elf, eh.e_shoff, eh.e_shnum, sizeof(Elf64_Shdr)) &&
	    eh.e_shstrndx < eh.e_shnum) {
		elf->shoff = eh.e_shoff;
		elf->shnum = eh.e_shnum;
		elf->shstrndx = eh.e_shstrndx;
	}
	if (eh.e_phnum && eh.e_phentsize == sizeof(Elf64_Phdr) &&
	    table_ok(elf, eh.e_phoff, eh.e_phnum, sizeof(Elf64_Phdr))) {
		elf->phoff = eh.e_phoff;
		elf->phnum = eh.e_phnum;
	}
	if (!elf->shnum && !elf->phnum)
		return vmt_error(-EBADMSG, "ELF file has neither usable sections nor segments");
	return 0;
}

static void elf_shdr(const struct vmt_elf *elf, unsigned i, Elf64_Shdr *sh)
{
	memcpy(sh, elf->data + elf->shoff + (uint64_t)i * sizeof(*sh), sizeof(*sh));
}

static void elf_phdr(const struct vmt_elf *elf, unsigned i, Elf64_Phdr *ph)
{
	memcpy(ph, elf->data + elf->phoff + (uint64_t)i * sizeof(*ph), sizeof(*ph));
}

/* Does the section-name string at off equal name, staying inside the string table? */
static bool shname_eq(const struct vmt_elf *elf, const Elf64_Shdr *strsh, uint32_t off,
		      const char *name)
{
	size_t n = strlen(name) + 1;
	uint64_t at;

	if (off >= strsh->sh_size || strsh->sh_size - off < n)
		return false;
	at = strsh->sh_offset + off;
	return !memcmp(elf->data + at, name, n);
}

int vmt_elf_section(const struct vmt_elf *elf, const char *name, struct vmt_region *out)
{
	Elf64_Shdr strsh, sh;

	if (!elf->shnum)
		return -ENOENT;
	elf_shdr(elf, elf->shstrndx, &strsh);
	if (!table_ok(elf, strsh.sh_offset, strsh.sh_size, 1))
		return vmt_error(-EBADMSG, "ELF section name table lies outside the file");
	for (unsigned i = 1; i < elf->shnum; i++) {
		elf_shdr(elf, i, &sh);
		if (!shname_eq(elf, &strsh, sh.sh_name, name))
			continue;
		if (sh.sh_type == SHT_NOBITS || !table_ok(elf, sh.sh_offset, sh.sh_size, 1))
			return -ENOENT;
		out->data = elf->data + sh.sh_offset;
		out->len = sh.sh_size;
		out->va = sh.sh_addr;
		return 0;
	}
	return -ENOENT;
}

int vmt_elf_segment(const struct vmt_elf *elf, unsigned i, struct vmt_region *out)
{
	Elf64_Phdr ph;
	unsigned seen = 0;

	for (unsigned k = 0; k < elf->phnum; k++) {
		elf_phdr(elf, k, &ph);
		if (ph.p_type != PT_LOAD || !ph.p_filesz)
			continue;
		if (seen++ != i)
			continue;
		if (!table_ok(elf, ph.p_offset, ph.p_filesz, 1))
			return vmt_error(-EBADMSG, "ELF segment %u lies outside the file", k);
		out->data = elf->data + ph.p_offset;
		out->len = ph.p_filesz;
		out->va = ph.p_vaddr;
		return 0;
	}
	return -ENOENT;
}

int vmt_elf_va(const struct vmt_elf *elf, uint64_t va, const uint8_t **p, size_t *avail)
{
	struct vmt_region r;

	for (unsigned i = 0; vmt_elf_segment(elf, i, &r) == 0; i++) {
		if (va < r.va || va - r.va >= r.len)
			continue;
		*p = r.data + (va - r.va);
		*avail = r.len - (va - r.va);
		return 0;
	}
	return -ENOENT;
}
