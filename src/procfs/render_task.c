// SPDX-License-Identifier: LGPL-2.1-or-later
/* render_task.c - the per-process files of the shadow /proc (being written). */
#include "procfs/render_task.h"

int pfs_task_fill(struct pfs_tree *tr, const struct pfs_ctx *c, const struct vmt_task *t,
		  struct pfs_node *dir)
{
	(void)tr;
	(void)c;
	(void)t;
	(void)dir;
	return 0;
}
