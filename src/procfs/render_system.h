/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* render_system.h - the system-wide files of the shadow /proc. */
#ifndef VMT_PROCFS_RENDER_SYSTEM_H
#define VMT_PROCFS_RENDER_SYSTEM_H

#include "procfs/procfs.h"

/*
 * Fill root, the shadow /proc, with the system-wide files beyond the basics
 * (render_basic.c: uptime, version, modules, net/{tcp,tcp6,udp,udp6,unix}):
 * stat, loadavg, meminfo, cpuinfo, cmdline, mounts, filesystems, locks,
 * tty/drivers, sys/kernel/{pid_max,osrelease,ngroups_max},
 * net/{raw,raw6,packet,netlink,sockstat,dev}.  A file the guest's memory
 * cannot give is left out (and logged); only -ENOMEM fails the fill.
 */
int pfs_system_fill(struct pfs_tree *tr, const struct pfs_ctx *c, struct pfs_node *root);

#endif
