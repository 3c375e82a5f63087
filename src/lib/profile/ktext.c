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
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "core/internal.h"
#include "profile/ktext.h"
#include "profile/profile_priv.h"

#define KT_TEXT_MAX  (256u << 20)
#define KT_SITES_MAX (4u << 20) /* entries per table */

static void vmt_ktext_free_parts(struct vmt_ktext *k);

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

/*
 * Walk the three lists from the end of d (collect = false: only check that
 * they hold together); collect the text offsets of each list's relocations.
 */
static int kt_relocs(struct vmt_ktext *k, const uint8_t *d, size_t len, size_t floor, uint64_t lo,
		     uint64_t hi, bool collect)
{
	size_t p = len & ~(size_t)3;

	for (int list = 0; list < 3; list++) {
		for (;;) {
			uint64_t va;
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
			if (!collect || va < k->text || va - k->text + (list == 2 ? 8 : 4) > k->len)
				continue;
			if (!k->rel[list]) {
				/* Bounded by the table itself: (len - floor) / 4 words. */
				k->rel[list] = malloc((len - floor) / 4 * sizeof(uint32_t));
				if (!k->rel[list])
					return -ENOMEM;
			}
			k->rel[list][k->nrel[list]++] = (uint32_t)(va - k->text);
		}
	}
	k->has_relocs = true;
	return 0;
}

/* The text as this boot's decompressor left it: slide added (list 1 subtracts it). */
static int kt_apply(struct vmt_ktext *k, uint64_t slide)
{
	if (!slide)
		return 0;
	if (!k->has_relocs)
		return vmt_error(-ENOENT, "the image has no relocation table: text of a "
					  "KASLR-moved kernel cannot be compared");
	for (int list = 0; list < 3; list++)
		for (size_t i = 0; i < k->nrel[list]; i++) {
			size_t o = k->rel[list][i];

			if (o + (list == 2 ? 8 : 4) > k->len)
				return vmt_error(-EBADMSG, "relocation past the text");
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
			k->relocs++;
		}
	return 0;
}

static int kt_from_vmlinux(struct vmt_profile *p, const uint8_t *d, size_t len, struct vmt_ktext *k)
{
	struct kt_build b = {.p = p, .k = k};
	uint64_t etext, end;
	const uint8_t *t;
	struct vmt_elf elf;
	size_t avail, floor;
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
	floor = kt_elf_end(&elf);
	/* A plain vmlinux has no table: fine for a kernel that was not moved. */
	if (floor < len && !kt_relocs(k, d, len, floor, k->text, end, false)) {
		err = kt_relocs(k, d, len, floor, k->text, end, true);
		if (err)
			return err;
	}
	kt_sites(&b);
	return 0;
}

static int kt_from_image(struct vmt_profile *p, struct vmt_ktext *k)
{
	struct vmt_fmap img = {0};
	void *vmlinux = NULL;
	size_t vlen = 0;
	struct stat st;
	int err;

	if (!p->kernel_path || !p->v.hdr)
		return vmt_error(-ENOENT, "no kernel image to compare the text with");
	err = vmt_fmap_open(p->kernel_path, VMT_KERNEL_FILE_MAX, &img, &st);
	if (err)
		return err;
	if (vmt_hash64(img.data, img.len, VMT_PROF_VERSION) != p->v.hdr->image_hash)
		err = vmt_error(-ENOENT, "%s changed since its profile was built", p->kernel_path);
	else if (vmt_elf_is_elf(img.data, img.len))
		err = kt_from_vmlinux(p, img.data, img.len, k);
	else if (!(err = vmt_vmlinuz_extract(img.data, img.len, p->kernel_path, &vmlinux, &vlen)))
		err = kt_from_vmlinux(p, vmlinux, vlen, k);
	free(vmlinux);
	vmt_fmap_close(&img);
	return err;
}

/* ---------------------------------------------------------------- cache */

/*
 * Inflating the image costs 0.2 to 2.5 s (LZ4 to xz), every run: the
 * unrelocated text, its kinds and its relocation offsets are kept beside
 * the profile's cache file (PROFILE.ktext), checksummed like it.
 */
#define KT_MAGIC "VMTKTXT1"

struct kt_file {
	char magic[8];
	uint64_t image_hash, text, len, has_relocs;
	uint64_t nrel[3], sites[6];
	uint64_t csum; /* vmt_hash64 of everything after this header */
};

static char *kt_cache_name(const struct vmt_profile *p)
{
	char *name = NULL;

	if (p->cache_path && asprintf(&name, "%s.ktext", p->cache_path) < 0)
		name = NULL;
	return name;
}

static void kt_cache_store(const struct vmt_profile *p, const struct vmt_ktext *k)
{
	size_t body = 2 * k->len + 4 * (k->nrel[0] + k->nrel[1] + k->nrel[2]), o;
	struct kt_file h = {.magic = KT_MAGIC, .image_hash = p->v.hdr->image_hash};
	char *name = kt_cache_name(p);
	uint8_t *buf = name ? malloc(sizeof(h) + body) : NULL;

	if (!buf)
		goto out;
	h.text = k->text;
	h.len = k->len;
	h.has_relocs = k->has_relocs;
	memcpy(h.sites, k->sites, sizeof(h.sites));
	o = sizeof(h);
	memcpy(buf + o, k->bytes, k->len);
	memcpy(buf + o + k->len, k->kind, k->len);
	o += 2 * k->len;
	for (int l = 0; l < 3; l++) {
		h.nrel[l] = k->nrel[l];
		if (k->nrel[l])
			memcpy(buf + o, k->rel[l], 4 * k->nrel[l]);
		o += 4 * k->nrel[l];
	}
	h.csum = vmt_hash64(buf + sizeof(h), body, 0x6b74);
	memcpy(buf, &h, sizeof(h));
	if (vmt_cache_write(name, buf, sizeof(h) + body))
		pr_debug("kernel text not cached: %s", vmt_last_error());
out:
	free(buf);
	free(name);
}

static int kt_cache_parse(const struct vmt_profile *p, const uint8_t *m, size_t len,
			  struct vmt_ktext *k)
{
	struct kt_file h;
	size_t o = sizeof(h), n;

	if (len < sizeof(h))
		return -EBADMSG;
	memcpy(&h, m, sizeof(h));
	if (memcmp(h.magic, KT_MAGIC, 8) || h.image_hash != p->v.hdr->image_hash || h.len == 0 ||
	    h.len > KT_TEXT_MAX || h.nrel[0] > h.len || h.nrel[1] > h.len || h.nrel[2] > h.len)
		return -EBADMSG;
	n = 2 * h.len + 4 * (h.nrel[0] + h.nrel[1] + h.nrel[2]);
	if (len != sizeof(h) + n || vmt_hash64(m + o, n, 0x6b74) != h.csum)
		return -EBADMSG;
	k->text = h.text;
	k->len = h.len;
	k->has_relocs = h.has_relocs;
	memcpy(k->sites, h.sites, sizeof(k->sites));
	k->bytes = malloc(k->len);
	k->kind = malloc(k->len);
	if (!k->bytes || !k->kind)
		return -ENOMEM;
	memcpy(k->bytes, m + o, k->len);
	memcpy(k->kind, m + o + k->len, k->len);
	o += 2 * k->len;
	for (int l = 0; l < 3; l++) {
		k->nrel[l] = h.nrel[l];
		k->rel[l] = malloc(4 * k->nrel[l] + 4);
		if (!k->rel[l])
			return -ENOMEM;
		memcpy(k->rel[l], m + o, 4 * k->nrel[l]);
		o += 4 * k->nrel[l];
	}
	return 0;
}

/* 0 if the cache held it; else k is as calloc left it. */
static int kt_cache_load(const struct vmt_profile *p, struct vmt_ktext *k)
{
	char *name = kt_cache_name(p);
	void *map = NULL;
	size_t len = 0;
	int err = name ? vmt_cache_map(name, &map, &len) : -ENOENT;

	free(name);
	if (err)
		return err;
	err = kt_cache_parse(p, map, len, k);
	munmap(map, len);
	if (err) {
		vmt_ktext_free_parts(k);
		pr_debug("kernel text cache ignored (corrupt or stale)");
	}
	return err;
}

/* -------------------------------------------------------------- public */

int vmt_ktext_build(struct vmt_profile *p, uint64_t slide, struct vmt_ktext **out)
{
	struct vmt_ktext *k = calloc(1, sizeof(*k));
	int err = 0;

	*out = NULL;
	if (!k)
		return -ENOMEM;
	if (!p->v.hdr || !p->kernel_path)
		err = vmt_error(-ENOENT, "no kernel image to compare the text with");
	else if (kt_cache_load(p, k)) {
		err = kt_from_image(p, k);
		if (!err)
			kt_cache_store(p, k);
	}
	if (!err)
		err = kt_apply(k, slide);
	if (err)
		vmt_ktext_free(k);
	else
		*out = k;
	return err;
}

static void vmt_ktext_free_parts(struct vmt_ktext *k)
{
	free(k->bytes);
	free(k->kind);
	for (int l = 0; l < 3; l++)
		free(k->rel[l]);
	memset(k, 0, sizeof(*k));
}

void vmt_ktext_free(struct vmt_ktext *k)
{
	if (!k)
		return;
	vmt_ktext_free_parts(k);
	free(k);
}
