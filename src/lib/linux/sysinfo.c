// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sysinfo.c - uname, uptime, boot time, meminfo and counters of a guest.
 *
 * Each value is computed the way the 6.1 kernel computes what /proc shows:
 *   utsname      init_uts_ns.name (the initial UTS namespace)
 *   uptime       /proc/uptime = CLOCK_BOOTTIME = tkr_mono.base
 *                + (tkr_mono.xtime_nsec >> shift) + offs_boot, read from
 *                tk_core.timekeeper under its seqcount.  The kernel adds the
 *                clocksource cycles elapsed since the last timekeeping
 *                update; those cannot be read from memory, so the value is
 *                that of the last update: a tick (4 ms) behind while the
 *                guest is busy, up to its NOHZ idle period while it sleeps
 *                (measured: up to 0.5 s on an idle TCG guest).
 *   boot time    /proc/stat btime = (offs_real - offs_boot) in seconds
 *   MemTotal     _totalram_pages
 *   MemFree      vm_zone_stat[NR_FREE_PAGES]
 *   MemAvailable si_mem_available(): free - totalreserve_pages + file LRU
 *                and reclaimable slab, less what the low watermarks keep
 *   Buffers      nr_blockdev_pages(): nrpages of every bdev inode
 *   Cached       NR_FILE_PAGES - NR_SWAPCACHE - Buffers
 *   nr_cpus      __num_online_cpus;  nr_tasks  nr_threads
 * Global vmstat counters are read without the per-CPU deltas the kernel
 * does not fold either, so they match /proc/meminfo of the same moment.
 *
 * Every item is best effort: one that cannot be read stays 0 and sets
 * VMT_F_PARTIAL; only an unreadable utsname fails the call.
 */
#include <stdio.h>
#include <string.h>

#include "guest/guest_internal.h"

#define SYSINFO_MAX_NODES  1024 /* MAX_NUMNODES with NODES_SHIFT=10 */
#define SYSINFO_MAX_BDEVS  (1u << 16)
#define SYSINFO_TK_RETRIES 8
#define NSEC_PER_SEC	   1000000000ll

static int sysinfo_read_uts(struct vmt_guest *g, struct vmt_sysinfo *si)
{
	static const char *const names[] = {"sysname", "nodename", "release", "version", "machine"};
	char *dst[] = {si->sysname, si->nodename, si->release, si->version, si->machine};
	uint64_t uts;
	int err;

	err = vmt_ksym(g, "init_uts_ns", &uts);
	if (err)
		return vmt_error(err, "kernel symbol init_uts_ns not found");
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		char path[32];
		uint32_t off;

		snprintf(path, sizeof(path), "name.%s", names[i]);
		err = vmt_profile_field(g->prof, "uts_namespace", path, &off);
		if (err)
			return vmt_error(-ENOEXEC, "kernel profile lacks uts_namespace.%s", path);
		err = vmt_kread_str(g, uts + off, dst[i], sizeof(si->sysname));
		if (err)
			return vmt_error(err, "init_uts_ns unreadable");
	}
	return 0;
}

/* ------------------------------------------------------------ timekeeper */

struct tk_offsets {
	uint32_t clock, mult, shift, xtime_nsec, base, offs_real, offs_boot;
	uint32_t seq_size;
};

struct tk_snap {
	uint64_t clock, xtime_nsec;
	int64_t base, offs_real, offs_boot;
	uint32_t mult, shift;
};

static int tk_read(struct vmt_guest *g, const struct tk_offsets *o, uint64_t tk, struct tk_snap *s)
{
	int err = vmt_kread_u64(g, tk + o->clock, &s->clock);

	if (!err)
		err = vmt_kread_u32(g, tk + o->mult, &s->mult);
	if (!err)
		err = vmt_kread_u32(g, tk + o->shift, &s->shift);
	if (!err)
		err = vmt_kread_u64(g, tk + o->xtime_nsec, &s->xtime_nsec);
	if (!err)
		err = vmt_kread(g, tk + o->base, &s->base, sizeof(s->base));
	if (!err)
		err = vmt_kread(g, tk + o->offs_real, &s->offs_real, sizeof(s->offs_real));
	if (!err)
		err = vmt_kread(g, tk + o->offs_boot, &s->offs_boot, sizeof(s->offs_boot));
	if (err)
		return err;
	/* A live timekeeper has a clocksource and a shift below 64. */
	if (!vmt_kptr_ok(s->clock) || !s->mult || s->shift >= 64 || s->base < 0 || s->offs_boot < 0)
		return -EBADMSG;
	return 0;
}

/*
 * tk_core is an anonymous static struct { seqcount_raw_spinlock_t seq;
 * struct timekeeper timekeeper; }: BTF does not name it, so the timekeeper
 * sits at sizeof(seq) rounded up to the timekeeper's 8-byte alignment.  The
 * sequence is read around the copy and the copy retried while a writer was
 * active.  shadow_timekeeper (a plain struct timekeeper that the kernel
 * keeps in step) is the fallback.
 */
static int sysinfo_read_tk(struct vmt_guest *g, struct tk_snap *s)
{
	struct tk_offsets o;
	/* clang-format off */
	const struct vmt_field_req req[] = {
		{"timekeeper", "tkr_mono.clock", &o.clock, false},
		{"timekeeper", "tkr_mono.mult", &o.mult, false},
		{"timekeeper", "tkr_mono.shift", &o.shift, false},
		{"timekeeper", "tkr_mono.xtime_nsec", &o.xtime_nsec, false},
		{"timekeeper", "tkr_mono.base", &o.base, false},
		{"timekeeper", "offs_real", &o.offs_real, false},
		{"timekeeper", "offs_boot", &o.offs_boot, false},
		{"seqcount_raw_spinlock", NULL, &o.seq_size, true},
	};
	/* clang-format on */
	uint64_t core, shadow;
	int err = vmt_resolve_fields(g, req, ARRAY_SIZE(req));

	if (err)
		return err;
	if (o.seq_size == UINT32_MAX)
		o.seq_size = 4;
	if (!vmt_ksym(g, "tk_core", &core)) {
		uint64_t tk = core + ((o.seq_size + 7) & ~7u);

		for (int i = 0; i < SYSINFO_TK_RETRIES; i++) {
			uint32_t seq0, seq1;

			if (vmt_kread_u32(g, core, &seq0))
				break;
			err = tk_read(g, &o, tk, s);
			if (err || vmt_kread_u32(g, core, &seq1))
				break;
			if (!(seq0 & 1) && seq0 == seq1)
				return 0;
		}
	}
	err = vmt_ksym(g, "shadow_timekeeper", &shadow);
	if (err)
		return vmt_error(err, "no readable timekeeper (tk_core, shadow_timekeeper)");
	return tk_read(g, &o, shadow, s);
}

static void sysinfo_read_time(struct vmt_guest *g, struct vmt_sysinfo *si)
{
	struct tk_snap s;
	int64_t boot_ns;

	if (sysinfo_read_tk(g, &s)) {
		si->flags |= VMT_F_PARTIAL;
		return;
	}
	si->uptime_ns = (uint64_t)s.base + (s.xtime_nsec >> s.shift) + (uint64_t)s.offs_boot;
	if (__builtin_sub_overflow(s.offs_real, s.offs_boot, &boot_ns))
		boot_ns = 0; /* hostile offsets */
	si->boot_time_s = boot_ns > 0 ? (uint64_t)(boot_ns / NSEC_PER_SEC) : 0;
}

/* ------------------------------------------------------------- meminfo */

/* Read an atomic_long_t / unsigned long symbol. */
/*
 * Page counts from the guest are clamped to [0, 2^40] pages (4 EiB): the
 * meminfo arithmetic below adds and subtracts them, and a hostile counter
 * must give a silly number, not signed overflow.
 */
#define PAGES_MAX (1ll << 40)

static int64_t pages_clamp(int64_t v)
{
	return v < 0 ? 0 : v > PAGES_MAX ? PAGES_MAX : v;
}

static int sym_read_long(struct vmt_guest *g, const char *name, int64_t *val)
{
	uint64_t va;
	int err = vmt_ksym(g, name, &va);

	if (!err)
		err = vmt_kread(g, va, val, sizeof(*val));
	if (!err)
		*val = pages_clamp(*val);
	return err;
}

/* vm_zone_stat[item] / vm_node_stat[item], clamped at 0 like the kernel. */
static int vmstat_read(struct vmt_guest *g, const char *array, const char *enum_type,
		       const char *item, int64_t *val)
{
	int64_t idx;
	uint64_t va;
	int err;

	err = vmt_profile_enum(g->prof, enum_type, item, &idx);
	if (err)
		return err;
	err = vmt_ksym(g, array, &va);
	if (err)
		return err;
	if (idx < 0 || idx > 256)
		return -EBADMSG;
	err = vmt_kread(g, va + (uint64_t)idx * 8, val, sizeof(*val));
	if (!err)
		*val = pages_clamp(*val);
	return err;
}

struct bdev_walk {
	uint32_t i_sb_list, i_mapping, nrpages;
	int64_t pages;
	bool bad;
};

static int bdev_one(struct vmt_guest *g, uint64_t node, void *arg)
{
	struct bdev_walk *w = arg;
	uint64_t inode = node - w->i_sb_list, mapping, nr;

	if (vmt_kread_u64(g, inode + w->i_mapping, &mapping) || !vmt_kptr_ok(mapping) ||
	    vmt_kread_u64(g, mapping + w->nrpages, &nr)) {
		w->bad = true;
		return 0;
	}
	w->pages = pages_clamp(w->pages + pages_clamp((int64_t)VMT_MIN(nr, (uint64_t)PAGES_MAX)));
	return 0;
}

/* nr_blockdev_pages(): page-cache pages of the block devices themselves. */
static int sysinfo_buffers(struct vmt_guest *g, int64_t *pages)
{
	struct bdev_walk w = {0};
	uint32_t s_inodes;
	/* clang-format off */
	const struct vmt_field_req req[] = {
		{"super_block", "s_inodes", &s_inodes, false},
		{"inode", "i_sb_list", &w.i_sb_list, false},
		{"inode", "i_mapping", &w.i_mapping, false},
		{"address_space", "nrpages", &w.nrpages, false},
	};
	/* clang-format on */
	uint64_t sbp, sb;
	int err = vmt_resolve_fields(g, req, ARRAY_SIZE(req));

	if (!err)
		err = vmt_ksym(g, "blockdev_superblock", &sbp);
	if (!err)
		err = vmt_kread_u64(g, sbp, &sb);
	if (err)
		return err;
	if (!vmt_kptr_ok(sb))
		return -EBADMSG;
	err = vmt_list_walk(g, sb + s_inodes, SYSINFO_MAX_BDEVS, bdev_one, &w);
	*pages = w.pages;
	return err ? err : w.bad ? -EBADMSG : 0;
}

/* Sum of low watermarks (_watermark[WMARK_LOW] + watermark_boost) of every zone. */
static int sysinfo_wmark_low(struct vmt_guest *g, int64_t *sum)
{
	uint32_t zones, zone_sz, wmark, boost, zones_size, nr_nodes;
	/* clang-format off */
	const struct vmt_field_req req[] = {
		{"pglist_data", "node_zones", &zones, false},
		{"zone", NULL, &zone_sz, false},
		{"zone", "_watermark", &wmark, false},
		{"zone", "watermark_boost", &boost, true},
	};
	/* clang-format on */
	int64_t low, wmark_low;
	uint64_t node_data, pgdat;
	uint32_t off;
	int err = vmt_resolve_fields(g, req, ARRAY_SIZE(req));

	if (!err)
		err = vmt_profile_field2(g->prof, "pglist_data", "node_zones", &off, &zones_size);
	if (err || !zone_sz)
		return err ? err : -EBADMSG;
	if (vmt_profile_enum(g->prof, "zone_watermarks", "WMARK_LOW", &wmark_low) ||
	    wmark_low < 0 || wmark_low > 8)
		wmark_low = 1;
	/* CONFIG_NUMA: node_data[nr_node_ids]; else the one contig_page_data. */
	if (!vmt_ksym(g, "node_data", &node_data)) {
		err = vmt_ksym(g, "nr_node_ids", &pgdat);
		if (!err)
			err = vmt_kread_u32(g, pgdat, &nr_nodes);
		if (err)
			return err;
		nr_nodes = VMT_MIN(nr_nodes, SYSINFO_MAX_NODES);
	} else {
		err = vmt_ksym(g, "contig_page_data", &pgdat);
		if (err)
			return err;
		node_data = 0;
		nr_nodes = 1;
	}
	*sum = 0;
	for (uint32_t n = 0; n < nr_nodes; n++) {
		if (node_data && vmt_kread_u64(g, node_data + 8ull * n, &pgdat))
			return -EFAULT;
		if (!pgdat)
			continue;
		if (!vmt_kptr_ok(pgdat))
			return -EBADMSG;
		for (uint32_t z = 0; z < zones_size / zone_sz; z++) {
			uint64_t zone = pgdat + zones + (uint64_t)z * zone_sz, b = 0;

			if (vmt_kread(g, zone + wmark + 8 * (uint64_t)wmark_low, &low,
				      sizeof(low)) ||
			    (boost != UINT32_MAX && vmt_kread_u64(g, zone + boost, &b)))
				return -EFAULT;
			*sum = pages_clamp(*sum + pages_clamp(low) +
					   pages_clamp((int64_t)VMT_MIN(b, (uint64_t)PAGES_MAX)));
		}
	}
	return 0;
}

/* si_mem_available() of mm/page_alloc.c (6.1). */
static int sysinfo_available(struct vmt_guest *g, int64_t free_pages, int64_t *avail)
{
	int64_t reserve, active, inactive, slab, misc = 0, wmark, pagecache, reclaimable;
	int err;

	err = sym_read_long(g, "totalreserve_pages", &reserve);
	if (!err)
		err = vmstat_read(g, "vm_node_stat", "node_stat_item", "NR_ACTIVE_FILE", &active);
	if (!err)
		err =
		    vmstat_read(g, "vm_node_stat", "node_stat_item", "NR_INACTIVE_FILE", &inactive);
	if (!err)
		err = vmstat_read(g, "vm_node_stat", "node_stat_item", "NR_SLAB_RECLAIMABLE_B",
				  &slab);
	if (!err)
		err = sysinfo_wmark_low(g, &wmark);
	if (err)
		return err;
	/* Absent before 4.20; 0 is what an old kernel would have added. */
	vmstat_read(g, "vm_node_stat", "node_stat_item", "NR_KERNEL_MISC_RECLAIMABLE", &misc);
	*avail = free_pages - reserve;
	pagecache = active + inactive;
	pagecache -= VMT_MIN(pagecache / 2, wmark);
	*avail += pagecache;
	reclaimable = slab + misc;
	*avail += reclaimable - VMT_MIN(reclaimable / 2, wmark);
	if (*avail < 0)
		*avail = 0;
	return 0;
}

static uint64_t pages_kb(int64_t pages)
{
	return pages > 0 ? (uint64_t)pages << (VMT_PAGE_SHIFT - 10) : 0;
}

static void sysinfo_read_mem(struct vmt_guest *g, struct vmt_sysinfo *si)
{
	int64_t total, free_pages, avail, buffers, file, swapcache = 0, cached;

	if (sym_read_long(g, "_totalram_pages", &total) &&
	    sym_read_long(g, "totalram_pages", &total))
		si->flags |= VMT_F_PARTIAL;
	else
		si->mem_total_kb = pages_kb(total);
	if (vmstat_read(g, "vm_zone_stat", "zone_stat_item", "NR_FREE_PAGES", &free_pages)) {
		si->flags |= VMT_F_PARTIAL;
		return;
	}
	si->mem_free_kb = pages_kb(free_pages);
	if (sysinfo_available(g, free_pages, &avail))
		si->flags |= VMT_F_PARTIAL;
	else
		si->mem_available_kb = pages_kb(avail);
	if (sysinfo_buffers(g, &buffers)) {
		si->flags |= VMT_F_PARTIAL;
		buffers = 0;
	}
	si->buffers_kb = pages_kb(buffers);
	/*
	 * meminfo subtracts total_swapcache_pages(); NR_SWAPCACHE (5.13+)
	 * counts the same pages.  Without swap both are 0.
	 */
	vmstat_read(g, "vm_node_stat", "node_stat_item", "NR_SWAPCACHE", &swapcache);
	if (vmstat_read(g, "vm_node_stat", "node_stat_item", "NR_FILE_PAGES", &file)) {
		si->flags |= VMT_F_PARTIAL;
		return;
	}
	cached = file - swapcache - buffers;
	si->cached_kb = pages_kb(cached);
}

/* -------------------------------------------------------------- counters */

static int sysinfo_online_cpus(struct vmt_guest *g, uint32_t *n)
{
	uint64_t va, word;
	uint32_t ids;
	int err;

	if (!vmt_ksym(g, "__num_online_cpus", &va))
		return vmt_kread_u32(g, va, n);
	/* Before 5.7: count the bits of cpu_online_mask. */
	err = vmt_ksym(g, "nr_cpu_ids", &va);
	if (!err)
		err = vmt_kread_u32(g, va, &ids);
	if (!err)
		err = vmt_ksym(g, "__cpu_online_mask", &va);
	if (err)
		return err;
	ids = VMT_MIN(ids, 8192u);
	*n = 0;
	for (uint32_t i = 0; i < (ids + 63) / 64; i++) {
		err = vmt_kread_u64(g, va + 8ull * i, &word);
		if (err)
			return err;
		*n += (uint32_t)__builtin_popcountll(word);
	}
	return 0;
}

int vmt_sysinfo(struct vmt_guest *g, struct vmt_sysinfo *si)
{
	uint64_t va;
	int err;

	memset(si, 0, sizeof(*si));
	err = sysinfo_read_uts(g, si);
	if (err)
		return err;
	sysinfo_read_time(g, si);
	sysinfo_read_mem(g, si);
	if (sysinfo_online_cpus(g, &si->nr_cpus))
		si->flags |= VMT_F_PARTIAL;
	if (vmt_ksym(g, "nr_threads", &va) || vmt_kread_u32(g, va, &si->nr_tasks))
		si->flags |= VMT_F_PARTIAL;
	return 0;
}
