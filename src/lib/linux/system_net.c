// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * system_net.c - the rest of /proc/net: raw, raw6, packet and netlink
 * sockets, sockstat{,6} counters and network devices with their stats, as
 * Linux 6.1 keeps them:
 *
 *   raw, raw6  raw_v{4,6}_hashinfo.ht[256]: hlist_nulls through sk_nulls_node
 *   packet     net->packet.sklist: hlist through sk_node
 *   netlink    nl_table[MAX_LINKS].hash: rhashtables (bucket_table, chains
 *              of rhash_head ending in a nulls marker; bit 0 of a bucket
 *              pointer is its lock)
 *   sockstat   per-CPU net->core.prot_inuse (all, val[prot->inuse_idx]),
 *              tcp_orphan_count, tcp_sockets_allocated, memory_allocated,
 *              fqdir counters
 *   dev        init_net.dev_base_head; dev_get_stats(): the loopback's
 *              per-CPU lstats, else dev->stats, plus per-CPU core_stats;
 *              flags, addresses and the rest ifconfig shows in netif.c
 *
 * Reuses the socket walkers' layouts and net namespace list (sockets.c);
 * every chain is bounded and cycle-checked.
 */
#include <stdlib.h>
#include <string.h>

#include "linux/netif.h"
#include "linux/sockets.h"
#include "linux/system.h"

#define NET_MAX_LINKS	  32 /* MAX_LINKS of netlink */
#define NET_RAW_HTABLE	  256
#define NET_MAX_RHT	  (1u << 20)
#define NET_MAX_DEVS	  4096
#define NET_PROTO_INUSE_N 64

struct more_walk {
	struct sock_walk sw;
	struct vmt_sock_more_list *l;
	size_t cap;
	uint32_t sk_drops, sk_protocol, raw_ht, po_num, po_ifindex, po_flags, po_running;
	uint32_t po_running_bit;
	uint32_t nlk_portid, nlk_groups, nlk_cb_running, nlk_node;
	uint32_t nlt_hash, nlt_size, rht_tbl, bt_size, bt_buckets, net_packet_sklist;
	int proto;
	uint32_t bucket;
};

static struct vmt_sock_more *more_new(struct more_walk *w)
{
	struct vmt_sock_more *m;

	if (w->l->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 64;

		m = reallocarray(w->l->socks, cap, sizeof(*m));
		if (!m)
			return NULL;
		w->l->socks = m;
		w->cap = cap;
	}
	m = &w->l->socks[w->l->n++];
	memset(m, 0, sizeof(*m));
	return m;
}

/* The fields every /proc/net file of these prints. */
static int more_fill(struct more_walk *w, uint64_t sk, struct vmt_sock_more *m)
{
	const struct sock_offsets *o = &w->sw.o;
	struct vmt_guest *g = w->sw.g;
	uint64_t skc = sk + o->sk_common, net;
	uint16_t type = 0, proto = 0;
	uint8_t state = 0;
	bool bad = false;

	m->proto = w->proto;
	m->bucket = w->bucket;
	m->kva = sk;
	if (vmt_kread(g, skc + o->c_state, &state, 1) || vmt_kread(g, sk + o->sk_type, &type, 2) ||
	    vmt_kread_u32(g, skc + o->c_refcnt, &m->refcnt) ||
	    vmt_kread_u32(g, sk + w->sk_drops, &m->drops))
		return -EFAULT;
	m->state = state;
	m->type = type;
	if (w->sk_protocol != UINT32_MAX && !vmt_kread(g, sk + w->sk_protocol, &proto, 2))
		m->protocol = proto;
	if (o->sk_rmem_alloc != UINT32_MAX)
		bad |= vmt_kread_u32(g, sk + o->sk_rmem_alloc, &m->rmem) != 0;
	if (o->sk_wmem_alloc != UINT32_MAX && !vmt_kread_u32(g, sk + o->sk_wmem_alloc, &m->wmem))
		m->wmem = m->wmem ? m->wmem - 1 : 0; /* sk_wmem_alloc_get() */
	if (vmt_kread_u64(g, skc + o->c_net, &net))
		bad = true;
	else
		m->netns_ino = sock_netns_ino(&w->sw, net);
	if (sock_owner(&w->sw, sk, &m->uid, &m->inode))
		bad = true;
	if (bad)
		m->flags |= VMT_F_PARTIAL;
	return 0;
}

/*
 * A new entry for the sock at sk, filled with what every kind shares: 0 and
 * *out, or 1 when the sock cannot be read (no entry; the list is partial),
 * or -ENOMEM.
 */
static int more_add(struct more_walk *w, uint64_t sk, struct vmt_sock_more **out)
{
	struct vmt_sock_more *m = more_new(w);

	if (!m)
		return -ENOMEM;
	if (more_fill(w, sk, m)) {
		w->l->n--;
		w->l->flags |= VMT_F_PARTIAL;
		return 1;
	}
	*out = m;
	return 0;
}

/* ---------------------------------------------------------------- raw */

static int raw_one(struct vmt_guest *g, uint64_t node, void *arg)
{
	struct more_walk *w = arg;
	const struct sock_offsets *o = &w->sw.o;
	uint64_t sk = node - o->c_node - o->sk_common, skc = sk + o->sk_common;
	struct vmt_sock_more *m = NULL;
	uint16_t num = 0;
	int ret;

	ret = more_add(w, sk, &m);
	if (ret)
		return ret < 0 ? ret : 0;
	if (vmt_kread(g, skc + o->c_num, &num, 2))
		m->flags |= VMT_F_PARTIAL;
	m->protocol = num;
	if (w->proto == VMT_SOCK_RAW) {
		if (vmt_kread(g, skc + o->c_rcv_saddr, m->laddr, 4) ||
		    vmt_kread(g, skc + o->c_daddr, m->raddr, 4))
			m->flags |= VMT_F_PARTIAL;
	} else if (o->c_v6_daddr == UINT32_MAX ||
		   vmt_kread(g, skc + o->c_v6_rcv_saddr, m->laddr, 16) ||
		   vmt_kread(g, skc + o->c_v6_daddr, m->raddr, 16)) {
		m->flags |= VMT_F_PARTIAL;
	}
	return 0;
}

static int more_raw(struct more_walk *w, const char *table, int proto)
{
	uint64_t ht, heads[NET_RAW_HTABLE];
	int err;

	if (vmt_ksym(w->sw.g, table, &ht))
		return 0; /* IPv6 not in this kernel */
	if (vmt_kread(w->sw.g, ht + w->raw_ht, heads, sizeof(heads))) {
		w->l->flags |= VMT_F_PARTIAL;
		return 0;
	}
	w->proto = proto;
	for (uint32_t b = 0; b < NET_RAW_HTABLE; b++) {
		if (!heads[b] || (heads[b] & 1))
			continue;
		w->bucket = b;
		err = vmt_hlist_walk(w->sw.g, heads[b], VMT_MAX_SOCKETS, raw_one, w);
		if (err == -ENOMEM)
			return err;
		if (err)
			w->l->flags |= VMT_F_PARTIAL;
	}
	return 0;
}

/* ------------------------------------------------------------- packet */

static int packet_one(struct vmt_guest *g, uint64_t node, void *arg)
{
	struct more_walk *w = arg;
	uint64_t sk = node - w->sw.o.c_node - w->sw.o.sk_common, word;
	struct vmt_sock_more *m = NULL;
	uint16_t num = 0;
	int ret;

	ret = more_add(w, sk, &m);
	if (ret)
		return ret < 0 ? ret : 0;
	if (vmt_kread(g, sk + w->po_num, &num, 2) ||
	    vmt_kread(g, sk + w->po_ifindex, &m->ifindex, 4))
		m->flags |= VMT_F_PARTIAL;
	m->protocol = (uint16_t)((num >> 8) | (num << 8));
	if (w->po_running_bit != UINT32_MAX &&
	    !vmt_kread_u64(g, sk + w->po_running_bit / 64 * 8, &word))
		m->running = (word >> (w->po_running_bit % 64)) & 1;
	return 0;
}

static int more_packet(struct more_walk *w)
{
	w->proto = VMT_SOCK_PACKET;
	w->bucket = 0;
	if (w->po_num == UINT32_MAX || w->net_packet_sklist == UINT32_MAX)
		return 0; /* no AF_PACKET in this kernel */
	for (size_t i = 0; i < w->sw.nr_nets; i++) {
		uint64_t first;
		int err;

		if (vmt_kread_u64(w->sw.g, w->sw.nets[i].kva + w->net_packet_sklist, &first)) {
			w->l->flags |= VMT_F_PARTIAL;
			continue;
		}
		if (!first)
			continue;
		err = vmt_hlist_walk(w->sw.g, first, VMT_MAX_SOCKETS, packet_one, w);
		if (err == -ENOMEM)
			return err;
		if (err)
			w->l->flags |= VMT_F_PARTIAL;
	}
	return 0;
}

/* ------------------------------------------------------------ netlink */

static int netlink_one(struct more_walk *w, uint64_t nlk)
{
	struct vmt_guest *g = w->sw.g;
	struct vmt_sock_more *m = NULL;
	uint64_t groups = 0;
	uint8_t cb = 0;
	int ret;

	ret = more_add(w, nlk, &m);
	if (ret)
		return ret < 0 ? ret : 0;
	if (vmt_kread_u32(g, nlk + w->nlk_portid, &m->portid) ||
	    vmt_kread_u64(g, nlk + w->nlk_groups, &groups) ||
	    (groups && vmt_kread_u32(g, groups, &m->groups)) ||
	    vmt_kread(g, nlk + w->nlk_cb_running, &cb, 1))
		m->flags |= VMT_F_PARTIAL;
	m->cb_running = cb != 0;
	return 0;
}

/*
 * One chain of an rhashtable bucket, until its nulls marker (bit 0 set).
 * A chain that loops is caught within two laps (Brent: the tortoise jumps
 * to the hare at every power of two), its entries kept, flagged.
 */
static int netlink_chain(struct more_walk *w, uint64_t p)
{
	uint64_t tortoise, power = 1, lam = 0;
	int err;

	p &= ~1ull; /* a bucket pointer's bit 0 is its lock */
	for (tortoise = p; p && !(p & 1);) {
		if (!vmt_kptr_ok(p) || w->l->n >= VMT_MAX_SOCKETS)
			return -EBADMSG;
		err = netlink_one(w, p - w->nlk_node);
		if (err)
			return err;
		if (vmt_kread_u64(w->sw.g, p, &p))
			return -EFAULT;
		if (p == tortoise)
			return -EBADMSG;
		if (++lam == power) {
			tortoise = p;
			power *= 2;
			lam = 0;
		}
	}
	return 0;
}

/* One rhashtable: buckets in order, each chain in order. */
static int netlink_table(struct more_walk *w, uint64_t tbl)
{
	struct vmt_guest *g = w->sw.g;
	uint32_t size;
	int err, bad = 0;

	if (!vmt_kptr_ok(tbl) || vmt_kread_u32(g, tbl + w->bt_size, &size) || size > NET_MAX_RHT)
		return -EBADMSG;
	for (uint32_t b = 0; b < size; b++) {
		uint64_t p;

		if (vmt_kread_u64(g, tbl + w->bt_buckets + 8ull * b, &p))
			return -EFAULT;
		err = netlink_chain(w, p);
		if (err == -ENOMEM)
			return err;
		if (err)
			bad = err;
	}
	return bad;
}

/*
 * A split VM: the netlink tables a level at a time, all 32 together (their
 * headers, bucket arrays, each bucket's first sock, its owner), instead of
 * a round trip per table and sock.  Hints only; chains longer than one are
 * read as they come.
 */
static void netlink_hints(struct more_walk *w, uint64_t tables)
{
	struct vmt_guest *g = w->sw.g;
	uint32_t len = VMT_MAX(VMT_MAX(w->nlk_portid, w->nlk_groups),
			       VMT_MAX(w->nlk_cb_running, w->sk_drops)) +
		       8;
	struct vmt_hints h = {0}, socks = {0};
	uint64_t tbl[NET_MAX_LINKS] = {0}, p;
	uint32_t size[NET_MAX_LINKS] = {0};

	if (!vmt_mem_hints_pay(g->mem))
		return;
	vmt_hints_add(&h, tables, VMT_MIN(NET_MAX_LINKS * w->nlt_size, 64u << 10));
	vmt_hints_flush(g, &h);
	for (uint32_t i = 0; i < NET_MAX_LINKS; i++)
		if (!vmt_kread_u64(g, tables + (uint64_t)i * w->nlt_size + w->nlt_hash + w->rht_tbl,
				   &tbl[i]))
			vmt_hints_add(&h, tbl[i], w->bt_buckets + 8);
	vmt_hints_flush(g, &h);
	for (uint32_t i = 0; i < NET_MAX_LINKS; i++)
		if (vmt_kptr_ok(tbl[i]) && !vmt_kread_u32(g, tbl[i] + w->bt_size, &size[i]))
			vmt_hints_add(&h, tbl[i] + w->bt_buckets,
				      (uint32_t)VMT_MIN(8ull * size[i], 64u << 10));
	vmt_hints_flush(g, &h);
	for (uint32_t i = 0; i < NET_MAX_LINKS; i++)
		for (uint32_t b = 0; vmt_kptr_ok(tbl[i]) && b < VMT_MIN(size[i], 8192u); b++)
			if (!vmt_kread_u64(g, tbl[i] + w->bt_buckets + 8ull * b, &p) && !(p & 1) &&
			    (p & ~1ull))
				vmt_hints_add(&socks, (p & ~1ull) - w->nlk_node, len);
	sock_hint_socks(&w->sw, &socks);
	free(h.r);
	free(socks.r);
}

static int more_netlink(struct more_walk *w)
{
	uint64_t va, tables, tbl;
	int err;

	w->proto = VMT_SOCK_NETLINK;
	w->bucket = 0;
	if (vmt_ksym(w->sw.g, "nl_table", &va) || vmt_kread_u64(w->sw.g, va, &tables) ||
	    !vmt_kptr_ok(tables)) {
		w->l->flags |= VMT_F_PARTIAL;
		return 0;
	}
	netlink_hints(w, tables);
	for (uint32_t i = 0; i < NET_MAX_LINKS; i++) {
		uint64_t t = tables + (uint64_t)i * w->nlt_size;

		if (vmt_kread_u64(w->sw.g, t + w->nlt_hash + w->rht_tbl, &tbl)) {
			w->l->flags |= VMT_F_PARTIAL;
			continue;
		}
		if (!tbl)
			continue;
		err = netlink_table(w, tbl);
		if (err == -ENOMEM)
			return err;
		if (err)
			w->l->flags |= VMT_F_PARTIAL;
	}
	return 0;
}

static int more_offsets(struct more_walk *w)
{
	/* clang-format off */
	const struct vmt_field_req req[] = {
		{"sock", "sk_drops", &w->sk_drops, false},
		{"sock", "sk_protocol", &w->sk_protocol, true},
		{"raw_hashinfo", "ht", &w->raw_ht, false},
		{"packet_sock", "num", &w->po_num, true},
		{"packet_sock", "ifindex", &w->po_ifindex, true},
		{"packet_sock", "flags", &w->po_flags, true},
		{"packet_sock", "running", &w->po_running, true},
		{"net", "packet.sklist", &w->net_packet_sklist, true},
		{"netlink_sock", "portid", &w->nlk_portid, false},
		{"netlink_sock", "groups", &w->nlk_groups, false},
		{"netlink_sock", "cb_running", &w->nlk_cb_running, false},
		{"netlink_sock", "node", &w->nlk_node, false},
		{"netlink_table", "hash", &w->nlt_hash, false},
		{"netlink_table", NULL, &w->nlt_size, false},
		{"rhashtable", "tbl", &w->rht_tbl, false},
		{"bucket_table", "size", &w->bt_size, false},
		{"bucket_table", "buckets", &w->bt_buckets, false},
	};
	/* clang-format on */
	int64_t bit;
	int err = vmt_resolve_fields(w->sw.g, req, ARRAY_SIZE(req));

	/*
	 * po->running: an int before, bit PACKET_SOCK_RUNNING of po->flags
	 * since "net/packet: convert po->running to an atomic flag" (6.1.y).
	 */
	w->po_running_bit = UINT32_MAX;
	if (!err && w->po_flags != UINT32_MAX &&
	    !vmt_profile_enum(w->sw.g->prof, NULL, "PACKET_SOCK_RUNNING", &bit) && bit >= 0 &&
	    bit < 64)
		w->po_running_bit = w->po_flags * 8 + (uint32_t)bit;
	else if (!err && w->po_running != UINT32_MAX)
		w->po_running_bit = w->po_running * 8; /* an int: its lowest bit says it */
	return err;
}

int vmt_sockets_more(struct vmt_guest *g, struct vmt_sock_more_list **out)
{
	struct more_walk w = {0};
	int err;

	*out = NULL;
	err = sock_walk_init(g, &w.sw);
	if (err)
		return err;
	err = more_offsets(&w);
	if (!err && !(w.l = calloc(1, sizeof(*w.l))))
		err = -ENOMEM;
	if (!err) {
		w.l->init_netns_ino = w.sw.l->init_netns_ino;
		w.l->flags = w.sw.l->flags;
		err = more_raw(&w, "raw_v4_hashinfo", VMT_SOCK_RAW);
	}
	if (!err)
		err = more_raw(&w, "raw_v6_hashinfo", VMT_SOCK_RAW6);
	if (!err)
		err = more_packet(&w);
	if (!err)
		err = more_netlink(&w);
	sock_walk_fini(&w.sw);
	if (err) {
		vmt_sock_more_list_free(w.l);
		return err;
	}
	*out = w.l;
	return 0;
}

void vmt_sock_more_list_free(struct vmt_sock_more_list *l)
{
	if (!l)
		return;
	free(l->socks);
	free(l);
}

/* ----------------------------------------------------------- sockstat */

struct stat_ctx {
	struct vmt_guest *g;
	struct sys_cpus cpus;
	uint64_t prot_inuse; /* init_net.core.prot_inuse (per-CPU) */
	uint32_t inuse_idx, val;
};

/* sock_prot_inuse_get(): per-CPU val[prot->inuse_idx], clamped at 0. */
static int32_t prot_inuse(struct stat_ctx *c, const char *prot, uint32_t *flags)
{
	uint64_t va, base;
	uint32_t idx;
	int32_t sum = 0, v;

	if (vmt_ksym(c->g, prot, &va))
		return 0;
	if (vmt_kread_u32(c->g, va + c->inuse_idx, &idx) || idx >= NET_PROTO_INUSE_N) {
		*flags |= VMT_F_PARTIAL;
		return 0;
	}
	for (uint32_t cpu = 0; cpu < c->cpus.nr_ids; cpu++) {
		if (!sys_cpu_in(c->cpus.possible, cpu))
			continue;
		if (sys_percpu_base(c->g, cpu, &base) ||
		    vmt_kread(c->g, c->prot_inuse + base + c->val + 4ull * idx, &v, 4))
			*flags |= VMT_F_PARTIAL;
		else
			sum += v;
	}
	return sum < 0 ? 0 : sum;
}

/* A per-CPU int summed over the possible CPUs (sock_inuse_get, tcp_orphan_count_sum). */
static int32_t percpu_int_sum(struct stat_ctx *c, uint64_t off, uint32_t *flags)
{
	uint64_t base;
	int32_t sum = 0, v;

	for (uint32_t cpu = 0; cpu < c->cpus.nr_ids; cpu++) {
		if (!sys_cpu_in(c->cpus.possible, cpu))
			continue;
		if (sys_percpu_base(c->g, cpu, &base) || vmt_kread(c->g, off + base, &v, 4))
			*flags |= VMT_F_PARTIAL;
		else
			sum += v;
	}
	return sum;
}

/* percpu_counter_sum_positive() of the counter at va. */
static int32_t counter_sum(struct stat_ctx *c, uint64_t va, uint32_t *flags)
{
	uint32_t count, counters;
	int64_t sum;
	uint64_t pcpu;

	if (vmt_profile_field(c->g->prof, "percpu_counter", "count", &count) ||
	    vmt_profile_field(c->g->prof, "percpu_counter", "counters", &counters) ||
	    vmt_kread(c->g, va + count, &sum, 8) || vmt_kread_u64(c->g, va + counters, &pcpu)) {
		*flags |= VMT_F_PARTIAL;
		return 0;
	}
	for (uint32_t cpu = 0; cpu < c->cpus.nr_ids; cpu++) {
		uint64_t base;
		int32_t d;

		if (sys_cpu_in(c->cpus.online, cpu) && !sys_percpu_base(c->g, cpu, &base) &&
		    !vmt_kread(c->g, pcpu + base, &d, 4))
			sum += d;
	}
	return sum < 0 ? 0 : sum > INT32_MAX ? INT32_MAX : (int32_t)sum;
}

static int64_t sym_long(struct stat_ctx *c, const char *name, uint32_t *flags)
{
	int64_t v = 0;
	uint64_t va;

	if (vmt_ksym(c->g, name, &va) || vmt_kread(c->g, va, &v, 8))
		*flags |= VMT_F_PARTIAL;
	return v < 0 ? 0 : v;
}

/* fqdir counters: rhashtable.nelems and mem of net->ipv{4,6}.fqdir. */
static void fqdir_read(struct stat_ctx *c, uint64_t net, const char *path, uint32_t *inuse,
		       uint64_t *mem, uint32_t *flags)
{
	uint32_t off, nelems, memoff;
	uint64_t fq;

	if (vmt_profile_field(c->g->prof, "net", path, &off) ||
	    vmt_profile_field(c->g->prof, "fqdir", "rhashtable.nelems", &nelems) ||
	    vmt_profile_field(c->g->prof, "fqdir", "mem", &memoff) ||
	    vmt_kread_u64(c->g, net + off, &fq) || !vmt_kptr_ok(fq) ||
	    vmt_kread_u32(c->g, fq + nelems, inuse) || vmt_kread_u64(c->g, fq + memoff, mem))
		*flags |= VMT_F_PARTIAL;
}

int vmt_sockstat(struct vmt_guest *g, struct vmt_sockstat *s)
{
	struct stat_ctx *c;
	uint64_t net, va, off64;
	uint32_t off, tw = 0;
	int err;

	memset(s, 0, sizeof(*s));
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->g = g;
	err = sys_cpus_read(g, &c->cpus);
	if (!err)
		err = vmt_ksym(g, "init_net", &net);
	if (!err)
		err = vmt_profile_field(g->prof, "net", "core.prot_inuse", &off);
	if (!err)
		err = vmt_kread_u64(g, net + off, &c->prot_inuse);
	if (!err)
		err = vmt_profile_field(g->prof, "proto", "inuse_idx", &c->inuse_idx);
	if (!err)
		err = vmt_profile_field(g->prof, "prot_inuse", "val", &c->val);
	if (err) {
		free(c);
		return vmt_error(err, "init_net's prot_inuse unreadable");
	}
	s->sockets_used = percpu_int_sum(c, c->prot_inuse, &s->flags); /* ->all at offset 0 */
	s->tcp_inuse = prot_inuse(c, "tcp_prot", &s->flags);
	if (!sys_percpu_sym(g, "tcp_orphan_count", &off64))
		s->tcp_orphan = percpu_int_sum(c, off64, &s->flags);
	if (!vmt_profile_field(g->prof, "net", "ipv4.tcp_death_row.tw_refcount", &off) &&
	    !vmt_kread_u32(g, net + off, &tw))
		s->tcp_tw = (int32_t)tw - 1;
	if (!vmt_ksym(g, "tcp_sockets_allocated", &va))
		s->tcp_alloc = counter_sum(c, va, &s->flags);
	s->tcp_mem = sym_long(c, "tcp_memory_allocated", &s->flags);
	s->udp_inuse = prot_inuse(c, "udp_prot", &s->flags);
	s->udp_mem = sym_long(c, "udp_memory_allocated", &s->flags);
	s->udplite_inuse = prot_inuse(c, "udplite_prot", &s->flags);
	s->raw_inuse = prot_inuse(c, "raw_prot", &s->flags);
	fqdir_read(c, net, "ipv4.fqdir", &s->frag_inuse, &s->frag_mem, &s->flags);
	s->have_v6 = !vmt_ksym(g, "tcpv6_prot", &va);
	if (s->have_v6) {
		s->tcp6_inuse = prot_inuse(c, "tcpv6_prot", &s->flags);
		s->udp6_inuse = prot_inuse(c, "udpv6_prot", &s->flags);
		s->udplite6_inuse = prot_inuse(c, "udplitev6_prot", &s->flags);
		s->raw6_inuse = prot_inuse(c, "rawv6_prot", &s->flags);
		fqdir_read(c, net, "ipv6.fqdir", &s->frag6_inuse, &s->frag6_mem, &s->flags);
	}
	free(c);
	return 0;
}

/* ---------------------------------------------------------------- dev */

struct dev_walk {
	struct vmt_netdev_list *l;
	struct sys_cpus *cpus;
	uint32_t dev_list, name, ifindex, stats, core_stats, lstats, ops, get_stats64;
	uint32_t ls_packets, ls_bytes, cs_rx_dropped, cs_tx_dropped, cs_rx_nohandler;
	uint64_t loopback_stats64; /* run-time address of loopback_get_stats64 */
	struct netif_offsets nif;  /* state and addresses (netif.c) */
};

/* rtnl_link_stats64 from struct net_device_stats (unsigned longs, this order). */
static void dev_generic(const uint64_t *st, struct vmt_netdev *d)
{
	enum {
		RXP,
		TXP,
		RXB,
		TXB,
		RXE,
		TXE,
		RXD,
		TXD,
		MC,
		COLL,
		RXLEN,
		RXOVER,
		RXCRC,
		RXFRAME,
		RXFIFO,
		RXMISSED,
		TXABORT,
		TXCARRIER,
		TXFIFO,
		TXHB,
		TXWIN,
		RXCOMP,
		TXCOMP
	};

	d->rx_packets = st[RXP];
	d->tx_packets = st[TXP];
	d->rx_bytes = st[RXB];
	d->tx_bytes = st[TXB];
	d->rx_errors = st[RXE];
	d->tx_errors = st[TXE];
	d->rx_dropped = st[RXD] + st[RXMISSED];
	d->tx_dropped = st[TXD];
	d->multicast = st[MC];
	d->collisions = st[COLL];
	d->rx_frame = st[RXLEN] + st[RXOVER] + st[RXCRC] + st[RXFRAME];
	d->rx_fifo = st[RXFIFO];
	d->tx_carrier = st[TXABORT] + st[TXCARRIER] + st[TXWIN] + st[TXHB];
	d->tx_fifo = st[TXFIFO];
	d->rx_compressed = st[RXCOMP];
	d->tx_compressed = st[TXCOMP];
}

/* Sum a per-CPU u64 at pcpu + off over the possible CPUs. */
static uint64_t dev_pcpu_u64(struct vmt_guest *g, struct dev_walk *w, uint64_t pcpu, uint32_t off,
			     bool *bad)
{
	uint64_t sum = 0, base, v;

	for (uint32_t cpu = 0; cpu < w->cpus->nr_ids; cpu++) {
		if (!sys_cpu_in(w->cpus->possible, cpu))
			continue;
		if (sys_percpu_base(g, cpu, &base) || vmt_kread_u64(g, pcpu + base + off, &v))
			*bad = true;
		else
			sum += v;
	}
	return sum;
}

static void dev_stats(struct vmt_guest *g, struct dev_walk *w, uint64_t dev, struct vmt_netdev *d)
{
	uint64_t st[23] = {0}, ops = 0, fn = 0, pcpu = 0;
	bool bad = false;

	if (vmt_kread(g, dev + w->stats, st, sizeof(st)) || vmt_kread_u64(g, dev + w->ops, &ops) ||
	    (vmt_kptr_ok(ops) && vmt_kread_u64(g, ops + w->get_stats64, &fn))) {
		d->flags |= VMT_F_PARTIAL;
		return;
	}
	if (fn && fn == w->loopback_stats64 && w->lstats != UINT32_MAX &&
	    !vmt_kread_u64(g, dev + w->lstats, &pcpu) && pcpu) {
		/* a __percpu pointer: an offset, not a kernel address */
		/* loopback_get_stats64(): what it sends it receives */
		d->rx_packets = d->tx_packets = dev_pcpu_u64(g, w, pcpu, w->ls_packets, &bad);
		d->rx_bytes = d->tx_bytes = dev_pcpu_u64(g, w, pcpu, w->ls_bytes, &bad);
	} else {
		dev_generic(st, d);
		if (fn)
			bad = true; /* the driver's own ndo_get_stats64 is not modelled */
	}
	if (w->core_stats != UINT32_MAX && !vmt_kread_u64(g, dev + w->core_stats, &pcpu) && pcpu) {
		d->rx_dropped += dev_pcpu_u64(g, w, pcpu, w->cs_rx_dropped, &bad);
		d->tx_dropped += dev_pcpu_u64(g, w, pcpu, w->cs_tx_dropped, &bad);
		/* rx_nohandler is not a /proc/net/dev column */
	}
	if (bad)
		d->flags |= VMT_F_PARTIAL;
}

static int dev_one(struct vmt_guest *g, uint64_t node, void *arg)
{
	struct dev_walk *w = arg;
	uint64_t dev = node - w->dev_list;
	struct vmt_netdev *d;

	if (w->l->n == NET_MAX_DEVS)
		return 1;
	d = &w->l->devs[w->l->n];
	memset(d, 0, sizeof(*d));
	if (vmt_kread(g, dev + w->name, d->name, sizeof(d->name) - 1) ||
	    vmt_kread(g, dev + w->ifindex, &d->ifindex, 4)) {
		w->l->flags |= VMT_F_PARTIAL;
		return 0;
	}
	dev_stats(g, w, dev, d);
	w->l->n++;
	return netif_dev_read(g, &w->nif, dev, d);
}

static int dev_offsets(struct vmt_guest *g, struct dev_walk *w)
{
	/* clang-format off */
	const struct vmt_field_req req[] = {
		{"net_device", "dev_list", &w->dev_list, false},
		{"net_device", "name", &w->name, false},
		{"net_device", "ifindex", &w->ifindex, false},
		{"net_device", "stats", &w->stats, false},
		{"net_device", "netdev_ops", &w->ops, false},
		{"net_device_ops", "ndo_get_stats64", &w->get_stats64, false},
		{"net_device", "core_stats", &w->core_stats, true},
		{"net_device", "lstats", &w->lstats, true},
		{"pcpu_lstats", "packets", &w->ls_packets, true},
		{"pcpu_lstats", "bytes", &w->ls_bytes, true},
		{"net_device_core_stats", "rx_dropped", &w->cs_rx_dropped, true},
		{"net_device_core_stats", "tx_dropped", &w->cs_tx_dropped, true},
	};
	/* clang-format on */
	int err = vmt_resolve_fields(g, req, ARRAY_SIZE(req));

	if (err)
		return err;
	if (w->ls_packets == UINT32_MAX || w->ls_bytes == UINT32_MAX)
		w->lstats = UINT32_MAX;
	if (w->cs_rx_dropped == UINT32_MAX || w->cs_tx_dropped == UINT32_MAX)
		w->core_stats = UINT32_MAX;
	if (vmt_ksym(g, "loopback_get_stats64", &w->loopback_stats64))
		w->loopback_stats64 = 1; /* matches no function pointer */
	netif_offsets_resolve(g, &w->nif);
	return 0;
}

int vmt_netdevs(struct vmt_guest *g, struct vmt_netdev_list **out)
{
	struct dev_walk w = {0};
	struct vmt_netdev *devs;
	uint32_t head_off;
	uint64_t net;
	int err;

	*out = NULL;
	err = dev_offsets(g, &w);
	if (!err)
		err = vmt_profile_field(g->prof, "net", "dev_base_head", &head_off);
	if (!err)
		err = vmt_ksym(g, "init_net", &net);
	if (err)
		return err;
	w.cpus = malloc(sizeof(*w.cpus));
	w.l = calloc(1, sizeof(*w.l));
	if (w.l)
		w.l->devs = calloc(NET_MAX_DEVS, sizeof(*w.l->devs));
	if (!w.cpus || !w.l || !w.l->devs) {
		err = -ENOMEM;
		goto out;
	}
	if (sys_cpus_read(g, w.cpus))
		memset(w.cpus, 0, sizeof(*w.cpus)); /* no per-CPU counters: flagged below */
	err = vmt_list_walk(g, net + head_off, NET_MAX_DEVS, dev_one, &w);
	if (err == -ENOMEM)
		goto out;
	if (err)
		w.l->flags |= VMT_F_PARTIAL;
	err = 0;
	netif_hash_order(g, &w.nif, net, w.l);
	devs = reallocarray(w.l->devs, w.l->n ? w.l->n : 1, sizeof(*devs));
	if (devs)
		w.l->devs = devs; /* room for NET_MAX_DEVS was only for the walk */
	*out = w.l;
	w.l = NULL;
out:
	vmt_netdev_list_free(w.l);
	free(w.cpus);
	return err;
}

void vmt_netdev_list_free(struct vmt_netdev_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; l->devs && i < l->n; i++) {
		free(l->devs[i].ip4);
		free(l->devs[i].ip6);
	}
	free(l->devs);
	free(l);
}
