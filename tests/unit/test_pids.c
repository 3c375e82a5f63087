// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_pids.c - the pid index walker (linux/pids.c) over an xarray of
 * xa_nodes, struct pids and task_structs built by hand in a RAM buffer
 * with the real profile of the test guest's kernel (fake_guest.h): one,
 * two and three levels, and hostile trees (a node that points back up,
 * entries of every kind that are not pids, unreadable nodes).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_guest.h"
#include "linux/pids.h"

#define SLOTS 64

struct px {
	uint64_t ns_head;      /* &init_pid_ns.idr.idr_rt.xa_head */
	uint32_t shift, slots; /* xa_node */
	uint32_t node_size, pid_size, pid_tasks, task_size, pid_links;
};

static void px_layout(struct px *p)
{
	p->ns_head = sym("init_pid_ns") + off("pid_namespace", "idr.idr_rt.xa_head");
	p->shift = off("xa_node", "shift");
	p->slots = off("xa_node", "slots");
	p->node_size = off("xa_node", NULL);
	p->pid_size = off("pid", NULL);
	p->pid_tasks = off("pid", "tasks");
	p->task_size = off("task_struct", NULL);
	p->pid_links = off("task_struct", "pid_links");
}

static uint64_t node_new(struct fake *f, const struct px *p, uint8_t shift)
{
	uint64_t n = kalloc(f, p->node_size);

	put8(f, n + p->shift, shift);
	return n;
}

/* A task whose struct pid is returned; the task's address goes to *task. */
static uint64_t pid_new(struct fake *f, const struct px *p, uint64_t *task)
{
	uint64_t pid = kalloc(f, p->pid_size), t = kalloc(f, p->task_size);

	hlist_push(f, pid + p->pid_tasks, t + p->pid_links);
	*task = t;
	return pid;
}

static void slot_set(struct fake *f, const struct px *p, uint64_t node, unsigned i, uint64_t e)
{
	put64(f, node + p->slots + 8 * i, e);
}

static uint64_t xa_mk_node(uint64_t node)
{
	return node | 2;
}

/*
 * pids 0..n-1 in a tree of the given height (1: one node of shift 0; 2: a
 * root of shift 6 over leaves; 3: shift 12 over 6 over 0); tasks[i] is
 * the task of pid i.
 */
static void tree_build(struct fake *f, const struct px *p, unsigned n, unsigned height,
		       uint64_t *tasks)
{
	uint64_t root = node_new(f, p, (uint8_t)(6 * (height - 1)));

	put64(f, p->ns_head, xa_mk_node(root));
	for (unsigned i = 0; i < n; i++) {
		uint64_t node = root;

		for (unsigned lvl = height - 1; lvl > 0; lvl--) {
			unsigned s = (i >> (6 * lvl)) % SLOTS;
			uint64_t e = get64(f, node + p->slots + 8 * s);

			if (!e) {
				e = xa_mk_node(node_new(f, p, (uint8_t)(6 * (lvl - 1))));
				slot_set(f, p, node, s, e);
			}
			node = e - 2;
		}
		slot_set(f, p, node, i % SLOTS, pid_new(f, p, &tasks[i]));
	}
}

static void check_tasks(struct fake *f, const uint64_t *want, size_t n)
{
	uint64_t *got = NULL;
	size_t m = 0;

	assert_int_equal(vmt_pid_tasks(&f->g, &got, NULL, &m), 0);
	assert_int_equal(m, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(got[i], want[i]); /* pid order */
	free(got);
}

static void test_pids_heights(void **state)
{
	static const unsigned cases[][2] = {{1, 1}, {60, 1}, {64, 2}, {1000, 2}, {5000, 3}};
	uint64_t *tasks = calloc(5000, sizeof(*tasks));
	struct px p;

	(void)state;
	assert_non_null(tasks);
	for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
		struct fake *f = fake_new(128ull << 20);

		px_layout(&p);
		tree_build(f, &p, cases[c][0], cases[c][1], tasks);
		check_tasks(f, tasks, cases[c][0]);
		fake_free(f);
	}
	free(tasks);
}

/* An empty index. */
static void test_pids_empty(void **state)
{
	struct fake *f = *state;
	uint64_t *got = NULL;
	size_t n = 1;

	assert_int_equal(vmt_pid_tasks(&f->g, &got, NULL, &n), 0);
	assert_int_equal(n, 0);
	free(got);
}

/* A single pid stored in the head itself (no node). */
static void test_pids_no_node(void **state)
{
	struct fake *f = *state;
	uint64_t task;
	struct px p;

	px_layout(&p);
	put64(f, p.ns_head, pid_new(f, &p, &task));
	check_tasks(f, &task, 1);
}

/*
 * What is not a pid is skipped: value entries (bit 0), internal entries
 * below 4096 (retry, zero, sibling), NULL, a pid without a task, a node
 * where a leaf must be and a leaf where a node must be.
 */
static void test_pids_foreign_entries(void **state)
{
	struct fake *f = *state;
	uint64_t root, leaf, want[2], dummy;
	struct px p;

	px_layout(&p);
	root = node_new(f, &p, 6);
	leaf = node_new(f, &p, 0);
	put64(f, p.ns_head, xa_mk_node(root));
	slot_set(f, &p, root, 0, xa_mk_node(leaf));
	slot_set(f, &p, root, 1, pid_new(f, &p, &dummy)); /* a pid where a node must be */
	slot_set(f, &p, leaf, 0, (7ull << 1) | 1);	  /* value entry */
	slot_set(f, &p, leaf, 1, (257ull << 2) | 2);	  /* XA_ZERO_ENTRY */
	slot_set(f, &p, leaf, 2, pid_new(f, &p, &want[0]));
	slot_set(f, &p, leaf, 3, xa_mk_node(node_new(f, &p, 0))); /* a node where a pid must be */
	slot_set(f, &p, leaf, 4, kalloc(f, p.pid_size));	  /* a pid without a task */
	slot_set(f, &p, leaf, 5, pid_new(f, &p, &want[1]));
	check_tasks(f, want, 2);
}

/* A child that claims the parent's shift (it points back up) is not followed. */
static void test_pids_cycle(void **state)
{
	struct fake *f = *state;
	uint64_t root, leaf, want;
	struct px p;

	px_layout(&p);
	root = node_new(f, &p, 6);
	leaf = node_new(f, &p, 0);
	put64(f, p.ns_head, xa_mk_node(root));
	slot_set(f, &p, root, 0, xa_mk_node(root)); /* itself */
	slot_set(f, &p, root, 1, xa_mk_node(leaf));
	slot_set(f, &p, leaf, 9, pid_new(f, &p, &want));
	slot_set(f, &p, leaf, 10, xa_mk_node(root)); /* back to the root from a leaf node */
	check_tasks(f, &want, 1);
}

/* A root whose shift is not a multiple of 6 (or beyond 63) is a corrupt index. */
static void test_pids_bad_root(void **state)
{
	struct fake *f = *state;
	uint64_t *got = NULL;
	size_t n = 0;
	struct px p;

	px_layout(&p);
	put64(f, p.ns_head, xa_mk_node(node_new(f, &p, 7)));
	assert_int_equal(vmt_pid_tasks(&f->g, &got, NULL, &n), -EBADMSG);
	assert_null(got);
	put64(f, p.ns_head, xa_mk_node(node_new(f, &p, 66)));
	vmt_mem_epoch(f->g.mem); /* a new listing: the page cache forgets the old head */
	assert_int_equal(vmt_pid_tasks(&f->g, &got, NULL, &n), -EBADMSG);
	/* A root outside memory: unreadable. */
	put64(f, p.ns_head, xa_mk_node(UNMAPPED_VA));
	vmt_mem_epoch(f->g.mem);
	assert_int_equal(vmt_pid_tasks(&f->g, &got, NULL, &n), -EFAULT);
	assert_null(got);
}

/* Unreadable children are skipped; their siblings still count. */
static void test_pids_unreadable_child(void **state)
{
	struct fake *f = *state;
	uint64_t root, leaf, want;
	struct px p;

	px_layout(&p);
	root = node_new(f, &p, 6);
	leaf = node_new(f, &p, 0);
	put64(f, p.ns_head, xa_mk_node(root));
	slot_set(f, &p, root, 0, xa_mk_node(UNMAPPED_VA));
	slot_set(f, &p, root, 1, xa_mk_node(leaf));
	slot_set(f, &p, leaf, 0, pid_new(f, &p, &want));
	slot_set(f, &p, leaf, 1, UNMAPPED_VA); /* a pid that cannot be read */
	check_tasks(f, &want, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pids_heights),
	    cmocka_unit_test_setup_teardown(test_pids_empty, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_pids_no_node, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_pids_foreign_entries, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_pids_cycle, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_pids_bad_root, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_pids_unreadable_child, fake_setup, fake_teardown),
	};
	int failed;

	if (!profile_load())
		return 77; /* meson: skipped */
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	profile_unload();
	return failed;
}
