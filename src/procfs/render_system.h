/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* render_system.h - the system-wide files of the shadow /proc. */
#ifndef VMT_PROCFS_RENDER_SYSTEM_H
#define VMT_PROCFS_RENDER_SYSTEM_H

#include "procfs/procfs.h"

/*
 * Fill root, the shadow /proc, with the system-wide files beyond the basics
 * (render_basic.c: uptime, version, modules, net/{tcp,tcp6,udp,udp6,unix}):
 * stat, softirqs, interrupts, loadavg, meminfo, vmstat, cpuinfo, cmdline, mounts, filesystems,
 * locks, tty/drivers, sys/kernel/{pid_max,osrelease,ngroups_max},
 * net/{raw,raw6,packet,netlink,sockstat,sockstat6,dev,if_inet6,snmp,netstat}.  A file the guest's
 * memory cannot give is left out (and logged); only -ENOMEM fails the fill.
 */
int pfs_system_fill(struct pfs_tree *tr, const struct pfs_ctx *c, struct pfs_node *root);

/* The text of single files (appended to b), for the tests. */
void pfs_render_stat(struct textbuf *b, const struct pfs_ctx *c, const struct vmt_cpu_stat *s);
void pfs_render_softirqs(struct textbuf *b, const struct vmt_cpu_stat *s);
void pfs_render_interrupts(struct textbuf *b, const struct vmt_interrupts *v);
void pfs_render_loadavg(struct textbuf *b, const struct vmt_loadavg *l);
void pfs_render_meminfo(struct textbuf *b, const struct vmt_meminfo *m);
void pfs_render_vmstat(struct textbuf *b, const struct vmt_vmstat *v);
void pfs_render_tty_drivers(struct textbuf *b, const struct vmt_tty_driver_list *l);
void pfs_render_filesystems(struct textbuf *b, const struct vmt_fs_type_list *l);
/* proto: VMT_SOCK_RAW, RAW6, PACKET or NETLINK; the initial net namespace's sockets. */
void pfs_render_net_more(struct textbuf *b, const struct vmt_sock_more_list *l, int proto);
void pfs_render_sockstat(struct textbuf *b, struct textbuf *b6, const struct vmt_sockstat *s);
void pfs_render_net_dev(struct textbuf *b, const struct vmt_netdev_list *l);
/* file 0: net/snmp, 1: net/netstat */
void pfs_render_snmp(struct textbuf *b, const struct vmt_snmp *s, int file);
void pfs_render_cpuinfo(struct textbuf *b, const struct vmt_cpuinfo_list *l);
void pfs_render_locks(struct textbuf *b, const struct vmt_file_lock_list *l);
void pfs_render_mounts(struct textbuf *b, const struct vmt_mount_list *l);
/* /proc/PID/mountinfo of a task in the initial mount namespace (for render_task.c). */
void pfs_render_mountinfo(struct textbuf *b, const struct vmt_mount_list *l);

#endif
