// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * netif.c - what ifconfig and `ip link` show of a net device, as Linux 6.1
 * keeps it:
 *
 *   flags     dev_get_flags(): dev->flags without PROMISC, ALLMULTI,
 *             RUNNING, LOWER_UP and DORMANT, plus gflags' PROMISC and
 *             ALLMULTI (what the user asked for, not the promiscuity count
 *             a sniffer adds), and while __LINK_STATE_START: RUNNING if
 *             operstate is UP or UNKNOWN, LOWER_UP without
 *             __LINK_STATE_NOCARRIER, DORMANT with __LINK_STATE_DORMANT
 *   hwaddr    dev->dev_addr (a pointer since 5.17) for addr_len bytes
 *   IPv4      dev->ip_ptr (in_device) ->ifa_list, chained by ifa_next
 *   IPv6      dev->ip6_ptr (inet6_dev) ->addr_list through if_list; the
 *             order of /proc/net/if_inet6 is net->ipv6.inet6_addr_lst,
 *             256 hlist buckets through addr_lst
 *
 * Every chain is bounded and cycle-checked; a broken one costs that
 * device's remaining addresses (VMT_F_PARTIAL), never the walk.
 */
#include <linux/if.h>
#include <stdlib.h>
#include <string.h>

#include "linux/netif.h"

#define NETIF_MAX_ADDRS	   4096 /* per device and family */
#define NETIF_IN6_HSIZE	   256	/* IN6_ADDR_HSIZE */
#define NETIF_IF_OPER_UNKN 0	/* IF_OPER_UNKNOWN */
#define NETIF_IF_OPER_UP   6	/* IF_OPER_UP */

struct field_req {
	const char *type, *field;
	struct netif_field *out;
};

static int resolve(struct vmt_guest *g, const struct field_req *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int err = vmt_profile_field2(g->prof, r[i].type, r[i].field, &r[i].out->off,
					     &r[i].out->size);

		if (err)
			return err;
	}
	return 0;
}

static int resolve_dev(struct vmt_guest *g, struct netif_offsets *o)
{
	/* clang-format off */
	const struct field_req req[] = {
		{"net_device", "flags", &o->flags}, {"net_device", "gflags", &o->gflags},
		{"net_device", "state", &o->state}, {"net_device", "operstate", &o->operstate},
		{"net_device", "mtu", &o->mtu}, {"net_device", "type", &o->type},
		{"net_device", "addr_len", &o->addr_len}, {"net_device", "dev_addr", &o->dev_addr},
		{"net_device", "broadcast", &o->broadcast},
		{"net_device", "tx_queue_len", &o->tx_queue_len},
		{"net_device", "mem_start", &o->mem_start}, {"net_device", "mem_end", &o->mem_end},
		{"net_device", "base_addr", &o->base_addr}, {"net_device", "irq", &o->irq},
		{"net_device", "dma", &o->dma}, {"net_device", "if_port", &o->if_port},
	};
	/* clang-format on */
	int err = resolve(g, req, ARRAY_SIZE(req));

	if (!err)
		err = vmt_profile_enum(g->prof, "netdev_state_t", "__LINK_STATE_START",
				       &o->bit_start);
	if (!err)
		err = vmt_profile_enum(g->prof, "netdev_state_t", "__LINK_STATE_NOCARRIER",
				       &o->bit_nocarrier);
	if (!err)
		err = vmt_profile_enum(g->prof, "netdev_state_t", "__LINK_STATE_DORMANT",
				       &o->bit_dormant);
	if (!err && (o->bit_start < 0 || o->bit_start > 63 || o->bit_nocarrier < 0 ||
		     o->bit_nocarrier > 63 || o->bit_dormant < 0 || o->bit_dormant > 63))
		err = -ENOEXEC;
	return err;
}

void netif_offsets_resolve(struct vmt_guest *g, struct netif_offsets *o)
{
	/* clang-format off */
	const struct field_req v4[] = {
		{"net_device", "ip_ptr", &o->ip_ptr}, {"in_device", "ifa_list", &o->ifa_list},
		{"in_ifaddr", "ifa_next", &o->ifa_next}, {"in_ifaddr", "ifa_local", &o->ifa_local},
		{"in_ifaddr", "ifa_address", &o->ifa_address},
		{"in_ifaddr", "ifa_mask", &o->ifa_mask},
		{"in_ifaddr", "ifa_broadcast", &o->ifa_broadcast},
		{"in_ifaddr", "ifa_scope", &o->ifa_scope},
		{"in_ifaddr", "ifa_prefixlen", &o->ifa_prefixlen},
		{"in_ifaddr", "ifa_flags", &o->ifa_flags}, {"in_ifaddr", "ifa_label", &o->ifa_label},
	};
	const struct field_req v6[] = {
		{"net_device", "ip6_ptr", &o->ip6_ptr}, {"inet6_dev", "addr_list", &o->addr_list},
		{"inet6_ifaddr", "addr", &o->i6_addr},
		{"inet6_ifaddr", "prefix_len", &o->i6_prefix_len},
		{"inet6_ifaddr", "scope", &o->i6_scope}, {"inet6_ifaddr", "flags", &o->i6_flags},
		{"inet6_ifaddr", "if_list", &o->i6_if_list},
	};
	const struct field_req hash[] = {
		{"inet6_ifaddr", "addr_lst", &o->i6_addr_lst},
		{"net", "ipv6.inet6_addr_lst", &o->net_addr_lst},
	};
	/* clang-format on */

	memset(o, 0, sizeof(*o));
	o->have_dev = !resolve_dev(g, o);
	if (!o->have_dev)
		return;
	o->have_v4 = !resolve(g, v4, ARRAY_SIZE(v4)) && o->ifa_label.size <= IFNAMSIZ;
	o->have_v6 = !resolve(g, v6, ARRAY_SIZE(v6)) && o->i6_addr.size == 16;
	o->have_hash = o->have_v6 && !resolve(g, hash, ARRAY_SIZE(hash));
}

/* An unsigned field of 1, 2, 4 or 8 bytes at base + f. */
static int read_uint(struct vmt_guest *g, uint64_t base, struct netif_field f, uint64_t *v)
{
	uint8_t b[8] = {0};
	int err;

	if (f.size == 0 || f.size > 8)
		return -EBADMSG;
	err = vmt_kread(g, base + f.off, b, f.size);
	if (err)
		return err;
	*v = 0;
	memcpy(v, b, f.size); /* x86-64 is little-endian */
	return 0;
}

/* dev_get_flags() from the fields it reads. */
static uint32_t dev_flags(const struct netif_offsets *o, uint64_t flags, uint64_t gflags,
			  uint64_t state, uint64_t operstate)
{
	const uint32_t dyn = IFF_PROMISC | IFF_ALLMULTI | IFF_RUNNING | IFF_LOWER_UP | IFF_DORMANT;
	uint32_t f = ((uint32_t)flags & ~dyn) | ((uint32_t)gflags & (IFF_PROMISC | IFF_ALLMULTI));

	if (state & (1ull << o->bit_start)) {
		if (operstate == NETIF_IF_OPER_UP || operstate == NETIF_IF_OPER_UNKN)
			f |= IFF_RUNNING;
		if (!(state & (1ull << o->bit_nocarrier)))
			f |= IFF_LOWER_UP;
		if (state & (1ull << o->bit_dormant))
			f |= IFF_DORMANT;
	}
	return f;
}

/* Flags, sizes, hardware addresses and the ifmap; false if some could not be read. */
static bool dev_state(struct vmt_guest *g, const struct netif_offsets *o, uint64_t dev,
		      struct vmt_netdev *d)
{
	uint64_t v[13] = {0}, addr = 0;
	const struct netif_field f[13] = {
	    o->flags,	     o->gflags,	   o->state,   o->operstate, o->mtu, o->type,	o->addr_len,
	    o->tx_queue_len, o->mem_start, o->mem_end, o->base_addr, o->dma, o->if_port};
	bool ok = true;
	uint32_t irq = 0;

	for (size_t i = 0; i < ARRAY_SIZE(f); i++)
		if (read_uint(g, dev, f[i], &v[i]))
			ok = false;
	d->if_flags = dev_flags(o, v[0], v[1], v[2], v[3]);
	d->operstate = (uint8_t)v[3];
	d->mtu = (uint32_t)v[4];
	d->type = (uint16_t)v[5];
	d->addr_len = v[6] > sizeof(d->hwaddr) ? sizeof(d->hwaddr) : (uint8_t)v[6];
	d->tx_queue_len = (uint32_t)v[7];
	d->map.mem_start = v[8];
	d->map.mem_end = v[9];
	d->map.base_addr = v[10];
	d->map.dma = (uint8_t)v[11];
	d->map.port = (uint8_t)v[12];
	if (o->irq.size == 4 && !vmt_kread_u32(g, dev + o->irq.off, &irq))
		d->map.irq = (int32_t)irq;
	else
		ok = false;
	if (v[6] > sizeof(d->hwaddr))
		ok = false;
	if (vmt_kread(g, dev + o->broadcast.off, d->broadcast,
		      o->broadcast.size < sizeof(d->broadcast) ? o->broadcast.size
							       : sizeof(d->broadcast)))
		ok = false;
	if (d->addr_len && (vmt_kread_u64(g, dev + o->dev_addr.off, &addr) || !vmt_kptr_ok(addr) ||
			    vmt_kread(g, addr, d->hwaddr, d->addr_len)))
		ok = false;
	return ok;
}

/*
 * Room for entry n of an address array of n entries: capacities are the
 * powers of two (4, 8, ...), so the array grows when n reaches one.
 */
static int grow(void **arr, size_t n, size_t size)
{
	void *p;

	if (n && (n < 4 || (n & (n - 1))))
		return 0;
	p = reallocarray(*arr, n ? 2 * n : 4, size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	return 0;
}

/* ---------------------------------------------------------------- IPv4 */

static int ip4_one(struct vmt_guest *g, const struct netif_offsets *o, uint64_t ifa,
		   struct vmt_netdev_ip4 *a)
{
	uint64_t scope = 0, plen = 0, flags = 0;

	memset(a, 0, sizeof(*a));
	if (vmt_kread(g, ifa + o->ifa_local.off, a->local, 4) ||
	    vmt_kread(g, ifa + o->ifa_address.off, a->address, 4) ||
	    vmt_kread(g, ifa + o->ifa_mask.off, a->mask, 4) ||
	    vmt_kread(g, ifa + o->ifa_broadcast.off, a->broadcast, 4) ||
	    read_uint(g, ifa, o->ifa_scope, &scope) || read_uint(g, ifa, o->ifa_prefixlen, &plen) ||
	    read_uint(g, ifa, o->ifa_flags, &flags) ||
	    vmt_kread(g, ifa + o->ifa_label.off, a->label, o->ifa_label.size))
		return -EFAULT;
	a->label[sizeof(a->label) - 1] = '\0';
	a->scope = (uint8_t)scope;
	a->prefixlen = (uint8_t)plen;
	a->ifa_flags = (uint32_t)flags;
	return 0;
}

/*
 * ifa_list is singly linked: a bound and Brent's cycle check (a node seen
 * again at the saved position) end a hostile chain early.
 */
static int ip4_walk(struct vmt_guest *g, const struct netif_offsets *o, uint64_t indev,
		    struct vmt_netdev *d)
{
	uint64_t ifa, saved = 0;
	size_t steps = 0, lap = 1;

	if (vmt_kread_u64(g, indev + o->ifa_list.off, &ifa))
		return -EFAULT;
	while (ifa) {
		if (!vmt_kptr_ok(ifa) || ifa == saved || d->n_ip4 == NETIF_MAX_ADDRS)
			return -EBADMSG;
		if (++steps == lap) {
			saved = ifa;
			lap *= 2;
			steps = 0;
		}
		if (grow((void **)&d->ip4, d->n_ip4, sizeof(*d->ip4)))
			return -ENOMEM;
		if (ip4_one(g, o, ifa, &d->ip4[d->n_ip4]))
			return -EFAULT;
		d->n_ip4++;
		if (vmt_kread_u64(g, ifa + o->ifa_next.off, &ifa))
			return -EFAULT;
	}
	return 0;
}

/* ---------------------------------------------------------------- IPv6 */

struct ip6_walk {
	const struct netif_offsets *o;
	struct vmt_netdev *d;
	bool bad;
};

static int ip6_one(struct vmt_guest *g, uint64_t node, void *arg)
{
	struct ip6_walk *w = arg;
	const struct netif_offsets *o = w->o;
	uint64_t ifp = node - o->i6_if_list.off, plen = 0, scope = 0, flags = 0;
	struct vmt_netdev_ip6 *a;

	if (w->d->n_ip6 == NETIF_MAX_ADDRS) {
		w->bad = true;
		return 1;
	}
	if (grow((void **)&w->d->ip6, w->d->n_ip6, sizeof(*w->d->ip6)))
		return -ENOMEM;
	a = &w->d->ip6[w->d->n_ip6];
	memset(a, 0, sizeof(*a));
	if (vmt_kread(g, ifp + o->i6_addr.off, a->addr, 16) ||
	    read_uint(g, ifp, o->i6_prefix_len, &plen) || read_uint(g, ifp, o->i6_scope, &scope) ||
	    read_uint(g, ifp, o->i6_flags, &flags)) {
		w->bad = true;
		return 1;
	}
	a->prefixlen = (uint8_t)plen;
	a->scope = (uint16_t)scope;
	a->ifa_flags = (uint32_t)flags;
	a->hash_pos = UINT32_MAX;
	a->kva = ifp;
	w->d->n_ip6++;
	return 0;
}

static int ip6_walk(struct vmt_guest *g, const struct netif_offsets *o, uint64_t idev,
		    struct vmt_netdev *d)
{
	struct ip6_walk w = {.o = o, .d = d};
	int err = vmt_list_walk(g, idev + o->addr_list.off, NETIF_MAX_ADDRS + 1, ip6_one, &w);

	if (err == -ENOMEM)
		return err;
	return err || w.bad ? -EBADMSG : 0;
}

int netif_dev_read(struct vmt_guest *g, const struct netif_offsets *o, uint64_t dev,
		   struct vmt_netdev *d)
{
	uint64_t in = 0;
	bool ok;
	int err = 0;

	if (!o->have_dev) {
		d->flags |= VMT_F_PARTIAL;
		return 0;
	}
	ok = dev_state(g, o, dev, d);

	if (o->have_v4 && vmt_kread_u64(g, dev + o->ip_ptr.off, &in))
		ok = false;
	else if (o->have_v4 && in)
		err = vmt_kptr_ok(in) ? ip4_walk(g, o, in, d) : -EBADMSG;
	if (err == -ENOMEM)
		return err;
	ok &= !err;
	in = 0;
	err = 0;
	if (o->have_v6 && vmt_kread_u64(g, dev + o->ip6_ptr.off, &in))
		ok = false;
	else if (o->have_v6 && in)
		err = vmt_kptr_ok(in) ? ip6_walk(g, o, in, d) : -EBADMSG;
	if (err == -ENOMEM)
		return err;
	ok &= !err;
	if (!ok)
		d->flags |= VMT_F_PARTIAL;
	return 0;
}

/* ---------------------------------------------------- if_inet6 order */

struct hash_walk {
	const struct netif_offsets *o;
	struct vmt_netdev_list *l;
	uint32_t pos;
};

static int hash_one(struct vmt_guest *g, uint64_t node, void *arg)
{
	struct hash_walk *w = arg;
	uint64_t ifp = node - w->o->i6_addr_lst.off;

	for (size_t i = 0; i < w->l->n; i++)
		for (size_t k = 0; k < w->l->devs[i].n_ip6; k++)
			if (w->l->devs[i].ip6[k].kva == ifp)
				w->l->devs[i].ip6[k].hash_pos = w->pos;
	w->pos++;
	return 0;
}

void netif_hash_order(struct vmt_guest *g, const struct netif_offsets *o, uint64_t net,
		      struct vmt_netdev_list *l)
{
	uint64_t tbl, heads[NETIF_IN6_HSIZE];
	struct hash_walk w = {.o = o, .l = l};

	if (!o->have_hash)
		return;
	if (vmt_kread_u64(g, net + o->net_addr_lst.off, &tbl) || !vmt_kptr_ok(tbl) ||
	    vmt_kread(g, tbl, heads, sizeof(heads))) {
		l->flags |= VMT_F_PARTIAL;
		return;
	}
	for (uint32_t b = 0; b < NETIF_IN6_HSIZE; b++)
		if (heads[b] && vmt_hlist_walk(g, heads[b], NETIF_MAX_ADDRS, hash_one, &w))
			l->flags |= VMT_F_PARTIAL;
}
