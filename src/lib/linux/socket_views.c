// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * socket_views.c - vmt_socket_views(): the sockets the processes hold
 * against the protocol tables that /proc/net files walk.
 *
 * A rootkit hides a socket from netstat, ss and /proc/net/tcp by unlinking
 * it from its hash table; the process that uses it still holds it through
 * its fd table (file -> struct socket -> struct sock).  Only what the
 * kernel guarantees is judged: a held sock whose state puts it in a table
 * (TCP LISTEN: lhash2, inet_csk_listen_start -> __inet_hash; TCP
 * ESTABLISHED: ehash; UDP with a local port: udp_table, which
 * udp_lib_unhash clears the port with; UNIX bound to a name: the UNIX
 * table holds every UNIX socket from creation to release).  Other states
 * (closing, connecting, unbound) may be outside the tables and are not
 * judged.
 */
#include <stdlib.h>
#include <string.h>

#include "linux/socket_views.h"
#include "linux/sockets.h"

#define SOCKV_AF_INET6	 10
#define SOCKV_STREAM	 1
#define SOCKV_DGRAM	 2
#define SOCKV_IPPROTO_TP 6
#define SOCKV_IPPROTO_UP 17

static const char *const sockv_names[VMT_SOCKV_COUNT] = {"fds", "tcp_listen", "tcp_ehash", "udp",
							 "unix"};

const char *vmt_sock_view_name(unsigned view_bit)
{
	for (unsigned i = 0; i < VMT_SOCKV_COUNT; i++)
		if (view_bit == 1u << i)
			return sockv_names[i];
	return "?";
}

/* A table entry: the sock, the view (table) it sits in, its UNIX name. */
struct sockv_entry {
	uint64_t kva;
	uint32_t view;
	const struct vmt_socket *s;
};

static int entry_cmp(const void *a, const void *b)
{
	const struct sockv_entry *x = a, *y = b;

	return x->kva < y->kva ? -1 : x->kva > y->kva;
}

static uint32_t entry_view(const struct vmt_socket *s)
{
	switch (s->proto) {
	case VMT_SOCK_TCP:
	case VMT_SOCK_TCP6:
		return s->state == VMT_TCP_LISTEN ? VMT_SOCKV_TCP_LISTEN : VMT_SOCKV_TCP_EHASH;
	case VMT_SOCK_UDP:
	case VMT_SOCK_UDP6:
		return VMT_SOCKV_UDP;
	case VMT_SOCK_UNIX:
		return VMT_SOCKV_UNIX;
	}
	return 0;
}

/* The table view: every listed sock, sorted by address for the lookups. */
static struct sockv_entry *tables_index(const struct vmt_socket_list *l, struct vmt_sock_views *v)
{
	struct sockv_entry *e = calloc(l->n + 1, sizeof(*e));

	if (!e)
		return NULL;
	for (size_t i = 0; i < l->n; i++) {
		e[i] =
		    (struct sockv_entry){l->socks[i].kva, entry_view(&l->socks[i]), &l->socks[i]};
		for (unsigned b = 1; b < VMT_SOCKV_COUNT; b++)
			if (e[i].view == 1u << b)
				v->view_n[b]++;
	}
	qsort(e, l->n, sizeof(*e), entry_cmp);
	return e;
}

/* What table the sock's state says must hold it (0: none is guaranteed). */
static uint32_t held_must(const struct vmt_sock_held *h, uint64_t unix_addr)
{
	bool inet = h->family == VMT_AF_INET || h->family == SOCKV_AF_INET6;

	if (inet && h->type == SOCKV_STREAM && h->protocol == SOCKV_IPPROTO_TP) {
		if (h->state == VMT_TCP_LISTEN)
			return VMT_SOCKV_TCP_LISTEN;
		if (h->state == VMT_TCP_ESTABLISHED)
			return VMT_SOCKV_TCP_EHASH;
	}
	if (inet && h->type == SOCKV_DGRAM && h->protocol == SOCKV_IPPROTO_UP && h->lport)
		return VMT_SOCKV_UDP;
	if (h->family == VMT_AF_UNIX && unix_addr)
		return VMT_SOCKV_UNIX;
	return 0;
}

/* What a held sock is read for (struct sock starts with its sock_common). */
struct sockv_offsets {
	uint32_t sk_common, c_family, c_state, c_num, sk_type, sk_protocol, us_addr;
};

struct sockv_walk {
	struct vmt_guest *g;
	struct sockv_offsets o;
	struct vmt_sock_views *v;
	size_t cap;
	/* index + 1 of each held sock by address (open addressing): a guest may hold millions */
	uint32_t *slot;
	size_t nslots; /* a power of two, at least twice v->n */
};

static int sockv_offsets(struct vmt_guest *g, struct sockv_offsets *o)
{
	const struct vmt_field_req req[] = {
	    VMT_FIELD("sock", "__sk_common", sk_common),
	    VMT_FIELD("sock_common", "skc_family", c_family),
	    VMT_FIELD("sock_common", "skc_state", c_state),
	    VMT_FIELD("sock_common", "skc_num", c_num),
	    VMT_FIELD("sock", "sk_type", sk_type),
	    VMT_FIELD("sock", "sk_protocol", sk_protocol),
	    VMT_FIELD("unix_sock", "addr", us_addr),
	};

	VMT_OFFSETS_ABSENT(o);
	return vmt_resolve_fields(g, req, ARRAY_SIZE(req));
}

/* Read the sock's identity; -EFAULT if it is not a readable sock. */
static int held_read(struct sockv_walk *w, uint64_t sk, struct vmt_sock_held *h)
{
	const struct sockv_offsets *o = &w->o;
	uint64_t skc = sk + o->sk_common, addr = 0;
	uint8_t state;

	if (vmt_kread(w->g, skc + o->c_family, &h->family, 2) ||
	    vmt_kread(w->g, skc + o->c_state, &state, 1) ||
	    vmt_kread(w->g, skc + o->c_num, &h->lport, 2) ||
	    vmt_kread(w->g, sk + o->sk_type, &h->type, 2) ||
	    vmt_kread(w->g, sk + o->sk_protocol, &h->protocol, 2))
		return -EFAULT;
	if (h->family == VMT_AF_UNIX && vmt_kread_u64(w->g, sk + o->us_addr, &addr))
		return -EFAULT;
	h->sk = sk;
	h->state = state;
	h->must = held_must(h, addr);
	h->seen_by = VMT_SOCKV_FDS;
	return 0;
}

static size_t held_hash(uint64_t sk, size_t nslots)
{
	return (size_t)((sk >> 6) * 0x9e3779b97f4a7c15ull >> 20) & (nslots - 1);
}

static struct vmt_sock_held *held_find(struct sockv_walk *w, uint64_t sk)
{
	for (size_t i = w->nslots ? held_hash(sk, w->nslots) : 0; w->nslots && w->slot[i];
	     i = (i + 1) & (w->nslots - 1))
		if (w->v->socks[w->slot[i] - 1].sk == sk)
			return &w->v->socks[w->slot[i] - 1];
	return NULL;
}

/* Room for one more sock in the array and the index (rebuilt when half full). */
static int held_grow(struct sockv_walk *w)
{
	struct vmt_sock_views *v = w->v;

	if (v->n >= VMT_MAX_SOCKETS)
		return -E2BIG;
	if (v->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;
		struct vmt_sock_held *n = realloc(v->socks, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		v->socks = n;
		w->cap = cap;
	}
	if ((v->n + 1) * 2 > w->nslots) {
		size_t ns = w->nslots ? w->nslots * 2 : 256;
		uint32_t *sl = calloc(ns, sizeof(*sl));

		if (!sl)
			return -ENOMEM;
		free(w->slot);
		w->slot = sl;
		w->nslots = ns;
		for (size_t i = 0; i < v->n; i++) {
			size_t j = held_hash(v->socks[i].sk, ns);

			while (sl[j])
				j = (j + 1) & (ns - 1);
			sl[j] = (uint32_t)i + 1;
		}
	}
	return 0;
}

static int held_add(struct sockv_walk *w, const struct vmt_task *t, const struct vmt_fd *f)
{
	struct vmt_sock_views *v = w->v;
	struct vmt_sock_held h = {0}, *p = held_find(w, f->sk);
	size_t j;
	int err;

	if (p) {
		p->nholders++;
		return 0;
	}
	if (held_read(w, f->sk, &h)) {
		v->unreadable++;
		return 0;
	}
	err = held_grow(w);
	if (err)
		return err;
	for (j = held_hash(f->sk, w->nslots); w->slot[j]; j = (j + 1) & (w->nslots - 1))
		;
	w->slot[j] = (uint32_t)v->n + 1;
	h.inode = f->ino;
	h.pid = t->tgid;
	h.fd = f->fd;
	h.nholders = 1;
	memcpy(h.comm, t->comm, sizeof(h.comm));
	v->socks[v->n++] = h;
	return 0;
}

/*
 * Every process's fd table, those only the pid index finds too (a hidden
 * process's sockets); its threads share it (a thread that unshared its
 * own, unshare(CLONE_FILES), is not read).
 */
static int held_collect(struct sockv_walk *w, const struct vmt_task_list *tl)
{
	int err = 0;

	for (size_t i = 0; !err && i < tl->n; i++) {
		const struct vmt_task *t = &tl->tasks[i];
		struct vmt_task_detail *d = NULL;

		if (vmt_task_detail(w->g, t, VMT_DETAIL_FILES, &d)) {
			w->v->tasks_partial++;
			continue;
		}
		w->v->tasks_read++;
		if (d->flags & (VMT_F_PARTIAL | VMT_F_TRUNCATED))
			w->v->tasks_partial++;
		for (size_t j = 0; !err && j < d->nfds; j++)
			if (d->fds[j].sk)
				err = held_add(w, t, &d->fds[j]);
		vmt_task_detail_free(d);
	}
	if (err == -E2BIG) { /* VMT_MAX_SOCKETS held: judge those, say so */
		w->v->truncated = true;
		err = 0;
	}
	return err;
}

static int held_cmp(const void *a, const void *b)
{
	const struct vmt_sock_held *x = a, *y = b;

	return x->sk < y->sk ? -1 : x->sk > y->sk;
}

/* Which tables hold each held sock. */
static void views_match(struct vmt_sock_views *v, const struct sockv_entry *e, size_t ne)
{
	for (size_t i = 0; i < v->n; i++) {
		struct vmt_sock_held *h = &v->socks[i];
		struct sockv_entry key = {.kva = h->sk};
		const struct sockv_entry *m = bsearch(&key, e, ne, sizeof(*e), entry_cmp);

		while (m && m > e && m[-1].kva == h->sk)
			m--;
		for (; m && m < e + ne && m->kva == h->sk; m++) {
			h->seen_by |= m->view;
			if (m->view == VMT_SOCKV_UNIX && !h->path[0])
				memcpy(h->path, m->s->path, sizeof(h->path));
		}
		/* A broken table proves nothing by lacking a sock. */
		h->missing = v->tables_broken ? 0 : h->must & ~h->seen_by;
	}
	v->view_n[0] = (uint32_t)v->n;
	qsort(v->socks, v->n, sizeof(*v->socks), held_cmp);
}

int socket_views_of(struct vmt_guest *g, const struct vmt_task_list *tl,
		    const struct vmt_socket_list *l, struct vmt_sock_views **out)
{
	struct sockv_walk w = {.g = g};
	struct sockv_entry *e = NULL;
	int err;

	*out = NULL;
	err = sockv_offsets(g, &w.o);
	if (err)
		return err;
	w.v = calloc(1, sizeof(*w.v));
	err = w.v ? held_collect(&w, tl) : -ENOMEM;
	if (!err) {
		w.v->tables_broken = l->flags & (VMT_F_PARTIAL | VMT_F_TRUNCATED);
		w.v->bad_chains = l->bad_chains;
		e = tables_index(l, w.v);
		err = e ? 0 : -ENOMEM;
	}
	if (!err)
		views_match(w.v, e, l->n);
	free(e);
	free(w.slot);
	if (err) {
		vmt_sock_views_free(w.v);
		return err;
	}
	*out = w.v;
	return 0;
}

/*
 * The tasks first, then the tables: a socket opened between the two is in
 * both; one closed between is judged missing once and clears at the
 * caller's re-check.
 */
int vmt_socket_views(struct vmt_guest *g, struct vmt_sock_views **out)
{
	struct vmt_task_list *tl = NULL;
	struct vmt_socket_list *l = NULL;
	int err;

	*out = NULL;
	err = vmt_tasks(g, VMT_TASK_PIDINDEX, &tl);
	if (!err)
		err = vmt_sockets(g, &l);
	if (!err)
		err = socket_views_of(g, tl, l, out);
	vmt_socket_list_free(l);
	vmt_task_list_free(tl);
	return err;
}

void vmt_sock_views_free(struct vmt_sock_views *v)
{
	if (!v)
		return;
	free(v->socks);
	free(v);
}
