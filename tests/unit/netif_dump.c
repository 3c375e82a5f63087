// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * netif_dump - a guest's net devices as the walker reads them (vmt_netdevs),
 * one JSON object per line, and the answers netif.c gives ifconfig for them,
 * for tests/system/test_netif.py:
 *
 *   netif_dump MEMFILE VMLINUZ RAM_BYTES
 *
 * Exit 0, or 1 if the guest cannot be opened or the devices not read.
 */
#include <stdio.h>
#include <stdlib.h>

#include "vmemtrans.h"

static void hex(const uint8_t *p, size_t n, char sep)
{
	for (size_t i = 0; i < n; i++) {
		if (i && sep)
			putchar(sep);
		printf("%02x", p[i]);
	}
}

static void ip4(const struct vmt_netdev_ip4 *a)
{
	printf("{\"local\":\"%u.%u.%u.%u\",\"address\":\"%u.%u.%u.%u\",\"mask\":\"%u.%u.%u.%u\","
	       "\"broadcast\":\"%u.%u.%u.%u\",\"prefixlen\":%u,\"scope\":%u,\"flags\":%u,"
	       "\"label\":\"%s\"}",
	       a->local[0], a->local[1], a->local[2], a->local[3], a->address[0], a->address[1],
	       a->address[2], a->address[3], a->mask[0], a->mask[1], a->mask[2], a->mask[3],
	       a->broadcast[0], a->broadcast[1], a->broadcast[2], a->broadcast[3], a->prefixlen,
	       a->scope, a->ifa_flags, a->label);
}

static void ip6(const struct vmt_netdev_ip6 *a)
{
	printf("{\"addr\":\"");
	hex(a->addr, 16, 0);
	printf("\",\"prefixlen\":%u,\"scope\":%u,\"flags\":%u,\"hash_pos\":%u}", a->prefixlen,
	       a->scope, a->ifa_flags, a->hash_pos);
}

static void dev(const struct vmt_netdev *d)
{
	printf("{\"name\":\"%s\",\"ifindex\":%d,\"if_flags\":%u,\"mtu\":%u,\"txqlen\":%u,"
	       "\"type\":%u,\"operstate\":%u,\"partial\":%s,\"hwaddr\":\"",
	       d->name, d->ifindex, d->if_flags, d->mtu, d->tx_queue_len, d->type, d->operstate,
	       d->flags & VMT_F_PARTIAL ? "true" : "false");
	hex(d->hwaddr, d->addr_len, ':');
	printf("\",\"broadcast\":\"");
	hex(d->broadcast, d->addr_len, ':');
	printf("\",\"irq\":%d,\"base_addr\":%llu,\"ip4\":[", d->map.irq,
	       (unsigned long long)d->map.base_addr);
	for (size_t i = 0; i < d->n_ip4; i++) {
		printf(i ? "," : "");
		ip4(&d->ip4[i]);
	}
	printf("],\"ip6\":[");
	for (size_t i = 0; i < d->n_ip6; i++) {
		printf(i ? "," : "");
		ip6(&d->ip6[i]);
	}
	printf("]}\n");
}

int main(int argc, char **argv)
{
	struct vmt_guest_opts o = {.sz = sizeof(o)};
	struct vmt_netdev_list *l;
	struct vmt_guest *g;

	if (argc != 4) {
		fprintf(stderr, "usage: %s MEMFILE VMLINUZ RAM_BYTES\n", argv[0]);
		return 2;
	}
	o.mem_path = argv[1];
	o.kernel_path = argv[2];
	o.ram_size = strtoull(argv[3], NULL, 0);
	g = vmt_guest_open(&o);
	if (!g || vmt_netdevs(g, &l)) {
		fprintf(stderr, "netif_dump: %s\n", vmt_last_error());
		vmt_guest_close(g);
		return 1;
	}
	for (size_t i = 0; i < l->n; i++)
		dev(&l->devs[i]);
	fprintf(stderr, "netif_dump: %zu devices%s\n", l->n,
		l->flags & VMT_F_PARTIAL ? " (partial)" : "");
	vmt_netdev_list_free(l);
	vmt_guest_close(g);
	return 0;
}
