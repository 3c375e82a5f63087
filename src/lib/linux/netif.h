/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * netif.h - a net device's state and addresses (netif.c), for the device
 * walk of system_net.c.
 */
#ifndef VMT_LINUX_NETIF_H
#define VMT_LINUX_NETIF_H

#include "guest/guest_internal.h"

/* An offset and the width of the field there. */
struct netif_field {
	uint32_t off, size;
};

struct netif_offsets {
	/* net_device */
	struct netif_field flags, gflags, state, operstate, mtu, type, addr_len, dev_addr;
	struct netif_field broadcast, tx_queue_len, mem_start, mem_end, base_addr, irq, dma;
	struct netif_field if_port, ip_ptr, ip6_ptr;
	/* in_device, in_ifaddr */
	struct netif_field ifa_list, ifa_next, ifa_local, ifa_address, ifa_mask, ifa_broadcast;
	struct netif_field ifa_scope, ifa_prefixlen, ifa_flags, ifa_label;
	/* inet6_dev, inet6_ifaddr, net */
	struct netif_field addr_list, i6_addr, i6_prefix_len, i6_scope, i6_flags, i6_if_list;
	struct netif_field i6_addr_lst, net_addr_lst;
	int64_t bit_start, bit_nocarrier, bit_dormant; /* netdev_state_t */
	bool have_dev, have_v4, have_v6, have_hash;
};

/*
 * Resolve from BTF.  Whatever a kernel lacks only costs what needs it
 * (have_*): its devices come out flagged VMT_F_PARTIAL, /proc/net/dev's
 * counters still come.
 */
void netif_offsets_resolve(struct vmt_guest *g, struct netif_offsets *o);

/*
 * Fill d's state and address fields from the net_device at dev.  A broken
 * address list keeps what came before the break and flags d VMT_F_PARTIAL.
 * 0, or -ENOMEM.
 */
int netif_dev_read(struct vmt_guest *g, const struct netif_offsets *o, uint64_t dev,
		   struct vmt_netdev *d);

/* Each IPv6 address's place in net's address hash (hash_pos); a broken table flags l. */
void netif_hash_order(struct vmt_guest *g, const struct netif_offsets *o, uint64_t net,
		      struct vmt_netdev_list *l);

#endif
