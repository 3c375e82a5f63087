// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_netif.c - the guest's network interfaces:
 *
 *  - the interface ioctls (syscalls/netif.c): every request against a
 *    hand-made device list through an in-process struct sc_mem, with
 *    Linux's answers and errors (alias labels, SIOCGIFCONF sizing with a
 *    NULL or short buffer, ENODEV, EADDRNOTAVAIL, EFAULT);
 *  - the walker (lib/linux/netif.c) over a fake guest with the real 6.1
 *    layouts (fake_guest.h): dev_get_flags() from flags/gflags/state/
 *    operstate, hardware addresses, IPv4 and IPv6 lists, the if_inet6 hash
 *    order and its text; a looping ifa_list and a broken addr_list cost
 *    their own device only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>

#include <cmocka.h>

#include <errno.h>
#include <net/if_arp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>

#include "fake_guest.h"
#include "procfs/render_netif.h"
#include "procfs/render_system.h"
#include "syscalls/netif.h"

/* ------------------------------------------------ in-process caller memory */

#define IFF_LOWER_UP (1 << 16) /* <linux/if.h>, which clashes with <net/if.h> */

/* Addresses below this fail as unmapped (EFAULT), like a NULL argp. */
#define BAD_VA 0x1000

static int mem_read(const struct sc_mem *m, uint64_t addr, void *buf, size_t len)
{
	if (addr < BAD_VA)
		return -EFAULT;
	memcpy(buf, (const void *)(uintptr_t)addr, len);
	return 0;
}

static int mem_write(const struct sc_mem *m, uint64_t addr, const void *buf, size_t len)
{
	if (addr < BAD_VA)
		return -EFAULT;
	memcpy((void *)(uintptr_t)addr, buf, len);
	return 0;
}

static const struct sc_mem mem = {.pid = 1, .read = mem_read, .write = mem_write};

/* --------------------------------------------------- a hand-made device list */

static struct vmt_netdev_ip4 lo4[] = {
    {.local = {127, 0, 0, 1}, .address = {127, 0, 0, 1}, .mask = {255, 0, 0, 0}, .label = "lo"}};
static struct vmt_netdev_ip4 dummy4[] = {
    {.local = {10, 9, 8, 7},
     .address = {10, 9, 8, 7},
     .mask = {255, 255, 255, 0},
     .broadcast = {10, 9, 8, 255},
     .label = "dummy0"},
    {.local = {10, 9, 9, 1},
     .address = {10, 9, 9, 1},
     .mask = {255, 255, 0, 0},
     .label = "dummy0:1"},
    {.local = {10, 9, 8, 8},
     .address = {10, 9, 8, 8},
     .mask = {255, 255, 255, 255},
     .label = "dummy0"},
};
static struct vmt_netdev_ip4 ppp4[] = {{.local = {192, 0, 2, 1},
					.address = {192, 0, 2, 9},
					.mask = {255, 255, 255, 255},
					.label = "ppp0"}};
static struct vmt_netdev devs[4];
static const struct vmt_netdev_list list = {.n = 4, .devs = devs};

static int list_setup(void **state)
{
	memset(devs, 0, sizeof(devs));
	strcpy(devs[0].name, "lo");
	devs[0].ifindex = 1;
	devs[0].if_flags = IFF_UP | IFF_LOOPBACK | IFF_RUNNING | IFF_LOWER_UP;
	devs[0].mtu = 65536;
	devs[0].tx_queue_len = 1000;
	devs[0].type = ARPHRD_LOOPBACK;
	devs[0].addr_len = 6;
	devs[0].ip4 = lo4;
	devs[0].n_ip4 = 1;
	strcpy(devs[1].name, "dummy0");
	devs[1].ifindex = 2;
	devs[1].if_flags = IFF_UP | IFF_BROADCAST | IFF_NOARP | IFF_PROMISC | IFF_LOWER_UP;
	devs[1].mtu = 1500;
	devs[1].tx_queue_len = 32;
	devs[1].type = ARPHRD_ETHER;
	devs[1].addr_len = 6;
	memcpy(devs[1].hwaddr, "\xd6\xd1\x3a\x2c\x1e\x00", 6);
	devs[1].map = (struct vmt_netdev_map){.mem_start = 0xfe000000,
					      .mem_end = 0xfe00ffff,
					      .base_addr = 0x300,
					      .irq = 11,
					      .dma = 3,
					      .port = 2};
	devs[1].ip4 = dummy4;
	devs[1].n_ip4 = 3;
	strcpy(devs[2].name, "eth1"); /* no IPv4 address */
	devs[2].ifindex = 7;
	devs[2].if_flags = IFF_BROADCAST | IFF_MULTICAST;
	devs[2].type = ARPHRD_ETHER;
	strcpy(devs[3].name, "ppp0");
	devs[3].ifindex = 9;
	devs[3].if_flags = IFF_UP | IFF_POINTOPOINT | IFF_RUNNING | IFF_NOARP;
	devs[3].type = ARPHRD_PPP;
	devs[3].ip4 = ppp4;
	devs[3].n_ip4 = 1;
	return 0;
}

/* ifr with name set, the rest zero; the answer's errno (0 on success). */
static int ask(unsigned long cmd, const char *name, struct ifreq *r)
{
	memset(r, 0, sizeof(*r));
	if (name)
		strncpy(r->ifr_name, name, sizeof(r->ifr_name));
	return sc_netif_ioctl(&list, cmd, (uint64_t)(uintptr_t)r, &mem);
}

static const char *sin_str(const struct sockaddr *sa, char *buf)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	const uint8_t *a = (const uint8_t *)&sin->sin_addr;

	assert_int_equal(sin->sin_family, AF_INET);
	sprintf(buf, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
	return buf;
}

/* ------------------------------------------------------------- the ioctls */

static void test_handles(void **state)
{
	struct ifreq r;

	assert_true(sc_netif_handles(SIOCGIFCONF));
	assert_true(sc_netif_handles(SIOCGIFMAP));
	assert_false(sc_netif_handles(SIOCSIFFLAGS)); /* setters never */
	assert_false(sc_netif_handles(SIOCGIFPFLAGS));
	assert_int_equal(ask(SIOCSIFFLAGS, "lo", &r), -ENOTTY);
}

static void test_conf(void **state)
{
	struct ifreq buf[8];
	struct ifconf ifc = {.ifc_len = 0, .ifc_buf = NULL};
	char s[32];

	/* NULL buffer: only the length every IPv4 address takes (eth1 has none) */
	assert_int_equal(sc_netif_ioctl(&list, SIOCGIFCONF, (uint64_t)(uintptr_t)&ifc, &mem), 0);
	assert_int_equal(ifc.ifc_len, 5 * (int)sizeof(struct ifreq));
	/* room for two and a half: two, in device then address order */
	memset(buf, 0xaa, sizeof(buf));
	ifc.ifc_buf = (char *)buf;
	ifc.ifc_len = 2 * sizeof(struct ifreq) + 20;
	assert_int_equal(sc_netif_ioctl(&list, SIOCGIFCONF, (uint64_t)(uintptr_t)&ifc, &mem), 0);
	assert_int_equal(ifc.ifc_len, 2 * (int)sizeof(struct ifreq));
	assert_string_equal(buf[0].ifr_name, "lo");
	assert_string_equal(sin_str(&buf[0].ifr_addr, s), "127.0.0.1");
	assert_string_equal(buf[1].ifr_name, "dummy0");
	assert_int_equal((uint8_t)((char *)&buf[2])[0], 0xaa); /* nothing past them */
	/* room for all: the alias label names its own entry */
	ifc.ifc_len = sizeof(buf);
	assert_int_equal(sc_netif_ioctl(&list, SIOCGIFCONF, (uint64_t)(uintptr_t)&ifc, &mem), 0);
	assert_int_equal(ifc.ifc_len, 5 * (int)sizeof(struct ifreq));
	assert_string_equal(buf[2].ifr_name, "dummy0:1");
	assert_string_equal(sin_str(&buf[2].ifr_addr, s), "10.9.9.1");
	assert_string_equal(buf[3].ifr_name, "dummy0");
	assert_string_equal(sin_str(&buf[3].ifr_addr, s), "10.9.8.8");
	assert_string_equal(buf[4].ifr_name, "ppp0");
	assert_string_equal(sin_str(&buf[4].ifr_addr, s), "192.0.2.1"); /* ifa_local */
	/* a negative length writes nothing */
	ifc.ifc_len = -1;
	assert_int_equal(sc_netif_ioctl(&list, SIOCGIFCONF, (uint64_t)(uintptr_t)&ifc, &mem), 0);
	assert_int_equal(ifc.ifc_len, 0);
	/* unreadable ifconf, unwritable buffer */
	assert_int_equal(sc_netif_ioctl(&list, SIOCGIFCONF, 8, &mem), -EFAULT);
	ifc.ifc_buf = (char *)(uintptr_t)16;
	ifc.ifc_len = sizeof(buf);
	assert_int_equal(sc_netif_ioctl(&list, SIOCGIFCONF, (uint64_t)(uintptr_t)&ifc, &mem),
			 -EFAULT);
	/* no devices at all (the snapshot could not read them) */
	ifc.ifc_buf = (char *)buf;
	assert_int_equal(sc_netif_ioctl(NULL, SIOCGIFCONF, (uint64_t)(uintptr_t)&ifc, &mem), 0);
	assert_int_equal(ifc.ifc_len, 0);
}

static void test_flags_index_name(void **state)
{
	struct ifreq r;

	assert_int_equal(ask(SIOCGIFFLAGS, "dummy0", &r), 0);
	/* a short: IFF_LOWER_UP (1 << 16) only reaches netlink */
	assert_int_equal((unsigned short)r.ifr_flags,
			 IFF_UP | IFF_BROADCAST | IFF_NOARP | IFF_PROMISC);
	assert_string_equal(r.ifr_name, "dummy0");
	/* an alias label names its device, and is given back as it was */
	assert_int_equal(ask(SIOCGIFFLAGS, "dummy0:1", &r), 0);
	assert_true(r.ifr_flags & IFF_PROMISC);
	assert_string_equal(r.ifr_name, "dummy0:1");
	assert_int_equal(ask(SIOCGIFFLAGS, "eth0", &r), -ENODEV);
	assert_int_equal(ask(SIOCGIFFLAGS, "dummy", &r), -ENODEV); /* no prefix match */
	/* a name without its NUL ends at IFNAMSIZ-1 */
	memset(&r, 'x', sizeof(r.ifr_name));
	assert_int_equal(sc_netif_ioctl(&list, SIOCGIFFLAGS, (uint64_t)(uintptr_t)&r, &mem),
			 -ENODEV);
	assert_int_equal(ask(SIOCGIFINDEX, "ppp0", &r), 0);
	assert_int_equal(r.ifr_ifindex, 9);
	memset(&r, 0, sizeof(r));
	r.ifr_ifindex = 7;
	assert_int_equal(sc_netif_ioctl(&list, SIOCGIFNAME, (uint64_t)(uintptr_t)&r, &mem), 0);
	assert_string_equal(r.ifr_name, "eth1");
	r.ifr_ifindex = 3;
	assert_int_equal(sc_netif_ioctl(&list, SIOCGIFNAME, (uint64_t)(uintptr_t)&r, &mem),
			 -ENODEV);
	assert_int_equal(sc_netif_ioctl(&list, SIOCGIFFLAGS, 0, &mem), -EFAULT);
}

static void test_link_fields(void **state)
{
	struct ifreq r;

	assert_int_equal(ask(SIOCGIFHWADDR, "dummy0", &r), 0);
	assert_int_equal(r.ifr_hwaddr.sa_family, ARPHRD_ETHER);
	assert_memory_equal(r.ifr_hwaddr.sa_data, "\xd6\xd1\x3a\x2c\x1e\x00\0\0\0\0\0\0\0\0", 14);
	assert_int_equal(ask(SIOCGIFHWADDR, "ppp0", &r), 0); /* addr_len 0: zeros */
	assert_int_equal(r.ifr_hwaddr.sa_family, ARPHRD_PPP);
	assert_int_equal(ask(SIOCGIFMTU, "lo", &r), 0);
	assert_int_equal(r.ifr_mtu, 65536);
	assert_int_equal(ask(SIOCGIFTXQLEN, "dummy0", &r), 0);
	assert_int_equal(r.ifr_qlen, 32);
	r.ifr_metric = 5;
	assert_int_equal(ask(SIOCGIFMETRIC, "dummy0", &r), 0);
	assert_int_equal(r.ifr_metric, 0);
	assert_int_equal(ask(SIOCGIFMAP, "dummy0", &r), 0);
	assert_int_equal(r.ifr_map.mem_start, 0xfe000000);
	assert_int_equal(r.ifr_map.mem_end, 0xfe00ffff);
	assert_int_equal(r.ifr_map.base_addr, 0x300);
	assert_int_equal(r.ifr_map.irq, 11);
	assert_int_equal(r.ifr_map.dma, 3);
	assert_int_equal(r.ifr_map.port, 2);
	assert_int_equal(ask(SIOCGIFMTU, "nope0", &r), -ENODEV);
}

static void test_inet(void **state)
{
	struct ifreq r;
	char s[32];

	assert_int_equal(ask(SIOCGIFADDR, "dummy0", &r), 0);
	assert_string_equal(sin_str(&r.ifr_addr, s), "10.9.8.7"); /* first of its label */
	assert_int_equal(ask(SIOCGIFNETMASK, "dummy0", &r), 0);
	assert_string_equal(sin_str(&r.ifr_netmask, s), "255.255.255.0");
	assert_int_equal(ask(SIOCGIFBRDADDR, "dummy0", &r), 0);
	assert_string_equal(sin_str(&r.ifr_broadaddr, s), "10.9.8.255");
	assert_int_equal(ask(SIOCGIFDSTADDR, "dummy0", &r), 0);
	assert_string_equal(sin_str(&r.ifr_dstaddr, s), "10.9.8.7"); /* not PtP: itself */
	assert_int_equal(ask(SIOCGIFADDR, "dummy0:1", &r), 0);
	assert_string_equal(sin_str(&r.ifr_addr, s), "10.9.9.1");
	assert_int_equal(ask(SIOCGIFNETMASK, "dummy0:1", &r), 0);
	assert_string_equal(sin_str(&r.ifr_netmask, s), "255.255.0.0");
	/* 4.4BSD style: label and the address the caller gave */
	memset(&r, 0, sizeof(r));
	strcpy(r.ifr_name, "dummy0");
	((struct sockaddr_in *)&r.ifr_addr)->sin_family = AF_INET;
	memcpy(&((struct sockaddr_in *)&r.ifr_addr)->sin_addr, "\x0a\x09\x08\x08", 4);
	assert_int_equal(sc_netif_ioctl(&list, SIOCGIFNETMASK, (uint64_t)(uintptr_t)&r, &mem), 0);
	assert_string_equal(sin_str(&r.ifr_netmask, s), "255.255.255.255");
	/* ... an address of another label falls back to the label alone */
	memcpy(&((struct sockaddr_in *)&r.ifr_addr)->sin_addr, "\x0a\x09\x09\x01", 4);
	assert_int_equal(sc_netif_ioctl(&list, SIOCGIFNETMASK, (uint64_t)(uintptr_t)&r, &mem), 0);
	assert_string_equal(sin_str(&r.ifr_netmask, s), "255.255.255.0");
	assert_int_equal(ask(SIOCGIFDSTADDR, "ppp0", &r), 0);
	assert_string_equal(sin_str(&r.ifr_dstaddr, s), "192.0.2.9"); /* the peer */
	assert_int_equal(ask(SIOCGIFADDR, "eth1", &r), -EADDRNOTAVAIL);
	assert_int_equal(ask(SIOCGIFADDR, "dummy0:7", &r), -EADDRNOTAVAIL); /* no such label */
	assert_int_equal(ask(SIOCGIFBRDADDR, "eth9", &r), -ENODEV);
}

/* ------------------------------------------------------------ the walker */

struct fdev {
	uint64_t dev, indev, idev;
};

static uint64_t ifa4(struct fake *f, const char *label, uint32_t local_be, uint8_t plen)
{
	uint64_t a = kalloc(f, off("in_ifaddr", NULL));

	put32(f, a + off("in_ifaddr", "ifa_local"), local_be);
	put32(f, a + off("in_ifaddr", "ifa_address"), local_be);
	put32(f, a + off("in_ifaddr", "ifa_mask"), 0x00ffffff); /* 255.255.255.0 */
	put8(f, a + off("in_ifaddr", "ifa_prefixlen"), plen);
	put8(f, a + off("in_ifaddr", "ifa_scope"), 0);
	put32(f, a + off("in_ifaddr", "ifa_flags"), 0x80); /* IFA_F_PERMANENT */
	putstr(f, a + off("in_ifaddr", "ifa_label"), label);
	return a;
}

static uint64_t ifa6(struct fake *f, uint64_t idev, uint8_t last, uint32_t plen, uint16_t scope)
{
	uint64_t a = kalloc(f, off("inet6_ifaddr", NULL));
	uint8_t addr[16] = {0xfd, 0};

	addr[15] = last;
	put(f, a + off("inet6_ifaddr", "addr"), addr, 16);
	put32(f, a + off("inet6_ifaddr", "prefix_len"), plen);
	put16(f, a + off("inet6_ifaddr", "scope"), scope);
	put32(f, a + off("inet6_ifaddr", "flags"), 0x80);
	list_add_tail(f, idev + off("inet6_dev", "addr_list"), a + off("inet6_ifaddr", "if_list"));
	return a;
}

static struct fdev fdev_new(struct fake *f, const char *name, int ifindex, uint32_t flags,
			    uint16_t gflags, uint64_t state, uint8_t operstate)
{
	struct fdev d = {.dev = kalloc(f, off("net_device", NULL))};
	uint64_t ops = kalloc(f, off("net_device_ops", NULL)), hw = kalloc(f, 32);

	putstr(f, d.dev + off("net_device", "name"), name);
	put32(f, d.dev + off("net_device", "ifindex"), (uint32_t)ifindex);
	put64(f, d.dev + off("net_device", "netdev_ops"), ops);
	put32(f, d.dev + off("net_device", "flags"), flags);
	put16(f, d.dev + off("net_device", "gflags"), gflags);
	put64(f, d.dev + off("net_device", "state"), state);
	put8(f, d.dev + off("net_device", "operstate"), operstate);
	put32(f, d.dev + off("net_device", "mtu"), 1500);
	put16(f, d.dev + off("net_device", "type"), ARPHRD_ETHER);
	put8(f, d.dev + off("net_device", "addr_len"), 6);
	put(f, hw, "\x02\x00\x00\x00\x00\x01", 6);
	put64(f, d.dev + off("net_device", "dev_addr"), hw);
	put(f, d.dev + off("net_device", "broadcast"), "\xff\xff\xff\xff\xff\xff", 6);
	put32(f, d.dev + off("net_device", "tx_queue_len"), 1000);
	put32(f, d.dev + off("net_device", "irq"), 5);
	d.indev = kalloc(f, off("in_device", NULL));
	put64(f, d.dev + off("net_device", "ip_ptr"), d.indev);
	d.idev = kalloc(f, off("inet6_dev", NULL));
	list_init(f, d.idev + off("inet6_dev", "addr_list"));
	put64(f, d.dev + off("net_device", "ip6_ptr"), d.idev);
	list_add_tail(f, sym("init_net") + off("net", "dev_base_head"),
		      d.dev + off("net_device", "dev_list"));
	return d;
}

static char *render_if6(const struct vmt_netdev_list *l)
{
	struct textbuf b;
	char *s;

	tb_init(&b);
	pfs_render_if_inet6(&b, l);
	tb_put(&b, "", 1);
	assert_int_equal(b.err, 0);
	s = strdup(b.p);
	tb_free(&b);
	return s;
}

static void test_walker(void **state)
{
	struct fake *f = *state;
	uint64_t start = 1ull << enumval("netdev_state_t", "__LINK_STATE_START"),
		 nocarrier = 1ull << enumval("netdev_state_t", "__LINK_STATE_NOCARRIER");
	uint64_t tbl = kalloc(f, 256 * 8), a1, a2, b1, b2, b3, next = 0;
	struct vmt_netdev_list *l;
	struct fdev up, down;
	char *text;

	list_init(f, sym("init_net") + off("net", "dev_base_head"));
	put64(f, sym("init_net") + off("net", "ipv6.inet6_addr_lst"), tbl);
	/* a sniffer's promiscuity shows in dev->flags, not in dev_get_flags() */
	up = fdev_new(f, "eth0", 2, IFF_UP | IFF_BROADCAST | IFF_MULTICAST | IFF_PROMISC, 0, start,
		      6 /* IF_OPER_UP */);
	/* promisc asked for by the user (gflags); started, no carrier, down */
	down = fdev_new(f, "eth1", 3, IFF_UP | IFF_BROADCAST | IFF_PROMISC, IFF_PROMISC,
			start | nocarrier, 2 /* IF_OPER_DOWN */);
	a1 = ifa4(f, "eth0", 0x0100000a, 24); /* 10.0.0.1 */
	a2 = ifa4(f, "eth0:1", 0x0200000a, 24);
	put64(f, up.indev + off("in_device", "ifa_list"), a1);
	put64(f, a1 + off("in_ifaddr", "ifa_next"), a2);
	/* six on eth1: the address array grows past its first room */
	for (uint32_t i = 6; i > 0; i--) {
		uint64_t a = ifa4(f, "eth1", 0x0000000b | i << 24, 8); /* 11.0.0.i */

		put64(f, a + off("in_ifaddr", "ifa_next"), next);
		next = a;
	}
	put64(f, down.indev + off("in_device", "ifa_list"), next);
	b1 = ifa6(f, up.idev, 1, 64, 0);
	b2 = ifa6(f, up.idev, 2, 64, 0x20);
	b3 = ifa6(f, down.idev, 3, 128, 0);
	/* hash buckets: b2 alone in 3, then b3 pushed over b1 in 9 (newest first) */
	hlist_push(f, tbl + 3 * 8, b2 + off("inet6_ifaddr", "addr_lst"));
	hlist_push(f, tbl + 9 * 8, b1 + off("inet6_ifaddr", "addr_lst"));
	hlist_push(f, tbl + 9 * 8, b3 + off("inet6_ifaddr", "addr_lst"));

	assert_int_equal(vmt_netdevs(&f->g, &l), 0);
	assert_int_equal(l->n, 2);
	assert_int_equal(l->devs[0].if_flags,
			 IFF_UP | IFF_BROADCAST | IFF_MULTICAST | IFF_RUNNING | IFF_LOWER_UP);
	assert_int_equal(l->devs[1].if_flags, IFF_UP | IFF_BROADCAST | IFF_PROMISC);
	assert_int_equal(l->devs[0].mtu, 1500);
	assert_int_equal(l->devs[0].tx_queue_len, 1000);
	assert_int_equal(l->devs[0].type, ARPHRD_ETHER);
	assert_int_equal(l->devs[0].addr_len, 6);
	assert_memory_equal(l->devs[0].hwaddr, "\x02\x00\x00\x00\x00\x01", 6);
	assert_memory_equal(l->devs[0].broadcast, "\xff\xff\xff\xff\xff\xff", 6);
	assert_int_equal(l->devs[0].map.irq, 5);
	assert_int_equal(l->devs[0].n_ip4, 2);
	assert_memory_equal(l->devs[0].ip4[1].local, "\x0a\x00\x00\x02", 4);
	assert_string_equal(l->devs[0].ip4[1].label, "eth0:1");
	assert_int_equal(l->devs[0].ip4[0].prefixlen, 24);
	assert_int_equal(l->devs[1].n_ip4, 6);
	for (int i = 0; i < 6; i++)
		assert_int_equal(l->devs[1].ip4[i].local[3], i + 1);
	assert_int_equal(l->devs[0].n_ip6, 2);
	assert_int_equal(l->devs[0].ip6[1].scope, 0x20);
	assert_int_equal(l->devs[0].ip6[0].hash_pos, 2);
	assert_int_equal(l->devs[0].ip6[1].hash_pos, 0);
	assert_int_equal(l->devs[1].ip6[0].hash_pos, 1);
	text = render_if6(l);
	assert_string_equal(text, "fd000000000000000000000000000002 02 40 20 80     eth0\n"
				  "fd000000000000000000000000000003 03 80 00 80     eth1\n"
				  "fd000000000000000000000000000001 02 40 00 80     eth0\n");
	free(text);
	vmt_netdev_list_free(l);

	/* hostile: ifa_list loops back, eth1's addr_list points into nowhere */
	put64(f, a2 + off("in_ifaddr", "ifa_next"), a1);
	put64(f, down.idev + off("inet6_dev", "addr_list"), UNMAPPED_VA);
	vmt_listing_begin(&f->g);
	assert_int_equal(vmt_netdevs(&f->g, &l), 0);
	assert_int_equal(l->n, 2);
	assert_true(l->devs[0].flags & VMT_F_PARTIAL);
	assert_int_equal(l->devs[0].n_ip4, 2); /* what came before the loop */
	assert_int_equal(l->devs[0].n_ip6, 2); /* the other list is whole */
	assert_true(l->devs[1].flags & VMT_F_PARTIAL);
	assert_int_equal(l->devs[1].n_ip6, 0);
	assert_int_equal(l->devs[1].if_flags, IFF_UP | IFF_BROADCAST | IFF_PROMISC);
	vmt_netdev_list_free(l);
}

int main(void)
{
	const struct CMUnitTest ioctls[] = {
	    cmocka_unit_test_setup(test_handles, list_setup),
	    cmocka_unit_test_setup(test_conf, list_setup),
	    cmocka_unit_test_setup(test_flags_index_name, list_setup),
	    cmocka_unit_test_setup(test_link_fields, list_setup),
	    cmocka_unit_test_setup(test_inet, list_setup),
	};
	const struct CMUnitTest walker[] = {
	    cmocka_unit_test_setup_teardown(test_walker, fake_setup, fake_teardown),
	};
	int failed = cmocka_run_group_tests(ioctls, NULL, NULL);

	if (!profile_load()) {
		/* the walker needs real layouts; the ioctls above do not */
		fprintf(stderr, "test_netif: no test kernel: walker tests skipped\n");
		return failed;
	}
	failed += cmocka_run_group_tests(walker, NULL, NULL);
	profile_unload();
	return failed;
}
