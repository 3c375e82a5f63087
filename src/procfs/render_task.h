/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* render_task.h - the per-process files of the shadow /proc. */
#ifndef VMT_PROCFS_RENDER_TASK_H
#define VMT_PROCFS_RENDER_TASK_H

#include "procfs/procfs.h"

/*
 * Fill dir, the /proc/PID (or /proc/PID/task/TID) directory of task t, with
 * what the guest kernel shows there beyond the basics (render_basic.c:
 * cmdline, environ, comm): stat, status, statm, auxv, maps, fd/, fdinfo/,
 * cwd, root, exe, ns/.  An entry the guest's memory cannot give is left out
 * (and logged); only -ENOMEM fails the fill.
 *
 * A directory whose parent is named "task" is a thread's (stat shows its
 * own counters, not the group's); if its process's directory (the
 * grandparent) was filled already, the files of the shared mm, fd table,
 * fs and namespaces are copied from there instead of read again.  Reads
 * through c->g: call within the listing that produced t.
 */
int pfs_task_fill(struct pfs_tree *tr, const struct pfs_ctx *c, const struct vmt_task *t,
		  struct pfs_node *dir);

#endif
