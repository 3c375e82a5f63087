// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_task_detail.c - the per-process detail walkers (linux/task_detail.c,
 * linux/task_files.c) and their /proc text (procfs/render_task.c) over
 * kernel structures built by hand in a fake guest (fake_guest.h: the real
 * profile of the test guest's 6.1 kernel over a RAM buffer).
 *
 * Maple trees of VMAs are built node by node as lib/maple_tree.c lays them
 * out (256-byte nodes, the type in bits 3-6 of the pointer to a node, the
 * root marked with bit 1), sane and hostile: a child pointing back at the
 * root, a chain deeper than MAPLE_HEIGHT_MAX, duplicated and unordered
 * entries, bad node types, unreadable nodes.  Fd tables hold regular files,
 * sockets and pipes (told apart by their dentry operations' d_dname), and
 * hostile sizes.  Without a test kernel every test is skipped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_guest.h"
#include "procfs/procfs.h"
#include "procfs/render_task.h"

#define ENODE_NULL  4ull /* MAPLE_ENODE_NULL */
#define ROOT_NODE   2ull /* MAPLE_ROOT_NODE */
#define LEAF_64	    1ull
#define ARANGE_64   3ull
#define MAX_U64	    UINT64_MAX
#define VM_RW	    0x3ull
#define VM_RX	    0x5ull
#define FMODE_RW    0x3u
#define O_RDWR_FLAG 02u

/* ------------------------------------------------------------ builders */

static uint64_t task_new(struct fake *f, struct vmt_task *t, int32_t pid)
{
	uint64_t task = kalloc(f, off("task_struct", NULL));

	memset(t, 0, sizeof(*t));
	t->pid = t->tgid = pid;
	t->kva = t->leader = task;
	snprintf(t->name, sizeof(t->name), "proc%d", pid);
	t->state = 'S';
	put32(f, task + off("task_struct", "pid"), (uint32_t)pid);
	return task;
}

static uint64_t mm_new(struct fake *f, uint64_t task)
{
	uint64_t mm = kalloc(f, off("mm_struct", NULL));

	put64(f, task + off("task_struct", "mm"), mm);
	put64(f, mm + off("mm_struct", "start_brk"), 0x600000);
	put64(f, mm + off("mm_struct", "brk"), 0x680000);
	put64(f, mm + off("mm_struct", "start_stack"), 0x7ffff000f000ull);
	return mm;
}

static void mm_set_root(struct fake *f, uint64_t mm, uint64_t root)
{
	put64(f, mm + off("mm_struct", "mm_mt.ma_root"), root);
}

static uint64_t vma_new(struct fake *f, uint64_t mm, uint64_t start, uint64_t end, uint64_t flags)
{
	uint64_t v = kalloc(f, off("vm_area_struct", NULL));

	put64(f, v + off("vm_area_struct", "vm_start"), start);
	put64(f, v + off("vm_area_struct", "vm_end"), end);
	put64(f, v + off("vm_area_struct", "vm_flags"), flags);
	put64(f, v + off("vm_area_struct", "vm_mm"), mm);
	return v;
}

/* A maple node of type type with n (pivot, slot) pairs; returns its encoded pointer. */
static uint64_t node_new(struct fake *f, uint64_t type, const uint64_t (*e)[2], unsigned n)
{
	const char *st = type == LEAF_64 ? "maple_range_64" : "maple_arange_64";
	uint64_t node = kalloc_align(f, 256, 256);
	unsigned npiv = type == LEAF_64 ? 15 : 9;

	for (unsigned i = 0; i < n; i++) {
		if (i < npiv)
			put64(f, node + off(st, "pivot") + 8 * i, e[i][0]);
		put64(f, node + off(st, "slot") + 8 * i, e[i][1]);
	}
	if (n <= npiv) /* a full node has no room for its metadata */
		put8(f, node + off(st, "meta"), (uint8_t)(n - 1));
	return node | type << 3 | ENODE_NULL;
}

/* A dentry named name under parent (itself if 0), hashed (not deleted). */
static uint64_t dentry_new(struct fake *f, uint64_t parent, const char *name)
{
	uint64_t d = kalloc(f, off("dentry", NULL)), s = kalloc(f, 64);

	putstr(f, s, name);
	put64(f, d + off("dentry", "d_parent"), parent ? parent : d);
	put64(f, d + off("dentry", "d_name.name"), s);
	put32(f, d + off("dentry", "d_name.len"), (uint32_t)strlen(name));
	put64(f, d + off("dentry", "d_hash.pprev"), d); /* any non-NULL: hashed */
	return d;
}

/* The root mount: its own parent, rooted at a new root dentry. */
struct fs {
	uint64_t mount, vfsmnt, root, sb, dname_ops[2];
};

static void fs_new(struct fake *f, struct fs *s)
{
	s->mount = kalloc(f, off("mount", NULL));
	s->vfsmnt = s->mount + off("mount", "mnt");
	s->root = dentry_new(f, 0, "/");
	put64(f, s->mount + off("mount", "mnt_parent"), s->mount);
	put64(f, s->vfsmnt + off("vfsmount", "mnt_root"), s->root);
	put32(f, s->mount + off("mount", "mnt_id"), 23);
	s->sb = kalloc(f, off("super_block", NULL));
	put32(f, s->sb + off("super_block", "s_dev"), 2); /* 00:02 */
	/* dentry_operations whose d_dname is sockfs' and pipefs' */
	for (int i = 0; i < 2; i++) {
		s->dname_ops[i] = kalloc(f, off("dentry_operations", NULL));
		put64(f, s->dname_ops[i] + off("dentry_operations", "d_dname"),
		      sym(i ? "pipefs_dname" : "sockfs_dname"));
	}
}

/* A struct file on dentry (with an inode numbered ino) of the root mount. */
static uint64_t file_new(struct fake *f, const struct fs *s, uint64_t dentry, uint64_t ino)
{
	uint64_t file = kalloc(f, off("file", NULL)), inode = kalloc(f, off("inode", NULL));

	put64(f, inode + off("inode", "i_ino"), ino);
	put64(f, inode + off("inode", "i_sb"), s->sb);
	put64(f, dentry + off("dentry", "d_inode"), inode);
	put64(f, file + off("file", "f_inode"), inode);
	put64(f, file + off("file", "f_path.mnt"), s->vfsmnt);
	put64(f, file + off("file", "f_path.dentry"), dentry);
	put32(f, file + off("file", "f_mode"), FMODE_RW);
	put32(f, file + off("file", "f_flags"), O_RDWR_FLAG);
	return file;
}

static struct vmt_task_detail *detail(struct fake *f, const struct vmt_task *t, unsigned what)
{
	struct vmt_task_detail *d = NULL;

	vmt_listing_begin(&f->g);
	assert_int_equal(vmt_task_detail(&f->g, t, what, &d), 0);
	assert_non_null(d);
	return d;
}

static void free_detail_offsets(struct fake *f)
{
	free(f->g.detail_off);
	f->g.detail_off = NULL;
}

static int teardown(void **state)
{
	free_detail_offsets(*state);
	return fake_teardown(state);
}

/* ------------------------------------------------------------- maps */

/*
 * Two leaves under an arange root: busybox text and data, an anonymous
 * area, the heap | the stack, the vdso.
 */
static void build_maps(struct fake *f, uint64_t mm, const struct fs *s)
{
	uint64_t bb = dentry_new(f, dentry_new(f, s->root, "bin"), "busybox");
	uint64_t file = file_new(f, s, bb, 9);
	uint64_t text = vma_new(f, mm, 0x400000, 0x401000, VM_RX);
	uint64_t data = vma_new(f, mm, 0x401000, 0x405000, VM_RW);
	uint64_t anon = vma_new(f, mm, 0x405000, 0x406000, VM_RW);
	uint64_t heap = vma_new(f, mm, 0x600000, 0x680000, VM_RW);
	uint64_t stack = vma_new(f, mm, 0x7ffff0000000ull, 0x7ffff0010000ull, VM_RW);
	uint64_t vdso = vma_new(f, mm, 0x7ffff8000000ull, 0x7ffff8002000ull, VM_RX);
	uint64_t spec = kalloc(f, off("vm_special_mapping", NULL)), nm = kalloc(f, 16);
	const uint64_t l1[][2] = {{0x3fffff, 0},    {0x400fff, text}, {0x404fff, data},
				  {0x405fff, anon}, {0x5fffff, 0},    {0x67ffff, heap},
				  {0x6fffff, 0}};
	const uint64_t l2[][2] = {{0x7fffefffffffull, 0},
				  {0x7ffff000ffffull, stack},
				  {0x7ffff7ffffffull, 0},
				  {0x7ffff8001fffull, vdso},
				  {MAX_U64, 0}};
	uint64_t leaves[][2] = {{0x6fffff, 0}, {MAX_U64, 0}};

	put64(f, data + off("vm_area_struct", "vm_pgoff"), 1);
	put64(f, text + off("vm_area_struct", "vm_file"), file);
	put64(f, data + off("vm_area_struct", "vm_file"), file);
	putstr(f, nm, "[vdso]");
	put64(f, spec + off("vm_special_mapping", "name"), nm);
	put64(f, vdso + off("vm_area_struct", "vm_ops"), sym("special_mapping_vmops"));
	put64(f, vdso + off("vm_area_struct", "vm_private_data"), spec);
	leaves[0][1] = node_new(f, LEAF_64, l1, 7);
	leaves[1][1] = node_new(f, LEAF_64, l2, 5);
	mm_set_root(f, mm, node_new(f, ARANGE_64, (const uint64_t(*)[2])leaves, 2) | ROOT_NODE);
}

static const char maps_text[] =
    "00400000-00401000 r-xp 00000000 00:02 9                                  /bin/busybox\n"
    "00401000-00405000 rw-p 00001000 00:02 9                                  /bin/busybox\n"
    "00405000-00406000 rw-p 00000000 00:00 0 \n"
    "00600000-00680000 rw-p 00000000 00:00 0                                  [heap]\n"
    "7ffff0000000-7ffff0010000 rw-p 00000000 00:00 0                          [stack]\n"
    "7ffff8000000-7ffff8002000 r-xp 00000000 00:00 0                          [vdso]\n";

static void test_maps_sane(void **state)
{
	struct fake *f = *state;
	struct vmt_task t;
	struct fs s;
	uint64_t mm = mm_new(f, task_new(f, &t, 100));
	struct vmt_task_detail *d;

	fs_new(f, &s);
	build_maps(f, mm, &s);
	d = detail(f, &t, VMT_DETAIL_MAPS);
	assert_int_equal(d->flags, 0);
	assert_int_equal(d->nvmas, 6);
	assert_string_equal(d->vmas[0].name, "/bin/busybox");
	assert_int_equal(d->vmas[0].ino, 9);
	assert_int_equal(d->vmas[1].pgoff, 0x1000);
	assert_null(d->vmas[2].name);
	assert_string_equal(d->vmas[3].name, "[heap]");
	assert_string_equal(d->vmas[4].name, "[stack]");
	assert_string_equal(d->vmas[5].name, "[vdso]");
	vmt_task_detail_free(d);
}

/* The rendered maps file, padding and all, as show_map_vma() prints it. */
static void test_maps_render(void **state)
{
	struct fake *f = *state;
	struct pfs_tree *tr = pfs_tree_new();
	struct pfs_ctx c = {.g = &f->g, .user_hz = 100};
	struct vmt_task t;
	struct pfs_node *dir, *n;
	struct fs s;
	uint64_t mm = mm_new(f, task_new(f, &t, 100));

	fs_new(f, &s);
	build_maps(f, mm, &s);
	dir = pfs_dir_new(tr, tr->root, "100", 0555, 0, 0);
	assert_int_equal(pfs_task_fill(tr, &c, &t, dir), 0);
	n = pfs_child(dir, "maps");
	assert_non_null(n);
	assert_int_equal(n->len, strlen(maps_text));
	assert_memory_equal(n->data, maps_text, n->len);
	n = pfs_child(dir, "stat");
	assert_non_null(n);
	assert_memory_equal(n->data, "100 (proc100) S ", 16);
	{ /* 52 fields, the comm counting as one */
		int spaces = 0;

		for (size_t i = 0; i < n->len; i++)
			spaces += n->data[i] == ' ';
		assert_int_equal(spaces, 51);
	}
	assert_non_null(pfs_child(dir, "status"));
	assert_non_null(pfs_child(dir, "statm"));
	pfs_tree_free(tr);
}

/* A child that points back at the root: visited a bounded number of times, flagged. */
static void test_maps_cycle(void **state)
{
	struct fake *f = *state;
	struct vmt_task t;
	uint64_t mm = mm_new(f, task_new(f, &t, 101)), root;
	uint64_t v = vma_new(f, mm, 0x400000, 0x401000, VM_RW);
	const uint64_t l[][2] = {{0x3fffff, 0}, {0x400fff, v}, {MAX_U64, 0}};
	uint64_t e[2][2] = {{0x7fffffffffffull, 0}, {MAX_U64, 0}};
	struct vmt_task_detail *d;

	e[0][1] = node_new(f, LEAF_64, l, 3);
	root = node_new(f, ARANGE_64, (const uint64_t(*)[2])e, 2);
	/* its second child is the root itself */
	put64(f, (root & ~0xffull) + off("maple_arange_64", "slot") + 8, root);
	mm_set_root(f, mm, root | ROOT_NODE);
	d = detail(f, &t, VMT_DETAIL_MAPS);
	assert_true(d->flags & VMT_F_PARTIAL);
	assert_int_equal(d->nvmas, 1); /* the VMA once, though the walk came by again */
	assert_int_equal(d->vmas[0].start, 0x400000);
	vmt_task_detail_free(d);
}

/* A chain of internal nodes deeper than any real tree ends at MAPLE_HEIGHT_MAX. */
static void test_maps_too_deep(void **state)
{
	struct fake *f = *state;
	struct vmt_task t;
	uint64_t mm = mm_new(f, task_new(f, &t, 102));
	uint64_t v = vma_new(f, mm, 0x400000, 0x401000, VM_RW);
	const uint64_t l[][2] = {{0x3fffff, 0}, {0x400fff, v}, {MAX_U64, 0}};
	uint64_t child = node_new(f, LEAF_64, l, 3);
	struct vmt_task_detail *d;

	for (int i = 0; i < 40; i++) {
		const uint64_t e[][2] = {{MAX_U64, child}};

		child = node_new(f, ARANGE_64, e, 1);
	}
	mm_set_root(f, mm, child | ROOT_NODE);
	d = detail(f, &t, VMT_DETAIL_MAPS);
	assert_true(d->flags & VMT_F_PARTIAL);
	assert_int_equal(d->nvmas, 0);
	vmt_task_detail_free(d);
}

/* Slots repeating a VMA, a VMA behind its predecessor, garbage pointers: dropped, flagged. */
static void test_maps_hostile_entries(void **state)
{
	struct fake *f = *state;
	struct vmt_task t;
	uint64_t mm = mm_new(f, task_new(f, &t, 103));
	uint64_t a = vma_new(f, mm, 0x400000, 0x401000, VM_RW);
	uint64_t b = vma_new(f, mm, 0x300000, 0x301000, VM_RW); /* behind a */
	uint64_t z = vma_new(f, mm, 0x500000, 0x500000, VM_RW); /* empty */
	uint64_t c = vma_new(f, mm, 0x900000, 0x901000, VM_RW);
	const uint64_t l[][2] = {{0x3fffff, 0}, {0x400fff, a},		 {0x401fff, a},
				 {0x402fff, b}, {0x403fff, UNMAPPED_VA}, {0x404fff, 0x1234},
				 {0x405fff, z}, {0x8fffff, 0},		 {0x900fff, c},
				 {MAX_U64, 0}};
	struct vmt_task_detail *d;

	mm_set_root(f, mm, node_new(f, LEAF_64, l, 10) | ROOT_NODE);
	d = detail(f, &t, VMT_DETAIL_MAPS);
	assert_true(d->flags & VMT_F_PARTIAL);
	assert_int_equal(d->nvmas, 2);
	assert_int_equal(d->vmas[0].start, 0x400000);
	assert_int_equal(d->vmas[1].start, 0x900000);
	vmt_task_detail_free(d);
}

/* Nodes of no known type, unreadable, or pivots going backwards: the tree is partial. */
static void test_maps_bad_nodes(void **state)
{
	struct fake *f = *state;
	struct vmt_task t;
	uint64_t mm = mm_new(f, task_new(f, &t, 104));
	uint64_t a = vma_new(f, mm, 0x400000, 0x401000, VM_RW);
	const uint64_t l[][2] = {{0x3fffff, 0}, {0x400fff, a}, {MAX_U64, 0}};
	const uint64_t back[][2] = {{0x5fffff, 0}, {0x3fffff, a}, {MAX_U64, 0}};
	uint64_t good = node_new(f, LEAF_64, l, 3);
	const uint64_t roots[] = {
	    (good & ~0x78ull) | 0ull << 3 | ROOT_NODE, /* maple_dense: not in an mm */
	    (good & ~0x78ull) | 7ull << 3 | ROOT_NODE, /* no such type */
	    UNMAPPED_VA | LEAF_64 << 3 | ENODE_NULL | ROOT_NODE,
	    node_new(f, LEAF_64, back, 3) | ROOT_NODE,
	    a, /* an entry, not a node, at the root */
	};
	struct vmt_task_detail *d;

	for (size_t i = 0; i < ARRAY_SIZE(roots); i++) {
		mm_set_root(f, mm, roots[i]);
		d = detail(f, &t, VMT_DETAIL_MAPS);
		assert_true(d->flags & VMT_F_PARTIAL);
		assert_true(d->nvmas <= 1);
		vmt_task_detail_free(d);
	}
	mm_set_root(f, mm, 0); /* an empty tree: nothing, and nothing wrong */
	d = detail(f, &t, VMT_DETAIL_MAPS);
	assert_int_equal(d->flags, 0);
	assert_int_equal(d->nvmas, 0);
	vmt_task_detail_free(d);
}

/* A full leaf (16 entries, no metadata) ends at its last pivot. */
static void test_maps_full_leaf(void **state)
{
	struct fake *f = *state;
	struct vmt_task t;
	uint64_t mm = mm_new(f, task_new(f, &t, 105));
	uint64_t e[16][2];
	struct vmt_task_detail *d;

	for (int i = 0; i < 16; i++) {
		uint64_t start = 0x400000 + 0x2000ull * (uint64_t)i;

		e[i][0] = i == 15 ? MAX_U64 : start + 0xfff;
		e[i][1] = i % 2 ? 0 : vma_new(f, mm, start, start + 0x1000, VM_RW);
		if (i == 0)
			e[0][0] = start + 0xfff; /* slot 0 covers [0, end) */
	}
	e[15][1] = vma_new(f, mm, 0x41e000, 0x41f000, VM_RW);
	mm_set_root(f, mm, node_new(f, LEAF_64, (const uint64_t(*)[2])e, 16) | ROOT_NODE);
	d = detail(f, &t, VMT_DETAIL_MAPS);
	assert_int_equal(d->flags, 0);
	assert_int_equal(d->nvmas, 9);
	assert_int_equal(d->vmas[8].start, 0x41e000);
	vmt_task_detail_free(d);
}

/* -------------------------------------------------------------- fds */

static uint64_t files_new(struct fake *f, uint64_t task, uint32_t max_fds, uint64_t **arr_out,
			  uint64_t *cloexec_out)
{
	uint64_t files = kalloc(f, off("files_struct", NULL));
	uint64_t fdt = kalloc(f, off("fdtable", NULL));
	uint64_t arr = kalloc(f, 8ull * max_fds), cloexec = kalloc(f, (max_fds + 63) / 8);

	put64(f, task + off("task_struct", "files"), files);
	put64(f, files + off("files_struct", "fdt"), fdt);
	put32(f, fdt + off("fdtable", "max_fds"), max_fds);
	put64(f, fdt + off("fdtable", "fd"), arr);
	put64(f, fdt + off("fdtable", "close_on_exec"), cloexec);
	*arr_out = at(f, arr, 8ull * max_fds);
	*cloexec_out = cloexec;
	return fdt;
}

static void test_fds(void **state)
{
	struct fake *f = *state;
	struct vmt_task t;
	struct fs s;
	uint64_t task = task_new(f, &t, 200), *arr, cloexec, sockd, piped, efd, ctx, pfd, pid;
	uint64_t sfd, sctx;
	struct vmt_task_detail *d;

	fs_new(f, &s);
	files_new(f, task, 64, &arr, &cloexec);
	arr[0] = file_new(f, &s, dentry_new(f, dentry_new(f, s.root, "dev"), "console"), 3);
	sockd = dentry_new(f, s.root, "");
	put64(f, sockd + off("dentry", "d_op"), s.dname_ops[0]);
	arr[3] = file_new(f, &s, sockd, 10784);
	piped = dentry_new(f, s.root, "");
	put64(f, piped + off("dentry", "d_op"), s.dname_ops[1]);
	arr[63] = file_new(f, &s, piped, 555);
	arr[5] = 0x1234; /* not a kernel pointer */
	efd = file_new(f, &s, dentry_new(f, s.root, "[eventfd]"), 9);
	ctx = kalloc(f, off("eventfd_ctx", NULL));
	put64(f, efd + off("file", "f_op"), sym("eventfd_fops"));
	put64(f, efd + off("file", "private_data"), ctx);
	put64(f, ctx + off("eventfd_ctx", "count"), 5);
	put32(f, ctx + off("eventfd_ctx", "id"), 7);
	arr[6] = efd;
	pfd = file_new(f, &s, dentry_new(f, s.root, "[pidfd]"), 10);
	pid = kalloc(f, off("pid", NULL));
	put64(f, pfd + off("file", "f_op"), sym("pidfd_fops"));
	put64(f, pfd + off("file", "private_data"), pid);
	put32(f, pid + off("pid", "numbers"), 42);
	put64(f, pid + off("pid", "tasks"), task); /* any task: the pid is alive */
	arr[7] = pfd;
	sfd = file_new(f, &s, dentry_new(f, s.root, "[signalfd]"), 11);
	sctx = kalloc(f, off("signalfd_ctx", NULL));
	put64(f, sfd + off("file", "f_op"), sym("signalfd_fops"));
	put64(f, sfd + off("file", "private_data"), sctx);
	put64(f, sctx + off("signalfd_ctx", "sigmask"), ~(1ull << 16)); /* reads SIGCHLD */
	arr[8] = sfd;
	put64(f, cloexec, 1ull << 3);
	d = detail(f, &t, VMT_DETAIL_FILES);
	assert_int_equal(d->nfds, 7);
	assert_string_equal(d->fds[0].path, "/dev/console");
	assert_int_equal(d->fds[0].mnt_id, 23);
	assert_int_equal(d->fds[0].f_flags, O_RDWR_FLAG);
	assert_string_equal(d->fds[1].path, "socket:[10784]");
	assert_int_equal(d->fds[1].f_flags, O_RDWR_FLAG | 02000000);
	assert_int_equal(d->fds[2].fd, 5);
	assert_true(d->fds[2].flags & VMT_F_PARTIAL);
	assert_null(d->fds[2].path);
	assert_int_equal(d->fds[3].kind, VMT_FD_EVENTFD);
	assert_int_equal(d->fds[3].x, 5);
	assert_int_equal(d->fds[3].id, 7);
	assert_int_equal(d->fds[4].kind, VMT_FD_PIDFD);
	assert_int_equal(d->fds[4].ns_pid[0], 42);
	assert_int_equal(d->fds[5].kind, VMT_FD_SIGNALFD);
	assert_int_equal(d->fds[5].x, 1ull << 16);
	assert_int_equal(d->fds[6].fd, 63);
	assert_string_equal(d->fds[6].path, "pipe:[555]");
	assert_int_equal(d->fds[6].kind, VMT_FD_OTHER);
	vmt_task_detail_free(d);
}

/* A table claiming 4G slots over an unreadable array: capped, partial, quick. */
static void test_fds_hostile(void **state)
{
	struct fake *f = *state;
	struct vmt_task t;
	uint64_t task = task_new(f, &t, 201), *arr, cloexec, fdt;
	struct vmt_task_detail *d;

	fdt = files_new(f, task, 8, &arr, &cloexec);
	put32(f, fdt + off("fdtable", "max_fds"), 0xffffffffu);
	d = detail(f, &t, VMT_DETAIL_FILES);
	assert_true(d->flags & VMT_F_TRUNCATED);
	assert_true(d->flags & VMT_F_PARTIAL);
	vmt_task_detail_free(d);
	put64(f, fdt + off("fdtable", "fd"), UNMAPPED_VA);
	put32(f, fdt + off("fdtable", "max_fds"), 64);
	d = detail(f, &t, VMT_DETAIL_FILES);
	assert_true(d->flags & VMT_F_PARTIAL);
	assert_int_equal(d->nfds, 0);
	vmt_task_detail_free(d);
}

/* ----------------------------------------------------- stat, groups */

/* Group totals: live threads' counters plus what dead ones left in signal_struct. */
static void test_group_totals(void **state)
{
	struct fake *f = *state;
	struct vmt_task t, th;
	uint64_t leader = task_new(f, &t, 300), thread = task_new(f, &th, 301);
	uint64_t sig = kalloc(f, off("signal_struct", NULL)), head;
	uint64_t cred = kalloc(f, off("cred", NULL)), gi = kalloc(f, 64);
	struct vmt_task_detail *d;

	head = sig + off("signal_struct", "thread_head");
	list_init(f, head);
	list_add_tail(f, head, leader + off("task_struct", "thread_node"));
	list_add_tail(f, head, thread + off("task_struct", "thread_node"));
	for (int i = 0; i < 2; i++) {
		uint64_t k = i ? thread : leader;

		put64(f, k + off("task_struct", "signal"), sig);
		put64(f, k + off("task_struct", "real_cred"), cred);
		put64(f, k + off("task_struct", "min_flt"), 10 + (uint64_t)i);
		put64(f, k + off("task_struct", "utime"), 1000000000);
		put64(f, k + off("task_struct", "se.sum_exec_runtime"), 1000000000);
	}
	put64(f, sig + off("signal_struct", "min_flt"), 100);
	put64(f, sig + off("signal_struct", "cmin_flt"), 7);
	put64(f, cred + off("cred", "group_info"), gi);
	put32(f, gi + off("group_info", "ngroups"), 2);
	put32(f, gi + off("group_info", "gid"), 10);
	put32(f, gi + off("group_info", "gid") + 4, 20);
	put64(f, cred + off("cred", "cap_effective"), 0x1ffffffffffull);
	t.utime_ns = 1000000000;
	d = detail(f, &t, VMT_DETAIL_STAT | VMT_DETAIL_GROUP);
	assert_int_equal(d->min_flt, 10);
	assert_int_equal(d->group_min_flt, 121);
	assert_int_equal(d->cmin_flt, 7);
	assert_int_equal(d->utime_ns, 1000000000);
	assert_int_equal(d->group_utime_ns, 2000000000);
	assert_int_equal(d->ngroups, 2);
	assert_int_equal(d->groups[1], 20);
	assert_int_equal(d->cap_effective, 0x1ffffffffffull);
	assert_int_equal(d->tty_pgrp, -1);
	assert_int_equal(d->has_mm, 0);
	vmt_task_detail_free(d);
	/* a thread list that loops back on a thread: bounded, partial */
	put64(f, thread + off("task_struct", "thread_node"),
	      leader + off("task_struct", "thread_node"));
	d = detail(f, &t, VMT_DETAIL_GROUP);
	assert_true(d->flags & VMT_F_PARTIAL);
	vmt_task_detail_free(d);
}

/* A task_struct that cannot be read: a detail flagged partial, never a crash. */
static void test_unreadable_task(void **state)
{
	struct fake *f = *state;
	struct vmt_task t = {.pid = 400, .kva = UNMAPPED_VA, .leader = UNMAPPED_VA};
	struct vmt_task_detail *d = detail(f, &t, ~0u);

	assert_true(d->flags & VMT_F_PARTIAL);
	assert_int_equal(d->nvmas, 0);
	assert_int_equal(d->nfds, 0);
	vmt_task_detail_free(d);
	t.kva = 0;
	d = detail(f, &t, ~0u);
	assert_true(d->flags & VMT_F_PARTIAL);
	vmt_task_detail_free(d);
}

/* saved_auxv ends at its AT_NULL pair; one without it ends at the array's end, flagged. */
static void test_auxv(void **state)
{
	struct fake *f = *state;
	struct vmt_task t;
	uint64_t mm = mm_new(f, task_new(f, &t, 500)), a = mm + off("mm_struct", "saved_auxv");
	uint32_t size = 0, o;
	struct vmt_task_detail *d;

	assert_int_equal(vmt_profile_field2(prof, "mm_struct", "saved_auxv", &o, &size), 0);
	put64(f, a, 6); /* AT_PAGESZ */
	put64(f, a + 8, 4096);
	d = detail(f, &t, VMT_DETAIL_AUXV); /* then AT_NULL, 0 */
	assert_int_equal(d->flags, 0);
	assert_int_equal(d->nauxv, 4);
	assert_int_equal(d->auxv[1], 4096);
	vmt_task_detail_free(d);
	for (uint32_t i = 0; i < size; i += 8)
		put64(f, a + i, 7);
	d = detail(f, &t, VMT_DETAIL_AUXV);
	assert_true(d->flags & VMT_F_TRUNCATED);
	assert_int_equal(d->nauxv, size / 16 * 2);
	vmt_task_detail_free(d);
}

/* status text: the CPU mask of 36 CPUs, groups, an escaped name, the umask, no mm lines. */
static void test_status_render(void **state)
{
	struct fake *f = *state;
	struct pfs_tree *tr = pfs_tree_new();
	struct pfs_ctx c = {.g = &f->g, .user_hz = 100};
	struct vmt_task t;
	uint64_t task = task_new(f, &t, 600), cred = kalloc(f, off("cred", NULL));
	uint64_t gi = kalloc(f, 64), fs = kalloc(f, off("fs_struct", NULL));
	uint64_t mask = task + off("task_struct", "cpus_mask");
	struct pfs_node *dir, *n;
	char *text;

	put32(f, sym("nr_cpu_ids"), 36);
	put64(f, mask, 0x80000010full); /* CPUs 0-3, 8, 35 */
	put64(f, task + off("task_struct", "real_cred"), cred);
	put64(f, cred + off("cred", "group_info"), gi);
	put32(f, gi + off("group_info", "ngroups"), 2);
	put32(f, gi + off("group_info", "gid"), 4);
	put32(f, gi + off("group_info", "gid") + 4, 27);
	put64(f, task + off("task_struct", "fs"), fs);
	put32(f, fs + off("fs_struct", "umask"), 022);
	strcpy(t.name, "a\\b\nc");
	dir = pfs_dir_new(tr, tr->root, "600", 0555, 0, 0);
	assert_int_equal(pfs_task_fill(tr, &c, &t, dir), 0);
	n = pfs_child(dir, "status");
	assert_non_null(n);
	text = n->data;
	assert_non_null(strstr(text, "Name:\ta\\\\b\\nc\nUmask:\t0022\nState:\tS (sleeping)\n"));
	assert_non_null(strstr(text, "\nGroups:\t4 27 \n"));
	assert_non_null(
	    strstr(text, "\nCpus_allowed:\t8,0000010f\nCpus_allowed_list:\t0-3,8,35\n"));
	assert_null(strstr(text, "VmRSS")); /* no mm: no memory lines */
	assert_non_null(strstr(text, "\nThreads:\t0\nSigQ:\t0/0\n"));
	n = pfs_child(dir, "statm");
	assert_non_null(n);
	assert_string_equal(n->data, "0 0 0 0 0 0 0\n");
	pfs_tree_free(tr);
}

/* An epoll instance's items in tree order, and a tree whose right pointer loops back. */
static void test_fd_epoll(void **state)
{
	struct fake *f = *state;
	struct vmt_task t;
	struct fs s;
	uint64_t task = task_new(f, &t, 210), *arr, cloexec, ep, epi[3], file;
	struct vmt_task_detail *d;

	fs_new(f, &s);
	files_new(f, task, 64, &arr, &cloexec);
	file = file_new(f, &s, dentry_new(f, s.root, "[eventpoll]"), 12);
	ep = kalloc(f, off("eventpoll", NULL));
	put64(f, file + off("file", "f_op"), sym("eventpoll_fops"));
	put64(f, file + off("file", "private_data"), ep);
	for (int i = 0; i < 3; i++) {
		epi[i] = kalloc(f, off("epitem", NULL));
		put32(f, epi[i] + off("epitem", "ffd.fd"), 10 + (uint32_t)i);
		put64(f, epi[i] + off("epitem", "ffd.file"), file);
		put32(f, epi[i] + off("epitem", "event.events"), 1);
		put64(f, epi[i] + off("epitem", "event.data"), 100 + (uint64_t)i);
	}
	/* root epi[1], its left epi[0], its right epi[2] */
	put64(f, ep + off("eventpoll", "rbr"), epi[1] + off("epitem", "rbn"));
	put64(f, epi[1] + off("epitem", "rbn") + off("rb_node", "rb_left"),
	      epi[0] + off("epitem", "rbn"));
	put64(f, epi[1] + off("epitem", "rbn") + off("rb_node", "rb_right"),
	      epi[2] + off("epitem", "rbn"));
	arr[4] = file;
	d = detail(f, &t, VMT_DETAIL_FILES);
	assert_int_equal(d->nfds, 1);
	assert_int_equal(d->fds[0].kind, VMT_FD_EPOLL);
	assert_int_equal(d->fds[0].flags, 0);
	assert_int_equal(d->fds[0].nitems, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(d->fds[0].items[i].fd, 10 + i);
		assert_int_equal(d->fds[0].items[i].data, 100 + (uint64_t)i);
		assert_int_equal(d->fds[0].items[i].ino, 12);
		assert_int_equal(d->fds[0].items[i].sdev, 2);
	}
	vmt_task_detail_free(d);
	put64(f, epi[2] + off("epitem", "rbn") + off("rb_node", "rb_right"),
	      epi[1] + off("epitem", "rbn"));
	d = detail(f, &t, VMT_DETAIL_FILES);
	assert_true(d->fds[0].flags & VMT_F_TRUNCATED);
	assert_int_equal(d->fds[0].nitems, VMT_MAX_EPOLL_ITEMS);
	vmt_task_detail_free(d);
}

/* A leader's task/TGID stat patched from /proc/TGID equals one rendered from scratch. */
static void test_leader_thread_stat(void **state)
{
	struct fake *f = *state;
	struct pfs_ctx c = {.g = &f->g, .user_hz = 100};
	struct pfs_tree *tr[2] = {pfs_tree_new(), pfs_tree_new()};
	struct vmt_task t;
	uint64_t task = task_new(f, &t, 800), sig = kalloc(f, off("signal_struct", NULL));
	struct pfs_node *proc, *tid[2], *st[2], *pst;

	list_init(f, sig + off("signal_struct", "thread_head"));
	list_add_tail(f, sig + off("signal_struct", "thread_head"),
		      task + off("task_struct", "thread_node"));
	put64(f, task + off("task_struct", "signal"), sig);
	put32(f, task + off("task_struct", "__state"), 1);
	put64(f, task + off("task_struct", "min_flt"), 11);
	put64(f, task + off("task_struct", "maj_flt"), 3);
	put64(f, task + off("task_struct", "gtime"), 70000000);
	put64(f, task + off("task_struct", "se.sum_exec_runtime"), 500000000);
	put64(f, sig + off("signal_struct", "min_flt"), 100);
	put64(f, sig + off("signal_struct", "maj_flt"), 9);
	put64(f, sig + off("signal_struct", "utime"), 2000000000);
	put64(f, sig + off("signal_struct", "sum_sched_runtime"), 2000000000);
	t.utime_ns = 300000000;
	t.stime_ns = 200000000;
	put64(f, task + off("task_struct", "utime"), t.utime_ns);
	put64(f, task + off("task_struct", "stime"), t.stime_ns);
	t.nthreads = 2; /* the process shows wchan 0, its threads 1 */
	for (int i = 0; i < 2; i++) {
		proc = pfs_dir_new(tr[i], tr[i]->root, "800", 0555, 0, 0);
		tid[i] = pfs_dir_new(tr[i], pfs_dir_new(tr[i], proc, "task", 0555, 0, 0), "800",
				     0555, 0, 0);
		if (i == 0) /* the process first: its thread directory is patched from it */
			assert_int_equal(pfs_task_fill(tr[i], &c, &t, proc), 0);
		assert_int_equal(pfs_task_fill(tr[i], &c, &t, tid[i]), 0);
		st[i] = pfs_child(tid[i], "stat");
		assert_non_null(st[i]);
	}
	pst = pfs_child(pfs_child(tr[0]->root, "800"), "stat");
	assert_memory_equal(pst->data, "800 (proc800) S 0 0 0 0 -1 0 111 0 12 0 230 ", 44);
	assert_memory_equal(st[0]->data, "800 (proc800) S 0 0 0 0 -1 0 11 0 3 0 30 20 ", 44);
	assert_int_equal(st[0]->len, st[1]->len);
	assert_memory_equal(st[0]->data, st[1]->data, st[0]->len);
	assert_non_null(pfs_child(tid[0], "status"));
	assert_non_null(pfs_child(tid[0], "maps"));
	pfs_tree_free(tr[0]);
	pfs_tree_free(tr[1]);
}

/*
 * Garbage everywhere: a region of random words, a third of them pointers
 * back into it (so that every walk follows garbage as far as it goes), and
 * tasks placed at random in it.  Every detail comes back (flagged), never a
 * crash or a hang; valgrind and the test's timeout watch the rest.
 */
static void test_random_garbage(void **state)
{
	struct fake *f = *state;
	const size_t words = (1u << 20) / 8;
	uint64_t base = kalloc_align(f, words * 8, 4096), seed = 0x9e3779b97f4a7c15ull;
	uint64_t *w = at(f, base, words * 8);

	for (int round = 0; round < 200; round++) {
		struct vmt_task t = {.pid = 700 + round};
		struct vmt_task_detail *d;

		for (size_t i = 0; i < words; i++) {
			seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
			w[i] = seed % 3 ? base + (seed >> 20) % (words * 8) : seed;
			if (seed % 7 == 0) /* small numbers too: lengths, levels, counts */
				w[i] = seed >> 58;
		}
		t.kva = base + (seed >> 24) % (words * 8 / 2);
		t.leader = w[(seed >> 30) % words];
		d = detail(f, &t, ~0u);
		assert_true(d->nvmas <= VMT_MAX_VMAS && d->nfds <= VMT_MAX_FDS);
		assert_true(d->pid_levels <= VMT_MAX_PID_LEVELS && d->nauxv <= VMT_MAX_AUXV);
		vmt_task_detail_free(d);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_maps_sane, fake_setup, teardown),
	    cmocka_unit_test_setup_teardown(test_maps_render, fake_setup, teardown),
	    cmocka_unit_test_setup_teardown(test_maps_cycle, fake_setup, teardown),
	    cmocka_unit_test_setup_teardown(test_maps_too_deep, fake_setup, teardown),
	    cmocka_unit_test_setup_teardown(test_maps_hostile_entries, fake_setup, teardown),
	    cmocka_unit_test_setup_teardown(test_maps_bad_nodes, fake_setup, teardown),
	    cmocka_unit_test_setup_teardown(test_maps_full_leaf, fake_setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fds, fake_setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fds_hostile, fake_setup, teardown),
	    cmocka_unit_test_setup_teardown(test_group_totals, fake_setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unreadable_task, fake_setup, teardown),
	    cmocka_unit_test_setup_teardown(test_auxv, fake_setup, teardown),
	    cmocka_unit_test_setup_teardown(test_status_render, fake_setup, teardown),
	    cmocka_unit_test_setup_teardown(test_leader_thread_stat, fake_setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fd_epoll, fake_setup, teardown),
	    cmocka_unit_test_setup_teardown(test_random_garbage, fake_setup, teardown),
	};
	int rc;

	if (!profile_load())
		return 77;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	profile_unload();
	return rc;
}
