/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sockets.h - what the socket walkers (sockets.c, sockets_inet.c,
 * sockets_unix.c) share: struct layouts from BTF, the walk state that
 * bounds the whole listing, and the hash-table bucket walker.
 *
 * Every socket of a listing is reached through a kernel hash table:
 *   TCP   inet_hashinfo: lhash2 (listeners) and ehash (established,
 *         TIME_WAIT, NEW_SYN_RECV), hlist_nulls through skc_nulls_node
 *   UDP   udp_table.hash, hlist through skc_node
 *   UNIX  net->unx.table.buckets, hlist through skc_node
 * A chain that loops, points outside the kernel or cannot be read is
 * abandoned (bad_chains, VMT_F_PARTIAL); the listing goes on with the next
 * bucket.  VMT_MAX_SOCKETS bounds the nodes visited in the whole listing.
 */
#ifndef VMT_LINUX_SOCKETS_H
#define VMT_LINUX_SOCKETS_H

#include <stdint.h>

#include "guest/guest_internal.h"

/* Kernel constants that are ABI (include/net/tcp_states.h, linux/net.h). */
#define VMT_AF_UNIX	     1
#define VMT_AF_INET	     2
#define VMT_AF_INET6	     10
#define VMT_TCP_ESTABLISHED  1
#define VMT_TCP_SYN_RECV     3
#define VMT_TCP_TIME_WAIT    6
#define VMT_TCP_LISTEN	     10
#define VMT_TCP_NEW_SYN_RECV 12
#define VMT_SO_ACCEPTCON     (1u << 16)
#define VMT_SS_UNCONNECTED   1
#define VMT_SS_CONNECTING    2
#define VMT_SS_CONNECTED     3
#define VMT_SS_DISCONNECTING 4

/* Caps on guest-supplied table sizes and counts. */
#define SOCK_MAX_NETNS	 4096
#define SOCK_MAX_BUCKETS (1u << 24) /* per table; 6.1 caps ehash far lower */
/* ... and for all tables of one listing: namespaces x tables must not multiply. */
#define SOCK_MAX_BUCKETS_TOTAL (1u << 25)
#define SOCK_UNIX_HASH_SIZE    512 /* 6.0+: UNIX_HASH_SIZE = 2 * 256 */
#define SOCK_UNIX_PATH_MAX     108 /* sizeof(sockaddr_un.sun_path) */

struct sock_offsets {
	/* struct sock_common */
	uint32_t c_daddr, c_rcv_saddr, c_dport, c_num, c_family, c_state, c_net;
	uint32_t c_v6_daddr, c_v6_rcv_saddr, c_node, c_listener, c_refcnt;
	/* where sock_common sits in each container (0 in every kernel so far) */
	uint32_t sk_common, tw_common, req_common;
	/* struct sock */
	uint32_t sk_type, sk_socket, sk_ack_backlog;
	uint32_t sk_rmem_alloc, sk_wmem_alloc;
	/* sock_i_ino/uid(): socket_alloc.{socket,vfs_inode}, inode.{i_ino,i_uid} */
	uint32_t sa_socket, sa_inode, i_ino, i_uid;
	uint32_t tw_substate;
	uint32_t tp_rcv_nxt, tp_copied_seq, tp_write_seq, tp_snd_una;
	uint32_t up_forward_deficit;
	/* tables */
	uint32_t hi_ehash, hi_ehash_mask, hi_lhash2, hi_lhash2_mask;
	uint32_t ehb_chain, ehb_size, ilb_head, ilb_size;
	uint32_t ut_hash, ut_mask, hs_head, hs_size;
	uint32_t net_list, net_inum, net_tcp_hashinfo, net_udp_table, net_unx_buckets;
	uint32_t us_addr, ua_len, ua_name;
};

struct sock_net {
	uint64_t kva; /* struct net */
	uint32_t ino;
};

struct sock_walk {
	struct vmt_guest *g;
	struct sock_offsets o;
	struct vmt_socket_list *l;
	size_t cap;
	size_t visited;	       /* nodes seen in this listing, bounded */
	uint64_t buckets_left; /* SOCK_MAX_BUCKETS_TOTAL, spent by sock_walk_buckets() */
	struct sock_net *nets; /* every net namespace, init_net first */
	size_t nr_nets;
};

/* Append a zeroed entry; NULL when out of memory. */
struct vmt_socket *sock_new(struct sock_walk *w);
/* netns inode of the struct net at kva (0 if unknown and unreadable). */
uint32_t sock_netns_ino(struct sock_walk *w, uint64_t net);
/* sock_i_uid() and sock_i_ino() of the full socket at sk. */
int sock_owner(struct sock_walk *w, uint64_t sk, uint32_t *uid, uint64_t *ino);
/* A split VM: these socks (ranges at each sk), then their owners, a batch each; emptied. */
void sock_hint_socks(struct sock_walk *w, struct vmt_hints *socks);
/* Fill uid, inode and netns of the full socket at sk. */
void sock_fill_owner(struct sock_walk *w, uint64_t sk, struct vmt_socket *s);
/*
 * Walk nbuckets hash heads of stride bytes at array (the first pointer at
 * head_off within each), calling fn for every chained node.  0, or a
 * negative errno that ends the listing (-ENOMEM, or a full budget).
 */
int sock_walk_buckets(struct sock_walk *w, uint64_t array, uint64_t nbuckets, uint32_t stride,
		      uint32_t head_off, vmt_list_fn fn);

/*
 * The offsets and net namespaces of a walk, for a walker of other socket
 * tables (system_net.c: raw, packet, netlink); w->l is an empty list it may
 * use or ignore.  sock_walk_fini() frees both.
 */
int sock_walk_init(struct vmt_guest *g, struct sock_walk *w);
void sock_walk_fini(struct sock_walk *w);

/* sockets_inet.c */
int sock_walk_tcp(struct sock_walk *w);
int sock_walk_udp(struct sock_walk *w);
/* sockets_unix.c */
int sock_walk_unix(struct sock_walk *w);

#endif
