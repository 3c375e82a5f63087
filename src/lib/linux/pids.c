// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pids.c - the tasks that the initial pid namespace's index knows.
 *
 * Every task, leader or thread, has a struct pid that init_pid_ns.idr
 * (an xarray of 64-slot nodes) files under its number.  Reading that tree
 * needs one batch of reads per level, not one dependent read per task as
 * the task list does: on a split VM it is the plan that lets the task
 * walker ask for many task_structs at once.  It is a second view of the
 * tasks too, independent of init_task.tasks.
 *
 * Hostile guest: node shifts must step down by 6 from the root (so the
 * depth is bounded and a node cannot point back up), at most
 * PIDS_MAX_NODES nodes and VMT_MAX_TASKS entries are visited, and every
 * pointer is checked before use.
 */
#include <stdlib.h>

#include "guest/guest_internal.h"
#include "linux/pids.h"

#define XA_CHUNK_SHIFT 6
#define XA_CHUNK_SIZE  (1u << XA_CHUNK_SHIFT)
#define PIDS_MAX_NODES (VMT_MAX_TASKS / 8 + 64)

struct pid_offsets {
	uint32_t ns_xa_head;		    /* pid_namespace.idr.idr_rt.xa_head */
	uint32_t node_shift, node_slots;    /* xa_node */
	uint32_t pid_tasks, task_pid_links; /* pid.tasks[PIDTYPE_PID], task->pid_links[] */
	uint32_t pid_nr;		    /* pid.numbers[0].nr: the number in init_pid_ns */
};

static int pid_offsets_resolve(struct vmt_guest *g, struct pid_offsets *o)
{
	const struct vmt_field_req req[] = {
	    VMT_FIELD("pid_namespace", "idr.idr_rt.xa_head", ns_xa_head),
	    VMT_FIELD("xa_node", "shift", node_shift),
	    VMT_FIELD("xa_node", "slots", node_slots),
	    VMT_FIELD("pid", "tasks", pid_tasks),
	    VMT_FIELD("task_struct", "pid_links", task_pid_links),
	    VMT_FIELD("pid", "numbers", pid_nr),
	};
	uint32_t upid_nr = UINT32_MAX;
	const struct vmt_field_req nr = {"upid", "nr", &upid_nr, false};
	int err;

	VMT_OFFSETS_ABSENT(o);
	err = vmt_resolve_fields(g, req, ARRAY_SIZE(req));
	if (!err)
		err = vmt_resolve_fields(g, &nr, 1);
	if (!err)
		o->pid_nr += upid_nr;
	return err;
}

/* Growable vector of addresses. */
struct va_vec {
	uint64_t *v;
	size_t n, cap;
};

static int va_push(struct va_vec *a, uint64_t va)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 256;
		uint64_t *v = realloc(a->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = va;
	return 0;
}

/* xarray entry encoding (include/linux/xarray.h). */
static bool xa_is_node(uint64_t e)
{
	return (e & 3) == 2 && e > 4096;
}

static bool xa_is_pointer(uint64_t e)
{
	return (e & 3) == 0 && vmt_kptr_ok(e);
}

/* Ask for every node of one level in one batch. */
static void nodes_prefetch(struct vmt_guest *g, const struct pid_offsets *o,
			   const struct va_vec *lvl)
{
	struct vmt_krange *r = malloc(lvl->n * sizeof(*r));

	if (!r)
		return;
	for (size_t i = 0; i < lvl->n; i++)
		r[i] = (struct vmt_krange){.va = lvl->v[i] + o->node_shift,
					   .len = o->node_slots - o->node_shift +
						  XA_CHUNK_SIZE * sizeof(uint64_t)};
	vmt_kprefetch(g, r, lvl->n);
	free(r);
}

/*
 * One level: each node's slots become the next level's nodes (shift - 6)
 * or, at shift 0, the struct pids.  An unreadable or misshapen node is
 * skipped: the index is a plan and a second view, not the listing.
 */
static int level_expand(struct vmt_guest *g, const struct pid_offsets *o, const struct va_vec *lvl,
			unsigned shift, struct va_vec *next, struct va_vec *pids)
{
	uint64_t slots[XA_CHUNK_SIZE];
	uint8_t s;
	int err = 0;

	nodes_prefetch(g, o, lvl);
	for (size_t i = 0; i < lvl->n && !err; i++) {
		if (vmt_kread(g, lvl->v[i] + o->node_shift, &s, 1) || s != shift ||
		    vmt_kread(g, lvl->v[i] + o->node_slots, slots, sizeof(slots)))
			continue;
		for (unsigned k = 0; k < XA_CHUNK_SIZE && !err; k++) {
			if (shift && xa_is_node(slots[k]))
				err = next->n < PIDS_MAX_NODES ? va_push(next, slots[k] - 2)
							       : -EBADMSG;
			else if (!shift && xa_is_pointer(slots[k]))
				err = pids->n < VMT_MAX_TASKS ? va_push(pids, slots[k]) : -EBADMSG;
		}
	}
	return err;
}

/* Every struct pid the tree holds, in index (= pid number) order. */
static int idr_pids(struct vmt_guest *g, const struct pid_offsets *o, uint64_t head,
		    struct va_vec *pids)
{
	struct va_vec lvl = {0}, next = {0};
	uint8_t shift;
	int err;

	if (!xa_is_node(head))
		return xa_is_pointer(head) ? va_push(pids, head) : 0;
	err = va_push(&lvl, head - 2);
	if (!err && vmt_kread(g, head - 2 + o->node_shift, &shift, 1))
		err = -EFAULT;
	if (!err && (shift % XA_CHUNK_SHIFT || shift >= 64))
		err = -EBADMSG;
	for (int s = shift; !err && s >= 0 && lvl.n; s -= XA_CHUNK_SHIFT) {
		struct va_vec done = lvl;

		next.n = 0;
		err = level_expand(g, o, &lvl, (unsigned)s, &next, pids);
		lvl = next; /* the next level's nodes; the old vector holds the one after */
		next = done;
	}
	free(lvl.v);
	free(next.v);
	return err;
}

/*
 * pid->tasks[PIDTYPE_PID].first is the task's pid_links[PIDTYPE_PID]; the
 * pid's number comes along (same struct).  Pids whose struct cannot be
 * read, or that have no task, are dropped; nrs (may be NULL) gets numbers.
 */
static int pids_to_tasks(struct vmt_guest *g, const struct pid_offsets *o, struct va_vec *pids,
			 int32_t **nrs)
{
	struct vmt_krange *r = malloc((pids->n + 1) * sizeof(*r));
	int32_t *nr = nrs ? malloc((pids->n + 1) * sizeof(*nr)) : NULL;
	size_t out = 0;
	uint64_t first;
	int32_t v = 0;

	if (!r || (nrs && !nr)) {
		free(r);
		free(nr);
		return -ENOMEM;
	}
	for (size_t i = 0; i < pids->n; i++)
		r[i] = (struct vmt_krange){.va = pids->v[i] + o->pid_tasks, .len = 8};
	vmt_kprefetch(g, r, pids->n);
	free(r);
	for (size_t i = 0; i < pids->n; i++) {
		if (vmt_kread_u64(g, pids->v[i] + o->pid_tasks, &first) || !vmt_kptr_ok(first) ||
		    (nr && vmt_kread(g, pids->v[i] + o->pid_nr, &v, sizeof(v))))
			continue;
		if (nr)
			nr[out] = v;
		pids->v[out++] = first - o->task_pid_links;
	}
	pids->n = out;
	if (nrs)
		*nrs = nr;
	return 0;
}

int vmt_pid_tasks(struct vmt_guest *g, uint64_t **tasks, int32_t **nrs, size_t *n)
{
	struct pid_offsets o;
	struct va_vec v = {0};
	uint64_t ns, head;
	int err;

	*tasks = NULL;
	if (nrs)
		*nrs = NULL;
	*n = 0;
	err = pid_offsets_resolve(g, &o);
	if (err)
		return err;
	if (vmt_ksym(g, "init_pid_ns", &ns))
		return vmt_error(-ENOEXEC, "kernel profile has no init_pid_ns");
	err = vmt_kread_u64(g, ns + o.ns_xa_head, &head);
	if (!err)
		err = idr_pids(g, &o, head, &v);
	if (!err)
		err = pids_to_tasks(g, &o, &v, nrs);
	if (err) {
		free(v.v);
		return err;
	}
	*tasks = v.v;
	*n = v.n;
	return 0;
}
