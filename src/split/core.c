// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * core.c - the guest kernel's core, which stays on the main host: its image
 * (_text .. _end at the physical load address) and every page-table page
 * of the kernel half of init_top_pgt (the tables every process shares for
 * kernel addresses).  A fault on them would stall the whole kernel, and the
 * runtime reads them first for any introspection.
 *
 * Read through libvmemtrans (vmt_read_phys, i.e. pread of the RAM file, the
 * VM stopped): page-table entries from a hostile guest are bounded (at most
 * CORE_MAX_TABLES tables, addresses inside RAM).
 */
#include <errno.h>
#include <string.h>

#include "core/internal.h"
#include "memsrc/memsrc.h"
#include "split/split_priv.h"
#include "vmemtrans.h"

#define CORE_MAX_TABLES (1u << 16)
#define PTE_PRESENT	(1ull << 0)
#define PTE_PS		(1ull << 7)
#define PTE_ADDR	0x000ffffffffff000ull

struct core_walk {
	struct vmt_guest *g;
	struct place *p;
	struct vmt_ram_layout lay;
	unsigned tables;
};

/* Mark the file chunks of guest-physical [pa, pa + len) as core. */
static void mark_pa(struct core_walk *w, uint64_t pa, uint64_t len)
{
	for (unsigned r = 0; r < w->lay.n; r++) {
		const struct vmt_ram_range *rg = &w->lay.r[r];
		uint64_t lo = VMT_MAX(pa, rg->gpa), hi = VMT_MIN(pa + len, rg->gpa + rg->len);

		for (uint64_t a = lo; a < hi; a += VMT_PAGE_SIZE) {
			uint64_t c = (a - rg->gpa + rg->file_off) >> w->p->shift;

			if (c < w->p->nr_chunks)
				w->p->flags[c] |= CH_CORE;
		}
	}
}

/* Walk the table at pa (level: 5..1 = PGD/P4D .. PTE) from entry lo to hi. */
static int walk_table(struct core_walk *w, uint64_t pa, int level, int lo, int hi)
{
	uint64_t e[512];
	int r;

	if (++w->tables > CORE_MAX_TABLES)
		return vmt_error(-EBADMSG, "kernel page tables hold more than %u tables",
				 CORE_MAX_TABLES);
	mark_pa(w, pa, VMT_PAGE_SIZE);
	if (level == 1)
		return 0;
	r = vmt_read_phys(w->g, pa, e, sizeof(e));
	if (r)
		return 0; /* a table outside RAM: nothing of ours to keep */
	for (int i = lo; i < hi; i++) {
		if (!(e[i] & PTE_PRESENT) || ((level == 3 || level == 2) && (e[i] & PTE_PS)))
			continue;
		r = walk_table(w, e[i] & PTE_ADDR, level - 1, 0, 512);
		if (r)
			return r;
	}
	return 0;
}

static int core_image(struct core_walk *w, const struct vmt_kernel_info *ki)
{
	uint64_t text, end;
	int r = vmt_symbol(w->g, "_text", &text);

	if (!r)
		r = vmt_symbol(w->g, "_end", &end);
	if (r || end <= text || end - text > (1ull << 30))
		return vmt_error(-ENOENT,
				 "the guest kernel's image bounds (_text, _end) are unknown");
	mark_pa(w, ki->phys_load, end - text);
	return 0;
}

int place_mark_core(const char *mem_path, const char *kernel, const char *machine, struct place *p)
{
	struct vmt_guest_opts go = {.sz = sizeof(go),
				    .mem_path = mem_path,
				    .kernel_path = kernel,
				    .machine = machine,
				    .ram_size = p->ram_size};
	struct core_walk w = {.p = p};
	struct vmt_kernel_info ki;
	int r = vmt_ram_layout_x86(p->ram_size, machine, 0, &w.lay);

	if (r)
		return r;
	w.g = vmt_guest_open(&go);
	if (!w.g)
		return vmt_error(-errno,
				 "cannot read the guest kernel (to keep it on the main "
				 "host): %s",
				 vmt_last_error());
	r = vmt_guest_kernel_info(w.g, &ki);
	if (!r)
		r = core_image(&w, &ki);
	/* The kernel half: top-level entries 256..511 in 4- and 5-level paging alike. */
	if (!r)
		r = walk_table(&w, ki.kernel_pgd, ki.paging_levels, 256, 512);
	vmt_guest_close(w.g);
	return r;
}
