/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* render_task.h - the per-process files of the shadow /proc. */
#ifndef VMT_PROCFS_RENDER_TASK_H
#define VMT_PROCFS_RENDER_TASK_H

#include "procfs/procfs.h"

/*
 * Fill dir, the /proc/PID (or /proc/PID/task/TID) directory of task t, with
 * what the guest kernel shows there beyond the basics (render_basic.c:
 * cmdline, environ, comm): stat, status, statm, maps, fd/, fdinfo/, cwd,
 * root, exe, ns/.  An entry the guest's memory cannot give is left out
 * (and logged); only -ENOMEM fails the fill.
 */
int pfs_task_fill(struct pfs_tree *tr, const struct pfs_ctx *c, const struct vmt_task *t,
		  struct pfs_node *dir);

#endif
