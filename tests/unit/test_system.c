// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_system.c - the system-wide walkers (linux/system*.c) and their /proc
 * text (procfs/render_system.c) over a fake guest (fake_guest.h) with the
 * test kernel's real layouts (6.1; or 6.12 with VMT_TEST_KERNEL_612, where
 * irq descriptors sit in a maple tree, mounts in an rbtree and locks in
 * file_lock_core): per-CPU areas built by hand (__per_cpu_offset, CPU
 * masks) for /proc/stat, loadavg, meminfo and locks; an irq_desc xarray;
 * tty drivers, file system types and mounts; and hostile structures (a
 * looping chain, an xarray node that points back at itself, an unreadable
 * per-CPU area) that must cost their entries, never hang or crash.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_guest.h"
#include "procfs/render_system.h"

#define PCPU_SIZE (256u << 10) /* covers every per-CPU symbol's offset in 6.1 */

static uint64_t pcpu_area[4];

/* CPUs 0..n-1 possible, those in online_mask online; per-CPU areas zeroed. */
static void cpus_setup(struct fake *f, uint32_t n, uint64_t online_mask)
{
	put32(f, sym("nr_cpu_ids"), n);
	put64(f, sym("__cpu_possible_mask"), (1ull << n) - 1);
	put64(f, sym("__cpu_online_mask"), online_mask);
	for (uint32_t i = 0; i < n; i++) {
		pcpu_area[i] = kalloc_align(f, PCPU_SIZE, 4096);
		put64(f, sym("__per_cpu_offset") + 8ull * i, pcpu_area[i]);
	}
}

/* Layouts that moved between kernels: the profile says which this is. */
static bool has_field(const char *type, const char *field)
{
	uint32_t v;

	return vmt_profile_field(prof, type, field, &v) == 0;
}

static bool has_sym(const char *name)
{
	uint64_t v;

	return vmt_profile_symbol(prof, name, &v) == 0;
}

/* Address of per-CPU symbol name on cpu. */
static uint64_t pcpu(const char *name, uint32_t cpu)
{
	return sym(name) + pcpu_area[cpu];
}

static void set_cpustat(struct fake *f, uint32_t cpu, const char *item, uint64_t ns)
{
	put64(f,
	      pcpu("kernel_cpustat", cpu) + off("kernel_cpustat", "cpustat") +
		  8 * (uint64_t)enumval("cpu_usage_stat", item),
	      ns);
}

static char *render(void (*fn)(struct textbuf *, const void *), const void *arg)
{
	struct textbuf b;
	char *s;

	tb_init(&b);
	fn(&b, arg);
	tb_put(&b, "", 1);
	assert_int_equal(b.err, 0);
	s = strdup(b.p);
	tb_free(&b);
	return s;
}

/* ----------------------------------------------------------- /proc/stat */

static void stat_fixture(struct fake *f)
{
	uint64_t ks, rq;

	cpus_setup(f, 2, 0x3);
	for (uint32_t cpu = 0; cpu < 2; cpu++) {
		set_cpustat(f, cpu, "CPUTIME_USER", (cpu + 1) * 1230000000ull); /* 123 ticks */
		set_cpustat(f, cpu, "CPUTIME_SYSTEM", 50000000ull);
		set_cpustat(f, cpu, "CPUTIME_IDLE", 7000000000ull);
		set_cpustat(f, cpu, "CPUTIME_SOFTIRQ", 19999999ull); /* 1.99 ticks: 1 */
		ks = pcpu("kstat", cpu);
		put64(f, ks + off("kernel_stat", "irqs_sum"), 100 + cpu);
		put32(f, ks + off("kernel_stat", "softirqs") + 4 * 1, 7); /* TIMER */
		put32(f, ks + off("kernel_stat", "softirqs") + 4 * 9, 3); /* RCU */
		rq = pcpu("runqueues", cpu);
		put64(f, rq + off("rq", "nr_switches"), 1000);
		put32(f, rq + off("rq", "nr_running"), 1);
		put32(f, rq + off("rq", "nr_iowait"), cpu);
		put32(f, pcpu("irq_stat", cpu) + off("irq_cpustat_t", "apic_timer_irqs"), 10);
		/* not summed by arch_irq_stat_cpu(): */
		put32(f, pcpu("irq_stat", cpu) + off("irq_cpustat_t", "irq_tlb_count"), 1000);
	}
	put64(f, sym("total_forks"), 4242);
	put32(f, sym("irq_err_count"), 5);
	put32(f, sym("nr_irqs"), 4);
}

static void render_stat(struct textbuf *b, const void *s)
{
	const struct pfs_ctx c = {.user_hz = 100};

	pfs_render_stat(b, &c, s);
}

static void render_softirqs(struct textbuf *b, const void *s)
{
	pfs_render_softirqs(b, s);
}

static void test_stat_two_cpus(void **state)
{
	struct fake *f = *state;
	struct vmt_cpu_stat *s;
	char *text;

	stat_fixture(f);
	assert_int_equal(vmt_cpu_stat(&f->g, &s), 0);
	assert_int_equal(s->nr_cpus, 2);
	assert_int_equal(s->total.ns[VMT_CPU_USER], 3690000000ull);
	assert_int_equal(s->cpus[1].ns[VMT_CPU_USER], 2460000000ull);
	assert_int_equal(s->intr_total, 100 + 101 + 10 + 10 + 5);
	assert_int_equal(s->ctxt, 2000);
	assert_int_equal(s->processes, 4242);
	assert_int_equal(s->procs_running, 2);
	assert_int_equal(s->procs_blocked, 1);
	assert_int_equal(s->nr_irqs, 4);
	assert_int_equal(s->nr_possible, 2);
	assert_int_equal(s->possible[1].n[1], 7);
	text = render(render_softirqs, s); /* names are the kernel's: none in the fake image */
	assert_non_null(strstr(text, "                    CPU0       CPU1       \n"));
	assert_non_null(
	    strstr(text, "            :          0          0\n            :          7"));
	free(text);
	text = render(render_stat, s);
	assert_string_equal(text, "cpu  369 0 10 1400 0 0 3 0 0 0\n"
				  "cpu0 123 0 5 700 0 0 1 0 0 0\n"
				  "cpu1 246 0 5 700 0 0 1 0 0 0\n"
				  "intr 226 0 0 0 0\n"
				  "ctxt 2000\n"
				  "btime 0\n"
				  "processes 4242\n"
				  "procs_running 2\n"
				  "procs_blocked 1\n"
				  "softirq 20 0 14 0 0 0 0 0 0 0 6\n");
	free(text);
	vmt_cpu_stat_free(s);
}

/* An offline CPU counts in the totals, not in the cpuN lines or procs_running. */
static void test_stat_offline_cpu(void **state)
{
	struct fake *f = *state;
	struct vmt_cpu_stat *s;

	stat_fixture(f);
	put64(f, sym("__cpu_online_mask"), 0x1);
	assert_int_equal(vmt_cpu_stat(&f->g, &s), 0);
	assert_int_equal(s->nr_cpus, 1);
	assert_int_equal(s->cpus[0].cpu, 0);
	assert_int_equal(s->total.ns[VMT_CPU_USER], 3690000000ull);
	assert_int_equal(s->procs_running, 1);
	assert_int_equal(s->procs_blocked, 1);
	vmt_cpu_stat_free(s);
}

/* NO_HZ: an online CPU's idle is tick_sched's idle_sleeptime, rounded to microseconds. */
static void test_stat_nohz_idle(void **state)
{
	struct fake *f = *state;
	struct vmt_cpu_stat *s;

	stat_fixture(f);
	put32(f, sym("tick_nohz_active"), 1);
	put64(f, pcpu("tick_cpu_sched", 0) + off("tick_sched", "idle_sleeptime"), 2000001999ull);
	put64(f, pcpu("tick_cpu_sched", 0) + off("tick_sched", "iowait_sleeptime"), 31000ull);
	assert_int_equal(vmt_cpu_stat(&f->g, &s), 0);
	assert_int_equal(s->cpus[0].ns[VMT_CPU_IDLE], 2000001000ull);
	assert_int_equal(s->cpus[0].ns[VMT_CPU_IOWAIT], 31000ull);
	assert_int_equal(s->cpus[1].ns[VMT_CPU_IDLE], 0);
	vmt_cpu_stat_free(s);
}

/* A CPU whose per-CPU offset points nowhere costs its numbers, flagged. */
static void test_stat_bad_percpu(void **state)
{
	struct fake *f = *state;
	struct vmt_cpu_stat *s;

	stat_fixture(f);
	put64(f, sym("__per_cpu_offset") + 8, UNMAPPED_VA);
	assert_int_equal(vmt_cpu_stat(&f->g, &s), 0);
	assert_true(s->flags & VMT_F_PARTIAL);
	assert_int_equal(s->nr_cpus, 1);
	assert_int_equal(s->total.ns[VMT_CPU_USER], 1230000000ull);
	vmt_cpu_stat_free(s);
}

/*
 * The irq descriptors at irq[0] < irq[1] < ...: irq_desc_tree's one xa_node
 * of leaves, or (6.5+) sparse_irqs' one maple leaf, each desc over [irq, irq]
 * and NULL ranges between.  Returns the node.
 */
static uint64_t irq_tree(struct fake *f, size_t n, const uint32_t *irq, const uint64_t *desc)
{
	uint64_t node = kalloc_align(f, 1024, 256), piv[16] = {0}, slot[16] = {0}, lo = 0;
	uint32_t k = 0;

	if (has_sym("irq_desc_tree")) {
		put8(f, node + off("xa_node", "shift"), 0);
		for (size_t i = 0; i < n; i++)
			put64(f, node + off("xa_node", "slots") + 8ull * irq[i], desc[i]);
		put64(f, sym("irq_desc_tree") + off("xarray", "xa_head"), node + 2);
		return node;
	}
	for (size_t i = 0; i < n; i++) {
		if (irq[i] > lo)
			piv[k++] = irq[i] - 1; /* a NULL range before it */
		slot[k] = desc[i];
		piv[k++] = irq[i];
		lo = irq[i] + 1;
	}
	piv[k] = UINT64_MAX; /* the rest: NULL up to the tree's end */
	for (uint32_t i = 0; i <= k; i++) {
		if (i < 15)
			put64(f, node + off("maple_range_64", "pivot") + 8ull * i, piv[i]);
		put64(f, node + off("maple_range_64", "slot") + 8ull * i, slot[i]);
	}
	put8(f, node + off("maple_range_64", "meta"), (uint8_t)k); /* ma_data_end */
	/* mte_mk_root(mt_mk_node(node, maple_leaf_64)): type 1 << 3, ENODE_NULL 4, ROOT 2 */
	put64(f, sym("sparse_irqs") + off("maple_tree", "ma_root"), node | 1 << 3 | 4 | 2);
	return node;
}

/*
 * A node that leads back to itself: an xa_node claiming shift 6 whose slot 0
 * is itself, or a maple range node whose first child is itself.
 */
static void irq_tree_loop(struct fake *f, uint64_t node)
{
	if (has_sym("irq_desc_tree")) {
		put8(f, node + off("xa_node", "shift"), 6);
		put64(f, node + off("xa_node", "slots"), node + 2);
		return;
	}
	put64(f, node + off("maple_range_64", "slot"), node | 2 << 3 | 4);
	put64(f, sym("sparse_irqs") + off("maple_tree", "ma_root"), node | 2 << 3 | 4 | 2);
}

/* The descriptors; a node that points back at itself. */
static void test_stat_irqs(void **state)
{
	struct fake *f = *state;
	uint64_t node, d1 = kalloc(f, off("irq_desc", NULL)), d3 = kalloc(f, off("irq_desc", NULL));
	struct vmt_cpu_stat *s;

	stat_fixture(f);
	put32(f, sym("nr_irqs"), 70);
	node = irq_tree(f, 2, (uint32_t[]){1, 3}, (uint64_t[]){d1, d3});
	put64(f, d1 + off("irq_desc", "kstat_irqs"), 0x1000); /* allocated */
	put32(f, d1 + off("irq_desc", "tot_count"), 649);
	put32(f, d3 + off("irq_desc", "tot_count"), 35); /* no kstat_irqs: 0 */
	assert_int_equal(vmt_cpu_stat(&f->g, &s), 0);
	assert_int_equal(s->nr_irqs, 70);
	assert_int_equal(s->irqs[1], 649);
	assert_int_equal(s->irqs[3], 0);
	assert_false(s->flags & VMT_F_PARTIAL);
	vmt_cpu_stat_free(s);

	/* a node that leads back to itself: the shift check or the depth bound stops it */
	irq_tree_loop(f, node);
	vmt_listing_begin(&f->g); /* the page cache holds the old node */
	assert_int_equal(vmt_cpu_stat(&f->g, &s), 0);
	assert_true(s->flags & VMT_F_PARTIAL);
	vmt_cpu_stat_free(s);
}

/* ---------------------------------------------------- loadavg, meminfo */

static void render_loadavg(struct textbuf *b, const void *l)
{
	pfs_render_loadavg(b, l);
}

static void test_loadavg(void **state)
{
	struct fake *f = *state;
	struct vmt_loadavg l;
	char *text;

	cpus_setup(f, 2, 0x3);
	put64(f, sym("avenrun"), 1035);	     /* 0.505 + 0.005 -> 0.51 */
	put64(f, sym("avenrun") + 8, 216);   /* 0.105 + 0.005 -> 0.11 */
	put64(f, sym("avenrun") + 16, 4096); /* 2.00 */
	put32(f, sym("nr_threads"), 84);
	put32(f, sym("init_pid_ns") + off("pid_namespace", "idr.idr_next"), 137);
	put32(f, pcpu("runqueues", 1) + off("rq", "nr_running"), 2);
	assert_int_equal(vmt_loadavg(&f->g, &l), 0);
	text = render(render_loadavg, &l);
	assert_string_equal(text, "0.51 0.11 2.00 2/84 136\n");
	free(text);
}

static void render_meminfo(struct textbuf *b, const void *m)
{
	pfs_render_meminfo(b, m);
}

static void set_node(struct fake *f, const char *item, int64_t v)
{
	put64(f, sym("vm_node_stat") + 8 * (uint64_t)enumval("node_stat_item", item), (uint64_t)v);
}

static void test_meminfo(void **state)
{
	struct fake *f = *state;
	struct vmt_meminfo m;
	uint64_t h = sym("hstates");
	char *text;

	cpus_setup(f, 1, 0x1);
	put64(f, sym("_totalram_pages"), 120324);
	set_node(f, "NR_ACTIVE_ANON", 770);
	set_node(f, "NR_INACTIVE_FILE", 10);
	set_node(f, "NR_SLAB_RECLAIMABLE_B", 2272);
	set_node(f, "NR_SLAB_UNRECLAIMABLE_B", 1650);
	set_node(f, "NR_KERNEL_STACK_KB", 1328);
	set_node(f, "NR_SHMEM", -5); /* a transiently negative counter reads 0 */
	put32(f, sym("sysctl_overcommit_ratio"), 50);
	put64(f, sym("vm_committed_as") + off("percpu_counter", "count"), 4000);
	/* a __percpu pointer: the delta lives at counters + __per_cpu_offset[0] */
	put64(f, sym("vm_committed_as") + off("percpu_counter", "counters"), 0x100);
	put32(f, pcpu_area[0] + 0x100, 66);
	put32(f, sym("hugetlb_max_hstate"), 1);
	put32(f, h + off("hstate", "order"), 9);
	put64(f, sym("direct_pages_count") + 8 * (uint64_t)enumval("pg_level", "PG_LEVEL_2M"), 244);
	assert_int_equal(vmt_meminfo(&f->g, &m), 0);
	assert_int_equal(m.mem_total, 481296);
	assert_int_equal(m.commit_limit, 240648);
	assert_int_equal(m.committed_as, 4066 * 4);
	assert_int_equal(m.shmem, 0);
	text = render(render_meminfo, &m);
	assert_non_null(strstr(text, "MemTotal:         481296 kB\n"));
	assert_non_null(strstr(text, "Active:             3080 kB\nInactive:             40 kB\n"));
	assert_non_null(strstr(text, "Slab:              15688 kB\nSReclaimable:       9088 kB\n"));
	assert_non_null(strstr(text, "KernelStack:        1328 kB\n"));
	assert_non_null(strstr(text, "VmallocTotal:   34359738367 kB\n"));
	assert_non_null(strstr(text, "HugePages_Total:       0\n"));
	assert_non_null(strstr(text, "Hugepagesize:       2048 kB\nHugetlb:               0 kB\n"));
	assert_non_null(strstr(text, "DirectMap2M:      499712 kB\n"));
	free(text);
}

/* -------------------------------------------------------- lists */

static uint64_t tty_driver(struct fake *f, const char *dname, const char *name, int major,
			   int minor, uint32_t num, int16_t type, int16_t subtype)
{
	uint64_t d = kalloc(f, off("tty_driver", NULL)), s1 = kalloc(f, 64), s2 = kalloc(f, 64);

	putstr(f, s1, dname);
	putstr(f, s2, name);
	put64(f, d + off("tty_driver", "driver_name"), dname[0] ? s1 : 0);
	put64(f, d + off("tty_driver", "name"), s2);
	put32(f, d + off("tty_driver", "major"), (uint32_t)major);
	put32(f, d + off("tty_driver", "minor_start"), (uint32_t)minor);
	put32(f, d + off("tty_driver", "num"), num);
	put16(f, d + off("tty_driver", "type"), (uint16_t)type);
	put16(f, d + off("tty_driver", "subtype"), (uint16_t)subtype);
	return d + off("tty_driver", "tty_drivers");
}

static void render_tty(struct textbuf *b, const void *l)
{
	pfs_render_tty_drivers(b, l);
}

static void test_tty_drivers(void **state)
{
	struct fake *f = *state;
	uint64_t head = sym("tty_drivers");
	struct vmt_tty_driver_list *l;
	char *text;

	list_init(f, head);
	list_add_tail(f, head, tty_driver(f, "serial", "ttyS", 4, 64, 32, 3, 1));
	/* 2^20 + 2 minors from 136:0 spill into major 137 */
	list_add_tail(f, head, tty_driver(f, "pty_slave", "pts", 136, 0, (1u << 20) + 2, 4, 2));
	list_add_tail(f, head, tty_driver(f, "", "tty", 4, 1, 63, 2, 0));
	assert_int_equal(vmt_tty_drivers(&f->g, &l), 0);
	assert_int_equal(l->n, 3);
	text = render(render_tty, l);
	assert_string_equal(text, "/dev/tty             /dev/tty        5       0 system:/dev/tty\n"
				  "/dev/console         /dev/console    5       1 system:console\n"
				  "/dev/ptmx            /dev/ptmx       5       2 system\n"
				  "/dev/vc/0            /dev/vc/0       4       0 system:vtmaster\n"
				  "serial               /dev/ttyS       4 64-95 serial\n"
				  "pty_slave            /dev/pts      136 0-1048575 pty:slave\n"
				  "pty_slave            /dev/pts      137 0-1 pty:slave\n"
				  "unknown              /dev/tty        4 1-63 console\n");
	free(text);
	vmt_tty_driver_list_free(l);

	/* a list that loops without coming back to its head ends, flagged */
	put64(f, get64(f, head), get64(f, head));
	vmt_listing_begin(&f->g);
	assert_int_equal(vmt_tty_drivers(&f->g, &l), 0);
	assert_true(l->flags & VMT_F_PARTIAL);
	assert_true(l->n >= 1 && l->n <= 4);
	vmt_tty_driver_list_free(l);
}

static uint64_t fs_type(struct fake *f, const char *name, uint32_t flags, uint64_t next)
{
	uint64_t t = kalloc(f, off("file_system_type", NULL)), s = kalloc(f, 64);

	putstr(f, s, name);
	put64(f, t + off("file_system_type", "name"), s);
	put32(f, t + off("file_system_type", "fs_flags"), flags);
	put64(f, t + off("file_system_type", "next"), next);
	return t;
}

static void render_fs(struct textbuf *b, const void *l)
{
	pfs_render_filesystems(b, l);
}

static void test_filesystems(void **state)
{
	struct fake *f = *state;
	uint64_t ext4 = fs_type(f, "ext4", 1, 0), proc = fs_type(f, "proc", 8, ext4);
	struct vmt_fs_type_list *l;
	char *text;

	put64(f, sym("file_systems"), fs_type(f, "sysfs", 8, proc));
	assert_int_equal(vmt_filesystems(&f->g, &l), 0);
	text = render(render_fs, l);
	assert_string_equal(text, "nodev\tsysfs\nnodev\tproc\n\text4\n");
	free(text);
	vmt_fs_type_list_free(l);

	put64(f, ext4 + off("file_system_type", "next"), proc); /* a loop */
	vmt_listing_begin(&f->g);
	assert_int_equal(vmt_filesystems(&f->g, &l), 0);
	assert_true(l->flags & VMT_F_PARTIAL);
	assert_int_equal(l->n, 1024);
	vmt_fs_type_list_free(l);
}

/* --------------------------------------------------------------- locks */

/* file_lock's member fl_x, or since 6.9 its core's c.flc_x. */
static uint32_t fl_off(const char *name)
{
	char core[64];

	if (!has_field("file_lock", "c"))
		return off("file_lock", name);
	snprintf(core, sizeof(core), "c.flc_%s", name + 3);
	return off("file_lock", core);
}

static uint64_t file_lock(struct fake *f, uint32_t flags, uint8_t type, int32_t pid, int64_t start,
			  int64_t end)
{
	uint64_t fl = kalloc(f, off("file_lock", NULL));

	put32(f, fl + fl_off("fl_flags"), flags);
	put8(f, fl + fl_off("fl_type"), type);
	put32(f, fl + fl_off("fl_pid"), (uint32_t)pid);
	put64(f, fl + off("file_lock", "fl_start"), (uint64_t)start);
	put64(f, fl + off("file_lock", "fl_end"), (uint64_t)end);
	list_init(f, fl + fl_off("fl_blocked_requests"));
	list_init(f, fl + fl_off("fl_blocked_member"));
	return fl;
}

static void render_locks(struct textbuf *b, const void *l)
{
	pfs_render_locks(b, l);
}

static void test_locks(void **state)
{
	struct fake *f = *state;
	uint64_t file = kalloc(f, off("file", NULL)), inode = kalloc(f, off("inode", NULL)),
		 sb = kalloc(f, off("super_block", NULL));
	uint64_t held = file_lock(f, 1, 1, 300, 0, INT64_MAX);
	uint64_t waiter = file_lock(f, 1 | 128, 0, 301, 10, 19);
	uint64_t flock = file_lock(f, 2, 0, 302, 0, INT64_MAX);
	struct vmt_file_lock_list *l;
	char *text;

	cpus_setup(f, 2, 0x3);
	put64(f, file + off("file", "f_inode"), inode);
	put64(f, inode + off("inode", "i_sb"), sb);
	put64(f, inode + off("inode", "i_ino"), 1234);
	put32(f, sb + off("super_block", "s_dev"), (8u << 20) | 1);
	put64(f, held + fl_off("fl_file"), file);
	put64(f, flock + fl_off("fl_file"), file);
	list_add_tail(f, held + fl_off("fl_blocked_requests"),
		      waiter + fl_off("fl_blocked_member"));
	put64(f, waiter + fl_off("fl_blocker"), held);
	hlist_push(f, pcpu("file_lock_list", 0) + off("file_lock_list_struct", "hlist"),
		   held + fl_off("fl_link"));
	hlist_push(f, pcpu("file_lock_list", 1) + off("file_lock_list_struct", "hlist"),
		   flock + fl_off("fl_link"));
	assert_int_equal(vmt_file_locks(&f->g, &l), 0);
	assert_int_equal(l->n, 3);
	text = render(render_locks, l);
	assert_string_equal(text, "1: POSIX  ADVISORY  WRITE 300 08:01:1234 0 EOF\n"
				  "1: -> POSIX  *NOINODE* READ 301 <none>:0 10 19\n"
				  "2: FLOCK  ADVISORY  READ 302 08:01:1234 0 EOF\n");
	free(text);
	vmt_file_lock_list_free(l);
}

/* -------------------------------------------------------------- mounts */

static uint64_t dentry(struct fake *f, const char *name, uint64_t parent)
{
	uint64_t d = kalloc(f, off("dentry", NULL)), s = kalloc(f, 64);

	putstr(f, s, name);
	put64(f, d + off("dentry", "d_name") + off("qstr", "name"), s);
	put32(f, d + off("dentry", "d_name") + off("qstr", "len"), (uint32_t)strlen(name));
	put64(f, d + off("dentry", "d_parent"), parent ? parent : d);
	return d;
}

static uint64_t mount(struct fake *f, int id, const char *dev, const char *type, uint32_t sdev,
		      uint64_t ops, uint64_t info, uint64_t root, uint32_t flags)
{
	uint64_t m = kalloc(f, off("mount", NULL)), sb = kalloc(f, off("super_block", NULL)),
		 fst = kalloc(f, off("file_system_type", NULL)), s1 = kalloc(f, 64),
		 s2 = kalloc(f, 64), vfs = m + off("mount", "mnt");

	putstr(f, s1, dev);
	putstr(f, s2, type);
	put64(f, fst + off("file_system_type", "name"), s2);
	put64(f, sb + off("super_block", "s_type"), fst);
	put32(f, sb + off("super_block", "s_dev"), sdev);
	put64(f, sb + off("super_block", "s_op"), ops);
	put64(f, sb + off("super_block", "s_fs_info"), info);
	put64(f, vfs + off("vfsmount", "mnt_sb"), sb);
	put64(f, vfs + off("vfsmount", "mnt_root"), root);
	put32(f, vfs + off("vfsmount", "mnt_flags"), flags);
	put32(f, m + off("mount", "mnt_id"), (uint32_t)id);
	put64(f, m + off("mount", "mnt_devname"), s1);
	put64(f, m + off("mount", "mnt_parent"), m);
	return m;
}

static void render_mounts(struct textbuf *b, const void *l)
{
	pfs_render_mounts(b, l);
}

static void render_mountinfo(struct textbuf *b, const void *l)
{
	pfs_render_mountinfo(b, l);
}

/*
 * The namespace's mounts in order: its list, or since 6.8 its rbtree (here
 * a chain of right children, which in-order is the same sequence).
 */
static void ns_mounts(struct fake *f, uint64_t ns, const uint64_t *m, size_t n)
{
	uint32_t node;

	if (has_field("mnt_namespace", "list")) {
		list_init(f, ns + off("mnt_namespace", "list"));
		for (size_t i = 0; i < n; i++)
			list_add_tail(f, ns + off("mnt_namespace", "list"),
				      m[i] + off("mount", "mnt_list"));
		return;
	}
	node = off("mount", "mnt_node");
	put64(f, ns + off("mnt_namespace", "mounts"), n ? m[0] + node : 0);
	for (size_t i = 0; i + 1 < n; i++)
		put64(f, m[i] + node + off("rb_node", "rb_right"), m[i + 1] + node);
}

static void test_mounts(void **state)
{
	struct fake *f = *state;
	uint64_t ns = kalloc(f, off("mnt_namespace", NULL)), shm = kalloc(f, 256);
	uint64_t ops = kalloc(f, off("super_operations", NULL));
	uint64_t d_root = dentry(f, "/", 0), d_proc = dentry(f, "proc", d_root),
		 d_run = dentry(f, "run x", d_root);
	uint64_t root, proc, run;
	struct vmt_mount_list *l;
	char *text;

	put64(f, sym("_totalram_pages"), 120324);
	/* shmem_ops is the kernel's: give it a show_options so options are shown */
	put64(f, sym("shmem_ops") + off("super_operations", "show_options"), 0xffffffff81000000);
	put64(f, shm + off("shmem_sb_info", "max_blocks"), 58814);
	put64(f, shm + off("shmem_sb_info", "max_inodes"), 58814);
	put16(f, shm + off("shmem_sb_info", "mode"), 01777);
	put8(f, shm + off("shmem_sb_info", "full_inums"), 1);
	root = mount(f, 1, "rootfs", "rootfs", 2, sym("shmem_ops"), shm, d_root, 0);
	proc = mount(f, 21, "proc", "proc", 19, ops, 0, dentry(f, "/", 0), 0x27);
	run = mount(f, 24, "my dev", "tmpfs", 21, ops, 0, dentry(f, "/", 0), 0x41 | 0x1000);
	put64(f, proc + off("mount", "mnt_parent"), root);
	put64(f, proc + off("mount", "mnt_mountpoint"), d_proc);
	put64(f, run + off("mount", "mnt_parent"), root);
	put64(f, run + off("mount", "mnt_mountpoint"), d_run);
	put32(f, run + off("mount", "mnt_group_id"), 3);
	put64(f, sym("init_nsproxy") + off("nsproxy", "mnt_ns"), ns);
	put64(f, ns + off("mnt_namespace", "root"), root);
	ns_mounts(f, ns, (uint64_t[]){root, proc, run}, 3);
	assert_int_equal(vmt_mounts(&f->g, &l), 0);
	assert_int_equal(l->n, 3);
	text = render(render_mounts, l);
	assert_string_equal(text, "rootfs / rootfs rw,size=235256k,nr_inodes=58814,inode64 0 0\n"
				  "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n"
				  "my\\040dev /run\\040x tmpfs ro,nosuid 0 0\n");
	free(text);
	text = render(render_mountinfo, l);
	assert_string_equal(
	    text, "1 1 0:2 / / rw - rootfs rootfs rw,size=235256k,nr_inodes=58814,inode64\n"
		  "21 1 0:19 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw\n"
		  "24 1 0:21 / /run\\040x ro,nosuid shared:3 - tmpfs my\\040dev rw\n");
	free(text);
	vmt_mount_list_free(l);

	/* a mount point whose dentries loop: that path is lost, the walk ends */
	put64(f, d_proc + off("dentry", "d_parent"), d_run);
	put64(f, d_run + off("dentry", "d_parent"), d_proc);
	vmt_listing_begin(&f->g);
	assert_int_equal(vmt_mounts(&f->g, &l), 0);
	assert_int_equal(l->n, 3);
	assert_true(l->mounts[1].flags & VMT_F_PARTIAL);
	vmt_mount_list_free(l);

	/* the list (or tree) leads from the last mount back to the first: bounded, flagged */
	if (has_field("mnt_namespace", "list"))
		put64(f, run + off("mount", "mnt_list"), root + off("mount", "mnt_list"));
	else
		put64(f, run + off("mount", "mnt_node") + off("rb_node", "rb_right"),
		      root + off("mount", "mnt_node"));
	vmt_listing_begin(&f->g);
	assert_int_equal(vmt_mounts(&f->g, &l), 0);
	assert_true(l->flags & VMT_F_PARTIAL);
	assert_true(l->n >= 3 && l->n <= 8192);
	vmt_mount_list_free(l);
}

/* ----------------------------------------------------------------- net */

static uint64_t netdev(struct fake *f, const char *name, int ifindex, uint64_t stats64_fn)
{
	uint64_t d = kalloc(f, off("net_device", NULL)),
		 ops = kalloc(f, off("net_device_ops", NULL));

	put(f, d + off("net_device", "name"), name, strlen(name) + 1);
	put32(f, d + off("net_device", "ifindex"), (uint32_t)ifindex);
	put64(f, d + off("net_device", "netdev_ops"), ops);
	put64(f, ops + off("net_device_ops", "ndo_get_stats64"), stats64_fn);
	return d;
}

static void render_dev(struct textbuf *b, const void *l)
{
	pfs_render_net_dev(b, l);
}

static void test_netdevs(void **state)
{
	struct fake *f = *state;
	uint64_t head = sym("init_net") + off("net", "dev_base_head");
	uint64_t lo = netdev(f, "lo", 1, sym("loopback_get_stats64")),
		 eth = netdev(f, "eth0", 2, 0);
	uint64_t st = eth + off("net_device", "stats");
	struct vmt_netdev_list *l;
	char *text;

	cpus_setup(f, 2, 0x3);
	put64(f, lo + off("net_device", "lstats"), 0x200); /* __percpu */
	put64(f, pcpu_area[0] + 0x200 + off("pcpu_lstats", "packets"), 4);
	put64(f, pcpu_area[1] + 0x200 + off("pcpu_lstats", "packets"), 2);
	put64(f, pcpu_area[0] + 0x200 + off("pcpu_lstats", "bytes"), 404);
	put64(f, st + 0 * 8, 10);  /* rx_packets */
	put64(f, st + 2 * 8, 999); /* rx_bytes */
	put64(f, st + 6 * 8, 1);   /* rx_dropped */
	put64(f, st + 15 * 8, 2);  /* rx_missed_errors: counted as drop */
	put64(f, st + 13 * 8, 3);  /* rx_frame_errors */
	put64(f, eth + off("net_device", "core_stats"), 0x280);
	put64(f, pcpu_area[1] + 0x280 + off("net_device_core_stats", "rx_dropped"), 4);
	list_init(f, head);
	list_add_tail(f, head, lo + off("net_device", "dev_list"));
	list_add_tail(f, head, eth + off("net_device", "dev_list"));
	assert_int_equal(vmt_netdevs(&f->g, &l), 0);
	assert_int_equal(l->n, 2);
	assert_false(l->devs[0].flags & VMT_F_PARTIAL);
	text = render(render_dev, l);
	assert_non_null(strstr(text,
			       "\n    lo:     404       6    0    0    0     0          0         "
			       "0      404       6    0    0    0     0       0          0\n"));
	assert_non_null(strstr(text,
			       "\n  eth0:     999      10    0    7    0     3          0         "
			       "0        0       0    0    0    0     0       0          0\n"));
	free(text);
	vmt_netdev_list_free(l);
}

static void test_sockstat(void **state)
{
	struct fake *f = *state;
	uint64_t net = sym("init_net"), val = off("prot_inuse", "val");
	struct vmt_sockstat s;
	struct textbuf b, b6;

	cpus_setup(f, 2, 0x3);
	put64(f, net + off("net", "core.prot_inuse"), 0x300);
	put32(f, sym("tcp_prot") + off("proto", "inuse_idx"), 1);
	put32(f, sym("udp_prot") + off("proto", "inuse_idx"), 2);
	put32(f, sym("tcpv6_prot") + off("proto", "inuse_idx"), 3);
	for (uint32_t cpu = 0; cpu < 2; cpu++) {
		put32(f, pcpu_area[cpu] + 0x300, 6);		 /* all */
		put32(f, pcpu_area[cpu] + 0x300 + val + 4, 2);	 /* tcp */
		put32(f, pcpu_area[cpu] + 0x300 + val + 8, cpu); /* udp */
	}
	put32(f, pcpu_area[0] + 0x300 + val + 12, (uint32_t)-1); /* tcp6 below 0 reads 0 */
	put32(f, net + off("net", "ipv4.tcp_death_row.tw_refcount"), 1);
	put64(f, sym("tcp_memory_allocated"), 5);
	assert_int_equal(vmt_sockstat(&f->g, &s), 0);
	tb_init(&b);
	tb_init(&b6);
	pfs_render_sockstat(&b, &b6, &s);
	tb_put(&b, "", 1);
	tb_put(&b6, "", 1);
	assert_string_equal(b.p, "sockets: used 12\nTCP: inuse 4 orphan 0 tw 0 alloc 0 mem 5\n"
				 "UDP: inuse 1 mem 0\nUDPLITE: inuse 0\nRAW: inuse 0\n"
				 "FRAG: inuse 0 memory 0\n");
	assert_non_null(strstr(b6.p, "TCP6: inuse 0\n"));
	tb_free(&b);
	tb_free(&b6);
}

static uint64_t nl_sock(struct fake *f, uint16_t proto, uint32_t portid, uint64_t next_node)
{
	uint64_t sk = kalloc(f, off("netlink_sock", NULL)), skc = sk + off("sock", "__sk_common");

	put64(f, skc + off("sock_common", "skc_net"), sym("init_net"));
	put32(f, skc + off("sock_common", "skc_refcnt"), 2);
	put16(f, sk + off("sock", "sk_protocol"), proto);
	put32(f, sk + off("netlink_sock", "portid"), portid);
	put64(f, sk + off("netlink_sock", "node"), next_node);
	return sk;
}

static void test_netlink(void **state)
{
	struct fake *f = *state;
	uint64_t tables = kalloc(f, 32ull * off("netlink_table", NULL));
	uint64_t tbl = kalloc(f, off("bucket_table", "buckets") + 4 * 8);
	uint64_t n2 = nl_sock(f, 0, 7, 1), n1 = nl_sock(f, 0, 0, n2 + off("netlink_sock", "node"));
	struct vmt_sock_more_list *l;
	size_t n = 0;

	put64(f, sym("nl_table"), tables);
	put64(f, tables + off("netlink_table", "hash") + off("rhashtable", "tbl"), tbl);
	put32(f, tbl + off("bucket_table", "size"), 4);
	/* bucket 2, lock bit set */
	put64(f, tbl + off("bucket_table", "buckets") + 16, (n1 + off("netlink_sock", "node")) | 1);
	assert_int_equal(vmt_sockets_more(&f->g, &l), 0);
	for (size_t i = 0; i < l->n; i++)
		if (l->socks[i].proto == VMT_SOCK_NETLINK)
			n++;
	assert_int_equal(n, 2);
	assert_int_equal(l->socks[l->n - 1].portid, 7);
	assert_int_equal(l->socks[l->n - 1].refcnt, 2);
	vmt_sock_more_list_free(l);

	/* the chain loops back to its first node: caught, entries kept, flagged */
	put64(f, n2 + off("netlink_sock", "node"), n1 + off("netlink_sock", "node"));
	vmt_listing_begin(&f->g);
	assert_int_equal(vmt_sockets_more(&f->g, &l), 0);
	assert_true(l->flags & VMT_F_PARTIAL);
	assert_true(l->n <= 4);
	vmt_sock_more_list_free(l);
}

/* ------------------------------------------------------------- cpuinfo */

static void test_cpuinfo(void **state)
{
	struct fake *f = *state;
	uint64_t ci, caps = off("cpuinfo_x86", "x86_capability");
	struct vmt_cpuinfo_list *l;
	struct textbuf b;

	cpus_setup(f, 1, 0x1);
	ci = pcpu("cpu_info", 0);
	put8(f, ci + off("cpuinfo_x86", "x86"), 15);
	put8(f, ci + off("cpuinfo_x86", "x86_model"), 107);
	put(f, ci + off("cpuinfo_x86", "x86_vendor_id"), "AuthenticAMD", 13);
	put(f, ci + off("cpuinfo_x86", "x86_model_id"), "QEMU Virtual CPU", 17);
	put32(f, ci + caps, (1u << 0) | (1u << 4)); /* fpu tsc */
	put32(f, ci + off("cpuinfo_x86", "cpuid_level"), 13);
	put64(f, ci + off("cpuinfo_x86", "loops_per_jiffy"), 9199960);
	put32(f, sym("cpu_khz"), 2299993);
	put64(f, sym("tick_nsec"), 4000000); /* HZ 250 */
	/* the kernel's own name table: only fpu and tsc have strings here */
	put64(f, sym("x86_cap_flags"), kalloc(f, 8));
	putstr(f, get64(f, sym("x86_cap_flags")), "fpu");
	put64(f, sym("x86_cap_flags") + 4 * 8, kalloc(f, 8));
	putstr(f, get64(f, sym("x86_cap_flags") + 4 * 8), "tsc");
	assert_int_equal(vmt_cpuinfo(&f->g, &l), 0);
	assert_int_equal(l->n, 1);
	assert_string_equal(l->cpus[0].cap_flags, " fpu tsc");
	tb_init(&b);
	pfs_render_cpuinfo(&b, l);
	tb_put(&b, "", 1);
	assert_non_null(strstr(b.p,
			       "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 15\n"
			       "model\t\t: 107\nmodel name\t: QEMU Virtual CPU\nstepping\t: 0\n"
			       "cpu MHz\t\t: 2299.993\n"));
	assert_non_null(strstr(b.p, "flags\t\t: fpu tsc\nbugs\t\t:\nbogomips\t: 4599.98\n"));
	tb_free(&b);
	vmt_cpuinfo_list_free(l);
}

/* ------------------------------------------------------ vmstat, snmp */

static void test_vmstat(void **state)
{
	struct fake *f = *state;
	int64_t nz = enumval("zone_stat_item", "NR_VM_ZONE_STAT_ITEMS");
	int64_t nn = enumval("node_stat_item", "NR_VM_NODE_STAT_ITEMS");
	int64_t thp = enumval("node_stat_item", "NR_ANON_THPS");
	int64_t pgpgin = enumval("vm_event_item", "PGPGIN");
	uint64_t names = sym("vmstat_text"), ev = sym("vm_event_states");
	struct vmt_vmstat *v;
	size_t i_thp = 0, i_pgpgin = 0, i_thresh = 0;

	cpus_setup(f, 2, 0x3);
	/* the kernel's name table, as it is in the image: give every slot a name */
	for (int i = 0; i < 400; i++) {
		uint64_t s = kalloc(f, 16);
		char name[16];

		snprintf(name, sizeof(name), "item%d", i);
		putstr(f, s, name);
		put64(f, names + 8ull * i, s);
	}
	set_node(f, "NR_ANON_THPS", 1024);   /* printed in huge pages: 2 */
	put64(f, sym("vm_zone_stat"), 1000); /* NR_FREE_PAGES */
	put32(f, sym("vm_dirty_ratio"), 20);
	put32(f, sym("dirty_background_ratio"), 10);
	put64(f, pcpu_area[0] + ev + 8ull * (uint64_t)pgpgin, 30); /* sectors */
	put64(f, pcpu_area[1] + ev + 8ull * (uint64_t)pgpgin, 10);
	assert_int_equal(vmt_vmstat(&f->g, &v), 0);
	for (size_t i = 0; i < v->n; i++) {
		if (!strcmp(v->items[i].name, "item0"))
			assert_int_equal(v->items[i].value, 1000);
		i_thp = v->items[i].value == 2 ? i : i_thp;
		i_pgpgin = v->items[i].value == 20 ? i : i_pgpgin;
		i_thresh = v->items[i].value == 200 ? i : i_thresh;
	}
	/* zone items, NUMA events, node items: THP counts in huge pages */
	assert_true(i_thp >= (size_t)(nz + thp) && i_thp <= (size_t)(nz + 16 + thp));
	/* dirty threshold (20% of 1001 pages) right after the node items, then events */
	assert_true(i_thresh > (size_t)(nz + nn) && i_thresh < i_pgpgin);
	/* background: 10%, in the kernel's own integer steps (409 / 4096 per page) */
	assert_int_equal(v->items[i_thresh + 1].value, 99);
	vmt_vmstat_free(v);
}

static void render_snmp0(struct textbuf *b, const void *s)
{
	pfs_render_snmp(b, s, 0);
}

/* One {name, entry} element of a kernel MIB name table. */
static void mib_entry(struct fake *f, const char *table, int i, const char *name, int32_t entry)
{
	uint64_t e = sym(table) + (uint64_t)i * off("snmp_mib", NULL), s = 0;

	if (name) {
		s = kalloc(f, 32);
		putstr(f, s, name);
	}
	put64(f, e + off("snmp_mib", "name"), s);
	put32(f, e + off("snmp_mib", "entry"), (uint32_t)entry);
}

static void test_snmp(void **state)
{
	struct fake *f = *state;
	uint64_t net = sym("init_net"), msg = kalloc(f, 512 * 8);
	int32_t maxconn = (int32_t)enumval(NULL, "TCP_MIB_MAXCONN");
	struct vmt_snmp *s;
	char *text;

	cpus_setup(f, 2, 0x3);
	/* the kernel's name tables (zeros in the fake image: written here) */
	mib_entry(f, "snmp4_ipstats_list", 0, "InReceives", 1);
	mib_entry(f, "snmp4_ipstats_list", 1, NULL, 0);
	mib_entry(f, "icmpmibmap", 0, "DestUnreachs", 3);
	mib_entry(f, "icmpmibmap", 1, NULL, 0);
	mib_entry(f, "snmp4_tcp_list", 0, "MaxConn", maxconn);
	mib_entry(f, "snmp4_tcp_list", 1, NULL, 0);
	put64(f, net + off("net", "mib.ip_statistics"), 0x400);
	put64(f, pcpu_area[0] + 0x400 + 8 * 1, 2);
	put64(f, pcpu_area[1] + 0x400 + 8 * 1, 1);
	put64(f, net + off("net", "mib.tcp_statistics"), 0x600);
	put64(f, pcpu_area[1] + 0x600 + 8 * (uint64_t)maxconn, (uint64_t)-1);
	put64(f, net + off("net", "mib.icmpmsg_statistics"), msg);
	put64(f, msg + 8 * 3, 5);	    /* InType3 */
	put64(f, msg + 8 * (0x100 | 0), 7); /* OutType0 */
	put8(f, net + off("net", "ipv4.sysctl_ip_default_ttl"), 64);
	assert_int_equal(vmt_net_snmp(&f->g, &s), 0);
	text = render(render_snmp0, s);
	assert_string_equal(text,
			    "Ip: Forwarding DefaultTTL InReceives\nIp: 2 64 3\n"
			    "Icmp: InMsgs InErrors InCsumErrors InDestUnreachs OutMsgs OutErrors "
			    "OutRateLimitGlobal OutRateLimitHost OutDestUnreachs\n"
			    "Icmp: 0 0 0 5 0 0 0 0 0\n"
			    "IcmpMsg: InType3 OutType0\nIcmpMsg: 5 7\n"
			    "Tcp: MaxConn\nTcp: -1\nUdp:\nUdp:\nUdpLite:\nUdpLite:\n");
	free(text);
	vmt_snmp_free(s);
}

static void render_interrupts(struct textbuf *b, const void *v)
{
	pfs_render_interrupts(b, v);
}

/* /proc/interrupts: an irq with a chip, domain, flow and two actions; one never used. */
static void test_interrupts(void **state)
{
	struct fake *f = *state;
	uint64_t d0 = kalloc(f, off("irq_desc", NULL)), d5 = kalloc(f, off("irq_desc", NULL)),
		 chip = kalloc(f, off("irq_chip", NULL)), a1 = kalloc(f, off("irqaction", NULL)),
		 a2 = kalloc(f, off("irqaction", NULL)), str = kalloc(f, 256);
	struct vmt_interrupts *v;
	char *text;

	stat_fixture(f); /* 2 CPUs, LOC 10 each, nr_irqs 4 */
	put32(f, sym("nr_irqs"), 8);
	irq_tree(f, 2, (uint32_t[]){0, 5}, (uint64_t[]){d0, d5});
	putstr(f, str, "IO-APIC");
	putstr(f, str + 16, "edge");
	putstr(f, str + 32, "timer");
	putstr(f, str + 48, "other");
	put64(f, chip + off("irq_chip", "name"), str);
	put64(f, d0 + off("irq_desc", "irq_data.chip"), chip);
	put64(f, d0 + off("irq_desc", "irq_data.domain"), str); /* any domain */
	put64(f, d0 + off("irq_desc", "irq_data.hwirq"), 2);
	put64(f, d0 + off("irq_desc", "name"), str + 16);
	put64(f, d0 + off("irq_desc", "action"), a1);
	put64(f, a1 + off("irqaction", "name"), str + 32);
	put64(f, a1 + off("irqaction", "next"), a2);
	put64(f, a2 + off("irqaction", "name"), str + 48);
	put64(f, d0 + off("irq_desc", "kstat_irqs"), 0x700); /* __percpu */
	put32(f, pcpu_area[0] + 0x700, 333);
	put32(f, pcpu_area[1] + 0x700, 4);
	assert_int_equal(vmt_interrupts(&f->g, &v), 0);
	text = render(render_interrupts, v);
	assert_true(
	    !strncmp(text,
		     "           CPU0       CPU1       \n"
		     "  0:        333          4   IO-APIC   2-edge      timer, other\n"
		     "NMI:          0          0   Non-maskable interrupts\n"
		     "LOC:         10         10   Local timer interrupts\n",
		     strlen("           CPU0       CPU1       \n"
			    "  0:        333          4   IO-APIC   2-edge      timer, other\n"
			    "NMI:          0          0   Non-maskable interrupts\n"
			    "LOC:         10         10   Local timer interrupts\n")));
	assert_non_null(strstr(text, "\nERR:          5\n"));
	free(text);
	vmt_interrupts_free(v);
}

int main(void)
{
	const char *k612 = getenv("VMT_TEST_KERNEL_612");
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_stat_two_cpus, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_stat_offline_cpu, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_stat_nohz_idle, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_stat_bad_percpu, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_stat_irqs, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_loadavg, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_meminfo, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_tty_drivers, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_filesystems, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_locks, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_mounts, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_netdevs, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_sockstat, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_netlink, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_cpuinfo, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_vmstat, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_snmp, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_interrupts, fake_setup, fake_teardown),
	};

	int failed;

	/* The second run (meson's test_system_612): the 6.12 cloud guest's layouts. */
	if (k612) {
		if (access(k612, R_OK)) {
			fprintf(stderr, "%s missing (scripts/setup.sh builds it): skipped\n", k612);
			return 77;
		}
		setenv("VMT_TEST_KERNEL", k612, 1);
	}
	if (!profile_load())
		return 77; /* meson: skipped */
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	profile_unload();
	return failed;
}
