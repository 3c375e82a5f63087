/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pids.h - the tasks the initial pid namespace's index (init_pid_ns.idr) knows. */
#ifndef VMT_LINUX_PIDS_H
#define VMT_LINUX_PIDS_H

#include <stddef.h>
#include <stdint.h>

struct vmt_guest;

/*
 * The task_struct address of every pid in init_pid_ns's index, in pid
 * order, read one tree level per batch, and (nrs not NULL) each one's pid
 * number.  *tasks and *nrs are the caller's to free.  Unreadable nodes and
 * pids are skipped (the result may miss tasks); an index that is too big
 * or misshapen is -EBADMSG.
 */
int vmt_pid_tasks(struct vmt_guest *g, uint64_t **tasks, int32_t **nrs, size_t *n);

#endif
