// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * system_locks.c - /proc/locks: every CPU's file_lock_list (per-CPU
 * hlists of struct file_lock through fl_link), in CPU order, and under
 * each lock the tree of requests it blocks (fl_blocked_requests, siblings
 * through fl_blocked_member, parents through fl_blocker), visited in the
 * order fs/locks.c locks_show() of 6.1 prints them.  Every list is bounded,
 * the tree's depth and size too.
 */
#include <stdlib.h>
#include <string.h>

#include "linux/system.h"

#define LOCKS_MAX	(1u << 16)
#define LOCKS_MAX_DEPTH 64

struct lock_walk {
	struct vmt_guest *g;
	struct vmt_file_lock_list *l;
	size_t cap;
	uint32_t id;
	uint32_t link, flags, type, pid, file, start, end, blocked, member, blocker;
	uint32_t f_inode, i_sb, i_ino, s_dev;
};

static int lock_add(struct lock_walk *w, uint64_t fl, uint32_t level)
{
	struct vmt_guest *g = w->g;
	struct vmt_file_lock *k;
	uint64_t file = 0, inode, sb;
	uint8_t type = 0;

	if (w->l->n == LOCKS_MAX)
		return -E2BIG;
	if (w->l->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 32;

		k = reallocarray(w->l->locks, cap, sizeof(*k));
		if (!k)
			return -ENOMEM;
		w->l->locks = k;
		w->cap = cap;
	}
	k = &w->l->locks[w->l->n];
	memset(k, 0, sizeof(*k));
	k->id = w->id;
	k->level = level;
	if (vmt_kread_u32(g, fl + w->flags, &k->fl_flags) || vmt_kread(g, fl + w->type, &type, 1) ||
	    vmt_kread(g, fl + w->pid, &k->pid, 4) || vmt_kread_u64(g, fl + w->file, &file) ||
	    vmt_kread(g, fl + w->start, &k->start, 8) || vmt_kread(g, fl + w->end, &k->end, 8))
		return -EFAULT;
	k->fl_type = type;
	if (file && vmt_kptr_ok(file) && !vmt_kread_u64(g, file + w->f_inode, &inode) &&
	    vmt_kptr_ok(inode) && !vmt_kread_u64(g, inode + w->i_sb, &sb) && vmt_kptr_ok(sb) &&
	    !vmt_kread_u64(g, inode + w->i_ino, &k->ino) &&
	    !vmt_kread_u32(g, sb + w->s_dev, &k->dev))
		k->has_inode = true;
	else if (file)
		k->flags |= VMT_F_PARTIAL;
	w->l->n++;
	return 0;
}

/* First entry of a list_head at head (0 if empty); its container at -member. */
static int lock_first(struct lock_walk *w, uint64_t head, uint32_t member, uint64_t *fl)
{
	uint64_t next;

	if (vmt_kread_u64(w->g, head, &next))
		return -EFAULT;
	*fl = next == head ? 0 : next - member;
	return 0;
}

/* get_next_blocked_member(): the next sibling under the same blocker, or 0. */
static int lock_next_sibling(struct lock_walk *w, uint64_t fl, uint64_t *next)
{
	uint64_t blocker, n;

	if (vmt_kread_u64(w->g, fl + w->blocker, &blocker) ||
	    vmt_kread_u64(w->g, fl + w->member, &n))
		return -EFAULT;
	*next = (!blocker || n == blocker + w->blocked) ? 0 : n - w->member;
	return 0;
}

/* locks_show(): the lock, then its blocked requests depth first ("->" per level). */
static int lock_tree(struct vmt_guest *g, uint64_t node, void *arg)
{
	struct lock_walk *w = arg;
	uint64_t cur = node - w->link, tmp;
	uint32_t level = 0, steps = 0;
	int err;

	w->id++;
	while (cur) {
		if (++steps > LOCKS_MAX || !vmt_kptr_ok(cur))
			return -EBADMSG;
		err = lock_add(w, cur, level);
		if (err)
			return err;
		err = lock_first(w, cur + w->blocked, w->member, &tmp);
		if (err)
			return err;
		if (tmp && level < LOCKS_MAX_DEPTH) {
			cur = tmp;
			level++;
			continue;
		}
		err = lock_next_sibling(w, cur, &tmp);
		while (!err && !tmp && level > 0) {
			err = vmt_kread_u64(g, cur + w->blocker, &cur);
			level--;
			if (!err)
				err = lock_next_sibling(w, cur, &tmp);
		}
		if (err)
			return err;
		cur = tmp;
	}
	return 0;
}

/*
 * 6.9 moved the members every lock kind shares into struct file_lock_core,
 * embedded first in file_lock as "c" (so a flc_blocker, a pointer to a
 * core, is the file_lock's address too).  BTF says which layout this is.
 */
static int lock_offsets(struct vmt_guest *g, struct lock_walk *w)
{
	/* clang-format off */
	struct vmt_field_req req[] = {
		{"file_lock", "fl_link", &w->link, false},
		{"file_lock", "fl_flags", &w->flags, false},
		{"file_lock", "fl_type", &w->type, false},
		{"file_lock", "fl_pid", &w->pid, false},
		{"file_lock", "fl_file", &w->file, false},
		{"file_lock", "fl_blocked_requests", &w->blocked, false},
		{"file_lock", "fl_blocked_member", &w->member, false},
		{"file_lock", "fl_blocker", &w->blocker, false},
		{"file_lock", "fl_start", &w->start, false},
		{"file_lock", "fl_end", &w->end, false},
		{"file", "f_inode", &w->f_inode, false},
		{"inode", "i_sb", &w->i_sb, false},
		{"inode", "i_ino", &w->i_ino, false},
		{"super_block", "s_dev", &w->s_dev, false},
	};
	static const char *const core[] = {"c.flc_link", "c.flc_flags", "c.flc_type",
		"c.flc_pid", "c.flc_file", "c.flc_blocked_requests", "c.flc_blocked_member",
		"c.flc_blocker"};
	/* clang-format on */
	uint32_t c;

	if (vmt_profile_field(g->prof, "file_lock", "c", &c))
		return vmt_resolve_fields(g, req, ARRAY_SIZE(req));
	if (c != 0)
		return -EBADMSG;
	for (size_t i = 0; i < ARRAY_SIZE(core); i++)
		req[i].field = core[i];
	return vmt_resolve_fields(g, req, ARRAY_SIZE(req));
}

int vmt_file_locks(struct vmt_guest *g, struct vmt_file_lock_list **out)
{
	struct lock_walk w = {.g = g};
	struct sys_cpus *cpus;
	uint32_t hlist;
	uint64_t list, base, first;
	int err;

	*out = NULL;
	err = lock_offsets(g, &w);
	if (!err)
		err = vmt_profile_field(g->prof, "file_lock_list_struct", "hlist", &hlist);
	if (!err)
		err = sys_percpu_sym(g, "file_lock_list", &list);
	if (err)
		return vmt_error(err, "file_lock_list not found");
	cpus = malloc(sizeof(*cpus));
	w.l = calloc(1, sizeof(*w.l));
	if (!cpus || !w.l) {
		err = -ENOMEM;
		goto out;
	}
	err = sys_cpus_read(g, cpus);
	for (uint32_t cpu = 0; !err && cpu < cpus->nr_ids; cpu++) {
		if (!sys_cpu_in(cpus->possible, cpu))
			continue;
		if (sys_percpu_base(g, cpu, &base) ||
		    vmt_kread_u64(g, list + base + hlist, &first)) {
			w.l->flags |= VMT_F_PARTIAL;
			continue;
		}
		if (!first)
			continue;
		err = vmt_hlist_walk(g, first, LOCKS_MAX, lock_tree, &w);
		if (err && err != -ENOMEM) {
			w.l->flags |= VMT_F_PARTIAL;
			err = 0;
		}
	}
	if (!err) {
		*out = w.l;
		w.l = NULL;
	}
out:
	free(cpus);
	vmt_file_lock_list_free(w.l);
	return err;
}

void vmt_file_lock_list_free(struct vmt_file_lock_list *l)
{
	if (!l)
		return;
	free(l->locks);
	free(l);
}
