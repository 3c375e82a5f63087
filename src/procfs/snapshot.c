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
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
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

static int pipe_render(struct pfs_snapshot *s, const struct vmt_task *t, struct pfs_node *dir);

static int task_fill(struct pfs_snapshot *s, const struct vmt_task *t, struct pfs_node *dir)
{
	int err = pfs_basic_task_fill(s->tree, &s->ctx, t, dir);

	if (!err)
		err = s->pipe ? pipe_render(s, t, dir) : pfs_task_fill(s->tree, &s->ctx, t, dir);
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

/* ------------------------------------------------------------ two threads */

/*
 * A snapshot's per-process files on two CPUs: this thread reads every
 * task's details from the guest (the guest handle is not shared), a
 * second one builds the tree from them (the tree is not shared either),
 * each in the order tasks_build fills directories, so the tree is the one
 * a single thread builds, node for node (the renderer checks every job is
 * the task and the reading its directory calls for).  Reading and
 * rendering cost about the same, so with a second CPU free the pid
 * directories take about half as long; on a machine whose CPUs are busy
 * the two threads take turns and gain nothing (pipe_wanted decides).
 * Bounded: one job per directory, counted before any is read.
 */
struct fill_job {
	const struct vmt_task *t;
	unsigned what;
	int err;
	struct vmt_task_detail *d; /* the renderer frees it */
};

struct pfs_pipe {
	const struct pfs_snap_opts *o;
	struct fill_job *jobs;
	size_t n, nlead, next; /* nlead: the pid directories' jobs, first; next: the renderer's */
	atomic_bool go;	       /* the task list is read and the jobs counted (or stop) */
	atomic_size_t ready;   /* jobs read so far (published by the reader) */
	atomic_bool waiting;   /* the renderer sleeps on cv ... */
	atomic_size_t wake_at; /* ... until this many jobs are ready */
	atomic_bool stop;      /* the renderer gave up: stop reading */
	pthread_mutex_t lock;
	pthread_cond_t cv;
	pthread_t th;
	int err;       /* the renderer's (tree and tasks_build) */
	double cpu_ms; /* the renderer's CPU time */
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* The leader that task i's task/ directory is under, or -1 (tasks_build's rule). */
static ssize_t leader_of(const struct vmt_task_list *l, size_t i)
{
	ssize_t k = l->tasks[i].flags & VMT_F_THREAD ? task_find(l, l->tasks[i].tgid) : (ssize_t)i;

	return k >= 0 && !(l->tasks[k].flags & VMT_F_THREAD) ? k : -1;
}

/* Every directory tasks_build fills, in its order; what is set as they are read. */
static int pipe_jobs(struct pfs_pipe *p, const struct vmt_task_list *l)
{
	size_t n = 0;

	p->jobs = calloc(2 * l->n + 1, sizeof(*p->jobs));
	if (!p->jobs)
		return -ENOMEM;
	for (size_t i = 0; i < l->n; i++)
		if (!(l->tasks[i].flags & VMT_F_THREAD))
			p->jobs[n++].t = &l->tasks[i];
	p->nlead = n;
	for (size_t i = 0; i < l->n; i++)
		if (leader_of(l, i) >= 0)
			p->jobs[n++].t = &l->tasks[i];
	p->n = n;
	return 0;
}

/*
 * A renderer that caught up sleeps until a batch of jobs is ready (or the
 * last): each wake-up is a system call and an inter-processor interrupt on
 * the reading thread, the one that bounds the build.
 */
#define PIPE_BATCH 64u
#define PIPE_SPIN  2000u /* pauses (some 0.1 ms) before the renderer sleeps */

static void pipe_publish(struct pfs_pipe *p, size_t k)
{
	atomic_store(&p->ready, k + 1);
	if (atomic_load(&p->waiting) && (k + 1 >= atomic_load(&p->wake_at) || k + 1 == p->n)) {
		pthread_mutex_lock(&p->lock);
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->lock);
	}
}

/* Read every job's details (this thread owns the guest). */
static void pipe_read(struct pfs_snapshot *s, struct pfs_pipe *p)
{
	const struct vmt_task_list *l = s->tasks;
	bool *filled = calloc(l->n ? l->n : 1, sizeof(*filled)); /* leaders whose details came */

	for (size_t k = 0; k < p->n && !atomic_load(&p->stop); k++) {
		struct fill_job *j = &p->jobs[k];
		size_t i = (size_t)(j->t - l->tasks);
		bool thread = k >= p->nlead; /* a task/TID directory */
		ssize_t lead = thread ? leader_of(l, i) : -1;

		j->what = pfs_task_what(thread, thread && filled && filled[lead],
					j->t->pid == j->t->tgid);
		j->err = filled ? vmt_task_detail(s->ctx.g, j->t, j->what, &j->d) : -ENOMEM;
		if (!thread && !j->err)
			filled[i] = true;
		pipe_publish(p, k);
	}
	free(filled);
}

/* Sleep until the reader wakes us: when more than *at jobs are ready (or go). */
static void pipe_sleep(struct pfs_pipe *p, size_t at, bool for_go)
{
	pthread_mutex_lock(&p->lock);
	atomic_store(&p->wake_at, at);
	atomic_store(&p->waiting, true);
	while (for_go ? !atomic_load(&p->go) : atomic_load(&p->ready) < at)
		pthread_cond_wait(&p->cv, &p->lock);
	atomic_store(&p->waiting, false);
	pthread_mutex_unlock(&p->lock);
}

/* The renderer's fill of dir: the next job, once read. */
static int pipe_render(struct pfs_snapshot *s, const struct vmt_task *t, struct pfs_node *dir)
{
	struct pfs_pipe *p = s->pipe;
	struct fill_job *j;
	int err;

	if (p->next >= p->n || p->jobs[p->next].t != t)
		return -ESTALE; /* not the directory the jobs were counted for: left out */
	for (unsigned spin = 0; atomic_load(&p->ready) <= p->next;) {
		/* about the 0.1 ms that waking a sleeping thread costs here, then sleep */
		if (++spin < PIPE_SPIN)
			cpu_relax();
		else
			pipe_sleep(p, VMT_MIN(p->next + PIPE_BATCH, p->n), false);
	}
	j = &p->jobs[p->next++];
	err = j->err ? j->err : pfs_task_render(s->tree, &s->ctx, t, dir, j->what, j->d);
	vmt_task_detail_free(j->d);
	j->d = NULL;
	return err;
}

static int tasks_build(struct pfs_snapshot *s, const struct pfs_snap_opts *o);
static int layout_build(struct pfs_snapshot *s, const struct pfs_snap_opts *o);

/*
 * The renderer: started with the build (its start overlaps the walk of the
 * task list), it makes the tree, then the pid directories as the reader
 * hands it their details.
 */
static void *pipe_main(void *arg)
{
	struct pfs_snapshot *s = arg;
	struct pfs_pipe *p = s->pipe;

	s->tree = pfs_tree_new();
	while (!atomic_load(&p->go))
		pipe_sleep(p, 0, true);
	if (!s->tree)
		p->err = -ENOMEM;
	else if (p->n != SIZE_MAX) /* SIZE_MAX: the build stopped before its tasks */
		p->err = layout_build(s, p->o);
	if (!p->err && p->n != SIZE_MAX)
		p->err = tasks_build(s, p->o);
	atomic_store(&p->stop, true);
	p->cpu_ms = clock_ms(CLOCK_THREAD_CPUTIME_ID);
	return NULL;
}

static void pipe_go(struct pfs_pipe *p)
{
	pthread_mutex_lock(&p->lock);
	atomic_store(&p->go, true);
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->lock);
}

/* Start the renderer at the start of a build (NULL: none, build on one thread). */
static struct pfs_pipe *pipe_start(struct pfs_snapshot *s, const struct pfs_snap_opts *o)
{
	struct pfs_pipe *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	*p = (struct pfs_pipe){.o = o};
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cv, NULL);
	s->pipe = p;
	if (pthread_create(&p->th, NULL, pipe_main, s)) {
		s->pipe = NULL;
		free(p);
		return NULL;
	}
	return p;
}

/* Wait for the renderer and free it; its error.  The tree is this thread's again. */
static int pipe_end(struct pfs_snapshot *s)
{
	struct pfs_pipe *p = s->pipe;
	int err;

	if (!atomic_load(&p->go)) {
		p->n = SIZE_MAX; /* no tasks: the renderer only makes the tree */
		pipe_go(p);
	}
	pthread_join(p->th, NULL);
	for (size_t k = 0; p->jobs && k < p->n; k++)
		vmt_task_detail_free(p->jobs[k].d); /* read, never rendered (the build failed) */
	free(p->jobs);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cv);
	s->helper_cpu_ms = p->cpu_ms;
	err = p->err;
	free(p);
	s->pipe = NULL;
	return err;
}

/* The pid directories: the renderer builds them as this thread reads their details. */
static int tasks_build_two(struct pfs_snapshot *s)
{
	struct pfs_pipe *p = s->pipe;
	int err = pipe_jobs(p, s->tasks);

	if (err) {
		p->n = SIZE_MAX;
		pipe_go(p);
		pipe_end(s);
		return err;
	}
	pipe_go(p);
	pipe_read(s, p);
	return pipe_end(s);
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

/*
 * Two threads when a CPU is free for the second: more than one CPU and a
 * one-minute load average below CPUs - 1/2 (sysinfo(2), not /proc/loadavg:
 * under vmt exec /proc is this server's).  On a busy machine the two take
 * turns on one CPU and cost more than one does (bench/results/procfs.md).
 * VMT_PROCFS_THREADS=1 or 2 decides instead.
 */
static bool pipe_wanted(void)
{
	const char *v = getenv("VMT_PROCFS_THREADS");
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct sysinfo si;

	if (v && (!strcmp(v, "1") || !strcmp(v, "2")))
		return v[0] == '2';
	if (ncpu < 2 || sysinfo(&si))
		return false;
	/* loads are fixed point, 1 << SI_LOAD_SHIFT per runnable task */
	return si.loads[0] < (unsigned long)(2 * ncpu - 1) << (SI_LOAD_SHIFT - 1);
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

/* The tree and its pid directories: on the renderer (s->pipe), else on this thread. */
static int tasks_tree(struct pfs_snapshot *s, const struct pfs_snap_opts *o)
{
	int err;

	if (s->pipe)
		return tasks_build_two(s);
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
	struct vmt_mem_stats st0, st1;
	double t0 = now_ms(), c0 = clock_ms(CLOCK_THREAD_CPUTIME_ID);
	int err;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->ctx.g = g;
	s->ctx.user_hz = 100;
	vmt_listing_begin(g);
	vmt_mem_stats(g, &st0);
	s->build_threads = 1;
	if (!o->lazy && pipe_wanted() && pipe_start(s, o))
		s->build_threads = 2; /* else one thread builds */
	err = vmt_tasks(g, o->lazy ? TASK_BASIC : TASK_FULL, &s->tasks);
	if (err) {
		pr_err("procfs: task list: %s", vmt_last_error());
		goto fail;
	}
	if (s->tasks->flags & VMT_F_PARTIAL)
		s->partial |= VMT_F_PARTIAL;
	s->ctx.tasks = s->tasks;
	lists_read(s, g);
	s->walk_ms = now_ms() - t0;
	err = tree_build(s, o);
	if (err)
		goto fail;
	vmt_mem_stats(g, &st1);
	s->pages_read = st1.pages_read - st0.pages_read;
	s->build_ms = now_ms() - t0;
	s->cpu_ms = clock_ms(CLOCK_THREAD_CPUTIME_ID) - c0 + s->helper_cpu_ms;
	*out = s;
	return 0;
fail:
	if (s->pipe)
		pipe_end(s);
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
