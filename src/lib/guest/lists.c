// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * lists.c - bounded walks over the kernel's linked lists.
 *
 * The guest is hostile: a list may loop without coming back to its head, a
 * next pointer may point anywhere.  Brent's cycle detection finds a loop in
 * O(length) steps with O(1) memory; the node bound caps everything else.
 */
#include "guest/guest_internal.h"

struct brent {
	uint64_t tortoise;
	uint64_t power, lam;
};

/* Advance the detector to node; true if node closes a cycle. */
static bool brent_step(struct brent *b, uint64_t node)
{
	if (node == b->tortoise)
		return true;
	if (b->power == b->lam) {
		b->tortoise = node;
		b->power *= 2;
		b->lam = 0;
	}
	b->lam++;
	return false;
}

/* link: 0 follows list_head.next, 8 list_head.prev. */
static int list_walk(struct vmt_guest *g, uint64_t head_va, uint32_t link, size_t max,
		     vmt_list_fn fn, void *arg)
{
	struct brent b = {.tortoise = head_va, .power = 1, .lam = 1};
	uint64_t node, next;
	size_t seen = 0;
	int err;

	err = vmt_kread_u64(g, head_va + link, &node);
	if (err)
		return err;
	while (node != head_va) {
		if (!vmt_kptr_ok(node))
			return vmt_error(
			    -EBADMSG, "list at 0x%llx: bad pointer 0x%llx after %zu nodes",
			    (unsigned long long)head_va, (unsigned long long)node, seen);
		if (brent_step(&b, node))
			return vmt_error(-EBADMSG, "list at 0x%llx: cycle after %zu nodes",
					 (unsigned long long)head_va, seen);
		if (seen >= max)
			return vmt_error(-EBADMSG, "list at 0x%llx: more than %zu nodes",
					 (unsigned long long)head_va, max);
		/* Read on before reporting: an unreadable node is no entry. */
		if (vmt_kread_u64(g, node + link, &next))
			return vmt_error(-EBADMSG,
					 "list at 0x%llx: unreadable node after %zu nodes",
					 (unsigned long long)head_va, seen);
		seen++;
		err = fn(g, node, arg);
		if (err)
			return err < 0 ? err : 0;
		node = next;
	}
	return 0;
}

int vmt_list_walk(struct vmt_guest *g, uint64_t head_va, size_t max, vmt_list_fn fn, void *arg)
{
	return list_walk(g, head_va, 0, max, fn, arg);
}

int vmt_list_walk_prev(struct vmt_guest *g, uint64_t head_va, size_t max, vmt_list_fn fn, void *arg)
{
	return list_walk(g, head_va, 8, max, fn, arg);
}

int vmt_hlist_walk(struct vmt_guest *g, uint64_t first_va, size_t max, vmt_list_fn fn, void *arg)
{
	struct brent b = {.tortoise = 0, .power = 1, .lam = 1};
	uint64_t node = first_va, next;
	size_t seen = 0;
	int err;

	/* hlist ends with NULL; hlist_nulls ends with an odd "nulls" marker. */
	while (node && !(node & 1)) {
		if (!vmt_kptr_ok(node))
			return vmt_error(-EBADMSG, "hlist: bad pointer 0x%llx after %zu nodes",
					 (unsigned long long)node, seen);
		if (brent_step(&b, node))
			return vmt_error(-EBADMSG, "hlist: cycle after %zu nodes", seen);
		if (seen >= max)
			return vmt_error(-EBADMSG, "hlist: more than %zu nodes", max);
		if (vmt_kread_u64(g, node, &next))
			return vmt_error(-EBADMSG, "hlist: unreadable node after %zu nodes", seen);
		seen++;
		err = fn(g, node, arg);
		if (err)
			return err < 0 ? err : 0;
		node = next;
	}
	return 0;
}
