// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * task_files.c - the per-process walks behind /proc/PID/maps, fd/, fdinfo/,
 * cwd, root and ns/.
 *
 * maps: Linux 6.1 keeps a process's VMAs in a maple tree (mm->mm_mt):
 * 256-byte nodes whose type is encoded in the low bits of the pointer to
 * them; internal nodes (maple_arange_64: 10 slots, 9 pivots) hold children,
 * leaves (maple_leaf_64: 16 slots, 15 pivots) hold vm_area_struct pointers.
 * The walk is depth-first in index order, bounded in depth
 * (MAPLE_HEIGHT_MAX) and in nodes, and keeps only VMAs that come in
 * strictly ascending, non-overlapping order, so a hostile tree (a cycle, a
 * node pointing back up, duplicated slots) yields a partial list, never a
 * hang.  Names follow show_map_vma(); paths are d_path(), with the d_dname()
 * of pseudo file systems (socket:[N], pipe:[N], anon_inode:[x], ns) told
 * apart by the dentry operations' function pointer.
 *
 * fd/: files->fdt->fd[0 .. max_fds), capped at VMT_MAX_FDS slots.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linux/task_detail.h"

#define MAPLE_NODE_MASK	 0xffull
#define MAPLE_HEIGHT_MAX 31
#define MAPLE_MAX_NODES	 (VMT_MAX_VMAS / 4 + 64) /* a leaf holds >= 1 entry, usually many */
#define MAPLE_NODE_SIZE	 256
#define MAPLE_LEAF_64	 1
#define MAPLE_RANGE_64	 2
#define MAPLE_ARANGE_64	 3
#define MR64_SLOTS	 16
#define MA64_SLOTS	 10
#define VSYSCALL_NONE	 2 /* enum vsyscall_mode { EMULATE, XONLY, NONE } */
#define MM_CTX_VSYSCALL	 1 /* bit of mm->context.flags: MM_CONTEXT_HAS_VSYSCALL */
#define FD_BATCH	 512

/* ------------------------------------------------------------ paths */

static int kptr(struct vmt_guest *g, uint64_t base, uint32_t off, uint64_t *v)
{
	if (off == UINT32_MAX || !vmt_kptr_ok(base))
		return -ENOENT;
	return vmt_kread_u64(g, base + off, v);
}

static char *dname_of(struct vmt_guest *g, const struct detail_offsets *d,
		      const struct task_offsets *o, uint64_t fn, uint64_t dentry)
{
	char buf[320], name[256] = "";
	uint64_t inode = 0, ino = 0, ops, nm;
	uint32_t len = 0;

	if (kptr(g, dentry, d->dentry_d_inode, &inode) || kptr(g, inode, d->inode_ino, &ino))
		ino = 0;
	if (fn == d->dname_fn[DNAME_SOCKFS])
		snprintf(buf, sizeof(buf), "socket:[%llu]", (unsigned long long)ino);
	else if (fn == d->dname_fn[DNAME_PIPEFS])
		snprintf(buf, sizeof(buf), "pipe:[%llu]", (unsigned long long)ino);
	else if (fn == d->dname_fn[DNAME_NS]) {
		if (kptr(g, dentry, d->dentry_d_fsdata, &ops) ||
		    kptr(g, ops, d->ns_ops_name, &nm) || vmt_kread_str(g, nm, name, 32))
			return NULL;
		snprintf(buf, sizeof(buf), "%s:[%llu]", name, (unsigned long long)ino);
	} else {
		if (kptr(g, dentry, o->dentry_d_name + o->qstr_name, &nm) ||
		    vmt_kread_u32(g, dentry + o->dentry_d_name + o->qstr_len, &len) || len > 255 ||
		    vmt_kread(g, nm, name, len))
			return NULL;
		name[len] = '\0';
		if (fn == d->dname_fn[DNAME_ANON_INODE])
			snprintf(buf, sizeof(buf), "anon_inode:%s", name);
		else if (fn == d->dname_fn[DNAME_SIMPLE])
			snprintf(buf, sizeof(buf), "/%s (deleted)", name);
		else
			return NULL; /* a d_dname we cannot imitate */
	}
	return strdup(buf);
}

/*
 * d_path(): a dentry whose operations have d_dname (and that is not the
 * root of its mount) names itself; any other climbs to the root.
 */
static char *path_of(struct vmt_guest *g, const struct detail_offsets *d, uint64_t mnt,
		     uint64_t dentry)
{
	const struct task_offsets *o;
	uint64_t dop, fn = 0, parent = 0, root = 0;

	if (!vmt_kptr_ok(dentry) || vmt_task_offsets(g, &o))
		return NULL;
	if (!kptr(g, dentry, d->dentry_d_op, &dop) && vmt_kptr_ok(dop) &&
	    !kptr(g, dop, d->dops_d_dname, &fn) && fn) {
		kptr(g, dentry, o->dentry_d_parent, &parent);
		kptr(g, mnt, o->vfsmount_mnt_root, &root);
		if (parent != dentry || dentry != root)
			return dname_of(g, d, o, fn, dentry);
	}
	return vmt_dentry_path(g, mnt, dentry);
}

/* d_path() of a struct path at addr. */
static char *path_at(struct vmt_guest *g, const struct detail_offsets *d, uint64_t addr)
{
	const struct task_offsets *o;
	uint64_t mnt, dentry;

	if (vmt_task_offsets(g, &o) || !vmt_kptr_ok(addr) ||
	    vmt_kread_u64(g, addr + o->path_mnt, &mnt) ||
	    vmt_kread_u64(g, addr + o->path_dentry, &dentry))
		return NULL;
	return path_of(g, d, mnt, dentry);
}

/* ------------------------------------------------------------- maps */

struct vma_vec {
	struct vmt_vma *v;
	size_t n, cap;
};

struct maple_walk {
	struct vmt_guest *g;
	const struct detail_offsets *d;
	uint64_t mm, brk, start_brk, start_stack;
	uint64_t last_end; /* VMAs must come in ascending order */
	size_t nodes_left;
	struct vma_vec vv;
	uint64_t *leaf; /* VMA pointers in tree order, visited after the walk */
	size_t nleaf, capleaf;
	bool hints; /* a split VM: prefetch each level of the walk */
	struct vmt_task_detail *out;
	int err; /* -ENOMEM only */
};

static struct vmt_vma *vma_add(struct maple_walk *w)
{
	struct vma_vec *vv = &w->vv;

	if (vv->n == vv->cap) {
		size_t cap = vv->cap ? vv->cap * 2 : 32;
		struct vmt_vma *v = realloc(vv->v, cap * sizeof(*v));

		if (!v) {
			w->err = -ENOMEM;
			return NULL;
		}
		vv->v = v;
		vv->cap = cap;
	}
	memset(&vv->v[vv->n], 0, sizeof(vv->v[0]));
	return &vv->v[vv->n++];
}

/* What show_map_vma() prints for a VMA without a file. */
static char *vma_anon_name(struct maple_walk *w, uint64_t vma, const struct vmt_vma *v)
{
	const struct detail_offsets *d = w->d;
	uint64_t ops = 0, priv, nm, an;
	char buf[96], name[80];

	if (!kptr(w->g, vma, d->vma_ops, &ops) && ops) {
		if (ops == d->gate_vma_ops)
			return strdup("[vsyscall]");
		if (ops == d->special_mapping_vmops && !kptr(w->g, vma, d->vma_private, &priv) &&
		    !kptr(w->g, priv, d->special_mapping_name, &nm) &&
		    !vmt_kread_str(w->g, nm, name, sizeof(name)))
			return strdup(name);
	}
	if (!w->mm)
		return strdup("[vdso]");
	if (v->start <= w->brk && v->end >= w->start_brk)
		return strdup("[heap]");
	if (v->start <= w->start_stack && v->end >= w->start_stack)
		return strdup("[stack]");
	if (!kptr(w->g, vma, d->vma_anon_name, &an) && vmt_kptr_ok(an) &&
	    d->anon_name_name != UINT32_MAX &&
	    !vmt_kread_str(w->g, an + d->anon_name_name, name, sizeof(name))) {
		snprintf(buf, sizeof(buf), "[anon:%s]", name);
		return strdup(buf);
	}
	return NULL;
}

static void vma_read_file(struct maple_walk *w, struct vmt_vma *v, uint64_t file)
{
	const struct detail_offsets *d = w->d;
	const struct task_offsets *o;
	uint64_t inode = 0, sb = 0, mnt = 0, dentry = 0;

	if (vmt_task_offsets(w->g, &o) || kptr(w->g, file, d->file_f_inode, &inode) ||
	    kptr(w->g, inode, d->inode_ino, &v->ino) || kptr(w->g, inode, d->inode_sb, &sb) ||
	    d->sb_dev == UINT32_MAX || !vmt_kptr_ok(sb) ||
	    vmt_kread_u32(w->g, sb + d->sb_dev, &v->dev) ||
	    kptr(w->g, file, o->file_f_path + o->path_mnt, &mnt) ||
	    kptr(w->g, file, o->file_f_path + o->path_dentry, &dentry)) {
		v->flags |= VMT_F_PARTIAL;
		return;
	}
	v->name = path_of(w->g, d, mnt, dentry);
	if (!v->name)
		v->flags |= VMT_F_PARTIAL;
}

/* One VMA from a leaf slot; out of order (a forged tree) is dropped. */
static void vma_visit(struct maple_walk *w, uint64_t vma)
{
	const struct detail_offsets *d = w->d;
	uint64_t start, end, file = 0, pgoff = 0;
	struct vmt_vma *v;

	if (!vmt_kptr_ok(vma) || kptr(w->g, vma, d->vma_start, &start) ||
	    kptr(w->g, vma, d->vma_end, &end) || end <= start || start < w->last_end) {
		w->out->flags |= VMT_F_PARTIAL;
		return;
	}
	if (w->vv.n >= VMT_MAX_VMAS) {
		w->out->flags |= VMT_F_TRUNCATED;
		return;
	}
	v = vma_add(w);
	if (!v)
		return;
	w->last_end = end;
	v->start = start;
	v->end = end;
	if (kptr(w->g, vma, d->vma_flags, &v->vm_flags) || kptr(w->g, vma, d->vma_file, &file))
		v->flags |= VMT_F_PARTIAL;
	if (file && vmt_kptr_ok(file)) {
		if (!kptr(w->g, vma, d->vma_pgoff, &pgoff))
			v->pgoff = pgoff << VMT_PAGE_SHIFT;
		vma_read_file(w, v, file);
		return;
	}
	v->name = vma_anon_name(w, vma, v);
}

/*
 * ma_data_end(): the last used slot.  An arange node and a range node with
 * room to spare keep it in their metadata; a full range node is known by
 * its last pivot.
 */
static unsigned node_end(const uint8_t *node, int type, const struct detail_offsets *d,
			 const uint64_t *piv, unsigned npiv, uint64_t max)
{
	unsigned end;

	if (type == MAPLE_ARANGE_64)
		end = node[d->ma64_meta];
	else if (piv[npiv - 1] == 0)
		end = node[d->mr64_meta];
	else
		end = piv[npiv - 1] == max ? npiv - 1 : npiv;
	return VMT_MIN(end, npiv);
}

static int leaf_add(struct maple_walk *w, uint64_t vma)
{
	if (w->nleaf == w->capleaf) {
		size_t cap = w->capleaf ? w->capleaf * 2 : 64;
		uint64_t *v;

		if (w->nleaf >=
		    VMT_MAX_VMAS) { /* more than any mm may have: visited up to the cap */
			w->out->flags |= VMT_F_TRUNCATED;
			return 0;
		}
		v = realloc(w->leaf, cap * sizeof(*v));
		if (!v)
			return w->err = -ENOMEM;
		w->leaf = v;
		w->capleaf = cap;
	}
	w->leaf[w->nleaf++] = vma;
	return 0;
}

/* Split VM: the VMAs, then their files, then the files' inodes and dentries, a batch each. */
static void maps_prefetch(struct maple_walk *w)
{
	const struct detail_offsets *d = w->d;
	const struct task_offsets *o;
	uint64_t *p;

	if (!w->hints || vmt_task_offsets(w->g, &o) || !(p = calloc(2 * w->nleaf + 1, 8)))
		return;
	vmt_detail_prefetch(w->g, w->leaf, w->nleaf, d->vma_size);
	for (size_t i = 0; i < w->nleaf; i++)
		kptr(w->g, w->leaf[i], d->vma_file, &p[i]);
	vmt_detail_prefetch(w->g, p, w->nleaf, d->file_size);
	for (size_t i = w->nleaf; i-- > 0;) {
		uint64_t f = p[i];

		p[2 * i] = p[2 * i + 1] = 0;
		kptr(w->g, f, d->file_f_inode, &p[2 * i]);
		kptr(w->g, f, o->file_f_path + o->path_dentry, &p[2 * i + 1]);
	}
	vmt_detail_prefetch(w->g, p, 2 * w->nleaf, VMT_MAX(d->inode_size, d->dentry_size));
	free(p);
}

static int maple_node_walk(struct maple_walk *w, uint64_t enode, uint64_t min, uint64_t max,
			   int depth)
{
	const struct detail_offsets *d = w->d;
	uint64_t node = enode & ~MAPLE_NODE_MASK, piv[MR64_SLOTS], slot[MR64_SLOTS], lo = min;
	int type = (int)(enode >> 3 & 0xf);
	uint8_t buf[MAPLE_NODE_SIZE];
	unsigned npiv, end;
	bool leaf = type == MAPLE_LEAF_64;

	if (depth > MAPLE_HEIGHT_MAX || w->nodes_left == 0 || !vmt_kptr_ok(node))
		return -EBADMSG;
	w->nodes_left--;
	if (type != MAPLE_LEAF_64 && type != MAPLE_RANGE_64 && type != MAPLE_ARANGE_64)
		return -EBADMSG;
	if (vmt_kread(w->g, node, buf, sizeof(buf)))
		return -EFAULT;
	npiv = (type == MAPLE_ARANGE_64 ? MA64_SLOTS : MR64_SLOTS) - 1;
	memcpy(piv, buf + (type == MAPLE_ARANGE_64 ? d->ma64_pivot : d->mr64_pivot), npiv * 8);
	memcpy(slot, buf + (type == MAPLE_ARANGE_64 ? d->ma64_slot : d->mr64_slot), (npiv + 1) * 8);
	end = node_end(buf, type, d, piv, npiv, max);
	if (!leaf && w->hints) { /* the children, in one round trip */
		uint64_t kids[MR64_SLOTS];

		for (unsigned i = 0; i <= end; i++)
			kids[i] = slot[i] & ~MAPLE_NODE_MASK;
		vmt_detail_prefetch(w->g, kids, end + 1, MAPLE_NODE_SIZE);
	}
	for (unsigned i = 0; i <= end && !w->err; i++) {
		uint64_t hi = i < npiv && (piv[i] || i == 0) ? piv[i] : max;
		int err;

		if (hi < lo || hi > max) /* pivots out of order or out of the parent's range */
			return -EBADMSG;
		if (leaf) {
			if (slot[i] && leaf_add(w, slot[i]))
				return -ENOMEM;
		} else if (slot[i]) {
			err = maple_node_walk(w, slot[i], lo, hi, depth + 1);
			if (err)
				return err;
		}
		if (hi == max)
			break;
		lo = hi + 1;
	}
	return 0;
}

/* get_gate_vma(): the vsyscall page, listed after the tree's VMAs. */
static void maps_add_gate(struct maple_walk *w)
{
	const struct detail_offsets *d = w->d;
	uint64_t ctx = 0;
	uint32_t mode;

	if (!d->gate_vma || !d->vsyscall_mode || vmt_kread_u32(w->g, d->vsyscall_mode, &mode) ||
	    mode == VSYSCALL_NONE || kptr(w->g, w->mm, d->mm_context_flags, &ctx) ||
	    !(ctx >> MM_CTX_VSYSCALL & 1))
		return;
	w->last_end = 0;
	vma_visit(w, d->gate_vma);
}

void vmt_detail_read_maps(struct vmt_guest *g, const struct detail_offsets *d,
			  const struct vmt_task *t, struct vmt_task_detail *out)
{
	const struct task_offsets *o;
	struct maple_walk w = {.g = g,
			       .d = d,
			       .nodes_left = MAPLE_MAX_NODES,
			       .out = out,
			       .hints = vmt_mem_hints_pay(g->mem)};
	uint64_t root = 0;
	int err = 0;

	if (vmt_task_offsets(g, &o) || vmt_kread_u64(g, t->kva + o->task_mm, &w.mm) || !w.mm)
		return; /* no mm: an empty maps file, as Linux shows */
	if (!vmt_kptr_ok(w.mm) || kptr(g, w.mm, d->mm_ma_root, &root) ||
	    kptr(g, w.mm, d->mm_brk, &w.brk) || kptr(g, w.mm, d->mm_start_brk, &w.start_brk) ||
	    kptr(g, w.mm, d->mm_start_stack, &w.start_stack) || d->mr64_meta == UINT32_MAX ||
	    d->ma64_meta == UINT32_MAX) {
		out->flags |= VMT_F_PARTIAL;
		return;
	}
	if ((root & 3) == 2 && root > 4096) /* xa_is_node(): a tree, else empty or one entry */
		err = maple_node_walk(&w, root, 0, UINT64_MAX, 0);
	else if (root)
		err = -EBADMSG; /* a VMA never sits at the root of an mm's tree */
	if (err)
		out->flags |= VMT_F_PARTIAL;
	maps_prefetch(&w);
	for (size_t i = 0; i < w.nleaf && !w.err; i++)
		vma_visit(&w, w.leaf[i]);
	free(w.leaf);
	if (!w.err)
		maps_add_gate(&w);
	out->vmas = w.vv.v;
	out->nvmas = w.vv.n;
}

/* -------------------------------------------------------------- fds */

/* pidfd_show_fdinfo(): the pid in each namespace level, -1 once its task is gone. */
static void fd_read_pidfd(struct vmt_guest *g, const struct detail_offsets *d, uint64_t pid,
			  struct vmt_fd *f)
{
	uint64_t first = 0;
	uint32_t level = 0;

	f->pid_levels = 1;
	f->ns_pid[0] = -1;
	if (kptr(g, pid, d->pid_tasks, &first) || !first)
		return; /* pid_has_task(PIDTYPE_PID) false, or unreadable */
	if (d->pid_level == UINT32_MAX || d->upid_size == UINT32_MAX ||
	    vmt_kread_u32(g, pid + d->pid_level, &level) || level >= 4) {
		f->flags |= VMT_F_PARTIAL;
		return;
	}
	for (uint32_t l = 0; l <= level; l++)
		if (vmt_kread(g, pid + d->pid_numbers + l * d->upid_size, &f->ns_pid[l], 4))
			f->flags |= VMT_F_PARTIAL;
	f->pid_levels = level + 1;
}

static void epoll_item_read(struct vmt_guest *g, const struct detail_offsets *d, uint64_t epi,
			    struct vmt_epoll_item *it, struct vmt_fd *f)
{
	uint64_t file = 0, inode = 0, sb = 0;

	if (vmt_kread(g, epi + d->epi_fd, &it->fd, 4) ||
	    vmt_kread(g, epi + d->epi_events, &it->events, 4) ||
	    vmt_kread(g, epi + d->epi_data, &it->data, 8) || kptr(g, epi, d->epi_file, &file) ||
	    kptr(g, file, d->file_f_pos, (uint64_t *)&it->pos) ||
	    kptr(g, file, d->file_f_inode, &inode) || kptr(g, inode, d->inode_ino, &it->ino) ||
	    kptr(g, inode, d->inode_sb, &sb) || !vmt_kptr_ok(sb) || d->sb_dev == UINT32_MAX ||
	    vmt_kread_u32(g, sb + d->sb_dev, &it->sdev))
		f->flags |= VMT_F_PARTIAL;
}

/*
 * ep_show_fdinfo(): the red-black tree of an epoll instance's items, in
 * order.  Iterative, the stack bounded by a red-black tree's height, the
 * items by VMT_MAX_EPOLL_ITEMS: a forged tree ends the list, flagged.
 */
static void fd_read_epoll(struct vmt_guest *g, const struct detail_offsets *d, uint64_t ep,
			  struct vmt_fd *f)
{
	uint64_t stack[96], node = 0;
	size_t n = 0, cap = 0;

	f->kind = VMT_FD_EPOLL;
	if (d->ep_rbr == UINT32_MAX || d->epi_data == UINT32_MAX || d->rb_left == UINT32_MAX ||
	    kptr(g, ep, d->ep_rbr, &node)) {
		f->flags |= VMT_F_PARTIAL;
		return;
	}
	while (node || n) {
		struct vmt_epoll_item *it;

		while (node) { /* down the left spine */
			if (n == sizeof(stack) / sizeof(stack[0]) || !vmt_kptr_ok(node)) {
				f->flags |= VMT_F_PARTIAL;
				return;
			}
			stack[n++] = node;
			if (kptr(g, node, d->rb_left, &node)) {
				f->flags |= VMT_F_PARTIAL;
				return;
			}
		}
		node = stack[--n];
		if (f->nitems == VMT_MAX_EPOLL_ITEMS) {
			f->flags |= VMT_F_TRUNCATED;
			return;
		}
		if (f->nitems == cap) {
			cap = cap ? 2 * cap : 8;
			it = realloc(f->items, cap * sizeof(*it));
			if (!it) {
				f->flags |= VMT_F_PARTIAL;
				return;
			}
			f->items = it;
		}
		it = memset(&f->items[f->nitems++], 0, sizeof(*it));
		epoll_item_read(g, d, node - d->epi_rbn, it, f);
		if (kptr(g, node, d->rb_right, &node)) {
			f->flags |= VMT_F_PARTIAL;
			return;
		}
	}
}

/* The kinds of file whose show_fdinfo() adds lines: known by their f_op. */
static void fd_read_kind(struct vmt_guest *g, const struct detail_offsets *d, uint64_t file,
			 struct vmt_fd *f)
{
	uint64_t fop = 0, priv = 0, ops = 0, show = 0, sk = 0;
	uint32_t v = 0;

	if (kptr(g, file, d->file_f_op, &fop) || !fop || kptr(g, file, d->file_private, &priv))
		return;
	if (fop == d->socket_file_ops && vmt_kptr_ok(priv) && kptr(g, priv, d->socket_sk, &sk))
		sk = 0;
	f->sk = vmt_kptr_ok(sk) ? sk : 0;
	if (fop == d->eventfd_fops && d->eventfd_id != UINT32_MAX) {
		f->kind = VMT_FD_EVENTFD;
		if (kptr(g, priv, d->eventfd_count, &f->x) || !vmt_kptr_ok(priv) ||
		    vmt_kread(g, priv + d->eventfd_id, &f->id, 4))
			f->flags |= VMT_F_PARTIAL;
	} else if (fop == d->signalfd_fops && d->signalfd_sigmask != UINT32_MAX) {
		f->kind = VMT_FD_SIGNALFD;
		if (!vmt_kptr_ok(priv) || kptr(g, priv, d->signalfd_sigmask, &f->x))
			f->flags |= VMT_F_PARTIAL;
		f->x = ~f->x; /* the context keeps the signals it does not read */
	} else if (fop == d->eventpoll_fops) {
		fd_read_epoll(g, d, priv, f);
	} else if (fop == d->pidfd_fops) {
		f->kind = VMT_FD_PIDFD;
		fd_read_pidfd(g, d, priv, f);
	} else if (fop == d->socket_file_ops && !kptr(g, priv, d->socket_ops, &ops) &&
		   !kptr(g, ops, d->proto_ops_show_fdinfo, &show) && show &&
		   show == d->unix_show_fdinfo) {
		f->kind = VMT_FD_UNIX;
		f->x = UINT64_MAX; /* no sock: no line */
		if (!kptr(g, priv, d->socket_sk, &sk) && vmt_kptr_ok(sk) &&
		    d->unix_scm_nr_fds != UINT32_MAX &&
		    !vmt_kread_u32(g, sk + d->unix_scm_nr_fds, &v))
			f->x = v;
	}
}

static void fd_read(struct vmt_guest *g, const struct detail_offsets *d,
		    const struct task_offsets *o, uint64_t file, struct vmt_fd *f)
{
	uint64_t inode = 0, mnt = 0, dentry = 0;
	uint32_t v32 = 0;

	if (kptr(g, file, d->file_f_inode, &inode) || kptr(g, inode, d->inode_ino, &f->ino) ||
	    kptr(g, file, d->file_f_pos, (uint64_t *)&f->pos) || d->file_f_flags == UINT32_MAX ||
	    vmt_kread_u32(g, file + d->file_f_flags, &f->f_flags) || d->file_f_mode == UINT32_MAX ||
	    vmt_kread_u32(g, file + d->file_f_mode, &f->f_mode))
		f->flags |= VMT_F_PARTIAL;
	if (kptr(g, file, o->file_f_path + o->path_mnt, &mnt) ||
	    kptr(g, file, o->file_f_path + o->path_dentry, &dentry)) {
		f->flags |= VMT_F_PARTIAL;
		return;
	}
	if (o->mount_mnt != UINT32_MAX && d->mount_mnt_id != UINT32_MAX && vmt_kptr_ok(mnt) &&
	    !vmt_kread_u32(g, mnt - o->mount_mnt + d->mount_mnt_id, &v32))
		f->mnt_id = (int32_t)v32;
	else
		f->flags |= VMT_F_PARTIAL;
	f->path = path_of(g, d, mnt, dentry);
	if (!f->path)
		f->flags |= VMT_F_PARTIAL;
	fd_read_kind(g, d, file, f);
}

struct fd_walk {
	struct vmt_fd *v;
	size_t n, cap;
};

static struct vmt_fd *fd_add(struct fd_walk *w)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		struct vmt_fd *v = realloc(w->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		w->v = v;
		w->cap = cap;
	}
	memset(&w->v[w->n], 0, sizeof(w->v[0]));
	return &w->v[w->n++];
}

/* Split VM: the files of a batch, then their inodes and dentries, a round trip each. */
static void fd_prefetch(struct vmt_guest *g, const struct detail_offsets *d,
			const struct task_offsets *o, const uint64_t *files, uint32_t n)
{
	uint64_t p[2 * FD_BATCH];

	vmt_detail_prefetch(g, files, n, d->file_size);
	for (uint32_t i = 0; i < n; i++) {
		p[2 * i] = p[2 * i + 1] = 0;
		kptr(g, files[i], d->file_f_inode, &p[2 * i]);
		kptr(g, files[i], o->file_f_path + o->path_dentry, &p[2 * i + 1]);
	}
	vmt_detail_prefetch(g, p, 2 * n, VMT_MAX(d->inode_size, d->dentry_size));
}

/* Slots [base, base+n) of the fd array, with their close-on-exec bits. */
static int fd_batch(struct vmt_guest *g, const struct detail_offsets *d, uint64_t fdarr,
		    uint64_t cloexec, uint32_t base, uint32_t n, struct fd_walk *w)
{
	const struct task_offsets *o;
	uint64_t files[FD_BATCH], bits[FD_BATCH / 64] = {0};

	if (vmt_task_offsets(g, &o) || vmt_kread(g, fdarr + (uint64_t)base * 8, files, n * 8ull))
		return -EFAULT;
	if (!vmt_kptr_ok(cloexec) || vmt_kread(g, cloexec + base / 8, bits, (n + 63) / 64 * 8))
		memset(bits, 0, sizeof(bits));
	if (vmt_mem_hints_pay(g->mem))
		fd_prefetch(g, d, o, files, n);
	for (uint32_t i = 0; i < n; i++) {
		struct vmt_fd *f;

		if (!files[i])
			continue;
		f = fd_add(w);
		if (!f)
			return -ENOMEM;
		f->fd = (int32_t)(base + i);
		if (!vmt_kptr_ok(files[i])) {
			f->flags |= VMT_F_PARTIAL;
			continue;
		}
		fd_read(g, d, o, files[i], f);
		if (bits[i / 64] >> (i % 64) & 1)
			f->f_flags |= 02000000; /* O_CLOEXEC */
	}
	return 0;
}

void vmt_detail_read_files(struct vmt_guest *g, const struct detail_offsets *d,
			   const struct vmt_task *t, struct vmt_task_detail *out)
{
	struct fd_walk w = {0};
	uint64_t files = 0, fdt = 0, fdarr = 0, cloexec = 0;
	uint32_t max = 0;
	int err = 0;

	if (kptr(g, t->kva, d->task_files, &files) || !files)
		return; /* an exited task: no fd table, an empty fd/ */
	if (kptr(g, files, d->files_fdt, &fdt) || d->fdt_max_fds == UINT32_MAX ||
	    !vmt_kptr_ok(fdt) || vmt_kread_u32(g, fdt + d->fdt_max_fds, &max) ||
	    kptr(g, fdt, d->fdt_fd, &fdarr) || !vmt_kptr_ok(fdarr)) {
		out->flags |= VMT_F_PARTIAL;
		return;
	}
	kptr(g, fdt, d->fdt_cloexec, &cloexec);
	if (max > VMT_MAX_FDS) {
		max = VMT_MAX_FDS;
		out->flags |= VMT_F_TRUNCATED;
	}
	for (uint32_t base = 0; base < max && !err; base += FD_BATCH)
		err = fd_batch(g, d, fdarr, cloexec, base, VMT_MIN(max - base, FD_BATCH), &w);
	if (err)
		out->flags |= VMT_F_PARTIAL;
	out->fds = w.v;
	out->nfds = w.n;
}

/* --------------------------------------------------------- fs and ns */

void vmt_detail_read_fs(struct vmt_guest *g, const struct detail_offsets *d,
			const struct vmt_task *t, struct vmt_task_detail *out)
{
	const struct task_offsets *o;
	uint64_t fs = 0, mm = 0, file = 0;

	/* the executable, for listings made without VMT_TASK_EXE (a lazy /proc) */
	if (!t->exe && !vmt_task_offsets(g, &o) && !kptr(g, t->kva, o->task_mm, &mm) && mm &&
	    !kptr(g, mm, o->mm_exe_file, &file) && vmt_kptr_ok(file))
		out->exe = path_at(g, d, file + o->file_f_path);
	if (kptr(g, t->kva, d->task_fs, &fs) || !fs)
		return;
	if (d->fs_pwd != UINT32_MAX && d->fs_root != UINT32_MAX && vmt_kptr_ok(fs)) {
		out->cwd = path_at(g, d, fs + d->fs_pwd);
		out->root = path_at(g, d, fs + d->fs_root);
	}
	if (!out->cwd || !out->root)
		out->flags |= VMT_F_PARTIAL;
}

/* task_active_pid_ns(): the namespace of the task's pid at its own level. */
static uint64_t task_pid_ns(struct vmt_guest *g, const struct detail_offsets *d, uint64_t task)
{
	uint64_t pid = 0, ns = 0;
	uint32_t level;

	if (kptr(g, task, d->task_thread_pid, &pid) || !vmt_kptr_ok(pid) ||
	    d->pid_level == UINT32_MAX || d->upid_size == UINT32_MAX ||
	    vmt_kread_u32(g, pid + d->pid_level, &level) || level >= VMT_MAX_PID_LEVELS ||
	    vmt_kread_u64(g, pid + d->pid_numbers + level * d->upid_size + d->upid_ns, &ns))
		return 0;
	return ns;
}

void vmt_detail_read_ns(struct vmt_guest *g, const struct detail_offsets *d,
			const struct vmt_task *t, struct vmt_task_detail *out)
{
	const struct task_offsets *o;
	uint64_t nsproxy = 0, cred = 0;

	if (vmt_task_offsets(g, &o))
		return;
	/* An exited task has no nsproxy: only its pid and user namespaces resolve. */
	kptr(g, t->kva, d->task_nsproxy, &nsproxy);
	kptr(g, t->kva, o->task_real_cred, &cred);
	for (int i = 0; i < VMT_NS_COUNT; i++) {
		uint64_t ns = 0;
		uint32_t inum = 0;

		if (i == VMT_NS_PID)
			ns = task_pid_ns(g, d, t->kva);
		else if (i == VMT_NS_USER)
			kptr(g, cred, d->cred_user_ns, &ns);
		else if (vmt_kptr_ok(nsproxy))
			kptr(g, nsproxy, d->nsproxy_member[i], &ns);
		if (vmt_kptr_ok(ns) && d->ns_inum[i] != UINT32_MAX &&
		    !vmt_kread_u32(g, ns + d->ns_inum[i], &inum))
			out->ns_ino[i] = inum;
	}
}

/* ------------------------------------------------ many tasks' hints at once */

/*
 * A split VM's listing of many processes: the hints above cost a round trip
 * per level and task; these take every task's level at once (a round trip
 * per level).  Bounded like the walks they foresee, and in total by
 * VMT_HINTS_MAX ranges a level (the rest is simply read when needed).
 * Hints only: nothing here is kept or trusted.
 */

/* A maple node still to visit: its encoded pointer and the top of its range. */
struct mnode {
	uint64_t enode, max;
};

struct mnode_vec {
	struct mnode *v;
	size_t n, cap;
};

static void mnode_add(struct mnode_vec *m, uint64_t enode, uint64_t max)
{
	if (m->n >= VMT_HINTS_MAX)
		return;
	if (m->n == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 256;
		struct mnode *v = realloc(m->v, cap * sizeof(*v));

		if (!v)
			return;
		m->v = v;
		m->cap = cap;
	}
	m->v[m->n++] = (struct mnode){.enode = enode, .max = max};
}

/* One node (already asked for): its children into next, its VMAs into vmas. */
static void mnode_expand(struct vmt_guest *g, const struct detail_offsets *d, struct mnode x,
			 struct mnode_vec *next, struct vmt_hints *vmas)
{
	uint64_t piv[MR64_SLOTS], slot[MR64_SLOTS];
	uint8_t buf[MAPLE_NODE_SIZE];
	int type = (int)(x.enode >> 3 & 0xf);
	unsigned npiv, end;

	if ((type != MAPLE_LEAF_64 && type != MAPLE_RANGE_64 && type != MAPLE_ARANGE_64) ||
	    vmt_kread(g, x.enode & ~MAPLE_NODE_MASK, buf, sizeof(buf)))
		return;
	npiv = (type == MAPLE_ARANGE_64 ? MA64_SLOTS : MR64_SLOTS) - 1;
	memcpy(piv, buf + (type == MAPLE_ARANGE_64 ? d->ma64_pivot : d->mr64_pivot), npiv * 8);
	memcpy(slot, buf + (type == MAPLE_ARANGE_64 ? d->ma64_slot : d->mr64_slot), (npiv + 1) * 8);
	end = node_end(buf, type, d, piv, npiv, x.max);
	for (unsigned i = 0; i <= end; i++) {
		uint64_t hi = i < npiv && (piv[i] || i == 0) ? piv[i] : x.max;

		if (!slot[i])
			continue;
		if (type == MAPLE_LEAF_64)
			vmt_hints_add(vmas, slot[i], d->vma_size);
		else
			mnode_add(next, slot[i], hi);
	}
}

/* The maple trees of these mm_structs (mm_ma_root asked for already), level by level. */
static void maps_hint_trees(struct vmt_guest *g, const struct detail_offsets *d, const uint64_t *mm,
			    size_t n, struct vmt_hints *vmas)
{
	struct mnode_vec cur = {0}, next = {0}, t;
	struct vmt_hints h = {0};
	uint64_t root;
	size_t seen = 0;

	for (size_t i = 0; i < n; i++)
		if (!kptr(g, mm[i], d->mm_ma_root, &root) && (root & 3) == 2 && root > 4096)
			mnode_add(&cur, root, UINT64_MAX);
	/* A forged tree (children that are ancestors) stops at VMT_HINTS_MAX nodes in all. */
	for (int depth = 0; depth <= MAPLE_HEIGHT_MAX && cur.n && seen < VMT_HINTS_MAX; depth++) {
		seen += cur.n;
		for (size_t i = 0; i < cur.n; i++)
			vmt_hints_add(&h, cur.v[i].enode & ~MAPLE_NODE_MASK, MAPLE_NODE_SIZE);
		vmt_hints_flush(g, &h);
		next.n = 0;
		for (size_t i = 0; i < cur.n; i++)
			mnode_expand(g, d, cur.v[i], &next, vmas);
		t = cur;
		cur = next;
		next = t;
	}
	free(cur.v);
	free(next.v);
	free(h.r);
}

/* Files (pointers in p[0..n)), then their inodes and dentries: two levels. */
static void files_hint(struct vmt_guest *g, const struct detail_offsets *d,
		       const struct task_offsets *o, struct vmt_hints *files)
{
	struct vmt_hints h = {0};

	for (size_t i = 0; i < files->n; i++)
		files->r[i].len = d->file_size;
	vmt_kprefetch(g, files->r, files->n);
	for (size_t i = 0; i < files->n; i++) {
		uint64_t f = files->r[i].va, p;

		if (!kptr(g, f, d->file_f_inode, &p))
			vmt_hints_add(&h, p, VMT_MAX(d->inode_size, d->dentry_size));
		if (!kptr(g, f, o->file_f_path + o->path_dentry, &p))
			vmt_hints_add(&h, p, VMT_MAX(d->inode_size, d->dentry_size));
	}
	vmt_hints_flush(g, &h);
	free(h.r);
}

void vmt_detail_hint_maps(struct vmt_guest *g, const struct detail_offsets *d, const uint64_t *mm,
			  size_t n)
{
	const struct task_offsets *o;
	struct vmt_hints vmas = {0}, files = {0};
	uint64_t f;

	if (vmt_task_offsets(g, &o) || d->mr64_meta == UINT32_MAX || d->ma64_meta == UINT32_MAX)
		return;
	maps_hint_trees(g, d, mm, n, &vmas);
	vmt_kprefetch(g, vmas.r, vmas.n);
	for (size_t i = 0; i < vmas.n; i++)
		if (!kptr(g, vmas.r[i].va, d->vma_file, &f))
			vmt_hints_add(&files, f, 1);
	files_hint(g, d, o, &files);
	free(vmas.r);
	free(files.r);
}

void vmt_detail_hint_fds(struct vmt_guest *g, const struct detail_offsets *d, const uint64_t *fdt,
			 size_t n)
{
	const struct task_offsets *o;
	struct vmt_hints h = {0}, files = {0};
	uint64_t arr, arr_buf[FD_BATCH];
	uint32_t max;

	if (vmt_task_offsets(g, &o) || d->fdt_max_fds == UINT32_MAX)
		return;
	for (size_t i = 0; i < n; i++)
		if (!kptr(g, fdt[i], d->fdt_fd, &arr) &&
		    !vmt_kread_u32(g, fdt[i] + d->fdt_max_fds, &max))
			vmt_hints_add(&h, arr, VMT_MIN(max, FD_BATCH) * 8u);
	vmt_kprefetch(g, h.r, h.n);
	for (size_t i = 0; i < h.n && files.n < VMT_HINTS_MAX; i++) {
		if (vmt_kread(g, h.r[i].va, arr_buf, h.r[i].len))
			continue;
		for (uint32_t j = 0; j < h.r[i].len / 8; j++)
			if (arr_buf[j])
				vmt_hints_add(&files, arr_buf[j], 1);
	}
	files_hint(g, d, o, &files);
	free(h.r);
	free(files.r);
}
