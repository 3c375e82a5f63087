// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sockets_inet.c - TCP and UDP sockets, v4 and v6, as net/ipv4/tcp_ipv4.c
 * (tcp4_seq_show and its get_tcp4_sock / get_openreq4 / get_timewait4_sock)
 * and net/ipv4/udp.c (udp4_format_sock) of 6.1 print them.
 *
 * TCP: every inet_hashinfo in use (tcp_hashinfo, and a net namespace's own
 * one when net.ipv4.tcp_child_ehash_entries gave it one), listeners from
 * lhash2 first, then the established hash, which also holds TIME_WAIT
 * (struct inet_timewait_sock) and NEW_SYN_RECV (struct request_sock)
 * entries: all three start with a struct sock_common.  Tables shared by
 * several namespaces are walked once.
 */
#include <stdlib.h>
#include <string.h>

#include "linux/sockets.h"

/* Family, state and addresses from the sock_common at skc. */
static int inet_fill_common(struct sock_walk *w, uint64_t skc, bool tcp, struct vmt_socket *s,
			    uint8_t *state)
{
	const struct sock_offsets *o = &w->o;
	struct vmt_guest *g = w->g;
	uint16_t family, num, dport;
	int err;

	err = vmt_kread(g, skc + o->c_family, &family, sizeof(family));
	if (!err)
		err = vmt_kread(g, skc + o->c_state, state, 1);
	if (!err)
		err = vmt_kread(g, skc + o->c_num, &num, sizeof(num));
	if (!err)
		err = vmt_kread(g, skc + o->c_dport, &dport, sizeof(dport));
	if (err)
		return err;
	if (family == VMT_AF_INET) {
		s->proto = tcp ? VMT_SOCK_TCP : VMT_SOCK_UDP;
		err = vmt_kread(g, skc + o->c_rcv_saddr, s->laddr, 4);
		if (!err)
			err = vmt_kread(g, skc + o->c_daddr, s->raddr, 4);
	} else if (family == VMT_AF_INET6 && o->c_v6_daddr != UINT32_MAX) {
		s->proto = tcp ? VMT_SOCK_TCP6 : VMT_SOCK_UDP6;
		err = vmt_kread(g, skc + o->c_v6_rcv_saddr, s->laddr, 16);
		if (!err)
			err = vmt_kread(g, skc + o->c_v6_daddr, s->raddr, 16);
	} else {
		return -EBADMSG; /* no other family is hashed in these tables */
	}
	s->lport = num;
	s->rport = (uint16_t)((dport >> 8) | (dport << 8)); /* network to host order */
	s->state = *state;
	if (vmt_kread_u32(g, skc + o->c_refcnt, &s->refcnt))
		s->flags |= VMT_F_PARTIAL;
	return err;
}

static uint32_t rd_u32(struct sock_walk *w, uint64_t va, uint32_t off, struct vmt_socket *s)
{
	uint32_t v = 0;

	if (off != UINT32_MAX && vmt_kread_u32(w->g, va + off, &v))
		s->flags |= VMT_F_PARTIAL;
	return v;
}

/* get_tcp4_sock(): queues of a full TCP socket (the accept backlog for a listener). */
static void tcp_fill_queues(struct sock_walk *w, uint64_t sk, struct vmt_socket *s)
{
	const struct sock_offsets *o = &w->o;
	int32_t rx;

	if (s->state == VMT_TCP_LISTEN) {
		s->rx_queue = rd_u32(w, sk, o->sk_ack_backlog, s);
	} else {
		rx =
		    (int32_t)(rd_u32(w, sk, o->tp_rcv_nxt, s) - rd_u32(w, sk, o->tp_copied_seq, s));
		s->rx_queue = rx > 0 ? (uint32_t)rx : 0;
	}
	s->tx_queue = rd_u32(w, sk, o->tp_write_seq, s) - rd_u32(w, sk, o->tp_snd_una, s);
}

static int tcp_one(struct vmt_guest *g, uint64_t node, void *arg)
{
	struct sock_walk *w = arg;
	const struct sock_offsets *o = &w->o;
	uint64_t skc = node - o->c_node, net, listener, ino;
	struct vmt_socket *s;
	uint8_t state, sub;

	w->visited++;
	s = sock_new(w);
	if (!s)
		return -ENOMEM;
	if (inet_fill_common(w, skc, true, s, &state)) {
		w->l->n--; /* not a socket we can name: drop it, the listing is partial */
		w->l->flags |= VMT_F_PARTIAL;
		return 0;
	}
	switch (state) {
	case VMT_TCP_TIME_WAIT:
		/* get_timewait4_sock(): tw_substate, no owner, no queues. */
		s->kva = skc - o->tw_common;
		if (vmt_kread(g, s->kva + o->tw_substate, &sub, 1))
			s->flags |= VMT_F_PARTIAL;
		else
			s->state = sub;
		if (vmt_kread_u64(g, skc + o->c_net, &net))
			s->flags |= VMT_F_PARTIAL;
		else
			s->netns_ino = sock_netns_ino(w, net);
		break;
	case VMT_TCP_NEW_SYN_RECV:
		/* get_openreq4(): shown as SYN_RECV with the listener's uid. */
		s->kva = skc - o->req_common;
		s->state = VMT_TCP_SYN_RECV;
		if (vmt_kread_u64(g, skc + o->c_listener, &listener) || !vmt_kptr_ok(listener) ||
		    sock_owner(w, listener, &s->uid, &ino))
			s->flags |= VMT_F_PARTIAL;
		if (vmt_kread_u64(g, skc + o->c_net, &net))
			s->flags |= VMT_F_PARTIAL;
		else
			s->netns_ino = sock_netns_ino(w, net);
		break;
	default:
		s->kva = skc - o->sk_common;
		sock_fill_owner(w, s->kva, s);
		tcp_fill_queues(w, s->kva, s);
		break;
	}
	return 0;
}

/* udp4_format_sock(): sk_wmem_alloc_get(), udp_rqueue_get(). */
static int udp_one(struct vmt_guest *g, uint64_t node, void *arg)
{
	struct sock_walk *w = arg;
	const struct sock_offsets *o = &w->o;
	uint64_t skc = node - o->c_node;
	struct vmt_socket *s;
	uint8_t state;

	w->visited++;
	s = sock_new(w);
	if (!s)
		return -ENOMEM;
	if (inet_fill_common(w, skc, false, s, &state)) {
		w->l->n--;
		w->l->flags |= VMT_F_PARTIAL;
		return 0;
	}
	s->kva = skc - o->sk_common;
	sock_fill_owner(w, s->kva, s);
	if (o->sk_wmem_alloc != UINT32_MAX) /* the socket itself holds one reference */
		s->tx_queue = rd_u32(w, s->kva, o->sk_wmem_alloc, s) - 1;
	s->rx_queue =
	    rd_u32(w, s->kva, o->sk_rmem_alloc, s) - rd_u32(w, s->kva, o->up_forward_deficit, s);
	return 0;
}

/* Add va to a set of at most cap addresses; false if already there. */
static bool addr_set_add(uint64_t *set, size_t *n, size_t cap, uint64_t va)
{
	for (size_t i = 0; i < *n; i++)
		if (set[i] == va)
			return false;
	if (*n == cap)
		return false;
	set[(*n)++] = va;
	return true;
}

/*
 * Distinct tables: the global one (a struct at symbol sym) and, where the
 * kernel has per-namespace tables, the one net->field points to.
 */
static int inet_tables(struct sock_walk *w, const char *sym, uint32_t net_field, uint64_t **tables,
		       size_t *n)
{
	uint64_t va, *set;

	set = calloc(w->nr_nets + 1, sizeof(*set));
	if (!set)
		return -ENOMEM;
	*n = 0;
	if (!vmt_ksym(w->g, sym, &va))
		addr_set_add(set, n, w->nr_nets + 1, va);
	for (size_t i = 0; net_field != UINT32_MAX && i < w->nr_nets; i++) {
		if (vmt_kread_u64(w->g, w->nets[i].kva + net_field, &va)) {
			w->l->flags |= VMT_F_PARTIAL;
			continue;
		}
		if (vmt_kptr_ok(va))
			addr_set_add(set, n, w->nr_nets + 1, va);
	}
	*tables = set;
	if (!*n) /* no such table: this protocol is missing from the listing */
		w->l->flags |= VMT_F_PARTIAL;
	return 0;
}

/* Walk one hash of a hashinfo: array at arr_off, mask at mask_off. */
static int tcp_walk_hash(struct sock_walk *w, uint64_t hi, uint32_t arr_off, uint32_t mask_off,
			 uint32_t stride, uint32_t head_off, uint64_t *seen, size_t *nseen,
			 size_t cap)
{
	uint64_t arr;
	uint32_t mask;

	if (vmt_kread_u64(w->g, hi + arr_off, &arr) || vmt_kread_u32(w->g, hi + mask_off, &mask)) {
		w->l->flags |= VMT_F_PARTIAL;
		w->l->bad_chains++;
		return 0;
	}
	if (!addr_set_add(seen, nseen, cap, arr))
		return 0; /* shared with another namespace, or a repeat */
	return sock_walk_buckets(w, arr, (uint64_t)mask + 1, stride, head_off, tcp_one);
}

int sock_walk_tcp(struct sock_walk *w)
{
	const struct sock_offsets *o = &w->o;
	uint64_t *tables, *seen;
	size_t n, nseen = 0;
	int err;

	err = inet_tables(w, "tcp_hashinfo", o->net_tcp_hashinfo, &tables, &n);
	if (err)
		return err;
	seen = calloc(2 * n, sizeof(*seen));
	if (!seen) {
		free(tables);
		return -ENOMEM;
	}
	/* Per-namespace ehash tables share the global lhash2: dedupe by array. */
	for (size_t i = 0; !err && i < n; i++)
		err = tcp_walk_hash(w, tables[i], o->hi_lhash2, o->hi_lhash2_mask, o->ilb_size,
				    o->ilb_head, seen, &nseen, 2 * n);
	for (size_t i = 0; !err && i < n; i++)
		err = tcp_walk_hash(w, tables[i], o->hi_ehash, o->hi_ehash_mask, o->ehb_size,
				    o->ehb_chain, seen, &nseen, 2 * n);
	free(seen);
	free(tables);
	return err;
}

int sock_walk_udp(struct sock_walk *w)
{
	const struct sock_offsets *o = &w->o;
	uint64_t *tables, hash;
	uint32_t mask;
	size_t n;
	int err;

	err = inet_tables(w, "udp_table", o->net_udp_table, &tables, &n);
	if (err)
		return err;
	for (size_t i = 0; !err && i < n; i++) {
		if (vmt_kread_u64(w->g, tables[i] + o->ut_hash, &hash) ||
		    vmt_kread_u32(w->g, tables[i] + o->ut_mask, &mask)) {
			w->l->flags |= VMT_F_PARTIAL;
			w->l->bad_chains++;
			continue;
		}
		err =
		    sock_walk_buckets(w, hash, (uint64_t)mask + 1, o->hs_size, o->hs_head, udp_one);
	}
	free(tables);
	return err;
}
