// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * render_task.c - the per-process files of the shadow /proc: stat, status,
 * statm, auxv, maps, fd/, fdinfo/, cwd, root, exe and ns/, in the exact text of
 * Linux 6.1's fs/proc/array.c (do_task_stat, proc_pid_status,
 * proc_pid_statm), task_mmu.c (show_map_vma, task_mem), fd.c and
 * namespaces.c.  The values come from vmt_tasks() (struct vmt_task) and
 * vmt_task_detail(); this file only formats them.
 *
 * /proc/PID shows the thread group's totals in stat (faults, CPU times);
 * /proc/PID/task/TID the thread's own.  A directory whose parent is named
 * "task" is a thread's.  Everything is owned by the task's euid/egid, as
 * Linux shows a dumpable task's files.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "procfs/render_task.h"

#define NSEC_PER_SEC 1000000000ull
#define PAGE_SHIFT   12
#define PAGE_SIZE    (1ull << PAGE_SHIFT)

/* What /proc/PID/task/TID or /proc/PID holds, and who owns it. */
struct task_out {
	struct pfs_tree *tr;
	const struct pfs_ctx *c;
	const struct vmt_task *t;
	const struct vmt_task_detail *d;
	struct pfs_node *dir;
	bool thread; /* a task/TID directory: the thread's own numbers */
};

static uint64_t clock_t_of(const struct task_out *o, uint64_t ns)
{
	unsigned hz = o->c->user_hz ? o->c->user_hz : 100;

	return ns / (NSEC_PER_SEC / hz);
}

/* The node just added to dir: children keep insertion order until the tree is sealed. */
static struct pfs_node *last_child(struct pfs_node *dir)
{
	return dir->kids[dir->nkids - 1];
}

/* Add a file (or the textbuf's error) and give it the task's owner. */
static int add_file(struct task_out *o, struct pfs_node *dir, const char *name, mode_t mode,
		    struct textbuf *b)
{
	int err = pfs_file_tb(o->tr, dir, name, mode, b);

	tb_free(b);
	if (err)
		return err;
	pfs_chown(last_child(dir), o->t->euid, o->t->egid);
	return 0;
}

static int add_link(struct task_out *o, struct pfs_node *dir, const char *name, mode_t mode,
		    const char *target)
{
	int err = pfs_link(o->tr, dir, name, target);
	struct pfs_node *n;

	if (err)
		return err == -EEXIST ? 0 : err; /* a basic renderer was first */
	n = last_child(dir);
	n->mode = mode;
	pfs_chown(n, o->t->euid, o->t->egid);
	return 0;
}

/* ------------------------------------------------------------- stat */

static void stat_times(const struct task_out *o, uint64_t *minf, uint64_t *majf, uint64_t *ut,
		       uint64_t *st, uint64_t *gt)
{
	const struct vmt_task_detail *d = o->d;

	if (o->thread || !(d->what & VMT_DETAIL_GROUP)) {
		*minf = d->min_flt;
		*majf = d->maj_flt;
		*ut = d->utime_ns;
		*st = d->stime_ns;
		*gt = d->gtime_ns;
		return;
	}
	*minf = d->group_min_flt;
	*majf = d->group_maj_flt;
	*ut = d->group_utime_ns;
	*st = d->group_stime_ns;
	*gt = d->group_gtime_ns;
}

/* fs/proc/array.c do_task_stat(): 52 fields, as the task's owner (permitted) reads them. */
static int render_stat(struct task_out *o)
{
	const struct vmt_task *t = o->t;
	const struct vmt_task_detail *d = o->d;
	uint64_t minf, majf, ut, st, gt, wchan;
	struct textbuf b;

	stat_times(o, &minf, &majf, &ut, &st, &gt);
	/* wchan: 1 while not running, for a thread or a single-threaded process */
	wchan = (o->thread || t->nthreads < 2) && d->raw_state != 0;
	tb_init(&b);
	tb_printf(&b, "%d (%s) %c %d %d %d %d %d %u %llu %llu %llu %llu ", t->pid, t->name,
		  t->state, t->ppid, t->pgrp, t->session, t->tty_nr, d->tty_pgrp, d->task_flags,
		  (unsigned long long)minf, (unsigned long long)d->cmin_flt,
		  (unsigned long long)majf, (unsigned long long)d->cmaj_flt);
	tb_printf(&b, "%llu %llu %lld %lld %d %d %u 0 %llu %llu %llu %llu ",
		  (unsigned long long)clock_t_of(o, ut), (unsigned long long)clock_t_of(o, st),
		  (long long)clock_t_of(o, d->cutime_ns), (long long)clock_t_of(o, d->cstime_ns),
		  t->prio, t->nice, t->nthreads, (unsigned long long)clock_t_of(o, t->start_ns),
		  (unsigned long long)(d->has_mm ? d->total_vm * PAGE_SIZE : 0),
		  (unsigned long long)(d->has_mm ? d->rss_file + d->rss_anon + d->rss_shmem : 0),
		  (unsigned long long)d->rlim_rss);
	tb_printf(&b, "%llu %llu %llu 0 0 %llu %llu %llu %llu %llu 0 0 %d %d %u %u %llu %llu %lld ",
		  (unsigned long long)d->start_code, (unsigned long long)d->end_code,
		  (unsigned long long)d->start_stack,
		  (unsigned long long)(d->sig_pending & 0x7fffffff),
		  (unsigned long long)(d->sig_blocked & 0x7fffffff),
		  (unsigned long long)(d->sig_ignored & 0x7fffffff),
		  (unsigned long long)(d->sig_caught & 0x7fffffff), (unsigned long long)wchan,
		  d->exit_signal, d->cpu, d->rt_priority, d->policy,
		  (unsigned long long)clock_t_of(o, d->blkio_delay_ns),
		  (unsigned long long)clock_t_of(o, gt), (long long)clock_t_of(o, d->cgtime_ns));
	tb_printf(&b, "%llu %llu %llu %llu %llu %llu %llu %d\n", (unsigned long long)d->start_data,
		  (unsigned long long)d->end_data, (unsigned long long)d->start_brk,
		  (unsigned long long)d->arg_start, (unsigned long long)d->arg_end,
		  (unsigned long long)d->env_start, (unsigned long long)d->env_end, d->exit_code);
	return add_file(o, o->dir, "stat", 0444, &b);
}

/* proc_pid_statm(): pages. */
static int render_statm(struct task_out *o)
{
	const struct vmt_task_detail *d = o->d;
	uint64_t shared = d->rss_file + d->rss_shmem, text = 0;
	struct textbuf b;

	if (d->has_mm && d->end_code >= (d->start_code & ~(PAGE_SIZE - 1)))
		text = (((d->end_code + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)) -
			(d->start_code & ~(PAGE_SIZE - 1))) >>
		       PAGE_SHIFT;
	tb_init(&b);
	if (d->has_mm)
		tb_printf(&b, "%llu %llu %llu %llu 0 %llu 0\n", (unsigned long long)d->total_vm,
			  (unsigned long long)(shared + d->rss_anon), (unsigned long long)shared,
			  (unsigned long long)text, (unsigned long long)(d->data_vm + d->stack_vm));
	else
		tb_printf(&b, "0 0 0 0 0 0 0\n");
	return add_file(o, o->dir, "statm", 0444, &b);
}

/* ----------------------------------------------------------- status */

static const char *state_name(char s)
{
	switch (s) {
	case 'R':
		return "R (running)";
	case 'S':
		return "S (sleeping)";
	case 'D':
		return "D (disk sleep)";
	case 'T':
		return "T (stopped)";
	case 't':
		return "t (tracing stop)";
	case 'X':
		return "X (dead)";
	case 'Z':
		return "Z (zombie)";
	case 'P':
		return "P (parked)";
	case 'I':
		return "I (idle)";
	}
	return "R (running)";
}

/* proc_task_name(escape): newline and backslash escaped. */
static void put_escaped_name(struct textbuf *b, const char *name)
{
	for (const char *p = name; *p; p++) {
		if (*p == '\n')
			tb_put(b, "\\n", 2);
		else if (*p == '\\')
			tb_put(b, "\\\\", 2);
		else
			tb_put(b, p, 1);
	}
}

static void status_ids(struct textbuf *b, const struct vmt_task *t, const struct vmt_task_detail *d)
{
	static const char *const label[4] = {"NStgid:", "NSpid:", "NSpgid:", "NSsid:"};
	const int32_t *col[4] = {d->ns_tgid, d->ns_pid, d->ns_pgid, d->ns_sid};

	tb_printf(b, "Tgid:\t%d\nNgid:\t%d\nPid:\t%d\nPPid:\t%d\nTracerPid:\t%d\n", t->tgid,
		  d->ngid, t->pid, t->ppid, d->tracer_pid);
	tb_printf(b, "Uid:\t%u\t%u\t%u\t%u\nGid:\t%u\t%u\t%u\t%u\nFDSize:\t%u\nGroups:\t", t->uid,
		  t->euid, t->suid, t->fsuid, t->gid, t->egid, t->sgid, t->fsgid, d->fd_max);
	for (uint32_t i = 0; i < d->ngroups; i++)
		tb_printf(b, i ? " %u" : "%u", d->groups[i]);
	tb_put(b, " \n", 2);
	for (int k = 0; k < 4; k++) {
		tb_printf(b, "%s", label[k]);
		for (uint32_t l = 0; l < d->pid_levels; l++)
			tb_printf(b, "\t%d", col[k][l]);
		if (!d->pid_levels) /* unreadable: at least the guest's own numbers */
			tb_printf(b, "\t%d",
				  k == 0   ? t->tgid
				  : k == 1 ? t->pid
				  : k == 2 ? t->pgrp
					   : t->session);
		tb_put(b, "\n", 1);
	}
}

/* task_mem(): kB, right-aligned in 8 columns. */
static void status_mem(struct textbuf *b, const struct vmt_task_detail *d)
{
	uint64_t rss = d->rss_anon + d->rss_file + d->rss_shmem;
	uint64_t text =
	    ((d->end_code + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)) - (d->start_code & ~(PAGE_SIZE - 1));
	uint64_t exec = d->exec_vm << PAGE_SHIFT;
	const struct {
		const char *name;
		uint64_t kb;
	} l[] = {
	    {"VmPeak", (d->hiwater_vm > d->total_vm ? d->hiwater_vm : d->total_vm) << 2},
	    {"VmSize", d->total_vm << 2},
	    {"VmLck", d->locked_vm << 2},
	    {"VmPin", d->pinned_vm << 2},
	    {"VmHWM", (d->hiwater_rss > rss ? d->hiwater_rss : rss) << 2},
	    {"VmRSS", rss << 2},
	    {"RssAnon", d->rss_anon << 2},
	    {"RssFile", d->rss_file << 2},
	    {"RssShmem", d->rss_shmem << 2},
	    {"VmData", d->data_vm << 2},
	    {"VmStk", d->stack_vm << 2},
	    {"VmExe", (text < exec ? text : exec) >> 10},
	    {"VmLib", (exec - (text < exec ? text : exec)) >> 10},
	    {"VmPTE", d->pgtables_bytes >> 10},
	    {"VmSwap", d->rss_swap << 2},
	    {"HugetlbPages", d->hugetlb_pages << 2},
	};

	for (size_t i = 0; i < sizeof(l) / sizeof(l[0]); i++)
		tb_printf(b, "%s:\t%8llu kB\n", l[i].name, (unsigned long long)l[i].kb);
	tb_printf(b, "CoreDumping:\t%u\nTHP_enabled:\t%u\n", d->core_dumping, d->thp_enabled);
}

/* %*pb: hex in 32-bit chunks, most significant first, the first one only as wide as needed. */
static void put_bitmap(struct textbuf *b, const uint64_t *bits, uint32_t nbits)
{
	int chunksz = nbits % 32 ? (int)(nbits % 32) : 32;
	int top = (int)((nbits + 31) / 32 * 32) - 32;

	for (int i = top; i >= 0; i -= 32) {
		uint32_t val = (uint32_t)(bits[i / 64] >> (i % 64));

		if (chunksz < 32)
			val &= (1u << chunksz) - 1;
		if (i != top)
			tb_put(b, ",", 1);
		if (val == 0 && chunksz == 32) /* the common case of a 1024-bit nodemask: cheap */
			tb_put(b, "00000000", 8);
		else
			tb_printf(b, "%0*x", (chunksz + 3) / 4, val);
		chunksz = 32;
	}
}

/* %*pbl: ranges "0-3,8". */
static void put_bitmap_list(struct textbuf *b, const uint64_t *bits, uint32_t nbits)
{
	bool first = true;

	for (uint32_t i = 0; i < nbits; i++) {
		uint32_t j = i;

		if (!(bits[i / 64] >> (i % 64) & 1))
			continue;
		while (j + 1 < nbits && bits[(j + 1) / 64] >> ((j + 1) % 64) & 1)
			j++;
		tb_printf(b, j > i ? "%s%u-%u" : "%s%u", first ? "" : ",", i, j);
		first = false;
		i = j;
	}
}

static const char *spec_ssb_text(int v)
{
	switch (v) {
	case -EINVAL:
		return "unknown";
	case 0:
		return "not vulnerable";
	case 1 | 8:
		return "thread force mitigated";
	case 1 | 4:
		return "thread mitigated";
	case 1 | 2:
		return "thread vulnerable";
	case 4:
		return "globally mitigated";
	}
	return "vulnerable";
}

static const char *spec_ib_text(int v)
{
	switch (v) {
	case -EINVAL:
		return "unsupported";
	case 0:
		return "not affected";
	case 1 | 8:
		return "conditional force disabled";
	case 1 | 4:
		return "conditional disabled";
	case 1 | 2:
		return "conditional enabled";
	case 2:
		return "always enabled";
	case 4:
		return "always disabled";
	}
	return "unknown";
}

/* task_sig(), task_cap(), task_seccomp(), the masks and context switches. */
static void status_tail(struct textbuf *b, const struct vmt_task *t,
			const struct vmt_task_detail *d)
{
	tb_printf(b, "Threads:\t%u\nSigQ:\t%llu/%llu\n", t->nthreads, (unsigned long long)d->sigq,
		  (unsigned long long)d->rlim_sigpending);
	tb_printf(b, "SigPnd:\t%016llx\nShdPnd:\t%016llx\nSigBlk:\t%016llx\n",
		  (unsigned long long)d->sig_pending, (unsigned long long)d->sig_shared_pending,
		  (unsigned long long)d->sig_blocked);
	tb_printf(b, "SigIgn:\t%016llx\nSigCgt:\t%016llx\n", (unsigned long long)d->sig_ignored,
		  (unsigned long long)d->sig_caught);
	tb_printf(b, "CapInh:\t%016llx\nCapPrm:\t%016llx\nCapEff:\t%016llx\n",
		  (unsigned long long)d->cap_inheritable, (unsigned long long)d->cap_permitted,
		  (unsigned long long)d->cap_effective);
	tb_printf(b, "CapBnd:\t%016llx\nCapAmb:\t%016llx\n", (unsigned long long)d->cap_bset,
		  (unsigned long long)d->cap_ambient);
	tb_printf(b, "NoNewPrivs:\t%u\nSeccomp:\t%u\nSeccomp_filters:\t%u\n", d->no_new_privs,
		  d->seccomp_mode, d->seccomp_filters);
	tb_printf(b, "Speculation_Store_Bypass:\t%s\nSpeculationIndirectBranch:\t%s\n",
		  spec_ssb_text(d->spec_ssb), spec_ib_text(d->spec_ib));
	tb_printf(b, "Cpus_allowed:\t");
	put_bitmap(b, d->cpus_allowed, d->nr_cpu_ids);
	tb_printf(b, "\nCpus_allowed_list:\t");
	put_bitmap_list(b, d->cpus_allowed, d->nr_cpu_ids);
	tb_printf(b, "\nMems_allowed:\t");
	put_bitmap(b, d->mems_allowed, d->nodemask_bits);
	tb_printf(b, "\nMems_allowed_list:\t");
	put_bitmap_list(b, d->mems_allowed, d->nodemask_bits);
	tb_printf(b, "\nvoluntary_ctxt_switches:\t%llu\nnonvoluntary_ctxt_switches:\t%llu\n",
		  (unsigned long long)d->nvcsw, (unsigned long long)d->nivcsw);
}

/* proc_pid_status(). */
static int render_status(struct task_out *o)
{
	const struct vmt_task_detail *d = o->d;
	struct textbuf b;

	tb_init(&b);
	tb_put(&b, "Name:\t", 6);
	put_escaped_name(&b, o->t->name);
	tb_put(&b, "\n", 1);
	if (d->umask >= 0)
		tb_printf(&b, "Umask:\t%#04o\n", (unsigned)d->umask);
	tb_printf(&b, "State:\t%s\n", state_name(o->t->state));
	status_ids(&b, o->t, d);
	if (d->has_mm)
		status_mem(&b, d);
	status_tail(&b, o->t, d);
	return add_file(o, o->dir, "status", 0444, &b);
}

/* proc_pid_auxv(): the raw words, 0400 like Linux's. */
static int render_auxv(struct task_out *o)
{
	struct textbuf b;

	tb_init(&b);
	tb_put(&b, o->d->auxv, o->d->nauxv * sizeof(o->d->auxv[0]));
	return add_file(o, o->dir, "auxv", 0400, &b);
}

/* ------------------------------------------------------------- maps */

/* seq_file_path(m, file, "\n"): a newline in a path shows as \012. */
static void put_path_escaped(struct textbuf *b, const char *p)
{
	for (; *p; p++) {
		if (*p == '\n')
			tb_put(b, "\\012", 4);
		else
			tb_put(b, p, 1);
	}
}

/* show_map_vma(): the header, then the name at column 73 (seq_setwidth 72 + ' '). */
static int render_maps(struct task_out *o)
{
	const struct vmt_task_detail *d = o->d;
	struct textbuf b;

	tb_init(&b);
	for (size_t i = 0; i < d->nvmas; i++) {
		const struct vmt_vma *v = &d->vmas[i];
		size_t start = b.len;

		tb_printf(&b, "%08llx-%08llx %c%c%c%c %08llx %02x:%02x %llu ",
			  (unsigned long long)v->start, (unsigned long long)v->end,
			  v->vm_flags & 0x1 ? 'r' : '-', v->vm_flags & 0x2 ? 'w' : '-',
			  v->vm_flags & 0x4 ? 'x' : '-', v->vm_flags & 0x80 ? 's' : 'p',
			  (unsigned long long)v->pgoff, v->dev >> 20, v->dev & 0xfffff,
			  (unsigned long long)v->ino);
		if (v->name) {
			if (!b.err && b.len - start < 72)
				tb_printf(&b, "%*s", (int)(72 - (b.len - start)), "");
			tb_put(&b, " ", 1);
			put_path_escaped(&b, v->name);
		}
		tb_put(&b, "\n", 1);
	}
	return add_file(o, o->dir, "maps", 0444, &b);
}

/* ---------------------------------------------------- fd, fs and ns */

static int render_fds(struct task_out *o)
{
	const struct vmt_task_detail *d = o->d;
	struct pfs_node *fd, *info;
	int err = 0;

	fd = pfs_dir(o->tr, o->dir, "fd", 0500, o->t->euid, o->t->egid);
	info = pfs_dir(o->tr, o->dir, "fdinfo", 0555, o->t->euid, o->t->egid);
	if (!fd || !info)
		return -ENOMEM;
	for (size_t i = 0; i < d->nfds && !err; i++) {
		const struct vmt_fd *f = &d->fds[i];
		mode_t mode = 0;
		struct textbuf b;
		char name[16];

		snprintf(name, sizeof(name), "%d", f->fd);
		if (f->f_mode & 1) /* FMODE_READ */
			mode |= 0500;
		if (f->f_mode & 2) /* FMODE_WRITE */
			mode |= 0300;
		if (f->path)
			err = add_link(o, fd, name, mode, f->path);
		if (err || (f->flags & VMT_F_PARTIAL))
			continue; /* half-read fields would show as plausible lies */
		tb_init(&b);
		tb_printf(&b, "pos:\t%lld\nflags:\t0%o\nmnt_id:\t%d\nino:\t%llu\n",
			  (long long)f->pos, f->f_flags, f->mnt_id, (unsigned long long)f->ino);
		err = add_file(o, info, name, 0444, &b);
	}
	return err == -EEXIST ? 0 : err;
}

static int render_links(struct task_out *o)
{
	static const char *const type[VMT_NS_COUNT] = {
	    "net", "uts", "ipc", "pid", "pid", "user", "mnt", "cgroup", "time", "time",
	};
	const struct vmt_task_detail *d = o->d;
	struct pfs_node *ns;
	int err = 0;

	if (o->t->exe)
		err = add_link(o, o->dir, "exe", 0777, o->t->exe);
	if (!err && d->cwd)
		err = add_link(o, o->dir, "cwd", 0777, d->cwd);
	if (!err && d->root)
		err = add_link(o, o->dir, "root", 0777, d->root);
	ns = err ? NULL : pfs_dir(o->tr, o->dir, "ns", 0511, o->t->euid, o->t->egid);
	if (!ns)
		return err ? err : -ENOMEM;
	for (int i = 0; i < VMT_NS_COUNT && !err; i++) {
		char target[48];

		if (!d->ns_ino[i])
			continue;
		snprintf(target, sizeof(target), "%s:[%llu]", type[i],
			 (unsigned long long)d->ns_ino[i]);
		err = add_link(o, ns, vmt_ns_name(i), 0777, target);
	}
	return err;
}

/* Copy file or link n (a directory: with its files and links) into dir, owner and mode kept. */
static int copy_node(struct task_out *o, struct pfs_node *dir, const struct pfs_node *n)
{
	struct pfs_node *d;
	int err = 0;

	switch (n->type) {
	case PFS_FILE:
		err = pfs_file(o->tr, dir, n->name, n->mode, n->data, n->len);
		break;
	case PFS_LINK:
		err = pfs_link(o->tr, dir, n->name, n->data);
		break;
	case PFS_DIR:
		d = pfs_dir(o->tr, dir, n->name, n->mode, n->uid, n->gid);
		if (!d)
			return -ENOMEM;
		for (size_t i = 0; i < n->nkids && !err; i++)
			err = copy_node(o, d, n->kids[i]);
		return err;
	}
	if (err)
		return err == -EEXIST ? 0 : err;
	d = last_child(dir);
	d->mode = n->mode;
	pfs_chown(d, n->uid, n->gid);
	return 0;
}

/*
 * A thread shares its process's mm, files, fs and namespaces: when
 * /proc/TGID was filled already (a snapshot fills processes first), its
 * files of those are copied instead of walked and rendered again.
 */
static const char *const shared_names[] = {"statm", "auxv", "maps",   "exe", "cwd",
					   "root",  "fd",   "fdinfo", "ns"};

static const struct pfs_node *process_dir(const struct task_out *o)
{
	const struct pfs_node *task = o->dir->parent, *proc = task ? task->parent : NULL;

	if (!o->thread || !proc || !pfs_child(proc, "maps"))
		return NULL;
	return proc;
}

static int copy_shared(struct task_out *o, const struct pfs_node *proc)
{
	int err = 0;

	for (size_t i = 0; i < sizeof(shared_names) / sizeof(shared_names[0]) && !err; i++) {
		const struct pfs_node *n = pfs_child(proc, shared_names[i]);

		if (n)
			err = copy_node(o, o->dir, n);
	}
	return err;
}

static int render_all(struct task_out *o, const struct pfs_node *proc)
{
	int err = render_stat(o);

	if (!err)
		err = render_status(o);
	if (!err && proc)
		return copy_shared(o, proc);
	if (!err)
		err = render_statm(o);
	if (!err)
		err = render_auxv(o);
	if (!err)
		err = render_maps(o);
	if (!err)
		err = render_fds(o);
	if (!err)
		err = render_links(o);
	return err;
}

int pfs_task_fill(struct pfs_tree *tr, const struct pfs_ctx *c, const struct vmt_task *t,
		  struct pfs_node *dir)
{
	struct task_out o = {.tr = tr, .c = c, .t = t, .dir = dir};
	struct vmt_task_detail *d = NULL;
	const struct pfs_node *proc;
	unsigned what = VMT_DETAIL_STAT;
	int err;

	o.thread = dir->parent && !strcmp(dir->parent->name, "task");
	proc = process_dir(&o);
	if (!o.thread)
		what |= VMT_DETAIL_GROUP;
	if (!proc)
		what |= VMT_DETAIL_MAPS | VMT_DETAIL_FILES | VMT_DETAIL_FS | VMT_DETAIL_NS |
			VMT_DETAIL_AUXV;
	err = vmt_task_detail(c->g, t, what, &d);
	if (err)
		return err;
	o.d = d;
	err = render_all(&o, proc);
	vmt_task_detail_free(d);
	return err;
}
