// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * render_netif.c - /proc/net/if_inet6, which net-tools' ifconfig reads for
 * every interface's IPv6 addresses (it has no ioctl for them).  Linux walks
 * net->ipv6.inet6_addr_lst bucket by bucket, so the lines follow the
 * address hash, not the devices: the walker recorded each address's place
 * there (hash_pos); addresses it could not place come last, in device order.
 */
#include <errno.h>
#include <stdlib.h>

#include "procfs/render_netif.h"

struct if6_ref {
	const struct vmt_netdev *d;
	const struct vmt_netdev_ip6 *a;
	size_t seq; /* device-order position, for a stable sort */
};

static int if6_cmp(const void *x, const void *y)
{
	const struct if6_ref *a = x, *b = y;

	if (a->a->hash_pos != b->a->hash_pos)
		return a->a->hash_pos < b->a->hash_pos ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void if6_line(struct textbuf *b, const struct if6_ref *r)
{
	tb_printf(b, "%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x",
		  r->a->addr[0], r->a->addr[1], r->a->addr[2], r->a->addr[3], r->a->addr[4],
		  r->a->addr[5], r->a->addr[6], r->a->addr[7], r->a->addr[8], r->a->addr[9],
		  r->a->addr[10], r->a->addr[11], r->a->addr[12], r->a->addr[13], r->a->addr[14],
		  r->a->addr[15]);
	/* the kernel's %02x of an int ifindex and a u16 scope, (u8) of the flags */
	tb_printf(b, " %02x %02x %02x %02x %8s\n", (unsigned)r->d->ifindex, r->a->prefixlen,
		  r->a->scope, r->a->ifa_flags & 0xffu, r->d->name);
}

void pfs_render_if_inet6(struct textbuf *b, const struct vmt_netdev_list *l)
{
	struct if6_ref *refs;
	size_t n = 0;

	for (size_t i = 0; i < l->n; i++)
		n += l->devs[i].n_ip6;
	refs = n ? calloc(n, sizeof(*refs)) : NULL;
	if (!refs) {
		if (n)
			b->err = -ENOMEM;
		return;
	}
	n = 0;
	for (size_t i = 0; i < l->n; i++)
		for (size_t k = 0; k < l->devs[i].n_ip6; k++, n++)
			refs[n] = (struct if6_ref){&l->devs[i], &l->devs[i].ip6[k], n};
	qsort(refs, n, sizeof(*refs), if6_cmp);
	for (size_t i = 0; i < n; i++)
		if6_line(b, &refs[i]);
	free(refs);
}

int pfs_netif_files(struct pfs_tree *tr, struct pfs_node *net, const struct vmt_netdev_list *l)
{
	struct textbuf b;
	bool v6 = false;
	int err;

	for (size_t i = 0; i < l->n; i++)
		v6 |= l->devs[i].n_ip6 > 0;
	if (!v6)
		return 0;
	tb_init(&b);
	pfs_render_if_inet6(&b, l);
	err = b.err ? b.err : pfs_file_tb(tr, net, "if_inet6", 0444, &b);
	tb_free(&b);
	return err == -EEXIST ? 0 : err;
}
