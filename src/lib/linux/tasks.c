// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tasks.c - the task walker: processes and threads as /proc shows them.
 *
 * Thread-group leaders hang off init_task.tasks; each group's threads hang
 * off signal->thread_head through task->thread_node.  For every task we
 * read ids, credentials, state and times from task_struct, and for user
 * processes cmdline/environ from the user address space (mm->pgd) and the
 * executable's path from mm->exe_file.
 *
 * Hostile guest: every list is bounded and cycle-checked (lists.c), every
 * string and argument area capped (VMT_MAX_ARGS_BYTES); an unreadable
 * field marks the entry VMT_F_PARTIAL instead of failing the listing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "guest/guest_internal.h"
#include "linux/pids.h"
#include "linux/task_offsets.h"
#include "linux/task_views.h"

/* Growable result array. */
struct task_vec {
	struct vmt_task *v;
	size_t n, cap;
};

static struct vmt_task *task_vec_add(struct task_vec *tv)
{
	if (tv->n == tv->cap) {
		size_t cap = tv->cap ? tv->cap * 2 : 256;
		struct vmt_task *v = realloc(tv->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		tv->v = v;
		tv->cap = cap;
	}
	memset(&tv->v[tv->n], 0, sizeof(tv->v[0]));
	return &tv->v[tv->n++];
}

/*
 * On a split VM, the walk's prefetch plan: the tasks the pid index knows,
 * in pid order (which is the task list's order but for pid wrap-around), so
 * that the walk can ask for the next PLAN_WINDOW task_structs at once.
 */
struct plan_entry {
	uint64_t va;
	uint32_t i; /* index in pid order */
};

struct task_plan {
	uint64_t *va;		 /* pid order */
	struct plan_entry *find; /* sorted by va */
	uint8_t *asked;		 /* by pid-order index: already in a window */
	size_t n;
};

#define PLAN_WINDOW 32

struct task_walk {
	struct vmt_guest *g;
	const struct task_offsets *o;
	unsigned what;
	size_t args_budget;  /* VMT_MAX_ARGS_TOTAL, spent by mm.c */
	size_t threads_left; /* thread-list nodes all groups may still visit */
	uint64_t leader;     /* group whose thread list is being walked */
	struct task_vec tv;
	int err;       /* first allocation failure */
	bool mm_later; /* read every mm after the walk, prefetched together */
	bool streams;  /* and each process's argument pages asked for during the walk */
	unsigned pump_tick;
	struct task_plan plan;
};

/* Read a field; on failure mark the task partial and leave *dst zeroed. */
static void tfield(struct task_walk *w, struct vmt_task *t, uint64_t base, uint32_t off, void *dst,
		   size_t len)
{
	if (off == UINT32_MAX || vmt_kread(w->g, base + off, dst, len)) {
		memset(dst, 0, len);
		t->flags |= VMT_F_PARTIAL;
	}
}

static uint64_t tptr(struct task_walk *w, struct vmt_task *t, uint64_t base, uint32_t off)
{
	uint64_t v = 0;

	tfield(w, t, base, off, &v, sizeof(v));
	return v;
}

static int32_t pid_nr(struct task_walk *w, struct vmt_task *t, uint64_t pid_va)
{
	int32_t nr = 0;

	if (vmt_kptr_ok(pid_va))
		tfield(w, t, pid_va, w->o->pid_numbers, &nr, sizeof(nr));
	return nr;
}

static void task_read_creds(struct task_walk *w, struct vmt_task *t, uint64_t task)
{
	const struct task_offsets *o = w->o;
	uint64_t cred = tptr(w, t, task, o->task_real_cred);

	if (!vmt_kptr_ok(cred)) {
		t->flags |= VMT_F_PARTIAL;
		return;
	}
	tfield(w, t, cred, o->cred_uid, &t->uid, 4);
	tfield(w, t, cred, o->cred_gid, &t->gid, 4);
	tfield(w, t, cred, o->cred_euid, &t->euid, 4);
	tfield(w, t, cred, o->cred_egid, &t->egid, 4);
	tfield(w, t, cred, o->cred_suid, &t->suid, 4);
	tfield(w, t, cred, o->cred_sgid, &t->sgid, 4);
	tfield(w, t, cred, o->cred_fsuid, &t->fsuid, 4);
	tfield(w, t, cred, o->cred_fsgid, &t->fsgid, 4);
}

/* The one-letter state of /proc/PID/stat (fs/proc/array.c task_state_array). */
static char task_state_char(uint32_t state, uint32_t exit_state)
{
	static const char letters[] = "RSDTtXZP";
	uint32_t s = (state | exit_state) & 0x7f; /* TASK_REPORT */

	if ((state & 0x402) == 0x402) /* TASK_IDLE = TASK_UNINTERRUPTIBLE | TASK_NOLOAD */
		return 'I';
	if (!s)
		return 'R';
	return letters[32 - __builtin_clz(s)];
}

/*
 * kernel/workqueue.c wq_worker_comm(): a workqueue worker's /proc name is
 * its comm plus "+desc" while it runs a work item, "-desc" after.
 */
static void task_read_wq_name(struct task_walk *w, struct vmt_task *t, uint64_t task)
{
	const struct task_offsets *o = w->o;
	uint64_t kthread, worker, pool, cur;
	char desc[24];
	size_t n = strlen(t->name);

	if (o->task_worker_private == UINT32_MAX || o->kthread_data == UINT32_MAX ||
	    o->worker_desc == UINT32_MAX || o->worker_current_work == UINT32_MAX ||
	    o->worker_pool == UINT32_MAX)
		return;
	if (vmt_kread_u64(w->g, task + o->task_worker_private, &kthread) || !vmt_kptr_ok(kthread) ||
	    vmt_kread_u64(w->g, kthread + o->kthread_data, &worker) || !vmt_kptr_ok(worker) ||
	    vmt_kread_u64(w->g, worker + o->worker_pool, &pool) || !pool ||
	    vmt_kread_u64(w->g, worker + o->worker_current_work, &cur) ||
	    vmt_kread(w->g, worker + o->worker_desc, desc, sizeof(desc)))
		return;
	desc[sizeof(desc) - 1] = '\0';
	if (desc[0])
		snprintf(t->name + n, sizeof(t->name) - n, "%c%s", cur ? '+' : '-', desc);
}

/* kernel/kthread.c get_kthread_comm(): the untruncated name, if it has one. */
static void task_read_kthread_name(struct task_walk *w, struct vmt_task *t, uint64_t task)
{
	const struct task_offsets *o = w->o;
	uint64_t kthread, full;
	char name[sizeof(t->name)];

	if (o->task_worker_private == UINT32_MAX || o->kthread_full_name == UINT32_MAX)
		return;
	if (vmt_kread_u64(w->g, task + o->task_worker_private, &kthread) || !vmt_kptr_ok(kthread) ||
	    vmt_kread_u64(w->g, kthread + o->kthread_full_name, &full) || !vmt_kptr_ok(full) ||
	    vmt_kread_str(w->g, full, name, sizeof(name)))
		return;
	memcpy(t->name, name, sizeof(name));
}

static void task_read_sched(struct task_walk *w, struct vmt_task *t, uint64_t task)
{
	const struct task_offsets *o = w->o;
	uint32_t state = 0, exit_state = 0, flags = 0;
	int32_t prio = 0, static_prio = 0;

	tfield(w, t, task, o->task_state, &state, 4);
	tfield(w, t, task, o->task_exit_state, &exit_state, 4);
	tfield(w, t, task, o->task_flags, &flags, 4);
	t->state = task_state_char(state, exit_state);
	if (flags & 0x00200000) /* PF_KTHREAD */
		t->flags |= VMT_F_KTHREAD;
	if (flags & 0x00000020) /* PF_WQ_WORKER */
		task_read_wq_name(w, t, task);
	else if (flags & 0x00200000)
		task_read_kthread_name(w, t, task);
	tfield(w, t, task, o->task_prio, &prio, 4);
	tfield(w, t, task, o->task_static_prio, &static_prio, 4);
	t->prio = prio - 100; /* MAX_RT_PRIO, as /proc/PID/stat shows it */
	t->nice = static_prio - 120;
	tfield(w, t, task, o->task_start_boottime, &t->start_ns, 8);
	tfield(w, t, task, o->task_utime, &t->utime_ns, 8);
	tfield(w, t, task, o->task_stime, &t->stime_ns, 8);
}

static void task_read_signal(struct task_walk *w, struct vmt_task *t, uint64_t signal)
{
	const struct task_offsets *o = w->o;

	if (!vmt_kptr_ok(signal)) {
		t->flags |= VMT_F_PARTIAL;
		return;
	}
	tfield(w, t, signal, o->signal_nr_threads, &t->nthreads, 4);
	if (o->signal_pids != UINT32_MAX) {
		t->pgrp = pid_nr(w, t, tptr(w, t, signal, o->signal_pids + 8 * o->pidtype_pgid));
		t->session = pid_nr(w, t, tptr(w, t, signal, o->signal_pids + 8 * o->pidtype_sid));
	}
}

/* A field of the structure at base as a prefetch range (absent fields: none). */
static void krange_add(struct vmt_krange *r, size_t *n, uint64_t base, uint32_t off, uint32_t len)
{
	if (off != UINT32_MAX && vmt_kptr_ok(base))
		r[(*n)++] = (struct vmt_krange){.va = base + off, .len = len};
}

/*
 * The fields of task_struct the walk reads, as prefetch ranges: they lie in
 * its first few KiB, while the struct is 9-10 KiB (thread and FPU state
 * last), so asking for the fields rather than the struct saves a page or
 * two per task.  At most TASK_FIELD_RANGES.
 */
#define TASK_FIELD_RANGES 19
static size_t task_field_ranges(const struct task_offsets *o, uint64_t task, struct vmt_krange *r)
{
	const struct {
		uint32_t off, len;
	} f[TASK_FIELD_RANGES] = {
	    {o->task_tasks, 16},
	    {o->task_pid, 4},
	    {o->task_tgid, 4},
	    {o->task_comm, 16},
	    {o->task_real_parent, 8},
	    {o->task_group_leader, 8},
	    {o->task_state, 4},
	    {o->task_exit_state, 4},
	    {o->task_flags, 4},
	    {o->task_real_cred, 8},
	    {o->task_signal, 8},
	    {o->task_thread_node, 16},
	    {o->task_mm, 8},
	    {o->task_start_boottime, 8},
	    {o->task_utime, 8},
	    {o->task_stime, 8},
	    {o->task_prio, 4},
	    {o->task_static_prio, 4},
	    {o->task_worker_private, 8},
	};
	size_t n = 0;

	for (size_t i = 0; i < TASK_FIELD_RANGES; i++)
		krange_add(r, &n, task, f[i].off, f[i].len);
	return n;
}

/*
 * What the walk of one task dereferences after its task_struct (parent,
 * cred, signal, a kernel thread's struct kthread), as prefetch ranges; at
 * most TASK_DEP_RANGES.  Reads the task_struct, which must be cached
 * already for this to cost nothing.
 */
#define TASK_DEP_RANGES 7
static size_t task_dep_ranges(struct task_walk *w, uint64_t task, struct vmt_krange *r)
{
	const struct task_offsets *o = w->o;
	uint64_t p;
	size_t n = 0;

	if (!vmt_kread_u64(w->g, task + o->task_real_parent, &p))
		krange_add(r, &n, p, o->task_tgid, 4);
	if (!vmt_kread_u64(w->g, task + o->task_real_cred, &p))
		krange_add(r, &n, p, 0, o->cred_size != UINT32_MAX ? o->cred_size : 8);
	if (!vmt_kread_u64(w->g, task + o->task_signal, &p)) {
		krange_add(r, &n, p, o->signal_nr_threads, 4);
		krange_add(r, &n, p, o->signal_pids, 8 * 4);
		krange_add(r, &n, p, o->signal_thread_head, 16);
	}
	if (o->task_worker_private != UINT32_MAX &&
	    !vmt_kread_u64(w->g, task + o->task_worker_private, &p)) {
		krange_add(r, &n, p, o->kthread_data, 8);
		krange_add(r, &n, p, o->kthread_full_name, 8);
	}
	return n;
}

/* A kernel thread's worker and full name: the third level of its walk. */
#define TASK_KTHREAD_RANGES 4
static size_t task_kthread_ranges(struct task_walk *w, uint64_t task, struct vmt_krange *r)
{
	const struct task_offsets *o = w->o;
	uint64_t kthread, p;
	size_t n = 0;

	if (o->task_worker_private == UINT32_MAX ||
	    vmt_kread_u64(w->g, task + o->task_worker_private, &kthread) || !vmt_kptr_ok(kthread))
		return 0;
	if (o->kthread_data != UINT32_MAX && !vmt_kread_u64(w->g, kthread + o->kthread_data, &p)) {
		krange_add(r, &n, p, o->worker_desc, 24);
		krange_add(r, &n, p, o->worker_current_work, 8);
		krange_add(r, &n, p, o->worker_pool, 8);
	}
	if (o->kthread_full_name != UINT32_MAX &&
	    !vmt_kread_u64(w->g, kthread + o->kthread_full_name, &p))
		krange_add(r, &n, p, 0, sizeof(((struct vmt_task *)0)->name));
	return n;
}

/*
 * Prefetch the tasks at pid-order indexes idx..: up to PLAN_WINDOW not yet
 * asked for.  Three round trips for the window instead of one or more per
 * task: the task_structs, then what they point to, then kernel threads'
 * workers and names.
 */
static void plan_window(struct task_walk *w, size_t idx)
{
	struct task_plan *p = &w->plan;
	/* One array for the three batches: the fields are the most ranges a task gives. */
	_Static_assert(TASK_FIELD_RANGES >= TASK_DEP_RANGES &&
			   TASK_FIELD_RANGES >= TASK_KTHREAD_RANGES,
		       "plan_window's array holds every batch");
	struct vmt_krange r[PLAN_WINDOW * TASK_FIELD_RANGES] = {{0}};
	uint64_t win[PLAN_WINDOW];
	size_t k = 0, n = 0;

	for (size_t j = idx; j < p->n && k < PLAN_WINDOW; j++) {
		if (p->asked[j])
			continue;
		p->asked[j] = 1;
		win[k++] = p->va[j];
		n += task_field_ranges(w->o, p->va[j], r + n);
	}
	vmt_kprefetch(w->g, r, n);
	n = 0;
	for (size_t j = 0; j < k; j++)
		n += task_dep_ranges(w, win[j], r + n);
	vmt_kprefetch(w->g, r, n);
	n = 0;
	for (size_t j = 0; j < k; j++)
		n += task_kthread_ranges(w, win[j], r + n);
	vmt_kprefetch(w->g, r, n);
}

static int plan_cmp(const void *a, const void *b)
{
	const struct plan_entry *x = a, *y = b;

	return (x->va > y->va) - (x->va < y->va);
}

/* Pid-order index of task in the plan, or -1. */
static ssize_t plan_find(const struct task_plan *p, uint64_t task)
{
	struct plan_entry key = {.va = task}, *e;

	if (!p->n)
		return -1;
	e = bsearch(&key, p->find, p->n, sizeof(*e), plan_cmp);
	return e ? (ssize_t)e->i : -1;
}

/* The plan, when hints pay; without one (or on any failure) tasks are prefetched one by one. */
static void plan_build(struct task_walk *w)
{
	struct task_plan *p = &w->plan;
	size_t n;

	if (!w->mm_later || vmt_pid_tasks(w->g, &p->va, NULL, &n))
		return;
	p->find = malloc((n + 1) * sizeof(*p->find));
	p->asked = calloc(n + 1, 1);
	if (!p->find || !p->asked)
		return;
	for (size_t i = 0; i < n; i++)
		p->find[i] = (struct plan_entry){.va = p->va[i], .i = (uint32_t)i};
	qsort(p->find, n, sizeof(*p->find), plan_cmp);
	p->n = n;
}

static void plan_free(struct task_plan *p)
{
	free(p->va);
	free(p->find);
	free(p->asked);
	*p = (struct task_plan){0};
}

/*
 * On a split VM every level of pointers costs a round trip per remote page
 * (method 1 at small chunks above all).  A task the plan knows comes with
 * its window; any other (hidden from the pid index, or forked since) is
 * asked for alone: the whole task_struct, then what its walk dereferences
 * next and the task after it in the list, at once.  The mm of every task
 * comes later, all at once (tasks_prefetch_mm).  Hints only: the reads
 * below still check everything.
 */
static void task_prefetch(struct task_walk *w, uint64_t task)
{
	const struct task_offsets *o = w->o;
	struct vmt_krange r[2 * TASK_FIELD_RANGES];
	ssize_t idx;
	uint64_t p;
	size_t n;

	if (!w->mm_later) /* hints do not pay: reading pointers for them would be wasted */
		return;
	idx = plan_find(&w->plan, task);
	if (idx >= 0) {
		if (!w->plan.asked[idx])
			plan_window(w, (size_t)idx);
		return;
	}
	vmt_kprefetch(w->g, r, task_field_ranges(o, task, r));
	n = task_dep_ranges(w, task, r);
	if (!vmt_kread_u64(w->g, task + o->task_tasks, &p) && vmt_kptr_ok(p))
		n += task_field_ranges(o, p - o->task_tasks, r + n);
	vmt_kprefetch(w->g, r, n);
}

/* Fill everything that lives in task_struct (and cred, signal, parent). */
static void task_read_common(struct task_walk *w, struct vmt_task *t, uint64_t task)
{
	const struct task_offsets *o = w->o;
	uint64_t parent, leader;

	t->kva = task;
	tfield(w, t, task, o->task_pid, &t->pid, 4);
	tfield(w, t, task, o->task_tgid, &t->tgid, 4);
	tfield(w, t, task, o->task_comm, t->comm, sizeof(t->comm));
	t->comm[sizeof(t->comm) - 1] = '\0';
	memcpy(t->name, t->comm, sizeof(t->comm));
	parent = tptr(w, t, task, o->task_real_parent);
	if (vmt_kptr_ok(parent))
		tfield(w, t, parent, o->task_tgid, &t->ppid, 4);
	leader = tptr(w, t, task, o->task_group_leader);
	t->leader = leader;
	if (leader != task)
		t->flags |= VMT_F_THREAD;
	if (t->pid == 0) /* the idle task has no parent in /proc terms */
		t->ppid = 0;
	task_read_creds(w, t, task);
	task_read_sched(w, t, task);
	task_read_signal(w, t, tptr(w, t, task, o->task_signal));
}

static void task_stream_args(struct task_walk *w, const struct vmt_task *t, uint64_t task);

/* Add the task at task_va; drop it again if it is not in the group being walked. */
static int task_visit_thread(struct vmt_guest *g, uint64_t node, void *arg)
{
	struct task_walk *w = arg;
	struct vmt_task *t;

	if (w->threads_left == 0)
		return vmt_error(-EBADMSG, "thread lists hold more than %u tasks in all",
				 VMT_MAX_TASKS);
	w->threads_left--;
	t = task_vec_add(&w->tv);
	if (!t)
		return w->err = -ENOMEM;
	if (node - w->o->task_thread_node != w->leader) /* task_visit asked for the leader */
		task_prefetch(w, node - w->o->task_thread_node);
	task_read_common(w, t, node - w->o->task_thread_node);
	if (t->leader != w->leader) { /* a thread list shared or forged across groups */
		vmt_task_clear(t);
		w->tv.n--;
		return 0;
	}
	if (!w->mm_later)
		vmt_task_read_mm(g, w->o, t, w->what, &w->args_budget);
	else
		task_stream_args(w, t, t->kva);
	return 0;
}

/*
 * Read for a hint; local: only from pages on the main host (nothing
 * fetched, nothing waited for).  True if read.
 */
static bool hint_kread(struct vmt_guest *g, uint64_t va, void *buf, size_t len, bool local)
{
	uint64_t pa;

	if (!local)
		return !vmt_kread(g, va, buf, len);
	return (va & (VMT_PAGE_SIZE - 1)) + len <= VMT_PAGE_SIZE && !vmt_kva_to_pa(g, va, &pa) &&
	       !vmt_mem_read_local(g->mem, pa, buf, len);
}

/*
 * Where the strings vmt_task_read_mm will read are: the process's
 * page-table root and the ranges r[i] = [start, end) of its arguments and,
 * when the walk reads it, its environment (one range when they touch, as
 * the kernel lays them out).  Hints only: the real read reads it all again.
 * Returns how many ranges, 0 to 2.
 */
static unsigned task_args_where(struct task_walk *w, uint64_t task, bool local, uint64_t *root,
				uint64_t r[2][2])
{
	const struct task_offsets *o = w->o;
	uint64_t mm, pgd, e[2];

	if (!hint_kread(w->g, task + o->task_mm, &mm, 8, local) || !vmt_kptr_ok(mm) ||
	    !hint_kread(w->g, mm + o->mm_pgd, &pgd, 8, local) || vmt_kva_to_pa(w->g, pgd, root) ||
	    !hint_kread(w->g, mm + o->mm_arg_start, &r[0][0], 8, local) ||
	    !hint_kread(w->g, mm + o->mm_arg_end, &r[0][1], 8, local) || r[0][1] <= r[0][0])
		return 0;
	if (!(w->what & VMT_TASK_ENVIRON) ||
	    !hint_kread(w->g, mm + o->mm_env_start, &e[0], 8, local) ||
	    !hint_kread(w->g, mm + o->mm_env_end, &e[1], 8, local) || e[1] <= e[0])
		return 1;
	if (e[0] <= r[0][1] && e[1] >= r[0][0]) { /* touching: one range */
		r[0][0] = VMT_MIN(r[0][0], e[0]);
		r[0][1] = VMT_MAX(r[0][1], e[1]);
		return 1;
	}
	r[1][0] = e[0];
	r[1][1] = e[1];
	return 2;
}

/*
 * The hints for ranges r[0..n) (task_args_where): for each, its bytes on
 * its first page and, if it ends on another, on its last -- the reads need
 * no more of those pages (method 1 fetches just those bytes); pages in
 * between, if any, are read when needed.  Fills up to 2 n hints.
 */
static unsigned task_args_hints(uint64_t root, uint64_t r[][2], unsigned n, struct vmt_x86_hint *h)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++) {
		uint64_t a = r[i][0], b = r[i][1];
		uint64_t first_end = (a | (VMT_PAGE_SIZE - 1)) + 1;
		uint64_t last = (b - 1) & ~(uint64_t)(VMT_PAGE_SIZE - 1);

		if (!((a ^ (b - 1)) >> VMT_PAGE_SHIFT)) {
			h[k++] = (struct vmt_x86_hint){
			    .root_pa = root, .va = a, .len = (uint32_t)(b - a)};
			continue;
		}
		h[k++] = (struct vmt_x86_hint){
		    .root_pa = root, .va = a, .len = (uint32_t)(first_end - a)};
		h[k++] =
		    (struct vmt_x86_hint){.root_pa = root, .va = last, .len = (uint32_t)(b - last)};
	}
	return k;
}

/*
 * Streams (vmt_mem_streams, methods 1 and 2): the process's argument (and
 * environment) strings are asked for as soon as the walk meets it, through its mm and page
 * tables where they are on the main host, so that their transfer from the
 * sub-hosts (on method 1's fetcher thread, or by the pager) overlaps the
 * rest of the walk instead of following it: measured on 1,000 processes
 * with 1,012 argument pages on two sub-hosts, method 1's listing waited 2.7
 * instead of 18 ms for them and took 36 instead of 43 ms, method 2's waited
 * 8-17.5 instead of 30 ms and took 26.5-38.7 instead of 42.5 ms
 * (bench/split_read.sh).  With exact reads (method 1) only the strings'
 * bytes come, 78 KB instead of 4 MB there.  A task whose mm or tables
 * are elsewhere gets no hint here: tasks_prefetch_mm batches what is left.
 * The hint reads no remote page and is checked by nothing: the real read
 * (vmt_task_read_mm) reads everything again.
 */
#define TASK_PUMP_EVERY 8 /* tasks between hand-overs of the hints held back */

static void task_stream_args(struct task_walk *w, const struct vmt_task *t, uint64_t task)
{
	struct vmt_x86_hint h[4];
	uint64_t root, r[2][2];
	unsigned n;

	if (!w->streams || (t->flags & VMT_F_THREAD))
		return;
	if (++w->pump_tick % TASK_PUMP_EVERY == 0)
		vmt_mem_stream_pump(w->g->mem);
	n = task_args_where(w, task, true, &root, r);
	n = task_args_hints(root, r, n, h);
	for (unsigned i = 0; i < n; i++)
		vmt_x86_stream(w->g->mmu, h[i].root_pa, h[i].va, h[i].len);
}

static int task_add(struct task_walk *w, uint64_t task)
{
	struct vmt_task *t = task_vec_add(&w->tv);

	if (!t)
		return w->err = -ENOMEM;
	task_read_common(w, t, task);
	if (!w->mm_later)
		vmt_task_read_mm(w->g, w->o, t, w->what, &w->args_budget);
	else
		task_stream_args(w, t, task);
	return 0;
}

/*
 * Hints for what the mm reads of every task will need: the mm_structs of
 * all tasks in one batch, then each process's first and last argument page
 * through its page tables, one batch per level (vmt_x86_prefetch), a slice
 * of tasks at a time (tasks_read_mm).  On a split VM that is a handful of
 * round trips for the whole listing instead of several per process.
 */
/* The executables' files, then their dentries (r: room for a range per task). */
static void tasks_prefetch_exe(struct task_walk *w, struct vmt_krange *r)
{
	const struct task_offsets *o = w->o;
	uint64_t mm, file;
	size_t k = 0;

	for (size_t i = 0; i < w->tv.n; i++)
		if (!vmt_kread_u64(w->g, w->tv.v[i].kva + o->task_mm, &mm) && vmt_kptr_ok(mm) &&
		    !vmt_kread_u64(w->g, mm + o->mm_exe_file, &file) && vmt_kptr_ok(file))
			r[k++] = (struct vmt_krange){.va = file + o->file_f_path, .len = 16};
	vmt_kprefetch(w->g, r, k);
	for (size_t i = 0; i < k; i++)
		if (vmt_kread_u64(w->g, r[i].va + o->path_dentry, &r[i].va))
			r[i].va = 0;
	for (size_t i = 0; i < k; i++)
		r[i].len = 256; /* the dentry's name and parent */
	vmt_kprefetch(w->g, r, k);
}

/* The mm_structs' fields the mm reads need, then the executables' names, all tasks at once. */
static void tasks_prefetch_mm(struct task_walk *w)
{
	const struct task_offsets *o = w->o;
	size_t n = w->tv.n, k = 0;
	struct vmt_krange *r = calloc(4 * n + 1, sizeof(*r));
	uint64_t mm;

	for (size_t i = 0; r && i < n; i++) {
		if (vmt_kread_u64(w->g, w->tv.v[i].kva + o->task_mm, &mm) || !vmt_kptr_ok(mm))
			continue;
		r[k++] = (struct vmt_krange){.va = mm + o->mm_pgd, .len = 8};
		r[k++] = (struct vmt_krange){.va = mm + o->mm_arg_start, .len = 16};
		if (o->mm_rss_stat != UINT32_MAX)
			r[k++] = (struct vmt_krange){.va = mm + o->mm_rss_stat,
						     .len = 4 * o->mm_rss_stride};
		if (w->what & VMT_TASK_EXE)
			r[k++] = (struct vmt_krange){.va = mm + o->mm_exe_file, .len = 8};
	}
	vmt_kprefetch(w->g, r, k);
	if (r && (w->what & VMT_TASK_EXE))
		tasks_prefetch_exe(w, r);
	free(r);
}

/* The argument (and environment) pages of tasks [from, to), through their page tables. */
static void tasks_prefetch_args(struct task_walk *w, size_t from, size_t to, struct vmt_x86_hint *h)
{
	uint64_t root, r2[2][2];
	size_t k = 0;

	for (size_t i = from; (w->what & VMT_TASK_CMDLINE) && i < to; i++) {
		unsigned ranges = task_args_where(w, w->tv.v[i].kva, false, &root, r2);

		k += task_args_hints(root, r2, ranges, &h[k]);
	}
	vmt_x86_prefetch(w->g->mmu, h, k);
}

/*
 * Second pass of the walk when hints pay (mm_later): what each task's mm
 * says (cmdline, exe, rss), after one prefetch of the mm_structs for all of
 * them.  Otherwise each task's mm was read right after the task, while its
 * pages are hot.
 *
 * The argument pages are asked for TASK_ARGS_SLICE tasks at a time, each
 * slice just before its tasks are read.  One prefetch for all of them
 * waited for the last page before the first task was decoded: a method-2
 * `ps` of 1,000 processes waited 12-15 ms in one PAGEIN of 480-780 chunks,
 * then decoded them all.  In slices the decoding of one overlaps the
 * transfer of the next (the pager pages the hinted chunks in while the
 * walk decodes; method 1's stream has them on their way): method 2's
 * listing 26.3 instead of 27.5 ms, method 1's with whole chunks 23.7
 * instead of 24.7 (medians of 10 and 12, alternating builds).
 */
#define TASK_ARGS_SLICE 64

static void tasks_read_mm(struct task_walk *w)
{
	struct vmt_x86_hint *h = calloc(4 * TASK_ARGS_SLICE, sizeof(*h)); /* 4 a task */

	if (!w->mm_later) {
		free(h);
		return;
	}
	tasks_prefetch_mm(w);
	for (size_t i = 0; i < w->tv.n; i++) {
		if (h && i % TASK_ARGS_SLICE == 0)
			tasks_prefetch_args(w, i, VMT_MIN(i + TASK_ARGS_SLICE, w->tv.n), h);
		vmt_task_read_mm(w->g, w->o, &w->tv.v[i], w->what, &w->args_budget);
	}
	free(h);
}

static int task_visit(struct vmt_guest *g, uint64_t node, void *arg)
{
	struct task_walk *w = arg;
	uint64_t task = node - w->o->task_tasks, signal;
	size_t before = w->tv.n;
	int err;

	task_prefetch(w, task); /* the signal below is the first read of the task */
	if (!(w->what & VMT_TASK_THREADS))
		return task_add(w, task);
	if (vmt_kread_u64(g, task + w->o->task_signal, &signal) || !vmt_kptr_ok(signal))
		return task_add(w, task); /* no thread list to walk: the leader, partial */
	w->leader = task;
	err = vmt_list_walk(g, signal + w->o->signal_thread_head, VMT_MAX_TASKS, task_visit_thread,
			    w);
	if (err == -ENOMEM)
		return err;
	if (err) /* a corrupt thread list costs this group, not the listing */
		pr_warn("threads of task at 0x%llx: %s", (unsigned long long)task,
			vmt_last_error());
	if (w->tv.n == before) /* the leader must show even if its list is garbage */
		return task_add(w, task);
	return 0;
}

static int kva_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* A task of the pid index whose task_struct cannot be read: named by its pid, partial. */
static int task_add_unreadable(struct task_walk *w, uint64_t task, int32_t nr)
{
	struct vmt_task *t = task_vec_add(&w->tv);

	if (!t)
		return w->err = -ENOMEM;
	t->pid = t->tgid = nr;
	t->kva = task;
	t->flags = VMT_F_PARTIAL;
	return 0;
}

/* One task of the pid index that the walk did not reach. */
static int task_recover(struct task_walk *w, uint64_t task, int32_t nr)
{
	uint64_t leader;

	if (vmt_kread_u64(w->g, task + w->o->task_group_leader, &leader))
		return task_add_unreadable(w, task, nr);
	if (leader == task)
		return task_visit(w->g, task + w->o->task_tasks, w);
	if (!(w->what & VMT_TASK_THREADS))
		return 0;
	task_prefetch(w, task);
	return task_add(w, task); /* a thread whose group's list broke too */
}

/*
 * Is the leader at task on the task list now?  Its neighbour must point
 * back at it.  A task forked after the walk passed the list's tail is (the
 * pid index is read after the walk); one unlinked by hand (its node
 * pointing at itself, or at neighbours that no longer point back), or by
 * list_del() (poisoned pointers), is not.
 */
static bool task_linked(struct task_walk *w, uint64_t task)
{
	uint64_t node = task + w->o->task_tasks, next, back;

	return !vmt_kread_u64(w->g, node, &next) && vmt_kptr_ok(next) && next != node &&
	       !vmt_kread_u64(w->g, next + 8, &back) && back == node;
}

/*
 * Tasks recovered from index from on: a leader that is not on the list is
 * marked, and so are its threads (a thread's own list node is a stale copy
 * of its creator's: only its leader's says anything).
 */
static void unlisted_mark(struct task_walk *w, size_t from, uint32_t mark)
{
	for (size_t i = from; i < w->tv.n; i++) {
		struct vmt_task *t = &w->tv.v[i];

		if (t->kva == t->leader && !task_linked(w, t->kva))
			t->flags |= mark;
	}
	for (size_t i = from; i < w->tv.n; i++) {
		struct vmt_task *t = &w->tv.v[i];

		for (size_t j = from; j < w->tv.n && t->kva != t->leader; j++)
			if (w->tv.v[j].kva == t->leader)
				t->flags |= w->tv.v[j].flags & mark;
	}
}

/*
 * The task list broke (an unreadable task_struct: a sub-host that is gone,
 * or damage): the tasks the pid index knows and the walk did not reach are
 * listed from there, so that a gap costs the tasks in it, not every task
 * after it.  Copies of one task are dropped later (task_vec_sort_unique).
 */
static void tasks_recover(struct task_walk *w, uint32_t *list_flags, uint32_t mark)
{
	uint64_t *va = NULL, *seen = malloc((w->tv.n + 1) * sizeof(*seen));
	int32_t *nr = NULL;
	size_t n = 0, nseen = w->tv.n;

	if (!seen || vmt_pid_tasks(w->g, &va, &nr, &n))
		goto out;
	for (size_t i = 0; i < nseen; i++)
		seen[i] = w->tv.v[i].kva;
	qsort(seen, nseen, sizeof(*seen), kva_cmp);
	for (size_t i = 0; i < n && !w->err; i++)
		if (!bsearch(&va[i], seen, nseen, sizeof(*seen), kva_cmp))
			task_recover(w, va[i], nr[i]);
	if (mark)
		unlisted_mark(w, nseen, mark);
	*list_flags |= VMT_F_PIDINDEX;
out:
	free(seen);
	free(va);
	free(nr);
}

static int task_cmp_pid(const void *a, const void *b)
{
	const struct vmt_task *x = a, *y = b;

	if (x->pid != y->pid)
		return (x->pid > y->pid) - (x->pid < y->pid);
	return (x->kva > y->kva) - (x->kva < y->kva);
}

/*
 * Brent's check may report up to two laps of a cycle before it sees it, and
 * a forged list may hold a task twice: keep one entry per task_struct.
 * Sorted by (pid, kva), copies of one task are neighbours.
 */
static void task_vec_sort_unique(struct task_vec *tv)
{
	size_t out = 0;

	if (!tv->n)
		return;
	qsort(tv->v, tv->n, sizeof(*tv->v), task_cmp_pid);
	for (size_t i = 0; i < tv->n; i++) {
		if (out && tv->v[out - 1].kva == tv->v[i].kva) {
			vmt_task_clear(&tv->v[i]);
			continue;
		}
		tv->v[out++] = tv->v[i];
	}
	tv->n = out;
}

int vmt_tasks(struct vmt_guest *g, unsigned what, struct vmt_task_list **out)
{
	struct task_walk w = {
	    .g = g,
	    .what = what,
	    .args_budget = VMT_MAX_ARGS_TOTAL,
	    .threads_left = VMT_MAX_TASKS,
	    .mm_later = vmt_mem_hints_pay(g->mem),
	    .streams = (what & VMT_TASK_CMDLINE) && vmt_mem_streams(g->mem),
	};
	struct vmt_task_list *l;
	uint64_t init_task;
	uint32_t list_flags = 0;
	uint32_t hidden_flags = 0; /* not the list's: a list that is whole is not partial */
	int err, walk_err;

	*out = NULL;
	if (what & VMT_TASK_VIEWS)
		return vmt_task_views(g, what, out);
	err = vmt_task_offsets(g, &w.o);
	if (err)
		return err;
	err = vmt_ksym(g, "init_task", &init_task);
	if (err)
		return vmt_error(-ENOEXEC, "kernel profile has no init_task");
	plan_build(&w);
	walk_err = vmt_list_walk(g, init_task + w.o->task_tasks, VMT_MAX_TASKS, task_visit, &w);
	plan_free(&w.plan);
	if (walk_err && !w.err)
		tasks_recover(&w, &list_flags, 0);
	else if (!w.err && (what & VMT_TASK_PIDINDEX))
		tasks_recover(&w, &hidden_flags, VMT_F_UNLISTED); /* DKOM: a task off the list */
	if (w.err) {
		err = w.err;
		goto err_free;
	}
	tasks_read_mm(&w);
	l = calloc(1, sizeof(*l));
	if (!l) {
		err = -ENOMEM;
		goto err_free;
	}
	task_vec_sort_unique(&w.tv);
	l->tasks = w.tv.v;
	l->n = w.tv.n;
	/* A corrupt task list still hands back what was read (and recovered). */
	if (walk_err)
		l->flags |= VMT_F_PARTIAL | list_flags;
	*out = l;
	return 0;

err_free:
	for (size_t i = 0; i < w.tv.n; i++)
		vmt_task_clear(&w.tv.v[i]);
	free(w.tv.v);
	return err;
}

int vmt_tasks_read_at(struct vmt_guest *g, unsigned what, const uint64_t *kvas, size_t n,
		      struct vmt_task_list **out)
{
	struct task_walk w = {
	    .g = g,
	    .what = what,
	    .args_budget = VMT_MAX_ARGS_TOTAL,
	    .mm_later = vmt_mem_hints_pay(g->mem),
	    .streams = (what & VMT_TASK_CMDLINE) && vmt_mem_streams(g->mem),
	};
	struct vmt_task_list *l;
	int err = vmt_task_offsets(g, &w.o);

	*out = NULL;
	if (err)
		return err;
	for (size_t i = 0; i < n && !w.err; i++) {
		task_prefetch(&w, kvas[i]);
		task_add(&w, kvas[i]);
	}
	l = w.err ? NULL : calloc(1, sizeof(*l));
	if (!l) {
		for (size_t i = 0; i < w.tv.n; i++)
			vmt_task_clear(&w.tv.v[i]);
		free(w.tv.v);
		return -ENOMEM;
	}
	tasks_read_mm(&w);
	task_vec_sort_unique(&w.tv);
	l->tasks = w.tv.v;
	l->n = w.tv.n;
	*out = l;
	return 0;
}

void vmt_task_list_free(struct vmt_task_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		vmt_task_clear(&l->tasks[i]);
	free(l->tasks);
	free(l);
}
