/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * procfs.h - the shadow /proc: a tree of directories, files and symbolic
 * links built from a guest's memory through libvmemtrans, then served by
 * FUSE (fuse.c) to unmodified tools.
 *
 * Building is separate from serving: a snapshot (snapshot.c) walks the
 * guest once and fills a tree; the fill functions of each area (per
 * process: render_task.c; system-wide: render_system.c; the basics:
 * render_basic.c) only add nodes to a directory they are given.  File
 * contents are the exact text the guest kernel's /proc would show.
 *
 * Ownership: a tree owns every node and every byte in it; names, data and
 * link targets given to pfs_* are copied.  Not thread-safe while being
 * built; read-only (any number of readers) once built.
 */
#ifndef VMT_PROCFS_H
#define VMT_PROCFS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "vmemtrans.h"

/* ------------------------------------------------------------ text */

/* A growable text buffer for one file's contents. */
struct textbuf {
	char *p;
	size_t len, cap;
	int err; /* first allocation failure (-ENOMEM); later appends do nothing */
};

void tb_init(struct textbuf *b);
void tb_free(struct textbuf *b);
void tb_put_slow(struct textbuf *b, const void *data, size_t len);

/*
 * Append len bytes (kept NUL-terminated).  Inline for the short pieces
 * renderers add field by field; the rest (and growth) out of line.
 */
static inline void tb_put(struct textbuf *b, const void *data, size_t len)
{
	if (len > 64 || b->err || len >= b->cap - b->len) {
		tb_put_slow(b, data, len);
		return;
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
}
void tb_printf(struct textbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tb_vprintf(struct textbuf *b, const char *fmt, va_list ap);

/* ------------------------------------------------------------ tree */

enum pfs_type {
	PFS_DIR = 1,
	PFS_FILE,
	PFS_LINK,
};

struct pfs_node {
	char *name;
	uint64_t key; /* the name's first 8 bytes, big-endian: most comparisons end here (tree.c) */
	enum pfs_type type;
	mode_t mode; /* permission bits only (0555 dirs, 0444 files, 0777 links, as /proc) */
	uid_t uid;
	gid_t gid;
	uint64_t ino; /* unique in the tree, assigned at creation */
	/* PFS_FILE: contents; PFS_LINK: target (NUL-terminated, len without the NUL) */
	char *data;
	size_t len;
	/* PFS_DIR: children, in insertion order until pfs_seal() sorts them by name */
	struct pfs_node **kids;
	size_t nkids, capkids;
	bool sorted;
	struct pfs_node *parent;
	/*
	 * Answered by a lookup, never listed: what a /proc/PID/fd/N link names
	 * ("socket:[INO]", resolved by the kernel in the link's directory) and a
	 * task only the pid index finds.
	 */
	bool hidden;
	/* A link's target (pfs_target): the S_IFMT and st_ino stat reports */
	bool fmt_set;
	mode_t fmt;
	uint64_t st_ino;
};

struct pfs_arena;

struct pfs_tree {
	struct pfs_node *root;	 /* "/" of the mount */
	struct pfs_arena *arena; /* every node, name, content and child array (tree.c) */
	uint64_t next_ino;
	struct pfs_node **byino; /* every node made, by ino (next_ino of them; 0 unused) */
	size_t capino;
	size_t nodes, bytes;	/* for --stats */
	struct textbuf scratch; /* a file's text is rendered here, then copied (pfs_tb_take) */
};

/*
 * The tree's scratch text buffer, empty (pfs_tb_take), and back when its
 * text was copied into the tree (pfs_tb_give): a snapshot renders some
 * 20,000 files, and a malloc, realloc and free for each cost more than
 * the text.  A take while one is out gets a new buffer; give keeps the
 * larger and frees the other.
 */
void pfs_tb_take(struct pfs_tree *t, struct textbuf *b);
void pfs_tb_give(struct pfs_tree *t, struct textbuf *b);

/* v in decimal into buf (at least 21 bytes, NUL-terminated); its length. */
static inline size_t pfs_fmt_u64(char *buf, uint64_t v, bool neg)
{
	char tmp[24];
	size_t i = sizeof(tmp), n;

	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (neg)
		tmp[--i] = '-';
	n = sizeof(tmp) - i;
	memcpy(buf, tmp + i, n);
	buf[n] = '\0';
	return n;
}

static inline size_t pfs_fmt_int(char *buf, int64_t v)
{
	return pfs_fmt_u64(buf, v < 0 ? -(uint64_t)v : (uint64_t)v, v < 0);
}

/* An empty tree whose root is a 0555 directory owned by root. NULL on ENOMEM. */
struct pfs_tree *pfs_tree_new(void);
void pfs_tree_free(struct pfs_tree *t);

/*
 * Add a child to dir.  A name that already exists in dir is -EEXIST (for
 * pfs_dir: the existing directory is returned instead, so that two fill
 * functions may both add to e.g. "net").  Names must be non-empty, without
 * '/', not "." or "..".  Return NULL / negative errno on failure.
 */
struct pfs_node *pfs_dir(struct pfs_tree *t, struct pfs_node *dir, const char *name, mode_t mode,
			 uid_t uid, gid_t gid);
/* A new directory whose name the caller knows is not in dir yet (no scan: pid dirs). */
struct pfs_node *pfs_dir_new(struct pfs_tree *t, struct pfs_node *dir, const char *name,
			     mode_t mode, uid_t uid, gid_t gid);
int pfs_file(struct pfs_tree *t, struct pfs_node *dir, const char *name, mode_t mode,
	     const void *data, size_t len);
/* A file from a textbuf (its error, if any, is returned and nothing is added). */
int pfs_file_tb(struct pfs_tree *t, struct pfs_node *dir, const char *name, mode_t mode,
		const struct textbuf *b);
int pfs_link(struct pfs_tree *t, struct pfs_node *dir, const char *name, const char *target);

/*
 * A hidden node named as a link's relative target ("socket:[INO]"), for a
 * stat that follows the link: stat reports fmt (S_IFSOCK, S_IFIFO, ...; 0
 * is kept as given) with perm's bits and ino as st_ino, as Linux's stat
 * of the object.  A name that is already in dir is 0 (one node serves
 * every fd of one object).
 */
int pfs_target(struct pfs_tree *t, struct pfs_node *dir, const char *name, mode_t fmt, mode_t perm,
	       uint64_t ino);

/*
 * A file or link in dir like src (a node of the same tree): its name, mode,
 * owner and stat fields, and the same contents, shared, not copied (a
 * thread's directory shows its process's maps, fds and links).  NULL and
 * errno (EEXIST: the name is in dir already).
 */
struct pfs_node *pfs_alias(struct pfs_tree *t, struct pfs_node *dir, const struct pfs_node *src);

/* Set owner of a node (e.g. /proc/PID and its files: the task's euid/egid). */
void pfs_chown(struct pfs_node *n, uid_t uid, gid_t gid);

/* The node with this ino (any node the tree made), or NULL. */
struct pfs_node *pfs_tree_node(const struct pfs_tree *t, uint64_t ino);

/* Sort every directory by name (after building; lookups then bisect). */
void pfs_seal(struct pfs_tree *t);

/* Child of dir by name, NULL if none.  Path lookup: "a/b/c" from dir. */
struct pfs_node *pfs_child(const struct pfs_node *dir, const char *name);
struct pfs_node *pfs_walk(const struct pfs_node *dir, const char *path);

/* ------------------------------------------------------------ fill */

/*
 * What one snapshot read from the guest, shared by every fill function so
 * that nothing is walked twice.  Borrowed: owned by snapshot.c.
 */
struct pfs_ctx {
	struct vmt_guest *g;
	const struct vmt_sysinfo *si;
	const struct vmt_task_list *tasks; /* leaders and threads (VMT_TASK_THREADS) */
	const struct vmt_socket_list *socks;
	const struct vmt_module_list *mods;
	/* the snapshot's net devices; NULL: /proc/net/dev reads its own */
	const struct vmt_netdev_list *netdevs;
	unsigned user_hz; /* USER_HZ of the guest's /proc (100 on x86) */
	uint64_t idle_ns; /* all CPUs' idle time, /proc/uptime's second figure (0: unknown) */
};

#endif
