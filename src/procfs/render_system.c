// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * render_system.c - the system-wide files of the shadow /proc, in the text
 * of Linux 6.1's fs/proc (stat.c, loadavg.c, meminfo.c, proc_tty.c,
 * cmdline.c, filesystems.c) and kernel/sysctl.c.
 *
 * Each file comes from one library call (vmt_cpu_stat, vmt_meminfo, ...);
 * a call that fails costs its file (logged), never the others.  Only
 * -ENOMEM of the tree fails the fill.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "procfs/render_netif.h"
#include "procfs/render_system.h"

#define NSEC_PER_SEC 1000000000ull

/* Add a file from b; a guest failure (err < 0 but not ENOMEM) only skips the file. */
static int sys_add(struct pfs_tree *tr, struct pfs_node *dir, const char *name,
		   const struct textbuf *b)
{
	int err = pfs_file_tb(tr, dir, name, 0444, b);

	return err == -EEXIST ? 0 : err;
}

static int sys_skip(const char *file, int err)
{
	if (err == -ENOMEM)
		return err;
	pr_warn("shadow /proc: %s left out: %s", file, vmt_last_error());
	return 0;
}

/* ------------------------------------------------------------- stat */

/* nsec_to_clock_t() */
static uint64_t clock_t_of(const struct pfs_ctx *c, uint64_t ns)
{
	unsigned hz = c->user_hz ? c->user_hz : 100;

	return ns / (NSEC_PER_SEC / hz);
}

static void stat_cpu_line(struct textbuf *b, const struct pfs_ctx *c, const char *label,
			  const struct vmt_cpu_times *t)
{
	tb_printf(b, "%s", label);
	for (int i = 0; i < VMT_CPU_NR_TIMES; i++)
		tb_printf(b, " %" PRIu64, clock_t_of(c, t->ns[i]));
	tb_put(b, "\n", 1);
}

/* show_stat() of fs/proc/stat.c. */
void pfs_render_stat(struct textbuf *b, const struct pfs_ctx *c, const struct vmt_cpu_stat *s)
{
	stat_cpu_line(b, c, "cpu ", &s->total);
	for (uint32_t i = 0; i < s->nr_cpus; i++) {
		char label[24];

		snprintf(label, sizeof(label), "cpu%u", s->cpus[i].cpu);
		stat_cpu_line(b, c, label, &s->cpus[i]);
	}
	tb_printf(b, "intr %" PRIu64, s->intr_total);
	for (uint32_t i = 0; i < s->nr_irqs; i++)
		tb_printf(b, " %" PRIu64, s->irqs[i]);
	tb_printf(b,
		  "\nctxt %" PRIu64 "\nbtime %" PRIu64 "\nprocesses %" PRIu64
		  "\nprocs_running %u\nprocs_blocked %u\n",
		  s->ctxt, c->si ? c->si->boot_time_s : 0, s->processes, s->procs_running,
		  s->procs_blocked);
	tb_printf(b, "softirq %" PRIu64, s->softirq_total);
	for (int i = 0; i < VMT_NR_SOFTIRQS; i++)
		tb_printf(b, " %" PRIu64, s->softirqs[i]);
	tb_put(b, "\n", 1);
}

/* show_softirqs() of fs/proc/softirqs.c: every possible CPU. */
void pfs_render_softirqs(struct textbuf *b, const struct vmt_cpu_stat *s)
{
	tb_printf(b, "                    ");
	for (uint32_t i = 0; i < s->nr_possible; i++)
		tb_printf(b, "CPU%-8u", s->possible[i].cpu);
	tb_put(b, "\n", 1);
	for (int k = 0; k < VMT_NR_SOFTIRQS; k++) {
		tb_printf(b, "%12s:", s->softirq_names[k]);
		for (uint32_t i = 0; i < s->nr_possible; i++)
			tb_printf(b, " %10u", s->possible[i].n[k]);
		tb_put(b, "\n", 1);
	}
}

static int fill_stat(struct pfs_tree *tr, const struct pfs_ctx *c, struct pfs_node *root)
{
	struct vmt_cpu_stat *s;
	struct textbuf b;
	int err = vmt_cpu_stat(c->g, &s);

	if (err)
		return sys_skip("stat", err);
	tb_init(&b);
	pfs_render_stat(&b, c, s);
	err = sys_add(tr, root, "stat", &b);
	tb_free(&b);
	if (!err && s->softirq_names[0][0]) {
		tb_init(&b);
		pfs_render_softirqs(&b, s);
		err = sys_add(tr, root, "softirqs", &b);
		tb_free(&b);
	}
	vmt_cpu_stat_free(s);
	return err;
}

/* show_interrupts() and x86's arch_show_interrupts(). */
void pfs_render_interrupts(struct textbuf *b, const struct vmt_interrupts *v)
{
	int prec = 3;

	for (int64_t j = 1000; prec < 10 && j <= v->nr_irqs; ++prec)
		j *= 10;
	tb_printf(b, "%*s", prec + 8, "");
	for (uint32_t i = 0; i < v->nr_cpus; i++)
		tb_printf(b, "CPU%-8u", v->cpus[i]);
	tb_put(b, "\n", 1);
	for (size_t i = 0; i < v->n; i++) {
		const struct vmt_irq_line *l = &v->lines[i];

		if (l->single) {
			tb_printf(b, "%*s: %10" PRIu64 "\n", prec, l->label, l->value);
			continue;
		}
		if (l->irq >= 0)
			tb_printf(b, "%*d: ", prec, l->irq);
		else
			tb_printf(b, "%*s: ", prec, l->label);
		for (uint32_t k = 0; k < v->nr_cpus; k++)
			tb_printf(b, "%10u ", l->counts ? l->counts[k] : 0);
		if (l->irq < 0) {
			tb_printf(b, "  %s\n", l->desc);
			continue;
		}
		tb_printf(b, " %8s", l->chip);
		if (l->has_domain)
			tb_printf(b, " %*" PRIu64, prec, l->hwirq);
		else
			tb_printf(b, " %*s", prec, "");
		if (l->name[0])
			tb_printf(b, "-%-8s", l->name);
		if (l->actions[0])
			tb_printf(b, "  %s", l->actions);
		tb_put(b, "\n", 1);
	}
}

static int fill_interrupts(struct pfs_tree *tr, const struct pfs_ctx *c, struct pfs_node *root)
{
	struct vmt_interrupts *v;
	struct textbuf b;
	int err = vmt_interrupts(c->g, &v);

	if (err)
		return sys_skip("interrupts", err);
	tb_init(&b);
	pfs_render_interrupts(&b, v);
	err = sys_add(tr, root, "interrupts", &b);
	tb_free(&b);
	vmt_interrupts_free(v);
	return err;
}

/* ---------------------------------------------------------- loadavg */

#define FSHIFT	     11
#define FIXED_1	     ((uint64_t)1 << FSHIFT)
#define LOAD_INT(x)  ((x) >> FSHIFT)
#define LOAD_FRAC(x) LOAD_INT(((x) & (FIXED_1 - 1)) * (uint64_t)100)

/* loadavg_proc_show(): get_avenrun(avnrun, FIXED_1/200, 0) rounds. */
void pfs_render_loadavg(struct textbuf *b, const struct vmt_loadavg *l)
{
	uint64_t a[3];

	for (int i = 0; i < 3; i++)
		a[i] = l->avenrun[i] + FIXED_1 / 200;
	tb_printf(b,
		  "%" PRIu64 ".%02" PRIu64 " %" PRIu64 ".%02" PRIu64 " %" PRIu64 ".%02" PRIu64
		  " %u/%d %d\n",
		  LOAD_INT(a[0]), LOAD_FRAC(a[0]), LOAD_INT(a[1]), LOAD_FRAC(a[1]), LOAD_INT(a[2]),
		  LOAD_FRAC(a[2]), l->nr_running, (int)l->nr_threads, l->last_pid);
}

static int fill_loadavg(struct pfs_tree *tr, const struct pfs_ctx *c, struct pfs_node *root)
{
	struct vmt_loadavg l;
	struct textbuf b;
	int err = vmt_loadavg(c->g, &l);

	if (err)
		return sys_skip("loadavg", err);
	tb_init(&b);
	pfs_render_loadavg(&b, &l);
	err = sys_add(tr, root, "loadavg", &b);
	tb_free(&b);
	return err;
}

/* ---------------------------------------------------------- meminfo */

/* show_val_kb(): the label is padded by the kernel's own string. */
static void kb(struct textbuf *b, const char *label, uint64_t v)
{
	tb_printf(b, "%-16s%8" PRIu64 " kB\n", label, v);
}

static void meminfo_huge(struct textbuf *b, const struct vmt_meminfo *m)
{
	if (m->have & VMT_MEMINFO_THP) {
		kb(b, "AnonHugePages:", m->anon_huge);
		kb(b, "ShmemHugePages:", m->shmem_huge);
		kb(b, "ShmemPmdMapped:", m->shmem_pmd_mapped);
		kb(b, "FileHugePages:", m->file_huge);
		kb(b, "FilePmdMapped:", m->file_pmd_mapped);
	}
	if (m->have & VMT_MEMINFO_CMA) {
		kb(b, "CmaTotal:", m->cma_total);
		kb(b, "CmaFree:", m->cma_free);
	}
	if (m->have & VMT_MEMINFO_UNACCEPTED)
		kb(b, "Unaccepted:", m->unaccepted);
	if (m->have & VMT_MEMINFO_HUGETLB)
		tb_printf(b,
			  "HugePages_Total:   %5" PRIu64 "\nHugePages_Free:    %5" PRIu64
			  "\nHugePages_Rsvd:    %5" PRIu64 "\nHugePages_Surp:    %5" PRIu64
			  "\nHugepagesize:   %8" PRIu64 " kB\n",
			  m->huge_total, m->huge_free, m->huge_rsvd, m->huge_surp, m->huge_size);
	if (m->have & VMT_MEMINFO_HUGETLB_KB)
		kb(b, "Hugetlb:", m->hugetlb);
	if (m->have & VMT_MEMINFO_DIRECTMAP) {
		kb(b, "DirectMap4k:", m->direct_map_4k);
		kb(b, "DirectMap2M:", m->direct_map_2m);
		if (m->have & VMT_MEMINFO_DIRECTMAP_1G)
			kb(b, "DirectMap1G:", m->direct_map_1g);
	}
}

/* meminfo_proc_show() of fs/proc/meminfo.c. */
void pfs_render_meminfo(struct textbuf *b, const struct vmt_meminfo *m)
{
	kb(b, "MemTotal:", m->mem_total);
	kb(b, "MemFree:", m->mem_free);
	kb(b, "MemAvailable:", m->mem_available);
	kb(b, "Buffers:", m->buffers);
	kb(b, "Cached:", m->cached);
	kb(b, "SwapCached:", m->swap_cached);
	kb(b, "Active:", m->active_anon + m->active_file);
	kb(b, "Inactive:", m->inactive_anon + m->inactive_file);
	kb(b, "Active(anon):", m->active_anon);
	kb(b, "Inactive(anon):", m->inactive_anon);
	kb(b, "Active(file):", m->active_file);
	kb(b, "Inactive(file):", m->inactive_file);
	kb(b, "Unevictable:", m->unevictable);
	kb(b, "Mlocked:", m->mlocked);
	kb(b, "SwapTotal:", m->swap_total);
	kb(b, "SwapFree:", m->swap_free);
	if (m->have & VMT_MEMINFO_ZSWAP) {
		kb(b, "Zswap:", m->zswap);
		kb(b, "Zswapped:", m->zswapped);
	}
	kb(b, "Dirty:", m->dirty);
	kb(b, "Writeback:", m->writeback);
	kb(b, "AnonPages:", m->anon_pages);
	kb(b, "Mapped:", m->mapped);
	kb(b, "Shmem:", m->shmem);
	kb(b, "KReclaimable:", m->kreclaimable);
	kb(b, "Slab:", m->sreclaimable + m->sunreclaim);
	kb(b, "SReclaimable:", m->sreclaimable);
	kb(b, "SUnreclaim:", m->sunreclaim);
	kb(b, "KernelStack:", m->kernel_stack);
	kb(b, "PageTables:", m->page_tables);
	if (m->have & VMT_MEMINFO_SEC_PAGETABLES)
		kb(b, "SecPageTables:", m->sec_page_tables);
	kb(b, "NFS_Unstable:", 0);
	kb(b, "Bounce:", m->bounce);
	kb(b, "WritebackTmp:", m->writeback_tmp);
	kb(b, "CommitLimit:", m->commit_limit);
	kb(b, "Committed_AS:", m->committed_as);
	kb(b, "VmallocTotal:", m->vmalloc_total);
	kb(b, "VmallocUsed:", m->vmalloc_used);
	kb(b, "VmallocChunk:", 0);
	kb(b, "Percpu:", m->percpu);
	if (m->have & VMT_MEMINFO_HWCORRUPTED) /* the one label wider than the column */
		tb_printf(b, "HardwareCorrupted: %5" PRIu64 " kB\n", m->hardware_corrupted);
	meminfo_huge(b, m);
}

static int fill_meminfo(struct pfs_tree *tr, const struct pfs_ctx *c, struct pfs_node *root)
{
	struct vmt_meminfo m;
	struct textbuf b;
	int err = vmt_meminfo(c->g, &m);

	if (err)
		return sys_skip("meminfo", err);
	tb_init(&b);
	pfs_render_meminfo(&b, &m);
	err = sys_add(tr, root, "meminfo", &b);
	tb_free(&b);
	return err;
}

/* vmstat_show() of mm/vmstat.c, with the deprecated line it ends with. */
void pfs_render_vmstat(struct textbuf *b, const struct vmt_vmstat *v)
{
	for (size_t i = 0; i < v->n; i++)
		tb_printf(b, "%s %" PRIu64 "\n", v->items[i].name, v->items[i].value);
	tb_printf(b, "nr_unstable 0\n");
}

static int fill_vmstat(struct pfs_tree *tr, const struct pfs_ctx *c, struct pfs_node *root)
{
	struct vmt_vmstat *v;
	struct textbuf b;
	int err = vmt_vmstat(c->g, &v);

	if (err)
		return sys_skip("vmstat", err);
	tb_init(&b);
	pfs_render_vmstat(&b, v);
	err = sys_add(tr, root, "vmstat", &b);
	tb_free(&b);
	vmt_vmstat_free(v);
	return err;
}

/* ------------------------------------------------------- sys/kernel */

static int sys_text(struct pfs_tree *tr, struct pfs_node *dir, const char *name, const char *s)
{
	struct textbuf b;
	int err;

	tb_init(&b);
	tb_printf(&b, "%s\n", s);
	err = sys_add(tr, dir, name, &b);
	tb_free(&b);
	return err;
}

static int sys_int(struct pfs_tree *tr, struct pfs_node *dir, const char *name, int32_t v)
{
	char s[16];

	if (v < 0 && strcmp(name, "panic"))
		return 0; /* -1: not readable (panic may be negative) */
	snprintf(s, sizeof(s), "%d", v);
	return sys_text(tr, dir, name, s);
}

static int fill_sys_kernel(struct pfs_tree *tr, const struct pfs_ctx *c, struct pfs_node *root)
{
	struct vmt_kernel_tunables t;
	struct pfs_node *sys, *k;
	int err = 0;

	sys = pfs_dir(tr, root, "sys", 0555, 0, 0);
	k = sys ? pfs_dir(tr, sys, "kernel", 0555, 0, 0) : NULL;
	if (!k)
		return -ENOMEM;
	if (c->si) {
		err = sys_text(tr, k, "ostype", c->si->sysname);
		if (!err)
			err = sys_text(tr, k, "osrelease", c->si->release);
		if (!err)
			err = sys_text(tr, k, "version", c->si->version);
		if (!err)
			err = sys_text(tr, k, "hostname", c->si->nodename);
		if (err)
			return err;
	}
	if (vmt_kernel_tunables(c->g, &t))
		return sys_skip("sys/kernel tunables", -EFAULT);
	if (!(t.flags & VMT_F_PARTIAL) || t.domainname[0])
		err = sys_text(tr, k, "domainname", t.domainname);
	if (!err)
		err = sys_int(tr, k, "pid_max", t.pid_max);
	if (!err)
		err = sys_int(tr, k, "threads-max", t.threads_max);
	if (!err)
		err = sys_int(tr, k, "ngroups_max", t.ngroups_max);
	if (!err)
		err = sys_int(tr, k, "cap_last_cap", t.cap_last_cap);
	if (!err)
		err = sys_int(tr, k, "randomize_va_space", t.randomize_va_space);
	if (!err)
		err = sys_int(tr, k, "kptr_restrict", t.kptr_restrict);
	if (!err)
		err = sys_int(tr, k, "dmesg_restrict", t.dmesg_restrict);
	if (!err)
		err = sys_int(tr, k, "panic", t.panic);
	return err;
}

/* ------------------------------------------------------- tty/drivers */

static const char *tty_kind(const struct vmt_tty_driver *d, char *buf, size_t len)
{
	/* TTY_DRIVER_TYPE_{SYSTEM,CONSOLE,SERIAL,PTY} = 1..4 */
	switch (d->type) {
	case 1:
		return d->subtype == 1	 ? "system:/dev/tty"
		       : d->subtype == 2 ? "system:console"
		       : d->subtype == 3 ? "system:vtmaster"
					 : "system";
	case 2:
		return "console";
	case 3:
		return "serial";
	case 4:
		return d->subtype == 1 ? "pty:master" : d->subtype == 2 ? "pty:slave" : "pty";
	}
	snprintf(buf, len, "type:%d.%d", d->type, d->subtype);
	return buf;
}

static void tty_range(struct textbuf *b, const struct vmt_tty_driver *d, uint32_t from,
		      uint32_t num)
{
	char kind[32];

	tb_printf(b, "%-20s /dev/%-8s ", d->driver_name[0] ? d->driver_name : "unknown", d->name);
	if (d->num > 1)
		tb_printf(b, "%3u %u-%u ", from >> 20, from & 0xfffff, (from & 0xfffff) + num - 1);
	else
		tb_printf(b, "%3u %7u ", from >> 20, from & 0xfffff);
	tb_printf(b, "%s\n", tty_kind(d, kind, sizeof(kind)));
}

/* show_tty_driver() of fs/proc/proc_tty.c: the pseudo-drivers, then each range per major. */
void pfs_render_tty_drivers(struct textbuf *b, const struct vmt_tty_driver_list *l)
{
	if (l->n) {
		tb_printf(b, "%-20s /dev/%-8s %3d %7d system:/dev/tty\n", "/dev/tty", "tty", 5, 0);
		tb_printf(b, "%-20s /dev/%-8s %3d %7d system:console\n", "/dev/console", "console",
			  5, 1);
		if (l->unix98_ptys)
			tb_printf(b, "%-20s /dev/%-8s %3d %7d system\n", "/dev/ptmx", "ptmx", 5, 2);
		if (l->vt)
			tb_printf(b, "%-20s /dev/%-8s %3d %7d system:vtmaster\n", "/dev/vc/0",
				  "vc/0", 4, 0);
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct vmt_tty_driver *d = &l->drivers[i];
		uint64_t from = ((uint64_t)d->major << 20) | d->minor_start, to = from + d->num;

		while ((from >> 20) < (to >> 20)) {
			uint64_t next = ((from >> 20) + 1) << 20;

			tty_range(b, d, (uint32_t)from, (uint32_t)(next - from));
			from = next;
		}
		if (from != to)
			tty_range(b, d, (uint32_t)from, (uint32_t)(to - from));
	}
}

static int fill_tty(struct pfs_tree *tr, const struct pfs_ctx *c, struct pfs_node *root)
{
	struct vmt_tty_driver_list *l;
	struct pfs_node *dir;
	struct textbuf b;
	int err = vmt_tty_drivers(c->g, &l);

	if (err)
		return sys_skip("tty/drivers", err);
	dir = pfs_dir(tr, root, "tty", 0555, 0, 0);
	if (!dir) {
		vmt_tty_driver_list_free(l);
		return -ENOMEM;
	}
	tb_init(&b);
	pfs_render_tty_drivers(&b, l);
	err = sys_add(tr, dir, "drivers", &b);
	tb_free(&b);
	vmt_tty_driver_list_free(l);
	return err;
}

/* ------------------------------------------------ cmdline, filesystems */

static int fill_cmdline(struct pfs_tree *tr, const struct pfs_ctx *c, struct pfs_node *root)
{
	char *s;
	int err = vmt_kernel_cmdline(c->g, &s);

	if (err)
		return sys_skip("cmdline", err);
	err = sys_text(tr, root, "cmdline", s);
	free(s);
	return err;
}

/* filesystems_proc_show() of fs/filesystems.c. */
void pfs_render_filesystems(struct textbuf *b, const struct vmt_fs_type_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		tb_printf(b, "%s\t%s\n", (l->types[i].fs_flags & 1) ? "" : "nodev",
			  l->types[i].name);
}

static int fill_filesystems(struct pfs_tree *tr, const struct pfs_ctx *c, struct pfs_node *root)
{
	struct vmt_fs_type_list *l;
	struct textbuf b;
	int err = vmt_filesystems(c->g, &l);

	if (err)
		return sys_skip("filesystems", err);
	tb_init(&b);
	pfs_render_filesystems(&b, l);
	err = sys_add(tr, root, "filesystems", &b);
	tb_free(&b);
	vmt_fs_type_list_free(l);
	return err;
}

/* -------------------------------------------------------------- net */

static uint32_t be_word(const uint8_t *a)
{
	uint32_t v;

	memcpy(&v, a, 4); /* printed as the u32 the kernel holds (%08X of a __be32) */
	return v;
}

/* raw_sock_seq_show() and ip6_dgram_sock_seq_show() (%pK as the plain address). */
static void raw_line(struct textbuf *b, const struct vmt_sock_more *m)
{
	if (m->proto == VMT_SOCK_RAW)
		tb_printf(b, "%4u: %08X:%04X %08X:%04X", m->bucket, be_word(m->laddr), m->protocol,
			  be_word(m->raddr), 0);
	else
		tb_printf(b, "%5u: %08X%08X%08X%08X:%04X %08X%08X%08X%08X:%04X", m->bucket,
			  be_word(m->laddr), be_word(m->laddr + 4), be_word(m->laddr + 8),
			  be_word(m->laddr + 12), m->protocol, be_word(m->raddr),
			  be_word(m->raddr + 4), be_word(m->raddr + 8), be_word(m->raddr + 12), 0);
	tb_printf(b, " %02X %08X:%08X %02X:%08lX %08X %5u %8d %" PRIu64 " %d %016" PRIx64 " %u\n",
		  m->state, m->wmem, m->rmem, 0, 0ul, 0, m->uid, 0, m->inode, (int)m->refcnt,
		  m->kva, m->drops);
}

void pfs_render_net_more(struct textbuf *b, const struct vmt_sock_more_list *l, int proto)
{
	switch (proto) {
	case VMT_SOCK_RAW:
		tb_printf(b, "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
			     "retrnsmt   uid  timeout inode ref pointer drops\n");
		break;
	case VMT_SOCK_RAW6:
		tb_printf(b, "  sl  local_address                         "
			     "remote_address                        st tx_queue rx_queue tr "
			     "tm->when retrnsmt   uid  timeout inode ref pointer drops\n");
		break;
	case VMT_SOCK_PACKET:
		tb_printf(b, "%-17sRefCnt Type Proto  Iface R Rmem   User   Inode\n", "sk");
		break;
	case VMT_SOCK_NETLINK:
		tb_printf(b,
			  "sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks "
			  "   Drops    Inode\n");
		break;
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct vmt_sock_more *m = &l->socks[i];

		if (m->proto != proto || (l->init_netns_ino && m->netns_ino != l->init_netns_ino))
			continue;
		if (proto == VMT_SOCK_RAW || proto == VMT_SOCK_RAW6)
			raw_line(b, m);
		else if (proto == VMT_SOCK_PACKET)
			tb_printf(
			    b, "%016" PRIx64 " %-6d %-4d %04x   %-5d %1d %-6u %-6u %-6" PRIu64 "\n",
			    m->kva, (int)m->refcnt, m->type, m->protocol, m->ifindex, m->running,
			    m->rmem, m->uid, m->inode);
		else
			tb_printf(b,
				  "%016" PRIx64
				  " %-3d %-10u %08x %-8d %-8d %-5d %-8d %-8u %-8" PRIu64 "\n",
				  m->kva, (int)m->protocol, m->portid, m->groups, (int)m->rmem,
				  (int)m->wmem, m->cb_running, (int)m->refcnt, m->drops, m->inode);
	}
}

/* sockstat_seq_show() and sockstat6_seq_show(). */
void pfs_render_sockstat(struct textbuf *b, struct textbuf *b6, const struct vmt_sockstat *s)
{
	tb_printf(b, "sockets: used %d\n", s->sockets_used);
	tb_printf(b, "TCP: inuse %d orphan %d tw %d alloc %d mem %" PRId64 "\n", s->tcp_inuse,
		  s->tcp_orphan, s->tcp_tw, s->tcp_alloc, s->tcp_mem);
	tb_printf(b, "UDP: inuse %d mem %" PRId64 "\n", s->udp_inuse, s->udp_mem);
	tb_printf(b, "UDPLITE: inuse %d\n", s->udplite_inuse);
	tb_printf(b, "RAW: inuse %d\n", s->raw_inuse);
	tb_printf(b, "FRAG: inuse %u memory %" PRIu64 "\n", s->frag_inuse, s->frag_mem);
	tb_printf(b6, "TCP6: inuse %d\n", s->tcp6_inuse);
	tb_printf(b6, "UDP6: inuse %d\n", s->udp6_inuse);
	tb_printf(b6, "UDPLITE6: inuse %d\n", s->udplite6_inuse);
	tb_printf(b6, "RAW6: inuse %d\n", s->raw6_inuse);
	tb_printf(b6, "FRAG6: inuse %u memory %" PRIu64 "\n", s->frag6_inuse, s->frag6_mem);
}

/* dev_seq_show() of net/core/net-procfs.c. */
void pfs_render_net_dev(struct textbuf *b, const struct vmt_netdev_list *l)
{
	tb_printf(b,
		  "Inter-|   Receive                                                |  Transmit\n"
		  " face |bytes    packets errs drop fifo frame compressed multicast|bytes    "
		  "packets errs drop fifo colls carrier compressed\n");
	for (size_t i = 0; i < l->n; i++) {
		const struct vmt_netdev *d = &l->devs[i];

		tb_printf(b,
			  "%6s: %7" PRIu64 " %7" PRIu64 " %4" PRIu64 " %4" PRIu64 " %4" PRIu64
			  " %5" PRIu64 " %10" PRIu64 " %9" PRIu64 " %8" PRIu64 " %7" PRIu64
			  " %4" PRIu64 " %4" PRIu64 " %4" PRIu64 " %5" PRIu64 " %7" PRIu64
			  " %10" PRIu64 "\n",
			  d->name, d->rx_bytes, d->rx_packets, d->rx_errors, d->rx_dropped,
			  d->rx_fifo, d->rx_frame, d->rx_compressed, d->multicast, d->tx_bytes,
			  d->tx_packets, d->tx_errors, d->tx_dropped, d->tx_fifo, d->collisions,
			  d->tx_carrier, d->tx_compressed);
	}
}

static int net_more_files(struct pfs_tree *tr, const struct pfs_ctx *c, struct pfs_node *net)
{
	static const struct {
		const char *name;
		int proto;
	} files[] = {{"raw", VMT_SOCK_RAW},
		     {"raw6", VMT_SOCK_RAW6},
		     {"packet", VMT_SOCK_PACKET},
		     {"netlink", VMT_SOCK_NETLINK}};
	struct vmt_sock_more_list *l;
	int err = vmt_sockets_more(c->g, &l);

	if (err)
		return sys_skip("net/{raw,raw6,packet,netlink}", err);
	for (size_t i = 0; !err && i < ARRAY_SIZE(files); i++) {
		struct textbuf b;

		tb_init(&b);
		pfs_render_net_more(&b, l, files[i].proto);
		err = sys_add(tr, net, files[i].name, &b);
		tb_free(&b);
	}
	vmt_sock_more_list_free(l);
	return err;
}

/* snmp_seq_show() and netstat_seq_show(): a names line and a values line per group. */
void pfs_render_snmp(struct textbuf *b, const struct vmt_snmp *s, int file)
{
	for (size_t i = 0; i < s->ngroups; i++) {
		const struct vmt_snmp_group *grp = &s->groups[i];

		if (grp->file != file)
			continue;
		tb_printf(b, "%s:", grp->prefix);
		for (size_t k = 0; k < grp->n; k++)
			tb_printf(b, " %s", grp->rows[k].name);
		tb_printf(b, "\n%s:", grp->prefix);
		for (size_t k = 0; k < grp->n; k++)
			if (grp->rows[k].is_signed)
				tb_printf(b, " %" PRId64, (int64_t)grp->rows[k].value);
			else
				tb_printf(b, " %" PRIu64, grp->rows[k].value);
		tb_put(b, "\n", 1);
	}
}

static int net_snmp_files(struct pfs_tree *tr, const struct pfs_ctx *c, struct pfs_node *net)
{
	struct vmt_snmp *s;
	struct textbuf b;
	int err = vmt_net_snmp(c->g, &s);

	if (err)
		return sys_skip("net/snmp", err);
	for (int file = 0; !err && file < 2; file++) {
		tb_init(&b);
		pfs_render_snmp(&b, s, file);
		err = sys_add(tr, net, file ? "netstat" : "snmp", &b);
		tb_free(&b);
	}
	vmt_snmp_free(s);
	return err;
}

/* net/dev and if_inet6: the snapshot's devices (the ioctls' too), else a list of their own. */
static int net_dev_files(struct pfs_tree *tr, const struct pfs_ctx *c, struct pfs_node *net)
{
	const struct vmt_netdev_list *devs = c->netdevs;
	struct vmt_netdev_list *own = NULL;
	struct textbuf b;
	int err;

	if (!devs) {
		err = vmt_netdevs(c->g, &own);
		if (err)
			return sys_skip("net/dev", err);
		devs = own;
	}
	tb_init(&b);
	pfs_render_net_dev(&b, devs);
	err = sys_add(tr, net, "dev", &b);
	tb_free(&b);
	if (!err)
		err = pfs_netif_files(tr, net, devs);
	vmt_netdev_list_free(own);
	return err;
}

static int fill_net(struct pfs_tree *tr, const struct pfs_ctx *c, struct pfs_node *root)
{
	struct pfs_node *net = pfs_dir(tr, root, "net", 0555, 0, 0);
	struct vmt_sockstat st;
	struct textbuf b, b6;
	int err;

	if (!net)
		return -ENOMEM;
	err = net_more_files(tr, c, net);
	if (!err)
		err = net_snmp_files(tr, c, net);
	if (err)
		return err;
	if (vmt_sockstat(c->g, &st)) {
		err = sys_skip("net/sockstat", -EFAULT);
	} else {
		tb_init(&b);
		tb_init(&b6);
		pfs_render_sockstat(&b, &b6, &st);
		err = sys_add(tr, net, "sockstat", &b);
		if (!err && st.have_v6)
			err = sys_add(tr, net, "sockstat6", &b6);
		tb_free(&b);
		tb_free(&b6);
	}
	return err ? err : net_dev_files(tr, c, net);
}

/* ----------------------------------------------------------- mounts */

/* mangle() / seq_escape(): ' ', '\t', '\n' and '\\' as \ooo. */
static void mangle(struct textbuf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\\')
			tb_printf(b, "\\%03o", (unsigned char)*s);
		else
			tb_put(b, s, 1);
	}
}

/* show_sb_opts() of fs/proc_namespace.c. */
static void sb_opts(struct textbuf *b, uint32_t f)
{
	if (f & 16)
		tb_printf(b, ",sync");
	if (f & 128)
		tb_printf(b, ",dirsync");
	if (f & 64)
		tb_printf(b, ",mand");
	if (f & (1u << 25))
		tb_printf(b, ",lazytime");
}

/* show_mnt_opts(). */
static void mnt_opts(struct textbuf *b, uint32_t f)
{
	static const struct {
		uint32_t flag;
		const char *s;
	} opts[] = {{0x01, ",nosuid"},	   {0x02, ",nodev"},	  {0x04, ",noexec"},
		    {0x08, ",noatime"},	   {0x10, ",nodiratime"}, {0x20, ",relatime"},
		    {0x80, ",nosymfollow"}};

	for (size_t i = 0; i < ARRAY_SIZE(opts); i++)
		if (f & opts[i].flag)
			tb_printf(b, "%s", opts[i].s);
}

/* show_vfsmnt(): /proc/mounts. */
void pfs_render_mounts(struct textbuf *b, const struct vmt_mount_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct vmt_mount *m = &l->mounts[i];

		mangle(b, m->devname);
		tb_put(b, " ", 1);
		mangle(b, m->path);
		tb_put(b, " ", 1);
		mangle(b, m->fstype);
		tb_printf(b, "%s", (m->mnt_flags & 0x40) || (m->sb_flags & 1) ? " ro" : " rw");
		sb_opts(b, m->sb_flags);
		mnt_opts(b, m->mnt_flags);
		tb_printf(b, "%s 0 0\n", m->fs_opts);
	}
}

/* show_mountinfo(): /proc/PID/mountinfo of a task in the initial mount namespace. */
void pfs_render_mountinfo(struct textbuf *b, const struct vmt_mount_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct vmt_mount *m = &l->mounts[i];

		tb_printf(b, "%d %d %u:%u ", m->mnt_id, m->parent_id, m->dev >> 20,
			  m->dev & 0xfffff);
		mangle(b, m->root);
		tb_put(b, " ", 1);
		mangle(b, m->path);
		tb_printf(b, "%s", m->mnt_flags & 0x40 ? " ro" : " rw");
		mnt_opts(b, m->mnt_flags);
		if (m->mnt_flags & 0x1000) /* MNT_SHARED */
			tb_printf(b, " shared:%d", m->group_id);
		if (m->master_id)
			tb_printf(b, " master:%d", m->master_id);
		if (m->mnt_flags & 0x2000) /* MNT_UNBINDABLE */
			tb_printf(b, " unbindable");
		tb_printf(b, " - ");
		mangle(b, m->fstype);
		tb_put(b, " ", 1);
		mangle(b, m->devname);
		tb_printf(b, "%s", m->sb_flags & 1 ? " ro" : " rw");
		sb_opts(b, m->sb_flags);
		tb_printf(b, "%s\n", m->fs_opts);
	}
}

static int fill_mounts(struct pfs_tree *tr, const struct pfs_ctx *c, struct pfs_node *root)
{
	struct vmt_mount_list *l;
	struct textbuf b;
	int err = vmt_mounts(c->g, &l);

	if (err)
		return sys_skip("mounts", err);
	tb_init(&b);
	pfs_render_mounts(&b, l);
	err = sys_add(tr, root, "mounts", &b);
	tb_free(&b);
	vmt_mount_list_free(l);
	return err;
}

/* ---------------------------------------------------------- cpuinfo */

/* show_cpuinfo() of arch/x86/kernel/cpu/proc.c. */
void pfs_render_cpuinfo(struct textbuf *b, const struct vmt_cpuinfo_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct vmt_cpuinfo *c = &l->cpus[i];
		uint64_t hz = c->hz ? c->hz : 250;

		tb_printf(b,
			  "processor\t: %u\nvendor_id\t: %s\ncpu family\t: %u\nmodel\t\t: %u\n"
			  "model name\t: %s\n",
			  c->cpu, c->vendor_id[0] ? c->vendor_id : "unknown", c->family, c->model,
			  c->model_name[0] ? c->model_name : "unknown");
		if (c->stepping || c->cpuid_level >= 0)
			tb_printf(b, "stepping\t: %u\n", c->stepping);
		else
			tb_printf(b, "stepping\t: unknown\n");
		if (c->microcode)
			tb_printf(b, "microcode\t: 0x%x\n", c->microcode);
		if (c->has_tsc)
			tb_printf(b, "cpu MHz\t\t: %u.%03u\n", c->khz / 1000, c->khz % 1000);
		if (c->cache_size_kb)
			tb_printf(b, "cache size\t: %u KB\n", c->cache_size_kb);
		tb_printf(b,
			  "physical id\t: %u\nsiblings\t: %u\ncore id\t\t: %u\ncpu cores\t: %u\n"
			  "apicid\t\t: %u\ninitial apicid\t: %u\n",
			  c->phys_id, c->siblings, c->core_id, c->cores, c->apicid,
			  c->initial_apicid);
		tb_printf(b,
			  "fpu\t\t: yes\nfpu_exception\t: yes\ncpuid level\t: %d\nwp\t\t: yes\n"
			  "flags\t\t:%s",
			  c->cpuid_level, c->cap_flags);
		if (c->has_vmx_flags)
			tb_printf(b, "\nvmx flags\t:%s", c->vmx_flags);
		tb_printf(b, "\nbugs\t\t:%s\nbogomips\t: %" PRIu64 ".%02" PRIu64 "\n", c->bugs,
			  c->loops_per_jiffy / (500000 / hz),
			  (c->loops_per_jiffy / (5000 / hz)) % 100);
		if (c->tlb_size > 0)
			tb_printf(b, "TLB size\t: %d 4K pages\n", c->tlb_size);
		tb_printf(b,
			  "clflush size\t: %u\ncache_alignment\t: %d\n"
			  "address sizes\t: %u bits physical, %u bits virtual\n"
			  "power management:%s\n\n",
			  c->clflush_size, c->cache_alignment, c->phys_bits, c->virt_bits,
			  c->power);
	}
}

static int fill_cpuinfo(struct pfs_tree *tr, const struct pfs_ctx *c, struct pfs_node *root)
{
	struct vmt_cpuinfo_list *l;
	struct textbuf b;
	int err = vmt_cpuinfo(c->g, &l);

	if (err)
		return sys_skip("cpuinfo", err);
	tb_init(&b);
	pfs_render_cpuinfo(&b, l);
	err = sys_add(tr, root, "cpuinfo", &b);
	tb_free(&b);
	vmt_cpuinfo_list_free(l);
	return err;
}

/* ------------------------------------------------------------ locks */

#define FL_POSIX	     1
#define FL_FLOCK	     2
#define FL_DELEG	     4
#define FL_ACCESS	     8
#define FL_LEASE	     32
#define FL_DOWNGRADE_PENDING 256
#define FL_UNLOCK_PENDING    512
#define FL_OFDLCK	     1024
#define FL_LAYOUT	     2048

static void lock_kind(struct textbuf *b, const struct vmt_file_lock *k)
{
	uint32_t f = k->fl_flags;

	if (f & (FL_POSIX | FL_OFDLCK)) {
		tb_printf(b, "%s", f & FL_ACCESS ? "ACCESS" : f & FL_OFDLCK ? "OFDLCK" : "POSIX ");
		tb_printf(b, " %s ", k->has_inode ? "ADVISORY " : "*NOINODE*");
	} else if (f & FL_FLOCK) {
		tb_printf(b, "FLOCK  ADVISORY  ");
	} else if (f & (FL_LEASE | FL_DELEG | FL_LAYOUT)) {
		tb_printf(b, "%s", f & FL_DELEG ? "DELEG  " : "LEASE  ");
		if (f & (FL_UNLOCK_PENDING | FL_DOWNGRADE_PENDING))
			tb_printf(b, "BREAKING  ");
		else
			tb_printf(b, "%s", k->has_inode ? "ACTIVE    " : "BREAKER   ");
	} else {
		tb_printf(b, "UNKNOWN UNKNOWN  ");
	}
}

/* locks_show() and lock_get_status() of fs/locks.c. */
void pfs_render_locks(struct textbuf *b, const struct vmt_file_lock_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct vmt_file_lock *k = &l->locks[i];
		uint32_t f = k->fl_flags;
		int type = k->fl_type, pid = k->pid;

		if (f & FL_OFDLCK)
			pid = -1; /* locks_translate_pid() */
		if (!k->level && !pid)
			continue; /* the owner is gone: locks_show() skips it */
		tb_printf(b, "%u: ", k->id);
		if (k->level)
			tb_printf(b, "%*s", (int)k->level - 1 + 3, "-> ");
		lock_kind(b, k);
		if (f & (FL_LEASE | FL_DELEG | FL_LAYOUT)) /* target_leasetype() */
			type = f & FL_UNLOCK_PENDING ? 2 : f & FL_DOWNGRADE_PENDING ? 0 : type;
		tb_printf(b, "%s ", type == 1 ? "WRITE" : type == 0 ? "READ" : "UNLCK");
		if (k->has_inode)
			tb_printf(b, "%d %02x:%02x:%" PRIu64 " ", pid, k->dev >> 20,
				  k->dev & 0xfffff, k->ino);
		else
			tb_printf(b, "%d <none>:0 ", pid);
		if (!(f & (FL_POSIX | FL_OFDLCK)))
			tb_printf(b, "0 EOF\n");
		else if (k->end == INT64_MAX)
			tb_printf(b, "%" PRId64 " EOF\n", k->start);
		else
			tb_printf(b, "%" PRId64 " %" PRId64 "\n", k->start, k->end);
	}
}

static int fill_locks(struct pfs_tree *tr, const struct pfs_ctx *c, struct pfs_node *root)
{
	struct vmt_file_lock_list *l;
	struct textbuf b;
	int err = vmt_file_locks(c->g, &l);

	if (err)
		return sys_skip("locks", err);
	tb_init(&b);
	pfs_render_locks(&b, l);
	err = sys_add(tr, root, "locks", &b);
	tb_free(&b);
	vmt_file_lock_list_free(l);
	return err;
}

/* ------------------------------------------------------------ fill */

int pfs_system_fill(struct pfs_tree *tr, const struct pfs_ctx *c, struct pfs_node *root)
{
	int (*const fills[])(struct pfs_tree *, const struct pfs_ctx *, struct pfs_node *) = {
	    fill_stat,	     fill_interrupts, fill_loadavg, fill_meminfo,     fill_vmstat,
	    fill_sys_kernel, fill_tty,	      fill_cmdline, fill_filesystems, fill_net,
	    fill_mounts,     fill_cpuinfo,    fill_locks,
	};

	for (size_t i = 0; i < ARRAY_SIZE(fills); i++) {
		int err = fills[i](tr, c, root);

		if (err)
			return err;
	}
	return 0;
}
