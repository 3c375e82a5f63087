// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * task_views.c - the tasks as several independent structures of the kernel
 * know them (cross-view detection, as Volatility's psxview and unhide do):
 *
 *   view        walked                                     holds
 *   tasks       init_task.tasks, next pointers             thread-group leaders
 *   tasks_prev  the same list, prev pointers               leaders
 *   pids        init_pid_ns.idr (pids.c)                   every task with a pid
 *   children    real_parent->children from init_task down  leaders
 *               (children hang off the creating thread, so
 *               each group's threads' lists are walked too)
 *   runqueue    each CPU's rq: curr, idle, the CFS trees   runnable tasks only
 *               (group entities descended, cfs_rq->curr
 *               too), the RT queues, the deadline tree
 *   scan        guest RAM at every 64-byte boundary: a     every live task whose
 *               task_struct signature, then validated      memory is here
 *   threads     signal->thread_head of every group that    every task
 *               any other view found (walked last)
 *
 * Each view is walked on its own and bounded; one that breaks (a cycle, a
 * pointer to nowhere) is flagged and costs only what no other view finds:
 * the listing is the union, each task tagged with the views that saw it.
 * Idle tasks (init_task and each CPU's rq->idle) are not listed, as /proc
 * does not list them.
 *
 * The scan's signature, at a 64-byte boundary pa with kva = page_offset +
 * pa (the direct map, where the task_struct slab lives, also over the
 * image's freed init pages; init_task's own alias there is an idle task,
 * not listed): two or more of ptraced, ptrace_entry and
 * perf_event_list point at themselves (empty: the task neither traces, is
 * traced, nor has perf events) or group_leader is kva (a leader); comm is
 * a printable NUL-terminated string and pid/tgid in range.  A candidate
 * must then be alive: a kernel stack whose lowest word is STACK_END_MAGIC
 * (a dead task's stack pointer is NULL once its last reference went), a
 * state other than TASK_DEAD or TASK_NEW (a fork in progress or failed),
 * not EXIT_DEAD, kernel pointers for signal, cred, parent and leader, and
 * its leader's signal its own.  The scan reads the memory the source holds
 * here (vmt_mem_scan: a split VM's remote pages read as zeros).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "linux/system.h"
#include "linux/pids.h"
#include "linux/task_offsets.h"
#include "linux/task_views.h"

#define PF_IDLE		0x00000002u
#define TASK_DEAD	0x00000080u
#define TASK_NEW	0x00000800u
#define EXIT_DEAD	0x00000010u
#define STACK_END_MAGIC 0x57AC6E9Du
#define PID_MAX_LIMIT	(4 * 1024 * 1024)
#define CFS_MAX_DEPTH	8	     /* nested task groups (cgroup levels) descended */
#define RB_MAX_DEPTH	64	     /* a red-black tree of 1M nodes is at most 40 deep */
#define MAX_RT_PRIO	100	     /* rt_prio_array queues */
#define SCAN_CHUNK	(256u << 10) /* bytes per source call: the buffer stays in L2 */
#define SCAN_ALIGN	64	     /* task_struct cache alignment (L1_CACHE_BYTES) */
#define TV_MAX(a, b)	((a) > (b) ? (a) : (b))

static const char *const view_names[VMT_VIEW_COUNT] = {
    "tasks", "tasks_prev", "pids", "threads", "children", "runqueue", "scan",
};

const char *vmt_task_view_name(unsigned view_bit)
{
	if (!view_bit || (view_bit & (view_bit - 1)) || view_bit >= (1u << VMT_VIEW_COUNT))
		return NULL;
	return view_names[__builtin_ctz(view_bit)];
}

/* -------------------------------------------------------------- offsets */

struct view_offsets {
	uint32_t children, sibling, stack, ptraced, ptrace_entry, perf_event_list;
	uint32_t se, rt, dl;
	uint32_t rq_curr, rq_idle, rq_cfs, rq_rt, rq_dl;
	uint32_t cfs_timeline, cfs_curr, se_run_node, se_my_q;
	uint32_t rt_active, rt_queue, rt_run_list, rt_my_q, dl_root, dl_rb_node;
	uint32_t rb_right, rb_left;
};

static int view_offsets_resolve(struct vmt_guest *g, struct view_offsets *o)
{
	/* clang-format off */
	const struct vmt_field_req req[] = {
		VMT_FIELD("task_struct", "children", children),
		VMT_FIELD("task_struct", "sibling", sibling),
		VMT_FIELD_OPT("task_struct", "stack", stack),
		VMT_FIELD_OPT("task_struct", "ptraced", ptraced),
		VMT_FIELD_OPT("task_struct", "ptrace_entry", ptrace_entry),
		VMT_FIELD_OPT("task_struct", "perf_event_list", perf_event_list),
		VMT_FIELD_OPT("task_struct", "se", se),
		VMT_FIELD_OPT("task_struct", "rt", rt),
		VMT_FIELD_OPT("task_struct", "dl", dl),
		VMT_FIELD_OPT("rq", "curr", rq_curr),
		VMT_FIELD_OPT("rq", "idle", rq_idle),
		VMT_FIELD_OPT("rq", "cfs", rq_cfs),
		VMT_FIELD_OPT("rq", "rt", rq_rt),
		VMT_FIELD_OPT("rq", "dl", rq_dl),
		VMT_FIELD_OPT("cfs_rq", "tasks_timeline", cfs_timeline),
		VMT_FIELD_OPT("cfs_rq", "curr", cfs_curr),
		VMT_FIELD_OPT("sched_entity", "run_node", se_run_node),
		VMT_FIELD_OPT("sched_entity", "my_q", se_my_q),
		VMT_FIELD_OPT("rt_rq", "active", rt_active),
		VMT_FIELD_OPT("rt_prio_array", "queue", rt_queue),
		VMT_FIELD_OPT("sched_rt_entity", "run_list", rt_run_list),
		VMT_FIELD_OPT("sched_rt_entity", "my_q", rt_my_q),
		VMT_FIELD_OPT("dl_rq", "root", dl_root),
		VMT_FIELD_OPT("sched_dl_entity", "rb_node", dl_rb_node),
		VMT_FIELD_OPT("rb_node", "rb_right", rb_right),
		VMT_FIELD_OPT("rb_node", "rb_left", rb_left),
	};
	/* clang-format on */

	VMT_OFFSETS_ABSENT(o);
	return vmt_resolve_fields(g, req, ARRAY_SIZE(req));
}

/* --------------------------------------------- a set of task addresses */

struct tv_entry {
	uint64_t kva; /* 0: free slot */
	uint32_t seen;
};

/* Open addressing, at most half full. */
struct tv_set {
	struct tv_entry *e;
	size_t n, cap;
};

static size_t tv_slot(const struct tv_set *s, uint64_t kva)
{
	size_t i = (size_t)(((kva >> 4) * 0x9E3779B97F4A7C15ull) >> 17) & (s->cap - 1);

	while (s->e[i].kva && s->e[i].kva != kva)
		i = (i + 1) & (s->cap - 1);
	return i;
}

static int tv_grow(struct tv_set *s)
{
	struct tv_set b = {.cap = s->cap ? 2 * s->cap : 1024};

	b.e = calloc(b.cap, sizeof(*b.e));
	if (!b.e)
		return -ENOMEM;
	for (size_t i = 0; i < s->cap; i++)
		if (s->e[i].kva)
			b.e[tv_slot(&b, s->e[i].kva)] = s->e[i];
	b.n = s->n;
	free(s->e);
	*s = b;
	return 0;
}

/* The entry of kva, added (seen 0) if new; NULL without memory. */
static struct tv_entry *tv_get(struct tv_set *s, uint64_t kva)
{
	size_t i;

	if (2 * (s->n + 1) > s->cap && tv_grow(s))
		return NULL;
	i = tv_slot(s, kva);
	if (!s->e[i].kva) {
		s->e[i].kva = kva;
		s->n++;
	}
	return &s->e[i];
}

static const struct tv_entry *tv_find(const struct tv_set *s, uint64_t kva)
{
	size_t i;

	if (!s->cap)
		return NULL;
	i = tv_slot(s, kva);
	return s->e[i].kva ? &s->e[i] : NULL;
}

/* ----------------------------------------------------------- the walk */

struct views {
	struct vmt_guest *g;
	const struct task_offsets *t;
	struct view_offsets o;
	uint64_t init_task;
	struct tv_set set;	 /* every task any view saw, with seen_by */
	uint32_t cur;		 /* view being walked */
	size_t budget;		 /* list nodes the many-list views may still visit */
	struct vmt_task_list *l; /* counters and errors go here */
	struct tv_set expanded;	 /* children view: tasks whose lists were walked */
	uint64_t *queue;	 /* ... and those still to walk */
	struct tv_set idle;	 /* runqueue view: each CPU's rq->idle */
	size_t qn, qcap;
	int cfs_depth;
};

/* The view being walked saw the task at kva. */
static int mark(struct views *v, uint64_t kva)
{
	struct tv_entry *e;

	if (!vmt_kptr_ok(kva))
		return 0;
	e = tv_get(&v->set, kva);
	if (!e)
		return -ENOMEM;
	if (!(e->seen & v->cur))
		v->l->view_n[__builtin_ctz(v->cur)]++;
	e->seen |= v->cur;
	return 0;
}

/* One node of a list whose every node the many-list budget pays for. */
static int budget_take(struct views *v)
{
	if (!v->budget)
		return vmt_error(-EBADMSG, "more than %u list nodes in all", VMT_MAX_TASKS);
	v->budget--;
	return 0;
}

static int on_task_node(struct vmt_guest *g, uint64_t node, void *arg)
{
	struct views *v = arg;

	(void)g;
	return mark(v, node - v->t->task_tasks);
}

static int view_tasks(struct views *v)
{
	uint64_t head = v->init_task + v->t->task_tasks;

	if (v->cur == VMT_VIEW_TASKS)
		return vmt_list_walk(v->g, head, VMT_MAX_TASKS, on_task_node, v);
	return vmt_list_walk_prev(v->g, head, VMT_MAX_TASKS, on_task_node, v);
}

static int view_pids(struct views *v)
{
	uint64_t *va = NULL;
	size_t n = 0;
	int err = vmt_pid_tasks(v->g, &va, NULL, &n);

	for (size_t i = 0; i < n && !err; i++)
		err = mark(v, va[i]);
	free(va);
	return err;
}

/* ------------------------------------------------------ children view */

static int queue_push(struct views *v, uint64_t task)
{
	struct tv_entry *e = tv_get(&v->expanded, task);

	if (!e)
		return -ENOMEM;
	if (e->seen) /* walked or queued already: a loop in the tree ends here */
		return 0;
	e->seen = 1;
	if (v->qn == v->qcap) {
		size_t cap = v->qcap ? 2 * v->qcap : 256;
		uint64_t *q = realloc(v->queue, cap * sizeof(*q));

		if (!q)
			return -ENOMEM;
		v->queue = q;
		v->qcap = cap;
	}
	v->queue[v->qn++] = task;
	return 0;
}

static int on_child(struct vmt_guest *g, uint64_t node, void *arg)
{
	struct views *v = arg;
	uint64_t child = node - v->o.sibling;
	int err = budget_take(v);

	(void)g;
	if (!err)
		err = mark(v, child);
	return err ? err : queue_push(v, child);
}

/* A thread of a group the children view reached: its children are walked too. */
static int on_group_thread(struct vmt_guest *g, uint64_t node, void *arg)
{
	struct views *v = arg;
	int err = budget_take(v);

	(void)g;
	return err ? err : queue_push(v, node - v->t->task_thread_node);
}

/*
 * Breadth first from init_task: each task's children list, and for a
 * leader its threads' (a process forked by a thread hangs off that
 * thread).  A list that breaks costs its own subtree; the first error is
 * the view's.
 */
static int view_children(struct views *v)
{
	int first = 0, err = queue_push(v, v->init_task);

	for (size_t i = 0; !err && i < v->qn; i++) {
		uint64_t task = v->queue[i], leader, signal;

		err = vmt_list_walk(v->g, task + v->o.children, VMT_MAX_TASKS, on_child, v);
		if (!err && !vmt_kread_u64(v->g, task + v->t->task_group_leader, &leader) &&
		    leader == task && !vmt_kread_u64(v->g, task + v->t->task_signal, &signal) &&
		    vmt_kptr_ok(signal))
			err = vmt_list_walk(v->g, signal + v->t->signal_thread_head, VMT_MAX_TASKS,
					    on_group_thread, v);
		if (err && err != -ENOMEM && !v->budget)
			return err;
		if (err && err != -ENOMEM) {
			first = first ? first : err;
			err = 0;
		}
	}
	return err ? err : first;
}

/* ------------------------------------------------------ runqueue view */

typedef int (*rb_fn)(struct views *v, uint64_t node);

/* Every node of the red-black tree whose root node is root; bounded. */
static int rb_walk(struct views *v, uint64_t root, rb_fn fn)
{
	uint64_t stack[RB_MAX_DEPTH + 2], kids[2];
	size_t n = 0;
	int err;

	if (root)
		stack[n++] = root;
	while (n) {
		uint64_t node = stack[--n];

		if (!vmt_kptr_ok(node))
			return vmt_error(-EBADMSG, "rb-tree node 0x%llx", (unsigned long long)node);
		err = budget_take(v);
		if (!err && (vmt_kread_u64(v->g, node + v->o.rb_right, &kids[0]) ||
			     vmt_kread_u64(v->g, node + v->o.rb_left, &kids[1])))
			err = vmt_error(-EBADMSG, "rb-tree node 0x%llx unreadable",
					(unsigned long long)node);
		if (!err)
			err = fn(v, node);
		if (err)
			return err;
		for (int k = 0; k < 2; k++) {
			if (!kids[k])
				continue;
			if (n >= RB_MAX_DEPTH)
				return vmt_error(-EBADMSG, "rb-tree deeper than %d", RB_MAX_DEPTH);
			stack[n++] = kids[k];
		}
	}
	return 0;
}

static int cfs_walk(struct views *v, uint64_t cfs_rq);

/* A CFS entity: a task, or a task group whose own queue is descended. */
static int cfs_entity(struct views *v, uint64_t se)
{
	uint64_t my_q = 0;

	if (v->o.se_my_q != UINT32_MAX && vmt_kread_u64(v->g, se + v->o.se_my_q, &my_q))
		return vmt_error(-EBADMSG, "sched_entity 0x%llx unreadable",
				 (unsigned long long)se);
	if (my_q)
		return cfs_walk(v, my_q);
	return mark(v, se - v->o.se);
}

static int cfs_node(struct views *v, uint64_t node)
{
	return cfs_entity(v, node - v->o.se_run_node);
}

/* The queued entities (the tree) and the running one (cfs_rq->curr, not in it). */
static int cfs_walk(struct views *v, uint64_t cfs_rq)
{
	uint64_t root, curr;
	int err;

	if (v->cfs_depth >= CFS_MAX_DEPTH)
		return vmt_error(-EBADMSG, "task groups nested deeper than %d", CFS_MAX_DEPTH);
	if (!vmt_kptr_ok(cfs_rq) || vmt_kread_u64(v->g, cfs_rq + v->o.cfs_timeline, &root) ||
	    vmt_kread_u64(v->g, cfs_rq + v->o.cfs_curr, &curr))
		return vmt_error(-EBADMSG, "cfs_rq 0x%llx unreadable", (unsigned long long)cfs_rq);
	v->cfs_depth++;
	err = rb_walk(v, root, cfs_node);
	if (!err && curr)
		err = cfs_entity(v, curr);
	v->cfs_depth--;
	return err;
}

static int on_rt_entity(struct vmt_guest *g, uint64_t node, void *arg)
{
	struct views *v = arg;
	uint64_t rt_se = node - v->o.rt_run_list, my_q = 0;
	int err = budget_take(v);

	if (err)
		return err;
	/* RT group scheduling: a group entity is not a task (its tasks are not descended). */
	if (v->o.rt_my_q != UINT32_MAX && (vmt_kread_u64(g, rt_se + v->o.rt_my_q, &my_q) || my_q))
		return 0;
	return mark(v, rt_se - v->o.rt);
}

static int dl_node(struct views *v, uint64_t node)
{
	return mark(v, node - v->o.dl_rb_node - v->o.dl);
}

static int runqueue_cpu(struct views *v, uint64_t rq)
{
	uint64_t curr, idle, root;
	uint32_t pid;
	int err;

	if (vmt_kread_u64(v->g, rq + v->o.rq_curr, &curr) ||
	    vmt_kread_u64(v->g, rq + v->o.rq_idle, &idle))
		return vmt_error(-EBADMSG, "runqueue at 0x%llx unreadable", (unsigned long long)rq);
	if (vmt_kread_u32(v->g, curr + v->t->task_pid, &pid) ||
	    vmt_kread_u32(v->g, idle + v->t->task_pid, &pid))
		return vmt_error(-EBADMSG, "runqueue at 0x%llx: curr or idle points to nowhere",
				 (unsigned long long)rq);
	err = mark(v, curr);
	if (!err)
		err = mark(v, idle);
	if (!err && !tv_get(&v->idle, idle))
		err = -ENOMEM;
	if (!err && v->o.rq_cfs != UINT32_MAX && v->o.se != UINT32_MAX)
		err = cfs_walk(v, rq + v->o.rq_cfs);
	for (int i = 0;
	     !err && v->o.rq_rt != UINT32_MAX && v->o.rt != UINT32_MAX && i < MAX_RT_PRIO; i++)
		err =
		    vmt_list_walk(v->g, rq + v->o.rq_rt + v->o.rt_active + v->o.rt_queue + 16u * i,
				  VMT_MAX_TASKS, on_rt_entity, v);
	if (!err && v->o.rq_dl != UINT32_MAX && v->o.dl != UINT32_MAX &&
	    !vmt_kread_u64(v->g, rq + v->o.rq_dl + v->o.dl_root, &root))
		err = rb_walk(v, root, dl_node);
	return err;
}

static int view_runqueue(struct views *v)
{
	struct sys_cpus *cpus = malloc(sizeof(*cpus));
	uint64_t runqueues, base;
	int err, first = 0;

	if (!cpus)
		return -ENOMEM;
	err = v->o.rq_curr == UINT32_MAX || v->o.rb_left == UINT32_MAX
		  ? vmt_error(-ENOEXEC, "the profile has no struct rq")
		  : sys_cpus_read(v->g, cpus);
	if (!err && sys_percpu_sym(v->g, "runqueues", &runqueues))
		err = vmt_error(-ENOEXEC, "no per-CPU runqueues symbol");
	for (uint32_t cpu = 0; !err && cpu < cpus->nr_ids; cpu++) {
		if (!sys_cpu_in(cpus->possible, cpu))
			continue;
		err = sys_percpu_base(v->g, cpu, &base);
		if (!err)
			err = runqueue_cpu(v, base + runqueues);
		if (err && err != -ENOMEM && v->budget) { /* one CPU's queue costs that CPU's */
			first = first ? first : err;
			err = 0;
		}
	}
	free(cpus);
	return err ? err : first;
}

/* ----------------------------------------------------------- the scan */

struct scan_sig {
	uint32_t ptraced, ptrace_entry, perf, leader, comm, pid, tgid;
	uint32_t span; /* bytes of the task_struct the signature reads */
};

static inline uint64_t buf_u64(const uint8_t *p, uint32_t off)
{
	uint64_t v;

	memcpy(&v, p + off, 8);
	return v;
}

static bool comm_ok(const uint8_t *c)
{
	size_t i;

	for (i = 0; i < 16 && c[i]; i++)
		if (c[i] < 0x20 || c[i] == 0x7f)
			return false;
	return i > 0 && i < 16;
}

/* The cheap test on the scanned bytes at p, a task_struct at kva if it passes. */
static bool scan_sig_match(const struct scan_sig *s, const uint8_t *p, uint64_t kva)
{
	int self = (buf_u64(p, s->ptraced) == kva + s->ptraced) +
		   (buf_u64(p, s->ptrace_entry) == kva + s->ptrace_entry) +
		   (buf_u64(p, s->leader) == kva);
	int32_t pid, tgid;

	if (self < 2 && s->perf != UINT32_MAX)
		self += buf_u64(p, s->perf) == kva + s->perf;
	if (self < 2)
		return false;
	memcpy(&pid, p + s->pid, 4);
	memcpy(&tgid, p + s->tgid, 4);
	return pid >= 0 && pid <= PID_MAX_LIMIT && tgid >= 0 && tgid <= PID_MAX_LIMIT &&
	       comm_ok(p + s->comm);
}

/* Is the task_struct at kva alive (see the top of this file)? */
static bool scan_task_alive(struct views *v, uint64_t kva)
{
	const struct task_offsets *t = v->t;
	uint64_t stack, signal, cred, parent, leader, lsignal;
	uint32_t state, exit_state, magic;

	if (vmt_kread_u32(v->g, kva + t->task_state, &state) || (state & (TASK_DEAD | TASK_NEW)) ||
	    vmt_kread_u32(v->g, kva + t->task_exit_state, &exit_state) || (exit_state & EXIT_DEAD))
		return false;
	if (vmt_kread_u64(v->g, kva + v->o.stack, &stack) || !vmt_kptr_ok(stack) ||
	    (stack & (VMT_PAGE_SIZE - 1)) || vmt_kread_u32(v->g, stack, &magic) ||
	    magic != STACK_END_MAGIC)
		return false;
	if (vmt_kread_u64(v->g, kva + t->task_signal, &signal) || !vmt_kptr_ok(signal) ||
	    vmt_kread_u64(v->g, kva + t->task_real_cred, &cred) || !vmt_kptr_ok(cred) ||
	    vmt_kread_u64(v->g, kva + t->task_real_parent, &parent) || !vmt_kptr_ok(parent) ||
	    vmt_kread_u64(v->g, kva + t->task_group_leader, &leader) || !vmt_kptr_ok(leader))
		return false;
	return leader == kva ||
	       (!vmt_kread_u64(v->g, leader + t->task_signal, &lsignal) && lsignal == signal);
}

/* Candidates in buf (guest-physical pa0 on), those starting before pa0 + limit. */
static int scan_buf(struct views *v, const struct scan_sig *s, const uint8_t *buf, uint64_t pa0,
		    size_t len, size_t limit)
{
	int err = 0;

	for (size_t off = 0; off < limit && off + s->span <= len && !err; off += SCAN_ALIGN) {
		uint64_t kva = v->g->ki.page_offset + pa0 + off;

		if (!scan_sig_match(s, buf + off, kva))
			continue;
		v->l->scan_candidates++;
		if (scan_task_alive(v, kva))
			err = mark(v, kva);
	}
	return err;
}

static int scan_sig_init(const struct views *v, struct scan_sig *s)
{
	const struct task_offsets *t = v->t;

	if (v->o.stack == UINT32_MAX || v->o.ptraced == UINT32_MAX ||
	    v->o.ptrace_entry == UINT32_MAX)
		return vmt_error(-ENOEXEC, "task_struct has no stack or ptrace lists");
	*s = (struct scan_sig){
	    .ptraced = v->o.ptraced,
	    .ptrace_entry = v->o.ptrace_entry,
	    .perf = v->o.perf_event_list,
	    .leader = t->task_group_leader,
	    .comm = t->task_comm,
	    .pid = t->task_pid,
	    .tgid = t->task_tgid,
	};
	s->span = TV_MAX(TV_MAX(s->ptraced, s->ptrace_entry), TV_MAX(s->leader, s->comm + 8));
	s->span = TV_MAX(TV_MAX(s->span, s->pid), TV_MAX(s->tgid, s->ptrace_entry));
	if (s->perf != UINT32_MAX)
		s->span = TV_MAX(s->span, s->perf);
	s->span += 16;
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int view_scan(struct views *v)
{
	uint64_t end = VMT_MIN(vmt_mem_ram_end(v->g->mem), v->g->direct_map_size), t0 = now_ns();
	struct scan_sig s = {0};
	uint8_t *buf;
	int err = scan_sig_init(v, &s);

	if (err)
		return err;
	buf = malloc(SCAN_CHUNK + s.span);
	if (!buf)
		return -ENOMEM;
	for (uint64_t pa = 0; pa < end && !err; pa += SCAN_CHUNK) {
		size_t len = (size_t)VMT_MIN(end - pa, (uint64_t)SCAN_CHUNK + s.span);

		err = vmt_mem_scan(v->g->mem, pa, buf, len);
		if (err)
			err = vmt_error(err, "scan at 0x%llx: %s", (unsigned long long)pa,
					strerror(-err));
		else
			err = scan_buf(v, &s, buf, pa, len, SCAN_CHUNK);
		v->l->scan_bytes += VMT_MIN(end - pa, SCAN_CHUNK);
	}
	free(buf);
	v->l->scan_ns = now_ns() - t0;
	return err;
}

/* ------------------------------------------------------- threads view */

static int on_thread(struct vmt_guest *g, uint64_t node, void *arg)
{
	struct views *v = arg;
	int err = budget_take(v);

	(void)g;
	return err ? err : mark(v, node - v->t->task_thread_node);
}

/*
 * The thread list of every group some view found (a task's group_leader),
 * each signal_struct once.  A list that breaks costs its group.
 */
static int view_threads(struct views *v)
{
	struct tv_set walked = {0};
	uint64_t *leaders = malloc((v->set.n + 1) * sizeof(*leaders)), signal;
	size_t n = 0;
	int err = leaders ? 0 : -ENOMEM, first = 0;

	for (size_t i = 0; !err && i < v->set.cap; i++)
		if (v->set.e[i].kva &&
		    !vmt_kread_u64(v->g, v->set.e[i].kva + v->t->task_group_leader, &leaders[n]) &&
		    vmt_kptr_ok(leaders[n]))
			n++;
	for (size_t i = 0; !err && i < n; i++) {
		struct tv_entry *e;

		if (vmt_kread_u64(v->g, leaders[i] + v->t->task_signal, &signal) ||
		    !vmt_kptr_ok(signal))
			continue;
		e = tv_get(&walked, signal);
		if (!e) {
			err = -ENOMEM;
			break;
		}
		if (e->seen++)
			continue;
		err = vmt_list_walk(v->g, signal + v->t->signal_thread_head, VMT_MAX_TASKS,
				    on_thread, v);
		if (err && err != -ENOMEM && v->budget) {
			first = first ? first : err;
			err = 0;
		}
	}
	free(walked.e);
	free(leaders);
	return err ? err : first;
}

/* ------------------------------------------------------------ union */

static void view_run(struct views *v, uint32_t bit, int (*fn)(struct views *), int *nomem)
{
	int idx = __builtin_ctz(bit), err;

	if (*nomem)
		return;
	v->cur = bit;
	v->budget = VMT_MAX_TASKS;
	vmt_error_clear();
	err = fn(v);
	if (err == -ENOMEM) {
		*nomem = err;
		return;
	}
	if (!err) {
		v->l->views_ok |= bit;
		return;
	}
	v->l->views_broken |= bit;
	snprintf(v->l->view_err[idx], sizeof(v->l->view_err[idx]), "%s",
		 *vmt_last_error() ? vmt_last_error() : strerror(-err));
}

/*
 * The tasks to list: not the idle tasks (init_task and each CPU's rq->idle;
 * without a whole runqueue view, pid 0 with PF_IDLE), and threads only
 * with VMT_TASK_THREADS.  Another task with pid 0 or PF_IDLE is listed: a
 * rootkit that wipes a task's pid must not make it vanish.
 */
static bool views_idle(struct views *v, uint64_t k, uint32_t pid)
{
	uint32_t flags;

	if (k == v->init_task)
		return true;
	if (v->l->views_ok & VMT_VIEW_RUNQUEUE)
		return tv_find(&v->idle, k) != NULL;
	return pid == 0 && !vmt_kread_u32(v->g, k + v->t->task_flags, &flags) && (flags & PF_IDLE);
}

static uint64_t *views_pick(struct views *v, unsigned what, size_t *n)
{
	uint64_t *kva = malloc((v->set.n + 1) * sizeof(*kva)), leader;
	uint32_t pid;

	*n = 0;
	for (size_t i = 0; kva && i < v->set.cap; i++) {
		uint64_t k = v->set.e[i].kva;

		if (!k || vmt_kread_u32(v->g, k + v->t->task_pid, &pid))
			continue; /* a pointer to nowhere is no task */
		if (views_idle(v, k, pid))
			continue;
		if (!(what & VMT_TASK_THREADS) &&
		    !vmt_kread_u64(v->g, k + v->t->task_group_leader, &leader) && leader != k)
			continue;
		kva[(*n)++] = k;
	}
	return kva;
}

/* seen_by from the set; a leader off the task list (and its threads): VMT_F_UNLISTED. */
static void views_tag(struct views *v, struct vmt_task_list *l)
{
	bool list_ok = l->views_ok & VMT_VIEW_TASKS;

	for (size_t i = 0; i < l->n; i++) {
		const struct tv_entry *e = tv_find(&v->set, l->tasks[i].kva);
		const struct tv_entry *le = tv_find(&v->set, l->tasks[i].leader);

		l->tasks[i].seen_by = e ? e->seen : 0;
		if (list_ok && !((le ? le->seen : 0) & VMT_VIEW_TASKS))
			l->tasks[i].flags |= VMT_F_UNLISTED;
	}
}

static void views_free(struct views *v)
{
	free(v->set.e);
	free(v->expanded.e);
	free(v->idle.e);
	free(v->queue);
}

int vmt_task_views(struct vmt_guest *g, unsigned what, struct vmt_task_list **out)
{
	struct vmt_task_list stats = {0}, *l = NULL;
	struct views v = {.g = g, .l = &stats};
	uint64_t *kva = NULL;
	size_t n = 0;
	int err, nomem = 0;

	*out = NULL;
	err = vmt_task_offsets(g, &v.t);
	if (!err)
		err = view_offsets_resolve(g, &v.o);
	if (!err && vmt_ksym(g, "init_task", &v.init_task))
		err = vmt_error(-ENOEXEC, "kernel profile has no init_task");
	if (err)
		return err;
	view_run(&v, VMT_VIEW_TASKS, view_tasks, &nomem);
	view_run(&v, VMT_VIEW_TASKS_PREV, view_tasks, &nomem);
	view_run(&v, VMT_VIEW_PIDS, view_pids, &nomem);
	view_run(&v, VMT_VIEW_CHILDREN, view_children, &nomem);
	view_run(&v, VMT_VIEW_RUNQUEUE, view_runqueue, &nomem);
	view_run(&v, VMT_VIEW_SCAN, view_scan, &nomem);
	view_run(&v, VMT_VIEW_THREADS, view_threads, &nomem); /* the groups all others found */
	err = nomem;
	if (!err) {
		kva = views_pick(&v, what, &n);
		err = kva ? vmt_tasks_read_at(g, what & ~VMT_TASK_VIEWS, kva, n, &l) : -ENOMEM;
	}
	if (!err) {
		memcpy((char *)l + offsetof(struct vmt_task_list, views_ok),
		       (char *)&stats + offsetof(struct vmt_task_list, views_ok),
		       sizeof(stats) - offsetof(struct vmt_task_list, views_ok));
		views_tag(&v, l);
		*out = l;
	}
	free(kva);
	views_free(&v);
	return err;
}
