// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * system_mount.c - the mounts of the initial mount namespace
 * (init_nsproxy.mnt_ns), with what fs/proc_namespace.c of 6.1 prints for
 * each in /proc/mounts and /proc/PID/mountinfo.
 *
 * Paths are d_path()s relative to the namespace's root mount, climbing
 * dentries and crossing to the parent mount at each mount root (bounded
 * by VMT_MAX_PATH_DEPTH).  File-system specific options (the
 * super_operations.show_options part) are modelled for shmem (tmpfs,
 * devtmpfs, rootfs), devpts and proc; for any other file system whose
 * show_options is set, fs_opts is left empty and the entry is flagged
 * VMT_F_PARTIAL.  show_devname / show_path hooks are not modelled either
 * (flagged the same way).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "linux/system.h"

#define MNT_MAX	     8192
#define MNT_RB_DEPTH 64

struct mnt_offsets {
	uint32_t m_list, m_devname, m_id, m_group, m_master, m_parent, m_mountpoint, m_mnt;
	uint32_t v_flags, v_sb, v_root;
	uint32_t ns_list, ns_root, nsp_mnt_ns;
	uint32_t m_node, ns_mounts, rb_left, rb_right; /* 6.8+: the namespace's rbtree */
	uint32_t sb_dev, sb_flags, sb_type, sb_subtype, sb_op, sb_fs_info;
	uint32_t fst_name, op_show_options, op_show_devname, op_show_path;
	uint32_t d_parent, d_name, q_name, q_len;
	uint32_t shm_blocks, shm_inodes, shm_mode, shm_uid, shm_gid, shm_full, shm_huge, shm_mpol;
	uint32_t pts_opts, pts_setuid, pts_setgid, pts_uid, pts_gid, pts_mode, pts_ptmx, pts_max;
	uint32_t proc_gid, proc_hide, proc_pidonly;
};

struct mnt_walk {
	struct vmt_guest *g;
	struct mnt_offsets o;
	struct vmt_mount_list *l;
	size_t cap;
	uint64_t root_mnt; /* struct mount of the namespace's root */
	uint32_t walk_off; /* of the member the walk goes through: mnt_list or mnt_node */
	uint64_t shmem_ops, devpts_ops, proc_ops; /* super_operations we model */
	uint64_t totalram;
};

static int mnt_offsets_resolve(struct vmt_guest *g, struct mnt_offsets *o)
{
	/* clang-format off */
	const struct vmt_field_req req[] = {
		VMT_FIELD_OPT("mount", "mnt_list", m_list),
		VMT_FIELD_OPT("mount", "mnt_node", m_node),
		VMT_FIELD_OPT("mnt_namespace", "mounts", ns_mounts),
		VMT_FIELD_OPT("rb_node", "rb_left", rb_left),
		VMT_FIELD_OPT("rb_node", "rb_right", rb_right),
		VMT_FIELD("mount", "mnt_devname", m_devname),
		VMT_FIELD("mount", "mnt_id", m_id),
		VMT_FIELD("mount", "mnt_group_id", m_group),
		VMT_FIELD("mount", "mnt_master", m_master),
		VMT_FIELD("mount", "mnt_parent", m_parent),
		VMT_FIELD("mount", "mnt_mountpoint", m_mountpoint),
		VMT_FIELD("mount", "mnt", m_mnt),
		VMT_FIELD("vfsmount", "mnt_flags", v_flags),
		VMT_FIELD("vfsmount", "mnt_sb", v_sb),
		VMT_FIELD("vfsmount", "mnt_root", v_root),
		VMT_FIELD_OPT("mnt_namespace", "list", ns_list),
		VMT_FIELD("mnt_namespace", "root", ns_root),
		VMT_FIELD("nsproxy", "mnt_ns", nsp_mnt_ns),
		VMT_FIELD("super_block", "s_dev", sb_dev),
		VMT_FIELD("super_block", "s_flags", sb_flags),
		VMT_FIELD("super_block", "s_type", sb_type),
		VMT_FIELD_OPT("super_block", "s_subtype", sb_subtype),
		VMT_FIELD("super_block", "s_op", sb_op),
		VMT_FIELD("super_block", "s_fs_info", sb_fs_info),
		VMT_FIELD("file_system_type", "name", fst_name),
		VMT_FIELD("super_operations", "show_options", op_show_options),
		VMT_FIELD("super_operations", "show_devname", op_show_devname),
		VMT_FIELD("super_operations", "show_path", op_show_path),
		VMT_FIELD("dentry", "d_parent", d_parent),
		VMT_FIELD("dentry", "d_name", d_name),
		VMT_FIELD("qstr", "name", q_name),
		VMT_FIELD("qstr", "len", q_len),
		VMT_FIELD_OPT("shmem_sb_info", "max_blocks", shm_blocks),
		VMT_FIELD_OPT("shmem_sb_info", "max_inodes", shm_inodes),
		VMT_FIELD_OPT("shmem_sb_info", "mode", shm_mode),
		VMT_FIELD_OPT("shmem_sb_info", "uid", shm_uid),
		VMT_FIELD_OPT("shmem_sb_info", "gid", shm_gid),
		VMT_FIELD_OPT("shmem_sb_info", "full_inums", shm_full),
		VMT_FIELD_OPT("shmem_sb_info", "huge", shm_huge),
		VMT_FIELD_OPT("shmem_sb_info", "mpol", shm_mpol),
		VMT_FIELD_OPT("pts_fs_info", "mount_opts", pts_opts),
		VMT_FIELD_OPT("pts_mount_opts", "setuid", pts_setuid),
		VMT_FIELD_OPT("pts_mount_opts", "setgid", pts_setgid),
		VMT_FIELD_OPT("pts_mount_opts", "uid", pts_uid),
		VMT_FIELD_OPT("pts_mount_opts", "gid", pts_gid),
		VMT_FIELD_OPT("pts_mount_opts", "mode", pts_mode),
		VMT_FIELD_OPT("pts_mount_opts", "ptmxmode", pts_ptmx),
		VMT_FIELD_OPT("pts_mount_opts", "max", pts_max),
		VMT_FIELD_OPT("proc_fs_info", "pid_gid", proc_gid),
		VMT_FIELD_OPT("proc_fs_info", "hide_pid", proc_hide),
		VMT_FIELD_OPT("proc_fs_info", "pidonly", proc_pidonly),
	};
	/* clang-format on */

	VMT_OFFSETS_ABSENT(o);
	return vmt_resolve_fields(g, req, ARRAY_SIZE(req));
}

/* --------------------------------------------------------------- paths */

/* Prepend "/name" to buf[*pos..); -ENAMETOOLONG when it does not fit. */
static int mnt_prepend(struct mnt_walk *w, uint64_t dentry, char *buf, size_t *pos)
{
	uint64_t name;
	uint32_t len;

	if (vmt_kread_u64(w->g, dentry + w->o.d_name + w->o.q_name, &name) ||
	    vmt_kread_u32(w->g, dentry + w->o.d_name + w->o.q_len, &len))
		return -EFAULT;
	if (!len || len > 255 || len + 1 > *pos)
		return -ENAMETOOLONG;
	*pos -= len;
	if (vmt_kread(w->g, name, buf + *pos, len))
		return -EFAULT;
	buf[--*pos] = '/';
	return 0;
}

/*
 * The path of dentry in mount mnt.  cross: go on through parent mounts up
 * to the namespace root (d_path); else stop at mnt's own root (seq_dentry).
 */
static int mnt_path(struct mnt_walk *w, uint64_t mnt, uint64_t dentry, bool cross, char *out,
		    size_t cap)
{
	const struct mnt_offsets *o = &w->o;
	char buf[4096];
	size_t pos = sizeof(buf) - 1;

	buf[pos] = '\0';
	for (int depth = 0;; depth++) {
		uint64_t root, parent;

		if (depth == VMT_MAX_PATH_DEPTH ||
		    vmt_kread_u64(w->g, mnt + o->m_mnt + o->v_root, &root))
			return -EBADMSG;
		if (dentry == root) {
			if (!cross || mnt == w->root_mnt ||
			    vmt_kread_u64(w->g, mnt + o->m_parent, &parent) || parent == mnt ||
			    !vmt_kptr_ok(parent) ||
			    vmt_kread_u64(w->g, mnt + o->m_mountpoint, &dentry))
				break;
			mnt = parent;
			continue;
		}
		if (vmt_kread_u64(w->g, dentry + o->d_parent, &parent) || !vmt_kptr_ok(parent))
			return -EBADMSG;
		if (parent == dentry)
			break;
		if (mnt_prepend(w, dentry, buf, &pos))
			return -EBADMSG;
		dentry = parent;
	}
	if (pos == sizeof(buf) - 1)
		buf[--pos] = '/';
	if (sizeof(buf) - 1 - pos >= cap)
		return -ENAMETOOLONG;
	memcpy(out, buf + pos, sizeof(buf) - pos);
	return 0;
}

/* ---------------------------------------------------- show_options() */

static void opt_add(char *opts, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void opt_add(char *opts, size_t cap, const char *fmt, ...)
{
	size_t len = strlen(opts);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(opts + len, cap - len, fmt, ap);
	va_end(ap);
}

/* shmem_show_options() of mm/shmem.c. */
static int mnt_shmem_opts(struct mnt_walk *w, uint64_t info, struct vmt_mount *m)
{
	static const char *const huge[] = {"never", "always", "within_size", "advise"};
	const struct mnt_offsets *o = &w->o;
	uint64_t blocks, inodes, mpol = 0;
	uint32_t uid, gid;
	uint16_t mode;
	uint8_t full, hg;
	int8_t shg;

	if (o->shm_full == UINT32_MAX || vmt_kread_u64(w->g, info + o->shm_blocks, &blocks) ||
	    vmt_kread_u64(w->g, info + o->shm_inodes, &inodes) ||
	    vmt_kread(w->g, info + o->shm_mode, &mode, 2) ||
	    vmt_kread_u32(w->g, info + o->shm_uid, &uid) ||
	    vmt_kread_u32(w->g, info + o->shm_gid, &gid) ||
	    vmt_kread(w->g, info + o->shm_full, &full, 1) ||
	    vmt_kread(w->g, info + o->shm_huge, &hg, 1) ||
	    (o->shm_mpol != UINT32_MAX && vmt_kread_u64(w->g, info + o->shm_mpol, &mpol)))
		return -EFAULT;
	/* defaults: half of RAM in pages, and as many inodes (no highmem) */
	if (blocks != w->totalram / 2)
		opt_add(m->fs_opts, sizeof(m->fs_opts), ",size=%lluk",
			(unsigned long long)blocks << (VMT_PAGE_SHIFT - 10));
	if (inodes != w->totalram / 2)
		opt_add(m->fs_opts, sizeof(m->fs_opts), ",nr_inodes=%llu",
			(unsigned long long)inodes);
	if (mode != 01777)
		opt_add(m->fs_opts, sizeof(m->fs_opts), ",mode=%03o", mode);
	if (uid)
		opt_add(m->fs_opts, sizeof(m->fs_opts), ",uid=%u", uid);
	if (gid)
		opt_add(m->fs_opts, sizeof(m->fs_opts), ",gid=%u", gid);
	/* CONFIG_TMPFS_INODE64 is not known: inode32 is shown as a kernel without it would */
	if (full)
		opt_add(m->fs_opts, sizeof(m->fs_opts), ",inode64");
	shg = (int8_t)hg;
	if (shg > 0 && shg < 4)
		opt_add(m->fs_opts, sizeof(m->fs_opts), ",huge=%s", huge[shg]);
	else if (shg == -1 || shg == -2)
		opt_add(m->fs_opts, sizeof(m->fs_opts), ",huge=%s", shg == -1 ? "deny" : "force");
	if (mpol)
		m->flags |= VMT_F_PARTIAL; /* mpol= not modelled */
	return 0;
}

/* devpts_show_options() of fs/devpts/inode.c. */
static int mnt_devpts_opts(struct mnt_walk *w, uint64_t info, struct vmt_mount *m)
{
	const struct mnt_offsets *o = &w->o;
	uint64_t p = info + o->pts_opts;
	int32_t setuid, setgid, max;
	uint32_t uid, gid;
	uint16_t mode, ptmx;

	if (o->pts_max == UINT32_MAX || vmt_kread(w->g, p + o->pts_setuid, &setuid, 4) ||
	    vmt_kread(w->g, p + o->pts_setgid, &setgid, 4) ||
	    vmt_kread_u32(w->g, p + o->pts_uid, &uid) ||
	    vmt_kread_u32(w->g, p + o->pts_gid, &gid) ||
	    vmt_kread(w->g, p + o->pts_mode, &mode, 2) ||
	    vmt_kread(w->g, p + o->pts_ptmx, &ptmx, 2) || vmt_kread(w->g, p + o->pts_max, &max, 4))
		return -EFAULT;
	if (setuid)
		opt_add(m->fs_opts, sizeof(m->fs_opts), ",uid=%u", uid);
	if (setgid)
		opt_add(m->fs_opts, sizeof(m->fs_opts), ",gid=%u", gid);
	opt_add(m->fs_opts, sizeof(m->fs_opts), ",mode=%03o,ptmxmode=%03o", mode, ptmx);
	if (max < (1 << 20)) /* NR_UNIX98_PTY_MAX */
		opt_add(m->fs_opts, sizeof(m->fs_opts), ",max=%d", max);
	return 0;
}

/* proc_show_options() of fs/proc/root.c. */
static int mnt_proc_opts(struct mnt_walk *w, uint64_t info, struct vmt_mount *m)
{
	static const char *const hide[] = {"off", "noaccess", "invisible", "?", "ptraceable"};
	const struct mnt_offsets *o = &w->o;
	uint32_t gid, hidepid, pidonly;

	if (o->proc_pidonly == UINT32_MAX || vmt_kread_u32(w->g, info + o->proc_gid, &gid) ||
	    vmt_kread_u32(w->g, info + o->proc_hide, &hidepid) ||
	    vmt_kread_u32(w->g, info + o->proc_pidonly, &pidonly))
		return -EFAULT;
	if (gid)
		opt_add(m->fs_opts, sizeof(m->fs_opts), ",gid=%u", gid);
	if (hidepid)
		opt_add(m->fs_opts, sizeof(m->fs_opts), ",hidepid=%s",
			hidepid < ARRAY_SIZE(hide) ? hide[hidepid] : "?");
	if (pidonly == 1) /* PROC_PIDONLY_ON */
		opt_add(m->fs_opts, sizeof(m->fs_opts), ",subset=pid");
	return 0;
}

static void mnt_fs_opts(struct mnt_walk *w, uint64_t sb, struct vmt_mount *m)
{
	const struct mnt_offsets *o = &w->o;
	uint64_t ops, show = 0, devname = 0, path = 0, info = 0;
	int err = 0;

	if (vmt_kread_u64(w->g, sb + o->sb_op, &ops) || !vmt_kptr_ok(ops) ||
	    vmt_kread_u64(w->g, ops + o->op_show_options, &show) ||
	    vmt_kread_u64(w->g, ops + o->op_show_devname, &devname) ||
	    vmt_kread_u64(w->g, ops + o->op_show_path, &path) ||
	    vmt_kread_u64(w->g, sb + o->sb_fs_info, &info)) {
		m->flags |= VMT_F_PARTIAL;
		return;
	}
	if (devname || path)
		m->flags |= VMT_F_PARTIAL;
	if (!show)
		return;
	if (ops == w->shmem_ops && info)
		err = mnt_shmem_opts(w, info, m);
	else if (ops == w->devpts_ops && info)
		err = mnt_devpts_opts(w, info, m);
	else if (ops == w->proc_ops && info)
		err = mnt_proc_opts(w, info, m);
	else
		err = -ENOEXEC;
	if (err) {
		m->fs_opts[0] = '\0';
		m->flags |= VMT_F_PARTIAL;
	}
}

/* ------------------------------------------------------------- entries */

static int mnt_strp(struct mnt_walk *w, uint64_t at, char *buf, size_t cap)
{
	uint64_t p;

	buf[0] = '\0';
	if (vmt_kread_u64(w->g, at, &p))
		return -EFAULT;
	if (!p)
		return 0;
	return vmt_kptr_ok(p) ? vmt_kread_str(w->g, p, buf, cap) : -EBADMSG;
}

static int mnt_one(struct vmt_guest *g, uint64_t node, void *arg)
{
	struct mnt_walk *w = arg;
	const struct mnt_offsets *o = &w->o;
	uint64_t mnt = node - w->walk_off, sb, root, parent, master, type;
	struct vmt_mount *m;
	char sub[64];
	uint64_t sbflags;

	if (w->l->n == MNT_MAX)
		return 1;
	if (w->l->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 32;

		m = reallocarray(w->l->mounts, cap, sizeof(*m));
		if (!m)
			return -ENOMEM;
		w->l->mounts = m;
		w->cap = cap;
	}
	m = &w->l->mounts[w->l->n];
	memset(m, 0, sizeof(*m));
	if (vmt_kread_u64(g, mnt + o->m_mnt + o->v_sb, &sb) || !vmt_kptr_ok(sb) ||
	    vmt_kread_u64(g, mnt + o->m_mnt + o->v_root, &root) ||
	    vmt_kread_u32(g, mnt + o->m_mnt + o->v_flags, &m->mnt_flags) ||
	    vmt_kread(g, mnt + o->m_id, &m->mnt_id, 4) ||
	    vmt_kread(g, mnt + o->m_group, &m->group_id, 4) ||
	    vmt_kread_u64(g, mnt + o->m_parent, &parent) ||
	    vmt_kread_u64(g, mnt + o->m_master, &master) ||
	    vmt_kread(g, parent + o->m_id, &m->parent_id, 4) ||
	    vmt_kread_u32(g, sb + o->sb_dev, &m->dev) ||
	    vmt_kread_u64(g, sb + o->sb_flags, &sbflags) ||
	    vmt_kread_u64(g, sb + o->sb_type, &type) ||
	    mnt_strp(w, type + o->fst_name, m->fstype, sizeof(m->fstype))) {
		w->l->flags |= VMT_F_PARTIAL;
		return 0; /* left out */
	}
	m->sb_flags = (uint32_t)sbflags;
	if (master && vmt_kptr_ok(master) && vmt_kread(g, master + o->m_group, &m->master_id, 4))
		m->flags |= VMT_F_PARTIAL;
	if (o->sb_subtype != UINT32_MAX && !mnt_strp(w, sb + o->sb_subtype, sub, sizeof(sub)) &&
	    sub[0])
		opt_add(m->fstype, sizeof(m->fstype), ".%s", sub);
	if (mnt_strp(w, mnt + o->m_devname, m->devname, sizeof(m->devname)) ||
	    mnt_path(w, mnt, root, true, m->path, sizeof(m->path)) ||
	    mnt_path(w, mnt, root, false, m->root, sizeof(m->root)))
		m->flags |= VMT_F_PARTIAL;
	if (!m->devname[0])
		strcpy(m->devname, "none");
	mnt_fs_opts(w, sb, m);
	w->l->n++;
	return 0;
}

static void mnt_syms(struct mnt_walk *w)
{
	int64_t total;
	uint64_t va;

	if (vmt_ksym(w->g, "shmem_ops", &w->shmem_ops))
		w->shmem_ops = 1;
	if (vmt_ksym(w->g, "devpts_sops", &w->devpts_ops))
		w->devpts_ops = 1;
	if (vmt_ksym(w->g, "proc_sops", &w->proc_ops))
		w->proc_ops = 1;
	if (!vmt_ksym(w->g, "_totalram_pages", &va) && !vmt_kread(w->g, va, &total, 8) && total > 0)
		w->totalram = (uint64_t)total;
}

/*
 * The rbtree in order (mnt_find_id_at() and rb_next(), as /proc/mounts
 * reads it): an explicit stack bounded by MNT_RB_DEPTH (a red-black tree
 * of MNT_MAX nodes is far shallower), at most MNT_MAX nodes visited.
 */
static int mnt_rb_walk(struct mnt_walk *w, uint64_t ns)
{
	const struct mnt_offsets *o = &w->o;
	uint64_t stack[MNT_RB_DEPTH], node;
	size_t sp = 0, seen = 0;
	int err;

	if (o->ns_mounts == UINT32_MAX || o->m_node == UINT32_MAX || o->rb_left == UINT32_MAX ||
	    o->rb_right == UINT32_MAX)
		return vmt_error(-ENOEXEC, "mnt_namespace has neither a mount list nor a tree");
	if (vmt_kread_u64(w->g, ns + o->ns_mounts, &node)) /* rb_root.rb_node */
		return -EFAULT;
	while (node || sp) {
		for (; node; sp++) {
			if (sp == MNT_RB_DEPTH || !vmt_kptr_ok(node))
				return -EBADMSG;
			stack[sp] = node;
			if (vmt_kread_u64(w->g, node + o->rb_left, &node))
				return -EFAULT;
		}
		node = stack[--sp];
		if (++seen > MNT_MAX)
			return -EBADMSG;
		err = mnt_one(w->g, node, w);
		if (err)
			return err;
		if (vmt_kread_u64(w->g, node + o->rb_right, &node))
			return -EFAULT;
	}
	return 0;
}

int vmt_mounts(struct vmt_guest *g, struct vmt_mount_list **out)
{
	struct mnt_walk w = {.g = g};
	uint64_t nsp, ns;
	bool list;
	int err;

	*out = NULL;
	err = mnt_offsets_resolve(g, &w.o);
	if (!err)
		err = vmt_ksym(g, "init_nsproxy", &nsp);
	if (!err)
		err = vmt_kread_u64(g, nsp + w.o.nsp_mnt_ns, &ns);
	if (!err && !vmt_kptr_ok(ns))
		err = -EBADMSG;
	if (!err)
		err = vmt_kread_u64(g, ns + w.o.ns_root, &w.root_mnt);
	if (err)
		return vmt_error(err, "initial mount namespace unreadable");
	mnt_syms(&w);
	w.l = calloc(1, sizeof(*w.l));
	if (!w.l)
		return -ENOMEM;
	list = w.o.ns_list != UINT32_MAX && w.o.m_list != UINT32_MAX;
	w.walk_off = list ? w.o.m_list : w.o.m_node;
	if (list)
		err = vmt_list_walk(g, ns + w.o.ns_list, MNT_MAX, mnt_one, &w);
	else
		err = mnt_rb_walk(&w, ns);
	if (err == -ENOMEM) {
		vmt_mount_list_free(w.l);
		return err;
	}
	if (err)
		w.l->flags |= VMT_F_PARTIAL;
	*out = w.l;
	return 0;
}

void vmt_mount_list_free(struct vmt_mount_list *l)
{
	if (!l)
		return;
	free(l->mounts);
	free(l);
}
