/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* render_netif.h - the shadow /proc's files of the guest's interface addresses. */
#ifndef VMT_PROCFS_RENDER_NETIF_H
#define VMT_PROCFS_RENDER_NETIF_H

#include "procfs/procfs.h"

/* if6_seq_show() of net/ipv6/addrconf.c: every IPv6 address in the kernel's hash order. */
void pfs_render_if_inet6(struct textbuf *b, const struct vmt_netdev_list *l);

/*
 * Add net/if_inet6 under net (only when some device has IPv6, as a kernel
 * without IPv6 has no such file).  0 or -ENOMEM.
 */
int pfs_netif_files(struct pfs_tree *tr, struct pfs_node *net, const struct vmt_netdev_list *l);

#endif
