// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * ktext.c - the kernel text as built, and where the running kernel may
 * differ from it.
 *
 * A running kernel's text is not the image's: the decompressor relocated
 * it for KASLR (vmlinux.relocs, appended to the vmlinux inside the
 * bzImage: three zero-terminated lists read from the end: 32-bit,
 * inverse 32-bit, 64-bit), and boot and run time patch it at sites the
 * image lists:
 *   .altinstructions     alternatives (CPU features)      any bytes
 *   .parainstructions    paravirt calls (up to 6.5)       any bytes
 *   .retpoline_sites     indirect calls/jumps (6 bytes)   any bytes
 *   __jump_table         static keys (5 bytes)            any bytes
 *   .static_call_sites   static calls (5 bytes), and the
 *   __SCT__* trampolines                                  any bytes
 *   .call_sites, .ibt_endbr_seal (where present)          any bytes
 *   __mcount_loc         call __fentry__ -> the 5-byte NOP at boot: that
 *                        NOP, nothing else (a traced function is changed)
 *   .return_sites        jmp __x86_return_thunk: as built, or ret; int3
 *   .smp_locks           lock prefix: f0, or 3e on a single CPU
 *   runtime_ptr_*, runtime_shift_* (6.11+): immediates boot fills in
 * Every other byte must be the image's.  Measured on the test guest (6.1,
 * one vCPU): after relocation and these sites, no byte of 14 MiB of text
 * differs.  Struct layouts of the site tables come from BTF.
 */
#include <elf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/internal.h"
#include "profile/ktext.h"
#include "profile/profile_priv.h"

#define KT_TEXT_MAX  (256u << 20)
#define KT_SITES_MAX (4u << 20) /* entries per table */

struct kt_build {
	struct vmt_profile *p;
	const struct vmt_elf *elf;
	struct vmt_ktext *k;
};

/* Mark [va, va + n) (link-time) as kind; a permissive mark is never narrowed (but NOP5). */
static void kt_mark(struct vmt_ktext *k, uint64_t va, size_t n, uint8_t kind)
{
	if (va < k->text || va - k->text >= k->len)
		return;
	for (size_t i = 0, o = va - k->text; i < n && o + i < k->len; i++) {
		uint8_t *b = &k->kind[o + i];

		if (kind == VMT_KT_NOP5) /* forced: see kt_sites */
			*b = i == 0 ? kind : VMT_KT_SKIP;
		else if (*b == VMT_KT_ANY)
			continue;
		else if (kind == VMT_KT_ANY || *b == VMT_KT_CMP)
			*b = (i == 0 || kind == VMT_KT_ANY) ? kind : VMT_KT_SKIP;
	}
}

static int kt_s32(const struct vmt_elf *elf, uint64_t va, int64_t *v)
{
	const uint8_t *p;
	size_t avail;
	int32_t x;

	if (vmt_elf_va(elf, va, &p, &avail) || avail < 4)
		return -ENOENT;
	memcpy(&x, p, 4);
	*v = x;
	return 0;
}

/* A table of s32 self-relative offsets (entry stride, offset field at +0). */
static void kt_rel_table(struct kt_build *b, uint64_t start, uint64_t end, uint32_t stride,
			 size_t n, uint8_t kind)
{
	int64_t rel;

	for (uint64_t e = start, i = 0; e + 4 <= end && i < KT_SITES_MAX; e += stride, i++) {
		if (kt_s32(b->elf, e, &rel))
			return;
		kt_mark(b->k, e + (uint64_t)rel, n, kind);
		b->k->sites[kind]++;
	}
}

static void kt_rel_section(struct kt_build *b, const char *name, uint32_t stride, size_t n,
			   uint8_t kind)
{
	struct vmt_region r;

	if (!vmt_elf_section(b->elf, name, &r))
		kt_rel_table(b, r.va, r.va + r.len, stride, n, kind);
}

static void kt_rel_symbols(struct kt_build *b, const char *start, const char *stop,
			   const char *type, size_t n, uint8_t kind)
{
	uint64_t s, e;
	uint32_t size = 0;

	if (!vmt_profile_symbol(b->p, start, &s) && !vmt_profile_symbol(b->p, stop, &e) &&
	    !vmt_profile_struct_size(b->p, type, &size) && size)
		kt_rel_table(b, s, e, size, n, kind);
}

/* struct alt_instr: instr_offset at 0, instrlen from BTF. */
static void kt_alternatives(struct kt_build *b)
{
	uint32_t size = 0, lenoff = 0;
	struct vmt_region r;
	const uint8_t *p;
	size_t avail;
	int64_t rel;

	if (vmt_elf_section(b->elf, ".altinstructions", &r) ||
	    vmt_profile_struct_size(b->p, "alt_instr", &size) || !size ||
	    vmt_profile_field(b->p, "alt_instr", "instrlen", &lenoff) || lenoff >= size)
		return;
	for (uint64_t e = r.va; e + size <= r.va + r.len; e += size) {
		if (kt_s32(b->elf, e, &rel) || vmt_elf_va(b->elf, e + lenoff, &p, &avail))
			return;
		kt_mark(b->k, e + (uint64_t)rel, *p, VMT_KT_ANY);
		b->k->sites[VMT_KT_ANY]++;
	}
}

/* struct paravirt_patch_site (up to 6.5): instr (absolute), len. */
static void kt_paravirt(struct kt_build *b)
{
	uint32_t size = 0, ioff = 0, loff = 0;
	struct vmt_region r;
	const uint8_t *p, *q;
	size_t avail;
	uint64_t instr;

	if (vmt_elf_section(b->elf, ".parainstructions", &r) ||
	    vmt_profile_struct_size(b->p, "paravirt_patch_site", &size) || !size ||
	    vmt_profile_field(b->p, "paravirt_patch_site", "instr", &ioff) ||
	    vmt_profile_field(b->p, "paravirt_patch_site", "len", &loff))
		return;
	for (uint64_t e = r.va; e + size <= r.va + r.len; e += size) {
		if (vmt_elf_va(b->elf, e + ioff, &p, &avail) || avail < 8 ||
		    vmt_elf_va(b->elf, e + loff, &q, &avail))
			return;
		memcpy(&instr, p, 8);
		kt_mark(b->k, instr, *q, VMT_KT_ANY);
		b->k->sites[VMT_KT_ANY]++;
	}
}

/* __mcount_loc: absolute addresses of the call __fentry__ at function entries. */
static void kt_mcount(struct kt_build *b)
{
	uint64_t s, e, a;
	const uint8_t *p;
	size_t avail;

	if (vmt_profile_symbol(b->p, "__start_mcount_loc", &s) ||
	    vmt_profile_symbol(b->p, "__stop_mcount_loc", &e))
		return;
	for (uint64_t i = 0; s + 8 <= e && i < KT_SITES_MAX; s += 8, i++) {
		if (vmt_elf_va(b->elf, s, &p, &avail) || avail < 8)
			return;
		memcpy(&a, p, 8);
		kt_mark(b->k, a, 5, VMT_KT_NOP5);
		b->k->sites[VMT_KT_NOP5]++;
	}
}

/* Static call trampolines (__SCT__*): rewritten to jump to the current target. */
static void kt_trampolines(struct kt_build *b)
{
	size_t n = vmt_profile_nr_symbols(b->p);
	const char *name;
	uint64_t a, next;

	for (size_t i = 0; i < n; i++) {
		if (vmt_profile_symbol_by_index(b->p, i, &name, &a, NULL) ||
		    strncmp(name, "__SCT__", 7))
			continue;
		if (vmt_profile_symbol_by_index(b->p, i + 1, &name, &next, NULL) || next <= a)
			next = a + 16;
		kt_mark(b->k, a, VMT_MIN(next - a, 16), VMT_KT_ANY);
		b->k->sites[VMT_KT_ANY]++;
	}
}

/*
 * Runtime constants (6.11+, runtime-const.h): each section runtime_ptr_X /
 * runtime_shift_X lists instructions whose immediate (8 bytes / 1 byte)
 * boot fills in.
 */
static void kt_runtime_consts(struct kt_build *b)
{
	const struct vmt_elf *elf = b->elf;
	Elf64_Shdr sh, str;

	if (elf->shstrndx >= elf->shnum ||
	    elf->shoff + (uint64_t)elf->shnum * sizeof(sh) > elf->len)
		return;
	memcpy(&str, elf->data + elf->shoff + (uint64_t)elf->shstrndx * sizeof(sh), sizeof(sh));
	for (uint32_t i = 0; i < elf->shnum; i++) {
		const char *name;

		memcpy(&sh, elf->data + elf->shoff + (uint64_t)i * sizeof(sh), sizeof(sh));
		if (str.sh_offset + sh.sh_name + 16 > elf->len || sh.sh_type != SHT_PROGBITS)
			continue;
		name = (const char *)elf->data + str.sh_offset + sh.sh_name;
		if (!strncmp(name, "runtime_ptr_", 12))
			kt_rel_table(b, sh.sh_addr, sh.sh_addr + sh.sh_size, 4, 8, VMT_KT_ANY);
		else if (!strncmp(name, "runtime_shift_", 14))
			kt_rel_table(b, sh.sh_addr, sh.sh_addr + sh.sh_size, 4, 1, VMT_KT_ANY);
	}
}

static void kt_sites(struct kt_build *b)
{
	/* Strict kinds first: a permissive site overlapping one wins... */
	kt_rel_section(b, ".return_sites", 4, 5, VMT_KT_RET);
	kt_rel_section(b, ".smp_locks", 4, 1, VMT_KT_LOCK);
	kt_rel_section(b, ".retpoline_sites", 4, 6, VMT_KT_ANY);
	kt_rel_section(b, ".call_sites", 4, 5, VMT_KT_ANY);
	kt_rel_section(b, ".ibt_endbr_seal", 4, 4, VMT_KT_ANY);
	kt_alternatives(b);
	kt_paravirt(b);
	kt_rel_symbols(b, "__start___jump_table", "__stop___jump_table", "jump_entry", 5,
		       VMT_KT_ANY);
	kt_rel_symbols(b, "__start_static_call_sites", "__stop_static_call_sites",
		       "static_call_site", 5, VMT_KT_ANY);
	kt_trampolines(b);
	kt_runtime_consts(b);
	/*
	 * ... but an ftrace site is ftrace's alone: boot writes the NOP over the
	 * call __fentry__ that .call_sites (call depth tracking, 6.2+) also
	 * lists, and later patching of calls leaves a NOP alone.
	 */
	kt_mcount(b);
}

/* ---------------------------------------------------------- relocations */

/* Where the ELF's own bytes end: the relocation lists follow. */
static size_t kt_elf_end(const struct vmt_elf *elf)
{
	size_t end = elf->shoff + (size_t)elf->shnum * 64;
	struct vmt_region r;

	for (unsigned i = 0; !vmt_elf_segment(elf, i, &r); i++)
		if ((size_t)(r.data - elf->data) + r.len > end)
			end = (size_t)(r.data - elf->data) + r.len;
	return end;
}

/* Walk (apply = false: only check) the three lists from the end of d. */
static int kt_relocs(struct vmt_ktext *k, const uint8_t *d, size_t len, size_t floor, uint64_t lo,
		     uint64_t hi, uint64_t slide, bool apply)
{
	size_t p = len & ~(size_t)3;

	for (int list = 0; list < 3; list++) {
		for (;;) {
			uint64_t va, o;
			uint32_t v;

			if (p < floor + 4)
				return -ENOENT;
			p -= 4;
			memcpy(&v, d + p, 4);
			if (!v)
				break;
			va = (uint64_t)(int64_t)(int32_t)v;
			if (va < lo || va >= hi)
				return -ENOENT; /* not a relocation table */
			if (!apply || va < k->text ||
			    (o = va - k->text) + (list == 2 ? 8 : 4) > k->len)
				continue;
			k->relocs++;
			if (list == 2) {
				uint64_t x;

				memcpy(&x, k->bytes + o, 8);
				x += slide;
				memcpy(k->bytes + o, &x, 8);
			} else {
				uint32_t x;

				memcpy(&x, k->bytes + o, 4);
				x = list == 0 ? x + (uint32_t)slide : x - (uint32_t)slide;
				memcpy(k->bytes + o, &x, 4);
			}
		}
	}
	return 0;
}

/* -------------------------------------------------------------- public */

static int kt_from_vmlinux(struct vmt_profile *p, const uint8_t *d, size_t len, uint64_t slide,
			   struct vmt_ktext *k)
{
	struct kt_build b = {.p = p, .k = k};
	uint64_t etext, end;
	const uint8_t *t;
	struct vmt_elf elf;
	size_t avail;
	int err = vmt_elf_open(&elf, d, len);

	if (err)
		return err;
	b.elf = &elf;
	if (vmt_profile_symbol(p, "_text", &k->text) || vmt_profile_symbol(p, "_etext", &etext) ||
	    vmt_profile_symbol(p, "_end", &end) || etext <= k->text ||
	    etext - k->text > KT_TEXT_MAX || vmt_elf_va(&elf, k->text, &t, &avail) ||
	    avail < etext - k->text)
		return vmt_error(-ENOENT, "kernel text not found in the image");
	k->len = etext - k->text;
	k->bytes = malloc(k->len);
	k->kind = calloc(1, k->len);
	if (!k->bytes || !k->kind)
		return -ENOMEM;
	memcpy(k->bytes, t, k->len);
	if (slide) {
		size_t floor = kt_elf_end(&elf);

		if (floor >= len || kt_relocs(k, d, len, floor, k->text, end, slide, false))
			return vmt_error(-ENOENT, "the image has no relocation table: text of a "
						  "KASLR-moved kernel cannot be compared");
		kt_relocs(k, d, len, floor, k->text, end, slide, true);
	}
	kt_sites(&b);
	return 0;
}

int vmt_ktext_build(struct vmt_profile *p, uint64_t slide, struct vmt_ktext **out)
{
	struct vmt_ktext *k = calloc(1, sizeof(*k));
	struct vmt_fmap img = {0};
	void *vmlinux = NULL;
	size_t vlen = 0;
	struct stat st;
	int err;

	*out = NULL;
	if (!k)
		return -ENOMEM;
	if (!p->kernel_path || !p->v.hdr) {
		err = vmt_error(-ENOENT, "no kernel image to compare the text with");
		goto out;
	}
	err = vmt_fmap_open(p->kernel_path, VMT_KERNEL_FILE_MAX, &img, &st);
	if (err)
		goto out;
	if (vmt_hash64(img.data, img.len, VMT_PROF_VERSION) != p->v.hdr->image_hash)
		err = vmt_error(-ENOENT, "%s changed since its profile was built", p->kernel_path);
	else if (vmt_elf_is_elf(img.data, img.len))
		err = kt_from_vmlinux(p, img.data, img.len, slide, k);
	else if (!(err = vmt_vmlinuz_extract(img.data, img.len, p->kernel_path, &vmlinux, &vlen)))
		err = kt_from_vmlinux(p, vmlinux, vlen, slide, k);
out:
	free(vmlinux);
	vmt_fmap_close(&img);
	if (err)
		vmt_ktext_free(k);
	else
		*out = k;
	return err;
}

void vmt_ktext_free(struct vmt_ktext *k)
{
	if (!k)
		return;
	free(k->bytes);
	free(k->kind);
	free(k);
}
