// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * system_mem.c - /proc/meminfo, /proc/sys/kernel tunables and the kernel
 * command line of a guest.
 *
 * meminfo follows 6.1's meminfo_proc_show(): global vmstat counters
 * (vm_node_stat[], vm_zone_stat[], read without the per-CPU deltas the
 * kernel does not fold either), swap (total_swap_pages, nr_swap_pages),
 * vm_committed_as, the overcommit sysctls, nr_vmalloc_pages, the per-CPU
 * allocator's populated pages, hstates[] and x86's direct_pages_count[].
 * MemTotal, MemFree, MemAvailable, Buffers and Cached are vmt_sysinfo()'s.
 * Not derived: SwapFree leaves out the pages of a swap area being turned
 * off (nr_to_be_unused, only during swapoff); VmallocChunk is 0 in 6.1.
 */
#include <stdlib.h>
#include <string.h>

#include "linux/system.h"

#define PAGE_KB(p)	   ((uint64_t)(p) << (VMT_PAGE_SHIFT - 10))
#define SYS_MAX_STAT_ITEMS 256
#define SYS_MAX_HSTATES	   8 /* HUGE_MAX_HSTATE on x86 is 2 */
#define SYS_CMDLINE_MAX	   (64u << 10)

/* ------------------------------------------------------------ vmstat */

struct vmstat {
	int64_t node[SYS_MAX_STAT_ITEMS], zone[SYS_MAX_STAT_ITEMS];
	int64_t nr_node, nr_zone;
	struct vmt_guest *g;
};

static int vmstat_array(struct vmt_guest *g, const char *sym, const char *en, const char *last,
			int64_t *v, int64_t *n)
{
	uint64_t va;
	int err;

	err = vmt_profile_enum(g->prof, en, last, n);
	if (!err && (*n <= 0 || *n > SYS_MAX_STAT_ITEMS))
		err = -EBADMSG;
	if (!err)
		err = vmt_ksym(g, sym, &va);
	if (!err)
		err = vmt_kread(g, va, v, (size_t)*n * 8);
	return err;
}

/* global_node_page_state() by item name: clamped at 0; absent items read 0. */
static uint64_t vm_node(const struct vmstat *s, const char *item)
{
	int64_t i;

	if (vmt_profile_enum(s->g->prof, "node_stat_item", item, &i) || i < 0 || i >= s->nr_node)
		return 0;
	return s->node[i] < 0 ? 0 : (uint64_t)s->node[i];
}

static uint64_t vm_zone(const struct vmstat *s, const char *item)
{
	int64_t i;

	if (vmt_profile_enum(s->g->prof, "zone_stat_item", item, &i) || i < 0 || i >= s->nr_zone)
		return 0;
	return s->zone[i] < 0 ? 0 : (uint64_t)s->zone[i];
}

static void mem_vmstat(const struct vmstat *s, struct vmt_meminfo *m)
{
	uint64_t srec = vm_node(s, "NR_SLAB_RECLAIMABLE_B");

	m->swap_cached = PAGE_KB(vm_node(s, "NR_SWAPCACHE"));
	m->active_anon = PAGE_KB(vm_node(s, "NR_ACTIVE_ANON"));
	m->inactive_anon = PAGE_KB(vm_node(s, "NR_INACTIVE_ANON"));
	m->active_file = PAGE_KB(vm_node(s, "NR_ACTIVE_FILE"));
	m->inactive_file = PAGE_KB(vm_node(s, "NR_INACTIVE_FILE"));
	m->unevictable = PAGE_KB(vm_node(s, "NR_UNEVICTABLE"));
	m->mlocked = PAGE_KB(vm_zone(s, "NR_MLOCK"));
	m->dirty = PAGE_KB(vm_node(s, "NR_FILE_DIRTY"));
	m->writeback = PAGE_KB(vm_node(s, "NR_WRITEBACK"));
	m->anon_pages = PAGE_KB(vm_node(s, "NR_ANON_MAPPED"));
	m->mapped = PAGE_KB(vm_node(s, "NR_FILE_MAPPED"));
	m->shmem = PAGE_KB(vm_node(s, "NR_SHMEM"));
	m->kreclaimable = PAGE_KB(srec + vm_node(s, "NR_KERNEL_MISC_RECLAIMABLE"));
	m->sreclaimable = PAGE_KB(srec);
	m->sunreclaim = PAGE_KB(vm_node(s, "NR_SLAB_UNRECLAIMABLE_B"));
	m->kernel_stack = vm_node(s, "NR_KERNEL_STACK_KB");
	m->page_tables = PAGE_KB(vm_node(s, "NR_PAGETABLE"));
	m->sec_page_tables = PAGE_KB(vm_node(s, "NR_SECONDARY_PAGETABLE"));
	m->bounce = PAGE_KB(vm_zone(s, "NR_BOUNCE"));
	m->writeback_tmp = PAGE_KB(vm_node(s, "NR_WRITEBACK_TEMP"));
	m->anon_huge = PAGE_KB(vm_node(s, "NR_ANON_THPS"));
	m->shmem_huge = PAGE_KB(vm_node(s, "NR_SHMEM_THPS"));
	m->shmem_pmd_mapped = PAGE_KB(vm_node(s, "NR_SHMEM_PMDMAPPED"));
	m->file_huge = PAGE_KB(vm_node(s, "NR_FILE_THPS"));
	m->file_pmd_mapped = PAGE_KB(vm_node(s, "NR_FILE_PMDMAPPED"));
	m->cma_free = PAGE_KB(vm_zone(s, "NR_FREE_CMA_PAGES"));
	m->unaccepted = PAGE_KB(vm_zone(s, "NR_UNACCEPTED"));
}

static bool have_enum(struct vmt_guest *g, const char *type, const char *name)
{
	int64_t v;

	return !vmt_profile_enum(g->prof, type, name, &v);
}

static bool have_sym(struct vmt_guest *g, const char *name)
{
	uint64_t va;

	return !vmt_ksym(g, name, &va);
}

/* ---------------------------------------------------------- hugetlb */

/* hugetlb_report_meminfo(); *pages = hugetlb_total_pages() for the commit limit. */
static int mem_hugetlb(struct vmt_guest *g, struct vmt_meminfo *m, uint64_t *pages)
{
	uint32_t hsize, order, nr, freep, resv, surp;
	/* clang-format off */
	const struct vmt_field_req req[] = {
		{"hstate", NULL, &hsize, false},
		{"hstate", "order", &order, false},
		{"hstate", "nr_huge_pages", &nr, false},
		{"hstate", "free_huge_pages", &freep, false},
		{"hstate", "resv_huge_pages", &resv, false},
		{"hstate", "surplus_huge_pages", &surp, false},
	};
	/* clang-format on */
	int32_t max, def;
	uint64_t hstates, bytes = 0;
	int err = vmt_resolve_fields(g, req, ARRAY_SIZE(req));

	*pages = 0;
	if (!err)
		err = vmt_ksym(g, "hstates", &hstates);
	if (!err)
		err = sys_sym_s32(g, "hugetlb_max_hstate", &max);
	if (!err)
		err = sys_sym_s32(g, "default_hstate_idx", &def);
	if (err)
		return err;
	m->have |= VMT_MEMINFO_HUGETLB_KB;
	for (int32_t i = 0; i < VMT_MIN(max, SYS_MAX_HSTATES); i++) {
		uint64_t h = hstates + (uint64_t)i * hsize, vals[4];
		uint32_t ord;

		if (vmt_kread_u32(g, h + order, &ord) || ord > 30 ||
		    vmt_kread_u64(g, h + nr, &vals[0]) || vmt_kread_u64(g, h + freep, &vals[1]) ||
		    vmt_kread_u64(g, h + resv, &vals[2]) || vmt_kread_u64(g, h + surp, &vals[3]))
			return -EBADMSG;
		vals[0] = VMT_MIN(vals[0], 1ull << 40);
		bytes += (VMT_PAGE_SIZE << ord) * vals[0];
		*pages += vals[0] << ord;
		if (i != def)
			continue;
		m->have |= VMT_MEMINFO_HUGETLB;
		m->huge_total = vals[0];
		m->huge_free = vals[1];
		m->huge_rsvd = vals[2];
		m->huge_surp = vals[3];
		m->huge_size = (VMT_PAGE_SIZE << ord) >> 10;
	}
	m->hugetlb = bytes >> 10;
	return 0;
}

/* ------------------------------------------------------------- rest */

/* arch_report_meminfo() of x86: direct_pages_count[PG_LEVEL_*]. */
static int mem_directmap(struct vmt_guest *g, struct vmt_meminfo *m)
{
	int64_t l4k, l2m, l1g;
	uint64_t va, cnt[3], caps;
	uint32_t cap_off;
	int err;

	if (vmt_profile_enum(g->prof, "pg_level", "PG_LEVEL_4K", &l4k) ||
	    vmt_profile_enum(g->prof, "pg_level", "PG_LEVEL_2M", &l2m) ||
	    vmt_profile_enum(g->prof, "pg_level", "PG_LEVEL_1G", &l1g) || l4k < 0 || l1g > 8 ||
	    l2m != l4k + 1 || l1g != l4k + 2)
		return -ENOEXEC;
	err = vmt_ksym(g, "direct_pages_count", &va);
	if (!err)
		err = vmt_kread(g, va + 8 * (uint64_t)l4k, cnt, sizeof(cnt));
	if (err)
		return err;
	m->have |= VMT_MEMINFO_DIRECTMAP;
	m->direct_map_4k = cnt[0] << 2;
	m->direct_map_2m = cnt[1] << 11;
	m->direct_map_1g = cnt[2] << 20;
	/* boot_cpu_has(X86_FEATURE_GBPAGES): word 1, bit 26 */
	if (!vmt_profile_field(g->prof, "cpuinfo_x86", "x86_capability", &cap_off) &&
	    !vmt_ksym(g, "boot_cpu_data", &va) && !vmt_kread_u64(g, va + cap_off, &caps) &&
	    ((caps >> 32) & (1u << 26)))
		m->have |= VMT_MEMINFO_DIRECTMAP_1G;
	return 0;
}

/*
 * vm_memory_committed() = percpu_counter_sum_positive(&vm_committed_as):
 * the counter plus every online CPU's unfolded s32 delta.
 */
static int mem_committed(struct vmt_guest *g, int64_t *sum)
{
	uint32_t count, counters;
	uint64_t va, pcpu, base;
	struct sys_cpus *cpus;
	int err;

	err = vmt_profile_field(g->prof, "percpu_counter", "count", &count);
	if (!err)
		err = vmt_profile_field(g->prof, "percpu_counter", "counters", &counters);
	if (!err)
		err = vmt_ksym(g, "vm_committed_as", &va);
	if (!err)
		err = vmt_kread(g, va + count, sum, sizeof(*sum));
	if (!err)
		err = vmt_kread_u64(g, va + counters, &pcpu);
	if (err)
		return err;
	cpus = malloc(sizeof(*cpus));
	if (!cpus)
		return -ENOMEM;
	err = sys_cpus_read(g, cpus);
	for (uint32_t cpu = 0; !err && cpu < cpus->nr_ids; cpu++) {
		int32_t d;

		if (!sys_cpu_in(cpus->online, cpu))
			continue;
		err = sys_percpu_base(g, cpu, &base);
		if (!err)
			err = vmt_kread(g, pcpu + base, &d, sizeof(d));
		if (!err)
			*sum += d;
	}
	free(cpus);
	return err;
}

static int mem_swap_commit(struct vmt_guest *g, struct vmt_meminfo *m, uint64_t huge_pages)
{
	uint64_t total, nfree, kbytes, ram;
	int64_t committed;
	int32_t ratio;
	int err;

	err = sys_sym_u64(g, "total_swap_pages", &total);
	if (!err)
		err = sys_sym_u64(g, "nr_swap_pages", &nfree);
	if (err)
		return err;
	m->swap_total = PAGE_KB(VMT_MIN(total, 1ull << 40));
	m->swap_free = (int64_t)nfree < 0 ? 0 : PAGE_KB(VMT_MIN(nfree, 1ull << 40));
	/* vm_commit_limit() */
	err = sys_sym_u64(g, "sysctl_overcommit_kbytes", &kbytes);
	if (!err)
		err = sys_sym_s32(g, "sysctl_overcommit_ratio", &ratio);
	if (err)
		return err;
	ram = m->mem_total >> (VMT_PAGE_SHIFT - 10);
	if (kbytes)
		m->commit_limit = (kbytes >> (VMT_PAGE_SHIFT - 10)) + VMT_MIN(total, 1ull << 40);
	else
		m->commit_limit = (ram > huge_pages ? ram - huge_pages : 0) *
				      (uint64_t)(ratio < 0 ? 0 : ratio) / 100 +
				  VMT_MIN(total, 1ull << 40);
	m->commit_limit = PAGE_KB(m->commit_limit);
	err = mem_committed(g, &committed);
	if (err)
		return err;
	m->committed_as = committed > 0 ? PAGE_KB(VMT_MIN(committed, 1ll << 40)) : 0;
	return 0;
}

static int mem_vmalloc_percpu(struct vmt_guest *g, struct vmt_meminfo *m)
{
	struct vmt_kernel_info ki;
	uint64_t vm;
	int32_t populated, units;
	int err;

	/* VMALLOC_SIZE_TB: 32 with 4-level paging, 12800 with 5; END is inclusive. */
	if (!vmt_guest_kernel_info(g, &ki))
		m->vmalloc_total = (((ki.paging_levels == 5 ? 12800ull : 32ull) << 40) - 1) >> 10;
	err = sys_sym_u64(g, "nr_vmalloc_pages", &vm);
	if (!err)
		m->vmalloc_used = PAGE_KB(VMT_MIN(vm, 1ull << 40));
	if (!err)
		err = sys_sym_s32(g, "pcpu_nr_populated", &populated);
	if (!err)
		err = sys_sym_s32(g, "pcpu_nr_units", &units);
	if (!err && populated >= 0 && units >= 0)
		m->percpu = PAGE_KB((uint64_t)populated * (uint64_t)units);
	return err;
}

static void mem_optional(struct vmt_guest *g, struct vmt_meminfo *m)
{
	uint64_t v;
	int32_t pages;

	if (have_enum(g, "node_stat_item", "NR_ANON_THPS"))
		m->have |= VMT_MEMINFO_THP;
	if (have_enum(g, "node_stat_item", "NR_SECONDARY_PAGETABLE"))
		m->have |= VMT_MEMINFO_SEC_PAGETABLES;
	/* mm/cma.c defines cma_areas; totalcma_pages exists without CONFIG_CMA. */
	if (have_sym(g, "cma_areas")) {
		m->have |= VMT_MEMINFO_CMA;
		if (!sys_sym_u64(g, "totalcma_pages", &v))
			m->cma_total = PAGE_KB(VMT_MIN(v, 1ull << 40));
	}
	if (!sys_sym_u64(g, "num_poisoned_pages", &v)) {
		m->have |= VMT_MEMINFO_HWCORRUPTED;
		m->hardware_corrupted = PAGE_KB(VMT_MIN(v, 1ull << 40));
	}
	if (have_enum(g, "zone_stat_item", "NR_UNACCEPTED"))
		m->have |= VMT_MEMINFO_UNACCEPTED;
	/*
	 * CONFIG_ZSWAP: zswap_stored_pages in every version; the pool size is a
	 * variable up to 6.9 and then zswap_total_pages() over the pools' zpools,
	 * not modelled: 0 then, and partial when pages are stored.
	 */
	if (have_sym(g, "zswap_stored_pages")) {
		m->have |= VMT_MEMINFO_ZSWAP;
		if (!sys_sym_s32(g, "zswap_stored_pages", &pages) && pages > 0)
			m->zswapped = PAGE_KB(pages);
		if (!sys_sym_u64(g, "zswap_pool_total_size", &v))
			m->zswap = v >> 10;
		else if (m->zswapped)
			m->flags |= VMT_F_PARTIAL;
	}
}

int vmt_meminfo(struct vmt_guest *g, struct vmt_meminfo *m)
{
	struct vmt_sysinfo si;
	struct vmstat *s;
	uint64_t huge_pages = 0;
	int err;

	memset(m, 0, sizeof(*m));
	err = vmt_sysinfo(g, &si);
	if (err)
		return err;
	m->flags = si.flags;
	m->mem_total = si.mem_total_kb;
	m->mem_free = si.mem_free_kb;
	m->mem_available = si.mem_available_kb;
	m->buffers = si.buffers_kb;
	m->cached = si.cached_kb;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->g = g;
	if (vmstat_array(g, "vm_node_stat", "node_stat_item", "NR_VM_NODE_STAT_ITEMS", s->node,
			 &s->nr_node) ||
	    vmstat_array(g, "vm_zone_stat", "zone_stat_item", "NR_VM_ZONE_STAT_ITEMS", s->zone,
			 &s->nr_zone)) {
		m->flags |= VMT_F_PARTIAL;
		vmt_error(-EFAULT, "vm_node_stat / vm_zone_stat unreadable");
	} else {
		mem_vmstat(s, m);
	}
	free(s);
	mem_optional(g, m);
	if (mem_hugetlb(g, m, &huge_pages))
		m->flags |= VMT_F_PARTIAL;
	if (mem_swap_commit(g, m, huge_pages))
		m->flags |= VMT_F_PARTIAL;
	if (mem_vmalloc_percpu(g, m))
		m->flags |= VMT_F_PARTIAL;
	if (mem_directmap(g, m))
		m->flags |= VMT_F_PARTIAL;
	return 0;
}

/* ------------------------------------------------------------- vmstat */

#define SYS_MAX_NODES	  1024
#define SYS_MAX_VM_EVENTS 512
#define SYS_HPAGE_PMD_NR  512

struct vmstat_walk {
	struct vmt_guest *g;
	struct vmt_vmstat *v;
	struct sys_cpus cpus;
	int64_t nr_zone, nr_numa, nr_node, nr_wb, nr_events;
};

static int vmstat_push(struct vmstat_walk *w, uint64_t value)
{
	if (w->v->n == w->v->cap)
		return -E2BIG;
	w->v->items[w->v->n++].value = value;
	return 0;
}

/*
 * fold_vm_numa_events(): each populated zone's per-CPU numa event counts
 * added to the global ones (node_data[] with NUMA, else contig_page_data).
 */
static void vmstat_numa_fold(struct vmstat_walk *w, uint64_t *ev)
{
	uint32_t zones, zones_size, zone_sz, pcz, present, numa_ev, nodes = 1;
	uint64_t nd = 0, pgdat, base;
	int32_t nr;

	if (vmt_profile_field2(w->g->prof, "pglist_data", "node_zones", &zones, &zones_size) ||
	    vmt_profile_struct_size(w->g->prof, "zone", &zone_sz) || !zone_sz ||
	    vmt_profile_field(w->g->prof, "zone", "per_cpu_zonestats", &pcz) ||
	    vmt_profile_field(w->g->prof, "zone", "present_pages", &present) ||
	    vmt_profile_field(w->g->prof, "per_cpu_zonestat", "vm_numa_event", &numa_ev))
		goto bad;
	if (!vmt_ksym(w->g, "node_data", &nd)) {
		if (sys_sym_s32(w->g, "nr_node_ids", &nr) || nr <= 0)
			goto bad;
		nodes = VMT_MIN((uint32_t)nr, SYS_MAX_NODES);
	} else if (vmt_ksym(w->g, "contig_page_data", &pgdat)) {
		goto bad;
	}
	for (uint32_t n = 0; n < nodes; n++) {
		if (nd && vmt_kread_u64(w->g, nd + 8ull * n, &pgdat))
			goto bad;
		if (!pgdat)
			continue;
		for (uint32_t z = 0; z < zones_size / zone_sz; z++) {
			uint64_t zone = pgdat + zones + (uint64_t)z * zone_sz, pages, stats;

			if (vmt_kread_u64(w->g, zone + present, &pages) ||
			    vmt_kread_u64(w->g, zone + pcz, &stats))
				goto bad;
			if (!pages)
				continue;
			for (uint32_t cpu = 0; cpu < w->cpus.nr_ids; cpu++) {
				uint64_t e[16];

				if (!sys_cpu_in(w->cpus.online, cpu) ||
				    sys_percpu_base(w->g, cpu, &base))
					continue;
				if (vmt_kread(w->g, stats + base + numa_ev, e,
					      (size_t)w->nr_numa * 8))
					goto bad;
				for (int64_t i = 0; i < w->nr_numa; i++)
					ev[i] += e[i];
			}
		}
	}
	return;
bad:
	w->v->flags |= VMT_F_PARTIAL;
}

/* global_dirty_limits() of mm/page-writeback.c (no highmem, not an RT task). */
static void vmstat_dirty(struct vmstat_walk *w, const int64_t *zone, const int64_t *node,
			 uint64_t *bg, uint64_t *thresh)
{
	int64_t idx, reserve = 0;
	int32_t ratio = 0, bg_ratio = 0;
	uint64_t x = 0, bytes = 0, bg_bytes = 0, va;

	if (!vmt_profile_enum(w->g->prof, "zone_stat_item", "NR_FREE_PAGES", &idx) && idx >= 0 &&
	    idx < w->nr_zone && zone[idx] > 0)
		x = (uint64_t)zone[idx];
	if (!vmt_ksym(w->g, "totalreserve_pages", &va))
		vmt_kread(w->g, va, &reserve, 8);
	x -= VMT_MIN(x, (uint64_t)(reserve > 0 ? reserve : 0));
	if (!vmt_profile_enum(w->g->prof, "node_stat_item", "NR_INACTIVE_FILE", &idx) && idx >= 0 &&
	    idx < w->nr_node && node[idx] > 0)
		x += (uint64_t)node[idx];
	if (!vmt_profile_enum(w->g->prof, "node_stat_item", "NR_ACTIVE_FILE", &idx) && idx >= 0 &&
	    idx < w->nr_node && node[idx] > 0)
		x += (uint64_t)node[idx];
	x += 1;
	if (sys_sym_s32(w->g, "vm_dirty_ratio", &ratio) ||
	    sys_sym_s32(w->g, "dirty_background_ratio", &bg_ratio) ||
	    sys_sym_u64(w->g, "vm_dirty_bytes", &bytes) ||
	    sys_sym_u64(w->g, "dirty_background_bytes", &bg_bytes))
		w->v->flags |= VMT_F_PARTIAL;
	x = VMT_MIN(x, 1ull << 40);
	/* ratios per PAGE_SIZE for precision, as domain_dirty_limits() does */
	*thresh = bytes ? (bytes + VMT_PAGE_SIZE - 1) / VMT_PAGE_SIZE
			: (uint64_t)VMT_MAX(ratio, 0) * VMT_PAGE_SIZE / 100 * x / VMT_PAGE_SIZE;
	*bg = bg_bytes ? (bg_bytes + VMT_PAGE_SIZE - 1) / VMT_PAGE_SIZE
		       : (uint64_t)VMT_MAX(bg_ratio, 0) * VMT_PAGE_SIZE / 100 * x / VMT_PAGE_SIZE;
	if (*bg >= *thresh)
		*bg = *thresh / 2;
}

static bool vmstat_in_thp(struct vmt_guest *g, int64_t i)
{
	static const char *const thp[] = {"NR_ANON_THPS", "NR_FILE_THPS", "NR_SHMEM_THPS",
					  "NR_SHMEM_PMDMAPPED", "NR_FILE_PMDMAPPED"};
	int64_t v;

	for (size_t k = 0; k < ARRAY_SIZE(thp); k++)
		if (!vmt_profile_enum(g->prof, "node_stat_item", thp[k], &v) && v == i)
			return true;
	return false;
}

/* all_vm_events(): vm_event_states summed over the online CPUs. */
static void vmstat_events(struct vmstat_walk *w, uint64_t *ev)
{
	uint64_t off, base, cpu_ev[SYS_MAX_VM_EVENTS];
	int64_t in, out;

	if (sys_percpu_sym(w->g, "vm_event_states", &off)) {
		w->v->flags |= VMT_F_PARTIAL;
		return;
	}
	for (uint32_t cpu = 0; cpu < w->cpus.nr_ids; cpu++) {
		if (!sys_cpu_in(w->cpus.online, cpu))
			continue;
		if (sys_percpu_base(w->g, cpu, &base) ||
		    vmt_kread(w->g, off + base, cpu_ev, (size_t)w->nr_events * 8)) {
			w->v->flags |= VMT_F_PARTIAL;
			continue;
		}
		for (int64_t i = 0; i < w->nr_events; i++)
			ev[i] += cpu_ev[i];
	}
	/* sectors to kbytes */
	if (!vmt_profile_enum(w->g->prof, "vm_event_item", "PGPGIN", &in) && in >= 0 &&
	    in < w->nr_events)
		ev[in] /= 2;
	if (!vmt_profile_enum(w->g->prof, "vm_event_item", "PGPGOUT", &out) && out >= 0 &&
	    out < w->nr_events)
		ev[out] /= 2;
}

/* vm_stat_item's counters after the two dirty thresholds, each a global atomic_long_t. */
static const struct {
	const char *item, *sym;
} vmstat_globals[] = {
    {"NR_MEMMAP_PAGES", "nr_memmap_pages"},
    {"NR_MEMMAP_BOOT_PAGES", "nr_memmap_boot_pages"},
};

static uint64_t vmstat_global(struct vmstat_walk *w, int64_t item)
{
	uint64_t v;
	int64_t e;

	for (size_t i = 0; i < ARRAY_SIZE(vmstat_globals); i++)
		if (!vmt_profile_enum(w->g->prof, "vm_stat_item", vmstat_globals[i].item, &e) &&
		    e == item && !sys_sym_u64(w->g, vmstat_globals[i].sym, &v))
			return (int64_t)v > 0 ? v : 0;
	w->v->flags |= VMT_F_PARTIAL;
	return 0;
}

static int vmstat_counts(struct vmstat_walk *w)
{
	struct vmt_guest *g = w->g;

	/* 6.11 renamed writeback_stat_item to vm_stat_item (and added the memmap counters). */
	if (vmt_profile_enum(g->prof, "writeback_stat_item", "NR_VM_WRITEBACK_STAT_ITEMS",
			     &w->nr_wb) &&
	    vmt_profile_enum(g->prof, "vm_stat_item", "NR_VM_STAT_ITEMS", &w->nr_wb))
		w->nr_wb = -1;
	if (vmt_profile_enum(g->prof, "zone_stat_item", "NR_VM_ZONE_STAT_ITEMS", &w->nr_zone) ||
	    vmt_profile_enum(g->prof, "node_stat_item", "NR_VM_NODE_STAT_ITEMS", &w->nr_node) ||
	    w->nr_wb < 0)
		return vmt_error(-ENOEXEC, "kernel profile lacks the vmstat item enums");
	if (vmt_profile_enum(g->prof, "numa_stat_item", "NR_VM_NUMA_EVENT_ITEMS", &w->nr_numa))
		w->nr_numa = 0; /* !CONFIG_NUMA */
	if (vmt_profile_enum(g->prof, "vm_event_item", "NR_VM_EVENT_ITEMS", &w->nr_events))
		w->nr_events = 0; /* !CONFIG_VM_EVENT_COUNTERS */
	if (w->nr_zone <= 0 || w->nr_zone > SYS_MAX_STAT_ITEMS || w->nr_node <= 0 ||
	    w->nr_node > SYS_MAX_STAT_ITEMS || w->nr_numa < 0 || w->nr_numa > 16 || w->nr_wb < 2 ||
	    w->nr_wb > (int64_t)ARRAY_SIZE(vmstat_globals) + 2 || w->nr_events < 0 ||
	    w->nr_events > SYS_MAX_VM_EVENTS)
		return vmt_error(-EBADMSG, "vmstat item counts out of range");
	return 0;
}

/* The values in vmstat_start()'s order: zone, numa, node, writeback, events. */
static int vmstat_values(struct vmstat_walk *w, struct vmstat *s)
{
	uint64_t numa[16] = {0}, bg, thresh, *ev, va;
	int err = 0;

	if (w->nr_numa && (vmt_ksym(w->g, "vm_numa_event", &va) ||
			   vmt_kread(w->g, va, numa, (size_t)w->nr_numa * 8)))
		w->v->flags |= VMT_F_PARTIAL;
	if (w->nr_numa)
		vmstat_numa_fold(w, numa);
	ev = calloc(SYS_MAX_VM_EVENTS, sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	vmstat_events(w, ev);
	vmstat_dirty(w, s->zone, s->node, &bg, &thresh);
	for (int64_t i = 0; !err && i < w->nr_zone; i++)
		err = vmstat_push(w, s->zone[i] > 0 ? (uint64_t)s->zone[i] : 0);
	for (int64_t i = 0; !err && i < w->nr_numa; i++)
		err = vmstat_push(w, numa[i]);
	for (int64_t i = 0; !err && i < w->nr_node; i++) {
		uint64_t v = s->node[i] > 0 ? (uint64_t)s->node[i] : 0;

		err = vmstat_push(w, vmstat_in_thp(w->g, i) ? v / SYS_HPAGE_PMD_NR : v);
	}
	/* enum writeback_stat_item / vm_stat_item: NR_DIRTY_THRESHOLD, NR_DIRTY_BG_THRESHOLD, ...
	 */
	if (!err)
		err = vmstat_push(w, thresh);
	if (!err)
		err = vmstat_push(w, bg);
	for (int64_t i = 2; !err && i < w->nr_wb; i++)
		err = vmstat_push(w, vmstat_global(w, i));
	for (int64_t i = 0; !err && i < w->nr_events; i++)
		err = vmstat_push(w, ev[i]);
	free(ev);
	return err;
}

/* Names from the kernel's own vmstat_text[], one per value. */
static int vmstat_names(struct vmstat_walk *w)
{
	uint64_t text, p;

	if (vmt_ksym(w->g, "vmstat_text", &text))
		return vmt_error(-ENOENT, "kernel symbol vmstat_text not found");
	for (size_t i = 0; i < w->v->n; i++) {
		if (vmt_kread_u64(w->g, text + 8 * i, &p) || !vmt_kptr_ok(p) ||
		    vmt_kread_str(w->g, p, w->v->items[i].name, sizeof(w->v->items[i].name)))
			return vmt_error(-EFAULT, "vmstat_text[%zu] unreadable", i);
	}
	return 0;
}

int vmt_vmstat(struct vmt_guest *g, struct vmt_vmstat **out)
{
	struct vmstat_walk w = {.g = g};
	struct vmstat *s = NULL;
	int err;

	*out = NULL;
	err = vmstat_counts(&w);
	if (err)
		return err;
	w.v = calloc(1, sizeof(*w.v));
	s = calloc(1, sizeof(*s));
	if (!w.v || !s) {
		err = -ENOMEM;
		goto out;
	}
	w.v->cap = (size_t)(w.nr_zone + w.nr_numa + w.nr_node + w.nr_wb + w.nr_events);
	w.v->items = calloc(w.v->cap, sizeof(*w.v->items));
	if (!w.v->items) {
		err = -ENOMEM;
		goto out;
	}
	s->g = g;
	err = vmstat_array(g, "vm_node_stat", "node_stat_item", "NR_VM_NODE_STAT_ITEMS", s->node,
			   &s->nr_node);
	if (!err)
		err = vmstat_array(g, "vm_zone_stat", "zone_stat_item", "NR_VM_ZONE_STAT_ITEMS",
				   s->zone, &s->nr_zone);
	if (!err)
		err = sys_cpus_read(g, &w.cpus);
	if (!err)
		err = vmstat_values(&w, s);
	if (!err)
		err = vmstat_names(&w);
	if (!err) {
		*out = w.v;
		w.v = NULL;
	}
out:
	free(s);
	vmt_vmstat_free(w.v);
	return err;
}

void vmt_vmstat_free(struct vmt_vmstat *v)
{
	if (!v)
		return;
	free(v->items);
	free(v);
}

/* ------------------------------------------------------------- sysctl */

int vmt_kernel_tunables(struct vmt_guest *g, struct vmt_kernel_tunables *t)
{
	static const struct {
		const char *sym;
		size_t off;
	} vars[] = {
	    {"pid_max", offsetof(struct vmt_kernel_tunables, pid_max)},
	    {"max_threads", offsetof(struct vmt_kernel_tunables, threads_max)},
	    {"ngroups_max", offsetof(struct vmt_kernel_tunables, ngroups_max)},
	    {"cap_last_cap", offsetof(struct vmt_kernel_tunables, cap_last_cap)},
	    {"randomize_va_space", offsetof(struct vmt_kernel_tunables, randomize_va_space)},
	    {"kptr_restrict", offsetof(struct vmt_kernel_tunables, kptr_restrict)},
	    {"dmesg_restrict", offsetof(struct vmt_kernel_tunables, dmesg_restrict)},
	    {"panic_timeout", offsetof(struct vmt_kernel_tunables, panic)},
	};
	uint64_t uts;
	uint32_t off;
	int ok = 0;

	memset(t, 0, sizeof(*t));
	t->sysrq = -1; /* a function of sysrq_enabled and sysrq_always_enabled: not derived */
	for (size_t i = 0; i < ARRAY_SIZE(vars); i++) {
		int32_t *dst = (int32_t *)((char *)t + vars[i].off);

		if (sys_sym_s32(g, vars[i].sym, dst)) {
			*dst = -1;
			t->flags |= VMT_F_PARTIAL;
		} else {
			ok++;
		}
	}
	if (vmt_profile_field(g->prof, "uts_namespace", "name.domainname", &off) ||
	    vmt_ksym(g, "init_uts_ns", &uts) ||
	    vmt_kread_str(g, uts + off, t->domainname, sizeof(t->domainname)))
		t->flags |= VMT_F_PARTIAL;
	return ok ? 0 : vmt_error(-EFAULT, "no kernel tunable readable");
}

int vmt_kernel_cmdline(struct vmt_guest *g, char **out)
{
	uint64_t ptr;
	char *buf;
	int err;

	*out = NULL;
	err = sys_sym_u64(g, "saved_command_line", &ptr);
	if (err)
		return vmt_error(err, "saved_command_line unreadable");
	if (!vmt_kptr_ok(ptr))
		return vmt_error(-EBADMSG, "saved_command_line points to 0x%llx",
				 (unsigned long long)ptr);
	buf = malloc(SYS_CMDLINE_MAX);
	if (!buf)
		return -ENOMEM;
	err = vmt_kread_str(g, ptr, buf, SYS_CMDLINE_MAX);
	if (err) {
		free(buf);
		return vmt_error(err, "command line unreadable");
	}
	*out = buf;
	return 0;
}
