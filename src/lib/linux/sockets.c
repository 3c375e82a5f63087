// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sockets.c - vmt_sockets(): TCP, UDP (v4 and v6) and UNIX sockets of every
 * network namespace, with the fields /proc/net/{tcp,tcp6,udp,udp6,unix}
 * show.  This file holds the layouts, the net namespace list and the
 * bounded bucket walk; the protocols are in sockets_inet.c and
 * sockets_unix.c.
 */
#include <stdlib.h>
#include <string.h>

#include "linux/sockets.h"

static int sock_offsets_resolve(struct vmt_guest *g, struct sock_offsets *o)
{
	/* clang-format off */
	const struct vmt_field_req req[] = {
		VMT_FIELD("sock_common", "skc_daddr", c_daddr),
		VMT_FIELD("sock_common", "skc_rcv_saddr", c_rcv_saddr),
		VMT_FIELD("sock_common", "skc_dport", c_dport),
		VMT_FIELD("sock_common", "skc_num", c_num),
		VMT_FIELD("sock_common", "skc_family", c_family),
		VMT_FIELD("sock_common", "skc_state", c_state),
		VMT_FIELD("sock_common", "skc_net", c_net),
		VMT_FIELD_OPT("sock_common", "skc_v6_daddr", c_v6_daddr),
		VMT_FIELD_OPT("sock_common", "skc_v6_rcv_saddr", c_v6_rcv_saddr),
		VMT_FIELD("sock_common", "skc_node", c_node),
		VMT_FIELD("sock_common", "skc_listener", c_listener),
		VMT_FIELD("sock_common", "skc_refcnt", c_refcnt),
		VMT_FIELD("sock", "__sk_common", sk_common),
		VMT_FIELD("inet_timewait_sock", "__tw_common", tw_common),
		VMT_FIELD("request_sock", "__req_common", req_common),
		VMT_FIELD("sock", "sk_type", sk_type),
		VMT_FIELD("sock", "sk_socket", sk_socket),
		VMT_FIELD_OPT("sock", "sk_ack_backlog", sk_ack_backlog),
		VMT_FIELD_OPT("sock", "sk_backlog.rmem_alloc", sk_rmem_alloc),
		VMT_FIELD_OPT("sock", "sk_wmem_alloc", sk_wmem_alloc),
		VMT_FIELD("socket_alloc", "socket", sa_socket),
		VMT_FIELD("socket_alloc", "vfs_inode", sa_inode),
		VMT_FIELD("inode", "i_ino", i_ino),
		VMT_FIELD("inode", "i_uid", i_uid),
		VMT_FIELD("inet_timewait_sock", "tw_substate", tw_substate),
		VMT_FIELD_OPT("tcp_sock", "rcv_nxt", tp_rcv_nxt),
		VMT_FIELD_OPT("tcp_sock", "copied_seq", tp_copied_seq),
		VMT_FIELD_OPT("tcp_sock", "write_seq", tp_write_seq),
		VMT_FIELD_OPT("tcp_sock", "snd_una", tp_snd_una),
		VMT_FIELD_OPT("udp_sock", "forward_deficit", up_forward_deficit),
		VMT_FIELD("inet_hashinfo", "ehash", hi_ehash),
		VMT_FIELD("inet_hashinfo", "ehash_mask", hi_ehash_mask),
		VMT_FIELD("inet_hashinfo", "lhash2", hi_lhash2),
		VMT_FIELD("inet_hashinfo", "lhash2_mask", hi_lhash2_mask),
		VMT_FIELD("inet_ehash_bucket", "chain", ehb_chain),
		VMT_FIELD("inet_ehash_bucket", NULL, ehb_size),
		VMT_FIELD_OPT("inet_listen_hashbucket", "nulls_head", ilb_head),
		VMT_FIELD("inet_listen_hashbucket", NULL, ilb_size),
		VMT_FIELD("udp_table", "hash", ut_hash),
		VMT_FIELD("udp_table", "mask", ut_mask),
		VMT_FIELD("udp_hslot", "head", hs_head),
		VMT_FIELD("udp_hslot", NULL, hs_size),
		VMT_FIELD("net", "list", net_list),
		VMT_FIELD("net", "ns.inum", net_inum),
		VMT_FIELD_OPT("net", "ipv4.tcp_death_row.hashinfo", net_tcp_hashinfo),
		VMT_FIELD_OPT("net", "ipv4.udp_table", net_udp_table),
		VMT_FIELD_OPT("net", "unx.table.buckets", net_unx_buckets),
		VMT_FIELD("unix_sock", "addr", us_addr),
		VMT_FIELD("unix_address", "len", ua_len),
		VMT_FIELD("unix_address", "name", ua_name),
	};
	/* clang-format on */
	int err;

	VMT_OFFSETS_ABSENT(o);
	err = vmt_resolve_fields(g, req, ARRAY_SIZE(req));
	if (err)
		return err;
	/*
	 * Listeners in lhash2 are chained through sk_nulls_node since 5.19
	 * (nulls_head); before, through icsk_listen_portaddr_node from an
	 * hlist "head": not supported.
	 */
	if (o->ilb_head == UINT32_MAX)
		return vmt_error(-ENOEXEC, "inet_listen_hashbucket without nulls_head (kernel "
					   "before 5.19) is not supported");
	return 0;
}

/* ---------------------------------------------------------- namespaces */

static int sock_net_one(struct vmt_guest *g, uint64_t node, void *arg)
{
	struct sock_walk *w = arg;
	struct sock_net *n;

	if (w->nr_nets == SOCK_MAX_NETNS)
		return 1;
	n = &w->nets[w->nr_nets++];
	n->kva = node - w->o.net_list;
	if (vmt_kread_u32(g, n->kva + w->o.net_inum, &n->ino))
		n->ino = 0;
	return 0;
}

static bool sock_nets_have(const struct sock_walk *w, uint64_t net)
{
	for (size_t i = 0; i < w->nr_nets; i++)
		if (w->nets[i].kva == net)
			return true;
	return false;
}

/*
 * net_namespace_list; if it breaks, the namespaces found before the damage
 * and at least init_net.
 */
static int sock_nets_find(struct sock_walk *w)
{
	uint64_t head, init_net;
	int err;

	err = vmt_ksym(w->g, "init_net", &init_net);
	if (err)
		return vmt_error(err, "kernel symbol init_net not found");
	w->nets = calloc(SOCK_MAX_NETNS, sizeof(*w->nets));
	if (!w->nets)
		return -ENOMEM;
	if (vmt_ksym(w->g, "net_namespace_list", &head) ||
	    vmt_list_walk(w->g, head, SOCK_MAX_NETNS, sock_net_one, w))
		w->l->flags |= VMT_F_PARTIAL;
	if (!sock_nets_have(w, init_net)) {
		w->l->flags |= VMT_F_PARTIAL;
		if (w->nr_nets == SOCK_MAX_NETNS)
			w->nr_nets--; /* init_net matters most: it is the guest's /proc/net */
		sock_net_one(w->g, init_net + w->o.net_list, w);
	}
	w->l->init_netns_ino = sock_netns_ino(w, init_net);
	return 0;
}

uint32_t sock_netns_ino(struct sock_walk *w, uint64_t net)
{
	uint32_t ino;

	for (size_t i = 0; i < w->nr_nets; i++)
		if (w->nets[i].kva == net)
			return w->nets[i].ino;
	/* A namespace being torn down is off the list but may own sockets. */
	if (!vmt_kptr_ok(net) || vmt_kread_u32(w->g, net + w->o.net_inum, &ino))
		return 0;
	return ino;
}

/* ------------------------------------------------------------- entries */

struct vmt_socket *sock_new(struct sock_walk *w)
{
	struct vmt_socket *s;

	if (w->l->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 256;

		s = reallocarray(w->l->socks, cap, sizeof(*s));
		if (!s)
			return NULL;
		w->l->socks = s;
		w->cap = cap;
	}
	s = &w->l->socks[w->l->n++];
	memset(s, 0, sizeof(*s));
	return s;
}

/*
 * sock_i_uid() and sock_i_ino() of 6.1: both come from the inode beside
 * the struct socket in socket_alloc; a sock without a socket (orphaned,
 * closing) has uid 0 (GLOBAL_ROOT_UID) and inode 0.  Later kernels report
 * sk_uid instead, which differs only after fchown() on the socket.
 */
int sock_owner(struct sock_walk *w, uint64_t sk, uint32_t *uid, uint64_t *ino)
{
	const struct sock_offsets *o = &w->o;
	uint64_t sock, inode;
	int err;

	*uid = 0;
	*ino = 0;
	err = vmt_kread_u64(w->g, sk + o->sk_socket, &sock);
	if (err || !sock)
		return err;
	if (!vmt_kptr_ok(sock))
		return -EBADMSG;
	inode = sock - o->sa_socket + o->sa_inode;
	err = vmt_kread_u64(w->g, inode + o->i_ino, ino);
	if (!err)
		err = vmt_kread_u32(w->g, inode + o->i_uid, uid);
	return err;
}

void sock_hint_socks(struct sock_walk *w, struct vmt_hints *socks)
{
	const struct sock_offsets *o = &w->o;
	struct vmt_hints h = {0};
	uint64_t sock;

	vmt_kprefetch(w->g, socks->r, socks->n);
	for (size_t i = 0; i < socks->n; i++)
		if (!vmt_kread_u64(w->g, socks->r[i].va + o->sk_socket, &sock) && vmt_kptr_ok(sock))
			vmt_hints_add(&h, sock - o->sa_socket + o->sa_inode + o->i_ino, 8);
	vmt_hints_flush(w->g, &h);
	free(h.r);
	socks->n = 0;
}

void sock_fill_owner(struct sock_walk *w, uint64_t sk, struct vmt_socket *s)
{
	uint64_t net;

	if (vmt_kread_u64(w->g, sk + w->o.sk_common + w->o.c_net, &net))
		s->flags |= VMT_F_PARTIAL;
	else
		s->netns_ino = sock_netns_ino(w, net);
	if (sock_owner(w, sk, &s->uid, &s->inode))
		s->flags |= VMT_F_PARTIAL;
}

/* ------------------------------------------------------------- buckets */

struct kva_idx {
	uint64_t kva;
	size_t idx;
};

static int kva_idx_cmp(const void *a, const void *b)
{
	const struct kva_idx *x = a, *y = b;

	if (x->kva != y->kva)
		return x->kva < y->kva ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * A looping chain is detected within two laps (Brent), so its sockets were
 * reported up to twice: keep the first entry of each struct sock among
 * socks[start..n).  O(k log k) in the chain's length k.
 */
static void sock_chain_dedupe(struct sock_walk *w, size_t start)
{
	struct vmt_socket *s = w->l->socks;
	size_t k = w->l->n - start, n = start;
	struct kva_idx *v;
	bool *drop;

	if (k < 2)
		return;
	v = calloc(k, sizeof(*v));
	drop = calloc(k, sizeof(*drop));
	if (!v || !drop)
		goto out; /* keep the duplicates rather than fail the listing */
	for (size_t i = 0; i < k; i++)
		v[i] = (struct kva_idx){s[start + i].kva, i};
	qsort(v, k, sizeof(*v), kva_idx_cmp);
	for (size_t i = 1; i < k; i++)
		if (v[i].kva == v[i - 1].kva)
			drop[v[i].idx] = true;
	for (size_t i = 0; i < k; i++)
		if (!drop[i])
			s[n++] = s[start + i];
	w->l->n = n;
out:
	free(v);
	free(drop);
}

/* One chain; a broken one is counted and given up, only -ENOMEM and a full budget end the listing.
 */
static int sock_walk_chain(struct sock_walk *w, uint64_t first, vmt_list_fn fn)
{
	size_t start = w->l->n;
	int err;

	if (!first || (first & 1))
		return 0; /* empty: NULL (hlist) or a nulls marker */
	err = vmt_hlist_walk(w->g, first, VMT_MAX_SOCKETS - w->visited, fn, w);
	if (err == -ENOMEM)
		return err;
	if (w->visited >= VMT_MAX_SOCKETS) {
		w->l->flags |= VMT_F_TRUNCATED;
		return -E2BIG;
	}
	if (err) {
		w->l->flags |= VMT_F_PARTIAL;
		w->l->bad_chains++;
		sock_chain_dedupe(w, start);
	}
	return 0;
}

/*
 * A split VM: a bucket array's pages in one batch, then the first sock of
 * every bucket and its owner (most chains hold one), instead of a round
 * trip per page and sock.  Hints only.
 */
static void sock_hint_array(struct sock_walk *w, uint64_t array, uint64_t nbuckets, uint32_t stride,
			    uint32_t head_off)
{
	uint64_t len = nbuckets * stride, first;
	struct vmt_hints h = {0};
	uint8_t buf[4096];

	if (!vmt_mem_hints_pay(w->g->mem))
		return;
	for (uint64_t off = 0; off < len && off < (1u << 20); off += 64u << 10)
		vmt_hints_add(&h, array + off, (uint32_t)VMT_MIN(len - off, 64u << 10));
	vmt_hints_flush(w->g, &h);
	for (uint64_t b = 0, per = sizeof(buf) / stride; b < nbuckets; b += per) {
		uint64_t n = VMT_MIN(per, nbuckets - b);

		if (vmt_kread(w->g, array + b * stride, buf, n * stride))
			continue;
		for (uint64_t i = 0; i < n; i++) {
			memcpy(&first, buf + i * stride + head_off, sizeof(first));
			if (first && !(first & 1))
				vmt_hints_add(&h, first - w->o.c_node - w->o.sk_common, 1024);
		}
	}
	sock_hint_socks(w, &h);
	free(h.r);
}

int sock_walk_buckets(struct sock_walk *w, uint64_t array, uint64_t nbuckets, uint32_t stride,
		      uint32_t head_off, vmt_list_fn fn)
{
	uint8_t buf[4096];
	uint64_t per = sizeof(buf) / stride, first;
	int err;

	if (!stride || stride > sizeof(buf) || head_off > stride - 8 || !vmt_kptr_ok(array)) {
		w->l->flags |= VMT_F_PARTIAL;
		w->l->bad_chains++;
		return 0;
	}
	if (nbuckets > VMT_MIN((uint64_t)SOCK_MAX_BUCKETS, w->buckets_left)) {
		w->l->flags |= VMT_F_TRUNCATED;
		nbuckets = VMT_MIN((uint64_t)SOCK_MAX_BUCKETS, w->buckets_left);
	}
	w->buckets_left -= nbuckets;
	sock_hint_array(w, array, nbuckets, stride, head_off);
	/*
	 * Bucket arrays are large and dense: read them a block at a time.  An
	 * array is one allocation, so a block that cannot be read is lost as a
	 * whole (its buckets count as bad chains) and costs one failed read,
	 * not one per bucket.
	 */
	for (uint64_t b = 0; b < nbuckets; b += per) {
		uint64_t n = VMT_MIN(per, nbuckets - b);

		if (vmt_kread(w->g, array + b * stride, buf, n * stride)) {
			w->l->flags |= VMT_F_PARTIAL;
			w->l->bad_chains += (uint32_t)n;
			continue;
		}
		for (uint64_t i = 0; i < n; i++) {
			memcpy(&first, buf + i * stride + head_off, sizeof(first));
			err = sock_walk_chain(w, first, fn);
			if (err)
				return err;
		}
	}
	return 0;
}

/* ---------------------------------------------------- other walkers */

int sock_walk_init(struct vmt_guest *g, struct sock_walk *w)
{
	int err;

	memset(w, 0, sizeof(*w));
	w->g = g;
	w->buckets_left = SOCK_MAX_BUCKETS_TOTAL;
	err = sock_offsets_resolve(g, &w->o);
	if (err)
		return err;
	w->l = calloc(1, sizeof(*w->l));
	if (!w->l)
		return -ENOMEM;
	err = sock_nets_find(w);
	if (err)
		sock_walk_fini(w);
	return err;
}

void sock_walk_fini(struct sock_walk *w)
{
	vmt_socket_list_free(w->l);
	w->l = NULL;
	free(w->nets);
	w->nets = NULL;
}

/* ------------------------------------------------------------------ API */

int vmt_sockets(struct vmt_guest *g, struct vmt_socket_list **out)
{
	struct sock_walk w = {.g = g, .buckets_left = SOCK_MAX_BUCKETS_TOTAL};
	int err;

	*out = NULL;
	err = sock_offsets_resolve(g, &w.o);
	if (err)
		return err;
	w.l = calloc(1, sizeof(*w.l));
	if (!w.l)
		return -ENOMEM;
	err = sock_nets_find(&w);
	if (!err)
		err = sock_walk_tcp(&w);
	if (!err)
		err = sock_walk_udp(&w);
	if (!err)
		err = sock_walk_unix(&w);
	if (err == -E2BIG) /* VMT_MAX_SOCKETS reached: TRUNCATED says so */
		err = 0;
	free(w.nets);
	if (err) {
		vmt_socket_list_free(w.l);
		return err;
	}
	*out = w.l;
	return 0;
}

void vmt_socket_list_free(struct vmt_socket_list *l)
{
	if (!l)
		return;
	free(l->socks);
	free(l);
}
