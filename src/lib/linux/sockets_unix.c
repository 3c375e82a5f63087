// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * sockets_unix.c - AF_UNIX sockets as unix_seq_show() (net/unix/af_unix.c,
 * 6.1) prints them.  Since 6.0 each net namespace has its own hash,
 * net->unx.table.buckets[UNIX_HASH_SIZE = 2 * 256]: unbound and pathname
 * sockets in the first half, abstract ones in the second; older kernels
 * have one global unix_socket_table of the same size.
 */
#include <string.h>

#include "linux/sockets.h"

/*
 * The path as /proc/net/unix shows it: a pathname without its trailing
 * NUL, an abstract name with '@' for its leading NUL and for every NUL
 * inside.  addr->len counts sun_family and, for pathnames, the NUL.
 */
static void unix_fill_path(struct sock_walk *w, uint64_t addr, struct vmt_socket *s)
{
	const struct sock_offsets *o = &w->o;
	char raw[SOCK_UNIX_PATH_MAX];
	int32_t len;
	size_t i = 0, j = 0;

	if (vmt_kread(w->g, addr + o->ua_len, &len, sizeof(len))) {
		s->flags |= VMT_F_PARTIAL;
		return;
	}
	len -= 2; /* offsetof(struct sockaddr_un, sun_path) */
	if (len <= 0)
		return;
	if (len > SOCK_UNIX_PATH_MAX) {
		s->flags |= VMT_F_TRUNCATED;
		len = SOCK_UNIX_PATH_MAX;
	}
	if (vmt_kread(w->g, addr + o->ua_name + 2, raw, (size_t)len)) {
		s->flags |= VMT_F_PARTIAL;
		return;
	}
	if (raw[0]) {
		len--;
	} else {
		s->path[j++] = '@';
		i++;
	}
	for (; i < (size_t)len && j + 1 < sizeof(s->path); i++)
		s->path[j++] = raw[i] ? raw[i] : '@';
	s->path[j] = '\0';
}

static int unix_one(struct vmt_guest *g, uint64_t node, void *arg)
{
	struct sock_walk *w = arg;
	const struct sock_offsets *o = &w->o;
	uint64_t skc = node - o->c_node, sock = 0, addr = 0;
	struct vmt_socket *s;
	uint16_t family, type;
	uint8_t state;

	w->visited++;
	if (vmt_kread(g, skc + o->c_family, &family, sizeof(family)) ||
	    vmt_kread(g, skc + o->c_state, &state, 1) || family != VMT_AF_UNIX) {
		w->l->flags |= VMT_F_PARTIAL;
		return 0;
	}
	s = sock_new(w);
	if (!s)
		return -ENOMEM;
	s->proto = VMT_SOCK_UNIX;
	s->kva = skc - o->sk_common;
	sock_fill_owner(w, s->kva, s);
	if (vmt_kread(g, s->kva + o->sk_type, &type, sizeof(type)) ||
	    vmt_kread_u32(g, skc + o->c_refcnt, &s->refcnt) ||
	    vmt_kread_u64(g, s->kva + o->sk_socket, &sock) ||
	    vmt_kread_u64(g, s->kva + o->us_addr, &addr))
		s->flags |= VMT_F_PARTIAL;
	s->unix_type = type;
	s->unix_flags = state == VMT_TCP_LISTEN ? VMT_SO_ACCEPTCON : 0;
	if (sock)
		s->state = state == VMT_TCP_ESTABLISHED ? VMT_SS_CONNECTED : VMT_SS_UNCONNECTED;
	else
		s->state = state == VMT_TCP_ESTABLISHED ? VMT_SS_CONNECTING : VMT_SS_DISCONNECTING;
	if (addr && vmt_kptr_ok(addr))
		unix_fill_path(w, addr, s);
	else if (addr)
		s->flags |= VMT_F_PARTIAL;
	return 0;
}

int sock_walk_unix(struct sock_walk *w)
{
	const struct sock_offsets *o = &w->o;
	uint64_t buckets;
	int err = 0;

	if (o->net_unx_buckets == UINT32_MAX) {
		if (vmt_ksym(w->g, "unix_socket_table", &buckets)) {
			w->l->flags |= VMT_F_PARTIAL; /* no UNIX table known in this kernel */
			return 0;
		}
		return sock_walk_buckets(w, buckets, SOCK_UNIX_HASH_SIZE, 8, 0, unix_one);
	}
	for (size_t i = 0; !err && i < w->nr_nets; i++) {
		if (vmt_kread_u64(w->g, w->nets[i].kva + o->net_unx_buckets, &buckets)) {
			w->l->flags |= VMT_F_PARTIAL;
			w->l->bad_chains++;
			continue;
		}
		err = sock_walk_buckets(w, buckets, SOCK_UNIX_HASH_SIZE, 8, 0, unix_one);
	}
	return err;
}
