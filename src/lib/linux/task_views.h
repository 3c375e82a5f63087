/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * task_views.h - the task views (task_views.c) and what they borrow from
 * the task walker (tasks.c).
 */
#ifndef VMT_LINUX_TASK_VIEWS_H
#define VMT_LINUX_TASK_VIEWS_H

#include <stddef.h>
#include <stdint.h>

#include "vmemtrans.h"

struct vmt_guest;

/* vmt_tasks() with VMT_TASK_VIEWS: every view, the union, each task's seen_by. */
int vmt_task_views(struct vmt_guest *g, unsigned what, struct vmt_task_list **out);

/*
 * tasks.c: the task_structs at kvas[0..n) read as vmt_tasks() reads a
 * task (what: CMDLINE, ENVIRON, EXE), one entry each, sorted by pid.  The
 * list is the caller's (vmt_task_list_free).
 */
int vmt_tasks_read_at(struct vmt_guest *g, unsigned what, const uint64_t *kvas, size_t n,
		      struct vmt_task_list **out);

#endif
