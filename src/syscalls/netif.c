// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * netif.c - the interface ioctls (SIOCGIF*) answered from the guest's net
 * devices, with Linux 6.1's semantics (net/core/dev_ioctl.c, inet_gifconf()
 * and devinet_ioctl() of net/ipv4/devinet.c):
 *
 *  - the name in ifr_name ends at IFNAMSIZ-1 and at a ':' (an alias label
 *    "eth0:1" names the device eth0); no such device: -ENODEV;
 *  - SIOCGIFADDR/NETMASK/BRDADDR/DSTADDR pick the IPv4 address whose label
 *    is the whole name (and whose local address is the one the caller put
 *    in ifr_addr, if it put an AF_INET one there, else the first with that
 *    label); none: -EADDRNOTAVAIL.  DSTADDR is ifa_address, which is the
 *    local address on a link that is not point-to-point, as in Linux;
 *  - SIOCGIFFLAGS is dev_get_flags() cut to a short (IFF_LOWER_UP and
 *    above only reach netlink), SIOCGIFMETRIC is always 0;
 *  - SIOCGIFCONF lists one struct ifreq per IPv4 address (its label and
 *    local address), in device then address order; with ifc_buf NULL it
 *    only says how many bytes that takes.
 *
 * The caller's struct ifreq is read whole, changed and written back whole,
 * as the kernel's get_user_ifreq()/put_user_ifreq() do.
 */
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>

#include "syscalls/netif.h"

bool sc_netif_handles(unsigned long cmd)
{
	switch (cmd) {
	case SIOCGIFCONF:
	case SIOCGIFFLAGS:
	case SIOCGIFINDEX:
	case SIOCGIFNAME:
	case SIOCGIFHWADDR:
	case SIOCGIFMTU:
	case SIOCGIFADDR:
	case SIOCGIFNETMASK:
	case SIOCGIFBRDADDR:
	case SIOCGIFDSTADDR:
	case SIOCGIFTXQLEN:
	case SIOCGIFMAP:
	case SIOCGIFMETRIC:
		return true;
	default:
		return false;
	}
}

/* The device ifr_name names (up to a ':'), or NULL. */
static const struct vmt_netdev *dev_by_name(const struct vmt_netdev_list *devs, const char *name)
{
	char dev[IFNAMSIZ];
	char *colon;

	memcpy(dev, name, IFNAMSIZ);
	dev[IFNAMSIZ - 1] = '\0';
	colon = strchr(dev, ':');
	if (colon)
		*colon = '\0';
	for (size_t i = 0; devs && i < devs->n; i++)
		if (!strncmp(devs->devs[i].name, dev, IFNAMSIZ))
			return &devs->devs[i];
	return NULL;
}

static const struct vmt_netdev *dev_by_index(const struct vmt_netdev_list *devs, int ifindex)
{
	for (size_t i = 0; devs && i < devs->n; i++)
		if (devs->devs[i].ifindex == ifindex)
			return &devs->devs[i];
	return NULL;
}

static void put_sin(struct sockaddr *sa, const uint8_t addr[4])
{
	struct sockaddr_in sin = {.sin_family = AF_INET};

	memcpy(&sin.sin_addr, addr, 4);
	memcpy(sa, &sin, sizeof(sin));
}

/* devinet_ioctl()'s choice: label and address (4.4BSD style), else the label alone. */
static const struct vmt_netdev_ip4 *ip4_pick(const struct vmt_netdev *d, const struct ifreq *req)
{
	struct sockaddr_in orig;

	memcpy(&orig, &req->ifr_addr, sizeof(orig));
	if (orig.sin_family == AF_INET)
		for (size_t i = 0; i < d->n_ip4; i++)
			if (!strncmp(d->ip4[i].label, req->ifr_name, IFNAMSIZ) &&
			    !memcmp(d->ip4[i].local, &orig.sin_addr, 4))
				return &d->ip4[i];
	for (size_t i = 0; i < d->n_ip4; i++)
		if (!strncmp(d->ip4[i].label, req->ifr_name, IFNAMSIZ))
			return &d->ip4[i];
	return NULL;
}

static int answer_inet(const struct vmt_netdev *d, unsigned long cmd, struct ifreq *r)
{
	const struct vmt_netdev_ip4 *a = ip4_pick(d, r);

	if (!a)
		return -EADDRNOTAVAIL;
	switch (cmd) {
	case SIOCGIFADDR:
		put_sin(&r->ifr_addr, a->local);
		break;
	case SIOCGIFNETMASK:
		put_sin(&r->ifr_netmask, a->mask);
		break;
	case SIOCGIFBRDADDR:
		put_sin(&r->ifr_broadaddr, a->broadcast);
		break;
	default: /* SIOCGIFDSTADDR */
		put_sin(&r->ifr_dstaddr, a->address);
		break;
	}
	return 0;
}

static void answer_hwaddr(const struct vmt_netdev *d, struct ifreq *r)
{
	size_t n = d->addr_len < sizeof(r->ifr_hwaddr.sa_data) ? d->addr_len
							       : sizeof(r->ifr_hwaddr.sa_data);

	memset(r->ifr_hwaddr.sa_data, 0, sizeof(r->ifr_hwaddr.sa_data));
	memcpy(r->ifr_hwaddr.sa_data, d->hwaddr, n);
	r->ifr_hwaddr.sa_family = d->type;
}

/* The requests of dev_ifsioc_locked() and devinet_ioctl(): r in, r out. */
static int answer_ifreq(const struct vmt_netdev_list *devs, unsigned long cmd, struct ifreq *r)
{
	const struct vmt_netdev *d;

	r->ifr_name[IFNAMSIZ - 1] = '\0';
	if (cmd == SIOCGIFNAME) {
		d = dev_by_index(devs, r->ifr_ifindex);
		if (!d)
			return -ENODEV;
		memcpy(r->ifr_name, d->name, IFNAMSIZ);
		r->ifr_name[IFNAMSIZ - 1] = '\0';
		return 0;
	}
	d = dev_by_name(devs, r->ifr_name);
	if (!d)
		return -ENODEV;
	switch (cmd) {
	case SIOCGIFFLAGS:
		r->ifr_flags = (short)d->if_flags;
		return 0;
	case SIOCGIFINDEX:
		r->ifr_ifindex = d->ifindex;
		return 0;
	case SIOCGIFMETRIC:
		r->ifr_metric = 0; /* "currently unused" in Linux */
		return 0;
	case SIOCGIFMTU:
		r->ifr_mtu = (int)d->mtu;
		return 0;
	case SIOCGIFTXQLEN:
		r->ifr_qlen = (int)d->tx_queue_len;
		return 0;
	case SIOCGIFHWADDR:
		answer_hwaddr(d, r);
		return 0;
	case SIOCGIFMAP:
		r->ifr_map.mem_start = d->map.mem_start;
		r->ifr_map.mem_end = d->map.mem_end;
		r->ifr_map.base_addr = (unsigned short)d->map.base_addr;
		r->ifr_map.irq = (unsigned char)d->map.irq;
		r->ifr_map.dma = d->map.dma;
		r->ifr_map.port = d->map.port;
		return 0;
	default:
		return answer_inet(d, cmd, r);
	}
}

/* One ifreq per IPv4 address into the caller's buffer; *total grows by what it takes. */
static int conf_dev(const struct vmt_netdev *d, uint64_t buf, int len, int *total,
		    const struct sc_mem *m)
{
	for (size_t i = 0; i < d->n_ip4; i++) {
		struct ifreq r;
		int err;

		if (!buf) {
			*total += (int)sizeof(r);
			continue;
		}
		if (len - *total < (int)sizeof(r))
			break;
		memset(&r, 0, sizeof(r));
		memcpy(r.ifr_name, d->ip4[i].label, IFNAMSIZ);
		r.ifr_name[IFNAMSIZ - 1] = '\0';
		put_sin(&r.ifr_addr, d->ip4[i].local);
		err = m->write(m, buf + (uint64_t)*total, &r, sizeof(r));
		if (err)
			return -EFAULT;
		*total += (int)sizeof(r);
	}
	return 0;
}

/* dev_ifconf(): fill ifc_buf, then set ifc_len to the bytes used (or needed). */
static int answer_conf(const struct vmt_netdev_list *devs, uint64_t argp, const struct sc_mem *m)
{
	struct ifconf ifc;
	int total = 0;
	uint64_t buf;

	if (m->read(m, argp, &ifc, sizeof(ifc)))
		return -EFAULT;
	buf = (uint64_t)(uintptr_t)ifc.ifc_buf;
	for (size_t i = 0; devs && i < devs->n; i++)
		if (conf_dev(&devs->devs[i], buf, ifc.ifc_len, &total, m))
			return -EFAULT;
	if (m->write(m, argp + offsetof(struct ifconf, ifc_len), &total, sizeof(total)))
		return -EFAULT;
	return 0;
}

int sc_netif_ioctl(const struct vmt_netdev_list *devs, unsigned long cmd, uint64_t argp,
		   const struct sc_mem *m)
{
	struct ifreq r;
	int err;

	if (!sc_netif_handles(cmd))
		return -ENOTTY;
	if (cmd == SIOCGIFCONF)
		return answer_conf(devs, argp, m);
	if (m->read(m, argp, &r, sizeof(r)))
		return -EFAULT;
	err = answer_ifreq(devs, cmd, &r);
	if (err)
		return err;
	if (m->write(m, argp, &r, sizeof(r)))
		return -EFAULT;
	return 0;
}
