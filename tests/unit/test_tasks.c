// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_tasks.c - the task walker (linux/tasks.c, linux/mm.c) over
 * task_structs, creds, signal_structs, mm_structs, user page tables and
 * dentries built by hand in a RAM buffer, sane and hostile.
 *
 * The fake guest (fake_guest.h) is the real profile of the test guest's
 * kernel over a RAM buffer; without a test kernel every test is skipped.
 * User address spaces are 4-level tables in the fake RAM whose top table
 * mm->pgd names by its direct-map address, as the kernel does.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "fake_guest.h"

#define PF_WQ_WORKER 0x00000020u
#define PF_KTHREAD   0x00200000u
#define EXIT_ZOMBIE  0x20u
#define PTE_USER     0x7ull /* present, writable, user */
#define PTE_ADDR     0x000ffffffffff000ull
#define PAGE	     4096ull
#define USER_STACK   0x00007ffe00000000ull /* where argv and envp live */

/* Offsets of everything the walker reads, and init_task. */
struct tk {
	uint64_t init_task;
	uint32_t size, tasks, pid, tgid, comm, real_parent, group_leader, state, exit_state, flags;
	uint32_t real_cred, signal, thread_node, mm, prio, static_prio, worker_private;
	uint32_t cred_size, cred_ids[8]; /* uid gid euid egid suid sgid fsuid fsgid */
	uint32_t sig_size, nr_threads, thread_head, sig_pids, pid_size, pid_numbers;
	uint32_t mm_size, pgd, arg_start, arg_end, env_start, env_end, exe_file;
	int64_t pidtype_pgid, pidtype_sid;
};

static const char *const cred_fields[8] = {"uid",  "gid",  "euid",  "egid",
					   "suid", "sgid", "fsuid", "fsgid"};

/* ------------------------------------------------------------ builders */

static uint32_t get32(struct fake *f, uint64_t va)
{
	uint32_t v;

	memcpy(&v, at(f, va, 4), 4);
	return v;
}

static uint64_t cred_new(struct fake *f, const struct tk *t, uint32_t base)
{
	uint64_t cred = kalloc(f, t->cred_size);

	for (int i = 0; i < 8; i++)
		put32(f, cred + t->cred_ids[i], base + (uint32_t)i);
	return cred;
}

/*
 * A task: a group leader (leader 0) gets its own signal_struct and joins
 * init_task.tasks; a thread shares its leader's signal.  Both join the
 * group's thread list.  Credentials are uid .. uid+7 (uid, gid, euid, ...).
 */
static uint64_t task_new(struct fake *f, const struct tk *t, int32_t pid, uint64_t leader,
			 uint64_t parent, const char *comm, uint32_t uid)
{
	uint64_t task = kalloc(f, t->size), signal;
	int32_t tgid = pid;

	if (leader) {
		tgid = (int32_t)get32(f, leader + t->tgid);
		signal = get64(f, leader + t->signal);
	} else {
		leader = task;
		signal = kalloc(f, t->sig_size);
		list_init(f, signal + t->thread_head);
		list_add_tail(f, t->init_task + t->tasks, task + t->tasks);
	}
	put32(f, task + t->pid, (uint32_t)pid);
	put32(f, task + t->tgid, (uint32_t)tgid);
	putstr(f, task + t->comm, comm);
	put64(f, task + t->real_parent, parent ? parent : t->init_task);
	put64(f, task + t->group_leader, leader);
	put32(f, task + t->state, 1); /* TASK_INTERRUPTIBLE */
	put32(f, task + t->prio, 120);
	put32(f, task + t->static_prio, 120);
	put64(f, task + t->real_cred, cred_new(f, t, uid));
	put64(f, task + t->signal, signal);
	list_add_tail(f, signal + t->thread_head, task + t->thread_node);
	put32(f, signal + t->nr_threads, get32(f, signal + t->nr_threads) + 1);
	return task;
}

static void tk_layout(struct fake *f, struct tk *t)
{
	uint64_t signal;

	t->init_task = sym("init_task");
	t->size = off("task_struct", NULL);
	t->tasks = off("task_struct", "tasks");
	t->pid = off("task_struct", "pid");
	t->tgid = off("task_struct", "tgid");
	t->comm = off("task_struct", "comm");
	t->real_parent = off("task_struct", "real_parent");
	t->group_leader = off("task_struct", "group_leader");
	t->state = off("task_struct", "__state");
	t->exit_state = off("task_struct", "exit_state");
	t->flags = off("task_struct", "flags");
	t->real_cred = off("task_struct", "real_cred");
	t->signal = off("task_struct", "signal");
	t->thread_node = off("task_struct", "thread_node");
	t->mm = off("task_struct", "mm");
	t->prio = off("task_struct", "prio");
	t->static_prio = off("task_struct", "static_prio");
	t->worker_private = off("task_struct", "worker_private");
	t->cred_size = off("cred", NULL);
	for (int i = 0; i < 8; i++)
		t->cred_ids[i] = off("cred", cred_fields[i]);
	t->sig_size = off("signal_struct", NULL);
	t->nr_threads = off("signal_struct", "nr_threads");
	t->thread_head = off("signal_struct", "thread_head");
	t->sig_pids = off("signal_struct", "pids");
	t->pid_size = off("pid", NULL);
	t->pid_numbers = off("pid", "numbers");
	t->pidtype_pgid = enumval("pid_type", "PIDTYPE_PGID");
	t->pidtype_sid = enumval("pid_type", "PIDTYPE_SID");
	t->mm_size = off("mm_struct", NULL);
	t->pgd = off("mm_struct", "pgd");
	t->arg_start = off("mm_struct", "arg_start");
	t->arg_end = off("mm_struct", "arg_end");
	t->env_start = off("mm_struct", "env_start");
	t->env_end = off("mm_struct", "env_end");
	t->exe_file = off("mm_struct", "exe_file");

	/* init_task (swapper, pid 0): the list head, its own leader and parent. */
	list_init(f, t->init_task + t->tasks);
	signal = kalloc(f, t->sig_size);
	list_init(f, signal + t->thread_head);
	put64(f, t->init_task + t->signal, signal);
	list_add_tail(f, signal + t->thread_head, t->init_task + t->thread_node);
	putstr(f, t->init_task + t->comm, "swapper/0");
	put64(f, t->init_task + t->real_parent, t->init_task);
	put64(f, t->init_task + t->group_leader, t->init_task);
	put64(f, t->init_task + t->real_cred, cred_new(f, t, 0));
}

static void task_set_pgrp(struct fake *f, const struct tk *t, uint64_t task, int32_t pgrp,
			  int32_t sid)
{
	uint64_t signal = get64(f, task + t->signal);
	uint64_t p = kalloc(f, t->pid_size + 16), s = kalloc(f, t->pid_size + 16);

	put32(f, p + t->pid_numbers, (uint32_t)pgrp);
	put32(f, s + t->pid_numbers, (uint32_t)sid);
	put64(f, signal + t->sig_pids + 8 * (uint64_t)t->pidtype_pgid, p);
	put64(f, signal + t->sig_pids + 8 * (uint64_t)t->pidtype_sid, s);
}

static const struct vmt_task *find_pid(const struct vmt_task_list *l, int32_t pid)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->tasks[i].pid == pid)
			return &l->tasks[i];
	return NULL;
}

/* True if no task_struct is listed twice. */
static bool kvas_unique(const struct vmt_task_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		for (size_t j = i + 1; j < l->n; j++)
			if (l->tasks[i].kva == l->tasks[j].kva)
				return false;
	return true;
}

/* ------------------------------------------------- user address spaces */

static uint64_t frame_new(struct fake *f)
{
	return kpa(kalloc_align(f, PAGE, PAGE));
}

/* Map the user page at va to frame pa in the 4-level tables at pgd (physical). */
static void umap(struct fake *f, uint64_t pgd, uint64_t va, uint64_t pa)
{
	uint64_t table = pgd;

	for (int level = 3; level > 0; level--) {
		uint64_t e = PAGE_OFFSET + table + 8 * ((va >> (12 + 9 * level)) & 511);
		uint64_t v = get64(f, e);

		if (!(v & 1)) {
			v = frame_new(f) | PTE_USER;
			put64(f, e, v);
		}
		table = v & PTE_ADDR;
	}
	put64(f, PAGE_OFFSET + table + 8 * ((va >> 12) & 511), pa | PTE_USER);
}

/* Host pointer to user va (must be mapped), by walking the tables. */
static uint8_t *uat(struct fake *f, uint64_t pgd, uint64_t va)
{
	uint64_t table = pgd;

	for (int level = 3; level >= 0; level--) {
		uint64_t v = get64(f, PAGE_OFFSET + table + 8 * ((va >> (12 + 9 * level)) & 511));

		assert_true(v & 1);
		table = v & PTE_ADDR;
	}
	return at(f, PAGE_OFFSET + table + (va & (PAGE - 1)), 1);
}

static void uput(struct fake *f, uint64_t pgd, uint64_t va, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (size_t i = 0; i < len; i++)
		*uat(f, pgd, va + i) = p[i];
}

/* Give task an mm with an empty address space; returns pgd's physical address. */
static uint64_t mm_new(struct fake *f, const struct tk *t, uint64_t task, uint64_t *mm_out)
{
	uint64_t mm = kalloc(f, t->mm_size), pgd = frame_new(f);

	put64(f, mm + t->pgd, PAGE_OFFSET + pgd);
	put64(f, task + t->mm, mm);
	*mm_out = mm;
	return pgd;
}

static void mm_args(struct fake *f, const struct tk *t, uint64_t mm, uint64_t arg_start,
		    uint64_t arg_end, uint64_t env_start, uint64_t env_end)
{
	put64(f, mm + t->arg_start, arg_start);
	put64(f, mm + t->arg_end, arg_end);
	put64(f, mm + t->env_start, env_start);
	put64(f, mm + t->env_end, env_end);
}

/* A process with argv (and envp right after it) in one mapped page. */
static uint64_t proc_with_args(struct fake *f, const struct tk *t, int32_t pid, const void *argv,
			       size_t argv_len, const void *envp, size_t envp_len, uint64_t *mm)
{
	uint64_t task = task_new(f, t, pid, 0, 0, "proc", 1000);
	uint64_t pgd = mm_new(f, t, task, mm), va = USER_STACK + 0x100;

	umap(f, pgd, USER_STACK, frame_new(f));
	uput(f, pgd, va, argv, argv_len);
	uput(f, pgd, va + argv_len, envp, envp_len);
	mm_args(f, t, *mm, va, va + argv_len, va + argv_len, va + argv_len + envp_len);
	return pgd;
}

/* ----------------------------------------------------------- processes */

/*
 * init_task + init, kthreadd, a shell, a three-thread workload and its
 * zombie child: exactly those, sorted by pid, as ps shows them.
 */
static void test_tasks_sane(void **state)
{
	struct fake *f = *state;
	struct vmt_task_list *l = NULL;
	const struct vmt_task *p;
	struct tk t;
	uint64_t init, kthreadd, work, thr, zombie;

	tk_layout(f, &t);
	init = task_new(f, &t, 1, 0, 0, "init", 0);
	kthreadd = task_new(f, &t, 2, 0, 0, "kthreadd", 0);
	put32(f, kthreadd + t.flags, PF_KTHREAD);
	task_new(f, &t, 50, 0, init, "sh", 1000);
	work = task_new(f, &t, 100, 0, init, "vmt-workload", 2000);
	put32(f, work + t.state, 0); /* running */
	task_set_pgrp(f, &t, work, 100, 50);
	thr = task_new(f, &t, 101, work, init, "worker-a", 2000);
	put32(f, thr + t.state, 2); /* uninterruptible */
	thr = task_new(f, &t, 102, work, init, "worker-b", 2000);
	put32(f, thr + t.state, 0x402); /* TASK_IDLE */
	zombie = task_new(f, &t, 120, 0, thr, "defunct", 3000);
	put32(f, zombie + t.state, 0);
	put32(f, zombie + t.exit_state, EXIT_ZOMBIE);

	assert_int_equal(vmt_tasks(&f->g, VMT_TASK_CMDLINE | VMT_TASK_EXE, &l), 0);
	assert_int_equal(l->n, 5);
	assert_int_equal(l->tasks[0].pid, 1);
	assert_int_equal(l->tasks[1].pid, 2);
	assert_int_equal(l->tasks[2].pid, 50);
	assert_int_equal(l->tasks[3].pid, 100);
	assert_int_equal(l->tasks[4].pid, 120);
	for (size_t i = 0; i < l->n; i++) {
		assert_int_equal(l->tasks[i].flags & ~VMT_F_KTHREAD, 0);
		assert_int_equal(l->tasks[i].tgid, l->tasks[i].pid);
		assert_null(l->tasks[i].cmdline);
		assert_null(l->tasks[i].exe);
	}
	p = &l->tasks[0];
	assert_string_equal(p->comm, "init");
	assert_int_equal(p->ppid, 0); /* init_task's tgid */
	assert_int_equal(p->state, 'S');
	assert_int_equal(p->nice, 0);
	assert_int_equal(p->prio, 20);
	assert_int_equal(l->tasks[1].flags, VMT_F_KTHREAD);
	p = &l->tasks[2];
	assert_int_equal(p->ppid, 1);
	assert_int_equal(p->uid, 1000);
	assert_int_equal(p->gid, 1001);
	assert_int_equal(p->euid, 1002);
	assert_int_equal(p->egid, 1003);
	assert_int_equal(p->suid, 1004);
	assert_int_equal(p->sgid, 1005);
	assert_int_equal(p->fsuid, 1006);
	assert_int_equal(p->fsgid, 1007);
	p = &l->tasks[3];
	assert_string_equal(p->comm, "vmt-workload");
	assert_string_equal(p->name, "vmt-workload");
	assert_int_equal(p->state, 'R');
	assert_int_equal(p->nthreads, 3);
	assert_int_equal(p->pgrp, 100);
	assert_int_equal(p->session, 50);
	assert_int_equal(p->kva, work);
	assert_int_equal(p->pgd_pa, 0);
	/* the zombie's real parent is a thread of 100: ppid is its tgid */
	p = &l->tasks[4];
	assert_int_equal(p->state, 'Z');
	assert_int_equal(p->ppid, 100);
	assert_int_equal(p->uid, 3000);
	vmt_task_list_free(l);

	/* With threads: 101 and 102 appear, flagged, in the group of 100. */
	assert_int_equal(vmt_tasks(&f->g, VMT_TASK_THREADS, &l), 0);
	assert_int_equal(l->n, 7);
	p = find_pid(l, 101);
	assert_non_null(p);
	assert_int_equal(p->tgid, 100);
	assert_int_equal(p->flags, VMT_F_THREAD);
	assert_int_equal(p->state, 'D');
	assert_int_equal(p->nthreads, 3);
	assert_string_equal(p->comm, "worker-a");
	p = find_pid(l, 102);
	assert_non_null(p);
	assert_int_equal(p->state, 'I');
	assert_int_equal(find_pid(l, 100)->flags, 0);
	assert_int_equal(find_pid(l, 120)->state, 'Z');
	for (size_t i = 1; i < l->n; i++)
		assert_true(l->tasks[i - 1].pid < l->tasks[i].pid);
	vmt_task_list_free(l);
}

/* fs/proc/array.c task_state_array, through __task_state_index(). */
static void test_tasks_state_letters(void **state)
{
	static const struct {
		uint32_t state, exit_state;
		char letter;
	} cases[] = {
	    {0, 0, 'R'},      {1, 0, 'S'},	{2, 0, 'D'},	{4, 0, 'T'},
	    {8, 0, 't'},      {0, 0x10, 'X'},	{0, 0x20, 'Z'}, {0x40, 0, 'P'},
	    {0x402, 0, 'I'},  {0x2001, 0, 'S'}, /* TASK_INTERRUPTIBLE | TASK_FREEZABLE */
	    {0x2402, 0, 'I'},			/* TASK_IDLE | TASK_FREEZABLE (see note below) */
	};
	struct fake *f = *state;
	struct vmt_task_list *l = NULL;
	struct tk t;

	tk_layout(f, &t);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t task = task_new(f, &t, 10 + (int32_t)i, 0, 0, "s", 0);

		put32(f, task + t.state, cases[i].state);
		put32(f, task + t.exit_state, cases[i].exit_state);
	}
	assert_int_equal(vmt_tasks(&f->g, 0, &l), 0);
	assert_int_equal(l->n, ARRAY_SIZE(cases));
	/*
	 * As the kernel: (state & TASK_IDLE) == TASK_IDLE is 'I', so an idle
	 * task with another flag (TASK_FREEZABLE, 6.1) shows 'I', not 'D'.
	 */
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		assert_int_equal(l->tasks[i].state, cases[i].letter);
	vmt_task_list_free(l);
}

/* A workqueue worker's name is comm + "-desc" ("+desc" while it runs work). */
static void test_tasks_kworker_name(void **state)
{
	struct fake *f = *state;
	struct vmt_task_list *l = NULL;
	struct tk t;
	uint64_t kw, kthread, worker, kt2, name;

	tk_layout(f, &t);
	kw = task_new(f, &t, 7, 0, 0, "kworker/0:1", 0);
	put32(f, kw + t.flags, PF_KTHREAD | PF_WQ_WORKER);
	kthread = kalloc(f, off("kthread", NULL));
	worker = kalloc(f, off("worker", NULL));
	put64(f, kw + t.worker_private, kthread);
	put64(f, kthread + off("kthread", "data"), worker);
	put64(f, worker + off("worker", "pool"), kalloc(f, 64));
	putstr(f, worker + off("worker", "desc"), "events");
	kw = task_new(f, &t, 8, 0, 0, "kworker/1:2", 0);
	put32(f, kw + t.flags, PF_KTHREAD | PF_WQ_WORKER);
	put64(f, kw + t.worker_private, kthread + 0); /* same kthread struct: fine */
	/* a kthread whose full name is longer than comm */
	kt2 = task_new(f, &t, 9, 0, 0, "vmt-very-long-k", 0);
	put32(f, kt2 + t.flags, PF_KTHREAD);
	kthread = kalloc(f, off("kthread", NULL));
	name = kalloc(f, 64);
	putstr(f, name, "vmt-very-long-kthread-name");
	put64(f, kt2 + t.worker_private, kthread);
	put64(f, kthread + off("kthread", "full_name"), name);
	/* a kthread without full_name keeps its comm */
	kt2 = task_new(f, &t, 10, 0, 0, "ksoftirqd/0", 0);
	put32(f, kt2 + t.flags, PF_KTHREAD);
	put64(f, kt2 + t.worker_private, kalloc(f, off("kthread", NULL)));

	assert_int_equal(vmt_tasks(&f->g, 0, &l), 0);
	assert_int_equal(l->n, 4);
	assert_string_equal(l->tasks[0].comm, "kworker/0:1");
	assert_string_equal(l->tasks[0].name, "kworker/0:1-events");
	assert_int_equal(l->tasks[0].flags, VMT_F_KTHREAD);
	assert_string_equal(l->tasks[1].name, "kworker/1:2-events");
	assert_string_equal(l->tasks[2].comm, "vmt-very-long-k");
	assert_string_equal(l->tasks[2].name, "vmt-very-long-kthread-name");
	assert_string_equal(l->tasks[3].name, "ksoftirqd/0");
	vmt_task_list_free(l);

	/* running a work item: "+" */
	put64(f, worker + off("worker", "current_work"), kalloc(f, 64));
	vmt_listing_begin(&f->g);
	assert_int_equal(vmt_tasks(&f->g, 0, &l), 0);
	assert_string_equal(l->tasks[0].name, "kworker/0:1+events");
	vmt_task_list_free(l);
}

/* ------------------------------------------------------------- cmdline */

static void test_tasks_cmdline(void **state)
{
	static const char argv[] = "/bin/vmt-workload\0--mode\0busy", envp[] = "HOME=/\0TERM=vt100";
	struct fake *f = *state;
	struct vmt_task_list *l = NULL;
	struct tk t;
	uint64_t mm, pgd;

	tk_layout(f, &t);
	pgd = proc_with_args(f, &t, 42, argv, sizeof(argv), envp, sizeof(envp), &mm);
	assert_int_equal(vmt_tasks(&f->g, VMT_TASK_CMDLINE | VMT_TASK_ENVIRON, &l), 0);
	assert_int_equal(l->n, 1);
	assert_int_equal(l->tasks[0].flags, 0);
	assert_int_equal(l->tasks[0].pgd_pa, pgd);
	assert_int_equal(l->tasks[0].cmdline_len, sizeof(argv));
	assert_memory_equal(l->tasks[0].cmdline, argv, sizeof(argv));
	assert_int_equal(l->tasks[0].environ_len, sizeof(envp));
	assert_memory_equal(l->tasks[0].environ, envp, sizeof(envp));
	vmt_task_list_free(l);

	/* without the flags nothing is read from user memory */
	assert_int_equal(vmt_tasks(&f->g, 0, &l), 0);
	assert_null(l->tasks[0].cmdline);
	assert_null(l->tasks[0].environ);
	assert_int_equal(l->tasks[0].pgd_pa, pgd);
	vmt_task_list_free(l);
}

/* argv across a page boundary; the two pages live in non-adjacent frames, in reverse order. */
static void test_tasks_cmdline_two_pages(void **state)
{
	struct fake *f = *state;
	struct vmt_task_list *l = NULL;
	struct tk t;
	uint64_t task, mm, pgd, hi, gap, lo, start = USER_STACK + PAGE - 100;
	char argv[300];

	tk_layout(f, &t);
	for (size_t i = 0; i < sizeof(argv); i++)
		argv[i] = i % 10 == 9 ? '\0' : (char)('a' + i % 26);
	argv[sizeof(argv) - 1] = '\0';
	task = task_new(f, &t, 42, 0, 0, "proc", 0);
	pgd = mm_new(f, &t, task, &mm);
	hi = frame_new(f);
	gap = frame_new(f);
	lo = frame_new(f);
	assert_true(hi + PAGE < lo && gap);
	umap(f, pgd, USER_STACK, lo);
	umap(f, pgd, USER_STACK + PAGE, hi);
	uput(f, pgd, start, argv, sizeof(argv));
	memset(f->ram + gap, 'G', PAGE); /* what a linear read would wrongly return */
	mm_args(f, &t, mm, start, start + sizeof(argv), start + sizeof(argv), start + sizeof(argv));
	assert_int_equal(vmt_tasks(&f->g, VMT_TASK_CMDLINE, &l), 0);
	assert_int_equal(l->tasks[0].flags, 0);
	assert_int_equal(l->tasks[0].cmdline_len, sizeof(argv));
	assert_memory_equal(l->tasks[0].cmdline, argv, sizeof(argv));
	vmt_task_list_free(l);
}

/* The second argv page is not present: what was readable, flagged partial. */
static void test_tasks_cmdline_partial(void **state)
{
	struct fake *f = *state;
	struct vmt_task_list *l = NULL;
	struct tk t;
	uint64_t task, mm, pgd, start = USER_STACK + PAGE - 8;

	tk_layout(f, &t);
	task = task_new(f, &t, 42, 0, 0, "proc", 0);
	pgd = mm_new(f, &t, task, &mm);
	umap(f, pgd, USER_STACK, frame_new(f));
	uput(f, pgd, start, "prog\0-x\0", 8);
	mm_args(f, &t, mm, start, start + 40, start + 40, start + 60);
	assert_int_equal(vmt_tasks(&f->g, VMT_TASK_CMDLINE | VMT_TASK_ENVIRON, &l), 0);
	assert_int_equal(l->n, 1);
	assert_true(l->tasks[0].flags & VMT_F_PARTIAL);
	assert_int_equal(l->tasks[0].cmdline_len, 8);
	assert_memory_equal(l->tasks[0].cmdline, "prog\0-x\0", 8);
	assert_int_equal(l->tasks[0].environ_len, 0);
	vmt_task_list_free(l);

	/* a pgd outside the direct map: no address space at all */
	put64(f, mm + t.pgd, UNMAPPED_VA);
	vmt_listing_begin(&f->g);
	assert_int_equal(vmt_tasks(&f->g, VMT_TASK_CMDLINE, &l), 0);
	assert_int_equal(l->tasks[0].flags, VMT_F_PARTIAL);
	assert_null(l->tasks[0].cmdline);
	vmt_task_list_free(l);
}

/*
 * setproctitle(): the last byte of argv is not NUL, so the kernel
 * (fs/proc/base.c get_mm_cmdline/get_mm_proctitle) returns the string up
 * to the first NUL, running on into the environment only when it starts
 * right at arg_end, and never more than one page.
 */
static void test_tasks_setproctitle(void **state)
{
	static const char title[] = "vmt: idle\0orkload\0--mode\0busyX";
	static const char over[] = "AAAAAAAAAA", env[] = "BBB\0TERM=vt100";
	struct fake *f = *state;
	struct vmt_task_list *l = NULL;
	const struct vmt_task *p;
	struct tk t;
	uint64_t mm, pgd, task, va;
	char *big;

	tk_layout(f, &t);
	proc_with_args(f, &t, 10, title, sizeof(title) - 1, "E=1", 4, &mm);
	proc_with_args(f, &t, 11, over, sizeof(over) - 1, env, sizeof(env), &mm);
	pgd = proc_with_args(f, &t, 12, over, sizeof(over) - 1, env, sizeof(env), &mm);
	va = get64(f, mm + t.arg_end);
	put64(f, mm + t.env_start, va + 1); /* environment elsewhere: stop at arg_end */
	put64(f, mm + t.env_end, va + sizeof(env));
	(void)pgd;

	/* 5000 bytes of title over the environment: the kernel shows one page. */
	task = task_new(f, &t, 13, 0, 0, "proc", 0);
	pgd = mm_new(f, &t, task, &mm);
	umap(f, pgd, USER_STACK, frame_new(f));
	umap(f, pgd, USER_STACK + PAGE, frame_new(f));
	big = malloc(6000);
	assert_non_null(big);
	memset(big, 'T', 6000);
	big[5999] = '\0';
	uput(f, pgd, USER_STACK, big, 6000);
	mm_args(f, &t, mm, USER_STACK, USER_STACK + 10, USER_STACK + 10, USER_STACK + 6000);

	assert_int_equal(vmt_tasks(&f->g, VMT_TASK_CMDLINE, &l), 0);
	assert_int_equal(l->n, 4);
	p = &l->tasks[0];
	assert_int_equal(p->flags, 0);
	assert_int_equal(p->cmdline_len, 10);
	assert_memory_equal(p->cmdline, "vmt: idle", 10);
	p = &l->tasks[1];
	assert_int_equal(p->cmdline_len, 14);
	assert_memory_equal(p->cmdline, "AAAAAAAAAABBB", 14);
	p = &l->tasks[2];
	assert_int_equal(p->cmdline_len, 10);
	assert_memory_equal(p->cmdline, "AAAAAAAAAA", 10);
	p = &l->tasks[3];
	assert_memory_equal(p->cmdline, big, 4096);
	/*
	 * The kernel's get_mm_proctitle() reads one PAGE_SIZE, not the whole
	 * [arg_start, env_end): /proc shows 4096 bytes.
	 */
	assert_int_equal(p->cmdline_len, 4096);
	free(big);
	vmt_task_list_free(l);
}

/*
 * arg_end - arg_start = 4 GiB: capped at VMT_MAX_ARGS_BYTES and flagged
 * truncated; the user mapping repeats one frame so the whole cap is
 * readable, which also shows the buffer is the cap, not the guest's length.
 */
static void test_tasks_args_huge(void **state)
{
	struct fake *f = *state;
	struct vmt_task_list *l = NULL;
	struct tk t;
	uint64_t task, mm, pgd, frame, start = USER_STACK;

	tk_layout(f, &t);
	task = task_new(f, &t, 42, 0, 0, "proc", 0);
	pgd = mm_new(f, &t, task, &mm);
	frame = frame_new(f);
	memset(f->ram + frame, 'a', PAGE);
	f->ram[frame + PAGE - 1] = '\0';
	for (uint64_t va = start; va < start + VMT_MAX_ARGS_BYTES + 2 * PAGE; va += PAGE)
		umap(f, pgd, va, frame);
	mm_args(f, &t, mm, start, start + (4ull << 30), start, start + (4ull << 30));
	assert_int_equal(vmt_tasks(&f->g, VMT_TASK_CMDLINE | VMT_TASK_ENVIRON, &l), 0);
	assert_int_equal(l->tasks[0].flags, VMT_F_TRUNCATED);
	assert_int_equal(l->tasks[0].cmdline_len, VMT_MAX_ARGS_BYTES);
	assert_int_equal(l->tasks[0].environ_len, VMT_MAX_ARGS_BYTES);
	assert_memory_equal(l->tasks[0].cmdline, f->ram + frame, PAGE);
	vmt_task_list_free(l);

	/* the most a u64 allows, and lengths past the user half */
	mm_args(f, &t, mm, start, ~0ull, 0xffff888000000000ull, ~0ull);
	vmt_listing_begin(&f->g);
	assert_int_equal(vmt_tasks(&f->g, VMT_TASK_CMDLINE | VMT_TASK_ENVIRON, &l), 0);
	assert_int_equal(l->tasks[0].cmdline_len, VMT_MAX_ARGS_BYTES);
	assert_true(l->tasks[0].flags & VMT_F_TRUNCATED);
	assert_null(l->tasks[0].environ);
	vmt_task_list_free(l);
}

/* arg_end < arg_start, or empty: no cmdline, no crash. */
static void test_tasks_args_inverted(void **state)
{
	struct fake *f = *state;
	struct vmt_task_list *l = NULL;
	struct tk t;
	uint64_t mm, mm2;

	tk_layout(f, &t);
	proc_with_args(f, &t, 42, "ab", 3, "c", 2, &mm);
	mm_args(f, &t, mm, USER_STACK + 0x200, USER_STACK + 0x100, USER_STACK + 0x300,
		USER_STACK + 0x100);
	proc_with_args(f, &t, 43, "ab", 3, "c", 2, &mm2);
	mm_args(f, &t, mm2, USER_STACK, USER_STACK, 0, 0);
	assert_int_equal(vmt_tasks(&f->g, VMT_TASK_CMDLINE | VMT_TASK_ENVIRON, &l), 0);
	assert_int_equal(l->n, 2);
	for (int i = 0; i < 2; i++) {
		assert_null(l->tasks[i].cmdline);
		assert_int_equal(l->tasks[i].cmdline_len, 0);
		assert_null(l->tasks[i].environ);
		assert_int_equal(l->tasks[i].flags & VMT_F_TRUNCATED, 0);
	}
	vmt_task_list_free(l);
}

/* ------------------------------------------------------------ exe path */

struct vfs {
	uint32_t dentry_size, d_parent, d_name, d_hash_pprev, q_name, q_len;
	uint32_t mount_size, mnt, mnt_parent, mnt_mountpoint, mnt_root;
	uint32_t file_size, f_path, path_mnt, path_dentry;
};

static void vfs_layout(struct vfs *v)
{
	v->dentry_size = off("dentry", NULL);
	v->d_parent = off("dentry", "d_parent");
	v->d_name = off("dentry", "d_name");
	v->d_hash_pprev = off("dentry", "d_hash.pprev");
	v->q_name = off("qstr", "name");
	v->q_len = off("qstr", "len");
	v->mount_size = off("mount", NULL);
	v->mnt = off("mount", "mnt");
	v->mnt_parent = off("mount", "mnt_parent");
	v->mnt_mountpoint = off("mount", "mnt_mountpoint");
	v->mnt_root = off("vfsmount", "mnt_root");
	v->file_size = off("file", NULL);
	v->f_path = off("file", "f_path");
	v->path_mnt = off("path", "mnt");
	v->path_dentry = off("path", "dentry");
}

/*
 * A dentry named name under parent (0: a root dentry, its own parent),
 * hashed like any live dentry: d_hash.pprev points somewhere.
 */
static uint64_t dentry_new(struct fake *f, const struct vfs *v, uint64_t parent, const char *name)
{
	uint64_t d = kalloc(f, v->dentry_size), s = kalloc(f, strlen(name) + 1);

	put64(f, d + v->d_hash_pprev, kalloc(f, 8));
	putstr(f, s, name);
	put64(f, d + v->d_parent, parent ? parent : d);
	put64(f, d + v->d_name + v->q_name, s);
	put32(f, d + v->d_name + v->q_len, (uint32_t)strlen(name));
	return d;
}

/* A mount of root at mountpoint in parent (0: the root mount); returns the struct mount. */
static uint64_t mount_new(struct fake *f, const struct vfs *v, uint64_t root, uint64_t parent,
			  uint64_t mountpoint)
{
	uint64_t m = kalloc(f, v->mount_size);

	put64(f, m + v->mnt + v->mnt_root, root);
	put64(f, m + v->mnt_parent, parent ? parent : m);
	put64(f, m + v->mnt_mountpoint, mountpoint ? mountpoint : root);
	return m;
}

/* A user process whose mm->exe_file is dentry on mount. */
static void proc_with_exe(struct fake *f, const struct tk *t, const struct vfs *v, int32_t pid,
			  uint64_t mount, uint64_t dentry)
{
	uint64_t task = task_new(f, t, pid, 0, 0, "proc", 0), mm, file = kalloc(f, v->file_size);

	mm_new(f, t, task, &mm);
	put64(f, mm + t->exe_file, file);
	put64(f, file + v->f_path + v->path_mnt, mount + v->mnt);
	put64(f, file + v->f_path + v->path_dentry, dentry);
}

static void test_tasks_exe_path(void **state)
{
	struct fake *f = *state;
	struct vmt_task_list *l = NULL;
	struct vfs v;
	struct tk t;
	uint64_t root, bin, usr, mroot, usr_root, usr_bin, musr, gone;

	tk_layout(f, &t);
	vfs_layout(&v);
	root = dentry_new(f, &v, 0, "/");
	bin = dentry_new(f, &v, root, "bin");
	mroot = mount_new(f, &v, root, 0, 0);
	proc_with_exe(f, &t, &v, 10, mroot, dentry_new(f, &v, bin, "vmt-workload"));
	/* /usr is a mount of its own: climb to its root, cross to the mountpoint */
	usr = dentry_new(f, &v, root, "usr");
	usr_root = dentry_new(f, &v, 0, "/");
	usr_bin = dentry_new(f, &v, usr_root, "bin");
	musr = mount_new(f, &v, usr_root, mroot, usr);
	proc_with_exe(f, &t, &v, 11, musr, dentry_new(f, &v, usr_bin, "python3"));
	/* the root directory itself */
	proc_with_exe(f, &t, &v, 12, mroot, root);
	/* an executable unlinked after exec: unhashed, as d_path() shows it */
	gone = dentry_new(f, &v, bin, "evil");
	put64(f, gone + v.d_hash_pprev, 0);
	proc_with_exe(f, &t, &v, 13, mroot, gone);

	assert_int_equal(vmt_tasks(&f->g, VMT_TASK_EXE, &l), 0);
	assert_int_equal(l->n, 4);
	assert_int_equal(l->tasks[0].flags, 0);
	assert_string_equal(l->tasks[0].exe, "/bin/vmt-workload");
	assert_int_equal(l->tasks[1].flags, 0);
	assert_string_equal(l->tasks[1].exe, "/usr/bin/python3");
	assert_string_equal(l->tasks[2].exe, "/");
	assert_string_equal(l->tasks[3].exe, "/bin/evil (deleted)");
	vmt_task_list_free(l);
}

/*
 * Dentry chains that never reach a root: a loop, and one deeper than
 * VMT_MAX_PATH_DEPTH.  Bounded, and no made-up path: no exe, partial.
 */
static void test_tasks_exe_loop(void **state)
{
	struct fake *f = *state;
	struct vmt_task_list *l = NULL;
	struct vfs v;
	struct tk t;
	uint64_t a, b, root, d, m, m2, name;

	tk_layout(f, &t);
	vfs_layout(&v);
	root = dentry_new(f, &v, 0, "/");
	m = mount_new(f, &v, root, 0, 0);
	a = dentry_new(f, &v, root, "a");
	b = dentry_new(f, &v, a, "b");
	put64(f, a + v.d_parent, b);
	proc_with_exe(f, &t, &v, 10, m, b);
	d = root;
	for (int i = 0; i < VMT_MAX_PATH_DEPTH + 10; i++)
		d = dentry_new(f, &v, d, "d");
	proc_with_exe(f, &t, &v, 11, m, d);
	/* two mounts that are each other's parent, their roots mounted on each other */
	m2 = kalloc(f, v.mount_size);
	m = mount_new(f, &v, root, m2, root);
	put64(f, m2 + v.mnt + v.mnt_root, root);
	put64(f, m2 + v.mnt_parent, m);
	put64(f, m2 + v.mnt_mountpoint, root);
	proc_with_exe(f, &t, &v, 12, m, root);
	/* a name whose length is far beyond NAME_MAX, and one pointing nowhere */
	d = dentry_new(f, &v, root, "x");
	put32(f, d + v.d_name + v.q_len, 0x7fffffff);
	proc_with_exe(f, &t, &v, 13, mount_new(f, &v, root, 0, 0), d);
	d = dentry_new(f, &v, root, "y");
	name = UNMAPPED_VA;
	put64(f, d + v.d_name + v.q_name, name);
	proc_with_exe(f, &t, &v, 14, mount_new(f, &v, root, 0, 0), d);

	assert_int_equal(vmt_tasks(&f->g, VMT_TASK_EXE, &l), 0);
	assert_int_equal(l->n, 5);
	/*
	 * A dentry loop or a chain deeper than VMT_MAX_PATH_DEPTH gives no
	 * path (and a partial entry), never the components collected so far
	 * ("/b/a/b/a/...") as if the walk had reached the root.
	 */
	for (size_t i = 0; i < l->n; i++) {
		if (l->tasks[i].pid == 12)
			continue; /* a mount loop ends at mnt_root: "/" is a fair answer */
		assert_null(l->tasks[i].exe);
		assert_int_equal(l->tasks[i].flags, VMT_F_PARTIAL);
	}
	vmt_task_list_free(l);
}

/* ------------------------------------------------------------- hostile */

/* C's next points back to B: the tasks read before, once each, list PARTIAL. */
static void test_tasks_list_cycle(void **state)
{
	struct fake *f = *state;
	struct vmt_task_list *l = NULL;
	struct tk t;
	uint64_t b, c;

	tk_layout(f, &t);
	task_new(f, &t, 1, 0, 0, "a", 0);
	b = task_new(f, &t, 2, 0, 0, "b", 0);
	c = task_new(f, &t, 3, 0, 0, "c", 0);
	put64(f, c + t.tasks, b + t.tasks);
	assert_int_equal(vmt_tasks(&f->g, 0, &l), 0);
	assert_true(l->flags & VMT_F_PARTIAL);
	assert_non_null(l);
	assert_non_null(strstr(vmt_last_error(), "cycle"));
	/*
	 * Brent's detector sees a node of the cycle up to twice before it
	 * closes; vmt_tasks() keeps one entry per task_struct.
	 */
	assert_true(kvas_unique(l));
	assert_int_equal(l->n, 3);
	assert_int_equal(l->tasks[0].pid, 1);
	assert_int_equal(l->tasks[2].pid, 3);
	vmt_task_list_free(l);
}

/* A next pointer to unmapped or non-canonical memory: the tasks before, PARTIAL. */
static void test_tasks_list_bad_next(void **state)
{
	static const uint64_t bad[] = {
	    UNMAPPED_VA,	   /* canonical kernel address, no page tables */
	    0xff00000000001000ull, /* passes vmt_kptr_ok, not canonical with 4 levels */
	    0x0000414141414140ull, /* user space */
	    0xdead000000000100ull, /* LIST_POISON1 */
	    0,
	};
	struct fake *f = *state;
	struct vmt_task_list *l = NULL;
	struct tk t;
	uint64_t b;

	tk_layout(f, &t);
	task_new(f, &t, 1, 0, 0, "a", 0);
	b = task_new(f, &t, 2, 0, 0, "b", 0);
	for (size_t i = 0; i < 2 * ARRAY_SIZE(bad); i++) {
		put64(f, b + t.tasks, bad[i / 2]);
		vmt_listing_begin(&f->g);
		assert_int_equal(vmt_tasks(&f->g, i % 2 ? VMT_TASK_THREADS : 0, &l), 0);
		assert_true(l->flags & VMT_F_PARTIAL);
		assert_non_null(l);
		/*
		 * vmt_list_walk() reads a node before handing it on, so an
		 * unreadable node is no phantom task (pid 0, every field zero).
		 */
		assert_int_equal(l->n, 2);
		assert_int_equal(l->tasks[0].pid, 1);
		assert_int_equal(l->tasks[1].pid, 2);
		vmt_task_list_free(l);
	}

	/* init_task.tasks itself unreadable-looking: an error, an empty list */
	put64(f, t.init_task + t.tasks, 0x4141414141414141ull);
	vmt_listing_begin(&f->g);
	assert_int_equal(vmt_tasks(&f->g, 0, &l), 0);
	assert_true(l->flags & VMT_F_PARTIAL);
	assert_non_null(l);
	assert_int_equal(l->n, 0);
	vmt_task_list_free(l);
}

/* The pid index of init_pid_ns as one leaf node (pids < 64): pid nr -> task. */
static void idr_add(struct fake *f, uint64_t task, int32_t nr)
{
	uint64_t head = sym("init_pid_ns") + off("pid_namespace", "idr.idr_rt.xa_head");
	uint64_t node = get64(f, head), pid = kalloc(f, off("pid", NULL));

	if (!node) {
		node = kalloc(f, off("xa_node", NULL)) | 2; /* shift 0 */
		put64(f, head, node);
	}
	put32(f, pid + off("pid", "numbers") + off("upid", "nr"), (uint32_t)nr);
	if (task == UNMAPPED_VA) /* only the pid's own pointer: there is no task to link */
		put64(f, pid + off("pid", "tasks"), task + off("task_struct", "pid_links"));
	else
		hlist_push(f, pid + off("pid", "tasks"), task + off("task_struct", "pid_links"));
	put64(f, (node - 2) + off("xa_node", "slots") + 8 * (uint64_t)nr, pid);
}

/*
 * A task list that breaks (a task_struct whose next cannot be read, as when
 * its sub-host is gone): the tasks past the break come from the pid index,
 * the list says so, and a task of the index whose task_struct cannot be
 * read is named by its pid and flagged partial.
 */
static void test_tasks_break_bridged_by_pid_index(void **state)
{
	struct fake *f = *state;
	struct vmt_task_list *l = NULL;
	uint64_t a, b, c, th;
	struct tk t;

	tk_layout(f, &t);
	a = task_new(f, &t, 1, 0, 0, "a", 0);
	b = task_new(f, &t, 2, 0, 0, "b", 0);
	c = task_new(f, &t, 3, 0, 0, "c", 1000);
	th = task_new(f, &t, 4, c, 0, "c-thread", 1000);
	put64(f, b + t.tasks, UNMAPPED_VA); /* c is past the break */
	idr_add(f, a, 1);
	idr_add(f, b, 2);
	idr_add(f, c, 3);
	idr_add(f, th, 4);
	idr_add(f, UNMAPPED_VA, 7); /* its task_struct cannot be read */
	for (int threads = 0; threads < 2; threads++) {
		vmt_listing_begin(&f->g);
		assert_int_equal(vmt_tasks(&f->g, threads ? VMT_TASK_THREADS : 0, &l), 0);
		assert_true(l->flags & VMT_F_PARTIAL);
		assert_true(l->flags & VMT_F_PIDINDEX);
		assert_int_equal(l->n, threads ? 5 : 4);
		assert_int_equal(l->tasks[2].pid, 3);
		assert_string_equal(l->tasks[2].comm, "c");
		assert_int_equal(l->tasks[2].uid, 1000);
		assert_false(l->tasks[2].flags & VMT_F_PARTIAL);
		if (threads)
			assert_int_equal(l->tasks[3].pid, 4);
		assert_int_equal(l->tasks[l->n - 1].pid, 7);
		assert_true(l->tasks[l->n - 1].flags & VMT_F_PARTIAL);
		vmt_task_list_free(l);
	}
	/* A whole list never looks at the index. */
	put64(f, b + t.tasks, c + t.tasks);
	vmt_listing_begin(&f->g);
	assert_int_equal(vmt_tasks(&f->g, 0, &l), 0);
	assert_false(l->flags & (VMT_F_PARTIAL | VMT_F_PIDINDEX));
	assert_int_equal(l->n, 3);
	vmt_task_list_free(l);
}

/*
 * DKOM: a leader unlinked from the task list (its neighbours relinked, its
 * own node pointing at itself, or poisoned by list_del) that the pid index
 * still holds: listed only with VMT_TASK_PIDINDEX, it and its thread
 * flagged VMT_F_UNLISTED; the list itself is whole (no partial flag).
 */
static void test_tasks_unlisted_by_pid_index(void **state)
{
	struct fake *f = *state;
	struct vmt_task_list *l = NULL;
	uint64_t a, b, c, th;
	struct tk t;

	tk_layout(f, &t);
	a = task_new(f, &t, 1, 0, 0, "a", 0);
	b = task_new(f, &t, 2, 0, 0, "b", 0);
	c = task_new(f, &t, 3, 0, 0, "c", 0);
	th = task_new(f, &t, 4, c, 0, "c-thread", 0);
	idr_add(f, a, 1);
	idr_add(f, b, 2);
	idr_add(f, c, 3);
	idr_add(f, th, 4);
	/* Linked: the index adds nothing. */
	vmt_listing_begin(&f->g);
	assert_int_equal(vmt_tasks(&f->g, VMT_TASK_THREADS | VMT_TASK_PIDINDEX, &l), 0);
	assert_int_equal(l->n, 4);
	for (size_t i = 0; i < l->n; i++)
		assert_false(l->tasks[i].flags & VMT_F_UNLISTED);
	vmt_task_list_free(l);
	/* c unlinked, the list closed over the gap. */
	put64(f, b + t.tasks, t.init_task + t.tasks);
	put64(f, t.init_task + t.tasks + 8, b + t.tasks);
	for (int poison = 0; poison < 2; poison++) {
		put64(f, c + t.tasks, poison ? 0xdead000000000100ull : c + t.tasks);
		put64(f, c + t.tasks + 8, poison ? 0xdead000000000122ull : c + t.tasks);
		vmt_listing_begin(&f->g);
		assert_int_equal(vmt_tasks(&f->g, VMT_TASK_THREADS, &l), 0);
		assert_int_equal(l->n, 2);
		vmt_task_list_free(l);
		vmt_listing_begin(&f->g);
		assert_int_equal(vmt_tasks(&f->g, VMT_TASK_THREADS | VMT_TASK_PIDINDEX, &l), 0);
		assert_int_equal(l->n, 4);
		assert_false(l->flags & (VMT_F_PARTIAL | VMT_F_PIDINDEX));
		assert_false(l->tasks[0].flags & VMT_F_UNLISTED);
		assert_false(l->tasks[1].flags & VMT_F_UNLISTED);
		assert_int_equal(l->tasks[2].pid, 3);
		assert_true(l->tasks[2].flags & VMT_F_UNLISTED);
		assert_int_equal(l->tasks[3].pid, 4);
		assert_true(l->tasks[3].flags & VMT_F_UNLISTED); /* its leader's */
		vmt_task_list_free(l);
	}
}

/* A thread list that loops costs that group only. */
static void test_tasks_thread_cycle(void **state)
{
	struct fake *f = *state;
	struct vmt_task_list *l = NULL;
	struct tk t;
	uint64_t a, t1, t2;

	tk_layout(f, &t);
	a = task_new(f, &t, 10, 0, 0, "a", 0);
	t1 = task_new(f, &t, 11, a, 0, "a1", 0);
	t2 = task_new(f, &t, 12, a, 0, "a2", 0);
	put64(f, t2 + t.thread_node, t1 + t.thread_node); /* a -> a1 -> a2 -> a1 ... */
	(void)t1;
	a = task_new(f, &t, 20, 0, 0, "b", 0);
	task_new(f, &t, 21, a, 0, "b1", 0);
	/* a group whose signal pointer is garbage: skipped, the rest listed */
	a = task_new(f, &t, 30, 0, 0, "c", 0);
	put64(f, a + t.signal, 0x4141414141414141ull);

	assert_int_equal(vmt_tasks(&f->g, VMT_TASK_THREADS, &l), 0);
	assert_non_null(find_pid(l, 20));
	assert_non_null(find_pid(l, 21));
	assert_non_null(find_pid(l, 10));
	assert_non_null(find_pid(l, 12));
	assert_int_equal(find_pid(l, 21)->flags, VMT_F_THREAD);
	/* As in test_tasks_list_cycle, 11 must be listed once. */
	assert_true(kvas_unique(l));
	/*
	 * A leader whose signal pointer is bad is listed, PARTIAL, in thread
	 * mode too: dropping it would hide a process.
	 */
	assert_non_null(find_pid(l, 30));
	assert_true(find_pid(l, 30)->flags & VMT_F_PARTIAL);
	assert_int_equal(l->n, 6);
	vmt_task_list_free(l);
}

/*
 * Groups whose signal pointers share one thread list: each thread is one
 * task_struct and must be listed once, or a guest with n groups on one
 * list of m threads makes the walker build n*m entries (VMT_MAX_TASKS^2).
 */
static void test_tasks_shared_thread_list(void **state)
{
	struct fake *f = *state;
	struct vmt_task_list *l = NULL;
	struct tk t;
	uint64_t a, signal;

	tk_layout(f, &t);
	a = task_new(f, &t, 10, 0, 0, "a", 0);
	task_new(f, &t, 11, a, 0, "a1", 0);
	task_new(f, &t, 12, a, 0, "a2", 0);
	signal = get64(f, a + t.signal);
	for (int i = 0; i < 8; i++)
		put64(f, task_new(f, &t, 20 + i, 0, 0, "b", 0) + t.signal, signal);
	assert_int_equal(vmt_tasks(&f->g, VMT_TASK_THREADS, &l), 0);
	/*
	 * Leaders sharing one forged thread list: only threads whose
	 * group_leader is the walking leader count, and one budget bounds all
	 * thread walks together (no 9 copies of 10, 11, 12).
	 */
	assert_true(kvas_unique(l));
	assert_true(l->n <= 11);
	vmt_task_list_free(l);
}

/* cred NULL, garbage or unmapped: that task is partial, its other fields intact. */
static void test_tasks_bad_cred(void **state)
{
	static const uint64_t bad[] = {0, 0x4141414141414141ull, UNMAPPED_VA, 0x1000};
	struct fake *f = *state;
	struct vmt_task_list *l = NULL;
	struct tk t;

	tk_layout(f, &t);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		uint64_t task = task_new(f, &t, 10 + (int32_t)i, 0, 0, "credless", 500);

		put64(f, task + t.real_cred, bad[i]);
	}
	task_new(f, &t, 20, 0, 0, "fine", 500);
	assert_int_equal(vmt_tasks(&f->g, 0, &l), 0);
	assert_int_equal(l->n, ARRAY_SIZE(bad) + 1);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(l->tasks[i].flags, VMT_F_PARTIAL);
		assert_int_equal(l->tasks[i].pid, 10 + (int32_t)i);
		assert_string_equal(l->tasks[i].comm, "credless");
		assert_int_equal(l->tasks[i].uid, 0);
	}
	assert_int_equal(l->tasks[ARRAY_SIZE(bad)].flags, 0);
	assert_int_equal(l->tasks[ARRAY_SIZE(bad)].uid, 500);
	vmt_task_list_free(l);
}

/* A task's fields pointing anywhere: signal, parent, mm, exe_file. */
static void test_tasks_bad_pointers(void **state)
{
	struct fake *f = *state;
	struct vmt_task_list *l = NULL;
	struct vfs v;
	struct tk t;
	uint64_t a, mm;

	tk_layout(f, &t);
	vfs_layout(&v);
	a = task_new(f, &t, 10, 0, 0, "a", 0);
	put64(f, a + t.signal, UNMAPPED_VA);
	put64(f, a + t.real_parent, 0x4141414141414141ull);
	put64(f, a + t.mm, UNMAPPED_VA);
	a = task_new(f, &t, 11, 0, 0, "b", 0);
	mm_new(f, &t, a, &mm);
	put64(f, mm + t.exe_file, UNMAPPED_VA);
	mm_args(f, &t, mm, USER_STACK, USER_STACK + 100, USER_STACK + 100, USER_STACK + 200);
	a = task_new(f, &t, 12, 0, 0, "c", 0);
	mm_new(f, &t, a, &mm);
	put64(f, mm + t.pgd, PAGE_OFFSET + f->ram_len); /* just past the direct map */
	assert_int_equal(vmt_tasks(&f->g, VMT_TASK_CMDLINE | VMT_TASK_ENVIRON | VMT_TASK_EXE, &l),
			 0);
	assert_int_equal(l->n, 3);
	assert_int_equal(l->tasks[0].flags, VMT_F_PARTIAL);
	assert_int_equal(l->tasks[0].ppid, 0);
	assert_string_equal(l->tasks[0].comm, "a");
	assert_true(l->tasks[1].flags & VMT_F_PARTIAL); /* argv not mapped */
	assert_null(l->tasks[1].exe);
	assert_int_equal(l->tasks[1].cmdline_len, 0);
	assert_int_equal(l->tasks[2].flags, VMT_F_PARTIAL);
	assert_int_equal(l->tasks[2].pgd_pa, 0);
	vmt_task_list_free(l);
}

/*
 * A long list: list_heads 64 bytes apart (the task_structs around them
 * overlap, so their other fields are whatever lies there: hostile but
 * bounded).  Every node is one entry and the walk is quick.
 */
static void test_tasks_100k(void **state)
{
	enum { N = 100000, STRIDE = 64 };
	struct fake *f = fake_new((uint64_t)N * STRIDE + (1u << 20));
	struct vmt_task_list *l = NULL;
	struct timespec t0, t1;
	struct tk t;
	uint64_t base;
	double secs;

	(void)state;
	tk_layout(f, &t);
	base = kalloc_align(f, (size_t)N * STRIDE, PAGE);
	for (uint64_t i = 0; i < N; i++)
		list_add_tail(f, t.init_task + t.tasks, base + i * STRIDE);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(vmt_tasks(&f->g, 0, &l), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	print_message("100k tasks in %.2f s\n", secs);
	assert_int_equal(l->n, N);
	assert_true(secs < 30); /* about 0.1 s natively; generous for valgrind */
	vmt_task_list_free(l);
	fake_free(f);
}

/*
 * More than VMT_MAX_TASKS nodes: the walk stops at the bound with
 * a PARTIAL list.  In thread mode a group whose signal is NULL shows as its leader
 * alone, flagged partial; the stride is picked so that each overlapping
 * task's signal field lands in zeroes.
 */
static void test_tasks_over_cap(void **state)
{
	const uint64_t n = VMT_MAX_TASKS + 1;
	struct vmt_task_list *l = NULL;
	struct fake *f;
	struct tk t;
	uint64_t base, stride, d;

	(void)state;
	d = (uint64_t)off("task_struct", "signal") - off("task_struct", "tasks");
	for (stride = 32; stride < 512; stride += 16)
		if (d % stride >= 16 && d % stride <= stride - 8)
			break;
	assert_true(stride < 512);
	f = fake_new(n * stride + (1u << 20));
	tk_layout(f, &t);
	base = kalloc_align(f, n * stride, PAGE);
	/* a singly linked chain is enough: the walk follows next only */
	for (uint64_t i = 0; i < n; i++)
		put64(f, base + i * stride,
		      i + 1 < n ? base + (i + 1) * stride : t.init_task + t.tasks);
	put64(f, t.init_task + t.tasks, base);
	assert_int_equal(vmt_tasks(&f->g, VMT_TASK_THREADS, &l), 0);
	assert_true(l->flags & VMT_F_PARTIAL);
	assert_non_null(strstr(vmt_last_error(), "more than"));
	/* every group without a thread list still shows its leader, flagged */
	assert_int_equal(l->n, VMT_MAX_TASKS);
	assert_true(l->tasks[0].flags & VMT_F_PARTIAL);
	vmt_task_list_free(l);
	fake_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_tasks_sane, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_tasks_state_letters, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_tasks_kworker_name, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_tasks_cmdline, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_tasks_cmdline_two_pages, fake_setup,
					    fake_teardown),
	    cmocka_unit_test_setup_teardown(test_tasks_cmdline_partial, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_tasks_setproctitle, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_tasks_args_huge, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_tasks_args_inverted, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_tasks_exe_path, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_tasks_exe_loop, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_tasks_list_cycle, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_tasks_list_bad_next, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_tasks_break_bridged_by_pid_index, fake_setup,
					    fake_teardown),
	    cmocka_unit_test_setup_teardown(test_tasks_unlisted_by_pid_index, fake_setup,
					    fake_teardown),
	    cmocka_unit_test_setup_teardown(test_tasks_thread_cycle, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_tasks_shared_thread_list, fake_setup,
					    fake_teardown),
	    cmocka_unit_test_setup_teardown(test_tasks_bad_cred, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_tasks_bad_pointers, fake_setup, fake_teardown),
	    cmocka_unit_test(test_tasks_100k),
	    cmocka_unit_test(test_tasks_over_cap),
	};
	int failed;

	if (!profile_load())
		return 77; /* meson: skipped */
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	profile_unload();
	return failed;
}
