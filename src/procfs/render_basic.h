/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* render_basic.h - the basic files of the shadow /proc and its /sys/module. */
#ifndef VMT_PROCFS_RENDER_BASIC_H
#define VMT_PROCFS_RENDER_BASIC_H

#include "procfs/procfs.h"

/*
 * Fill dir, the /proc/PID or /proc/PID/task/TID directory of task t, with
 * cmdline, environ and comm as the guest kernel shows them (a kernel
 * thread's cmdline and environ are empty).  Only -ENOMEM fails.
 */
int pfs_basic_task_fill(struct pfs_tree *tr, const struct pfs_ctx *c, const struct vmt_task *t,
			struct pfs_node *dir);

/*
 * Fill root, the shadow /proc, with uptime, version, modules and
 * net/{tcp,tcp6,udp,udp6,unix} of the guest's initial network namespace
 * (what its own /proc/net shows).  A file whose source list is missing
 * from c is left out.  Only -ENOMEM fails.
 */
int pfs_basic_system_fill(struct pfs_tree *tr, const struct pfs_ctx *c, struct pfs_node *root);

/* The text of each file, for the fill functions and the unit tests. */
void pfs_render_uptime(struct textbuf *b, uint64_t uptime_ns, uint64_t idle_ns);
void pfs_render_version(struct textbuf *b, const struct vmt_sysinfo *si, const char *banner);
void pfs_render_modules(struct textbuf *b, const struct vmt_module_list *l);
/* proto: VMT_SOCK_TCP, TCP6, UDP, UDP6 or UNIX; netns: 0 for every namespace. */
void pfs_render_net(struct textbuf *b, const struct vmt_socket_list *l, int proto, uint32_t netns);

/*
 * Fill dir (the shadow /sys/module) with what kmod's lsmod and modinfo read
 * of each loaded module: NAME/{refcnt,coresize,initsize,initstate,taint}
 * and NAME/holders/ (links to ../../USER).  Only -ENOMEM fails.
 */
int pfs_sysmodule_fill(struct pfs_tree *tr, const struct vmt_module_list *l, struct pfs_node *dir);

#endif
