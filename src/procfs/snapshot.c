// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * snapshot.c - walk the guest once and build the shadow /proc's tree.
 *
 * One listing (vmt_listing_begin) covers the whole build, so every file
 * of a snapshot describes the same moment as far as a running guest
 * allows (with --pause, exactly).  Lists come from the public walkers;
 * the per-area fill functions only render what they are handed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/internal.h"
#include "procfs/render_basic.h"
#include "procfs/render_system.h"
#include "procfs/render_task.h"
#include "procfs/snapshot.h"

/*
 * The listing of /proc is the task list's; a lookup also finds what the pid
 * index holds (VMT_TASK_PIDINDEX), as the guest's proc_pid_lookup does.  A
 * task unlinked from the task list (DKOM) therefore gets a /proc/PID that a
 * lookup finds and a listing does not: the two views of the guest that
 * chkproc and unhide cross-check.  (The guest's own readdir walks the pid
 * index too, so its ps still shows such a task.)
 */
#define TASK_BASIC (VMT_TASK_THREADS | VMT_TASK_PIDINDEX)
#define TASK_FULL  (VMT_TASK_CMDLINE | VMT_TASK_ENVIRON | VMT_TASK_EXE | TASK_BASIC)

/* A pid (or task/TID) directory not filled yet, and whose it is. */
struct pfs_lazy_dir {
	struct pfs_node *dir;
	int32_t pid;
	bool filled;
};

static double clock_ms(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double now_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

/* ------------------------------------------------------------ ino index */

struct pfs_node *pfs_snapshot_node(const struct pfs_snapshot *s, uint64_t ino)
{
	return pfs_tree_node(s->tree, ino);
}

/* ------------------------------------------------------------ per task */

static int task_fill(struct pfs_snapshot *s, const struct vmt_task *t, struct pfs_node *dir)
{
	int err = pfs_basic_task_fill(s->tree, &s->ctx, t, dir);

	if (!err)
		err = pfs_task_fill(s->tree, &s->ctx, t, dir);
	if (err && err != -ENOMEM) {
		pr_warn("procfs: task %d: %s", t->pid, strerror(-err));
		err = 0; /* what could not be rendered is left out */
	}
	return err;
}

static int lazy_add(struct pfs_snapshot *s, struct pfs_node *dir, int32_t pid)
{
	struct pfs_lazy_dir *p = realloc(s->lazy, (s->nlazy + 1) * sizeof(*p));

	if (!p)
		return -ENOMEM;
	s->lazy = p;
	s->lazy[s->nlazy++] = (struct pfs_lazy_dir){.dir = dir, .pid = pid};
	return 0;
}

/* One /proc/PID or /proc/PID/task/TID directory of task t, filled now or on first use. */
static struct pfs_node *task_dir(struct pfs_snapshot *s, const struct pfs_snap_opts *o,
				 struct pfs_node *parent, const struct vmt_task *t)
{
	struct pfs_node *d;
	char name[24];

	pfs_fmt_int(name, t->pid);
	d = pfs_dir_new(s->tree, parent, name, 0555, t->euid, t->egid);
	if (!d)
		return NULL;
	if (o->lazy ? lazy_add(s, d, t->pid) : task_fill(s, t, d))
		return NULL;
	return d;
}

static ssize_t task_find(const struct vmt_task_list *l, int32_t pid)
{
	size_t lo = 0, hi = l ? l->n : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->tasks[mid].pid == pid)
			return (ssize_t)mid;
		if (l->tasks[mid].pid < pid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/*
 * /proc lists thread-group leaders; each leader's task/ lists its threads
 * (itself first among them, by pid).  A thread whose leader is not in the
 * list (the walk broke) is left out: Linux reaches it only through one.
 */
static int tasks_build(struct pfs_snapshot *s, const struct pfs_snap_opts *o)
{
	const struct vmt_task_list *l = s->tasks;
	struct pfs_node **taskdirs = calloc(l->n ? l->n : 1, sizeof(*taskdirs));
	int err = 0;

	if (!taskdirs)
		return -ENOMEM;
	for (size_t i = 0; i < l->n && !err; i++) {
		const struct vmt_task *t = &l->tasks[i];
		struct pfs_node *d;

		if (t->flags & VMT_F_THREAD)
			continue;
		d = task_dir(s, o, s->procdir, t);
		if (d && (t->flags & VMT_F_UNLISTED)) {
			d->hidden = true; /* off the task list: lookup only */
			s->nhidden++;
		}
		if (d)
			taskdirs[i] = pfs_dir_new(s->tree, d, "task", 0555, t->euid, t->egid);
		if (!d || !taskdirs[i])
			err = -ENOMEM;
		s->nprocs++;
	}
	for (size_t i = 0; i < l->n && !err; i++) {
		const struct vmt_task *t = &l->tasks[i];
		ssize_t leader = t->flags & VMT_F_THREAD ? task_find(l, t->tgid) : (ssize_t)i;

		if (leader < 0 || !taskdirs[leader]) {
			pr_warn("procfs: thread %d of %d: no leader in the task list", t->pid,
				t->tgid);
			continue;
		}
		if (!task_dir(s, o, taskdirs[leader], t))
			err = -ENOMEM;
		s->nthreads++;
	}
	free(taskdirs);
	return err;
}

/* ------------------------------------------------------------ build */

/* The interfaces the supervisor's SIOCGIF* answers come from (NULL if unreadable). */
static void netdevs_read(struct pfs_snapshot *s, struct vmt_guest *g)
{
	if (vmt_netdevs(g, &s->netdevs)) {
		pr_warn("procfs: net devices: %s", vmt_last_error());
		s->partial |= VMT_F_PARTIAL;
	}
	s->ctx.netdevs = s->netdevs; /* /proc/net/dev and if_inet6 say what the ioctls say */
}

static void lists_read(struct pfs_snapshot *s, struct vmt_guest *g)
{
	struct vmt_cpu_stat *cs;
	int err;

	if (vmt_sysinfo(g, &s->si) == 0) {
		s->ctx.si = &s->si;
		if (s->si.flags & VMT_F_PARTIAL)
			s->partial |= VMT_F_PARTIAL;
	} else {
		pr_warn("procfs: system info: %s", vmt_last_error());
		s->partial |= VMT_F_PARTIAL;
	}
	/* /proc/uptime's idle figure: the CPUs' idle time, as /proc/stat sums it. */
	if (vmt_cpu_stat(g, &cs) == 0) {
		s->ctx.idle_ns = cs->total.ns[VMT_CPU_IDLE];
		vmt_cpu_stat_free(cs);
	}
	err = vmt_sockets(g, &s->socks);
	if (err || (s->socks->flags & VMT_F_PARTIAL)) {
		pr_warn("procfs: sockets%s: %s", err ? "" : " (partial)", vmt_last_error());
		s->partial |= VMT_F_PARTIAL;
	}
	err = vmt_modules(g, &s->mods);
	if (err || (s->mods->flags & VMT_F_PARTIAL)) {
		pr_warn("procfs: modules%s: %s", err ? "" : " (partial)", vmt_last_error());
		s->partial |= VMT_F_PARTIAL;
	}
	s->ctx.socks = s->socks;
	s->ctx.mods = s->mods;
	netdevs_read(s, g);
}

static int lazy_cmp(const void *a, const void *b)
{
	const struct pfs_lazy_dir *x = a, *y = b;

	return (x->dir > y->dir) - (x->dir < y->dir);
}

static int layout_build(struct pfs_snapshot *s, const struct pfs_snap_opts *o)
{
	struct pfs_node *root = s->tree->root;

	s->procdir = root;
	if (!o->with_sysmodule)
		return 0;
	s->procdir = pfs_dir(s->tree, root, "proc", 0555, 0, 0);
	s->sysmod = pfs_dir(s->tree, root, "module", 0755, 0, 0);
	return s->procdir && s->sysmod ? 0 : -ENOMEM;
}

/* The tree and its pid directories. */
static int tasks_tree(struct pfs_snapshot *s, const struct pfs_snap_opts *o)
{
	int err;

	s->tree = pfs_tree_new();
	if (!s->tree)
		return -ENOMEM;
	err = layout_build(s, o);
	return err ? err : tasks_build(s, o);
}

static int tree_build(struct pfs_snapshot *s, const struct pfs_snap_opts *o)
{
	double t0 = now_ms(), t1;
	int err = tasks_tree(s, o);

	t1 = now_ms();
	s->tasks_ms = t1 - t0;
	if (!err)
		err = pfs_basic_system_fill(s->tree, &s->ctx, s->procdir);
	if (!err)
		err = pfs_system_fill(s->tree, &s->ctx, s->procdir);
	if (!err && s->sysmod)
		err = pfs_sysmodule_fill(s->tree, s->mods, s->sysmod);
	if (err)
		return err;
	s->system_ms = now_ms() - t1;
	pfs_seal(s->tree);
	if (s->nlazy)
		qsort(s->lazy, s->nlazy, sizeof(*s->lazy), lazy_cmp);
	return 0;
}

int pfs_snapshot_build(struct vmt_guest *g, const struct pfs_snap_opts *o,
		       struct pfs_snapshot **out)
{
	struct pfs_snapshot *s = calloc(1, sizeof(*s));
	struct vmt_mem_stats st0 = {.sz = sizeof(st0)}, st1 = {.sz = sizeof(st1)};
	double t0 = now_ms(), c0 = clock_ms(CLOCK_THREAD_CPUTIME_ID);
	int err;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->ctx.g = g;
	s->ctx.user_hz = 100;
	vmt_listing_begin(g);
	vmt_mem_stats(g, &st0);
	err = vmt_tasks(g, o->lazy ? TASK_BASIC : TASK_FULL, &s->tasks);
	if (err) {
		pr_err("procfs: task list: %s", vmt_last_error());
		goto fail;
	}
	if (s->tasks->flags & VMT_F_PARTIAL)
		s->partial |= VMT_F_PARTIAL;
	s->ctx.tasks = s->tasks;
	lists_read(s, g);
	/* A split VM: every process's details fetched a level at a time, not a task at a time. */
	if (!o->lazy)
		vmt_task_detail_prefetch(g, s->tasks->tasks, s->tasks->n,
					 VMT_DETAIL_MAPS | VMT_DETAIL_FILES);
	s->walk_ms = now_ms() - t0;
	err = tree_build(s, o);
	vmt_listing_end(g); /* a server must not keep the RAM file's lock between builds */
	if (err)
		goto fail;
	vmt_mem_stats(g, &st1);
	s->pages_read = st1.pages_read - st0.pages_read;
	s->build_ms = now_ms() - t0;
	s->cpu_ms = clock_ms(CLOCK_THREAD_CPUTIME_ID) - c0;
	*out = s;
	return 0;
fail:
	vmt_listing_end(g);
	pfs_snapshot_free(s);
	return err;
}

void pfs_snapshot_free(struct pfs_snapshot *s)
{
	if (!s)
		return;
	pfs_tree_free(s->tree);
	vmt_task_list_free(s->tasks);
	vmt_task_list_free(s->full);
	vmt_socket_list_free(s->socks);
	vmt_module_list_free(s->mods);
	vmt_netdev_list_free(s->netdevs);
	free(s->lazy);
	free(s);
}

struct pfs_node *pfs_snapshot_thread(const struct pfs_snapshot *s, const char *name)
{
	char *end, path[48];
	long tid = strtol(name, &end, 10);
	ssize_t i;

	if (*end || end == name || tid <= 0 || tid > INT32_MAX)
		return NULL;
	i = task_find(s->tasks, (int32_t)tid);
	if (i < 0 || !(s->tasks->tasks[i].flags & VMT_F_THREAD))
		return NULL;
	snprintf(path, sizeof(path), "%d/task/%ld", s->tasks->tasks[i].tgid, tid);
	return pfs_walk(s->procdir, path);
}

struct pfs_node *pfs_snapshot_lookup(const struct pfs_snapshot *s, const char *name, bool *alias)
{
	struct pfs_node *n = pfs_child(s->procdir, name);

	if (!n && (n = pfs_snapshot_thread(s, name)))
		*alias = true;
	return n;
}

/* ------------------------------------------------------------ lazy */

static struct pfs_lazy_dir *lazy_find(struct pfs_snapshot *s, struct pfs_node *dir)
{
	struct pfs_lazy_dir key = {.dir = dir};

	return bsearch(&key, s->lazy, s->nlazy, sizeof(*s->lazy), lazy_cmp);
}

int pfs_snapshot_fill(struct pfs_snapshot *s, struct pfs_node *dir)
{
	struct pfs_lazy_dir *ld = s->nlazy ? lazy_find(s, dir) : NULL;
	const struct vmt_task_list *l;
	ssize_t i;
	int err;

	if (!ld || ld->filled)
		return 0;
	if (!s->full) {
		/* One walk of user memory for every task, the first time one is needed. */
		err = vmt_tasks(s->ctx.g, TASK_FULL, &s->full);
		if (err) {
			pr_warn("procfs: task details: %s", vmt_last_error());
			return -EIO;
		}
		s->ctx.tasks = s->full;
	}
	l = s->full;
	i = task_find(l, ld->pid);
	if (i < 0) { /* gone since the snapshot: the basic entry, without user memory */
		l = s->tasks;
		i = task_find(l, ld->pid);
	}
	err = i < 0 ? 0 : task_fill(s, &l->tasks[i], dir);
	ld->filled = true; /* the new nodes are indexed as they are made */
	return err;
}
