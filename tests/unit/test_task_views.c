// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_task_views.c - the task views (linux/task_views.c) over task
 * structures built by hand in a fake guest: the task list both ways, the
 * pid index, thread lists, the children tree, a CPU's runqueue (curr, idle,
 * a CFS tree) and the memory scan; sane, with a task hidden as a rootkit
 * hides it, and hostile (a broken task list, an IDR with a loop, a
 * runqueue pointer to nowhere, a children list that loops, a scan over
 * garbage and over dead task_structs).
 *
 * The fake guest (fake_guest.h) is the real profile of the test guest's
 * kernel over a RAM buffer; without a test kernel every test is skipped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_guest.h"

#define PF_IDLE		0x00000002u
#define PF_KTHREAD	0x00200000u
#define TASK_DEAD	0x00000080u
#define TASK_NEW	0x00000800u
#define STACK_END_MAGIC 0x57AC6E9Du
#define THREAD_SIZE	16384u
#define PCPU_SIZE	(256u << 10)
#define ALL_VIEWS	((1u << VMT_VIEW_COUNT) - 1)
#define LIST_VIEWS	(VMT_VIEW_TASKS | VMT_VIEW_TASKS_PREV | VMT_VIEW_CHILDREN)

/* Offsets of what the views read. */
struct lay {
	uint64_t init_task, rq;
	uint32_t size, tasks, pid, tgid, comm, real_parent, group_leader, state, flags;
	uint32_t real_cred, signal, thread_node, children, sibling, stack, ptraced, ptrace_entry;
	uint32_t perf, thread_head, sig_size, cred_size, se, run_node, pid_links;
	uint32_t rq_curr, rq_idle, rq_cfs, cfs_timeline;
};

/* ------------------------------------------------------------ builders */

static void self_list(struct fake *f, uint64_t head)
{
	list_init(f, head);
}

/* The pid index as one leaf node (pids < 64): pid nr -> task (as test_tasks.c). */
static void idr_add(struct fake *f, uint64_t task, int32_t nr)
{
	uint64_t head = sym("init_pid_ns") + off("pid_namespace", "idr.idr_rt.xa_head");
	uint64_t node = get64(f, head), pid = kalloc(f, off("pid", NULL));

	if (!node) {
		node = kalloc(f, off("xa_node", NULL)) | 2; /* shift 0 */
		put64(f, head, node);
	}
	put32(f, pid + off("pid", "numbers") + off("upid", "nr"), (uint32_t)nr);
	hlist_push(f, pid + off("pid", "tasks"), task + off("task_struct", "pid_links"));
	put64(f, (node - 2) + off("xa_node", "slots") + 8 * (uint64_t)nr, pid);
}

/* The fields that make a task_struct at task look alive (the scan's test). */
static void task_alive(struct fake *f, const struct lay *l, uint64_t task)
{
	uint64_t stack = kalloc_align(f, THREAD_SIZE, THREAD_SIZE);

	put32(f, stack, STACK_END_MAGIC);
	put64(f, task + l->stack, stack);
	self_list(f, task + l->ptraced);
	self_list(f, task + l->ptrace_entry);
	self_list(f, task + l->perf);
	self_list(f, task + l->children);
	put32(f, task + l->state, 1); /* TASK_INTERRUPTIBLE */
	put64(f, task + l->real_cred, kalloc(f, l->cred_size));
}

/*
 * A task: a leader (leader 0) gets its own signal_struct, joins
 * init_task.tasks and its parent's children; a thread shares its leader's
 * signal.  Both join the group's thread list and the pid index.
 */
static uint64_t task_new(struct fake *f, const struct lay *l, int32_t pid, uint64_t leader,
			 uint64_t parent, const char *comm)
{
	uint64_t task = kalloc(f, l->size), signal;
	int32_t tgid = pid;

	parent = parent ? parent : l->init_task;
	if (leader) {
		memcpy(&tgid, at(f, leader + l->tgid, 4), 4);
		signal = get64(f, leader + l->signal);
	} else {
		leader = task;
		signal = kalloc(f, l->sig_size);
		list_init(f, signal + l->thread_head);
		list_add_tail(f, l->init_task + l->tasks, task + l->tasks);
		list_add_tail(f, parent + l->children, task + l->sibling);
	}
	put32(f, task + l->pid, (uint32_t)pid);
	put32(f, task + l->tgid, (uint32_t)tgid);
	putstr(f, task + l->comm, comm);
	put64(f, task + l->real_parent, parent);
	put64(f, task + l->group_leader, leader);
	put64(f, task + l->signal, signal);
	task_alive(f, l, task);
	list_add_tail(f, signal + l->thread_head, task + l->thread_node);
	idr_add(f, task, pid);
	return task;
}

/* One CPU whose per-CPU area holds runqueues; init_task is its idle task. */
static void rq_setup(struct fake *f, struct lay *l)
{
	uint64_t area = kalloc_align(f, PCPU_SIZE, 4096);

	put32(f, sym("nr_cpu_ids"), 1);
	put64(f, sym("__cpu_possible_mask"), 1);
	put64(f, sym("__cpu_online_mask"), 1);
	put64(f, sym("__per_cpu_offset"), area);
	l->rq = sym("runqueues") + area;
	put64(f, l->rq + l->rq_idle, l->init_task);
	put64(f, l->rq + l->rq_curr, l->init_task);
	for (uint64_t i = 0; i < 100; i++) /* MAX_RT_PRIO empty RT queues */
		list_init(f, l->rq + off("rq", "rt") + off("rt_rq", "active") +
				 off("rt_prio_array", "queue") + 16 * i);
}

static void lay_init(struct fake *f, struct lay *l)
{
	uint64_t signal;

	l->init_task = sym("init_task");
	l->size = off("task_struct", NULL);
	l->tasks = off("task_struct", "tasks");
	l->pid = off("task_struct", "pid");
	l->tgid = off("task_struct", "tgid");
	l->comm = off("task_struct", "comm");
	l->real_parent = off("task_struct", "real_parent");
	l->group_leader = off("task_struct", "group_leader");
	l->state = off("task_struct", "__state");
	l->flags = off("task_struct", "flags");
	l->real_cred = off("task_struct", "real_cred");
	l->signal = off("task_struct", "signal");
	l->thread_node = off("task_struct", "thread_node");
	l->children = off("task_struct", "children");
	l->sibling = off("task_struct", "sibling");
	l->stack = off("task_struct", "stack");
	l->ptraced = off("task_struct", "ptraced");
	l->ptrace_entry = off("task_struct", "ptrace_entry");
	l->perf = off("task_struct", "perf_event_list");
	l->pid_links = off("task_struct", "pid_links");
	l->se = off("task_struct", "se");
	l->run_node = off("sched_entity", "run_node");
	l->thread_head = off("signal_struct", "thread_head");
	l->sig_size = off("signal_struct", NULL);
	l->cred_size = off("cred", NULL);
	l->rq_curr = off("rq", "curr");
	l->rq_idle = off("rq", "idle");
	l->rq_cfs = off("rq", "cfs");
	l->cfs_timeline = off("cfs_rq", "tasks_timeline");

	/* init_task (swapper/0): the list heads, its own leader and parent, idle. */
	list_init(f, l->init_task + l->tasks);
	signal = kalloc(f, l->sig_size);
	list_init(f, signal + l->thread_head);
	put64(f, l->init_task + l->signal, signal);
	list_add_tail(f, signal + l->thread_head, l->init_task + l->thread_node);
	putstr(f, l->init_task + l->comm, "swapper/0");
	put64(f, l->init_task + l->real_parent, l->init_task);
	put64(f, l->init_task + l->group_leader, l->init_task);
	put32(f, l->init_task + l->flags, PF_IDLE | PF_KTHREAD);
	task_alive(f, l, l->init_task);
	put32(f, l->init_task + l->state, 0);
	rq_setup(f, l);
}

/* A CFS tree of one queued task (the root node, no children). */
static void rq_queue(struct fake *f, const struct lay *l, uint64_t task)
{
	put64(f, l->rq + l->rq_cfs + l->cfs_timeline, task + l->se + l->run_node);
}

/*
 * The world of most tests: init (1) under init_task, sh (2) under init,
 * worker (3, one more thread: 4) under sh, worker running on the CPU and
 * sh queued.
 */
struct world {
	uint64_t init, sh, worker, thread;
};

static void world_new(struct fake *f, struct lay *l, struct world *w)
{
	lay_init(f, l);
	w->init = task_new(f, l, 1, 0, 0, "init");
	w->sh = task_new(f, l, 2, 0, w->init, "sh");
	w->worker = task_new(f, l, 3, 0, w->sh, "worker");
	w->thread = task_new(f, l, 4, w->worker, w->sh, "worker-t");
	put64(f, l->rq + l->rq_curr, w->worker);
	rq_queue(f, l, w->sh);
}

static struct vmt_task_list *views(struct fake *f, unsigned what)
{
	struct vmt_task_list *l = NULL;

	vmt_listing_begin(&f->g);
	assert_int_equal(vmt_tasks(&f->g, what | VMT_TASK_VIEWS, &l), 0);
	assert_non_null(l);
	for (unsigned i = 0; i < VMT_VIEW_COUNT; i++)
		if (l->views_broken & (1u << i) && getenv("VIEWS_DEBUG"))
			fprintf(stderr, "view %s: %s\n", vmt_task_view_name(1u << i),
				l->view_err[i]);
	return l;
}

static const struct vmt_task *find(const struct vmt_task_list *l, int32_t pid)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->tasks[i].pid == pid)
			return &l->tasks[i];
	return NULL;
}

static uint32_t seen(const struct vmt_task_list *l, int32_t pid)
{
	const struct vmt_task *t = find(l, pid);

	assert_non_null(t);
	return t->seen_by;
}

/* -------------------------------------------------------------- sane */

static void test_view_names(void **state)
{
	(void)state;
	assert_string_equal(vmt_task_view_name(VMT_VIEW_TASKS), "tasks");
	assert_string_equal(vmt_task_view_name(VMT_VIEW_TASKS_PREV), "tasks_prev");
	assert_string_equal(vmt_task_view_name(VMT_VIEW_SCAN), "scan");
	assert_null(vmt_task_view_name(0));
	assert_null(vmt_task_view_name(VMT_VIEW_TASKS | VMT_VIEW_PIDS));
	assert_null(vmt_task_view_name(1u << VMT_VIEW_COUNT));
}

/* Every view sees what it holds; idle tasks are not listed. */
static void test_views_sane(void **state)
{
	struct fake *f = *state;
	struct vmt_task_list *l;
	struct world w;
	struct lay y;

	world_new(f, &y, &w);
	l = views(f, VMT_TASK_THREADS);
	assert_int_equal(l->views_ok, ALL_VIEWS);
	assert_int_equal(l->views_broken, 0);
	assert_int_equal(l->n, 4);
	assert_null(find(l, 0));
	assert_int_equal(seen(l, 1), ALL_VIEWS & ~VMT_VIEW_RUNQUEUE);
	assert_int_equal(seen(l, 2), ALL_VIEWS); /* queued */
	assert_int_equal(seen(l, 3), ALL_VIEWS); /* running */
	/* a thread is on no task or children list */
	assert_int_equal(seen(l, 4), VMT_VIEW_PIDS | VMT_VIEW_THREADS | VMT_VIEW_SCAN);
	assert_int_equal(l->view_n[0], 3);		 /* tasks: the three leaders */
	assert_true(l->scan_bytes >= f->ram_len - 4096); /* all of RAM */
	for (size_t i = 0; i < l->n; i++)
		assert_false(l->tasks[i].flags & VMT_F_UNLISTED);
	vmt_task_list_free(l);
	/* Without VMT_TASK_THREADS, leaders only. */
	l = views(f, 0);
	assert_int_equal(l->n, 3);
	assert_null(find(l, 4));
	vmt_task_list_free(l);
}

/* DKOM: worker unlinked from the task list and from sh's children. */
static void test_views_hidden_task(void **state)
{
	struct fake *f = *state;
	struct vmt_task_list *l;
	struct world w;
	struct lay y;
	uint64_t node;

	world_new(f, &y, &w);
	node = w.worker + y.tasks;
	put64(f, get64(f, node) + 8, get64(f, node + 8)); /* next->prev = prev */
	put64(f, get64(f, node + 8), get64(f, node));	  /* prev->next = next */
	list_init(f, node);
	node = w.worker + y.sibling;
	put64(f, get64(f, node) + 8, get64(f, node + 8));
	put64(f, get64(f, node + 8), get64(f, node));
	list_init(f, node);
	l = views(f, VMT_TASK_THREADS);
	assert_int_equal(l->views_ok, ALL_VIEWS);
	assert_int_equal(l->n, 4);
	assert_int_equal(seen(l, 3), ALL_VIEWS & ~LIST_VIEWS);
	assert_true(find(l, 3)->flags & VMT_F_UNLISTED);
	assert_true(find(l, 4)->flags & VMT_F_UNLISTED); /* its leader's */
	assert_false(find(l, 2)->flags & VMT_F_UNLISTED);
	assert_int_equal(l->view_n[0], 2);
	vmt_task_list_free(l);
}

/* ----------------------------------------------------------- hostile */

/*
 * tasks.next of init points to garbage, then into a cycle: the forward
 * view breaks and says why; every task is still listed (the others).
 */
static void test_views_task_list_broken(void **state)
{
	static const uint64_t bad[] = {UNMAPPED_VA, 0x4141414141414141ull, 0};
	struct fake *f = *state;
	struct vmt_task_list *l;
	struct world w;
	struct lay y;

	world_new(f, &y, &w);
	for (size_t i = 0; i < ARRAY_SIZE(bad) + 1; i++) {
		/* the last round: sh's next points back at init (a cycle) */
		put64(f, w.init + y.tasks, i < ARRAY_SIZE(bad) ? bad[i] : w.sh + y.tasks);
		if (i == ARRAY_SIZE(bad))
			put64(f, w.sh + y.tasks, w.init + y.tasks);
		l = views(f, VMT_TASK_THREADS);
		assert_true(l->views_broken & VMT_VIEW_TASKS);
		assert_false(l->views_ok & VMT_VIEW_TASKS);
		assert_true(strlen(l->view_err[0]) > 0);
		assert_int_equal(l->views_ok, ALL_VIEWS & ~VMT_VIEW_TASKS);
		assert_int_equal(l->n, 4);
		assert_true(seen(l, 3) & VMT_VIEW_TASKS_PREV);
		assert_false(find(l, 3)->flags &
			     VMT_F_UNLISTED); /* no verdict from a broken view */
		vmt_task_list_free(l);
	}
}

/*
 * A prev pointer to nowhere breaks tasks_prev alone; a thread list that
 * loops breaks threads, and children too (threads' children lists are
 * found through it: the tree is not whole, so it vouches for nothing).
 */
static void test_views_prev_and_threads_broken(void **state)
{
	struct fake *f = *state;
	struct vmt_task_list *l;
	struct world w;
	struct lay y;

	world_new(f, &y, &w);
	put64(f, w.sh + y.tasks + 8, UNMAPPED_VA);
	put64(f, w.thread + y.thread_node, w.thread + y.thread_node);
	l = views(f, VMT_TASK_THREADS);
	assert_int_equal(l->views_broken,
			 VMT_VIEW_TASKS_PREV | VMT_VIEW_THREADS | VMT_VIEW_CHILDREN);
	assert_int_equal(l->n, 4);
	assert_true(seen(l, 2) & VMT_VIEW_TASKS);
	assert_true(seen(l, 4) & VMT_VIEW_THREADS); /* reached before the loop */
	assert_true(strlen(l->view_err[1]) > 0 && strlen(l->view_err[3]) > 0);
	vmt_task_list_free(l);
}

/* An IDR whose leaf slot points back at a node, and a pid whose task is nowhere. */
static void test_views_idr_loop(void **state)
{
	struct fake *f = *state;
	struct vmt_task_list *l;
	struct world w;
	struct lay y;
	uint64_t head = sym("init_pid_ns") + off("pid_namespace", "idr.idr_rt.xa_head");
	uint64_t root, leaf;

	world_new(f, &y, &w);
	root = kalloc(f, off("xa_node", NULL));
	leaf = get64(f, head);
	/* a shift-6 root whose slot 0 is the leaf and slot 1 the root itself */
	put8(f, root + off("xa_node", "shift"), 6);
	put64(f, root + off("xa_node", "slots"), leaf);
	put64(f, root + off("xa_node", "slots") + 8, root | 2);
	put64(f, head, root | 2);
	l = views(f, VMT_TASK_THREADS);
	assert_int_equal(l->n, 4);
	assert_true(seen(l, 3) & VMT_VIEW_PIDS); /* the loop is skipped, the leaf read */
	vmt_task_list_free(l);
	/* a root that points at itself at its own shift: no hang, the other views list all */
	put64(f, root + off("xa_node", "slots"), root | 2);
	l = views(f, VMT_TASK_THREADS);
	assert_int_equal(l->n, 4);
	assert_int_equal(seen(l, 1) & VMT_VIEW_PIDS, 0);
	assert_true(seen(l, 1) & VMT_VIEW_TASKS);
	vmt_task_list_free(l);
}

/* rq->curr to nowhere, then a CFS tree node whose child is itself. */
static void test_views_runqueue_hostile(void **state)
{
	struct fake *f = *state;
	struct vmt_task_list *l;
	struct world w;
	struct lay y;
	uint64_t node;

	world_new(f, &y, &w);
	put64(f, y.rq + y.rq_curr, UNMAPPED_VA);
	l = views(f, VMT_TASK_THREADS);
	assert_int_equal(l->n, 4); /* a pointer to nowhere is no task */
	assert_true(l->views_broken & VMT_VIEW_RUNQUEUE);
	assert_non_null(strstr(l->view_err[5], "nowhere"));
	assert_false(seen(l, 3) & VMT_VIEW_RUNQUEUE);
	vmt_task_list_free(l);
	node = w.sh + y.se + y.run_node;
	put64(f, node + off("rb_node", "rb_left"), node);
	l = views(f, VMT_TASK_THREADS);
	assert_true(l->views_broken & VMT_VIEW_RUNQUEUE);
	assert_int_equal(l->views_ok, ALL_VIEWS & ~VMT_VIEW_RUNQUEUE);
	assert_int_equal(l->n, 4);
	vmt_task_list_free(l);
	/* the per-CPU offset unreadable */
	put64(f, node + off("rb_node", "rb_left"), 0);
	put64(f, sym("__per_cpu_offset"), UNMAPPED_VA);
	l = views(f, VMT_TASK_THREADS);
	assert_true(l->views_broken & VMT_VIEW_RUNQUEUE);
	assert_int_equal(l->n, 4);
	vmt_task_list_free(l);
}

/* sh's children list loops (worker's sibling.next back at itself): its subtree only. */
static void test_views_children_cycle(void **state)
{
	struct fake *f = *state;
	struct vmt_task_list *l;
	struct world w;
	struct lay y;
	uint64_t other;

	world_new(f, &y, &w);
	other = task_new(f, &y, 5, 0, w.init, "other"); /* a second child of init */
	put64(f, w.worker + y.sibling, w.worker + y.sibling);
	l = views(f, VMT_TASK_THREADS);
	assert_true(l->views_broken & VMT_VIEW_CHILDREN);
	assert_true(seen(l, 3) & VMT_VIEW_CHILDREN); /* reached before the loop */
	assert_true(seen(l, 5) & VMT_VIEW_CHILDREN); /* init's other subtree is whole */
	assert_int_equal(l->n, 5);
	vmt_task_list_free(l);
	(void)other;
}

/*
 * The scan: a task that is on no list at all (a rootkit that unlinked it
 * from everything but the thread list the kernel still schedules it
 * through) is found; dead copies and garbage are not.
 */
static void test_views_scan(void **state)
{
	struct fake *f = *state;
	struct vmt_task_list *l;
	struct world w;
	struct lay y;
	uint64_t ghost, signal, copy[3];
	uint8_t *junk;

	world_new(f, &y, &w);
	ghost = kalloc(f, y.size);
	signal = kalloc(f, y.sig_size);
	list_init(f, signal + y.thread_head);
	put32(f, ghost + y.pid, 77);
	put32(f, ghost + y.tgid, 77);
	putstr(f, ghost + y.comm, "ghost");
	put64(f, ghost + y.real_parent, w.init);
	put64(f, ghost + y.group_leader, ghost);
	put64(f, ghost + y.signal, signal);
	task_alive(f, &y, ghost);
	list_add_tail(f, signal + y.thread_head, ghost + y.thread_node);
	/* three dead copies of sh: freed (no stack), exited, a fork that failed */
	for (int i = 0; i < 3; i++) {
		copy[i] = kalloc(f, y.size);
		memcpy(at(f, copy[i], y.size), at(f, w.sh, y.size), y.size);
		put32(f, copy[i] + y.pid, 90 + (uint32_t)i);
		self_list(f, copy[i] + y.ptraced);
		self_list(f, copy[i] + y.ptrace_entry);
		self_list(f, copy[i] + y.perf);
		put64(f, copy[i] + y.group_leader, copy[i]);
	}
	put64(f, copy[0] + y.stack, 0);
	put32(f, copy[1] + y.state, TASK_DEAD);
	put32(f, copy[2] + y.state, TASK_NEW);
	/* and a megabyte of garbage */
	junk = at(f, kalloc(f, 1 << 20), 1 << 20);
	srand(7);
	for (size_t i = 0; i < (1u << 20); i++)
		junk[i] = (uint8_t)rand();
	l = views(f, VMT_TASK_THREADS);
	assert_int_equal(l->views_ok, ALL_VIEWS);
	assert_int_equal(l->n, 5);
	assert_int_equal(seen(l, 77), VMT_VIEW_SCAN | VMT_VIEW_THREADS);
	assert_string_equal(find(l, 77)->comm, "ghost");
	assert_null(find(l, 90));
	assert_null(find(l, 91));
	assert_null(find(l, 92));
	assert_true(l->scan_candidates >= 8); /* the five live, the three dead copies */
	vmt_task_list_free(l);
}

/* A traced thread (ptrace_entry linked, not a leader) may escape the signature; the rest not. */
static void test_views_scan_signature(void **state)
{
	struct fake *f = *state;
	struct vmt_task_list *l;
	struct world w;
	struct lay y;

	world_new(f, &y, &w);
	put64(f, w.worker + y.ptrace_entry, w.sh + y.ptraced); /* worker traced by sh */
	put64(f, w.sh + y.ptraced, w.worker + y.ptrace_entry);
	l = views(f, VMT_TASK_THREADS);
	assert_true(seen(l, 3) & VMT_VIEW_SCAN); /* leader: group_leader + two empty lists */
	assert_true(seen(l, 2) & VMT_VIEW_SCAN); /* tracer: ptrace_entry, perf, leader */
	vmt_task_list_free(l);
}

/*
 * A task that claims to be an idle task (pid 0, PF_IDLE) but is no CPU's
 * rq->idle is listed (a rootkit wiping a task's pid must not make it
 * vanish); without a whole runqueue view the claim is believed.
 */
static void test_views_fake_idle(void **state)
{
	struct fake *f = *state;
	struct vmt_task_list *l;
	struct world w;
	struct lay y;
	uint64_t fake;

	world_new(f, &y, &w);
	fake = task_new(f, &y, 0, 0, w.init, "swapper/1");
	put32(f, fake + y.flags, PF_IDLE | PF_KTHREAD);
	l = views(f, VMT_TASK_THREADS);
	assert_int_equal(l->n, 5);
	assert_non_null(find(l, 0));
	assert_int_equal(find(l, 0)->kva, fake);
	vmt_task_list_free(l);
	put64(f, sym("__per_cpu_offset"), UNMAPPED_VA);
	l = views(f, VMT_TASK_THREADS);
	assert_true(l->views_broken & VMT_VIEW_RUNQUEUE);
	assert_int_equal(l->n, 4);
	vmt_task_list_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_view_names),
	    cmocka_unit_test_setup_teardown(test_views_sane, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_views_hidden_task, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_views_task_list_broken, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_views_prev_and_threads_broken, fake_setup,
					    fake_teardown),
	    cmocka_unit_test_setup_teardown(test_views_idr_loop, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_views_runqueue_hostile, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_views_children_cycle, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_views_scan, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_views_scan_signature, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_views_fake_idle, fake_setup, fake_teardown),
	};
	int ret;

	if (!profile_load())
		return 77;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	profile_unload();
	return ret;
}
