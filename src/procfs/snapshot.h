/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * snapshot.h - one shadow /proc built from one walk of the guest.
 *
 * pfs_snapshot_build() reads the guest once (system info, every task and
 * thread, sockets, modules) and builds a sealed tree: /proc/PID for each
 * process and /proc/PID/task/TID for each of its threads, owned by the
 * task's euid/egid, filled by render_basic.c and render_task.c; the
 * system-wide files by render_basic.c and render_system.c.  With lazy, the
 * pid directories are made but left empty until pfs_snapshot_fill() is
 * called for one of them (the first lookup under it): the walk of user
 * memory (cmdline, environ, exe) then runs once for every task, and the
 * per-process files are rendered for that directory only.
 *
 * Not thread-safe: the caller serialises every call that takes the guest
 * (build, fill) and keeps the guest open while the snapshot lives.
 */
#ifndef VMT_PROCFS_SNAPSHOT_H
#define VMT_PROCFS_SNAPSHOT_H

#include "procfs/procfs.h"

struct pfs_snap_opts {
	bool lazy;
	/*
	 * The root holds "proc" and "module" (the shadow /sys/module), for
	 * `vmt exec` to bind each where it belongs; else the root is /proc.
	 */
	bool with_sysmodule;
};

struct pfs_lazy_dir;

struct pfs_snapshot {
	struct pfs_tree *tree;
	struct pfs_node *procdir; /* the /proc directory: the root, or root/proc */
	struct pfs_node *sysmod;  /* the /sys/module directory, or NULL */
	struct pfs_ctx ctx;
	struct vmt_sysinfo si;
	struct vmt_task_list *tasks; /* basic (lazy) or full list */
	struct vmt_task_list *full;  /* lazy: the full list, once read */
	struct vmt_socket_list *socks;
	struct vmt_module_list *mods;
	/* The guest's interfaces for the SIOCGIF* answers (syscalls/netif.c); NULL: unreadable */
	struct vmt_netdev_list *netdevs;
	struct pfs_lazy_dir *lazy; /* sorted by node address */
	size_t nlazy;
	/* --stats: wall time of the build and guest pages it read */
	double build_ms;
	double cpu_ms; /* CPU time of the build (a loaded machine stretches build_ms) */
	double walk_ms, tasks_ms, system_ms; /* lists read; per-process files; the rest */
	uint64_t pages_read;
	size_t nprocs, nthreads;
	size_t nhidden;	  /* processes off the task list, found by the pid index (unlisted) */
	uint32_t partial; /* VMT_F_PARTIAL: some list broke or was missing */
};

/* Build; 0 and *out, or a negative errno (the task list could not be read at all). */
int pfs_snapshot_build(struct vmt_guest *g, const struct pfs_snap_opts *o,
		       struct pfs_snapshot **out);
void pfs_snapshot_free(struct pfs_snapshot *s);

/* The node with this ino, or NULL. */
struct pfs_node *pfs_snapshot_node(const struct pfs_snapshot *s, uint64_t ino);

/*
 * /proc/TID of a thread that does not lead its group: Linux answers the
 * lookup (never lists it) with the thread's directory, here
 * /proc/TGID/task/TID.  NULL if name is no such thread.
 */
struct pfs_node *pfs_snapshot_thread(const struct pfs_snapshot *s, const char *name);

/*
 * What a lookup of name in /proc finds (fuse.c answers exactly this; the
 * system-call supervisor asks it whether a pid exists): a listed entry,
 * else a thread's directory (*alias set true), else NULL.
 */
struct pfs_node *pfs_snapshot_lookup(const struct pfs_snapshot *s, const char *name, bool *alias);

/*
 * Lazy: fill dir if it is a pid directory not filled yet (else nothing).
 * 0, or a negative errno (-EIO: the guest could not be read).
 */
int pfs_snapshot_fill(struct pfs_snapshot *s, struct pfs_node *dir);

#endif
