// SPDX-License-Identifier: LGPL-2.1-or-later
/* render_system.c - the system-wide files of the shadow /proc (being written). */
#include "procfs/render_system.h"

int pfs_system_fill(struct pfs_tree *tr, const struct pfs_ctx *c, struct pfs_node *root)
{
	(void)tr;
	(void)c;
	(void)root;
	return 0;
}
