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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "linux/buddy.h"
#include "linux/task_offsets.h"
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
	uint32_t *free_in;		 /* per chunk: its pages on the free lists */
	FILE *dump;			 /* VMT_SPLIT_FREE_DUMP: the free blocks, for diagnosis */
	int levels;			 /* 4 or 5 */
	uint64_t vmalloc_lo, vmalloc_hi; /* vmalloc area: [vmalloc_base, vmemmap_base) */
	bool kernel;			 /* mark the kernel's own pages (CH_KERNEL) */
};

#define KERNEL_MAP_VA 0xffffffff80000000ull /* the image, then modules and the fixmap */

/*
 * Is va where the kernel maps its own memory page by page: the vmalloc area
 * (kernel stacks, per-CPU chunks, vmalloc'd buffers) and, from the image's
 * mapping on, the modules?  Their pages carry no struct page flags that
 * say so (page_kind.c), but the kernel's page tables do.
 */
static bool kernel_va(const struct core_walk *w, uint64_t va)
{
	if (!w->kernel)
		return false; /* not asked for: the PTE tables need not be read */
	return (va >= w->vmalloc_lo && va < w->vmalloc_hi) || va >= KERNEL_MAP_VA;
}

/* Sign-extend a top-level entry's address (bit 47, or 56 with 5 levels). */
static uint64_t canonical(uint64_t va, int levels)
{
	int bits = levels == 5 ? 57 : 48;

	return (uint64_t)((int64_t)(va << (64 - bits)) >> (64 - bits));
}

/* Mark the file chunks of guest-physical [pa, pa + len) with flag (CH_CORE, CH_KERNEL). */
static void mark_pa_as(struct core_walk *w, uint64_t pa, uint64_t len, uint8_t flag)
{
	for (unsigned r = 0; r < w->lay.n; r++) {
		const struct vmt_ram_range *rg = &w->lay.r[r];
		uint64_t lo = VMT_MAX(pa, rg->gpa), hi = VMT_MIN(pa + len, rg->gpa + rg->len);

		for (uint64_t a = lo; a < hi; a += VMT_PAGE_SIZE) {
			uint64_t c = (a - rg->gpa + rg->file_off) >> w->p->shift;

			if (c < w->p->nr_chunks)
				w->p->flags[c] |= flag;
		}
	}
}

static void mark_pa(struct core_walk *w, uint64_t pa, uint64_t len)
{
	mark_pa_as(w, pa, len, CH_CORE);
}

/* A leaf (a page, or a 2 MiB / 1 GiB page) mapping va: the kernel's own memory? */
static void leaf(struct core_walk *w, uint64_t e, int level, uint64_t va)
{
	uint64_t size = 1ull << (12 + 9 * (level - 1));

	if (kernel_va(w, va))
		mark_pa_as(w, e & PTE_ADDR & ~(size - 1), size, CH_KERNEL);
}

/*
 * Walk the table at pa (level: 5..1 = PGD/P4D .. PTE) from entry lo to hi;
 * va is the address its entry 0 maps.  Every table is core; the leaves in
 * the vmalloc and module areas are the kernel's own pages (CH_KERNEL).
 */
static int walk_table(struct core_walk *w, uint64_t pa, int level, int lo, int hi, uint64_t va)
{
	uint64_t e[512], span = 1ull << (12 + 9 * (level - 1));
	int r;

	if (++w->tables > CORE_MAX_TABLES)
		return vmt_error(-EBADMSG, "kernel page tables hold more than %u tables",
				 CORE_MAX_TABLES);
	mark_pa(w, pa, VMT_PAGE_SIZE);
	if (level == 1 && !kernel_va(w, va) && !kernel_va(w, va + 511 * span))
		return 0;
	r = vmt_read_phys(w->g, pa, e, sizeof(e));
	if (r)
		return 0; /* a table outside RAM: nothing of ours to keep */
	for (int i = lo; i < hi; i++) {
		uint64_t at = va + (uint64_t)i * span;

		if (level == w->levels)
			at = canonical(at, w->levels);
		if (!(e[i] & PTE_PRESENT))
			continue;
		if (level == 1 || ((level == 3 || level == 2) && (e[i] & PTE_PS))) {
			leaf(w, e[i], level, at);
			continue;
		}
		r = walk_table(w, e[i] & PTE_ADDR, level - 1, 0, 512, at);
		if (r)
			return r;
	}
	return 0;
}

#define MAP_PIECE (2u << 20) /* struct pages read at once */

/* Mark pfn by its kind: the kernel's own (CH_KERNEL), slab first among them (CH_SLAB). */
static void kernel_page(struct core_walk *w, unsigned kind, uint64_t pfn)
{
	if (!(kind & (VMT_PAGE_RESERVED | VMT_PAGE_SLAB | VMT_PAGE_TABLE)))
		return;
	mark_pa_as(w, pfn << VMT_PAGE_SHIFT, VMT_PAGE_SIZE,
		   CH_KERNEL | ((kind & VMT_PAGE_SLAB) ? CH_SLAB : 0));
}

/*
 * The kernel's own pages: its boot-time allocations (PageReserved: the
 * memblock allocations it never gave back, i.e. the struct page array
 * itself, the per-CPU areas, the dentry and inode hash tables, and the
 * firmware's areas), slab pages and page-table pages.  memblock allocates
 * from the top of RAM down, and the address policy sent those to a
 * sub-host; a busybox ps in the guest then paged in 300 pages of the
 * dentry hash table, 34 of the vmemmap and 100 early slab and page-table
 * pages (bench/results/fig4.md).  They go to the main host right after the
 * core, unpinned (they do not count against --main-mem's room for the
 * core).  Read from the vmemmap, 2 MiB of struct pages at a time (compound
 * heads and tails in one piece: pieces are aligned to 32,768 pages); a
 * piece that cannot be read marks nothing.
 */
static void core_kernel(struct core_walk *w)
{
	struct vmt_page_kinds k;
	uint64_t vmemmap = w->g->ki.vmemmap;
	uint8_t *buf;

	if (!vmemmap || vmt_page_kinds_init(w->g, &k))
		return;
	buf = malloc(MAP_PIECE);
	for (unsigned r = 0; buf && r < w->lay.n; r++) {
		uint64_t pfn = w->lay.r[r].gpa >> VMT_PAGE_SHIFT;
		uint64_t end = pfn + (w->lay.r[r].len >> VMT_PAGE_SHIFT);

		while (pfn < end) {
			uint64_t piece = MAP_PIECE / k.size, first = pfn - pfn % piece;
			uint64_t n = VMT_MIN(end - first, piece);

			if (!vmt_read_kva(w->g, vmemmap + first * k.size, buf, n * k.size))
				for (uint64_t i = pfn - first; i < n; i++)
					kernel_page(w, vmt_page_kind(&k, buf, i, n, vmemmap, first),
						    first + i);
			pfn = first + n;
		}
	}
	free(buf);
}

/*
 * The tables a walk from pgd to va goes through (pgd included, the data
 * page not), marked CH_KERNEL | CH_PATH; a table outside RAM or a huge page
 * ends the walk.  One read per level: at most 4 or 5 per address.
 */
static void mark_path(struct core_walk *w, uint64_t pgd, uint64_t va)
{
	uint64_t table = pgd, e;

	for (int level = w->levels; level >= 1; level--) {
		unsigned idx = (unsigned)(va >> (12 + 9 * (level - 1))) & 511;

		mark_pa_as(w, table, VMT_PAGE_SIZE, CH_KERNEL | CH_PATH);
		if (level == 1 || vmt_read_phys(w->g, table + idx * 8ull, &e, sizeof(e)) ||
		    !(e & PTE_PRESENT) || (e & PTE_PS))
			return;
		table = e & PTE_ADDR;
	}
}

/*
 * Each process's way to its arguments: what a listing's cmdline reads
 * through its page tables (mm->arg_start and the last byte of them).
 */
static void core_arg_paths(struct core_walk *w, const struct vmt_task *t)
{
	const struct task_offsets *o;
	uint64_t mm, a0, a1;

	if (!t->pgd_pa || vmt_task_offsets(w->g, &o) || o->mm_arg_start == UINT32_MAX ||
	    o->mm_arg_end == UINT32_MAX || vmt_kread_u64(w->g, t->kva + o->task_mm, &mm) ||
	    !vmt_kptr_ok(mm) || vmt_kread_u64(w->g, mm + o->mm_arg_start, &a0) ||
	    vmt_kread_u64(w->g, mm + o->mm_arg_end, &a1) || a1 <= a0)
		return;
	mark_path(w, t->pgd_pa, a0);
	mark_path(w, t->pgd_pa, a1 - 1);
}

/*
 * Every process's top page tables: its pgd and, below the user half of it,
 * the P4D/PUD tables.  6.1 marks PMD and PTE tables PageTable (core_kernel
 * finds them) but gives the top levels no constructor, so nothing in their
 * struct page says what they are; yet a /proc/PID/cmdline read walks them
 * (the guest's ps paged in 22 pgds: bench/results/fig4.md).  From the task
 * list (bounded by the library), at most CORE_MAX_TABLES tables in all.
 * The tables down to each process's arguments come first (CH_PATH): a
 * 1,000-process guest's page tables and slab outgrow a 96 MiB main host,
 * and method 1's `vmt ps` fetched 565 of them (PGD to PTE, a level at a
 * time) before the arguments themselves.
 */
static void core_user_tables(struct core_walk *w)
{
	struct vmt_task_list *l = NULL;
	uint64_t e[256], e2[512];

	if (vmt_tasks(w->g, VMT_TASK_BASIC, &l) || !l)
		return;
	for (size_t t = 0; t < l->n && w->tables < CORE_MAX_TABLES; t++) {
		uint64_t pgd = l->tasks[t].pgd_pa;

		if (!pgd || (pgd & (VMT_PAGE_SIZE - 1)) || vmt_read_phys(w->g, pgd, e, sizeof(e)))
			continue;
		mark_pa_as(w, pgd, VMT_PAGE_SIZE, CH_KERNEL);
		if (t == 0 || l->tasks[t].pgd_pa != l->tasks[t - 1].pgd_pa)
			core_arg_paths(w, &l->tasks[t]);
		for (int i = 0; i < 256 && w->tables < CORE_MAX_TABLES; i++) {
			uint64_t next = e[i] & PTE_ADDR;

			if (!(e[i] & PTE_PRESENT))
				continue;
			w->tables++;
			mark_pa_as(w, next, VMT_PAGE_SIZE, CH_KERNEL);
			if (w->levels != 5 || vmt_read_phys(w->g, next, e2, sizeof(e2)))
				continue;
			for (int j = 0; j < 512 && w->tables < CORE_MAX_TABLES; j++)
				if (e2[j] & PTE_PRESENT) {
					w->tables++;
					mark_pa_as(w, e2[j] & PTE_ADDR, VMT_PAGE_SIZE, CH_KERNEL);
				}
		}
	}
	vmt_task_list_free(l);
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

/* A free block of 2^order pages from pfn: count its pages in the chunks that hold them. */
static int free_block(uint64_t pfn, unsigned order, void *arg)
{
	struct core_walk *w = arg;
	uint64_t pa = pfn << VMT_PAGE_SHIFT, len = VMT_PAGE_SIZE << order;

	if (w->dump)
		fprintf(w->dump, "%llx %u\n", (unsigned long long)pfn, order);
	for (unsigned r = 0; r < w->lay.n; r++) {
		const struct vmt_ram_range *rg = &w->lay.r[r];
		uint64_t lo = VMT_MAX(pa, rg->gpa), hi = VMT_MIN(pa + len, rg->gpa + rg->len);

		for (uint64_t a = lo; a < hi;) {
			uint64_t off = a - rg->gpa + rg->file_off, c = off >> w->p->shift;
			uint64_t end = VMT_MIN(hi, a + ((c + 1) << w->p->shift) - off);

			if (c < w->p->nr_chunks)
				w->free_in[c] += (uint32_t)((end - a) >> VMT_PAGE_SHIFT);
			a = end;
		}
	}
	return 0;
}

/*
 * CH_FREE on the chunks whose every page is free.  Only a walk that went
 * through every list without a fault counts: a partial one marks nothing.
 */
static void core_free(struct core_walk *w, bool mark)
{
	struct vmt_buddy_walk bw = {.fn = free_block, .arg = w};
	const char *dump = getenv("VMT_SPLIT_FREE_DUMP");
	struct place *p = w->p;
	int poison = vmt_page_poisoning(w->g);

	p->free_err = poison ? (poison > 0 ? -ENOTSUP : poison) : 0;
	if (p->free_err && !dump)
		return;
	w->free_in = calloc(p->nr_chunks, sizeof(*w->free_in));
	w->dump = dump && *dump ? fopen(dump, "we") : NULL;
	if (!w->free_in) {
		p->free_err = -ENOMEM;
	} else {
		int r = vmt_buddy_free_walk(w->g, &bw);

		p->free_err = p->free_err ? p->free_err : r;
		p->free_blocks = bw.blocks;
		p->free_pages = bw.pages;
	}
	for (uint64_t c = 0; mark && !p->free_err && c < p->nr_chunks; c++) {
		uint64_t len = VMT_MIN(1ull << p->shift, p->ram_size - (c << p->shift));

		if (w->free_in[c] == len >> VMT_PAGE_SHIFT)
			p->flags[c] |= CH_FREE;
	}
	if (w->dump)
		fclose(w->dump);
	free(w->free_in);
}

int place_mark_core(const char *mem_path, const char *kernel, const char *machine, unsigned want,
		    struct place *p)
{
	bool free_pages = want & CORE_WANT_FREE;
	struct vmt_guest_opts go = {.sz = sizeof(go),
				    .mem_path = mem_path,
				    .kernel_path = kernel,
				    .machine = machine,
				    .ram_size = p->ram_size};
	struct core_walk w = {.p = p, .kernel = want & CORE_WANT_KERNEL};
	struct vmt_kernel_info ki;
	uint64_t base;
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
	if (!r) {
		w.levels = ki.paging_levels;
		w.vmalloc_lo = w.vmalloc_hi = ki.vmemmap; /* none known: the module area only */
		if (!vmt_symbol(w.g, "vmalloc_base", &base) && !vmt_read_kva(w.g, base, &base, 8) &&
		    base < ki.vmemmap)
			w.vmalloc_lo = base;
		/* The kernel half: top-level entries 256..511 in 4- and 5-level paging alike. */
		r = walk_table(&w, ki.kernel_pgd, ki.paging_levels, 256, 512, 0);
	}
	/* 100-250 ms of the downtime (32 MiB of struct pages, every task): only when used. */
	if (!r && w.kernel) {
		core_kernel(&w);
		core_user_tables(&w);
	}
	p->free_err = -ENODATA; /* not walked */
	if (!r && (free_pages || getenv("VMT_SPLIT_FREE_DUMP")))
		core_free(&w, free_pages);
	vmt_guest_close(w.g);
	return r;
}
