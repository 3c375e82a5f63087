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
#include <sys/stat.h>

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

	pfs_tb_give(o->tr, b);
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

/*
 * Numbers without printf: a snapshot renders stat and status for every
 * task and thread, and vfprintf was most of the fill's time.
 */
struct num {
	uint64_t v;
	bool neg_ok; /* a signed field: the top bit set prints as negative */
};

#define U(x) ((struct num){.v = (uint64_t)(x), .neg_ok = false})
#define S(x) ((struct num){.v = (uint64_t)(int64_t)(x), .neg_ok = true})

static void put_num(struct textbuf *b, struct num n)
{
	char buf[24];
	bool neg = n.neg_ok && (int64_t)n.v < 0;

	tb_put(b, buf, pfs_fmt_u64(buf, neg ? -n.v : n.v, neg));
}

static void put_str(struct textbuf *b, const char *s)
{
	tb_put(b, s, strlen(s));
}

/* "Key:\tN\n" */
static void put_line(struct textbuf *b, const char *key, struct num n)
{
	put_str(b, key);
	put_num(b, n);
	tb_put(b, "\n", 1);
}

static void put_hex16(struct textbuf *b, const char *key, uint64_t v)
{
	char buf[17];

	for (int i = 15; i >= 0; i--, v >>= 4)
		buf[i] = "0123456789abcdef"[v & 0xf];
	buf[16] = '\n';
	put_str(b, key);
	tb_put(b, buf, sizeof(buf));
}

/* seq_put_hex_ll(): lower-case hex, zero-padded to at least width digits. */
static void put_hex(struct textbuf *b, uint64_t v, int width)
{
	char buf[16];
	int i = sizeof(buf);

	do {
		buf[--i] = "0123456789abcdef"[v & 0xf];
		v >>= 4;
	} while (v);
	while ((int)sizeof(buf) - i < width)
		buf[--i] = '0';
	tb_put(b, buf + i, sizeof(buf) - (size_t)i);
}

static void put_oct(struct textbuf *b, uint32_t v)
{
	char buf[12];
	int i = sizeof(buf);

	do {
		buf[--i] = (char)('0' + (v & 7));
		v >>= 3;
	} while (v);
	tb_put(b, buf + i, sizeof(buf) - (size_t)i);
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
	const struct num f[] = {
	    S(t->ppid),
	    S(t->pgrp),
	    S(t->session),
	    S(t->tty_nr),
	    S(d->tty_pgrp),
	    U(d->task_flags),
	    U(minf),
	    U(d->cmin_flt),
	    U(majf),
	    U(d->cmaj_flt),
	    U(clock_t_of(o, ut)),
	    U(clock_t_of(o, st)),
	    S(clock_t_of(o, d->cutime_ns)),
	    S(clock_t_of(o, d->cstime_ns)),
	    S(t->prio),
	    S(t->nice),
	    S(t->nthreads),
	    U(0), /* itrealvalue */
	    U(clock_t_of(o, t->start_ns)),
	    U(d->has_mm ? d->total_vm * PAGE_SIZE : 0),
	    U(d->has_mm ? d->rss_file + d->rss_anon + d->rss_shmem : 0),
	    U(d->rlim_rss),
	    U(d->start_code),
	    U(d->end_code),
	    U(d->start_stack),
	    U(0), /* kstkesp, kstkeip: only while exiting or dumping core */
	    U(0),
	    U(d->sig_pending & 0x7fffffff),
	    U(d->sig_blocked & 0x7fffffff),
	    U(d->sig_ignored & 0x7fffffff),
	    U(d->sig_caught & 0x7fffffff),
	    U(wchan),
	    U(0), /* nswap, cnswap */
	    U(0),
	    S(d->exit_signal),
	    S(d->cpu),
	    U(d->rt_priority),
	    U(d->policy),
	    U(clock_t_of(o, d->blkio_delay_ns)),
	    U(clock_t_of(o, gt)),
	    S(clock_t_of(o, d->cgtime_ns)),
	    U(d->start_data),
	    U(d->end_data),
	    U(d->start_brk),
	    U(d->arg_start),
	    U(d->arg_end),
	    U(d->env_start),
	    U(d->env_end),
	    S(d->exit_code),
	};

	pfs_tb_take(o->tr, &b);
	put_num(&b, S(t->pid));
	tb_put(&b, " (", 2);
	put_str(&b, t->name);
	tb_put(&b, ") ", 2);
	tb_put(&b, &t->state, 1);
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		tb_put(&b, " ", 1);
		put_num(&b, f[i]);
	}
	tb_put(&b, "\n", 1);
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
	pfs_tb_take(o->tr, &b);
	if (d->has_mm) {
		const struct num f[] = {
		    U(d->total_vm), U(shared + d->rss_anon),	 U(shared), U(text),
		    U(0),	    U(d->data_vm + d->stack_vm), U(0)};

		for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
			if (i)
				tb_put(&b, " ", 1);
			put_num(&b, f[i]);
		}
		tb_put(&b, "\n", 1);
	} else {
		put_str(&b, "0 0 0 0 0 0 0\n");
	}
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
	const int32_t own[4] = {t->tgid, t->pid, t->pgrp, t->session};
	const uint32_t ids[2][4] = {{t->uid, t->euid, t->suid, t->fsuid},
				    {t->gid, t->egid, t->sgid, t->fsgid}};

	put_line(b, "Tgid:\t", S(t->tgid));
	put_line(b, "Ngid:\t", S(d->ngid));
	put_line(b, "Pid:\t", S(t->pid));
	put_line(b, "PPid:\t", S(t->ppid));
	put_line(b, "TracerPid:\t", S(d->tracer_pid));
	for (int k = 0; k < 2; k++) {
		put_str(b, k ? "Gid:" : "Uid:");
		for (int i = 0; i < 4; i++) {
			tb_put(b, "\t", 1);
			put_num(b, U(ids[k][i]));
		}
		tb_put(b, "\n", 1);
	}
	put_line(b, "FDSize:\t", U(d->fd_max));
	put_str(b, "Groups:\t");
	for (uint32_t i = 0; i < d->ngroups; i++) {
		if (i)
			tb_put(b, " ", 1);
		put_num(b, U(d->groups[i]));
	}
	tb_put(b, " \n", 2); /* "Trailing space shouldn't have been added in the first place." */
	for (int k = 0; k < 4; k++) {
		put_str(b, label[k]);
		for (uint32_t l = 0; l < d->pid_levels; l++) {
			tb_put(b, "\t", 1);
			put_num(b, S(col[k][l]));
		}
		if (!d->pid_levels) { /* unreadable: at least the guest's own numbers */
			tb_put(b, "\t", 1);
			put_num(b, S(own[k]));
		}
		tb_put(b, "\n", 1);
	}
}

/* "Name:\t%8llu kB\n" of task_mem(). */
static void put_kb(struct textbuf *b, const char *name, uint64_t kb)
{
	char buf[24];
	size_t i = sizeof(buf);

	do {
		buf[--i] = (char)('0' + kb % 10);
		kb /= 10;
	} while (kb);
	while (sizeof(buf) - i < 8)
		buf[--i] = ' ';
	put_str(b, name);
	tb_put(b, ":\t", 2);
	tb_put(b, buf + i, sizeof(buf) - i);
	tb_put(b, " kB\n", 4);
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
		put_kb(b, l[i].name, l[i].kb);
	put_line(b, "CoreDumping:\t", U(d->core_dumping));
	put_line(b, "THP_enabled:\t", U(d->thp_enabled));
}

/* %*pb: hex in 32-bit chunks, most significant first, the first one only as wide as needed. */
static void put_bitmap(struct textbuf *b, const uint64_t *bits, uint32_t nbits)
{
	char buf[VMT_CPUMASK_WORDS * 2 * 9 + 16];
	int chunksz = nbits % 32 ? (int)(nbits % 32) : 32;
	int top = (int)((nbits + 31) / 32 * 32) - 32;
	size_t n = 0;

	for (int i = top; i >= 0 && n + 9 < sizeof(buf); i -= 32) {
		uint32_t val = (uint32_t)(bits[i / 64] >> (i % 64));
		int digits = (chunksz + 3) / 4;

		if (chunksz < 32)
			val &= (1u << chunksz) - 1;
		if (i != top)
			buf[n++] = ',';
		for (int k = digits - 1; k >= 0; k--)
			buf[n++] = "0123456789abcdef"[(val >> (4 * k)) & 0xf];
		chunksz = 32;
	}
	tb_put(b, buf, n);
}

/* %*pbl: ranges "0-3,8". */
static void put_bitmap_list(struct textbuf *b, const uint64_t *bits, uint32_t nbits)
{
	bool first = true;

	for (uint32_t i = 0; i < nbits; i++) {
		uint32_t j = i;

		if (!(i % 64) && !bits[i / 64]) { /* a word of zeros: the usual nodemask */
			i += 63;
			continue;
		}
		if (!(bits[i / 64] >> (i % 64) & 1))
			continue;
		while (j + 1 < nbits && bits[(j + 1) / 64] >> ((j + 1) % 64) & 1)
			j++;
		if (!first)
			tb_put(b, ",", 1);
		put_num(b, U(i));
		if (j > i) {
			tb_put(b, "-", 1);
			put_num(b, U(j));
		}
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
	put_line(b, "Threads:\t", U(t->nthreads));
	put_str(b, "SigQ:\t");
	put_num(b, U(d->sigq));
	tb_put(b, "/", 1);
	put_line(b, "", U(d->rlim_sigpending));
	put_hex16(b, "SigPnd:\t", d->sig_pending);
	put_hex16(b, "ShdPnd:\t", d->sig_shared_pending);
	put_hex16(b, "SigBlk:\t", d->sig_blocked);
	put_hex16(b, "SigIgn:\t", d->sig_ignored);
	put_hex16(b, "SigCgt:\t", d->sig_caught);
	put_hex16(b, "CapInh:\t", d->cap_inheritable);
	put_hex16(b, "CapPrm:\t", d->cap_permitted);
	put_hex16(b, "CapEff:\t", d->cap_effective);
	put_hex16(b, "CapBnd:\t", d->cap_bset);
	put_hex16(b, "CapAmb:\t", d->cap_ambient);
	put_line(b, "NoNewPrivs:\t", U(d->no_new_privs));
	put_line(b, "Seccomp:\t", U(d->seccomp_mode));
	put_line(b, "Seccomp_filters:\t", U(d->seccomp_filters));
	put_str(b, "Speculation_Store_Bypass:\t");
	put_str(b, spec_ssb_text(d->spec_ssb));
	put_str(b, "\nSpeculationIndirectBranch:\t");
	put_str(b, spec_ib_text(d->spec_ib));
	put_str(b, "\nCpus_allowed:\t");
	put_bitmap(b, d->cpus_allowed, d->nr_cpu_ids);
	put_str(b, "\nCpus_allowed_list:\t");
	put_bitmap_list(b, d->cpus_allowed, d->nr_cpu_ids);
	put_str(b, "\nMems_allowed:\t");
	put_bitmap(b, d->mems_allowed, d->nodemask_bits);
	put_str(b, "\nMems_allowed_list:\t");
	put_bitmap_list(b, d->mems_allowed, d->nodemask_bits);
	put_str(b, "\n");
	put_line(b, "voluntary_ctxt_switches:\t", U(d->nvcsw));
	put_line(b, "nonvoluntary_ctxt_switches:\t", U(d->nivcsw));
}

/* proc_pid_status(). */
static int render_status(struct task_out *o)
{
	const struct vmt_task_detail *d = o->d;
	struct textbuf b;

	pfs_tb_take(o->tr, &b);
	tb_put(&b, "Name:\t", 6);
	put_escaped_name(&b, o->t->name);
	tb_put(&b, "\n", 1);
	if (d->umask >= 0 && d->umask <= 0777) { /* "%#04o" */
		char u[] = {'0', (char)('0' + (d->umask >> 6)), (char)('0' + (d->umask >> 3 & 7)),
			    (char)('0' + (d->umask & 7)), '\n'};

		put_str(&b, "Umask:\t");
		tb_put(&b, u, sizeof(u));
	} else if (d->umask >= 0) {
		tb_printf(&b, "Umask:\t%#04o\n", (unsigned)d->umask);
	}
	put_str(&b, "State:\t");
	put_str(&b, state_name(o->t->state));
	tb_put(&b, "\n", 1);
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

	pfs_tb_take(o->tr, &b);
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

	pfs_tb_take(o->tr, &b);
	for (size_t i = 0; i < d->nvmas; i++) {
		const struct vmt_vma *v = &d->vmas[i];
		size_t start = b.len;

		char perms[6] = {' ',
				 v->vm_flags & 0x1 ? 'r' : '-',
				 v->vm_flags & 0x2 ? 'w' : '-',
				 v->vm_flags & 0x4 ? 'x' : '-',
				 v->vm_flags & 0x80 ? 's' : 'p',
				 ' '};

		put_hex(&b, v->start, 8);
		tb_put(&b, "-", 1);
		put_hex(&b, v->end, 8);
		tb_put(&b, perms, sizeof(perms));
		put_hex(&b, v->pgoff, 8);
		tb_put(&b, " ", 1);
		put_hex(&b, v->dev >> 20, 2);
		tb_put(&b, ":", 1);
		put_hex(&b, v->dev & 0xfffff, 2);
		tb_put(&b, " ", 1);
		put_num(&b, U(v->ino));
		tb_put(&b, " ", 1);
		if (v->name) {
			static const char spaces[72 + 1] = "                                    "
							   "                                    ";

			if (!b.err && b.len - start < 72)
				tb_put(&b, spaces, 72 - (b.len - start));
			tb_put(&b, " ", 1);
			put_path_escaped(&b, v->name);
		}
		tb_put(&b, "\n", 1);
	}
	return add_file(o, o->dir, "maps", 0444, &b);
}

/* ---------------------------------------------------- fd, fs and ns */

/* What the file's show_fdinfo() adds (eventfd, pidfd, unix socket). */
static void render_fdinfo_kind(struct textbuf *b, const struct vmt_fd *f)
{
	switch (f->kind) {
	case VMT_FD_EVENTFD:
		tb_printf(b, "eventfd-count: %16llx\neventfd-id: %d\n", (unsigned long long)f->x,
			  f->id);
		break;
	case VMT_FD_PIDFD:
		put_line(b, "Pid:\t", S(f->ns_pid[0]));
		put_str(b, "NSpid:\t");
		put_num(b, S(f->ns_pid[0]));
		for (uint32_t l = 1; f->ns_pid[0] > 0 && l < f->pid_levels; l++) {
			tb_put(b, "\t", 1);
			put_num(b, S(f->ns_pid[l]));
		}
		tb_put(b, "\n", 1);
		break;
	case VMT_FD_EPOLL:
		for (uint32_t i = 0; i < f->nitems; i++) {
			const struct vmt_epoll_item *it = &f->items[i];

			tb_printf(b,
				  "tfd: %8d events: %8x data: %16llx  pos:%lli ino:%llx sdev:%x\n",
				  it->fd, it->events, (unsigned long long)it->data,
				  (long long)it->pos, (unsigned long long)it->ino, it->sdev);
		}
		break;
	case VMT_FD_SIGNALFD:
		put_hex16(b, "sigmask:\t", f->x);
		break;
	case VMT_FD_UNIX:
		if (f->x != UINT64_MAX)
			put_line(b, "scm_fds: ", U(f->x));
		break;
	}
}

/*
 * The kernel resolves a relative link target in the link's directory: a
 * stat of fd/N that names "socket:[INO]" looks that name up in fd/.  Linux's
 * own fd links jump to the object; here a hidden node of that name answers
 * with the object's type and inode (lsof takes a socket's inode and type
 * from this stat alone).  Sockets are S_IFSOCK 0777 (sock_alloc), pipes
 * S_IFIFO 0600 (get_pipe_inode).  Anonymous inodes have no S_IFMT in Linux
 * (alloc_anon_inode: 0600), which FUSE refuses (fuse_valid_type): they
 * answer S_IFREG 0600, so that their inode still shows.  Absolute targets
 * are the guest's paths: a stat of them reaches the host's file system.
 */
static int fd_target_add(struct task_out *o, struct pfs_node *fd, const struct vmt_fd *f)
{
	static const struct {
		const char *prefix;
		mode_t fmt, perm;
	} kinds[] = {
	    {"socket:[", S_IFSOCK, 0777},
	    {"pipe:[", S_IFIFO, 0600},
	    {"anon_inode:", S_IFREG, 0600},
	};

	if (!f->path || f->path[0] == '/' || strchr(f->path, '/'))
		return 0;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strncmp(f->path, kinds[i].prefix, strlen(kinds[i].prefix)))
			continue;
		int err = pfs_target(o->tr, fd, f->path, kinds[i].fmt, kinds[i].perm, f->ino);

		if (!err)
			pfs_chown(pfs_child(fd, f->path), o->t->euid, o->t->egid);
		return err;
	}
	return 0;
}

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
		char name[24];

		pfs_fmt_int(name, f->fd);
		if (f->f_mode & 1) /* FMODE_READ */
			mode |= 0500;
		if (f->f_mode & 2) /* FMODE_WRITE */
			mode |= 0300;
		if (f->path)
			err = add_link(o, fd, name, mode, f->path);
		if (!err)
			err = fd_target_add(o, fd, f);
		if (err || (f->flags & VMT_F_PARTIAL))
			continue; /* half-read fields would show as plausible lies */
		pfs_tb_take(o->tr, &b);
		put_line(&b, "pos:\t", S(f->pos));
		put_str(&b, "flags:\t0");
		put_oct(&b, f->f_flags);
		put_line(&b, "\nmnt_id:\t", S(f->mnt_id));
		put_line(&b, "ino:\t", U(f->ino));
		render_fdinfo_kind(&b, f);
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

	if (o->t->exe || d->exe)
		err = add_link(o, o->dir, "exe", 0777, o->t->exe ? o->t->exe : d->exe);
	if (!err && d->cwd)
		err = add_link(o, o->dir, "cwd", 0777, d->cwd);
	if (!err && d->root)
		err = add_link(o, o->dir, "root", 0777, d->root);
	ns = err ? NULL : pfs_dir(o->tr, o->dir, "ns", 0511, o->t->euid, o->t->egid);
	if (!ns)
		return err ? err : -ENOMEM;
	for (int i = 0; i < VMT_NS_COUNT && !err; i++) {
		char target[48];
		size_t n = strlen(type[i]);

		if (!d->ns_ino[i])
			continue;
		memcpy(target, type[i], n); /* "%s:[%llu]" */
		memcpy(target + n, ":[", 2);
		n += 2 + pfs_fmt_u64(target + n + 2, d->ns_ino[i], false);
		memcpy(target + n, "]", 2);
		err = add_link(o, ns, vmt_ns_name(i), 0777, target);
	}
	return err;
}

/* Copy file or link n (a directory: with its files and links) into dir, owner and mode kept. */
static int copy_node(struct task_out *o, struct pfs_node *dir, const struct pfs_node *n)
{
	struct pfs_node *d;
	int err = 0;

	if (n->type != PFS_DIR) /* contents shared, owner, mode and stat fields kept */
		return pfs_alias(o->tr, dir, n) || errno == EEXIST ? 0 : -errno;
	d = pfs_dir(o->tr, dir, n->name, n->mode, n->uid, n->gid);
	if (!d)
		return -ENOMEM;
	for (size_t i = 0; i < n->nkids && !err; i++)
		err = copy_node(o, d, n->kids[i]);
	return err;
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

/*
 * The leader's own task/TGID directory: the same task as /proc/TGID, so
 * status is the same text, and stat differs only in the fields where the
 * process shows its group's totals (faults, times) and in wchan.  Those
 * are patched into a copy of the process's stat.
 */
static int leader_thread_stat(struct task_out *o, const struct pfs_node *proc)
{
	const struct pfs_node *ps = pfs_child(proc, "stat");
	const struct vmt_task_detail *d = o->d;
	const char *p = ps ? memrchr(ps->data, ')', ps->len) : NULL;
	struct textbuf b;
	int field = 2; /* fields are numbered from 1: pid, comm, then after ") " */

	if (!p || ps->type != PFS_FILE)
		return -ENOENT;
	pfs_tb_take(o->tr, &b);
	tb_put(&b, ps->data, (size_t)(p - ps->data) + 1);
	for (const char *q = p + 1, *end = ps->data + ps->len; q < end;) {
		const char *sp = q + 1;
		struct num n;

		while (sp < end && *sp != ' ' && *sp != '\n')
			sp++;
		field++;
		switch (field) {
		case 10:
			n = U(d->min_flt);
			break;
		case 12:
			n = U(d->maj_flt);
			break;
		case 14:
			n = U(clock_t_of(o, d->utime_ns));
			break;
		case 15:
			n = U(clock_t_of(o, d->stime_ns));
			break;
		case 35:
			n = U(d->raw_state != 0);
			break;
		case 43:
			n = U(clock_t_of(o, d->gtime_ns));
			break;
		default:
			tb_put(&b, q, (size_t)(sp - q));
			q = sp;
			continue;
		}
		tb_put(&b, " ", 1);
		put_num(&b, n);
		q = sp;
	}
	return add_file(o, o->dir, "stat", 0444, &b);
}

static int render_leader_thread(struct task_out *o, const struct pfs_node *proc)
{
	const struct pfs_node *status = pfs_child(proc, "status");
	int err = leader_thread_stat(o, proc);

	if (!err)
		err = status ? copy_node(o, o->dir, status) : -ENOENT;
	if (!err)
		err = copy_shared(o, proc);
	return err;
}

/*
 * The details the fill of a directory reads (enum vmt_detail_what), from
 * whether it is a thread's (task/TID), whether its process's directory was
 * filled (its stat, status and maps are then in the tree) and whether the
 * thread is its group's leader.
 */
static unsigned what_of(bool thread, bool proc_filled, bool own_leader)
{
	unsigned what = VMT_DETAIL_STAT;

	if (thread && proc_filled && own_leader)
		return VMT_DETAIL_SCHED;
	if (!thread)
		what |= VMT_DETAIL_GROUP;
	if (!(thread && proc_filled))
		what |= VMT_DETAIL_MAPS | VMT_DETAIL_FILES | VMT_DETAIL_FS | VMT_DETAIL_NS |
			VMT_DETAIL_AUXV;
	return what;
}

/* What pfs_task_fill of t in dir reads, as the tree is now; *proc: its filled process. */
static unsigned task_what(struct task_out *o, const struct pfs_node **proc)
{
	o->thread = o->dir->parent && !strcmp(o->dir->parent->name, "task");
	*proc = process_dir(o);
	/* a filled process directory has stat and status: they come before maps */
	return what_of(o->thread, *proc != NULL, o->t->pid == o->t->tgid);
}

static int task_render(struct task_out *o, const struct pfs_node *proc, unsigned what)
{
	return what == VMT_DETAIL_SCHED ? render_leader_thread(o, proc) : render_all(o, proc);
}

int pfs_task_fill(struct pfs_tree *tr, const struct pfs_ctx *c, const struct vmt_task *t,
		  struct pfs_node *dir)
{
	struct task_out o = {.tr = tr, .c = c, .t = t, .dir = dir};
	struct vmt_task_detail *d = NULL;
	const struct pfs_node *proc;
	unsigned what = task_what(&o, &proc);
	int err;

	err = vmt_task_detail(c->g, t, what, &d);
	if (err)
		return err;
	o.d = d;
	err = task_render(&o, proc, what);
	vmt_task_detail_free(d);
	return err;
}
