/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * netif.h - the network-interface ioctls (SIOCGIF*) answered from the
 * guest's net devices (struct vmt_netdev_list, read once with the
 * snapshot), for ifconfig and chkrootkit's ifpromisc under `vmt exec`.
 *
 * Contract between the supervisor (supervisor.c: receives the call, owns
 * the tool's memory access) and the answers (netif.c).
 */
#ifndef VMT_SYSCALLS_NETIF_H
#define VMT_SYSCALLS_NETIF_H

#include <stdbool.h>
#include <stdint.h>

#include "vmemtrans.h"

/* The calling process's memory (the supervisor reads and writes it for the answer). */
struct sc_mem {
	pid_t pid;
	/* Whole range or a negative errno (-EFAULT: not mapped in the caller). */
	int (*read)(const struct sc_mem *m, uint64_t addr, void *buf, size_t len);
	int (*write)(const struct sc_mem *m, uint64_t addr, const void *buf, size_t len);
};

/* Whether cmd is an interface ioctl this module answers (the filter traps exactly these). */
bool sc_netif_handles(unsigned long cmd);

/*
 * Answer ioctl(fd, cmd, argp) from devs: 0 (the call's return value is 0)
 * or a negative errno the caller gets (-ENODEV: no such interface, as
 * Linux says; -EFAULT: argp unreadable).  SIOCGIFCONF fills the caller's
 * struct ifconf with the IPv4-addressed interfaces, as Linux does.
 */
int sc_netif_ioctl(const struct vmt_netdev_list *devs, unsigned long cmd, uint64_t argp,
		   const struct sc_mem *m);

#endif
