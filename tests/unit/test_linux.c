// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test_linux.c - the module, socket and sysinfo walkers over kernel
 * structures built by hand in a RAM buffer, sane and hostile.
 *
 * The fake guest (fake_guest.h) is the real profile of the test guest's
 * kernel over a RAM buffer; without a test kernel every test is skipped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_guest.h"

/* -------------------------------------------------------------- modules */

struct mods {
	uint64_t head;
	uint32_t list, name, state, refcnt, source_list, init, exit, core_base, core_size,
	    init_size, size, use_size, use_source_list, use_source;
};

static void mods_layout(struct fake *f, struct mods *m)
{
	m->head = sym("modules");
	m->list = off("module", "list");
	m->name = off("module", "name");
	m->state = off("module", "state");
	m->refcnt = off("module", "refcnt");
	m->source_list = off("module", "source_list");
	m->init = off("module", "init");
	m->exit = off("module", "exit");
	m->core_base = off("module", "core_layout.base");
	m->core_size = off("module", "core_layout.size");
	m->init_size = off("module", "init_layout.size");
	m->size = off("module", NULL);
	m->use_size = off("module_use", NULL);
	m->use_source_list = off("module_use", "source_list");
	m->use_source = off("module_use", "source");
	list_init(f, m->head);
}

static uint64_t mod_add(struct fake *f, const struct mods *m, const char *name, int64_t state,
			uint32_t refcnt, uint32_t core, uint32_t init)
{
	uint64_t mod = kalloc(f, m->size);

	putstr(f, mod + m->name, name);
	put32(f, mod + m->state, (uint32_t)state);
	put32(f, mod + m->refcnt, refcnt);
	put32(f, mod + m->core_size, core);
	put32(f, mod + m->init_size, init);
	put64(f, mod + m->core_base, 0xffffffffc0000000ull + core);
	list_init(f, mod + m->source_list);
	list_add_tail(f, m->head, mod + m->list);
	return mod;
}

/* user uses target: a module_use on target's source_list. */
static void mod_use(struct fake *f, const struct mods *m, uint64_t target, uint64_t user)
{
	uint64_t use = kalloc(f, m->use_size);

	put64(f, use + m->use_source, user);
	list_add_tail(f, target + m->source_list, use + m->use_source_list);
}

static void test_modules_proc_format(void **state)
{
	struct fake *f = *state;
	struct vmt_module_list *l = NULL;
	struct mods m;
	uint64_t a, b, c;

	mods_layout(f, &m);
	a = mod_add(f, &m, "alpha", enumval("module_state", "MODULE_STATE_LIVE"), 3, 8192, 100);
	b = mod_add(f, &m, "beta", enumval("module_state", "MODULE_STATE_GOING"), 1, 4096, 0);
	c = mod_add(f, &m, "gamma", enumval("module_state", "MODULE_STATE_COMING"), 1, 4096, 0);
	mod_add(f, &m, "unformed", enumval("module_state", "MODULE_STATE_UNFORMED"), 1, 1, 1);
	mod_use(f, &m, a, b);
	mod_use(f, &m, a, c);
	put64(f, c + m.init, 0xffffffffc0001000ull); /* init, no exit: cannot unload */
	put64(f, c + off("module", "taints"), 1u << 12 | 1u << 13 | 1u << 9); /* O, E, and W */

	assert_int_equal(vmt_modules(&f->g, &l), 0);
	assert_int_equal(l->n, 3);
	assert_int_equal(l->flags, 0);
	assert_string_equal(l->mods[0].name, "alpha");
	assert_int_equal(l->mods[0].size, 8292);
	assert_int_equal(l->mods[0].refcnt, 2);
	assert_string_equal(l->mods[0].deps, "beta,gamma,");
	assert_string_equal(l->mods[0].state, "Live");
	assert_int_equal(l->mods[0].base, 0xffffffffc0000000ull + 8192);
	assert_string_equal(l->mods[1].deps, "-");
	assert_string_equal(l->mods[1].state, "Unloading");
	assert_int_equal(l->mods[1].refcnt, 0);
	assert_string_equal(l->mods[2].deps, "[permanent],");
	assert_string_equal(l->mods[2].state, "Loading");
	assert_string_equal(l->mods[2].taints, "(OE+)"); /* W is not a module taint */
	assert_string_equal(l->mods[0].taints, "");
	assert_int_equal(l->mods[2].flags, 0);
	vmt_module_list_free(l);
}

/* The list loops without coming back to its head: entries so far, PARTIAL. */
static void test_modules_cycle(void **state)
{
	struct fake *f = *state;
	struct vmt_module_list *l = NULL;
	struct mods m;
	uint64_t a, c;

	mods_layout(f, &m);
	a = mod_add(f, &m, "a", 0, 1, 10, 0);
	mod_add(f, &m, "b", 0, 1, 10, 0);
	c = mod_add(f, &m, "c", 0, 1, 10, 0);
	put64(f, c + m.list, a + m.list);
	assert_int_equal(vmt_modules(&f->g, &l), 0);
	assert_int_equal(l->n, 3);
	assert_int_equal(l->flags, VMT_F_PARTIAL);
	vmt_module_list_free(l);
}

/* Garbage next pointers and a dependency list that loops on itself. */
static void test_modules_hostile(void **state)
{
	struct fake *f = *state;
	struct vmt_module_list *l = NULL;
	struct mods m;
	uint64_t a, b;

	mods_layout(f, &m);
	a = mod_add(f, &m, "a", 0, 1, 10, 0);
	b = mod_add(f, &m, "b", 0, 1, 10, 0);
	mod_use(f, &m, a, b);
	/* a's user list: its only node points to itself, never to the head. */
	{
		uint64_t node = *(uint64_t *)at(f, a + m.source_list, 8);

		put64(f, node, node);
	}
	put64(f, b + m.list, 0x4141414141414141ull);
	assert_int_equal(vmt_modules(&f->g, &l), 0);
	assert_int_equal(l->n, 2);
	assert_int_equal(l->flags, VMT_F_PARTIAL);
	assert_string_equal(l->mods[0].deps, "b,");
	assert_true(l->mods[0].flags & VMT_F_PARTIAL);
	vmt_module_list_free(l);

	/* A head that points straight into unmapped memory: an error, no list. */
	vmt_listing_begin(&f->g);
	put64(f, m.head, UNMAPPED_VA);
	assert_int_equal(vmt_modules(&f->g, &l), -EBADMSG);
	assert_null(l);
}

/* -------------------------------------------------------------- sockets */

struct net_fake {
	uint64_t init_net, ehash, lhash2, udp_hash, unix_buckets;
	uint32_t c_node, c_family, c_state, c_num, c_dport, c_daddr, c_rcv_saddr, c_v6_rcv, c_net,
	    c_refcnt, sk_socket, sk_type, sock_size, sa_size, sa_inode, i_ino, i_uid, tw_substate,
	    us_addr, unix_size, ilb_size, ilb_head, hs_size;
};

static void net_layout(struct fake *f, struct net_fake *n)
{
	uint64_t hi = sym("tcp_hashinfo"), ut = sym("udp_table"), head;

	n->c_node = off("sock_common", "skc_node");
	n->c_family = off("sock_common", "skc_family");
	n->c_state = off("sock_common", "skc_state");
	n->c_num = off("sock_common", "skc_num");
	n->c_dport = off("sock_common", "skc_dport");
	n->c_daddr = off("sock_common", "skc_daddr");
	n->c_rcv_saddr = off("sock_common", "skc_rcv_saddr");
	n->c_v6_rcv = off("sock_common", "skc_v6_rcv_saddr");
	n->c_net = off("sock_common", "skc_net");
	n->c_refcnt = off("sock_common", "skc_refcnt");
	n->sk_socket = off("sock", "sk_socket");
	n->sk_type = off("sock", "sk_type");
	n->sock_size = off("tcp6_sock", NULL); /* big enough for every kind */
	n->sa_size = off("socket_alloc", NULL);
	n->sa_inode = off("socket_alloc", "vfs_inode");
	n->i_ino = off("inode", "i_ino");
	n->i_uid = off("inode", "i_uid");
	n->tw_substate = off("inet_timewait_sock", "tw_substate");
	n->us_addr = off("unix_sock", "addr");
	n->unix_size = off("unix_sock", NULL);
	n->ilb_size = off("inet_listen_hashbucket", NULL);
	n->ilb_head = off("inet_listen_hashbucket", "nulls_head");
	n->hs_size = off("udp_hslot", NULL);

	n->init_net = sym("init_net");
	head = sym("net_namespace_list");
	list_init(f, head);
	list_add_tail(f, head, n->init_net + off("net", "list"));
	put32(f, n->init_net + off("net", "ns.inum"), 4026531840u);
	put64(f, n->init_net + off("net", "ipv4.tcp_death_row.hashinfo"), hi);

	/* TCP: 4 established buckets, 2 listening buckets, nulls-terminated. */
	n->ehash = kalloc(f, 4 * 8);
	for (int i = 0; i < 4; i++)
		put64(f, n->ehash + 8 * i, 1 | (uint64_t)i << 1);
	n->lhash2 = kalloc(f, 2 * n->ilb_size);
	for (int i = 0; i < 2; i++)
		put64(f, n->lhash2 + i * n->ilb_size + n->ilb_head, 1);
	put64(f, hi + off("inet_hashinfo", "ehash"), n->ehash);
	put32(f, hi + off("inet_hashinfo", "ehash_mask"), 3);
	put64(f, hi + off("inet_hashinfo", "lhash2"), n->lhash2);
	put32(f, hi + off("inet_hashinfo", "lhash2_mask"), 1);

	/* UDP: 2 slots, NULL-terminated hlists. */
	n->udp_hash = kalloc(f, 2 * n->hs_size);
	put64(f, ut + off("udp_table", "hash"), n->udp_hash);
	put32(f, ut + off("udp_table", "mask"), 1);

	n->unix_buckets = kalloc(f, 512 * 8);
	put64(f, n->init_net + off("net", "unx.table.buckets"), n->unix_buckets);
}

/* A struct sock with an owning struct socket whose inode is ino, uid uid. */
static uint64_t sk_new(struct fake *f, const struct net_fake *n, size_t size, uint16_t family,
		       uint8_t state, uint64_t ino, uint32_t uid)
{
	uint64_t sk = kalloc(f, size);

	put16(f, sk + n->c_family, family);
	put8(f, sk + n->c_state, state);
	put64(f, sk + n->c_net, n->init_net);
	put32(f, sk + n->c_refcnt, 2);
	if (ino) {
		uint64_t sa = kalloc(f, n->sa_size);

		put64(f, sa + n->sa_inode + n->i_ino, ino);
		put32(f, sa + n->sa_inode + n->i_uid, uid);
		put64(f, sk + n->sk_socket, sa + off("socket_alloc", "socket"));
	}
	return sk;
}

static void sk_inet4(struct fake *f, const struct net_fake *n, uint64_t sk, const char *l,
		     uint16_t lport, const char *r, uint16_t rport)
{
	uint8_t a[4];

	assert_int_equal(sscanf(l, "%hhu.%hhu.%hhu.%hhu", &a[0], &a[1], &a[2], &a[3]), 4);
	put(f, sk + n->c_rcv_saddr, a, 4);
	assert_int_equal(sscanf(r, "%hhu.%hhu.%hhu.%hhu", &a[0], &a[1], &a[2], &a[3]), 4);
	put(f, sk + n->c_daddr, a, 4);
	put16(f, sk + n->c_num, lport);
	put16(f, sk + n->c_dport, (uint16_t)(rport >> 8 | rport << 8));
}

static uint64_t unix_new(struct fake *f, const struct net_fake *n, int bucket, uint16_t type,
			 uint8_t state, uint64_t ino, const void *path, int path_len)
{
	uint64_t sk = sk_new(f, n, n->unix_size, 1, state, ino, 0);

	put16(f, sk + n->sk_type, type);
	if (path) {
		uint64_t addr = kalloc(f, 8 + 2 + 110);

		put32(f, addr + off("unix_address", "len"), (uint32_t)(2 + path_len));
		put16(f, addr + off("unix_address", "name"), 1);
		put(f, addr + off("unix_address", "name") + 2, path,
		    (size_t)VMT_MIN(path_len, 108));
		put64(f, sk + n->us_addr, addr);
	}
	hlist_push(f, n->unix_buckets + 8 * bucket, sk + n->c_node);
	return sk;
}

static const struct vmt_socket *find_sock(const struct vmt_socket_list *l, int proto,
					  uint16_t lport, int state)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->socks[i].proto == proto && l->socks[i].lport == lport &&
		    l->socks[i].state == state)
			return &l->socks[i];
	return NULL;
}

static void test_sockets_proc_format(void **state)
{
	struct fake *f = *state;
	struct vmt_socket_list *l = NULL;
	const struct vmt_socket *s;
	struct net_fake n;
	uint64_t sk, req;
	static const uint8_t v6any[16], lo6[16] = {[15] = 1};

	net_layout(f, &n);
	/* TCP listener 0.0.0.0:7001 (inode 100, uid 0), established 127.0.0.1:7001 <- :40000 */
	sk = sk_new(f, &n, n.sock_size, 2, 10, 100, 0);
	sk_inet4(f, &n, sk, "0.0.0.0", 7001, "0.0.0.0", 0);
	hlist_push(f, n.lhash2 + n.ilb_head, sk + n.c_node);
	sk = sk_new(f, &n, n.sock_size, 10, 10, 101, 1000);
	put(f, sk + n.c_v6_rcv, v6any, 16);
	put16(f, sk + n.c_num, 7002);
	hlist_push(f, n.lhash2 + n.ilb_size + n.ilb_head, sk + n.c_node);
	/* a half-open connection to it (NEW_SYN_RECV): SYN_RECV, the listener's uid, no inode */
	req = sk_new(f, &n, off("tcp_request_sock", NULL), 10, 12, 0, 0);
	put16(f, req + n.c_num, 7002);
	put64(f, req + off("sock_common", "skc_listener"), sk);
	hlist_push(f, n.ehash + 16, req + n.c_node);
	sk = sk_new(f, &n, n.sock_size, 2, 1, 102, 0);
	sk_inet4(f, &n, sk, "127.0.0.1", 7001, "127.0.0.1", 40000);
	hlist_push(f, n.ehash + 8, sk + n.c_node);
	/* TIME_WAIT in the same chain, substate FIN_WAIT2 */
	sk = sk_new(f, &n, off("inet_timewait_sock", NULL), 2, 6, 0, 0);
	sk_inet4(f, &n, sk, "127.0.0.1", 40001, "127.0.0.1", 7001);
	put8(f, sk + n.tw_substate, 5);
	hlist_push(f, n.ehash + 8, sk + n.c_node);
	/* UDP [::1]:7004 with a socket, 0.0.0.0:7003 */
	sk = sk_new(f, &n, n.sock_size, 10, 7, 103, 0);
	put(f, sk + n.c_v6_rcv, lo6, 16);
	put16(f, sk + n.c_num, 7004);
	hlist_push(f, n.udp_hash + n.hs_size, sk + n.c_node);
	sk = sk_new(f, &n, n.sock_size, 2, 7, 104, 0);
	sk_inet4(f, &n, sk, "0.0.0.0", 7003, "0.0.0.0", 0);
	hlist_push(f, n.udp_hash, sk + n.c_node);
	/* UNIX: a listening path socket, an abstract one with a NUL inside, an unbound one */
	unix_new(f, &n, 5, 1, 10, 200, "/run/vmt.sock", 14);
	unix_new(f, &n, 300, 1, 7, 201, "\0vmt\0x", 6);
	unix_new(f, &n, 5, 2, 7, 0, NULL, 0);

	assert_int_equal(vmt_sockets(&f->g, &l), 0);
	assert_int_equal(l->flags, 0);
	assert_int_equal(l->bad_chains, 0);
	assert_int_equal(l->init_netns_ino, 4026531840u);
	assert_int_equal(l->n, 10);
	/* Listeners come first, as in /proc/net/tcp. */
	assert_int_equal(l->socks[0].proto, VMT_SOCK_TCP);
	assert_int_equal(l->socks[0].state, 10);

	s = find_sock(l, VMT_SOCK_TCP, 7001, 10);
	assert_non_null(s);
	assert_int_equal(s->inode, 100);
	assert_int_equal(s->netns_ino, 4026531840u);
	s = find_sock(l, VMT_SOCK_TCP6, 7002, 10);
	assert_non_null(s);
	assert_int_equal(s->uid, 1000);
	s = find_sock(l, VMT_SOCK_TCP6, 7002, 3);
	assert_non_null(s);
	assert_int_equal(s->uid, 1000);
	assert_int_equal(s->inode, 0);
	assert_int_equal(s->kva, req);
	s = find_sock(l, VMT_SOCK_TCP, 7001, 1);
	assert_non_null(s);
	assert_int_equal(s->rport, 40000);
	assert_memory_equal(s->raddr, "\x7f\0\0\x01", 4);
	assert_int_equal(s->inode, 102);
	s = find_sock(l, VMT_SOCK_TCP, 40001, 5);
	assert_non_null(s);
	assert_int_equal(s->inode, 0);
	assert_int_equal(s->rport, 7001);
	s = find_sock(l, VMT_SOCK_UDP6, 7004, 7);
	assert_non_null(s);
	assert_memory_equal(s->laddr, lo6, 16);
	assert_non_null(find_sock(l, VMT_SOCK_UDP, 7003, 7));

	s = find_sock(l, VMT_SOCK_UNIX, 0, 1); /* SS_UNCONNECTED, listening */
	assert_non_null(s);
	assert_string_equal(s->path, "/run/vmt.sock");
	assert_int_equal(s->unix_flags, 1u << 16);
	assert_int_equal(s->inode, 200);
	assert_int_equal(s->refcnt, 2);
	for (size_t i = 0; i < l->n; i++) {
		if (l->socks[i].proto == VMT_SOCK_UNIX && l->socks[i].inode == 201) {
			assert_string_equal(l->socks[i].path, "@vmt@x");
			assert_int_equal(l->socks[i].unix_flags, 0);
		}
		if (l->socks[i].proto == VMT_SOCK_UNIX && !l->socks[i].inode) {
			assert_string_equal(l->socks[i].path, "");
			assert_int_equal(l->socks[i].state, 4); /* no socket: SS_DISCONNECTING */
			assert_int_equal(l->socks[i].unix_type, 2);
		}
	}
	vmt_socket_list_free(l);
}

/*
 * Hostile chains: a loop, a pointer outside the kernel, a chain into
 * unmapped memory, an unreadable bucket array, an absurd address length.
 * Each costs its chain only; everything else is still listed.
 */
static void test_sockets_hostile(void **state)
{
	struct fake *f = *state;
	struct vmt_socket_list *l = NULL;
	struct net_fake n;
	uint64_t a, b, c, sk, addr;
	char longpath[300];

	net_layout(f, &n);
	a = sk_new(f, &n, n.sock_size, 2, 1, 1, 0);
	b = sk_new(f, &n, n.sock_size, 2, 1, 2, 0);
	c = sk_new(f, &n, n.sock_size, 2, 1, 7, 0);
	hlist_push(f, n.ehash, a + n.c_node);
	hlist_push(f, n.ehash, b + n.c_node);
	hlist_push(f, n.ehash, c + n.c_node);
	put64(f, a + n.c_node,
	      c + n.c_node); /* c -> b -> a -> c -> ...: seen twice before detection */
	sk = sk_new(f, &n, n.sock_size, 2, 1, 3, 0);
	hlist_push(f, n.ehash + 8, sk + n.c_node);
	put64(f, sk + n.c_node, 0x0000414141414140ull); /* user-space pointer */
	put64(f, n.ehash + 16, UNMAPPED_VA);
	sk = sk_new(f, &n, n.sock_size, 2, 1, 4, 0); /* the sane one */
	hlist_push(f, n.ehash + 24, sk + n.c_node);
	/* UDP table pointer into nowhere */
	put64(f, sym("udp_table") + off("udp_table", "hash"), UNMAPPED_VA);
	/* UNIX: an address length far beyond sun_path */
	memset(longpath, 'p', sizeof(longpath));
	sk = unix_new(f, &n, 7, 1, 7, 5, "/x", 3);
	addr = *(uint64_t *)at(f, sk + n.us_addr, 8);
	put32(f, addr + off("unix_address", "len"), 100000);
	put(f, addr + off("unix_address", "name") + 2, longpath, 108);
	/* and a socket of the wrong family in the UNIX table */
	sk = sk_new(f, &n, n.unix_size, 2, 7, 6, 0);
	hlist_push(f, n.unix_buckets + 8 * 9, sk + n.c_node);

	assert_int_equal(vmt_sockets(&f->g, &l), 0);
	assert_true(l->flags & VMT_F_PARTIAL);
	/* the loop, the user pointer, the unmapped chain, both UDP slots */
	assert_int_equal(l->bad_chains, 5);
	for (size_t i = 0; i < l->n; i++)
		if (l->socks[i].proto == VMT_SOCK_UNIX) {
			assert_int_equal(l->socks[i].inode, 5);
			assert_int_equal(strlen(l->socks[i].path), 107);
			assert_true(l->socks[i].flags & VMT_F_TRUNCATED);
		}
	/* c, b and a once each, 3, 4 and the UNIX one */
	assert_int_equal(l->n, 6);
	assert_int_equal(l->socks[0].inode, 7);
	assert_int_equal(l->socks[1].inode, 2);
	assert_int_equal(l->socks[2].inode, 1);
	vmt_socket_list_free(l);
}

/* A table size from the guest is capped, and an unreadable table costs one read per block. */
static void test_sockets_huge_table(void **state)
{
	struct fake *f = *state;
	struct vmt_socket_list *l = NULL;
	struct net_fake n;
	uint64_t hi = sym("tcp_hashinfo");

	net_layout(f, &n);
	put64(f, hi + off("inet_hashinfo", "ehash"), UNMAPPED_VA);
	put32(f, hi + off("inet_hashinfo", "ehash_mask"), 0xffffffffu);
	unix_new(f, &n, 1, 2, 7, 9, NULL, 0);
	assert_int_equal(vmt_sockets(&f->g, &l), 0);
	assert_int_equal(l->flags, VMT_F_PARTIAL | VMT_F_TRUNCATED);
	assert_int_equal(l->bad_chains, 1u << 24);
	assert_int_equal(l->n, 1); /* the UNIX socket after the lost table */
	vmt_socket_list_free(l);
}

/* -------------------------------------------------------------- sysinfo */

static void put_vmstat(struct fake *f, const char *array, const char *type, const char *item,
		       int64_t v)
{
	put64(f, sym(array) + 8 * (uint64_t)enumval(type, item), (uint64_t)v);
}

static void test_sysinfo(void **state)
{
	struct fake *f = *state;
	struct vmt_sysinfo si;
	uint64_t uts = sym("init_uts_ns"), tk, pgdat, sb, bd1, bd2, map1, map2;
	uint32_t zone_sz = off("zone", NULL), zones = off("pglist_data", "node_zones");
	int64_t avail, pagecache, wmark = 0;

	putstr(f, uts + off("uts_namespace", "name.sysname"), "Linux");
	putstr(f, uts + off("uts_namespace", "name.nodename"), "vmt-guest");
	putstr(f, uts + off("uts_namespace", "name.release"), "6.1.0-test");
	putstr(f, uts + off("uts_namespace", "name.machine"), "x86_64");

	/* tk_core: seq 2 (no writer), the timekeeper 8 bytes in. */
	tk = sym("tk_core") + 8;
	put32(f, sym("tk_core"), 2);
	put64(f, tk + off("timekeeper", "tkr_mono.clock"), PAGE_OFFSET + 0x1000);
	put32(f, tk + off("timekeeper", "tkr_mono.mult"), 1);
	put32(f, tk + off("timekeeper", "tkr_mono.shift"), 8);
	put64(f, tk + off("timekeeper", "tkr_mono.xtime_nsec"), 500ull << 8);
	put64(f, tk + off("timekeeper", "tkr_mono.base"), 10000000000ull);
	put64(f, tk + off("timekeeper", "offs_boot"), 1000000000ull);
	put64(f, tk + off("timekeeper", "offs_real"), 1700000001000000000ull);

	put64(f, sym("_totalram_pages"), 1000);
	put64(f, sym("totalreserve_pages"), 10);
	put_vmstat(f, "vm_zone_stat", "zone_stat_item", "NR_FREE_PAGES", 400);
	put_vmstat(f, "vm_node_stat", "node_stat_item", "NR_FILE_PAGES", 300);
	put_vmstat(f, "vm_node_stat", "node_stat_item", "NR_ACTIVE_FILE", 100);
	put_vmstat(f, "vm_node_stat", "node_stat_item", "NR_INACTIVE_FILE", 150);
	put_vmstat(f, "vm_node_stat", "node_stat_item", "NR_SLAB_RECLAIMABLE_B", 40);
	put_vmstat(f, "vm_node_stat", "node_stat_item", "NR_KERNEL_MISC_RECLAIMABLE", -5);
	put_vmstat(f, "vm_node_stat", "node_stat_item", "NR_SWAPCACHE", 0);
	/* one node, its second zone has a low watermark of 30 and a boost of 2 */
	pgdat = kalloc(f, off("pglist_data", NULL));
	put32(f, sym("nr_node_ids"), 1);
	put64(f, sym("node_data"), pgdat);
	put64(f, pgdat + zones + zone_sz + off("zone", "_watermark") + 8, 30);
	put64(f, pgdat + zones + zone_sz + off("zone", "watermark_boost"), 2);
	wmark = 32;
	/* two block devices holding 3 and 4 pages */
	sb = kalloc(f, off("super_block", NULL));
	put64(f, sym("blockdev_superblock"), sb);
	list_init(f, sb + off("super_block", "s_inodes"));
	bd1 = kalloc(f, off("inode", NULL));
	bd2 = kalloc(f, off("inode", NULL));
	map1 = kalloc(f, off("address_space", NULL));
	map2 = kalloc(f, off("address_space", NULL));
	put64(f, bd1 + off("inode", "i_mapping"), map1);
	put64(f, bd2 + off("inode", "i_mapping"), map2);
	put64(f, map1 + off("address_space", "nrpages"), 3);
	put64(f, map2 + off("address_space", "nrpages"), 4);
	list_add_tail(f, sb + off("super_block", "s_inodes"), bd1 + off("inode", "i_sb_list"));
	list_add_tail(f, sb + off("super_block", "s_inodes"), bd2 + off("inode", "i_sb_list"));
	put32(f, sym("__num_online_cpus"), 2);
	put32(f, sym("nr_threads"), 77);

	assert_int_equal(vmt_sysinfo(&f->g, &si), 0);
	assert_int_equal(si.flags, 0);
	assert_string_equal(si.sysname, "Linux");
	assert_string_equal(si.nodename, "vmt-guest");
	assert_string_equal(si.release, "6.1.0-test");
	assert_string_equal(si.machine, "x86_64");
	assert_int_equal(si.uptime_ns, 11000000500ull);
	assert_int_equal(si.boot_time_s, 1700000000ull);
	assert_int_equal(si.mem_total_kb, 4000);
	assert_int_equal(si.mem_free_kb, 1600);
	assert_int_equal(si.buffers_kb, 28);
	assert_int_equal(si.cached_kb, (300 - 7) * 4);
	/* si_mem_available(): misc reclaimable is clamped at 0 like the kernel does */
	pagecache = 250 - VMT_MIN(250 / 2, wmark);
	avail = 400 - 10 + pagecache + 40 - VMT_MIN(40 / 2, wmark);
	assert_int_equal(si.mem_available_kb, avail * 4);
	assert_int_equal(si.nr_cpus, 2);
	assert_int_equal(si.nr_tasks, 77);
}

/* A writer in progress forever and a broken memory state: PARTIAL, not a failure. */
static void test_sysinfo_hostile(void **state)
{
	struct fake *f = *state;
	struct vmt_sysinfo si;
	uint64_t sb;

	putstr(f, sym("init_uts_ns") + off("uts_namespace", "name.sysname"), "Linux");
	put32(f, sym("tk_core"), 3); /* odd: a writer never finishes */
	put32(f, sym("nr_node_ids"), 0x7fffffff);
	put64(f, sym("node_data"), UNMAPPED_VA);
	sb = kalloc(f, off("super_block", NULL));
	put64(f, sym("blockdev_superblock"), sb);
	put64(f, sb + off("super_block", "s_inodes"), sb + off("super_block", "s_inodes") + 8);
	assert_int_equal(vmt_sysinfo(&f->g, &si), 0);
	assert_int_equal(si.flags, VMT_F_PARTIAL);
	assert_string_equal(si.sysname, "Linux");
	assert_int_equal(si.uptime_ns, 0); /* shadow_timekeeper is all zeroes: insane */
	assert_int_equal(si.mem_available_kb, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_modules_proc_format, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_modules_cycle, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_modules_hostile, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_sockets_proc_format, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_sockets_hostile, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_sockets_huge_table, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_sysinfo, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_sysinfo_hostile, fake_setup, fake_teardown),
	};

	int failed;

	if (!profile_load())
		return 77; /* meson: skipped */
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	profile_unload();
	return failed;
}
