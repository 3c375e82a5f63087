// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * kfind.c - a guest opened without a kernel image: its profile comes from
 * its own memory (profile/from_memory.c), read through the callbacks here.
 *
 * Every read is local: a split VM's kernel image is pinned on the main
 * host, so the search never asks a sub-host or the pager for a page (the
 * bulk scan preads the memory file, whose holes read as zeros; exact reads
 * go through vmt_mem_read_local).  The page-table check that tells the
 * running kernel from a stale copy walks the candidate's own tables with
 * local reads too, instead of the MMU (which would fetch).
 *
 * With both a kernel image and memory, they must agree: kaslr.c already
 * matched the banner; vmt_kfind_agree() compares the BTF in memory with the
 * image's.
 */
#include <stdlib.h>
#include <string.h>

#include "guest/guest_internal.h"

#define PTE_PRESENT 0x1ull
#define PTE_PS	    0x80ull
#define PTE_ADDR    0x000ffffffffff000ull

static int km_scan(void *ctx, uint64_t pa, void *buf, size_t len)
{
	struct vmt_guest *g = ctx;

	return vmt_mem_scan(g->mem, pa, buf, len);
}

static int km_read(void *ctx, uint64_t pa, void *buf, size_t len)
{
	struct vmt_guest *g = ctx;

	return vmt_mem_read_local(g->mem, pa, buf, len);
}

/* Translate va through the tables at root with levels levels, local reads only. */
static int km_walk(struct vmt_guest *g, uint64_t root, int levels, uint64_t va, uint64_t *pa)
{
	uint64_t table = root, e;

	for (int level = levels; level >= 1; level--) {
		unsigned shift = 12 + 9 * (unsigned)(level - 1);

		if (vmt_mem_read_local(g->mem, table + 8 * ((va >> shift) & 511), &e, sizeof(e)) ||
		    !(e & PTE_PRESENT))
			return -EFAULT;
		if (level == 1 || ((level == 2 || level == 3) && (e & PTE_PS))) {
			uint64_t mask = (1ull << shift) - 1;

			*pa = ((e & PTE_ADDR) & ~mask) | (va & mask);
			return 0;
		}
		table = e & PTE_ADDR;
	}
	return -EFAULT;
}

static bool km_maps(void *ctx, uint64_t pgd_pa, uint64_t va, uint64_t pa)
{
	uint64_t got;

	for (int levels = 4; levels <= 5; levels++)
		if (!km_walk(ctx, pgd_pa, levels, va, &got) && got == pa)
			return true;
	return false;
}

int vmt_kfind_profile(struct vmt_guest *g, const struct vmt_guest_opts *o)
{
	struct vmt_physmem pm = {
	    .ctx = g,
	    .size = vmt_mem_ram_end(g->mem),
	    .name = o->mem_path,
	    .scan = km_scan,
	    .read = km_read,
	    .maps = km_maps,
	};
	struct vmt_profile_mem_opts po = {.sz = sizeof(po), .cache_dir = o->cache_dir};

	g->prof = vmt_profile_from_memory(&pm, &po);
	return g->prof ? 0 : -errno;
}

/* The BTF at the running kernel's __start_BTF: is it the image's (pieces of it)? */
int vmt_kfind_agree(struct vmt_guest *g, const char *kernel_path)
{
	struct vmt_physmem pm = {.ctx = g, .size = vmt_mem_ram_end(g->mem), .read = km_read};
	struct vmt_profile_info in;
	uint64_t start, stop;
	int r;

	vmt_profile_info(g->prof, &in);
	if (!in.btf_size || vmt_profile_symbol(g->prof, "__start_BTF", &start) ||
	    vmt_profile_symbol(g->prof, "__stop_BTF", &stop))
		return 0; /* nothing to compare: the banner matched */
	if (stop < start || stop - start != in.btf_size)
		return vmt_error(-EBADMSG, "%s: its __start_BTF..__stop_BTF is not its .BTF",
				 kernel_path);
	r = vmt_profile_btf_cmp(g->prof, &pm, vmt_guest_image_pa(g, start));
	if (r == 1)
		return vmt_error(-EBADMSG,
				 "%s and the guest's memory disagree: same banner, but the BTF "
				 "in memory differs from the image's (a rebuilt kernel?); pass the "
				 "guest's own vmlinuz, or no --kernel",
				 kernel_path);
	return 0; /* equal, or not here (a split VM paged it out): the banner check stands */
}

struct vmt_profile *vmt_guest_profile(struct vmt_guest *g)
{
	return g->prof;
}
